"""Tensor creation: from data, filled, ranges and random.

Arrays are made by the array module of the target device (numpy or cupy), on that device; Python
data (lists, numbers) is converted on the host first, then moved.  Random ops draw from the
target device's generator (``ember.random.generator_for``).
"""
import math
import numbers

import numpy as np

from .. import _backend as B
from .._tensor import Tensor, _wrap
from ..random import generator_for

__all__ = [
    "tensor", "as_tensor", "from_numpy", "asarray", "empty", "zeros", "ones", "full", "rand", "randn",
    "randint", "randperm", "arange", "range", "linspace", "logspace", "eye", "zeros_like", "ones_like",
    "empty_like", "full_like", "rand_like", "randn_like", "randint_like", "normal", "bernoulli",
    "multinomial", "scalar_tensor", "tril_indices", "triu_indices", "is_tensor", "numel", "is_floating_point",
]


def _sizes(size):
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    for s in size:
        if not isinstance(s, numbers.Integral) and not (isinstance(s, Tensor) and s.numel() == 1):
            raise TypeError(f"size must be a sequence of ints, got {type(s).__name__} in {size!r}")
        if int(s) < 0:
            raise RuntimeError(f"Trying to create tensor with negative dimension {int(s)}: {list(size)}")
    return tuple(int(s) for s in size)


def _target(device):
    """(array module, device) for a device argument; a 'cuda' without index means the current GPU."""
    dev = B.as_device(device)
    if dev.type == "cpu":
        return np, dev
    from .. import cuda
    cuda._check_usable(dev)
    if dev.index is None:
        dev = B.device("cuda", cuda.current_device())
    return B.array_module(dev), dev


def _current(xp, dev):
    """A context making dev the current device while its arrays are made (nothing on the CPU)."""
    return B._NULL if xp is np else xp.cuda.Device(dev.index)


def _make(device, requires_grad, fn, *args, **kwargs):
    """fn (a name in the array module) called on the device's module, on that device."""
    xp, dev = _target(device)
    if xp is np:
        array = getattr(xp, fn)(*args, **kwargs)
    else:
        with _current(xp, dev):
            array = getattr(xp, fn)(*args, **kwargs)
    return _done(array, requires_grad)


def _done(array, requires_grad):
    t = _wrap(array)
    if requires_grad:
        t.requires_grad_(True)
    return t


def _finish(array, device, requires_grad):
    """An array (on any device) moved to device and wrapped."""
    from .convert import _move
    dev = B.as_device(device)
    if dev.type != "cpu" or type(array) is not np.ndarray:
        if dev.type == "cuda":
            dev = _target(dev)[1]
        array = _move(array, dev)
    return _done(array, requires_grad)


def _draw(device, generator):
    """The generator for a random op on device, and that device's array module."""
    xp, dev = _target(device)
    return generator_for(dev, generator), xp


def _dt(dtype, default=None):
    if dtype is None:
        return (default or B.get_default_dtype()).np
    return B.as_dtype(dtype).np


def _infer_dtype(data):
    """torch.tensor's inference: bool, int64, or the default float."""
    arr = np.asarray(data)
    kind = arr.dtype.kind
    if kind == "b":
        return np.bool_
    if kind in "iu":
        return np.int64 if arr.dtype != np.uint8 or not isinstance(data, np.ndarray) else np.uint8
    if kind == "f":
        return B.get_default_dtype().np
    if kind == "O":
        raise TypeError(f"can't convert {type(data).__name__} with mixed or non-numeric elements to a tensor")
    raise TypeError(f"can't convert data of numpy dtype {arr.dtype} to a tensor")


def _data_to_array(data, dtype):
    if isinstance(data, Tensor):
        arr = data.detach()._data
        return arr.astype(_dt(dtype), copy=True) if dtype is not None else arr.copy()
    if isinstance(data, np.generic):
        data = np.asarray(data)  # numpy scalars keep their dtype, as in torch
    if isinstance(data, np.ndarray):
        if dtype is None:
            B.dtype_of(data)  # validates the dtype
            return np.array(data, copy=True)
        return np.array(data, dtype=_dt(dtype))
    if isinstance(data, (list, tuple)) and any(isinstance(x, Tensor) for x in _flatten(data)):
        data = _nested_tensors_to_list(data)
    if dtype is None:
        return np.array(data, dtype=_infer_dtype(data))
    return np.array(data, dtype=_dt(dtype))


