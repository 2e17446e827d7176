"""Differentiable ops, one module per family.

Each module defines its functions and backward nodes side by side and
attaches the matching Tensor methods.  ``record`` is the one place where an
op's result is linked into the autograd graph.
"""
import numpy as np

from .. import _backend as B
from ..autograd.grad_mode import state
from ..autograd.graph import UNCHECKED, Node, edge
from .._tensor import Tensor, _wrap

_new = object.__new__
_ndarray, _generic = np.ndarray, np.generic

__all__ = ["Node", "Tensor", "record", "needs_grad", "new_node", "save_versions", "save_output_version",
           "unbroadcast", "refuse_complex", "real_grads_for_real_inputs", "in_float32", "bf16_vector_part",
           "AUTOCAST", "LOWER", "FP32"]

_R2C = {}


def real_grads_for_real_inputs(node, inputs):
    """A complex result computed from some real tensors (promoted): their gradients are the real parts
    of what node's formula gives, as torch's handle_r_to_c.  Call only for complex results; node's
    class becomes a same-named subclass that projects those gradients."""
    mask = tuple(isinstance(t, Tensor) and t._data.dtype.kind != "c" for t in inputs)
    if not any(mask):
        return node
    key = (type(node), mask)
    cls = _R2C.get(key)
    if cls is None:
        base = type(node)

        def apply(self, grad):
            grads = list(base.apply(self, grad))
            for i, real in enumerate(mask):
                g = grads[i] if i < len(grads) else None
                if real and g is not None and g.dtype.kind == "c":
                    grads[i] = g.real
            return tuple(grads)
        cls = _R2C[key] = type(base.__name__, (base,), {"__slots__": (), "apply": apply})
        cls.__qualname__ = base.__qualname__
    node.__class__ = cls
    return node


# torch.autocast: while a region may be active in some thread, amp.autocast_mode puts its cast here (None
# otherwise); the ops on torch's CPU autocast lists pass it their arguments: cast(LOWER or FP32, *args)
AUTOCAST = [None]
LOWER, FP32 = "lower_precision_fp", "fp32"   # torch's two cast policies

_IN_F32 = {}
_F32 = np.dtype(np.float32)


def in_float32(node):
    """node (of an op on bfloat16 inputs) with its backward run in float32 and rounded once to bfloat16, as
    torch's CPU kernels do (softmax_backward, tanh_backward, ...): the gradient and the saved arrays (its
    _saved_fields) of bfloat16 go in as float32, the float32 gradients come out as bfloat16.  node's class
    becomes a same-named subclass, so the float32 path pays nothing."""
    base = type(node)
    cls = _IN_F32.get(base)
    if cls is None:
        fields = base._saved_fields

        def apply(self, grad):
            saved = [getattr(self, f) for f in fields]
            try:
                for f, v in zip(fields, saved):
                    if v is not None and getattr(v, "dtype", None) is not None and v.dtype.kind == "V":
                        setattr(self, f, v.astype(_F32))
                grads = base.apply(self, grad.astype(_F32) if grad.dtype.kind == "V" else grad)
            finally:
                for f, v in zip(fields, saved):
                    setattr(self, f, v)
            return tuple(B.bf16_round(g) if g is not None and g.dtype == _F32 else g for g in grads)
        cls = _IN_F32[base] = type(base.__name__, (base,), {"__slots__": (), "apply": apply})
        cls.__qualname__ = base.__qualname__
        cls.__module__ = base.__module__
    node.__class__ = cls
    return node


