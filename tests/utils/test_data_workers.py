"""DataLoader with real worker processes (num_workers > 0): order, seeding, errors, death, timeout, shutdown.

Datasets and helpers live at module level so that the 'spawn' start method can pickle them by name.
"""
import gc
import multiprocessing
import os
import random
import signal
import sys
import threading
import time

import numpy as np
import pytest

import ember
from ember.utils.data import DataLoader, Dataset, IterableDataset, get_worker_info


@pytest.fixture(autouse=True)
def no_hang():
    """A broken loader must fail the test, not hang the suite (generous limit; not a timing assertion)."""
    def on_alarm(signum, frame):
        raise TimeoutError("DataLoader test hung for 60 s")
    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(60)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, old)


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def _gone(pids):
    """True when none of pids is a live (or zombie) process."""
    return not any(_alive(p) for p in pids)


class Images(Dataset):
    """CIFAR-like samples: a float32 CHW tensor filled with i, and the label i; item 7 is slow, so the
    batch that holds it arrives after later batches (exercising the reorder buffer)."""

    def __init__(self, n=20, slow=-1):
        self.n, self.slow = n, slow

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        if i == self.slow and get_worker_info() is not None:
            time.sleep(0.2)
        return ember.from_numpy(np.full((3, 4, 4), i, dtype=np.float32)), i


class RandomDraws(Dataset):
    """Each sample reports the worker and what its random streams produce."""

    def __len__(self):
        return 8

    def __getitem__(self, i):
        info = get_worker_info()
        return (info.id, info.num_workers, info.seed, int(np.random.randint(0, 2**31 - 1)),
                random.getrandbits(31), float(ember.rand(1).item()), type(info.dataset).__name__)


class Faulty(Dataset):
    def __len__(self):
        return 8

    def __getitem__(self, i):
        if i == 5:
            raise ValueError(f"bad sample {i}")
        if i == 6:
            raise KeyError("missing key")
        return i


class TwoArgError(Exception):
    def __init__(self, a, b):
        super().__init__(a, b)


class NeedsTwoArgs(Dataset):
    def __len__(self):
        return 2

    def __getitem__(self, i):
        raise TwoArgError("x", "y")


class Suicidal(Dataset):
    def __len__(self):
        return 8

    def __getitem__(self, i):
        if i == 3 and get_worker_info() is not None:
            os.kill(os.getpid(), signal.SIGKILL)
        return i


class Slow(Dataset):
    def __len__(self):
        return 4

    def __getitem__(self, i):
        if i == 0:
            time.sleep(30)
        return i


class Unpicklable(Dataset):
    def __len__(self):
        return 2

    def __getitem__(self, i):
        return threading.Lock()


class Sharded(IterableDataset):
    def __init__(self, n):
        self.n = n

    def __iter__(self):
        info = get_worker_info()
        if info is None:
            return iter(range(self.n))
        return iter(range(info.id, self.n, info.num_workers))


_init_value = None


def _init_fn(worker_id):
    global _init_value
    _init_value = 100 + worker_id


class ReportsInit(Dataset):
    def __len__(self):
        return 4

    def __getitem__(self, i):
        return _init_value


def _labels(loader):
    return [y.tolist() for _, y in loader]


def test_order_matches_single_process_for_a_fixed_sampler():
    order = [7, 2, 9, 0, 5, 1, 3, 8, 4, 6, 11, 10]
    ref = list(DataLoader(Images(12, slow=7), batch_size=3, sampler=order))
    got = list(DataLoader(Images(12, slow=7), batch_size=3, sampler=order, num_workers=2))
    assert [y.tolist() for _, y in got] == [y.tolist() for _, y in ref] == [order[i:i + 3] for i in range(0, 12, 3)]
    for (xg, _), (xr, _) in zip(got, ref):
        assert xg.dtype == ember.float32 and tuple(xg.shape) == (3, 3, 4, 4)
        np.testing.assert_array_equal(xg.numpy(), xr.numpy())


