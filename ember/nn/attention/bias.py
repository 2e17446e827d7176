"""torch.nn.attention.bias: causal masks that scaled_dot_product_attention applies without being handed
the (L, S) mask tensor.

A CausalBias passed as attn_mask takes over the call (ember/ops/attention.py looks for _sdpa_dispatch on
the mask's type, where torch has __torch_function__): the upper-left variant, and any square one, runs as
is_causal=True; the lower-right one is materialised as a bool mask, which is what torch does on the CPU,
where its fused kernels for it (CUDA flash and efficient attention) are absent.
"""
import warnings
from enum import IntEnum, auto

from ... import _backend as B
from ..._tensor import Tensor
from ...ops import attention as _attention
from ...ops import creation as _creation

__all__ = ["causal_upper_left", "causal_lower_right", "CausalVariant", "CausalBias"]


class CausalVariant(IntEnum):
    """Where the causal triangle is anchored: UPPER_LEFT (is_causal=True) or LOWER_RIGHT (the last query
    sees every key)."""

    UPPER_LEFT = auto()
    LOWER_RIGHT = auto()


def _validate_sdpa_input(query, key, value):
    """torch.nn.attention._utils._validate_sdpa_input: its ValueErrors, before the lower-right mask is built."""
    if query.dtype != key.dtype or query.dtype != value.dtype:
        raise ValueError(f"Expected query, key, and value to have the same dtype, but got query.dtype: {query.dtype}, "
                         f"key.dtype: {key.dtype}, and value.dtype: {value.dtype} instead.")
    if query.device != key.device or query.device != value.device:
        raise ValueError("Expected query, key, and value to have the same device type, but got query.device: "
                         f"{query.device}, key.device: {key.device}, and value.device: {value.device} instead.")
    if query.dim() < 2 or key.dim() < 2 or value.dim() < 2:
        raise ValueError("Expected query, key, and value to all be  at least 2 dimensional, but got query.dim: "
                         f"{query.dim()}, key.dim: {key.dim()} and value.dim: {value.dim()} instead.")


class CausalBias(Tensor):
    """A causal (triangular) attention mask of one CausalVariant, for scaled_dot_product_attention's attn_mask."""

    # torch.Tensor.__new__ receives (variant, seq_len_q, seq_len_kv) as sizes: torch's CausalBias is an
    # uninitialised float tensor of shape (variant, seq_len_q, seq_len_kv), and so is ember's (np.empty,
    # so no memory is touched)
    def __init__(self, variant, seq_len_q, seq_len_kv):
        if not isinstance(variant, CausalVariant):
            raise AssertionError(f"variant must be a CausalVariant, got {type(variant).__name__}")
        self.variant = variant
        self.seq_len_q = seq_len_q
        self.seq_len_kv = seq_len_kv
        if seq_len_q > seq_len_kv and variant == CausalVariant.LOWER_RIGHT:
            warnings.warn("Lower right causal bias will produce NaNs in the output when seq_len_q > seq_len_kv!",
                          stacklevel=2)

    def _upper_left(self, device):
        """The upper-left bool mask: tril of ones."""
        return _creation.ones(self.seq_len_q, self.seq_len_kv, device=device, dtype=B.bool_).tril()

    def _lower_right(self, device):
        """The lower-right bool mask: tril of ones shifted so that the last row keeps every key."""
        ones = _creation.ones(self.seq_len_q, self.seq_len_kv, device=device, dtype=B.bool_)
        return ones.tril(self.seq_len_kv - self.seq_len_q)

    def _materialize(self, device=None):
        """The mask as a (seq_len_q, seq_len_kv) bool tensor (True: attend), on device (default cpu)."""
        if device is None:
            device = B.CPU
        if self.variant == CausalVariant.UPPER_LEFT:
            return self._upper_left(device)
        if self.variant == CausalVariant.LOWER_RIGHT:
            return self._lower_right(device)
        return None

    @staticmethod
    def _dispatch(query, key, value, attn_mask, dropout_p=0.0, is_causal=False, scale=None, enable_gqa=False):
        """scaled_dot_product_attention with this causal bias as attn_mask."""
        if is_causal:
            raise ValueError("CausalBias should not be used with causal=True")
        if attn_mask.seq_len_q == attn_mask.seq_len_kv or attn_mask.variant == CausalVariant.UPPER_LEFT:
            return _attention.scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p=dropout_p,
                                                           is_causal=True, scale=scale, enable_gqa=enable_gqa)
        if attn_mask.variant == CausalVariant.LOWER_RIGHT:
            _validate_sdpa_input(query, key, value)
            from . import WARN_FOR_UNFUSED_KERNELS  # read at call time: users set it on the module
            if WARN_FOR_UNFUSED_KERNELS:
                # torch's fused kernels for this variant are CUDA's; ember has none, so both refuse
                warnings.warn("Efficient attention can't be used because:", stacklevel=2)
                warnings.warn("Flash attention can't be used because:", stacklevel=2)
            return _attention.scaled_dot_product_attention(
                query, key, value, attn_mask=attn_mask._materialize(query.device), dropout_p=dropout_p,
                is_causal=False, scale=scale, enable_gqa=enable_gqa)
        raise ValueError(f"CausalBias.variant must be a CausalVariant type, but found: {attn_mask.variant}")

    _sdpa_dispatch = _dispatch

    def __repr__(self):
        return self._materialize().__repr__()


def causal_upper_left(*size):
    """A CausalBias of size (seq_len_q, seq_len_kv) anchored at the upper left, as is_causal=True."""
    if len(size) != 2:
        raise AssertionError("causal_upper_left only supports 2D tensors")
    seq_len_q, seq_len_kv = size
    return CausalBias(CausalVariant.UPPER_LEFT, seq_len_q, seq_len_kv)


def causal_lower_right(*size):
    """A CausalBias of size (seq_len_q, seq_len_kv) anchored at the lower right (diagonal offset S - L)."""
    if len(size) != 2:
        raise AssertionError("causal_lower_right only supports 2D tensors")
    seq_len_q, seq_len_kv = size
    return CausalBias(CausalVariant.LOWER_RIGHT, seq_len_q, seq_len_kv)
