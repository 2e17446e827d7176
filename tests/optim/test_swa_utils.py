"""torch.optim.swa_utils against torch: SWA/EMA averages over optimizer steps, SWALR sequences,
update_bn, state_dict keys and bad arguments."""
import warnings

import numpy as np
import pytest

import ember
from ember.optim import swa_utils as eswa
from tests.conftest import requires_torch


def _model(lib, seed=0):
    """A small float64 MLP with a BatchNorm, the same numbers in either library."""
    rng = np.random.default_rng(seed)
    m = lib.nn.Sequential(lib.nn.Linear(3, 4), lib.nn.BatchNorm1d(4), lib.nn.ReLU(), lib.nn.Linear(4, 2)).double()
    with lib.no_grad():
        for p in m.parameters():
            p.copy_(lib.tensor(rng.standard_normal(tuple(p.shape))))
    return m


def _np(t):
    return t.detach().numpy()


def _same_state(e_sd, t_sd, tol=1e-12):
    assert list(e_sd) == list(t_sd)
    for k in t_sd:
        np.testing.assert_allclose(_np(e_sd[k]), _np(t_sd[k]), rtol=tol, atol=tol, err_msg=k)


def _train(lib, model, averaged, steps, rng_seed=1):
    rng = np.random.default_rng(rng_seed)
    opt = lib.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    for _ in range(steps):
        x = lib.tensor(rng.standard_normal((8, 3)))
        y = lib.tensor(rng.standard_normal((8, 2)))
        opt.zero_grad()
        lib.nn.functional.mse_loss(model(x), y).backward()
        opt.step()
        averaged.update_parameters(model)


@requires_torch
@pytest.mark.parametrize("kind", ["swa", "ema_multi", "ema", "swa_fn", "swa_multi", "ema_buffers"])
def test_averaged_model_matches_torch(oracle, kind):
    torch = oracle

    def make(lib, model):
        swa = lib.optim.swa_utils
        if kind == "swa":
            return swa.AveragedModel(model)
        if kind == "ema_multi":
            return swa.AveragedModel(model, multi_avg_fn=swa.get_ema_multi_avg_fn(0.9))
        if kind == "ema":
            return swa.AveragedModel(model, avg_fn=swa.get_ema_avg_fn(0.8))
        if kind == "swa_fn":
            return swa.AveragedModel(model, avg_fn=swa.get_swa_avg_fn())
        if kind == "swa_multi":
            return swa.AveragedModel(model, multi_avg_fn=swa.get_swa_multi_avg_fn())
        return swa.AveragedModel(model, multi_avg_fn=swa.get_ema_multi_avg_fn(0.7), use_buffers=True)
    em, tm = _model(ember), _model(torch)
    ea, ta = make(ember, em), make(torch, tm)
    assert list(ea.state_dict()) == list(ta.state_dict())
    assert list(ea.state_dict())[:2] == ["n_averaged", "module.0.weight"]
    _train(ember, em, ea, 6)
    _train(torch, tm, ta, 6)
    _same_state(ea.state_dict(), ta.state_dict())
    assert int(ea.n_averaged) == 6 and ea.n_averaged.dtype == ember.int64
    # the average differs from the last weights, and the source model is untouched by averaging
    _same_state(em.state_dict(), tm.state_dict())
    assert not np.allclose(_np(ea.module[0].weight), _np(em[0].weight))
    x = np.random.default_rng(5).standard_normal((4, 3))
    ea.eval()
    ta.eval()
    np.testing.assert_allclose(_np(ea(ember.tensor(x))), _np(ta(torch.tensor(x))), rtol=1e-12, atol=1e-12)


@requires_torch
def test_averaged_model_repr_and_state_dict_roundtrip(oracle):
    torch = oracle
    ea, ta = eswa.AveragedModel(_model(ember)), torch.optim.swa_utils.AveragedModel(_model(torch))
    assert repr(ea).replace("bias=True, track", "track") == repr(ta).replace("bias=True, track", "track")
    ea.update_parameters(_model(ember, 3))
    fresh = eswa.AveragedModel(_model(ember))
    fresh.load_state_dict(ea.state_dict())
    assert int(fresh.n_averaged) == 1
    np.testing.assert_array_equal(_np(fresh.module[0].weight), _np(_model(ember, 3)[0].weight))


@requires_torch
def test_avg_fn_errors(oracle):
    torch = oracle
    for lib in (ember, torch):
        swa = lib.optim.swa_utils
        with pytest.raises(ValueError, match=r"Invalid decay value 1.5 provided. Please provide a value in \[0,1\]"):
            swa.get_ema_multi_avg_fn(1.5)
        with pytest.raises(ValueError, match="Invalid decay value -0.1"):
            swa.get_ema_avg_fn(-0.1)
        with pytest.raises(AssertionError, match="Only one of avg_fn and multi_avg_fn should be provided"):
            swa.AveragedModel(_model(lib), avg_fn=swa.get_swa_avg_fn(), multi_avg_fn=swa.get_swa_multi_avg_fn())


def _lrs(lib, steps=20, **kw):
    p = lib.nn.Parameter(lib.zeros(2))
    q = lib.nn.Parameter(lib.zeros(2))
    opt = lib.optim.SGD([{"params": [p]}, {"params": [q], "lr": 0.3}], lr=1.0)
    sched = lib.optim.swa_utils.SWALR(opt, **kw)
    out = [sched.get_last_lr()]
    for _ in range(steps):
        opt.step()
        sched.step()
        out.append(sched.get_last_lr())
    return out, sched


