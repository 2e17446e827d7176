"""Reductions: values, dtypes, node names and gradients against real torch and central differences."""
import numpy as np
import pytest

import ember
from tests.conftest import numeric_grad, requires_torch, torch

rng = np.random.default_rng(1)


def _first(out):
    return out[0] if isinstance(out, tuple) else out


def grad_of(fn, x0, w=None):
    """ember gradient of sum(fn(x) * w) at float64 x0, via backward(gradient=w)."""
    x = ember.tensor(x0, dtype=ember.float64, requires_grad=True)
    out = _first(fn(x))
    if w is None:
        w = rng.standard_normal(out.shape)
    out.backward(ember.tensor(np.asarray(w, dtype=np.float64)))
    return x.grad.numpy(), w


def check_numeric(fn, x0, rtol=1e-5, atol=1e-7):
    got, w = grad_of(fn, x0)

    def f(a):
        return float((_first(fn(ember.tensor(a))).numpy() * w).sum())
    np.testing.assert_allclose(got, numeric_grad(f, x0), rtol=rtol, atol=atol)


def check_torch(name, x0, *args, **kwargs):
    """Same values, dtype, node name and gradient as torch for Tensor.<name>(*args, **kwargs)."""
    x = ember.tensor(x0, requires_grad=x0.dtype.kind == "f")
    tx = torch.tensor(x0, requires_grad=x0.dtype.kind == "f")
    out = getattr(x, name)(*args, **kwargs)
    tout = getattr(tx, name)(*args, **kwargs)
    outs = out if isinstance(out, tuple) else (out,)
    touts = tout if isinstance(tout, tuple) else (tout,)
    assert len(outs) == len(touts)
    for o, t in zip(outs, touts):
        assert tuple(o.shape) == tuple(t.shape), (name, args, kwargs)
        assert o.dtype.name == str(t.dtype).split(".")[1], (name, o.dtype, t.dtype)
        np.testing.assert_allclose(o.detach().numpy(), t.detach().numpy(), rtol=1e-5, atol=1e-6)
    if tx.requires_grad and touts[0].requires_grad:
        assert outs[0].grad_fn.name() == touts[0].grad_fn.name()
        w = rng.standard_normal(tuple(touts[0].shape)).astype(np.float32)
        outs[0].backward(ember.tensor(w))
        touts[0].backward(torch.tensor(w))
        np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-5, atol=1e-6)
    return out, tout


DIM_CASES = [((), {}), ((1,), {}), ((0,), {"keepdim": True}), ((-1,), {"keepdim": False}),
             (((0, 2),), {}), (((0, 2),), {"keepdim": True}), ((), {"dim": (1,)})]


@requires_torch
@pytest.mark.parametrize("name", ["sum", "mean", "amax", "amin", "std", "var", "logsumexp", "norm"])
@pytest.mark.parametrize("case", range(len(DIM_CASES)))
def test_dim_reductions_match_torch(name, case):
    args, kwargs = DIM_CASES[case]
    if name == "logsumexp" and not args and "dim" not in kwargs:
        args = ((0, 1, 2),)
    if name == "norm":  # norm(p, dim, keepdim)
        kwargs = dict(kwargs)
        if args:
            kwargs["dim"] = args[0]
        args = ()
    x0 = rng.standard_normal((2, 3, 4)).astype(np.float32)
    check_torch(name, x0, *args, **kwargs)


@requires_torch
@pytest.mark.parametrize("name", ["max", "min", "median", "argmax", "argmin", "prod"])
@pytest.mark.parametrize("args,kwargs", [((), {}), ((1,), {}), ((0,), {"keepdim": True}), ((-1,), {})])
def test_index_reductions_match_torch(name, args, kwargs):
    x0 = rng.standard_normal((3, 5)).astype(np.float32)
    check_torch(name, x0, *args, **kwargs)


@requires_torch
def test_ties_share_gradient_like_torch():
    x0 = np.array([[1.0, 3, 3], [2, 2, 0]], dtype=np.float32)
    for name, args in [("max", ()), ("amax", (1,)), ("max", (1,)), ("min", ()), ("median", ()),
                       ("amin", ((0, 1),))]:
        check_torch(name, x0, *args)
    check_torch("norm", x0, p=float("inf"))


@requires_torch
@pytest.mark.parametrize("kwargs", [{}, {"unbiased": False}, {"correction": 0}, {"correction": 2},
                                    {"dim": 1, "unbiased": True}, {"dim": (0, 1), "keepdim": True}])
@pytest.mark.parametrize("name", ["std", "var"])
def test_std_var_corrections(name, kwargs):
    x0 = rng.standard_normal((3, 4)).astype(np.float32)
    check_torch(name, x0, **kwargs)


