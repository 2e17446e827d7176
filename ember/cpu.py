"""torch.cpu: the CPU device module (the part of it ember has, and torch.cpu.amp)."""

__all__ = ["current_device", "device_count", "is_available", "synchronize"]


def is_available():
    """Always True: ember always has the CPU."""
    return True


def device_count():
    """1, as torch.cpu.device_count()."""
    return 1


def current_device():
    """'cpu', as torch.cpu.current_device()."""
    return "cpu"


def synchronize(device=None):
    """Nothing to wait for: CPU ops are synchronous."""


def __getattr__(name):
    if name == "amp":
        import importlib
        return importlib.import_module("ember.amp.cpu_amp")
    if name.startswith("__"):
        raise AttributeError(name)
    from ._backend import namespace
    raise AttributeError(f"module '{namespace()}.cpu' has no attribute '{name}': ember does not implement "
                         f"torch.cpu.{name} yet")
