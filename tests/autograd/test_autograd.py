"""The autograd engine: graph structure, backward, accumulation, modes, hooks, Function."""
import gc
import weakref

import numpy as np
import pytest

import ember
from ember.autograd import Function


def test_spec_section_1_2_gradient():
    x = ember.ones(2, 2, requires_grad=True)
    y = x + 2
    z = y * y * 3
    out = z.mean()
    out.backward()
    np.testing.assert_allclose(x.grad.numpy(), 4.5)


def test_grad_fn_names_and_next_functions():
    x = ember.ones(2, 2, requires_grad=True)
    y = x + 2
    z = y * y
    assert x.grad_fn is None and x.is_leaf
    assert y.grad_fn.name() == "AddBackward0" and not y.is_leaf
    assert z.grad_fn.name() == "MulBackward0"
    acc = y.grad_fn.next_functions[0][0]
    assert type(acc).__name__ == "AccumulateGrad" and acc.variable is x
    assert y.grad_fn.next_functions[1] == (None, 0)
    assert z.grad_fn.next_functions[0][0] is y.grad_fn
    assert repr(y.grad_fn).startswith("<AddBackward0 object at 0x")


def test_gradients_accumulate_across_calls():
    x = ember.tensor([1.0, 2.0], requires_grad=True)
    (x * 3).backward(ember.ones(2))
    (x * 3).backward(ember.ones(2))
    np.testing.assert_allclose(x.grad.numpy(), [6.0, 6.0])


def test_a_leaf_keeps_its_accumulate_grad_node_without_a_reference_cycle():
    # the node is made once per leaf and the leaf freed by its last reference, graph or not
    gc.disable()
    try:
        x = ember.tensor([1.0, 2.0], requires_grad=True)
        acc = (x * 2).grad_fn.next_functions[0][0]
        assert (x * 3).grad_fn.next_functions[0][0] is acc and acc.variable is x
        (x * 3).sum().backward()
        dead = weakref.ref(x)
        del x, acc
        assert dead() is None
        # a graph that outlives its leaf: backward runs, with nothing left to accumulate into
        y = ember.ones(2, requires_grad=True)
        z = y.sum() * 2
        del y
        z.backward()
    finally:
        gc.enable()


@pytest.mark.parametrize("when", ["before the graph", "after the graph"])
@pytest.mark.parametrize("kind", ["hook", "post-accumulate hook"])
def test_hooks_of_a_leaf_only_a_graph_references_still_run(when, kind):
    # as in torch, the graph keeps such a leaf alive until backward
    seen = []

    def register(t):
        if kind == "hook":
            t.register_hook(lambda g: seen.append(g.tolist()))
        else:
            t.register_post_accumulate_grad_hook(lambda t: seen.append(t.grad.tolist()))
    x = ember.tensor([1.0, 2.0], requires_grad=True)
    (x * 5).sum().backward()   # (its node exists before the hook in either case)
    x.grad = None
    if when == "before the graph":
        register(x)
    z = x.sum() * 3   # (a graph that saves nothing of x: (x * 3) would hold it in its saved versions)
    if when == "after the graph":
        register(x)
    dead = weakref.ref(x)
    del x
    z.backward()
    assert seen == [[3.0, 3.0]]
    del z
    gc.collect()
    assert dead() is None


def test_shared_subexpression_gets_summed_gradient():
    x = ember.tensor([2.0], requires_grad=True)
    y = x * x
    z = y + y * x
    z.backward()
    # z = x^2 + x^3 -> 2x + 3x^2
    np.testing.assert_allclose(x.grad.numpy(), [16.0])


def test_backward_on_non_scalar_needs_gradient():
    x = ember.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="grad can be implicitly created only for scalar outputs"):
        (x * 2).backward()


def test_backward_gradient_shape_mismatch():
    x = ember.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="Mismatch in shape"):
        (x * 2).backward(ember.ones(4))


def test_backward_without_grad_raises():
    with pytest.raises(RuntimeError, match="does not require grad"):
        ember.ones(2).backward(ember.ones(2))


def test_second_backward_through_freed_graph_raises_and_retain_graph_allows():
    x = ember.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).exp()
    y.backward(ember.ones(2), retain_graph=True)
    y.backward(ember.ones(2))
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        y.backward(ember.ones(2))