@requires_torch
def test_legacy_positional_unbiased():
    x0 = rng.standard_normal((3, 4)).astype(np.float32)
    check_torch("std", x0, False)
    check_torch("var", x0, 1, True, True)


@requires_torch
@pytest.mark.parametrize("p", [1, 2, 3, 0.5, float("inf"), "fro"])
def test_norm_p(p):
    x0 = rng.standard_normal((3, 4)).astype(np.float32)
    check_torch("norm", x0, p=p)
    check_torch("norm", x0, p=p, dim=1, keepdim=True)


@requires_torch
@pytest.mark.parametrize("p", [1, 2])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_whole_norms_of_large_arrays_sum_by_chunks(monkeypatch, p, dtype):
    # the 1- and 2-norm of a whole large array: pairwise sums of cache-sized chunks, then of those
    # (no |x| or x * x as large as x); here chunks of 64 over 1,001 x 7 (the last one short)
    from ember.ops import reduce as R
    from ember.nn.utils import clip_grad
    monkeypatch.setattr(R, "_NORM_CHUNK", 64)
    x0 = (rng.standard_normal((1001, 7)) * 1e3).astype(dtype)
    exact = np.sqrt((x0.astype(np.float64) ** 2).sum()) if p == 2 else np.abs(x0.astype(np.float64)).sum()
    tol = 1e-6 if dtype == np.float32 else 1e-13
    for got in (ember.tensor(x0).norm(p), ember.linalg.vector_norm(ember.tensor(x0), p),
                clip_grad.get_total_norm([ember.tensor(x0)], p)):
        assert got.dtype == ember.tensor(x0).dtype
        np.testing.assert_allclose(got.item(), exact, rtol=tol)
        # (torch's own float32 sums stray further from the exact value: 2.7e-6 for p = 1 here)
        np.testing.assert_allclose(got.item(), torch.tensor(x0).norm(p).item(), rtol=10 * tol)
    # bit for bit: chunk by chunk, then the chunks' sums; the whole array where it is not C-contiguous
    # or not past four chunks
    flat = x0.reshape(-1)
    terms = flat * flat if p == 2 else np.abs(flat)
    assert R.power_sum(x0, p) == np.array([terms[i:i + 64].sum() for i in range(0, flat.size, 64)]).sum()
    assert R.power_sum(x0.T, p) == (x0.T * x0.T if p == 2 else np.abs(x0.T)).sum()
    assert R.power_sum(x0[:36], p) == terms[:36 * 7].sum()
    check_torch("norm", x0, p=p)   # (and its gradient)


