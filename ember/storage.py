"""torch.storage: minimal TypedStorage / UntypedStorage views of a tensor's memory, and shared memory.

A storage here is a view of the memory a tensor's array lives in (its root array: the one that owns the
memory its views share), so writes through either show in the other, as in torch.  Tensor.storage(),
untyped_storage(), share_memory_(), is_shared() and Module.share_memory() are attached here.

share_memory_() moves the tensor's elements into a shared mapping (mmap), which processes fork()ed
afterwards share with the parent (the Hogwild pattern of ember.multiprocessing).  On Linux the mapping is
an anonymous memory file (memfd) whose descriptor travels with the tensor when multiprocessing pickles it
(spawn or forkserver Process arguments, Queues, Pipes), as with torch's file_descriptor strategy: the
receiver maps the same memory.  Unlike torch, views taken before the call keep the old memory, and a tensor
that is not shared travels by value (torch moves it into shared memory first).
"""
import collections.abc
import mmap
import os
import warnings
import weakref

import numpy as np

from . import _backend as B
from .autograd.graph import no_derivative
from ._tensor import Tensor, _host, _rebuild, _wrap, memory_root as _root

# (torch has no legacy storage class for uint16 & co. nor float8: they exist only as Tensor.type() names)
__all__ = ["TypedStorage", "UntypedStorage"] + sorted(n.replace("Tensor", "Storage") for d, n in B.TYPE_NAMES.items()
                                                      if d not in B.BAREBONES)

_TYPED_DEPRECATED = (
    "TypedStorage is deprecated. It will be removed in the future and UntypedStorage will be the only storage "
    "class. This should only matter to you if you are using storages directly.  To access UntypedStorage "
    "directly, use tensor.untyped_storage() instead of tensor.storage()")


def _flat(root):
    # a storage is one-dimensional; a non-contiguous root (as_strided, empty_strided) is taken as laid out
    if root.flags.c_contiguous:
        return root.reshape(-1)
    return np.lib.stride_tricks.as_strided(root, (root.size,), (root.itemsize,)) if root.size else root.reshape(-1)


def _is_shared_array(a):
    base = _root(a).base
    while isinstance(base, memoryview):
        base = base.obj
    return isinstance(base, mmap.mmap)


class UntypedStorage:
    """The bytes of a tensor's memory (torch.UntypedStorage): size() and nbytes() count bytes."""

    def __init__(self, array):
        self._array = array    # the root array (typed); the bytes are a view of it

    def _bytes(self):
        return _flat(self._array).view(np.uint8)

    def size(self):
        """The number of bytes."""
        return self._array.nbytes

    nbytes = size

    def __len__(self):
        return self._array.nbytes

    def element_size(self):
        """1: an untyped storage counts bytes."""
        return 1

    def data_ptr(self):
        """Address of the first byte."""
        return B.data_ptr(self._array)

    @property
    def dtype(self):
        return B.uint8

    @property
    def device(self):
        return B.CPU if type(self._array) is np.ndarray else B.device_of(self._array)

    def tolist(self):
        """The bytes as a list of ints."""
        return _host(self._bytes()).tolist()

    def __getitem__(self, i):
        return int(self._bytes()[i])

    def __setitem__(self, i, value):
        self._bytes()[i] = value

    def is_shared(self):
        """True once the memory is in a shared mapping (share_memory_)."""
        return _is_shared_array(self._array)

    def __repr__(self):
        body = "..." if self.device.type == "meta" else " " + "\n ".join(str(v) for v in self.tolist())
        return f"{body}\n[{B.namespace()}.storage.UntypedStorage(device={self.device}) of size {len(self)}]"


