"""Losses: values and gradients against torch and float64 central differences, node names, errors."""
import inspect
import re
import warnings

import numpy as np
import pytest

import ember
from ember.ops import loss as L
import ember.nn.functional as F
from tests.conftest import numeric_grad

RNG = np.random.default_rng(1)


def _t(lib, a, grad=False):
    if not isinstance(a, np.ndarray):
        return a
    t = lib.tensor(a)
    return t.requires_grad_(True) if grad else t


def compare(torch, name, args, grad_idx=(0,), kwargs=None, atol=1e-5, rtol=1e-4, node=True, tfn=None):
    """Loss value and gradients (for a random upstream gradient) vs torch.nn.functional."""
    import torch.nn.functional as TF
    kwargs = kwargs or {}
    ekw = {k: _t(ember, v) for k, v in kwargs.items()}
    tkw = {k: _t(torch, v) for k, v in kwargs.items()}
    ea = [_t(ember, a, i in grad_idx) for i, a in enumerate(args)]
    ta = [_t(torch, a, i in grad_idx) for i, a in enumerate(args)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        eo = getattr(L, name)(*ea, **ekw)
        to = (tfn or getattr(TF, name))(*ta, **tkw)
    assert tuple(eo.shape) == tuple(to.shape)
    assert eo.dtype.name == str(to.dtype).split(".")[-1]
    np.testing.assert_allclose(eo.detach().numpy(), to.detach().numpy(), atol=atol, rtol=rtol)
    if not grad_idx:
        return eo
    if node:
        assert eo.grad_fn.name() == to.grad_fn.name()
    w = RNG.standard_normal(tuple(to.shape)).astype(eo.detach().numpy().dtype)
    eo.backward(ember.tensor(w))
    to.backward(torch.tensor(w))
    for i in grad_idx:
        np.testing.assert_allclose(ea[i].grad.numpy(), ta[i].grad.numpy(), atol=atol, rtol=rtol)
    return eo


def gradcheck(fn, args, idx=0, **kwargs):
    """d(sum(loss * w))/d(args[idx]) in float64 vs central differences."""
    args = [a.astype(np.float64) if isinstance(a, np.ndarray) and a.dtype.kind == "f" else a for a in args]
    ea = [ember.tensor(a) if isinstance(a, np.ndarray) else a for a in args]
    ea[idx].requires_grad_(True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = fn(*ea, **kwargs)
    w = RNG.standard_normal(tuple(out.shape))
    out.backward(ember.tensor(w))

    def f(v):
        ea2 = list(ea)
        ea2[idx] = ember.tensor(v)
        with ember.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return float((fn(*ea2, **kwargs).numpy() * w).sum())
    np.testing.assert_allclose(ea[idx].grad.numpy(), numeric_grad(f, args[idx]), atol=1e-6, rtol=1e-5)


def _logits(*shape, dtype=np.float32):
    return (RNG.standard_normal(shape) * 2).astype(dtype)


def _classes(c, *shape):
    return RNG.integers(0, c, shape).astype(np.int64)


# ---- cross_entropy / nll_loss -------------------------------------------------------------
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("shape", [(4, 10), (1, 3), (5,), (2, 3, 4), (2, 3, 2, 2)])
def test_cross_entropy_class_indices(oracle, shape, reduction):
    x = _logits(*shape)
    c = shape[1] if len(shape) > 1 else shape[0]
    t = _classes(c, *((shape[0],) + shape[2:])) if len(shape) > 1 else np.array(2)
    # torch routes 3-D input through 4-D views (ViewBackward0 on top); ember records NllLoss2DBackward0
    node = len(shape) != 3
    compare(oracle, "cross_entropy", [x, t], kwargs={"reduction": reduction}, node=node)
    compare(oracle, "nll_loss", [x, t], kwargs={"reduction": reduction}, node=node)


@pytest.mark.parametrize("kwargs", [
    {"weight": np.array([0.2, 1.0, 3.0, 0.5, 1.5], np.float32)},
    {"ignore_index": 1},
    {"ignore_index": 1, "reduction": "sum"},
    {"label_smoothing": 0.1},
    {"label_smoothing": 0.25, "reduction": "none"},
    {"label_smoothing": 0.2, "weight": np.array([0.2, 1.0, 3.0, 0.5, 1.5], np.float32), "ignore_index": 2},
    {"label_smoothing": 0.2, "weight": np.array([0.2, 1.0, 3.0, 0.5, 1.5], np.float32), "reduction": "sum"},
    {"weight": np.array([0.2, 1.0, 3.0, 0.5, 1.5], np.float32), "reduction": "none", "ignore_index": 0},
])
@pytest.mark.parametrize("spatial", [False, True])
def test_cross_entropy_options(oracle, kwargs, spatial):
    x = _logits(6, 5, 3) if spatial else _logits(6, 5)
    t = _classes(5, 6, 3) if spatial else _classes(5, 6)
    t.reshape(-1)[:3] = [1, 2, 0]
    node = not kwargs.get("label_smoothing") and not spatial
    compare(oracle, "cross_entropy", [x, t], kwargs=kwargs, node=node)
    if not kwargs.get("label_smoothing"):
        lp = _logits(*x.shape)
        compare(oracle, "nll_loss", [lp, t], kwargs=kwargs, node=node)


def test_cross_entropy_ignore_all_is_nan(oracle):
    x = _logits(3, 4)
    t = np.full(3, -100, np.int64)
    y = L.cross_entropy(ember.tensor(x), ember.tensor(t))
    assert np.isnan(y.item())
    assert np.isnan(oracle.nn.functional.cross_entropy(oracle.tensor(x), oracle.tensor(t)).item())


def _ignored_rows_grads(lib, target, **kw):
    x = lib.tensor(_IGNORE_X, requires_grad=True)
    loss = lib.nn.functional.cross_entropy(x, lib.tensor(target), **kw)
    loss.backward(lib.full_like(loss, -1.5))   # (a negative upstream gradient: 0 * g would be -0.0)
    return str(x.grad).replace("ember", "torch")


_IGNORE_X = np.linspace(-1, 1, 12).reshape(3, 4)


@pytest.mark.parametrize("target,kw", [([1, -100, 3], {}), ([-100] * 3, {}), ([2, 2, 0], {"ignore_index": 2}),
                                       ([1, -100, 3], {"reduction": "none"}),
                                       ([1, -100, 3], {"label_smoothing": 0.2, "reduction": "sum"}),
                                       ([-100] * 3, {"label_smoothing": 0.2, "weight": np.array([1, 2, 0.5, 3.0])})])
def test_ignored_targets_get_positive_zero_gradients(target, kw, oracle):
    kw_e = {k: ember.tensor(v) if isinstance(v, np.ndarray) else v for k, v in kw.items()}
    kw_t = {k: oracle.tensor(v) if isinstance(v, np.ndarray) else v for k, v in kw.items()}
    got = _ignored_rows_grads(ember, np.array(target), **kw_e)
    # (all ignored: the mean is nan, its gradient zeros)
    assert "nan" not in got and not re.search(r"-0\.0+(?![0-9])", got), got
    assert got == _ignored_rows_grads(oracle, np.array(target), **kw_t)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("kwargs", [{}, {"label_smoothing": 0.3},
                                    {"weight": np.array([1.0, 2.0, 0.5, 0.1], np.float32)}])
def test_cross_entropy_probabilities(oracle, reduction, kwargs):
    x = _logits(5, 4)
    p = RNG.dirichlet(np.ones(4), 5).astype(np.float32)
    kw = dict(kwargs, reduction=reduction)
    compare(oracle, "cross_entropy", [x, p], grad_idx=(0, 1), kwargs=kw)
    compare(oracle, "cross_entropy", [_logits(2, 4, 3), RNG.dirichlet(np.ones(4), (2, 3)).transpose(0, 2, 1)
                                      .astype(np.float32)], grad_idx=(0, 1), kwargs=kw)


@pytest.mark.parametrize("workers", [1, 2])
def test_cross_entropy_of_many_logits_in_blocks_of_rows(oracle, monkeypatch, workers):
    # a language model's (tokens, vocabulary) logits: the log-softmax in blocks of rows (on threads),
    # forward and backward each row's bits as from the whole array, and torch's values
    import torch.nn.functional as TF
    from ember import _threads
    rng = np.random.default_rng(8)
    x = (rng.standard_normal((203, 333)) * 4).astype(np.float32)
    x[5, 7] = np.inf   # (a nan row, silently, as torch)
    t = rng.integers(0, 333, 203)
    monkeypatch.setattr(_threads, "get_num_threads", lambda: workers)
    monkeypatch.setattr(_threads, "ROWS_PAR_MIN", 30000)
    out = []
    for block in (1 << 30, 5000):
        monkeypatch.setattr(_threads, "ROW_BLOCK", block)
        e = ember.tensor(x, requires_grad=True)
        loss = F.cross_entropy(e, ember.tensor(t))
        loss.backward()
        out.append((loss.item(), e.grad.numpy().copy()))
    assert np.isnan(out[1][0]) and np.array_equal(out[0][1], out[1][1], equal_nan=True)
    x[5, 7] = 0
    e, tt = ember.tensor(x, requires_grad=True), oracle.tensor(x, requires_grad=True)
    le, lt = F.cross_entropy(e, ember.tensor(t)), TF.cross_entropy(tt, oracle.tensor(t))
    le.backward()
    lt.backward()
    np.testing.assert_allclose(le.item(), lt.item(), rtol=1e-6)
    np.testing.assert_allclose(e.grad.numpy(), tt.grad.numpy(), rtol=1e-5, atol=1e-8)


def test_cross_entropy_gradcheck():
    x = _logits(3, 4)
    t = np.array([0, 3, 1])
    gradcheck(L.cross_entropy, [x, t])
    gradcheck(L.cross_entropy, [x, t], reduction="none", label_smoothing=0.2,
              weight=ember.tensor([1.0, 2.0, 0.5, 1.0], dtype=ember.float64))
    gradcheck(L.cross_entropy, [x, RNG.dirichlet(np.ones(4), 3)], idx=0)
    gradcheck(L.cross_entropy, [x, RNG.dirichlet(np.ones(4), 3)], idx=1)
    gradcheck(L.nll_loss, [_logits(2, 3, 2), _classes(3, 2, 2)], reduction="sum")


def test_cross_entropy_graph_is_torch_shaped(oracle):
    x = ember.tensor(_logits(4, 10), requires_grad=True)
    t = ember.tensor(_classes(10, 4))
    loss = L.cross_entropy(x, t)
    assert loss.grad_fn.name() == "NllLossBackward0"
    ls = loss.grad_fn.next_functions[0][0]
    assert ls.name() == "LogSoftmaxBackward0"
    assert ls.next_functions[0][0].name() == "torch::autograd::AccumulateGrad"
    assert repr(loss).endswith("grad_fn=<NllLossBackward0>)")
    x4 = ember.tensor(_logits(2, 3, 2, 2), requires_grad=True)
    assert L.cross_entropy(x4, ember.tensor(_classes(3, 2, 2, 2))).grad_fn.name() == "NllLoss2DBackward0"
    assert L.cross_entropy(x, t, label_smoothing=0.1).grad_fn.name() == "AddBackward0"
    # the fast path and the general path agree
    y_fast = L.cross_entropy(x, t)
    y_slow = L.cross_entropy(x, t, weight=ember.ones(10))
    np.testing.assert_allclose(y_fast.item(), y_slow.item(), rtol=1e-6)
    y_fast.backward()
    g_fast = x.grad.numpy().copy()
    x.grad = None
    y_slow.backward()
    np.testing.assert_allclose(g_fast, x.grad.numpy(), rtol=1e-6, atol=1e-8)


def test_cross_entropy_no_grad_and_double_backward():
    x = ember.tensor(_logits(2, 3), requires_grad=True)
    t = ember.tensor([0, 2])
    with ember.no_grad():
        assert L.cross_entropy(x, t).grad_fn is None
    y = L.cross_entropy(x, t)
    y.backward()
    with pytest.raises(RuntimeError, match="second time"):
        y.backward()


def test_cross_entropy_float64(oracle):
    compare(oracle, "cross_entropy", [_logits(3, 5, dtype=np.float64), _classes(5, 3)])


def test_cross_entropy_errors():
    x = ember.tensor(_logits(4, 10))
    with pytest.raises(IndexError, match=r"Target 10 is out of bounds.*for 10 classes \(valid: 0..9\)"):
        L.cross_entropy(x, ember.tensor([1, 2, 3, 10]))
    with pytest.raises(IndexError, match="Target -5 is out of bounds.*ignore_index"):
        L.cross_entropy(x, ember.tensor([1, 2, 3, -5]))
    with pytest.raises(IndexError, match="Target 12 is out of bounds"):
        L.nll_loss(x, ember.tensor([1, 2, 3, 12]), weight=ember.ones(10))
    with pytest.raises(RuntimeError, match="expected target dtype to be Long or Byte, but got Float.*probabilities"):
        L.cross_entropy(x, ember.tensor([1.0, 2.0, 3.0, 4.0]))
    with pytest.raises(RuntimeError, match="but got Int"):
        L.cross_entropy(x, ember.tensor([1, 2, 3, 4], dtype=ember.int32))
    with pytest.raises(ValueError, match=r"Expected input batch_size \(4\) to match target batch_size \(3\)"):
        L.cross_entropy(x, ember.tensor([1, 2, 3]))
    with pytest.raises(RuntimeError, match="Expected floating point type for target with class probabilities"):
        L.cross_entropy(x, ember.zeros(4, 10, dtype=ember.int64))
    with pytest.raises(ValueError, match="foo is not a valid value for reduction"):
        L.cross_entropy(x, ember.tensor([1, 2, 3, 4]), reduction="foo")
    with pytest.raises(RuntimeError, match="weight tensor should be defined either for all 10 classes"):
        L.cross_entropy(x, ember.tensor([1, 2, 3, 4]), weight=ember.ones(3))
    with pytest.raises(RuntimeError, match="label_smoothing must be between 0.0 and 1.0"):
        L.cross_entropy(x, ember.tensor([1, 2, 3, 4]), label_smoothing=1.5)
    with pytest.raises(RuntimeError, match="ignore_index is not supported for floating point target"):
        L.cross_entropy(x, ember.zeros(4, 10), ignore_index=3)
    with pytest.raises(NotImplementedError, match="not implemented for 'Long'"):
        L.cross_entropy(ember.tensor([[1, 2]]), ember.tensor([0]))
    with pytest.raises(RuntimeError, match="0D or 1D target tensor expected"):
        L.nll_loss(x, ember.zeros(4, 2, dtype=ember.int64))
    with pytest.raises(RuntimeError, match=r"Expected target size \[2, 4\], got \[2, 5\]"):
        L.nll_loss(ember.tensor(_logits(2, 3, 4)), ember.zeros(2, 5, dtype=ember.int64))
    # uint8 targets are accepted, as in torch
    assert L.cross_entropy(x, ember.tensor([1, 2, 3, 4], dtype=ember.uint8)).shape == ()


# (input shape, target shape, target dtype, kwargs): targets wrong in one or several ways, which torch checks
# in a set order (batch size, then the target's rank, then its dtype, then its other sizes)
_TARGET_CASES = [
    ((2, 3, 4, 4), (2, 4, 5), "int64", {}), ((2, 3, 4, 4), (2, 4, 5), "float32", {}),
    ((2, 3, 4, 4), (2, 4), "float32", {}), ((2, 3, 4, 4), (2, 4, 5), "int32", {}),
    ((2, 3, 4, 4), (3, 4, 4, 1), "int64", {}), ((2, 3, 4, 4), (2, 4, 4, 1), "int64", {}),
    ((2, 3, 4, 4), (), "int64", {}), ((2, 3, 4, 4), (2, 4, 5), "int64", {"label_smoothing": 0.1}),
    ((4, 5), (2, 2), "int64", {}), ((4, 5), (4, 1), "int64", {}), ((4, 5), (4, 2), "int64", {}),
    ((4, 5), (2,), "int64", {}), ((4, 5), (4, 2, 2), "int64", {}), ((4, 5), (2, 2, 2), "int64", {}),
    ((4, 5), (2, 2), "int32", {}), ((4, 5), (4, 2), "int32", {}), ((4, 5), (2,), "float32", {}),
    ((4, 5), (4,), "int32", {}), ((4, 5), (), "int64", {}), ((0, 5), (), "int64", {}),
    ((4, 5), (2, 2), "int64", {"label_smoothing": 0.1}),
    ((5,), (2,), "int64", {}), ((5,), (2,), "int32", {}), ((5,), (2, 2), "int64", {}), ((5,), (2,), "float32", {}),
    ((5,), (1,), "int64", {}), ((5,), (1,), "int64", {"reduction": "none"}), ((5,), (), "int64", {}),
    ((5,), (1,), "int64", {"label_smoothing": 0.1}),
    ((2, 3, 4), (2, 5), "int64", {}), ((2, 3, 4), (2,), "int64", {}), ((2, 3, 4), (2, 4, 1), "int64", {}),
    ((2, 3, 4), (), "int64", {}), ((2, 3, 4), (2, 5), "int32", {}), ((4, 5, 3), (2, 3, 3), "int64", {}),
    ((2, 3, 4, 5, 6), (2, 4, 5, 7), "float32", {}),
    ((), (), "int64", {}), ((), (2,), "int64", {}), ((), (), "float32", {}),
]


@pytest.mark.parametrize("name", ["nll_loss", "cross_entropy"])
@pytest.mark.parametrize("shape,tshape,tdtype,kwargs", _TARGET_CASES)
def test_class_index_target_checks_match_torch(oracle, name, shape, tshape, tdtype, kwargs):
    if name == "nll_loss" and "label_smoothing" in kwargs:
        pytest.skip("label_smoothing is cross_entropy's")
    x = _logits(*shape) if shape else np.float32(0.5)
    t = np.zeros(tshape, dtype=tdtype)
    outcomes = []
    for lib in (oracle, ember):
        try:
            outcomes.append(getattr(lib.nn.functional, name)(lib.tensor(x), lib.tensor(t), **kwargs))
        except Exception as e:  # noqa: BLE001 (the exception itself is compared)
            outcomes.append(e)
    theirs, ours = outcomes
    if isinstance(theirs, Exception):
        assert type(ours) is type(theirs), (ours, theirs)
        # ember adds a hint after torch's text (torch's "size mismatch" text lacks its closing parenthesis)
        assert str(ours).startswith(str(theirs)), (str(ours), str(theirs))
    else:
        assert not isinstance(ours, Exception), ours
        assert tuple(ours.shape) == tuple(theirs.shape)
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-5)


def test_legacy_size_average_warns(oracle):
    x, t = _logits(3, 4), _classes(4, 3)
    with pytest.warns(UserWarning, match="size_average and reduce args will be deprecated, please use "
                                         "reduction='sum' instead"):
        y = L.cross_entropy(ember.tensor(x), ember.tensor(t), size_average=False)
    ref = oracle.nn.functional.cross_entropy(oracle.tensor(x), oracle.tensor(t), reduction="sum")
    np.testing.assert_allclose(y.item(), ref.item(), rtol=1e-5)


# ---- pointwise losses ------------------------------------------------------------------------
POINTWISE = [("mse_loss", {}), ("l1_loss", {}), ("smooth_l1_loss", {}), ("smooth_l1_loss", {"beta": 0.5}),
             ("huber_loss", {}), ("huber_loss", {"delta": 0.5}), ("soft_margin_loss", {})]


@pytest.mark.parametrize("name,kwargs", POINTWISE)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_pointwise_losses(oracle, name, kwargs, reduction, dtype):
    x = _logits(3, 4, dtype=dtype)
    t = np.sign(_logits(3, 4, dtype=dtype)) if name == "soft_margin_loss" else _logits(3, 4, dtype=dtype)
    kw = dict(kwargs, reduction=reduction)
    compare(oracle, name, [x, t], grad_idx=(0,) if name == "soft_margin_loss" else (0, 1), kwargs=kw)


@pytest.mark.parametrize("name", ["mse_loss", "l1_loss", "huber_loss"])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_weighted_pointwise_losses(oracle, name, reduction):
    x, t = _logits(3, 4), _logits(3, 4)
    w = RNG.uniform(0.1, 2, (3, 4)).astype(np.float32)
    compare(oracle, name, [x, t], grad_idx=(0, 1), kwargs={"reduction": reduction, "weight": w})


@pytest.mark.parametrize("name", ["mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss"])
def test_pointwise_gradcheck(name):
    x, t = _logits(3, 4), _logits(3, 4)
    gradcheck(getattr(L, name), [x, t])
    gradcheck(getattr(L, name), [x, t], idx=1, reduction="sum")


def test_mse_broadcast_warning_and_error(oracle):
    x, t = _logits(4, 1), _logits(4)
    with pytest.warns(UserWarning, match=r"Using a target size \((ember|torch)\.Size\(\[4\]\)\) that is different "
                                         r"to the input size"):
        y = L.mse_loss(ember.tensor(x, requires_grad=True), ember.tensor(t))
    compare(oracle, "mse_loss", [x, t], grad_idx=(0, 1))
    assert y.shape == ()
    with pytest.raises(RuntimeError, match="The size of tensor a \\(3\\) must match the size of tensor b \\(4\\)"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            L.mse_loss(ember.tensor(_logits(4, 3)), ember.tensor(_logits(4)))
    with pytest.raises(ValueError, match="Weights and input must have the same size"):
        L.mse_loss(ember.tensor(x), ember.tensor(x), weight=ember.ones(4))


def test_mse_node_and_tutorial_shape():
    out = ember.tensor(_logits(1, 10), requires_grad=True)
    loss = L.mse_loss(out, ember.tensor(_logits(1, 10)))
    assert loss.grad_fn.name() == "MseLossBackward0"
    assert loss.grad_fn.next_functions[0][0].name() == "torch::autograd::AccumulateGrad"
    assert repr(loss).endswith("grad_fn=<MseLossBackward0>)")


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_binary_cross_entropy(oracle, reduction):
    p = RNG.uniform(0.02, 0.98, (3, 4)).astype(np.float32)
    t = RNG.uniform(0, 1, (3, 4)).astype(np.float32)
    compare(oracle, "binary_cross_entropy", [p, t], grad_idx=(0, 1), kwargs={"reduction": reduction})
    w = RNG.uniform(0.1, 2, (4,)).astype(np.float32)
    compare(oracle, "binary_cross_entropy", [p, t], grad_idx=(0,), kwargs={"reduction": reduction, "weight": w})
    # saturated probabilities: logs clamped at -100, as torch
    p2 = np.array([0.0, 1.0, 0.5], np.float32)
    t2 = np.array([1.0, 0.0, 1.0], np.float32)
    compare(oracle, "binary_cross_entropy", [p2, t2], grad_idx=(), kwargs={"reduction": reduction}, node=False)
    gradcheck(L.binary_cross_entropy, [p, t], reduction=reduction)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_bce_with_logits(oracle, reduction):
    x = _logits(3, 4)
    t = RNG.uniform(0, 1, (3, 4)).astype(np.float32)
    compare(oracle, "binary_cross_entropy_with_logits", [x, t], grad_idx=(0, 1), kwargs={"reduction": reduction})
    pw = RNG.uniform(0.5, 3, (4,)).astype(np.float32)
    w = RNG.uniform(0.1, 2, (3, 4)).astype(np.float32)
    compare(oracle, "binary_cross_entropy_with_logits", [x, t], grad_idx=(0, 1),
            kwargs={"reduction": reduction, "pos_weight": pw, "weight": w})
    compare(oracle, "binary_cross_entropy_with_logits", [np.array([100.0, -100.0], np.float32),
                                                         np.array([0.0, 1.0], np.float32)])
    gradcheck(L.binary_cross_entropy_with_logits, [x, t], pos_weight=ember.tensor(pw.astype(np.float64)))


def test_bce_errors():
    with pytest.raises(ValueError, match="that is different to the input size"):
        L.binary_cross_entropy(ember.rand(4), ember.rand(4, 1))
    with pytest.raises(RuntimeError, match="all elements of input should be between 0 and 1"):
        L.binary_cross_entropy(ember.tensor([1.5, 0.2]), ember.tensor([1.0, 0.0]))
    with pytest.raises(ValueError, match=r"Target size .* must be the same as input size"):
        L.binary_cross_entropy_with_logits(ember.rand(4), ember.rand(4, 1))


# weights that don't broadcast to the input (or broadcast past it): torch's RuntimeErrors, not NumPy's ValueError
_BCE_BAD_WEIGHTS = [("F.binary_cross_entropy", "weight", (3,)), ("F.binary_cross_entropy", "weight", (5, 3, 4)),
                    ("F.binary_cross_entropy_with_logits", "weight", (3,)),
                    ("F.binary_cross_entropy_with_logits", "weight", (5, 3, 4)),
                    ("F.binary_cross_entropy_with_logits", "pos_weight", (3,)),
                    ("F.binary_cross_entropy_with_logits", "pos_weight", (2, 3, 4)),
                    ("nn.BCELoss", "weight", (3,)), ("nn.BCEWithLogitsLoss", "pos_weight", (3,)),
                    ("F.binary_cross_entropy", "weight", (3, 1)),
                    ("F.binary_cross_entropy_with_logits", "weight", (4,))]


@pytest.mark.parametrize("form,arg,wshape", _BCE_BAD_WEIGHTS)
def test_bce_weight_shapes_match_torch(oracle, form, arg, wshape):
    x0, t0 = RNG.uniform(0.1, 0.9, (3, 4)).astype(np.float32), RNG.uniform(0, 1, (3, 4)).astype(np.float32)
    w0 = RNG.uniform(0.5, 2, wshape).astype(np.float32)
    outcomes = []
    for lib in (oracle, ember):
        mod, name = form.split(".")
        kw = {arg: lib.tensor(w0)}
        try:
            fn = getattr(lib.nn.functional, name) if mod == "F" else getattr(lib.nn, name)(**kw)
            args = (lib.tensor(x0), lib.tensor(t0))
            outcomes.append(fn(*args, **kw) if mod == "F" else fn(*args))
        except Exception as e:  # noqa: BLE001 (the exception itself is compared)
            outcomes.append(e)
    theirs, ours = outcomes
    if isinstance(theirs, Exception):
        assert type(ours) is type(theirs), (ours, theirs)
        first = str(theirs).split(" had ")[0]   # (torch prints the shape as torch.Size([3]))
        assert str(ours).startswith(first) and f"{arg} {list(wshape)}" in str(ours), (str(ours), str(theirs))
    else:
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-5)


# (input dtype, target dtype, kwargs): binary_cross_entropy takes one dtype for both; the logits form computes
# (1 - target).mul_(input)..., so its loss has the target's dtype, and an integer or bool target can't hold it
_BCE_DTYPES = [("float32", "int64", {}), ("float32", "uint8", {}), ("float32", "bool", {}), ("float32", "float64", {}),
               ("float64", "float32", {}), ("float16", "float32", {}), ("int64", "float32", {}),
               ("float64", "int64", {"reduction": "none"}), ("float32", "int64", {"pos_weight": "ones"}),
               ("float32", "float32", {"weight": "long"}), ("float32", "float32", {"weight": "double"})]


@pytest.mark.parametrize("form", ["F.binary_cross_entropy", "F.binary_cross_entropy_with_logits", "nn.BCELoss",
                                  "nn.BCEWithLogitsLoss"])
@pytest.mark.parametrize("xdtype,tdtype,kwargs", _BCE_DTYPES)
def test_bce_target_dtypes_match_torch(oracle, form, xdtype, tdtype, kwargs):
    if "pos_weight" in kwargs and "Logits" not in form and "logits" not in form:
        pytest.skip("pos_weight is the logits form's")
    x0, t0 = np.array([0.25, 0.5, 0.75]), np.array([0, 1, 1])
    outcomes = []
    for lib in (oracle, ember):
        kw = {k: lib.ones(3, dtype=lib.float64 if v == "double" else lib.int64 if v == "long" else lib.float32)
              for k, v in kwargs.items() if k != "reduction"}
        kw.update({k: v for k, v in kwargs.items() if k == "reduction"})
        mod, name = form.split(".")
        fn = getattr(lib.nn.functional, name) if mod == "F" else getattr(lib.nn, name)(**kw)
        try:
            x, t = lib.tensor(x0.astype(xdtype)), lib.tensor(t0.astype(tdtype))
            outcomes.append(fn(x, t, **kw) if mod == "F" else fn(x, t))
        except Exception as e:  # noqa: BLE001 (the exception itself is compared)
            outcomes.append(e)
    theirs, ours = outcomes
    if isinstance(theirs, Exception):
        assert type(ours) is type(theirs), (ours, theirs)
        assert str(ours).startswith(str(theirs)), (str(ours), str(theirs))
    else:
        assert not isinstance(ours, Exception), ours
        assert str(ours.dtype).split(".")[1] == str(theirs.dtype).split(".")[1]
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-3)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none", "batchmean"])
@pytest.mark.parametrize("log_target", [False, True])
def test_kl_div(oracle, reduction, log_target):
    x = np.log(RNG.dirichlet(np.ones(5), 3)).astype(np.float32)
    t = RNG.dirichlet(np.ones(5), 3).astype(np.float32)
    if log_target:
        t = np.log(t)
    compare(oracle, "kl_div", [x, t], grad_idx=(0, 1), kwargs={"reduction": reduction, "log_target": log_target})
    gradcheck(L.kl_div, [x, t], reduction=reduction, log_target=log_target)
    gradcheck(L.kl_div, [x, t], idx=1, reduction=reduction, log_target=log_target)


