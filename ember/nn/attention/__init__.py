"""torch.nn.attention: choose the backends scaled_dot_product_attention may use (sdpa_kernel), and the
flash-attention implementation registry.

ember has one attention implementation, so the backend selection is recorded and restored as in torch and
decides only what torch's CPU dispatcher decides: whether the 4-D flash node runs, and torch's error when
no enabled backend can run a call (see ember/ops/attention.py).
"""
import contextlib
import enum
import importlib
import logging

from ...ops import attention as _sdp

__all__ = [
    "SDPBackend",
    "sdpa_kernel",
    "WARN_FOR_UNFUSED_KERNELS",
    "register_flash_attention_impl",
    "activate_flash_attention_impl",
    "list_flash_attention_impls",
    "current_flash_attention_impl",
    "restore_flash_attention_impl",
]

# torch.nn.attention.bias.CausalBias reads this at call time: True makes it warn that the fused kernels
# are not used (ember never has them, so it always warns then)
WARN_FOR_UNFUSED_KERNELS = False


class SDPBackend(enum.Enum):
    """The backends of scaled_dot_product_attention, for sdpa_kernel (torch's values)."""

    ERROR = -1
    MATH = 0
    FLASH_ATTENTION = 1
    EFFICIENT_ATTENTION = 2
    CUDNN_ATTENTION = 3
    OVERRIDEABLE = 4

    # torch's is a pybind11 enum: int() and hash() give the value, but it equals only itself
    def __int__(self):
        return self.value

    __index__ = __int__

    def __hash__(self):
        return hash(self.value)


# torch's flag names, in the order torch lists the enabled backends
_backend_names = {
    "cudnn": "CUDNN_ATTENTION",
    "flash": "FLASH_ATTENTION",
    "mem_efficient": "EFFICIENT_ATTENTION",
    "math": "MATH",
    "overrideable": "OVERRIDEABLE",
}


def _backend_from_string(name):
    return getattr(SDPBackend, name)


def _cur_sdpa_kernel_backends(with_priority=False):
    backends = [SDPBackend[val] for name, val in _backend_names.items() if _sdp._SDP_ENABLED[name]]
    if with_priority:
        order = _sdp._SDP_PRIORITY
        backends.sort(key=lambda b: order.index(int(b)))
    return backends


def _sdpa_kernel(backends, set_priority=False):
    for name, val in _backend_names.items():
        _sdp._SDP_ENABLED[name] = SDPBackend[val] in backends
    if set_priority:
        priority = [int(b) for b in backends]  # backends are unique here
        priority += [b for b in _sdp._SDP_PRIORITY if b not in priority]
        _sdp._SDP_PRIORITY[:] = priority


@contextlib.contextmanager
def sdpa_kernel(backends, set_priority=False):
    """Enable only the given backend(s) of scaled_dot_product_attention inside the block (or decorated
    function); with set_priority=True their order is also their priority."""
    if not isinstance(backends, (list, SDPBackend)):
        raise AssertionError("Backend must be an instance of SDPBackend or a list of SDPBackend instances, got "
                             f"{type(backends).__name__}")
    if isinstance(backends, SDPBackend):
        backends = [backends]
    backends = list(dict.fromkeys(backends))
    previous = _cur_sdpa_kernel_backends(with_priority=set_priority)
    try:
        _sdpa_kernel(backends, set_priority)
        yield {}
    finally:
        _sdpa_kernel(previous, set_priority)


@contextlib.contextmanager
def _sdpa_kernel_variadic(*backends):
    with sdpa_kernel(list(backends)):
        yield


def _get_flash_version():
    """The flash-attention release torch's flash backend matches."""
    return "2.5.7"


# ---- flash-attention implementation registry (torch.nn.attention._registry) -------------------------
# Backend providers register a callable that installs their kernels; users activate one by name.  ember
# runs no CUDA kernels of its own, so the built-in FA3 / FA4 entries import their packages (torch's
# ModuleNotFoundError when absent) and then say that ember cannot use them.

_logger = logging.getLogger(__name__)
_FLASH_ATTENTION_IMPLS = {}
_FLASH_ATTENTION_ACTIVE = None  # (name, handle) of the activated impl


def register_flash_attention_impl(impl, *, register_fn):
    """Register register_fn as the callable that activates the flash-attention implementation impl."""
    _FLASH_ATTENTION_IMPLS[impl] = register_fn


def activate_flash_attention_impl(impl):
    """Activate a registered flash-attention implementation (the previous one is restored first)."""
    global _FLASH_ATTENTION_ACTIVE
    restore_flash_attention_impl(_raise_warn=False)
    register_fn = _FLASH_ATTENTION_IMPLS.get(impl)
    if register_fn is None:
        raise ValueError(f"Unknown flash attention impl '{impl}'. Available implementations: "
                         f"{list_flash_attention_impls()}")
    handle = register_fn()
    if handle is not None:
        _FLASH_ATTENTION_ACTIVE = (impl, handle)


def list_flash_attention_impls():
    """The names of the registered flash-attention implementations, sorted."""
    return sorted(_FLASH_ATTENTION_IMPLS)


def current_flash_attention_impl():
    """The name of the activated flash-attention implementation, or None for the default."""
    return None if _FLASH_ATTENTION_ACTIVE is None else _FLASH_ATTENTION_ACTIVE[0]


def restore_flash_attention_impl(_raise_warn=True):
    """Go back to the default flash-attention implementation (removing the activated one's handle)."""
    global _FLASH_ATTENTION_ACTIVE
    if _FLASH_ATTENTION_ACTIVE is not None:
        _FLASH_ATTENTION_ACTIVE[1].remove()
    elif _raise_warn:
        _logger.warning("Trying to restore default FA2 impl when no custom impl was activated")
    _FLASH_ATTENTION_ACTIVE = None


def _builtin_impl(name, module_path):
    def register(module_path=module_path):
        importlib.import_module(module_path)
        raise RuntimeError(f"{name} flash attention registers CUDA kernels with torch's dispatcher; ember "
                           f"cannot run them ({module_path} was found, but ember's attention has no kernels to "
                           "replace)")
    register.__name__ = f"register_flash_attention_{name.lower()}"
    return register


register_flash_attention_impl("FA3", register_fn=_builtin_impl("FA3", "flash_attn_interface"))
register_flash_attention_impl("FA4", register_fn=_builtin_impl("FA4", "flash_attn.cute.interface"))