class TypedStorage:
    """A tensor's memory as elements of its dtype (torch.TypedStorage, deprecated there too)."""

    def __init__(self, array):
        self._array = array

    def size(self):
        """The number of elements."""
        return self._array.size

    def __len__(self):
        return self._array.size

    def nbytes(self):
        """The number of bytes."""
        return self._array.nbytes

    def element_size(self):
        """Bytes per element."""
        return self._array.itemsize

    def data_ptr(self):
        """Address of the first element."""
        return B.data_ptr(self._array)

    @property
    def dtype(self):
        return B.FROM_NUMPY[self._array.dtype]

    @property
    def device(self):
        return B.CPU if type(self._array) is np.ndarray else B.device_of(self._array)

    def tolist(self):
        """The elements as a list of Python numbers."""
        return _host(_flat(self._array)).tolist()

    def __getitem__(self, i):
        return _flat(self._array)[i].item()

    def __setitem__(self, i, value):
        _flat(self._array)[i] = value

    def fill_(self, value):
        """Fill every element (the tensor sees it)."""
        _flat(self._array)[...] = value
        return self

    def untyped(self):
        """The same memory as an UntypedStorage."""
        return UntypedStorage(self._array)

    _untyped_storage = property(untyped)

    def is_shared(self):
        """True once the memory is in a shared mapping (share_memory_)."""
        return _is_shared_array(self._array)

    def __repr__(self):
        body = "..." if self.device.type == "meta" else " " + "\n ".join(str(v) for v in self.tolist())
        return (f"{body}\n[{B.namespace()}.storage.TypedStorage(dtype={self.dtype}, device={self.device}) of size "
                f"{len(self)}]")


_LEGACY_FORMS = ("received an invalid combination of arguments. Expected one of:\n * no arguments\n * (int size)\n"
                 " * (Sequence data)\n * (*, UntypedStorage wrap_storage)")


class _LegacyStorageMeta(type):
    """The metaclass of torch's legacy storage classes (FloatStorage, cuda's LongStorage, ...): calling one
    makes a TypedStorage of its dtype on its device, and isinstance checks a TypedStorage's dtype and device,
    as in torch, where storages are never instances of them by type."""

    def __call__(cls, *args, wrap_storage=None, dtype=None, device=None):
        warnings.warn(_TYPED_DEPRECATED, UserWarning, stacklevel=2)
        head = f"{cls!r}.__new__ {_LEGACY_FORMS}"
        if device is not None or dtype is not None:
            raise RuntimeError(f"{head}\nKeyword argument '{'device' if device is not None else 'dtype'}' cannot "
                               f"be specified (the class fixes them: {cls.dtype}, {cls._device_type})")
        if wrap_storage is not None:
            return cls._over_bytes(args, wrap_storage, head)
        if len(args) > 1:
            raise RuntimeError(f"{head}\nToo many positional arguments (pass the data as one sequence)")
        arg = args[0] if args else 0
        if isinstance(arg, (int, np.integer)) and not isinstance(arg, (bool, np.bool_)):
            if arg < 0:
                raise RuntimeError(f"{cls.__name__}: negative size {arg} (a storage holds 0 or more elements)")
            host = np.zeros(int(arg), cls.dtype.np)
        elif isinstance(arg, str):
            raise TypeError(f"new(): invalid data type 'str' ({cls.__name__} takes a size or a sequence of numbers)")
        elif isinstance(arg, collections.abc.Sequence):
            from .ops.creation import tensor   # (torch converts the data as torch.tensor does)
            host = _flat(tensor(arg, dtype=cls.dtype)._data)
        else:
            raise TypeError(f"{head}\nArgument type not recognized: {type(arg)} (pass an int size or a sequence; "
                            "a tensor's memory is tensor.storage())")
        if cls._device_type != "cpu":
            host = _wrap(host).to(cls._device_type)._data
        return TypedStorage(host)

    def _over_bytes(cls, args, wrap_storage, head):
        """cls(wrap_storage=u): the bytes of UntypedStorage u, read as cls's dtype."""
        if args:
            raise RuntimeError(f"{head}\nNo positional arguments should be given when using 'wrap_storage'")
        if not isinstance(wrap_storage, UntypedStorage):
            raise TypeError(f"{head}\nArgument 'wrap_storage' must be UntypedStorage, but got {type(wrap_storage)}")
        if wrap_storage.device.type != cls._device_type:
            raise RuntimeError(f"{head}\nDevice of 'wrap_storage' must be {cls._device_type}, but got "
                               f"{wrap_storage.device.type}")
        raw, dt = wrap_storage._bytes(), cls.dtype.np
        if raw.size % dt.itemsize:
            raise RuntimeError(f"Storage size ({raw.size} bytes) must be a multiple of the element size "
                               f"({dt.itemsize}) of {cls.dtype}")
        return TypedStorage(raw.view(dt))

    def __instancecheck__(cls, obj):
        return type(obj) is TypedStorage and obj.dtype is cls.dtype and obj.device.type == cls._device_type

    def __repr__(cls):
        where = "" if cls._device_type == "cpu" else f".{cls._device_type}"
        return f"<class '{B.namespace()}{where}.{cls.__name__}'>"


