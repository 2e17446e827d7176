"""A test-only stand-in for CuPy, backed by NumPy: ember's 'cuda' device on a machine without a GPU.

Its arrays are an ndarray subclass tagged with a 'cuda:N' device, so ember's device bookkeeping
(transfers, mixed-device errors, Module.to, optimizer state, checkpoints, printing) runs for real.
It behaves like CuPy where ember could go wrong:

- arithmetic mixing a device array with a host ndarray raises CuPy's TypeError (so does indexing
  with, or assigning, a host array), and creation functions make device arrays, so an op that
  builds an array with ``np.`` instead of ``xp.`` ends up with a host array and fails or reports
  'cpu' in the device tests;
- reductions give 0-d arrays, never NumPy scalars;
- floating-point errors never warn (GPUs don't).

Everything ember reaches through it is recorded in ``RECORD`` (functions as ``name``, ufunc
methods as ``add.reduce``, array methods as ``ndarray.sum``, generator methods as
``random.Generator.random``), so a test can check that CuPy has each of them.
"""
import types
import weakref

import numpy as np

from ember import _backend as B

RECORD = set()
RECORD_KW = {}  # name -> keyword arguments ember passed
_state = {"current": 0, "count": 2, "allocator": None, "in_method": 0}
_live = {}  # id(host buffer) -> nbytes of every buffer this fake device owns, per device index
_peak_used = {}


class CUDARuntimeError(RuntimeError):
    """What cupy_backends raises for a bad device ordinal."""


def _device(idx):
    return B.device("cuda", idx)


_NDARRAY_METHODS = frozenset(n for n in dir(np.ndarray) if not n.startswith("_") and callable(getattr(np.ndarray, n)))


class ndarray(np.ndarray):
    """A NumPy array that claims to live on a fake CUDA device."""

    _ember_device = _device(0)
    __array_priority__ = 1000

    def __array_finalize__(self, obj):
        # new memory (a copy) lands on the current device; a view stays with its base
        dev = getattr(obj, "_ember_device", None) if self.base is not None else None
        self._ember_device = dev if dev is not None else _device(_state["current"])
        if self.base is None:
            _register(self)

    def __getattribute__(self, name):
        attr = np.ndarray.__getattribute__(self, name)
        if name in _NDARRAY_METHODS:
            RECORD.add("ndarray." + name)
            return _Method(attr)
        return attr

    @property
    def device(self):
        return Device(self._ember_device.index)

    def get(self):
        """A host copy (cupy.ndarray.get)."""
        return np.array(np.ndarray.view(self, np.ndarray), copy=True)

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        name = ufunc.__name__ if method == "__call__" else f"{ufunc.__name__}.{method}"
        if not _state["in_method"]:
            RECORD.add(name)
            # where=True is NumPy's own default, passed by its method code on hand-made views
            RECORD_KW.setdefault(name, set()).update(k for k, v in kwargs.items() if not (k == "where" and v is True))
        inputs = tuple(_plain(x, ufunc.__name__) for x in inputs)
        out = kwargs.get("out")
        if out is not None:
            kwargs["out"] = tuple(_plain(o, ufunc.__name__) for o in out)
        if "where" in kwargs:
            kwargs["where"] = _plain(kwargs["where"], ufunc.__name__)
        with np.errstate(all="ignore"):
            res = getattr(ufunc, method)(*inputs, **kwargs)
        if out is not None:
            return out[0] if len(out) == 1 else out
        return _dev(res)

    def __array_function__(self, func, types_, args, kwargs):
        # CuPy implements NEP-18: numpy.f(cupy_array) runs cupy.f (if CuPy has f)
        if not _state["in_method"]:
            RECORD.add(func.__name__)
            RECORD_KW.setdefault(func.__name__, set()).update(kwargs)
        with np.errstate(all="ignore"):
            return _dev(func(*_plain(args, func.__name__), **_plain(kwargs, func.__name__)))

    def __getitem__(self, key):
        res = np.ndarray.__getitem__(np.ndarray.view(self, np.ndarray), _plain(key, "__getitem__", index=True))
        return _dev(res, self._ember_device if isinstance(res, np.ndarray) and res.base is not None else None)

    def __setitem__(self, key, value):
        np.ndarray.__setitem__(np.ndarray.view(self, np.ndarray), _plain(key, "__setitem__", index=True),
                               _plain(value, "__setitem__"))

    def __array__(self, dtype=None, copy=None):
        raise TypeError("Implicit conversion to a NumPy array is not allowed. Please use `.get()` to "
                        "construct a NumPy array explicitly.")

    def __reduce__(self):
        raise TypeError("fake cuda arrays don't pickle; ember must move them to the host first")