@requires_torch
@pytest.mark.parametrize("kw", [
    dict(swa_lr=0.05),
    dict(swa_lr=0.05, anneal_epochs=5, anneal_strategy="linear"),
    dict(swa_lr=[0.1, 0.01], anneal_epochs=7, anneal_strategy="cos"),
    dict(swa_lr=0.2, anneal_epochs=0),
    dict(swa_lr=0.5, anneal_epochs=1, anneal_strategy="linear"),
])
def test_swalr_sequences_match_torch(oracle, kw):
    torch = oracle
    e, es = _lrs(ember, **kw)
    t, ts = _lrs(torch, **kw)
    assert e == t  # to the last bit: same formula, same order
    e_sd, t_sd = es.state_dict(), ts.state_dict()
    assert sorted(e_sd) == sorted(t_sd) and "anneal_func" not in e_sd
    assert e_sd["_anneal_strategy"] == t_sd["_anneal_strategy"]


@requires_torch
def test_swalr_after_another_schedule_and_resume(oracle):
    torch = oracle
    seqs = []
    for lib in (ember, torch):
        p = lib.nn.Parameter(lib.zeros(2))
        opt = lib.optim.SGD([p], lr=1.0)
        cos = lib.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=10)
        swa = None
        seq = []
        for epoch in range(20):
            opt.step()
            if epoch >= 8:
                if swa is None:
                    swa = lib.optim.swa_utils.SWALR(opt, swa_lr=0.05, anneal_epochs=4)
                swa.step()
            else:
                cos.step()
            seq.append(opt.param_groups[0]["lr"])
        # resume: a new SWALR picks up the saved state and continues identically
        sd = swa.state_dict()
        opt2 = lib.optim.SGD([lib.nn.Parameter(lib.zeros(2))], lr=opt.param_groups[0]["lr"])
        opt2.param_groups[0]["initial_lr"] = opt.param_groups[0]["initial_lr"]
        swa2 = lib.optim.swa_utils.SWALR(opt2, swa_lr=0.3)
        swa2.load_state_dict(sd)
        opt2.step()
        swa2.step()
        seq.append(opt2.param_groups[0]["lr"])
        seqs.append(seq)
    assert seqs[0] == seqs[1]


@requires_torch
def test_swalr_errors_and_warning(oracle):
    torch = oracle

    def err(lib, **kw):
        opt = lib.optim.SGD([lib.nn.Parameter(lib.zeros(1))], lr=1.0)
        with pytest.raises(Exception) as info:
            lib.optim.swa_utils.SWALR(opt, **kw)
        return type(info.value), str(info.value)
    for kw in (dict(swa_lr=0.1, anneal_strategy="exp"), dict(swa_lr=0.1, anneal_epochs=-1),
               dict(swa_lr=0.1, anneal_epochs=2.5), dict(swa_lr=[0.1, 0.2])):
        assert err(ember, **kw) == err(torch, **kw)
    for lib in (ember, torch):
        opt = lib.optim.SGD([lib.nn.Parameter(lib.zeros(1))], lr=1.0)
        sched = lib.optim.swa_utils.SWALR(opt, swa_lr=0.1)
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            sched.get_lr()
        assert any("get_last_lr()" in str(x.message) for x in w)


@requires_torch
def test_update_bn_matches_torch(oracle):
    torch = oracle
    rng = np.random.default_rng(3)
    batches = [rng.standard_normal((6, 3)) * 2 + 1 for _ in range(4)]
    results = []
    for lib in (ember, torch):
        model = _model(lib)
        model.eval()
        momentum = model[1].momentum
        # batches as (input, target) pairs, as a DataLoader yields them
        loader = [(lib.tensor(b), lib.zeros(6)) for b in batches]
        lib.optim.swa_utils.update_bn(loader, model)
        assert not model.training and model[1].momentum == momentum
        results.append({k: _np(v).copy() for k, v in model[1].state_dict().items()})
        # an AveragedModel and plain tensors work too
        avg = lib.optim.swa_utils.AveragedModel(_model(lib))
        lib.optim.swa_utils.update_bn([lib.tensor(b) for b in batches], avg)
        results.append({k: _np(v).copy() for k, v in avg.module[1].state_dict().items()})
    for e, t in ((results[0], results[2]), (results[1], results[3])):
        assert list(e) == list(t)
        for k in t:
            np.testing.assert_allclose(e[k], t[k], rtol=1e-12, atol=1e-12, err_msg=k)
    # momentum None during the pass: the running mean is the plain mean of the per-batch means
    lin = _model(ember)[0]
    means = [_np(lin(ember.tensor(b))).mean(0) for b in batches]
    np.testing.assert_allclose(results[0]["running_mean"], np.mean(means, 0), rtol=1e-12)
    assert int(results[0]["num_batches_tracked"]) == 4


def test_update_bn_without_batchnorm_is_a_no_op():
    model = ember.nn.Linear(3, 2)
    calls = []
    model.register_forward_hook(lambda *a: calls.append(1))
    eswa.update_bn([ember.randn(2, 3)], model)
    assert calls == []
