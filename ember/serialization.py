"""ember.save / ember.load in PyTorch's own checkpoint format.

A checkpoint is the zip archive torch.save writes::

    <name>/data.pkl                  the object, pickled (protocol 2); tensors are
                                     torch._utils._rebuild_tensor_v2(<storage>, offset, size, stride, ...)
                                     and each storage is a persistent id
                                     ('storage', torch.FloatStorage, '<key>', 'cpu', numel)
    <name>/.format_version, .storage_alignment, byteorder
    <name>/data/<key>                the raw bytes of each storage, 64-byte aligned
    <name>/version, .data/serialization_id

Entries are stored uncompressed; each local header carries an ``FB`` extra field
padded with ``Z`` so that the data starts on a 64-byte boundary, as torch's writer does.
ember never imports torch: the pickle names torch's globals (``torch._utils._rebuild_tensor_v2``,
``torch.FloatStorage``, ``torch.float32`` ...) directly, and ``load`` maps them back to ember.
Loading uses an allowlist (``weights_only=True``, the default) so a checkpoint cannot run code.
"""
import collections
import io
import mmap as _mmap
import os
import pickle
import queue
import struct
import sys
import threading
import zipfile
import zlib

import numpy as np

from . import _backend as B

__all__ = ["save", "load", "add_safe_globals", "clear_safe_globals", "get_safe_globals",
           "safe_globals", "get_default_mmap_options", "set_default_mmap_options"]

# ---------------------------------------------------------------------------------------------
# the names torch uses in the pickle
_STORAGE_DTYPES = {
    "BoolStorage": B.bool_, "ByteStorage": B.uint8, "CharStorage": B.int8, "ShortStorage": B.int16,
    "IntStorage": B.int32, "LongStorage": B.int64, "HalfStorage": B.float16, "BFloat16Storage": B.bfloat16,
    "FloatStorage": B.float32, "DoubleStorage": B.float64,
    "ComplexFloatStorage": B.complex64, "ComplexDoubleStorage": B.complex128,
}
_STORAGE_NAMES = {d: n for n, d in _STORAGE_DTYPES.items()}
# torch dtypes/storages ember cannot hold: named in a clear error instead of "unsupported global"
_FOREIGN_DTYPES = ("complex32", "chalf", "qint8", "quint8", "qint32", "quint4x2", "quint2x4")
_FOREIGN_STORAGES = {"ComplexHalfStorage": "complex32", "QInt8Storage": "qint8",
                     "QUInt8Storage": "quint8", "QInt32Storage": "qint32", "QUInt4x2Storage": "quint4x2",
                     "QUInt2x4Storage": "quint2x4"}

_MAGIC_NUMBER = 0x1950A86A20F9469CFC6C  # legacy (pre-1.6) checkpoints start with this, pickled
_LEGACY_PROTOCOL_VERSION = 1001
_ALIGNMENT = 64
_ZIP64_LIMIT = 0xFFFFFFFF


def _ns():
    return B.namespace()


# ---------------------------------------------------------------------------------------------
# saving
class _Global:
    """A module-level name written into the pickle as a GLOBAL opcode (torch's names, not ours)."""

    __slots__ = ("module", "name")

    def __init__(self, module, name):
        self.module = module
        self.name = name

    def __call__(self, *args):  # pickle requires reduce functions to be callable
        raise TypeError(f"{self.module}.{self.name} is a pickle name, not a function")

    def __repr__(self):
        return f"{self.module}.{self.name}"


_GLOBALS = {}


def _g(module, name):
    key = (module, name)
    glob = _GLOBALS.get(key)
    if glob is None:
        glob = _GLOBALS[key] = _Global(module, name)
    return glob


# ember's classes and functions under torch's names, so that real torch can load a whole pickled model
# (torch.save(model)) and build its own classes. Built on the first save that pickles one (scanning
# ember's torch-mirroring modules costs milliseconds, which `import ember` should not pay), and topped up
# when modules imported since (ember.vision, say) mirror more of torch.
_PUBLIC_NAMES = {}   # id(obj) -> (rank, obj, torch module, name): the best namespace that lists obj
_HOME_NAMES = {}     # id(obj) -> (obj, torch module, name): the torch file that defines obj, as its ember file
_SCANNED = set()     # ember modules already scanned
_NAMES_LOCK = threading.Lock()


def _alias_table():
    """compat.ALIASES both ways: (torch name -> ember name, ember name -> torch name)."""
    from .compat import ALIASES
    return ALIASES, {ember_name: torch_name for torch_name, ember_name in ALIASES.items()}


def _name_rank(obj, ember_module, attr):
    # the object's own name rather than an alias, in its own package (ember.vision's are torchvision's),
    # in the shallowest namespace (torch.nn.MultiheadAttention, not a file that happens to import it)
    vision = obj.__module__.startswith("ember.vision")
    return (attr == getattr(obj, "__name__", None), ember_module.startswith("ember.vision") == vision,
            -ember_module.count("."))


def _scan_torch_names():
    """Add the public classes and functions of ember's torch-mirroring modules imported so far."""
    _, to_torch = _alias_table()
    with _NAMES_LOCK:
        for ember_name, torch_name in to_torch.items():
            mod = sys.modules.get(ember_name)
            if mod is None or ember_name in _SCANNED:
                continue
            _SCANNED.add(ember_name)
            listed = getattr(mod, "__all__", None)
            # names this file defines that torch defines in another file (ember's lazy.py holds LazyLinear,
            # torch's linear.py does): pickled under their namespace instead
            elsewhere = getattr(mod, "_TORCH_DEFINES_ELSEWHERE", ())
            # and names another ember file defines that torch defines in this one (MultiheadAttention, in
            # torch's activation.py): pickled under this file's name, which torch's weights_only allowlist matches
            here = getattr(mod, "_TORCH_DEFINES_HERE", ())
            for attr, obj in list(vars(mod).items()):
                if attr.startswith("_") or not hasattr(obj, "__qualname__"):
                    continue
                defined = getattr(obj, "__module__", None)
                if not isinstance(defined, str) or not (defined == "ember" or defined.startswith("ember.")):
                    continue  # numpy's, the standard library's: pickled under their own names
                if listed is None or attr in listed:
                    rank = _name_rank(obj, ember_name, attr)
                    old = _PUBLIC_NAMES.get(id(obj))
                    if old is None or rank > old[0]:
                        _PUBLIC_NAMES[id(obj)] = (rank, obj, torch_name, attr)
                if (defined == ember_name and attr == obj.__qualname__ and attr not in elsewhere) or attr in here:
                    _HOME_NAMES[id(obj)] = (obj, torch_name, attr)


def _torch_global(obj, scan):
    """(torch module, name) to pickle ember's obj under, or None for ember internals torch lacks."""
    if scan:
        _scan_torch_names()
    public = _PUBLIC_NAMES.get(id(obj))
    public = public[2:] if public is not None and public[1] is obj else None
    home = _HOME_NAMES.get(id(obj))
    home = home[1:] if home is not None and home[0] is obj else None
    if public is not None:
        # torch's own pickles name the defining file (torch.nn.modules.linear.Linear), and its weights_only
        # allowlist matches that string: the same name where ember's file stands for torch's
        return home or public
    module_cls = getattr(sys.modules.get("ember.nn.modules.module"), "Module", None)
    if home is not None and module_cls is not None and isinstance(obj, type) and issubclass(obj, module_cls):
        # a module class that no namespace lists, in a file that mirrors torch's: torch's own building block
        # (nn.modules.linear.NonDynamicallyQuantizableLinear, torchvision.models.resnet.BasicBlock); other
        # such classes (an optimizer's flat state, autograd's nodes) are ember's alone
        return home
    return None


def torch_class_names():
    """{class: (torch module, name)}: the global name torch.save writes for each public class of ember's
    torch-mirroring modules imported so far (compat.install() shows the classes under these names)."""
    _scan_torch_names()
    with _NAMES_LOCK:
        classes = [entry[1] for entry in _PUBLIC_NAMES.values()] + [entry[0] for entry in _HOME_NAMES.values()]
    names = {}
    for cls in classes:
        if isinstance(cls, type) and cls not in names:
            mapped = _torch_global(cls, scan=False)
            if mapped is not None:
                names[cls] = mapped
    return names


