"""Reductions: sum, mean, max/min, std/var, norm, sort, cumulative ops.

Backward formulas run on raw arrays; gradients of reductions are broadcast
views (np.broadcast_to) of the incoming gradient, never written to in place.
"""
import math

import numpy as np

from .. import _backend as B
from ..autograd.grad_mode import state
from ..autograd.graph import Node, edge
from .._tensor import Tensor, _dim, _wrap
from .._userwarn import warn as _warn_user

__all__ = [
    "sum", "mean", "prod", "max", "min", "amax", "amin", "argmax", "argmin", "std", "var", "std_mean",
    "var_mean", "norm", "all", "any", "logsumexp", "cumsum", "cumprod", "sort", "argsort", "topk",
    "count_nonzero", "median", "nansum", "return_types",
]

_ndarray = np.ndarray
_generic = np.generic
xp_of = B.xp_of
_builtin_max = max
_builtin_sum = sum
_builtin_all = all
_builtin_any = any

_TYPE_WORD = {"bool": "Bool", "uint8": "Byte", "int8": "Char", "int16": "Short", "int32": "Int",
              "int64": "Long", "float16": "Half", "float32": "Float", "float64": "Double"}


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


def _finish(res, node):
    t = _wrap(res)
    if node is not None:
        t._requires_grad = True
        t.grad_fn = node
    return t


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


def _type_word(dt):
    return _TYPE_WORD.get(B.FROM_NUMPY[dt].name, str(dt))


def _float_of(a):
    return a if a.dtype.kind == "f" else a.astype(B.get_default_dtype().np)


def _zeros(shape, like):
    xp = xp_of(like)
    return xp.zeros_like(like, shape=shape)


# ---- sum / mean / prod ----------------------------------------------------------
class SumBackward0(Node):
    __slots__ = ("shape", "dtype")

    def apply(self, g):
        xp = xp_of(g)
        if g.dtype != self.dtype:
            g = g.astype(self.dtype)
        return (xp.broadcast_to(g.reshape(()) if g.ndim else g, self.shape),)


class SumBackward1(Node):
    __slots__ = ("shape", "axes", "keepdim", "dtype")

    def apply(self, g):
        if g.dtype != self.dtype:
            g = g.astype(self.dtype)
        return (_expand_grad(g, self.shape, self.axes, self.keepdim),)


def sum(input, dim=None, keepdim=False, *, dtype=None, out=None):
    """Sum of elements, over all dims or the given dim(s); ints and bools sum to int64."""
    a = input._data
    if dtype is not None:
        npdt = B.as_dtype(dtype).np
    elif a.dtype.kind in "biu":
        npdt = np.int64
    else:
        npdt = None
    if dim is None:
        axes = None
        res = a.sum(dtype=npdt, keepdims=keepdim)
    else:
        axes = _axes(dim, a.ndim)
        res = a.sum(axis=axes, dtype=npdt, keepdims=keepdim)
    if type(res) is not _ndarray:
        res = _arr(res)
    if out is not None:
        return _write_out(out, res, "sum", input)
    node = None
    if state.enabled and input._requires_grad:
        if dim is None:
            node = _node(SumBackward0, input)
        else:
            node = _node(SumBackward1, input)
            node.axes = axes
            node.keepdim = keepdim
        node.shape = a.shape
        node.dtype = a.dtype
    return _finish(res, node)


def nansum(input, dim=None, keepdim=False, *, dtype=None):
    """Sum treating NaN as zero."""
    if input._data.dtype.kind != "f":
        return sum(input, dim, keepdim, dtype=dtype)
    from .elementwise import isnan, where
    return sum(where(isnan(input), 0.0, input), dim, keepdim, dtype=dtype)


class MeanBackward0(Node):
    __slots__ = ("shape", "n", "dtype")

    def apply(self, g):
        xp = xp_of(g)
        if g.dtype != self.dtype:
            g = g.astype(self.dtype)
        g = g / self.n
        return (xp.broadcast_to(g.reshape(()) if g.ndim else g, self.shape),)


class MeanBackward1(Node):
    __slots__ = ("shape", "axes", "keepdim", "n", "dtype")

    def apply(self, g):
        if g.dtype != self.dtype:
            g = g.astype(self.dtype)
        return (_expand_grad(g / self.n, self.shape, self.axes, self.keepdim),)


