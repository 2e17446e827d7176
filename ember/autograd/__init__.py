"""Automatic differentiation: backward, grad, grad modes and custom Functions."""
import numpy as np

from .grad_mode import (enable_grad, inference_mode, is_grad_enabled, no_grad,  # noqa: F401
                        set_grad_enabled, set_multithreading_enabled, is_multithreading_enabled,
                        is_view_replay_enabled, enforce_grad_layout_policy)
from .graph import Node, edge, run_backward
from . import graph  # noqa: F401


def _root_grads(tensors, grad_tensors, what):
    grads = []
    for i, t in enumerate(tensors):
        g = grad_tensors[i] if grad_tensors is not None else None
        if g is None:
            if t._data.size != 1:
                fix = ("torch.autograd.grad(out, inputs, grad_outputs=torch.ones_like(out))" if what == "grad()"
                       else "out.backward(torch.ones_like(out))")
                reduced = "torch.autograd.grad(out.sum(), inputs)" if what == "grad()" else "out.sum().backward()"
                raise RuntimeError(
                    f"grad can be implicitly created only for scalar outputs; {what} got a tensor of "
                    f"shape {list(t.shape)}. Pass a gradient of that shape (e.g. {fix}) or reduce it first "
                    f"({reduced}).")
            if not t.is_floating_point():
                raise RuntimeError(
                    f"grad can be implicitly created only for real scalar outputs but got {t.dtype}")
            grads.append(np.ones_like(t._data))
        else:
            gd = g._data if hasattr(g, "_data") else np.asarray(g, dtype=t._data.dtype)
            if gd.shape != t._data.shape:
                from .._tensor import Size
                raise RuntimeError(
                    f"Mismatch in shape: grad_output[{i}] has a shape of {Size(gd.shape)!r} and "
                    f"output[{i}] has a shape of {Size(t._data.shape)!r}.")
            grads.append(gd)
    return grads


def _graph_root_grads(tensors, grad_tensors, what):
    """create_graph: the root gradients as Tensors (a given one is used as is, graph and all)."""
    from .._tensor import _wrap
    arrays = _root_grads(tensors, grad_tensors, what)
    given = grad_tensors or [None] * len(tensors)
    return [g if hasattr(g, "_data") else _wrap(a) for g, a in zip(given, arrays)]


def _as_seq(x):
    if x is None:
        return None
    if isinstance(x, (list, tuple)):
        return list(x)
    return [x]


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False, inputs=None):
    """Accumulate gradients of tensors w.r.t. graph leaves into their .grad."""
    if create_graph:
        _backward_creating_graph(tensors, grad_tensors, retain_graph, inputs)
        return
    if grad_tensors is None and inputs is None and tensors.__class__ is not list \
            and tensors.__class__ is not tuple and tensors._requires_grad:
        # loss.backward(): one real scalar, its gradient 1 (the checks below, without the lists)
        d = tensors._data
        if d.size == 1 and d.dtype.kind == "f":
            run_backward([edge(tensors)], [np.ones_like(d)], bool(retain_graph))
            return
    tensors = _as_seq(tensors)
    grad_tensors = _as_seq(grad_tensors)
    for t in tensors:
        if not t._requires_grad:
            raise RuntimeError(
                "element 0 of tensors does not require grad and does not have a grad_fn. The tensor "
                "was computed without autograd tracking: check requires_grad=True on the inputs and "
                "that it wasn't computed under torch.no_grad() or from .detach()/.data.")
    grads = _root_grads(tensors, grad_tensors, "backward()")
    if inputs is not None:
        inputs = _as_seq(inputs)
        got = run_backward([edge(t) for t in tensors], grads, bool(retain_graph), [edge(t) for t in inputs])
        for t, g in zip(inputs, got):
            if g is not None:
                from .._tensor import _raw_grad, _wrap
                old = _raw_grad(t)  # inputs may be non-leaves: no .grad warning
                if (hasattr(g, "_as_tensor") or (old is not None and old.is_sparse)) and not t.is_sparse:
                    # (a sparse gradient or .grad: embedding(sparse=True)'s)
                    graph.sparse_accumulate[0](t, old, g.copy() if old is None else g)
                elif old is None:
                    t.grad = _wrap(np.array(g, dtype=t._data.dtype))
                else:
                    old._data += g
        return
    run_backward([edge(t) for t in tensors], grads, bool(retain_graph))


