"""Sparse compressed tensors (torch.sparse_csr, torch.sparse_csc): a matrix's compressed indices (one offset per
row, or per column, plus one), plain indices (each entry's column, or row) and values.

A compressed tensor is a ``CompressedTensor`` whose ``_cs`` holds a ``Compressed``.  Its kernels work on the COO of
its entries (``Compressed.coo``: storage order, cached), so products, sums and pointwise ops are ops/sparse.py's, and
so are their autograd nodes: the gradient of a compressed tensor reaches its node as a dense array or as a COO in
its coordinates; its leaf's .grad is dense, or of its layout for a COO gradient (torch.sparse.mm's, to_dense's).
Only matrices: torch's batch dims and dense dims (values of more than one dim) are refused.  Dense tensors pay
nothing: as a sparse COO tensor, ``_data`` raises SparseOperand and ops/sparse.py's dispatch sends the call here.
"""
import operator

import numpy as np

from .. import _backend as B
from .._argcheck import SparseOperand
from .._tensor import Size, Tensor, _dim, _grad_slot, _host, _raw_grad, _wrap
from ..autograd import graph
from ..autograd.grad_mode import state
from ..autograd.graph import Node, edge
from . import sparse as S
from .convert import CloneBackward0, parse_to
from .sparse import COO

__all__ = ["sparse_csr_tensor", "sparse_csc_tensor", "sparse_compressed_tensor", "CompressedTensor"]

_new = object.__new__
_COMPRESSED = (B.sparse_csr, B.sparse_csc)


class Compressed:
    """The raw form of a compressed tensor: compressed and plain indices (one integer dtype), values, size,
    whether rows are compressed (CSR) or columns (CSC), and whether each slice's plain indices are sorted and
    distinct (torch's invariant, which an unchecked constructor may break)."""

    __slots__ = ("compressed", "plain", "values", "shape", "row_major", "ordered", "_coo")

    def __init__(self, compressed, plain, values, shape, row_major, ordered=True):
        self.compressed = compressed
        self.plain = plain
        self.values = values
        self.shape = tuple(shape)
        self.row_major = row_major
        self.ordered = ordered
        self._coo = None

    @property
    def layout(self):
        return B.sparse_csr if self.row_major else B.sparse_csc

    @property
    def nnz(self):
        return self.plain.shape[0]

    @property
    def coo(self):
        """The entries as a COO in storage order (coalesced for CSR), cached: the form every kernel works on."""
        c = self._coo
        if c is None:
            xp = B.xp_of(self.values)
            counts = xp.diff(self.compressed.astype(np.int64))
            outer = xp.repeat(xp.arange(counts.shape[0], dtype=np.int64), counts)
            plain = self.plain.astype(np.int64, copy=False)
            indices = xp.stack([outer, plain] if self.row_major else [plain, outer])
            c = self._coo = COO(indices, self.values, self.shape, self.row_major and self.ordered)
        return c

    def with_values(self, values):
        """The same pattern holding other values."""
        out = Compressed(self.compressed, self.plain, values, self.shape, self.row_major, self.ordered)
        if self._coo is not None:
            out._coo = COO(self._coo.indices, values, self.shape, self._coo.coalesced)
        return out


def from_coo(c, row_major, index_dtype=np.int64):
    """The compressed form (CSR when row_major, else CSC) of the COO matrix c."""
    xp = B.xp_of(c.values)
    c = S.coalesce_raw(c)
    rows, cols = c.indices
    values = c.values
    outer, inner, n = (rows, cols, c.shape[0]) if row_major else (cols, rows, c.shape[1])
    if not row_major and c.nnz:
        order = xp.argsort(cols * max(c.shape[0], 1) + rows, kind="stable")
        outer, inner, values = outer[order], inner[order], values[order]
    compressed = xp.zeros(n + 1, dtype=np.int64)
    if c.nnz:
        xp.cumsum(xp.bincount(outer, minlength=n), out=compressed[1:])
    return Compressed(compressed.astype(index_dtype, copy=False), inner.astype(index_dtype, copy=False), values,
                      c.shape, row_major)


# ---- the tensor -------------------------------------------------------------------------------------------------
def _backend_name(t):
    return "SparseCsrCUDA" if t.device.type == "cuda" else "SparseCsrCPU"


def _layout_name(cs):
    return "SparseCsr" if cs.row_major else "SparseCsc"


def refusal(op, t):
    """torch's NotImplementedError for op on the compressed tensor t, with the way out."""
    return NotImplementedError(
        f"Could not run 'aten::{op}' with arguments from the '{_backend_name(t)}' backend: there is no sparse "
        f"compressed kernel for {op}, so a {t.layout} tensor can't take it. Convert it first: x.to_dense() (or "
        "x.to_sparse_coo())")


def _unsupported_layout(cs, op):
    op = {"rsub": "sub", "truediv": "div"}.get(op, op)   # (the operators' aten names)
    return RuntimeError(f"unsupported tensor layout: {_layout_name(cs)} ({op} has no sparse compressed kernel: "
                        "call x.to_dense() first)")


