"""Views, reshaping, joining, splitting and indexing.

A view shares its numpy memory, its version counter (``_vc``) and its root
``_base`` with the tensor it was made from, as in torch: an in-place change
through either one is seen by both, and by the autograd version check.
"""
import numbers

import numpy as np

from .. import _backend as B
from .. import _memory_format as _mf
from ..autograd.grad_mode import check_inplace as _check_inference, state
from ..autograd.graph import MULTI_OUTPUT_VIEW, NO_GRAD_VIEW, NO_GRAD_VIEW_OF_GRAD_TENSOR, Node, edge
from .._tensor import (Size, Tensor, _dim, _expanded, _wrap, expanded_write_warning, memory_root, refused_write,
                       writable_alias)
from . import barebones as _barebones
from . import unbroadcast
from .convert import CloneBackward0, clone
from .._userwarn import warn as _warn_user
from .._argcheck import REQUIRED, int_sequence, invalid_combination, varargs_or_keyword
from . import record as _finish

__all__ = [
    "reshape", "flatten", "unflatten", "squeeze", "unsqueeze", "transpose",
    "swapaxes", "swapdims", "t", "permute", "movedim", "moveaxis", "cat", "concat",
    "concatenate", "stack", "hstack", "vstack", "split", "chunk", "unbind", "narrow", "select",
    "index_select", "gather", "scatter", "scatter_add", "masked_select", "nonzero", "nonzero_static", "argwhere", "flip",
    "fliplr", "flipud", "roll", "tril", "triu", "diag", "diagonal", "tile", "take",
]

_ndarray = np.ndarray
_generic = np.generic
xp_of = B.xp_of
_new = object.__new__


# ---- helpers ----------------------------------------------------------------------
def _as_view(array, input, node):
    """Wrap array as a view of input: same memory, same version counter, same root base."""
    t = _wrap(array)
    t._vc = input._vc
    _mark_view(t, input)
    if node is not None:
        t._requires_grad = True
        t.grad_fn = node
    return t


def _mark_view(t, input):
    """t's base, the version its grad_fn describes, and its creation meta, as a view of input."""
    base = input._base
    if base is None:
        t._base = input
        meta = None
    else:
        t._base = base
        meta = input._creation_meta   # (a view of a view keeps its restriction)
    vc = input._vc
    # (an inference tensor's views change only in inference mode, where nothing records: no version)
    t._view_vc = vc[0] if vc.__class__ is list else None
    if not state.enabled:
        # as in torch, a view made in no_grad mode of a tensor that requires grad is a leaf that
        # requires grad (it prints so; no gradient reaches it), and such views refuse in-place
        # changes once grad mode is back on
        if input._requires_grad:
            t._requires_grad = True
            meta = NO_GRAD_VIEW_OF_GRAD_TENSOR
        else:
            meta = NO_GRAD_VIEW
    t._creation_meta = meta


def check_view_inplace(t, indirect=False):
    """Refuse, as torch does, an in-place change with grad mode on of a view that can't be rebased:
    one of several views returned by one function, or a view made in no_grad mode; and (not
    indirect) a view of a leaf that requires grad, which torch refuses as it refuses the leaf."""
    base = t._base
    meta = t._creation_meta if base is not None else None
    if meta is None:
        if not indirect and base is not None and t._requires_grad and base._requires_grad and base.grad_fn is None:
            raise _leaf_error(True)
        return
    fn = t.grad_fn
    what = "its base or another view of its base has been" if indirect else "is being"
    if meta is not MULTI_OUTPUT_VIEW or fn is None:
        prefix = (f"Output {_output_nr(t, fn)} of {_forward_name(fn)} is a view of a view which was created in"
                  if fn is not None else "A view was created in")
        msg = f"{prefix} no_grad mode and {what} modified inplace with grad mode enabled."
    else:
        msg = f"Output {_output_nr(t, fn)} of {_forward_name(fn)} is a view and {what} modified inplace."
    if meta is MULTI_OUTPUT_VIEW:
        msg += (" This view is the output of a function that returns multiple views. Such functions do not "
                "allow the output views to be modified inplace. You should replace the inplace operation by "
                "an out-of-place one.")
    else:
        msg += (" Given that this use case is ambiguous and error-prone, it is forbidden. You can clarify your "
                "code by moving both the view and the inplace either both inside the no_grad block (if you "
                "don't want the inplace to be tracked) or both outside (if you want the inplace to be "
                "tracked).")
    raise RuntimeError(msg)


def _output_nr(t, fn):
    return 0 if fn._n_outputs == 1 else fn._output_nrs.get(id(t), 0)


def _forward_name(fn):
    """The forward op of a node, as torch's messages name it (SplitBackward0: Split)."""
    name = fn.name()
    cut = name.rfind("Backward")
    return name[:cut] if cut > 0 else name


def _node(cls, input):
    node = _new(cls)
    node.next_functions = (edge(input),)
    node._saved_versions = ()
    return node


def _work_shape(shape, axis, n):
    """shape with its size along axis replaced by n (a source's shape in index_add/index_copy)."""
    return shape[:axis] + (n,) + shape[axis + 1:]


def _zeros(shape, like):
    # in like's array module (numpy, cupy or the double-backward shim), always C order: the
    # gradients written into it go through .reshape(-1), which must be a view
    xp = xp_of(like)
    return xp.zeros(shape, dtype=like.dtype)


def _sizes(args, name="size"):
    """Sizes given as ints, one tuple/list/Size, or 0-d integer tensors."""
    if len(args) == 1:
        s = args[0]
        if type(s) is not int:
            if isinstance(s, (tuple, list)):
                args = s
            else:
                args = (s,)
    out = []
    for i, s in enumerate(args):
        if type(s) is int:
            out.append(s)
        elif isinstance(s, numbers.Integral) and not isinstance(s, bool):
            out.append(int(s))
        elif isinstance(s, Tensor) and s._data.ndim == 0 and s._data.dtype.kind in "iu":
            out.append(int(s._data))
        else:
            raise TypeError(f"{name}(): argument 'size' must be tuple of ints, but found element of "
                            f"type {type(s).__name__} at pos {i}")
    return tuple(out)


def _dims_arg(args):
    if len(args) == 1 and isinstance(args[0], (tuple, list)):
        return tuple(args[0])
    return args


def _infer_shape(shape, numel):
    """Resolve one -1 in shape, with torch's errors for impossible shapes."""
    shape = list(shape)
    infer = None
    known = 1
    for i, s in enumerate(shape):
        if s == -1:
            if infer is not None:
                raise RuntimeError("only one dimension can be inferred")
            infer = i
        elif s >= 0:
            known *= s
        else:
            raise RuntimeError(f"invalid shape dimension {s}")
    if infer is None:
        if known == numel:
            return tuple(shape)
    elif known > 0 and numel % known == 0:
        shape[infer] = numel // known
        return tuple(shape)
    elif known == 0 and numel == 0:
        raise RuntimeError(
            f"cannot reshape tensor of 0 elements into shape {shape} because the unspecified "
            "dimension size -1 can be any value and is ambiguous")
    raise RuntimeError(f"shape '{shape}' is invalid for input of size {numel}")


_VIEW_ERR = ("view size is not compatible with input tensor's size and stride (at least one dimension "
             "spans across two contiguous subspaces). Use .reshape(...) instead.")


_RESHAPE_COPY_KW = np.lib.NumpyVersion(np.__version__) >= "2.1.0"


def _nocopy_reshape(a, shape):
    """a reshaped without copying, or ValueError when its strides don't allow it."""
    if _RESHAPE_COPY_KW and type(a) is _ndarray:
        return a.reshape(shape, copy=False)
    v = a.view()
    try:
        v.shape = shape  # older numpy and cupy: raises when a copy would be needed
    except AttributeError as e:
        raise ValueError(str(e)) from None
    return v


# ---- view / reshape -------------------------------------------------------------------
class ViewBackward0(Node):
    __slots__ = ("shape",)
    # its formula also runs on Tensors (create_graph=True: autograd/higher_order.py)
    _double_backward = True

    def apply(self, g):
        return (g.reshape(self.shape),)


class UnsafeViewBackward0(ViewBackward0):
    __slots__ = ()


def _view_dtype(input, dtype):
    dt = B.as_dtype(dtype)
    a = input._data
    if dt.itemsize != a.itemsize and a.ndim and a.strides[-1] != a.itemsize:
        raise RuntimeError(
            "self.stride(-1) must be 1 to view " + str(input.dtype) + " as " + str(dt) +
            " (different element sizes), call .contiguous() first")
    try:
        out = a.view(dt.np)
    except ValueError as e:
        raise RuntimeError(f"view(): can't view a {input.dtype} tensor of shape {list(a.shape)} as "
                           f"{dt}: {e}") from None
    # as torch's: the same memory and version counter, but no autograd view (it never requires grad)
    t = _wrap(out)
    t._vc = input._vc
    return t


_VIEW_FORMS = ("torch.dtype dtype", "tuple of ints size")


def _view_keywords(input, shape, size, dtype):
    """x.view(size=...) or x.view(dtype=...), torch's keyword forms of view."""
    one = (size is None) != (dtype is None) and (
        isinstance(size, (tuple, list)) if dtype is None else isinstance(dtype, B.dtype) or type(dtype) is type)
    if shape or not one:
        given = {k: v for k, v in (("dtype", dtype), ("size", size)) if v is not None}
        raise invalid_combination("view", shape, given, _VIEW_FORMS)
    return view(input, dtype if size is None else _sizes((size,), "view"))


def view(input, *shape, size=None, dtype=None):
    """A tensor with the same data and a new shape; never copies (see reshape)."""
    if size is not dtype:   # a keyword form (else both are None): one test on the positional path
        return _view_keywords(input, shape, size, dtype)
    if len(shape) < 2:
        try:
            s = shape[0]
        except IndexError:   # (x.view(): no size)
            raise invalid_combination("view", (), {}, _VIEW_FORMS) from None
        if type(s) is not int:
            if type(s) is Size or type(s) is tuple:
                shape = s
            elif isinstance(s, B.dtype) or type(s) is type:   # (torch takes x.view(float) as float64)
                return _view_dtype(input, s)
            else:
                shape = _sizes(shape, "view")
    a = input._data
    try:
        out = a.reshape(shape) if a.flags.c_contiguous else _nocopy_reshape(a, shape)
    except ValueError:
        _infer_shape(_sizes(shape, "view"), a.size)  # torch reports a bad shape before a bad layout
        raise RuntimeError(_VIEW_ERR) from None
    except TypeError:
        _sizes(shape, "view")
        raise
    node = None
    if state.enabled and input._requires_grad:
        node = _new(ViewBackward0)
        node.next_functions = (edge(input),)
        node._saved_versions = ()
        node.shape = a.shape
    t = _wrap(out)
    t._vc = input._vc
    _mark_view(t, input)
    if node is not None:
        t._requires_grad = True
        t.grad_fn = node
    return t


def view_as(input, other):
    """input viewed with other's shape."""
    return view(input, other._data.shape)


def reshape(input, *sizes, shape=None):
    """input with a new shape: a view when the layout allows, else a copy."""
    if shape is not None:
        sizes = varargs_or_keyword(sizes, shape, "reshape", "shape")
    shape = sizes
    if len(shape) < 2:
        try:
            s = shape[0]
        except IndexError:   # (x.reshape(): no shape)
            varargs_or_keyword(shape, None, "reshape", "shape")
        if type(s) is not int:
            shape = s if type(s) is tuple or type(s) is Size else _sizes(shape, "reshape")
    a = input._data
    if a.flags.c_contiguous:
        return view(input, shape)
    try:
        _nocopy_reshape(a, shape)
    except Exception:
        pass
    else:
        return view(input, shape)
    size = _infer_shape(_sizes(shape, "reshape"), a.size)
    out = _mf.relayout(a, None).reshape(size)   # (a transposed source copies by tiles: _mf._row_major_copy)
    node = None
    if state.enabled and input._requires_grad:
        copied = _node(CloneBackward0, input)
        node = _new(UnsafeViewBackward0)
        node.next_functions = ((copied, 0),)
        node._saved_versions = ()
        node.shape = a.shape
    return _finish(out, node)


def reshape_as(input, other):
    """input reshaped to other's shape."""
    return reshape(input, other._data.shape)


def flatten(input, start_dim=0, end_dim=-1):
    """Merge dims start_dim..end_dim into one (a view when possible)."""
    a = input._data
    nd = a.ndim
    if nd == 0:
        return reshape(input, (1,))
    s = _dim(start_dim, nd)
    e = _dim(end_dim, nd)
    if s > e:
        raise RuntimeError("flatten() has invalid args: start_dim cannot come after end_dim")
    if s == e:
        return input
    shape = a.shape
    n = 1
    for k in shape[s:e + 1]:
        n *= k
    return reshape(input, shape[:s] + (n,) + shape[e + 1:])


def unflatten(input, dim, sizes):
    """Split dim into the given sizes (one may be -1)."""
    a = input._data
    d = _dim(dim, a.ndim)
    sizes = _sizes((sizes,), "unflatten")
    if len(sizes) == 0:
        raise RuntimeError("unflatten: sizes must be non-empty")
    try:
        new = _infer_shape(sizes, a.shape[d])
    except RuntimeError:
        if sizes.count(-1) > 1:
            raise RuntimeError("unflatten: only one dimension can be inferred") from None
        raise RuntimeError(
            f"unflatten: Provided sizes {list(sizes)} don't multiply up to the size of dim {dim} "
            f"({a.shape[d]}) in the input tensor") from None
    return view(input, a.shape[:d] + new + a.shape[d + 1:])


# ---- dims: squeeze / unsqueeze / transpose / permute ---------------------------------------
class SqueezeBackward0(ViewBackward0):
    __slots__ = ()


class SqueezeBackward1(ViewBackward0):
    __slots__ = ()


class SqueezeBackward2(ViewBackward0):
    __slots__ = ()


class UnsqueezeBackward0(ViewBackward0):
    __slots__ = ()


_EVERY_DIM = object()   # squeeze's default: dim=None itself is no dim (torch's TypeError)


def squeeze(input, dim=_EVERY_DIM):
    """Remove size-1 dims (all, one, or a tuple of them)."""
    a = input._data
    nd = a.ndim
    if dim is _EVERY_DIM:
        axes = tuple(i for i, s in enumerate(a.shape) if s == 1)
        cls = SqueezeBackward0
    elif isinstance(dim, (tuple, list)):
        axes = tuple(i for i in (_dim(d, nd) for d in dim) if nd and a.shape[i] == 1)
        cls = SqueezeBackward2
    elif dim is None:
        raise TypeError("squeeze() received an invalid combination of arguments - got dim=None: dim is an int or "
                        "a tuple of ints; call squeeze() with no dim to remove every size-1 dim")
    else:
        d = _dim(dim, nd)
        axes = (d,) if nd and a.shape[d] == 1 else ()
        cls = SqueezeBackward1
    out = a.squeeze(axis=axes) if nd else a.view()
    node = None
    if state.enabled and input._requires_grad:
        node = _node(cls, input)
        node.shape = a.shape
    return _as_view(out, input, node)


def unsqueeze(input, dim):
    """Insert a size-1 dim at position dim."""
    a = input._data
    d = _dim(dim, a.ndim + 1)
    # (a reshape, not a[..., None]: NumPy then gives the new dim torch's stride, the next dim's extent,
    # where indexing gives 0; ones(2, 3).unsqueeze(1).stride() is (3, 3, 1))
    out = a.reshape(a.shape[:d] + (1,) + a.shape[d:])
    node = None
    if state.enabled and input._requires_grad:
        node = _node(UnsqueezeBackward0, input)
        node.shape = a.shape
    return _as_view(out, input, node)


class TransposeBackward0(Node):
    __slots__ = ("d0", "d1")
    # its formula also runs on Tensors (create_graph=True: autograd/higher_order.py)
    _double_backward = True

    def apply(self, g):
        return (g.swapaxes(self.d0, self.d1) if g.ndim else g,)


def transpose(input, dim0, dim1):
    """Swap two dims (a view)."""
    a = input._data
    nd = a.ndim
    d0, d1 = _dim(dim0, nd), _dim(dim1, nd)
    out = a.swapaxes(d0, d1) if nd else a.view()
    node = None
    if state.enabled and input._requires_grad:
        node = _node(TransposeBackward0, input)
        node.d0, node.d1 = d0, d1
    return _as_view(out, input, node)


def swapaxes(input, axis0, axis1):
    """transpose, under NumPy's name and argument names."""
    return transpose(input, axis0, axis1)


def swapdims(input, dim0, dim1):
    """transpose under another name."""
    return transpose(input, dim0, dim1)


class TBackward0(Node):
    __slots__ = ()
    # its formula also runs on Tensors (create_graph=True: autograd/higher_order.py)
    _double_backward = True

    def apply(self, g):
        return (g.T,)


def t(input):
    """Transpose a tensor of at most 2 dims."""
    a = input._data
    if a.ndim > 2:
        raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is {a.ndim}D")
    node = None
    if state.enabled and input._requires_grad:
        node = _node(TBackward0, input)
    return _as_view(a.T, input, node)


class PermuteBackward0(Node):
    __slots__ = ("inverse",)
    # its formula also runs on Tensors (create_graph=True: autograd/higher_order.py)
    _double_backward = True

    def apply(self, g):
        return (g.transpose(self.inverse),)


def _check_dim_list(dims, op, name):
    """torch's TypeError for a dims list with an element that is no int (the form x.permute((2, 0), 1),
    which torch's parser refuses before looking at the tensor)."""
    for i, d in enumerate(dims):
        if type(d) is bool or not hasattr(d, "__index__"):
            raise TypeError(f"{op}(): argument '{name}' must be tuple of ints, but found element of type "
                            f"{type(d).__name__} at pos {i} (give the dims one by one or as one tuple)")


def permute(input, *args, dims=None):
    """Reorder the dims (a view)."""
    if dims is not None or not args:
        args = varargs_or_keyword(args, dims, "permute", "dims")
    dims = _dims_arg(args)
    a = input._data
    nd = a.ndim
    if len(dims) != nd:
        _check_dim_list(dims, "permute", "dims")
        raise RuntimeError(
            "permute(): number of dimensions in the tensor input does not match the length of the "
            f"desired ordering of dimensions i.e. input.dim() = {nd} is not equal to len(dims) = {len(dims)}")
    perm = tuple(_dim(d, nd) for d in dims)
    if len(set(perm)) != nd:
        raise RuntimeError("permute(): duplicate dims are not allowed.")
    return _permuted(input, perm)


def _permuted(input, perm):
    """input's view with its dims in the order perm, a permutation of them (permute's checks done)."""
    node = None
    if state.enabled and input._requires_grad:
        node = _node(PermuteBackward0, input)
        inv = [0] * len(perm)
        for i, p in enumerate(perm):
            inv[p] = i
        node.inverse = tuple(inv)
    return _as_view(input._data.transpose(perm), input, node)


_T_WARNED = set()   # torch gives each of Tensor.T's deprecation warnings once per process (TORCH_WARN_ONCE)


def _reversed_dims(self):
    """Tensor.T: the dims reversed (a view, as permute); torch warns where that is not a matrix's
    transpose."""
    nd = self._data.ndim
    if nd == 2:
        return _permuted(self, (1, 0))
    if nd == 0:
        message = "Tensor.T is deprecated on 0-D tensors. This function is the identity in these cases."
    else:
        message = ("The use of `x.T` on tensors of dimension other than 2 to reverse their shape is deprecated "
                   "and it will throw an error in a future release. Consider `x.mT` to transpose batches of "
                   f"matrices or `x.permute(*{B.namespace()}.arange(x.ndim - 1, -1, -1))` to reverse the "
                   "dimensions of a tensor.")
    if (nd == 0) not in _T_WARNED:
        _T_WARNED.add(nd == 0)
        _warn_user(message)
    return _permuted(self, tuple(range(nd - 1, -1, -1)))


def movedim(input, source, destination):
    """Move dims from source positions to destination positions (a view)."""
    nd = input._data.ndim
    src = (source,) if isinstance(source, int) else tuple(source)
    dst = (destination,) if isinstance(destination, int) else tuple(destination)
    if len(src) != len(dst):
        raise RuntimeError(
            f"movedim: Invalid source or destination dims: source ({list(src)} dims) should contain "
            f"the same number of dims as destination ({list(dst)} dims)")
    src = tuple(_dim(d, nd) for d in src)
    dst = tuple(_dim(d, nd) for d in dst)
    if len(set(src)) != len(src):
        raise RuntimeError(f"movedim: repeated dim in `source` ({list(src)})")
    if len(set(dst)) != len(dst):
        raise RuntimeError(f"movedim: repeated dim in `destination` ({list(dst)})")
    order = [d for d in range(nd) if d not in src]
    for dest, s in sorted(zip(dst, src)):
        order.insert(dest, s)
    return permute(input, order)


moveaxis = movedim


def contiguous(input, memory_format=None):
    """input itself when laid out densely (row-major, or in memory_format's order), else a dense copy."""
    if memory_format is None:
        if input._data.flags.c_contiguous:
            return input
        return clone(input, memory_format=_mf.contiguous_format)
    if _mf.is_format(input._data, memory_format, "contiguous"):
        return input
    if memory_format is _mf.preserve_format:
        raise RuntimeError("preserve memory format is unsupported by the contiguous operator")
    _mf.check(memory_format, input._data.ndim, "contiguous")
    return clone(input, memory_format=memory_format)


# ---- expand / repeat ---------------------------------------------------------------------------
class ExpandBackward0(Node):
    __slots__ = ("shape",)
    # its formula also runs on Tensors (create_graph=True: autograd/higher_order.py)
    _double_backward = True

    def apply(self, g):
        return (unbroadcast(g, self.shape),)


def _check_expands(value, shape):
    """Raise torch's expand error unless value, without its leading size-1 dims (torch's setitem drops
    them), broadcasts to shape (as copy_ needs)."""
    vshape = value._data.shape
    if vshape != tuple(shape):
        lead = 0
        while lead < len(vshape) and vshape[lead] == 1:
            lead += 1
        _expand_shape(_wrap(value._data.reshape(vshape[lead:])), tuple(shape))