def test_shuffle_reproducible_with_seeded_generator():
    def run(seed, workers):
        return _labels(DataLoader(Images(16), batch_size=4, shuffle=True, num_workers=workers,
                                  generator=ember.Generator().manual_seed(seed)))
    a = run(1, 2)
    assert a == run(1, 2) == run(1, 0)
    assert sorted(sum(a, [])) == list(range(16))
    assert run(2, 2) != a


def test_drop_last_and_len_with_workers():
    loader = DataLoader(Images(10), batch_size=4, num_workers=2, drop_last=True)
    assert len(loader) == 2 and _labels(loader) == [[0, 1, 2, 3], [4, 5, 6, 7]]
    loader = DataLoader(Images(10), batch_size=4, num_workers=2)
    assert len(loader) == 3 and _labels(loader)[-1] == [8, 9]


def test_each_worker_has_its_own_random_streams():
    loader = DataLoader(RandomDraws(), batch_size=None, num_workers=2)
    epoch1 = list(loader)
    by_worker = {0: [], 1: []}
    for wid, nw, seed, np_draw, py_draw, ember_draw, dsname in epoch1:
        assert nw == 2 and dsname == "RandomDraws"
        by_worker[wid].append((seed, np_draw, py_draw, ember_draw))
    assert len(by_worker[0]) == len(by_worker[1]) == 4
    (s0, n0, p0, e0), (s1, n1, p1, e1) = by_worker[0][0], by_worker[1][0]
    assert s1 == s0 + 1  # seed = base_seed + worker_id
    # pytorch/pytorch#5059: forked workers must not share NumPy (or Python, or ember) random state
    assert n0 != n1 and p0 != p1 and e0 != e1
    assert {d[1] for d in by_worker[0]}.isdisjoint(d[1] for d in by_worker[1])
    # a new epoch draws a new base seed
    epoch2 = list(loader)
    assert epoch2[0][2] != epoch1[0][2] and epoch2[0][3] != epoch1[0][3]
    assert get_worker_info() is None


@pytest.mark.parametrize("context", ["fork", "spawn"])
def test_worker_exception_is_reraised_with_worker_id_and_traceback(context):
    it = iter(DataLoader(Faulty(), batch_size=2, num_workers=2, multiprocessing_context=context))
    assert it.next().tolist() == [0, 1] and next(it).tolist() == [2, 3]
    with pytest.raises(ValueError) as exc:
        next(it)
    msg = str(exc.value)
    assert msg.startswith("Caught ValueError in DataLoader worker process 0.\n"
                          "Original Traceback (most recent call last):\n")
    assert "ValueError: bad sample 5" in msg and "in __getitem__" in msg and "test_data_workers.py" in msg
    # KeyError: the message stays readable (not repr-quoted with escaped newlines)
    with pytest.raises(KeyError) as exc:
        next(it)
    assert "Caught KeyError in DataLoader worker process 1.\nOriginal Traceback" in str(exc.value)
    del it


def test_exception_needing_other_arguments_becomes_runtime_error():
    with pytest.raises(RuntimeError, match="Caught TwoArgError in DataLoader worker process 0"):
        list(DataLoader(NeedsTwoArgs(), num_workers=1))


def test_unpicklable_batch_raises_instead_of_hanging():
    with pytest.raises(TypeError, match="(?s)Caught TypeError in DataLoader worker process 0.*pickle"):
        list(DataLoader(Unpicklable(), batch_size=None, num_workers=1))


@pytest.mark.parametrize("context", ["fork", "spawn"])
def test_killed_worker_raises_runtime_error(context):
    it = iter(DataLoader(Suicidal(), batch_size=1, num_workers=2, multiprocessing_context=context))
    pids = [w.pid for w in it._workers]
    with pytest.raises(RuntimeError, match=r"DataLoader worker \(pid\(s\) \d+\) exited unexpectedly") as exc:
        for _ in it:
            pass
    assert "SIGKILL" in str(exc.value)
    assert _gone(pids)  # the surviving worker was shut down too


