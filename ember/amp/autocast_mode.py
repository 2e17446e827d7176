"""torch.amp.autocast and the autocast state functions (torch.is_autocast_enabled, ...).

Inside an active region the ops on torch's CPU autocast lists cast their floating-point tensor arguments
(float64 excepted) as torch does: linear, the convolutions (1-d and 2-d, transposed too) and the matrix
products (matmul, mm, bmm, addmm, baddbmm, addbmm) to the autocast dtype (bfloat16 on the CPU by default,
which needs the ml_dtypes package; float16 on CUDA), the losses (cross_entropy, nll_loss, mse_loss,
l1_loss, smooth_l1_loss, huber_loss, binary_cross_entropy(_with_logits), kl_div) to float32.  Each cast is
a recorded ``.to()``, so gradients flow back to the parameters in their own dtype.  torch's cache of the
weights' casts is not kept (the same values, a cast per use).  The ops read the cast from
``ops.AUTOCAST``, which holds a function only while some thread has autocast enabled: outside autocast an
op pays one list lookup.
"""
import functools
import threading
import warnings

from .. import _backend as B
from .. import ops as _ops
from .._tensor import Tensor

__all__ = ["autocast_decorator", "autocast", "is_autocast_available", "custom_fwd", "custom_bwd"]

# torch's device types, for its parse error; autocast itself is available on ember's cpu and cuda
_TORCH_DEVICE_TYPES = B.DEVICE_TYPES
_AVAILABLE = ("cpu", "cuda")


def _device_type(device_type, fn):
    if not isinstance(device_type, str):
        raise TypeError(f"{fn}(): argument 'device_type' (position 1) must be str, not {type(device_type).__name__}")
    kind = device_type.partition(":")[0]
    if kind not in _TORCH_DEVICE_TYPES:
        raise RuntimeError(f"Expected one of {', '.join(_TORCH_DEVICE_TYPES)} device type at start of device "
                           f"string: {device_type}")
    return kind


class _State(threading.local):
    """Thread-local, as torch's autocast state."""

    def __init__(self):
        self.enabled = {}
        self.dtype = {}
        self.cache_enabled = True
        self.nesting = 0


_state = _State()


def _default_dtype(kind):
    # torch's: bfloat16 for the CPU, float16 for CUDA (and the rest)
    return B.bfloat16 if kind == "cpu" else B.float16


# how many (thread, device type) autocast flags are set, all threads together: ops.AUTOCAST holds the
# cast while any is
_enabled_count = [0]
_count_lock = threading.Lock()


def _cast_args(policy, *args):
    """args as an op on torch's autocast lists takes them in an active region: its floating-point tensors
    (float64 excepted) cast to the autocast dtype (policy LOWER) or to float32 (FP32); else as they are."""
    first = next((a for a in args if isinstance(a, Tensor)), None)
    if first is None:
        return args
    kind = first.device.type
    if not _state.enabled.get(kind, False):
        return args
    dt = B.float32 if policy == _ops.FP32 else _state.dtype.get(kind, _default_dtype(kind))
    return tuple(a.to(dt) if isinstance(a, Tensor) and a._data.dtype.kind in "fV" and a.dtype is not B.float64
                 and a.dtype is not dt else a for a in args)


def is_autocast_available(device_type):
    """True when autocast can be used on device_type: 'cpu' and 'cuda' in ember (as a no-op)."""
    return _device_type(device_type, "is_autocast_available") in _AVAILABLE


def is_autocast_enabled(device_type=None):
    """Whether an autocast region is active for device_type ('cuda' when omitted, as torch)."""
    kind = "cuda" if device_type is None else _device_type(device_type, "is_autocast_enabled")
    return _state.enabled.get(kind, False)


def set_autocast_enabled(device_type, enabled):
    """Set the autocast flag for device_type (what autocast.__enter__ does)."""
    kind = _device_type(device_type, "set_autocast_enabled")
    enabled = bool(enabled)
    if _state.enabled.get(kind, False) != enabled:
        with _count_lock:
            _enabled_count[0] += 1 if enabled else -1
            _ops.AUTOCAST[0] = _cast_args if _enabled_count[0] > 0 else None
    _state.enabled[kind] = enabled


def _deprecated_cpu(name, instead):
    warnings.warn(f"torch.{name}() is deprecated. Please use torch.{instead} instead.", DeprecationWarning,
                  stacklevel=3)


