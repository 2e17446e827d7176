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
import mmap
import os
import warnings
import weakref

import numpy as np

from . import _backend as B
from ._tensor import Tensor, _host, _rebuild, memory_root as _root

__all__ = ["TypedStorage", "UntypedStorage"]

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
        body = "..." if self.device.type == "meta" else "\n".join(f" {v}" for v in self.tolist())
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
        body = "..." if self.device.type == "meta" else "\n".join(f" {v}" for v in self.tolist())
        return (f"{body}\n[{B.namespace()}.storage.TypedStorage(dtype={self.dtype}, device={self.device}) of size "
                f"{len(self)}]")


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
Tensor.untyped_storage = _untyped_storage
Tensor.share_memory_ = _share_memory_
Tensor.is_shared = _is_shared
