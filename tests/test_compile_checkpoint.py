"""torch.compile and torch.jit return torch's wrappers (OptimizedModule, RecursiveScriptModule, ...) around
code that runs as it is (ember does not compile); torch.utils.checkpoint runs the function once with the same
values and gradients, and torch 2.13's warnings and errors."""
import warnings

import numpy as np
import pytest

import ember
from ember.utils.checkpoint import checkpoint, checkpoint_sequential
from tests.conftest import requires_torch, torch


# ---- torch.compile -----------------------------------------------------------------------------
class _Net(ember.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = ember.nn.Linear(3, 2)
        self.bn = ember.nn.BatchNorm1d(2)
        self.k = 5

    def forward(self, x):
        return self.bn(self.fc(x))


def _torch_net():
    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = torch.nn.Linear(3, 2)
            self.bn = torch.nn.BatchNorm1d(2)

        def forward(self, x):
            return self.bn(self.fc(x))
    return Net()


def test_compile_wraps_a_module_in_an_optimized_module():
    from ember._dynamo.eval_frame import OptimizedModule
    m = _Net()
    c = ember.compile(m)
    assert type(c) is OptimizedModule and type(c).__module__ == "ember._dynamo.eval_frame"
    assert isinstance(c, ember.nn.Module) and not isinstance(c, _Net) and c._orig_mod is m
    x = ember.randn(4, 3)
    assert ember.equal(c(x), m(x)) and ember.equal(c.forward(x), m(x))
    assert c.fc is m.fc and c.k == 5 and c.get_submodule("fc") is m.fc
    c.k = 7  # writes go to the original, as in torch
    assert m.k == 7 and "k" not in c.__dict__
    assert [p is q for p, q in zip(c.parameters(), m.parameters())] == [True] * 4
    assert [n for n, _ in c.named_parameters()] == ["_orig_mod." + n for n, _ in m.named_parameters()]
    assert list(c.state_dict()) == ["_orig_mod." + k for k in m.state_dict()]
    assert repr(c) == "OptimizedModule(\n  (_orig_mod): " + repr(m).replace("\n", "\n  ") + "\n)"
    assert c.eval() is c and not m.training and not m.fc.training and not c.training
    c.train()
    assert m.training and m.bn.training and c.training
    m.eval()
    assert not c.training
    with pytest.raises(TypeError, match="_Net does not support len()"):
        len(c)
    seq = ember.compile(ember.nn.Sequential(ember.nn.Linear(2, 2)))
    assert len(seq) == 1
    with pytest.raises(TypeError, match="'OptimizedModule' object is not subscriptable"):
        seq[0]  # noqa: B018  (torch's wrapper does not index either)


def test_compiled_state_dict_loads_with_its_prefix_and_says_how_to_strip_it():
    src, dst = ember.compile(_Net()), ember.compile(_Net())
    sd = src.state_dict()
    assert dst.load_state_dict(sd).missing_keys == []
    for a, b in zip(dst.state_dict().values(), sd.values()):
        assert ember.equal(a, b)
    plain = _Net()
    with pytest.raises(RuntimeError, match=r"Unexpected key\(s\) in state_dict: \"_orig_mod.fc.weight\"") as err:
        plain.load_state_dict(sd)
    assert "strip the prefix: {k.removeprefix('_orig_mod.'): v" in str(err.value)
    plain.load_state_dict({k.removeprefix("_orig_mod."): v for k, v in sd.items()})
    assert ember.equal(plain.fc.weight, src.fc.weight)
    with pytest.raises(RuntimeError, match=r"compiled._orig_mod.load_state_dict\(state_dict\)"):
        dst.load_state_dict(plain.state_dict())
    with pytest.raises(RuntimeError) as err:  # no hint where the prefix is not the difference
        plain.load_state_dict({"nope": ember.ones(1)})
    assert "_orig_mod" not in str(err.value)


def test_compiled_module_hooks_copies_and_whole_saves(tmp_path):
    import copy
    m = ember.nn.Linear(2, 2)
    c = ember.compile(m)
    seen = []
    h = c.register_forward_hook(lambda mod, i, o: seen.append(type(mod).__name__))
    c(ember.ones(2))
    h.remove()
    c(ember.ones(2))
    assert seen == ["OptimizedModule"]
    g = ember.nn.modules.module.register_module_forward_hook(lambda mod, i, o: seen.append(type(mod).__name__))
    try:
        with pytest.warns(UserWarning, match="hooks to fire an extra time for the `OptimizedModule`"):
            c(ember.ones(2))
    finally:
        g.remove()
    assert seen == ["OptimizedModule", "Linear", "OptimizedModule"]
    d = copy.deepcopy(c)
    assert type(d) is type(c) and d._orig_mod is not m and ember.equal(d.weight, m.weight)
    ember.save(c, tmp_path / "whole.pt")
    back = ember.load(tmp_path / "whole.pt", weights_only=False)
    assert type(back) is type(c) and ember.equal(back(ember.ones(2)), c(ember.ones(2)))


def test_module_compile_is_in_place_and_keeps_the_class():
    m = _Net()
    keys = list(m.state_dict())
    assert m.compile(mode="max-autotune") is None
    assert type(m) is _Net and list(m.state_dict()) == keys and m._compiled_call_impl is not None
    x = ember.randn(4, 3)
    m.eval()
    assert ember.equal(m(x), m.forward(x))
    with pytest.raises(RuntimeError, match="Unrecognized mode=bad"):
        ember.nn.Linear(1, 1).compile(mode="bad")


def test_compile_of_a_function_returns_a_wrapper():
    def f(x):
        return x * 2
    g = ember.compile(f)
    assert g is not f and g.__wrapped__ is f and g._torchdynamo_orig_callable is f and g.__name__ == "f"
    assert g(ember.ones(1)).tolist() == [2.0]
    assert ember.compile(f, disable=True) is f
    assert ember.compile(m := ember.nn.Linear(1, 1), disable=True) is m

    @ember.compile
    def g2(x):
        return x + 1

    @ember.compile(mode="max-autotune", fullgraph=True)
    def h(x):
        return x - 1
    assert g2(ember.ones(1)).tolist() == [2.0] and h(ember.ones(1)).tolist() == [0.0]
    assert h.__name__ == "h"
    assert ember.compile(f, backend=lambda gm, inputs: gm)(ember.ones(1)).tolist() == [2.0]
    assert ember.compiler.disable(g)._torchdynamo_orig_callable is f


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


@requires_torch
def test_optimized_module_matches_torch():
    m, tm = _Net(), _torch_net()
    c, tc = ember.compile(m), torch.compile(tm, backend="eager")
    assert type(c).__name__ == type(tc).__name__ and type(tc).__module__ == "torch._dynamo.eval_frame"
    assert repr(c).replace("_Net", "Net") == repr(tc)
    assert list(c.state_dict()) == list(tc.state_dict())
    assert [n for n, _ in c.named_modules()] == [n for n, _ in tc.named_modules()]
    assert [n for n, _ in c.named_buffers()] == [n for n, _ in tc.named_buffers()]
    for lib, mod, wrapped in ((ember, m, c), (torch, tm, tc)):
        wrapped.eval()
        assert (mod.training, mod.bn.training, wrapped.training) == (False, False, False)
        wrapped.foo = 1
        assert mod.foo == 1
    for lib, net in ((ember, _Net()), (torch, _torch_net())):
        keys = list(net.state_dict())
        net.compile(backend="eager")
        assert type(net).__name__ == "Net" or type(net) is _Net
        assert list(net.state_dict()) == keys and net._compiled_call_impl is not None


@requires_torch
def test_compiled_checkpoint_crosses_between_ember_and_torch(tmp_path):
    # ember's compiled checkpoint loads into torch's compiled model and the reverse, with the same outputs
    m = _Net().eval()
    x = np.random.default_rng(0).standard_normal((4, 3)).astype(np.float32)
    ember.save(ember.compile(m).state_dict(), tmp_path / "ember.pt")
    tc = torch.compile(_torch_net().eval(), backend="eager")
    sd = torch.load(tmp_path / "ember.pt")
    assert list(sd) == list(tc.state_dict()) and next(iter(sd)).startswith("_orig_mod.")
    tc.load_state_dict(sd)
    with torch.no_grad():
        want = m(ember.tensor(x)).detach().numpy()
        np.testing.assert_allclose(tc(torch.tensor(x)).numpy(), want, rtol=1e-6, atol=1e-6)
    torch.save(tc.state_dict(), tmp_path / "torch.pt")
    back = ember.compile(_Net().eval())
    back.load_state_dict(ember.load(tmp_path / "torch.pt"))
    np.testing.assert_array_equal(back(ember.tensor(x)).detach().numpy(), want)


@requires_torch
def test_whole_compiled_model_saved_by_ember_runs_in_torch(tmp_path):
    nn = ember.nn
    model = ember.compile(nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2)))
    ember.save(model, tmp_path / "whole.pt")
    loaded = torch.load(tmp_path / "whole.pt", weights_only=False)
    assert type(loaded).__name__ == "OptimizedModule" and type(loaded._orig_mod) is torch.nn.Sequential
    x = np.ones((2, 3), np.float32)
    np.testing.assert_allclose(loaded(torch.tensor(x)).detach().numpy(), model(ember.tensor(x)).detach().numpy(),
                               rtol=0, atol=1e-6)


