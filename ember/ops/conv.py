"""Convolutions (conv1d/2d, conv_transpose1d/2d): im2col by strided views and one matrix product.

Layout.  The im2col buffer is ``cols[(c, i, j), (n, p)]``: one row per input channel and
kernel offset, one column per image and output position.  Then

* forward is ``W (O, C*kh*kw) @ cols`` (one BLAS call, or one batched call per group),
* the weight gradient is ``g (O, cols) @ cols.T``, with the cols kept from forward,
* the input gradient is ``W.T @ g`` followed by a sum over the kernel offsets of shifted
  views (one reduction for stride 1, one strided add per offset otherwise; never
  ``add.at``), skipped when the input needs no gradient.

Stride 1 uses the "wide" im2col: output positions are numbered ``p = oh * Wp + ow`` over the
padded input width, so each (c, i, j) row of cols is ONE contiguous run of the input plane
(offset ``i * Wp + j``).  The copy then has long inner loops (2-3x faster than the classic 6-d
gather) and the input gradient becomes a strided reduction; the few "garbage" columns
(``ow >= OW``) are dropped from the output and carry zero gradient.  With few output channels
(conv1's 6) the kernel columns j move from the cols rows into the weight rows ("split" mode,
see _Geom).  At large batch the work is cut into blocks of images whose cols stay in cache,
recomputed in backward instead of kept.  On OpenBLAS's AVX-512 cores, whose small-matrix kernels ran
products under 1M multiply-adds up to 3x faster, float32 products are cut into runs of columns
(``_threads.small_runs``) and weight gradients come from strided windows of the input, without
copies.  benchmarks/NOTES.md has the measurements.

Kernels take the array module ``xp`` (numpy or cupy, from ``xp_of``) and call only ``xp.*``;
strided views over a buffer go through ``_strided``, the one place that differs between them.
"""
import threading

import numpy as np

from .. import _backend as B
from .. import _threads
from .. import _memory_format as _mf
from .._threads import run_blocks as _run_blocks
from .._backend import xp_of

from ..autograd.grad_mode import state
from ..autograd.graph import Node, edge
from .._tensor import Tensor, _wrap
from . import AUTOCAST, LOWER

__all__ = ["conv1d", "conv2d", "conv_transpose1d", "conv_transpose2d"]
__functional__ = ["conv1d", "conv2d", "conv_transpose1d", "conv_transpose2d"]

_ndarray = np.ndarray
_f32 = np.dtype(np.float32)
# Elements of one im2col block.  Below this the whole batch is one block and its cols are
# kept for backward; above it, blocks of images keep the working set in cache: on one thread,
# blocks whose cols stay in L2 with the product (LeNet at batch 256: 7.7K -> 8.6K img/s against
# 1 << 19); blocks shared between threads are larger (_SHARED_BLOCK), as each NumPy call a block
# makes may wait for the other thread to hand back the GIL (1 << 17 there: 11.9K -> 10.3K)
_BLOCK = 1 << 17
_SHARED_BLOCK = 1 << 19
# at most this many output channels: use the split im2col (see _Geom)
_SPLIT_MAX_OUT = 8
# at most this many: a forward whose cols are not kept for backward takes the split im2col too (its
# (O*kw, C*kh) weight is a taller product, its rows 1/kw of the cols); backward stays plain, where the
# split weight gradient ran slower.  LeNet's conv2 forward at batch 256: 3.0 -> 2.5 ms on one thread,
# 2.4 -> 1.8 on two
_SPLIT_FORWARD_MAX_OUT = 16
# a wide input gradient's per-image products, (C*kh*kw, O) @ (O, Lw), reread the weight for every
# image: below this many columns (small planes) one product over all images and a copy win
# (256 -> 256 channels over 2 x 2, batch 32: 12.3 -> 7.8 ms)
_DX_LW = 64
# the most (O, C*kh*kw) weight-gradient entries computed transposed (see _backward_block): past
# ~256K their copy into .grad leaves the cache (256 x 2304: 2.4 ms against 0.14 for 128 x 1152)
_TRANSPOSED_GW_MAX = 1 << 18
# Images a block takes at least: enough for this many product columns.  One image of a narrow plane
# makes thin products that OpenBLAS runs at a fraction of its speed, and the weight is reread for
# each (resnet18 at 224 x 224, batch 4, one thread: 512 -> 512 channels over 7 x 7, forward and
# backward 49.8 -> 29.3 ms, torch 24.7), so those images share a block past _BLOCK's cache budget
_MIN_COLUMNS = 256
# Below this many product columns a thread (its share of the batch's images), a convolution runs as
# one block whose products the threads share (see _shares_products)
_SHARE_COLUMNS = 64


def _strided(a, shape, strides, offset=0):
    """A view of the contiguous array a's memory with the given byte strides and offset."""
    if isinstance(a, _ndarray):
        v = _ndarray(shape, a.dtype, a, offset, strides)
        return v if type(a) is _ndarray else v.view(type(a))   # keep an ndarray subclass's type
    return type(a)(shape, a.dtype, a.data + offset, strides)   # cupy.ndarray(shape, dtype, memptr, strides)


def _padded(n):
    """n rounded up to a multiple of 8 where that makes a product with n output columns faster.

    OpenBLAS's sgemm runs its narrow edge kernels on a remainder of 4-7 columns: a (30, 3584) @
    (3584, 15) product (conv1's weight gradient) took 69 us, (3584, 16) with a zero column 41 us."""
    r = n & 7
    return n + 8 - r if (r >= 4 or n < 8) and r else n


# Temporaries that never outlive one forward or backward call (im2col blocks, products,
# reshaped gradients) live in a small per-thread scratch space reused from call to call: with
# glibc's default malloc settings, a fresh multi-MB array per call is often mmapped and
# page-faulted in again every step (measured: train step at batch 32 5.9 ms -> 3.2 ms).
# Bounded: one buffer per slot, each at most _SCRATCH_MAX bytes (larger requests are
# allocated normally).  Arrays kept for backward (the cols of forward) are never scratch.
_SCRATCH_MAX = 64 << 20
_tls = threading.local()


def _scratch(xp, slot, n, dtype):
    """A flat array of at least n elements of dtype, reused by later calls on this thread."""
    bufs = getattr(_tls, "bufs", None)
    if bufs is None:
        bufs = _tls.bufs = {}
    key = (slot, dtype, xp)
    buf = bufs.get(key)
    if buf is None or buf.size < n:
        if n * dtype.itemsize > _SCRATCH_MAX:
            return xp.empty(n, dtype)
        buf = bufs[key] = xp.empty(n, dtype)
        # views of the replaced buffer must not be handed out again (and must not keep it alive)
        _tls.views = {}
    return buf


def _block(xp, slot, rows, m, dtype):
    """A contiguous (rows, m) scratch array.

    The (rows, m) views are cached per thread: at batch 4 the slice + reshape + lookups cost
    more than the copies they serve (a convolution's forward and backward take ~6 of them)."""
    views = getattr(_tls, "views", None)
    key = (slot, rows, m, dtype, xp)
    if views is not None:
        v = views.get(key)
        if v is not None:
            views[slot] = key   # the slot's last claim (see _claim)
            return v
    n = rows * m
    buf = _scratch(xp, slot, n, dtype)
    v = buf[:n].reshape(rows, m)
    views = getattr(_tls, "views", None)
    if views is None or len(views) > 64:
        views = _tls.views = {}
    if n * dtype.itemsize <= _SCRATCH_MAX:   # a scratch buffer, not a one-off array
        views[key] = v
        views[slot] = key
    else:
        views[slot] = None
    return v


def _claim(xp, slot, rows, m, dtype, layout):
    """(_block(...), intact): intact when this thread's previous use of the slot's buffer was a
    _claim of the same block for the same layout (a _Geom: it fixes where the caller writes), so
    the zero padding that caller left is still in place.

    The zero rows and gaps the products need then stay zero from call to call: rewriting them
    every time cost ~14 us of the batch-4 train step.  A plain _block of the slot in between
    (a caller that may write anywhere) clears the claim."""
    views = getattr(_tls, "views", None)
    prev = views.get(slot) if views is not None else None
    v = _block(xp, slot, rows, m, dtype)
    tag = ((slot, rows, m, dtype, xp), layout)
    if _tls.views.get(slot) is not None:   # None: a one-off array, not the slot's buffer
        _tls.views[slot] = tag
    return v, prev == tag