@requires_torch
@pytest.mark.parametrize("p", [1, 2])
@pytest.mark.parametrize("shape", [(1 << 20,), (1000, 1003)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_whole_norms_of_large_arrays_by_rows(p, shape, dtype):
    # past _SUM_ALL_MIN elements: the 2-norm from the dot products of 4096-element rows (NumPy 2's vecdot),
    # the 1-norm from row sums (reduce._sum_all); within float rounding of the float64 norm
    from ember.ops import reduce as R
    x0 = (rng.standard_normal(shape) * 1e3).astype(dtype)
    exact = np.sqrt((x0.astype(np.float64) ** 2).sum()) if p == 2 else np.abs(x0.astype(np.float64)).sum()
    tol = 1e-6 if dtype == np.float32 else 1e-13
    for got in (ember.tensor(x0).norm(p), ember.linalg.vector_norm(ember.tensor(x0), p)):
        assert got.dtype == ember.tensor(x0).dtype
        np.testing.assert_allclose(got.item(), exact, rtol=tol)
        # (torch's float32 2-norm strays ~1e-5 from the exact value at this size)
        np.testing.assert_allclose(got.item(), torch.tensor(x0).norm(p).item(), rtol=100 * tol)
    if p == 2 and R._vecdot is not None:
        flat = x0.reshape(-1)
        m = flat.size // 4096 * 4096
        rows = flat[:m].reshape(-1, 4096)
        tail = flat[m:]
        want = np.vecdot(rows, rows).sum() + ((tail * tail).sum() if m < flat.size else 0)
        assert R.power_sum(x0, 2) == want


@requires_torch
@pytest.mark.parametrize("p", [2, 1, 3, float("inf")])   # (torch's own p=0 backward fails)
def test_dist_matches_torch(p):
    a0, b0 = rng.standard_normal((3, 4)), rng.standard_normal((4,))

    def run(lib):
        a = lib.tensor(a0, requires_grad=True)
        b = lib.tensor(b0, requires_grad=True)
        d = lib.dist(a, b, p)
        d.backward()
        return d.item(), type(d.grad_fn).__name__, a.grad.numpy(), b.grad.numpy(), a.dist(b).item()
    got, want = run(ember), run(torch)
    assert got[1] == want[1] == "DistBackward0"
    for g, w in zip(got[:1] + got[2:], want[:1] + want[2:]):
        np.testing.assert_allclose(g, w, rtol=1e-12)
    assert ember.dist(ember.tensor(a0), ember.tensor(b0), 0).item() == torch.dist(torch.tensor(a0), torch.tensor(b0), 0).item()


@requires_torch
def test_cumulative_and_sorting():
    x0 = rng.standard_normal((3, 4)).astype(np.float32)
    check_torch("cumsum", x0, 1)
    check_torch("cumsum", x0, 0)
    check_torch("cumprod", x0, 1)
    check_torch("sort", x0, 1)
    check_torch("sort", x0, 0, descending=True)
    check_torch("argsort", x0, -1)
    check_torch("topk", x0, 2)
    check_torch("topk", x0, 2, dim=0, largest=False)
    check_torch("logsumexp", x0, 1, keepdim=True)


@requires_torch
@pytest.mark.parametrize("dtype", [np.float32, np.float16])
@pytest.mark.parametrize("dim,keepdim", [(None, False), (0, False), (1, True), ((0, 1), False), (-1, False)])
def test_variances_in_float64_as_torch_bit_for_bit(dtype, dim, keepdim):
    # torch's Welford runs in float64 for float16 and float32 and rounds once; var_mean's mean too.  (Not
    # 64 rows: a float64 mean of 2^k float32 values is exact, and may fall on a tie between two float32s,
    # which Welford's running mean, a hair off, rounds either way)
    x0 = (np.random.default_rng(7).standard_normal((60, 700)) * 3 + 1).astype(dtype)
    e, t = ember.tensor(x0), torch.tensor(x0)
    for name in ("var", "std", "var_mean", "std_mean"):
        args = () if dim is None else (dim,)
        kw = {} if dim is None else {"keepdim": keepdim}
        got, want = getattr(ember, name)(e, *args, **kw), getattr(torch, name)(t, *args, **kw)
        for g, w in zip(got if isinstance(got, tuple) else (got,), want if isinstance(want, tuple) else (want,)):
            assert tuple(g.shape) == tuple(w.shape) and g.numpy().dtype == w.numpy().dtype
            np.testing.assert_array_equal(g.numpy(), w.numpy())


@requires_torch
@pytest.mark.parametrize("dtype", [np.float32, np.float16, np.complex64, np.float64])
@pytest.mark.parametrize("name", ["cumsum", "cumprod", "logcumsumexp"])
def test_cumulative_ops_accumulate_as_torch_bit_for_bit(name, dtype):
    # torch accumulates in at::acc_type (float64 for float32, float32 for float16, complex128 for
    # complex64) and rounds each output: over long runs float32 accumulation matched it in ~1 % of the
    # elements; now every one, and the cumsum and cumprod gradients (reversed cumsums) too
    if name == "logcumsumexp" and dtype in (np.float16, np.complex64):
        pytest.skip("(torch's CPU kernel takes float16, ember's does not; complex differs elementwise)")
    x0 = rng.standard_normal((40, 700)) + (1j * rng.standard_normal((40, 700)) if dtype == np.complex64 else 0)
    if name == "cumprod":
        x0 = 1 + x0 * 0.01
    x0 = x0.astype(dtype)
    for dim in (0, 1):
        e, t = ember.tensor(x0), torch.tensor(x0)
        got, want = getattr(ember, name)(e, dim).numpy(), getattr(torch, name)(t, dim).numpy()
        assert got.dtype == want.dtype
        np.testing.assert_array_equal(got, want)
        if name != "logcumsumexp" and dtype != np.float16:
            g0 = rng.standard_normal(x0.shape).astype(dtype)
            e.requires_grad_()
            t.requires_grad_()
            getattr(ember, name)(e, dim).backward(ember.tensor(g0))
            getattr(torch, name)(t, dim).backward(torch.tensor(g0))
            if name == "cumprod" and dtype == np.complex64:   # (complex products and quotients round apart)
                np.testing.assert_allclose(e.grad.numpy(), t.grad.numpy(), rtol=1e-6, atol=1e-6)
            else:
                np.testing.assert_array_equal(e.grad.numpy(), t.grad.numpy())


@requires_torch
def test_stable_sort_with_ties_matches_torch():
    x0 = np.array([3, 1, 3, 2, 1, 3], dtype=np.int64)
    for desc in (False, True):
        v, i = ember.tensor(x0).sort(descending=desc, stable=True)
        tv, ti = torch.tensor(x0).sort(descending=desc, stable=True)
        assert v.tolist() == tv.tolist() and i.tolist() == ti.tolist()


@requires_torch
def test_integer_and_bool_dtypes_like_torch():
    i0 = np.array([[1, 2, 3], [4, 5, 6]], dtype=np.int32)
    b0 = np.array([[True, False, True], [False, False, True]])
    u0 = np.array([1, 0, 2], dtype=np.uint8)
    for x0 in (i0, b0):
        for name, args in [("sum", ()), ("sum", (1,)), ("prod", ()), ("cumsum", (1,)), ("max", ()),
                           ("all", ()), ("any", (1,)), ("count_nonzero", ()), ("count_nonzero", (0,)),
                           ("argmax", (1,))]:
            if x0.dtype == bool and name in ("prod", "argmax"):
                continue
            check_torch(name, x0, *args)
    check_torch("all", u0)
    check_torch("any", u0)
    check_torch("max", i0, 1)
    with pytest.raises(RuntimeError, match=r"argmax\(\): does not support bool input"):
        ember.tensor(b0).argmax()
    assert ember.tensor(i0).sum(dtype=ember.float64).dtype == ember.float64


def test_mean_of_integers_raises_like_torch():
    with pytest.raises(RuntimeError, match=r"mean\(\): could not infer output dtype. Input dtype must "
                                           r"be either a floating point or complex dtype. Got: Long"):
        ember.tensor([1, 2, 3]).mean()
    with pytest.raises(RuntimeError, match="Got: Bool"):
        ember.tensor([True]).mean()
    with pytest.raises(RuntimeError, match="std and var only support floating point"):
        ember.tensor([1, 2]).std()


def test_dim_errors():
    x = ember.zeros(4, 4)
    with pytest.raises(RuntimeError, match="dim 0 appears multiple times in the list of dims"):
        x.sum((0, 0))
    with pytest.raises(IndexError, match=r"Dimension out of range \(expected to be in range of \[-2, 1\], "
                                         r"but got 2\)"):
        x.sum(2)
    with pytest.raises(RuntimeError, match="Expected reduction dim to be specified for input.numel"):
        ember.zeros(0).max()
    with pytest.raises(RuntimeError, match="selected index k out of range"):
        x.topk(5)


# (call, the start of torch's message): ember can't tell a method call from torch.max(x, ...) nor a keyword
# from a positional dim, so the keyword forms' texts are compared, and the common start of the overload lists
_DIM_TYPE_ERRORS = [
    ("x.max((0, 1))", "max() received an invalid combination of arguments - got ("),
    ("x.min(dim=[0, 1])", "min() received an invalid combination of arguments - got ("),
    ("torch.max(x, 0.5)", "max() received an invalid combination of arguments - got (Tensor, float), but expected"),
    ("x.max('a')", "max() received an invalid combination of arguments - got ("),
    ("x.argmax(dim=(0, 1))", "argmax(): argument 'dim' must be int, not tuple"),
    ("x.argmin(dim=0.5)", "argmin(): argument 'dim' must be int, not float"),
    ("x.max(0, keepdim=None)", "max(): argument 'keepdim' must be bool, not NoneType"),
    ("x.argmax(0, keepdim=1)", "argmax(): argument 'keepdim' must be bool, not int"),
    ("x.median((0, 1))", None), ("x.cumsum((0, 1))", None), ("x.topk(1, (0, 1))", None),
]


@requires_torch
@pytest.mark.parametrize("call,start", _DIM_TYPE_ERRORS)
def test_dim_of_wrong_type_raises_torchs_type_error(call, start):
    # NumPy's own TypeError ("'<=' not supported between instances of 'int' and 'tuple'") leaked before
    for lib in (torch, ember):
        with pytest.raises(TypeError) as caught:
            eval(call, {"torch": lib, "x": lib.ones(2, 3)})
        if start is not None:
            assert str(caught.value).startswith(start), str(caught.value)
        else:
            assert "must be int, not tuple" in str(caught.value)
    if "invalid combination" in (start or ""):
        assert "(Tensor input, int dim, bool keepdim = False)" in str(caught.value)


@requires_torch
@pytest.mark.parametrize("call", ["x.amax((0, 1))", "x.amin([1, 0], keepdim=True)", "x.sum((0, 1))", "x.max(1)",
                                  "x.argmax(1)", "x.max(torch.zeros(3))", "x.min(np.int64(1))", "x.argmin(None)"])
def test_dims_that_torch_takes_still_work(call):
    x0 = np.arange(6.0).reshape(2, 3)
    ours, theirs = (eval(call, {"torch": lib, "x": lib.tensor(x0), "np": np}) for lib in (ember, torch))
    for o, t in zip(ours if isinstance(ours, tuple) else (ours,), theirs if isinstance(theirs, tuple) else (theirs,)):
        np.testing.assert_array_equal(o.numpy(), t.numpy())
        assert tuple(o.shape) == tuple(t.shape)


@pytest.mark.parametrize("fn", [
    lambda x: x.sum(), lambda x: x.sum(1), lambda x: x.sum((0, 2), keepdim=True), lambda x: x.mean(),
    lambda x: x.mean(-1), lambda x: x.prod(), lambda x: x.prod(1), lambda x: x.max(), lambda x: x.max(1),
    lambda x: x.min(2, keepdim=True), lambda x: x.amax((1, 2)), lambda x: x.std(), lambda x: x.var(1),
    lambda x: x.std(0, keepdim=True), lambda x: x.norm(), lambda x: x.norm(p=1, dim=2),
    lambda x: x.norm(p=3, dim=(0, 1)), lambda x: x.logsumexp(1), lambda x: x.cumsum(2),
    lambda x: x.cumprod(1), lambda x: x.sort(1), lambda x: x.topk(2, 2), lambda x: x.median(1),
    lambda x: ember.var_mean(x, 1)[0], lambda x: ember.std_mean(x, 1)[1],
], ids=lambda f: None)
def test_grads_match_central_differences(fn):
    x0 = rng.standard_normal((2, 3, 4))
    check_numeric(fn, x0)


def test_prod_and_cumprod_grads_with_zeros():
    x0 = rng.standard_normal((3, 4))
    x0[0, 1] = 0.0
    x0[2, 0] = x0[2, 3] = 0.0
    check_numeric(lambda x: x.prod(1), x0)
    check_numeric(lambda x: x.prod(), np.array([1.5, 0.0, 2.0]))
    check_numeric(lambda x: x.cumprod(1), x0)


def test_max_with_dim_returns_named_tuple():
    x = ember.tensor([[1.0, 5.0], [3.0, 2.0]])
    r = ember.max(x, 1)
    assert isinstance(r, tuple) and len(r) == 2
    values, indices = r
    assert r.values is values and r.indices is indices
    assert indices.dtype == ember.int64 and indices.tolist() == [1, 0]
    assert values.tolist() == [5.0, 3.0]
    assert repr(r) == ("ember.return_types.max(\nvalues=tensor([5., 3.]),\nindices=tensor([1, 0]))")
    assert type(r).__name__ == "max"
    _, predicted = ember.max(x, 1)
    assert (predicted == ember.tensor([1, 0])).sum().item() == 2
    assert ember.max(x, dim=1, keepdim=True).values.shape == (2, 1)


@requires_torch
@pytest.mark.parametrize("shape,dim", [((4, 6), 1), ((4, 6), -1), ((4, 6), 0), ((2, 3, 5), 2), ((2, 3, 5), 1),
                                       ((5,), 0), ((), 0)])
@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("name", ["max", "min"])
def test_max_min_with_dim_match_torch(shape, dim, keepdim, name):
    # values (the entry at the index: signed zeros and NaN as torch picks them), indices, gradients
    rng = np.random.default_rng(5)
    x0 = rng.integers(-2, 3, shape).astype(np.float32)
    if x0.ndim == 2:
        x0[0, :2] = [0.0, -0.0]
        x0[1, :2] = [-0.0, 0.0]
        x0[2, 1] = np.nan
    got = []
    for lib in (ember, torch):
        x = lib.tensor(x0, requires_grad=True)
        v, i = getattr(lib, name)(x, dim, keepdim=keepdim)
        (v * lib.arange(1, v.numel() + 1).reshape(v.shape)).sum().backward()
        got.append((v.detach().numpy(), i.numpy(), x.grad.numpy(), v.grad_fn.name()))
    (v, i, g, n), (tv, ti, tg, tn) = got
    assert v.shape == tv.shape and i.dtype == ti.dtype and n == tn
    np.testing.assert_array_equal(i, ti)
    np.testing.assert_array_equal(v, tv)
    np.testing.assert_array_equal(np.signbit(v), np.signbit(tv))
    np.testing.assert_array_equal(g, tg)


@requires_torch
def test_named_tuple_repr_matches_torch():
    x0 = np.array([[1.0, 5.0], [3.0, 2.0]], dtype=np.float32)
    for name in ("max", "min", "sort", "median"):
        r = getattr(ember.tensor(x0), name)(1)
        tr = getattr(torch.tensor(x0), name)(1)
        assert repr(r).replace("ember.", "torch.") == repr(tr)
    assert repr(ember.tensor(x0).topk(1)).replace("ember.", "torch.") == repr(torch.tensor(x0).topk(1))


def test_max_with_tensor_is_maximum():
    a, b = ember.tensor([1.0, 4.0]), ember.tensor([3.0, 2.0])
    assert ember.max(a, b).tolist() == [3.0, 4.0]
    assert ember.min(a, b).tolist() == [1.0, 2.0]


def test_results_are_arrays_not_numpy_scalars():
    x = ember.randn(3, 4, requires_grad=True)
    for out in (x.sum(), x.mean(), x.max(), x.std(), x.norm(), x.prod(), x.argmax(), x.all(),
                x.logsumexp((0, 1)), x.median(), x.amax(), x.count_nonzero()):
        assert type(out._data) is np.ndarray and out.shape == ()


def test_float32_stays_float32():
    x = ember.randn(3, 4, requires_grad=True)
    for fn in (lambda t: t.sum(), lambda t: t.mean(1), lambda t: t.std(), lambda t: t.norm(dim=1),
               lambda t: t.var(0), lambda t: t.logsumexp(1), lambda t: t.prod(1), lambda t: t.cumprod(0)):
        x.grad = None
        out = fn(x)
        assert out.dtype == ember.float32
        out.backward(ember.ones(out.shape))
        assert x.grad.dtype == ember.float32


def test_saved_input_modified_in_place_raises_at_backward():
    x = ember.randn(3, requires_grad=True)
    y = x * 1
    z = y.prod()
    y.add_(1)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        z.backward()


def test_zero_dim_inputs():
    x = ember.tensor(3.0, requires_grad=True)
    assert x.sum(0).item() == 3.0 and x.max(0).indices.item() == 0
    x.max(0).values.backward()
    assert x.grad.item() == 1.0
    assert x.argmax().item() == 0 and x.sort().values.item() == 3.0


@requires_torch
def test_numpy_keyword_names_like_torch():
    # torch's argument parser takes axis= for dim= and keepdims= for keepdim=
    x0 = np.array([[1.0, 5, 3], [4, 2, 6]], dtype=np.float32)
    calls = [lambda m, x: x.sum(axis=0), lambda m, x: x.mean(axis=1, keepdims=True), lambda m, x: m.sum(x, axis=1),
             lambda m, x: x.max(axis=1).values, lambda m, x: x.argmin(axis=0), lambda m, x: x.std(axis=0),
             lambda m, x: m.cat([x, x], axis=1), lambda m, x: m.stack([x, x], axis=2), lambda m, x: x.unsqueeze(axis=0),
             lambda m, x: x.any(axis=1, keepdims=True)]
    for call in calls:
        got, ref = call(ember, ember.tensor(x0)), call(torch, torch.tensor(x0))
        assert tuple(got.shape) == tuple(ref.shape)
        np.testing.assert_allclose(got.numpy(), ref.numpy(), rtol=1e-6)


@pytest.mark.parametrize("shape,dim,keepdim", [((20000, 10), -1, False), ((2000, 50), 1, True),
                                               ((64, 32, 100), (1, 2), False), ((64, 32, 100), (-2, -1), True),
                                               ((40, 4096), -1, False)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sums_over_trailing_rows_match_torch(oracle, shape, dim, keepdim, dtype):
    # sum and mean over a C-contiguous array's last dims run as one product with ones (NumPy reduces
    # short contiguous rows one by one): torch's values to float rounding, and float64's to 1e-6
    from ember.ops.reduce import _axes, _sum_rows
    x = np.random.default_rng(0).standard_normal(shape).astype(dtype) * 10
    assert _sum_rows(x, _axes(dim, x.ndim), keepdim) is not None
    exact = x.astype(np.float64).sum(axis=dim, keepdims=keepdim)
    scale = np.abs(x).astype(np.float64).sum(axis=dim, keepdims=keepdim)
    for name in ("sum", "mean"):
        e = ember.tensor(x, requires_grad=True)
        t = oracle.tensor(x, requires_grad=True)
        got, want = getattr(e, name)(dim, keepdim), getattr(t, name)(dim, keepdim)
        assert tuple(got.shape) == tuple(want.shape) and got.dtype == e.dtype
        tol = 1e-6 if dtype == np.float32 else 1e-13
        np.testing.assert_allclose(got.detach().numpy(), want.detach().numpy(), rtol=tol, atol=tol * scale.max())
        if name == "sum":
            assert np.max(np.abs(got.detach().numpy() - exact) / scale) < tol
        g = np.random.default_rng(1).standard_normal(tuple(want.shape)).astype(dtype)
        got.backward(ember.tensor(g))
        want.backward(oracle.tensor(g))
        np.testing.assert_allclose(e.grad.numpy(), t.grad.numpy(), rtol=1e-6)
    # a strided input, or dims neither the trailing nor the leading ones, keep NumPy's reduction
    assert _sum_rows(np.asfortranarray(x), _axes(dim, x.ndim), keepdim) is None
    if x.ndim == 3:
        assert _sum_rows(x, (1,), keepdim) is None


@pytest.mark.parametrize("shape,dim", [((100000, 10), 0), ((1001, 1000), 0), ((4097, 512), 0), ((50001, 3), 0),
                                       ((257, 3, 4, 4), (0,)), ((40, 30, 50), (0, 1)), ((300, 7), 0)])
@pytest.mark.parametrize("data", ["constant", "random"])
def test_sums_over_leading_dims_are_as_accurate_as_torch(oracle, shape, dim, data):
    # sums over many leading rows add pairwise (NumPy adds row after row: full((100000, 10), 0.1).sum(0)
    # came out 1.4e-4 off, torch 8e-8): within float rounding of float64's, no worse than torch
    from ember.ops.reduce import _axes, _sum_rows
    x = (np.full(shape, 0.1) if data == "constant" else np.random.default_rng(0).random(shape) + 1).astype(np.float32)
    assert _sum_rows(x, _axes(dim, x.ndim), False) is not None
    exact = x.astype(np.float64).sum(axis=dim)
    for keepdim in (False, True):
        got = ember.tensor(x).sum(dim, keepdim)
        want = oracle.tensor(x).sum(dim, keepdim)
        assert tuple(got.shape) == tuple(want.shape)
        err = np.max(np.abs(got.numpy().astype(np.float64).reshape(exact.shape) - exact) / exact)
        torch_err = np.max(np.abs(want.numpy().astype(np.float64).reshape(exact.shape) - exact) / exact)
        assert err <= max(2 * torch_err, 3e-7), (err, torch_err)
        mean = ember.tensor(x).mean(dim, keepdim).numpy().astype(np.float64).reshape(exact.shape)
        assert np.max(np.abs(mean - exact / (x.size / exact.size)) / (exact / (x.size / exact.size))) <= 3e-7
    # the gradient is the broadcast one, as before
    e = ember.tensor(x, requires_grad=True)
    e.sum(dim).backward(ember.ones(exact.shape))
    assert np.array_equal(e.grad.numpy(), np.ones(shape, np.float32))


def test_full_sums_of_constants_are_as_accurate_as_pairwise():
    # rows of 4096 had added each SIMD lane's 256 values in sequence: full(10 ** 6, 0.1).sum() printed
    # 99999.5859 (torch and NumPy 100000.01)
    for n in (10 ** 6, 4 * 10 ** 6 + 77, 40000):
        x = np.full(n, 0.1, np.float32)
        exact = x.astype(np.float64).sum()
        assert abs(ember.tensor(x).sum().item() - exact) / exact < 2e-7
        assert abs(ember.tensor(x).mean().item() - exact / n) / (exact / n) < 2e-7


@pytest.mark.parametrize("shape", [(1 << 20,), (1000, 1003), (4, 3, 64, 64)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_full_sums_of_large_arrays_match_torch(oracle, shape, dtype):
    # a full sum of a large C-contiguous array runs as row sums of 128 elements (one product with
    # ones) and their sum: torch's values to float rounding, within 1e-6 of float64's
    from ember.ops.reduce import _sum_all
    x = (np.random.default_rng(0).standard_normal(shape) + 0.3).astype(dtype)
    assert _sum_all(x) is not None
    exact, scale = x.astype(np.float64).sum(), np.abs(x).astype(np.float64).sum()
    tol = 1e-6 if dtype == np.float32 else 1e-13
    for name in ("sum", "mean"):
        e, t = ember.tensor(x, requires_grad=True), oracle.tensor(x, requires_grad=True)
        got, want = getattr(e, name)(), getattr(t, name)()
        assert got.shape == () and got.dtype == e.dtype
        n = 1 if name == "sum" else x.size
        assert abs(got.item() - want.item()) <= tol * scale / n
        assert abs(got.item() - exact / n) <= tol * scale / n
        got.backward()
        want.backward()
        np.testing.assert_array_equal(e.grad.numpy(), t.grad.numpy())
    # NaN and the infinities come through as in NumPy's sum
    for special, want in [(np.nan, np.nan), (np.inf, np.inf), (-np.inf, -np.inf)]:
        y = x.copy()
        y.reshape(-1)[12345] = special
        assert np.array_equal(ember.tensor(y).sum().numpy(), np.array(want, dtype), equal_nan=True)
    y = x.copy()
    y.reshape(-1)[:2] = [np.inf, -np.inf]
    assert np.isnan(ember.tensor(y).sum().item())
    # a strided view, small arrays and other dtypes keep NumPy's reduction
    assert _sum_all(x.T if x.ndim > 1 else x[::2]) is None
    assert _sum_all(x.reshape(-1)[:1000]) is None and _sum_all(x.astype(np.float16)) is None
    np.testing.assert_allclose(ember.tensor(x.T if x.ndim > 1 else x[::2]).sum().item(), x.T.sum() if x.ndim > 1
                               else x[::2].sum(), rtol=tol)


@requires_torch
def test_topk_by_repeated_extremes_matches_torch(monkeypatch):
    # sorted topk with k <= 8 takes one argmax pass per element (then replays torch's choice among ties):
    # torch's values, signed zeros and indices over random shapes, dims, ties, infinities and NaN
    from ember.ops import reduce as R
    used = []
    fast = R._top_k_by_extremes
    monkeypatch.setattr(R, "_top_k_by_extremes", lambda *a: used.append(fast(*a)) or used[-1])
    g = np.random.default_rng(11)
    for _ in range(300):
        shape = tuple(int(s) for s in g.integers(1, 30, g.integers(1, 4)))
        if g.random() < 0.3:
            shape = shape[:-1] + (int(g.integers(60, 300)),)
        kind = g.integers(0, 4)
        x = [g.standard_normal(shape), g.integers(-3, 3, shape).astype(float),
             g.choice([0.0, -0.0, 1.0, np.inf, -np.inf], shape), g.standard_normal(shape)][kind]
        if kind == 3:
            x.reshape(-1)[g.integers(0, x.size, 3)] = np.nan
        x = x.astype(g.choice([np.float32, np.float64]))
        d = int(g.integers(-len(shape), len(shape)))
        k = int(g.integers(1, min(shape[d], 8) + 1))
        largest = bool(g.random() < 0.7)
        got = ember.topk(ember.tensor(x), k, dim=d, largest=largest)
        want = torch.topk(torch.tensor(x), k, dim=d, largest=largest)
        np.testing.assert_array_equal(got.values.numpy(), want.values.numpy())
        np.testing.assert_array_equal(np.signbit(got.values.numpy()), np.signbit(want.values.numpy()))
        np.testing.assert_array_equal(got.indices.numpy(), want.indices.numpy())
    # most took the fast path; NaN, and -inf taken past the first, fell back to the general one
    assert 150 < sum(u is not None for u in used) < len(used) == 300


@requires_torch
@pytest.mark.parametrize("shape", [(64, 700), (3, 5, 7), (1000, 3)])
def test_float16_sums_over_dims_accumulate_in_float32_as_torch(shape):
    # torch adds float16 in float32 and rounds once; NumPy's float16 reduction over an outer dim rounds
    # at every step
    x0 = (np.random.default_rng(5).standard_normal(shape) * 3).astype(np.float16)
    for dim in list(range(len(shape))) + [(0, 1)]:
        for keepdim in (False, True):
            got = ember.tensor(x0).sum(dim, keepdim=keepdim).numpy()
            want = torch.tensor(x0).sum(dim, keepdim=keepdim).numpy()
            assert got.dtype == want.dtype == np.float16 and got.shape == want.shape
            np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(ember.tensor(x0).sum(0, dtype=ember.float16).numpy(),
                                  torch.tensor(x0).sum(0, dtype=torch.float16).numpy())


@requires_torch
def test_bincount_weights_add_in_order_as_torch():
    # torch adds float32 weights in float32, in input order (float64 sums matched it in ~half the bins);
    # no input gives int64 zeros whatever the weights
    g = np.random.default_rng(2)
    for n, bins, minlength in [(1000, 50, 0), (5000, 400, 0), (10, 3, 7)]:
        idx, w = g.integers(0, bins, n), g.random(n).astype(np.float32)
        got = ember.bincount(ember.tensor(idx), ember.tensor(w), minlength=minlength).numpy()
        want = torch.bincount(torch.tensor(idx), torch.tensor(w), minlength=minlength).numpy()
        assert got.dtype == want.dtype == np.float32
        np.testing.assert_array_equal(got, want)
    for dt in (np.float32, np.float64):
        got = ember.bincount(ember.tensor(np.zeros(0, np.int64)), ember.tensor(np.zeros(0, dt)), minlength=3)
        assert got.dtype == ember.int64 and got.tolist() == [0, 0, 0]
