"""``tf.test``'s questions about the GPU, which TensorFlow users ask first.

ctensor answers them from what it found at run time: every build can use an
NVIDIA GPU (the CUDA libraries are loaded when present), so the "built
with" questions are about the package, and the "available" ones about this
machine. When the answer is no, ``ctensor.gpu_availability()`` says why and
``ctensor doctor`` what to change.
"""

from . import _ctensor
from . import config as _config

__all__ = ["is_built_with_cuda", "is_built_with_gpu_support", "is_built_with_rocm", "is_built_with_xla",
           "gpu_device_name", "is_gpu_available"]


def is_built_with_cuda():
    """True: ctensor's GPU backend is part of every build (it loads the NVIDIA
    driver, cuBLAS and NVRTC at run time). TensorFlow's tensorflow-cpu says
    False here."""
    return "cuda-dlopen" in _ctensor.build_features().split()


def is_built_with_gpu_support():
    return is_built_with_cuda()


def is_built_with_rocm():
    return False


def is_built_with_xla():
    return False


def gpu_device_name():
    """The first GPU's logical device name ('/device:GPU:0'), or '' when no
    GPU can be used."""
    gpus = _config.list_logical_devices("GPU")
    return gpus[0].name if gpus else ""


def is_gpu_available(cuda_only=False, min_cuda_compute_capability=None):
    """Whether a GPU can run ops -- with a compute capability of at least
    ``min_cuda_compute_capability`` (a ``(major, minor)`` tuple) when given.
    TensorFlow deprecates this for ``config.list_physical_devices('GPU')``;
    ctensor keeps it working. Initialises the runtime, as in TensorFlow."""
    if min_cuda_compute_capability is not None:
        try:
            major, minor = (int(v) for v in min_cuda_compute_capability)
        except (TypeError, ValueError):
            raise TypeError("is_gpu_available: min_cuda_compute_capability must be a (major, minor) tuple, got %r"
                            % (min_cuda_compute_capability,)) from None
    if not _config.list_logical_devices("GPU"):
        return False
    if min_cuda_compute_capability is None:
        return True
    for gpu in _config.get_visible_devices("GPU"):
        cc = _config.get_device_details(gpu).get("compute_capability")
        if cc is not None and tuple(cc) >= (major, minor):
            return True
    return False
