"""torch.autograd.functional: Jacobians, Hessians and their products with vectors, by reverse mode.

Each is built from autograd.grad; the second-order ones (hessian, vhp, hvp, jvp) differentiate a
gradient, so they run through the ops that support create_graph=True (autograd/higher_order.py).
"""
from . import grad as _grad

__all__ = ["vjp", "jvp", "jacobian", "hessian", "vhp", "hvp"]


def _as_tuple(x, arg_name, fn_name):
    from .._tensor import Tensor
    is_tuple = isinstance(x, tuple)
    xs = x if is_tuple else (x,)
    for i, el in enumerate(xs):
        if not isinstance(el, Tensor):
            where = f"The {arg_name} given to {fn_name} must be either a Tensor or a tuple of Tensors"
            raise TypeError(f"{where} but the value at index {i} has type {type(el).__name__}."
                            if is_tuple else f"{where} but the given {arg_name} has type {type(el).__name__}.")
    return is_tuple, xs


def _prepare(inputs, create_graph):
    # fresh leaves (or, to build on an existing graph, views that keep it)
    return tuple(t.view_as(t) if create_graph and t.requires_grad else t.detach().requires_grad_(True)
                 for t in inputs)


# strict=True: what a tensor that does not require grad means, by what it is (torch's messages)
_NO_GRAD = {
    "outputs": "Output {} of the user-provided function does not require gradients. The outputs must be computed "
               "in a differentiable manner from the input when running in strict mode.",
    "grad_inputs": "The gradient with respect to input {} is independent of the inputs of the user-provided "
                   "function. This is not allowed in strict mode.",
    "jacobian": "While computing the hessian, found that the jacobian of the user-provided function with respect "
                "to input {} is independent of the input. This is not allowed in strict mode. You should ensure "
                "that your function is twice differentiable and that the jacobian depends on the inputs (this "
                "would be violated by a linear function for example).",
}
# strict=True: a gradient that is None, by the stage that asked for it
_INDEPENDENT = {
    "back": "The output of the user-provided function is independent of input {}. This is not allowed in strict "
            "mode.",
    "back_trick": "The gradient with respect to the input is independent of entry {} in the grad_outputs when using "
                  "the double backward trick to compute forward mode gradients. This is not allowed in strict mode.",
    "double_back": "The jacobian of the user-provided function is independent of input {}. This is not allowed in "
                   "strict mode.",
}


def _check_requires_grad(tensors, kind, strict):
    """strict=True: refuse outputs (or intermediate gradients) that do not depend on the inputs."""
    if not strict:
        return
    for i, t in enumerate(tensors):
        if t is None:
            raise RuntimeError(_INDEPENDENT["back"].format(i))
        if not t.requires_grad:
            raise RuntimeError(_NO_GRAD[kind].format(i))


def _fill_zeros(grads, refs, strict=False, create_graph=False, stage="back"):
    """Zeros where a gradient is None (an unused input); strict=True refuses that instead."""
    from .. import zeros_like
    out = []
    for i, (g, r) in enumerate(zip(grads, refs)):
        if g is None:
            if strict:
                raise RuntimeError(_INDEPENDENT[stage].format(i))
            g = zeros_like(r)
        elif strict and create_graph and not g.requires_grad:
            what = "hessian" if stage.startswith("double") else "jacobian"
            raise RuntimeError(f"The {what} of the user-provided function is independent of input {i}. This is "
                               "not allowed in strict mode when create_graph=True.")
        out.append(g)
    return tuple(out)


def _finish(xs, create_graph):
    return tuple(x if create_graph else x.detach() for x in xs)


def _check_v(v, outputs, fn_name):
    if v is None:
        if len(outputs) != 1 or outputs[0].numel() != 1:
            raise RuntimeError("The vector v can only be None if the user-provided function returns a single "
                               "Tensor with a single element.")
        from .. import ones_like
        return (ones_like(outputs[0]),)
    _, v = _as_tuple(v, "v", fn_name)
    if len(v) != len(outputs):
        raise RuntimeError(f"v is a tuple of invalid length: should be {len(outputs)} but got {len(v)}.")
    for i, (vi, o) in enumerate(zip(v, outputs)):
        if tuple(vi.shape) != tuple(o.shape):
            raise RuntimeError(f"Entry {i} in v has invalid size: should be {list(o.shape)} but got "
                               f"{list(vi.shape)}.")
    return v


