"""Elementwise arithmetic, math functions, comparisons and logical ops.

Kernels take their array module from their inputs (``xp_of``): numpy on the CPU, cupy on a GPU.
"""
import math
import operator
import sys

import numpy as np

from .. import _backend as B
from .. import _threads
from ..autograd.grad_mode import (check_inplace as _check_inference, inference_threads as _inference_threads,
                                  new_version, state)
from ..autograd.graph import UNCHECKED, Node, edge, move_retained_grad, no_derivative
from .._argcheck import SparseOperand
from .._tensor import Tensor, _wrap, refused_write
from .._userwarn import warn as _warn_user
from . import barebones as _barebones
from . import (in_float32, kernel_for, product_versions, real_grads_for_real_inputs, refuse_complex,
               save_output_version, unbroadcast)

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
_generic = np.generic
_SCALARS = (int, float, bool)
_new = object.__new__
xp_of = B.xp_of
_host_array = B.host_array


# ---- type promotion ---------------------------------------------------------
def _scalar_dtype(x):
    if type(x) is bool:
        return B.bool_
    if type(x) is int:
        return B.int64
    if type(x) is float:
        return B.get_default_dtype()
    if type(x) is complex:
        return B.get_default_dtype().to_complex()
    if isinstance(x, (np.generic, np.ndarray)):
        return B.dtype_of(x)
    raise TypeError(f"unsupported operand type {type(x).__name__}; expected a Tensor or a number")


def _combine(higher, lower):
    # torch's combine_categories: a lower-priority operand only matters across categories
    if higher is None:
        return lower
    if lower is None:
        return higher
    if higher._category == 3:
        return higher
    if lower._category == 3:
        # a complex operand of lower priority keeps a floating operand's width (float64 -> complex128)
        return _TO_COMPLEX.get(higher, B.complex64) if higher._category == 2 else lower
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
_TO_COMPLEX = {B.float32: B.complex64, B.float64: B.complex128}  # float16 too goes to complex64 (no chalf)


def _op_name():
    """The public op that called into the operand helpers (error path only)."""
    frame = sys._getframe(2)
    for _ in range(6):
        name = frame.f_code.co_name
        if name in ("op", "method"):
            op = frame.f_locals.get("name", name)
            return op + "_" if name == "method" and not op.endswith("_") else op
        if not name.startswith("_"):
            return name
        frame = frame.f_back
    return "op"


def _check_device(a, b):
    """a and b are arrays of different types: a 0-d host operand of a GPU op moves over, as torch's
    0-d CPU tensors do; any other mix raises torch's mixed-device error."""
    da, db = B.device_of(a), B.device_of(b)
    if da == db:
        return a, b
    from .convert import _move
    if b.ndim == 0 and db.type == "cpu":
        return a, _move(b, da)
    if a.ndim == 0 and da.type == "cpu":
        return _move(a, db), b
    B.check_same_device(_op_name(), a, b)


_INT_RANGES = {np.dtype(t): (int(np.iinfo(t).min), int(np.iinfo(t).max), np.iinfo(t).bits)
               for t in (np.uint8, np.int8, np.int16, np.int32, np.int64)}


def _wrapped(n, dtype):
    """Python int n cast to an integer dtype as torch casts a scalar: modulo 2**bits (NumPy raises)."""
    lo, hi, bits = _INT_RANGES[dtype]
    if lo <= n <= hi:
        return n
    return (n - lo) % (1 << bits) + lo


def _checked_int(n, dtype):
    """Python int n as torch's checked_convert casts it to an integer dtype: within range (or, for an
    unsigned type, down to -max, wrapping) or a RuntimeError."""
    lo, hi, _ = _INT_RANGES[dtype]
    if not (lo <= n <= hi or (lo == 0 and -hi <= n < 0)):
        raise RuntimeError(f"value cannot be converted to type {dtype.name}_t without overflow")
    return _wrapped(n, dtype)


def _sparse_kernel(name, *args, **kwargs):
    """ops/sparse.py's kernel for the public function name, for arguments of which one is sparse."""
    from .sparse import dispatch_name
    return dispatch_name(name, args, kwargs)


def _operands(a, b, to_float=False):
    """The arrays (or Python numbers) to compute with, cast to torch's result dtype.  to_float: for ops that
    compute in floating point (true division, atan2, ...), where torch takes integer and bool operands
    straight to the default float dtype (never through an integer result dtype, which would wrap values)."""
    ad = a._data
    if to_float and ad.dtype.kind not in "fcV" and not (isinstance(b, Tensor) and b._data.dtype.kind in "fcV") \
            and type(b) is not float and type(b) is not complex:
        f = B.get_default_dtype().np
        if isinstance(b, Tensor):
            bd = b._data
            if type(ad) is not type(bd):
                ad, bd = _check_device(ad, bd)
            return ad.astype(f), bd.astype(f)
        if type(b) in (int, bool):
            return ad.astype(f), b
        if isinstance(b, (np.generic, np.ndarray)) and b.dtype.kind not in "fcV":
            return ad.astype(f), B.xp_of(ad).asarray(b).astype(f)
    if type(b) is Tensor or isinstance(b, Tensor):
        bd = b._data
        if type(ad) is not type(bd):
            ad, bd = _check_device(ad, bd)
        if ad.dtype != bd.dtype:
            rt = result_type(a, b)   # (converted as torch converts: bfloat16 through float32, uint16 ...)
            dt = rt.np
            if ad.dtype != dt:
                ad = B.cast(ad, rt)
            if bd.dtype != dt:
                bd = B.cast(bd, rt)
        return ad, bd
    tb = type(b)
    if tb is float:
        if ad.dtype.kind not in "fcV":
            ad = ad.astype(B.get_default_dtype().np)
        elif ad.dtype.kind == "V":   # torch makes the bfloat16 of a number from its float32 (NumPy: directly)
            b = float(np.float32(b))
        return ad, b
    if tb is int:
        kind = ad.dtype.kind
        if kind == "b":
            ad = ad.astype(np.int64)
        elif kind in "iu" and not 0 <= b <= 127:
            b = _wrapped(b, ad.dtype)
        elif kind == "V":   # (as a float)
            b = float(np.float32(b))
        return ad, b
    if tb is bool:
        return ad, b
    if tb is complex:
        dt = _combine(B.FROM_NUMPY[ad.dtype], B.get_default_dtype().to_complex())
        return (ad if ad.dtype == dt.np else ad.astype(dt.np)), b
    if isinstance(b, (np.generic, np.ndarray)):
        if b.ndim == 0:
            return _operands(a, b.item())
        return _operands(a, _wrap(_host_array(b)))  # torch takes an ndarray as a tensor of its dtype
    raise TypeError(f"unsupported operand type(s): 'Tensor' and '{type(b).__name__}'")


def _arith_state(a, b):
    """The fp state for an elementwise op of a and b: B.broadcast_state for large NumPy arrays of
    different shapes (one repeating along long rows of the other: unbuffered), else FP_QUIET."""
    if a.__class__ is _ndarray and b.__class__ is _ndarray and a.size + b.size >= 8192 and a.shape != b.shape:
        return B.broadcast_state(a, b)
    return B.FP_QUIET


def _arith(op, a, b):
    """op(a, b) for add/sub/mul; under _arith_state's row state where it has one (quiet, as torch):
    (8, 16, 32, 32) * (16, 1, 1) 37-40 -> 26-28 us.  (_arith_state's test inline: small and
    same-shape operands, the common case, pay no second call.)"""
    if a.__class__ is _ndarray and b.__class__ is _ndarray and a.size + b.size >= 8192 and a.shape != b.shape:
        state = B.broadcast_state(a, b)
        if state is not B.FP_QUIET:
            token = B.fp_set(state)
            try:
                return op(a, b)
            finally:
                B.fp_reset(token)
    return op(a, b)


def _times(x, y):
    """x * y (_arith)."""
    return _arith(operator.mul, x, y)


def _broadcast_error(op, a, b):
    """torch's RuntimeError for shapes that don't broadcast, naming the op and both shapes."""
    sa, sb = tuple(getattr(a, "shape", ())), tuple(getattr(b, "shape", ()))
    n = max(len(sa), len(sb))
    pa, pb = (1,) * (n - len(sa)) + sa, (1,) * (n - len(sb)) + sb
    dim = next((i for i in range(n - 1, -1, -1) if pa[i] != pb[i] and 1 not in (pa[i], pb[i])), n - 1)
    return RuntimeError(
        f"The size of tensor a ({pa[dim]}) must match the size of tensor b ({pb[dim]}) at non-singleton "
        f"dimension {dim} ({op}: shapes {list(sa)} and {list(sb)} don't broadcast; view/unsqueeze one "
        "operand so each dimension matches or is 1)")


def _result_dtype(a, b):
    """numpy's result dtype of two operands (arrays or Python numbers), from dtypes only."""
    return np.result_type(a.dtype, b.dtype if hasattr(b, "dtype") else b)


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
    if isinstance(out, _generic):
        out = _host_array(out)
    t = _wrap(out)
    if node is not None:
        t._requires_grad = True
        t.grad_fn = node
    return t


def _conj(x):
    """The complex conjugate of an array, Tensor or Python number (backward formulas on complex grads)."""
    return x.conj() if hasattr(x, "conj") else x.conjugate()


def _as_tensor(x):
    # a Python number as the first operand: a 0-d host tensor, which GPU ops accept as torch does
    return x if isinstance(x, Tensor) else _wrap(_host_array(x))


# ---- add / sub / mul / div --------------------------------------------------
class AddBackward0(Node):
    __slots__ = ("a_shape", "b_shape", "alpha")
    # its formula also runs on Tensors (create_graph=True: autograd/higher_order.py)
    _double_backward = True

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
    # its formula also runs on Tensors (create_graph=True: autograd/higher_order.py)
    _double_backward = True

    def apply(self, g):
        return (-g,)


def _scalar_alpha(alpha):
    # torch's alpha is a Scalar: a one-element tensor counts as its number
    return alpha.item() if isinstance(alpha, Tensor) else alpha


def _alpha_for(alpha, dtype):
    """alpha checked against the result dtype as torch checks it (alpha_check)."""
    alpha = _scalar_alpha(alpha)
    if type(alpha) is bool or isinstance(alpha, np.bool_):
        if dtype.kind != "b":
            raise RuntimeError("Boolean alpha only supported for Boolean results.")
    elif dtype.kind in "biu" and isinstance(alpha, (float, np.floating)):
        raise RuntimeError("For integral input tensors, argument alpha must not be a floating point number.")
    return bool(alpha) if dtype.kind == "b" else alpha


_BOOL_SUB = ("Subtraction, the `-` operator, with a bool tensor is not supported. If you are trying to invert "
             "a mask, use the `~` or `logical_not()` operator instead.")


def _refuse_bool_sub(first, second):
    """torch's errors for a subtraction with a bool operand."""
    if first and second:
        raise RuntimeError("Subtraction, the `-` operator, with two bool tensors is not supported. "
                           "Use the `^` or `logical_xor()` operator instead.")
    if first or second:
        raise RuntimeError(_BOOL_SUB)


def _is_bool(x):
    return (x._data.dtype.kind == "b") if isinstance(x, Tensor) else (type(x) is bool or isinstance(x, np.bool_))


_deprecated_warned = False


def _deprecated_alpha(name, alpha, other):
    """torch's deprecated overload name(Number alpha, Tensor other), still accepted by torch 2.x
    (pre-2.0 tutorials update weights with p.data.add_(-lr, p.grad.data)): (other, alpha)."""
    if isinstance(alpha, Tensor) or not isinstance(other, Tensor) or isinstance(alpha, bool):
        raise TypeError(f"{name}() received an invalid combination of arguments - got "
                        f"({type(alpha).__name__}, {type(other).__name__}), but expected one of:\n"
                        f" * (Tensor other, *, Number alpha = 1)\n"
                        f" * (Number other, Number alpha = 1)\n"
                        f" * (Number alpha, Tensor other)  (deprecated)")
    global _deprecated_warned
    if not _deprecated_warned:  # torch warns once per process (TORCH_WARN_ONCE), for all overloads
        _deprecated_warned = True
        _warn_user(f"This overload of {name} is deprecated:\n\t{name}(Number alpha, Tensor other)\n"
                   f"Consider using one of the following signatures instead:\n"
                   f"\t{name}(Tensor other, *, Number alpha = 1)")
    return other, alpha


def add(input, other, _other=None, *, alpha=1, out=None):
    """input + alpha * other, broadcasting and promoting as torch."""
    if _other is not None:
        other, alpha = _deprecated_alpha("add", other, _other)
    if type(alpha) is int and alpha == 1 and out is None and type(other) is Tensor and type(input) is Tensor:
        a, b = input._data, other._data
        if a.dtype is b.dtype and a.shape == b.shape and type(a) is type(b) \
                and (a.dtype is _F32 or a.dtype not in _BAREBONES):
            return _add_operator(input, other)
    if not isinstance(input, Tensor):
        input, other = _as_tensor(input), other
    try:
        a, b = _operands(input, other)
    except SparseOperand:   # (a sparse operand: its kernels, ops/sparse.py)
        return _sparse_kernel("add", input, other, alpha=alpha, out=out)
    _barebones.check("add", a, b)
    bf16 = False
    if not (type(alpha) is int and alpha == 1):
        alpha = _alpha_for(alpha, _result_dtype(a, b))
        bf16 = a.itemsize == 2 and a.dtype.kind == "V" and type(alpha) is not bool
        if bf16:
            # torch's bfloat16 kernel: alpha rounded to bfloat16, a + alpha * b in float32, rounded once
            res = _bf16_add_scaled(a, b, alpha)
        elif alpha != 1 or type(alpha) is bool:
            b = b & alpha if type(alpha) is bool else b * alpha
    if not bf16:
        try:
            res = _arith(operator.add, a, b)
        except ValueError:
            raise _broadcast_error("add", a, b) from None
    if isinstance(res, _generic):
        res = _host_array(res)
    if out is not None:
        return _write_out(out, res, "add", input, other)
    node = None
    if state.enabled and (input._requires_grad or (isinstance(other, Tensor) and other._requires_grad)):
        node = _node(AddBackward0, input, other)
        node.a_shape = input._data.shape
        node.b_shape = other._data.shape if isinstance(other, Tensor) else None
        node.alpha = alpha
        if res.dtype.kind == "c":
            real_grads_for_real_inputs(node, (input, other))
        elif bf16:   # (its grad * alpha: torch's mul by a number, in float32)
            in_float32(node)
    t = _wrap(res)
    if node is not None:
        t._requires_grad = True
        t.grad_fn = node
    return t


def _bf16_add_scaled(a, b, alpha):
    """a + alpha * b for a bfloat16 array a, as torch's kernel: alpha (and a number b) rounded to bfloat16,
    the rest in float32, rounded once."""
    b32 = b.astype(np.float32) if hasattr(b, "dtype") else B.bf16_number(b)
    try:
        return B.bf16_round(a.astype(np.float32) + B.bf16_number(alpha) * b32)
    except ValueError:
        raise _broadcast_error("add", a, b) from None


def _float8_mul(input, other, a, b):
    """a * b for a float8 array a as torch's kernel: two tensors of its dtype only (not a number, which
    torch refuses), in float32, converted back as torch converts (e4m3fn saturating)."""
    if not (isinstance(other, Tensor) and other.dtype is input.dtype):
        raise _barebones.kernel_error("mul_number", B.dtype_of(a))
    try:
        return B.cast(a.astype(np.float32) * b.astype(np.float32), B.dtype_of(a))
    except ValueError:
        raise _broadcast_error("mul", a, b) from None


def _bf16_number(a, b):
    """b as torch's mul and div kernels take a number with a bfloat16 array a: in float32 (not rounded to
    bfloat16); None unless a is bfloat16 and b a Python float or int."""
    if a.itemsize == 2 and a.dtype.kind == "V" and (type(b) is float or type(b) is int):
        return np.float32(b)
    return None


def sub(input, other, _other=None, *, alpha=1, out=None):
    """input - alpha * other."""
    if _other is not None:
        other, alpha = _deprecated_alpha("sub", other, _other)
    if not isinstance(input, Tensor):
        input = _as_tensor(input)
    try:
        a, b = _operands(input, other)
    except SparseOperand:
        return _sparse_kernel("sub", input, other, alpha=alpha, out=out)
    _refuse_bool_sub(_is_bool(input), _is_bool(other))
    _barebones.check("sub", a, b)
    if not (type(alpha) is int and alpha == 1):
        alpha = _alpha_for(alpha, a.dtype)
        if alpha != 1:
            b = b * alpha
    try:
        res = _arith(operator.sub, a, b)
    except ValueError:
        raise _broadcast_error("sub", a, b) from None
    if out is not None:
        return _write_out(out, res, "sub", input, other)
    node = None
    if _grad_needed(input, other):
        node = _node(SubBackward0, input, other)
        node.a_shape = input._data.shape
        node.b_shape = other._data.shape if isinstance(other, Tensor) else None
        node.alpha = alpha
        if res.dtype.kind == "c":
            real_grads_for_real_inputs(node, (input, other))
    return _finish(res, node)


def rsub(input, other, *, alpha=1):
    """other - alpha * input."""
    if isinstance(other, Tensor):
        return sub(other, input, alpha=alpha)
    if _is_bool(input) or _is_bool(other):
        raise RuntimeError(_BOOL_SUB)
    a, b = _operands(input, other)
    if not (type(alpha) is int and alpha == 1):
        alpha = _alpha_for(alpha, _result_dtype(a, b))
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
    _wrapped_numbers = ("b",)   # (grad_fn._saved_other of x * 3 is tensor(3), as torch's mul.Tensor)
    # its formula also runs on Tensors (create_graph=True: autograd/higher_order.py)
    _double_backward = True
    _saved_inputs = {"a": 0, "b": 1}   # the saved operands, by input position
    _promoted_inputs = True   # (fields: the operands, cast to the result dtype)

    def apply(self, g):
        a, b = self.a, self.b
        if g.dtype.kind == "c":   # torch's convention: g * conj(d(out)/d(operand))
            a, b = _conj(a), _conj(b)
        times = _times if g.size >= 4096 else operator.mul   # (small ones: no call, as a recurrent step's)
        ga = unbroadcast(times(g, b), a.shape) if self.next_functions[0][0] is not None else None
        gb = None
        if self.next_functions[1][0] is not None:
            gb = unbroadcast(times(g, a), _shape(b))
        return ga, gb