def legacy_storage_classes(device_type):
    """torch's legacy storage classes of a device type ('cpu': torch.FloatStorage...; 'cuda':
    torch.cuda.FloatStorage...), by name."""
    module = "ember" if device_type == "cpu" else f"ember.{device_type}"
    return {name.replace("Tensor", "Storage"): _LegacyStorageMeta(
        name.replace("Tensor", "Storage"), (TypedStorage,),
        {"dtype": d, "_device_type": device_type, "__module__": module, "__slots__": (),
         "__doc__": f"torch.{name.replace('Tensor', 'Storage')}: a constructor of {d} {device_type} storages."})
        for d, name in B.TYPE_NAMES.items() if d not in B.BAREBONES}


LEGACY_STORAGES = legacy_storage_classes("cpu")
_LEGACY_BY_DTYPE = {"cpu": {cls.dtype: cls for cls in LEGACY_STORAGES.values()}}


def legacy_storage_class(dtype, device_type):
    """The legacy storage class of dtype on device_type (torch.FloatStorage for float32 on the CPU), or None
    where torch has none (the meta device)."""
    if device_type not in _LEGACY_BY_DTYPE:
        if device_type != "cuda":
            return None
        from . import cuda
        _LEGACY_BY_DTYPE["cuda"] = {getattr(cuda, name).dtype: getattr(cuda, name) for name in LEGACY_STORAGES}
    return _LEGACY_BY_DTYPE[device_type].get(dtype)


def _storage_type(self):
    """The legacy storage class of this tensor's dtype and device (torch.FloatStorage ...), as torch."""
    warnings.warn(_TYPED_DEPRECATED, UserWarning, stacklevel=2)
    return legacy_storage_class(self.dtype, self.device.type)


def _storage(self):
    """The tensor's memory as a TypedStorage (deprecated in torch, with the same warning)."""
    warnings.warn(_TYPED_DEPRECATED, UserWarning, stacklevel=2)
    return TypedStorage(_root(self._data))


def _untyped_storage(self):
    """The tensor's memory as an UntypedStorage (bytes)."""
    return UntypedStorage(_root(self._data))


class _SharedFile(mmap.mmap):
    """A mapping of a memory file (memfd) that keeps the file's descriptor, to hand to other processes."""


def _map_shared_file(fd, nbytes):
    """Map nbytes of memory file fd; the mapping owns fd (closed once the mapping is gone)."""
    buf = _SharedFile(fd, nbytes)
    buf.fd = fd
    weakref.finalize(buf, os.close, fd)
    return buf


def _shared_buffer(nbytes):
    """nbytes of fresh shared memory: a memory file where the OS has them (Linux), else anonymous memory
    that only fork() shares."""
    if not hasattr(os, "memfd_create"):
        return mmap.mmap(-1, nbytes)
    fd = os.memfd_create("ember_shared_tensor", os.MFD_CLOEXEC)
    try:
        os.ftruncate(fd, nbytes)
        buf = _map_shared_file(fd, nbytes)
    except BaseException:
        os.close(fd)
        raise
    _register_reducer()
    return buf


def _shared_file_of(a):
    """The _SharedFile a (a view of it) lives in, or None."""
    base = _root(a).base
    while isinstance(base, memoryview):
        base = base.obj
    return base if isinstance(base, _SharedFile) else None


def _rebuild_shared(fd_handle, nbytes, dtype, shape, strides, offset, requires_grad):
    """Unpickle a shared tensor in the receiving process: map the sender's memory file."""
    buf = _map_shared_file(fd_handle.detach(), nbytes)
    _register_reducer()   # (so that this process can hand the tensor on in turn)
    return _rebuild(np.ndarray(shape, np.dtype(dtype), buffer=buf, offset=offset, strides=strides), requires_grad)