def bf16_vector_part(shape):
    """Which elements of a contiguous result of this shape torch's bfloat16 elementwise kernels compute in
    their vector loop (two vectors of 32 a step), not in the scalar loop that takes each chunk's last
    elements: the two round differently in some kernels.  Past torch's grain of 32,768 elements each
    thread's chunk has its own tail."""
    from .. import _threads
    n = int(np.prod(shape))
    nt = _threads.get_num_threads() if n > 32768 else 1
    chunk = -(-n // max(nt, 1)) if n else 1
    pos = np.arange(n) % chunk
    size = np.minimum(chunk, n - (np.arange(n) // chunk) * chunk)
    return (pos < size - size % 64).reshape(shape)


def kernel_for(dtype, kernel, kinds="fc"):
    """torch's NotImplementedError when its kernel has no version for the NumPy dtype (of a kind outside
    kinds: f float, c complex, i/u integers, b bool; bfloat16, kind 'V', goes with the floats)."""
    if dtype in B.LIMITED:   # (uint16, float8 ...: torch's kernels take a few of them)
        from . import barebones
        barebones.check_kernel(kernel, dtype)
    if dtype.kind not in kinds and not (dtype.kind == "V" and "f" in kinds):
        raise NotImplementedError(f"\"{kernel}\" not implemented for '{B.SCALAR_NAMES[B.FROM_NUMPY[dtype]]}'")


def refuse_complex(array, message, exc=NotImplementedError):
    """Raise torch's error for an op that has no complex kernel (message may name the dtype as {}),
    instead of NumPy's lexicographic answer."""
    if array.dtype.kind == "c":
        from .. import _backend as B
        raise exc(message.format(B.SCALAR_NAMES[B.dtype_of(array)])
                  + " (complex numbers have no order: compare .abs() or .real instead)")


def needs_grad(*tensors):
    """True when the op must record a node for these inputs."""
    if not state.enabled:
        return False
    for t in tensors:
        if type(t) is not int and type(t) is not float and isinstance(t, Tensor) and t._requires_grad:
            return True
    return False


def new_node(cls, inputs):
    """An instance of node class cls wired to the inputs' edges (non-tensors get (None, 0))."""
    node = cls.__new__(cls)
    node.next_functions = tuple(edge(t) if isinstance(t, Tensor) else (None, 0) for t in inputs)
    node._saved_versions = ()
    return node


def save_versions(node, *tensors):
    """Remember the versions of tensors whose data the node keeps for backward."""
    node._saved_versions = tuple((t, t._vc[0]) for t in tensors)


def product_versions(*tensors):
    """_saved_versions of a product's operands (mul, mm, linear, einsum...): each is read only for the
    other operands' gradients, so one whose partners need none may change in place before backward,
    as in torch (which saves it only then): lin(x) with a constant x, then lin.weight.add_ under
    no_grad, then backward."""
    if len(tensors) == 2:
        a, b = tensors
        return ((a, a._vc[0] if b._requires_grad else UNCHECKED), (b, b._vc[0] if a._requires_grad else UNCHECKED))
    flags = [t._requires_grad for t in tensors]
    n = sum(flags)
    return tuple((t, t._vc[0] if n - f else UNCHECKED) for t, f in zip(tensors, flags))


class _SavedOutput:
    """Stands for an op's output in _saved_versions: shares its version counter without keeping
    the tensor alive (output -> grad_fn -> node -> output would be a reference cycle)."""

    __slots__ = ("_vc", "_data")

    def __init__(self, t):
        self._vc = t._vc
        self._data = t._data

    @property
    def shape(self):
        return self._data.shape

    def type(self):
        return _wrap(self._data).type()


def save_output_version(node, out):
    """Make node's backward refuse to run if out (whose data it saved) is later modified in place."""
    saved = _new(_SavedOutput)   # (__init__ inlined: a call less on every op that saves its output)
    saved._vc = vc = out._vc
    saved._data = out._data
    node._saved_versions = ((saved, vc[0]),)


def record(array, node):
    """Wrap an op's output array; link it to node when node is not None."""
    if array.__class__ is not _ndarray and isinstance(array, _generic):
        array = B.host_array(array)   # (NumPy gives a 0-d array's elementwise results as scalars)
    t = _wrap(array)
    if node is not None:
        t._requires_grad = True
        t.grad_fn = node
    return t


def unbroadcast(grad, shape):
    """Sum grad down to shape, undoing broadcasting."""
    if grad.shape == shape:
        return grad
    if grad.dtype.kind == "V" and grad.__class__ is _ndarray:   # bfloat16: summed in float32, rounded once
        return B.bf16_round(unbroadcast(grad.astype(_F32), shape))
    extra = grad.ndim - len(shape)
    if extra:
        grad = grad.sum(axis=tuple(range(extra)))
    axes = tuple(i for i, s in enumerate(shape) if s == 1 and grad.shape[i] != 1)
    if axes:
        grad = grad.sum(axis=axes, keepdims=True)
    return grad


def __getattr__(name):
    # torch.ops.profiler, imported on first use
    if name == "profiler":
        import importlib
        return importlib.import_module(f"{__name__}.profiler")
    raise AttributeError(f"module '{__name__}' has no attribute '{name}'")
