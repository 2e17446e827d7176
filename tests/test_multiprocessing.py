"""ember.multiprocessing (torch.multiprocessing) with real worker processes: spawn's signature, results and
errors (ProcessRaisedException / ProcessExitedException), Process / Queue / Pool, and Hogwild training:
several fork()ed processes updating one model whose parameters live in shared memory."""
import os
import sys

import numpy as np
import pytest

import ember
import ember.multiprocessing as mp
from tests.conftest import requires_torch, torch

fork_only = pytest.mark.skipif(not hasattr(os, "fork") or sys.platform == "darwin", reason="needs fork")


def _write_rank(i, folder, scale):
    with open(os.path.join(folder, f"{i}.txt"), "w") as fh:
        fh.write(str(ember.tensor([float(i)]).mul(scale).item()))


def _raise_in_one(i):
    if i == 1:
        raise ValueError(f"bad rank {i}")


def _exit_with(i, code):
    os._exit(code if i == 0 else 0)


def test_spawn_runs_fn_with_the_rank(tmp_path):
    assert mp.spawn(_write_rank, args=(str(tmp_path), 2.5), nprocs=3) is None
    assert sorted(p.read_text() for p in tmp_path.iterdir()) == ["0.0", "2.5", "5.0"]


def test_spawn_without_join_returns_the_context(tmp_path):
    ctx = mp.spawn(_write_rank, args=(str(tmp_path), 1.0), nprocs=2, join=False)
    assert isinstance(ctx, mp.ProcessContext) and len(ctx.pids()) == 2
    while not ctx.join():
        pass
    assert len(list(tmp_path.iterdir())) == 2


def test_spawn_reraises_a_child_exception():
    with pytest.raises(mp.ProcessRaisedException) as info:
        mp.spawn(_raise_in_one, nprocs=2)
    msg = str(info.value)
    assert "-- Process 1 terminated with the following error:" in msg
    assert "ValueError: bad rank 1" in msg and info.value.error_index == 1


def test_spawn_reports_an_exit_code():
    with pytest.raises(mp.ProcessExitedException, match="process 0 terminated with exit code 3") as info:
        mp.spawn(_exit_with, args=(3,), nprocs=2)
    assert info.value.exit_code == 3


@requires_torch
def test_spawn_errors_match_torch():
    import torch.multiprocessing as tmp
    for m in (mp, tmp):
        with pytest.raises(m.ProcessRaisedException, match="-- Process 1 terminated with the following error"):
            m.spawn(_raise_in_one, nprocs=2)
        with pytest.raises(m.ProcessExitedException, match="process 0 terminated with exit code 3"):
            m.spawn(_exit_with, args=(3,), nprocs=2)
    assert set(mp.get_all_sharing_strategies()) == set(tmp.get_all_sharing_strategies())
    assert mp.get_sharing_strategy() == tmp.get_sharing_strategy()


def _square(x):
    return (ember.tensor(x) ** 2).sum().item()


def _put_tensor(q):
    q.put(ember.arange(3.0) * 2)


def test_process_queue_pool():
    q = mp.Queue()
    p = mp.Process(target=_put_tensor, args=(q,))
    p.start()
    got = q.get(timeout=60)
    p.join()
    assert p.exitcode == 0 and isinstance(got, ember.Tensor) and got.tolist() == [0.0, 2.0, 4.0]
    with mp.get_context("spawn").Pool(2) as pool:
        assert pool.map(_square, [[1.0, 2.0], [3.0]]) == [5.0, 9.0]
    assert mp.get_start_method() in ("fork", "spawn", "forkserver")


# ---- Hogwild: the torch example's pattern (examples/mnist_hogwild) on a small regression -----------------
_RNG = np.random.default_rng(0)
_X = _RNG.standard_normal((64, 3)).astype(np.float32)
_Y = (_X @ np.array([[1.5], [-2.0], [0.5]], np.float32) + 0.3).astype(np.float32)


def _train(rank, model, steps, lr):
    ember.manual_seed(rank)
    opt = ember.optim.SGD(model.parameters(), lr=lr)
    x, y = ember.tensor(_X), ember.tensor(_Y)
    for _ in range(steps):
        opt.zero_grad()
        ember.nn.functional.mse_loss(model(x), y).backward()
        opt.step()


def _loss(model):
    with ember.no_grad():
        return ember.nn.functional.mse_loss(model(ember.tensor(_X)), ember.tensor(_Y)).item()


def _hogwild(ctx):
    """Two processes of ctx train one shared model; the parent, which never trains, sees its loss fall."""
    ember.manual_seed(0)
    model = ember.nn.Linear(3, 1)
    model.share_memory()
    start = _loss(model)
    procs = [ctx.Process(target=_train, args=(rank, model, 40, 0.05)) for rank in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join()
    assert all(p.exitcode == 0 for p in procs)
    # the parent never trained: its parameters moved only through the shared memory
    after = _loss(model)
    assert after < start * 0.05, (start, after)
    return ctx


@fork_only
def test_hogwild_processes_train_one_shared_model():
    ctx = _hogwild(mp.get_context("fork"))
    # a model that was not shared is left as it was by the children
    other = ember.nn.Linear(3, 1)
    w = other.weight.detach().clone()
    p = ctx.Process(target=_train, args=(0, other, 5, 0.05))
    p.start()
    p.join()
    assert other.weight.detach().tolist() == w.tolist()


memfd_only = pytest.mark.skipif(not hasattr(os, "memfd_create"), reason="shares with spawned processes via memfd")


@memfd_only
def test_hogwild_spawned_processes_update_the_shared_model():
    # examples/mnist_hogwild calls mp.set_start_method('spawn'): the parameters travel to the children as
    # handles to the shared memory, not as copies
    _hogwild(mp.get_context("spawn"))


def _fill_views(q_in, q_out):
    for _ in range(2):
        t = q_in.get(timeout=60)
        q_out.put((t.is_shared(), t.shape, t.requires_grad))
        with ember.no_grad():
            t.fill_(7.0)


@memfd_only
def test_shared_view_sent_to_a_spawned_process_writes_through():
    base = ember.zeros(4, 6).share_memory_()
    view = base[1:, ::2]   # an offset and strides into the shared memory
    plain = ember.zeros(3)
    ctx = mp.get_context("spawn")
    q_in, q_out = ctx.Queue(), ctx.Queue()
    p = ctx.Process(target=_fill_views, args=(q_in, q_out))
    p.start()
    q_in.put(view)    # (through a Queue: the descriptor goes over multiprocessing's resource sharer)
    q_in.put(plain)   # not shared: a copy, as before
    assert q_out.get(timeout=60) == (True, (3, 3), False)
    assert q_out.get(timeout=60) == (False, (3,), False)
    p.join(60)
    assert p.exitcode == 0
    expected = np.zeros((4, 6), np.float32)
    expected[1:, ::2] = 7.0
    assert base.numpy().tolist() == expected.tolist()
    assert plain.tolist() == [0.0, 0.0, 0.0]
