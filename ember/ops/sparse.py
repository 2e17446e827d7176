"""Sparse COO tensors (torch.sparse_coo): indices and values, never a dense array in disguise.

A sparse tensor is a ``SparseTensor``, a Tensor subclass whose ``_coo`` holds a ``COO``: int64 indices
(sparse_dim x nnz), values (nnz x the dense dims), the size, and whether it is coalesced (indices sorted and
unique).  Dense tensors pay nothing for it:

- ``SparseTensor._data`` raises ``SparseOperand`` (a NotImplementedError), so a dense kernel handed a sparse
  tensor stops at its first read of it.  The public functions' wrapper (_argcheck.tensor_args) catches that
  and calls ``dispatch``: the sparse kernel torch has for the function, or torch's NotImplementedError.
- Operators reach the sparse kernels by Python's own rule: a subclass's reflected operator runs first
  (``dense + sparse`` calls SparseTensor.__radd__).
- The Tensor methods without a sparse kernel are replaced on SparseTensor by torch's NotImplementedError.

Autograd: the gradient of a sparse tensor reaches its node as a dense array or as a COO (the sum of its
entries), whichever the consumer made (torch.mm's gradient of a sparse operand is dense, torch.sparse.mm's
sparse); the two add (COO + ndarray is an ndarray).  A node hands a dense input a dense gradient.  Pointwise
ops run the dense op on the values and reuse its node (``_ValuesNode``).
"""
import operator
import types

import numpy as np

from .. import _backend as B
from .._argcheck import SparseOperand
from .._tensor import Size, Tensor, _dim, _grad_slot, _host, _raw_grad, _wrap
from ..autograd import graph
from ..autograd.grad_mode import (inference_threads as _inference_threads, new_version as _new_version, no_grad,
                                  state)
from ..autograd.graph import Node, edge
from .convert import CloneBackward0, _move, parse_to

__all__ = ["sparse_coo_tensor", "spmm", "SparseTensor"]

_new = object.__new__
_NO_EDGE = (None, 0)
_INT64 = np.dtype(np.int64)


# ---- the raw form: COO ----------------------------------------------------------------------------------
class COO:
    """A sparse array: the raw form of a sparse tensor and of a sparse gradient, as an ndarray is of a dense
    one.  As a gradient it means the sum of its entries (duplicates add)."""

    __slots__ = ("indices", "values", "shape", "coalesced", "_cache")
    __array_ufunc__ = None   # ndarray + COO: NumPy defers to COO.__radd__ (a dense sum)

    def __init__(self, indices, values, shape, coalesced=False):
        self.indices = indices
        self.values = values
        self.shape = tuple(shape)
        self.coalesced = coalesced
        self._cache = None   # what depends on the indices only (_plan, _coalesce_order)

    @property
    def dtype(self):
        return self.values.dtype

    @property
    def ndim(self):
        return len(self.shape)

    @property
    def nnz(self):
        return self.indices.shape[1]

    @property
    def sparse_dim(self):
        return self.indices.shape[0]

    def astype(self, dtype):
        """The same entries with values of dtype."""
        return COO(self.indices, self.values.astype(dtype), self.shape, self.coalesced)

    def copy(self):
        """A COO with its own indices and values."""
        return COO(self.indices.copy(), self.values.copy(), self.shape, self.coalesced)

    def __add__(self, other):
        if type(other) is COO:
            # (the engine sums a node's gradients as buffered + arriving; torch's InputBuffer as arriving +
            # buffered, which orders the entries of a concatenation)
            return _add_coo(other, self)
        return _add_dense(other, self)

    __radd__ = __add__

    def __mul__(self, k):
        return COO(self.indices, self.values * k, self.shape, self.coalesced)

    __rmul__ = __mul__

    def __truediv__(self, k):
        return COO(self.indices, self.values / k, self.shape, self.coalesced)

    def __neg__(self):
        return COO(self.indices, -self.values, self.shape, self.coalesced)

    def _as_tensor(self):
        """This COO as a sparse tensor (how the engine shows a sparse gradient to hooks and autograd.grad)."""
        return _sparse(self)


def _xp(c):
    return B.xp_of(c.values)


def _numel(shape):
    n = 1
    for s in shape:
        n *= s
    return n


def _promote(a, b):
    """torch's result dtype (NumPy's) of two NumPy dtypes."""
    if a == b:
        return a
    return B.promote_types(B.FROM_NUMPY[a], B.FROM_NUMPY[b]).np


def _linear(indices, sizes):
    """The row-major positions of the coordinates `indices` in a block of sizes (one per index row)."""
    xp = B.xp_of(indices)
    if not len(sizes):
        return xp.zeros(indices.shape[1], dtype=np.int64)
    lin = indices[0]
    for d in range(1, len(sizes)):
        lin = lin * sizes[d] + indices[d]
    return lin


def _segment_sum(values, starts):
    """The sums of values' rows over the runs beginning at starts (ascending, the first 0)."""
    xp = B.xp_of(values)
    reduceat = getattr(xp.add, "reduceat", None)
    if reduceat is not None:
        return reduceat(values, starts, axis=0)
    run = xp.zeros(values.shape[0], dtype=np.int64)   # (array modules without reduceat: a scatter-add)
    run[starts[1:]] = 1
    out = xp.zeros((starts.shape[0],) + values.shape[1:], dtype=values.dtype)
    xp.add.at(out, xp.cumsum(run), values)
    return out


def _run_starts(keys):
    """Where the runs of equal values in sorted keys begin."""
    xp = B.xp_of(keys)
    first = xp.ones(keys.shape[0], dtype=bool)
    if keys.shape[0] > 1:
        xp.not_equal(keys[1:], keys[:-1], out=first[1:])
    return xp.flatnonzero(first)


def coalesce_raw(c):
    """c with its indices sorted and unique (the values of duplicates summed): c itself when it is."""
    if c.coalesced:
        return c
    if c.nnz <= 1:
        return COO(c.indices, c.values, c.shape, True)
    xp = _xp(c)
    lin = _linear(c.indices, c.shape[:c.sparse_dim])
    order = xp.argsort(lin, kind="stable")
    starts = _run_starts(lin[order])
    values = c.values[order]
    if starts.shape[0] < values.shape[0]:
        values = _segment_sum(values, starts)
    return COO(c.indices[:, order[starts]], values, c.shape, True)


def _cached(c, key, make):
    cache = c._cache
    if cache is None:
        cache = c._cache = {}
    value = cache.get(key)
    if value is None:
        value = cache[key] = make()
    return value


def _coalesce_order(c):
    """The storage positions of c's first entry of each coordinate, in coordinate order (cached on c)."""
    def make():
        xp = _xp(c)
        lin = _linear(c.indices, c.shape[:c.sparse_dim])
        order = xp.argsort(lin, kind="stable")
        return order[_run_starts(lin[order])]
    return _cached(c, "order", make)


def _entries_grad(c, grads):
    """The gradient of a sparse tensor whose stored entries (c's) have the gradients `grads`: on the coalesced
    coordinates, as torch's sparse_mask gives it (the duplicates of an uncoalesced tensor add up to one
    element, whose gradient each of them has; a COO gradient means the sum of its entries)."""
    if c.coalesced:
        return COO(c.indices, grads, c.shape, True)
    first = _coalesce_order(c)
    return COO(c.indices[:, first], grads[first], c.shape, True)


def dense_of(c):
    """c as a dense array (a dense gradient as it is)."""
    if type(c) is not COO:
        return c
    out = _xp(c).zeros(c.shape, dtype=c.dtype)
    _scatter_add(out, c)
    return out


def _scatter_add(out, c, alpha=1):
    """out[c's coordinates] += alpha * c's values, in place."""
    if not c.nnz:
        return
    vals = c.values if alpha == 1 else c.values * alpha
    if vals.dtype != out.dtype:
        vals = vals.astype(out.dtype)
    if not c.sparse_dim:   # (no sparse dims: every entry is the whole tensor)
        out += vals.sum(axis=0)
        return
    idx = tuple(c.indices)
    if c.coalesced:
        out[idx] += vals
    else:
        B.xp_of(out).add.at(out, idx, vals)


def _add_dense(d, c, alpha=1):
    """The dense array d + alpha * c."""
    dt = _promote(d.dtype, c.dtype)
    out = d.astype(dt) if d.dtype != dt else d.copy()
    _scatter_add(out, c, alpha)
    return out


def _add_coo(a, b, alpha=1):
    """a + alpha * b for two COOs of one size, as torch merges them: a two-pointer merge of the entries in
    storage order (equal coordinates add, the rest keep their order), which for two coalesced ones is their
    coalesced sum."""
    xp = _xp(a)
    dt = _promote(a.dtype, b.dtype)
    va = a.values if a.dtype == dt else a.values.astype(dt)
    vb = b.values if b.dtype == dt else b.values.astype(dt)
    if alpha != 1:
        vb = vb * alpha
    if not (a.values.flags.c_contiguous and b.values.flags.c_contiguous):
        # torch's kernel for values it cannot axpy (a view of an expanded gradient, as embedding's sparse
        # gradient of a sum): the entries concatenated, coalesced once they outnumber the elements
        out = COO(xp.concatenate([a.indices, b.indices], axis=1), xp.concatenate([va, vb]), a.shape)
        return coalesce_raw(out) if out.nnz > _numel(a.shape) else out
    both = a.coalesced and b.coalesced
    if a.indices is b.indices:
        return COO(a.indices, va + vb, a.shape, a.coalesced)
    if not b.nnz or not a.nnz:
        c, v = (a, va) if b.nnz == 0 else (b, vb)
        return COO(c.indices, v, c.shape, c.coalesced)
    if both:
        return coalesce_raw(COO(xp.concatenate([a.indices, b.indices], axis=1), xp.concatenate([va, vb]), a.shape))
    sizes = a.shape[:a.sparse_dim]
    fa, fb = _merge(_linear(a.indices, sizes).tolist(), _linear(b.indices, sizes).tolist())
    fa, fb = xp.asarray(fa, dtype=np.int64), xp.asarray(fb, dtype=np.int64)
    in_a, in_b = fa >= 0, fb >= 0
    values = xp.zeros((fa.shape[0],) + va.shape[1:], dtype=dt)
    values[in_a] += va[fa[in_a]]
    values[in_b] += vb[fb[in_b]]
    indices = xp.where(in_a, a.indices[:, xp.maximum(fa, 0)], b.indices[:, xp.maximum(fb, 0)])
    return COO(indices, values, a.shape)


