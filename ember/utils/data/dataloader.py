"""DataLoader: batches from a dataset, in the main process or in worker processes.

With num_workers > 0 the loader starts real processes (multiprocessing; 'fork' on Linux unless
told otherwise). Each worker has its own pipe for indices and its own pipe for results. The main
process keeps prefetch_factor batches per worker in flight, hands them out in sampler order
(reading the pipe of the worker whose batch is next; with in_order=False whichever is ready), and
while waiting polls the workers' liveness every MP_STATUS_CHECK_INTERVAL seconds, so that a dead
worker or a timeout raises instead of hanging.
"""
import itertools
import multiprocessing
import multiprocessing.connection
import os
import pickle
import select
import socket
import sys

import numpy as np

from ...random import default_generator
from . import _utils
from ._utils.collate import default_collate, default_convert
from ._utils.worker import _IterableDatasetStopIteration, _ResumeIteration, get_worker_info
from .dataset import IterableDataset
from .sampler import BatchSampler, RandomSampler, Sampler, SequentialSampler
from ..._userwarn import warn as _warn_user

__all__ = ["DataLoader", "default_collate", "default_convert", "get_worker_info"]

try:
    from fcntl import fcntl as _fcntl, F_SETPIPE_SZ as _F_SETPIPE_SZ
except ImportError:   # (not Linux)
    _fcntl = None

# A worker's result pipe holds this many bytes (Linux's default is 64 KiB).  At 64 KiB a worker's second
# prefetched batch of the spec's (4, 3, 32, 32) images blocked its send, and each read of the main
# process then woke it: reading and unpickling a batch took the main process 70-78 us, against 34-67
# with the batches waiting whole in the pipe.  Not more: Linux counts every pipe's size against a per-user
# budget (fs.pipe-user-pages-soft, 64 MiB), past which a user's new pipes get a page or two.
_RESULT_PIPE_BYTES = 1 << 18


def _widen(conn):
    """Let conn's pipe hold _RESULT_PIPE_BYTES where the system allows it (else it keeps its size)."""
    if _fcntl is not None:
        try:
            _fcntl(conn.fileno(), _F_SETPIPE_SZ, _RESULT_PIPE_BYTES)
        except OSError:
            pass


class _DatasetKind:
    Map = 0
    Iterable = 1

    @staticmethod
    def create_fetcher(kind, dataset, auto_collation, collate_fn, drop_last):
        if kind == _DatasetKind.Map:
            return _utils.fetch._MapDatasetFetcher(dataset, auto_collation, collate_fn, drop_last)
        return _utils.fetch._IterableDatasetFetcher(dataset, auto_collation, collate_fn, drop_last)


class _InfiniteConstantSampler(Sampler):
    """The sampler of an IterableDataset: None forever (the dataset decides when to stop)."""

    def __iter__(self):
        while True:
            yield None


def _default_context():
    """'fork' on Linux (fast start, dataset not pickled) unless the user chose a start method."""
    chosen = multiprocessing.get_start_method(allow_none=True)
    if chosen is None and sys.platform.startswith("linux"):
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context(chosen)


