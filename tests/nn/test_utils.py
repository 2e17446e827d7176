"""nn.utils: gradient clipping and parameter/vector conversion against torch."""
import math

import numpy as np
import pytest

import ember
import ember.nn as nn
from ember.nn.utils import clip_grad_norm_, clip_grad_value_, parameters_to_vector, vector_to_parameters
from tests.conftest import requires_torch


def _params_with_grads(lib, P, grads):
    out = []
    for g in grads:
        p = P(lib.zeros(*g.shape))
        p.grad = lib.tensor(g)
        out.append(p)
    return out


GRADS = [np.array([[3.0, -4.0], [1.0, 2.0]], np.float32), np.array([0.5, -6.0, 2.0], np.float32)]


@requires_torch
@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, math.inf])
@pytest.mark.parametrize("max_norm", [0.5, 100.0])
def test_clip_grad_norm_matches_torch(oracle, norm_type, max_norm):
    tp = _params_with_grads(oracle, oracle.nn.Parameter, GRADS)
    ep = _params_with_grads(ember, nn.Parameter, GRADS)
    tn = oracle.nn.utils.clip_grad_norm_(tp, max_norm, norm_type)
    en = clip_grad_norm_(ep, max_norm, norm_type)
    assert en.dtype == ember.float32 and en.ndim == 0
    np.testing.assert_allclose(en.item(), tn.item(), rtol=1e-6)
    for a, b in zip(ep, tp):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-6)


def test_clip_grad_norm_nonfinite_and_empty():
    ps = _params_with_grads(ember, nn.Parameter, [np.array([np.inf, 1.0], np.float32)])
    with pytest.raises(RuntimeError, match="non-finite"):
        clip_grad_norm_(ps, 1.0, error_if_nonfinite=True)
    assert clip_grad_norm_([], 1.0).item() == 0.0
    p = nn.Parameter(ember.ones(2))  # no grad: skipped
    assert clip_grad_norm_(p, 1.0).item() == 0.0


@requires_torch
def test_clip_grad_value_matches_torch(oracle):
    tp = _params_with_grads(oracle, oracle.nn.Parameter, GRADS)
    ep = _params_with_grads(ember, nn.Parameter, GRADS)
    oracle.nn.utils.clip_grad_value_(tp, 1.5)
    clip_grad_value_(ep, 1.5)
    for a, b in zip(ep, tp):
        np.testing.assert_array_equal(a.grad.numpy(), b.grad.numpy())


def _sparse_grads(lib):
    """An embedding weight with a sparse gradient (rows 1, 2, 1) and a dense parameter with a dense one."""
    w, d = lib.nn.Parameter(lib.ones(5, 3)), lib.nn.Parameter(lib.ones(4))
    lib.nn.functional.embedding(lib.tensor([1, 2, 1]), w, sparse=True).backward(
        lib.tensor(np.arange(9.0, dtype=np.float32).reshape(3, 3)))
    (d * 2).sum().backward()
    return w, d


@requires_torch
@pytest.mark.parametrize("call", [
    lambda M, w, d: M.nn.utils.clip_grad_norm_([d, w], 1.0),
    lambda M, w, d: M.nn.utils.clip_grad_norm_([w], 1.0, norm_type="inf", foreach=True),
    lambda M, w, d: M.nn.utils.get_total_norm([d.grad, w.grad]),
    lambda M, w, d: M.nn.utils.clip_grad_value_([d, w], 0.1),
], ids=["clip_grad_norm_", "inf norm", "get_total_norm", "clip_grad_value_"])
def test_clipping_sparse_gradients_refuses_as_torch(oracle, call):
    # torch has no norm (nor clamp) of a sparse tensor: NotImplementedError naming its kernel
    msgs = []
    for M in (oracle, ember):
        w, d = _sparse_grads(M)
        with pytest.raises(NotImplementedError) as info:
            call(M, w, d)
        msgs.append(str(info.value))
        assert w.grad.is_sparse and w.grad._values().sum().item() == 36.0   # untouched
    assert msgs[1].split(" backend")[0] == msgs[0].split(" backend")[0]


@requires_torch
def test_clip_grads_with_norm_scales_a_sparse_gradient_as_torch(oracle):
    got = []
    for M in (oracle, ember):
        w, d = _sparse_grads(M)
        g = w.grad
        M.nn.utils.clip_grads_with_norm_([w, d], 1.0, M.tensor(5.0))
        assert w.grad is g and g.is_sparse and not g.is_coalesced()
        got.append((g._indices().tolist(), g._values().numpy(), d.grad.numpy()))
    assert got[1][0] == got[0][0] == [[1, 2, 1]]
    np.testing.assert_allclose(got[1][1], got[0][1], rtol=1e-6)
    np.testing.assert_allclose(got[1][2], got[0][2], rtol=1e-6)


