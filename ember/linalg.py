"""torch.linalg: norms, inverses, determinants, solvers and decompositions, with autograd.

Imported on first use (``ember.linalg``, ``import torch.linalg`` under the alias, or a top-level
alias such as ``torch.det`` / a Tensor method such as ``x.det()``), so ``import ember`` stays light.

Each primitive's forward and backward sit together: the forward calls the array module of its
input (numpy.linalg or cupy.linalg, never SciPy; the LDL functions run NumPy on the host), the
node's ``apply`` works on raw arrays with the formulas torch uses (FunctionsManual.cpp: inverse, det,
slogdet, solve, solve_triangular, cholesky, cholesky_inverse/solve, qr, eigh, svd, pinv, lstsq, lu,
matrix_exp, cross).  Composite functions (matrix_norm's 1/inf/2/nuc orders, matrix_power,
multi_dot, vecdot, cond, vander, tensorinv, tensorsolve) are built from ember's differentiable ops,
as torch builds them, so their graphs carry torch's node names (AmaxBackward0, SumBackward1,
MmBackward0, ...); lu_solve, householder_product, triangular_solve and lu_unpack are composites
too, with other node names than torch's.

Batched inputs: every function accepts leading batch dimensions (``(*, m, n)``).  Only real
float32/float64 inputs are supported (``eig`` / ``eigvals`` give complex results, as torch's), except by
ldl_factor / ldl_factor_ex / ldl_solve, which also take complex inputs (symmetric or Hermitian) and
have no derivative (as in torch).
"""
import functools
import math
import types
import warnings

import numpy as np

from . import _threads
from ._backend import FP_QUIET, c_name, fp_get, fp_reset, fp_set, scalar_name, xp_of
from ._tensor import Tensor, _wrap
from .autograd.grad_mode import state
from .autograd.graph import Node, edge
from .ops import reduce as _reduce, shape as _shape, linalg as _mm
from .ops import record as _finish, _SavedOutput

__all__ = ["norm", "vector_norm", "matrix_norm", "inv", "inv_ex", "det", "slogdet", "solve", "solve_ex", "solve_triangular", "lstsq", "matrix_exp",
           "lu", "lu_factor", "lu_factor_ex", "lu_solve", "householder_product", "pinv",
           "matrix_rank", "cond", "matrix_power", "cross", "vecdot", "multi_dot", "vander", "tensorinv", "tensorsolve", "cholesky", "cholesky_ex", "qr",
           "eigh", "eigvalsh", "svd", "svdvals", "eig", "eigvals", "diagonal", "matmul", "LinAlgError"]
__all__ += ["ldl_factor", "ldl_factor_ex", "ldl_solve"]


class LinAlgError(RuntimeError):
    """A linear-algebra routine failed on its input (singular, not positive-definite...), as
    torch.linalg.LinAlgError (a RuntimeError)."""


# ---- named tuples (torch.return_types.linalg_*) ------------------------------------------------
def _return_type(name, fields):
    def __new__(cls, *values):
        if len(values) == 1 and len(fields) != 1:
            values = tuple(values[0])
        return tuple.__new__(cls, values)

    def __repr__(self):
        from . import _backend
        body = ",\n".join(f"{f}={v!r}" for f, v in zip(fields, self))
        return f"{_backend.namespace()}.return_types.{name}(\n{body})"

    def __reduce__(self):
        return (type(self), tuple(self))

    ns = {"__slots__": (), "__new__": __new__, "__repr__": __repr__, "__str__": __repr__,
          "__reduce__": __reduce__, "_fields": fields, "n_fields": len(fields),
          "n_sequence_fields": len(fields), "n_unnamed_fields": 0}
    for i, f in enumerate(fields):
        ns[f] = property(lambda self, i=i: self[i])
    cls = type(name, (tuple,), ns)
    cls.__module__ = "ember.return_types"
    setattr(_reduce.return_types, name, cls)
    return cls


_inv_ex_t = _return_type("linalg_inv_ex", ("inverse", "info"))
_slogdet_t = _return_type("linalg_slogdet", ("sign", "logabsdet"))
_slogdet_top_t = _return_type("slogdet", ("sign", "logabsdet"))
_solve_ex_t = _return_type("linalg_solve_ex", ("result", "info"))
_lstsq_t = _return_type("linalg_lstsq", ("solution", "residuals", "rank", "singular_values"))
_cholesky_ex_t = _return_type("linalg_cholesky_ex", ("L", "info"))
_qr_t = _return_type("linalg_qr", ("Q", "R"))
_qr_top_t = _return_type("qr", ("Q", "R"))
_eigh_t = _return_type("linalg_eigh", ("eigenvalues", "eigenvectors"))
_svd_t = _return_type("linalg_svd", ("U", "S", "Vh"))
_svd_top_t = _return_type("svd", ("U", "S", "V"))


# ---- checks -------------------------------------------------------------------------------------
def _tensor(A, op, arg="A", pos=1):
    if not isinstance(A, Tensor):
        raise TypeError(f"linalg.{op}(): argument '{arg}' (position {pos}) must be Tensor, not {type(A).__name__}")
    return A._data


def _float(a, op):
    if a.dtype.kind != "f":
        raise RuntimeError(f"linalg.{op}: Expected a floating point or complex tensor as input. "
                           f"Got {scalar_name(a.dtype)}")


# the LAPACK kernel torch names when it has no half-precision (or, for eigh, integer) version of an op
_KERNEL = {"det": "lu_cpu", "solve": "lu_cpu", "cholesky": "cholesky_cpu", "cholesky_ex": "cholesky_cpu",
           "qr": "geqrf_cpu", "eigh": "linalg_eigh_cpu", "eigvalsh": "linalg_eigh_cpu", "svd": "linalg_svd_cpu",
           "svdvals": "linalg_svd_cpu"}


def _lapack_dtype(a, op):
    """torch's dtype errors for the LAPACK-backed ops, where numpy.linalg would raise a TypeError (half)
    or silently compute in float64 (integers): eigh's kernel has no integer version (NotImplementedError,
    the others a RuntimeError), half precision is refused by inv/slogdet with a RuntimeError and by the
    others' kernels with a NotImplementedError."""
    kind = scalar_name(a.dtype)
    if a.dtype.kind != "f" and _KERNEL.get(op) == "linalg_eigh_cpu":
        raise NotImplementedError(f'"linalg_eigh_cpu" not implemented for \'{kind}\'')
    _float(a, op)
    if a.dtype.itemsize < 4:
        if op in _KERNEL:
            raise NotImplementedError(f'"{_KERNEL[op]}" not implemented for \'{kind}\'')
        raise RuntimeError(f"linalg.{op}: Low precision dtypes not supported. Got {kind}")


def _matrix(A, op, square=True, floating=True, arg="A"):
    """A's array after torch's checks: at least 2-d, floating, (batches of) square matrices."""
    a = _tensor(A, op, arg)
    if a.ndim < 2:
        raise RuntimeError(f"linalg.{op}: The input tensor {arg} must have at least 2 dimensions.")
    if floating:
        _lapack_dtype(a, op)
    if square and a.shape[-1] != a.shape[-2]:
        raise RuntimeError(f"linalg.{op}: {arg} must be batches of square matrices, but they are "
                           f"{a.shape[-2]} by {a.shape[-1]} matrices")
    return a


def _mT(x):
    return x.swapaxes(-1, -2)


def _needs(*ts):
    if not state.enabled:
        return False
    for t in ts:
        if t is not None and t._requires_grad:
            return True
    return False


def _batch_prefix(shape, flat_index):
    """torch's '(Batch element i): ' prefix for the flat index of a failing matrix in a batch."""
    return f"(Batch element {flat_index}): " if len(shape) > 2 else ""


def _first_zero_pivot(a):
    """1-based index of the first zero pivot of the LU factorisation (partial pivoting) of the
    square matrix a, as LAPACK's getrf reports it; len(a) when none is exactly zero."""
    u = np.array(a, dtype=np.float64)
    n = u.shape[0]
    for k in range(n):
        p = k + int(np.argmax(np.abs(u[k:, k])))
        if u[p, k] == 0:
            return k + 1
        u[[k, p]] = u[[p, k]]
        u[k + 1:, k:] -= np.outer(u[k + 1:, k] / u[k, k], u[k, k:])
    return n


def _host(a):
    get = getattr(a, "get", None)
    return get() if get is not None else a


def _singular_error(a, op="linalg.inv"):
    """The LinAlgError torch raises for the first singular matrix of the batch a."""
    h = _host(a)
    flat = h.reshape((-1,) + h.shape[-2:])
    for i, m in enumerate(flat):
        if not np.isfinite(m).all():
            continue
        if np.linalg.matrix_rank(m) < m.shape[0] or _first_zero_pivot(m) < m.shape[0] or \
                not np.isfinite(np.linalg.cond(m)):
            k = _first_zero_pivot(m)
            return i, k
    return 0, h.shape[-1]


# ---- nodes ------------------------------------------------------------------------------------
class _LinalgNode(Node):
    """A linalg op's node: the arrays backward needs are kept in the dict s."""

    __slots__ = ("s",)
    _saved_fields = ("s",)


class _MultiNode(_LinalgNode):
    """A node with several differentiable outputs (qr, eigh, svd): apply gets a list of grads."""

    __slots__ = ("_n_outputs", "_output_nrs")


def _make(cls, inputs, keep=None, **saved):
    """A node of cls on inputs, keeping the arrays saved for backward.  keep: the inputs whose in-place
    modification makes backward refuse to run (all of them by default); as in torch, a node whose
    backward reads only the op's outputs keeps none of its inputs (its outputs are checked instead:
    _finish_out, _finish_many with keep_outputs)."""
    node = cls.__new__(cls)
    node.next_functions = tuple(edge(t) if t is not None and t._requires_grad else (None, 0) for t in inputs)
    node._saved_versions = tuple((t, t._vc[0]) for t in (inputs if keep is None else keep) if t is not None)
    node.s = saved
    return node


def _keep_outputs(node, *outs):
    node._saved_versions += tuple((_SavedOutput(t), t._vc[0]) for t in outs)


def _finish_out(array, node):
    """_finish for a node that saved its output (inv, cholesky, solve): modifying it in place then
    makes backward refuse to run, as in torch."""
    t = _finish(array, node)
    if node is not None:
        _keep_outputs(node, t)
    return t


def _finish_many(arrays, node, keep_outputs=False):
    """Tensors for a multi-output node's arrays (None for an output that was not computed)."""
    if node is None:
        return tuple(_wrap(a) for a in arrays)
    node._n_outputs = len(arrays)
    node._output_nrs = {}
    out = []
    for i, a in enumerate(arrays):
        t = _wrap(a)
        t._requires_grad = True
        t.grad_fn = node
        node._output_nrs[id(t)] = i
        out.append(t)
    if keep_outputs:
        _keep_outputs(node, *out)
    return tuple(out)


def _grads(grads, n):
    if type(grads) is not list:
        grads = [grads] + [None] * (n - 1)
    return grads


def _saved_out(node, array, nr=0):
    """create_graph=True: node's saved output array as a graph tensor whose grad_fn is node (output nr)."""
    from .autograd.higher_order import _output_tensor
    t = _output_tensor(array, node)
    if node._n_outputs != 1:
        node._output_nrs[id(t)] = nr
    return t


def _sum_to(t, shape):
    """A Tensor t summed back over broadcast batch dims to shape."""
    return t if tuple(t.shape) == tuple(shape) else t.sum_to_size(shape)


class _TracedNode(_LinalgNode):
    """A node whose array formula (apply) also runs on Tensors, for create_graph=True: _tensors(saved)
    gives the graph tensor each array of its dict s stands for (an input, a saved output, or one
    recomputed from them); the arrays named in _s_constants (permutations) are constants."""

    __slots__ = ()
    _double_backward = True   # through _apply_tensors (create_graph=True)
    _s_constants = ()

    def _apply_tensors(self, grads, saved):
        """apply, run on _GradArrays of the Tensors its dict's arrays stand for."""
        from .autograd.higher_order import _GradArray, _tensor, _is_array
        s = self.s
        tensors = self._tensors(saved)
        traced = dict(s)
        for key, value in s.items():
            if key in tensors:
                traced[key] = _GradArray(tensors[key])
            elif _is_array(value) and key not in self._s_constants:
                raise NotImplementedError(f"create_graph=True: {self.name()} saved {key!r} in a form ember cannot "
                                          "trace back to its inputs")
        wrap = lambda g: None if g is None else _GradArray(g)   # noqa: E731
        self.s = traced
        try:
            outs = self.apply([wrap(g) for g in grads] if isinstance(grads, list) else wrap(grads))
        finally:
            self.s = s
        return tuple(None if o is None else _tensor(o) for o in outs)


def _unbroadcast(g, shape):
    if g.shape == shape:
        return g
    extra = g.ndim - len(shape)
    if extra:
        g = g.sum(axis=tuple(range(extra)))
    axes = tuple(i for i, s in enumerate(shape) if s == 1 and g.shape[i] != 1)
    if axes:
        g = g.sum(axis=axes, keepdims=True)
    return g


# ---- norms --------------------------------------------------------------------------------------
def _dims(dim, ndim):
    if dim is None:
        return None
    if isinstance(dim, int):
        dim = (dim,)
    out = []
    for d in dim:
        d = int(d)
        if not -ndim <= d < max(ndim, 1):
            raise IndexError(f"Dimension out of range (expected to be in range of [{-max(ndim, 1)}, "
                             f"{max(ndim, 1) - 1}], but got {d})")
        out.append(d % ndim if ndim else 0)
    return tuple(out)


def vector_norm(x, ord=2, dim=None, keepdim=False, *, dtype=None, out=None):
    """The ord-norm of x's entries over dim (all of them when dim is None), as torch.linalg.vector_norm."""
    a = _tensor(x, "vector_norm", "x")
    if keepdim.__class__ is not bool:
        raise TypeError(f"linalg_vector_norm(): argument 'keepdim' must be bool, not {type(keepdim).__name__} "
                        f"(pass keepdim=True or keepdim=False)")
    if dtype is not None:
        from . import _backend
        a = a.astype(_backend.as_dtype(dtype).np)
    _float(a, "vector_norm")
    if isinstance(ord, str):
        raise TypeError(f"linalg_vector_norm(): argument 'ord' (position 2) must be Number, not str "
                        f"(use linalg.matrix_norm for '{ord}')")
    ord = float(ord)
    axes = _dims(dim, a.ndim)
    if a.ndim == 0:
        axes = None
    if ord < 0 and a.size == 0 or (ord == math.inf and a.size == 0 and axes is None):
        raise RuntimeError(f"linalg.vector_norm cannot compute the {ord:g} norm on an empty tensor because "
                           "the operation does not have an identity")
    xp = xp_of(a)
    res = xp.asarray(_reduce._vector_norm(a, ord, axes, keepdim))
    if keepdim and axes is None:
        res = res.reshape((1,) * a.ndim)
    res = res.astype(a.dtype, copy=False)
    node = None
    if _needs(x):   # ord=0 (a count): zeros flow back where torch leaves the gradient undefined
        node = _reduce.LinalgVectorNormBackward0.__new__(_reduce.LinalgVectorNormBackward0)
        node.next_functions = (edge(x),)
        node._saved_versions = ((x, x._vc[0]),)
        node.x, node.out, node.p, node.axes, node.keepdim = a, (res if axes is not None or not keepdim
                                                                else res.reshape(())), ord, axes, \
            keepdim if axes is not None else False
        if dtype is not None:       # the gradient flows back in x's own dtype
            node = _Cast(node, x._data.dtype)
    t = _finish(res, node)
    return _write_out(out, t, "linalg.vector_norm", x)


class _Cast(Node):
    """Casts the gradient back to the input's dtype after a dtype= norm (a ToCopyBackward0)."""

    __slots__ = ("inner", "dt")
    _double_backward = True   # through _apply_tensors (create_graph=True)

    def _apply_tensors(self, grad, saved):
        """create_graph=True: the gradient of the norm of x cast to the norm's dtype, recomputed."""
        from .autograd.higher_order import vjp
        from ._backend import as_dtype
        inner = self.inner
        shape = tuple(grad.shape)
        return vjp(lambda a: vector_norm(a.to(as_dtype(inner.x.dtype)), inner.p, inner.axes, inner.keepdim)
                   .reshape(shape), saved, grad)

    def __init__(self, inner, dt):
        self.inner, self.dt = inner, dt
        self.next_functions = inner.next_functions
        self._saved_versions = inner._saved_versions

    def name(self):
        return self.inner.name()

    def apply(self, g):
        (r,) = self.inner.apply(g.astype(self.inner.x.dtype, copy=False))
        return (r.astype(self.dt, copy=False),)


def _write_out(out, t, name, *inputs):
    if out is None:
        return t
    if _needs(*inputs):
        raise RuntimeError(f"{name}(): functions with out=... arguments don't support automatic "
                           "differentiation, but one of the arguments requires grad.")
    out._data = t._data.astype(out._data.dtype, copy=True) if t._data.dtype != out._data.dtype else t._data.copy()
    out._vc[0] += 1
    return out


def _write_outs(out, res, name, *inputs):
    """A multi-output op's results (a named tuple) written into the tensors of out (resized as needed),
    returned as that named tuple of the out tensors, as torch does."""
    if out is None:
        return res
    if len(out) != len(res):
        raise TypeError(f"{name}(): argument 'out' must be tuple of {len(res)} Tensors, not {len(out)}")
    for o, r in zip(out, res):
        _write_out(o, r, name, *inputs)
    return type(res)(*out)


def _movelast(A, d0, d1):
    """A with dims d0, d1 moved to the end (a differentiable permute)."""
    nd = A._data.ndim
    if (d0, d1) == (nd - 2, nd - 1):
        return A
    perm = [i for i in range(nd) if i not in (d0, d1)] + [d0, d1]
    return A.permute(*perm)


