"""NAdam, RAdam, Adamax, Adadelta, Rprop, ASGD, Adafactor and LBFGS in lockstep with real torch.

Updates and state (keys, order, dtypes, 0-d scalars such as 'step' and 'mu_product'), state_dict
exchange through real checkpoint files in both directions, repr, and torch's errors for bad
hyperparameters. Sparse gradients (nn.Embedding(sparse=True)): SGD, Adagrad, SparseAdam and LBFGS train as
torch's, the others raise its RuntimeError; zero_grad, and SparseAdam's state_dict through files both ways.
"""
import copy

import numpy as np
import pytest

import ember
from ember import optim
from tests.conftest import requires_torch, torch
from tests.optim.test_optimizers import _grad, _init_values, _run_lockstep, _to_torch

CONFIGS = [
    ("NAdam", dict()),
    ("NAdam", dict(lr=0.01, weight_decay=0.1)),
    ("NAdam", dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True)),
    ("NAdam", dict(lr=0.02, betas=(0.5, 0.9), eps=1e-6, momentum_decay=0.1, maximize=True)),
    ("RAdam", dict()),
    ("RAdam", dict(lr=0.01, weight_decay=0.1)),
    ("RAdam", dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True, maximize=True)),
    # beta2=0.9: rho_inf = 19, so the rectified branch (rho_t > 5) starts at step 4 of 10
    ("RAdam", dict(lr=0.02, betas=(0.8, 0.9), eps=1e-6)),
    ("Adamax", dict()),
    ("Adamax", dict(lr=0.01, weight_decay=0.1)),
    ("Adamax", dict(lr=0.02, betas=(0.5, 0.8), eps=1e-3, maximize=True)),
    ("Adadelta", dict()),
    ("Adadelta", dict(lr=0.5, rho=0.5, weight_decay=0.1)),
    ("Adadelta", dict(lr=0.1, rho=0.95, eps=1e-4, maximize=True)),
    ("Rprop", dict()),
    ("Rprop", dict(lr=0.05, etas=(0.3, 1.5), step_sizes=(1e-3, 0.07))),
    ("Rprop", dict(lr=0.01, maximize=True)),
    ("ASGD", dict()),
    ("ASGD", dict(lr=0.05, lambd=1e-2, alpha=0.5, weight_decay=0.1)),
    # t0=3: the averaging weight mu leaves 1 after step 4, exercising ax's running average
    ("ASGD", dict(lr=0.05, t0=3, maximize=True)),
    ("Adafactor", dict()),
    ("Adafactor", dict(lr=0.05, weight_decay=0.1, d=2.0)),
    ("Adafactor", dict(lr=0.02, beta2_decay=-0.5, eps=(1e-30, 1e-2), maximize=True)),
]
IDS = [f"{name}-{'-'.join(f'{k}={v}' for k, v in kw.items()) or 'default'}" for name, kw in CONFIGS]
STEPS = 10


def _make(name, kwargs, values):
    e_params = [ember.tensor(v.copy(), requires_grad=True) for v in values]
    t_params = [torch.tensor(v.copy(), requires_grad=True) for v in values]
    e_opt = getattr(optim, name)(e_params, foreach=False, **kwargs)
    t_opt = getattr(torch.optim, name)(t_params, foreach=False, **kwargs)
    return e_params, e_opt, t_params, t_opt


def _np(v):
    return np.asarray(v.detach().numpy() if hasattr(v, "detach") else v)


def _assert_same_state(e_sd, t_sd, tol, float_dtype):
    """ember's state_dict matches torch's: groups, keys in order, 0-d scalars' dtypes, values."""
    assert e_sd["param_groups"] == t_sd["param_groups"]
    assert list(e_sd["state"]) == list(t_sd["state"])
    for k, st in e_sd["state"].items():
        t_st = t_sd["state"][k]
        assert list(st) == list(t_st)
        for key, val in st.items():
            tv = t_st[key]
            assert isinstance(val, ember.Tensor) == isinstance(tv, torch.Tensor), key
            if isinstance(tv, torch.Tensor):
                assert str(val.dtype).replace("ember", "torch") == str(tv.dtype), key
                assert tuple(val.shape) == tuple(tv.shape), key
                np.testing.assert_allclose(_np(val), tv.numpy(), rtol=1e-4, atol=tol, err_msg=key)
            else:
                assert val == tv, key
    for st in e_sd["state"].values():
        for key, val in st.items():
            if val.dim() > 0:  # buffers follow the parameter's dtype
                assert val.dtype == float_dtype, key


