"""torch.func.vmap, as a loop.

torch's vmap is a vectorizing transform: it runs func once on BatchedTensors.  ember has no batched
tensor, so vmap here slices the mapped dimension off every batched input, calls func once per batch
element, and stacks the results along out_dims.  The values, shapes and errors are torch's; the
cost is batch_size calls of func (chunk_size changes nothing but is checked as torch checks it).
Because each call sees an ordinary tensor, functions that branch on values work too, where torch's
vmap would refuse (data-dependent control flow).
"""
import functools

from .. import random as _random
from ..utils._pytree import _broadcast_to_and_flatten, tree_flatten, tree_unflatten

__all__ = ["vmap"]


def _get_name(func):
    if hasattr(func, "__name__"):
        return func.__name__
    if isinstance(func, functools.partial):
        return f"functools.partial({_get_name(func.func)}, ...)"
    return repr(func)


def _check_randomness_arg(randomness):
    if randomness not in ["error", "different", "same"]:
        raise RuntimeError("Only allowed values for randomness are 'error', 'different', or 'same'. "
                           f"Got {randomness}")


def _process_batched_inputs(in_dims, args, func):
    from .._tensor import Tensor
    if not isinstance(in_dims, (int, tuple)):
        raise ValueError(f"vmap({_get_name(func)}, in_dims={in_dims}, ...)(<inputs>): expected `in_dims` to be int "
                         f"or a (potentially nested) tuple matching the structure of inputs, got: {type(in_dims)}.")
    if len(args) == 0:
        raise ValueError(f"vmap({_get_name(func)})(<inputs>): got no inputs. Maybe you forgot to add inputs, or you "
                         "are trying to vmap over a function with no inputs. The latter is unsupported.")
    flat_args, args_spec = tree_flatten(args)
    flat_in_dims = _broadcast_to_and_flatten(in_dims, args_spec)
    if flat_in_dims is None:
        raise ValueError(f"vmap({_get_name(func)}, in_dims={in_dims}, ...)(<inputs>): in_dims is not compatible "
                         f"with the structure of `inputs`. in_dims has structure {tree_flatten(in_dims)[1]} but "
                         f"inputs has structure {args_spec}.")
    for i, (arg, in_dim) in enumerate(zip(flat_args, flat_in_dims)):
        if not isinstance(in_dim, int) and in_dim is not None:
            raise ValueError(f"vmap({_get_name(func)}, in_dims={in_dims}, ...)(<inputs>): Got in_dim={in_dim} for "
                             "an input but in_dim must be either an integer dimension or None.")
        if isinstance(in_dim, int) and not isinstance(arg, Tensor):
            raise ValueError(f"vmap({_get_name(func)}, in_dims={in_dims}, ...)(<inputs>): Got in_dim={in_dim} for "
                             f"an input but the input is of type {type(arg)}. We cannot vmap over non-Tensor "
                             "arguments, please use None as the respective in_dim")
        if in_dim is not None and (in_dim < -arg.dim() or in_dim >= arg.dim()):
            raise ValueError(f"vmap({_get_name(func)}, in_dims={in_dims}, ...)(<inputs>): Got in_dim={in_dim} for "
                             f"some input, but that input is a Tensor of dimensionality {arg.dim()} so expected "
                             f"in_dim to satisfy -{arg.dim()} <= in_dim < {arg.dim()}.")
        if in_dim is not None and in_dim < 0:
            flat_in_dims[i] = in_dim % arg.dim()
    sizes = [arg.size(d) for d, arg in zip(flat_in_dims, flat_args) if d is not None]
    if not sizes:
        raise ValueError("vmap: Expected at least one Tensor to vmap over")
    if any(s != sizes[0] for s in sizes):
        raise ValueError("vmap: Expected all tensors to have the same size in the mapped dimension, got sizes "
                         f"{sizes} for the mapped dimension")
    return sizes[0], flat_in_dims, flat_args, args_spec


def _check_out_dims(out_dims, func):
    if isinstance(out_dims, int):
        return
    for d in tree_flatten(out_dims)[0]:
        if d is not None and not isinstance(d, int):
            raise ValueError(f"vmap({_get_name(func)}, ..., out_dims={out_dims}): `out_dims` must be an int, None "
                             "or a python collection of ints representing where in the outputs the vmapped "
                             "dimension should appear.")