def test_dynamo_namespace_reset_and_config():
    import ember._dynamo as dynamo
    assert dynamo.reset() is None and ember.compiler.reset() is None
    assert dynamo.OptimizedModule is dynamo.eval_frame.OptimizedModule
    cfg = dynamo.config
    assert cfg.suppress_errors is False and cfg.cache_size_limit == 8
    cfg.suppress_errors = True
    try:
        assert cfg.suppress_errors is True and cfg.get_config_copy()["suppress_errors"] is True
    finally:
        del cfg.suppress_errors  # restores the default, as torch's config does
    assert cfg.suppress_errors is False
    with cfg.patch(cache_size_limit=64):
        assert cfg.cache_size_limit == 64
    with cfg.patch("verbose", True):
        assert cfg.verbose is True
    assert cfg.cache_size_limit == 8 and cfg.verbose is False
    for bad in (lambda: cfg.nope, lambda: setattr(cfg, "nope", 1), lambda: cfg.patch(nope=1)):
        with pytest.raises(AttributeError, match="ember._dynamo.config.nope does not exist"):
            bad()
    t = ember.ones(2, 3)
    assert dynamo.mark_dynamic(t, 0) is None and dynamo.maybe_mark_dynamic(t, 1) is None
    assert dynamo.mark_static(t) is None