def _ember_global(module, name):
    """The ember object a pickle's torch/torchvision global names, or None where ember lacks it."""
    root = module.partition(".")[0]
    if root not in ("torch", "torchvision"):
        return None
    to_ember, _ = _alias_table()
    import importlib
    target = to_ember.get(module) or ("ember" if root == "torch" else "ember.vision") + module[len(root):]
    try:
        mod = importlib.import_module(target)
    except ImportError:
        return None
    while True:
        obj = mod
        try:
            for part in name.split("."):
                obj = getattr(obj, part)
            return obj
        except AttributeError:
            # torch.nn.modules.linear.LazyLinear: ember keeps it elsewhere, and exposes it from a package above
            # (up to ember.nn, not ember itself, whose namesakes are other functions: torch.relu, F.relu)
            parent = mod.__name__.rpartition(".")[0]
            mod = sys.modules.get(parent) if "." in parent else None
            if mod is None:
                return None


class _StorageRef:
    """One storage to write: its key in the archive and the bytes behind it."""

    __slots__ = ("key", "dtype", "numel", "location", "source")

    def __init__(self, key, dtype, numel, location, source):
        self.key, self.dtype, self.numel, self.location, self.source = key, dtype, numel, location, source

    def raw(self):
        """The storage's memory as a flat uint8 array (no copy for host arrays)."""
        src = self.source
        if src.size == 0:
            return np.zeros(0, np.uint8)
        return src.reshape(-1, order="A").view(np.uint8)


def _root(a):
    """The outermost ndarray whose memory ``a`` views (follows bases through as_strided's wrappers)."""
    root = a
    obj = a.base
    while obj is not None:
        if isinstance(obj, np.ndarray):
            root = obj
        obj = getattr(obj, "base", None)
    return root


def _parameter_class():
    """ember.nn.Parameter, imported lazily (nn sits above serialization in the layers)."""
    mod = sys.modules.get("ember.nn.parameter")
    if mod is None:
        try:
            from .nn import parameter as mod
        except ImportError:  # pragma: no cover - nn is part of ember
            return None
    return getattr(mod, "Parameter", None)


class _Pickler(pickle._Pickler):
    """The pure-Python pickler (it lets us write torch's global names), with torch's tensor reduction."""

    dispatch = pickle._Pickler.dispatch.copy()

    def __init__(self, file, protocol):
        super().__init__(file, protocol=protocol)
        from ._tensor import Size, Tensor
        self._Tensor, self._Size = Tensor, Size
        self._Parameter = _parameter_class()
        self.storages = []      # _StorageRef in key order
        self._by_root = {}      # id(root array) -> (_StorageRef, root) for shared storages
        self._scanned = False   # ember's torch names brought up to date (see _torch_global)

    # GLOBAL opcodes for torch's names
    def _write_global(self, module, name, obj):
        self.write(pickle.GLOBAL + f"{module}\n{name}\n".encode("utf-8"))
        self.memoize(obj)

    def _save_marker(self, obj):
        self._write_global(obj.module, obj.name, obj)

    def _save_dtype(self, obj):
        self._write_global("torch", obj.name, obj)

    dispatch[_Global] = _save_marker
    dispatch[B.dtype] = _save_dtype

    def save_global(self, obj, name=None):
        if name is None and str(getattr(obj, "__module__", None)).startswith("ember"):
            mapped = _torch_global(obj, scan=not self._scanned)
            self._scanned = True  # once a save: modules imported during it add nothing it pickles
            if mapped is not None:
                self._write_global(mapped[0], mapped[1], obj)
                return
        try:
            super().save_global(obj, name)
        except pickle.PicklingError:
            qualname = name or getattr(obj, "__qualname__", "")
            if "<locals>" in qualname and sys.version_info < (3, 14):
                # the C pickler torch uses raises AttributeError for a lambda or nested function/class
                raise AttributeError(f"Can't pickle local object {qualname!r}") from None
            raise

    dispatch[type(lambda: None)] = save_global
    dispatch[type] = save_global

    def persistent_id(self, obj):
        if type(obj) is _StorageRef:
            if obj.dtype in B.BAREBONES:   # (torch has no typed storage for these: an untyped one, in bytes)
                return ("storage", _g("torch.storage", "UntypedStorage"), obj.key, obj.location,
                        obj.numel * obj.dtype.itemsize)
            return ("storage", _g("torch", _STORAGE_NAMES[obj.dtype]), obj.key, obj.location, obj.numel)
        return None

    def reducer_override(self, obj):
        if isinstance(obj, self._Tensor):
            return self._reduce_tensor(obj)
        t = type(obj)
        if t is B.device:
            args = (obj.type,) if obj.index is None else (obj.type, obj.index)
            return _g("torch", "device"), args
        if t is self._Size:
            return _g("torch", "Size"), (tuple(int(s) for s in obj),)
        if t is B.layout:   # (torch pickles a layout by its name: torch.serialization._get_layout)
            return _g("torch.serialization", "_get_layout"), (f"torch.{obj.name}",)
        return NotImplemented

    def _reduce_tensor(self, t):
        from ._tensor import _wrap
        if t.is_sparse:   # torch's form: its indices and values (plain tensors), size and coalesced flag
            c = t._coo
            return (_g("torch._utils", "_rebuild_sparse_tensor"),
                    (B.sparse_coo, (_wrap(c.indices), _wrap(c.values), self._Size(c.shape), c.coalesced)))
        if t.layout is B.sparse_csr or t.layout is B.sparse_csc:   # torch's: (compressed, plain, values, size)
            cs = t._cs
            return (_g("torch._utils", "_rebuild_sparse_tensor"),
                    (cs.layout, (_wrap(cs.compressed), _wrap(cs.plain), _wrap(cs.values), self._Size(cs.shape))))
        if self._Parameter is not None and isinstance(t, self._Parameter):
            data = _wrap(t._data)  # torch pickles param.data: a plain tensor, requires_grad False
            state = {k: v for k, v in getattr(t, "__dict__", {}).items()}
            if state:
                return (_g("torch._utils", "_rebuild_parameter_with_state"),
                        (data, bool(t.requires_grad), collections.OrderedDict(), state))
            return (_g("torch._utils", "_rebuild_parameter"),
                    (data, bool(t.requires_grad), collections.OrderedDict()))
        shape = tuple(int(s) for s in t._data.shape)
        if t.device.type == "meta":   # no storage: torch writes the tensor's metadata only
            return (_g("torch._utils", "_rebuild_meta_tensor_no_storage"),
                    (t.dtype, shape, tuple(t.stride()), bool(t.requires_grad)))
        ref, offset, strides = self._storage_for(t)
        args = (ref, offset, shape, strides, bool(t.requires_grad), collections.OrderedDict())
        rebuild = "_rebuild_tensor_v2"
        if t.dtype in B.BAREBONES:   # torch's form for them: an untyped storage and the dtype after the hooks
            rebuild, args = "_rebuild_tensor_v3", args + (t.dtype,)
        state = getattr(t, "__dict__", None)
        if state:
            # Python attributes set on the tensor travel too, as torch writes them
            # (torch._tensor._rebuild_from_type_v2 with the attributes as state)
            return (_g("torch._tensor", "_rebuild_from_type_v2"),
                    (_g("torch._utils", rebuild), _g("torch", "Tensor"), args, dict(state)))
        return _g("torch._utils", rebuild), args

    def _new_storage(self, dtype, numel, location, source):
        ref = _StorageRef(str(len(self.storages)), dtype, numel, location, source)
        self.storages.append(ref)
        return ref

    def _storage_for(self, t):
        """(storage, element offset, element strides); views of one numpy base share one storage."""
        a = t._data
        dtype = B.FROM_NUMPY[a.dtype]
        if type(a) is not np.ndarray:
            get = getattr(a, "get", None)
            if get is not None:  # a device array: copy to the host; the location tag remembers the device
                host = np.array(get(), order="C")
            else:  # an ndarray subclass: save its values (np.array keeps 0-d arrays 0-d)
                host = np.array(a, order="C").view(np.ndarray)
            ref = self._new_storage(dtype, host.size, str(t.device), host)
            return ref, 0, _contiguous_strides(host.shape)
        item = a.itemsize
        root = _root(a)
        view = self._as_view_of(a, root)
        if view is None:
            host = np.ascontiguousarray(a)
            ref = self._new_storage(dtype, host.size, "cpu", host)
            return ref, 0, _contiguous_strides(host.shape)
        offset, strides = view
        entry = self._by_root.get(id(root))
        if entry is not None:
            ref = entry[0]
            if ref.dtype is not dtype:
                raise RuntimeError(
                    "Cannot save multiple tensors or storages that view the same data as different "
                    f"types ({ref.dtype} and {dtype}); save a .clone() of one of them")
        else:
            ref = self._new_storage(dtype, root.nbytes // item, "cpu", root)
            self._by_root[id(root)] = (ref, root)  # holding root keeps id(root) unique
        return ref, offset, strides

    @staticmethod
    def _as_view_of(a, root):
        """(offset, strides) in elements of ``a`` inside ``root``'s memory, or None if not expressible."""
        item = a.itemsize
        if a.size == 0 or not (root.flags.c_contiguous or root.flags.f_contiguous):
            return None
        if root.nbytes % item:
            return None
        off = a.__array_interface__["data"][0] - root.__array_interface__["data"][0]
        if off < 0 or off % item:
            return None
        end = off + item
        strides = []
        for n, s in zip(a.shape, a.strides):
            if n == 1:
                s = 0 if s < 0 else s
            if s < 0 or s % item:
                return None  # torch has no negative strides: save a copy
            end += (n - 1) * s
            strides.append(s // item)
        if end > root.nbytes:
            return None
        return off // item, tuple(strides)


def _contiguous_strides(shape):
    strides, acc = [], 1
    for s in reversed(shape):
        strides.append(acc)
        acc *= max(int(s), 1)
    return tuple(reversed(strides))


class _ZipWriter:
    """The zip layout torch's PyTorchStreamWriter produces: stored entries, 64-byte aligned data."""

    def __init__(self, fileobj, prefix):
        self.f = fileobj
        self.prefix = prefix
        self.offset = 0
        self.entries = []
        self.combined = 0

    def _write(self, data):
        self.f.write(data)
        self.offset += memoryview(data).nbytes

    def write_record(self, name, data):
        fname = f"{self.prefix}/{name}".encode("utf-8")
        mv = memoryview(data).cast("B") if not isinstance(data, bytes) else memoryview(data)
        size = mv.nbytes
        if size >= _ZIP64_LIMIT or self.offset >= _ZIP64_LIMIT:
            raise RuntimeError(
                f"ember.save: the checkpoint would exceed 4 GiB at record {name!r} ({size} bytes at "
                f"offset {self.offset}); ember writes checkpoints up to 4 GiB. Split the state into "
                "several files.")
        header_offset = self.offset
        start = header_offset + 30 + len(fname) + 4
        pad = (-start) % _ALIGNMENT
        extra = b"FB" + struct.pack("<H", pad) + b"Z" * pad
        crc = zlib.crc32(mv)
        # flags 0x0808: UTF-8 names, sizes and CRC in the data descriptor after the data (as torch)
        self._write(struct.pack("<IHHHHHIIIHH", 0x04034B50, 0, 0x0808, 0, 0, 0, 0, 0, 0,
                                len(fname), len(extra)) + fname + extra)
        self._write(mv)
        self._write(struct.pack("<IIII", 0x08074B50, crc, size, size))
        self.entries.append((fname, crc, size, header_offset))
        self.combined = (self.combined * 1000003 + crc) & 0xFFFFFFFFFFFFFFFF

    def finish(self):
        total = sum(e[2] for e in self.entries)
        self.write_record(".data/serialization_id", f"{self.combined:020d}{total % 10**20:020d}".encode())
        cd_start = self.offset
        for fname, crc, size, header_offset in self.entries:
            self._write(struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 0, 0, 0x0808, 0, 0, 0, crc, size,
                                    size, len(fname), 0, 0, 0, 0, 0, header_offset) + fname)
        cd_size = self.offset - cd_start
        n = len(self.entries)
        eocd64 = self.offset
        # torch always writes the zip64 end records, then the classic one
        self._write(struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, 0x031E, 0x2D, 0, 0, n, n, cd_size, cd_start))
        self._write(struct.pack("<IIQI", 0x07064B50, 0, eocd64, 1))
        self._write(struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, n, n, cd_size, cd_start, 0))