def matrix_norm(A, ord="fro", dim=(-2, -1), keepdim=False, *, dtype=None, out=None):
    """The ord-norm of the matrices over dims dim, as torch.linalg.matrix_norm ('fro', 'nuc', inf,
    -inf, 1, -1, 2, -2)."""
    a = _tensor(A, "matrix_norm")
    if a.ndim < 2:
        raise RuntimeError("linalg.matrix_norm: The input tensor A must have at least 2 dimensions.")
    if dtype is not None:
        A = A.to(dtype)
        a = A._data
    _float(a, "matrix_norm")
    if isinstance(dim, int) or dim is None or len(dim) != 2:
        raise RuntimeError(f"linalg.matrix_norm: dim must be a 2-tuple. Got {dim if dim is not None else 'None'}")
    d0, d1 = _dims(dim, a.ndim)
    if d0 == d1:
        raise RuntimeError(f"linalg.matrix_norm: dims must be different. Got ({dim[0]}, {dim[1]})")
    if isinstance(ord, str):
        if ord == "fro":
            res = vector_norm(A, 2, (d0, d1), keepdim)
        elif ord == "nuc":
            res = _spectral(A, d0, d1, keepdim, "sum")
        else:
            raise RuntimeError(f"linalg.matrix_norm: Order {ord} not supported.")
    else:
        if ord not in (1, -1, 2, -2, math.inf, -math.inf):
            raise RuntimeError(f"linalg.matrix_norm: Order {ord:g} not supported." if isinstance(ord, float)
                               else f"linalg.matrix_norm: Order {ord} not supported.")
        if abs(ord) == 2:
            res = _spectral(A, d0, d1, keepdim, "amax" if ord > 0 else "amin")
        else:
            # 1: the largest column sum (sum over rows d0, then max over d1); inf: rows and columns swap
            s, m = (d0, d1) if abs(ord) == 1 else (d1, d0)
            red = "amax" if ord > 0 else "amin"
            res = getattr(A.abs().sum(s, keepdim=True), red)(m, keepdim=True)
            if not keepdim:
                res = res.squeeze((d0, d1)) if hasattr(res, "squeeze") else res
    return _write_out(out, res, "linalg.matrix_norm", A)


def _spectral(A, d0, d1, keepdim, red):
    s = svdvals(_movelast(A, d0, d1))
    res = s.sum(-1) if red == "sum" else getattr(s, red)(-1)
    if keepdim:
        for d in sorted((d0, d1)):
            res = res.unsqueeze(d)
    return res


def norm(A, ord=None, dim=None, keepdim=False, *, out=None, dtype=None):
    """A vector or matrix norm, as torch.linalg.norm: a matrix norm when dim is a 2-tuple (or A is
    2-d and ord is given with dim=None), otherwise a vector norm."""
    a = _tensor(A, "norm")
    if dim is not None:
        if isinstance(dim, int):
            dim = (dim,)
        dim = tuple(dim)
        if len(dim) == 2:
            return matrix_norm(A, "fro" if ord is None else ord, dim, keepdim, dtype=dtype, out=out)
        if len(dim) != 1:
            raise RuntimeError(f"linalg.norm: If dim is specified, it must be of length 1 or 2. Got {list(dim)}")
        if isinstance(ord, str):
            raise RuntimeError(f"linalg.matrix_norm: dim must be a 2-tuple. Got {dim[0]}")
        return vector_norm(A, 2 if ord is None else ord, dim, keepdim, dtype=dtype, out=out)
    if ord is None:
        return vector_norm(A, 2, None, keepdim, dtype=dtype, out=out)
    if a.ndim == 2:
        return matrix_norm(A, ord, (-2, -1), keepdim, dtype=dtype, out=out)
    if a.ndim == 1 and not isinstance(ord, str):
        return vector_norm(A, ord, None, keepdim, dtype=dtype, out=out)
    if isinstance(ord, str) or a.ndim < 2:
        raise RuntimeError("linalg.matrix_norm: The input tensor A must have at least 2 dimensions.")
    raise RuntimeError(f"linalg.norm: If dim is not specified but ord is, the input must be 1D or 2D. "
                       f"Got {a.ndim}D.")


# ---- inverse ------------------------------------------------------------------------------------
class LinalgInvExBackward0(_LinalgNode):
    """d(A^-1) = -A^-1 dA A^-1, so gA = -X^T g X^T."""

    __slots__ = ()
    _double_backward = True   # through _apply_tensors (create_graph=True)

    def _apply_tensors(self, grad, saved):
        """create_graph=True: the same formula on the output X (its grad_fn is this node)."""
        from .autograd.higher_order import _output_tensor
        xt = _output_tensor(self.s["X"], self).mT
        return (-(xt @ (grad @ xt)),)

    def apply(self, g):
        xp = xp_of(g)
        X = self.s["X"]
        xt = _mT(X)
        return (-xp.matmul(xt, xp.matmul(g, xt)),)


def _inv_arrays(a, op="linalg.inv", raise_errors=True):
    xp = xp_of(a)
    try:
        X = xp.linalg.inv(a)
        ok = bool(xp.isfinite(X).all()) or not bool(xp.isfinite(a).all())
    except np.linalg.LinAlgError:
        ok = False
    if not ok:
        i, k = _singular_error(a)
        if raise_errors:
            raise LinAlgError(f"{op}: {_batch_prefix(a.shape, i)}The diagonal element {k} is zero, the inversion "
                              "could not be completed because the input matrix is singular.")
        return None
    return X


def inv(A, *, out=None):
    """The inverse of each square matrix of A, as torch.linalg.inv (LinAlgError when singular)."""
    a = _matrix(A, "inv")
    X = _inv_arrays(a)
    node = _make(LinalgInvExBackward0, (A,), keep=(), X=X) if _needs(A) else None
    return _write_out(out, _finish_out(X, node), "linalg.inv", A)


def inv_ex(A, *, check_errors=False, out=None):
    """(inverse, info) as torch.linalg.inv_ex: info is 0, or the 1-based index of the zero pivot of
    a singular matrix (whose inverse entries are then not meaningful)."""
    a = _matrix(A, "inv_ex")
    xp = xp_of(a)
    X = _inv_arrays(a, "linalg.inv_ex", raise_errors=check_errors)
    info = xp.zeros(a.shape[:-2], dtype=np.int32)
    if X is None:
        flat = _host(a).reshape((-1,) + a.shape[-2:])
        X = xp.empty_like(a).reshape(flat.shape)
        inf = np.zeros(len(flat), dtype=np.int32)
        for i, m in enumerate(flat):
            try:
                X[i] = xp.linalg.inv(xp.asarray(m))
                if not np.isfinite(_host(X[i])).all():
                    raise np.linalg.LinAlgError
            except np.linalg.LinAlgError:
                X[i] = xp.nan
                inf[i] = _first_zero_pivot(m)
        X = X.reshape(a.shape)
        info = xp.asarray(inf.reshape(a.shape[:-2]))
    node = _make(LinalgInvExBackward0, (A,), keep=(), X=X) if _needs(A) else None
    return _write_outs(out, _inv_ex_t(_finish_out(X, node), _wrap(info)), "linalg.inv_ex", A)


# ---- determinants -------------------------------------------------------------------------------
class LinalgDetBackward0(_LinalgNode):
    """d det(A) = det(A) tr(A^-1 dA).  Through the SVD A = U S V^T the gradient
    det(U)det(V) U diag(prod_{j!=i} s_j) V^T also holds for singular A."""

    __slots__ = ()
    _double_backward = True   # through _apply_tensors (create_graph=True)

    def _apply_tensors(self, grad, saved):
        """create_graph=True: g det(A) A^-T on Tensors (invertible A)."""
        A = saved[0]
        if not bool((xp_of(A._data).linalg.det(A._data) != 0).all()):
            raise NotImplementedError("create_graph=True: ember differentiates the backward of linalg.det "
                                      "of invertible matrices only yet")
        scale = (grad * det(A))[..., None, None]
        return (scale * inv(A).mT,)

    def apply(self, g):
        xp = xp_of(g)
        a = self.s["a"]
        U, S, Vh = xp.linalg.svd(a)
        n = S.shape[-1]
        ones = xp.ones(S.shape[:-1] + (1,), dtype=S.dtype)
        left = xp.cumprod(xp.concatenate([ones, S[..., :-1]], axis=-1), axis=-1)
        right = xp.flip(xp.cumprod(xp.concatenate([ones, xp.flip(S, -1)[..., :-1]], axis=-1), axis=-1), -1)
        cof = left * right if n else S
        sign = xp.linalg.det(U) * xp.linalg.det(Vh)
        ga = xp.matmul(U * cof[..., None, :], Vh) * (sign * g)[..., None, None]
        return (ga.astype(a.dtype, copy=False),)


def det(A, *, out=None):
    """The determinant of each square matrix of A, as torch.linalg.det."""
    a = _matrix(A, "det")
    res = xp_of(a).asarray(xp_of(a).linalg.det(a)).astype(a.dtype, copy=False)
    node = _make(LinalgDetBackward0, (A,), a=a) if _needs(A) else None
    return _write_out(out, _finish_out(res, node), "linalg.det", A)


class LinalgSlogdetBackward0(_MultiNode):
    """d log|det A| = tr(A^-1 dA): gA = g A^-T.  sign is an output too (as in torch, so it carries the
    grad_fn), but piecewise constant: its gradient is dropped."""

    __slots__ = ()
    _double_backward = True   # through _apply_tensors (create_graph=True)

    def _apply_tensors(self, grads, saved):
        """create_graph=True: g A^-T on Tensors."""
        g = _grads(grads, 2)[1]
        return (None,) if g is None else (inv(saved[0]).mT * g[..., None, None],)

    def apply(self, grads):
        g = _grads(grads, 2)[1]
        if g is None:       # only sign was used: no gradient reaches A (torch leaves A.grad None)
            return (None,)
        xp = xp_of(g)
        a = self.s["a"]
        with np.errstate(all="ignore"):
            try:
                ait = _mT(xp.linalg.inv(a))
            except np.linalg.LinAlgError:
                ait = xp.full(a.shape, xp.nan, dtype=a.dtype)
        return ((ait * g[..., None, None]).astype(a.dtype, copy=False),)


def _slogdet(A, op):
    a = _matrix(A, op)
    xp = xp_of(a)
    sign, logabs = xp.linalg.slogdet(a)
    sign = xp.asarray(sign).astype(a.dtype, copy=False)
    logabs = xp.asarray(logabs).astype(a.dtype, copy=False)
    if not _needs(A):
        return _wrap(sign), _wrap(logabs)
    return _finish_many((sign, logabs), _make(LinalgSlogdetBackward0, (A,), a=a))


def slogdet(A, *, out=None):
    """(sign, log|det|) of each square matrix of A, as torch.linalg.slogdet."""
    return _write_outs(out, _slogdet_t(*_slogdet(A, "slogdet")), "linalg.slogdet", A)


def _slogdet_top(input, *, out=None):
    """torch.slogdet: as linalg.slogdet, returned as torch.return_types.slogdet."""
    return _write_outs(out, _slogdet_top_t(*_slogdet(input, "slogdet")), "slogdet", input)


def logdet(input):
    """log det(input): nan for a negative determinant, -inf for zero, as torch.logdet."""
    sign, logabs = _slogdet(input, "logdet")
    xp = xp_of(sign._data)
    if bool((sign._data < 0).any()):
        mask = _wrap(sign._data < 0)
        from .ops import elementwise as _ew
        return _ew.where(mask, _wrap(xp.asarray(xp.nan, dtype=logabs._data.dtype)), logabs)
    return logabs


# ---- solve / lstsq ------------------------------------------------------------------------------
def _vector_rhs(a, b):
    """torch's rule: B is a (batch of) vector(s) when it is 1-d or has A's shape minus the last dim."""
    return b.ndim == 1 or (b.ndim == a.ndim - 1 and b.shape == a.shape[:-1])


class LinalgSolveExBackward0(_LinalgNode):
    """X = A^-1 B: gB = A^-T g, gA = -gB X^T (broadcast batch dims summed back)."""

    __slots__ = ()
    _double_backward = True   # through _apply_tensors (create_graph=True)

    def _apply_tensors(self, g, saved):
        """create_graph=True: the same formula on Tensors (A, and the output X as saved)."""
        s, nf = self.s, self.next_functions
        vec, left = s["vec"], s["left"]
        at = saved[0] if left else saved[0].mT
        X = _saved_out(self, s["X"] if left or vec else _mT(s["X"]))
        Xl = X[..., None] if vec else X if left else X.mT
        gl = g[..., None] if vec else g if left else g.mT
        gB = solve(at.mT, gl)
        ga = gb = None
        if nf[0][0] is not None:
            ga = _sum_to(-(gB @ Xl.mT), s["ashape"])
            ga = ga if left else ga.mT
        if nf[1][0] is not None:
            gb = gB[..., 0] if vec else gB if left else gB.mT
            gb = _sum_to(gb, s["bshape"])
        return ga, gb

    def apply(self, g):
        s = self.s
        xp = xp_of(g)
        a, X, vec, left = s["a"], s["X"], s["vec"], s["left"]
        if not left:
            g = _mT(g)
        gm = g[..., None] if vec else g
        ab = xp.broadcast_to(a, gm.shape[:-2] + a.shape[-2:])
        gB = xp.linalg.solve(_mT(ab), gm)
        Xm = X[..., None] if vec else X
        need_a, need_b = self.next_functions[0][0] is not None, self.next_functions[1][0] is not None
        ga = _unbroadcast(-xp.matmul(gB, _mT(Xm)), s["ashape"]) if need_a else None
        if left:
            ga = ga if ga is None else ga
        else:
            ga = ga if ga is None else _mT(ga)
        gb = None
        if need_b:
            gb = gB[..., 0] if vec else gB
            if not left:
                gb = _mT(gb)
            gb = _unbroadcast(gb, s["bshape"])
        if ga is not None:
            ga = _unbroadcast(ga, s["ashape"]) if ga.shape != s["ashape"] else ga
        return ga, gb


def solve(A, B, *, left=True, out=None):
    """X with A X = B (left=True) or X A = B, as torch.linalg.solve; B may be a (batch of) vector(s)."""
    return _solve(A, B, left, out, "linalg.solve", True)[0]


def solve_ex(A, B, *, left=True, check_errors=False, out=None):
    """(result, info) as torch.linalg.solve_ex: info is 0, or for a singular matrix the 1-based index
    of the zero pivot of its LU factorisation (its result is then not meaningful: nan here)."""
    X, info = _solve(A, B, left, None, "linalg.solve_ex", check_errors)
    if out is not None:
        _write_out(out[0], X, "linalg.solve_ex", A, B)
        out[1]._data = info.astype(out[1]._data.dtype)
        out[1]._vc[0] += 1
        return _solve_ex_t(*out)
    return _solve_ex_t(X, _wrap(info))


def _solve(A, B, left, out, op, check):
    """solve's work: (X, info) with info an int32 array of the batch shape (zeros when all solved)."""
    a = _matrix(A, "solve")
    b = _tensor(B, "solve", "B", 2)
    _float(b, "solve")
    if a.dtype != b.dtype:
        raise RuntimeError(f"linalg.solve: Expected A and B to have the same dtype, but found A of type "
                           f"{scalar_name(a.dtype)} and B of type {scalar_name(b.dtype)} instead")
    xp = xp_of(a)
    vec = left and _vector_rhs(a, b)
    at = a if left else _mT(a)
    if vec:
        bm = b[..., None]
    else:
        if b.ndim < 2:
            raise RuntimeError("linalg.solve: The input tensor B must have at least 2 dimensions.")
        bm = b if left else _mT(b)
    n = a.shape[-1]
    if bm.shape[-2] != n:
        shown = f"{bm.shape[-2]}x{bm.shape[-1]}" if left else f"{b.shape[-2]}x{b.shape[-1]}"
        raise RuntimeError(f"linalg.solve: Incompatible shapes of A and B for the equation "
                           f"{'AX = B' if left else 'XA = B'} ({n}x{n} and {shown})")
    try:
        batch = np.broadcast_shapes(at.shape[:-2], bm.shape[:-2])
    except ValueError:
        raise RuntimeError(f"linalg.solve: the batch dimensions of A {list(a.shape[:-2])} and B "
                           f"{list(b.shape[:-2 + vec])} do not broadcast") from None
    ab = xp.broadcast_to(at, batch + at.shape[-2:])
    bb = xp.broadcast_to(bm, batch + bm.shape[-2:])
    info = xp.zeros(batch, dtype=np.int32)
    try:
        X = xp.linalg.solve(ab, bb)
        ok = bool(xp.isfinite(X).all()) or not (bool(xp.isfinite(ab).all()) and bool(xp.isfinite(bb).all()))
    except np.linalg.LinAlgError:
        ok = False
    if not ok:
        if check:
            raise LinAlgError(f"torch.{op}: The solver failed because the input matrix is singular.")
        fa, fb = _host(ab).reshape((-1,) + ab.shape[-2:]), _host(bb).reshape((-1,) + bb.shape[-2:])
        Xs, inf = np.empty(fb.shape, dtype=a.dtype), np.zeros(len(fa), dtype=np.int32)
        for i, (m, r) in enumerate(zip(fa, fb)):
            try:
                Xs[i] = np.linalg.solve(m, r)
                if not np.isfinite(Xs[i]).all() and np.isfinite(m).all() and np.isfinite(r).all():
                    raise np.linalg.LinAlgError
            except np.linalg.LinAlgError:
                Xs[i], inf[i] = np.nan, _first_zero_pivot(m)
        X, info = xp.asarray(Xs.reshape(bb.shape)), xp.asarray(inf.reshape(batch))
    X = X.astype(a.dtype, copy=False)
    if vec:
        X = X[..., 0]
    elif not left:
        X = _mT(X)
    node = None
    if _needs(A, B):
        node = _make(LinalgSolveExBackward0, (A, B), keep=(A,), a=at, X=(X if left or vec else _mT(X)), vec=vec,
                     left=left, ashape=at.shape, bshape=b.shape)
    return _write_out(out, _finish_out(xp.ascontiguousarray(X), node), op, A, B), info


