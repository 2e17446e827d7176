"""gradcheck: compare autograd's gradients with float64 central differences."""
import numpy as np


class GradcheckError(RuntimeError):
    """Raised by gradcheck when analytical and numerical gradients disagree."""


def _as_tuple(x):
    return x if isinstance(x, tuple) else tuple(x) if isinstance(x, list) else (x,)


def _numerical(fn, inputs, x, eps):
    """d(every output)/d(x) by central differences, one (x.numel(), output.numel()) float64 matrix each."""
    a = x._data
    outs = _as_tuple(fn(*inputs))
    jac = [np.zeros((a.size, o.numel())) for o in outs]
    # element by element in a's logical order, through its own strides (a reshape of a strided array would
    # perturb a copy)
    for k, idx in enumerate(np.ndindex(a.shape)):
        orig = a[idx].copy()
        a[idx] = orig + eps
        plus = _as_tuple(fn(*inputs))
        a[idx] = orig - eps
        minus = _as_tuple(fn(*inputs))
        a[idx] = orig
        for j, (p, m) in enumerate(zip(plus, minus)):
            jac[j][k] = ((p._data.astype(np.float64) - m._data.astype(np.float64)) / (2 * eps)).reshape(-1)
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


def _analytical(output, diff_inputs, nondet_tol, check_grad_dtypes):
    """d(output)/d(each input) by backward, row by row of the output; computed twice, as torch does, to
    catch a backward that gives different values for the same grad_output."""
    from .._tensor import _wrap
    from . import grad as autograd_grad

    def jacobians():
        jacs = [np.zeros((x.numel(), output.numel())) for x in diff_inputs]
        types_ok = sizes_ok = True
        for k in range(output.numel()):
            go = np.zeros(output._data.size, dtype=output._data.dtype)
            go[k] = 1
            grads = autograd_grad(output, diff_inputs, _wrap(go.reshape(output._data.shape)), retain_graph=True,
                                  allow_unused=True)
            for jac, g, x in zip(jacs, grads, diff_inputs):
                if g is None:
                    continue
                types_ok = types_ok and g.dtype == x.dtype
                if g.shape != x.shape:
                    sizes_ok = False
                    continue
                jac[:, k] = g._data.reshape(-1)
        return jacs, types_ok, sizes_ok

    first, types_ok, sizes_ok = jacobians()
    second = jacobians()[0]
    if not types_ok and check_grad_dtypes:
        raise GradcheckError("Gradient has dtype mismatch")
    if not sizes_ok:
        raise GradcheckError("Analytical gradient has incorrect size")
    if any(a.shape != b.shape or (a.size and np.abs(a - b).max() > nondet_tol) for a, b in zip(first, second)):
        raise GradcheckError(
            "Backward is not reentrant, i.e., running backward with same input and grad_output multiple times "
            "gives different values, although analytical gradient matches numerical gradient."
            f"The tolerance for nondeterminism was {nondet_tol}.\n\nIf the op is meant to be nondeterministic, "
            "pass a tolerance: gradcheck(..., nondet_tol=<tol>).")
    return first


def _check_inputs(inputs):
    from .._tensor import Tensor
    any_requiring_grad = False
    for i, x in enumerate(inputs):
        if not (isinstance(x, Tensor) and x.requires_grad):
            continue
        if x.dtype.name not in ("float64", "complex128"):
            import warnings
            warnings.warn(f"Input #{i} requires gradient and is not a double precision floating point or complex. "
                          "This check will likely fail if all the inputs are not of double precision floating point "
                          "or complex. ", stacklevel=4)
        if not all(st > 0 or sz <= 1 for st, sz in zip(x.stride(), x.shape)):
            raise RuntimeError(
                f"The {i}th input has a dimension with stride 0. gradcheck only supports inputs that are "
                "non-overlapping to be able to compute the numerical gradients correctly. You should call "
                ".contiguous on the input before passing it to gradcheck.")
        any_requiring_grad = True
    if not any_requiring_grad:
        raise ValueError("gradcheck expects at least one input tensor to require gradient, but none of them have "
                         "requires_grad=True.")


def _check_backward_scales_with_grad_output(outputs, diff_inputs):
    """A zero grad_output must give zero input gradients of the inputs' dtypes and shapes (torch's
    _test_backward_mul_by_grad_output)."""
    from .. import zeros_like
    from . import grad as autograd_grad
    grads = autograd_grad(outputs, diff_inputs, [zeros_like(o) for o in outputs], allow_unused=True)
    for g, x in zip(grads, diff_inputs):
        if g is None:
            continue
        if not (g._data == 0).all():
            raise GradcheckError("backward not multiplied by grad_output")
        if g.dtype != x.dtype:
            raise GradcheckError("grad is incorrect type")
        if g.device != x.device:
            raise GradcheckError("grad is incorrect device")
        if g.shape != x.shape:
            raise GradcheckError("grad is incorrect size")


