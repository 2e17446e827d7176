"""Matrix products: matmul and its cases (mm, bmm, mv, dot), outer, addmm, baddbmm, addmv,
einsum, and torch.nn.functional's linear and bilinear.

The graph each op records is torch's: ``linear`` on a 2-d input with a bias is an
``AddmmBackward0`` whose inputs are (bias, input, ``TBackward0`` -> weight), a 3-d @ 2-d matmul
is ``UnsafeViewBackward0`` over ``MmBackward0``, and so on.  Shape-only wrapper nodes pass the
gradient through (reshaping it); the product node does the arithmetic.

Kernels (forward functions and ``Node.apply``) call the array module of their operands
(``xp = xp_of(array)``: numpy or cupy), never numpy directly, so the same code runs on a GPU.
"""
import math

import numpy as np

from .. import _backend as B
from .._backend import xp_of
from .._threads import matmul as _mm

from ..autograd.grad_mode import state
from ..autograd.graph import Node, edge
from .._argcheck import SparseOperand
from .._tensor import Tensor, _wrap
from . import barebones as _barebones
from . import AUTOCAST, LOWER, kernel_for, product_versions, unbroadcast
from .conv import _strided
from .elementwise import AddBackward0 as _AddBackward0
from . import record as _finish

__all__ = ["matmul", "mm", "bmm", "mv", "dot", "vdot", "inner", "outer", "ger", "addmm", "addmv",
           "baddbmm", "addbmm", "einsum", "tensordot", "kron", "chain_matmul"]
__functional__ = ["linear", "bilinear"]

_ndarray = np.ndarray
_new = object.__new__
_NO_EDGE = (None, 0)


# ---- nodes ----------------------------------------------------------------------------------
def _node(cls, *edges):
    n = cls.__new__(cls)
    n.next_functions = edges
    n._saved_versions = ()
    return n


def _edge(t):
    return edge(t) if t._requires_grad else (None, 0)


class TBackward0(Node):
    """Gradient of .t(): transpose back."""

    __slots__ = ()
    # its formula also runs on Tensors (create_graph=True: autograd/higher_order.py)
    _double_backward = True

    def apply(self, grad):
        return (grad.T,)


class TransposeBackward0(Node):
    """Named only: torch's node under CloneBackward0 in a 2-d @ batched matmul."""

    __slots__ = ()


class _Reshape(Node):
    """A shape-only step (view, unsqueeze, ...): the gradient is reshaped to the input's shape."""

    __slots__ = ("shape",)
    # its formula also runs on Tensors (create_graph=True: autograd/higher_order.py)
    _double_backward = True

    def apply(self, grad):
        return (grad.reshape(self.shape),)


class ViewBackward0(_Reshape):
    __slots__ = ()


class UnsafeViewBackward0(_Reshape):
    __slots__ = ()


class SqueezeBackward4(_Reshape):
    __slots__ = ()


class UnsqueezeBackward0(_Reshape):
    __slots__ = ()


class CloneBackward0(_Reshape):
    __slots__ = ()


def _shares_memory(a, b):
    """True when the array a is b or a view of b's memory (a reshape that did not copy)."""
    return a is b or B.data_ptr(a) == B.data_ptr(b)


def _wrap_in(cls, inner, shape):
    """A shape-only node named cls feeding the product node inner; shape is inner's output shape."""
    n = cls.__new__(cls)
    n.next_functions = ((inner, 0),)
    n._saved_versions = ()
    n.shape = shape
    return n


class MmBackward0(Node):
    """Gradient of a @ b for 2-d a and b."""

    __slots__ = ("a", "b")
    _saved_fields = ("a", "b")
    _torch_saved = {"self": ("a",), "mat2": ("b",)}
    # its formula also runs on Tensors (create_graph=True: autograd/higher_order.py)
    _double_backward = True
    _saved_inputs = {"a": 0, "b": 1}

    def apply(self, grad):
        nf = self.next_functions
        a, b = self.a, self.b
        if grad.dtype.kind == "c":   # torch's convention: products with the conjugated operands
            a, b = a.conj(), b.conj()
        ga = _mm(grad, b.T) if nf[0][0] is not None else None
        gb = _mm(a.T, grad) if nf[1][0] is not None else None
        return ga, gb


class MvBackward0(Node):
    """Gradient of a @ v for 2-d a and 1-d v."""

    __slots__ = ("a", "b")
    _saved_fields = ("a", "b")
    # its formula also runs on Tensors (create_graph=True: autograd/higher_order.py)
    _double_backward = True
    _saved_inputs = {"a": 0, "b": 1}

    def apply(self, grad):
        nf = self.next_functions
        a, b = self.a, self.b
        if grad.dtype.kind == "c":   # torch's convention: products with the conjugated operands
            a, b = a.conj(), b.conj()
        ga = grad[:, None] * b if nf[0][0] is not None else None
        gb = _mm(a.T, grad) if nf[1][0] is not None else None
        return ga, gb


class DotBackward0(Node):
    """Gradient of the dot product of two vectors."""

    __slots__ = ("a", "b")
    _saved_fields = ("a", "b")
    # its formula also runs on Tensors (create_graph=True: autograd/higher_order.py)
    _double_backward = True
    _saved_inputs = {"a": 0, "b": 1}

    def apply(self, grad):
        nf = self.next_functions
        a, b = self.a, self.b
        if grad.dtype.kind == "c":   # torch's convention: products with the conjugated operands
            a, b = a.conj(), b.conj()
        return (grad * b if nf[0][0] is not None else None,
                grad * a if nf[1][0] is not None else None)


class VdotBackward0(DotBackward0):
    __slots__ = ()


class BmmBackward0(Node):
    """Gradient of a batched (broadcasting) product; also serves the folded matmul cases."""

    __slots__ = ("a", "b")
    _saved_fields = ("a", "b")
    # its formula also runs on Tensors (create_graph=True: autograd/higher_order.py)
    _double_backward = True
    _saved_inputs = {"a": 0, "b": 1}

    def apply(self, grad):
        nf = self.next_functions
        return _matmul_grads(grad, self.a, self.b, nf[0][0] is not None, nf[1][0] is not None)


def _matmul_grads(grad, a, b, need_a, need_b):
    """Gradients of matmul(a, b) for any ranks (1-d operands and broadcasting included)."""
    ga = gb = None
    if grad.dtype.kind == "c":   # torch's convention: products with the conjugated operands
        a, b = a.conj(), b.conj()
    if a.ndim == 1 and b.ndim == 1:
        return (grad * b if need_a else None), (grad * a if need_b else None)
    if b.ndim == 1:
        # out (..., n) = a (..., n, k) @ b (k)
        if need_a:
            ga = unbroadcast(grad[..., None] * b, a.shape)
        if need_b:
            if a.ndim == 2:
                gb = _mm(a.T, grad)
            else:
                gb = _mm(a.swapaxes(-1, -2), grad[..., None])[..., 0]
                gb = gb.reshape(-1, gb.shape[-1]).sum(0)
        return ga, gb
    if a.ndim == 1:
        # out (..., m) = a (k) @ b (..., k, m)
        if need_a:
            ga = _mm(b, grad[..., None])[..., 0]
            ga = ga.reshape(-1, ga.shape[-1]).sum(0)
        if need_b:
            gb = unbroadcast(a[:, None] * grad[..., None, :], b.shape)
        return ga, gb
    if b.ndim == 2 and a.ndim > 2:
        # one folded product: (rows, k) @ (k, m)
        if need_a:
            ga = _mm(grad, b.T)
        if need_b:
            gb = _mm(a.reshape(-1, a.shape[-1]).T, grad.reshape(-1, grad.shape[-1]))
        return ga, gb
    if need_a:
        ga = unbroadcast(_mm(grad, b.swapaxes(-1, -2)), a.shape)
    if need_b:
        gb = unbroadcast(_mm(a.swapaxes(-1, -2), grad), b.shape)
    return ga, gb


# ---- checks ---------------------------------------------------------------------------------
def _arrays(op, input, other):
    if not isinstance(input, Tensor):
        raise TypeError(f"{op}(): argument 'input' (position 1) must be Tensor, not {type(input).__name__}")
    if not isinstance(other, Tensor):
        raise TypeError(f"{op}(): argument 'other' (position 2) must be Tensor, not {type(other).__name__}")
    a, b = input._data, other._data
    if type(a) is not type(b):
        da, db = input.device, other.device
        if da != db:
            raise RuntimeError(f"Expected all tensors to be on the same device, but found at least two "
                               f"devices, {da} and {db}! Move one with .to(device) first.")
    return a, b


def _same_dtype(a, b):
    if a.dtype != b.dtype:
        raise RuntimeError(f"expected m1 and m2 to have the same dtype, but got: "
                           f"{B.c_name(a.dtype)} != {B.c_name(b.dtype)}")


def _mm_shapes(a, b):
    if a.shape[1] != b.shape[0]:
        raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({a.shape[0]}x{a.shape[1]} and "
                           f"{b.shape[0]}x{b.shape[1]})")


def _needs(*ts):
    if not state.enabled:
        return False
    for t in ts:
        if t is not None and t._requires_grad:
            return True
    return False


# ---- matmul and its cases ---------------------------------------------------------------------
def _mm_node(input, other, a, b):
    node = _node(MmBackward0, _edge(input), _edge(other))
    node.a, node.b = a, b
    node._saved_versions = product_versions(input, other)
    return node


