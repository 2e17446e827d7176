"""torch.autograd.graph's helpers: multi-grad hooks, gradient edges, versions, saved-tensor hooks; against torch."""
import pytest

import ember
from tests.conftest import requires_torch, torch


def _multi_hook_log(lib):
    """What register_multi_grad_hook reports over several backward passes (torch's docstring example and more)."""
    graph = lib.autograd.graph
    log = []
    a = lib.tensor([[1., 2., 3.], [4., 5., 6.]], requires_grad=True)
    b = lib.tensor([[6., 5., 4.], [3., 2., 1.]], requires_grad=True)
    c, d = a * b, a * b
    handle = graph.register_multi_grad_hook((a, b, c, d), lambda grads: log.append(
        [None if g is None else g.tolist() for g in grads]))
    c.sum().backward(retain_graph=True)
    c.sum().backward(inputs=(a,), retain_graph=True)
    if lib is ember:   # torch refuses autograd.grad here (leaves among the tensors); ember supports it
        lib.autograd.grad((c * d).sum(), (b,), retain_graph=True)
    handle.remove()
    c.sum().backward(retain_graph=True)
    log.append("removed")
    graph.register_multi_grad_hook((a, b), lambda g: log.append(("any", g.tolist())), mode="any")
    # (which leaf's hook comes first is the engine's order: both gradients are alike here)
    (a + b).sum().backward()
    (2 * a + 2 * b).sum().backward()
    return log


@requires_torch
def test_register_multi_grad_hook_matches_torch():
    mine = _multi_hook_log(ember)
    assert mine[:2] + mine[3:] == _multi_hook_log(torch)


def test_register_multi_grad_hook_all_waits_for_every_computed_gradient():
    log = _multi_hook_log(ember)
    assert [g is not None for g in log[0]] == [True, True, True, False]
    assert [g is not None for g in log[1]] == [True, False, True, False]
    assert log[2][0] is None and log[2][1] is not None
    assert log[3] == "removed" and len(log) == 6   # once per pass in "any" mode


def test_register_multi_grad_hook_bad_mode():
    a = ember.ones(2, requires_grad=True)
    with pytest.raises(ValueError, match="one of"):
        ember.autograd.graph.register_multi_grad_hook((a,), print, mode="every")


def test_multi_grad_hook_outside_backward_raises():
    with pytest.raises(RuntimeError, match="inside a backward call"):
        ember.autograd.graph._current_task()


def _edges(lib):
    graph = lib.autograd.graph
    x = lib.tensor([1., 2.], requires_grad=True)
    y = x * 3
    ey, ex = graph.get_gradient_edge(y), graph.get_gradient_edge(x)
    out = [type(ey).__name__, ey.node.name(), ey.output_nr, ex.node.name(), ex.output_nr]
    loss = (y ** 2).sum()
    out += [g.tolist() for g in lib.autograd.grad(loss, (ey, ex), retain_graph=True)]
    out += [g.tolist() for g in lib.autograd.grad(loss, ex)]
    return out


@requires_torch
def test_gradient_edge_matches_torch():
    assert _edges(ember) == _edges(torch)


def test_gradient_edge_as_grad_input():
    out = _edges(ember)
    assert out[1:5] == ["MulBackward0", 0, "torch::autograd::AccumulateGrad", 0]
    assert out[5] == [6., 12.] and out[6] == [18., 36.] and out[7] == [18., 36.]
    with pytest.raises(RuntimeError, match="does not require gradients"):
        ember.autograd.graph.get_gradient_edge(ember.ones(2))


def test_increment_version_trips_the_saved_tensor_check():
    x = ember.ones(3, requires_grad=True)
    w = ember.ones(3)
    y = (x * w).sum()
    ember.autograd.graph.increment_version([w])
    assert w._version == 1
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.backward()


def test_leaf_hook_shapes_what_grad_returns():
    # torch runs a leaf's hooks on the gradient autograd.grad returns for it (and accumulates nothing)
    a = ember.ones(2, requires_grad=True)
    a.register_hook(lambda g: g * 2)
    (g,) = ember.autograd.grad((a * 3).sum(), a)
    assert g.tolist() == [6., 6.] and a.grad is None


