"""Activation functions: leaky_relu, elu, gelu, silu, softplus, softmax, log_softmax, ...

relu, sigmoid and tanh live in ``elementwise.py``.  Every op here works on the
raw arrays: forward and backward sit side by side, the node carries torch's
name.  In-place variants (``elu_``, ``leaky_relu_``, ...) overwrite the input
and record the ``...Backward1`` node torch records for them.
"""
import math

import numpy as np

from .. import _backend as B
from .. import _memory_format as _mf
from .. import _threads
from ..autograd.grad_mode import check_inplace as _check_inference, state
from ..autograd.graph import Node, edge
from .._tensor import Tensor, _dim, _wrap
from . import barebones as _barebones
from . import in_float32, kernel_for, unbroadcast
from .elementwise import neg as _neg
from . import reduce as _reduce
from .._userwarn import warn as _warn_user

xp_of = B.xp_of

# names torch exposes at top level (torch.softmax, torch.selu, ...)
__all__ = [
    "selu", "selu_", "celu", "celu_", "threshold", "threshold_", "prelu", "softmax", "log_softmax",
    "rrelu", "rrelu_", "hardshrink", "relu_",
]

# names torch.nn.functional exposes from this module
__functional__ = [
    "leaky_relu", "leaky_relu_", "elu", "elu_", "selu", "selu_", "celu", "celu_", "gelu", "silu",
    "mish", "hardtanh", "hardtanh_", "relu6", "hardsigmoid", "hardswish", "softplus", "softsign",
    "tanhshrink", "threshold", "threshold_", "logsigmoid", "prelu", "glu", "softmax", "log_softmax",
    "softmin", "hardshrink", "softshrink", "rrelu", "rrelu_", "relu_",
]

_new = object.__new__
_F32 = np.dtype(np.float32)

# A node that saved only an output (never an input) must still refuse a second
# backward once its buffers are freed: a dummy version entry makes the engine
# release it after the first backward.
_SAVED_OUTPUT = ((_wrap(np.zeros(0)), 0),)


def _float_data(input, name):
    """The input's array, which must be floating point (torch has no integer kernels for these); of a
    bfloat16 input, a float32 copy: the caller computes in float32 and rounds once (_bf16), as torch's
    CPU kernels do, and tells the two apart by identity (x is not input._data), which float32 gets free."""
    d = input._data
    if d.dtype.kind != "f":
        if d.dtype.kind == "V":
            return d.astype(_F32)
        kind = B.scalar_name(d.dtype)
        raise NotImplementedError(
            f"\"{name}_cpu\" not implemented for '{kind}': {name} needs a floating point input, got "
            f"{input.dtype}; convert it first, e.g. x.float()")
    return d


def _bf16(out, node):
    """out, the float32 result of an op on a bfloat16 input, rounded to bfloat16 once; node (if any) then
    runs its backward in float32 and rounds its gradient once, as torch's bfloat16 kernels."""
    if node is not None:
        in_float32(node)
    return B.bf16_round(out)


def _promote_int(input):
    """The input's array, integers converted to the default float (composite ops promote); None for a
    bfloat16 input, which the caller runs through torch's composite on Tensors (each op rounding, as there)."""
    d = input._data
    if d.dtype.kind == "f":
        return d
    return d.astype(B.get_default_dtype().np) if d.dtype.kind != "V" else None


def _node(cls, input, saved_input=True):
    node = _new(cls)
    node.next_functions = (edge(input),)
    node._saved_versions = ((input, input._vc[0]),) if saved_input else _SAVED_OUTPUT
    return node


def _check_inplace(input, name):
    """Refuse what torch refuses before an in-place activation touches the storage."""
    _check_inference(input)
    if not (state.enabled and input._requires_grad):
        return
    if input._base is not None:
        from .shape import check_view_inplace
        check_view_inplace(input)
    if input.grad_fn is None:
        raise RuntimeError(
            f"a leaf Variable that requires grad is being used in an in-place operation ({name}). "
            "Use the out-of-place version, or wrap it in `with torch.no_grad():`.")


from . import save_output_version as _output_saved  # noqa: E402
from . import record as _record  # noqa: E402


def _write_inplace(input, res, node, saves_output=True):
    """Store res into input; a recorded node becomes input's grad_fn and (if saves_output) saves the new value."""
    xp = xp_of(input._data)
    xp.copyto(input._data, res, casting="unsafe")
    input._vc[0] += 1
    if node is not None:
        input.grad_fn = node
        input._requires_grad = True
        if saves_output:
            _output_saved(node, input)
            _rebase_if_view(input, node)
    return input


def _rebase_if_view(input, node):
    """An in-place op recorded on a view: record it in the base's graph too (CopySlices), so gradients
    through the base see it."""
    if input._base is not None:
        from .shape import rebase_inplace_view
        rebase_inplace_view(input, node)


def _inplace_via(op, input, args, name):
    """In-place version of an out-of-place op whose node torch keeps as ...Backward0."""
    _check_inplace(input, name)
    out = op(input, *args)
    node = out.grad_fn
    old = None
    if node is not None:
        # the node kept a reference to the input's buffer, which is about to be overwritten: it gets
        # a copy, held by a tensor standing for the input as it was (create_graph=True traces it)
        for field in node._saved_fields:
            if getattr(node, field) is input._data:
                if old is None:
                    old = _wrap(input._data.copy())
                    old._requires_grad, old.grad_fn = True, input.grad_fn
                    if input.grad_fn._n_outputs != 1:
                        input.grad_fn._output_nrs[id(old)] = input.grad_fn._output_nrs[id(input)]
                setattr(node, field, old._data)
    # the node saved the input as it was, not the result: as with torch's hardswish_ & co, a later in-place
    # op on the result (MobileNetV3's Hardswish(inplace) then Dropout(inplace)) leaves backward valid
    res = _write_inplace(input, out._data, node, saves_output=False)
    if node is not None:
        node._saved_versions = ((old, 0),) if old is not None else ()
        _rebase_if_view(input, node)
    return res


# ---- leaky_relu / rrelu -------------------------------------------------------
class LeakyReluBackward0(Node):
    __slots__ = ("x", "slope")
    _saved_fields = ("x",)
    # its formula also runs on Tensors (create_graph=True: autograd/higher_order.py); x only
    # picks the branch, so the in-place variant's saved result serves as well
    _double_backward = True
    _constant_fields = ("x",)
    _zero_edges = True   # as torch's: the second derivative reaches the input, as zeros

    def apply(self, g):
        xp = xp_of(g)
        return (B.where(xp, self.x > 0, g, g * self.slope),)


class LeakyReluBackward1(LeakyReluBackward0):
    __slots__ = ()  # x holds the result; its sign equals the input's for slope > 0


def _leaky(xp, x, slope):
    """x > 0 ? x : x * slope. For 0 < slope <= 1 that is max(x, x * slope), same values, signed zeros
    and NaNs (slope 0 would turn inf into inf * 0 = nan): one pass instead of where's, which costs
    ~3.5 ns an element on mixed signs."""
    if 0 < slope <= 1:
        return xp.maximum(x, x * slope)
    return B.where(xp, x > 0, x, x * slope)


def leaky_relu(input, negative_slope=0.01, inplace=False):
    """max(0, x) + negative_slope * min(0, x)."""
    xp = xp_of(input._data)
    negative_slope = float(negative_slope)
    if inplace:
        return leaky_relu_(input, negative_slope)
    x = _float_data(input, "leaky_relu")
    out = _leaky(xp, x, negative_slope)
    node = None
    if state.enabled and input._requires_grad:
        node = _node(LeakyReluBackward0, input)
        node.x = input._data
        node.slope = negative_slope
    return _record(out if x is input._data else _bf16(out, node), node)


