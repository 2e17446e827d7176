"""Muon (torch.optim.Muon): momentum, then the update orthogonalised by a Newton-Schulz iteration.

torch runs the Newton-Schulz iteration in bfloat16. NumPy has no bfloat16, so the iteration here
holds float32 arrays rounded to bfloat16 (round to nearest even) wherever torch stores a bfloat16
result: the input cast, the norm, the division and each matrix product (accumulated in float32, as
torch's CPU kernels do). The update therefore carries torch's bfloat16 rounding, step for step.
"""
import math

import numpy as np

from .._backend import xp_of
from .._fma import fma32, fma64
from .._tensor import Tensor, _wrap
from ..autograd.grad_mode import no_grad
from .optimizer import Optimizer, _run_closure, _to_float

__all__ = ["Muon"]

# Keller Jordan's constants (https://kellerjordan.github.io/posts/muon/), as torch's
EPS = 1e-7
DEFAULT_A = 3.4445
DEFAULT_B = -4.7750
DEFAULT_C = 2.0315
DEFAULT_NS_STEPS = 5


def _bf16(a):
    """float32 array a rounded to the nearest bfloat16 value (ties to even), kept as float32."""
    xp = xp_of(a)
    a = xp.ascontiguousarray(a, dtype=np.float32)
    u = a.view(np.uint32)
    rounded = (u + (np.uint32(0x7FFF) + ((u >> np.uint32(16)) & np.uint32(1)))) & np.uint32(0xFFFF0000)
    out = rounded.view(np.float32)
    return xp.where(xp.isnan(a), a, out)  # NaN stays NaN (rounding could carry it into inf)


def _lerp(start, end, weight):
    """torch's vectorized CPU lerp: fma(w, end - start, start) for |w| < 0.5, else
    fma(-(end - start), 1 - w, end), in the arrays' precision (w rounded to it first)."""
    dt = start.dtype
    w = dt.type(weight)
    diff = end - start
    if type(start) is np.ndarray and dt in (np.float32, np.float64):
        fma = fma32 if dt == np.float32 else fma64
        out = fma(w, diff, start) if abs(w) < 0.5 else fma(-diff, dt.type(1) - w, end)
        return np.asarray(out, dtype=dt)
    return start + w * diff if abs(w) < 0.5 else end - diff * (dt.type(1) - w)


def _zeropower_via_newtonschulz(grad, ns_coefficients, ns_steps, eps):
    """The orthogonalised (U S' V^T, S' ~ 1) form of the 2-d array grad, in bfloat16 precision."""
    if ns_steps >= 100:
        raise ValueError("Number of steps must be less than 100 for computational efficiency")
    if grad.ndim != 2:
        raise ValueError("Input tensor gradient must be a 2D matrix")
    if len(ns_coefficients) != 3:
        raise ValueError("Coefficients must be a tuple of exactly 3 values")
    xp = xp_of(grad)
    a, b, c = (np.float32(v) for v in ns_coefficients)
    x = _bf16(grad.astype(np.float32, copy=False))
    tall = grad.shape[0] > grad.shape[1]
    if tall:
        x = x.T
    # spectral norm at most 1: divide by the Frobenius norm (kept at least eps)
    norm = _bf16(xp.sqrt(xp.sum(x.astype(np.float64) ** 2)).astype(np.float32))
    norm = xp.maximum(norm, _bf16(xp.asarray(eps, dtype=np.float32)))
    x = _bf16(x / norm)
    # addmm's beta * C + alpha * (A @ B) is combined with one rounding (float64 here), then stored as bfloat16
    a, b, c = (np.float64(v) for v in (a, b, c))
    for _ in range(ns_steps):
        gram = _bf16(x @ x.T)
        update = _bf16((c * (gram @ gram).astype(np.float64) + b * gram).astype(np.float32))
        x = _bf16(((update @ x).astype(np.float64) + a * x).astype(np.float32))
    return x.T if tall else x


def _adjust_lr(lr, adjust_lr_fn, param_shape):
    """lr scaled for the matrix shape: sqrt(max(1, A/B)) ('original') or 0.2 sqrt(max(A, B)) ('match_rms_adamw')."""
    A, B = param_shape[:2]
    if adjust_lr_fn is None or adjust_lr_fn == "original":
        ratio = math.sqrt(max(1, A / B))
    elif adjust_lr_fn == "match_rms_adamw":
        ratio = 0.2 * math.sqrt(max(A, B))
    else:
        ratio = 1.0
    return lr * ratio


class Muon(Optimizer):
    """Muon for 2-d parameters: Nesterov momentum, Newton-Schulz orthogonalisation, decoupled weight decay."""

    _sparse_refusal = "Muon does not support sparse gradients"

    def __init__(self, params, lr=1e-3, weight_decay=0.1, momentum=0.95, nesterov=True,
                 ns_coefficients=(DEFAULT_A, DEFAULT_B, DEFAULT_C), eps=EPS, ns_steps=DEFAULT_NS_STEPS,
                 adjust_lr_fn=None):
        if isinstance(lr, Tensor) and lr.numel() != 1:
            raise ValueError("Tensor lr must be 1-element")
        if not 0.0 <= lr:
            raise ValueError(f"Learning rate should be >= 0 but is: {lr}")
        if not 0.0 <= momentum:
            raise ValueError(f"momentum should be >= 0 but is: {momentum}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"weight decay should be >= 0 but is: {weight_decay}")
        if adjust_lr_fn is not None and adjust_lr_fn not in ("original", "match_rms_adamw"):
            raise ValueError(f"Adjust learning rate function {adjust_lr_fn} is not supported")
        defaults = {"lr": lr, "weight_decay": weight_decay, "momentum": momentum, "nesterov": nesterov,
                    "ns_coefficients": ns_coefficients, "eps": eps, "ns_steps": ns_steps,
                    "adjust_lr_fn": adjust_lr_fn}
        super().__init__(params, defaults)
        for group in self.param_groups:
            for p in group["params"]:
                if p.ndim != 2:
                    raise ValueError("Muon only supports 2D parameters whereas we found a parameter with size: "
                                     f"{p.size()} (optimize biases, norms and embeddings with AdamW instead)")

    def step(self, closure=None):
        """Perform a single optimization step; returns closure()'s loss when given."""
        loss = _run_closure(closure)
        for group in self.param_groups:
            lr = _to_float(group["lr"])
            weight_decay = _to_float(group["weight_decay"])
            momentum = _to_float(group["momentum"])
            for p in group["params"]:
                g = p.grad
                if g is None:
                    continue
                if p.is_complex():
                    raise RuntimeError("Muon does not support complex parameters")
                if g.ndim != 2:
                    raise ValueError("Param gradient must be a 2D matrix")
                st = self.state[p]
                if "momentum_buffer" not in st:
                    st["momentum_buffer"] = _wrap(xp_of(g._data).zeros_like(g._data))
                buf = st["momentum_buffer"]
                buf._data[...] = _lerp(buf._data, g._data, 1 - momentum)
                upd = _lerp(g._data, buf._data, momentum) if group["nesterov"] else buf._data
                upd = _zeropower_via_newtonschulz(upd, group["ns_coefficients"], group["ns_steps"], group["eps"])
                adjusted = _adjust_lr(lr, group["adjust_lr_fn"], p.shape)
                with no_grad():  # torch's mul_ and add_(alpha=) kernels, rounding included
                    p.mul_(1 - lr * weight_decay)
                    p.add_(_wrap(upd.astype(p._data.dtype, copy=False)), alpha=-adjusted)
        return loss
