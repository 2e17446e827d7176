"""BLAS thread control (torch.set_num_threads / get_num_threads) without extra dependencies.

NumPy's OpenBLAS is found among the libraries this process has loaded, and its own
set/get-threads entry points are called through ctypes.
"""
import ctypes
import os

import numpy as np

_blas = None
_set = _get = None
_requested = None  # the user's set_num_threads, else None (all cores)
_active = None     # what BLAS is running with now
_ndarray = np.ndarray

# Below this many flops a product is over in microseconds, and a second BLAS thread only adds a
# rendezvous: when another process holds a core, that wait turns a 0.2 ms step into tens of ms.
PARALLEL_FLOPS = 5e7
PARALLEL_MACS = PARALLEL_FLOPS / 2


def _load():
    global _blas, _set, _get
    if _blas is not None:
        return _set is not None
    _blas = False
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


def _env_threads():
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        value = os.environ.get(name, "").strip()
        if value.isdigit() and int(value) > 0:
            return int(value)
    return None


def _use(n):
    global _active
    if n != _active and _load():
        _set(n)
        _active = n


def set_num_threads(n):
    """Set the most threads BLAS (matrix products, convolutions) may use, as torch.set_num_threads."""
    global _requested
    n = int(n)
    if n < 1:
        raise RuntimeError(f"set_num_threads expects a positive integer (got {n})")
    _requested = n
    if n == 1:
        _use(1)


def get_num_threads():
    """Threads ember may use for one large op (torch.get_num_threads): set_num_threads' value, else
    OMP/OPENBLAS_NUM_THREADS, else the CPUs this process may run on."""
    if _requested is not None:
        return _requested
    n = _env_threads()
    if n:
        return n
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def for_work(flops):
    """Pick BLAS threads for a product of this many flops: one below PARALLEL_FLOPS, else
    get_num_threads(). (Large convolutions split their batch over Python threads instead and
    keep BLAS at one thread inside each block: measured faster than a multi-threaded BLAS.)"""
    n = get_num_threads() if flops >= PARALLEL_FLOPS else 1
    if n != _active:
        _use(n)


def matmul(a, b):
    """a @ b, with BLAS on get_num_threads() threads when the product is large (as torch threads
    its large products), else on one: for_work's rule, from the operands' shapes.  Anything but
    two ndarrays (CuPy arrays, the Tensors of create_graph's formulas) is just a @ b."""
    # (with BLAS already threaded, by a caller that sets it back, the product just runs)
    if a.__class__ is _ndarray and b.__class__ is _ndarray and _active == 1:
        n = b.shape[-1] if b.ndim > 1 else 1
        # multiply-adds: a's rows (over its batch) times K times N, or b's batch times M times K*N
        if a.size * n >= PARALLEL_MACS or (b.ndim > 2 and b.size * (a.shape[-2] if a.ndim > 1 else 1)
                                           >= PARALLEL_MACS):
            for_work(PARALLEL_FLOPS)
            try:
                return a @ b
            finally:
                for_work(0)
    return a @ b


def init():
    """At import: BLAS starts single-threaded; only large products switch (see for_work)."""
    _use(1)


def get_num_interop_threads():
    """ember runs ops on the calling thread: always 1."""
    return 1


def set_num_interop_threads(n):
    """Accepted for torch compatibility; ember has no inter-op thread pool."""