class LinalgSolveTriangularBackward0(_LinalgNode):
    """X = A^-1 B (left) or B A^-1: gB = A^-T g (g A^-T), gA = -gB X^T (-X^T gB), kept on A's triangle
    (off its diagonal too when unitriangular), batch dims summed back."""

    __slots__ = ()
    _double_backward = True   # through _apply_tensors (create_graph=True)

    def _apply_tensors(self, g, saved):
        """create_graph=True: the same formula on Tensors (A's triangle, and the output X as saved)."""
        s, nf = self.s, self.next_functions
        upper, left, unit = s["upper"], s["left"], s["unit"]
        A = saved[0]
        T = A.triu() if upper else A.tril()
        X = _saved_out(self, s["X"])
        gB = solve_triangular(T.mT, g, upper=not upper, left=left, unitriangular=unit)
        ga = gb = None
        if nf[0][0] is not None:
            ga = -(gB @ X.mT) if left else -(X.mT @ gB)
            k = 1 if unit else 0
            ga = _sum_to(ga.triu(k) if upper else ga.tril(-k), s["ashape"])
        if nf[1][0] is not None:
            gb = _sum_to(gB, s["bshape"])
        return ga, gb

    def apply(self, g):
        s = self.s
        xp = xp_of(g)
        T, X, left = s["T"], s["X"], s["left"]
        Tb = xp.broadcast_to(T, g.shape[:-2] + T.shape[-2:])
        gB = xp.linalg.solve(_mT(Tb), g) if left else _mT(xp.linalg.solve(Tb, _mT(g)))
        ga = gb = None
        if self.next_functions[0][0] is not None:
            ga = -xp.matmul(gB, _mT(X)) if left else -xp.matmul(_mT(X), gB)
            k = 1 if s["unit"] else 0
            ga = xp.triu(ga, k) if s["upper"] else xp.tril(ga, -k)
            ga = _unbroadcast(ga, s["ashape"]).astype(T.dtype, copy=False)
        if self.next_functions[1][0] is not None:
            gb = _unbroadcast(gB, s["bshape"]).astype(T.dtype, copy=False)
        return ga, gb


def solve_triangular(A, B, *, upper, left=True, unitriangular=False, out=None):
    """X with A X = B (left=True) or X A = B for triangular A (only its upper or lower triangle is read,
    and not its diagonal when unitriangular), as torch.linalg.solve_triangular.  B must be a (batch
    of) matrix; a singular A gives inf/nan entries, not an error, as in torch."""
    a = _tensor(A, "solve_triangular")
    b = _tensor(B, "solve_triangular", "B", 2)
    if a.ndim < 2:
        raise RuntimeError("linalg.solve_triangular: The input tensor A must have at least 2 dimensions.")
    if b.ndim < 2:
        raise RuntimeError("linalg.solve_triangular: The input tensor B must have at least 2 dimensions.")
    for x in (a, b):
        if x.dtype.kind != "f" or x.dtype.itemsize < 4:
            raise NotImplementedError(f'"triangular_solve_cpu" not implemented for '
                                      f'\'{scalar_name(x.dtype)}\'')
    if a.shape[-1] != a.shape[-2]:
        raise RuntimeError(f"linalg.solve_triangular: A must be batches of square matrices, but they are "
                           f"{a.shape[-2]} by {a.shape[-1]} matrices")
    n = a.shape[-1]
    if (b.shape[-2] if left else b.shape[-1]) != n:
        raise RuntimeError(f"linalg.solve_triangular: Incompatible shapes of A and B for the equation "
                           f"{'AX = B' if left else 'XA = B'} ({n}x{n} and {b.shape[-2]}x{b.shape[-1]})")
    xp = xp_of(a)
    dt = a.dtype       # torch: B is cast to A's dtype
    T = xp.triu(a) if upper else xp.tril(a)
    if unitriangular:
        T = T.copy()
        T[..., xp.arange(n), xp.arange(n)] = 1
    T, bb = T.astype(dt, copy=False), b.astype(dt, copy=False)
    try:
        batch = np.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    except ValueError:
        raise RuntimeError(f"linalg.solve_triangular: the batch dimensions of A {list(a.shape[:-2])} and B "
                           f"{list(b.shape[:-2])} do not broadcast") from None
    Tb = xp.broadcast_to(T, batch + T.shape[-2:])
    bb = xp.broadcast_to(bb, batch + bb.shape[-2:])
    with np.errstate(all="ignore"):
        try:
            X = xp.linalg.solve(Tb, bb) if left else _mT(xp.linalg.solve(_mT(Tb), _mT(bb)))
        except np.linalg.LinAlgError:      # a zero on the diagonal: torch's trsm divides by it
            X = xp.full(bb.shape, xp.nan, dtype=dt)
    X = xp.ascontiguousarray(X.astype(dt, copy=False))
    node = None
    if _needs(A, B):
        node = _make(LinalgSolveTriangularBackward0, (A, B), keep=(A,), T=T, X=X, left=left, upper=upper, unit=unitriangular,
                     ashape=a.shape, bshape=b.shape)
    return _write_out(out, _finish_out(X, node), "linalg.solve_triangular", A, B)


class LinalgLstsqBackward0(_TracedNode):
    """X = pinv(A) B: gB = pinv(A)^T gX, gA = pinv_backward(gX B^T) (torch's formula)."""

    __slots__ = ()

    def _tensors(self, saved):
        # pinv(A) recomputed (the same for A of full rank, which torch's formula assumes too)
        A = saved[0]
        return {"a": A, "b": saved[1], "P": pinv(A, rtol=np.finfo(self.s["a"].dtype).eps * max(A.shape[-2:]))}

    def apply(self, g):
        xp = xp_of(g)
        s = self.s
        P, a, b, vec = s["P"], s["a"], s["b"], s["vec"]
        gm = g[..., None] if vec else g
        bm = b[..., None] if vec else b
        ga = gb = None
        if self.next_functions[0][0] is not None:
            ga = _unbroadcast(_pinv_backward(xp.matmul(gm, _mT(bm)), P, a), a.shape)
        if self.next_functions[1][0] is not None:
            gb = xp.matmul(_mT(P), gm)
            gb = _unbroadcast(gb[..., 0] if vec else gb, b.shape)
        return ga, gb


def lstsq(A, B, rcond=None, *, driver=None):
    """Least-squares solution of A X = B, as torch.linalg.lstsq (solution, residuals, rank,
    singular_values).  Computed through the pseudo-inverse (SVD): the solution of minimum norm,
    as the 'gelsd' driver gives; residuals and singular values are filled as torch's CPU default
    driver 'gelsy' fills them (empty), rank with the rank found."""
    a = _matrix(A, "lstsq", square=False, floating=False)
    b = _tensor(B, "lstsq", "B", 2)
    if a.dtype.kind != "f" or b.dtype.kind != "f" or a.dtype.itemsize < 4 or b.dtype.itemsize < 4:
        raise RuntimeError("This function doesn't handle types other than float and double")
    if a.dtype != b.dtype:
        raise RuntimeError(f"torch.linalg.lstsq: Expected input and other to have the same dtype, but got "
                           f"input's dtype {scalar_name(a.dtype)} and other's dtype {scalar_name(b.dtype)}")
    if driver not in (None, "gels", "gelsy", "gelsd", "gelss"):
        raise RuntimeError(f"torch.linalg.lstsq: parameter `driver` should be one of (gels, gelsy, gelsd, "
                           f"gelss), but got {driver}")
    xp = xp_of(a)
    vec = _vector_rhs(a, b) and b.ndim == a.ndim - 1
    bm = b[..., None] if vec else b
    if bm.shape[-2] != a.shape[-2]:
        raise RuntimeError(f"torch.linalg.lstsq: input.size(-2) should match other.size(-2). Got "
                           f"{a.shape[-2]} and {bm.shape[-2]}")
    m, n = a.shape[-2:]
    rtol = float(rcond) if rcond is not None and rcond > 0 else np.finfo(a.dtype).eps * max(m, n)
    P, rank = _pinv_arrays(a, 0.0, rtol)
    X = xp.matmul(P, bm).astype(a.dtype, copy=False)
    if vec:
        X = X[..., 0]
    node = None
    if _needs(A, B):
        node = _make(LinalgLstsqBackward0, (A, B), P=P, a=a, b=b, vec=vec)
    empty = xp.empty((0,), dtype=a.dtype)
    if driver in ("gelsd", "gelss"):
        sv = xp.linalg.svd(a, compute_uv=False).astype(a.dtype, copy=False)
    else:
        sv = empty
    X = _finish_out(X, node)
    residuals = _wrap(empty)
    # torch: the squared residual norms of each column, for the drivers other than gelsy when m > n and
    # (gelsd/gelss) every matrix has full rank; empty otherwise
    if driver not in (None, "gelsy") and m > n and (driver == "gels" or bool((rank == n).all())):
        Xm = X.unsqueeze(-1) if vec else X
        Bm = B.unsqueeze(-1) if vec else B
        residuals = (_mm.matmul(A, Xm) - Bm).pow(2).sum(-2)
    if driver == "gels":    # gels does not compute the rank
        rank = xp.empty((0,), dtype=np.int64)
    return _lstsq_t(X, residuals, _wrap(rank), _wrap(sv))


# ---- pinv / rank / cond -----------------------------------------------------------------------
def _pinv_arrays(a, atol, rtol):
    """pinv of a through its SVD (singular values <= max(atol, rtol * s_max) dropped), and the rank."""
    xp = xp_of(a)
    U, S, Vh = xp.linalg.svd(a, full_matrices=False)
    smax = S[..., :1] if S.shape[-1] else S
    cut = xp.maximum(xp.asarray(atol, dtype=S.dtype), rtol * smax)
    keep = S > cut
    with np.errstate(divide="ignore", invalid="ignore"):
        Sinv = xp.where(keep, 1 / xp.where(keep, S, 1), 0).astype(a.dtype, copy=False)
    P = xp.matmul(_mT(Vh) * Sinv[..., None, :], _mT(U)).astype(a.dtype, copy=False)
    return P, xp.asarray(keep.sum(-1)).astype(np.int64)     # an array even for one matrix (not a NumPy scalar)


def _pinv_backward(g, P, a):
    """torch's pinv_backward (FunctionsManual.cpp), real case."""
    xp = xp_of(g)
    mm = xp.matmul
    m, n = a.shape[-2:]
    Pt, gt = _mT(P), _mT(g)
    if m <= n:
        K = mm(gt, P)
        KPt = mm(K, Pt)
        return -_mT(mm(P, K)) + KPt - mm(mm(a, P), KPt) + mm(mm(Pt, P), gt - mm(K, a))
    K = mm(P, gt)
    PtK = mm(Pt, K)
    return -_mT(mm(K, P)) + mm(mm(gt - mm(a, K), P), Pt) + PtK - mm(mm(PtK, P), a)


class LinalgPinvBackward0(_TracedNode):
    __slots__ = ()

    def _tensors(self, saved):
        return {"P": _saved_out(self, self.s["P"]), "a": saved[0]}

    def apply(self, g):
        s = self.s
        return (_pinv_backward(g, s["P"], s["a"]).astype(g.dtype, copy=False),)


def _tolerances(a, atol, rtol, op):
    def val(t):
        if t is None:
            return None
        return t._data if isinstance(t, Tensor) else float(t)
    atol, rtol = val(atol), val(rtol)
    if rtol is None:
        # torch: eps * max(m, n) unless a positive atol is given alone
        given = atol is not None and (not isinstance(atol, float) or atol > 0)
        rtol = 0.0 if given else float(np.finfo(a.dtype).eps * max(a.shape[-2:]))
    if atol is None:
        atol = 0.0
    return atol, rtol


def pinv(A, *, atol=None, rtol=None, hermitian=False, out=None, rcond=None):
    """The Moore-Penrose pseudo-inverse of A's matrices, as torch.linalg.pinv."""
    a = _tensor(A, "pinv")
    if a.ndim < 2 or a.dtype.kind != "f" or a.dtype.itemsize < 4:
        kind = scalar_name(a.dtype)
        raise RuntimeError(f"linalg.pinv({kind}{{{list(a.shape)}}}): expected a tensor with 2 or more dimensions of "
                           "float, double, cfloat or cdouble types")
    if rcond is not None:
        rtol = rcond
    atol_, rtol_ = _tolerances(a, atol, rtol, "pinv")
    xp = xp_of(a)
    if not isinstance(atol_, float):
        atol_ = xp.asarray(atol_)[..., None]
    if not isinstance(rtol_, float):
        rtol_ = xp.asarray(rtol_)[..., None]
    P, _ = _pinv_arrays(a, atol_, rtol_)
    node = _make(LinalgPinvBackward0, (A,), P=P, a=a) if _needs(A) else None
    return _write_out(out, _finish_out(P, node), "linalg.pinv", A)


def _pinverse_top(input, rcond=1e-15):
    """torch.pinverse: linalg.pinv with rtol=rcond."""
    return pinv(input, rtol=rcond)


def matrix_rank(A, *, atol=None, rtol=None, hermitian=False, out=None, tol=None):
    """The number of singular values above max(atol, rtol * s_max), as torch.linalg.matrix_rank (int64)."""
    a = _tensor(A, "matrix_rank")
    if a.ndim < 2:
        raise RuntimeError("linalg.matrix_rank: The input tensor input must have at least 2 dimensions.")
    if a.dtype.kind != "f" or a.dtype.itemsize < 4:
        raise RuntimeError("This function doesn't handle types other than float and double")
    if tol is not None:
        atol = tol
    xp = xp_of(a)
    atol_, rtol_ = _tolerances(a, atol, rtol, "matrix_rank")
    S = xp.abs(xp.linalg.eigvalsh(a)) if hermitian else xp.linalg.svd(a, compute_uv=False)
    if hermitian:
        S = xp.sort(S, axis=-1)[..., ::-1]
    smax = S.max(axis=-1, keepdims=True) if S.shape[-1] else xp.zeros(S.shape[:-1] + (1,), S.dtype)
    atol_a = atol_ if isinstance(atol_, float) else xp.asarray(atol_)[..., None]
    rtol_a = rtol_ if isinstance(rtol_, float) else xp.asarray(rtol_)[..., None]
    cut = xp.maximum(atol_a, rtol_a * smax)
    res = xp.asarray((S > cut).sum(-1)).astype(np.int64)
    return _write_out(out, _wrap(res), "linalg.matrix_rank")


def cond(A, p=None, *, out=None):
    """The condition number of A's matrices in the p-norm (2 when None), as torch.linalg.cond."""
    a = _tensor(A, "cond")
    if a.ndim < 2:
        raise RuntimeError("linalg.cond: The input tensor A must have at least 2 dimensions.")
    _float(a, "cond")
    if p is not None and p not in (2, -2, "fro", "nuc", 1, -1, math.inf, -math.inf):
        raise RuntimeError(f"linalg.cond got an invalid norm type: {p}")

    def square():
        if a.shape[-1] != a.shape[-2]:
            raise RuntimeError(f"linalg.cond(ord={p}): A must be batches of square matrices, but they are "
                               f"{a.shape[-2]} by {a.shape[-1]} matrices")
    if p in ("fro", "nuc"):
        square()
    if p is not None and p not in (2, -2) and a.shape[-1] and a.shape[-2]:
        # torch's dtype errors: nuc goes through the SVD first, the others through inv
        _lapack_dtype(a, "svdvals" if p == "nuc" else "inv")
    if a.shape[-1] == 0 or a.shape[-2] == 0:      # torch: 0 for empty matrices
        return _write_out(out, _wrap(xp_of(a).zeros(a.shape[:-2], dtype=a.dtype)), "linalg.cond", A)
    if p is None or p in (2, -2):
        s = svdvals(A)      # descending; torch divides the end slices, then squeezes (SqueezeBackward1)
        hi, lo = s[..., :1], s[..., -1:]
        res = (hi / lo if p != -2 else lo / hi).squeeze(-1)
        return _write_out(out, res, "linalg.cond", A)
    square()
    X = _inv_arrays(a, raise_errors=False)
    if X is None:   # torch: inf for the singular matrices, the finite value for the others
        flat = _host(a).reshape((-1,) + a.shape[-2:])
        vals = []
        for m in flat:
            try:
                mi = np.linalg.inv(m)
                vals.append(float(matrix_norm(_wrap(m), p)) * float(matrix_norm(_wrap(mi), p))
                            if np.isfinite(mi).all() else math.inf)
            except np.linalg.LinAlgError:
                vals.append(math.inf)
        res = xp_of(a).asarray(np.array(vals, dtype=a.dtype).reshape(a.shape[:-2]))
        return _write_out(out, _wrap(res), "linalg.cond", A)
    res = matrix_norm(A, p) * matrix_norm(inv(A), p)
    return _write_out(out, res, "linalg.cond", A)


# ---- products -----------------------------------------------------------------------------------
class CopyBackwards(_LinalgNode):
    """The node of A.clone().copy_(constant) (matrix_power(A, 0)): it sends back zeros."""

    __slots__ = ()
    _double_backward = True   # its formula (constant zeros) also runs on Tensors

    def apply(self, g):
        return (xp_of(g).zeros_like(g),)


