"""The DataLoader worker process: its loop, its seeding, and get_worker_info().

The loop is a module-level function so that the 'spawn' start method can pickle it by name.
"""
import os
import pickle
import random
from dataclasses import dataclass

import numpy as np

from . import WORKER_STATUS_CHECK_INTERVAL, ExceptionWrapper

_worker_info = None


@dataclass(frozen=True)
class WorkerInfo:
    """What a worker process knows about itself: id, num_workers, seed and its copy of the dataset."""

    id: int
    num_workers: int
    seed: int
    dataset: object
    rng: object = None  # torch's fields, printed in its repr
    worker_method: str = "multiprocessing"


def get_worker_info():
    """Inside a DataLoader worker, its WorkerInfo (id, num_workers, seed, dataset); None in the main process."""
    return _worker_info


@dataclass(frozen=True)
class _IterableDatasetStopIteration:
    """Sent by a worker whose copy of an IterableDataset is exhausted."""

    worker_id: int


@dataclass(frozen=True)
class _ResumeIteration:
    """Sent to persistent workers at the start of a new epoch."""

    seed: object = None


class ManagerWatchdog:
    """Tells a worker whether the process that started it is still alive."""

    def __init__(self):
        self.manager_pid = os.getppid()
        self.manager_dead = False

    def is_alive(self):
        if not self.manager_dead:
            self.manager_dead = os.getppid() != self.manager_pid
        return not self.manager_dead


def _numpy_seed(base_seed, worker_id):
    """A 128-bit NumPy seed from (base_seed, worker_id), decorrelated from Python's random.seed(base_seed
    + worker_id) (the same integer seeding both would give correlated streams)."""
    mask = 0xFFFFFFFF
    entropy = [worker_id, base_seed & mask, base_seed >> 32, 0]
    return np.random.SeedSequence(entropy).generate_state(4, np.uint32)


def _seed_worker(base_seed, worker_id):
    """Give this worker its own streams: Python's random, NumPy's global RNG, ember's default generator.

    Without this, forked workers inherit identical NumPy state and draw identical "random"
    augmentations (pytorch/pytorch#5059).
    """
    from ....random import default_generator
    seed = base_seed + worker_id
    random.seed(seed)
    default_generator.manual_seed(seed)
    np.random.seed(_numpy_seed(base_seed, worker_id))
    return seed


def _limit_blas_threads():
    """One BLAS thread per worker (the workers already run in parallel); only when threadpoolctl exists."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return None
    try:
        return threadpool_limits(limits=1)
    except Exception:
        return None


def _send(data_queue, item, worker_id):
    """Pickle here, not in the queue's feeder thread: a batch that cannot be pickled then becomes an
    exception for the main process instead of a silently dropped batch (and a hang)."""
    try:
        payload = pickle.dumps(item, pickle.HIGHEST_PROTOCOL)
    except Exception:
        wrapper = item[1] if isinstance(item[1], ExceptionWrapper) else ExceptionWrapper(
            where=f"in DataLoader worker process {worker_id}")
        try:
            payload = pickle.dumps((item[0], wrapper), pickle.HIGHEST_PROTOCOL)
        except Exception:
            # the exception's class itself cannot be pickled (defined in a function): keep its text
            wrapper.exc_msg = f"{wrapper.exc_type.__qualname__}: {wrapper.exc_msg}"
            wrapper.exc_type = RuntimeError
            payload = pickle.dumps((item[0], wrapper), pickle.HIGHEST_PROTOCOL)
    data_queue.put(payload)


class DoneFlag:
    """The main process's "shutting down" signal to its workers: one shared byte, read and written
    without a lock. A multiprocessing Event takes a lock even to read, and a worker killed while it
    held that lock (SIGKILL, the OOM killer) left the main process hanging forever in set()."""

    def __init__(self, ctx):
        self._flag = ctx.RawValue("b", 0)

    def set(self):
        self._flag.value = 1

    def is_set(self):
        return self._flag.value != 0


def _worker_loop(dataset_kind, dataset, index_pipe, data_queue, done_event, auto_collation, collate_fn,
                 drop_last, base_seed, init_fn, worker_id, num_workers, persistent_workers, inherited=()):
    """Receive (task_idx, index) from index_pipe, put (task_idx, batch or ExceptionWrapper) on data_queue,
    until None arrives or the parent dies."""
    from ..dataloader import _DatasetKind
    global _worker_info
    for conn in inherited:
        conn.close()  # write ends of index pipes copied by fork: keep only the main process's
    try:
        limits = _limit_blas_threads()  # noqa: F841  (kept alive for the worker's lifetime)
        seed = _seed_worker(base_seed, worker_id)
        _worker_info = WorkerInfo(id=worker_id, num_workers=num_workers, seed=seed, dataset=dataset)

        init_exception = None
        fetcher = None
        try:
            if init_fn is not None:
                init_fn(worker_id)
            fetcher = _DatasetKind.create_fetcher(dataset_kind, dataset, auto_collation, collate_fn, drop_last)
        except Exception:
            init_exception = ExceptionWrapper(where=f"in DataLoader worker process {worker_id}")

        # iteration_end: this worker's IterableDataset copy is exhausted; from then on it only
        # waits for None (it cannot set done_event, which is shared by all workers).
        iteration_end = False
        parent_gone = False
        watchdog = ManagerWatchdog()
        while watchdog.is_alive():
            try:
                if not index_pipe.poll(WORKER_STATUS_CHECK_INTERVAL):
                    if done_event.is_set():
                        break  # the main process is shutting down and its None did not come
                    continue
                r = index_pipe.recv()
            except (EOFError, OSError):
                parent_gone = True  # the main process closed its end: nobody will read results
                break
            if isinstance(r, _ResumeIteration):
                _send(data_queue, (r, None), worker_id)  # acknowledge the new epoch
                iteration_end = False
                fetcher = _DatasetKind.create_fetcher(dataset_kind, dataset, auto_collation, collate_fn,
                                                      drop_last)
                continue
            if r is None:
                break  # the final signal
            if done_event.is_set() or iteration_end:
                continue  # shutting down: skip work, wait for None
            idx, index = r
            if init_exception is not None:
                data = init_exception
                init_exception = None
            else:
                try:
                    data = fetcher.fetch(index)
                except Exception as e:
                    if isinstance(e, StopIteration) and dataset_kind == _DatasetKind.Iterable:
                        data = _IterableDatasetStopIteration(worker_id)
                        iteration_end = True
                    else:
                        data = ExceptionWrapper(where=f"in DataLoader worker process {worker_id}")
            _send(data_queue, (idx, data), worker_id)
            del data, idx, index, r  # don't hold the last batch while waiting
        parent_gone = parent_gone or not watchdog.is_alive()
    except KeyboardInterrupt:
        parent_gone = False  # the main process gets its own KeyboardInterrupt
    if parent_gone or done_event.is_set():
        # the main process may no longer read: don't block exit on flushing the queue
        data_queue.cancel_join_thread()
        data_queue.close()