def test_kl_div_mean_warns():
    with pytest.warns(UserWarning, match="'batchmean' divides only by the batch size"):
        L.kl_div(ember.zeros(2, 3), ember.ones(2, 3) / 3)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_pair_losses(oracle, reduction):
    a, b = _logits(4, 5), _logits(4, 5)
    y = np.array([1, -1, 1, -1])
    compare(oracle, "cosine_embedding_loss", [a, b, y], grad_idx=(0, 1),
            kwargs={"reduction": reduction, "margin": -0.2})
    a1, b1 = _logits(6), _logits(6)
    y1 = np.array([1.0, -1, 1, -1, 1, 1], np.float32)
    compare(oracle, "margin_ranking_loss", [a1, b1, y1], grad_idx=(0, 1),
            kwargs={"reduction": reduction, "margin": 0.3})
    compare(oracle, "hinge_embedding_loss", [a, np.sign(b)], kwargs={"reduction": reduction, "margin": 1.5})


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_margin_ranking_loss_differentiates_the_target(oracle, reduction):
    # torch's composite, clamp_min(-target * (x1 - x2) + margin, 0): the target takes a gradient too, and the
    # gradient passes where the clamped value is exactly 0 (the first three entries here)
    a = np.array([1.0, 2.0, 0.5, 0.3, -1.2, 0.8], np.float32)
    b = np.array([1.0, 2.5, 0.5, -0.4, 0.7, 0.1], np.float32)
    y = np.array([1.0, -1.0, -1.0, 1.0, -1.0, 0.5], np.float32)
    compare(oracle, "margin_ranking_loss", [a, b, y], grad_idx=(0, 1, 2), kwargs={"reduction": reduction})
    compare(oracle, "margin_ranking_loss", [a, b, y * 2], grad_idx=(2,), kwargs={"reduction": reduction,
                                                                                "margin": 0.3})
    gradcheck(L.margin_ranking_loss, [a, b, y], idx=2, margin=0.25, reduction=reduction)


