"""Elementwise arithmetic, math functions, comparisons and logical ops."""
import numpy as np

from .. import _backend as B
from ..autograd.grad_mode import state
from ..autograd.graph import Node, edge
from .._tensor import Tensor, _wrap
from . import save_output_version, unbroadcast

__all__ = [
    "add", "sub", "subtract", "mul", "multiply", "div", "divide", "true_divide", "floor_divide",
    "remainder", "fmod", "pow", "neg", "negative", "abs", "absolute", "exp", "expm1", "log", "log2",
    "log10", "log1p", "sqrt", "rsqrt", "square", "sin", "cos", "tan", "tanh", "sigmoid", "relu",
    "floor", "ceil", "round", "trunc", "frac", "sign", "reciprocal", "clamp", "clip", "maximum",
    "minimum", "where", "eq", "ne", "lt", "le", "gt", "ge", "greater", "less", "greater_equal",
    "less_equal", "not_equal", "logical_and", "logical_or", "logical_not", "logical_xor",
    "bitwise_and", "bitwise_or", "bitwise_xor", "bitwise_not", "isnan", "isinf", "isfinite",
    "equal", "allclose", "isclose", "lerp", "addcmul", "addcdiv", "result_type", "promote_types",
    "atan", "asin", "acos", "sinh", "cosh", "erf", "nan_to_num", "masked_fill", "rsub",
]

_ndarray = np.ndarray
_SCALARS = (int, float, bool)


# ---- type promotion ---------------------------------------------------------
def _scalar_dtype(x):
    if type(x) is bool:
        return B.bool_
    if type(x) is int:
        return B.int64
    if type(x) is float:
        return B.get_default_dtype()
    if isinstance(x, (np.generic, np.ndarray)):
        return B.dtype_of(np.asarray(x))
    raise TypeError(f"unsupported operand type {type(x).__name__}; expected a Tensor or a number")


def _combine(higher, lower):
    # torch's combine_categories: a lower-priority operand only matters across categories
    if higher is None:
        return lower
    if lower is None:
        return higher
    if higher._category == 2:
        return higher
    if higher is B.bool_ or lower._category == 2:
        return B.promote_types(higher, lower)
    return higher


def result_type(*operands):
    """torch.result_type: tensors with dims outrank 0-d tensors, which outrank Python numbers."""
    dim_t = zero_t = wrapped = None
    for x in operands:
        if isinstance(x, Tensor):
            d = x.dtype
            if x._data.ndim:
                dim_t = d if dim_t is None else B.promote_types(dim_t, d)
            else:
                zero_t = d if zero_t is None else B.promote_types(zero_t, d)
        else:
            d = _scalar_dtype(x)
            wrapped = d if wrapped is None else B.promote_types(wrapped, d)
    return _combine(dim_t, _combine(zero_t, wrapped))


promote_types = B.promote_types


def _check_device(a, b):
    if type(a) is not type(b) or getattr(a, "_ember_device", None) != getattr(b, "_ember_device", None):
        da, db = _wrap(a).device, _wrap(b).device
        if da != db:
            raise RuntimeError(
                "Expected all tensors to be on the same device, but found at least two devices, "
                f"{da} and {db}! Move one with .to(device) first.")


def _operands(a, b):
    """The arrays (or Python numbers) to compute with, cast to torch's result dtype."""
    ad = a._data
    if type(b) is Tensor or isinstance(b, Tensor):
        bd = b._data
        if type(ad) is not type(bd):
            _check_device(ad, bd)
        if ad.dtype != bd.dtype:
            dt = result_type(a, b).np
            if ad.dtype != dt:
                ad = ad.astype(dt)
            if bd.dtype != dt:
                bd = bd.astype(dt)
        return ad, bd
    tb = type(b)
    if tb is float:
        if ad.dtype.kind != "f":
            ad = ad.astype(B.get_default_dtype().np)
        return ad, b
    if tb is int:
        if ad.dtype.kind == "b":
            ad = ad.astype(np.int64)
        return ad, b
    if tb is bool:
        return ad, b
    if isinstance(b, (np.generic, np.ndarray)) and np.ndim(b) == 0:
        return _operands(a, b.item())
    raise TypeError(f"unsupported operand type(s): 'Tensor' and '{type(b).__name__}'")


def _node(cls, a, b):
    node = cls.__new__(cls)
    node.next_functions = (edge(a), edge(b) if isinstance(b, Tensor) else (None, 0))
    node._saved_versions = ()
    return node


def _grad_needed(a, b):
    return state.enabled and (a._requires_grad or (isinstance(b, Tensor) and b._requires_grad))


def _shape(x):
    return x.shape if type(x) is _ndarray or hasattr(x, "shape") else ()


def _finish(out, node):
    if isinstance(out, np.generic):
        out = np.asarray(out)
    t = _wrap(out)
    if node is not None:
        t._requires_grad = True
        t.grad_fn = node
    return t


