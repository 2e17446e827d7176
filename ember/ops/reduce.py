"""Reductions: sum, mean, max/min, std/var, norm, sort, cumulative ops.

Backward formulas run on raw arrays; gradients of reductions are broadcast
views (np.broadcast_to) of the incoming gradient, never written to in place.
"""
import math

import numpy as np

from .. import _backend as B
from ..autograd.grad_mode import state
from ..autograd.graph import Node, edge, no_derivative
from .._tensor import Tensor, _dim, _wrap
from .._userwarn import warn as _warn_user
from . import barebones as _barebones
from . import kernel_for, record as _finish, refuse_complex

__all__ = [
    "sum", "mean", "prod", "max", "min", "amax", "amin", "argmax", "argmin", "std", "var", "std_mean",
    "var_mean", "norm", "all", "any", "logsumexp", "cumsum", "cumprod", "sort", "argsort", "topk",
    "count_nonzero", "median", "nansum", "return_types", "dist",
]

_ndarray = np.ndarray
_generic = np.generic
xp_of = B.xp_of
_builtin_max = max
_builtin_sum = sum
_builtin_all = all
_builtin_any = any


# ---- named tuples (torch.return_types) ----------------------------------------
def _return_type(name):
    def __new__(cls, values, indices=None):
        if indices is None:  # built from one sequence, as torch's structseq allows
            values, indices = values
        return tuple.__new__(cls, (values, indices))

    def __repr__(self):
        return f"{B.namespace()}.return_types.{name}(\nvalues={self[0]!r},\nindices={self[1]!r})"

    def __reduce__(self):
        return (type(self), (self[0], self[1]))

    cls = type(name, (tuple,), {
        "__slots__": (), "__new__": __new__, "__repr__": __repr__, "__str__": __repr__,
        "__reduce__": __reduce__, "_fields": ("values", "indices"), "n_fields": 2,
        "n_sequence_fields": 2, "n_unnamed_fields": 0,
        "values": property(lambda self: self[0], doc="The reduced values."),
        "indices": property(lambda self: self[1], doc="Where the values were found (int64)."),
        "__doc__": f"The (values, indices) pair returned by {name}().",
    })
    cls.__module__ = "ember.return_types"
    return cls


class _ReturnTypes:
    """Named-tuple types of multi-output ops, as torch.return_types."""

    def __init__(self):
        for name in ("max", "min", "sort", "topk", "median", "kthvalue", "mode", "aminmax"):
            setattr(self, name, _return_type(name))

    def __repr__(self):
        return f"<module '{B.namespace()}.return_types'>"


return_types = _ReturnTypes()


# ---- helpers ------------------------------------------------------------------
def _axes(dim, ndim):
    """dim (None, int or sequence) as a tuple of non-negative axes, or None for all."""
    if dim is None:
        return None
    if type(dim) is int:
        if ndim == 0:
            _dim(dim, 0)
            return None
        return (dim + ndim if dim < 0 else dim,) if -ndim <= dim < ndim else (_dim(dim, ndim),)
    if isinstance(dim, Tensor):
        dim = dim.tolist()
    if not isinstance(dim, (tuple, list)):
        return _axes(int(dim), ndim)
    if len(dim) == 0:
        return None
    axes = tuple(_dim(int(d), ndim) for d in dim)
    if len(set(axes)) != len(axes):
        seen = set()
        for d in axes:
            if d in seen:
                raise RuntimeError(f"dim {d} appears multiple times in the list of dims")
            seen.add(d)
    if ndim == 0:
        return None
    return axes


def _arr(res):
    # numpy reductions give scalars for full reductions; tensors always hold arrays
    return B.host_array(res) if isinstance(res, _generic) else res


def _node(cls, input):
    node = cls.__new__(cls)
    node.next_functions = (edge(input),)
    node._saved_versions = ()
    return node


def _expand_grad(g, shape, axes, keepdim):
    """The gradient of a reduction over axes, broadcast back to the input shape."""
    xp = xp_of(g)
    if axes is None:
        if g.ndim:
            g = g.reshape(())
        return xp.broadcast_to(g, shape)
    if not keepdim:
        g = xp.expand_dims(g, axes)
    return xp.broadcast_to(g, shape)


def _keep(res, axes, keepdim):
    """A keepdims=True result reshaped as torch returns it."""
    if keepdim or axes is None:
        return res
    return res.squeeze(axis=axes)


def _count(shape, axes):
    if axes is None:
        n = 1
        for s in shape:
            n *= s
        return n
    n = 1
    for a in axes:
        n *= shape[a]
    return n


def _float_of(a):
    return a if a.dtype.kind in "fcV" else a.astype(B.get_default_dtype().np)


def _zeros(shape, like):
    xp = xp_of(like)
    return xp.zeros_like(like, shape=shape)


# ---- sum / mean / prod ----------------------------------------------------------
# NumPy reduces a contiguous axis row by row, ~20 ns a row: 1M float32 in rows of 10 took 1.3 ms to
# sum where a product with ones (one BLAS matrix-vector call, SIMD lanes as NumPy's 8 accumulators)
# takes 0.09; in rows of 1024, 131 us against 21
# what a bfloat16 sum accumulates in: NumPy's float32 type, where a dtype= argument gives a np.dtype (so
# that `is` tells the two apart)
_BF16_ACC = np.float32
_ONES = {np.dtype(np.float32): np.ones(4096, np.float32), np.dtype(np.float64): np.ones(4096, np.float64)}


def _sum_rows(a, axes, keepdims):
    """a.sum(axis=axes, keepdims=keepdims) of a C-contiguous float32/float64 NumPy array when axes are
    its last ones (at least 16,384 elements in rows of 2-4096: products with ones) or its first ones
    (256 rows or more, not all of it: _sum_leading); else None."""
    ones = _ONES.get(a.dtype) if type(a) is _ndarray else None
    if ones is None or not axes or not a.flags.c_contiguous:
        return None
    k = len(axes)
    c = _count(a.shape, axes)
    if axes == tuple(range(k)):
        if c < _HALVING_MIN_ROWS or c == a.size:
            return None
        res = _sum_leading(a.reshape(c, -1))
        return res.reshape((1,) * k + a.shape[k:] if keepdims else a.shape[k:])
    if a.size < 16384 or axes != tuple(range(a.ndim - k, a.ndim)) or not 2 <= c <= 4096:
        return None
    # (one product over the whole row: each SIMD lane adds c / 8-16 values in sequence, 1.2e-6 off on
    # full((1000, 1000), 0.1).sum(1) where torch is 1e-7; runs of _SUM_RUN columns, a strided product each,
    # were as accurate but took twice as long)
    res = a.reshape(-1, c) @ ones[:c]
    return res.reshape(a.shape[:-k] + (1,) * k if keepdims else a.shape[:-k])


# Elements a product with ones adds in one run where a sum is split into runs: each of its 8-16 SIMD
# lanes then adds at most 8-16 values in sequence, as NumPy's pairwise sum does before it pairs
_SUM_RUN = 128
# Rows from which a sum over the leading axes adds pairwise (_sum_leading): NumPy adds row after row, and
# the error grows with the rows: full((1000, 1000), 0.1).sum(0) came out 9.6e-6 off, (100000, 10) 1.4e-4
# (torch's cascade ~1e-7)
_HALVING_MIN_ROWS = 256


def _sum_leading(x2):
    """x2.sum(0) of a C-contiguous (n, m) float array of 256 rows or more, as accurate as a pairwise sum.
    Narrow rows (m < 256) add half the rows to the other half until 8 are left (each step one contiguous
    add: (100000, 10) 1.35 ms -> 0.13, (50000, 3) 0.65 -> 0.03; torch 0.13 and 0.03); wide ones as
    products with ones over blocks of _SUM_RUN rows, whose sums then halve ((1000, 1000) 63 us -> 67)."""
    n, m = x2.shape
    if m < 256:
        h = n // 2
        buf = np.add(x2[:h], x2[h:2 * h])
        if n % 2:
            buf[h - 1] += x2[2 * h]
    else:
        ones = _ONES[x2.dtype][:_SUM_RUN]
        h = n // _SUM_RUN
        buf = np.empty((h + (n % _SUM_RUN > 0), m), x2.dtype)
        for i in range(h):
            np.matmul(ones, x2[i * _SUM_RUN:(i + 1) * _SUM_RUN], out=buf[i])
        if n % _SUM_RUN:
            np.add.reduce(x2[h * _SUM_RUN:], axis=0, out=buf[h])
            h += 1
    while h > 8:
        half = h // 2
        np.add(buf[:half], buf[half:2 * half], out=buf[:half])
        if h % 2:
            buf[half - 1] += buf[2 * half]
        h = half
    return np.add.reduce(buf[:h], axis=0)


# A full sum over NumPy's pairwise tree runs at ~6 GB/s; as the sums of _SUM_RUN-element rows (one
# product with ones) plus the pairwise sum of those, at the memory's pace: sum() of 1M float32 210-235 ->
# 60-70 us (torch 52), 64K 12-18 -> 6-9, as accurate as the pairwise sum (rows of 4096 had been
# 4e-6 off on full(10 ** 6, 0.1): each SIMD lane adds its 256 values in sequence)
_SUM_ALL_MIN = 1 << 15


def _rows_and_tail(a, width=4096):
    """The C-contiguous array a's elements as (width-element rows, the rest)."""
    flat = a.reshape(-1)
    m = flat.size - flat.size % width
    return flat[:m].reshape(-1, width), flat[m:]


def _sum_all(a):
    """a.sum() of a C-contiguous float32/float64 NumPy array of at least _SUM_ALL_MIN elements (as a
    NumPy scalar), else None."""
    ones = _ONES.get(a.dtype) if type(a) is _ndarray else None
    if ones is None or a.size < _SUM_ALL_MIN or not a.flags.c_contiguous:
        return None
    rows, tail = _rows_and_tail(a, _SUM_RUN)
    s = (rows @ ones[:_SUM_RUN]).sum()
    return s + tail.sum() if tail.size else s


def _max_rows(a, keepdims):
    """a.max(axis=-1, keepdims=keepdims), as a running maximum over its columns when a is a
    C-contiguous float NumPy array of at least 16,384 elements in rows of 2-32: NumPy's reduction
    over short rows costs ~35 ns a row (1M float32 in rows of 10: 3.8 ms; the columns 0.44); else
    None.  The same values (NaN included: maximum propagates it, as max does)."""
    if type(a) is not _ndarray or a.dtype.kind != "f" or a.size < 16384 or not a.flags.c_contiguous \
            or not 2 <= a.shape[-1] <= 32:
        return None
    rows = a.reshape(-1, a.shape[-1])
    m = rows[:, 0].copy()
    for j in range(1, rows.shape[1]):
        np.maximum(m, rows[:, j], out=m)
    return m.reshape(a.shape[:-1] + (1,) if keepdims else a.shape[:-1])


class SumBackward0(Node):
    __slots__ = ("shape", "dtype")
    # its formula also runs on Tensors (create_graph=True: autograd/higher_order.py)
    _double_backward = True

    def apply(self, g):
        xp = xp_of(g)
        if g.dtype != self.dtype:
            g = g.astype(self.dtype)
        return (xp.broadcast_to(g.reshape(()) if g.ndim else g, self.shape),)


class SumBackward1(Node):
    __slots__ = ("shape", "axes", "keepdim", "dtype")
    # its formula also runs on Tensors (create_graph=True: autograd/higher_order.py)
    _double_backward = True

    def apply(self, g):
        if g.dtype != self.dtype:
            g = g.astype(self.dtype)
        return (_expand_grad(g, self.shape, self.axes, self.keepdim),)


def sum(input, dim=None, keepdim=False, *, dtype=None, out=None):
    """Sum of elements, over all dims or the given dim(s); ints and bools sum to int64."""
    if keepdim.__class__ is not bool:
        _keepdim_error("sum", keepdim)
    a = input._data
    if dtype is not None:
        npdt = B.dtype_arg(dtype, "sum").np
    elif a.dtype.kind in "biuV" or a.itemsize == 1:   # (itemsize 1 and kind 'f': float8_e5m2)
        _barebones.check("sum", a)   # (torch's sum takes uint16 & co., to int64, but no float8)
        # bfloat16 ('V') is added in float32 and rounded once (below), as torch's kernel
        npdt = np.int64 if a.dtype.kind != "V" else _BF16_ACC
    else:
        npdt = None
    if dim is None:
        axes = None
        res = _sum_all(a) if npdt is None and not keepdim else None
        if res is None:
            res = a.sum(dtype=npdt, keepdims=keepdim)
    else:
        axes = _axes(dim, a.ndim)
        res = _sum_rows(a, axes, keepdim) if npdt is None else None
        if res is None:
            if (a.dtype if npdt is None else npdt) == np.float16:
                # torch adds float16 in float32 and rounds once; NumPy's float16 reduction along an outer
                # dim rounds every step (it matched torch's values in 22 % of a (64, 700) sum(0))
                res = a.sum(axis=axes, dtype=np.float32, keepdims=keepdim).astype(np.float16)
            else:
                res = a.sum(axis=axes, dtype=npdt, keepdims=keepdim)
    if res.__class__ is not a.__class__:   # (a NumPy scalar: a full sum)
        res = B.host_array(res)
    if npdt is _BF16_ACC:
        res = B.bf16_round(res)
    if out is not None:
        return _write_out(out, res, "sum", input)
    t = _wrap(res)
    if state.enabled and input._requires_grad:
        t._requires_grad = True
        t.grad_fn = _reduction_node(input, a, axes, keepdim, SumBackward0, SumBackward1)
    return t


def _reduction_node(input, a, axes, keepdim, whole, along):
    """The node of a reduction of input (its array a) over axes: whole's over all of them (axes None),
    else along's."""
    if axes is None:
        node = _node(whole, input)
    else:
        node = _node(along, input)
        node.axes = axes
        node.keepdim = keepdim
    node.shape = a.shape
    node.dtype = a.dtype
    return node


def nansum(input, dim=None, keepdim=False, *, dtype=None):
    """Sum treating NaN as zero."""
    if keepdim.__class__ is not bool:
        _keepdim_error("nansum", keepdim)
    if input._data.dtype.kind == "c":
        raise RuntimeError("nansum on CPU does not support complex inputs")
    if input._data.dtype.kind != "f":
        return sum(input, dim, keepdim, dtype=dtype)
    from .elementwise import isnan, where
    return sum(where(isnan(input), 0.0, input), dim, keepdim, dtype=dtype)


class MeanBackward0(Node):
    __slots__ = ("shape", "n", "dtype")
    # its formula also runs on Tensors (create_graph=True: autograd/higher_order.py)
    _double_backward = True

    def apply(self, g):
        xp = xp_of(g)
        if g.dtype != self.dtype:
            g = g.astype(self.dtype)
        g = g / self.n
        return (xp.broadcast_to(g.reshape(()) if g.ndim else g, self.shape),)


class MeanBackward1(Node):
    __slots__ = ("shape", "axes", "keepdim", "n", "dtype")
    # its formula also runs on Tensors (create_graph=True: autograd/higher_order.py)
    _double_backward = True

    def apply(self, g):
        if g.dtype != self.dtype:
            g = g.astype(self.dtype)
        return (_expand_grad(g / self.n, self.shape, self.axes, self.keepdim),)


def mean(input, dim=None, keepdim=False, *, dtype=None, out=None):
    """Arithmetic mean, over all dims or the given dim(s); needs a floating dtype."""
    if keepdim.__class__ is not bool:
        _keepdim_error("mean", keepdim)
    a = input._data
    if dtype is not None:
        a = a.astype(B.dtype_arg(dtype, "mean").np)
    if a.itemsize == 1:   # (float8: torch's sum kernel refuses them)
        _barebones.check("mean", a)
    if a.dtype.kind != "f" and a.dtype.kind != "c" and a.dtype.kind != "V":
        raise RuntimeError(
            "mean(): could not infer output dtype. Input dtype must be either a floating point or "
            f"complex dtype. Got: {B.scalar_name(a.dtype)}")
    axes = None if dim is None else _axes(dim, a.ndim)
    if a.dtype.itemsize >= 4:
        # sum / n is what ndarray.mean computes, without its Python-level overhead
        n = _count(a.shape, axes)
        res = _sum_rows(a, axes, keepdim) if axes is not None else None if keepdim else _sum_all(a)
        if res is None:
            res = a.sum(axis=axes, keepdims=keepdim)
        if n:
            res = res / n
        else:  # torch: the mean of nothing is nan, silently
            res = res + np.nan if isinstance(res, _generic) else xp_of(res).full_like(res, np.nan)
    else:  # float16: numpy accumulates in float32; bfloat16 too, as torch (its sum / n, rounded once)
        res = (a.astype(np.float32) if a.dtype.kind == "V" else a).mean(axis=axes, keepdims=keepdim)
    if type(res) is not _ndarray:
        res = _arr(res)
    if res.dtype != a.dtype:
        res = res.astype(a.dtype)
    if out is not None:
        return _write_out(out, res, "mean", input)
    return _finish(res, _mean_node(input, a, axes, keepdim))


