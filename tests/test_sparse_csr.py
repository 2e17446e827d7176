"""Sparse compressed tensors (ember/ops/sparse_compressed.py: torch.sparse_csr, torch.sparse_csc) against torch:
construction, printing, accessors, conversions between layouts, pointwise ops, sums, products, gradients (to the
dense operand, to the values, to a compressed leaf), the invariant checks and torch's errors, and torch.save /
torch.load both ways with torch."""
import io
import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

import ember
from tests.conftest import numeric_grad, requires_torch, torch

RNG = np.random.default_rng(0)
D = np.array([[0.0, 2.0, 0.0, 0.0], [1.0, 0.0, 3.0, 0.0], [0.0, 0.0, 0.0, 0.0], [4.0, 0.0, 5.0, 6.0]], np.float32)
X = RNG.standard_normal((4, 3)).astype(np.float32)
CROW, COL, VAL = [0, 1, 3, 3, 6], [1, 0, 2, 0, 2, 3], [2.0, 1.0, 3.0, 4.0, 5.0, 6.0]


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():   # (torch's sparse-invariants and beta-state warnings)
        warnings.simplefilter("ignore")
        yield


def _parts(t):
    name = str(t.layout).rpartition(".")[2]
    if name == "sparse_csr":
        return name, t.crow_indices(), t.col_indices(), t.values()
    if name == "sparse_csc":
        return name, t.ccol_indices(), t.row_indices(), t.values()
    if name == "sparse_coo":
        t = t.coalesce() if not t.is_coalesced() else t
        return name, t.indices(), t.values()
    return name, t


def _same(e, t):
    """Two results alike: layout, dtype, shape, the stored arrays, and the printed form."""
    if isinstance(t, (tuple, list)):
        assert len(e) == len(t)
        for a, b in zip(e, t):
            _same(a, b)
        return
    if not isinstance(t, torch.Tensor):
        assert e == t
        return
    assert str(e.dtype)[6:] == str(t.dtype)[6:] and tuple(e.shape) == tuple(t.shape)
    pe, pt = _parts(e), _parts(t)
    assert pe[0] == pt[0]
    for a, b in zip(pe[1:], pt[1:]):
        assert str(a.dtype)[6:] == str(b.dtype)[6:]
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-6, atol=1e-7)
    assert repr(e).replace("ember.", "") == repr(t).replace("torch.", "")


def both(f):
    """f(M) under M = ember and M = torch, the results alike."""
    e, t = f(ember), f(torch)
    _same(e, t)
    return e


def _csr(M, **kw):
    return M.sparse_csr_tensor(CROW, COL, VAL, (4, 4), **kw)


