"""Complex numbers: building (complex, polar, view_as_complex), taking apart (real, imag, view_as_real,
angle, abs via elementwise), conjugation and sgn, with their gradients.

Gradients follow torch's convention for complex autograd: a tensor z's gradient is the conjugate
Wirtinger derivative of the (real) loss, so for a holomorphic f the chain rule is
grad_in = grad_out * conj(f'(z)), and ``(z.abs() ** 2).sum()`` gives ``2 * z``.

ember keeps no lazy conjugate bit: ``conj()`` computes the conjugate (a copy, as conj_physical),
so ``is_conj()`` is always False and ``resolve_conj()`` returns its input.
"""
import numpy as np

from .. import _backend as B
from ..autograd.grad_mode import state
from ..autograd.graph import Node, edge
from .._tensor import Tensor
from . import record, unbroadcast
from .shape import _as_view

__all__ = ["complex", "polar", "view_as_real", "view_as_complex", "real", "imag", "conj", "conj_physical",
           "resolve_conj", "resolve_neg", "is_conj", "is_neg", "angle"]

xp_of = B.xp_of
_new = object.__new__
_COMPLEX_OF = {np.dtype(np.float32): np.complex64, np.dtype(np.float64): np.complex128}


def _complex_error(op, *tensors):
    names = " and ".join(str(t.dtype) for t in tensors)
    return RuntimeError(f"{op}: expected float or double tensors, got {names} (convert with .float() or .double())")


def _complex_array(re, im):
    """re + 1j * im as a complex array of the matching precision (no rounding through the default dtype)."""
    xp = xp_of(re)
    out = xp.empty(np.broadcast_shapes(re.shape, im.shape), dtype=_COMPLEX_OF[re.dtype])
    out.real = re
    out.imag = im
    return out


def _node(cls, *inputs):
    node = _new(cls)
    node.next_functions = tuple(edge(t) for t in inputs)
    node._saved_versions = ()
    return node


def _wants_grad(*tensors):
    return state.enabled and any(t._requires_grad for t in tensors)


# ---- complex(real, imag), polar(abs, angle) ------------------------------------------------------
class ComplexBackward0(Node):
    __slots__ = ("re_shape", "im_shape")
    _double_backward = True   # its formula also runs on Tensors

    def apply(self, g):
        return unbroadcast(g.real, self.re_shape), unbroadcast(g.imag, self.im_shape)


def complex(real, imag, *, out=None):
    """A complex tensor real + 1j * imag (both float32 or both float64)."""
    if not isinstance(real, Tensor) or not isinstance(imag, Tensor):
        bad = imag if isinstance(real, Tensor) else real
        raise TypeError(f"complex(): argument '{'imag' if isinstance(real, Tensor) else 'real'}' must be Tensor, "
                        f"not {type(bad).__name__}")
    re, im = real._data, imag._data
    if re.dtype not in _COMPLEX_OF or im.dtype not in _COMPLEX_OF:
        raise RuntimeError(f"Expected both inputs to be Half, Float or Double tensors but got "
                           f"{B.SCALAR_NAMES[real.dtype]} and {B.SCALAR_NAMES[imag.dtype]} (convert with .float())")
    if re.dtype != im.dtype:
        raise RuntimeError(f"Expected object of scalar type {B.SCALAR_NAMES[real.dtype]} but got scalar type "
                           f"{B.SCALAR_NAMES[imag.dtype]} for second argument (complex(): give real and imag "
                           "one dtype)")
    B.check_same_device("complex", re, im)
    try:
        res = _complex_array(re, im)
    except ValueError:
        raise RuntimeError(f"complex(): the shapes of real {list(re.shape)} and imag {list(im.shape)} don't "
                           "broadcast") from None
    if out is not None:
        out._data[...] = res
        out._vc[0] += 1
        return out
    node = None
    if _wants_grad(real, imag):
        node = _node(ComplexBackward0, real, imag)
        node.re_shape, node.im_shape = re.shape, im.shape
    return record(res, node)


class PolarBackward0(Node):
    __slots__ = ("r", "theta", "out")
    _double_backward = True   # through _apply_tensors (create_graph=True)

    def _apply_tensors(self, g, saved):
        """The same formula on Tensors (the saved abs and angle), for create_graph=True."""
        r, theta = saved
        unit = complex(theta.cos(), theta.sin())
        gr = (g * unit.conj()).real
        gt = (g * (r * unit * 1j).conj()).real
        return (unbroadcast(gr, r.shape) if self.next_functions[0][0] is not None else None,
                unbroadcast(gt, theta.shape) if self.next_functions[1][0] is not None else None)

    def apply(self, g):
        r, out = self.r, self.out
        # out = r e^{i theta}: d/dr = e^{i theta}, d/dtheta = i out; a real input takes Re(g * conj(d))
        xp = xp_of(g)
        with B.errstate(xp, divide="ignore", invalid="ignore"):
            unit = xp.exp(1j * self.theta.astype(out.dtype))
        gr = (g * unit.conj()).real
        gt = (g * (1j * out).conj()).real
        return unbroadcast(gr, r.shape), unbroadcast(gt, self.theta.shape)


