"""Optimizer state as views of flat arrays (SGD's momentum buffers, Adam's averages): the same numbers
as the per-parameter loop, and no visible aliasing."""
import contextlib
import copy
import pickle

import numpy as np
import pytest

import ember
from ember import optim
from ember.optim import optimizer
from tests.conftest import requires_torch, torch

SHAPES = [(4, 3), (4,), (2, 3, 2), ()]


def _params(seed=0, dtype=np.float32):
    rng = np.random.default_rng(seed)
    return [ember.tensor(rng.standard_normal(s).astype(dtype), requires_grad=True) for s in SHAPES]


def _feed(params, step, skip=()):
    rng = np.random.default_rng(100 + step)
    for i, p in enumerate(params):
        g = rng.standard_normal(p.shape).astype(p.detach().numpy().dtype)
        p.grad = None if i in skip else ember.tensor(g)


def _shared_base(opt, key="momentum_buffer"):
    """True when every parameter's state[key] views one flat array (the flat path is in use)."""
    bases = [st[key]._data.base for st in opt.state.values()]
    return all(b is not None for b in bases) and len({id(b) for b in bases}) == 1


def test_flat_path_gives_the_per_parameter_loop_bit_for_bit(monkeypatch):
    flat_params, loop_params = _params(), _params()
    flat_opt = optim.SGD(flat_params, lr=0.05, momentum=0.9)
    loop_opt = optim.SGD(loop_params, lr=0.05, momentum=0.9)
    sched = optim.lr_scheduler.StepLR(flat_opt, step_size=4, gamma=0.5)
    loop_sched = optim.lr_scheduler.StepLR(loop_opt, step_size=4, gamma=0.5)
    for step in range(12):
        skip = (1,) if step in (5, 6) else ()   # a missing gradient: that step takes the loop
        _feed(flat_params, step, skip)
        _feed(loop_params, step, skip)
        flat_opt.step()
        with monkeypatch.context() as m:
            m.setattr(optimizer.FlatState, "make", classmethod(lambda cls, params, state, keys: None))
            loop_opt.step()
        sched.step()
        loop_sched.step()
        for a, b in zip(flat_params, loop_params):
            assert np.array_equal(a.detach().numpy(), b.detach().numpy()), step
    assert _shared_base(flat_opt)   # the flat path was in use
    assert not _shared_base(loop_opt)
    for a, b in zip(flat_params, loop_params):
        assert np.array_equal(flat_opt.state[a]["momentum_buffer"].numpy(),
                              loop_opt.state[b]["momentum_buffer"].numpy())
        assert a._version == b._version


def test_held_buffer_tensors_keep_seeing_updates():
    params = _params()
    opt = optim.SGD(params, lr=0.1, momentum=0.5)
    _feed(params, 0)
    opt.step()
    held = [opt.state[p]["momentum_buffer"] for p in params]
    before = [h.numpy().copy() for h in held]
    for step in (1, 2):
        _feed(params, step)
        opt.step()
    assert _shared_base(opt)
    for p, h, b in zip(params, held, before):
        assert h is opt.state[p]["momentum_buffer"]
        assert not np.array_equal(h.numpy(), b)


def test_buffers_a_numpy_array_views_stay_where_they_are():
    params = _params()
    opt = optim.SGD(params, lr=0.1, momentum=0.5)
    _feed(params, 0)
    opt.step()
    opt.load_state_dict(copy.deepcopy(opt.state_dict()))   # fresh buffer tensors
    viewed = opt.state[params[0]]["momentum_buffer"].numpy()
    for step in (1, 2, 3):
        _feed(params, step)
        opt.step()
        # moving the buffer into a flat array would have left `viewed` behind
        assert np.shares_memory(viewed, opt.state[params[0]]["momentum_buffer"].numpy())
    assert not _shared_base(opt)
    del viewed
    _feed(params, 4)
    opt.step()
    assert not _shared_base(opt)   # a failed attempt waits for the state to change
    opt.load_state_dict(copy.deepcopy(opt.state_dict()))
    _feed(params, 5)
    opt.step()
    assert _shared_base(opt)


def test_copies_of_the_optimizer_update_their_own_buffers():
    params = _params()
    opt = optim.SGD(params, lr=0.1, momentum=0.9)
    for step in range(2):
        _feed(params, step)
        opt.step()
    for clone in (copy.deepcopy(opt), pickle.loads(pickle.dumps(opt))):
        clone_params = clone.param_groups[0]["params"]
        mine = {i: opt.state[p]["momentum_buffer"].numpy().copy() for i, p in enumerate(params)}
        for step in (2, 3):
            _feed(clone_params, step)
            clone.step()
            for i, p in enumerate(clone_params):
                assert not np.array_equal(clone.state[p]["momentum_buffer"].numpy(), mine[i])
                # the clone's buffers are its own: the original's did not move
                assert np.array_equal(opt.state[params[i]]["momentum_buffer"].numpy(), mine[i])
        assert _shared_base(clone)