def _mean_node(input, a, axes, keepdim):
    """mean's node for input (its array a, reduced over axes: None for all), when one is recorded."""
    if not (state.enabled and input._requires_grad):
        return None
    node = _reduction_node(input, a, axes, keepdim, MeanBackward0, MeanBackward1)
    node.n = _count(a.shape, axes)
    return node


def _exclusive_prod(x, axis):
    """Product of all other elements along axis, exact when x holds zeros."""
    xp = xp_of(x)
    n = x.shape[axis]
    ones_shape = list(x.shape)
    ones_shape[axis] = 1
    one = xp.ones_like(x, shape=tuple(ones_shape))
    left = xp.concatenate([one, xp.cumprod(x, axis=axis).take(xp.arange(n - 1), axis=axis)], axis=axis)
    rx = xp.flip(x, axis)
    right = xp.flip(xp.concatenate([one, xp.cumprod(rx, axis=axis).take(xp.arange(n - 1), axis=axis)],
                                   axis=axis), axis)
    return left * right


def _prod_tensors(node, grad, saved, axis, keepdim):
    """create_graph=True: grad * prod / x on Tensors, for inputs without zeros."""
    x = saved[0]
    if not bool(x._data.all()):
        raise NotImplementedError(f"create_graph=True: ember differentiates the backward of {node.name()} for "
                                  "inputs without zeros only yet")
    if axis is None:
        return (grad * x.prod() / x,)
    p = x.prod(axis, keepdim=True)
    g = grad if keepdim else grad.unsqueeze(axis)
    return (g * p / x,)


class ProdBackward0(Node):
    __slots__ = ("x",)
    _saved_fields = ("x",)
    _double_backward = True   # through _apply_tensors (create_graph=True)

    def _apply_tensors(self, grad, saved):
        return _prod_tensors(self, grad, saved, None, False)

    def apply(self, g):
        x = self.x
        others = _exclusive_prod(x.reshape(-1), 0).reshape(x.shape)
        if g.dtype.kind == "c":   # torch's convention: g * conj(d(prod)/dx)
            others = others.conj()
        return ((g * others).astype(x.dtype, copy=False),)


class ProdBackward1(Node):
    __slots__ = ("x", "axis", "keepdim")
    _saved_fields = ("x",)
    _double_backward = True   # through _apply_tensors (create_graph=True)

    def _apply_tensors(self, grad, saved):
        if self.x.ndim == 0:
            return (grad,)
        return _prod_tensors(self, grad, saved, self.axis, self.keepdim)

    def apply(self, g):
        xp = xp_of(g)
        x = self.x
        if x.ndim == 0:
            return (g.astype(x.dtype, copy=False),)
        if not self.keepdim:
            g = xp.expand_dims(g, self.axis)
        others = _exclusive_prod(x, self.axis)
        if g.dtype.kind == "c":   # torch's convention: g * conj(d(prod)/dx)
            others = others.conj()
        return ((g * others).astype(x.dtype, copy=False),)


def prod(input, dim=None, keepdim=False, *, dtype=None):
    """Product of elements, over all dims or one dim."""
    if keepdim.__class__ is not bool:
        _keepdim_error("prod", keepdim)
    a = input._data
    if dtype is not None:
        a = a.astype(B.dtype_arg(dtype, "prod").np)
    elif a.dtype.kind in "biu":
        a = a.astype(np.int64)
    _barebones.check("prod", a)
    # NumPy widens small ints to int64; torch keeps the dtype asked for
    if dim is None:
        res = _arr(a.prod(dtype=a.dtype))
    else:
        if not isinstance(dim, int):
            raise TypeError(f"prod(): argument 'dim' must be int, not {type(dim).__name__}")
        axes = _axes(dim, a.ndim)
        res = _arr(a.prod(axis=axes, keepdims=keepdim, dtype=a.dtype))
    node = None
    if state.enabled and input._requires_grad:
        if dim is None:
            node = _node(ProdBackward0, input)
        else:
            node = _node(ProdBackward1, input)
            node.axis = axes[0] if axes else 0
            node.keepdim = keepdim
        node.x = a
        node._saved_versions = ((input, input._vc[0]),)
    return _finish(res, node)


# ---- max / min ------------------------------------------------------------------
class MaxBackward1(Node):
    """Gradient of a full max/min: shared evenly among the elements equal to the result."""
    __slots__ = ("x", "out")
    _saved_fields = ("x", "out")
    # its formula also runs on Tensors (create_graph=True); x and out only pick the elements
    _double_backward = True
    _output_fields = ("out",)

    def apply(self, g):
        mask = self.x == self.out
        if self.out != self.out:    # a NaN result: torch shares the gradient among the NaNs
            mask = xp_of(self.x).isnan(self.x)
        n = mask.sum()
        # (where, not mask * g: +0.0 elsewhere, as torch)
        return (xp_of(g).where(mask, g / n, 0).astype(g.dtype, copy=False),)


class MinBackward1(MaxBackward1):
    __slots__ = ()


class MaxBackward0(Node):
    """Gradient of max/min along a dim: routed to the selected index."""
    __slots__ = ("shape", "axis", "indices", "keepdim")
    _saved_fields = ("indices",)
    _double_backward = True   # through _apply_tensors (create_graph=True)

    def _apply_tensors(self, grad, saved):
        """create_graph=True: routing is linear in grad; its transpose picks the routed elements."""
        from ..autograd.higher_order import linear_pair
        return linear_pair(self, grad, lambda a: _gather_at(a, self.axis, self.indices, self.keepdim))

    def apply(self, g):
        return (_route(g, self.shape, self.axis, self.indices, self.keepdim),)


class MinBackward0(MaxBackward0):
    __slots__ = ()


def _gather_at(a, axis, indices, keepdim):
    """The elements of a at indices along axis (_route's transpose)."""
    if not a.ndim:
        return a.copy()
    picked = xp_of(a).take_along_axis(a, indices, axis)
    return picked if keepdim else picked.squeeze(axis)


def _route(g, shape, axis, indices, keepdim):
    """Zeros of shape with g placed at indices along axis (indices keep the reduced dim)."""
    xp = xp_of(g)
    z = _zeros(shape, g)
    if not shape:
        z[...] = g
        return z
    if not keepdim:
        g = xp.expand_dims(g, axis)
    xp.put_along_axis(z, indices, g, axis)
    return z


def _reduce_dim_index(input, dim, keepdim, is_max, name, cls):
    xp = xp_of(input._data)
    a = input._data
    refuse_complex(a, f"{name}(): does not support complex input", RuntimeError)
    d = _dim(dim, a.ndim)
    work = a.reshape(1) if a.ndim == 0 else a
    if work.shape[d] == 0:
        raise IndexError(
            f"{name}(): Expected reduction dim {d} to have non-zero size.")
    # (the methods and one fancy index: NumPy's argmax and take_along_axis are Python wrappers,
    # ~3 us of the 4.5 that torch.max(logits, 1) of (4, 10) took)
    idx = (work.argmax if is_max else work.argmin)(axis=d, keepdims=True)
    if idx.dtype != np.int64:
        idx = idx.astype(np.int64)
    if work.ndim == 2 and d == 1:   # (N, C) scores: each row's entry
        rows = _ROWS.get(work.shape[0]) if xp is np else None
        if rows is None:
            rows = xp.arange(work.shape[0])[:, None]
            if xp is np and len(_ROWS) < 64:
                rows.flags.writeable = False
                _ROWS[work.shape[0]] = rows
        vals = work[rows, idx]
    else:
        vals = xp.take_along_axis(work, idx, axis=d)
    kept = idx
    if a.ndim == 0:
        vals, idx = vals.reshape(()), idx.reshape(())
    elif not keepdim:
        vals, idx = vals.squeeze(d), idx.squeeze(d)
    node = None
    if state.enabled and input._requires_grad:
        node = _node(cls, input)
        node.shape = a.shape
        node.axis = d
        node.keepdim = keepdim or a.ndim == 0
        node.indices = idx if node.keepdim else kept
    return getattr(return_types, name)(_finish(vals, node), _wrap(idx))


_ROWS = {}   # n -> arange(n)[:, None], read-only (max(dim)/min(dim) of (n, C) scores)


def _full_minmax(input, is_max, name):
    a = input._data
    refuse_complex(a, f"\"{name}_all\" not implemented for '{{}}'")
    if a.size == 0:
        raise RuntimeError(
            f"{name}(): Expected reduction dim to be specified for input.numel() == 0. Specify the "
            "reduction dim with the 'dim' argument.")
    res = _arr(a.max() if is_max else a.min())
    node = None
    if state.enabled and input._requires_grad:
        node = _node(MaxBackward1 if is_max else MinBackward1, input)
        node.x = a
        node.out = res
        node._saved_versions = ((input, input._vc[0]),)
    return _finish(res, node)


def _check_dim_keepdim(name, dim, keepdim, forms=None):
    """torch's TypeError for a dim that is no int (an int-taking op), or for a keepdim that is no bool;
    forms lists the overloads of an op whose dim also picks one (max, min)."""
    if type(dim) is not int and (type(dim) is bool or not hasattr(dim, "__index__")):
        if forms is None:
            raise TypeError(f"{name}(): argument 'dim' must be int, not {type(dim).__name__}")
        hint = (f"\n(for the {name}imum over several dims use amax/amin, e.g. x.a{name}(dim={dim!r}))"
                if isinstance(dim, (tuple, list)) else "")
        raise TypeError(f"{name}() received an invalid combination of arguments - got (Tensor, "
                        f"{type(dim).__name__}), but expected one of:\n{forms}{hint}")
    if type(keepdim) is not bool:
        raise TypeError(f"{name}(): argument 'keepdim' must be bool, not {type(keepdim).__name__}")


def _keepdim_error(name, keepdim):
    """torch's TypeError for a keepdim that is no bool (x.sum(0, 1) reads 1 as keepdim, which must be a bool)."""
    raise TypeError(f"{name}(): argument 'keepdim' must be bool, not {type(keepdim).__name__} "
                    f"(pass keepdim=True or keepdim=False)")


_MINMAX_FORMS = (" * (Tensor input)\n * (Tensor input, Tensor other)\n"
                 " * (Tensor input, int dim, bool keepdim = False)")


def _other_overload(name, dim, keepdim, other):
    """other, as the dim argument that max/min read as the elementwise overload; torch's TypeError unless
    it is the only one given and a tensor."""
    if dim is not None or keepdim is not False or not isinstance(other, Tensor):
        raise TypeError(f"{name}() received an invalid combination of arguments: other= takes a Tensor, and no "
                        f"dim or keepdim with it (got other={type(other).__name__}); the forms are {name}(), "
                        f"{name}(dim, keepdim=False) and {name}(other)")
    return other


def max(input, dim=None, keepdim=False, *, other=None, out=None):
    """Largest element; with dim, a (values, indices) named tuple; with a tensor, elementwise maximum."""
    if other is not None:   # (torch's keyword for the elementwise overload: x.max(other=y))
        dim = _other_overload("max", dim, keepdim, other)
    _barebones.check("max" if dim is None else "max_dim", input._data)
    if dim is None:
        return _full_minmax(input, True, "max")
    if isinstance(dim, Tensor):
        from .elementwise import maximum
        return maximum(input, dim)
    if type(dim) is not int or type(keepdim) is not bool:
        _check_dim_keepdim("max", dim, keepdim, _MINMAX_FORMS)
    return _reduce_dim_index(input, dim, keepdim, True, "max", MaxBackward0)


def min(input, dim=None, keepdim=False, *, other=None, out=None):
    """Smallest element; with dim, a (values, indices) named tuple; with a tensor, elementwise minimum."""
    if other is not None:   # (torch's keyword for the elementwise overload: x.min(other=y))
        dim = _other_overload("min", dim, keepdim, other)
    _barebones.check("min" if dim is None else "min_dim", input._data)
    if dim is None:
        return _full_minmax(input, False, "min")
    if isinstance(dim, Tensor):
        from .elementwise import minimum
        return minimum(input, dim)
    if type(dim) is not int or type(keepdim) is not bool:
        _check_dim_keepdim("min", dim, keepdim, _MINMAX_FORMS)
    return _reduce_dim_index(input, dim, keepdim, False, "min", MinBackward0)


class AmaxBackward0(Node):
    """Gradient of amax/amin: shared evenly among ties within each reduced slice."""
    __slots__ = ("x", "out", "axes", "keepdim")
    _saved_fields = ("x", "out")
    # its formula also runs on Tensors (create_graph=True); x and out only pick the elements
    _double_backward = True
    _output_fields = ("out",)

    def apply(self, g):
        xp = xp_of(g)
        x, axes = self.x, self.axes
        out = self.out
        if axes is not None and not self.keepdim:
            out = xp.expand_dims(out, axes)
            g = xp.expand_dims(g, axes)
        mask = x == out
        n = mask.sum(axis=axes, keepdims=True)
        return ((mask * (g / n)).astype(g.dtype, copy=False),)


class AminBackward0(AmaxBackward0):
    __slots__ = ()


def _amaxmin(input, dim, keepdim, is_max):
    if keepdim.__class__ is not bool:
        _keepdim_error("amax" if is_max else "amin", keepdim)
    a = input._data
    refuse_complex(a, f"\"{'max' if is_max else 'min'}_values_cpu\" not implemented for '{{}}'")
    _barebones.check("amax" if is_max else "amin", a)
    axes = _axes(dim, a.ndim) if dim != () else None
    name = "amax" if is_max else "amin"
    if a.size == 0 and axes is None:
        raise RuntimeError(f"{name}(): Expected reduction dim to be specified for input.numel() == 0. Specify the "
                           "reduction dim with the 'dim' argument.")
    if a.size == 0:
        bad = next((d for d in axes if a.shape[d] == 0), None)
        if bad is not None:
            raise IndexError(f"{name}(): Expected reduction dim {bad} to have non-zero size.")
    res = _arr(a.max(axis=axes, keepdims=keepdim) if is_max else a.min(axis=axes, keepdims=keepdim))
    node = None
    if state.enabled and input._requires_grad:
        node = _node(AmaxBackward0 if is_max else AminBackward0, input)
        node.x, node.out, node.axes, node.keepdim = a, res, axes, keepdim
        node._saved_versions = ((input, input._vc[0]),)
    return _finish(res, node)


def amax(input, dim=(), keepdim=False):
    """Maximum over the given dim(s) (all by default); gradient shared among ties."""
    return _amaxmin(input, dim, keepdim, True)


def amin(input, dim=(), keepdim=False):
    """Minimum over the given dim(s) (all by default); gradient shared among ties."""
    return _amaxmin(input, dim, keepdim, False)


def _arg(input, dim, keepdim, is_max):
    xp = xp_of(input._data)
    a = input._data
    name = "argmax" if is_max else "argmin"
    _barebones.check(name, a)
    fn = a.argmax if is_max else a.argmin   # (the method: NumPy's function is a Python wrapper of it)
    refuse_complex(a, f"{name}(): does not support complex input", RuntimeError)
    if a.dtype.kind == "b":
        raise RuntimeError(f"{name}(): does not support bool input")
    if (dim is not None and type(dim) is not int) or type(keepdim) is not bool:
        _check_dim_keepdim(name, 0 if dim is None else dim, keepdim)
    if dim is None:
        if a.size == 0:   # torch raises IndexError here (max()/amax() raise RuntimeError)
            raise IndexError(
                f"{name}(): Expected reduction dim to be specified for input.numel() == 0.")
        res = xp.asarray(fn(), dtype=np.int64)
        if keepdim:
            res = res.reshape((1,) * a.ndim)
        return _wrap(res)
    d = _dim(dim, a.ndim)
    if a.ndim == 0:
        return _wrap(xp.zeros((), dtype=np.int64))
    if a.shape[d] == 0:
        raise IndexError(f"{name}(): Expected reduction dim {d} to have non-zero size.")
    res = fn(axis=d, keepdims=keepdim)
    return _wrap(_arr(res).astype(np.int64, copy=False))


def argmax(input, dim=None, keepdim=False):
    """Index of the largest element (of the flattened tensor when dim is None)."""
    return _arg(input, dim, keepdim, True)


def argmin(input, dim=None, keepdim=False):
    """Index of the smallest element (of the flattened tensor when dim is None)."""
    return _arg(input, dim, keepdim, False)