def leaky_relu_(input, negative_slope=0.01):
    """In-place leaky_relu."""
    xp = xp_of(input._data)
    negative_slope = float(negative_slope)
    _check_inplace(input, "leaky_relu_")
    x = _float_data(input, "leaky_relu")
    grad = state.enabled and input._requires_grad
    if grad and negative_slope < 0:
        raise RuntimeError(
            "In-place leakyReLu backward calculation is triggered with a negative slope which is not "
            "supported. This is caused by calling in-place forward function with a negative slope, "
            "please call out-of-place version instead.")
    out = _leaky(xp, x, negative_slope)
    node = None
    if x is not input._data:   # (bfloat16)
        out = B.bf16_round(out)
    if grad:
        node = _node(LeakyReluBackward1, input)
        node.x = out
        node.slope = negative_slope
        if x is not input._data:
            in_float32(node)
    return _write_inplace(input, out, node)


class RreluWithNoiseBackward0(Node):
    __slots__ = ("noise",)
    _saved_fields = ("noise",)
    # its formula also runs on Tensors (create_graph=True); the noise (the slopes) is constant, and the
    # second derivative reaches the input as zeros, as torch's does
    _double_backward = True
    _constant_fields = ("noise",)
    _zero_edges = "input"

    @property
    def input_shape(self):
        return self.noise.shape

    def apply(self, g):
        return (g * self.noise,)


class RreluWithNoiseBackward1(RreluWithNoiseBackward0):
    __slots__ = ()


def rrelu(input, lower=1.0 / 8, upper=1.0 / 3, training=False, inplace=False):
    """Randomized leaky ReLU: a slope drawn from U(lower, upper) per negative element when training."""
    from ..random import generator_for
    x = _float_data(input, "rrelu")
    xp = xp_of(x)
    if inplace:
        _check_inplace(input, "rrelu_")
    if training:
        # torch draws a slope only for each element <= 0, in row-major order, from U(lower, upper)
        # with the bounds rounded to the input's float type (a half input draws in float)
        xc = xp.ascontiguousarray(x)
        draw = xc <= 0
        acc = np.float64 if x.dtype == np.float64 else np.float32
        lo, hi = float(acc(lower)), float(acc(upper))
        noise = xp.ones(x.shape, x.dtype)
        u = generator_for(B.device_of(x)).random((int(draw.sum()),), np.float64)
        noise[draw] = (u * (hi - lo) + lo).astype(acc).astype(x.dtype)   # (not fused, as torch's)
    else:
        noise = B.where(xp, x > 0, xp.ones((), x.dtype), xp.asarray((lower + upper) / 2, dtype=x.dtype))
    out = x * noise
    bf16 = x is not input._data   # in float32, rounded once: torch keeps the drawn slopes rounded, not the mean
    if bf16:
        out = B.bf16_round(out)
        if training:
            noise = B.bf16_round(noise)
    node = None
    if state.enabled and input._requires_grad:
        node = _node(RreluWithNoiseBackward1 if inplace else RreluWithNoiseBackward0, input, saved_input=False)
        node.noise = noise
        if bf16:
            in_float32(node)
    if inplace:
        return _write_inplace(input, out, node)
    return _record(out, node)


def rrelu_(input, lower=1.0 / 8, upper=1.0 / 3, training=False):
    """In-place rrelu."""
    return rrelu(input, lower, upper, training, inplace=True)


def _saving_x(out, input, cls, x, **fields):
    """Wrap out; when autograd records, link a cls node that saved the input's array x (and fields)."""
    bf16 = x is not input._data and input._data.dtype.kind == "V"   # (x: a float32 copy; see _float_data)
    node = None
    if state.enabled and input._requires_grad:
        node = _node(cls, input)
        node.x = input._data if bf16 else x
        for name, value in fields.items():
            setattr(node, name, value)
    return _record(_bf16(out, node) if bf16 else out, node)


# ---- elu family ---------------------------------------------------------------
_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


class EluBackward0(Node):
    __slots__ = ("x", "alpha", "scale", "input_scale")
    _saved_fields = ("x",)
    # its formula also runs on Tensors (create_graph=True: autograd/higher_order.py)
    _double_backward = True

    def apply(self, g):
        xp = xp_of(g)
        x, a, s, i = self.x, self.alpha, self.scale, self.input_scale
        neg = xp.exp(xp.minimum(x, 0) * i) * (a * s * i)
        return (g * B.where(xp, x > 0, xp.asarray(s, x.dtype), neg),)


class EluBackward1(Node):
    __slots__ = ("y", "alpha", "scale", "input_scale")
    _saved_fields = ("y",)
    # its formula also runs on Tensors (create_graph=True), y as the result torch's saves
    _double_backward = True
    _output_fields = ("y",)

    def apply(self, g):
        # from the result: for x <= 0, y = s*a*(exp(i*x) - 1) so dy/dx = i*(y + s*a)
        xp = xp_of(g)
        y, a, s, i = self.y, self.alpha, self.scale, self.input_scale
        return (g * B.where(xp, y > 0, xp.asarray(s, y.dtype), (y + a * s) * i),)


class CeluBackward0(EluBackward0):
    __slots__ = ()


class CeluBackward1(EluBackward1):
    __slots__ = ()


def _elu_bf16_grad(node, g, b, is_result):
    """torch's elu_backward kernel for bfloat16 (run in float32 by in_float32): its float32 coefficients
    and its order of operations, on the input b or (is_result) the result."""
    xp = xp_of(g)
    f = np.float32
    negcoef, poscoef, negiptcoef = f(node.alpha) * f(node.scale), f(node.scale), f(node.input_scale)
    if is_result:
        neg = g * negiptcoef * (b + negcoef)
    else:
        neg = g * negiptcoef * negcoef * xp.exp(xp.minimum(b, 0) * negiptcoef)
    return (B.where(xp, b > 0, g * poscoef, neg),)


# a bfloat16 input's elu nodes (same names): torch's kernel, see _elu_bf16_grad
_ELU_BF16 = {cls: type(cls.__name__, (cls,), {
    "__slots__": (), "_double_backward": False, "__qualname__": cls.__qualname__,
    "apply": (lambda self, g, _r=cls._saved_fields == ("y",): _elu_bf16_grad(
        self, g, self.y if _r else self.x, _r))}) for cls in (EluBackward0, EluBackward1, CeluBackward0, CeluBackward1)}


def _elu(input, alpha, scale, input_scale, inplace, name, cls0, cls1):
    xp = xp_of(input._data)
    if inplace:
        _check_inplace(input, name + "_")
    x = _float_data(input, name)
    neg = xp.expm1(xp.minimum(x, 0) * input_scale) * alpha
    out = B.where(xp, x > 0, x, neg)
    if scale != 1.0:
        out *= scale
    if x is not input._data:   # bfloat16: rounded once (the in-place node saves the rounded result, as torch's)
        out = B.bf16_round(out)
    node = None
    if state.enabled and input._requires_grad:
        bf16 = x is not input._data
        if inplace:
            node = _node(cls1 if not bf16 else _ELU_BF16[cls1], input)
            node.y = out
        else:
            node = _node(cls0 if not bf16 else _ELU_BF16[cls0], input)
            node.x = input._data
        node.alpha, node.scale, node.input_scale = alpha, scale, input_scale
        if bf16:
            in_float32(node)
    if inplace:
        return _write_inplace(input, out, node)
    return _record(out, node)


def elu(input, alpha=1.0, inplace=False):
    """x if x > 0 else alpha * (exp(x) - 1)."""
    return _elu(input, float(alpha), 1.0, 1.0, inplace, "elu", EluBackward0, EluBackward1)


def elu_(input, alpha=1.0):
    """In-place elu."""
    return elu(input, alpha, inplace=True)


def selu(input, inplace=False):
    """scale * elu(x, alpha) with the self-normalizing constants."""
    return _elu(input, _SELU_ALPHA, _SELU_SCALE, 1.0, inplace, "selu", EluBackward0, EluBackward1)


def selu_(input):
    """In-place selu."""
    return selu(input, inplace=True)


def celu(input, alpha=1.0, inplace=False):
    """max(0, x) + min(0, alpha * (exp(x / alpha) - 1))."""
    alpha = float(alpha)
    if alpha == 0:
        raise RuntimeError("celu: alpha must not be 0 (the input is divided by alpha)")
    return _elu(input, alpha, 1.0, 1.0 / alpha, inplace, "celu", CeluBackward0, CeluBackward1)


def celu_(input, alpha=1.0):
    """In-place celu."""
    return celu(input, alpha, inplace=True)