@requires_torch
@pytest.mark.parametrize("dtype,tol", [(np.float64, 1e-6), (np.float32, 1e-5)], ids=["f64", "f32"])
@pytest.mark.parametrize("name,kwargs", CONFIGS, ids=IDS)
def test_matches_torch_in_lockstep(name, kwargs, dtype, tol):
    values = _init_values(dtype)
    e_params, e_opt, t_params, t_opt = _make(name, kwargs, values)
    versions = [p._version for p in e_params]
    # param 1 gets no gradient on odd steps: it must be skipped, as torch skips it
    worst = _run_lockstep(e_opt, e_params, t_opt, t_params, STEPS, np.random.default_rng(1),
                          skip=lambda step, i: i == 1 and step % 2 == 1)
    assert worst < tol, f"{name}{kwargs}: max |ember - torch| = {worst}"
    for p, v0 in zip(e_params, versions):
        assert p._version > v0
        assert p._data.dtype == dtype
    float_dtype = ember.float32 if dtype == np.float32 else ember.float64
    _assert_same_state(e_opt.state_dict(), t_opt.state_dict(), tol, float_dtype)
    # the 0-d scalars are float32 CPU tensors, as torch keeps them under the default dtype
    for st in e_opt.state.values():
        for key in ("step", "mu_product", "eta", "mu"):
            if key in st:
                assert st[key].dtype == ember.float32 and st[key].dim() == 0, key
    assert float(e_opt.state[e_params[0]]["step"].item()) == STEPS
    assert float(e_opt.state[e_params[1]]["step"].item()) == STEPS // 2


@requires_torch
@pytest.mark.parametrize("name,kwargs", CONFIGS, ids=IDS)
def test_state_dict_through_files_both_ways(name, kwargs, tmp_path):
    values = _init_values(np.float64, seed=2)
    e_params, e_opt, t_params, t_opt = _make(name, kwargs, values)
    _run_lockstep(e_opt, e_params, t_opt, t_params, 5, np.random.default_rng(3))

    # ember saves, torch loads and continues in lockstep with the original ember optimizer
    ember.save(e_opt.state_dict(), tmp_path / "ember.pt")
    t_sd_from_ember = torch.load(tmp_path / "ember.pt")
    t2_params = [torch.tensor(_np(p).copy(), requires_grad=True) for p in e_params]
    t2_opt = getattr(torch.optim, name)(t2_params, foreach=False, **kwargs)
    t2_opt.load_state_dict(t_sd_from_ember)

    # torch saves, ember loads and continues in lockstep with the original torch optimizer
    torch.save(t_opt.state_dict(), tmp_path / "torch.pt")
    e2_params = [ember.tensor(_np(p).copy(), requires_grad=True) for p in t_params]
    e2_opt = getattr(optim, name)(e2_params, foreach=False, **kwargs)
    e2_opt.load_state_dict(ember.load(tmp_path / "torch.pt"))

    # both loads cast alike: 'step' stays float32, other 0-d scalars ('mu_product', 'eta', 'mu')
    # and buffers take the float64 parameters' dtype
    _assert_same_state(e2_opt.state_dict(), t2_opt.state_dict(), 1e-9, ember.float64)
    for st in e2_opt.state.values():
        assert st["step"].dtype == ember.float32
    # each reloaded optimizer continues exactly as the other side's reloaded one
    worst = _run_lockstep(e2_opt, e2_params, t2_opt, t2_params, 5, np.random.default_rng(4))
    assert worst < 1e-9
    _assert_same_state(e2_opt.state_dict(), t2_opt.state_dict(), 1e-9, ember.float64)
    # and as the optimizers it was saved from (which kept float32 scalars: a float32-sized gap)
    _run_lockstep(e_opt, e_params, t_opt, t_params, 5, np.random.default_rng(4))
    for a, b in zip(e2_params, e_params):
        np.testing.assert_allclose(_np(a), _np(b), rtol=1e-6, atol=1e-6)


@requires_torch
@pytest.mark.parametrize("name,kwargs", CONFIGS[::2], ids=IDS[::2])
def test_state_dict_round_trip_within_ember(name, kwargs, tmp_path):
    values = _init_values(np.float32, seed=5)
    e_params = [ember.tensor(v.copy(), requires_grad=True) for v in values]
    e_opt = getattr(optim, name)(e_params, **kwargs)
    rng = np.random.default_rng(6)
    for _ in range(3):
        for i, p in enumerate(e_params):
            p.grad = ember.tensor(_grad(_np(p), 0, i, rng))
        e_opt.step()
    ember.save(e_opt.state_dict(), tmp_path / "opt.pt")
    e2_params = [ember.tensor(_np(p).copy(), requires_grad=True) for p in e_params]
    e2_opt = getattr(optim, name)(e2_params, **kwargs)
    e2_opt.load_state_dict(ember.load(tmp_path / "opt.pt"))
    assert repr(e2_opt) == repr(e_opt)
    for _ in range(3):
        for i, (p, q) in enumerate(zip(e_params, e2_params)):
            g = _grad(_np(p), 0, i, rng)
            p.grad, q.grad = ember.tensor(g), ember.tensor(g.copy())
        e_opt.step()
        e2_opt.step()
    for p, q in zip(e_params, e2_params):
        np.testing.assert_array_equal(_np(p), _np(q))