def _gradcheck(func, inputs, eps, atol, rtol, nondet_tol, check_grad_dtypes, check_forward_ad, check_backward_ad):
    from .._tensor import Tensor, _wrap
    from .grad_mode import no_grad
    inputs = _as_tuple(inputs)
    _check_inputs(inputs)
    func_out = _as_tuple(func(*inputs))
    outputs = tuple(o for o in func_out if isinstance(o, Tensor) and o.requires_grad)
    diff = [(i, x) for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    with no_grad():
        numerical = [_numerical(func, inputs, x, eps) for _, x in diff]   # [input][output]
    if not outputs:
        if any((jac != 0).any() for per_input in numerical for jac in per_input):
            raise GradcheckError("Numerical gradient for function expected to be zero")
        return True

    def mismatch(analytical, n, out_idx, in_idx, mode=""):
        if not np.allclose(analytical, n, atol=atol, rtol=rtol):
            raise GradcheckError(f"Jacobian {mode}mismatch for output {out_idx:d} with respect to input {in_idx:d},\n"
                                 f"numerical:{_wrap(n)}\nanalytical:{_wrap(analytical)}\n")

    differentiable = [j for j, o in enumerate(func_out) if isinstance(o, Tensor) and o.requires_grad]
    if check_forward_ad:
        for k, (i, x) in enumerate(diff):
            for out_idx, j in enumerate(differentiable):
                o = func_out[j]
                if o.is_floating_point() or o.is_complex():
                    mismatch(_forward_ad_jacobian(func, inputs, i, j, x, o), numerical[k][j], out_idx, k,
                             "computed with forward mode ")
    if not check_backward_ad:
        return True
    diff_inputs = [x for _, x in diff]
    for out_idx, j in enumerate(differentiable):
        for k, analytical in enumerate(_analytical(func_out[j], diff_inputs, nondet_tol, check_grad_dtypes)):
            mismatch(analytical, numerical[k][j], out_idx, k)
    _check_backward_scales_with_grad_output(outputs, diff_inputs)
    return True


def gradcheck(func, inputs, *, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True, nondet_tol=0.0,
              check_undefined_grad=True, check_grad_dtypes=False, check_batched_grad=False,
              check_batched_forward_grad=False, check_forward_ad=False, check_backward_ad=True, fast_mode=False,
              masked=None):
    """True if func's autograd gradients (reverse mode, and forward mode when check_forward_ad) match finite
    differences for every input requiring grad, as torch's slow mode checks them.

    Backward runs twice per output row (its results must agree within nondet_tol), and once with zero
    grad_outputs (it must give zeros). fast_mode runs the same full check. ember has no undefined gradients
    apart from zeros, so check_undefined_grad adds nothing to the zero check, and check_batched_grad nothing to
    the row-by-row one (ember's vmap runs the same backward per row)."""
    if not (check_forward_ad or check_backward_ad):
        raise AssertionError("Expected at least one of check_forward_ad or check_backward_ad to be True")
    if check_batched_grad and not check_backward_ad:
        raise AssertionError("Setting check_batched_grad=True requires check_backward_ad to be True")
    if check_batched_forward_grad and not check_forward_ad:
        raise AssertionError("Setting check_batched_forward_grad=True requires check_forward_ad to be True")
    try:
        return _gradcheck(func, inputs, eps, atol, rtol, nondet_tol, check_grad_dtypes, check_forward_ad,
                          check_backward_ad)
    except GradcheckError:
        if raise_exception:
            raise
        return False


def gradgradcheck(func, inputs, grad_outputs=None, *, eps=1e-6, atol=1e-5, rtol=1e-3,
                  gen_non_contig_grad_outputs=False, raise_exception=True, nondet_tol=0.0, check_undefined_grad=True,
                  check_grad_dtypes=False, check_batched_grad=False, check_fwd_over_rev=False, check_rev_over_rev=True,
                  fast_mode=False, masked=False):
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

    return gradcheck(grads_of, inputs + grad_outputs, eps=eps, atol=atol, rtol=rtol, raise_exception=raise_exception,
                     nondet_tol=nondet_tol, check_grad_dtypes=check_grad_dtypes, check_forward_ad=check_fwd_over_rev,
                     check_backward_ad=check_rev_over_rev)