def _add_raw(old, new):
    """A .grad's raw form plus a new gradient's, as torch's AccumulateGrad (old += new: old's entries first)."""
    if type(old) is COO and type(new) is COO:
        return _add_coo(old, new)
    return old + new


def _merge(ka, kb):
    """torch's two-pointer merge of two key lists: for each output entry, its position in ka and in kb (-1:
    none)."""
    fa, fb = [], []
    i = j = 0
    na, nb = len(ka), len(kb)
    while i < na and j < nb:
        x, y = ka[i], kb[j]
        if x == y:
            fa.append(i)
            fb.append(j)
            i += 1
            j += 1
        elif x < y:
            fa.append(i)
            fb.append(-1)
            i += 1
        else:
            fa.append(-1)
            fb.append(j)
            j += 1
    fa += list(range(i, na)) + [-1] * (nb - j)
    fb += [-1] * (na - i) + list(range(j, nb))
    return fa, fb


def gather(g, c):
    """The entries of g (a dense array, or a COO of c's sparse dims) at each stored coordinate of the COO c:
    an (nnz, *dense dims) array."""
    if type(g) is not COO:
        if not c.sparse_dim:
            return B.xp_of(g).broadcast_to(g, (c.nnz,) + g.shape)
        return g[tuple(c.indices)]
    xp = _xp(g)
    g = coalesce_raw(g)
    out = xp.zeros((c.nnz,) + g.values.shape[1:], dtype=g.dtype)
    if not g.nnz or not c.nnz:
        return out
    sizes = c.shape[:c.sparse_dim]
    keys = _linear(g.indices, sizes)
    want = _linear(c.indices, sizes)
    pos = xp.minimum(xp.searchsorted(keys, want), g.nnz - 1)
    hit = xp.flatnonzero(keys[pos] == want)
    out[hit] = g.values[pos[hit]]
    return out


def _mul_raw(x, y):
    """The elementwise product of x and y (each a dense array of the full size, or a COO): a COO when either is."""
    if type(x) is COO:
        if type(y) is COO:
            return _mul_coo(x, y)
        return COO(x.indices, x.values * _at(y, x), x.shape, x.coalesced)
    if type(y) is COO:
        return COO(y.indices, _at(x, y) * y.values, y.shape, y.coalesced)
    return x * y


def _at(d, c):
    """The dense array d (broadcast to c's size) at c's stored coordinates."""
    return gather(B.xp_of(d).broadcast_to(d, c.shape), c)


def _mul_coo(a, b):
    """The elementwise product of two COOs, as torch computes it: of two coalesced ones, their common
    coordinates (coalesced); else every entry of one (a when b is coalesced, b when a is, else the one with
    fewer entries) times the other's element there, zero products kept."""
    xp = _xp(a)
    sizes = a.shape[:a.sparse_dim]
    if a.coalesced and b.coalesced:
        if not a.nnz or not b.nnz:
            return COO(a.indices[:, :0], (a.values[:0] * b.values[:0]), a.shape, True)
        ka, kb = _linear(a.indices, sizes), _linear(b.indices, sizes)
        pos = xp.minimum(xp.searchsorted(kb, ka), b.nnz - 1)
        ia = xp.flatnonzero(kb[pos] == ka)
        return COO(a.indices[:, ia], a.values[ia] * b.values[pos[ia]], a.shape, True)
    source, other = (a, b) if b.coalesced or (not a.coalesced and a.nnz < b.nnz) else (b, a)
    return COO(source.indices, source.values * gather(other, source), source.shape)


def _transpose_raw(g, d0, d1):
    """g (dense or COO) with dims d0 and d1 swapped (sparse dims of a COO)."""
    if type(g) is not COO:
        return B.xp_of(g).swapaxes(g, d0, d1)
    order = list(range(g.sparse_dim))
    order[d0], order[d1] = order[d1], order[d0]
    shape = list(g.shape)
    shape[d0], shape[d1] = shape[d1], shape[d0]
    return COO(g.indices[order], g.values, shape, g.coalesced and d0 == d1)


# ---- products ---------------------------------------------------------------------------------------------
def _plan(c, dim):
    """c's entries (a sparse matrix) grouped by their index in `dim`: (storage order or None, where the groups
    start, their keys, the other dim's indices in that order); cached on c, as a matrix is multiplied
    many times (a graph's adjacency, every layer and epoch)."""
    def make():
        xp = _xp(c)
        keys, other = c.indices[dim], c.indices[1 - dim]
        order = None
        if not (dim == 0 and c.coalesced):
            order = xp.argsort(keys, kind="stable")
            keys, other = keys[order], other[order]
        starts = _run_starts(keys)
        return order, starts, keys[starts], other
    return _cached(c, ("plan", dim), make)


def _sp_dense(c, d, dim=0):
    """c @ d for a sparse matrix c (dim 1: c.T @ d) and a dense matrix or vector d, as a dense array."""
    xp = B.xp_of(d)
    out = xp.zeros((c.shape[dim],) + d.shape[1:], dtype=_promote(c.dtype, d.dtype))
    if not c.nnz:
        return out
    order, starts, keys, other = _plan(c, dim)
    vals = c.values if order is None else c.values[order]
    contrib = d[other] * vals.reshape((-1,) + (1,) * (d.ndim - 1))
    out[keys] = _segment_sum(contrib, starts)
    return out


def _dense_sp(d, c):
    """d @ c for a dense matrix d and a sparse matrix c, as a dense array: (c.T @ d.T).T."""
    return _sp_dense(c, B.xp_of(d).ascontiguousarray(d.T), 1).T


def _sp_sp(a, b):
    """a @ b for two sparse matrices: a coalesced COO."""
    xp = _xp(a)
    shape = (a.shape[0], b.shape[1])
    order, starts, keys, cols = _plan(b, 0)
    bvals = b.values if order is None else b.values[order]
    ends = xp.concatenate([starts[1:], xp.asarray([cols.shape[0]], dtype=starts.dtype)])
    count = xp.zeros(b.shape[0], dtype=np.int64)
    first = xp.zeros(b.shape[0], dtype=np.int64)
    count[keys] = ends - starts
    first[keys] = starts
    per = count[a.indices[1]]          # for each entry of a: the entries of b's matching row
    total = int(per.sum())
    if not total:
        return COO(xp.zeros((2, 0), dtype=np.int64), xp.zeros(0, dtype=_promote(a.dtype, b.dtype)), shape, True)
    rep = xp.repeat(xp.arange(a.nnz), per)
    offset = xp.arange(total) - xp.repeat(xp.cumsum(per) - per, per)
    pos = xp.repeat(first[a.indices[1]], per) + offset
    indices = xp.stack([a.indices[0][rep], cols[pos]])
    return coalesce_raw(COO(indices, a.values[rep] * bvals[pos], shape))


def _matmul_raw(x, y):
    """x @ y for two matrices, each a dense array or a COO."""
    if type(x) is COO:
        return _sp_sp(x, y) if type(y) is COO else _sp_dense(x, y)
    if type(y) is COO:
        return _dense_sp(x, y)
    return B.xp_of(x).matmul(x, y)


# ---- the tensor -------------------------------------------------------------------------------------------
class EntriesMetadata:
    """The metadata and layout-blind methods of a tensor whose raw form (`_form`: a COO, or a compressed
    matrix) holds .shape and .values, shared by the sparse layouts' tensor classes (each names its
    AccumulateGrad class in `_accumulate_grad`)."""

    __slots__ = ()

    @property
    def shape(self):
        return Size(self._form.shape)

    def size(self, dim=None):
        """The shape as an ember.Size, or one dimension's length."""
        shape = self._form.shape
        return Size(shape) if dim is None else shape[_dim(dim, len(shape), "size")]

    def dim(self):
        """The number of dimensions."""
        return len(self._form.shape)

    ndimension = dim

    @property
    def ndim(self):
        return len(self._form.shape)

    def numel(self):
        """The number of elements of the tensor it stands for (zeros included)."""
        return _numel(self._form.shape)

    nelement = numel

    @property
    def dtype(self):
        return B.FROM_NUMPY[self._form.values.dtype]

    @property
    def device(self):
        return B.device_of(self._form.values)

    def element_size(self):
        """Bytes per element."""
        return self._form.values.itemsize

    @property
    def itemsize(self):
        return self._form.values.itemsize

    def is_floating_point(self):
        """True for floating-point values."""
        return self._form.values.dtype.kind in "fV"

    def is_complex(self):
        """True for complex values."""
        return self._form.values.dtype.kind == "c"

    def __format__(self, spec):
        return object.__format__(self, spec)

    def __array__(self, dtype=None, copy=None):
        self.numpy()   # (torch's TypeError)

    def type_as(self, other):
        """This tensor in other's dtype."""
        return self.to(other.dtype)

    def _set_requires_grad(self, requires_grad, _kinds):
        if self.grad_fn is not None:
            if requires_grad:
                return self
            raise RuntimeError(
                "you can only change requires_grad flags of leaf variables. If you want to use a computed variable "
                "in a subgraph that doesn't require differentiation use var_no_grad = var.detach().")
        if requires_grad and self._form.values.dtype.kind not in "fcV":
            raise RuntimeError(f"only Tensors of {_kinds} dtype can require gradients (got {self.dtype}); convert "
                               "first, e.g. x.float().requires_grad_()")
        self._requires_grad = bool(requires_grad)
        if requires_grad and self._accumulator is None:
            self._accumulator = _sink(self)
        return self


