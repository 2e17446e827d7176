"""Flatten parameters into one vector and back (torch.nn.utils.convert_parameters)."""
from ..._tensor import Tensor, _wrap

__all__ = ["parameters_to_vector", "vector_to_parameters"]


def parameters_to_vector(parameters):
    """Concatenate the flattened parameters into one 1-D tensor (differentiable)."""
    from ...ops import shape as _shape
    vec = [param.view(-1) if param.is_contiguous() else param.reshape(-1) for param in parameters]
    return _shape.cat(vec)


def vector_to_parameters(vec, parameters):
    """Copy consecutive slices of the 1-D vec into the parameters' data."""
    if not isinstance(vec, Tensor):
        raise TypeError(f"expected torch.Tensor, but got: {type(vec).__name__}")
    pointer = 0
    flat = vec._data
    for param in parameters:
        num_param = param.numel()
        param.data = _wrap(flat[pointer:pointer + num_param].reshape(tuple(param.shape)))
        pointer += num_param