def mean(input, dim=None, keepdim=False, *, dtype=None, out=None):
    """Arithmetic mean, over all dims or the given dim(s); needs a floating dtype."""
    a = input._data
    if dtype is not None:
        a = a.astype(B.as_dtype(dtype).np)
    if a.dtype.kind != "f":
        raise RuntimeError(
            "mean(): could not infer output dtype. Input dtype must be either a floating point or "
            f"complex dtype. Got: {_type_word(a.dtype)}")
    axes = None if dim is None else _axes(dim, a.ndim)
    if a.dtype.itemsize >= 4:
        # sum / n is what ndarray.mean computes, without its Python-level overhead
        n = _count(a.shape, axes)
        res = a.sum(axis=axes, keepdims=keepdim)
        if n:
            res = res / n
        else:  # torch: the mean of nothing is nan, silently
            res = res + np.nan if isinstance(res, _generic) else xp_of(res).full_like(res, np.nan)
    else:  # float16: numpy accumulates in float32
        res = a.mean(axis=axes, keepdims=keepdim)
    if type(res) is not _ndarray:
        res = _arr(res)
    if res.dtype != a.dtype:
        res = res.astype(a.dtype)
    if out is not None:
        return _write_out(out, res, "mean", input)
    node = None
    if state.enabled and input._requires_grad:
        if dim is None:
            node = _node(MeanBackward0, input)
        else:
            node = _node(MeanBackward1, input)
            node.axes = axes
            node.keepdim = keepdim
        node.shape = a.shape
        node.n = _count(a.shape, axes)
        node.dtype = a.dtype
    return _finish(res, node)


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


class ProdBackward0(Node):
    __slots__ = ("x",)
    _saved_fields = ("x",)

    def apply(self, g):
        x = self.x
        others = _exclusive_prod(x.reshape(-1), 0).reshape(x.shape)
        return ((g * others).astype(x.dtype, copy=False),)


class ProdBackward1(Node):
    __slots__ = ("x", "axis", "keepdim")
    _saved_fields = ("x",)

    def apply(self, g):
        xp = xp_of(g)
        x = self.x
        if x.ndim == 0:
            return (g.astype(x.dtype, copy=False),)
        if not self.keepdim:
            g = xp.expand_dims(g, self.axis)
        return ((g * _exclusive_prod(x, self.axis)).astype(x.dtype, copy=False),)


def prod(input, dim=None, keepdim=False, *, dtype=None):
    """Product of elements, over all dims or one dim."""
    a = input._data
    if dtype is not None:
        a = a.astype(B.as_dtype(dtype).np)
    elif a.dtype.kind in "biu":
        a = a.astype(np.int64)
    if dim is None:
        res = _arr(a.prod())
    else:
        if not isinstance(dim, int):
            raise TypeError(f"prod(): argument 'dim' must be int, not {type(dim).__name__}")
        axes = _axes(dim, a.ndim)
        res = _arr(a.prod(axis=axes, keepdims=keepdim))
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

    def apply(self, g):
        mask = self.x == self.out
        n = mask.sum()
        return ((mask * (g / n)).astype(g.dtype, copy=False),)


class MinBackward1(MaxBackward1):
    __slots__ = ()


class MaxBackward0(Node):
    """Gradient of max/min along a dim: routed to the selected index."""
    __slots__ = ("shape", "axis", "indices", "keepdim")
    _saved_fields = ("indices",)

    def apply(self, g):
        return (_route(g, self.shape, self.axis, self.indices, self.keepdim),)


class MinBackward0(MaxBackward0):
    __slots__ = ()


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
    d = _dim(dim, a.ndim)
    work = a.reshape(1) if a.ndim == 0 else a
    if work.shape[d] == 0:
        raise IndexError(
            f"{name}(): Expected reduction dim {d} to have non-zero size.")
    idx = (xp.argmax if is_max else xp.argmin)(work, axis=d, keepdims=True)
    vals = xp.take_along_axis(work, idx, axis=d)
    if a.ndim == 0:
        vals, idx = vals.reshape(()), idx.reshape(())
    elif not keepdim:
        vals, idx = vals.squeeze(d), idx.squeeze(d)
    if idx.dtype != np.int64:
        idx = idx.astype(np.int64)
    node = None
    if state.enabled and input._requires_grad:
        node = _node(cls, input)
        node.shape = a.shape
        node.axis = d
        node.keepdim = keepdim or a.ndim == 0
        node.indices = idx if node.keepdim else xp.expand_dims(idx, d)
    return getattr(return_types, name)(_finish(vals, node), _wrap(idx))