def _input_v(v, inputs, fn_name):
    """v as a tuple shaped like inputs (ones when the input is a single one-element tensor)."""
    if v is None:
        if len(inputs) != 1 or inputs[0].numel() != 1:
            raise RuntimeError("The vector v can only be None if the input to the user-provided function is a "
                               "single Tensor with a single element.")
        from .. import ones_like
        return (ones_like(inputs[0]),)
    return _as_tuple(v, "v", fn_name)[1]


def _raw_grads(outputs, inputs, grad_outputs, create_graph):
    """grad of outputs w.r.t. inputs, None where an input is unused or no output requires grad."""
    pairs = [(o, g) for o, g in zip(outputs, grad_outputs) if o is not None and o.requires_grad]
    if not pairs:
        return (None,) * len(inputs)
    return _grad([o for o, _ in pairs], inputs, [g for _, g in pairs], retain_graph=True, create_graph=create_graph,
                 allow_unused=True)


def _grads(outputs, inputs, grad_outputs, create_graph, strict=False, stage="back"):
    """grad of outputs w.r.t. inputs, zeros where an input is unused (refused in strict mode)."""
    return _fill_zeros(_raw_grads(outputs, inputs, grad_outputs, create_graph), inputs, strict, create_graph, stage)


def vjp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), v^T J): the vector-Jacobian product of func at inputs."""
    is_tuple, inputs = _as_tuple(inputs, "inputs", "vjp")
    inputs = _prepare(inputs, create_graph)
    out_tuple, outputs = _as_tuple(func(*inputs), "outputs of the user-provided function", "vjp")
    _check_requires_grad(outputs, "outputs", strict)
    v = _check_v(v, outputs, "vjp")
    res = _finish(_grads(outputs, inputs, v, create_graph, strict), create_graph)
    outputs = _finish(outputs, create_graph)
    return (outputs if out_tuple else outputs[0]), (res if is_tuple else res[0])


def jvp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), J v): the Jacobian-vector product, by differentiating a vector-Jacobian product
    with respect to its vector (the double-backward trick)."""
    from .. import zeros_like
    is_tuple, inputs = _as_tuple(inputs, "inputs", "jvp")
    inputs = _prepare(inputs, create_graph)
    v = _input_v(v, inputs, "jvp")
    out_tuple, outputs = _as_tuple(func(*inputs), "outputs of the user-provided function", "jvp")
    _check_requires_grad(outputs, "outputs", strict)
    u = tuple(zeros_like(o).requires_grad_(True) for o in outputs)
    g = _raw_grads(outputs, inputs, u, True)
    _check_requires_grad(g, "grad_inputs", strict)
    res = _finish(_grads(g, u, v, create_graph, strict, "back_trick"), create_graph)
    outputs = _finish(outputs, create_graph)
    return (outputs if out_tuple else outputs[0]), (res if out_tuple else res[0])


def jacobian(func, inputs, create_graph=False, strict=False, vectorize=False, strategy="reverse-mode"):
    """The Jacobian of func at inputs, one reverse pass per output element: output.shape + input.shape
    (strategy='forward-mode' gives the same numbers, also computed in reverse mode)."""
    from .. import stack
    _check_strategy(strategy, create_graph, strict, vectorize)
    is_tuple, inputs = _as_tuple(inputs, "inputs", "jacobian")
    inputs = _prepare(inputs, create_graph)
    out_tuple, outputs = _as_tuple(func(*inputs), "outputs of the user-provided function", "jacobian")
    _check_requires_grad(outputs, "outputs", strict)
    jac = []
    for k, out in enumerate(outputs):
        flat = out.reshape(-1)
        rows = [[] for _ in inputs]
        for j in range(flat.numel()):
            for i, g in enumerate(_raw_grads((flat[j],), inputs, (None,), create_graph)):
                if g is None:
                    if strict:
                        raise RuntimeError(f"Output {k} of the user-provided function is independent of input {i}. "
                                           "This is not allowed in strict mode.")
                    g = inputs[i].new_zeros(inputs[i].shape)
                elif strict and create_graph and not g.requires_grad:
                    raise RuntimeError(f"The jacobian of the user-provided function is independent of input {k}. "
                                       "This is not allowed in strict mode when create_graph=True.")
                rows[i].append(g)
        per_input = []
        for i, inp in enumerate(inputs):
            shape = tuple(out.shape) + tuple(inp.shape)
            block = stack(rows[i]).reshape(shape) if rows[i] else inp.new_zeros(shape)
            per_input.append(block)
        jac.append(_finish(per_input, create_graph))
    if not out_tuple:
        return jac[0] if is_tuple else jac[0][0]
    return tuple(j if is_tuple else j[0] for j in jac)