def test_parameters_vector_round_trip():
    if not hasattr(ember, "cat"):
        pytest.skip("ember.cat has not landed")
    lin = nn.Linear(3, 2)
    vec = parameters_to_vector(lin.parameters())
    assert tuple(vec.shape) == (8,)
    np.testing.assert_array_equal(vec.detach().numpy()[:6], lin.weight.detach().numpy().ravel())
    w = lin.weight
    vector_to_parameters(ember.arange(8, dtype=ember.float32), lin.parameters())
    assert lin.weight is w
    np.testing.assert_array_equal(lin.weight.detach().numpy(), [[0, 1, 2], [3, 4, 5]])
    np.testing.assert_array_equal(lin.bias.detach().numpy(), [6, 7])
    with pytest.raises(TypeError, match="expected torch.Tensor"):
        vector_to_parameters([1.0], lin.parameters())
    with pytest.raises(RuntimeError, match=r"shape '\[2\]' is invalid for input of size 1"):
        vector_to_parameters(ember.arange(7, dtype=ember.float32), lin.parameters())   # (torch's view error)


@requires_torch
def test_clip_grads_scale_coefficient_bitwise_matches_torch(oracle):
    # torch forms max_norm / (total_norm + 1e-6) in the norm's float32; Python-float arithmetic
    # rounds the coefficient differently in about a third of the cases
    from ember.nn.utils import clip_grads_with_norm_
    rng = np.random.RandomState(1)
    for _ in range(40):
        grads = [rng.randn(7, 5).astype(np.float32), rng.randn(13).astype(np.float32)]
        max_norm = float(rng.rand() * 3)
        total = np.float32(rng.rand() * 10 + 0.1)
        tp = _params_with_grads(oracle, oracle.nn.Parameter, grads)
        ep = _params_with_grads(ember, nn.Parameter, grads)
        oracle.nn.utils.clip_grads_with_norm_(tp, max_norm, oracle.tensor(total))
        clip_grads_with_norm_(ep, max_norm, ember.tensor(total))
        for a, b in zip(ep, tp):
            np.testing.assert_array_equal(a.grad.numpy(), b.grad.numpy())


@requires_torch
def test_clip_grad_norm_mixed_dtypes_total_is_promoted(oracle):
    grads = [np.array([3.0, 4.0], np.float32), np.array([1.0, 2.0], np.float64)]
    tp = [oracle.nn.Parameter(oracle.tensor(np.zeros_like(g))) for g in grads]
    ep = [nn.Parameter(ember.tensor(np.zeros_like(g))) for g in grads]
    for a, b, g in zip(ep, tp, grads):
        a.grad, b.grad = ember.tensor(g), oracle.tensor(g)
    tn = oracle.nn.utils.clip_grad_norm_(tp, 1.0)
    en = clip_grad_norm_(ep, 1.0)
    assert tn.dtype == oracle.float64 and en.dtype == ember.float64
    np.testing.assert_allclose(en.item(), tn.item(), rtol=1e-12)


@requires_torch
@pytest.mark.parametrize("norm_type", [math.inf, -math.inf])
def test_clip_grad_norm_inf_norm_of_empty_grad_raises(oracle, norm_type):
    tp = _params_with_grads(oracle, oracle.nn.Parameter, [np.zeros(0, np.float32)])
    ep = _params_with_grads(ember, nn.Parameter, [np.zeros(0, np.float32)])
    with pytest.raises(RuntimeError, match="empty tensor"):
        oracle.nn.utils.clip_grad_norm_(tp, 1.0, norm_type)
    with pytest.raises(RuntimeError, match="empty tensor"):
        clip_grad_norm_(ep, 1.0, norm_type)


def test_clip_grad_norm_of_inf_grads_is_silent():
    # an inf gradient makes the coefficient 0 and inf * 0 = nan, as in torch, without NumPy's
    # "invalid value encountered in multiply" RuntimeWarning
    import warnings
    ps = _params_with_grads(ember, nn.Parameter, [np.array([np.inf, 1.0], np.float32)])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        n = clip_grad_norm_(ps, 1.0)
    assert math.isinf(n.item())
    assert np.isnan(ps[0].grad.numpy()[0]) and ps[0].grad.numpy()[1] == 0.0


@requires_torch
@pytest.mark.parametrize("norm_type", [2.0, 3.0])
@pytest.mark.parametrize("values", [[300.0, 400.0], [1e-4, 2e-4, 3e-4]])
def test_clip_grad_norm_float16_accumulates_in_float32(oracle, norm_type, values):
    # squares of these float16 values overflow (or underflow) in float16; torch sums them in float32
    g = np.array(values, np.float16)
    tp = oracle.nn.Parameter(oracle.zeros(len(g), dtype=oracle.float16))
    ep = nn.Parameter(ember.zeros(len(g), dtype=ember.float16))
    tp.grad, ep.grad = oracle.tensor(g), ember.tensor(g)
    tn = oracle.nn.utils.clip_grad_norm_([tp], 1.0, norm_type)
    en = clip_grad_norm_([ep], 1.0, norm_type)
    assert en.dtype == ember.float16
    np.testing.assert_allclose(en.numpy().astype(np.float64), tn.numpy().astype(np.float64), rtol=1e-3)
    np.testing.assert_allclose(ep.grad.numpy().astype(np.float64), tp.grad.numpy().astype(np.float64), rtol=2e-3)
