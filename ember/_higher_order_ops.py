"""torch.cond, torch.while_loop and the torch.sym_* helpers, run eagerly.

torch compiles cond and while_loop with dynamo even in eager code (over a second for the first call);
ember calls the chosen branch / the loop body directly: the same values and gradients. Outside
tracing, torch's sym_* functions are Python's own arithmetic, as here.
"""
import builtins
import math

__all__ = ["cond", "while_loop", "sym_int", "sym_float", "sym_max", "sym_min", "sym_not", "sym_sqrt", "sym_sum",
           "sym_ite"]


def _pred(pred, what):
    from ._tensor import Tensor
    if isinstance(pred, Tensor):
        if pred.numel() != 1:
            raise RuntimeError(f"Expected {what} to be bool or single-element tensor, but got {pred}.")
        return bool(pred.item())
    if not isinstance(pred, (bool, int)):
        raise RuntimeError(f"Expected {what} to be bool or single-element tensor, but got {pred!r} "
                           f"({type(pred).__name__}).")
    return bool(pred)


def cond(pred, true_fn, false_fn, operands=()):
    """true_fn(*operands) if pred holds, else false_fn(*operands); pred: a bool or a one-element tensor."""
    if not isinstance(operands, (tuple, list)):
        raise RuntimeError("Expect operands to be a tuple of possibly nested dict/list/tuple that only consists "
                           f"of tensor leaves, but got {operands!r}.")
    return (true_fn if _pred(pred, "pred") else false_fn)(*operands)


def while_loop(cond_fn, body_fn, carried_inputs):
    """Apply body_fn to the carried values while cond_fn(*carried) holds; returns the final values, shaped
    as body_fn returns them (torch traces body_fn for that shape: when the loop never runs, ember can only
    return the carried_inputs tuple)."""
    if not isinstance(carried_inputs, (tuple, list)):
        raise RuntimeError(f"carried_inputs must be a tuple or list, got {type(carried_inputs).__name__}")
    carried, bare = tuple(carried_inputs), False
    while _pred(cond_fn(*carried), "cond_fn's output"):
        out = body_fn(*carried)
        bare = not isinstance(out, (tuple, list))
        carried = (out,) if bare else tuple(out)
        if len(carried) != len(carried_inputs):
            raise RuntimeError(f"body_fn should return as many values as carried_inputs ({len(carried_inputs)}), "
                               f"got {len(carried)}")
    return carried[0] if bare else carried


def sym_int(a):
    """int(a), truncating a float as torch.sym_int does."""
    return math.trunc(a) if isinstance(a, float) else int(a)


def sym_float(a):
    """float(a)."""
    return float(a)


def sym_max(a, b):
    """max(a, b)."""
    return builtins.max(a, b)


def sym_min(a, b):
    """min(a, b)."""
    return builtins.min(a, b)


def sym_not(a):
    """not a."""
    return not a


def sym_sqrt(a):
    """math.sqrt(a)."""
    return math.sqrt(a)


def sym_sum(args):
    """The sum of args (0 when empty)."""
    return builtins.sum(args)


def sym_ite(b, t, f):
    """t if b else f."""
    return t if b else f