def _weighted_grads(lib, name, x, t, w, reduction):
    args = [lib.tensor(v, requires_grad=True) for v in (x, t, w)]
    out = getattr(lib.nn.functional, name)(args[0], args[1], weight=args[2], reduction=reduction)
    out.backward(lib.tensor(np.linspace(-1, 1, out.numel()).reshape(tuple(out.shape)).astype(np.float32)))
    return out.detach().numpy(), [a.grad.numpy() for a in args], out.grad_fn.name()


@pytest.mark.parametrize("name", ["mse_loss", "l1_loss", "huber_loss"])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_weighted_pointwise_losses_differentiate_the_weight(oracle, name, reduction):
    # torch builds these from Tensor ops, so a weight that requires grad gets one
    x, t = _logits(3, 4), _logits(3, 4)
    w = RNG.uniform(0.1, 2, (3, 4)).astype(np.float32)
    (to, tg, tn), (eo, eg, en) = (_weighted_grads(lib, name, x, t, w, reduction) for lib in (oracle, ember))
    assert en == tn
    np.testing.assert_allclose(eo, to, rtol=1e-5, atol=1e-6)
    for e, g in zip(eg, tg):
        np.testing.assert_allclose(e, g, rtol=1e-5, atol=1e-6)
    gradcheck(lambda w, x, t: getattr(L, name)(x, t, weight=w, reduction=reduction), [w, x, t])