def test_saved_tensors_hooks_refuse_clearly():
    graph = ember.autograd.graph
    with pytest.raises(NotImplementedError, match="saved_tensors_hooks"):
        with graph.saved_tensors_hooks(lambda t: t, lambda t: t):
            pass
    with graph.disable_saved_tensors_hooks("hooks are off here"):
        with pytest.raises(RuntimeError, match="hooks are off here"):
            with graph.save_on_cpu():
                pass
    # on the CPU, save_on_cpu has nothing to move: training under it works as without it
    a = ember.ones(2, requires_grad=True)
    with graph.save_on_cpu():
        loss = (a * a).sum()
    loss.backward()
    assert a.grad.tolist() == [2., 2.]


def _hook_handles(lib):
    """Register one hook of each kind, run backward, remove some, run again: the calls, the handles."""
    calls = []
    x = lib.ones(2, requires_grad=True)
    y = x * 2
    twice = lambda g: calls.append("twice")  # noqa: E731  (the same function registered twice)
    handles = [x.register_hook(lambda g: calls.append("leaf")),
               x.register_post_accumulate_grad_hook(lambda t: calls.append("post_acc")),
               y.register_hook(lambda g: calls.append("nonleaf")),
               y.grad_fn.register_hook(lambda gi, go: calls.append("node")),
               y.grad_fn.register_prehook(lambda go: calls.append("prehook")),
               x.register_hook(twice), x.register_hook(twice)]
    y.sum().backward(retain_graph=True)
    first = list(calls)
    calls.clear()
    for h in handles[:5] + handles[6:]:
        h.remove()
    handles[0].remove()   # twice: nothing left to remove
    y.sum().backward(retain_graph=True)
    second = list(calls)
    calls.clear()
    with y.register_hook(lambda g: calls.append("ctx")):
        y.sum().backward(retain_graph=True)
    y.sum().backward()
    return first, second, list(calls), handles


@requires_torch
def test_tensor_and_node_hooks_return_torch_s_removable_handle():
    got = _hook_handles(ember)
    want = _hook_handles(torch)
    assert got[:3] == want[:3]
    assert got[1] == ["twice"] and got[2] == ["ctx", "twice", "twice"]   # the context removed its hook
    assert all(type(h) is ember.utils.hooks.RemovableHandle for h in got[3])
    ids = [h.id for h in got[3]]
    assert ids == sorted(set(ids)) and all(isinstance(i, int) for i in ids)
    assert callable(got[3][0].hooks_dict_ref)


@requires_torch
def test_saved_tensors_and_node_calls_match_torch():
    # the autograd-mechanics tutorial's grad_fn._saved_self / _saved_result / _saved_other, and calling a node
    got = []
    for L in (ember, torch):
        q = L.tensor([1.0, 2.0], requires_grad=True)
        e, m, r, p = q.exp(), q * 3, q * q, q.pow(2)
        mm = q[None].mm(L.ones(2, 2))
        row = [r.grad_fn._saved_self is q, r.grad_fn._saved_other is q, q.sin().grad_fn._saved_self is q,
               e.grad_fn._saved_result is e, e.grad_fn._saved_result.equal(e), e.grad_fn._saved_result.grad_fn.name(),
               m.grad_fn._saved_self, m.grad_fn._saved_other.tolist(), p.grad_fn._saved_exponent,
               p.grad_fn._saved_self is q, mm.grad_fn._saved_mat2.tolist(), q.relu().grad_fn._saved_result.tolist()]
        grads = m.grad_fn(L.ones(2))
        row += [len(grads), grads[0].tolist(), grads[1], [round(v, 5) for v in e.grad_fn(L.ones(2)).tolist()]]
        e.sum().backward()
        with pytest.raises(RuntimeError, match="Trying to backward through the graph a second time"):
            e.grad_fn._saved_result
        with pytest.raises(AttributeError):
            e.grad_fn._saved_nothing
        got.append(row)
    assert got[0] == got[1]
