"""torch.memory_format: how a tensor's elements are ordered in memory.

An ember tensor's layout is its array's strides, so channels_last is an NCHW-shaped array whose
memory runs N, H, W, C (a C-contiguous NHWC array transposed back), with the strides torch reports;
NumPy/CuPy kernels accept any strides, so every op works on it, and elementwise results keep it
(NumPy's order='K'), as torch's do.
"""
import functools

import numpy as np

from . import _backend as B


class memory_format:
    """One of contiguous_format, channels_last, channels_last_3d, preserve_format."""

    __slots__ = ("_name",)

    def __init__(self, name):
        self._name = name

    def __repr__(self):
        return f"{B.namespace()}.{self._name}"

    def __reduce__(self):
        return self._name  # pickles as the module-level singleton

    def __hash__(self):
        return hash(self._name)


memory_format.__module__ = "ember"  # torch.memory_format: pickles and prints by its public name
contiguous_format = memory_format("contiguous_format")
channels_last = memory_format("channels_last")
channels_last_3d = memory_format("channels_last_3d")
preserve_format = memory_format("preserve_format")

# the dims from outermost to innermost in memory
_ORDER = {channels_last: (0, 2, 3, 1), channels_last_3d: (0, 2, 3, 4, 1)}
_RANK = {channels_last: 4, channels_last_3d: 5}


def check(fmt, ndim, op="to"):
    """RuntimeError as torch's when fmt needs another rank; TypeError when fmt is not a memory_format."""
    if not isinstance(fmt, memory_format):
        raise TypeError(f"{op}(): argument 'memory_format' must be {B.namespace()}.memory_format, not "
                        f"{type(fmt).__name__}")
    rank = _RANK.get(fmt)  # contiguous_format / preserve_format fit any rank
    if rank is not None and ndim != rank:
        raise RuntimeError(f"required rank {rank} tensor to use {fmt._name} format")