@requires_torch
def test_dynamo_config_names_are_torch_s():
    import torch._dynamo.config as tcfg
    from ember._dynamo import config
    for name, value in config.get_config_copy().items():
        assert getattr(tcfg, name) == value, name


# ---- torch.jit ---------------------------------------------------------------------------------
def _seq_net():
    return ember.nn.Sequential(ember.nn.Linear(3, 2), ember.nn.ReLU())


def test_jit_script_and_trace_wrap_a_module_that_runs_its_python(tmp_path):
    for make, cls in ((lambda m: ember.jit.script(m), "RecursiveScriptModule"),
                      (lambda m: ember.jit.trace(m, ember.randn(4, 3)), "TopLevelTracedModule")):
        m = _seq_net()
        s = make(m)
        assert type(s).__name__ == cls and isinstance(s, ember.jit.ScriptModule) and not isinstance(s, type(m))
        x = ember.randn(4, 3)
        assert ember.equal(s(x), m(x)) and ember.equal(s.forward(x), m(x))
        assert list(s.state_dict()) == list(m.state_dict()) and s[0].weight is m[0].weight if cls[0] == "R" else True
        assert [p is q for p, q in zip(s.parameters(), m.parameters())] == [True, True]
        assert s.original_name == "Sequential"
        # the scripted copy has its own training flag and attributes, as torch's does
        assert s.eval() is s and not s.training and m.training
        s.extra = 1
        assert not hasattr(m, "extra")
        # the weights are shared: loading into the model reaches the scripted one
        m.load_state_dict({k: v + 1 for k, v in m.state_dict().items()})
        assert ember.equal(s(x), m.eval()(x))
        assert ember.jit.script(s) is s
    with pytest.raises(RuntimeError, match="mat1 and mat2 shapes cannot be multiplied"):
        ember.jit.trace(m, ember.randn(4, 5))  # the example runs once, as torch's tracer runs it
    assert m[0].weight.grad is None

    def f(x):
        return x.relu()
    sf = ember.jit.script(f)
    assert type(sf).__name__ == "ScriptFunction" and sf.__wrapped__ is f and sf.name == "f"
    assert sf.qualified_name == "__torch__.f" and sf(-ember.ones(2)).tolist() == [0.0, 0.0]
    assert type(ember.jit.trace(f, ember.ones(2))).__name__ == "ScriptFunction" and ember.jit.script(sf) is sf

    class Plain:
        pass
    assert ember.jit.script(Plain) is Plain
    assert ember.jit.is_scripting() is False and ember.jit.is_tracing() is False
    assert ember.jit.ignore(f) is f and ember.jit.unused(f) is f