# ---- construction, printing, accessors, conversions ---------------------------------------------------------------
CONSTRUCT = {
    "csr": lambda M: _csr(M),
    "csr inferred size": lambda M: M.sparse_csr_tensor(CROW, COL, VAL),
    "csc": lambda M: M.sparse_csc_tensor(CROW, COL, VAL, (4, 4)),
    "compressed csr": lambda M: M.sparse_compressed_tensor(CROW, COL, VAL, (4, 4), layout=M.sparse_csr),
    "compressed csc": lambda M: M.sparse_compressed_tensor(CROW, COL, VAL, (5, 4), layout=M.sparse_csc),
    "int32 indices": lambda M: M.sparse_csr_tensor(M.tensor(CROW, dtype=M.int32), M.tensor(COL, dtype=M.int32),
                                                   VAL, (4, 4)),
    "float64": lambda M: _csr(M, dtype=M.float64),
    "int values": lambda M: M.sparse_csr_tensor(CROW, COL, [1, 2, 3, 4, 5, 6], (4, 4)),
    "requires_grad": lambda M: _csr(M, requires_grad=True),
    "values grad_fn": lambda M: M.sparse_csr_tensor(CROW, COL, M.tensor(VAL, requires_grad=True), (4, 4)),
    "empty": lambda M: M.zeros(2, 3).to_sparse_csr(),
    "empty given": lambda M: M.sparse_csr_tensor([0, 0], M.zeros(0, dtype=M.int64), [], (1, 3)),
    "float16": lambda M: M.tensor(D, dtype=M.float16).to_sparse_csr(),
    "int32 cast": lambda M: _csr(M).to(M.int32),
    "dense to csr": lambda M: M.tensor(D).to_sparse_csr(),
    "dense to csc": lambda M: M.tensor(D).to_sparse_csc(),
    "dense to_sparse layout": lambda M: M.tensor(D).to_sparse(layout=M.sparse_csc),
    "dense to csr grad": lambda M: M.tensor(D, requires_grad=True).to_sparse_csr(),
    "coo to csr": lambda M: M.tensor(D).to_sparse().to_sparse_csr(),
    "coo to csc": lambda M: M.tensor(D).to_sparse().to_sparse(layout=M.sparse_csc),
    "csr to csc": lambda M: _csr(M).to_sparse_csc(),
    "csc to csr": lambda M: _csr(M).to_sparse_csc().to_sparse(layout=M.sparse_csr),
    "csr to coo": lambda M: _csr(M).to_sparse_coo(),
    "csc to coo": lambda M: _csr(M).to_sparse_csc().to_sparse(),
    "csr to dense": lambda M: _csr(M).to_dense(),
    "csc to dense": lambda M: M.tensor(D).to_sparse_csc().to_dense(),
    "t": lambda M: _csr(M).t(),
    "csc t": lambda M: M.tensor(D).to_sparse_csc().t(),
    "transpose": lambda M: _csr(M).transpose(0, 1),
    "clone": lambda M: _csr(M).clone(),
    "detach": lambda M: _csr(M, requires_grad=True).detach(),
    "to float64": lambda M: _csr(M).to(M.float64),
    "double": lambda M: _csr(M).double(),
    "crow_indices": lambda M: _csr(M).crow_indices(),
    "col_indices": lambda M: _csr(M).col_indices(),
    "ccol_indices": lambda M: _csr(M).to_sparse_csc().ccol_indices(),
    "row_indices": lambda M: _csr(M).to_sparse_csc().row_indices(),
    "values": lambda M: _csr(M).values(),
}


@requires_torch
@pytest.mark.parametrize("case", CONSTRUCT)
def test_construction_printing_and_conversions_match_torch(case):
    both(CONSTRUCT[case])


@requires_torch
def test_metadata_matches_torch():
    def f(M):
        c = _csr(M)
        s = c.to_sparse_csc()
        return (c.layout == M.sparse_csr, s.layout == M.sparse_csc, str(c.layout)[6:], str(s.layout)[6:], c.is_sparse,
                c.is_sparse_csr, s.is_sparse, s.is_sparse_csr, c._nnz(), c.sparse_dim(), c.dense_dim(),
                tuple(c.shape), c.size(1), c.dim(), c.ndim, c.numel(), len(c), c.element_size(), c.requires_grad,
                c.is_leaf, c.is_floating_point(), c.to_sparse_csr() is c, s.to_sparse_csc() is s,
                c.to(M.float32) is c, str(c.device), c.crow_indices().dtype == M.int64)
    for e, t in zip(f(ember), f(torch)):
        assert e == t