def _as_tensor(x):
    return x if isinstance(x, Tensor) else _wrap(np.asarray(x))


# ---- add / sub / mul / div --------------------------------------------------
class AddBackward0(Node):
    __slots__ = ("a_shape", "b_shape", "alpha")

    def apply(self, g):
        gb = g if self.alpha == 1 else g * self.alpha
        return unbroadcast(g, self.a_shape), (unbroadcast(gb, self.b_shape) if self.b_shape is not None else None)


class SubBackward0(AddBackward0):
    __slots__ = ()

    def apply(self, g):
        return unbroadcast(g, self.a_shape), (unbroadcast(-g if self.alpha == 1 else g * -self.alpha, self.b_shape)
                                              if self.b_shape is not None else None)


class RsubBackward1(Node):
    __slots__ = ("a_shape",)

    def apply(self, g):
        return (-g,)


def add(input, other, *, alpha=1, out=None):
    """input + alpha * other, broadcasting and promoting as torch."""
    if not isinstance(input, Tensor):
        input, other = _as_tensor(input), other
    a, b = _operands(input, other)
    if alpha != 1:
        b = b * alpha
    res = a + b
    if isinstance(res, np.generic):
        res = np.asarray(res)
    if out is not None:
        return _write_out(out, res, "add", input, other)
    node = None
    if state.enabled and (input._requires_grad or (isinstance(other, Tensor) and other._requires_grad)):
        node = _node(AddBackward0, input, other)
        node.a_shape = input._data.shape
        node.b_shape = other._data.shape if isinstance(other, Tensor) else None
        node.alpha = alpha
    t = _wrap(res)
    if node is not None:
        t._requires_grad = True
        t.grad_fn = node
    return t


def sub(input, other, *, alpha=1, out=None):
    """input - alpha * other."""
    if not isinstance(input, Tensor):
        input = _as_tensor(input)
    a, b = _operands(input, other)
    if a.dtype.kind == "b":
        raise RuntimeError("Subtraction, the `-` operator, with two bool tensors is not supported. "
                           "Use the `^` or `logical_xor()` operator instead.")
    if alpha != 1:
        b = b * alpha
    res = a - b
    if out is not None:
        return _write_out(out, res, "sub", input, other)
    node = None
    if _grad_needed(input, other):
        node = _node(SubBackward0, input, other)
        node.a_shape = input._data.shape
        node.b_shape = other._data.shape if isinstance(other, Tensor) else None
        node.alpha = alpha
    return _finish(res, node)


def rsub(input, other, *, alpha=1):
    """other - alpha * input."""
    if isinstance(other, Tensor):
        return sub(other, input, alpha=alpha)
    a, b = _operands(input, other)
    res = b - (a if alpha == 1 else a * alpha)
    node = None
    if _grad_needed(input, None):
        node = _node(RsubBackward1, input, None)
        node.next_functions = node.next_functions[:1]
        node.a_shape = a.shape
    return _finish(res, node)


class MulBackward0(Node):
    __slots__ = ("a", "b")
    _saved_fields = ("a", "b")

    def apply(self, g):
        a, b = self.a, self.b
        ga = unbroadcast(g * b, a.shape) if self.next_functions[0][0] is not None else None
        gb = None
        if self.next_functions[1][0] is not None:
            gb = unbroadcast(g * a, _shape(b))
        return ga, gb


def mul(input, other, *, out=None):
    """input * other."""
    if not isinstance(input, Tensor):
        input = _as_tensor(input)
    a, b = _operands(input, other)
    res = a * b
    if isinstance(res, np.generic):
        res = np.asarray(res)
    if out is not None:
        return _write_out(out, res, "mul", input, other)
    node = None
    if state.enabled and (input._requires_grad or (isinstance(other, Tensor) and other._requires_grad)):
        node = _node(MulBackward0, input, other)
        node.a = a
        node.b = b
        if isinstance(other, Tensor):
            node._saved_versions = ((input, input._vc[0]), (other, other._vc[0]))
        else:
            node._saved_versions = ((input, input._vc[0]),)
    t = _wrap(res)
    if node is not None:
        t._requires_grad = True
        t.grad_fn = node
    return t


class DivBackward0(Node):
    __slots__ = ("a", "b")
    _saved_fields = ("a", "b")

    def apply(self, g):
        a, b = self.a, self.b
        ga = unbroadcast(g / b, a.shape) if self.next_functions[0][0] is not None else None
        gb = None
        if self.next_functions[1][0] is not None:
            gb = unbroadcast(-g * a / (b * b), b.shape)
        return ga, gb