def matrix_power(A, n, *, out=None):
    """A @ A @ ... (n times); the inverse's power for n < 0; the identity for n = 0."""
    a = _tensor(A, "matrix_power")
    if a.ndim < 2:
        raise RuntimeError("linalg.matrix_power: The input tensor A must have at least 2 dimensions.")
    if a.shape[-1] != a.shape[-2]:
        raise RuntimeError(f"linalg.matrix_power: A must be batches of square matrices, but they are "
                           f"{a.shape[-2]} by {a.shape[-1]} matrices")
    if not isinstance(n, int) or isinstance(n, bool):
        raise TypeError(f"matrix_power(): argument 'n' (position 2) must be int, not {type(n).__name__}")
    xp = xp_of(a)
    if n == 0:
        # torch copies the identity into a clone of A: a CopyBackwards node that sends back zeros
        eye = xp.broadcast_to(xp.eye(a.shape[-1], dtype=a.dtype), a.shape).copy()
        node = None
        if _needs(A):
            node = _make(CopyBackwards, (A,))
        return _write_out(out, _finish(eye, node), "linalg.matrix_power", A)
    if n < 0:
        A = inv(A)
        n = -n
    # binary powering, as torch: A^n from the squares A, A^2, A^4, ...
    result = None
    z = A
    while True:
        if n & 1:
            result = z if result is None else _mm.matmul(result, z)
        n >>= 1
        if not n:
            break
        z = _mm.matmul(z, z)
    if result is A and out is None:
        result = result.clone()
    return _write_out(out, result, "linalg.matrix_power", A)


def multi_dot(tensors, *, out=None):
    """The product of a chain of matrices (the first may be a row vector, the last a column
    vector), as torch.linalg.multi_dot."""
    tensors = list(tensors)
    if len(tensors) < 2:
        raise RuntimeError(f"multi_dot(): expected at least 2 tensors but got {len(tensors)}")
    for i, t in enumerate(tensors):
        nd = t._data.ndim
        if (i in (0, len(tensors) - 1) and nd not in (1, 2)) or (0 < i < len(tensors) - 1 and nd != 2):
            where = "first" if i == 0 else "last" if i == len(tensors) - 1 else None
            if where:
                raise RuntimeError(f"multi_dot(): the {where} tensor must be 1D or 2D but got {nd}D")
            raise RuntimeError(f"multi_dot(): tensor {i} must be 2D but got {nd}D")
        if t._data.dtype != tensors[0]._data.dtype:
            raise RuntimeError(f"multi_dot(): all tensors must have be the same dtype but tensor 0 is "
                               f"{scalar_name(tensors[0]._data.dtype)} and tensor {i} "
                               f"{scalar_name(t._data.dtype)}")
    first_vec = tensors[0]._data.ndim == 1
    last_vec = tensors[-1]._data.ndim == 1
    if first_vec:
        tensors[0] = tensors[0].unsqueeze(0)
    if last_vec:
        tensors[-1] = tensors[-1].unsqueeze(1)
    for i in range(len(tensors) - 1):
        a, b = tensors[i]._data, tensors[i + 1]._data
        if a.shape[1] != b.shape[0]:
            raise RuntimeError(f"multi_dot(): tensors {i} and {i + 1} with shapes {list(a.shape)} and "
                               f"{list(b.shape)} cannot be multiplied")
    res = tensors[0]
    for t in tensors[1:]:
        res = _mm.mm(res, t)
    if first_vec and last_vec:
        res = res.reshape(())
    elif first_vec:
        res = res.squeeze(0)
    elif last_vec:
        res = res.squeeze(1)
    return _write_out(out, res, "linalg.multi_dot", *tensors)


def vecdot(x, y, *, dim=-1, out=None):
    """sum(x * y, dim) with broadcasting, as torch.linalg.vecdot (real tensors: no conjugation)."""
    a = _tensor(x, "vecdot", "x")
    b = _tensor(y, "vecdot", "y", 2)
    _float(a, "vecdot")
    if a.dtype != b.dtype:
        raise RuntimeError(f"linalg.vecdot: Expected x and y to have the same dtype, but found x of type "
                           f"{scalar_name(a.dtype)} and y of type {scalar_name(b.dtype)} instead.")
    return _write_out(out, (x * y).sum(dim), "linalg.vecdot", x, y)


def vander(x, *, N=None):
    """The Vandermonde matrix of x: columns x^0, x^1, ..., x^(N-1) (N = x.size(-1) by default), as
    torch.linalg.vander (a cumprod joined to a column of ones, so CatBackward0)."""
    a = _tensor(x, "vander", "x")
    n = (a.shape[-1] if a.ndim else 0) if N is None else N
    if n <= 1:
        raise RuntimeError("N must be greater than 1.")
    powers = _reduce.cumprod(x.unsqueeze(-1).expand(*(a.shape + (n - 1,))), -1)
    ones = _wrap(xp_of(a).ones(a.shape + (1,), dtype=powers._data.dtype))
    return _shape.cat([ones, powers], -1)


def tensorinv(A, ind=2, *, out=None):
    """The tensor X with tensordot(A, X, ind) the identity, as torch.linalg.tensorinv: the inverse of A
    seen as a prod(A.shape[:ind]) x prod(A.shape[ind:]) matrix."""
    a = _tensor(A, "tensorinv")
    if not isinstance(ind, int) or ind <= 0:
        raise RuntimeError(f"Expected a strictly positive integer for 'ind', but got {ind}")
    head, tail = a.shape[:ind], a.shape[ind:]
    m, n = math.prod(head), math.prod(tail)
    if m != n:
        raise RuntimeError(f"Expected self to satisfy the requirement prod(self.shape[ind:]) == "
                           f"prod(self.shape[:ind]), but got {n} != {m}")
    try:
        res = inv(A.reshape(m, n))
    except LinAlgError:
        raise LinAlgError("Failed to invert the input tensor, because it is singular.") from None
    return _write_out(out, res.reshape(*(tail + head)), "linalg.tensorinv", A)


def tensorsolve(A, B, dims=None, *, out=None):
    """X with tensordot(A, X, X.ndim) = B, as torch.linalg.tensorsolve (dims of A moved to the end first)."""
    a = _tensor(A, "tensorsolve")
    b = _tensor(B, "tensorsolve", "B", 2)
    if dims is not None:
        dims = (dims,) if isinstance(dims, int) else tuple(dims)
        A = _shape.movedim(A, dims, tuple(range(a.ndim - len(dims), a.ndim)))
        a = A._data
    res_shape = a.shape[b.ndim:]
    n, m = math.prod(res_shape), b.size        # as torch: B's size, not A's leading dims
    if n != m:
        raise RuntimeError(f"Expected self to satisfy the requirement prod(self.shape[other.ndim:]) == "
                           f"prod(self.shape[:other.ndim]), but got {n} != {m}")
    res = solve(A.reshape(m, n), B.reshape(-1))
    return _write_out(out, res.reshape(*res_shape), "linalg.tensorsolve", A, B)


class LinalgCrossBackward0(_LinalgNode):
    """d(a x b) = da x b + a x db: ga = b x g, gb = g x a."""

    __slots__ = ()
    _double_backward = True   # through _apply_tensors (create_graph=True)

    def _apply_tensors(self, grad, saved):
        """create_graph=True: the same formula on Tensors."""
        a, b = saved
        ax = self.s["axis"]
        nf = self.next_functions
        ga = cross(b, grad, dim=ax).sum_to_size(a.shape) if nf[0][0] is not None else None
        gb = cross(grad, a, dim=ax).sum_to_size(b.shape) if nf[1][0] is not None else None
        return ga, gb

    def apply(self, g):
        xp = xp_of(g)
        s = self.s
        ax = s["axis"]
        ga = gb = None
        if self.next_functions[0][0] is not None:
            ga = _unbroadcast(xp.cross(s["b"], g, axis=ax), s["a"].shape)
        if self.next_functions[1][0] is not None:
            gb = _unbroadcast(xp.cross(g, s["a"], axis=ax), s["b"].shape)
        return ga, gb


def cross(input, other, *, dim=-1, out=None):
    """The cross product of 3-vectors along dim (broadcasting), as torch.linalg.cross."""
    return _cross(input, other, dim, out, "linalg.cross")


def _cross(input, other, dim, out, op):
    a = _tensor(input, "cross", "input")
    b = _tensor(other, "cross", "other", 2)
    if a.dtype != b.dtype:
        raise RuntimeError(f"{op}: expected both inputs to have the same dtype, but got {scalar_name(a.dtype)} "
                           f"and {scalar_name(b.dtype)}")
    if a.ndim != b.ndim:
        raise RuntimeError(f"{op}: inputs must have the same number of dimensions.")
    nd = a.ndim
    if not -nd <= dim < nd:
        raise IndexError(f"Dimension out of range (expected to be in range of [{-nd}, {nd - 1}], but got {dim})")
    ax = dim % nd
    sa = (1,) * (nd - a.ndim) + a.shape
    sb = (1,) * (nd - b.ndim) + b.shape
    if sa[ax] != 3 or sb[ax] != 3:
        raise RuntimeError(f"{op}: inputs dimension {dim} must have length 3. Got {sa[ax]} and {sb[ax]}")
    xp = xp_of(a)
    try:
        shape = np.broadcast_shapes(a.shape, b.shape)
    except ValueError:
        raise RuntimeError(f"{op}: the shapes {list(a.shape)} and {list(b.shape)} do not broadcast") from None
    res = xp.cross(xp.broadcast_to(a, shape), xp.broadcast_to(b, shape), axis=ax).astype(a.dtype, copy=False)
    node = _make(LinalgCrossBackward0, (input, other), a=a, b=b, axis=ax) if _needs(input, other) else None
    return _write_out(out, _finish(res, node), op, input, other)


def _cross_top(input, other, dim=None, *, out=None):
    """torch.cross: dim defaults (deprecated) to the first dim of size 3."""
    if dim is None:
        warnings.warn("Using torch.cross without specifying the dim arg is deprecated.\nPlease either pass the "
                      "dim explicitly or simply use torch.linalg.cross.\nThe default value of dim will change to "
                      "agree with that of linalg.cross in a future release.", UserWarning, stacklevel=2)
        shape = input._data.shape
        dim = next((i for i, s in enumerate(shape) if s == 3), -1)
    return _cross(input, other, dim, out, "linalg.cross")


def diagonal(A, *, offset=0, dim1=-2, dim2=-1):
    """A view of the diagonals of A's matrices, as torch.linalg.diagonal."""
    return _shape.diagonal(A, offset, dim1, dim2)


def matmul(input, other, *, out=None):
    """Alias of torch.matmul."""
    return _mm.matmul(input, other, out=out)


# ---- matrix exponential -------------------------------------------------------------------------
# Higham (2005): the [13/13] Pade approximant after scaling A by 2^-s so that ||A||_1 <= theta_13,
# then s squarings; computed in float64 whatever the input's dtype
_PADE13 = (64764752532480000., 32382376266240000., 7771770303897600., 1187353796428800., 129060195264000.,
           10559470521600., 670442572800., 33522128640., 1323241920., 40840800., 960960., 16380., 182., 1.)
_THETA13 = 5.371920351148152


def _expm(a):
    xp = xp_of(a)
    A = a.astype(np.float64)
    n = A.shape[-1]
    if A.size == 0:
        return A.astype(a.dtype)
    with np.errstate(all="ignore"):
        norm1 = xp.abs(A).sum(-2).max(-1)
        ok = xp.isfinite(norm1)
        s = xp.where(ok & (norm1 > _THETA13), xp.ceil(xp.log2(xp.where(ok, norm1, 1) / _THETA13)), 0).astype(np.int64)
        A = A * (0.5 ** s)[..., None, None]
        b = _PADE13
        eye = xp.eye(n, dtype=np.float64)
        A2 = A @ A
        A4 = A2 @ A2
        A6 = A4 @ A2
        U = A @ (A6 @ (b[13] * A6 + b[11] * A4 + b[9] * A2) + b[7] * A6 + b[5] * A4 + b[3] * A2 + b[1] * eye)
        V = A6 @ (b[12] * A6 + b[10] * A4 + b[8] * A2) + b[6] * A6 + b[4] * A4 + b[2] * A2 + b[0] * eye
        try:
            R = xp.linalg.solve(V - U, V + U)
        except np.linalg.LinAlgError:      # only for non-finite input
            R = xp.full(A.shape, xp.nan)
        for i in range(int(s.max()) if s.size else 0):
            R = xp.where((i < s)[..., None, None], R @ R, R)
        R = xp.where(ok[..., None, None], R, xp.nan)
    return R.astype(a.dtype, copy=False)


class LinalgMatrixExpBackward0(_LinalgNode):
    """torch's differential of exp at A applied to g (adjoint): the upper-right block of
    exp([[A^T, g], [0, A^T]])."""

    __slots__ = ()
    _double_backward = True   # through _apply_tensors (create_graph=True)

    def _apply_tensors(self, g, saved):
        """create_graph=True: the same block exponential, of Tensors."""
        from .ops.shape import cat
        at = saved[0].mT
        n = at.shape[-1]
        big = cat([cat([at, g], -1), cat([at * 0, at], -1)], -2)
        return (matrix_exp(big)[..., :n, n:],)

    def apply(self, g):
        xp = xp_of(g)
        at = _mT(self.s["a"])
        n = at.shape[-1]
        big = xp.zeros(g.shape[:-2] + (2 * n, 2 * n), dtype=g.dtype)
        big[..., :n, :n] = at
        big[..., n:, n:] = at
        big[..., :n, n:] = g
        return (xp.ascontiguousarray(_expm(big)[..., :n, n:]),)


def matrix_exp(A):
    """The matrix exponential of each square matrix of A, as torch.linalg.matrix_exp (also torch.matrix_exp
    and Tensor.matrix_exp)."""
    a = _tensor(A, "matrix_exp")
    if a.ndim < 2:
        raise RuntimeError("linalg.matrix_exp: The input tensor A must have at least 2 dimensions.")
    if a.shape[-1] != a.shape[-2]:
        raise RuntimeError(f"linalg.matrix_exp: A must be batches of square matrices, but they are "
                           f"{a.shape[-2]} by {a.shape[-1]} matrices")
    _float(a, "matrix_exp")
    node = _make(LinalgMatrixExpBackward0, (A,), a=a) if _needs(A) else None
    return _finish(_expm(a), node)


# ---- LU -----------------------------------------------------------------------------------------
_lu_factor_t = _return_type("linalg_lu_factor", ("LU", "pivots"))
_lu_factor_ex_t = _return_type("linalg_lu_factor_ex", ("LU", "pivots", "info"))
_lu_t = _return_type("linalg_lu", ("P", "L", "U"))


def _lu_arrays(a):
    """getrf: the packed LU factors of a (partial pivoting, the first largest pivot as idamax picks),
    LAPACK's 1-based int32 pivots and info (the first exactly zero pivot, 1-based; 0 when none)."""
    xp = xp_of(a)
    m, n = a.shape[-2:]
    k = min(m, n)
    batch = a.shape[:-2]
    A = a.reshape((-1, m, n)).copy()
    nb = A.shape[0]
    rows = xp.arange(nb)
    piv = xp.zeros((nb, k), dtype=np.int32)
    info = xp.zeros(nb, dtype=np.int32)
    with np.errstate(all="ignore"):
        for j in range(k):
            p = j + xp.argmax(xp.abs(A[:, j:, j]), axis=1)
            piv[:, j] = p + 1
            top = A[rows, j].copy()
            A[rows, j] = A[rows, p]
            A[rows, p] = top
            pivot = A[:, j, j]
            zero = pivot == 0
            info = xp.where((info == 0) & zero, j + 1, info).astype(np.int32)
            A[:, j + 1:, j] = xp.where(zero[:, None], A[:, j + 1:, j], A[:, j + 1:, j] / xp.where(zero, 1, pivot)[:, None])
            A[:, j + 1:, j + 1:] -= A[:, j + 1:, j:j + 1] * A[:, j:j + 1, j + 1:]
    return A.reshape(a.shape), piv.reshape(batch + (k,)), info.reshape(batch)


def _lu_unpack(LU, piv):
    """(P, L, U) arrays from packed factors: A = P L U, L (m, k) unit lower, U (k, n) upper."""
    xp = xp_of(LU)
    m, n = LU.shape[-2:]
    k = min(m, n)
    L = xp.tril(LU[..., :, :k], -1) + xp.eye(m, k, dtype=LU.dtype)
    U = xp.triu(LU[..., :k, :])
    perm = xp.broadcast_to(xp.arange(m), piv.shape[:-1] + (m,)).copy()
    flat, fp = perm.reshape(-1, m), piv.reshape(-1, k).astype(np.int64) - 1
    rows = xp.arange(flat.shape[0])
    for j in range(k):
        top = flat[rows, j].copy()
        flat[rows, j] = flat[rows, fp[:, j]]
        flat[rows, fp[:, j]] = top
    P = (flat[:, None, :] == xp.arange(m)[None, :, None]).astype(LU.dtype).reshape(perm.shape[:-1] + (m, m))
    return P, L, U


def _tri_solve(xp, T, B, upper, left, unit=False):
    """T^-1 B (left) or B T^-1 for triangular T (array level, batch dims broadcast)."""
    n = T.shape[-1]
    T = xp.triu(T) if upper else xp.tril(T)
    if unit:
        T = T.copy()
        T[..., xp.arange(n), xp.arange(n)] = 1
    batch = np.broadcast_shapes(T.shape[:-2], B.shape[:-2])
    T, B = xp.broadcast_to(T, batch + T.shape[-2:]), xp.broadcast_to(B, batch + B.shape[-2:])
    return xp.linalg.solve(T, B) if left else _mT(xp.linalg.solve(_mT(T), _mT(B)))


