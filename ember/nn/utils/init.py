"""torch.nn.utils.skip_init: build a module without running its parameter initialisation."""
import inspect

__all__ = ["skip_init"]


def skip_init(module_cls, *args, **kwargs):
    """module_cls(*args, **kwargs) with uninitialised parameters and buffers, leaving the RNG untouched."""
    from ..modules.module import Module
    if not (isinstance(module_cls, type) and issubclass(module_cls, Module)):
        raise RuntimeError(f"Expected a Module; got {module_cls}")
    if "device" not in inspect.signature(module_cls).parameters:
        raise RuntimeError("Module must support a 'device' arg to skip initialization")
    final_device = kwargs.pop("device", "cpu")
    # as torch: built on the meta device (no values, no draws from the CPU's stream), then given
    # uninitialised memory on final_device
    return module_cls(*args, **kwargs, device="meta").to_empty(device=final_device)