def _archive_name(path):
    """torch names the archive's top folder after the file's stem ('archive' for non-ASCII paths)."""
    try:
        path.encode("ascii")
    except UnicodeEncodeError:
        return "archive"
    base = os.path.basename(path)
    stem = base[:base.rfind(".")] if "." in base else base
    return stem or "archive"


def _check_pickle_module(pickle_module, fn):
    if pickle_module is not None and pickle_module is not pickle:
        raise NotImplementedError(
            f"{_ns()}.{fn}: ember pickles with the standard pickle module only; drop "
            f"pickle_module={getattr(pickle_module, '__name__', pickle_module)!s}")


class _LegacyPickler(_Pickler):
    """The pre-1.6 format's persistent ids carry a sixth field: view metadata (None for whole storages)."""

    dispatch = _Pickler.dispatch

    def persistent_id(self, obj):
        if type(obj) is _StorageRef:
            return ("storage", _g("torch", _STORAGE_NAMES[obj.dtype]), obj.key, obj.location, obj.numel, None)
        return None


def _write_legacy(obj, fileobj, protocol):
    """torch.save(..., _use_new_zipfile_serialization=False): magic number, protocol version, sys info,
    the pickled object, the sorted storage keys, then each storage as an int64 element count and its bytes."""
    pickle.dump(_MAGIC_NUMBER, fileobj, protocol=protocol)
    pickle.dump(_LEGACY_PROTOCOL_VERSION, fileobj, protocol=protocol)
    pickle.dump({"protocol_version": _LEGACY_PROTOCOL_VERSION, "little_endian": sys.byteorder == "little",
                 "type_sizes": {"short": 2, "int": 4, "long": 4}}, fileobj, protocol=protocol)
    pickler = _LegacyPickler(fileobj, protocol)
    pickler.dump(obj)
    by_key = {ref.key: ref for ref in pickler.storages}
    keys = sorted(by_key)
    pickle.dump(keys, fileobj, protocol=protocol)
    for key in keys:
        ref = by_key[key]
        fileobj.write(struct.pack("<q", ref.numel))
        fileobj.write(memoryview(ref.raw()))


def _write_checkpoint(obj, fileobj, prefix, protocol, byteorder_record=True, legacy=False):
    if legacy:
        return _write_legacy(obj, fileobj, protocol)
    buf = io.BytesIO()
    pickler = _Pickler(buf, protocol)
    pickler.dump(obj)
    w = _ZipWriter(fileobj, prefix)
    w.write_record("data.pkl", buf.getvalue())
    w.write_record(".format_version", b"1")
    w.write_record(".storage_alignment", str(_ALIGNMENT).encode())
    if byteorder_record:
        w.write_record("byteorder", sys.byteorder.encode())
    for ref in pickler.storages:
        w.write_record(f"data/{ref.key}", ref.raw())
    w.write_record("version", b"3\n")
    w.finish()


def _umask():
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0)
    os.umask(mask)
    return mask


def save(obj, f, pickle_module=None, pickle_protocol=2, _use_new_zipfile_serialization=True,
         _disable_byteorder_record=False):
    """Save obj to a path or binary file in PyTorch's checkpoint format (torch.save)."""
    _check_pickle_module(pickle_module, "save")
    byteorder_record = not _disable_byteorder_record
    legacy = not _use_new_zipfile_serialization
    if isinstance(f, (str, bytes, os.PathLike)):
        path = os.fsdecode(f)
        parent = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(parent):
            raise RuntimeError(f"Parent directory {os.path.dirname(path) or parent} does not exist.")
        if os.path.isdir(path):
            # RuntimeError, as torch (its file writer fails to open the path)
            raise RuntimeError(f"{_ns()}.save: {path!r} is a directory; pass a file path")
        # pickle first (the usual failure) so nothing touches the disk until the object is valid
        _save_atomic(obj, path, parent, pickle_protocol, byteorder_record, legacy)
        return
    write = getattr(f, "write", None)
    if not callable(write):
        raise AttributeError(
            f"{_ns()}.save: f must be a path or a binary file object with write(), got "
            f"{type(f).__name__}")
    _write_checkpoint(obj, f, "archive", pickle_protocol, byteorder_record, legacy)
    flush = getattr(f, "flush", None)
    if callable(flush):
        flush()