def polar(abs, angle, *, out=None):
    """The complex tensor with absolute value abs and phase angle: abs * (cos(angle) + 1j * sin(angle))."""
    r, t = abs._data, angle._data
    if r.dtype != t.dtype or r.dtype not in _COMPLEX_OF:
        raise _complex_error("polar", abs, angle)
    xp = xp_of(r)
    res = _complex_array(r * xp.cos(t), r * xp.sin(t))
    if out is not None:
        out._data[...] = res
        out._vc[0] += 1
        return out
    node = None
    if _wants_grad(abs, angle):
        node = _node(PolarBackward0, abs, angle)
        node.r, node.theta, node.out = r, t, res
        node._saved_versions = ((abs, abs._vc[0]), (angle, angle._vc[0]))
    return record(res, node)


# ---- views: view_as_real, view_as_complex, real, imag ----------------------------------------------
def _pairs(array):
    """A complex array seen as (..., 2) reals (a view)."""
    real_dt = np.float32 if array.dtype == np.complex64 else np.float64
    if array.ndim == 0:
        return array.reshape(1).view(real_dt)
    return array[..., None].view(real_dt)


class ViewAsRealBackward0(Node):
    __slots__ = ()
    _double_backward = True   # through _apply_tensors (create_graph=True)

    def _apply_tensors(self, g, saved):
        """The pairs as complex numbers, recorded (complex differentiates again)."""
        return (complex(g[..., 0], g[..., 1]),)

    def apply(self, g):
        return (_complex_array(g[..., 0], g[..., 1]),)


class ViewAsComplexBackward0(Node):
    __slots__ = ()
    _double_backward = True   # through _apply_tensors (create_graph=True)

    def _apply_tensors(self, g, saved):
        """The complex numbers as pairs, recorded (view_as_real differentiates again)."""
        return (view_as_real(g),)

    def apply(self, g):
        return (_pairs(g),)


def view_as_real(input):
    """A real view of a complex tensor, with a last dimension of size 2 holding (real, imag)."""
    d = input._data
    if d.dtype.kind != "c":
        raise RuntimeError(f"view_as_real is only supported for complex tensors (got {input.dtype}; "
                           "torch.complex(x, torch.zeros_like(x)) makes one)")
    node = _node(ViewAsRealBackward0, input) if _wants_grad(input) else None
    if d.ndim and d.strides[-1] % d.itemsize and d.shape[-1] > 1:
        raise RuntimeError("view_as_real: the tensor's last dimension must have a stride that is a whole number "
                           "of elements")
    return _as_view(_pairs(d), input, node)


def view_as_complex(input):
    """A complex view of a real tensor whose last dimension has size 2 and stride 1."""
    d = input._data
    if d.dtype not in _COMPLEX_OF:
        raise RuntimeError(f"view_as_complex is only supported for float and double tensors, but got a tensor of "
                           f"scalar type: {B.SCALAR_NAMES.get(input.dtype, input.dtype)}")
    if d.ndim == 0 or d.shape[-1] != 2:
        raise RuntimeError("Tensor must have a last dimension of size 2 (view_as_complex takes (real, imag) pairs "
                           f"along the last dim; got shape {list(d.shape)})")
    if d.strides[-1] != d.itemsize:
        raise RuntimeError("Tensor must have a last dimension with stride 1 (call .contiguous() first)")
    if any(s % (2 * d.itemsize) for s in d.strides[:-1]):
        raise RuntimeError("Tensor must have a stride divisible by 2 for all but last dimension (call "
                           ".contiguous() first)")
    node = _node(ViewAsComplexBackward0, input) if _wants_grad(input) else None
    return _as_view(d.view(_COMPLEX_OF[d.dtype])[..., 0], input, node)


class _PartBackward(Node):
    __slots__ = ("imag_part",)
    _double_backward = True   # its formula also runs on Tensors

    def apply(self, g):
        # a real part's gradient g is the complex g + 0j; an imaginary part's is 0 + 1j * g
        return (g * 1j if self.imag_part else g * (1 + 0j),)


_PartBackward.__name__ = _PartBackward.__qualname__ = "SelectBackward0"   # torch selects from view_as_real


def real(input):
    """The real part of a complex tensor as a real view (the tensor itself for real dtypes)."""
    d = input._data
    if d.dtype.kind != "c":
        return input
    node = None
    if _wants_grad(input):
        node = _node(_PartBackward, input)
        node.imag_part = False
    return _as_view(d.real, input, node)