def _backward_creating_graph(tensors, grad_tensors, retain_graph, inputs):
    tensors = _as_seq(tensors)
    for t in tensors:
        if not t._requires_grad:
            raise RuntimeError("element 0 of tensors does not require grad and does not have a grad_fn")
    grads = _graph_root_grads(tensors, _as_seq(grad_tensors), "backward()")
    retain = True if retain_graph is None else bool(retain_graph)
    if inputs is None:
        run_backward([edge(t) for t in tensors], grads, retain, create_graph=True)
        return
    inputs = _as_seq(inputs)
    got = run_backward([edge(t) for t in tensors], grads, retain, [edge(t) for t in inputs], create_graph=True)
    from .._tensor import _raw_grad
    for t, g in zip(inputs, got):
        if g is not None:
            old = _raw_grad(t)
            t.grad = g if old is None else old + g


def _input_edge(t):
    return (t.node, t.output_nr) if isinstance(t, graph.GradientEdge) else edge(t)


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False, only_inputs=True,
         allow_unused=None, is_grads_batched=False, materialize_grads=False):
    """Return the gradients of outputs w.r.t. inputs without touching .grad."""
    from .._tensor import _wrap
    outputs = _as_seq(outputs)
    inputs = [inputs] if isinstance(inputs, graph.GradientEdge) else _as_seq(inputs)
    for t in inputs:
        if not isinstance(t, graph.GradientEdge) and not t._requires_grad:
            raise RuntimeError("One of the differentiated Tensors does not require grad")
    for t in outputs:
        if not t._requires_grad:
            raise RuntimeError("element 0 of tensors does not require grad and does not have a grad_fn")
    if create_graph:
        grads = _graph_root_grads(outputs, _as_seq(grad_outputs), "grad()")
        retain = True if retain_graph is None else bool(retain_graph)
    else:
        grads = _root_grads(outputs, _as_seq(grad_outputs), "grad()")
        retain = bool(retain_graph)
    got = run_backward([edge(t) for t in outputs], grads, retain, [_input_edge(t) for t in inputs],
                       create_graph)
    result = []
    for i, (t, g) in enumerate(zip(inputs, got)):
        if isinstance(t, graph.GradientEdge):
            # a gradient edge: the gradient as it reached the node (a leaf's in the leaf's dtype)
            leaf = getattr(t.node, "variable", None)
            if g is None or leaf is None:
                result.append(None if g is None else g if create_graph else _wrap(g))
                continue
            t = leaf
        if g is None:
            if materialize_grads:
                result.append(_wrap(np.zeros_like(t._data)))
                continue
            if not allow_unused:
                raise RuntimeError(
                    f"The differentiated Tensor at index {i} appears to not have been used in the graph. "
                    "Set allow_unused=True if this is the desired behavior.")
            result.append(None)
        elif (t.is_sparse or hasattr(g, "_as_tensor")) and not create_graph:   # (dense or sparse, as it came)
            out = graph._grad_tensor(g.astype(t.dtype.np) if g.dtype != t.dtype.np else g)
            if out.is_sparse and t.layout.name in ("sparse_csr", "sparse_csc"):   # (a CSR/CSC leaf's: its layout)
                out = out.to_sparse(layout=t.layout)
            result.append(out)
        else:
            want = graph.grad_dtype_of(t)   # a leaf's grad_dtype, as torch's engine casts
            if create_graph:
                result.append(g if want is None or g.is_sparse or g._data.dtype == want
                              else g.to(graph._as_dtype(want)))
            else:
                result.append(_wrap(np.array(g, dtype=want)))
    return tuple(result)


from .function import Function, FunctionCtx  # noqa: E402,F401
from .variable import Variable  # noqa: E402,F401
from .anomaly_mode import detect_anomaly, set_detect_anomaly  # noqa: E402,F401
from . import anomaly_mode  # noqa: E402,F401
from .gradcheck import gradcheck, gradgradcheck  # noqa: E402,F401
from . import functional  # noqa: E402,F401
from . import forward_ad  # noqa: E402,F401  (dual tensors; tangents by double backward)
from . import profiler, profiler_util  # noqa: E402,F401  (torch.autograd.profiler; installs nothing until a profile starts)
