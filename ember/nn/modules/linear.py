"""Identity, Linear and Bilinear layers."""
import math

from ...ops import creation as _creation
from .. import functional as F
from .. import init
from ..parameter import Parameter
from . import _diagnose
from .module import Module

__all__ = ["Identity", "Linear", "Bilinear"]


def _empty(shape, device, dtype):
    return _creation.empty(tuple(shape), device=device, dtype=dtype)


class Identity(Module):
    """Returns its input unchanged (arguments are accepted and ignored)."""

    def __init__(self, *args, **kwargs):
        super().__init__()

    def forward(self, input):
        return input


class Linear(Module):
    """y = x @ weight.T + bias, with weight of shape (out_features, in_features)."""

    __constants__ = ["in_features", "out_features"]

    def __init__(self, in_features, out_features, bias=True, device=None, dtype=None):
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        self.weight = Parameter(_empty((out_features, in_features), device, dtype))
        if bias:
            self.bias = Parameter(_empty((out_features,), device, dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        """torch's default: kaiming_uniform_(a=sqrt(5)) weight, U(+-1/sqrt(fan_in)) bias."""
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in, _ = init._calculate_fan_in_and_fan_out(self.weight)
            bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input):
        # the registered parameters straight from their dict: self.weight goes through
        # Module.__getattr__ after a failed lookup (~0.45 us each); a weight re-registered as a
        # plain attribute or a parametrization's property is not in the dict and takes that path
        params = self._parameters
        weight = params.get("weight")
        if weight is None:
            weight = self.weight
        data = getattr(input, "_data", None)
        # one int comparison on the hot path, against the weight itself (in_features can be stale:
        # a lazy layer loaded from a checkpoint); the message is built only on failure
        fan_in = weight._data.shape[-1]
        if data is not None and data.ndim and data.shape[-1] != fan_in:
            raise _diagnose.linear_error(self, input, fan_in, tuple(weight._data.shape))
        bias = params.get("bias")
        if bias is None:
            bias = self.bias
        return F.linear(input, weight, bias)

    def extra_repr(self):
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class NonDynamicallyQuantizableLinear(Linear):
    """A Linear under another name: torch uses it for MultiheadAttention's out_proj, and the name shows in
    print(model) and in a whole model's pickle (here, where torch defines it, so that real torch loads it)."""


class Bilinear(Module):
    """y = x1^T A x2 + b for each output feature."""

    __constants__ = ["in1_features", "in2_features", "out_features"]

    def __init__(self, in1_features, in2_features, out_features, bias=True, device=None, dtype=None):
        super().__init__()
        self.in1_features = in1_features
        self.in2_features = in2_features
        self.out_features = out_features
        self.weight = Parameter(_empty((out_features, in1_features, in2_features), device, dtype))
        if bias:
            self.bias = Parameter(_empty((out_features,), device, dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self):
        """U(+-1/sqrt(in1_features)) for weight and bias."""
        if self.in1_features <= 0:
            raise ValueError(f"in1_features must be > 0, but got (in1_features={self.in1_features})")
        bound = 1 / math.sqrt(self.weight.size(1))
        init.uniform_(self.weight, -bound, bound)
        if self.bias is not None:
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input1, input2):
        return F.bilinear(input1, input2, self.weight, self.bias)

    def extra_repr(self):
        return (f"in1_features={self.in1_features}, in2_features={self.in2_features}, "
                f"out_features={self.out_features}, bias={self.bias is not None}")