class SparseTensor(EntriesMetadata, Tensor):
    """A sparse COO tensor (layout torch.sparse_coo): ``_coo`` holds its indices and values."""

    __slots__ = ("_coo",)
    is_sparse = True
    layout = B.sparse_coo

    @property
    def _data(self):
        raise SparseOperand(_refusal_text(_caller_op(), self))

    _form = property(operator.attrgetter("_coo"))   # (EntriesMetadata reads it)

    def is_signed(self):
        """True for dtypes that hold negative numbers."""
        return self._coo.values.dtype.kind in "ifcV"

    def is_contiguous(self, memory_format=None):
        """False: a sparse tensor has no strided memory (as torch answers)."""
        return False

    def type(self, dtype=None, non_blocking=False):
        """Without argument, the type string ('torch.sparse.FloatTensor'); else a cast."""
        if dtype is not None:
            return Tensor.type(self, dtype, non_blocking)
        cuda = ".cuda" if self.device.type == "cuda" else ""
        return f"{B.namespace()}{cuda}.sparse.{B.TYPE_NAMES[self.dtype]}"

    def __len__(self):
        if not self._coo.shape:
            raise TypeError("len() of a 0-d tensor")
        return self._coo.shape[0]

    def __bool__(self):
        if self.numel() != 1:
            raise RuntimeError("Boolean value of Tensor with more than one value is ambiguous (a sparse tensor: "
                               "reduce it first, e.g. torch.sparse.sum(x), or use x.to_dense())")
        return bool(self.to_dense().item())

    def __repr__(self, *, tensor_contents=None):
        from .._tensor_str import _str_sparse
        return _str_sparse(self)

    def numpy(self, force=False):
        """torch's TypeError: a sparse tensor has no array to share."""
        raise TypeError("can't convert Sparse layout tensor to numpy. Use Tensor.to_dense() first.")

    def tolist(self):
        """torch's RuntimeError: a sparse tensor has no storage to list."""
        raise RuntimeError("Cannot access data pointer of Tensor that doesn't have storage (a sparse tensor: use "
                           "x.to_dense().tolist(), or x.coalesce().indices() and .values())")

    data_ptr = tolist

    @property
    def data(self):
        return _sparse(self._coo)

    def _add_retained_grad(self, grad):
        old = _raw_grad(self)
        _grad_slot.__set__(self, _finish(_raw(grad).copy() if old is None else _add_raw(_raw(old), _raw(grad)),
                                         None))

    def detach(self):
        """A sparse tensor sharing indices and values with this one, cut from the graph."""
        out = _sparse(self._coo)
        out._vc = self._vc
        return out

    def __reduce_ex__(self, proto):
        c = self._coo
        return (_rebuild_sparse_tensor, (B.sparse_coo, (_wrap(_host(c.indices)), _wrap(_host(c.values)),
                                                         Size(c.shape), c.coalesced)))

    def __deepcopy__(self, memo):
        if not self.is_leaf:
            raise RuntimeError("Only Tensors created explicitly by the user (graph leaves) support the deepcopy "
                               "protocol at the moment.")
        if id(self) in memo:
            return memo[id(self)]
        out = _sparse(self._coo.copy(), self._requires_grad)
        grad = _raw_grad(self)
        if grad is not None:
            out.grad = grad.__deepcopy__(memo)
        memo[id(self)] = out
        return out

    # ---- the COO view ----
    def is_coalesced(self):
        """True when the indices are known sorted and unique."""
        return self._coo.coalesced

    def _nnz(self):
        """The number of stored entries."""
        return self._coo.nnz

    def sparse_dim(self):
        """The number of sparse dimensions (the rows of indices)."""
        return self._coo.sparse_dim

    def dense_dim(self):
        """The number of dense dimensions (the values' dims after the first)."""
        return len(self._coo.shape) - self._coo.sparse_dim

    def _indices(self):
        """The indices as stored (duplicates and order of an uncoalesced tensor included)."""
        return _wrap(self._coo.indices)

    def _values(self):
        """The values as stored, outside the graph (torch's _values() has no grad_fn)."""
        return _wrap(self._coo.values)

    def indices(self):
        """The indices of a coalesced tensor."""
        if not self._coo.coalesced:
            raise RuntimeError("Cannot get indices on an uncoalesced tensor, please call .coalesce() first")
        return _wrap(self._coo.indices)

    def values(self):
        """The values of a coalesced tensor (differentiable)."""
        c = self._coo
        if not c.coalesced:
            raise RuntimeError("Cannot get values on an uncoalesced tensor, please call .coalesce() first")
        node = _node(ValuesBackward0, self) if _needs(self) else None
        if node is not None:
            node.entries = c
        return _finish(c.values, node)

    def coalesce(self):
        """This tensor with sorted, unique indices (duplicates summed): itself when it is so already."""
        c = self._coo
        if c.coalesced:
            return self
        return _finish(coalesce_raw(c), _node(CoalesceBackward0, self) if _needs(self) else None)

    def to_dense(self, dtype=None, *, masked_grad=None):
        """The dense tensor this one stands for."""
        if dtype is not None:
            raise RuntimeError("dtype argument is not supported by sparse_to_dense")
        node = _node(ToDenseBackward0, self) if _needs(self) else None
        if node is not None:
            node.entries = self._coo
        return _finish(dense_of(self._coo), node)

    def to_sparse(self, sparse_dim=None, *, layout=None, blocksize=None, dense_dim=None):
        """Itself (already sparse COO), or this matrix in a compressed layout."""
        if layout is B.sparse_csr or layout is B.sparse_csc:
            from .sparse_compressed import to_layout
            return to_layout(self, layout, blocksize)
        _check_layout(layout)
        if sparse_dim is not None and sparse_dim != self._coo.sparse_dim:
            raise RuntimeError("to_sparse: conversion from Sparse to Sparse with sparse_dim argument "
                               "!=self.sparse_dim() is not supported")
        return self

    def to_sparse_coo(self):
        """Itself (already sparse COO)."""
        return self

    def to_sparse_csr(self, dense_dim=None):
        """This sparse matrix in the CSR layout."""
        from .sparse_compressed import coo_to
        return coo_to(self, True)

    def to_sparse_csc(self, dense_dim=None):
        """This sparse matrix in the CSC layout."""
        from .sparse_compressed import coo_to
        return coo_to(self, False)

    # ---- conversions ----
    def to(self, *args, **kwargs):
        """This tensor in another dtype and/or on another device; itself when nothing changes."""
        device, dtype, _, copy, _ = parse_to(args, kwargs)
        c = self._coo
        if device is not None and device.type == "cuda":
            from .. import cuda
            cuda._check_usable(device)
            if device.index is None:
                device = B.device("cuda", cuda.current_device())
        move = device is not None and device != self.device
        cast = dtype is not None and dtype.np != c.dtype
        if not move and not cast:
            return self.clone() if copy else self
        indices, values = c.indices, c.values
        if move:
            indices, values = _move(indices, device), _move(values, device)
        if cast:
            values = B.cast(values, dtype)
        node = None
        if _needs(self) and values.dtype.kind in "fcV":
            node = _node(ToCopyBackward0, self)
            node.src_dtype = c.dtype
            node.src_device = self.device if move else None
        return _finish(COO(indices, values, c.shape, c.coalesced), node)

    def cpu(self, memory_format=None):
        """This tensor on the CPU (itself if there already)."""
        return self.to("cpu")

    def cuda(self, device=None, non_blocking=False, memory_format=None):
        """This tensor on a CUDA device."""
        return self.to(f"cuda:{device}" if isinstance(device, int) else device or "cuda")

    def item(self):
        """The value of a one-element tensor as a Python number."""
        if self.numel() != 1:
            raise RuntimeError(f"a Tensor with {self.numel()} elements cannot be converted to Scalar; item() needs "
                               "exactly one element")
        return self.to_dense().item()

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def reshape(self, *shape):
        """torch's RuntimeError: sparse tensors don't reshape."""
        raise RuntimeError("reshape is not implemented for sparse tensors (use x.to_dense().reshape(...))")

    def clone(self, *, memory_format=None):
        """A copy with its own indices and values."""
        return _finish(self._coo.copy(), _node(CloneBackward0, self) if _needs(self) else None)

    # ---- shape ----
    def transpose(self, dim0, dim1):
        """Sparse dims dim0 and dim1 swapped."""
        return _transpose(self, dim0, dim1, TransposeBackward0)

    swapaxes = swapdims = transpose

    def t(self):
        """The transpose of a matrix with two sparse dims (a vector: itself)."""
        c = self._coo
        if c.sparse_dim > 2 or len(c.shape) != c.sparse_dim:
            raise RuntimeError(f"t() expects a tensor with <= 2 sparse and 0 dense dimensions, but got "
                               f"{c.sparse_dim} sparse and {len(c.shape) - c.sparse_dim} dense dimensions")
        if len(c.shape) < 2:
            return self
        return _transpose(self, 0, 1, TBackward0)

    @property
    def T(self):
        if len(self._coo.shape) > 2:
            raise refusal("permute", self)
        return self.t()

    # ---- arithmetic ----
    def add(self, other, *, alpha=1):
        """self + alpha * other (other sparse: dense operands go first, as in torch)."""
        return add(self, other, alpha=alpha)

    def sub(self, other, *, alpha=1):
        """self - alpha * other."""
        return sub(self, other, alpha=alpha)

    subtract = sub

    def mul(self, other):
        """The elementwise product with a number, a dense tensor or a sparse tensor: sparse."""
        return mul(self, other)

    multiply = mul

    def div(self, other, *, rounding_mode=None):
        """Division by a number (or a 0-d dense tensor)."""
        return div(self, other, rounding_mode=rounding_mode)

    divide = true_divide = div

    def __add__(self, other):
        return add(self, other)

    def __radd__(self, other):
        if not isinstance(other, Tensor):   # (torch computes number + sparse as sparse.add(number))
            raise _sparse_dense_add_error()
        return add(other, self)

    def __sub__(self, other):
        return sub(self, other)

    def __rsub__(self, other):
        return sub(other, self)

    def __mul__(self, other):
        if not isinstance(other, (Tensor, int, float, bool, complex, np.generic)):
            return NotImplemented
        return mul(self, other)

    __rmul__ = __mul__

    def __truediv__(self, other):
        return div(self, other)

    def __matmul__(self, other):
        if not isinstance(other, Tensor):
            return NotImplemented
        return matmul(self, other)

    def __rmatmul__(self, other):
        if not isinstance(other, Tensor):
            return NotImplemented
        return matmul(other, self)

    def __pow__(self, exponent):
        return self.pow(exponent)

    def pow(self, exponent):
        """Each stored value raised to a positive number (0 would fill in the zeros: torch refuses it)."""
        if isinstance(exponent, Tensor) and (exponent.is_sparse or exponent.ndim):
            raise NotImplementedError(_refusal_text("pow.Tensor_Tensor", self))
        if exponent == 0:
            raise RuntimeError("pow: cannot raise to zeroth power on sparse tensor; it would make the result tensor "
                               "dense")
        return _values_op(self, lambda v: v.pow(exponent))

    def mm(self, mat2):
        """The matrix product with a dense or sparse matrix."""
        return mm(self, mat2)

    def matmul(self, other):
        """The matrix product (matrix or vector other)."""
        return matmul(self, other)

    def mv(self, vec):
        """The product with a dense vector."""
        return mv(self, vec)

    def sum(self, dim=None, keepdim=False, *, dtype=None):
        """The sum of all elements (dense), or over dims (sparse while sparse dims remain)."""
        return _sum(self, dim, keepdim, dtype, masked=dim is not None,
                    node_name="SumBackward0" if dim is None else "SumBackward1")

    # ---- in place (outside the graph, as torch's sparse in-place ops on leaves) ----
    def _in_place(self, name):
        if state.enabled and self._requires_grad:
            raise RuntimeError(f"{name} on a sparse tensor that requires grad: ember records no in-place sparse "
                               f"ops; use the out-of-place {name[:-1]} (or do it under torch.no_grad())")
        self._vc[0] += 1

    def zero_(self):
        """Drop every entry (nnz becomes 0)."""
        self._in_place("zero_")
        c = self._coo
        self._coo = COO(c.indices[:, :0], c.values[:0], c.shape, True)
        return self

    def mul_(self, other):
        """Multiply in place by a number, or by a tensor (the product's entries replace the stored ones)."""
        self._in_place("mul_")
        with no_grad():
            self._coo = mul(self, other)._coo
        return self

    def div_(self, other, *, rounding_mode=None):
        """Divide in place by a number."""
        self._in_place("div_")
        with no_grad():
            out = div(self, other, rounding_mode=rounding_mode)._coo
        if out.dtype != self._coo.dtype:
            raise RuntimeError(f"result type {B.FROM_NUMPY[out.dtype]} can't be cast to the desired output type "
                               f"{self.dtype} (div_ of a sparse tensor)")
        self._coo = out
        return self

    def add_(self, other, *, alpha=1):
        """self += alpha * other for a sparse other of the same size."""
        self._in_place("add_")
        with no_grad():
            out = add(self, other, alpha=alpha)._coo
        self._coo = out if out.dtype == self._coo.dtype else out.astype(self._coo.dtype)
        return self

    def sub_(self, other, *, alpha=1):
        """self -= alpha * other for a sparse other of the same size."""
        return self.add_(other, alpha=-alpha)