# ---- var / std ----------------------------------------------------------------------
def _correction(dim, unbiased, keepdim, correction, name):
    if isinstance(dim, bool):  # legacy var(input, unbiased)
        unbiased, dim = dim, None
    if keepdim.__class__ is not bool or (unbiased is not None and unbiased.__class__ is not bool):
        raise TypeError(f"{name}() received an invalid combination of arguments - got unbiased="
                        f"{type(unbiased).__name__}, keepdim={type(keepdim).__name__}: both must be bool (e.g. "
                        f"x.{name}(dim, unbiased=True, keepdim=False)), or pass correction=<int> instead of unbiased")
    if correction is None:
        correction = 1 if unbiased is None or unbiased else 0
    elif unbiased is not None:
        raise RuntimeError(f"{name}(): can't pass both unbiased and correction; use correction only")
    return dim, correction


class VarBackward0(Node):
    __slots__ = ("diff", "axes", "keepdim", "denom")
    _saved_fields = ("diff",)
    # its formula also runs on Tensors (create_graph=True: autograd/higher_order.py)
    _double_backward = True
    _output_fields = ("out",)

    def _tensor_field(self, field, saved):
        # diff = input - mean, recomputed from the input
        if field != "diff":
            return None
        x = saved[0]
        return x - (x.mean() if self.axes is None else x.mean(self.axes, keepdim=True))

    def apply(self, g):
        xp = xp_of(g)
        if self.axes is not None and not self.keepdim:
            g = xp.expand_dims(g, self.axes)
        return ((g * (2 / self.denom) * self.diff).astype(self.diff.dtype, copy=False),)


class StdBackward0(VarBackward0):
    __slots__ = ("out",)
    _saved_fields = ("diff", "out")

    def apply(self, g):
        xp = xp_of(g)
        out = self.out
        if self.axes is not None and not self.keepdim:
            g = xp.expand_dims(g, self.axes)
            out = xp.expand_dims(out, self.axes)
        with B.errstate(xp, divide="ignore", invalid="ignore"):
            res = g * self.diff / (out * self.denom)
        return (res.astype(self.diff.dtype, copy=False),)


# torch's var and std run Welford's algorithm in float64 for float16 and float32 and round the results
# once: computed in float64 here, they match torch's in every element (in float32 they did in 0-75 %);
# var_mean's mean too (torch.mean's own stays float32).  (A complex64 variance is torch's float32 sum of
# its parts' variances; it keeps the complex path below)
_VAR_WIDE = {np.dtype(np.float16): np.dtype(np.float64), np.dtype(np.float32): np.dtype(np.float64)}
B.on_bfloat16(lambda bf16: _VAR_WIDE.__setitem__(bf16, np.dtype(np.float64)))


def _var(input, dim, correction, keepdim, name, take_sqrt, means=None):
    """var or std (take_sqrt) as a recorded Tensor; means: a list that receives the float64 mean (keepdim's
    shape), rounded to input's dtype, where one was computed."""
    xp = xp_of(input._data)
    a = input._data
    if a.dtype.kind != "f" and a.dtype.kind != "c" and a.dtype.kind != "V":
        raise RuntimeError("std and var only support floating point and complex dtypes")
    axes = _axes(dim, a.ndim)
    n = _count(a.shape, axes)
    denom = _builtin_max(n - correction, 0)
    if denom <= 0:
        _warn_user(f"{name}(): degrees of freedom is <= 0. Correction should be strictly less than "
                   "the reduction factor (input numel divided by output numel).", UserWarning)
    wide = _VAR_WIDE.get(a.dtype) if xp is np else None
    with B.errstate(xp, divide="ignore", invalid="ignore"):
        if wide is None:
            m = a.mean(axis=axes, keepdims=True)
            diff = a - m
            sq = diff * diff if a.dtype.kind != "c" else (diff * diff.conj()).real
        else:
            # a sum that casts as it reduces, then one float64 array (an astype first: (1000, 1000)
            # 1.8 -> 0.95 ms, torch 0.64; over rows 2.9 -> ~1.1, torch 5.4)
            m = xp.add.reduce(a, axis=axes, dtype=wide, keepdims=True)
            m /= n
            sq = xp.subtract(a, m)
            xp.multiply(sq, sq, out=sq)
    if means is not None and wide is not None:
        means.append((m.reshape(()) if axes is None and not keepdim else _keep(m, axes, keepdim)).astype(a.dtype))
    real_dt = B.dtype_of(a).to_real().np   # a complex tensor's variance is real: the mean of |diff|^2
    with B.errstate(xp, divide="ignore", invalid="ignore"):
        res = sq.sum(axis=axes, keepdims=keepdim) / xp.asarray(denom, dtype=wide or real_dt)
        if take_sqrt:
            res = xp.sqrt(res)
    res = _arr(res)
    if res.dtype != real_dt:
        res = res.astype(real_dt)
    node = None
    if state.enabled and input._requires_grad:
        node = _node(StdBackward0 if take_sqrt else VarBackward0, input)
        if wide is not None:   # torch's backward: input - its mean, in input's dtype
            diff = a - a.mean(axis=axes, keepdims=True)
        node.diff, node.axes, node.keepdim, node.denom = diff, axes, keepdim, denom
        node._saved_versions = ((input, input._vc[0]),)
        if take_sqrt:
            node.out = res
    return _finish(res, node)