def _save_atomic(obj, path, parent, protocol, byteorder_record, legacy=False):
    """Write to a temporary file beside path, then os.replace: path is never half-written."""
    import tempfile
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp", dir=parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            _write_checkpoint(obj, fh, _archive_name(path), protocol, byteorder_record, legacy)
            fh.flush()
            os.fsync(fh.fileno())
        try:
            mode = os.stat(path).st_mode & 0o7777  # keep an existing file's permissions
        except OSError:
            mode = 0o666 & ~_umask()  # what open(path, 'wb') would have given
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


# ---------------------------------------------------------------------------------------------
# loading
class _StorageType:
    """What torch.FloatStorage & co. unpickle to: the element dtype of a storage."""

    __slots__ = ("name", "dtype")

    def __init__(self, name, dtype):
        self.name, self.dtype = name, dtype

    def __repr__(self):
        return f"StorageType(dtype={self.dtype})"


_STORAGE_TYPES = {n: _StorageType(n, d) for n, d in _STORAGE_DTYPES.items()}
_UNTYPED = _StorageType("UntypedStorage", B.uint8)


class TypedStorage:
    """A loaded storage: a flat array of one dtype on one device (what map_location callables get)."""

    __slots__ = ("_array", "dtype")

    def __init__(self, array, dtype):
        self._array = array
        self.dtype = dtype

    @property
    def device(self):
        return B.device_of(self._array)

    @property
    def is_cuda(self):
        return self.device.type == "cuda"

    def size(self):
        """Number of elements."""
        return int(self._array.size)

    def __len__(self):
        return int(self._array.size)

    def nbytes(self):
        """Number of bytes."""
        return int(self._array.nbytes)

    def element_size(self):
        """Bytes per element."""
        return self._array.itemsize

    def to(self, device):
        """This storage on device (self when already there)."""
        device = B.as_device(device)
        if device == self.device:
            return self
        from .ops.convert import _move
        if device.type == "cuda":
            from . import cuda
            cuda._check_usable(device)
        return TypedStorage(_move(self._array, device), self.dtype)

    def cpu(self):
        """This storage in host memory."""
        return self.to("cpu")

    def cuda(self, device=None, non_blocking=False):
        """This storage on a CUDA device."""
        if device is None:
            device = "cuda"
        elif isinstance(device, int):
            device = f"cuda:{device}"
        return self.to(device)

    def tolist(self):
        """The elements as a Python list."""
        return self.cpu()._array.tolist()

    def __repr__(self):
        return f"{_ns()}.storage.TypedStorage(dtype={self.dtype}, device={self.device}) of size {self.size()}"


def _default_restore(storage, location):
    location = location.decode("ascii") if isinstance(location, bytes) else str(location)
    if location == "cpu":
        return storage.cpu()
    kind = location.partition(":")[0]
    if kind == "cuda":
        from . import cuda
        if not cuda.is_available():
            raise RuntimeError(
                "Attempting to deserialize object on a CUDA device but "
                f"{_ns()}.cuda.is_available() is False. If you are running on a CPU-only machine, "
                f"please use {_ns()}.load with map_location=torch.device('cpu') to map your storages "
                "to the CPU.")
        dev = B.device(location)
        count = cuda.device_count()
        if (dev.index or 0) >= count:
            raise RuntimeError(
                f"Attempting to deserialize object on CUDA device {dev.index or 0} but "
                f"{_ns()}.cuda.device_count() is {count}. Please use {_ns()}.load with map_location "
                "to map your storages to an existing device.")
        return storage.to(dev)
    if kind == "meta":
        raise RuntimeError(f"{_ns()}.load: ember cannot restore storages tagged 'meta'")
    raise RuntimeError(
        f"don't know how to restore data location of {type(storage).__name__} (tagged with {location}); "
        "pass map_location='cpu' to load it on the CPU")


def _restore_fn(map_location):
    if map_location is None:
        return _default_restore
    if isinstance(map_location, dict):
        def restore(storage, location):
            return _default_restore(storage, map_location.get(location, location))
        return restore
    if isinstance(map_location, (str, bytes)):
        target = map_location.decode("ascii") if isinstance(map_location, bytes) else map_location
        return lambda storage, location: _default_restore(storage, target)
    if isinstance(map_location, B.device):
        target = str(map_location)
        return lambda storage, location: _default_restore(storage, target)
    if callable(map_location):
        def restore(storage, location):
            result = map_location(storage, location)
            if result is None:
                result = _default_restore(storage, location)
            if not isinstance(result, TypedStorage):
                raise TypeError(
                    f"{_ns()}.load: map_location returned {type(result).__name__}; it must return the "
                    "storage it was given (optionally moved with .cpu()/.cuda()) or None")
            return result
        return restore
    raise TypeError(
        f"{_ns()}.load: map_location must be None, a string, a device, a dict or a callable, got "
        f"{type(map_location).__name__}")


def _check_int(value, what):
    if type(value) is not int or value < 0:
        raise pickle.UnpicklingError(f"corrupt checkpoint: tensor {what} must be a non-negative int, got {value!r}")


def _as_tensor_view(storage, storage_offset, size, stride, dtype=None):
    if not isinstance(storage, TypedStorage):
        raise pickle.UnpicklingError(
            f"corrupt checkpoint: a tensor must be rebuilt from a storage, got {type(storage).__name__}")
    _check_int(storage_offset, "storage offset")
    size, stride = tuple(size), tuple(stride)
    if len(size) != len(stride):
        raise pickle.UnpicklingError(f"corrupt checkpoint: size {size} and stride {stride} differ in length")
    for s in size:
        _check_int(s, "size")
    for s in stride:
        _check_int(s, "stride")
    array = storage._array
    if dtype is not None and array.dtype != dtype.np:
        if array.nbytes % dtype.itemsize:
            raise pickle.UnpicklingError(f"corrupt checkpoint: {array.nbytes} bytes are not whole {dtype}s")
        array = array.view(dtype.np)
    numel = 1
    for s in size:
        numel *= s
    # the furthest element must lie inside the storage: never read memory outside it
    if numel:
        last = storage_offset + sum((n - 1) * st for n, st in zip(size, stride))
        if last >= array.size:
            raise pickle.UnpicklingError(
                f"corrupt checkpoint: a tensor of size {list(size)}, stride {list(stride)} at offset "
                f"{storage_offset} does not fit its storage of {array.size} elements")
    elif storage_offset > array.size:
        storage_offset = 0
    item = array.itemsize
    byte_strides = tuple(st * item for st in stride)
    if type(array) is np.ndarray:
        if numel == 0:
            view = np.empty(size, array.dtype)
        else:
            # a view whose .base is the storage, so re-saving keeps storages shared
            view = np.ndarray(size, array.dtype, buffer=array, offset=storage_offset * item,
                              strides=byte_strides)
    else:  # a device storage: the same view through its array module
        view = B.xp_of(array).lib.stride_tricks.as_strided(array[storage_offset:], size, byte_strides)
    from ._tensor import _wrap
    return _wrap(view)


def _rebuild_tensor(storage, storage_offset, size, stride):
    """torch._utils._rebuild_tensor."""
    return _as_tensor_view(storage, storage_offset, size, stride)


def _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad=False, backward_hooks=None,
                       metadata=None):
    """torch._utils._rebuild_tensor_v2."""
    t = _resolve_bits(_as_tensor_view(storage, storage_offset, size, stride), metadata)
    if requires_grad:
        t.requires_grad_(bool(requires_grad))
    return t


def _rebuild_meta_tensor_no_storage(dtype, size, stride, requires_grad):
    """torch._utils._rebuild_meta_tensor_no_storage: a meta tensor (it was saved without data)."""
    from .ops.creation import empty_strided
    return empty_strided(size, stride, dtype=dtype, device="meta", requires_grad=bool(requires_grad))