@pytest.mark.parametrize("name,arg", [("binary_cross_entropy", "weight"),
                                      ("binary_cross_entropy_with_logits", "weight"),
                                      ("binary_cross_entropy_with_logits", "pos_weight")])
def test_bce_weights_that_require_grad_raise_as_torch(oracle, name, arg):
    p, t = RNG.uniform(0.1, 0.9, (2, 3)), RNG.uniform(0, 1, (2, 3))
    for lib in (oracle, ember):
        w = lib.ones(3, dtype=lib.float64, requires_grad=True)
        with pytest.raises(RuntimeError, match=f"The function '{name}' is not differentiable with respect to "
                                               f"argument '{arg}'"):
            getattr(lib.nn.functional, name)(lib.tensor(p), lib.tensor(t), **{arg: w})
        with lib.no_grad():   # (outside autograd, torch takes it)
            getattr(lib.nn.functional, name)(lib.tensor(p), lib.tensor(t), **{arg: w})


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_hinge_embedding_loss_of_other_targets_and_at_the_margin(oracle, reduction):
    # torch: where(target != 1, clamp_min(margin - x, 0), 0) + where(target != -1, x, 0), so a target other
    # than +-1 takes both terms; and clamp_min passes the gradient at margin - x = 0 (x = 1 here)
    x = np.array([0.5, 1.0, 2.0, 0.3, -0.2, 1.0], np.float32)
    t = np.array([-1.0, -1.0, 1.0, 0.0, 2.0, 0.5], np.float32)
    compare(oracle, "hinge_embedding_loss", [x, t], kwargs={"reduction": reduction})
    gradcheck(L.hinge_embedding_loss, [x * 1.3, t], reduction=reduction)