def imag(input):
    """The imaginary part of a complex tensor as a real view (torch's error for real dtypes)."""
    d = input._data
    if d.dtype.kind != "c":
        raise RuntimeError("imag is not implemented for tensors with non-complex dtypes.")
    node = None
    if _wants_grad(input):
        node = _node(_PartBackward, input)
        node.imag_part = True
    return _as_view(d.imag, input, node)


def _set_part(self, value, part):
    d = self._data
    target = getattr(d, part) if d.dtype.kind == "c" or part == "real" else None
    if target is None:
        raise RuntimeError("imag is not implemented for tensors with non-complex dtypes.")
    v = value._data if isinstance(value, Tensor) else value
    if isinstance(value, Tensor) and value._requires_grad and state.enabled:
        raise RuntimeError(f"setting .{part} of a tensor from a tensor that requires grad is not supported by "
                           f"ember; use torch.complex(re, im) to build it differentiably")
    xp_of(d).copyto(target, v, casting="unsafe")
    self._vc[0] += 1


# ---- conjugation, angle ------------------------------------------------------------------------------------
class ConjBackward0(Node):
    __slots__ = ()
    _double_backward = True   # its formula also runs on Tensors

    def apply(self, g):
        return (g.conj(),)


class ConjPhysicalBackward0(ConjBackward0):
    __slots__ = ()


def _conj_op(cls):
    def op(input):
        d = input._data
        if d.dtype.kind != "c":
            return input if cls is ConjBackward0 else _conj_copy(input, d.copy(), cls)
        return _conj_copy(input, d.conj(), cls)
    return op


def _conj_copy(input, res, cls):
    node = _node(cls, input) if _wants_grad(input) else None
    return record(res, node)


_conj = _conj_op(ConjBackward0)
_conj_physical = _conj_op(ConjPhysicalBackward0)


def conj(input):
    """The complex conjugate (the tensor itself for real dtypes); ember computes it eagerly (no conj bit)."""
    return _conj(input)


def conj_physical(input, *, out=None):
    """The complex conjugate, computed into new memory."""
    res = _conj_physical(input)
    if out is not None:
        out._data[...] = res._data
        out._vc[0] += 1
        return out
    return res


def resolve_conj(input):
    """input itself: ember never defers a conjugation, so there is nothing to resolve."""
    return input


def resolve_neg(input):
    """input itself: ember never defers a negation."""
    return input


def is_conj(input):
    """False: ember keeps no lazy conjugate bit (conj() computes the conjugate)."""
    return False


def is_neg(input):
    """False: ember keeps no lazy negative bit."""
    return False


class AngleBackward0(Node):
    __slots__ = ("x",)
    _saved_fields = ("x",)
    _double_backward = True   # its formula also runs on Tensors

    def apply(self, g):
        x = self.x
        xp = xp_of(g)
        if x.dtype.kind != "c":
            return (xp.zeros_like(x, dtype=g.dtype),)
        # torch's angle_backward: g * z / |z|^2 * i, 0 at z == 0
        with B.errstate(xp, divide="ignore", invalid="ignore"):
            r = g * x / (x * x.conj()).real * 1j
        return (B.where(xp, x == 0, 0, r).astype(x.dtype, copy=False),)


def angle(input, *, out=None):
    """The phase of each element in radians (pi for negative reals, 0 otherwise, for real dtypes)."""
    d = input._data
    xp = xp_of(d)
    if d.dtype.kind == "c":
        res = xp.angle(d)
    else:
        if d.dtype.kind != "f":
            d = d.astype(B.get_default_dtype().np)
        res = B.where(xp, d < 0, np.pi, 0).astype(d.dtype)
        res = B.where(xp, xp.isnan(d), d, res)
    res = B.host_array(res) if isinstance(res, np.generic) else res
    if out is not None:
        out._data[...] = res
        out._vc[0] += 1
        return out
    node = None
    if _wants_grad(input):
        node = _node(AngleBackward0, input)
        node.x = d
        node._saved_versions = ((input, input._vc[0]),)
    return record(res, node)


def _register():
    T = Tensor
    T.conj = conj
    T.conj_physical = conj_physical
    T.resolve_conj = resolve_conj
    T.resolve_neg = resolve_neg
    T.is_conj = is_conj
    T.is_neg = is_neg
    T.angle = angle
    T.real = property(real, lambda self, v: _set_part(self, v, "real"),
                      doc="The real part (a view; the tensor itself for real dtypes).")
    T.imag = property(imag, lambda self, v: _set_part(self, v, "imag"),
                      doc="The imaginary part (a view; torch's error for real dtypes).")

    def conj_physical_(self):
        """Conjugate in place."""
        d = self._data
        if d.dtype.kind == "c":
            xp_of(d).conjugate(d, out=d)
            self._vc[0] += 1
        return self
    T.conj_physical_ = conj_physical_


_register()