# ---- pointwise ops, sums and products ------------------------------------------------------------------------------
OPS = {
    "mul scalar": lambda M: _csr(M) * 2,
    "rmul scalar": lambda M: 2.5 * _csr(M),
    "mul 0-d": lambda M: _csr(M).mul(M.tensor(3.0)),
    "neg": lambda M: -_csr(M),
    "abs": lambda M: M.abs(-_csr(M)),
    "relu": lambda M: M.relu(_csr(M) * -1),
    "sqrt": lambda M: M.sqrt(_csr(M)),
    "sin": lambda M: _csr(M).sin(),
    "tanh": lambda M: M.tanh(_csr(M)),
    "csc neg": lambda M: -_csr(M).to_sparse_csc(),
    "add csr": lambda M: _csr(M) + M.tensor(D).to_sparse_csr(),
    "add alpha": lambda M: _csr(M).add(_csr(M), alpha=2),
    "add csc to itself": lambda M: (lambda c: c.add(c, alpha=2))(_csr(M).to_sparse_csc()),
    "csr + dense": lambda M: _csr(M) + M.tensor(D),
    "dense + csr": lambda M: M.tensor(D) + _csr(M),
    "mul csr": lambda M: _csr(M) * M.tensor(D).to_sparse_csr(),
    "mul csc": lambda M: _csr(M) * M.tensor(D).to_sparse_csc(),
    "mT": lambda M: _csr(M).mT,
    "dense @ csr": lambda M: M.tensor(X).T @ _csr(M),
    "to_sparse_coo grad_fn": lambda M: _csr(M, requires_grad=True).to_sparse_coo(),
    "mul dense": lambda M: _csr(M) * M.tensor(D),
    "dense mul": lambda M: M.tensor(D) * _csr(M),
    "sum": lambda M: _csr(M).sum(),
    "sum dtype": lambda M: _csr(M).sum(dtype=M.float64),
    "sum int": lambda M: M.tensor([[0, 2], [3, 0]]).to_sparse_csr().sum(),
    "sum 0 keepdim": lambda M: _csr(M).sum(0, keepdim=True),
    "sum 1 keepdim": lambda M: _csr(M).sum(1, keepdim=True),
    "sum all keepdim": lambda M: _csr(M).sum((0, 1), keepdim=True),
    "sum empty keepdim": lambda M: M.zeros(2, 3).to_sparse_csr().sum(0, keepdim=True),
    "matmul": lambda M: _csr(M) @ M.tensor(X),
    "csc matmul": lambda M: _csr(M).to_sparse_csc() @ M.tensor(X),
    "mm": lambda M: M.mm(_csr(M), M.tensor(X)),
    "torch.matmul": lambda M: M.matmul(_csr(M), M.tensor(X)),
    "mv": lambda M: _csr(M) @ M.tensor(X[:, 0]),
    "sparse.mm": lambda M: M.sparse.mm(_csr(M), M.tensor(X)),
    "sparse.addmm": lambda M: M.sparse.addmm(M.tensor(X[:, :1]), _csr(M), M.tensor(X), beta=0.5, alpha=2.0),
    "addmm": lambda M: M.addmm(M.ones(4, 3), _csr(M), M.tensor(X), beta=0.5, alpha=2.0),
}


@requires_torch
@pytest.mark.parametrize("case", OPS)
def test_ops_match_torch(case):
    both(OPS[case])


@requires_torch
@pytest.mark.parametrize("layout", ["csr", "csc"])
def test_compressed_by_compressed_is_csr_as_torch(layout):
    # (torch's kernel leaves a row's columns in its own order; ember sorts them: the same matrix)
    def f(M):
        b = M.tensor(D).to_sparse_csr() if layout == "csr" else M.tensor(D).to_sparse_csc()
        r = _csr(M) @ b
        return str(r.layout)[6:], r._nnz(), r.crow_indices().tolist(), r.to_dense()
    e, t = f(ember), f(torch)
    assert e[:3] == t[:3]
    np.testing.assert_allclose(e[3].numpy(), t[3].numpy())


# ---- gradients --------------------------------------------------------------------------------------------------
PRODUCTS = {
    "@": lambda M, a, b: a @ b,
    "mm": lambda M, a, b: M.mm(a, b),
    "matmul": lambda M, a, b: M.matmul(a, b),
    "sparse.mm": lambda M, a, b: M.sparse.mm(a, b),
    "sparse.addmm": lambda M, a, b: M.sparse.addmm(M.ones(4, 3), a, b, beta=0.5, alpha=2.0),
    "addmm": lambda M, a, b: M.addmm(M.ones(4, 3), a, b, beta=0.5, alpha=2.0),
}


_W = RNG.standard_normal((4, 3)).astype(np.float32)


