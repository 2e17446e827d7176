"""torch.autograd's thread-local flags (set_multithreading_enabled / is_multithreading_enabled,
enforce_grad_layout_policy, is_view_replay_enabled) and torch.autograd.graph's
region_activation_memory_budget, allow_mutation_on_saved_tensors and stream settings: as a call, a
context manager and a decorator, per thread, the layout a relaxed policy leaves on .grad, and the
same script against torch."""
import threading

import pytest

import ember
from ember.autograd import grad_mode
from tests.conftest import requires_torch, torch

A = ember.autograd


def test_multithreading_flag():
    assert A.is_multithreading_enabled() and not A.is_view_replay_enabled()
    m = A.set_multithreading_enabled(False)       # a call sets it at once
    try:
        assert not A.is_multithreading_enabled()
        seen = []
        th = threading.Thread(target=lambda: seen.append(A.is_multithreading_enabled()))
        th.start()
        th.join()
        assert seen == [True]                        # thread-local
    finally:
        with m:
            pass                                     # leaving restores the value before the call
    assert A.is_multithreading_enabled()
    with A.set_multithreading_enabled(False):
        assert not A.is_multithreading_enabled()
        x = ember.ones(2, requires_grad=True)
        (x * 3).sum().backward()                     # backward still runs (on this thread)
        assert x.grad.tolist() == [3., 3.]
    assert A.is_multithreading_enabled()
    with pytest.raises(TypeError, match="argument 'enabled' \\(position 1\\) must be bool, not int"):
        A.set_multithreading_enabled(1)


def test_grad_layout_policy():
    assert grad_mode.state.grad_layout
    e = A.enforce_grad_layout_policy(False)
    assert not grad_mode.state.grad_layout
    with e:
        pass
    assert grad_mode.state.grad_layout

    @A.enforce_grad_layout_policy(False)
    def inside():
        return grad_mode.state.grad_layout
    assert grad_mode.state.grad_layout and inside() is False and grad_mode.state.grad_layout
    strides = []
    for enforce in (True, False):
        p = ember.zeros(2, 3, 4).permute(2, 0, 1).requires_grad_()
        with A.enforce_grad_layout_policy(enforce):
            (p * 2).sum().backward()
        strides.append(p.grad.stride())
        assert p.grad.tolist() == ember.full((4, 2, 3), 2.).tolist()
    assert strides == [(1, 12, 4), (6, 3, 1)]       # the leaf's strides, or the gradient's own
    with pytest.raises(TypeError, match="set_grad_layout_enforcement_enabled\\(\\): argument 'enabled'"):
        A.enforce_grad_layout_policy(1)


def test_graph_level_names():
    G = A.graph
    assert G.set_warn_on_accumulate_grad_stream_mismatch(True) is None
    assert G.set_override_stale_capture_stream(False) is None
    with pytest.raises(RuntimeError, match="enabled must be a bool, but got int"):
        G.set_override_stale_capture_stream(1)
    with pytest.raises(TypeError, match="expects a float, got bool"):
        G.region_activation_memory_budget(True)
    with pytest.raises(ValueError, match="must be in \\[0, 1\\], got 2"):
        G.region_activation_memory_budget(2)
    with pytest.raises(RuntimeError, match="can only be used inside a torch.compile region"):
        G.region_activation_memory_budget(0.5)
    with pytest.raises(NotImplementedError, match="Clone it yourself"):
        with G.allow_mutation_on_saved_tensors():
            pass


SCRIPT = """
def f():
    return A.is_multithreading_enabled()
out.append((A.is_multithreading_enabled(), A.is_view_replay_enabled()))
m = A.set_multithreading_enabled(False)
out.append(A.is_multithreading_enabled())
with m:
    out.append(A.is_multithreading_enabled())
out.append(A.is_multithreading_enabled())
g = A.set_multithreading_enabled(False)(f)   # torch's decorator leaves the flag set: so does ember's
out.append((A.is_multithreading_enabled(), g()))
A.set_multithreading_enabled(True)
for relax in (False, True):
    p = T.zeros(2, 3, 4).permute(2, 0, 1).requires_grad_()
    w = T.ones(4, 2, 3)
    with A.enforce_grad_layout_policy(not relax):
        (p * w).sum().backward()
    out.append(p.grad.stride())
for call in (lambda: A.set_multithreading_enabled(None), lambda: A.enforce_grad_layout_policy("x"),
             lambda: A.graph.set_warn_on_accumulate_grad_stream_mismatch(2),
             lambda: A.graph.region_activation_memory_budget(-1)):
    try:
        call()
    except Exception as e:
        out.append((type(e).__name__, str(e)))
"""


@requires_torch
def test_against_torch():
    results = []
    for T in (torch, ember):
        out = []
        exec(SCRIPT, {"T": T, "A": T.autograd, "out": out})
        T.autograd.set_multithreading_enabled(True)
        results.append(out)
    assert results[0] == results[1]
