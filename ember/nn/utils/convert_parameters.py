"""Flatten parameters into one vector and back (torch.nn.utils.convert_parameters)."""
from ..._tensor import Tensor

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
    for param in parameters:
        num_param = param.numel()
        # (a view of vec, as torch's: a vec too short fails in view_as with torch's message)
        param.data = vec[pointer:pointer + num_param].view_as(param).data
        pointer += num_param