def matmul(input, other, *, out=None):
    """Matrix product with torch's rules for 1-d operands and batch broadcasting."""
    if AUTOCAST[0] is not None:
        input, other = AUTOCAST[0](LOWER, input, other)
    if out is None and type(input) is Tensor and type(other) is Tensor:
        a, b = input._data, other._data
        # the common case (two float matrices that fit, same dtype and device) without the general
        # checks' and _result's calls: 2.7-2.9 -> 2.3-2.6 us for 8x8 operands that require grad (torch 1.7-2.1)
        if a.ndim == 2 and b.ndim == 2 and a.dtype is b.dtype and type(a) is type(b) \
                and a.shape[1] == b.shape[0] and a.dtype.kind in "fc":
            t = _wrap(_mm(a, b))
            if (input._requires_grad or other._requires_grad) and state.enabled:
                node = _new(MmBackward0)
                node.next_functions = (edge(input) if input._requires_grad else _NO_EDGE,
                                       edge(other) if other._requires_grad else _NO_EDGE)
                node.a, node.b = a, b
                node._saved_versions = product_versions(input, other)
                t._requires_grad = True
                t.grad_fn = node
            return t
    try:
        a, b = _arrays("matmul", input, other)
    except SparseOperand:   # (a sparse operand: its kernels, ops/sparse.py)
        from .sparse import dispatch_name
        return dispatch_name("matmul", (input, other), {"out": out})
    na, nb = a.ndim, b.ndim
    _barebones.check("dot" if na == 1 and nb == 1 else "matmul", a, b)
    if na == 0 or nb == 0:
        raise RuntimeError(f"both arguments to matmul need to be at least 1D, but they are {na}D and {nb}D")
    if na == 2 and nb == 2:
        _same_dtype(a, b)
        _mm_shapes(a, b)
        res = _mm(a, b)
        return _result(res, out, "matmul", input, other, MmBackward0)
    if na == 1 and nb == 1:
        return dot(input, other, out=out)
    if na == 2 and nb == 1:
        return mv(input, other, out=out)
    _same_dtype(a, b)
    kernel_for(a.dtype, "bmm", "fciu")
    # shape checks, phrased as torch phrases them for each case: batch dims first
    if na > 2 and nb > 2:
        batch_a, batch_b = a.shape[:-2], b.shape[:-2]
        for i in range(1, min(len(batch_a), len(batch_b)) + 1):
            if batch_a[-i] != batch_b[-i] and batch_a[-i] != 1 and batch_b[-i] != 1:
                raise RuntimeError(
                    f"The size of tensor a ({batch_a[-i]}) must match the size of tensor b ({batch_b[-i]}) at "
                    f"non-singleton dimension {max(len(batch_a), len(batch_b)) - i}")
    if nb == 1:
        if a.shape[-1] != b.shape[0]:
            raise RuntimeError(f"size mismatch, got input ({a.shape[-2]}), mat ({a.shape[-2]}x{a.shape[-1]}), "
                               f"vec ({b.shape[0]})")
    elif na == 1:
        if a.shape[0] != b.shape[-2]:
            raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied (1x{a.shape[0]} and "
                               f"{b.shape[-2]}x{b.shape[-1]})")
    elif a.shape[-1] != b.shape[-2]:
        if nb == 2:
            rows = a.size // a.shape[-1] if a.shape[-1] else 0
            raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({rows}x{a.shape[-1]} and "
                               f"{b.shape[0]}x{b.shape[1]})")
        raise RuntimeError(f"Expected size for first two dimensions of batch2 tensor to be: "
                           f"[{max(a.shape[0], b.shape[0]) if na == nb else b.shape[0]}, {a.shape[-1]}] "
                           f"but got: [{b.shape[-3]}, {b.shape[-2]}].")
    res = _mm(a, b)
    if out is not None:
        return _write_out(out, res, "matmul", input, other)
    node = None
    if _needs(input, other):
        # torch folds the batched operand into a matrix (mm/mv) unless that would cost a copy;
        # the node names follow its choice
        a_grad = input._requires_grad
        contiguous_a = a.flags.c_contiguous
        outer = UnsafeViewBackward0
        if na == 2:                       # 2-d @ batched
            inner, outer = (TransposeBackward0, CloneBackward0) if a_grad else (BmmBackward0, outer)
        elif na == 1 and nb > 2:          # vector @ batched
            inner = MvBackward0 if a_grad else BmmBackward0
        elif na == 1:                     # vector @ matrix
            inner, outer = MmBackward0, SqueezeBackward4
        elif nb <= 2:                     # batched @ matrix or vector
            inner = (MvBackward0 if nb == 1 else MmBackward0) if (other._requires_grad or contiguous_a) \
                else BmmBackward0
        else:
            inner = BmmBackward0
        core = _node(_FoldedProduct, _edge(input), _edge(other))
        core.a, core.b = a, b
        core.name_ = inner.__name__
        core._saved_versions = product_versions(input, other)
        node = _wrap_in(outer, core, res.shape)
    return _finish(res, node)


class _FoldedProduct(Node):
    """The product node under a folded matmul; named as torch names it (Mm/Mv/BmmBackward0)."""

    __slots__ = ("a", "b", "name_")
    _saved_fields = ("a", "b")
    # its formula also runs on Tensors (create_graph=True: autograd/higher_order.py)
    _double_backward = True
    _saved_inputs = {"a": 0, "b": 1}

    def name(self):
        return self.name_

    def __repr__(self):
        return f"<{self.name_} object at {hex(id(self))}>"

    def apply(self, grad):
        nf = self.next_functions
        return _matmul_grads(grad, self.a, self.b, nf[0][0] is not None, nf[1][0] is not None)


# torch's product kernels by the rank of their result, for the dtypes they lack (bool)
_PRODUCT_KERNELS = ("dot", "addmv_impl_cpu", "addmm_impl_cpu_")


def _result(res, out, op, input, other, cls):
    if res.dtype.kind == "b":   # (NumPy multiplies booleans; torch has no bool product)
        kernel_for(res.dtype, _PRODUCT_KERNELS[res.ndim] if res.ndim < 3 else "bmm", "fciu")
    if out is not None:
        return _write_out(out, res, op, input, other)
    node = None
    if _needs(input, other):
        node = _node(cls, _edge(input), _edge(other))
        node.a, node.b = input._data, other._data
        node._saved_versions = product_versions(input, other)
    return _finish(res, node)


def _write_out(out, res, name, *inputs):
    from .elementwise import _write_out as write
    return write(out, res, name, *inputs)


def mm(input, mat2, *, out=None):
    """Product of two 2-d matrices."""
    if AUTOCAST[0] is not None:
        input, mat2 = AUTOCAST[0](LOWER, input, mat2)
    try:
        a, b = _arrays("mm", input, mat2)
    except SparseOperand:
        from .sparse import dispatch_name
        return dispatch_name("mm", (input, mat2), {"out": out})
    _barebones.check("mm", a, b)
    if a.ndim != 2:
        raise RuntimeError("self must be a matrix")
    if b.ndim != 2:
        raise RuntimeError("mat2 must be a matrix")
    _same_dtype(a, b)
    _mm_shapes(a, b)
    return _result(_mm(a, b), out, "mm", input, mat2, MmBackward0)


def bmm(input, mat2, *, out=None):
    """Batched product of (B, n, k) and (B, k, m) tensors."""
    if AUTOCAST[0] is not None:
        input, mat2 = AUTOCAST[0](LOWER, input, mat2)
    a, b = _arrays("bmm", input, mat2)
    if a.ndim != 3:
        raise RuntimeError("batch1 must be a 3D tensor")
    if b.ndim != 3:
        raise RuntimeError("batch2 must be a 3D tensor")
    if a.dtype != b.dtype:
        raise RuntimeError(f"expected scalar type {B.scalar_name(a.dtype)} but found {B.scalar_name(b.dtype)}")
    if b.shape[0] != a.shape[0] or b.shape[1] != a.shape[2]:
        raise RuntimeError(f"Expected size for first two dimensions of batch2 tensor to be: "
                           f"[{a.shape[0]}, {a.shape[2]}] but got: [{b.shape[0]}, {b.shape[1]}].")
    return _result(_mm(a, b), out, "bmm", input, mat2, BmmBackward0)


def mv(input, vec, *, out=None):
    """Matrix-vector product."""
    a, b = _arrays("mv", input, vec)
    if a.ndim != 2 or b.ndim != 1:
        raise RuntimeError(f"vector + matrix @ vector expected, got {a.ndim}, {a.ndim}, {b.ndim}")
    if a.dtype != b.dtype:
        n = B.scalar_name(b.dtype)
        raise RuntimeError(f"addmv input tensors must have the same dtype, but got {n}, "
                           f"{B.scalar_name(a.dtype)}, and {n}")
    if a.shape[1] != b.shape[0]:
        raise RuntimeError(f"size mismatch, got input ({a.shape[0]}), mat ({a.shape[0]}x{a.shape[1]}), "
                           f"vec ({b.shape[0]})")
    return _result(_mm(a, b), out, "mv", input, vec, MvBackward0)


def dot(input, tensor, *, out=None):
    """Dot product of two 1-d tensors."""
    a, b = _arrays("dot", input, tensor)
    _barebones.check("dot", a, b)
    if a.ndim != 1 or b.ndim != 1:
        raise RuntimeError(f"1D tensors expected, but got {a.ndim}D and {b.ndim}D tensors")
    if a.dtype != b.dtype:
        raise RuntimeError(f"dot : expected both vectors to have same dtype, but found "
                           f"{B.scalar_name(a.dtype)} and {B.scalar_name(b.dtype)}")
    if a.shape[0] != b.shape[0]:
        raise RuntimeError(f"inconsistent tensor size, expected tensor [{a.shape[0]}] and src [{b.shape[0]}] "
                           f"to have the same number of elements, but got {a.shape[0]} and {b.shape[0]} "
                           "elements respectively")
    xp = xp_of(a)
    return _result(xp.asarray(xp.dot(a, b)), out, "dot", input, tensor, DotBackward0)