class CompressedTensor(S.EntriesMetadata, Tensor):
    """A sparse compressed matrix (layout torch.sparse_csr or torch.sparse_csc): ``_cs`` holds its raw form."""

    __slots__ = ("_cs",)
    is_sparse = False

    @property
    def _data(self):
        raise SparseOperand(f"a {self.layout} tensor has no dense array (call x.to_dense() first)")

    @property
    def layout(self):
        return self._cs.layout

    @property
    def is_sparse_csr(self):
        return self._cs.row_major

    _form = property(operator.attrgetter("_cs"))   # (S.EntriesMetadata reads it)

    def is_contiguous(self, memory_format=None):
        """torch's RuntimeError: a compressed tensor has no strides."""
        raise RuntimeError("Sparse CSR tensors do not have is_contiguous")

    def type(self, dtype=None, non_blocking=False):
        """A cast; without argument torch's RuntimeError (no legacy type name for the layout)."""
        if dtype is not None:
            return Tensor.type(self, dtype, non_blocking)
        raise RuntimeError(f"Unimplemented backend {_backend_name(self)}")

    def __len__(self):
        return self._cs.shape[0]

    def __repr__(self, *, tensor_contents=None):
        from .._tensor_str import _str_compressed
        return _str_compressed(self)

    def numpy(self, force=False):
        """torch's TypeError: a compressed tensor has no array to share."""
        raise TypeError(f"can't convert {_layout_name(self._cs)} layout tensor to numpy. Use Tensor.to_dense() "
                        "first.")

    def tolist(self):
        """torch's RuntimeError: a compressed tensor has no storage to list."""
        raise RuntimeError("Cannot access data pointer of Tensor that doesn't have storage (a sparse compressed "
                           "tensor: use x.to_dense().tolist())")

    data_ptr = tolist

    @property
    def data(self):
        return _compressed(self._cs)

    def detach(self):
        """A compressed tensor sharing indices and values with this one, cut from the graph."""
        out = _compressed(self._cs)
        out._vc = self._vc
        return out

    def __reduce_ex__(self, proto):
        cs = self._cs
        return (_rebuild, (cs.layout, (_wrap(_host(cs.compressed)), _wrap(_host(cs.plain)),
                                       _wrap(_host(cs.values)), Size(cs.shape))))

    def __deepcopy__(self, memo):
        if not self.is_leaf:
            raise RuntimeError("Only Tensors created explicitly by the user (graph leaves) support the deepcopy "
                               "protocol at the moment.")
        if id(self) in memo:
            return memo[id(self)]
        cs = self._cs
        out = _compressed(Compressed(cs.compressed.copy(), cs.plain.copy(), cs.values.copy(), cs.shape,
                                     cs.row_major, cs.ordered), self._requires_grad)
        memo[id(self)] = out
        return out

    # ---- the compressed view ----
    def _check_kind(self, op, row_major):
        if self._cs.row_major != row_major:
            want = "row" if row_major else "column"
            names = "ccol_indices() and row_indices()" if row_major else "crow_indices() and col_indices()"
            raise RuntimeError(f"{op} expected sparse {want} compressed tensor layout but got "
                               f"{_layout_name(self._cs)} (a {self.layout} tensor has {names})")

    def crow_indices(self):
        """The compressed row indices of a CSR tensor (nrows + 1 offsets)."""
        self._check_kind("crow_indices", True)
        return _wrap(self._cs.compressed)

    def col_indices(self):
        """The column index of each stored entry of a CSR tensor."""
        self._check_kind("col_indices", True)
        return _wrap(self._cs.plain)

    def ccol_indices(self):
        """The compressed column indices of a CSC tensor (ncols + 1 offsets)."""
        self._check_kind("ccol_indices", False)
        return _wrap(self._cs.compressed)

    def row_indices(self):
        """The row index of each stored entry of a CSC tensor."""
        self._check_kind("row_indices", False)
        return _wrap(self._cs.plain)

    def values(self):
        """The stored values (differentiable: the gradient reaches this tensor on its pattern)."""
        cs = self._cs
        node = S._node(S.ValuesBackward0, self) if S._needs(self) else None
        if node is not None:
            node.entries = cs.coo
        return _finish(cs.values, node)

    def _nnz(self):
        """The number of stored entries."""
        return self._cs.nnz

    def sparse_dim(self):
        """2: the matrix dims."""
        return 2

    def dense_dim(self):
        """0: values hold one number per entry."""
        return 0

    def _coo_refusal(self, op):
        raise RuntimeError(f"{op} expected sparse coordinate tensor layout but got {_layout_name(self._cs)} "
                           "(call x.to_sparse_coo() first)")

    def indices(self):
        """torch's RuntimeError: the COO accessor (use crow_indices/col_indices)."""
        self._coo_refusal("indices")

    def coalesce(self):
        """torch's RuntimeError: a COO method."""
        self._coo_refusal("coalesce")

    def is_coalesced(self):
        """torch's RuntimeError: a COO method."""
        self._coo_refusal("is_coalesced")

    def to_dense(self, dtype=None, *, masked_grad=None):
        """The dense matrix this one stands for."""
        if dtype is not None:
            raise RuntimeError("dtype argument is not supported by sparse_csr_to_dense")
        c = self._cs.coo
        node = S._node(S.ToDenseBackward0, self) if S._needs(self) else None
        if node is not None:
            node.entries = c
        return _finish(S.dense_of(c), node)

    # ---- conversions ----
    def to_sparse(self, sparse_dim=None, *, layout=None, blocksize=None, dense_dim=None):
        """This matrix in another sparse layout (COO by default)."""
        if layout is None or layout is B.sparse_coo:
            if sparse_dim is not None and sparse_dim != 2:
                raise RuntimeError(f"sparse_compressed_to_sparse: expected sparse_dim 2, got {sparse_dim}")
            return self.to_sparse_coo()
        if layout in _COMPRESSED:
            if blocksize is not None:
                raise RuntimeError(f"to_sparse for {layout} does not take a blocksize (only BSR/BSC do)")
            return _relayout(self, layout is B.sparse_csr)
        if layout is B.strided:
            return self.to_dense()
        raise NotImplementedError(f"to_sparse(layout={layout}): ember implements the {B.sparse_coo}, {B.sparse_csr} "
                                  f"and {B.sparse_csc} layouts only")

    def to_sparse_coo(self):
        """The same matrix as a sparse COO tensor, its entries in storage order (coalesced for CSR, as torch's)."""
        c = self._cs.coo
        c = COO(c.indices.copy(), c.values.copy(), c.shape, c.coalesced)
        return _finish(c, _node(ToSparseBackward1, self) if S._needs(self) else None)

    def to_sparse_csr(self, dense_dim=None):
        """This matrix in the CSR layout (itself if it is)."""
        return _relayout(self, True)

    def to_sparse_csc(self, dense_dim=None):
        """This matrix in the CSC layout (itself if it is)."""
        return _relayout(self, False)

    def to(self, *args, **kwargs):
        """This tensor with another dtype; itself when nothing changes (only the CPU holds compressed tensors)."""
        device, dtype, _, copy, _ = parse_to(args, kwargs)
        cs = self._cs
        if device is not None and device != self.device:
            raise NotImplementedError(f"to({device}): ember keeps {self.layout} tensors on the CPU only (convert "
                                      "with x.to_sparse_coo() first)")
        if dtype is None or dtype.np == cs.values.dtype:
            return self.clone() if copy else self
        values = B.cast(cs.values, dtype)   # (as torch converts: bfloat16 and float8 through float32)
        node = None
        if S._needs(self) and values.dtype.kind in "fcV":
            node = _node(S.ToCopyBackward0, self)
            node.src_dtype, node.src_device = cs.values.dtype, None
        return _finish(cs.with_values(values), node)

    def cpu(self, memory_format=None):
        """Itself (already on the CPU)."""
        return self

    def clone(self, *, memory_format=None):
        """A copy with its own indices and values."""
        cs = self._cs
        out = Compressed(cs.compressed.copy(), cs.plain.copy(), cs.values.copy(), cs.shape, cs.row_major,
                         cs.ordered)
        return _finish(out, _node(CloneBackward0, self) if S._needs(self) else None)

    # ---- shape ----
    def t(self):
        """The transpose: the same arrays read in the other layout (CSR.t() is CSC)."""
        return _transpose(self, S.TBackward0)

    def transpose(self, dim0, dim1):
        """The transpose of the matrix (dims 0 and 1) in the other layout; itself for dim0 == dim1."""
        d0, d1 = _dim(dim0, 2, "transpose"), _dim(dim1, 2, "transpose")
        if d0 == d1:
            return self
        return _transpose(self, S.TransposeBackward0)

    swapaxes = swapdims = transpose

    @property
    def T(self):
        raise refusal("as_strided", self)   # (torch's T permutes strides: use .t() or .mT)

    @property
    def mT(self):
        return self.t()

    # ---- arithmetic ----
    def add(self, other, *, alpha=1):
        """self + alpha * other: compressed for a compressed other of the same layout, dense for a dense one."""
        return add(self, other, alpha=alpha)

    def __add__(self, other):
        return add(self, other)

    def __radd__(self, other):
        return add(other, self)

    def mul(self, other):
        """The elementwise product with a number, a dense matrix or a compressed one: of this layout."""
        return mul(self, other)

    multiply = mul

    def __mul__(self, other):
        if not isinstance(other, (Tensor, int, float, bool, complex, np.generic)):
            return NotImplemented
        return mul(self, other)

    __rmul__ = __mul__

    def __matmul__(self, other):
        if not isinstance(other, Tensor):
            return NotImplemented
        return matmul(self, other)

    def __rmatmul__(self, other):
        if not isinstance(other, Tensor):
            return NotImplemented
        return matmul(other, self)

    def mm(self, mat2):
        """The matrix product with a dense matrix."""
        return mm(self, mat2)

    def matmul(self, other):
        """The matrix product with a dense matrix or vector."""
        return matmul(self, other)

    def mv(self, vec):
        """The product with a dense vector."""
        return matmul(self, vec)

    def sum(self, dim=None, keepdim=False, *, dtype=None):
        """The sum of all elements (dense 0-d), or over dims with keepdim=True (of this layout)."""
        return _sum(self, dim, keepdim, dtype)