@requires_torch
@pytest.mark.parametrize("layout", ["csr", "csc"])
@pytest.mark.parametrize("case", PRODUCTS)
def test_product_gradients_match_torch(case, layout):
    if case.startswith("sparse.") and layout == "csc":
        pytest.skip("torch refuses the backward of torch.sparse.mm/addmm for a CSC mat1 (sparse_addmm_sparse_backward: "
                    "unsupported combination of layouts)")
    _same(_grads(ember, PRODUCTS[case], layout, _W), _grads(torch, PRODUCTS[case], layout, _W))


def _grads(M, product, layout, w):
    """The gradients of a weighted sum of a compressed-matrix product: the dense operand's, the values' (through
    sparse_csr_tensor) and a compressed leaf's."""
    x = M.tensor(X, requires_grad=True)
    v = M.tensor(VAL, requires_grad=True)
    a = M.sparse_csr_tensor(CROW, COL, v, (4, 4))
    a = a if layout == "csr" else a.to_sparse_csc()
    (product(M, a, x) * M.tensor(w)).sum().backward()
    leaf = _csr(M)
    leaf = (leaf if layout == "csr" else leaf.to_sparse_csc()).requires_grad_()
    (product(M, leaf, x.detach()) * M.tensor(w)).sum().backward()
    return x.grad, v.grad, leaf.grad


LEAF_GRADS = {
    "to_dense": lambda M, c: (c.to_dense() * M.tensor(D + 1)).sum(),
    "sum": lambda M, c: c.sum(),
    "mul scalar": lambda M, c: (c * 2).sum(),
    "values": lambda M, c: (c.values() * M.arange(6.0)).sum(),
    "relu": lambda M, c: (M.relu(c).to_dense() * M.tensor(D + 1)).sum(),
    "add": lambda M, c: ((c + c).to_dense() * M.tensor(D + 1)).sum(),
    "to_sparse_coo": lambda M, c: M.sparse.sum(c.to_sparse_coo() * M.tensor(D + 1)),
    "t": lambda M, c: (c.t().to_dense() * M.tensor(D + 1)).sum(),
}


@requires_torch
@pytest.mark.parametrize("case", LEAF_GRADS)
def test_leaf_gradients_match_torch(case):
    def f(M):
        c = _csr(M, dtype=M.float64).requires_grad_()
        LEAF_GRADS[case](M, c).backward()
        return c.grad
    both(f)


@requires_torch
def test_autograd_grad_and_accumulation_keep_the_leaf_layout_as_torch():
    def f(M):
        c = _csr(M).requires_grad_()
        x = M.tensor(X)
        g, = M.autograd.grad(M.sparse.mm(c, x).sum(), c)
        M.sparse.mm(c, x).sum().backward()
        M.sparse.mm(c, x * 2).sum().backward()
        return g, c.grad
    both(f)


@requires_torch
def test_dense_to_csr_gradient_is_masked_as_torch():
    def f(M):
        d = M.tensor(D, requires_grad=True)
        (d.to_sparse_csr().to_dense() * M.tensor(X @ X.T)).sum().backward()
        return d.grad
    both(f)


def test_product_gradients_match_central_differences():
    x0 = X.astype(np.float64)

    def loss(v, x):
        a = ember.sparse_csr_tensor(CROW, COL, ember.tensor(v), (4, 4)).to_sparse_csc()
        return float((ember.tanh(a @ ember.tensor(x))).sum())

    v = ember.tensor(VAL, dtype=ember.float64, requires_grad=True)
    x = ember.tensor(x0, requires_grad=True)
    a = ember.sparse_csr_tensor(CROW, COL, v, (4, 4)).to_sparse_csc()
    ember.tanh(a @ x).sum().backward()
    np.testing.assert_allclose(v.grad.numpy(), numeric_grad(lambda vv: loss(vv, x0), np.array(VAL)), rtol=1e-6)
    np.testing.assert_allclose(x.grad.numpy(), numeric_grad(lambda xx: loss(np.array(VAL), xx), x0), rtol=1e-6)