@requires_torch
@pytest.mark.parametrize("name,kwargs", CONFIGS + [("LBFGS", dict()),
                                                   ("LBFGS", dict(lr=0.5, line_search_fn="strong_wolfe"))],
                         ids=IDS + ["LBFGS-default", "LBFGS-strong_wolfe"])
def test_repr_matches_torch(name, kwargs):
    values = _init_values(np.float32)
    e_opt = getattr(optim, name)([ember.tensor(v, requires_grad=True) for v in values], **kwargs)
    t_opt = getattr(torch.optim, name)([torch.tensor(v, requires_grad=True) for v in values], **kwargs)
    assert repr(e_opt) == repr(t_opt)
    assert e_opt.defaults == t_opt.defaults


@requires_torch
def test_repr_with_two_groups_matches_torch():
    a, b = _init_values(np.float32)[:2]
    e_opt = optim.NAdam([{"params": [ember.tensor(a, requires_grad=True)]},
                         {"params": [ember.tensor(b, requires_grad=True)], "lr": 0.5,
                          "decoupled_weight_decay": True}], weight_decay=0.01)
    t_opt = torch.optim.NAdam([{"params": [torch.tensor(a, requires_grad=True)]},
                               {"params": [torch.tensor(b, requires_grad=True)], "lr": 0.5,
                                "decoupled_weight_decay": True}], weight_decay=0.01)
    assert repr(e_opt) == repr(t_opt)


INVALID = [
    ("NAdam", dict(lr=-1.0)),
    ("NAdam", dict(eps=-1e-8)),
    ("NAdam", dict(betas=(1.0, 0.999))),
    ("NAdam", dict(betas=(0.9, -0.1))),
    ("NAdam", dict(weight_decay=-0.1)),
    ("NAdam", dict(momentum_decay=-0.5)),
    ("RAdam", dict(lr=-0.1)),
    ("RAdam", dict(eps=-1.0)),
    ("RAdam", dict(betas=(0.9, 1.0))),
    ("RAdam", dict(weight_decay=-1)),
    ("Adamax", dict(lr=-2e-3)),
    ("Adamax", dict(eps=-1.0)),
    ("Adamax", dict(betas=(-0.1, 0.9))),
    ("Adamax", dict(betas=(0.9, 1.5))),
    ("Adamax", dict(weight_decay=-0.5)),
    ("Adadelta", dict(lr=-1.0)),
    ("Adadelta", dict(rho=1.5)),
    ("Adadelta", dict(rho=-0.1)),
    ("Adadelta", dict(eps=-1e-6)),
    ("Adadelta", dict(weight_decay=-1e-3)),
    ("Rprop", dict(lr=-0.01)),
    ("Rprop", dict(etas=(1.5, 1.2))),
    ("Rprop", dict(etas=(0.0, 1.2))),
    ("Rprop", dict(etas=(0.5, 0.9))),
    ("ASGD", dict(lr=-0.01)),
    ("ASGD", dict(weight_decay=-0.01)),
    ("LBFGS", dict(lr=-1)),
    ("SparseAdam", dict(lr=0.0)),
    ("SparseAdam", dict(eps=0.0)),
    ("SparseAdam", dict(betas=(0.9, 1.0))),
]


def _error(fn):
    try:
        fn()
    except Exception as exc:  # noqa: BLE001 - the type is what is compared
        return type(exc), str(exc)
    return None, None


@requires_torch
@pytest.mark.parametrize("name,kwargs", INVALID,
                         ids=[f"{n}-{'-'.join(f'{k}={v}' for k, v in kw.items())}" for n, kw in INVALID])
def test_invalid_hyperparameters_raise_as_torch(name, kwargs):
    e_type, e_msg = _error(lambda: getattr(optim, name)([ember.zeros(2, requires_grad=True)], **kwargs))
    t_type, t_msg = _error(lambda: getattr(torch.optim, name)([torch.zeros(2, requires_grad=True)], **kwargs))
    assert t_type is ValueError
    assert (e_type.__name__, e_msg) == (t_type.__name__, t_msg)


