"""Optimizers in lockstep with real torch: updates, state, state_dict exchange, closure, zero_grad."""
import copy
import pickle

import numpy as np
import pytest

import ember
from ember import optim
from tests.conftest import requires_torch, torch

SHAPES = [(3, 4), (5,), ()]  # a 0-d parameter too: in-place updates must keep it an array
# alpha=0.45 in RMSprop exercises lerp's weight >= 0.5 branch; smaller alphas with centered=True
# amplify float32 rounding (torch fuses multiply-adds, NumPy cannot) past the float32 tolerance.

CONFIGS = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.05, momentum=0.9)),
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True)),
    ("SGD", dict(lr=0.05, momentum=0.8, dampening=0.3, weight_decay=0.01)),
    ("SGD", dict(lr=0.05, weight_decay=0.1, maximize=True)),
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.05, maximize=True)),
    ("Adam", dict()),
    ("Adam", dict(lr=0.01, amsgrad=True)),
    ("Adam", dict(lr=0.01, weight_decay=0.1)),
    ("Adam", dict(lr=0.02, betas=(0.4, 0.9), eps=1e-6, amsgrad=True, maximize=True, weight_decay=0.05)),
    ("AdamW", dict()),
    ("AdamW", dict(lr=0.01, weight_decay=0.1, amsgrad=True)),
    ("AdamW", dict(lr=0.01, maximize=True)),
    ("RMSprop", dict()),
    ("RMSprop", dict(lr=0.01, momentum=0.9)),
    ("RMSprop", dict(lr=0.01, centered=True)),
    ("RMSprop", dict(lr=0.01, alpha=0.45, centered=True, momentum=0.5, weight_decay=0.1, maximize=True)),
    ("Adagrad", dict()),
    ("Adagrad", dict(lr=0.1, lr_decay=0.1)),
    ("Adagrad", dict(lr=0.1, weight_decay=0.1, initial_accumulator_value=0.5)),
    ("Adagrad", dict(lr=0.1, eps=1e-3, maximize=True)),
]
IDS = [f"{name}-{'-'.join(f'{k}={v}' for k, v in kw.items()) or 'default'}" for name, kw in CONFIGS]


def _init_values(dtype, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(s).astype(dtype) for s in SHAPES]


def _grad(values, step, i, rng):
    """A quadratic-plus-noise gradient fed back from the current values (stays well scaled)."""
    return np.asarray(values * (0.5 + i) + 0.3 * rng.standard_normal(values.shape), dtype=values.dtype)


