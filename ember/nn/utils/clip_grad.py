"""Gradient clipping by total norm or by value (torch.nn.utils.clip_grad)."""
import math
import types

import numpy as np

from ..._argcheck import SparseOperand
from ..._tensor import Tensor, _wrap
from ..._userwarn import warn as _warn_user
from ...ops.reduce import power_sum

__all__ = ["clip_grad_norm", "clip_grad_norm_", "clip_grad_value_", "get_total_norm", "clip_grads_with_norm_"]


def _as_list(tensors):
    if isinstance(tensors, Tensor):
        return [tensors]
    return list(tensors)


def _sparse_refusal(op, tensors):
    """torch's NotImplementedError for op on the first sparse tensor among tensors."""
    from ...ops.sparse import refusal
    return refusal(op, next(t for t in tensors if t.is_sparse))


def _norm(a, p):
    """The p-norm of an array (any array module), as a 0-d array of a's dtype."""
    if p in (1, 2) and a.dtype.kind == "f" and a.dtype.itemsize >= 4:
        with np.errstate(over="ignore", under="ignore", invalid="ignore"):
            s = power_sum(a, p)
            return (s ** 0.5 if p == 2 else s).astype(a.dtype)
    a = abs(a)
    if p in (math.inf, -math.inf):
        if a.size == 0:
            sign = "" if p > 0 else "-"
            raise RuntimeError(
                f"linalg.vector_norm cannot compute the {sign}inf norm on an empty tensor because the "
                "operation does not have an identity")
        return a.max() if p > 0 else a.min()
    if p == 0:
        return (a != 0).sum().astype(a.dtype)
    dtype = a.dtype
    if dtype.itemsize < 4:
        # torch accumulates half-precision norms in float32: squares of float16 values above 256 or
        # below 2**-12 would overflow or underflow in float16
        a = a.astype("float32")
    # overflow to inf is the answer, as in torch, without NumPy's RuntimeWarning
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        if p == 1:
            out = a.sum()
        elif p == 2:
            out = (a * a).sum() ** 0.5
        else:
            out = (a ** p).sum() ** (1.0 / p)
        return out.astype(dtype)


def get_total_norm(tensors, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    """The norm of the norms of tensors (as if they were concatenated into one vector)."""
    tensors = _as_list(tensors)
    norm_type = float(norm_type)
    if len(tensors) == 0:
        from ...ops.creation import tensor
        return tensor(0.0)
    try:
        first = tensors[0]._data
        norms = [_norm(t._data, norm_type) for t in tensors]
    except SparseOperand:
        # torch has no norm of a sparse tensor either (embedding(sparse=True)'s gradients)
        raise _sparse_refusal("linalg_vector_norm", tensors) from None
    # torch stacks the per-tensor norms: mixed float32/float64 gradients give a float64 total
    dtype = np.result_type(*[t._data.dtype for t in tensors])
    host = np.array([float(n) for n in norms], dtype=dtype)
    total = np.asarray(_norm(host, norm_type), dtype=dtype)
    if error_if_nonfinite and not np.isfinite(total):
        raise RuntimeError(
            f"The total norm of order {norm_type} for gradients from "
            "`parameters` is non-finite, so it cannot be clipped. To disable "
            "this error and scale the gradients by the non-finite norm anyway, "
            "set `error_if_nonfinite=False`")
    out = _wrap(total)
    if type(first) is not np.ndarray:
        out = out.to(tensors[0].device)
    return out


def clip_grads_with_norm_(parameters, max_norm, total_norm, foreach=None):
    """Scale the gradients of parameters by max_norm / total_norm when that is below 1."""
    grads = [p.grad for p in _as_list(parameters) if p.grad is not None]
    if not grads:
        return
    # torch's arithmetic, in the norm's dtype: max_norm / (total_norm + 1e-6) is
    # (total_norm + 1e-6).reciprocal() * max_norm, clamped to 1; computing it in Python floats
    # instead rounds the coefficient differently (1 ulp) in about a third of the cases
    if isinstance(total_norm, Tensor):
        dt = total_norm.dtype.np.type if total_norm.dtype.is_floating_point else np.float32
        coef = dt(1) / (dt(total_norm.item()) + dt(1e-6))
        coef = min(coef * dt(float(max_norm)), dt(1.0))
    else:
        coef = min(float(max_norm) / (float(total_norm) + 1e-6), 1.0)
    with np.errstate(invalid="ignore", over="ignore"):  # inf * 0 -> nan, as torch (silently)
        for g in grads:
            try:
                data = g._data
            except SparseOperand:   # (a sparse gradient: its stored values scale, as torch's mul_)
                c = g._coo
                data = c.values = c.values.copy()
            data *= data.dtype.type(coef) if type(coef) is float else coef
            g._vc[0] += 1


def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    """Rescale gradients in place so that their total norm is at most max_norm; returns the norm before."""
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    else:
        is_generator = isinstance(parameters, types.GeneratorType)
        parameters = list(parameters)
        if is_generator and len(parameters) == 0:
            _warn_user("`parameters` is an empty generator, no gradient clipping will occur.")
    grads = [p.grad for p in parameters if p.grad is not None]
    total_norm = get_total_norm(grads, norm_type, error_if_nonfinite, foreach)
    clip_grads_with_norm_(parameters, max_norm, total_norm, foreach)
    return total_norm


def clip_grad_norm(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    """Deprecated alias of clip_grad_norm_."""
    _warn_user("`torch.nn.utils.clip_grad_norm` is now deprecated in favor of `torch.nn.utils.clip_grad_norm_`.",
               FutureWarning)
    return clip_grad_norm_(parameters, max_norm, norm_type, error_if_nonfinite, foreach)


def clip_grad_value_(parameters, clip_value, foreach=None):
    """Clamp every gradient element into [-clip_value, clip_value] in place."""
    clip_value = float(clip_value)
    for p in _as_list(parameters):
        g = p.grad
        if g is None:
            continue
        try:
            data = g._data
        except SparseOperand:
            raise _sparse_refusal("clamp_min_", [g]) from None
        data.clip(-clip_value, clip_value, out=data)
        g._vc[0] += 1
