"""BLAS thread control (torch.set_num_threads / get_num_threads) without extra dependencies.

NumPy's OpenBLAS is found among the libraries this process has loaded, and its own
set/get-threads entry points are called through ctypes.
"""
import ctypes
import os
import queue
import threading

import numpy as np

from . import _backend as B
from . import _settings

_blas = None
_set = _get = None
_core = ""         # OpenBLAS's kernel family ("SkylakeX", "Haswell", ...), once _load has run
_requested = None  # the user's set_num_threads, else None (all cores)
_active = None     # what BLAS is running with now
_ndarray = np.ndarray

# Below this many flops a product is over in microseconds, and a second BLAS thread only adds a
# rendezvous: when another process holds a core, that wait turns a 0.2 ms step into tens of ms.
PARALLEL_FLOPS = 5e7
PARALLEL_MACS = PARALLEL_FLOPS / 2


def _load():
    global _blas, _set, _get, _core, _small_gemm
    if _blas is not None:
        return _set is not None
    _blas = False
    paths = []
    try:
        with open("/proc/self/maps") as f:
            for line in f:
                path = line.rsplit(" ", 1)[-1].strip()
                if "openblas" in os.path.basename(path).lower() and path not in paths:
                    paths.append(path)
    except OSError:
        return False
    for path in paths:
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for prefix in ("scipy_openblas", "openblas"):
            for suffix in ("64_", ""):
                setter = getattr(lib, f"{prefix}_set_num_threads{suffix}", None)
                getter = getattr(lib, f"{prefix}_get_num_threads{suffix}", None)
                if setter is not None and getter is not None:
                    setter.argtypes = [ctypes.c_int]
                    getter.restype = ctypes.c_int
                    _blas, _set, _get = lib, setter, getter
                    corename = getattr(lib, f"{prefix}_get_corename{suffix}", None)
                    if corename is not None:
                        corename.restype = ctypes.c_char_p
                        _core = (corename() or b"").decode("ascii", "replace")
                    _small_gemm = _core in _SMALL_GEMM_CORES
                    return True
    return False


def _env_threads():
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        value = os.environ.get(name, "").strip()
        if value.isdigit() and int(value) > 0:
            return int(value)
    return None


def _use(n):
    global _active
    if n != _active and _load():
        _set(n)
        _active = n


def set_num_threads(n):
    """Set the most threads BLAS (matrix products, convolutions) may use, as torch.set_num_threads."""
    global _requested
    n = int(n)
    if n < 1:
        raise RuntimeError(f"set_num_threads expects a positive integer (got {n})")
    _requested = n
    if n == 1:
        _use(1)


def get_num_threads():
    """Threads ember may use for one large op (torch.get_num_threads): set_num_threads' value, else
    OMP/OPENBLAS_NUM_THREADS, else the CPUs this process may run on."""
    if _requested is not None:
        return _requested
    global _default
    if _default is None:
        # read once, as torch reads them at startup: the variables and the affinity syscall took 2.9
        # us a call, 14 calls a LeNet step at batch 32
        _default = _env_threads()
        if not _default:
            try:
                _default = len(os.sched_getaffinity(0))
            except (AttributeError, OSError):
                _default = os.cpu_count() or 1
    return _default


_default = None


def for_work(flops):
    """Pick BLAS threads for a product of this many flops: one below PARALLEL_FLOPS, else
    get_num_threads(). (Large convolutions split their batch over Python threads instead and
    keep BLAS at one thread inside each block: measured faster than a multi-threaded BLAS.)"""
    n = get_num_threads() if flops >= PARALLEL_FLOPS else 1
    if n != _active:
        _use(n)


_REAL_BLAS = (np.dtype(np.float32), np.dtype(np.float64))