def div(input, other, *, rounding_mode=None, out=None):
    """input / other (true division unless rounding_mode is 'trunc' or 'floor')."""
    if not isinstance(input, Tensor):
        input = _as_tensor(input)
    if rounding_mode is not None:
        if rounding_mode == "floor":
            return floor_divide(input, other, out=out)
        if rounding_mode == "trunc":
            a, b = _operands(input, other)
            res = np.trunc(a / b) if np.result_type(a, b).kind == "f" else (np.fix(a / b)).astype(np.result_type(a, b))
            return _write_out(out, res, "div", input, other) if out is not None else _wrap(res)
        raise ValueError(f"div expected rounding_mode to be one of None, 'trunc', or 'floor' but found '{rounding_mode}'")
    a, b = _operands(input, other)
    if a.dtype.kind != "f":
        f = B.get_default_dtype().np
        a = a.astype(f)
        if not isinstance(b, (int, float)):
            b = b.astype(f)
    elif type(b) is not float and type(b) is not int and b.dtype.kind != "f":
        b = b.astype(a.dtype)
    res = a / b
    if out is not None:
        return _write_out(out, res, "div", input, other)
    node = None
    if _grad_needed(input, other):
        node = _node(DivBackward0, input, other)
        node.a = a
        node.b = b
        save = [(input, input._vc[0])]
        if isinstance(other, Tensor):
            save.append((other, other._vc[0]))
        node._saved_versions = tuple(save)
    return _finish(res, node)


def floor_divide(input, other, *, out=None):
    """Division rounded down, as torch.floor_divide."""
    a, b = _operands(_as_tensor(input), other)
    res = np.floor_divide(a, b)
    if not isinstance(res, np.ndarray):
        res = np.asarray(res)
    return _write_out(out, res, "floor_divide", input, other) if out is not None else _wrap(res)


def remainder(input, other, *, out=None):
    """Python-style modulus (sign of the divisor)."""
    a, b = _operands(_as_tensor(input), other)
    res = np.asarray(np.mod(a, b))
    return _write_out(out, res, "remainder", input, other) if out is not None else _wrap(res)


def fmod(input, other, *, out=None):
    """C-style modulus (sign of the dividend)."""
    a, b = _operands(_as_tensor(input), other)
    res = np.asarray(np.fmod(a, b))
    return _write_out(out, res, "fmod", input, other) if out is not None else _wrap(res)


class PowBackward0(Node):
    __slots__ = ("a", "exponent")
    _saved_fields = ("a",)

    def apply(self, g):
        e = self.exponent
        if e == 2:
            return (g * 2 * self.a,)
        return (g * e * self.a ** (e - 1),)


class PowBackward1(Node):
    __slots__ = ("a", "b", "out")
    _saved_fields = ("a", "b", "out")

    def apply(self, g):
        a, b, out = self.a, self.b, self.out
        ga = gb = None
        if self.next_functions[0][0] is not None:
            ga = unbroadcast(g * b * a ** (b - 1), a.shape)
        if self.next_functions[1][0] is not None:
            with np.errstate(divide="ignore", invalid="ignore"):
                gb = np.where(a > 0, g * out * np.log(np.where(a > 0, a, 1)), 0)
            gb = unbroadcast(gb.astype(out.dtype, copy=False), _shape(b))
        return ga, gb


def pow(input, exponent, *, out=None):
    """input ** exponent."""
    if not isinstance(input, Tensor):
        # scalar ** tensor
        base = input
        e = exponent
        a, b = _operands(e, base)
        res = np.power(b, a)
        node = None
        if _grad_needed(e, None):
            node = new_pow1 = _node(PowBackward1, _wrap(np.asarray(base)), e)
            new_pow1.next_functions = ((None, 0), edge(e))
            node.a = np.asarray(b, dtype=res.dtype)
            node.b = a
            node.out = res
        return _finish(res, node)
    a, b = _operands(input, exponent)
    if type(b) is int and b < 0 and a.dtype.kind in "iub":
        raise RuntimeError("Integers to negative integer powers are not allowed.")
    res = a ** b
    if out is not None:
        return _write_out(out, res, "pow", input, exponent)
    node = None
    if _grad_needed(input, exponent):
        if isinstance(exponent, Tensor):
            node = _node(PowBackward1, input, exponent)
            node.a, node.b, node.out = a, b, res
            node._saved_versions = ((input, input._vc[0]), (exponent, exponent._vc[0]))
        else:
            node = _node(PowBackward0, input, None)
            node.next_functions = node.next_functions[:1]
            node.a, node.exponent = a, b
            node._saved_versions = ((input, input._vc[0]),)
    return _finish(res, node)


