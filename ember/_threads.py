"""BLAS thread control (torch.set_num_threads / get_num_threads) without extra dependencies.

NumPy's OpenBLAS is found among the libraries this process has loaded, and its own
set/get-threads entry points are called through ctypes.
"""
import ctypes
import os

_blas = None
_set = _get = None
_requested = None


def _load():
    global _blas, _set, _get
    if _blas is not None:
        return _set is not None
    _blas = False
    import numpy  # noqa: F401  (loads the BLAS)
    paths = []
    try:
        with open("/proc/self/maps") as f:
            for line in f:
                path = line.rsplit(" ", 1)[-1].strip()
                if "openblas" in os.path.basename(path).lower() and path not in paths:
                    paths.append(path)
    except OSError:
        return False
    for path in paths:
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for prefix in ("scipy_openblas", "openblas"):
            for suffix in ("64_", ""):
                setter = getattr(lib, f"{prefix}_set_num_threads{suffix}", None)
                getter = getattr(lib, f"{prefix}_get_num_threads{suffix}", None)
                if setter is not None and getter is not None:
                    setter.argtypes = [ctypes.c_int]
                    getter.restype = ctypes.c_int
                    _blas, _set, _get = lib, setter, getter
                    return True
    return False


def set_num_threads(n):
    """Set the number of threads BLAS (matrix products, convolutions) may use."""
    global _requested
    n = int(n)
    if n < 1:
        raise ValueError(f"set_num_threads expects a positive integer, got {n}")
    _requested = n
    if _load():
        _set(n)


def get_num_threads():
    """The number of threads BLAS may use."""
    if _requested is not None:
        return _requested
    if _load():
        return int(_get())
    return os.cpu_count() or 1


def get_num_interop_threads():
    """ember runs ops on the calling thread: always 1."""
    return 1


def set_num_interop_threads(n):
    """Accepted for torch compatibility; ember has no inter-op thread pool."""