# ---- gelu ---------------------------------------------------------------------
_ERF_COEFS = []


def _erf_coefs():
    # Chebyshev fits, made once from math.erf / math.erfc: erf(x) = x * P(x^2) on |x| <= 2 and
    # erfc(x) = exp(-x^2) / x * Q(1/x) on 2 < |x| < 6; both are good to ~1e-15.
    from numpy.polynomial import chebyshev as C

    def inner(u):  # t = x^2 in [0, 4] mapped to u in [-1, 1]
        x = np.sqrt((np.asarray(u) + 1) * 2.0)
        return np.array([math.erf(v) / v if v > 0 else 2 / math.sqrt(math.pi) for v in x])

    def outer(u):  # w = 1/x in [1/6, 1/2] mapped to u in [-1, 1]
        x = 1 / (1 / 6 + (np.asarray(u) + 1) / 6)
        return np.array([math.erfc(v) * math.exp(v * v) * v for v in x])
    # Python floats: the evaluation below then runs on any array module
    _ERF_COEFS[:] = [C.chebinterpolate(inner, 18).tolist(), C.chebinterpolate(outer, 14).tolist()]
    return _ERF_COEFS


def _chebval(x, c):
    """Clenshaw's recurrence for sum(c[k] * T_k(x)) on an array x (c: Python floats)."""
    x2 = 2 * x
    c0, c1 = c[-2], c[-1]
    for i in range(3, len(c) + 1):
        c0, c1 = c[-i] - c1, c0 + c1 * x2
    return c0 + c1 * x


# float32's erf from a table of erf's Taylor coefficients at the nodes x = k / 128, |x| <= 4 (its
# float32 value is +-1 beyond 3.92): erf(k/128 + d/128) = T0 + d*(T1 + d*(T2 + d*T3)), |d| <= 1/2, in
# float64, within 0.501 ulp of the true value (torch's within 0.69).  Four gathers from a 32 KB table
# and six passes, against the 30-50 passes of a fit over the whole range: 1.6-1.8x faster
# (2,000 floats: 44 -> 24 us; 32,768: 320 -> 207).
_ERF_STEPS = 128
_ERF_XMAX = 4.0
_ERF_NODES = int(_ERF_XMAX * _ERF_STEPS)
_ERF_TABLE = []   # [T0, T1, T2, T3], float64 arrays over the nodes -4 .. 4


def _erf32_table():
    h = _ERF_STEPS
    rows = []
    for k in range(-_ERF_NODES, _ERF_NODES + 1):
        x = k / h
        e = 2 / math.sqrt(math.pi) * math.exp(-x * x)   # the derivatives: e, -2x e, (4x^2 - 2) e
        rows.append((math.erf(x), e / h, -x * e / h ** 2, (4 * x * x - 2) * e / (6 * h ** 3)))
    table = np.array(rows)
    table[_ERF_NODES, 0] = -0.0   # erf(-0.0) = -0.0 through the last add (d * T1 is +-0 there)
    _ERF_TABLE[:] = [np.ascontiguousarray(table[:, j]) for j in range(4)]
    return _ERF_TABLE


def _erf32(x):
    """erf of a float32/float16 NumPy array from the Taylor table (_erf32_table).  A large C-contiguous
    array goes in blocks that keep the float64 passes in cache, shared between threads from
    _ERF_PAR_MIN elements on."""
    if x.size <= 2 * _ERF_BLOCK or not x.flags.c_contiguous:
        return _erf32_block(x)
    flat = x.reshape(-1)
    out = np.empty_like(flat)

    def block(piece):
        out[piece] = _erf32_block(flat[piece])
    _in_flat_blocks(block, flat.size, _ERF_BLOCK)
    return out.reshape(x.shape)


def _in_flat_blocks(fn, size, step):
    """fn(slice) over consecutive blocks of `step` elements of range(size); from _ERF_PAR_MIN elements
    on, blocks of _ERF_SHARED_BLOCK shared between threads."""
    _threads.flat_blocks(fn, size, step, _ERF_PAR_MIN, _ERF_SHARED_BLOCK)


_ERF_BLOCK = 32768
# Two threads take half the blocks each, larger ones so that their ~15 NumPy calls a block hand the
# GIL over less often: GELU's erf over (16, 128, 1024) 13.4 -> 9.5 ms (blocks of 32K: 12.2), the
# same bits.  Below _ERF_PAR_MIN elements (~3 ms of work) the wake-ups would cost more than they gain
_ERF_SHARED_BLOCK = 1 << 16
_ERF_PAR_MIN = 1 << 19


def _erf32_block(x):
    if not x.ndim:   # (NumPy's ufuncs give scalars for 0-d arrays, and the passes below write in place)
        return _erf32_block(x.reshape(1)).reshape(())
    f32 = np.float32
    t = np.clip(x, f32(-_ERF_XMAX), f32(_ERF_XMAX))   # (inf to +-4; NaN stays)
    return _taylor(t, _ERF_TABLE or _erf32_table(), _ERF_NODES).astype(x.dtype)


def _taylor(t, table, first):
    """sum(T_j[k] * d**j) in float64 for float32 t (in units of x, clipped to the table's range): k is
    the nearest node (table index first for x = 0), d = t * 128 - its node, exact (both float32
    and within a factor 2, or the node 0).  A NaN gives NaN."""
    t0, t1, t2, t3 = table
    f32 = np.float32
    t = t * f32(_ERF_STEPS)
    node = np.rint(t)
    node += f32(first)
    # subtracting the node as +0.0 keeps -0.0's sign, which t - rint(t) would lose
    d = np.subtract(t, node - f32(first), out=t).astype(np.float64)
    np.fmax(node, 0, out=node)   # NaN: any node (d is NaN)
    k = node.astype(np.intp)
    r = t3.take(k)
    r *= d
    r += t2.take(k)
    r *= d
    r += t1.take(k)
    r *= d
    r += t0.take(k)
    return r


# float32's erfc(x) = erfcx(x) * exp(-x^2) for x >= 0 (2 - erfc(-x) below), erfcx from a table of its
# Taylor coefficients at k / 128 as erf's: erfcx is smooth where erfc falls through float32's range
# (to 0 past 10.06), so the relative error stays ~1e-9 (2,000 floats: 310 -> ~30 us; torch 2)
_ERFC_XMAX = 10.125   # (a node: 1296 / 128)
_ERFC_TABLE = []


def _erfc32_table():
    h = _ERF_STEPS
    c = 2 / math.sqrt(math.pi)
    rows = []
    for k in range(int(_ERFC_XMAX * h) + 1):
        x = k / h
        f = math.erfc(x) * math.exp(x * x)
        d1 = 2 * x * f - c   # erfcx' = 2x erfcx - 2/sqrt(pi), and so on
        d2 = (2 + 4 * x * x) * f - 2 * c * x
        d3 = (12 * x + 8 * x ** 3) * f - c * (4 + 4 * x * x)
        rows.append((f, d1 / h, d2 / (2 * h * h), d3 / (6 * h ** 3)))
    table = np.array(rows)
    _ERFC_TABLE[:] = [np.ascontiguousarray(table[:, j]) for j in range(4)]
    return _ERFC_TABLE


def _erfc32(x):
    """erfc of a float32/float16 NumPy array: within ~0.5 ulp (0.5 + 1e-7 or so)."""
    if not x.ndim:
        return _erfc32(x.reshape(1)).reshape(())
    a = np.abs(x)
    np.minimum(a, np.float32(_ERFC_XMAX), out=a)   # (NaN stays)
    a64 = a.astype(np.float64)
    r = _taylor(a, _ERFC_TABLE or _erfc32_table(), 0)
    np.multiply(a64, a64, out=a64)
    np.negative(a64, out=a64)
    r *= np.exp(a64, out=a64)
    # 2 - r where x < 0 (-0.0 too: erfc(-0.0) = 1), exactly: s * 2 + r * (1 - 2s) with s 0 or 1
    s = np.signbit(x).astype(np.float64)
    r *= 1 - 2 * s
    s *= 2
    r += s
    return r.astype(x.dtype)