# ---- unary math -------------------------------------------------------------
def _unary(name, fwd, grad_of, float_only=True, saves="x", node_name=None):
    """Build a unary op and its node; grad_of(g, x, y) is written on arrays."""
    node_name = node_name or name[0].upper() + name[1:] + "Backward0"

    def apply(self, g):
        return (grad_of(g, self.x, self.y),)
    cls = type(node_name, (Node,), {"__slots__": ("x", "y"), "apply": apply,
                                    "_saved_fields": ("x", "y")})

    def op(input, *, out=None):
        d = input._data
        if float_only and d.dtype.kind != "f":
            d = d.astype(B.get_default_dtype().np)
        res = fwd(d)
        if out is not None:
            return _write_out(out, res, name, input)
        node = None
        if state.enabled and input._requires_grad and grad_of is not None:
            node = cls.__new__(cls)
            node.next_functions = (edge(input),)
            node.x = d if "x" in saves else None
            node.y = res if "y" in saves else None
            node._saved_versions = ((input, input._vc[0]),) if "x" in saves else ()
        out = _finish(res, node)
        if node is not None and "y" in saves:
            save_output_version(node, out)
        return out
    op.__name__ = name
    op.__qualname__ = name
    op.__doc__ = f"Elementwise {name}."
    return op, cls


def _sigmoid(x):
    # numerically stable for large |x|
    out = np.empty_like(x)
    pos = x >= 0
    np.negative(x, out=out, where=pos)
    np.exp(out, out=out, where=pos)
    out[pos] = 1 / (1 + out[pos])
    ez = np.exp(x[~pos])
    out[~pos] = ez / (1 + ez)
    return out


def _zero(g, x, y):
    return np.zeros_like(g)


exp, ExpBackward0 = _unary("exp", np.exp, lambda g, x, y: g * y, saves="y")
expm1, Expm1Backward0 = _unary("expm1", np.expm1, lambda g, x, y: g * (y + 1), saves="y")
log, LogBackward0 = _unary("log", np.log, lambda g, x, y: g / x)
log2, Log2Backward0 = _unary("log2", np.log2, lambda g, x, y: g / (x * np.log(2.0)).astype(x.dtype))
log10, Log10Backward0 = _unary("log10", np.log10, lambda g, x, y: g / (x * np.log(10.0)).astype(x.dtype))
log1p, Log1PBackward0 = _unary("log1p", np.log1p, lambda g, x, y: g / (1 + x), node_name="Log1PBackward0")
sqrt, SqrtBackward0 = _unary("sqrt", np.sqrt, lambda g, x, y: g / (2 * y), saves="y")
rsqrt, RsqrtBackward0 = _unary("rsqrt", lambda x: 1 / np.sqrt(x), lambda g, x, y: -0.5 * g * y * y * y, saves="y")
sin, SinBackward0 = _unary("sin", np.sin, lambda g, x, y: g * np.cos(x))
cos, CosBackward0 = _unary("cos", np.cos, lambda g, x, y: -g * np.sin(x))
tan, TanBackward0 = _unary("tan", np.tan, lambda g, x, y: g * (1 + y * y), saves="y")
atan, AtanBackward0 = _unary("atan", np.arctan, lambda g, x, y: g / (1 + x * x))
asin, AsinBackward0 = _unary("asin", np.arcsin, lambda g, x, y: g / np.sqrt(1 - x * x))
acos, AcosBackward0 = _unary("acos", np.arccos, lambda g, x, y: -g / np.sqrt(1 - x * x))
sinh, SinhBackward0 = _unary("sinh", np.sinh, lambda g, x, y: g * np.cosh(x))
cosh, CoshBackward0 = _unary("cosh", np.cosh, lambda g, x, y: g * np.sinh(x))
tanh, TanhBackward0 = _unary("tanh", np.tanh, lambda g, x, y: g * (1 - y * y), saves="y")
sigmoid, SigmoidBackward0 = _unary("sigmoid", _sigmoid, lambda g, x, y: g * y * (1 - y), saves="y")
reciprocal, ReciprocalBackward0 = _unary("reciprocal", lambda x: 1 / x, lambda g, x, y: -g * y * y, saves="y")
square_, _ = _unary("square", np.square, lambda g, x, y: 2 * g * x, float_only=False)
neg, NegBackward0 = _unary("neg", np.negative, lambda g, x, y: -g, float_only=False, saves="")
abs, AbsBackward0 = _unary("abs", np.abs, lambda g, x, y: g * np.sign(x), float_only=False)
floor, FloorBackward0 = _unary("floor", np.floor, _zero, float_only=False, saves="")
ceil, CeilBackward0 = _unary("ceil", np.ceil, _zero, float_only=False, saves="")
trunc, TruncBackward0 = _unary("trunc", np.trunc, _zero, float_only=False, saves="")
frac, FracBackward0 = _unary("frac", lambda x: x - np.trunc(x), lambda g, x, y: g, saves="")
sign, SignBackward0 = _unary("sign", np.sign, _zero, float_only=False, saves="")
relu, ReluBackward0 = _unary("relu", lambda x: np.maximum(x, 0, dtype=x.dtype) if x.dtype.kind != "b" else x,
                             lambda g, x, y: g * (y > 0), float_only=False, saves="y")
negative = neg
absolute = abs