def _check_strategy(strategy, create_graph, strict, vectorize):
    """torch's rules for jacobian's strategy, vectorize and strict (they change no number here)."""
    if strategy not in ("forward-mode", "reverse-mode"):
        raise AssertionError('Expected strategy to be either "forward-mode" or "reverse-mode". Hint: If your '
                             'function has more outputs than inputs, "forward-mode" tends to be more performant. '
                             'Otherwise, prefer to use "reverse-mode".')
    if strategy == "forward-mode":
        if create_graph:
            raise NotImplementedError('torch.autograd.functional.jacobian: `create_graph=True` and `strategy='
                                      '"forward-mode"` are not supported together (yet). Please either set '
                                      '`create_graph=False` or `strategy="reverse-mode"`.')
        if strict:
            raise RuntimeError('torch.autograd.functional.jacobian: `strict=True` and `strategy="forward-mode"` '
                               'are not supported together (yet). Please either set `strict=False` or '
                               '`strategy="reverse-mode"`.')
        if not vectorize:
            raise NotImplementedError("Computing Jacobian using forward-AD or forward-over-reverse Hessian is only "
                                      "implemented for `vectorize=True`.")
    elif vectorize and strict:
        raise RuntimeError("torch.autograd.functional.jacobian: `strict=True` and `vectorized=True` are not "
                           "supported together. Please either set `strict=False` or `vectorize=False`.")


def hessian(func, inputs, create_graph=False, strict=False, vectorize=False, outer_jacobian_strategy="reverse-mode"):
    """The Hessian of a scalar func at inputs: the Jacobian of its gradient, input.shape + input.shape."""
    is_tuple, inputs = _as_tuple(inputs, "inputs", "hessian")
    if outer_jacobian_strategy not in ("forward-mode", "reverse-mode"):
        raise AssertionError('Expected strategy to be either "forward-mode" or "reverse-mode".')

    def scalar(*inp):
        out = func(*inp)
        out_tuple, outs = _as_tuple(out, "outputs of the user-provided function", "hessian")
        _check_requires_grad(outs, "outputs", strict)
        if out_tuple or outs[0].numel() != 1:
            raise RuntimeError("The function given to hessian should return a single Tensor"
                               if out_tuple else "The Tensor returned by the function given to hessian should "
                               f"contain a single element (got shape {list(outs[0].shape)})")
        return outs[0].squeeze()

    def jac(*inp):
        j = jacobian(scalar, inp, create_graph=True)
        _check_requires_grad(j, "jacobian", strict)
        return j
    res = jacobian(jac, inputs, create_graph=create_graph, strict=strict, vectorize=vectorize,
                   strategy=outer_jacobian_strategy)
    return res if is_tuple else res[0][0]


def vhp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), v^T H) for a scalar func."""
    is_tuple, inputs = _as_tuple(inputs, "inputs", "vhp")
    inputs = _prepare(inputs, create_graph)
    out_tuple, outputs = _as_tuple(func(*inputs), "outputs of the user-provided function", "vhp")
    _check_requires_grad(outputs, "outputs", strict)
    if out_tuple or outputs[0].numel() != 1:
        raise RuntimeError("The function given to vhp should return a single Tensor with a single element")
    v = _input_v(v, inputs, "vhp")
    g = _raw_grads(outputs, inputs, (None,), True)
    _check_requires_grad(g, "jacobian", strict)
    res = _finish(_grads(g, inputs, v, create_graph, strict, "double_back"), create_graph)
    return _finish(outputs, create_graph)[0], (res if is_tuple else res[0])


def hvp(func, inputs, v=None, create_graph=False, strict=False):
    """(func(inputs), H v) for a scalar func (the Hessian of a twice-differentiable function is
    symmetric, so this is v^T H transposed)."""
    return vhp(func, inputs, v, create_graph, strict)