def test_timeout_raises_and_stuck_worker_is_terminated():
    it = iter(DataLoader(Slow(), num_workers=1, timeout=0.3))
    pids = [w.pid for w in it._workers]
    with pytest.raises(RuntimeError, match=r"^DataLoader timed out after 0.3 seconds$"):
        next(it)
    del it
    gc.collect()
    assert _gone(pids)


def test_workers_exit_when_iterator_is_dropped_or_exhausted():
    it = iter(DataLoader(Images(20), batch_size=2, num_workers=2))
    next(it)
    pids = [w.pid for w in it._workers]
    assert all(_alive(p) for p in pids)
    del it
    gc.collect()
    assert _gone(pids)
    assert not [p for p in multiprocessing.active_children() if p.pid in pids]

    it = iter(DataLoader(Images(6), batch_size=2, num_workers=2))
    pids = [w.pid for w in it._workers]
    assert len(list(it)) == 3
    assert _gone(pids)


class Wide(Dataset):
    """Samples of 256 KB: less than SHARED_MIN, so they go through the pipe, and more than a result
    pipe holds (256 KiB with the pickle's header, or 64 KiB where the system refuses to widen it)."""

    def __len__(self):
        return 16

    def __getitem__(self, i):
        return np.full(1 << 16, i, dtype=np.float32)


def test_workers_blocked_sending_a_batch_exit_by_themselves_when_the_iterator_goes():
    # each worker's second batch cannot fit its pipe: the worker waits in its send until the main
    # process reads, or closes the pipe at shutdown (then it exits, rather than being terminated
    # after the shutdown's one-second joins)
    it = iter(DataLoader(Wide(), batch_size=1, num_workers=2))
    assert next(it)[0, 0] == 0
    workers = list(it._workers)
    time.sleep(0.5)   # (time for the workers to reach their blocked sends; the result holds either way)
    del it
    gc.collect()
    assert [w.exitcode for w in workers] == [0, 0]


@pytest.mark.skipif(sys.platform != "linux", reason="pipe sizes are Linux's")
def test_result_pipes_hold_the_prefetched_batches():
    # a worker whose prefetched batches fit its pipe never waits in its send for the main process's
    # read (two of the spec's batches of 4 images, 48 KB each, overfilled the 64 KiB default pipe)
    import fcntl
    r, w = os.pipe()
    try:
        fcntl.fcntl(r, fcntl.F_SETPIPE_SZ, 1 << 18)
        widened = True
    except PermissionError:   # over the system's limits: pipes keep their 64 KiB
        widened = False
    finally:
        os.close(r)
        os.close(w)
    it = iter(DataLoader(Images(8), batch_size=2, num_workers=2))
    sizes = [fcntl.fcntl(p.fileno(), fcntl.F_GETPIPE_SZ) for p in it._result_pipes]
    assert sizes == [1 << 18 if widened else 1 << 16] * 2
    assert len(list(it)) == 4


def test_out_of_order_delivery_with_workers():
    # in_order=False: a batch held up by a slow sample no longer holds up the others
    got = _labels(DataLoader(Images(12, slow=1), batch_size=2, num_workers=2, in_order=False))
    assert sorted(got) == [[i, i + 1] for i in range(0, 12, 2)]
    loader = DataLoader(Images(12), batch_size=2, num_workers=2, in_order=False, persistent_workers=True)
    assert sorted(_labels(loader)) == sorted(_labels(loader)) == [[i, i + 1] for i in range(0, 12, 2)]


def test_persistent_workers_survive_epochs():
    loader = DataLoader(Images(8), batch_size=2, num_workers=2, persistent_workers=True)
    first = _labels(loader)
    pids = [w.pid for w in loader._iterator._workers]
    second = _labels(loader)
    assert first == second == [[0, 1], [2, 3], [4, 5], [6, 7]]
    assert [w.pid for w in loader._iterator._workers] == pids and all(_alive(p) for p in pids)
    # a partly consumed epoch, then a fresh one, still gives everything in order
    it = iter(loader)
    next(it)
    assert _labels(loader) == first
    del loader, it
    gc.collect()
    assert _gone(pids)