@pytest.mark.parametrize("kwargs", [{}, {"log_input": False}, {"full": True}, {"reduction": "none"}])
def test_poisson_nll_loss(oracle, kwargs):
    x = RNG.uniform(0.1, 3, (3, 4)).astype(np.float32)
    t = RNG.poisson(2, (3, 4)).astype(np.float32)
    compare(oracle, "poisson_nll_loss", [x, t], kwargs=kwargs, node=False)


def test_integer_reduction_and_top_level(oracle):
    x = np.log(RNG.dirichlet(np.ones(3), 2)).astype(np.float32)
    t = RNG.dirichlet(np.ones(3), 2).astype(np.float32)
    got = ember.kl_div(ember.tensor(x), ember.tensor(t), reduction=2)
    ref = oracle.kl_div(oracle.tensor(x), oracle.tensor(t), 2)
    np.testing.assert_allclose(got.item(), ref.item(), rtol=1e-5)
    top_level = getattr(L, "__top_level__", {})   # torch.x where it differs from F.x (torch's enum arguments)
    for name in L.__all__:
        assert inspect.unwrap(getattr(ember, name)) is (top_level.get(name) or getattr(L, name))  # under the type check


# ---- the rest of torch.nn.functional's losses ------------------------------------------------
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("var_shape", [(3, 4), (3,), (3, 1)])
def test_gaussian_nll_loss(oracle, reduction, var_shape):
    x, t = _logits(3, 4), _logits(3, 4)
    v = RNG.uniform(0.1, 2, var_shape).astype(np.float32)
    v.reshape(-1)[0] = 1e-8  # clamped at eps, gradient still flows
    compare(oracle, "gaussian_nll_loss", [x, t, v], grad_idx=(0, 1, 2),
            kwargs={"reduction": reduction, "full": True}, node=False)
    with pytest.raises(ValueError, match="var has negative entry"):
        L.gaussian_nll_loss(ember.tensor(x), ember.tensor(t), ember.tensor(-v))


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_multilabel_soft_margin_loss(oracle, reduction):
    x = _logits(3, 5)
    t = RNG.integers(0, 2, (3, 5)).astype(np.float32)
    w = RNG.uniform(0.5, 2, 5).astype(np.float32)
    compare(oracle, "multilabel_soft_margin_loss", [x, t], grad_idx=(0,), kwargs={"reduction": reduction})
    compare(oracle, "multilabel_soft_margin_loss", [x, t], grad_idx=(0,),
            kwargs={"reduction": reduction, "weight": w})


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("p", [1, 2])
def test_multi_margin_loss(oracle, reduction, p):
    x = _logits(4, 5) * 0.3
    t = _classes(5, 4)
    w = RNG.uniform(0.5, 2, 5).astype(np.float32)
    compare(oracle, "multi_margin_loss", [x, t], kwargs={"reduction": reduction, "p": p, "margin": 0.7})
    compare(oracle, "multi_margin_loss", [x, t], kwargs={"reduction": reduction, "p": p, "weight": w})
    compare(oracle, "multi_margin_loss", [x[0], np.array(2)], kwargs={"reduction": reduction, "p": p})