def vdot(input, other, *, out=None):
    """Dot product of two 1-d tensors, conjugating the first."""
    if input._data.dtype.kind == "c":
        from .complex import conj
        input = conj(input)
    res = dot(input, other, out=out)
    if out is None and res.grad_fn is not None:
        res.grad_fn.__class__ = VdotBackward0
    return res


def inner(input, other, *, out=None):
    """Inner product over the last dimension (a scalar product for scalars)."""
    a, b = _arrays("inner", input, other)
    if a.ndim == 0 or b.ndim == 0:
        from .elementwise import mul
        return mul(input, other)
    if a.ndim == 1 and b.ndim == 1:
        return dot(input, other, out=out)
    return tensordot(input, other, dims=([a.ndim - 1], [b.ndim - 1]))


class _OuterBackward(Node):
    __slots__ = ("a", "b")
    _saved_fields = ("a", "b")
    # its formula also runs on Tensors (create_graph=True: autograd/higher_order.py)
    _double_backward = True
    _saved_inputs = {"a": 0, "b": 1}

    def apply(self, grad):
        nf = self.next_functions
        return (_mm(grad, self.b) if nf[0][0] is not None else None,
                _mm(self.a, grad) if nf[1][0] is not None else None)


_OuterBackward.__name__ = _OuterBackward.__qualname__ = "MulBackward0"  # torch's node name


def outer(input, vec2, *, out=None):
    """Outer product of two vectors."""
    a, b = _arrays("outer", input, vec2)
    if a.ndim != 1 or b.ndim != 1:
        raise RuntimeError(f"outer: expected 1-d vectors, but got {a.ndim}-d and {b.ndim}-d tensors")
    if a.dtype != b.dtype:
        from .elementwise import result_type
        dt = result_type(input, vec2).np
        a, b = a.astype(dt), b.astype(dt)
    res = xp_of(a).multiply.outer(a, b)
    if out is not None:
        return _write_out(out, res, "outer", input, vec2)
    node = None
    if _needs(input, vec2):
        ea = (None, 0)
        if input._requires_grad:  # torch: input.view(-1, 1) * vec2
            v = _node(ViewBackward0, edge(input))
            v.shape = a.shape
            ea = (v, 0)
        node = _node(_OuterBackward, ea, _edge(vec2))
        node.a, node.b = a, b
        node._saved_versions = product_versions(input, vec2)
    return _finish(res, node)


ger = outer


# ---- fused multiply-adds ----------------------------------------------------------------------
class AddmmBackward0(Node):
    """Gradient of beta * input + alpha * (mat1 @ mat2)."""

    __slots__ = ("m1", "m2", "in_shape", "alpha", "beta", "t_weight")
    _saved_fields = ("m1", "m2")
    # its formula also runs on Tensors (create_graph=True: autograd/higher_order.py)
    _double_backward = True
    _saved_inputs = {"m1": 1, "m2": 2}

    def apply(self, grad):
        nf = self.next_functions
        alpha = self.alpha
        gi = g1 = g2 = None
        if nf[0][0] is not None:
            gi = unbroadcast(grad, self.in_shape)
            if self.beta != 1:
                gi = gi * self.beta
        if nf[1][0] is not None:
            g1 = _mm(grad, self.m2.T)
            if alpha != 1:
                g1 *= alpha
        if nf[2][0] is not None:
            if self.t_weight:
                # m2 is weight.T: compute weight's gradient (grad.T @ m1) in C order and hand
                # TBackward0 its transpose, so the leaf receives a contiguous array
                g2 = _mm(grad.T, self.m1).T
            else:
                g2 = _mm(self.m1.T, grad)
            if alpha != 1:
                g2 = g2 * alpha
        return gi, g1, g2


def _expands_to(shape, target):
    """True when an array of shape broadcasts to exactly target."""
    if len(shape) > len(target):
        return False
    return all(s == t or s == 1 for s, t in zip(shape[::-1], target[::-1]))


def _scaled(res, beta, inp, alpha):
    if alpha != 1:
        res *= alpha
    if beta == 0:
        return res
    if beta != 1:
        inp = inp * beta
    res += inp
    return res


def addmm(input, mat1, mat2, *, beta=1, alpha=1, out=None):
    """beta * input + alpha * (mat1 @ mat2)."""
    if AUTOCAST[0] is not None:
        input, mat1, mat2 = AUTOCAST[0](LOWER, input, mat1, mat2)
    if not isinstance(input, Tensor):
        raise TypeError(f"addmm(): argument 'input' (position 1) must be Tensor, not {type(input).__name__}")
    a, b = _arrays("addmm", mat1, mat2)
    if a.ndim != 2:
        raise RuntimeError("mat1 must be a matrix, got {}-D tensor".format(a.ndim))
    if b.ndim != 2:
        raise RuntimeError("mat2 must be a matrix, got {}-D tensor".format(b.ndim))
    _same_dtype(a, b)
    _mm_shapes(a, b)
    c = input._data
    target = (a.shape[0], b.shape[1])
    if not _expands_to(c.shape, target):
        raise RuntimeError(
            f"The expanded size of the tensor ({target[-1]}) must match the existing size ({c.shape[-1]}) "
            f"at non-singleton dimension {len(target) - 1}.  Target sizes: {list(target)}.  Tensor sizes: "
            f"{list(c.shape)}") from None
    if c.dtype != a.dtype:
        raise RuntimeError(f"self and mat2 must have the same dtype, but got {B.scalar_name(c.dtype)} and "
                           f"{B.scalar_name(a.dtype)}")
    if a.dtype.kind == "V":   # bfloat16: the whole of it in float32, rounded once, as torch's addmm
        f = np.float32
        res = B.bf16_round(_scaled(_mm(a.astype(f), b.astype(f)), beta, c.astype(f), alpha))
    else:
        res = _scaled(_mm(a, b), beta, c, alpha)
    return _fused_result("addmm", AddmmBackward0, res, input, mat1, mat2, alpha, beta, out, t_weight=False)


def _fused_result(name, cls, res, input, m1, m2, alpha, beta, out, **fields):
    """The result of beta * input + alpha * (m1 op m2): written to out, or wrapped with a cls node
    that saved both operands (in the fields cls._saved_fields names) and the scales."""
    if out is not None:
        return _write_out(out, res, name, input, m1, m2)
    node = None
    if _needs(input, m1, m2):
        node = _node(cls, _edge(input), _edge(m1), _edge(m2))
        f1, f2 = cls._saved_fields
        setattr(node, f1, m1._data)
        setattr(node, f2, m2._data)
        node.in_shape = input._data.shape
        node.alpha, node.beta = alpha, beta
        for field, value in fields.items():
            setattr(node, field, value)
        node._saved_versions = product_versions(m1, m2)
    return _finish(res, node)


class AddmvBackward0(Node):
    __slots__ = ("m", "v", "in_shape", "alpha", "beta")
    _saved_fields = ("m", "v")
    # its formula also runs on Tensors (create_graph=True: autograd/higher_order.py)
    _double_backward = True
    _saved_inputs = {"m": 1, "v": 2}

    def apply(self, grad):
        nf = self.next_functions
        gi = unbroadcast(grad, self.in_shape) * self.beta if nf[0][0] is not None else None
        # (an outer product written with broadcasting, which Tensors also have)
        gm = grad[:, None] * self.v * self.alpha if nf[1][0] is not None else None
        gv = _mm(self.m.T, grad) * self.alpha if nf[2][0] is not None else None
        return gi, gm, gv


def addmv(input, mat, vec, *, beta=1, alpha=1, out=None):
    """beta * input + alpha * (mat @ vec)."""
    r = mv(mat, vec)
    c = input._data
    res = _scaled(r._data.copy(), beta, c, alpha)
    if res.shape != r._data.shape:
        raise RuntimeError(f"addmv: input of shape {list(c.shape)} does not broadcast to {list(r.shape)}")
    return _fused_result("addmv", AddmvBackward0, res, input, mat, vec, alpha, beta, out)


class BaddbmmBackward0(Node):
    __slots__ = ("b1", "b2", "in_shape", "alpha", "beta")
    _saved_fields = ("b1", "b2")
    # its formula also runs on Tensors (create_graph=True: autograd/higher_order.py)
    _double_backward = True
    _saved_inputs = {"b1": 1, "b2": 2}

    def apply(self, grad):
        nf = self.next_functions
        gi = unbroadcast(grad, self.in_shape) * self.beta if nf[0][0] is not None else None
        g1 = _mm(grad, self.b2.transpose(0, 2, 1)) * self.alpha if nf[1][0] is not None else None
        g2 = _mm(self.b1.transpose(0, 2, 1), grad) * self.alpha if nf[2][0] is not None else None
        return gi, g1, g2


def baddbmm(input, batch1, batch2, *, beta=1, alpha=1, out=None):
    """beta * input + alpha * bmm(batch1, batch2)."""
    if AUTOCAST[0] is not None:
        input, batch1, batch2 = AUTOCAST[0](LOWER, input, batch1, batch2)
    r = bmm(batch1, batch2)._data
    c = input._data
    res = _scaled(r, beta, c, alpha)
    if res.shape != r.shape:
        raise RuntimeError(f"baddbmm: input of shape {list(c.shape)} does not broadcast to {list(r.shape)}")
    return _fused_result("baddbmm", BaddbmmBackward0, res, input, batch1, batch2, alpha, beta, out)


class AddbmmBackward0(BaddbmmBackward0):
    # the same formulas: a 2-d grad broadcasts over the batch in the matmuls
    __slots__ = ()