def mul(input, other, *, out=None):
    """input * other."""
    if not isinstance(input, Tensor):
        input = _as_tensor(input)
    try:
        a, b = _operands(input, other)
    except SparseOperand:
        return _sparse_kernel("mul", input, other, out=out)
    b32 = _bf16_number(a, b) if a.itemsize == 2 else None   # (bfloat16 only: free for float32)
    if b32 is not None:   # bfloat16 times a number: in float32, rounded once (torch's kernel)
        res = B.bf16_round(a.astype(np.float32) * b32)
    elif a.itemsize == 1 and a.dtype.kind in "Vf":   # (float8; e5m2's ml_dtypes type has kind 'f')
        res = _float8_mul(input, other, a, b)
    else:
        try:
            res = _arith(operator.mul, a, b)
        except ValueError:
            raise _broadcast_error("mul", a, b) from None
    if isinstance(res, _generic):
        res = _host_array(res)
    if out is not None:
        return _write_out(out, res, "mul", input, other)
    node = None
    if state.enabled and (input._requires_grad or (isinstance(other, Tensor) and other._requires_grad)):
        node = _node(MulBackward0, input, other)
        node.a = a
        node.b = b
        if isinstance(other, Tensor):
            node._saved_versions = product_versions(input, other)
        else:   # (x * 2: the gradient reads only the number)
            node._saved_versions = ((input, UNCHECKED),)
        if res.dtype.kind == "c":
            real_grads_for_real_inputs(node, (input, other))
        elif b32 is not None:
            in_float32(node)
    t = _wrap(res)
    if node is not None:
        t._requires_grad = True
        t.grad_fn = node
    return t


class DivBackward0(Node):
    __slots__ = ("a", "b")
    _saved_fields = ("a", "b")
    _wrapped_numbers = ("b",)
    # its formula also runs on Tensors (create_graph=True: autograd/higher_order.py)
    _double_backward = True
    _saved_inputs = {"a": 0, "b": 1}
    _promoted_inputs = True   # (fields: the operands, cast to the result dtype)

    def apply(self, g):
        a, b = self.a, self.b
        if g.dtype.kind == "c":   # torch's convention: g * conj(d(out)/d(operand))
            a, b = _conj(a), _conj(b)
        ga = unbroadcast(g / b, a.shape) if self.next_functions[0][0] is not None else None
        gb = None
        if self.next_functions[1][0] is not None:
            gb = unbroadcast(-g * (a / b / b), b.shape)   # (torch's order: bit for bit in bfloat16 too)
        return ga, gb


def div(input, other, *, rounding_mode=None, out=None):
    """input / other (true division unless rounding_mode is 'trunc' or 'floor')."""
    if not isinstance(input, Tensor):
        input = _as_tensor(input)
    if rounding_mode is not None:
        if rounding_mode == "floor":
            res = _floor_quotient(input, other)
        elif rounding_mode == "trunc":
            a, b = _operands(input, other)
            xp = xp_of(a)
            rdt = _result_dtype(a, b)
            res = xp.trunc(a / b) if rdt.kind == "f" else xp.fix(a / b).astype(rdt)
        else:
            raise ValueError(
                f"div expected rounding_mode to be one of None, 'trunc', or 'floor' but found '{rounding_mode}'")
        if out is not None:
            return _write_out(out, _host_array(res) if isinstance(res, _generic) else res, "div", input, other)
        # a step function: torch records it, with zero gradients to both operands
        node = None
        if _grad_needed(input, other):
            node = _node(DivBackward2, input, other)
            node.operands = tuple((t._data.shape, t._data.dtype) if isinstance(t, Tensor) else None
                                  for t in (input, other))
        return _finish(res, node)
    a, b = _operands(input, other, to_float=True)
    if a.itemsize == 1 and a.dtype.kind in "Vf":   # (float8: torch has no kernel)
        _barebones.check("div" if isinstance(other, Tensor) and other.dtype is input.dtype else "div_number", a)
    if a.dtype.kind not in "fcV":
        f = B.get_default_dtype().np
        a = a.astype(f)
        if not isinstance(b, (int, float)):
            b = b.astype(f)
    elif type(b) is not float and type(b) is not int and type(b) is not bool and type(b) is not complex \
            and b.dtype.kind not in "fcV":
        b = b.astype(a.dtype)
    b32 = _bf16_number(a, b) if a.itemsize == 2 else None   # (bfloat16 only: free for float32)
    # x / 0 is inf or nan silently, as in torch (and long broadcast rows unbuffered: _arith_state)
    quiet = B.fp_set(_arith_state(a, b))
    try:
        res = a / b if b32 is None else B.bf16_round(a.astype(np.float32) / b32)   # (bfloat16: as mul)
    except ValueError:
        raise _broadcast_error("div", a, b) from None
    finally:
        B.fp_reset(quiet)
    if out is not None:
        return _write_out(out, res, "div", input, other)
    node = None
    if _grad_needed(input, other):
        node = _node(DivBackward0, input, other)
        node.a = a
        node.b = b
        # input's gradient reads other; other's reads both (x / 2: nothing read)
        if isinstance(other, Tensor):
            node._saved_versions = ((input, input._vc[0] if other._requires_grad else UNCHECKED),
                                    (other, other._vc[0]))
        else:
            node._saved_versions = ((input, UNCHECKED),)
        if res.dtype.kind == "c":
            real_grads_for_real_inputs(node, (input, other))
        elif b32 is not None:
            in_float32(node)
    return _finish(res, node)


def _quiet_div(a, b):
    """a / b, x / 0 giving inf or nan silently, as in div."""
    token = B.fp_set(B.FP_QUIET)
    try:
        return a / b
    finally:
        B.fp_reset(token)


_NO_EDGE = (None, 0)
# what an operator takes besides a tensor; for anything else (a list, None, a str) it returns NotImplemented,
# so that Python tries the other operand and then raises its TypeError naming the operator, as with torch
_OPERANDS = (Tensor, int, float, bool, complex, np.generic, np.ndarray)
_Parameter = Tensor   # nn.Parameter, once nn.parameter has set it: the operators' hot path takes it too


def _operator(op, general, node_cls, kinds=None):
    """The Tensor operator for op: the hot cases without general's promotion and checks (the per-op
    overhead of issue 6), with general's values, node and saved versions.  They are two tensors of
    one dtype (of kinds; None: any) and array type, of one shape or small (a large broadcast takes
    _arith's unbuffered state), and a floating-point tensor with a Python float or int; the rest
    goes to general, whose errors name the op."""
    saves_operands = node_cls is MulBackward0 or node_cls is DivBackward0

    def operator_(input, other):
        if type(input) is not Tensor and type(input) is not _Parameter:
            return general(input, other)
        a = input._data
        if type(other) is not Tensor and type(other) is not _Parameter:
            # (itemsize 1: float8_e5m2, whose ml_dtypes type has kind 'f'; general raises torch's error)
            if (type(other) is float or type(other) is int) and a.dtype.kind == "f" and a.itemsize != 1:
                return _scalar_result(op(a, other), input, other, node_cls, saves_operands)
            if not isinstance(other, _OPERANDS):
                return NotImplemented   # Python's own TypeError, naming the operator, as torch's
            try:
                return general(input, other)
            except SparseOperand:   # a Parameter op a sparse tensor: the sparse operand's reflected operator
                return NotImplemented
        b = other._data
        sa, sb, da = a.shape, b.shape, a.dtype
        if da is not b.dtype or type(a) is not type(b) or (sa != sb and a.size + b.size >= 8192) \
                or (kinds is not None and da.kind not in kinds) or (da is not _F32 and da in _BAREBONES):
            return general(input, other)   # (barebones dtypes: general raises torch's error or converts)
        try:
            res = op(a, b)
        except ValueError:   # shapes that don't broadcast: general's error
            return general(input, other)
        if res.__class__ is not a.__class__:  # 0-d operands give a NumPy scalar
            res = _host_array(res)
        t = _new(Tensor)   # (_wrap inlined)
        t._data = res
        t._vc = new_version() if _inference_threads[0] else [0]
        t._accumulator = None
        t._hooks = None
        t._retains_grad = False
        t._base = None
        if (input._requires_grad or other._requires_grad) and state.enabled:
            node = _new(node_cls)
            node.next_functions = (edge(input), edge(other))
            if saves_operands:
                node.a = a
                node.b = b
                if node_cls is MulBackward0:
                    node._saved_versions = product_versions(input, other)
                else:   # div: as div's
                    node._saved_versions = ((input, input._vc[0] if other._requires_grad else UNCHECKED),
                                            (other, other._vc[0]))
            else:
                node._saved_versions = ()
                node.a_shape = sa
                node.b_shape = sb
                node.alpha = 1
            t._requires_grad = True
            t.grad_fn = node
        else:
            t._requires_grad = False
            t.grad_fn = None
        return t
    operator_.__name__ = operator_.__qualname__ = f"_{general.__name__}_operator"
    return operator_


def _scalar_result(res, input, number, node_cls, saves_operands):
    """The tensor of an _operator's result with a Python number (_finish makes a 0-d result an
    array), and its node."""
    node = None
    if input._requires_grad and state.enabled:
        node = _new(node_cls)
        node.next_functions = (edge(input), _NO_EDGE)
        if saves_operands:   # (mul or div by a number: the gradient reads only the number)
            node.a = input._data
            node.b = number
            node._saved_versions = ((input, UNCHECKED),)
        else:
            node._saved_versions = ()
            node.a_shape = input._data.shape
            node.b_shape = None
            node.alpha = 1
    return _finish(res, node)


_BAREBONES = B.LIMITED   # NumPy dtype -> ember dtype of torch's barebones dtypes (uint16, float8 ...)
_F32 = np.dtype(np.float32)   # (the common dtype skips the lookup: an identity test)
_add_operator = _operator(operator.add, add, AddBackward0)
_sub_operator = _operator(operator.sub, sub, SubBackward0, "iufc")   # (bool: sub's error)
_mul_operator = _operator(operator.mul, mul, MulBackward0)
_div_operator = _operator(_quiet_div, div, DivBackward0, "fc")   # (integers divide as floats: div)


def _check_int_divisor(a, b, name):
    # numpy returns 0 for an integer division by zero; torch raises
    if a.dtype.kind in "iu" and not (b != 0 if type(b) in (int, bool) else (b != 0).all()):
        raise RuntimeError(f"ZeroDivisionError: {name} of an integer tensor by zero (integer division "
                           "has no inf; divide floating-point tensors to get inf/nan)")


def _floor_quotient(input, other):
    a, b = _operands(input, other)
    refuse_complex(a, "\"div_floor_cpu\" not implemented for '{}'")
    kernel_for(a.dtype, "div_floor_cpu", "fiu")
    _check_int_divisor(a, b, "floor_divide")
    pair = _narrow_pair(a, b)
    if pair is None:
        return xp_of(a).floor_divide(a, b)
    if a.dtype.itemsize == 4:
        return _floor_divide_narrow(*pair)
    # (NumPy's float16 loop runs the float32 one and rounds once)
    return _floor_divide_narrow(*(v.astype(np.float32) for v in pair)).astype(a.dtype)


def _floor_divide_narrow(a, b):
    """NumPy's floor division of float32 arrays (torch's too: Python's rule from fmod), from
    _fmod_narrow's exact remainder instead of C's fmod (1M: 25 -> 5-9 ms)."""
    mod = _fmod_narrow(a, b)
    a, b = np.broadcast_arrays(a, b)
    div = np.subtract(a, mod)
    div /= b
    div -= (mod != 0) & ((b < 0) != (mod < 0))
    res = np.floor(div)
    res += (div - res) > 0.5
    for rare in div == 0, b == 0:   # a zero quotient takes the sign of a / b; b == 0 gives a / b
        if rare.any():
            i = np.flatnonzero(rare)
            q = a.reshape(-1)[i] / b.reshape(-1)[i]
            res.reshape(-1)[i] = np.where(b.reshape(-1)[i] == 0, q, np.copysign(0, q))
    return res


def floor_divide(input, other, *, out=None):
    """Division rounded down, as torch.floor_divide."""
    input = _as_tensor(input)
    res = _floor_quotient(input, other)
    if out is not None:
        return _write_out(out, _host_array(res) if isinstance(res, _generic) else res, "floor_divide", input, other)
    # torch records it with a node that refuses to differentiate (div(rounding_mode='floor') does not)
    return _finish(res, _node(_FloorDivideBackward, input, other) if _grad_needed(input, other) else None)


class DivBackward2(Node):
    """div with a rounding mode: a step function, so zero gradients to both operands (as torch)."""
    __slots__ = ("operands",)

    def apply(self, g):
        xp = xp_of(g)
        return tuple(None if fn is None else xp.zeros(*operand)
                     for (fn, _), operand in zip(self.next_functions, self.operands))


_FloorDivideBackward = no_derivative("NotImplemented", "derivative for aten::floor_divide is not implemented",
                                     RuntimeError)


class FmodBackward0(Node):
    """fmod/remainder by a number: the gradient passes through to input."""
    __slots__ = ()
    _double_backward = True   # its formula also runs on Tensors (create_graph=True)

    def apply(self, g):
        return (g,)


class RemainderBackward0(FmodBackward0):
    __slots__ = ()


class FmodBackward1(Node):
    """fmod by a tensor: d/da = 1, d/db = -trunc(a / b) (remainder: -floor(a / b))."""
    __slots__ = ("a", "b")
    _saved_fields = ("a", "b")
    _round = "trunc"
    _double_backward = True   # its formula also runs on Tensors (create_graph=True)
    # as torch's (through a rounding division), other's gradient reaches both operands as zeros
    _zero_edges = True
    _zero_edge_outputs = (1,)
    _saved_inputs = {"a": 0, "b": 1}
    _promoted_inputs = True   # (fields: the operands, cast to the result dtype)

    def apply(self, g):
        xp = xp_of(g)
        ga = gb = None
        if self.next_functions[0][0] is not None:
            ga = unbroadcast(g, self.a.shape)
        if self.next_functions[1][0] is not None:
            with B.errstate(xp, divide="ignore", invalid="ignore"):
                q = getattr(xp, self._round)(self.a / self.b)
            gb = unbroadcast((-g * q).astype(g.dtype, copy=False), self.b.shape)
        return ga, gb


class RemainderBackward1(FmodBackward1):
    __slots__ = ()
    _round = "floor"


# NumPy's fmod runs C's fmod element by element: ~18 ns an element for float32 (1M: 19 ms, torch 1.3).
# In float64, a - trunc(a / b) * b is exact for float32 operands whose quotient is below 2^23 (the
# product and the difference fit 53 bits); where the quotient rounded up to a whole number, the
# difference comes out with the other sign and one |b| goes back.  In cache-sized blocks from
# _FMOD_MIN elements on (below, the extra calls cost more than they save): 1M 19 -> 2.5 ms, the same
# values and signed zeros (millions of pairs checked against NumPy's, including dividends a hair
# either side of whole multiples)
_FMOD_MIN = 1 << 14
_FMOD_BLOCK = 1 << 16


def _fmod_narrow(a, b):
    """fmod of float16/float32 NumPy arrays a and b (the same dtype), into a new array."""
    a, b = np.broadcast_arrays(a, b)
    out = np.empty(a.shape, a.dtype)
    af, bf, of = a.reshape(-1), b.reshape(-1), out.reshape(-1)
    f64 = np.float64

    def block(piece):
        ab, bb, ob = af[piece], bf[piece], of[piece]
        a64, b64 = ab.astype(f64), bb.astype(f64)
        r = a64 / b64
        if not (np.abs(r) < 2.0 ** 23).all():   # large quotients, inf, NaN, division by 0: NumPy's own
            np.fmod(ab, bb, out=ob)
            return
        np.trunc(r, out=r)
        r *= b64
        np.subtract(a64, r, out=r)
        # the other sign than a's: a quotient rounded up (one |b| back, signed as a), or a zero
        # (fmod's zero has a's sign)
        flip = np.flatnonzero(np.signbit(r) != np.signbit(a64))
        if flip.size:
            rf, af64 = r[flip], a64[flip]
            r[flip] = np.where(rf != 0, rf + np.copysign(b64[flip], af64), np.copysign(rf, af64))
        ob[...] = r
    # (one thread: the blocks' bits do not depend on the split)
    _threads.flat_blocks(block, af.size, _FMOD_BLOCK, af.size + 1, _FMOD_BLOCK)
    return out


def _narrow_pair(a, b):
    """(a, b) as float16/float32 NumPy arrays of one dtype (a Python number cast as NumPy would), when
    they are that large (_FMOD_MIN elements); else None."""
    if type(a) is not np.ndarray or a.dtype.kind != "f" or a.dtype.itemsize > 4:
        return None
    if type(b) is float or type(b) is int:
        b = np.asarray(b, a.dtype)
    if type(b) is not np.ndarray or b.dtype != a.dtype or max(a.size, b.size) < _FMOD_MIN:
        return None
    return a, b


def _fmod(xp, a, b):
    """xp.fmod(a, b); large float16/float32 NumPy arrays through _fmod_narrow."""
    pair = _narrow_pair(a, b)
    return xp.fmod(a, b) if pair is None else _fmod_narrow(*pair)


def _modulus(name, ufunc, nodes, input, other, out):
    input = _as_tensor(input)
    a, b = _operands(input, other)
    refuse_complex(a, f"\"{name}_cpu\" not implemented for '{{}}'")
    kernel_for(a.dtype, f"{name}_cpu", "fiu")
    _check_int_divisor(a, b, name)
    xp = xp_of(a)
    if ufunc == "mod" and a.dtype.kind == "f":
        # torch: fmod, then + other where the signs differ; a zero keeps the dividend's sign (NumPy's
        # mod takes the divisor's: -0.0 for 0 % -2)
        res = _fmod(xp, a, b)
        res = B.where(xp, (res != 0) & ((b < 0) != (res < 0)), res + b, res)
    elif ufunc == "fmod" and a.dtype.kind == "f":
        res = _fmod(xp, a, b)
    else:
        res = getattr(xp, ufunc)(a, b)
    if isinstance(res, _generic):
        res = _host_array(res)
    if out is not None:
        return _write_out(out, res, name, input, other)
    node = None
    if _grad_needed(input, other):
        if isinstance(other, Tensor):
            node = _node(nodes[1], input, other)
            node.a, node.b = a, b
            node._saved_versions = ((input, input._vc[0]), (other, other._vc[0]))
        else:
            node = _node(nodes[0], input, None)
            node.next_functions = node.next_functions[:1]
    return _finish(res, node)


def remainder(input, other, *, out=None):
    """Python-style modulus (sign of the divisor)."""
    return _modulus("remainder", "mod", (RemainderBackward0, RemainderBackward1), input, other, out)


def fmod(input, other, *, out=None):
    """C-style modulus (sign of the dividend)."""
    return _modulus("fmod", "fmod", (FmodBackward0, FmodBackward1), input, other, out)


