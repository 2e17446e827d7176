"""Tensor creation: from data, filled, ranges and random.

Arrays are made by the array module of the target device (numpy or cupy), on that device; Python
data (lists, numbers) is converted on the host first, then moved.  Random ops draw from the
target device's generator (``ember.random.generator_for``).
"""
import builtins
import functools
import math
import numbers
import operator

import numpy as np

from .. import _backend as B
from .. import _memory_format as _mf
from .._fma import fma32 as _fma32, fma64 as _fma64
from .. import _userwarn
from .._tensor import Tensor, _wrap
from . import barebones as _barebones
from . import kernel_for
from ..autograd.grad_mode import InferenceVersion, check_inplace as _check_inference, state as _grad_state
from ..autograd.graph import Node, edge
from ..random import generator_for

__all__ = [
    "tensor", "as_tensor", "from_numpy", "asarray", "empty", "zeros", "ones", "full", "rand", "randn",
    "randint", "randperm", "arange", "range", "linspace", "logspace", "eye", "zeros_like", "ones_like",
    "empty_like", "full_like", "rand_like", "randn_like", "randint_like", "normal", "bernoulli",
    "multinomial", "scalar_tensor", "tril_indices", "triu_indices", "is_tensor", "numel", "is_floating_point",
    "empty_permuted",
]


def _sizes(size, fn=None):
    packed = len(size) == 1 and isinstance(size[0], (tuple, list))
    if packed:
        size = tuple(size[0])
    for s in size:   # plain non-negative ints need no more (numbers.Integral's ABC test costs ~0.2 us each)
        if type(s) is not int or s < 0:
            break
    else:
        return size
    for i, s in enumerate(size):
        if not isinstance(s, numbers.Integral) and not (isinstance(s, Tensor) and s.numel() == 1):
            got = type(s).__name__
            if fn is None:
                raise TypeError(f"size must be a sequence of ints, got {got} in {size!r}")
            if len(size) == 1 and not packed:   # torch's two wordings: a lone value, or one inside a size
                raise TypeError(f"{fn}(): argument 'size' (position 1) must be tuple of ints, not {got}")
            raise TypeError(f"{fn}(): argument 'size' failed to unpack the object at pos {i + 1} with error "
                            f"\"type must be tuple of ints,but got {got}\"")
        if int(s) < 0:
            raise RuntimeError(f"Trying to create tensor with negative dimension {int(s)}: {list(size)}")
    return tuple(int(s) for s in size)


def _size_arg(sizes, size, fn):
    """The shape from *sizes or from the size= keyword torch also accepts (a tuple, not an int)."""
    if size is None:
        if not sizes:  # torch.zeros() is not a scalar: torch refuses it
            if fn in ("rand", "randn"):
                raise TypeError(f"{fn}() received an invalid combination of arguments - got (), but expected a "
                                f"size, e.g. {fn}(2, 3) or {fn}((2, 3)); for a 0-dim tensor pass {fn}(())")
            raise TypeError(f'{fn}() missing 1 required positional arguments: "size"')
        return _sizes(sizes, fn)
    if sizes:
        raise TypeError(f"{fn}() got multiple values for argument 'size'")
    if not isinstance(size, (tuple, list)):
        raise TypeError(f"{fn}(): argument 'size' must be tuple of ints, not {type(size).__name__}")
    return _sizes((size,), fn)


def _target(device):
    """(array module, device) for a device argument; a 'cuda' without index means the current GPU."""
    dev = B.as_device(device if device is not None else B.DEFAULT_DEVICE[0])
    if dev.type == "cpu":
        return np, dev
    if dev.type == "meta":
        return B.array_module(dev), dev
    if dev.type != "cuda":
        B.refuse_backend(dev.type, "aten::empty.memory_format")   # (a factory: torch fails at dispatch)
    from .. import cuda
    cuda._check_usable(dev)
    if dev.index is None:
        dev = B.device("cuda", cuda.current_device())
    return B.array_module(dev), dev


def _current(xp, dev):
    """A context making dev the current device while its arrays are made (nothing on the CPU)."""
    return B._NULL if xp is np or dev.type == "meta" else xp.cuda.Device(dev.index)


def _make(device, requires_grad, fn, *args, **kwargs):
    """fn (a name in the array module) called on the device's module, on that device."""
    xp, dev = _target(device)
    if xp is np:
        array = getattr(xp, fn)(*args, **kwargs)
    else:
        npd = np.dtype(kwargs.get("dtype", np.float32))
        if npd.kind == "V" or npd.itemsize == 1 and npd.kind == "f":   # (bfloat16, float8: ml_dtypes' types)
            from .convert import refuse_bfloat16_on
            refuse_bfloat16_on(dev, npd.name)
        with _current(xp, dev):
            array = getattr(xp, fn)(*args, **kwargs)
    return _done(array, requires_grad)


def _done(array, requires_grad):
    t = _wrap(array)
    if requires_grad:
        if requires_grad is not True:   # (requires_grad=1: torch's TypeError)
            kind = type(requires_grad)
            name = kind.__name__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__name__}"
            raise TypeError(f"argument 'requires_grad' must be bool, not {name} (pass requires_grad=True)")
        if array.dtype.kind not in "fcV":   # (a factory's words differ from requires_grad_()'s in torch)
            raise RuntimeError(f"Only Tensors of floating point and complex dtype can require gradients (got "
                               f"{t.dtype}); pass a float dtype, e.g. dtype=torch.float32")
        t.requires_grad_(True)
    return t


def _finish(array, device, requires_grad, factory=False):
    """An array (on any device) moved to device and wrapped; factory: made for a factory (arange,
    linspace), which torch makes on the device itself, rather than copied there as tensor(data)."""
    dev = B.as_device(device if device is not None else B.DEFAULT_DEVICE[0])
    if dev.type != "cpu" or type(array) is not np.ndarray:
        from .convert import _move   # (here: an import statement costs ~0.4 us a call)
        if dev.type == "cuda" or factory:
            dev = _target(dev)[1]
        array = _move(array, dev)
    return _done(array, requires_grad)


def _draw(device, generator):
    """The generator for a random op on device, and that device's array module."""
    xp, dev = _target(device)
    return generator_for(dev, generator), xp


def _dt(dtype, default=None, op=None):
    if dtype is None:
        return (default or B.get_default_dtype()).np
    return B.dtype_arg(dtype, op).np


def _out_arg(name):
    """torch's out= for a factory function: the values are made in out's dtype (a dtype= must equal it),
    written into out (resized to the result's shape) and out is returned."""
    def wrap(fn):
        @functools.wraps(fn)
        def with_out(*args, out=None, **kwargs):
            if out is None:
                return fn(*args, **kwargs)
            if not isinstance(out, Tensor):
                raise TypeError(f"{name}(): argument 'out' must be Tensor, not {type(out).__name__}")
            dtype = kwargs.get("dtype")
            if dtype is not None and B.as_dtype(dtype) is not out.dtype:
                raise RuntimeError(f"dtype {B.SCALAR_NAMES[B.as_dtype(dtype)]} does not match dtype of out parameter "
                                   f"({B.SCALAR_NAMES[out.dtype]})")
            from ..autograd.grad_mode import state
            if state.enabled and out._requires_grad:
                raise RuntimeError(f"{name}(): functions with out=... arguments don't support automatic "
                                   "differentiation, but one of the arguments requires grad.")
            requires_grad = kwargs.pop("requires_grad", False)
            kwargs["dtype"] = out.dtype
            kwargs.setdefault("device", out.device)
            from .elementwise import _write_out
            res = fn(*args, **kwargs)._data
            if name == "arange" and out._data.size and out._data.size != res.size:
                # (of torch's factories only arange warns when it resizes out, in its own words)
                _userwarn.warn(f"The number of elements in the out tensor of shape {list(out._data.shape)} is "
                               f"{out._data.size} which does not match the computed number of elements "
                               f"{res.size}. Note that this may occur as a result of rounding error. The out "
                               f"tensor will be resized to a tensor of shape ({res.size},).")
            _write_out(out, res, name, resize_warning=False)   # (made in out's dtype: no cast)
            if requires_grad:
                out.requires_grad_(True)
            return out
        return with_out
    return wrap


def _infer_dtype(data, kinds=None):
    """torch.tensor's inference: bool, int64, or the default float (kinds: the elements' types)."""
    arr = np.asarray(data)
    kind = arr.dtype.kind
    if kinds is None:
        kinds = _leaf_types(data) if isinstance(data, (list, tuple)) else {type(data)}
    # a Python int past int64 overflows where the tensor is integral; next to a float or complex
    # number the tensor is floating, and the int is converted, as in torch (NumPy made it an object)
    if kind in "Oufc" and not isinstance(data, np.ndarray) and int in kinds and not kinds & {float, complex}:
        items = _flatten(data) if isinstance(data, (list, tuple)) else (data,)
        if any(type(x) is int and not -2 ** 63 <= x < 2 ** 63 for x in items):
            raise ValueError("Overflow when unpacking long long (a Python int outside int64's range; "
                             "pass floats or dtype=torch.float64 for such values)")
    if kind == "O" and kinds <= _PY_SCALARS and kinds & {float, complex}:
        kind = "c" if complex in kinds else "f"
    if kind == "b":
        return np.bool_
    if kind in "iu":
        return np.int64 if arr.dtype != np.uint8 or not isinstance(data, np.ndarray) else np.uint8
    if kind == "f":
        return B.get_default_dtype().np
    if kind == "c":   # Python complex numbers: the complex dtype of the default float, as torch
        return B.get_default_dtype().to_complex().np
    if kind == "O":
        if not isinstance(data, (list, tuple)) or any(x is None for x in _flatten(data)):
            bad = data if not isinstance(data, (list, tuple)) else None
            raise RuntimeError(f"Could not infer dtype of {type(bad).__name__} (torch.tensor takes numbers, "
                               "nested lists of numbers, NumPy arrays or tensors)")
        raise TypeError(f"can't convert {type(data).__name__} with mixed or non-numeric elements to a tensor")
    if kind in "US":
        raise TypeError(f"new(): invalid data type '{'str' if kind == 'U' else 'bytes'}' (torch.tensor takes numbers: "
                        "map strings to class indices first)")
    raise TypeError(f"can't convert data of numpy dtype {arr.dtype} to a tensor")


