"""The DataLoader worker process: its loop, its seeding, and get_worker_info().

The loop is a module-level function so that the 'spawn' start method can pickle it by name.
"""
import ctypes
import io
import mmap
import multiprocessing.reduction
import os
import pickle
import random
import socket
import struct
from dataclasses import dataclass

import numpy as np

from .... import _memory_format as _mf
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


# Batches travel to the main process pickled through a pipe: ~250 MB/s here, 154 ms for a batch of
# 64 ImageNet-sized images (38 MB) where a copy takes 18.  Their large arrays go through shared memory
# instead, as torch's tensors do: each is copied once into a memfd whose descriptor follows on the
# worker's socket (SCM_RIGHTS), and the main process maps it as the array's memory.  No name in the
# file system, so nothing outlives the processes that hold the descriptor or the mapping.
SHARED_MIN = 1 << 20     # bytes: below, the pipe is cheaper than a memfd, a mapping and its faults
_FDS_PER_MESSAGE = 200   # (Linux passes at most 253 descriptors in one message)
_HEADER = struct.Struct("<qq")   # the sender's worker id, and the count of its descriptors on its socket


def can_share():
    """Whether this system lets workers hand arrays over in shared memory (Linux's memfd_create)."""
    return hasattr(os, "memfd_create") and hasattr(socket, "CMSG_SPACE")


class _SharingPickler(pickle.Pickler):
    """Pickles a batch, putting each large dense array into its own memfd (listed in fds) and only a
    reference to it in the pickle."""

    def __init__(self, file, fds):
        super().__init__(file, pickle.HIGHEST_PROTOCOL)
        self.fds = fds

    def persistent_id(self, obj):
        if type(obj) is not np.ndarray or obj.nbytes < SHARED_MIN or obj.dtype.hasobject \
                or obj.dtype.fields is not None:
            return None
        # a dense array in any dim order (a batch of HWC-strided images is channels-last) travels as
        # its memory, and the order that puts it back
        order = None if obj.flags.c_contiguous else _mf.dense_order(obj)
        src = obj if order is None else obj.transpose(order)
        if not src.flags.c_contiguous:
            return None
        fd = os.memfd_create("ember-batch", os.MFD_CLOEXEC)
        self.fds.append(fd)
        os.ftruncate(fd, src.nbytes)
        with mmap.mmap(fd, src.nbytes) as m:
            dst = np.ndarray(src.shape, src.dtype, buffer=m)
            dst[...] = src
            del dst
        inverse = None if order is None else tuple(int(i) for i in np.argsort(order))
        return ("ember-shared", len(self.fds) - 1, src.dtype.str, src.shape, inverse)


class _Mapping:
    """Pages of a memfd mapped into this process, unmapped when the last array over them goes.  Python's
    mmap.mmap would keep a duplicate of the descriptor open for as long (before 3.13's trackfd): one per
    batch array a user keeps, up to the open-files limit (often 1,024)."""

    __slots__ = ("addr", "size")
    _libc = None

    def __init__(self, fd, size):
        libc = _Mapping._libc
        if libc is None:
            libc = _Mapping._libc = ctypes.CDLL(None, use_errno=True)
            libc.mmap.restype = ctypes.c_void_p
            libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int,
                                  ctypes.c_long]
            libc.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
        addr = libc.mmap(None, size, mmap.PROT_READ | mmap.PROT_WRITE, mmap.MAP_SHARED, fd, 0)
        if addr in (None, ctypes.c_void_p(-1).value):
            raise OSError(ctypes.get_errno(), "mmap of a shared batch array failed")
        self.addr, self.size = addr, size

    def __del__(self):
        _Mapping._libc.munmap(self.addr, self.size)

    def array(self, shape, dtype):
        """An ndarray over the pages; it keeps this mapping alive."""
        buf = (ctypes.c_char * self.size).from_address(self.addr)
        buf.mapping = self
        return np.frombuffer(buf, dtype).reshape(shape)


def is_shared(a):
    """Whether array a lies in memory a worker shared (a _Mapping's pages)."""
    while isinstance(a, np.ndarray):
        a = a.base
    return isinstance(getattr(a, "mapping", None), _Mapping)


