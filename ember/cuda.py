"""ember.cuda: the CUDA device API, torch.cuda's names over CuPy.

CuPy is imported only when a GPU is asked for: ``import ember`` and ``is_available()`` on a
machine without an NVIDIA driver never import it (the driver library is probed with ctypes).
"""
_cupy_module = None
_probe = None          # cached is_available()
_usable = None         # device count once a tensor has been moved to a GPU successfully
_peak = {}             # device index -> peak bytes in use, kept by the tracking allocator
_seed = [67280421310721]  # the seed CUDA generators start from (torch's default), set by manual_seed

from ._backend import OutOfMemoryError  # noqa: E402,F401  (torch.cuda.OutOfMemoryError is torch's)

_INSTALL_HINT = ("Install the GPU extra (pip install 'ember[gpu]', i.e. cupy-cuda12x, or cupy-cuda13x "
                 "for CUDA 13) on a machine with an NVIDIA GPU, or stay on the CPU.")


def _cupy():
    """The cupy module, imported on first use; torch's CPU-build AssertionError without it."""
    global _cupy_module
    if _cupy_module is None:
        try:
            import cupy
        except ImportError:
            raise AssertionError("Torch not compiled with CUDA enabled: ember found no CuPy. "
                                 + _INSTALL_HINT) from None
        _cupy_module = cupy
    return _cupy_module


def _driver_device_count():
    """GPUs the NVIDIA driver reports, asked through ctypes (0 without a driver): no cupy import."""
    import ctypes
    for name in ("libcuda.so.1", "libcuda.so", "nvcuda.dll", "libcuda.dylib"):
        try:
            lib = ctypes.CDLL(name)
            break
        except OSError:
            continue
    else:
        return 0
    try:
        if lib.cuInit(0) != 0:
            return 0
        n = ctypes.c_int(0)
        if lib.cuDeviceGetCount(ctypes.byref(n)) != 0:
            return 0
        return n.value
    except AttributeError:
        return 0


def _cupy_installed():
    import importlib.util
    try:
        return importlib.util.find_spec("cupy") is not None
    except (ImportError, ValueError):
        return False


def is_available():
    """True when CuPy is installed and a usable GPU is visible (cheap and False otherwise)."""
    global _probe
    if _probe is None:
        if _cupy_module is None and (not _cupy_installed() or _driver_device_count() == 0):
            _probe = False
        else:
            try:
                _probe = _cupy().cuda.runtime.getDeviceCount() > 0
            except Exception:
                _probe = False
    return _probe


def is_initialized():
    """True once a GPU has been used by this process."""
    return _usable is not None


def device_count():
    """The number of visible GPUs (0 without CuPy or without a GPU)."""
    if not is_available():
        return 0
    return _cupy().cuda.runtime.getDeviceCount()


def _check_usable(device):
    """Raise torch's error when device (a cuda device) can't be used; cheap once it has worked."""
    global _usable
    kind = getattr(device, "type", device)
    if kind != "cuda":
        from ._backend import refuse_backend
        refuse_backend(kind)
    n = _usable
    if n is None:
        cp = _cupy()
        try:
            n = cp.cuda.runtime.getDeviceCount()
        except Exception as e:  # cupy present but no driver / GPU
            raise RuntimeError(f"CUDA error: {e}. No usable GPU for device '{device}'; use device='cpu' "
                               "(ember.cuda.is_available() says whether a GPU is usable).") from None
        if n == 0:
            raise RuntimeError(f"CUDA error: no CUDA-capable device is detected (asked for '{device}'); "
                               "use device='cpu'.")
        _track_peak(cp)
        _usable = n
    if device.index is not None and device.index >= n:
        raise RuntimeError(f"CUDA error: invalid device ordinal (asked for '{device}', {n} device(s) visible; "
                           f"use an index below {n})")


def _index(device):
    """A device argument (None, int, str, device) as a CUDA index; None means the current one."""
    if device is None:
        return current_device()
    if isinstance(device, int):
        return device
    from ._backend import as_device
    d = as_device(device)
    if d.type != "cuda":
        raise ValueError(f"Expected a cuda device, but got: {d}")
    return current_device() if d.index is None else d.index


def current_device():
    """The index of the current CUDA device."""
    return _cupy().cuda.runtime.getDevice()


def set_device(device):
    """Make device the current CUDA device (new 'cuda' tensors go there)."""
    idx = _index(device)
    if idx < 0:
        return
    from ._backend import device as _device
    _check_usable(_device("cuda", idx))
    _cupy().cuda.runtime.setDevice(idx)


