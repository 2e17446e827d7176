"""torch.utils.swap_tensors (ember/utils/__init__.py): two tensors exchange data, dtype, shape, grad,
requires_grad, graph, hooks, version counter, class and __dict__ while keeping their identities; a
second swap restores both; torch's refusals (weakrefs, different slots) and its poisoning of an
AccumulateGrad node already in a graph; and the same script's output against torch."""
import weakref

import pytest

import ember
from ember.utils import swap_tensors
from tests.conftest import requires_torch, torch


def state(t):
    return (type(t).__name__, t.detach().numpy().tolist(), str(t.dtype), tuple(t.shape), t.requires_grad,
            None if t.grad is None else t.grad.tolist(), dict(t.__dict__), t._version)


def test_swap_and_round_trip():
    a = ember.ones(2, requires_grad=True)
    a.grad = ember.full((2,), 5.)
    a.tag = "A"
    b = ember.arange(3, dtype=ember.float64)
    b.add_(1)
    b.other = "B"
    ida, idb = id(a), id(b)
    before = state(a), state(b)
    swap_tensors(a, b)
    assert (id(a), id(b)) == (ida, idb)
    assert state(a) == before[1] and state(b) == before[0]
    assert a.tolist() == [1., 2., 3.] and a.dtype == ember.float64 and not a.requires_grad and a.grad is None
    assert b.grad.tolist() == [5., 5.] and b.tag == "A" and b._version == 0 and a._version == 1
    swap_tensors(a, b)
    assert (state(a), state(b)) == before


def test_class_graph_and_hooks_move_with_the_content():
    p = ember.nn.Parameter(ember.ones(2))
    t = ember.zeros(3)
    swap_tensors(p, t)
    assert type(p) is ember.Tensor and type(t) is ember.nn.Parameter and t.requires_grad and t.tolist() == [1., 1.]
    y = ember.ones(2, requires_grad=True) * 2
    z = ember.zeros(2)
    swap_tensors(y, z)
    assert z.grad_fn.name() == "MulBackward0" and y.grad_fn is None and y.is_leaf and not z.is_leaf
    h = ember.ones(2, requires_grad=True)
    h.register_hook(lambda g: g * 10)
    k = ember.ones(2, requires_grad=True)
    swap_tensors(h, k)
    (h * 1).sum().backward()
    (k * 1).sum().backward()
    assert h.grad.tolist() == [1., 1.] and k.grad.tolist() == [10., 10.]
    m = ember.nn.Linear(2, 2)
    w = m.weight
    swap_tensors(m.weight, ember.nn.Parameter(ember.zeros(2, 2)))
    assert m.weight is w and (w.detach().numpy() == 0).all()


def test_views_and_self():
    x = ember.arange(4.)
    v = x[:2]
    swap_tensors(v, ember.zeros(2))
    assert v.tolist() == [0., 0.] and v._base is None and x.tolist() == [0., 1., 2., 3.]
    s = ember.ones(2)
    swap_tensors(s, s)
    assert s.tolist() == [1., 1.]


def test_refusals_and_poisoned_accumulator():
    c = ember.ones(1)
    ref = weakref.ref(c)
    with pytest.raises(RuntimeError, match="Cannot swap t1 because it has weakref associated with it"):
        swap_tensors(c, ember.ones(1))
    with pytest.raises(RuntimeError, match="Cannot swap t2 because it has weakref associated with it"):
        swap_tensors(ember.ones(1), c)
    del ref

    class Slotted(ember.Tensor):
        __slots__ = ("extra",)
    with pytest.raises(RuntimeError, match="Cannot swap t1 and t2 if they have different slots"):
        swap_tensors(ember.ones(1).as_subclass(Slotted), ember.ones(1))
    with pytest.raises(AttributeError, match="_use_count"):
        swap_tensors(ember.ones(1), 2)
    p = ember.ones(2, requires_grad=True)
    r = ember.zeros(2, requires_grad=True)
    loss = (p * 3).sum()
    swap_tensors(p, r)
    with pytest.raises(RuntimeError, match="AccumulateGrad node that was poisoned by swap_tensors") as err:
        loss.backward()
    # used as ember, the message names ember's switch (torch's name only under the torch alias)
    assert "`ember.__future__.set_swap_module_params_on_conversion(True)`" in str(err.value)
    assert p.grad is None and r.grad is None
    # a leaf's node outlives its graphs (its reference back is autograd's, not a user's weakref): a graph
    # freed before the swap poisons nothing, and new graphs accumulate into the swapped content
    (p * 2).sum().backward()
    del loss
    swap_tensors(p, r)
    (p * 4).sum().backward()
    assert p.grad.tolist() == [4.0, 4.0] and r.grad.tolist() == [2.0, 2.0]


SCRIPT = """
a = T.ones(2, requires_grad=True); b = T.zeros(3, dtype=T.float64)
a.grad = T.full((2,), 5.); a.foo = 'A'
swap_tensors(a, b)
out.append((repr(a), repr(b), repr(b.grad), a.__dict__, b.__dict__, a.is_leaf, b.is_leaf))
P = T.nn.Parameter(T.ones(2)); Q = T.zeros(3)
swap_tensors(P, Q)
out.append((type(P).__name__, repr(P), type(Q).__name__, repr(Q)))
for call in (lambda: swap_tensors(T.ones(1), 2),):
    try:
        call()
    except Exception as e:
        out.append(type(e).__name__)
"""


@requires_torch
def test_against_torch():
    results = []
    for T, swap in ((torch, torch.utils.swap_tensors), (ember, swap_tensors)):
        out = []
        exec(SCRIPT, {"T": T, "swap_tensors": swap, "out": out})
        results.append(str(out).replace("ember", "torch"))
    assert results[0] == results[1]