def _erf(x):
    from math import erf as _e
    return np.vectorize(_e, otypes=[x.dtype])(x) if x.size else x.copy()


erf, ErfBackward0 = _unary("erf", _erf, lambda g, x, y: g * (2 / np.sqrt(np.pi)) * np.exp(-x * x))


def square(input):
    """input * input."""
    return pow(input, 2)


def round(input, *, decimals=0, out=None):
    """Round half to even, as torch.round."""
    res = np.round(input._data, decimals)
    if out is not None:
        return _write_out(out, res, "round", input)
    node = None
    if state.enabled and input._requires_grad:
        node = RoundBackward0.__new__(RoundBackward0)
        node.next_functions = (edge(input),)
        node._saved_versions = ()
    return _finish(res, node)


class RoundBackward0(Node):
    __slots__ = ()

    def apply(self, g):
        return (np.zeros_like(g),)


class ClampBackward1(Node):
    __slots__ = ("mask",)
    _saved_fields = ("mask",)

    def apply(self, g):
        return (g * self.mask,)


def clamp(input, min=None, max=None, *, out=None):
    """Limit values to [min, max]."""
    if min is None and max is None:
        raise RuntimeError("torch.clamp: At least one of 'min' or 'max' must not be None")
    d = input._data
    lo = min._data if isinstance(min, Tensor) else min
    hi = max._data if isinstance(max, Tensor) else max
    if d.dtype.kind != "f" and (type(lo) is float or type(hi) is float):
        d = d.astype(B.get_default_dtype().np)
    res = np.clip(d, lo, hi)
    if res.dtype != d.dtype:
        res = res.astype(d.dtype)
    if out is not None:
        return _write_out(out, res, "clamp", input)
    node = None
    if state.enabled and input._requires_grad:
        node = ClampBackward1.__new__(ClampBackward1)
        node.next_functions = (edge(input),)
        mask = np.ones(d.shape, dtype=bool)
        if lo is not None:
            mask &= d >= lo
        if hi is not None:
            mask &= d <= hi
        node.mask = mask
        node._saved_versions = ()
    return _finish(res, node)


clip = clamp


class MaximumBackward0(Node):
    __slots__ = ("a", "b", "is_max")
    _saved_fields = ("a", "b")

    def apply(self, g):
        a, b = self.a, self.b
        pick_a = (a > b) if self.is_max else (a < b)
        tie = a == b
        wa = np.where(pick_a, 1.0, np.where(tie, 0.5, 0.0)).astype(g.dtype)
        return unbroadcast(g * wa, a.shape), unbroadcast(g * (1 - wa), b.shape)


class MinimumBackward0(MaximumBackward0):
    __slots__ = ()


def _minmax(input, other, is_max):
    a, b = _operands(input, other)
    res = np.maximum(a, b) if is_max else np.minimum(a, b)
    node = None
    if _grad_needed(input, other):
        node = _node(MaximumBackward0 if is_max else MinimumBackward0, input, other)
        node.a, node.b, node.is_max = a, b, is_max
        node._saved_versions = ((input, input._vc[0]), (other, other._vc[0]))
    return _finish(res, node)


def maximum(input, other, *, out=None):
    """Elementwise maximum of two tensors."""
    return _minmax(input, other, True)


def minimum(input, other, *, out=None):
    """Elementwise minimum of two tensors."""
    return _minmax(input, other, False)


class WhereBackward0(Node):
    __slots__ = ("cond", "a_shape", "b_shape")
    _saved_fields = ("cond",)

    def apply(self, g):
        c = self.cond
        ga = unbroadcast(np.where(c, g, 0).astype(g.dtype, copy=False), self.a_shape) if self.a_shape is not None else None
        gb = unbroadcast(np.where(c, 0, g).astype(g.dtype, copy=False), self.b_shape) if self.b_shape is not None else None
        return ga, gb


def where(condition, input=None, other=None, *, out=None):
    """Pick from input where condition holds, else from other."""
    if input is None and other is None:
        from .shape import nonzero
        return nonzero(condition, as_tuple=True)
    c = condition._data
    if c.dtype.kind != "b":
        raise RuntimeError(f"where expected condition to be a boolean tensor, but got a tensor with dtype {condition.dtype}")
    x = input if isinstance(input, Tensor) else None
    y = other if isinstance(other, Tensor) else None
    if x is None and y is None:
        dt = result_type(input, other)
        res = np.where(c, input, other).astype(dt.np)
    else:
        base = x if x is not None else y
        a, b = _operands(base, other if x is not None else input)
        if x is None:
            a, b = b, a
        res = np.where(c, a, b)
    node = None
    if state.enabled and ((x is not None and x._requires_grad) or (y is not None and y._requires_grad)):
        node = WhereBackward0.__new__(WhereBackward0)
        node.next_functions = ((None, 0), edge(x) if x is not None else (None, 0), edge(y) if y is not None else (None, 0))
        node.cond = c
        node.a_shape = x._data.shape if x is not None else None
        node.b_shape = y._data.shape if y is not None else None
        node._saved_versions = ()
        node.next_functions = node.next_functions[1:]
    return _finish(res, node)