_MULTI_MARGIN_BAD = [
    ("target_out_of_range", (3, 4), [0, 4, 1], {}), ("negative_target", (3, 4), [0, -1, 1], {}),
    ("out_of_range_1d", (4,), 5, {}), ("out_of_range_0d", (), 1, {}),
    ("0d_target_for_a_batch", (3, 4), 0, {}), ("short_target", (3, 4), [1, 2], {}),
    ("2d_target", (4,), [[1]], {}), ("3d_input", (2, 3, 4), [1, 2], {}), ("no_classes", (3, 0), [0, 0, 0], {}),
    ("empty_1d_input", (0,), [0], {}), ("float_target", (3, 4), [1.0, 2.0, 0.0], {}),
    ("int32_target", (3, 4), np.array([1, 2, 3], np.int32), {}),
    ("uint8_target", (3, 4), np.array([1, 2, 3], np.uint8), {}),
    ("weight_size", (3, 4), [0, 1, 1], {"weight": np.ones(3, np.float32)}),
    ("weight_size_before_range", (3, 4), [0, 1, 7], {"weight": np.ones(3, np.float32)}),
    ("weight_dtype", (3, 4), [0, 1, 1], {"weight": np.ones(4, np.float64)}),
    ("int_input", (1, 2), [0], {"input_dtype": np.int64}), ("half_input", (2,), 0, {"input_dtype": np.float16}),
]


@pytest.mark.parametrize("name,xshape,target,kw", _MULTI_MARGIN_BAD, ids=[c[0] for c in _MULTI_MARGIN_BAD])
def test_multi_margin_loss_errors_match_torch(oracle, name, xshape, target, kw):
    kw = dict(kw)
    x0 = np.ones(xshape, kw.pop("input_dtype", np.float32))
    excs = []
    for lib in (oracle, ember):
        with pytest.raises(Exception) as info:  # noqa: PT011 (the type is compared below)
            lib.nn.functional.multi_margin_loss(lib.tensor(x0), lib.tensor(target),
                                                **{k: lib.tensor(v) for k, v in kw.items()})
        excs.append(info.value)
    theirs, ours = excs
    assert type(ours) is type(theirs) and str(ours).startswith(str(theirs)), (str(ours), str(theirs))
    assert "multi_margin_loss" in str(ours)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_multilabel_margin_loss(oracle, reduction):
    x = _logits(3, 4) * 0.3
    t = np.array([[3, 0, -1, 1], [0, 1, 2, 3], [-1, 1, 2, 0]])
    compare(oracle, "multilabel_margin_loss", [x, t], kwargs={"reduction": reduction})


@pytest.mark.parametrize("kwargs", [{}, {"swap": True, "margin": 2.0}, {"p": 1, "reduction": "sum"},
                                    {"reduction": "none"}])
def test_triplet_margin_loss(oracle, kwargs):
    a, p, n = _logits(4, 3), _logits(4, 3), _logits(4, 3)
    # composite of pairwise_distance, clamp and mean: ember's clamp node is ClampBackward1, torch's ClampMin
    compare(oracle, "triplet_margin_loss", [a, p, n], grad_idx=(0, 1, 2), kwargs=kwargs, node=False)
    if "p" not in kwargs:
        compare(oracle, "triplet_margin_with_distance_loss", [a, p, n], grad_idx=(0, 1, 2), kwargs=kwargs,
                node=False)


