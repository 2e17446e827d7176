"""Attention: scaled_dot_product_attention and multi_head_attention_forward.

Both are composites of differentiable ops (matmul, softmax, linear, masked_fill, dropout, ...),
so autograd comes from those ops; the one node of their own is torch's CPU flash kernel, which
torch uses for 4-D scaled_dot_product_attention without dropout (_flash_attention).  The code
follows torch's reference formulation in torch/nn/functional.py step by step, including its checks and their
messages, so that a model ported from torch fails where and how it failed there.

Two softmax flavours, as in torch:
- scaled_dot_product_attention gives a query whose every key is masked out all-zero weights (torch's
  math kernel uses a "safe" softmax), with zero gradient, not NaN;
- multi_head_attention_forward with need_weights=True computes the weights with a plain softmax,
  so such a row is NaN there, as in torch.
"""
import math

from .. import _backend as B
from .._backend import xp_of
from .._fma import fma32_via_double as _fma
from .._threads import matmul as _mm
from .._tensor import Tensor, _wrap
from ..autograd.grad_mode import state
from ..autograd.graph import Node, edge
from . import activation as _activation
from . import creation as _creation
from . import linalg as _linalg
from . import norm as _norm
from . import shape as _shape
from .._userwarn import warn as _warn_user

__all__ = []  # torch has none of these at top level: they live in torch.nn.functional
__functional__ = ["scaled_dot_product_attention", "multi_head_attention_forward", "_canonical_mask",
                  "_none_or_dtype", "_mha_shape_check", "_in_projection_packed", "_in_projection"]

_NEG_INF = float("-inf")


def _safe_softmax(scores):
    """softmax over the last dim, with all-zero weights (and zero gradient) for rows that are all -inf."""
    dead = (scores == _NEG_INF).all(-1, keepdim=True)
    if not bool(dead.any()):
        return _activation.softmax(scores, -1)
    # fill the dead rows before the softmax too: a NaN row would turn its zero gradient into NaN
    weights = _activation.softmax(scores.masked_fill(dead, 0.0), -1)
    return weights.masked_fill(dead, 0.0)