class PowBackward0(Node):
    __slots__ = ("a", "exponent")
    _saved_fields = ("a",)
    # its formula also runs on Tensors (create_graph=True: autograd/higher_order.py)
    _double_backward = True

    def apply(self, g):
        e = self.exponent
        if g.dtype.kind == "c":   # holomorphic: g * conj(f'(a))
            return (g * 0,) if e == 0 else (g * _conj(e * self.a ** (e - 1)),)
        if e == 2:
            return (g * 2 * self.a,)
        if e == 0:   # torch: zeros, not 0 * a ** -1 (NaN at a = 0)
            return (g * 0,)
        if g.dtype.kind == "V":   # bfloat16: e multiplies in float32 (not rounded first), each product rounds
            return (B.bf16_round(g.astype(np.float32) * B.bf16_through(np.float32(e) * _power(self.a, e - 1)
                                                                        .astype(np.float32))),)
        return (g * (e * _power(self.a, e - 1)),)   # torch's grouping: grad * (e * a.pow(e - 1))


class PowBackward1(Node):
    __slots__ = ("a", "b", "out")
    _saved_fields = ("a", "b", "out")
    _torch_saved = {"self": ("a",), "exponent": ("b",), "result": ("out",)}
    _double_backward = True   # its formula also runs on Tensors (create_graph=True)
    _saved_inputs = {"a": 0, "b": 1}
    _promoted_inputs = True   # (fields: the operands, cast to the result dtype)
    _output_fields = ("out",)

    def apply(self, g):
        a, b, out = self.a, self.b, self.out
        ga = gb = None
        xp = xp_of(g)
        if g.dtype.kind == "c":
            return self._apply_complex(xp, g, a, b, out)
        if self.next_functions[0][0] is not None:
            # torch's pow_backward_self: 0 where the exponent is 0 (not 0 * a ** -1 = NaN at a = 0)
            ga = unbroadcast(B.where(xp, b == 0, 0, g * b * _power(a, b - 1)).astype(g.dtype, copy=False), a.shape)
        if self.next_functions[1][0] is not None:
            # torch's pow_backward_exponent: 0 where a == 0 and b >= 0, else g * out * log(a) (NaN for a < 0)
            with B.errstate(xp, divide="ignore", invalid="ignore"):
                gb = B.where(xp, (a == 0) & (b >= 0), 0, g * out * xp.log(a))
            gb = unbroadcast(gb.astype(out.dtype, copy=False), _shape(b))
        return ga, gb

    def _apply_complex(self, xp, g, a, b, out):
        # holomorphic in both: g * conj(b a^(b-1)) and g * conj(out log a), 0 where torch's masks put 0
        ga = gb = None
        with B.errstate(xp, divide="ignore", invalid="ignore"):
            if self.next_functions[0][0] is not None:
                ga = unbroadcast(B.where(xp, b == 0, 0, g * (b * a ** (b - 1)).conj()).astype(g.dtype, copy=False),
                                 a.shape)
            if self.next_functions[-1][0] is not None:
                gb = B.where(xp, a == 0, 0, g * (out * xp.log(a)).conj())
                gb = unbroadcast(gb.astype(out.dtype, copy=False), _shape(b))
        return ga, gb


class PowBackward2(PowBackward1):
    """number ** tensor: one edge, to the exponent (the same formula as PowBackward1's)."""
    __slots__ = ()
    _constant_fields = ("a",)   # the number

    def apply(self, g):
        a, b, out = self.a, self.b, self.out
        xp = xp_of(g)
        if g.dtype.kind == "c":
            return (self._apply_complex(xp, g, a, b, out)[1],)
        with B.errstate(xp, divide="ignore", invalid="ignore"):
            gb = B.where(xp, (a == 0) & (b >= 0), 0, g * out * xp.log(a))
        return (unbroadcast(gb.astype(out.dtype, copy=False), _shape(b)),)


def _int_pow(a, b):
    """a ** b on integer arrays with negative exponents, as torch: 1/a**|b| truncated, so 0 except for
    a = 1 (1) and a = -1 (+-1); torch gives 0 for 0 ** -1 too."""
    xp = xp_of(a)
    res = a ** xp.maximum(b, 0)
    neg = b < 0
    odd = (b % 2) != 0
    one_or_sign = B.where(xp, a == 1, 1, B.where(xp, a == -1, B.where(xp, odd, -1, 1), 0)).astype(res.dtype)
    return B.where(xp, neg, one_or_sign, res)


def _power(a, b):
    """a ** b. A float32/64 array on the CPU to a Python number takes torch's CPU kernel's special
    cases, exactly as it computes them (x*x*x, 1/(x*x), sqrt(x), 1/sqrt(x)), and other whole exponents go
    through |x|, then the sign: NumPy's power takes ~90 ns an element for a negative base (~1 for a
    positive one), so x ** 4 over mixed signs ran 50x slower than torch."""
    if type(a) is not np.ndarray or a.dtype.kind != "f" or a.dtype.itemsize < 4:
        if a.dtype.kind == "V" and type(b) in (int, float):
            return _bf16_power(a, b)
        return a ** b
    if type(b) is np.ndarray:
        return _power_arrays(a, b)
    if type(b) not in (int, float):
        return a ** b
    if b == 3:
        return a * a * a
    if b == -2:
        return 1 / (a * a)
    if b == 0.5:   # (NumPy's power is 1 ulp off the square root here)
        return np.sqrt(a)
    if b == -0.5:
        return 1 / np.sqrt(a)
    if b in (0, 1, 2, -1) or not float(b).is_integer():   # (NumPy's own fast cases, or a NaN anyway)
        return a ** b
    res = np.abs(a) ** b
    return np.copysign(res, a) if b % 2 else res


def _bf16_power(a, b):
    """A bfloat16 array a ** a number b as torch's kernel for bfloat16: b rounded to bfloat16, each
    operation of its special cases x * x * x and 1 / (x * x) rounding, the rest in float32.  (Its scalar
    loop, which takes the last elements that do not fill a vector, also rounds sqrt(x) in 1 / sqrt(x):
    not reproduced, an ulp there.)"""
    r, x = B.bf16_through, a.astype(np.float32)
    b = float(B.bf16_number(b))
    xp = xp_of(a)
    if b == 0.5:
        res = xp.sqrt(x)
    elif b == -0.5:
        res = 1 / xp.sqrt(x)
    elif b == 2:
        res = x * x
    elif b == 3:
        res = r(x * x) * x
    elif b == -2:
        res = 1 / r(x * x)
    else:
        res = x ** np.float32(b)
    return B.bf16_round(res)


def _power_arrays(a, b):
    """a ** b for float32/64 arrays a, b.  NumPy's power takes ~55 ns an element for a negative base (glibc's
    scalar pow; ~1 ns for the others): those elements come from |a| ** b and C's rules for the sign (an odd
    whole exponent) and NaN (a finite negative base to a power that is not whole).  float32's in float64,
    rounded once: as close to torch's as NumPy's own (x ** full_like(x, 3.0) over 2,000 values of both
    signs: 110 -> ~27 us; torch 9)."""
    if a.dtype != b.dtype or not (a.ndim or b.ndim) or not (a < 0).any():
        return a ** b   # (-0.0, -inf and NaN bases: ~10 ns)
    neg = np.signbit(a)
    res = np.abs(a) ** b   # (the other elements: |a| is a, so NumPy's own values)
    aw, bw = (a.astype(np.float64), b.astype(np.float64)) if a.dtype.itemsize < 8 else (a, b)
    r = np.abs(aw) ** bw if aw is not a else res
    # (masked ufunc calls, where=, ran 5-10x slower than these whole passes)
    evens = np.floor(bw * 0.5)
    evens *= 2
    odd = (bw - evens) == 1   # (the infinities and NaN: not odd)
    r = np.copysign(r, B.where(np, odd, aw, 1.0))
    nan = (np.trunc(bw) != bw) & (aw < 0) & (aw > -np.inf)
    r = B.where(np, nan, np.nan, r)
    return B.where(np, neg, r.astype(a.dtype, copy=False), res)


def pow(input, exponent, *, out=None):
    """input ** exponent."""
    if not isinstance(input, Tensor):
        # scalar ** tensor
        base = input
        e = exponent
        a, b = _operands(e, base)
        kernel_for(a.dtype, "pow", "fciu")
        xp = xp_of(a)
        if a.dtype.kind in "iu" and type(b) in (int, bool) and (a < 0).any():
            res = _int_pow(xp.asarray(b, dtype=a.dtype), a)
        else:
            res = xp.power(b, a)
        if isinstance(res, _generic):
            res = _host_array(res)
        node = None
        if _grad_needed(e, None):
            node = _node(PowBackward2, e, e)
            node.next_functions = (edge(e),)
            node.a = xp.asarray(b, dtype=res.dtype)
            node.b = a
            node.out = res
            node._saved_versions = ((e, e._vc[0]),)
        return _finish(res, node)
    _barebones.check("pow", input._data, getattr(exponent, "_data", None))
    if type(exponent) is int and exponent < 0 and input._data.dtype.kind in "iub":
        raise RuntimeError("Integers to negative integer powers are not allowed.")
    a, b = _operands(input, exponent)
    if a.dtype.kind == "b":
        if isinstance(exponent, Tensor):
            kernel_for(a.dtype, "pow", "fciu")
        elif b:   # a bool tensor to a true power is itself, as in torch (NumPy gives int8)
            return _finish(a.copy(), None) if out is None else _write_out(out, a.copy(), "pow", input, exponent)
    quiet = B.fp_set(B.FP_QUIET)   # 0 ** -1 is inf silently, as in torch
    try:
        res = _power(a, b)
    except ValueError:
        if a.dtype.kind in "iu" and getattr(b, "dtype", None) is not None and b.dtype.kind in "iu":
            res = _int_pow(a, b)  # NumPy refuses negative integer exponents in an array
        else:
            raise _broadcast_error("pow", a, b) from None
    finally:
        B.fp_reset(quiet)
    if out is not None:
        return _write_out(out, res, "pow", input, exponent)
    node = None
    if _grad_needed(input, exponent):
        if isinstance(exponent, Tensor):
            node = _node(PowBackward1, input, exponent)
            node.a, node.b, node.out = a, b, res
            node._saved_versions = ((input, input._vc[0]), (exponent, exponent._vc[0]))
            if res.dtype.kind == "c":
                real_grads_for_real_inputs(node, (input, exponent))
        else:
            node = _node(PowBackward0, input, None)
            node.next_functions = node.next_functions[:1]
            node.a, node.exponent = a, b
            node._saved_versions = ((input, input._vc[0]),)
    return _finish(res, node)


# ---- unary math -------------------------------------------------------------
def _unary(name, fwd, grad_of, float_only=True, saves="x", node_name=None, holomorphic=True, complex_error=None,
           kernel=None, slots=()):
    """Build a unary op and its node; grad_of(g, x, y) is written on arrays.  holomorphic: grad_of is
    g * f'(x), so a complex gradient is conj(grad_of(conj(g))) = g * conj(f'(x)), torch's convention.
    complex_error: torch's message refusing complex input (the op is real-only). kernel: (torch's
    kernel name, the NumPy kinds it has versions for), to refuse the others as torch does.  slots: the
    node's further slots, unset until written."""
    node_name = node_name or name[0].upper() + name[1:] + "Backward0"

    def apply(self, g):
        if holomorphic and g.dtype.kind == "c":
            return (grad_of(xp_of(g), g.conj(), self.x, self.y).conj(),)
        return (grad_of(xp_of(g), g, self.x, self.y),)
    cls = type(node_name, (Node,), {"__slots__": ("x", "y") + slots, "apply": apply,
                                    "_saved_fields": ("x", "y")})
    # fwd: a ufunc of the array module, by name (numpy's bound here for the CPU), or fwd(xp, array)
    fwd_name = fwd if isinstance(fwd, str) else None
    np_fwd = getattr(np, fwd) if fwd_name else None
    saves_x, saves_y = "x" in saves, "y" in saves

    def op(input, *, out=None):
        d = x = input._data
        if d.dtype is not _F32 and (d.dtype.kind != "f" or d.itemsize == 1):   # (1: float8_e5m2, kind 'f')
            if d.dtype.kind == "c" and complex_error is not None:
                raise NotImplementedError(complex_error.format(B.SCALAR_NAMES[B.dtype_of(d)]))
            if kernel is not None:
                kernel_for(d.dtype, *kernel)
            if d.dtype in _BAREBONES:
                _barebones.check(name, d)
            if d.dtype.kind == "V":   # bfloat16: computed in float32 and rounded once, as torch's CPU kernels
                d = d.astype(np.float32)
            elif d.dtype.kind != "c" and float_only:
                d = x = d.astype(B.get_default_dtype().np)
        quiet = B.fp_set(B.FP_QUIET)   # log(0), sqrt(-1), exp(1000): inf and nan silently, as in torch
        try:
            if fwd_name is None:
                res = fwd(xp_of(d), d)
            else:
                res = np_fwd(d) if d.__class__ is _ndarray else getattr(xp_of(d), fwd_name)(d)
        finally:
            B.fp_reset(quiet)
        if isinstance(res, _generic):
            res = _host_array(res)
        if d is not x:
            res = res.astype(x.dtype)
        if out is not None:
            return _write_out(out, res, name, input)
        t = _wrap(res)
        if input._requires_grad and state.enabled and grad_of is not None:
            node = _new(cls)
            node.next_functions = (edge(input),)
            node.x = x if saves_x else None
            node.y = res if saves_y else None
            if d is not x:   # bfloat16: backward in float32 too, rounded once (torch's tanh_backward & co)
                in_float32(node)
            t._requires_grad = True
            t.grad_fn = node
            if saves_y:
                save_output_version(node, t)
                if saves_x:   # as torch's nodes that save self and result (create_graph=True traces x)
                    node._saved_versions = ((input, input._vc[0]),) + node._saved_versions
            else:
                node._saved_versions = ((input, input._vc[0]),) if saves_x else ()
        return t
    op.__name__ = name
    op.__qualname__ = name
    op.__doc__ = f"Elementwise {name}."
    op._fp_safe = True
    return op, cls


_sigm_fn = []   # activation._sigm, bound on first use (activation imports this module)


def _sigmoid(xp, x):
    # torch's 1 / (1 + exp(-x)); an import statement per call would cost ~0.5 us
    if not _sigm_fn:
        from .activation import _sigm
        _sigm_fn.append(_sigm)
    return _sigm_fn[0](x)


def _zero(xp, g, x, y):
    return xp.zeros_like(g)


_LN2, _LN10, _TWO_OVER_SQRT_PI = math.log(2.0), math.log(10.0), 2 / math.sqrt(math.pi)

exp, ExpBackward0 = _unary("exp", "exp", lambda xp, g, x, y: g * y, saves="y")
expm1, Expm1Backward0 = _unary("expm1", "expm1", lambda xp, g, x, y: g * (y + 1), saves="y")
log, LogBackward0 = _unary("log", "log", lambda xp, g, x, y: g / x)
log2, Log2Backward0 = _unary("log2", "log2", lambda xp, g, x, y: g / (x * _LN2).astype(x.dtype))
log10, Log10Backward0 = _unary("log10", "log10", lambda xp, g, x, y: g / (x * _LN10).astype(x.dtype))
log1p, Log1PBackward0 = _unary("log1p", "log1p", lambda xp, g, x, y: g / (1 + x), node_name="Log1PBackward0")
sqrt, SqrtBackward0 = _unary("sqrt", "sqrt", lambda xp, g, x, y: g / (2 * y), saves="y")
rsqrt, RsqrtBackward0 = _unary("rsqrt", lambda xp, x: 1 / xp.sqrt(x), lambda xp, g, x, y: -0.5 * g * y * y * y,
                               saves="y")
sin, SinBackward0 = _unary("sin", "sin", lambda xp, g, x, y: g * xp.cos(x))
cos, CosBackward0 = _unary("cos", "cos", lambda xp, g, x, y: -g * xp.sin(x))
tan, TanBackward0 = _unary("tan", "tan", lambda xp, g, x, y: g * (1 + y * y), saves="y")
atan, AtanBackward0 = _unary("atan", "arctan", lambda xp, g, x, y: g / (1 + x * x))
asin, AsinBackward0 = _unary("asin", "arcsin", lambda xp, g, x, y: g / xp.sqrt(1 - x * x))
acos, AcosBackward0 = _unary("acos", "arccos", lambda xp, g, x, y: -g / xp.sqrt(1 - x * x))
sinh, SinhBackward0 = _unary("sinh", "sinh", lambda xp, g, x, y: g * xp.cosh(x))
cosh, CoshBackward0 = _unary("cosh", "cosh", lambda xp, g, x, y: g * xp.sinh(x))
tanh, TanhBackward0 = _unary("tanh", "tanh", lambda xp, g, x, y: g * (1 - y * y), saves="y")
sigmoid, SigmoidBackward0 = _unary("sigmoid", _sigmoid, lambda xp, g, x, y: g * y * (1 - y), saves="y")
reciprocal, ReciprocalBackward0 = _unary("reciprocal", lambda xp, x: 1 / x, lambda xp, g, x, y: -g * y * y,
                                         saves="y")
square_, _SquareBackward = _unary("square", "square", lambda xp, g, x, y: 2 * g * x, float_only=False)
_SquareBackward._double_backward = True   # its formula also runs on Tensors (create_graph=True)
def _negative(xp, x):
    if x.dtype.kind == "b":
        raise RuntimeError("Negation, the `-` operator, on a bool tensor is not supported. If you are trying "
                           "to invert a mask, use the `~` or `logical_not()` operator instead.")
    return xp.negative(x)


neg, NegBackward0 = _unary("neg", _negative, lambda xp, g, x, y: -g, float_only=False, saves="")
def _abs_grad(xp, g, x, y):
    if x.dtype.kind != "c":
        return g * xp.sign(x)
    # |z|'s gradient is g * z / |z| (0 at z = 0); written without sign() so double backward sees z / |z|
    return g * (x / B.where(xp, x == 0, 1, xp.abs(x)))


abs, AbsBackward0 = _unary("abs", "abs", _abs_grad, float_only=False, holomorphic=False, kernel=("abs_cpu", "fciu"))
floor, FloorBackward0 = _unary("floor", "floor", _zero, float_only=False, saves="",
                               complex_error="floor is not supported for complex inputs",
                               kernel=("floor_vml_cpu", "fciu"))
ceil, CeilBackward0 = _unary("ceil", "ceil", _zero, float_only=False, saves="",
                             complex_error="ceil is not supported for complex inputs", kernel=("ceil_vml_cpu", "fciu"))
trunc, TruncBackward0 = _unary("trunc", "trunc", _zero, float_only=False, saves="",
                               complex_error="trunc is not supported for complex inputs",
                               kernel=("trunc_vml_cpu", "fciu"))
frac, FracBackward0 = _unary("frac", lambda xp, x: x - xp.trunc(x), lambda xp, g, x, y: g, saves="",
                             complex_error="\"frac_cpu\" not implemented for '{}'", kernel=("frac_cpu", "fc"))
