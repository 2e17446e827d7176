"""Process-wide switches torch keeps at its top level: deterministic algorithms, float32 matmul
precision.

ember's kernels are NumPy / CuPy calls that are deterministic run to run and compute float32
products in full float32 (no TF32), so these switches are recorded and reported back as torch
does, and change nothing in ember's arithmetic; set_flush_denormal, which switches the CPU's
flush-to-zero mode as torch's does, is the exception.
"""
import ctypes
import platform
import sys

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


# The SSE control register's flush-to-zero (FTZ, 0x8000) and denormals-are-zero (DAZ, 0x0040) bits,
# the two torch sets; glibc's x86-64 fenv_t holds that register in its last 4 bytes.
_FLUSH_BITS = 0x8040
_FENV_SIZE, _MXCSR_AT = 32, 28
_flush = [False]     # the mode asked for last: ember's helper threads follow it (see _threads)
_libc = []           # [the C library, or None where the switch is not reachable]


def _c_library():
    if not _libc:
        lib = None
        if sys.platform.startswith("linux") and platform.machine() in ("x86_64", "AMD64"):
            try:
                lib = ctypes.CDLL(None)
                lib.gnu_get_libc_version   # glibc: its fenv_t layout is the one above
                lib.fegetenv, lib.fesetenv
            except (OSError, AttributeError):
                lib = None
        _libc.append(lib)
    return _libc[0]


def apply_flush_denormal(mode):
    """Set or clear FTZ and DAZ for the calling thread; False where that cannot be done."""
    lib = _c_library()
    if lib is None:
        return False
    env = (ctypes.c_ubyte * _FENV_SIZE)()
    if lib.fegetenv(env) != 0:
        return False
    word = int.from_bytes(bytes(env[_MXCSR_AT:_MXCSR_AT + 4]), "little")
    word = word | _FLUSH_BITS if mode else word & ~_FLUSH_BITS
    env[_MXCSR_AT:_MXCSR_AT + 4] = tuple(word.to_bytes(4, "little"))
    return lib.fesetenv(env) == 0


def set_flush_denormal(mode):
    """Flush denormal floats to zero on the CPU (True) or not (False), as torch.set_flush_denormal: on
    x86-64 the SSE control bits FTZ and DAZ of the calling thread (and of ember's helper threads), which
    govern NumPy's arithmetic there.  Returns True where the switch exists (x86-64 Linux, glibc), else
    False and nothing changes.  A denormal operand can make an operation ~10x slower: SGD's momentum
    buffers of weights whose gradient stays 0 decay into them."""
    if mode is not True and mode is not False:
        raise RuntimeError(f"flush_denormal expects a bool, but got {type(mode).__name__}")
    if not apply_flush_denormal(mode):
        return False
    _flush[0] = mode
    return True


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