def _sparse(coo, requires_grad=False, grad_fn=None):
    """A SparseTensor over coo (the sparse counterpart of _tensor._wrap)."""
    t = layout_tensor(SparseTensor, requires_grad, grad_fn)
    t._coo = coo
    return t


def layout_tensor(cls, requires_grad, grad_fn):
    """A new tensor of a sparse layout's class with its autograd fields (the caller sets its raw form)."""
    t = _new(cls)
    t._requires_grad = requires_grad
    t.grad_fn = grad_fn
    t._vc = _new_version() if _inference_threads[0] else [0]
    t._accumulator = None
    t._hooks = None
    t._retains_grad = False
    t._base = None
    if requires_grad and grad_fn is None:
        t._accumulator = _sink(t)
    return t


def _finish(raw, node):
    """The tensor of a raw result (COO: sparse; array: dense), recorded as node's output when node is set."""
    if type(raw) is COO:
        return _sparse(raw, node is not None, node)
    t = _wrap(B.host_array(raw) if isinstance(raw, np.generic) else raw)   # (NumPy reductions give scalars)
    if node is not None:
        t._requires_grad = True
        t.grad_fn = node
    return t


def _needs(*ts):
    return state.enabled and any(isinstance(t, Tensor) and t._requires_grad for t in ts)


def _node(cls, *inputs):
    node = _new(cls)
    node.next_functions = tuple(edge(t) if isinstance(t, Tensor) and t._requires_grad else _NO_EDGE for t in inputs)
    node._saved_versions = ()
    return node


def _raw(t):
    """The raw form of a tensor: its COO, or its array."""
    return t._coo if type(t) is SparseTensor else t._data


def _cast(g, dtype):
    """The raw gradient g (dense or COO) in dtype (a real input takes a complex gradient's real part)."""
    if g.dtype == dtype:
        return g
    if g.dtype.kind == "c" and dtype.kind != "c":
        g = g.real if type(g) is not COO else COO(g.indices, g.values.real, g.shape, g.coalesced)
    return g.astype(dtype)


class AccumulateGrad(graph.AccumulateGrad):
    """A sparse leaf's sink: its .grad is sparse or dense, as the gradient came (torch.sparse.mm's is sparse,
    torch.mm's dense), and a second gradient adds to it."""

    __slots__ = ()

    def _take(self, grad, owned):
        var = self._leaf()
        if var is None:
            return
        hooks = var._hooks
        post = hooks[-1] if hooks and hooks[-1].__class__ is graph._PostAccumulateHooks else None
        plain = [(0, h) for h in hooks if h is not post] if hooks else ()
        if plain:
            grad = graph._run_tensor_hooks(plain, grad, False)
        grad = _cast(grad, var._coo.values.dtype)
        if type(grad) is COO:
            new = _sparse(grad.copy())
        else:
            if grad.shape != var._coo.shape:
                grad = B.xp_of(grad).broadcast_to(grad, var._coo.shape)
            new = _wrap(grad.copy())
        old = _raw_grad(var)
        if old is not None:
            new = _finish(_add_raw(_raw(old), _raw(new)), None)
        _grad_slot.__set__(var, new)
        for hook in list(post or ()):
            hook(var)


SparseTensor._accumulate_grad = AccumulateGrad


def _accumulate(var, old, grad):
    """torch's AccumulateGrad for a dense leaf var whose gradient (COO) or .grad (old) is sparse: the first sparse
    gradient becomes .grad (its values cloned unless contiguous); another sparse one adds into a sparse .grad in
    place (torch's add_: merged, or concatenated when a gradient's values are a strided view); a sparse one adds
    into a dense .grad in place; a dense one and a sparse .grad make a new dense .grad."""
    graph.sparse_grads[0] = True
    if old is None:
        if not grad.values.flags.c_contiguous:
            grad = COO(grad.indices, B.xp_of(grad.values).ascontiguousarray(grad.values), grad.shape, grad.coalesced)
        _grad_slot.__set__(var, _sparse(grad))
        return
    if type(old) is not SparseTensor:
        _scatter_add(old._data, grad)
        old._vc[0] += 1
        return
    c = old._coo
    if type(grad) is COO:
        new = _add_coo(c, grad)
        old._coo = new if new.dtype == c.dtype else new.astype(c.dtype)
        old._vc[0] += 1
        return
    if grad.shape != c.shape:
        grad = B.xp_of(grad).broadcast_to(grad, c.shape)
    _grad_slot.__set__(var, _wrap(_add_dense(grad, c).astype(c.dtype, copy=False)))


graph.sparse_accumulate[0] = _accumulate


def _sink(t):
    """The AccumulateGrad node of sparse leaf t, of its layout's class (made with the leaf: edge() would make a
    dense one)."""
    acc = _new(t._accumulate_grad)
    acc._leaf = graph._LeafRef(t)
    acc._held = t if t._hooks else None
    return acc


# ---- nodes -----------------------------------------------------------------------------------------------
class SparseCooTensorWithDimsAndTensorsBackward0(Node):
    """values -> the sparse tensor: each value's gradient is the gradient at its coordinate."""
    __slots__ = ("entries",)

    def apply(self, grad):
        return (gather(grad, self.entries),)


class _ToSparse(Node):
    __slots__ = ()

    def apply(self, grad):
        return (dense_of(grad),)


ToSparseBackward0 = type("ToSparseBackward0", (_ToSparse,), {"__slots__": ()})
ToSparseBackward1 = type("ToSparseBackward1", (_ToSparse,), {"__slots__": ()})


class ToDenseBackward0(Node):
    """The dense gradient seen at the stored coordinates (torch's sparse_mask of it)."""
    __slots__ = ("entries",)

    def apply(self, grad):
        return (_entries_grad(self.entries, gather(grad, self.entries)),)


class ValuesBackward0(Node):
    """values() of a coalesced tensor: the values' gradient on its coordinates."""
    __slots__ = ("entries",)

    def apply(self, grad):
        c = self.entries
        return (COO(c.indices, grad, c.shape, c.coalesced),)


