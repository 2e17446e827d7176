"""Learning-rate schedulers: lr (and momentum) sequences equal torch's, state dicts, warnings."""
import math
import warnings

import numpy as np
import pytest

import ember
from ember import optim
from ember.optim import lr_scheduler as S
from tests.conftest import requires_torch, torch


def _opt(lib, cls="SGD", **kw):
    groups = [{"params": [lib.tensor([1.0, 2.0], requires_grad=True)]},
              {"params": [lib.tensor([3.0], requires_grad=True)], "lr": 0.05}]
    kw.setdefault("lr", 0.1)
    if cls == "SGD":
        kw.setdefault("momentum", 0.9)
    return getattr(lib.optim, cls)(groups, **kw)


SCHEDULERS = {
    "StepLR": ("SGD", lambda m, o: m.StepLR(o, step_size=3, gamma=0.5)),
    "MultiStepLR": ("SGD", lambda m, o: m.MultiStepLR(o, milestones=[2, 5, 5, 9], gamma=0.3)),
    "ExponentialLR": ("SGD", lambda m, o: m.ExponentialLR(o, gamma=0.93)),
    "CosineAnnealingLR": ("SGD", lambda m, o: m.CosineAnnealingLR(o, T_max=7, eta_min=0.001)),
    "LambdaLR": ("SGD", lambda m, o: m.LambdaLR(o, lr_lambda=lambda e: 0.95 ** e + 0.01 * e)),
    "LambdaLR_list": ("SGD", lambda m, o: m.LambdaLR(o, lr_lambda=[lambda e: 1 / (e + 1), lambda e: 0.9 ** e])),
    "MultiplicativeLR": ("SGD", lambda m, o: m.MultiplicativeLR(o, lr_lambda=lambda e: 0.97)),
    "LinearLR": ("SGD", lambda m, o: m.LinearLR(o, start_factor=0.25, end_factor=0.9, total_iters=6)),
    "ConstantLR": ("SGD", lambda m, o: m.ConstantLR(o, factor=0.4, total_iters=4)),
    "PolynomialLR": ("SGD", lambda m, o: m.PolynomialLR(o, total_iters=8, power=2.0)),
    "OneCycleLR": ("SGD", lambda m, o: m.OneCycleLR(o, max_lr=[0.5, 0.2], total_steps=25)),
    "OneCycleLR_adam_linear_3phase": ("Adam", lambda m, o: m.OneCycleLR(
        o, max_lr=0.3, epochs=5, steps_per_epoch=5, anneal_strategy="linear", three_phase=True)),
    "CyclicLR": ("SGD", lambda m, o: m.CyclicLR(o, base_lr=0.01, max_lr=0.1, step_size_up=4, mode="triangular2")),
    "CyclicLR_exp": ("Adam", lambda m, o: m.CyclicLR(o, base_lr=[0.01, 0.02], max_lr=0.2, step_size_up=3,
                                                     step_size_down=5, mode="exp_range", gamma=0.9)),
    "CosineAnnealingWarmRestarts": ("SGD", lambda m, o: m.CosineAnnealingWarmRestarts(o, T_0=3, T_mult=2,
                                                                                       eta_min=0.002)),
    "SequentialLR": ("SGD", lambda m, o: m.SequentialLR(
        o, [m.LinearLR(o, start_factor=0.1, total_iters=4), m.ExponentialLR(o, gamma=0.9)], milestones=[5])),
    "ChainedScheduler": ("SGD", lambda m, o: m.ChainedScheduler(
        [m.ExponentialLR(o, gamma=0.9), m.StepLR(o, step_size=4, gamma=0.5)])),
}


def _trace(lib, name, steps=24):
    cls, make = SCHEDULERS[name]
    opt = _opt(lib, cls)
    sched = make(lib.optim.lr_scheduler, opt)
    rows = [(list(sched.get_last_lr()), [g["lr"] for g in opt.param_groups],
             [g.get("momentum", g.get("betas")) for g in opt.param_groups])]
    for _ in range(steps):
        opt.step()
        sched.step()
        rows.append((list(sched.get_last_lr()), [g["lr"] for g in opt.param_groups],
                     [g.get("momentum", g.get("betas")) for g in opt.param_groups]))
    return rows, sched


@requires_torch
@pytest.mark.parametrize("name", sorted(SCHEDULERS))
def test_lr_sequence_equals_torch(name):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # stepping in the right order must not warn
        e_rows, _ = _trace(ember, name)
    t_rows, _ = _trace(torch, name)
    assert len(e_rows) == len(t_rows)
    for i, (e, t) in enumerate(zip(e_rows, t_rows)):
        for a, b in zip(e[0] + e[1], t[0] + t[1]):
            assert abs(a - b) <= 1e-12 * max(1.0, abs(b)), (name, i, e, t)
        assert e[2] == t[2], (name, i)  # momentum / betas cycling too


@requires_torch
@pytest.mark.parametrize("name", ["StepLR", "MultiStepLR", "ExponentialLR", "CosineAnnealingLR", "LinearLR",
                                  "ConstantLR", "PolynomialLR"])