def var(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    """Variance; correction=1 (Bessel) by default, unbiased=False means correction=0."""
    dim, c = _correction(dim, unbiased, keepdim, correction, "var")
    _barebones.check_var(input._data)
    return _var(input, dim, c, keepdim, "var", False)


def std(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    """Standard deviation; correction=1 (Bessel) by default, unbiased=False means correction=0."""
    dim, c = _correction(dim, unbiased, keepdim, correction, "std")
    _barebones.check_var(input._data)
    return _var(input, dim, c, keepdim, "std", True)


class VarMeanBackward0(Node):
    """var_mean's single node for both its outputs (var: output 0, mean: output 1), as torch records it."""
    __slots__ = ("var_node", "mean_node", "_n_outputs", "_output_nrs")
    _double_backward = True   # through _apply_tensors (create_graph=True)

    def _apply_tensors(self, grads, saved):
        """The two inner nodes' Tensor formulas, summed."""
        import copy
        from ..autograd.higher_order import apply_on_tensors
        g_var, g_mean = grads if isinstance(grads, list) else (grads, None)
        # (on a copy: std's formula records a saved output whose grad_fn is the node it ran on, and a
        # later pass that frees that node's arrays must leave this node's own inner node intact)
        res = None if g_var is None else apply_on_tensors(copy.copy(self.var_node), g_var)[0]
        if g_mean is not None:
            gm = apply_on_tensors(self.mean_node, g_mean)[0]
            res = gm if res is None else res + gm
        return (res,)

    def apply(self, grads):
        g_var, g_mean = grads if isinstance(grads, list) else (grads, None)
        res = None if g_var is None else self.var_node.apply(g_var)[0]
        if g_mean is not None:
            gm = self.mean_node.apply(g_mean)[0]
            res = gm if res is None else res + gm
        return (res,)


class StdMeanBackward0(VarMeanBackward0):
    __slots__ = ()


def _var_mean(input, dim, c, keepdim, take_sqrt):
    means = []
    v = _var(input, dim, c, keepdim, "std" if take_sqrt else "var", take_sqrt, means)
    if means:   # torch's var_mean values: its float64 Welford mean's
        a = input._data
        m = _finish(means[0], _mean_node(input, a, None if dim is None else _axes(dim, a.ndim), keepdim))
    else:
        m = mean(input, dim, keepdim)
    if v.grad_fn is not None:
        node = _node(StdMeanBackward0 if take_sqrt else VarMeanBackward0, input)
        node.var_node, node.mean_node = v.grad_fn, m.grad_fn
        node._n_outputs, node._output_nrs = 2, {id(v): 0, id(m): 1}
        v.grad_fn = m.grad_fn = node
    return v, m


def var_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    """(var, mean) in one call, under one VarMeanBackward0 node."""
    dim, c = _correction(dim, unbiased, keepdim, correction, "var_mean")
    return _var_mean(input, dim, c, keepdim, False)


def std_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    """(std, mean) in one call, under one StdMeanBackward0 node."""
    dim, c = _correction(dim, unbiased, keepdim, correction, "std_mean")
    return _var_mean(input, dim, c, keepdim, True)


# ---- norm ---------------------------------------------------------------------------
class LinalgVectorNormBackward0(Node):
    __slots__ = ("x", "out", "p", "axes", "keepdim")
    _saved_fields = ("x", "out")
    # its formula also runs on Tensors (create_graph=True: autograd/higher_order.py)
    _double_backward = True
    _output_fields = ("out",)   # the norm itself, saved without a version entry

    def apply(self, g):
        xp = xp_of(g)
        x, out, p = self.x, self.out, self.p
        if self.axes is not None and not self.keepdim:
            g = xp.expand_dims(g, self.axes)
            out = xp.expand_dims(out, self.axes)
        elif self.axes is None:
            g = g.reshape((1,) * x.ndim) if x.ndim else g
            out = out.reshape((1,) * x.ndim) if x.ndim else out
        if p == 0:   # (torch's gradient is undefined: nothing reaches the input)
            return (None,)
        # torch's cases: below p = 1, |x| ** (p - 1) is infinite at x = 0, whose gradient is 0; below
        # p = 2 the formula takes sign(x) * |x| ** (p - 1), whose power is positive, not x * |x| ** (p - 2)
        with B.errstate(xp, divide="ignore", invalid="ignore"):
            if p == 2:
                res = B.where(xp, out == 0, 0, x * (g / out))
            elif p == 1:
                res = xp.sign(x) * g
            elif math.isinf(p):
                mask = xp.abs(x) == out
                res = xp.sign(x) * mask * (g / mask.sum(axis=self.axes, keepdims=True))
            elif p < 1:
                res = xp.sign(x) * B.where(xp, x == 0, 0, xp.abs(x) ** (p - 1)) * (g * out ** (1 - p))
            elif p < 2:
                res = xp.sign(x) * xp.abs(x) ** (p - 1) * B.where(xp, out == 0, 0, g / out ** (p - 1))
            else:
                res = x * xp.abs(x) ** (p - 2) * B.where(xp, out == 0, 0, g / out ** (p - 1))
        return (xp.asarray(res).astype(x.dtype, copy=False),)


class _NormBf16Backward(LinalgVectorNormBackward0):
    """A bfloat16 input's: torch's norm_backward runs as a chain of bfloat16 ops, each rounding (in float32,
    then to bfloat16: B.bf16_through), powers by its pow kernel's special cases."""
    __slots__ = ()
    _double_backward = False

    def apply(self, g):
        from .elementwise import _power
        xp = xp_of(g)
        r, f32 = B.bf16_through, np.float32
        x, out, p = self.x.astype(f32), self.out.astype(f32), self.p
        g = g.astype(f32)
        if self.axes is not None and not self.keepdim:
            g, out = xp.expand_dims(g, self.axes), xp.expand_dims(out, self.axes)
        elif self.axes is None:
            g, out = (g.reshape((1,) * x.ndim), out.reshape((1,) * x.ndim)) if x.ndim else (g, out)
        if p == 0:
            return (None,)
        zero = f32(0)
        with B.errstate(xp, divide="ignore", invalid="ignore"):
            if p == 2:
                res = B.where(xp, out == 0, zero, r(g * r(x / out)))
            elif p == 1:
                res = xp.sign(x) * g
            elif math.isinf(p):
                mask = (xp.abs(x) == out) | xp.isnan(x)
                res = xp.sign(x) * (r(g / mask.sum(axis=self.axes, keepdims=True)) * mask)
            elif p < 1:
                scaled = B.where(xp, x == 0, zero, r(xp.sign(x) * r(_power(xp.abs(x), p - 1))))
                res = r(r(scaled * g) * r(_power(out, 1 - p)))
            else:
                base = r(xp.sign(x) * r(_power(xp.abs(x), p - 1))) if p < 2 else r(x * r(_power(xp.abs(x), p - 2)))
                res = r(base * B.where(xp, out == 0, zero, r(g / r(_power(out, p - 1)))))
        return (B.bf16_round(xp.asarray(res, f32)),)


_NormBf16Backward.__name__ = _NormBf16Backward.__qualname__ = "LinalgVectorNormBackward0"


# A large array's whole 1- or 2-norm sums over chunks that stay in cache: |x| or x * x of the whole
# array would be a temporary as large as it, mapped and faulted in anew past glibc's 32 MB (a 4096 x
# 25088 float32 norm: 134 -> 27 ms, torch 28)
_NORM_CHUNK = 1 << 16


# (NumPy 2's row-wise dot products; without them, 1.x squares chunks as below)
_vecdot = getattr(np, "vecdot", None)


def power_sum(a, p):
    """sum(|a| ** p) over all of a real float array a, for p = 1 or 2 (a 0-d array of a's dtype); the
    pairwise sums of chunks of a large C-contiguous ndarray, then theirs.  A large float32/float64
    sum of squares: the dot products of its 4096-element rows with themselves (BLAS, no temporary), then
    their sum (as accurate; 1M float32 330 -> 64 us, torch 98)."""
    n = a.size
    if p == 2 and _vecdot is not None and n >= _SUM_ALL_MIN and a.__class__ is np.ndarray \
            and a.flags.c_contiguous and a.dtype in _ONES:
        rows, tail = _rows_and_tail(a)
        s = _vecdot(rows, rows).sum()
        return s + (tail * tail).sum() if tail.size else s
    if n <= 4 * _NORM_CHUNK or a.__class__ is not np.ndarray or not a.flags.c_contiguous:
        t = a * a if p == 2 else abs(a)   # (x * x is |x| * |x|, bit for bit)
        s = _sum_all(t)
        return t.sum() if s is None else s
    xp = xp_of(a)
    flat = a.reshape(-1)
    scratch = xp.empty(_NORM_CHUNK, a.dtype)
    partial = xp.empty(-(-n // _NORM_CHUNK), a.dtype)
    for i, lo in enumerate(range(0, n, _NORM_CHUNK)):
        c = flat[lo:lo + _NORM_CHUNK]
        t = scratch[:c.size]
        if p == 2:
            xp.multiply(c, c, out=t)
        else:
            xp.abs(c, out=t)
        s = _sum_all(t)
        partial[i] = t.sum() if s is None else s
    return partial.sum()


def _vector_norm(a, p, axes, keepdim):
    xp = xp_of(a)
    if axes is None and not keepdim and p in (1, 2) and a.dtype.kind == "f":
        s = power_sum(a, p)
        return xp.sqrt(s) if p == 2 else s
    if p == 2 and a.dtype.kind != "c":
        return xp.sqrt((a * a).sum(axis=axes, keepdims=keepdim))   # (x * x is |x| * |x|, bit for bit)
    ab = xp.abs(a)
    if p == 2:
        return xp.sqrt((ab * ab).sum(axis=axes, keepdims=keepdim))
    if p == 1:
        return ab.sum(axis=axes, keepdims=keepdim)
    if p == 0:
        return (ab != 0).sum(axis=axes, keepdims=keepdim).astype(a.dtype)
    if p == math.inf:
        return ab.max(axis=axes, keepdims=keepdim)
    if p == -math.inf:
        return ab.min(axis=axes, keepdims=keepdim)
    return (ab ** p).sum(axis=axes, keepdims=keepdim) ** (1.0 / p)


def dist(input, other, p=2):
    """The p-norm of input - other (broadcast), as torch.dist."""
    if not isinstance(other, Tensor) or not isinstance(input, Tensor):
        bad, pos = (input, 1) if not isinstance(input, Tensor) else (other, 2)
        raise TypeError(f"dist(): argument '{'input' if pos == 1 else 'other'}' (position {pos}) must be Tensor, "
                        f"not {type(bad).__name__}")
    from .loss import _named
    res = norm(input - other, float(p))
    if res.grad_fn is not None:   # torch's node name (here above the difference's node)
        res.grad_fn.__class__ = _named(type(res.grad_fn), "DistBackward0")
    return res


def norm(input, p="fro", dim=None, keepdim=False, dtype=None):
    """Vector p-norm over all elements or the given dim(s); 'fro' (default) is the 2-norm."""
    if keepdim.__class__ is not bool:
        _keepdim_error("norm", keepdim)
    a = input._data
    _barebones.check("norm", a)
    if dtype is not None:
        a = a.astype(B.dtype_arg(dtype, "norm").np)
    if a.dtype.kind != "f" and a.dtype.kind != "c" and a.dtype.kind != "V":
        raise RuntimeError(
            "linalg.vector_norm: Expected a floating point or complex tensor as input. "
            f"Got {B.scalar_name(a.dtype)}")
    if p is None or p == "fro":
        p = 2
    elif p == "nuc":    # torch: linalg.matrix_norm over dim (all the dims when None, which must be 2)
        from .. import linalg
        if a.ndim < 2:
            raise RuntimeError("linalg.matrix_norm: The input tensor A must have at least 2 dimensions.")
        dims = tuple(range(a.ndim)) if dim is None else (dim,) if isinstance(dim, int) else tuple(dim)
        if len(dims) != 2:
            raise RuntimeError(f"linalg.matrix_norm: dim must be a 2-tuple. Got {' '.join(map(str, dims))}")
        return linalg.matrix_norm(input if dtype is None else input.to(dtype), "nuc", dims, keepdim)
    elif isinstance(p, str):
        raise RuntimeError(f"norm(): unsupported norm type {p!r}; use 'fro' or a number")
    axes = _axes(dim, a.ndim)
    bf16 = a.dtype.kind == "V"   # computed in float32 and rounded once, as torch (backward: _NormBf16Backward)
    res = _vector_norm(a.astype(np.float32) if bf16 else a, p, axes, keepdim)
    res = _arr(res)
    real_dt = B.dtype_of(a).to_real().np   # the norm of a complex tensor is real
    if res.dtype != real_dt:
        res = res.astype(real_dt)
    node = None
    if state.enabled and input._requires_grad:
        node = _node(LinalgVectorNormBackward0 if not bf16 else _NormBf16Backward, input)
        node.x, node.out, node.p, node.axes, node.keepdim = a, res, p, axes, keepdim
        node._saved_versions = ((input, input._vc[0]),)
    return _finish(res, node)


# ---- logical reductions ----------------------------------------------------------------
def _logical(input, dim, keepdim, fn):
    if keepdim.__class__ is not bool:
        _keepdim_error(fn, keepdim)
    a = input._data
    axes = _axes(dim, a.ndim)
    res = _arr(getattr(xp_of(a), fn)(a, axis=axes, keepdims=keepdim))
    if a.dtype == np.uint8:
        res = res.astype(np.uint8)
    return _wrap(res)


def all(input, dim=None, keepdim=False):
    """True if every element (along dim) is nonzero."""
    return _logical(input, dim, keepdim, "all")


def any(input, dim=None, keepdim=False):
    """True if some element (along dim) is nonzero."""
    return _logical(input, dim, keepdim, "any")


def count_nonzero(input, dim=None):
    """The number of nonzero elements (along dim), as int64."""
    xp = xp_of(input._data)
    a = input._data
    _barebones.check("count_nonzero", a)
    axes = _axes(dim, a.ndim)
    return _wrap(_arr(xp.count_nonzero(a, axis=axes)).astype(np.int64, copy=False))


# ---- logsumexp / cumulative ---------------------------------------------------------------
class LogsumexpBackward0(Node):
    __slots__ = ("x", "out", "axes", "keepdim")
    _saved_fields = ("x", "out")
    # its formula also runs on Tensors (create_graph=True: autograd/higher_order.py)
    _double_backward = True
    _output_fields = ("out",)

    def apply(self, g):
        xp = xp_of(g)
        out = self.out
        if not self.keepdim and self.axes is not None:
            g = xp.expand_dims(g, self.axes)
            out = xp.expand_dims(out, self.axes)
        d = xp.exp(self.x - out)
        return ((g * (d.conj() if g.dtype.kind == "c" else d)).astype(self.x.dtype, copy=False),)


def logsumexp(input, dim, keepdim=False):
    """log(sum(exp(input))) along dim(s), computed stably."""
    if keepdim.__class__ is not bool:
        _keepdim_error("logsumexp", keepdim)
    xp = xp_of(input._data)
    a = _float_of(input._data)
    axes = _axes(dim, a.ndim)
    if a.size == 0:
        res = xp.log(xp.exp(a).sum(axis=axes, keepdims=keepdim))
    else:
        m = (a.real if a.dtype.kind == "c" else a).max(axis=axes, keepdims=True)   # complex: shift by Re
        m = B.where(xp, xp.isfinite(m), m, 0).astype(a.dtype, copy=False)
        s = xp.exp(a - m).sum(axis=axes, keepdims=True)
        with B.errstate(xp, divide="ignore"):
            res = xp.log(s) + m
        if not keepdim and axes is not None:
            res = res.squeeze(axis=axes)
        elif axes is None and not keepdim:
            res = res.reshape(())
    res = _arr(res)
    node = None
    if state.enabled and input._requires_grad:
        node = _node(LogsumexpBackward0, input)
        node.x, node.out, node.axes, node.keepdim = a, res, axes, keepdim
        node._saved_versions = ((input, input._vc[0]),)
    return _finish(res, node)


# torch accumulates a cumulative sum, product or logsumexp in its accumulation type (at::acc_type:
# float64 for float32, float32 for float16, complex128 for complex64) and rounds each output to the
# dtype.  NumPy's float32 cumsum matched torch's in 1-17 % of the elements (a float16 one in 4 %), the
# wider accumulation in all; NumPy's accumulate loops take ~3.5 ns an element either way, so the two
# casts cost ~10 %
_CUM_ACC = {np.dtype(np.float16): np.dtype(np.float32), np.dtype(np.float32): np.dtype(np.float64),
            np.dtype(np.complex64): np.dtype(np.complex128)}
B.on_bfloat16(lambda bf16: _CUM_ACC.__setitem__(bf16, np.dtype(np.float32)))


def _cumulative(fn, a, axis):
    """fn(a, axis=axis) (an array module's cumsum, cumprod or logaddexp.accumulate) in torch's
    accumulation type, in a's dtype."""
    acc = _CUM_ACC.get(a.dtype)
    if acc is None:
        return fn(a, axis=axis, dtype=a.dtype)   # (NumPy's cumsum widens small integers)
    return fn(a.astype(acc), axis=axis).astype(a.dtype)


class CumsumBackward0(Node):
    __slots__ = ("axis", "dtype")
    _double_backward = True   # through _apply_tensors (create_graph=True)

    def _apply_tensors(self, grad, saved):
        """create_graph=True: the reversed cumsum is linear in grad; its transpose is the cumsum."""
        from ..autograd.higher_order import linear_pair
        return linear_pair(self, grad, lambda a: xp_of(a).cumsum(a, axis=self.axis).astype(a.dtype, copy=False))

    def apply(self, g):
        xp = xp_of(g)
        ax = self.axis
        res = xp.flip(_cumulative(xp.cumsum, xp.flip(g, ax), ax), ax)
        return (res.astype(self.dtype, copy=False),)


def cumsum(input, dim, *, dtype=None):
    """Cumulative sum along dim; ints and bools accumulate in int64."""
    xp = xp_of(input._data)
    a = input._data
    if dtype is not None:
        a = a.astype(B.dtype_arg(dtype, "cumsum").np)
    elif a.dtype.kind in "biu":
        a = a.astype(np.int64)
    _barebones.check("cumsum", a)
    d = _dim(dim, a.ndim)
    res = _cumulative(xp.cumsum, a.reshape(1) if a.ndim == 0 else a, d).reshape(a.shape)
    node = None
    if state.enabled and input._requires_grad:
        node = _node(CumsumBackward0, input)
        node.axis = d if a.ndim else 0
        node.dtype = input._data.dtype
    return _finish(res, node)


class CumprodBackward0(Node):
    __slots__ = ("x", "out", "axis")
    _saved_fields = ("x", "out")
    _double_backward = True   # through _apply_tensors (create_graph=True)

    def _apply_tensors(self, grad, saved):
        """create_graph=True: the reversed cumsum of grad * out, over x (inputs without zeros)."""
        from ..autograd.higher_order import _output_tensor
        x, ax = saved[0], self.axis
        if x.ndim == 0:
            return (grad,)
        if not bool(x._data.all()):
            raise NotImplementedError("create_graph=True: ember differentiates the backward of CumprodBackward0 "
                                      "for inputs without zeros only yet")
        out = _output_tensor(self.out, self)
        if x.is_complex():   # (g * conj(d out / d x), as apply)
            x, out = x.conj(), out.conj()
        return ((grad * out).flip(ax).cumsum(ax).flip(ax) / x,)

    def apply(self, g):
        xp = xp_of(g)
        x, out, ax = self.x, self.out, self.axis
        if x.ndim == 0:
            return (g.astype(x.dtype, copy=False),)
        if x.dtype.kind == "c":   # torch's convention for complex inputs: g * conj(d out / d x)
            x, out = x.conj(), out.conj()
        if not (x == 0).any():
            with B.errstate(xp, divide="ignore", invalid="ignore"):
                s = xp.flip(_cumulative(xp.cumsum, xp.flip(g * out, ax), ax), ax)
            return ((s / x).astype(x.dtype, copy=False),)
        # exact with zeros: d out_j / d x_i = prod_{k<=j, k!=i} x_k, built per i (axis is short)
        xm = xp.moveaxis(x, ax, -1)
        gm = xp.moveaxis(g, ax, -1)
        n = xm.shape[-1]
        res = xp.zeros_like(xm)
        for i in range(n):
            y = xm.copy()
            y[..., i] = 1
            p = xp.cumprod(y, axis=-1)
            res[..., i] = (gm[..., i:] * p[..., i:]).sum(axis=-1)
        return (xp.moveaxis(res, -1, ax).astype(x.dtype, copy=False),)


def cumprod(input, dim, *, dtype=None):
    """Cumulative product along dim."""
    xp = xp_of(input._data)
    a = input._data
    if dtype is not None:
        a = a.astype(B.dtype_arg(dtype, "cumprod").np)
    elif a.dtype.kind in "biu":
        a = a.astype(np.int64)
    _barebones.check("cumprod", a)
    d = _dim(dim, a.ndim)
    res = _cumulative(xp.cumprod, a.reshape(1) if a.ndim == 0 else a, d).reshape(a.shape)
    node = None
    if state.enabled and input._requires_grad:
        node = _node(CumprodBackward0, input)
        node.x, node.out, node.axis = a, res, d
        node._saved_versions = ((input, input._vc[0]),)
    return _finish(res, node)


# ---- sort / topk / median -------------------------------------------------------------------
class SortBackward0(Node):
    __slots__ = ("shape", "axis", "indices")
    _saved_fields = ("indices",)
    _double_backward = True   # through _apply_tensors (create_graph=True)

    def _apply_tensors(self, grad, saved):
        """create_graph=True: the scatter is linear in grad; its transpose gathers at the indices."""
        from ..autograd.higher_order import linear_pair
        return linear_pair(self, grad, lambda a: _gather_at(a, self.axis, self.indices, True))

    def apply(self, g):
        return (_route(g, self.shape, self.axis, self.indices, True),)


class TopkBackward0(SortBackward0):
    __slots__ = ()


def _argsort(a, axis, descending, stable):
    xp = xp_of(a)
    if not descending:
        idx = xp.argsort(a, axis=axis, kind="stable")
    else:   # descending with ties in index order: stable sort of the reversed array, reversed back
        n = a.shape[axis]
        idx = (n - 1) - xp.flip(xp.argsort(xp.flip(a, axis), axis=axis, kind="stable"), axis)
    # torch's default (stable=False) CPU sort is std::sort: insertion sort, so stable, up to 16 elements, and
    # beyond that an order of ties that only replaying it gives (NumPy's default SIMD quicksort agrees with
    # neither, even on short slices)
    if not stable and xp is np and a.ndim and a.shape[axis] > 16 and a.size <= _SORT_EMULATE_LIMIT:
        idx = _std_sort_ties(a, idx, axis, descending)
    return idx


_SORT_EMULATE_LIMIT = 1 << 14   # a Python replay: kept to slices users inspect


def _std_sort_ties(a, idx, axis, descending):
    rows = np.moveaxis(a, axis, -1)
    out = np.moveaxis(idx, axis, -1).copy()
    s = np.take_along_axis(rows, out, axis=-1)
    tied = (s[..., 1:] == s[..., :-1]).any(axis=-1)
    if s.dtype.kind == "f":
        tied |= np.isnan(s).sum(axis=-1) > 1
    if descending:
        def lt(x, y):
            return (x[0] != x[0] and y[0] == y[0]) or x[0] > y[0]
    else:
        def lt(x, y):
            return (x[0] == x[0] and y[0] != y[0]) or x[0] < y[0]
    for pos in np.ndindex(tied.shape):
        if tied[pos]:
            pairs = list(zip(rows[pos].tolist(), range(rows.shape[-1])))
            _Stl(pairs, lt).sort(0, len(pairs))
            out[pos] = [i for _, i in pairs]
    return np.moveaxis(out, -1, axis)


def sort(input, dim=-1, descending=False, stable=False):
    """Sorted values and their indices along dim, as a (values, indices) named tuple."""
    xp = xp_of(input._data)
    if isinstance(dim, bool):  # sort(input, descending) legacy positional
        dim, descending = -1, dim
    a = input._data
    refuse_complex(a, "Sort does not support complex dtypes on CPU", RuntimeError)
    _barebones.check("sort", a)
    d = _dim(dim, a.ndim)
    if a.ndim == 0:
        idx = xp.zeros((), dtype=np.int64)
        vals = a.copy()
    else:
        idx = _argsort(a, d, descending, stable).astype(np.int64, copy=False)
        vals = xp.take_along_axis(a, idx, axis=d)
    node = None
    if state.enabled and input._requires_grad:
        node = _node(SortBackward0, input)
        node.shape, node.axis, node.indices = a.shape, d, idx
    return return_types.sort(_finish(vals, node), _wrap(idx))


def argsort(input, dim=-1, descending=False, stable=False):
    """Indices that sort input along dim."""
    xp = xp_of(input._data)
    a = input._data
    refuse_complex(a, "Sort does not support complex dtypes on CPU", RuntimeError)
    _barebones.check("argsort", a)
    d = _dim(dim, a.ndim)
    if a.ndim == 0:
        return _wrap(xp.zeros((), dtype=np.int64))
    return _wrap(_argsort(a, d, descending, stable).astype(np.int64, copy=False))


def topk(input, k, dim=-1, largest=True, sorted=True):
    """The k largest (or smallest) elements along dim and their indices."""
    xp = xp_of(input._data)
    a = input._data
    refuse_complex(a, "topk does not support complex dtypes on CPU", RuntimeError)
    _barebones.check("topk", a)
    if a.dtype.kind == "b":
        raise RuntimeError("topk does not support bool dtypes on CPU (convert with .int() or .float())")
    d = _dim(dim, a.ndim)
    n = a.shape[d] if a.ndim else 1
    if not 0 <= k <= n:
        raise RuntimeError("selected index k out of range")
    work = a.reshape(1) if a.ndim == 0 else a
    replay = k and xp is np and work.size <= _EMULATE_LIMIT
    picked = _top_k_by_extremes(work, d, k, largest) if sorted and xp is np and 0 < k <= _TOPK_BY_EXTREMES \
        and work.dtype.kind == "f" else None
    vals = None
    if picked is not None:
        idx, vals, tied = picked
        if replay and tied.any():
            idx = _topk_ties(work, idx, d, k, largest, sorted, tied)
            vals = None
    elif k and xp is np and n >= 64 and k * 8 <= n and (sorted or not replay):
        idx = _top_k_partitioned(work, d, k, largest)
        if not replay:   # too large to replay torch: ties in index order, as the sort below gives
            idx = _stable_ties(work, idx, d, k, largest)
    else:
        idx = _argsort(work, d, largest, True)
        idx = idx.take(xp.arange(k), axis=d).astype(np.int64, copy=False)
    if replay and picked is None:
        idx = _topk_ties(work, idx, d, k, largest, sorted)
    if vals is None:
        vals = xp.take_along_axis(work, idx, axis=d)
    if a.ndim == 0:
        vals, idx = vals.reshape(()), idx.reshape(())
    node = None
    if state.enabled and input._requires_grad:
        node = _node(TopkBackward0, input)
        node.shape, node.axis, node.indices = a.shape, d, idx
    return return_types.topk(_finish(vals, node), _wrap(idx))


# At most this many: topk (sorted) takes its k elements one reduction at a time, each pass a SIMD argmax
# over contiguous rows, where a partition or a sort walks each row in scalar code: topk(5) of (256, 1000)
# 1.7 ms -> 168 us (torch 290), topk(3) of (32, 10) 53 -> 17 us (torch 2.5)
_TOPK_BY_EXTREMES = 8


def _top_k_by_extremes(work, d, k, largest):
    """(indices, values, tied) of the k largest (or smallest) floats along d, in order, ties in index order
    (the stable choice); tied marks the slices with ties in or at the edge of the top k (where torch's
    choice may differ).  None where a NaN, or a -inf (+inf for the smallest) past the first, is taken."""
    rows = work if d == work.ndim - 1 else np.moveaxis(work, d, -1)
    n = rows.shape[-1]
    if k > n or not rows.size:
        return None
    key = rows.reshape(-1, n).copy() if largest else np.negative(rows.reshape(-1, n))
    starts = np.arange(0, key.size, n)
    idx = np.empty((key.shape[0], k), np.intp)
    top = np.empty((key.shape[0], k), key.dtype)
    flat = key.reshape(-1)
    for j in range(k):
        i = key.argmax(axis=-1)   # (the first of equal maxima; of a NaN, the first NaN)
        at = starts + i
        idx[:, j] = i
        top[:, j] = flat[at]
        flat[at] = -np.inf
    low = top.min()
    if low != low or (k > 1 and low == -np.inf):   # NaN (the largest value to torch); a -inf taken twice
        return None
    # ties: two equal values in the top k, or the best value left equal to the last one taken
    tied = key.max(axis=-1) == top[:, -1]
    if k > 1:
        tied |= (top[:, 1:] == top[:, :-1]).any(axis=-1)
    shape = rows.shape[:-1]
    idx = idx.astype(np.int64, copy=False).reshape(shape + (k,))
    vals = (top if largest else np.negative(top, out=top)).reshape(shape + (k,))   # (negation is exact)
    if d != work.ndim - 1:
        idx, vals = np.moveaxis(idx, -1, d), np.moveaxis(vals, -1, d)
    return idx, vals, tied.reshape(shape)


def _top_k_partitioned(work, d, k, largest):
    """The k largest (or smallest) along d, ordered by value, from a partition: O(n) where a full sort
    is O(n log n) (topk(5) of (256, 1000) logits: 9.5 -> ~1 ms). Among equal values the choice is
    arbitrary, but _topk_ties replays every slice with ties in or at the edge of the top k."""
    last = d == work.ndim - 1
    rows = work if last else np.moveaxis(work, d, -1)
    key = np.where(np.isnan(rows), np.inf, rows) if rows.dtype.kind == "f" else rows   # NaN: the largest
    n = rows.shape[-1]
    part = np.argpartition(key, n - k, axis=-1)[..., n - k:] if largest else \
        np.argpartition(key, k - 1, axis=-1)[..., :k]
    vals = np.take_along_axis(key, part, axis=-1)
    order = np.argsort(vals, axis=-1, kind="stable")
    if largest:
        order = order[..., ::-1]
    idx = np.take_along_axis(part, order, axis=-1).astype(np.int64, copy=False)
    return idx if last else np.moveaxis(idx, -1, d)


def _topk_ties(work, idx, d, k, largest, sorted, visible=None):
    """idx (a stable choice) with the slices where torch's algorithm could choose otherwise replayed: every
    slice when sorted=False (its order is the selection's), else those with ties in or at the edge of the top k
    (visible, when the caller found them)."""
    last = d == work.ndim - 1
    rows = work if last else np.moveaxis(work, d, -1)
    out = idx.copy() if last else np.moveaxis(idx, d, -1).copy()
    if visible is None:
        visible = _tied_slices(rows, out, largest) if sorted else np.ones(rows.shape[:-1], dtype=bool)
    # only the slices to replay (most have none); a 1-d input is one slice, at ()
    for pos in zip(*np.nonzero(visible)) if visible.ndim else [()] * bool(visible):
        out[pos] = _torch_topk_indices(rows[pos].tolist(), k, largest, sorted)
    return out if last else np.moveaxis(out, -1, d)


def _tied_slices(rows, top_idx, largest):
    """Which last-axis slices of rows have ties within their top k (at top_idx) or at its edge (a
    value left out equal to the last one in): the slices where the choice among ties shows."""
    key = np.where(np.isnan(rows), np.inf, rows) if rows.dtype.kind == "f" else rows
    top = np.take_along_axis(key, top_idx, axis=-1)
    top_sorted = np.sort(top, axis=-1)
    edge = top_sorted[..., -1:] if not largest else top_sorted[..., :1]
    nan_edge = np.isnan(np.take_along_axis(rows, top_idx, axis=-1)).any(axis=-1) if rows.dtype.kind == "f" \
        else np.zeros(rows.shape[:-1], dtype=bool)
    return ((top_sorted[..., 1:] == top_sorted[..., :-1]).any(axis=-1)
            | ((key == edge).sum(axis=-1) > (top == edge).sum(axis=-1)) | nan_edge)


def _stable_ties(work, idx, d, k, largest):
    """idx from a partition, with the slices that hold ties redone by a stable sort (ties in index
    order), so that the choice does not depend on the partition's."""
    last = d == work.ndim - 1
    rows = work if last else np.moveaxis(work, d, -1)
    out = idx if last else np.moveaxis(idx, d, -1)
    tied = _tied_slices(rows, out, largest)
    if tied.any():
        out = out.copy()
        out[tied] = _argsort(rows[tied], -1, largest, True)[..., :k]
    return out if last else np.moveaxis(out, -1, d)


class MedianBackward0(MaxBackward1):
    __slots__ = ()


class MedianBackward1(MaxBackward0):
    __slots__ = ()


def median(input, dim=None, keepdim=False):
    """Lower median of all elements; with dim, a (values, indices) named tuple."""
    if keepdim.__class__ is not bool:
        _keepdim_error("median", keepdim)
    refuse_complex(input._data, "\"median_cpu\" not implemented for '{}'")
    xp = xp_of(input._data)
    a = input._data
    if a.dtype.kind == "b":
        raise NotImplementedError("\"median_cpu\" not implemented for 'Bool'")
    if dim is None:
        if a.size == 0:
            return _wrap(xp.asarray(np.nan, dtype=a.dtype))
        flat = a.reshape(-1)
        pos = (flat.size - 1) // 2
        if flat.dtype.kind == "f" and xp.isnan(flat).any():
            res = xp.asarray(np.nan, dtype=a.dtype)     # torch's median propagates NaN
        else:
            res = xp.asarray(xp.partition(flat, pos)[pos])
        node = None
        if state.enabled and input._requires_grad:
            node = _node(MedianBackward0, input)
            node.x, node.out = a, res
            node._saved_versions = ((input, input._vc[0]),)
        return _finish(res, node)
    d = _dim(dim, a.ndim)
    work = a.reshape(1) if a.ndim == 0 else a
    n = work.shape[d]
    if n == 0:
        raise IndexError(f"median(): Expected reduction dim {d} to have non-zero size.")
    pos = (n - 1) // 2
    idx = _stable_kth(xp, work, d, pos).astype(np.int64, copy=False)
    if work.dtype.kind == "f":
        nan = xp.isnan(work)
        if nan.any():   # a slice holding NaN gives NaN and the index of its first NaN, as in torch
            has = nan.any(axis=d, keepdims=True)
            idx = B.where(xp, has, xp.argmax(nan, axis=d).reshape(has.shape), idx).astype(np.int64, copy=False)
    vals = xp.take_along_axis(work, idx, axis=d)
    node = None
    if state.enabled and input._requires_grad:
        node = _node(MedianBackward1, input)
        node.shape, node.axis, node.keepdim = a.shape, d, keepdim or a.ndim == 0
        node.indices = idx
    if a.ndim == 0:
        vals, idx = vals.reshape(()), idx.reshape(())
    elif not keepdim:
        vals, idx = vals.squeeze(d), idx.squeeze(d)
    return return_types.median(_finish(vals, node), _wrap(idx))


# ---- out= -------------------------------------------------------------------------------------
def _write_out(out, res, name, *inputs):
    from .elementwise import _write_out as w
    return w(out, res, name, *inputs)


# ---- Tensor methods -----------------------------------------------------------------------------
def _numpy_names():
    from .._argcheck import numpy_names
    g = globals()
    for name in ("sum", "mean", "prod", "max", "min", "amax", "amin", "argmax", "argmin", "std", "var",
                 "std_mean", "var_mean", "norm", "all", "any", "logsumexp", "cumsum", "cumprod", "sort",
                 "argsort", "count_nonzero", "median", "nansum"):
        g[name] = numpy_names(g[name])


_numpy_names()


def _register():
    T = Tensor
    for fn in (sum, mean, prod, max, min, amax, amin, argmax, argmin, std, var, norm, all, any,
               logsumexp, cumsum, cumprod, sort, argsort, topk, count_nonzero, median, nansum, dist):
        setattr(T, fn.__name__, fn)

    def cumsum_(self, dim, *, dtype=None):
        """In-place cumulative sum."""
        from .elementwise import _inplace
        return _inplace(self, cumsum(self, dim)._data, lambda s: cumsum(s, dim), ())

    T.cumsum_ = cumsum_


_register()


# ---- unique, bincount, isin, searchsorted ---------------------------------------------------------
Unique2Backward0 = no_derivative("Unique2Backward0", "the derivative for '_unique2' is not implemented.")
UniqueDimBackward0 = no_derivative("UniqueDimBackward0", "the derivative for 'unique_dim' is not implemented.")
UniqueConsecutiveBackward0 = no_derivative(
    "UniqueConsecutiveBackward0", "the derivative for 'unique_consecutive' is not implemented.")
_BincountBackward = no_derivative("NotImplemented", "derivative for aten::bincount is not implemented",
                                   RuntimeError)


def _groups(xp, keys, order, new, want_inverse=True):
    """Values, inverse (None unless wanted) and counts from keys (rows along axis 0) taken in `order`
    (None: as they are), where new[i] says that key order[i] starts a group (differs from the one
    before)."""
    n = keys.shape[0]
    starts = xp.flatnonzero(new)
    inverse = None
    if want_inverse:
        group = xp.cumsum(new) - 1
        if order is None:
            inverse = group.astype(np.int64, copy=False)
        else:
            inverse = xp.empty(n, dtype=np.int64)
            inverse[order] = group
    counts = xp.diff(xp.concatenate([starts, xp.asarray([n])])).astype(np.int64)
    return keys[starts if order is None else order[starts]], inverse, counts


def _unique_impl(input, name, dim, consecutive, return_inverse, return_counts):
    a = input._data
    xp = xp_of(a)
    if dim is None:
        flat = a.reshape(-1)
        n = flat.size
        # (consecutive: the elements as they are, no index table; unique_consecutive of 1M sorted
        # integers: 7.8 -> 0.6 ms; torch 0.4)
        order = None if consecutive else xp.argsort(flat, kind="stable")
        s = flat if consecutive else flat[order]
        new = xp.ones(n, dtype=bool)
        if n:
            xp.not_equal(s[1:], s[:-1], out=new[1:])   # NaN != NaN: every NaN stays its own value, as in torch
        values, inverse, counts = _groups(xp, flat, order, new, return_inverse)
        if inverse is not None:
            inverse = inverse.reshape(a.shape)
        cls = UniqueConsecutiveBackward0 if consecutive else Unique2Backward0
    else:
        if a.ndim == 0:
            raise IndexError(f"Dimension specified as {dim} but tensor has no dimensions ({name}(dim=...) "
                             "needs a tensor with at least one dimension; use dim=None for a 0-d tensor)")
        ax = _dim(dim, a.ndim)
        if _builtin_any(s == 0 for i, s in enumerate(a.shape) if i != ax):
            raise RuntimeError(
                f"There are 0 sized dimensions, and they aren't selected, so unique cannot be applied "
                f"({name}: input shape {list(a.shape)}, dim={dim})")
        moved = xp.moveaxis(a, ax, 0)
        rest = moved.shape[1:]
        rows = moved.reshape(moved.shape[0], math.prod(rest))
        n = rows.shape[0]
        if consecutive or n == 0:
            order = None
        else:
            # lexsort's last key is the primary one: the first column of the rows
            order = xp.lexsort(rows.T[::-1]) if rows.shape[1] else xp.arange(n)
        s = rows if order is None else rows[order]
        new = xp.ones(n, dtype=bool)
        if n:
            new[1:] = (s[1:] != s[:-1]).any(axis=1)
        values, inverse, counts = _groups(xp, rows, order, new, return_inverse)
        values = xp.moveaxis(values.reshape((values.shape[0],) + rest), 0, ax)
        cls = UniqueConsecutiveBackward0 if consecutive else UniqueDimBackward0
    node = _node(cls, input) if state.enabled and input._requires_grad else None
    out = _finish(xp.ascontiguousarray(values), node)
    if not return_inverse and not return_counts:
        return out
    res = (out,)
    if return_inverse:
        res += (_wrap(inverse),)
    if return_counts:
        res += (_wrap(counts),)
    return res


def unique(input, sorted=True, return_inverse=False, return_counts=False, dim=None):
    """The distinct elements (or slices along dim), sorted; optionally the inverse indices and counts."""
    # torch sorts on the CPU even with sorted=False (the order is then unspecified): so does ember
    refuse_complex(input._data, "\"unique\" not implemented for '{}'")
    _barebones.check("unique", input._data)
    return _unique_impl(input, "unique", dim, False, return_inverse, return_counts)


def unique_consecutive(input, return_inverse=False, return_counts=False, dim=None):
    """Collapse each run of equal consecutive elements (or slices along dim) to one."""
    return _unique_impl(input, "unique_consecutive", dim, True, return_inverse, return_counts)


def bincount(input, weights=None, minlength=0):
    """Count the occurrences of each non-negative integer in a 1-d tensor (or sum their weights)."""
    a = input._data
    xp = xp_of(a)
    _barebones.check("bincount", a)
    if a.dtype.kind not in "iu":
        raise NotImplementedError(
            f"\"bincount_{input.device.type}\" not implemented for '{B.scalar_name(a.dtype)}' "
            "(bincount counts integers: convert with .long())")
    if minlength < 0:
        raise RuntimeError(f"minlength should be >= 0 (bincount got minlength={minlength})")
    if a.ndim != 1 or (a.size and a.min() < 0):
        raise RuntimeError(
            "bincount only supports 1-d non-negative integral inputs. (got a "
            + (f"{a.ndim}-d tensor of shape {list(a.shape)}; flatten it first" if a.ndim != 1
               else f"negative value {int(a.min())}") + ")")
    if weights is None:
        return _wrap(xp.bincount(a, minlength=minlength).astype(np.int64, copy=False))
    w = weights._data
    if w.ndim != 1 or w.shape[0] != a.shape[0]:
        raise RuntimeError(f"weights should be 1-d and have the same length as input (bincount got input "
                           f"shape {list(a.shape)} and weights shape {list(w.shape)})")
    if type(w) is not type(a):
        B.check_same_device("bincount", a, w)
    if not a.size:   # torch's answer to no input: int64 zeros, whatever the weights
        return _wrap(xp.zeros(minlength, np.int64))
    if xp is np and w.dtype == np.float32:
        # torch adds float32 weights in float32, in order: add.at does the same (1M weights: 1.7 -> 0.8 ms,
        # torch 1.1), where bincount's float64 sums matched torch's values in 56 % of the bins
        res = xp.zeros(_builtin_max(minlength, int(a.max()) + 1), np.float32)
        xp.add.at(res, a, w)
    else:
        dt = np.float32 if w.dtype == np.float32 else np.float64
        res = xp.bincount(a, weights=w.astype(np.float64), minlength=minlength).astype(dt, copy=False)
    node = None
    if state.enabled and weights._requires_grad:
        node = _node(_BincountBackward, weights)
    return _finish(res, node)


def _as_array(x, like=None):
    if isinstance(x, Tensor):
        return x._data
    arr = B.host_array(x)   # Python data: a host array, moved below to like's device
    if like is not None and type(like) is not type(arr):
        from .convert import _move
        arr = _move(arr, B.device_of(like))
    return arr


def isin(elements, test_elements, *, assume_unique=False, invert=False):
    """True where an element of `elements` occurs in `test_elements` (False with invert=True)."""
    if not isinstance(elements, Tensor) and not isinstance(test_elements, Tensor):
        raise TypeError(
            f"isin() received an invalid combination of arguments - got ({type(elements).__name__}, "
            f"{type(test_elements).__name__}): at least one of elements and test_elements must be a Tensor")
    like = elements._data if isinstance(elements, Tensor) else test_elements._data
    e, t = _as_array(elements, like), _as_array(test_elements, like)
    _barebones.check("isin", e, t)
    for arr in (e, t):
        if arr.dtype.kind == "b":
            raise RuntimeError("Unsupported input type encountered for isin(): Bool "
                               "(compare bool tensors with == and .any() instead)")
    if type(e) is not type(t):
        B.check_same_device("isin", e, t)
    res = xp_of(e).isin(e, t, assume_unique=assume_unique, invert=invert)
    return _wrap(_arr(res))


def searchsorted(sorted_sequence, input, *, out_int32=False, right=False, side=None, out=None, sorter=None):
    """Indices at which `input`'s values would be inserted into the innermost dim of sorted_sequence."""
    name = f"{B.namespace()}.searchsorted()"
    seq = sorted_sequence._data
    if seq.ndim == 0:
        raise RuntimeError(f"{name}: boundaries tensor should have positive dimension, but got 0 dimension")
    if side is not None and side not in ("left", "right"):
        raise RuntimeError(f"{name}: side can only be 'left' or 'right' but got {side}")
    if side == "left" and right:
        raise RuntimeError(f"{name}: side and right can't be set to opposites, got side of left while right "
                           "was True")
    side = "right" if right or side == "right" else "left"
    v = _as_array(input, seq)
    xp = xp_of(seq)
    if type(v) is not type(seq):
        B.check_same_device("searchsorted", seq, v)
    if seq.ndim > 1 and (v.ndim != seq.ndim or v.shape[:-1] != seq.shape[:-1]):
        raise RuntimeError(
            f"{name}: boundaries tensor should be 1 dimension or the first N-1 dimensions of boundaries "
            f"tensor and input value tensor must match, but we got boundaries tensor {list(seq.shape)} and "
            f"input value tensor {list(v.shape)}")
    if sorter is not None:
        srt = sorter._data if isinstance(sorter, Tensor) else _as_array(sorter, seq)
        if srt.shape != seq.shape or srt.dtype.kind not in "iu":
            raise RuntimeError(f"{name}: sorter must be an integer tensor of the boundaries' shape "
                               f"{list(seq.shape)}, got {list(srt.shape)} of dtype {srt.dtype}")
        seq = xp.take_along_axis(seq, srt.astype(np.int64, copy=False), axis=-1)
    if seq.ndim == 1:
        res = xp.searchsorted(seq, v, side=side)
    else:
        n = seq.shape[-1]
        rows = seq.reshape(-1, n)
        vals = v.reshape(rows.shape[0], -1)
        res = xp.stack([xp.searchsorted(r, q, side=side) for r, q in zip(rows, vals)]).reshape(v.shape)
    res = _arr(res).astype(np.int32 if out_int32 else np.int64, copy=False)
    if out is not None:
        return _write_out(out, res, "searchsorted")
    return _wrap(res)


def bucketize(input, boundaries, *, out_int32=False, right=False, out=None):
    """The index of the bucket of each value of input, boundaries being a sorted 1-d tensor
    (right=False: boundaries[i-1] < x <= boundaries[i])."""
    if not isinstance(boundaries, Tensor):
        raise TypeError(f"bucketize(): argument 'boundaries' (position 2) must be Tensor, not "
                        f"{type(boundaries).__name__}")
    if not isinstance(input, (Tensor, int, float, bool)):
        raise TypeError(f"bucketize(): argument 'input' (position 1) must be Tensor or a number, not "
                        f"{type(input).__name__}")
    if boundaries._data.ndim != 1:
        raise RuntimeError(f"boundaries tensor must be 1 dimension, but got dim({boundaries._data.ndim})")
    return searchsorted(boundaries, input, out_int32=out_int32, right=right, out=out)


def _register_more():
    T = Tensor
    T.unique = unique
    T.unique_consecutive = unique_consecutive
    T.bincount = bincount


_register_more()
__all__ += ["unique", "unique_consecutive", "bincount", "isin", "searchsorted", "bucketize"]


# ---- aminmax, cummax / cummin, logcumsumexp, kthvalue, mode, nan-reductions, quantile, histc, cov ----
def _pair_type(name, first, second):
    """A torch.return_types structseq with fields (first, second)."""
    def __new__(cls, a, b=None):
        if b is None:
            a, b = a
        return tuple.__new__(cls, (a, b))

    def __repr__(self):
        return f"{B.namespace()}.return_types.{name}(\n{first}={self[0]!r},\n{second}={self[1]!r})"

    cls = type(name, (tuple,), {
        "__slots__": (), "__new__": __new__, "__repr__": __repr__, "__str__": __repr__,
        "__reduce__": lambda self: (type(self), (self[0], self[1])), "_fields": (first, second),
        "n_fields": 2, "n_sequence_fields": 2, "n_unnamed_fields": 0,
        first: property(lambda self: self[0]), second: property(lambda self: self[1]),
    })
    cls.__module__ = "ember.return_types"
    return cls


return_types.aminmax = _pair_type("aminmax", "min", "max")
for _name in ("cummax", "cummin", "nanmedian"):
    setattr(return_types, _name, _return_type(_name))
return_types.frexp = _pair_type("frexp", "mantissa", "exponent")


class AminmaxBackward0(Node):
    """Both outputs' gradients, each shared evenly among the ties of its extreme."""
    __slots__ = ("_n_outputs", "_output_nrs", "x", "mn", "mx", "axes", "keepdim")
    _saved_fields = ("x", "mn", "mx")
    # its formula also runs on Tensors (create_graph=True); x and the extremes only pick the elements
    _double_backward = True
    _output_fields = ("mn", "mx")

    def apply(self, grads):
        if type(grads) is not list:
            grads = [grads, None]
        xp = xp_of(self.x)
        total = None
        for g, out in zip(grads, (self.mn, self.mx)):
            if g is None:
                continue
            if self.axes is not None and not self.keepdim:
                out = xp.expand_dims(out, self.axes)
                g = xp.expand_dims(g, self.axes)
            mask = self.x == out
            n = mask.sum(axis=self.axes, keepdims=True)
            part = (mask * (g / n)).astype(g.dtype, copy=False)
            total = part if total is None else total + part
        return (total,)


def aminmax(input, *, dim=None, keepdim=False):
    """(min, max) over all elements or along dim, as torch.return_types.aminmax."""
    if keepdim.__class__ is not bool:
        _keepdim_error("aminmax", keepdim)
    a = input._data
    axes = None if dim is None else (_dim(dim, a.ndim),) if a.ndim else None
    if a.size == 0 and (axes is None or a.shape[axes[0]] == 0):
        raise RuntimeError("aminmax(): cannot compute aminmax over an empty dimension as the operation has no "
                           "identity.")
    kd = keepdim and axes is not None
    mn, mx = _arr(a.min(axis=axes, keepdims=kd)), _arr(a.max(axis=axes, keepdims=kd))
    if keepdim and axes is None and a.ndim:
        mn, mx = mn.reshape((1,) * a.ndim), mx.reshape((1,) * a.ndim)
    node = None
    if state.enabled and input._requires_grad:
        node = _node(AminmaxBackward0, input)
        node._n_outputs, node._output_nrs = 2, {}
        node.x, node.mn, node.mx = a, mn, mx
        node.axes, node.keepdim = axes, keepdim or axes is None
        if axes is None:
            node.mn, node.mx = mn.reshape(()), mx.reshape(())
        node._saved_versions = ((input, input._vc[0]),)
    out = (_finish(mn, node), _finish(mx, node))
    if node is not None:
        node._output_nrs[id(out[0])] = 0
        node._output_nrs[id(out[1])] = 1
        if axes is None:
            node.keepdim, node.axes = True, None
    return return_types.aminmax(*out)


class CummaxBackward0(Node):
    __slots__ = ("shape", "axis", "indices")
    _saved_fields = ("indices",)
    _double_backward = True   # through _apply_tensors (create_graph=True)

    def _apply_tensors(self, grad, saved):
        """create_graph=True: the scatter-add is linear in grad; its transpose gathers at the indices."""
        from ..autograd.higher_order import linear_pair
        return linear_pair(self, grad, lambda a: _gather_at(a, self.axis, self.indices, True))

    def apply(self, g):
        xp = xp_of(g)
        z = _zeros(self.shape, g)
        if not self.shape:
            return (g.copy(),)
        ax = self.axis
        idx = xp.moveaxis(self.indices, ax, -1)
        zm, gm = xp.moveaxis(z, ax, -1), xp.moveaxis(g, ax, -1)
        lead = xp.indices(idx.shape[:-1]) if idx.ndim > 1 else ()
        fancy = tuple(i[..., None] for i in lead) + (idx,)
        xp.add.at(zm, fancy, gm)
        return (z,)


class CumminBackward0(CummaxBackward0):
    __slots__ = ()


def _cumext(input, dim, is_max):
    a = input._data
    xp = xp_of(a)
    name = "cummax" if is_max else "cummin"
    d = _dim(dim, a.ndim)
    work = a.reshape(1) if a.ndim == 0 else a
    acc = xp.maximum if is_max else xp.minimum
    if work.shape[d] == 0:
        vals, idx = work.copy(), xp.zeros(work.shape, dtype=np.int64)
    else:
        wk = work.astype(np.int8) if work.dtype.kind == "b" else work
        vals = acc.accumulate(wk, axis=d)
        # an element takes the index when it reaches (or passes) the running extreme: torch's >= / <=
        take = (wk == vals)
        if wk.dtype.kind == "f":
            take = take | xp.isnan(wk)
        n = work.shape[d]
        shape = [1] * work.ndim
        shape[d] = n
        pos = xp.arange(n).reshape(shape)
        idx = xp.maximum.accumulate(B.where(xp, take, pos, 0), axis=d).astype(np.int64)
        vals = vals.astype(work.dtype, copy=False)
    if a.ndim == 0:
        vals, idx = vals.reshape(()), idx.reshape(())
    node = None
    if state.enabled and input._requires_grad:
        node = _node(CummaxBackward0 if is_max else CumminBackward0, input)
        node.shape, node.axis, node.indices = a.shape, d, idx
    return getattr(return_types, name)(_finish(vals, node), _wrap(idx))


def cummax(input, dim):
    """Running maximum along dim and the index where each was found."""
    refuse_complex(input._data, "\"cummax_cpu\" not implemented for '{}'")
    return _cumext(input, dim, True)


def cummin(input, dim):
    """Running minimum along dim and the index where each was found."""
    refuse_complex(input._data, "\"cummin_cpu\" not implemented for '{}'")
    return _cumext(input, dim, False)


def _logcumsumexp_array(a, ax):
    xp = xp_of(a)
    if a.shape[ax] == 0:
        return a.copy()
    acc = getattr(xp.logaddexp, "accumulate", None)
    if acc is not None:
        return _cumulative(acc, a, ax)
    m = a.max(axis=ax, keepdims=True)   # array modules without ufunc.accumulate: shift by the max
    m = B.where(xp, xp.isfinite(m), m, 0)
    with B.errstate(xp, divide="ignore"):
        return xp.log(xp.cumsum(xp.exp(a - m), axis=ax)) + m


class LogcumsumexpBackward0(Node):
    __slots__ = ("x", "out", "axis")
    _saved_fields = ("x", "out")
    _double_backward = True   # through _apply_tensors (create_graph=True)

    def _apply_tensors(self, grad, saved):
        """create_graph=True: the gradient of log(cumsum(exp(x - m))) + m, m a constant shift."""
        from ..autograd.higher_order import vjp
        ax = self.axis

        def composite(t):
            if t.ndim == 0:
                return t * 1
            m = t.detach().amax(ax, keepdim=True)
            m = m.masked_fill(~m.isfinite(), 0.0)
            return (t - m).exp().cumsum(ax).log() + m
        return vjp(composite, saved[:1], grad)

    def apply(self, g):
        # grad_i = sum_{j >= i} g_j exp(x_i - out_j), summed in log space for g > 0 and g < 0 apart
        xp = xp_of(g)
        x, out, ax = self.x, self.out, self.axis
        if x.ndim == 0:
            return (g.copy(),)
        with B.errstate(xp, divide="ignore", invalid="ignore"):
            res = xp.zeros_like(x)
            for sign in (1, -1):
                lg = xp.log(B.where(xp, sign * g > 0, sign * g, 0)) - out
                rev = xp.flip(_logcumsumexp_array(xp.flip(lg, ax), ax), ax)
                res = res + sign * xp.exp(x + rev)
        return (res.astype(x.dtype, copy=False),)


def logcumsumexp(input, dim):
    """log(cumsum(exp(input))) along dim, computed stably."""
    a = input._data
    if a.dtype.kind != "f":
        raise NotImplementedError(f"\"logcumsumexp_out_cpu\" not implemented for '{B.scalar_name(a.dtype)}' "
                                  "(logcumsumexp needs a floating-point tensor: convert with .float())")
    d = _dim(dim, a.ndim)
    res = _logcumsumexp_array(a.reshape(1) if a.ndim == 0 else a, d).reshape(a.shape)
    node = None
    if state.enabled and input._requires_grad:
        node = _node(LogcumsumexpBackward0, input)
        node.x, node.out, node.axis = a, res, d
        node._saved_versions = ((input, input._vc[0]),)
    return _finish(res, node)


class KthvalueBackward0(MaxBackward0):
    __slots__ = ()


class ModeBackward0(MaxBackward0):
    __slots__ = ()


class NanmedianBackward0(MaxBackward1):
    __slots__ = ()


class NanmedianBackward1(MaxBackward0):
    __slots__ = ()


def _pick(input, dim, keepdim, name, cls, picker):
    """values/indices of one element per slice along dim: picker(xp, work, d) -> indices (keepdims)."""
    a = input._data
    xp = xp_of(a)
    d = _dim(dim, a.ndim)
    work = a.reshape(1) if a.ndim == 0 else a
    if work.shape[d] == 0:
        raise IndexError(f"{name}(): Expected reduction dim {d} to have non-zero size.")
    idx = picker(xp, work, d).astype(np.int64, copy=False)
    vals = xp.take_along_axis(work, idx, axis=d)
    node = None
    if state.enabled and input._requires_grad:
        node = _node(cls, input)
        node.shape, node.axis, node.keepdim, node.indices = a.shape, d, keepdim or a.ndim == 0, idx
    if a.ndim == 0:
        vals, idx = vals.reshape(()), idx.reshape(())
    elif not keepdim:
        vals, idx = vals.squeeze(d), idx.squeeze(d)
    return getattr(return_types, name)(_finish(vals, node), _wrap(idx))


def kthvalue(input, k, dim=-1, keepdim=False):
    """The k-th smallest element along dim and its index, as torch.return_types.kthvalue."""
    if keepdim.__class__ is not bool:
        _keepdim_error("kthvalue", keepdim)
    a = input._data
    kernel_for(a.dtype, "kthvalue_cpu", "fiu")
    d = _dim(dim, a.ndim)
    n = a.shape[d] if a.ndim else 1
    if n == 0:
        raise IndexError(f"kthvalue(): Expected reduction dim {d} to have non-zero size.")
    if not 1 <= k <= n:
        raise RuntimeError(f"kthvalue(): selected number k out of range for dimension {d} "
                           f"(k={k}, size {n})")

    def picker(xp, work, ax):
        idx = _stable_kth(xp, work, ax, k - 1)
        if xp is not np or work.size > _EMULATE_LIMIT:
            return idx
        # which of several equal k-th values torch reports is its quickselect's choice: replay it where it matters
        kth = np.take_along_axis(work, idx, axis=ax)
        same = (work == kth) | (np.isnan(work) & np.isnan(kth)) if work.dtype.kind == "f" else work == kth
        rows = np.moveaxis(work, ax, -1)
        out = np.moveaxis(idx, ax, -1).copy()
        count = np.moveaxis(same, ax, -1).sum(axis=-1)
        for pos in np.ndindex(count.shape):
            if count[pos] > 1:
                out[pos + (0,)] = _quickselect_index(rows[pos].tolist(), k - 1)
        return np.moveaxis(out, -1, ax)
    return _pick(input, dim, keepdim, "kthvalue", KthvalueBackward0, picker)


def _stable_kth(xp, work, ax, kth):
    """The index of the element a stable sort puts at position kth along ax (ax kept, of size 1): a
    partition, O(n), with the full sort only for the slices where values equal to that element make
    the choice show (kthvalue or median over (512, 1024): 21 -> 2.0-2.6 ms; torch 4.7-5.4)."""
    if xp is not np:
        return xp.argsort(work, axis=ax, kind="stable").take([kth], axis=ax)
    idx = np.argpartition(work, kth, axis=ax).take([kth], axis=ax)   # (NaN last, as the sort)
    val = np.take_along_axis(work, idx, axis=ax)
    same = work == val
    if work.dtype.kind == "f":
        same |= np.isnan(work) & np.isnan(val)
    tied = np.count_nonzero(same, axis=ax) > 1
    if tied.any():
        rows = np.moveaxis(work, ax, -1)
        out = np.moveaxis(idx, ax, -1)   # (a view: assigning below writes idx)
        out[tied] = np.argsort(rows[tied], axis=-1, kind="stable")[:, kth:kth + 1]
    return idx


# torch's CPU kthvalue and mode break ties by the order their selection/sort algorithms happen to leave:
# kthvalue runs its own quickselect (aten SortingUtils.h), mode a libstdc++ std::sort of (value, index) pairs
# compared by value.  Both are replayed below, in Python, on slices where ties make the choice visible
# (inputs above _EMULATE_LIMIT elements keep the vectorised stable choice).
_EMULATE_LIMIT = 1 << 20


def _gt_or_nan(x, y):
    return (x != x and y == y) or x > y


def _quickselect_index(vals, k):
    """The index torch's quick_select_template leaves at position k of vals (NaN counts as largest)."""
    arr, idx = vals, list(range(len(vals)))

    def swap(i, j):
        arr[i], arr[j] = arr[j], arr[i]
        idx[i], idx[j] = idx[j], idx[i]
    lo, hi = 0, len(arr) - 1
    while hi > lo:
        if hi == lo + 1:
            if _gt_or_nan(arr[lo], arr[hi]):
                swap(lo, hi)
            break
        swap(lo + (hi - lo) // 2, lo + 1)     # median of three as pivot
        if _gt_or_nan(arr[lo + 1], arr[hi]):
            swap(lo + 1, hi)
        if _gt_or_nan(arr[lo], arr[hi]):
            swap(lo, hi)
        if _gt_or_nan(arr[lo + 1], arr[lo]):
            swap(lo + 1, lo)
        i, j, piv = lo + 1, hi, arr[lo]
        while True:
            i += 1
            while _gt_or_nan(piv, arr[i]):
                i += 1
            j -= 1
            while _gt_or_nan(arr[j], piv):
                j -= 1
            if j < i:
                break
            swap(i, j)
        swap(lo, j)
        if j <= k:
            lo = i
        if j >= k:
            hi = j - 1
    return idx[k]


class _Stl:
    """libstdc++'s std::sort (introsort: median-of-3 quicksort down to 16-element runs, heapsort past depth
    2 log n, insertion sort), nth_element (introselect) and partial_sort (heap select), run on the list a under
    the strict order lt: the orders torch's CPU kernels leave equal elements in."""

    def __init__(self, a, lt):
        self.a, self.lt = a, lt

    def _linear_insert(self, last):
        a, lt = self.a, self.lt
        v = a[last]
        nxt = last - 1
        while lt(v, a[nxt]):
            a[last] = a[nxt]
            last, nxt = nxt, nxt - 1
        a[last] = v

    def _insertion(self, first, last):
        a, lt = self.a, self.lt
        for i in range(first + 1, last):
            v = a[i]
            if lt(v, a[first]):
                a[first + 1:i + 1] = a[first:i]
                a[first] = v
            else:
                self._linear_insert(i)

    def _partition_pivot(self, first, last):
        a, lt = self.a, self.lt
        x, y, z = first + 1, first + (last - first) // 2, last - 1
        if lt(a[x], a[y]):
            m = y if lt(a[y], a[z]) else z if lt(a[x], a[z]) else x
        else:
            m = x if lt(a[x], a[z]) else z if lt(a[y], a[z]) else y
        a[first], a[m] = a[m], a[first]
        lo, hi = first + 1, last
        while True:
            while lt(a[lo], a[first]):
                lo += 1
            hi -= 1
            while lt(a[first], a[hi]):
                hi -= 1
            if not lo < hi:
                return lo
            a[lo], a[hi] = a[hi], a[lo]
            lo += 1

    def _adjust_heap(self, first, hole, length, value):
        a, lt = self.a, self.lt
        top = child = hole
        while child < (length - 1) // 2:
            child = 2 * (child + 1)
            if lt(a[first + child], a[first + child - 1]):
                child -= 1
            a[first + hole] = a[first + child]
            hole = child
        if length % 2 == 0 and child == (length - 2) // 2:
            child = 2 * (child + 1)
            a[first + hole] = a[first + child - 1]
            hole = child - 1
        parent = (hole - 1) // 2
        while hole > top and lt(a[first + parent], value):
            a[first + hole] = a[first + parent]
            hole, parent = parent, (parent - 1) // 2
        a[first + hole] = value

    def _make_heap(self, first, last):
        length = last - first
        for parent in range((length - 2) // 2, -1, -1):
            self._adjust_heap(first, parent, length, self.a[first + parent])

    def _pop_heap(self, first, last, result):
        a = self.a
        v, a[result] = a[result], a[first]
        self._adjust_heap(first, 0, last - first, v)

    def _heap_select(self, first, middle, last):
        self._make_heap(first, middle)
        for i in range(middle, last):
            if self.lt(self.a[i], self.a[first]):
                self._pop_heap(first, middle, i)

    def _sort_heap(self, first, last):
        while last - first > 1:
            last -= 1
            self._pop_heap(first, last, last)

    def partial_sort(self, first, middle, last):
        self._heap_select(first, middle, last)
        self._sort_heap(first, middle)

    def sort(self, first, last):
        def loop(first, last, depth):
            while last - first > 16:
                if depth == 0:
                    self.partial_sort(first, last, last)
                    return
                depth -= 1
                cut = self._partition_pivot(first, last)
                loop(cut, last, depth)
                last = cut
        n = last - first
        if n > 0:
            loop(first, last, 2 * (n.bit_length() - 1))
            if n > 16:
                self._insertion(first, first + 16)
                for i in range(first + 16, last):
                    self._linear_insert(i)
            else:
                self._insertion(first, last)

    def nth_element(self, first, nth, last):
        if first == last or nth == last:
            return
        depth = 2 * ((last - first).bit_length() - 1)
        while last - first > 3:
            if depth == 0:
                self._heap_select(first, nth + 1, last)
                self.a[first], self.a[nth] = self.a[nth], self.a[first]
                return
            depth -= 1
            cut = self._partition_pivot(first, last)
            if cut <= nth:
                first = cut
            else:
                last = cut
        self._insertion(first, last)


def _torch_mode_index(vals):
    """torch's CPU mode of a list: the last pair of the first longest run after std::sort."""
    pairs = list(zip(vals, range(len(vals))))
    _Stl(pairs, lambda x, y: x[0] < y[0]).sort(0, len(pairs))
    order = [i for _, i in pairs]
    best, best_count, count = 0, 0, 0
    for i in range(len(order)):
        count += 1
        if i == len(order) - 1 or vals[order[i]] != vals[order[i + 1]]:
            if count > best_count:
                best, best_count = order[i], count
            count = 0
    return best


def mode(input, dim=-1, keepdim=False):
    """The most frequent value along dim (the smallest among equally frequent ones) and its last index."""
    if keepdim.__class__ is not bool:
        _keepdim_error("mode", keepdim)
    def picker(xp, work, ax):
        m = xp.moveaxis(work, ax, -1)
        n = m.shape[-1]
        order = xp.argsort(m, axis=-1, kind="stable")
        s = xp.take_along_axis(m, order, axis=-1)
        new = xp.ones(s.shape, dtype=bool)
        new[..., 1:] = s[..., 1:] != s[..., :-1]
        run = xp.cumsum(new, axis=-1)            # the run number of each sorted element
        # length of the run each element belongs to, then the first element of a longest run
        start = xp.maximum.accumulate(B.where(xp, new, xp.arange(n), 0), axis=-1)
        end = xp.flip(xp.minimum.accumulate(xp.flip(B.where(xp, 
            xp.concatenate([new[..., 1:], xp.ones(s.shape[:-1] + (1,), dtype=bool)], axis=-1),
            xp.arange(n), n), -1), axis=-1), -1)
        length = end - start + 1
        best = xp.argmax(length, axis=-1)[..., None]   # first maximal run: the smallest value
        last = xp.take_along_axis(end, best, axis=-1)  # its last sorted position: the largest index
        del run
        res = xp.take_along_axis(order, last, axis=-1)
        if xp is np and m.size <= _EMULATE_LIMIT and (n > 16 or (m.dtype.kind == "f" and np.isnan(m).any())):
            # which equal element torch reports (and how it treats NaN) follows its std::sort: replay it
            for pos in np.ndindex(m.shape[:-1]):
                res[pos + (0,)] = _torch_mode_index(m[pos].tolist())
        return xp.moveaxis(res, -1, ax)
    return _pick(input, dim, keepdim, "mode", ModeBackward0, picker)


def _float_check(input, name):
    if input._data.dtype.kind != "f":
        raise RuntimeError(f"{name}(): expected input to have floating point or complex dtype but got "
                           f"{B.scalar_name(input._data.dtype)}")


def nanmean(input, dim=None, keepdim=False, *, dtype=None):
    """The mean of the non-NaN elements (over dim)."""
    if keepdim.__class__ is not bool:
        _keepdim_error("nanmean", keepdim)
    if dtype is not None:
        input = input.to(dtype)
    if input._data.dtype.kind == "c":   # (torch's nanmean sums with nansum)
        raise RuntimeError("nansum on CPU does not support complex inputs")
    _float_check(input, "nanmean")
    from .elementwise import isnan, logical_not
    count = sum(logical_not(isnan(input)), dim, keepdim)
    return nansum(input, dim, keepdim) / count


def nanmedian(input, dim=None, keepdim=False):
    """Lower median of the non-NaN elements; with dim, a (values, indices) named tuple."""
    if keepdim.__class__ is not bool:
        _keepdim_error("nanmedian", keepdim)
    a = input._data
    xp = xp_of(a)
    if a.dtype.kind == "b":
        raise NotImplementedError("\"nanmedian_cpu\" not implemented for 'Bool'")
    if dim is None:
        flat = a.reshape(-1)
        if flat.dtype.kind == "f":
            flat = flat[~xp.isnan(flat)]
        if flat.size == 0:
            res = xp.asarray(np.nan, dtype=a.dtype)
        else:
            pos = (flat.size - 1) // 2
            res = xp.asarray(xp.partition(flat, pos)[pos])
        node = None
        if state.enabled and input._requires_grad:
            node = _node(NanmedianBackward0, input)
            node.x, node.out = a, res
            node._saved_versions = ((input, input._vc[0]),)
        return _finish(res, node)

    def picker(xp, work, ax):
        nan = xp.isnan(work) if work.dtype.kind == "f" else None
        if nan is None or not nan.any():   # every slice's median at one position: median's partition
            return _stable_kth(xp, work, ax, (work.shape[ax] - 1) // 2)
        order = xp.argsort(work, axis=ax, kind="stable")   # NaNs sort last
        pos = xp.maximum((~nan).sum(axis=ax, keepdims=True) - 1, 0) // 2
        return xp.take_along_axis(order, pos, axis=ax)
    return _pick(input, dim, keepdim, "nanmedian", NanmedianBackward1, picker)


_QUANTILE_MODES = ("linear", "lower", "higher", "midpoint", "nearest")


def _quantile(input, q, dim, keepdim, interpolation, ignore_nan):
    name = "nanquantile" if ignore_nan else "quantile"
    a = input._data
    xp = xp_of(a)
    if a.dtype.kind != "f" or a.dtype.itemsize < 4:
        raise RuntimeError(f"{name}() input tensor must be either float or double dtype")
    if a.size == 0:
        raise RuntimeError(f"{name}() input tensor must be non-empty")
    if interpolation not in _QUANTILE_MODES:
        raise RuntimeError(f"{name}() interpolation must be one of linear, lower, higher, midpoint or nearest, "
                           f"but got {interpolation}")
    if isinstance(q, Tensor):
        if q._data.dtype != a.dtype:
            raise RuntimeError(f"{name}() q tensor must be same dtype as the input tensor")
        if q._data.ndim > 1:
            raise RuntimeError(f"{name}() q must be a scalar or 1D tensor")
        qs = xp.asarray(q._data, dtype=a.dtype)
        scalar_q = q._data.ndim == 0
    else:   # ranks are computed in the input's dtype, as torch does ('nearest' rounds ties to even)
        qs = xp.asarray(float(q), dtype=a.dtype)
        scalar_q = True
    if qs.size and (qs.min() < 0 or qs.max() > 1):
        bad = float(qs.min()) if qs.min() < 0 else float(qs.max())
        raise RuntimeError(f"{name}() q must be in the range [0, 1] but got {bad}" if scalar_q and not
                           isinstance(q, Tensor) else f"{name}() q values must be in the range [0, 1]")
    qs = qs.reshape(-1)
    if dim is None:
        src = input.reshape(-1)
        ax = 0
    else:
        ax = _dim(dim, a.ndim)
        src = input if a.ndim else input.reshape(1)
    srt = sort(src, ax).values                      # NaNs last
    sd = srt._data
    n = sd.shape[ax]
    if ignore_nan:
        valid = (~xp.isnan(sd)).sum(axis=ax, keepdims=True)
    else:
        valid = xp.full(xp.take(sd, [0], axis=ax).shape, n)
    has_nan = xp.isnan(sd).any(axis=ax, keepdims=True)
    # ranks: one row per q, broadcast against the reduced slice shape
    qb = qs.reshape((-1,) + (1,) * sd.ndim)
    rank = qb * (xp.maximum(valid, 1) - 1).astype(qb.dtype)
    lo = xp.floor(rank)
    hi = xp.ceil(rank)
    if interpolation == "lower":
        hi = lo
    elif interpolation == "higher":
        lo = hi
    elif interpolation == "nearest":
        lo = hi = xp.round(rank)
    lo_i, hi_i = lo.astype(np.int64), hi.astype(np.int64)
    reps = qb.shape[0]
    pieces = []
    from .elementwise import where as _where
    from .shape import gather
    for r in range(reps):
        v_lo = gather(srt, ax, _wrap(xp.ascontiguousarray(lo_i[r])))
        v_hi = gather(srt, ax, _wrap(xp.ascontiguousarray(hi_i[r])))
        if interpolation == "midpoint":
            val = v_lo + (v_hi - v_lo) * 0.5
        elif interpolation == "linear":
            w = (rank[r] - lo[r]).astype(sd.dtype)
            val = v_lo + (v_hi - v_lo) * _wrap(w)
        else:
            val = v_lo
        bad = (valid == 0) if ignore_nan else has_nan
        if bad.any():
            val = _where(_wrap(bad), _wrap(xp.asarray(np.nan, dtype=sd.dtype)), val)
        pieces.append(val)
    from .shape import stack
    out = stack(pieces, 0)                           # (nq, ... 1 at ax ...)
    if dim is None:
        out = out.reshape(-1)
        if keepdim:
            out = out.reshape((reps,) + (1,) * a.ndim)
    elif not keepdim:
        out = out.squeeze(ax + 1) if a.ndim else out.reshape(reps)
    elif not a.ndim:
        out = out.reshape(reps)
    if scalar_q:
        out = out.squeeze(0) if out.ndim else out
    if out.grad_fn is not None and type(out.grad_fn).__name__ == "SqueezeBackward1":
        out.grad_fn.__class__ = _squeeze_dims_node()   # torch squeezes a dim list here
    return out


_SQUEEZE4 = []


def _squeeze_dims_node():
    if not _SQUEEZE4:
        from .shape import SqueezeBackward1
        _SQUEEZE4.append(type("SqueezeBackward4", (SqueezeBackward1,), {"__slots__": ()}))
    return _SQUEEZE4[0]


def quantile(input, q, dim=None, keepdim=False, *, interpolation="linear"):
    """The q-th quantiles (q a number or 1-d tensor in [0, 1]) over all elements or along dim."""
    return _quantile(input, q, dim, keepdim, interpolation, False)


def nanquantile(input, q, dim=None, keepdim=False, *, interpolation="linear"):
    """quantile, ignoring NaNs (a slice of only NaNs gives NaN)."""
    return _quantile(input, q, dim, keepdim, interpolation, True)


def msort(input):
    """input sorted along its first dim (the values of sort(input, 0))."""
    return sort(input, 0).values


def histc(input, bins=100, min=0, max=0):
    """Histogram of the elements in `bins` equal-width bins over [min, max] (the data's range if equal)."""
    a = input._data
    xp = xp_of(a)
    if a.dtype.kind != "f":
        raise NotImplementedError(f"\"histogram_cpu\" not implemented for '{B.scalar_name(a.dtype)}' (histc needs a "
                                  "floating-point tensor: convert with .float())")
    if bins <= 0:
        raise RuntimeError(f"torch.histc: bins must be > 0, but got {bins} for dimension 0")
    lo, hi = float(min), float(max)
    if lo > hi:
        raise RuntimeError("torch.histc: max must be larger than min")
    if lo == hi and a.size:
        lo, hi = float(a.min()), float(a.max())
    if lo == hi:
        lo, hi = lo - 1, hi + 1
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise RuntimeError(f"torch.histc: range of [{lo}, {hi}] is not finite")
    flat = a.reshape(-1).astype(np.float64)
    flat = flat[(flat >= lo) & (flat <= hi)]
    pos = ((flat - lo) * bins / (hi - lo)).astype(np.int64)
    pos = xp.minimum(pos, bins - 1)
    res = xp.bincount(pos, minlength=bins).astype(a.dtype)
    return _wrap(res)


def cov(input, *, correction=1, fweights=None, aweights=None):
    """Covariance of the variables in input's rows (observations in columns), as torch.cov."""
    a = input._data
    if a.ndim > 2:
        raise RuntimeError(f"cov(): expected input to have two or fewer dimensions but got an input with "
                           f"{a.ndim} dimensions")
    x = input.reshape(1, -1) if a.ndim < 2 else input
    if x._data.dtype.kind != "f":
        x = x.to(B.get_default_dtype())
    n_obs = x.shape[1]
    w = None
    if fweights is not None:
        if fweights._data.ndim > 1 or fweights._data.dtype.kind not in "iu":
            raise RuntimeError("cov(): expected fweights to have one or fewer dimensions and integral dtype")
        if fweights.numel() != n_obs:
            raise RuntimeError(f"cov(): expected fweights to have the same numel as there are observations in the "
                               f"input but got {fweights.numel()} != {n_obs}")
        if fweights.numel() and bool((fweights._data < 0).any()):
            raise RuntimeError("cov(): fweights cannot be negative")
        w = fweights
    if aweights is not None:
        if aweights._data.ndim > 1 or aweights._data.dtype.kind != "f":
            raise RuntimeError("cov(): expected aweights to have one or fewer dimensions and floating point dtype")
        if aweights.numel() != n_obs:
            raise RuntimeError(f"cov(): expected aweights to have the same numel as there are observations in the "
                               f"input but got {aweights.numel()} != {n_obs}")
        if aweights.numel() and bool((aweights._data < 0).any()):
            raise RuntimeError("cov(): aweights cannot be negative")
        w = aweights if w is None else w * aweights
    if w is None:
        w_sum = n_obs
        avg = mean(x, 1)
    else:
        w_sum = sum(w)
        avg = sum(x * w, 1) / w_sum
    if correction == 0:
        norm_factor = w_sum
    elif w is None or aweights is None:
        norm_factor = w_sum - correction
    else:
        norm_factor = w_sum - correction * sum(w * aweights) / w_sum
    if isinstance(norm_factor, Tensor):
        from .elementwise import clamp
        norm_factor = clamp(norm_factor, min=0)
    else:
        norm_factor = norm_factor if norm_factor > 0 else 0
    xm = x - avg.unsqueeze(1)
    from .linalg import mm
    c = mm(xm if w is None else xm * w, xm.t())
    c = c / norm_factor
    return c.squeeze()   # as torch: a no-op squeeze for 2-d input still records SqueezeBackward0


def corrcoef(input):
    """Pearson correlation coefficients of the variables in input's rows."""
    c = cov(input)
    if c.ndim == 0:
        return c / c
    from .shape import diag
    from .elementwise import clamp, sqrt
    sd = sqrt(diag(c))
    c = c / sd.unsqueeze(1)
    c = c / sd.unsqueeze(0)
    return clamp(c, -1, 1)


def _register_more2():
    T = Tensor
    for fn in (aminmax, cummax, cummin, logcumsumexp, kthvalue, mode, nanmean, nanmedian, quantile, nanquantile,
               msort, histc, cov, corrcoef):
        setattr(T, fn.__name__, fn)


_register_more2()
__all__ += ["aminmax", "cummax", "cummin", "logcumsumexp", "kthvalue", "mode", "nanmean", "nanmedian", "quantile",
            "nanquantile", "msort", "histc", "cov", "corrcoef"]


def _torch_topk_indices(vals, k, largest, sorted):
    """The indices torch's CPU topk returns for a list: partial_sort when k * 64 <= n, else nth_element (then
    std::sort of the first k - 1 when sorted); NaN counts as the largest value."""
    n = len(vals)
    pairs = list(zip(vals, range(n)))
    if largest:
        def lt(x, y):
            return (x[0] != x[0] and y[0] == y[0]) or x[0] > y[0]
    else:
        def lt(x, y):
            return (x[0] == x[0] and y[0] != y[0]) or x[0] < y[0]
    stl = _Stl(pairs, lt)
    if k * 64 <= n:
        stl.partial_sort(0, k, n)
    else:
        stl.nth_element(0, k - 1, n)
        if sorted:
            stl.sort(0, k - 1)
    return [i for _, i in pairs[:k]]


# ---- renorm, cumprod_ ------------------------------------------------------------------------------------------
def _renorm_parts(xp, a, p, ax, maxnorm):
    """(norm over all dims but ax, keepdims; the scale factor torch's renorm applies)."""
    others = tuple(k for k in range(a.ndim) if k != ax)
    mag = xp.abs(a)
    if p == float("inf"):
        norm = mag.max(axis=others, keepdims=True) if a.size else xp.zeros_like(a)
    else:
        norm = (mag ** p).sum(axis=others, keepdims=True) ** (1.0 / p)
    factor = B.where(xp, norm > maxnorm, maxnorm / (norm + 1e-7), 1.0).astype(a.dtype, copy=False)
    return norm, factor, others


class RenormBackward0(Node):
    __slots__ = ("x", "p", "ax", "maxnorm")
    _saved_fields = ("x",)

    def apply(self, g):
        x, p = self.x, self.p
        xp = xp_of(g)
        norm, factor, others = _renorm_parts(xp, x, p, self.ax, self.maxnorm)
        # d factor / d norm where the slice was rescaled, times d norm / d x
        dfac = B.where(xp, norm > self.maxnorm, -self.maxnorm / (norm + 1e-7) ** 2, 0.0)
        gx_dot = (g * x).sum(axis=others, keepdims=True)
        mag = xp.abs(x)
        with B.errstate(xp, divide="ignore", invalid="ignore"):
            if p == float("inf"):
                hit = mag == norm
                dnorm = xp.sign(x) * hit / xp.maximum(hit.sum(axis=others, keepdims=True), 1)
            else:
                dnorm = B.where(xp, norm > 0, xp.sign(x) * mag ** (p - 1) / norm ** (p - 1), 0.0)
        return ((g * factor + dfac * gx_dot * dnorm).astype(g.dtype, copy=False),)


def renorm(input, p, dim, maxnorm):
    """input with each slice along dim whose p-norm exceeds maxnorm rescaled to norm maxnorm."""
    a = input._data
    if a.dtype.kind != "f":
        raise RuntimeError(f"renorm: expected a floating-point tensor (got {input.dtype}); convert with .float()")
    if p <= 0:
        raise RuntimeError(f"renorm: non-positive-norm not supported (got p={p})")
    if maxnorm < 0:
        raise RuntimeError(f"renorm: expected maxnorm to be >= 0 but got {maxnorm}")
    if a.ndim <= 1:
        raise RuntimeError(f"renorm: input needs at least 2 dimensions, got {a.ndim} dimensions")
    ax = _dim(dim, a.ndim)
    xp = xp_of(a)
    with B.errstate(xp, divide="ignore", invalid="ignore", over="ignore"):
        res = a * _renorm_parts(xp, a, p, ax, maxnorm)[1]
    node = None
    if state.enabled and input._requires_grad:
        node = _node(RenormBackward0, input)
        node.x, node.p, node.ax, node.maxnorm = a, p, ax, maxnorm
        node._saved_versions = ((input, input._vc[0]),)
    return _finish(res, node)


def _register_group1():
    from .elementwise import _make_inplace
    Tensor.renorm = renorm
    Tensor.renorm_ = _make_inplace(renorm, "renorm_")

    def cumprod_(self, dim, *, dtype=None):
        """In-place cumprod along dim."""
        return _make_inplace(cumprod, "cumprod_")(self, dim, dtype=dtype)
    Tensor.cumprod_ = cumprod_


_register_group1()
__all__ += ["renorm"]


# ---- trapezoid / cumulative_trapezoid, gradient, histogram / histogramdd --------------------------------------
# Built from Tensor ops with torch's formulas (aten/native/Integration.cpp, ReduceOps.cpp), so gradients come free.
def _spacing_along(x, y, ax, name):
    """x's differences shaped to broadcast against y's slices along ax."""
    dx = x.diff(dim=-1 if x.ndim == 1 else ax)
    if x.ndim == 1:
        if x.shape[0] != y.shape[ax]:
            raise RuntimeError(f"{name}: There must be one `x` value for each sample point (x has {x.shape[0]} "
                               f"values, y has {y.shape[ax]} along dim {ax})")
        dx = dx.reshape([-1] + [1] * (y.ndim - ax - 1))
    return dx


def trapezoid(y, x=None, *, dx=None, dim=-1):
    """Integral of y along dim by the trapezoidal rule, at spacing dx (default 1) or sample points x."""
    ax = _dim(dim, y.ndim)
    if x is not None and dx is not None:
        raise TypeError("trapezoid() received an invalid combination of arguments: pass x or dx, not both")
    n = y.shape[ax]
    if x is not None and isinstance(x, Tensor):
        if n == 0:
            return y.sum(ax) * 0.0
        d = _spacing_along(x, y, ax, "trapezoid")
        return (d * (y.narrow(ax, 1, n - 1) + y.narrow(ax, 0, n - 1))).sum(ax) / 2.0
    step = 1.0 if dx is None and x is None else float(x if dx is None else dx)
    if n == 0:
        return y.sum(ax) * 0.0
    return (y.sum(ax) - (y.select(ax, 0) + y.select(ax, -1)) * 0.5) * step


def trapz(y, x=None, *, dx=None, dim=-1):
    """torch.trapz: trapezoid."""
    return trapezoid(y, x, dx=dx, dim=dim)


def cumulative_trapezoid(y, x=None, *, dx=None, dim=-1):
    """Running trapezoidal integral of y along dim (one element shorter than y there)."""
    ax = _dim(dim, y.ndim)
    n = y.shape[ax]
    if n == 0:
        return y * 1.0
    pairs = y.narrow(ax, 1, n - 1) + y.narrow(ax, 0, n - 1)
    if x is not None and isinstance(x, Tensor):
        return (_spacing_along(x, y, ax, "cumulative_trapezoid") * pairs).cumsum(ax) / 2.0
    step = 1.0 if dx is None and x is None else float(x if dx is None else dx)
    return (step / 2.0 * pairs).cumsum(ax)


def gradient(input, *, spacing=1, dim=None, edge_order=1):
    """Estimates of d input / d x along each dim (second order inside, edge_order at the ends), as a tuple."""
    if edge_order not in (1, 2):
        raise RuntimeError(f"torch.gradient only supports edge_order=1 and edge_order=2 (got {edge_order})")
    dims = list(range(input.ndim)) if dim is None else [dim] if isinstance(dim, int) else list(dim)
    dims = [_dim(d, input.ndim) for d in dims]
    if isinstance(spacing, (list, tuple)):
        spacing = list(spacing)
        if len(spacing) != len(dims):
            raise RuntimeError(f"torch.gradient expected spacing to be unspecified, a scalar or it's spacing and dim "
                               f"arguments to have the same length, but got a spacing argument of length "
                               f"{len(spacing)} and a dim argument of length {len(dims)}.")
    else:
        spacing = [spacing] * len(dims)
    for d in dims:
        if input.shape[d] < edge_order + 1:
            raise RuntimeError("torch.gradient expected each dimension size to be at least edge_order+1")
    out = []
    for ax, h in zip(dims, spacing):
        def sl(start, stop=None, ax=ax):
            n = input.shape[ax]
            start = start + n if start < 0 else start
            stop = n if stop is None else stop + n if stop < 0 else stop
            return input.narrow(ax, start, stop - start)
        if isinstance(h, Tensor) and h.ndim == 1:
            shape = [-1] + [1] * (input.ndim - ax - 1)
            d = h.diff()
            d1, d2 = d[:-1].reshape(shape), d[1:].reshape(shape)
            a, b, c = -d2 / (d1 * (d1 + d2)), (d2 - d1) / (d1 * d2), d1 / (d2 * (d1 + d2))
            center = a * sl(0, -2) + b * sl(1, -1) + c * sl(2)
            if edge_order == 1:
                first, last = (sl(1, 2) - sl(0, 1)) / d[0], (sl(-1) - sl(-2, -1)) / d[-1]
            else:
                a = -(2.0 * d[0] + d[1]) / (d[0] * (d[0] + d[1]))
                b = (d[0] + d[1]) / (d[0] * d[1])
                c = -d[0] / (d[1] * (d[0] + d[1]))
                first = a * sl(0, 1) + b * sl(1, 2) + c * sl(2, 3)
                a = d[-1] / (d[-2] * (d[-1] + d[-2]))
                b = -(d[-1] + d[-2]) / (d[-1] * d[-2])
                c = (2 * d[-1] + d[-2]) / (d[-1] * (d[-1] + d[-2]))
                last = a * sl(-3, -2) + b * sl(-2, -1) + c * sl(-1)
        else:
            h = h.item() if isinstance(h, Tensor) else h
            center = (sl(2) - sl(0, -2)) / h / 2
            if edge_order == 1:
                first, last = (sl(1, 2) - sl(0, 1)) / h, (sl(-1) - sl(-2, -1)) / h
            else:
                first = (-1.5 * sl(0, 1) + 2 * sl(1, 2) - 0.5 * sl(2, 3)) / h
                last = (0.5 * sl(-3, -2) - 2 * sl(-2, -1) + 1.5 * sl(-1)) / h
        from .shape import cat
        out.append(cat([first, center, last], ax))
    return tuple(out)


return_types.histogram = _pair_type("histogram", "hist", "bin_edges")
return_types.histogramdd = _pair_type("histogramdd", "hist", "bin_edges")


def _histogram_edges(xp, col, bins, rng, dtype):
    """torch's bin edges for one dimension: linspace over range (the data's min / max when None)."""
    from .creation import linspace
    if isinstance(bins, Tensor):
        return bins._data.astype(dtype, copy=False)
    if rng is not None:
        lo, hi = float(rng[0]), float(rng[1])
    elif col.size:
        lo, hi = float(col.min()), float(col.max())
    else:
        lo, hi = 0.0, 0.0
    if lo > hi:
        raise RuntimeError(f"histogramdd(): min should not exceed max, but got min {lo} max {hi}")
    if lo == hi:
        lo, hi = lo - 0.5, hi + 0.5
    edges = linspace(lo, hi, int(bins) + 1, dtype=B.FROM_NUMPY[np.dtype(dtype)])._data
    return xp.asarray(edges)


def _histogramdd(name, input, bins, rng, weight, density, dims):
    a = input._data
    if a.dtype.kind != "f":
        raise RuntimeError(f"torch.{name}: input tensor and bins tensors should have the same dtype, but got input "
                           f"{input.dtype} (use a floating-point input)")
    xp = xp_of(a)
    pts = a.reshape(-1, dims)
    bins = list(bins) if isinstance(bins, (list, tuple)) else [bins] * dims
    rngs = [None] * dims if rng is None else [(rng[2 * k], rng[2 * k + 1]) for k in range(dims)]
    edges = [_histogram_edges(xp, pts[:, k], bins[k], rngs[k], a.dtype) for k in range(dims)]
    counts = [e.size - 1 for e in edges]
    keep = xp.ones(pts.shape[0], dtype=bool)
    flat = xp.zeros(pts.shape[0], dtype=np.int64)
    for k, e in enumerate(edges):
        col = pts[:, k]
        keep &= (col >= e[0]) & (col <= e[-1])
        pos = xp.clip(xp.searchsorted(e, col, side="right") - 1, 0, counts[k] - 1)   # the last edge closes
        flat = flat * counts[k] + pos
    w = None if weight is None else weight._data.reshape(-1)[keep].astype(a.dtype)
    size = 1
    for c in counts:
        size *= c
    hist = xp.bincount(flat[keep], weights=w, minlength=size).astype(a.dtype).reshape(counts)
    if density:
        total = hist.sum()
        widths = 1
        for k, e in enumerate(edges):
            shape = [1] * dims
            shape[k] = -1
            widths = widths * xp.diff(e).reshape(shape)
        hist = (hist / (total * widths)).astype(a.dtype)
    return hist, edges


def histogram(input, bins=100, *, range=None, weight=None, density=False, out=None):
    """Counts of input's elements in bins (a number of equal bins over range, or the edges), and the edges."""
    hist, edges = _histogramdd("histogram", input.reshape(-1, 1), [bins], range, weight, density, 1)
    return return_types.histogram(_wrap(hist), _wrap(edges[0]))


def histogramdd(input, bins=10, *, range=None, weight=None, density=False):
    """The multi-dimensional histogram of input's rows (points in its last dim), and each dim's edges."""
    dims = input.shape[-1]
    hist, edges = _histogramdd("histogramdd", input, bins, range, weight, density, dims)
    return return_types.histogramdd(_wrap(hist), tuple(_wrap(e) for e in edges))


Tensor.histogram = histogram
__all__ += ["trapezoid", "trapz", "cumulative_trapezoid", "gradient", "histogram", "histogramdd"]