def _lu_backward(gL, gU, P, L, U):
    """torch's linalg_lu_backward (real case), for square, wide and tall A."""
    xp = xp_of(L)
    mm = xp.matmul
    m, n = L.shape[-2], U.shape[-1]
    k = min(m, n)
    if gL is None:
        gL = xp.zeros(L.shape, dtype=L.dtype)
    if gU is None:
        gU = xp.zeros(U.shape, dtype=U.dtype)
    if m == n:
        g = xp.tril(mm(_mT(L), gL), -1) + xp.triu(mm(gU, _mT(U)))
        g = _tri_solve(xp, _mT(U), g, upper=False, left=False)
        g = _tri_solve(xp, _mT(L), g, upper=True, left=True, unit=True)
    elif m < n:
        U1 = U[..., :k]
        g = mm(_mT(L), gL) - mm(xp.triu(gU), _mT(U))
        g = _tri_solve(xp, _mT(U1), xp.tril(g, -1), upper=False, left=False)
        g = xp.concatenate([g + xp.triu(gU[..., :k]), gU[..., k:]], axis=-1)
        g = _tri_solve(xp, _mT(L), g, upper=True, left=True, unit=True)
    else:
        L1 = L[..., :k, :]
        g = mm(gU, _mT(U)) - mm(_mT(L), xp.tril(gL, -1))
        g = _tri_solve(xp, _mT(L1), xp.triu(g), upper=True, left=True, unit=True)
        g = xp.concatenate([g + xp.tril(gL[..., :k, :], -1), gL[..., k:, :]], axis=-2)
        g = _tri_solve(xp, _mT(U), g, upper=False, left=False)
    return mm(P, g)


class LinalgLuBackward0(_MultiNode, _TracedNode):
    __slots__ = ()
    _s_constants = ("P",)   # a permutation: no gradient

    def _tensors(self, saved):
        return {"L": _saved_out(self, self.s["L"], 1), "U": _saved_out(self, self.s["U"], 2)}

    def apply(self, grads):
        _, gL, gU = _grads(grads, 3)
        if gL is None and gU is None:
            return (None,)
        s = self.s
        return (_lu_backward(gL, gU, s["P"], s["L"], s["U"]).astype(s["L"].dtype, copy=False),)


class LinalgLuFactorExBackward0(_MultiNode, _TracedNode):
    __slots__ = ()
    _s_constants = ("P",)   # a permutation: no gradient

    def _tensors(self, saved):
        # L and U from the packed output LU (L's unit diagonal a constant)
        L, U = self.s["L"], self.s["U"]
        xp = xp_of(L)
        m, k = L.shape[-2:]
        packed = xp.zeros(L.shape[:-1] + (U.shape[-1],), dtype=L.dtype)
        packed[..., :, :k] += xp.tril(L, -1)
        packed[..., :k, :] += xp.triu(U)
        LU = _saved_out(self, packed, 0)
        return {"L": LU[..., :, :k].tril(-1) + _wrap(xp.eye(m, k, dtype=L.dtype)), "U": LU[..., :k, :].triu()}

    def apply(self, grads):
        g = _grads(grads, 1)[0]
        s = self.s
        k = min(g.shape[-2:])
        P, L, U = s["P"], s["L"], s["U"]
        return (_lu_backward(xp_of(g).tril(g[..., :, :k], -1), xp_of(g).triu(g[..., :k, :]), P, L,
                             U).astype(L.dtype, copy=False),)


def _lu_input(A, op, shown):
    a = _tensor(A, op)
    if a.ndim < 2:
        raise RuntimeError(f"{shown}: Expected tensor with 2 or more dimensions. Got size: {list(a.shape)} instead")
    kind = scalar_name(a.dtype)
    if a.dtype.kind != "f" or a.dtype.itemsize < 4:
        raise NotImplementedError(f'"lu_cpu" not implemented for \'{kind}\'')
    return a


def lu_factor_ex(A, *, pivot=True, check_errors=False, out=None):
    """(LU, pivots, info) as torch.linalg.lu_factor_ex: LU holds L below its diagonal (unit diagonal
    implied) and U on and above it, pivots are LAPACK's 1-based int32 row swaps, info the first zero
    pivot (1-based; 0 when none)."""
    a = _lu_input(A, "linalg.lu_factor_ex", "torch.lu_factor")
    if not pivot:
        raise RuntimeError("linalg.lu_factor: LU without pivoting is not implemented on the CPU")
    LU, piv, info = _lu_arrays(a)
    if check_errors:
        _lu_zero_pivot_error(info, a.shape, "torch.linalg.lu_factor_ex")
    node = None
    if _needs(A):
        P, L, U = _lu_unpack(LU, piv)
        node = _make(LinalgLuFactorExBackward0, (A,), keep=(), P=P, L=L, U=U)
    LU_t = _finish_many((LU,), node, keep_outputs=True)[0]     # pivots and info are not differentiable
    return _write_outs(out, _lu_factor_ex_t(LU_t, _wrap(piv), _wrap(info)), "linalg.lu_factor_ex", A)


def lu_factor(A, *, pivot=True, out=None):
    """(LU, pivots) as torch.linalg.lu_factor; a zero pivot raises, as torch's does."""
    LU, piv, info = lu_factor_ex(A, pivot=pivot)
    _lu_zero_pivot_error(info._data, A._data.shape, "torch.linalg.lu_factor")
    return _write_outs(out, _lu_factor_t(LU, piv), "linalg.lu_factor", A)


def _lu_zero_pivot_error(info, shape, op):
    inf = _host(info).reshape(-1)
    if (inf > 0).any():
        i = int(np.argmax(inf > 0))
        k = int(inf[i])     # torch shows LAPACK's 1-based info as the index
        raise RuntimeError(f"{op}: {_batch_prefix(shape, i)}U[{k},{k}] is zero and using it on lu_solve would result "
                           "in a division by zero. If you still want to perform the factorization, consider calling "
                           "linalg.lu(A, pivot) or linalg.lu_factor_ex(A, pivot)")


def lu(A, *, pivot=True, out=None):
    """(P, L, U) with A = P L U, as torch.linalg.lu: P (m, m) a permutation, L (m, k) unit lower
    triangular, U (k, n) upper triangular, k = min(m, n)."""
    a = _lu_input(A, "linalg.lu", "linalg.lu")
    if not pivot:
        raise RuntimeError("linalg.lu: LU without pivoting is not implemented on the CPU")
    LU, piv, _ = _lu_arrays(a)
    P, L, U = _lu_unpack(LU, piv)
    node = None
    if _needs(A):
        node = _make(LinalgLuBackward0, (A,), keep=(), P=P, L=L, U=U)
    outs = _finish_many((P, L, U), node)
    if node is not None:
        outs[0]._requires_grad, outs[0].grad_fn = False, None     # P is not differentiable (torch: no grad_fn)
        _keep_outputs(node, outs[1], outs[2])
    return _write_outs(out, _lu_t(*outs), "linalg.lu", A)


def lu_solve(LU, pivots, B, *, left=True, adjoint=False, out=None):
    """X with A X = B (or X A = B; A^T for adjoint) from lu_factor's output, as torch.linalg.lu_solve.
    Built from differentiable ops (the triangular solves), so gradients reach LU and B."""
    lu_a = _tensor(LU, "lu_solve", "LU")
    b = _tensor(B, "lu_solve", "B", 3)
    if b.ndim < 2:
        raise RuntimeError("linalg.lu_solve: The input tensor B must have at least 2 dimensions.")
    n = lu_a.shape[-1]
    if lu_a.dtype != b.dtype:
        raise RuntimeError(f"linalg.lu_solve: Expected LU and B to have the same dtype, but found LU of type "
                           f"{scalar_name(lu_a.dtype)} and B of type {scalar_name(b.dtype)} instead")
    if (b.shape[-2] if left else b.shape[-1]) != n:
        raise RuntimeError(f"linalg.lu_solve: Incompatible shapes of A and B for the equation "
                           f"{'AX = B' if left else 'XA = B'} ({n}x{n} and {b.shape[-2]}x{b.shape[-1]})")
    P = _wrap(_lu_unpack(lu_a, _host(pivots._data) if xp_of(lu_a) is np else pivots._data)[0])
    L = LU.tril(-1) + _wrap(xp_of(lu_a).eye(n, dtype=lu_a.dtype))
    U = LU.triu()
    # A = P L U.  left: X = U^-1 L^-1 P^T B; adjoint: A^T X = B -> X = P L^-T U^-T B
    if left and not adjoint:
        X = solve_triangular(U, solve_triangular(L, _mm.matmul(P.mT, B), upper=False, unitriangular=True), upper=True)
    elif left:
        X = _mm.matmul(P, solve_triangular(L.mT, solve_triangular(U.mT, B, upper=False), upper=True,
                                          unitriangular=True))
    elif not adjoint:   # X P L U = B
        X = _mm.matmul(solve_triangular(L, solve_triangular(U, B, upper=True, left=False), upper=False, left=False,
                                        unitriangular=True), P.mT)
    else:               # X U^T L^T P^T = B
        X = solve_triangular(U.mT, solve_triangular(L.mT, _mm.matmul(B, P), upper=True, left=False,
                                                    unitriangular=True), upper=False, left=False)
    return _write_out(out, X, "linalg.lu_solve", LU, B)


class _NoGradient(_LinalgNode):
    """A node that sends no gradient back (torch leaves the inputs' .grad None)."""

    __slots__ = ()
    _double_backward = True   # nothing to differentiate

    def name(self):
        return "LinalgHouseholderProductBackward0"

    def apply(self, g):
        return (None,) * len(self.next_functions)


def householder_product(A, tau, *, out=None):
    """The first n columns of H_1 ... H_k, H_i = I - tau_i v_i v_i^T with v_i = (0, ..., 0, 1, A[i+1:, i]),
    as torch.linalg.householder_product (orgqr).  Built from differentiable ops, so gradients reach A
    and tau."""
    op = "torch.linalg.householder_product"
    a = _tensor(A, "householder_product", "input")
    t = _tensor(tau, "householder_product", "tau", 2)
    if a.ndim < 2:
        raise RuntimeError(f"{op}: input must have at least 2 dimensions.")
    m, n = a.shape[-2:]
    if m < n:
        raise RuntimeError(f"{op}: input.shape[-2] must be greater than or equal to input.shape[-1]")
    if t.shape[-1] > n:
        raise RuntimeError(f"{op}: input.shape[-1] must be greater than or equal to tau.shape[-1]")
    if t.shape[:-1] != a.shape[:-2]:
        raise RuntimeError(f"{op}: Expected batch dimensions of tau to be equal to input.shape[:-2], but got "
                           f"{list(t.shape[:-1])}")
    if t.dtype != a.dtype:
        raise RuntimeError(f"{op}: tau dtype {scalar_name(t.dtype)} does not match input dtype "
                           f"{scalar_name(a.dtype)}")
    _float(a, "householder_product")
    xp = xp_of(a)
    eye = _wrap(xp.broadcast_to(xp.eye(m, n, dtype=a.dtype), a.shape[:-2] + (m, n)).copy())
    below = _wrap(xp.tril(xp.ones((m, n), dtype=a.dtype), -1))
    V = A * below + _wrap(xp.eye(m, n, dtype=a.dtype))     # unit diagonal, the reflectors below it
    Q = eye
    if t.shape[-1] == 0 and _needs(A, tau):     # the identity, in the graph with no gradient (as torch)
        Q = _finish(eye._data, _make(_NoGradient, (A, tau)))
    for i in reversed(range(t.shape[-1])):      # Q = H_1 (H_2 (... (H_k I)))
        v = V[..., :, i:i + 1]
        Q = Q - tau[..., i:i + 1, None] * _mm.matmul(v, _mm.matmul(v.mT, Q))
    return _write_out(out, Q, "linalg.householder_product", A, tau)


# ---- torch.* forms built on the factorizations (cholesky_inverse/solve, lu, lu_unpack, ...) -------
class CholeskyInverseBackward0(_LinalgNode):
    """torch's cholesky_inverse_backward: gL = -(X (g + g^T) X) L (L (...) when upper), X the inverse
    (not restricted to L's triangle, as torch's)."""

    __slots__ = ()
    _double_backward = True   # through _apply_tensors (create_graph=True)

    def _apply_tensors(self, g, saved):
        """create_graph=True: the same formula on Tensors (the input, and the output X as saved)."""
        X, L = _saved_out(self, self.s["X"]), saved[0]
        common = X @ ((g + g.mT) @ X)
        return (-(L @ common) if self.s["upper"] else -(common @ L),)

    def apply(self, g):
        s = self.s
        X, L = s["X"], s["L"]
        common = xp_of(g).matmul(X, xp_of(g).matmul(g + _mT(g), X))
        return ((-(L @ common) if s["upper"] else -(common @ L)).astype(L.dtype, copy=False),)


def _cholesky_inverse_top(input, upper=False, *, out=None):
    """torch.cholesky_inverse: (L L^T)^-1 (or (U^T U)^-1 with upper) from a Cholesky factor."""
    a = _tensor(input, "cholesky_inverse", "input")
    if a.ndim < 2:
        raise RuntimeError("cholesky_inverse: The input tensor A must have at least 2 dimensions.")
    if a.shape[-1] != a.shape[-2]:
        raise RuntimeError(f"cholesky_inverse: A must be batches of square matrices, but they are {a.shape[-2]} by "
                           f"{a.shape[-1]} matrices")
    _float(a, "cholesky_inverse")
    xp = xp_of(a)
    T = xp.triu(a) if upper else xp.tril(a)
    eye = xp.broadcast_to(xp.eye(a.shape[-1], dtype=a.dtype), a.shape)
    with np.errstate(all="ignore"):
        try:
            Tinv = xp.linalg.solve(T, eye)
        except np.linalg.LinAlgError:
            Tinv = xp.full(a.shape, xp.nan, dtype=a.dtype)
    X = (xp.matmul(Tinv, _mT(Tinv)) if upper else xp.matmul(_mT(Tinv), Tinv)).astype(a.dtype, copy=False)
    node = _make(CholeskyInverseBackward0, (input,), X=X, L=a, upper=upper) if _needs(input) else None
    return _write_out(out, _finish_out(X, node), "cholesky_inverse", input)


class CholeskySolveBackward0(_LinalgNode):
    """torch's cholesky_solve_backward: gB = cholesky_solve(g, L); gL = -(C + C^T) L (L (...) when
    upper) with C = gB X^T."""

    __slots__ = ()
    _double_backward = True   # through _apply_tensors (create_graph=True)

    def _apply_tensors(self, g, saved):
        """create_graph=True: the same formula on Tensors (B, L, and the output X as saved)."""
        s, nf = self.s, self.next_functions
        L, upper = saved[1], s["upper"]
        X = _saved_out(self, s["X"])
        T = L.triu().mT if upper else L.tril()
        gB = solve_triangular(T.mT, solve_triangular(T, g, upper=False), upper=True)
        gb = _sum_to(gB, s["bshape"]) if nf[0][0] is not None else None
        gl = None
        if nf[1][0] is not None:
            C = gB @ X.mT
            C = C + C.mT
            gl = _sum_to(-(L @ C) if upper else -(C @ L), s["lshape"])
        return gb, gl

    def apply(self, g):
        s = self.s
        xp = xp_of(g)
        X, L, upper = s["X"], s["L"], s["upper"]
        T = _mT(xp.triu(L)) if upper else xp.tril(L)
        gB = _tri_solve(xp, _mT(T), _tri_solve(xp, T, g, upper=False, left=True), upper=True, left=True)
        gb = _unbroadcast(gB, s["bshape"]).astype(g.dtype, copy=False) if self.next_functions[0][0] is not None \
            else None
        gl = None
        if self.next_functions[1][0] is not None:
            C = xp.matmul(gB, _mT(X))
            C = C + _mT(C)
            gl = _unbroadcast(-(xp.matmul(L, C) if upper else xp.matmul(C, L)), s["lshape"]).astype(g.dtype,
                                                                                                     copy=False)
        return gb, gl


def _cholesky_solve_top(input, input2, upper=False, *, out=None):
    """torch.cholesky_solve(B, L): X with (L L^T) X = B (or (U^T U) X = B with upper)."""
    b = _tensor(input, "cholesky_solve", "input")
    a = _matrix(input2, "cholesky_solve", floating=False, arg="input2")
    _float(a, "cholesky_solve")
    if b.ndim < 2:
        raise RuntimeError(f"b should have at least 2 dimensions, but has {b.ndim} dimensions instead")
    if a.dtype != b.dtype:
        raise RuntimeError(f"Expected b and A to have the same dtype, but found b of type {scalar_name(b.dtype)} "
                           f"and A of type {scalar_name(a.dtype)} instead.")
    if b.shape[-2] != a.shape[-1]:
        raise RuntimeError(f"Incompatible matrix sizes for cholesky_solve: each A matrix is {a.shape[-1]} by "
                           f"{a.shape[-1]} but each b matrix is {b.shape[-2]} by {b.shape[-1]}")
    xp = xp_of(a)
    T = _mT(xp.triu(a)) if upper else xp.tril(a)       # the lower factor
    with np.errstate(all="ignore"):
        X = _tri_solve(xp, _mT(T), _tri_solve(xp, T, b, upper=False, left=True), upper=True, left=True)
    X = xp.ascontiguousarray(X.astype(a.dtype, copy=False))
    node = None
    if _needs(input, input2):
        # the solves read one triangle; torch's gradient formula multiplies by the whole input2
        node = _make(CholeskySolveBackward0, (input, input2), X=X, L=a, upper=upper, bshape=b.shape, lshape=a.shape)
    return _write_out(out, _finish_out(X, node), "cholesky_solve", input, input2)


_triangular_solve_t = _return_type("triangular_solve", ("solution", "cloned_coefficient"))
_lu_unpack_t = _return_type("lu_unpack", ("P", "L", "U"))
_lu_with_info_t = _return_type("_lu_with_info", ("LU", "pivots", "info"))
_DEPRECATED_WARNED = set()