def _sign(xp, x):
    # NumPy has no sign loop for bool; torch's sign of a bool tensor is the tensor itself, and of NaN 0
    # ((0 < x) - (x < 0)), where NumPy's is NaN
    if x.dtype.kind == "b":
        return x.copy()
    if x.dtype.kind == "f":   # torch's formula itself: NaN gives (False) - (False) = 0
        # (as int8 0/1 values, then one cast: subtracting a bool array from a float one runs a
        # casting loop, 390 -> 250 us over 1M float32)
        s = xp.subtract((x > 0).view(np.int8), (x < 0).view(np.int8))
        return s.astype(x.dtype)
    return xp.sign(x)


sign, SignBackward0 = _unary("sign", _sign, _zero, float_only=False, saves="", complex_error=(
    "Unlike NumPy, torch.sign is not intended to support complex numbers. Please use torch.sgn instead."))
def _relu_array(xp, x):
    if x.dtype.kind == "b":
        raise RuntimeError("Boolean inputs not supported for relu")
    if x.dtype.kind == "f":   # (clip keeps -0.0, as torch's relu)
        return xp.clip(x, 0.0, math.inf)
    return xp.maximum(x, 0, dtype=x.dtype)


_relu_general, ReluBackward0 = _unary(
    "relu", _relu_array,
    lambda xp, g, x, y: g * (y > 0), float_only=False, saves="y",
    complex_error="clamp is not supported for complex types", slots=("premasked",))


# a float dtype's integer twin, its sign bit's place and the mask of the other bits; the numbers as
# 0-d arrays, which NumPy takes as operands without the conversion a scalar costs (a small relu's
# backward 3.9 -> 2.9 us)
_SAME_SIZE_INT = {np.dtype(t): (i, np.array(bits - 1, i), np.array((1 << (bits - 1)) - 1, i))
                  for t, i, bits in ((np.float32, np.int32, 32), (np.float64, np.int64, 64),
                                     (np.float16, np.int16, 16))}


def _relu_backward(self, g):
    # the generic unary apply's closure and xp_of call cost ~0.3 us a node
    pm = getattr(self, "premasked", None)
    if pm is not None:
        self.premasked = None
        if g is pm:
            return (g,)   # a max pool's gradient, already masked by y > 0 (see pool.max_pool2d)
    y = self.y
    # (!= (): NumPy gives a 0-d array's bitwise results as scalars, which take no out=)
    if g.__class__ is _ndarray and y.__class__ is _ndarray and g.dtype is y.dtype and g.shape == y.shape != ():
        found = _SAME_SIZE_INT.get(g.dtype)
        if found is not None:
            # torch's y <= 0 ? 0 : g, with +0.0 (g * mask gives -0.0 under a negative g, which prints
            # as "-0."). A relu output is +-0.0, positive or NaN (of either sign, which passes g:
            # NaN <= 0 is False), so g passes exactly where y's bits without the sign bit are not 0:
            # then -(bits & max) >> (width - 1) is an all-ones mask, which ANDs g's bits
            int_type, top, magnitude = found
            if y.size <= _ZERO_MAX or not (y.flags.c_contiguous and g.flags.c_contiguous):
                m = np.bitwise_and(y.view(int_type), magnitude)   # (NumPy arrays only: the test above)
                np.negative(m, out=m)
                np.right_shift(m, top, out=m)
                np.bitwise_and(m, g.view(int_type), out=m)
                return (m.view(g.dtype),)
            # a large gradient in chunks that stay in cache: the three passes then cost about one
            # over memory (LeNet's conv1 activation at batch 256: 903 -> 705 us); past _RELU_PAR_MIN,
            # half the chunks on each of two threads
            xp = xp_of(g)
            yb, gb = y.reshape(-1).view(int_type), g.reshape(-1).view(int_type)
            out = xp.empty(yb.shape, int_type)

            def mask(chunk):
                m = out[chunk]
                xp.bitwise_and(yb[chunk], magnitude, out=m)
                xp.negative(m, out=m)
                xp.right_shift(m, top, out=m)
                xp.bitwise_and(m, gb[chunk], out=m)
            _threads.flat_blocks(mask, yb.size, _RELU_CHUNK, _RELU_PAR_MIN, _RELU_CHUNK)
            return (out.view(g.dtype).reshape(g.shape),)
    return (xp_of(g).where(y <= 0, 0, g),)   # (torch's formula: NaN passes, +0.0 elsewhere)


_RELU_CHUNK = 1 << 16
# Elements from which relu's backward shares its chunks between the threads: memory-bound passes gain
# from the second vCPU only when each thread's share runs for a millisecond or so (4 x 64 x 112 x 112,
# forward and backward 4.7-4.9 -> 3.2-3.8 ms; 800K elements ran no faster, nor did the forward's one
# in-place maximum, 0.7 -> 1.05 ms split in two)
_RELU_PAR_MIN = 1 << 21


ReluBackward0.apply = _relu_backward
for _cls in (NegBackward0, ExpBackward0, LogBackward0, SinBackward0, CosBackward0, TanhBackward0, SigmoidBackward0,
             SqrtBackward0, AbsBackward0, ReluBackward0, Log1PBackward0, Expm1Backward0, ReciprocalBackward0,
             RsqrtBackward0, SinhBackward0, CoshBackward0, AtanBackward0, Log2Backward0, Log10Backward0, TanBackward0,
             AsinBackward0, AcosBackward0, FracBackward0):
    _cls._double_backward = True   # their formulas also run on Tensors (autograd/higher_order.py)
# torch's formulas for these keep an edge with a zero derivative to what they saved (higher_order.py)
ReluBackward0._zero_edges = AbsBackward0._zero_edges = True
for _cls in (SignBackward0, FloorBackward0, CeilBackward0, TruncBackward0):
    _cls._double_backward = True   # zero gradients, constant

# NumPy's maximum against a Python scalar runs a scalar loop (6.1 us at LeNet's conv1 activation,
# batch 4; ~2.7-3 elements a ns at any size, on an Intel Xeon and an AMD EPYC alike); against a
# same-dtype array of zeros it is ~4x faster.  The zeros are a view of one never-written block per
# dtype (calloc'd: large blocks map the kernel's zero page), cached per shape.  The zeros go first:
# on a tie NumPy's maximum gives its second operand in float32 and float64 (its first in float16),
# so -0.0 stays -0.0, as torch's relu keeps it
_ZERO_BLOCKS = {}
_ZERO_VIEWS = {}
# elements; past this the activation is out of cache (L2) and clip (both bounds, so that NumPy runs
# its SIMD loop; it too keeps -0.0) is the fastest: 1.2M float32 on the EPYC, 128 us against 189
# for the zeros and 448 for the scalar maximum (on the Xeon 78 against 283 at 1M, and the zeros 547
# at 1.2M); under ~50K elements its ~1 us of Python wrapper costs more.  (Their gradient is made in
# chunks: _relu_backward.)
_ZERO_MAX = 1 << 18
_F16 = np.dtype(np.float16)


def _zero_view(xp, d):
    n = d.size
    block = _ZERO_BLOCKS.get(d.dtype)
    if block is None or block.size < n:
        size = 1 << max(n - 1, 1 << 12).bit_length()
        block = _ZERO_BLOCKS[d.dtype] = xp.zeros(size, d.dtype)
        block.flags.writeable = False   # shared by every view handed out: never written
        _ZERO_VIEWS.clear()
    if len(_ZERO_VIEWS) > 256:
        _ZERO_VIEWS.clear()
    z = _ZERO_VIEWS[(d.shape, d.dtype)] = block[:n].reshape(d.shape)
    return z


def _relu_into(xp, d, out):
    """max(d, 0) of a C-contiguous float array into out (d itself, or None for a new array), keeping
    -0.0 and NaN (with their signs) as torch's relu does."""
    if d.size > _ZERO_MAX:
        return d.clip(0.0, math.inf, out=out)
    z = _ZERO_VIEWS.get((d.shape, d.dtype))
    if z is None:
        z = _zero_view(xp, d)
    return xp.maximum(d, z, out=out) if d.dtype is _F16 else xp.maximum(z, d, out=out)


def relu(input, *, out=None):
    """Elementwise max(0, input)."""
    d = input._data
    if out is not None or type(d) is not _ndarray or d.dtype.kind != "f" or not d.ndim \
            or not d.flags.c_contiguous:
        return _relu_general(input, out=out)
    if d.size > _ZERO_MAX:
        res = d.clip(0.0, math.inf)
    else:   # (_relu_into inlined: ~0.1 us of a small relu's ~1.6)
        z = _ZERO_VIEWS.get((d.shape, d.dtype))
        if z is None:
            z = _zero_view(np, d)
        res = np.maximum(d, z) if d.dtype is _F16 else np.maximum(z, d)
    t = _wrap(res)
    if state.enabled and input._requires_grad:
        node = _new(ReluBackward0)
        node.next_functions = (edge(input),)
        node.x = None
        node.y = res
        node.premasked = None   # (the backward's getattr of an unset slot took 0.5 us)
        t._requires_grad = True
        t.grad_fn = node
        save_output_version(node, t)
    return t


relu._fp_safe = True   # (a maximum with zero: nothing that could warn)


def _relu_inplace(self):
    """In-place relu."""
    # The maximum goes straight into self's memory, and with autograd the node saves the result, as
    # torch's relu_ does: the generic in-place path copied the input for its node and the result
    # back (three passes; 4 x 64 x 56 x 56: 795 us against torch's 183).  Views, leaves and other
    # arrays take that path
    if self._vc.__class__ is not list:
        _check_inference(self)
    d = self._data
    if type(d) is _ndarray and d.dtype.kind == "f" and d.ndim and d.flags.c_contiguous and self._base is None:
        grad = state.enabled and self._requires_grad
        if not grad or self.grad_fn is not None:
            e = edge(self) if grad else None
            xp = xp_of(d)
            _relu_into(xp, d, d)
            self._vc[0] += 1
            if grad:
                node = _new(ReluBackward0)
                node.next_functions = (e,)
                node.x = None
                node.y = d
                node.premasked = None
                old_fn, self.grad_fn = self.grad_fn, node
                save_output_version(node, self)
                if self._retains_grad:
                    move_retained_grad(self, old_fn)
            return self
    return _relu_inplace_general(self)


negative = neg
absolute = abs
_erf_fn = []   # activation._erf, the Chebyshev erf for every array module (activation imports this module)


def _erf(xp, x):
    if not _erf_fn:   # (bound on first use: an import statement per call costs ~0.5 us)
        from .activation import _erf as erf_array
        _erf_fn.append(erf_array)
    return _erf_fn[0](x)


erf, ErfBackward0 = _unary("erf", _erf,
                           lambda xp, g, x, y: g * _TWO_OVER_SQRT_PI * xp.exp(-x * x),
                           complex_error="\"erf_vml_cpu\" not implemented for '{}'")
ErfBackward0._double_backward = True   # its formula also runs on Tensors (create_graph=True)


def square(input):
    """input * input."""
    return pow(input, 2)


def round(input, *, decimals=0, out=None):
    """Round half to even, as torch.round."""
    d = input._data
    refuse_complex(d, "\"round_vml_cpu\" not implemented for '{}'")
    kernel_for(d.dtype, "round_vml_cpu", "fciu")
    res = xp_of(d).round(d, decimals)
    if isinstance(res, _generic):
        res = _host_array(res)
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
    _double_backward = True   # its formula also runs on Tensors (create_graph=True)

    def apply(self, g):
        return (xp_of(g).zeros_like(g),)


class ClampBackward1(Node):
    __slots__ = ("mask",)
    _saved_fields = ("mask",)
    _double_backward = True   # its formula also runs on Tensors (create_graph=True)

    def apply(self, g):
        # (where, not g * mask: +0.0 outside, as torch, not -0.0 under a negative g or NaN under inf)
        return (xp_of(g).where(self.mask, g, 0).astype(g.dtype, copy=False),)


class ClampBackward0(Node):
    """clamp with tensor bounds: the gradient goes to whichever of input, min, max was selected."""
    __slots__ = ("x", "lo", "hi")
    _saved_fields = ("x", "lo", "hi")
    # its formula also runs on Tensors (create_graph=True); the operands only pick the elements
    _double_backward = True
    _constant_fields = ("x", "lo", "hi")

    def apply(self, g):
        xp = xp_of(g)
        x, lo, hi = self.x, self.lo, self.hi
        zero = xp.zeros((), dtype=g.dtype)
        keep = xp.ones(x.shape, dtype=bool)
        if lo is not None:
            keep = keep & (x >= lo)
        if hi is not None:
            keep = keep & (x <= hi)
        gx = unbroadcast(B.where(xp, keep, g, zero), x.shape) if self.next_functions[0][0] is not None else None
        glo = ghi = None
        if lo is not None and self.next_functions[1][0] is not None:
            pick = (x < lo) if hi is None else (x < lo) & (lo < hi)
            glo = unbroadcast(B.where(xp, pick, g, zero), _shape(lo))
        if hi is not None and self.next_functions[2][0] is not None:
            pick = (x > hi) if lo is None else (x > hi) | (hi < lo)
            ghi = unbroadcast(B.where(xp, pick, g, zero), _shape(hi))
        return gx, glo, ghi


def _clamp_tensor(input, min, max, out):
    """clamp where min or max is a tensor: bounds join type promotion and broadcasting, as in torch."""
    dt = result_type(input, *[b for b in (min, max) if b is not None]).np

    def arr(t):
        if t is None or not isinstance(t, Tensor):
            return t
        v = t._data
        if type(v) is not type(input._data):
            v = _check_device(input._data, v)[1]
        return v if v.dtype == dt else v.astype(dt)
    d, lo, hi = arr(input), arr(min), arr(max)
    xp = xp_of(d)
    try:
        res = d
        if lo is not None:
            res = xp.maximum(res, lo)
        if hi is not None:
            res = xp.minimum(res, hi)
        res = xp.asarray(res, dtype=dt)
    except ValueError:
        other = lo if isinstance(min, Tensor) else hi
        raise _broadcast_error("clamp", d, other) from None
    if out is not None:
        return _write_out(out, res, "clamp", input)
    node = None
    if state.enabled and any(isinstance(t, Tensor) and t._requires_grad for t in (input, min, max)):
        node = ClampBackward0.__new__(ClampBackward0)
        node.next_functions = tuple(edge(t) if isinstance(t, Tensor) else (None, 0) for t in (input, min, max))
        node.x, node.lo, node.hi = d, lo, hi
        node._saved_versions = ()
    return _finish(res, node)


def clamp(input, min=None, max=None, *, out=None):
    """Limit values to [min, max]."""
    if min is None and max is None:
        raise RuntimeError("torch.clamp: At least one of 'min' or 'max' must not be None")
    refuse_complex(input._data, "clamp is not supported for complex types")
    _barebones.check("clamp", input._data)
    if isinstance(min, Tensor) or isinstance(max, Tensor):
        return _clamp_tensor(input, min, max, out)
    for name, bound in (("min", min), ("max", max)):
        if bound is not None and not isinstance(bound, (int, float, np.generic)):
            raise TypeError(f"clamp(): argument '{name}' must be Number or Tensor, not {type(bound).__name__}")
    d = input._data
    lo = min._data if isinstance(min, Tensor) else min
    hi = max._data if isinstance(max, Tensor) else max
    if d.dtype.kind != "f" and d.dtype.kind != "V" and (type(lo) is float or type(hi) is float):
        d = d.astype(B.get_default_dtype().np)
    elif d.dtype.kind == "b" and (type(lo) is int or type(hi) is int):
        d = d.astype(np.int64)   # bool with int bounds promotes to int64, as in torch
    if d.dtype.kind in "iu":     # torch casts an int bound to the tensor's dtype (uint8: -3 is 253)
        lo = _checked_int(lo, d.dtype) if type(lo) is int else lo
        hi = _checked_int(hi, d.dtype) if type(hi) is int else hi
    xp = xp_of(d)
    if d.dtype.kind == "f":
        # torch's min(max(x, lo), hi) as one clip ufunc, which agrees with torch on NaN, infinities
        # and signed zeros (x wins a tie such as 0.0 against -0.0; NumPy's maximum gives its second
        # operand in float32 and float64, its first in float16). And NumPy's maximum and minimum
        # against a number run without SIMD: 283 us each on 1M float32, clip 78 (2,000 floats:
        # 2.9 us against 3.35 for two bounds, 3.7 against 2.9 for one)
        # (the method: NumPy's clip function wraps it, ~0.4 us a call)
        res = d.clip(-math.inf if lo is None else lo, math.inf if hi is None else hi)
    else:
        res = d if lo is None else xp.maximum(d, lo)
        if hi is not None:
            res = xp.minimum(res, hi)
    if isinstance(res, _generic):
        res = _host_array(res)
    if res.dtype != d.dtype:
        res = res.astype(d.dtype)
    if out is not None:
        return _write_out(out, res, "clamp", input)
    node = None
    if state.enabled and input._requires_grad:
        node = ClampBackward1.__new__(ClampBackward1)
        node.next_functions = (edge(input),)
        mask = None if lo is None else d >= lo
        if hi is not None:
            mask = d <= hi if mask is None else mask & (d <= hi)
        node.mask = mask
        node._saved_versions = ()
    return _finish(res, node)


clip = clamp


class MaximumBackward0(Node):
    __slots__ = ("a", "b", "is_max")
    _saved_fields = ("a", "b")
    # its formula also runs on Tensors (create_graph=True: autograd/higher_order.py)
    _double_backward = True
    _saved_inputs = {"a": 0, "b": 1}
    _promoted_inputs = True   # (fields: the operands, cast to the result dtype)

    def apply(self, g):
        a, b = self.a, self.b
        pick_a = (a > b) if self.is_max else (a < b)
        tie = a == b
        xp = xp_of(g)
        half = g * 0.5
        # (where, not g * weight: +0.0 for the unpicked side, as torch, not -0.0 or NaN under inf)
        ga = B.where(xp, pick_a, g, B.where(xp, tie, half, 0)).astype(g.dtype, copy=False)
        gb = B.where(xp, pick_a, 0, B.where(xp, tie, half, g)).astype(g.dtype, copy=False)
        return unbroadcast(ga, a.shape), unbroadcast(gb, b.shape)


class MinimumBackward0(MaximumBackward0):
    __slots__ = ()