class DataLoader:
    """Iterates over a dataset in (shuffled) batches, optionally loading them in worker processes."""

    _initialized = False

    def __init__(self, dataset, batch_size=1, shuffle=None, sampler=None, batch_sampler=None, num_workers=0,
                 collate_fn=None, pin_memory=False, drop_last=False, timeout=0, worker_init_fn=None,
                 multiprocessing_context=None, generator=None, *, prefetch_factor=None,
                 persistent_workers=False, pin_memory_device="", in_order=True):
        if num_workers < 0:
            raise ValueError("num_workers option should be non-negative; "
                             "use num_workers=0 to disable multiprocessing.")
        if timeout < 0:
            raise ValueError("timeout option should be non-negative")
        if num_workers == 0 and prefetch_factor is not None:
            raise ValueError("prefetch_factor option could only be specified in multiprocessing."
                             "let num_workers > 0 to enable multiprocessing, otherwise set prefetch_factor to None.")
        elif num_workers > 0 and prefetch_factor is None:
            prefetch_factor = 2
        elif prefetch_factor is not None and prefetch_factor < 0:
            raise ValueError("prefetch_factor option should be non-negative")
        if persistent_workers and num_workers == 0:
            raise ValueError("persistent_workers option needs num_workers > 0")

        self.dataset = dataset
        self.num_workers = num_workers
        self.prefetch_factor = prefetch_factor
        self.pin_memory = pin_memory
        self.pin_memory_device = pin_memory_device
        self.timeout = timeout
        self.worker_init_fn = worker_init_fn
        self.multiprocessing_context = multiprocessing_context
        self.in_order = in_order

        # dataset checks come before sampler checks, as in torch: the user learns first that an
        # IterableDataset takes no sampler at all
        if isinstance(dataset, IterableDataset):
            self._dataset_kind = _DatasetKind.Iterable
            if shuffle not in {False, None}:
                raise ValueError(f"DataLoader with IterableDataset: expected unspecified shuffle option, "
                                 f"but got shuffle={shuffle}")
            if sampler is not None:
                raise ValueError(f"DataLoader with IterableDataset: expected unspecified sampler option, "
                                 f"but got sampler={sampler}")
            if batch_sampler is not None:
                raise ValueError("DataLoader with IterableDataset: expected unspecified batch_sampler option, "
                                 f"but got batch_sampler={batch_sampler}")
        else:
            shuffle = bool(shuffle)
            self._dataset_kind = _DatasetKind.Map

        if sampler is not None and shuffle:
            raise ValueError("sampler option is mutually exclusive with shuffle")

        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError("batch_sampler option is mutually exclusive with batch_size, shuffle, "
                                 "sampler, and drop_last")
            batch_size = None
            drop_last = False
        elif batch_size is None:
            if drop_last:
                raise ValueError("batch_size=None option disables auto-batching and is mutually exclusive "
                                 "with drop_last")

        if sampler is None:
            if self._dataset_kind == _DatasetKind.Iterable:
                sampler = _InfiniteConstantSampler()
            elif shuffle:
                sampler = RandomSampler(dataset, generator=generator)
            else:
                sampler = SequentialSampler(dataset)

        if batch_size is not None and batch_sampler is None:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)

        self.batch_size = batch_size
        self.drop_last = drop_last
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        self.generator = generator

        if collate_fn is None:
            collate_fn = default_collate if self._auto_collation else default_convert
        self.collate_fn = collate_fn
        self.persistent_workers = persistent_workers

        self._IterableDataset_len_called = None
        self._iterator = None
        self._initialized = True
        self.check_worker_number_rationality()

    # ---- configuration ----------------------------------------------------
    @property
    def multiprocessing_context(self):
        return self._multiprocessing_context

    @multiprocessing_context.setter
    def multiprocessing_context(self, multiprocessing_context):
        if multiprocessing_context is not None:
            if self.num_workers > 0:
                if isinstance(multiprocessing_context, str):
                    valid_start_methods = multiprocessing.get_all_start_methods()
                    if multiprocessing_context not in valid_start_methods:
                        raise ValueError(
                            "multiprocessing_context option should specify a valid start method in "
                            f"{valid_start_methods!r}, but got multiprocessing_context={multiprocessing_context!r}")
                    multiprocessing_context = multiprocessing.get_context(multiprocessing_context)
                if not isinstance(multiprocessing_context, multiprocessing.context.BaseContext):
                    raise TypeError(
                        "multiprocessing_context option should be a valid context object or a string "
                        f"specifying the start method, but got multiprocessing_context={multiprocessing_context}")
            else:
                raise ValueError(
                    "multiprocessing_context can only be used with multi-process loading (num_workers > 0), "
                    f"but got num_workers={self.num_workers}")
        self._multiprocessing_context = multiprocessing_context

    def __setattr__(self, attr, val):
        if self._initialized and attr in ("batch_size", "batch_sampler", "sampler", "drop_last", "dataset",
                                          "persistent_workers"):
            raise ValueError(f"{attr} attribute should not be set after {self.__class__.__name__} is initialized")
        super().__setattr__(attr, val)

    @property
    def _auto_collation(self):
        return self.batch_sampler is not None

    @property
    def _index_sampler(self):
        # what the fetcher is driven by: batches of indices, or single indices without auto-batching
        return self.batch_sampler if self._auto_collation else self.sampler

    def check_worker_number_rationality(self):
        """Warn when num_workers exceeds the CPUs this process may use."""
        if not self.num_workers:
            return
        if hasattr(os, "sched_getaffinity"):
            max_workers, cpuset_checked = len(os.sched_getaffinity(0)), True
        else:
            max_workers, cpuset_checked = os.cpu_count(), False
        if max_workers is None or self.num_workers > max_workers:
            suggest = (
                f"Our suggested max number of worker in current system is {max_workers}"
                f"{'' if cpuset_checked else ' (`cpuset` is not taken into account)'}, which is smaller than "
                "what this DataLoader is going to create." if max_workers is not None else
                "DataLoader is not able to compute a suggested max number of worker in current system.")
            _warn_user(
                f"This DataLoader will create {self.num_workers} worker processes in total. {suggest} "
                "Please be aware that excessive worker creation might get DataLoader running slow or even "
                "freeze, lower the worker number to avoid potential slowness/freeze if necessary.")

    # ---- iteration --------------------------------------------------------
    def _get_iterator(self):
        if self.num_workers == 0:
            return _SingleProcessDataLoaderIter(self)
        self.check_worker_number_rationality()
        return _MultiProcessingDataLoaderIter(self)

    def __iter__(self):
        # persistent workers: one iterator (and one set of processes) for the loader's lifetime
        if self.persistent_workers and self.num_workers > 0:
            if self._iterator is None or self._iterator._shutdown:
                self._iterator = self._get_iterator()
            else:
                self._iterator._reset(self)
            return self._iterator
        return self._get_iterator()

    def __len__(self):
        if self._dataset_kind == _DatasetKind.Iterable:
            # trust the IterableDataset's own __len__ (TypeError when it has none)
            length = self._IterableDataset_len_called = len(self.dataset)
            if self.batch_size is not None:
                if self.drop_last:
                    length = length // self.batch_size
                else:
                    length = -(-length // self.batch_size)
            return length
        return len(self._index_sampler)


class _BaseDataLoaderIter:
    def __init__(self, loader):
        self._dataset = loader.dataset
        self._dataset_kind = loader._dataset_kind
        self._IterableDataset_len_called = loader._IterableDataset_len_called
        self._auto_collation = loader._auto_collation
        self._drop_last = loader.drop_last
        self._index_sampler = loader._index_sampler
        self._num_workers = loader.num_workers
        if loader.pin_memory:
            from ... import cuda
            if not cuda.is_available():
                _warn_user("'pin_memory' argument is set as true but no accelerator is found, then device "
                           "pinned memory won't be used.")
        self._timeout = loader.timeout
        self._collate_fn = loader.collate_fn
        self._sampler_iter = iter(self._index_sampler)
        # the workers' seeds derive from this, drawn from the loader's generator (or the default one)
        # torch: torch.empty((), dtype=torch.int64).random_(generator=loader.generator), drawn before
        # the sampler's first draw (the sampler is a generator function, run on first next())
        self._base_seed = int((loader.generator or default_generator).random_full((), np.int64))
        self._persistent_workers = loader.persistent_workers
        self._num_yielded = 0
        self._shutdown = False

    def __iter__(self):
        return self

    def _reset(self, loader, first_iter=False):
        self._sampler_iter = iter(self._index_sampler)
        self._num_yielded = 0
        self._IterableDataset_len_called = loader._IterableDataset_len_called

    def _next_index(self):
        return next(self._sampler_iter)  # may raise StopIteration

    def _next_data(self):
        raise NotImplementedError

    def __next__(self):
        data = self._next_data()
        self._num_yielded += 1
        if (self._dataset_kind == _DatasetKind.Iterable and self._IterableDataset_len_called is not None
                and self._num_yielded > self._IterableDataset_len_called):
            msg = (f"Length of IterableDataset {self._dataset} was reported to be "
                   f"{self._IterableDataset_len_called}(when accessing len(dataloader)), but "
                   f"{self._num_yielded} samples have been fetched. ")
            if self._num_workers > 0:
                msg += ("For multiprocessing data-loading, this could be caused by not properly configuring the "
                        "IterableDataset replica at each worker. Please see "
                        "https://pytorch.org/docs/stable/data.html#torch.utils.data.IterableDataset for examples.")
            _warn_user(msg)
        return data

    def next(self):
        """The next batch (the old iterator API the tutorial uses: dataiter.next())."""
        return self.__next__()

    def __len__(self):
        return len(self._index_sampler)

    def __getstate__(self):
        raise NotImplementedError(f"{self.__class__.__name__} cannot be pickled")


class _SingleProcessDataLoaderIter(_BaseDataLoaderIter):
    def __init__(self, loader):
        super().__init__(loader)
        if self._timeout != 0:
            raise AssertionError("_SingleProcessDataLoaderIter requires timeout == 0")
        self._dataset_fetcher = _DatasetKind.create_fetcher(
            self._dataset_kind, self._dataset, self._auto_collation, self._collate_fn, self._drop_last)

    def _next_data(self):
        index = self._next_index()  # may raise StopIteration
        return self._dataset_fetcher.fetch(index)  # may raise StopIteration


class _MultiProcessingDataLoaderIter(_BaseDataLoaderIter):
    """Batches from worker processes, in sampler order."""

    def __init__(self, loader):
        super().__init__(loader)
        self._prefetch_factor = loader.prefetch_factor
        self._in_order = loader.in_order
        if self._prefetch_factor <= 0:
            raise AssertionError("prefetch_factor must be greater than 0 for MultiProcessingDataLoaderIter "
                                 f"(got prefetch_factor={self._prefetch_factor}); leave it None for the default 2")
        ctx = loader.multiprocessing_context or _default_context()
        self._worker_init_fn = loader.worker_init_fn
        self._workers_done_event = _utils.worker.DoneFlag(ctx)
        # Indices travel on one-way pipes written synchronously by this thread: unlike a Queue's
        # feeder thread, a pipe still delivers the final None when this iterator is collected as
        # part of a reference cycle (the cycle collector may already have stopped a Queue's feeder).
        self._index_queues = []
        # each worker's result pipe (read end) and a poll object on it: Connection.poll's selector
        # took ~10 us a batch
        self._result_pipes = []
        self._result_polls = []
        self._workers = []
        # each worker's socket for the descriptors of the shared memory its batches' large arrays
        # travel in (worker._send); the main process keeps one end of each
        self._fd_socks = []
        self._owner_pid = os.getpid()
        forked = ctx.get_start_method() == "fork"
        share = _utils.worker.can_share()
        try:
            for i in range(self._num_workers):
                index_reader, index_writer = ctx.Pipe(duplex=False)
                result_reader, result_writer = ctx.Pipe(duplex=False)
                _widen(result_reader)
                mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM) if share else (None, None)
                # a forked worker inherits the index write ends created so far (its own included) and
                # closes them, so that it sees EOF as soon as the main process closes its end; and the
                # result read ends, so that a send of its own or of another worker fails (rather than
                # blocks) once the main process closes them
                inherited = self._index_queues + [index_writer] + self._result_pipes + [result_reader] \
                    if forked else []
                if forked and share:
                    inherited += self._fd_socks + [mine]
                w = ctx.Process(
                    target=_utils.worker._worker_loop,
                    args=(self._dataset_kind, self._dataset, index_reader, result_writer,
                          self._workers_done_event, self._auto_collation, self._collate_fn, self._drop_last,
                          self._base_seed, self._worker_init_fn, i, self._num_workers,
                          self._persistent_workers, inherited, theirs),
                    name=f"ember_data_worker_{i}")
                w.daemon = True
                # register only started workers: joining an unstarted process would fail
                try:
                    w.start()
                finally:
                    # only the worker reads indices and writes results; later workers must not
                    # inherit these ends either (a dead worker's results then end in EOF)
                    index_reader.close()
                    result_writer.close()
                    if theirs is not None:
                        theirs.close()
                self._index_queues.append(index_writer)
                self._result_pipes.append(result_reader)
                poll = select.poll()
                poll.register(result_reader.fileno(), select.POLLIN)
                self._result_polls.append(poll)
                self._fd_socks.append(mine)
                self._workers.append(w)
        except BaseException:
            self._workers_status = [True] * len(self._workers)
            self._shutdown_workers()
            raise
        self._reset(loader, first_iter=True)

    def _reset(self, loader, first_iter=False):
        super()._reset(loader, first_iter)
        self._send_idx = 0  # the next task to send to a worker
        self._rcvd_idx = 0  # the next task to hand to the user
        # task idx -> (worker_id,) while outstanding, (worker_id, data) once arrived out of order
        self._task_info = {}
        self._tasks_outstanding = 0
        # whether each worker still has work this epoch (False once its IterableDataset copy ended)
        self._workers_status = [True] * self._num_workers
        self._workers_num_tasks = [0] * self._num_workers
        self._worker_queue_idx_cycle = itertools.cycle(range(self._num_workers))
        if not first_iter:
            # persistent workers: start a new epoch and wait until every worker acknowledges it
            for idx in range(self._num_workers):
                self._index_queues[idx].send(_ResumeIteration())
            for idx in range(self._num_workers):
                # (a batch of an epoch left early may come first)
                while not isinstance(self._get_data(idx)[0], _ResumeIteration):
                    pass
        for _ in range(self._prefetch_factor * self._num_workers):
            self._try_put_index()

    def _try_get_data(self, timeout, worker_id=None):
        """(True, (idx, data)) if worker_id's pipe (None: any working worker's) had something within
        timeout, else (False, None); raises RuntimeError when a worker that still had work has died."""
        if worker_id is None:
            pipes = [p for p, working in zip(self._result_pipes, self._workers_status) if working]
            ready = multiprocessing.connection.wait(pipes, timeout)
            if not ready:
                self._raise_if_a_worker_died()
                return False, None
            worker_id = self._result_pipes.index(ready[0])
        elif not self._result_polls[worker_id].poll(timeout * 1000):
            self._raise_if_a_worker_died()
            return False, None
        try:
            payload = self._result_pipes[worker_id].recv_bytes()
        except (EOFError, OSError):
            # its end closed, perhaps in the middle of a batch: it died
            self._workers[worker_id].join(timeout=5)
            self._raise_if_a_worker_died()
            raise
        if self._fd_socks and self._fd_socks[0] is not None:
            return True, _utils.worker.loads_shared(payload, self._fd_socks)
        return True, pickle.loads(payload)

    def _raise_if_a_worker_died(self):
        failed = [w for worker_id, w in enumerate(self._workers)
                  if self._workers_status[worker_id] and not w.is_alive()]
        if failed:
            pids = ", ".join(str(w.pid) for w in failed)
            codes = ", ".join(_exit_reason(w.exitcode) for w in failed)
            self._shutdown_workers()
            raise RuntimeError(
                f"DataLoader worker (pid(s) {pids}) exited unexpectedly ({codes}). A worker can be "
                "killed by the system when it runs out of memory, or by a crash in native code; run "
                "with num_workers=0 to see the error in the main process.") from None

    def _get_data(self, worker_id=None):
        """The next (idx, data) from worker_id (None: from any working worker), waiting as long as the
        loader's timeout allows."""
        if self._timeout > 0:
            import time
            deadline = time.monotonic() + self._timeout
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise RuntimeError(f"DataLoader timed out after {self._timeout} seconds")
                success, data = self._try_get_data(min(left, _utils.MP_STATUS_CHECK_INTERVAL), worker_id)
                if success:
                    return data
        while True:
            success, data = self._try_get_data(_utils.MP_STATUS_CHECK_INTERVAL, worker_id)
            if success:
                return data

    def _next_data(self):
        if self._shutdown:
            raise StopIteration
        while True:
            # skip tasks whose worker ended (exhausted IterableDataset) before fulfilling them
            while self._rcvd_idx < self._send_idx:
                info = self._task_info.get(self._rcvd_idx)
                if info:
                    worker_id = info[0]
                    if len(info) == 2 or self._workers_status[worker_id]:
                        break
                    del self._task_info[self._rcvd_idx]
                self._rcvd_idx += 1
            else:
                if not self._persistent_workers:
                    self._shutdown_workers()
                raise StopIteration

            # the batch we want may already be waiting in the reorder buffer
            if len(self._task_info[self._rcvd_idx]) == 2:
                worker_id, data = self._task_info.pop(self._rcvd_idx)
                self._rcvd_idx += 1
                return self._process_data(data, worker_id)

            # in order, the next batch is the next message of the worker it went to
            idx, data = self._get_data(self._task_info[self._rcvd_idx][0] if self._in_order else None)
            self._tasks_outstanding -= 1
            if self._dataset_kind == _DatasetKind.Iterable and isinstance(data, _IterableDatasetStopIteration):
                if self._persistent_workers:
                    self._workers_status[data.worker_id] = False
                else:
                    self._mark_worker_as_unavailable(data.worker_id)
                self._try_put_index()
                continue

            if idx != self._rcvd_idx:
                if not self._in_order:
                    worker_id = self._task_info.pop(idx)[0]
                    return self._process_data(data, worker_id)
                self._task_info[idx] += (data,)  # arrived early: keep it for its turn
            else:
                worker_id = self._task_info.pop(idx)[0]
                self._rcvd_idx += 1
                return self._process_data(data, worker_id)

    def _try_put_index(self):
        try:
            index = self._next_index()
        except StopIteration:
            return
        max_tasks = self._prefetch_factor * self._num_workers
        for _ in range(self._num_workers):  # the next worker that still has work
            worker_queue_idx = next(self._worker_queue_idx_cycle)
            if self._workers_status[worker_queue_idx]:
                if self._in_order:
                    break
                if self._workers_num_tasks[worker_queue_idx] < max_tasks // sum(self._workers_status):
                    break
        else:
            return
        try:
            self._index_queues[worker_queue_idx].send((self._send_idx, index))
        except (BrokenPipeError, ConnectionResetError):
            # the worker closed its end: it died after its last result (torch's index queues buffer the put,
            # and the death surfaces on the next read); report it as that read would
            self._workers[worker_queue_idx].join(timeout=5)
            self._raise_if_a_worker_died()
            raise
        self._task_info[self._send_idx] = (worker_queue_idx,)
        self._workers_num_tasks[worker_queue_idx] += 1
        self._tasks_outstanding += 1
        self._send_idx += 1

    def _process_data(self, data, worker_idx):
        self._workers_num_tasks[worker_idx] -= 1
        self._try_put_index()
        if isinstance(data, _utils.ExceptionWrapper):
            data.reraise()
        return data

    def _mark_worker_as_unavailable(self, worker_id, shutdown=False):
        # tell that worker to exit; joining waits for _shutdown_workers
        try:
            self._index_queues[worker_id].send(None)
        except (OSError, ValueError):
            pass  # the worker is gone or the pipe already closed: it has nothing more to read
        self._workers_status[worker_id] = False

    def _shutdown_workers(self):
        """Stop the workers and release the queues; safe to call more than once."""
        if _utils is None or _utils.python_exit_status is True or _utils.python_exit_status is None:
            return  # interpreter exit: multiprocessing terminates daemon workers itself
        if self._shutdown or os.getpid() != self._owner_pid:
            return  # done already, or a forked child collecting its copy of this iterator
        self._shutdown = True
        try:
            self._workers_done_event.set()
            for worker_id in range(len(self._workers)):
                if self._persistent_workers or self._workers_status[worker_id]:
                    self._mark_worker_as_unavailable(worker_id, shutdown=True)
            # closed before the joins: a worker blocked sending a batch nobody will read then fails
            # at once and goes on to its None
            for conn in self._result_pipes:
                conn.close()
            for w in self._workers:
                w.join(timeout=1.0)
            for conn in self._index_queues + [s for s in self._fd_socks if s is not None]:
                try:
                    conn.close()
                except OSError:
                    pass  # the cycle collector may have closed it already (Connection.__del__)
        finally:
            for w in self._workers:
                if w.is_alive():
                    w.terminate()  # stuck in user code or a killed peer's lock: don't wait for it
                    w.join(timeout=1.0)
                if w.is_alive():
                    w.kill()
                    w.join(timeout=1.0)

    def __del__(self):
        if getattr(self, "_workers", None) is not None:
            self._shutdown_workers()


def _exit_reason(exitcode):
    if exitcode is None:
        return "still running"
    if exitcode < 0:
        import signal
        try:
            return f"killed by signal {signal.Signals(-exitcode).name}"
        except ValueError:
            return f"killed by signal {-exitcode}"
    return f"exit code {exitcode}"