class CoalesceBackward0(Node):
    """coalesce() changes the storage, not the tensor: the gradient passes."""
    __slots__ = ()

    def apply(self, grad):
        return (grad,)


class _Transpose(Node):
    __slots__ = ("dims",)

    def apply(self, grad):
        return (_transpose_raw(grad, *self.dims),)


TBackward0 = type("TBackward0", (_Transpose,), {"__slots__": ()})
TransposeBackward0 = type("TransposeBackward0", (_Transpose,), {"__slots__": ()})


class ToCopyBackward0(Node):
    """A dtype or device change: the gradient goes back."""
    __slots__ = ("src_dtype", "src_device")

    def apply(self, grad):
        grad = _cast(grad, self.src_dtype)
        if self.src_device is not None:
            if type(grad) is COO:
                grad = COO(_move(grad.indices, self.src_device), _move(grad.values, self.src_device), grad.shape,
                           grad.coalesced)
            else:
                grad = _move(grad, self.src_device)
        return (grad,)


class _AddSub(Node):
    __slots__ = ("alpha", "dtypes")

    def apply(self, grad):
        da, db = self.dtypes
        return _cast(grad, da), _cast(grad if self.alpha == 1 else grad * self.alpha, db)


AddBackward0 = type("AddBackward0", (_AddSub,), {"__slots__": ()})
SubBackward0 = type("SubBackward0", (_AddSub,), {"__slots__": ()})


class MulBackward0(Node):
    """An elementwise product with a sparse operand: each gradient is the other operand times the gradient;
    a dense operand's is dense (broadcast dims summed)."""
    __slots__ = ("a", "b", "shapes", "dtypes")
    _saved_fields = ("a", "b")

    def apply(self, grad):
        from . import unbroadcast
        nf = self.next_functions
        out = []
        for i, other in ((0, self.b), (1, self.a)):
            g = None
            if nf[i][0] is not None:
                g = _cast(_mul_raw(grad, other), self.dtypes[i])
                if self.shapes[i] is not None:   # a dense operand
                    g = unbroadcast(dense_of(g), self.shapes[i])
            out.append(g)
        return tuple(out)


class MmBackward0(Node):
    """A matrix product with a sparse operand (torch.mm, @): dense gradients, as torch's."""
    __slots__ = ("a", "b")
    _saved_fields = ("a", "b")

    def apply(self, grad):
        a, b = self.a, self.b
        nf = self.next_functions
        ga = gb = None
        if nf[0][0] is not None:
            if type(b) is COO:   # (grad @ b.T as (b @ grad.T).T: b's row grouping, cached on b)
                ga = _sp_dense(b, B.xp_of(grad).ascontiguousarray(grad.T)).T if type(grad) is not COO \
                    else _matmul_raw(grad, _transpose_raw(b, 0, 1))
            else:
                ga = _matmul_raw(grad, b.T)
            if type(a) is not COO:
                ga = dense_of(ga)
        if nf[1][0] is not None:
            if type(a) is COO and type(grad) is not COO:
                gb = _sp_dense(a, grad, 1)
            else:
                gb = _matmul_raw(_transpose_raw(a, 0, 1) if type(a) is COO else a.T, grad)
            if type(b) is not COO:
                gb = dense_of(gb)
        return ga, gb


class SparseAddmmBackward0(Node):
    """beta * input + alpha * (sparse @ dense) (torch.sparse.mm, torch.sparse.addmm): the sparse operand's
    gradient only on its stored coordinates."""
    __slots__ = ("a", "b", "alpha", "beta", "shape")
    _saved_fields = ("a", "b")

    def apply(self, grad):
        from . import unbroadcast
        a, b, alpha = self.a, self.b, self.alpha
        nf = self.next_functions
        gi = ga = gb = None
        if nf[0][0] is not None:
            gi = unbroadcast(grad * self.beta if self.beta != 1 else grad, self.shape)
        if nf[1][0] is not None:
            rows, cols = a.indices
            ga = _entries_grad(a, (grad[rows] * b[cols]).sum(axis=-1) * alpha)
        if nf[2][0] is not None:
            gb = _sp_dense(a, grad, 1)
            if alpha != 1:
                gb = gb * alpha
        return gi, ga, gb


class _Sum(Node):
    """A sum over all elements or over dims: masked (torch.sparse.sum, sum(dim)): each stored value gets the
    gradient of the element it went into; otherwise (sum()) every element does, densely."""
    __slots__ = ("entries", "dims", "keepdim", "masked", "dtype")

    def apply(self, grad):
        c = self.entries
        xp = _xp(c)
        if not self.masked:
            return (_cast(xp.broadcast_to(grad, c.shape), self.dtype),)
        sd = c.sparse_dim
        sparse_red = [d for d in self.dims if d < sd]
        dense_red = [d - sd + 1 for d in self.dims if d >= sd]   # as axes of the values
        if self.keepdim:
            grad = _squeeze_raw(grad, self.dims)
        kept = [d for d in range(sd) if d not in sparse_red]
        if kept:
            sub = COO(c.indices[kept], c.values, [c.shape[d] for d in kept] + list(c.shape[sd:]))
            at = gather(grad, sub)
        else:
            at = xp.broadcast_to(dense_of(grad), (c.nnz,) + grad.shape)
        for ax in dense_red:
            at = xp.expand_dims(at, ax)
        at = xp.broadcast_to(at, c.values.shape)
        return (_entries_grad(c, _cast(at, self.dtype)),)


def _squeeze_raw(g, dims):
    """g (dense or COO) without the size-1 dims `dims` (which keepdim kept)."""
    if type(g) is not COO:
        return B.xp_of(g).squeeze(g, axis=tuple(dims))
    sd = g.sparse_dim
    rows = [d for d in range(sd) if d not in dims]
    axes = tuple(d - sd + 1 for d in dims if d >= sd)
    values = B.xp_of(g.values).squeeze(g.values, axis=axes) if axes else g.values
    return COO(g.indices[rows], values, [s for d, s in enumerate(g.shape) if d not in dims], g.coalesced)


class _ValuesNode(Node):
    """A pointwise op of a sparse tensor's stored values: the dense op's node (``inner``) differentiates it, on
    the gradient at the values' coordinates; its other inputs (a 0-d tensor factor) keep their edges.  A
    linear op (``linear``: s * 2, s / 2, -s) is the same map of the whole gradient, as in torch."""
    __slots__ = ("inner", "entries", "linear", "dtype")
    _saved_fields = ("inner",)

    def apply(self, grad):
        nf = self.next_functions
        first = None
        if self.linear is not None and nf[0][0] is not None:
            first = _cast(self.linear(grad), self.dtype)
        if self.linear is not None and len(nf) == 1:
            return (first,)
        grads = self.inner.apply(gather(grad, self.entries))
        if self.linear is None and grads[0] is not None:
            first = _entries_grad(self.entries, grads[0])
        return (first,) + tuple(grads[1:])


_VALUES_NODES = {}


def _values_node(name):
    """The _ValuesNode subclass named as the dense op's node (AbsBackward0, MulBackward0, ...), as torch names it."""
    cls = _VALUES_NODES.get(name)
    if cls is None:
        cls = _VALUES_NODES[name] = type(name, (_ValuesNode,), {"__slots__": ()})
    return cls


def _values_op(s, fn, linear=None):
    """fn (a dense op, zero at zero) applied to s's values: a sparse tensor of the same coordinates (s's
    coalesced ones; a linear op, whose map of the gradient is `linear`, keeps s's storage as torch's s * 2)."""
    c = s._coo if linear is not None else coalesce_raw(s._coo)
    v = _wrap(c.values)
    v._requires_grad = s._requires_grad
    out = fn(v)
    raw = COO(c.indices, out._data, c.shape, c.coalesced)
    inner = out.grad_fn
    if inner is None or not state.enabled:
        return _sparse(raw)
    node = _new(_values_node(inner.name()))
    node.next_functions = (edge(s) if s._requires_grad else _NO_EDGE,) + tuple(inner.next_functions[1:])
    node._saved_versions = ()
    node.inner, node.entries, node.linear, node.dtype = inner, c, linear, c.dtype
    return _sparse(raw, True, node)


# ---- construction and conversion ----------------------------------------------------------------------------
_CHECK = [False]     # torch.sparse.check_sparse_tensor_invariants' global switch
_WARNED = [False]


def _requires_grad_flag(requires_grad):
    if requires_grad is not True and requires_grad is not False:
        kind = type(requires_grad)
        name = kind.__name__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__name__}"
        raise TypeError(f"sparse_coo_tensor(): argument 'requires_grad' must be bool, not {name} (pass "
                        "requires_grad=True)")


def warn_unchecked():
    """torch's warning, once, that a sparse constructor called without check_invariants doesn't check them."""
    if not _CHECK[0] and not _WARNED[0]:
        _WARNED[0] = True
        from .._userwarn import warn
        warn("Sparse invariant checks are implicitly disabled. Memory errors (e.g. SEGFAULT) will occur when "
             "operating on a sparse tensor which violates the invariants, but checks incur performance overhead. "
             "To silence this warning, explicitly opt in or out. See "
             f"`{B.namespace()}.sparse.check_sparse_tensor_invariants.__doc__` for guidance.")