class MaskedFillBackward0(Node):
    __slots__ = ("mask",)
    _saved_fields = ("mask",)

    def apply(self, g):
        return (unbroadcast(np.where(self.mask, 0, g).astype(g.dtype, copy=False), g.shape),)


def masked_fill(input, mask, value):
    """Set elements where mask is True to value."""
    if isinstance(value, Tensor):
        value = value.item()
    m = mask._data
    if m.dtype.kind != "b":
        raise RuntimeError(f"masked_fill_ only supports boolean masks, but got mask with dtype {mask.dtype}")
    res = np.where(m, np.asarray(value, dtype=input._data.dtype), input._data)
    node = None
    if state.enabled and input._requires_grad:
        node = MaskedFillBackward0.__new__(MaskedFillBackward0)
        node.next_functions = (edge(input),)
        node.mask = np.broadcast_to(m, res.shape)
        node._saved_versions = ()
    return _finish(res, node)


def lerp(input, end, weight):
    """input + weight * (end - input)."""
    return add(input, mul(sub(end, input), weight))


def addcmul(input, tensor1, tensor2, *, value=1):
    """input + value * tensor1 * tensor2."""
    return add(input, mul(tensor1, tensor2), alpha=value)


def addcdiv(input, tensor1, tensor2, *, value=1):
    """input + value * tensor1 / tensor2."""
    return add(input, div(tensor1, tensor2), alpha=value)


def nan_to_num(input, nan=0.0, posinf=None, neginf=None):
    """Replace NaN and infinities with finite numbers."""
    return _wrap(np.nan_to_num(input._data, nan=nan, posinf=posinf, neginf=neginf))


# ---- comparisons and logic (never differentiable) ----------------------------
def _compare(name, ufunc):
    def op(input, other, *, out=None):
        if not isinstance(input, Tensor):
            input = _as_tensor(input)
        a, b = _operands(input, other)
        res = np.asarray(ufunc(a, b))
        if out is not None:
            return _write_out(out, res, name, input, other)
        return _wrap(res)
    op.__name__ = op.__qualname__ = name
    op.__doc__ = f"Elementwise {name} comparison, giving a bool tensor."
    return op


eq = _compare("eq", np.equal)
ne = not_equal = _compare("ne", np.not_equal)
lt = less = _compare("lt", np.less)
le = less_equal = _compare("le", np.less_equal)
gt = greater = _compare("gt", np.greater)
ge = greater_equal = _compare("ge", np.greater_equal)
logical_and = _compare("logical_and", np.logical_and)
logical_or = _compare("logical_or", np.logical_or)
logical_xor = _compare("logical_xor", np.logical_xor)


def _bitwise(name, ufunc):
    def op(input, other, *, out=None):
        a, b = _operands(_as_tensor(input), other)
        if np.result_type(a, b).kind == "f":
            raise RuntimeError(f"\"{name}_cpu\" not implemented for '{input.dtype.name.capitalize()}': "
                               "bitwise ops need integer or bool tensors")
        return _wrap(np.asarray(ufunc(a, b)))
    op.__name__ = op.__qualname__ = name
    op.__doc__ = f"Elementwise {name}."
    return op


bitwise_and = _bitwise("bitwise_and", np.bitwise_and)
bitwise_or = _bitwise("bitwise_or", np.bitwise_or)
bitwise_xor = _bitwise("bitwise_xor", np.bitwise_xor)


def bitwise_not(input):
    """Elementwise NOT for bool / integer tensors."""
    d = input._data
    if d.dtype.kind == "f":
        raise RuntimeError("bitwise_not needs an integer or bool tensor, got " + str(input.dtype))
    return _wrap(np.invert(d))


def logical_not(input, *, out=None):
    """Elementwise logical NOT, giving bool."""
    return _wrap(np.logical_not(input._data))


def isnan(input):
    """True where the element is NaN."""
    return _wrap(np.isnan(input._data))


def isinf(input):
    """True where the element is +/-inf."""
    return _wrap(np.isinf(input._data))


def isfinite(input):
    """True where the element is finite."""
    return _wrap(np.isfinite(input._data))


def equal(input, other):
    """True if both tensors have the same size and elements."""
    return input._data.shape == other._data.shape and bool(np.array_equal(input._data, other._data))


def isclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    """Elementwise closeness, as torch.isclose."""
    a, b = _operands(input, other)
    return _wrap(np.isclose(a, b, rtol=rtol, atol=atol, equal_nan=equal_nan))


def allclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    """True if all elements are close, as torch.allclose."""
    a, b = _operands(input, other)
    return bool(np.allclose(a, b, rtol=rtol, atol=atol, equal_nan=equal_nan))