def _warn_deprecated(name, text):
    if name not in _DEPRECATED_WARNED:
        _DEPRECATED_WARNED.add(name)
        warnings.warn(text, UserWarning, stacklevel=3)


def _triangular_solve_top(input, A, upper=True, transpose=False, unitriangular=False, *, out=None):
    """torch.triangular_solve(b, A) (deprecated in torch): (solution of A X = b, or A^T X = b with
    transpose; a clone of A)."""
    _warn_deprecated("triangular_solve", "torch.triangular_solve is deprecated in favor of "
                     "torch.linalg.solve_triangularand will be removed in a future PyTorch release.\n"
                     "torch.linalg.solve_triangular has its arguments reversed and does not return a copy of one of "
                     "the inputs.\nX = torch.triangular_solve(B, A).solution\nshould be replaced with\n"
                     "X = torch.linalg.solve_triangular(A, B).")
    T = A.mT if transpose else A
    X = solve_triangular(T, input, upper=upper != transpose, unitriangular=unitriangular)
    return _triangular_solve_t(X, A.clone())


def _lu_unpack_top(LU_data, LU_pivots, unpack_data=True, unpack_pivots=True, *, out=None):
    """torch.lu_unpack: (P, L, U) from lu_factor's packed output (empty tensors for the parts not
    unpacked)."""
    lu_a = _tensor(LU_data, "lu_unpack", "LU_data")
    xp = xp_of(lu_a)
    m, n = lu_a.shape[-2:]
    k = min(m, n)
    empty = _wrap(xp.empty((0,), dtype=lu_a.dtype))
    P = _wrap(_lu_unpack(lu_a, LU_pivots._data)[0]) if unpack_pivots else empty
    if not unpack_data:
        return _lu_unpack_t(P, empty, empty)
    L = LU_data[..., :, :k].tril(-1) + _wrap(xp.eye(m, k, dtype=lu_a.dtype))
    U = LU_data[..., :k, :].triu()
    return _lu_unpack_t(P, L, U)


def _lu_top(A, pivot=True, get_infos=False, out=None):
    """torch.lu / Tensor.lu (deprecated in torch): (LU, pivots), with info when get_infos."""
    _warn_deprecated("lu", "torch.lu is deprecated in favor of torch.linalg.lu_factor / torch.linalg.lu_factor_ex and "
                     "will be removed in a future PyTorch release.\nLU, pivots = torch.lu(A, compute_pivots)\n"
                     "should be replaced with\nLU, pivots = torch.linalg.lu_factor(A, compute_pivots)\nand\n"
                     "LU, pivots, info = torch.lu(A, compute_pivots, get_infos=True)\nshould be replaced with\n"
                     "LU, pivots, info = torch.linalg.lu_factor_ex(A, compute_pivots)")
    LU, piv, info = lu_factor_ex(A, pivot=pivot, check_errors=not get_infos)
    return _lu_with_info_t(LU, piv, info) if get_infos else (LU, piv)


def _lu_solve_top(input, LU_data, LU_pivots, *, out=None):
    """torch.lu_solve(b, LU, pivots) / Tensor.lu_solve (deprecated in torch): linalg.lu_solve."""
    _warn_deprecated("lu_solve", "torch.lu_solve is deprecated in favor of torch.linalg.lu_solveand will be removed in "
                     "a future PyTorch release.\nNote that torch.linalg.lu_solve has its arguments reversed.\n"
                     "X = torch.lu_solve(B, LU, pivots)\nshould be replaced with\nX = torch.linalg.lu_solve(LU, "
                     "pivots, B)")
    return lu_solve(LU_data, LU_pivots, input, out=out)


# ---- cholesky -----------------------------------------------------------------------------------
class LinalgCholeskyExBackward0(_LinalgNode):
    """Murray (2016), as torch's cholesky_backward: gA = L^-T Phi(L^T gL) L^-1, symmetrised."""

    __slots__ = ()
    _double_backward = True   # through _apply_tensors (create_graph=True)

    def _apply_tensors(self, g, saved):
        """create_graph=True: the same formula on Tensors (the output L as saved), its solves triangular."""
        L = _saved_out(self, self.s["L"])
        if self.s["upper"]:
            L, g = L.mT, g.mT
        P = (L.mT @ g).tril()
        P = 0.5 * (P + P.tril(-1).mT)
        X = solve_triangular(L.mT, P, upper=True)
        ga = solve_triangular(L.mT, X.mT, upper=True).mT
        return (0.5 * (ga + ga.mT),)

    def apply(self, g):
        xp = xp_of(g)
        L, upper = self.s["L"], self.s["upper"]
        if upper:
            L, g = _mT(L), _mT(g)
        P = xp.tril(xp.matmul(_mT(L), g))
        P = 0.5 * (P + _mT(xp.tril(P, -1)))
        X = xp.linalg.solve(_mT(L), P)              # L^-T P
        ga = _mT(xp.linalg.solve(_mT(L), _mT(X)))   # (L^-T X^T)^T = X L^-1
        # torch returns the symmetric gradient
        ga = 0.5 * (ga + _mT(ga))
        return (ga.astype(L.dtype, copy=False),)


class CholeskyBackward0(LinalgCholeskyExBackward0):
    __slots__ = ()


def _not_pd(a):
    h = _host(a)
    flat = h.reshape((-1,) + h.shape[-2:])
    for i, m in enumerate(flat):
        for k in range(1, m.shape[0] + 1):
            try:
                np.linalg.cholesky(m[:k, :k])
            except np.linalg.LinAlgError:
                return i, k
    return 0, h.shape[-1]


def _cholesky(A, upper, op, cls, check=True):
    a = _matrix(A, op.split(".")[-1])
    xp = xp_of(a)
    info = None
    A_ = A
    if upper:       # torch (LAPACK uplo='U') reads the upper triangle: factor its transpose
        a = _mT(a)
    try:
        L = xp.linalg.cholesky(a)
        ok = bool(xp.isfinite(L).all()) or not bool(xp.isfinite(a).all())
    except np.linalg.LinAlgError:
        ok = False
    if not ok:
        i, k = _not_pd(a)
        if check:
            raise LinAlgError(f"{op}: {_batch_prefix(a.shape, i)}The factorization could not be completed because "
                              f"the input is not positive-definite (the leading minor of order {k} is not "
                              "positive-definite).")
        flat = _host(a).reshape((-1,) + a.shape[-2:])
        Ls = np.zeros(flat.shape, dtype=a.dtype)
        inf = np.zeros(len(flat), dtype=np.int32)
        for j, m in enumerate(flat):
            try:
                Ls[j] = np.linalg.cholesky(m)
            except np.linalg.LinAlgError:
                inf[j] = _not_pd(m)[1]
                Ls[j] = np.nan
        L = xp.asarray(Ls.reshape(a.shape))
        info = xp.asarray(inf.reshape(a.shape[:-2]))
    L = xp.tril(L).astype(a.dtype, copy=False)
    if upper:
        L = xp.ascontiguousarray(_mT(L))
    node = _make(cls, (A_,), keep=(), L=L, upper=upper) if _needs(A_) else None
    return _finish_out(L, node), info


def cholesky(A, *, upper=False, out=None):
    """The Cholesky factor L (A = L L^T) of each symmetric positive-definite matrix of A; U = L^T
    with upper=True.  LinAlgError when a matrix is not positive-definite."""
    L, _ = _cholesky(A, upper, "linalg.cholesky", LinalgCholeskyExBackward0)
    return _write_out(out, L, "linalg.cholesky", A)


def cholesky_ex(A, *, upper=False, check_errors=False, out=None):
    """(L, info) as torch.linalg.cholesky_ex: info is 0, or the order of the leading minor that is
    not positive-definite (then L holds nan)."""
    L, info = _cholesky(A, upper, "linalg.cholesky_ex", LinalgCholeskyExBackward0, check=check_errors)
    if info is None:
        info = xp_of(L._data).zeros(L._data.shape[:-2], dtype=np.int32)
    return _write_outs(out, _cholesky_ex_t(L, _wrap(info)), "linalg.cholesky_ex", A)


_CHOLESKY_WARNED = [False]


def _cholesky_top(input, upper=False, *, out=None):
    """torch.cholesky (deprecated in torch, still there): linalg.cholesky with upper."""
    if not _CHOLESKY_WARNED[0]:
        _CHOLESKY_WARNED[0] = True
        warnings.warn("torch.cholesky is deprecated in favor of torch.linalg.cholesky and will be removed in a "
                      "future PyTorch release.\nL = torch.cholesky(A)\nshould be replaced with\n"
                      "L = torch.linalg.cholesky(A)\nand\nU = torch.cholesky(A, upper=True)\nshould be replaced "
                      "with\nU = torch.linalg.cholesky(A).mH\nThis transform will produce equivalent results for "
                      "all valid (symmetric positive definite) inputs.", UserWarning, stacklevel=2)
    L, _ = _cholesky(input, upper, "cholesky", CholeskyBackward0)
    return _write_out(out, L, "cholesky", input)


# ---- qr -----------------------------------------------------------------------------------------
def _qr_square_tall_backward(xp, Q, R, gQ, gR):
    """m >= n, reduced: gA = (gQ + Q copyltu(M)) R^-T with M = R gR^T - gQ^T Q."""
    M = xp.zeros(R.shape[:-2] + (R.shape[-1], R.shape[-1]), dtype=R.dtype)
    if gR is not None:
        M = M + xp.matmul(R, _mT(gR))
    if gQ is not None:
        M = M - xp.matmul(_mT(gQ), Q)
    low = xp.tril(M, -1)
    sym = low + _mT(low) + xp.tril(xp.triu(M))      # copy the lower triangle to the upper
    B = xp.matmul(Q, sym)
    if gQ is not None:
        B = B + gQ
    # B R^-T = (R^-1 B^T)^T
    return _mT(xp.linalg.solve(R, _mT(B)))


class LinalgQrBackward0(_MultiNode, _TracedNode):
    __slots__ = ()

    def _tensors(self, saved):
        return {"Q": _saved_out(self, self.s["Q"], 0), "R": _saved_out(self, self.s["R"], 1)}

    def apply(self, grads):
        gQ, gR = _grads(grads, 2)
        xp = xp_of(gQ if gQ is not None else gR)
        s = self.s
        Q, R, mode = s["Q"], s["R"], s["mode"]
        if mode == "r":
            raise RuntimeError("The derivative of linalg.qr depends on Q, which is not computed when mode='r'. "
                               "Please use linalg.qr(A, mode='reduced') if you are going to differentiate "
                               "through linalg.qr.")
        m, n = Q.shape[-2], R.shape[-1]
        if mode == "complete" and m > n:
            raise RuntimeError("The QR decomposition is not differentiable when mode='complete' and nrows > ncols.")
        if m >= n:
            return (_qr_square_tall_backward(xp, Q, R, gQ, gR).astype(Q.dtype, copy=False),)
        # wide: A = [X | Y] with X = Q R1 square, Y = Q R2
        R1, R2 = R[..., :, :m], R[..., :, m:]
        Y = xp.matmul(Q, R2)        # A's last columns, from the outputs (torch does not keep A)
        gR1 = gR[..., :, :m] if gR is not None else None
        gQ2 = gQ
        gY = None
        if gR is not None:
            gR2 = gR[..., :, m:]
            gY = xp.matmul(Q, gR2)
            extra = xp.matmul(Y, _mT(gR2))
            gQ2 = extra if gQ2 is None else gQ2 + extra
        else:
            gY = xp.zeros(Y.shape, dtype=Q.dtype)
        gX = _qr_square_tall_backward(xp, Q, R1, gQ2, gR1)
        return (xp.concatenate([gX, gY], axis=-1).astype(Q.dtype, copy=False),)


def qr(A, mode="reduced", *, out=None):
    """(Q, R) with A = Q R, as torch.linalg.qr (mode 'reduced', 'complete' or 'r')."""
    a = _matrix(A, "qr", square=False)
    if mode not in ("reduced", "complete", "r"):
        raise RuntimeError(f"qr received unrecognized mode '{mode}' but expected one of 'reduced' (default), "
                           "'r', or 'complete'")
    xp = xp_of(a)
    Q, R = xp.linalg.qr(a, mode="complete" if mode == "complete" else "reduced")
    Q, R = Q.astype(a.dtype, copy=False), R.astype(a.dtype, copy=False)
    if mode == "r":
        Q = xp.empty((0,), dtype=a.dtype)
    node = _make(LinalgQrBackward0, (A,), keep=(), Q=Q, R=R, mode=mode) if _needs(A) else None
    return _write_outs(out, _qr_t(*_finish_many((Q, R), node, keep_outputs=True)), "linalg.qr", A)


_QR_WARNED = [False]


def _qr_top(input, some=True, *, out=None):
    """torch.qr / Tensor.qr (deprecated in torch, still there): linalg.qr with mode 'reduced' when some
    is True, else 'complete', returned as torch.return_types.qr."""
    if not _QR_WARNED[0]:
        _QR_WARNED[0] = True
        warnings.warn("torch.qr is deprecated in favor of torch.linalg.qr and will be removed in a future PyTorch "
                      "release.\nThe boolean parameter 'some' has been replaced with a string parameter 'mode'.\n"
                      "Q, R = torch.qr(A, some)\nshould be replaced with\n"
                      "Q, R = torch.linalg.qr(A, 'reduced' if some else 'complete')", UserWarning, stacklevel=2)
    res = _qr_top_t(*qr(input, "reduced" if some else "complete"))
    if out is None:
        return res
    for o, r in zip(out, res):
        _write_out(o, r, "qr", input)
    return _qr_top_t(*out)


# ---- eigh ---------------------------------------------------------------------------------------
class LinalgEighBackward0(_MultiNode):
    """torch's linalg_eig_backward for Hermitian input: gA = V (diag(gL) + sym(V^T gV) / E) V^T,
    E_ij = L_j - L_i, with the skew part of V^T gV taken."""

    __slots__ = ()
    _double_backward = True   # through _apply_tensors (create_graph=True)

    def _apply_tensors(self, grads, saved):
        """create_graph=True: the same formula on Tensors (the outputs L and V as saved)."""
        from .ops.shape import diag_embed
        gL, gV = _grads(grads, 2)
        L, V = _saved_out(self, self.s["L"], 0), _saved_out(self, self.s["V"], 1)
        ret = None
        if gV is not None:
            VhgV = V.mT @ gV
            VhgV = 0.5 * (VhgV - VhgV.mT)
            eye = _wrap(xp_of(self.s["L"]).eye(L.shape[-1], dtype=self.s["L"].dtype))
            ret = VhgV / (L[..., None, :] - L[..., :, None] + eye) * (1 - eye)
        if gL is not None:
            ret = diag_embed(gL) if ret is None else ret + diag_embed(gL)
        return (V @ (ret @ V.mT),)

    def apply(self, grads):
        gL, gV = _grads(grads, 2)
        s = self.s
        L, V = s["L"], s["V"]
        xp = xp_of(L)
        n = L.shape[-1]
        if gV is not None:
            VhgV = xp.matmul(_mT(V), gV)
            VhgV = 0.5 * (VhgV - _mT(VhgV))
            E = L[..., None, :] - L[..., :, None]
            idx = xp.arange(n)
            E[..., idx, idx] = 1
            ret = VhgV / E
            ret[..., idx, idx] = gL if gL is not None else 0
        else:
            ret = gL[..., :, None] * xp.eye(n, dtype=L.dtype)
        ga = xp.matmul(V, xp.matmul(ret, _mT(V)))
        return (ga.astype(L.dtype, copy=False),)


def _eigh(A, UPLO, op, vectors=True):
    a = _matrix(A, op)
    if UPLO not in ("L", "U"):
        raise RuntimeError(f"Expected UPLO argument to be 'L' or 'U', but got {UPLO}")
    xp = xp_of(a)
    if vectors:
        L, V = xp.linalg.eigh(a, UPLO=UPLO)
    else:
        L, V = xp.linalg.eigh(a, UPLO=UPLO)
    L, V = L.astype(a.dtype, copy=False), V.astype(a.dtype, copy=False)
    node = _make(LinalgEighBackward0, (A,), keep=(), L=L, V=V) if _needs(A) else None
    return L, V, node


def eigh(A, UPLO="L", *, out=None):
    """(eigenvalues ascending, eigenvectors) of each symmetric matrix of A, reading the triangle
    UPLO, as torch.linalg.eigh."""
    L, V, node = _eigh(A, UPLO, "eigh")
    return _write_outs(out, _eigh_t(*_finish_many((L, V), node, keep_outputs=True)), "linalg.eigh", A)


def eigvalsh(A, UPLO="L", *, out=None):
    """The eigenvalues (ascending) of each symmetric matrix of A, as torch.linalg.eigvalsh."""
    L, V, node = _eigh(A, UPLO, "eigvalsh", vectors=False)
    if node is None:
        return _write_out(out, _wrap(L), "linalg.eigvalsh", A)
    L = _finish_many((L, V), node)[0]
    _keep_outputs(node, L)
    return _write_out(out, L, "linalg.eigvalsh", A)     # with out=, torch refuses an input requiring grad