_BETA = [False]   # (torch warns once, at the first compressed tensor)


def _compressed(cs, requires_grad=False, grad_fn=None):
    """A CompressedTensor over cs (the counterpart of _tensor._wrap)."""
    if not _BETA[0]:
        _BETA[0] = True
        from .._userwarn import warn
        warn("Sparse CSR tensor support is in beta state. If you miss a functionality in the sparse tensor support, "
             "please submit a feature request to https://github.com/pytorch/pytorch/issues.")
    t = S.layout_tensor(CompressedTensor, requires_grad, grad_fn)
    t._cs = cs
    return t


def _finish(raw, node):
    """The tensor of a raw result (Compressed, COO or array), recorded as node's output when node is set."""
    if type(raw) is Compressed:
        return _compressed(raw, node is not None, node)
    return S._finish(raw, node)


def _node(cls, *inputs):
    return S._node(cls, *inputs)


def _raw(t):
    """A tensor's raw form for the COO kernels: a compressed tensor's COO, a sparse one's, a dense array."""
    if type(t) is CompressedTensor:
        return t._cs.coo
    return S._raw(t)


class AccumulateGrad(graph.AccumulateGrad):
    """A compressed leaf's sink: a dense gradient makes a dense .grad, a COO one a .grad of the leaf's layout, as
    torch's; a second gradient adds to it."""

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
        cs = var._cs
        grad = S._cast(grad, cs.values.dtype)
        old = _raw_grad(var)
        if old is not None:
            grad = S._add_raw(_raw(old), grad)
        if type(grad) is COO:
            new = _compressed(from_coo(grad.copy(), cs.row_major, cs.compressed.dtype))
        else:
            if grad.shape != cs.shape:
                grad = B.xp_of(grad).broadcast_to(grad, cs.shape)
            new = _wrap(grad.copy())
        _grad_slot.__set__(var, new)
        for hook in list(post or ()):
            hook(var)


