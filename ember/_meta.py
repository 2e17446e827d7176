"""The 'meta' device: tensors that have a shape, dtype and strides but no values to read.

torch uses them to build a model without memory (then ``load_state_dict(assign=True)`` or ``to_empty``)
and to find the shapes a network produces. ember keeps a NumPy array behind each meta tensor, so every op
runs through the same code and gives torch's shapes, dtypes and autograd graph: the arrays start as
zeros (calloc'd pages that cost no memory until written) and what they compute is never shown. What would
read the values (``item``, ``tolist``, ``numpy``, a copy off the device, an op whose output shape depends
on the data) is refused as torch refuses it. Ops reach these arrays through ``xp``, this module's stand-in
for NumPy, as they reach CuPy's on a GPU.
"""
import types

import numpy as np

from . import _backend as B

META = B.device("meta")

_NO_DATA = "Cannot copy out of meta tensor; no data!"
# NumPy functions whose output shape or value depends on the data a meta tensor doesn't have
_DATA_DEPENDENT = frozenset({"nonzero", "argwhere", "flatnonzero", "unique", "unique_counts", "unique_inverse",
                             "unique_values", "unique_all", "array_equal", "array_equiv", "compress", "extract",
                             "allclose"})


def no_data(op):
    """torch's error for an op whose output needs values a meta tensor doesn't have."""
    return NotImplementedError(
        f"{op}: meta tensors have no data, and this op's result (its shape or value) depends on it; run it on "
        "real tensors (make them with device='cpu', or move a module with .to_empty(device='cpu') and load "
        "its weights)")


def item(array):
    """Tensor.item() of a one-element array off the CPU: its value, or torch's error on 'meta'."""
    if getattr(array, "_ember_device", None) is META:
        raise RuntimeError("Tensor.item() cannot be called on meta tensors: they have a shape and dtype but no "
                           "values")
    return array.ravel()[0].item()


class MetaArray(np.ndarray):
    """A NumPy array standing behind a meta tensor: its values are never read back."""

    _ember_device = META
    __array_priority__ = 1000

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        inputs = tuple(_plain(x, True) for x in inputs)
        out = kwargs.get("out")
        if out is not None:
            kwargs["out"] = tuple(_plain(o) for o in out)
        if "where" in kwargs:
            kwargs["where"] = _plain(kwargs["where"])
        with np.errstate(all="ignore"):   # (meaningless values must not warn)
            res = getattr(ufunc, method)(*inputs, **kwargs)
        if out is not None:
            return out[0] if len(out) == 1 else out
        return _meta(res)

    def __array_function__(self, func, types_, args, kwargs):
        if func.__name__ in _DATA_DEPENDENT:
            raise no_data(func.__name__)
        with np.errstate(all="ignore"):
            return _meta(func(*_plain(args), **_plain(kwargs)))

    def __getitem__(self, key):
        if isinstance(key, MetaArray) and key.dtype == np.bool_:
            raise no_data("indexing with a boolean mask")
        return _meta(np.ndarray.__getitem__(_plain(self), _plain(key)))

    def __setitem__(self, key, value):
        np.ndarray.__setitem__(_plain(self), _plain(key), _plain(value))

    # (item, bool and the like still answer, from the zeros: ops branch on them inside; Tensor.item refuses)

    def get(self):
        """What ember calls to read a device array on the host: there is nothing to read."""
        raise NotImplementedError(_NO_DATA)


def _plain(x, check_host=False):
    """x with meta arrays as plain NumPy views (recursively through tuples, lists and dicts); check_host:
    an operand on the CPU with a dimension is torch's device error (0-d ones are scalars to torch too)."""
    if isinstance(x, MetaArray):
        return x.view(np.ndarray)
    if check_host and isinstance(x, np.ndarray) and x.ndim:
        raise RuntimeError(f"Tensor on device cpu is not on the expected device meta! (an operand of shape "
                           f"{tuple(x.shape)} is on the CPU; move it with .to('meta') or make it there)")
    if isinstance(x, tuple):
        return tuple(_plain(v) for v in x)
    if isinstance(x, list):
        return [_plain(v) for v in x]
    if isinstance(x, dict):
        return {k: _plain(v) for k, v in x.items()}
    return x