# ---- out= and in-place -------------------------------------------------------
def _write_out(out, res, name, *inputs):
    if state.enabled and any(isinstance(t, Tensor) and t._requires_grad for t in inputs):
        raise RuntimeError(
            f"{name}(): functions with out=... arguments don't support automatic differentiation, "
            "but one of the arguments requires grad. Call it under torch.no_grad() or drop out=.")
    res = np.asarray(res)
    if out._data.shape != res.shape:
        out._data = np.empty(res.shape, dtype=out._data.dtype)
    np.copyto(out._data, res, casting="same_kind" if res.dtype.kind != "b" else "unsafe")
    out._vc[0] += 1
    return out


def _inplace(self, res, op, args):
    """Store res into self's memory; with autograd, rebase self onto the out-of-place node."""
    if state.enabled and (self._requires_grad or any(isinstance(a, Tensor) and a._requires_grad for a in args)):
        if self.grad_fn is None and self._requires_grad:
            raise RuntimeError(
                "a leaf Variable that requires grad is being used in an in-place operation. "
                "Wrap the update in `with torch.no_grad():` or operate on a clone.")
        # the node must see the old value, which the write below overwrites: give it a copy
        old = _wrap(self._data.copy())
        old._requires_grad = self._requires_grad
        old.grad_fn = self.grad_fn
        if self.grad_fn is not None and self.grad_fn._n_outputs != 1:
            self.grad_fn._output_nrs[id(old)] = self.grad_fn._output_nrs[id(self)]
        if self.grad_fn is None and not self._requires_grad and self._base is not None:
            old._requires_grad = self._base._requires_grad
        graph_out = op(old, *args)
        self._data[...] = graph_out._data
        self._vc[0] += 1
        base = self._base
        if base is not None and (base._requires_grad or base.grad_fn is not None or graph_out._requires_grad):
            from .shape import rebase_inplace_view
            rebase_inplace_view(self, graph_out.grad_fn)
        else:
            self.grad_fn = graph_out.grad_fn
            self._requires_grad = True
        return self
    d = self._data
    if res.dtype != d.dtype:
        if np.result_type(res.dtype, d.dtype) != d.dtype and not np.can_cast(res.dtype, d.dtype, "same_kind"):
            raise RuntimeError(
                f"result type {B.SCALAR_NAMES[B.dtype_of(res)]} can't be cast to the desired output "
                f"type {B.SCALAR_NAMES[self.dtype]} (in-place op on a {self.dtype} tensor); "
                "use the out-of-place op instead")
    if res.shape != d.shape:
        try:
            ok = np.broadcast_shapes(res.shape, d.shape) == d.shape
        except ValueError:
            ok = False
        if not ok:
            raise RuntimeError(
                f"output with shape {list(d.shape)} doesn't match the broadcast shape "
                f"{list(res.shape)} of the in-place op's result")
    np.copyto(d, res, casting="unsafe")
    self._vc[0] += 1
    return self


def _make_inplace(op, name):
    def method(self, *args, **kwargs):
        if state.enabled and (self._requires_grad or any(isinstance(a, Tensor) and a._requires_grad for a in args)):
            return _inplace(self, None, lambda s, *a: op(s, *a, **kwargs), args)
        with _no_grad():
            res = op(self, *args, **kwargs)._data
        return _inplace(self, res, op, args)
    method.__name__ = name
    method.__doc__ = f"In-place version of {op.__name__}."
    return method


class _no_grad:
    def __enter__(self):
        self.prev = state.enabled
        state.enabled = False

    def __exit__(self, *a):
        state.enabled = self.prev


def _fast_inplace(ufunc, name):
    """add_/sub_/mul_/div_ without autograd: a ufunc writing straight into storage."""
    def method(self, other, *, alpha=None):
        if state.enabled and (self._requires_grad or (isinstance(other, Tensor) and other._requires_grad)):
            kwargs = {} if alpha is None else {"alpha": alpha}
            return _inplace(self, None, lambda s, o: _OPS[name](s, o, **kwargs), (other,))
        d = self._data
        b = other._data if isinstance(other, Tensor) else other
        if alpha is not None and alpha != 1:
            b = b * alpha
        try:
            ufunc(d, b, out=d, casting="same_kind")
        except TypeError:
            res_dt = result_type(self, other)
            raise RuntimeError(
                f"result type {B.SCALAR_NAMES[res_dt]} can't be cast to the desired output type "
                f"{B.SCALAR_NAMES[self.dtype]} ({name}_ on a {self.dtype} tensor)") from None
        except ValueError:
            raise RuntimeError(
                f"output with shape {list(d.shape)} doesn't match the broadcast shape "
                f"{list(np.broadcast_shapes(d.shape, np.shape(b)))}") from None
        self._vc[0] += 1
        return self
    method.__name__ = name + "_"
    method.__doc__ = f"In-place {name}."
    return method