def _expand_shape(input, sizes):
    a = input._data
    shape = a.shape
    nd = a.ndim
    if len(sizes) < nd:
        raise RuntimeError(
            f"expand({input.type()}{{{list(shape)}}}, size={list(sizes)}): the number of sizes "
            f"provided ({len(sizes)}) must be greater or equal to the number of dimensions in the "
            f"tensor ({nd})")
    lead = len(sizes) - nd
    target = list(sizes)
    for i in reversed(range(len(sizes))):   # (torch checks from the last dimension)
        s = sizes[i]
        if i < lead:
            if s < 0:
                raise RuntimeError(
                    f"The expanded size of the tensor ({s}) isn't allowed in a leading, non-existing "
                    f"dimension {i}")
            continue
        have = shape[i - lead]
        if s == -1:
            target[i] = have
        elif have != s and have != 1:
            raise RuntimeError(
                f"The expanded size of the tensor ({s}) must match the existing size ({have}) at "
                f"non-singleton dimension {i}.  Target sizes: {list(sizes)}.  Tensor sizes: {list(shape)}")
    return tuple(target)


def _broadcast_view(a, target, lead):
    """np.broadcast_to(a, target) for a contiguous array, built on its buffer (0.9 us against 1.8);
    ValueError if a is not contiguous."""
    strides = [0] * len(target)
    for i, (n, st) in enumerate(zip(a.shape, a.strides), lead):
        if n != 1 or target[i] == 1:
            strides[i] = st
    out = np.ndarray(target, a.dtype, a, 0, strides)
    out.setflags(write=False)   # as broadcast_to's: its elements share memory
    return out


def expand(input, *sizes, size=None, implicit=False):
    """A view with size-1 dims repeated (no copy); -1 keeps a dim.  (implicit only marks, for torch's tracer, an
    expand that broadcasting would do: the view is the same.)"""
    if size is not None or not sizes:
        sizes = varargs_or_keyword(sizes, size, "expand", "size")
    xp = xp_of(input._data)
    sizes = _sizes(sizes, "expand")
    target = _expand_shape(input, sizes)
    a = input._data
    lead = len(target) - a.ndim
    if target[lead:] == a.shape and target[:lead].count(1) == lead:
        out = a.reshape(target)   # nothing repeated: an ordinary view, writable as torch's is
    else:
        out = None
        if type(a) is np.ndarray and a.size:
            try:
                out = _broadcast_view(a, target, lead)
            except ValueError:   # (not contiguous: no buffer to build on)
                pass
        if out is None:
            out = xp.broadcast_to(a, target)
    node = None
    if state.enabled and input._requires_grad:
        node = _node(ExpandBackward0, input)
        node.shape = input._data.shape
    return _as_view(out, input, node)


def expand_as(input, other):
    """input expanded to other's shape."""
    return expand(input, other._data.shape)


class RepeatBackward0(Node):
    __slots__ = ("shape", "reps")
    # its formula also runs on Tensors (create_graph=True: autograd/higher_order.py)
    _double_backward = True

    def apply(self, g):
        reps = self.reps
        padded = (1,) * (len(reps) - len(self.shape)) + tuple(self.shape)
        inter = []
        for r, s in zip(reps, padded):
            inter += [r, s]
        axes = tuple(range(0, 2 * len(reps), 2))
        if g.dtype.kind == "V":   # bfloat16: added in float32 and rounded once, as torch's sum
            return (B.bf16_round(g.reshape(inter).sum(axis=axes, dtype=np.float32)).reshape(self.shape),)
        g = g.reshape(inter).sum(axis=axes)
        return (g.reshape(self.shape),)


def repeat(input, *sizes, repeats=None):
    """Tile the data sizes[i] times along each dim (a copy)."""
    if repeats is not None or not sizes:
        sizes = varargs_or_keyword(sizes, repeats, "repeat", "repeats")
    xp = xp_of(input._data)
    reps = _sizes(sizes, "repeat")
    a = input._data
    if len(reps) < a.ndim:
        raise RuntimeError("Number of dimensions of repeat dims can not be smaller than number of "
                           "dimensions of tensor")
    out = xp.tile(a, reps)
    if out.ndim < len(reps):
        out = out.reshape((1,) * (len(reps) - out.ndim) + out.shape)
    node = None
    if state.enabled and input._requires_grad:
        node = _node(RepeatBackward0, input)
        node.shape, node.reps = a.shape, reps
    return _finish(out, node)


def tile(input, *args, dims=None):
    """repeat, with missing leading repetition counts taken as 1."""
    dims = _sizes(varargs_or_keyword(args, dims, "tile", "dims"), "tile")
    nd = input._data.ndim
    if len(dims) < nd:
        dims = (1,) * (nd - len(dims)) + dims
    return repeat(input, dims)


# ---- joining ---------------------------------------------------------------------------------------
def _common_dtype(tensors):
    dt = tensors[0]._data.dtype
    for x in tensors:
        if x._data.dtype != dt:
            d = B.FROM_NUMPY[dt]
            for y in tensors:
                d = B.promote_types(d, B.FROM_NUMPY[y._data.dtype])
            return d.np
    return dt


class CatBackward0(Node):
    __slots__ = ("axis", "sizes", "dtypes", "shapes")
    # its formula also runs on Tensors (create_graph=True: autograd/higher_order.py)
    _double_backward = True

    def apply(self, g):
        xp = xp_of(g)
        ax = self.axis
        out = []
        pos = 0
        key = [slice(None)] * g.ndim
        for (child, _), n, dt, shp in zip(self.next_functions, self.sizes, self.dtypes, self.shapes):
            if n is None:  # skipped legacy empty tensor
                out.append(None if child is None else xp.zeros_like(g, shape=shp, dtype=dt))
                continue
            if child is None:
                out.append(None)
            else:
                key[ax] = slice(pos, pos + n)
                piece = g[tuple(key)]
                out.append(piece if piece.dtype == dt else piece.astype(dt))
            pos += n
        return tuple(out)


def _cat_same_kind(tensors, dim):
    """cat of arrays of one class, dtype and rank (the common case), or None for the general path,
    which also explains every error: NumPy's own checks stand in for the Python loops over sizes."""
    arrays = [x._data for x in tensors]
    ref = arrays[0]
    nd, dt, kind = ref.ndim, ref.dtype, ref.__class__
    if not nd:
        return None
    for a in arrays:
        if a.__class__ is not kind or a.dtype != dt or a.ndim != nd:
            return None
    ax = dim + nd if -nd <= dim < 0 else dim
    if type(ax) is not int or not 0 <= ax < nd:
        return None
    try:
        res = xp_of(ref).concatenate(arrays, axis=ax)
    except ValueError:
        return None
    return _cat_result(res, tensors, ax, None)


def _cat_result(res, tensors, ax, used_ids):
    """res as cat's output, with its node when autograd records (used_ids: the tensors joined, when
    cat skipped legacy empty ones; None: all)."""
    if not state.enabled:
        return _finish(res, None)
    for x in tensors:
        if x._requires_grad:
            break
    else:
        return _finish(res, None)
    edges, sizes, dtypes, shapes = [], [], [], []   # (one loop: four generator passes cost ~1 us more)
    for x in tensors:
        d = x._data
        shape = d.shape
        edges.append(edge(x))
        sizes.append(shape[ax] if used_ids is None or id(x) in used_ids else None)
        dtypes.append(d.dtype)
        shapes.append(shape)
    node = _new(CatBackward0)
    node.next_functions = tuple(edges)
    node._saved_versions = ()
    node.axis = ax
    node.sizes, node.dtypes, node.shapes = tuple(sizes), tuple(dtypes), tuple(shapes)
    return _finish(res, node)


def _check_list(tensors, name):
    if isinstance(tensors, Tensor):
        raise TypeError(f"{name}(): argument 'tensors' must be tuple of Tensors, not Tensor")
    tensors = list(tensors)
    if not tensors:
        if name == "cat":
            raise ValueError(f"{B.namespace()}.cat(): expected a non-empty list of Tensors")
        raise RuntimeError(f"{name} expects a non-empty TensorList")
    for i, x in enumerate(tensors):
        if not isinstance(x, Tensor):
            raise TypeError(f"expected Tensor as element {i} in argument 0, but got {type(x).__name__}")
    return tensors


def cat(tensors, dim=0, *, out=None):
    """Concatenate tensors along an existing dim."""
    tensors = _check_list(tensors, "cat")
    if out is None:
        res = _cat_same_kind(tensors, dim)
        if res is not None:
            return res
    # torch still skips legacy empty 1-d tensors (shape [0]) among higher-dim ones
    used = [x for x in tensors if not (x._data.ndim == 1 and x._data.shape[0] == 0)] or tensors[:1]
    ref = used[0]._data
    for i, x in enumerate(tensors):
        if x._data.ndim == 0:
            raise RuntimeError(f"zero-dimensional tensor (at position {i}) cannot be concatenated")
        if type(x._data) is not type(ref):
            B.check_same_device("cat", ref, x._data)
    nd = ref.ndim
    ax = _dim(dim, nd)
    shape = ref.shape
    ids = {id(u) for u in used}
    for i, x in enumerate(tensors):
        s = x._data.shape
        if id(x) not in ids:
            continue
        if len(s) != nd:
            raise RuntimeError(f"Tensors must have same number of dimensions: got {nd} and {len(s)}")
        for k in range(nd):
            if k != ax and s[k] != shape[k]:
                raise RuntimeError(
                    f"Sizes of tensors must match except in dimension {ax}. Expected size {shape[k]} "
                    f"but got size {s[k]} for tensor number {i} in the list.")
    dt = _common_dtype(tensors)
    arrays = [x._data if x._data.dtype == dt else x._data.astype(dt) for x in used]
    res = xp_of(ref).concatenate(arrays, axis=ax)
    if out is not None:
        from .elementwise import _write_out
        return _write_out(out, res, "cat", *tensors)
    return _cat_result(res, tensors, ax, ids)


concat = concatenate = cat


class StackBackward0(Node):
    __slots__ = ("axis", "dtypes")
    # its formula also runs on Tensors (create_graph=True: autograd/higher_order.py)
    _double_backward = True

    def apply(self, g):
        ax = self.axis
        key = [slice(None)] * g.ndim
        out = []
        for i, ((child, _), dt) in enumerate(zip(self.next_functions, self.dtypes)):
            if child is None:
                out.append(None)
                continue
            key[ax] = i
            piece = g[tuple(key)]
            out.append(piece if piece.dtype == dt else piece.astype(dt))
        return tuple(out)


def stack(tensors, dim=0, *, out=None):
    """Join same-shaped tensors along a new dim."""
    tensors = _check_list(tensors, "stack")
    arrays = [x._data for x in tensors]
    ref = arrays[0]
    shape, dt = ref.shape, ref.dtype
    for a in arrays:   # (the common case, one class, dtype and shape: no further checks)
        if a.__class__ is not ref.__class__ or a.dtype is not dt or a.shape != shape:
            for i, a in enumerate(arrays):
                if type(a) is not type(ref):
                    B.check_same_device("stack", ref, a)
                if a.shape != shape:
                    raise RuntimeError(
                        f"stack expects each tensor to be equal size, but got {list(shape)} at entry 0 and "
                        f"{list(a.shape)} at entry {i}")
            dt = _common_dtype(tensors)
            break
    ax = _dim(dim, len(shape) + 1)
    xp = xp_of(ref)
    if ax == 0 and len(arrays) > 64 and xp is np:
        # many tensors along a new first dim: one array over the list (10,000 of 16 elements: 2.7 ->
        # 1.0 ms for this part)
        res = xp.array(arrays, dtype=dt)
    else:
        # each array reshaped with the new axis, then one concatenate (np.stack's Python body costs ~1.5 us more)
        new_shape = shape[:ax] + (1,) + shape[ax:]
        res = xp.concatenate(
            [(a if a.dtype == dt else a.astype(dt)).reshape(new_shape) for a in arrays], axis=ax)
    if out is not None:
        from .elementwise import _write_out
        return _write_out(out, res, "stack", *tensors)
    node = None
    if state.enabled and any(x._requires_grad for x in tensors):
        node = _new(StackBackward0)
        node.next_functions = tuple(edge(x) for x in tensors)
        node._saved_versions = ()
        node.axis = ax
        node.dtypes = tuple(x._data.dtype for x in tensors)
    return _finish(res, node)


def hstack(tensors):
    """Concatenate along dim 1 (dim 0 for 1-d tensors)."""
    tensors = _check_list(tensors, "hstack")
    tensors = [x if x._data.ndim else reshape(x, (1,)) for x in tensors]
    return cat(tensors, 0 if tensors[0]._data.ndim == 1 else 1)


def vstack(tensors):
    """Concatenate along dim 0, treating 1-d tensors as rows."""
    tensors = _check_list(tensors, "vstack")
    return cat([x if x._data.ndim >= 2 else reshape(x, (1, -1)) for x in tensors], 0)


# ---- splitting ----------------------------------------------------------------------------------------
class _MultiOutputBackward(Node):
    """A node with one output per piece (split / chunk / unbind); grads come as a list."""
    __slots__ = ("_n_outputs", "_output_nrs", "axis", "shapes")
    # its formula also runs on Tensors (create_graph=True: autograd/higher_order.py)
    _double_backward = True

    def _grads(self, grads):
        if type(grads) is not list:
            grads = [grads]
        like = next(g for g in grads if g is not None)
        xp = xp_of(like)
        return [g if g is not None else xp.zeros_like(like, shape=s) for g, s in zip(grads, self.shapes)]


class SplitBackward0(_MultiOutputBackward):
    __slots__ = ()

    def apply(self, grads):
        grads = self._grads(grads)
        return (xp_of(grads[0]).concatenate(grads, axis=self.axis),)


class SplitWithSizesBackward0(SplitBackward0):
    __slots__ = ()


class UnsafeSplitBackward0(SplitBackward0):
    __slots__ = ()


class UnsafeSplitWithSizesBackward0(SplitBackward0):
    __slots__ = ()


class UnbindBackward0(_MultiOutputBackward):
    __slots__ = ()

    def apply(self, grads):
        grads = self._grads(grads)
        return (xp_of(grads[0]).stack(grads, axis=self.axis),)


def _pieces(input, arrays, cls, axis):
    node = None
    if state.enabled and input._requires_grad:
        node = _node(cls, input)
        node._n_outputs = len(arrays)
        node._output_nrs = {}
        node.axis = axis
        node.shapes = tuple(p.shape for p in arrays)
    out = []
    for i, p in enumerate(arrays):
        piece = _as_view(p, input, node)
        if node is not None:
            node._output_nrs[id(piece)] = i
        if state.enabled:
            piece._creation_meta = MULTI_OUTPUT_VIEW
        out.append(piece)
    return tuple(out)