# ---- invariants and errors -----------------------------------------------------------------------------------------
INVALID = {
    "crow[0]": ([1, 1, 3, 3, 6], COL),
    "crow[-1]": ([0, 1, 3, 3, 5], COL),
    "unsorted cols": ([0, 1, 3, 3, 6], [1, 2, 0, 0, 2, 3]),
    "duplicate cols": ([0, 1, 3, 3, 6], [1, 2, 2, 0, 2, 3]),
    "col out of range": ([0, 1, 3, 3, 6], [1, 0, 2, 0, 2, 4]),
    "negative col": ([0, 1, 3, 3, 6], [1, 0, 2, 0, 2, -1]),
    "crow length": ([0, 1, 3, 6], COL),
    "col length": ([0, 1, 3, 3, 6], COL[:5]),
}


def _error(f):
    try:
        f()
    except Exception as e:
        return type(e), str(e)
    return None, None


@requires_torch
@pytest.mark.parametrize("case", INVALID)
def test_check_invariants_errors_as_torch(case):
    crow, col = INVALID[case]
    vals = VAL[:len(col)] if case != "col length" else VAL
    te, tm = _error(lambda: torch.sparse_csr_tensor(crow, col, vals, (4, 4), check_invariants=True))
    ee, em = _error(lambda: ember.sparse_csr_tensor(crow, col, vals, (4, 4), check_invariants=True))
    assert te is RuntimeError and ee is te
    assert em.startswith(tm)
    with ember.sparse.check_sparse_tensor_invariants():
        assert _error(lambda: ember.sparse_csr_tensor(crow, col, vals, (4, 4)))[1] == em


def test_bounds_are_checked_without_check_invariants():
    # (torch builds these unchecked and then reads out of bounds; ember refuses them always)
    for crow, col in (([0, 1, 3, 3, 6], [1, 0, 2, 0, 2, 9]), ([0, 1, 3, 3, 7], COL), ([0, 4, 3, 3, 6], COL)):
        with pytest.raises(RuntimeError, match="is not satisfied"):
            ember.sparse_csr_tensor(crow, col, VAL[:len(col)], (4, 4), check_invariants=False)
    # an unsorted row (a duplicate too) is within bounds: accepted unchecked, as torch does, and not taken for a
    # sorted one by the kernels
    c = ember.sparse_csr_tensor([0, 1, 3, 3, 6], [1, 2, 0, 0, 0, 3], VAL, (4, 4), check_invariants=False)
    dense = np.zeros((4, 4), np.float32)
    np.add.at(dense, ([0, 1, 1, 3, 3, 3], [1, 2, 0, 0, 0, 3]), VAL)
    np.testing.assert_allclose(c.to_dense().numpy(), dense)
    np.testing.assert_allclose((c @ ember.tensor(X)).numpy(), dense @ X, rtol=1e-5)
    np.testing.assert_allclose((c + c).to_dense().numpy(), 2 * dense)
    np.testing.assert_allclose((c * ember.tensor(D)).to_dense().numpy(), dense * D)
    assert c.to_sparse_csc().to_sparse_csr().col_indices().tolist() == [1, 0, 2, 0, 3]