def _python_uints(data, d):
    """Python numbers as torch.tensor(data, dtype=uint16/32/64) takes them: uint64 Python ints up to 2**64 - 1
    (no negative ones, no floats), uint16/32 ints within [-max, max] (negatives wrap), floats truncated."""
    values = list(_flatten(data)) if isinstance(data, (list, tuple)) else [data]
    if d is B.uint64:
        for v in values:
            if isinstance(v, float):
                raise TypeError(f"an integer is required (tensor(..., dtype={B.namespace()}.uint64) takes Python "
                                "ints: convert floats with int() first)")
            if isinstance(v, int) and v < 0:
                raise OverflowError("can't convert negative int to unsigned (uint64 holds 0 to 2**64 - 1)")
        return np.array(data, dtype=np.uint64)
    hi = int(np.iinfo(d.np).max)
    for v in values:
        if isinstance(v, int) and not -2 ** 63 <= v < 2 ** 63:   # (torch reads the others as C long longs)
            raise ValueError("Overflow when unpacking long long (a Python int outside int64's range: only "
                             "dtype=uint64 takes it)")
        if isinstance(v, int) and not isinstance(v, bool) and not -hi <= v <= hi:
            raise RuntimeError(f"value cannot be converted to type {d.name} without overflow ({d.name} holds 0 to "
                               f"{hi}; wrap the value yourself, e.g. {v} % {hi + 1})")
    return d.cast(_data_to_array(data, None))


def _data_to_array(data, dtype):
    if dtype is not None and B.dtype_arg(dtype).cast is not None:   # (converted as torch: bfloat16 from float32)
        d = B.dtype_arg(dtype)
        if d in B.UINTS and isinstance(data, (int, list, tuple)) and not isinstance(data, bool):
            return _python_uints(data, d)
        return d.cast(_data_to_array(data, B.float32 if d.is_floating_point else None))
    if isinstance(data, Tensor):
        arr = data.detach()._data
        return arr.astype(_dt(dtype), copy=True) if dtype is not None else arr.copy()
    if isinstance(data, np.generic):
        data = np.asarray(data)  # numpy scalars keep their dtype, as in torch
    if isinstance(data, np.ndarray):
        B.numpy_source(data, shared=False)
        if dtype is None:
            return np.array(data, copy=True)
        return np.array(data, dtype=_dt(dtype))
    kinds = None
    if isinstance(data, (list, tuple)):
        kinds = _leaf_types(data)
        if not kinds <= _PY_SCALARS:
            first = data
            while isinstance(first, (list, tuple)) and first:
                first = first[0]
            if isinstance(first, str):  # torch reads a leading str as one more dimension
                raise ValueError("too many dimensions 'str' (torch.tensor takes numbers: map labels such as "
                                 "strings to class indices first)")
            # NumPy scalars and 0-d tensors keep their dtype: torch promotes the elements' dtypes
            if dtype is None:
                dtype = _promoted_dtype(data)
            if any(issubclass(k, Tensor) for k in kinds):
                data = _nested_tensors_to_list(data)
            if np.ndarray in kinds and not _ndarray_list_warned:
                _warn_ndarray_list()
    try:
        if dtype is None:
            return np.array(data, dtype=_infer_dtype(data, kinds))
        dt = np.dtype(_dt(dtype))
        if dt.kind in "iu":
            arr = _ints_of_numbers(data, kinds if kinds is not None else {type(data)}, dt)
            if arr is not None:
                return arr
        return np.array(data, dtype=dt)
    except TypeError as e:
        if "complex" in str(e):   # a Python complex into a real dtype: torch's message
            raise TypeError(f"must be real number, not complex (use dtype={B.namespace()}.complex64 for "
                            "complex values)") from None
        raise
    except OverflowError:
        raise RuntimeError(f"value cannot be converted to type {np.dtype(_dt(dtype)).name} without overflow") from None
    except ValueError as e:
        if isinstance(data, (list, tuple)):
            _check_rectangular(data)
        if dtype is not None and ("NaN" in str(e) or "infinity" in str(e)):
            raise RuntimeError(f"value cannot be converted to type {np.dtype(_dt(dtype)).name} without overflow "
                               f"({e})") from None
        raise


# the C type torch names in the overflow error of full() and fill_()
_C_INT_NAMES = {"uint8": "uint8_t", "int8": "int8_t", "int16": "int16_t", "int32": "int", "int64": "int64_t"}


# (min, max) of each integer dtype, and the lowest value it takes: an unsigned type wraps -max..-1
# (np.iinfo takes ~2 us a call)
_INT_RANGES = {np.dtype(t): (np.iinfo(t).min, np.iinfo(t).max, -np.iinfo(t).max if np.dtype(t).kind == "u"
                             else np.iinfo(t).min) for t in (np.uint8, np.int8, np.int16, np.int32, np.int64)}


def _checked_int(value, dt, c_name=False, long_long=False):
    """A Python number as torch converts it into integer dtype dt (c10::checked_convert): a float must lie
    in dt's range and is truncated, an int too, except that an unsigned type takes -max..-1 as two's
    complement (-1 is 255 in uint8); anything else is torch's overflow RuntimeError, naming the dtype (its
    C type with c_name, as full and fill_ do).
    Other values (and other dtypes) pass through. long_long: torch reads the int as a C long long first
    (torch.tensor does, full and fill_ don't)."""
    limits = _INT_RANGES.get(dt)
    if limits is None or type(value) is bool or isinstance(value, np.bool_) or not isinstance(
            value, (int, float, np.integer, np.floating)):
        return value
    lo, hi, lowest = limits
    if isinstance(value, (int, np.integer)):
        v = int(value)
        if long_long and not -2 ** 63 <= v < 2 ** 63:
            raise ValueError(f"Overflow when unpacking long long (got {v}: a Python int beyond int64's range can't "
                             f"go in a {dt.name} tensor)")
        if lowest <= v <= hi:
            return v + hi + 1 if v < 0 and lo == 0 else v
    elif lo <= value <= hi:   # (NaN fails both)
        return int(value)
    wrap = f", or {lowest}..-1 as two's complement" if lo == 0 else ""
    type_name = _C_INT_NAMES[dt.name] if c_name else dt.name
    raise RuntimeError(f"value cannot be converted to type {type_name} without overflow (got {value!r}; the "
                       f"{dt.name} range is {lo}..{hi}{wrap})")


def _ints_of_numbers(data, kinds, dt):
    """Python numbers (nested lists) in integer dtype dt as torch converts each (_checked_int), or None
    when the leaves are not Python bools, ints and floats only. NumPy refuses -1 for uint8, and truncates
    a float before its range check (it takes 255.9 and -0.5 for uint8, which torch refuses)."""
    if not kinds <= _REAL_PY_SCALARS:
        return None
    if float not in kinds:
        try:
            return np.array(data, dtype=dt)
        except OverflowError:
            pass
        try:
            a = np.array(data, dtype=np.int64)
        except OverflowError:   # torch reads a Python int as a C long long
            raise ValueError("Overflow when unpacking long long (a Python int beyond int64's range can't go in "
                             f"a {dt.name} tensor)") from None
        lo, hi, lowest = _INT_RANGES[dt]
        ok = (a >= lowest) & (a <= hi)
    elif int not in kinds:
        a = np.array(data, dtype=np.float64)
        lo, hi, _ = _INT_RANGES[dt]
        ok = (a >= lo) & (a <= hi)
    else:   # ints and floats together: each by its own rule
        def walk(x):
            return [walk(y) for y in x] if isinstance(x, (list, tuple)) else _checked_int(x, dt, long_long=True)
        return np.array(walk(data), dtype=np.int64).astype(dt)
    if not ok.all():
        _checked_int(a[~ok].flat[0].item(), dt)   # (raises, naming the first value out of range)
    return a.astype(dt)


_REAL_PY_SCALARS = {bool, int, float}


def _wrapped_int(value, dt):
    """A Python int wrapped into integer dtype dt as a C cast does (300 -> 44 for uint8), as a Python int."""
    return np.array(value).astype(dt).item()
_ndarray_list_warned = False


def _warn_ndarray_list():
    global _ndarray_list_warned   # torch warns once per process (TORCH_WARN_ONCE)
    _ndarray_list_warned = True
    _userwarn.warn("Creating a tensor from a list of numpy.ndarrays is extremely slow. Please consider converting "
                   "the list to a single numpy.ndarray with numpy.array() before converting to a tensor.")


def _check_rectangular(data, dim=0):
    """torch's error for a ragged nested list (NumPy's names an 'inhomogeneous part')."""
    shape = None
    for x in data:
        is_seq = isinstance(x, (list, tuple)) or (isinstance(x, np.ndarray) and x.ndim > 0)
        if shape is None:
            shape = len(x) if is_seq else -1
        elif is_seq != (shape >= 0):
            raise TypeError("not a sequence" if shape >= 0 else
                            f"'{type(x).__name__}' object cannot be interpreted as an integer")
        elif is_seq and len(x) != shape:
            raise ValueError(f"expected sequence of length {shape} at dim {dim + 1} (got {len(x)})")
    for x in data:
        if isinstance(x, (list, tuple)) or (isinstance(x, np.ndarray) and x.ndim > 0):
            _check_rectangular(x, dim + 1)


_PY_SCALARS = {bool, int, float, complex}


def _element_dtype(x):
    if isinstance(x, (bool, np.bool_)):
        return B.bool_
    if isinstance(x, (np.generic, np.ndarray)):   # a list of arrays: each counts with its dtype, as in torch
        return B.dtype_of(x)
    if isinstance(x, Tensor):
        return x.dtype
    if isinstance(x, numbers.Integral):
        return B.int64
    if isinstance(x, numbers.Real):
        return B.get_default_dtype()
    if isinstance(x, numbers.Complex):
        return B.get_default_dtype().to_complex()
    if x is None:
        raise RuntimeError("Could not infer dtype of NoneType (torch.tensor takes numbers, NumPy scalars or "
                           "tensors as elements)")
    if not isinstance(x, (str, bytes)):  # torch: a str is invalid data, any other object has no dtype
        raise RuntimeError(f"Could not infer dtype of {type(x).__name__} (torch.tensor takes numbers, NumPy "
                           "scalars or tensors as elements)")
    raise TypeError(f"new(): invalid data type '{type(x).__name__}' (torch.tensor takes numbers, NumPy scalars "
                    "or tensors as elements)")


def _promoted_dtype(data):
    out = None
    for x in _flatten(data):
        d = _element_dtype(x)
        out = d if out is None else B.promote_types(out, d)
    return out