class _Method:
    """A bound array method: the ufuncs NumPy's own method code calls are not ember's calls."""

    __slots__ = ("_fn",)

    def __init__(self, fn):
        self._fn = fn

    def __call__(self, *args, **kwargs):
        _state["in_method"] += 1
        try:
            return self._fn(*args, **kwargs)
        finally:
            _state["in_method"] -= 1


def _plain(x, where, index=False):
    """x with device arrays as plain views; a host ndarray raises CuPy's TypeError."""
    if isinstance(x, ndarray):
        return np.ndarray.view(x, np.ndarray)
    if isinstance(x, np.ndarray):
        if _over_device_memory(x):  # e.g. np.ndarray(shape, dtype, buffer=device_array, ...)
            return x
        raise TypeError(f"Unsupported type {type(x)} (a host array in {where} on the fake cuda device)")
    if isinstance(x, tuple):
        return tuple(_plain(v, where, index) for v in x)
    if isinstance(x, list):
        if index:  # CuPy turns a list index into a device array
            return x
        return [_plain(v, where) for v in x]
    if isinstance(x, dict):
        return {k: _plain(v, where) for k, v in x.items()}
    return x


_ranges = {}  # id -> (first byte, end) of every live buffer of the fake device


def _register(arr):
    if arr.nbytes:
        lo = arr.__array_interface__["data"][0]
        key = id(arr)
        _ranges[key] = (lo, lo + arr.nbytes)
        weakref.finalize(arr, _ranges.pop, key, None)


def _over_device_memory(x):
    """True for a plain ndarray viewing a device array's memory (np.ndarray(shape, dtype,
    buffer=device_array, ...): numpy's constructor hands back a plain array over that memory)."""
    ptr = x.__array_interface__["data"][0]
    return any(lo <= ptr < hi for lo, hi in list(_ranges.values()))


def _dev(x, dev=None):
    """Results as device arrays: ndarrays become views, NumPy scalars 0-d arrays (as CuPy returns).

    New arrays land on the current device; views (dev given) stay on their base's device.
    """
    if isinstance(x, ndarray):
        return x
    if isinstance(x, np.ndarray):
        if x.base is None and x.nbytes:
            _track(x)
        out = np.ndarray.view(x, ndarray)
    elif isinstance(x, np.generic):
        out = np.ndarray.view(np.asarray(x), ndarray)
    elif isinstance(x, tuple):
        return tuple(_dev(v, dev) for v in x)
    elif isinstance(x, list):
        return [_dev(v, dev) for v in x]
    else:
        return x
    if dev is not None:
        out._ember_device = dev
    return out


def _track(host):
    _register(host)
    idx = _state["current"]
    used = _live.setdefault(idx, {})
    key = id(host)
    used[key] = host.nbytes
    total = sum(used.values())
    if total > _peak_used.get(idx, 0):
        _peak_used[idx] = total
    weakref.finalize(host, used.pop, key, None)


class _Ufunc:
    """A ufunc reached through the fake module (cupy.add, cupy.maximum ...)."""

    def __init__(self, uf):
        self._uf = uf
        self.__name__ = uf.__name__

    def __call__(self, *args, **kwargs):
        RECORD.add(self.__name__)
        return _call(self._uf, self.__name__, args, kwargs)

    def __getattr__(self, method):
        fn = getattr(self._uf, method)
        if not callable(fn):
            return fn
        name = f"{self.__name__}.{method}"

        def call(*args, **kwargs):
            RECORD.add(name)
            return _call(fn, name, args, kwargs)
        return call


_FROM_HOST = frozenset({"asarray", "array", "asanyarray", "ascontiguousarray"})


def _call(fn, name, args, kwargs):
    RECORD_KW.setdefault(name, set()).update(kwargs)
    out = kwargs.get("out")
    if name in _FROM_HOST:  # host -> device transfers take host arrays
        args = tuple(a.view(np.ndarray) if isinstance(a, ndarray) else a for a in args)
        with np.errstate(all="ignore"):
            res = fn(*args, **kwargs)
        if isinstance(res, np.ndarray) and not isinstance(res, ndarray) and any(res is a for a in args):
            res = res.copy()  # a transfer never aliases host memory
        return _dev(res)
    with np.errstate(all="ignore"):
        res = fn(*_plain(args, name), **_plain(kwargs, name))
    if out is not None:
        return out
    return _dev(res, _view_device(res, args))