def addbmm(input, batch1, batch2, *, beta=1, alpha=1, out=None):
    """beta * input + alpha * sum over the batch of bmm(batch1, batch2)."""
    if AUTOCAST[0] is not None:
        input, batch1, batch2 = AUTOCAST[0](LOWER, input, batch1, batch2)
    r = bmm(batch1, batch2)._data.sum(0)
    c = input._data
    res = _scaled(r, beta, c, alpha)
    return _fused_result("addbmm", AddbmmBackward0, res, input, batch1, batch2, alpha, beta, out)


def chain_matmul(*matrices, out=None):
    """Product of a chain of 2-d matrices."""
    if len(matrices) == 1 and isinstance(matrices[0], (list, tuple)):
        matrices = tuple(matrices[0])
    if not matrices:
        raise RuntimeError("chain_matmul(): Expected one or more matrices")
    res = matrices[0]
    for m in matrices[1:]:
        res = mm(res, m)
    return res


# ---- linear -------------------------------------------------------------------------------
def linear(input, weight, bias=None):
    """input @ weight.T + bias, as torch.nn.functional.linear (records AddmmBackward0 for 2-d input)."""
    if AUTOCAST[0] is not None:
        input, weight, bias = AUTOCAST[0](LOWER, input, weight, bias)
    try:
        x = input._data
        w = weight._data
    except AttributeError:
        bad, pos, what = (input, 1, "input") if not isinstance(input, Tensor) else (weight, 2, "weight")
        raise TypeError(f"linear(): argument '{what}' (position {pos}) must be Tensor, not "
                        f"{type(bad).__name__}") from None
    if x.ndim == 2:
        x2 = x
    elif x.ndim == 0:
        raise RuntimeError("both arguments to linear need to be at least 1D, but they are 0D and "
                           f"{w.ndim}D")
    else:
        x2 = x.reshape(-1, x.shape[-1])
    if w.ndim != 2 or x2.shape[1] != w.shape[-1]:
        if w.ndim == 1:
            return _linear_vector_weight(input, weight, bias)
        raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({x2.shape[0]}x{x2.shape[1]} and "
                           f"{w.shape[-1]}x{w.shape[0]})")
    if x.dtype != w.dtype:
        if bias is None:
            _same_dtype(x, w)
        raise RuntimeError(f"mat1 and mat2 must have the same dtype, but got {B.scalar_name(x.dtype)} and "
                           f"{B.scalar_name(w.dtype)}")  # torch's addmm text: a Linear with bias
    if x2.itemsize != 2 or x2.dtype.kind != "V":   # (the itemsize test first: one comparison for float32)
        res = _mm(x2, w.T)
        if bias is not None:
            b = bias._data
            if b.dtype != res.dtype:
                _bias_dtype_error(b, res)
            res += b
    else:   # bfloat16: the product plus bias in float32, rounded once, as torch's addmm
        res = _mm(x2.astype(np.float32), w.T.astype(np.float32))
        if bias is not None:
            if bias._data.dtype != x2.dtype:
                _bias_dtype_error(bias._data, x2)
            res += bias._data.astype(np.float32)
        res = B.bf16_round(res)
    if x.ndim != 2:
        res = res.reshape(x.shape[:-1] + (w.shape[0],))
    if not state.enabled or not (input._requires_grad or weight._requires_grad
                                 or (bias is not None and bias._requires_grad)):
        return _wrap(res)
    # the weight enters through .t(): TBackward0 -> weight's AccumulateGrad
    if weight._requires_grad:
        tw = _node(TBackward0, edge(weight))
        ew = (tw, 0)
    else:
        ew = (None, 0)
    # torch's graph: addmm for 2-d input with a bias, and for a contiguous N-d one (flattened by
    # views); else matmul (its input reshaped: a view, or a clone when not contiguous) then add_(bias)
    fused = bias is not None and (x.ndim == 2 or x.flags.c_contiguous)
    if input._requires_grad:
        if x.ndim == 2:
            ex = edge(input)
        else:
            ex = edge(input)
            if fused:
                cls = ViewBackward0
            elif x.ndim == 1:
                cls = UnsqueezeBackward0   # (matmul's vector @ matrix)
            elif x.flags.c_contiguous or _shares_memory(x2, x):
                cls = ViewBackward0        # (reshape gave a view)
            else:   # reshape copied: torch's clone, then its view
                clone = _node(CloneBackward0, ex)
                clone.shape = x.shape
                ex = (clone, 0)
                cls = UnsafeViewBackward0
            view = _node(cls, ex)
            view.shape = x.shape
            ex = (view, 0)
            if not x.flags.c_contiguous:
                # the product saves the reshaped input (as torch's): a tensor of the graph, so that
                # create_graph=True traces it
                if cls is UnsafeViewBackward0:
                    view.next_functions = (edge(_finish(x2.reshape(x.shape), clone)),)
                input = _finish(x2, view)
    else:
        ex = (None, 0)
    if fused:
        node = _node(AddmmBackward0, edge(bias) if bias._requires_grad else (None, 0), ex, ew)
        node.in_shape = bias._data.shape
        node.alpha = node.beta = 1
        node.t_weight = True
        node.m1, node.m2 = x2, w.T
    else:
        node = _node(_MmT, ex, ew)
        node.a, node.b = x2, w.T
    node._saved_versions = product_versions(input, weight)
    top = node
    if x.ndim != 2:
        outer = ViewBackward0 if fused else (SqueezeBackward4 if x.ndim == 1 else UnsafeViewBackward0)
        top = _wrap_in(outer, node, (x2.shape[0], w.shape[0]))
    if bias is not None and not fused:
        add = _node(_AddBackward0, (top, 0), edge(bias) if bias._requires_grad else (None, 0))
        add._saved_versions = ()
        add.a_shape, add.b_shape, add.alpha = res.shape, bias._data.shape, 1
        top = add
    return _finish(res, top)


def _bias_dtype_error(b, res):
    raise RuntimeError(f"self and mat2 must have the same dtype, but got {B.scalar_name(b.dtype)} and "
                       f"{B.scalar_name(res.dtype)}")


class _MmT(MmBackward0):
    """MmBackward0 whose second operand is weight.T: the weight gradient comes out in C order."""

    __slots__ = ()

    def apply(self, grad):
        nf = self.next_functions
        ga = _mm(grad, self.b.T) if nf[0][0] is not None else None
        gb = _mm(grad.T, self.a).T if nf[1][0] is not None else None
        return ga, gb


_MmT.__name__ = _MmT.__qualname__ = "MmBackward0"  # torch's node name


def _linear_vector_weight(input, weight, bias):
    # torch allows a 1-d weight: input @ weight (+ bias)
    out = matmul(input, weight)
    if bias is not None:
        from .elementwise import add
        out = add(out, bias)
    return out


class _BilinearBackward(Node):
    __slots__ = ("x1", "x2", "w")
    _saved_fields = ("x1", "x2", "w")
    # its formula also runs on Tensors (create_graph=True: autograd/higher_order.py)
    _double_backward = True
    _saved_inputs = {"x1": 0, "x2": 1, "w": 2}

    def apply(self, grad):
        nf = self.next_functions
        x1, x2, w = self.x1, self.x2, self.w
        xp = xp_of(grad)
        if type(grad) is _ndarray:
            g1, g2, gw = _bilinear_grads(grad, x1, x2, w, nf)
        else:   # (the Tensors of create_graph=True)
            g1 = xp.einsum("...o,oij,...j->...i", grad, w, x2) if nf[0][0] is not None else None
            g2 = xp.einsum("...o,oij,...i->...j", grad, w, x1) if nf[1][0] is not None else None
            gw = None
            if nf[2][0] is not None:
                gw = xp.einsum("bo,bi,bj->oij", grad.reshape(-1, grad.shape[-1]), x1.reshape(-1, x1.shape[-1]),
                               x2.reshape(-1, x2.shape[-1]))
        gb = None
        if len(nf) > 3 and nf[3][0] is not None:
            gb = grad.reshape(-1, grad.shape[-1]).sum(0)
        return g1, g2, gw, gb


_BilinearBackward.__name__ = _BilinearBackward.__qualname__ = "AddBackward0"  # torch's node name


# x1^T A_o x2 as products: NumPy's einsum runs a three-operand contraction as one loop over every
# (b, o, i, j) (nn.Bilinear(64, 64, 32) at batch 256, forward and backward: 103 ms, torch 18)
def _bilinear_t(x1, w):
    """t[b, o, j] = sum_i x1[b, i] w[o, i, j]: one product."""
    O, I, J = w.shape
    return _mm(x1, w.transpose(1, 0, 2).reshape(I, O * J)).reshape(-1, O, J)


def _bilinear_forward(x1, x2, w):
    """res[..., o] = sum_ij x1[..., i] w[o, i, j] x2[..., j]."""
    lead = x1.shape[:-1]
    t = _bilinear_t(x1.reshape(-1, x1.shape[-1]), w)
    return _mm(t, x2.reshape(-1, x2.shape[-1], 1))[..., 0].reshape(lead + (w.shape[0],))


def _bilinear_grads(grad, x1, x2, w, nf):
    """(d/dx1, d/dx2, d/dw) of bilinear for grad (..., O), as products."""
    O, I, J = w.shape
    g = grad.reshape(-1, 1, O)
    a, b = x1.reshape(-1, I), x2.reshape(-1, J)
    g1 = g2 = gw = None
    if nf[0][0] is not None:   # sum_o g[b, o] sum_j w[o, i, j] x2[b, j]
        ws = _mm(b, w.reshape(O * I, J).T).reshape(-1, O, I)
        g1 = _mm(g, ws)[:, 0].reshape(x1.shape)
    if nf[1][0] is not None:
        g2 = _mm(g, _bilinear_t(a, w))[:, 0].reshape(x2.shape)
    if nf[2][0] is not None:
        gw = _mm((g.reshape(-1, O, 1) * a[:, None, :]).reshape(-1, O * I).T, b).reshape(O, I, J)
    return g1, g2, gw


