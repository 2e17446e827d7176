"""torch.backends.cudnn: cuDNN's switches, accepted and recorded.

ember's GPU kernels are CuPy calls (im2col and cuBLAS products), not cuDNN, so ``enabled``,
``benchmark``, ``deterministic`` and ``allow_tf32`` are kept and read back as torch keeps them
but change nothing in what ember computes or how fast.
"""
import contextlib
import sys

from ._flags import PropModule, bool_flag, install

_state = {"enabled": True, "benchmark": False, "deterministic": False, "allow_tf32": True,
          "benchmark_limit": 10}


def is_available():
    """True when ember's CUDA backend (CuPy and a visible GPU) is usable; cuDNN itself is unused."""
    from .. import cuda
    return cuda.is_available()


def version():
    """The cuDNN version CuPy can load when a GPU is usable, else None (ember never calls cuDNN)."""
    if not is_available():
        return None
    try:
        from cupy_backends.cuda.libs import cudnn as _cudnn
        return int(_cudnn.getVersion())
    except Exception:  # CuPy installed without its cuDNN binding or library
        return None


def is_acceptable(tensor):
    """Whether torch would hand tensor to cuDNN: a floating CUDA tensor while cuDNN is usable."""
    return bool(_state["enabled"] and tensor.is_cuda and tensor.is_floating_point() and is_available())


@contextlib.contextmanager
def flags(enabled=False, benchmark=False, benchmark_limit=10, deterministic=False, allow_tf32=True):
    """Set the cuDNN flags inside a with block and restore them after (no effect on ember's kernels)."""
    old = dict(_state)
    mod = sys.modules[__name__]
    try:
        mod.enabled = enabled
        mod.benchmark = benchmark
        mod.deterministic = deterministic
        mod.allow_tf32 = allow_tf32
        _state["benchmark_limit"] = benchmark_limit
        yield
    finally:
        _state.clear()
        _state.update(old)


class CudnnModule(PropModule):
    """torch.backends.cudnn's module type: flags that accept only bools."""

    enabled = bool_flag(_state, "enabled", "set_enabled_cudnn")
    benchmark = bool_flag(_state, "benchmark", "set_benchmark_cudnn")
    deterministic = bool_flag(_state, "deterministic", "set_deterministic_cudnn")
    allow_tf32 = bool_flag(_state, "allow_tf32", "set_allow_tf32_cudnn")

    @property
    def benchmark_limit(self):
        """How many cuDNN algorithms torch would try when benchmarking (recorded only)."""
        return _state["benchmark_limit"]

    @benchmark_limit.setter
    def benchmark_limit(self, value):
        _state["benchmark_limit"] = int(value)


install(__name__, CudnnModule)