def _reduce_tensor(t):
    """multiprocessing's pickling of a Tensor: a shared one by its memory file's descriptor, else by value."""
    buf = _shared_file_of(t._data) if type(t._data) is np.ndarray else None
    if buf is None:
        return t.__reduce_ex__(2)
    from multiprocessing.reduction import DupFd
    a = t._data
    offset = a.__array_interface__["data"][0] - np.frombuffer(buf, np.uint8).ctypes.data
    return (_rebuild_shared, (DupFd(buf.fd), len(buf), a.dtype.str, a.shape, a.strides, offset,
                              t._requires_grad))


_REGISTERED = []


def _register_reducer():
    # on first use: importing multiprocessing costs every `import ember` otherwise
    if not _REGISTERED:
        from multiprocessing.reduction import ForkingPickler
        ForkingPickler.register(Tensor, _reduce_tensor)
        _REGISTERED.append(True)


def _share_memory_(self):
    """Move the elements into shared memory that other processes share (no-op if already there, or on
    a GPU); returns self."""
    a = self._data
    if type(a) is not np.ndarray or _is_shared_array(a):
        return self
    buf = _shared_buffer(max(a.nbytes, 1))
    shared = np.frombuffer(buf, dtype=a.dtype, count=a.size).reshape(a.shape)
    shared[...] = a
    self._data = shared
    return self


def _is_shared(self):
    """True when the memory is shared between processes (share_memory_, or any CUDA tensor, as torch)."""
    a = self._data
    return type(a) is not np.ndarray or _is_shared_array(a)


Tensor.storage = _storage
Tensor.storage_type = _storage_type
Tensor.untyped_storage = _untyped_storage
Tensor.share_memory_ = _share_memory_
Tensor.is_shared = _is_shared


_SET_FORMS = ("set_() received an invalid combination of arguments: expected one of (), (Storage source), "
              "(Storage source, int storage_offset, tuple of ints size, tuple of ints stride = None), "
              "(Tensor source), (Tensor source, int storage_offset, tuple of ints size, tuple of ints stride = None)")


def _set_geometry(size, stride, offset):
    """size, stride and offset as int tuples / int, checked as torch's setStorage checks them."""
    if not isinstance(size, (tuple, list)) or not all(isinstance(n, int) for n in size):
        raise TypeError(f"{_SET_FORMS}; got size={size!r}")
    size = tuple(int(n) for n in size)
    if stride is None:
        from ._tensor import _contiguous_strides
        stride = _contiguous_strides(size)
    elif not isinstance(stride, (tuple, list)) or not all(isinstance(n, int) for n in stride):
        raise TypeError(f"{_SET_FORMS}; got stride={stride!r}")
    stride = tuple(int(s) for s in stride)
    if not isinstance(offset, int):
        raise TypeError(f"{_SET_FORMS}; got storage_offset={offset!r}")
    if len(size) != len(stride):
        raise RuntimeError(f"unequal size length ({len(size)}) and stride length ({len(stride)}) "
                           f"(set_ got size {list(size)} and stride {list(stride)})")
    if offset < 0:
        raise RuntimeError(f"Tensor: invalid storage offset {offset} (set_'s storage_offset counts elements from "
                           "the storage's start: 0 or more)")
    if any(n < 0 for n in size):
        raise RuntimeError(f"Trying to create tensor with negative dimension {min(size)}: {list(size)}")
    if any(s < 0 for s in stride):
        raise RuntimeError(f"Storage size calculation overflowed with sizes={list(size)} and strides={list(stride)} "
                           "(negative strides are not supported: flip() the tensor instead)")
    return size, stride, offset


def _set_memory(flat, size, stride, offset):
    """The view of flat (one storage's elements) that set_(storage, offset, size, stride) gives."""
    item = flat.itemsize
    need = offset + 1 + sum((n - 1) * s for n, s in zip(size, stride)) if all(size) else 0
    if need > flat.size:
        raise RuntimeError(f"setStorage: sizes {list(size)}, strides {list(stride)}, storage offset {offset}, and "
                           f"itemsize {item} requiring a storage size of {need * item} are out of bounds for storage "
                           f"of size {flat.size * item} (torch grows the storage; ember can't grow memory other "
                           "tensors share: set_ to a storage large enough)")
    start = flat[offset:] if flat.size else flat
    return B.xp_of(flat).lib.stride_tricks.as_strided(start, size, tuple(s * item for s in stride))