def _meta(x):
    """Results as meta arrays: ndarrays as views, NumPy scalars as 0-d arrays (tensors hold arrays)."""
    if isinstance(x, MetaArray):
        return x
    if isinstance(x, np.ndarray):
        return x.view(MetaArray)
    if isinstance(x, np.generic):
        return np.asarray(x).view(MetaArray)
    if isinstance(x, tuple):
        return type(x)(*map(_meta, x)) if hasattr(x, "_fields") else tuple(_meta(v) for v in x)
    if isinstance(x, list):
        return [_meta(v) for v in x]
    return x


class ZeroDraws:
    """The meta device's random stream (NumPy Generator's methods that ember calls): every draw is zeros of
    the shape asked for, calloc'd, so initializing a meta model costs neither time nor memory."""

    @staticmethod
    def _zeros(size, dtype, *params):
        if size is None:
            size = np.broadcast_shapes(*(np.shape(p) for p in params)) if params else ()
        return np.zeros(size, dtype).view(MetaArray)

    def random(self, size=None, dtype=np.float64, out=None):
        return self._zeros(size, dtype)

    standard_normal = standard_exponential = random

    def integers(self, low, high=None, size=None, dtype=np.int64, endpoint=False):
        return self._zeros(size, dtype, low, high)

    def poisson(self, lam=1.0, size=None):
        return self._zeros(size, np.int64, lam)

    def binomial(self, n, p, size=None):
        return self._zeros(size, np.int64, n, p)

    def standard_gamma(self, shape, size=None, dtype=np.float64, out=None):
        return self._zeros(size, dtype, shape)


def zeros_like_host(array):
    """A meta array of array's shape, dtype (and a host array's layout): what a copy to the meta device makes."""
    if isinstance(array, np.ndarray):
        return np.zeros_like(array, order="K", subok=False).view(MetaArray)
    return np.zeros(array.shape, array.dtype).view(MetaArray)


class _Ufunc:
    """A NumPy ufunc reached through xp (xp.add, xp.maximum.reduce ...)."""

    def __init__(self, uf):
        self._uf = uf
        self.__name__ = uf.__name__

    def __call__(self, *args, **kwargs):
        return _call(self._uf, args, kwargs)

    def __getattr__(self, method):
        fn = getattr(self._uf, method)
        if not callable(fn):
            return fn
        return lambda *args, **kwargs: _call(fn, args, kwargs)


# creation from host data: the meta array takes the shape and dtype (a copy: values are never read back)
_FROM_HOST = frozenset({"asarray", "array", "asanyarray", "ascontiguousarray", "asfortranarray", "copy"})
_UNINITIALIZED = {"empty": np.zeros, "empty_like": np.zeros_like}   # zeros: calloc'd, unlike NumPy's empty


def _call(fn, args, kwargs):
    with np.errstate(all="ignore"):
        res = fn(*_plain(args), **_plain(kwargs))
    out = kwargs.get("out")
    return out if out is not None else _meta(res)


class _Namespace(types.ModuleType):
    """NumPy (or one of its submodules) as meta arrays see it: each function returns meta arrays, and the
    data-dependent ones refuse."""

    def __init__(self, target, name="ember._meta.xp"):
        super().__init__(name)
        self._target = target
        self._cache = {}

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        cache = self.__dict__["_cache"]
        if name in cache:
            return cache[name]
        obj = getattr(self._target, name)
        if name in _DATA_DEPENDENT:
            def refuse(*args, **kwargs):
                raise no_data(name)
            wrapped = refuse
        elif isinstance(obj, np.ufunc):
            wrapped = _Ufunc(obj)
        elif isinstance(obj, types.ModuleType):   # xp.linalg, xp.fft, xp.random, xp.lib.stride_tricks ...
            wrapped = _Namespace(obj, f"{self.__name__}.{name}")
        elif isinstance(obj, type) or not callable(obj):
            wrapped = obj   # dtypes, scalar types, constants: NumPy's own
        else:
            fn = _UNINITIALIZED.get(name, obj)
            if name in _FROM_HOST:
                fn = _from_host(obj)

            def wrapped(*args, __fn=fn, **kwargs):
                return _call(__fn, args, kwargs)
            wrapped.__name__ = name
        cache[name] = wrapped
        return wrapped


def _from_host(fn):
    def make(obj, *args, **kwargs):
        if isinstance(obj, MetaArray):
            return fn(obj.view(np.ndarray), *args, **kwargs)
        res = fn(obj, *args, **kwargs)
        # a transfer never aliases the host's memory
        return res.copy() if isinstance(res, np.ndarray) and res.base is not None or res is obj else res
    return make


xp = _Namespace(np)
MetaArray._ember_xp = xp