def _resolve_bits(t, metadata):
    """torch saves a lazily conjugated (or negated) tensor as its storage plus {'conj': True} ({'neg': True});
    ember keeps no such bits, so the loaded tensor holds the resolved values (in its own memory)."""
    if isinstance(metadata, dict):
        if metadata.get("conj") and t._data.dtype.kind == "c":
            t._data = t._data.conj()
        if metadata.get("neg"):
            t._data = -t._data
    return t


def _rebuild_tensor_v3(storage, storage_offset, size, stride, requires_grad, backward_hooks, dtype,
                       metadata=None):
    """torch._utils._rebuild_tensor_v3 (untyped storage plus an explicit dtype)."""
    if type(dtype) is not B.dtype:
        raise pickle.UnpicklingError(f"corrupt checkpoint: expected a dtype, got {dtype!r}")
    t = _resolve_bits(_as_tensor_view(storage, storage_offset, size, stride, dtype), metadata)
    if requires_grad:
        t.requires_grad_(bool(requires_grad))
    return t


def _make_parameter(data, requires_grad):
    from ._tensor import Tensor
    if not isinstance(data, Tensor):
        raise pickle.UnpicklingError(f"corrupt checkpoint: Parameter data must be a tensor, got {type(data).__name__}")
    param_cls = _parameter_class()
    if param_cls is None:  # pragma: no cover - ember.nn always defines Parameter
        return data.requires_grad_(bool(requires_grad))
    return param_cls(data, bool(requires_grad))


def _rebuild_parameter(data, requires_grad, backward_hooks=None):
    """torch._utils._rebuild_parameter."""
    return _make_parameter(data, requires_grad)


def _rebuild_parameter_with_state(data, requires_grad, backward_hooks, state):
    """torch._utils._rebuild_parameter_with_state."""
    param = _make_parameter(data, requires_grad)
    _set_state(param, state)
    return param


def _set_state(obj, state):
    if not state:
        return
    if isinstance(state, tuple) and len(state) == 2:
        dict_state, slots_state = state
    else:
        dict_state, slots_state = state, None
    for part in (dict_state, slots_state):
        if part:
            if not isinstance(part, dict):
                raise pickle.UnpicklingError(f"corrupt checkpoint: object state must be a dict, got {type(part).__name__}")
            for k, v in part.items():
                if not isinstance(k, str) or k.startswith("__"):
                    raise pickle.UnpicklingError(f"corrupt checkpoint: refusing to set attribute {k!r}")
                setattr(obj, k, v)


def _rebuild_from_type_v2(func, new_type, args, state):
    """torch._tensor._rebuild_from_type_v2: a tensor subclass or a tensor with Python attributes."""
    if func not in (_rebuild_tensor, _rebuild_tensor_v2, _rebuild_tensor_v3, _rebuild_parameter,
                    _rebuild_parameter_with_state):
        raise pickle.UnpicklingError(f"corrupt checkpoint: unexpected rebuild function {func!r}")
    from ._tensor import Tensor
    ret = func(*args)
    if not (isinstance(new_type, type) and issubclass(new_type, Tensor)):
        raise pickle.UnpicklingError(f"corrupt checkpoint: {new_type!r} is not a tensor type")
    if type(ret) is not new_type:
        param_cls = _parameter_class()
        if param_cls is not None and new_type is param_cls:
            ret = param_cls(ret, ret.requires_grad)
        elif new_type is not Tensor:
            raise pickle.UnpicklingError(f"{_ns()}.load: cannot rebuild tensor subclass {new_type.__name__}")
    _set_state(ret, state)
    return ret


def _rebuild_sparse_tensor(layout, data):
    """torch._utils._rebuild_sparse_tensor: a sparse COO, CSR or CSC tensor (ops/sparse.py, imported on first use)."""
    from .ops.sparse import _rebuild_sparse_tensor as rebuild
    return rebuild(layout, data)


def _device_ctor(type_or_str="cpu", index=None):
    return B.device(type_or_str, index)


def _tensor_globals():
    """torch's pickle names that ember maps to its own objects (the weights_only allowlist)."""
    from ._tensor import Size, Tensor
    table = {
        ("collections", "OrderedDict"): collections.OrderedDict,
        ("collections", "Counter"): collections.Counter,
        ("torch._utils", "_rebuild_tensor"): _rebuild_tensor,
        ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
        ("torch._utils", "_rebuild_tensor_v3"): _rebuild_tensor_v3,
        ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
        ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter_with_state,
        ("torch._utils", "_rebuild_meta_tensor_no_storage"): _rebuild_meta_tensor_no_storage,
        ("torch._tensor", "_rebuild_from_type_v2"): _rebuild_from_type_v2,
        ("torch._utils", "_rebuild_sparse_tensor"): _rebuild_sparse_tensor,
        ("torch.serialization", "_get_layout"): B._layout_named,
        ("torch", "Size"): Size,
        ("torch", "device"): _device_ctor,
        ("torch", "Tensor"): Tensor,
        ("torch", "UntypedStorage"): _UNTYPED,
        ("torch.storage", "UntypedStorage"): _UNTYPED,
        ("_codecs", "encode"): _codecs_encode,
        ("builtins", "set"): set,
        ("builtins", "frozenset"): frozenset,
        ("builtins", "complex"): complex,
        ("builtins", "slice"): slice,
        ("builtins", "bytearray"): bytearray,
    }
    param_cls = _parameter_class()
    if param_cls is not None:
        table[("torch.nn.parameter", "Parameter")] = param_cls
    for d in B.ALL_DTYPES:
        table[("torch", d.name)] = d
    for name, stype in _STORAGE_TYPES.items():
        table[("torch", name)] = stype
        table[("torch.cuda", name)] = stype  # pre-1.x files name CUDA storage classes
    return table


def _codecs_encode(obj, encoding="utf-8", errors="strict"):
    import codecs
    if not isinstance(obj, str):
        raise pickle.UnpicklingError("corrupt checkpoint: _codecs.encode expects a str")
    return codecs.encode(obj, encoding, errors)


_safe_globals = {}  # "module.name" -> object, added by add_safe_globals


def add_safe_globals(safe_globals):
    """Allow these classes/functions in weights_only loads (torch.serialization.add_safe_globals)."""
    for item in safe_globals:
        if isinstance(item, tuple):
            obj, name = item
        else:
            obj, name = item, f"{item.__module__}.{item.__qualname__}"
        _safe_globals[name] = obj


def clear_safe_globals():
    """Forget everything add_safe_globals allowed."""
    _safe_globals.clear()


def get_safe_globals():
    """The objects add_safe_globals allowed."""
    return list(_safe_globals.values())


class safe_globals:
    """Context manager: allow these globals in weights_only loads inside the block
    (torch.serialization.safe_globals)."""

    def __init__(self, safe_globals):
        self.safe_globals = safe_globals

    def __enter__(self):
        self._previous = dict(_safe_globals)
        add_safe_globals(self.safe_globals)

    def __exit__(self, exc_type, exc_value, tb):
        _safe_globals.clear()
        _safe_globals.update(self._previous)


def _fix_py2_name(module, name):
    import _compat_pickle
    if (module, name) in _compat_pickle.NAME_MAPPING:
        return _compat_pickle.NAME_MAPPING[(module, name)]
    return _compat_pickle.IMPORT_MAPPING.get(module, module), name


def _foreign(module, name):
    if module in ("torch", "torch.cuda") and (name in _FOREIGN_DTYPES or name in _FOREIGN_STORAGES):
        dtype = _FOREIGN_STORAGES.get(name, name)
        raise pickle.UnpicklingError(
            f"{_ns()}.load: the checkpoint holds {module}.{name} ({dtype}) data, a dtype ember does not support "
            f"(ember has {', '.join(d.name for d in B.ALL_DTYPES)}); convert it in PyTorch first, "
            "e.g. tensor.float()")


