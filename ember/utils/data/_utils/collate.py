"""default_collate / default_convert: turn a list of samples into a batch, as torch does."""
import collections.abc
import copy
import re

import numpy as np

from .... import _backend as B
from ...._tensor import Tensor, _wrap

__all__ = ["default_collate", "default_convert", "collate", "default_collate_fn_map"]

np_str_obj_array_pattern = re.compile(r"[SaUO]")

default_collate_err_msg_format = (
    "default_collate: batch must contain tensors, numpy arrays, numbers, dicts or lists; found {}")


def _as_tensor_np(array):
    """A Tensor over a NumPy array or scalar (no copy for arrays), checking ember supports its dtype."""
    array = np.asarray(array)
    B.dtype_of(array)
    return _wrap(array)


def default_convert(data):
    """Convert NumPy arrays inside data (recursively through dicts, tuples, lists) to tensors."""
    elem_type = type(data)
    if isinstance(data, Tensor):
        return data
    if elem_type.__module__ == "numpy" and elem_type.__name__ not in ("str_", "string_", "bytes_"):
        # arrays of strings and objects stay as they are
        if elem_type.__name__ == "ndarray" and np_str_obj_array_pattern.search(data.dtype.str) is not None:
            return data
        return _as_tensor_np(data)
    if isinstance(data, collections.abc.Mapping):
        try:
            if isinstance(data, collections.abc.MutableMapping):
                # copy so that a mapping subclass keeps its extra attributes
                clone = copy.copy(data)
                clone.update({key: default_convert(data[key]) for key in data})
                return clone
            return elem_type({key: default_convert(data[key]) for key in data})
        except TypeError:
            return {key: default_convert(data[key]) for key in data}
    if isinstance(data, tuple) and hasattr(data, "_fields"):  # namedtuple
        return elem_type(*(default_convert(d) for d in data))
    if isinstance(data, tuple):
        return [default_convert(d) for d in data]  # torch returns a list here (backwards compatibility)
    if isinstance(data, collections.abc.Sequence) and not isinstance(data, (str, bytes)):
        try:
            if isinstance(data, collections.abc.MutableSequence):
                clone = copy.copy(data)
                for i, d in enumerate(data):
                    clone[i] = default_convert(d)
                return clone
            return elem_type([default_convert(d) for d in data])
        except TypeError:
            return [default_convert(d) for d in data]
    return data


def collate(batch, *, collate_fn_map=None):
    """Collate a list of samples with per-type functions from collate_fn_map, recursing into containers."""
    elem = batch[0]
    elem_type = type(elem)
    if collate_fn_map is not None:
        fn = collate_fn_map.get(elem_type)
        if fn is not None:
            return fn(batch, collate_fn_map=collate_fn_map)
        for collate_type, fn in collate_fn_map.items():
            if isinstance(elem, collate_type):
                return fn(batch, collate_fn_map=collate_fn_map)

    if isinstance(elem, collections.abc.Mapping):
        try:
            if isinstance(elem, collections.abc.MutableMapping):
                clone = copy.copy(elem)
                clone.update({key: collate([d[key] for d in batch], collate_fn_map=collate_fn_map)
                              for key in elem})
                return clone
            return elem_type({key: collate([d[key] for d in batch], collate_fn_map=collate_fn_map)
                              for key in elem})
        except TypeError:
            return {key: collate([d[key] for d in batch], collate_fn_map=collate_fn_map) for key in elem}
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):  # namedtuple
        return elem_type(*(collate(samples, collate_fn_map=collate_fn_map) for samples in zip(*batch)))
    if isinstance(elem, collections.abc.Sequence):
        it = iter(batch)
        elem_size = len(next(it))
        if not all(len(e) == elem_size for e in it):
            raise RuntimeError("each element in list of batch should be of equal size")
        transposed = list(zip(*batch))
        if isinstance(elem, tuple):
            return [collate(samples, collate_fn_map=collate_fn_map) for samples in transposed]
        try:
            if isinstance(elem, collections.abc.MutableSequence):
                clone = copy.copy(elem)
                for i, samples in enumerate(transposed):
                    clone[i] = collate(samples, collate_fn_map=collate_fn_map)
                return clone
            return elem_type([collate(samples, collate_fn_map=collate_fn_map) for samples in transposed])
        except TypeError:
            return [collate(samples, collate_fn_map=collate_fn_map) for samples in transposed]
    raise TypeError(default_collate_err_msg_format.format(elem_type))


