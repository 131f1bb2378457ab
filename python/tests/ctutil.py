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