def _erf(x):
    """erf on an array of any array module, accurate to about 1e-15 (NumPy has no erf)."""
    if type(x) is np.ndarray and x.dtype.kind == "f" and x.dtype.itemsize <= 4:
        return _erf32(x)
    xp = xp_of(x)
    if xp is not np and hasattr(xp, "erf"):   # create_graph=True: Tensors, through ember's erf (recorded)
        return xp.erf(x)
    ci, co = _ERF_COEFS or _erf_coefs()
    a = xp.abs(x).astype(np.float64)
    small = xp.minimum(a, 2.0)
    res = small * _chebval(small * small / 2 - 1, ci)
    big = a > 2
    if big.any():  # erfc's expansion where |x| > 2 (the rest of the array is clipped, then dropped)
        ab = xp.clip(a, 2.0, 6.0)
        erfc = _chebval((1 / ab - 1 / 6) * 6 - 1, co) * xp.exp(-ab * ab) / ab
        res = B.where(xp, big, 1 - erfc, res)
    return xp.copysign(res, x).astype(x.dtype, copy=False)


_SQRT1_2 = 1 / math.sqrt(2)
_INV_SQRT_2PI = 1 / math.sqrt(2 * math.pi)
_GELU_BETA = math.sqrt(2 / math.pi)
_GELU_KAPPA = 0.044715


class GeluBackward0(Node):
    __slots__ = ("x", "approximate", "cdf")
    _saved_fields = ("x",)
    _double_backward = True   # its formula also runs on Tensors (create_graph=True)

    def _release(self):
        Node._release(self)
        self.cdf = None

    def apply(self, g):
        xp = xp_of(g)
        x = self.x
        cdf = self.cdf
        if cdf is not None and getattr(type(x), "_array_namespace", None) is None:
            # forward's Phi(x), kept: erf is most of GELU's cost (torch recomputes it from x). Under
            # create_graph x stands for a traced Tensor and the formula below recomputes Phi from it
            if type(g) is np.ndarray and g.size > 2 * _ERF_BLOCK and g.dtype == x.dtype and g.shape == x.shape \
                    and g.flags.c_contiguous and x.flags.c_contiguous and cdf.flags.c_contiguous:
                return (_gelu_grad_blocks(g, x, cdf),)
            return (g * (cdf + x * (xp.exp(x * x * -0.5) * _INV_SQRT_2PI)),)
        if self.approximate == "tanh":
            x_sq = x * x
            inner = (x + x_sq * x * _GELU_KAPPA) * _GELU_BETA
            t = xp.tanh(inner)
            left_d = 0.5 * (1 + t)
            right_d = 0.5 * x * (1 - t * t) * (_GELU_BETA * (1 + 3 * _GELU_KAPPA * x_sq))
            return (g * (left_d + right_d),)
        cdf = 0.5 * (1 + _erf(x * _SQRT1_2))
        pdf = xp.exp(x * x * -0.5) * _INV_SQRT_2PI
        return (g * (cdf + x * pdf),)


def _gelu_grad_blocks(g, x, cdf):
    """GeluBackward0's g * (cdf + x * pdf(x)) over large NumPy arrays in cache-sized blocks, shared
    between threads as erf's (the same operations in the same order: the same bits).  (16, 128, 1024):
    4.6 -> 2.8 ms on one thread, 2.0-2.3 on two; torch 2.7 on one."""
    gf, xf, cf = g.reshape(-1), x.reshape(-1), cdf.reshape(-1)
    out = np.empty_like(gf)

    def block(piece):
        xb = xf[piece]
        t = xb * xb
        t *= -0.5
        np.exp(t, out=t)
        t *= _INV_SQRT_2PI
        np.multiply(xb, t, out=t)
        np.add(cf[piece], t, out=t)
        np.multiply(gf[piece], t, out=out[piece])
    _in_flat_blocks(block, gf.size, _ERF_SHARED_BLOCK)
    return out.reshape(g.shape)


def gelu(input, approximate="none"):
    """x * Phi(x) (exact, via erf) or its tanh approximation (approximate='tanh')."""
    xp = xp_of(input._data)
    if approximate not in ("none", "tanh"):
        raise RuntimeError(f"approximate argument must be either none or tanh. (gelu got {approximate!r})")
    x = _float_data(input, "gelu")
    cdf = None
    if approximate == "tanh":
        out = 0.5 * x * (1 + xp.tanh((x + x * x * x * _GELU_KAPPA) * _GELU_BETA))
    else:
        cdf = _erf(x * _SQRT1_2)
        cdf += 1
        cdf *= 0.5   # (exact: x * cdf is torch's x * 0.5 * (1 + erf(x / sqrt(2))) bit for bit)
        out = x * cdf
        if not (state.enabled and input._requires_grad):
            cdf = None
    return _saving_x(out, input, GeluBackward0, x, approximate=approximate, cdf=cdf)


# ---- sigmoid-based: silu, mish, softplus, logsigmoid ------------------------------
def _sigm(x):
    """sigmoid(x) = 1 / (1 + exp(-x)), torch's formula: exact in floating point at both ends (exp
    overflows to inf, and 1 / inf is 0), and 5-10x faster than NumPy's logaddexp, which runs a
    scalar loop (~13 ns an element against ~1 for the four passes here)."""
    if type(x) is np.ndarray and x.ndim:   # (of a 0-d array, np.negative gives a scalar, which takes no out=)
        t = np.negative(x)
        np.exp(t, out=t)
        t += 1
        return np.reciprocal(t, out=t)
    xp = xp_of(x)   # another array module, or Tensors under create_graph=True
    return 1 / (1 + xp.exp(-x))


def softplus0(x):
    """log(1 + exp(x)) = max(x, 0) + log1p(exp(-|x|)), stable both ways: ~10x faster than NumPy's
    logaddexp(0, x), a scalar loop (any array module, and Tensors under create_graph=True)."""
    xp = xp_of(x)
    return xp.maximum(x, 0) + xp.log1p(xp.exp(-xp.abs(x)))


class SiluBackward0(Node):
    __slots__ = ("x",)
    _saved_fields = ("x",)
    # its formula also runs on Tensors (create_graph=True: autograd/higher_order.py)
    _double_backward = True

    def apply(self, g):
        x = self.x
        s = _sigm(x)
        return (g * (s * (1 + x * (1 - s))),)


def silu(input, inplace=False):
    """x * sigmoid(x)."""
    if inplace:
        return _inplace_via(silu, input, (), "silu_")
    x = _float_data(input, "silu")
    xp = xp_of(x)
    out = x / (1 + xp.exp(-x))   # torch's formula: x / (1 + exp(-x))
    return _saving_x(out, input, SiluBackward0, x)


class MishBackward0(Node):
    __slots__ = ("x",)
    _saved_fields = ("x",)
    _double_backward = True   # its formula also runs on Tensors (create_graph=True)

    def apply(self, g):
        xp = xp_of(g)
        x = self.x
        t = xp.tanh(xp.log1p(xp.exp(x)))
        return (g * (t + x * _sigm(x) * (1 - t * t)),)


def mish(input, inplace=False):
    """x * tanh(softplus(x))."""
    xp = xp_of(input._data)
    if inplace:
        return _inplace_via(mish, input, (), "mish_")
    x = _float_data(input, "mish")
    out = x * xp.tanh(xp.log1p(xp.exp(x)))   # torch's formula (exp's overflow gives tanh(inf) = 1)
    return _saving_x(out, input, MishBackward0, x)


class SoftplusBackward0(Node):
    __slots__ = ("x", "beta", "threshold")
    _saved_fields = ("x",)
    # its formula also runs on Tensors (create_graph=True: autograd/higher_order.py)
    _double_backward = True

    def apply(self, g):
        xp = xp_of(g)
        bx = self.x * self.beta
        return (B.where(xp, bx > self.threshold, g, g * _sigm(bx)),)