def _check_sizes(shapes):
    first = shapes[0]
    for i, s in enumerate(shapes):
        if s != first:
            raise RuntimeError(
                f"stack expects each tensor to be equal size, but got {list(first)} at entry 0 and "
                f"{list(s)} at entry {i}")


def collate_tensor_fn(batch, *, collate_fn_map=None):
    """Stack tensors along a new first dimension."""
    for i, t in enumerate(batch):
        if not isinstance(t, Tensor):  # torch.stack's error for a mixed batch
            raise TypeError(f"expected Tensor as element {i} in argument 0, but got {type(t).__name__}")
    arrays = [t._data for t in batch]
    _check_sizes([a.shape for a in arrays])
    if any(t._requires_grad for t in batch):
        from .... import stack  # autograd must see the stack
        return stack(list(batch), 0)
    dt = arrays[0].dtype
    if any(a.dtype != dt for a in arrays):
        # torch promotes (int with float32 gives float32); numpy alone would give float64
        res = B.FROM_NUMPY[dt]
        for a in arrays:
            res = B.promote_types(res, B.FROM_NUMPY[a.dtype])
        arrays = [a.astype(res.np, copy=False) for a in arrays]
    first = arrays[0]
    xp = np if type(first) is np.ndarray else B.array_module(batch[0].device)
    return _wrap(xp.stack(arrays))


def collate_numpy_array_fn(batch, *, collate_fn_map=None):
    """Stack NumPy arrays into a tensor (arrays of strings or objects are refused, as in torch)."""
    elem = batch[0]
    if np_str_obj_array_pattern.search(elem.dtype.str) is not None:
        raise TypeError(default_collate_err_msg_format.format(elem.dtype))
    _check_sizes([b.shape for b in batch])
    return _as_tensor_np(np.stack(batch))


def collate_numpy_scalar_fn(batch, *, collate_fn_map=None):
    """NumPy scalars into a 1-d tensor of their dtype."""
    return _as_tensor_np(np.array(batch))


def collate_float_fn(batch, *, collate_fn_map=None):
    """Python floats into a float64 tensor."""
    return _wrap(np.array(batch, dtype=np.float64))


def _ints_overflow_int64(batch):
    """True when the batch is all ints and one lies outside int64 (numpy would go uint64 or float64)."""
    return (all(isinstance(b, int) for b in batch)
            and any(not -0x8000000000000000 <= b <= 0x7FFFFFFFFFFFFFFF for b in batch))


def collate_int_fn(batch, *, collate_fn_map=None):
    """Python ints into an int64 tensor (bools into a bool tensor), as torch.tensor(batch) infers."""
    if _ints_overflow_int64(batch):
        raise ValueError("Overflow when unpacking long long")  # torch's error for ints past int64
    arr = np.array(batch)
    kind = arr.dtype.kind
    if kind == "b":
        return _wrap(arr)
    if kind in "iu":
        return _wrap(arr.astype(np.int64, copy=False))
    if kind == "f":
        return _wrap(arr.astype(B.get_default_dtype().np))
    raise TypeError(default_collate_err_msg_format.format(type(batch[0])))


def collate_str_fn(batch, *, collate_fn_map=None):
    """Strings (and bytes) stay a list."""
    return batch


default_collate_fn_map = {
    Tensor: collate_tensor_fn,
    np.ndarray: collate_numpy_array_fn,  # and memmap, a subclass
    (np.bool_, np.number, np.object_): collate_numpy_scalar_fn,
    float: collate_float_fn,
    int: collate_int_fn,
    str: collate_str_fn,
    bytes: collate_str_fn,
}


def default_collate(batch):
    """Stack a list of samples into a batch: tensors/arrays/numbers become tensors, containers recurse."""
    return collate(batch, collate_fn_map=default_collate_fn_map)
