"""torch.compile: ember does not compile; the model or function runs as it is.

That is the behaviour of torch's "eager" backend (no graph capture, no code generation): the same
values, gradients and speed as without torch.compile.  What comes back is what torch returns (an
OptimizedModule wrapping a module, a wrapper function for a function), so checkpoints carry torch's
``_orig_mod.`` keys.  Arguments are checked as torch checks them, so a script that torch would reject
is rejected here too.
"""
import functools
import sys

__all__ = ["compile"]

_MODES = ("default", "lite", "reduce-overhead", "max-autotune-no-cudagraphs", "max-autotune")
_BACKENDS = ("aot_eager", "aot_eager_decomp_partition", "aot_eager_default_partitioner", "aot_ts", "cudagraphs",
             "eager", "eager_debug", "inductor", "openxla", "openxla_eval", "pre_dispatch_eager", "ts", "tvm")


class InvalidBackend(RuntimeError):
    """torch._dynamo.exc.InvalidBackend: an unknown backend name."""

    def __init__(self, name):
        super().__init__(f"Invalid backend: {name!r}, see `torch._dynamo.list_backends()` for available backends.")


def compile(model=None, *, fullgraph=False, dynamic=None, backend=None, mode=None, options=None, name=None,
            disable=False, recompile_limit=None, isolate_recompiles=False, shapes_spec=None):
    """Return model wrapped as torch wraps it, running unchanged (torch's "eager" backend behaviour).

    compile(model, *, fullgraph=False, dynamic=None, backend="inductor", mode=None, options=None,
    disable=False): an nn.Module comes back as an OptimizedModule whose _orig_mod is the module, a
    function as a wrapper calling it (disable=True: the model itself).  Without model it is a
    decorator factory: ``@torch.compile(mode="max-autotune")``.  mode and options are validated as
    torch does; backend must be one of torch's registered names or a callable (which is never called).
    """
    if sys.version_info >= (3, 15):
        raise RuntimeError("torch.compile is not supported on Python 3.15+")
    if backend is None:
        backend = "inductor"
    if model is None:
        def fn(model):
            if model is None:
                raise RuntimeError("Model can't be None")
            return compile(model, fullgraph=fullgraph, dynamic=dynamic, backend=backend, mode=mode,
                           options=options, name=name, disable=disable, recompile_limit=recompile_limit,
                           isolate_recompiles=isolate_recompiles, shapes_spec=shapes_spec)
        return fn
    if mode is not None and options is not None:
        raise RuntimeError("Either mode or options can be specified, but both can't be specified at the same time.")
    if mode is not None and mode not in _MODES:
        raise RuntimeError(f"Unrecognized mode={mode}, should be one of: {', '.join(_MODES)}")
    if isinstance(backend, str):
        if backend not in _BACKENDS:
            raise InvalidBackend(backend)
    elif not callable(backend):
        raise InvalidBackend(backend)
    if not callable(model):
        raise AssertionError(f"A callable function is expected, but {type(model)} is provided.")
    if disable:
        return model
    from .nn.modules.module import Module
    if isinstance(model, Module):
        from ._dynamo.eval_frame import OptimizedModule
        return OptimizedModule(model)

    @functools.wraps(model)
    def compile_wrapper(*args, **kwargs):
        return model(*args, **kwargs)
    compile_wrapper._torchdynamo_orig_callable = model
    return compile_wrapper
