"""Higher-order gradients (create_graph=True): a node's own backward formula, run on Tensors.

Backward formulas are written on raw arrays with NumPy's names (``g * b``, ``xp.where``,
``grad.sum(axis=..., keepdims=True)``, ``g.astype(dtype)``).  With create_graph=True the engine runs
the same formula on ``_GradArray``s instead: array-like wrappers of Tensors whose operators and
methods call ember's ops while grad mode is on, so the gradient it returns is itself part of a graph
and can be differentiated again.  The node's saved arrays are handed over as the Tensors they came
from (its inputs, found through ``_saved_versions``), and a saved output as the output itself, whose
grad_fn is the node, as torch unpacks a saved output.

A formula that treats one of its saved arrays as a constant when it is in fact a function of the
inputs would give a wrong second derivative without an error, so only node classes that declare
``_double_backward = True`` (their formulas checked against torch's double backward in
tests/autograd/test_higher_order.py) run this way, and only when each saved array is traced back
to an input, to the output (``_output_fields``), or to an operand that does not require grad
(``_saved_inputs``: field -> input position; with ``_promoted_inputs``, pointwise ops whose fields
are their operands cast to the result dtype); anything else raises.  A fused node whose raw backward
is a closure over arrays (normalize, cosine_similarity, several losses) gives its Tensor formula as
``vjp`` of its forward written with ember's differentiable ops.
"""
import contextlib

import numpy as np

from .. import _backend as B
from .._backend import xp_of
from .graph import Node, edge


def _unwrap(x):
    return x.t if isinstance(x, _GradArray) else x


def _tensor(x):
    from .._tensor import Tensor, _wrap
    if isinstance(x, _GradArray):
        return x.t
    if isinstance(x, Tensor):
        return x
    if isinstance(x, np.generic):
        return _wrap(B.host_array(x))
    # an array of any array module stays on its device (np.asarray would copy a GPU array to the host)
    return _wrap(x if hasattr(x, "shape") and hasattr(x, "dtype") else np.asarray(x))


def _is_array(x):
    """x is an array of some array module (a NumPy or CuPy array), not a Tensor or a scalar."""
    return isinstance(x, np.ndarray) or hasattr(x, "__cuda_array_interface__")


# the array module of the gradient the current node's formula runs on: constants a formula asks the
# namespace for (zeros, ones, masks) are made there, on the gradient's device
_device_xp = [np]


def _xp(x):
    """The array module of array x; for a number, that of the gradient the formula runs on."""
    return xp_of(x) if _is_array(x) else _device_xp[0]


def _dtype(dtype):
    return B.as_dtype(np.dtype(dtype))


