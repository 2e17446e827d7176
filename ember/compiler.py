"""torch.compiler: the compiler's control surface, as torch behaves with nothing being compiled.

ember never compiles (ember.compile returns its argument), so code is never "compiling": the
markers here (disable, allow_in_graph, assume_constant_result, ...) return the function unchanged
or a thin wrapper, and the queries answer False, exactly as torch's do outside a compiled region.
"""
import contextlib
import functools

from ._compile import compile  # noqa: F401  (torch.compiler.compile is torch.compile)

__all__ = ["compile", "assume_constant_result", "reset", "allow_in_graph", "substitute_in_graph", "list_backends",
           "disable", "set_stance", "set_enable_guard_collectives", "cudagraph_mark_step_begin", "wrap_numpy",
           "is_compiling", "is_dynamo_compiling", "is_exporting", "save_cache_artifacts", "load_cache_artifacts",
           "skip_guard_on_inbuilt_nn_modules_unsafe", "skip_guard_on_all_nn_modules_unsafe",
           "keep_tensor_guards_unsafe", "skip_guard_on_globals_unsafe", "skip_all_guards_unsafe",
           "nested_compile_region", "get_default_backend", "set_default_backend", "keep_portable_guards_unsafe"]

_default_backend = ["inductor"]
_stance = ["default"]


def is_compiling():
    """True inside a region torch.compile is tracing: never in ember."""
    return False


def is_dynamo_compiling():
    """True while Dynamo traces: never in ember."""
    return False


def is_exporting():
    """True while torch.export traces: never in ember."""
    return False


def reset():
    """Clear the compiler's caches (ember keeps none)."""


def _callable(fn, what):
    if not callable(fn):
        raise AssertionError(what)
    return fn


def allow_in_graph(fn):
    """Mark fn to be put in the graph as is: returns fn (a list of functions gives a list)."""
    if isinstance(fn, (list, tuple)):
        return [allow_in_graph(x) for x in fn]
    return _callable(fn, "allow_in_graph expects a callable")


def assume_constant_result(fn):
    """Mark fn's result as a compile-time constant: returns fn, flagged as torch flags it."""
    fn._dynamo_marked_constant = True
    return fn


def substitute_in_graph(original_fn, *, can_constant_fold_through=False, skip_signature_check=False):
    """A decorator registering a traceable stand-in for original_fn; it returns the stand-in unchanged."""
    _callable(original_fn, f"substitute_in_graph expects a callable, got {original_fn!r}")

    def register(fn):
        return fn
    return register


def wrap_numpy(fn):
    """fn on NumPy arrays made a function on tensors: tensor arguments go in as arrays, arrays come out as tensors."""
    import numpy as np
    from ._tensor import Tensor
    from .utils import _pytree

    @functools.wraps(fn)
    def wrap(*args, **kwargs):
        from .ops.creation import as_tensor
        args, kwargs = _pytree.tree_map(lambda x: x.numpy() if isinstance(x, Tensor) else x, (args, kwargs))
        out = fn(*args, **kwargs)
        return _pytree.tree_map(lambda x: as_tensor(x) if isinstance(x, np.ndarray) else x, out)
    return wrap


class _Disabled(contextlib.ContextDecorator):
    """What disable() returns without a function: a decorator and a context manager."""

    def __init__(self, reason):
        self.reason = reason

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def __call__(self, fn):
        _callable(fn, "fn must be callable")
        inner = getattr(fn, "_torchdynamo_orig_callable", fn)

        @functools.wraps(inner)
        def disabled(*args, **kwargs):
            return inner(*args, **kwargs)
        disabled._torchdynamo_disable = True
        disabled._torchdynamo_disable_msg = self.reason
        disabled._torchdynamo_orig_callable = inner
        return disabled


def disable(fn=None, recursive=True, *, reason=None):
    """Keep fn out of compilation: a wrapper that calls fn (or, without fn, a decorator/context manager)."""
    dis = _Disabled(reason)
    if fn is None:
        return dis if recursive else dis.__call__
    return dis(fn)


class _Stance(contextlib.ContextDecorator):
    def __init__(self, prior):
        self.prior = prior

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        _stance[0] = self.prior
        return False


def set_stance(stance="default", *, skip_guard_eval_unsafe=False, force_backend=None):
    """Set how torch.compile behaves (recorded; ember runs eagerly whatever the stance); usable as a context manager."""
    # torch records any name here and only rejects an unknown one when a compiled function runs
    if force_backend is not None and stance != "default":
        raise RuntimeError("non-default stance cannot have force_backend set")
    prior, _stance[0] = _stance[0], stance
    return _Stance(prior)


def list_backends(exclude_tags=("debug", "experimental")):
    """The backend names torch.compile accepts by default."""
    return ["cudagraphs", "inductor", "openxla", "tvm"]


def get_default_backend():
    """The backend torch.compile uses when none is given ('inductor' unless set)."""
    return _default_backend[0]


def set_default_backend(backend):
    """Change the backend torch.compile uses by default (None restores 'inductor')."""
    _default_backend[0] = "inductor" if backend is None else backend


def cudagraph_mark_step_begin():
    """Mark the start of a CUDA-graph step (no CUDA graphs in ember: nothing to do)."""


def set_enable_guard_collectives(enabled):
    """Record whether guards run collectives; returns the previous setting."""
    prior, _guard_collectives[0] = _guard_collectives[0], enabled
    return prior


_guard_collectives = [False]


def save_cache_artifacts():
    """The compiler's portable caches: None, as torch returns when nothing was compiled."""
    return None


def load_cache_artifacts(serialized_artifacts):
    """Load portable caches (nothing to load into): None."""
    return None


def _guard_filter(name):
    def fn(guard_entries):
        """A guard filter for torch.compile(options={'guard_filter_fn': ...}): keeps every guard here."""
        return [True for _ in guard_entries]
    fn.__name__ = name
    return fn


skip_guard_on_inbuilt_nn_modules_unsafe = _guard_filter("skip_guard_on_inbuilt_nn_modules_unsafe")
skip_guard_on_all_nn_modules_unsafe = _guard_filter("skip_guard_on_all_nn_modules_unsafe")
keep_tensor_guards_unsafe = _guard_filter("keep_tensor_guards_unsafe")
skip_guard_on_globals_unsafe = _guard_filter("skip_guard_on_globals_unsafe")
skip_all_guards_unsafe = _guard_filter("skip_all_guards_unsafe")
keep_portable_guards_unsafe = _guard_filter("keep_portable_guards_unsafe")


def nested_compile_region(fn=None, *, options=None, max_reuse_entries=8, reuse_hash_fn=None):
    """Mark a region compiled once and reused: fn unchanged (or a decorator returning it)."""
    if fn is None:
        return lambda f: f
    return fn