ERRORS = {
    "ccol of csr": lambda M: _csr(M).ccol_indices(),
    "row of csr": lambda M: _csr(M).row_indices(),
    "crow of csc": lambda M: _csr(M).to_sparse_csc().crow_indices(),
    "col of csc": lambda M: _csr(M).to_sparse_csc().col_indices(),
    "indices": lambda M: _csr(M).indices(),
    "coalesce": lambda M: _csr(M).coalesce(),
    "sum keepdim False": lambda M: _csr(M).sum(0),
    "sparse.sum": lambda M: M.sparse.sum(_csr(M)),
    "exp": lambda M: M.exp(_csr(M)),
    "sub": lambda M: _csr(M) - _csr(M),
    "div": lambda M: _csr(M) / 2,
    "max": lambda M: M.max(_csr(M)),
    "csr + csc": lambda M: _csr(M) + _csr(M).to_sparse_csc(),
    "csc + csc": lambda M: _csr(M).to_sparse_csc() + M.tensor(D).to_sparse_csc(),
    "csr + number": lambda M: _csr(M) + 1,
    "to_dense dtype": lambda M: _csr(M).to_dense(dtype=M.float64),
    "numpy": lambda M: _csr(M).numpy(),
    "tolist": lambda M: _csr(M).tolist(),
    "is_contiguous": lambda M: _csr(M).is_contiguous(),
    "view": lambda M: _csr(M).view(16),
    "T": lambda M: _csr(M).T,
    "layout none": lambda M: M.sparse_compressed_tensor(CROW, COL, VAL, (4, 4)),
    "layout coo": lambda M: M.sparse_compressed_tensor(CROW, COL, VAL, (4, 4), layout=M.sparse_coo),
    "mm shapes": lambda M: _csr(M) @ M.ones(3, 2),
    "mv shapes": lambda M: _csr(M) @ M.ones(5),
    "csr @ coo": lambda M: M.mm(_csr(M), M.tensor(D).to_sparse()),
    "csc * dense": lambda M: _csr(M).to_sparse_csc() * M.ones(4, 4),
    "add dtypes": lambda M: _csr(M) + _csr(M, dtype=M.float64),
}


@requires_torch
@pytest.mark.parametrize("case", ERRORS)
def test_errors_as_torch(case):
    te, tm = _error(lambda: ERRORS[case](torch))
    ee, em = _error(lambda: ERRORS[case](ember))
    assert te is not None and ee is te, (ee, em, te, tm)
    head = tm.split(". This could be")[0].split(" (")[0]
    assert em.startswith(head), (em, tm)


def test_empty_index_lists_are_int64():
    # (torch keeps an empty list's float32 as the col_indices dtype; ember makes it int64, as a nonempty list)
    c = ember.sparse_csr_tensor([0, 0], [], [], (1, 3))
    assert c.col_indices().dtype == ember.int64 and c._nnz() == 0 and c.to_dense().tolist() == [[0.0] * 3]


def test_blocked_layouts_are_refused_clearly():
    with pytest.raises(NotImplementedError, match="sparse_csr and ember.sparse_csc layouts only"):
        ember.sparse_compressed_tensor([0, 1], [0], [[[1.0]]], (1, 1), layout=ember.sparse_bsr)
    with pytest.raises(NotImplementedError, match="layouts only"):
        ember.ones(2, 2).to_sparse(layout=ember.sparse_bsr, blocksize=(1, 1))


def test_batched_and_hybrid_are_refused_clearly():
    with pytest.raises(NotImplementedError, match="matrices only"):
        ember.sparse_csr_tensor([[0, 1], [0, 1]], [[0], [0]], [[1.0], [2.0]], (2, 1, 1))
    with pytest.raises(NotImplementedError, match="matrices only"):
        ember.ones(2, 2, 2).to_sparse_csr()


# ---- save / load -----------------------------------------------------------------------------------------------------
@requires_torch
@pytest.mark.parametrize("layout", ["csr", "csc"])
def test_save_load_round_trips_with_torch(layout):
    def make(M):
        c = _csr(M, dtype=M.float64)
        return c if layout == "csr" else c.to_sparse_csc()

    buf = io.BytesIO()
    ember.save({"a": make(ember)}, buf)
    buf.seek(0)
    _same(make(ember), torch.load(buf, weights_only=True)["a"])
    buf = io.BytesIO()
    torch.save({"a": make(torch)}, buf)
    buf.seek(0)
    _same(ember.load(buf)["a"], make(torch))


def test_the_beta_and_invariants_warnings_come_once_as_torchs():
    code = ("import ember, warnings\nwarnings.simplefilter('always')\n"
            "ember.sparse_csr_tensor([0, 1], [0], [1.0])\nember.sparse_csc_tensor([0, 1], [0], [1.0])\n"
            "ember.ones(2, 2).to_sparse_csr()\n")
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.count("UserWarning: Sparse invariant checks are implicitly disabled.") == 1
    assert proc.stderr.count("UserWarning: Sparse CSR tensor support is in beta state.") == 1
    assert "<string>:3" in proc.stderr   # (the user's line)