def _full_minmax(input, is_max, name):
    a = input._data
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


def max(input, dim=None, keepdim=False, *, out=None):
    """Largest element; with dim, a (values, indices) named tuple; with a tensor, elementwise maximum."""
    if dim is None:
        return _full_minmax(input, True, "max")
    if isinstance(dim, Tensor):
        from .elementwise import maximum
        return maximum(input, dim)
    return _reduce_dim_index(input, dim, keepdim, True, "max", MaxBackward0)


def min(input, dim=None, keepdim=False, *, out=None):
    """Smallest element; with dim, a (values, indices) named tuple; with a tensor, elementwise minimum."""
    if dim is None:
        return _full_minmax(input, False, "min")
    if isinstance(dim, Tensor):
        from .elementwise import minimum
        return minimum(input, dim)
    return _reduce_dim_index(input, dim, keepdim, False, "min", MinBackward0)


class AmaxBackward0(Node):
    """Gradient of amax/amin: shared evenly among ties within each reduced slice."""
    __slots__ = ("x", "out", "axes", "keepdim")
    _saved_fields = ("x", "out")

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
    a = input._data
    axes = _axes(dim, a.ndim) if dim != () else None
    name = "amax" if is_max else "amin"
    if a.size == 0 and (axes is None or _builtin_any(a.shape[d] == 0 for d in axes)):
        raise IndexError(f"{name}(): Expected reduction dim to have non-zero size.")
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
    fn = xp.argmax if is_max else xp.argmin
    if a.dtype.kind == "b":
        raise RuntimeError(f"{name}(): does not support bool input")
    if dim is None:
        if a.size == 0:
            raise RuntimeError(
                f"{name}(): Expected reduction dim to be specified for input.numel() == 0.")
        res = xp.asarray(fn(a), dtype=np.int64)
        if keepdim:
            res = res.reshape((1,) * a.ndim)
        return _wrap(res)
    d = _dim(dim, a.ndim)
    if a.ndim == 0:
        return _wrap(xp.zeros((), dtype=np.int64))
    if a.shape[d] == 0:
        raise IndexError(f"{name}(): Expected reduction dim {d} to have non-zero size.")
    res = fn(a, axis=d, keepdims=keepdim)
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
    if correction is None:
        correction = 1 if unbiased is None or unbiased else 0
    elif unbiased is not None:
        raise RuntimeError(f"{name}(): can't pass both unbiased and correction; use correction only")
    return dim, correction


class VarBackward0(Node):
    __slots__ = ("diff", "axes", "keepdim", "denom")
    _saved_fields = ("diff",)

    def apply(self, g):
        xp = xp_of(g)
        if self.axes is not None and not self.keepdim:
            g = xp.expand_dims(g, self.axes)
        return ((g * (2 / self.denom) * self.diff).astype(self.diff.dtype, copy=False),)


class StdBackward0(Node):
    __slots__ = ("diff", "axes", "keepdim", "denom", "out")
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


def _var(input, dim, correction, keepdim, name, take_sqrt):
    xp = xp_of(input._data)
    a = input._data
    if a.dtype.kind != "f":
        raise RuntimeError("std and var only support floating point and complex dtypes")
    axes = _axes(dim, a.ndim)
    n = _count(a.shape, axes)
    denom = _builtin_max(n - correction, 0)
    if denom <= 0:
        _warn_user(f"{name}(): degrees of freedom is <= 0. Correction should be strictly less than "
                   "the reduction factor (input numel divided by output numel).", UserWarning)
    m = a.mean(axis=axes, keepdims=True)
    diff = a - m
    with B.errstate(xp, divide="ignore", invalid="ignore"):
        res = (diff * diff).sum(axis=axes, keepdims=keepdim) / xp.asarray(denom, dtype=a.dtype)
        if take_sqrt:
            res = xp.sqrt(res)
    res = _arr(res)
    if res.dtype != a.dtype:
        res = res.astype(a.dtype)
    node = None
    if state.enabled and input._requires_grad:
        node = _node(StdBackward0 if take_sqrt else VarBackward0, input)
        node.diff, node.axes, node.keepdim, node.denom = diff, axes, keepdim, denom
        if take_sqrt:
            node.out = res
    return _finish(res, node)


