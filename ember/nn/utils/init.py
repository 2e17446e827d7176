"""torch.nn.utils.skip_init: build a module without running its parameter initialisation."""
import inspect

__all__ = ["skip_init"]


def skip_init(module_cls, *args, **kwargs):
    """module_cls(*args, **kwargs) with uninitialised parameters and buffers, leaving the RNG untouched."""
    from ..modules.module import Module
    from ...random import fork_rng
    if not (isinstance(module_cls, type) and issubclass(module_cls, Module)):
        raise RuntimeError(f"Expected a Module; got {module_cls}")
    if "device" not in inspect.signature(module_cls).parameters:
        raise RuntimeError("Module must support a 'device' arg to skip initialization")
    final_device = kwargs.pop("device", "cpu")
    # torch builds it on the meta device (no values, no draws); ember has none, so it builds on the CPU
    # with the RNG state forked, then swaps every tensor for uninitialised memory on final_device
    with fork_rng(devices=[]):
        module = module_cls(*args, **kwargs)
    return module.to_empty(device=final_device)