def _view_device(res, args):
    """The device of the array res is a view of (as_strided, broadcast_to ...), else None."""
    if not isinstance(res, np.ndarray) or res.base is None:
        return None
    for a in args:
        if isinstance(a, ndarray):
            return a._ember_device
        if isinstance(a, (list, tuple)):
            dev = _view_device(res, a)
            if dev is not None:
                return dev
    return None


class _Namespace(types.SimpleNamespace):
    pass


def _wrap_function(fn, name):
    def call(*args, **kwargs):
        RECORD.add(name)
        return _call(fn, name, args, kwargs)
    call.__name__ = name.rsplit(".", 1)[-1]
    return call


class _Module(types.ModuleType):
    """Attribute access on the fake module: records the name and returns NumPy's, device-wrapped."""

    def __init__(self, name, np_module, prefix=""):
        super().__init__(name)
        self._np = np_module
        self._prefix = prefix
        self._cache = {}

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        cache = self.__dict__["_cache"]
        if name in cache:
            RECORD.add(self._prefix + name)
            return cache[name]
        obj = getattr(self._np, name)
        RECORD.add(self._prefix + name)
        if isinstance(obj, np.ufunc):
            wrapped = _Ufunc(obj)
        elif isinstance(obj, types.ModuleType):  # cupy.lib.stride_tricks, cupy.linalg ...
            wrapped = _Module(f"{self.__name__}.{name}", obj, f"{self._prefix}{name}.")
        elif isinstance(obj, type) or not callable(obj):
            wrapped = obj  # dtypes, scalar types, constants: shared with NumPy
        else:
            wrapped = _wrap_function(obj, self._prefix + name)
        cache[name] = wrapped
        return wrapped


# ---- cupy.cuda ------------------------------------------------------------------------------------
class Device:
    """cupy.cuda.Device: a context manager making a fake GPU current."""

    def __init__(self, device=None):
        self.id = _state["current"] if device is None else int(device)
        self._prev = []

    compute_capability = "90"

    def __enter__(self):
        _check_ordinal(self.id)
        self._prev.append(_state["current"])
        _state["current"] = self.id
        return self

    def __exit__(self, *exc):
        _state["current"] = self._prev.pop()
        return False

    def use(self):
        _check_ordinal(self.id)
        _state["current"] = self.id

    def synchronize(self):
        RECORD.add("cuda.Device.synchronize")

    def __eq__(self, other):
        return isinstance(other, Device) and other.id == self.id

    def __hash__(self):
        return self.id


def _check_ordinal(idx):
    if not 0 <= idx < _state["count"]:
        raise CUDARuntimeError("cudaErrorInvalidDevice: invalid device ordinal")


def _set_device(idx):
    _check_ordinal(idx)
    _state["current"] = idx


runtime = _Namespace(
    getDeviceCount=lambda: _state["count"],
    getDevice=lambda: _state["current"],
    setDevice=_set_device,
    getDeviceProperties=lambda idx: {"name": b"Fake CUDA device (NumPy)", "totalGlobalMem": 80 << 30},
)


class _Pool:
    def used_bytes(self):
        return sum(_live.get(_state["current"], {}).values())

    def total_bytes(self):
        return self.used_bytes()

    def free_all_blocks(self):
        RECORD.add("get_default_memory_pool.free_all_blocks")

    def malloc(self, size):
        raise NotImplementedError


_pool = _Pool()


def _set_allocator(fn):
    _state["allocator"] = fn


def make_module():
    """A fresh fake cupy module (devices start at cuda:0 of 2)."""
    _state.update(current=0, count=2, allocator=None, in_method=0)
    mod = _Module("cupy", np)
    mod.__dict__["ndarray"] = ndarray
    mod.__dict__["cuda"] = _Namespace(runtime=runtime, Device=Device, set_allocator=_set_allocator,
                                      get_allocator=lambda: _state["allocator"] or _pool.malloc)
    mod.__dict__["get_default_memory_pool"] = lambda: _pool
    mod.__dict__["random"] = _Namespace(default_rng=_default_rng)
    ndarray._ember_xp = mod
    return mod


# ---- cupy.random ----------------------------------------------------------------------------------
def _default_rng(seed=None):
    RECORD.add("random.default_rng")
    return _Generator(np.random.default_rng(seed))


class _Generator:
    """cupy.random.Generator over NumPy's: records every method ember calls on it."""

    def __init__(self, rng):
        self._rng = rng

    def __getattr__(self, name):
        fn = getattr(self._rng, name)
        RECORD.add("random.Generator." + name)

        def call(*args, **kwargs):
            RECORD_KW.setdefault("random.Generator." + name, set()).update(kwargs)
            return _dev(fn(*args, **kwargs))
        return call