def matmul(a, b):
    """a @ b; a large product (>= PARALLEL_MACS multiply-adds, as torch threads its large products)
    is cut into blocks of rows, columns or batch entries on get_num_threads() threads (run_blocks),
    each an ordinary single-threaded product.  Anything but two same-dtype float ndarrays of at
    least two dimensions (CuPy arrays, the Tensors of create_graph's formulas, matrix-vector
    products) is just a @ b."""
    if a.__class__ is _ndarray and b.__class__ is _ndarray and a.itemsize == 2 and a.dtype.kind in "fV" \
            and b.dtype is a.dtype:
        # NumPy has no float16 BLAS: its loop took 157 ms for 512 x 512 (torch 1.4).  The products of
        # float16 values are exact in float32; summed there and rounded once, as torch's CPU kernels
        # accumulate float16 in float32.  bfloat16 ('V', ml_dtypes') too: its own products return
        # float32 from np.matmul and run a slow loop.  (The itemsize test first: it costs float32
        # operands what `is _f16` did.)
        return matmul(a.astype(_f32), b.astype(_f32)).astype(a.dtype)
    if a.__class__ is _ndarray and b.__class__ is _ndarray and a.ndim > 1 and b.ndim > 1 \
            and a.size * b.shape[-1] >= PARALLEL_MACS and a.dtype is b.dtype and a.dtype.kind in "fc" \
            and _active == 1:   # (BLAS already threaded by a caller, as a linalg entry: plain a @ b)
        out = _blocked_product(a, b)
        if out is not None:
            return out
    if a.__class__ is _ndarray and b.__class__ is _ndarray:
        if a.ndim == 2 and b.ndim == 2:
            # np.dot: the same BLAS calls and bits as @ for matrices, ~0.3 us less per call, and
            # an outer product (K = 1, a batch-1 weight gradient) 10x faster: @ loops without BLAS
            return np.dot(a, b)
        if a.ndim > 2 and b.ndim > 1 and a.shape[-1] == 1 and b.shape[-2] == 1 and a.dtype is b.dtype \
                and a.dtype in _REAL_BLAS:
            return a * b   # K = 1 batched: each entry one product, as BLAS computes it (4x faster)
    return a @ b


# OpenBLAS's AVX-512 cores run a float32 product of at most 100^3 multiply-adds in "small matrix"
# kernels that read the operands where they lie.  Above that, its packed kernels ran a
# convolution's products (6-16 output channels, or 15 rows of kernel offsets) at 30-80 GFLOP/s on
# a Xeon, where pieces under the limit ran at 90-150 with their operands in cache
# (benchmarks/NOTES.md, sixteenth pass).  Other cores have no such kernels.
_SMALL_GEMM_CORES = ("SkylakeX", "Cooperlake", "SapphireRapids")
_SMALL_GEMM_MACS = 1_000_000
_small_gemm = False
# narrower pieces lose more to the calls than the kernels gain (a square 150 x 150 weight: 44)
_MIN_PIECE_COLS = 64
_f32 = np.dtype(np.float32)
_f16 = np.dtype(np.float16)
_runs_of = {}   # (M, K, N) -> runs of columns, 0 for the whole product