def _leaf_types(data):
    """The types of the non-sequence elements of nested lists and tuples, a level at a time with
    C-speed maps (a generator over 1M floats took ~100 ms of torch.tensor(list)'s 240)."""
    kinds, level = set(), [data]
    while level:
        deeper = []
        for seq in level:
            types = set(map(type, seq))
            if any(issubclass(t, (list, tuple)) for t in types):
                for x in seq:
                    if isinstance(x, (list, tuple)):
                        deeper.append(x)
                    else:
                        kinds.add(type(x))
            else:
                kinds |= types
        level = deeper
    return kinds


def _flatten(data):
    for x in data:
        if isinstance(x, (list, tuple)):
            yield from _flatten(x)
        else:
            yield x


def _nested_tensors_to_list(data):
    if isinstance(data, Tensor):   # torch reads a tensor inside a list as one number
        if data._data.size != 1:
            raise ValueError(f"only one element tensors can be converted to Python scalars (got a tensor of shape "
                             f"{list(data.shape)} inside the list; join tensors with torch.stack or torch.cat)")
        return data._data.reshape(()).item()
    if isinstance(data, (list, tuple)):
        return [_nested_tensors_to_list(x) for x in data]
    return data


def tensor(data, *, dtype=None, device=None, requires_grad=False, pin_memory=False):
    """A new tensor copying data (nested lists, numbers, arrays), with torch's dtype inference."""
    if dtype is not None and type(dtype) is not B.dtype:
        B.dtype_arg(dtype, "tensor")
    if isinstance(data, Tensor):
        _userwarn.warn("To copy construct from a tensor, it is recommended to use sourceTensor.detach().clone() "
                       "or sourceTensor.detach().clone().requires_grad_(True), rather than "
                       "torch.tensor(sourceTensor).")
        if device is None:
            device = data.device  # torch keeps a tensor's device when none is given
    return _finish(_data_to_array(data, dtype), device, requires_grad)


def as_tensor(data, dtype=None, device=None):
    """A tensor over data, sharing memory with a NumPy array or tensor when possible."""
    B.dtype_arg(dtype, "as_tensor")
    if isinstance(data, Tensor):
        if dtype is None or B.as_dtype(dtype) is data.dtype:
            return data if device is None else data.to(device)
        return data.to(dtype)
    if isinstance(data, np.ndarray):
        B.numpy_source(data, shared=True)
        arr = data if dtype is None else data.astype(_dt(dtype), copy=False)
        return _finish(arr, device, False)
    return tensor(data, dtype=dtype, device=device)


_asarray_grad_warned = [False]


def asarray(obj, *, dtype=None, device=None, copy=None, requires_grad=None):
    """obj (a tensor, NumPy array or scalar, DLPack capsule, buffer or sequence) as a tensor, sharing
    its memory unless copy=True or the dtype or device differs (torch.asarray)."""
    force_copy = copy is True
    source = obj if isinstance(obj, Tensor) else None
    grad = requires_grad if requires_grad is not None else source is not None and source.requires_grad
    if grad and requires_grad is None and not _asarray_grad_warned[0]:
        _asarray_grad_warned[0] = True
        _userwarn.warn("torch.asarray: unspecified requires_grad now defaults to obj.requires_grad instead of "
                       "False. Pass requires_grad=False explicitly to get the old behavior and silence this warning.")
    unwritable = False
    if source is None and isinstance(obj, np.generic):
        if copy is False:
            raise RuntimeError("can't alias NumPy scalars. Either remove copy=False or transform it in a ndarray. ")
        source, force_copy = _wrap(B.numpy_source(B.host_array(obj), shared=False)), False
    elif source is None and isinstance(obj, np.ndarray):
        source = _wrap(B.numpy_source(obj, shared=False))
        unwritable = not obj.flags.writeable
    elif source is None and type(obj).__name__ == "PyCapsule":
        from ..utils.dlpack import from_dlpack
        source = from_dlpack(obj)
    elif source is None and not isinstance(obj, (str, list, tuple)):
        try:
            memoryview(obj)
        except TypeError:
            pass
        else:
            source = frombuffer(obj, dtype=dtype if dtype is not None else B.get_default_dtype())
    if source is None:
        if copy is False:
            raise ValueError("can't alias arbitrary sequence into a tensor.")
        if isinstance(obj, str):
            raise TypeError("new(): invalid data type 'str' (torch.asarray takes tensors, arrays, buffers, numbers "
                            "or sequences of them)")
        return _done(tensor(obj, dtype=dtype, device=device)._data, grad)
    dev = None if device is None else B.as_device(device)
    wrong_device = dev is not None and (dev.type != source.device.type or
                                        dev.index is not None and dev.index != source.device.index)
    wrong_dtype = dtype is not None and B.as_dtype(dtype) is not source.dtype
    if force_copy or copy is None and (wrong_device or wrong_dtype):
        if wrong_device or wrong_dtype:
            source = source.to(device=dev or source.device, dtype=dtype or source.dtype, copy=force_copy)
        else:
            source = source.clone()
    else:
        if wrong_device:
            raise ValueError(f"can't alias tensor from device '{source.device}' to '{dev}'.")
        if wrong_dtype:
            raise ValueError(f"can't alias tensor with dtype '{B.SCALAR_NAMES[source.dtype]}' into dtype "
                             f"'{B.SCALAR_NAMES[B.as_dtype(dtype)]}'.")
        if unwritable:
            B.numpy_source(obj, shared=True)
    if source.grad_fn is not None and not grad:
        return source.detach()
    if source.requires_grad != grad:
        if grad:   # (torch's factory message, not requires_grad_()'s)
            _done(source._data[:0], True)
        source.requires_grad_(grad)
    return source


def from_numpy(ndarray):
    """A tensor sharing memory with a NumPy array."""
    if not isinstance(ndarray, np.ndarray):
        raise TypeError(f"expected np.ndarray (got {type(ndarray).__name__})")
    return _wrap(B.numpy_source(ndarray, shared=True))


def scalar_tensor(s, *, dtype=None, device=None, requires_grad=False):
    """A 0-d tensor holding s."""
    dt = _dt(dtype, op="scalar_tensor")
    if np.dtype(dt).kind in "iu":
        s = _checked_int(s, np.dtype(dt), True)
    return _make(device, requires_grad, "full", (), s, dtype=dt)


@_out_arg("empty")
def empty(*sizes, size=None, dtype=None, device=None, requires_grad=False, out=None, memory_format=None,
          pin_memory=False):
    """An uninitialised tensor (laid out as memory_format says: channels_last is NHWC in memory)."""
    shape = _size_arg(sizes, size, "empty")
    if memory_format is not None:
        order = _mf.order_of(memory_format, len(shape), "empty")
        if order is not None:
            t = _make(device, requires_grad, "empty", tuple(shape[d] for d in order), dtype=_dt(dtype, op="empty"))
            t._data = _mf.make(shape, order, lambda s: t._data)
            return t
    return _make(device, requires_grad, "empty", shape, dtype=_dt(dtype, op="empty"))


@_out_arg("zeros")
def zeros(*sizes, size=None, dtype=None, device=None, requires_grad=False, out=None):
    """A tensor of zeros."""
    try:
        shape = _size_arg(sizes, size, "zeros")
    except RuntimeError as e:
        if "negative dimension" not in str(e):
            raise
        raise RuntimeError(f"zeros: Dimension size must be non-negative. ({e})") from None   # (torch's words)
    return _make(device, requires_grad, "zeros", shape, dtype=_dt(dtype, op="zeros"))


@_out_arg("ones")
def ones(*sizes, size=None, dtype=None, device=None, requires_grad=False, out=None):
    """A tensor of ones."""
    return _make(device, requires_grad, "ones", _size_arg(sizes, size, "ones"), dtype=_dt(dtype, op="ones"))


def _fill_dtype(fill_value):
    if isinstance(fill_value, bool):
        return B.bool_
    if isinstance(fill_value, numbers.Integral):
        return B.int64
    if isinstance(fill_value, complex):
        return B.get_default_dtype().to_complex()
    return None


@_out_arg("full")
def full(size, fill_value, *, dtype=None, device=None, requires_grad=False, out=None):
    """A tensor filled with fill_value (dtype inferred from it as torch)."""
    if isinstance(fill_value, Tensor):
        fill_value = fill_value.item()
    if not isinstance(fill_value, (numbers.Number, np.generic)):
        raise TypeError(f"full(): argument 'fill_value' (position 2) must be Number, not {type(fill_value).__name__}")
    dt = _dt(dtype, _fill_dtype(fill_value), "full")
    if not isinstance(size, (tuple, list)):
        raise TypeError(f"full(): argument 'size' (position 1) must be tuple of ints, not {type(size).__name__}")
    if type(fill_value) is not float or np.dtype(dt).kind != "f":
        fill_value = _checked_int(fill_value, np.dtype(dt), True)
    if np.dtype(dt).kind == "V" and isinstance(fill_value, (int, float, np.number)) and type(fill_value) is not bool:
        fill_value = float(np.float32(fill_value))   # (bfloat16 is made from the float32, as torch's)
    if np.dtype(dt) in B.LIMITED and B.LIMITED[np.dtype(dt)].is_floating_point:   # (float8: torch's conversion)
        _barebones.checked_number(fill_value, B.LIMITED[np.dtype(dt)])
        fill_value = B.cast_number(fill_value, B.LIMITED[np.dtype(dt)])
    return _make(device, requires_grad, "full", _sizes((size,)), fill_value, dtype=dt)


def _float_only(dtype, kernel, op):
    """The numpy dtype of a random float op; torch has no integer kernel for it."""
    dt = _dt(dtype, op=op)
    kernel_for(np.dtype(dt), kernel)
    return dt


def _continuous(t, name):
    """torch's RuntimeError for a continuous distribution's fill of a tensor that isn't real floating."""
    if t._data.dtype.kind != "f":
        raise RuntimeError(f"{name} distribution is a continuous probability distribution. dtype must be a floating "
                           f"point but you specified {B.SCALAR_NAMES[t.dtype]}")


@_out_arg("rand")
def rand(*sizes, size=None, generator=None, dtype=None, device=None, requires_grad=False, out=None):
    """Uniform random numbers in [0, 1)."""
    dt = _float_only(dtype, "check_uniform_bounds", "rand")
    g, _ = _draw(device, generator)
    shape = _size_arg(sizes, size, "rand")
    if np.dtype(dt).kind == "c":   # torch draws the real and imaginary parts as pairs of real numbers
        return _done(_complex_view(g.random(tuple(shape) + (2,), _real_np(dt))), requires_grad)
    return _done(g.random(shape, dt), requires_grad)


