"""A large parameter's update runs over cache-sized chunks (optimizer.chunks): the same bits as over the
whole arrays, with every branch of each optimizer's per-parameter loop."""
import numpy as np
import pytest

import ember
from ember import optim
from ember.optim import optimizer
from tests.conftest import record_blocks, requires_torch, torch

# (optimizer, kwargs): every branch of the per-parameter loops that run over chunks
CASES = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.1, momentum=0.9)),
    ("SGD", dict(lr=0.1, momentum=0.9, dampening=0.3, weight_decay=0.01)),
    ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01, maximize=True)),
    ("Adam", dict(lr=0.01)),
    ("Adam", dict(lr=0.01, weight_decay=0.1, amsgrad=True)),
    ("Adam", dict(lr=0.01, maximize=True, betas=(0.5, 0.9))),
    ("AdamW", dict(lr=0.01, weight_decay=0.1)),
    ("AdamW", dict(lr=0.01, amsgrad=True)),
    ("RMSprop", dict(lr=0.01)),
    ("RMSprop", dict(lr=0.01, centered=True)),
    ("RMSprop", dict(lr=0.01, momentum=0.9, weight_decay=0.1)),
    ("RMSprop", dict(lr=0.01, alpha=0.9, centered=True, momentum=0.5, weight_decay=0.1, maximize=True)),
    ("Adagrad", dict(lr=0.1)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.1, weight_decay=0.1, initial_accumulator_value=0.5)),
    ("Adagrad", dict(lr=0.1, maximize=True)),
    ("Adadelta", dict()),
    ("Adadelta", dict(lr=0.5, rho=0.8, weight_decay=0.1, maximize=True)),
    ("Adamax", dict(lr=0.01)),
    ("Adamax", dict(lr=0.01, betas=(0.5, 0.9), weight_decay=0.1, maximize=True)),
    ("NAdam", dict(lr=0.01)),
    ("NAdam", dict(lr=0.01, weight_decay=0.1, momentum_decay=0.01)),
    ("NAdam", dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True, maximize=True)),
    # (RAdam's rectified branch from step 6 on, with the default betas)
    ("RAdam", dict(lr=0.01)),
    ("RAdam", dict(lr=0.01, weight_decay=0.1, maximize=True)),
    ("RAdam", dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True)),
    ("ASGD", dict(lr=0.01)),
    # (t0=2: averaging with mu < 1 from step 5 on)
    ("ASGD", dict(lr=0.01, lambd=0.01, alpha=0.5, t0=2, weight_decay=0.1, maximize=True)),
    ("Rprop", dict(lr=0.01)),
    ("Rprop", dict(lr=0.01, etas=(0.3, 1.5), step_sizes=(1e-3, 0.02), maximize=True)),
]
_CHUNKS = optimizer.chunks
SHAPES = [(37, 29), (300,), (3, 5, 7)]   # none a multiple of the chunk
STEPS = 8


def _run(name, kwargs, chunk, monkeypatch, shared=False):
    rng = np.random.default_rng(0)
    params = [ember.tensor(rng.standard_normal(s).astype(np.float32), requires_grad=True) for s in SHAPES]
    # one parameter a group: FlatState needs two, so each takes the per-parameter loop
    opt = getattr(optim, name)([{"params": [p]} for p in params], **kwargs)
    pieces = []
    real = _CHUNKS

    def counted(*arrays):
        out = list(real(*arrays))
        pieces.append(len(out))
        return out

    monkeypatch.setattr(optimizer, "_CHUNK", chunk)
    # (run_chunked cuts the others' updates; ASGD's hyperparameters change as it goes, so it runs its own)
    monkeypatch.setattr(optimizer, "chunks", counted)
    monkeypatch.setattr(optim.asgd, "chunks", counted)
    if shared:   # every step shared out among two threads
        monkeypatch.setattr(optimizer, "_PAR_MIN", 0)
        blocks = record_blocks(monkeypatch, 2)
    for step in range(STEPS):
        for p in params:
            p.grad = ember.tensor(rng.standard_normal(p.shape).astype(np.float32))
        opt.step()
    if shared and name != "ASGD":
        assert blocks and all(plan[1] == 2 for _, plan in blocks)
    return params, opt, pieces


@pytest.mark.parametrize("shared", [False, True], ids=["one thread", "two threads"])
@pytest.mark.parametrize("name,kwargs", CASES)
def test_chunks_give_the_whole_arrays_bits(name, kwargs, shared, monkeypatch):
    whole, whole_opt, n_whole = _run(name, kwargs, 1 << 30, monkeypatch)
    cut, cut_opt, n_cut = _run(name, kwargs, 16, monkeypatch, shared)
    assert set(n_whole) == {1} and max(n_cut) > 1   # (each parameter past 4 chunks is cut)
    for a, b in zip(whole, cut):
        assert np.array_equal(a.detach().numpy(), b.detach().numpy())
        sa, sb = whole_opt.state[a], cut_opt.state[b]
        assert sa.keys() == sb.keys()
        for key in sa:
            assert np.array_equal(sa[key].numpy(), sb[key].numpy()), key


@requires_torch
@pytest.mark.parametrize("name,kwargs", CASES)
def test_chunked_updates_match_torch(name, kwargs, monkeypatch):
    ours, our_opt, _ = _run(name, kwargs, 16, monkeypatch)
    rng = np.random.default_rng(0)
    params = [torch.tensor(rng.standard_normal(s).astype(np.float32), requires_grad=True) for s in SHAPES]
    opt = getattr(torch.optim, name)([{"params": [p]} for p in params], **kwargs)
    for step in range(STEPS):
        for p in params:
            p.grad = torch.tensor(rng.standard_normal(tuple(p.shape)).astype(np.float32))
        opt.step()
    for a, b in zip(ours, params):
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-5, atol=1e-6)
        # the state too: some of it (ASGD's ax) never feeds back into the parameter
        sa, sb = our_opt.state[a], opt.state[b]
        assert sa.keys() == sb.keys()
        for key in sa:
            np.testing.assert_allclose(sa[key].numpy(), sb[key].numpy(), rtol=1e-5, atol=1e-6, err_msg=key)


def test_small_or_strided_arrays_are_one_piece(monkeypatch):
    monkeypatch.setattr(optimizer, "_CHUNK", 16)
    a = np.zeros((10, 10), np.float32)
    assert len(list(optimizer.chunks(a, a.copy()))) == 7
    assert len(list(optimizer.chunks(a.reshape(-1)[:64], a.reshape(-1)[:64]))) == 1   # 4 chunks: one piece
    assert len(list(optimizer.chunks(a.T, a.copy()))) == 1      # not C-contiguous
    assert len(list(optimizer.chunks(a, a.reshape(100)))) == 1  # another shape