# ---- eig ----------------------------------------------------------------------------------------
class LinalgEigBackward0(_MultiNode):
    """torch's linalg_eig_backward for general matrices: gA = V^-H (diag(gL) + P(V^H gV) / conj(E)) V^H,
    E_ij = L_j - L_i, P projecting onto the eigenvectors' unit-norm tangent space; real for a real A."""

    __slots__ = ()

    def apply(self, grads):
        gL, gV = _grads(grads, 2)
        s = self.s
        L, V = s["L"], s["V"]
        xp = xp_of(L)
        Vh = _mT(V).conj()
        if gV is None:   # (eigvals)
            ga = xp.linalg.solve(Vh, gL[..., :, None] * Vh)
        else:
            VhgV = xp.matmul(Vh, gV)
            diag = xp.diagonal(VhgV, axis1=-2, axis2=-1)
            if not xp.allclose(diag.imag, 0, rtol=1e-2, atol=1e-2):
                raise RuntimeError("linalg_eig_backward: The eigenvectors in the complex case are specified up to "
                                   "multiplication by e^{i phi}. The specified loss function depends on this "
                                   "quantity, so it is ill-defined.")
            VhgV = VhgV - xp.matmul(Vh, V * diag.real[..., None, :])
            Lc = L.conj()
            E = Lc[..., None, :] - Lc[..., :, None]
            idx = xp.arange(L.shape[-1])
            E[..., idx, idx] = 1
            ret = VhgV / E
            if gL is not None:
                ret[..., idx, idx] = gL
            ga = xp.linalg.solve(Vh, xp.matmul(ret, Vh))
        return (ga.real.astype(s["dtype"], copy=False),)   # (A is real: the real part, as torch)


_eig_t = _return_type("linalg_eig", ("eigenvalues", "eigenvectors"))


def _eig(A, op):
    a = _matrix(A, op)
    xp = xp_of(a)
    L, V = xp.linalg.eig(a)
    cdt = np.complex64 if a.dtype == np.float32 else np.complex128   # complex even where all are real
    L, V = L.astype(cdt, copy=False), V.astype(cdt, copy=False)
    node = _make(LinalgEigBackward0, (A,), keep=(), L=L, V=V, dtype=a.dtype) if _needs(A) else None
    return L, V, node


def eig(A, *, out=None):
    """(eigenvalues, eigenvectors) of each square matrix of A, complex (LAPACK's order, unit-norm
    eigenvectors), as torch.linalg.eig."""
    L, V, node = _eig(A, "eig")
    return _write_outs(out, _eig_t(*_finish_many((L, V), node, keep_outputs=True)), "linalg.eig", A)


def eigvals(A, *, out=None):
    """The eigenvalues of each square matrix of A, complex, as torch.linalg.eigvals."""
    L, V, node = _eig(A, "eigvals")
    if node is None:
        return _write_out(out, _wrap(L), "linalg.eigvals", A)
    L = _finish_many((L, V), node)[0]
    _keep_outputs(node, L)
    return _write_out(out, L, "linalg.eigvals", A)


# ---- svd ----------------------------------------------------------------------------------------
class LinalgSvdBackward0(_MultiNode, _TracedNode):
    """torch's svd_backward (real case); the singular values must be distinct (and nonzero when
    U or Vh's gradient is used on a non-square matrix)."""

    __slots__ = ()

    def _tensors(self, saved):
        s = self.s
        vh = _saved_out(self, _mT(s["Vh"]), 2).mT if s.get("transposed_v") else _saved_out(self, s["Vh"], 2)
        return {"U": _saved_out(self, s["U"], 0), "S": _saved_out(self, s["S"], 1), "Vh": vh}

    def apply(self, grads):
        gU, gS, gVh = _grads(grads, 3)
        s = self.s
        U, S, Vh = s["U"], s["S"], s["Vh"]
        xp = xp_of(S)
        mm = xp.matmul
        m, n = U.shape[-2], Vh.shape[-1]
        k = S.shape[-1]
        U = U[..., :, :k]
        Vh = Vh[..., :k, :]
        if s.get("transposed_v") and gVh is not None:     # torch.svd returns V: its gradient is gV
            gVh = _mT(gVh)
        if gU is not None:
            gU = gU[..., :, :k]
        if gVh is not None:
            gVh = gVh[..., :k, :]
        if gU is None and gVh is None:
            return (mm(U * gS[..., None, :], Vh).astype(S.dtype, copy=False),)
        V = _mT(Vh)
        gV = _mT(gVh) if gVh is not None else None
        S2 = S * S
        E = S2[..., None, :] - S2[..., :, None]
        idx = xp.arange(k)
        E[..., idx, idx] = 1
        ret = xp.zeros(S.shape + (k,), dtype=S.dtype)
        if gU is not None:
            UhgU = mm(_mT(U), gU)
            UhgU = UhgU - _mT(UhgU)
            ret = ret + UhgU * S[..., None, :]
        if gV is not None:
            VhgV = mm(Vh, gV)
            VhgV = VhgV - _mT(VhgV)
            ret = ret + S[..., :, None] * VhgV
        ret = ret / E
        ret[..., idx, idx] = gS if gS is not None else 0
        if m > k and gU is not None:
            ga = mm(U, ret)
            gUSinv = gU / S[..., None, :]
            ga = ga + gUSinv - mm(U, mm(_mT(U), gUSinv))
            ga = mm(ga, Vh)
        elif n > k and gV is not None:
            ga = mm(ret, Vh)
            SinvgVh = _mT(gV) / S[..., :, None]
            ga = ga + SinvgVh - mm(mm(SinvgVh, V), Vh)
            ga = mm(U, ga)
        else:
            ga = mm(U, mm(ret, Vh))
        return (ga.astype(S.dtype, copy=False),)


def _svd(A, full_matrices, op):
    a = _matrix(A, op, square=False)
    xp = xp_of(a)
    U, S, Vh = xp.linalg.svd(a, full_matrices=full_matrices)
    return a, U.astype(a.dtype, copy=False), S.astype(a.dtype, copy=False), Vh.astype(a.dtype, copy=False)


def svd(A, full_matrices=True, *, driver=None, out=None):
    """(U, S, Vh) with A = U diag(S) Vh, as torch.linalg.svd."""
    a, U, S, Vh = _svd(A, full_matrices, "svd")
    node = _make(LinalgSvdBackward0, (A,), keep=(), U=U, S=S, Vh=Vh) if _needs(A) else None
    return _write_outs(out, _svd_t(*_finish_many((U, S, Vh), node, keep_outputs=True)), "linalg.svd", A)


def svdvals(A, *, driver=None, out=None):
    """The singular values (descending) of A's matrices, as torch.linalg.svdvals."""
    a, U, S, Vh = _svd(A, False, "svdvals")
    if not _needs(A):
        return _write_out(out, _wrap(S), "linalg.svdvals", A)
    node = _make(LinalgSvdBackward0, (A,), keep=(), U=U, S=S, Vh=Vh)
    S = _finish_many((U, S, Vh), node)[1]
    _keep_outputs(node, S)
    return _write_out(out, S, "linalg.svdvals", A)


def _svd_top(input, some=True, compute_uv=True):
    """torch.svd: (U, S, V) -- V, not Vh -- reduced unless some=False; with compute_uv=False U and V
    are zero-filled."""
    a, U, S, Vh = _svd(input, not some and compute_uv, "svd")
    xp = xp_of(a)
    if not compute_uv:
        # torch: U and V zero-filled, (m, m) and (n, n) whatever some says, and outside the graph;
        # S keeps its gradient (the node keeps the real factors)
        m, n = a.shape[-2:]
        node = _make(LinalgSvdBackward0, (input,), U=U, S=S, Vh=Vh) if _needs(input) else None
        S_t = _finish_many((U, S, Vh), node)[1] if node is not None else _wrap(S)
        return _svd_top_t(_wrap(xp.zeros(a.shape[:-2] + (m, m), dtype=a.dtype)), S_t,
                          _wrap(xp.zeros(a.shape[:-2] + (n, n), dtype=a.dtype)))
    V = _mT(Vh)
    if not _needs(input):
        return _svd_top_t(_wrap(U), _wrap(S), _wrap(V))
    node = _make(LinalgSvdBackward0, (input,), keep=(), U=U, S=S, Vh=Vh, transposed_v=True)
    return _svd_top_t(*_finish_many((U, S, V), node, keep_outputs=True))


# ---- LDL (Bunch-Kaufman) ------------------------------------------------------------------------
# torch calls LAPACK's sytrf / hetrf and sytrs / hetrs with the lower triangle; NumPy has neither, so
# the unblocked forms (sytf2 / hetf2) are written out below, step for step, so that the pivots,
# the 2x2 blocks and info are LAPACK's.  The loop runs once per column in Python (each step is a
# vectorised rank-1 or rank-2 update), once per matrix of a batch.
_ldl_factor_ex_t = _return_type("linalg_ldl_factor_ex", ("LD", "pivots", "info"))
_ldl_factor_t = _return_type("linalg_ldl_factor", ("LD", "pivots"))
_ldl_factor_ex_out_t = _return_type("linalg_ldl_factor_ex_out", ("LD", "pivots", "info"))
_ldl_factor_out_t = _return_type("linalg_ldl_factor_out", ("LD", "pivots"))

_BK_ALPHA = (1.0 + math.sqrt(17.0)) / 8.0   # Bunch-Kaufman's bound on element growth


def _cabs1(z):
    # LAPACK's |re| + |im|: what izamax (and zsytf2's pivot tests) compare for complex entries
    return np.abs(z.real) + np.abs(z.imag)


def _ldl_swap(a, kk, kp, herm):
    """Swap rows and columns kk < kp of the trailing lower triangle (hetf2 conjugates the entries
    that cross the diagonal)."""
    if kp + 1 < a.shape[0]:
        a[kp + 1:, [kk, kp]] = a[kp + 1:, [kp, kk]]
    col, row = a[kk + 1:kp, kk].copy(), a[kp, kk + 1:kp].copy()
    if herm:
        a[kk + 1:kp, kk], a[kp, kk + 1:kp] = row.conj(), col.conj()
        a[kp, kk] = a[kp, kk].conj()
        a[kk, kk], a[kp, kp] = a[kp, kp].real, a[kk, kk].real
    else:
        a[kk + 1:kp, kk], a[kp, kk + 1:kp] = row, col
        a[kk, kk], a[kp, kp] = a[kp, kp], a[kk, kk]


def _real_diagonal(a, start):
    idx = np.arange(start, a.shape[0])
    a[idx, idx] = a[idx, idx].real


def _ldl_update1(a, k, herm):
    """A 1x1 pivot d: A22 -= w d^-1 w^T (w^H when hermitian), then the column becomes L's (w / d)."""
    if k + 1 == a.shape[0]:
        return
    r1 = 1 / (a[k, k].real if herm else a[k, k])
    w = a[k + 1:, k].copy()
    a[k + 1:, k + 1:] += np.outer(w, -r1 * (w.conj() if herm else w))
    if herm:
        _real_diagonal(a, k + 1)
    a[k + 1:, k] = r1 * w


def _ldl_update2(a, k, herm):
    """A 2x2 pivot D: A22 -= W D^-1 W^T (W^H when hermitian), then the two columns become L's."""
    if k + 2 >= a.shape[0]:
        return
    ak, ak1 = a[k + 2:, k].copy(), a[k + 2:, k + 1].copy()
    if herm:
        d21 = a[k + 1, k]
        d = np.hypot(d21.real, d21.imag)
        d11, d22 = a[k + 1, k + 1].real / d, a[k, k].real / d
        d21 = d21 / d
        d = (1 / (d11 * d22 - 1)) / d
        wk = d * (d11 * ak - d21 * ak1)
        wk1 = d * (d22 * ak1 - d21.conj() * ak)
        a[k + 2:, k + 2:] -= np.outer(ak, wk.conj())
        a[k + 2:, k + 2:] -= np.outer(ak1, wk1.conj())
        _real_diagonal(a, k + 2)
    else:
        d21 = a[k + 1, k]
        d11, d22 = a[k + 1, k + 1] / d21, a[k, k] / d21
        d21 = (1 / (d11 * d22 - 1)) / d21
        wk = d21 * (d11 * ak - ak1)
        wk1 = d21 * (d22 * ak1 - ak)
        a[k + 2:, k + 2:] -= np.outer(ak, wk)
        a[k + 2:, k + 2:] -= np.outer(ak1, wk1)
    a[k + 2:, k], a[k + 2:, k + 1] = wk, wk1


def _ldl_one(a, herm):
    """sytf2 / hetf2 with the lower triangle, in place on the square host array a: LAPACK's pivots
    (1-based; both rows of a 2x2 block hold -p) and info (the first zero column of D, 1-based)."""
    n = a.shape[0]
    mag = _cabs1 if a.dtype.kind == "c" else np.abs
    dmag = (lambda z: abs(z.real)) if herm else mag    # hetf2 looks at the real diagonal only
    alpha = _BK_ALPHA
    piv = np.zeros(n, np.int32)
    info = 0
    k = 0
    while k < n:
        kstep = 1
        absakk = dmag(a[k, k])
        imax, colmax = k, 0.0
        if k + 1 < n:
            col = mag(a[k + 1:, k])
            imax = k + 1 + int(np.argmax(col))
            colmax = col[imax - k - 1]
        if max(absakk, colmax) == 0 or absakk != absakk:
            # a zero (or NaN) column: D's entry is zero, nothing to eliminate; LAPACK goes on
            info = info or k + 1
            kp = k
            if herm:
                a[k, k] = a[k, k].real
        else:
            if absakk >= alpha * colmax:
                kp = k
            else:
                rowmax = mag(a[imax, k:imax]).max()
                if imax + 1 < n:
                    rowmax = max(rowmax, mag(a[imax + 1:, imax]).max())
                if absakk >= alpha * colmax * (colmax / rowmax):
                    kp = k
                elif dmag(a[imax, imax]) >= alpha * rowmax:
                    kp = imax
                else:
                    kp, kstep = imax, 2
            kk = k + kstep - 1
            if kp != kk:
                _ldl_swap(a, kk, kp, herm)
                if kstep == 2:
                    if herm:
                        a[k, k] = a[k, k].real
                    a[[k + 1, kp], k] = a[[kp, k + 1], k]
            elif herm:
                a[k, k] = a[k, k].real
                if kstep == 2:
                    a[k + 1, k + 1] = a[k + 1, k + 1].real
            (_ldl_update1 if kstep == 1 else _ldl_update2)(a, k, herm)
        if kstep == 1:
            piv[k] = kp + 1
        else:
            piv[k] = piv[k + 1] = -(kp + 1)
        k += kstep
    return piv, info


def _column_major(a):
    """a with each matrix stored column by column, as torch lays out LAPACK's results."""
    return np.ascontiguousarray(a.swapaxes(-1, -2)).swapaxes(-1, -2)


def _on_device(host, like):
    xp = xp_of(like)
    return host if xp is np else xp.asarray(host)


def _ldl_factor_arrays(a, herm):
    h = _host(a)
    n = h.shape[-1]
    flat = np.array(h.reshape((math.prod(h.shape[:-2]), n, n)))
    piv = np.zeros((flat.shape[0], n), np.int32)
    info = np.zeros(flat.shape[0], np.int32)
    with np.errstate(all="ignore"):
        for i in range(flat.shape[0]):
            piv[i], info[i] = _ldl_one(flat[i], herm)
    LD = _column_major(np.tril(flat).reshape(h.shape))
    return (_on_device(LD, a), _on_device(piv.reshape(h.shape[:-1]), a),
            _on_device(info.reshape(h.shape[:-2]), a))


def _ldl_solve_one(a, piv, b, herm):
    """sytrs / hetrs with the lower triangle: overwrite b (n, k) with A^-1 b, A = P L D L^T P^T."""
    n = a.shape[0]
    conj = np.conj if herm else (lambda z: z)
    k = 0
    while k < n:                      # L D Y = P^T B
        p = int(piv[k])
        if p > 0:
            if p - 1 != k:
                b[[k, p - 1]] = b[[p - 1, k]]
            if k + 1 < n:
                b[k + 1:] -= np.outer(a[k + 1:, k], b[k])
            b[k] *= 1 / (a[k, k].real if herm else a[k, k])
            k += 1
        else:
            kp = -p - 1
            if kp != k + 1:
                b[[k + 1, kp]] = b[[kp, k + 1]]
            if k + 2 < n:
                b[k + 2:] -= np.outer(a[k + 2:, k], b[k])
                b[k + 2:] -= np.outer(a[k + 2:, k + 1], b[k + 1])
            akm1k = a[k + 1, k]
            akm1, ak = a[k, k] / conj(akm1k), a[k + 1, k + 1] / akm1k
            denom = akm1 * ak - 1
            bkm1, bk = b[k] / conj(akm1k), b[k + 1] / akm1k
            b[k], b[k + 1] = (ak * bkm1 - bk) / denom, (akm1 * bk - bkm1) / denom
            k += 2
    k = n - 1
    while k >= 0:                     # L^T P^T X = Y (L^H when hermitian)
        p = int(piv[k])
        if k + 1 < n:
            b[k] -= conj(a[k + 1:, k]) @ b[k + 1:]
            if p < 0:
                b[k - 1] -= conj(a[k + 1:, k - 1]) @ b[k + 1:]
        kp = abs(p) - 1
        if kp != k:
            b[[k, kp]] = b[[kp, k]]
        k -= 1 if p > 0 else 2


def _bool_arg(value, fn, name):
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{fn}(): argument '{name}' must be bool, not {type(value).__name__}")
    return bool(value)


def _tensor_arg(t, fn, name, pos):
    if not isinstance(t, Tensor):
        raise TypeError(f"{fn}(): argument '{name}' (position {pos}) must be Tensor, not {type(t).__name__}")
    return t._data


def _ldl_square(a, op, kernel):
    """torch's checks, in its order: at least 2-d, square, floating or complex, a LAPACK dtype."""
    if a.ndim < 2:
        raise RuntimeError(f"{op}: The input tensor A must have at least 2 dimensions.")
    if a.shape[-1] != a.shape[-2]:
        raise RuntimeError(f"{op}: A must be batches of square matrices, but they are {a.shape[-2]} by "
                           f"{a.shape[-1]} matrices")
    if a.dtype.kind not in "fc":
        raise RuntimeError(f"{op}: Expected a floating point or complex tensor as input. Got {scalar_name(a.dtype)}")
    if a.dtype.itemsize < 4:
        raise NotImplementedError(f'"{kernel}" not implemented for \'{scalar_name(a.dtype)}\'')