# ---- blocks on threads ----------------------------------------------------------------------
# A convolution cut into several blocks of images shares them out among threads (the calling
# one included, each taking the next block until none is left): a block is BLAS products,
# copies and reductions, which all release the GIL, so two threads ran the LeNet's conv blocks
# 1.8-1.95x faster on 2 cores.  BLAS itself stays single-threaded there: its threads spin while
# they wait, which made small steps collapse when another process held a core; these sleep.
# The calling thread never waits for a helper to wake up: it takes every block no helper has
# started, and waits only for blocks in progress.  Below _PAR_MIN_FLOPS, with one thread, or
# on a GPU (CuPy queues the work asynchronously anyway), everything runs on the calling thread.
# The threads and the sharing out are _threads.run_blocks.
_PAR_MIN_FLOPS = 1.5e7


def _workers():
    """Threads a large convolution may use (torch.get_num_threads)."""
    return _threads.get_num_threads()


def _plan(N, nb, parallel, per_thread=2):
    """(images per block, threads) for a batch of N: the fewest blocks of at most nb images, as
    equal as N allows; when the work is large enough to share (parallel), as many blocks as a
    multiple of the threads, and at least per_thread blocks a thread."""
    nw = min(_workers(), N) if parallel else 1
    if nw <= 1:
        # batch 32 with nb = 25: 16 + 16, not 25 + 7 (a block of another size clears every
        # claimed scratch slot, see _claim, so its zero padding is rewritten twice a step)
        nblocks = -(-N // nb)
        return (-(-N // nblocks) if nblocks else nb), 1
    # Two blocks a thread let the caller, which starts at once, take what a helper slow to wake
    # has not started (an EPYC: batch 32 12.5K -> 13.7K img/s against one a thread).  Where each
    # NumPy call of a block may wait ~35 us for the GIL to come back (the Xeon VM of
    # benchmarks/NOTES.md), fewer blocks mean fewer handoffs: convolutions take one (_conv_plan)
    nblocks = -(-N // nb)
    nblocks = max(-(-nblocks // nw) * nw, per_thread * nw)
    return -(-N // nblocks), nw


def _shares_products(g, flops, xp):
    """Whether the batch runs as one block whose products the threads share (blocks of the weight's
    rows or of columns, _threads.shared_product) rather than as blocks of images, one a thread: where
    those would give a thread fewer than _SHARE_COLUMNS product columns.  Many channels over narrow
    planes then make such thin products that each thread rereads the whole weight, and each adds a
    weight-gradient partial of the weight's size (resnet18 at 32 x 32, batch 32, 512 -> 512 channels
    over 1 x 1, forward and backward on two threads: 5.1-5.4 -> 3.9-4.1 ms, one thread 4.9, torch
    3.9).  With more columns the im2col and col2im copies, which stay on this thread, cost more than
    the thin products lose (256 -> 256 over 2 x 2, 96 columns a thread: 4.3-4.7 -> 4.6-4.8 ms)."""
    # (one image has no split to replace: BLAS's own threads take its large products, see run_blocks;
    # on Python threads resnet18's eval at batch 1 took 42 ms instead of 37)
    return (flops >= _PAR_MIN_FLOPS and xp is np and g.G == 1 and not g.split and g.N > 1 and _workers() > 1
            and g.N * g.Lw < _workers() * _SHARE_COLUMNS)


def _matmul(xp, a, b, share, out=None):
    """a @ b (into out), shared among the threads when share (see _shares_products)."""
    if share:
        if out is None:
            out = xp.empty(b.shape[:-2] + (a.shape[0], b.shape[-1]), a.dtype)
        return _threads.shared_product(a, b, out)
    return xp.matmul(a, b, out=out)


def _conv_plan(g, flops, xp, nbs=None):
    """_plan for a convolution of geometry g: shared between threads from _PAR_MIN_FLOPS on (host
    arrays only), in blocks of g.nb_shared images and at least one a thread, else on this thread
    in blocks of g.nb (nbs: another (nb, nb_shared))."""
    nb, nb_shared = nbs or (g.nb, g.nb_shared)
    if flops >= _PAR_MIN_FLOPS and xp is np and g.N > 1 and _workers() > 1:
        # at least one block a thread (LeNet at batch 32: 6.6-6.8K -> 7.0-7.5K img/s against two a
        # thread on the Xeon VM; the pools keep two, which ran 1 % faster at batch 256)
        return _plan(g.N, nb_shared, True, 1)
    return _plan(g.N, nb, False)


# ---- geometry ------------------------------------------------------------------------------
class _Geom:
    """Sizes of one convolution over an already padded input (N, C, Hp, Wp)."""

    __slots__ = ("N", "C", "Hp", "Wp", "kh", "kw", "sh", "sw", "dh", "dw", "OH", "OW",
                 "wide", "rw", "Lw", "K", "Kp", "G", "nb", "nb_shared", "split", "Lq", "K2", "split_forward")

    def __init__(self, N, C, Hp, Wp, kh, kw, sh, sw, dh, dw, G, O, OH=None, OW=None):
        self.N, self.C, self.Hp, self.Wp = N, C, Hp, Wp
        self.kh, self.kw, self.sh, self.sw, self.dh, self.dw, self.G = kh, kw, sh, sw, dh, dw, G
        # a transposed convolution may fix a smaller output (output_padding >= stride when
        # dilation allows it): the windows past it are simply not computed
        if OH is None:
            OH = (Hp - dh * (kh - 1) - 1) // sh + 1
            OW = (Wp - dw * (kw - 1) - 1) // sw + 1
        self.OH, self.OW = OH, OW
        wide = self.wide = sh == 1 and sw == 1
        # rw: distance between output rows in a cols column block; Lw: columns per image
        self.rw = Wp if wide else OW
        self.Lw = (OH - 1) * Wp + OW if wide else OH * OW
        K = self.K = C * kh * kw
        # rows of kept cols: zero rows up to Kp make the weight-gradient product faster
        self.Kp = _padded(K) if G == 1 else K
        per_image = K * self.Lw
        # Few output channels (conv1: 6) make W @ cols a thin product that BLAS runs slowly.
        # "Split" mode moves the kernel columns j from the im2col rows into the weight rows:
        # cols2 has rows (c, i) only (5x smaller), Z = W' (O*kw, C*kh) @ cols2, and the output
        # is the sum over j of Z's rows shifted by j: forward 78 -> 56 us for conv1 at batch 4.
        self.split = split = wide and O <= _SPLIT_MAX_OUT and kw > 1
        self.Lq = self.Lw + (kw - 1) * dw
        self.K2 = C * kh
        floor = -(-_MIN_COLUMNS // max(1, self.Lw))
        # (images a block, on one thread and shared) of a forward in split mode when backward is plain
        # (see _SPLIT_FORWARD_MAX_OUT), else None
        self.split_forward = None
        if split or (wide and kw > 1 and G == 1 and O <= _SPLIT_FORWARD_MAX_OUT):
            per_split = max(self.K2, O * kw) * self.Lq
            nbs = (max(floor, _BLOCK // max(1, per_split)), max(floor, _SHARED_BLOCK // max(1, per_split)))
            if split:
                per_image = per_split
            else:
                self.split_forward = nbs
        self.nb = max(floor, _BLOCK // max(1, per_image))
        self.nb_shared = max(floor, _SHARED_BLOCK // max(1, per_image))


def _window_view(x, g, s, e):
    """The strided (C, kh, kw, images s:e, output positions) view of the padded input x."""
    it = x.itemsize
    Wp = g.Wp
    sC = g.Hp * Wp * it
    sN = g.C * sC
    if g.wide:
        return _strided(x, (g.C, g.kh, g.kw, e - s, g.Lw), (sC, g.dh * Wp * it, g.dw * it, sN, it), s * sN)
    return _strided(x, (g.C, g.kh, g.kw, e - s, g.OH, g.OW),
                    (sC, g.dh * Wp * it, g.dw * it, sN, g.sh * Wp * it, g.sw * it), s * sN)


def _cols(xp, x, g, s, e, scratch=True):
    """im2col of images s:e of the C-contiguous padded input x: (C*kh*kw, (e-s)*Lw).

    In scratch space unless it must outlive the call (scratch=False: kept for backward, then
    with zero rows up to g.Kp, see _padded; products in forward use its first K rows)."""
    v = _window_view(x, g, s, e)
    m = (e - s) * g.Lw
    K = g.K
    if scratch:
        cols = _block(xp, "cols", K, m, x.dtype)
        xp.copyto(cols.reshape(v.shape), v)
        return cols
    cols = xp.empty((g.Kp, m), x.dtype)
    if g.Kp > K:
        cols[K:] = 0
    xp.copyto(cols[:K].reshape(v.shape), v)
    return cols


def _out_view(Y, g, nb, O):
    """The (nb, O, OH, OW) output inside a contiguous (O, nb*Lw) product (a view)."""
    it = Y.itemsize
    Lw = g.Lw
    return _strided(Y, (nb, O, g.OH, g.OW), (Lw * it, nb * Lw * it, g.rw * it, it))


def _to_cols_layout(xp, gout, g, s, e, O, slot="T"):
    """gout[s:e] (nb, O, OH, OW) laid out as (O, nb*Lw) in scratch; garbage columns are zero."""
    nb = e - s
    T, intact = _claim(xp, slot, O, nb * g.Lw, gout.dtype, g)
    if not intact and g.wide and g.Wp != g.OW and g.OH > 1:
        T.fill(0)
    _out_view(T, g, nb, O)[...] = gout[s:e]
    return T


def _w2(w, G):
    """The weight as the (O, K) matrix, or (G, O/G, K/G) per group."""
    O = w.shape[0]
    if G == 1:
        return w.reshape(O, -1)
    return w.reshape(G, O // G, -1)


def _product(xp, w2, cols, G, out=None, share=False):
    """w2 @ cols as an (O, columns) array (per group when G > 1); share: see _shares_products."""
    if G == 1:
        if share:
            return _matmul(xp, w2, cols, True, out)
        if xp is np and out is not None:
            return _threads.product_into(w2, cols, out)
        return xp.matmul(w2, cols, out=out)
    if out is not None:
        out = out.reshape(G, w2.shape[1], -1)
    return xp.matmul(w2, cols.reshape(G, w2.shape[2], -1), out=out).reshape(w2.shape[0] * w2.shape[1], -1)


def _add_column(xp, a, col):
    """a += col (one value a row) over a's contiguous rows (_rows_ufunc: conv1's bias at batch 4, 6
    rows of 3584, 4.4 -> 2.4 us)."""
    _rows_ufunc(xp, xp.add, a, col, a)


def _rows_ufunc(xp, ufunc, a, b, out):
    """ufunc(a, b, out=out) where an operand repeats along out's contiguous last-axis rows:
    unbuffered (B.rows_state) where those are long enough."""
    token = B.set_rows(out.shape[-1]) if xp is np else None
    try:
        ufunc(a, b, out=out)
    finally:
        if token is not None:
            B.fp_reset(token)


def _rows_source(x, g, s, e):
    """The strided (C, kh, images s:e, Lq) view of the padded input x that split-mode rows copy."""
    it = x.itemsize
    sC = g.Hp * g.Wp * it
    sN = g.C * sC
    return _strided(x, (g.C, g.kh, e - s, g.Lq), (sC, g.dh * g.Wp * it, sN, it), s * sN)


def _rows(xp, x, g, s, e, rows=None):
    """Split-mode im2col of images s:e: rows (c, i), (e-s)*Lq columns per image run
    (in scratch, or in the first K2 rows of the given rows array)."""
    v = _rows_source(x, g, s, e)
    m = (e - s) * g.Lq
    if rows is None:
        rows = _block(xp, "cols", g.K2, m, x.dtype)
    xp.copyto(rows.reshape(v.shape), v)
    return rows


def _wj(w2, g, O):
    """The weight with rows (o, j) and columns (c, i): (O*kw, C*kh), or per group."""
    G, kh, kw = g.G, g.kh, g.kw
    Cg = g.C // G
    w = w2.reshape(G, O // G, Cg, kh, kw).transpose(0, 1, 4, 2, 3)
    return w.reshape(O * kw, Cg * kh) if G == 1 else w.reshape(G, (O // G) * kw, Cg * kh)


def _forward_split(xp, x, w2, g, O, out, b4, flops, keep, plan=None):
    """out, and the split rows of the whole batch when kept for the weight gradient (keep: one
    block, G == 1; with zero rows up to _padded(K2), as _gw_split multiplies them)."""
    G, kw, dw, Lq, K2 = g.G, g.kw, g.dw, g.Lq, g.K2
    it = x.itemsize
    plan = plan or _conv_plan(g, flops, xp)
    K2p = _padded(K2)
    keep = keep and G == 1 and 0 < g.N <= plan[0]
    # The bias as one more weight column, against a row of ones after the rows (kept rows: in their
    # zero padding).  The product adds it in its last step (the bits of the pass over the output rows
    # it replaces, on OpenBLAS), and conv1's K of 16 instead of 15 runs faster: its forward at batch
    # 16 took 258-270 us instead of 310-335
    fold = b4 is not None and G == 1 and (not keep or K2p > K2)
    kept = None
    if keep:
        kept = xp.empty((K2p, g.N * Lq), x.dtype)
        if fold:
            kept[K2] = 1
        if K2p > K2 + fold:
            kept[K2 + fold:] = 0
    if G == 1:
        # rows (j, o) instead of (o, j): each shifted j block is then ONE contiguous run of
        # O*U elements, added with a flat 1-d shift (conv1 at batch 4: 10.2 -> 6.9 us).  A
        # row's last (kw-1)*dw columns pick up the next row's start, but they lie past every
        # output position (the zero tail of the last image)
        wt = w2.reshape(O, g.C, g.kh, kw).transpose(3, 0, 1, 2)
        if fold:
            wj = xp.empty((kw * O, K2 + 1), w2.dtype)
            xp.copyto(wj[:, :K2].reshape(wt.shape), wt)
            wj[O:, K2] = 0
            wj[:O, K2] = b4.reshape(O)
        else:
            wj = wt.reshape(kw * O, K2)
    else:
        wj = _wj(w2, g, O)   # rows (o, j) per group

    def block(s, e):
        m = e - s
        U = m * Lq
        if G == 1:
            # Every operand first, then the NumPy calls back to back: on two threads each block's
            # Python then runs in one stretch, and the GIL changes hands less often between the
            # calls (conv1's forward on two threads: batch 32 ~595 -> ~555 us, 256 ~3.07 -> ~2.97 ms)
            src = _rows_source(x, g, s, e)
            if kept is not None:
                dst, rows = kept[:K2], kept[:K2 + fold]
            elif fold:
                rows, intact = _claim(xp, "rows1", K2 + 1, U, x.dtype, g)
                if not intact:
                    rows[K2] = 1
                dst = rows[:K2]
            else:
                rows = dst = _block(xp, "cols", K2, U, x.dtype)
            Z = _block(xp, "prod", O * kw, U, x.dtype)
            product = _threads.product_operands(wj, rows, Z) if xp is np else (wj, rows, Z)
            Zf = Z.reshape(kw, O * U)
            n = O * U - (kw - 1) * dw
            acc = Zf[0, :n]
            shifted = [Zf[j, j * dw:j * dw + n] for j in range(1, kw)]
            dst, target = dst.reshape(src.shape), out[s:e]
            picked = _strided(Z, (m, O, g.OH, g.OW), (Lq * it, U * it, g.Wp * it, it))
            xp.copyto(dst, src)
            xp.matmul(product[0], product[1], out=product[2])
            if b4 is not None and not fold:
                _add_column(xp, Z[:O], b4.reshape(O, 1))
            for v in shifted:
                xp.add(acc, v, out=acc)
            xp.copyto(target, picked)
            return
        rows = _rows(xp, x, g, s, e)
        Z = _product(xp, wj, rows, G, _block(xp, "prod", O * kw, U, x.dtype))
        # out[n, o, oh, ow] = sum_j Z[(o, j), n*Lq + oh*Wp + ow + j*dw].  The rows j are added,
        # shifted by j*dw, into the rows j = 0 over the whole flattened block (long contiguous
        # runs: 2.5x faster than reducing a strided 5-d view over j); the output positions are
        # then one strided view of those rows
        Z3 = Z.reshape(O, kw, U)
        L = U - (kw - 1) * dw
        acc = Z3[:, 0, :L]
        if b4 is not None:
            # the bias joins the first shifted add (contiguous rows): then the strided output
            # is a plain copy (conv1 at batch 4: add 7.0 us, copy 3.5 us)
            _add_column(xp, acc, b4.reshape(O, 1))
        for j in range(1, kw):
            acc += Z3[:, j, j * dw:j * dw + L]
        xp.copyto(out[s:e], _strided(Z, (m, O, g.OH, g.OW), (Lq * it, kw * U * it, g.Wp * it, it)))

    _run_blocks(block, g.N, plan, flops)
    return out, kept


def _gw_split(xp, gout, x, g, O, s, e, kept=None):
    """Weight gradient (in w2's layout) of images s:e from the output gradient and the input."""
    G, kw, dw, Lq = g.G, g.kw, g.dw, g.Lq
    m = e - s
    U = m * Lq
    dt = gout.dtype
    it = gout.itemsize
    # Ts[(o, j), n*Lq + q] = gout[n, o, q - j*dw] (q - j*dw = oh*Wp + ow), zero elsewhere.  E holds
    # the gradient once on the Lq-wide layout (zero tail per image) after P zeros; Ts is then one
    # copy of a view of E whose rows j step back by j*dw (the zero tails absorb the shift across
    # image boundaries).  One copy between two buffers: shifting within Ts took 3x longer
    P = (kw - 1) * dw
    E, intact = _claim(xp, "E", O, P + U, dt, g)
    if not intact:
        E.fill(0)
    ru = (P + U) * it
    _strided(E, (m, O, g.OH, g.OW), (Lq * it, ru, g.Wp * it, it), P * it)[...] = gout[s:e]
    Cg = g.C // G
    if G == 1 and dt is _threads._f32 and xp is np and _threads._small_gemm \
            and O * Lq * g.K2 <= _threads._SMALL_GEMM_MACS:
        # without Ts: the products of E's kw shifted windows (views) with each image's rows, summed
        # over the images; each fits OpenBLAS's small-matrix kernels (conv1 at batch 4: 58 -> 50 us,
        # a block of 16 images: 330 -> 186; 148 against 82 on its AVX2 kernels, so only here)
        K2 = g.K2
        rows = kept[:K2] if kept is not None else _rows(xp, x, g, s, e)
        Ew = _strided(E, (kw, m, O, Lq), (-dw * it, Lq * it, ru, it), P * it)
        part = xp.matmul(Ew, rows.reshape(K2, m, Lq).transpose(1, 2, 0)).sum(axis=1).transpose(1, 0, 2)
    elif G == 1:
        # zero rows and columns pad the product to (32, 3584) @ (3584, 16) for conv1 at batch 4:
        # OpenBLAS ran (30, K) @ (K, 15) at half speed, and (30, K) @ (K, 16) did not speed
        # up at all on a second thread, where (32, K) @ (K, 16) ran 1.84x faster (see _padded)
        M = O * kw
        Mp = _padded(M)
        Ts, intact = _claim(xp, "Ts", Mp, U, dt, g)
        if Mp > M and not intact:
            Ts[M:] = 0
        K2 = g.K2
        K2p = _padded(K2)
        if kept is not None:   # forward's rows of the whole batch, zero rows included
            rows = kept
        else:
            rows, intact = _claim(xp, "rowsT", K2p, U, dt, g)
            if K2p > K2 and not intact:
                rows[K2:] = 0
            _rows(xp, x, g, s, e, rows[:K2])
        xp.copyto(Ts[:M].reshape(O, kw, U), _strided(E, (O, kw, U), (ru, -dw * it, it), P * it))
        part = xp.matmul(Ts, rows.T)
        if K2p > K2 or Mp > M:
            part = part[:M, :K2]
    else:
        Ts = _block(xp, "Ts", O * kw, U, dt)
        xp.copyto(Ts.reshape(O, kw, U), _strided(E, (O, kw, U), (ru, -dw * it, it), P * it))
        rows = _rows(xp, x, g, s, e)
        part = xp.matmul(Ts.reshape(G, (O // G) * kw, U), rows.reshape(G, Cg * g.kh, U).transpose(0, 2, 1))
    # rows (o, j), columns (c, i) -> (o, c, i, j)
    part = part.reshape(G, O // G, kw, Cg, g.kh).transpose(0, 1, 3, 4, 2)
    return part.reshape(O, -1) if G == 1 else part.reshape(G, O // G, -1)


def _forward(xp, x, w2, g, O, bias, keep):
    """out (N, O, OH, OW) = conv of the padded input x; also the cols when kept whole."""
    N, G = g.N, g.G
    flops = 2 * N * O * g.OH * g.OW * (g.C // G) * g.kh * g.kw
    out = xp.empty((N, O, g.OH, g.OW), x.dtype)
    b4 = None if bias is None else bias.reshape(1, O, 1, 1)
    if g.split:
        return _forward_split(xp, x, w2, g, O, out, b4, flops, keep)
    share = _shares_products(g, flops, xp)
    plan = (N, 1) if share else _conv_plan(g, flops, xp)
    keep = keep and N <= plan[0]   # one block: its columns serve backward too
    if not keep and not share and g.split_forward:
        return _forward_split(xp, x, w2, g, O, out, b4, flops, False, _conv_plan(g, flops, xp, g.split_forward))

    def block(s, e):
        m = (e - s) * g.Lw
        cols = _cols(xp, x, g, s, e, not keep)
        P = _product(xp, w2, cols[:g.K], G, _block(xp, "prod", O, m, x.dtype), share)
        if b4 is not None:
            # bias on the contiguous product rows, then a plain strided copy (as in split mode)
            _add_column(xp, P, b4.reshape(O, 1))
        xp.copyto(out[s:e], _out_view(P, g, e - s, O))
        return cols

    # (flops: BLAS threads for one large block; not while the block's products share the threads)
    blocks = _run_blocks(block, N, plan, 0 if share else flops)
    return out, (blocks[0] if keep and blocks else None)


def _col2im(dxp, dcols, g, s, e):
    """Add the (C*kh*kw, nb*Lw) column gradient into images s:e of dxp (N, C, Hp, Wp)."""
    nb = e - s
    C, kh, kw, dh, dw, Wp = g.C, g.kh, g.kw, g.dh, g.dw, g.Wp
    if g.wide:
        Lw = g.Lw
        dx3 = dxp.reshape(g.N, C, g.Hp * Wp)[s:e]
        dc = dcols.reshape(C, kh, kw, nb, Lw).transpose(3, 0, 1, 2, 4)
        for i in range(kh):
            row = i * dh * Wp
            for j in range(kw):
                off = row + j * dw
                d = dx3[:, :, off:off + Lw]
                d += dc[:, :, i, j]
    else:
        OH, OW, sh, sw = g.OH, g.OW, g.sh, g.sw
        dc = dcols.reshape(C, kh, kw, nb, OH, OW).transpose(3, 0, 1, 2, 4, 5)
        dsub = dxp[s:e]
        for i in range(kh):
            r0 = i * dh
            for j in range(kw):
                c0 = j * dw
                d = dsub[:, :, r0:r0 + sh * (OH - 1) + 1:sh, c0:c0 + sw * (OW - 1) + 1:sw]
                d += dc[:, :, i, j]


def _dx_wide(xp, w2t, T, g, O, s, e, dx, share=False):
    """Input gradient of images s:e for a stride-1 convolution, written into dx (N, C, Hp, Wp).

    The column gradient D = W.T @ T is laid out per image on a stride of one padded plane
    (B = Hp*Wp columns) with zero gaps between images.  Then the input gradient at padded
    position t is the sum over kernel offsets of D[(c, i, j), t - off(i, j)]: one strided view
    of D summed over its two kernel axes, with no Python loop over the offsets."""
    nb = e - s
    C, kh, kw, G, Lw = g.C, g.kh, g.kw, g.G, g.Lw
    B = g.Hp * g.Wp
    P0 = (kh - 1) * g.dh * g.Wp + (kw - 1) * g.dw    # largest offset: the gap before each image
    K = g.K
    U = nb * B + P0
    D, intact = _claim(xp, "D", K, U, T.dtype, g)
    it = D.itemsize
    # zero the gaps (the products below overwrite the rest)
    if not intact:
        D[:, :P0] = 0
        if B > Lw:
            _strided(D, (K, nb, B - Lw), (U * it, B * it, it), (P0 + Lw) * it)[...] = 0
    T3 = T.reshape(O, nb, Lw)
    # D's images lie B apart, as in dx: the reduction runs over all nb*B positions of a channel
    # at once (long contiguous inner loops; 1.8x faster at nb = 25 than per image) into scratch
    # laid out (c, n, p), then one copy reorders it to dx's (n, c, p).  Its operands are made
    # before the product, so that the three calls run back to back (see _forward_split's blocks)
    dh_, dw_ = g.dh * g.Wp, g.dw
    V = _strided(D, (kh, kw, C, nb * B), ((kw * U - dh_) * it, (U - dw_) * it, kh * kw * U * it, it), P0 * it)
    S = _block(xp, "S", C, nb * B, D.dtype)
    target, reordered = dx.reshape(g.N, C, B)[s:e], S.reshape(C, nb, B).transpose(1, 0, 2)
    runs = _threads.small_runs(K, O, Lw, D.dtype) if G == 1 and xp is np and not share else 0
    if runs:
        # each image's product in runs of columns for OpenBLAS's small-matrix kernels, with the
        # weight made contiguous (16 -> 16 channels over 32 x 32: 220 -> 152 us for 3 images)
        r = Lw // runs
        Dv = _strided(D, (nb, runs, K, r), (B * it, r * it, U * it, it), P0 * it)
        xp.matmul(xp.ascontiguousarray(w2t), T.reshape(O, nb, runs, r).transpose(1, 2, 0, 3), out=Dv)
    elif G == 1 and Lw < _DX_LW:
        Dv = _strided(D, (nb, K, Lw), (B * it, U * it, it), P0 * it)
        flat = _block(xp, "Dflat", K, nb * Lw, D.dtype)
        _matmul(xp, w2t, T, share, flat)
        xp.copyto(Dv, flat.reshape(K, nb, Lw).transpose(1, 0, 2))
    elif G == 1:
        Dv = _strided(D, (nb, K, Lw), (B * it, U * it, it), P0 * it)
        _matmul(xp, w2t, T3.transpose(1, 0, 2), share, Dv)
    else:
        Kg = K // G
        Dv = _strided(D, (nb, G, Kg, Lw), (B * it, Kg * U * it, U * it, it), P0 * it)
        Tg = T3.reshape(G, O // G, nb, Lw).transpose(2, 0, 1, 3)
        if O == G:
            # one output channel a group (depthwise): each product has K = 1, an outer product that
            # matmul runs without BLAS; the same products as one broadcast multiply (32 channels,
            # 3x3, 8 x 32 x 32, forward and backward: 6.1 -> 3.7 ms)
            _rows_ufunc(xp, xp.multiply, w2t, Tg, Dv)
        else:
            xp.matmul(w2t, Tg, out=Dv)
    V.sum(axis=(0, 1), out=S)
    xp.copyto(target, reordered)


def _backward(xp, x, w2, gout, g, O, need_w, need_x, kept):
    """(grad of w2, grad of the padded input) for the output gradient gout (N, O, OH, OW)."""
    N, G = g.N, g.G
    flops = 2 * N * O * g.OH * g.OW * (g.C // G) * g.kh * g.kw
    dxp = w2t = None
    dt = gout.dtype
    if need_x:
        w2t = w2.T if G == 1 else w2.transpose(0, 2, 1)
        dxp = (xp.empty if g.wide else xp.zeros)((N, g.C, g.Hp, g.Wp), dt)
    share = _shares_products(g, flops, xp)
    # kept cols cover the whole batch: one block, as in forward
    plan = (N, 1) if kept is not None or share else _conv_plan(g, flops, xp)
    parts = _run_blocks(lambda s, e: _backward_block(xp, x, w2, w2t, gout, g, O, need_w, need_x, kept, dxp, s, e,
                                                     share), N, plan, 0 if share else flops)
    gw = None
    if need_w:
        # the blocks' weight gradients, summed in block order (as one thread would)
        for part in parts:
            if gw is None:
                gw = part
            else:
                gw += part
        if gw is None:  # empty batch
            gw = xp.zeros(w2.shape, dt)
    return gw, dxp


def _backward_block(xp, x, w2, w2t, gout, g, O, need_w, need_x, kept, dxp, s, e, share=False):
    """The weight gradient of images s:e (or None); their input gradient goes into dxp; share: see
    _shares_products."""
    G = g.G
    dt = gout.dtype
    split = g.split
    part = None
    T = None
    if need_w:
        if split:
            part = _gw_split(xp, gout, x, g, O, s, e, kept)
        else:
            T = _to_cols_layout(xp, gout, g, s, e, O)
            if G == 1 and kept is None and g.wide and dt is _threads._f32 and xp is np and _threads._small_gemm \
                    and O * g.Lw * g.C <= _threads._SMALL_GEMM_MACS and g.Lw >= 4 * max(O, g.C) and not share:
                # without recomputing the cols: the products of each image's gradient rows with the
                # kernel offsets' windows of its input (views), summed over the images.  (Not over
                # planes narrower than O: then the (kh, kw, images, O, C) products outgrow the
                # work; 512 -> 512 channels over 1 x 1, batch 32: 300 MB and 113 ms.  Nor where an
                # image's columns are fewer than 4x the channels: those products' short sums lose to
                # one product over the recomputed cols; 64 -> 64 over 8 x 8, batch 32: 2.7 -> 2.0 ms,
                # 48 -> 48: 1.7 -> 1.2, while 16 -> 16 over 8 x 8 and 32 -> 32 over 16 x 16 read the
                # same either way.)  Each fits
                # OpenBLAS's small-matrix kernels (16 -> 16 channels over 32 x 32, 3 images: 284 ->
                # 154 us; LeNet's conv2, 16 images: 192 -> 133; slower on its AVX2 kernels)
                it = x.itemsize
                Xw = _strided(x, (g.kh, g.kw, e - s, g.Lw, g.C),
                              (g.dh * g.Wp * it, g.dw * it, g.C * g.Hp * g.Wp * it, it, g.Hp * g.Wp * it),
                              s * g.C * g.Hp * g.Wp * it)
                part = xp.matmul(T.reshape(O, e - s, g.Lw).transpose(1, 0, 2), Xw).sum(axis=2)
                part = part.transpose(2, 3, 0, 1).reshape(O, g.K)
            elif G == 1:
                # kept cols carry zero rows up to Kp (see _padded); recomputed ones too
                cols = kept if kept is not None else _padded_cols(xp, x, g, s, e)
                # computed as (cols @ T.T).T: 1.5x faster on OpenBLAS's SkylakeX kernels and 1.1x
                # on its Haswell ones; on the former in runs of cols' rows (rows_product).  But the
                # transposed result is copied later (into .grad), and a large one leaves the cache:
                # 512 -> 512 channels, 3x3: 2 ms for the product, 19 for that copy
                if share:
                    part = _matmul(xp, T, cols.T, True)
                elif O * cols.shape[0] <= _TRANSPOSED_GW_MAX:
                    part = (_threads.rows_product(cols, T.T) if xp is np else xp.matmul(cols, T.T)).T
                else:
                    part = xp.matmul(T, cols.T)
                if part.shape[1] != g.K:
                    part = part[:, :g.K]
            else:
                cols = kept[:g.K] if kept is not None else _cols(xp, x, g, s, e)
                part = xp.matmul(T.reshape(G, O // G, -1), cols.reshape(G, w2.shape[2], -1).transpose(0, 2, 1))
    if need_x:
        if T is None:
            T = _to_cols_layout(xp, gout, g, s, e, O)
        if g.wide:
            _dx_wide(xp, w2t, T, g, O, s, e, dxp, share)
            return part
        m = (e - s) * g.Lw
        D = _block(xp, "D", g.K, m, dt)
        if G == 1:
            dcols = _matmul(xp, w2t, T, share, D)
        else:
            dcols = xp.matmul(w2t, T.reshape(G, O // G, -1), out=D.reshape(G, -1, m)).reshape(g.K, -1)
        _col2im(dxp, dcols, g, s, e)
    return part


def _padded_cols(xp, x, g, s, e):
    """Recomputed cols of images s:e with zero rows up to g.Kp, in scratch."""
    K, Kp = g.K, g.Kp
    m = (e - s) * g.Lw
    cols, intact = _claim(xp, "colsP", Kp, m, x.dtype, g)
    if Kp > K and not intact:
        cols[K:] = 0
    v = _window_view(x, g, s, e)
    xp.copyto(cols[:K].reshape(v.shape), v)
    return cols


_ONES = {}


def _channel_sum(xp, grad):
    """grad (N, O, *spatial) summed over every dim but 1 (a convolution's bias gradient, batch norm's
    per-channel sums): a matrix-vector product with ones over each plane (BLAS: 3-4x faster than
    sum(axis=(0, 2, 3)), 178 -> 39 us at batch 256), then a sum over N."""
    N, O = grad.shape[0], grad.shape[1]
    P = grad.size // (N * O) if N and O else 0
    if not P or not grad.flags.c_contiguous:
        return grad.sum(axis=(0,) + tuple(range(2, grad.ndim)))
    if P == 1:   # (a product over rows of one element: 47 us at 32 x 512, against 4)
        return grad.reshape(N, O).sum(axis=0)
    key = (P, grad.dtype, xp)
    ones = _ONES.get(key)
    if ones is None:
        ones = xp.ones(P, grad.dtype)
        if len(_ONES) < 64:
            _ONES[key] = ones
    return xp.matmul(grad.reshape(N * O, P), ones).reshape(N, O).sum(axis=0)


# ---- autograd nodes ------------------------------------------------------------------------
class ConvolutionBackward0(Node):
    """Gradient of conv1d/conv2d/conv_transpose1d/2d for (input, weight, bias)."""

    __slots__ = ("x", "w", "cols", "geom", "pads", "x_shape", "w_shape", "transposed")
    _saved_fields = ("x", "w", "cols")

    def apply(self, grad):
        nf = self.next_functions
        need_x = nf[0][0] is not None
        need_w = nf[1][0] is not None
        need_b = len(nf) > 2 and nf[2][0] is not None
        g = self.geom
        w = self.w
        xp = xp_of(grad)
        # float16 or bfloat16 (the itemsize test first: free for float32)
        half = grad.dtype if xp is np and grad.itemsize == 2 and grad.dtype.kind in "fV" else None
        if half is not None:   # (see _conv: the saved input and cols are float32 already)
            grad, w = grad.astype(_f32), w.astype(_f32)
        if grad.ndim == 3:  # 1-d convolution runs as 2-d with H = 1
            grad = grad[:, :, None, :]
        gx = gw = gb = None
        if need_b:
            gb = _channel_sum(xp, grad)
        w2 = _w2(w, g.G)
        pt, pb, pl, pr = self.pads
        if not self.transposed:
            if need_x or need_w:
                gw, dxp = _backward(xp, self.x, w2, grad, g, w.shape[0], need_w, need_x, self.cols)
                if need_x:
                    gx = dxp[:, :, pt:g.Hp - pb, pl:g.Wp - pr] if (pt or pb or pl or pr) else dxp
        else:
            # output = col2im(W.T @ x): its input gradient is the plain convolution of the
            # padded output gradient, its weight gradient the conv weight gradient with roles swapped
            x = self.x
            N, C = grad.shape[0], grad.shape[1]
            gp = xp.zeros((N, C, g.Hp, g.Wp), grad.dtype)
            gp[:, :, pt:g.Hp - pb, pl:g.Wp - pr] = grad
            if need_x:
                gx = _forward(xp, gp, w2, g, w.shape[0], None, False)[0]
            if need_w:
                gw = _backward(xp, gp, w2, x, g, w.shape[0], True, False, None)[0]
        if gx is not None and gx.ndim != len(self.x_shape):
            gx = gx.reshape(self.x_shape)
        if gw is not None:
            gw = gw.reshape(self.w_shape)
        if half is not None:
            gx, gw, gb = (None if a is None else a.astype(half) for a in (gx, gw, gb))
        return gx, gw, gb

    _double_backward = True   # through _apply_tensors (create_graph=True)

    def _apply_tensors(self, grad, saved):
        """The same gradients written with differentiable ops on Tensors, for create_graph=True: the
        input's is the transposed convolution of grad, the weight's a product with the unfolded input."""
        from .fold import unfold
        from .norm import pad
        g = self.geom
        G = g.G
        x, w = saved
        one_d = grad.ndim == 3
        if one_d:
            grad, x, w = grad.unsqueeze(2), x.unsqueeze(-2), w.unsqueeze(2)
        if x.ndim == 3:   # unbatched: the node sits between an Unsqueeze and a Squeeze
            x = x.unsqueeze(0)
        nf = self.next_functions
        pt, pb, pl, pr = self.pads
        N, O, OH, OW = grad.shape
        gx = gw = gb = None
        if len(nf) > 2 and nf[2][0] is not None:
            gb = grad.sum((0, 2, 3))
        if self.transposed:
            # output = crop(col2im(W.T @ x)): the input's gradient convolves the padded grad with W,
            # the weight's multiplies x with the padded grad's columns
            gp = pad(grad, (pl, pr, pt, pb))
            if nf[0][0] is not None:
                gx = conv2d(gp, w, None, (g.sh, g.sw), 0, (g.dh, g.dw), G)
                if one_d:
                    gx = gx.squeeze(2)
                if gx.ndim != len(self.x_shape):
                    gx = gx.reshape(self.x_shape)
            if nf[1][0] is not None:
                cols = unfold(gp, (g.kh, g.kw), (g.dh, g.dw), 0, (g.sh, g.sw))
                cols = cols.reshape(N, G, -1, cols.shape[-1])
                xg = x.reshape(N, G, x.shape[1] // G, -1)
                gw = (xg @ cols.transpose(2, 3)).sum(0).reshape(self.w_shape)
            return gx, gw, gb
        if nf[0][0] is not None:
            full = conv_transpose2d(grad, w, None, (g.sh, g.sw), 0, 0, G, (g.dh, g.dw))
            # rows and columns no window reached get no gradient; then drop the zero padding
            full = pad(full, (0, g.Wp - full.shape[3], 0, g.Hp - full.shape[2]))
            gx = full[:, :, pt:g.Hp - pb, pl:g.Wp - pr]
            if one_d:
                gx = gx.squeeze(2)
            if gx.ndim != len(self.x_shape):
                gx = gx.reshape(self.x_shape)
        if nf[1][0] is not None:
            # per group: the group's output gradient times its input channels' columns
            cols = unfold(pad(x, (pl, pr, pt, pb)), (g.kh, g.kw), (g.dh, g.dw), 0, (g.sh, g.sw))
            cols = cols.reshape(N, G, -1, OH * OW)
            gw = (grad.reshape(N, G, O // G, OH * OW) @ cols.transpose(2, 3)).sum(0).reshape(self.w_shape)
        return gx, gw, gb


class SqueezeBackward1(Node):
    """Gradient of squeeze(dim): unsqueeze it back."""

    __slots__ = ("dim",)
    # its formula also runs on Tensors (create_graph=True: autograd/higher_order.py)
    _double_backward = True

    def apply(self, grad):
        return (xp_of(grad).expand_dims(grad, self.dim),)


class UnsqueezeBackward0(Node):
    """Gradient of unsqueeze(dim): squeeze it away."""

    __slots__ = ("dim",)
    # its formula also runs on Tensors (create_graph=True: autograd/higher_order.py)
    _double_backward = True

    def apply(self, grad):
        return (grad.squeeze(self.dim),)


# ---- argument checks -----------------------------------------------------------------------
def _tuple(v, n, name):
    if type(v) is int:
        return (v,) * n
    if type(v) is tuple and len(v) == n and type(v[0]) is int and type(v[-1]) is int:
        return v   # nn.Conv2d's (1, 1) and friends: the common case, no conversion
    if isinstance(v, (tuple, list)):
        v = tuple(int(a) for a in v)
        if len(v) == n:
            return v
        if len(v) == 1:
            return v * n
    elif isinstance(v, (np.integer,)) or (isinstance(v, Tensor) and v.numel() == 1):
        return (int(v),) * n
    raise RuntimeError(
        f"expected {name} to be a single integer value or a list of {n} values to match the "
        f"convolution dimensions, but got {name}={list(v) if isinstance(v, tuple) else v}")


def _check_tensor(t, what, op):
    if not isinstance(t, Tensor):
        raise TypeError(f"{op}(): argument '{what}' must be Tensor, not {type(t).__name__}")


def _prepare(op, input, weight, bias, nd, transposed, groups):
    """Validate (with torch's messages) and return the arrays, unbatched flag included."""
    _check_tensor(input, "input", op)
    _check_tensor(weight, "weight", op)
    x, w = input._data, weight._data
    if w.ndim != nd + 2:
        raise RuntimeError(
            f"{op}: expected a {nd + 2}-d weight of shape (out_channels, in_channels/groups"
            f"{', kH, kW' if nd == 2 else ', kW'}), but got weight of size {list(w.shape)}")
    unbatched = x.ndim == nd + 1
    if not unbatched and x.ndim != nd + 2:
        raise RuntimeError(
            f"Expected {nd + 1}D (unbatched) or {nd + 2}D (batched) input to {op}, but got input of "
            f"size: {list(x.shape)}")
    if type(groups) is not int:
        groups = int(groups)
    if groups <= 0:
        raise RuntimeError("non-positive groups is not supported")
    if unbatched:
        x = x[None]
    if x.dtype != w.dtype:
        if isinstance(bias, Tensor) and bias._data.dtype != x.dtype:  # torch compares input and bias first
            raise RuntimeError(f"Input type ({B.c_name(x.dtype)}) and bias type "
                               f"({B.c_name(bias._data.dtype)}) should be the same")
        raise RuntimeError(f"expected scalar type {B.scalar_name(x.dtype)} but found {B.scalar_name(w.dtype)}")
    if type(x) is not type(w):
        raise RuntimeError(f"Input type ({input.type()}) and weight type ({weight.type()}) should be the same "
                           f"({op}: move both to one device, e.g. weight.to(input.device))")
    b = None
    if bias is not None:
        _check_tensor(bias, "bias", op)
        b = bias._data
        if type(b) is not type(x):
            raise RuntimeError(f"Input type ({input.type()}) and bias type ({bias.type()}) should be the same "
                               f"({op}: move both to one device)")
        if b.dtype != x.dtype:
            raise RuntimeError(f"Input type ({B.c_name(x.dtype)}) and bias type "
                               f"({B.c_name(b.dtype)}) should be the same")
    if w.shape[0] == 0:
        raise RuntimeError(f"Given groups={groups}, expected weight to be at least 1 at dimension 0, "
                           f"but got weight of size {list(w.shape)} instead")
    if transposed:
        if x.shape[1] != w.shape[0]:
            raise RuntimeError(
                f"Given transposed=1, weight of size {list(w.shape)}, expected input"
                f"{list(x.shape)} to have {w.shape[0]} channels, but got {x.shape[1]} channels instead")
        n_out = w.shape[1] * groups
        if w.shape[0] % groups:
            raise RuntimeError(
                f"Given groups={groups}, expected weight to be divisible by {groups} at dimension 0, "
                f"but got weight of size {list(w.shape)} instead")
    else:
        if w.shape[0] % groups:
            raise RuntimeError(
                f"Given groups={groups}, expected weight to be divisible by {groups} at dimension 0, "
                f"but got weight of size [{list(w.shape)}] instead")
        if x.shape[1] != w.shape[1] * groups:
            raise RuntimeError(
                f"Given groups={groups}, weight of size {list(w.shape)}, expected input"
                f"{list(x.shape)} to have {w.shape[1] * groups} channels, but got {x.shape[1]} "
                "channels instead")
        n_out = w.shape[0]
    if b is not None and (b.ndim != 1 or b.shape[0] != n_out):
        raise RuntimeError(
            f"Given weight of size {list(w.shape)}, expected bias to be 1-dimensional with {n_out} "
            f"elements, but got bias of size {list(b.shape)} instead")
    return x, w, b, unbatched, groups


def _positive(vals, what):
    for v in vals:
        if v <= 0:
            raise RuntimeError(f"non-positive {what} is not supported")


def _too_small(Hp, Wp, kh, kw, dh, dw, nd):
    ekh, ekw = dh * (kh - 1) + 1, dw * (kw - 1) + 1
    if nd == 1:
        raise RuntimeError(
            f"Calculated padded input size per channel: ({Wp}). Kernel size: ({ekw}). Kernel size "
            "can't be greater than actual input size")
    raise RuntimeError(
        f"Calculated padded input size per channel: ({Hp} x {Wp}). Kernel size: ({ekh} x {ekw}). "
        "Kernel size can't be greater than actual input size")


def _no_empty_output(x, unbatched):
    """Whether torch refuses a transposed convolution's output of size 0: its CPU kernels give an empty batch
    (and, through oneDNN, a float32 or bfloat16 batch) an empty output, and refuse the rest as too small."""
    return unbatched or x.shape[0] and x.dtype.name not in ("float32", "bfloat16")


def _empty_input(x):
    """torch convolves an empty input only where its batch or its channels are empty (x batched, 1-d as 2-d)."""
    if not x.size and x.shape[0] and x.shape[1]:
        raise RuntimeError(f"Only zero batch or zero channel inputs are supported, but got input shape: "
                           f"{list(x.shape)} (an empty spatial dim leaves nothing to convolve)")


def _pad_input(xp, x, pt, pb, pl, pr):
    """x zero-padded (a new C-contiguous array), or x itself made C-contiguous."""
    if pt or pb or pl or pr:
        N, C, H, W = x.shape
        xpad = xp.zeros((N, C, H + pt + pb, W + pl + pr), x.dtype)
        xpad[:, :, pt:pt + H, pl:pl + W] = x
        return xpad
    return x if x.flags.c_contiguous else xp.ascontiguousarray(x)


def _wire(node, input, weight, bias, unbatched, out):
    """Link node to (input, weight, bias) and wrap out; unbatched calls get torch's
    Unsqueeze/Squeeze pair around the convolution."""
    if unbatched and input._requires_grad:
        u = UnsqueezeBackward0.__new__(UnsqueezeBackward0)
        u.next_functions = (edge(input),)
        u._saved_versions = ()
        u.dim = 0
        ex = (u, 0)
    else:
        ex = edge(input) if input._requires_grad else (None, 0)
    node.next_functions = (ex, edge(weight) if weight._requires_grad else (None, 0),
                           edge(bias) if bias is not None and bias._requires_grad else (None, 0))
    node._saved_versions = ((input, input._vc[0]), (weight, weight._vc[0]))
    if unbatched:
        sq = SqueezeBackward1.__new__(SqueezeBackward1)
        sq.next_functions = ((node, 0),)
        sq._saved_versions = ()
        sq.dim = 0
        node = sq
        out = out[0]
    t = _wrap(out)
    t._requires_grad = True
    t.grad_fn = node
    return t


def _needs(input, weight, bias):
    return state.enabled and (input._requires_grad or weight._requires_grad
                              or (bias is not None and bias._requires_grad))


_same_warned = [False]


def _warn_asymmetric_same(*totals):
    """torch's once-per-process warning for padding='same' that pads one side more than the other."""
    if any(t % 2 for t in totals) and not _same_warned[0]:
        _same_warned[0] = True
        from .. import _userwarn
        _userwarn.warn("Using padding='same' with even kernel lengths and odd dilation may require a zero-padded "
                       "copy of the input be created")


# ---- convolution -----------------------------------------------------------------------------
# geometries by their arguments: a model calls each layer with the same shapes every step, and
# a _Geom is never modified once made (building one costs ~1.5 us)
_GEOMS = {}


def _conv(op, nd, input, weight, bias, stride, padding, dilation, groups):
    if AUTOCAST[0] is not None:
        input, weight, bias = AUTOCAST[0](LOWER, input, weight, bias)
    x, w, b, unbatched, groups = _prepare(op, input, weight, bias, nd, False, groups)
    if nd == 1:
        x = x[:, :, None, :]
        w = w[:, :, None, :]
        sh, sw = 1, _tuple(stride, 1, "stride")[0]
        dh, dw = 1, _tuple(dilation, 1, "dilation")[0]
    else:
        if type(stride) is int and stride > 0:
            sh = sw = stride
        else:
            sh, sw = _tuple(stride, 2, "stride")
        if type(dilation) is int and dilation > 0:
            dh = dw = dilation
        else:
            dh, dw = _tuple(dilation, 2, "dilation")
    _positive((sh, sw), "stride")
    _positive((dh, dw), "dilation")
    kh, kw = w.shape[2], w.shape[3]
    if type(padding) is int and padding >= 0:
        pl = pr = padding
        pt = pb = padding if nd == 2 else 0
    elif isinstance(padding, str):
        if padding == "valid":
            pt = pb = pl = pr = 0
        elif padding == "same":
            if sh != 1 or sw != 1:
                raise RuntimeError("padding='same' is not supported for strided convolutions")
            th, tw = dh * (kh - 1), dw * (kw - 1)
            _warn_asymmetric_same(th, tw)
            pt, pl = th // 2, tw // 2
            pb, pr = th - pt, tw - pl
        else:
            raise RuntimeError(f"Invalid padding string: '{padding}'")
    else:
        if nd == 1:
            pt = pb = 0
            pl = pr = _tuple(padding, 1, "padding")[0]
        else:
            pt, pl = _tuple(padding, 2, "padding")
            pb, pr = pt, pl
        if pt < 0 or pl < 0:
            raise RuntimeError("negative padding is not supported")
    N, C, H, W = x.shape
    Hp, Wp = H + pt + pb, W + pl + pr
    if Hp < dh * (kh - 1) + 1 or Wp < dw * (kw - 1) + 1:
        _too_small(Hp, Wp, kh, kw, dh, dw, nd)
    if not x.size:
        _empty_input(x)
    # (the layout knobs too: tests change them, and a geometry made before must not answer for them)
    key = (N, C, Hp, Wp, kh, kw, sh, sw, dh, dw, groups, w.shape[0],
           _SPLIT_MAX_OUT, _SPLIT_FORWARD_MAX_OUT, _BLOCK, _SHARED_BLOCK, _MIN_COLUMNS)
    g = _GEOMS.get(key)
    if g is None:
        g = _Geom(*key[:12])
        if len(_GEOMS) > 64:
            _GEOMS.clear()
        _GEOMS[key] = g
    xp = xp_of(x)
    xpad = _pad_input(xp, x, pt, pb, pl, pr)
    w2 = _w2(w, groups)
    half = xpad.dtype if xp is np and xpad.itemsize == 2 and xpad.dtype.kind in "fV" else None
    if half is not None:
        # NumPy has no float16 BLAS (a 16 -> 32 channel 3x3 convolution of 8 x 32 x 32: 50 ms, torch
        # 1.0): computed in float32, where float16 products are exact, and rounded once, as torch's
        # CPU kernels accumulate float16 in float32.  Backward works in float32 too (saved inputs).
        # bfloat16 (ml_dtypes' 'V') the same way
        xpad, w2, b = xpad.astype(_f32), w2.astype(_f32), (None if b is None else b.astype(_f32))
    if not _needs(input, weight, bias):
        out = _forward(xp, xpad, w2, g, w.shape[0], b, False)[0]
        if half is not None:
            out = out.astype(half)
        if nd == 1:
            out = out[:, :, 0, :]
        return _wrap(out[0] if unbatched else out)
    keep = weight._requires_grad
    out, cols = _forward(xp, xpad, w2, g, w.shape[0], b, keep)
    if half is not None:
        out = out.astype(half)
    node = ConvolutionBackward0.__new__(ConvolutionBackward0)
    node.x = xpad if (keep and cols is None) else None
    node.w = w
    node.cols = cols
    node.geom = g
    node.pads = (pt, pb, pl, pr)
    node.x_shape = x.shape if nd == 2 else (N, C, W)
    node.w_shape = weight._data.shape
    node.transposed = False
    if nd == 1:
        out = out[:, :, 0, :]
    return _wire(node, input, weight, bias, unbatched, out)


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-d convolution over (N, C, H, W) or unbatched (C, H, W) input, as torch.nn.functional.conv2d."""
    out = _conv("conv2d", 2, input, weight, bias, stride, padding, dilation, groups)
    if input._data.flags.c_contiguous and weight._data.flags.c_contiguous:
        return out
    return _mf.settle(out, input._data, "suggest", weight._data)


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """1-d convolution over (N, C, L) or unbatched (C, L) input, as torch.nn.functional.conv1d."""
    return _conv("conv1d", 1, input, weight, bias, stride, padding, dilation, groups)


# ---- transposed convolution ------------------------------------------------------------------
def _conv_t(op, nd, input, weight, bias, stride, padding, output_padding, groups, dilation):
    if isinstance(padding, str):
        raise TypeError(f"{op}(): argument 'padding' must be tuple of ints, not str")
    if AUTOCAST[0] is not None:
        input, weight, bias = AUTOCAST[0](LOWER, input, weight, bias)
    x, w, b, unbatched, groups = _prepare(op, input, weight, bias, nd, True, groups)
    n = 2 if nd == 2 else 1
    st = _tuple(stride, n, "stride")
    pa = _tuple(padding, n, "padding")
    op_ = _tuple(output_padding, n, "output_padding")
    di = _tuple(dilation, n, "dilation")
    if nd == 1:
        x = x[:, :, None, :]
        w = w[:, :, None, :]
        st, pa, op_, di = (1,) + st, (0,) + pa, (0,) + op_, (1,) + di
    sh, sw = st
    dh, dw = di
    ph, pw = pa
    oph, opw = op_
    _positive((sh, sw), "stride")
    _positive((dh, dw), "dilation")
    if ph < 0 or pw < 0:
        raise RuntimeError("negative padding is not supported")
    if oph < 0 or opw < 0 or (oph >= sh and oph >= dh) or (opw >= sw and opw >= dw):
        raise RuntimeError(
            f"output padding must be smaller than either stride or dilation, but got "
            f"output_padding_height: {oph} output_padding_width: {opw} stride_height: {sh} "
            f"stride_width: {sw} dilation_height: {dh} dilation_width: {dw}")
    N, Cin, H, W = x.shape
    if not x.size:
        _empty_input(x)
    kh, kw = w.shape[2], w.shape[3]
    Cout = w.shape[1] * groups
    Hy = (H - 1) * sh - 2 * ph + dh * (kh - 1) + oph + 1
    Wy = (W - 1) * sw - 2 * pw + dw * (kw - 1) + opw + 1
    if Hy < 0 or Wy < 0 or not (Hy and Wy) and _no_empty_output(x, unbatched):
        raise RuntimeError(
            f"Given input size per channel: ({H} x {W}). Calculated output size per channel: "
            f"({Hy} x {Wy}). Output size is too small")
    # the convolution whose input gradient this is: input (N, Cout, Hy+2ph, Wy+2pw) -> (N, Cin, H, W)
    Hp, Wp = Hy + 2 * ph, Wy + 2 * pw
    g = _Geom(N, Cout, Hp, Wp, kh, kw, sh, sw, dh, dw, groups, Cin, H, W)
    w2 = _w2(w, groups)
    xp = xp_of(x)
    xc = x if x.flags.c_contiguous else xp.ascontiguousarray(x)
    half = xc.dtype if xp is np and xc.itemsize == 2 and xc.dtype.kind in "fV" else None
    if half is not None:   # (in float32, as _conv)
        xc, w2, b = xc.astype(_f32), w2.astype(_f32), (None if b is None else b.astype(_f32))
    zp = _backward(xp, None, w2, xc, g, Cin, False, True, None)[1]
    out = zp[:, :, ph:ph + Hy, pw:pw + Wy]
    if b is not None:
        out = out + b.reshape(1, Cout, 1, 1)
    elif ph or pw:
        out = xp.ascontiguousarray(out)
    if half is not None:
        out = out.astype(half)
    if nd == 1:
        out = out[:, :, 0, :]
    if not _needs(input, weight, bias):
        return _wrap(out[0] if unbatched else out)
    node = ConvolutionBackward0.__new__(ConvolutionBackward0)
    node.x = xc
    node.w = w
    node.cols = None
    node.geom = g
    node.pads = (ph, ph, pw, pw)
    node.x_shape = x.shape if nd == 2 else (N, Cin, W)
    node.w_shape = weight._data.shape
    node.transposed = True
    return _wire(node, input, weight, bias, unbatched, out)


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """2-d transposed convolution ("deconvolution"), as torch.nn.functional.conv_transpose2d."""
    out = _conv_t("conv_transpose2d", 2, input, weight, bias, stride, padding, output_padding, groups, dilation)
    if input._data.flags.c_contiguous and weight._data.flags.c_contiguous:
        return out
    return _mf.settle(out, input._data, "suggest", weight._data)


def conv_transpose1d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """1-d transposed convolution, as torch.nn.functional.conv_transpose1d."""
    return _conv_t("conv_transpose1d", 1, input, weight, bias, stride, padding, output_padding, groups, dilation)