def _flatten(data):
    for x in data:
        if isinstance(x, (list, tuple)):
            yield from _flatten(x)
        else:
            yield x


def _nested_tensors_to_list(data):
    if isinstance(data, Tensor):
        return data.tolist()
    if isinstance(data, (list, tuple)):
        return [_nested_tensors_to_list(x) for x in data]
    return data


def tensor(data, *, dtype=None, device=None, requires_grad=False, pin_memory=False):
    """A new tensor copying data (nested lists, numbers, arrays), with torch's dtype inference."""
    if device is None and isinstance(data, Tensor):
        device = data.device  # torch keeps a tensor's device when none is given
    return _finish(_data_to_array(data, dtype), device, requires_grad)


def as_tensor(data, dtype=None, device=None):
    """A tensor over data, sharing memory with a NumPy array or tensor when possible."""
    if isinstance(data, Tensor):
        if dtype is None or B.as_dtype(dtype) is data.dtype:
            return data if device is None else data.to(device)
        return data.to(dtype)
    if isinstance(data, np.ndarray):
        arr = data if dtype is None else data.astype(_dt(dtype), copy=False)
        B.dtype_of(arr)
        return _finish(arr, device, False)
    return tensor(data, dtype=dtype, device=device)


asarray = as_tensor


def from_numpy(ndarray):
    """A tensor sharing memory with a NumPy array."""
    if not isinstance(ndarray, np.ndarray):
        raise TypeError(f"expected np.ndarray (got {type(ndarray).__name__})")
    B.dtype_of(ndarray)
    return _wrap(ndarray)


def scalar_tensor(s, *, dtype=None, device=None, requires_grad=False):
    """A 0-d tensor holding s."""
    return _make(device, requires_grad, "full", (), s, dtype=_dt(dtype))


def empty(*size, dtype=None, device=None, requires_grad=False, out=None, memory_format=None, pin_memory=False):
    """An uninitialised tensor."""
    return _make(device, requires_grad, "empty", _sizes(size), dtype=_dt(dtype))


def zeros(*size, dtype=None, device=None, requires_grad=False, out=None):
    """A tensor of zeros."""
    return _make(device, requires_grad, "zeros", _sizes(size), dtype=_dt(dtype))


def ones(*size, dtype=None, device=None, requires_grad=False, out=None):
    """A tensor of ones."""
    return _make(device, requires_grad, "ones", _sizes(size), dtype=_dt(dtype))


def _fill_dtype(fill_value):
    if isinstance(fill_value, bool):
        return B.bool_
    if isinstance(fill_value, numbers.Integral):
        return B.int64
    return None


def full(size, fill_value, *, dtype=None, device=None, requires_grad=False, out=None):
    """A tensor filled with fill_value (dtype inferred from it as torch)."""
    if isinstance(fill_value, Tensor):
        fill_value = fill_value.item()
    dt = _dt(dtype, _fill_dtype(fill_value))
    return _make(device, requires_grad, "full", _sizes((size,)) if not isinstance(size, int) else (size,),
                 fill_value, dtype=dt)


def rand(*size, generator=None, dtype=None, device=None, requires_grad=False, out=None):
    """Uniform random numbers in [0, 1)."""
    g, _ = _draw(device, generator)
    return _done(g.random(_sizes(size), np.float64).astype(_dt(dtype)), requires_grad)


def randn(*size, generator=None, dtype=None, device=None, requires_grad=False, out=None):
    """Standard normal random numbers."""
    g, _ = _draw(device, generator)
    return _done(g.standard_normal(_sizes(size), _dt(dtype)), requires_grad)