def _real_np(dt):
    return np.float32 if np.dtype(dt) == np.complex64 else np.float64


def _complex_view(pairs):
    """A (..., 2) real array as the complex array of its pairs (a view)."""
    return pairs.view(np.complex64 if pairs.dtype == np.float32 else np.complex128)[..., 0]


@_out_arg("randn")
def randn(*sizes, size=None, generator=None, dtype=None, device=None, requires_grad=False, out=None):
    """Standard normal random numbers."""
    dt = _float_only(dtype, "normal_kernel_cpu", "randn")
    g, _ = _draw(device, generator)
    shape = _size_arg(sizes, size, "randn")
    if np.dtype(dt).kind == "c":   # torch: real and imaginary parts each of variance 1/2
        return _done(_complex_view(g.normal(0.0, 1 / math.sqrt(2), tuple(shape) + (2,), _real_np(dt))),
                     requires_grad)
    return _done(g.standard_normal(shape, dt), requires_grad)


# the C++ type names torch's randint bound errors use
_C_NAMES = {"uint8": "unsigned char", "int8": "signed char", "int16": "short", "int32": "int", "int64": "long",
            "float16": "c10::Half", "float32": "float", "float64": "double", "bool": "bool",
            "uint16": "short unsigned int", "uint32": "unsigned int", "uint64": "long unsigned int"}


def _int_arg(fn, name, v):
    try:
        if isinstance(v, (bool, np.bool_)):
            raise TypeError
        return int(v.item()) if isinstance(v, Tensor) and not v.is_floating_point() else operator.index(v)
    except (TypeError, RuntimeError):
        raise TypeError(f"{fn}(): argument '{name}' must be int, not {type(v).__name__}") from None


def _check_bounds(low, high, dt):
    if dt.kind == "f":
        hi = 2 ** (np.finfo(dt).nmant + 1)
        lo = -hi
    elif dt.kind == "b":
        lo, hi = 0, 1
    else:
        lo, hi = int(np.iinfo(dt).min), int(np.iinfo(dt).max)
    name = _C_NAMES[B.FROM_NUMPY[dt].name]
    if not lo <= low <= hi:
        raise RuntimeError(f"from is out of bounds for {name}")
    if not lo <= high - 1 <= hi:
        raise RuntimeError(f"to - 1 is out of bounds for {name}")


@_out_arg("randint")
def randint(*args, low=None, high=None, size=None, generator=None, dtype=None, device=None,
            requires_grad=False, out=None, layout=None, pin_memory=False):
    """Random integers in [low, high): randint(high, size) or randint(low, high, size), as torch."""
    given = {"low": low, "high": high, "size": size}
    # positional arguments fill the slots not given by keyword; low alone may be left out (it is 0)
    slots = [k for k in ("low", "high", "size") if given[k] is None]
    if len(args) < len(slots) and slots[0] == "low":
        slots = slots[1:]
        given["low"] = 0
    if len(args) > len(slots):
        raise TypeError(f"randint() got {len(args)} positional arguments but takes randint(high, size) or "
                        "randint(low, high, size)")
    if len(args) < len(slots):
        missing = ", ".join(repr(k) for k in slots[len(args):])
        raise TypeError(f"randint() missing required argument(s) {missing}: it takes randint(high, size) or "
                        "randint(low, high, size)")
    given.update(zip(slots, args))
    size = given["size"]
    if not isinstance(size, (tuple, list)):
        raise TypeError(f"randint(): argument 'size' must be tuple of ints, not {type(size).__name__}")
    low, high = _int_arg("randint", "low", given["low"]), _int_arg("randint", "high", given["high"])
    if low >= high:
        raise RuntimeError(f"random_ expects 'from' to be less than 'to', but got from={low} >= to={high}")
    dt = _dt(dtype, B.int64, "randint")
    _barebones.check_dtype("randint", B.FROM_NUMPY[np.dtype(dt)])
    if np.dtype(dt).kind == "c":
        raise RuntimeError("check_random_bounds handles only integral, floating-point and boolean types")
    _check_bounds(low, high, np.dtype(dt))
    g, _ = _draw(device, generator)
    arr = g.integers(low, high, _sizes((size,)), dt)
    return _done(arr.astype(dt, copy=False), requires_grad)


def randperm(n, *, generator=None, dtype=None, device=None, requires_grad=False):
    """A random permutation of 0..n-1."""
    kernel_for(np.dtype(_dt(dtype, B.int64, "randperm")), "randperm", "fiu")
    g, _ = _draw(device, generator)
    return _done(g.permutation(n).astype(_dt(dtype, B.int64)), requires_grad)


def _range_dtype(values, dtype):
    if dtype is not None:
        return _dt(dtype, op="arange")
    if all(isinstance(v, numbers.Integral) or (isinstance(v, Tensor) and not v.is_floating_point())
           for v in values):
        return np.int64
    return B.get_default_dtype().np


_GRAIN = 32768  # at::internal::GRAIN_SIZE