def test_no_grad_enable_grad_set_grad_enabled_and_decorators():
    x = ember.ones(2, requires_grad=True)
    with ember.no_grad():
        assert not (x * 2).requires_grad
        with ember.enable_grad():
            assert (x * 2).requires_grad
    assert (x * 2).requires_grad

    @ember.no_grad()
    def f(t):
        return t * 2
    assert not f(x).requires_grad

    @ember.no_grad
    def g(t):
        return t * 2
    assert not g(x).requires_grad
    with ember.set_grad_enabled(False):
        assert not ember.is_grad_enabled()
    assert ember.is_grad_enabled()
    ember.set_grad_enabled(False)
    assert not (x * 2).requires_grad
    ember.set_grad_enabled(True)
    with ember.inference_mode():
        assert not (x * 2).requires_grad


def test_detach_shares_memory_and_cuts_graph():
    x = ember.ones(2, requires_grad=True)
    y = x.detach()
    assert not y.requires_grad and y.grad_fn is None
    y.add_(1)
    np.testing.assert_allclose(x.detach().numpy(), 2.0)
    assert x.eq(x.detach()).all().item()


def test_data_update_as_in_the_spec():
    w = ember.tensor([1.0, 2.0], requires_grad=True)
    (w * w).backward(ember.ones(2))
    w.data.sub_(w.grad.data * 0.1)
    np.testing.assert_allclose(w.detach().numpy(), [0.8, 1.6])
    assert w.requires_grad and w.is_leaf


def test_requires_grad_rules():
    a = ember.randn(2, 2)
    a = (a * 3) / (a - 1)
    assert not a.requires_grad
    a.requires_grad_(True)
    assert a.requires_grad
    b = (a * a)
    assert b.grad_fn.name() == "MulBackward0"
    with pytest.raises(RuntimeError, match="leaf variables"):
        b.requires_grad = False
    with pytest.raises(RuntimeError, match="floating point"):
        ember.tensor([1, 2]).requires_grad_()