def _weights_only_error(full_name):
    ns = _ns()
    return pickle.UnpicklingError(
        "Weights only load failed. This file can still be loaded, to do so you have two options, do "
        "those steps only if you trust the source of the checkpoint.\n"
        f"\t(1) Re-running `{ns}.load` with `weights_only` set to `False` will likely succeed, but it "
        "can result in arbitrary code execution. Do it only if you got the file from a trusted source.\n"
        f"\t(2) Alternatively, to load with `weights_only=True` please check the recommended steps in "
        "the following error message.\n"
        f"\tWeightsUnpickler error: Unsupported global: GLOBAL {full_name} was not an allowed global "
        f"by default. Please use `{ns}.serialization.add_safe_globals([{full_name}])` or the "
        f"`{ns}.serialization.safe_globals([{full_name}])` context manager to allowlist this global if you "
        "trust this class/function.\n\n"
        f"Check the documentation of {ns}.load to learn more about types accepted by default with "
        "weights_only https://pytorch.org/docs/stable/generated/torch.load.html.")


class _WeightsUnpickler(pickle._Unpickler):
    """Unpickles only allowlisted globals; no object can run code while loading."""

    dispatch = pickle._Unpickler.dispatch.copy()

    def __init__(self, file, persistent_load, encoding="utf-8"):
        super().__init__(file, encoding=encoding)
        self._table = _tensor_globals()
        self._allowed = set(map(id, self._table.values())) | set(map(id, _safe_globals.values()))
        self._persistent_load = persistent_load

    def persistent_load(self, pid):
        return self._persistent_load(pid)

    def find_class(self, module, name):
        if self.proto < 3:
            module, name = _fix_py2_name(module, name)
        obj = self._table.get((module, name))
        if obj is not None:
            return obj
        obj = _safe_globals.get(f"{module}.{name}")
        if obj is not None:
            return obj
        _foreign(module, name)
        # add_safe_globals([nn.Linear]) allows ember's class, which files name as torch's
        obj = _ember_global(module, name)
        if obj is not None and any(obj is allowed for allowed in _safe_globals.values()):
            return obj
        raise _weights_only_error(f"{module}.{name}")

    # opcodes that call a class or mutate an object: only allowlisted types
    def _load_newobj(self):
        args = self.stack.pop()
        cls = self.stack.pop()
        if id(cls) not in self._allowed or not isinstance(cls, type):
            raise pickle.UnpicklingError(f"Can only create new objects of allowlisted classes, but got {cls!r}")
        param_cls = _parameter_class()
        self.append(cls(*args) if cls is param_cls else cls.__new__(cls, *args))

    def _load_newobj_ex(self):
        kwargs = self.stack.pop()
        args = self.stack.pop()
        cls = self.stack.pop()
        if id(cls) not in self._allowed or not isinstance(cls, type):
            raise pickle.UnpicklingError(f"Can only create new objects of allowlisted classes, but got {cls!r}")
        self.append(cls.__new__(cls, *args, **kwargs))

    def _load_reduce(self):
        args = self.stack.pop()
        func = self.stack[-1]
        if id(func) not in self._allowed:
            raise pickle.UnpicklingError(f"Trying to call reduce for unrecognized function {func!r}")
        self.stack[-1] = func(*args)

    def _load_build(self):
        state = self.stack.pop()
        inst = self.stack[-1]
        if type(inst) in (collections.OrderedDict, collections.Counter):
            if not isinstance(state, dict):
                raise pickle.UnpicklingError("corrupt checkpoint: OrderedDict state must be a dict")
            inst.__dict__.update(state)  # e.g. a state_dict's _metadata
        elif id(type(inst)) in set(map(id, _safe_globals.values())):
            setstate = getattr(inst, "__setstate__", None)
            if setstate is not None:
                setstate(state)
            else:
                _set_state(inst, state)
        else:
            raise pickle.UnpicklingError(
                f"Can only build OrderedDict or types allowlisted via add_safe_globals, but got {type(inst)}")

    def _refuse(self):
        raise pickle.UnpicklingError("weights_only load refuses the INST/OBJ opcodes (they call classes)")

    dispatch[pickle.NEWOBJ[0]] = _load_newobj
    dispatch[pickle.NEWOBJ_EX[0]] = _load_newobj_ex
    dispatch[pickle.REDUCE[0]] = _load_reduce
    dispatch[pickle.BUILD[0]] = _load_build
    dispatch[pickle.INST[0]] = _refuse
    dispatch[pickle.OBJ[0]] = _refuse


class _FullUnpickler(pickle.Unpickler):
    """weights_only=False: any global (trusted files only), torch's names mapped to ember."""

    def __init__(self, file, persistent_load, encoding="utf-8"):
        super().__init__(file, encoding=encoding)
        self._table = _tensor_globals()
        self._persistent_load = persistent_load

    def persistent_load(self, pid):
        return self._persistent_load(pid)

    def find_class(self, module, name):
        obj = self._table.get((module, name))
        if obj is None:
            obj = self._table.get(_fix_py2_name(module, name))
        if obj is not None:
            return obj
        _foreign(module, name)
        if module.partition(".")[0] in ("torch", "torchvision"):
            # a torch class pickled whole (torch.nn.modules.linear.Linear): use ember's namesake
            obj = _ember_global(module, name)
            if obj is None:
                raise pickle.UnpicklingError(
                    f"{_ns()}.load: the checkpoint refers to {module}.{name}, which ember does not "
                    "provide; save a state_dict instead of the whole object")
            return obj
        return super().find_class(module, name)


def _unpickler(weights_only, file, persistent_load, encoding):
    cls = _WeightsUnpickler if weights_only else _FullUnpickler
    return cls(file, persistent_load, encoding=encoding)


def _corrupt(name, detail):
    return RuntimeError(
        f"PytorchStreamReader failed reading zip archive: {detail} (file: {name}). The checkpoint is "
        "truncated or corrupted: it was not saved completely or was damaged while being copied or "
        "downloaded. Save or download it again.")


def _read_record(zf, name, fname):
    """A record's bytes.  Stored (uncompressed) records, all that torch.save writes, are read straight
    from the file into the array and their CRC-32 checked over it (zipfile's reader copied them through
    its buffers: a 480 MB checkpoint took 620-950 ms, then ~360, ~250 with large records' CRCs computed
    alongside the read; torch 230-300, whose reader checks no CRC).  A CRC of 0 is not checked:
    torch.save writes 0 under serialization.config.save.compute_crc32 = False, and torch.load reads
    such files (a real CRC of 0: 1 in 2 ** 32)."""
    try:
        info = zf.getinfo(name)
    except KeyError:
        raise _corrupt(fname, f"failed finding record {name!r}") from None
    raw = np.empty(info.file_size, np.uint8)
    try:
        if info.compress_type == zipfile.ZIP_STORED:
            fp = zf.fp
            fp.seek(info.header_offset)
            header = fp.read(30)
            if len(header) != 30 or header[:4] != b"PK\x03\x04":
                raise zipfile.BadZipFile(f"bad local file header for record {name}")
            name_len, extra_len = struct.unpack("<HH", header[26:30])
            fp.seek(info.header_offset + 30 + name_len + extra_len)
            if info.CRC and info.file_size >= _CRC_ALONGSIDE_MIN:
                got, crc = _read_with_crc(fp, raw)
            else:
                got = _read_into(fp, memoryview(raw))
                crc = zlib.crc32(raw) if info.CRC and got == info.file_size else info.CRC
            if got == info.file_size and crc != info.CRC:
                raise zipfile.BadZipFile(f"Bad CRC-32 for file {name!r}")
        else:
            with zf.open(info) as src:
                got = _read_into(src, memoryview(raw))
                src.read(1)  # reaching the end makes zipfile verify the CRC
        if got != info.file_size:
            raise EOFError(f"record {name} ended after {got} of {info.file_size} bytes")
    except (zipfile.BadZipFile, EOFError, OSError, zlib.error, struct.error, ValueError) as e:
        raise _corrupt(fname, f"{e}") from None
    return raw


# A stored record of this size or more has its CRC-32 computed on a helper thread, chunk by chunk,
# while the next chunk is read: zlib's CRC runs at ~2 GB/s here, slower than the read (a 411 MB
# record: 112 ms to read, 194 for the CRC, 207 both together; a 480 MB checkpoint 369 -> ~270 ms)
_CRC_ALONGSIDE_MIN = 64 << 20
_CRC_CHUNK = 32 << 20