def _strides(a):
    item = a.itemsize
    return tuple(s // item for s in a.strides)


def _dense_in(a, order):
    # torch's is_channels_last_contiguous: size-1 dims may have any stride
    expected = 1
    shape, strides = a.shape, _strides(a)
    for d in reversed(order):
        n = shape[d]
        if n != 1:
            if strides[d] != expected:
                return False
            expected *= n
    return True


def is_format(a, fmt, op="is_contiguous"):
    """True when array a is laid out densely in fmt (contiguous_format: row-major)."""
    if fmt is None or fmt is contiguous_format:
        return bool(a.flags.c_contiguous)
    if fmt is preserve_format:
        return bool(a.flags.c_contiguous)  # torch checks the default layout for preserve_format
    check(fmt, _RANK.get(fmt, a.ndim), op)  # the type only: another rank is just False
    order = _ORDER.get(fmt)
    return order is not None and a.ndim == len(order) and _dense_in(a, order)


def _suggest(a):
    """torch's suggest_memory_format: channels_last(_3d) when a's strides look so, else contiguous."""
    fmt = {4: channels_last, 5: channels_last_3d}.get(a.ndim)
    if fmt is None or a.flags.c_contiguous:
        return contiguous_format
    st = _strides(a)
    order = _ORDER[fmt]
    # channels innermost and the rest ordered outer to inner, ignoring size-1 dims as torch does
    dims = [d for d in order if a.shape[d] != 1]
    if all(st[x] >= st[y] for x, y in zip(dims, dims[1:])) and (a.shape[1] == 1 or st[1] == 1):
        return fmt
    return contiguous_format


def dense_order(a):
    """The dims from outermost to innermost when a is non-overlapping and dense, else None."""
    st = _strides(a)
    order = sorted(range(a.ndim), key=lambda d: (-st[d], -d))
    expected = 1
    for d in reversed(order):
        n = a.shape[d]
        if n != 1:
            if st[d] != expected:
                return None
            expected *= n
    return tuple(order)


def order_for(a, fmt, op="to"):
    """The memory order (outermost dim first) a result like array a takes under fmt; None for row-major."""
    if fmt is None or fmt is preserve_format:
        if a.flags.c_contiguous:
            return None
        order = dense_order(a)   # dense: keep exactly a's layout
        if order is None:
            fmt = _suggest(a)
        elif order == tuple(range(a.ndim)):
            return None
        else:
            return order
    if fmt is contiguous_format:
        return None
    check(fmt, a.ndim, op)
    return _ORDER[fmt]


def order_of(fmt, ndim, op="empty"):
    """The memory order a new tensor of ndim dims takes under fmt (None: row-major)."""
    if fmt is None or fmt is contiguous_format or fmt is preserve_format:
        return None
    check(fmt, ndim, op)
    return _ORDER[fmt]


def make(shape, order, fill):
    """fill(memory_shape) called in memory order and viewed back as shape: elements run in that order."""
    if order is None:
        return fill(tuple(shape))
    arr = fill(tuple(shape[d] for d in order))
    inverse = [0] * len(order)
    for i, d in enumerate(order):
        inverse[d] = i
    return arr.transpose(inverse)


def relayout(a, order):
    """A copy of array a laid out in the given memory order (row-major when None)."""
    if order is None:
        return _row_major_copy(a)
    inverse = [0] * len(order)
    for i, d in enumerate(order):
        inverse[d] = i
    return _row_major_copy(a.transpose(order)).transpose(inverse)


# NumPy copies a transposed view row by row of the result, each row reading one element from as many
# source rows: once those rows no longer stay in cache (rows of 1,024 and more), or when their stride
# is a multiple of 4 KB (so that they compete for the same cache sets), every element costs a cache
# miss.  Tiles of _TILE x _TILE keep both sides in cache: a 2,048 x 2,048 float32 .t().contiguous()
# takes 4.3 ms instead of 32 (torch 4.2), 4,096 x 25,088 290 instead of 975 (torch 295).
_TILE = 128
_TILED_MIN = 1 << 20   # elements: below, NumPy's copy stays in cache


def _row_major_copy(v):
    """A C-contiguous copy of array v; by tiles where v is a large transpose (see _TILE)."""
    xp = B.xp_of(v)
    if v.ndim < 2 or xp is not np or v.size < _TILED_MIN:
        return xp.array(v, copy=True, order="C")
    rows, cols = v.shape[-2:]
    it = v.itemsize
    # v's last two axes swapped against the memory under it: columns run along memory, rows across
    if not (v.strides[-2] == it and v.strides[-1] != it and rows >= _TILE and cols >= _TILE
            and (cols >= 1024 or v.strides[-1] % 4096 == 0)):
        return xp.array(v, copy=True, order="C")
    out = np.empty(v.shape, v.dtype)
    for k in np.ndindex(v.shape[:-2]):
        src, dst = v[k], out[k]
        for i in range(0, rows, _TILE):
            for j in range(0, cols, _TILE):
                dst[i:i + _TILE, j:j + _TILE] = src[i:i + _TILE, j:j + _TILE]
    return out


def in_layout(a, order):
    """a itself when already in that order, else a copy that is."""
    if order is None:
        if a.flags.c_contiguous:
            return a
    elif a.ndim == len(order) and _dense_in(a, order):
        return a
    return relayout(a, order)


def settle(result, x, rule, w=None, grads=True):
    """result (a Tensor or a tuple of them) laid out as torch lays out an op's output for input
    array x (and weight array w): rule "suggest" (convolution, pooling, normalization: channels_last
    when x or w suggests it, else row-major), "preserve" (x's own dense layout, as empty_like) or
    "contiguous" (row-major). With grads, the "suggest" rule also lays out the gradients the result's
    node passes back. Callers skip it when x (and w) are row-major: results are then too."""
    if rule == "contiguous":
        order = None
    elif rule == "preserve":
        order = order_for(x, preserve_format)
    else:
        fmt = _suggest(x)
        if fmt is contiguous_format and w is not None:
            fmt = _suggest(w)
        order = _ORDER.get(fmt)
    outs = result if isinstance(result, tuple) else (result,)
    for t in outs:
        a = t._data
        if order is None:
            if not a.flags.c_contiguous:
                t._data = relayout(a, None)
        elif a.ndim == len(order):
            t._data = in_layout(a, order)
    if grads and rule == "suggest" and order is not None and outs[0].grad_fn is not None:
        _grads_in_layout(outs[0].grad_fn, order)
    return result


_LAYOUT_NODES = {}


def _grads_in_layout(node, order):
    """Make node's gradients of rank len(order) come out in that memory order, as torch's
    convolution and pooling backward kernels give them in the forward's layout: node becomes an
    instance of a subclass (same name and formulas) whose apply relays them."""
    cls = node.__class__
    sub = _LAYOUT_NODES.get((cls, order))
    if sub is None:
        formulas = cls.apply

        def apply(self, grad):
            outs = formulas(self, grad)
            if outs is None:
                return None
            # (arrays only: with create_graph the formulas run on Tensors, whose layout is their own)
            return tuple(in_layout(g, order) if getattr(g, "strides", None) is not None and g.ndim == len(order)
                         else g for g in outs)
        sub = type(cls.__name__, (cls,), {"__slots__": (), "apply": apply, "__module__": cls.__module__,
                                          "__qualname__": cls.__qualname__})
        _LAYOUT_NODES[(cls, order)] = sub
    node.__class__ = sub


def settles(rule, grads=True, weight=False):
    """Decorator: the op's result laid out by settle(rule) for its first argument, a Tensor (and
    with weight, its second: a convolution's weight) (nothing to do for row-major arguments, or for
    an in-place op returning its input)."""
    def wrap(fn):
        @functools.wraps(fn)
        def op(input, *args, **kwargs):
            out = fn(input, *args, **kwargs)
            x = getattr(input, "_data", None)
            w = getattr(args[0] if args else kwargs.get("weight"), "_data", None) if weight else None
            if x is None or out is input or (x.flags.c_contiguous and (w is None or w.flags.c_contiguous)):
                return out
            return settle(out, x, rule, w, grads=grads)
        return op
    return wrap