class _SharedUnpickler(pickle.Unpickler):
    def __init__(self, file, fds):
        super().__init__(file)
        self.fds = fds

    def persistent_load(self, pid):
        _, i, dtype, shape, inverse = pid
        dtype = np.dtype(dtype)
        a = _Mapping(self.fds[i], dtype.itemsize * int(np.prod(shape))).array(shape, dtype)
        return a if inverse is None else a.transpose(inverse)


def _dumps_shared(item, worker_id):
    """(payload, fds): _HEADER, then the pickle of item with its large arrays in memfds."""
    fds = []
    buf = io.BytesIO()
    buf.write(bytes(_HEADER.size))
    try:
        _SharingPickler(buf, fds).dump(item)
    except BaseException:
        for fd in fds:
            os.close(fd)
        raise
    buf.seek(0)
    buf.write(_HEADER.pack(worker_id, len(fds)))
    return buf.getbuffer(), fds


def loads_shared(payload, socks):
    """The batch a worker sent: its pickle (after the header), the memfds from its socket in socks."""
    worker_id, n = _HEADER.unpack_from(payload)
    body = memoryview(payload)[_HEADER.size:]
    if not n:
        return pickle.loads(body)
    fds = []
    try:
        while len(fds) < n:
            fds += multiprocessing.reduction.recvfds(socks[worker_id], min(n - len(fds), _FDS_PER_MESSAGE))
        return _SharedUnpickler(io.BytesIO(body), fds).load()
    finally:
        for fd in fds:
            os.close(fd)   # (a mapping needs no descriptor: see _Mapping)


def _send(conn, item, worker_id, sock=None):
    """Send item on conn, this worker's own pipe to the main process, from this thread.  A shared
    Queue's feeder thread, its lock and its second pickle of each payload cost the workers ~70 us of
    CPU a batch and the main process ~30 (the spec's CIFAR-10 at batch 4: 647 -> 577 and 143 -> 111).
    A pipe full of batches the main process has not read yet blocks the send; the main process reads
    the pipe of the worker whose batch it needs next, or closes it at shutdown.  Pickled here, so a
    batch that cannot be pickled becomes an exception for the main process instead of a silently
    dropped batch (and a hang).  With sock, the batch's large arrays go in shared memory (see
    SHARED_MIN) and the payload starts with _HEADER."""
    payload = None
    if sock is not None:
        try:
            payload, fds = _dumps_shared(item, worker_id)
        except Exception:
            payload = None   # (not picklable: the plain path below reports it)
        if payload is not None:
            try:
                for i in range(0, len(fds), _FDS_PER_MESSAGE):
                    multiprocessing.reduction.sendfds(sock, fds[i:i + _FDS_PER_MESSAGE])
            except OSError:
                return   # the main process closed its end: it is shutting down and reads no more
            finally:
                for fd in fds:
                    os.close(fd)
    if payload is None:
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
        if sock is not None:
            payload = _HEADER.pack(worker_id, 0) + payload
    try:
        conn.send_bytes(payload)
    except OSError:
        pass   # the main process closed its end: it is shutting down and reads no more


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


def _worker_loop(dataset_kind, dataset, index_pipe, result_pipe, done_event, auto_collation, collate_fn,
                 drop_last, base_seed, init_fn, worker_id, num_workers, persistent_workers, inherited=(),
                 sock=None):
    """Receive (task_idx, index) from index_pipe, send (task_idx, batch or ExceptionWrapper) on result_pipe,
    until None arrives or the parent dies; with sock (this worker's end of a socket pair), large arrays
    go through shared memory (_send)."""
    from ..dataloader import _DatasetKind
    global _worker_info
    for conn in inherited:
        conn.close()  # pipe ends copied by fork (index write ends, result read ends): the main process's
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
        watchdog = ManagerWatchdog()
        while watchdog.is_alive():
            try:
                if not index_pipe.poll(WORKER_STATUS_CHECK_INTERVAL):
                    if done_event.is_set():
                        break  # the main process is shutting down and its None did not come
                    continue
                r = index_pipe.recv()
            except (EOFError, OSError):
                break   # the main process closed its end: nobody will read results
            if isinstance(r, _ResumeIteration):
                _send(result_pipe, (r, None), worker_id, sock)  # acknowledge the new epoch
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
            _send(result_pipe, (idx, data), worker_id, sock)
            del data, idx, index, r  # don't hold the last batch while waiting
    except KeyboardInterrupt:
        pass  # the main process gets its own KeyboardInterrupt
