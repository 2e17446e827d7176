"""Moving tensors between dtypes and devices, and copying them."""
import numpy as np

from .. import _backend as B
from .. import _memory_format as _mf
from ..autograd.grad_mode import state
from ..autograd.graph import Node, edge
from .._tensor import Tensor, _wrap, refused_write

__all__ = ["clone"]


class ToCopyBackward0(Node):
    __slots__ = ("src_dtype", "src_device")
    _double_backward = True   # through _apply_tensors (create_graph=True)

    def apply(self, g):
        if g.dtype != self.src_dtype:
            # a real source of a complex result takes the real part of the gradient, as torch
            g = (g.real if g.dtype.kind == "c" and self.src_dtype.kind != "c" else g).astype(self.src_dtype)
        if self.src_device is not None:
            g = _move(g, self.src_device)
        return (g,)

    def _apply_tensors(self, grad, saved):
        """The same cast (and move) back on Tensors, recorded."""
        if grad._data.dtype != self.src_dtype:
            if grad._data.dtype.kind == "c" and self.src_dtype.kind != "c":
                grad = grad.real   # (as apply: the real part, without the lossy-cast warning)
            grad = grad.to(B.as_dtype(self.src_dtype))
        return (grad if self.src_device is None else grad.to(self.src_device),)


class CopyBackwards(Node):
    """Gradient of ``dst.copy_(src)``: none for dst's old values, the (summed, cast, moved) rest for src."""
    __slots__ = ("src_shape", "src_dtype", "src_device")
    _double_backward = True   # through _apply_tensors (create_graph=True)

    def apply(self, g):
        from . import unbroadcast
        gs = unbroadcast(g, self.src_shape)
        if gs.dtype != self.src_dtype:
            gs = (gs.real if gs.dtype.kind == "c" and self.src_dtype.kind != "c" else gs).astype(self.src_dtype)
        if self.src_device is not None:
            gs = _move(gs, self.src_device)
        return B.xp_of(g).zeros_like(g), gs

    def _apply_tensors(self, grad, saved):
        """The same on Tensors, recorded."""
        from .. import zeros_like
        gs = grad.sum_to_size(self.src_shape) if tuple(grad.shape) != self.src_shape else grad
        if gs._data.dtype != self.src_dtype:
            gs = (gs.real if gs._data.dtype.kind == "c" and self.src_dtype.kind != "c" else gs).to(
                B.as_dtype(self.src_dtype))
        return zeros_like(grad), gs if self.src_device is None else gs.to(self.src_device)


def _copy_with_grad(old, src):
    """copy_'s recorded form: src's values (moved, cast, broadcast) as a node of (old, src)."""
    s = src._data if isinstance(src, Tensor) else B.host_array(src)
    if type(s) is not type(old._data):
        s = _move(s, old.device)
    if old._data.dtype.kind != "c" and s.dtype.kind == "c":
        _complex_to_real_warning()
        s = s.real
    try:
        value = B.xp_of(old._data).broadcast_to(s, old._data.shape)
    except ValueError:
        raise RuntimeError(f"copy_: the size of src {list(s.shape)} can't be broadcast to the destination "
                           f"size {list(old._data.shape)}") from None
    out = _wrap(value)
    node = CopyBackwards.__new__(CopyBackwards)
    node.next_functions = (edge(old), edge(src) if isinstance(src, Tensor) else (None, 0))
    node._saved_versions = ()
    node.src_shape = tuple(s.shape)
    node.src_dtype = src._data.dtype if isinstance(src, Tensor) else s.dtype
    node.src_device = src.device if isinstance(src, Tensor) and src.device != old.device else None
    out._requires_grad = True
    out.grad_fn = node
    return out


class CloneBackward0(Node):
    __slots__ = ()
    # its formula also runs on Tensors (create_graph=True: autograd/higher_order.py)
    _double_backward = True

    def apply(self, g):
        return (g,)