def sparse_coo_tensor(indices, values, size=None, *, dtype=None, device=None, pin_memory=False,
                      requires_grad=False, check_invariants=None, is_coalesced=None):
    """A sparse COO tensor from its indices (sparse_dim x nnz) and values (nnz x dense dims); size is
    inferred from the indices when not given."""
    from .creation import as_tensor
    _requires_grad_flag(requires_grad)
    if indices is None:
        raise TypeError("sparse_coo_tensor(): argument 'indices' must be a tensor or array-like of the "
                        "coordinates (sparse_dim x nnz), not None")
    idx_t = indices if isinstance(indices, Tensor) else as_tensor(indices)
    val_t = values if isinstance(values, Tensor) else as_tensor(values)
    if idx_t.is_sparse or val_t.is_sparse:
        raise RuntimeError("sparse_coo_tensor: indices and values must be dense (strided) tensors")
    if dtype is not None and val_t.dtype is not dtype:
        val_t = val_t.to(dtype)
    if device is not None:
        val_t = val_t.to(device)
    v = val_t._data
    idx = idx_t._data
    if type(idx) is not type(v):
        idx = _move(idx, val_t.device)
    if idx.ndim != 2:
        raise RuntimeError(f"indices must be sparse_dim x nnz, but got: {list(idx.shape)}")
    if idx.dtype != _INT64:
        idx = idx.astype(np.int64)
    if v.ndim == 0:
        v = v.reshape(1)
    sparse_dim, nnz = idx.shape
    dense_dim = v.ndim - 1
    if nnz:
        low, high = idx.min(axis=1).tolist(), idx.max(axis=1).tolist()
        for d, m in enumerate(low):
            if m < 0:
                raise RuntimeError(f"found negative index {m} for dim {d}")
    if size is None:
        if v.shape[0] != nnz:
            raise RuntimeError(f"indices and values must have same nnz, but got nnz from indices: {nnz}, nnz from "
                               f"values: {v.shape[0]}")
        size = tuple(h + 1 for h in high) if nnz else (0,) * sparse_dim
        size += tuple(v.shape[1:])
    else:
        size = tuple(int(s) for s in size)
        if len(size) != sparse_dim + dense_dim:
            raise RuntimeError(f"'len(size) == sparse_dim + dense_dim' is not satisfied: len(size) = {len(size)}, "
                               f"sparse_dim = {sparse_dim}, dense_dim = {dense_dim}")
        if v.shape[0] != nnz:
            raise RuntimeError(f"indices and values must have same nnz, but got nnz from indices: {nnz}, nnz from "
                               f"values: {v.shape[0]}")
        if any(s < 0 for s in size):
            raise RuntimeError(f"sparse_coo_tensor: negative size {list(size)}: sizes must be >= 0")
        if tuple(v.shape[1:]) != size[sparse_dim:]:
            raise RuntimeError(f"values has incorrect size, expected {[nnz] + list(size[sparse_dim:])}, got "
                               f"{list(v.shape)}")
        # (torch checks the bounds only with check_invariants; an index past the size would make any later
        # op read out of bounds, so ember always checks: min and max, one pass)
        for d in range(sparse_dim if nnz else 0):
            if high[d] >= size[d]:
                raise RuntimeError(f"size is inconsistent with indices: for dim {d}, size is {size[d]} but found "
                                   f"index {high[d]}")
    check = _CHECK[0] if check_invariants is None else check_invariants
    if check_invariants is None:
        warn_unchecked()
    coo = COO(idx, v, size, bool(is_coalesced) or nnz <= 1)
    if coo.coalesced and check and nnz > 1:
        lin = _linear(idx, size[:sparse_dim])
        if not bool((lin[1:] > lin[:-1]).all()):
            raise RuntimeError("cannot set is_coalesced to true if indices correspond to uncoalesced COO tensor")
    if requires_grad:
        if v.dtype.kind not in "fcV":
            raise RuntimeError(f"Only Tensors of floating point and complex dtype can require gradients (got "
                               f"{B.FROM_NUMPY[v.dtype]}); pass float values or dtype=torch.float32")
        return _sparse(coo, True)
    node = None
    if _needs(val_t):
        node = _node(SparseCooTensorWithDimsAndTensorsBackward0, val_t)
        node.entries = coo
    return _finish(coo, node)


def _check_layout(layout):
    if layout is not None and layout is not B.sparse_coo:
        raise NotImplementedError(f"to_sparse(layout={layout}): ember implements the {B.sparse_coo}, "
                                  f"{B.sparse_csr} and {B.sparse_csc} layouts only")


def to_sparse(self, sparse_dim=None, *, layout=None, blocksize=None, dense_dim=None):
    """A dense tensor as a sparse COO tensor of its nonzero elements (the first sparse_dim dims sparse; a
    coordinate is stored when any element of its dense block is nonzero), or in a compressed layout."""
    if layout is B.sparse_csr or layout is B.sparse_csc:
        from .sparse_compressed import to_layout
        return to_layout(self, layout, blocksize)
    _check_layout(layout)
    a = self._data
    n = a.ndim
    k = n if sparse_dim is None else sparse_dim
    if not 0 <= k <= n:
        raise RuntimeError(f"dense_to_sparse: sparse_dim argument must be in [0,{n}] range, but {k} is given")
    if k == 0 and n > 0:
        raise RuntimeError("dense_to_sparse: sparse_dim argument must be in >0 when self.dim()>0")
    xp = B.xp_of(a)
    if n == 0:
        indices = xp.zeros((0, 1), dtype=np.int64)
        values = a.reshape(1).copy()
    else:
        nonzero = a != 0
        if k < n:
            nonzero = nonzero.any(axis=tuple(range(k, n)))
        indices = xp.stack(xp.nonzero(nonzero)).astype(np.int64, copy=False).reshape(k, -1)
        values = a[tuple(indices)]
    node = None
    if _needs(self):
        node = _node(ToSparseBackward1 if sparse_dim is None else ToSparseBackward0, self)
    return _finish(COO(indices, values, a.shape, True), node)


def to_sparse_coo(self):
    """to_sparse(): the sparse COO form of a dense tensor."""
    return to_sparse(self)


def sparse_mask(self, mask):
    """This dense tensor's elements at the coordinates mask (a sparse tensor) stores: sparse, mask's pattern."""
    if type(mask) is not SparseTensor:
        raise RuntimeError(f"sparse_mask: expected mask to be a sparse COO tensor, but got {mask.layout}")
    if tuple(self.shape) != mask._coo.shape:
        raise RuntimeError(f"sparse_mask(): operands have incompatible sizes; self has size {list(self.shape)} but "
                           f"mask has size {list(mask.shape)}")
    c = coalesce_raw(mask._coo)
    node = None
    if _needs(self):
        node = _node(SparseMaskBackward0, self)
    return _finish(COO(c.indices, self._data[tuple(c.indices)], c.shape, True), node)


class SparseMaskBackward0(Node):
    """The masked elements' gradients, densely (zero elsewhere)."""
    __slots__ = ()

    def apply(self, grad):
        return (dense_of(grad),)


def _rebuild_sparse_tensor(layout, data):
    """torch._utils._rebuild_sparse_tensor: a sparse COO tensor from (indices, values, size[, is_coalesced])."""
    if layout is B.sparse_csr or layout is B.sparse_csc:
        from .sparse_compressed import _rebuild
        return _rebuild(layout, data)
    if layout is not B.sparse_coo:
        raise NotImplementedError(f"rebuilding sparse tensor for layout {layout}")
    indices, values, size = data[:3]
    is_coalesced = data[3] if len(data) > 3 else None
    return sparse_coo_tensor(indices, values, size, check_invariants=False, is_coalesced=is_coalesced)


def _transpose(s, dim0, dim1, cls):
    c = s._coo
    n = len(c.shape)
    d0, d1 = _dim(dim0, n, "transpose"), _dim(dim1, n, "transpose")
    if (d0 < c.sparse_dim) != (d1 < c.sparse_dim):
        raise RuntimeError(f"transpose(): cannot transpose a sparse dim with a dense dim (dims {dim0} and {dim1} of "
                           f"a tensor with {c.sparse_dim} sparse dims)")
    if d0 >= c.sparse_dim:   # two dense dims: the values' axes
        out = COO(c.indices, B.xp_of(c.values).swapaxes(c.values, d0 - c.sparse_dim + 1, d1 - c.sparse_dim + 1),
                  [c.shape[d1] if i == d0 else c.shape[d0] if i == d1 else s_ for i, s_ in enumerate(c.shape)],
                  c.coalesced)
    else:
        out = _transpose_raw(c, d0, d1)
        out.indices = out.indices.copy()
    node = None
    if _needs(s):
        node = _node(cls, s)
        node.dims = (d0, d1)
    return _finish(out, node)


# ---- arithmetic -------------------------------------------------------------------------------------------------
def _sparse_dense_add_error():
    return RuntimeError("add(sparse, dense) is not supported. Use add(dense, sparse) instead.")


def add(input, other, _other=None, *, alpha=1, out=None, _cls=None):
    """input + alpha * other with a sparse operand: sparse + sparse is sparse, dense + sparse dense."""
    cls = _cls or AddBackward0
    if out is not None:
        raise NotImplementedError(_refusal_text("add.out", other if type(other) is SparseTensor else input))
    if type(input) is SparseTensor:
        if type(other) is not SparseTensor:
            raise _sparse_dense_add_error()
        a, b = input._coo, other._coo
        if a.shape != b.shape:
            raise RuntimeError(f"add: expected sizes of 'self' and 'other' to match, but {list(a.shape)} != "
                               f"{list(b.shape)}")
        raw = _add_coo(a, b, alpha)
    else:
        shape = tuple(input.shape) if isinstance(input, Tensor) else ()
        if shape != other._coo.shape or not isinstance(input, Tensor):
            raise RuntimeError(f"add: expected 'self' and 'other' to have same size, but self has size {list(shape)} "
                               f"while other has size {list(other.shape)} (FYI: dense-sparse addition does not "
                               "currently support broadcasting)")
        raw = _add_dense(input._data, other._coo, alpha)
    node = None
    if _needs(input, other):
        node = _node(cls, input, other)
        node.alpha = alpha
        node.dtypes = (_raw(input).dtype, other._coo.dtype)
    return _finish(raw, node)