class _SoftplusBf16Backward(SoftplusBackward0):
    # a bfloat16 input's (run in float32 by in_float32): torch's kernel, g * z / (z + 1) with z = exp(beta * x),
    # which keeps the subnormal gradients that 1 / (1 + exp(-beta * x)) flushes to zero
    __slots__ = ()
    _double_backward = False

    def apply(self, g):
        xp = xp_of(g)
        bx = self.x * self.beta
        quiet = B.fp_set(B.FP_QUIET)   # (exp overflows only where bx > threshold picks g)
        try:
            z = xp.exp(bx)
            return (B.where(xp, bx > self.threshold, g, g * z / (z + 1)),)
        finally:
            B.fp_reset(quiet)


_SoftplusBf16Backward.__name__ = _SoftplusBf16Backward.__qualname__ = "SoftplusBackward0"


def softplus(input, beta=1.0, threshold=20.0):
    """log(1 + exp(beta * x)) / beta, linear where beta * x > threshold."""
    xp = xp_of(input._data)
    beta, threshold = float(beta), float(threshold)
    x = _float_data(input, "softplus")
    bx = x * beta
    # torch's formula; exp overflows to inf only where bx > threshold picks x instead
    out = B.where(xp, bx > threshold, x, xp.log1p(xp.exp(bx)) / beta)
    cls = SoftplusBackward0 if x is input._data else _SoftplusBf16Backward
    return _saving_x(out, input, cls, x, beta=beta, threshold=threshold)


class LogSigmoidBackward0(Node):
    __slots__ = ("x",)
    _saved_fields = ("x",)
    _double_backward = True   # its formula also runs on Tensors (create_graph=True)

    def apply(self, g):
        return (g * _sigm(-self.x),)


class _LogSigmoidBf16Backward(LogSigmoidBackward0):
    # a bfloat16 input's: torch's kernel saves its buffer exp(-|x|) rounded to bfloat16, and backward
    # takes b / (1 + b) of it (in float32, as in_float32 runs it)
    __slots__ = ("buffer",)
    _saved_fields = ("x", "buffer")
    _double_backward = False

    def apply(self, g):
        xp = xp_of(g)
        b = self.buffer
        t = b / (1 + b)
        return (g * B.where(xp, self.x < 0, 1 - t, t),)


_LogSigmoidBf16Backward.__name__ = _LogSigmoidBf16Backward.__qualname__ = "LogSigmoidBackward0"


def logsigmoid(input):
    """log(sigmoid(x)), computed stably."""
    xp = xp_of(input._data)
    x = _float_data(input, "log_sigmoid")
    if x is not input._data:   # bfloat16
        buffer = xp.exp(-xp.abs(x))
        out = xp.minimum(x, 0) - xp.log1p(buffer)
        return _saving_x(out, input, _LogSigmoidBf16Backward, x, buffer=B.bf16_round(buffer))
    out = xp.minimum(x, 0) - xp.log1p(xp.exp(-xp.abs(x)))   # torch's formula, stable both ways
    return _saving_x(out, input, LogSigmoidBackward0, x)


# ---- piecewise-linear: hardtanh, relu6, hardsigmoid, hardswish, threshold, shrinks ---
class HardtanhBackward0(Node):
    __slots__ = ("x", "lo", "hi")
    _saved_fields = ("x",)
    # its formula also runs on Tensors (create_graph=True); x (the in-place variant's result) only
    # picks the elements, and the second derivative reaches the input as zeros, as torch's does
    _double_backward = True
    _constant_fields = ("x",)
    _zero_edges = True

    def apply(self, g):
        xp = xp_of(g)
        x = self.x
        return (B.where(xp, (x > self.lo) & (x < self.hi), g, xp.zeros((), g.dtype)),)


def hardtanh(input, min_val=-1.0, max_val=1.0, inplace=False):
    """Clamp to [min_val, max_val]."""
    xp = xp_of(input._data)
    if min_val > max_val:
        raise ValueError(f"hardtanh: min_val ({min_val}) cannot be greater than max_val ({max_val})")
    if inplace:
        _check_inplace(input, "hardtanh_")
    x = input._data
    if x.dtype.kind == "b":
        raise RuntimeError("Bool inputs not supported for hardtanh")
    if x.dtype.kind == "u" and (min_val < 0 or max_val < 0):
        raise RuntimeError("cannot do hardtanh on an unsigned type with negative limits")
    out = xp.clip(x, min_val, max_val)
    if out.dtype != x.dtype:
        out = out.astype(x.dtype)
    node = None
    if state.enabled and input._requires_grad:
        # the clipped result gives the same mask, so in-place saves the result
        node = _node(HardtanhBackward0, input)
        node.x = out if inplace else x
        node.lo, node.hi = min_val, max_val
        if x.dtype.kind == "V":   # bfloat16: torch's backward compares in float32, not with the bounds rounded
            node.lo, node.hi = np.float32(min_val), np.float32(max_val)
    if inplace:
        return _write_inplace(input, out, node)
    return _record(out, node)


def hardtanh_(input, min_val=-1.0, max_val=1.0):
    """In-place hardtanh."""
    return hardtanh(input, min_val, max_val, inplace=True)


def relu6(input, inplace=False):
    """min(max(0, x), 6)."""
    return hardtanh(input, 0.0, 6.0, inplace)


class HardsigmoidBackward0(Node):
    __slots__ = ("x",)
    _saved_fields = ("x",)

    def apply(self, g):
        xp = xp_of(g)
        x = self.x
        # torch's kernel multiplies by 1.0f / 6.0f, a float32 constant, in every dtype
        return (B.where(xp, (x > -3) & (x < 3), g * g.dtype.type(_ONE_SIXTH_F32), xp.zeros((), g.dtype)),)


_ONE_SIXTH_F32 = float(np.float32(1) / np.float32(6))


def hardsigmoid(input, inplace=False):
    """relu6(x + 3) / 6."""
    xp = xp_of(input._data)
    if inplace:
        return _inplace_via(hardsigmoid, input, (), "hardsigmoid_")
    x = _float_data(input, "hardsigmoid")
    out = xp.clip(x + 3, 0, 6) / 6
    return _saving_x(out, input, HardsigmoidBackward0, x)


class HardswishBackward0(Node):
    __slots__ = ("x",)
    _saved_fields = ("x",)
    _double_backward = True   # its formula also runs on Tensors (create_graph=True)

    def apply(self, g):
        xp = xp_of(g)
        x = self.x
        # (torch's kernel: 0 at x = -3 itself, and the plain gradient from x = 3 on)
        return (B.where(xp, x <= -3, xp.zeros((), g.dtype), B.where(xp, x < 3, g * (x / 3 + 0.5), g)),)


def hardswish(input, inplace=False):
    """x * relu6(x + 3) / 6."""
    xp = xp_of(input._data)
    if inplace:
        return _inplace_via(hardswish, input, (), "hardswish_")
    x = _float_data(input, "hardswish")
    out = x * xp.clip(x + 3, 0, 6) / 6
    return _saving_x(out, input, HardswishBackward0, x)


class ThresholdBackward0(Node):
    __slots__ = ("x", "threshold")
    _saved_fields = ("x",)
    # its formula also runs on Tensors (create_graph=True); x (a copy, in place) only picks the
    # elements, and the second derivative reaches the input as zeros, as torch's does
    _double_backward = True
    _constant_fields = ("x",)
    _zero_edges = True

    def apply(self, g):
        xp = xp_of(g)
        # (torch's mask is x <= threshold: a NaN input passes its gradient)
        return (B.where(xp, self.x <= self.threshold, xp.zeros((), g.dtype), g),)


class ThresholdBackward1(ThresholdBackward0):
    __slots__ = ()


def threshold(input, threshold, value, inplace=False):
    """x if x > threshold else value."""
    xp = xp_of(input._data)
    if inplace:
        _check_inplace(input, "threshold_")
    x = input._data
    kernel_for(x.dtype, "threshold_cpu", "fciu")
    if x.dtype.kind == "V":   # bfloat16: torch compares in float32, not with the threshold rounded
        threshold = np.float32(threshold)
    out = B.where(xp, x <= threshold, xp.asarray(value).astype(x.dtype), x)   # (NaN stays NaN, as torch)
    node = None
    if state.enabled and input._requires_grad:
        node = _node(ThresholdBackward1 if inplace else ThresholdBackward0, input)
        # torch's in-place node masks on the result; the input's mask is the same unless
        # value > threshold, so keep the input's values
        node.x = x.copy() if inplace else x
        node.threshold = threshold
    if inplace:
        return _write_inplace(input, out, node)
    return _record(out, node)