@requires_torch
@pytest.mark.parametrize("name", ["NAdam", "RAdam", "Adamax", "Adadelta", "Rprop", "ASGD", "LBFGS"])
def test_common_errors_as_torch(name):
    for bad in (lambda m: getattr(m.optim, name)([]),
                lambda m: getattr(m.optim, name)(m.zeros(2, requires_grad=True)),
                lambda m: getattr(m.optim, name)([m.zeros(2, requires_grad=True), 3]),
                lambda m: getattr(m.optim, name)([m.zeros(1, requires_grad=True) * 2])):
        e_type, e_msg = _error(lambda: bad(ember))
        t_type, t_msg = _error(lambda: bad(torch))
        assert e_type is not None and e_type.__name__ == t_type.__name__
        assert e_msg == t_msg.replace("torch.", "ember."), (e_msg, t_msg)


def test_lbfgs_rejects_param_groups():
    a, b = ember.zeros(2, requires_grad=True), ember.zeros(2, requires_grad=True)
    with pytest.raises(ValueError, match=r"LBFGS doesn't support per-parameter options \(parameter groups\)"):
        optim.LBFGS([{"params": [a]}, {"params": [b]}])


def test_closure_runs_with_grad_enabled_and_returns_loss():
    for name in ("NAdam", "RAdam", "Adamax", "Adadelta", "Rprop", "ASGD"):
        w = ember.tensor(np.array([3.0]), requires_grad=True)
        opt = getattr(optim, name)([w])
        seen = []

        def closure():
            opt.zero_grad()
            seen.append(ember.is_grad_enabled())
            loss = (w * w).sum()
            loss.backward()
            return loss

        with ember.no_grad():
            loss = opt.step(closure)
        assert seen == [True] and float(loss.item()) == 9.0
        assert float(w.item()) < 3.0, name  # moved downhill


def test_parameter_without_grad_is_skipped():
    for name in ("NAdam", "RAdam", "Adamax", "Adadelta", "Rprop", "ASGD"):
        a = ember.tensor(np.ones(2), requires_grad=True)
        opt = getattr(optim, name)([a], lr=0.1)
        v = a._version
        opt.step()
        assert a._version == v and len(opt.state) == 0, name


def test_step_hooks_run_for_new_optimizers():
    a = ember.tensor(np.ones(2), requires_grad=True)
    opt = optim.RAdam([a])
    calls = []
    opt.register_step_pre_hook(lambda o, args, kw: calls.append("pre"))
    opt.register_step_post_hook(lambda o, args, kw: calls.append("post"))
    a.grad = ember.ones(2, dtype=ember.float64)
    opt.step()
    assert calls == ["pre", "post"]


@requires_torch
@pytest.mark.parametrize("name,kwargs", [("NAdam", dict(weight_decay=0.1)), ("ASGD", dict(t0=2)),
                                         ("Rprop", dict())], ids=["NAdam", "ASGD", "Rprop"])
def test_float64_default_dtype_keeps_scalars_float64(name, kwargs):
    # under a float64 default dtype torch keeps 'step', 'mu_product', 'eta', 'mu' in float64
    values = _init_values(np.float64)
    old_e, old_t = ember.get_default_dtype(), torch.get_default_dtype()
    ember.set_default_dtype(ember.float64)
    torch.set_default_dtype(torch.float64)
    try:
        e_params, e_opt, t_params, t_opt = _make(name, kwargs, values)
        worst = _run_lockstep(e_opt, e_params, t_opt, t_params, 6, np.random.default_rng(7))
        e_sd, t_sd = e_opt.state_dict(), t_opt.state_dict()
    finally:
        ember.set_default_dtype(old_e)
        torch.set_default_dtype(old_t)
    assert worst < 1e-9
    _assert_same_state(e_sd, t_sd, 1e-9, ember.float64)
    assert e_sd["state"][0]["step"].dtype == ember.float64


# ---- LBFGS ------------------------------------------------------------------------------------

def _rosenbrock_closure(mod, params, opt, target):
    """A smooth, badly conditioned loss over all params (a Rosenbrock chain plus a quadratic)."""
    def closure():
        opt.zero_grad()
        flat = mod.cat([p.reshape(-1) for p in params])
        x, y = flat[:-1], flat[1:]
        loss = ((1 - x) ** 2).sum() + 10 * ((y - x * x) ** 2).sum() + ((flat - target) ** 2).sum()
        loss.backward()
        return loss
    return closure


LBFGS_CONFIGS = [
    dict(),
    dict(lr=0.5, max_iter=5, history_size=3),
    dict(line_search_fn="strong_wolfe"),
    dict(lr=0.8, max_iter=7, max_eval=9, history_size=2, line_search_fn="strong_wolfe"),
]
LBFGS_IDS = ["default", "short-history", "strong_wolfe", "strong_wolfe-tight"]


