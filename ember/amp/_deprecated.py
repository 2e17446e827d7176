"""torch.cuda.amp and torch.cpu.amp: torch's deprecated spellings of torch.amp, with its FutureWarnings.

They live here (reached as ember.cuda.amp / ember.cpu.amp and through the torch alias) so that
ember/cuda.py stays a single module.
"""
import functools
import warnings

from .. import _backend as B
from . import autocast_mode as _am
from . import grad_scaler as _gs


def _deprecated(message):
    warnings.warn(message, FutureWarning, stacklevel=3)


class CudaAutocast(_am.autocast):
    """See torch.autocast. ``torch.cuda.amp.autocast(args...)`` is deprecated. Please use
    ``torch.amp.autocast("cuda", args...)`` instead."""

    def __init__(self, enabled=True, dtype=B.float16, cache_enabled=True):
        _deprecated("`torch.cuda.amp.autocast(args...)` is deprecated. "
                    "Please use `torch.amp.autocast('cuda', args...)` instead.")
        super().__init__("cuda", enabled=enabled, dtype=dtype, cache_enabled=cache_enabled)


class CpuAutocast(_am.autocast):
    """See torch.autocast. ``torch.cpu.amp.autocast(args...)`` is deprecated. Please use
    ``torch.amp.autocast("cpu", args...)`` instead."""

    def __init__(self, enabled=True, dtype=B.bfloat16, cache_enabled=True):
        _deprecated("`torch.cpu.amp.autocast(args...)` is deprecated. "
                    "Please use `torch.amp.autocast('cpu', args...)` instead.")
        super().__init__("cpu", enabled=enabled, dtype=dtype, cache_enabled=cache_enabled)


class CudaGradScaler(_gs.GradScaler):
    """See torch.amp.GradScaler. ``torch.cuda.amp.GradScaler(args...)`` is deprecated. Please use
    ``torch.amp.GradScaler("cuda", args...)`` instead."""

    def __init__(self, init_scale=2.0 ** 16, growth_factor=2.0, backoff_factor=0.5, growth_interval=2000,
                 enabled=True):
        _deprecated("`torch.cuda.amp.GradScaler(args...)` is deprecated. "
                    "Please use `torch.amp.GradScaler('cuda', args...)` instead.")
        super().__init__("cuda", init_scale=init_scale, growth_factor=growth_factor,
                         backoff_factor=backoff_factor, growth_interval=growth_interval, enabled=enabled)


class CpuGradScaler(_gs.GradScaler):
    """See torch.amp.GradScaler. ``torch.cpu.amp.GradScaler(args...)`` is deprecated. Please use
    ``torch.amp.GradScaler("cpu", args...)`` instead."""

    def __init__(self, init_scale=2.0 ** 16, growth_factor=2.0, backoff_factor=0.5, growth_interval=2000,
                 enabled=True):
        _deprecated("`torch.cpu.amp.GradScaler(args...)` is deprecated. "
                    "Please use `torch.amp.GradScaler('cpu', args...)` instead.")
        super().__init__("cpu", init_scale=init_scale, growth_factor=growth_factor,
                         backoff_factor=backoff_factor, growth_interval=growth_interval, enabled=enabled)


for _cls, _mod in ((CudaAutocast, "cuda"), (CpuAutocast, "cpu"), (CudaGradScaler, "cuda"), (CpuGradScaler, "cpu")):
    _cls.__name__ = _cls.__qualname__ = "autocast" if "Autocast" in _cls.__name__ else "GradScaler"
    _cls.__module__ = f"ember.amp.{_mod}_amp"
del _cls, _mod


def _deprecated_fn(name, device):
    def wrap(fn):
        @functools.wraps(fn)
        def f(*args, **kwargs):
            _deprecated(f"`torch.{device}.amp.{name}(args...)` is deprecated. "
                        f"Please use `torch.amp.{name}(args..., device_type='{device}')` instead.")
            return fn(*args, device_type=device, **kwargs)
        return f
    return wrap