def threshold_(input, threshold, value):
    """In-place threshold."""
    return globals()["threshold"](input, threshold, value, inplace=True)


class HardshrinkBackward0(Node):
    __slots__ = ("x", "lambd")
    _saved_fields = ("x",)
    # its formula also runs on Tensors (create_graph=True); x only picks the elements, and the second
    # derivative reaches the input as zeros, as torch's does
    _double_backward = True
    _constant_fields = ("x",)
    _zero_edges = True

    def apply(self, g):
        xp = xp_of(g)
        x = self.x
        return (B.where(xp, (x >= -self.lambd) & (x <= self.lambd), xp.zeros((), g.dtype), g),)


class SoftshrinkBackward0(HardshrinkBackward0):
    __slots__ = ()


def hardshrink(input, lambd=0.5):
    """x where |x| > lambd, else 0."""
    xp = xp_of(input._data)
    x = _float_data(input, "hardshrink")
    if x is not input._data:   # bfloat16: torch's kernels compare with lambd rounded to bfloat16
        lambd = B.bf16_number(lambd)
    out = B.where(xp, (x >= -lambd) & (x <= lambd), xp.zeros((), x.dtype), x)
    return _saving_x(out, input, HardshrinkBackward0, x, lambd=lambd)


def softshrink(input, lambd=0.5):
    """x - lambd if x > lambd, x + lambd if x < -lambd, else 0."""
    xp = xp_of(input._data)
    if lambd < 0:
        raise RuntimeError(f"lambda must be greater or equal to 0, but found to be {lambd}.")
    x = _float_data(input, "softshrink")
    # (torch's middle branch is x * 0: NaN stays NaN, -0.0 stays -0.0)
    out = B.where(xp, x > lambd, x - lambd, B.where(xp, x < -lambd, x + lambd, x * 0))
    # (bfloat16: the forward compares in float32, the backward with lambd rounded to bfloat16, as torch's)
    return _saving_x(out, input, SoftshrinkBackward0, x, lambd=lambd if x is input._data else B.bf16_number(lambd))


# ---- composites torch records under a simpler node: softsign, tanhshrink ----------
class DivBackward0(Node):
    # softsign = x / (1 + |x|): torch records a DivBackward0 at the top
    __slots__ = ("x",)
    _saved_fields = ("x",)
    _double_backward = True   # its formula also runs on Tensors (create_graph=True)

    def apply(self, g):
        xp = xp_of(g)
        d = 1 + xp.abs(self.x)
        return (g / (d * d),)


def softsign(input):
    """x / (1 + |x|)."""
    xp = xp_of(input._data)
    kernel_for(input._data.dtype, "abs_cpu", "fciu")   # (torch's composite takes abs first)
    x = _promote_int(input)
    if x is None:   # bfloat16
        return input / (input.abs() + 1)
    out = x / (1 + xp.abs(x))
    return _saving_x(out, input, DivBackward0, x)


class SubBackward0(Node):
    # tanhshrink = x - tanh(x): torch records a SubBackward0 at the top
    __slots__ = ("t",)
    _saved_fields = ("t",)
    _double_backward = True   # its formula also runs on Tensors (create_graph=True)

    def apply(self, g):
        t = self.t
        return (g * (t * t),)

    def _tensor_field(self, field, saved):
        # t = tanh(input) as torch's TanhBackward0 saves it: its output, whose node leads to the input
        from .elementwise import TanhBackward0
        node = _new(TanhBackward0)
        node.next_functions, node.x, node.y = self.next_functions, None, self.t
        t = _record(self.t, node)
        _output_saved(node, t)
        return t


def tanhshrink(input):
    """x - tanh(x)."""
    xp = xp_of(input._data)
    if input._data.dtype.kind == "b":   # (torch's composite subtracts the input)
        raise RuntimeError("Subtraction, the `-` operator, with a bool tensor is not supported. If you are trying to "
                           "invert a mask, use the `~` or `logical_not()` operator instead.")
    x = _promote_int(input)
    if x is None:   # bfloat16
        return input - input.tanh()
    t = xp.tanh(x)
    out = x - t
    node = None
    if state.enabled and input._requires_grad:
        node = _node(SubBackward0, input, saved_input=False)
        node.t = t
    return _record(out, node)


# ---- prelu, glu ------------------------------------------------------------------
class PreluKernelBackward0(Node):
    __slots__ = ("x", "w", "w_shape")
    _saved_fields = ("x", "w")
    # its formula also runs on Tensors (create_graph=True); as torch's, the second derivative reaches
    # the input even where it is zero
    _double_backward = True
    _zero_edges = True
    _bf16 = False

    def _tensor_field(self, field, saved):
        # the weight reshaped to broadcast against the input (there a copy when it was not contiguous)
        w = saved[1]
        return w.reshape(self.w.shape) if field == "w" and w._data.dtype == self.w.dtype else None

    def apply(self, g):
        xp = xp_of(g)
        x, w = self.x, self.w
        pos = x > 0
        gx = gw = None
        if self.next_functions[0][0] is not None:
            gx = B.where(xp, pos, g, g * w)
        if self.next_functions[1][0] is not None:
            gw = B.where(xp, pos, xp.zeros((), g.dtype), g * x)
            if self._bf16:
                gw = B.bf16_through(gw)
            gw = unbroadcast(gw, w.shape).reshape(self.w_shape)
        return gx, gw


class _PreluBf16Backward(PreluKernelBackward0):
    # a bfloat16 input's (run in float32 by in_float32): torch's kernel rounds the weight's gradient element
    # by element to bfloat16, and autograd sums those to the weight's shape
    __slots__ = ()
    _double_backward = False
    _bf16 = True


_PreluBf16Backward.__name__ = _PreluBf16Backward.__qualname__ = "PreluKernelBackward0"


def prelu(input, weight):
    """max(0, x) + weight * min(0, x), weight per channel (dim 1) or shared."""
    xp = xp_of(input._data)
    x, w = input._data, weight._data
    if type(w) is not type(x):
        B.check_same_device("prelu", x, w)
    # torch's checks, in its order: one dtype; the channels (dim 1; a 1-D input has one); the weight's dims
    if x.dtype != w.dtype:
        raise RuntimeError(f"prelu: Type promoting not supported. Got {B.scalar_name(x.dtype)} and "
                           f"{B.scalar_name(w.dtype)} (convert the weight with weight.to(input.dtype))")
    n = w.size
    if n != 1:
        if x.ndim == 0:
            raise RuntimeError(f"Not allow zero-dim input tensor. (prelu: a weight of {n} elements needs an input "
                               "with a channel dim)")
        channels = x.shape[1] if x.ndim >= 2 else 1
        if channels != n:
            where = (f"dim 1 of input {list(x.shape)}" if x.ndim >= 2 else
                     f"a 1-D input {list(x.shape)} is one channel: give it a batch dim, e.g. input[None]")
            raise RuntimeError(
                f"Mismatch of parameter numbers and input channel size. Found parameter numbers = {n} "
                f"and channel size = {channels}. (prelu: weight needs 1 element or one per channel, {where})")
    if w.ndim > 1:
        raise RuntimeError(f"prelu: Expected `weight` to be a scalar or 1D tensor, but got: ndim = {w.ndim}")
    x = _float_data(input, "prelu")
    wb = w.reshape((n,) + (1,) * (x.ndim - 2)) if n != 1 else w.reshape(())
    out = B.where(xp, x > 0, x, x * wb)
    node = None
    if state.enabled and (input._requires_grad or weight._requires_grad):
        node = _new(PreluKernelBackward0 if x is input._data else _PreluBf16Backward)
        node.next_functions = (edge(input), edge(weight))
        node._saved_versions = ((input, input._vc[0]), (weight, weight._vc[0]))
        node.x, node.w, node.w_shape = input._data, wb, w.shape
    return _record(out if x is input._data else _bf16(out, node), node)