def bilinear(input1, input2, weight, bias=None):
    """y = x1^T A x2 + b for each output feature, as torch.nn.functional.bilinear."""
    x1, x2, w = input1._data, input2._data, weight._data
    # torch's checks, in its order
    if x1.ndim != x2.ndim:
        raise RuntimeError(f"bilinear(): input dimensions do not match: got {x1.ndim} and {x2.ndim}")
    for i in range(x1.ndim - 1):
        if x1.shape[i] != x2.shape[i]:
            raise RuntimeError(f"bilinear(): input batch dimensions do not match at dim {i}: got {x1.shape[i]} "
                               f"and {x2.shape[i]}")
    for name, x, j in (("input1", x1, 1), ("input2", x2, 2)):
        if w.ndim <= j or x.shape[-1] != w.shape[j]:
            expected = w.shape[j] if w.ndim > j else "a 3-d weight"
            raise RuntimeError(f"bilinear(): {name} size does not match weight size: got {x.shape[-1]} but "
                               f"expected {expected}")
    if bias is not None and bias._data.shape[0] != w.shape[0]:
        raise RuntimeError(f"bilinear(): bias size does not match weight size: got {bias._data.shape[0]} but "
                           f"expected {w.shape[0]}")
    if type(x1) is _ndarray and type(x2) is _ndarray and type(w) is _ndarray and x1.dtype == x2.dtype == w.dtype:
        res = _bilinear_forward(x1, x2, w)
    else:
        res = xp_of(x1).einsum("...i,oij,...j->...o", x1, w, x2)
    if bias is not None:
        res = res + bias._data
    res = res.astype(x1.dtype, copy=False)
    node = None
    if _needs(input1, input2, weight, bias):
        edges = [_edge(input1), _edge(input2), _edge(weight)]
        edges.append(_edge(bias) if bias is not None else (None, 0))
        node = _node(_BilinearBackward, *edges)
        node.x1, node.x2, node.w = x1, x2, w
        node._saved_versions = product_versions(input1, input2, weight)
    return _finish(res, node)


# ---- einsum / tensordot / kron ------------------------------------------------------------------
_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _parse_einsum(equation, shapes):
    """Explicit per-operand subscripts (ellipses expanded to letters) and the output's."""
    eq = equation.replace(" ", "")
    if "->" in eq:
        lhs, rhs = eq.split("->")
    else:
        lhs, rhs = eq, None
    terms = lhs.split(",")
    if len(terms) != len(shapes):
        raise RuntimeError(f"einsum(): {len(terms)} operands were specified in the equation but "
                           f"{len(shapes)} were given")
    used = set(c for c in eq if c.isalpha())
    free = [c for c in _LETTERS if c not in used]
    ell_n = 0
    for t, s in zip(terms, shapes):
        if "..." in t:
            ell_n = max(ell_n, len(s) - (len(t) - 3))
    ell = "".join(free[:ell_n])
    subs = []
    for t, s in zip(terms, shapes):
        if "..." in t:
            k = len(s) - (len(t) - 3)
            t = t.replace("...", ell[ell_n - k:] if k else "")
        if len(t) != len(s):
            raise RuntimeError(f"einsum(): the number of subscripts in the equation ({len(t)}) does not match "
                               f"the number of dimensions ({len(s)}) for operand {len(subs)}")
        subs.append(t)
    if rhs is None:
        counts = {}
        for t in subs:
            for c in t:
                counts[c] = counts.get(c, 0) + 1
        rhs = ell + "".join(sorted(c for c in counts if counts[c] == 1 and c not in ell))
    else:
        rhs = rhs.replace("...", ell)
    return subs, rhs


def _check_einsum_sizes(equation, subs, shapes):
    """torch's RuntimeError where a label's sizes disagree (size 1 broadcasts), checked in torch's order,
    operand by operand: NumPy's text speaks of 'remapped shapes' instead. Mismatched sizes never pass
    NumPy's einsum (_pair_plan declines them), so its failure is where this runs."""
    size = {}
    for i, (t, shape) in enumerate(zip(subs, shapes)):
        first = {}
        for d, (c, n) in enumerate(zip(t, shape)):
            if c in first:
                if n != shape[first[c]]:
                    raise RuntimeError(f"einsum(): subscript {c} is repeated for operand {i} but the sizes don't "
                                       f"match, {n} != {shape[first[c]]} (a repeated subscript takes a diagonal, "
                                       "which needs equal sizes)")
                continue
            first[c] = d
            seen = size.get(c, 1)
            if n != 1 and seen != n:
                if seen != 1:
                    raise _einsum_size_error(equation, c, i, d, n, seen, t, shape)
                size[c] = n


def _einsum_size_error(equation, c, i, d, n, seen, t, shape):
    lhs = equation.replace(" ", "").split("->")[0].split(",")
    if "..." in lhs[i] and c not in lhs[i]:   # a letter _parse_einsum gave a dim that the ellipsis covers
        return RuntimeError(f"einsum(): dimension {d} covered by ellipsis in operand {i}has size {n} which does not "
                            f"broadcast with previously seen ellipsis with size {seen} for the respective dimension "
                            f"(operand {i} has shape {list(shape)})")
    return RuntimeError(f"einsum(): subscript {c} has size {n} for operand {i} which does not broadcast with "
                        f"previously seen size {seen} (operand {i} has shape {list(shape)} for subscripts {t!r}; "
                        "a subscript's sizes must agree, or be 1)")


class _EinsumBackward(Node):
    __slots__ = ("ops", "subs", "rhs", "shapes")
    _saved_fields = ("ops",)
    _double_backward = True   # through _apply_tensors (create_graph=True)

    def _apply_tensors(self, grad, saved):
        """create_graph=True: each operand's gradient is an einsum of grad with the other operands."""
        if any(len(set(t)) != len(t) for t in self.subs) or any(
                a.shape != s for a, s in zip(self.ops, self.shapes)) or len(saved) != len(self.ops):
            raise NotImplementedError("create_graph=True: ember differentiates the backward of einsum without "
                                      "repeated labels only yet")
        sizes = {c: n for t, s in zip(self.subs, self.shapes) for c, n in zip(t, s)}
        if any(sizes[c] != n for t, s in zip(self.subs, self.shapes) for c, n in zip(t, s)):
            raise NotImplementedError("create_graph=True: ember differentiates the backward of einsum without "
                                      "broadcast operands only yet")
        out = []
        for k, t in enumerate(self.subs):
            if self.next_functions[k][0] is None:
                out.append(None)
                continue
            # torch's convention for complex: products with the conjugated operands
            others = [(saved[i].conj() if grad.is_complex() else saved[i], self.subs[i])
                      for i in range(len(saved)) if i != k]
            avail = set(self.rhs).union(*[set(o[1]) for o in others])
            keep = "".join(c for c in t if c in avail)
            g = einsum(",".join([self.rhs] + [o[1] for o in others]) + "->" + keep, grad, *[o[0] for o in others])
            if keep != t:   # labels only this operand had were summed in forward: broadcast back
                g = g.reshape(tuple(sizes[c] if c in keep else 1 for c in t)).expand(*self.shapes[k])
            out.append(g)
        return tuple(out)

    def apply(self, grad):
        xp = xp_of(grad)
        out = []
        sizes = {}
        for t, s in zip(self.subs, self.shapes):
            for c, n in zip(t, s):
                if n != 1:
                    sizes[c] = n
        for c, n in zip(self.rhs, grad.shape):
            sizes[c] = n
        for k, (t, s) in enumerate(zip(self.subs, self.shapes)):
            if self.next_functions[k][0] is None:
                out.append(None)
                continue
            uniq = "".join(dict.fromkeys(t))
            others = [(self.ops[i], self.subs[i]) for i in range(len(self.ops)) if i != k]
            avail = set(self.rhs).union(*[set(o[1]) for o in others])
            keep = "".join(c for c in uniq if c in avail)
            expr = ",".join([self.rhs] + [o[1] for o in others]) + "->" + keep
            # operands broadcast over size-1 dims: expand them to the full label sizes
            args = [grad] + [xp.broadcast_to(o[0].conj() if grad.dtype.kind == "c" else o[0],
                                             tuple(sizes.get(c, 1) for c in o[1])) for o in others]
            g = _einsum_pair(args[0], self.rhs, args[1], others[0][1], keep) if len(args) == 2 else None
            if g is None:
                # (three or more operands: NumPy's pairwise contractions through BLAS, as the forward;
                # unoptimized, one loop over every label: x^T W x over (256, 512), backward, 139 ms)
                g = xp.einsum(expr, *args, optimize=len(args) > 2)
            # labels only this operand had were summed in forward: broadcast back
            full_shape = tuple(sizes.get(c, 1) for c in uniq)
            g = g.reshape(tuple(sizes.get(c, 1) if c in keep else 1 for c in uniq))
            g = xp.broadcast_to(g, full_shape)
            if uniq != t:  # repeated labels (diagonals): write g onto the diagonal of a zero array
                z = xp.zeros(tuple(sizes.get(c, 1) for c in t), grad.dtype)
                _diagonal_view(z, t, uniq)[...] = g
                g = z
            g = unbroadcast(xp.ascontiguousarray(g), s) if g.shape != s else g
            out.append(g.astype(grad.dtype, copy=False))
        return tuple(out)