def test_worker_init_fn_runs_in_each_worker():
    out = list(DataLoader(ReportsInit(), batch_size=None, num_workers=2, worker_init_fn=_init_fn))
    assert out == [100, 101, 100, 101]
    assert _init_value is None  # the main process is untouched


def test_iterable_dataset_sharded_across_workers():
    loader = DataLoader(Sharded(10), batch_size=2, num_workers=2)
    assert [b.tolist() for b in loader] == [[0, 2], [1, 3], [4, 6], [5, 7], [8], [9]]
    loader = DataLoader(Sharded(10), batch_size=2, num_workers=2, drop_last=True)
    assert [b.tolist() for b in loader] == [[0, 2], [1, 3], [4, 6], [5, 7]]


def test_spawn_context_works():
    ref = _labels(DataLoader(Images(6), batch_size=2))
    loader = DataLoader(Images(6), batch_size=2, num_workers=2, multiprocessing_context="spawn")
    assert _labels(loader) == ref


def test_a_worker_killed_between_batches_is_reported_not_a_broken_pipe():
    # after the kill, the loader may first hand the dead worker a new index (its pipe is closed) or first
    # wait for a result: either way the error names the dead worker (ember once raised BrokenPipeError)
    for _ in range(8):   # the race is won about half the time: eight rounds lose it almost surely
        it = iter(DataLoader(list(range(40)), batch_size=1, num_workers=2))
        next(it)
        victim = it._workers[1]
        os.kill(victim.pid, signal.SIGKILL)
        victim.join(timeout=10)
        with pytest.raises(RuntimeError, match=rf"DataLoader worker \(pid\(s\) {victim.pid}\) exited unexpectedly"):
            for _ in it:
                pass


def _die_inside_the_done_check(flag):
    # the worst moment to be killed: while reading the shutdown signal (a multiprocessing Event would be
    # holding its lock here, and the main process's set() would wait for it forever)
    lock = getattr(flag, "_cond", None)
    if lock is not None:
        lock.acquire()
    os.kill(os.getpid(), signal.SIGKILL)


def test_a_worker_killed_while_reading_the_shutdown_signal_does_not_hang_shutdown(monkeypatch):
    import multiprocessing.synchronize
    from ember.utils.data._utils import worker
    # whatever the loader's signal is made of (fork: the workers inherit the patches)
    from ember.utils.data import dataloader
    monkeypatch.setattr(worker.DoneFlag, "is_set", _die_inside_the_done_check)
    monkeypatch.setattr(multiprocessing.synchronize.Event, "is_set", _die_inside_the_done_check)
    made, init = [], dataloader._MultiProcessingDataLoaderIter.__init__

    def keep(self, loader):   # (the iterator, even when its __init__ raises)
        made.append(self)
        init(self, loader)
    monkeypatch.setattr(dataloader._MultiProcessingDataLoaderIter, "__init__", keep)
    loader = DataLoader(list(range(40)), batch_size=1, num_workers=2, multiprocessing_context="fork")
    with pytest.raises(RuntimeError, match=r"DataLoader worker \(pid\(s\) .*\) exited unexpectedly"):
        for _ in loader:   # (a worker may die before the first indices go out: then iter() itself raises)
            pass
    it = made[0]
    pids = [w.pid for w in it._workers]
    it._shutdown_workers()   # returns (under the alarm): no lock a dead worker could have kept
    assert _gone(pids)


# ---- large arrays through shared memory ------------------------------------------------------
class BigImages(Dataset):
    """ImageNet-sized samples (3 x 224 x 224 float32, 588 KB): a batch of 2 passes SHARED_MIN and goes
    through shared memory; with it a small array and a Python value."""

    def __len__(self):
        return 6

    def __getitem__(self, i):
        img = np.arange(3 * 224 * 224, dtype=np.float32).reshape(3, 224, 224) + i
        return {"img": ember.from_numpy(img), "small": np.full(3, i), "label": i}