CompressedTensor._accumulate_grad = AccumulateGrad


# ---- nodes -----------------------------------------------------------------------------------------------------
class SparseCompressedTensorBackward0(Node):
    """values -> the compressed tensor: each value's gradient is the gradient at its coordinate."""
    __slots__ = ("entries",)

    def apply(self, grad):
        return (S.gather(grad, self.entries),)


class _Pass(Node):
    """A change of layout: the tensor is the same, so is its gradient (dense, or a COO of its coordinates)."""
    __slots__ = ()

    def apply(self, grad):
        return (grad,)


class _MaskedPass(Node):
    """dense -> compressed: the gradient of the elements it stored (the others were zeros it left out)."""
    __slots__ = ("entries",)

    def apply(self, grad):
        return (S.dense_of(S._entries_grad(self.entries, S.gather(grad, self.entries))),)


ToSparseBackward1 = type("ToSparseBackward1", (_Pass,), {"__slots__": ()})
ToSparseCsrBackward0 = type("ToSparseCsrBackward0", (_Pass,), {"__slots__": ()})
ToSparseCscBackward0 = type("ToSparseCscBackward0", (_Pass,), {"__slots__": ()})
DenseToSparseCsrBackward0 = type("ToSparseCsrBackward0", (_MaskedPass,), {"__slots__": ()})
DenseToSparseCscBackward0 = type("ToSparseCscBackward0", (_MaskedPass,), {"__slots__": ()})


# ---- construction --------------------------------------------------------------------------------------------------
def _index_array(x, name, op):
    from .creation import as_tensor
    t = x if isinstance(x, Tensor) else as_tensor(x)
    if t.layout is not B.strided:
        raise RuntimeError(f"{op}: {name} must be a dense (strided) tensor, got {t.layout}")
    a = t._data
    if not isinstance(x, Tensor) and a.size == 0:   # (an empty list: no entries, int64 as torch makes it)
        a = a.astype(np.int64)
    if a.dtype.kind not in "iu" or a.dtype not in (np.dtype(np.int32), np.dtype(np.int64)):
        raise RuntimeError(f"{op}: {name} must be an int32 or int64 tensor, got {t.dtype} (pass "
                           f"{name}.long() or dtype=torch.int64 indices)")
    return a


def sparse_compressed_tensor(compressed_indices, plain_indices, values, size=None, *, dtype=None, layout=None,
                             device=None, pin_memory=False, requires_grad=False, check_invariants=None):
    """A sparse CSR or CSC matrix (layout) from its compressed indices (n + 1 offsets), plain indices and values;
    the size is inferred when not given."""
    if layout is not None and layout.name in ("sparse_bsr", "sparse_bsc"):
        raise NotImplementedError(f"sparse_compressed_tensor(layout={layout}): ember implements the "
                                  f"{B.sparse_csr} and {B.sparse_csc} layouts only (no blocked ones)")
    if layout not in _COMPRESSED:
        got = "none" if layout is None else {B.sparse_coo: "Sparse", B.strided: "Strided"}.get(
            layout, str(layout))
        raise RuntimeError(f"sparse_compressed_tensor expected sparse compressed tensor layout but got {got} (pass "
                           f"layout={B.namespace()}.sparse_csr or {B.namespace()}.sparse_csc; ember has no BSR/BSC)")
    return _construct(compressed_indices, plain_indices, values, size, layout is B.sparse_csr, dtype, device,
                      requires_grad, check_invariants, "sparse_compressed_tensor")


def sparse_csr_tensor(crow_indices, col_indices, values, size=None, *, dtype=None, device=None, pin_memory=False,
                      requires_grad=False, check_invariants=None):
    """A sparse CSR matrix from its crow_indices (nrows + 1 offsets), col_indices and values."""
    return _construct(crow_indices, col_indices, values, size, True, dtype, device, requires_grad,
                      check_invariants, "sparse_csr_tensor")


def sparse_csc_tensor(ccol_indices, row_indices, values, size=None, *, dtype=None, device=None, pin_memory=False,
                      requires_grad=False, check_invariants=None):
    """A sparse CSC matrix from its ccol_indices (ncols + 1 offsets), row_indices and values."""
    return _construct(ccol_indices, row_indices, values, size, False, dtype, device, requires_grad,
                      check_invariants, "sparse_csc_tensor")