def test_jit_save_and_load_say_to_save_the_state_dict(tmp_path):
    m = _seq_net()
    path = str(tmp_path / "m.pt")
    calls = [lambda: ember.jit.script(m).save(path), lambda: ember.jit.trace(m, ember.ones(1, 3)).save(path),
             lambda: ember.jit.script(m).save_to_buffer(), lambda: ember.jit.script(m).code,
             lambda: ember.jit.script(lambda x: x).save(path), lambda: ember.jit.save(m, path)]
    for call in calls:
        with pytest.raises(RuntimeError, match=r"ember.save\(model.state_dict\(\), path\)") as err:
            call()
        assert type(err.value) is RuntimeError
    assert not (tmp_path / "m.pt").exists()
    with pytest.raises(ValueError, match=f"The provided filename {path} does not exist"):
        ember.jit.load(path)
    ember.save(m.state_dict(), path)
    with pytest.raises(RuntimeError, match="cannot write or read TorchScript archives"):
        ember.jit.load(path)
    with pytest.raises(RuntimeError, match="Tried to serialize object __torch__.Sequential"):
        ember.save(ember.jit.script(m), tmp_path / "whole.pt")


def test_jit_freeze_returns_the_scripted_module_in_eval_mode():
    import copy
    m = _seq_net()
    s = ember.jit.script(m)
    with pytest.raises(RuntimeError, match="Freezing expects a ScriptModule as input"):
        ember.jit.freeze(m)
    with pytest.raises(RuntimeError, match="Please call .eval\\(\\) on your module before freezing."):
        ember.jit.freeze(s)
    assert ember.jit.freeze(s.eval()) is s and not s.training
    t = ember.jit.trace(_seq_net(), ember.ones(1, 3))
    assert ember.jit.optimize_for_inference(t) is t and not t.training
    with pytest.raises(RuntimeError, match="optimize_for_inference expects a ScriptModule as input"):
        ember.jit.optimize_for_inference(m)
    d = copy.deepcopy(s)
    assert type(d) is type(s) and d[0].weight is not s[0].weight and ember.equal(d[0].weight, s[0].weight)
    with pytest.raises(RuntimeError, match="requires_grad_ is not supported on ScriptModules"):
        s.requires_grad_(False)


@requires_torch
def test_jit_deprecation_warnings_are_torch_s(tmp_path):
    def warned(lib):
        m = lib.nn.Linear(2, 2)
        with warnings.catch_warnings(record=True) as w:
            warnings.simplefilter("always")
            lib.jit.optimize_for_inference(lib.jit.trace(lib.jit.script(m), lib.ones(1, 2)))
            lib.jit.trace_module(m, {"forward": lib.ones(1, 2)})
            for call in (lambda: lib.jit.save(m, str(tmp_path / "x.pt")), lambda: lib.jit.load("/nonexistent")):
                try:
                    call()
                except (AttributeError, RuntimeError, ValueError):
                    pass
        return list(dict.fromkeys((x.category, str(x.message)) for x in w))  # torch's trace_module warns twice
    assert warned(ember) == warned(torch)


@requires_torch
def test_jit_wrappers_print_and_refuse_as_torch_s():
    class TNet(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.seq = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.ReLU())

        def forward(self, x):
            return self.seq(x)

    class Net(ember.nn.Module):
        def __init__(self):
            super().__init__()
            self.seq = _seq_net()

        def forward(self, x):
            return self.seq(x)
    tm, m = TNet(), Net()
    ts, s = torch.jit.script(tm), ember.jit.script(m)
    assert repr(s) == repr(ts).replace("TNet", "Net")
    tt, t = torch.jit.trace(tm, torch.ones(1, 3)), ember.jit.trace(m, ember.ones(1, 3))
    assert repr(t) == repr(tt).replace("TNet", "Net")
    assert list(s.state_dict()) == list(ts.state_dict()) and list(t.state_dict()) == list(tt.state_dict())
    for lib, mod, scripted in ((torch, tm, ts), (ember, m, s)):
        with pytest.raises(RuntimeError) as err:
            lib.jit.freeze(mod)
        with pytest.raises(RuntimeError) as err2:
            lib.jit.freeze(scripted)
        with pytest.raises(RuntimeError) as err3:
            scripted.register_forward_hook(lambda *a: None)
        if lib is torch:
            want = (str(err.value), str(err2.value), str(err3.value))
    assert (str(err.value), str(err2.value), str(err3.value)) == want
    with pytest.raises(ValueError) as theirs:
        torch.jit.load("/nonexistent/m.pt")
    with pytest.raises(ValueError) as ours:
        ember.jit.load("/nonexistent/m.pt")
    assert str(ours.value) == str(theirs.value)


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