def _minmax(input, other, is_max):
    if not isinstance(other, Tensor):
        name = "maximum" if is_max else "minimum"
        raise TypeError(f"{name}(): argument 'other' (position 2) must be Tensor, not {type(other).__name__} "
                        f"(use clamp_{'min' if is_max else 'max'} for a number)")
    a, b = _operands(input, other)
    _barebones.check("maximum" if is_max else "minimum", a, b)
    refuse_complex(a, f"{'maximum' if is_max else 'minimum'} not implemented for complex tensors.", RuntimeError)
    xp = xp_of(a)
    try:
        res = xp.maximum(a, b) if is_max else xp.minimum(a, b)
    except ValueError:
        raise _broadcast_error("maximum" if is_max else "minimum", a, b) from None
    if isinstance(res, _generic):
        res = _host_array(res)
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
    # its formula also runs on Tensors (create_graph=True: autograd/higher_order.py)
    _double_backward = True

    def apply(self, g):
        c = self.cond
        xp = xp_of(g)
        ga = unbroadcast(B.where(xp, c, g, 0).astype(g.dtype, copy=False), self.a_shape) if self.a_shape is not None else None
        gb = unbroadcast(B.where(xp, c, 0, g).astype(g.dtype, copy=False), self.b_shape) if self.b_shape is not None else None
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
    xp = xp_of(c)
    if x is None and y is None:
        dt = result_type(input, other)
        res = B.where(xp, c, input, other).astype(dt.np)
    else:
        base = x if x is not None else y
        scalar = other if x is not None else input
        if type(scalar) is int and base._data.dtype.kind in "iu":
            # an int scalar takes the tensor's dtype: out of range is torch's error (arithmetic wraps it instead)
            from .creation import _checked_int
            _checked_int(scalar, base._data.dtype, c_name=True)
        a, b = _operands(base, scalar)
        if x is None:
            a, b = b, a
        if type(c) is not type(base._data):
            B.check_same_device("where", c, base._data)
        res = B.where(xp, c, a, b)
    if isinstance(res, _generic):
        res = _host_array(res)
    node = None
    if state.enabled and ((x is not None and x._requires_grad) or (y is not None and y._requires_grad)):
        node = WhereBackward0.__new__(WhereBackward0)
        node.next_functions = ((None, 0), edge(x) if x is not None else (None, 0), edge(y) if y is not None else (None, 0))
        node.cond = c
        node.a_shape = x._data.shape if x is not None else None
        node.b_shape = y._data.shape if y is not None else None
        node._saved_versions = ()
        node.next_functions = node.next_functions[1:]
        if res.dtype.kind == "c":
            real_grads_for_real_inputs(node, (x, y))
    return _finish(res, node)


class MaskedFillBackward0(Node):
    __slots__ = ("mask",)
    _saved_fields = ("mask",)
    _double_backward = True   # its formula also runs on Tensors (create_graph=True)

    def apply(self, g):
        return (unbroadcast(B.where(xp_of(g), self.mask, 0, g).astype(g.dtype, copy=False), g.shape),)


class MaskedFillBackward1(Node):
    """masked_fill with a 0-dim tensor value: the masked-out gradient to input, the masked-in sum to value."""
    __slots__ = ("mask", "value_dtype")
    _saved_fields = ("mask",)
    _double_backward = True   # its formula also runs on Tensors (create_graph=True)

    def apply(self, g):
        xp = xp_of(g)
        gi = unbroadcast(B.where(xp, self.mask, 0, g).astype(g.dtype, copy=False), g.shape)
        gv = None
        if self.next_functions[1][0] is not None:
            gv = B.where(xp, self.mask, g, 0).astype(g.dtype, copy=False).sum()
            if gv.dtype != self.value_dtype:
                gv = gv.astype(self.value_dtype)
        return gi, gv


def masked_fill(input, mask, value):
    """Set elements where mask is True to value."""
    value_tensor = None
    if isinstance(value, Tensor):
        if value.dim() != 0:
            raise RuntimeError(f"masked_fill_ only supports a 0-dimensional value tensor, but got tensor with "
                               f"{value.dim()} dimension(s). Pass value.squeeze() or a Python number.")
        if state.enabled and value._requires_grad:
            value_tensor = value
        value = value.item()
    _barebones.check("masked_fill", input._data)
    m = mask._data
    if m.dtype.kind != "b":
        raise RuntimeError(f"masked_fill_ only supports boolean masks, but got mask with dtype {mask.dtype}")
    d = input._data
    if type(m) is not type(d):
        B.check_same_device("masked_fill", d, m)
    xp = xp_of(d)
    if d.dtype.kind in "iu" and (type(value) is int or type(value) is float):   # (torch's overflow error)
        from .creation import _checked_int
        value = _checked_int(value, d.dtype, c_name=True)
    res = B.where(xp, m, xp.asarray(value, dtype=d.dtype), d)
    node = None
    if value_tensor is not None:
        node = MaskedFillBackward1.__new__(MaskedFillBackward1)
        node.next_functions = (edge(input), edge(value_tensor))
        node.mask = xp.broadcast_to(m, res.shape)
        node.value_dtype = value_tensor._data.dtype
        node._saved_versions = ()
    elif state.enabled and input._requires_grad:
        node = MaskedFillBackward0.__new__(MaskedFillBackward0)
        node.next_functions = (edge(input),)
        node.mask = xp.broadcast_to(m, res.shape)
        node._saved_versions = ()
    return _finish(res, node)


class LerpBackward0(Node):
    """lerp with a number weight: (1 - w) * g to input, w * g to end."""
    __slots__ = ("w", "s_in", "s_end")
    _double_backward = True   # its formula also runs on Tensors (create_graph=True)

    def apply(self, g):
        w = self.w
        gi = unbroadcast(g * (1 - w), self.s_in) if self.next_functions[0][0] is not None else None
        ge = unbroadcast(g * w, self.s_end) if self.next_functions[1][0] is not None else None
        return gi, ge


class LerpBackward1(Node):
    """lerp with a tensor weight: also (end - input) * g to the weight."""
    __slots__ = ("a", "e", "w")
    _saved_fields = ("a", "e", "w")
    _double_backward = True   # its formula also runs on Tensors (create_graph=True)
    _saved_inputs = {"a": 0, "e": 1, "w": 2}
    _promoted_inputs = True   # (fields: the operands, cast to the result dtype)

    def apply(self, g):
        a, e, w = self.a, self.e, self.w
        gi = unbroadcast(g * (1 - w), a.shape) if self.next_functions[0][0] is not None else None
        ge = unbroadcast(g * w, e.shape) if self.next_functions[1][0] is not None else None
        gw = unbroadcast(g * (e - a), w.shape) if self.next_functions[2][0] is not None else None
        return gi, ge, gw


def lerp(input, end, weight):
    """input + weight * (end - input), with torch's formula (from end's side when |weight| >= 0.5)."""
    a, e = input._data, end._data
    _barebones.check("lerp", a)
    if e.dtype != a.dtype:
        raise RuntimeError(f"expected dtype {B.SCALAR_NAMES[input.dtype].lower()} for `end` but got dtype "
                           f"{B.SCALAR_NAMES[end.dtype].lower()} (lerp needs input and end of one dtype)")
    if a.dtype.kind != "f" and a.dtype.kind != "c":
        raise NotImplementedError(f"\"lerp_kernel_{'tensor' if isinstance(weight, Tensor) else 'scalar'}\" not "
                                  f"implemented for '{B.SCALAR_NAMES[input.dtype]}'")
    xp = xp_of(a)
    w = weight._data.astype(a.dtype, copy=False) if isinstance(weight, Tensor) else _scalar_alpha(weight)
    if type(e) is not type(a):
        a, e = _check_device(a, e)
    try:
        diff = e - a
        if isinstance(weight, Tensor):
            small = xp.abs(w) < 0.5
            res = B.where(xp, small, a + w * diff, e - diff * (1 - w)).astype(a.dtype, copy=False)
        elif -0.5 < w < 0.5:   # a number: one formula for every element, no where over both
            res = (a + w * diff).astype(a.dtype, copy=False)
        else:
            res = (e - diff * (1 - w)).astype(a.dtype, copy=False)
    except ValueError:
        raise _broadcast_error("lerp", a, e) from None
    node = None
    tensors = (input, end, weight) if isinstance(weight, Tensor) else (input, end)
    if state.enabled and any(t._requires_grad for t in tensors):
        if isinstance(weight, Tensor):
            node = LerpBackward1.__new__(LerpBackward1)
            node.a, node.e, node.w = a, e, w
            node._saved_versions = tuple((t, t._vc[0]) for t in tensors)
        else:
            node = LerpBackward0.__new__(LerpBackward0)
            node.w, node.s_in, node.s_end = w, a.shape, e.shape
            node._saved_versions = ()
        node.next_functions = tuple(edge(t) for t in tensors)
    return _finish(res, node)


class AddcmulBackward0(Node):
    __slots__ = ("s", "t1", "t2", "value")
    _saved_fields = ("t1", "t2")
    _double_backward = True   # its formula also runs on Tensors (create_graph=True)
    _saved_inputs = {"t1": 1, "t2": 2}
    _promoted_inputs = True   # (fields: the operands, cast to the result dtype)

    def apply(self, g):
        t1, t2, v = self.t1, self.t2, self.value
        gs = unbroadcast(g, self.s) if self.next_functions[0][0] is not None else None
        g1 = unbroadcast(g * v * t2, t1.shape) if self.next_functions[1][0] is not None else None
        g2 = unbroadcast(g * v * t1, t2.shape) if self.next_functions[2][0] is not None else None
        return gs, g1, g2


class AddcdivBackward0(AddcmulBackward0):
    __slots__ = ()

    def apply(self, g):
        t1, t2, v = self.t1, self.t2, self.value
        gs = unbroadcast(g, self.s) if self.next_functions[0][0] is not None else None
        g1 = unbroadcast(g * v / t2, t1.shape) if self.next_functions[1][0] is not None else None
        g2 = unbroadcast(-g * v * t1 / (t2 * t2), t2.shape) if self.next_functions[2][0] is not None else None
        return gs, g1, g2


def _addc(cls, combine, input, tensor1, tensor2, value, scale_first=False):
    _barebones.check("addcdiv" if scale_first else "addcmul", input._data, tensor1._data, tensor2._data)
    with _no_grad():
        if scale_first:   # input + (value * tensor1) / tensor2, torch's order for addcdiv
            res = add(input, combine(mul(tensor1, _scalar_alpha(value)), tensor2))
        else:
            res = add(input, combine(tensor1, tensor2), alpha=value)
    node = None
    if state.enabled and any(isinstance(t, Tensor) and t._requires_grad for t in (input, tensor1, tensor2)):
        dt = res._data.dtype
        node = cls.__new__(cls)
        node.next_functions = tuple(edge(t) for t in (input, tensor1, tensor2))
        # addcmul's product rule; addcdiv's tensor2 is read for both gradients
        t1v, t2v = product_versions(tensor1, tensor2)
        if cls is AddcdivBackward0 and (tensor1._requires_grad or tensor2._requires_grad):
            t2v = (tensor2, tensor2._vc[0])
        node._saved_versions = (t1v, t2v)
        node.s, node.value = input._data.shape, _scalar_alpha(value)
        node.t1, node.t2 = tensor1._data.astype(dt, copy=False), tensor2._data.astype(dt, copy=False)
    return _finish(res._data, node)


def addcmul(input, tensor1, tensor2, *, value=1):
    """input + value * tensor1 * tensor2."""
    return _addc(AddcmulBackward0, mul, input, tensor1, tensor2, value)


def addcdiv(input, tensor1, tensor2, *, value=1):
    """input + value * tensor1 / tensor2 (true division: integer tensor1 and tensor2 are refused, as in torch)."""
    if tensor1._data.dtype.kind in "biu" and tensor2._data.dtype.kind in "biu":
        raise RuntimeError("Integer division with addcdiv is no longer supported, and in a future  release addcdiv "
                           "will perform a true division of tensor1 and tensor2. The historic addcdiv behavior can "
                           "be implemented as (input + value * torch.trunc(tensor1 / tensor2)).to(input.dtype) for "
                           "integer inputs and as (input + value * tensor1 / tensor2) for float inputs. The future "
                           "addcdiv behavior is just the latter implementation: (input + value * tensor1 / tensor2), "
                           "for all dtypes.")
    # (torch's kernel computes self + value * tensor1 / tensor2 left to right: value * tensor1 first; the
    # other order matched its values in 71-89 % of the elements for value 1.5, 0.1 or -2.3)
    return _addc(AddcdivBackward0, div, input, tensor1, tensor2, value, scale_first=True)


class NanToNumBackward0(Node):
    __slots__ = ("finite",)
    _saved_fields = ("finite",)
    _double_backward = True   # its formula also runs on Tensors (create_graph=True)

    def apply(self, g):
        return (g * self.finite,)


def nan_to_num(input, nan=0.0, posinf=None, neginf=None):
    """Replace NaN and infinities with finite numbers (the gradient flows through the finite ones)."""
    d = input._data
    _barebones.check("nan_to_num", d)
    xp = xp_of(d)
    if d.dtype.kind == "f" and posinf is None and neginf is None:
        # infinities to the dtype's extremes with one clip (no finite value lies past them), then NaN:
        # 3 passes where NumPy's nan_to_num makes 7 (1M float32: 574 -> 144 us)
        big = float(np.finfo(d.dtype).max)
        res = xp.clip(d, -big, big)
        holes = xp.isnan(res)
        if holes.any():
            res[holes] = nan
    else:
        res = xp.nan_to_num(d, nan=nan, posinf=posinf, neginf=neginf)
    node = None
    if state.enabled and input._requires_grad:
        node = NanToNumBackward0.__new__(NanToNumBackward0)
        node.next_functions = (edge(input),)
        node.finite = xp.isfinite(d)
        node._saved_versions = ()
    return _finish(res, node)


# ---- comparisons and logic (never differentiable) ----------------------------
def _compare(name, ufunc):
    np_ufunc = getattr(np, ufunc)
    ordered = name in ("lt", "le", "gt", "ge")

    def op(input, other, *, out=None):
        if not isinstance(input, Tensor):
            input = _as_tensor(input)
        a, b = _operands(input, other)
        if ordered and a.dtype.kind == "c":
            refuse_complex(a, f"\"{name}_cpu\" not implemented for '{{}}'")
        if ordered or name[0] == "l":   # (lt ... ge, logical_*: torch refuses the barebones dtypes)
            _barebones.check(name, a, b)
        try:
            res = np_ufunc(a, b) if type(a) is _ndarray else getattr(xp_of(a), ufunc)(a, b)
        except ValueError:
            raise _broadcast_error(name, a, b) from None
        if isinstance(res, _generic):
            res = _host_array(res)
        if out is not None:
            return _write_out(out, res, name, input, other)
        return _wrap(res)
    op.__name__ = op.__qualname__ = name
    op.__doc__ = f"Elementwise {name} comparison, giving a bool tensor."
    return op


eq = _compare("eq", "equal")
ne = not_equal = _compare("ne", "not_equal")
lt = less = _compare("lt", "less")
le = less_equal = _compare("le", "less_equal")
gt = greater = _compare("gt", "greater")
ge = greater_equal = _compare("ge", "greater_equal")
logical_and = _compare("logical_and", "logical_and")
logical_or = _compare("logical_or", "logical_or")
logical_xor = _compare("logical_xor", "logical_xor")


def _bitwise(name, ufunc):
    def op(input, other, *, out=None):
        a, b = _operands(_as_tensor(input), other)
        _barebones.check(name, a, b)
        if _result_dtype(a, b).kind in "fcV":
            dt = result_type(_as_tensor(input), other)
            raise NotImplementedError(f"\"{name}_cpu\" not implemented for '{B.SCALAR_NAMES[dt]}' (bitwise ops "
                                      "need integer or bool tensors)")
        res = getattr(xp_of(a), ufunc)(a, b)
        return _wrap(_host_array(res) if isinstance(res, _generic) else res)
    op.__name__ = op.__qualname__ = name
    op.__doc__ = f"Elementwise {name}."
    return op


bitwise_and = _bitwise("bitwise_and", "bitwise_and")
bitwise_or = _bitwise("bitwise_or", "bitwise_or")
bitwise_xor = _bitwise("bitwise_xor", "bitwise_xor")


def _elementwise(input, fname):
    d = input._data
    res = getattr(xp_of(d), fname)(d)
    return _wrap(_host_array(res) if isinstance(res, _generic) else res)


def bitwise_not(input):
    """Elementwise NOT for bool / integer tensors."""
    d = input._data
    _barebones.check("bitwise_not", d)
    if d.dtype.kind == "f":
        raise NotImplementedError(f"\"bitwise_not_cpu\" not implemented for '{B.SCALAR_NAMES[input.dtype]}' "
                                  "(bitwise_not needs an integer or bool tensor)")
    return _elementwise(input, "invert")


def _invert(self):
    if self._data.dtype.kind == "f" or self._data.dtype.kind == "V":   # (bfloat16, float8 too)
        raise TypeError("~ (operator.invert) is only implemented on integer and Boolean-type tensors")
    return bitwise_not(self) if self.dtype is not B.bool_ else logical_not(self)


def logical_not(input, *, out=None):
    """Elementwise logical NOT, giving bool."""
    _barebones.check("logical_not", input._data)
    return _elementwise(input, "logical_not")


def isnan(input):
    """True where the element is NaN."""
    return _elementwise(input, "isnan")


def isinf(input):
    """True where the element is +/-inf."""
    _barebones.check("isinf", input._data)
    return _elementwise(input, "isinf")


def isfinite(input):
    """True where the element is finite."""
    _barebones.check("isfinite", input._data)
    if input._data.dtype.name == "float8_e8m0fnu":   # (torch's kernel: true everywhere, its NaN too)
        return _wrap(xp_of(input._data).ones(input._data.shape, bool))
    return _elementwise(input, "isfinite")


def equal(input, other):
    """True if both tensors have the same size and elements."""
    a, b = input._data, other._data
    _barebones.check("equal", a, b)
    if type(a) is not type(b):
        B.check_same_device("equal", a, b)
    return a.shape == b.shape and bool(xp_of(a).array_equal(a, b))


def _same_dtypes(input, other):
    """torch's isclose/allclose compare tensors of one dtype only."""
    if isinstance(other, Tensor) and other.dtype is not input.dtype:
        raise RuntimeError(f"{B.SCALAR_NAMES[input.dtype]} did not match {B.SCALAR_NAMES[other.dtype]}")


def isclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    """Elementwise closeness, as torch.isclose."""
    _same_dtypes(input, other)
    a, b = _operands(input, other)
    _barebones.check("isclose", a)
    res = xp_of(a).isclose(a, b, rtol=rtol, atol=atol, equal_nan=equal_nan)
    return _wrap(_host_array(res) if isinstance(res, _generic) else res)


def allclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    """True if all elements are close, as torch.allclose."""
    _same_dtypes(input, other)
    a, b = _operands(input, other)
    _barebones.check("isclose", a)
    return bool(xp_of(a).allclose(a, b, rtol=rtol, atol=atol, equal_nan=equal_nan))


