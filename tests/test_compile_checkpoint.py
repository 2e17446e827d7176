"""torch.compile and torch.jit return what they are given (ember does not compile); torch.utils.checkpoint
runs the function once with the same values and gradients, and torch 2.13's warnings and errors."""
import warnings

import numpy as np
import pytest

import ember
from ember.utils.checkpoint import checkpoint, checkpoint_sequential
from tests.conftest import requires_torch, torch


# ---- torch.compile -----------------------------------------------------------------------------
def test_compile_returns_module_and_function_unchanged():
    m = ember.nn.Linear(2, 2)
    assert ember.compile(m) is m
    assert ember.compile(m, fullgraph=True, dynamic=False, backend="eager", mode="reduce-overhead") is m

    def f(x):
        return x * 2
    assert ember.compile(f) is f
    assert ember.compile(f, disable=True) is f

    @ember.compile
    def g(x):
        return x + 1

    @ember.compile(mode="max-autotune", fullgraph=True)
    def h(x):
        return x - 1
    assert g(ember.ones(1)).tolist() == [2.0] and h(ember.ones(1)).tolist() == [0.0]
    assert h.__name__ == "h"
    assert ember.compile(f, backend=lambda gm, inputs: gm) is f


@requires_torch
def test_compile_rejects_what_torch_rejects():
    cases = [dict(mode="bad"), dict(mode="default", options={}), dict(backend="nope")]
    for kw in cases:
        with pytest.raises(RuntimeError) as ours:
            ember.compile(lambda x: x, **kw)
        with pytest.raises(RuntimeError) as theirs:
            torch.compile(lambda x: x, **kw)
        assert str(ours.value) == str(theirs.value)
        assert type(ours.value).__name__ == type(theirs.value).__name__
    with pytest.raises(AssertionError, match="A callable function is expected, but <class 'int'> is provided."):
        ember.compile(3)
    with pytest.raises(RuntimeError, match="Model can't be None"):
        ember.compile()(None)


# ---- torch.jit ---------------------------------------------------------------------------------
def test_jit_script_and_trace_return_their_argument(tmp_path):
    m = ember.nn.Sequential(ember.nn.Linear(3, 2))
    assert ember.jit.script(m) is m
    assert ember.jit.trace(m, ember.randn(4, 3)) is m
    assert ember.jit.trace(m, (ember.randn(4, 3),)) is m

    def f(x):
        return x.relu()
    assert ember.jit.script(f) is f and ember.jit.trace(f, ember.ones(2)) is f
    with pytest.raises(RuntimeError, match="mat1 and mat2 shapes cannot be multiplied"):
        ember.jit.trace(m, ember.randn(4, 5))  # the example runs once, as torch's tracer runs it
    assert m[0].weight.grad is None
    for call in (lambda: ember.jit.save(m, str(tmp_path / "m.pt")), lambda: ember.jit.load(str(tmp_path / "m.pt"))):
        with pytest.raises(NotImplementedError, match="torch.save\\(model.state_dict\\(\\), path\\)"):
            call()
    assert not (tmp_path / "m.pt").exists()
    assert ember.jit.is_scripting() is False and ember.jit.is_tracing() is False
    assert ember.jit.ignore(f) is f and ember.jit.unused(f) is f


# ---- torch.utils.checkpoint --------------------------------------------------------------------
def _net():
    ember.manual_seed(0)
    return ember.nn.Sequential(ember.nn.Linear(4, 6), ember.nn.Tanh(), ember.nn.Linear(6, 6), ember.nn.ReLU(),
                               ember.nn.Linear(6, 2))


def _grads(net):
    return [p.grad.numpy().copy() for p in net.parameters()]


@pytest.mark.parametrize("reentrant", [True, False])
def test_checkpoint_gives_the_same_values_and_gradients(reentrant):
    net = _net()
    x = ember.randn(5, 4, requires_grad=True)
    plain = net(x)
    plain.sum().backward()
    g_plain, gx_plain = _grads(net), x.grad.numpy().copy()
    net.zero_grad()
    x.grad = None
    out = checkpoint(net, x, use_reentrant=reentrant)
    out.sum().backward()
    assert ember.equal(out, plain)
    for a, b in zip(_grads(net), g_plain):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(x.grad.numpy(), gx_plain)
    net.zero_grad()
    seq = checkpoint_sequential(net, 2, x, use_reentrant=reentrant)
    seq.sum().backward()
    assert ember.equal(seq, plain)
    for a, b in zip(_grads(net), g_plain):
        np.testing.assert_array_equal(a, b)


def test_checkpoint_warnings_and_errors_as_torch_2_13():
    net = _net()
    x = ember.randn(5, 4)
    with pytest.warns(UserWarning, match="torch.utils.checkpoint: the use_reentrant parameter should be passed "
                                         "explicitly. Starting in PyTorch 2.9"):
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="None of the inputs")
            checkpoint(net, x)
    # reentrant, no input requires grad: torch warns and the output has no graph
    with pytest.warns(UserWarning, match="None of the inputs have requires_grad=True. Gradients will be None"):
        y = checkpoint(net, x, use_reentrant=True)
    assert not y.requires_grad and y.grad_fn is None
    y = checkpoint(net, x, use_reentrant=False)
    assert y.requires_grad
    with pytest.raises(ValueError, match="Unexpected keyword arguments: foo"):
        checkpoint(net, x, use_reentrant=True, foo=1)
    with pytest.raises(ValueError, match="Passing `context_fn` or `debug` is only supported when use_reentrant=False."):
        checkpoint(net, x, use_reentrant=True, debug=True)
    assert checkpoint(lambda a, b=1: a * b, x, use_reentrant=False, b=2).shape == (5, 4)
    with pytest.raises(ValueError, match="Unexpected keyword arguments: foo"):
        checkpoint_sequential(net, 2, x, use_reentrant=False, foo=1)
    with pytest.warns(UserWarning, match="checkpoint_sequential: the use_reentrant parameter should be passed"):
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="None of the inputs")
            checkpoint_sequential(net, 2, x)
    out = checkpoint(lambda a: (a * 2, 3), x, use_reentrant=False)
    assert isinstance(out, tuple) and out[1] == 3


@requires_torch
def test_checkpoint_sequential_matches_torch():
    net = _net()
    tnet = torch.nn.Sequential(torch.nn.Linear(4, 6), torch.nn.Tanh(), torch.nn.Linear(6, 6), torch.nn.ReLU(),
                               torch.nn.Linear(6, 2))
    tnet.load_state_dict({k: torch.tensor(v.numpy()) for k, v in net.state_dict().items()})
    xn = np.random.default_rng(1).standard_normal((3, 4)).astype(np.float32)
    x, tx = ember.tensor(xn, requires_grad=True), torch.tensor(xn, requires_grad=True)
    for segs in (1, 2, 3, 5):
        a = checkpoint_sequential(net, segs, x, use_reentrant=False)
        b = torch.utils.checkpoint.checkpoint_sequential(tnet, segs, tx, use_reentrant=False)
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-5, atol=1e-6)
        a.sum().backward()
        b.sum().backward()
        np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(net[0].weight.grad.numpy(), tnet[0].weight.grad.numpy(), rtol=1e-5, atol=1e-6)
    with pytest.raises(ZeroDivisionError):
        checkpoint_sequential(net, 0, x, use_reentrant=False)

