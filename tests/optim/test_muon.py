"""optim.Muon: torch 2.13's algorithm (bfloat16 Newton-Schulz included) step by step, and its state_dict."""
import numpy as np
import pytest

import ember
from ember.optim import muon as muon_mod
from tests.conftest import requires_torch, torch

CONFIGS = [((6, 4), {}), ((4, 9), dict(nesterov=False, adjust_lr_fn="match_rms_adamw", lr=0.02)),
           ((8, 8), dict(momentum=0.9, weight_decay=0.0, ns_steps=3)), ((5, 3), dict(adjust_lr_fn="original")),
           ((3, 7), dict(ns_coefficients=(3.0, -3.2, 1.2), eps=1e-5))]


def _run(T, shape, kw, steps=5, dtype="float32"):
    rng = np.random.default_rng(sum(shape))
    p = T.nn.Parameter(T.tensor(rng.standard_normal(shape), dtype=getattr(T, dtype)))
    opt = T.optim.Muon([p], **kw)
    trace = []
    for _ in range(steps):
        p.grad = T.tensor(rng.standard_normal(shape), dtype=getattr(T, dtype))
        opt.step()
        trace.append((p.detach().numpy().copy(), opt.state[p]["momentum_buffer"].numpy().copy()))
    return trace, opt


@requires_torch
@pytest.mark.parametrize("shape, kw", CONFIGS, ids=[str(c) for c in CONFIGS])
def test_steps_match_torch(shape, kw):
    mine, _ = _run(ember, shape, kw)
    theirs, _ = _run(torch, shape, kw)
    for (pe, be), (pt, bt) in zip(mine, theirs):
        np.testing.assert_array_equal(be, bt)   # momentum: torch's fused lerp, bit for bit
        np.testing.assert_array_equal(pe, pt)   # parameters: bfloat16 rounding reproduced


@requires_torch
def test_float64_params_match_torch():
    mine, _ = _run(ember, (5, 4), {}, dtype="float64")
    theirs, _ = _run(torch, (5, 4), {}, dtype="float64")
    for (pe, be), (pt, bt) in zip(mine, theirs):
        np.testing.assert_allclose(pe, pt, rtol=0, atol=1e-12)
        np.testing.assert_allclose(be, bt, rtol=0, atol=1e-15)


@requires_torch
def test_large_matrix_close_to_torch():
    # mkldnn's bfloat16 products accumulate in another order: equal to bfloat16 resolution
    mine, _ = _run(ember, (96, 64), {}, steps=2)
    theirs, _ = _run(torch, (96, 64), {}, steps=2)
    np.testing.assert_allclose(mine[-1][0], theirs[-1][0], rtol=0, atol=2e-4)


@requires_torch
def test_state_dict_matches_torch_and_loads_across():
    _, eo = _run(ember, (6, 4), {"lr": 0.01})
    _, to = _run(torch, (6, 4), {"lr": 0.01})
    es, ts = eo.state_dict(), to.state_dict()
    assert es["param_groups"] == ts["param_groups"]
    assert list(es["state"][0]) == list(ts["state"][0]) == ["momentum_buffer"]
    np.testing.assert_array_equal(es["state"][0]["momentum_buffer"].numpy(), ts["state"][0]["momentum_buffer"].numpy())
    assert repr(eo) == repr(to)
    p = ember.nn.Parameter(ember.zeros(6, 4))
    fresh = ember.optim.Muon([p], lr=0.01)
    fresh.load_state_dict(eo.state_dict())
    assert fresh.state[p]["momentum_buffer"].tolist() == eo.state_dict()["state"][0]["momentum_buffer"].tolist()


@requires_torch
@pytest.mark.parametrize("kw", [dict(lr=-1.0), dict(momentum=-0.1), dict(weight_decay=-1.0),
                                dict(adjust_lr_fn="bogus"), dict(ns_steps=100), dict(ns_coefficients=(1.0, 2.0))])
def test_errors_match_torch(kw):
    def run(T, shape=(3, 3)):
        p = T.nn.Parameter(T.ones(*shape))
        try:
            opt = T.optim.Muon([p], **kw)
            p.grad = T.ones(*shape)
            opt.step()
        except Exception as e:
            return type(e).__name__, str(e)
        return "ok"
    assert run(ember) == run(torch)


def test_rejects_non_matrix_params():
    with pytest.raises(ValueError, match="Muon only supports 2D parameters"):
        ember.optim.Muon([ember.nn.Parameter(ember.ones(3))])


def test_bf16_rounding_ties_to_even():
    x = np.array([1.0, 1.0 + 2 ** -8, 1.0 + 3 * 2 ** -8, 1.0 + 2 ** -9, -2.5, np.inf, np.nan], dtype=np.float32)
    got = muon_mod._bf16(x)
    assert got[:5].tolist() == [1.0, 1.0, 1.0 + 4 * 2 ** -8, 1.0, -2.5]
    assert np.isinf(got[5]) and np.isnan(got[6])


def test_orthogonalises():
    g = np.random.default_rng(0).standard_normal((8, 5)).astype(np.float32)
    o = muon_mod._zeropower_via_newtonschulz(g, (muon_mod.DEFAULT_A, muon_mod.DEFAULT_B, muon_mod.DEFAULT_C), 5,
                                             1e-7)
    s = np.linalg.svd(o.astype(np.float64), compute_uv=False)
    assert o.shape == (8, 5) and np.all((s > 0.5) & (s < 1.5))