# ---- out= and in-place -------------------------------------------------------
def _write_out(out, res, name, *inputs, resize_warning=True):
    if state.enabled and any(isinstance(t, Tensor) and t._requires_grad for t in inputs):
        raise RuntimeError(
            f"{name}(): functions with out=... arguments don't support automatic differentiation, "
            "but one of the arguments requires grad. Call it under torch.no_grad() or drop out=.")
    if isinstance(res, _generic):
        res = _host_array(res)
    refused = refused_write(out._data, name)
    if refused is not None:
        raise refused
    if type(res) is not type(out._data):
        B.check_same_device(name, res, out._data)
    if not B.can_cast_np(res.dtype, out._data.dtype):
        raise RuntimeError(f"result type {B.SCALAR_NAMES[B.dtype_of(res)]} can't be cast to the desired output "
                           f"type {B.SCALAR_NAMES[out.dtype]} ({name}() with out=): pass an out tensor of "
                           f"dtype {B.dtype_of(res)}, or drop out=")
    xp = xp_of(res)
    if out._data.shape != res.shape:
        if out._data.size and resize_warning:
            _warn_user(f"An output with one or more elements was resized since it had shape {list(out._data.shape)}, "
                       f"which does not match the required output shape {list(res.shape)}. This behavior is "
                       "deprecated, and in a future PyTorch release outputs will not be resized unless they have "
                       "zero elements. You can explicitly reuse an out tensor t by resizing it, inplace, to zero "
                       "elements with t.resize_(0).")
        out._data = xp.empty(res.shape, dtype=out._data.dtype)
    xp.copyto(out._data, res, casting="unsafe")   # (checked above with torch's rule: integers wrap)
    out._vc[0] += 1
    return out


def out_variant(fn, name, dtype_from_out=False):
    """fn with torch's out=: the result (or each result of a tuple) written into out, which is returned.
    dtype_from_out: fn takes dtype=, and computes in out's dtype unless given one (torch's sum & co)."""
    import functools

    @functools.wraps(fn)
    def with_out(*args, out=None, **kwargs):
        if out is None:
            return fn(*args, **kwargs)
        inputs = [a for a in args if isinstance(a, Tensor)] + [v for v in kwargs.values() if isinstance(v, Tensor)]
        if dtype_from_out and kwargs.get("dtype") is None and isinstance(out, Tensor):
            kwargs["dtype"] = out.dtype
        res = fn(*args, **kwargs)
        if isinstance(res, Tensor):
            if not isinstance(out, Tensor):
                raise TypeError(f"{name}(): argument 'out' must be Tensor, not {type(out).__name__}")
            return _write_out(out, res._data, name, *inputs)
        if not isinstance(out, (tuple, list)) or len(out) != len(res):
            raise TypeError(f"{name}(): argument 'out' must be a tuple of {len(res)} Tensors, as the function "
                            f"returns {len(res)}")
        written = [_write_out(o, r._data, name, *inputs) for o, r in zip(out, res)]
        return type(res)(*written) if hasattr(res, "_fields") else type(res)(written)
    return with_out


def _inplace(self, res, op, args):
    """Store res into self's memory; with autograd, rebase self onto the out-of-place node."""
    _check_inference(self)
    if state.enabled and (self._requires_grad or any(isinstance(a, Tensor) and a._requires_grad for a in args)):
        if self._base is not None:
            from .shape import check_view_inplace
            check_view_inplace(self)
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
            rebase_inplace_view(self, graph_out.grad_fn, old, graph_out)
        else:
            old_fn = self.grad_fn
            self.grad_fn = graph_out.grad_fn
            self._requires_grad = True
            if self._retains_grad:
                move_retained_grad(self, old_fn)
        return self
    d = self._data
    if res.dtype != d.dtype:
        if not B.can_cast_np(res.dtype, d.dtype):
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
    if type(res) is not type(d):
        res = _check_device(d, res)[1]
    xp_of(d).copyto(d, res, casting="unsafe")
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


def _add_sub_in_graph(self, other, ufunc, node_cls):
    """self.add_(other) / sub_ in a graph, other of self's shape and dtype: straight into self's memory,
    as torch, since the node saves neither operand (the residual `out += identity`, 4 x 64 x 56 x 56:
    856 -> 235 us; torch 106)."""
    node = _new(node_cls)
    node.next_functions = (edge(self), edge(other))
    node._saved_versions = ()
    node.a_shape = node.b_shape = self._data.shape
    node.alpha = 1
    ufunc(self._data, other._data, out=self._data)
    self._vc[0] += 1
    old_fn, self.grad_fn = self.grad_fn, node
    if self._retains_grad:
        move_retained_grad(self, old_fn)
    return self


def _fast_inplace(ufunc, name):
    """add_/sub_/mul_/div_: a ufunc (by name) writing straight into storage without autograd, and for
    add_/sub_ of a same-shape tensor with it."""
    np_ufunc = getattr(np, ufunc)
    node_cls = {"add": AddBackward0, "sub": SubBackward0}.get(name)

    def method(self, other, _other=None, *, alpha=None):
        if _other is not None:
            other, alpha = _deprecated_alpha(name + "_", other, _other)
        if self._vc.__class__ is not list:
            _check_inference(self)
        if state.enabled and (self._requires_grad or (isinstance(other, Tensor) and other._requires_grad)):
            if node_cls is not None and alpha is None and type(other) is Tensor and self.grad_fn is not None \
                    and self._base is None:
                d, b = self._data, other._data
                if type(d) is _ndarray and type(b) is _ndarray and d.dtype is b.dtype and d.shape == b.shape \
                        and d.dtype.kind == "f" and d.flags.writeable:
                    return _add_sub_in_graph(self, other, np_ufunc, node_cls)
            kwargs = {} if alpha is None else {"alpha": alpha}
            return _inplace(self, None, lambda s, o: _OPS[name](s, o, **kwargs), (other,))
        d = self._data
        if d.dtype is not _F32 and d.dtype in _BAREBONES:   # (uint16 & co.: torch's add_ and sub_ refuse them, mul_ takes them)
            _OPS[name](self, other)
        b = other._data if isinstance(other, Tensor) else other
        if alpha is not None:
            alpha = _alpha_for(alpha, d.dtype)
            if alpha != 1:
                b = b * alpha
        if type(d) is _ndarray:
            f = np_ufunc
        else:
            f = getattr(xp_of(d), ufunc)
        if isinstance(other, Tensor) and type(b) is not type(d):
            b = _check_device(d, b)[1]
        if name == "sub":
            _refuse_bool_sub(d.dtype.kind == "b", _is_bool(other))
        try:
            f(d, b, out=d, casting="same_kind")
        except TypeError:
            res_dt = result_type(self, other)
            if not B.can_cast_np(res_dt.np, d.dtype):
                raise RuntimeError(
                    f"result type {B.SCALAR_NAMES[res_dt]} can't be cast to the desired output type "
                    f"{B.SCALAR_NAMES[self.dtype]} ({name}_ on a {self.dtype} tensor)") from None
            # torch casts any integer result into an integer tensor (wrapping); NumPy only within a kind
            f(d, b, out=d, casting="unsafe")
        except OverflowError:   # a Python int past an integer tensor's range: NumPy refuses it
            if d.dtype.kind not in "iu":
                raise
            if name == "div":
                raise RuntimeError(f"result type {B.SCALAR_NAMES[B.get_default_dtype()]} can't be cast to the "
                                   f"desired output type {B.SCALAR_NAMES[self.dtype]} (div_ on a {self.dtype} "
                                   "tensor: use div() or a float tensor)") from None
            if not -2 ** 63 <= b < 2 ** 64:
                raise OverflowError(f"int too big to convert ({name}_ takes scalars within 64 bits)") from None
            f(d, _wrapped(b, d.dtype), out=d, casting="unsafe")   # torch wraps it, as the out-of-place op does
        except ValueError as e:
            if "read-only" in str(e):
                raise refused_write(d, name + "_") from None
            raise RuntimeError(
                f"output with shape {list(d.shape)} doesn't match the broadcast shape "
                f"{list(np.broadcast_shapes(d.shape, getattr(b, 'shape', ())))}") from None
        self._vc[0] += 1
        return self
    method.__name__ = name + "_"
    method.__doc__ = f"In-place {name}."
    return method


_OPS = {"add": add, "sub": sub, "mul": mul, "div": div}


def _register():
    T = Tensor

    def rsub_(self, other):
        return rsub(self, other)

    def rtruediv(self, other):
        # torch computes `other / tensor` as reciprocal(tensor) * other (MulBackward0)
        return mul(reciprocal(self), other)

    def rpow(self, other):
        return pow(other, self)

    def scalar_tensor(self, other):
        # a Python number as torch wraps it: its default dtype, so 2.5 // int_tensor is float32 (a NumPy
        # scalar counts as the Python number it holds, as everywhere else)
        if isinstance(other, np.generic):
            other = other.item()
        return _wrap(xp_of(self._data).asarray(other, dtype=_scalar_dtype(other).np))

    def rfloordiv(self, other):
        return floor_divide(scalar_tensor(self, other), self)

    def rmod(self, other):
        return remainder(scalar_tensor(self, other), self)

    def operator_of(fn, name):
        """fn as a binary operator: NotImplemented for an operand it can't take (see _OPERANDS)."""
        def method(self, other):
            if other.__class__ is Tensor or isinstance(other, _OPERANDS):
                return fn(self, other)
            return NotImplemented
        method.__name__ = method.__qualname__ = name
        return method

    T.__add__ = T.__radd__ = _add_operator
    T.__iadd__ = lambda s, o: s.add_(o)
    T.__sub__ = _sub_operator
    T.__rsub__ = operator_of(rsub_, "__rsub__")
    T.__isub__ = lambda s, o: s.sub_(o)
    T.__mul__ = T.__rmul__ = _mul_operator
    T.__imul__ = lambda s, o: s.mul_(o)
    T.__truediv__ = _div_operator
    T.__rtruediv__ = operator_of(rtruediv, "__rtruediv__")
    T.__itruediv__ = T.__idiv__ = lambda s, o: s.div_(o)
    T.__floordiv__ = operator_of(floor_divide, "__floordiv__")
    T.__rfloordiv__ = operator_of(rfloordiv, "__rfloordiv__")
    # in place, as torch: without them Python rebinds the name and a view's base would not change
    T.__ifloordiv__ = lambda s, o: s.floor_divide_(o)
    T.__mod__ = operator_of(remainder, "__mod__")
    T.__rmod__ = operator_of(rmod, "__rmod__")
    T.__imod__ = lambda s, o: s.remainder_(o)
    T.__pow__ = operator_of(pow, "__pow__")
    T.__rpow__ = operator_of(rpow, "__rpow__")
    T.__ipow__ = lambda s, o: s.pow_(o)
    T.__neg__ = neg
    T.__pos__ = lambda s: s
    T.__abs__ = abs
    def compare_or_not(op):
        def method(self, other):
            try:
                return op(self, other)
            except TypeError:
                return NotImplemented  # x == None is False, as in torch: Python then compares identity
        method.__name__ = f"__{op.__name__}__"
        return method

    T.__eq__ = compare_or_not(eq)
    T.__ne__ = compare_or_not(ne)
    T.__lt__ = operator_of(lt, "__lt__")
    T.__le__ = operator_of(le, "__le__")
    T.__gt__ = operator_of(gt, "__gt__")
    T.__ge__ = operator_of(ge, "__ge__")
    T.__and__ = T.__rand__ = operator_of(bitwise_and, "__and__")
    T.__or__ = T.__ror__ = operator_of(bitwise_or, "__or__")
    T.__xor__ = T.__rxor__ = operator_of(bitwise_xor, "__xor__")
    T.__invert__ = _invert
    T.__iand__ = lambda s, o: _inplace(s, bitwise_and(s, o)._data, bitwise_and, (o,))
    T.__ior__ = lambda s, o: _inplace(s, bitwise_or(s, o)._data, bitwise_or, (o,))
    T.__ixor__ = lambda s, o: _inplace(s, bitwise_xor(s, o)._data, bitwise_xor, (o,))
    T.__hash__ = object.__hash__   # identity, as torch (defining __eq__ would otherwise drop it)
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
    T.add_ = _fast_inplace("add", "add")
    T.sub_ = _fast_inplace("subtract", "sub")
    T.mul_ = _fast_inplace("multiply", "mul")
    T.div_ = _make_inplace(div, "div_")
    T.subtract_, T.multiply_, T.divide_, T.true_divide_ = T.sub_, T.mul_, T.div_, T.div_
    for fn in (pow, neg, abs, exp, log, sqrt, rsqrt, sin, cos, tanh, sigmoid, relu, floor, ceil, round,
               trunc, sign, reciprocal, clamp, floor_divide, remainder, fmod, masked_fill, lerp,
               addcmul, addcdiv, square, log1p, expm1, maximum, minimum, logical_not, nan_to_num):
        setattr(T, fn.__name__ + "_", _make_inplace(fn, fn.__name__ + "_"))
    T.clip_ = T.clamp_
    global _relu_inplace_general
    _relu_inplace_general, T.relu_ = T.relu_, _relu_inplace
    T.neg_ = T.negative_ = _make_inplace(neg, "neg_")
    real_abs_ = T.abs_

    def abs_(self):
        """In-place abs (torch refuses it for complex tensors: |z| is real)."""
        if self._data.dtype.kind == "c":
            raise RuntimeError("In-place abs is not supported for complex tensors. (use z.abs(), a real tensor)")
        return real_abs_(self)
    T.abs_ = T.absolute_ = abs_


_register()

subtract, multiply, divide, true_divide = sub, mul, div, div
greater, less, greater_equal, less_equal = gt, lt, ge, le


# ---- atan2, clamp_min / clamp_max ----------------------------------------------------------------
class Atan2Backward0(Node):
    __slots__ = ("a", "b")
    _saved_fields = ("a", "b")
    _double_backward = True   # its formula also runs on Tensors (create_graph=True)
    _saved_inputs = {"a": 0, "b": 1}
    _promoted_inputs = True   # (fields: the operands, cast to the result dtype)

    def apply(self, g):
        a, b = self.a, self.b
        den = a * a + b * b
        ga = unbroadcast(g * b / den, a.shape) if self.next_functions[0][0] is not None else None
        gb = unbroadcast(-g * a / den, _shape(b)) if self.next_functions[1][0] is not None else None
        return ga, gb


def atan2(input, other, *, out=None):
    """Elementwise arctangent of input / other, in the quadrant given by both signs."""
    if not isinstance(other, Tensor):
        raise TypeError(f"atan2(): argument 'other' (position 2) must be Tensor, not {type(other).__name__} "
                        "(wrap a number with torch.tensor(...))")
    a, b = _operands(_as_tensor(input), other, to_float=True)
    kernel_for(a.dtype, "atan2_cpu", "fiub")
    if a.dtype.kind != "f":
        f = B.get_default_dtype().np
        a, b = a.astype(f), b.astype(f)
    try:
        res = xp_of(a).arctan2(a, b)
    except ValueError:
        raise _broadcast_error("atan2", a, b) from None
    if isinstance(res, _generic):
        res = _host_array(res)
    if out is not None:
        return _write_out(out, res, "atan2", input, other)
    node = None
    if _grad_needed(input, other):
        node = _node(Atan2Backward0, input, other)
        node.a, node.b = a, b
        node._saved_versions = ((input, input._vc[0]), (other, other._vc[0]))
    return _finish(res, node)


arctan2 = atan2


class ClampMinBackward0(ClampBackward1):
    __slots__ = ()


class ClampMaxBackward0(ClampMinBackward0):
    __slots__ = ()


class ClampMinBackward1(Node):
    __slots__ = ("mask", "a_shape", "b_shape")
    _saved_fields = ("mask",)
    _double_backward = True   # its formula also runs on Tensors (create_graph=True)

    def apply(self, g):
        xp = xp_of(g)
        m = self.mask
        ga = gb = None
        if self.next_functions[0][0] is not None:
            ga = unbroadcast(B.where(xp, m, g, 0).astype(g.dtype, copy=False), self.a_shape)
        if self.next_functions[1][0] is not None:
            gb = unbroadcast(B.where(xp, m, 0, g).astype(g.dtype, copy=False), self.b_shape)
        return ga, gb


class ClampMaxBackward1(ClampMinBackward1):
    __slots__ = ()


def _clamp_bound(input, bound, is_min, out):
    name = "clamp_min" if is_min else "clamp_max"
    _barebones.check(name, input._data)
    if bound is None or not isinstance(bound, (Tensor, int, float, np.generic)):
        raise TypeError(f"{name}(): argument '{name[6:]}' must be a number or a Tensor, not "
                        f"{type(bound).__name__}")
    if not isinstance(bound, Tensor):
        if isinstance(bound, np.generic):
            bound = bound.item()
        # the scalar bound: clamp itself (one-sided), under torch's node name
        with _no_grad():
            res = clamp(input, bound, None) if is_min else clamp(input, None, bound)
        if out is not None:
            return _write_out(out, res._data, name, input)
        node = None
        if state.enabled and input._requires_grad:
            cls = ClampMinBackward0 if is_min else ClampMaxBackward0
            node = cls.__new__(cls)
            node.next_functions = (edge(input),)
            d = input._data
            node.mask = (d >= bound) if is_min else (d <= bound)
            node._saved_versions = ()
        return _finish(res._data, node)
    a, b = _operands(_as_tensor(input), bound)
    xp = xp_of(a)
    try:
        res = xp.maximum(a, b) if is_min else xp.minimum(a, b)
    except ValueError:
        raise _broadcast_error(name, a, b) from None
    if isinstance(res, _generic):
        res = _host_array(res)
    if out is not None:
        return _write_out(out, res, name, input, bound)
    node = None
    if _grad_needed(input, bound):
        node = _node(ClampMinBackward1 if is_min else ClampMaxBackward1, input, bound)
        node.mask = xp.broadcast_to((a >= b) if is_min else (a <= b), res.shape)
        node.a_shape, node.b_shape = a.shape, b.shape
    return _finish(res, node)


def clamp_min(input, min, *, out=None):
    """Limit values from below: max(input, min), with min a number or a tensor."""
    return _clamp_bound(input, min, True, out)


def clamp_max(input, max, *, out=None):
    """Limit values from above: min(input, max), with max a number or a tensor."""
    return _clamp_bound(input, max, False, out)


def _register_more():
    T = Tensor
    T.atan2 = T.arctan2 = atan2
    T.clamp_min, T.clamp_max = clamp_min, clamp_max
    T.atan2_ = T.arctan2_ = _make_inplace(atan2, "atan2_")
    T.clamp_min_ = _make_inplace(clamp_min, "clamp_min_")
    T.clamp_max_ = _make_inplace(clamp_max, "clamp_max_")


_register_more()
__all__ += ["atan2", "arctan2", "clamp_min", "clamp_max"]


# ---- more math: sgn, exp2, erfc, erfinv, logit, sinc, deg2rad, ... -------------------------------
_PI = math.pi
_SQRT_PI_OVER_2 = math.sqrt(math.pi) / 2


_ERFC_FAR = []