class GluBackward0(Node):
    __slots__ = ("a", "s", "dim")
    _saved_fields = ("a", "s")
    _double_backward = True   # its formula also runs on Tensors (create_graph=True)

    def _tensor_field(self, field, saved):
        # the first half of the input and the sigmoid of the second, recomputed from the input
        x, = saved
        a, b = x.chunk(2, self.dim)
        return a if field == "a" else b.sigmoid()

    def apply(self, g):
        xp = xp_of(g)
        a, s = self.a, self.s
        gs = g * s
        return (xp.concatenate([gs, gs * a * (1 - s)], axis=self.dim),)


class _GluBf16Backward(GluBackward0):
    # a bfloat16 input's (run in float32 by in_float32): torch's glu_backward keeps sigmoid(b) rounded to
    # bfloat16 and computes (1 - s) * s * a * g from it, in float32
    __slots__ = ()
    _double_backward = False

    def apply(self, g):
        xp = xp_of(g)
        a, s = self.a, self.s
        return (xp.concatenate([g * s, (1 - s) * s * a * g], axis=self.dim),)


_GluBf16Backward.__name__ = _GluBf16Backward.__qualname__ = "GluBackward0"


def glu(input, dim=-1):
    """a * sigmoid(b), where a and b are the halves of input along dim."""
    xp = xp_of(input._data)
    x = _float_data(input, "glu")
    if x.ndim == 0:
        raise RuntimeError("glu does not support scalars because halving size must be even")
    d = _dim(dim, x.ndim)
    size = x.shape[d]
    if size % 2:
        raise RuntimeError(f"Halving dimension must be even, but dimension {d} is size {size} "
                           f"(glu splits input {list(x.shape)} into two halves along dim {dim})")
    a, b = xp.split(x, 2, axis=d)
    s = _sigm(b)
    out = a * s
    node = None
    if state.enabled and input._requires_grad:
        if x is input._data:
            node = _node(GluBackward0, input)
        else:   # bfloat16
            node = _node(_GluBf16Backward, input)
            s = B.bf16_round(s)
        node.a, node.s, node.dim = a, s, d
    return _record(out if x is input._data else _bf16(out, node), node)


# ---- softmax family ------------------------------------------------------------
def _softmax_dim(name, ndim, stacklevel):
    # torch's _stacklevel is kept in the signatures; the warning finds the user's line itself
    _warn_user(f"Implicit dimension choice for {name} has been deprecated. "
               "Change the call to include dim=X as an argument.")
    return 0 if ndim in (0, 1, 3) else 1


def _prep(input, dim, dtype, name, stacklevel):
    """The input (cast to dtype, recording the cast) and the wrapped dim."""
    if dtype is not None:
        input = input.to(dtype)
    elif input._data.dtype.kind not in "fV":   # (bfloat16: _softmax_family computes it in float32)
        _float_data(input, name)
    nd = input._data.ndim
    if dim is None:
        dim = _softmax_dim(name, nd, stacklevel + 1)
    return input, _dim(dim, nd)


def _row_state(a, dim):
    """FP_QUIET, with a short ufunc buffer (B.rows_state) where dim is a's last and its rows are long:
    softmax's (rows, D) - (rows, 1) broadcasts then loop over the rows unbuffered ((64, 1000): 94 ->
    76 us)."""
    n = a.shape[-1] if a.ndim > 1 and dim == a.ndim - 1 else 0
    return B.rows_state(n) if n >= B.ROWS_MIN else B.FP_QUIET


class SoftmaxBackward0(Node):
    __slots__ = ("y", "dim")
    _saved_fields = ("y",)
    # its formula also runs on Tensors (create_graph=True: autograd/higher_order.py); y is the
    # output (cross_entropy saves its log-softmax without a version entry)
    _double_backward = True
    _output_fields = ("y",)

    def apply(self, g):
        y = self.y
        if _row_blocks_fit(g, self.dim) and _row_blocks_fit(y, self.dim):
            return (_in_row_blocks(_softmax_grad_rows, g, y),)
        rows = _row_state(g, self.dim)
        token = None if rows is B.FP_QUIET else B.fp_set(rows)   # (the engine runs under FP_QUIET)
        try:
            return (_softmax_grad_rows(g, y, self.dim),)
        finally:
            if token is not None:
                B.fp_reset(token)


class LogSoftmaxBackward0(Node):
    __slots__ = ("y", "dim")
    _saved_fields = ("y",)
    # its formula also runs on Tensors (create_graph=True: autograd/higher_order.py)
    _double_backward = True
    _output_fields = ("y",)

    def apply(self, g):
        y = self.y
        if _row_blocks_fit(g, self.dim) and _row_blocks_fit(y, self.dim):
            return (_in_row_blocks(_log_softmax_grad_rows, g, y),)
        rows = _row_state(g, self.dim)
        token = None if rows is B.FP_QUIET else B.fp_set(rows)   # (the engine runs under FP_QUIET)
        try:
            return (_log_softmax_grad_rows(g, y, self.dim),)
        finally:
            if token is not None:
                B.fp_reset(token)


def _softmax_grad_rows(g, y, dim=-1):
    gy = g * y
    return gy - y * gy.sum(axis=dim, keepdims=True)


def _log_softmax_grad_rows(g, y, dim=-1):
    return g - xp_of(g).exp(y) * g.sum(axis=dim, keepdims=True)


# Softmax and log-softmax over the last dim of large NumPy arrays run in blocks of whole rows, whose
# five or so passes then stay in cache, on threads for the largest (_threads.row_blocks: the same
# bits).  (2048, 2000): forward 6.1 -> 4.8 ms, backward 8.2 -> 4.5 on one thread, 3.3 on two;
# (16384, 128) 4.7 -> 3.1 and 3.6 -> 2.1 on two
def _row_blocks_fit(a, dim):
    return type(a) is np.ndarray and a.ndim > 1 and dim in (-1, a.ndim - 1) \
        and a.size >= 2 * _threads.ROW_BLOCK and a.flags.c_contiguous and a.dtype.kind == "f"


def _in_row_blocks(fn, *arrays):
    """fn(*blocks) over blocks of whole rows (last dim) of same-shape C-contiguous arrays, into a new
    array, under the rows' ufunc state (B.rows_state)."""
    a = arrays[0]
    D = a.shape[-1]
    flat = [v.reshape(-1, D) for v in arrays]
    out = np.empty_like(flat[0])

    def block(rows):
        out[rows] = fn(*(v[rows] for v in flat))
    _threads.row_blocks(block, flat[0].shape[0], D, _row_state(a, a.ndim - 1))
    return out.reshape(a.shape)


def _rows_max(x):
    # the max over a large array's last dim: short rows as a running maximum over the columns (see
    # reduce._max_rows), else NumPy's
    m = _reduce._max_rows(x, True)
    return x.max(axis=-1, keepdims=True) if m is None else m


def _rows_sum(x):
    # (as above: one product with ones, see reduce._sum_rows)
    s = _reduce._sum_rows(x, (x.ndim - 1,), True)
    return x.sum(axis=-1, keepdims=True) if s is None else s


def _softmax_array(x, dim):
    xp = xp_of(x)
    if x.ndim == 0:
        return xp.ones_like(x)
    if x.size == 0:
        return x.copy()
    if _row_blocks_fit(x, dim):
        return _in_row_blocks(_softmax_rows, x)
    return _softmax_rows(x, dim)


def _softmax_rows(x, dim=-1):
    xp = xp_of(x)
    last = dim in (-1, x.ndim - 1)
    big = last and x.size >= 16384
    e = xp.exp(x - (_rows_max(x) if big else x.max(axis=dim, keepdims=True)))
    if last:
        # torch's last-dim kernel multiplies by the sum's reciprocal (other dims divide): closer to
        # its values, and faster
        s = _rows_sum(e) if big else e.sum(axis=dim, keepdims=True)
        e *= xp.reciprocal(s, out=s)
    else:
        e /= e.sum(axis=dim, keepdims=True)
    return e


def _log_softmax_array(x, dim):
    xp = xp_of(x)
    if x.ndim == 0:
        return xp.zeros_like(x)
    if x.size == 0:
        return x.copy()
    if _row_blocks_fit(x, dim):
        return _in_row_blocks(_log_softmax_rows, x)
    return _log_softmax_rows(x, dim)