def _construct(compressed, plain, values, size, row_major, dtype, device, requires_grad, check_invariants, op):
    from .creation import as_tensor
    S._requires_grad_flag(requires_grad)
    ci, pi = _index_array(compressed, "compressed_indices", op), _index_array(plain, "plain_indices", op)
    val_t = values if isinstance(values, Tensor) else as_tensor(values)
    if val_t.layout is not B.strided:
        raise RuntimeError(f"{op}: values must be a dense (strided) tensor, got {val_t.layout}")
    if dtype is not None and val_t.dtype is not dtype:
        val_t = val_t.to(dtype)
    if device is not None and B.device(device).type != "cpu":
        raise NotImplementedError(f"{op}: ember keeps sparse compressed tensors on the CPU only")
    v = val_t._data
    cname, pname = ("crow_indices", "col_indices") if row_major else ("ccol_indices", "row_indices")
    cdim, pdim = ("rows", "cols") if row_major else ("cols", "rows")
    if ci.ndim != 1 or pi.ndim != 1 or v.ndim != 1:
        raise NotImplementedError(f"{op}: ember implements sparse compressed matrices only: 1-D {cname}, {pname} "
                                  f"and values (got {ci.ndim}-D, {pi.ndim}-D and {v.ndim}-D; batch and dense dims "
                                  "are not supported)")
    if ci.dtype != pi.dtype:
        raise RuntimeError(f"{cname} and {pname} must have the same dtype, bot got {B.FROM_NUMPY[ci.dtype]} and "
                           f"{B.FROM_NUMPY[pi.dtype]}, respectively")
    nnz = v.shape[0]
    if size is None:
        ncompressed = ci.shape[0] - 1
        nplain = int(pi.max()) + 1 if pi.shape[0] else 0
        size = (ncompressed, nplain) if row_major else (nplain, ncompressed)
    else:
        size = tuple(int(s) for s in size)
        if len(size) != 2:
            raise NotImplementedError(f"{op}: ember implements sparse compressed matrices only (size of 2 dims, got "
                                      f"{list(size)}; batch and dense dims are not supported)")
        if any(s < 0 for s in size):
            raise RuntimeError(f"{op}: negative size {list(size)}: sizes must be >= 0")
    nc, npl = (size[0], size[1]) if row_major else (size[1], size[0])
    if ci.shape[0] != nc + 1:
        raise RuntimeError(f"{cname}.shape[-1] must be equal to the number of {cdim} + 1 (={nc + 1}), but got "
                           f"{ci.shape[0]}")
    if pi.shape[0] != nnz:
        raise RuntimeError(f"{pname}.shape[-1] must be equal to nnz (={nnz}) as defined by values.shape[0], but got "
                           f"{pi.shape[0]}")
    # (torch checks these only with check_invariants; offsets or indices past the size would make any later op read
    # out of bounds, so ember always checks them: a few vectorised passes)
    if int(ci[0]) != 0:
        raise RuntimeError(f"`{cname}[..., 0] == 0` is not satisfied.")
    if int(ci[-1]) != nnz:
        raise RuntimeError(f"`{cname}[..., -1] == nnz` is not satisfied.")
    xp = B.xp_of(ci)
    if nc and bool((xp.diff(ci) < 0).any()):
        raise RuntimeError(f"`0 <= {cname}[..., 1:] - {cname}[..., :-1] <= n{pdim}` is not satisfied.")
    if nnz and (int(pi.min()) < 0 or int(pi.max()) >= npl):
        raise RuntimeError(f"`0 <= {pname} < n{pdim}` is not satisfied.")
    check = S._CHECK[0] if check_invariants is None else check_invariants
    if check_invariants is None:
        S.warn_unchecked()
    ordered = True
    if nnz > 1:   # (unchecked, an unordered CSR is not taken for a coalesced COO by the kernels)
        outer = xp.repeat(xp.arange(nc, dtype=np.int64), xp.diff(ci.astype(np.int64)))
        keys = outer * max(npl, 1) + pi
        ordered = bool((keys[1:] > keys[:-1]).all())
    cs = Compressed(ci, pi, v, size, row_major, ordered)
    if check and not ordered:
        raise RuntimeError(f"`{pname}[..., {cname}[..., i - 1]:{cname}[..., i]] for all i = 1, ..., n{cdim} are "
                           "sorted and distinct along the last dimension values` is not satisfied.")
    if requires_grad:
        if v.dtype.kind not in "fcV":
            raise RuntimeError(f"Only Tensors of floating point and complex dtype can require gradients (got "
                               f"{B.FROM_NUMPY[v.dtype]}); pass float values or dtype=torch.float32")
        return _compressed(cs, True)
    node = None
    if S._needs(val_t):
        node = _node(SparseCompressedTensorBackward0, val_t)
        node.entries = cs.coo
    return _finish(cs, node)


def _rebuild(layout, data):
    """torch._utils._rebuild_sparse_tensor for the compressed layouts: (compressed, plain, values, size)."""
    compressed, plain, values, size = data
    return sparse_compressed_tensor(compressed, plain, values, size, layout=layout, check_invariants=False)


# ---- conversions -----------------------------------------------------------------------------------------------------
def _relayout(t, row_major):
    """A compressed tensor in the CSR (row_major) or CSC layout: itself when it is."""
    cs = t._cs
    if cs.row_major == row_major:
        return t
    out = from_coo(cs.coo, row_major, cs.compressed.dtype)
    cls = ToSparseCsrBackward0 if row_major else ToSparseCscBackward0
    return _finish(out, _node(cls, t) if S._needs(t) else None)


def dense_to(self, row_major, layout_name):
    """A dense matrix as CSR (row_major) or CSC, storing its nonzero elements."""
    a = self._data
    if a.ndim != 2:
        raise NotImplementedError(f"to_sparse_{layout_name}: ember converts matrices only (got a {a.ndim}-D tensor; "
                                  "batch and dense dims are not supported)")
    xp = B.xp_of(a)
    if row_major:
        rows, cols = xp.nonzero(a)
    else:
        cols, rows = xp.nonzero(a.T)
    c = COO(xp.stack([rows, cols]).astype(np.int64, copy=False), a[rows, cols], a.shape, row_major)
    out = from_coo(c, row_major) if row_major else _from_sorted_csc(c)
    node = None
    if S._needs(self):
        node = _node(DenseToSparseCsrBackward0 if row_major else DenseToSparseCscBackward0, self)
        node.entries = out.coo
    return _finish(out, node)


def _from_sorted_csc(c):
    """The CSC form of a COO whose entries are in column-major order already."""
    xp = B.xp_of(c.values)
    ccol = xp.zeros(c.shape[1] + 1, dtype=np.int64)
    if c.nnz:
        xp.cumsum(xp.bincount(c.indices[1], minlength=c.shape[1]), out=ccol[1:])
    out = Compressed(ccol, c.indices[0].copy(), c.values, c.shape, False)
    out._coo = COO(c.indices, c.values, c.shape, False)
    return out


