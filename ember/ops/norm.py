"""Normalization, dropout, embedding, padding, distances and interpolation.

batch_norm / layer_norm / group_norm / instance_norm share one backward
formula; dropout draws its masks from ember's default generator; embedding's
backward sums rows with a sort + reduceat (no np.add.at); pad and interpolate
map each padded or resized axis through an index table (forward) and its
adjoint matrix (backward).
"""
import math

import numpy as np

from .. import _backend as B
from .. import _threads
from .. import _memory_format as _mf
from ..autograd.grad_mode import state
from ..autograd.graph import Node, edge
from ..autograd.higher_order import _is_array, vjp
from .._tensor import _dim, _wrap
from . import in_float32, kernel_for, unbroadcast
from .conv import _channel_sum
from .pool import _all_finite
from .shape import _index_add_rows, _out_of_range
from .activation import _SAVED_OUTPUT, _check_inplace, _rebase_if_view, _record, _write_inplace
from .elementwise import AddBackward0 as _AddBackward0, _times
from .._userwarn import warn as _warn_user
from ..random import generator_for

# names torch exposes at top level (torch.batch_norm, torch.dropout, ...)
__all__ = [
    "batch_norm", "layer_norm", "group_norm", "instance_norm", "dropout", "alpha_dropout",
    "feature_dropout", "feature_alpha_dropout", "native_dropout", "embedding", "constant_pad_nd",
    "cosine_similarity", "pairwise_distance", "native_batch_norm", "native_layer_norm", "rms_norm",
    "norm_except_dim", "_weight_norm",
]

# names torch.nn.functional exposes from this module
__functional__ = [
    "batch_norm", "layer_norm", "group_norm", "instance_norm", "dropout", "dropout1d", "dropout2d",
    "dropout3d", "alpha_dropout", "feature_alpha_dropout", "embedding", "embedding_bag", "one_hot", "pad", "normalize",
    "cosine_similarity", "pairwise_distance", "interpolate", "rms_norm", "upsample", "upsample_nearest",
    "upsample_bilinear",
]

_new = object.__new__
xp_of = B.xp_of


def _float(input, name, bf16=False):
    d = input._data
    if d.dtype.kind != "f" and not (bf16 and d.dtype.kind == "V"):   # (bf16: the ops that take bfloat16)
        raise RuntimeError(f"{name}: expected a floating point input, got {input.dtype}; convert it with .float()")
    return d


# ---- batch / layer / group / instance norm ------------------------------------------
class _NormBackward(Node):
    """d(out)/d(input, weight, bias) of out = xhat * weight + bias, xhat normalized over `axes`."""

    __slots__ = ("xhat", "invstd", "w", "axes", "paxes", "w_shape", "group", "eps")
    _saved_fields = ("xhat", "invstd", "w")
    # its formula also runs on Tensors (create_graph=True: autograd/higher_order.py), with xhat and
    # invstd recomputed from the input (constants in evaluation mode, where the statistics are)
    _double_backward = True

    def _tensor_field(self, field, saved):
        if field not in ("xhat", "invstd"):
            return None
        from .._tensor import _wrap
        x = saved[0]
        if self.axes is None:
            if field == "invstd":
                return _wrap(self.invstd)
            # xhat = (x - running_mean) * invstd: linear in x, the rest constant
            return x * _wrap(self.invstd) + _wrap(self.xhat - x._data * self.invstd)
        xs = x.reshape(x.shape[0], self.group, -1) if self.group else x
        xc = xs - xs.mean(self.axes, keepdim=True)
        invstd = ((xc * xc).mean(self.axes, keepdim=True) + self.eps).rsqrt()
        if field == "invstd":
            return invstd
        xhat = xc * invstd
        return xhat.reshape(x.shape) if self.group else xhat

    def apply(self, g):
        nf = self.next_functions
        xhat = self.xhat
        gx = gw = gb = None
        if (self.axes is None or self.axes == self.paxes) and self.paxes == _channel_axes(g) \
                and _channel_rows(g) and _channel_rows(xhat):
            return self._per_channel(g, nf)
        if not self.group and self.axes is not None and self.axes == _channel_axes(g)[1:] \
                and _channel_rows(g) and _channel_rows(xhat) and g.dtype is xhat.dtype:
            return _group_rows(self, g, xhat, g.shape[1])   # instance norm: a group a channel
        if nf[1][0] is not None:
            gw = (g * xhat).sum(axis=self.paxes).reshape(self.w_shape)
        if nf[2][0] is not None:
            gb = g.sum(axis=self.paxes).reshape(self.w_shape)
        if nf[0][0] is not None:
            gh = g if self.w is None else g * self.w
            axes = self.axes
            if axes is None:  # evaluation mode: the statistics are constants
                gx = gh * self.invstd
            elif not gh.size:   # an empty batch
                gx = gh * 0
            else:
                shape = gh.shape
                if self.group:
                    gh = gh.reshape(shape[0], self.group, -1)
                    xhat = xhat.reshape(shape[0], self.group, -1)
                gx = (gh - gh.mean(axis=axes, keepdims=True)
                      - xhat * (gh * xhat).mean(axis=axes, keepdims=True)) * self.invstd
                if self.group:
                    gx = gx.reshape(shape)
        return gx, gw, gb

    def _per_channel(self, g, nf):
        """apply() for batch norm over (N, C, *spatial) C-contiguous float arrays: two BLAS
        reductions instead of NumPy's four over (0, 2, 3), and the weight folded into per-channel
        constants (16x16x32x32 float32: 475 -> 222 us; torch 300)."""
        xhat = self.xhat
        xp = xp_of(g)
        block = _bn_blocks(xp, g)
        if block:
            return self._per_channel_blocks(xp, g, nf, block)
        sg = _channel_sum(xp, g)
        sgx = _channel_dot(xp, g, xhat)
        gw = sgx.reshape(self.w_shape) if nf[1][0] is not None else None
        gb = sg.reshape(self.w_shape) if nf[2][0] is not None else None
        gx = None
        if nf[0][0] is not None:
            shape = (1, g.shape[1]) + (1,) * (g.ndim - 2)
            k = _spread(xp, self.invstd if self.w is None else self.w * self.invstd, g)
            token = B.set_rows(_plane(g))
            try:
                if self.axes is None:   # evaluation mode: the statistics are constants
                    gx = g * k
                else:
                    # g - mean(g) - xhat * mean(g * xhat), times w * invstd
                    n = g.size // g.shape[1]
                    gx = xhat * _spread(xp, (sgx / n).reshape(shape), g)
                    gx += _spread(xp, (sg / n).reshape(shape), g)
                    xp.subtract(g, gx, out=gx)
                    gx *= k
            finally:
                if token is not None:
                    B.fp_reset(token)
        return gx, gw, gb


    def _per_channel_blocks(self, xp, g, nf, block):
        """_per_channel in two passes over blocks of rows on the threads (_bn_blocks), with its bits."""
        N, C = g.shape[0], g.shape[1]
        R, P = N * C, _plane(g)
        g2, xh2 = g.reshape(R, P), self.xhat.reshape(R, P)
        sums, dots = _row_sums_dots(xp, g2, xh2, block)
        sg, sgx = sums.reshape(N, C).sum(axis=0), dots.reshape(N, C).sum(axis=0)
        gw = sgx.reshape(self.w_shape) if nf[1][0] is not None else None
        gb = sg.reshape(self.w_shape) if nf[2][0] is not None else None
        if nf[0][0] is None:
            return None, gw, gb
        k_rows = _row_constants(xp, self.invstd if self.w is None else self.w * self.invstd, N)
        gx = xp.empty_like(g2)
        if self.axes is None:   # evaluation mode: the statistics are constants
            def grad_rows(rows):
                xp.multiply(g2[rows], k_rows[rows], out=gx[rows])
        else:
            # g - mean(g) - xhat * mean(g * xhat), times w * invstd
            n = g.size // C
            a_rows, c_rows = _row_constants(xp, sgx / n, N), _row_constants(xp, sg / n, N)

            def grad_rows(rows):
                o = xp.multiply(xh2[rows], a_rows[rows], out=gx[rows])
                o += c_rows[rows]
                xp.subtract(g2[rows], o, out=o)
                o *= k_rows[rows]
        _threads.row_blocks(grad_rows, R, P, B.rows_state(P), block)
        return gx.reshape(g.shape), gw, gb


class NativeBatchNormBackward0(_NormBackward):
    __slots__ = ()


class NativeLayerNormBackward0(_NormBackward):
    # x, mean: a large input and its row means, kept instead of xhat (see _layer_norm_blocks)
    __slots__ = ("x", "mean")
    _saved_fields = ("xhat", "invstd", "w", "x", "mean")

    def _tensor_field(self, field, saved):
        if field == "x":
            return saved[0]
        if field == "mean":   # (the formula on Tensors takes xhat, recomputed from the input)
            from .._tensor import _wrap
            return _wrap(self.mean)
        return _NormBackward._tensor_field(self, field, saved)

    def apply(self, g):
        xhat = self.xhat
        if xhat is None:
            x = self.x
            if not (_rows_ok(g) and g.dtype is x.dtype and g.shape == x.shape):
                # (the general path takes xhat whole)
                xhat = self.xhat = _xhat_rows(xp_of(x), x.reshape(self.mean.size, -1), self.mean,
                                              self.invstd.reshape(-1)).reshape(x.shape)
        if xhat is not None and not (_rows_ok(g) and g.dtype is xhat.dtype and xhat.flags.c_contiguous):
            return _NormBackward.apply(self, g)
        # over (rows, D): the column sums and the per-row sums are products with ones or the weight
        # (a gemv each), and gx is five passes (layer norm fwd+bwd at (16, 32, 512): 688 -> ~390 us)
        D = g.size // self.invstd.size
        token = B.set_rows(D)
        try:
            return self._rows(g, xhat, D)
        finally:
            if token is not None:
                B.fp_reset(token)

    def _rows(self, g, xhat, D):
        """_layer_norm_grad_rows over (rows, D); xhat None: recomputed block by block from the input."""
        xp = xp_of(g)
        nf = self.next_functions
        gr = g.reshape(-1, D)
        w = None if self.w is None else self.w.reshape(D)
        need = (nf[0][0] is not None, nf[1][0] is not None, nf[2][0] is not None)
        invstd = self.invstd.reshape(-1)
        if xhat is None:
            x2, mean = self.x.reshape(-1, D), self.mean

            def xhat_of(rows):
                return _xhat_rows(xp, x2[rows], mean[rows], invstd[rows])
        else:
            xr = xhat.reshape(-1, D)

            def xhat_of(rows):
                return xr[rows]
        if xp is np and g.size >= 2 * _threads.ROW_BLOCK:
            # in blocks of whole rows: the rows' gradients as from one pass, the weight's and bias's
            # summed over the blocks in order ((4096, 1024): 21 -> 11.3 ms on one thread, 9.4 on two;
            # torch 5.5-7.0 and 2.9-3.8)
            gx = xp.empty_like(gr) if need[0] else None
            parts = _threads.row_blocks(
                lambda rows: _layer_norm_grad_rows(xp, gr[rows], xhat_of(rows), invstd[rows], w, D, need,
                                                   None if gx is None else gx[rows]),
                gr.shape[0], D, B.rows_state(D) if D >= B.ROWS_MIN else B.FP_QUIET)
            gw = gb = None
            for _, pw, pb in parts:
                gw = pw if gw is None else gw + pw
                gb = pb if gb is None else gb + pb
        else:
            gx, gw, gb = _layer_norm_grad_rows(xp, gr, xhat_of(slice(None)), invstd, w, D, need)
        return (None if gx is None else gx.reshape(g.shape), None if gw is None else gw.reshape(self.w_shape),
                None if gb is None else gb.reshape(self.w_shape))


def _layer_norm_grad_rows(xp, gr, xr, invstd, w, D, need, gx=None):
    """Layer norm's (gx, gw, gb) over (R, D) rows of the output gradient and xhat, for the inputs in
    need (flags); gx: an (R, D) array to write it into."""
    gw = gb = None
    if need[1] or (need[0] and w is not None):
        gxr = gr * xr
    if need[1]:
        gw = xp.dot(_ones(xp, gr.shape[0], gr.dtype), gxr)
    if need[2]:
        gb = xp.dot(_ones(xp, gr.shape[0], gr.dtype), gr)
    if need[0]:
        # gx = (gh - mean(gh) - xhat * mean(gh * xhat)) * invstd, gh = g * w, means over each row
        if w is None:
            a, b = xp.dot(gr, _ones(xp, D, gr.dtype)), _row_dots(xp, gr, xr)
            gx = xp.multiply(gr, invstd[:, None], out=gx)
        else:
            a, b = xp.dot(gr, w), xp.dot(gxr, w)
            gx = xp.multiply(gr, w, out=gx)
            gx *= invstd[:, None]
        k = invstd / D
        gx -= (a * k)[:, None]
        t = xr * (b * k)[:, None]
        gx -= t
    return gx, gw, gb


class NativeGroupNormBackward0(_NormBackward):
    __slots__ = ()

    def apply(self, g):
        xhat = self.xhat
        if not (_channel_rows(g) and _channel_rows(xhat) and g.dtype is xhat.dtype) or self.axes is None:
            return _NormBackward.apply(self, g)
        return _group_rows(self, g, xhat, self.group)