def _lbfgs_pair(kwargs, dtype):
    values = [0.3 * v for v in _init_values(dtype, seed=8)]
    target = np.linspace(-1, 1, sum(v.size for v in values)).astype(dtype)
    e_params = [ember.tensor(v.copy(), requires_grad=True) for v in values]
    t_params = [torch.tensor(v.copy(), requires_grad=True) for v in values]
    e_opt, t_opt = optim.LBFGS(e_params, **kwargs), torch.optim.LBFGS(t_params, **kwargs)
    e_closure = _rosenbrock_closure(ember, e_params, e_opt, ember.tensor(target))
    t_closure = _rosenbrock_closure(torch, t_params, t_opt, torch.tensor(target))
    return e_params, e_opt, e_closure, t_params, t_opt, t_closure


def _lbfgs_state_matches(e_opt, t_opt, tol):
    e_st, t_st = e_opt.state_dict()["state"][0], t_opt.state_dict()["state"][0]
    assert list(e_st) == list(t_st)
    for key, tv in t_st.items():
        ev = e_st[key]
        if isinstance(tv, list):
            assert len(ev) == len(tv), key
            pairs = list(zip(ev, tv))
        else:
            pairs = [(ev, tv)]
        for e, t in pairs:
            assert isinstance(e, ember.Tensor) == isinstance(t, torch.Tensor), key
            assert type(e) is type(t) or isinstance(t, torch.Tensor), key
            if t is None:
                assert e is None, key
            else:
                np.testing.assert_allclose(_np(e), _np(t), rtol=tol, atol=tol, err_msg=key)


@requires_torch
@pytest.mark.parametrize("dtype,tol", [(np.float64, 1e-8), (np.float32, 1e-5)], ids=["f64", "f32"])
@pytest.mark.parametrize("kwargs", LBFGS_CONFIGS, ids=LBFGS_IDS)
def test_lbfgs_matches_torch(kwargs, dtype, tol):
    steps = 3
    if dtype == np.float32:
        # curvature pairs amplify float32 rounding (the closures' sums round differently from
        # torch's) by about 10x per iteration: 8 iterations in all keep the gap under 1e-5
        kwargs = dict(kwargs, max_iter=4)
        steps = 2
    e_params, e_opt, e_closure, t_params, t_opt, t_closure = _lbfgs_pair(kwargs, dtype)
    for _ in range(steps):
        e_loss = e_opt.step(e_closure)
        t_loss = t_opt.step(t_closure)
        assert float(e_loss.item()) == pytest.approx(float(t_loss.item()), rel=tol, abs=tol)
        for e, t in zip(e_params, t_params):
            np.testing.assert_allclose(_np(e), _np(t), rtol=tol, atol=tol)
            assert e._data.dtype == dtype
    e_st, t_st = e_opt.state[e_params[0]], t_opt.state[t_params[0]]
    assert (e_st["func_evals"], e_st["n_iter"]) == (t_st["func_evals"], t_st["n_iter"])
    _lbfgs_state_matches(e_opt, t_opt, tol)


@requires_torch
@pytest.mark.parametrize("kwargs", LBFGS_CONFIGS[1::2], ids=LBFGS_IDS[1::2])
def test_lbfgs_state_dict_through_files_both_ways(kwargs, tmp_path):
    e_params, e_opt, e_closure, t_params, t_opt, t_closure = _lbfgs_pair(kwargs, np.float64)
    e_opt.step(e_closure)
    t_opt.step(t_closure)
    ember.save(e_opt.state_dict(), tmp_path / "ember.pt")
    torch.save(t_opt.state_dict(), tmp_path / "torch.pt")
    # swap: torch continues from ember's checkpoint, ember from torch's
    _, e2_opt, e2_closure, _, t2_opt, t2_closure = _lbfgs_pair(kwargs, np.float64)
    for p, q in zip(e2_opt._params, t_params):
        p._data[...] = _np(q)
    with torch.no_grad():
        for p, q in zip(t2_opt._params, e_params):
            p.copy_(torch.from_numpy(_np(q).copy()))
    t2_opt.load_state_dict(torch.load(tmp_path / "ember.pt"))
    e2_opt.load_state_dict(ember.load(tmp_path / "torch.pt"))
    _lbfgs_state_matches(e2_opt, t_opt, 1e-12)
    for _ in range(2):
        e_opt.step(e_closure)
        t2_opt.step(t2_closure)
        e2_opt.step(e2_closure)
        t_opt.step(t_closure)
    for a, b in zip(e_params, t2_opt._params):
        np.testing.assert_allclose(_np(a), _np(b), rtol=1e-8, atol=1e-8)
    for a, b in zip(e2_opt._params, t_params):
        np.testing.assert_allclose(_np(a), _np(b), rtol=1e-8, atol=1e-8)
    _lbfgs_state_matches(e_opt, t2_opt, 1e-8)