def split(tensor, split_size_or_sections, dim=0):
    """Views of consecutive pieces along dim: equal sizes (the last may be smaller) or given sizes."""
    a = tensor._data
    ax = _dim(dim, a.ndim)
    n = a.shape[ax]
    key = [slice(None)] * a.ndim
    if isinstance(split_size_or_sections, (list, tuple)):
        sizes = [int(s) for s in split_size_or_sections]
        if _int_sum(sizes) != n or any(s < 0 for s in sizes):
            raise RuntimeError(
                f"split_with_sizes expects split_sizes to sum exactly to {n} (input tensor's size at "
                f"dimension {ax}), but got split_sizes={sizes}")
        cls = SplitWithSizesBackward0
    else:
        size = int(split_size_or_sections)
        if size < 0:
            raise RuntimeError(f"split expects split_size be non-negative, but got split_size={size}")
        if size == 0:
            if n != 0:
                raise RuntimeError(
                    f"split_size can only be 0 if dimension size is 0, but got dimension size of {n}")
            sizes = [0]
        else:
            sizes = [size] * (n // size) + ([n % size] if n % size else [])
            if not sizes:
                sizes = [0]
        cls = SplitBackward0
    arrays = []
    pos = 0
    for s in sizes:
        key[ax] = slice(pos, pos + s)
        arrays.append(a[tuple(key)])
        pos += s
    return _pieces(tensor, arrays, cls, ax)


def _int_sum(values):
    total = 0
    for v in values:
        total += v
    return total


def chunk(input, chunks, dim=0):
    """Split into at most `chunks` views of (nearly) equal size along dim."""
    if chunks <= 0:
        raise RuntimeError(f"chunk expects `chunks` to be greater than 0, got: {chunks}")
    a = input._data
    ax = _dim(dim, a.ndim)
    n = a.shape[ax]
    size = -(-n // chunks)
    if size == 0:
        return split(input, [0] * chunks if n == 0 else [n], ax)
    return split(input, size, ax)


def unbind(input, dim=0):
    """The slices along dim, as a tuple of views."""
    a = input._data
    if a.ndim == 0:
        raise RuntimeError("Dimension specified as 0 but tensor has no dimensions")
    ax = _dim(dim, a.ndim)
    key = [slice(None)] * a.ndim
    arrays = []
    for i in range(a.shape[ax]):
        key[ax] = i
        arrays.append(a[tuple(key)])
    return _pieces(input, arrays, UnbindBackward0, ax)


# ---- basic indexing: narrow / select / __getitem__ ------------------------------------------------------
class SliceBackward0(Node):
    """Gradient of a basic-index view: zeros with g written into the viewed region."""
    __slots__ = ("shape", "key")
    # its formula also runs on Tensors (create_graph=True: autograd/higher_order.py)
    _double_backward = True

    def apply(self, g):
        z = _zeros(self.shape, g)
        z[self.key] = g
        return (z,)


class SelectBackward0(SliceBackward0):
    __slots__ = ()


class _UnsqueezeOfPartBackward0(SliceBackward0):
    """A basic index that selects or slices and then adds dims: the scatter of SliceBackward0
    under the name of torch's last op."""
    __slots__ = ()


_UnsqueezeOfPartBackward0.__name__ = _UnsqueezeOfPartBackward0.__qualname__ = "UnsqueezeBackward0"
_ALL, _ALL1 = slice(None), slice(None, None, 1)


class AliasBackward0(ViewBackward0):
    __slots__ = ()


def narrow(input, dim, start, length):
    """A view of `length` elements along dim from start."""
    a = input._data
    ax = _dim(dim, a.ndim)
    n = a.shape[ax]
    if isinstance(start, Tensor):
        start = int(start)
    if not -n <= start <= n:
        raise IndexError(f"start out of range (expected to be in range of [{-n}, {n}], but got {start})")
    if start < 0:
        start += n
    if length < 0:
        raise RuntimeError("narrow(): length must be non-negative.")
    if start + length > n:
        raise RuntimeError(f"start ({start}) + length ({length}) exceeds dimension size ({n}).")
    key = (slice(None),) * ax + (slice(start, start + length),)
    node = None
    if state.enabled and input._requires_grad:
        node = _node(SliceBackward0, input)
        node.shape, node.key = a.shape, key
    return _as_view(a[key], input, node)


def select(input, dim, index):
    """The slice at `index` along dim, removing that dim (a view)."""
    a = input._data
    if a.ndim == 0:
        raise IndexError("select() cannot be applied to a 0-dim tensor.")
    ax = _dim(dim, a.ndim)
    n = a.shape[ax]
    index = int(index)
    if not -n <= index < n:
        raise IndexError(f"select(): index {index} out of range for tensor of size {list(a.shape)} at "
                         f"dimension {ax}")
    if index < 0:
        index += n
    key = (slice(None),) * ax + (index, Ellipsis)
    node = None
    if state.enabled and input._requires_grad:
        node = _node(SelectBackward0, input)
        node.shape, node.key = a.shape, key
    return _as_view(a[key], input, node)


class IndexBackward0(Node):
    """Gradient of advanced indexing: g scattered back, adding at repeated indices."""
    __slots__ = ("shape", "key", "mask_only")
    _double_backward = True   # through _apply_tensors (create_graph=True)

    def _apply_tensors(self, grad, saved):
        """create_graph=True: the scatter is linear in grad; its transpose is the indexing."""
        from ..autograd.higher_order import linear_pair
        return linear_pair(self, grad, lambda a: a[self.key])

    def apply(self, g):
        xp = xp_of(g)
        z = _zeros(self.shape, g)
        key = self.key
        if self.mask_only:
            z[key] = g
        elif len(key) == 1 and type(key[0]) is _ndarray and key[0].dtype.kind in "iu" and xp is np:
            # x[rows]: the rows' gradients added in order, as torch's index_put_ with accumulate
            rows = key[0].reshape(-1)
            if rows.dtype.kind == "i" and rows.size and rows.min() < 0:
                rows = B.where(xp, rows < 0, rows + z.shape[0], rows)
            _index_add_rows(z, rows, g.reshape((rows.size,) + z.shape[1:]), zeroed=True)
        else:
            xp.add.at(z, key, g)
        return (z,)


def _index_error(e, a):
    msg = str(e)
    if a.ndim == 0 and msg.startswith("too many indices"):
        return IndexError("invalid index of a 0-dim tensor. Use `tensor.item()` in Python or "
                          "`tensor.item<T>()` in C++ to convert a 0-dim tensor to a number")
    if msg.startswith("too many indices"):
        return IndexError(f"too many indices for tensor of dimension {a.ndim}")
    return IndexError(msg.replace(" axis ", " dimension "))


def _bad_index(k):
    # torch tries to make a tensor of a str (a TypeError); other objects are refused as indices
    return (TypeError if isinstance(k, str) else IndexError)(
        "only integers, slices (`:`), ellipsis (`...`), None and long or byte Variables are valid "
        f"indices (got {type(k).__name__})")


def _parse_key(a, key):
    """(numpy key, is_advanced, node class for a view, mask_only) for a torch-style index."""
    if type(key) is not tuple:
        if type(key) is list and len(key) < 32 and _builtin_any(
                isinstance(k, (list, tuple, slice, Tensor)) or k is None or k is Ellipsis for k in key):
            _warn_user(
                "Using a non-tuple sequence for multidimensional indexing is deprecated and will be "
                "changed in pytorch 2.9; use x[tuple(seq)] instead of x[seq]. In pytorch 2.9 this will "
                "be interpreted as tensor index, x[torch.tensor(seq)], which will result either in an "
                "error or a different result", UserWarning)
            key = tuple(key)  # torch still reads such a list as a tuple of indices (numpy would not)
        else:
            key = (key,)
    items = []
    advanced = False
    mask_only = True
    cls = None
    has_ellipsis = False
    for k in key:
        tk = type(k)
        if tk is int:
            cls = SelectBackward0
            items.append(k)
        elif tk is slice:
            step = k.step
            if step is not None:
                if not isinstance(step, int):
                    step = int(step)
                if step <= 0:   # (torch's two messages)
                    raise ValueError("slice step cannot be zero" if step == 0 else "step must be greater than zero")
            if k.start is not None or k.stop is not None or (step is not None and step != 1):
                cls = SliceBackward0
                if not (k.start is None or type(k.start) is int) or not (k.stop is None or type(k.stop) is int):
                    k = slice(None if k.start is None else int(k.start),
                              None if k.stop is None else int(k.stop), step)
            items.append(k)
        elif k is None:
            cls = UnsqueezeBackward0
            items.append(None)
        elif k is Ellipsis:
            has_ellipsis = True
            items.append(k)
        elif isinstance(k, Tensor):
            d = k._data
            if type(d) is not type(a) and d.ndim:
                d = _to_device_of(d, a)  # torch takes CPU index tensors for GPU tensors
            kind = d.dtype.kind
            if kind == "b" or d.dtype == np.uint8:
                if kind != "b":
                    d = d.astype(bool)
                if d.ndim == 0:
                    mask_only = False
                advanced = True
                items.append(d)
            elif kind in "iu":
                if d.ndim == 0:
                    cls = SelectBackward0
                    items.append(int(d))
                else:
                    advanced = True
                    mask_only = False
                    items.append(d)
            else:
                raise IndexError("tensors used as indices must be long, int, byte or bool tensors")
        elif tk is bool:
            advanced = True
            mask_only = False
            items.append(k)
        elif isinstance(k, (list, tuple, np.ndarray, range)):
            if type(k) is not _ndarray and _builtin_any(isinstance(x, Tensor) for x in k):
                k = [x.tolist() if isinstance(x, Tensor) else x for x in k]
            arr = B.host_array(k) if type(k) is not _ndarray else k  # host data from Python lists
            if arr.dtype.kind not in "biu":
                if arr.size == 0:
                    arr = arr.astype(np.int64)
                else:
                    raise IndexError("tensors used as indices must be long, int, byte or bool tensors")
            if type(a) is not _ndarray:
                arr = _to_device_of(arr, a)
            if arr.dtype.kind != "b":
                mask_only = False
            advanced = True
            items.append(arr)
        elif isinstance(k, numbers.Integral):
            cls = SelectBackward0
            items.append(int(k))
        else:
            raise _bad_index(k)
    if not advanced and not has_ellipsis:
        items.append(Ellipsis)  # keeps an all-int index a 0-d view, not a numpy scalar
    return tuple(items), advanced, cls, mask_only


def _check_mask(a, key):
    """torch's error for a boolean mask whose shape doesn't match the indexed dims."""
    dim = 0
    for k in key:
        if k is None:
            continue
        if k is Ellipsis:
            return
        if hasattr(k, "dtype") and k.dtype.kind == "b" and k.ndim:
            for j in range(k.ndim):
                if dim + j >= a.ndim or k.shape[j] != a.shape[dim + j]:
                    raise IndexError(
                        f"The shape of the mask {list(k.shape)} at index {j} does not match the shape "
                        f"of the indexed tensor {list(a.shape)} at index {dim + j}")
            dim += k.ndim
        else:
            dim += 1


def _split_int_key(nkey):
    """(basic key, advanced key) when nkey mixes ints with advanced indices, else None.

    torch selects the int dims first and then indexes what is left, so an int never counts as an
    advanced index: x[0, :, [1, 2]] has shape [3, 2] in torch where numpy, broadcasting the int
    with the list, puts the list's dim first ([2, 3])."""
    if not _builtin_any(type(k) is int for k in nkey):
        return None
    basic, rest = [], []
    for k in nkey:
        if type(k) is int:
            basic.append(k)
        elif type(k) is slice or k is None:
            basic.append(k)
            rest.append(slice(None))
        elif k is Ellipsis:
            basic.append(k)
            rest.append(k)
        elif type(k) is bool:  # adds a dim, takes none
            rest.append(k)
        else:  # an index array: a bool mask spans one dim per mask dim, integers one
            basic.extend([slice(None)] * (k.ndim if k.dtype.kind == "b" else 1))
            rest.append(k)
    return tuple(basic), tuple(rest)


def getitem(self, key):
    """Index like numpy/torch: basic indices give views, advanced ones copies."""
    a = self._data
    tk = type(key)
    if tk is int:
        try:
            out = a[key, ...]
        except IndexError as e:
            raise _index_error(e, a) from None
        if state.enabled and self._requires_grad:
            node = _new(SelectBackward0)
            node.next_functions = (edge(self),)
            node._saved_versions = ()
            node.shape = a.shape
            node.key = (key, Ellipsis)
        else:
            node = None
        return _as_view(out, self, node)
    nkey, advanced, cls, mask_only = _parse_key(a, key)
    if advanced:
        split = _split_int_key(nkey)
        if split is not None:
            _check_mask(a, nkey)
            self = getitem(self, split[0])
            a, nkey = self._data, split[1]
    try:
        out = a[nkey]
    except IndexError as e:
        if advanced:
            _check_mask(a, nkey)
        raise _index_error(e, a) from None
    if advanced:
        node = None
        if state.enabled and self._requires_grad:
            node = _node(IndexBackward0, self)
            node.shape, node.key, node.mask_only = a.shape, nkey, mask_only
        return _finish(out, node)
    node = None
    if state.enabled and self._requires_grad:
        if cls is None:
            node = _node(AliasBackward0, self)
            node.shape = a.shape
        elif cls is UnsqueezeBackward0 and not _builtin_any(
                type(k) is int or (type(k) is slice and k != _ALL and k != _ALL1) for k in nkey):
            node = _node(UnsqueezeBackward0, self)
            node.shape = a.shape
        elif cls is UnsqueezeBackward0:  # x[0, None]: torch's last op names the node
            node = _node(_UnsqueezeOfPartBackward0, self)
            node.shape, node.key = a.shape, nkey
        else:
            node = _node(cls, self)
            node.shape, node.key = a.shape, nkey
    return _as_view(out, self, node)


# ---- __setitem__ and in-place writes through views -----------------------------------------------------
class CopySlices(Node):
    """Gradient of an in-place write into part of a tensor.

    Without ``fn``: an indexed assignment; the overwritten region gets no gradient and the
    value gets g there.  With ``fn`` (the node of an in-place op applied to a view of this
    tensor): the view's region, at flat ``positions``, is sent through fn, whose gradient
    for its own input goes back into that region and the rest to fn's other inputs.
    """
    __slots__ = ("key", "value_shape", "value_dtype", "fn", "positions")
    # (an indexed assignment; the fn form, an in-place op on a view, is refused by higher_order)
    # its formula also runs on Tensors (create_graph=True: autograd/higher_order.py)
    _double_backward = True

    def name(self):
        return "torch::autograd::CopySlices"  # torch's C++ name (its repr says <CopySlices ...>)

    def apply(self, g):
        fn = self.fn
        if fn is not None:
            gb = g.copy()
            flat = gb.reshape(-1)
            pos = self.positions
            outs = fn.apply(flat[pos])
            flat[pos] = 0 if outs[0] is None else outs[0]
            return (gb,) + tuple(outs[1:])
        key = self.key
        gs = g.copy()
        gv = None
        if self.next_functions[1][0] is not None:
            gv = g[key]
        gs[key] = 0
        if gv is not None:
            if isinstance(gv, _generic):
                gv = B.host_array(gv)
            gv = unbroadcast(gv, self.value_shape)
            if gv.dtype != self.value_dtype:
                gv = gv.astype(self.value_dtype)
            if gv.shape != self.value_shape:
                gv = gv.reshape(self.value_shape)
        return gs, gv

    def _release(self):
        if self.fn is not None:
            self.fn._release()
        self._saved_versions = None


class IndexPutBackward0(CopySlices):
    __slots__ = ()

    def name(self):
        return "IndexPutBackward0"  # a generated node in torch, unlike CopySlices


class AsStridedBackward0(Node):
    """Gradient of a view, given by the flat positions of its elements in the base."""
    __slots__ = ("positions", "base_shape")
    _double_backward = True   # through _apply_tensors (create_graph=True)

    def _apply_tensors(self, grad, saved):
        """create_graph=True: writing into the base is linear in grad; its transpose reads the view."""
        from ..autograd.higher_order import linear_pair
        return linear_pair(self, grad, lambda a: a.reshape(-1)[self.positions])

    def apply(self, g):
        z = _zeros(self.base_shape, g)
        z.reshape(-1)[self.positions] = g
        return (z,)


def _positions(view, base):
    """Flat C-order positions in base of each element of view, or None for exotic layouts.

    Works for any dense base layout (C, F or permuted) by writing the positions into an
    int64 array laid out like base and reading it back through the view's strides.
    """
    xp = xp_of(base)
    item = base.itemsize
    if view.size == 0:
        return xp.zeros(view.shape, dtype=np.int64)
    if _builtin_any(s < 0 for s in base.strides):
        return None
    pos = xp.empty_like(base, dtype=np.int64)  # order 'K': same layout as base when dense
    if pos.strides != tuple(s // item * 8 for s in base.strides) or \
            _builtin_any(s % item for s in base.strides):
        return None
    if not (base.flags.c_contiguous or base.flags.f_contiguous) and \
            _builtin_max(((n - 1) * s for n, s in zip(base.shape, base.strides)), default=0) + item \
            != base.size * item:
        return None
    pos[...] = xp.arange(base.size, dtype=np.int64).reshape(base.shape)
    offset = B.data_ptr(view) - B.data_ptr(base)
    if offset % item or _builtin_any(s % item for s in view.strides):
        return None
    mem = xp.lib.stride_tricks.as_strided(pos, (base.size,), (8,))
    return xp.lib.stride_tricks.as_strided(
        mem[offset // item:], view.shape, tuple(s // item * 8 for s in view.strides)).copy()


_builtin_max = max
_builtin_any = any


def _leaf_error(view):
    what = "a view of a leaf Variable" if view else "a leaf Variable"
    return RuntimeError(
        f"{what} that requires grad is being used in an in-place operation. Wrap the update in "
        "`with torch.no_grad():` or operate on a clone.")


def _value_array(self, value):
    if isinstance(value, Tensor):
        v = value._data
        if type(v) is not type(self._data):
            from .convert import _move
            v = _move(v, self.device)
        return v
    if isinstance(value, (int, float, bool)):
        return value
    if type(self._data) is _ndarray:
        return B.host_array(value)  # host data (lists, numpy arrays) into a host tensor
    return xp_of(self._data).asarray(value)


def _assign(self, nkey, v):
    a = self._data
    if (type(v) is int or type(v) is float) and a.dtype.kind in "iu":
        # a Python number into an integer tensor converts as torch's (-1 is 255 in uint8; out of range is its
        # overflow RuntimeError, not NumPy's OverflowError)
        from .creation import _checked_int
        v = _checked_int(v, a.dtype, c_name=True, long_long=True)
    if a.dtype in B.LIMITED:   # (converted as torch converts: e4m3fn saturating, e8m0fnu's rounding, ...)
        d = B.LIMITED[a.dtype]
        if isinstance(v, (int, float, bool)):
            v = B.cast_number(v, d)
        elif getattr(v, "dtype", a.dtype) != a.dtype:
            v = B.cast(v, d)
    try:
        a[nkey] = v
    except ValueError as e:
        msg = str(e)
        if "read-only" in msg:
            _assign_expanded(self, nkey, v)
            return
        region = a[nkey].shape
        vshape = getattr(v, "shape", ())
        raise RuntimeError(
            f"shape mismatch: value tensor of shape {list(vshape)} cannot be broadcast to indexing "
            f"result of shape {list(region)}") from None
    except IndexError as e:
        raise _index_error(e, a) from None


def _assign_expanded(self, nkey, v):
    """Index assignment into a read-only tensor: into an expanded one, what torch allows (an advanced
    index writes with index_put_, deprecated there; a basic one with copy_ into the indexed view, refused
    when that view's elements share memory); anything else raises refused_write's error."""
    a = self._data
    alias = writable_alias(a) if _expanded(a) and not self._requires_grad else None
    keys = nkey if isinstance(nkey, tuple) else (nkey,)
    advanced = any(isinstance(k, (_ndarray, list)) and getattr(k, "ndim", 1) > 0 for k in keys)
    if alias is None or (not advanced and _expanded(a[nkey])):
        raise refused_write(a, "index assignment") from None
    if advanced:
        expanded_write_warning("index_put_")
    alias[nkey] = v


def _check_index_put(a, key, v):
    """torch's index_put_ checks for a value v of another dtype than a: the shape first, then the dtype."""
    try:
        region = a[key].shape
    except IndexError as e:
        raise _index_error(e, a) from None
    try:
        xp_of(a).broadcast_shapes(v.shape, region)
    except ValueError:
        raise RuntimeError(f"shape mismatch: value tensor of shape {list(v.shape)} cannot be broadcast to "
                           f"indexing result of shape {list(region)}") from None
    raise RuntimeError(
        f"Index put requires the source and destination dtypes match, got {B.SCALAR_NAMES[B.dtype_of(a)]} for the "
        f"destination and {B.SCALAR_NAMES[B.dtype_of(v)]} for the source. (Convert the value with "
        f".to({B.dtype_of(a)}).)")


def setitem(self, key, value):
    """Assign into the indexed region, in place (the version counter moves)."""
    _check_inference(self)
    a = self._data
    if type(key) is int and not isinstance(value, Tensor) and not (state.enabled and self._requires_grad):
        # fast path: x[i] = number
        _assign(self, key, value)
        self._vc[0] += 1
        return
    nkey, advanced, basic_part, _ = _parse_key(a, key)
    if advanced:
        _check_mask(a, nkey)
        if a.dtype in B.LIMITED:   # (torch writes with masked_fill_, for a bool mask, or index_put_)
            _barebones.check("masked_fill" if isinstance(key, Tensor) and key.dtype is B.bool_ else "index_put", a)
        split = _split_int_key(nkey)
        if split is not None:  # torch's order: select the ints' view, then index it
            return setitem(getitem(self, split[0]), split[1], value)
    v = _value_array(self, value)
    if isinstance(value, Tensor):
        if advanced and v.dtype != a.dtype and not (v.ndim == 0 and isinstance(key, Tensor) and key.dtype is B.bool_):
            # an advanced index writes with index_put_, which takes no other dtype (a bool mask alone with a
            # 0-d value is torch's masked_fill_, which casts)
            _check_index_put(a, nkey, v)
        if not advanced:
            _check_expands(value, a[nkey].shape)   # a basic index writes with copy_: torch's expand errors
    grad = state.enabled and (self._requires_grad or (isinstance(value, Tensor) and value._requires_grad))
    if not grad:
        _assign(self, nkey, v)
        self._vc[0] += 1
        return
    base = self._base
    if base is not None and self._creation_meta is not None:
        # torch writes through the indexed view (select, slice...), which inherits the restriction
        check_view_inplace(self if advanced else getitem(self, key))
    if self.grad_fn is None and self._requires_grad:
        raise _leaf_error(not advanced)
    if base is not None and base._requires_grad and base.grad_fn is None:
        raise _leaf_error(True)
    if isinstance(value, Tensor):
        vt = value
    else:
        vt = None
    old_edge = edge(self)
    _assign(self, nkey, v)
    self._vc[0] += 1
    # torch slices first, then index_puts into the slice: only a pure advanced key is IndexPut
    node = _new(IndexPutBackward0 if advanced and basic_part is None else CopySlices)
    node.next_functions = (old_edge, edge(vt) if vt is not None else (None, 0))
    node._saved_versions = ()
    node.key, node.fn = nkey, None
    node.value_shape = vt._data.shape if vt is not None else ()
    node.value_dtype = vt._data.dtype if vt is not None else a.dtype
    if base is not None:
        rebase_inplace_view(self, node)
    else:
        self.grad_fn = node
        self._requires_grad = True


def replay_view(view):
    """A view whose base was changed in place after the view's grad_fn was recorded: record the view
    again as an AsStridedBackward0 of its base's current graph (torch's view replay)."""
    base = view._base
    if view.grad_fn is None and not base._requires_grad:
        view._view_vc = view._vc[0]
        return
    check_view_inplace(view, indirect=True)
    view._view_vc = view._vc[0]
    if not base._requires_grad:
        return
    pos = _positions(view._data, base._data)
    if pos is None:
        return   # (an exotic layout: the old grad_fn stays, as before)
    node = _new(AsStridedBackward0)
    node.next_functions = (edge(base),)
    node._saved_versions = ()
    node.positions = pos
    node.base_shape = base._data.shape
    view.grad_fn = node
    view._requires_grad = True


def rebase_inplace_view(view, fn, old=None, result=None):
    """Record an in-place op on a view in its base's graph, as torch's CopySlices does.

    Call after writing the op's result into the view's memory; fn is the op's node, whose
    first input is the view's old value.  The base's grad_fn becomes CopySlices(fn) and the
    view's an AsStridedBackward0 reading from it, so gradients through either are right.
    An op made of several nodes (old, the tensor standing for the view's old value, is not fn's
    first input) is recorded as writing its result tensor into the view's positions instead.
    """
    base = view._base
    pos = _positions(view._data, base._data)
    if pos is None:
        raise RuntimeError(
            f"an in-place operation on a view of shape {list(view._data.shape)} whose base has an "
            "unusual memory layout can't be tracked by autograd; operate on a .clone() instead")
    node = _new(CopySlices)
    if old is not None and (fn is None or fn.next_functions[0][0] is not old.grad_fn):
        node.next_functions = (edge(base), edge(result))
        node._saved_versions = ()
        node.fn, node.positions = None, pos
        node.key = xp_of(pos).unravel_index(pos, base._data.shape)
        node.value_shape, node.value_dtype = result._data.shape, result._data.dtype
    else:
        node.next_functions = (edge(base),) + tuple(fn.next_functions[1:])
        node._saved_versions = fn._saved_versions
        node.fn, node.positions, node.key = fn, pos, None
    base.grad_fn = node
    base._requires_grad = True
    vnode = _new(AsStridedBackward0)
    vnode.next_functions = ((node, 0),)
    vnode._saved_versions = ()
    vnode.positions = pos
    vnode.base_shape = base._data.shape
    view.grad_fn = vnode
    view._requires_grad = True
    view._view_vc = view._vc[0]


# ---- gathering / scattering -------------------------------------------------------------------------------
class IndexSelectBackward0(Node):
    __slots__ = ("shape", "axis", "index")
    _saved_fields = ("index",)
    _double_backward = True   # through _apply_tensors (create_graph=True)

    def _apply_tensors(self, grad, saved):
        """create_graph=True: the scatter-add is linear in grad; its transpose is the selection."""
        from ..autograd.higher_order import linear_pair
        return linear_pair(self, grad, lambda a: xp_of(a).take(a, self.index, axis=self.axis))

    def apply(self, g):
        xp = xp_of(g)
        z = _zeros(self.shape, g)
        _index_add_rows(xp.moveaxis(z, self.axis, 0), self.index, xp.moveaxis(g, self.axis, 0), zeroed=True)
        return (z,)


def _to_device_of(arr, like):
    """arr moved to the device of array like (index arrays follow the indexed tensor)."""
    from .convert import _move
    return _move(arr, B.device_of(like))


def _index_array(index, name, like):
    if not isinstance(index, Tensor):
        index = _wrap(B.host_array(index))  # host data from Python lists
    d = index._data
    if type(d) is not type(like):
        d = _to_device_of(d, like)
    if d.dtype.kind not in "iu":
        kinds = "int32 or int64" if name == "index_select" else "int32/int64"   # (torch's two wordings)
        raise RuntimeError(f"{name}(): Expected dtype {kinds} for index, got {index.dtype}")
    return d


def _out_of_range(idx, n):
    """Whether the integer array idx holds a value outside [0, n): one reduction, reading a negative
    index as a huge unsigned one (min and max took two)."""
    return idx.size and idx.reshape(-1).view(f"u{idx.itemsize}").max() >= n


def index_select(input, dim, index):
    """The entries at `index` (1-d) along dim (a copy)."""
    xp = xp_of(input._data)
    a = input._data
    if a.ndim <= 1:   # (torch's index_select kernel is its 1-d one: rows of larger tensors are copied)
        _barebones.check("index_select", a)
    idx = _index_array(index, "index_select", input._data)
    if idx.ndim > 1:
        raise IndexError("index_select(): Index is supposed to be a vector")
    idx = idx.reshape(-1)
    ax = _dim(dim, a.ndim)
    work = a.reshape(1) if a.ndim == 0 else a
    n = work.shape[ax]
    if _out_of_range(idx, n):   # (negative indices too, as torch refuses them)
        if work.ndim == 2 and ax == 1:   # (torch's kernel for this case words it, and types it, so)
            bad = int(idx[(idx < 0) | (idx >= n)][0])
            raise RuntimeError(f"INDICES element is out of DATA bounds, id={bad} axis_dim={n} (index_select: "
                               f"indices must lie in [0, {n}) along dim 1)")
        raise IndexError(f"index out of range in self (index_select: indices must lie in [0, {n}) along dim {ax})")
    res = xp.take(work, idx, axis=ax)
    if a.ndim == 0:
        res = res.reshape(())
    node = None
    if state.enabled and input._requires_grad:
        node = _node(IndexSelectBackward0, input)
        node.shape, node.axis, node.index = work.shape, ax, idx
        if a.ndim == 0:
            node = _node(ViewBackward0, input)
            node.shape = ()
    return _finish(res, node)


def _fancy(idx, ax):
    """A numpy index tuple addressing input[i0..., idx[...], ...] for each element of idx."""
    xp = xp_of(idx)
    nd = idx.ndim
    out = []
    for k in range(nd):
        if k == ax:
            out.append(idx)
        else:
            shape = [1] * nd
            shape[k] = idx.shape[k]
            out.append(xp.arange(idx.shape[k]).reshape(shape))
    return tuple(out)


def _check_gather(name, a, idx, ax, other=None):
    # as torch, a 0-dim tensor counts as 1-dim here: zeros(10).scatter_(0, tensor(3), value=1) works
    if max(idx.ndim, 1) != max(a.ndim, 1):
        who = "input" if name == "gather" else "self"
        raise RuntimeError(f"Index tensor must have the same number of dimensions as {who} tensor")
    shape = a.shape if a.ndim else (1,)
    ishape = idx.shape if idx.ndim else (1,)
    if other is not None and not other:
        other = (1,)
    for k in range(len(ishape)):
        if k != ax and ishape[k] > shape[k]:
            raise RuntimeError(
                f"Size does not match at dimension {k} expected index {list(ishape)} to be no larger "
                f"than self {list(shape)} apart from dimension {ax}")
        if other is not None and ishape[k] > other[k]:
            raise RuntimeError(
                f"Size does not match at dimension {k} expected index {list(ishape)} to be no larger "
                f"than src {list(other)}")
    if idx.size:
        lo, hi = idx.min(), idx.max()
        n = shape[ax]
        if lo < 0 or hi >= n:
            bad = int(hi) if hi >= n else int(lo)
            raise RuntimeError(f"index {bad} is out of bounds for dimension {ax} with size {n}")


class GatherBackward0(Node):
    __slots__ = ("shape", "work_shape", "fancy")
    _saved_fields = ("fancy",)
    _double_backward = True   # through _apply_tensors (create_graph=True)

    def _apply_tensors(self, grad, saved):
        """create_graph=True: the scatter-add is linear in grad; its transpose is the gather."""
        from ..autograd.higher_order import linear_pair
        out_shape = grad.shape
        return linear_pair(self, grad, lambda a: a.reshape(self.work_shape)[self.fancy].reshape(out_shape))

    def apply(self, g):
        z = _zeros(self.work_shape, g)
        _scatter_add_into(z, self.fancy, g if g.ndim else g.reshape(1))
        return (z.reshape(self.shape),)


def _index_add_rows(out, idx, vals, zeroed=False):
    """out[idx[i]] += vals[i] along out's first axis, one i after another as torch's index_add adds
    (idx: 1-d, non-negative, in range).  NumPy's add.at costs ~0.4 us a row; instead, after a stable
    sort, round k adds the k-th row of every run of equal indices longer than k with one gather, add
    and store over distinct rows: the same order (512 rows of 64 into 1000: ~200 -> ~40 us).  Rows are
    gathered with take, not fancy indexing (960 rows of 64: 4 against 11 us).  An index repeated more
    than an eighth of the rows' count keeps add.at (reduceat would sum in another order).
    zeroed: out is all +0.0, so the first rounds store (adding to +0.0 only turns -0.0 into +0.0)."""
    xp = xp_of(out)
    if xp is not np or idx.size < 2:   # (a GPU adds with atomics: one scatter-add kernel)
        xp.add.at(out, idx, vals)
        return
    order = xp.argsort(idx, kind="stable")
    sidx = idx.take(order)
    first = xp.empty(sidx.size, bool)
    first[0] = True
    xp.not_equal(sidx[1:], sidx[:-1], out=first[1:])
    starts = xp.flatnonzero(first)
    rows = sidx.take(starts)
    distinct = starts.size == sidx.size
    if not distinct:
        counts = xp.empty_like(starts)
        xp.subtract(starts[1:], starts[:-1], out=counts[:-1])
        counts[-1] = sidx.size - starts[-1]
        longest = int(counts.max())
        if longest * 8 > sidx.size:
            xp.add.at(out, idx, vals)
            return
    first_rows = vals.take(order if distinct else order.take(starts), axis=0)
    if zeroed:
        first_rows += 0.0   # (a fresh array: +0.0 + v, as the kernel's first add gives)
        out[rows] = first_rows
    else:
        out[rows] += first_rows
    if distinct:
        return
    for k in range(1, longest):
        live = xp.flatnonzero(counts > k)
        at = rows.take(live)
        part = out.take(at, axis=0)
        part += vals.take(order.take(starts.take(live) + k), axis=0)
        out[at] = part


def _scatter_add_into(z, fancy, vals):
    """z[fancy] += vals, adding at repeated positions (bincount, not np.add.at, for floats)."""
    xp = xp_of(z)
    if z.dtype.kind == "f" and type(z) is _ndarray:
        lin = xp.ravel_multi_index(xp.broadcast_arrays(*fancy), z.shape).reshape(-1)
        z += xp.bincount(lin, weights=vals.reshape(-1), minlength=z.size).reshape(z.shape).astype(z.dtype)
    else:
        xp.add.at(z, fancy, vals)


def gather(input, dim, index, *, sparse_grad=False):
    """out[i][j] = input[i][index[i][j]] (for dim=1), with index's shape."""
    a = input._data
    _barebones.check("gather" if a.ndim > 1 else "gather_1d", a)
    idx = _index_array(index, "gather", input._data)
    ax = _dim(dim, a.ndim)
    _check_gather("gather", a, idx, ax)
    work = a.reshape(1) if a.ndim == 0 else a
    widx = idx.reshape(1) if idx.ndim == 0 else idx
    fancy = _fancy(widx, ax)
    res = work[fancy].reshape(idx.shape)
    node = None
    if state.enabled and input._requires_grad:
        node = _node(GatherBackward0, input)
        node.shape, node.work_shape, node.fancy = a.shape, work.shape, fancy
    return _finish(res, node)


class ScatterBackward0(Node):
    __slots__ = ("fancy", "src_shape", "region")
    _saved_fields = ("fancy",)
    _double_backward = True   # through _apply_tensors (create_graph=True)

    def _apply_tensors(self, grad, saved):
        """create_graph=True: both gradients are linear in grad: the input's masks the written
        positions out (its own transpose), src's gathers them (transpose: add them back)."""
        from ..autograd.higher_order import linear_map
        nf = self.next_functions

        def masked(a):
            a = a.copy()
            a[self.fancy] = 0
            return a

        def gather(a):
            gv = _zeros(self.src_shape, a)
            (gv.reshape(1) if gv.ndim == 0 else gv)[self.region] = a[self.fancy]
            return gv

        def scatter(a):
            z = _zeros(tuple(grad.shape), a)
            xp_of(a).add.at(z, self.fancy, (a.reshape(1) if a.ndim == 0 else a)[self.region])
            return z
        name = self.name()[:-1]
        gs = gv = None
        if nf[0][0] is not None:
            gs = grad if isinstance(self, ScatterAddBackward0) else linear_map(name, masked, masked, grad)
        if len(nf) > 1 and nf[1][0] is not None:
            gv = linear_map(name, gather, scatter, grad)
        return (gs, gv) if len(nf) > 1 else (gs,)

    def apply(self, g):
        gs = None
        if self.next_functions[0][0] is not None:
            gs = g.copy()
            gs[self.fancy] = 0
        gv = None
        if len(self.next_functions) > 1 and self.next_functions[1][0] is not None:
            gv = _zeros(self.src_shape, g)
            (gv.reshape(1) if gv.ndim == 0 else gv)[self.region] = g[self.fancy]  # 0-dim src: a view
        return (gs, gv) if len(self.next_functions) > 1 else (gs,)


class ScatterBackward1(ScatterBackward0):
    __slots__ = ()


class ScatterAddBackward0(ScatterBackward0):
    __slots__ = ()

    def apply(self, g):
        gv = None
        if self.next_functions[1][0] is not None:
            gv = _zeros(self.src_shape, g)
            (gv.reshape(1) if gv.ndim == 0 else gv)[self.region] = g[self.fancy]  # 0-dim src: a view
        return (g if self.next_functions[0][0] is not None else None), gv


def _scatter(input, dim, index, src, add, reduce=None):
    xp = xp_of(input._data)
    a = input._data
    idx = _index_array(index, "scatter_add" if add else "scatter", input._data)
    ax = _dim(dim, a.ndim)
    src_t = src if isinstance(src, Tensor) else None
    _check_gather("scatter", a, idx, ax, src_t._data.shape if src_t is not None else None)
    res = a.copy()
    work = res.reshape(1) if a.ndim == 0 else res
    widx = idx.reshape(1) if idx.ndim == 0 else idx
    fancy = _fancy(widx, ax)
    region = tuple(slice(0, s) for s in widx.shape)
    if src_t is not None:
        s = src_t._data
        if type(s) is not type(a):
            B.check_same_device("scatter", a, s)
        if s.dtype != a.dtype:
            raise RuntimeError(f"scatter(): Expected self.dtype to be equal to src.dtype "
                               f"(got {input.dtype} and {src_t.dtype})")
        vals = (s.reshape(1) if s.ndim == 0 else s)[region]
    else:
        if a.dtype.kind in "iu" and (type(src) is int or type(src) is float):   # (torch's overflow error)
            from .creation import _checked_int
            src = _checked_int(src, a.dtype, c_name=True)
        vals = xp.asarray(src, dtype=a.dtype)
    if add or reduce == "add":
        _scatter_add_into(work, fancy, xp.broadcast_to(vals, widx.shape))
    elif reduce in ("multiply", "mul"):
        xp.multiply.at(work, fancy, xp.broadcast_to(vals, widx.shape))
    elif reduce is not None:
        raise RuntimeError(f"reduce argument must be either add or multiply, got {reduce!r}")
    else:
        work[fancy] = vals
    node = None
    if state.enabled and (input._requires_grad or (src_t is not None and src_t._requires_grad)):
        if reduce is not None:
            raise RuntimeError("scatter(): reduce= is not differentiable in ember; use scatter_add")
        if src_t is not None:
            cls = ScatterAddBackward0 if add else ScatterBackward0
            node = _new(cls)
            node.next_functions = (edge(input), edge(src_t))
            node.src_shape = src_t._data.shape
        else:
            node = _node(ScatterBackward1, input)
            node.src_shape = ()
        node._saved_versions = ()
        node.fancy, node.region = fancy, region
        if a.ndim == 0:
            node.fancy = Ellipsis
    return _finish(res, node)


def scatter(input, dim, index, src=None, *, value=None, reduce=None):
    """A copy of input with src (or value) written at index along dim."""
    if src is None:
        src = value
    _barebones.check("scatter", input._data)
    return _scatter(input, dim, index, src, False, reduce)


def scatter_add(input, dim, index, src):
    """A copy of input with src added at index along dim (repeats accumulate)."""
    return _scatter(input, dim, index, src, True)


class MaskedSelectBackward0(Node):
    __slots__ = ("shape", "mask")
    _saved_fields = ("mask",)
    _double_backward = True   # through _apply_tensors (create_graph=True)

    def _apply_tensors(self, grad, saved):
        """create_graph=True: the scatter is linear in grad; its transpose is the selection."""
        from ..autograd.higher_order import linear_pair
        return linear_pair(self, grad, lambda a: xp_of(a).broadcast_to(a, self.mask.shape)[self.mask])

    def apply(self, g):
        z = _zeros(self.mask.shape, g)
        z[self.mask] = g
        return (unbroadcast(z, self.shape),)


def masked_select(input, mask):
    """The elements where mask (broadcast) is True, as a 1-d tensor."""
    _barebones.check("masked_select", input._data)
    xp = xp_of(input._data)
    m = mask._data
    if m.dtype.kind != "b":
        raise RuntimeError("masked_select: expected BoolTensor for mask")
    a = input._data
    if type(m) is not type(a):
        B.check_same_device("masked_select", a, m)
    try:
        shape = np.broadcast_shapes(a.shape, m.shape)
    except ValueError:
        raise RuntimeError(
            f"masked_select: the shape of the mask {list(m.shape)} must be broadcastable with the "
            f"shape of the input {list(a.shape)}") from None
    mb = xp.broadcast_to(m, shape)
    res = xp.broadcast_to(a, shape)[mb]
    node = None
    if state.enabled and input._requires_grad:
        node = _node(MaskedSelectBackward0, input)
        node.shape, node.mask = a.shape, mb
    return _finish(res, node)


def nonzero(input, *, out=None, as_tuple=False):
    """Indices of nonzero elements: an (n, ndim) int64 tensor, or a tuple of 1-d ones."""
    xp = xp_of(input._data)
    a = input._data
    _barebones.check("nonzero", a)
    if as_tuple:
        if a.ndim == 0:
            return (_wrap(xp.zeros(1 if a.item() else 0, dtype=np.int64)),)
        return tuple(_wrap(i.astype(np.int64, copy=False)) for i in xp.nonzero(a))
    return _wrap(xp.argwhere(a).astype(np.int64, copy=False))


def nonzero_static(input, *, size, fill_value=-1):
    """nonzero() padded with fill_value (or truncated) to exactly `size` rows: a shape known in advance."""
    if size < 0:
        raise RuntimeError("nonzero_static: 'size' must be an non-negative integer")
    idx = nonzero(input)._data
    xp = xp_of(idx)
    out = xp.full((size, idx.shape[1]), fill_value, dtype=np.int64)
    n = min(size, idx.shape[0])
    out[:n] = idx[:n]
    return _wrap(out)


def argwhere(input):
    """Indices of nonzero elements as an (n, ndim) int64 tensor."""
    return nonzero(input)


def take(input, index):
    """Elements of the flattened input at index, shaped like index."""
    xp = xp_of(input._data)
    flat = reshape(input, (-1,))
    idx = _index_array(index, "take", input._data)
    n = flat._data.shape[0]
    if idx.size and (idx.min() < -n or idx.max() >= n):
        raise IndexError(f"out of range: tried to access index {int(idx.max())} on a tensor of {n} elements.")
    return reshape(index_select(flat, 0, _wrap(B.where(xp, idx < 0, idx + n, idx).reshape(-1))), idx.shape)


# ---- flip / roll / triangles / diagonals ----------------------------------------------------------------------
class FlipBackward0(Node):
    __slots__ = ("axes",)
    _double_backward = True   # through _apply_tensors (create_graph=True)

    def _apply_tensors(self, grad, saved):
        """create_graph=True: the flip is its own transpose."""
        from ..autograd.higher_order import linear_pair
        return linear_pair(self, grad, lambda a: self.apply(a)[0].copy())

    def apply(self, g):
        xp = xp_of(g)
        return (xp.flip(g, self.axes),)


def flip(input, *args, dims=None):
    """Reverse the order of elements along dims (a copy, as torch)."""
    if dims is not None or not args:
        args = varargs_or_keyword(args, dims, "flip", "dims")
    if input._data.dtype in B.LIMITED and input._data.ndim and (input._data.ndim - 1) in {
            d % input._data.ndim for d in (args[0] if len(args) == 1 and isinstance(args[0], (list, tuple)) else args)}:
        _barebones.check("flip", input._data)   # (torch's flip kernel runs when the last dim flips, else a copy)
    xp = xp_of(input._data)
    dims = _dims_arg(args)
    a = input._data
    axes = tuple(_dim(d, a.ndim) for d in dims)
    if len(set(axes)) != len(axes):
        seen = set()
        for d in axes:
            if d in seen:
                raise RuntimeError(f"dim {d} appears multiple times in the list of dims")
            seen.add(d)
    res = xp.flip(a, axes).copy() if a.ndim else a.copy()
    node = None
    if state.enabled and input._requires_grad:
        node = _node(FlipBackward0, input)
        node.axes = axes if a.ndim else ()
    return _finish(res, node)


def fliplr(input):
    """Flip along dim 1."""
    if input._data.ndim < 2:
        raise RuntimeError("Input must be >= 2-d.")
    return flip(input, (1,))


def flipud(input):
    """Flip along dim 0."""
    if input._data.ndim < 1:
        raise RuntimeError("Input must be >= 1-d.")
    return flip(input, (0,))


class RollBackward0(Node):
    __slots__ = ("shifts", "axes", "shape")
    _double_backward = True   # through _apply_tensors (create_graph=True)

    def _apply_tensors(self, grad, saved):
        """create_graph=True: rolling back is linear in grad; its transpose rolls forward."""
        from ..autograd.higher_order import linear_pair

        def forward(a):
            xp = xp_of(a)
            if self.axes is None:
                return xp.roll(a.reshape(-1), list(self.shifts)).reshape(self.shape)
            return xp.roll(a, list(self.shifts), self.axes)
        return linear_pair(self, grad, forward)

    def apply(self, g):
        xp = xp_of(g)
        if self.axes is None:
            return (xp.roll(g.reshape(-1), [-s for s in self.shifts]).reshape(self.shape),)
        return (xp.roll(g, [-s for s in self.shifts], self.axes),)


def roll(input, shifts, dims=None):
    """Rotate elements along dims (over the flattened tensor when dims is None)."""
    xp = xp_of(input._data)
    a = input._data
    sh = (shifts,) if isinstance(shifts, int) else tuple(int(s) for s in shifts)
    if dims is None:
        if len(sh) != 1:
            raise RuntimeError(f"roll: shifts ({list(sh)}) and dims (None) must align: pass one shift "
                               "without dims, or one shift per dim")
        res = xp.roll(a.reshape(-1), sh[0]).reshape(a.shape)
        axes = None
    else:
        axes = (dims,) if isinstance(dims, int) else tuple(dims)
        if len(axes) != len(sh):
            raise RuntimeError(f"shifts and dimensions must align. shifts: {len(sh)}, dims:{len(axes)}")
        axes = tuple(_dim(d, a.ndim) for d in axes)
        res = xp.roll(a, sh, axes)
    node = None
    if state.enabled and input._requires_grad:
        node = _node(RollBackward0, input)
        node.shifts, node.axes, node.shape = sh, axes, a.shape
    return _finish(res, node)


class TrilBackward0(Node):
    __slots__ = ("k",)
    _double_backward = True   # through _apply_tensors (create_graph=True)

    def _apply_tensors(self, grad, saved):
        """create_graph=True: masking a triangle is its own transpose."""
        from ..autograd.higher_order import linear_pair
        return linear_pair(self, grad, lambda a: self.apply(a)[0])

    def apply(self, g):
        xp = xp_of(g)
        return (xp.tril(g, self.k),)


class TriuBackward0(TrilBackward0):
    __slots__ = ()

    def apply(self, g):
        xp = xp_of(g)
        return (xp.triu(g, self.k),)


def _tri(input, diagonal, lower):
    xp = xp_of(input._data)
    a = input._data
    name = "tril" if lower else "triu"
    if a.ndim < 2:
        raise RuntimeError(f"{name}: input tensor must have at least 2 dimensions")
    res = xp.tril(a, diagonal) if lower else xp.triu(a, diagonal)
    node = None
    if state.enabled and input._requires_grad:
        node = _node(TrilBackward0 if lower else TriuBackward0, input)
        node.k = diagonal
    return _finish(res, node)


def tril(input, diagonal=0):
    """The lower triangle (on and below diagonal) of the last two dims; the rest zero."""
    _barebones.check("tril", input._data)
    return _tri(input, diagonal, True)


def triu(input, diagonal=0):
    """The upper triangle (on and above diagonal) of the last two dims; the rest zero."""
    _barebones.check("triu", input._data)
    return _tri(input, diagonal, False)


def _diag_view(a, offset, d1, d2):
    """A writable strided view of a's diagonal over dims d1, d2 (moved last)."""
    xp = xp_of(a)
    nd = a.ndim
    perm = [i for i in range(nd) if i not in (d1, d2)] + [d1, d2]
    v = a.transpose(perm)
    if offset >= 0:
        v = v[..., :, offset:]
    else:
        v = v[..., -offset:, :]
    n = max(min(v.shape[-2], v.shape[-1]), 0)
    return xp.lib.stride_tricks.as_strided(v, v.shape[:-2] + (n,), v.strides[:-2] + (v.strides[-2] + v.strides[-1],))


class DiagonalBackward0(Node):
    __slots__ = ("shape", "offset", "d1", "d2")
    _double_backward = True   # through _apply_tensors (create_graph=True)

    def _apply_tensors(self, grad, saved):
        """create_graph=True: the scatter is linear in grad; its transpose takes the diagonal."""
        from ..autograd.higher_order import linear_pair
        return linear_pair(self, grad, lambda a: _diag_view(a, self.offset, self.d1, self.d2).copy())

    def apply(self, g):
        z = _zeros(self.shape, g)
        _diag_view(z, self.offset, self.d1, self.d2)[...] = g
        return (z,)


DiagonalBackward0_copy = type("DiagonalBackward0_copy", (DiagonalBackward0,), {"__slots__": ()})


def diagonal(input, offset=0, dim1=0, dim2=1):
    """A view of the diagonal over dims dim1, dim2, appended as the last dim."""
    a = input._data
    d1, d2 = _dim(dim1, a.ndim), _dim(dim2, a.ndim)
    if d1 == d2:
        raise RuntimeError(f"diagonal dimensions cannot be identical {dim1}, {dim2}")
    out = _diag_view(a, offset, d1, d2)
    node = None
    if state.enabled and input._requires_grad:
        node = _node(DiagonalBackward0, input)
        node.shape, node.offset, node.d1, node.d2 = a.shape, offset, d1, d2
    return _as_view(out, input, node)


class DiagEmbedBackward0(Node):
    __slots__ = ("k",)
    _double_backward = True   # through _apply_tensors (create_graph=True)

    def _apply_tensors(self, grad, saved):
        """create_graph=True: taking the diagonal is linear in grad; its transpose builds the matrix."""
        from ..autograd.higher_order import linear_pair
        return linear_pair(self, grad, lambda a: xp_of(a).diag(a, self.k))

    def apply(self, g):
        xp = xp_of(g)
        return (xp.diagonal(g, self.k).copy(),)


def diag(input, diagonal=0):
    """A 1-d input as a diagonal matrix, or a 2-d input's diagonal (a copy)."""
    xp = xp_of(input._data)
    a = input._data
    if a.ndim == 1:
        res = xp.diag(a, diagonal)
        node = None
        if state.enabled and input._requires_grad:
            node = _node(DiagEmbedBackward0, input)
            node.k = diagonal
        return _finish(res, node)
    if a.ndim != 2:
        raise RuntimeError("diag(): Supports 1D or 2D tensors. Got " + f"{a.ndim}D")
    res = _diag_view(a, diagonal, 0, 1).copy()
    node = None
    if state.enabled and input._requires_grad:
        node = _node(DiagonalBackward0_copy, input)
        node.shape, node.offset, node.d1, node.d2 = a.shape, diagonal, 0, 1
    return _finish(res, node)


# ---- Tensor methods ------------------------------------------------------------------------------------
def _numpy_names():
    from .._argcheck import numpy_names
    g = globals()
    for name in ("cat", "concat", "concatenate", "stack", "squeeze", "unsqueeze"):
        g[name] = numpy_names(g[name])


_numpy_names()


def _register():
    T = Tensor
    T.__getitem__ = getitem
    T.__setitem__ = setitem
    T.view = view
    T.view_as = view_as
    T.reshape = reshape
    T.reshape_as = reshape_as
    T.contiguous = contiguous
    T.expand = expand
    T.expand_as = expand_as
    T.repeat = repeat
    T.permute = permute
    T.T = property(_reversed_dims)
    T.flip = flip
    for fn in (flatten, unflatten, squeeze, unsqueeze, transpose, t, movedim, tile, split, chunk,
               unbind, narrow, select, index_select, gather, scatter, scatter_add, masked_select,
               nonzero, argwhere, fliplr, flipud, roll, tril, triu, diag, diagonal, take):
        setattr(T, fn.__name__, fn)
    T.swapaxes, T.swapdims = swapaxes, swapdims
    T.moveaxis = movedim

    squeeze_dims = squeeze.__wrapped__   # (the method needs none of the public wrapper's checks)

    def squeeze_m(self, *args, dim=_EVERY_DIM, axis=None):
        """Remove size-1 dims (all, or those given: one, a tuple, or several one by one)."""
        if axis is not None:   # (NumPy's name, which torch's parser also takes)
            args += (axis,)
        if args:
            if dim is not _EVERY_DIM or (axis is not None and len(args) > 1):
                raise TypeError("squeeze() got multiple values for argument 'dim'")
            # (x.squeeze(0, 1): the method, not torch.squeeze, takes the dims one by one)
            dim = args[0] if len(args) == 1 else args
        return squeeze_dims(self, dim)
    squeeze_m.__name__ = squeeze_m.__qualname__ = "squeeze"
    T.squeeze = squeeze_m

    def nonzero_m(self, *, as_tuple=False):
        """Indices of nonzero elements."""
        return nonzero(self, as_tuple=as_tuple)
    T.nonzero = nonzero_m
    T.nonzero_static = nonzero_static

    def split_m(self, split_size, dim=0):
        """Views of consecutive pieces along dim."""
        return split(self, split_size, dim)
    T.split = split_m

    from .elementwise import _inplace

    def _inplace_method(op, name):
        def method(self, *args, **kwargs):
            res = None
            if not (state.enabled and (self._requires_grad or any(isinstance(x, Tensor) and x._requires_grad
                                                                  for x in args + tuple(kwargs.values())))):
                res = op(self, *args, **kwargs)._data
            tensor_args = tuple(x for x in args + tuple(kwargs.values()) if isinstance(x, Tensor))
            return _inplace(self, res, lambda s, *_: op(s, *args, **kwargs), tensor_args)
        method.__name__ = name
        method.__doc__ = f"In-place {op.__name__}."
        return method

    T.scatter_ = _inplace_method(scatter, "scatter_")
    T.scatter_add_ = _inplace_method(scatter_add, "scatter_add_")
    T.tril_ = _inplace_method(tril, "tril_")
    T.triu_ = _inplace_method(triu, "triu_")

    def squeeze_(self, *args, **kwargs):
        """Remove size-1 dims in place (this tensor's shape changes)."""
        self._data = T.squeeze(self, *args, **kwargs)._data
        return self

    def unsqueeze_(self, dim):
        """Insert a size-1 dim in place (this tensor's shape changes)."""
        self._data = unsqueeze(self, dim)._data
        return self

    def t_(self):
        """Transpose in place (this tensor's shape changes)."""
        self._data = t(self)._data
        return self

    def transpose_(self, dim0, dim1):
        """Swap two dims in place (this tensor's shape changes)."""
        self._data = transpose(self, dim0, dim1)._data
        return self

    def _shape_inplace(fn, outofplace):
        def method(self, *args, **kwargs):
            if state.enabled and self._requires_grad:
                if self._base is not None:
                    check_view_inplace(self)
                if self.grad_fn is None:
                    raise RuntimeError("a leaf Variable that requires grad is being used in an in-place "
                                       "operation. Use the out-of-place version, or wrap it in `with "
                                       "torch.no_grad():`.")
                # the view op's node, recorded on this tensor: it now is that view of its old self
                out = outofplace(self, *args, **kwargs)
                self._data, self.grad_fn = out._data, out.grad_fn
                return self
            return fn(self, *args, **kwargs)
        method.__name__ = fn.__name__
        method.__doc__ = fn.__doc__
        return method

    for fn, outofplace in ((squeeze_, T.squeeze), (unsqueeze_, unsqueeze), (t_, t), (transpose_, transpose)):
        setattr(T, fn.__name__, _shape_inplace(fn, outofplace))


_register()


# ---- broadcasting helpers, meshgrid ---------------------------------------------------------------
def broadcast_shapes(*shapes):
    """The shape that tensors of the given shapes broadcast to, as an ember.Size."""
    norm = []
    for s in shapes:
        if isinstance(s, numbers.Integral) and not isinstance(s, bool):
            s = (int(s),)
        elif isinstance(s, Tensor) or not isinstance(s, (tuple, list)):
            raise TypeError(f"broadcast_shapes(): expected each shape to be an int or a tuple/list of ints, "
                            f"got {type(s).__name__}")
        for k in s:
            if not isinstance(k, numbers.Integral) or isinstance(k, bool):
                raise TypeError(f"{B.namespace()}.Size() takes an iterable of 'int' (item 0 is "
                                f"'{type(k).__name__}')")
        norm.append(tuple(int(k) for k in s))
    result = [1] * _builtin_max([len(s) for s in norm] + [0])
    for idx, s in enumerate(norm):
        for i in range(-1, -1 - len(s), -1):
            if s[i] < 0:
                raise ValueError("Attempting to broadcast a dimension with negative length!")
            if s[i] == 1 or s[i] == result[i]:
                continue
            if result[i] != 1:
                raise RuntimeError(
                    f"Attempting to broadcast a dimension of length {s[i]} at {i}! Mismatching argument at "
                    f"index {idx} had {s}; but expected shape should be broadcastable to {result}")
            result[i] = s[i]
    return Size(result)


def broadcast_to(input, size):
    """input expanded (a view, no copy) to `size`; the same as input.expand(size)."""
    if not isinstance(size, (tuple, list)):
        raise TypeError(f"broadcast_to(): argument 'size' (position 2) must be tuple of ints, not "
                        f"{type(size).__name__}")
    return expand(input, size)


def broadcast_tensors(*tensors):
    """Views of the tensors expanded to their common broadcast shape."""
    for i, t in enumerate(tensors):
        if not isinstance(t, Tensor):
            raise TypeError(f"expected Tensor as element {i} in argument 0, but got {type(t).__name__} "
                            "(pass the tensors as separate arguments: broadcast_tensors(*tensors))")
    shape = ()
    for t in tensors:
        try:
            shape = np.broadcast_shapes(shape, t._data.shape)
        except ValueError:
            from .elementwise import _broadcast_error
            from types import SimpleNamespace
            raise _broadcast_error("broadcast_tensors", SimpleNamespace(shape=shape), t._data) from None
    # torch hands back a tensor that already has the shape itself, not a view of it
    return tuple(t if t._data.shape == shape else expand(t, shape) for t in tensors)


_MESHGRID_WARNED = [False]


def meshgrid(*tensors, indexing=None):
    """Coordinate grids from 1-d tensors: 'ij' (matrix, torch's default) or 'xy' (Cartesian) indexing."""
    prefix = B.namespace()
    if len(tensors) == 1 and isinstance(tensors[0], (tuple, list)):
        tensors = tuple(tensors[0])
    if indexing is None:
        if not _MESHGRID_WARNED[0]:   # torch warns once per process
            _MESHGRID_WARNED[0] = True
            _warn_user(f"{prefix}.meshgrid: in an upcoming release, it will be required to pass the "
                       "indexing argument.", UserWarning)
        indexing = "ij"
    if indexing not in ("ij", "xy"):
        raise RuntimeError(f'{prefix}.meshgrid: indexing must be one of "xy" or "ij", but received: {indexing}')
    if not tensors:
        raise RuntimeError("meshgrid expects a non-empty TensorList")
    for i, t in enumerate(tensors):
        if not isinstance(t, Tensor):
            raise TypeError(f"expected Tensor as element {i} in argument 0, but got {type(t).__name__}")
        if t._data.ndim > 1:
            raise RuntimeError(
                f"{prefix}.meshgrid: Expected 0D or 1D tensor in the tensor list but got a {t._data.ndim}-D "
                f"tensor of shape {list(t._data.shape)} (element {i}); flatten it first with .reshape(-1)")
    first = tensors[0]
    for t in tensors[1:]:
        if t.dtype is not first.dtype:
            raise RuntimeError(f"meshgrid expects all tensors to have the same dtype (got {first.dtype} and "
                               f"{t.dtype}); convert them with .to(dtype) first")
        if type(t._data) is not type(first._data):
            B.check_same_device("meshgrid", first._data, t._data)
    n = len(tensors)
    # 'xy' swaps the first two axes of every grid: tensor i varies along axis pos[i]
    pos = list(range(n))
    if indexing == "xy" and n >= 2:
        pos[0], pos[1] = 1, 0
    grid = [0] * n
    for i, t in enumerate(tensors):
        grid[pos[i]] = t._data.size
    out = []
    for i, t in enumerate(tensors):
        shape = [1] * n
        shape[pos[i]] = -1
        out.append(expand(view(t, tuple(shape)), tuple(grid)))
    return tuple(out)


# ---- repeat_interleave, diff ------------------------------------------------------------------------
def _repeat_counts(repeats, name="repeat_interleave"):
    """A 1-d integer repeats array, with torch's checks."""
    r = repeats._data
    if r.dtype.kind not in "iu":
        raise NotImplementedError(f"\"{name}_{repeats.device.type}\" not implemented for "
                                  f"'{B.scalar_name(r.dtype)}' (repeats must be integers: "
                                  "convert with .long())")
    return r


def _repeat_index(r):
    """arange(len(r)) with element i repeated r[i] times (torch.repeat_interleave(repeats))."""
    if r.ndim != 1:
        raise RuntimeError(f"repeat_interleave only accept 1D vector as repeat (got shape {list(r.shape)})")
    if r.size and r.min() < 0:
        raise RuntimeError("repeats can not be negative")
    xp = xp_of(r)
    return xp.repeat(xp.arange(r.size, dtype=np.int64), r.astype(np.int64, copy=False))


def repeat_interleave(input, repeats=None, dim=None, *, output_size=None):
    """Repeat each element (or slice along dim) repeats times; repeats is an int or a tensor of counts."""
    if repeats is None:
        # torch.repeat_interleave(repeats): input holds the counts
        return _wrap(_repeat_index(_repeat_counts(input)))
    if dim is None:
        input = flatten(input)
        dim = 0
    a = input._data
    if isinstance(repeats, Tensor):
        r = _repeat_counts(repeats)
        if r.ndim > 1:
            raise RuntimeError(f"repeats must be 0-dim or 1-dim tensor (got shape {list(r.shape)})")
        ax = _dim(dim, a.ndim)
        n = a.shape[ax] if a.ndim else 1
        if r.size == 1:
            r = xp_of(r).broadcast_to(r.reshape(1), (n,))
        elif r.shape[0] != n:
            raise RuntimeError(f"repeats must have the same size as input along dim, but got repeats.size(0) = "
                               f"{r.shape[0]} and input.size({dim}) = {n}")
        if type(r) is not type(a):
            B.check_same_device("repeat_interleave", a, r)
        idx = _repeat_index(r)
        if output_size is not None and output_size != idx.size:
            raise RuntimeError(f"allocated size does not match required size (repeat_interleave: output_size="
                               f"{output_size} but the repeats add up to {idx.size})")
        return index_select(input, dim, _wrap(idx))
    if isinstance(repeats, bool) or not isinstance(repeats, numbers.Integral):
        raise TypeError(f"repeat_interleave(): argument 'repeats' must be int or Tensor, not "
                        f"{type(repeats).__name__}")
    repeats = int(repeats)
    if repeats < 0:
        raise RuntimeError("Repeats must be non-negative")
    # torch's composite: unsqueeze, expand, clone, view (so the graph shows the same nodes)
    ax = _dim(dim, a.ndim)
    x = unsqueeze(input, ax + 1)   # a 0-d input given a dim raises torch's IndexError here
    size = a.shape[ax]
    if output_size is not None and output_size != size * repeats:
        raise RuntimeError(f"repeat_interleave: Invalid output_size, expected {size * repeats} but got "
                           f"{output_size}")
    shape = list(x._data.shape)
    shape[ax + 1] = repeats
    x = clone(expand(x, tuple(shape)))
    return reshape(x, a.shape[:ax] + (size * repeats,) + a.shape[ax + 1:])


class CopyBackwards(Node):
    __slots__ = ()
    _double_backward = True   # its formula also runs on Tensors

    def apply(self, g):
        return (g,)


def _diff_extra(t, input, ax, which):
    if not isinstance(t, Tensor):
        raise TypeError(f"diff(): argument '{which}' must be Tensor, not {type(t).__name__}")
    a, e = input._data, t._data
    if e.ndim != a.ndim:
        raise RuntimeError(f"diff expects prepend or append to be the same dimension as input (input is "
                           f"{a.ndim}-d, {which} is {e.ndim}-d)")
    for k in range(a.ndim):
        if k != ax and e.shape[k] != a.shape[k]:
            raise RuntimeError(
                f"diff expects the shape of tensor to prepend or append to match that of input except along "
                f"the differencing dimension; input.size({k}) = {a.shape[k]}, but got tensor.size({k}) = "
                f"{e.shape[k]}")
    return t


def diff(input, n=1, dim=-1, prepend=None, append=None):
    """The n-th forward difference along dim, after joining prepend and append to input."""
    a = input._data
    if a.ndim == 0:
        raise RuntimeError("diff expects input to be at least one-dimensional (got a 0-d tensor)")
    if n < 0:
        raise RuntimeError(f"order must be non-negative but got {n}")
    ax = _dim(dim, a.ndim)
    if n == 0:
        node = _node(CopyBackwards, input) if state.enabled and input._requires_grad else None
        return _finish(a.copy(), node)
    parts = [input]
    if prepend is not None:
        parts.insert(0, _diff_extra(prepend, input, ax, "prepend"))
    if append is not None:
        parts.append(_diff_extra(append, input, ax, "append"))
    x = cat(parts, ax) if len(parts) > 1 else input
    from .elementwise import logical_xor, sub
    for _ in range(n):
        length = x._data.shape[ax]
        if length == 0:
            break
        hi, lo = narrow(x, ax, 1, length - 1), narrow(x, ax, 0, length - 1)
        x = logical_xor(hi, lo) if x._data.dtype.kind == "b" else sub(hi, lo)
    return x


# ---- index_add ------------------------------------------------------------------------------------------
class IndexAddBackward0(Node):
    __slots__ = ("axis", "index", "alpha", "src_shape")
    _saved_fields = ("index",)
    _double_backward = True   # through _apply_tensors (create_graph=True)

    def _apply_tensors(self, grad, saved):
        """create_graph=True: source's gradient is a selection, linear in grad; its transpose adds back."""
        from ..autograd.higher_order import linear_map
        nf, shape, ax, index, alpha = self.next_functions, grad.shape, self.axis, self.index, self.alpha

        def add_back(b):
            z = _zeros(shape, b)
            work = z.reshape(1) if z.ndim == 0 else z
            xp_of(b).add.at(xp_of(b).moveaxis(work, ax, 0), index,
                            xp_of(b).moveaxis(b.reshape(_work_shape(work.shape, ax, index.size)), ax, 0) * alpha)
            return z
        return (grad if nf[0][0] is not None else None,
                linear_map("IndexAddBackward", lambda a: self.apply(a)[1], add_back, grad)
                if nf[1][0] is not None else None)

    def apply(self, g):
        gs = None
        if self.next_functions[1][0] is not None:
            work = g.reshape(1) if g.ndim == 0 else g
            gs = xp_of(g).take(work, self.index, axis=self.axis)
            if self.alpha != 1:
                gs = gs * self.alpha
            gs = gs.reshape(self.src_shape)
        return (g if self.next_functions[0][0] is not None else None), gs


def index_add(input, dim, index, source, *, alpha=1):
    """A copy of input with alpha * source added at `index` along dim (repeated indices accumulate)."""
    a = input._data
    ax = _dim(dim, a.ndim)
    if not isinstance(source, Tensor):
        raise TypeError(f"index_add(): argument 'source' (position 3) must be Tensor, not {type(source).__name__}")
    if not isinstance(index, Tensor):
        index = _wrap(B.host_array(index))
    idx, s = index._data, source._data
    if idx.dtype.kind not in "iu":
        raise RuntimeError(f"index_add_(): Expected dtype int32/int64 for index but got: "
                           f"{B.scalar_name(idx.dtype)}")
    if idx.ndim > 1:
        raise IndexError(f"index_add_(): Index is supposed to be a vector, but got dim: {idx.ndim} with type: "
                         f"{B.scalar_name(idx.dtype)} and size: {list(idx.shape)}")
    if s.dtype != a.dtype:
        raise RuntimeError(f"index_add_(): self ({B.scalar_name(a.dtype)}) and source "
                           f"({B.scalar_name(s.dtype)}) must have the same scalar type "
                           "(convert source with .to(self.dtype))")
    if type(s) is not type(a):
        B.check_same_device("index_add", a, s)
    if type(idx) is not type(a):
        idx = _to_device_of(idx, a)
    work = a.reshape(1) if a.ndim == 0 else a
    swork = s.reshape(1) if s.ndim == 0 else s
    if s.ndim != a.ndim or _builtin_any(
            swork.shape[k] != work.shape[k] for k in range(work.ndim) if k != ax):
        raise RuntimeError(
            f"source tensor shape must match self tensor shape, excluding the specified dimension. Got "
            f"self.shape = {list(a.shape)} source.shape = {list(s.shape)}")
    idx = idx.reshape(-1)
    if idx.size != swork.shape[ax]:
        raise RuntimeError(f"index_add_(): Number of indices ({idx.size}) should be equal to source.size(dim): "
                           f"({swork.shape[ax]}), for dim: {ax}")
    size = work.shape[ax]
    if idx.size and (idx.min() < 0 or idx.max() >= size):
        bad = int(idx.min()) if idx.min() < 0 else int(idx.max())
        if a.ndim <= 1:   # torch's 1-d kernel raises IndexError, the n-d one RuntimeError
            raise IndexError(f"index out of range in self: index_add() got index {bad} for dimension {ax} "
                             f"with size {size}")
        raise RuntimeError(f"index {bad} is out of bounds for dimension {ax} with size {size}")
    xp = xp_of(a)
    # torch casts alpha to self's dtype (an integer tensor truncates a fractional alpha)
    alpha = a.dtype.type(alpha).item() if a.dtype.kind != "b" else bool(alpha)
    vals = swork if alpha == 1 else (swork * alpha).astype(a.dtype, copy=False)
    res = work.copy()
    _index_add_rows(xp.moveaxis(res, ax, 0), idx.astype(np.int64, copy=False), xp.moveaxis(vals, ax, 0))
    res = res.reshape(a.shape)
    node = None
    if state.enabled and (input._requires_grad or source._requires_grad):
        node = _new(IndexAddBackward0)
        node.next_functions = (edge(input), edge(source))
        node._saved_versions = ()
        node.axis, node.index, node.alpha, node.src_shape = ax, idx, alpha, s.shape
    return _finish(res, node)


def _register_more():
    T = Tensor

    def broadcast_to_method(self, *sizes, size=None):
        """self expanded to size (one tuple, or the sizes one by one as expand takes them)."""
        if size is not None or not sizes:
            return broadcast_to(self, varargs_or_keyword(sizes, size, "broadcast_to", "size")[0])
        return broadcast_to(self, sizes[0] if len(sizes) == 1 and not isinstance(sizes[0], int) else sizes)
    broadcast_to_method.__name__ = "broadcast_to"
    T.broadcast_to = broadcast_to_method
    T.repeat_interleave = repeat_interleave
    T.diff = diff
    T.index_add = index_add
    from .elementwise import _inplace

    def index_add_(self, dim, index, source, *, alpha=1):
        """In-place index_add: add alpha * source into self at `index` along dim."""
        op = lambda s, src: index_add(s, dim, index, src, alpha=alpha)  # noqa: E731
        res = None
        if not (state.enabled and (self._requires_grad or (isinstance(source, Tensor) and source._requires_grad))):
            res = op(self, source)._data
        return _inplace(self, res, op, (source,))
    T.index_add_ = index_add_


_register_more()
__all__ += ["broadcast_shapes", "broadcast_to", "broadcast_tensors", "meshgrid", "repeat_interleave", "diff",
            "index_add"]


# ---- ravel, tensor_split / hsplit / vsplit / dsplit, atleast_nd, dstack, column_stack -------------------
def ravel(input):
    """input flattened to 1-d (a view when the memory allows), as torch's contiguous().view(-1)."""
    return view(input.contiguous(), -1)


def _split_arg(op, input, args, sections, indices, tensor=None):
    """The split argument of tensor_split / hsplit / vsplit / dsplit: positional, or one of torch's keywords
    sections= (an int), indices= (a sequence), tensor_indices_or_sections= (a tensor: tensor_split only)."""
    given = {k: v for k, v in (("sections", sections), ("indices", indices), ("tensor_indices_or_sections", tensor))
             if v is not None}
    if len(args) + len(given) == 1:
        if args:
            return args[0]
        (k, v), = given.items()
        if k == "indices":
            return int_sequence(v, op, k)
        if isinstance(v, Tensor) if k != "sections" else type(v) is not bool and hasattr(v, "__index__"):
            return v
    forms = ["Tensor input, int sections", "Tensor input, tuple of ints indices"]
    if op == "tensor_split":
        forms = [f + ", int dim = 0" for f in forms] + ["Tensor input, Tensor tensor_indices_or_sections, int dim = 0"]
    raise invalid_combination(op, (input,) + args, given, forms)


def tensor_split(input, *args, dim=None, sections=None, indices=None, tensor_indices_or_sections=None):
    """Views splitting input along dim into n near-equal parts (an int) or at the given indices."""
    if len(args) == 2:
        if dim is not None:
            raise TypeError(f"tensor_split() got multiple values for argument 'dim' (positional {args[1]!r} and "
                            f"dim={dim!r})")
        args, dim = args[:1], args[1]
    elif dim is None:
        dim = 0
    elif len(args) > 2:
        raise TypeError(f"tensor_split() takes from 2 to 3 positional arguments but {len(args) + 1} were given")
    indices_or_sections = _split_arg("tensor_split", input, args, sections, indices, tensor_indices_or_sections)
    a = input._data
    ax = _dim(dim, a.ndim)
    n = a.shape[ax]
    ios = indices_or_sections
    if isinstance(ios, Tensor):
        d = ios._data
        if d.dtype.kind not in "iu":
            raise RuntimeError(f"tensor_split expected tensor_indices_or_sections to have integer dtype, but got "
                               f"{ios.dtype}")
        if d.ndim > 1:
            raise RuntimeError("tensor_split expected tensor_indices_or_sections to be a zero-dimensional or "
                               f"one-dimensional tensor, but got a tensor with {d.ndim} dims")
        ios = int(d) if d.ndim == 0 else [int(v) for v in d.tolist()]
    if isinstance(ios, (list, tuple)):
        bounds = [0]
        for i in ios:
            i = int(i)
            i = i + n if i < 0 else i
            bounds.append(min(max(i, 0), n))   # slice semantics: a[prev:i], clamped
        bounds.append(n)
        pieces = []
        for lo, hi in zip(bounds[:-1], bounds[1:]):
            lo = min(lo, n)
            pieces.append(narrow(input, ax, lo, max(hi - lo, 0)))
        return tuple(pieces)
    k = int(ios)
    if k <= 0:
        raise RuntimeError(f"number of sections must be larger than 0, got {k}")
    size, extra = divmod(n, k)
    pieces, pos = [], 0
    for i in range(k):
        length = size + (1 if i < extra else 0)
        pieces.append(narrow(input, ax, pos, length))
        pos += length
    return tuple(pieces)


def _dir_split(input, ios, name, dim, min_dims):
    nd = input._data.ndim
    if nd < min_dims:
        raise RuntimeError(f"torch.{name} requires a tensor with at least {min_dims} dimension, but got a tensor with "
                           f"{nd} dimensions!")
    if isinstance(ios, int) and not isinstance(ios, bool):
        size = input._data.shape[dim]
        if ios == 0 or size % ios:
            raise RuntimeError(f"torch.{name} attempted to split along dimension {dim}, but the size of the dimension "
                               f"{size} is not divisible by the split_size {ios}!")
    return tensor_split(input, ios, dim)


def hsplit(input, *args, sections=None, indices=None):
    """tensor_split along dim 1 (dim 0 for 1-d input); an int must divide the size."""
    ios = _split_arg("hsplit", input, args, sections, indices)
    return _dir_split(input, ios, "hsplit", 1 if input._data.ndim > 1 else 0, 1)


def vsplit(input, *args, sections=None, indices=None):
    """tensor_split along dim 0 of an input with at least 2 dims."""
    return _dir_split(input, _split_arg("vsplit", input, args, sections, indices), "vsplit", 0, 2)


def dsplit(input, *args, sections=None, indices=None):
    """tensor_split along dim 2 of an input with at least 3 dims."""
    return _dir_split(input, _split_arg("dsplit", input, args, sections, indices), "dsplit", 2, 3)


def _dir_split_method(fn):
    """Tensor.hsplit & co, which also take the indices one by one (x.hsplit(1, 2)), as torch.hsplit does not."""
    def method(self, *args, sections=None, indices=None):
        return fn(self, *((args,) if len(args) > 1 else args), sections=sections, indices=indices)
    method.__name__ = method.__qualname__ = fn.__name__
    method.__doc__ = fn.__doc__
    return method


def _atleast(tensors, nd):
    # one list or tuple of tensors: a tuple back, whatever its length (torch.atleast_2d([t]) is (t2,))
    listed = len(tensors) == 1 and isinstance(tensors[0], (list, tuple))
    if listed:
        tensors = tuple(tensors[0])
    out = []
    for t in tensors:
        k = t._data.ndim
        if k >= nd:
            out.append(t)
        elif nd == 1:
            out.append(reshape(t, 1))
        elif nd == 2:
            out.append(reshape(t, (1, 1)) if k == 0 else unsqueeze(t, 0))
        else:
            out.append(reshape(t, (1, 1, 1)) if k == 0 else unsqueeze(unsqueeze(t, 0), -1) if k == 1 else
                       unsqueeze(t, -1))
    return out[0] if len(out) == 1 and not listed else tuple(out)


def atleast_1d(*tensors):
    """Each tensor viewed with at least one dim (one tensor in, one out; several give a tuple)."""
    return _atleast(tensors, 1)


def atleast_2d(*tensors):
    """Each tensor viewed with at least two dims (a 1-d one as a row)."""
    return _atleast(tensors, 2)


def atleast_3d(*tensors):
    """Each tensor viewed with at least three dims (1-d as 1 x n x 1, 2-d as h x w x 1)."""
    return _atleast(tensors, 3)


def dstack(tensors):
    """Concatenate along the third dim (after atleast_3d)."""
    _check_list(tensors, "dstack")
    return cat(list(atleast_3d(tuple(tensors))), 2)


def column_stack(tensors):
    """Stack 0-d/1-d tensors as columns (and 2-d ones as they are) into a matrix."""
    _check_list(tensors, "column_stack")
    cols = [reshape(t, (t._data.size, 1)) if t._data.ndim <= 1 else t for t in tensors]
    return cat(cols, 1)


# ---- rot90, diag_embed, diagflat, block_diag, cartesian_prod, combinations --------------------------------
class Rot90Backward0(Node):
    __slots__ = ("k", "dims")
    _double_backward = True   # through _apply_tensors (create_graph=True)

    def _apply_tensors(self, grad, saved):
        """create_graph=True: rotating back is linear in grad; its transpose rotates forward."""
        from ..autograd.higher_order import linear_pair
        return linear_pair(self, grad, lambda a: xp_of(a).ascontiguousarray(xp_of(a).rot90(a, self.k, self.dims)))

    def apply(self, g):
        return (xp_of(g).ascontiguousarray(xp_of(g).rot90(g, -self.k, self.dims)),)


def rot90(input, k=1, dims=(0, 1)):
    """Rotate by 90 degrees k times in the plane of dims (from the first towards the second)."""
    a = input._data
    dims = list(dims)
    if len(dims) != 2:
        raise RuntimeError(f"expected total rotation dims == 2, but got dims = {len(dims)}")
    if a.ndim < 2:
        raise RuntimeError(f"expected total dims >= 2, but got total dims = {a.ndim}")
    d0, d1 = _dim(dims[0], a.ndim), _dim(dims[1], a.ndim)
    if d0 == d1:
        raise RuntimeError(f"expected rotation dims to be different, but got dim0 = {d0} and dim1 = {d1}")
    k = k % 4
    res = xp_of(a).ascontiguousarray(xp_of(a).rot90(a, k, (d0, d1)))
    node = None
    if state.enabled and input._requires_grad:
        node = _node(Rot90Backward0, input)
        node.k, node.dims = k, (d0, d1)
    return _finish(res, node)


class _DiagEmbedNdBackward(Node):
    __slots__ = ("offset", "d1", "d2")
    _double_backward = True   # through _apply_tensors (create_graph=True)

    def _apply_tensors(self, grad, saved):
        """create_graph=True: taking the diagonals is linear in grad; its transpose writes them in zeros."""
        from ..autograd.higher_order import linear_pair
        shape = grad.shape

        def embed(a):
            z = _zeros(shape, a)
            _diag_view(z, self.offset, self.d1, self.d2)[...] = a
            return z
        return linear_pair(self, grad, embed)

    def apply(self, g):
        return (_diag_view(g, self.offset, self.d1, self.d2).copy(),)


_DiagEmbedNdBackward.__name__ = _DiagEmbedNdBackward.__qualname__ = "DiagEmbedBackward0"


def diag_embed(input, offset=0, dim1=-2, dim2=-1):
    """Matrices (over dims dim1, dim2 of the result) whose `offset` diagonal is input's last dim."""
    a = input._data
    nd = a.ndim + 1
    d1, d2 = _dim(dim1, nd), _dim(dim2, nd)
    if d1 == d2:
        raise RuntimeError(f"diagonal dimensions cannot be identical {dim1}, {dim2}")
    xp = xp_of(a)
    n = (a.shape[-1] if a.ndim else 1) + abs(offset)
    lead = a.shape[:-1] if a.ndim else ()
    # build with the new dims last, then move them to d1, d2
    z = xp.zeros(lead + (n, n), dtype=a.dtype)
    _diag_view(z, offset, nd - 2, nd - 1)[...] = a
    rest = [i for i in range(nd) if i not in (d1, d2)]
    perm = [0] * nd
    for src, dst in enumerate(rest + [d1, d2]):
        perm[dst] = src
    res = xp.ascontiguousarray(z.transpose(perm))
    node = None
    if state.enabled and input._requires_grad:
        node = _node(_DiagEmbedNdBackward, input)
        node.offset, node.d1, node.d2 = offset, d1, d2
    return _finish(res, node)


def diagflat(input, offset=0):
    """A matrix with input's elements (flattened) on its `offset` diagonal."""
    return diag_embed(reshape(input, -1), offset, 0, 1)


class BlockDiagBackward0(Node):
    __slots__ = ("spans", "shapes")
    _double_backward = True   # through _apply_tensors (create_graph=True)

    def _apply_tensors(self, grad, saved):
        """create_graph=True: each block is a slice of grad; its transpose places it back in zeros."""
        from ..autograd.higher_order import linear_map
        shape = grad.shape

        def place(b, r0, c0, r, c):
            z = _zeros(shape, b)
            z[r0:r0 + r, c0:c0 + c] = b.reshape(r, c)
            return z
        return tuple(None if e[0] is None else
                     linear_map("BlockDiagBackward", lambda a, i=i: self.apply(a)[i],
                                lambda b, sp=sp: place(b, *sp), grad)
                     for i, (sp, e) in enumerate(zip(self.spans, self.next_functions)))

    def apply(self, g):
        out = []
        for (r0, c0, r, c), shape in zip(self.spans, self.shapes):
            out.append(g[r0:r0 + r, c0:c0 + c].reshape(shape))
        return tuple(out)


def block_diag(*tensors):
    """A block-diagonal matrix from the given tensors (0-d as 1x1, 1-d as a row)."""
    from .elementwise import result_type
    if not tensors:
        from .creation import empty
        return empty(1, 0)
    for i, t in enumerate(tensors):
        if t._data.ndim > 2:
            raise RuntimeError(f"torch.block_diag: Input tensors must have 2 or fewer dimensions. Input {i} has "
                               f"{t._data.ndim} dimensions")
    dt = tensors[0].dtype
    for t in tensors[1:]:
        dt = B.promote_types(dt, t.dtype)
    del result_type
    mats = [t._data.reshape(1, -1) if t._data.ndim < 2 else t._data for t in tensors]
    for m in mats[1:]:
        if type(m) is not type(mats[0]):
            B.check_same_device("block_diag", mats[0], m)
    rows = _int_sum(m.shape[0] for m in mats)
    cols = _int_sum(m.shape[1] for m in mats)
    xp = xp_of(mats[0])
    res = xp.zeros((rows, cols), dtype=dt.np)
    spans = []
    r0 = c0 = 0
    for m in mats:
        res[r0:r0 + m.shape[0], c0:c0 + m.shape[1]] = m
        spans.append((r0, c0, m.shape[0], m.shape[1]))
        r0 += m.shape[0]
        c0 += m.shape[1]
    node = None
    if state.enabled and _builtin_any(t._requires_grad for t in tensors):
        node = _new(BlockDiagBackward0)
        node.next_functions = tuple(edge(t) for t in tensors)
        node._saved_versions = ()
        node.spans, node.shapes = spans, [t._data.shape for t in tensors]
    return _finish(res, node)


def cartesian_prod(*tensors):
    """All combinations of one element from each 1-d tensor, one per row (1 tensor: itself)."""
    for t in tensors:
        if t._data.ndim != 1:
            raise RuntimeError(f"Expect a 1D vector, but got shape {list(t._data.shape)}")
    if len(tensors) == 1:
        return tensors[0]
    grids = meshgrid(*tensors, indexing="ij")
    return stack([reshape(g, -1) for g in grids], 1)


def combinations(input, r=2, with_replacement=False):
    """All length-r combinations of input's elements (itertools.combinations order), one per row."""
    import itertools
    a = input._data
    if a.ndim != 1:
        raise RuntimeError(f"Expect a 1D vector, but got shape {list(a.shape)}")
    if r < 0:
        raise RuntimeError(f"Expect a non-negative number, but got {r}")
    if r == 0:
        from .creation import empty
        return empty(0, dtype=input.dtype, device=input.device)
    n = a.shape[0]
    gen = itertools.combinations_with_replacement if with_replacement else itertools.combinations
    combos = list(gen(range(n), r))
    xp = xp_of(a)
    if not combos:
        from .creation import empty
        return empty(0, r, dtype=input.dtype, device=input.device)
    idx = B.host_array(combos).astype(np.int64)
    cols = [index_select(input, 0, _wrap(_to_device_of(idx[:, j].copy(), a) if type(a) is not _ndarray
                                         else idx[:, j].copy())) for j in range(r)]
    del xp
    return stack(cols, 1)


# ---- take_along_dim, unravel_index -----------------------------------------------------------------------
def take_along_dim(input, indices, dim=None):
    """Values of input at `indices` along dim (broadcasting the other dims); flattened when dim is None."""
    idx = _index_array(indices, "take_along_dim", input._data)
    if idx.dtype.kind not in "iu":
        raise RuntimeError(f"torch.take_along_dim(): dtype of indices should be Long but got {indices.dtype}")
    if dim is None:
        return gather(reshape(input, -1), 0, _wrap(idx.reshape(-1)))   # negative indices: gather's error
    a = input._data
    ax = _dim(dim, a.ndim)
    if idx.ndim != a.ndim:
        raise RuntimeError(f"torch.take_along_dim(): input and indices should have the same number of dimensions, "
                           f"but got {a.ndim} dimensions for input, and {idx.ndim} dimensions for indices")
    shp_in, shp_idx = list(a.shape), list(idx.shape)
    shp_in[ax] = shp_idx[ax] = 1
    try:
        bshape = np.broadcast_shapes(tuple(shp_in), tuple(shp_idx))
    except ValueError:
        raise RuntimeError(f"take_along_dim: shapes {list(a.shape)} and {list(idx.shape)} don't broadcast "
                           f"outside dim {ax}") from None
    in_shape = list(bshape)
    in_shape[ax] = a.shape[ax]
    idx_shape = list(bshape)
    idx_shape[ax] = idx.shape[ax]
    src = input if tuple(in_shape) == a.shape else expand(input, *in_shape)
    xp = xp_of(idx)
    if a.shape[ax] and idx.size:   # torch (2.x) wraps indices modulo the size here: -1 is the last one
        idx = idx % a.shape[ax]
    widx = xp.broadcast_to(idx, tuple(idx_shape))
    return gather(src, ax, _wrap(xp.ascontiguousarray(widx)))


def unravel_index(indices, shape):
    """The coordinates in an array of `shape` of each flat index, as a tuple of int64 tensors."""
    if not isinstance(indices, Tensor):
        indices = _wrap(B.host_array(indices))
    d = indices._data
    if d.dtype.kind not in "iu":
        raise TypeError(f"expected 'indices' to be integer dtype, but got {indices.dtype}")
    shape = (shape,) if isinstance(shape, int) else tuple(int(s) for s in shape)
    for s in shape:
        if s < 0:
            raise RuntimeError(f"'shape' cannot have negative values, but got {tuple(shape)}")
    xp = xp_of(d)
    rem = d.astype(np.int64)
    out = []
    for s in reversed(shape):
        if s == 0:
            out.append(xp.zeros_like(rem))
            continue
        out.append(xp.mod(rem, s))
        rem = xp.floor_divide(rem, s)
    return tuple(_wrap(B.host_array(o) if isinstance(o, _generic) else o) for o in reversed(out))


# ---- Tensor.unfold (a view) ---------------------------------------------------------------------------------
class UnfoldBackward0(Node):
    __slots__ = ("shape", "axis", "size", "step")
    _double_backward = True   # through _apply_tensors (create_graph=True)

    def _apply_tensors(self, grad, saved):
        """create_graph=True: adding the windows back is linear in grad; its transpose takes them."""
        from ..autograd.higher_order import linear_pair
        shape, ax, size, step, gshape = self.shape, self.axis, self.size, self.step, grad.shape

        def windows(a):
            xp = xp_of(a)
            if not shape:
                return a.reshape(gshape).copy()
            win = (xp.arange(gshape[ax]) * step)[:, None] + xp.arange(size)[None, :]
            t = xp.moveaxis(a, ax, 0)[win]   # (nwin, size, rest...)
            return xp.ascontiguousarray(xp.moveaxis(xp.moveaxis(t, 0, ax + 1), 0, -1))
        return linear_pair(self, grad, windows)

    def apply(self, g):
        xp = xp_of(g)
        z = _zeros(self.shape, g)
        if not self.shape:
            z[...] = g.reshape(())
            return (z,)
        ax = self.axis
        nwin = g.shape[ax]
        win = (xp.arange(nwin) * self.step)[:, None] + xp.arange(self.size)[None, :]
        gm = xp.moveaxis(xp.moveaxis(g, -1, 0), ax + 1, 0)   # (nwin, size, rest...)
        xp.add.at(xp.moveaxis(z, ax, 0), win, gm)
        return (z,)


def unfold(input, dimension, size, step):
    """A view with every window of `size` elements along `dimension` (stride `step`) as a new last dim."""
    a = input._data
    xp = xp_of(a)
    ax = _dim(dimension, max(a.ndim, 1))
    n = a.shape[ax] if a.ndim else 1
    if size > n:
        raise RuntimeError(f"maximum size for tensor at dimension {ax} is {n} but size is {size}")
    if step <= 0:
        raise RuntimeError(f"step is {step} but must be > 0")
    if size < 0:
        raise RuntimeError(f"size is {size} but must be >= 0")
    if a.ndim == 0:
        res = a.reshape(1)
    else:
        nwin = (n - size) // step + 1
        shape = a.shape[:ax] + (nwin,) + a.shape[ax + 1:] + (size,)
        strides = a.strides[:ax] + (a.strides[ax] * step,) + a.strides[ax + 1:] + (a.strides[ax],)
        res = xp.lib.stride_tricks.as_strided(a, shape, strides)
    node = None
    if state.enabled and input._requires_grad:
        node = _node(UnfoldBackward0, input)
        node.shape, node.axis, node.size, node.step = a.shape, ax, size, step
    return _as_view(res, input, node)


# ---- index_fill, index_copy, masked_scatter, put, fill_diagonal_, scatter_reduce ------------------------------
def _vector_index(index, name, like, axis_size, ax, negative=True):
    idx = _index_array(index, name, like)
    if idx.ndim > 1:
        raise RuntimeError("Index has to be a vector/scalar" if name.startswith("index_fill") else
                           f"{name}(): Index should have dimension 1 or 0 (got {idx.ndim})")
    idx = idx.reshape(-1).astype(np.int64, copy=False)
    low = -axis_size if negative else 0     # index_copy, like torch's, takes no negative indices
    if idx.size and (idx.min() < low or idx.max() >= axis_size):
        bad = int(idx.max()) if idx.max() >= axis_size else int(idx.min())
        raise IndexError(f"{'' if negative else name + '(): '}index {bad} is out of bounds for dimension {ax} "
                         f"with size {axis_size}")
    return xp_of(idx).where(idx < 0, idx + axis_size, idx) if idx.size else idx


class IndexFillBackward0(Node):
    __slots__ = ("axis", "index")
    _saved_fields = ("index",)
    _double_backward = True   # through _apply_tensors (create_graph=True)

    def _apply_tensors(self, grad, saved):
        """create_graph=True: zeroing the filled entries is linear in grad and its own transpose."""
        from ..autograd.higher_order import linear_pair
        return linear_pair(self, grad, lambda a: self.apply(a)[0])

    def apply(self, g):
        gs = g.copy()
        work = gs.reshape(1) if gs.ndim == 0 else gs
        xp_of(g).moveaxis(work, self.axis, 0)[self.index] = 0
        return (gs,)


class IndexFillBackward1(IndexFillBackward0):
    """index_fill with a 0-d tensor value: the value gets the sum of the gradient where it was written."""
    __slots__ = ("value_dtype",)
    _double_backward = False

    def apply(self, g):
        (gs,) = IndexFillBackward0.apply(self, g)
        xp = xp_of(g)
        work = g.reshape(1) if g.ndim == 0 else g
        filled = xp.moveaxis(work, self.axis, 0)[xp.unique(self.index)]
        return gs, filled.sum().astype(self.value_dtype)


def index_fill(input, dim, index, value):
    """A copy of input with every entry at `index` along dim set to value."""
    value_tensor = None
    if isinstance(value, Tensor):
        if value._data.ndim:
            raise RuntimeError(f"index_fill_ only supports a 0-dimensional value tensor, but got tensor with "
                               f"{value._data.ndim} dimension(s).")
        value_tensor, value = value, value.item()
    a = input._data
    ax = _dim(dim, max(a.ndim, 1))
    work_shape = a.shape if a.ndim else (1,)
    if isinstance(index, Tensor) and index._data.dtype != np.int64:
        raise IndexError(f"index_fill_(): Expected dtype int64 for index. (got {index.dtype}; convert with "
                         ".long())")
    idx = _vector_index(index, "index_fill", a, work_shape[ax], ax)
    if a.dtype.kind in "iu":   # (torch's overflow error, not NumPy's; a value tensor's item too)
        from .creation import _checked_int
        value = _checked_int(value, a.dtype, c_name=True)
    res = a.copy()
    work = res.reshape(1) if a.ndim == 0 else res
    xp_of(a).moveaxis(work, ax, 0)[idx] = value
    node = None
    if value_tensor is not None and state.enabled and value_tensor._requires_grad:
        node = _node(IndexFillBackward1, input)
        node.next_functions += (edge(value_tensor),)
        node.value_dtype = value_tensor._data.dtype
    elif state.enabled and input._requires_grad:
        node = _node(IndexFillBackward0, input)
    if node is not None:
        node.axis, node.index = ax, idx
    return _finish(res, node)


class IndexCopyBackward0(Node):
    __slots__ = ("axis", "index", "src_shape")
    _saved_fields = ("index",)
    _double_backward = True   # through _apply_tensors (create_graph=True)

    def _apply_tensors(self, grad, saved):
        """create_graph=True: both gradients are linear in grad (a zeroing, its own transpose, and a
        selection, whose transpose writes back)."""
        from ..autograd.higher_order import linear_map
        nf, shape, ax, index = self.next_functions, grad.shape, self.axis, self.index

        def write_back(b):
            z = _zeros(shape, b)
            work = z.reshape(1) if z.ndim == 0 else z
            xp = xp_of(b)
            xp.moveaxis(work, ax, 0)[index] = xp.moveaxis(b.reshape(_work_shape(work.shape, ax, index.size)), ax, 0)
            return z
        zeroed = lambda a: self.apply(a)[0]   # noqa: E731
        return (linear_map("IndexCopyBackward", zeroed, zeroed, grad) if nf[0][0] is not None else None,
                linear_map("IndexCopyBackward", lambda a: self.apply(a)[1], write_back, grad)
                if nf[1][0] is not None else None)

    def apply(self, g):
        xp = xp_of(g)
        work = g.reshape(1) if g.ndim == 0 else g
        gi = gs = None
        if self.next_functions[0][0] is not None:
            gi = g.copy()
            xp.moveaxis(gi.reshape(1) if gi.ndim == 0 else gi, self.axis, 0)[self.index] = 0
        if self.next_functions[1][0] is not None:
            gs = xp.take(work, self.index, axis=self.axis).reshape(self.src_shape)
        return gi, gs


def index_copy(input, dim, index, source):
    """A copy of input with source's slices along dim written at `index`."""
    a = input._data
    if not isinstance(source, Tensor):
        raise TypeError(f"index_copy(): argument 'source' (position 3) must be Tensor, not {type(source).__name__}")
    s = source._data
    ax = _dim(dim, max(a.ndim, 1))
    work_shape = a.shape if a.ndim else (1,)
    idx = _vector_index(index, "index_copy_", a, work_shape[ax], ax, negative=False)
    swork = s.reshape(1) if s.ndim == 0 else s
    if idx.size != (swork.shape[ax] if swork.ndim > ax else 1):
        raise IndexError(f"index_copy_(): Number of indices ({idx.size}) should be equal to source.size(dim) "
                         f"({swork.shape[ax] if swork.ndim > ax else 1})")
    if s.dtype != a.dtype:
        raise RuntimeError(f"index_copy_(): self and source expected to have the same dtype, but got (self) "
                           f"{B.scalar_name(a.dtype)} and (source) {B.scalar_name(s.dtype)}")
    if type(s) is not type(a):
        B.check_same_device("index_copy", a, s)
    res = a.copy()
    xp = xp_of(a)
    work = res.reshape(1) if a.ndim == 0 else res
    try:
        xp.moveaxis(work, ax, 0)[idx] = xp.moveaxis(swork, ax, 0)
    except ValueError:
        raise RuntimeError(f"index_copy_(): source shape {list(s.shape)} must match self shape {list(a.shape)} "
                           f"apart from dimension {ax}") from None
    node = None
    if state.enabled and (input._requires_grad or source._requires_grad):
        node = _new(IndexCopyBackward0)
        node.next_functions = (edge(input), edge(source))
        node._saved_versions = ()
        node.axis, node.index, node.src_shape = ax, idx, s.shape
    return _finish(res, node)


class MaskedScatterBackward0(Node):
    __slots__ = ("mask", "src_shape", "in_shape")
    _saved_fields = ("mask",)
    _double_backward = True   # through _apply_tensors (create_graph=True)

    def _apply_tensors(self, grad, saved):
        """create_graph=True: both gradients are linear in grad (a masking and a selection)."""
        from ..autograd.higher_order import linear_map
        nf, mask, in_shape = self.next_functions, self.mask, self.in_shape

        def unmask(b):   # the transpose of input's gradient: broadcast back, zero where masked
            return xp_of(b).where(mask, 0, xp_of(b).broadcast_to(b, mask.shape)).astype(b.dtype, copy=False)

        def place(b):    # the transpose of source's: its leading elements written where masked
            z = _zeros(mask.shape, b)
            z[mask] = b.reshape(-1)[:int(mask.sum())]
            return z
        return (linear_map("MaskedScatterBackward", lambda a: self.apply(a)[0], unmask, grad)
                if nf[0][0] is not None else None,
                linear_map("MaskedScatterBackward", lambda a: self.apply(a)[1], place, grad)
                if nf[1][0] is not None else None)

    def apply(self, g):
        xp = xp_of(g)
        m = self.mask
        gi = gs = None
        if self.next_functions[0][0] is not None:
            gi = unbroadcast(B.where(xp, m, 0, g).astype(g.dtype, copy=False), self.in_shape)
        if self.next_functions[1][0] is not None:
            vals = g[m]
            n = 1
            for k in self.src_shape:
                n *= k
            flat = xp.zeros(n, dtype=g.dtype)
            flat[:vals.size] = vals
            gs = flat.reshape(self.src_shape)
        return gi, gs


def masked_scatter(input, mask, source):
    """A copy of input with source's leading elements (in order) written where mask is True."""
    a, m = input._data, mask._data
    if m.dtype.kind != "b":
        raise RuntimeError(f"masked_scatter_ only supports boolean masks, but got mask with dtype {mask.dtype}")
    if not isinstance(source, Tensor):
        raise TypeError(f"masked_scatter(): argument 'source' must be Tensor, not {type(source).__name__}")
    s = source._data
    if s.dtype != a.dtype:
        raise RuntimeError(f"masked_scatter: expected self and source to have same dtypes but got"
                           f"{B.scalar_name(a.dtype)} and {B.scalar_name(s.dtype)}")
    if type(m) is not type(a):
        B.check_same_device("masked_scatter", a, m)
    xp = xp_of(a)
    try:
        shape = np.broadcast_shapes(a.shape, m.shape)
    except ValueError:
        raise RuntimeError(f"masked_scatter: the shape of the mask {list(m.shape)} must be broadcastable to the "
                           f"shape of the input {list(a.shape)}") from None
    mb = xp.broadcast_to(m, shape)
    res = xp.broadcast_to(a, shape).copy()
    k = int(mb.sum())
    if k > s.size:
        raise RuntimeError(f"Number of elements of source < number of ones in mask (masked_scatter: mask has {k} "
                           f"True elements, source has {s.size})")
    res[mb] = s.reshape(-1)[:k]
    node = None
    if state.enabled and (input._requires_grad or source._requires_grad):
        node = _new(MaskedScatterBackward0)
        node.next_functions = (edge(input), edge(source))
        node._saved_versions = ()
        node.mask, node.src_shape, node.in_shape = mb, s.shape, a.shape
    return _finish(res, node)


class PutBackward0(Node):
    __slots__ = ("index", "accumulate", "src_shape")
    _saved_fields = ("index",)
    _double_backward = True   # through _apply_tensors (create_graph=True)

    def _apply_tensors(self, grad, saved):
        """create_graph=True: both gradients are linear in grad (a zeroing and a flat selection)."""
        from ..autograd.higher_order import linear_map
        nf, shape, index = self.next_functions, grad.shape, self.index

        def add_back(b):
            z = _zeros(shape, b)
            xp_of(b).add.at(z.reshape(-1), index, b.reshape(-1))
            return z
        own = lambda a: self.apply(a)[0]   # noqa: E731
        return ((grad if self.accumulate else linear_map("PutBackward", own, own, grad))
                if nf[0][0] is not None else None,
                linear_map("PutBackward", lambda a: self.apply(a)[1], add_back, grad)
                if nf[1][0] is not None else None)

    def apply(self, g):
        gi = gs = None
        flat = g.reshape(-1)
        if self.next_functions[0][0] is not None:
            gi = g.copy()
            if not self.accumulate:
                gi.reshape(-1)[self.index] = 0
        if self.next_functions[1][0] is not None:
            gs = flat[self.index].reshape(self.src_shape)
        return gi, gs


def put(input, index, source, accumulate=False):
    """A copy of input (seen as 1-d) with source written (or added) at the flat `index` positions."""
    a = input._data
    idx = _index_array(index, "put", a).reshape(-1).astype(np.int64, copy=False)
    s = source._data
    if s.dtype != a.dtype:
        raise RuntimeError(f"put_(): self and source expected to have the same dtype, but got self.dtype = "
                           f"{B.scalar_name(a.dtype)} and source.dtype = {B.scalar_name(s.dtype)}")
    if idx.size != s.size:
        raise RuntimeError(f"put_(): Expected source and index to have the same number of elements, but got "
                           f"source.numel() = {s.size}, index.numel() = {idx.size}")
    n = a.size
    if idx.size and (idx.min() < -n or idx.max() >= n):
        bad = int(idx.max()) if idx.max() >= n else int(idx.min())
        raise IndexError(f"out of range: tried to access index {bad} on a tensor of {n} elements.")
    xp = xp_of(a)
    idx = B.where(xp, idx < 0, idx + n, idx) if idx.size else idx
    res = a.copy()
    flat = res.reshape(-1)
    if accumulate:
        xp.add.at(flat, idx, s.reshape(-1))
    else:
        flat[idx] = s.reshape(-1)
    node = None
    if state.enabled and (input._requires_grad or source._requires_grad):
        node = _new(PutBackward0)
        node.next_functions = (edge(input), edge(source))
        node._saved_versions = ()
        node.index, node.accumulate, node.src_shape = idx, accumulate, s.shape
    return _finish(res, node)


_SCATTER_REDUCES = ("sum", "prod", "mean", "amax", "amin")


class ScatterReduceBackward0(Node):
    __slots__ = ("reduce", "include_self", "x", "src", "out", "fancy", "region", "counts", "hit")
    _saved_fields = ("x", "src", "out", "fancy", "counts")
    _double_backward = True   # through _apply_tensors (create_graph=True), all but prod

    def _apply_tensors(self, grad, saved):
        """create_graph=True: but for prod both gradients are linear in grad (input's a scaling, source's
        a scaled selection (g / n)[fancy] * e, whose transpose adds back), n and e piecewise constant."""
        from ..autograd.higher_order import linear_map
        if self.reduce == "prod" or grad.ndim == 0:
            raise NotImplementedError(f"create_graph=True: ember cannot differentiate the backward of "
                                      f"scatter_reduce(reduce={self.reduce!r}) yet")
        nf, shape, fancy, region = self.next_functions, grad.shape, self.fancy, self.region
        n, e = (None, None) if self.reduce == "sum" else (self.counts, None) if self.reduce == "mean" else \
            self._ties()

        def add_back(b):
            b = b[region] if e is None else b[region] * e
            z = _zeros(shape, b)
            xp_of(b).add.at(z, fancy, b)
            return z if n is None else z / n
        own = lambda a: self.apply(a)[0]   # noqa: E731  (a diagonal map: its own transpose)
        return (linear_map("ScatterReduceBackward", own, own, grad) if nf[0][0] is not None and
                (n is not None or not self.include_self) else grad if nf[0][0] is not None else None,
                linear_map("ScatterReduceBackward", lambda a: self.apply(a)[1], add_back, grad)
                if nf[1][0] is not None else None)

    def _ties(self):
        """amax/amin: how many entries tie for each result (n) and which source entries are among them (e)."""
        xp = xp_of(self.x)
        eq_self = (self.x == self.out) if self.include_self else (self.x == self.out) & ~self.hit
        eq_src = self.src[self.region] == self.out[self.fancy]
        n = eq_self.astype(self.x.dtype)
        xp.add.at(n, self.fancy, eq_src.astype(self.x.dtype))
        return B.where(xp, n == 0, 1, n), eq_src

    def apply(self, g):
        xp = xp_of(g)
        red, fancy, region = self.reduce, self.fancy, self.region
        x, src, out = self.x, self.src, self.out
        gi = gs = None
        srcw = src[region]
        if red == "sum":
            gi = g
            gsw = g[fancy]
        elif red == "mean":
            gi = g / self.counts
            gsw = gi[fancy]
        elif red == "prod":
            with B.errstate(xp, divide="ignore", invalid="ignore"):
                gi = g * out / x
                gsw = (g * out)[fancy] / srcw
            if (x == 0).any() or (srcw == 0).any():
                gi, gsw = self._prod_exact(g)
        else:
            eq_self = (x == out) if self.include_self else (x == out) & ~self.hit
            eq_src = srcw == out[fancy]
            n = eq_self.astype(g.dtype)
            xp.add.at(n, fancy, eq_src.astype(g.dtype))
            gi = g * eq_self / B.where(xp, n == 0, 1, n)
            gsw = (g / B.where(xp, n == 0, 1, n))[fancy] * eq_src
        if not self.include_self:
            gi = B.where(xp, self.hit, 0, gi)
        if self.next_functions[1][0] is not None:
            gs = xp.zeros(src.shape, dtype=g.dtype)
            gs[region] = gsw
        gi = gi.astype(g.dtype, copy=False) if self.next_functions[0][0] is not None else None
        return gi, gs

    def _prod_exact(self, g):
        # with zeros: each factor's gradient is the product of all the others at its position
        xp = xp_of(g)
        x, src, fancy, region = self.x, self.src, self.fancy, self.region
        srcw = src[region]
        flat_pos = xp.ravel_multi_index(xp.broadcast_arrays(*fancy), x.shape).reshape(-1)
        vals = srcw.reshape(-1)
        gi = xp.zeros_like(g)
        gsw = xp.zeros(vals.shape, dtype=g.dtype)
        xf, gf = x.reshape(-1), g.reshape(-1)
        for p in range(x.size):
            members = xp.flatnonzero(flat_pos == p)
            factors = [xf[p]] if self.include_self else []
            factors += [vals[j] for j in members.tolist()]
            for k, j in enumerate(([-1] if self.include_self else []) + members.tolist()):
                others = 1.0
                for kk, f in enumerate(factors):
                    if kk != k:
                        others = others * f
                if j == -1:
                    gi.reshape(-1)[p] = gf[p] * others
                else:
                    gsw[j] = gf[p] * others
            if not members.size:
                gi.reshape(-1)[p] = gf[p]
        return gi, gsw.reshape(srcw.shape)


def scatter_reduce(input, dim, index, src, reduce, *, include_self=True):
    """A copy of input with src reduced into it at index along dim (sum, prod, mean, amax or amin)."""
    if reduce not in _SCATTER_REDUCES:
        raise RuntimeError(f"reduce argument must be either sum, prod, mean, amax or amin, got {reduce}")
    a = input._data
    idx = _index_array(index, "scatter_reduce", a)
    ax = _dim(dim, max(a.ndim, 1))
    s = src._data
    if s.dtype != a.dtype:
        raise RuntimeError(f"scatter_reduce(): Expected self.dtype to be equal to src.dtype (got {input.dtype} and "
                           f"{src.dtype})")
    _check_gather("scatter_reduce", a, idx, ax, s.shape if s.ndim else (1,))
    xp = xp_of(a)
    work_in = a.reshape(1) if a.ndim == 0 else a
    widx = idx.reshape(1) if idx.ndim == 0 else idx
    swork = s.reshape(1) if s.ndim == 0 else s
    fancy = _fancy(widx, ax)
    region = tuple(slice(0, k) for k in widx.shape)
    vals = swork[region]
    res = work_in.copy()
    hit = xp.zeros(res.shape, dtype=bool)
    hit[fancy] = True
    counts = xp.zeros(res.shape, dtype=np.int64)
    xp.add.at(counts, fancy, 1)
    if not include_self:
        if reduce in ("sum", "mean"):
            ident = 0
        elif reduce == "prod":
            ident = 1
        elif a.dtype.kind == "f":
            ident = -np.inf if reduce == "amax" else np.inf
        elif a.dtype.kind == "b":
            ident = reduce == "amin"
        else:
            info = np.iinfo(a.dtype)
            ident = info.min if reduce == "amax" else info.max
        res[hit] = ident
    else:
        counts = counts + 1
    if reduce in ("sum", "mean"):
        xp.add.at(res, fancy, vals)
    elif reduce == "prod":
        xp.multiply.at(res, fancy, vals)
    elif reduce == "amax":
        xp.maximum.at(res, fancy, vals)
    else:
        xp.minimum.at(res, fancy, vals)
    if reduce == "mean":
        c = xp.maximum(counts, 1)
        res = (res // c).astype(a.dtype) if a.dtype.kind in "iub" else (res / c).astype(a.dtype, copy=False)
    res = res.reshape(a.shape)
    node = None
    if state.enabled and (input._requires_grad or src._requires_grad):
        node = _new(ScatterReduceBackward0)
        node.next_functions = (edge(input), edge(src))
        node._saved_versions = ((input, input._vc[0]), (src, src._vc[0]))
        node.reduce, node.include_self = reduce, include_self
        node.x, node.src, node.out = work_in, swork, res.reshape(work_in.shape)
        node.fancy, node.region, node.hit = fancy, region, hit
        node.counts = xp.maximum(counts, 1).astype(a.dtype)
        if a.ndim == 0:
            node = _ScalarReshape(node, a.shape)
    return _finish(res, node)


def _ScalarReshape(node, shape):
    # a 0-d input works on a 1-element copy: its gradients come back as shape ()
    apply = node.apply

    class _Wrapped(type(node)):
        __slots__ = ()

        def apply(self, g):
            gi, gs = apply(g.reshape(1))
            return (gi.reshape(shape) if gi is not None else None,
                    gs.reshape(shape) if gs is not None and gs.size == 1 and not node.src.ndim else gs)
    _Wrapped.__name__ = type(node).__name__
    node.__class__ = _Wrapped
    return node


# ---- fill_diagonal_, sum_to_size, as_strided ----------------------------------------------------------------
def _diag_positions(xp, shape, wrap):
    nd = len(shape)
    if nd < 2:
        raise RuntimeError(f"dimensions must larger than 1 (fill_diagonal_ got a {nd}-d tensor)")
    if nd > 2 and len(set(shape)) != 1:
        raise RuntimeError("all dimensions of input must be of equal length")
    if nd > 2:
        i = xp.arange(shape[0])
        return tuple(i for _ in range(nd))
    h, w = shape
    if wrap and h > w + 1:
        # numpy's fill_diagonal(wrap=True): the diagonal restarts every w + 1 rows
        flat = xp.arange(0, h * w, w + 1)
        return flat // w, flat % w
    n = min(h, w)
    return xp.arange(n), xp.arange(n)


def fill_diagonal_(input, fill_value, wrap=False):
    """Fill the main diagonal (all dims equal for more than 2) with fill_value, in place."""
    a = input._data
    pos = _diag_positions(xp_of(a), a.shape, wrap)
    if isinstance(fill_value, Tensor):
        fill_value = fill_value.item()
    if state.enabled and input._requires_grad:
        if a.ndim == 2 and not (wrap and a.shape[0] > a.shape[1] + 1):
            setitem(diagonal(input), Ellipsis, fill_value)   # a write into a view: CopySlices, as torch
            return input
        key = tuple(_wrap(p.astype(np.int64)) for p in pos)
        setitem(input, key, fill_value)
        return input
    if a.dtype.kind in "iu" and (type(fill_value) is int or type(fill_value) is float):   # (torch's overflow error)
        from .creation import _checked_int
        fill_value = _checked_int(fill_value, a.dtype, c_name=True)
    a[pos] = fill_value
    input._vc[0] += 1
    return input


def sum_to_size(input, *size):
    """Sum input down to `size` (a shape input is expandable to), undoing broadcasting."""
    shape = _sizes(size, "sum_to_size")
    a = input._data
    ok = len(shape) <= a.ndim and _builtin_all(
        s == 1 or s == t for s, t in zip(shape, a.shape[a.ndim - len(shape):]))
    if not ok:
        raise RuntimeError(f"size {{{list(shape)}}} is not expandable to size {{{list(a.shape)}}}.")
    if tuple(shape) == a.shape:
        return input
    from .reduce import sum as _sum
    lead = a.ndim - len(shape)
    dims = list(range(lead)) + [lead + i for i, s in enumerate(shape) if s == 1 and a.shape[lead + i] != 1]
    out = _sum(input, dims, keepdim=True)
    return view(out, *shape) if lead else out


_builtin_all = all


class _AsStridedOpBackward(Node):
    """as_strided's gradient: g summed into storage positions, then read back at the input's positions."""
    __slots__ = ("out_pos", "in_pos", "storage_size", "in_shape")
    _saved_fields = ("out_pos", "in_pos")
    _double_backward = True   # through _apply_tensors (create_graph=True)

    def _apply_tensors(self, grad, saved):
        """create_graph=True: linear in grad; its transpose spreads the input over storage and reads the view."""
        from ..autograd.higher_order import linear_pair
        out_pos, in_pos, n = self.out_pos, self.in_pos, self.storage_size

        def read(a):
            flat = xp_of(a).zeros(n, dtype=a.dtype)
            xp_of(a).add.at(flat, in_pos.reshape(-1), a.reshape(-1))
            return flat[out_pos]
        return linear_pair(self, grad, read)

    def apply(self, g):
        xp = xp_of(g)
        flat = xp.bincount(self.out_pos.reshape(-1), weights=g.reshape(-1).astype(np.float64),
                           minlength=self.storage_size)
        return (flat[self.in_pos].reshape(self.in_shape).astype(g.dtype, copy=False),)


_AsStridedOpBackward.__name__ = _AsStridedOpBackward.__qualname__ = "AsStridedBackward0"


def _storage_array(input):
    """The array of input's whole storage (what as_strided's offsets and strides index), in C order."""
    base = input._base
    root = memory_root(input._data)   # (a tensor made by as_strided_, set_ or detach() of a view: its storage)
    if base is not None and memory_root(base._data) is root:   # (a view set_ elsewhere keeps its _base)
        return base._data
    return root if root.flags.c_contiguous else input._data


def _strided_geometry(name, r, a, size, stride, storage_offset):
    """size, stride and offset of an as_strided-style view of storage array r (a: the tensor's own array,
    whose offset is the default), checked as torch checks them."""
    size, stride = tuple(int(s) for s in size), tuple(int(s) for s in stride)
    if len(size) != len(stride):
        raise RuntimeError(f"mismatch in length of strides and shape ({name} got size {list(size)} and stride "
                           f"{list(stride)})")
    if _builtin_any(s < 0 for s in stride) or _builtin_any(s < 0 for s in size):
        raise RuntimeError(f"{name}: negative sizes or strides are not supported (got size {list(size)}, "
                           f"stride {list(stride)})")
    if not r.flags.c_contiguous:
        raise RuntimeError(f"{name}: ember needs the tensor's storage in C order; call .contiguous() first")
    item = r.itemsize
    own = (B.data_ptr(a) - B.data_ptr(r)) // item if a.size else 0
    offset = own if storage_offset is None else int(storage_offset)
    if offset < 0:
        raise RuntimeError(f"Tensor: invalid storage offset {offset} ({name}'s storage_offset counts elements from "
                           "the storage's start: 0 or more)")
    need = offset + 1 + _int_sum((n - 1) * s for n, s in zip(size, stride)) if _builtin_all(size) else 0
    if need > r.size:
        raise RuntimeError(f"setStorage: sizes {list(size)}, strides {list(stride)}, storage offset {offset}, and "
                           f"itemsize {item} requiring a storage size of {need * item} are out of bounds for storage "
                           f"of size {r.size * item}")
    return size, stride, offset


def _storage_positions(xp, size, stride, offset):
    """The storage position of each element of an as_strided view (an int64 array of shape size)."""
    pos = xp.full((), offset, dtype=np.int64)
    for k, (n, s) in enumerate(zip(size, stride)):
        shape = [1] * len(size)
        shape[k] = n
        pos = pos + xp.arange(n, dtype=np.int64).reshape(shape) * s
    return xp.broadcast_to(pos, size)


def as_strided(input, size, stride, storage_offset=None):
    """A view of input's storage with the given sizes and (element) strides, as torch.as_strided."""
    a = input._data
    r = _storage_array(input)
    xp = xp_of(a)
    size, stride, offset = _strided_geometry("as_strided", r, a, size, stride, storage_offset)
    item = r.itemsize
    flat = r.reshape(-1)
    res = xp.lib.stride_tricks.as_strided(flat[offset:] if r.size else flat, size, tuple(s * item for s in stride))
    if xp is np and _expanded(res):
        res.flags.writeable = False   # (elements sharing memory: writes are refused, as torch's, or aliased)
    node = None
    if state.enabled and input._requires_grad:
        node = _node(_AsStridedOpBackward, input)
        node.out_pos = _storage_positions(xp, size, stride, offset)
        in_pos = _positions(a, r)
        if in_pos is None:
            raise RuntimeError("as_strided: can't track the gradient of a tensor with this memory layout; "
                               "call .contiguous() first")
        node.in_pos, node.storage_size, node.in_shape = in_pos, r.size, a.shape
    return _as_view(res, input, node)


class _AsStridedInplaceBackward(_AsStridedOpBackward):
    """as_strided_'s node (torch names the in-place form's node AsStridedBackward1)."""
    __slots__ = ()


_AsStridedInplaceBackward.__name__ = _AsStridedInplaceBackward.__qualname__ = "AsStridedBackward1"


def as_strided_(input, size, stride, storage_offset=None):
    """Make input the as_strided view of its own storage, in place (torch.Tensor.as_strided_)."""
    _check_inference(input)
    if state.enabled and input._requires_grad and input.grad_fn is None:
        raise _leaf_error(input._base is not None)
    view = as_strided(input, size, stride, storage_offset)
    input._data = view._data
    if view.grad_fn is not None:
        view.grad_fn.__class__ = _AsStridedInplaceBackward
        input.grad_fn = view.grad_fn
    input._vc[0] += 1
    if input._base is not None and getattr(input, "_view_vc", None) is not None:
        input._view_vc = input._vc[0]   # (its grad_fn now describes this version: nothing to replay)
    return input


class AsStridedScatterBackward0(Node):
    """as_strided_scatter's gradient: input gets g where src did not land, each src element g where it landed
    (an element another src element overwrote gets none)."""
    __slots__ = ("targets", "winners", "src_shape")

    def apply(self, g):
        xp = xp_of(g)
        flat_g = g.reshape(-1)   # (g arrives C-ordered, as the output)
        gi = gs = None
        if self.next_functions[0][0] is not None:
            gi = g.copy()
            gi.reshape(-1)[self.targets] = 0
        if self.next_functions[1][0] is not None:
            gs = xp.zeros(self.src_shape, dtype=g.dtype)
            gs.reshape(-1)[self.winners] = flat_g[self.targets]
        return gi, gs


def as_strided_scatter(input, src, size, stride, storage_offset=None):
    """A copy of input with src written where input.as_strided(size, stride, storage_offset) looks."""
    for pos, (what, t) in enumerate((("input", input), ("src", src))):
        if not isinstance(t, Tensor):
            raise TypeError(f"as_strided_scatter(): argument '{what}' (position {pos + 1}) must be Tensor, not "
                            f"{type(t).__name__}")
    a, s = input._data, src._data
    if type(s) is not type(a):
        B.check_same_device("as_strided_scatter", a, s)
    xp = xp_of(a)
    expanded = _expanded(a)
    # an input whose elements share memory is cloned first, in torch: the storage is that C-ordered clone
    if expanded:
        r = a = a.copy()
    else:
        r = _storage_array(input)
    size, stride, offset = _strided_geometry("as_strided_scatter", r, a, size, stride, storage_offset)
    if s.shape != size:
        raise RuntimeError(f"expected src to have a size equal to the slice of self. src size = {list(s.shape)}, "
                           f"slice size = {list(size)}")
    if _builtin_any(st == 0 and n > 1 for st, n in zip(stride, size)):
        raise RuntimeError("unsupported operation: more than one element of the written-to tensor refers to a single "
                           f"memory location (as_strided_scatter with size {list(size)} and stride {list(stride)}). "
                           "Please clone() the tensor before performing the operation.")
    in_pos = _positions(a, r)
    if in_pos is None:
        raise RuntimeError("as_strided_scatter: ember can't map this input's memory layout to its storage; "
                           "call .contiguous() first")
    # element of the output (input's C order) at each storage position; -1 where input has none
    where = xp.full(r.size, -1, dtype=np.int64)
    where[in_pos.reshape(-1)] = xp.arange(a.size, dtype=np.int64)
    hit = where[_storage_positions(xp, size, stride, offset).reshape(-1)]
    # where src elements overlap, the last one lands (as torch's copy_); positions outside input are dropped
    order = xp.argsort(hit, kind="stable")
    ranked = hit[order]
    last = xp.ones(hit.size, dtype=bool)
    last[:-1] = ranked[1:] != ranked[:-1]
    winners = order[last & (ranked >= 0)]
    targets = hit[winners]
    out = a.copy()   # (C order)
    out.reshape(-1)[targets] = s.reshape(-1)[winners]
    own = (B.data_ptr(a) - B.data_ptr(r)) // r.itemsize if a.size else 0
    if a.size and (own or a.size != r.size or not a.flags.c_contiguous) and not expanded:
        # torch clones the input's whole storage (clone_preserve_strides): the result keeps its strides and
        # storage offset
        whole = r.reshape(-1).copy()
        view = xp.lib.stride_tricks.as_strided(whole[own:], a.shape, a.strides)
        view[...] = out
        out = view
    node = None
    if state.enabled and (input._requires_grad or src._requires_grad):
        node = _new(AsStridedScatterBackward0)
        node.next_functions = (edge(input) if input._requires_grad else (None, 0),
                               edge(src) if src._requires_grad else (None, 0))
        node._saved_versions = ()
        node.targets, node.winners, node.src_shape = targets, winners, s.shape
    return _finish(out, node)


def _register_more2():
    T = Tensor
    from .elementwise import _inplace
    for fn in (ravel, tensor_split, rot90, diag_embed, diagflat, take_along_dim, unfold,
               index_fill, index_copy, masked_scatter, put, fill_diagonal_, scatter_reduce, sum_to_size, as_strided,
               as_strided_, as_strided_scatter):
        setattr(T, fn.__name__, fn)
    T.hsplit, T.vsplit, T.dsplit = (_dir_split_method(fn) for fn in (hsplit, vsplit, dsplit))

    def _inplace_of(op, name, tensor_args):
        def method(self, *args, **kwargs):
            f = lambda s, *rest: op(s, *rest, **kwargs)  # noqa: E731
            grad = state.enabled and (self._requires_grad or _builtin_any(
                isinstance(x, Tensor) and x._requires_grad for x in args))
            if grad:
                return _inplace(self, None, f, args)
            return _inplace(self, f(self, *args)._data, f, args)
        method.__name__ = name
        method.__doc__ = f"In-place {op.__name__}."
        return method
    T.index_fill_ = _inplace_of(index_fill, "index_fill_", ())
    T.index_copy_ = _inplace_of(index_copy, "index_copy_", ())
    T.masked_scatter_ = _inplace_of(masked_scatter, "masked_scatter_", ())
    T.put_ = _inplace_of(put, "put_", ())
    T.scatter_reduce_ = _inplace_of(scatter_reduce, "scatter_reduce_", ())

    def H(self):
        """The conjugate transpose of a matrix (the transpose, for real dtypes)."""
        nd = self._data.ndim
        if nd == 0:
            import warnings
            warnings.warn("Tensor.H is deprecated on 0-D tensors. Consider using x.conj().", UserWarning, stacklevel=2)
            return self
        if nd != 2:
            raise RuntimeError(f"tensor.H is only supported on matrices (2-D tensors). Got {nd}-D tensor."
                               + (" For batches of matrices, consider using tensor.mH" if nd > 2 else ""))
        return _conj_if_complex(transpose(self, 0, 1))

    def mT(self):
        """The transpose of the last two dims (a view)."""
        return _batch_transpose(self, "mT", False)

    def mH(self):
        """The conjugate transpose of the last two dims (the transpose, for real dtypes)."""
        return _batch_transpose(self, "mH", True)

    def adjoint(self):
        """The conjugate transpose of the last two dims (the transpose, for real dtypes)."""
        return _batch_transpose(self, "adjoint()", True)

    T.H = property(H)
    T.mT = property(mT)
    T.mH = property(mH)
    T.adjoint = adjoint
    # Tensor.real / Tensor.imag: ember/ops/complex.py
    T.layout = property(lambda self: B.strided, doc="The memory layout: always torch.strided.")


_register_more2()


_BATCH_T_WARNED = set()   # torch warns once per process and name (TORCH_WARN_ONCE)


def _batch_transpose(self, name, conj):
    """Tensor.mT / mH / adjoint(): a 0-d tensor passes through (with torch's deprecation warning), a
    1-d one has no matrix to transpose."""
    nd = self._data.ndim
    if nd == 1:
        raise RuntimeError(f"tensor.{name} is only supported on matrices or batches of matrices. Got 1-D tensor. "
                           f"(for a vector, use x.unsqueeze(-1).{name.rstrip('()')} to get a column matrix)")
    if nd == 0:
        if name not in _BATCH_T_WARNED:
            _BATCH_T_WARNED.add(name)
            _warn_user(f"Tensor.{name} is deprecated on 0-D tensors. This function is the identity in these cases."
                       if name == "mT" else f"{'Tensor.mH' if name == 'mH' else name} is deprecated on 0-D "
                       "tensors. Consider using x.conj().")
        return _conj_if_complex(self) if conj else self
    t = transpose(self, -2, -1)
    return _conj_if_complex(t) if conj else t


def _conj_if_complex(t):
    """The conjugate of a complex tensor (ember has no lazy conj bit: a copy); a real tensor itself."""
    if t._data.dtype.kind != "c":
        return t
    from .complex import conj
    return conj(t)


def adjoint(input):
    """The conjugate transpose of the last two dims (a view)."""
    return input.adjoint()


__all__ += ["ravel", "tensor_split", "hsplit", "vsplit", "dsplit", "atleast_1d", "atleast_2d", "atleast_3d", "dstack",
            "column_stack", "rot90", "diag_embed", "diagflat", "block_diag", "cartesian_prod", "combinations",
            "take_along_dim", "unravel_index", "index_fill", "index_copy", "masked_scatter", "put", "scatter_reduce",
            "as_strided", "as_strided_", "as_strided_scatter", "adjoint"]


# ---- split_with_sizes / unsafe_*, row_stack, swapaxes_, the *_scatter ops, index_put, index_reduce --------------
def split_with_sizes(input, split_sizes, dim=0):
    """Views of pieces of the given sizes along dim (they must sum to its length)."""
    return split(input, list(split_sizes), dim)


def unsafe_split(input, split_size, dim=0):
    """split whose pieces autograd does not track as views: an in-place change of one is not seen
    through the input or the other pieces (torch's unsafe_ contract), and is not refused."""
    pieces = split(input, split_size, dim)
    return _untracked(pieces, UnsafeSplitWithSizesBackward0 if isinstance(split_size, (list, tuple))
                      else UnsafeSplitBackward0)


def _untracked(pieces, cls):
    fn = pieces[0].grad_fn if pieces else None
    if fn is not None:
        fn.__class__ = cls
    for piece in pieces:
        piece._base = None
    return pieces


def unsafe_split_with_sizes(input, split_sizes, dim=0):
    """split_with_sizes (see unsafe_split)."""
    return _untracked(split_with_sizes(input, split_sizes, dim), UnsafeSplitWithSizesBackward0)


def unsafe_chunk(input, chunks, dim=0):
    """chunk (see unsafe_split)."""
    return _untracked(chunk(input, chunks, dim), UnsafeSplitBackward0)


def row_stack(tensors):
    """torch.row_stack: vstack."""
    return vstack(tensors)


class _ScatterIntoBackward(Node):
    """Gradient of out = input with src written into a region: input gets g outside the region, src g inside."""
    __slots__ = ("region", "src_shape")

    def apply(self, g):
        gi = gs = None
        if self.next_functions[1][0] is not None:
            view, key = self.region(g)
            gs = view[key].reshape(self.src_shape)
        if self.next_functions[0][0] is not None:
            gi = g.copy()
            view, key = self.region(gi)
            view[key] = 0
        return gi, gs


def _scatter_into(name, node_name, input, src, region):
    for pos, (what, t) in enumerate((("input", input), ("src", src))):
        if not isinstance(t, Tensor):
            raise TypeError(f"{name}(): argument '{what}' (position {pos + 1}) must be Tensor, not "
                            f"{type(t).__name__}")
    a, s = input._data, src._data
    if type(s) is not type(a):
        B.check_same_device(name, a, s)
    out = a.copy()
    view, key = region(out)
    target = view[key].shape
    if s.shape != target:
        raise RuntimeError(f"{name}(): expected src to have a size equal to the slice of self. src size = "
                           f"{list(s.shape)}, slice size = {list(target)}")
    view[key] = s
    node = None
    if state.enabled and (input._requires_grad or src._requires_grad):
        cls = _SCATTER_NODES[node_name]
        node = _new(cls)
        node.next_functions = (edge(input) if input._requires_grad else (None, 0),
                               edge(src) if src._requires_grad else (None, 0))
        node._saved_versions = ()
        node.region, node.src_shape = region, s.shape
    return _finish(out, node)


_SCATTER_NODES = {n: type(n, (_ScatterIntoBackward,), {"__slots__": ()})
                  for n in ("SliceScatterBackward0", "SelectScatterBackward0", "DiagonalScatterBackward0")}


def slice_scatter(input, src, dim=0, start=None, end=None, step=1):
    """A copy of input with src written into input[..., start:end:step, ...] along dim."""
    ax = _dim(dim, input._data.ndim)
    key = (slice(None),) * ax + (slice(start, end, step),)
    return _scatter_into("slice_scatter", "SliceScatterBackward0", input, src, lambda arr: (arr, key))


def select_scatter(input, src, dim, index):
    """A copy of input with src written into input.select(dim, index)."""
    ax = _dim(dim, input._data.ndim)
    n = input._data.shape[ax]
    if not -n <= index < n:
        raise IndexError(f"select_scatter(): index {index} out of range for tensor of size "
                         f"{list(input._data.shape)} at dimension {ax}")
    key = (slice(None),) * ax + (index,)
    return _scatter_into("select_scatter", "SelectScatterBackward0", input, src, lambda arr: (arr, key))


def diagonal_scatter(input, src, offset=0, dim1=0, dim2=1):
    """A copy of input with src written into input.diagonal(offset, dim1, dim2)."""
    nd = input._data.ndim
    d1, d2 = _dim(dim1, nd), _dim(dim2, nd)
    if d1 == d2:
        raise RuntimeError(f"diagonal dimensions cannot be identical {dim1}, {dim2}")
    rows_n, cols_n = input._data.shape[d1], input._data.shape[d2]
    n = max(0, min(rows_n + min(offset, 0), cols_n - max(offset, 0)))
    xp = xp_of(input._data)
    rows = xp.arange(n) - min(offset, 0)
    cols = xp.arange(n) + max(offset, 0)

    def region(arr):
        # the diagonal as the last dim, as torch's diagonal() orders it
        return xp_of(arr).moveaxis(arr, (d1, d2), (-2, -1)), (Ellipsis, rows, cols)
    return _scatter_into("diagonal_scatter", "DiagonalScatterBackward0", input, src, region)


class IndexPutImplBackward0(Node):
    __slots__ = ("key", "accumulate", "value_shape")

    def name(self):
        return "IndexPutBackward0"

    def apply(self, g):
        gi = gv = None
        if self.next_functions[1][0] is not None:
            gv = unbroadcast(g[self.key], self.value_shape)
        if self.next_functions[0][0] is not None:
            gi = g if self.accumulate else g.copy()
            if not self.accumulate:
                gi[self.key] = 0
        return gi, gv


IndexPutImplBackward0.__name__ = IndexPutImplBackward0.__qualname__ = "IndexPutBackward0"


def index_put(input, indices, values, accumulate=False):
    """A copy of input with values put at the positions the tuple of index tensors selects (summed where
    accumulate=True, so repeated positions add up)."""
    _barebones.check("index_put", input._data)
    if not isinstance(indices, (tuple, list)):
        raise TypeError(f"index_put(): argument 'indices' must be tuple of Tensors, not {type(indices).__name__}")
    a = input._data
    key = []
    for i in indices:
        arr = i._data if isinstance(i, Tensor) else B.host_array(i)
        if arr.dtype.kind not in "iub":
            raise IndexError("tensors used as indices must be long, int, byte or bool tensors")
        key.append(_to_device_of(arr, a) if type(arr) is not type(a) else arr)
    key = tuple(key)
    v = values._data
    if v.dtype != a.dtype:
        _check_index_put(a, key, v)
    if type(v) is not type(a):
        B.check_same_device("index_put", a, v)
    out = a.copy()
    xp = xp_of(a)
    try:
        region = out[key].shape
        if accumulate:
            xp.add.at(out, key, xp.broadcast_to(v, region))
        else:
            out[key] = v
    except IndexError as e:
        raise _index_error(e, a) from None
    except ValueError:
        raise RuntimeError(f"shape mismatch: value tensor of shape {list(v.shape)} cannot be broadcast to "
                           f"indexing result of shape {list(out[key].shape)}") from None
    node = None
    if state.enabled and (input._requires_grad or values._requires_grad):
        node = _new(IndexPutImplBackward0)
        node.next_functions = (edge(input) if input._requires_grad else (None, 0),
                               edge(values) if values._requires_grad else (None, 0))
        node._saved_versions = ()
        node.key, node.accumulate, node.value_shape = key, accumulate, v.shape
    return _finish(out, node)


def index_reduce(input, dim, index, source, reduce, *, include_self=True):
    """A copy of input with the slices of source reduced ('prod', 'mean', 'amax', 'amin') into the slices
    index names along dim (scatter_reduce with the index spread over source's other dims)."""
    if reduce not in ("prod", "mean", "amax", "amin"):
        raise RuntimeError(f"index_reduce(): Expected reduce to be one of prod, mean, amax or amin but got {reduce}.")
    a = input._data
    ax = _dim(dim, max(a.ndim, 1))
    idx = index._data if isinstance(index, Tensor) else B.host_array(index)
    if idx.ndim > 1:
        raise IndexError(f"index_reduce_(): Index is supposed to be a vector, but got dim: {idx.ndim}")
    s = source._data
    if s.ndim and idx.size != s.shape[ax]:
        raise RuntimeError(f"index_reduce_(): Number of indices ({idx.size}) should be equal to source.size(dim): "
                           f"({s.shape[ax]}), for dim: {ax}")
    shape = [1] * max(s.ndim, 1)
    shape[ax] = idx.size
    spread = _wrap(xp_of(idx).broadcast_to(idx.reshape(shape), s.shape if s.ndim else (1,)).copy())
    return scatter_reduce(input, ax, spread, source, reduce, include_self=include_self)


def _register_group1():
    from .elementwise import _make_inplace
    T = Tensor
    T.split_with_sizes = split_with_sizes
    T.unsafe_split, T.unsafe_split_with_sizes, T.unsafe_chunk = unsafe_split, unsafe_split_with_sizes, unsafe_chunk

    def swapaxes_(self, axis0, axis1):
        """In-place swapaxes: transpose_ under NumPy's argument names."""
        return self.transpose_(axis0, axis1)

    def swapdims_(self, dim0, dim1):
        """In-place swapdims: transpose_ under another name."""
        return self.transpose_(dim0, dim1)
    T.swapaxes_, T.swapdims_ = swapaxes_, swapdims_
    for fn in (slice_scatter, select_scatter, diagonal_scatter, index_put, index_reduce):
        setattr(T, fn.__name__, fn)
    T.index_put_ = _make_inplace(index_put, "index_put_")
    T.index_reduce_ = _make_inplace(index_reduce, "index_reduce_")


_register_group1()


def index_put_(input, indices, values, accumulate=False):
    """torch.index_put_: input.index_put_(indices, values, accumulate)."""
    return input.index_put_(indices, values, accumulate)


__all__ += ["split_with_sizes", "unsafe_split", "unsafe_split_with_sizes", "unsafe_chunk", "row_stack",
            "slice_scatter", "select_scatter", "diagonal_scatter", "index_put", "index_put_", "index_reduce"]


# torch.reshape / permute / flip / tile take their sizes or dims as one sequence only: torch.flip(x, 0) and
# torch.reshape(x, 4, -1) are TypeErrors there, though x.flip(0) and x.reshape(4, -1) are fine
def _top_reshape(input, shape=REQUIRED):
    """input with a new shape: a view when the layout allows, else a copy."""
    return reshape(input, int_sequence(shape, "reshape", "shape", 2))


def _top_permute(input, dims=REQUIRED):
    """Reorder the dims (a view)."""
    return permute(input, int_sequence(dims, "permute", "dims", 2))


def _top_flip(input, dims=REQUIRED):
    """Reverse the order of elements along dims (a copy, as torch)."""
    return flip(input, int_sequence(dims, "flip", "dims", 2))


def _top_tile(input, dims=REQUIRED):
    """repeat, with missing leading repetition counts taken as 1."""
    return tile(input, int_sequence(dims, "tile", "dims", 2))


__top_level__ = {}
for _fn in (_top_reshape, _top_permute, _top_flip, _top_tile):
    _fn.__name__ = _fn.__qualname__ = _fn.__name__[5:]   # pickles as ember.reshape & co
    __top_level__[_fn.__name__] = _fn


# layout only: nothing these compute could raise NumPy's fp warnings, so their public wrappers leave
# its state alone (_argcheck.tensor_args; cat, stack and the squeezes are numpy_names' wrappers)
for _name in ("reshape", "flatten", "unflatten", "transpose", "swapaxes", "swapdims", "t", "permute", "movedim",
              "moveaxis", "split", "chunk", "unbind", "narrow", "select", "index_select", "gather", "flip",
              "fliplr", "flipud", "roll", "tril", "triu", "diagonal", "tile", "take", "broadcast_to",
              "broadcast_tensors", "ravel", "tensor_split", "hsplit", "vsplit", "dsplit", "atleast_1d",
              "atleast_2d", "atleast_3d", "hstack", "vstack", "dstack", "column_stack", "row_stack", "rot90",
              "adjoint", "split_with_sizes"):
    globals()[_name]._fp_safe = True
    if _name in __top_level__:
        __top_level__[_name]._fp_safe = True
del _name, _fn