class device:
    """Context manager that makes a CUDA device current: ``with ember.cuda.device(1): ...``."""

    def __init__(self, device):
        self.idx = -1 if device is None else _index(device)
        self.prev_idx = -1

    def __enter__(self):
        if self.idx < 0:
            return self
        self.prev_idx = current_device()
        if self.prev_idx != self.idx:
            set_device(self.idx)
        return self

    def __exit__(self, *exc):
        if self.idx >= 0 and self.prev_idx != self.idx:
            _cupy().cuda.runtime.setDevice(self.prev_idx)
        return False


class device_of(device):
    """Context manager that makes the device of a tensor current (no-op for CPU tensors)."""

    def __init__(self, obj):
        d = obj.device
        super().__init__(d.index if d.type == "cuda" else None)


def get_device_name(device=None):
    """The name of a CUDA device, e.g. 'NVIDIA H200'."""
    name = _cupy().cuda.runtime.getDeviceProperties(_index(device))["name"]
    return name.decode() if isinstance(name, bytes) else str(name)


def get_device_capability(device=None):
    """(major, minor) compute capability of a CUDA device."""
    cc = _cupy().cuda.Device(_index(device)).compute_capability
    return int(cc[:-1]), int(cc[-1])


def synchronize(device=None):
    """Wait until every kernel queued on a CUDA device has finished."""
    _cupy().cuda.Device(_index(device)).synchronize()


# ---- random numbers -------------------------------------------------------------------------
def manual_seed(seed):
    """Seed the current GPU's generator (silently ignored without a GPU, as torch)."""
    if not is_available():
        return
    from . import random
    random._cuda_generator(current_device()).manual_seed(int(seed))


def manual_seed_all(seed):
    """Seed the generators of every GPU; those not created yet start from this seed."""
    from . import random
    _seed[0] = int(seed)
    for g in list(random._cuda_generators.values()):
        g.manual_seed(int(seed))


def seed():
    """Seed the current GPU's generator from OS entropy."""
    import random
    manual_seed(random.SystemRandom().getrandbits(63))


def seed_all():
    """Seed every GPU's generator from OS entropy."""
    import random
    manual_seed_all(random.SystemRandom().getrandbits(63))


def initial_seed():
    """The current GPU generator's seed."""
    from . import random
    return random._cuda_generator(current_device()).initial_seed()


def get_rng_state(device="cuda"):
    """The state of a GPU's generator."""
    from . import random
    return random._cuda_generator(_index(device)).get_state()


def set_rng_state(new_state, device="cuda"):
    """Restore a GPU generator's state."""
    from . import random
    random._cuda_generator(_index(device)).set_state(new_state)


# ---- memory (CuPy's pool) ---------------------------------------------------------------------
def _track_peak(cp):
    """Route CuPy's allocations through the pool, noting the peak in use (max_memory_allocated)."""
    pool = cp.get_default_memory_pool()
    try:
        if cp.cuda.get_allocator() != pool.malloc:
            return  # the user installed an allocator of their own (RMM, ...): leave it alone
    except AttributeError:
        pass

    def malloc(size):
        mem = pool.malloc(size)
        idx = mem.device_id
        used = pool.used_bytes()
        if used > _peak.get(idx, 0):
            _peak[idx] = used
        return mem
    cp.cuda.set_allocator(malloc)


def _pool_bytes(device, what):
    if not is_initialized():
        return 0
    cp = _cupy()
    idx = _index(device)
    with cp.cuda.Device(idx):
        pool = cp.get_default_memory_pool()
        return pool.used_bytes() if what == "used" else pool.total_bytes()


def memory_allocated(device=None):
    """Bytes held by tensors on a GPU (CuPy's pool in use)."""
    return _pool_bytes(device, "used")


def max_memory_allocated(device=None):
    """The peak of memory_allocated since the start or reset_peak_memory_stats()."""
    if not is_initialized():
        return 0
    used = memory_allocated(device)
    idx = _index(device)
    return max(_peak.get(idx, 0), used)


def reset_peak_memory_stats(device=None):
    """Start max_memory_allocated afresh from the current use."""
    if is_initialized():
        _peak[_index(device)] = memory_allocated(device)


def memory_reserved(device=None):
    """Bytes CuPy's pool holds from the driver (in use or cached)."""
    return _pool_bytes(device, "total")


def empty_cache():
    """Give cached, unused GPU memory back to the driver."""
    if is_initialized():
        _cupy().get_default_memory_pool().free_all_blocks()


def __getattr__(name):
    # torch.cuda.amp (torch's deprecated spelling of torch.amp) is imported on first use
    if name == "amp":
        import importlib
        return importlib.import_module("ember.amp.cuda_amp")
    raise AttributeError(f"module '{__name__}' has no attribute '{name}'")


from .storage import legacy_storage_classes as _legacy_storage_classes  # noqa: E402
globals().update(_legacy_storage_classes("cuda"))   # torch.cuda.FloatStorage, ...