def coo_to(s, row_major):
    """A sparse COO matrix as CSR (row_major) or CSC."""
    c = s._coo
    if len(c.shape) != 2 or c.sparse_dim != 2:
        raise NotImplementedError(f"to_sparse_{'csr' if row_major else 'csc'}: ember converts sparse matrices with 2 "
                                  f"sparse dims only (got size {list(c.shape)} with {c.sparse_dim} sparse dims)")
    out = from_coo(c, row_major)
    cls = ToSparseCsrBackward0 if row_major else ToSparseCscBackward0
    return _finish(out, _node(cls, s) if S._needs(s) else None)


def to_layout(self, layout, blocksize):
    """to_sparse(layout=...) of a dense or COO tensor for a compressed layout."""
    if blocksize is not None:
        raise RuntimeError(f"to_sparse for {layout} does not take a blocksize (only BSR/BSC do)")
    row_major = layout is B.sparse_csr
    if type(self) is S.SparseTensor:
        return coo_to(self, row_major)
    return dense_to(self, row_major, "csr" if row_major else "csc")


# ---- ops ---------------------------------------------------------------------------------------------------------
def _transpose(t, cls):
    cs = t._cs
    out = Compressed(cs.compressed, cs.plain, cs.values, (cs.shape[1], cs.shape[0]), not cs.row_major, cs.ordered)
    node = None
    if S._needs(t):
        node = _node(cls, t)
        node.dims = (0, 1)
    return _finish(out, node)


def _values_op(t, fn, linear=None):
    """fn (a dense op, zero at zero) of t's values: a compressed tensor of the same pattern; the dense op's node
    differentiates it (ops/sparse.py's _ValuesNode, on the entries' COO)."""
    cs = t._cs
    v = _wrap(cs.values)
    v._requires_grad = t._requires_grad
    out = fn(v)
    raw = cs.with_values(out._data)
    inner = out.grad_fn
    if inner is None or not state.enabled:
        return _compressed(raw)
    node = _new(S._values_node(inner.name()))
    node.next_functions = (edge(t) if t._requires_grad else S._NO_EDGE,) + tuple(inner.next_functions[1:])
    node._saved_versions = ()
    node.inner, node.entries, node.linear, node.dtype = inner, cs.coo, linear, cs.values.dtype
    return _compressed(raw, True, node)


def _matrix(t, op):
    if type(t) is CompressedTensor:
        return t._cs.coo
    if type(t) is S.SparseTensor:
        raise RuntimeError(f"addmm: computation on CPU is not implemented for SparseCsr + SparseCsr @ Sparse ({op} of "
                           f"a {t.layout} and a compressed matrix: convert the COO one with x.to_sparse_csr())")
    if not isinstance(t, Tensor):
        raise TypeError(f"{op}(): argument must be Tensor, not {type(t).__name__}")
    d = t._data
    if d.ndim != 2:
        raise RuntimeError(f"{op}: matrices expected, got {d.ndim}D tensor")
    return d


def mm(input, mat2, *, out=None):
    """The product of a compressed matrix and a dense one (either order): dense; dense gradients (torch.mm's).  Of
    two compressed ones: CSR."""
    if out is not None:
        raise refusal("mm.out", input if type(input) is CompressedTensor else mat2)
    a, b = _matrix(input, "mm"), _matrix(mat2, "mm")
    if a.shape[1] != b.shape[0]:
        raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({a.shape[0]}x{a.shape[1]} and "
                           f"{b.shape[0]}x{b.shape[1]})")
    S._product_checks(a, b)
    node = None
    if S._needs(input, mat2):
        node = _node(S.MmBackward0, input, mat2)
        node.a, node.b = a, b
    raw = S._matmul_raw(a, b)
    if type(raw) is COO:   # (compressed @ compressed: CSR, as torch's)
        raw = from_coo(raw, True, input._cs.compressed.dtype)
    return _finish(raw, node)


def matmul(input, other, *, out=None):
    """input @ other with a compressed operand: matrix @ matrix, or matrix @ vector / vector @ matrix."""
    if out is not None:
        raise refusal("matmul.out", input if type(input) is CompressedTensor else other)
    if type(input) is CompressedTensor and type(other) is not CompressedTensor and other.ndim == 1:
        if other.shape[0] != input._cs.shape[1]:
            raise RuntimeError(f"size mismatch, got input ({input._cs.shape[0]}), mat "
                               f"({input._cs.shape[0]}x{input._cs.shape[1]}), vec ({other.shape[0]})")
        return mm(input, other.unsqueeze(1)).squeeze(1)
    if type(other) is CompressedTensor and type(input) is not CompressedTensor and input.ndim == 1:
        return mm(input.unsqueeze(0), other).squeeze(0)
    return mm(input, other)


class AddmmBackward0(S.SparseAddmmBackward0):
    """torch.addmm with a compressed mat1: as torch.sparse.addmm's, but mat1's gradient is dense (torch.mm's)."""
    __slots__ = ()

    def apply(self, grad):
        gi, ga, gb = S.SparseAddmmBackward0.apply(self, grad)
        if ga is not None:
            ga = B.xp_of(grad).matmul(grad, self.b.T)
            if self.alpha != 1:
                ga = ga * self.alpha
        return gi, ga, gb


def torch_addmm(input, mat1, mat2, *, beta=1, alpha=1, out=None):
    """torch.addmm with a compressed mat1: dense gradients (torch's AddmmBackward0)."""
    return addmm(input, mat1, mat2, beta=beta, alpha=alpha, out=out, _cls=AddmmBackward0)