def _lockstep_with_torch(name, seed, steps, **kwargs):
    """ember's and torch's optimizer `name` fed the same float64 gradients for `steps` steps."""
    values = [np.random.default_rng(seed).standard_normal(s) for s in SHAPES]
    e_params = [ember.tensor(v.copy(), requires_grad=True) for v in values]
    t_params = [torch.tensor(v.copy(), requires_grad=True) for v in values]
    e_opt = getattr(optim, name)(e_params, **kwargs)
    t_opt = getattr(torch.optim, name)(t_params, foreach=False, **kwargs)
    for step in range(steps):
        _feed(e_params, step)
        for ep, tp in zip(e_params, t_params):
            tp.grad = torch.from_numpy(ep.grad.numpy().copy())
        e_opt.step()
        t_opt.step()
    return e_params, t_params, e_opt, t_opt


@requires_torch
def test_checkpoint_with_flat_buffers_loads_into_torch(tmp_path):
    e_params, t_params, e_opt, t_opt = _lockstep_with_torch("SGD", 7, 3, lr=0.05, momentum=0.9)
    assert _shared_base(e_opt)
    path = tmp_path / "opt.pt"
    ember.save(e_opt.state_dict(), path)
    loaded = torch.load(path)
    for k, st in t_opt.state_dict()["state"].items():
        np.testing.assert_allclose(loaded["state"][k]["momentum_buffer"].numpy(),
                                   st["momentum_buffer"].numpy(), rtol=1e-12)
    fresh = [torch.tensor(p.detach().numpy().copy(), requires_grad=True) for p in e_params]
    resumed = torch.optim.SGD(fresh, lr=0.05, momentum=0.9)
    resumed.load_state_dict(loaded)
    for p, tp in zip(fresh, t_params):
        p.grad = torch.ones_like(p)
        tp.grad = torch.ones_like(tp)
    resumed.step()
    t_opt.step()
    for p, tp in zip(fresh, t_params):
        np.testing.assert_allclose(p.detach().numpy(), tp.detach().numpy(), rtol=1e-12)


def _no_plan(cls, params, state, keys):
    return None


@pytest.mark.parametrize("case", ["one parameter", "mixed dtypes", "duplicate"])
def test_groups_that_cannot_share_an_array_take_the_loop(case, monkeypatch):
    def make():
        params = _params()
        if case == "one parameter":
            return params[:1]
        if case == "mixed dtypes":
            params[1] = ember.tensor(np.ones(4), requires_grad=True)
        if case == "duplicate":
            params.insert(1, params[0])
        return params

    runs = []
    for patched in (False, True):
        params = make()
        with pytest.warns(UserWarning) if case == "duplicate" else contextlib.nullcontext():
            opt = optim.SGD(params, lr=0.1, momentum=0.9)
        with monkeypatch.context() as m:
            if patched:
                m.setattr(optimizer.FlatState, "make", classmethod(_no_plan))
            for step in range(3):
                _feed(params, step)
                opt.step()
        assert not _shared_base(opt)
        runs.append([p.detach().numpy().copy() for p in params])
    for a, b in zip(*runs):
        assert np.array_equal(a, b)



@pytest.mark.parametrize("name,kwargs", [("Adam", {}), ("AdamW", {}), ("Adam", {"weight_decay": 0.1}),
                                         ("Adam", {"amsgrad": True}), ("AdamW", {"maximize": True})])