_OPS = {"add": add, "sub": sub, "mul": mul, "div": div}


def _register():
    T = Tensor

    def radd(self, other):
        return add(self, other)

    def rmul(self, other):
        return mul(self, other)

    def rsub_(self, other):
        return rsub(self, other)

    def rtruediv(self, other):
        return div(_wrap(np.asarray(other, dtype=result_type(self, other).np if not isinstance(other, float) or self.is_floating_point() else B.get_default_dtype().np)), self) \
            if not state.enabled or not self._requires_grad else mul(reciprocal(self), other)

    def rpow(self, other):
        return pow(other, self)

    def rfloordiv(self, other):
        return floor_divide(_wrap(np.asarray(other)), self)

    def rmod(self, other):
        return remainder(_wrap(np.asarray(other)), self)

    T.__add__ = add
    T.__radd__ = radd
    T.__iadd__ = lambda s, o: s.add_(o)
    T.__sub__ = sub
    T.__rsub__ = rsub_
    T.__isub__ = lambda s, o: s.sub_(o)
    T.__mul__ = mul
    T.__rmul__ = rmul
    T.__imul__ = lambda s, o: s.mul_(o)
    T.__truediv__ = div
    T.__rtruediv__ = rtruediv
    T.__itruediv__ = lambda s, o: s.div_(o)
    T.__floordiv__ = floor_divide
    T.__rfloordiv__ = rfloordiv
    T.__mod__ = remainder
    T.__rmod__ = rmod
    T.__pow__ = pow
    T.__rpow__ = rpow
    T.__ipow__ = lambda s, o: s.pow_(o)
    T.__neg__ = neg
    T.__pos__ = lambda s: s
    T.__abs__ = abs
    T.__eq__ = eq
    T.__ne__ = ne
    T.__lt__ = lt
    T.__le__ = le
    T.__gt__ = gt
    T.__ge__ = ge
    T.__and__ = T.__rand__ = lambda s, o: bitwise_and(s, o)
    T.__or__ = T.__ror__ = lambda s, o: bitwise_or(s, o)
    T.__xor__ = T.__rxor__ = lambda s, o: bitwise_xor(s, o)
    T.__invert__ = lambda s: bitwise_not(s) if s.dtype is not B.bool_ else logical_not(s)
    T.__iand__ = lambda s, o: _inplace(s, bitwise_and(s, o)._data, bitwise_and, (o,))
    T.__ior__ = lambda s, o: _inplace(s, bitwise_or(s, o)._data, bitwise_or, (o,))
    T.__hash__ = lambda s: id(s)
    for fn in (add, sub, mul, div, floor_divide, remainder, fmod, pow, neg, abs, exp, expm1, log, log2,
               log10, log1p, sqrt, rsqrt, square, sin, cos, tan, tanh, sigmoid, relu, floor, ceil,
               round, trunc, frac, sign, reciprocal, clamp, maximum, minimum, eq, ne, lt, le, gt, ge,
               logical_and, logical_or, logical_xor, logical_not, bitwise_and, bitwise_or, bitwise_xor,
               bitwise_not, isnan, isinf, isfinite, equal, allclose, isclose, lerp, addcmul, addcdiv,
               atan, asin, acos, sinh, cosh, erf, masked_fill, nan_to_num):
        setattr(T, fn.__name__, fn)
    T.subtract, T.multiply, T.divide, T.true_divide = sub, mul, div, div
    T.negative, T.absolute, T.clip = neg, abs, clamp
    T.greater, T.less, T.greater_equal, T.less_equal, T.not_equal = gt, lt, ge, le, ne
    T.where = lambda self, condition, other: where(condition, self, other)
    T.add_ = _fast_inplace(np.add, "add")
    T.sub_ = _fast_inplace(np.subtract, "sub")
    T.mul_ = _fast_inplace(np.multiply, "mul")
    T.div_ = _make_inplace(div, "div_")
    T.subtract_, T.multiply_, T.divide_, T.true_divide_ = T.sub_, T.mul_, T.div_, T.div_
    for fn in (pow, neg, abs, exp, log, sqrt, rsqrt, sin, cos, tanh, sigmoid, relu, floor, ceil, round,
               trunc, sign, reciprocal, clamp, floor_divide, remainder, fmod, masked_fill, lerp,
               addcmul, addcdiv, square, log1p, expm1, maximum, minimum, logical_not, nan_to_num):
        setattr(T, fn.__name__ + "_", _make_inplace(fn, fn.__name__ + "_"))
    T.clip_ = T.clamp_
    T.neg_ = T.negative_ = _make_inplace(neg, "neg_")


_register()

subtract, multiply, divide, true_divide = sub, mul, div, div
greater, less, greater_equal, less_equal = gt, lt, ge, le
