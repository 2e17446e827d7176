"""ember.cuda: the CUDA device API (CuPy underneath, imported only when needed)."""
_cupy_module = None
_probe = None


def _cupy():
    global _cupy_module
    if _cupy_module is None:
        try:
            import cupy
        except ImportError:
            raise AssertionError(
                "Torch not compiled with CUDA enabled: ember found no CuPy. Install the GPU extra "
                "(pip install 'ember[gpu]') on a machine with an NVIDIA GPU, or stay on the CPU.") from None
        _cupy_module = cupy
    return _cupy_module


def is_available():
    """True when CuPy is installed and can see a GPU."""
    global _probe
    if _probe is None:
        import importlib.util
        if importlib.util.find_spec("cupy") is None:
            _probe = False
        else:
            try:
                _probe = _cupy().cuda.runtime.getDeviceCount() > 0
            except Exception:
                _probe = False
    return _probe


def device_count():
    """The number of visible GPUs (0 without CuPy)."""
    if not is_available():
        return 0
    return _cupy().cuda.runtime.getDeviceCount()


def _check_usable(device):
    cp = _cupy()
    try:
        n = cp.cuda.runtime.getDeviceCount()
    except Exception as e:  # cupy present but no driver / GPU
        raise RuntimeError(f"CUDA error: {e}. No usable GPU for {device}; use device='cpu'.") from None
    idx = device.index or 0
    if idx >= n:
        raise RuntimeError(f"CUDA error: invalid device ordinal ({device}, {n} device(s) visible)")


def manual_seed(seed):
    """Seed the GPU generators (no-op without a GPU)."""


def manual_seed_all(seed):
    """Seed all GPU generators (no-op without a GPU)."""