def _erfc_far_coefs():
    if not _ERFC_FAR:
        from numpy.polynomial import chebyshev as C

        def one(v):
            if v > 1 / 25:
                return math.erfc(1 / v) * math.exp(1 / (v * v)) / v
            r = v * v   # the asymptotic series, good to ~1e-13 beyond x = 25
            return (1 - r / 2 + 3 * r * r / 4 - 15 * r ** 3 / 8 + 105 * r ** 4 / 16) / math.sqrt(math.pi)

        def f(u):  # w = 1/x = (u + 1) / 12 in [0, 1/6]; Python floats only (made once, on the host)
            return [one((float(v) + 1) / 12) if float(v) > -1 else 1 / math.sqrt(math.pi) for v in u]
        _ERFC_FAR[:] = C.chebinterpolate(f, 16).tolist()
    return _ERFC_FAR


def _erfc(xp, x):
    # 1 - erf loses all digits in the tail: there use the Chebyshev fit of erfc itself
    from .activation import _ERF_COEFS, _erf_coefs, _chebval, _erfc32
    if type(x) is np.ndarray and x.dtype.kind == "f" and x.dtype.itemsize <= 4:
        return _erfc32(x)
    co = (_ERF_COEFS or _erf_coefs())[1]
    a = xp.abs(x).astype(np.float64)
    res = 1 - _erf(xp, a)
    big = a > 2
    if big.any():
        ab = xp.clip(a, 2.0, 6.0)
        tail = _chebval((1 / ab - 1 / 6) * 6 - 1, co) * xp.exp(-ab * ab) / ab
        far = a > 6
        if far.any():  # erfc(x) * x * exp(x^2) is smooth in 1/x on [0, 1/6]: a fit of its own
            af = xp.maximum(a, 6.0)
            with B.errstate(xp, under="ignore"):
                tail = B.where(xp, far, _chebval(12 / af - 1, _erfc_far_coefs()) * xp.exp(-af * af) / af, tail)
        res = B.where(xp, big, tail, res)
    res = B.where(xp, x < 0, 2 - res, res)
    return res.astype(x.dtype, copy=False)


def _erfinv(xp, y):
    # Giles' single-precision approximation, then two Newton steps on erf (good to ~1e-15)
    yd = y.astype(np.float64)
    with B.errstate(xp, divide="ignore", invalid="ignore"):
        w = -xp.log((1 - yd) * (1 + yd))
        small = w < 5
        ws = B.where(xp, small, w - 2.5, xp.sqrt(B.where(xp, small, 5.0, w)) - 3)
        p1 = [2.81022636e-08, 3.43273939e-07, -3.5233877e-06, -4.39150654e-06, 0.00021858087, -0.00125372503,
              -0.00417768164, 0.246640727, 1.50140941]
        p2 = [-0.000200214257, 0.000100950558, 0.00134934322, -0.00367342844, 0.00573950773, -0.0076224613,
              0.00943887047, 1.00167406, 2.83297682]
        ps = p1[0]
        pb = p2[0]
        for c1, c2 in zip(p1[1:], p2[1:]):
            ps = c1 + ps * ws
            pb = c2 + pb * ws
        x = B.where(xp, small, ps, pb) * yd
        # Giles' approximation is good to ~1e-7: one Newton step makes that ~1e-14, past float32's
        # precision; float64 takes a second (erfinv on 2,000 float32: 260 -> 188 us)
        for _ in range(2 if y.dtype.itemsize > 4 else 1):
            err = _erf(xp, x) - yd
            x = x - err / (_TWO_OVER_SQRT_PI * xp.exp(-x * x))
        x = B.where(xp, yd == 1, np.inf, B.where(xp, yd == -1, -np.inf, x))
        x = B.where(xp, xp.abs(yd) > 1, np.nan, x)
    return x.astype(y.dtype, copy=False)


def _sinc(xp, x):
    px = x * _PI
    with B.errstate(xp, divide="ignore", invalid="ignore"):
        return B.where(xp, x == 0, 1, xp.sin(px) / B.where(xp, x == 0, 1, px)).astype(x.dtype, copy=False)


def _sinc_grad(xp, g, x, y):
    with B.errstate(xp, divide="ignore", invalid="ignore"):
        d = B.where(xp, x == 0, 0, (xp.cos(x * _PI) - y) / B.where(xp, x == 0, 1, x))
    return (g * d).astype(g.dtype, copy=False)


def _sgn_fwd(xp, x):
    return xp.sign(x) if x.dtype.kind == "c" else _sign(xp, x)   # z / |z|; of a real tensor its sign


def _sgn_grad(xp, g, x, y):
    if x.dtype.kind != "c":
        return xp.zeros_like(g)
    # torch's sgn_backward: s = z/|z| has ds/dz = 1/(2|z|), ds/dconj(z) = -s^2/(2|z|); 0 at z == 0
    a = xp.abs(x)
    with B.errstate(xp, divide="ignore", invalid="ignore"):
        r = (g - y * y * g.conj()) / (2 * a)
    return B.where(xp, a == 0, 0, r).astype(g.dtype, copy=False)


sgn, SgnBackward0 = _unary("sgn", _sgn_fwd, _sgn_grad, float_only=False, saves="xy", holomorphic=False)
SgnBackward0._double_backward = True   # real inputs: a zero gradient, constant
exp2, Exp2Backward0 = _unary("exp2", "exp2", lambda xp, g, x, y: g * y * _LN2, saves="y")
# (torch's kernels for these and the special functions have no complex version: kernel= refuses it)
erfc, ErfcBackward0 = _unary("erfc", _erfc, lambda xp, g, x, y: -g * _TWO_OVER_SQRT_PI * xp.exp(-x * x),
                             kernel=("erfc_vml_cpu", "fiub"))
erfinv, ErfinvBackward0 = _unary("erfinv", _erfinv,
                                 lambda xp, g, x, y: g * _SQRT_PI_OVER_2 * xp.exp(y * y), saves="xy",
                                 kernel=("erfinv_vml_cpu", "fiub"))
sinc, SincBackward0 = _unary("sinc", _sinc, _sinc_grad, saves="xy")
for _cls in (Exp2Backward0, ErfcBackward0, ErfinvBackward0, SincBackward0):
    _cls._double_backward = True   # their formulas also run on Tensors (create_graph=True)
def _degree_factor(name, factor):
    def fwd(xp, x):
        if x.dtype.kind == "c":
            raise RuntimeError(f"{name} is not supported for complex tensors.")
        return x * x.dtype.type(factor)
    return fwd


deg2rad, Deg2RadBackward0 = _unary("deg2rad", _degree_factor("deg2rad", _PI / 180),
                                   lambda xp, g, x, y: g * g.dtype.type(_PI / 180), saves="",
                                   node_name="Deg2RadBackward0")
rad2deg, Rad2DegBackward0 = _unary("rad2deg", _degree_factor("rad2deg", 180 / _PI),
                                   lambda xp, g, x, y: g * g.dtype.type(180 / _PI), saves="",
                                   node_name="Rad2DegBackward0")
Deg2RadBackward0._double_backward = Rad2DegBackward0._double_backward = True   # (constant factors)


def _fix_fwd(xp, x):
    if x.dtype.kind == "b":
        raise NotImplementedError("\"trunc_vml_cpu\" not implemented for 'Bool' (fix/trunc need a number tensor)")
    return xp.trunc(x) if x.dtype.kind == "f" else x.copy()


fix, _FixBackward = _unary("fix", _fix_fwd, _zero, float_only=False, saves="", node_name="TruncBackward0")
_FixBackward._double_backward = True   # a zero gradient, constant


class LogitBackward0(Node):
    __slots__ = ("x", "eps")
    _saved_fields = ("x",)
    _double_backward = True   # its formula also runs on Tensors (create_graph=True)

    def apply(self, g):
        x, eps = self.x, self.eps
        xp = xp_of(g)
        with B.errstate(xp, divide="ignore", invalid="ignore"):
            d = g / (x * (1 - x))
            if eps is not None:
                d = B.where(xp, (x < eps) | (x > 1 - eps), 0, d)
            else:   # (torch's: outside [0, 1] logit is nan, and so is its gradient)
                d = B.where(xp, (x < 0) | (x > 1), float("nan"), d)
        return (d.astype(g.dtype, copy=False),)


def logit(input, eps=None, *, out=None):
    """log(p / (1 - p)), with p clamped to [eps, 1 - eps] when eps is given."""
    d = input._data
    kernel_for(d.dtype, "logit_cpu", "fiub")
    if d.dtype.kind != "f":
        d = d.astype(B.get_default_dtype().np)
    xp = xp_of(d)
    z = d if eps is None else xp.clip(d, eps, 1 - eps)
    with B.errstate(xp, divide="ignore", invalid="ignore"):
        res = xp.log(z / (1 - z)).astype(d.dtype, copy=False)
    res = _host_array(res) if isinstance(res, _generic) else res
    if out is not None:
        return _write_out(out, res, "logit", input)
    node = None
    if state.enabled and input._requires_grad:
        node = LogitBackward0.__new__(LogitBackward0)
        node.next_functions = (edge(input),)
        node.x, node.eps = d, eps
        node._saved_versions = ((input, input._vc[0]),)
    return _finish(res, node)


def positive(input):
    """input itself (torch.positive returns its argument); bool tensors are refused as torch does."""
    if input._data.dtype.kind == "b":
        raise RuntimeError("The `+` operator, on a bool tensor is not supported.")
    return input


def _predicate(name, fn):
    def op(input, *, out=None):
        d = input._data
        res = fn(xp_of(d), d)
        res = _host_array(res) if isinstance(res, _generic) else res
        if out is not None:
            return _write_out(out, res, name, input)
        return _wrap(res)
    op.__name__ = op.__qualname__ = name
    op.__doc__ = f"Elementwise {name}, giving a bool tensor."
    return op


signbit = _predicate("signbit", lambda xp, d: xp.signbit(d) if d.dtype.kind == "f" else
                     (d < 0) if d.dtype.kind == "i" else xp.zeros(d.shape, dtype=bool))
isposinf = _predicate("isposinf", lambda xp, d: xp.isposinf(d) if d.dtype.kind == "f" else
                      xp.zeros(d.shape, dtype=bool))
isneginf = _predicate("isneginf", lambda xp, d: xp.isneginf(d) if d.dtype.kind == "f" else
                      xp.zeros(d.shape, dtype=bool))


# ---- more binary math: xlogy, hypot, logaddexp, fmax / fmin, heaviside, float_power ----------------
def _binary(name, fwd, grads, node_name, float_only=True, int_error=False, scalar_other_name=None,
            complex_error=None, bf16=None):
    """A binary op on broadcast operands: fwd(xp, a, b) -> res and grads(xp, g, a, b, res) -> (ga, gb),
    both on raw arrays.  A Python-number `other` gets no edge (torch's *Backward2 node for xlogy).
    complex_error: torch's (exception, message) for complex operands; "ok" computes them (else a
    float_only op refuses them with torch's kernel error).  bfloat16 operands compute in float32, rounded
    once, backward too; bf16: (fwd, grads) for them instead, on float32 arrays, rounding where torch does."""
    cls = type(node_name, (Node,), {"__slots__": ("a", "b", "out", "b_shape"), "_saved_fields": ("a", "b", "out"),
                                    "apply": lambda self, g: self._apply(g),
                                    # traced for create_graph=True (higher_order.py) by the nodes that opt in
                                    "_saved_inputs": {"a": 0, "b": 1}, "_promoted_inputs": True,
                                    "_output_fields": ("out",)})

    def _apply(self, g):
        xp = xp_of(g)
        ga, gb = grads(xp, g, self.a, self.b, self.out)
        ga = unbroadcast(ga.astype(g.dtype, copy=False), self.a.shape) if self.next_functions[0][0] is not None \
            and ga is not None else None
        if len(self.next_functions) == 1:
            return (ga,)
        gb = unbroadcast(gb.astype(g.dtype, copy=False), self.b_shape) if self.next_functions[1][0] is not None \
            and gb is not None else None
        return ga, gb
    cls._apply = _apply
    scls = type(scalar_other_name, (cls,), {"__slots__": ()}) if scalar_other_name else cls
    if bf16:   # (same-named nodes whose formulas are bf16's)
        bgrads = bf16[1]
        battrs = {"__slots__": (), "_double_backward": False,
                  "apply": lambda self, g: _apply_with(self, g, bgrads)}
        bcls = type(node_name, (cls,), dict(battrs))
        bscls = type(scalar_other_name, (scls,), dict(battrs)) if scalar_other_name else bcls

    def _apply_with(self, g, fn):
        ga, gb = fn(xp_of(g), g, self.a, self.b, self.out)
        ga = unbroadcast(ga, self.a.shape) if self.next_functions[0][0] is not None and ga is not None else None
        if len(self.next_functions) == 1:
            return (ga,)
        gb = unbroadcast(gb, self.b_shape) if self.next_functions[1][0] is not None and gb is not None else None
        return ga, gb

    def op(input, other, *, out=None):
        first_scalar = not isinstance(input, Tensor)
        input_t = _as_tensor(input)
        if first_scalar and not isinstance(other, Tensor):
            raise TypeError(f"{name}(): expected at least one Tensor argument")
        to_float = float_only and not int_error
        a, b = _operands(input_t, other, to_float) if not first_scalar else _operands(other, input, to_float)[::-1]
        xp = xp_of(a if hasattr(a, "dtype") else b)
        if not hasattr(a, "dtype"):
            a = xp.asarray(a, dtype=b.dtype)
        kind = a.dtype.kind
        if kind == "c" and complex_error != "ok":
            if complex_error is not None:
                raise complex_error[0](complex_error[1])
            if float_only:
                kernel_for(a.dtype, f"{name}_cpu", "f")
        half = kind == "V" and float_only   # bfloat16: in float32 (bf16's functions where given), rounded once
        if half:
            a = a.astype(np.float32)
        elif float_only and kind not in ("f", "c"):
            if int_error:
                raise NotImplementedError(
                    f"\"{name}_cpu\" not implemented for '{B.SCALAR_NAMES[B.dtype_of(a)] if B.dtype_of(a) in B.SCALAR_NAMES else a.dtype}'"
                    f" ({name} needs floating-point tensors: convert with .float())")
            a = a.astype(B.get_default_dtype().np)
        if hasattr(b, "dtype"):
            if b.dtype != a.dtype:
                b = b.astype(a.dtype)
        else:
            b = xp.asarray(b, dtype=a.dtype)
        try:
            with B.errstate(xp, divide="ignore", invalid="ignore", over="ignore"):
                res = fwd(xp, a, b) if not (half and bf16) else bf16[0](xp, a, b)
        except ValueError:
            raise _broadcast_error(name, a, b) from None
        res = _host_array(res) if isinstance(res, _generic) else res
        if half:
            res = B.bf16_round(res)
        if out is not None:
            return _write_out(out, res, name, input, other)
        node = None
        if grads is not None and state.enabled and (input_t._requires_grad or
                                                    (isinstance(other, Tensor) and other._requires_grad)):
            if isinstance(other, Tensor):
                node = _node(cls if not (half and bf16) else bcls, input_t, other)
            else:
                node = _node(scls if not (half and bf16) else bscls, input_t, None)
                node.next_functions = node.next_functions[:1]
            node.a, node.b, node.out, node.b_shape = a, b, res, b.shape
            if half:
                in_float32(node)
            saves = [(input_t, input_t._vc[0])]
            if isinstance(other, Tensor):
                saves.append((other, other._vc[0]))
            node._saved_versions = tuple(saves)
        return _finish(res, node)
    op.__name__ = op.__qualname__ = name
    op.__doc__ = f"Elementwise {name}, broadcasting as torch."
    return op, cls


def _xlogy(xp, a, b):
    return B.where(xp, xp.isnan(b), np.nan, B.where(xp, a == 0, 0, a * xp.log(b)))


def _xlogy_grads(xp, g, a, b, out):
    with B.errstate(xp, divide="ignore", invalid="ignore"):    # nan/inf as torch, without NumPy's warnings
        ga = g * xp.log(b)  # torch's: log(other) also where input is 0
        gb = g * a / b
    return ga, gb


def _xlogy_bf16(xp, a, b):
    # torch's bfloat16 kernel: x * log(y) with log(y) a bfloat16, each rounding
    r = B.bf16_through
    return B.where(xp, xp.isnan(b), np.nan, B.where(xp, a == 0, 0, a * r(xp.log(b))))


def _xlogy_bf16_grads(xp, g, a, b, out):
    # torch's formulas in bfloat16: grad * log(other) (where self is 0 too), grad * self / other, each op rounding
    r = B.bf16_through
    with B.errstate(xp, divide="ignore", invalid="ignore"):
        return g * r(xp.log(b)), r(g * a) / b


def _logaddexp_grads(xp, g, a, b, out):
    return g * xp.exp(a - out), g * xp.exp(b - out)


def _fmax_grads(is_max):
    def grads(xp, g, a, b, out):
        pick_a = (a >= b) if is_max else (a <= b)
        pick_a = pick_a | xp.isnan(b)
        # (where, not g * mask: +0.0 for the unpicked side, as torch)
        return (B.where(xp, pick_a, g, 0).astype(g.dtype, copy=False),
                B.where(xp, pick_a, 0, g).astype(g.dtype, copy=False))
    return grads


xlogy, XlogyBackward0 = _binary("xlogy", _xlogy, _xlogy_grads, "XlogyBackward0",
                                scalar_other_name="XlogyBackward2", bf16=(_xlogy_bf16, _xlogy_bf16_grads))
hypot, HypotBackward0 = _binary("hypot", lambda xp, a, b: xp.hypot(a, b),
                                lambda xp, g, a, b, out: (g * a / out, g * b / out), "HypotBackward0",
                                int_error=True)
def _logaddexp(xp, a, b):
    """torch's formula, max(a, b) + log1p(exp(-|a - b|)), and a where both are the same infinity:
    vectorized, where NumPy's logaddexp is a scalar loop (~13 ns an element)."""
    if a.dtype.kind == "c" or b.dtype.kind == "c":
        return xp.logaddexp(a, b)
    res = xp.maximum(a, b) + xp.log1p(xp.exp(-xp.abs(a - b)))
    same_inf = xp.isinf(a) & (a == b)
    return B.where(xp, same_inf, a, res) if same_inf.any() else res


logaddexp, LogaddexpBackward0 = _binary("logaddexp", _logaddexp, _logaddexp_grads,
                                        "LogaddexpBackward0", int_error=True)
# (silu and softplus differentiate through it twice)
LogaddexpBackward0._double_backward = True
logaddexp2, Logaddexp2Backward0 = _binary(
    "logaddexp2", lambda xp, a, b: xp.logaddexp2(a, b),
    lambda xp, g, a, b, out: (g * xp.exp2(a - out), g * xp.exp2(b - out)), "Logaddexp2Backward0", int_error=True)
fmax, FmaxBackward0 = _binary("fmax", lambda xp, a, b: xp.fmax(a, b), _fmax_grads(True), "FmaxBackward0",
                              float_only=False,
                              complex_error=(RuntimeError, "fmax not implemented for complex tensors."))
