"""torch's view-copy functions (transpose_copy, view_copy, ...): the view op, then fresh memory.

Each runs the view op and copies its result into a new C-contiguous array; the view's backward
node is reused (renamed as torch names it, ``TransposeBackward0_copy``), so gradients flow exactly
as through the view and no extra node is added.
"""
from .. import _backend as B
from .._tensor import Tensor, _wrap

__all__ = ["view_copy", "transpose_copy", "permute_copy", "expand_copy", "squeeze_copy", "unsqueeze_copy",
           "t_copy", "diagonal_copy", "select_copy", "slice_copy", "split_copy", "split_with_sizes_copy",
           "unbind_copy", "unfold_copy", "alias_copy", "as_strided_copy", "detach_copy", "view_as_real_copy",
           "view_as_complex_copy", "narrow_copy"]

_renamed = {}


def _node_class(cls, name):
    """A slot-less subclass of the view's node class, named as torch's copy node."""
    key = (cls, name)
    sub = _renamed.get(key)
    if sub is None:
        sub = _renamed[key] = type(name, (cls,), {"__slots__": ()})
    return sub


def _fresh(view, name=None):
    """A tensor with its own C-contiguous memory holding view's values, wired to view's grad_fn."""
    a = view._data
    data = B.xp_of(a).array(a, copy=True, order="C")
    node = view.grad_fn
    if node is not None and name is not None and not type(node).__name__.endswith("_copy"):
        node.__class__ = _node_class(type(node), name)
    out = _wrap(data, view._requires_grad, node)
    nrs = getattr(node, "_output_nrs", None)
    if nrs is not None:  # a multi-output node (split, unbind) knows its outputs by identity
        nrs[id(out)] = nrs.pop(id(view))
    return out


def view_copy(input, size):
    """view(), into fresh memory (size may be a shape or a dtype)."""
    if isinstance(size, (B.dtype, type)) or isinstance(size, str):
        return _fresh(input.view(size), "ViewBackward0_copy")
    return _fresh(input.view(size), "ViewBackward0_copy")


def transpose_copy(input, dim0, dim1):
    """transpose(), into fresh memory."""
    return _fresh(input.transpose(dim0, dim1), "TransposeBackward0_copy")


def permute_copy(input, dims):
    """permute(), into fresh memory."""
    return _fresh(input.permute(dims), "PermuteBackward0_copy")


def expand_copy(input, size, *, implicit=False):
    """expand(), into fresh memory (every element materialised)."""
    return _fresh(input.expand(size), "ExpandBackward0_copy")


def squeeze_copy(input, dim=None):
    """squeeze(), into fresh memory."""
    view = input.squeeze() if dim is None else input.squeeze(dim)
    return _fresh(view, type(view.grad_fn).__name__ + "_copy" if view.grad_fn is not None else None)


def unsqueeze_copy(input, dim):
    """unsqueeze(), into fresh memory."""
    return _fresh(input.unsqueeze(dim), "UnsqueezeBackward0_copy")


def t_copy(input):
    """t(), into fresh memory."""
    return _fresh(input.t(), "TBackward0_copy")


def diagonal_copy(input, offset=0, dim1=0, dim2=1):
    """diagonal(), into fresh memory."""
    return _fresh(input.diagonal(offset, dim1, dim2), "DiagonalBackward0_copy")


def select_copy(input, dim, index):
    """select(), into fresh memory."""
    return _fresh(input.select(dim, index), "SelectBackward0_copy")


def slice_copy(input, dim=0, start=None, end=None, step=1):
    """input[..., start:end:step] along dim, into fresh memory."""
    if step <= 0:
        raise RuntimeError("slice step must be positive")
    key = (slice(None),) * (dim % max(input.dim(), 1)) + (slice(start, end, step),)
    return _fresh(input[key], "SliceBackward0_copy")


def split_copy(tensor, split_size, dim=0):
    """split(), each piece into fresh memory."""
    return tuple(_fresh(p, "SplitBackward0_copy") for p in tensor.split(split_size, dim))


def split_with_sizes_copy(input, split_sizes, dim=0):
    """split_with_sizes(), each piece into fresh memory."""
    return tuple(_fresh(p, "SplitWithSizesBackward0_copy") for p in input.split_with_sizes(split_sizes, dim))


def unbind_copy(input, dim=0):
    """unbind(), each slice into fresh memory."""
    return tuple(_fresh(p, "UnbindBackward0_copy") for p in input.unbind(dim))


def unfold_copy(input, dimension, size, step):
    """Tensor.unfold(), into fresh memory."""
    return _fresh(input.unfold(dimension, size, step), "UnfoldBackward0_copy")


def alias_copy(input):
    """A fresh copy of input (torch.alias, into fresh memory)."""
    return _fresh(input.view_as(input), "AliasBackward0_copy")


def as_strided_copy(input, size, stride, storage_offset=None):
    """as_strided(), into fresh memory."""
    return _fresh(input.as_strided(size, stride, storage_offset), "AsStridedBackward0_copy")


def detach_copy(input):
    """detach(), into fresh memory (torch keeps the requires_grad flag on this leaf)."""
    out = _fresh(input.detach())
    out._requires_grad = input._requires_grad
    return out


def view_as_real_copy(input):
    """view_as_real(), into fresh memory."""
    from .complex import view_as_real
    return _fresh(view_as_real(input), "ViewAsRealBackward0_copy")


def view_as_complex_copy(input):
    """view_as_complex(), into fresh memory."""
    from .complex import view_as_complex
    return _fresh(view_as_complex(input), "ViewAsComplexBackward0_copy")


def narrow_copy(input, dim, start, length, *, out=None):
    """narrow(), into fresh memory."""
    res = _fresh(input.narrow(dim, start, length), "NarrowCopyBackward0")
    if out is not None:
        out.resize_(res.shape).copy_(res)
        return out
    return res


def _register():
    Tensor.narrow_copy = narrow_copy


_register()