def _fd_count():
    return len(os.listdir("/proc/self/fd"))


def _mappings():
    """The shared batch arrays' mappings in this process."""
    with open("/proc/self/maps") as f:
        return sum("ember-batch" in line for line in f)


def _each(loader):
    return [(b["img"].numpy().copy(), b["small"].numpy().copy(), b["label"].tolist()) for b in loader]


needs_memfd = pytest.mark.skipif(not hasattr(os, "memfd_create"), reason="shared batches need memfd_create")


@needs_memfd
@pytest.mark.parametrize("context", ["fork", "spawn"])
def test_large_batches_come_through_shared_memory(context):
    from ember.utils.data._utils import worker
    ref = _each(DataLoader(BigImages(), batch_size=2))
    list(DataLoader(Images(2), batch_size=2, num_workers=1, multiprocessing_context=context))
    before = _fd_count()   # (after multiprocessing's own first descriptors: its shared heap)
    loader = DataLoader(BigImages(), batch_size=2, num_workers=2, multiprocessing_context=context)
    got = []
    for b in loader:
        img = b["img"].numpy()
        # the batch's image array lives in a shared mapping, writable as any batch's; the small one not
        assert img.nbytes >= worker.SHARED_MIN and worker.is_shared(img)
        assert not worker.is_shared(b["small"].numpy())
        img[0, 0, 0, 0] += 1
        img[0, 0, 0, 0] -= 1
        got.append((img.copy(), b["small"].numpy().copy(), b["label"].tolist()))
        del b, img
    assert len(got) == len(ref)
    for (a, b, c), (d, e, f) in zip(got, ref):
        np.testing.assert_array_equal(a, d)
        np.testing.assert_array_equal(b, e)
        assert c == f
    del loader
    gc.collect()
    assert _fd_count() <= before   # every descriptor received was closed


def collate_many(batch):
    """More arrays than one message carries descriptors for (worker._FDS_PER_MESSAGE), and arrays that
    stay in the pickle: a non-contiguous one and an object array."""
    arrays = [np.full(3, i * 1000 + k) for i, _ in enumerate(batch) for k in range(230)]
    return arrays + [np.arange(80.0).reshape(5, 16)[:, ::2], np.array([{"a": 1}, None], dtype=object),
                     np.arange(60.0).reshape(3, 4, 5).transpose(2, 0, 1)]


@needs_memfd
def test_batches_with_hundreds_of_shared_arrays(monkeypatch):
    from ember.utils.data._utils import worker
    monkeypatch.setattr(worker, "SHARED_MIN", 1)   # (forked workers inherit it)
    list(DataLoader(Images(2), batch_size=2, num_workers=1))
    before = _fd_count()
    loader = DataLoader(Images(6), batch_size=2, num_workers=2, collate_fn=collate_many)
    batches = list(loader)
    del loader
    gc.collect()
    # 1,383 arrays alive in shared memory hold no descriptor (the open-files limit is often 1,024)
    assert _fd_count() <= before and _mappings() == 3 * 461
    assert len(batches) == 3 and all(len(b) == 463 for b in batches)
    dense = np.arange(60.0).reshape(3, 4, 5).transpose(2, 0, 1)
    for b in batches:
        assert all(worker.is_shared(a) for a in b[:460])
        assert [a[0] for a in b[:460]] == [i * 1000 + k for i in range(2) for k in range(230)]
        np.testing.assert_array_equal(b[460], np.arange(80.0).reshape(5, 16)[:, ::2])   # (not dense: pickled)
        assert not worker.is_shared(b[460])
        assert b[461][0] == {"a": 1}
        # a dense array in another dim order: shared as its memory, its strides kept
        assert worker.is_shared(b[462]) and b[462].strides == dense.strides
        np.testing.assert_array_equal(b[462], dense)
    del b, batches
    gc.collect()
    assert _mappings() == 0   # unmapped with their last array