def test_lbfgs_minimizes_a_quadratic():
    w = ember.tensor(np.array([3.0, -2.0]), requires_grad=True)
    opt = optim.LBFGS([w], line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = ((w - ember.tensor(np.array([1.0, 0.5]))) ** 2).sum()
        loss.backward()
        return loss

    first = float(opt.step(closure).item())
    assert first == pytest.approx(4.0 + 6.25)
    np.testing.assert_allclose(w.detach().numpy(), [1.0, 0.5], atol=1e-6)
    assert opt.state[w]["func_evals"] > 1 and opt.state[w]["n_iter"] >= 1
    # at the optimum the first evaluation already meets tolerance_grad: nothing more happens
    evals = opt.state[w]["func_evals"]
    opt.step(closure)
    assert opt.state[w]["func_evals"] == evals + 1
    with ember.no_grad():
        w.copy_(ember.tensor(np.array([3.0, -2.0])))
    with pytest.raises(RuntimeError, match="only 'strong_wolfe' is supported"):
        optim.LBFGS([w], line_search_fn="armijo").step(closure)


# ---- sparse gradients (nn.Embedding(..., sparse=True)) ---------------------------------------------------------------
_RNG = np.random.default_rng(11)
_EMB = _RNG.standard_normal((20, 4)).astype(np.float32)
_LIN = _RNG.standard_normal((3, 4)).astype(np.float32)
_IDS = [_RNG.integers(0, 20, (5, 3)) for _ in range(6)]
_YS = [_RNG.integers(0, 3, 5) for _ in range(6)]


class _Both:
    """Two optimizers stepped as one (SparseAdam for the embedding, another for the dense layer)."""

    def __init__(self, *opts):
        self.opts = opts

    def zero_grad(self, set_to_none=True):
        for o in self.opts:
            o.zero_grad(set_to_none)

    def step(self, closure=None):
        for o in self.opts:
            o.step(closure)


def _model(M):
    emb, lin = M.nn.Embedding(20, 4, sparse=True), M.nn.Linear(4, 3)
    with M.no_grad():
        emb.weight.copy_(M.tensor(_EMB))
        lin.weight.copy_(M.tensor(_LIN))
        lin.bias.zero_()
    return emb, lin


def _train(M, emb, lin, opt, steps, first=0, set_to_none=True):
    for i in range(first, first + steps):
        def closure():
            opt.zero_grad(set_to_none)
            # (a mean over the sequence: the embedding's gradient is a strided view, so a second lookup's
            # gradient concatenates in torch's accumulation, and the momentum buffer grows as torch's)
            out = lin(emb(M.tensor(_IDS[i])).mean(1))
            loss = M.nn.functional.cross_entropy(out, M.tensor(_YS[i]))
            loss.backward()
            return loss
        opt.step(closure)


SPARSE_TRAINING = {
    "SGD": lambda M, e, l: M.optim.SGD([e.weight, *l.parameters()], lr=0.5),
    "SGD momentum": lambda M, e, l: M.optim.SGD([e.weight, *l.parameters()], lr=0.5, momentum=0.9),
    "SGD nesterov": lambda M, e, l: M.optim.SGD([e.weight, *l.parameters()], lr=0.5, momentum=0.9, nesterov=True),
    "SGD dampening maximize": lambda M, e, l: M.optim.SGD([e.weight, *l.parameters()], lr=0.5, momentum=0.9,
                                                          dampening=0.3, maximize=True),
    "SGD two groups": lambda M, e, l: M.optim.SGD([{"params": [e.weight], "momentum": 0.5},
                                                   {"params": l.parameters()}], lr=0.5, momentum=0.9),
    "Adagrad": lambda M, e, l: M.optim.Adagrad([e.weight, *l.parameters()], lr=0.5, lr_decay=0.1),
    "Adagrad maximize": lambda M, e, l: M.optim.Adagrad([e.weight, *l.parameters()], lr=0.5, maximize=True,
                                                        initial_accumulator_value=0.1),
    "SparseAdam + Adam": lambda M, e, l: _Both(M.optim.SparseAdam([e.weight], lr=0.1),
                                               M.optim.Adam(l.parameters(), lr=0.1)),
    "SparseAdam maximize": lambda M, e, l: _Both(M.optim.SparseAdam([e.weight], lr=0.1, betas=(0.8, 0.99),
                                                                    maximize=True),
                                                 M.optim.SGD(l.parameters(), lr=0.1)),
    "LBFGS": lambda M, e, l: M.optim.LBFGS([e.weight, *l.parameters()], lr=0.5, max_iter=3),
}


@pytest.mark.filterwarnings("ignore:Sparse invariant checks")   # (torch's Adagrad builds sparse tensors)
@requires_torch
@pytest.mark.parametrize("set_to_none", [True, False], ids=["set_to_none", "zeroed"])
@pytest.mark.parametrize("case", list(SPARSE_TRAINING))
def test_training_a_sparse_embedding_matches_torch(case, set_to_none):
    # an Embedding(sparse=True) + Linear trained 3 steps from the same weights: the parameters, and the state
    # (a sparse momentum buffer, its entries as torch stores them), as torch's
    got = {}
    for M in (torch, ember):
        emb, lin = _model(M)
        opt = SPARSE_TRAINING[case](M, emb, lin)
        _train(M, emb, lin, opt, 3, set_to_none=set_to_none)
        got[M] = emb, lin, opt
    (te, tl, topt), (ee, el, eopt) = got[torch], got[ember]
    for a, b in ((ee.weight, te.weight), (el.weight, tl.weight), (el.bias, tl.bias)):
        np.testing.assert_allclose(_np(a), b.detach().numpy(), rtol=1e-5, atol=1e-6)
    for eo, to in zip(getattr(eopt, "opts", [eopt]), getattr(topt, "opts", [topt])):
        es, ts = eo.state.get(ee.weight, {}), to.state.get(te.weight, {})
        assert list(es) == list(ts)
        for key, t in ts.items():
            e = es[key]
            if isinstance(t, torch.Tensor) and t.is_sparse:
                assert e.is_sparse and e.is_coalesced() == t.is_coalesced()
                assert e._indices().tolist() == t._indices().tolist()
                np.testing.assert_allclose(e._values().numpy(), t._values().numpy(), rtol=1e-5, atol=1e-6)
            elif isinstance(t, torch.Tensor):
                np.testing.assert_allclose(_np(e), t.numpy(), rtol=1e-5, atol=1e-6)
            elif isinstance(t, (int, float)) and key not in ("func_evals", "n_iter"):
                assert e == pytest.approx(t, rel=1e-5), key


@requires_torch
@pytest.mark.parametrize("name", ["Adam", "AdamW", "Adamax", "NAdam", "RAdam", "RMSprop", "Rprop", "ASGD",
                                  "Adadelta", "Adafactor"])
def test_optimizers_without_a_sparse_update_refuse_sparse_gradients_as_torch(name):
    msgs = []
    for M in (torch, ember):
        emb, lin = _model(M)
        opt = getattr(M.optim, name)([*lin.parameters(), emb.weight], lr=0.1)
        lin(emb(M.tensor(_IDS[0])).mean(1)).sum().backward()
        before = emb.weight.detach().numpy().copy(), lin.weight.detach().numpy().copy()
        with pytest.raises(RuntimeError) as info:
            opt.step()
        msgs.append(str(info.value))
        if M is ember:   # (nothing moved: the check comes before any update)
            assert (_np(emb.weight) == before[0]).all() and (_np(lin.weight) == before[1]).all()
    assert msgs[1] == msgs[0] and "does not support sparse gradients" in msgs[0]


@requires_torch
def test_sparse_gradient_refusals_match_torch():
    cases = [(lambda M, w: M.optim.SGD([w], lr=0.1, weight_decay=0.1), True,
              "add(sparse, dense) is not supported. Use add(dense, sparse) instead."),
             (lambda M, w: M.optim.Adagrad([w], lr=0.1, weight_decay=0.1), True,
              "weight_decay option is not compatible with sparse gradients"),
             (lambda M, w: M.optim.SparseAdam([w]), False,
              "SparseAdam does not support dense gradients, please consider Adam instead")]
    for make, sparse, msg in cases:
        for M in (torch, ember):
            w = M.nn.Parameter(M.tensor(_EMB))
            opt = make(M, w)
            if sparse:
                M.nn.functional.embedding(M.tensor([1, 2, 1]), w, sparse=True).sum().backward()
            else:
                (w * 2).sum().backward()
            with pytest.raises(RuntimeError) as info:
                opt.step()
            assert str(info.value).startswith(msg)


@requires_torch
def test_sparse_adam_construction_matches_torch():
    for M in (torch, ember):
        w = M.nn.Parameter(M.tensor(_EMB))
        assert len(M.optim.SparseAdam(p for p in [w]).param_groups[0]["params"]) == 1   # (a generator is fine)
        with pytest.raises(TypeError, match="optimizer can only optimize Tensors, but one of the params is str"):
            M.optim.SparseAdam({"params": [w]})
        with pytest.raises(ValueError, match=r"Complex params at indices \[\[0, 1\]\]: SparseAdam does not "
                                             "support complex parameters"):
            M.optim.SparseAdam([w, M.nn.Parameter(M.zeros(2, dtype=M.complex64))])
        assert repr(M.optim.SparseAdam([w], lr=0.01)).replace("ember", "torch") == \
            repr(torch.optim.SparseAdam([torch.nn.Parameter(torch.zeros(1))], lr=0.01))


@requires_torch
def test_zero_grad_of_a_sparse_grad_matches_torch():
    for M in (torch, ember):
        w = M.nn.Parameter(M.tensor(_EMB))
        opt = M.optim.SGD([w], lr=0.1)
        M.nn.functional.embedding(M.tensor([1, 2, 1]), w, sparse=True).sum().backward()
        g = w.grad
        opt.zero_grad(set_to_none=False)   # the same sparse tensor, its entries gone
        assert w.grad is g and g.is_sparse and g._nnz() == 0 and g.is_coalesced()
        assert tuple(g._values().shape) == (0, 4) and tuple(g._indices().shape) == (1, 0)
        M.nn.functional.embedding(M.tensor([3, 1]), w, sparse=True).sum().backward()
        assert w.grad is g and g._indices().tolist() == [[3, 1]] and not g.is_coalesced()
        opt.zero_grad()
        assert w.grad is None


def _sparse_adam_run(M):
    emb, lin = _model(M)
    return emb, lin, _Both(M.optim.SparseAdam([emb.weight], lr=0.1), M.optim.SGD(lin.parameters(), lr=0.1))


@requires_torch
@pytest.mark.parametrize("saver,loader", [(ember, torch), (torch, ember)], ids=["ember_to_torch", "torch_to_ember"])
def test_sparse_adam_state_dict_through_files_both_ways(saver, loader, tmp_path):
    # one side trains 3 steps and saves; the other loads into a fresh SparseAdam, and both continue 3 steps alike
    emb, lin, opt = _sparse_adam_run(saver)
    _train(saver, emb, lin, opt, 3)
    saver.save({"opt": opt.opts[0].state_dict(), "emb": emb.state_dict(), "lin": lin.state_dict()},
               tmp_path / "ckpt.pt")
    emb2, lin2, opt2 = _sparse_adam_run(loader)
    ckpt = loader.load(tmp_path / "ckpt.pt")
    emb2.load_state_dict(ckpt["emb"])
    lin2.load_state_dict(ckpt["lin"])
    opt2.opts[0].load_state_dict(ckpt["opt"])
    st = opt2.opts[0].state[emb2.weight]
    assert list(st) == ["step", "exp_avg", "exp_avg_sq"] and st["step"] == 3 and type(st["step"]) is int
    assert opt2.opts[0].param_groups[0]["betas"] == (0.9, 0.999)
    _train(saver, emb, lin, opt, 3, first=3)
    _train(loader, emb2, lin2, opt2, 3, first=3)
    np.testing.assert_allclose(emb2.weight.detach().numpy(), emb.weight.detach().numpy(), rtol=1e-5, atol=1e-6)
    sd, sd2 = opt.opts[0].state_dict(), opt2.opts[0].state_dict()
    assert sd["param_groups"][0].keys() == sd2["param_groups"][0].keys()
    np.testing.assert_allclose(sd2["state"][0]["exp_avg_sq"].numpy(), sd["state"][0]["exp_avg_sq"].numpy(),
                               rtol=1e-5, atol=1e-9)


@pytest.mark.filterwarnings("ignore:Sparse invariant checks")   # (torch's Adagrad builds sparse tensors)
@requires_torch
@pytest.mark.parametrize("make", [lambda M, ps: M.optim.SGD(ps, lr=0.1, momentum=0.9),
                                  lambda M, ps: M.optim.SGD(ps, lr=0.1, momentum=0.9, nesterov=True),
                                  lambda M, ps: M.optim.Adagrad(ps, lr=0.1)], ids=["SGD", "nesterov", "Adagrad"])
def test_steps_without_the_sparse_gradient_match_torch(make):
    # the embedding is looked up every other step: the dense parameters step alone in between (ember's flat
    # momentum buffers must leave the sparse buffer out), then the sparse buffer takes up again
    got = []
    for M in (torch, ember):
        emb, lin = _model(M)
        opt = make(M, [emb.weight, *lin.parameters()])
        for i in range(5):
            opt.zero_grad()
            x = emb(M.tensor(_IDS[i])).mean(1) if i % 2 == 0 else M.tensor(_EMB[:5])
            M.nn.functional.cross_entropy(lin(x), M.tensor(_YS[i])).backward()
            opt.step()
        got.append([p.detach().numpy().copy() for p in (emb.weight, lin.weight, lin.bias)])
    for e, t in zip(got[1], got[0]):
        np.testing.assert_allclose(e, t, rtol=1e-5, atol=1e-6)
