"""torch.accelerator: the device-agnostic view of the GPU, which for ember is CUDA through CuPy.

As in torch, current_accelerator() names the accelerator ember was installed for (CUDA, when the
GPU extra CuPy is installed) even if no GPU is visible; is_available() says whether one is usable.
"""
from . import cuda as _cuda
from ._backend import device as _device


def current_accelerator(check_available=False):
    """device('cuda') when CuPy is installed (and, with check_available, a GPU is usable), else None."""
    if not _cuda._cupy_installed():
        return None
    if check_available and not _cuda.is_available():
        return None
    return _device("cuda")


def is_available():
    """True when a GPU is usable (CuPy installed and a device visible)."""
    return current_accelerator() is not None and _cuda.is_available()


def device_count():
    """The number of usable GPUs, 0 without one."""
    return _cuda.device_count() if current_accelerator() is not None else 0


def _require():
    if not is_available():
        raise RuntimeError("Cannot access accelerator device when none is available.")


def current_device_index():
    """The index of the current GPU (RuntimeError without one)."""
    _require()
    return _cuda.current_device()


current_device_idx = current_device_index


def set_device_index(device, /):
    """Make a GPU current (RuntimeError without one)."""
    _require()
    _cuda.set_device(device)


set_device_idx = set_device_index


def synchronize(device=None, /):
    """Wait for the GPU's queued work (RuntimeError without one)."""
    _require()
    _cuda.synchronize(device)
