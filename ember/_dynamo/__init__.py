"""torch._dynamo: the graph compiler behind torch.compile, as far as scripts reach into it.

ember compiles nothing (see ember/_compile.py): reset() has no caches to clear, the markers return
what they are given, and OptimizedModule (eval_frame) is the wrapper torch.compile(module) returns.
"""
from ..compiler import (allow_in_graph, assume_constant_result, disable, is_compiling, list_backends,  # noqa: F401
                        reset, set_stance, substitute_in_graph)
from . import config, eval_frame  # noqa: F401
from .eval_frame import OptimizedModule

__all__ = ["OptimizedModule", "allow_in_graph", "assume_constant_result", "config", "disable", "eval_frame",
           "is_compiling", "list_backends", "mark_dynamic", "mark_static", "maybe_mark_dynamic", "reset",
           "set_stance", "substitute_in_graph"]


def mark_dynamic(t, index, *, hint_override=None, min=None, max=None, specialize_on=None):
    """Mark dimension(s) index of t as dynamic for the compiler: nothing to do in ember."""


def maybe_mark_dynamic(t, index):
    """Hint that dimension(s) index of t may be dynamic: nothing to do in ember."""


def mark_static(t, index=None):
    """Mark dimension(s) of t (or a module) as static for the compiler: nothing to do in ember."""