def _arange_float(start, step, n, dt):
    """torch's float arange: in each of at::parallel_for's chunks, cpu_serial_kernel_vec fills pairs of
    256-bit vectors from Vectorized::arange(base, step) (base = start + step*i rounded to dt, then
    lanes base + k*step), and the scalar tail with start + step*i."""
    from .._threads import get_num_threads
    half = dt.itemsize == 2   # float16 and bfloat16
    acc_fma = _fma32 if half else _fma64  # the accumulate type: float for half, else double
    if half:
        start, step = np.float32(start), np.float32(step)
    width = 32 // dt.itemsize
    lanes = np.arange(width)
    out = np.empty(n, dt)
    threads = min(get_num_threads(), -(-n // _GRAIN)) if n > _GRAIN else 1
    chunk = -(-n // threads) if n else 1
    for begin in builtins.range(0, n, chunk):
        end = min(begin + chunk, n)
        vec_end = begin + (end - begin) // (2 * width) * (2 * width)
        for lo in builtins.range(begin, vec_end, _BLOCK):  # blocks that stay in cache
            hi = min(lo + _BLOCK, vec_end)
            base = acc_fma(step, np.arange(lo, hi, width), start).astype(dt)
            out[lo:hi] = acc_fma(lanes, step, base[:, None]).astype(dt).ravel()
        out[vec_end:end] = acc_fma(step, np.arange(vec_end, end), start)
    return out


_BLOCK = 1 << 16  # a multiple of every vector pair's length


def _scalar_value(v):
    return v.item() if isinstance(v, Tensor) else v


@_out_arg("arange")
def arange(*args, start=None, end=None, step=None, dtype=None, device=None, requires_grad=False, out=None,
           layout=None, pin_memory=False):
    """arange(end) or arange(start, end, step=1): values in [start, end), equal bit for bit to torch's CPU kernel."""
    if (0 < len(args) <= 2 and dtype is None and start is None and end is None and step is None
            and type(args[0]) is int and type(args[-1]) is int and args[-1] >= args[0] * (len(args) - 1)):
        # arange(n) and arange(a, b) of plain ints (positional indices, say): the checks below all pass
        return _finish(np.arange(*args, dtype=np.int64), device, requires_grad, True)
    if len(args) == 1 and start is None and end is None:
        if step is not None:  # torch's arange(end) overload has no step
            raise TypeError("arange(end) takes no step; use arange(start, end, step)")
        end = args[0]
    else:
        slots = [k for k, v in (("start", start), ("end", end), ("step", step)) if v is None]
        if len(args) > len(slots):
            raise TypeError(f"arange() takes at most 3 positional arguments ({len(args)} given)")
        given = dict(zip(slots, args))
        start, end, step = given.get("start", start), given.get("end", end), given.get("step", step)
    if end is None:
        raise TypeError('arange() missing 1 required positional arguments: "end"')
    start = 0 if start is None else start
    step = 1 if step is None else step
    for name, v in (("start", start), ("end", end), ("step", step)):
        if not isinstance(v, (numbers.Number, Tensor, np.generic)):
            raise TypeError(f"arange(): argument '{name}' must be Number, not {type(v).__name__}")
    dt = np.dtype(_range_dtype((start, end, step), dtype))
    _barebones.check_dtype("arange", B.FROM_NUMPY[dt])
    if dt.kind == "b" or dt.kind == "c":
        raise NotImplementedError(f"\"arange_cpu\" not implemented for '{B.SCALAR_NAMES[B.FROM_NUMPY[dt]]}'")
    vals = [_scalar_value(v) for v in (start, end, step)]
    d_start, d_end, d_step = (float(v) for v in vals)  # torch validates in double
    if not (d_step > 0 or d_step < 0):
        raise RuntimeError("step must be nonzero")
    if not (math.isfinite(d_start) and math.isfinite(d_end)):
        raise RuntimeError(f"unsupported range: {vals[0]} -> {vals[1]}")
    if not ((d_step > 0 and d_end >= d_start) or (d_step < 0 and d_end <= d_start)):
        raise RuntimeError("upper bound and lower bound inconsistent with step sign")
    if dt.kind in "fV":   # ('V': bfloat16)
        a_start, a_step = d_start, d_step  # _arange_float rounds them to float for half
    else:
        # the kernel truncates to int64: arange(0, 5, 1.5, dtype=int32) is 0, 1, 2, 3
        a_start, a_end, a_step = (int(v) for v in vals)
    if dt == np.int64:
        if a_step == 0:
            raise ValueError("step must be nonzero")
        n = -((a_start - a_end) // a_step)  # torch's int64 size is exact: ceil((end - start) / step)
    else:
        n = math.ceil((d_end - d_start) / d_step)
        if not 0 <= n <= 2 ** 63 - 1:
            raise RuntimeError("invalid size, possible overflow?")
    if dt.kind in "fV":
        arr = _arange_float(a_start, a_step, n, dt)
    else:
        arr = (np.arange(n, dtype=np.int64) * a_step + a_start).astype(dt)
    return _finish(arr, device, requires_grad, True)


def range(start=0, end=None, step=1, *, dtype=None, device=None, requires_grad=False):
    """Deprecated inclusive arange, as torch.range."""
    ns = B.namespace()
    _userwarn.warn(f"{ns}.range is deprecated and will be removed in a future release because its behavior is "
                   f"inconsistent with Python's range builtin. Instead, use {ns}.arange, which produces values in "
                   "[start, end).")
    if end is None:
        start, end = 0, start
    n = int(math.floor((end - start) / step)) + 1
    xp, dev = _target(device)
    with _current(xp, dev):
        arr = start + xp.arange(n, dtype=np.float64) * step
        return _done(arr.astype(_dt(dtype, op="range")), requires_grad)


def _linspace_values(start, end, steps, dt):
    """torch's linspace kernel: start + step*i for the first half, end - step*(steps-1-i) for the rest;
    step is in dt for floats (half arithmetic rounds after each operation) and in double for integers."""
    half = steps // 2
    idx, back = np.arange(half), np.arange(steps - 1 - half, -1, -1)
    if dt == np.float16 or dt.kind == "V":   # (bfloat16 as half: each operation rounds)
        f = dt.type
        s, e = f(start), f(end)
        step = f(e - s) / f(steps - 1)
        lo, hi = s + step * idx.astype(dt), e - step * back.astype(dt)
    elif dt == np.float32:
        s, e = np.float32(start), np.float32(end)
        step = np.float32(e - s) / np.float32(steps - 1)
        lo, hi = _fma32(step, idx, s), _fma32(-step, back, e)
    else:
        s, e = (float(start), float(end)) if dt == np.float64 else (
            float(np.array(start).astype(dt)), float(np.array(end).astype(dt)))
        step = (e - s) / (steps - 1)
        lo, hi = _fma64(step, idx, s), _fma64(-step, back, e)
    return np.concatenate([lo.astype(dt), hi.astype(dt)])


@_out_arg("linspace")
def linspace(start, end, steps, *, dtype=None, device=None, requires_grad=False, out=None, layout=None,
             pin_memory=False):
    """steps evenly spaced values from start to end inclusive, equal bit for bit to torch's CPU kernel."""
    if not isinstance(steps, (int, np.integer)) or isinstance(steps, bool):
        raise TypeError(f"linspace(): argument 'steps' must be int, not {type(steps).__name__}")
    if steps < 0:
        raise RuntimeError("number of steps must be non-negative")
    dt = np.dtype(_dt(dtype, op="linspace"))
    _barebones.check_dtype("linspace", B.FROM_NUMPY[dt])
    if dt.kind == "b":
        raise NotImplementedError("\"linspace_cpu\" not implemented for 'Bool'")
    start, end = _scalar_value(start), _scalar_value(end)
    if dt.kind == "c":   # complex endpoints: the real and imaginary parts each spaced evenly
        real_dt = np.dtype(np.float32 if dt == np.complex64 else np.float64)
        re = linspace(complex(start).real, complex(end).real, steps, dtype=B.FROM_NUMPY[real_dt])._data
        im = linspace(complex(start).imag, complex(end).imag, steps, dtype=B.FROM_NUMPY[real_dt])._data
        return _finish((re + 1j * im).astype(dt), device, requires_grad, True)
    with np.errstate(all="ignore"):
        if steps == 1:
            arr = np.array([start]).astype(dt)
        else:
            arr = _linspace_values(start, end, steps, dt) if steps else np.empty(0, dt)
    return _finish(arr, device, requires_grad, True)


def logspace(start, end, steps, base=10.0, *, dtype=None, device=None, requires_grad=False):
    """steps values spaced evenly on a log scale."""
    if steps < 0:
        raise RuntimeError("number of steps must be non-negative")
    xp, dev = _target(device)
    with _current(xp, dev):
        return _done(xp.logspace(start, end, steps, base=base).astype(_dt(dtype, op="logspace")), requires_grad)


@_out_arg("eye")
def eye(n, m=None, *, dtype=None, device=None, requires_grad=False, out=None):
    """A 2-d identity matrix."""
    if n < 0:
        raise RuntimeError(f"n must be greater or equal to 0, got {n}")
    if m is not None and m < 0:
        raise RuntimeError(f"m must be greater or equal to 0, got {m}")
    if dtype is not None:
        _barebones.check_dtype("eye", B.dtype_arg(dtype, "eye"))
    return _make(device, requires_grad, "eye", n, m, dtype=_dt(dtype, op="eye"))


def _tri_indices(fn, row, col, offset, dtype, device):
    if row < 0:
        raise RuntimeError(f"row must be non-negative, got{row}")
    if col < 0:
        raise RuntimeError(f"col must be non-negative, got{col}")
    dt = np.dtype(_dt(dtype, B.int64, fn))
    if dt not in (np.int32, np.int64):   # torch builds these for int32 and int64 only
        raise NotImplementedError(f"\"{fn}\" not implemented for '{B.scalar_name(dt)}'")
    xp, dev = _target(device)
    with _current(xp, dev):
        return _done(xp.stack(getattr(xp, fn)(row, offset, col)).astype(_dt(dtype, B.int64)), False)


def tril_indices(row, col, offset=0, *, dtype=None, device=None):
    """Indices of the lower triangle, as a 2 x N tensor."""
    return _tri_indices("tril_indices", row, col, offset, dtype, device)


def triu_indices(row, col, offset=0, *, dtype=None, device=None):
    """Indices of the upper triangle, as a 2 x N tensor."""
    return _tri_indices("triu_indices", row, col, offset, dtype, device)


def _like(input, dtype, device, op):
    dt = input._data.dtype if dtype is None else _dt(dtype, op=op)
    dev = input.device if device is None else device
    return dt, dev


def _like_layout(input, memory_format, make):
    """make(shape) for input's shape, laid out as memory_format says (preserve: as input is)."""
    a = input._data
    if memory_format is None and a.flags.c_contiguous:
        return make(a.shape)
    order = _mf.order_for(a, memory_format, "empty_like")
    if order is None:
        return make(a.shape)
    t = make(tuple(a.shape[d] for d in order))  # filled in memory order, as torch's kernels do
    t._data = _mf.make(a.shape, order, lambda s: t._data)
    return t


def zeros_like(input, *, dtype=None, device=None, requires_grad=False, memory_format=None):
    """Zeros with input's shape (and dtype/device unless given)."""
    dt, dev = _like(input, dtype, device, "zeros_like")
    return _like_layout(input, memory_format, lambda shape: _make(dev, requires_grad, "zeros", shape, dtype=dt))


def ones_like(input, *, dtype=None, device=None, requires_grad=False, memory_format=None):
    """Ones with input's shape."""
    dt, dev = _like(input, dtype, device, "ones_like")
    return _like_layout(input, memory_format, lambda shape: _make(dev, requires_grad, "ones", shape, dtype=dt))


# (they make arrays of zeros, ones or nothing: no NumPy fp warning can arise, so their public wrappers
# leave NumPy's fp state alone: _argcheck.tensor_args)
for _fn in (zeros, ones, empty, zeros_like, ones_like):
    _fn._fp_safe = True
del _fn


def empty_permuted(size, physical_layout, *, dtype=None, layout=None, device=None, requires_grad=False,
                   pin_memory=False):
    """An uninitialised tensor of `size` whose dims lie in memory in the order physical_layout gives
    (outermost first), as torch.empty_permuted."""
    shape, order = tuple(_sizes((size,))), tuple(int(d) for d in physical_layout)
    if len(order) != len(shape):
        raise RuntimeError(f"Number of dimensions in size does not match the length of the physical_layout; i.e. "
                           f"len(size) = {len(shape)} is not equal to len(physical_layout) = {len(order)}")
    if sorted(order) != list(builtins.range(len(shape))):
        raise RuntimeError("Duplicate dim not allowed")
    t = _make(device, requires_grad, "empty", tuple(shape[d] for d in order), dtype=_dt(dtype, op="empty"))
    t._data = _mf.make(shape, order, lambda s: t._data)
    return t


def empty_like(input, *, dtype=None, device=None, requires_grad=False, memory_format=None):
    """Uninitialised with input's shape."""
    dt, dev = _like(input, dtype, device, "empty_like")
    return _like_layout(input, memory_format, lambda shape: _make(dev, requires_grad, "empty", shape, dtype=dt))


def full_like(input, fill_value, *, dtype=None, device=None, requires_grad=False, memory_format=None):
    """fill_value with input's shape."""
    dt, dev = _like(input, dtype, device, "full_like")
    if type(fill_value) is not float or np.dtype(dt).kind != "f":   # (torch's overflow error, as full's)
        fill_value = _checked_int(fill_value, np.dtype(dt), True)
    return _like_layout(input, memory_format,
                        lambda shape: _make(dev, requires_grad, "full", shape, fill_value, dtype=dt))


def rand_like(input, *, dtype=None, device=None, requires_grad=False, memory_format=None):
    """Uniform [0, 1) with input's shape."""
    dt, dev = _like(input, dtype, device, "rand_like")
    return _like_layout(input, memory_format, lambda shape: rand(shape, dtype=B.FROM_NUMPY[np.dtype(dt)],
                                                                 device=dev, requires_grad=requires_grad))


def randn_like(input, *, dtype=None, device=None, requires_grad=False, memory_format=None):
    """Standard normal with input's shape."""
    dt, dev = _like(input, dtype, device, "randn_like")
    a = input._data
    if (memory_format is None and a.flags.c_contiguous) or _mf.order_for(a, memory_format, "randn_like") is None:
        return _like_layout(input, memory_format, lambda shape: randn(shape, dtype=B.FROM_NUMPY[np.dtype(dt)],
                                                                      device=dev, requires_grad=requires_grad))
    # torch fills empty_like(input) with normal_(): laid out otherwise than row-major, that is not the
    # row-major fill of randn
    out = empty_like(input, dtype=dtype, device=device, memory_format=memory_format).normal_()
    return out.requires_grad_() if requires_grad else out


def randint_like(input, low=0, high=None, *, dtype=None, device=None, requires_grad=False, memory_format=None):
    """Random integers with input's shape."""
    dt, dev = _like(input, dtype, device, "randint_like")
    if high is None:
        low, high = 0, low
    return _like_layout(input, memory_format,
                        lambda shape: randint(low, high, shape, dtype=B.FROM_NUMPY[np.dtype(dt)], device=dev))


@_out_arg("normal")
def normal(mean=0.0, std=1.0, size=None, *, generator=None, out=None, dtype=None, device=None):
    """Normal random numbers with the given mean and std (tensors or floats)."""
    m = mean._data if isinstance(mean, Tensor) else mean
    s = std._data if isinstance(std, Tensor) else std
    shape = _sizes((size,)) if size is not None and not isinstance(size, int) else (size,) if size else \
        np.broadcast_shapes(getattr(m, "shape", ()), getattr(s, "shape", ()))
    ref = mean if isinstance(mean, Tensor) else std if isinstance(std, Tensor) else None
    dt = ref._data.dtype if ref is not None else _dt(dtype, op="normal")
    kernel_for(np.dtype(dt), "normal_kernel_cpu")
    g, _ = _draw(ref.device if ref is not None else device, generator)
    # torch: floats -> empty(size).normal_(mean, std); tensors -> normal_out_impl, which draws N(0, 1)
    # (N(0, std) for a float std) and then does mul_(std), add_(mean)
    def draw(mu, sd):
        if np.dtype(dt).kind == "c":   # view_as_real(out).normal_: each part with half the variance
            return _complex_view(g.normal(mu, sd / math.sqrt(2), tuple(shape) + (2,), _real_np(dt)))
        return g.normal(mu, sd, shape, dt)
    if not isinstance(mean, Tensor) and not isinstance(std, Tensor):
        arr = draw(float(mean), float(std))
    elif isinstance(std, Tensor):
        arr = draw(0.0, 1.0) * s.astype(dt, copy=False)
        arr = arr + (m.astype(dt, copy=False) if isinstance(mean, Tensor) else np.dtype(dt).type(mean))
    else:
        arr = draw(0.0, float(std)) + m.astype(dt, copy=False)
    return _wrap(arr.astype(dt, copy=False))


def bernoulli(input, p=None, *, generator=None):
    """Draw 0/1 with probabilities input (or p)."""
    kernel_for(input._data.dtype, "bernoulli_tensor_cpu_self_", "fiub")
    if p is None:
        kernel_for(input._data.dtype, "bernoulli_tensor_cpu_p_", "f")
    probs = input._data if p is None else p
    g = generator_for(input.device, generator)
    # torch's bernoulli_tensor kernel: one uniform per element, of p's precision (float: 24 bits)
    udt = np.float64 if p is None and input._data.dtype == np.float64 else np.float32
    arr = (g.random(input._data.shape, udt) < probs).astype(input._data.dtype)
    return _wrap(arr)


def multinomial(input, num_samples, replacement=False, *, generator=None):
    """Sample indices from rows of (unnormalised, non-negative) probabilities."""
    d = input._data
    if d.ndim not in (1, 2):
        raise RuntimeError(f"prob_dist must be 1 or 2 dim (multinomial got a {d.ndim}-d input)")
    if d.dtype.kind != "f":
        raise RuntimeError(f"multinomial only supports floating-point dtypes for input, got: "
                           f"{B.SCALAR_NAMES[input.dtype]}")
    if num_samples <= 0:
        raise RuntimeError(f"cannot sample n_sample <= 0 samples (multinomial got num_samples={num_samples})")
    probs = d.reshape(-1 if d.ndim == 2 else 1, d.shape[-1])
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


def is_tensor(obj, /):
    """True if obj is an ember Tensor."""
    return isinstance(obj, Tensor)


def numel(input):
    """The number of elements of input."""
    return input.numel()


def is_floating_point(input):
    """True for floating tensors."""
    return input.is_floating_point()


def _iteration_view(d):
    """d with its axes in memory order (largest stride first): the order in which torch's
    TensorIterator visits a non-contiguous tensor, so random fills land where torch puts them."""
    if d.flags.c_contiguous:
        return d
    return d.transpose(_memory_axes(d))


def _memory_axes(d):
    return sorted(builtins.range(d.ndim), key=lambda i: -abs(d.strides[i]))


def _register():
    def new_tensor(self, data, *, dtype=None, device=None, requires_grad=False):
        B.dtype_arg(dtype, "new_tensor")
        return tensor(data, dtype=dtype or self.dtype, device=device or self.device, requires_grad=requires_grad)

    def _new(fill):
        def method(self, *sizes, size=None, dtype=None, device=None, requires_grad=False):
            B.dtype_arg(dtype, "new_" + fill.__name__)
            shape = _size_arg(sizes, size, "new_" + fill.__name__)
            return fill(shape, dtype=dtype or self.dtype, device=device or self.device, requires_grad=requires_grad)
        method.__name__ = "new_" + fill.__name__
        method.__doc__ = f"A new tensor of {fill.__name__} with this tensor's dtype and device."
        return method

    def new_full(self, size, fill_value, *, dtype=None, device=None, requires_grad=False):
        B.dtype_arg(dtype, "new_full")
        return full(size, fill_value, dtype=dtype or self.dtype, device=device or self.device, requires_grad=requires_grad)

    Tensor.new_tensor = new_tensor
    Tensor.new_ones = _new(ones)
    Tensor.new_zeros = _new(zeros)
    Tensor.new_empty = _new(empty)
    Tensor.new_full = new_full

    def fill_(self, value):
        """Fill with value in place."""
        return _fill(self, value, FillBackward3 if isinstance(value, Tensor) else FillBackward2)

    def zero_(self):
        """Fill with zeros in place."""
        return _fill(self, 0, ZeroBackward0)

    def uniform_(self, a=0.0, b=1.0, *, generator=None):
        """Fill with uniform random numbers in [a, b)."""
        kernel_for(self._data.dtype, "check_uniform_bounds")
        g = generator_for(self.device, generator)

        def draw(d):
            if d.dtype.kind == "c":   # torch fills view_as_real(self): real and imaginary parts alike
                return _complex_view(g.uniform(a, b, d.shape + (2,), _real_np(d.dtype)))
            flat = _flat_host(d)
            r = g.uniform(a, b, d.shape, d.dtype, out=flat)
            return None if flat is not None else r
        return _random_fill(self, draw, UniformBackward0)

    def normal_(self, mean=0.0, std=1.0, *, generator=None):
        """Fill with normal random numbers."""
        kernel_for(self._data.dtype, "normal_kernel_cpu")
        g = generator_for(self.device, generator)
        contiguous = self._data.flags.c_contiguous

        def draw(d):
            if d.dtype.kind == "c":   # torch fills view_as_real(self), each part with half the variance
                return _complex_view(g.normal(mean, std / math.sqrt(2), d.shape + (2,), _real_np(d.dtype), contiguous))
            flat = _flat_host(d)
            r = g.normal(mean, std, d.shape, d.dtype, contiguous, out=flat)
            return None if flat is not None else r
        return _random_fill(self, draw, NormalBackward0)

    def random_(self, *bounds, generator=None, **named):
        """Fill with random integers in [low, high) (random_(), random_(to), random_(from, to))."""
        low, high = _random_bounds(bounds, named)
        if self._data.dtype.kind == "c" and (bounds or named):
            raise RuntimeError("check_random_bounds handles only integral, floating-point and boolean types")
        if high is not None:
            _check_random_bounds(low, high, self._data.dtype)
        kernel_for(self._data.dtype, "random_kernel_cpu", "fiub")
        _barebones.check("random_", self._data)
        g = generator_for(self.device, generator)

        def draw(d):
            if high is None and not low:
                # torch's random_(): [0, 2**mantissa] for floats, [0, max] for integers
                return g.random_full(d.shape, d.dtype) if g._xp is np else g.integers(0, 2 ** 24, d.shape)
            lo, hi = (0, low) if high is None else (low, high)
            return g.integers(lo, hi, d.shape, d.dtype if d.dtype.kind in "iuf" else np.int64)
        # torch names the node by the overload: random_(from, to), random_(to), random_()
        return _random_fill(self, draw, (RandomBackward2, RandomBackward1, RandomBackward0)[len(bounds) + len(named)])

    def bernoulli_(self, p=0.5, *, generator=None):
        """Fill with 0/1 draws of probability p."""
        g = generator_for(self.device, generator)
        if not isinstance(p, Tensor):
            kernel_for(self._data.dtype, "bernoulli_scalar_cpu_", "fiub")
            return _random_fill(self, lambda d: g.random(d.shape) < p, BernoulliBackward2)
        pv = p._data
        kernel_for(self._data.dtype, "bernoulli_tensor_cpu_self_", "fiub")
        kernel_for(pv.dtype, "bernoulli_tensor_cpu_p_", "f")
        # one uniform per element of p's precision (float: 24 bits), in self's memory order
        udt = np.float64 if pv.dtype == np.float64 else np.float32

        def draw(d):
            probs = B.xp_of(d).broadcast_to(pv, d.shape)
            if d.flags.c_contiguous:
                return g.random(d.shape, udt) < probs
            axes = _memory_axes(d)
            inverse = [axes.index(i) for i in builtins.range(d.ndim)]
            u = g.random(tuple(d.shape[a] for a in axes), udt).transpose(inverse)
            return u < probs
        return _random_fill(self, draw, BernoulliBackward1, p, in_memory_order=False)

    def exponential_(self, lambd=1.0, *, generator=None):
        """Fill with exponential random numbers."""
        _continuous(self, "Exponential")
        g = generator_for(self.device, generator)
        return _random_fill(self, lambda d: g.exponential(1.0 / lambd, d.shape, d.dtype, lambd=lambd),
                            ExponentialBackward0)

    for fn in (fill_, zero_, uniform_, normal_, random_, bernoulli_, exponential_):
        setattr(Tensor, fn.__name__, fn)
    Tensor.bernoulli = bernoulli
    Tensor.multinomial = multinomial


class ZeroBackward0(Node):
    """An in-place fill (zero_, fill_): no gradient to the overwritten values, their sum to a tensor value."""
    __slots__ = ("value_dtype",)
    _double_backward = True   # its formula also runs on Tensors (create_graph=True)

    def apply(self, g):
        gv = None
        if len(self.next_functions) > 1 and self.next_functions[1][0] is not None:
            gv = g.sum()
            if gv.dtype != self.value_dtype:
                gv = gv.astype(self.value_dtype)
        zeros = B.xp_of(g).zeros_like(g)   # (+0.0, as torch: g * 0 gives -0.0 under a negative g)
        return (zeros,) if len(self.next_functions) == 1 else (zeros, gv)


class FillBackward2(ZeroBackward0):
    __slots__ = ()


class FillBackward3(ZeroBackward0):
    __slots__ = ()


def _filled(old, value, node_cls):
    """fill_'s recorded form: a tensor of value shaped as old, a node of (old[, value])."""
    xp = B.xp_of(old._data)
    v = value._data if isinstance(value, Tensor) else value
    out = _wrap(xp.broadcast_to(xp.asarray(v, dtype=old._data.dtype), old._data.shape))
    node = node_cls.__new__(node_cls)
    node.next_functions = (edge(old),) + ((edge(value),) if isinstance(value, Tensor) else ())
    node._saved_versions = ()
    node.value_dtype = value._data.dtype if isinstance(value, Tensor) else None
    out._requires_grad = True
    out.grad_fn = node
    return out


def _fill(self, value, node_cls):
    _check_inference(self)
    if isinstance(value, Tensor) and value.dim() != 0:
        raise RuntimeError(f"fill_ only supports 0-dimension value tensor but got tensor with {value.dim()} "
                           "dimensions. Pass value.squeeze() or a Python number.")
    if _grad_state.enabled and (self._requires_grad or (isinstance(value, Tensor) and value._requires_grad)):
        from .elementwise import _inplace
        return _inplace(self, None, lambda old, v: _filled(old, v, node_cls), (value,))
    if isinstance(value, Tensor):
        value = value.item()   # (a tensor's value is copied as it is, wrapped into the dtype)
        if self._data.dtype.kind in "iu" and type(value) is int:
            value = _wrapped_int(value, self._data.dtype)
    elif self._data.dtype.kind in "iu":
        value = _checked_int(value, self._data.dtype, True)
    if self._data.dtype.kind == "V" and type(value) in (int, float):   # (bfloat16: from the float32, as torch)
        value = float(np.float32(value))
    if self._data.dtype in B.LIMITED and type(value) in (int, float, bool):   # (float8: torch's conversion)
        if node_cls is not ZeroBackward0:   # (zero_ writes zeros' bits: e8m0fnu's smallest value)
            _barebones.checked_number(value, self.dtype)
        value = B.cast_number(value, self.dtype)
    _check_leaf_inplace(self)
    self._data[...] = value
    self._vc[0] += 1
    return self


class _RandomFillBackward(Node):
    """An in-place random fill: zero gradients to the overwritten values (and to a tensor p)."""
    __slots__ = ("p_shape", "p_dtype")

    def apply(self, g):
        xp = B.xp_of(g)
        zeros = xp.zeros_like(g)
        return (zeros,) if len(self.next_functions) == 1 else (zeros, xp.zeros(self.p_shape, self.p_dtype))


# torch's names, one per fill (and per overload)
for _name in ("UniformBackward0", "NormalBackward0", "BernoulliBackward1", "BernoulliBackward2",
              "ExponentialBackward0", "RandomBackward0", "RandomBackward1", "RandomBackward2", "CauchyBackward0",
              "LogNormalBackward0", "GeometricBackward0"):
    globals()[_name] = type(_name, (_RandomFillBackward,), {"__slots__": ()})
del _name


def _random_bounds(bounds, named):
    """random_'s (from, to) from its positional and keyword forms (to None: not given)."""
    names = ("from", "to") if len(bounds) + len(named) == 2 else ("to",)
    given = dict(zip(names, bounds), **named)
    if len(bounds) + len(named) > 2 or not set(given) <= {"from", "to"}:
        raise TypeError("random_() takes (), (to) or (from, to)")
    return given.get("from", 0), given.get("to")


# the C type torch's random_ names in its bounds errors
_RANDOM_C_TYPES = {"uint8": "unsigned char", "int8": "signed char", "int16": "short", "int32": "int", "int64": "long",
                   "bool": "bool"}


def _check_random_bounds(low, high, dt):
    """Refuse random_(from, to) bounds as torch does: from < to, both (to - 1) within an integer or bool dtype."""
    for v in (low, high):
        if isinstance(v, (int, np.integer)) and not -2 ** 63 <= int(v) < 2 ** 63:
            raise ValueError(f"Overflow when unpacking long long (random_ got {v}: bounds must fit in int64)")
    if not low < high:
        raise RuntimeError(f"random_ expects 'from' to be less than 'to', but got from={low} >= to={high}")
    ctype = _RANDOM_C_TYPES.get(dt.name)
    if ctype is None:
        return
    lo, hi = (0, 1) if dt.kind == "b" else (int(np.iinfo(dt).min), int(np.iinfo(dt).max))
    if not lo <= low <= hi:
        raise RuntimeError(f"from is out of bounds for {ctype} ({dt.name} holds {lo}..{hi})")
    if not lo <= high - 1 <= hi:
        raise RuntimeError(f"to - 1 is out of bounds for {ctype} ({dt.name} holds {lo}..{hi}; to is exclusive)")


def _flat_host(d):
    """d as a flat array over its memory when a generator can write there directly (a C-contiguous
    NumPy array), else None."""
    return d.reshape(-1) if type(d) is np.ndarray and d.flags.c_contiguous else None


def _random_fill(self, draw, node_cls, p=None, in_memory_order=True):
    """Write draw(d) into self (d: self's memory, axes in torch's visiting order unless in_memory_order is
    False; draw returns None when it wrote into d itself). With grad mode on and self (or a tensor p)
    requiring grad, the fill is recorded as node_cls, whose gradients are zeros, after torch's in-place
    checks and before anything is drawn."""
    _check_inference(self)

    def fill(target):
        d = _iteration_view(target) if in_memory_order else target
        values = draw(d)
        # (on 'meta' nothing is written: no values are ever read, and a meta model's memory stays untouched)
        if values is not None and getattr(d, "_ember_device", B.CPU).type != "meta":
            d[...] = values
        return target

    if not (_grad_state.enabled and (self._requires_grad or (p is not None and p._requires_grad))):
        fill(self._data)
        self._vc[0] += 1
        return self

    def recorded(old, *ps):
        out = _wrap(fill(B.xp_of(self._data).empty_like(self._data)))   # (self's layout: same visiting order)
        node = node_cls.__new__(node_cls)
        node.next_functions = (edge(old),) + tuple(edge(t) for t in ps)
        node._saved_versions = ()
        node.p_shape, node.p_dtype = (ps[0]._data.shape, ps[0]._data.dtype) if ps else (None, None)
        out._requires_grad = True
        out.grad_fn = node
        return out

    from .elementwise import _inplace
    return _inplace(self, None, recorded, (p,) if p is not None else ())


def _check_leaf_inplace(t):
    from ..autograd.grad_mode import state
    _check_inference(t)
    if state.enabled and t._requires_grad and t.grad_fn is None:
        raise RuntimeError(
            "a leaf Variable that requires grad is being used in an in-place operation. "
            "Wrap the update in `with torch.no_grad():` or operate on a clone.")


_register()


# ---- can_cast, default device, is_nonzero, is_complex, layouts ------------------------------------------------
strided = B.strided
# torch.sparse_coo: the layout of ops/sparse.py's tensors; the compressed layouts are names only
sparse_coo, sparse_csr, sparse_csc, sparse_bsr, sparse_bsc = (B.LAYOUTS[n] for n in (
    "sparse_coo", "sparse_csr", "sparse_csc", "sparse_bsr", "sparse_bsc"))
layout = B.layout
def can_cast(from_, to):
    """True when torch's casting rules allow from_ -> to (no lowering of kind: float -> int is False)."""
    return B.can_cast_np(B.as_dtype(from_).np, B.as_dtype(to).np)


def get_default_device():
    """The device factory functions use when given none (cpu unless set_default_device changed it)."""
    dev = B.DEFAULT_DEVICE[0]
    if dev is None:
        return B.as_device("cpu")
    if dev.type == "cuda" and dev.index is None:
        from .. import cuda
        return B.device("cuda", cuda.current_device())
    return dev


def set_default_device(device):
    """Make factory functions (zeros, tensor, arange, ...) create tensors on device by default (None: cpu)."""
    if device is None:
        B.DEFAULT_DEVICE[0] = None
        return
    dev = B.as_device(device)
    if dev.type == "cuda":
        from .. import cuda
        cuda._check_usable(dev)
    elif dev.type != "cpu" and dev.type != "meta":
        raise RuntimeError(f"set_default_device: ember supports cpu, cuda and meta devices, not {dev.type}")
    B.DEFAULT_DEVICE[0] = None if dev.type == "cpu" else dev


def is_nonzero(input):
    """The truth of a one-element tensor (torch's errors for zero or several elements)."""
    n = input.numel()
    if n == 0:
        raise RuntimeError("Boolean value of Tensor with no values is ambiguous")
    if n > 1:
        raise RuntimeError("Boolean value of Tensor with more than one value is ambiguous")
    return bool(input._data.reshape(-1)[0])


def is_complex(input):
    """True for a tensor of a complex dtype."""
    if not isinstance(input, Tensor):
        raise TypeError(f"is_complex(): argument 'input' (position 1) must be Tensor, not {type(input).__name__}")
    return input.is_complex()


__all__ += ["strided", "sparse_coo", "sparse_csr", "sparse_csc", "sparse_bsr", "sparse_bsc", "layout", "can_cast",
            "get_default_device", "set_default_device", "is_nonzero", "is_complex"]


# ---- empty_strided, fill, frombuffer, and small Tensor predicates ------------------------------------------------
def empty_strided(size, stride, *, dtype=None, layout=None, device=None, requires_grad=False, pin_memory=False):
    """An uninitialised tensor with the given sizes and (element) strides, over a buffer just big enough."""
    from .shape import as_strided
    size, stride = tuple(int(s) for s in size), tuple(int(s) for s in stride)
    if len(size) != len(stride):
        raise RuntimeError(f"mismatch in length of strides and shape (empty_strided got size {list(size)} and "
                           f"stride {list(stride)})")
    need = 1 + builtins.sum((n - 1) * s for n, s in zip(size, stride)) if builtins.all(size) else 0
    buf = empty(need, dtype=dtype, device=device)
    out = as_strided(buf, size, stride)
    out._base = None   # a fresh tensor, not a view anyone else holds
    if requires_grad:
        out.requires_grad_(True)
    return out


def _fill_node(name):
    from ..autograd.graph import Node

    class _Fill(Node):
        __slots__ = ()

        def apply(self, g):
            # the result does not depend on input (nor, for FillBackward0, on a value tensor)
            return tuple(None if nf[0] is None else g.sum() * 0 if i else g * 0
                         for i, nf in enumerate(self.next_functions))
    _Fill.__name__ = _Fill.__qualname__ = name
    return _Fill


FillBackward0, FillBackward1 = _fill_node("FillBackward0"), _fill_node("FillBackward1")


def fill(input, value):
    """A new tensor shaped like input, every element value (torch.fill, the out-of-place fill_)."""
    from ..autograd.grad_mode import state
    from ..autograd.graph import edge
    from . import new_node, record
    v = value._data.reshape(()) if isinstance(value, Tensor) else value
    xp = B.xp_of(input._data)
    res = xp.empty_like(input._data)
    res[...] = v
    node = None
    if state.enabled and input._requires_grad:
        node = new_node(FillBackward1 if isinstance(value, Tensor) else FillBackward0, [input])
        node.next_functions = (edge(input),)
    return record(res, node)


_NOT_WRITABLE = ("The given buffer is not writable, and ember does not support non-writable tensors: the tensor "
                 "holds a copy of it (make the buffer writable, e.g. a bytearray, to share its memory).")


def frombuffer(buffer, *, dtype, count=-1, offset=0, requires_grad=False):
    """A 1-d tensor over the memory of an object with the buffer protocol (shared, as torch)."""
    dt = B.as_dtype(dtype)
    nbytes = memoryview(buffer).nbytes
    if nbytes <= 0:
        raise ValueError(f"both buffer length ({nbytes}) and count ({count}) must not be 0")
    if offset < 0 or offset >= nbytes:
        raise ValueError(f"offset ({offset} bytes) must be non-negative and no greater than buffer length "
                         f"({nbytes} bytes) minus 1")
    if count <= 0 and (nbytes - offset) % dt.itemsize:
        raise ValueError(f"buffer length ({nbytes - offset} bytes) after offset ({offset} bytes) must be a multiple "
                         f"of element size ({dt.itemsize})")
    if count > 0 and count * dt.itemsize > nbytes - offset:
        raise ValueError(f"requested buffer length ({count} * {dt.itemsize} bytes) after offset ({offset} bytes) "
                         f"must not be greater than actual buffer length ({nbytes} bytes)")
    arr = np.frombuffer(buffer, dtype=dt.np, count=count if count > 0 else -1, offset=offset)
    if not arr.flags.writeable:
        _userwarn.warn(_NOT_WRITABLE, UserWarning)
        arr = arr.copy()
    return _done(arr, requires_grad)


def _register_predicates():
    def is_same_size(self, other):
        """True when other has this tensor's shape."""
        return self._data.shape == other._data.shape

    def is_signed(self):
        """True for dtypes that hold negative numbers (not bool or uint8)."""
        return self.dtype.is_signed

    def is_inference(self):
        """True for a tensor made in inference_mode (or a view of one)."""
        return self._vc.__class__ is InferenceVersion

    def new_empty_strided(self, size, stride, *, dtype=None, device=None, requires_grad=False):
        """empty_strided with this tensor's dtype and device by default."""
        return empty_strided(size, stride, dtype=dtype or self.dtype, device=device or self.device,
                             requires_grad=requires_grad)
    for fn in (is_same_size, is_signed, is_inference, new_empty_strided, is_nonzero):
        setattr(Tensor, fn.__name__, fn)


_register_predicates()


def is_same_size(input, other):
    """True when both tensors have the same shape."""
    return input.is_same_size(other)


def is_signed(input):
    """True for dtypes that hold negative numbers."""
    return input.is_signed()


def is_inference(input):
    """True for a tensor made in inference_mode (or a view of one)."""
    return input.is_inference()


def detach(input):
    """torch.detach: input.detach()."""
    return input.detach()


def get_device(input):
    """-1 for a CPU tensor, else its CUDA device index."""
    return input.get_device()


__all__ += ["empty_strided", "fill", "frombuffer", "is_same_size", "is_signed", "is_inference", "detach",
            "get_device"]


# ---- poisson, binomial, cauchy_ / log_normal_ / geometric_: torch's CPU streams, replayed --------------------
def poisson(input, generator=None):
    """Poisson draws with rates input (same dtype); after manual_seed, torch's CPU numbers."""
    d = input._data
    kernel_for(d.dtype, "poisson_cpu", "f")
    g = generator_for(input.device, generator)
    if g._xp is np:
        if d.size and not (d >= 0).all():
            raise RuntimeError("invalid Poisson rate, expected rate to be non-negative")
        return _wrap(g.poisson(d).astype(d.dtype))
    return _wrap(g._rng.poisson(d).astype(d.dtype))


def binomial(count, prob, generator=None):
    """Binomial draws with count trials of probability prob; after manual_seed, torch's CPU numbers."""
    c, p = count._data, prob._data
    if c.dtype.kind != "f" or p.dtype != c.dtype:
        raise RuntimeError(f"binomial: expected count and prob of one floating-point dtype (got {count.dtype} "
                           f"and {prob.dtype})")
    c, p = B.xp_of(c).broadcast_arrays(c, p)
    g = generator_for(count.device, generator)
    if g._xp is np:
        return _wrap(g.binomial(c, p).astype(c.dtype))
    return _wrap(g._rng.binomial(c.astype(np.int64), p).astype(c.dtype))   # (the device's own stream)


def _register_samplers():
    def cauchy_(self, median=0.0, sigma=1.0, *, generator=None):
        """Fill with Cauchy(median, sigma) draws (torch's CPU numbers after manual_seed)."""
        _continuous(self, "Cauchy")
        g = generator_for(self.device, generator)
        return _random_fill(self, lambda d: g.cauchy(float(median), float(sigma), d.shape, d.dtype), CauchyBackward0)

    def log_normal_(self, mean=1.0, std=2.0, *, generator=None):
        """Fill with exp(Normal(mean, std)) draws (torch's CPU numbers after manual_seed)."""
        kernel_for(self._data.dtype, "log_normal_cpu", "f")
        g = generator_for(self.device, generator)
        return _random_fill(self, lambda d: g.log_normal(mean, std, d.shape, d.dtype), LogNormalBackward0)

    def geometric_(self, p, *, generator=None):
        """Fill with the number of Bernoulli(p) trials up to the first success (torch's CPU numbers)."""
        if not 0 < p < 1:
            raise RuntimeError(f"geometric_ expects p to be in (0, 1), but got p={p}")
        kernel_for(self._data.dtype, "geometric_cpu", "fiu")
        g = generator_for(self.device, generator)
        return _random_fill(self, lambda d: g.geometric(float(p), d.shape, d.dtype), GeometricBackward0)
    for fn in (cauchy_, log_normal_, geometric_):
        setattr(Tensor, fn.__name__, fn)


_register_samplers()
__all__ += ["poisson", "binomial"]


# ---- vander, window functions --------------------------------------------------------------------------------
def vander(x, N=None, increasing=False):
    """The Vandermonde matrix of a 1-d x: columns x**(N-1) ... x**0 (increasing powers if increasing)."""
    from .shape import cat, flip
    if x.ndim != 1:
        raise RuntimeError(f"x must be a one-dimensional tensor (got {x.ndim} dimensions)")
    n = x.shape[0] if N is None else int(N)
    if n < 0:
        raise RuntimeError("N must be non-negative.")
    base = x if x._data.dtype.kind == "f" else x.to(B.int64)
    if n == 0:
        return zeros(x.shape[0], 0, dtype=base.dtype, device=x.device)
    ones_col = ones(x.shape[0], 1, dtype=base.dtype, device=x.device)
    # torch's: a column of ones, then the running product of x (cumprod), flipped unless increasing
    res = cat([ones_col, base.unsqueeze(1).expand(x.shape[0], n - 1)], 1).cumprod(1) if n > 1 else ones_col
    return res if increasing else flip(res, [1])


def _window(name, length, periodic, dtype, device, requires_grad, values):
    dt = B.as_dtype(_dt(dtype, op=name))
    if not dt.is_floating_point:
        raise RuntimeError(f"{name} expects floating point dtypes, got: {dt}")
    if length < 0:
        raise RuntimeError(f"{name} requires non-negative window_length, got window_length={length}")
    if length <= 1:
        return _make(device, requires_grad, "ones" if length else "zeros", (length,), dtype=dt.np)
    n = length + 1 if periodic else length
    # torch's kernels work in the window's dtype: a small host table, computed the same way, then moved
    f = dt.np.type
    out = values(np.arange(n, dtype=dt.np), n, f)[:length]
    res = tensor(out, dtype=dt, device=device)
    if requires_grad:
        res.requires_grad_(True)
    return res


def hamming_window(window_length, periodic=True, alpha=0.54, beta=0.46, *, dtype=None, layout=None, device=None,
                   requires_grad=False):
    """alpha - beta * cos(2 pi n / (N - 1)) (one sample longer, then cut, when periodic)."""
    return _window("hamming_window", window_length, periodic, dtype, device, requires_grad,
                   lambda k, n, f: np.cos(k * f(2 * math.pi / (n - 1))) * f(-beta) + f(alpha))


def hann_window(window_length, periodic=True, *, dtype=None, layout=None, device=None, requires_grad=False):
    """0.5 - 0.5 * cos(2 pi n / (N - 1)) (one sample longer, then cut, when periodic)."""
    return hamming_window(window_length, periodic, 0.5, 0.5, dtype=dtype, device=device, requires_grad=requires_grad)


def blackman_window(window_length, periodic=True, *, dtype=None, layout=None, device=None, requires_grad=False):
    """0.42 - 0.5 cos(2 pi n / (N - 1)) + 0.08 cos(4 pi n / (N - 1))."""
    def values(k, n, f):
        w = k * f(math.pi / (n - 1))
        return np.cos(w * f(4)) * f(0.08) - np.cos(w * f(2)) * f(0.5) + f(0.42)
    return _window("blackman_window", window_length, periodic, dtype, device, requires_grad, values)


def bartlett_window(window_length, periodic=True, *, dtype=None, layout=None, device=None, requires_grad=False):
    """The triangular window: 2 n / (N - 1) rising, then 2 - that falling."""
    def values(k, n, f):
        w = k * f(2.0 / (n - 1))
        half = ((n - 1) >> 1) + 1
        w[half:] = w[half:] * f(-1) + f(2)
        return w
    return _window("bartlett_window", window_length, periodic, dtype, device, requires_grad, values)


def kaiser_window(window_length, periodic=True, beta=12.0, *, dtype=None, layout=None, device=None,
                  requires_grad=False):
    """i0(beta * sqrt(1 - (2 n / (N - 1) - 1) ** 2)) / i0(beta)."""
    from .special import _i0

    def values(k, n, f):
        alpha, b = f((n - 1) / 2.0), f(beta)
        arg = b * np.sqrt(np.abs(f(1) - ((k - alpha) / alpha) ** f(2)))
        return _i0(np, arg) / _i0(np, np.asarray(b))
    return _window("kaiser_window", window_length, periodic, dtype, device, requires_grad, values)


__all__ += ["vander", "hamming_window", "hann_window", "blackman_window", "bartlett_window", "kaiser_window"]