def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None,
                                 enable_gqa=False):
    """softmax(query @ key^T * scale + mask) @ value over the last two dims; leading dims broadcast.

    A bool attn_mask marks with True the pairs that take part; a float one is added to the scores.
    """
    # a mask type with its own attention (torch.nn.attention.bias.CausalBias) takes the call over, as its
    # __torch_function__ does in torch; looked up on the type so that plain tensors pay one getattr
    dispatch = getattr(type(attn_mask), "_sdpa_dispatch", None)
    if dispatch is not None:
        return dispatch(query, key, value, attn_mask, dropout_p, is_causal, scale, enable_gqa)
    if query.dim() < 2 or key.dim() < 2 or value.dim() < 2:
        raise RuntimeError("Expected query, key, and value to all be  at least 2 dimensional, but got query.dim: "
                           f"{query.dim()} key.dim: {key.dim()} and value.dim: {value.dim()} instead.")
    if not (query.dtype == key.dtype == value.dtype):
        raise RuntimeError("Expected query, key, and value to have the same dtype, but got query.dtype: "
                           f"{B.c_name(query.dtype)} key.dtype: {B.c_name(key.dtype)} and value.dtype: "
                           f"{B.c_name(value.dtype)} instead.")
    if not query.is_floating_point():
        raise RuntimeError(f"scaled_dot_product_attention: expected query, key and value of a floating dtype, "
                           f"but got {query.dtype}")
    if (attn_mask is not None and attn_mask.dtype is not B.bool_ and attn_mask.dtype != query.dtype
            and attn_mask.dtype is not B.float32):
        raise RuntimeError("Expected attn_mask dtype to be bool or float or to match query dtype, but got "
                           f"attn_mask.dtype: {B.c_name(attn_mask.dtype)} and  query.dtype: "
                           f"{B.c_name(query.dtype)} instead.")
    flash_on = _SDP_ENABLED["flash"]
    if not _SDP_ENABLED["math"]:
        _check_backends(query, key, value, attn_mask, dropout_p, enable_gqa, flash_on)
    # torch checks this in its math kernel, after choosing one: with no backend left it says that instead
    if attn_mask is not None and is_causal:
        raise RuntimeError("_scaled_dot_product_attention: Explicit attn_mask should not be set when "
                           "is_causal=True")
    if flash_on and _flash_ok(query, key, value, attn_mask, dropout_p, enable_gqa):
        return _flash_attention(query, key, value, attn_mask, is_causal, scale)
    if query._data.dtype.kind == "V":
        # torch's math kernel computes bfloat16 attention in float32 and rounds the result once
        # (its graph: ToCopyBackward0 on each side); a bfloat16 mask holds float32's values
        if attn_mask is not None and attn_mask.dtype is not B.bool_:
            attn_mask = attn_mask.float()
        out = scaled_dot_product_attention(query.float(), key.float(), value.float(), attn_mask, dropout_p,
                                           is_causal, scale, enable_gqa)
        return out.to(query.dtype)
    if enable_gqa and query.dim() >= 3:
        hq, hk, hv = query.size(-3), key.size(-3), value.size(-3)
        if hk != hv or hq % hk:
            raise RuntimeError("Number of heads in key and value must divide the number of heads in query: "
                               f"query has {hq} heads, key {hk} and value {hv}")
        if hk != hq:
            key = key.repeat_interleave(hq // hk, -3)
            value = value.repeat_interleave(hq // hv, -3)
    L, S = query.size(-2), key.size(-2)
    scale_factor = 1.0 / math.sqrt(query.size(-1)) if scale is None else scale
    scores = _linalg.matmul(query * scale_factor, key.transpose(-2, -1))
    masked = False
    if is_causal:
        keep = _creation.ones(L, S, dtype=B.bool_, device=query.device).tril(0)
        scores = scores.masked_fill(keep.logical_not(), _NEG_INF)
        masked = True
    elif attn_mask is not None:
        out_shape = tuple(_shape.broadcast_shapes(tuple(scores.shape), tuple(attn_mask.shape)))
        if out_shape != tuple(scores.shape):
            raise RuntimeError(f"output with shape {list(scores.shape)} doesn't match the broadcast shape "
                               f"{list(out_shape)}")
        if attn_mask.dtype is B.bool_:
            scores = scores.masked_fill(attn_mask.logical_not(), _NEG_INF)
        else:
            scores = scores + attn_mask
        masked = True
    weights = _safe_softmax(scores) if masked else _activation.softmax(scores, -1)
    if dropout_p > 0.0:
        weights = _norm.dropout(weights, dropout_p, True)
    return _linalg.matmul(weights, value)


# ---- torch.nn.attention.sdpa_kernel's selection -----------------------------------------------------
# torch keeps the enabled backends and their priority in its global context; ember keeps them here, where
# scaled_dot_product_attention reads them (torch.nn.attention.sdpa_kernel sets them).  ember has one
# implementation, so the selection changes only two things, both as torch on the CPU: the 4-D flash node
# runs only while FLASH_ATTENTION is enabled, and a call that none of the enabled CPU backends (math,
# flash) could run raises torch's error.  The CUDA-only backends (cuDNN, efficient, overrideable) never run
# on the CPU: enabling only those leaves nothing, as in torch.
_SDP_ENABLED = {"cudnn": True, "flash": True, "mem_efficient": True, "math": True, "overrideable": True}
_SDP_PRIORITY = [1, 2, 0, 3, 4]  # torch's default: flash, efficient, math, cudnn, overrideable

_NO_BACKEND = ("No viable backend for scaled_dot_product_attention was found. This is likely due to turning off "
               "both the math kernel and the fused kernels.")


def _check_backends(query, key, value, attn_mask, dropout_p, enable_gqa, flash_on):
    """torch's CPU dispatcher with the math backend disabled: its error when flash cannot run the call."""
    if query.size(-2) == 0 or value.numel() == 0:
        return  # torch answers these empty calls before it picks a backend
    if not flash_on:
        raise RuntimeError(_NO_BACKEND)
    reason = _flash_refusal(query, key, value, attn_mask, dropout_p, enable_gqa)
    if reason is not None:
        _warn_user("Flash attention kernel not used because:")
        if reason:
            _warn_user(reason)
        raise RuntimeError("No available kernel.  Aborting execution.")


def _flash_refusal(query, key, value, attn_mask, dropout_p, enable_gqa):
    """Why torch's CPU flash kernel refuses the call (its first failing check, in its order, with its
    message), "" when it refuses without a message, None when it accepts."""
    if dropout_p > 0.0:
        return "Both fused kernels do not support non-zero dropout."
    if query.dim() != 4 or key.dim() != 4 or value.dim() != 4:
        return ("All fused kernels requires query, key and value to be 4 dimensional, but got Query dim: "
                f"{query.dim()}, Key dim: {key.dim()}, Value dim: {value.dim()} instead.")
    qs, ks, vs = list(query.shape), list(key.shape), list(value.shape)
    if not qs[0] == ks[0] == vs[0]:
        return ("For dense inputs, both fused kernels require query, key and value to have the same batch_size. "
                f"Query.sizes(): {qs}, Key.sizes(): {ks}, Value.sizes(): {vs} instead. To broadcast dense inputs, "
                "try using unsqueeze and expand_to before passing them into the kernel.")
    if enable_gqa:
        if ks[1] != vs[1]:
            return ("Both fused kernels require key and value to have the same num_heads and batch_size but got: "
                    f"Key sizes: {ks}, Value sizes: {vs}, Query sizes: {qs} instead.")
        if qs[1] % ks[1]:
            return ("The number of heads in key/value must divide number of heads in query.Got input Key sizes(): "
                    f"{ks[1]}, Value sizes(): {vs[1]}, Query sizes(): {qs[1]} instead.")
    elif not qs[1] == ks[1] == vs[1]:
        return ("For dense input, both fused kernels require query, key and value to have the same num_heads. "
                f"Query.sizes(): {qs}, Key sizes(): {ks}, Value sizes(): {vs} instead. To broadcast dense inputs, "
                "try using unsqueeze and expand_to before passing them into the kernel.")
    if attn_mask is not None:
        if attn_mask._requires_grad:
            return ""
        if attn_mask.dim() == 0:
            raise IndexError("Dimension specified as -2 but tensor has no dimensions")
        if attn_mask.dim() == 1:
            raise IndexError("Dimension out of range (expected to be in range of [-1, 0], but got -2)")
        ms = attn_mask.shape
        if ms[-2] not in (qs[2], 1) or ms[-1] not in (ks[2], 1):
            return ""
        if not (attn_mask.dim() == 2 or (attn_mask.dim() == 4 and ms[0] in (qs[0], 1) and ms[1] in (qs[1], 1))):
            return ("Please use the following attn mask shapes: 2d - ({Q_seq_len, 1}  x {KV_seq_len, 1}); 4d - "
                    "({Batch, 1} x {Num_heads, 1} x {Q_seq_len, 1}  x {KV_seq_len, 1})")
    if not qs[3] == ks[3] == vs[3]:
        return ("Flash attention requires q,k,v to have the same last dimension. Got Query.size(-1): "
                f"{qs[3]}, Key.size(-1): {ks[3]}, Value.size(-1): {vs[3]} instead.")
    if qs[2] == 0 or ks[2] == 0:
        return "All fused kernels do not support zero seq_len_q or seq_len_kv."
    strides = [t._data.strides[-1] // t._data.itemsize for t in (query, key, value)]
    if strides != [1, 1, 1]:
        return ("All fused kernels require the last dimension of the input to have stride 1. Got Query.stride(-1): "
                f"{strides[0]}, Key.stride(-1): {strides[1]}, Value.stride(-1): {strides[2]}")
    return None  # its last check, the dtype, passes: every floating dtype ember has is one it takes


# ---- torch's CPU "flash" kernel: one node for 4-D inputs ----------------------------------------
# torch runs 4-D (batch, heads, seq, dim) attention without dropout as one op: the output prints
# grad_fn=<ScaledDotProductFlashAttentionForCpuBackward0> with next_functions (query, key, value), and
# it is laid out as empty_like(query): for q = x.view(B, L, H, D).transpose(1, 2) the output's
# transpose(1, 2) is contiguous, so .view(B, L, H * D) works on it.  Same rows of safe softmax as
# the composite path (a query with every key masked out gets zeros).

def _flash_ok(query, key, value, attn_mask, dropout_p, enable_gqa):
    """torch's conditions for the CPU flash kernel (sdp_utils_cpp.cpp use_flash_attention_cpp)."""
    if query.dim() != 4 or key.dim() != 4 or value.dim() != 4 or dropout_p > 0.0:
        return False
    q, k, v = query._data, key._data, value._data
    if (q.dtype.kind != "f" or q.dtype.itemsize < 4) and q.dtype.kind != "V" or not (q.size and k.size and v.size):
        return False
    if attn_mask is not None and (attn_mask.dim() not in (2, 4) or attn_mask._requires_grad):
        return False
    if not q.shape[0] == k.shape[0] == v.shape[0] or not q.shape[-1] == k.shape[-1] == v.shape[-1]:
        return False
    hq, hk, hv = q.shape[1], k.shape[1], v.shape[1]
    if not (hq == hk == hv or (enable_gqa and hk == hv and hq % hk == 0)):
        return False
    return all(a.shape[-1] == 1 or a.strides[-1] == a.itemsize for a in (q, k, v))


class ScaledDotProductFlashAttentionForCpuBackward0(Node):
    __slots__ = ("q", "k", "v", "p", "scale", "groups")
    _saved_fields = ("q", "k", "v", "p")

    def apply(self, g):
        q, k, v, p, scale, groups = self.q, self.k, self.v, self.p, self.scale, self.groups
        xp = xp_of(g)
        ke, ve = (k, v) if groups == 1 else (xp.repeat(k, groups, 1), xp.repeat(v, groups, 1))
        gp = _mm(g, ve.swapaxes(-2, -1))
        ds = p * (gp - (gp * p).sum(-1, keepdims=True))
        dq = _mm(ds, ke) * scale if self.next_functions[0][0] is not None else None
        dk = dv = None
        if self.next_functions[1][0] is not None:
            dk = _mm(ds.swapaxes(-2, -1), q) * scale
        if self.next_functions[2][0] is not None:
            dv = _mm(p.swapaxes(-2, -1), g)
        if groups != 1:
            dk, dv = (None if d is None else d.reshape(d.shape[0], -1, groups, *d.shape[2:]).sum(2)
                      for d in (dk, dv))
        return (dq, dk, dv)


def _flash_attention(query, key, value, attn_mask, is_causal, scale):
    q, k, v = query._data, key._data, value._data
    if q.dtype.kind == "V":
        return _flash_attention_bf16(query, key, value, attn_mask, is_causal, scale)
    xp = xp_of(q)
    L, S = q.shape[-2], k.shape[-2]
    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else scale
    groups = q.shape[1] // k.shape[1]
    ke, ve = (k, v) if groups == 1 else (xp.repeat(k, groups, 1), xp.repeat(v, groups, 1))
    scores = _mm(q * q.dtype.type(scale), ke.swapaxes(-2, -1))
    if is_causal:
        scores = B.where(xp, xp.tri(L, S, dtype=bool), scores, -xp.inf)
    elif attn_mask is not None:
        m = attn_mask._data
        out_shape = tuple(_shape.broadcast_shapes(tuple(scores.shape), tuple(m.shape)))
        if out_shape != tuple(scores.shape):
            raise RuntimeError(f"output with shape {list(scores.shape)} doesn't match the broadcast shape "
                               f"{list(out_shape)}")
        scores = B.where(xp, m, scores, -xp.inf) if m.dtype == bool else scores + m
    top = scores.max(-1, keepdims=True)
    dead = top == -xp.inf  # every key masked out: zero weights, as torch
    e = xp.exp(scores - B.where(xp, dead, 0, top))
    total = e.sum(-1, keepdims=True)
    p = e / B.where(xp, dead, 1, total)
    out = xp.empty_like(q)
    out[...] = _mm(p, ve)
    result = _wrap(out)
    node = _flash_node(ScaledDotProductFlashAttentionForCpuBackward0, result, (query, key, value))
    if node is not None:
        node.q, node.k, node.v, node.p, node.scale, node.groups = q, k, v, p, scale, groups
    return result


def _flash_node(cls, result, ins):
    """A flash kernel's backward node over (query, key, value), made the result's grad_fn; None without grad."""
    if not (state.enabled and any(t._requires_grad for t in ins)):
        return None
    node = cls.__new__(cls)
    node.next_functions = tuple(edge(t) for t in ins)
    node._saved_versions = tuple((t, t._vc[0]) for t in ins)
    result._requires_grad = True
    result.grad_fn = node
    return node


# ---- the bfloat16 flash kernel ----------------------------------------------------------------------
# torch runs bfloat16 attention through the same kernel (cpu_flash_attention in FlashAttentionKernel.cpp)
# in float32, rounding to bfloat16 where it stores: the softmax numerators before they multiply value, the
# output once; in the backward the weights and their gradient before each product, and grad_q/k/v after
# each block's product is added to them.  Its blocks: keys in 512s (each block's numerators are taken
# from the running max, the earlier ones rescaled: online softmax), queries in 32s, 64s or 256s by
# length.  Its forward exp is a fast approximation (fexp_u20) in its 16-lane vector loop, summed lane by
# lane, and libm's expf for the last keys % 16; its backward's is SLEEF's expf_u10.  Both are
# reproduced here (their fmas through float64), so the results are torch's on an AVX-512 machine up to
# the order of the float32 sums inside the matrix products.

_LOG2E, _LN_FLT_MIN, _LN_FLT_MAX = 1.4426950216293335, -87.3365478515625, 88.72283935546875
_FEXP_POLY = (-0.07920423895120621, -0.2243383675813675, 0.3035426139831543, 0.00010703434963943437)
_SLEEF_POLY = (0.00019852761761285365, 0.0013930435525253415, 0.008333360776305199, 0.041666485369205475,
               0.1666666716337204, 0.5)


def _fexp_u20(xp, x):
    """torch's Vectorized<float>::fexp_u20: 2**(x log2 e) with a cubic in the fraction, built in the
    float's bits; 0 below ln(FLT_MIN), inf above ln(FLT_MAX)."""
    f = xp.float32
    with xp.errstate(all="ignore"):
        src = x * f(_LOG2E)
        frac = src - xp.floor(src)
        c3, c2, c1, c0 = _FEXP_POLY
        res = _fma(_fma(_fma(frac, f(c3), f(c2)), frac, f(c1)), frac, f(c0))
        t = _fma(f(2.0 ** 23), src - res, f(2.0 ** 23 * 127))
        low, high = x < f(_LN_FLT_MIN), x > f(_LN_FLT_MAX)
        bits = xp.where(low | high | xp.isnan(t), 0, t).astype(xp.int32)   # truncated, as cvttps
        bits = xp.where(low, 0, xp.where(high, 0x7F800000, bits))
        bits = xp.where(xp.isnan(x), xp.int32(-2 ** 31), bits)   # cvttps's "integer indefinite": -0.0
    return bits.astype(xp.int32).view(xp.float32)


def _sleef_exp(xp, d):
    """SLEEF's expf_u10 (torch's Vectorized<float>::exp): exp(s) 2**q with s = d - q ln 2 in two parts."""
    f = xp.float32
    with xp.errstate(all="ignore"):
        q = xp.rint(d * f(1.4426950408889634))
        q = xp.where(xp.abs(q) < 256, q, 0).astype(xp.int32)   # past +-104 the answer is fixed below
        qf = q.astype(xp.float32)
        s = _fma(qf, f(-0.693145751953125), d)
        s = _fma(qf, f(-1.428606765330187e-06), s)
        u = f(_SLEEF_POLY[0])
        for c in _SLEEF_POLY[1:]:
            u = _fma(u, s, f(c))
        u = f(1) + _fma(s * s, u, s)
        half = q >> 1
        u = u * ((half + 127) << 23).astype(xp.int32).view(xp.float32)
        u = u * ((q - half + 127) << 23).astype(xp.int32).view(xp.float32)
        u = xp.where(d < -104, f(0), xp.where(d > 100, f(xp.inf), u))
    return xp.where(xp.isnan(d), d, u)


def _exp_rows(xp, s, top):
    """torch's _exp_reduce_sum_fusion_kernel on each row of s: exp(s - top) (fexp_u20 on the 16-lane
    vector part, libm's expf on the last n % 16) and the rows' sums, lane by lane, then the tail."""
    n = s.shape[-1]
    nv = n - n % 16
    d = s - top[..., None]
    p = xp.empty_like(d)
    p[..., :nv] = _fexp_u20(xp, d[..., :nv])
    p[..., nv:] = xp.exp(d[..., nv:].astype(xp.float64)).astype(xp.float32)
    if nv:
        acc = p[..., :16]
        for i in range(16, nv, 16):
            acc = acc + p[..., i:i + 16]
        for w in (8, 4, 2):   # vec_reduce_all: halves folded onto each other
            acc = acc[..., :w] + acc[..., w:2 * w]
        total = acc[..., 0] + acc[..., 1]
    else:
        total = xp.zeros(s.shape[:-1], xp.float32)
    for i in range(nv, n):
        total = total + p[..., i]
    return p, total


def _lanes_sum(acc, n):
    """lanes 0..n-1 of acc added one after another (vec_reduce_all with a size: its slow path)."""
    total = acc[..., 0]
    for i in range(1, n):
        total = total + acc[..., i]
    return total


def _rowdot(xp, x, y):
    """torch's vec::map2_reduce_all over bfloat16 rows: sum(x * y) along the last axis in float32, in its
    order (32 bfloat16 a step in two 16-lane halves, the lanes folded at the end)."""
    p = x * y   # products of bfloat16 values: exact in float32
    D = p.shape[-1]
    if D < 32:
        if D <= 16:
            return _lanes_sum(p, D)
        acc = p[..., :16].copy()
        acc[..., :D - 16] += p[..., 16:]
        return _lanes_sum(acc, 16)
    acc0, acc1 = p[..., :16].copy(), p[..., 16:32].copy()
    d = 32
    while d + 32 <= D:
        acc0 += p[..., d:d + 16]
        acc1 += p[..., d + 16:d + 32]
        d += 32
    if D - d > 16:
        acc0 += p[..., d:d + 16]
        acc1[..., :D - d - 16] += p[..., d + 16:]
    elif D > d:
        acc0[..., :D - d] += p[..., d:]
    acc = acc0 + acc1
    for w in (8, 4, 2):
        acc = acc[..., :w] + acc[..., w:2 * w]
    return acc[..., 0] + acc[..., 1]


def _flash_bf16_blocks(L, S):
    """torch's query and key block sizes for these lengths."""
    return min(256 if L >= 768 else 64 if L >= 192 else 32, L), min(512, S)


def _flash_bf16_forward(xp, q, k, v, mask, is_causal, scale):
    """(output, logsumexp) of torch's bfloat16 flash kernel, in float32 (the output's values bfloat16's):
    q (B, H, L, D), k and v (B, H, S, D) in float32, mask additive float32 broadcasting to (B, H, L, S)."""
    f32 = xp.float32
    L, S = q.shape[-2], k.shape[-2]
    ks = _flash_bf16_blocks(L, S)[1]
    top = xp.full(q.shape[:-1], -xp.inf, f32)
    total = xp.zeros(q.shape[:-1], f32)
    dst = None
    rows = xp.arange(L)[:, None]
    for n in range(0, S, ks):
        kb = min(ks, S - n)
        s = _mm(q, k[..., n:n + kb, :].swapaxes(-2, -1))
        if is_causal:
            s = B.where(xp, xp.arange(n, n + kb)[None] > rows, f32(-xp.inf), s)
        s = s * f32(scale) if mask is None else s * f32(scale) + mask[..., n:n + kb]
        new_top = xp.maximum(s.max(-1), top)
        dead = new_top == -xp.inf   # every key so far masked out: torch stores zeros and keeps the rest
        p, psum = _exp_rows(xp, s, B.where(xp, dead, f32(0), new_top))
        p = B.where(xp, dead[..., None], f32(0), B.bf16_through(p))
        pv = _mm(p, v[..., n:n + kb, :])
        if dst is None:
            total, dst = B.where(xp, dead, total, psum), pv
        else:
            with xp.errstate(invalid="ignore"):
                rescale = xp.exp((top - new_top).astype(xp.float64)).astype(f32)
            total = B.where(xp, dead, total, _fma(rescale, total, psum))
            dst = B.where(xp, dead[..., None], dst, dst * rescale[..., None]) + pv
        top = B.where(xp, dead, top, new_top)
    top = B.where(xp, top == -xp.inf, f32(0), top)
    total = B.where(xp, total == 0, f32(1), total)
    out = dst * (f32(1) / total)[..., None]
    lse = top + xp.log(total.astype(xp.float64)).astype(f32)
    return B.bf16_round(out), lse


class _FlashBf16Backward(ScaledDotProductFlashAttentionForCpuBackward0):
    """torch's cpu_flash_attention_backward on bfloat16: the weights recomputed from the logsumexp."""
    __slots__ = ("out", "lse", "mask", "causal")
    _saved_fields = ("q", "k", "v", "out")

    def apply(self, g):
        q, k, v, out, lse, mask, scale, groups = self.q, self.k, self.v, self.out, self.lse, self.mask, \
            self.scale, self.groups
        xp = xp_of(g)
        f32, through = xp.float32, B.bf16_through
        q, k, v, out, g = (a.astype(f32) for a in (q, k, v, out, g))
        L, S = q.shape[-2], k.shape[-2]
        qs, ks = _flash_bf16_blocks(L, S)
        gq, gk, gv = xp.zeros_like(q), xp.zeros_like(k), xp.zeros_like(v)
        dsum = _rowdot(xp, g, out)
        scale = f32(scale)
        # a key/value head shared by `groups` query heads gathers their gradients one head after another
        for h in range(groups):
            heads = slice(h, None, groups)
            qh, gh, dh, lh = q[:, heads], g[:, heads], dsum[:, heads], lse[:, heads]
            mh = mask if mask is None or mask.ndim < 4 or mask.shape[1] == 1 else mask[:, heads]
            gqh = xp.zeros_like(qh)
            for m in range(0, L, qs):
                rows = slice(m, min(m + qs, L))
                keys = min(rows.stop, S) if self.causal else S
                for n in range(0, keys, ks):
                    cols = slice(n, min(n + ks, S))
                    a = scale * _mm(qh[..., rows, :], k[..., cols, :].swapaxes(-2, -1))
                    if mh is not None:
                        a = a + mh[..., rows, cols]
                    a = _sleef_exp(xp, a - lh[..., rows, None])
                    if self.causal:
                        a = B.where(xp, xp.arange(n, cols.stop)[None] > xp.arange(m, rows.stop)[:, None], f32(0), a)
                    gv[..., cols, :] = through(gv[..., cols, :] + _mm(through(a).swapaxes(-2, -1), gh[..., rows, :]))
                    ga = through(a * (_mm(gh[..., rows, :], v[..., cols, :].swapaxes(-2, -1)) - dh[..., rows, None]))
                    gqh[..., rows, :] = through(gqh[..., rows, :] + scale * _mm(ga, k[..., cols, :]))
                    gk[..., cols, :] = through(gk[..., cols, :] + scale * _mm(ga.swapaxes(-2, -1), qh[..., rows, :]))
            gq[:, heads] = gqh
        return tuple(B.bf16_round(d) if e[0] is not None else None
                     for d, e in zip((gq, gk, gv), self.next_functions))


_FlashBf16Backward.__name__ = _FlashBf16Backward.__qualname__ = "ScaledDotProductFlashAttentionForCpuBackward0"


def _flash_attention_bf16(query, key, value, attn_mask, is_causal, scale):
    """torch's CPU flash kernel on bfloat16 query, key and value (see above)."""
    q, k, v = query._data, key._data, value._data
    xp = xp_of(q)
    f32 = xp.float32
    Bq, H, L, _ = q.shape
    S = k.shape[-2]
    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else scale
    groups = H // k.shape[1]
    qf, kf, vf = (a.astype(f32) for a in (q, k, v))
    ke, ve = (kf, vf) if groups == 1 else (xp.repeat(kf, groups, 1), xp.repeat(vf, groups, 1))
    mask = None
    if not is_causal and attn_mask is not None:
        m = attn_mask._data
        shape = (Bq, H, L, S)
        out_shape = tuple(_shape.broadcast_shapes(shape, tuple(m.shape)))
        if out_shape != shape:
            raise RuntimeError(f"output with shape {list(shape)} doesn't match the broadcast shape {list(out_shape)}")
        mask = B.where(xp, m, f32(0), f32(-xp.inf)) if m.dtype == bool else m.astype(f32)
        mask = xp.broadcast_to(mask, mask.shape[:-2] + (L, S))   # the blocks slice its last two dims
    out, lse = _flash_bf16_forward(xp, qf, ke, ve, mask, is_causal, scale)
    result = _wrap(out)
    node = _flash_node(_FlashBf16Backward, result, (query, key, value))
    if node is not None:
        node.q, node.k, node.v, node.scale, node.groups = q, k, v, scale, groups
        node.out, node.lse, node.mask, node.causal = out, lse, mask, is_causal
    return result


# ---------------------------------------------------------------------------------------------------
# multi-head attention (torch.nn.functional.multi_head_attention_forward)


def _none_or_dtype(input):
    if input is None:
        return None
    if isinstance(input, Tensor):
        return input.dtype
    raise RuntimeError("input to _none_or_dtype() must be None or torch.Tensor")


def _canonical_mask(mask, mask_name, other_type, other_name, target_type, check_other=True):
    """A bool mask (True = masked out) as a float mask of target_type holding 0 and -inf; a float mask as is."""
    if mask is None:
        return None
    is_float = mask.is_floating_point()
    if mask.dtype is not B.bool_ and not is_float:
        raise AssertionError(f"only bool and floating types of {mask_name} are supported")
    if check_other and other_type is not None and mask.dtype != other_type:
        _warn_user(f"Support for mismatched {mask_name} and {other_name} is deprecated. "
                   "Use same type for both instead.")
    if not is_float:
        mask = _creation.zeros(tuple(mask.shape), dtype=target_type, device=mask.device).masked_fill(mask, _NEG_INF)
    return mask


def _mha_shape_check(query, key, value, key_padding_mask, attn_mask, num_heads):
    """Whether the input is batched (3-D query); torch's AssertionError for inconsistent ranks."""
    if query.dim() == 3:
        if key.dim() != 3 or value.dim() != 3:
            raise AssertionError("For batched (3-D) `query`, expected `key` and `value` to be 3-D"
                                 f" but found {key.dim()}-D and {value.dim()}-D tensors respectively")
        if key_padding_mask is not None and key_padding_mask.dim() != 2:
            raise AssertionError("For batched (3-D) `query`, expected `key_padding_mask` to be `None` or 2-D"
                                 f" but found {key_padding_mask.dim()}-D tensor instead")
        if attn_mask is not None and attn_mask.dim() not in (2, 3):
            raise AssertionError("For batched (3-D) `query`, expected `attn_mask` to be `None`, 2-D or 3-D"
                                 f" but found {attn_mask.dim()}-D tensor instead")
        return True
    if query.dim() == 2:
        if key.dim() != 2 or value.dim() != 2:
            raise AssertionError("For unbatched (2-D) `query`, expected `key` and `value` to be 2-D"
                                 f" but found {key.dim()}-D and {value.dim()}-D tensors respectively")
        if key_padding_mask is not None and key_padding_mask.dim() != 1:
            raise AssertionError("For unbatched (2-D) `query`, expected `key_padding_mask` to be `None` or 1-D"
                                 f" but found {key_padding_mask.dim()}-D tensor instead")
        if attn_mask is not None:
            if attn_mask.dim() not in (2, 3):
                raise AssertionError("For unbatched (2-D) `query`, expected `attn_mask` to be `None`, 2-D or 3-D"
                                     f" but found {attn_mask.dim()}-D tensor instead")
            if attn_mask.dim() == 3:
                expected = (num_heads, query.shape[0], key.shape[0])
                if tuple(attn_mask.shape) != expected:
                    raise AssertionError(f"Expected `attn_mask` shape to be {expected} but got {attn_mask.shape}")
        return False
    raise AssertionError(f"query should be unbatched 2D or batched 3D tensor but received {query.dim()}-D query tensor")


def _in_projection_packed(q, k, v, w, b=None):
    """q, k, v projected by the (3E, E) packed weight; one matrix product when they are the same tensor."""
    E = q.size(-1)
    if k is v:
        if q is k:
            return list(_linalg.linear(q, w, b).chunk(3, -1))
        w_q, w_kv = w.split([E, E * 2])
        b_q, b_kv = (None, None) if b is None else b.split([E, E * 2])
        k_proj, v_proj = _linalg.linear(k, w_kv, b_kv).chunk(2, -1)
        return [_linalg.linear(q, w_q, b_q), k_proj, v_proj]
    w_q, w_k, w_v = w.chunk(3)
    b_q, b_k, b_v = (None, None, None) if b is None else b.chunk(3)
    return [_linalg.linear(q, w_q, b_q), _linalg.linear(k, w_k, b_k), _linalg.linear(v, w_v, b_v)]


def _in_projection(q, k, v, w_q, w_k, w_v, b_q=None, b_k=None, b_v=None):
    """q, k, v projected by separate weights (kdim / vdim differ from embed_dim)."""
    Eq, Ek, Ev = q.size(-1), k.size(-1), v.size(-1)
    for name, w, shape in (("query", w_q, (Eq, Eq)), ("key", w_k, (Eq, Ek)), ("value", w_v, (Eq, Ev))):
        if tuple(w.shape) != shape:
            raise AssertionError(f"expecting {name} weights shape of {shape}, but got {w.shape}")
    for name, b in (("query", b_q), ("key", b_k), ("value", b_v)):
        if b is not None and tuple(b.shape) != (Eq,):
            raise AssertionError(f"expecting {name} bias shape of {(Eq,)}, but got {b.shape}")
    return _linalg.linear(q, w_q, b_q), _linalg.linear(k, w_k, b_k), _linalg.linear(v, w_v, b_v)


def multi_head_attention_forward(query, key, value, embed_dim_to_check, num_heads, in_proj_weight, in_proj_bias,
                                 bias_k, bias_v, add_zero_attn, dropout_p, out_proj_weight, out_proj_bias,
                                 training=True, key_padding_mask=None, need_weights=True, attn_mask=None,
                                 use_separate_proj_weight=False, q_proj_weight=None, k_proj_weight=None,
                                 v_proj_weight=None, static_k=None, static_v=None, average_attn_weights=True,
                                 is_causal=False):
    """torch.nn.functional.multi_head_attention_forward: inputs (L, N, E) / (S, N, E), or unbatched (L, E)."""
    is_batched = _mha_shape_check(query, key, value, key_padding_mask, attn_mask, num_heads)
    if not is_batched:
        query, key, value = query.unsqueeze(1), key.unsqueeze(1), value.unsqueeze(1)
        if key_padding_mask is not None:
            key_padding_mask = key_padding_mask.unsqueeze(0)

    tgt_len, bsz, embed_dim = query.shape
    src_len = key.shape[0]

    key_padding_mask = _canonical_mask(key_padding_mask, "key_padding_mask", _none_or_dtype(attn_mask), "attn_mask",
                                       query.dtype)
    if is_causal and attn_mask is None:
        raise RuntimeError("Need attn_mask if specifying the is_causal hint. You may use the Transformer module "
                           "method `generate_square_subsequent_mask` to create this mask.")
    if is_causal and key_padding_mask is None and not need_weights:
        attn_mask = None  # the hint says attn_mask is causal: scaled_dot_product_attention builds it
    else:
        attn_mask = _canonical_mask(attn_mask, "attn_mask", None, "", query.dtype, check_other=False)
        if key_padding_mask is not None:
            is_causal = False

    if embed_dim != embed_dim_to_check:
        raise AssertionError(f"was expecting embedding dimension of {embed_dim_to_check}, but got {embed_dim}")
    head_dim = embed_dim // num_heads
    if head_dim * num_heads != embed_dim:
        raise AssertionError(f"embed_dim {embed_dim} not divisible by num_heads {num_heads}")
    if use_separate_proj_weight:
        if tuple(key.shape[:2]) != tuple(value.shape[:2]):
            raise AssertionError(f"key's sequence and batch dims {key.shape[:2]} do not match value's "
                                 f"{value.shape[:2]}")
    elif tuple(key.shape) != tuple(value.shape):
        raise AssertionError(f"key shape {key.shape} does not match value shape {value.shape}")

    if not use_separate_proj_weight:
        if in_proj_weight is None:
            raise AssertionError("use_separate_proj_weight is False but in_proj_weight is None")
        q, k, v = _in_projection_packed(query, key, value, in_proj_weight, in_proj_bias)
    else:
        for name, w in (("q", q_proj_weight), ("k", k_proj_weight), ("v", v_proj_weight)):
            if w is None:
                raise AssertionError(f"use_separate_proj_weight is True but {name}_proj_weight is None")
        b_q, b_k, b_v = (None, None, None) if in_proj_bias is None else in_proj_bias.chunk(3)
        q, k, v = _in_projection(query, key, value, q_proj_weight, k_proj_weight, v_proj_weight, b_q, b_k, b_v)

    if attn_mask is not None:
        if attn_mask.dim() == 2:
            if tuple(attn_mask.shape) != (tgt_len, src_len):
                raise RuntimeError(f"The shape of the 2D attn_mask is {attn_mask.shape}, but should be "
                                   f"{(tgt_len, src_len)}.")
            attn_mask = attn_mask.unsqueeze(0)
        elif attn_mask.dim() == 3:
            if tuple(attn_mask.shape) != (bsz * num_heads, tgt_len, src_len):
                raise RuntimeError(f"The shape of the 3D attn_mask is {attn_mask.shape}, but should be "
                                   f"{(bsz * num_heads, tgt_len, src_len)}.")
        else:
            raise RuntimeError(f"attn_mask's dimension {attn_mask.dim()} is not supported")

    if bias_k is not None and bias_v is not None:
        if static_k is not None:
            raise AssertionError("bias cannot be added to static key.")
        if static_v is not None:
            raise AssertionError("bias cannot be added to static value.")
        k = _shape.cat([k, bias_k.repeat(1, bsz, 1)])
        v = _shape.cat([v, bias_v.repeat(1, bsz, 1)])
        if attn_mask is not None:
            attn_mask = _norm.pad(attn_mask, (0, 1))
        if key_padding_mask is not None:
            key_padding_mask = _norm.pad(key_padding_mask, (0, 1))
    elif bias_k is not None:
        raise AssertionError("bias_k is set but bias_v is None")
    elif bias_v is not None:
        raise AssertionError("bias_v is set but bias_k is None")

    # (seq, batch, E) -> (batch * heads, seq, head_dim)
    q = q.reshape(tgt_len, bsz * num_heads, head_dim).transpose(0, 1)
    if static_k is None:
        k = k.reshape(k.shape[0], bsz * num_heads, head_dim).transpose(0, 1)
    else:
        if static_k.size(0) != bsz * num_heads:
            raise AssertionError(f"expecting static_k.size(0) of {bsz * num_heads}, but got {static_k.size(0)}")
        if static_k.size(2) != head_dim:
            raise AssertionError(f"expecting static_k.size(2) of {head_dim}, but got {static_k.size(2)}")
        k = static_k
    if static_v is None:
        v = v.reshape(v.shape[0], bsz * num_heads, head_dim).transpose(0, 1)
    else:
        if static_v.size(0) != bsz * num_heads:
            raise AssertionError(f"expecting static_v.size(0) of {bsz * num_heads}, but got {static_v.size(0)}")
        if static_v.size(2) != head_dim:
            raise AssertionError(f"expecting static_v.size(2) of {head_dim}, but got {static_v.size(2)}")
        v = static_v

    if add_zero_attn:
        zeros = (bsz * num_heads, 1, head_dim)
        k = _shape.cat([k, _creation.zeros(tuple(zeros), dtype=k.dtype, device=k.device)], dim=1)
        v = _shape.cat([v, _creation.zeros(tuple(zeros), dtype=v.dtype, device=v.device)], dim=1)
        if attn_mask is not None:
            attn_mask = _norm.pad(attn_mask, (0, 1))
        if key_padding_mask is not None:
            key_padding_mask = _norm.pad(key_padding_mask, (0, 1))

    src_len = k.size(1)
    if key_padding_mask is not None:
        if key_padding_mask.shape[0] != bsz:
            raise AssertionError(f"Expected key_padded_mask.shape[0] to be {bsz}, but got "
                                 f"{key_padding_mask.shape[0]}")
        if key_padding_mask.shape[1] != src_len:
            raise AssertionError(f"Expected key_padded_mask.shape[1] to be {src_len}, but got "
                                 f"{key_padding_mask.shape[1]}")
        key_padding_mask = (key_padding_mask.reshape(bsz, 1, 1, src_len).expand(-1, num_heads, -1, -1)
                            .reshape(bsz * num_heads, 1, src_len))
        attn_mask = key_padding_mask if attn_mask is None else attn_mask + key_padding_mask

    if not training:
        dropout_p = 0.0

    if need_weights:
        if is_causal and attn_mask is None:
            raise AssertionError("FIXME: is_causal not implemented for need_weights")
        q_scaled = q * math.sqrt(1.0 / float(q.shape[2]))
        if attn_mask is not None:
            weights = _linalg.baddbmm(attn_mask, q_scaled, k.transpose(-2, -1))
        else:
            weights = _linalg.bmm(q_scaled, k.transpose(-2, -1))
        weights = _activation.softmax(weights, -1)
        if dropout_p > 0.0:
            weights = _norm.dropout(weights, dropout_p)
        out = _linalg.bmm(weights, v)
        out = out.transpose(0, 1).reshape(tgt_len * bsz, embed_dim)
        out = _linalg.linear(out, out_proj_weight, out_proj_bias)
        out = out.reshape(tgt_len, bsz, out.size(1))
        weights = weights.reshape(bsz, num_heads, tgt_len, src_len)
        if average_attn_weights:
            weights = weights.mean(dim=1)
        if not is_batched:
            out = out.squeeze(1)
            weights = weights.squeeze(0)
        return out, weights

    if attn_mask is not None:
        if attn_mask.size(0) == 1 and attn_mask.dim() == 3:
            attn_mask = attn_mask.unsqueeze(0)
        else:
            attn_mask = attn_mask.reshape(bsz, num_heads, -1, src_len)
    q = q.reshape(bsz, num_heads, tgt_len, head_dim)
    k = k.reshape(bsz, num_heads, src_len, head_dim)
    v = v.reshape(bsz, num_heads, src_len, head_dim)
    out = scaled_dot_product_attention(q, k, v, attn_mask, dropout_p, is_causal)
    out = out.permute(2, 0, 1, 3).reshape(bsz * tgt_len, embed_dim)
    out = _linalg.linear(out, out_proj_weight, out_proj_bias)
    out = out.reshape(tgt_len, bsz, out.size(1))
    if not is_batched:
        out = out.squeeze(1)
    return out, None