def test_autograd_grad_returns_without_accumulating():
    x = ember.tensor([1.0, 3.0], requires_grad=True)
    y = (x * x * x)
    (g,) = ember.autograd.grad(y, x, ember.ones(2))
    np.testing.assert_allclose(g.numpy(), [3.0, 27.0])
    assert x.grad is None
    z = ember.tensor([1.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="allow_unused"):
        ember.autograd.grad((x * 2), [x, z], ember.ones(2))
    gx, gz = ember.autograd.grad((x * 2), [x, z], ember.ones(2), allow_unused=True)
    assert gz is None


def test_register_hook_on_leaf_and_nonleaf_and_retain_grad():
    x = ember.tensor([1.0, 2.0], requires_grad=True)
    seen = []
    x.register_hook(lambda g: seen.append(g.numpy().copy()))
    y = x * 2
    y.retain_grad()
    h = y.register_hook(lambda g: g * 10)
    y.backward(ember.ones(2))
    np.testing.assert_allclose(x.grad.numpy(), [20.0, 20.0])
    np.testing.assert_allclose(seen[0], [20.0, 20.0])
    assert y.grad is not None
    h.remove()


def test_inplace_modification_of_saved_tensor_is_detected():
    x = ember.tensor([1.0, 2.0], requires_grad=True)
    y = x * 1
    z = y * y
    y.add_(1)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        z.backward(ember.ones(2))


def test_inplace_on_output_saved_by_exp_is_detected():
    x = ember.tensor([1.0, 2.0], requires_grad=True)
    y = x.exp()
    w = y * 2
    x2 = x * 1
    x2.add_(1)  # unrelated tensor: fine
    w.backward(ember.ones(2))
    np.testing.assert_allclose(x.grad.numpy(), 2 * np.exp([1.0, 2.0]), rtol=1e-6)


class Cube(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x * x

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        return grad * 3 * x * x


def test_custom_function():
    x = ember.tensor([1.0, 2.0], requires_grad=True)
    y = Cube.apply(x)
    assert y.requires_grad and y.grad_fn is not None
    assert "CubeBackward" in repr(y.grad_fn)
    (y * 1).backward(ember.ones(2))
    np.testing.assert_allclose(x.grad.numpy(), [3.0, 12.0])


def test_custom_function_needs_input_grad():
    flags = []

    class Mul(Function):
        @staticmethod
        def forward(ctx, a, b):
            flags.append(ctx.needs_input_grad)
            return a * b

        @staticmethod
        def backward(ctx, g):
            return g, g
    Mul.apply(ember.ones(2, requires_grad=True), ember.ones(2))
    assert flags == [(True, False)]


def test_gradcheck_passes_and_fails():
    x = ember.tensor([0.3, -1.2], dtype=ember.float64, requires_grad=True)
    assert ember.autograd.gradcheck(lambda t: (t * t).exp(), (x,))

    class Wrong(Function):
        @staticmethod
        def forward(ctx, a):
            return a * a

        @staticmethod
        def backward(ctx, g):
            return g  # should be 2 * a * g
    with pytest.raises(RuntimeError, match="Jacobian mismatch"):
        ember.autograd.gradcheck(Wrong.apply, (x,))


def _gradcheck_cases(lib):
    """(name, func, inputs, kwargs) cases that torch's gradcheck fails or passes, built with lib (ember or torch)."""
    F = lib.autograd.Function

    class Noisy(F):   # a backward that differs from run to run
        @staticmethod
        def forward(ctx, a):
            return a * 2

        @staticmethod
        def backward(ctx, g):
            return g * 2 + lib.rand(g.shape, dtype=g.dtype) * 1e-3

    class Unscaled(F):   # a backward that ignores grad_output (right only for a grad_output of 1)
        @staticmethod
        def forward(ctx, a):
            return (a * 2).sum()

        @staticmethod
        def backward(ctx, g):
            return lib.full((3,), 2.0, dtype=lib.float64)

    x = lib.tensor([0.3, -1.2, 0.5], dtype=lib.float64, requires_grad=True)
    strided = lib.tensor([[0.3, -1.2], [0.5, 2.0], [1.1, -0.4]], dtype=lib.float64).t().requires_grad_()
    return [("noisy", Noisy.apply, (x,), {}), ("noisy, tolerated", Noisy.apply, (x,), {"nondet_tol": 0.1}),
            ("unscaled", Unscaled.apply, (x,), {}), ("strided input", lambda t: (t * t).exp(), (strided,), {}),
            ("broadcast input", lambda t: t * 2, (lib.zeros(1, dtype=lib.float64).expand(3).requires_grad_(),), {}),
            ("no input requires grad", lambda t: t * 2, (x.detach(),), {}),
            ("no differentiable output", lambda t: (t > 0).to(lib.float64), (x,), {}),
            ("two outputs, mismatch on the second", lambda t, u: (t * u, _wrong_square(lib)(u)),
             (x, lib.tensor([1.0, 2.0, 3.0], dtype=lib.float64, requires_grad=True)), {})]


def _wrong_square(lib):
    class WrongSquare(lib.autograd.Function):
        @staticmethod
        def forward(ctx, a):
            return a * a

        @staticmethod
        def backward(ctx, g):
            return g
    return WrongSquare.apply


def _gradcheck_outcome(lib, func, inputs, kwargs):
    try:
        return lib.autograd.gradcheck(func, inputs, **kwargs)
    except Exception as e:   # (the exception's type and first line)
        return type(e).__name__, str(e).splitlines()[0]


def test_gradcheck_catches_what_torch_catches():
    # a nondeterministic backward, one that ignores grad_output, strided and broadcast inputs, the
    # argument checks and the error messages (their first lines), as torch's gradcheck
    torch = pytest.importorskip("torch")
    for (name, ef, ei, kw), (_, tf, ti, _) in zip(_gradcheck_cases(ember), _gradcheck_cases(torch)):
        ours = _gradcheck_outcome(ember, ef, ei, kw)
        theirs = _gradcheck_outcome(torch, tf, ti, kw)
        if isinstance(theirs, tuple) and theirs[0] == "GradcheckError":
            theirs = ("GradcheckError", theirs[1])
        assert ours == theirs, name
    assert ember.autograd.gradcheck(_gradcheck_cases(ember)[0][1], (_gradcheck_cases(ember)[0][2]),
                                    raise_exception=False) is False


def test_gradcheck_without_torch():
    cases = {name: (f, i, kw) for name, f, i, kw in _gradcheck_cases(ember)}
    with pytest.raises(RuntimeError, match="Backward is not reentrant"):
        ember.autograd.gradcheck(cases["noisy"][0], cases["noisy"][1])
    with pytest.raises(RuntimeError, match="backward not multiplied by grad_output"):
        ember.autograd.gradcheck(cases["unscaled"][0], cases["unscaled"][1])
    assert ember.autograd.gradcheck(*cases["strided input"][:2])   # perturbed through its strides
    with pytest.raises(RuntimeError, match="mismatch for output 1 with respect to input 1"):
        ember.autograd.gradcheck(*cases["two outputs, mismatch on the second"][:2])


def test_function_without_materialized_grads_gets_none():
    # ctx.set_materialize_grads(False): the output that got no gradient reaches backward as None
    seen = []

    class Two(Function):
        @staticmethod
        def forward(ctx, x, materialize):
            ctx.set_materialize_grads(materialize)
            return x * 2, x * 3

        @staticmethod
        def backward(ctx, g1, g2):
            seen.append((g1 is None, g2 is None))
            return (0 if g1 is None else g1 * 2) + (0 if g2 is None else g2 * 3), None
    x = ember.ones(2, requires_grad=True)
    for materialize in (True, False):
        Two.apply(x, materialize)[1].sum().backward()
    assert seen == [(False, False), (True, False)]
    assert x.grad.tolist() == [6.0, 6.0]


def _function_facts(lib):
    """What a Function that returns its input, one that changes it in place, and one that saves a number
    do to their tensors (built with lib: ember or torch)."""
    class Same(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x

        @staticmethod
        def backward(ctx, g):
            return g * 3

    class AddOne(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            x.add_(1)
            ctx.mark_dirty(x)
            return x

        @staticmethod
        def backward(ctx, g):
            return g

    class SavesNumber(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x, 3)
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return g * 2

    x = lib.ones(2, requires_grad=True)
    y = Same.apply(x)
    y.sum().backward()
    facts = [y is x, y._base is x, x.is_leaf, type(y.grad_fn).__name__, x.grad.tolist(), Same.apply(x.detach()) is x]
    b = x.clone()
    facts += [AddOne.apply(b) is b, b._version, type(b.grad_fn).__name__]
    c = lib.ones(2)
    AddOne.apply(c)
    facts.append(c._version)
    with pytest.raises(TypeError, match="save_for_backward can only save variables, but argument 1 is of type int"):
        SavesNumber.apply(x)
    return facts


def test_function_returning_its_input_gives_a_view_and_dirty_tensors_count_a_version():
    facts = _function_facts(ember)
    assert facts == [False, True, True, "SameBackward", [3.0, 3.0], False, True, 2, "AddOneBackward", 2]
    torch = pytest.importorskip("torch")
    assert facts == _function_facts(torch)


def test_graph_is_freed_after_backward():
    x = ember.ones(1000, requires_grad=True)
    y = (x * 2).exp()
    node = y.grad_fn
    y.backward(ember.ones(1000))
    assert node.y is None  # saved output released
    del y, node
    gc.collect()


def test_running_loss_item_keeps_no_graph():
    import weakref
    x = ember.ones(3, requires_grad=True)
    loss = (x * 2).exp()
    ref = weakref.ref(loss.grad_fn)
    running = 0.0
    running += float(loss.detach().numpy().sum())
    del loss
    assert ref() is None


def test_zero_dim_arithmetic_stays_tensor_and_differentiates():
    x = ember.tensor([1.0, 2.0], requires_grad=True)
    y = ember.tensor([3.0], requires_grad=True)
    z = x.sum() * 2 + y.sum()
    assert isinstance(z._data, np.ndarray) and z.dim() == 0
    z.backward()
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 2.0])
    np.testing.assert_allclose(y.grad.numpy(), [1.0])


def test_inplace_on_view_updates_base_graph():
    x = ember.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x * 1
    y[0:2].mul_(10)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [10.0, 10.0, 1.0])


def test_hook_on_split_piece_gets_its_own_gradient():
    x = ember.tensor([1.0, 2.0, 3.0, 4.0], requires_grad=True)
    a, b = (x * 1).split(2)
    seen = []
    b.register_hook(lambda g: seen.append(g.numpy().copy()))
    b.retain_grad()
    (a.sum() + (b * 3).sum()).backward()
    np.testing.assert_allclose(seen[0], [3.0, 3.0])
    np.testing.assert_allclose(b.grad.numpy(), [3.0, 3.0])
    np.testing.assert_allclose(x.grad.numpy(), [1.0, 1.0, 3.0, 3.0])


def test_modifying_a_saved_output_in_place_is_detected():
    x = ember.tensor([1.0, 2.0], requires_grad=True)
    y = x.exp()
    y.mul_(2)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.backward(ember.ones(2))


def test_grad_mode_is_thread_local_as_in_torch():
    import threading
    x = ember.ones(2, requires_grad=True)
    seen = {}
    with ember.no_grad():
        # a new thread starts with recording on, whatever its parent's mode
        t = threading.Thread(target=lambda: seen.setdefault("child", (x * 2).requires_grad))
        t.start()
        t.join()
        assert not (x * 2).requires_grad
    inside, release = threading.Event(), threading.Event()

    def other():
        with ember.no_grad():
            inside.set()
            release.wait(10)
            seen["other"] = ember.is_grad_enabled()
    t = threading.Thread(target=other)
    t.start()
    inside.wait(10)
    try:
        # another thread's no_grad leaves this thread recording
        seen["main"] = (x * 2).requires_grad
    finally:
        release.set()
        t.join()
    assert seen == {"child": True, "main": True, "other": False}


def test_backward_in_one_thread_does_not_stop_recording_in_another():
    # the engine turns recording off while it runs: only for its own thread
    import threading
    errors = []

    def train(n):
        try:
            w = ember.ones(8, requires_grad=True)
            for _ in range(n):
                loss = ((w * 3).exp() * w).sum()
                loss.backward()
                assert w.grad is not None
        except BaseException as e:  # reported by the main thread
            errors.append(e)
    import sys
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)   # switch threads often, so backward and forward interleave
    try:
        threads = [threading.Thread(target=train, args=(300,)) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(interval)
    assert errors == []


# ---- torch-compat additions: Variable, anomaly mode, setup_context, retain_grad order, .grad warning
from tests.conftest import torch as _torch  # noqa: E402  (the oracle, or None)
import warnings  # noqa: E402


def _oracle():
    if _torch is None:
        pytest.skip("PyTorch (the test oracle) is not installed")
    return _torch


@pytest.mark.parametrize("fw", ["ember", "torch"])
def test_variable_is_a_detached_leaf_tensor_like_torch(fw):
    fw = ember if fw == "ember" else _oracle()
    from importlib import import_module
    Variable = import_module(fw.__name__ + ".autograd").Variable
    t = fw.arange(3.0)
    v = Variable(t)
    assert type(v) is fw.Tensor and v is not t and v.requires_grad is False
    v = Variable(t, requires_grad=True)
    assert v.requires_grad and v.is_leaf and t.requires_grad is False
    v.data.add_(1)  # shares t's storage
    assert t.tolist() == [1.0, 2.0, 3.0]
    x = fw.ones(2, requires_grad=True)
    y = x * 2
    assert Variable(y).grad_fn is None and Variable(y).requires_grad is False
    w = Variable(y, requires_grad=True)
    assert w.is_leaf and w.grad_fn is None
    assert isinstance(t, Variable) and not isinstance([1.0], Variable)
    assert Variable().shape == (0,) and Variable().dtype == fw.float32
    with pytest.raises(TypeError, match="Variable data has to be a tensor, but got list"):
        Variable([1.0, 2.0])
    with pytest.raises(RuntimeError, match="(?i)only Tensors of floating point"):
        Variable(fw.arange(3), requires_grad=True)
    with pytest.warns(UserWarning, match="volatile was removed"):
        Variable(t, volatile=True)


def _anomaly_cases(fw):
    x = fw.tensor([0.0, 1.0], requires_grad=True)
    out = []
    for make in (lambda: (x.sqrt() * 0).sum(), lambda: (x * float("nan")).sum()):
        try:
            make().backward()
            out.append(None)
        except RuntimeError as e:
            out.append(str(e))
    return out


def test_detect_anomaly_raises_on_nan_backward_like_torch():
    with pytest.warns(UserWarning, match="Anomaly Detection has been enabled"):
        ctx = ember.autograd.detect_anomaly()
    assert ember.is_anomaly_enabled() is False
    with ctx, warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # numpy's 0/0 inside sqrt's backward
        assert ember.is_anomaly_enabled() and ember.is_anomaly_check_nan_enabled()
        got = _anomaly_cases(ember)
    assert ember.is_anomaly_enabled() is False
    assert got == ["Function 'SqrtBackward0' returned nan values in its 0th output.",
                   "Function 'MulBackward0' returned nan values in its 0th output."]
    if _torch is not None:
        with pytest.warns(UserWarning), _torch.autograd.detect_anomaly():
            assert _anomaly_cases(_torch) == got
    with warnings.catch_warnings():  # outside anomaly mode NaN flows on silently, as in torch
        warnings.simplefilter("ignore", RuntimeWarning)
        assert _anomaly_cases(ember) == [None, None]


def test_set_detect_anomaly_as_call_and_context_and_check_nan_off():
    x = ember.tensor([0.0, 1.0], requires_grad=True)
    ember.autograd.set_detect_anomaly(True)
    try:
        assert ember.is_anomaly_enabled()
        with pytest.raises(RuntimeError, match="returned nan values"):
            ember.autograd.grad((x * float("nan")).sum(), x)  # autograd.grad's path checks too
    finally:
        ember.autograd.set_detect_anomaly(False)
    assert not ember.is_anomaly_enabled()
    with ember.autograd.set_detect_anomaly(True, check_nan=False):
        assert ember.is_anomaly_enabled() and not ember.is_anomaly_check_nan_enabled()
        (x * float("nan")).sum().backward()
    assert not ember.is_anomaly_enabled() and ember.is_anomaly_check_nan_enabled()
    assert np.isnan(x.grad.numpy()).all()


def _setup_context_grads(fw):
    class Scale(fw.autograd.Function):
        @staticmethod
        def forward(x, k, shift=1.0):
            return x * k + shift

        @staticmethod
        def setup_context(ctx, inputs, output):
            x, k, shift = inputs  # defaults are bound in, as in torch
            ctx.k = k
            ctx.save_for_backward(x)
            ctx.seen = (len(inputs), shift, ctx.needs_input_grad)

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return g * ctx.k + 0 * x, None, None

    x = fw.tensor([1.0, 3.0], requires_grad=True)
    y = Scale.apply(x, 2.0)
    y.sum().backward()
    return y.tolist(), y.grad_fn.name(), x.grad.tolist(), y.grad_fn.seen


def test_function_setup_context_style_like_torch():
    got = _setup_context_grads(ember)
    assert got == ([3.0, 7.0], "ScaleBackward", [2.0, 2.0], (3, 1.0, (True, False, False)))
    if _torch is not None:
        assert _setup_context_grads(_torch) == got


def test_function_old_ctx_style_still_works_and_setup_context_runs_without_grad():
    class Double(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return g * 2

    x = ember.tensor([1.0, 2.0], requires_grad=True)
    Double.apply(x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 2.0])

    calls = []

    class Neg(Function):
        @staticmethod
        def forward(x):
            return -x

        @staticmethod
        def setup_context(ctx, inputs, output):
            calls.append(output.requires_grad)

        @staticmethod
        def backward(ctx, g):
            return -g

    assert Neg.apply(ember.ones(2)).tolist() == [-1.0, -1.0]  # no input requires grad
    assert calls == [False]


def _retain_after_hooks(fw, retain_first):
    a = fw.tensor([1.0, 2.0], requires_grad=True)
    b = a * 2
    log = []
    b.grad_fn.register_prehook(lambda go: log.append(("node", go[0].tolist())) or (go[0] * 10,))
    if retain_first:
        b.retain_grad()
    b.register_hook(lambda g: log.append(("tensor", g.tolist())) or g * 100)
    if not retain_first:
        b.retain_grad()
    (b * b).sum().backward()
    return b.grad.tolist(), a.grad.tolist(), log


@pytest.mark.parametrize("retain_first", [True, False])
def test_retain_grad_records_after_tensor_hooks_before_node_prehooks(retain_first):
    got = _retain_after_hooks(ember, retain_first)
    assert got == ([400.0, 800.0], [8000.0, 16000.0],
                   [("tensor", [4.0, 8.0]), ("node", [400.0, 800.0])])
    if _torch is not None:
        assert _retain_after_hooks(_torch, retain_first) == got


def _retained_through_inplace(fw, op):
    a = fw.tensor([-1.0, 2.0, -3.0, 4.0], requires_grad=True)
    b = a * 1.5
    log = []
    b.register_hook(lambda g: log.append(g.tolist()))   # (stays with b's old version, as in torch)
    b.retain_grad()
    op(b)
    (b * b).sum().backward()
    return b.grad.tolist(), a.grad.tolist(), log


@pytest.mark.parametrize("op", [lambda t: t.mul_(2), lambda t: t.exp_(), lambda t: t.relu_(),
                                lambda t: t.clamp_(min=0), lambda t: t.add_(t.detach())])
def test_retained_grad_follows_an_inplace_op(op):
    # torch moves retain_grad's recording to the tensor's new grad_fn: .grad is the new value's
    got = _retained_through_inplace(ember, op)
    if _torch is not None:
        want = _retained_through_inplace(_torch, op)
        for g, w in zip(got, want):
            np.testing.assert_allclose(np.array(g), np.array(w), rtol=1e-6)


def test_retained_grad_is_the_new_values():
    b_grad, a_grad, log = _retained_through_inplace(ember, lambda t: t.mul_(2))
    assert b_grad == [-6.0, 12.0, -18.0, 24.0]   # d(b * b)/db at b = 3a
    assert log == [[-12.0, 24.0, -36.0, 48.0]] and a_grad == [-18.0, 36.0, -54.0, 72.0]


def _grad_warnings(fw, read):
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        value = read(fw)
    return value, [str(x.message).split(" (Triggered internally")[0] for x in w if x.category is UserWarning]


def _nonleaf(fw):
    x = fw.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    z = x + x
    (y + z).sum().backward()
    return y.grad, z.grad


def test_nonleaf_grad_read_warns_like_torch():
    value, msgs = _grad_warnings(ember, _nonleaf)
    assert value == (None, None) and len(msgs) == 2
    assert msgs[0].startswith("The .grad attribute of a Tensor that is not a leaf Tensor is being accessed.")
    assert "use .retain_grad() on the non-leaf Tensor" in msgs[0]
    if _torch is not None:
        assert _grad_warnings(_torch, _nonleaf)[1] == msgs


def _quiet_reads(fw):
    x = fw.tensor([1.0, 2.0], requires_grad=True)
    before = x.grad
    y = x * 2
    y.retain_grad()
    r = y.grad
    y.sum().backward()
    v = fw.tensor([1.0]) * 3  # a result that needs no grad is a leaf
    return before, r, y.grad.tolist(), x.grad.tolist(), v.grad, v.is_leaf


def test_leaf_and_retained_grad_reads_do_not_warn():
    value, msgs = _grad_warnings(ember, _quiet_reads)
    assert msgs == [] and value == (None, None, [1.0, 1.0], [2.0, 2.0], None, True)
    if _torch is not None:
        assert _grad_warnings(_torch, _quiet_reads) == (value, msgs)


def test_embers_own_code_never_reads_a_nonleaf_grad():
    nn = ember.nn
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))
        opt = ember.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        x = ember.randn(5, 3)
        for _ in range(2):
            opt.zero_grad()
            h = model[0](x)
            loss = model[2](model[1](h)).pow(2).mean()
            loss.backward(inputs=[h] + list(model.parameters()))  # a non-leaf among the inputs
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
        model.zero_grad()
    assert h.grad is not None and h.grad.shape == (5, 4)


