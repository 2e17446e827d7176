"""torch.fx: symbolic tracing, graphs, generated code, Interpreter, Transformer, replace_pattern, ShapeProp,
against real torch; and pytorch/examples' fx programs (tests/examples/fx, unchanged) under `ember run`."""
import copy
import gc
import math
import os
import pickle
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import ember
import ember.fx as fx
import ember.nn.functional as F
from ember.fx import _recording

from .conftest import requires_torch, torch

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "tests" / "examples" / "fx"


def _code(gm):
    """Generated code with ember's own prefix read as torch's (outside the alias ember prints ember.relu)."""
    return re.sub(r"\bember\.", "torch.", gm.code if hasattr(gm, "code") else str(gm))


def _same_weights(m_e, m_t):
    m_t.load_state_dict({k: torch.from_numpy(v.numpy().copy()) for k, v in m_e.state_dict().items()})


# ---- modules written once for both frameworks ---------------------------------------------------------
def _make_net(T):
    TF = T.nn.functional

    class Sub(T.nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = T.nn.Linear(4, 4)

        def forward(self, x):
            return T.relu(self.lin(x)).transpose(0, 1)

    class Net(T.nn.Module):
        def __init__(self):
            super().__init__()
            self.sub = Sub()
            self.seq = T.nn.Sequential(T.nn.Linear(4, 3), T.nn.ReLU())
            self.w = T.nn.Parameter(T.ones(4) * 0.5)
            self.register_buffer("buf", T.ones(3))
            self.c = T.tensor([1.0, 2.0, 3.0])

        def forward(self, x, scale=2.0):
            y = self.sub(x.t() * self.w) + x.mean()
            z = self.seq(y.t()) + self.buf * self.c
            a, b = z.chunk(2, dim=0)
            h = TF.relu(T.cat([a, b], dim=0)) * scale + math.sqrt(2.0)
            return {"out": TF.softmax(h, dim=-1), "neg": -h, "n": x.shape[0], "mm": h @ h.t()}
    return Net


def _make_functional(T):
    TF = T.nn.functional

    class M(T.nn.Module):
        def forward(self, x):
            return (TF.max_pool2d(x, 2), TF.max_pool2d(x, 2, return_indices=True), TF.adaptive_max_pool2d(x, 1),
                    TF.softmax(x, 1), TF.dropout(x, 0.2), TF.sigmoid(x), TF.pad(x, (1, 1)), TF.avg_pool2d(x, 2),
                    TF.conv2d(x, x), TF.relu(x, True), TF.leaky_relu(x, negative_slope=0.2),
                    TF.interpolate(x, scale_factor=2), TF.gelu(x), TF.linear(x, x), TF.log_softmax(x, dim=1),
                    TF.cross_entropy(x, x), TF.layer_norm(x, (3,)), TF.threshold(x, 0.1, 20.0), TF.logsigmoid(x),
                    T.arctan(x), T.atan(x), T.concat([x, x]), T.linalg.inv(x), T.flatten(x, 1),
                    T.ones(2) + x, T.ones(2) * x, x.add(1), x.T, 2 ** x, x[:, 0:1], x[..., None])
    return M


@requires_torch
def test_traced_code_and_graph_match_torch():
    net_e, net_t = _make_net(ember)(), _make_net(torch)()
    gm_e, gm_t = fx.symbolic_trace(net_e), torch.fx.symbolic_trace(net_t)
    assert _code(gm_e) == gm_t.code
    assert _code(gm_e.graph) == str(gm_t.graph)
    assert [n for n, _ in gm_e.named_modules()] == [n for n, _ in gm_t.named_modules()]
    assert list(gm_e.state_dict()) == list(gm_t.state_dict())
    assert type(gm_e).__name__ == "Net" and isinstance(gm_e, fx.GraphModule) and isinstance(gm_e, ember.nn.Module)
    assert repr(gm_e) == repr(gm_t)


@requires_torch
def test_functional_calls_recorded_as_torch_records_them():
    # F.relu(x) is relu(x, inplace=False); F.max_pool2d(..., return_indices=True) is max_pool2d_with_indices;
    # F.linear prints as torch._C._nn.linear; torch.arctan is not torch.atan; tensor + proxy is tensor.add(proxy)
    gm_e, gm_t = fx.symbolic_trace(_make_functional(ember)()), torch.fx.symbolic_trace(_make_functional(torch)())
    assert _code(gm_e) == gm_t.code
    assert _code(gm_e.graph) == str(gm_t.graph)


@requires_torch
@pytest.mark.parametrize("make", [
    lambda T: T.nn.ReLU(), lambda T: T.nn.LeakyReLU(0.2), lambda T: T.nn.Softmax(1), lambda T: T.nn.LogSoftmax(0),
    lambda T: T.nn.Dropout(), lambda T: T.nn.MaxPool2d(2), lambda T: T.nn.Linear(2, 3), lambda T: T.nn.Flatten(),
    lambda T: T.nn.GELU(), lambda T: T.nn.AdaptiveAvgPool2d(1), lambda T: T.nn.Identity()])
def test_tracing_torch_nn_modules_themselves(make):
    # (torch annotates their forward with Tensor types, which shows in the def line; the bodies match)
    body_e = _code(fx.symbolic_trace(make(ember))).split("\n", 4)[4]
    body_t = torch.fx.symbolic_trace(make(torch)).code.split("\n", 4)[4]
    assert body_e == body_t


@requires_torch
def test_traced_module_computes_as_the_module_and_torch():
    net_e, net_t = _make_net(ember)(), _make_net(torch)()
    _same_weights(net_e, net_t)
    x = np.random.RandomState(0).randn(4, 4).astype(np.float32)
    gm_e = fx.symbolic_trace(net_e)
    want, got = net_e(ember.tensor(x)), gm_e(ember.tensor(x))
    ref = torch.fx.symbolic_trace(net_t)(torch.tensor(x))
    for k in ("out", "neg", "mm"):
        np.testing.assert_allclose(got[k].detach().numpy(), want[k].detach().numpy(), rtol=0, atol=0)
        np.testing.assert_allclose(got[k].detach().numpy(), ref[k].detach().numpy(), rtol=1e-5, atol=1e-6)
    assert got["n"] == 4


def test_traced_module_gradients_match_the_module():
    net = _make_net(ember)().double()
    gm = fx.symbolic_trace(net)
    x = ember.tensor(np.random.RandomState(1).randn(4, 4), requires_grad=True)
    gm(x)["mm"].sum().backward()
    g_traced = [x.grad.numpy().copy()] + [p.grad.numpy().copy() for p in gm.parameters()]
    x.grad = None
    for p in net.parameters():
        p.grad = None
    net(x)["mm"].sum().backward()
    g_eager = [x.grad.numpy()] + [p.grad.numpy() for p in net.parameters()]
    for a, b in zip(g_traced, g_eager):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


def test_central_differences_through_an_interpreter():
    net = _make_net(ember)().double()
    gm = fx.symbolic_trace(net)
    x0 = np.random.RandomState(2).randn(4, 4)

    def f(a):
        with ember.no_grad():
            return float(fx.Interpreter(gm).run(ember.tensor(a))["mm"].pow(2).sum())
    x = ember.tensor(x0, requires_grad=True)
    fx.Interpreter(gm).run(x)["mm"].pow(2).sum().backward()
    num = np.zeros_like(x0)
    for i in np.ndindex(*x0.shape):
        d = np.zeros_like(x0)
        d[i] = 1e-6
        num[i] = (f(x0 + d) - f(x0 - d)) / 2e-6
    np.testing.assert_allclose(x.grad.numpy(), num, rtol=1e-5, atol=1e-6)


@requires_torch
def test_interpreter_and_transformer_as_torch():
    def run(T, fxm):
        net = _make_net(T)()

        class NegSigmoid(fxm.Interpreter):
            def call_function(self, target, args, kwargs):
                if target == T.relu:
                    return T.neg(T.sigmoid(*args, **kwargs))
                return super().call_function(target, args, kwargs)

        class ReluToGelu(fxm.Transformer):
            def call_function(self, target, args, kwargs):
                if target == T.relu:
                    return super().call_function(T.nn.functional.gelu, args, kwargs)
                return super().call_function(target, args, kwargs)
        gm = fxm.symbolic_trace(net)
        return net, gm, NegSigmoid(gm), ReluToGelu(gm).transform()

    net_e, gm_e, interp_e, new_e = run(ember, fx)
    net_t, gm_t, interp_t, new_t = run(torch, torch.fx)
    _same_weights(net_e, net_t)
    _same_weights(gm_e, gm_t)
    x = np.random.RandomState(3).randn(4, 4).astype(np.float32)
    a = interp_e.run(ember.tensor(x))["out"].detach().numpy()
    b = interp_t.run(torch.tensor(x))["out"].detach().numpy()
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert _code(new_e) == new_t.code


@requires_torch
def test_shape_prop_and_print_readable_as_torch():
    from ember.fx.passes.shape_prop import ShapeProp
    from torch.fx.passes.shape_prop import ShapeProp as TShapeProp
    gm_e, gm_t = fx.symbolic_trace(_make_net(ember)()), torch.fx.symbolic_trace(_make_net(torch)())
    x = np.ones((4, 4), np.float32)
    ShapeProp(gm_e).propagate(ember.tensor(x))
    TShapeProp(gm_t).propagate(torch.tensor(x))
    for ne, nt in zip(gm_e.graph.nodes, gm_t.graph.nodes):
        me, mt = ne.meta.get("tensor_meta"), nt.meta.get("tensor_meta")
        assert (me is None) == (mt is None), ne.name
        if hasattr(mt, "shape"):
            assert (tuple(me.shape), str(me.dtype).replace("ember", "torch"), me.stride, me.requires_grad) == \
                   (tuple(mt.shape), str(mt.dtype), mt.stride, mt.requires_grad), ne.name
    assert re.sub(r"\bember\.", "torch.", gm_e.print_readable(print_output=False)) == \
        gm_t.print_readable(print_output=False)


@requires_torch
def test_graph_surgery_as_torch():
    def edit(T, fxm):
        gm = fxm.symbolic_trace(_make_net(T)())
        g = gm.graph
        for n in g.nodes:
            if n.op == "call_method" and n.target == "mean":
                with g.inserting_after(n):
                    new = g.call_function(T.sum, (n.args[0],), {"dim": 0})
                n.replace_all_uses_with(new)
                g.erase_node(n)
            elif n.op == "call_function" and n.target == T.relu:
                with g.inserting_before(n):
                    dead = g.call_function(T.neg, (n.args[0],))   # (no users: eliminated below)
                n.update_kwarg("dummy", None)
                n.kwargs = {}
                assert dead.users == {}
        changed = g.eliminate_dead_code()
        g.lint()
        gm.recompile()
        rows = [(n.format_node(), [u.name for u in n.users], [i.name for i in n.all_input_nodes]) for n in g.nodes]
        new = fxm.Graph()
        out = new.graph_copy(g, {})
        new.output(out)
        return changed, gm, rows, str(new)
    e, t = edit(ember, fx), edit(torch, torch.fx)
    assert e[0] is t[0] is True
    assert _code(e[1]) == t[1].code
    assert [(re.sub(r"\bember\.", "torch.", a), b, c) for a, b, c in e[2]] == t[2]
    assert _code(e[3]) == t[3]


@requires_torch
def test_proxy_errors_as_torch():
    def bad_if(x):
        if x.sum() > 0:
            return x
        return -x

    def bad_iter(x):
        return [i for i in x]

    for fn in (bad_if, bad_iter):
        with pytest.raises(Exception) as e:
            fx.symbolic_trace(fn)
        with pytest.raises(Exception) as t:
            torch.fx.symbolic_trace(fn)
        assert type(e.value).__name__ == type(t.value).__name__ and str(e.value) == str(t.value)
    assert issubclass(fx.proxy.TraceError, ValueError)
    assert not _recording.installed()   # (put back, though the trace failed)
    # (len is wrapped in this module, so traced: a Proxy's own len() outside tracing refuses)
    with pytest.raises(RuntimeError) as e:
        len(fx.Proxy(fx.Graph().placeholder("x")))
    with pytest.raises(RuntimeError) as t:
        len(torch.fx.Proxy(torch.fx.Graph().placeholder("x")))
    assert str(e.value) == str(t.value)
    del e, t
    gc.collect()   # (the tracebacks held that Proxy in a cycle: until it goes, the recorders stay)
    assert not _recording.installed()

    def unpack(x):
        a, b = x
        return a + b
    assert _code(fx.symbolic_trace(unpack)) == torch.fx.symbolic_trace(unpack).code


@requires_torch
def test_graph_errors_as_torch():
    def go(T, fxm):
        out = []
        g = fxm.Graph()
        q = g.placeholder("y")
        g.call_function(T.relu, (q,))
        try:
            g.erase_node(q)
        except RuntimeError as e:
            out.append(str(e))
        g3 = fxm.Graph()
        a = g3.placeholder("a")
        b = g3.call_function(T.neg, (a,))
        c = g3.call_function(T.neg, (b,))
        b.prepend(c)
        try:
            g3.lint()
        except RuntimeError as e:
            out.append(str(e).splitlines()[0])
        b.append(c)
        g3.lint()
        out.append([n.name for n in g3.nodes])
        out.append(fxm.node.map_arg((a, [b, {"k": c}], 3), lambda n: n.name))
        out.append(repr(fxm.Proxy(a)))
        return out
    assert go(ember, fx) == go(torch, torch.fx)


@requires_torch
def test_concrete_args_varargs_and_wrap_as_torch():
    def f(x, flag):
        return x * 2 if flag else x

    def g(x, *args, **kw):
        return x + args[0] + math.sqrt(kw["k"])
    assert _code(fx.symbolic_trace(f, concrete_args={"flag": True})) == \
        torch.fx.symbolic_trace(f, concrete_args={"flag": True}).code
    assert _code(fx.symbolic_trace(g)) == torch.fx.symbolic_trace(g).code
    traced = fx.symbolic_trace(f, concrete_args={"flag": True})
    assert traced(ember.ones(2), True).tolist() == [2.0, 2.0]
    with pytest.raises(AssertionError, match="flag has been specialized to have value True"):
        traced(ember.ones(2), False)


@requires_torch
def test_replace_pattern_as_torch():
    def run(T, fxm):
        def pattern(x):
            return T.neg(T.neg(x))

        def replacement(x):
            return T.relu(x)

        class N(T.nn.Module):
            def forward(self, x):
                return T.neg(T.neg(x)) + T.neg(T.neg(x * 2))
        gm = fxm.symbolic_trace(N())
        matches = fxm.replace_pattern(gm, pattern, replacement)
        return [(type(m).__name__, m.anchor.name, sorted(v.name for v in m.nodes_map.values())) for m in matches], gm
    (me, gme), (mt, gmt) = run(ember, fx), run(torch, torch.fx)
    assert me == mt and _code(gme) == gmt.code
    assert gme(ember.tensor([-1.0, 2.0])).tolist() == [0.0, 6.0]


@requires_torch
def test_copies_and_pickles_as_torch():
    gm = fx.symbolic_trace(_make_net(ember)())
    tgm = torch.fx.symbolic_trace(_make_net(torch)())
    x = ember.tensor(np.random.RandomState(4).randn(4, 4).astype(np.float32))
    for dup, tdup in ((copy.deepcopy(gm), copy.deepcopy(tgm)), (pickle.loads(pickle.dumps(gm)),
                                                                 pickle.loads(pickle.dumps(tgm)))):
        assert type(dup).__name__ == type(tdup).__name__
        assert dup.code == gm.code
        np.testing.assert_array_equal(dup(x)["mm"].detach().numpy(), gm(x)["mm"].detach().numpy())
        assert list(dup.state_dict()) == list(tdup.state_dict())


@requires_torch
def test_print_tabular_as_torch(capsys):
    pytest.importorskip("tabulate")
    gm_e, gm_t = fx.symbolic_trace(_make_net(ember)()), torch.fx.symbolic_trace(_make_net(torch)())
    gm_e.graph.print_tabular()
    e = capsys.readouterr().out
    gm_t.graph.print_tabular()
    t = capsys.readouterr().out
    strip = re.compile(r" at 0x[0-9a-f]+")
    assert strip.sub("", _code(e)) == strip.sub("", t)


def test_print_tabular_without_tabulate(capsys):
    # tabulate's default format, which ember writes itself (torch needs the tabulate package)
    g = fx.Graph()
    x = g.placeholder("x")
    r = g.call_function(F.relu, (x,), {"inplace": False})
    g.output(r)
    g.print_tabular()
    out = re.sub(r"0x[0-9a-f]{12}\b", "0xADDRESS0000", capsys.readouterr().out)
    assert out == (
        "opcode         name    target                             args     kwargs\n"
        "-------------  ------  ---------------------------------  -------  ------------------\n"
        "placeholder    x       x                                  ()       {}\n"
        "call_function  relu    <function relu at 0xADDRESS0000>  (x,)     {'inplace': False}\n"
        "output         output  output                             (relu,)  {}\n")


def test_recorders_exist_only_while_proxies_live():
    gc.collect()
    relu, frelu, add = ember.relu, F.relu, ember.Tensor.__add__
    assert not _recording.installed()
    g = fx.Graph()
    p = fx.Proxy(g.placeholder("x"))
    assert _recording.installed() and ember.relu is not relu
    assert ember.relu == relu and hash(ember.relu) == hash(relu)   # (node.target == torch.relu still holds)
    assert ember.relu(ember.tensor([-1.0])).tolist() == [0.0]       # (no Proxy: the function itself)
    q = ember.relu(p)
    assert q.node.target is relu
    del p, q
    assert not _recording.installed()
    assert ember.relu is relu and F.relu is frelu and ember.Tensor.__add__ is add
    fx.symbolic_trace(lambda x: ember.relu(x) + 1)
    assert not _recording.installed() and ember.relu is relu


def test_proxies_from_different_tracers_refused():
    g1, g2 = fx.Graph(), fx.Graph()
    a, b = fx.Proxy(g1.placeholder("a")), fx.Proxy(g2.placeholder("b"))
    with pytest.raises(RuntimeError, match="Found multiple different tracers"):
        ember.add(a, b)


def test_generated_code_error_shows_the_generated_line(capsys):
    class M(ember.nn.Module):
        def forward(self, x):
            return ember.cat([x, x], dim=5)
    gm = fx.symbolic_trace(M())
    with pytest.raises(IndexError):
        gm(ember.ones(2))
    err = capsys.readouterr().err
    assert "Call using an FX-traced Module, line 5 of the traced Module's generated forward function:" in err
    assert "cat = ember.cat([x, x], dim = 5)" in err and "<--- HERE" in err


def _helper(x, n):
    return x.view(-1)[:n]


fx.wrap("_helper")
fx.wrap("len")
if torch is not None:
    torch.fx.wrap("_helper")
    torch.fx.wrap("len")


def _make_blocks(T):
    class Block(T.nn.Module):
        def __init__(self):
            super().__init__()
            self.act = T.nn.ReLU()
            self.lin = T.nn.Linear(3, 3)

        def forward(self, x):
            return self.act(self.lin(x)) + self.act(x)

    class M(T.nn.Module):
        def __init__(self):
            super().__init__()
            self.b1, self.b2 = Block(), Block()
            self.layers = T.nn.ModuleList([T.nn.Linear(3, 3) for _ in range(2)])

        def forward(self, x: T.Tensor) -> T.Tensor:
            for lay in self.layers:
                x = lay(x)
            x = self.b2(self.b1(x))
            if self.b1.lin.weight.shape[0] == 3:   # (a constant with param_shapes_constant)
                x = x * len(x)
            return _helper(x, 4) + math.floor(2.5) + x.size(0) + T.floor(x)[0].sum()
    return M


@requires_torch
def test_custom_tracers_wrap_and_scopes_as_torch():
    def run(T, fxm):
        class Through(fxm.Tracer):
            def is_leaf_module(self, m, qualname):
                return False
        out = []
        for tracer in (fxm.Tracer(param_shapes_constant=True), Through(param_shapes_constant=True)):
            g = tracer.trace(_make_blocks(T)())
            gm = fxm.GraphModule(tracer.root, g, "Traced")
            out += [str(g), gm.code, type(gm).__name__, tuple(gm(T.ones(2, 3)).shape)]
            out.append([(n.name, list(n.meta.get("nn_module_stack", {}).items())) for n in g.nodes])
            out.append({k: (p, getattr(c, "__name__", c)) for k, (p, c) in tracer.node_name_to_scope.items()})
        return out
    e, t = run(ember, fx), run(torch, torch.fx)
    assert [re.sub(r"\bember\.", "torch.", str(a)) for a in e] == [str(a) for a in t]


@requires_torch
def test_graph_built_by_hand_with_a_dict_root_as_torch():
    import operator

    def run(T, fxm):
        g = fxm.Graph()
        x = g.placeholder("x", type_expr=T.Tensor)
        w = g.get_attr("sub.weight")
        y = g.call_module("lin", (x,))
        z = g.call_method("add", (y, w), {"alpha": 2})
        s = g.call_function(operator.getitem, (z, slice(None, 2)))
        g.output((s, [y, {"a": z}]), type_expr=tuple)
        lin = T.nn.Linear(2, 2)
        gm = fxm.GraphModule({"lin": lin, "sub.weight": T.nn.Parameter(T.ones(2))}, g)
        return gm, [gm.code, str(gm), list(gm.state_dict()), str(g)]
    (gm, e), (_, t) = run(ember, fx), run(torch, torch.fx)
    assert [re.sub(r"\bember\.", "torch.", str(a)) for a in e] == [str(a) for a in t]
    out = gm(ember.ones(3, 2))
    assert out[0].shape == (2, 2) and out[1][1]["a"] is not None


# ---- pytorch/examples' fx programs -------------------------------------------------------------------------
_HARNESS = r"""
import contextlib, io, runpy, sys
if sys.argv[1] == "ember":
    from ember import compat
    compat.install()
shown = {"inline_function": ["m"], "invert": ["res"], "primitive_library": ["traced", "module"],
         "proxy_based_graph_creation": ["mod", "graph"], "replace_op": ["traced"],
         "subgraph_rewriter_basic_use": ["traced"], "wrap_output_dynamically": ["traced"],
         "custom_tracer": ["custom_traced_graph"], "profiling_tracer": ["graph_with_profiler", "traced_with_profiler"]}
for name in sys.argv[2:]:
    buf = io.StringIO()
    try:
        with contextlib.redirect_stdout(buf):
            g = runpy.run_path(name + ".py", run_name="__main__")
    except Exception as e:
        print(f"=== {name} FAILED {type(e).__name__}")
        continue
    print(f"=== {name}")
    if name != "profiling_tracer":   # (timings)
        print(buf.getvalue())
    for var in shown.get(name, []):
        v = g[var]
        print(f"--- {var}\n{getattr(v, 'code', v)}")
"""
_NAMES = ["inline_function", "invert", "primitive_library", "proxy_based_graph_creation", "replace_op",
          "subgraph_rewriter_basic_use", "wrap_output_dynamically", "custom_tracer", "profiling_tracer"]


def _env():
    return dict(os.environ, PYTHONPATH=str(ROOT))


def _harness(which):
    proc = subprocess.run([sys.executable, "-c", _HARNESS, which] + _NAMES, cwd=EXAMPLES, env=_env(),
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return dict(re.findall(r"^=== (\S+(?: FAILED \w+)?)\n(.*?)(?=^=== |\Z)", proc.stdout, re.M | re.S))


@requires_torch
def test_examples_generate_what_torch_generates():
    ember_out, torch_out = _harness("ember"), _harness("torch")
    strip = re.compile(r" at 0x[0-9a-f]+")
    for name, text in torch_out.items():
        if "FAILED" in name:   # (custom_tracer without the tabulate package)
            continue
        got, want = strip.sub("", ember_out[name]), strip.sub("", text)
        if name == "invert":
            # its last line prints exp(tan(arctan(log(k)))): NumPy's float32 exp is an ulp off torch's there
            # (4.000001 for 4.), so ember prints tensor([1.0000, ...]); a float64 exp rounded once fixes that
            # but was measured 2-4x slower on every float32 exp, and not kept
            got, want = (re.sub(r"tensor\(\[[^]]*\]\)", "tensor(VALUES)", t) for t in (got, want))
        assert got == want, name
    assert set(ember_out) == set(_NAMES)


def _ember_run(name):
    proc = subprocess.run([sys.executable, "-m", "ember", "run", f"{name}.py"], cwd=EXAMPLES, env=_env(),
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


@pytest.mark.parametrize("name", ["inline_function", "invert", "primitive_library", "proxy_based_graph_creation",
                                  "replace_op", "subgraph_rewriter_basic_use", "wrap_output_dynamically"])
def test_example_runs_under_ember_run(name):
    out = _ember_run(name)
    if name == "invert":
        # (torch prints tensor([1., 2., 3., 4., 5.]): NumPy's float32 exp is an ulp off torch's at 4., above)
        assert out.endswith("    return arctan\n    \ntensor([1.0000, 2.0000, 3.0000, 4.0000, 5.0000])\n")
    if name == "primitive_library":
        assert out.count('torch.fx._symbolic_trace.wrap("__main___add_lowp")') == 2
        assert "add_lowp = __main___add_lowp(half, half_1);  half = half_1 = None" in out


def test_custom_tracer_example_prints_torchs_tables():
    out = re.sub(r"0x[0-9a-f]{12}\b", "0xADDRESS0000", _ember_run("custom_tracer"))
    assert out == (   # (what torch prints with the tabulate package installed)
        "opcode       name    target    args     kwargs\n"
        "-----------  ------  --------  -------  --------\n"
        "placeholder  x       x         ()       {}\n"
        "call_module  relu    relu      (x,)     {}\n"
        "output       output  output    (relu,)  {}\n"
        "opcode         name    target                             args     kwargs\n"
        "-------------  ------  ---------------------------------  -------  ------------------\n"
        "placeholder    x       x                                  ()       {}\n"
        "call_function  relu    <function relu at 0xADDRESS0000>  (x,)     {'inplace': False}\n"
        "output         output  output                             (relu,)  {}\n"
        "True\n")


def test_module_tracer_example_prints_its_documented_output():
    # (it traces torchvision's resnet18: ember.vision's here; the script's docstring holds the output)
    src = (EXAMPLES / "module_tracer.py").read_text()
    expected = src.split("is from module', module_qualname)\n\"\"\"\n")[1].split('"""')[0]
    assert _ember_run("module_tracer") == expected


def test_profiling_tracer_example_records_the_range():
    tables = _ember_run("profiling_tracer").split("Self CPU time total")
    names = [re.findall(r"^\s+(foo|aten::\w+)\s", t, re.M) for t in tables[:3]]
    assert "foo" in names[0] and "foo" not in names[1] and "foo" in names[2]   # (traced with the tracer: kept)
    assert all("aten::relu" in n for n in names)