def _no_derivative(op, inputs):
    """torch's NotImplemented node for an op without a derivative formula (None when no input needs
    one): the output requires grad, and backward through it raises."""
    need = [t for t in inputs if t._requires_grad] if state.enabled else []
    if not need:
        return None
    from .autograd.graph import no_derivative
    node = no_derivative("NotImplemented", f"derivative for aten::{op} is not implemented", RuntimeError)()
    node.next_functions = tuple(edge(t) for t in need)
    node._saved_versions = ()
    return node


def _write_ldl_out(out, arrays, node):
    """Write arrays into the out tensors (after checking all of their dtypes, so a bad one changes
    nothing); with a node, the first becomes its output, as torch's out= variant does."""
    single = isinstance(out, Tensor)
    outs = (out,) if single else out
    for o, a in zip(outs, arrays):
        if o._data.dtype != a.dtype:
            raise RuntimeError(f"Expected out tensor to have dtype {c_name(a.dtype)}, but got "
                               f"{c_name(o._data.dtype)} instead")
    for o, a in zip(outs, arrays):
        if o._data.shape == a.shape:
            xp_of(a).copyto(o._data, a)     # in place: views of out see the result
        else:
            if o._data.size:
                from ._userwarn import warn
                warn(f"An output with one or more elements was resized since it had shape {list(o._data.shape)}, "
                     f"which does not match the required output shape {list(a.shape)}. This behavior is "
                     "deprecated, and in a future PyTorch release outputs will not be resized unless they have "
                     "zero elements. You can explicitly reuse an out tensor t by resizing it, inplace, to zero "
                     "elements with t.resize_(0).")
            o._data = a
        o._vc[0] += 1
    if node is not None:
        outs[0]._requires_grad, outs[0].grad_fn = True, node
    return outs


def _check_out_tuple(out, fn, n):
    if out is None:
        return
    if not isinstance(out, (tuple, list)):
        raise TypeError(f"{fn}(): argument 'out' must be tuple of Tensors, not {type(out).__name__}")
    if len(out) != n:
        raise TypeError(f"expected tuple of {n} elements but got {len(out)}")
    for o in out:
        if not isinstance(o, Tensor):
            raise TypeError(f"{fn}(): argument 'out' must be tuple of Tensors, not {type(o).__name__}")


def ldl_factor_ex(A, *, hermitian=False, check_errors=False, out=None):
    """(LD, pivots, info): the compact LDL^T factorisation of symmetric (or Hermitian) A with
    Bunch-Kaufman pivoting, as torch.linalg.ldl_factor_ex (LAPACK's sytrf / hetrf, lower)."""
    fn = "linalg_ldl_factor_ex"
    a = _tensor_arg(A, fn, "input", 1)
    herm = _bool_arg(hermitian, fn, "hermitian")
    check = _bool_arg(check_errors, fn, "check_errors")
    _check_out_tuple(out, fn, 3)
    _ldl_square(a, "torch.linalg.ldl_factor_ex", "ldl_factor_kernel_cpu")
    LD, piv, info = _ldl_factor_arrays(a, herm and a.dtype.kind == "c")
    if check:
        _ldl_error(info, a.shape, "torch.linalg.ldl_factor_ex")
    node = _no_derivative("linalg_ldl_factor_ex", (A,))
    if out is not None:
        return _ldl_factor_ex_out_t(*_write_ldl_out(out, (LD, piv, info), node))
    return _ldl_factor_ex_t(_finish(LD, node), _wrap(piv), _wrap(info))


def ldl_factor(A, *, hermitian=False, out=None):
    """(LD, pivots): the compact LDL^T factorisation of symmetric (or Hermitian) A, as
    torch.linalg.ldl_factor; a zero in D raises (see ldl_factor_ex for the info instead)."""
    fn = "linalg_ldl_factor"
    _tensor_arg(A, fn, "input", 1)
    herm = _bool_arg(hermitian, fn, "hermitian")
    _check_out_tuple(out, fn, 2)
    LD, piv, info = ldl_factor_ex(A, hermitian=herm)
    _ldl_error(info._data, A._data.shape, "torch.linalg.ldl_factor")
    if out is not None:
        return _ldl_factor_out_t(*_write_ldl_out(out, (LD._data, piv._data), LD.grad_fn))
    return _ldl_factor_t(LD, piv)


def _ldl_error(info, shape, op):
    inf = _host(info).reshape(-1)
    if (inf > 0).any():
        i = int(np.argmax(inf > 0))
        k = int(inf[i])
        # torch reaches an internal assert here ("Unknown error code: k"); the cause, spelled out
        raise RuntimeError(f"{op}: {_batch_prefix(shape, i)}The factorization could not be completed because "
                           f"the input is singular: D[{k},{k}] is zero (info = {k}), and using it in ldl_solve "
                           "would divide by zero. To get the factors and info without an error, call "
                           "torch.linalg.ldl_factor_ex with check_errors=False.")


def ldl_solve(LD, pivots, B, *, hermitian=False, out=None):
    """X with A X = B from ldl_factor's (LD, pivots), as torch.linalg.ldl_solve (LAPACK's sytrs /
    hetrs); batch dimensions of LD and B broadcast."""
    fn = "linalg_ldl_solve"
    op = "torch.linalg.ldl_solve"
    ld = _tensor_arg(LD, fn, "LD", 1)
    pv = _tensor_arg(pivots, fn, "pivots", 2)
    b = _tensor_arg(B, fn, "B", 3)
    herm = _bool_arg(hermitian, fn, "hermitian")
    if out is not None and not isinstance(out, Tensor):
        raise TypeError(f"{fn}(): argument 'out' must be Tensor, not {type(out).__name__}")
    if ld.ndim < 2:
        raise RuntimeError(f"{op}: The input tensor A must have at least 2 dimensions.")
    if ld.shape[-1] != ld.shape[-2]:
        raise RuntimeError(f"{op}: A must be batches of square matrices, but they are {ld.shape[-2]} by "
                           f"{ld.shape[-1]} matrices")
    if ld.dtype.kind not in "fc":
        raise RuntimeError(f"{op}: Expected a floating point or complex tensor as input. Got {scalar_name(ld.dtype)}")
    if b.dtype != ld.dtype:
        raise RuntimeError(f"Expected b and A to have the same dtype, but found b of type {scalar_name(b.dtype)} "
                           f"and A of type {scalar_name(ld.dtype)} instead.")
    if b.ndim < 2:
        raise IndexError(f"Dimension out of range (expected to be in range of [-{max(b.ndim, 1)}, "
                         f"{max(b.ndim, 1) - 1}], but got -2)")
    n = ld.shape[-1]
    if b.shape[-2] != n:
        raise RuntimeError(f"Incompatible matrix sizes for {op}: each A matrix is {n} by {n} but each b matrix is "
                           f"{b.shape[-2]} by {b.shape[-1]}")
    if pv.shape != ld.shape[:-1]:
        raise RuntimeError(f"{op}: Expected LD.shape[:-1] and pivots.shape to be the same, but got pivots with "
                           f"shape {list(pv.shape)} instead")
    if pv.dtype.kind not in "iu":
        raise RuntimeError(f"{op}: Expected pivots to be integers. Got {scalar_name(pv.dtype)}")
    if ld.dtype.itemsize < 4:
        raise NotImplementedError(f'"ldl_solve_kernel_cpu" not implemented for \'{scalar_name(ld.dtype)}\'')
    if out is not None and out._data.dtype != b.dtype:
        raise RuntimeError(f"Expected out tensor to have dtype {c_name(b.dtype)}, but got {c_name(out._data.dtype)} "
                           "instead")
    p = _host(pv).astype(np.int64)
    if p.size and np.abs(p).min() < 1:
        raise RuntimeError("Pivots given to ldl_solve must all satisfy |pivot| >= 1. Did you properly pass the "
                           "result of ldl_factor?")
    if p.size and np.abs(p).max() > n:
        raise RuntimeError("Pivots given to ldl_solve must all satisfy |pivot| <= LD.size(-2). Did you properly "
                           "pass the result of ldl_factor?")
    h_ld, h_b = _host(ld), _host(b)
    batch = np.broadcast_shapes(h_ld.shape[:-2], h_b.shape[:-2])
    # solved in place in a buffer of transposed matrices, so that X comes out column-major as torch's
    buf = np.array(np.broadcast_to(h_b, batch + h_b.shape[-2:]).swapaxes(-1, -2), order="C")
    if buf.size:
        flat_ld = np.broadcast_to(h_ld, batch + (n, n)).reshape((-1, n, n))
        flat_p = np.broadcast_to(p, batch + (n,)).reshape((-1, n))
        flat_x = buf.reshape((-1,) + buf.shape[-2:])
        herm = herm and ld.dtype.kind == "c"
        with np.errstate(all="ignore"):
            for i in range(flat_x.shape[0]):
                _ldl_solve_one(flat_ld[i], flat_p[i], flat_x[i].T, herm)
    X = _on_device(buf.swapaxes(-1, -2), ld)
    node = _no_derivative("linalg_ldl_solve", (LD, B))
    if out is not None:
        return _write_ldl_out(out, (X,), node)[0]
    return _finish(X, node)


# ---- torch.* top-level aliases and Tensor methods ---------------------------------------------
def _inverse_top(input, *, out=None):
    """torch.inverse: linalg.inv."""
    return inv(input, out=out)


def _det_top(input):
    return det(input)


def _matrix_power_top(input, n):
    return matrix_power(input, n)


_deprecation_warned = set()


def _warn_once(name, message):
    # torch's TORCH_WARN_ONCE: once per process unless set_warn_always(True)
    from ._settings import is_warn_always_enabled
    if name in _deprecation_warned and not is_warn_always_enabled():
        return
    _deprecation_warned.add(name)
    from ._userwarn import warn
    warn(message)


def frobenius_norm(input, dim, keepdim=False, *, out=None):
    """The 2-norm over dim (one or two dims): deprecated in torch for linalg.vector_norm."""
    _warn_once("frobenius_norm", "at::frobenius_norm is deprecated and it is just left for JIT compatibility. "
               "It will be removed in a future PyTorch release. Please use `linalg.vector_norm(A, 2., dim, "
               "keepdim)` instead")
    dims = (dim,) if isinstance(dim, int) else tuple(dim)
    if len(dims) > 2:
        raise RuntimeError(f"Expected at most 2 dimensions, but got {len(dims)} dimensions instead.")
    return vector_norm(input, 2, dims, keepdim, out=out)


def nuclear_norm(input, dim=None, keepdim=False, *, out=None):
    """The sum of singular values over dim (default the last two): deprecated for linalg.matrix_norm."""
    if isinstance(dim, bool):  # nuclear_norm(input, keepdim) overload
        dim, keepdim = None, dim
    _warn_once("nuclear_norm", "at::nuclear_norm is deprecated and it is just left for JIT compatibility. "
               "It will be removed in a future PyTorch release. Please use `linalg.matrix_norm(A, 'nuc', dim, "
               "keepdim)` instead")
    return matrix_norm(input, "nuc", (-2, -1) if dim is None else tuple(dim), keepdim, out=out)


_REMOVED = "This function was deprecated since version 1.9 and is now removed."


def _removed_matrix_rank(input, tol=None, symmetric=False, *, out=None):
    """Removed in torch 1.9: raises, pointing at linalg.matrix_rank."""
    raise RuntimeError(_REMOVED + "\nPlease use the `torch.linalg.matrix_rank` function instead. The parameter "
                       "'symmetric' was renamed in `torch.linalg.matrix_rank()` to 'hermitian'.")


def _removed_solve(input, A, *, out=None):
    """Removed in torch 1.9: raises, pointing at linalg.solve."""
    raise RuntimeError(_REMOVED + " `torch.solve` is deprecated in favor of `torch.linalg.solve`. "
                       "`torch.linalg.solve` has its arguments reversed and does not return the LU factorization."
                       "\n\nTo get the LU factorization see `torch.lu`, which can be used with `torch.lu_solve` or "
                       "`torch.lu_unpack`.\nX = torch.solve(B, A).solution should be replaced with:\n"
                       "X = torch.linalg.solve(A, B)")


def _removed_lstsq(input, A, *, out=None):
    """Removed in torch 1.9: raises, pointing at linalg.lstsq."""
    raise RuntimeError(_REMOVED + " `torch.lstsq` is deprecated in favor of `torch.linalg.lstsq`.\n"
                       "`torch.linalg.lstsq` has reversed arguments and does not return the QR decomposition in "
                       "the returned tuple (although it returns other information about the problem).\n\n"
                       "To get the QR decomposition consider using `torch.linalg.qr`.\n\n"
                       "The returned solution in `torch.lstsq` stored the residuals of the solution in the "
                       "last m - n columns of the returned value whenever m > n. In torch.linalg.lstsq, "
                       "the residuals are in the field 'residuals' of the returned named tuple.\n\n"
                       "The unpacking of the solution, as in\nX, _ = torch.lstsq(B, A).solution[:A.size(1)]\n"
                       "should be replaced with:\nX = torch.linalg.lstsq(A, B).solution")


def _removed_symeig(input, eigenvectors=False, upper=True, *, out=None):
    """Removed in torch 1.9: raises, pointing at linalg.eigvalsh / eigh."""
    raise RuntimeError(_REMOVED + " The default behavior has changed from using the upper triangular portion of "
                       "the matrix by default to using the lower triangular portion.\n\n"
                       "L, _ = torch.symeig(A, upper=upper) should be replaced with:\n"
                       "L = torch.linalg.eigvalsh(A, UPLO='U' if upper else 'L')\n\nand\n\n"
                       "L, V = torch.symeig(A, eigenvectors=True) should be replaced with:\n"
                       "L, V = torch.linalg.eigh(A, UPLO='U' if upper else 'L')")


def _removed_eig(self, eigenvectors=False, *, e=None, v=None):
    """Removed in torch 1.9: raises, pointing at linalg.eig / eigvals."""
    raise RuntimeError(_REMOVED + " `torch.linalg.eig` returns complex tensors of dtype `cfloat` or `cdouble` "
                       "rather than real tensors mimicking complex tensors.\n\nL, _ = torch.eig(A) should be "
                       "replaced with:\nL_complex = torch.linalg.eigvals(A)\n\nand\n\n"
                       "L, V = torch.eig(A, eigenvectors=True) should be replaced with:\n"
                       "L_complex, V_complex = torch.linalg.eig(A)")


for _name, _fn in (("matrix_rank", _removed_matrix_rank), ("solve", _removed_solve), ("lstsq", _removed_lstsq),
                   ("symeig", _removed_symeig), ("eig", _removed_eig)):
    _fn.__name__ = _fn.__qualname__ = _name

def _entry(fn):
    """fn as a public entry: NumPy's floating-point warnings silent inside (torch's kernels give inf
    and nan silently), and LAPACK on BLAS's threads for a large matrix (as torch threads it), else
    on one: for_work's rule, m * n * min(m, n) multiply-adds over the batch."""
    @functools.wraps(fn)
    def entry(*args, **kwargs):
        a = getattr(args[0] if args else next(iter(kwargs.values()), None), "_data", None)
        # (a call from another entry already holds the threads: it sets them back)
        big = a.__class__ is np.ndarray and a.ndim > 1 and _threads._active == 1 \
            and a.size * min(a.shape[-2:]) >= _threads.PARALLEL_MACS
        quiet = None if fp_get() is FP_QUIET else fp_set(FP_QUIET)
        if big:
            _threads.for_work(_threads.PARALLEL_FLOPS)
        try:
            return fn(*args, **kwargs)
        finally:
            if big:
                _threads.for_work(0)
            if quiet is not None:
                fp_reset(quiet)
    return entry


for _name in __all__:
    if isinstance(globals()[_name], types.FunctionType):
        globals()[_name] = _entry(globals()[_name])

# torch.<name> -> function here (ember.__init__ looks these up on first use)
TOP_LEVEL = {"det": _det_top, "inverse": _inverse_top, "pinverse": _pinverse_top, "logdet": logdet,
             "slogdet": _slogdet_top, "matrix_power": _matrix_power_top, "cholesky": _cholesky_top,
             "svd": _svd_top, "cross": _cross_top, "qr": _qr_top, "matrix_exp": matrix_exp,
             "cholesky_inverse": _cholesky_inverse_top, "cholesky_solve": _cholesky_solve_top,
             "triangular_solve": _triangular_solve_top, "lu_unpack": _lu_unpack_top, "lu": _lu_top,
             "lu_solve": _lu_solve_top, "frobenius_norm": frobenius_norm, "nuclear_norm": nuclear_norm,
             "matrix_rank": _removed_matrix_rank, "solve": _removed_solve, "lstsq": _removed_lstsq,
             "symeig": _removed_symeig, "eig": _removed_eig}
# Tensor methods: the same functions (ember.ops.linalg installs stubs that import this module)
METHODS = {"det": det, "inverse": inv, "pinverse": _pinverse_top, "logdet": logdet, "slogdet": _slogdet_top,
           "matrix_power": matrix_power, "cholesky": _cholesky_top, "svd": _svd_top, "cross": _cross_top,
           "qr": _qr_top, "matrix_exp": matrix_exp, "cholesky_inverse": _cholesky_inverse_top,
           "cholesky_solve": _cholesky_solve_top, "triangular_solve": _triangular_solve_top, "lu": _lu_top,
           "lu_solve": _lu_solve_top, "eig": _removed_eig, "symeig": _removed_symeig, "lstsq": _removed_lstsq,
           "solve": _removed_solve}
for _name, _fn in METHODS.items():
    setattr(Tensor, _name, _fn)
del _name, _fn