def test_multilabel_margin_and_triplet_distance_modules_match_torch(oracle):
    torch = oracle
    x = _logits(3, 4) * 0.3
    t = np.array([[3, 0, -1, 1], [0, 1, 2, 3], [-1, 1, 2, 0]])
    a, p, n = _logits(4, 3), _logits(4, 3), _logits(4, 3)
    got = []
    for lib in (torch, ember):
        m1 = lib.nn.MultiLabelMarginLoss(reduction="sum")
        m2 = lib.nn.TripletMarginWithDistanceLoss(margin=0.5, swap=True)
        m3 = lib.nn.TripletMarginWithDistanceLoss(distance_function=lib.nn.CosineSimilarity())
        got.append((repr(m1), repr(m2), repr(m3), m1(lib.tensor(x), lib.tensor(t)).item(),
                    m2(lib.tensor(a), lib.tensor(p), lib.tensor(n)).item(),
                    m3(lib.tensor(a), lib.tensor(p), lib.tensor(n)).item()))
    assert got[1][:3] == got[0][:3]
    np.testing.assert_allclose(got[1][3:], got[0][3:], rtol=1e-6)
    with pytest.raises(ValueError, match="TripletMarginWithDistanceLoss: expected margin to be greater than 0"):
        ember.nn.TripletMarginWithDistanceLoss(margin=0)


def test_poisson_nll_loss_full_unreduced_node_name_matches_torch(oracle):
    x = oracle.rand(3, requires_grad=True)
    e = ember.rand(3, requires_grad=True)
    kw = dict(full=True, reduction="none")
    assert (ember.nn.functional.poisson_nll_loss(e, ember.ones(3) * 2, **kw).grad_fn.name()
            == oracle.nn.functional.poisson_nll_loss(x, oracle.ones(3) * 2, **kw).grad_fn.name())


# ---- 0-d inputs ------------------------------------------------------------------------------
def _s(v):
    """A 0-d float32 array."""
    return np.array(v, np.float32)


# (name, args, grad_idx, kwargs): each loss on 0-d input and target (torch gives a 0-d loss for each reduction)
ZERO_D = [
    ("mse_loss", [_s(0.3), _s(0.7)], (0, 1), {}),
    ("l1_loss", [_s(0.3), _s(0.7)], (0, 1), {}),
    ("smooth_l1_loss", [_s(0.3), _s(0.7)], (0, 1), {}),
    ("smooth_l1_loss", [_s(0.3), _s(2.7)], (0, 1), {}),
    ("huber_loss", [_s(0.3), _s(0.7)], (0, 1), {}),
    ("huber_loss", [_s(0.3), _s(2.7)], (0, 1), {}),
    ("binary_cross_entropy", [_s(0.3), _s(0.7)], (0, 1), {}),
    ("binary_cross_entropy", [_s(0.3), _s(0.7)], (0,), {"weight": _s(2.0)}),
    ("binary_cross_entropy_with_logits", [_s(0.3), _s(0.7)], (0, 1), {}),
    ("binary_cross_entropy_with_logits", [_s(-0.3), _s(0.7)], (0, 1), {"pos_weight": _s(2.0), "weight": _s(0.5)}),
    ("kl_div", [_s(-0.3), _s(0.7)], (0, 1), {}),
    ("kl_div", [_s(-0.3), _s(-0.7)], (0, 1), {"log_target": True}),
    ("poisson_nll_loss", [_s(0.3), _s(0.7)], (0, 1), {}),
    ("poisson_nll_loss", [_s(0.3), _s(2.7)], (0, 1), {"log_input": False, "full": True}),
    ("margin_ranking_loss", [_s(0.3), _s(0.7), _s(1.0)], (0, 1), {}),
    ("hinge_embedding_loss", [_s(0.3), _s(-1.0)], (0,), {}),
    ("soft_margin_loss", [_s(0.3), _s(-1.0)], (0,), {}),
    ("gaussian_nll_loss", [_s(0.3), _s(2.7), _s(0.5)], (0, 1, 2), {}),
    ("multi_margin_loss", [_s(0.3), np.array(0)], (0,), {}),
]


@pytest.mark.parametrize("name,args,grad_idx,kwargs", ZERO_D, ids=[f"{c[0]}-{i}" for i, c in enumerate(ZERO_D)])
@pytest.mark.parametrize("reduction", ["none", "sum", "mean"])
def test_zero_dim_losses_hold_arrays_and_match_torch(oracle, name, args, grad_idx, kwargs, reduction):
    # NumPy gives elementwise results of 0-d arrays as scalars (np.float32): a tensor must hold an array
    eo = compare(oracle, name, args, grad_idx=grad_idx, kwargs=dict(kwargs, reduction=reduction), node=False)
    assert type(eo._data) is np.ndarray and eo.shape == ()


def test_zero_dim_multilabel_soft_margin_loss_raises_as_torch(oracle):
    # torch's composite reads the class count as input.size(-1)
    for lib in (oracle, ember):
        with pytest.raises(IndexError, match="Dimension specified as -1 but tensor has no dimensions"):
            lib.nn.functional.multilabel_soft_margin_loss(lib.tensor(0.3), lib.tensor(1.0))


@pytest.mark.parametrize("reduction", ["none", "sum", "mean"])
def test_multi_margin_loss_keeps_a_1d_targets_shape(oracle, reduction):
    # a 1-D input with a target of shape [1] gives torch one loss per target entry: shape [1] unreduced
    x = _logits(5)
    compare(oracle, "multi_margin_loss", [x, np.array([3])], kwargs={"reduction": reduction})


# ---- ctc_loss ------------------------------------------------------------------------------------
CTC_CASES = [
    ("padded_mean", dict(T=6, N=2, C=5, tl=[2, 3], il=[6, 5], targets=[[1, 2, 0], [3, 3, 4]])),
    ("padded_sum", dict(T=6, N=2, C=5, tl=[2, 3], il=[6, 5], targets=[[1, 2, 0], [3, 3, 4]], reduction="sum")),
    ("concatenated_none", dict(T=6, N=2, C=5, tl=[2, 3], il=[6, 5], targets=[1, 2, 3, 3, 4], reduction="none")),
    ("repeats_and_impossible_zeroed", dict(T=4, N=2, C=5, tl=[3, 2], il=[3, 4], targets=[[1, 1, 1], [2, 3, 0]],
                                          reduction="none", zero_infinity=True)),
    ("empty_target_blank_last", dict(T=8, N=3, C=4, tl=[0, 1, 4], il=[8, 2, 8],
                                     targets=[[1, 1, 1, 1], [2, 0, 0, 0], [1, 2, 2, 1]], reduction="none", blank=3)),
    ("long", dict(T=30, N=4, C=10, tl=[5, 9, 1, 12], il=[30, 25, 3, 30],
                  targets=np.random.default_rng(3).integers(1, 10, (4, 12)).tolist(), reduction="none")),
]