def randint(low, high=None, size=None, *, generator=None, dtype=None, device=None, requires_grad=False):
    """Random integers in [low, high)."""
    if high is None:
        low, high = 0, low
    if size is None:
        raise TypeError("randint() missing required argument 'size' (a tuple of ints)")
    if low >= high:
        raise RuntimeError(f"random_ expects 'from' to be less than 'to', but got from={low} >= to={high}")
    g, _ = _draw(device, generator)
    arr = g.integers(low, high, _sizes((size,)) if not isinstance(size, int) else (size,))
    return _done(arr.astype(_dt(dtype, B.int64)), requires_grad)


def randperm(n, *, generator=None, dtype=None, device=None, requires_grad=False):
    """A random permutation of 0..n-1."""
    g, _ = _draw(device, generator)
    return _done(g.permutation(n).astype(_dt(dtype, B.int64)), requires_grad)


def _range_dtype(values, dtype):
    if dtype is not None:
        return B.as_dtype(dtype).np
    if all(isinstance(v, numbers.Integral) or (isinstance(v, Tensor) and not v.is_floating_point())
           for v in values):
        return np.int64
    return B.get_default_dtype().np


def arange(start, end=None, step=1, *, dtype=None, device=None, requires_grad=False, out=None):
    """Values from start to end (exclusive) in steps."""
    if end is None:
        start, end = 0, start
    vals = [v.item() if isinstance(v, Tensor) else v for v in (start, end, step)]
    if vals[2] == 0:
        raise RuntimeError("arange: step must be nonzero")
    dt = _range_dtype((start, end, step), dtype)
    n = int(math.ceil((vals[1] - vals[0]) / vals[2]))
    xp, dev = _target(device)
    with _current(xp, dev):
        arr = vals[0] + xp.arange(max(n, 0), dtype=np.float64 if np.dtype(dt).kind == "f" else np.int64) * vals[2]
        return _done(arr.astype(dt), requires_grad)


def range(start=0, end=None, step=1, *, dtype=None, device=None, requires_grad=False):
    """Deprecated inclusive arange, as torch.range."""
    if end is None:
        start, end = 0, start
    n = int(math.floor((end - start) / step)) + 1
    xp, dev = _target(device)
    with _current(xp, dev):
        arr = start + xp.arange(n, dtype=np.float64) * step
        return _done(arr.astype(_dt(dtype)), requires_grad)


def linspace(start, end, steps, *, dtype=None, device=None, requires_grad=False, out=None):
    """steps evenly spaced values from start to end inclusive."""
    xp, dev = _target(device)
    with _current(xp, dev):
        return _done(xp.linspace(start, end, steps, dtype=np.float64).astype(_dt(dtype)), requires_grad)


def logspace(start, end, steps, base=10.0, *, dtype=None, device=None, requires_grad=False):
    """steps values spaced evenly on a log scale."""
    xp, dev = _target(device)
    with _current(xp, dev):
        return _done(xp.logspace(start, end, steps, base=base).astype(_dt(dtype)), requires_grad)


def eye(n, m=None, *, dtype=None, device=None, requires_grad=False, out=None):
    """A 2-d identity matrix."""
    return _make(device, requires_grad, "eye", n, m, dtype=_dt(dtype))


def _tri_indices(fn, row, col, offset, dtype, device):
    xp, dev = _target(device)
    with _current(xp, dev):
        return _done(xp.stack(getattr(xp, fn)(row, offset, col)).astype(_dt(dtype, B.int64)), False)


def tril_indices(row, col, offset=0, *, dtype=None, device=None):
    """Indices of the lower triangle, as a 2 x N tensor."""
    return _tri_indices("tril_indices", row, col, offset, dtype, device)


def triu_indices(row, col, offset=0, *, dtype=None, device=None):
    """Indices of the upper triangle, as a 2 x N tensor."""
    return _tri_indices("triu_indices", row, col, offset, dtype, device)


def _like(input, dtype, device):
    dt = input._data.dtype if dtype is None else B.as_dtype(dtype).np
    dev = input.device if device is None else device
    return dt, dev


def zeros_like(input, *, dtype=None, device=None, requires_grad=False, memory_format=None):
    """Zeros with input's shape (and dtype/device unless given)."""
    dt, dev = _like(input, dtype, device)
    return _make(dev, requires_grad, "zeros", input._data.shape, dtype=dt)