def _read_with_crc(fp, raw):
    """Fill raw from file fp as far as it goes: (bytes read, CRC-32 of those bytes), the CRC
    computed on a helper thread behind the reads (zlib releases the interpreter lock)."""
    mv = memoryview(raw)
    chunks = queue.SimpleQueue()
    crc = [0]

    def checksum():
        value = 0
        for chunk in iter(chunks.get, None):
            value = zlib.crc32(chunk, value)
        crc[0] = value

    helper = threading.Thread(target=checksum, name="ember-load-crc", daemon=True)
    helper.start()
    got = 0
    try:
        while got < len(mv):
            want = min(_CRC_CHUNK, len(mv) - got)
            n = _read_into(fp, mv[got:got + want])
            chunks.put(mv[got:got + n])
            got += n
            if n < want:
                break
    finally:
        chunks.put(None)
        helper.join()
    return got, crc[0]


def _read_into(src, mv):
    """Fill memoryview mv from file src as far as it goes; the bytes read."""
    got = 0
    readinto = getattr(src, "readinto", None)
    while got < len(mv):
        if readinto is not None:
            n = readinto(mv[got:])
        else:
            chunk = src.read(len(mv) - got)
            n = len(chunk)
            mv[got:got + n] = chunk
        if not n:
            break
        got += n
    return got


_MMAP_FLAGS = [getattr(_mmap, "MAP_PRIVATE", None)]   # torch.load(mmap=True)'s mapping: private (copy on write)


def get_default_mmap_options():
    """The mmap flags torch.load(mmap=True) maps files with: mmap.MAP_PRIVATE unless set_default_mmap_options
    changed them."""
    return _MMAP_FLAGS[0]


class set_default_mmap_options:
    """Set the mmap flags torch.load(mmap=True) uses (mmap.MAP_PRIVATE or mmap.MAP_SHARED, whose writes reach
    the file), for good or for a with block."""

    def __init__(self, flags):
        if sys.platform == "win32":
            raise RuntimeError("Changing the default mmap options is currently not supported for Windows")
        if flags != _mmap.MAP_PRIVATE and flags != _mmap.MAP_SHARED:
            raise ValueError("Invalid argument in function set_default_mmap_options, expected mmap.MAP_PRIVATE or "
                             f"mmap.MAP_SHARED, but got {flags}")
        self.prev = _MMAP_FLAGS[0]
        _MMAP_FLAGS[0] = flags

    def __enter__(self):
        pass

    def __exit__(self, *exc):
        _MMAP_FLAGS[0] = self.prev


def _clear_data_crcs(fh, mapped):
    """Zero the CRC-32s of a checkpoint's storage records in its (shared) mapping: writes into the tensors reach
    the file and would break them, and a CRC of 0 is one no reader checks (torch.save writes it under
    compute_crc32=False). torch's own reader checks none."""
    try:
        zf = zipfile.ZipFile(fh)
    except (zipfile.BadZipFile, OSError, ValueError, struct.error):
        return   # (not a zip checkpoint: load says what it is)
    with zf:
        pos, end = zf.start_dir, zf.start_dir + sum(46 + len(i.orig_filename.encode()) + len(i.extra) +
                                                   len(i.comment) for i in zf.infolist())
        while pos + 46 <= min(end, mapped.size) and mapped[pos:pos + 4].tobytes() == b"PK\x01\x02":
            name_len, extra_len, comment_len = struct.unpack("<HHH", mapped[pos + 28:pos + 34].tobytes())
            name = mapped[pos + 46:pos + 46 + name_len].tobytes().decode("utf-8", "replace")
            local = struct.unpack("<I", mapped[pos + 42:pos + 46].tobytes())[0]
            if "/data/" in name and local != 0xFFFFFFFF:   # (a zip64 offset lives in the extra field: left as is)
                mapped[pos + 16:pos + 20] = 0
                if mapped[local:local + 4].tobytes() == b"PK\x03\x04":
                    mapped[local + 14:local + 18] = 0
            pos += 46 + name_len + extra_len + comment_len
    fh.seek(0)


def _mapped_record(zf, name, fname, mapped):
    """A stored record as a view of the file's mapping (torch.load(mmap=True): nothing is read until used)."""
    try:
        info = zf.getinfo(name)
        if info.compress_type != zipfile.ZIP_STORED:
            raise zipfile.BadZipFile(f"record {name} is compressed, so it cannot be mapped")
        zf.fp.seek(info.header_offset)
        header = zf.fp.read(30)
        if len(header) != 30 or header[:4] != b"PK\x03\x04":
            raise zipfile.BadZipFile(f"bad local file header for record {name}")
        name_len, extra_len = struct.unpack("<HH", header[26:30])
    except KeyError:
        raise _corrupt(fname, f"failed finding record {name!r}") from None
    except (zipfile.BadZipFile, OSError, struct.error) as e:
        raise _corrupt(fname, f"{e}") from None
    start = info.header_offset + 30 + name_len + extra_len
    if start + info.file_size > mapped.size:
        raise _corrupt(fname, f"record {name} ends past the end of the file")
    return mapped[start:start + info.file_size]


def _load_zip(fh, fname, restore, weights_only, encoding, mapped=None):
    try:
        zf = zipfile.ZipFile(fh)
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, struct.error):
        raise _corrupt(fname, "failed finding central directory") from None
    with zf:
        names = zf.namelist()
        if not names:
            raise _corrupt(fname, "the archive is empty")
        prefix = names[0].split("/", 1)[0]
        if f"{prefix}/data.pkl" not in names:
            if f"{prefix}/constants.pkl" in names:
                raise RuntimeError(
                    f"{fname} is a TorchScript archive (saved with torch.jit.save); ember.load reads "
                    "checkpoints written by torch.save")
            raise _corrupt(fname, f"no {prefix}/data.pkl record: not a PyTorch checkpoint")
        byteorder = "little"
        if f"{prefix}/byteorder" in names:
            byteorder = _read_record(zf, f"{prefix}/byteorder", fname).tobytes().decode("ascii", "replace")
            if byteorder not in ("little", "big"):
                raise ValueError(f"Unknown endianness type: {byteorder} (file: {fname})")
        loaded = {}

        def persistent_load(pid):
            if type(pid) is not tuple or len(pid) != 5:
                raise pickle.UnpicklingError(f"corrupt checkpoint: unexpected persistent id {pid!r}")
            typename = pid[0].decode("ascii") if isinstance(pid[0], bytes) else pid[0]
            if typename != "storage":
                raise pickle.UnpicklingError(f"Only persistent_load of storage is allowed, but got {typename!r}")
            stype, key, location, numel = pid[1:]
            if not isinstance(stype, _StorageType):
                raise pickle.UnpicklingError(f"corrupt checkpoint: {stype!r} is not a storage type")
            key = key.decode("ascii") if isinstance(key, bytes) else str(key)
            if key in loaded:
                return loaded[key]
            record = f"{prefix}/data/{key}"
            raw = _read_record(zf, record, fname) if mapped is None else _mapped_record(zf, record, fname, mapped)
            dtype = stype.dtype
            if type(numel) is not int or raw.nbytes != numel * dtype.itemsize:
                raise _corrupt(fname, f"storage data/{key} holds {raw.nbytes} bytes, expected "
                                      f"{numel} x {dtype.itemsize}")
            if byteorder == sys.byteorder:
                array = raw.view(dtype.np)
            else:
                array = raw.view(dtype.np.newbyteorder()).astype(dtype.np)
            location = location.decode("ascii") if isinstance(location, bytes) else str(location)
            storage = restore(TypedStorage(array, dtype), location)
            loaded[key] = storage
            return storage

        data = _read_record(zf, f"{prefix}/data.pkl", fname).tobytes()
        try:
            return _unpickler(weights_only, io.BytesIO(data), persistent_load, encoding).load()
        except EOFError:
            raise _corrupt(fname, "data.pkl ends early") from None


