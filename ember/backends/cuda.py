"""torch.backends.cuda: cuBLAS matmul switches, accepted and recorded.

``matmul.allow_tf32`` is tied to torch.set_float32_matmul_precision as in torch (True means
'high'); ember's products stay full float32 whatever it says.
"""
import contextlib
import warnings

from .. import _settings


def is_built():
    """True when ember's GPU extra (CuPy) is installed; a GPU may still be absent."""
    from .. import cuda
    return cuda._cupy_installed()


class cuBLASModule:
    """torch.backends.cuda.matmul: allow_tf32 and the reduced-precision reduction flags."""

    _flags = {"allow_fp16_reduced_precision_reduction": True,
              "allow_bf16_reduced_precision_reduction": True}

    def __getattr__(self, name):
        if name == "allow_tf32":
            return _settings.get_float32_matmul_precision() != "highest"
        if name in self._flags:
            return self._flags[name]
        raise AttributeError(f"Unknown attribute {name}")

    def __setattr__(self, name, value):
        if name == "allow_tf32":
            if value is not True and value is not False:
                raise RuntimeError(f"set_allow_tf32_cublas expects a bool, but got {type(value).__name__}")
            _settings.set_float32_matmul_precision("high" if value else "highest")
            return
        if name in self._flags:
            if value is not True and value is not False:
                raise RuntimeError(f"set_{name}_cublas expects a bool, but got {type(value).__name__}")
            self._flags[name] = value
            return
        raise AttributeError(f"Unknown attribute {name}")


matmul = cuBLASModule()


# ---- scaled_dot_product_attention's backend switches (one table, shared with nn.attention.sdpa_kernel) ----
def _sdp_flags():
    from ..ops import attention
    return attention._SDP_ENABLED


def _set_sdp(name, enabled, setter="set_sdp_use_math"):
    # (torch's message names set_sdp_use_math for every switch but cudnn's; kept)
    if enabled is not True and enabled is not False:
        raise RuntimeError(f"{setter} expects a bool, but got {type(enabled).__name__}")
    _sdp_flags()[name] = enabled


def enable_flash_sdp(enabled):
    """Enable or disable the flash backend of scaled_dot_product_attention."""
    _set_sdp("flash", enabled)


def flash_sdp_enabled():
    """Whether the flash backend of scaled_dot_product_attention is enabled."""
    return _sdp_flags()["flash"]


def enable_mem_efficient_sdp(enabled):
    """Enable or disable the memory-efficient backend of scaled_dot_product_attention."""
    _set_sdp("mem_efficient", enabled)


def mem_efficient_sdp_enabled():
    """Whether the memory-efficient backend of scaled_dot_product_attention is enabled."""
    return _sdp_flags()["mem_efficient"]


def enable_math_sdp(enabled):
    """Enable or disable the math backend of scaled_dot_product_attention."""
    _set_sdp("math", enabled)


def math_sdp_enabled():
    """Whether the math backend of scaled_dot_product_attention is enabled."""
    return _sdp_flags()["math"]


def enable_cudnn_sdp(enabled):
    """Enable or disable the cuDNN backend of scaled_dot_product_attention."""
    _set_sdp("cudnn", enabled, "set_sdp_use_cudnn")


def cudnn_sdp_enabled():
    """Whether the cuDNN backend of scaled_dot_product_attention is enabled."""
    return _sdp_flags()["cudnn"]


_math_reduction = [False]


def allow_fp16_bf16_reduction_math_sdp(enabled):
    """Allow half-precision reductions in the math backend (recorded: ember's math backend is one kernel)."""
    if enabled is not True and enabled is not False:
        raise RuntimeError(f"set_sdp_use_math expects a bool, but got {type(enabled).__name__}")
    _math_reduction[0] = enabled


def fp16_bf16_reduction_math_sdp_allowed():
    """Whether allow_fp16_bf16_reduction_math_sdp(True) is in effect."""
    return _math_reduction[0]


def is_ck_sdpa_available():
    """False: no Composable Kernel (ROCm) attention in ember."""
    return False


@contextlib.contextmanager
def sdp_kernel(enable_flash=True, enable_math=True, enable_mem_efficient=True, enable_cudnn=True):
    """Deprecated: enable only the chosen backends inside the block; use torch.nn.attention.sdpa_kernel."""
    warnings.warn("`torch.backends.cuda.sdp_kernel()` is deprecated. In the future, this context manager will be "
                  "removed. Please see `torch.nn.attention.sdpa_kernel()` for the new context manager, with updated "
                  "signature.", FutureWarning, stacklevel=3)
    from ..nn.attention import SDPBackend, sdpa_kernel
    chosen = [b for on, b in ((enable_flash, SDPBackend.FLASH_ATTENTION),
                              (enable_mem_efficient, SDPBackend.EFFICIENT_ATTENTION),
                              (enable_math, SDPBackend.MATH), (enable_cudnn, SDPBackend.CUDNN_ATTENTION)) if on]
    with sdpa_kernel(chosen) as context:
        yield context


def __getattr__(name):
    if name == "SDPBackend":   # torch.backends.cuda.SDPBackend is nn.attention's (imported on first use)
        from ..nn.attention import SDPBackend
        return SDPBackend
    raise AttributeError(f"module 'torch.backends.cuda' has no attribute '{name}'")