@pytest.mark.parametrize("chunk", [None, 4])
def test_adam_flat_path_gives_the_per_parameter_loop_bit_for_bit(name, kwargs, chunk, monkeypatch):
    # chunk: the flat update runs over chunks of the arrays (large groups), here of 4 elements
    if chunk is not None:
        from ember.optim import adam
        monkeypatch.setattr(adam, "_ADAM_CHUNK", chunk)
    flat_params, loop_params = _params(3), _params(3)
    flat_opt = getattr(optim, name)(flat_params, lr=0.01, **kwargs)
    loop_opt = getattr(optim, name)(loop_params, lr=0.01, **kwargs)
    sched = optim.lr_scheduler.StepLR(flat_opt, step_size=3, gamma=0.5)
    loop_sched = optim.lr_scheduler.StepLR(loop_opt, step_size=3, gamma=0.5)
    for step in range(10):
        _feed(flat_params, step)
        _feed(loop_params, step)
        flat_opt.step()
        with monkeypatch.context() as m:
            m.setattr(optimizer.FlatState, "make", classmethod(_no_plan))
            loop_opt.step()
        sched.step()
        loop_sched.step()
        for a, b in zip(flat_params, loop_params):
            assert np.array_equal(a.detach().numpy(), b.detach().numpy()), step
    # only the configurations the flat path takes (no amsgrad, maximize or coupled decay) share arrays
    flat = not (kwargs.get("amsgrad") or kwargs.get("maximize") or (name == "Adam" and "weight_decay" in kwargs))
    assert _shared_base(flat_opt, "exp_avg") == flat and _shared_base(flat_opt, "exp_avg_sq") == flat
    for a, b in zip(flat_params, loop_params):
        for key in ("exp_avg", "exp_avg_sq", "step"):
            assert np.array_equal(flat_opt.state[a][key].numpy(), loop_opt.state[b][key].numpy())
        assert a._version == b._version


def test_adam_parameters_at_different_steps_take_the_loop(monkeypatch):
    runs = []
    for patched in (False, True):
        params = _params(4)
        opt = optim.Adam(params, lr=0.01)
        with monkeypatch.context() as m:
            if patched:
                m.setattr(optimizer.FlatState, "make", classmethod(_no_plan))
            for step in range(5):
                _feed(params, step, skip=(1,) if step == 2 else ())   # parameter 1 misses a step
                opt.step()
        counts = [float(opt.state[p]["step"]) for p in params]
        assert counts == [5.0, 4.0, 5.0, 5.0]   # each bias correction uses its own count, as torch's
        runs.append([p.detach().numpy().copy() for p in params])
    for a, b in zip(*runs):
        assert np.array_equal(a, b)


@requires_torch
def test_adam_flat_path_matches_torch():
    e_params, t_params, e_opt, t_opt = _lockstep_with_torch("AdamW", 9, 6, lr=0.01)
    assert _shared_base(e_opt, "exp_avg")
    for ep, tp in zip(e_params, t_params):
        np.testing.assert_allclose(ep.detach().numpy(), tp.detach().numpy(), rtol=1e-12, atol=1e-14)


def test_a_replaced_second_average_is_used_not_the_old_view():
    params = _params(5)
    opt = optim.Adam(params, lr=0.01)
    for step in range(2):
        _feed(params, step)
        opt.step()
    assert _shared_base(opt, "exp_avg_sq")
    p = params[2]
    fresh = ember.zeros_like(opt.state[p]["exp_avg_sq"]) + 0.5   # replaced by the user
    opt.state[p]["exp_avg_sq"] = fresh
    _feed(params, 2)
    opt.step()
    assert opt.state[p]["exp_avg_sq"] is fresh and not np.allclose(fresh.numpy(), 0.5)


def _dead_unit_gradients(step, shape, dead, rng):
    """float32 gradients where the `dead` entries (of the flattened first parameter) get a few
    subnormal units at step 0, signed zeros after, and one entry a normal value at step 60."""
    g = rng.standard_normal(shape).astype(np.float32)
    flat = g.reshape(-1)
    if step == 0:
        units = rng.integers(5, 300, dead.size).astype(np.int32).view(np.float32)
        flat[dead] = units * rng.choice(np.float32([-1, 1]), dead.size)   # +-5..300 units of the last place
    else:
        flat[dead] = np.where(np.arange(dead.size) % 7 == 0, -0.0, 0.0).astype(np.float32)
        if step == 60 and dead.size:
            flat[dead[3]] = 1e-3
    return g


_DEAD = np.arange(100, 1600)   # (runs long enough for Adam's masked passes)