def test_closed_form_with_epoch_argument_equals_torch(name):
    def run(lib):
        cls, make = SCHEDULERS[name]
        opt = _opt(lib, cls)
        sched = make(lib.optim.lr_scheduler, opt)
        out = []
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            for epoch in (3, 7, 1, 10):
                opt.step()
                sched.step(epoch)
                out.append(sched.get_last_lr())
        assert any("epoch parameter" in str(w.message) for w in caught)
        return out
    assert run(ember) == run(torch)


@requires_torch
def test_reduce_lr_on_plateau_equals_torch():
    metrics = [1.0, 0.9, 0.95, 0.96, 0.97, 0.97, 0.8, 0.81, 0.82, 0.83, 0.84, 0.85, 0.86, 0.87, 0.88, 0.9]

    def run(lib, **kw):
        opt = _opt(lib)
        sched = lib.optim.lr_scheduler.ReduceLROnPlateau(opt, **kw)
        out = []
        for m in metrics:
            opt.step()
            sched.step(m)
            out.append((sched.get_last_lr(), sched.num_bad_epochs, sched.cooldown_counter, sched.best))
        return out
    for kw in (dict(patience=2, factor=0.5), dict(mode="max", patience=1, cooldown=2, threshold_mode="abs",
                                                   min_lr=[0.02, 0.001])):
        assert run(ember, **kw) == run(torch, **kw)


@requires_torch
@pytest.mark.parametrize("name", ["StepLR", "CosineAnnealingLR", "OneCycleLR", "LambdaLR"])
def test_state_dict_keys_and_resume(name):
    e_rows, e_sched = _trace(ember, name, steps=5)
    _, t_sched = _trace(torch, name, steps=5)
    e_sd, t_sd = e_sched.state_dict(), t_sched.state_dict()
    assert set(e_sd) == set(t_sd)
    for key in ("last_epoch", "_step_count", "base_lrs", "_last_lr"):
        assert e_sd[key] == t_sd[key], key
    # a fresh scheduler that loads the state continues the same sequence
    cls, make = SCHEDULERS[name]
    opt = _opt(ember, cls)
    resumed = make(S, opt)
    resumed.load_state_dict(e_sd)
    for group, lr in zip(opt.param_groups, e_sd["_last_lr"]):
        group["lr"] = lr
    e_sched.optimizer.step()
    e_sched.step()
    opt.step()
    resumed.step()
    assert resumed.get_last_lr() == e_sched.get_last_lr()


def test_initial_lr_is_set_and_required_when_resuming():
    opt = _opt(ember)
    S.StepLR(opt, step_size=2)
    assert [g["initial_lr"] for g in opt.param_groups] == [0.1, 0.05]
    with pytest.raises(KeyError, match="initial_lr"):
        S.StepLR(_opt(ember), step_size=2, last_epoch=3)
    with pytest.raises(TypeError, match="is not an Optimizer"):
        S.StepLR(object(), step_size=2)


def test_warns_when_scheduler_steps_before_optimizer():
    opt = _opt(ember)
    sched = S.StepLR(opt, step_size=2)
    with pytest.warns(UserWarning, match=r"Detected call of `lr_scheduler.step\(\)` before `optimizer.step\(\)`"):
        sched.step()


def test_get_lr_outside_step_warns():
    sched = S.ExponentialLR(_opt(ember), gamma=0.5)
    with pytest.warns(UserWarning, match="get_last_lr"):
        sched.get_lr()


def test_cosine_annealing_reaches_eta_min_and_comes_back():
    opt = _opt(ember)
    sched = S.CosineAnnealingLR(opt, T_max=4, eta_min=0.0)
    lrs = []
    for _ in range(8):
        opt.step()
        sched.step()
        lrs.append(sched.get_last_lr()[0])
    assert abs(lrs[3]) < 1e-15 and math.isclose(lrs[7], 0.1, rel_tol=1e-12)


def test_scheduler_drives_optimizer_updates():
    p = ember.tensor(np.zeros(1), requires_grad=True)
    opt = optim.SGD([p], lr=1.0)
    sched = S.StepLR(opt, step_size=1, gamma=0.5)
    for _ in range(3):
        p.grad = ember.tensor(np.ones(1))
        opt.step()
        sched.step()
    np.testing.assert_allclose(p.detach().numpy(), [-(1 + 0.5 + 0.25)])


@requires_torch
@pytest.mark.parametrize("name", sorted(SCHEDULERS))
def test_param_group_added_after_the_scheduler_behaves_as_torch(name):
    # torch pairs its per-group lists with the optimizer's groups by zip(..., strict=True): a group
    # added after the scheduler makes several schedulers raise ValueError at their next step(),
    # where silently truncating would leave the new group unscheduled
    cls, make = SCHEDULERS[name]

    def run(lib, mod):
        opt = _opt(lib, cls)
        sched = make(mod, opt)
        opt.add_param_group({"params": [lib.tensor([5.0], requires_grad=True)], "lr": 0.7})
        lrs = []
        try:
            for _ in range(6):
                opt.step()
                sched.step()
                lrs.append([float(g["lr"]) for g in opt.param_groups])
        except (ValueError, KeyError) as e:  # OneCycleLR reads the new group's missing 'initial_lr'
            return type(e).__name__, str(e), lrs
        return "ok", lrs

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = run(torch, torch.optim.lr_scheduler)
        got = run(ember, S)
    assert got[0] == expected[0]
    assert got[1:] == expected[1:]