def _to_torch(obj):
    """ember Tensors inside a (nested) state dict -> torch tensors."""
    if isinstance(obj, ember.Tensor):
        return torch.from_numpy(np.array(obj.numpy()))
    if isinstance(obj, dict):
        return {k: _to_torch(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_to_torch(v) for v in obj]
    return obj


def _run_lockstep(e_opt, e_params, t_opt, t_params, steps, rng, skip=None):
    """Feed identical gradients to both optimizers; return the max param difference."""
    worst = 0.0
    for step in range(steps):
        for i, (ep, tp) in enumerate(zip(e_params, t_params)):
            if skip is not None and skip(step, i):
                ep.grad = None
                tp.grad = None
                continue
            g = _grad(tp.detach().numpy(), step, i, rng)
            ep.grad = ember.tensor(g)
            tp.grad = torch.from_numpy(g.copy())
        e_opt.step()
        t_opt.step()
        for ep, tp in zip(e_params, t_params):
            # relative to the value once it exceeds 1 (maximize=True makes the values grow)
            e, t = ep.detach().numpy().astype(np.float64), tp.detach().numpy().astype(np.float64)
            worst = max(worst, float(np.max(np.abs(e - t) / np.maximum(1.0, np.abs(t)))))
    return worst


@requires_torch
@pytest.mark.parametrize("dtype,tol", [(np.float64, 1e-6), (np.float32, 1e-5)], ids=["f64", "f32"])
@pytest.mark.parametrize("name,kwargs", CONFIGS, ids=IDS)
def test_matches_torch_in_lockstep(name, kwargs, dtype, tol):
    values = _init_values(dtype)
    e_params = [ember.tensor(v.copy(), requires_grad=True) for v in values]
    t_params = [torch.tensor(v.copy(), requires_grad=True) for v in values]
    e_opt = getattr(optim, name)(e_params, foreach=False, **kwargs)
    t_opt = getattr(torch.optim, name)(t_params, foreach=False, **kwargs)
    versions = [p._version for p in e_params]
    # param 1 gets no gradient on odd steps: it must be skipped, as torch skips it
    worst = _run_lockstep(e_opt, e_params, t_opt, t_params, 20, np.random.default_rng(1),
                          skip=lambda step, i: i == 1 and step % 2 == 1)
    assert worst < tol, f"{name}{kwargs}: max |ember - torch| = {worst}"
    for p, v0 in zip(e_params, versions):
        assert p._version > v0  # in-place updates bump the version counter
        assert p.dtype == ember.float32 if dtype == np.float32 else p.dtype == ember.float64
        assert p.shape == ember.Size(p.detach().numpy().shape)
    for st in e_opt.state.values():
        for key, val in st.items():
            if key != "step":
                assert val.dtype == (ember.float32 if dtype == np.float32 else ember.float64), key
    # same state keys, same step counts and buffers as torch
    e_sd, t_sd = e_opt.state_dict(), t_opt.state_dict()
    assert e_sd["param_groups"] == [{k: v for k, v in g.items()} for g in t_sd["param_groups"]]
    assert list(e_sd["state"]) == list(t_sd["state"])
    for k, st in e_sd["state"].items():
        assert list(st) == list(t_sd["state"][k])
        for key, val in st.items():
            np.testing.assert_allclose(val.numpy(), t_sd["state"][k][key].numpy(), rtol=1e-4, atol=tol)
            if key == "step":
                assert val.dtype == ember.float32 and val.dim() == 0


@requires_torch
@pytest.mark.parametrize("name,kwargs", CONFIGS[1::2], ids=IDS[1::2])
def test_state_dict_loads_into_torch_and_back(name, kwargs):
    values = _init_values(np.float64, seed=2)
    rng = np.random.default_rng(3)
    e_params = [ember.tensor(v.copy(), requires_grad=True) for v in values]
    t_params = [torch.tensor(v.copy(), requires_grad=True) for v in values]
    e_opt = getattr(optim, name)(e_params, foreach=False, **kwargs)
    t_opt = getattr(torch.optim, name)(t_params, foreach=False, **kwargs)
    _run_lockstep(e_opt, e_params, t_opt, t_params, 5, rng)

    # real torch accepts ember's state_dict (tensors converted) and continues identically
    sd = e_opt.state_dict()
    t2_params = [torch.tensor(p.detach().numpy().copy(), requires_grad=True) for p in e_params]
    t2_opt = getattr(torch.optim, name)(t2_params, foreach=False, **kwargs)
    t2_opt.load_state_dict(_to_torch(copy.deepcopy(sd)))
    # ember round trip: a fresh optimizer loads the state and continues identically
    e2_params = [ember.tensor(p.detach().numpy().copy(), requires_grad=True) for p in e_params]
    e2_opt = getattr(optim, name)(e2_params, foreach=False, **kwargs)
    e2_opt.load_state_dict(copy.deepcopy(sd))
    assert e2_opt.state_dict()["param_groups"] == sd["param_groups"]

    worst_t = _run_lockstep(e_opt, e_params, t2_opt, t2_params, 5, np.random.default_rng(4))
    worst_e = 0.0
    rng2 = np.random.default_rng(4)
    for _ in range(5):
        for i, (p, q) in enumerate(zip(e2_params, t2_params)):
            p.grad = ember.tensor(_grad(p.detach().numpy(), 0, i, rng2))
        e2_opt.step()
    for p, q in zip(e2_params, e_params):
        worst_e = max(worst_e, float(np.max(np.abs(p.detach().numpy() - q.detach().numpy()))))
    assert worst_t < 1e-9
    assert worst_e < 1e-12


def test_load_state_dict_casts_state_to_param_dtype():
    p64 = ember.tensor(np.ones(3), requires_grad=True)
    opt64 = optim.Adam([p64], lr=0.1)
    p64.grad = ember.tensor(np.full(3, 0.5))
    opt64.step()
    p32 = ember.tensor(np.ones(3, dtype=np.float32), requires_grad=True)
    opt32 = optim.Adam([p32], lr=0.1)
    opt32.load_state_dict(opt64.state_dict())
    st = opt32.state[p32]
    assert st["exp_avg"].dtype == ember.float32 and st["exp_avg_sq"].dtype == ember.float32
    assert float(st["step"].item()) == 1.0
    p32.grad = ember.tensor(np.full(3, 0.5, dtype=np.float32))
    opt32.step()
    assert p32.dtype == ember.float32 and float(st["step"].item()) == 2.0


def test_state_dict_layout_and_integer_ids():
    a, b, c = (ember.tensor(np.ones(2), requires_grad=True) for _ in range(3))
    opt = optim.SGD([{"params": [a, b]}, {"params": [c], "lr": 0.5}], lr=0.1, momentum=0.9)
    for p in (a, c):
        p.grad = ember.tensor(np.ones(2))
    opt.step()
    sd = opt.state_dict()
    assert [g["params"] for g in sd["param_groups"]] == [[0, 1], [2]]
    assert sorted(sd["state"]) == [0, 2]  # b had no gradient: no state
    assert list(sd["state"][0]) == ["momentum_buffer"]
    assert sd["param_groups"][1]["lr"] == 0.5 and sd["param_groups"][0]["lr"] == 0.1
    assert list(sd["param_groups"][0])[-1] == "params"


def test_load_state_dict_errors_leave_optimizer_unchanged():
    a, b = (ember.tensor(np.ones(2), requires_grad=True) for _ in range(2))
    opt = optim.SGD([a], lr=0.1)
    other = optim.SGD([a, b], lr=0.2)
    with pytest.raises(ValueError, match="different number of parameter groups"):
        opt.load_state_dict({"state": {}, "param_groups": []})
    with pytest.raises(ValueError, match="doesn't match the size of optimizer's group"):
        opt.load_state_dict(other.state_dict())
    assert opt.param_groups[0]["lr"] == 0.1 and opt.param_groups[0]["params"][0] is a


def test_parameter_without_grad_is_skipped():
    a = ember.tensor(np.ones(2), requires_grad=True)
    for cls in (optim.SGD, optim.Adam, optim.AdamW, optim.RMSprop):
        opt = cls([a], lr=0.1)
        v = a._version
        opt.step()
        assert a._version == v and np.all(a.detach().numpy() == 1)
        assert len(opt.state) == 0


def test_closure_runs_with_grad_enabled_and_returns_loss():
    w = ember.tensor(np.array([3.0]), requires_grad=True)
    opt = optim.SGD([w], lr=0.25)
    calls = []

    def closure():
        opt.zero_grad()
        calls.append(ember.is_grad_enabled())
        loss = w * w  # d/dw = 2w
        loss.backward(ember.ones_like(loss))
        return loss

    with ember.no_grad():
        loss = opt.step(closure)
    assert calls == [True]
    assert float(loss.item()) == 9.0
    assert np.allclose(w.detach().numpy(), [3.0 - 0.25 * 6.0])
    for cls in (optim.Adam, optim.AdamW, optim.RMSprop, optim.Adagrad):
        assert cls([w]).step(lambda: 42) == 42


def test_zero_grad():
    a = ember.tensor(np.ones(2), requires_grad=True)
    opt = optim.SGD([a])
    a.grad = ember.tensor(np.ones(2))
    data = a.grad._data
    opt.zero_grad(set_to_none=False)
    assert a.grad._data is data and np.all(data == 0)
    opt.zero_grad()
    assert a.grad is None


def test_float32_stays_float32_in_state():
    p = ember.tensor(np.ones((2, 2), dtype=np.float32), requires_grad=True)
    for cls, kw in ((optim.SGD, dict(momentum=0.9, nesterov=True, weight_decay=0.1)), (optim.Adam, {}),
                    (optim.RMSprop, dict(centered=True, momentum=0.5)), (optim.Adagrad, {})):
        opt = cls([p], **kw)
        for _ in range(2):
            p.grad = ember.tensor(np.full((2, 2), 0.5, dtype=np.float32))
            opt.step()
        assert p._data.dtype == np.float32
        for key, v in opt.state[p].items():
            assert v._data.dtype == np.float32, (cls.__name__, key)


def test_sgd_update_by_hand():
    p = ember.tensor(np.array([1.0, 2.0]), requires_grad=True)
    opt = optim.SGD([p], lr=0.1, momentum=0.5)
    p.grad = ember.tensor(np.array([1.0, -1.0]))
    opt.step()  # buf = g; p -= 0.1 * g
    p.grad = ember.tensor(np.array([1.0, -1.0]))
    opt.step()  # buf = 0.5 * g + g = 1.5 g
    np.testing.assert_allclose(p.detach().numpy(), [1.0 - 0.1 - 0.15, 2.0 + 0.1 + 0.15])
    np.testing.assert_allclose(opt.state[p]["momentum_buffer"].numpy(), [1.5, -1.5])


def test_pickle_and_deepcopy_keep_state():
    p = ember.tensor(np.ones(2), requires_grad=True)
    opt = optim.Adam([p], lr=0.1)
    p.grad = ember.tensor(np.ones(2))
    opt.step()
    clone = pickle.loads(pickle.dumps(opt))
    assert clone.param_groups[0]["lr"] == 0.1 and len(clone.state) == 1
    dup = copy.deepcopy(opt)
    assert float(list(dup.state.values())[0]["step"].item()) == 1.0


def test_adagrad_state_exists_before_first_step():
    p = ember.tensor(np.ones(3), requires_grad=True)
    opt = optim.Adagrad([p], initial_accumulator_value=0.25)
    st = opt.state_dict()["state"][0]
    assert list(st) == ["step", "sum"]
    assert float(st["step"].item()) == 0.0 and np.all(st["sum"].numpy() == 0.25)


@requires_torch
def test_numpy_float64_hyperparameters_keep_float32_math():
    # np.float64 scalars would promote float32 arithmetic under NumPy 2; results must still match torch
    v = np.linspace(-1, 1, 6, dtype=np.float32)
    e = ember.tensor(v.copy(), requires_grad=True)
    t = torch.tensor(v.copy(), requires_grad=True)
    kw = dict(lr=np.float64(0.1), momentum=np.float64(0.9), nesterov=True)
    e_opt, t_opt = optim.SGD([e], **kw), torch.optim.SGD([t], **kw)
    for _ in range(3):
        g = (v * 0.5).astype(np.float32)
        e.grad, t.grad = ember.tensor(g), torch.from_numpy(g.copy())
        e_opt.step()
        t_opt.step()
    assert e._data.dtype == np.float32 and e_opt.state[e]["momentum_buffer"]._data.dtype == np.float32
    np.testing.assert_allclose(e.detach().numpy(), t.detach().numpy(), rtol=0, atol=1e-6)