def _group_rows(node, g, xhat, grp):
    """A norm node's apply() for statistics over (sample, group) rows of (N, C, *spatial) arrays that
    pass _channel_rows (group norm; instance norm: grp = C).  The per-(sample, channel) sums of g
    and g * xhat (two products) give the weight's and bias's gradients and the group means gx needs,
    so gx is four passes, under the row state (8 x 16 x 32 x 32 in 4 groups: ~550 -> ~330 us)."""
    token = B.set_rows(_plane(g))
    try:
        xp = xp_of(g)
        nf = node.next_functions
        n, c = g.shape[0], g.shape[1]
        G, X = g.reshape(n * c, -1), xhat.reshape(n * c, -1)
        sg = xp.dot(G, _ones(xp, G.shape[1], g.dtype)).reshape(n, c)
        sgx = _row_dots(xp, G, X).reshape(n, c)
        gw = sgx.sum(axis=0).reshape(node.w_shape) if nf[1][0] is not None else None
        gb = sg.sum(axis=0).reshape(node.w_shape) if nf[2][0] is not None else None
        gx = None
        if nf[0][0] is not None:
            w = None if node.w is None else node.w.reshape(1, c)
            count = G.shape[1] * (c // grp)   # elements in a group's row
            if w is not None:
                sg, sgx = sg * w, sgx * w   # the sums of gh = g * w and of gh * xhat
            # per (sample, group): mean(gh) and mean(gh * xhat), times invstd; then per (sample, channel)
            inv = node.invstd.reshape(n, grp, 1)
            a = sg.reshape(n, grp, -1).sum(axis=2, keepdims=True) / count * inv
            b = sgx.reshape(n, grp, -1).sum(axis=2, keepdims=True) / count * inv
            shape = (n, grp, c // grp, 1)
            k = xp.broadcast_to(inv[..., None] if w is None else inv[..., None] * w.reshape(1, grp, -1, 1), shape)
            a, b = xp.broadcast_to(a[..., None], shape), xp.broadcast_to(b[..., None], shape)
            gx = G * k.reshape(n * c, 1)
            t = X * b.reshape(n * c, 1)
            gx -= t
            gx -= a.reshape(n * c, 1)
            gx = gx.reshape(g.shape)
        return gx, gw, gb
    finally:
        if token is not None:
            B.fp_reset(token)


def _param(t, name, what, c, dtype, shape, x=None):
    """A per-channel parameter (weight / bias / running stat) as an array broadcastable to the input x."""
    if t is None:
        return None
    d = t._data
    if x is not None and type(d) is not type(x):
        B.check_same_device(name, x, d)
    if d.size != c:
        raise RuntimeError(f"{what} should contain {c} elements not {d.size} ({name}: input has {c} channels)")
    if d.dtype != dtype:
        if d.dtype.kind == "V":   # (a bfloat16 input takes its own path: this input is not bfloat16)
            _refuse_mixed(name, dtype, (d.dtype,))
        d = d.astype(dtype)
    return d.reshape(shape)


_ROW_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def _channel_axes(a):
    """Every axis of a but the channels (1): batch norm's reduction axes."""
    return (0,) + tuple(range(2, a.ndim))


def _channel_rows(a):
    """True when a is an (N, C, *spatial) C-contiguous float32/float64 array, not empty: the
    per-channel reductions below then run as BLAS products over its (N*C, spatial) rows (on any
    device, so that a model computes the same bits on each; not the Tensors of create_graph=True)."""
    return _is_array(a) and a.ndim >= 3 and a.dtype in _ROW_DTYPES and a.flags.c_contiguous and a.size != 0


def _plane(a):
    """Elements of one (sample, channel) row of an (N, C, *spatial) array that passes _channel_rows."""
    return a.size // (a.shape[0] * a.shape[1])


_DOT_MIN_PLANE = 64


def _channel_dot(xp, a, b):
    """sum(a * b) per channel (dim 1) of two arrays that pass _channel_rows: one dot product per
    (sample, channel) row without the a * b array (16x16x32x32 float32: 20 us, against 67)."""
    N, C = a.shape[0], a.shape[1]
    if a.size < _DOT_MIN_PLANE * N * C:
        # short rows: one product each costs more than its row's work (32 x 512 x 1 x 1: 59 us, against
        # 4 for einsum's loop; 32 x 128 x 4 x 4: 74 against 25)
        return xp.einsum("ncp,ncp->c", a.reshape(N, C, -1), b.reshape(N, C, -1))
    ra, rb = a.reshape(N * C, -1), b.reshape(N * C, -1)
    return xp.matmul(ra[:, None, :], rb[:, :, None]).reshape(N, C).sum(axis=0)


def _spread(xp, v, a):
    """v, a per-channel (1, C, 1, ...) array (or None), in a form that broadcasts faster against a, an
    (N, C, *spatial) array of short planes: repeated over the plane, so that NumPy's inner loop runs
    along C * plane elements, not along one plane's few (32 x 256 x 2 x 2: x - mean 28 -> 8 us)."""
    if v is None or a.ndim < 3 or a.size < 8192:
        return v
    P = _plane(a)
    if not 1 < P < B.ROWS_MIN:
        return v
    return xp.ascontiguousarray(xp.broadcast_to(v, (1,) + a.shape[1:]))


# Batch norm over this many elements or more shares its passes between the threads, one block of
# whole (sample, channel) rows a thread, with the bits of one pass.  Each NumPy call must run long
# enough to pay for the second vCPU here: 4 x 64 x 112 x 112 forward 4.8 -> 3.4 ms, with backward
# 12.2 -> 7.7 (torch 2.7 and 5.6), while at 4 x 64 x 56 x 56 (800K) two threads ran no faster, and
# cache-sized blocks gained nothing on one thread
_BN_PAR_MIN = 1 << 21


def _bn_blocks(xp, a):
    """Elements a block of rows holds when batch norm shares a between the threads, else 0."""
    nw = _threads.get_num_threads()
    if nw < 2 or xp is not np or a.size < _BN_PAR_MIN or not _channel_rows(a) or _plane(a) < B.ROWS_MIN:
        return 0
    return -(-a.size // nw)


def _row_constants(xp, v, N):
    """A per-channel array of C values as one value per (sample, channel) row: (N * C, 1)."""
    return xp.tile(v.reshape(-1), N)[:, None]


def _row_sums_dots(xp, a2, b2, block):
    """(sums of a2's rows, dots of a2's and b2's rows) over (N * C, P) rows, in blocks of rows on the
    threads (each row's bits as in one pass: see _threads.row_blocks); b2 None: sums only."""
    R, P = a2.shape
    ones = _ones(xp, P, a2.dtype)
    sums = xp.empty(R, a2.dtype)
    dots = xp.empty(R, a2.dtype) if b2 is not None else None

    def sum_rows(rows):
        xp.matmul(a2[rows], ones, out=sums[rows])
        if b2 is not None:
            dots[rows] = xp.matmul(a2[rows][:, None, :], b2[rows][:, :, None]).reshape(-1)
    _threads.row_blocks(sum_rows, R, P, B.rows_state(P), block)
    return sums, dots


def _bn_train_blocks(xp, x, w, b, eps, n, block):
    """(out, xhat, mean, var, invstd) of batch norm in training, three passes over blocks of rows on
    the threads (_bn_blocks), with the one-pass computation's bits."""
    N, C = x.shape[0], x.shape[1]
    R, P = N * C, _plane(x)
    x2 = x.reshape(R, P)
    state = B.rows_state(P)
    mean = _row_sums_dots(xp, x2, None, block)[0].reshape(N, C).sum(axis=0) / n
    mean_rows = _row_constants(xp, mean, N)
    xhat = xp.empty_like(x2)
    dots = xp.empty(R, x.dtype)

    def centre(rows):
        xc = xp.subtract(x2[rows], mean_rows[rows], out=xhat[rows])
        dots[rows] = xp.matmul(xc[:, None, :], xc[:, :, None]).reshape(-1)
    _threads.row_blocks(centre, R, P, state, block)
    var = dots.reshape(N, C).sum(axis=0) / n
    invstd = 1 / xp.sqrt(var + eps)
    scale_rows = _row_constants(xp, invstd, N)
    w_rows = None if w is None else _row_constants(xp, w, N)
    b_rows = None if b is None else _row_constants(xp, b, N)
    out = xp.empty_like(x2)

    def scale(rows):
        xh, o = xhat[rows], out[rows]
        xh *= scale_rows[rows]
        if w_rows is None:
            xp.copyto(o, xh)
        else:
            xp.multiply(xh, w_rows[rows], out=o)
        if b_rows is not None:
            xp.add(o, b_rows[rows], out=o)
    _threads.row_blocks(scale, R, P, state, block)
    return out.reshape(x.shape), xhat.reshape(x.shape), mean, var, invstd


def _stats(x, axes):
    mean = x.mean(axis=axes, keepdims=True)
    xc = x - mean
    var = (xc * xc).mean(axis=axes, keepdims=True)
    return mean, xc, var


def _affine_out(xhat, w, b):
    # never return xhat itself: the node keeps it, and the caller may modify the output in place
    xp = xp_of(xhat)
    out = xhat * w if w is not None else xhat.copy()
    if b is not None:
        out = out + b if w is None else xp.add(out, b, out=out)
    return out


def _norm_record(cls, input, weight, bias, out, xhat, invstd, w, axes, paxes, w_shape, group=0, eps=0.0):
    if not (state.enabled and (input._requires_grad or (weight is not None and weight._requires_grad)
                               or (bias is not None and bias._requires_grad))):
        return _wrap(out)
    node = _new(cls)
    node.next_functions = (edge(input), edge(weight) if weight is not None else (None, 0),
                           edge(bias) if bias is not None else (None, 0))
    # torch saves the input too: modifying it in place before backward is an error there as well
    node._saved_versions = ((input, input._vc[0]),) + (((weight, weight._vc[0]),) if weight is not None else ())
    node.xhat, node.invstd, node.w, node.axes = xhat, invstd, w, axes
    node.paxes, node.w_shape, node.group, node.eps = paxes, w_shape, group, eps
    if cls is NativeLayerNormBackward0:
        node.x = node.mean = None   # (set by layer_norm where it keeps them instead of xhat)
    return _record(out, node)


def _update_running(rm, rv, mean, var_unbiased, momentum):
    with B.errstate(xp_of(mean), all="ignore"):
        if rm is not None:
            d = rm._data
            d *= 1 - momentum
            d += (mean * momentum).astype(d.dtype, copy=False).reshape(d.shape)
            rm._vc[0] += 1
        if rv is not None:
            d = rv._data
            d *= 1 - momentum
            d += (var_unbiased * momentum).astype(d.dtype, copy=False).reshape(d.shape)
            rv._vc[0] += 1


# ---- bfloat16: torch's CPU kernels, in float32 with their roundings ------------------------
# A bfloat16 input's norms compute in float32 and round the output once, as torch's kernels do, and keep
# what those store in the parameters' dtype rounded: with bfloat16 parameters (or none) the statistics
# and the weight's gradient are bfloat16, with float32 ones ("mixed", nn.BatchNorm2d(3) on a bfloat16
# input) they stay float32.  torch's build contracts x * alpha + beta into one fused multiply-add.
_F32 = np.dtype(np.float32)


def _refuse_mixed(name, dtype, dtypes):
    """torch's RuntimeError for parameters (of these NumPy dtypes) that a norm of an input of dtype cannot
    mix."""
    given = ", ".join(B.scalar_name(d) for d in dtypes)
    raise RuntimeError(f"mixed dtype (CPU): expect parameter to have scalar type of Float ({name}: a "
                       f"{B.scalar_name(dtype)} input's parameters are all of its dtype, or all Float for a "
                       f"BFloat16 input; got {given}: convert them with .to())")


def _bf16_mixed(name, x, params):
    """Whether a bfloat16 input x takes its parameters (Tensors or None, in torch's order) as float32
    ('mixed') rather than bfloat16, as torch's CPU norms decide by the first one given; torch's error for
    any other mix."""
    dtypes = [t._data.dtype for t in params if t is not None]
    if not dtypes or dtypes[0] == x.dtype:
        for d in dtypes:
            if d != x.dtype:
                raise RuntimeError(f"expected scalar type BFloat16 but found {B.scalar_name(d)} ({name}: a "
                                   f"bfloat16 input's parameters are all bfloat16 or all float32)")
        return False
    if any(d != _F32 for d in dtypes):
        _refuse_mixed(name, x.dtype, dtypes)
    return True


def _fma(a, b, c):
    """float32 a * b + c rounded once, as torch's compiled kernels (a fused multiply-add)."""
    from .._fma import fma32
    return fma32(a, b, c).astype(np.float32)


def _of(t, mixed, shape=None):
    """A parameter's (or None's) float32 values, reshaped."""
    if t is None:
        return None
    a = t._data.astype(_F32)
    return a if shape is None else a.reshape(shape)


class _BatchNormBf16Backward(Node):
    """torch's batch_norm backward for a bfloat16 input, in float32: its sums, then dx rounded once; the
    weight's and bias's gradients in the parameters' dtype."""

    __slots__ = ("x", "mean", "invstd", "w", "axes", "w_shape", "training", "pdtype")
    _saved_fields = ("x",)

    def apply(self, g):
        nf = self.next_functions
        axes, invstd, mean, w = self.axes, self.invstd, self.mean, self.w
        g32 = g.astype(_F32)
        x32 = self.x.astype(_F32)
        n = _F32.type(g.size // g.shape[1]) if g.size else _F32.type(0)
        if not (_bn_dense(self.x) and _bn_dense(g) and _mf._suggest(self.x) is _mf._suggest(g)):
            # torch's kernel wants input and gradient dense in one layout; else (a channels_last input's
            # row-major gradient, the expanded gradient of out.sum()) its fallback runs element by element
            # in bfloat16 arithmetic, each operation on two bfloat16s rounding
            return self._fallback(g32, x32, n, nf)
        xc = x32 - mean
        sm = g32.sum(axis=axes, dtype=_F32, keepdims=True)
        dotp = (xc * g32).sum(axis=axes, dtype=_F32, keepdims=True)
        gx = gw = gb = None
        if nf[0][0] is not None:
            if self.training:
                proj = dotp * invstd * invstd / n
                gx = (g32 - sm / n - xc * proj) * invstd
            else:
                gx = g32 * invstd
            gx = B.bf16_round(gx if w is None else gx * w)
        if nf[1][0] is not None:
            gw = (dotp * invstd).reshape(self.w_shape).astype(self.pdtype)
        if nf[2][0] is not None:
            gb = sm.reshape(self.w_shape).astype(self.pdtype)
        return gx, gw, gb

    def _fallback(self, g32, x32, n, nf):
        """apply() as torch's fallback computes it: C++'s BFloat16 arithmetic rounds every operation
        between two bfloat16s, and one with a float (the float32 parameters of the mixed case) gives a
        float."""
        bf = B.bf16_through
        axes, inv, mean = self.axes, self.invstd, self.mean
        w = self.w if self.w is not None else _F32.type(1)
        mixed = self.pdtype == _F32
        if not (self.training or mixed):
            inv = bf(inv)   # (held in the parameters' type there)
        sm = bf(g32.sum(axis=axes, dtype=_F32, keepdims=True))   # (a bfloat16 sum, rounded once)
        xc = x32 - mean if mixed else bf(x32 - mean)
        # (its dot product adds element after element, in the order of the other dims)
        prod = xc * g32 if mixed else bf(xc * g32)
        c = prod.shape[1]
        dotp = xp_of(prod).cumsum(xp_of(prod).moveaxis(prod, 1, 0).reshape(c, -1), axis=1, dtype=_F32)
        dotp = (dotp[:, -1] if dotp.shape[1] else dotp.sum(axis=1)).reshape(mean.shape)
        gx = gw = gb = None
        if nf[0][0] is not None:
            if self.training:
                if mixed:
                    k = bf(bf(dotp) * inv * inv / n)
                    gi = bf(xc * k)
                    gx = bf(bf(g32 - bf(sm / bf(n))) - gi) * inv * w
                else:
                    k = bf(bf(bf(bf(dotp) * inv) * inv) / bf(n))
                    gi = bf(xc * k)
                    gx = bf(bf(bf(bf(g32 - bf(sm / bf(n))) - gi) * inv) * w)
            else:
                gx = g32 * inv * w if mixed else bf(bf(g32 * inv) * w)
            gx = B.bf16_round(gx)
        if nf[1][0] is not None:
            gw = (dotp * inv).reshape(self.w_shape).astype(self.pdtype)
        if nf[2][0] is not None:
            gb = sm.reshape(self.w_shape).astype(self.pdtype)
        return gx, gw, gb


def _bn_dense(a):
    """torch's is_contiguous() or is_contiguous(channels_last) of an array (batch norm's fast paths)."""
    if a.flags.c_contiguous:
        return True
    order = _mf._ORDER.get(_mf._suggest(a))
    return order is not None and _mf._dense_in(a, order)


_BatchNormBf16Backward.__name__ = _BatchNormBf16Backward.__qualname__ = "NativeBatchNormBackward0"


def _bf16_batch_norm(input, x, running_mean, running_var, weight, bias, training, momentum, eps):
    """batch_norm of a bfloat16 input x as torch's CPU kernels compute it: (output, save_mean, save_invstd),
    the statistics in the parameters' dtype (see _bf16_mixed); running statistics updated in place."""
    xp = xp_of(x)
    mixed = _bf16_mixed("batch_norm", x, (weight, bias, running_mean, running_var))
    pdtype = _F32 if mixed else x.dtype
    keep = (lambda a: a) if mixed else B.bf16_through   # (what torch stores in pdtype, back in float32)
    c = x.shape[1]
    pshape = (1, c) + (1,) * (x.ndim - 2)
    axes = (0,) + tuple(range(2, x.ndim))
    x32 = x.astype(_F32)
    f = _F32.type
    if training:
        n = x.size // c if c else 0
        with B.errstate(xp, invalid="ignore", divide="ignore"):   # (an empty batch: nan statistics, as torch)
            mean32 = x32.sum(axis=axes, dtype=_F32, keepdims=True) / f(n)
            d = x32 - mean32
            var_sum = keep((d * d).sum(axis=axes, dtype=_F32, keepdims=True))
            mean = keep(mean32)
            # (its bfloat16 kernel divides a bfloat16 by n as a bfloat16: n itself rounds)
            var = var_sum / f(n) if mixed else B.bf16_through(var_sum / B.bf16_through(f(n)))
            invstd = keep((1 / xp.sqrt(var.astype(np.float64) + eps)).astype(_F32))
        if n and (running_mean is not None or running_var is not None):
            # torch's update, in the parameters' type: momentum itself rounds to bfloat16 there
            m = f(momentum) if mixed else B.bf16_number(momentum)
            om = f(1) - m if mixed else B.bf16_through(f(1) - m)
            for t, new in ((running_mean, lambda r: keep(keep(m * mean) + keep(om * r))),
                           (running_var, lambda r: keep(m * (var_sum / f(n - 1) if mixed else B.bf16_through(
                               var_sum / B.bf16_through(f(n - 1)))) + keep(om * r)))):
                if t is not None:
                    t._data[...] = new(t._data.astype(_F32).reshape(pshape)).reshape(t._data.shape)
                    t._vc[0] += 1
        inv_fwd = inv_bwd = invstd
    else:
        mean = running_mean._data.astype(_F32).reshape(pshape)
        rv = running_var._data.astype(_F32).reshape(pshape)
        inv_fwd = 1 / xp.sqrt(rv + f(eps))
        inv_bwd = (1 / xp.sqrt(rv.astype(np.float64) + eps)).astype(_F32)   # (its backward adds a double eps)
    w, b = _of(weight, mixed, pshape), _of(bias, mixed, pshape)
    alpha = inv_fwd if w is None else inv_fwd * w
    beta = -(mean * alpha) if b is None else b - mean * alpha
    out = B.bf16_round(_fma(x32, alpha, beta))
    stats = (mean.reshape(-1).astype(pdtype), invstd.reshape(-1).astype(pdtype)) if training else None
    if not (state.enabled and (input._requires_grad or (weight is not None and weight._requires_grad)
                               or (bias is not None and bias._requires_grad))):
        return _wrap(out), stats
    node = _new(_BatchNormBf16Backward)
    node.next_functions = (edge(input), edge(weight) if weight is not None else (None, 0),
                           edge(bias) if bias is not None else (None, 0))
    node._saved_versions = ((input, input._vc[0]),) + (((weight, weight._vc[0]),) if weight is not None else ())
    node.x, node.mean, node.invstd, node.w, node.axes = x, mean, inv_bwd, w, axes
    node.w_shape, node.training, node.pdtype = (c,), training, pdtype
    return _record(out, node), stats


@_mf.settles("suggest")
def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1,
               eps=1e-5, cudnn_enabled=None):
    """Normalize each channel (dim 1) over the batch and spatial dims; updates running stats when training.

    Also accepts torch.batch_norm's order (input, weight, bias, running_mean, running_var, training,
    momentum, eps, cudnn_enabled): the ninth argument tells them apart.
    """
    xp = xp_of(input._data)
    if cudnn_enabled is not None:
        running_mean, running_var, weight, bias = weight, bias, running_mean, running_var
    x = input._data
    if x.dtype.kind != "f":
        _float(input, "batch_norm", bf16=True)   # (bfloat16 passes, to _bf16_batch_norm below)
    if x.ndim < 2:
        raise ValueError(f"batch_norm: expected input of shape (N, C) or (N, C, ...), got {list(x.shape)}")
    c = x.shape[1]
    pshape = (1, c) + (1,) * (x.ndim - 2)
    axes = (0,) + tuple(range(2, x.ndim))
    for t, what in ((running_mean, "running_mean"), (running_var, "running_var")):   # torch: before weight
        if t is not None and type(t._data) is not type(x):
            B.check_same_device("batch_norm", x, t._data)
        if t is not None and t._data.size != c:
            raise RuntimeError(f"{what} should contain {c} elements not {t._data.size} (batch_norm: input "
                               f"{list(x.shape)} has {c} channels)")
    w = _param(weight, "batch_norm", "weight", c, x.dtype, pshape, x)
    b = _param(bias, "batch_norm", "bias", c, x.dtype, pshape, x)
    eps = float(eps)
    if training:
        n = x.size // c if c else 0
        if n == 1:   # (an empty batch passes, as in torch: an empty result, the running stats kept)
            raise ValueError(f"Expected more than 1 value per channel when training, got input size {input.shape}")
        if (running_mean is not None or running_var is not None) and n and momentum is None:
            raise TypeError("batch_norm: momentum=None is handled by nn.BatchNorm (cumulative average); "
                            "F.batch_norm needs a float momentum")
        if x.dtype.kind == "V":
            return _bf16_batch_norm(input, x, running_mean, running_var, weight, bias, True, momentum, eps)[0]
        rows = _channel_rows(x)
        block = _bn_blocks(xp, x)
        if block:
            out, xhat, mean, var, invstd = (a.reshape(pshape) if a.ndim == 1 else a
                                            for a in _bn_train_blocks(xp, x, w, b, eps, n, block))
            if (running_mean is not None or running_var is not None) and n:
                _update_running(running_mean, running_var, mean, var * (n / (n - 1)), float(momentum))
            return _norm_record(NativeBatchNormBackward0, input, weight, bias, out, xhat,
                                invstd, w, axes, axes, (c,), eps=eps)
        # the per-channel broadcasts loop over the (sample, channel) rows unbuffered (B.rows_state:
        # BatchNorm2d over 8 x 16 x 32 x 32, forward and backward, 600 -> 440 us)
        token = B.set_rows(_plane(x)) if rows else None
        try:
            if rows:
                mean = (_channel_sum(xp, x) / n).reshape(pshape)
                xc = x - _spread(xp, mean, x)
                var = (_channel_dot(xp, xc, xc) / n).reshape(pshape)
            else:
                with B.errstate(xp, invalid="ignore") if not n else B._NULL:   # (an empty batch: nan statistics)
                    mean, xc, var = _stats(x, axes)
            invstd = 1 / xp.sqrt(var + eps)
            xc *= _spread(xp, invstd, x)   # (xc is ours: it becomes xhat)
            xhat = xc
            out = _affine_out(xhat, _spread(xp, w, x), _spread(xp, b, x))
        finally:
            if token is not None:
                B.fp_reset(token)
        if (running_mean is not None or running_var is not None) and n:
            _update_running(running_mean, running_var, mean, var * (n / (n - 1)), float(momentum))
        return _norm_record(NativeBatchNormBackward0, input, weight, bias, out, xhat,
                            invstd, w, axes, axes, (c,), eps=eps)
    if running_mean is None or running_var is None:
        raise RuntimeError("running_mean must be defined in evaluation mode (batch_norm with training=False "
                           "normalizes with the running statistics; pass them, or training=True)")
    if x.dtype.kind == "V":
        return _bf16_batch_norm(input, x, running_mean, running_var, weight, bias, False, momentum, eps)[0]
    rm = _param(running_mean, "batch_norm", "running_mean", c, x.dtype, pshape, x)
    rv = _param(running_var, "batch_norm", "running_var", c, x.dtype, pshape, x)
    invstd = 1 / xp.sqrt(rv + eps)
    # torch's evaluation kernel: x * alpha + beta per channel, alpha = invstd * w and beta = b - mean *
    # alpha (two passes over x, not four; torch fuses the multiply-add, which NumPy cannot)
    alpha = invstd if w is None else invstd * w
    beta = rm * alpha
    if b is None:
        xp.negative(beta, out=beta)
    else:
        xp.subtract(b, beta, out=beta)
    token = B.set_rows(_plane(x)) if _channel_rows(x) else None
    try:
        out = x * _spread(xp, alpha, x)
        out += _spread(xp, beta, x)
        if not (state.enabled and (input._requires_grad or (weight is not None and weight._requires_grad)
                                   or (bias is not None and bias._requires_grad))):
            return _wrap(out)
        xhat = (x - rm) * invstd   # (for the weight's gradient)
    finally:
        if token is not None:
            B.fp_reset(token)
    return _norm_record(NativeBatchNormBackward0, input, weight, bias, out, xhat, invstd, w, None, axes, (c,))


def native_batch_norm(input, weight, bias, running_mean, running_var, training, momentum, eps):
    """torch.native_batch_norm: (output, save_mean, save_invstd)."""
    xp = xp_of(input._data)
    x = _float(input, "native_batch_norm", bf16=True)
    if x.dtype.kind == "V":   # (the statistics torch's kernel saved, in the parameters' dtype)
        out, stats = _bf16_batch_norm(input, x, running_mean, running_var, weight, bias, training, momentum,
                                      float(eps))
        if stats is None:
            pdtype = _F32 if _bf16_mixed("native_batch_norm", x, (weight, bias, running_mean, running_var)) else x.dtype
            stats = (xp.zeros(0, pdtype), xp.zeros(0, pdtype))
        return out, _wrap(stats[0]), _wrap(stats[1])
    axes = (0,) + tuple(range(2, x.ndim))
    out = batch_norm(input, running_mean, running_var, weight, bias, training, momentum, eps)
    if training:
        mean, _, var = _stats(x, axes)
        return out, _wrap(mean.reshape(-1)), _wrap((1 / xp.sqrt(var + eps)).reshape(-1))
    return out, _wrap(xp.zeros(0, x.dtype)), _wrap(xp.zeros(0, x.dtype))


def _layer_norm_shape(x, normalized_shape, weight, bias):
    """normalized_shape as a tuple, checked against the input array x and the weight and bias, as torch."""
    ns = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(int(s) for s in normalized_shape)
    k = len(ns)
    if k == 0 or x.ndim < k or x.shape[x.ndim - k:] != ns:
        raise RuntimeError(f"Given normalized_shape={list(ns)}, expected input with shape "
                           f"[*, {', '.join(str(s) for s in ns)}], but got input of size{list(x.shape)}")
    for t, what in ((weight, "weight"), (bias, "bias")):
        if t is not None and t._data.shape != ns:
            raise RuntimeError(f"Expected {what} to be of same shape as normalized_shape, but got {what} of shape "
                               f"{list(t._data.shape)} and normalized_shape = {list(ns)}")
    return ns


class _LayerNormBf16Backward(Node):
    """torch's layer_norm backward for a bfloat16 input, in float32 from the saved (rounded) mean and rstd:
    dx rounded once; the weight's and bias's gradients accumulated row after row in a bfloat16 buffer
    per thread (torch's two-pass reduction), then summed over the threads in float32."""

    __slots__ = ("x", "mean", "rstd", "w", "w_shape", "pdtype")
    _saved_fields = ("x",)

    def apply(self, g):
        xp = xp_of(g)
        nf = self.next_functions
        n = math.prod(self.w_shape)
        x2 = self.x.reshape(-1, n).astype(_F32)
        g2 = g.reshape(-1, n).astype(_F32)
        a, mean = self.rstd.reshape(-1, 1), self.mean.reshape(-1, 1)
        w = self.w
        gw = g2 if w is None else g2 * w
        gx = gwt = gb = None
        if nf[0][0] is not None:
            db = gw.sum(axis=1, dtype=_F32, keepdims=True)
            ds = (x2 * gw).sum(axis=1, dtype=_F32, keepdims=True)
            scale = _F32.type(1) / _F32.type(n)
            b = (db * mean - ds) * a * a * a * scale
            c = -b * mean - db * a * scale
            gx = B.bf16_round(a * gw + b * x2 + c).reshape(g.shape)
        if nf[1][0] is not None or nf[2][0] is not None:
            xhat = _fma(x2, a, -a * mean)
            parts = _bf16_row_sums(xp, [g2 * xhat if nf[1][0] is not None else None,
                                        g2 if nf[2][0] is not None else None])
            gwt, gb = (None if p is None else p.reshape(self.w_shape).astype(self.pdtype) for p in parts)
        return gx, gwt, gb


_LayerNormBf16Backward.__name__ = _LayerNormBf16Backward.__qualname__ = "NativeLayerNormBackward0"


def _bf16_row_sums(xp, arrays):
    """The column sums of (rows, n) float32 arrays (or None) as torch's layer/group norm backward adds them
    for a bfloat16 input: each thread's block of rows into a bfloat16 buffer, a row at a time (so rounding
    after each), then the threads' buffers in float32."""
    live = [a for a in arrays if a is not None]
    rows = live[0].shape[0]
    nt = min(_threads.get_num_threads(), rows) or 1
    chunk = -(-rows // nt)
    bufs = [xp.zeros((nt,) + a.shape[1:], _F32) for a in live]
    for i in range(chunk):
        for a, buf in zip(live, bufs):
            take = a[i::chunk][:nt]   # (row i of each thread's block)
            k = take.shape[0]
            buf[:k] = B.bf16_through(buf[:k] + take)
    sums = iter(buf.sum(axis=0, dtype=_F32) if nt > 1 else buf[0] for buf in bufs)
    return [None if a is None else next(sums) for a in arrays]


def _bf16_layer_norm(input, x, ns, weight, bias, eps):
    """layer_norm of a bfloat16 input x as torch's CPU kernel: (output, mean, rstd), the two statistics in
    the parameters' dtype (see _bf16_mixed).  Each row's statistics in float32, the output
    (x * rstd - rstd * mean) * weight + bias as two fused multiply-adds, rounded once."""
    xp = xp_of(x)
    mixed = _bf16_mixed("layer_norm", x, (weight, bias))
    pdtype = _F32 if mixed else x.dtype
    n = math.prod(ns)
    x2 = x.reshape(-1, n).astype(_F32)
    with B.errstate(xp, invalid="ignore", divide="ignore"):   # (empty rows: nan, as torch)
        mean = x2.sum(axis=1, dtype=_F32, keepdims=True) / _F32.type(n)
        d = x2 - mean
        rstd = 1 / xp.sqrt((d * d).sum(axis=1, dtype=_F32, keepdims=True) / _F32.type(n) + _F32.type(eps))
    w, b = _of(weight, mixed, (n,)), _of(bias, mixed, (n,))
    y = _fma(x2, rstd, -rstd * mean)
    if w is not None or b is not None:
        y = _fma(y, w if w is not None else _F32.type(1), b if b is not None else _F32.type(0))
    out = B.bf16_round(y).reshape(x.shape)
    stat_shape = x.shape[:x.ndim - len(ns)] + (1,) * len(ns)
    smean, srstd = mean.astype(pdtype).reshape(stat_shape), rstd.astype(pdtype).reshape(stat_shape)
    if not (state.enabled and (input._requires_grad or (weight is not None and weight._requires_grad)
                               or (bias is not None and bias._requires_grad))):
        return _wrap(out), smean, srstd
    node = _new(_LayerNormBf16Backward)
    node.next_functions = (edge(input), edge(weight) if weight is not None else (None, 0),
                           edge(bias) if bias is not None else (None, 0))
    node._saved_versions = ((input, input._vc[0]),) + (((weight, weight._vc[0]),) if weight is not None else ())
    node.x, node.mean, node.rstd, node.w = x, smean.astype(_F32), srstd.astype(_F32), w
    node.w_shape, node.pdtype = ns, pdtype
    return _record(out, node), smean, srstd


@_mf.settles("contiguous")
def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5, cudnn_enable=True):
    """Normalize over the last len(normalized_shape) dims, then scale by weight and shift by bias."""
    xp = xp_of(input._data)
    kernel_for(input._data.dtype, "LayerNormKernelImpl", "fc")
    x = input._data
    if x.dtype.kind != "f":
        _float(input, "layer_norm", bf16=True)   # (bfloat16 passes, to _bf16_layer_norm below)
    ns = _layer_norm_shape(x, normalized_shape, weight, bias)
    k = len(ns)
    if x.dtype.kind == "V":
        return _bf16_layer_norm(input, x, ns, weight, bias, float(eps))[0]
    axes = tuple(range(x.ndim - k, x.ndim))
    w = weight._data.astype(x.dtype, copy=False) if weight is not None else None
    b = bias._data.astype(x.dtype, copy=False) if bias is not None else None
    if (w is not None and w is not weight._data and weight._data.dtype.kind == "V"
            or b is not None and b is not bias._data and bias._data.dtype.kind == "V"):
        _refuse_mixed("layer_norm", x.dtype, [t._data.dtype for t in (weight, bias) if t is not None])
    if _rows_ok(x):
        D = math.prod(ns)
        token = B.set_rows(D)
        try:
            mean = None
            if xp is np and x.size >= 2 * _threads.ROW_BLOCK:
                out, mean, invstd = _layer_norm_blocks(x, D, w, b, float(eps))
                xhat = None
            else:
                out, xhat, invstd = _layer_norm_rows(xp, x, D, w, b, float(eps))
        finally:
            if token is not None:
                B.fp_reset(token)
        invstd = invstd.reshape(x.shape[:x.ndim - k] + (1,) * k)
        if mean is not None:
            t = _norm_record(NativeLayerNormBackward0, input, weight, bias, out, None, invstd, w,
                             axes, tuple(range(x.ndim - k)), ns, eps=float(eps))
            if t.grad_fn is not None:
                t.grad_fn.x, t.grad_fn.mean = x, mean
            return t
    else:
        mean, xc, var = _stats(x, axes)
        invstd = 1 / xp.sqrt(var + float(eps))
        xhat = xc * invstd
        out = _affine_out(xhat, w, b)
    return _norm_record(NativeLayerNormBackward0, input, weight, bias, out, xhat, invstd, w,
                        axes, tuple(range(x.ndim - k)), ns, eps=float(eps))


def _rows_ok(a):
    """A C-contiguous, non-empty float32/float64 array (of any array module, not the Tensors of
    create_graph=True): layer norm then works on its (rows, D) reshape with products."""
    return _is_array(a) and a.dtype in _ROW_DTYPES and a.flags.c_contiguous and a.size != 0


_ONES = {}


def _ones(xp, n, dtype):
    """A cached read-only vector of n ones (the row and column sums below are products with it)."""
    key = (xp, n, dtype)
    v = _ONES.get(key)
    if v is None:
        v = xp.ones(n, dtype)
        if xp is np:
            v.flags.writeable = False
        if len(_ONES) > 64:
            _ONES.clear()
        _ONES[key] = v
    return v


def _row_dots(xp, a, b):
    """sum(a * b) over each row of two (R, D) arrays: one batched product, without an a * b array
    (the same call on every array module, so that a model and its copy on a device add alike)."""
    return xp.matmul(a[:, None, :], b[:, :, None]).reshape(-1)


def _xhat_rows(xp, x2, mean, invstd):
    """(x - mean) * invstd over (R, D) rows, as _normalized_rows makes it (the same bits)."""
    xc = xp.subtract(x2, mean[:, None])
    xc *= invstd[:, None]
    return xc


def _normalized_rows(xp, x, D, eps, xhat=None, mean_out=None):
    """(xhat in x's shape, invstd per row) over each run of D elements of a C-contiguous float array,
    the sums as products; xhat: an (R, D) array to write it into, mean_out an (R,) one for the means."""
    x2 = x.reshape(-1, D)
    ones = _ones(xp, D, x.dtype)
    mean = xp.dot(x2, ones, out=mean_out)
    mean /= D
    xc = xp.subtract(x2, mean[:, None], out=xhat)
    var = _row_dots(xp, xc, xc)
    var /= D
    var += eps
    invstd = 1 / xp.sqrt(var, out=var)
    xc *= invstd[:, None]   # (xc is ours: it becomes xhat)
    return xc.reshape(x.shape), invstd


def _layer_norm_rows(xp, x, D, w, b, eps, out=None, xhat=None, mean_out=None):
    """layer_norm over the last D elements of each row of a C-contiguous float array: (out, xhat
    in x's shape, invstd per row), the sums as products (fwd at (16, 32, 512): 266 -> ~150 us); out,
    xhat and mean_out: arrays to write them (and the means) into."""
    xhat, invstd = _normalized_rows(xp, x, D, eps, xhat, mean_out)
    if w is None:
        # (+ 0 without a bias: a -0.0 in xhat becomes +0.0, as in torch's kernel, where a copy kept it)
        out = xp.add(xhat, 0 if b is None else b, out=out)
    else:
        out = xp.multiply(xhat, w, out=out)
        if b is not None:
            out += b
    return out, xhat, invstd


def _layer_norm_blocks(x, D, w, b, eps):
    """_layer_norm_rows of a large NumPy array in blocks of whole rows (_threads.row_blocks), each row's
    values as from one pass, without an xhat array: (out, row means, invstd).  Backward recomputes
    xhat block by block from the input and these (torch saves the input and its statistics too).  The
    pass was bound by the memory its two results are written to: (4096, 1024) 5.3-5.8 -> 4.2 ms on one
    thread, 6.5 -> 4.1 on two (torch 1.2-1.8 and 0.7-0.8); (8192, 768) 14.0 -> 7.6 and 15.2 -> 5.9; and
    the input's size less kept for backward."""
    xp = xp_of(x)
    x2 = x.reshape(-1, D)
    out = xp.empty_like(x2)
    mean, invstd = xp.empty(x2.shape[0], x.dtype), xp.empty(x2.shape[0], x.dtype)

    def block(rows):
        invstd[rows] = _layer_norm_rows(xp, x2[rows], D, w, b, eps, out[rows], None, mean[rows])[2]
    _threads.row_blocks(block, x2.shape[0], D, B.rows_state(D) if D >= B.ROWS_MIN else B.FP_QUIET)
    return out.reshape(x.shape), mean, invstd


def native_layer_norm(input, normalized_shape, weight, bias, eps):
    """torch.native_layer_norm: (output, mean, rstd)."""
    xp = xp_of(input._data)
    x = _float(input, "native_layer_norm", bf16=True)
    if x.dtype.kind == "V":
        ns = _layer_norm_shape(x, normalized_shape, weight, bias)
        out, mean, rstd = _bf16_layer_norm(input, x, ns, weight, bias, float(eps))
        return out, _wrap(mean), _wrap(rstd)
    k = len(normalized_shape)
    axes = tuple(range(x.ndim - k, x.ndim))
    mean, _, var = _stats(x, axes)
    out = layer_norm(input, normalized_shape, weight, bias, eps)
    return out, _wrap(mean), _wrap(1 / xp.sqrt(var + eps))


class _GroupNormBf16Backward(Node):
    """torch's group_norm backward for a bfloat16 input, in float32 from the saved (rounded) mean and rstd
    of each (sample, group): per-channel sums of g * x and g, dx rounded once, the weight's and bias's
    gradients in the parameters' dtype."""

    __slots__ = ("x", "mean", "rstd", "w", "group", "pdtype")
    _saved_fields = ("x",)

    def apply(self, g):
        nf = self.next_functions
        x = self.x
        n, c, grp = x.shape[0], x.shape[1], self.group
        d = c // grp
        x3 = x.reshape(n, c, -1).astype(_F32)
        g3 = g.reshape(n, c, -1).astype(_F32)
        ds = (g3 * x3).sum(axis=2, dtype=_F32)
        db = g3.sum(axis=2, dtype=_F32)
        mean, rstd = self.mean, self.rstd   # (n, grp)
        w = self.w if self.w is not None else xp_of(g).ones(c, _F32)
        gx = gw = gb = None
        if nf[0][0] is not None:
            dsg = (ds * w).reshape(n, grp, d).sum(axis=2, dtype=_F32)
            dbg = (db * w).reshape(n, grp, d).sum(axis=2, dtype=_F32)
            s = _F32.type(1) / _F32.type(d * x3.shape[2])
            c2 = (dbg * mean - dsg) * rstd * rstd * rstd * s
            c3 = -c2 * mean - dbg * rstd * s
            c1 = (rstd[:, :, None] * w.reshape(grp, d)).reshape(n, c, 1)
            per_c = lambda v: xp_of(g).repeat(v, d, axis=1)[:, :, None]   # (n, grp) -> (n, c, 1)
            gx = B.bf16_round(c1 * g3 + per_c(c2) * x3 + per_c(c3)).reshape(x.shape)
        if nf[1][0] is not None:
            mean_c, rstd_c = (xp_of(g).repeat(v, d, axis=1) for v in (mean, rstd))
            gw = ((ds - db * mean_c) * rstd_c).sum(axis=0, dtype=_F32).astype(self.pdtype)
        if nf[2][0] is not None:
            gb = db.sum(axis=0, dtype=_F32).astype(self.pdtype)
        return gx, gw, gb


_GroupNormBf16Backward.__name__ = _GroupNormBf16Backward.__qualname__ = "NativeGroupNormBackward0"


def _bf16_group_norm(input, x, grp, weight, bias, eps):
    """group_norm of a bfloat16 input x as torch's CPU kernel: each (sample, group)'s statistics in float32
    (rstd from a double eps), the output scale * x + bias per channel as a fused multiply-add, rounded once;
    the statistics saved in the parameters' dtype (see _bf16_mixed)."""
    xp = xp_of(x)
    mixed = _bf16_mixed("group_norm", x, (weight, bias))
    pdtype = _F32 if mixed else x.dtype
    n, c = x.shape[0], x.shape[1]
    d = c // grp
    xr = x.reshape(n, grp, -1).astype(_F32)
    with B.errstate(xp, invalid="ignore", divide="ignore"):   # (an empty group: nan, as torch)
        mean = xr.sum(axis=2, dtype=_F32, keepdims=True) / _F32.type(xr.shape[2])
        var = ((xr - mean) ** 2).sum(axis=2, dtype=_F32, keepdims=True) / _F32.type(xr.shape[2])
        rstd = (1 / xp.sqrt(xp.maximum(var, 0).astype(np.float64) + eps)).astype(_F32)
    w, b = _of(weight, mixed), _of(bias, mixed)
    if w is None and b is None:
        y = (xr - mean) * rstd
    else:
        scale = rstd * (w.reshape(grp, d) if w is not None else _F32.type(1))   # (n, grp, d)
        shift = _fma(-scale, mean, b.reshape(grp, d) if b is not None else _F32.type(0))
        y = _fma(xr.reshape(n, grp, d, -1), scale[..., None], shift[..., None])
    out = B.bf16_round(y).reshape(x.shape)
    smean, srstd = mean.reshape(n, grp).astype(pdtype), rstd.reshape(n, grp).astype(pdtype)
    if not (state.enabled and (input._requires_grad or (weight is not None and weight._requires_grad)
                               or (bias is not None and bias._requires_grad))):
        return _wrap(out)
    node = _new(_GroupNormBf16Backward)
    node.next_functions = (edge(input), edge(weight) if weight is not None else (None, 0),
                           edge(bias) if bias is not None else (None, 0))
    node._saved_versions = ((input, input._vc[0]),) + (((weight, weight._vc[0]),) if weight is not None else ())
    node.x, node.mean, node.rstd, node.w = x, smean.astype(_F32), srstd.astype(_F32), w
    node.group, node.pdtype = grp, pdtype
    return _record(out, node)


@_mf.settles("suggest")
def group_norm(input, num_groups, weight=None, bias=None, eps=1e-5, cudnn_enabled=True):
    """Normalize each group of num_groups channel groups over its channels and spatial dims."""
    xp = xp_of(input._data)
    x = input._data
    if x.dtype.kind != "f":
        _float(input, "group_norm", bf16=True)   # (bfloat16 passes, to _bf16_group_norm below)
    if x.ndim < 2:
        raise RuntimeError(f"group_norm: expected input of shape (N, C, ...), got {list(x.shape)}")
    n, c = x.shape[0], x.shape[1]
    g = int(num_groups)
    if g <= 0 or c % g:
        raise RuntimeError(f"Expected number of channels in input to be divisible by num_groups, but got input "
                           f"of shape {list(x.shape)} and num_groups={num_groups}")
    if x.dtype.kind == "V":
        return _bf16_group_norm(input, x, g, weight, bias, float(eps))
    pshape = (1, c) + (1,) * (x.ndim - 2)
    w = _param(weight, "group_norm", "weight", c, x.dtype, pshape, x)
    b = _param(bias, "group_norm", "bias", c, x.dtype, pshape, x)
    plane = math.prod(x.shape[2:])
    xr = x.reshape(n, g, c // g * plane)   # (not -1: an empty batch has no size to infer)
    if _rows_ok(x):
        # each (sample, group) a row: sums as products, and the broadcasts unbuffered over rows of at
        # least one plane (8 x 16 x 32 x 32 in 4 groups, forward: 337 -> 150 us)
        token = B.set_rows(plane)
        try:
            xhat, invstd = _normalized_rows(xp, x, xr.shape[2], float(eps))
            out = _affine_out(xhat, w, b)
        finally:
            if token is not None:
                B.fp_reset(token)
        invstd = invstd.reshape(n, g, 1)
    else:
        mean, xc, var = _stats(xr, (2,))
        invstd = 1 / xp.sqrt(var + float(eps))
        xhat = (xc * invstd).reshape(x.shape)
        out = _affine_out(xhat, w, b)
    return _norm_record(NativeGroupNormBackward0, input, weight, bias, out, xhat, invstd, w,
                        (2,), (0,) + tuple(range(2, x.ndim)), (c,), group=g, eps=float(eps))


def _bf16_instance_norm(input, running_mean, running_var, weight, bias, use_input_stats, momentum, eps):
    """instance_norm of a bfloat16 input as torch composes it, on Tensors: batch norm over the input viewed
    (1, N * C, ...), with the parameters and running statistics repeated per sample, the latter then
    replaced by the mean of their updated copies.  (torch's takes the running statistics in the weight's
    dtype, else the input's: float32 ones with no weight act as bfloat16 ones would.)"""
    from ..autograd.grad_mode import no_grad
    n, c = input.shape[0], input.shape[1]

    def per_sample(t):
        return None if t is None else t.repeat(n)
    stats_dtype = (weight if weight is not None else input).dtype
    rm, rv = (None if t is None else per_sample(t).to(stats_dtype) for t in (running_mean, running_var))
    out = batch_norm(input.contiguous().view((1, n * c) + tuple(input.shape[2:])), rm, rv, per_sample(weight),
                     per_sample(bias), use_input_stats, momentum, eps)
    if use_input_stats:   # (in evaluation torch's keep their values exactly)
        with no_grad():
            for t, copies in ((running_mean, rm), (running_var, rv)):
                if t is not None:
                    t.copy_(copies.view(n, c).mean(0))
    return out.view(input.shape)


def instance_norm(input, running_mean=None, running_var=None, weight=None, bias=None, use_input_stats=True,
                  momentum=0.1, eps=1e-5, cudnn_enabled=None):
    """Normalize each (sample, channel) over its spatial dims.

    Also accepts torch.instance_norm's order (input, weight, bias, running_mean, running_var,
    use_input_stats, momentum, eps, cudnn_enabled).
    """
    xp = xp_of(input._data)
    if cudnn_enabled is not None:
        running_mean, running_var, weight, bias = weight, bias, running_mean, running_var
    x = input._data
    if x.dtype.kind != "f":
        _float(input, "instance_norm", bf16=True)   # (bfloat16 passes, to _bf16_instance_norm below)
    if x.ndim < 3:
        raise ValueError(f"instance_norm: expected input of shape (N, C, L, ...), got {list(x.shape)}")
    c = x.shape[1]
    pshape = (1, c) + (1,) * (x.ndim - 2)
    w = _param(weight, "instance_norm", "weight", c, x.dtype, pshape, x)
    b = _param(bias, "instance_norm", "bias", c, x.dtype, pshape, x)
    axes = tuple(range(2, x.ndim))
    paxes = (0,) + axes
    if not use_input_stats:
        if running_mean is None or running_var is None:
            raise RuntimeError("Expected running_mean and running_var to be defined when use_input_stats is false")
        if x.dtype.kind == "V":
            return _bf16_instance_norm(input, running_mean, running_var, weight, bias, False, momentum, eps)
        rm = _param(running_mean, "instance_norm", "running_mean", c, x.dtype, pshape, x)
        rv = _param(running_var, "instance_norm", "running_var", c, x.dtype, pshape, x)
        invstd = 1 / xp.sqrt(rv + float(eps))
        xhat = (x - rm) * invstd
        return _norm_record(NativeBatchNormBackward0, input, weight, bias, _affine_out(xhat, w, b), xhat, invstd,
                            w, None, paxes, (c,))
    k = math.prod(x.shape[2:])
    if k == 1:   # (torch checks the spatial size alone: an empty batch passes)
        raise ValueError(f"Expected more than 1 spatial element when training, got input size {input.shape}")
    if x.dtype.kind == "V":
        return _bf16_instance_norm(input, running_mean, running_var, weight, bias, True, momentum, eps)
    if running_mean is None and running_var is None and _rows_ok(x):
        # each (sample, channel) a row, as group norm's (8 x 16 x 32 x 32, forward: 327 -> 160 us; torch 231)
        token = B.set_rows(k)
        try:
            xhat, invstd = _normalized_rows(xp, x, k, float(eps))
            out = _affine_out(xhat, w, b)
        finally:
            if token is not None:
                B.fp_reset(token)
        return _norm_record(NativeBatchNormBackward0, input, weight, bias, out, xhat,
                            invstd.reshape(x.shape[:2] + (1,) * (x.ndim - 2)), w, axes, paxes, (c,), eps=float(eps))
    mean, xc, var = _stats(x, axes)
    invstd = 1 / xp.sqrt(var + float(eps))
    xhat = xc * invstd
    if running_mean is not None or running_var is not None:
        with B.errstate(xp, invalid="ignore") if not x.shape[0] else B._NULL:   # (an empty batch: nan, as torch)
            _update_running(running_mean, running_var, mean.mean(axis=0), (var * (k / (k - 1))).mean(axis=0),
                            float(momentum))
    return _norm_record(NativeBatchNormBackward0, input, weight, bias, _affine_out(xhat, w, b), xhat, invstd, w,
                        axes, paxes, (c,), eps=float(eps))


class _RmsNormBackward(Node):
    __slots__ = ("y", "rstd", "w", "axes", "paxes", "w_shape", "eps")
    _saved_fields = ("y", "rstd", "w")
    _double_backward = True   # through _apply_tensors (create_graph=True)

    def _apply_tensors(self, grad, saved):
        """The gradient of torch's composite, x * rsqrt(mean(x ** 2) + eps) * weight, on Tensors."""
        axes, eps = self.axes, self.eps

        def rms(x, *weight):
            y = x * ((x * x).mean(axes, keepdim=True) + eps).rsqrt()
            return y * weight[0] if weight else y
        return vjp(rms, saved, grad) + (None,) * (2 - len(saved))

    def apply(self, g):
        y, w = self.y, self.w  # y = x * rstd, before the weight
        gw = None
        if self.next_functions[1][0] is not None:
            gw = (g * y).sum(axis=self.paxes).reshape(self.w_shape)
        gx = None
        if self.next_functions[0][0] is not None:
            gy = g if w is None else g * w
            gx = (gy - y * (gy * y).mean(axis=self.axes, keepdims=True)) * self.rstd
        return gx, gw


_RMS_NODE = type("MulBackward0", (_RmsNormBackward,), {"__slots__": ()})


_WARNED_ONCE = {}


def _bf16_rms_norm(input, ns, weight, eps):
    """rms_norm of a bfloat16 input as torch's composite, on Tensors: in float32 (the input upcast, eps
    rounded to bfloat16 first, float32's epsilon by default), times the weight, then cast back."""
    if weight is not None and weight.dtype is not input.dtype and not _WARNED_ONCE.get("rms_norm"):
        _WARNED_ONCE["rms_norm"] = True   # (torch's TORCH_WARN_ONCE)
        _warn_user(f"Mismatch dtype between input and weight: input dtype = {B.C_NAMES[input.dtype]}, weight "
                   f"dtype = {B.C_NAMES.get(weight.dtype, weight.dtype.name)}, Cannot dispatch to fused "
                   "implementation.")
    eps = float(B.bf16_number(np.finfo(np.float32).eps if eps is None else eps))
    up = input.to(B.float32)
    dims = tuple(range(-len(ns), 0))
    out = up * (up.pow(2).mean(dims, keepdim=True) + eps).rsqrt()
    if weight is not None:
        out = out * weight
    return out.to(input.dtype)


def rms_norm(input, normalized_shape, weight=None, eps=None):
    """x / sqrt(mean(x ** 2 over the last dims) + eps), times weight."""
    xp = xp_of(input._data)
    x = input._data
    if x.dtype.kind != "f":
        _float(input, "rms_norm", bf16=True)   # (bfloat16 passes, to _bf16_rms_norm below)
    ns = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(int(s) for s in normalized_shape)
    k = len(ns)
    if k == 0 or x.ndim < k or x.shape[x.ndim - k:] != ns:
        raise RuntimeError(f"Given normalized_shape={list(ns)}, expected input with shape "
                           f"[*, {', '.join(str(s) for s in ns)}], but got input of size{list(x.shape)}")
    if x.dtype.kind == "V":
        return _bf16_rms_norm(input, ns, weight, eps)
    if eps is None:
        eps = float(np.finfo(x.dtype).eps)
    axes = tuple(range(x.ndim - k, x.ndim))
    rstd = 1 / xp.sqrt((x * x).mean(axis=axes, keepdims=True) + eps)
    y = x * rstd
    w = weight._data.astype(x.dtype, copy=False) if weight is not None else None
    out = y * w if w is not None else y.copy()  # y is saved: the output must not alias it
    if not (state.enabled and (input._requires_grad or (weight is not None and weight._requires_grad))):
        return _wrap(out)
    node = _new(_RMS_NODE)
    node.next_functions = (edge(input), edge(weight) if weight is not None else (None, 0))
    # (the input too, as torch's composite saves it)
    node._saved_versions = ((input, input._vc[0]),) + (((weight, weight._vc[0]),) if weight is not None else ())
    node.y, node.rstd, node.w, node.axes, node.eps = y, rstd, w, axes, eps
    node.paxes, node.w_shape = tuple(range(x.ndim - k)), ns
    return _record(out, node)


# ---- dropout ---------------------------------------------------------------------
class MulBackward0(Node):
    # torch records dropout on the CPU as input * (mask / (1 - p)): a MulBackward0
    __slots__ = ("mask",)
    _saved_fields = ("mask",)
    # its formula also runs on Tensors (create_graph=True: autograd/higher_order.py); the mask is
    # random noise, a constant of the gradient
    _double_backward = True
    _constant_fields = ("mask",)

    def apply(self, g):
        return (_times(g, self.mask),)


def _check_p(p):
    if p < 0.0 or p > 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")


def _keep_mask(x, shape, p, dtype):
    """Bernoulli(1 - p) mask scaled by 1 / (1 - p), in dtype, on x's device."""
    if p == 1:
        return xp_of(x).zeros(shape, dtype)
    # torch: noise.bernoulli_(1 - p).div_(1 - p), the division in the tensor's dtype
    mask = _noise(x, shape, 1 - p, dtype)
    f = dtype.type if dtype.kind != "V" else np.float32   # (bfloat16: torch's div_ by a float32 number)
    mask *= f(1) / f(1 - p)
    return mask


def _noise(x, shape, q, dtype):
    """Bernoulli(q) draws as dtype: torch's noise tensor, empty_like(input) (or a feature mask's
    shape), filled in its memory order (channels_last: N, H, W, C)."""
    order = None if x.flags.c_contiguous or shape != x.shape else _mf.order_for(x, _mf.preserve_format)
    return _mf.make(shape, order, lambda s: generator_for(B.device_of(x)).bernoulli_mask(s, q).astype(dtype))


def _apply_mask(input, mask, inplace, name):
    xp = xp_of(input._data)
    x = input._data
    if inplace:
        _check_inplace(input, name)
        grad = state.enabled and input._requires_grad
        xp.multiply(x, mask, out=x)
        input._vc[0] += 1
        if grad:
            node = _new(MulBackward0)
            node.next_functions = (edge(input),)
            node.mask = mask
            node._saved_versions = _SAVED_OUTPUT
            input.grad_fn = node
            _rebase_if_view(input, node)
        return input
    out = _times(x, mask)   # (a feature mask (N, C, 1, 1): unbuffered over long rows)
    if state.enabled and input._requires_grad:
        node = _new(MulBackward0)
        node.next_functions = (edge(input),)
        node.mask = mask
        node._saved_versions = _SAVED_OUTPUT
        return _record(out, node)
    return _record(out, None)


def dropout(input, p=0.5, training=True, inplace=False):
    """Zero each element with probability p and scale the rest by 1 / (1 - p) (identity when not training)."""
    if p < 0.0 or p > 1.0:
        _check_p(p)
    if not training or p == 0:
        return input
    x = _float(input, "dropout", bf16=True)
    return _apply_mask(input, _keep_mask(x, x.shape, float(p), x.dtype), inplace, "dropout_")


def native_dropout(input, p, train):
    """torch.native_dropout: (output, keep-mask as bool)."""
    xp = xp_of(input._data)
    _check_p(p)
    x = _float(input, "native_dropout", bf16=True)
    if not train:
        return _wrap(x.copy()) if not input._requires_grad else input * 1, _wrap(xp.ones(x.shape, bool))
    mask = _keep_mask(x, x.shape, float(p), x.dtype)
    return _apply_mask(input, mask, False, "native_dropout"), _wrap(mask != 0)


def _feature_mask_shape(shape):
    return shape[:2] + (1,) * (len(shape) - 2)


def feature_dropout(input, p, train, inplace=False):
    """Channel-wise dropout: whole (sample, channel) slices zeroed together (torch.feature_dropout)."""
    _check_p(p)
    if not train or p == 0:
        return input
    x = _float(input, "feature_dropout", bf16=True)
    return _apply_mask(input, _keep_mask(x, _feature_mask_shape(x.shape), float(p), x.dtype), inplace,
                       "feature_dropout_")


def _unbatched_feature_dropout(input, p, training, inplace, name):
    # a missing batch dim: one mask per channel (dim 0)
    _check_p(p)
    if not training or p == 0:
        return input
    x = _float(input, name, bf16=True)
    mask = _keep_mask(x, (x.shape[0],) + (1,) * (x.ndim - 1), float(p), x.dtype)
    return _apply_mask(input, mask, inplace, name + "_")


def dropout1d(input, p=0.5, training=True, inplace=False):
    """Zero whole channels of (N, C, L) or (C, L) input."""
    _check_p(p)
    nd = input._data.ndim
    if nd not in (2, 3):
        raise RuntimeError(f"dropout1d: Expected 2D or 3D input, but received a {nd}D input. Note that dropout1d "
                           "exists to provide channel-wise dropout on inputs with 1 spatial dimension, a channel "
                           "dimension, and an optional batch dimension (i.e. 2D or 3D inputs).")
    if nd == 2:
        return _unbatched_feature_dropout(input, p, training, inplace, "dropout1d")
    return feature_dropout(input, p, training, inplace)


def dropout2d(input, p=0.5, training=True, inplace=False):
    """Zero whole channels of (N, C, H, W) input."""
    _check_p(p)
    nd = input._data.ndim
    if nd not in (3, 4):
        _warn_user(f"dropout2d: Received a {nd}-D input to dropout2d, which is deprecated and will result in an "
                   "error in a future release. To retain the behavior and silence this warning, please use "
                   "dropout instead. Note that dropout2d exists to provide channel-wise dropout on inputs with 2 "
                   "spatial dimensions, a channel dimension, and an optional batch dimension (i.e. 3D or 4D "
                   "inputs).")
    if nd == 3:
        _warn_user("dropout2d: Received a 3D input to dropout2d and assuming that channel-wise 1D dropout "
                   "behavior is desired - input is interpreted as shape (N, C, L), where C is the channel dim. "
                   "This behavior will change in a future release to interpret the input as one without a "
                   "batch dimension, i.e. shape (C, H, W). To maintain the 1D channel-wise dropout behavior, "
                   "please switch to using dropout1d instead.")
    return feature_dropout(input, p, training, inplace)


def dropout3d(input, p=0.5, training=True, inplace=False):
    """Zero whole channels of (N, C, D, H, W) or (C, D, H, W) input."""
    _check_p(p)
    nd = input._data.ndim
    if nd not in (4, 5):
        _warn_user(f"dropout3d: Received a {nd}-D input to dropout3d, which is deprecated and will result in an "
                   "error in a future release. To retain the behavior and silence this warning, please use "
                   "dropout instead. Note that dropout3d exists to provide channel-wise dropout on inputs with 3 "
                   "spatial dimensions, a channel dimension, and an optional batch dimension (i.e. 4D or 5D "
                   "inputs).")
    if nd == 4:
        return _unbatched_feature_dropout(input, p, training, inplace, "dropout3d")
    return feature_dropout(input, p, training, inplace)


_ALPHA = 1.7580993408473766  # -SELU's negative saturation value: selu(-inf) = -scale * alpha


def _alpha_dropout(input, p, training, inplace, feature):
    _check_p(p)
    if not training or p == 0:
        return input
    x = _float(input, "alpha_dropout", bf16=True)
    if p == 1:
        return input * 0.0 if not inplace else input.mul_(0.0)
    shape = _feature_mask_shape(x.shape) if feature else x.shape
    keep = _noise(x, shape, 1 - p, x.dtype)
    a = 1.0 / math.sqrt((_ALPHA * _ALPHA * p + 1) * (1 - p))
    if x.dtype.kind == "V":   # bfloat16: torch's composite on Tensors, each in-place op rounding
        noise = _wrap(keep)
        b = noise.add(-1).mul_(_ALPHA * a).add_(_ALPHA * a * p)
        noise.mul_(a)
        return (input.mul_(noise) if inplace else input * noise).add_(b)
    b = (keep - 1) * (_ALPHA * a) + _ALPHA * a * p
    scale = keep * a
    if inplace:
        _check_inplace(input, "alpha_dropout_")
    out = x * scale + b
    node = None
    if state.enabled and input._requires_grad:
        mul = _new(MulBackward0)
        mul.next_functions = (edge(input),)
        mul.mask = scale
        mul._saved_versions = _SAVED_OUTPUT
        node = _new(_AddBackward0)
        node.next_functions = ((mul, 0), (None, 0))
        node._saved_versions = ()
        node.a_shape, node.b_shape, node.alpha = out.shape, None, 1
    if inplace:
        return _write_inplace(input, out, node)
    return _record(out, node)


def alpha_dropout(input, p=0.5, training=False, inplace=False):
    """Dropout that keeps SELU's zero mean and unit variance."""
    return _alpha_dropout(input, p, training, inplace, False)


def feature_alpha_dropout(input, p=0.5, training=False, inplace=False):
    """alpha_dropout of whole channels."""
    return _alpha_dropout(input, p, training, inplace, True)


# ---- embedding, one_hot --------------------------------------------------------------
class EmbeddingBackward0(Node):
    __slots__ = ("idx", "num", "padding_idx", "scale_freq", "sparse")
    _saved_fields = ("idx",)
    _double_backward = True   # through _apply_tensors (create_graph=True)

    def _apply_tensors(self, grad, saved):
        """create_graph=True: the row sums are linear in grad; their transpose looks the rows up."""
        from ..autograd.higher_order import linear_pair
        if self.sparse:   # (torch's: its values a view of grad, so the sparse gradient is differentiable in grad)
            from .sparse import sparse_coo_tensor
            if self.scale_freq:
                self.apply(grad._data)   # (its error)
            idx = self.idx.reshape(-1)
            values = grad.reshape(-1, grad.shape[-1])
            if self.padding_idx is not None:
                keep = idx != self.padding_idx
                idx, values = idx[keep], values[_wrap(keep)]
            return (sparse_coo_tensor(_wrap(idx.astype(np.int64).reshape(1, -1)), values,
                                      (self.num, values.shape[1]), check_invariants=False),)
        idx = self.idx

        def lookup(table):
            rows = table[idx]
            if self.scale_freq:
                xp = xp_of(table)
                counts = xp.bincount(idx.reshape(-1), minlength=self.num)[idx]
                rows = rows / counts[..., None].astype(rows.dtype)
            if self.padding_idx is not None:
                rows = rows * (idx != self.padding_idx)[..., None]
            return rows
        return linear_pair(self, grad, lookup)

    def apply(self, g):
        dim = g.shape[-1]
        if self.sparse:
            if self.scale_freq:
                raise RuntimeError("embedding_backward: scale_grad_by_freq not supported with sparse gradients "
                                   "(embedding(..., sparse=True)); drop one of them")
            return (_sparse_rows(self.idx.reshape(-1), g.reshape(-1, dim), self.num, self.padding_idx),)
        return (_rows_sum(xp_of(g), self.idx.reshape(-1), g.reshape(-1, dim), self.num, self.scale_freq,
                          self.padding_idx),)


def _sparse_rows(idx, g2, num, padding_idx):
    """The sparse (num, dim) gradient whose entries are the rows g2[i] at rows idx[i], in lookup order and
    uncoalesced, those of padding_idx left out: torch's embedding_sparse_backward (its values a view of the
    gradient where it can be, as torch's reshape)."""
    from .sparse import COO   # (the sparse module loads with the first sparse tensor: dense code never needs it)
    if padding_idx is not None:
        keep = idx != padding_idx
        idx, g2 = idx[keep], g2[keep]
    indices = idx.astype(np.int64).reshape(1, -1)   # (a copy: the input's own array must not become .grad's)
    # (torch's constructor marks 0 or 1 entries coalesced)
    return COO(indices, g2, (num, g2.shape[1]), indices.shape[1] <= 1)


def _rows_sum(xp, idx, g2, num, scale_freq, padding_idx):
    """(num, dim) table whose row r is the sum of the rows g2[i] with idx[i] == r (divided by
    their count when scale_freq); row padding_idx stays zero."""
    grad = xp.zeros((num, g2.shape[1]), dtype=g2.dtype)
    if idx.size:
        _index_add_rows(grad, idx, g2, zeroed=True)   # (in the rows' order, as torch's embedding backward)
        if scale_freq:
            grad /= xp.maximum(xp.bincount(idx, minlength=num), 1)[:, None].astype(grad.dtype)
    if padding_idx is not None:
        grad[padding_idx] = 0
    return grad


def embedding(input, weight, padding_idx=None, max_norm=None, norm_type=2.0, scale_grad_by_freq=False,
              sparse=False):
    """Rows of weight selected by the integer indices in input.

    Also accepts torch.embedding's order (weight, indices, padding_idx, scale_grad_by_freq, sparse).
    """
    if input._data.dtype.kind == "f" and weight._data.dtype.kind in "iu":
        # torch.embedding(weight, indices, padding_idx=-1, scale_grad_by_freq=False, sparse=False)
        input, weight = weight, input
        scale_grad_by_freq = bool(max_norm) if max_norm is not None else False
        sparse = norm_type if isinstance(norm_type, bool) else False
        max_norm, norm_type = None, 2.0
        if padding_idx is not None and padding_idx < 0:
            padding_idx = None
    idx = input._data
    if type(idx) is not type(weight._data):
        B.check_same_device("embedding", weight._data, idx)
    if idx.dtype != np.int64 and idx.dtype != np.int32:
        raise RuntimeError("Expected tensor for argument #1 'indices' to have one of the following scalar types: "
                           f"Long, Int; but got {input.type()} instead (while checking arguments for embedding)")
    w = weight._data
    if w.ndim != 2:
        raise RuntimeError(f"'weight' must be 2-D (embedding: got weight of shape {list(w.shape)})")
    num = w.shape[0]
    if padding_idx is not None:
        if padding_idx > 0:
            if padding_idx >= num:
                raise AssertionError(f"Padding_idx must be within num_embeddings (embedding: padding_idx="
                                     f"{padding_idx}, num_embeddings={num})")
        elif padding_idx < 0:
            if padding_idx < -num:
                raise AssertionError(f"Padding_idx must be within num_embeddings (embedding: padding_idx="
                                     f"{padding_idx}, num_embeddings={num})")
            padding_idx += num
    if _out_of_range(idx, num):
        bad = int(idx[(idx < 0) | (idx >= num)].reshape(-1)[0])
        raise IndexError(f"index out of range in self (embedding: index {bad} is out of range for a table of "
                         f"{num} rows (valid: 0..{num - 1}); check num_embeddings)")
    if max_norm is not None:
        _renorm_rows(weight, idx, max_norm, norm_type)
    out = w.take(idx, axis=0)   # (fancy indexing w[idx]: 3-4x slower at every size)
    if state.enabled and weight._requires_grad:
        node = _new(EmbeddingBackward0)
        node.next_functions = (edge(weight),)
        node._saved_versions = _SAVED_OUTPUT
        node.idx, node.num, node.padding_idx, node.scale_freq = idx, num, padding_idx, bool(scale_grad_by_freq)
        node.sparse = bool(sparse)
        return _record(out, node)
    return _wrap(out)


def _renorm_rows(weight, idx, max_norm, norm_type):
    """Rescale, in place and unrecorded, the rows of weight that idx uses whose norm exceeds max_norm."""
    w = weight._data
    xp = xp_of(w)
    rows = xp.unique(idx)
    sel = w[rows]
    norms = xp.linalg.norm(sel, ord=norm_type, axis=1) if norm_type != 2 else xp.sqrt((sel * sel).sum(1))
    big = norms > max_norm
    if big.any():
        w[rows[big]] = sel[big] * (max_norm / (norms[big] + 1e-7))[:, None].astype(w.dtype)
        weight._vc[0] += 1


class EmbeddingBagBackward0(Node):
    __slots__ = ("idx", "bag", "counts", "scale", "bag_scale", "num", "mode", "winner", "padding_idx", "scale_freq",
                 "rows", "psw", "sparse")
    _saved_fields = ("idx",)

    def apply(self, g):
        xp = xp_of(g)
        idx, bag = self.idx, self.bag
        gw = gp = None
        if self.next_functions[0][0] is not None:
            rows_sum = _rows_sum
            if self.sparse is not None:   # (each entry's gradient row, uncoalesced: _embedding_bag_sparse_backward)
                if self.scale_freq:
                    raise RuntimeError("embedding_backward: scale_grad_by_freq not supported with sparse gradients "
                                       "(embedding_bag(..., sparse=True)); drop one of them")
                every = self.sparse

                def rows_sum(xp, idx, g2, num, scale_freq, padding_idx):
                    if g2.shape[0] < every.size:
                        g2 = xp.concatenate([g2, xp.zeros((every.size - g2.shape[0], g2.shape[1]), g2.dtype)])
                    return _sparse_rows(every, g2, num, padding_idx)
            if self.mode == "max":
                # each (bag, column) sends its gradient to the row that won it (-1: empty bag)
                D = g.shape[1]
                won = self.winner >= 0
                flat = idx[self.winner[won]] * D + xp.nonzero(won)[1]
                gw = xp.bincount(flat, weights=g[won], minlength=self.num * D).astype(g.dtype).reshape(self.num, D)
            elif bag is None:
                # a scale per bag (a mean's 1 / size) or none: g[bag] * scale[bag] is (g * scale)[bag]
                gb = g if self.bag_scale is None else g * self.bag_scale[:, None]
                gw = rows_sum(xp, idx, xp.repeat(gb, self.counts, axis=0), self.num, self.scale_freq,
                              self.padding_idx)
            else:
                gr = g.take(bag, axis=0)
                if self.scale is not None:
                    gr = gr * self.scale[:, None]
                gw = rows_sum(xp, idx, gr, self.num, self.scale_freq, self.padding_idx)
        if len(self.next_functions) > 1 and self.next_functions[1][0] is not None:
            shape, dtype = self.psw   # (entries in no bag, include_last_offset with offsets [0], get 0)
            gp = xp.zeros(math.prod(shape), dtype)
            gp[:idx.size] = (g.take(bag, axis=0) * self.rows).sum(1)
            if self.padding_idx is not None:
                gp[:idx.size][idx == self.padding_idx] = 0
            gp = gp.reshape(shape)   # (a 2-D input's weights are (B, L))
        return (gw, gp) if len(self.next_functions) > 1 else (gw,)


def embedding_bag(input, weight, offsets=None, max_norm=None, norm_type=2, scale_grad_by_freq=False,
                  mode="mean", sparse=False, per_sample_weights=None, include_last_offset=False, padding_idx=None):
    """Sums, means or maxima of bags of embedding rows, as torch.nn.functional.embedding_bag."""
    if weight._data.dtype.kind in "iu" and input._data.dtype.kind == "f":
        _warn_user("Argument order of nn.functional.embedding_bag was changed. Usage `embedding_bag(weight, "
                   "input, ...)` is deprecated, and should now be `embedding_bag(input, weight, ...)`.")
        weight, input = input, weight
    if per_sample_weights is not None and tuple(input.shape) != tuple(per_sample_weights.shape):
        raise ValueError(f"embedding_bag: If per_sample_weights ({per_sample_weights.shape}) is not None, then it "
                         f"must have the same shape as the input ({input.shape})")
    w = weight._data
    xp = xp_of(w)
    if w.ndim != 2:
        raise ValueError(f"weight has to be a 2D Tensor, but got Tensor of dimension {w.ndim}")
    idx = input._data
    if idx.dtype != np.int64 and idx.dtype != np.int32:
        raise RuntimeError("Expected tensor for argument #1 'indices' to have one of the following scalar types: "
                           f"Long, Int; but got {input.type()} instead (while checking arguments for "
                           "embedding_bag)")
    if idx.ndim == 2:
        if offsets is not None:
            raise ValueError("if input is 2D, then offsets has to be None, as input is treated is a mini-batch of "
                             f"fixed length sequences. However, found offsets of type {type(offsets)}")
        starts = xp.arange(0, idx.size, idx.shape[1]) if idx.shape[1] else xp.zeros(idx.shape[0], np.int64)
        ends = starts + idx.shape[1]
        counts = ends - starts
        idx = idx.reshape(-1)
    elif idx.ndim == 1:
        if offsets is None:
            raise ValueError("offsets has to be a 1D Tensor but got None")
        off = offsets._data
        if off.ndim != 1:
            raise ValueError("offsets has to be a 1D Tensor")
        if off.size and int(off[0]) != 0:
            raise RuntimeError(f"offsets[0] has to be 0, i.e., the first sequence in the mini-batch has to start "
                               f"from position 0. However, got {int(off[0])}")
        if off.size and int(off[-1]) > idx.size:
            raise RuntimeError(f"offsets[-1] can not be greater than input's length ({idx.size}), but got "
                               f"offsets[-1] of {int(off[-1])}")
        off = off.astype(np.int64, copy=False)
        if include_last_offset:
            # torch's reference kernel reads offsets[-1] only in the check above: the last bag runs to the
            # input's end (its float32 CPU fast path differs by mode and reads uninitialised memory there)
            starts, ends = off[:-1], off[1:].copy()
            if ends.size:
                ends[-1] = idx.size
        else:
            starts, ends = off, xp.empty_like(off)
            ends[:-1] = off[1:]
            if off.size:
                ends[-1] = idx.size
        counts = ends - starts
        if counts.size and counts.min() < 0:
            raise RuntimeError("embedding_bag: offsets must be non-decreasing (each bag starts where the previous "
                               f"one ends); got {off.tolist()}")
    else:
        raise ValueError(f"input has to be 1D or 2D Tensor, but got Tensor of dimension {idx.ndim}")
    if mode not in ("sum", "mean", "max"):
        raise ValueError("mode has to be one of sum, mean or max")
    if mode == "max" and scale_grad_by_freq:
        raise ValueError("max mode does not support scaling the gradient by the frequency")
    if mode == "max" and sparse:
        raise ValueError("max mode does not support sparse weights (embedding_bag: use mode='sum' or 'mean', or "
                         "sparse=False)")
    num = w.shape[0]
    if padding_idx is not None:
        if not -num <= padding_idx < num:
            raise RuntimeError(f"padding_idx must be within the number of embeddings, -{num} through {num - 1}, "
                               f"but got {padding_idx}")
        padding_idx %= num
    if per_sample_weights is not None and mode != "sum":
        raise NotImplementedError("embedding_bag: per_sample_weights was not None. per_sample_weights is only "
                                  f"supported for mode='sum' (got mode='{mode}'). Please open a feature request "
                                  "on GitHub.")
    if _out_of_range(idx, num):
        at = int(xp.flatnonzero((idx < 0) | (idx >= num))[0])
        raise RuntimeError(f"Index {at} of input takes value {int(idx[at])} which is not in the valid range [0, "
                           f"{num}) (embedding_bag: check num_embeddings)")
    if max_norm is not None:
        _renorm_rows(weight, idx, max_norm, norm_type)
    B, D = starts.size, w.shape[1]
    total = int(ends[-1]) if B else 0
    every_idx = idx   # (a sparse gradient lists the entries past the last bag too, with zero rows, as torch's)
    idx = idx[:total]   # (with no bag at all, include_last_offset and offsets [0], no entry belongs to one)
    valid = None if padding_idx is None else idx != padding_idx
    rows = w.take(idx, axis=0)   # (fancy indexing w[idx]: 3x slower)
    scale = bag_scale = bag = None
    winner = None
    if mode != "max" and per_sample_weights is None and valid is None and B and total:
        # the common case: no per-entry scale, so backward needs no bag of each entry (see apply).
        # torch sums each bag's rows in order, then divides a mean by the bag's size.  Bags of one
        # length (fixed offsets) sum as a (B, L, D) array over L, row after row: the same bits, ~4x
        # faster than reduceat (which adds in another order) and its scaling
        L = total // B
        if counts[0] == L and total == B * L and (counts == L).all():
            out = rows.reshape(B, L, D).sum(axis=1)
        else:
            full = counts > 0
            out = xp.zeros((B, D), w.dtype)
            out[full] = xp.add.reduceat(rows, starts[full], axis=0)
        if mode == "mean":
            sizes = xp.maximum(counts, 1)
            out /= sizes[:, None].astype(w.dtype)
            bag_scale = (1.0 / sizes).astype(w.dtype)
    else:
        bag = xp.repeat(xp.arange(B), counts)
        full = counts > 0
        out = xp.zeros((B, D), w.dtype)
        if mode == "max":
            vals = rows if valid is None else xp.where(valid[:, None], rows, -xp.inf)
            if full.any():
                out[full] = xp.maximum.reduceat(vals, starts[full], axis=0)
                # the first entry of each bag reaching its maximum wins, as torch's loop keeps it
                pos = xp.where(vals == out[bag], xp.arange(total)[:, None], total)
                winner = xp.full((B, D), -1, np.int64)
                winner[full] = xp.minimum.reduceat(pos, starts[full], axis=0)
                if valid is not None:
                    empty = ~xp.isfinite(out)   # bags of padding only
                    out[empty] = 0
                    winner[empty] = -1
            else:
                winner = xp.full((B, D), -1, np.int64)
        else:
            if per_sample_weights is not None:
                scale = per_sample_weights._data.reshape(-1)[:total].astype(w.dtype)
            if mode == "mean":
                n = counts
                if valid is not None:   # padding entries are not counted
                    n = xp.zeros(B, np.int64)
                    if full.any():
                        n[full] = xp.add.reduceat(valid.astype(np.int64), starts[full])
                inv = (1.0 / xp.maximum(n, 1)).astype(w.dtype)
                scale = inv[bag]
            if valid is not None:
                scale = (valid.astype(w.dtype) if scale is None else scale * valid)
            if full.any():
                contrib = rows if scale is None else rows * scale[:, None]
                out[full] = xp.add.reduceat(contrib, starts[full], axis=0)
    psw = per_sample_weights
    need_w = weight._requires_grad
    need_p = psw is not None and psw._requires_grad
    if state.enabled and (need_w or need_p):
        node = _new(EmbeddingBagBackward0)
        node.next_functions = (edge(weight),) + ((edge(psw),) if psw is not None else ())
        node._saved_versions = _SAVED_OUTPUT
        node.idx, node.bag, node.counts, node.scale, node.bag_scale = idx, bag, counts, scale, bag_scale
        node.num, node.mode = num, mode
        node.winner, node.padding_idx, node.scale_freq = winner, padding_idx, bool(scale_grad_by_freq)
        node.rows = rows if need_p else None
        node.sparse = every_idx if sparse else None
        node.psw = (psw._data.shape, psw._data.dtype) if need_p else None
        return _record(out, node)
    return _wrap(out)


def one_hot(input, num_classes=-1):
    """int64 tensor with a trailing dim of size num_classes, 1 at each index."""
    tensor = input
    xp = xp_of(tensor._data)
    d = tensor._data
    if d.dtype != np.int64:
        raise RuntimeError(f"one_hot is only applicable to index tensor of type LongTensor. (got {tensor.type()}; "
                           "convert with .long())")
    if num_classes == -1:
        if d.size == 0:
            raise RuntimeError("Can not infer total number of classes from empty tensor.")
        num_classes = int(d.max()) + 1
    if d.size:
        if d.min() < 0:
            raise RuntimeError("Class values must be non-negative.")
        if d.max() >= num_classes:
            raise RuntimeError(f"Class values must be smaller than num_classes. (one_hot: got class "
                               f"{int(d.max())} with num_classes={num_classes})")
    out = xp.zeros((d.size, num_classes), np.int64)
    out[xp.arange(d.size), d.reshape(-1)] = 1
    return _wrap(out.reshape(d.shape + (num_classes,)))


# ---- pad --------------------------------------------------------------------------
class ConstantPadNdBackward0(Node):
    __slots__ = ("in_shape", "in_sl", "out_sl", "crop")
    # its formula also runs on Tensors (create_graph=True: autograd/higher_order.py)
    _double_backward = True

    def apply(self, g):
        xp = xp_of(g)
        if not self.crop:
            return (g[self.out_sl],)
        grad = xp.zeros(self.in_shape, g.dtype)
        grad[self.in_sl] = g[self.out_sl]
        return (grad,)


class _IndexPadBackward(Node):
    """Adjoint of gathering each padded axis through an index table."""

    __slots__ = ("maps",)
    _double_backward = True   # through _apply_tensors (create_graph=True)

    def _apply_tensors(self, grad, saved):
        """create_graph=True: linear in grad; its transpose is the padding itself."""
        from ..autograd.higher_order import linear_pair

        def pad_again(a):
            for axis, idx, _, _, _ in self.maps:
                a = xp_of(a).take(a, idx, axis=axis)
            return a
        return linear_pair(self, grad, pad_again)

    def apply(self, g):
        xp = xp_of(g)
        shape = list(g.shape)
        for axis, _, _, n, _ in self.maps:
            shape[axis] = n
        out = xp.zeros(shape, g.dtype)
        _add_padded(xp, out, g, sorted(self.maps), 0)
        return (out,)


def _add_padded(xp, out, g, maps, k):
    """out += the adjoint of padding by index tables (maps: (axis, idx, start, size, length), by axis, the
    outputs start:start + length a copy of the inputs from idx[start]):
    each input element sums the outputs that read it in torch's loop order, row-major over the
    outputs. Along each axis the outputs fall in three runs (the pad before, the copy, the pad
    after), taken in order; within a run the targets are distinct (added at once) or one edge
    repeated (replicate: one output after another). (A dense (outputs, inputs) matrix per axis
    made reflect-padding 16,000 samples cost 1 GB and 133 ms.)"""
    if k == len(maps):
        out += g
        return
    axis, idx, start, _, length = maps[k]
    lead = (slice(None),) * axis
    size = idx.shape[0]
    start = min(start, size)   # (a crop past the input leaves the pad before alone)
    for run, (lo, hi) in enumerate(((0, start), (start, start + length), (start + length, size))):
        if lo == hi:
            continue
        if run == 1:   # the copy: a view
            first = int(idx[start])
            _add_padded(xp, out[lead + (slice(first, first + length),)], g[lead + (slice(lo, hi),)], maps, k + 1)
            continue
        targets = idx[lo:hi]
        if targets.size == xp.unique(targets).size:
            part = xp.take(out, targets, axis=axis)
            _add_padded(xp, part, g[lead + (slice(lo, hi),)], maps, k + 1)
            out[lead + (targets,)] = part
        else:
            for j in range(lo, hi):
                t = int(idx[j])
                _add_padded(xp, out[lead + (slice(t, t + 1),)], g[lead + (slice(j, j + 1),)], maps, k + 1)


def _pad_pairs(pad, ndim):
    pad = [int(p) for p in pad]
    if len(pad) % 2:
        raise RuntimeError(f"Padding length must be divisible by 2 (pad got {len(pad)} values: {pad})")
    if len(pad) // 2 > ndim:
        raise RuntimeError(f"Padding length should be less than or equal to two times the input dimension but got "
                           f"padding length {len(pad)} and input of dimension {ndim}")
    # pad lists (before, after) pairs starting from the last dim
    return [(ndim - 1 - i, pad[2 * i], pad[2 * i + 1]) for i in range(len(pad) // 2)]


def constant_pad_nd(input, pad, value=0):
    """Pad (or crop, with negative sizes) the last dims with a constant."""
    xp = xp_of(input._data)
    x = input._data
    pairs = _pad_pairs(pad, x.ndim)
    out_shape = list(x.shape)
    in_sl = [slice(None)] * x.ndim
    out_sl = [slice(None)] * x.ndim
    crop = False
    for d, before, after in pairs:
        n = x.shape[d]
        size = n + before + after
        if size < 0:
            raise RuntimeError(f"The input size {n}, plus negative padding {before} and {after} resulted in a "
                               f"negative output size, which is invalid. Check dimension {d} of your input.")
        out_shape[d] = size
        lo, hi = max(-before, 0), n - max(-after, 0)
        crop = crop or before < 0 or after < 0
        in_sl[d] = slice(lo, max(hi, lo))
        start = max(before, 0)
        out_sl[d] = slice(start, start + max(hi - lo, 0))
    in_sl, out_sl = tuple(in_sl), tuple(out_sl)
    out = xp.full(out_shape, value, dtype=x.dtype)
    out[out_sl] = x[in_sl]
    if state.enabled and input._requires_grad:
        node = _new(ConstantPadNdBackward0)
        node.next_functions = (edge(input),)
        node._saved_versions = ()
        node.in_shape, node.in_sl, node.out_sl, node.crop = x.shape, in_sl, out_sl, crop
        return _record(out, node)
    return _wrap(out)


_PAD_MODES = {"reflect": "ReflectionPad{}DBackward0", "replicate": "ReplicationPad{}DBackward0",
              "circular": "CopySlices"}
_PAD_NODES = {}


def _check_pad_sizes(mode, shape, pairs, sizes, pad):
    """torch's reflect/replicate output checks: some padded dim keeps an element, none goes negative."""
    names = "WHD"[:len(pairs)]
    if all(size < 1 for size in sizes):
        ins = " ".join(f"{c}: {shape[d]}" for c, (d, _, _) in zip(names[:0:-1], pairs[:0:-1]))
        ins = (ins + ", " if ins else "") + f"W: {shape[pairs[0][0]]}"
        ins += " " if mode == "replicate" and len(pairs) == 2 else ""   # (torch's words, space and all)
        outs = " ".join(f"{c}: {size}" for c, size in zip(names[::-1], sizes[::-1]))
        raise RuntimeError(f"input ({ins}) is too small. Calculated output {outs} (F.pad mode={mode!r} by "
                           f"{list(pad)}: negative pads crop; keep at least one element)")
    if any(size < 0 for size in sizes):
        out_shape = list(shape)
        for (d, _, _), size in zip(pairs, sizes):
            out_shape[d] = size
        raise RuntimeError(f"Trying to create tensor with negative dimension {min(sizes)}: {out_shape} (F.pad "
                           f"mode={mode!r} of input {list(shape)} by {list(pad)}: crop less)")


def _check_circular_overlap(out_shape, d, before, after, length, pad):
    """torch copies each circular pad from the output itself, after cropping: where the cropped part (length,
    negative if the crop passes the input) is shorter than a pad, its copy_ refuses the overlap (slices of one
    dense block) or reads memory it never wrote."""
    if length < max(before, after) and (math.prod(out_shape) or length < 0):
        raise RuntimeError("unsupported operation: some elements of the input tensor and the written-to tensor "
                           "refer to a single memory location. Please clone() the tensor before performing the "
                           f"operation. (F.pad mode='circular' by {list(pad)}: dimension {d} keeps {length} "
                           f"elements after cropping, fewer than the {max(before, after)} it must wrap around, and "
                           "torch raises this or returns uninitialized values; crop less or pad less)")


@_mf.settles("suggest", grads=False)
def pad(input, pad, mode="constant", value=None):
    """Pad the last len(pad) // 2 dims: constant, reflect, replicate or circular."""
    xp = xp_of(input._data)
    if mode == "constant":
        return constant_pad_nd(input, pad, 0 if value is None else value)
    if mode not in _PAD_MODES:
        raise NotImplementedError(f"Unrecognised padding mode {mode} (pad supports 'constant', 'reflect', "
                                  "'replicate' and 'circular')")
    if value is not None and value != 0:
        raise RuntimeError(f"Padding mode \"{mode}\" doesn't take in value argument")
    x = input._data
    pairs = _pad_pairs(pad, x.ndim)
    k = len(pairs)
    if k not in (1, 2, 3) or x.ndim not in (k + 1, k + 2):
        raise NotImplementedError(
            f"Padding size {2 * k} is not supported for {x.ndim}D input tensor.\n"
            "Supported combinations for non-constant padding:\n"
            "  - 2D or 3D input: padding size = 2 (pads last dimension)\n"
            "  - 3D or 4D input: padding size = 4 (pads last 2 dimensions)\n"
            "  - 4D or 5D input: padding size = 6 (pads last 3 dimensions)")
    node_name = _PAD_MODES[mode]
    sizes = [x.shape[d] + before + after for d, before, after in pairs]
    for i, (d, before, after) in enumerate(pairs):
        n = x.shape[d]
        if mode == "reflect" and (before >= n or after >= n):
            raise RuntimeError(f"Argument #{4 + 2 * i}: Padding size should be less than the corresponding input "
                               f"dimension, but got: padding ({before}, {after}) at dimension {d} of input "
                               f"{list(x.shape)}")
    if mode == "circular":
        for (d, before, after), size in zip(pairs[::-1], sizes[::-1]):   # (torch checks the outer dim first)
            if before > x.shape[d] or after > x.shape[d]:
                raise RuntimeError("Padding value causes wrapping around more than once.")
            if size < 0:
                raise RuntimeError(f"Negative padding value is resulting in an empty dimension (F.pad of input "
                                   f"{list(x.shape)} by {list(pad)}: dimension {d} would have size {size}; crop less)")
    else:
        _check_pad_sizes(mode, x.shape, pairs, sizes, pad)
    out_shape = list(x.shape)
    for (d, _, _), size in zip(pairs, sizes):
        out_shape[d] = size
    maps = []
    out = x
    for d, before, after in pairs:
        n = x.shape[d]
        # negative pads crop: output j reads input j - before, reflected or clamped into range; circular
        # wraps the cropped part (torch copies the crop in, then each pad from it)
        start, lo = max(before, 0), max(-before, 0)
        length = n - lo - max(-after, 0)
        j = xp.arange(n + before + after)
        if mode == "reflect":
            idx = xp.abs(j - before)
            idx = B.where(xp, idx >= n, 2 * (n - 1) - idx, idx)
        elif mode == "replicate":
            idx = xp.clip(j - before, 0, n - 1)
        else:
            _check_circular_overlap(out_shape, d, before, after, length, pad)
            # (an empty crop reaches here only for an empty output)
            idx = lo + (j - start) % length if length > 0 else xp.zeros_like(j)
        length = max(length, 0)
        out = xp.take(out, idx, axis=d)
        maps.append((d, idx, start, n, length))
    if state.enabled and input._requires_grad:
        name = node_name.format(k)
        cls = _PAD_NODES.get(name)
        if cls is None:
            body = {"__slots__": ()}
            if name == "CopySlices":  # torch's C++ node: name() gives its namespace too
                body["name"] = lambda self: "torch::autograd::CopySlices"
            cls = _PAD_NODES[name] = type(name, (_IndexPadBackward,), body)
        node = _new(cls)
        node.next_functions = (edge(input),)
        node._saved_versions = ()
        node.maps = maps
        return _record(out, node)
    return _wrap(out)


# ---- normalize, cosine_similarity, pairwise_distance ------------------------------------
def _norm_along(x, p, axis):
    """(p-norm along axis with keepdims, d(norm)/dx as a function)."""
    xp = xp_of(x)
    a = xp.abs(x)
    if p == 2:
        n = xp.sqrt((x * x).sum(axis=axis, keepdims=True))
    elif p == math.inf:
        n = a.max(axis=axis, keepdims=True)
    elif p == -math.inf:
        n = a.min(axis=axis, keepdims=True)
    elif p == 1:
        n = a.sum(axis=axis, keepdims=True)
    elif p == 0:
        n = (x != 0).sum(axis=axis, keepdims=True).astype(x.dtype)
    else:
        n = (a ** p).sum(axis=axis, keepdims=True) ** (1.0 / p)

    def dnorm():
        safe = B.where(xp, n == 0, 1, n)
        if p == 2:
            d = x / safe
        elif math.isinf(p):
            hit = (a == n) & (n > 0)
            d = xp.sign(x) * hit / xp.maximum(hit.sum(axis=axis, keepdims=True), 1)
        elif p == 1:
            d = xp.sign(x)
        elif p == 0:
            d = xp.zeros_like(x)
        elif p < 1:   # (|x| ** (p - 1) is infinite at x = 0, where torch's gradient is 0)
            with B.errstate(xp, divide="ignore"):
                d = xp.sign(x) * B.where(xp, x == 0, 0, a ** (p - 1)) * safe ** (1 - p)
        else:
            d = xp.sign(x) * a ** (p - 1) / safe ** (p - 1)
        return B.where(xp, n == 0, 0, d).astype(x.dtype, copy=False)
    return n, dnorm


class _NormalizeBackward(Node):
    __slots__ = ("x", "denom", "clamped", "dnorm", "axis", "p", "eps")
    _saved_fields = ("x", "denom", "dnorm")
    _double_backward = True   # through _apply_tensors (create_graph=True)

    def _apply_tensors(self, grad, saved):
        """The gradient of torch's composite, x / max(||x||, eps), on Tensors."""
        p, axis, eps = self.p, self.axis, self.eps
        return vjp(lambda x: x / (x.norm(p) if axis is None else x.norm(p, axis, keepdim=True)).clamp_min(eps),
                   saved, grad)

    def apply(self, g):
        xp = xp_of(g)
        x, den = self.x, self.denom
        gx = g / den
        # the denominator max(norm, eps) depends on x only where the norm is above eps
        coef = B.where(xp, self.clamped, 0, (g * x).sum(axis=self.axis, keepdims=True) / (den * den))
        return (gx - coef * self.dnorm(),)


def normalize(input, p=2.0, dim=1, eps=1e-12, out=None):
    """input / max(||input||_p along dim, eps)."""
    xp = xp_of(input._data)
    x = _float(input, "normalize", bf16=True)
    if x.dtype.kind == "V":   # bfloat16: torch's composite on Tensors, each op rounding as there
        from .elementwise import div
        denom = input.norm(p, dim, keepdim=True).clamp_min(eps).expand_as(input)
        return input / denom if out is None else div(input, denom, out=out)
    axis = _dim(dim, x.ndim)
    if x.ndim == 0:
        axis = None
    n, dnorm = _norm_along(x, p, axis)
    den = xp.maximum(n, eps).astype(x.dtype, copy=False)
    res = x / den
    if out is not None:
        xp.copyto(out._data, res)
        out._vc[0] += 1
        return out
    if state.enabled and input._requires_grad:
        node = _new(_NORMALIZE_NODE)
        node.next_functions = (edge(input),)
        node._saved_versions = ((input, input._vc[0]),)
        node.x, node.denom, node.clamped, node.dnorm, node.axis = x, den, n < eps, dnorm, axis
        node.p, node.eps = p, eps
        return _record(res, node)
    return _record(res, None)


_NORMALIZE_NODE = type("DivBackward0", (_NormalizeBackward,), {"__slots__": ()})


# ---- weight normalization (torch.norm_except_dim, torch._weight_norm) -------------------------
def norm_except_dim(v, pow=2, dim=0):
    """The pow-norm of v over every dim but dim, kept as a size-1 dim (dim=-1: over all of v)."""
    if dim == -1:
        return v.norm(pow)
    if dim == 0:
        shape = [1] * v.dim()
        shape[0] = v.size(0)
        return v.contiguous().view(v.size(0), -1).norm(pow, 1).view(shape)
    if dim == v.dim() - 1:
        shape = [1] * v.dim()
        shape[-1] = v.size(-1)
        return v.contiguous().view(-1, v.size(-1)).norm(pow, 0).view(shape)
    # as ATen: move dim to the front and back
    return norm_except_dim(v.transpose(0, dim), pow, 0).transpose(0, dim)


class WeightNormInterfaceBackward0(Node):
    """d(w)/d(v, g) of w = v * g / ||v|| (the norm over every axis but one), as torch's fused kernel."""

    __slots__ = ("v", "g", "norms", "axes")
    _saved_fields = ("v", "g", "norms")
    _double_backward = True   # through _apply_tensors (create_graph=True)

    def apply(self, grad):
        v, norms = self.v, self.norms
        gg = (grad * v).sum(axis=self.axes, keepdims=True) / norms
        gv = gg_out = None
        nf = self.next_functions
        if nf[0][0] is not None:
            gv = (self.g.reshape(norms.shape) / norms) * (grad - v * (gg / norms))
        if nf[1][0] is not None:
            gg_out = gg.reshape(self.g.shape)
        return gv, gg_out

    def _apply_tensors(self, grad, saved):
        """The same formula on Tensors, so that create_graph=True differentiates it again."""
        v, g = saved
        norms = (v * v).sum(self.axes, keepdim=True).sqrt()
        gg = (grad * v).sum(self.axes, keepdim=True) / norms
        gv = (g.reshape(norms.shape) / norms) * (grad - v * (gg / norms))
        nf = self.next_functions
        return (gv if nf[0][0] is not None else None,
                gg.reshape(g.shape) if nf[1][0] is not None else None)


def _weight_norm(v, g, dim=0):
    """v * (g / norm_except_dim(v, 2, dim)): weight normalization's weight from direction v and size g."""
    if not (dim == 0 or dim == v.dim() - 1) or v.dim() == 0:
        # ATen's non-fused path, recorded op by op (MulBackward0) as there
        return v * (g / norm_except_dim(v, 2, dim))
    xp = xp_of(v._data)
    vd = _float(v, "_weight_norm")
    gd = g._data.astype(vd.dtype, copy=False)
    axes = tuple(i for i in range(vd.ndim) if i != dim)
    norms = xp.sqrt((vd * vd).sum(axis=axes, keepdims=True))
    out = vd * (gd.reshape(norms.shape) / norms)
    if not (state.enabled and (v._requires_grad or g._requires_grad)):
        return _wrap(out)
    node = _new(WeightNormInterfaceBackward0)
    node.next_functions = (edge(v), edge(g))
    node._saved_versions = ((v, v._vc[0]), (g, g._vc[0]))
    node.v, node.g, node.norms, node.axes = vd, gd, norms, axes
    return _record(out, node)


def _two(name, x1, x2):
    a, b = _float(x1, name), _float(x2, name)
    if a.dtype != b.dtype:
        dt = np.promote_types(a.dtype, b.dtype)
        a, b = a.astype(dt), b.astype(dt)
    try:
        shape = np.broadcast_shapes(a.shape, b.shape)
    except ValueError:
        raise RuntimeError(f"{name}: x1 of shape {list(a.shape)} and x2 of shape {list(b.shape)} can't be "
                           "broadcast together") from None
    return a, b, shape


class _CosineBackward(Node):
    __slots__ = ("a", "b", "n1", "n2", "c1", "c2", "axis", "a_shape", "b_shape", "eps")
    _saved_fields = ("a", "b", "n1", "n2", "c1", "c2")
    _double_backward = True   # through _apply_tensors (create_graph=True)

    def _apply_tensors(self, grad, saved):
        """The gradient of the forward on Tensors: each norm clamped at eps in value only, as torch's."""
        shape, axis, eps = self.a.shape, self.axis, self.eps

        def cos(a, b):
            a, b = a.expand(*shape), b.expand(*shape)
            n1, n2 = a.norm(2, axis, keepdim=True), b.norm(2, axis, keepdim=True)
            c1, c2 = n1 + (n1.clamp_min(eps) - n1).detach(), n2 + (n2.clamp_min(eps) - n2).detach()
            return ((a / c1) * (b / c2)).sum(axis)
        return vjp(cos, saved, grad)

    def apply(self, g):
        xp = xp_of(g)
        a, b, n1, n2, c1, c2, axis = self.a, self.b, self.n1, self.n2, self.c1, self.c2, self.axis
        g = xp.expand_dims(g, axis)
        ga = gb = None
        # out = sum(u * v), u = a / c1, v = b / c2; c = max(norm, eps) with the norm's gradient
        # taken unclamped (torch clamps under no_grad)
        if self.next_functions[0][0] is not None:
            gu = g * (b / c2)
            k = B.where(xp, n1 == 0, 0,
                        (gu * a).sum(axis=axis, keepdims=True) / (c1 * c1 * B.where(xp, n1 == 0, 1, n1)))
            ga = unbroadcast(gu / c1 - a * k, self.a_shape)
        if self.next_functions[1][0] is not None:
            gv = g * (a / c1)
            k = B.where(xp, n2 == 0, 0,
                        (gv * b).sum(axis=axis, keepdims=True) / (c2 * c2 * B.where(xp, n2 == 0, 1, n2)))
            gb = unbroadcast(gv / c2 - b * k, self.b_shape)
        return ga, gb


_COSINE_NODE = type("SumBackward1", (_CosineBackward,), {"__slots__": ()})


def cosine_similarity(x1, x2, dim=1, eps=1e-8):
    """Cosine of the angle between x1 and x2 along dim (broadcasting)."""
    xp = xp_of(x1._data)
    a0, b0, shape = _two("cosine_similarity", x1, x2)
    a, b = xp.broadcast_to(a0, shape), xp.broadcast_to(b0, shape)
    axis = _dim(dim, len(shape))
    n1 = xp.sqrt((a * a).sum(axis=axis, keepdims=True))
    n2 = xp.sqrt((b * b).sum(axis=axis, keepdims=True))
    c1, c2 = xp.maximum(n1, eps).astype(a.dtype), xp.maximum(n2, eps).astype(a.dtype)
    out = ((a / c1) * (b / c2)).sum(axis=axis)
    out = xp.asarray(out)
    if state.enabled and (x1._requires_grad or x2._requires_grad):
        node = _new(_COSINE_NODE)
        node.next_functions = (edge(x1), edge(x2))
        node._saved_versions = ((x1, x1._vc[0]), (x2, x2._vc[0]))
        node.a, node.b, node.n1, node.n2, node.c1, node.c2, node.axis = a, b, n1, n2, c1, c2, axis
        node.eps = eps
        node.a_shape, node.b_shape = a0.shape, b0.shape
        return _record(out, node)
    return _wrap(out)


class _DistanceBackward(Node):
    __slots__ = ("dnorm", "axis", "keepdim", "a_shape", "b_shape", "p", "eps")
    _saved_fields = ("dnorm",)
    _double_backward = True   # through _apply_tensors (create_graph=True)

    def _apply_tensors(self, grad, saved):
        """The gradient of torch's composite, ||a - b + eps||_p along the last dim, on Tensors."""
        p, axis, eps, keepdim = self.p, self.axis, self.eps, self.keepdim
        return vjp(lambda a, b: (a - b + eps).norm(p) if axis is None else (a - b + eps).norm(p, axis, keepdim),
                   saved, grad)

    def apply(self, g):
        xp = xp_of(g)
        if self.p == 0:   # (torch's gradient of a 0-norm is undefined: nothing reaches the inputs)
            return None, None
        if not self.keepdim:
            g = xp.expand_dims(g, self.axis)
        gd = g * self.dnorm()
        return (unbroadcast(gd, self.a_shape) if self.next_functions[0][0] is not None else None,
                unbroadcast(-gd, self.b_shape) if self.next_functions[1][0] is not None else None)


_DISTANCE_NODE = type("NormBackward1", (_DistanceBackward,), {"__slots__": ()})


def pairwise_distance(x1, x2, p=2.0, eps=1e-6, keepdim=False):
    """||x1 - x2 + eps||_p along the last dim."""
    xp = xp_of(x1._data)
    a, b, shape = _two("pairwise_distance", x1, x2)
    d = a - b + eps
    d = xp.broadcast_to(d, shape) if d.shape != shape else d
    axis = len(shape) - 1 if shape else None
    n, dnorm = _norm_along(d, p, axis)
    out = n if keepdim else (n.reshape(()) if axis is None else n.squeeze(axis))
    out = xp.asarray(out)
    if state.enabled and (x1._requires_grad or x2._requires_grad):
        node = _new(_DISTANCE_NODE)
        node.next_functions = (edge(x1), edge(x2))
        node._saved_versions = ((x1, x1._vc[0]), (x2, x2._vc[0]))
        node.dnorm, node.axis, node.keepdim = dnorm, axis, keepdim or axis is None
        node.p, node.eps = p, eps
        node.a_shape, node.b_shape = a.shape, b.shape
        return _record(out, node)
    return _wrap(out)


# ---- interpolate ------------------------------------------------------------------------
class _ResampleBackward(Node):
    """Adjoint of resampling each spatial axis by a matrix (out_size x in_size)."""

    __slots__ = ("maps",)
    _double_backward = True   # through _apply_tensors (create_graph=True)

    def _apply_tensors(self, grad, saved):
        """create_graph=True: linear in grad; its transpose is the resampling itself."""
        from ..autograd.higher_order import linear_pair
        return linear_pair(self, grad, lambda a: _map_axes(a, [(axis, mat.T) for axis, mat in self.maps]))

    def apply(self, g):
        return (_map_axes(g, self.maps),)


def _map_axes(a, maps):
    """a with each (axis, matrix) applied along its axis, as a @ matrix (or a _Taps' product)."""
    xp = xp_of(a)
    for axis, mat in maps:
        moved = xp.moveaxis(a, axis, -1)
        a = xp.moveaxis(mat.times(moved) if isinstance(mat, _Taps) else moved @ mat.astype(a.dtype, copy=False),
                        -1, axis)
    return a


class _Taps:
    """A resampling matrix (n_out, n_in) kept as its taps: each output reads idx[o, k] with weight
    w[o, k], every tap counted as torch's kernels count them (a weight of 0 too). Long axes take it
    instead of the dense matrix: 16,000 samples upsampled by 2 made a 2 GB matrix and took 10 s
    (torch 21 ms), and a dense product turns one inf into NaN along the whole row (0 * inf)."""

    __slots__ = ("idx", "w", "n_in", "transposed")

    def __init__(self, idx, w, n_in, transposed=False):
        self.idx, self.w, self.n_in, self.transposed = idx, w, n_in, transposed

    @property
    def T(self):
        return _Taps(self.idx, self.w, self.n_in, not self.transposed)

    def times(self, a):
        """a @ matrix along a's last axis: the adjoint (a is (..., n_out)); transposed, the resampling."""
        xp = xp_of(a)
        w = self.w.astype(a.dtype, copy=False)
        if self.transposed:   # the resampling: a (..., n_in) -> (..., n_out)
            with B.errstate(xp, invalid="ignore", over="ignore"):   # (inf * 0 is NaN, as in torch)
                out = a[..., self.idx[:, 0]] * w[:, 0]
                for k in range(1, self.idx.shape[1]):
                    out += a[..., self.idx[:, k]] * w[:, k]
            return out
        rows = a.reshape(-1, a.shape[-1])
        flat = (xp.arange(rows.shape[0])[:, None, None] * self.n_in + self.idx[None]).ravel()
        sums = xp.bincount(flat, weights=(rows[:, :, None] * w[None]).ravel(), minlength=rows.shape[0] * self.n_in)
        return sums.astype(a.dtype).reshape(a.shape[:-1] + (self.n_in,))


_RESAMPLE_NODES = {}


def _resample_matrix(mode, n_in, n_out, scale, align_corners, dtype, shortcut=True, bf16=False):
    """The (n_out, n_in) matrix (and, for nearest modes, the index table) of one axis; bf16: with the weights
    torch's kernels keep for a bfloat16 input (_bf16_weights)."""
    mat = np.zeros((n_out, n_in), dtype)
    dst = np.arange(n_out)
    if mode in ("nearest", "nearest-exact"):
        idx = _nearest_source(mode, n_in, n_out, scale, shortcut)
        mat[dst, idx] = 1
        return mat, idx
    if mode == "bicubic":
        idx, w = _cubic_source(n_in, n_out, scale, align_corners, dtype)
        w = _bf16_weights(w) if bf16 else w
        for k in range(4):
            # two taps may clamp onto the same border pixel: add.at accumulates them
            np.add.at(mat, (dst, idx[:, k]), w[:, k])
        return mat, None
    i0, i1, lam = _linear_source(n_in, n_out, scale, align_corners, dtype)
    w0, w1 = _bf16_weights(None, lam) if bf16 else (1 - lam, lam)
    # each statement writes distinct (row, col) pairs, so fancy += accumulates correctly
    mat[dst, i0] += w0
    mat[dst, i1] += w1
    return mat, None


def _bf16_weights(w, lam=None):
    """The weights torch's resampling kernels store for a bfloat16 input, in its type: the cubic
    coefficients w rounded, or (linear) lam rounded and 1 - lam in bfloat16 arithmetic, as a pair."""
    if lam is None:
        return B.bf16_through(w)
    lam = B.bf16_through(lam)
    return B.bf16_through(1 - lam), lam


def _nearest_source(mode, n_in, n_out, scale, shortcut=True):
    """The input each output of nearest (or nearest-exact) resampling reads; shortcut: copy or halve where the
    output is the input's size or twice it (torch's nearest_idx), whatever the scale."""
    dst = np.arange(n_out)
    # torch computes the source index in float32: floor((dst [+ 0.5]) * scale)
    s = np.float32(1.0 / scale) if scale is not None and scale > 0 else np.float32(n_in / n_out)
    if shortcut and mode == "nearest" and n_out == n_in:
        return dst
    if shortcut and mode == "nearest" and n_out == 2 * n_in:
        return dst >> 1
    off = np.float32(0.5 if mode == "nearest-exact" else 0.0)
    return np.minimum(np.floor((dst.astype(np.float32) + off) * s).astype(np.int64), n_in - 1)


def _source_coords(n_in, n_out, scale, align_corners, dtype, cubic=False):
    """torch's area_pixel_compute_source_index of each output, in its opmath type (float32 below float64) and
    fused as its build compiles it: in float64 a 2.3x upsampled axis read sources up to 4e-6 off torch's."""
    f = np.float64 if np.dtype(dtype) == np.float64 else np.float32
    dst = np.arange(n_out).astype(f)
    if align_corners:
        return dst * (f(n_in - 1) / f(n_out - 1) if n_out > 1 else f(0))
    s = f(1.0 / scale) if scale is not None and scale > 0 else f(n_in) / f(n_out)
    src = _fma_for(np.dtype(f))(s, dst + f(0.5), f(-0.5)).astype(f)
    return src if cubic else np.maximum(src, f(0))


def _linear_source(n_in, n_out, scale, align_corners, dtype=np.float64):
    """linear resampling's two neighbours of each output and the second one's weight."""
    dst = np.arange(n_out)
    if n_out == n_in:   # torch copies such an axis whatever the scale (compute_source_index_and_lambda)
        return dst, dst, np.zeros(n_out, dtype)
    src = _source_coords(n_in, n_out, scale, align_corners, dtype)
    i0 = np.minimum(np.floor(src).astype(np.int64), n_in - 1)
    one = src.dtype.type(1)
    return i0, np.minimum(i0 + 1, n_in - 1), np.clip(src - i0, 0, one).astype(src.dtype)


def _cubic_source(n_in, n_out, scale, align_corners, dtype=np.float64):
    """bicubic resampling's four clamped neighbours of each output (n_out, 4) and their weights:
    torch's cubic convolution (A = -0.75) in its opmath type, the source coordinate not clamped at 0."""
    src = _source_coords(n_in, n_out, scale, align_corners, dtype, cubic=True)
    f = src.dtype.type
    fma = _fma_for(src.dtype)
    i0 = np.minimum(np.floor(src).astype(np.int64), n_in - 1)
    t = np.clip(src - i0, 0, f(1)).astype(src.dtype)
    A = f(-0.75)
    near = lambda x: fma(fma(A + f(2), x, -(A + f(3))) * x, x, f(1)).astype(src.dtype)           # |x| <= 1
    far = lambda x: fma(fma(fma(A, x, -(f(5) * A)), x, f(8) * A), x, -(f(4) * A)).astype(src.dtype)  # 1 < |x| < 2
    idx = np.stack([np.clip(i0 - 1 + k, 0, n_in - 1) for k in range(4)], 1)
    u = f(1) - t
    return idx, np.stack([far(t + f(1)), near(t), near(u), far(u + f(1))], 1)


_TAPS_MIN = 1 << 22   # matrices past this many entries are kept as taps


def _resample_taps(mode, n_in, n_out, scale, align_corners, dtype, shortcut=True, bf16=False):
    """The _Taps of nearest, linear or bicubic resampling of one axis (bf16: as _resample_matrix)."""
    if mode in ("nearest", "nearest-exact"):
        return _Taps(_nearest_source(mode, n_in, n_out, scale, shortcut)[:, None], np.ones((n_out, 1), dtype), n_in)
    if mode == "bicubic":
        idx, w = _cubic_source(n_in, n_out, scale, align_corners, dtype)
        w = _bf16_weights(w) if bf16 else w
    else:
        i0, i1, lam = _linear_source(n_in, n_out, scale, align_corners, dtype)
        idx, w = np.stack([i0, i1], 1), np.stack(_bf16_weights(None, lam) if bf16 else (1 - lam, lam), 1)
    return _Taps(idx, w.astype(dtype), n_in)


def _backward_map(mode, n_in, n_out, dtype, xp, taps):
    """The map of torch's backward on an axis it copies (or, nearest, halves) whatever the scale: _Taps, or
    the dense matrix where the input lives."""
    idx = np.arange(n_out) if mode == "bicubic" else _nearest_source(mode, n_in, n_out, None)
    if taps:
        return _Taps(idx[:, None], np.ones((n_out, 1), dtype), n_in)
    mat = np.zeros((n_out, n_in), dtype)
    mat[np.arange(n_out), idx] = 1
    return xp.asarray(mat)


def _aa_filter(mode, x):
    """torch's aa_filter (UpSampleKernel.cpp) in x's dtype: the triangle, or Keys' cubic with a = -0.5."""
    f = x.dtype.type
    x = np.abs(x)
    if mode == "bilinear":
        return np.where(x < f(1), f(1) - x, f(0))
    a = f(-0.5)
    fma = _fma_for(x.dtype)  # torch's build contracts the polynomials into fused multiply-adds
    near = fma(fma(a + f(2), x, -(a + f(3))) * x, x, f(1))
    far = fma(fma(fma(a, x, -(f(5) * a)), x, f(8) * a), x, -(f(4) * a))
    return np.where(x < f(1), near, np.where(x < f(2), far, f(0))).astype(x.dtype)


def _fma_for(dtype):
    from .._fma import fma32, fma64
    return fma32 if dtype == np.float32 else fma64


def _aa_taps(mode, n_in, n_out, scale, align_corners, antialias, dtype):
    """torch's separable resampling taps (_compute_weights_aa) for one axis, computed in dtype with its
    roundings: first source index (n_out,) and normalised weights (n_out, K), zero past each row's support."""
    f = np.dtype(dtype).type
    if align_corners:
        sc = f(f(n_in - 1) / f(n_out - 1)) if n_out > 1 else f(0)
    else:
        sc = f(1.0 / scale) if scale is not None and scale > 0 else f(f(n_in) / f(n_out))
    interp = 2 if mode == "bilinear" else 4
    delta = 0.5 if align_corners and not antialias else 0.0  # uint8 without antialias, align_corners=True
    support = f(interp * 0.5 * float(sc)) if antialias and sc >= 1 else f(interp * 0.5)
    invscale = f(1.0 / float(sc)) if antialias and sc >= 1 else f(1)
    k_max = int(math.ceil(support)) * 2 + 1 if antialias else interp
    i = np.arange(n_out, dtype=np.float64)
    center = (float(sc) * (i + 0.5 - delta)).astype(dtype)
    xmin = np.maximum(((center - support).astype(np.float64) + 0.5 + delta).astype(np.int64), 0)
    xsize = np.minimum(((center + support).astype(np.float64) + 0.5 + delta).astype(np.int64), n_in) - xmin
    xsize = np.clip(xsize, 0, k_max)
    j = np.arange(k_max)
    pos = (xmin[:, None] + j).astype(dtype) - center[:, None]
    w = _aa_filter(mode, ((pos.astype(np.float64) + 0.5 - delta) * float(invscale)).astype(dtype))
    w = np.where(j < xsize[:, None], w, f(0))
    total = w[:, 0].copy()
    for k in range(1, k_max):  # torch sums the weights one by one
        total = total + w[:, k]
    w = np.where(total[:, None] != 0, w / np.where(total == 0, f(1), total)[:, None], w)
    return xmin, w


def _aa_pass(xp, a, axis, xmin, w):
    """One separable pass along axis: out = sum_j w[:, j] * a[xmin + j], accumulated in order as torch does."""
    a = xp.moveaxis(a, axis, -1)
    n_in = a.shape[-1]
    idx = np.minimum(xmin[:, None] + np.arange(w.shape[1]), n_in - 1)
    if xp is not np:
        idx, w = xp.asarray(idx), xp.asarray(w)
    out = a[..., idx[:, 0]] * w[:, 0]
    if xp is np and a.dtype.kind == "f":  # torch's loop compiles to fused multiply-adds on the CPU
        fma = _fma_for(a.dtype)
        for k in range(1, w.shape[1]):
            out = fma(a[..., idx[:, k]], w[:, k], out)
    else:
        for k in range(1, w.shape[1]):
            out += a[..., idx[:, k]] * w[:, k]
    return xp.moveaxis(out, -1, axis)


def _uint8_pass(xp, a, axis, mat):
    """One pass of torch's uint8 kernel with the (n_out, n_in) float64 weights mat: weights as int16 at the
    largest precision that fits, exact integer sums, rounded half up and clamped to 0..255 before the next pass."""
    prec = 0
    while prec < 22 and int(0.5 + float(mat.max()) * (1 << (prec + 1))) < (1 << 15):
        prec += 1
    wi = mat * (1 << prec)
    wi = xp.asarray(np.where(wi < 0, np.trunc(wi - 0.5), np.trunc(wi + 0.5)).astype(np.int64))
    out = xp.moveaxis(xp.moveaxis(a, axis, -1).astype(np.int64) @ wi.T, -1, axis)
    return xp.clip((out + (1 << (prec - 1))) >> prec, 0, 255).astype(np.uint8)


def _mat_from_taps(n_in, xmin, w):
    """The (n_out, n_in) matrix of the taps, for the backward pass."""
    mat = np.zeros((len(xmin), n_in), w.dtype)
    idx = np.minimum(xmin[:, None] + np.arange(w.shape[1]), n_in - 1)
    np.add.at(mat, (np.repeat(np.arange(len(xmin)), w.shape[1]), idx.ravel()), w.ravel())
    return mat


_MODE_DIMS = {"linear": 1, "bilinear": 2, "bicubic": 2, "trilinear": 3}
_MODE_NAMES = {"nearest": "UpsampleNearest{}DBackward0", "nearest-exact": "UpsampleNearestExact{}DBackward0",
               "linear": "UpsampleLinear1DBackward0", "bilinear": "UpsampleBilinear2DBackward0",
               "bicubic": "UpsampleBicubic2DBackward0",
               "trilinear": "UpsampleTrilinear3DBackward0", "area": "AdaptiveAvgPool{}DBackward0"}


@_mf.settles("suggest", grads=False)   # (torch gives its input gradient row-major)
def interpolate(input, size=None, scale_factor=None, mode="nearest", align_corners=None,
                recompute_scale_factor=None, antialias=False):
    """Resize the spatial dims (N, C, *spatial): nearest, nearest-exact, (bi/tri)linear, bicubic or area."""
    xp = xp_of(input._data)
    x = input._data
    if x.dtype.kind != "f" and not (x.dtype == np.uint8 and mode in ("nearest", "nearest-exact", "bilinear",
                                                                       "bicubic")):
        # torch's kernel for the mode (uint8 works with nearest, nearest-exact, bilinear and bicubic)
        kernel = {"nearest": "compute_indices_weights_nearest", "nearest-exact": "compute_indices_weights_nearest",
                  "bicubic": "compute_indices_weights_cubic", "area": "adaptive_avg_pool2d",
                  "bilinear": "upsample_bilinear2d_channels_last"}.get(mode, "compute_indices_weights_linear")
        kernel_for(x.dtype, kernel, "f")
    if mode in ("nearest", "area", "nearest-exact"):
        if align_corners is not None:
            raise ValueError("align_corners option can only be set with the interpolating modes: "
                             "linear | bilinear | bicubic | trilinear")
    elif align_corners is None:
        align_corners = False
    nd = x.ndim - 2
    if mode not in _MODE_NAMES:
        raise NotImplementedError(f"interpolate: mode {mode!r} is not supported by ember (supported: nearest, "
                                  "nearest-exact, linear, bilinear, bicubic, trilinear, area)")
    if nd not in (1, 2, 3):
        raise NotImplementedError(f"Input Error: Only 3D, 4D and 5D input Tensors supported (got {x.ndim}D) for the "
                                  f"modes: nearest | linear | bilinear | bicubic | trilinear | area | nearest-exact "
                                  f"(got {mode})")
    if mode in _MODE_DIMS and _MODE_DIMS[mode] != nd:
        need = {1: "3D", 2: "4D", 3: "5D"}[_MODE_DIMS[mode]]
        raise NotImplementedError(f"Got {x.ndim}D input, but {mode} mode needs {need} input")
    if antialias and not (mode in ("bilinear", "bicubic") and nd == 2):
        raise ValueError("Anti-alias option is restricted to bilinear, bicubic, and lanczos modes and requires a "
                         "4-D tensor as input")
    if x.dtype == np.uint8 and mode == "bilinear" and nd != 2:
        raise NotImplementedError(f'"compute_indices_weights_linear" not implemented for \'Byte\' ({mode} '
                                  f"interpolate of a uint8 tensor of {x.ndim} dims: convert it with .float())")
    if size is not None and scale_factor is not None:
        raise ValueError("only one of size or scale_factor should be defined")
    spatial = x.shape[2:]
    if size is not None:
        if isinstance(size, (list, tuple)):
            if len(size) != nd:
                raise ValueError(f"Input and output must have the same number of spatial dimensions, but got input "
                                 f"with spatial dimensions of {list(spatial)} and output size of {size}. Please "
                                 "provide input tensor in (N, C, d1, d2, ...,dK) format and output size in "
                                 "(o1, o2, ...,oK) format.")
            out_size = [int(s) for s in size]
        else:
            out_size = [int(size)] * nd
        scales = [None] * nd
    elif scale_factor is not None:
        if isinstance(scale_factor, (list, tuple)):
            if len(scale_factor) != nd:
                raise ValueError(f"Input and scale_factor must have the same number of spatial dimensions, but got "
                                 f"input with spatial dimensions of {list(spatial)} and scale_factor of shape "
                                 f"{scale_factor}. Please provide input tensor in (N, C, d1, d2, ...,dK) format and "
                                 "scale_factor in (s1, s2, ...,sK) format.")
            scales = [float(s) for s in scale_factor]
        else:
            scales = [float(scale_factor)] * nd
        out_size = [int(math.floor(n * s)) for n, s in zip(spatial, scales)]
        if recompute_scale_factor or mode == "area":
            scales = [None] * nd
    else:
        raise ValueError("either size or scale_factor should be defined")
    if recompute_scale_factor and size is not None:
        raise ValueError("recompute_scale_factor is not meaningful with an explicit size.")
    if mode != "area" and (any(s <= 0 for s in out_size) or 0 in spatial):   # (area pools to any size)
        names = "DHW"[3 - nd:]
        ins = ", ".join(f"{c}: {n}" for c, n in zip(names, spatial))
        outs = ", ".join(f"{c}: {n}" for c, n in zip(names, out_size))
        raise RuntimeError(f"Input and output sizes should be greater than 0, but got input ({ins}) "
                           f"{'and ' if nd == 1 else ''}output ({outs}) (interpolate mode={mode!r}: pass a size or "
                           "scale_factor that keeps at least one output per axis)")
    if antialias or (x.dtype == np.uint8 and mode in ("bilinear", "bicubic")):
        if x.dtype.kind == "V":   # (torch's antialiased kernels have no bfloat16 version)
            raise NotImplementedError("\"compute_index_ranges_weights\" not implemented for 'BFloat16' (interpolate "
                                      f"with antialias=True: convert the input with .float())")
        return _interpolate_separable(input, x, xp, mode, out_size, scales, align_corners, antialias)
    if mode == "area":   # torch's area is adaptive average pooling, node names and all
        from . import pool
        from .conv3d import adaptive_avg_pool3d
        fn = {1: pool.adaptive_avg_pool1d, 2: pool.adaptive_avg_pool2d, 3: adaptive_avg_pool3d}[nd]
        return fn(input, out_size if nd > 1 else out_size[0])
    weighted = mode in ("linear", "bilinear", "trilinear", "bicubic") and xp is np
    bf16 = weighted and x.dtype.kind == "V"   # in float32, rounded once, as torch's kernels (backward too)
    # torch's generic kernel keeps a bfloat16 input's weights in bfloat16 (its channels_last kernel, which
    # bilinear also takes for small outputs, and every backward keep them float32)
    wbf = bf16 and not (mode == "bilinear" and (_mf.is_format(x, _mf.channels_last) and x.shape[1] > 3
                                                 or sum(out_size) <= 128
                                                 or _threads.get_num_threads() == 1 and x.shape[1] == 3)
                        or mode == "trilinear" and _mf.is_format(x, _mf.channels_last_3d) and x.shape[1] > 3)
    out = x if not bf16 else x.astype(np.float32)
    maps = []
    mdtype = out.dtype
    # (a dense product spreads an inf or NaN along the whole axis: such inputs take the taps)
    finite = not weighted or _all_finite(xp, x)
    # torch's backward kernels copy (nearest: copy or halve) an axis whose output is the input's size (or twice
    # it) whatever the scale; its 1-d and 3-d nearest forward and its bicubic forward read the scale's sources
    # there, so those take a second table for the backward
    same = mode == "bicubic" and list(spatial) == out_size and scales != [None] * nd
    for k in range(nd):
        axis = 2 + k
        n_in, n_out = spatial[k], out_size[k]
        split = same or (mode == "nearest" and nd != 2 and scales[k] is not None and n_out in (n_in, 2 * n_in)
                         and np.float32(1.0 / scales[k]) != np.float32(n_in / n_out))   # (a scale of 1 or 2 agrees)
        if xp is np and (not finite or n_in * n_out > _TAPS_MIN):
            taps = _resample_taps(mode, n_in, n_out, scales[k], align_corners, mdtype, not split, wbf)
            if taps.idx.shape[1] == 1:   # nearest
                out = xp.take(out, taps.idx[:, 0], axis=axis)
            else:
                out = xp.moveaxis(taps.T.times(xp.moveaxis(out, axis, -1)), -1, axis)
            if wbf:
                taps = _resample_taps(mode, n_in, n_out, scales[k], align_corners, mdtype, not split)
            maps.append((axis, _backward_map(mode, n_in, n_out, mdtype, xp, True) if split else taps))
            continue
        mat, idx = _resample_matrix(mode, n_in, n_out, scales[k], align_corners, mdtype, not split, wbf)
        if xp is not np:  # the tables are built on the host; they work where the input lives
            mat, idx = xp.asarray(mat), (None if idx is None else xp.asarray(idx))
        if idx is not None:
            out = xp.take(out, idx, axis=axis)
        else:
            out = xp.moveaxis(xp.moveaxis(out, axis, -1) @ mat.T, -1, axis)
        if wbf:
            mat = _resample_matrix(mode, n_in, n_out, scales[k], align_corners, mdtype, not split)[0]
        maps.append((axis, _backward_map(mode, n_in, n_out, mdtype, xp, False) if split else mat))
    out = xp.ascontiguousarray(out) if not bf16 else B.bf16_round(out)
    if state.enabled and input._requires_grad:
        name = _MODE_NAMES[mode].format(nd)
        cls = _RESAMPLE_NODES.get(name)
        if cls is None:
            cls = _RESAMPLE_NODES[name] = type(name, (_ResampleBackward,), {"__slots__": ()})
        node = _new(cls)
        node.next_functions = (edge(input),)
        node._saved_versions = ()
        node.maps = maps
        if bf16:
            in_float32(node)
        return _record(out, node)
    return _wrap(out)


def _interpolate_separable(input, x, xp, mode, out_size, scales, align_corners, antialias):
    """torch's separable CPU kernel (antialiased float, and uint8 bilinear/bicubic): width pass, then height pass,
    each skipped when its size is unchanged (torch's backward still weighs such an axis by its scale)."""
    out = x
    maps = []
    for axis in (3, 2):
        n_in, n_out = x.shape[axis], out_size[axis - 2]
        if n_in == n_out:
            if x.dtype != np.uint8 and scales[axis - 2] is not None:   # (without a scale the weights are 1)
                xmin, w = _aa_taps(mode, n_in, n_out, scales[axis - 2], align_corners, antialias, x.dtype)
                maps.append((axis, _mat_from_taps(n_in, xmin, w)))
            continue
        if x.dtype == np.uint8:
            if mode == "bicubic" and not antialias:  # float bicubic's clamped taps (a = -0.75), in int16
                mat = _resample_matrix(mode, n_in, n_out, scales[axis - 2], align_corners, np.float64)[0]
            else:
                xmin, w = _aa_taps(mode, n_in, n_out, scales[axis - 2], align_corners, antialias, np.float64)
                mat = _mat_from_taps(n_in, xmin, w)
            out = _uint8_pass(xp, out, axis, mat)
        else:
            xmin, w = _aa_taps(mode, n_in, n_out, scales[axis - 2], align_corners, antialias, x.dtype)
            out = _aa_pass(xp, out, axis, xmin, w)
            maps.append((axis, _mat_from_taps(n_in, xmin, w)))
    out = xp.ascontiguousarray(out)
    if out is x:
        out = x.copy()
    if state.enabled and input._requires_grad:
        name = "UpsampleBilinear2DAaBackward0" if mode == "bilinear" else "UpsampleBicubic2DAaBackward0"
        cls = _RESAMPLE_NODES.get(name)
        if cls is None:
            cls = _RESAMPLE_NODES[name] = type(name, (_ResampleBackward,), {"__slots__": ()})
        node = _new(cls)
        node.next_functions = (edge(input),)
        node._saved_versions = ()
        node.maps = [(axis, xp.asarray(mat)) for axis, mat in maps[::-1]]
        return _record(out, node)
    return _wrap(out)


def upsample(input, size=None, scale_factor=None, mode="nearest", align_corners=None):
    """Deprecated alias of interpolate."""
    _warn_user("`nn.functional.upsample` is deprecated. Use `nn.functional.interpolate` instead.")
    return interpolate(input, size, scale_factor, mode, align_corners)


def upsample_nearest(input, size=None, scale_factor=None):
    """Deprecated: interpolate(mode='nearest')."""
    _warn_user("`nn.functional.upsample_nearest` is deprecated. Use `nn.functional.interpolate` instead.")
    return interpolate(input, size, scale_factor, mode="nearest")


def upsample_bilinear(input, size=None, scale_factor=None):
    """Deprecated: interpolate(mode='bilinear', align_corners=True)."""
    _warn_user("`nn.functional.upsample_bilinear` is deprecated. Use `nn.functional.interpolate` instead.")
    return interpolate(input, size, scale_factor, mode="bilinear", align_corners=True)


_BAG_MODES = ("sum", "mean", "max")


def _top_embedding_bag(weight, indices, offsets, scale_grad_by_freq=False, mode=0, sparse=False,
                       per_sample_weights=None, include_last_offset=False, padding_idx=None):
    """torch.embedding_bag: (output, offset2bag, bag_size, max_indices), the mode as torch's enum (0 sum,
    1 mean, 2 max); output is F.embedding_bag's, the other three the bookkeeping torch's kernel returns."""
    name = _BAG_MODES[mode] if isinstance(mode, int) else mode
    if padding_idx is not None and padding_idx < 0:
        padding_idx = None     # the ATen op's "no padding" marker
    out = embedding_bag(indices, weight, offsets, None, 2, scale_grad_by_freq, name, sparse, per_sample_weights,
                        include_last_offset, padding_idx)
    idx = indices._data.reshape(-1)
    xp = xp_of(idx)
    if indices._data.ndim == 2:
        n, length = indices._data.shape
        starts = xp.arange(n, dtype=np.int64) * length
    else:
        off = offsets._data.astype(np.int64)
        starts = off[:-1] if include_last_offset else off
    nb = starts.size
    ends = xp.concatenate([starts[1:], xp.asarray([idx.size], dtype=np.int64)]) if nb else starts
    counts = ends - starts
    if name == "sum" and per_sample_weights is None:
        # torch's fast sum path fills none of them
        return out, _wrap(xp.zeros(0, dtype=np.int64)), _wrap(xp.zeros(nb, dtype=np.int64)), \
            _wrap(xp.zeros(nb, dtype=np.int64))
    bag = xp.repeat(xp.arange(nb, dtype=np.int64), counts)
    if name != "max":
        return out, _wrap(bag), _wrap(counts), _wrap(counts.copy())
    w = weight._data
    maxi = xp.zeros((nb, w.shape[1]), dtype=np.int64)
    for b in range(nb):
        rows = idx[int(starts[b]):int(ends[b])]
        if rows.size:
            maxi[b] = rows[xp.argmax(w[rows], axis=0)]
    return out, _wrap(bag), _wrap(counts), _wrap(maxi)


_top_embedding_bag.__name__ = _top_embedding_bag.__qualname__ = "embedding_bag"   # pickles as ember.embedding_bag
__all__ += ["embedding_bag"]
__top_level__ = dict(globals().get("__top_level__", {}), embedding_bag=_top_embedding_bag)


def dropout_(input, p=0.5, train=True):
    """torch.dropout_: dropout in place."""
    return dropout(input, p, train, inplace=True)


def feature_dropout_(input, p=0.5, train=True):
    """torch.feature_dropout_: channel dropout in place (a mask over dims 0 and 1)."""
    return feature_dropout(input, p, train, inplace=True)


def alpha_dropout_(input, p=0.5, train=False):
    """torch.alpha_dropout_: alpha dropout in place."""
    return alpha_dropout(input, p, train, inplace=True)


def feature_alpha_dropout_(input, p=0.5, train=False):
    """torch.feature_alpha_dropout_: channel alpha dropout in place."""
    return feature_alpha_dropout(input, p, train, inplace=True)
