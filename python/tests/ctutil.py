"""Helpers shared by the ctensor Python tests."""

import os
import subprocess
import sys
import textwrap

try:
    import numpy
except ImportError:  # the module works without NumPy; so must the tests
    numpy = None

SOURCE_DIR = os.environ.get("CT_SOURCE_DIR") or os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
BINARY_DIR = os.environ.get("CT_BINARY_DIR", "")


def run_python(code, env=None, timeout=60):
    """Runs `code` in a fresh interpreter (a fresh ctensor context: the
    context is per process, and device configuration must precede its
    initialisation). Returns (returncode, stdout, stderr)."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    p = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                       env=full_env, timeout=timeout)
    return p.returncode, p.stdout, p.stderr


def fake_cuda_driver():
    """The fake libcuda.so.1 the C tests use (tests/fake_cuda), or None."""
    if not BINARY_DIR:
        return None
    path = os.path.join(BINARY_DIR, "fake_cuda", "libcuda.so.1")
    return path if os.path.exists(path) else None


def emulated_gpu_env():
    """The environment that gives a fresh process the emulated GPU (the
    fake driver, cuBLAS and NVRTC of tests/fake_cuda, whose kernels run on
    the host), or None where the build has no C++ compiler for it."""
    if not BINARY_DIR or os.environ.get("CT_EMU_AVAILABLE") != "1":
        return None
    paths = {
        "CT_CUDA_DRIVER_PATH": os.path.join(BINARY_DIR, "fake_cuda", "libcuda.so.1"),
        "CT_CUBLAS_PATH": os.path.join(BINARY_DIR, "fake_cublas", "libcublas.so.13"),
        "CT_CUBLASLT_PATH": os.path.join(BINARY_DIR, "fake_cublas", "libcublasLt.so.13"),
        "CT_NVRTC_PATH": os.path.join(BINARY_DIR, "fake_nvrtc", "libnvrtc.so.13"),
    }
    if not all(os.path.exists(p) for p in paths.values()):
        return None
    tmp = os.path.join(BINARY_DIR, "emu-tmp")
    os.makedirs(tmp, exist_ok=True)
    paths.update({
        "CT_KERNEL_CACHE_DIR": os.path.join(BINARY_DIR, "emu-kernel-cache"),
        "TMPDIR": tmp,
        "CT_FAKE_CUDA_MEMORY_MB": "1024",
        "CT_FAKE_CUDA_SMS": "2",
    })
    return paths