class _GradArray:
    """A Tensor that answers to NumPy's array API (what backward formulas call)."""

    __slots__ = ("t",)
    __array_priority__ = 2000   # ndarray <op> _GradArray defers to our reflected operators

    def __init__(self, t):
        self.t = t

    # ---- metadata ----
    @property
    def dtype(self):
        return self.t._data.dtype

    @property
    def shape(self):
        return self.t._data.shape

    @property
    def ndim(self):
        return self.t._data.ndim

    @property
    def size(self):
        return self.t._data.size

    @property
    def T(self):
        t = self.t
        return _GradArray(t.permute(*range(t.ndim - 1, -1, -1)) if t.ndim > 1 else t)

    # ---- methods ----
    def astype(self, dtype, copy=True):
        return _GradArray(self.t.to(_dtype(dtype)))

    def reshape(self, *shape):
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        return _GradArray(self.t.reshape(shape))

    def swapaxes(self, a, b):
        return _GradArray(self.t.transpose(a, b))

    def transpose(self, *axes):
        if len(axes) == 1 and isinstance(axes[0], (tuple, list)):
            axes = tuple(axes[0])
        if not axes:
            axes = tuple(range(self.ndim - 1, -1, -1))
        return _GradArray(self.t.permute(*axes))

    def sum(self, axis=None, keepdims=False, dtype=None):
        t = self.t if dtype is None else self.t.to(_dtype(dtype))
        if axis is None:
            r = t.sum()
            return _GradArray(r.reshape((1,) * t.ndim) if keepdims else r)
        return _GradArray(t.sum(dim=axis, keepdim=keepdims))

    def mean(self, axis=None, keepdims=False):
        t = self.t
        if axis is None:
            r = t.mean()
            return _GradArray(r.reshape((1,) * t.ndim) if keepdims else r)
        return _GradArray(t.mean(dim=axis, keepdim=keepdims))

    def copy(self):
        # ndarray.copy() is row-major whatever the source's layout (Tensor.clone keeps the layout)
        from .._memory_format import contiguous_format
        return _GradArray(self.t.clone(memory_format=contiguous_format))

    def conj(self):
        return _GradArray(self.t.conj())

    conjugate = conj

    @property
    def real(self):
        return _GradArray(self.t.real)

    @property
    def imag(self):
        return _GradArray(self.t.imag)

    def squeeze(self, axis=None):
        return _GradArray(self.t.squeeze() if axis is None else self.t.squeeze(axis))

    def __getitem__(self, key):
        return _GradArray(self.t[_key(key)])

    def __setitem__(self, key, value):
        # recorded as torch records it (CopySlices): the written value stays differentiable
        self.t[_key(key)] = _operand(value)

    # ---- operators (in-place ones rebind: a formula's `g *= a` never writes into a graph tensor) ----
    def _bin(op):
        def f(self, other):
            return _GradArray(op(self.t, _operand(other)))
        return f

    def _rbin(op):
        def f(self, other):
            return _GradArray(op(_tensor(other), self.t))
        return f

    __add__ = __iadd__ = _bin(lambda a, b: a + b)
    __radd__ = _rbin(lambda a, b: a + b)
    __sub__ = __isub__ = _bin(lambda a, b: a - b)
    __rsub__ = _rbin(lambda a, b: a - b)
    __mul__ = __imul__ = _bin(lambda a, b: a * b)
    __rmul__ = _rbin(lambda a, b: a * b)
    __truediv__ = __itruediv__ = _bin(lambda a, b: a / b)
    __rtruediv__ = _rbin(lambda a, b: a / b)
    __pow__ = _bin(lambda a, b: a ** b)
    __rpow__ = _rbin(lambda a, b: a ** b)
    __matmul__ = _bin(lambda a, b: a @ b)
    __rmatmul__ = _rbin(lambda a, b: a @ b)
    del _bin, _rbin

    def __neg__(self):
        return _GradArray(-self.t)

    # comparisons are not differentiable: plain boolean arrays
    def __gt__(self, other):
        return self.t._data > _raw(other)

    def __ge__(self, other):
        return self.t._data >= _raw(other)

    def __lt__(self, other):
        return self.t._data < _raw(other)

    def __le__(self, other):
        return self.t._data <= _raw(other)

    def __eq__(self, other):
        return self.t._data == _raw(other)

    def __ne__(self, other):
        return self.t._data != _raw(other)

    __hash__ = None


def _key(key):
    if isinstance(key, tuple):
        return tuple(_unwrap(k) for k in key)
    return _unwrap(key)


def _raw(x):
    x = _unwrap(x)
    return x._data if hasattr(x, "_data") else x


def _operand(x):
    """The right operand as ember accepts it: Tensors stay, arrays become constant tensors."""
    x = _unwrap(x)
    if _is_array(x) or isinstance(x, np.generic):
        return _tensor(x)
    return x


def _fn(name):
    def f(*args, **kwargs):
        import ember
        if kwargs.get("out") is not None:
            raise NotImplementedError(f"create_graph=True: a backward formula wrote {name}(out=...) in place")
        kwargs.pop("out", None)
        like = next((a for a in args if isinstance(a, _GradArray)), None)
        # numbers become tensors of the operand's dtype (ember.maximum, like torch's, takes tensors)
        args = [_tensor(a) if isinstance(a, _GradArray) or _is_array(a) else
                _tensor(xp_of(like.t._data).asarray(a, like.dtype)) if like is not None and isinstance(a, (int, float))
                else a for a in args]
        return _GradArray(getattr(ember, name)(*args, **kwargs))
    f.__name__ = name
    return f