def _move(array, dev):
    """array on device dev (itself when already there): the one place data crosses devices."""
    src = B.device_of(array)
    if src.type == "meta" or dev.type == "meta":
        return _meta_move(array, src, dev)
    if dev.type == "cpu":
        if type(array) is np.ndarray:
            return array
        get = getattr(array, "get", None)  # a GPU array: copy to host memory
        return get() if get is not None else np.asarray(array)
    if array.dtype.kind == "V" or array.itemsize == 1 and array.dtype.kind == "f":   # (ml_dtypes' float8_e5m2)
        refuse_bfloat16_on(dev, array.dtype.name)
    xp = B.array_module(dev)
    idx = dev.index if dev.index is not None else xp.cuda.runtime.getDevice()
    if src.type == "cuda" and src.index == idx:
        return array
    with xp.cuda.Device(idx):
        if src.type == "cpu":
            return xp.asarray(array)  # host -> device
        return array.copy()  # another GPU: CuPy copies onto the current device


def _meta_move(array, src, dev):
    """A move onto the meta device keeps the shape, dtype and layout; nothing moves off it (no data)."""
    if src.type != "meta":
        from .._meta import zeros_like_host
        return zeros_like_host(array)
    if dev.type == "meta":
        return array
    raise NotImplementedError(
        f"Cannot copy out of meta tensor; no data! Please use torch.nn.Module.to_empty() instead of "
        f"torch.nn.Module.to() when moving module from meta to a different device. (A meta tensor has a shape and "
        f"dtype but no values to copy to '{dev}': make a new tensor there, e.g. torch.empty_like(x, device='{dev}'), "
        f"or move a module with module.to_empty(device='{dev}') and then load its weights.)")


def refuse_bfloat16_on(dev, name="bfloat16"):
    """ember's error for a bfloat16 (or float8: name) tensor on a GPU: its arrays are ml_dtypes' NumPy type,
    which CuPy lacks."""
    raise RuntimeError(f"ember holds {name} tensors on the CPU only (CuPy has no {name}), so none can go to "
                       f"'{dev}'; convert it first, e.g. x.float().to('{dev}') or x.half().to('{dev}')")


# torch's three signatures of Tensor.to / Module.to: (name, kind) of each positional parameter
_TO_SIGNATURES = (
    (("device", "device"), ("dtype", "dtype"), ("non_blocking", "bool"), ("copy", "bool")),
    (("dtype", "dtype"), ("non_blocking", "bool"), ("copy", "bool")),
    (("tensor", "tensor"), ("non_blocking", "bool"), ("copy", "bool")),
)
_TO_EXPECTED = (
    "but expected one of:\n"
    " * (torch.device device = None, torch.dtype dtype = None, bool non_blocking = False, bool copy = False, *, "
    "torch.memory_format memory_format = None)\n"
    " * (torch.dtype dtype, bool non_blocking = False, bool copy = False, *, torch.memory_format memory_format = "
    "None)\n"
    " * (Tensor tensor, bool non_blocking = False, bool copy = False, *, torch.memory_format memory_format = None)\n")


def _to_kind_ok(kind, v):
    if kind == "device":
        return v is None or isinstance(v, (B.device, str)) or (isinstance(v, int) and not isinstance(v, bool))
    if kind == "dtype":
        return v is None or isinstance(v, B.dtype) or v in (float, int, bool, complex)
    if kind == "tensor":
        return isinstance(v, Tensor)
    if kind == "memory_format":
        return v is None or isinstance(v, _mf.memory_format)
    return isinstance(v, bool)


def _to_type_name(v):
    """The type name torch's argument parser prints for a value."""
    for cls, name in ((Tensor, "Tensor"), (B.dtype, "torch.dtype"), (B.device, "torch.device"),
                      (_mf.memory_format, "torch.memory_format")):
        if isinstance(v, cls):
            return name
    return type(v).__name__