def sub(input, other, _other=None, *, alpha=1, out=None):
    """input - alpha * other with a sparse operand."""
    if type(input) is SparseTensor and type(other) is not SparseTensor:
        raise _sparse_dense_add_error()
    if not isinstance(input, Tensor):
        raise RuntimeError(f"add: expected 'self' and 'other' to have same size, but self has size [] while other "
                           f"has size {list(other.shape)} (FYI: dense-sparse addition does not currently support "
                           "broadcasting)")
    return add(input, other, alpha=-alpha, out=out, _cls=SubBackward0)


def _scalar(x):
    """x as a multiplier of values: a Python number, or a 0-d dense tensor; None otherwise."""
    if isinstance(x, (int, float, bool, complex, np.generic)):
        return x
    if isinstance(x, Tensor) and type(x) is not SparseTensor and x.ndim == 0:
        return x
    return None


def mul(input, other, *, out=None):
    """The elementwise product with a sparse operand (either side): sparse, on the sparse operand's entries."""
    if type(input) is not SparseTensor:
        input, other = other, input
    k = _scalar(other)
    if k is not None:
        kv = k._data if isinstance(k, Tensor) else k
        return _values_op(input, lambda v: v * k, linear=lambda g: g * kv)
    if not isinstance(other, Tensor):
        raise TypeError(f"mul(): argument 'other' must be Tensor or Number, not {type(other).__name__}")
    a = input._coo
    if type(other) is SparseTensor:
        b = other._coo
        if a.shape != b.shape:
            raise RuntimeError(f"mul: expected 'self' and 'other' to have same sizes, but {list(a.shape)} != "
                               f"{list(b.shape)}")
        raw = _mul_coo(a, b)
        saved_a, saved_b, shapes = coalesce_raw(a), coalesce_raw(b), (None, None)
    else:
        d = other._data
        try:
            full = B.xp_of(d).broadcast_to(d, a.shape)
        except ValueError:
            i = next(i for i in range(1, min(len(a.shape), d.ndim) + 1)
                     if d.shape[-i] not in (1, a.shape[-i]))
            raise RuntimeError(f"The size of tensor a ({d.shape[-i]}) must match the size of tensor b ({a.shape[-i]}) "
                               f"at non-singleton dimension {len(a.shape) - i}") from None
        dt = _promote(a.dtype, d.dtype)
        raw = _mul_raw(a, full)
        if raw.dtype != dt:
            raw = raw.astype(dt)
        saved_a, saved_b, shapes = a, full, (None, d.shape)
    node = None
    if _needs(input, other):
        node = _node(MulBackward0, input, other)
        node.a, node.b, node.shapes = saved_a, saved_b, shapes
        node.dtypes = (a.dtype, _raw(other).dtype)
    return _finish(raw, node)


def div(input, other, *, rounding_mode=None, out=None):
    """A sparse tensor divided by a number (or a 0-d dense tensor)."""
    if type(input) is not SparseTensor:
        raise NotImplementedError(_refusal_text("div", other))
    k = _scalar(other)
    if k is None:
        shape = list(other.shape) if isinstance(other, Tensor) else []
        raise RuntimeError(f"Sparse division requires a scalar or zero-dim dense tensor divisor (got shape {shape} "
                           "for divisor)")
    if rounding_mode is not None:   # (not linear: coalesced first)
        return _values_op(input, lambda v: v.div(k, rounding_mode=rounding_mode))
    kv = k._data if isinstance(k, Tensor) else k
    return _values_op(input, lambda v: v / k, linear=lambda g: g / kv)


# ---- products ---------------------------------------------------------------------------------------------------
def _matrix_operand(t, op):
    """t's raw matrix for a product (a sparse one must have 2 sparse dims and no dense dims)."""
    if type(t) is SparseTensor:
        c = t._coo
        if len(c.shape) != 2 or c.sparse_dim != 2:
            raise RuntimeError(f"{op}: a sparse operand must be a matrix with 2 sparse dims (got a sparse tensor of "
                               f"size {list(c.shape)} with {c.sparse_dim} sparse dims); use .to_dense() first")
        return c
    if not isinstance(t, Tensor):
        raise TypeError(f"{op}(): argument must be Tensor, not {type(t).__name__}")
    d = t._data
    if d.ndim != 2:
        raise RuntimeError(f"{op}: matrices expected, got {d.ndim}D tensor")
    return d


def _product_checks(a, b):
    sa, sb = type(a) is COO, type(b) is COO
    if a.dtype != b.dtype:
        sparse, dense = (a, b) if sa else (b, a)
        raise RuntimeError(f"expected scalar type {B.scalar_name(sparse.dtype)} but found "
                           f"{B.scalar_name(dense.dtype)}")
    if a.shape[1] != b.shape[0]:
        if sa and sb:
            raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({a.shape[0]}x{a.shape[1]} and "
                               f"{b.shape[0]}x{b.shape[1]})")
        expected, got = (a.shape[1], b.shape[0]) if sa else (b.shape[0], a.shape[1])
        raise RuntimeError(f"addmm: Argument #3 (dense): Expected dim 0 size {expected}, got {got}")


def mm(input, mat2, *, out=None):
    """The matrix product with a sparse operand: dense, unless both are sparse; dense gradients (torch.mm)."""
    if out is not None:
        raise NotImplementedError(_refusal_text("mm.out", input if type(input) is SparseTensor else mat2))
    a, b = _matrix_operand(input, "mm"), _matrix_operand(mat2, "mm")
    _product_checks(a, b)
    node = None
    if _needs(input, mat2):
        node = _node(MmBackward0, input, mat2)
        node.a, node.b = a, b
    return _finish(_matmul_raw(a, b), node)


def spmm(input, mat2):
    """torch.spmm: the product of a sparse (or dense) matrix and a dense (or sparse) one."""
    if type(input) is not SparseTensor and type(mat2) is not SparseTensor:
        from .linalg import mm as dense_mm
        return dense_mm(input, mat2)
    return mm(input, mat2)


def sparse_mm(mat1, mat2):
    """torch.sparse.mm: sparse @ dense with the sparse operand's gradient on its pattern (sparse)."""
    if type(mat1) is not SparseTensor or type(mat2) is SparseTensor:
        return spmm(mat1, mat2)
    return addmm(None, mat1, mat2)


def addmm(input, mat1, mat2, *, beta=1, alpha=1, out=None):
    """beta * input + alpha * (mat1 @ mat2) for a sparse mat1 and dense mat2 (input None: no term)."""
    if out is not None or type(mat1) is not SparseTensor or type(mat2) is SparseTensor:
        raise NotImplementedError(_refusal_text("addmm", next(t for t in (input, mat1, mat2)
                                                                if type(t) is SparseTensor)))
    a, b = _matrix_operand(mat1, "addmm"), _matrix_operand(mat2, "addmm")
    _product_checks(a, b)
    res = _sp_dense(a, b)
    if alpha != 1:
        res = res * alpha
    if input is not None:
        i = input._data
        try:
            base = B.xp_of(i).broadcast_to(i, res.shape)
        except ValueError:
            raise RuntimeError(f"addmm: the input of size {list(i.shape)} can't be broadcast to the product's size "
                               f"{list(res.shape)}") from None
        res = res + (base * beta if beta != 1 else base)
    node = None
    if _needs(input, mat1, mat2):
        node = _node(SparseAddmmBackward0, input, mat1, mat2)
        node.a, node.b, node.alpha, node.beta = a, b, alpha, beta
        node.shape = None if input is None else tuple(input.shape)
    return _finish(res, node)


def mv(input, vec):
    """A sparse matrix times a dense vector."""
    if vec.ndim != 1 or type(vec) is SparseTensor:
        raise RuntimeError("mv: expected a dense 1-D vector")
    if input._coo.shape[-1] != vec.shape[0]:
        raise RuntimeError("mv: expected self.size(-1) == vec.size(-1)")
    return mm(input, vec.unsqueeze(1)).squeeze(1)


def matmul(input, other, *, out=None):
    """input @ other with a sparse operand: matrices (mm) and matrix @ vector."""
    if out is not None:
        raise NotImplementedError(_refusal_text("matmul.out", input if type(input) is SparseTensor else other))
    if type(input) is SparseTensor and type(other) is not SparseTensor and other.ndim == 1:
        return mv(input, other)
    if type(other) is SparseTensor and type(input) is not SparseTensor and input.ndim == 1:
        if input.shape[0] != other._coo.shape[0]:
            raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied (1x{input.shape[0]} and "
                               f"{other._coo.shape[0]}x{other._coo.shape[-1]})")
        return mm(input.unsqueeze(0), other).squeeze(0)
    for t in (input, other):
        if type(t) is SparseTensor and t.ndim != 2:
            raise RuntimeError("reshape is not implemented for sparse tensors (matmul takes sparse matrices only)")
    return mm(input, other)


# ---- reductions ---------------------------------------------------------------------------------------------------
def _dims(dim, n):
    dims = (dim,) if isinstance(dim, int) else tuple(dim)
    out = sorted({_dim(d, n, "sum") for d in dims})
    if len(out) != len(dims):
        raise RuntimeError(f"dim {dims} appears multiple times in the list of dims")
    return out