def test_custom_function_node_is_named_after_the_function_as_in_torch():
    class Double(ember.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return g * 2

    y = Double.apply(ember.ones(2, requires_grad=True))
    assert type(y.grad_fn).__name__ == "DoubleBackward" == y.grad_fn.name()
    assert "DoubleBackward object" in repr(y.grad_fn)


def test_grad_unused_input_message_names_its_index():
    x, w = ember.ones(2, requires_grad=True), ember.ones(1, requires_grad=True)
    with pytest.raises(RuntimeError, match="^The differentiated Tensor at index 1 appears to not have been used"):
        ember.autograd.grad((x * 2).sum(), [x, w])


def test_once_differentiable_backward_runs_without_a_graph():
    # `from torch.autograd.function import once_differentiable`, common in custom-op code, was missing
    from ember.autograd.function import once_differentiable
    seen = []

    class Cube(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x ** 3

        @staticmethod
        @once_differentiable
        def backward(ctx, g):
            x, = ctx.saved_tensors
            out = g * 3 * x ** 2
            seen.append(out.requires_grad)
            return out
    x = ember.tensor([0.5, -2.0], requires_grad=True)
    (g,) = ember.autograd.grad(Cube.apply(x).sum(), x, create_graph=True)
    np.testing.assert_allclose(g.detach().numpy(), [0.75, 12.0])
    assert seen == [False] and not g.requires_grad
    assert Cube.backward.__name__ == "backward"


def _autograd_mistakes(L):
    """The message of each mistake, up to where torch adds its own hint."""
    def saved_output_modified():
        x = L.ones(2, requires_grad=True)
        y = x.exp()
        y.add_(1)
        y.sum().backward()

    def saved_input_modified():
        x = L.ones(2, requires_grad=True)
        a = x * 1
        y = a * a
        a.add_(1)
        y.sum().backward()

    def saved_leaf_modified():
        x = L.ones(2, requires_grad=True)
        y = x.exp() * x
        with L.no_grad():
            x.add_(1)
        y.sum().backward()

    cases = {
        "saved_output_modified": saved_output_modified, "saved_input_modified": saved_input_modified,
        "saved_leaf_modified": saved_leaf_modified,
        "grad_shape": lambda: (L.ones(2, requires_grad=True) * 2).backward(L.ones(3)),
        "requires_grad_int": lambda: L.ones(2, dtype=L.long).requires_grad_(),
        "factory_requires_grad_int": lambda: L.tensor([1], requires_grad=True),
    }
    out = {}
    for name, call in cases.items():
        with pytest.raises(RuntimeError) as info:
            call()
        msg = str(info.value).replace("ember.", "torch.")
        out[name] = msg.split(" Hint:")[0].split(" It was saved by")[0].split(" (got ")[0]
    return out


def test_autograd_mistakes_name_the_modified_tensor():
    got = _autograd_mistakes(ember)
    assert got["saved_output_modified"].endswith("[torch.FloatTensor [2]], which is output 0 of Exp, is at version 1; "
                                                 "expected version 0 instead.")
    assert "which is" not in got["saved_leaf_modified"]   # (a leaf was made by no op)


def test_autograd_mistakes_match_torch(oracle):
    assert _autograd_mistakes(ember) == _autograd_mistakes(oracle)


def _fn_classes(T):
    F = T.autograd.Function

    class Scale(F):
        @staticmethod
        def forward(ctx, x, k=2.0):
            return x * k

        @staticmethod
        def backward(ctx, g):
            return g * 2, None

    class TooMany(F):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return g, g

    class TrailingNones(F):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return g * 2, None, None

    class TooFew(F):
        @staticmethod
        def forward(ctx, x, y):
            return x * y

        @staticmethod
        def backward(ctx, g):
            return g

    class DirtyLeaf(F):
        @staticmethod
        def forward(ctx, x):
            x.mul_(2)
            ctx.mark_dirty(x)
            return x

        @staticmethod
        def backward(ctx, g):
            return g * 2

    class NoBackward(F):
        @staticmethod
        def forward(ctx, x):
            return x * 2
    return Scale, TooMany, TrailingNones, TooFew, DirtyLeaf, NoBackward


FUNCTION_MISTAKES = {
    "keyword tensor input": lambda T, c: (lambda x: (c[0].apply(x=x).sum().backward(), x.grad.tolist()))(
        T.ones(2, requires_grad=True))[1],
    "keyword default": lambda T, c: c[0].apply(T.ones(2), k=3.0).tolist(),
    "too many gradients": lambda T, c: c[1].apply(T.ones(2, requires_grad=True)).sum().backward(),
    "trailing Nones": lambda T, c: (lambda x: (c[2].apply(x).sum().backward(), x.grad.tolist()))(
        T.ones(2, requires_grad=True))[1],
    "too few gradients": lambda T, c: c[3].apply(T.ones(2, requires_grad=True), T.ones(2)).sum().backward(),
    "dirty leaf": lambda T, c: c[4].apply(T.ones(2, requires_grad=True)),
    "no backward": lambda T, c: c[5].apply(T.ones(2, requires_grad=True)).sum().backward(),
    "instance call": lambda T, c: c[0]()(T.ones(2)),
}


@pytest.mark.parametrize("name", list(FUNCTION_MISTAKES))
def test_custom_function_mistakes_as_torch(name):
    def run(T):
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            try:
                out = ("ok", FUNCTION_MISTAKES[name](T, _fn_classes(T)))
            except Exception as e:  # noqa: BLE001 - compared with torch's
                out = (type(e).__name__, str(e))
        return out, [str(w.message).replace("torch", "T").split("(Triggered")[0] for w in seen
                     if not issubclass(w.category, UserWarning) or "instantiated" in str(w.message)]
    got = run(ember)
    assert got[0][0] != "ok" or name in ("keyword tensor input", "keyword default", "trailing Nones")
    if _torch is not None:
        want = run(_torch)
        assert got[0] == want[0]
        assert [m.replace("ember", "T") for m in got[1]] == want[1]