def parse_to(args, kwargs):
    """torch's argument parsing for Tensor.to and Module.to: (device, dtype, non_blocking, copy,
    memory_format), or torch's TypeError listing the three signatures."""
    for params in _TO_SIGNATURES:
        if len(args) > len(params):
            continue
        bound = {name: v for (name, _), v in zip(params, args)}
        kinds = dict(params, memory_format="memory_format")
        if all(k in kinds and k not in bound for k in kwargs):
            bound.update(kwargs)
            if all(_to_kind_ok(kinds[k], v) for k, v in bound.items()):
                break
    else:
        got = [_to_type_name(v) for v in args]
        named = [f"{k}={_to_type_name(v)}" for k, v in reversed(kwargs.items())]
        text = ", ".join(got) + "".join(", " + n for n in named) if got else "".join(n + ", " for n in named)
        raise TypeError(f"to() received an invalid combination of arguments - got ({text}), {_TO_EXPECTED}")
    tensor = bound.get("tensor")
    dtype = tensor.dtype if tensor is not None else bound.get("dtype")
    device = tensor.device if tensor is not None else bound.get("device")
    return ((None if device is None else B.as_device(device)), (None if dtype is None else B.as_dtype(dtype)),
            bound.get("non_blocking", False), bound.get("copy", False), bound.get("memory_format"))


def to(self, *args, **kwargs):
    """Convert to another dtype and/or device; returns self when nothing changes."""
    if not kwargs and len(args) == 1 and args[0].__class__ is B.dtype:
        dtype, device, copy, memory_format = args[0], None, False, None
    else:
        device, dtype, _, copy, memory_format = parse_to(args, kwargs)
    src = self._data
    data = src
    if device is not None and device.type == "cuda":
        from .. import cuda
        cuda._check_usable(device)
        if device.index is None:  # 'cuda' means the current GPU
            device = B.device("cuda", cuda.current_device())
    if device is not None and device != self.device:
        data = _move(data, device)
        if data is src:   # 'cpu:0' against 'cpu': torch sees two devices and copies
            data = src.copy(order="K")
    if dtype is not None and data.dtype != dtype.np:
        if data.dtype.kind == "c" and dtype.np.kind != "c":
            _complex_to_real_warning()
            data = data.real
        # order='K': the layout is preserved, as torch's preserve_format
        data = B.cast(data, dtype)
    if memory_format is not None and memory_format is not _mf.preserve_format:
        data = _mf.in_layout(data, _mf.order_for(data, memory_format, "to"))
    if data is src:
        if not copy:
            return self
        data = src.copy() if src.flags.c_contiguous else _mf.relayout(src, _mf.order_for(src, None))
    node = None
    # integer and bool results carry no gradient in torch: a rounded value is a constant ('V': bfloat16)
    if state.enabled and self._requires_grad and data.dtype.kind in "fcV":
        node = ToCopyBackward0.__new__(ToCopyBackward0)
        node.next_functions = (edge(self),)
        node._saved_versions = ()
        node.src_dtype = src.dtype
        node.src_device = self.device if device is not None and device != self.device else None
    out = _wrap(data)
    if node is not None:
        out._requires_grad = True
        out.grad_fn = node
    return out


def _complex_to_real_warning():
    from .._userwarn import warn
    warn("Casting complex values to real discards the imaginary part")


def clone(input, *, memory_format=None):
    """A copy with its own memory, differentiable; laid out as input (or as memory_format says)."""
    a = input._data
    if memory_format is None and a.flags.c_contiguous:
        data = a.copy()
    else:
        data = _mf.relayout(a, _mf.order_for(a, memory_format, "clone"))
    out = _wrap(data)
    if state.enabled and input._requires_grad:
        node = CloneBackward0.__new__(CloneBackward0)
        node.next_functions = (edge(input),)
        node._saved_versions = ()
        out._requires_grad = True
        out.grad_fn = node
    return out