def _load_legacy(fh, fname, restore, weights_only, encoding):
    """The pre-1.6 format: magic number, version, sys info, the object, then raw storages."""
    loaded = {}

    def persistent_load(pid):
        if type(pid) is not tuple or not pid:
            raise pickle.UnpicklingError(f"corrupt checkpoint: unexpected persistent id {pid!r}")
        typename = pid[0].decode("ascii") if isinstance(pid[0], bytes) else pid[0]
        if typename == "module" and not weights_only:
            return pid[1]
        if typename != "storage" or len(pid) != 6:
            raise pickle.UnpicklingError(f"Only persistent_load of storage is allowed, but got {typename!r}")
        stype, root_key, location, numel, view_metadata = pid[1:]
        if not isinstance(stype, _StorageType) or type(numel) is not int or numel < 0:
            raise pickle.UnpicklingError(f"corrupt checkpoint: bad storage id {pid!r}")
        location = location.decode("ascii") if isinstance(location, bytes) else str(location)
        if root_key not in loaded:
            storage = restore(TypedStorage(np.zeros(numel, stype.dtype.np), stype.dtype), location)
            if storage.device.type != "cpu":
                raise NotImplementedError(
                    f"{_ns()}.load: legacy (pre-1.6) checkpoints load to the CPU only; pass "
                    "map_location='cpu' and move the tensors afterwards")
            loaded[root_key] = storage
        storage = loaded[root_key]
        if view_metadata is not None:
            view_key, offset, view_size = view_metadata
            if view_key not in loaded:
                loaded[view_key] = TypedStorage(storage._array[offset:offset + view_size], storage.dtype)
            return loaded[view_key]
        return storage

    def small_load(first=False):
        try:
            return _unpickler(weights_only, fh, persistent_load, encoding).load()
        except pickle.UnpicklingError as e:
            if not first:
                raise
            # the magic number's pickle is where bytes that are no checkpoint fail: say so
            raise pickle.UnpicklingError(
                f"{_ns()}.load: {fname} is not a PyTorch checkpoint (neither the zip format nor the legacy "
                f"format); it may be corrupted, or a different kind of file ({e})") from None
        except EOFError:
            # EOFError, as torch's unpicklers raise for a file that ends between or inside its pickles
            raise EOFError(f"{_ns()}.load: {fname} ends early: it is a truncated legacy (pre-1.6) checkpoint "
                           "or not a checkpoint at all; save or download it again") from None
        except (KeyError, ValueError, IndexError, TypeError, AttributeError, struct.error) as e:
            if not weights_only:
                raise  # a trusted load runs the file's own code: its errors are its own
            # pickle's pure-Python unpickler reports bytes that are not a pickle so (an unknown opcode is a
            # KeyError); torch's weights-only unpickler raises UnpicklingError for them
            raise pickle.UnpicklingError(
                f"{_ns()}.load: {fname} is not a PyTorch checkpoint, or is a corrupted legacy (pre-1.6) one: "
                f"reading its pickle failed ({type(e).__name__}: {e})") from None

    if small_load(first=True) != _MAGIC_NUMBER:
        raise RuntimeError(f"Invalid magic number; corrupt file? (file: {fname})")
    version = small_load()
    if version != _LEGACY_PROTOCOL_VERSION:
        raise RuntimeError(f"Invalid protocol version: {version} (file: {fname})")
    small_load()  # sys info
    result = small_load()
    keys = small_load()
    try:
        for key in keys:
            storage = loaded[key]
            (count,) = struct.unpack("<q", _read_exact(fh, 8))
            array = storage._array
            if count != array.size:
                raise RuntimeError(f"storage {key} holds {count} elements, expected {array.size}")
            _readinto_exact(fh, memoryview(array.reshape(-1).view(np.uint8)))
    except (EOFError, struct.error, KeyError) as e:
        raise RuntimeError(
            f"{_ns()}.load: failed reading legacy checkpoint {fname}: {e or 'it ends early'}. The file "
            "is truncated or corrupted; save or download it again.") from None
    return result


def _read_exact(fh, n):
    data = fh.read(n)
    if len(data) != n:
        raise EOFError("it ends early")
    return data


def _readinto_exact(fh, mv):
    got = 0
    while got < mv.nbytes:
        chunk = fh.read(min(mv.nbytes - got, 1 << 24))
        if not chunk:
            raise EOFError("it ends early")
        mv[got:got + len(chunk)] = chunk
        got += len(chunk)


_LEGACY_HEAD = pickle.dumps(_MAGIC_NUMBER, protocol=2)


def load(f, map_location=None, pickle_module=None, *, weights_only=None, mmap=None, **pickle_load_args):
    """Load an object saved with torch.save / ember.save (torch.load); weights_only by default."""
    if weights_only is None:
        # as torch: an explicit pickle_module means a full (trusted) load
        weights_only = pickle_module is None
    if weights_only and pickle_module is not None:
        raise RuntimeError("Can not safely load weights when explicit pickle_module is specified")
    _check_pickle_module(pickle_module, "load")
    if pickle_load_args and weights_only:
        import warnings
        warnings.warn("pickle_load_args only works if `weights_only=False`.", stacklevel=2)
    encoding = pickle_load_args.pop("encoding", "utf-8")
    if pickle_load_args:
        raise TypeError(f"{_ns()}.load() got unexpected keyword arguments {sorted(pickle_load_args)}")
    restore = _restore_fn(map_location)
    if mmap:
        if not isinstance(f, (str, bytes, os.PathLike)):
            raise ValueError("f must be a file path in order to use the mmap argument")
        fname = os.fsdecode(f)
        shared = _MMAP_FLAGS[0] == getattr(_mmap, "MAP_SHARED", None)
        with open(fname, "r+b" if shared else "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            mapping = _mmap.mmap(fh.fileno(), 0, access=_mmap.ACCESS_WRITE if shared else _mmap.ACCESS_COPY) \
                if size else None
            # (an array over the whole file: each storage is a view of it, which keeps the mapping alive)
            mapped = np.frombuffer(mapping, np.uint8) if mapping is not None else np.empty(0, np.uint8)
            if shared and size:
                _clear_data_crcs(fh, mapped)
            return _load_from(fh, repr(fname), restore, weights_only, encoding, mapped)
    if isinstance(f, (str, bytes, os.PathLike)):
        fname = os.fsdecode(f)
        with open(fname, "rb") as fh:
            return _load_from(fh, repr(fname), restore, weights_only, encoding)
    if not callable(getattr(f, "read", None)):
        raise AttributeError(
            f"{_ns()}.load: f must be a path or a binary file object with read() and seek(), got "
            f"{type(f).__name__}")
    name = getattr(f, "name", None)
    return _load_from(f, repr(name) if isinstance(name, str) else f"<{type(f).__name__}>", restore,
                      weights_only, encoding)


def _load_from(fh, fname, restore, weights_only, encoding, mapped=None):
    try:
        start = fh.tell()
        seekable = fh.seekable() if callable(getattr(fh, "seekable", None)) else True
    except (OSError, AttributeError, ValueError):
        seekable = False
    if not seekable:  # zip needs random access: read a pipe or socket into memory first
        fh, start = io.BytesIO(fh.read()), 0
    head = fh.read(len(_LEGACY_HEAD))
    fh.seek(start)
    if not head:
        # EOFError, the type torch raises (its unpickler reads nothing)
        raise EOFError(f"{_ns()}.load: {fname} is empty: the checkpoint was not written (or was "
                           "truncated to nothing); save or download it again")
    if head[:2] == b"PK" or zipfile.is_zipfile(fh):
        fh.seek(start)
        return _load_zip(fh, fname, restore, weights_only, encoding, mapped)
    fh.seek(start)
    if head == _LEGACY_HEAD or head[:1] == pickle.PROTO:  # legacy files at any pickle protocol
        if mapped is not None:
            raise RuntimeError(
                f"mmap can only be used with files saved with `torch.save(obj, f, _use_new_zipfile_serialization=True)"
                f"`, please torch.save your checkpoint with this option in order to use mmap ({fname} is in the "
                "legacy format; load it without mmap=True, or save it again).")
        return _load_legacy(fh, fname, restore, weights_only, encoding)
    # UnpicklingError, as torch: it unpickles whatever is not a zip archive, and fails on the first byte
    raise pickle.UnpicklingError(
        f"{_ns()}.load: {fname} is not a PyTorch checkpoint (neither the zip format nor the legacy "
        "format); it may be corrupted, or a different kind of file")