class _TensorNamespace:
    """The `xp` of _GradArrays: NumPy's function names over ember ops."""

    exp, log, sqrt, sin, cos, sinh, cosh, tanh, abs = map(_fn, ("exp", "log", "sqrt", "sin", "cos", "sinh",
                                                                "cosh", "tanh", "abs"))
    log1p, expm1, reciprocal, square, matmul = map(_fn, ("log1p", "expm1", "reciprocal", "square", "matmul"))
    maximum, minimum, multiply, add, subtract, divide, negative = map(
        _fn, ("maximum", "minimum", "mul", "add", "sub", "div", "neg"))

    erf, exp2 = map(_fn, ("erf", "exp2"))
    einsum = _fn("einsum")

    # piecewise constant, but recorded as torch records them (a zero gradient): the first gradient of
    # |x|.sum() or an L1 norm requires grad, as torch's does, so a second backward through it runs
    sign, floor, trunc = map(_fn, ("sign", "floor", "trunc"))

    @staticmethod
    def clip(x, lo, hi):
        import ember
        return _GradArray(ember.clamp(_tensor(x), lo, hi))   # (number bounds)

    @staticmethod
    def where(cond, a, b):
        import ember
        cond = _raw(cond)
        a, b = _unwrap(a), _unwrap(b)
        like = a if hasattr(a, "_data") else b
        if not hasattr(like, "_data"):
            return np.where(cond, a, b)
        dt, xp = like._data.dtype, xp_of(like._data)
        a = a if hasattr(a, "_data") else _tensor(xp.asarray(a, dtype=dt))
        b = b if hasattr(b, "_data") else _tensor(xp.asarray(b, dtype=dt))
        return _GradArray(ember.where(_tensor(cond), a, b))

    @staticmethod
    def zeros_like(x, dtype=None, shape=None):
        z = xp_of(_raw(x)).zeros(x.shape if shape is None else shape, dtype or x.dtype)
        # a formula that fills zeros with the gradient (z[key] = g) must get a tensor to write into
        return _GradArray(_tensor(z)) if isinstance(x, _GradArray) else z

    @staticmethod
    def zeros(shape, dtype=None):
        # only formulas that then write the gradient into the zeros ask for them
        return _GradArray(_tensor(_device_xp[0].zeros(shape, dtype)))

    @staticmethod
    def concatenate(arrays, axis=0):
        import ember
        return _GradArray(ember.cat([_tensor(a) for a in arrays], axis))

    @staticmethod
    def stack(arrays, axis=0):
        import ember
        return _GradArray(ember.stack([_tensor(a) for a in arrays], axis))

    @staticmethod
    def arange(*args, **kwargs):
        return _device_xp[0].arange(*args, **kwargs)

    @staticmethod
    def logaddexp(a, b):
        import ember
        a = a if isinstance(a, _GradArray) else xp_of(_raw(b)).asarray(a, dtype=b.dtype)   # (softplus passes 0)
        return _GradArray(ember.logaddexp(_tensor(a), _tensor(b)))

    @staticmethod
    def ones(shape, dtype=None):
        return _device_xp[0].ones(shape, dtype)   # masks (clamp's): no gradient

    @staticmethod
    def isnan(x):
        return np.isnan(_raw(x))   # masks: no gradient

    @staticmethod
    def ones_like(x, dtype=None):
        return xp_of(_raw(x)).ones(x.shape, dtype or x.dtype)

    @staticmethod
    def broadcast_to(x, shape):
        if not isinstance(x, _GradArray):
            return _xp(x).broadcast_to(x, shape)
        return _GradArray(x.t.expand(*shape)) if tuple(shape) != x.shape else x

    @staticmethod
    def expand_dims(x, axis):
        if not isinstance(x, _GradArray):
            return _xp(x).expand_dims(x, axis)
        axes = (axis,) if isinstance(axis, int) else tuple(axis)
        nd = x.ndim + len(axes)
        t = x.t
        for a in sorted(a % nd for a in axes):
            t = t.unsqueeze(a)
        return _GradArray(t)

    @staticmethod
    def asarray(x, dtype=None):
        if isinstance(x, _GradArray):
            return x if dtype is None else x.astype(dtype)
        return _xp(x).asarray(x, dtype=dtype)

    @staticmethod
    def errstate(**kwargs):
        return contextlib.nullcontext()

    @staticmethod
    def tril(x, k=0):
        return _GradArray(x.t.tril(k)) if isinstance(x, _GradArray) else _xp(x).tril(x, k)

    @staticmethod
    def triu(x, k=0):
        return _GradArray(x.t.triu(k)) if isinstance(x, _GradArray) else _xp(x).triu(x, k)

    class linalg:
        """numpy.linalg's names over ember.linalg."""

        @staticmethod
        def solve(a, b):
            import ember
            return _GradArray(ember.linalg.solve(_tensor(a), _tensor(b)))


_GradArray._array_namespace = _TensorNamespace


def _output_tensor(data, node):
    """The saved output of node as a graph tensor whose grad_fn is node (torch's unpacked output)."""
    from .._tensor import _wrap
    t = _wrap(data)
    t._requires_grad = True
    t.grad_fn = node
    return t


def apply_on_tensors(node, grad):
    """node's backward on the Tensor grad, recorded, so its result can be differentiated again."""
    first = next((g for g in grad if g is not None), None) if isinstance(grad, list) else grad
    prev = _device_xp[0]
    _device_xp[0] = xp_of(first._data) if first is not None else np
    try:
        return _apply_on_tensors(node, grad)
    finally:
        _device_xp[0] = prev