def ones_like(input, *, dtype=None, device=None, requires_grad=False, memory_format=None):
    """Ones with input's shape."""
    dt, dev = _like(input, dtype, device)
    return _make(dev, requires_grad, "ones", input._data.shape, dtype=dt)


def empty_like(input, *, dtype=None, device=None, requires_grad=False, memory_format=None):
    """Uninitialised with input's shape."""
    dt, dev = _like(input, dtype, device)
    return _make(dev, requires_grad, "empty", input._data.shape, dtype=dt)


def full_like(input, fill_value, *, dtype=None, device=None, requires_grad=False, memory_format=None):
    """fill_value with input's shape."""
    dt, dev = _like(input, dtype, device)
    return _make(dev, requires_grad, "full", input._data.shape, fill_value, dtype=dt)


def rand_like(input, *, dtype=None, device=None, requires_grad=False, memory_format=None):
    """Uniform [0, 1) with input's shape."""
    dt, dev = _like(input, dtype, device)
    if np.dtype(dt).kind != "f":
        raise RuntimeError(f"\"check_uniform_bounds\" not implemented for '{B.FROM_NUMPY[np.dtype(dt)].name}'; "
                           "rand_like needs a floating dtype (pass dtype=torch.float)")
    return rand(*input._data.shape, dtype=B.FROM_NUMPY[np.dtype(dt)], device=dev, requires_grad=requires_grad)


def randn_like(input, *, dtype=None, device=None, requires_grad=False, memory_format=None):
    """Standard normal with input's shape."""
    dt, dev = _like(input, dtype, device)
    if np.dtype(dt).kind != "f":
        raise RuntimeError(f"\"normal_kernel_cpu\" not implemented for '{B.FROM_NUMPY[np.dtype(dt)].name}'; "
                           "randn_like needs a floating dtype (pass dtype=torch.float)")
    return randn(*input._data.shape, dtype=B.FROM_NUMPY[np.dtype(dt)], device=dev, requires_grad=requires_grad)


def randint_like(input, low=0, high=None, *, dtype=None, device=None, requires_grad=False):
    """Random integers with input's shape."""
    dt, dev = _like(input, dtype, device)
    return randint(low, high, input._data.shape, dtype=B.FROM_NUMPY[np.dtype(dt)], device=dev)


def normal(mean=0.0, std=1.0, size=None, *, generator=None, out=None, dtype=None, device=None):
    """Normal random numbers with the given mean and std (tensors or floats)."""
    m = mean._data if isinstance(mean, Tensor) else mean
    s = std._data if isinstance(std, Tensor) else std
    shape = _sizes((size,)) if size is not None and not isinstance(size, int) else (size,) if size else \
        np.broadcast_shapes(getattr(m, "shape", ()), getattr(s, "shape", ()))
    ref = mean if isinstance(mean, Tensor) else std if isinstance(std, Tensor) else None
    dt = ref._data.dtype if ref is not None else _dt(dtype)
    g, _ = _draw(ref.device if ref is not None else device, generator)
    arr = (g.standard_normal(shape) * s + m).astype(dt)
    return _wrap(arr)


def bernoulli(input, p=None, *, generator=None):
    """Draw 0/1 with probabilities input (or p)."""
    probs = input._data if p is None else p
    g = generator_for(input.device, generator)
    arr = (g.random(input._data.shape) < probs).astype(input._data.dtype)
    return _wrap(arr)


def multinomial(input, num_samples, replacement=False, *, generator=None):
    """Sample indices from rows of (unnormalised, non-negative) probabilities."""
    d = input._data
    if d.ndim not in (1, 2):
        raise RuntimeError(f"prob_dist must be 1 or 2 dim (multinomial got a {d.ndim}-d input)")
    probs = d.astype(np.float64).reshape(-1 if d.ndim == 2 else 1, d.shape[-1])
    k = probs.shape[1]
    if not replacement and num_samples > k:
        raise RuntimeError(f"cannot sample n_sample > prob_dist.size(-1) samples without replacement "
                           f"(multinomial: {num_samples} > {k})")
    if bool((probs < 0).any()) or not bool(B.xp_of(probs).isfinite(probs).all()):
        raise RuntimeError("probability tensor contains either `inf`, `nan` or element < 0")
    if bool((probs.sum(axis=1) <= 0).any()):
        raise RuntimeError("invalid multinomial distribution (sum of probabilities <= 0)")
    if not replacement and bool(((probs > 0).sum(axis=1) < num_samples).any()):
        raise RuntimeError("invalid multinomial distribution (with replacement=False, not enough non-negative "
                           "category to sample)")
    out = generator_for(input.device, generator).multinomial(probs, num_samples, replacement)
    return _wrap(out if d.ndim == 2 else out[0])