def is_autocast_cpu_enabled():
    """Deprecated (as in torch): is_autocast_enabled('cpu')."""
    _deprecated_cpu("is_autocast_cpu_enabled", "is_autocast_enabled('cpu')")
    return is_autocast_enabled("cpu")


def set_autocast_cpu_enabled(enabled):
    """Deprecated (as in torch): set_autocast_enabled('cpu', enabled)."""
    _deprecated_cpu("set_autocast_cpu_enabled", "set_autocast_enabled('cpu', enabled)")
    set_autocast_enabled("cpu", enabled)


def get_autocast_cpu_dtype():
    """Deprecated (as in torch): get_autocast_dtype('cpu')."""
    _deprecated_cpu("get_autocast_cpu_dtype", "get_autocast_dtype('cpu')")
    return get_autocast_dtype("cpu")


def set_autocast_cpu_dtype(dtype):
    """Deprecated (as in torch): set_autocast_dtype('cpu', dtype)."""
    _deprecated_cpu("set_autocast_cpu_dtype", "set_autocast_dtype('cpu', dtype)")
    set_autocast_dtype("cpu", dtype)


def get_autocast_dtype(device_type):
    """The dtype autocast casts to on device_type (torch's defaults: bfloat16 on 'cpu', float16 elsewhere)."""
    kind = _device_type(device_type, "get_autocast_dtype")
    return _state.dtype.get(kind, _default_dtype(kind))


def set_autocast_dtype(device_type, dtype):
    """Record the autocast dtype for device_type."""
    kind = _device_type(device_type, "set_autocast_dtype")
    if not isinstance(dtype, B.dtype):
        raise TypeError(f"set_autocast_dtype(): argument 'dtype' (position 2) must be torch.dtype, not "
                        f"{type(dtype).__name__}")
    _state.dtype[kind] = dtype


def is_autocast_cache_enabled():
    """torch's weight-cast cache flag (recorded only: ember casts weights afresh at each use)."""
    return _state.cache_enabled


def set_autocast_cache_enabled(enabled):
    """Set torch's weight-cast cache flag (recorded only)."""
    _state.cache_enabled = bool(enabled)


def clear_autocast_cache():
    """Nothing to clear: ember's autocast caches no casts."""


def autocast_increment_nesting():
    """Count one more nested autocast region; returns the new depth."""
    _state.nesting += 1
    return _state.nesting


def autocast_decrement_nesting():
    """Count one autocast region less; returns the new depth."""
    _state.nesting -= 1
    return _state.nesting


def autocast_decorator(autocast_instance, func):
    """func wrapped so that it runs inside autocast_instance."""
    @functools.wraps(func)
    def decorate_autocast(*args, **kwargs):
        with autocast_instance:
            return func(*args, **kwargs)
    return decorate_autocast