def addmm(input, mat1, mat2, *, beta=1, alpha=1, out=None, _cls=S.SparseAddmmBackward0):
    """beta * input + alpha * (mat1 @ mat2) for a compressed mat1 and dense mat2 (torch.sparse.mm/addmm): mat1's
    gradient of its layout, on its pattern."""
    if out is not None or type(mat1) is not CompressedTensor or type(mat2) is CompressedTensor:
        t = next(t for t in (input, mat1, mat2) if type(t) is CompressedTensor)
        raise refusal("addmm", t)
    a, b = _matrix(mat1, "addmm"), _matrix(mat2, "addmm")
    S._product_checks(a, b)
    res = S._sp_dense(a, b)
    if alpha != 1:
        res = res * alpha
    if input is not None:
        i = _matrix(input, "addmm") if type(input) is CompressedTensor else input._data
        if type(i) is COO:
            i = S.dense_of(i)
        try:
            base = B.xp_of(i).broadcast_to(i, res.shape)
        except ValueError:
            raise RuntimeError(f"addmm: the input of size {list(i.shape)} can't be broadcast to the product's size "
                               f"{list(res.shape)}") from None
        res = res + (base * beta if beta != 1 else base)
    node = None
    if S._needs(input, mat1, mat2):
        node = _node(_cls, input, mat1, mat2)
        node.a, node.b, node.alpha, node.beta = a, b, alpha, beta
        node.shape = None if input is None else tuple(input.shape)
    return _finish(res, node)


def sparse_mm(mat1, mat2):
    """torch.sparse.mm with a compressed mat1 and a dense mat2."""
    if type(mat1) is not CompressedTensor or type(mat2) is CompressedTensor:
        return mm(mat1, mat2)
    return addmm(None, mat1, mat2)


def add(input, other, _other=None, *, alpha=1, out=None):
    """input + alpha * other: two compressed tensors of one layout give that layout; with a dense one, dense."""
    if out is not None:
        raise refusal("add.out", input if type(input) is CompressedTensor else other)
    ci, co = type(input) is CompressedTensor, type(other) is CompressedTensor
    sparse = input if ci else other
    if not isinstance(input, Tensor) or not isinstance(other, Tensor):
        # (torch adds a number as number + tensor: the number is 'self')
        raise RuntimeError(f"add: expected 'self' and 'other' to have same size, but self has size [] while other "
                           f"has size {list(sparse.shape)} (FYI: op2-sparse addition does not currently support "
                           "broadcasting; a number can't be added to a sparse tensor)")
    if type(input) is S.SparseTensor or type(other) is S.SparseTensor:
        raise RuntimeError(f"add: a {B.sparse_coo} and a {sparse.layout} tensor can't be added (convert one: "
                           "x.to_sparse_csr() or x.to_sparse_coo())")
    if tuple(input.shape) != tuple(other.shape):
        raise RuntimeError(f"add: expected 'self' and 'other' to have same size, but self has size "
                           f"{list(input.shape)} while other has size {list(other.shape)} (FYI: op2-sparse addition "
                           "does not currently support broadcasting)")
    if ci and co:
        # (torch adds CSR to CSR; CSC only to itself, which it computes as a scaling of the values)
        if not (input._cs.row_major and other._cs.row_major) and other is not input:
            bad = other if input._cs.row_major else input
            raise RuntimeError(f"crow_indices expected sparse row compressed tensor layout but got "
                               f"{_layout_name(bad._cs)} (torch adds sparse_csr tensors only: convert both with "
                               ".to_sparse_csr())")
        if input._cs.values.dtype != other._cs.values.dtype:
            raise RuntimeError(f"expected scalar type {B.scalar_name(other._cs.values.dtype)} but found "
                               f"{B.scalar_name(input._cs.values.dtype)} (add of two sparse compressed tensors: "
                               "convert one, e.g. b.to(a.dtype))")
        raw = from_coo(S._add_coo(input._cs.coo, other._cs.coo, alpha), input._cs.row_major,
                       input._cs.compressed.dtype)
    elif ci:
        raw = S._add_dense(other._data * alpha if alpha != 1 else other._data, input._cs.coo)
    else:
        raw = S._add_dense(input._data, other._cs.coo, alpha)
    node = None
    if S._needs(input, other):
        node = _node(S.AddBackward0, input, other)
        node.alpha = alpha
        node.dtypes = (_raw(input).dtype, _raw(other).dtype)
    return _finish(raw, node)


def mul(input, other, *, out=None):
    """The elementwise product with a compressed operand: of its layout, on its pattern."""
    if out is not None:
        raise refusal("mul.out", input if type(input) is CompressedTensor else other)
    if type(input) is not CompressedTensor:
        input, other = other, input
    k = S._scalar(other)
    if k is not None:
        kv = k._data if isinstance(k, Tensor) else k
        return _values_op(input, lambda v: v * k, linear=lambda g: g * kv)
    if not isinstance(other, Tensor):
        raise TypeError(f"mul(): argument 'other' must be Tensor or Number, not {type(other).__name__}")
    cs = input._cs
    a = cs.coo
    if not cs.row_major:
        raise RuntimeError("Expected result Tensor to be of format CSR (the product of a sparse_csc tensor with a "
                           "tensor: convert it with x.to_sparse_csr() first)")
    if type(other) is CompressedTensor:
        b = other._cs.coo
        if a.shape != b.shape:
            raise RuntimeError(f"mul: expected 'self' and 'other' to have same sizes, but {list(a.shape)} != "
                               f"{list(b.shape)}")
        raw = S._mul_coo(S.coalesce_raw(a), S.coalesce_raw(b))
        saved_a, saved_b, shapes = S.coalesce_raw(a), S.coalesce_raw(b), (None, None)
    elif type(other) is S.SparseTensor:
        raise RuntimeError(f"mul: a {input.layout} and a {B.sparse_coo} tensor can't be multiplied (convert one: "
                           "x.to_sparse_csr() or x.to_sparse_coo())")
    else:
        d = other._data
        if d.shape != a.shape:
            raise RuntimeError(f"mul: expected 'self' and 'other' to have same sizes, but {list(a.shape)} != "
                               f"{list(d.shape)} (a sparse compressed product does not broadcast)")
        raw = S._mul_raw(a, d)
        dt = S._promote(a.dtype, d.dtype)
        if raw.dtype != dt:
            raw = raw.astype(dt)
        saved_a, saved_b, shapes = a, d, (None, d.shape)
    node = None
    if S._needs(input, other):
        node = _node(S.MulBackward0, input, other)
        node.a, node.b, node.shapes = saved_a, saved_b, shapes
        node.dtypes = (a.dtype, _raw(other).dtype)
    return _finish(from_coo(raw, cs.row_major, cs.compressed.dtype), node)