def _flat_out_dims(out_dims, first_output, output_spec, func):
    from .._tensor import Tensor

    def incompatible():
        raise ValueError(f"vmap({_get_name(func)}, ..., out_dims={out_dims})(<inputs>): out_dims is not compatible "
                         f"with the structure of `outputs`. out_dims has structure {tree_flatten(out_dims)[1]} "
                         f"but outputs has structure {output_spec}.")
    if isinstance(first_output, Tensor):
        # torch's edge case: a lone tensor output takes out_dims=(d,) as d
        if isinstance(out_dims, int) or out_dims is None:
            return [out_dims]
        if isinstance(out_dims, tuple) and len(out_dims) == 1:
            return list(out_dims)
        incompatible()
    flat = _broadcast_to_and_flatten(out_dims, output_spec)
    if flat is None:
        incompatible()
    return flat


def _same(a, b):
    from .._tensor import Tensor
    if not isinstance(a, Tensor) or a.shape != b.shape or a.dtype != b.dtype:
        return False
    return a is b or bool((a.detach() == b.detach()).all())


def _vmap_impl(func, in_dims, out_dims, randomness, args, kwargs):
    from .. import stack
    from .._tensor import Tensor
    _check_out_dims(out_dims, func)
    batch_size, flat_in_dims, flat_args, args_spec = _process_batched_inputs(in_dims, args, func)
    rng_state = _random.get_rng_state() if randomness == "same" else None
    outputs = []
    _random._vmap_randomness.append(randomness)
    try:
        for b in range(batch_size):
            if rng_state is not None:
                _random.set_rng_state(rng_state)  # every batch element draws the same numbers
            sliced = [a if d is None else a.select(d, b) for a, d in zip(flat_args, flat_in_dims)]
            outputs.append(func(*tree_unflatten(sliced, args_spec), **kwargs))
        if batch_size == 0:
            # an empty batch: one call on zeros of an element's shape gives the output shapes
            sliced = [a if d is None else a.new_zeros(a.shape[:d] + a.shape[d + 1:])
                      for a, d in zip(flat_args, flat_in_dims)]
            outputs.append(func(*tree_unflatten(sliced, args_spec), **kwargs))
    finally:
        _random._vmap_randomness.pop()
    flat_first, output_spec = tree_flatten(outputs[0])
    flat_outs = _flat_out_dims(out_dims, outputs[0], output_spec, func)
    per_leaf = [tree_flatten(o)[0] for o in outputs]
    name = _get_name(func)
    result = []
    for i, d in enumerate(flat_outs):
        first = flat_first[i]
        if d is None:
            # an unbatched output: every call returned it alike, and the first one stands for all.
            # Calls that returned different tensors mean it depends on the batch, which torch
            # refuses (it sees a BatchedTensor; here that shows only as differing values)
            if isinstance(first, Tensor) and any(not _same(leaves[i], first) for leaves in per_leaf[1:]):
                raise ValueError(f"vmap({name}, ...): `{name}` can not return a BatchedTensor when out_dim is None")
            result.append(first)
            continue
        if not isinstance(first, Tensor):
            raise ValueError(f"vmap({name}, ...): `{name}` must only return Tensors, got type {type(first)}. "
                             "Did you mean to set out_dims= to None for output?")
        if batch_size == 0:
            result.append(first.unsqueeze(d).narrow(d, 0, 0))
            continue
        result.append(stack([leaves[i] for leaves in per_leaf], dim=d))
    return tree_unflatten(result, output_spec)


def vmap(func, in_dims=0, out_dims=0, randomness="error", *, chunk_size=None):
    """func mapped over a dimension of its inputs (ember runs func once per batch element and stacks)."""
    _check_randomness_arg(randomness)
    if not (chunk_size is None or chunk_size > 0):
        raise ValueError(f"vmap: chunk_size should be None or greater than 0. (got {chunk_size})")

    @functools.wraps(func)
    def wrapped(*args, **kwargs):
        return _vmap_impl(func, in_dims, out_dims, randomness, args, kwargs)
    return wrapped