def var(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    """Variance; correction=1 (Bessel) by default, unbiased=False means correction=0."""
    dim, c = _correction(dim, unbiased, keepdim, correction, "var")
    return _var(input, dim, c, keepdim, "var", False)


def std(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    """Standard deviation; correction=1 (Bessel) by default, unbiased=False means correction=0."""
    dim, c = _correction(dim, unbiased, keepdim, correction, "std")
    return _var(input, dim, c, keepdim, "std", True)


def var_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    """(var, mean) in one call."""
    dim, c = _correction(dim, unbiased, keepdim, correction, "var_mean")
    return _var(input, dim, c, keepdim, "var", False), mean(input, dim, keepdim)


def std_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    """(std, mean) in one call."""
    dim, c = _correction(dim, unbiased, keepdim, correction, "std_mean")
    return _var(input, dim, c, keepdim, "std", True), mean(input, dim, keepdim)


# ---- norm ---------------------------------------------------------------------------
class LinalgVectorNormBackward0(Node):
    __slots__ = ("x", "out", "p", "axes", "keepdim")
    _saved_fields = ("x", "out")

    def apply(self, g):
        xp = xp_of(g)
        x, out, p = self.x, self.out, self.p
        if self.axes is not None and not self.keepdim:
            g = xp.expand_dims(g, self.axes)
            out = xp.expand_dims(out, self.axes)
        elif self.axes is None:
            g = g.reshape((1,) * x.ndim) if x.ndim else g
            out = out.reshape((1,) * x.ndim) if x.ndim else out
        with B.errstate(xp, divide="ignore", invalid="ignore"):
            if p == 2:
                res = xp.where(out == 0, 0, x * (g / out))
            elif p == 1:
                res = xp.sign(x) * g
            elif p == 0:
                res = xp.zeros_like(x)
            elif math.isinf(p):
                mask = xp.abs(x) == out
                res = xp.sign(x) * mask * (g / mask.sum(axis=self.axes, keepdims=True))
            else:
                res = xp.where(out == 0, 0, x * xp.abs(x) ** (p - 2) * g / out ** (p - 1))
        return (xp.asarray(res).astype(x.dtype, copy=False),)


def _vector_norm(a, p, axes, keepdim):
    xp = xp_of(a)
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


def norm(input, p="fro", dim=None, keepdim=False, dtype=None):
    """Vector p-norm over all elements or the given dim(s); 'fro' (default) is the 2-norm."""
    a = input._data
    if dtype is not None:
        a = a.astype(B.as_dtype(dtype).np)
    if a.dtype.kind != "f":
        raise RuntimeError(
            "linalg.vector_norm: Expected a floating point or complex tensor as input. "
            f"Got {_type_word(a.dtype)}")
    if p is None or p == "fro":
        p = 2
    elif p == "nuc":
        raise NotImplementedError("norm(p='nuc') (nuclear norm) is not supported by ember; use "
                                  "p='fro' or a numeric p")
    elif isinstance(p, str):
        raise RuntimeError(f"norm(): unsupported norm type {p!r}; use 'fro' or a number")
    axes = _axes(dim, a.ndim)
    res = _vector_norm(a, p, axes, keepdim)
    res = _arr(res)
    if res.dtype != a.dtype:
        res = res.astype(a.dtype)
    node = None
    if state.enabled and input._requires_grad:
        node = _node(LinalgVectorNormBackward0, input)
        node.x, node.out, node.p, node.axes, node.keepdim = a, res, p, axes, keepdim
        node._saved_versions = ((input, input._vc[0]),)
    return _finish(res, node)


# ---- logical reductions ----------------------------------------------------------------
def _logical(input, dim, keepdim, fn):
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
    axes = _axes(dim, a.ndim)
    return _wrap(_arr(xp.count_nonzero(a, axis=axes)).astype(np.int64, copy=False))


# ---- logsumexp / cumulative ---------------------------------------------------------------
class LogsumexpBackward0(Node):
    __slots__ = ("x", "out", "axes", "keepdim")
    _saved_fields = ("x", "out")

    def apply(self, g):
        xp = xp_of(g)
        out = self.out
        if not self.keepdim and self.axes is not None:
            g = xp.expand_dims(g, self.axes)
            out = xp.expand_dims(out, self.axes)
        return ((g * xp.exp(self.x - out)).astype(self.x.dtype, copy=False),)


def logsumexp(input, dim, keepdim=False):
    """log(sum(exp(input))) along dim(s), computed stably."""
    xp = xp_of(input._data)
    a = _float_of(input._data)
    axes = _axes(dim, a.ndim)
    if a.size == 0:
        res = xp.log(xp.exp(a).sum(axis=axes, keepdims=keepdim))
    else:
        m = a.max(axis=axes, keepdims=True)
        m = xp.where(xp.isfinite(m), m, 0).astype(a.dtype, copy=False)
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


class CumsumBackward0(Node):
    __slots__ = ("axis", "dtype")

    def apply(self, g):
        xp = xp_of(g)
        ax = self.axis
        res = xp.flip(xp.cumsum(xp.flip(g, ax), axis=ax), ax)
        return (res.astype(self.dtype, copy=False),)


def cumsum(input, dim, *, dtype=None):
    """Cumulative sum along dim; ints and bools accumulate in int64."""
    xp = xp_of(input._data)
    a = input._data
    if dtype is not None:
        a = a.astype(B.as_dtype(dtype).np)
    elif a.dtype.kind in "biu":
        a = a.astype(np.int64)
    d = _dim(dim, a.ndim)
    res = xp.cumsum(a.reshape(1) if a.ndim == 0 else a, axis=d).reshape(a.shape)
    node = None
    if state.enabled and input._requires_grad:
        node = _node(CumsumBackward0, input)
        node.axis = d if a.ndim else 0
        node.dtype = input._data.dtype
    return _finish(res, node)


class CumprodBackward0(Node):
    __slots__ = ("x", "out", "axis")
    _saved_fields = ("x", "out")

    def apply(self, g):
        xp = xp_of(g)
        x, out, ax = self.x, self.out, self.axis
        if x.ndim == 0:
            return (g.astype(x.dtype, copy=False),)
        if not (x == 0).any():
            with B.errstate(xp, divide="ignore", invalid="ignore"):
                s = xp.flip(xp.cumsum(xp.flip(g * out, ax), axis=ax), ax)
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
        a = a.astype(B.as_dtype(dtype).np)
    elif a.dtype.kind in "biu":
        a = a.astype(np.int64)
    d = _dim(dim, a.ndim)
    res = xp.cumprod(a.reshape(1) if a.ndim == 0 else a, axis=d).reshape(a.shape)
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

    def apply(self, g):
        return (_route(g, self.shape, self.axis, self.indices, True),)


class TopkBackward0(SortBackward0):
    __slots__ = ()


def _argsort(a, axis, descending, stable):
    xp = xp_of(a)
    if not descending:
        return xp.argsort(a, axis=axis, kind="stable" if stable else None)
    # descending with ties in index order: stable sort of the reversed array, reversed back
    n = a.shape[axis]
    idx = xp.flip(xp.argsort(xp.flip(a, axis), axis=axis, kind="stable"), axis)
    return (n - 1) - idx


def sort(input, dim=-1, descending=False, stable=False):
    """Sorted values and their indices along dim, as a (values, indices) named tuple."""
    xp = xp_of(input._data)
    if isinstance(dim, bool):  # sort(input, descending) legacy positional
        dim, descending = -1, dim
    a = input._data
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
    d = _dim(dim, a.ndim)
    if a.ndim == 0:
        return _wrap(xp.zeros((), dtype=np.int64))
    return _wrap(_argsort(a, d, descending, stable).astype(np.int64, copy=False))


def topk(input, k, dim=-1, largest=True, sorted=True):
    """The k largest (or smallest) elements along dim and their indices."""
    xp = xp_of(input._data)
    a = input._data
    d = _dim(dim, a.ndim)
    n = a.shape[d] if a.ndim else 1
    if not 0 <= k <= n:
        raise RuntimeError("selected index k out of range")
    work = a.reshape(1) if a.ndim == 0 else a
    idx = _argsort(work, d, largest, True)
    idx = idx.take(xp.arange(k), axis=d).astype(np.int64, copy=False)
    vals = xp.take_along_axis(work, idx, axis=d)
    if a.ndim == 0:
        vals, idx = vals.reshape(()), idx.reshape(())
    node = None
    if state.enabled and input._requires_grad:
        node = _node(TopkBackward0, input)
        node.shape, node.axis, node.indices = a.shape, d, idx
    return return_types.topk(_finish(vals, node), _wrap(idx))


class MedianBackward0(MaxBackward1):
    __slots__ = ()


class MedianBackward1(MaxBackward0):
    __slots__ = ()


def median(input, dim=None, keepdim=False):
    """Lower median of all elements; with dim, a (values, indices) named tuple."""
    xp = xp_of(input._data)
    a = input._data
    if a.dtype.kind == "b":
        raise NotImplementedError("\"median_cpu\" not implemented for 'Bool'")
    if dim is None:
        if a.size == 0:
            return _wrap(xp.asarray(np.nan, dtype=a.dtype))
        flat = a.reshape(-1)
        pos = (flat.size - 1) // 2
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
    order = xp.argsort(work, axis=d, kind="stable")
    pos = (n - 1) // 2
    idx = order.take([pos], axis=d).astype(np.int64, copy=False)
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
               logsumexp, cumsum, cumprod, sort, argsort, topk, count_nonzero, median, nansum):
        setattr(T, fn.__name__, fn)

    def cumsum_(self, dim, *, dtype=None):
        """In-place cumulative sum."""
        from .elementwise import _inplace
        return _inplace(self, cumsum(self, dim)._data, lambda s: cumsum(s, dim), ())

    T.cumsum_ = cumsum_


_register()


# ---- unique, bincount, isin, searchsorted ---------------------------------------------------------
class _NoDerivative(Node):
    """The node torch records for an op it cannot differentiate: backward through it raises."""

    __slots__ = ()
    _message = ""
    _error = NotImplementedError

    def apply(self, g):
        raise self._error(self._message)


def _no_derivative(name, message, error=NotImplementedError):
    return type(name, (_NoDerivative,), {"__slots__": (), "_message": message, "_error": error})


Unique2Backward0 = _no_derivative("Unique2Backward0", "the derivative for '_unique2' is not implemented.")
UniqueDimBackward0 = _no_derivative("UniqueDimBackward0", "the derivative for 'unique_dim' is not implemented.")
UniqueConsecutiveBackward0 = _no_derivative(
    "UniqueConsecutiveBackward0", "the derivative for 'unique_consecutive' is not implemented.")
_BincountBackward = _no_derivative("NotImplemented", "derivative for aten::bincount is not implemented",
                                   RuntimeError)


def _groups(xp, keys, order, new):
    """Values, inverse and counts from keys (rows along axis 0) taken in `order`, where new[i] says
    that key order[i] starts a group (differs from order[i - 1])."""
    n = keys.shape[0]
    starts = xp.flatnonzero(new)
    group = xp.cumsum(new) - 1
    inverse = xp.empty(n, dtype=np.int64)
    inverse[order] = group
    counts = xp.diff(xp.concatenate([starts, xp.asarray([n])])).astype(np.int64)
    return keys[order[starts]], inverse, counts


def _unique_impl(input, name, dim, consecutive, return_inverse, return_counts):
    a = input._data
    xp = xp_of(a)
    if dim is None:
        flat = a.reshape(-1)
        n = flat.size
        order = xp.arange(n) if consecutive else xp.argsort(flat, kind="stable")
        s = flat[order]
        new = xp.ones(n, dtype=bool)
        if n:
            new[1:] = s[1:] != s[:-1]   # NaN != NaN: every NaN stays its own value, as in torch
        values, inverse, counts = _groups(xp, flat, order, new)
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
            order = xp.arange(n)
        else:
            # lexsort's last key is the primary one: the first column of the rows
            order = xp.lexsort(rows.T[::-1]) if rows.shape[1] else xp.arange(n)
        s = rows[order]
        new = xp.ones(n, dtype=bool)
        if n:
            new[1:] = (s[1:] != s[:-1]).any(axis=1)
        values, inverse, counts = _groups(xp, rows, order, new)
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
    return _unique_impl(input, "unique", dim, False, return_inverse, return_counts)


def unique_consecutive(input, return_inverse=False, return_counts=False, dim=None):
    """Collapse each run of equal consecutive elements (or slices along dim) to one."""
    return _unique_impl(input, "unique_consecutive", dim, True, return_inverse, return_counts)


def bincount(input, weights=None, minlength=0):
    """Count the occurrences of each non-negative integer in a 1-d tensor (or sum their weights)."""
    a = input._data
    xp = xp_of(a)
    if a.dtype.kind not in "iu":
        raise NotImplementedError(
            f"\"bincount_{input.device.type}\" not implemented for '{_type_word(a.dtype)}' "
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


def _register_more():
    T = Tensor
    T.unique = unique
    T.unique_consecutive = unique_consecutive
    T.bincount = bincount


_register_more()
__all__ += ["unique", "unique_consecutive", "bincount", "isin", "searchsorted"]