def _register():
    T = Tensor
    T.to = to
    T.clone = clone

    def caster(dt):
        def method(self, memory_format=None):
            if memory_format is not None:
                return to(self, dt, memory_format=memory_format)
            return to(self, dt)
        method.__name__ = dt.name
        method.__doc__ = f"Convert to {dt.name}."
        return method

    T.float = caster(B.float32)
    T.double = caster(B.float64)
    T.half = caster(B.float16)
    T.bfloat16 = caster(B.bfloat16)
    T.long = caster(B.int64)
    T.int = caster(B.int32)
    T.short = caster(B.int16)
    T.char = caster(B.int8)
    T.byte = caster(B.uint8)
    T.bool = caster(B.bool_)
    T.cfloat = caster(B.complex64)
    T.cdouble = caster(B.complex128)

    def cpu(self, memory_format=None):
        """A copy on the CPU (self if already there)."""
        return to(self, "cpu")

    def cuda(self, device=None, non_blocking=False, memory_format=None):
        """A copy on a CUDA device."""
        if device is None:
            device = "cuda"
        elif isinstance(device, int):
            device = f"cuda:{device}"
        return to(self, device)

    def type_as(self, other):
        """Convert to other's dtype."""
        return to(self, other.dtype)

    def copy_(self, other, non_blocking=False):
        """Copy other's values (broadcast, cast) into this tensor's memory."""
        src = other
        from .elementwise import _check_inference, _inplace
        _check_inference(self)
        d = self._data
        s = src._data if isinstance(src, Tensor) else src if isinstance(src, (int, float, bool)) \
            else B.host_array(src)
        if state.enabled and (self._requires_grad or (isinstance(src, Tensor) and src._requires_grad)):
            # one node whose first input is the old value, as an in-place op on a view needs
            return _inplace(self, None, _copy_with_grad, (src,))
        if type(s) is not type(d) and not isinstance(s, (int, float, bool)):
            s = _move(s, self.device)
        if d.dtype.kind != "c" and getattr(s, "dtype", None) is not None and s.dtype.kind == "c":
            _complex_to_real_warning()
            s = s.real
        if d.dtype.kind == "V" or d.dtype in B.LIMITED:   # converted as torch converts (bfloat16: through float32)
            dt = B.dtype_of(d)
            s = B.cast_number(s, dt) if type(s) in (int, float, bool) else s if s.dtype == d.dtype else B.cast(s, dt)
        try:
            B.xp_of(d).copyto(d, s, casting="unsafe")
        except ValueError:
            if not d.flags.writeable:
                raise refused_write(d, "copy_") from None
            raise RuntimeError(
                f"copy_: the size of src {list(getattr(s, 'shape', ()))} can't be broadcast to the destination "
                f"size {list(d.shape)}") from None
        self._vc[0] += 1
        return self

    def pin_memory(self, device=None):
        """Accepted for torch compatibility: CuPy copies from ordinary host memory (returns self)."""
        if self.device.type != "cpu":
            raise RuntimeError(f"cannot pin '{self.type()}' only dense CPU tensors can be pinned")
        return self

    def is_pinned(self, device=None):
        """False: ember never page-locks host memory."""
        return False

    def to_sparse(self, sparse_dim=None, *, layout=None, blocksize=None, dense_dim=None):
        """This tensor as a sparse COO tensor of its nonzero elements (ops/sparse.py, imported on first use)."""
        from .sparse import to_sparse as convert
        return convert(self, sparse_dim, layout=layout, blocksize=blocksize, dense_dim=dense_dim)

    def to_sparse_coo(self):
        """to_sparse(): this tensor as a sparse COO tensor."""
        from .sparse import to_sparse as convert
        return convert(self)

    def sparse_mask(self, mask):
        """This tensor's elements at the coordinates the sparse tensor mask stores, as a sparse tensor."""
        from .sparse import sparse_mask as masked
        return masked(self, mask)

    def to_sparse_csr(self, dense_dim=None):
        """This matrix as a sparse CSR tensor of its nonzero elements (ops/sparse_compressed.py)."""
        from .sparse_compressed import dense_to
        return dense_to(self, True, "csr")

    def to_sparse_csc(self, dense_dim=None):
        """This matrix as a sparse CSC tensor of its nonzero elements (ops/sparse_compressed.py)."""
        from .sparse_compressed import dense_to
        return dense_to(self, False, "csc")

    T.to_sparse = to_sparse
    T.to_sparse_csr = to_sparse_csr
    T.to_sparse_csc = to_sparse_csc
    T.to_sparse_coo = to_sparse_coo
    T.sparse_mask = sparse_mask
    T.pin_memory = pin_memory
    T.is_pinned = is_pinned
    T.cpu = cpu
    T.cuda = cuda
    T.type_as = type_as
    T.copy_ = copy_


_register()