_EinsumBackward.__name__ = _EinsumBackward.__qualname__ = "ViewBackward0"  # torch's node name


def _diagonal_view(z, labels, uniq):
    """The writable view of the contiguous array z (axes named by labels) along its repeated
    labels: one axis per label of uniq, stepping all of that label's axes at once."""
    strides = [0] * len(uniq)
    for c, st in zip(labels, z.strides):
        strides[uniq.index(c)] += st
    return _strided(z, tuple(z.shape[labels.index(c)] for c in uniq), tuple(strides))


_PAIR_PLANS = {}


def _pair_plan(sa, sb, rhs, shape_a, shape_b):
    """How einsum(sa,sb->rhs) runs as one matrix product: (axes summed away in a, in b, a's
    transpose and (batch, M, K) shape, b's and (batch, K, N), the product's shape by label, its
    transpose to rhs); None where einsum itself must run: repeated or broadcast (size-1) labels,
    or a product too small or too thin for BLAS to pay (batched dots)."""
    if len(set(sa)) != len(sa) or len(set(sb)) != len(sb) or len(set(rhs)) != len(rhs):
        return None
    size = dict(zip(sa, shape_a))
    for c, n in zip(sb, shape_b):
        if size.setdefault(c, n) != n:
            return None
    if any(c not in size for c in rhs):
        return None
    contracted = [c for c in sa if c in sb and c not in rhs]
    # labels of one operand only, absent from the output: summed away first
    only_a = tuple(i for i, c in enumerate(sa) if c not in sb and c not in rhs)
    only_b = tuple(i for i, c in enumerate(sb) if c not in sa and c not in rhs)
    sa = "".join(c for i, c in enumerate(sa) if i not in only_a)
    sb = "".join(c for i, c in enumerate(sb) if i not in only_b)
    batch = [c for c in rhs if c in sa and c in sb]
    left = [c for c in rhs if c in sa and c not in sb]
    right = [c for c in rhs if c in sb and c not in sa]
    nb, m, k, n = (math.prod(size[c] for c in labels) for labels in (batch, left, contracted, right))
    if contracted and (m * n * k < 4096 or max(m, n) < 8):
        return None
    order = batch + left + right
    return (only_a, only_b, [sa.index(c) for c in batch + left + contracted], (nb, m, k),
            [sb.index(c) for c in batch + contracted + right], (nb, k, n),
            tuple(size[c] for c in order), [order.index(c) for c in rhs])


def _einsum_pair(a, sa, b, sb, rhs):
    """einsum(sa,sb->rhs) of two float arrays as ONE matrix product, as torch contracts a pair
    (bmm over the shared output labels); None where einsum itself must run (see _pair_plan).
    NumPy's einsum of two operands never calls BLAS: 5-15x slower than torch on 512x512."""
    # (a.size * b.size bounds the product's multiply-adds from above: small ones stay einsum's)
    if a.size * b.size < 65536 or a.dtype.kind not in "fc" or a.dtype != b.dtype:
        return None
    key = (sa, sb, rhs, a.shape, b.shape)
    plan = _PAIR_PLANS.get(key, False)
    if plan is False:
        if len(_PAIR_PLANS) >= 256:
            _PAIR_PLANS.clear()
        plan = _PAIR_PLANS[key] = _pair_plan(sa, sb, rhs, a.shape, b.shape)
    if plan is None:
        return None
    only_a, only_b, perm_a, shape_a, perm_b, shape_b, shape, perm = plan
    if only_a:
        a = a.sum(axis=only_a)
    if only_b:
        b = b.sum(axis=only_b)
    a3 = a.transpose(perm_a).reshape(shape_a)
    b3 = b.transpose(perm_b).reshape(shape_b)
    if shape_a[2] == 1:   # nothing to sum: a broadcast product, as torch's einsum multiplies
        res = a3 * b3
    else:
        res = _mm(a3[0], b3[0]) if shape_a[0] == 1 else _mm(a3, b3)
    return res.reshape(shape).transpose(perm)


def einsum(equation, *operands):
    """Einstein summation over the operands, as torch.einsum."""
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    for o in operands:
        if not isinstance(o, Tensor):
            raise TypeError(f"einsum(): operands must be Tensors, not {type(o).__name__}")
    arrays = [o._data for o in operands]
    subs, rhs = _parse_einsum(equation, [a.shape for a in arrays])
    dt = arrays[0].dtype
    for a in arrays[1:]:
        if a.dtype != dt:
            _check_einsum_sizes(equation, subs, [a.shape for a in arrays])   # (torch checks sizes first)
            raise RuntimeError(f"expected scalar type {B.scalar_name(dt)} but found {B.scalar_name(a.dtype)}")
    xp = xp_of(arrays[0])
    res = _einsum_pair(arrays[0], subs[0], arrays[1], subs[1], rhs) if len(arrays) == 2 else None
    if res is None:
        try:
            res = xp.einsum(",".join(subs) + "->" + rhs, *arrays, optimize=len(arrays) > 2)
        except ValueError as e:
            # (sizes are checked only here, where NumPy refused them: ~1 us a call otherwise)
            _check_einsum_sizes(equation, subs, [a.shape for a in arrays])
            raise RuntimeError(f"einsum(): {e}") from None
        res = xp.asarray(res)
    node = None
    if _needs(*operands):
        node = _node(_EinsumBackward, *[_edge(o) for o in operands])
        node.ops, node.subs, node.rhs = arrays, subs, rhs
        node.shapes = [a.shape for a in arrays]
        node._saved_versions = product_versions(*operands)
    return _finish(res, node)


def tensordot(a, b, dims=2, out=None):
    """Contract dims of a with dims of b, as torch.tensordot."""
    na, nb = a._data.ndim, b._data.ndim
    if isinstance(dims, int):
        da, db = list(range(na - dims, na)), list(range(dims))
    elif isinstance(dims, Tensor):
        d = dims.tolist()
        da, db = ([int(x) for x in d[0]], [int(x) for x in d[1]]) if isinstance(d[0], list) else \
            (list(range(na - int(d[0]), na)), list(range(int(d[0]))))
    else:
        da, db = dims
        da = [da] if isinstance(da, int) else list(da)
        db = [db] if isinstance(db, int) else list(db)
    da = [d % na for d in da]
    db = [d % nb for d in db]
    sa = [_LETTERS[i] for i in range(na)]
    sb = [_LETTERS[na + i] for i in range(nb)]
    for i, j in zip(da, db):
        sb[j] = sa[i]
    outs = "".join(c for i, c in enumerate(sa) if i not in da) + "".join(c for j, c in enumerate(sb) if j not in db)
    res = einsum(f"{''.join(sa)},{''.join(sb)}->{outs}", a, b)
    if out is not None:
        return _write_out(out, res._data, "tensordot", a, b)
    return res


def kron(input, other, *, out=None):
    """Kronecker product."""
    a, b = input._data, other._data
    nd = max(a.ndim, b.ndim)
    a_ = a.reshape((1,) * (nd - a.ndim) + a.shape)
    b_ = b.reshape((1,) * (nd - b.ndim) + b.shape)
    sa = _LETTERS[:nd]
    sb = _LETTERS[nd:2 * nd]
    ta = _wrap(a_) if not input._requires_grad else _reshape_tensor(input, a_.shape)
    tb = _wrap(b_) if not other._requires_grad else _reshape_tensor(other, b_.shape)
    inter = "".join(x + y for x, y in zip(sa, sb))
    res = einsum(f"{sa},{sb}->{inter}", ta, tb)
    shape = tuple(x * y for x, y in zip(a_.shape, b_.shape))
    res_t = _reshape_tensor(res, shape)
    if out is not None:
        return _write_out(out, res_t._data, "kron", input, other)
    return res_t


def _reshape_tensor(t, shape):
    out = t._data.reshape(shape)
    node = None
    if _needs(t):
        node = _node(ViewBackward0, edge(t))
        node.shape = t._data.shape
    return _finish(out, node)


# ---- Tensor methods -------------------------------------------------------------------------
def _register():
    T = Tensor

    def matmul_op(self, other):
        # torch: a NumPy array operand is converted, anything else is unsupported
        if type(other) is Tensor or isinstance(other, Tensor):
            return matmul(self, other)
        if isinstance(other, np.ndarray):
            return matmul(self, _wrap(other))
        return NotImplemented

    def rmatmul(self, other):
        if isinstance(other, Tensor):
            return matmul(other, self)
        return NotImplemented

    def method(fn):
        def m(self, *args, **kwargs):
            return fn(self, *args, **kwargs)
        m.__name__ = fn.__name__
        m.__doc__ = fn.__doc__
        return m

    T.__matmul__ = matmul_op
    T.__rmatmul__ = rmatmul
    for name in ("matmul", "mm", "bmm", "mv", "dot", "vdot", "inner", "outer", "ger", "kron"):
        setattr(T, name, globals()[name])
    for name in ("addmm", "addmv", "baddbmm", "addbmm"):
        setattr(T, name, method(globals()[name]))

    def addmm_(self, mat1, mat2, *, beta=1, alpha=1):
        """In-place addmm: self = beta * self + alpha * (mat1 @ mat2)."""
        return _inplace(self, addmm, (mat1, mat2), beta=beta, alpha=alpha)

    def baddbmm_(self, batch1, batch2, *, beta=1, alpha=1):
        """In-place baddbmm: self = beta * self + alpha * (batch1 @ batch2)."""
        return _inplace(self, baddbmm, (batch1, batch2), beta=beta, alpha=alpha)

    T.addmm_ = addmm_
    T.baddbmm_ = baddbmm_


