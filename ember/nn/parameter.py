"""Parameter and Buffer: tensors that a Module registers as its state (torch.nn.parameter)."""
from collections import OrderedDict

from ..ops import creation as _creation, elementwise as _elementwise
from .._tensor import Tensor, copy_grad_dtype

__all__ = ["Parameter", "Buffer", "UninitializedParameter", "UninitializedBuffer", "is_lazy"]


class Parameter(Tensor):
    """A Tensor that a Module registers as a learnable parameter when assigned as an attribute."""

    def __new__(cls, data=None, requires_grad=True):
        if data is None:
            data = _creation.empty(0)
        if not isinstance(data, Tensor):
            raise TypeError(
                f"Parameter(): data must be a Tensor, not {type(data).__name__}; "
                "wrap it first, e.g. nn.Parameter(torch.tensor(values))")
        if requires_grad and data._data.dtype.kind not in "fcV":
            raise RuntimeError(
                "Only Tensors of floating point and complex dtype can require gradients "
                f"(got {data.dtype}); convert with .float() or pass requires_grad=False")
        self = object.__new__(cls)
        # like torch's _make_subclass: share the array and the version counter, drop the graph
        Tensor._init(self, data._data, bool(requires_grad))
        self._vc = data._vc
        return self

    def __init__(self, data=None, requires_grad=True):
        pass

    def __deepcopy__(self, memo):
        if id(self) in memo:
            return memo[id(self)]
        result = type(self)(self.data.clone(), self.requires_grad)
        copy_grad_dtype(self, result)
        if self.grad is not None:
            result.grad = self.grad.__deepcopy__(memo)
        extra = {k: v for k, v in self.__dict__.items()}
        if extra:
            import copy
            result.__dict__.update(copy.deepcopy(extra, memo))
        memo[id(self)] = result
        return result

    def __repr__(self):
        return "Parameter containing:\n" + Tensor.__repr__(self)

    def __reduce_ex__(self, proto):
        state = dict(self.__dict__)
        if not state:
            return (_rebuild_parameter, (self.data, self.requires_grad, OrderedDict()))
        return (_rebuild_parameter_with_state, (self.data, self.requires_grad, OrderedDict(), state))


def _rebuild_parameter(data, requires_grad, backward_hooks):
    """Unpickle a Parameter (torch._utils._rebuild_parameter's signature)."""
    return Parameter(data, requires_grad)


def _rebuild_parameter_with_state(data, requires_grad, backward_hooks, state):
    """Unpickle a Parameter that carries extra Python attributes."""
    param = Parameter(data, requires_grad)
    param.__dict__.update(state)
    return param


class _BufferMeta(type):
    # torch.nn.Buffer(t) returns a plain Tensor marked as a buffer; isinstance(t, Buffer) is true for it
    def __instancecheck__(cls, instance):
        if cls is Buffer and isinstance(instance, Tensor) and getattr(instance, "_is_buffer", False):
            return True
        return super().__instancecheck__(instance)


_elementwise._Parameter = Parameter   # (a plain tensor for the operators' hot path)


class Buffer(metaclass=_BufferMeta):
    """Marks a Tensor to be registered as a module buffer when assigned as an attribute."""

    def __new__(cls, data=None, *, persistent=True):
        if data is None:
            data = _creation.empty(0)
        t = data.detach().requires_grad_(data.requires_grad)
        t.persistent = persistent
        t._is_buffer = True
        return t


class UninitializedTensorMixin:
    """No data yet: a lazy module materializes it, in place, from its first input."""

    cls_to_become = None

    def materialize(self, shape, device=None, dtype=None):
        """Give the tensor empty data of shape; it then becomes a plain Parameter/Tensor (same object)."""
        data = _creation.empty(tuple(shape), device=device if device is not None else self._lazy_device,
                               dtype=dtype if dtype is not None else self._lazy_dtype)
        self._data = data._data
        self._vc[0] += 1
        del self._lazy_device, self._lazy_dtype   # a materialized Parameter pickles without extra state
        self.__class__ = self.cls_to_become

    def _uninitialized(self, what):
        raise RuntimeError(f"Can't {what} an uninitialized parameter or buffer. This error usually happens in "
                           "`load_state_dict` when trying to load an uninitialized parameter into an initialized "
                           "one. Call `forward` to initialize the parameters before accessing their attributes.")

    @property
    def shape(self):
        self._uninitialized("access the shape of")

    def size(self, dim=None):
        self._uninitialized("access the shape of")

    def numel(self):
        self._uninitialized("use numel() of")

    def dim(self):
        self._uninitialized("use dim() of")

    ndim = property(dim)

    def __len__(self):
        self._uninitialized("use len() of")

    def __repr__(self):
        return f"<{self.__class__.__name__}>"

    def detach(self):
        """Another uninitialized tensor (a lazy module's state_dict holds these until its first forward)."""
        return self.__deepcopy__({})

    def __reduce_ex__(self, proto):
        return (self.__class__, (self.requires_grad,))


class UninitializedParameter(UninitializedTensorMixin, Parameter):
    """A Parameter with no data yet, for lazy modules (torch.nn.parameter.UninitializedParameter)."""

    cls_to_become = Parameter

    def __new__(cls, requires_grad=True, device=None, dtype=None):
        self = Parameter.__new__(cls, _creation.empty(0, device=device, dtype=dtype), requires_grad)
        self._lazy_device, self._lazy_dtype = device, dtype
        return self

    def __init__(self, requires_grad=True, device=None, dtype=None):
        pass

    def __deepcopy__(self, memo):
        if id(self) not in memo:
            memo[id(self)] = type(self)(self.requires_grad, self._lazy_device, self._lazy_dtype)
        return memo[id(self)]


class UninitializedBuffer(UninitializedTensorMixin, Tensor):
    """A buffer with no data yet, for lazy modules (torch.nn.parameter.UninitializedBuffer)."""

    cls_to_become = Tensor

    def __new__(cls, requires_grad=False, device=None, dtype=None, persistent=True):
        self = object.__new__(cls)
        Tensor._init(self, _creation.empty(0, device=device, dtype=dtype)._data, bool(requires_grad))
        self._lazy_device, self._lazy_dtype = device, dtype
        self.persistent = persistent
        self._is_buffer = True
        return self

    def __init__(self, requires_grad=False, device=None, dtype=None, persistent=True):
        pass

    def __deepcopy__(self, memo):
        if id(self) not in memo:
            memo[id(self)] = type(self)(self.requires_grad, self._lazy_device, self._lazy_dtype, self.persistent)
        return memo[id(self)]


def is_lazy(param):
    """True for a parameter or buffer that a lazy module has not materialized yet."""
    return isinstance(param, UninitializedTensorMixin)