def _ctc(lib, T, N, C, tl, il, targets, **kw):
    x = np.random.default_rng(T * N * C).standard_normal((T, N, C)).astype(np.float32)
    lp = lib.tensor(x).log_softmax(-1).detach().requires_grad_(True)
    out = lib.nn.functional.ctc_loss(lp, lib.tensor(targets), tuple(il), tuple(tl), **kw)
    (out * (lib.arange(out.numel()).reshape(out.shape) + 1) if out.ndim else out).sum().backward()
    return out.detach().numpy(), lp.grad.numpy(), out.grad_fn.name()


@pytest.mark.parametrize("name,kw", CTC_CASES, ids=[c[0] for c in CTC_CASES])
def test_ctc_loss_matches_torch(oracle, name, kw):
    (to, tg, tn), (eo, eg, en) = _ctc(oracle, **kw), _ctc(ember, **kw)
    assert en == tn
    # torch runs the recursions in float32, ember in float64: over 30 steps they part by ~1e-5
    np.testing.assert_allclose(eo, to, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(eg, tg, rtol=1e-4, atol=1e-4)


def test_ctc_loss_gradient_matches_central_differences():
    # torch's CTC gradient is the one for the logits under log_softmax: check it through log_softmax
    rng = np.random.default_rng(5)
    x0 = rng.standard_normal((5, 2, 4))
    targets, il, tl = ember.tensor([[1, 2], [3, 0]]), (5, 4), (2, 1)

    def f(v):
        return float(F.ctc_loss(ember.tensor(v).log_softmax(-1), targets, il, tl).numpy())
    x = ember.tensor(x0, requires_grad=True)
    F.ctc_loss(x.log_softmax(-1), targets, il, tl).backward()
    np.testing.assert_allclose(x.grad.numpy(), numeric_grad(f, x0), rtol=1e-5, atol=1e-7)


def test_ctc_loss_module_and_bad_lengths():
    loss = ember.nn.CTCLoss(blank=0, zero_infinity=True)
    assert repr(loss) == "CTCLoss()"
    lp = ember.randn(5, 2, 4).log_softmax(2)
    assert loss(lp, ember.tensor([[1, 2], [3, 3]]), (5, 5), (2, 2)).ndim == 0
    with pytest.raises(RuntimeError, match="Expected input_lengths to have value at most 5, but got value 6"):
        F.ctc_loss(lp, ember.tensor([[1, 2], [3, 3]]), (6, 5), (2, 2))
    with pytest.raises(RuntimeError, match="Expected tensor to have size at least 3 at dimension 1"):
        F.ctc_loss(lp, ember.tensor([[1, 2], [3, 3]]), (5, 5), (3, 2))


def _node_names(node):
    """The names of node and of its first inputs, down the graph (torch's chain of nodes)."""
    names = []
    while node is not None:
        names.append(node.name())
        node = node.next_functions[0][0] if node.next_functions else None
    return names


def _ctc_run(lib, lp, targets, il, tl, **kw):
    x = lib.tensor(lp, requires_grad=True)
    out = lib.nn.functional.ctc_loss(x, lib.tensor(targets), il, tl, **kw)
    (out * (lib.arange(out.numel()).reshape(out.shape) + 1) if out.ndim else out).sum().backward()
    return out, x.grad.numpy(), _node_names(out.grad_fn)


_CTC_LP = np.log(np.random.default_rng(8).dirichlet(np.ones(5), size=(6, 3))).astype(np.float32)
CTC_EDGE_CASES = [
    ("unbatched", _CTC_LP[:, 0], np.array([1, 2]), (6,), (2,)),
    ("unbatched_impossible", _CTC_LP[:, 0], np.array([1, 1, 1, 1]), (5,), (4,)),
    ("all_targets_empty_padded", _CTC_LP, np.zeros((3, 0), np.int64), (6, 5, 4), (0, 0, 0)),
    ("all_targets_empty_padded_wide", _CTC_LP, np.ones((3, 2), np.int64), (6, 5, 4), (0, 0, 0)),
    ("all_targets_empty_concatenated", _CTC_LP, np.zeros(0, np.int64), (6, 0, 4), (0, 0, 0)),
    ("all_targets_empty_unbatched", _CTC_LP[:, 0], np.zeros(0, np.int64), (6,), (0,)),
    ("all_targets_empty_no_input", _CTC_LP[:, 0], np.zeros(0, np.int64), (0,), (0,)),
]


@pytest.mark.parametrize("name,lp,targets,il,tl", CTC_EDGE_CASES, ids=[c[0] for c in CTC_EDGE_CASES])
@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
@pytest.mark.parametrize("zero_infinity", [False, True])
def test_ctc_loss_unbatched_and_empty_targets_match_torch(oracle, name, lp, targets, il, tl, reduction,
                                                         zero_infinity):
    # torch unsqueezes an unbatched input and squeezes its unreduced loss (SqueezeBackward1 on top); a batch of
    # empty targets has one extended label, the blank (the recursion's shifts by 2 broke on it)
    kw = dict(reduction=reduction, zero_infinity=zero_infinity)
    (to, tg, tn), (eo, eg, en) = _ctc_run(oracle, lp, targets, il, tl, **kw), _ctc_run(ember, lp, targets, il, tl, **kw)
    assert type(eo._data) is np.ndarray and tuple(eo.shape) == tuple(to.shape)
    assert en == tn
    np.testing.assert_allclose(eo.detach().numpy(), to.detach().numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(eg, tg, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("batch", [1, 4, 8, 9, 16, 17, 33, 257, 4097])
def test_nll_loss_adds_in_torchs_cascade_order(oracle, batch):
    # torch's (N, C) kernel adds the losses (and the class weights of a weighted mean) in a cascade: the
    # first alone, the rest in runs of 16 (ember/ops/loss.py, _cascade_sum): its values bit for bit
    g = np.random.default_rng(batch)
    for _ in range(5):
        c = int(g.integers(2, 12))
        lp = oracle.log_softmax(oracle.tensor((g.standard_normal((batch, c)) * 2).astype(np.float32)), 1)
        y = g.integers(0, c, batch)
        w = g.random(c).astype(np.float32)
        for kw in ({}, {"reduction": "sum"}, {"weight": w}, {"weight": w, "reduction": "sum"}):
            got = ember.nn.functional.nll_loss(ember.tensor(lp.numpy()), ember.tensor(y),
                                               **{k: ember.tensor(v) if k == "weight" else v for k, v in kw.items()})
            want = oracle.nn.functional.nll_loss(lp, oracle.tensor(y),
                                                **{k: oracle.tensor(v) if k == "weight" else v for k, v in kw.items()})
            assert got.item() == want.item()