def _inplace(self, op, args, **kwargs):
    """self = op(self, *args, **kwargs) in self's memory; recorded as torch records it when a gradient is
    involved (the op's node takes self's old value first, so views of graph tensors work too)."""
    name = op.__name__ + "_"
    if state.enabled and (self._requires_grad or any(isinstance(a, Tensor) and a._requires_grad for a in args)):
        from .elementwise import _inplace as _write
        old_shape = self._data.shape
        out = _write(self, None, lambda s, *a: _same_shape(op(s, *a, **kwargs), old_shape, name), args)
        return out
    res = _same_shape(op(self, *args, **kwargs), self._data.shape, name)
    self._data[...] = res._data
    self._vc[0] += 1
    return self


def _same_shape(res, shape, name):
    if tuple(res._data.shape) != tuple(shape):
        raise RuntimeError(f"{name}: the result of shape {list(res._data.shape)} can't be written into this "
                           f"tensor of shape {list(shape)} (an in-place op keeps self's shape); use the "
                           "out-of-place form")
    return res


_register()


# ---- trace ----------------------------------------------------------------------------------------
class TraceBackward0(Node):
    __slots__ = ("shape",)
    _double_backward = True   # through _apply_tensors (create_graph=True)

    def _apply_tensors(self, grad, saved):
        """create_graph=True: the diagonal scatter is linear in grad; its transpose is the trace."""
        from ..autograd.higher_order import linear_pair
        step = self.shape[1] + 1
        n = min(self.shape)
        return linear_pair(self, grad, lambda a: a.reshape(-1)[:n * step:step].sum())

    def apply(self, g):
        z = xp_of(g).zeros(self.shape, dtype=g.dtype)
        n = min(self.shape)
        z.reshape(-1)[:n * (self.shape[1] + 1):self.shape[1] + 1] = g
        return (z,)


def trace(input):
    """The sum of a matrix's main diagonal (integer matrices sum to int64)."""
    a = input._data
    _barebones.check("trace", a)
    if a.ndim != 2:
        raise RuntimeError(f"trace: expected a matrix, but got tensor with dim {a.ndim} (shape {list(a.shape)}); "
                           "take a 2-d slice first, or use torch.diagonal(x, dim1=-2, dim2=-1).sum(-1) for a batch")
    if a.dtype.kind == "b":
        raise NotImplementedError("\"trace\" not implemented for 'Bool' (convert with .long() first)")
    xp = xp_of(a)
    dt = np.int64 if a.dtype.kind in "iu" else a.dtype
    res = xp.asarray(xp.trace(a, dtype=dt), dtype=dt)   # numpy gives a scalar: tensors hold arrays
    node = None
    if state.enabled and input._requires_grad:
        node = _node(TraceBackward0, edge(input))
        node.shape = a.shape
    return _finish(res, node)


Tensor.trace = trace
__all__ += ["trace"]