def _apply_on_tensors(node, grad):
    from .._tensor import Tensor
    cls = type(node)
    if not getattr(cls, "_double_backward", False) and not _is_supported_function(node):
        raise NotImplementedError(
            f"create_graph=True: ember cannot differentiate the backward of {node.name()} yet; higher-order "
            f"gradients run through {', '.join(_supported_names())} and custom autograd.Functions")
    if _is_supported_function(node):
        return _function_apply(node, grad)
    saved = []
    for t, _ in node._saved_versions or ():
        if isinstance(t, Tensor):
            saved.append(t)
        elif hasattr(t, "_data") and t._data.size:   # ops._SavedOutput (not the empty marker)
            saved.append(_output_tensor(t._data, node))
    if hasattr(cls, "_apply_tensors"):   # a node with its own Tensor formula (conv)
        return _with_zero_edges(node, node._apply_tensors(grad, saved), saved)
    if getattr(node, "fn", None) is not None:   # CopySlices of an in-place op on a view
        raise NotImplementedError(
            f"create_graph=True: ember cannot differentiate the backward of an in-place {node.fn.name()} "
            "on a view yet; write it out of place")
    originals = {}
    for field in cls._saved_fields:
        value = getattr(node, field)
        if _is_array(value):
            originals[field] = value
            setattr(node, field, _GradArray(_resolve(node, field, value, saved)))
    try:
        # multi-output nodes (split, unbind) take one gradient per output
        outs = node.apply([None if g is None else _GradArray(g) for g in grad] if isinstance(grad, list)
                          else _GradArray(grad))
    finally:
        for field, value in originals.items():
            setattr(node, field, value)
    if outs is None:
        return None
    return _with_zero_edges(node, tuple(None if o is None else _tensor(o) for o in outs), saved)


def _with_zero_edges(node, outs, saved):
    """outs, each also depending with zero derivative on what a node that declares ``_zero_edges``
    saved: torch's formulas for piecewise-linear ops (relu, hardtanh, abs, max pooling...) use their
    saved input only through a mask, yet keep an edge to it with a zero derivative, so a second
    autograd.grad with respect to it gives zeros instead of "not used in the graph".  ``_zero_edges``
    is True (the saved tensors) or "input" (the node's one input, for nodes that save masks only: its
    gradient, the first of outs, has its shape); ``_zero_edge_outputs`` limits them to some outputs."""
    how = getattr(type(node), "_zero_edges", False)
    if not how or outs is None:
        return outs
    if how == "input":
        links = [(node.next_functions[0], tuple(outs[0].shape), outs[0].dtype)] if outs[0] is not None else []
    else:
        links = [(edge(t), tuple(t.shape), t.dtype) for t in saved if t.requires_grad]
    if not links:
        return outs
    only = getattr(type(node), "_zero_edge_outputs", None)   # (the outputs torch links, when not all)
    return tuple(o if o is None or (only is not None and i not in only) else
                 _linked(o, links, node.name()[:-1] + "Backward0") for i, o in enumerate(outs))


class _ZeroLink(Node):
    """A gradient passed through unchanged, with zero-derivative edges to what its node saved."""

    __slots__ = ("label", "links")
    _double_backward = True

    def name(self):
        return self.label

    def apply(self, grad):
        xp = xp_of(grad)
        return (grad,) + tuple(xp.zeros(shape, B.as_dtype(dtype).np) for _, shape, dtype in self.links)


def _linked(out, links, label):
    from .._tensor import _wrap
    link = _ZeroLink.__new__(_ZeroLink)
    link.next_functions = (edge(out),) + tuple(e for e, _, _ in links)
    link._saved_versions = ()
    link.label, link.links = label, links
    t = _wrap(out._data)
    t._requires_grad = True
    t.grad_fn = link
    return t


