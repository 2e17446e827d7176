"""torch.amp.autocast and the autocast state functions (torch.is_autocast_enabled, ...).

ember has no reduced-precision kernels, so autocast is a validated no-op: it checks its arguments
as torch does, records the per-device state that torch.is_autocast_enabled / get_autocast_dtype
report, and warns once that ops inside still run in their inputs' dtype (float32).  Results are
those of the same code without autocast; torch would instead run matmul, conv and linear in the
autocast dtype, so its numbers differ in the low bits and its memory use is lower.

ember has no bfloat16: torch.get_autocast_dtype("cpu") reports torch.float16 where torch reports
torch.bfloat16 (the dtype is only recorded: nothing is cast).
"""
import functools
import threading
import warnings

from .. import _backend as B

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
    # torch: float16 for cuda, bfloat16 for cpu; ember has no bfloat16 (see the module docstring)
    return B.float16


def is_autocast_available(device_type):
    """True when autocast can be used on device_type: 'cpu' and 'cuda' in ember (as a no-op)."""
    return _device_type(device_type, "is_autocast_available") in _AVAILABLE


def is_autocast_enabled(device_type=None):
    """Whether an autocast region is active for device_type ('cuda' when omitted, as torch)."""
    kind = "cuda" if device_type is None else _device_type(device_type, "is_autocast_enabled")
    return _state.enabled.get(kind, False)


def set_autocast_enabled(device_type, enabled):
    """Set the autocast flag for device_type (what autocast.__enter__ does)."""
    _state.enabled[_device_type(device_type, "set_autocast_enabled")] = bool(enabled)


def get_autocast_dtype(device_type):
    """The dtype recorded for autocast on device_type (float16 by default: ember lacks bfloat16).

    Nothing in ember is cast to it: ember's autocast keeps every op in its inputs' dtype."""
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
    """torch's weight-cast cache flag (recorded only: ember casts no weights)."""
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


_warned = set()


def _warn_no_cast(kind, dtype):
    if kind in _warned:
        return
    _warned.add(kind)
    from .._userwarn import warn
    warn(f"ember's autocast does not cast: ops inside torch.autocast('{kind}') keep their inputs' dtype "
         f"(float32), where torch would run matmul, conv and linear in {dtype}. Results equal those without "
         "autocast; ember has no reduced-precision kernels. (This warning is shown once.)")


def autocast_decorator(autocast_instance, func):
    """func wrapped so that it runs inside autocast_instance."""
    @functools.wraps(func)
    def decorate_autocast(*args, **kwargs):
        with autocast_instance:
            return func(*args, **kwargs)
    return decorate_autocast


class autocast:
    """Context manager / decorator for mixed-precision regions: in ember, a validated no-op.

    autocast(device_type, dtype=None, enabled=True, cache_enabled=None) checks its arguments as
    torch does (an unknown device type is torch's RuntimeError; a dtype other than float16/bfloat16
    warns and disables it; 'cuda' without a usable GPU warns and disables it), and while the region
    is active torch.is_autocast_enabled(device_type) is True and torch.get_autocast_dtype(device_type)
    is the dtype given.  Ops inside are not cast: they run in their inputs' dtype (float32), so the
    values and gradients are those of the same code without autocast.  A warning says so once.
    """

    def __init__(self, device_type, dtype=None, enabled=True, cache_enabled=None):
        if not isinstance(device_type, str):
            raise ValueError(f"Expected `device_type` of type `str`, got: `{type(device_type)}`")
        self.fast_dtype = get_autocast_dtype(device_type) if dtype is None else dtype
        self.device = device_type
        if not is_autocast_available(self.device):
            raise RuntimeError(f"User specified an unsupported autocast device_type '{self.device}'")
        supported = [B.float16]  # torch: [torch.bfloat16, torch.float16]; ember has no bfloat16
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
        if self._enabled:
            _warn_no_cast(kind, self.fast_dtype)
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


def custom_fwd(fwd=None, *, device_type, cast_inputs=None):
    """Decorator for a custom autograd Function's forward (torch.amp.custom_fwd).

    ember's autocast never casts, so cast_inputs has nothing to do: forward runs as written."""
    if not isinstance(device_type, str):
        raise ValueError(f"Expected `device_type` of type `str`, got: `{type(device_type)}`")
    if fwd is None:
        return functools.partial(custom_fwd, device_type=device_type, cast_inputs=cast_inputs)
    return fwd


def custom_bwd(bwd=None, *, device_type):
    """Decorator for a custom autograd Function's backward (torch.amp.custom_bwd): unchanged in ember."""
    if not isinstance(device_type, str):
        raise ValueError(f"Expected `device_type` of type `str`, got: `{type(device_type)}`")
    if bwd is None:
        return functools.partial(custom_bwd, device_type=device_type)
    return bwd
