"""A large parameter's update runs over cache-sized chunks (optimizer.chunks): the same bits as over the
whole arrays, with every branch of each optimizer's per-parameter loop."""
import numpy as np
import pytest

import ember
from ember import optim
from ember.optim import optimizer
from tests.conftest import requires_torch, torch

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
]
SHAPES = [(37, 29), (300,), (3, 5, 7)]   # none a multiple of the chunk


def _run(name, kwargs, chunk, monkeypatch, steps=6):
    rng = np.random.default_rng(0)
    params = [ember.tensor(rng.standard_normal(s).astype(np.float32), requires_grad=True) for s in SHAPES]
    # one parameter a group: FlatState needs two, so each takes the per-parameter loop
    opt = getattr(optim, name)([{"params": [p]} for p in params], **kwargs)
    pieces = []
    real = optimizer.chunks

    def counted(*arrays):
        out = list(real(*arrays))
        pieces.append(len(out))
        return out

    monkeypatch.setattr(optimizer, "_CHUNK", chunk)
    for mod in ("sgd", "adam"):
        monkeypatch.setattr(getattr(optim, mod), "chunks", counted)
    for step in range(steps):
        for p in params:
            p.grad = ember.tensor(rng.standard_normal(p.shape).astype(np.float32))
        opt.step()
    return params, opt, pieces


@pytest.mark.parametrize("name,kwargs", CASES)
def test_chunks_give_the_whole_arrays_bits(name, kwargs, monkeypatch):
    whole, whole_opt, n_whole = _run(name, kwargs, 1 << 30, monkeypatch)
    cut, cut_opt, n_cut = _run(name, kwargs, 16, monkeypatch)
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
    ours, _, _ = _run(name, kwargs, 16, monkeypatch)
    rng = np.random.default_rng(0)
    params = [torch.tensor(rng.standard_normal(s).astype(np.float32), requires_grad=True) for s in SHAPES]
    opt = getattr(torch.optim, name)([{"params": [p]} for p in params], **kwargs)
    for step in range(6):
        for p in params:
            p.grad = torch.tensor(rng.standard_normal(tuple(p.shape)).astype(np.float32))
        opt.step()
    for a, b in zip(ours, params):
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-5, atol=1e-6)


def test_small_or_strided_arrays_are_one_piece(monkeypatch):
    monkeypatch.setattr(optimizer, "_CHUNK", 16)
    a = np.zeros((10, 10), np.float32)
    assert len(list(optimizer.chunks(a, a.copy()))) == 7
    assert len(list(optimizer.chunks(a.reshape(-1)[:64], a.reshape(-1)[:64]))) == 1   # 4 chunks: one piece
    assert len(list(optimizer.chunks(a.T, a.copy()))) == 1      # not C-contiguous
    assert len(list(optimizer.chunks(a, a.reshape(100)))) == 1  # another shape
