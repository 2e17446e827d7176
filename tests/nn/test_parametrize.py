"""nn.utils.parametrize, parametrizations and the hook-based weight_norm / spectral_norm, against torch."""
import copy
import io
import pickle
import warnings

import numpy as np
import pytest

import ember
import ember.nn as nn
import ember.nn.utils.parametrize as P
from ember.nn.utils import parametrizations
from tests.conftest import numeric_grad, requires_torch


# ---- helpers ------------------------------------------------------------------------------
def _build(lib, make, seed=0):
    """make(lib) with lib seeded: ember's initialisers and normal_ draw torch's numbers."""
    lib.manual_seed(seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        return make(lib)


def _sd_equal(em, tm, atol=1e-6):
    esd, tsd = em.state_dict(), tm.state_dict()
    assert list(esd) == list(tsd)
    for k in tsd:
        np.testing.assert_allclose(esd[k].numpy(), tsd[k].numpy(), atol=atol, rtol=1e-5, err_msg=k)


def _wn(lib, m, **kw):
    return lib.nn.utils.parametrizations.weight_norm(m, **kw)


def _sn(lib, m, **kw):
    return lib.nn.utils.parametrizations.spectral_norm(m, **kw)


def _old_wn(lib, m, **kw):
    return lib.nn.utils.weight_norm(m, **kw)


def _old_sn(lib, m, **kw):
    return lib.nn.utils.spectral_norm(m, **kw)


def _custom(lib):
    """Two stacked parametrizations on weight (one with right_inverse), one on bias."""
    class Symmetric(lib.nn.Module):
        def forward(self, X):
            return X.triu() + X.triu(1).transpose(-1, -2)

    class Scale(lib.nn.Module):
        def forward(self, X):
            return 2.0 * X

        def right_inverse(self, X):
            return X / 2.0

    class Softplus(lib.nn.Module):
        def forward(self, b):
            return lib.nn.functional.softplus(b)

    m = lib.nn.Linear(4, 4)
    lib.nn.utils.parametrize.register_parametrization(m, "weight", Symmetric())
    lib.nn.utils.parametrize.register_parametrization(m, "weight", Scale())
    lib.nn.utils.parametrize.register_parametrization(m, "bias", Softplus())
    return m


CASES = {
    "weight_norm": (lambda L: _wn(L, L.nn.Linear(5, 3)), (4, 5)),
    "weight_norm_dim1": (lambda L: _wn(L, L.nn.Linear(5, 3), dim=1), (4, 5)),
    "weight_norm_none_conv": (lambda L: _wn(L, L.nn.Conv2d(2, 3, 3), dim=None), (2, 2, 6, 6)),
    "weight_norm_conv_dim2": (lambda L: _wn(L, L.nn.Conv2d(2, 3, 3), dim=2), (2, 2, 6, 6)),
    "spectral_norm": (lambda L: _sn(L, L.nn.Linear(5, 3)), (4, 5)),
    "spectral_norm_conv": (lambda L: _sn(L, L.nn.Conv2d(2, 3, 3), n_power_iterations=2), (2, 2, 6, 6)),
    "spectral_norm_convT": (lambda L: _sn(L, L.nn.ConvTranspose2d(2, 3, 3)), (2, 2, 4, 4)),
    "spectral_norm_bias": (lambda L: _sn(L, L.nn.Linear(5, 3), name="bias"), (4, 5)),
    "custom": (_custom, (3, 4)),
    "old_weight_norm": (lambda L: _old_wn(L, L.nn.Linear(5, 3)), (4, 5)),
    "old_weight_norm_none": (lambda L: _old_wn(L, L.nn.Conv2d(2, 3, 3), dim=None), (2, 2, 6, 6)),
    "old_spectral_norm": (lambda L: _old_sn(L, L.nn.Linear(5, 3)), (4, 5)),
    "old_spectral_norm_convT": (lambda L: _old_sn(L, L.nn.ConvTranspose2d(2, 3, 3), n_power_iterations=3),
                                (2, 2, 4, 4)),
}


# ---- against torch: repr, state_dict, training -------------------------------------------------
@requires_torch
@pytest.mark.parametrize("case", sorted(CASES))
def test_repr_and_state_dict_match_torch(oracle, case):
    make, _ = CASES[case]
    em, tm = _build(ember, make), _build(oracle, make)
    assert repr(em) == repr(tm)
    assert type(em).__name__ == type(tm).__name__
    _sd_equal(em, tm)
    assert [n for n, _ in em.named_parameters()] == [n for n, _ in tm.named_parameters()]
    assert [n for n, _ in em.named_buffers()] == [n for n, _ in tm.named_buffers()]


@requires_torch
def test_repr_nested_model_matches_torch(oracle):
    def make(L):
        net = L.nn.Sequential(L.nn.Linear(4, 8), L.nn.ReLU(), L.nn.Linear(8, 2))
        _sn(L, net[0])
        _wn(L, net[2])
        L.nn.utils.parametrize.register_parametrization(net[2], "weight", L.nn.Tanh())
        return net
    em, tm = _build(ember, make), _build(oracle, make)
    assert repr(em) == repr(tm)
    _sd_equal(em, tm)


@requires_torch
@pytest.mark.parametrize("case", sorted(CASES))
def test_training_matches_torch(oracle, case):
    """Forward values, gradients of the originals and the state (u, v included) over SGD steps."""
    make, xshape = CASES[case]
    em, tm = _build(ember, make), _build(oracle, make)
    eopt = ember.optim.SGD(em.parameters(), lr=0.1, momentum=0.9)
    topt = oracle.optim.SGD(tm.parameters(), lr=0.1, momentum=0.9)
    rng = np.random.default_rng(1)
    for step in range(3):
        x = rng.standard_normal(xshape).astype(np.float32)
        eo, to = em(ember.tensor(x)), tm(oracle.tensor(x))
        np.testing.assert_allclose(eo.detach().numpy(), to.detach().numpy(), atol=1e-5, rtol=1e-5)
        eopt.zero_grad()
        topt.zero_grad()
        (eo ** 2).mean().backward()
        (to ** 2).mean().backward()
        for (en, ep), (tn, tp) in zip(em.named_parameters(), tm.named_parameters()):
            assert en == tn
            np.testing.assert_allclose(ep.grad.numpy(), tp.grad.numpy(), atol=1e-5, rtol=1e-4, err_msg=en)
        eopt.step()
        topt.step()
        _sd_equal(em, tm, atol=1e-5)
    # evaluation mode: no power iteration, so u and v stay as they are
    em.eval()
    tm.eval()
    before = {k: v.clone() for k, v in em.state_dict().items()}
    x = rng.standard_normal(xshape).astype(np.float32)
    for _ in range(2):
        eo, to = em(ember.tensor(x)), tm(oracle.tensor(x))
    np.testing.assert_allclose(eo.detach().numpy(), to.detach().numpy(), atol=1e-5, rtol=1e-5)
    for k, v in em.state_dict().items():
        np.testing.assert_array_equal(v.numpy(), before[k].numpy())
    _sd_equal(em, tm, atol=1e-5)


@requires_torch
@pytest.mark.parametrize("seed", [0, 7])
def test_spectral_norm_u_v_are_torchs_draws(oracle, seed):
    """u and v come from weight.new_empty(h).normal_() then normalize, as torch: equal after manual_seed."""
    for make in (lambda L: _sn(L, L.nn.Linear(20, 40)), lambda L: _old_sn(L, L.nn.Conv2d(3, 17, 3))):
        em, tm = _build(ember, make, seed), _build(oracle, make, seed)
        for _ in range(5):  # training-mode accesses each run a power iteration
            em(ember.ones(2, *_in_shape(em)))
            tm(oracle.ones(2, *_in_shape(tm)))
        _sd_equal(em, tm, atol=1e-6)


def _in_shape(m):
    return (20,) if hasattr(m, "in_features") else (3, 8, 8)


@requires_torch
def test_parametrized_grad_fn_names_match_torch(oracle):
    for make in (CASES["weight_norm"][0], CASES["weight_norm_dim1"][0], CASES["weight_norm_none_conv"][0],
                 CASES["weight_norm_conv_dim2"][0], CASES["spectral_norm"][0], CASES["old_weight_norm"][0]):
        em, tm = _build(ember, make), _build(oracle, make)
        if not hasattr(type(tm), "weight"):   # the hook-based forms set weight in forward
            em(ember.ones(1, 5))
            tm(oracle.ones(1, 5))
        assert type(em.weight.grad_fn).__name__ == type(tm.weight.grad_fn).__name__


# ---- checkpoints --------------------------------------------------------------------------------
@requires_torch
@pytest.mark.parametrize("case", sorted(CASES))
def test_state_dict_round_trips_through_torch(oracle, case, tmp_path):
    make, xshape = CASES[case]
    em, tm = _build(ember, make, 0), _build(oracle, make, 0)
    # change the state (one training step), then carry it across: ember -> torch and torch -> ember
    x = np.random.default_rng(2).standard_normal(xshape).astype(np.float32)
    em(ember.tensor(x)).sum().backward()
    ember.optim.SGD(em.parameters(), lr=0.5).step()
    ember.save(em.state_dict(), tmp_path / "ember.pt")
    tm2 = _build(oracle, make, 5)
    assert repr(tm2.load_state_dict(oracle.load(tmp_path / "ember.pt"))) == "<All keys matched successfully>"
    tm(oracle.tensor(x)).sum().backward()
    oracle.optim.SGD(tm.parameters(), lr=0.5).step()
    oracle.save(tm.state_dict(), tmp_path / "torch.pt")
    em2 = _build(ember, make, 5)
    assert repr(em2.load_state_dict(ember.load(tmp_path / "torch.pt"))) == "<All keys matched successfully>"
    _sd_equal(em2, tm)
    _sd_equal(em, tm2)
    for m in (em2, tm, em, tm2):
        m.eval()
    np.testing.assert_allclose(em2(ember.tensor(x)).detach().numpy(), tm(oracle.tensor(x)).detach().numpy(),
                               atol=1e-5, rtol=1e-5)
    np.testing.assert_allclose(em(ember.tensor(x)).detach().numpy(), tm2(oracle.tensor(x)).detach().numpy(),
                               atol=1e-5, rtol=1e-5)


@requires_torch
def test_old_weight_norm_checkpoint_loads_into_parametrization(oracle):
    """parametrizations.weight_norm's compat hook maps weight_g / weight_v to original0 / original1."""
    old = _build(ember, lambda L: _old_wn(L, L.nn.Linear(5, 3)))
    new = _build(ember, lambda L: _wn(L, L.nn.Linear(5, 3)), seed=3)
    tnew = _build(oracle, lambda L: _wn(L, L.nn.Linear(5, 3)), seed=3)
    sd = {k: v.numpy() for k, v in old.state_dict().items()}
    assert repr(new.load_state_dict(old.state_dict())) == "<All keys matched successfully>"
    tnew.load_state_dict({k: oracle.tensor(v) for k, v in sd.items()})
    _sd_equal(new, tnew)
    np.testing.assert_array_equal(new.parametrizations.weight.original0.detach().numpy(), sd["weight_g"])


def test_old_spectral_norm_state_dict_metadata():
    m = _build(ember, lambda L: _old_sn(L, L.nn.Linear(5, 3)))
    sd = m.state_dict()
    assert sd._metadata[""] == {"version": 1, "spectral_norm": {"weight.version": 1}}
    m2 = _build(ember, lambda L: _old_sn(L, L.nn.Linear(5, 3)), seed=1)
    m2.load_state_dict(sd)
    np.testing.assert_array_equal(m2.weight_v.numpy(), m.weight_v.numpy())


def test_parametrized_module_refuses_pickle_but_deepcopies():
    m = _wn(ember, nn.Linear(3, 2))
    with pytest.raises(RuntimeError, match="only supported through state_dict"):
        pickle.dumps(m)
    with pytest.raises(RuntimeError, match="only supported through state_dict"):
        ember.save(m, io.BytesIO())
    c = copy.deepcopy(m)
    assert type(c) is type(m) and c.parametrizations.weight.original1 is not m.parametrizations.weight.original1
    np.testing.assert_array_equal(c.weight.detach().numpy(), m.weight.detach().numpy())


# ---- registration, removal, caching ----------------------------------------------------------
class _Double(nn.Module):
    def forward(self, X):
        return 2 * X

    def right_inverse(self, X):
        return X / 2


class _Split(nn.Module):
    """weight = a + b; right_inverse returns two tensors (original0, original1)."""

    def forward(self, a, b):
        return a + b

    def right_inverse(self, X):
        return X / 4, 3 * X / 4


def test_register_keeps_parameter_identity_and_class_per_instance():
    m, other = nn.Linear(3, 2), nn.Linear(3, 2)
    w = m.weight
    before = w.detach().clone()
    P.register_parametrization(m, "weight", _Double())
    assert type(m).__name__ == "ParametrizedLinear" and type(other) is nn.Linear
    assert isinstance(m, nn.Linear) and P.type_before_parametrizations(m) is nn.Linear
    assert P.type_before_parametrizations(other) is nn.Linear
    assert m.parametrizations.weight.original is w        # the optimizer's Parameter is kept
    np.testing.assert_allclose(w.detach().numpy(), before.numpy() / 2)
    np.testing.assert_allclose(m.weight.detach().numpy(), before.numpy())
    assert "weight" not in m._parameters and P.is_parametrized(m) and P.is_parametrized(m, "weight")
    assert not P.is_parametrized(m, "bias") and not P.is_parametrized(other)
    assert [n for n, _ in m.named_parameters()] == ["bias", "parametrizations.weight.original"]


def test_setter_runs_right_inverse():
    m = P.register_parametrization(nn.Linear(3, 2), "weight", _Double())
    orig = m.parametrizations.weight.original
    m.weight = ember.ones(2, 3)
    assert m.parametrizations.weight.original is orig
    np.testing.assert_allclose(orig.detach().numpy(), 0.5)
    np.testing.assert_allclose(m.weight.detach().numpy(), 1.0)
    P.register_parametrization(m, "bias", nn.Tanh())   # no right_inverse
    with pytest.raises(RuntimeError, match="Tanh does not implement right_inverse"):
        m.bias = ember.zeros(2)


def test_tuple_right_inverse_registers_original0_original1():
    m = nn.Linear(3, 2)
    w = m.weight.detach().clone()
    P.register_parametrization(m, "weight", _Split())
    pl = m.parametrizations.weight
    assert not pl.is_tensor and pl.ntensors == 2 and not hasattr(pl, "original")
    assert isinstance(pl.original0, nn.Parameter) and isinstance(pl.original1, nn.Parameter)
    np.testing.assert_allclose(m.weight.detach().numpy(), w.numpy(), rtol=1e-6)
    with pytest.raises(ValueError, match="Cannot leave unparametrized"):
        P.remove_parametrizations(m, "weight", leave_parametrized=False)
    P.remove_parametrizations(m, "weight")
    assert type(m) is nn.Linear and isinstance(m.weight, nn.Parameter)
    np.testing.assert_allclose(m.weight.detach().numpy(), w.numpy(), rtol=1e-6)


@requires_torch
@pytest.mark.parametrize("leave", [True, False])
def test_remove_parametrizations_matches_torch(oracle, leave):
    def make(L):
        m = L.nn.Linear(4, 3)
        L.nn.utils.parametrizations.spectral_norm(m)
        L.nn.utils.parametrize.register_parametrization(m, "bias", L.nn.Softplus())
        return m
    em, tm = _build(ember, make), _build(oracle, make)
    eorig = em.parametrizations.weight.original
    for lib, m in ((ember, em), (oracle, tm)):
        lib.nn.utils.parametrize.remove_parametrizations(m, "weight", leave_parametrized=leave)
    assert em.weight is eorig       # same Parameter object, as torch's set_
    assert type(em).__name__ == type(tm).__name__ == "ParametrizedLinear"
    assert repr(em) == repr(tm)
    _sd_equal(em, tm)
    for lib, m in ((ember, em), (oracle, tm)):
        lib.nn.utils.parametrize.remove_parametrizations(m, "bias", leave_parametrized=leave)
    assert type(em) is nn.Linear and not hasattr(em, "parametrizations")
    assert repr(em) == repr(tm)
    _sd_equal(em, tm)
    with pytest.raises(ValueError, match="does not have a parametrization on weight"):
        P.remove_parametrizations(em, "weight")


def test_parametrize_a_buffer():
    bn = nn.BatchNorm1d(3)
    P.register_parametrization(bn, "running_var", _Double())
    pl = bn.parametrizations.running_var
    assert "original" in pl._buffers and not isinstance(pl.original, nn.Parameter)
    assert list(bn.state_dict()) == ["weight", "bias", "running_mean", "num_batches_tracked",
                                     "parametrizations.running_var.original"]
    np.testing.assert_allclose(bn.running_var.numpy(), 1.0)


def test_register_errors_leave_module_unchanged():
    m = nn.Linear(3, 2)

    class Shrink(nn.Module):
        def forward(self, X):
            return X[:1]

    class ToDouble(nn.Module):
        def forward(self, X):
            return X.double()

    with pytest.raises(ValueError, match="may not change the shape"):
        P.register_parametrization(m, "weight", Shrink())
    with pytest.raises(ValueError, match="may not change the dtype"):
        P.register_parametrization(m, "weight", ToDouble())
    assert type(m) is nn.Linear and "weight" in m._parameters

    class HalveThenShrink(_Double):
        def forward(self, X):
            return (2 * X)[:1]

    w = m.weight
    before = w.detach().clone()
    with pytest.raises(ValueError, match="may not change the shape"):
        P.register_parametrization(m, "weight", HalveThenShrink())
    # torch leaves the parameter halved by right_inverse here; ember restores it
    assert m.weight is w
    np.testing.assert_array_equal(w.detach().numpy(), before.numpy())
    with pytest.raises(ValueError, match="does not have a parameter, a buffer, or a parametrized element"):
        P.register_parametrization(m, "nope", _Double())
    P.register_parametrization(m, "weight", Shrink(), unsafe=True)
    assert tuple(m.weight.shape) == (1, 3)
    P.register_parametrization(m, "bias", _Double())
    with pytest.raises(ValueError, match="may not change the shape"):
        P.register_parametrization(m, "bias", Shrink())
    with pytest.raises(KeyError, match="attribute 'weight' already exists"):
        m.weight = nn.Parameter(ember.zeros(2, 3))


def test_cached_computes_once():
    calls = []

    class Count(nn.Module):
        def forward(self, X):
            calls.append(1)
            return X * 1.0

    m = P.register_parametrization(nn.Linear(3, 2), "weight", Count())
    calls.clear()
    m.weight
    m.weight
    assert len(calls) == 2
    calls.clear()
    with P.cached():
        a = m.weight
        with P.cached():
            b = m.weight
        assert m.weight is a is b
    assert len(calls) == 1
    assert P._cache == {}


def test_training_mode_follows_the_module():
    m = nn.Linear(3, 2).eval()
    parametrizations.spectral_norm(m)
    assert not m.parametrizations.weight[0].training
    m.train()
    assert m.parametrizations.weight[0].training


# ---- the hook-based APIs --------------------------------------------------------------------------
def test_old_weight_norm_warns_and_removes():
    m = nn.Linear(4, 3)
    w = m.weight.detach().clone()
    with pytest.warns(FutureWarning, match="torch.nn.utils.weight_norm` is deprecated"):
        nn.utils.weight_norm(m)
    assert type(m) is nn.Linear and repr(m) == "Linear(in_features=4, out_features=3, bias=True)"
    assert tuple(m.weight_g.shape) == (3, 1) and "weight" not in m._parameters
    with pytest.raises(RuntimeError, match="Cannot register two weight_norm hooks"):
        with pytest.warns(FutureWarning):
            nn.utils.weight_norm(m)
    with ember.no_grad():
        m.weight_g.mul_(2)
    m(ember.ones(1, 4))                   # the pre-hook recomputes weight
    np.testing.assert_allclose(m.weight.detach().numpy(), 2 * w.numpy(), rtol=1e-5)
    nn.utils.remove_weight_norm(m)
    assert isinstance(m.weight, nn.Parameter) and list(m.state_dict()) == ["bias", "weight"]
    np.testing.assert_allclose(m.weight.detach().numpy(), 2 * w.numpy(), rtol=1e-5)
    with pytest.raises(ValueError, match="weight_norm of 'weight' not found in Linear"):
        nn.utils.remove_weight_norm(m)


@requires_torch
def test_old_spectral_norm_remove_matches_torch(oracle):
    make = CASES["old_spectral_norm"][0]
    em, tm = _build(ember, make), _build(oracle, make)
    for _ in range(3):
        em(ember.ones(2, 5))
        tm(oracle.ones(2, 5))
    ember.nn.utils.remove_spectral_norm(em)
    oracle.nn.utils.remove_spectral_norm(tm)
    assert list(em.state_dict()) == list(tm.state_dict()) == ["bias", "weight"]
    _sd_equal(em, tm)
    assert not em._state_dict_hooks and not em._forward_pre_hooks
    with pytest.raises(ValueError, match="spectral_norm of 'weight' not found"):
        ember.nn.utils.remove_spectral_norm(em)
    with pytest.raises(RuntimeError, match="Cannot register two spectral_norm hooks"):
        m = nn.utils.spectral_norm(nn.Linear(2, 2))
        nn.utils.spectral_norm(m)


def test_spectral_norm_errors():
    with pytest.raises(ValueError, match="n_power_iterations to be positive"):
        parametrizations.spectral_norm(nn.Linear(3, 2), n_power_iterations=0)
    with pytest.raises(IndexError, match="Dimension out of range"):
        parametrizations.spectral_norm(nn.Linear(3, 2), dim=2)
    with pytest.raises(ValueError, match="has no parameter or buffer with name 'nope'"):
        parametrizations.spectral_norm(nn.Linear(3, 2), name="nope")
    with pytest.raises(ValueError, match="n_power_iterations to be positive"):
        nn.utils.spectral_norm(nn.Linear(3, 2), n_power_iterations=0)


def test_spectral_norm_normalizes_the_largest_singular_value():
    ember.manual_seed(0)
    m = parametrizations.spectral_norm(nn.Linear(6, 8))
    for _ in range(30):
        w = m.weight
    s = np.linalg.svd(w.detach().numpy(), compute_uv=False)
    np.testing.assert_allclose(s[0], 1.0, rtol=1e-4)


# ---- float64 gradients by central differences ----------------------------------------------------
def _check_param_grads(m, x, mask=None):
    """d(sum(out * r))/d(each parameter) against central differences; m in eval mode and float64.

    mask(name, grad) selects the entries to compare (default: all)."""
    rng = np.random.default_rng(3)
    out = m(x)
    r = ember.tensor(rng.standard_normal(tuple(out.shape)))
    m.zero_grad()
    (m(x) * r).sum().backward()
    for name, p in m.named_parameters():
        def f(a, p=p):
            saved = p._data.copy()
            p._data[...] = a
            with ember.no_grad():
                val = float((m(x) * r).sum())
            p._data[...] = saved
            return val
        keep = np.ones(p.shape, bool) if mask is None else mask(name, p)
        np.testing.assert_allclose(p.grad.numpy()[keep], numeric_grad(f, p.detach().numpy())[keep], rtol=1e-5,
                                   atol=1e-7, err_msg=name)


@pytest.mark.parametrize("dim", [0, 1, 2, None])
def test_weight_norm_gradients_numeric(dim):
    ember.manual_seed(0)
    m = parametrizations.weight_norm(nn.Conv2d(2, 3, 2).double(), dim=dim)
    _check_param_grads(m, ember.randn(2, 2, 4, 4, dtype=ember.float64))


def test_old_weight_norm_gradients_numeric():
    ember.manual_seed(0)
    with pytest.warns(FutureWarning):
        m = nn.utils.weight_norm(nn.Linear(4, 3).double())
    _check_param_grads(m, ember.randn(5, 4, dtype=ember.float64))


@pytest.mark.parametrize("old", [False, True])
def test_spectral_norm_gradients_numeric(old):
    ember.manual_seed(0)
    m = nn.Conv2d(2, 3, 2).double()
    m = nn.utils.spectral_norm(m) if old else parametrizations.spectral_norm(m)
    m.eval()   # u and v fixed: the function of the parameters is then deterministic
    _check_param_grads(m, ember.randn(2, 2, 4, 4, dtype=ember.float64))


def test_weight_norm_double_backward_numeric():
    """torch._weight_norm's second derivative (create_graph=True) against central differences."""
    rng = np.random.default_rng(0)
    v0, g0 = rng.standard_normal((4, 3)), rng.standard_normal((4, 1))

    def first(vn):
        v = ember.tensor(vn, requires_grad=True)
        w = ember._weight_norm(v, ember.tensor(g0), 0)
        (gv,) = ember.autograd.grad((w ** 3).sum(), (v,), create_graph=True)
        return v, gv

    v, gv = first(v0)
    (hv,) = ember.autograd.grad(gv.sum(), (v,))
    np.testing.assert_allclose(hv.numpy(), numeric_grad(lambda a: float(first(a)[1].sum()), v0), rtol=1e-5,
                               atol=1e-7)


@requires_torch
@pytest.mark.parametrize("shape,dim", [((4, 3), 0), ((4, 3), 1), ((4, 3, 2), 1), ((4, 3, 2), 2), ((4, 3), -1)])
def test_norm_except_dim_and_weight_norm_match_torch(oracle, shape, dim):
    rng = np.random.default_rng(0)
    vn = rng.standard_normal(shape)
    for lib in (ember, oracle):
        v = lib.tensor(vn, requires_grad=True)
        g = lib.norm_except_dim(v, 2, dim).detach() * 1.5
        g.requires_grad_(True)
        w = lib._weight_norm(v, g, dim)
        (w * lib.tensor(np.arange(w.numel()).reshape(shape) * 1.0)).sum().backward()
        if lib is ember:
            ours = (tuple(g.shape), w.detach().numpy(), v.grad.numpy(), g.grad.numpy())
        else:
            assert ours[0] == tuple(g.shape)
            for a, b in zip(ours[1:], (w.detach().numpy(), v.grad.numpy(), g.grad.numpy())):
                np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


# ---- orthogonal ------------------------------------------------------------------------------------
ORTH = [((4, 4), None, True), ((5, 3), None, True), ((3, 5), None, True), ((4, 4), "cayley", True),
        ((5, 3), "matrix_exp", True), ((5, 3), "householder", False), ((3, 5), "householder", False),
        ((4, 4), "cayley", False)]


@requires_torch
@pytest.mark.parametrize("shape,omap,triv", ORTH)
def test_orthogonal_matches_torch(oracle, shape, omap, triv):
    """Repr, state_dict (base included), weight and training steps; the wide case draws randn as torch."""
    x = np.random.default_rng(0).standard_normal((2, shape[1])).astype(np.float32)
    res = []
    for lib in (ember, oracle):
        m = _build(lib, lambda L: L.nn.utils.parametrizations.orthogonal(
            L.nn.Linear(shape[1], shape[0]), orthogonal_map=omap, use_trivialization=triv))
        opt = lib.optim.SGD(m.parameters(), lr=0.1)
        for _ in range(2):
            opt.zero_grad()
            (m(lib.tensor(x)) ** 2).sum().backward()
            opt.step()
        res.append(m)
    em, tm = res
    assert repr(em) == repr(tm)
    _sd_equal(em, tm, atol=1e-5)
    w = em.weight.detach().numpy().astype(np.float64)
    np.testing.assert_allclose(w, tm.weight.detach().numpy(), atol=1e-5)
    gram = w.T @ w if shape[0] >= shape[1] else w @ w.T
    np.testing.assert_allclose(gram, np.eye(min(shape)), atol=1e-5)


@requires_torch
def test_orthogonal_setter_and_errors_match_torch(oracle):
    q = np.linalg.qr(np.random.default_rng(1).standard_normal((4, 4)))[0].astype(np.float32)
    for lib in (ember, oracle):
        m = lib.nn.utils.parametrizations.orthogonal(lib.nn.Linear(4, 4))
        m.weight = lib.tensor(q)
        np.testing.assert_allclose(m.weight.detach().numpy(), q, atol=1e-5)
        m = lib.nn.utils.parametrizations.orthogonal(lib.nn.Linear(4, 4), use_trivialization=False)
        with pytest.raises(NotImplementedError, match="use_trivialization=False"):
            m.weight = lib.tensor(q)
        with pytest.raises(ValueError, match="orthogonal_map has to be one of"):
            lib.nn.utils.parametrizations.orthogonal(lib.nn.Linear(4, 4), orthogonal_map="qr")
        with pytest.raises(ValueError, match="Expected a matrix or batch of matrices"):
            lib.nn.utils.parametrizations.orthogonal(lib.nn.Linear(4, 4), name="bias")


@pytest.mark.parametrize("omap", ["matrix_exp", "cayley", "householder"])
def test_orthogonal_gradients_numeric(omap):
    ember.manual_seed(0)
    m = parametrizations.orthogonal(nn.Linear(3, 5).double(), orthogonal_map=omap)

    def off_diagonal(name, p):
        # householder reads only the signs of the diagonal (X.diagonal().int()): a step, not differentiable
        keep = np.ones(p.shape, bool)
        if omap == "householder" and p.ndim == 2:
            np.fill_diagonal(keep, False)
        return keep
    _check_param_grads(m, ember.randn(4, 3, dtype=ember.float64), off_diagonal)


@requires_torch
def test_transfer_parametrizations_and_params_matches_torch(oracle):
    res = []
    for lib in (ember, oracle):
        src = _build(lib, lambda L: _wn(L, L.nn.Linear(4, 3)))
        dst = _build(lib, lambda L: L.nn.Linear(4, 3), seed=9)
        lib.nn.utils.parametrize.transfer_parametrizations_and_params(src, dst)
        assert dst.parametrizations.weight.original0 is src.parametrizations.weight.original0
        res.append(dst)
    assert repr(res[0]) == repr(res[1])
    _sd_equal(*res)


def test_parametrized_module_converts_dtype():
    m = parametrizations.spectral_norm(nn.Linear(4, 3))
    orig = m.parametrizations.weight.original
    m.double()
    assert m.parametrizations.weight.original is orig and orig.dtype == ember.float64
    assert m.parametrizations.weight[0]._u.dtype == ember.float64
    assert m(ember.ones(2, 4, dtype=ember.float64)).dtype == ember.float64


def test_torch_alias_imports_the_modules(tmp_path):
    """`import torch.nn.utils.parametrize` and friends resolve through the torch alias (a fresh process)."""
    import os
    import subprocess
    import sys
    script = tmp_path / "alias.py"
    script.write_text(
        "import ember.compat as c; c.install()\n"
        "import torch, torch.nn as nn\n"
        "import torch.nn.utils.parametrize as P\n"
        "from torch.nn.utils.parametrizations import weight_norm\n"
        "import torch.nn.utils.spectral_norm, torch.nn.utils.weight_norm\n"
        "from torch.nn.utils.spectral_norm import SpectralNorm\n"
        "m = weight_norm(nn.Linear(3, 4))\n"
        "assert P.is_parametrized(m, 'weight') and callable(torch.nn.utils.weight_norm)\n"
        "print(type(m).__name__, m.weight.shape)\n")
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env = dict(os.environ, PYTHONPATH=root + os.pathsep + os.environ.get("PYTHONPATH", ""))
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ParametrizedLinear torch.Size([4, 3])"
