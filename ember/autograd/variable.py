"""torch.autograd.Variable: the pre-0.4 wrapper, now a plain Tensor (kept for old tutorials)."""
from .._userwarn import warn as _warn_user


class VariableMeta(type):
    """Makes isinstance(t, Variable) true for every Tensor, as in torch."""

    def __instancecheck__(cls, other):
        from .._tensor import Tensor
        return isinstance(other, Tensor)


class Variable(metaclass=VariableMeta):
    """Variable(tensor, requires_grad=False): a new leaf Tensor sharing tensor's data."""

    def __new__(cls, data=None, requires_grad=False, volatile=False):
        from .._tensor import Tensor, _wrap
        from .._backend import get_default_dtype
        import numpy as np
        if volatile:
            _warn_user("volatile was removed and now has no effect. Use `with torch.no_grad():` "
                       "instead.")
        if data is None:
            t = _wrap(np.empty(0, dtype=get_default_dtype().np))
        elif not isinstance(data, Tensor):
            raise TypeError(f"Variable data has to be a tensor, but got {type(data).__name__}")
        else:
            # torch's Variable(t) detaches: the result is a leaf sharing t's storage and version
            t = data.detach()
        if requires_grad:
            t.requires_grad_(True)
        return t
