"""Parameter and Buffer: tensors that a Module registers as its state (torch.nn.parameter)."""
from collections import OrderedDict

from ..ops import creation as _creation
from .._tensor import Tensor

__all__ = ["Parameter", "Buffer", "is_lazy"]


class Parameter(Tensor):
    """A Tensor that a Module registers as a learnable parameter when assigned as an attribute."""

    def __new__(cls, data=None, requires_grad=True):
        if data is None:
            data = _creation.empty(0)
        if not isinstance(data, Tensor):
            raise TypeError(
                f"Parameter(): data must be a Tensor, not {type(data).__name__}; "
                "wrap it first, e.g. nn.Parameter(torch.tensor(values))")
        if requires_grad and data._data.dtype.kind != "f":
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


class Buffer(metaclass=_BufferMeta):
    """Marks a Tensor to be registered as a module buffer when assigned as an attribute."""

    def __new__(cls, data=None, *, persistent=True):
        if data is None:
            data = _creation.empty(0)
        t = data.detach().requires_grad_(data.requires_grad)
        t.persistent = persistent
        t._is_buffer = True
        return t


def is_lazy(param):
    """True for uninitialized (lazy) parameters; ember has none."""
    return False