# ---- cdist -----------------------------------------------------------------------------------------
class CdistBackward0(Node):
    """Gradient of the p-norm distances between the rows of x1 and x2 (torch's _cdist_backward)."""
    __slots__ = ("x1", "x2", "dist", "p", "s1", "s2")
    _saved_fields = ("x1", "x2", "dist")

    def apply(self, g):
        xp = xp_of(g)
        x1, x2 = self.x1, self.x2
        P, R, M = x1.shape[-2], x2.shape[-2], x1.shape[-1]
        rows = max(1, _CDIST_BLOCK // max(1, math.prod(g.shape[:-2]) * R * M))
        g1, g2 = [], None
        for lo in range(0, P, rows):   # (*, rows, R, M) differences at a time, as the forward
            w = self._weights(xp, x1[..., lo:lo + rows, None, :] - x2[..., None, :, :],
                              self.dist[..., lo:lo + rows, :, None], g[..., lo:lo + rows, :, None])
            g1.append(w.sum(axis=-2))
            part = w.sum(axis=-3)
            g2 = part if g2 is None else g2 + part
        grad1 = grad2 = None
        if self.next_functions[0][0] is not None:
            grad1 = unbroadcast(xp.concatenate(g1, axis=-2) if len(g1) > 1 else g1[0], self.s1)
        if self.next_functions[1][0] is not None:
            grad2 = unbroadcast(-g2, self.s2)
        return grad1, grad2

    def _weights(self, xp, diff, d, g):
        """d(dist)/d(x1) for the differences diff (*, rows, R, M), times the gradient g."""
        p = self.p
        if p == 0:
            w = xp.zeros_like(diff)
        elif p == 1:
            w = xp.sign(diff)
        elif p == float("inf"):
            w = xp.sign(diff) * (xp.abs(diff) == d)
        else:
            ad = xp.abs(diff)
            safe_d = B.where(xp, d == 0, 1, d)
            w = xp.sign(diff) * (ad / safe_d) ** (p - 1) if p != 2 else diff / safe_d
            w = B.where(xp, (d == 0) | (ad == 0), 0, w)
        return (w * g).astype(g.dtype, copy=False)


class EuclideanDistBackward0(Node):
    """Gradient of cdist's matrix-product path (torch's _euclidean_dist_backward): ratio = grad / dist,
    0 where dist is 0; x1 * ratio.sum(-1) - ratio @ x2 and x2 * ratio.sum(-2) - ratio^T @ x1."""
    __slots__ = ("x1", "x2", "dist", "s1", "s2")
    _saved_fields = ("x1", "x2", "dist")
    _double_backward = True   # through _apply_tensors (create_graph=True)

    def _apply_tensors(self, grad, saved):
        """create_graph=True: the same formula on the saved inputs' Tensors, the distances recomputed
        from them (torch's backward is made of differentiable ops too)."""
        from .elementwise import where
        x1, x2 = saved
        dist = cdist(x1, x2, compute_mode="use_mm_for_euclid_dist")
        ratio = where(dist == 0, 0.0, grad / dist)
        g1 = g2 = None
        if self.next_functions[0][0] is not None:
            g1 = (x1 * ratio.sum(-1, keepdim=True) - ratio @ x2).sum_to_size(*x1.shape)
        if self.next_functions[1][0] is not None:
            g2 = (x2 * ratio.sum(-2).unsqueeze(-1) - ratio.mT @ x1).sum_to_size(*x2.shape)
        return g1, g2

    def apply(self, g):
        xp = xp_of(g)
        d = self.dist
        ratio = B.where(xp, d == 0, 0, g / d).astype(g.dtype, copy=False)
        g1 = g2 = None
        if self.next_functions[0][0] is not None:
            g1 = unbroadcast((self.x1 * ratio.sum(-1, keepdims=True) - _mm(ratio, self.x2)).reshape(self.s1[0]),
                             self.s1[1])
        if self.next_functions[1][0] is not None:
            g2 = self.x2 * ratio.sum(-2)[..., None] - _mm(xp.swapaxes(ratio, -1, -2), self.x1)
            g2 = unbroadcast(g2.reshape(self.s2[0]), self.s2[1])
        return g1, g2


def _euclidean_dist(xp, a, b):
    """torch's _euclidean_dist: the squared distances as one product of [-2 x1, |x1|^2, 1] and
    [x2, 1, |x2|^2], clamped at 0, square-rooted."""
    a_norm = (a * a).sum(-1, keepdims=True)
    b_norm = (b * b).sum(-1, keepdims=True)
    a_ = xp.concatenate([a * a.dtype.type(-2), a_norm, xp.ones_like(a_norm)], -1)
    b_ = xp.concatenate([b, xp.ones_like(b_norm), b_norm], -1)
    r = _mm(a_, xp.swapaxes(b_, -1, -2))
    xp.maximum(r, 0, out=r)
    return xp.sqrt(r, out=r)


_CDIST_MODES = ("use_mm_for_euclid_dist_if_necessary", "use_mm_for_euclid_dist", "donot_use_mm_for_euclid_dist")
_CDIST_BLOCK = 1 << 22   # the direct path's (rows, R, M) differences, at most


def cdist(x1, x2, p=2.0, compute_mode="use_mm_for_euclid_dist_if_necessary"):
    """p-norm distances between each row of x1 (*, P, M) and each row of x2 (*, R, M): (*, P, R)."""
    a, b = x1._data, x2._data
    for name, t in (("X1", a), ("X2", b)):
        if t.ndim < 2:
            raise RuntimeError(f"cdist only supports at least 2D tensors, {name} got: {t.ndim}D")
    for name, t in (("X1", a), ("X2", b)):
        if t.dtype.kind != "f":
            raise RuntimeError(f"cdist only supports floating-point dtypes, {name} got: {B.scalar_name(t.dtype)}")
    if a.dtype != b.dtype:
        raise RuntimeError(f"expected scalar type {B.scalar_name(a.dtype)} but found {B.scalar_name(b.dtype)} "
                           "(cdist needs x1 and x2 of one dtype)")
    if a.shape[-1] != b.shape[-1]:
        raise RuntimeError(f"X1 and X2 must have the same number of columns. X1: {a.shape[-1]} X2: {b.shape[-1]}")
    if p < 0:
        raise RuntimeError("cdist only supports non-negative p values")
    if compute_mode not in _CDIST_MODES and compute_mode is not None:
        raise ValueError(f"{compute_mode} is not a valid value for compute_mode")
    xp = xp_of(a)
    try:
        batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    except ValueError:
        n = max(a.ndim, b.ndim) - 2
        pa, pb = (1,) * (n - a.ndim + 2) + a.shape[:-2], (1,) * (n - b.ndim + 2) + b.shape[:-2]
        k = next(i for i in range(n) if pa[i] != pb[i] and 1 not in (pa[i], pb[i]))
        raise RuntimeError(f"The size of tensor a ({pa[k]}) must match the size of tensor b ({pb[k]}) at "
                           f"non-singleton dimension {k}") from None
    p = float(p)
    P, R, M = a.shape[-2], b.shape[-2], a.shape[-1]
    mode = _CDIST_MODES.index(compute_mode) if compute_mode is not None else 0
    if p == 2 and a.size and b.size and (mode == 1 or (mode == 0 and (P > 25 or R > 25))):
        # torch's matrix-product path (its default past 25 rows): no (P, R, M) differences
        # (1024 x 1024 rows of 64: 55 ms and a 268 MB temporary -> 2.0 ms; torch 1.5)
        ea = xp.broadcast_to(a, batch + (P, M)).reshape(-1, P, M)
        eb = xp.broadcast_to(b, batch + (R, M)).reshape(-1, R, M)
        res = _euclidean_dist(xp, ea, eb)
        node = None
        if state.enabled and (x1._requires_grad or x2._requires_grad):
            node = _node(EuclideanDistBackward0, _edge(x1), _edge(x2))
            node._saved_versions = ((x1, x1._vc[0]), (x2, x2._vc[0]))   # (torch saves both too)
            node.x1, node.x2, node.dist = ea, eb, res
            node.s1, node.s2 = (batch + (P, M), a.shape), (batch + (R, M), b.shape)
        return _finish(res, node).view(batch + (P, R))
    res = xp.empty(batch + (P, R), a.dtype)
    # the differences a block of x1's rows at a time, so that memory stays bounded
    rows = max(1, _CDIST_BLOCK // max(1, math.prod(batch) * R * M))
    for lo in range(0, P, rows):
        diff = xp.abs(a[..., lo:lo + rows, None, :] - b[..., None, :, :])
        if p == 0:
            part = (diff != 0).sum(axis=-1)
        elif p == 1:
            part = diff.sum(axis=-1)
        elif p == 2:
            part = xp.sqrt((diff * diff).sum(axis=-1))
        elif p == float("inf"):
            part = diff.max(axis=-1) if diff.shape[-1] else xp.zeros(diff.shape[:-1], dtype=a.dtype)
        else:
            part = (diff ** p).sum(axis=-1) ** (1 / p)
        res[..., lo:lo + rows, :] = part
    node = None
    if state.enabled and (x1._requires_grad or x2._requires_grad):
        node = _node(CdistBackward0, _edge(x1), _edge(x2))
        node.x1, node.x2, node.dist, node.p, node.s1, node.s2 = a, b, res, p, a.shape, b.shape
    return _finish(res, node)


__all__ += ["cdist"]


# ---- Tensor methods of torch.linalg's ops (det, inverse, svd, ...) -----------------------------------
# They live in ember/linalg.py, imported on first use so `import ember` stays light: until then each
# method is a stub that imports it (the import replaces the stubs with the real functions).
def _linalg_method(name):
    def method(self, *args, **kwargs):
        import importlib
        return importlib.import_module("ember.linalg").METHODS[name](self, *args, **kwargs)
    method.__name__ = name
    return method


for _name in ("det", "inverse", "pinverse", "logdet", "slogdet", "matrix_power", "cholesky", "svd", "cross", "qr",
              "matrix_exp", "cholesky_inverse", "cholesky_solve", "triangular_solve", "lu", "lu_solve",
              "eig", "symeig", "lstsq", "solve"):
    setattr(Tensor, _name, _linalg_method(_name))
del _name


# ---- addr, and the in-place addmv_ / addbmm_ / addr_ -------------------------------------------------
class AddrBackward0(Node):
    __slots__ = ("v1", "v2", "in_shape", "alpha", "beta")
    _saved_fields = ("v1", "v2")

    def apply(self, grad):
        nf = self.next_functions
        gi = unbroadcast(grad, self.in_shape) * self.beta if nf[0][0] is not None else None
        g1 = _mm(grad, self.v2) * self.alpha if nf[1][0] is not None else None
        g2 = _mm(grad.T, self.v1) * self.alpha if nf[2][0] is not None else None
        return gi, g1, g2


def addr(input, vec1, vec2, *, beta=1, alpha=1, out=None):
    """beta * input + alpha * outer(vec1, vec2)."""
    a, b = _arrays("addr", vec1, vec2)
    if a.ndim != 1 or b.ndim != 1:
        raise RuntimeError(f"addr: Expected 1-D argument vec1 and vec2, but got {a.ndim}-D and {b.ndim}-D "
                           "(flatten them first)")
    r = xp_of(a).multiply.outer(a, b)
    c = input._data
    if not _expands_to(c.shape, r.shape):
        raise RuntimeError(f"addr: input of shape {list(c.shape)} does not broadcast to {list(r.shape)}")
    res = _scaled(r, beta, c, alpha)
    return _fused_result("addr", AddrBackward0, res, input, vec1, vec2, alpha, beta, out)


def _register_group1():
    T = Tensor

    def addr_method(self, vec1, vec2, *, beta=1, alpha=1):
        """beta * self + alpha * outer(vec1, vec2)."""
        return addr(self, vec1, vec2, beta=beta, alpha=alpha)
    addr_method.__name__ = "addr"
    T.addr = addr_method

    def addmv_(self, mat, vec, *, beta=1, alpha=1):
        """In-place addmv: self = beta * self + alpha * (mat @ vec)."""
        return _inplace(self, addmv, (mat, vec), beta=beta, alpha=alpha)

    def addbmm_(self, batch1, batch2, *, beta=1, alpha=1):
        """In-place addbmm: self = beta * self + alpha * sum_b batch1[b] @ batch2[b]."""
        return _inplace(self, addbmm, (batch1, batch2), beta=beta, alpha=alpha)

    def addr_(self, vec1, vec2, *, beta=1, alpha=1):
        """In-place addr: self = beta * self + alpha * outer(vec1, vec2)."""
        return _inplace(self, addr, (vec1, vec2), beta=beta, alpha=alpha)
    T.addmv_, T.addbmm_, T.addr_ = addmv_, addbmm_, addr_


_register_group1()


def addmv_(input, mat, vec, *, beta=1, alpha=1):
    """torch.addmv_: input.addmv_(mat, vec)."""
    return input.addmv_(mat, vec, beta=beta, alpha=alpha)


__all__ += ["addr", "addmv_"]

__all__ += ["bilinear"]   # torch.bilinear(input1, input2, weight, bias): F.bilinear's arguments


# ---- pdist ---------------------------------------------------------------------------------------------------
class PdistBackward0(Node):
    __slots__ = ("x", "p", "dist")
    _saved_fields = ("x",)

    def apply(self, g):
        x, dist = self.x, self.dist
        xp = xp_of(g)
        out = xp.zeros_like(x)
        # row i's pairs (i, i+1..n-1) lie together: their differences are x[i] - x[i+1:], and their
        # contributions add to row i and subtract from rows i+1.. (no add.at over every pair: n = 1000
        # rows of 64 took 1.3 s)
        start = 0
        for i in range(x.shape[0] - 1):
            end = start + x.shape[0] - 1 - i
            c = g[start:end, None] * self._weights(xp, x[i] - x[i + 1:], dist[start:end, None])
            out[i] += c.sum(axis=0)
            out[i + 1:] -= c
            start = end
        return (out,)

    def _weights(self, xp, diff, d):
        """d(dist)/d(x_i) of pairs with differences diff and distances d."""
        p = self.p
        with B.errstate(xp, divide="ignore", invalid="ignore"):
            if p == 0:
                return xp.zeros_like(diff)
            if p == 1:
                return xp.sign(diff)
            if p == float("inf"):
                return xp.sign(diff) * (xp.abs(diff) == d)
            if p == 2:
                return B.where(xp, d == 0, 0, diff / d)
            w = xp.sign(diff) * xp.abs(diff) ** (p - 1) / d ** (p - 1)
            if p < 1:   # (|diff| ** (p - 1) is infinite at diff = 0, where torch's gradient is 0)
                w = B.where(xp, diff == 0, 0, w)
            return B.where(xp, d == 0, 0, w)


def pdist(input, p=2):
    """The p-norm distances between each pair of input's rows (the upper triangle of cdist, row by row)."""
    a = input._data
    if a.ndim != 2:
        raise RuntimeError(f"pdist only supports 2D tensors, got: {a.ndim}D")
    if a.dtype.kind != "f":
        raise RuntimeError(f"pdist only supports floating-point dtypes (got {input.dtype})")
    if p < 0:
        raise RuntimeError("pdist only supports non-negative p values")
    xp = xp_of(a)
    n = a.shape[0]
    res = xp.empty(n * (n - 1) // 2, a.dtype)
    # row by row: row i's pairs are x[i] - x[i+1:], a slice (gathering every pair's rows took n = 1000
    # rows of 64 to 608 ms and a 128 MB temporary)
    start = 0
    for i in range(n - 1):
        end = start + n - 1 - i
        diff = xp.abs(a[i] - a[i + 1:])
        if p == 0:
            res[start:end] = (diff != 0).sum(axis=1)
        elif p == float("inf"):
            res[start:end] = diff.max(axis=1) if diff.shape[1] else 0
        elif p == 1:
            res[start:end] = diff.sum(axis=1)
        elif p == 2:
            res[start:end] = xp.sqrt((diff * diff).sum(axis=1))
        else:
            res[start:end] = (diff ** p).sum(axis=1) ** (1.0 / p)
        start = end
    node = None
    if state.enabled and input._requires_grad:
        node = _node(PdistBackward0, _edge(input))
        node.x, node.p, node.dist = a, p, res
        node._saved_versions = ((input, input._vc[0]),)
    return _finish(res, node)


__all__ += ["pdist"]
__functional__ += ["pdist"]