fmin, FminBackward0 = _binary("fmin", lambda xp, a, b: xp.fmin(a, b), _fmax_grads(False), "FminBackward0",
                              float_only=False,
                              complex_error=(RuntimeError, "fmin not implemented for complex tensors."))
for _cls in (XlogyBackward0, HypotBackward0, Logaddexp2Backward0, FmaxBackward0, FminBackward0):
    _cls._double_backward = True   # their formulas also run on Tensors (create_graph=True)


_HeavisideBackward = no_derivative("NotImplemented", "derivative for aten::heaviside is not implemented",
                                   RuntimeError)


def heaviside(input, values, *, out=None):
    """0 where input < 0, 1 where input > 0, `values` where input == 0."""
    if not isinstance(values, Tensor):
        raise TypeError(f"heaviside(): argument 'values' (position 2) must be Tensor, not {type(values).__name__}")
    a, v = input._data, values._data
    if a.dtype.kind == "c" or v.dtype.kind == "c":
        raise RuntimeError("heaviside is not yet implemented for complex tensors.")
    if a.dtype != v.dtype:
        raise RuntimeError("heaviside is not yet implemented for tensors with different dtypes. "
                           f"(got {input.dtype} and {values.dtype}; convert values with .to(input.dtype))")
    if type(a) is not type(v):
        a, v = _check_device(a, v)
    xp = xp_of(a)
    try:
        res = B.where(xp, a == 0, v, (a > 0)).astype(a.dtype, copy=False)
    except ValueError:
        raise _broadcast_error("heaviside", a, v) from None
    if out is not None:
        return _write_out(out, res, "heaviside", input, values)
    node = None
    if _grad_needed(input, values):
        node = _node(_HeavisideBackward, input, values)
    return _finish(res, node)


def float_power(input, exponent, *, out=None):
    """input ** exponent computed in float64, or complex128 for a complex operand (torch's float_power)."""
    f64 = B.float64
    if any(x.is_complex() if isinstance(x, Tensor) else isinstance(x, complex) for x in (input, exponent)):
        f64 = B.complex128
    if isinstance(input, Tensor):
        base = input.to(f64)
    else:
        base = complex(input) if f64 is B.complex128 else float(input)
    e = exponent.to(f64) if isinstance(exponent, Tensor) else complex(exponent) if f64 is B.complex128 \
        else float(exponent)
    if out is not None:
        if out.dtype is not f64:
            raise RuntimeError(f"the output given to float_power has dtype {out.dtype} but the operation's result "
                               f"requires dtype {B.SCALAR_NAMES[f64]}")
        with _no_grad():
            res = pow(base, e)
        return _write_out(out, res._data, "float_power", input, exponent)
    return pow(base, e)


# ---- lgamma / digamma / polygamma(1) without SciPy ---------------------------------------------
# Lanczos (g=7, n=9) for log|Gamma| with the reflection formula below 0.5; digamma and trigamma by the
# recurrence up to x >= 6 and their asymptotic series.  Good to ~1e-13 relative away from the poles.
_LANCZOS = [0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313,
            -176.61502916214059, 12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6,
            1.5056327351493116e-7]


def _lgamma(xp, x):
    xd = x.astype(np.float64)
    with B.errstate(xp, divide="ignore", invalid="ignore", over="ignore"):
        refl = xd < 0.5
        z = B.where(xp, refl, 1 - xd, xd) - 1
        s = _LANCZOS[0]
        for i in range(1, 9):
            s = s + _LANCZOS[i] / (z + i)
        t = z + 7.5
        lg = 0.5 * math.log(2 * math.pi) + (z + 0.5) * xp.log(t) - t + xp.log(s)
        sinpx = xp.abs(xp.sin(_PI * (xd - xp.floor(xd))))
        res = B.where(xp, refl, math.log(_PI) - xp.log(sinpx) - lg, lg)
        res = B.where(xp, (xd <= 0) & (xd == xp.floor(xd)), np.inf, res)
        res = B.where(xp, xp.isinf(xd), np.inf, res)
        res = B.where(xp, (xd == 1) | (xd == 2), 0.0, res)
    return res.astype(x.dtype, copy=False)


def _psi_series(xp, xd, order):
    """digamma (order 0) or trigamma (order 1) for positive xd, by recurrence then asymptotics."""
    acc = xp.zeros_like(xd)
    z = xd.copy()
    for _ in range(10):
        small = z < 10
        if order == 0:
            acc = acc - B.where(xp, small, 1 / z, 0)
        else:
            acc = acc + B.where(xp, small, 1 / (z * z), 0)
        z = B.where(xp, small, z + 1, z)
    r = 1 / (z * z)
    if order == 0:
        res = xp.log(z) - 0.5 / z - r * (1 / 12 - r * (1 / 120 - r * (1 / 252 - r * (1 / 240 - r / 132))))
    else:
        res = 1 / z + r / 2 + (1 / z) * r * (1 / 6 - r * (1 / 30 - r * (1 / 42 - r / 30)))
    return acc + res


def _digamma(xp, x):
    xd = x.astype(np.float64)
    with B.errstate(xp, divide="ignore", invalid="ignore", over="ignore"):
        refl = xd < 0.5
        pos = _psi_series(xp, B.where(xp, refl, 1 - xd, xd), 0)
        res = B.where(xp, refl, pos - _PI / xp.tan(_PI * xd), pos)
        # torch: copysign(inf, -x) at 0 (so +inf at -0.0), nan at the negative integers
        res = B.where(xp, xd == 0, xp.copysign(np.inf, -xd), B.where(xp, (xd < 0) & (xd == xp.floor(xd)), np.nan, res))
        res = B.where(xp, xd == np.inf, np.inf, res)
    return res.astype(x.dtype, copy=False)


def _trigamma(xp, x):
    xd = x.astype(np.float64)
    with B.errstate(xp, divide="ignore", invalid="ignore", over="ignore"):
        refl = xd < 0.5
        pos = _psi_series(xp, B.where(xp, refl, 1 - xd, xd), 1)
        s = xp.sin(_PI * xd)
        res = B.where(xp, refl, -pos + (_PI * _PI) / (s * s), pos)
    return res.astype(x.dtype, copy=False)


lgamma, LgammaBackward0 = _unary("lgamma", _lgamma, lambda xp, g, x, y: g * _digamma(xp, x),
                                 kernel=("lgamma_vml_cpu", "fiub"))
digamma, DigammaBackward0 = _unary("digamma", _digamma, lambda xp, g, x, y: g * _trigamma(xp, x),
                                   kernel=("digamma", "fiub"))
# create_graph=True: their derivatives as the (differentiable) ops themselves
LgammaBackward0._apply_tensors = lambda self, grad, saved: (grad * digamma(saved[0]),)
DigammaBackward0._apply_tensors = lambda self, grad, saved: (grad * _polygamma_method(saved[0], 1),)
LgammaBackward0._double_backward = DigammaBackward0._double_backward = True


# Cephes' Hurwitz zeta (the one torch uses): Euler-Maclaurin summation after shifting q past 9

def _polygamma_method(self, n):
    """polygamma(n, self)."""
    from .special import polygamma   # (special builds on this module)
    return polygamma(n, self)


Tensor.polygamma = _polygamma_method
Tensor.polygamma_ = _make_inplace(_polygamma_method, "polygamma_")


# ---- torch's top-level in-place functions (torch.exp_(x) is x.exp_()) ---------------------------
def _top_inplace(name):
    def op(input, *args, **kwargs):
        return getattr(input, name)(*args, **kwargs)
    op.__name__ = op.__qualname__ = name
    op.__doc__ = f"In-place {name[:-1]} of input (the Tensor method {name})."
    return op


_TOP_INPLACE = ("abs_", "ceil_", "clamp_", "clamp_max_", "clamp_min_", "clip_", "cos_", "exp_", "expm1_", "fill_",
                "floor_", "log_", "log10_", "log1p_", "log2_", "neg_", "negative_", "reciprocal_", "round_",
                "rsqrt_", "sigmoid_", "sin_", "sqrt_", "square_", "tanh_", "trunc_", "zero_", "nan_to_num_",
                "frac_", "tan_", "sinh_", "cosh_", "asin_", "acos_", "atan_", "arcsin_", "arccos_", "arctan_",
                "erf_", "erfc_", "exp2_", "deg2rad_", "rad2deg_", "sinc_", "fix_", "logit_", "xlogy_", "erfinv_")
for _n in _TOP_INPLACE:
    globals()[_n] = _top_inplace(_n)
del _n


def _register_more2():
    T = Tensor
    fns = (sgn, exp2, erfc, erfinv, sinc, deg2rad, rad2deg, fix, logit, positive, signbit, isposinf, isneginf,
           xlogy, hypot, logaddexp, logaddexp2, fmax, fmin, heaviside, float_power, lgamma, digamma)
    for fn in fns:
        setattr(T, fn.__name__, fn)
    for fn in (sgn, exp2, erfc, erfinv, sinc, deg2rad, rad2deg, fix, logit, xlogy, hypot, lgamma, digamma,
               heaviside, float_power, sin, cos, tan, sinh, cosh, asin, acos, atan, frac, erf, log2, log10):
        if not hasattr(T, fn.__name__ + "_"):
            setattr(T, fn.__name__ + "_", _make_inplace(fn, fn.__name__ + "_"))
    T.arcsin, T.arccos, T.arctan = asin, acos, atan
    for a, b in (("arcsin_", "asin_"), ("arccos_", "acos_"), ("arctan_", "atan_")):
        if not hasattr(T, a):
            setattr(T, a, getattr(T, b))
    if not hasattr(T, "zero_"):
        def zero_(self):
            """Fill with zeros, in place."""
            return self.fill_(0)
        T.zero_ = zero_


_register_more2()
arcsin, arccos, arctan = asin, acos, atan
__all__ += ["sgn", "exp2", "erfc", "erfinv", "sinc", "deg2rad", "rad2deg", "fix", "logit", "positive", "signbit",
            "isposinf", "isneginf", "xlogy", "hypot", "logaddexp", "logaddexp2", "fmax", "fmin", "heaviside",
            "float_power", "lgamma", "digamma", "arcsin", "arccos", "arctan"] + list(_TOP_INPLACE)


# ---- asinh / acosh / atanh ------------------------------------------------------------------------
asinh, AsinhBackward0 = _unary("asinh", "arcsinh", lambda xp, g, x, y: g / xp.sqrt(x * x + 1))
acosh, AcoshBackward0 = _unary("acosh", "arccosh", lambda xp, g, x, y: g / xp.sqrt((x - 1) * (x + 1)))
atanh, AtanhBackward0 = _unary("atanh", "arctanh", lambda xp, g, x, y: g / (1 - x * x))
arcsinh, arccosh, arctanh = asinh, acosh, atanh
for _cls in (AsinhBackward0, AcoshBackward0, AtanhBackward0):
    _cls._double_backward = True   # their formulas also run on Tensors (create_graph=True)


def _register_hyperbolic():
    T = Tensor
    for name, fn in (("asinh", asinh), ("acosh", acosh), ("atanh", atanh)):
        inplace = _make_inplace(fn, name + "_")
        setattr(T, name, fn)
        setattr(T, "arc" + name[1:], fn)
        setattr(T, name + "_", inplace)
        setattr(T, "arc" + name[1:] + "_", inplace)
        globals()[name + "_"] = globals()["arc" + name[1:] + "_"] = _top_inplace(name + "_")


_register_hyperbolic()
__all__ += ["asinh", "acosh", "atanh", "arcsinh", "arccosh", "arctanh", "asinh_", "acosh_", "atanh_", "arcsinh_",
            "arccosh_", "arctanh_"]


# ---- in-place comparisons / logic / bitwise, shifts, copysign, frexp, gcd / lcm, ldexp, nextafter -------------
def _shift(name, ufunc):
    kernel = f"{ufunc[:1]}shift_cpu"   # torch's lshift_cpu / rshift_cpu

    def op(input, other, *, out=None):
        a, b = _operands(_as_tensor(input), other)
        kernel_for(a.dtype, kernel, "fiu")
        if _result_dtype(a, b).kind == "f":
            dt = result_type(_as_tensor(input), other)
            raise NotImplementedError(f"\"{kernel}\" not implemented for '{B.SCALAR_NAMES[dt]}' ({name} needs "
                                      "integer tensors)")
        xp = xp_of(a)
        res = getattr(xp, ufunc)(a, b.astype(a.dtype, copy=False) if hasattr(b, "dtype") else b)
        res = _host_array(res) if isinstance(res, _generic) else res
        if out is not None:
            return _write_out(out, res, name, input, other)
        return _wrap(res)
    op.__name__ = op.__qualname__ = name
    op.__doc__ = f"Elementwise {name} of integer tensors (input {'<<' if 'left' in name else '>>'} other)."
    return op


bitwise_left_shift = _shift("bitwise_left_shift", "left_shift")
bitwise_right_shift = _shift("bitwise_right_shift", "right_shift")


def _copysign_grads(xp, g, a, b, out):
    # torch: grad * out / input, 0 where input is 0; no gradient flows to `other`
    with B.errstate(xp, divide="ignore", invalid="ignore"):
        ga = B.where(xp, a == 0, 0, g * out / a)
    return ga, xp.zeros_like(g)


copysign, CopysignBackward0 = _binary("copysign", lambda xp, a, b: xp.copysign(a, b), _copysign_grads,
                                      "CopysignBackward0", scalar_other_name="CopysignBackward1")


class NextafterBackward0(Node):
    """torch's: the gradient passes to input unchanged, and other gets zeros."""
    __slots__ = ("shapes",)

    def apply(self, g):
        ga = unbroadcast(g, self.shapes[0])
        gb = xp_of(g).zeros(self.shapes[1], g.dtype) if self.next_functions[1][0] is not None else None
        return ga, gb


def nextafter(input, other, *, out=None):
    """The next float after input towards other, elementwise."""
    a, b = _operands(input, other)
    kernel_for(a.dtype, "nextafter_cpu", "f")
    if b.dtype != a.dtype:
        raise RuntimeError(f"nextafter needs two floating-point tensors of one dtype (got {input.dtype} and "
                           f"{other.dtype if isinstance(other, Tensor) else type(other).__name__}); convert "
                           "them with .to(dtype)")
    res = xp_of(a).nextafter(a, b)
    res = _host_array(res) if isinstance(res, _generic) else res
    if out is not None:
        return _write_out(out, res, "nextafter", input, other)
    node = None
    if _grad_needed(input, other):
        node = _node(NextafterBackward0, input, other)
        node.shapes = (a.shape, b.shape)
    return _finish(res, node)


def _int_binary(name, ufunc):
    def op(input, other, *, out=None):
        a, b = _operands(_as_tensor(input), other)
        if a.dtype.kind not in "iu" or (hasattr(b, "dtype") and b.dtype.kind not in "iu"):
            dt = result_type(_as_tensor(input), other)
            raise NotImplementedError(f"\"{name}_cpu\" not implemented for '{B.SCALAR_NAMES[dt]}' ({name} needs "
                                      "integer tensors)")
        res = getattr(xp_of(a), ufunc)(a, b)
        res = _host_array(res) if isinstance(res, _generic) else res
        if out is not None:
            return _write_out(out, res, name, input, other)
        return _wrap(res)
    op.__name__ = op.__qualname__ = name
    op.__doc__ = f"Elementwise {name} of integer tensors."
    return op


gcd = _int_binary("gcd", "gcd")
lcm = _int_binary("lcm", "lcm")


_ldexp, LdexpBackward0 = _binary("ldexp", lambda xp, a, b: a * xp.exp2(b),
                                 lambda xp, g, a, b, out: (g * xp.exp2(b), g * out * math.log(2)), "LdexpBackward0",
                                 complex_error="ok")


def ldexp(input, other, *, out=None):
    """input * 2 ** other, in floating point."""
    if isinstance(other, Tensor) and other._data.dtype.kind == "b" and isinstance(input, Tensor) \
            and input._data.dtype.kind == "f":   # (torch's float kernel takes no bool exponent)
        kernel_for(other._data.dtype, "ldexp_cpu_exp", "fciu")
    if isinstance(other, Tensor) and other._data.dtype.kind in "iu" and isinstance(input, Tensor) \
            and input._data.dtype.kind == "f":
        other = other.to(input.dtype)   # an integer exponent takes the input's float dtype, as torch
    return _ldexp(input, other, out=out)


def frexp(input, *, out=None):
    """(mantissa, exponent) with input = mantissa * 2 ** exponent, as torch.return_types.frexp."""
    from .reduce import return_types
    d = input._data
    if d.dtype.kind != "f":
        raise RuntimeError(f"torch.frexp() only supports floating-point dtypes (got {input.dtype}); convert with "
                           ".float()")
    m, e = xp_of(d).frexp(d)
    if out is not None:
        _write_out(out[0], m, "frexp", input)
        _write_out(out[1], e.astype(np.int32, copy=False), "frexp", input)
        return return_types.frexp(*out)
    return return_types.frexp(_wrap(m), _wrap(e.astype(np.int32, copy=False)))


def _is_real_fn(input):
    """True where an element's imaginary part is zero (everywhere, for a real tensor)."""
    d = input._data
    if d.dtype.kind == "c":
        return _wrap(d.imag == 0)
    return _wrap(xp_of(d).ones(d.shape, dtype=bool))


isreal = _is_real_fn
isreal.__name__ = isreal.__qualname__ = "isreal"


def _register_group1():
    T = Tensor
    # in-place comparisons keep self's dtype (1 / 0), as torch
    for fn in (eq, ne, lt, le, gt, ge, logical_and, logical_or, logical_xor, bitwise_and, bitwise_or, bitwise_xor,
               bitwise_left_shift, bitwise_right_shift, copysign, gcd, lcm, ldexp, nextafter, bitwise_not):
        setattr(T, fn.__name__ + "_", _make_inplace(fn, fn.__name__ + "_"))
    for alias, name in (("greater_", "gt_"), ("greater_equal_", "ge_"), ("less_", "lt_"), ("less_equal_", "le_"),
                        ("not_equal_", "ne_")):
        setattr(T, alias, getattr(T, name))
    for fn in (bitwise_left_shift, bitwise_right_shift, copysign, gcd, lcm, ldexp, nextafter, frexp, isreal):
        setattr(T, fn.__name__, fn)
    T.__lshift__ = lambda s, o: bitwise_left_shift(s, o)
    T.__rshift__ = lambda s, o: bitwise_right_shift(s, o)
    T.__ilshift__ = lambda s, o: s.bitwise_left_shift_(o)
    T.__irshift__ = lambda s, o: s.bitwise_right_shift_(o)


_register_group1()
for _n in ("gcd_", "lcm_", "ldexp_"):
    globals()[_n] = _top_inplace(_n)
del _n
__all__ += ["bitwise_left_shift", "bitwise_right_shift", "copysign", "nextafter", "gcd", "lcm", "ldexp", "frexp",
            "isreal", "gcd_", "lcm_", "ldexp_"]