def _set_source(self, source):
    """The flat elements (in self's dtype) of the memory set_'s source holds, refusing a dtype or device
    torch refuses."""
    dt = self._data.dtype
    if isinstance(source, Tensor):
        data = source._data
        if data.dtype != dt:
            raise RuntimeError(f"Could not set tensor of type {B.C_NAMES[source.dtype]} to a tensor of type "
                               f"{B.C_NAMES[self.dtype]} (set_ shares memory, so the dtypes must match: convert "
                               f"the source first, e.g. source.to({self.dtype}))")
        dev = source.device
    elif isinstance(source, (TypedStorage, UntypedStorage)):
        if isinstance(source, TypedStorage) and source._array.dtype != dt:
            raise RuntimeError(f"Expected a Storage of type {B.C_NAMES[self.dtype]} or an UntypedStorage, but got "
                               f"type {B.SCALAR_NAMES[source.dtype]} for argument 1 'storage' (pass "
                               "storage.untyped() to reinterpret its bytes)")
        dev = source.device
        data = None
    else:
        raise TypeError(f"{_SET_FORMS}; got {type(source).__name__}")
    if dev != self.device:
        raise RuntimeError(f'Attempted to set the storage of a tensor on device "{self.device}" to a storage on '
                           f'different device "{dev}".  This is no longer allowed; the devices must match. '
                           f"(move one of them first, e.g. with .to({str(self.device)!r}))")
    if data is not None:
        return data
    flat = _flat(source._array)
    if flat.dtype != dt:   # an UntypedStorage: its bytes, read as self's dtype
        raw = flat.view(np.uint8)
        flat = raw[:raw.size // dt.itemsize * dt.itemsize].view(dt)
    return flat


# set_()'s "no source": None is not one (torch refuses set_(None) as a bad argument)
_NO_SOURCE = object()

_SetBackward = no_derivative("NotImplemented", "derivative for set_ is not implemented", RuntimeError)


def _set_(self, source=_NO_SOURCE, storage_offset=0, size=None, stride=None):
    """Make this tensor view source's memory (a tensor's, a storage's, or fresh empty memory without one), in
    place: writes through either show in the other.  In torch's argument forms."""
    from .autograd.grad_mode import check_inplace, state
    if size is None and (storage_offset != 0 or stride is not None):
        raise TypeError(f"{_SET_FORMS}; storage_offset and stride need size too")
    if source is None:
        raise TypeError(f"{_SET_FORMS}; got None as the source (call set_() with no argument for empty memory)")
    check_inplace(self)
    if source is _NO_SOURCE:
        if size is not None:
            raise TypeError(f"{_SET_FORMS}; set_() without a source takes no size")
        data = B.xp_of(self._data).empty((0,), dtype=self._data.dtype)
    else:
        data = _set_source(self, source)
        if size is not None:
            size, stride, storage_offset = _set_geometry(size, stride, storage_offset)
            if isinstance(source, Tensor):   # (torch counts storage_offset from the source's own offset)
                data, storage_offset = _flat(_root(data)), storage_offset + source.storage_offset()
            data = _set_memory(data, size, stride, storage_offset)
        elif isinstance(source, Tensor):
            data = data[...]   # (a view of its own, so that a later in-place reshape of self leaves source be)
    grad_source = isinstance(source, Tensor) and source._requires_grad
    if state.enabled and (self._requires_grad or grad_source):
        if self.grad_fn is None and self._requires_grad:
            raise RuntimeError("a leaf Variable that requires grad is being used in an in-place operation. "
                               "(set_ on a parameter: wrap it in `with torch.no_grad():`, as weight-swapping "
                               "code does)")
        from .autograd.graph import edge
        node = _SetBackward.__new__(_SetBackward)
        inputs = (self, source) if isinstance(source, Tensor) else (self,)
        node.next_functions = tuple(edge(t) if t._requires_grad else (None, 0) for t in inputs)
        node._saved_versions = ()
        self.grad_fn, self._requires_grad = node, True
    self._data = data
    # a view stays one (_is_view(), _base and the shared version counter), as in torch, though it no
    # longer shares its base's memory
    self._vc[0] += 1
    return self


Tensor.set_ = _set_