def _column_runs(macs, N):
    """The fewest equal runs of N columns that each fit the small-matrix limit, 0 when no divisor of
    N gives runs of _MIN_PIECE_COLS or more."""
    for p in range(-(-macs // _SMALL_GEMM_MACS), N // _MIN_PIECE_COLS + 1):
        if N % p == 0:
            return p
    return 0


def small_runs(M, K, N, dtype):
    """Equal runs of N columns in which an (M, K) @ (K, N) product fits OpenBLAS's small-matrix
    kernels: 0 where it already does, where they are not here, or where no runs fit."""
    macs = M * K * N
    if macs <= _SMALL_GEMM_MACS or not _small_gemm or dtype is not _f32 or _active != 1:
        return 0
    p = _runs_of.get((M, K, N))
    if p is None:
        if len(_runs_of) > 256:
            _runs_of.clear()
        p = _runs_of[(M, K, N)] = _column_runs(macs, N)
    return p


def product_into(a, b, out):
    """np.matmul(a, b, out=out) for 2-d ndarrays and a C-contiguous out; where OpenBLAS has
    small-matrix kernels and BLAS runs on this thread only, as one batched product over equal runs
    of columns (b row-major: its transposed kernels gained nothing)."""
    a, b, view = product_operands(a, b, out)
    np.matmul(a, b, out=view)
    return out


def product_operands(a, b, out):
    """The operands (a, b, out) of np.matmul that compute product_into(a, b, out)."""
    M, K = a.shape
    N = b.shape[1]
    if b.dtype is a.dtype and b.strides[1] == 4 and out.flags.c_contiguous:
        p = small_runs(M, K, N, a.dtype)
        if p:
            # (a batched call: a loop over the runs cost 1-2 us a run more; the fewest runs that fit
            # beat one run per image, 22 against 27 us for conv2 at batch 4)
            return a, b.reshape(K, p, N // p).transpose(1, 0, 2), out.reshape(M, p, N // p).transpose(1, 0, 2)
    return a, b, out


def rows_product(a, b):
    """a @ b for a C-contiguous 2-d a; where OpenBLAS has small-matrix kernels and BLAS runs on this
    thread only, as one batched product over equal runs of a's rows, b made row-major (a narrow
    b: conv2's weight gradient at batch 4, (152, 544) @ (544, 16), 34 -> 26 us)."""
    M, K = a.shape
    if b.dtype is a.dtype and a.flags.c_contiguous:
        p = small_runs(b.shape[1], K, M, a.dtype)   # (runs of its last argument: here M)
        if p:
            return np.matmul(a.reshape(p, M // p, K), np.ascontiguousarray(b)).reshape(M, b.shape[1])
    return np.matmul(a, b)


def _blocked_product(a, b):
    """a @ b in blocks over the threads; None when it has no cut (one thread, broadcast batches)."""
    nw = get_num_threads()
    if nw < 2:
        return None
    shape = a.shape[:-1] + (b.shape[-1],)
    entries = 1 if b.ndim == 2 else a.size // (a.shape[-2] * a.shape[-1])
    if b.ndim > 2 and a.shape[:-2] != b.shape[:-2]:
        return None
    if entries == 1:   # one matrix product: rows of a (all its leading dims), or columns of b
        a2 = a.reshape(-1, a.shape[-1])
        b2 = b.reshape(b.shape[-2:])
        out = shared_product(a2, b2, np.empty((a2.shape[0], b2.shape[1]), a.dtype))
    elif entries >= 2 * nw:
        a3 = a.reshape((-1,) + a.shape[-2:])
        b3 = b.reshape((-1,) + b.shape[-2:])
        n = a3.shape[0]
        out = np.empty((n, a.shape[-2], b.shape[-1]), a.dtype)

        def block(s, e):
            np.matmul(a3[s:e], b3[s:e], out=out[s:e])
        # two blocks a thread: the caller starts at once, a helper only once it has woken up
        run_blocks(block, n, (-(-n // (2 * nw)), nw))
    else:
        return None
    return out.reshape(shape)


def shared_product(a, b, out):
    """np.matmul(a, b, out=out) for a 2-d a, shared out among get_num_threads() threads in blocks of
    a's rows (out's second-to-last axis), or of b's columns where those are more; each block an
    ordinary single-threaded product, one a thread: thinner blocks repack the other operand once more
    each ((256, 2304) @ (2304, 192) on two threads: 1.23 ms in four blocks, 1.03 in two, 1.62 on one)."""
    nw = get_num_threads()
    if a.shape[0] >= b.shape[-1]:
        n = a.shape[0]

        def block(s, e):
            np.matmul(a[s:e], b, out=out[..., s:e, :])
    else:
        n = b.shape[-1]

        def block(s, e):
            np.matmul(a, b[..., s:e], out=out[..., s:e])
    run_blocks(block, n, (-(-n // nw), nw))
    return out


def init():
    """At import: BLAS starts single-threaded; only large products switch (see for_work)."""
    _use(1)


def get_num_interop_threads():
    """ember runs ops on the calling thread: always 1."""
    return 1


def set_num_interop_threads(n):
    """Accepted for torch compatibility; ember has no inter-op thread pool."""


# ---- blocks on threads ----------------------------------------------------------------------
# An op cut into blocks (a convolution's images, a product's rows) shares them out among threads,
# the calling one included, each taking the next block until none is left: a block is BLAS
# products, copies and reductions, which all release the GIL, so two threads ran the LeNet's conv
# blocks 1.8-1.95x faster on 2 cores.  BLAS itself stays single-threaded there: its threads spin
# while they wait (after a product too, for a while), which made small steps collapse when another
# process held a core, and took the other core from these helpers; these sleep.  The calling
# thread never waits for a helper to wake up: it takes every block no helper has started, and
# waits only for blocks in progress.
_helpers = []        # [(job queue, busy lock)], one per helper thread
_helpers_pid = None
_helpers_lock = threading.Lock()
_on_helper = threading.local()   # .yes in a helper thread


def _helper_loop(jobs, busy):
    # the thread runs ember's kernels only: NumPy's floating-point warnings stay silent in it for
    # good, as in the caller's op (the error state is per thread)
    B.fp_set(B.FP_QUIET)
    _on_helper.yes = True
    # set_flush_denormal's mode, followed here so that every block rounds alike (a new thread has
    # its creator's, which torch.set_flush_denormal may have changed behind ember's back)
    flush = _settings._flush[0]
    _settings.apply_flush_denormal(flush)
    while True:
        job = jobs.get()
        if job is None:
            return
        if flush is not _settings._flush[0]:
            flush = _settings._flush[0]
            _settings.apply_flush_denormal(flush)
        job(busy)


def _get_helpers(n):
    """n helper threads, started on first use."""
    global _helpers, _helpers_pid
    with _helpers_lock:
        if _helpers_pid != os.getpid():
            _helpers, _helpers_pid = [], os.getpid()
        while len(_helpers) < n:
            h = (queue.SimpleQueue(), threading.Lock())
            threading.Thread(target=_helper_loop, args=h, name=f"ember-blocks-{len(_helpers)}",
                             daemon=True).start()
            _helpers.append(h)
        return _helpers[:n]


def _forget_helpers():
    # a forked child (a DataLoader worker) has none of the parent's threads, and a lock another
    # thread held at the fork would stay held: start from scratch
    global _helpers, _helpers_pid, _helpers_lock
    _helpers, _helpers_pid, _helpers_lock = [], None, threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_helpers)


# Row-wise ops over large arrays (softmax, layer norm) run in blocks of whole rows of about ROW_BLOCK
# elements, whose passes then stay in cache, shared between threads from ROWS_PAR_MIN elements on
ROW_BLOCK = 1 << 16
ROWS_PAR_MIN = 1 << 19


def row_blocks(fn, rows, row_len, state=None, block=ROW_BLOCK):
    """[fn(slice of rows)] over blocks of whole rows, in block order, on threads for large arrays;
    state: the floating-point state (_backend.fp_set) each block runs under.  A block holds at least
    `block` elements (the last takes the rest, or all when that is fewer), in a multiple of 16 rows:
    a product with ones sums rows in groups, whose last, partial one runs another kernel, so each
    row's sum comes out as in one product over the whole array."""
    step = -(-block // (16 * row_len)) * 16
    n = max(1, rows // step)
    nw = get_num_threads() if rows * row_len >= ROWS_PAR_MIN else 1

    def run(s, e):
        token = B.fp_set(state) if state is not None else None
        try:
            return [fn(slice(k * step, rows if k == n - 1 else (k + 1) * step)) for k in range(s, e)]
        finally:
            if token is not None:
                B.fp_reset(token)
    return [r for part in run_blocks(run, n, (-(-n // nw), nw)) for r in part]


def flat_blocks(fn, size, step, par_min, shared_step):
    """fn(slice) over consecutive blocks of `step` elements of range(size), in order; from par_min
    elements on, shared between the threads in one run of consecutive blocks a thread, the blocks then
    of shared_step elements."""
    nw = get_num_threads() if size >= par_min else 1
    if nw > 1:
        step = shared_step

    def run(s, e):
        for i in range(s * step, min(e * step, size), step):
            fn(slice(i, i + step))
    n = -(-size // step)
    run_blocks(run, n, (-(-n // nw), nw))


def run_blocks(fn, N, plan, flops=0):
    """fn(s, e) for consecutive blocks [s, e) covering range(N), plan = (block size, threads) (see
    conv._plan), shared out among the calling thread and plan[1] - 1 helpers; results in block
    order.  flops: BLAS work of the whole op, for for_work when it all runs here."""
    nb, nw = plan
    if nw > 1 and getattr(_on_helper, "yes", False):
        nw = 1   # a block that shares out blocks itself: a helper waiting on its own lock would hang
    if nw <= 1:
        for_work(flops)
        return [fn(s, s + nb if s + nb < N else N) for s in range(0, N, nb)]
    for_work(0)   # single-threaded BLAS inside each block
    starts = list(range(0, N, nb))
    results = [None] * len(starts)
    errors = []
    pending = iter(range(len(starts)))
    lock = threading.Lock()

    def take(busy):
        # the next block, with busy held while it runs (acquired before the block leaves
        # `pending`, so the caller sees either a block not taken or one it must wait for)
        with lock:
            i = next(pending, None)
            if i is not None and busy is not None:
                busy.acquire()
        return i

    def work(busy):
        while True:
            i = take(busy)
            if i is None:
                return
            try:
                s = starts[i]
                results[i] = fn(s, s + nb if s + nb < N else N)
            except BaseException as e:  # re-raised by the caller
                errors.append(e)
            finally:
                if busy is not None:
                    busy.release()

    helpers = _get_helpers(nw - 1)
    for jobs, _ in helpers:
        jobs.put(work)
    try:
        work(None)
    finally:
        for _, busy in helpers:
            busy.acquire()   # returns at once unless the helper is inside a block
            busy.release()
    if errors:
        raise errors[0]
    # a helper holds `work` until its next job (or still has it queued, if it never woke): let
    # that reach nothing of the blocks' (an extra reference to a product keeps autograd from
    # taking it as .grad without a copy: a 4096 x 25088 weight gradient, 126 ms)
    done, results, fn = results, None, None
    return done
