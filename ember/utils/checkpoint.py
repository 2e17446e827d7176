"""torch.utils.checkpoint: activation checkpointing, without the memory saving.

checkpoint(function, *args) runs function(*args) once, recording the graph as usual, so the values
and gradients are exactly those torch computes; torch instead drops the intermediate activations
and recomputes them during backward, trading compute for memory.  ember keeps them: no memory is
saved.  The arguments are checked as torch 2.13 checks them, including its warning when
use_reentrant is not passed and the reentrant variant's behaviour when no input requires grad
(the output then does not require grad, so parameters inside get no gradient, as in torch).
"""
import warnings

__all__ = ["checkpoint", "checkpoint_sequential"]


def noop_context_fn():
    """The default context_fn: two null context managers."""
    import contextlib
    return contextlib.nullcontext(), contextlib.nullcontext()


def _tensors(values):
    from .._tensor import Tensor
    return [v for v in values if isinstance(v, Tensor)]


def checkpoint(function, *args, use_reentrant=None, context_fn=noop_context_fn, determinism_check="default",
               debug=False, early_stop=True, **kwargs):
    """Run function(*args, **kwargs) and return its output (ember saves no memory: see the module doc).

    use_reentrant: pass it explicitly (torch warns otherwise and then uses True).  With
    use_reentrant=True, keyword arguments other than preserve_rng_state are a ValueError, and when
    no tensor argument requires grad the result does not require grad (torch's warning says so).
    With use_reentrant=False, context_fn's two context managers wrap the forward call.
    """
    if use_reentrant is None:
        warnings.warn(
            "torch.utils.checkpoint: the use_reentrant parameter should be "
            "passed explicitly. Starting in PyTorch 2.9, calling checkpoint "
            "without use_reentrant will raise an exception. use_reentrant=False is "
            "recommended, but if you need to preserve the current default "
            "behavior, you can pass use_reentrant=True. Refer to docs for more "
            "details on the differences between the two variants.",
            stacklevel=2)
        use_reentrant = True
    kwargs.pop("preserve_rng_state", True)  # one run: the RNG state needs no replay
    if kwargs and use_reentrant:
        raise ValueError("Unexpected keyword arguments: " + ",".join(arg for arg in kwargs))
    if use_reentrant:
        if context_fn is not noop_context_fn or debug is not False:
            raise ValueError("Passing `context_fn` or `debug` is only supported when use_reentrant=False.")
        if not any(t.requires_grad for t in _tensors(args)):
            warnings.warn("None of the inputs have requires_grad=True. Gradients will be None", stacklevel=2)
            from ..autograd import no_grad
            with no_grad():
                return function(*args)
        return function(*args)
    if determinism_check not in ("default", "none"):
        raise ValueError(f"determinism_check should be one of ['default', 'none'], but got {determinism_check}")
    forward_context, _recompute_context = context_fn()
    with forward_context:
        return function(*args, **kwargs)


def checkpoint_sequential(functions, segments, input, use_reentrant=None, **kwargs):
    """Run a Sequential (or a list of modules/functions) on input in `segments` checkpointed chunks;
    the result equals functions(input) (no memory is saved in ember)."""
    if use_reentrant is None:
        warnings.warn(
            "torch.utils.checkpoint.checkpoint_sequential: the use_reentrant "
            "parameter should be passed explicitly. "
            "In version 2.9 we will raise an exception if use_reentrant "
            "is not passed. use_reentrant=False is "
            "recommended, but if you need to preserve the current default "
            "behavior, you can pass use_reentrant=True. Refer to docs for more "
            "details on the differences between the two variants.", stacklevel=2)
        use_reentrant = True
    preserve = kwargs.pop("preserve_rng_state", True)
    if kwargs:
        raise ValueError("Unexpected keyword arguments: " + ",".join(arg for arg in kwargs))

    def run_function(start, end, functions):
        def forward(input):
            for j in range(start, end + 1):
                input = functions[j](input)
            return input
        return forward

    from ..nn import Sequential
    if isinstance(functions, Sequential):
        functions = list(functions.children())
    segment_size = len(functions) // segments
    end = -1
    for start in range(0, segment_size * (segments - 1), segment_size):
        end = start + segment_size - 1
        input = checkpoint(run_function(start, end, functions), input, use_reentrant=use_reentrant,
                           preserve_rng_state=preserve)
    return run_function(end + 1, len(functions) - 1, functions)(input)