def is_tensor(obj):
    """True if obj is an ember Tensor."""
    return isinstance(obj, Tensor)


def numel(input):
    """The number of elements of input."""
    return input.numel()


def is_floating_point(input):
    """True for floating tensors."""
    return input.is_floating_point()


def _register():
    def new_tensor(self, data, *, dtype=None, device=None, requires_grad=False):
        return tensor(data, dtype=dtype or self.dtype, device=device or self.device, requires_grad=requires_grad)

    def _new(fill):
        def method(self, *size, dtype=None, device=None, requires_grad=False):
            return fill(*size, dtype=dtype or self.dtype, device=device or self.device, requires_grad=requires_grad)
        method.__name__ = "new_" + fill.__name__
        method.__doc__ = f"A new tensor of {fill.__name__} with this tensor's dtype and device."
        return method

    def new_full(self, size, fill_value, *, dtype=None, device=None, requires_grad=False):
        return full(size, fill_value, dtype=dtype or self.dtype, device=device or self.device, requires_grad=requires_grad)

    Tensor.new_tensor = new_tensor
    Tensor.new_ones = _new(ones)
    Tensor.new_zeros = _new(zeros)
    Tensor.new_empty = _new(empty)
    Tensor.new_full = new_full

    def fill_(self, value):
        """Fill with value in place."""
        if isinstance(value, Tensor):
            value = value.item()
        _check_leaf_inplace(self)
        self._data[...] = value
        self._vc[0] += 1
        return self

    def zero_(self):
        """Fill with zeros in place."""
        return fill_(self, 0)

    def uniform_(self, a=0.0, b=1.0, *, generator=None):
        """Fill with uniform random numbers in [a, b)."""
        _check_leaf_inplace(self)
        self._data[...] = generator_for(self.device, generator).uniform(a, b, self._data.shape)
        self._vc[0] += 1
        return self

    def normal_(self, mean=0.0, std=1.0, *, generator=None):
        """Fill with normal random numbers."""
        _check_leaf_inplace(self)
        self._data[...] = generator_for(self.device, generator).normal(mean, std, self._data.shape)
        self._vc[0] += 1
        return self

    def random_(self, low=0, high=None, *, generator=None):
        """Fill with random integers in [low, high)."""
        if high is None:
            low, high = 0, low if low else 2 ** 24
        self._data[...] = generator_for(self.device, generator).integers(low, high, self._data.shape)
        self._vc[0] += 1
        return self

    def bernoulli_(self, p=0.5, *, generator=None):
        """Fill with 0/1 draws of probability p."""
        self._data[...] = generator_for(self.device, generator).random(self._data.shape) < p
        self._vc[0] += 1
        return self

    def exponential_(self, lambd=1.0, *, generator=None):
        """Fill with exponential random numbers."""
        self._data[...] = generator_for(self.device, generator).exponential(1.0 / lambd, self._data.shape)
        self._vc[0] += 1
        return self

    for fn in (fill_, zero_, uniform_, normal_, random_, bernoulli_, exponential_):
        setattr(Tensor, fn.__name__, fn)
    Tensor.bernoulli = bernoulli
    Tensor.multinomial = multinomial


def _check_leaf_inplace(t):
    from ..autograd.grad_mode import state
    if state.enabled and t._requires_grad and t.grad_fn is None:
        raise RuntimeError(
            "a leaf Variable that requires grad is being used in an in-place operation. "
            "Wrap the update in `with torch.no_grad():` or operate on a clone.")


_register()
