"""gradcheck: compare autograd's gradients with float64 central differences."""
import numpy as np


class GradcheckError(RuntimeError):
    """Raised by gradcheck when analytical and numerical gradients disagree."""


def _numerical(fn, inputs, i, eps):
    from .._tensor import _wrap
    x = inputs[i]
    flat = x._data.reshape(-1)
    out0 = fn(*inputs)
    outs = out0 if isinstance(out0, tuple) else (out0,)
    jac = [np.zeros((flat.size, o.numel())) for o in outs]
    for k in range(flat.size):
        orig = flat[k]
        flat[k] = orig + eps
        plus = fn(*inputs)
        flat[k] = orig - eps
        minus = fn(*inputs)
        flat[k] = orig
        plus = plus if isinstance(plus, tuple) else (plus,)
        minus = minus if isinstance(minus, tuple) else (minus,)
        for j, (p, m) in enumerate(zip(plus, minus)):
            jac[j][k] = ((p._data.astype(np.float64) - m._data.astype(np.float64)) / (2 * eps)).reshape(-1)
    del _wrap
    return jac


def _forward_ad_jacobian(func, inputs, i, j, x, o):
    """Jacobian of output j w.r.t. input i (rows: input elements), one forward-AD tangent per input element."""
    from . import forward_ad as fwAD
    from .. import contiguous_format, zeros_like
    jac = np.zeros((x.numel(), o.numel()))
    for k in range(x.numel()):
        tangent = zeros_like(x, memory_format=contiguous_format)  # row-major, so view(-1) reaches element k
        tangent.view(-1)[k] = 1
        with fwAD.dual_level():
            args = list(inputs)
            args[i] = fwAD.make_dual(x.detach(), tangent)
            out = func(*args)
            out = out[j] if isinstance(out, tuple) else out
            t = fwAD.unpack_dual(out).tangent
        if t is not None:
            jac[k] = t._data.reshape(-1)
    return jac


def gradcheck(func, inputs, *, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True, check_forward_ad=False,
              check_backward_ad=True, **kwargs):
    """True if func's autograd gradients (reverse mode, and forward mode when check_forward_ad) match finite
    differences for every input requiring grad."""
    from .._tensor import Tensor, _wrap
    from . import grad as autograd_grad
    from .grad_mode import no_grad
    if isinstance(inputs, Tensor):
        inputs = (inputs,)
    inputs = tuple(inputs)
    out = func(*inputs)
    outs = out if isinstance(out, tuple) else (out,)
    for i, x in enumerate(inputs):
        if not (isinstance(x, Tensor) and x.requires_grad):
            continue
        if x.dtype.name != "float64":
            import warnings
            warnings.warn(f"Input #{i} requires gradient and is not a double precision floating point; "
                          "gradcheck is only reliable in float64")
        with no_grad():
            numerical = _numerical(func, inputs, i, eps)
        for j, o in enumerate(outs):
            if check_forward_ad and (o.is_floating_point() or o.is_complex()):
                forward = _forward_ad_jacobian(func, inputs, i, j, x, o)
                if not np.allclose(forward, numerical[j], atol=atol, rtol=rtol):
                    if raise_exception:
                        raise GradcheckError(
                            f"Jacobian computed with forward mode mismatch for output {j} with respect to input {i},"
                            f"\nnumerical:{numerical[j]}\nanalytical:{forward}\n")
                    return False
            if not check_backward_ad or not o.requires_grad:
                continue
            analytical = np.zeros((x.numel(), o.numel()))
            for k in range(o.numel()):
                go = np.zeros(o._data.size, dtype=o._data.dtype)
                go[k] = 1
                out_k = func(*inputs)
                out_k = out_k[j] if isinstance(out_k, tuple) else out_k
                (g,) = autograd_grad(out_k, x, _wrap(go.reshape(o._data.shape)), allow_unused=True)
                if g is not None:
                    analytical[:, k] = g._data.reshape(-1)
            if not np.allclose(analytical, numerical[j], atol=atol, rtol=rtol):
                if raise_exception:
                    raise GradcheckError(
                        f"Jacobian mismatch for output {j} with respect to input {i},\n"
                        f"numerical:{numerical[j]}\nanalytical:{analytical}\n")
                return False
    return True


def gradgradcheck(func, inputs, grad_outputs=None, *, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True,
                  **kwargs):
    """gradcheck of the gradients themselves: d(grad of func)/d(inputs, grad_outputs), by create_graph.

    As torch's: grad_outputs default to random values in [-1, 1) that require grad."""
    from .._tensor import Tensor
    from . import grad as autograd_grad
    from .grad_mode import enable_grad
    if isinstance(inputs, Tensor):
        inputs = (inputs,)
    inputs = tuple(inputs)
    if grad_outputs is None:
        out = func(*inputs)
        outs = out if isinstance(out, tuple) else (out,)
        grad_outputs = tuple(o.new_empty(o.shape).uniform_(-1, 1).requires_grad_()
                             for o in outs if isinstance(o, Tensor) and o.requires_grad)
    elif isinstance(grad_outputs, Tensor):
        grad_outputs = (grad_outputs,)
    grad_outputs = tuple(grad_outputs)
    n_out = len(grad_outputs)
    diff = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]

    def grads_of(*args):
        with enable_grad():  # gradcheck takes its finite differences under no_grad
            out = func(*args[:-n_out])
            outs = out if isinstance(out, tuple) else (out,)
            outs = tuple(o for o in outs if isinstance(o, Tensor) and o.requires_grad)
            gs = autograd_grad(outs, [args[i] for i in diff], args[-n_out:], create_graph=True, allow_unused=True)
        return tuple(g for g in gs if g is not None)

    return gradcheck(grads_of, inputs + grad_outputs, eps=eps, atol=atol, rtol=rtol,
                     raise_exception=raise_exception)