def _log_softmax_rows(x, dim=-1):
    xp = xp_of(x)
    if dim in (-1, x.ndim - 1) and x.size >= 16384:
        z = x - _rows_max(x)
        z -= xp.log(_rows_sum(xp.exp(z)))
        return z
    z = x - x.max(axis=dim, keepdims=True)
    z -= xp.log(xp.exp(z).sum(axis=dim, keepdims=True))
    return z


def bf16_softmax(x, dim, log):
    """softmax (log: log_softmax) of a bfloat16 array over dim as torch's CPU kernels compute it: in float32,
    rounded to bfloat16 once, except where they round on the way (softmax over another dim than the last
    rounds exp(x - max) first; log_softmax over the last rounds the sum and its log)."""
    xp = xp_of(x)
    f = x.astype(np.float32)
    if f.ndim == 0 or f.size == 0:
        return B.bf16_round(_log_softmax_array(f, dim) if log else _softmax_array(f, dim))
    last = dim == f.ndim - 1 or dim == -1
    z = f - f.max(axis=dim, keepdims=True)
    e = xp.exp(z)
    s = e.sum(axis=dim, keepdims=True)
    if log:
        if last:
            return B.bf16_round(z - B.bf16_through(xp.log(B.bf16_through(s))))
        return B.bf16_round(z - xp.log(s))
    if not last:
        e = B.bf16_through(e)
    return B.bf16_round(e / s)


def _softmax_family(name, array_fn, node_cls, input, dim, _stacklevel, dtype):
    """softmax / log_softmax: torch's dim and dtype handling, then array_fn and a node saving the output."""
    if type(_stacklevel) is B.dtype:  # torch.softmax(x, dim, dtype) positionally
        dtype, _stacklevel = _stacklevel, 3
    if dtype is not None or dim is None or input._data.dtype.kind != "f":
        _barebones.check(name, input._data)
        input, dim = _prep(input, dim, dtype, name, _stacklevel + 1)
    elif dim < 0 or dim >= input._data.ndim:
        dim = _dim(dim, input._data.ndim)
    d = input._data
    bf16 = d.dtype.kind == "V"   # in float32, as torch's bfloat16 kernels (bf16_softmax); backward too
    # inf inputs give nan silently, as in torch; in rows that NumPy loops over unbuffered (_row_state)
    quiet = B.fp_set(_row_state(d, dim))
    try:
        y = array_fn(d, dim) if not bf16 else bf16_softmax(d, dim, array_fn is _log_softmax_array)
    finally:
        B.fp_reset(quiet)
    if state.enabled and input._requires_grad:
        node = _node(node_cls, input, saved_input=False)
        if bf16:
            in_float32(node)
        node.y, node.dim = y, (dim if y.ndim else None)
        out = _record(y, node)
        _output_saved(node, out)
        return out
    return _wrap(y)


@_mf.settles("contiguous")
def _softmax(input, dim, _stacklevel, dtype):
    return _softmax_family("softmax", _softmax_array, SoftmaxBackward0, input, dim, _stacklevel, dtype)


@_mf.settles("contiguous")
def _log_softmax(input, dim, _stacklevel, dtype):
    return _softmax_family("log_softmax", _log_softmax_array, LogSoftmaxBackward0, input, dim, _stacklevel,
                           dtype)


def _small_rows(input, dim, dtype):
    """input's array when softmax over dim may take the hot path: a C-contiguous float NumPy array of
    1 to 16,383 elements, dim its last, rows shorter than B.ROWS_MIN (so FP_QUIET is their
    state: _row_state), dtype None; else None.  ((4, 10) with autograd: 7.2 -> 6.0 us, torch 3.3; its
    six NumPy calls take ~3.2.)"""
    d = input._data
    if dtype is None and d.__class__ is np.ndarray and d.dtype.kind == "f" and (dim == -1 or dim == d.ndim - 1) \
            and d.ndim and 0 < d.size < 16384 and d.shape[-1] < B.ROWS_MIN and d.flags.c_contiguous:
        return d
    return None


def _rows_node(cls, input, y, dim, t):
    """Link t, the softmax-family output y of input over its last dim (as _softmax_family does)."""
    if input._requires_grad and state.enabled:
        node = _node(cls, input, saved_input=False)
        node.y, node.dim = y, dim
        t._requires_grad = True
        t.grad_fn = node
        _output_saved(node, t)
    return t


def softmax(input, dim=None, _stacklevel=3, dtype=None):
    """exp(x) / sum(exp(x)) along dim (the output sums to 1 along dim)."""
    d = _small_rows(input, dim, dtype) if type(dim) is int and type(_stacklevel) is int else None
    if d is None:
        return _softmax(input, dim, _stacklevel, dtype)
    quiet = B.fp_set(B.FP_QUIET)
    try:   # _softmax_rows' passes, in place where it makes new arrays
        y = d - np.maximum.reduce(d, axis=-1, keepdims=True)
        np.exp(y, out=y)
        s = np.add.reduce(y, axis=-1, keepdims=True)
        y *= np.reciprocal(s, out=s)
    finally:
        B.fp_reset(quiet)
    return _rows_node(SoftmaxBackward0, input, y, d.ndim - 1, _wrap(y))


def log_softmax(input, dim=None, _stacklevel=3, dtype=None):
    """log(softmax(x)) along dim, computed stably."""
    d = _small_rows(input, dim, dtype) if type(dim) is int and type(_stacklevel) is int else None
    if d is None:
        return _log_softmax(input, dim, _stacklevel, dtype)
    quiet = B.fp_set(B.FP_QUIET)
    try:   # _log_softmax_rows' passes
        z = d - np.maximum.reduce(d, axis=-1, keepdims=True)
        z -= np.log(np.add.reduce(np.exp(z), axis=-1, keepdims=True))
    finally:
        B.fp_reset(quiet)
    return _rows_node(LogSoftmaxBackward0, input, z, d.ndim - 1, _wrap(z))


softmax._fp_safe = log_softmax._fp_safe = True   # (they set NumPy's fp state themselves)


def softmin(input, dim=None, _stacklevel=3, dtype=None):
    """softmax(-x) along dim."""
    if type(_stacklevel) is B.dtype:
        dtype, _stacklevel = _stacklevel, 3
    if dtype is not None:
        input = input.to(dtype)
    if dim is None:
        dim = _softmax_dim("softmin", input._data.ndim, _stacklevel)
    return softmax(_neg(input), dim)


def relu_(input):
    """In-place relu."""
    return input.relu_()


def _dim_required(fn):
    # torch.softmax(x) and x.softmax() require dim (TypeError); only F.softmax warns and guesses one
    def op(input, dim, dtype=None):
        return fn(input, dim, 3, dtype)
    op.__name__ = op.__qualname__ = fn.__name__
    op.__doc__ = fn.__doc__
    return op


# top-level versions that differ from the torch.nn.functional ones of the same name
__top_level__ = {"softmax": _dim_required(softmax), "log_softmax": _dim_required(log_softmax)}


def _register():
    T = Tensor

    T.softmax = __top_level__["softmax"]
    T.log_softmax = __top_level__["log_softmax"]
    T.prelu = prelu
    T.hardshrink = hardshrink


_register()


# ---- gumbel_softmax ----------------------------------------------------------------------------------------
def gumbel_softmax(logits, tau=1, hard=False, eps=1e-10, dim=-1):
    """Samples of the Gumbel-softmax distribution over dim (one-hot with straight-through gradients when
    hard); torch's formula and draws (exponential_), so seeded results equal torch's on the CPU."""
    from .creation import empty_like, zeros_like
    gumbels = -empty_like(logits).exponential_().log()
    y_soft = ((logits + gumbels) / tau).softmax(dim)
    if not hard:
        return y_soft
    index = y_soft.max(dim, keepdim=True)[1]
    y_hard = zeros_like(logits).scatter_(dim, index, 1.0)
    return y_hard - y_soft.detach() + y_soft


__functional__ += ["gumbel_softmax"]