def _sum(s, dim, keepdim, dtype, masked, node_name):
    """The sum of a sparse tensor: of all its elements (dense 0-d), or over dims (sparse while sparse dims
    remain, else dense)."""
    c = s._coo
    xp = _xp(c)
    values = c.values
    if dtype is not None:
        values = values.astype(B.as_dtype(dtype).np)
    elif values.dtype.kind in "biu":   # (torch sums integers and bools in int64)
        values = values.astype(np.int64)
    n = len(c.shape)
    dims = list(range(n)) if dim is None else _dims(dim, n)
    sd = c.sparse_dim
    sparse_red = [d for d in dims if d < sd]
    dense_red = tuple(d - sd + 1 for d in dims if d >= sd)
    if dense_red:
        values = values.sum(axis=dense_red, keepdims=keepdim)
    kept = [d for d in range(sd) if d not in sparse_red]
    dense_shape = list(values.shape[1:])
    if kept and dim is not None:
        if keepdim:
            indices = c.indices.copy()
            indices[sparse_red] = 0
            shape = [1 if d in sparse_red else c.shape[d] for d in range(sd)] + dense_shape
        else:
            indices = c.indices[kept]
            shape = [c.shape[d] for d in kept] + dense_shape
        raw = coalesce_raw(COO(indices, values, shape))
        if keepdim:
            raw.coalesced = False   # (as torch flags it)
    else:
        total = values.sum(axis=0)
        if keepdim:
            total = total.reshape((1,) * sd + total.shape)
        raw = total
    node = None
    if _needs(s):
        node = _new(_sum_node(node_name))
        node.next_functions = (edge(s),)
        node._saved_versions = ()
        # (a masked gradient is torch's: on the coalesced coordinates)
        node.entries = coalesce_raw(c) if masked else c
        node.dims, node.keepdim, node.masked, node.dtype = dims, keepdim, masked, c.dtype
    return _finish(raw, node)


_SUM_NODES = {}


def _sum_node(name):
    cls = _SUM_NODES.get(name)
    if cls is None:
        cls = _SUM_NODES[name] = type(name, (_Sum,), {"__slots__": ()})
    return cls


def sparse_sum(input, dim=None, dtype=None):
    """torch.sparse.sum: the sum of all elements (a dense 0-d tensor) or over dims; the gradient only on the
    stored entries (sparse)."""
    if type(input) is not SparseTensor:
        raise RuntimeError("coalesce expected sparse coordinate tensor layout but got Strided (torch.sparse.sum "
                           "takes a sparse tensor: call .to_sparse() first, or use torch.sum)")
    return _sum(input, dim, False, dtype, masked=True, node_name="SumBackward0" if dim is None else
                "SparseSumBackward0")


# ---- refusals and dispatch -----------------------------------------------------------------------------------
def _backend_name(t):
    try:
        return "SparseCUDA" if t.device.type == "cuda" else "SparseCPU"
    except Exception:   # (not a tensor: no device to name)
        return "SparseCPU"


def _refusal_text(op, t):
    return (f"Could not run 'aten::{op}' with arguments from the '{_backend_name(t)}' backend: there is no sparse "
            f"kernel for {op} (torch has none either for most ops), so a sparse tensor can't take it. Convert it "
            f"with .to_dense() first, e.g. x.to_dense().{op.partition('.')[0].strip('_') or op}(...)")


def refusal(op, t):
    """torch's NotImplementedError for op on the sparse tensor t."""
    return NotImplementedError(_refusal_text(op, t))


def _caller_op():
    """The ember function whose dense kernel read a sparse tensor's _data (its first public-looking frame; a
    generated method by the op name it closes over, as elementwise._op_name finds it)."""
    import sys
    frame = sys._getframe(2)
    while frame is not None and frame.f_globals.get("__name__", "").startswith("ember"):
        name = frame.f_code.co_name
        if name in ("op", "method") and isinstance(frame.f_locals.get("name"), str):
            op = frame.f_locals["name"]
            return op + "_" if name == "method" and not op.endswith("_") else op
        if not name.startswith("_") and name not in ("method", "m", "fn", "op", "wrapper", "inner", "checked"):
            return name
        frame = frame.f_back
    return "this op"


# the public functions that take a sparse tensor in a position other than the first, or other than as `self`
_FUNCTIONS = {"add": add, "sub": sub, "subtract": sub, "mul": mul, "multiply": mul, "div": div, "divide": div,
              "true_divide": div, "mm": mm, "spmm": spmm, "matmul": matmul, "mv": mv, "addmm": addmm}


def _compressed_in(args, kwargs):
    """Whether a sparse compressed tensor (ops/sparse_compressed.py) is among the arguments."""
    from .sparse_compressed import CompressedTensor
    return any(type(a) is CompressedTensor for a in args) or any(type(a) is CompressedTensor for a in kwargs.values())


def dispatch_name(name, args, kwargs):
    """The sparse kernel of the public function name (add, mm, ...) for args of which one is sparse."""
    if _compressed_in(args, kwargs):
        from .sparse_compressed import dispatch as compressed
        return compressed(name, args, kwargs)
    return _FUNCTIONS[name](*args, **kwargs)


def dispatch(fn, args, kwargs):
    """fn (a public dense op) was called with a sparse tensor: its sparse kernel (the function's, or the sparse
    tensor's method of that name), or torch's NotImplementedError naming it."""
    name = fn.__name__
    if _compressed_in(args, kwargs):
        from .sparse_compressed import dispatch as compressed
        return compressed(name, args, kwargs)
    impl = _FUNCTIONS.get(name)
    if impl is not None:
        return impl(*args, **kwargs)
    first = args[0] if args else kwargs.pop("input", None)
    rest = args[1:] if args else ()
    if type(first) is SparseTensor and name in _SUPPORTED:
        return getattr(first, name)(*rest, **kwargs)
    sparse = next((a for a in list(args) + list(kwargs.values()) if type(a) is SparseTensor), None)
    raise refusal(name, sparse)


# pointwise ops torch runs on a sparse tensor's values (each maps 0 to 0), coalescing it first
_UNARY = ("neg", "negative", "abs", "absolute", "relu", "sqrt", "sin", "tan", "tanh", "sinh", "asin", "arcsin",
          "atan", "arctan", "asinh", "arcsinh", "atanh", "arctanh", "square", "sign", "sgn", "floor", "ceil",
          "trunc", "fix", "round", "frac", "expm1", "log1p", "erf", "deg2rad", "rad2deg", "nan_to_num",
          "isnan", "isinf", "signbit")


def _unary(name):
    linear = (lambda g: -g) if name in ("neg", "negative") else None

    def method(self, *args, **kwargs):
        return _values_op(self, lambda v: getattr(v, name)(*args, **kwargs), linear)
    method.__name__ = name
    method.__doc__ = f"{name} of the stored values (a sparse tensor of the same coordinates)."
    return method


for _name in _UNARY:
    setattr(SparseTensor, _name, _unary(_name))


def _caster(dt):
    def method(self, memory_format=None):
        return self.to(dt)
    method.__name__ = dt.name
    method.__doc__ = f"This tensor with {dt.name} values."
    return method


for _dt in (B.float32, B.float64, B.float16, B.bfloat16, B.int64, B.int32, B.int16, B.int8, B.uint8, B.bool_,
            B.complex64, B.complex128):
    _name = {"float32": "float", "float64": "double", "float16": "half", "int64": "long", "int32": "int",
             "int16": "short", "int8": "char", "uint8": "byte", "complex64": "cfloat", "complex128": "cdouble"
             }.get(_dt.name, _dt.name)
    setattr(SparseTensor, _name, _caster(_dt))
SparseTensor.__neg__ = SparseTensor.neg
SparseTensor.__abs__ = SparseTensor.abs

# the Tensor attributes a sparse tensor inherits as they are (autograd metadata, hooks, grad-mode flags)
_INHERITED = {"__init__", "__new__", "__getattr__", "__hash__", "__doc__", "__module__", "__slots__", "__dict__",
              "__weakref__", "__array_priority__", "__array_wrap__", "backward", "register_hook",
              "register_post_accumulate_grad_hook", "requires_grad_", "detach_", "_is_view", "_bump",
              "is_leaf", "output_nr", "_version", "grad", "retains_grad", "requires_grad", "is_inference",
              "get_device", "is_cuda", "is_cpu", "_init", "_host_only", "_scalar", "is_meta", "is_sparse_csr",
              "is_quantized", "is_nested", "is_mkldnn", "is_xpu", "is_mps", "is_ipu", "is_vulkan", "is_maia",
              "is_mtia", "retain_grad", "grad_fn", "_accumulator", "_base", "_creation_meta", "_hooks",
              "_requires_grad", "_retains_grad", "_vc", "_view_vc", "is_same_size"}
# torch's aten names for the operators and special methods it refuses
_OPERATOR_OPS = {"getitem": "index", "setitem": "index_put_", "iter": "unbind", "contains": "eq", "float": "item",
                 "int": "item", "index": "item", "complex": "item", "invert": "bitwise_not", "and": "bitwise_and",
                 "or": "bitwise_or", "xor": "bitwise_xor", "floordiv": "floor_divide", "mod": "remainder",
                 "dlpack": "_to_dlpack", "dlpack_device": "_to_dlpack"}


def _refuser(op):
    def method(self, *args, **kwargs):
        raise refusal(op, self)
    method.__name__ = op
    method.__doc__ = f"torch's NotImplementedError: {op} has no sparse kernel (use .to_dense() first)."
    return method


def _refused_property(op):
    def get(self):
        raise refusal(op, self)
    return property(get, doc=f"torch's NotImplementedError: {op} has no sparse kernel.")


def install_refusals(cls, refuser, refused_property, inherited):
    """Give a sparse layout's tensor class torch's error (refuser(op) / refused_property(op)) for every Tensor
    method it has no kernel for; returns the names of the methods it has."""
    own = set(vars(cls)) | set(vars(EntriesMetadata))
    supported = {n for c in (cls, EntriesMetadata) for n, v in vars(c).items()
                 if not n.startswith("__") and callable(v)}
    for name, value in list(vars(Tensor).items()):
        if name in own or name in inherited:
            continue
        op = name
        if name.startswith("__"):
            op = name.strip("_")
            op = _OPERATOR_OPS.get(op, op)
        if isinstance(value, property):
            setattr(cls, name, refused_property(op))
        elif callable(value):
            setattr(cls, name, refuser(op))
    return supported


_SUPPORTED = install_refusals(SparseTensor, _refuser, _refused_property, _INHERITED)