def _drive_dead_units(make, key, monkeypatch, check):
    """Optimizers made by make(module, params, kwargs) for ember's flat path, its per-parameter loop and torch,
    fed _dead_unit_gradients for 100 steps, with check(step, runs, opts) after each. Around the
    stuck entries: a user's write into one through a NumPy view (step 40), -0.0 weights where state[key]
    is negative (50), a revived gradient (60), and lr 1.0 (70), so large that lr * state no longer
    rounds to 0. Returns, per step, whether the flat plan's census was in use."""
    shapes = [(40, 50), (30,)]
    start = [np.random.default_rng(1).standard_normal(s).astype(np.float32) for s in shapes]
    runs = {"flat": [ember.tensor(v.copy(), requires_grad=True) for v in start],
            "loop": [ember.tensor(v.copy(), requires_grad=True) for v in start]}
    if torch is not None:
        runs["torch"] = [torch.tensor(v.copy(), requires_grad=True) for v in start]
    opts = {k: make(torch.optim, p, {"foreach": False}) if k == "torch" else make(optim, p, {})
            for k, p in runs.items()}
    as_numpy = lambda t: t.detach().numpy()   # noqa: E731
    active = []
    for step in range(100):
        grads = [_dead_unit_gradients(step, s, _DEAD if i == 0 else np.arange(0), np.random.default_rng(step * 2 + i))
                 for i, s in enumerate(shapes)]
        for name, params in runs.items():
            opt = opts[name]
            state = as_numpy(opt.state[params[0]][key]).reshape(-1) if step in (40, 50) else None
            if step == 40:
                state[_DEAD[5]] = 1e-3
            if step == 50:
                as_numpy(params[0]).reshape(-1)[_DEAD[state[_DEAD] < 0]] = -0.0
            if step == 70:
                opt.param_groups[0]["lr"] = 1.0
            for p, g in zip(params, grads):
                p.grad = torch.from_numpy(g.copy()) if name == "torch" else ember.tensor(g.copy())
            with monkeypatch.context() as m:
                if name == "loop":
                    m.setattr(optimizer.FlatState, "make", classmethod(_no_plan))
                opt.step()
        active.append(next(iter(opts["flat"]._flat_plans.values())).stuck is not None)
        check(step, runs, opts)
    assert _shared_base(opts["flat"], key)
    # the census found the fixed points, and each event above met them in use
    assert all(active[s - 1] for s in (40, 50, 60, 70)) and sum(active) > 40
    final = as_numpy(opts["flat"].state[runs["flat"][0]][key]).reshape(-1)[_DEAD]
    return final


def _bits(t):
    return t.detach().numpy().view(np.int32)


def test_momentum_subnormal_fixed_points_keep_the_loops_and_torchs_bits(monkeypatch):
    # dead units' momentum decays to the few subnormal units that momentum * buf rounds back to;
    # the flat step skips them in its multiplies (sgd._census)
    from ember.optim import sgd
    monkeypatch.setattr(sgd, "_CENSUS_EVERY", 5)
    monkeypatch.setattr(sgd, "_STUCK_MIN", 64)

    def check(step, runs, opts):
        for name in ("loop", "torch"):
            for i, (a, b) in enumerate(zip(runs["flat"], runs.get(name, ()))):
                buf = "momentum_buffer"
                assert np.array_equal(_bits(opts["flat"].state[a][buf]), _bits(opts[name].state[b][buf])), (name, step)
                if name == "loop":
                    assert np.array_equal(_bits(a), _bits(b)), step
                else:
                    # torch fuses param - lr * buf into one rounding, ember rounds twice (README)
                    np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-5, atol=1e-6)
                    if i == 0:
                        assert np.array_equal(_bits(a).reshape(-1)[_DEAD], _bits(b).reshape(-1)[_DEAD]), step
    final = _drive_dead_units(lambda m, p, kw: m.SGD(p, lr=0.01, momentum=0.9, **kw), "momentum_buffer",
                              monkeypatch, check)
    assert np.isin(final.view(np.int32) & 0x7FFFFFFF, [1, 2, 3, 4]).mean() > 0.99 and (final < 0).mean() > 0.4


@pytest.mark.parametrize("name", ["Adam", "AdamW"])
def test_adam_subnormal_fixed_points_keep_the_loops_bits(name, monkeypatch):
    # exp_avg of dead units decays to the few subnormal units the lerp keeps; the flat step leaves
    # them out of its multiplies (adam._adam_census)
    from ember.optim import adam
    monkeypatch.setattr(adam, "_CENSUS_EVERY", 5)
    monkeypatch.setattr(adam, "_STUCK_MIN", 64)

    def check(step, runs, opts):
        for a, b in zip(runs["flat"], runs["loop"]):
            assert np.array_equal(_bits(a), _bits(b)), step
            for key in ("exp_avg", "exp_avg_sq"):
                assert np.array_equal(_bits(opts["flat"].state[a][key]), _bits(opts["loop"].state[b][key])), (key, step)
        for a, b in zip(runs["flat"], runs.get("torch", ())):
            np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-5, atol=1e-6)
    kw = {"lr": 0.01, "weight_decay": 0.01} if name == "AdamW" else {"lr": 0.01}
    final = _drive_dead_units(lambda m, p, extra: getattr(m, name)(p, **kw, **extra), "exp_avg", monkeypatch, check)
    assert np.isin(final.view(np.int32) & 0x7FFFFFFF, [1, 2, 3, 4, 5]).mean() > 0.99 and (final < 0).mean() > 0.4