def _sum(t, dim, keepdim, dtype):
    """The sum of all elements (dense 0-d; every element's gradient is the output's, densely), or over dims with
    keepdim (of t's layout)."""
    cs = t._cs
    if dim is None:
        return _retarget(S._sum(_proxy(t), None, False, dtype, masked=False, node_name="SumBackward0"), t)
    if not keepdim:
        raise RuntimeError("reduction operations on CSR tensors with keepdim=False is unsupported (pass "
                           "keepdim=True, or reduce x.to_dense())")
    out = _retarget(S._sum(_proxy(t), dim, True, dtype, masked=True, node_name="SumBackward1"), t)
    if type(out) is S.SparseTensor:
        c = out._coo
    else:   # (every dim summed: the total, one entry of a 1 x 1 matrix when any was stored)
        xp = B.xp_of(cs.values)
        n = min(cs.nnz, 1)
        c = COO(xp.zeros((2, n), dtype=np.int64), out._data.reshape(1)[:n], (1, 1), True)
    raw = from_coo(c, cs.row_major, cs.compressed.dtype)
    return _compressed(raw, out._requires_grad, out.grad_fn)


def _proxy(t):
    """A sparse COO tensor over t's entries that requires grad as t does (its node is re-linked to t by _retarget)."""
    p = S._sparse(t._cs.coo)
    p._requires_grad = t._requires_grad
    return p


def _retarget(out, t):
    """out's node (made for _proxy(t)) taking its input from t."""
    node = out.grad_fn
    if node is not None:
        node.next_functions = (edge(t),)
    return out


# ---- dispatch ----------------------------------------------------------------------------------------------------
_UNARY = ("neg", "negative", "abs", "absolute", "relu", "sqrt", "sin", "tan", "tanh", "sinh", "asin", "arcsin",
          "atan", "arctan", "asinh", "arcsinh", "atanh", "arctanh", "sign", "sgn", "floor", "ceil", "trunc", "fix",
          "round", "frac", "expm1", "log1p", "erf", "deg2rad", "rad2deg", "signbit", "isnan", "isinf")


def _unary(name):
    linear = (lambda g: -g) if name in ("neg", "negative") else None

    def method(self, *args, **kwargs):
        return _values_op(self, lambda v: getattr(v, name)(*args, **kwargs), linear)
    method.__name__ = name
    method.__doc__ = f"{name} of the stored values (a compressed tensor of the same pattern)."
    return method


for _name in _UNARY:
    setattr(CompressedTensor, _name, _unary(_name))
CompressedTensor.__neg__ = CompressedTensor.neg
CompressedTensor.__abs__ = CompressedTensor.abs


def _caster(dt):
    def method(self, memory_format=None):
        return self.to(dt)
    method.__name__ = dt.name
    method.__doc__ = f"This tensor with {dt.name} values."
    return method


for _dt, _name in ((B.float32, "float"), (B.float64, "double"), (B.float16, "half"), (B.int64, "long"),
                   (B.int32, "int"), (B.bool_, "bool"), (B.complex64, "cfloat"), (B.complex128, "cdouble")):
    setattr(CompressedTensor, _name, _caster(_dt))

_FUNCTIONS = {"add": add, "mul": mul, "multiply": mul, "mm": mm, "spmm": mm, "matmul": matmul, "mv": matmul,
              "addmm": torch_addmm}


def dispatch(name, args, kwargs):
    """The compressed kernel of the public function name for args of which one is a compressed tensor, or torch's
    error naming it."""
    impl = _FUNCTIONS.get(name)
    if impl is not None:
        return impl(*args, **kwargs)
    first = args[0] if args else kwargs.pop("input", None)
    rest = args[1:] if args else ()
    if type(first) is CompressedTensor and name in _SUPPORTED:
        return getattr(first, name)(*rest, **kwargs)
    t = next(a for a in (first,) + tuple(rest) + tuple(kwargs.values()) if type(a) is CompressedTensor)
    if name in _PLAIN_ERRORS:
        raise _unsupported_layout(t._cs, name)
    raise refusal(name, t)


# the pointwise ops torch refuses with "unsupported tensor layout" (they don't keep zeros zero, or lack a kernel)
_PLAIN_ERRORS = {"exp", "cos", "sigmoid", "square", "sub", "subtract", "div", "divide", "true_divide", "truediv",
                 "rsub", "pow",
                 "log", "cosh", "reciprocal", "rsqrt", "sum"}

# the Tensor attributes a compressed tensor inherits as they are (autograd metadata, hooks, grad-mode flags)
_INHERITED = S._INHERITED - {"is_sparse_csr"}


def _refuser(op):
    def method(self, *args, **kwargs):
        if op in _PLAIN_ERRORS:
            raise _unsupported_layout(self._cs, op)
        raise refusal(op, self)
    method.__name__ = op
    method.__doc__ = f"torch's error: {op} has no sparse compressed kernel (use .to_dense() first)."
    return method


def _refused_property(op):
    def get(self):
        raise refusal(op, self)
    return property(get, doc=f"torch's NotImplementedError: {op} has no sparse compressed kernel.")


_SUPPORTED = S.install_refusals(CompressedTensor, _refuser, _refused_property, _INHERITED)
