"""torch.ops.profiler: a record_function range as two calls, which torch.fx can record where it cannot
record a `with` block (pytorch/examples' fx/profiling_tracer.py emits them)."""


def _record_function_enter(name, args=None):
    """Open a profiler range named `name`; returns the handle that _record_function_exit closes."""
    from ..autograd.profiler import record_function
    rf = record_function(name, args)
    rf.__enter__()
    return rf


def _record_function_exit(handle):
    """Close the range _record_function_enter opened."""
    handle.__exit__(None, None, None)