class autocast:
    """Context manager / decorator for mixed-precision regions (torch.autocast).

    autocast(device_type, dtype=None, enabled=True, cache_enabled=None) checks its arguments as
    torch does (an unknown device type is torch's RuntimeError; a dtype other than float16/bfloat16
    warns and disables it; 'cuda' without a usable GPU warns and disables it), and while the region
    is active torch.is_autocast_enabled(device_type) is True, torch.get_autocast_dtype(device_type)
    is the dtype given (bfloat16 on the CPU by default), and the ops of torch's autocast lists cast
    their arguments (see the module docstring).
    """

    def __init__(self, device_type, dtype=None, enabled=True, cache_enabled=None):
        if not isinstance(device_type, str):
            raise ValueError(f"Expected `device_type` of type `str`, got: `{type(device_type)}`")
        self.fast_dtype = get_autocast_dtype(device_type) if dtype is None else dtype
        self.device = device_type
        if not is_autocast_available(self.device):
            raise RuntimeError(f"User specified an unsupported autocast device_type '{self.device}'")
        supported = [B.bfloat16, B.float16]
        self._cache_enabled = is_autocast_cache_enabled() if cache_enabled is None else cache_enabled
        device_name = self.device.upper()
        if enabled:
            if self.device == "cuda":
                from .. import cuda
                if not cuda.is_available():
                    warnings.warn("CUDA is not available or torch_xla is imported. Disabling autocast.",
                                  stacklevel=2)
                    enabled = False
            elif self.fast_dtype not in supported:
                warnings.warn(
                    f"In {device_name} autocast, but the target dtype is not supported. Disabling autocast.\n"
                    f"{device_name} Autocast only supports dtypes of torch.bfloat16, torch.float16 currently.",
                    stacklevel=2)
                enabled = False
        self._enabled = enabled

    def __enter__(self):
        kind = self.device.partition(":")[0]
        self.prev_cache_enabled = is_autocast_cache_enabled()
        self.prev = is_autocast_enabled(kind)
        self.prev_fastdtype = get_autocast_dtype(kind)
        set_autocast_enabled(kind, self._enabled)
        if isinstance(self.fast_dtype, B.dtype):
            set_autocast_dtype(kind, self.fast_dtype)
        autocast_increment_nesting()
        set_autocast_cache_enabled(self._cache_enabled)
        return self

    def __exit__(self, exc_type, exc_val, exc_tb):
        kind = self.device.partition(":")[0]
        if autocast_decrement_nesting() == 0:
            clear_autocast_cache()
        set_autocast_enabled(kind, self.prev)
        set_autocast_dtype(kind, self.prev_fastdtype)
        set_autocast_cache_enabled(self.prev_cache_enabled)
        return False

    def __call__(self, func):
        if not callable(func):
            raise TypeError(
                f"autocast()(func) requires a callable, but got {type(func).__name__}. "
                f"Did you mean to use autocast as a context manager? For example:\n"
                f"    with torch.autocast(device_type=...):\n"
                f"        output = model(input)")
        return autocast_decorator(self, func)


def _cast(value, device_type, dtype):
    """value with its floating-point tensors on device_type (float64 excepted) cast to dtype, through
    lists, tuples and dicts (torch.amp.autocast_mode._cast)."""
    if isinstance(value, Tensor):
        ok = value.device.type == device_type and value._data.dtype.kind in "fV" and value.dtype is not B.float64
        return value.to(dtype) if ok else value
    if isinstance(value, (str, bytes)):
        return value
    if isinstance(value, dict):
        return {_cast(k, device_type, dtype): _cast(v, device_type, dtype) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        out = (_cast(v, device_type, dtype) for v in value)
        return type(value)(out) if isinstance(value, list) else tuple(out)
    return value


def custom_fwd(fwd=None, *, device_type, cast_inputs=None):
    """Decorator for a custom autograd Function's forward (torch.amp.custom_fwd): with cast_inputs, inside
    an autocast region forward runs with its floating-point tensor inputs cast to cast_inputs and
    autocast off; custom_bwd then runs backward under the forward's autocast state."""
    if not isinstance(device_type, str):
        raise ValueError(f"Expected `device_type` of type `str`, got: `{type(device_type)}`")
    if fwd is None:
        return functools.partial(custom_fwd, device_type=device_type, cast_inputs=cast_inputs)

    @functools.wraps(fwd)
    def decorate_fwd(*args, **kwargs):
        args[0]._dtype = get_autocast_dtype(device_type)
        if cast_inputs is None:
            args[0]._fwd_used_autocast = is_autocast_enabled(device_type)
            return fwd(*args, **kwargs)
        args[0]._fwd_used_autocast = False
        if is_autocast_enabled(device_type):
            with autocast(device_type=device_type, enabled=False):
                return fwd(*_cast(args, device_type, cast_inputs), **_cast(kwargs, device_type, cast_inputs))
        return fwd(*args, **kwargs)
    return decorate_fwd


def custom_bwd(bwd=None, *, device_type):
    """Decorator for a custom autograd Function's backward (torch.amp.custom_bwd): it runs under the
    autocast state its forward (decorated with custom_fwd) ran under."""
    if not isinstance(device_type, str):
        raise ValueError(f"Expected `device_type` of type `str`, got: `{type(device_type)}`")
    if bwd is None:
        return functools.partial(custom_bwd, device_type=device_type)

    @functools.wraps(bwd)
    def decorate_bwd(*args, **kwargs):
        ctx = args[0]
        with autocast(device_type=device_type, enabled=getattr(ctx, "_fwd_used_autocast", False),
                      dtype=getattr(ctx, "_dtype", None)):
            return bwd(*args, **kwargs)
    return decorate_bwd
