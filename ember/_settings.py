"""Process-wide switches torch keeps at its top level: deterministic algorithms, float32 matmul
precision.

ember's kernels are NumPy / CuPy calls that are deterministic run to run and compute float32
products in full float32 (no TF32), so these switches are recorded and reported back as torch
does, and change nothing in ember's arithmetic.
"""
from ._userwarn import warn as _warn_user

_deterministic = [False, False]     # mode, warn_only
_matmul_precision = ["highest"]     # torch's default: full float32 products
_PRECISIONS = ("highest", "high", "medium")


def _check_bool(value, what):
    # torch's C++ setters take only real bools (an int or a string is a RuntimeError)
    if value is not True and value is not False:
        raise RuntimeError(f"{what} expects a bool, but got {type(value).__name__}")
    return value


def use_deterministic_algorithms(mode, *, warn_only=False):
    """Ask for deterministic algorithms (ember's kernels already are: recorded, no effect)."""
    for name, value in (("mode", mode), ("warn_only", warn_only)):
        if value is not True and value is not False:
            raise TypeError(f"use_deterministic_algorithms(): argument '{name}' must be bool, not "
                            f"{type(value).__name__}")
    _deterministic[0] = mode
    _deterministic[1] = warn_only


def are_deterministic_algorithms_enabled():
    """True after use_deterministic_algorithms(True)."""
    return _deterministic[0]


def is_deterministic_algorithms_warn_only_enabled():
    """The warn_only flag of the last use_deterministic_algorithms call."""
    return _deterministic[1]


def set_float32_matmul_precision(precision):
    """Record 'highest', 'high' or 'medium'; ember's float32 products stay full float32 either way."""
    if not isinstance(precision, str):
        raise RuntimeError(f"set_float32_matmul_precision expects a str, but got {type(precision).__name__}")
    if precision not in _PRECISIONS:
        # torch warns and keeps the old setting rather than raising
        _warn_user(f"{precision} is not one of 'highest', 'high', or 'medium'; the current "
                   "set_float32_matmul_precision call has no effect.", UserWarning)
        return
    _matmul_precision[0] = precision


def get_float32_matmul_precision():
    """The precision last set by set_float32_matmul_precision ('highest' by default)."""
    return _matmul_precision[0]


_DEFAULT_TENSOR_TYPE_DEPRECATED = (
    "{0}.set_default_tensor_type() is deprecated as of PyTorch 2.1, please use {0}.set_default_dtype() and "
    "{0}.set_default_device() as alternatives.")


def set_default_tensor_type(t):
    """Deprecated, as in torch: sets the default dtype from a legacy type (FloatTensor or 'torch.DoubleTensor')."""
    import warnings
    from . import _backend as B
    warnings.warn(_DEFAULT_TENSOR_TYPE_DEPRECATED.format(B.namespace()), UserWarning, stacklevel=2)
    name = t.rsplit(".", 1)[-1] if isinstance(t, str) else getattr(t, "__name__", "")
    is_cuda = (isinstance(t, str) and ".cuda." in t) or getattr(t, "is_cuda", False)
    for d, n in B.TYPE_NAMES.items():
        if n == name:
            if not d.is_floating_point:
                raise TypeError("only floating-point types are supported as the default type")
            if is_cuda:
                from .ops.creation import set_default_device
                set_default_device("cuda")
            B.set_default_dtype(d)
            return
    raise TypeError(f"invalid type: '{t}' (set_default_tensor_type takes a legacy type such as torch.FloatTensor "
                    "or its name)")


def set_flush_denormal(mode):
    """Whether denormal floats could be flushed to zero: False, as torch answers on CPUs without the switch
    (NumPy gives no control over the FPU's flush-to-zero mode), and nothing changes."""
    if mode is not True and mode is not False:
        raise TypeError(f"set_flush_denormal(): argument 'mode' (position 1) must be bool, not {type(mode).__name__}")
    return False


_warn_always = [False]


def set_warn_always(b):
    """Make warnings torch gives once per process appear every time (recorded; ember's warnings already repeat)."""
    if b is not True and b is not False:
        raise RuntimeError(f"setWarnOnlyOnce expects a bool, but got {type(b).__name__}")
    _warn_always[0] = b


def is_warn_always_enabled():
    """The flag set by set_warn_always (False by default)."""
    return _warn_always[0]


_DEBUG_MODES = ("default", "warn", "error")


def set_deterministic_debug_mode(debug_mode):
    """0/'default', 1/'warn', 2/'error': use_deterministic_algorithms off, on with warn_only, on."""
    if isinstance(debug_mode, str):
        if debug_mode not in _DEBUG_MODES:
            raise RuntimeError("invalid value of debug_mode, expected one of `default`, `warn`, `error`, "
                               f"but got {debug_mode}")
        debug_mode = _DEBUG_MODES.index(debug_mode)
    elif not isinstance(debug_mode, int):
        raise TypeError(f"debug_mode must be str or int, but got {type(debug_mode)}")
    if debug_mode not in (0, 1, 2):
        raise RuntimeError(f"invalid value of debug_mode, expected 0, 1, or 2, but got {debug_mode}")
    _deterministic[0] = debug_mode != 0
    _deterministic[1] = debug_mode == 1


def get_deterministic_debug_mode():
    """0, 1 or 2, as set by set_deterministic_debug_mode / use_deterministic_algorithms."""
    if not _deterministic[0]:
        return 0
    return 1 if _deterministic[1] else 2