def _resolve(node, field, value, saved):
    """The graph tensor a node's saved array stands for: one of its saved tensors, or a transpose or
    reshape of one.  An array that is none of these may depend on the inputs in a way the node does
    not record, so it is refused rather than taken for a constant."""
    cls = type(node)
    position = getattr(cls, "_saved_inputs", {}).get(field)
    if position is not None:
        nf = node.next_functions
        # an operand that does not require grad, or a number (xlogy(x, 2.0) keeps no edge for it)
        if position >= len(nf) or nf[position][0] is None:
            return _tensor(value)
        # only that operand (never a detached alias of its array: x * x.detach()); for a pointwise op
        # also cast to the result dtype (type promotion): the cast, recorded.  (A fused node whose
        # edge passes through a node of its own, linear's TBackward0, searches all it saved.)
        matching = [t for t in saved if edge(t) == nf[position]]
        if getattr(cls, "_promoted_inputs", False):
            for t in matching:
                if value is not t._data and value.shape == t._data.shape:
                    return t.to(_dtype(value.dtype))
        candidates = matching or saved
    else:
        candidates = saved
    for t in candidates:
        if value is t._data:
            return t
    if value.dtype.kind in "biu":
        return _tensor(value)   # masks and indices carry no gradient
    for t in candidates:
        d = t._data
        if value.size != d.size or B.data_ptr(value) != B.data_ptr(d):
            continue
        if value.shape == d.shape[::-1] and value.strides == d.strides[::-1]:
            return t.permute(*range(d.ndim - 1, -1, -1))
        if value.flags.c_contiguous and d.flags.c_contiguous:
            return t.reshape(value.shape)
    if field in getattr(cls, "_output_fields", ()):
        return _output_tensor(value, node)
    if field in getattr(cls, "_constant_fields", ()):
        return _tensor(value)
    if hasattr(cls, "_tensor_field"):
        t = node._tensor_field(field, saved)
        if t is not None:
            return t
    raise NotImplementedError(
        f"create_graph=True: {node.name()} saved {field!r} in a form ember cannot trace back to its "
        "inputs, so it cannot differentiate this backward again")


def _is_supported_function(node):
    # a custom Function's backward is written on Tensors already
    return hasattr(node, "_fn_cls")


def _function_apply(node, grad):
    from .. import zeros
    grads = grad if isinstance(grad, list) else [grad]
    gts = tuple(g if g is not None else zeros(s, dtype=_dtype(d))
                for g, s, d in zip(grads, node._shapes, node._dtypes))
    out = node._fn_cls.backward(node, *gts)
    if not isinstance(out, tuple):
        out = (out,)
    return tuple(out[i] if i < len(out) else None for i in node._input_index)


def vjp(forward, inputs, grad):
    """The gradients of forward(*inputs), a composite of ember's differentiable ops, for the output
    gradient grad, recorded: the Tensor formula of a fused node whose raw backward is a closure over
    arrays.  One per input, None where an input needs no gradient."""
    import ember
    # fresh aliases: the inner pass stops at them, so hooks on the inputs do not run twice
    alias = [t.view_as(t) if t.requires_grad else t for t in inputs]
    wanted = [a for a in alias if a.requires_grad]
    if not wanted:
        return (None,) * len(inputs)
    grads = iter(ember.autograd.grad(forward(*alias), wanted, grad, create_graph=True, allow_unused=True))
    return tuple(next(grads) if a.requires_grad else None for a in alias)


def linear_adjoint(node, grad, forward):
    """For a node whose backward is a fixed linear map A of the gradient (pooling): A(grad) by the
    node's own formula, recorded so that its derivative with respect to grad is forward, the op's
    linearization (A's transpose) written with differentiable ops."""
    return (_recorded(node.name()[:-1], lambda a: node.apply(a)[0], forward, grad),)


def linear_pair(node, grad, transpose):
    """As linear_adjoint, for a map whose transpose is as cheap on raw arrays (index scatters and
    gathers, scans): the derivative is transpose, recorded the same way (its own is A again), to
    any order."""
    return (linear_map(node.name()[:-1], lambda a: node.apply(a)[0], transpose, grad),)


def linear_map(name, apply_raw, transpose_raw, t):
    """apply_raw (a linear map of raw arrays) of the tensor t, recorded with transpose_raw as its
    derivative (and apply_raw as that one's), to any order: for nodes with several linear outputs."""
    return _recorded(name, apply_raw, lambda gg: linear_map(name + "Backward", transpose_raw, apply_raw, gg), t)


def _recorded(name, value_raw, derivative, t):
    """value_raw(t's array) as a tensor whose backward is derivative (a custom Function named so
    that its node prints as torch's double-backward node does: AvgPool2DBackwardBackward...)."""
    from .function import Function
    from .._tensor import _wrap

    def value(ctx, x):
        return _wrap(value_raw(x._data))

    def backward(ctx, gg):
        return derivative(gg)
    return type(name, (Function,), {"forward": staticmethod(value), "backward": staticmethod(backward)}).apply(t)


def _supported_names():
    from .graph import Node
    names, todo = set(), [Node]
    while todo:
        cls = todo.pop()
        todo.extend(cls.__subclasses__())
        if getattr(cls, "_double_backward", False) and not cls.__name__.startswith("_"):
            names.add(cls.__name__)
    return sorted(names)
