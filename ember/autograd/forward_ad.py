"""torch.autograd.forward_ad: dual tensors and Jacobian-vector products inside a dual level.

How ember does it (a deliberate choice, see the module docstring of autograd.functional.jvp): instead of a
tangent slot on every Tensor and a forward rule per op, make_dual returns a tensor that records the usual
reverse-mode graph, and unpack_dual(out) computes out's tangent exactly by the double-backward trick:
with g(u) = J^T u (linear in a dummy u), J t = d/du <g(u), t>. So every op with a double-backward formula
has forward-mode AD for free, the op files stay untouched and the training hot path pays nothing. An op
without one raises NotImplementedError naming it when its tangent is asked for.

Differences from torch that follow: a dual tensor made from a tensor that did not require grad reports
requires_grad=True inside the level (it is the leaf of the recording) and prints without `tangent=`; ops
run under no_grad() record nothing, so their outputs unpack with tangent None; only one level at a time.
"""
import re
from collections import namedtuple

from .grad_mode import enable_grad

__all__ = ["UnpackedDualTensor", "enter_dual_level", "exit_dual_level", "make_dual", "unpack_dual", "dual_level"]

_current_level = -1
# id(dual) -> (dual, tangent, forced): the duals of the current level; forced = we switched requires_grad on
_duals = {}


def enter_dual_level():
    """Enter a new forward AD level; returns its index (ember, like torch, supports one level at a time)."""
    global _current_level
    if _current_level >= 0:
        raise RuntimeError("Nested forward mode AD is not supported at the moment")
    _current_level = 0
    return _current_level


def exit_dual_level(*, level=None):
    """Exit the forward AD level: every dual tensor of it becomes a plain tensor again."""
    global _current_level
    if level is None:
        level = _current_level
    if level < 0:
        raise RuntimeError("Dual level must be a positive number.")
    if level != _current_level:
        raise RuntimeError("Trying to exit a forward AD level that was not the last one that was created. "
                           "This is not supported.")
    for dual, _, forced in _duals.values():
        if forced:
            dual.requires_grad_(False)
    _duals.clear()
    _current_level = level - 1


def make_dual(tensor, tangent, *, level=None):
    """A dual tensor with primal `tensor` and tangent `tangent`, for the current dual level."""
    if level is None:
        level = _current_level
    if level < 0:
        raise RuntimeError("Trying to create a dual Tensor for forward AD but no level exists, make sure to "
                           "enter_dual_level() first.")
    if not (tensor.is_floating_point() or tensor.is_complex()):
        raise ValueError(f"Expected primal to be floating point or complex, but got: {tensor.dtype}")
    if not (tangent.is_floating_point() or tangent.is_complex()):
        raise ValueError(f"Expected tangent to be floating point or complex, but got: {tangent.dtype}")
    if tuple(tangent.shape) != tuple(tensor.shape):
        raise RuntimeError("Trying to set a forward gradient that has a different size than that of the original "
                           f"Tensor, this is not supported. Tensor is of size {list(tensor.shape)} while the given "
                           f"forward gradient is of size {list(tangent.shape)}.")
    if not tangent.is_contiguous():
        tangent = tangent.contiguous()  # torch too copies a tangent whose layout differs from the primal's
    with enable_grad():
        if tensor.requires_grad:
            dual, forced = tensor.view_as(tensor), False  # stays differentiable w.r.t. the primal, as in torch
        else:
            dual, forced = tensor.detach().requires_grad_(True), True
    _duals[id(dual)] = (dual, tangent, forced)
    return dual


class UnpackedDualTensor(namedtuple("_UnpackedDualTensor", "primal tangent")):
    """The result of unpack_dual: a named tuple (primal, tangent)."""


def unpack_dual(tensor, *, level=None):
    """(primal, tangent) of tensor at the current level; tangent is None when tensor does not depend on a dual."""
    if level is None:
        level = _current_level
    if level < 0 or not _duals:
        return UnpackedDualTensor(tensor, None)
    entry = _duals.get(id(tensor))
    if entry is not None and entry[0] is tensor:
        return UnpackedDualTensor(tensor.detach() if entry[2] else tensor.view_as(tensor), entry[1])
    if not tensor.requires_grad or tensor.grad_fn is None:
        return UnpackedDualTensor(tensor.view_as(tensor), None)  # torch also returns a new view here
    duals = [e for e in _duals.values()]
    primal = tensor.detach() if all(e[2] for e in duals) else tensor
    return UnpackedDualTensor(primal, _tangent(tensor, duals))


def _tangent(out, duals):
    """J t for out by double backward; None when out does not depend on any dual."""
    from . import grad
    from .. import zeros_like
    with enable_grad():
        u = zeros_like(out).requires_grad_(True)
        try:
            gs = grad([out], [d for d, _, _ in duals], grad_outputs=[u], create_graph=True, allow_unused=True)
            used = [(g, t) for g, (_, t, _) in zip(gs, duals) if g is not None]
            if not used:
                return None
            s = sum((g * t.to(g.dtype)).sum() for g, t in used)
            if not s.requires_grad:  # J^T u did not depend on u: J is zero
                return zeros_like(out)
            (jt,) = grad([s], [u], allow_unused=True)
        except (RuntimeError, NotImplementedError) as e:
            # name the op whose backward could not be differentiated (the engine's message says which)
            found = re.search(r"backward of (\w+)", str(e))
            node = found.group(1) if found else out.grad_fn.name()
            op = re.sub(r"Backward\d*$", "", node).lower()
            raise NotImplementedError(
                f"Trying to use forward AD with {op} that does not support it because it has not been implemented "
                f"yet. (ember derives tangents by double backward and {node} has no differentiable backward; "
                "compute this Jacobian in reverse mode, e.g. torch.autograd.functional.jacobian.)") from None
    return zeros_like(out) if jt is None else jt.detach()


def _custom_function_jvp(cls, ctx, args, outputs):
    """Outputs of an autograd.Function defining jvp(ctx, *tangents), made duals carrying the tangents it
    returns; they are new roots of the recording, so their tangents are not propagated twice."""
    from .._tensor import Tensor
    from .. import zeros_like
    tangents = [unpack_dual(a).tangent if isinstance(a, Tensor) else None for a in args]
    if all(t is None for t in tangents):
        return outputs
    tangents = [zeros_like(a) if t is None and isinstance(a, Tensor) else t for a, t in zip(args, tangents)]
    single = not isinstance(outputs, tuple)
    outs = (outputs,) if single else outputs
    t_outs = cls.jvp(ctx, *tangents)
    t_outs = (t_outs,) if not isinstance(t_outs, tuple) else t_outs
    if len(t_outs) != len(outs):
        raise RuntimeError(f"{cls.__name__}.jvp returned {len(t_outs)} tangents for {len(outs)} outputs; "
                           "return one tangent per forward output")
    duals = []
    for o, t in zip(outs, t_outs):
        if isinstance(o, Tensor) and t is not None and (o.is_floating_point() or o.is_complex()):
            d = o.detach().requires_grad_(True)
            _duals[id(d)] = (d, t, True)
            o = d
        duals.append(o)
    return duals[0] if single else tuple(duals)


class dual_level:
    """Context manager (and decorator) scoping one forward AD level: `with fwAD.dual_level(): ...`."""

    def __enter__(self):
        return enter_dual_level()

    def __exit__(self, exc_type, exc_value, traceback):
        exit_dual_level()

    def __call__(self, fn):
        import functools

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with self.__class__():
                return fn(*args, **kwargs)
        return wrapper
