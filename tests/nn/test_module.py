"""nn.Module against torch.nn.Module: registration, iteration, state_dict, repr, hooks, conversion."""
import copy
import pickle
from collections import OrderedDict

import numpy as np
import pytest

import ember
import ember.nn as nn
from ember.nn.parameter import Parameter

from tests.conftest import requires_torch


def _spec_net(mod):
    """The spec's section 2.1 Net written against torch.nn or ember.nn."""

    class Net(mod.Module):
        def __init__(self):
            super(Net, self).__init__()
            self.conv1 = mod.Conv2d(1, 6, 3)
            self.conv2 = mod.Conv2d(6, 16, 3)
            self.fc1 = mod.Linear(16 * 6 * 6, 120)
            self.fc2 = mod.Linear(120, 84)
            self.fc3 = mod.Linear(84, 10)

    return Net()


def _nested(mod):
    class Block(mod.Module):
        def __init__(self):
            super().__init__()
            self.lin = mod.Linear(3, 3)
            self.register_buffer("steps", _zeros(mod, 2))
            self.register_buffer("scratch", _zeros(mod, 1), persistent=False)

    class Model(mod.Module):
        def __init__(self):
            super().__init__()
            shared = mod.Linear(3, 2)
            self.features = mod.Sequential(Block(), mod.ReLU(), Block())
            self.heads = mod.ModuleList([shared, mod.Linear(2, 2), shared])
            self.table = mod.ModuleDict({"b": mod.Linear(1, 1), "a": mod.Identity()})
            self.alias = shared
            self.scale = mod.Parameter(_ones(mod, 1))
            self.register_parameter("unused", None)
            self.register_buffer("nothing", None)

    return Model()


def _zeros(mod, n):
    import torch
    return torch.zeros(n) if mod is torch.nn else ember.zeros(n)


def _ones(mod, n):
    import torch
    return torch.ones(n) if mod is torch.nn else ember.ones(n)


def _msg(torch_exc):
    """torch's message as ember prints it when not standing in for torch."""
    return str(torch_exc).replace("torch.Size", "ember.Size").replace("torch.FloatTensor", "ember.FloatTensor")


class Scale(nn.Module):
    """A tiny module built only from elementwise ops."""

    def __init__(self, n=3):
        super().__init__()
        self.w = Parameter(ember.ones(n) * 2)

    def forward(self, x):
        return x * self.w


# ---- repr / structure ---------------------------------------------------------
@requires_torch
def test_spec_net_repr_matches_torch(oracle):
    assert repr(_spec_net(nn)) == repr(_spec_net(oracle.nn))
    net = _spec_net(nn)
    params = list(net.parameters())
    assert len(params) == 10
    assert tuple(params[0].size()) == (6, 1, 3, 3)


@requires_torch
def test_nested_repr_and_iteration_match_torch(oracle):
    e, t = _nested(nn), _nested(oracle.nn)
    assert repr(e) == repr(t)
    assert [n for n, _ in e.named_modules()] == [n for n, _ in t.named_modules()]
    assert [n for n, _ in e.named_modules(remove_duplicate=False)] == \
        [n for n, _ in t.named_modules(remove_duplicate=False)]
    assert [n for n, _ in e.named_parameters()] == [n for n, _ in t.named_parameters()]
    assert [n for n, _ in e.named_parameters(remove_duplicate=False)] == \
        [n for n, _ in t.named_parameters(remove_duplicate=False)]
    assert [n for n, _ in e.named_parameters(prefix="m", recurse=False)] == \
        [n for n, _ in t.named_parameters(prefix="m", recurse=False)]
    assert [n for n, _ in e.named_buffers()] == [n for n, _ in t.named_buffers()]
    assert [n for n, _ in e.named_children()] == [n for n, _ in t.named_children()]
    assert len(list(e.modules())) == len(list(t.modules()))
    assert list(e.state_dict().keys()) == list(t.state_dict().keys())
    assert e.state_dict()._metadata == t.state_dict()._metadata
    assert list(e.state_dict(prefix="p.").keys()) == list(t.state_dict(prefix="p.").keys())


@requires_torch
def test_container_reprs_match_torch(oracle):
    def build(mod):
        return mod.Sequential(
            mod.Conv2d(3, 8, 3, padding=1, bias=False),
            mod.BatchNorm2d(8),
            mod.ReLU(inplace=True),
            mod.MaxPool2d(2, 2),
            mod.ModuleList([mod.Linear(4, 4) for _ in range(3)] + [mod.Dropout(0.2)]),
            mod.ModuleDict(OrderedDict(act=mod.LeakyReLU(0.2), sm=mod.Softmax(dim=1))),
            mod.Sequential(),
            mod.ModuleList(),
        )
    assert repr(build(nn)) == repr(build(oracle.nn))


def test_dir_and_getattr():
    m = Scale()
    m.sub = Scale()
    m.register_buffer("buf", ember.zeros(1))
    names = dir(m)
    for n in ("w", "sub", "buf", "forward", "training"):
        assert n in names
    with pytest.raises(AttributeError, match="'Scale' object has no attribute 'nope'"):
        m.nope
    del m.sub, m.buf, m.w
    assert not m._modules and not m._buffers and not m._parameters


# ---- registration errors --------------------------------------------------------
@requires_torch
def test_assign_before_init_errors_match_torch(oracle):
    for mod, P, z in ((nn, nn.Parameter, ember.zeros), (oracle.nn, oracle.nn.Parameter, oracle.zeros)):
        class Bad(mod.Module):
            def __init__(self, what):
                if what == "module":
                    self.fc = mod.Linear(1, 1)
                elif what == "param":
                    self.p = P(z(1))
                else:
                    self.register_buffer("b", z(1))
                super().__init__()

        for what, exp in (("module", "cannot assign module before Module.__init__() call"),
                          ("param", "cannot assign parameters before Module.__init__() call"),
                          ("buffer", "cannot assign buffer before Module.__init__() call")):
            with pytest.raises(AttributeError) as info:
                Bad(what)
            assert str(info.value) == exp


@requires_torch
def test_registration_type_errors_match_torch(oracle):
    cases = [
        lambda mod, z: setattr(_with_param(mod, z), "w", z(2)),
        lambda mod, z: setattr(_with_child(mod), "child", 3),
        lambda mod, z: mod.Module().register_buffer("b", 3),
        lambda mod, z: mod.Module().register_buffer("a.b", z(1)),
        lambda mod, z: mod.Module().register_parameter("", None),
        lambda mod, z: mod.Module().add_module("x", 3),
        lambda mod, z: mod.Module().add_module("a.b", mod.ReLU()),
        lambda mod, z: mod.Module().register_buffer("training", z(1)),
        lambda mod, z: mod.Module().register_parameter("p", z(2)),
    ]
    for case in cases:
        with pytest.raises(Exception) as te:
            case(oracle.nn, oracle.zeros)
        with pytest.raises(Exception) as ee:
            case(nn, ember.zeros)
        assert type(ee.value) is type(te.value)
        assert str(ee.value) == _msg(te.value)


def _with_param(mod, z):
    m = mod.Module()
    m.w = mod.Parameter(z(2))
    return m


def _with_child(mod):
    m = mod.Module()
    m.child = mod.ReLU()
    return m


def test_reassignment_moves_between_dicts():
    m = nn.Module()
    m.x = Parameter(ember.zeros(1))
    m.x = None  # stays a registered (None) parameter
    assert "x" in m._parameters and m.x is None
    m.y = nn.ReLU()
    m.y = Parameter(ember.ones(1))  # a parameter replaces the module
    assert "y" not in m._modules and "y" in m._parameters
    m.register_buffer("z", ember.zeros(1))
    m.z = ember.ones(2)  # assigning a tensor to a buffer name updates the buffer
    assert m._buffers["z"].shape == (2,)
    m.plain = 5
    assert m.__dict__["plain"] == 5


def test_nonleaf_parameter_rejected():
    m = nn.Module()
    p = Parameter(ember.ones(2))
    q = p * 2
    with pytest.raises(TypeError):
        m.register_parameter("q", q)


# ---- state_dict / load_state_dict --------------------------------------------
@requires_torch
def test_load_state_dict_errors_match_torch(oracle):
    e, t = _spec_net(nn), _spec_net(oracle.nn)
    sd_t = t.state_dict()
    bad_t = OrderedDict((k, v) for k, v in sd_t.items() if k != "fc3.bias")
    bad_t["fc1.weight"] = oracle.zeros(120, 400)
    bad_t["extra.weight"] = oracle.zeros(1)
    bad_e = OrderedDict((k, ember.tensor(v.numpy())) for k, v in bad_t.items())
    with pytest.raises(RuntimeError) as te:
        t.load_state_dict(bad_t)
    with pytest.raises(RuntimeError) as ee:
        e.load_state_dict(bad_e)
    assert str(ee.value) == _msg(te.value)
    assert str(ee.value).startswith("Error(s) in loading state_dict for Net:\n\tMissing key(s) in state_dict: "
                                    '"fc3.bias". \n\tUnexpected key(s) in state_dict: "extra.weight". \n\t'
                                    "size mismatch for fc1.weight: copying a param with shape ")

    with pytest.raises(RuntimeError) as te:
        t.load_state_dict({"fc1.weight": 3}, strict=False)
    with pytest.raises(RuntimeError) as ee:
        e.load_state_dict({"fc1.weight": 3}, strict=False)
    assert str(ee.value) == _msg(te.value)

    with pytest.raises(TypeError) as te:
        t.load_state_dict([1])
    with pytest.raises(TypeError) as ee:
        e.load_state_dict([1])
    assert str(ee.value) == str(te.value)


@requires_torch
def test_load_state_dict_non_strict_result_matches_torch(oracle):
    e, t = _spec_net(nn), _spec_net(oracle.nn)
    sd_t = OrderedDict((k, v) for k, v in t.state_dict().items() if not k.startswith("fc3"))
    sd_t["junk"] = oracle.zeros(1)
    sd_e = OrderedDict((k, ember.tensor(v.numpy())) for k, v in sd_t.items())
    rt = t.load_state_dict(sd_t, strict=False)
    re_ = e.load_state_dict(sd_e, strict=False)
    assert re_ == rt and repr(re_) == repr(rt)
    assert re_.missing_keys == ["fc3.weight", "fc3.bias"]
    assert repr(e.load_state_dict(e.state_dict())) == "<All keys matched successfully>"
    for k in sd_e:
        if k != "junk":
            np.testing.assert_array_equal(e.state_dict()[k].numpy(), sd_t[k].numpy())


def _snapshot(model):
    return {k: v.numpy().copy() for k, v in model.state_dict().items()}


def test_failed_load_leaves_model_unchanged():
    net = _spec_net(nn)
    before = _snapshot(net)
    version = net.fc2.weight._version
    new = {k: ember.tensor(np.full(v.shape, 7.0, np.float32)) for k, v in before.items()}
    # one bad shape among otherwise good tensors: nothing may be copied
    bad = dict(new)
    bad["fc3.weight"] = ember.zeros(3, 3)
    with pytest.raises(RuntimeError, match="size mismatch for fc3.weight"):
        net.load_state_dict(bad)
    # a missing key (torch would have copied the rest before raising)
    missing = dict(new)
    del missing["conv1.bias"]
    with pytest.raises(RuntimeError, match='Missing key\\(s\\) in state_dict: "conv1.bias"'):
        net.load_state_dict(missing)
    unexpected = dict(new, bogus=ember.zeros(1))
    with pytest.raises(RuntimeError, match="Unexpected key"):
        net.load_state_dict(unexpected)
    after = _snapshot(net)
    for k in before:
        np.testing.assert_array_equal(after[k], before[k])
    assert net.fc2.weight._version == version
    # and a good load copies into the same Parameter objects
    w = net.fc1.weight
    net.load_state_dict(new)
    assert net.fc1.weight is w
    assert float(w.detach().numpy()[0, 0]) == 7.0


def test_load_casts_and_keeps_identity():
    lin = nn.Linear(2, 2)
    w = lin.weight
    sd = {"weight": ember.tensor(np.arange(4, dtype=np.float64).reshape(2, 2)), "bias": ember.tensor([1.0, 2.0])}
    lin.load_state_dict(sd)
    assert lin.weight is w and w.dtype == ember.float32
    np.testing.assert_array_equal(w.detach().numpy(), [[0, 1], [2, 3]])
    # loading a module's own state into itself works
    lin.load_state_dict(lin.state_dict())
    np.testing.assert_array_equal(w.detach().numpy(), [[0, 1], [2, 3]])


def test_load_assign_and_batchnorm_legacy():
    lin = nn.Linear(2, 2)
    new_w = ember.ones(2, 2)
    lin.load_state_dict({"weight": new_w, "bias": ember.zeros(2)}, assign=True)
    assert isinstance(lin.weight, Parameter) and lin.weight.requires_grad
    bn = nn.BatchNorm1d(3)
    sd = bn.state_dict()
    del sd["num_batches_tracked"]
    sd._metadata[""]["version"] = 1  # a pre-num_batches_tracked checkpoint
    assert repr(bn.load_state_dict(sd)) == "<All keys matched successfully>"


def test_state_dict_keep_vars_and_detach():
    m = Scale()
    sd = m.state_dict()
    assert not sd["w"].requires_grad and sd["w"]._data is m.w._data
    assert m.state_dict(keep_vars=True)["w"] is m.w


def test_state_dict_hooks_and_extra_state():
    class WithExtra(nn.Module):
        def __init__(self):
            super().__init__()
            self.value = 1

        def get_extra_state(self):
            return {"value": self.value}

        def set_extra_state(self, state):
            self.value = state["value"]

    m = WithExtra()
    sd = m.state_dict()
    assert sd["_extra_state"] == {"value": 1}
    m2 = WithExtra()
    m2.value = 5
    m2.load_state_dict(sd)
    assert m2.value == 1
    seen = []
    m2.register_load_state_dict_post_hook(lambda mod, keys: seen.append(keys))
    m2.register_state_dict_pre_hook(lambda mod, prefix, keep_vars: seen.append(prefix))
    m2.load_state_dict(sd)
    m2.state_dict()
    assert len(seen) == 2 and seen[1] == ""


# ---- modes, grads, conversion ---------------------------------------------------
def test_train_eval_zero_grad_requires_grad():
    net = _nested(nn)
    assert net.training and all(m.training for m in net.modules())
    assert net.eval() is net and not any(m.training for m in net.modules())
    net.train()
    assert all(m.training for m in net.modules())
    with pytest.raises(ValueError, match="training mode is expected to be boolean"):
        net.train("yes")
    m = Scale()
    (m(ember.ones(3)).sum() if hasattr(ember.Tensor, "sum") else m(ember.ones(3))).backward(
        None if hasattr(ember.Tensor, "sum") else ember.ones(3))
    assert m.w.grad is not None
    m.zero_grad(set_to_none=False)
    np.testing.assert_array_equal(m.w.grad.numpy(), np.zeros(3))
    m.zero_grad()
    assert m.w.grad is None
    m.requires_grad_(False)
    assert not m.w.requires_grad


def test_to_keeps_parameter_identity_and_casts_floats_only():
    bn = nn.BatchNorm1d(2)
    w = bn.weight
    w.grad = ember.ones(2)
    assert bn.to(ember.float64) is bn
    assert bn.weight is w and w.dtype == ember.float64 and w.grad.dtype == ember.float64
    assert bn.running_mean.dtype == ember.float64
    assert bn.num_batches_tracked.dtype == ember.int64
    bn.float()
    assert w.dtype == ember.float32
    bn.to(ember.zeros(1, dtype=ember.float64))
    assert w.dtype == ember.float64
    bn.to("cpu", ember.float32)
    assert w.dtype == ember.float32
    bn.to(device="cpu", dtype=ember.float16).half()
    assert w.dtype == ember.float16
    bn.double().cpu()
    assert w.dtype == ember.float64 and w.is_leaf


@requires_torch
def test_to_integer_dtype_error_matches_torch(oracle):
    with pytest.raises(TypeError) as te:
        oracle.nn.Linear(1, 1).to(oracle.int64)
    with pytest.raises(TypeError) as ee:
        nn.Linear(1, 1).to(ember.int64)
    assert str(ee.value) == str(te.value).replace("torch.", "ember.")


@requires_torch
def test_to_cuda_without_gpu_raises_like_torch(oracle):
    if ember.cuda.is_available() or oracle.cuda.is_available():
        pytest.skip("a GPU is present")
    import importlib.util
    if importlib.util.find_spec("cupy") is None:
        # like a CPU build of torch: AssertionError "Torch not compiled with CUDA enabled"
        with pytest.raises(Exception) as te:
            oracle.nn.Linear(1, 1).to("cuda")
        expected = type(te.value)
    else:
        expected = RuntimeError  # CuPy present but no usable GPU: torch's CUDA RuntimeError
    lin = nn.Linear(1, 1)
    w = lin.weight.detach().numpy().copy()
    with pytest.raises(Exception) as ee:
        lin.to("cuda")
    assert type(ee.value) is expected
    with pytest.raises(expected):
        lin.cuda()
    np.testing.assert_array_equal(lin.weight.detach().numpy(), w)


def test_apply_and_submodule_access():
    net = _nested(nn)
    seen = []
    assert net.apply(lambda m: seen.append(type(m).__name__)) is net
    assert seen[-1] == "Model" and seen.count("Block") == 2
    assert net.get_submodule("features.0.lin") is net.features[0].lin
    assert net.get_parameter("features.2.lin.bias") is net.features[2].lin.bias
    assert net.get_buffer("features.0.steps") is net.features[0].steps
    with pytest.raises(AttributeError, match="has no attribute `nope`"):
        net.get_submodule("features.nope")
    net.set_submodule("features.1", nn.Tanh())
    assert isinstance(net.features[1], nn.Tanh)


def test_forward_unimplemented():
    with pytest.raises(NotImplementedError, match='Module \\[Module\\] is missing the required "forward" function'):
        nn.Module()(1)


# ---- hooks ----------------------------------------------------------------------
def test_forward_hooks():
    m = Scale()
    calls = []
    h1 = m.register_forward_pre_hook(lambda mod, args: (args[0] + 1,))
    h2 = m.register_forward_hook(lambda mod, args, out: out * 10)
    h3 = m.register_forward_pre_hook(lambda mod, args: calls.append("first"), prepend=True)
    out = m(ember.ones(3))
    np.testing.assert_allclose(out.detach().numpy(), [40, 40, 40])
    assert calls == ["first"]
    for h in (h1, h2, h3):
        h.remove()
    np.testing.assert_allclose(m(ember.ones(3)).detach().numpy(), [2, 2, 2])
    assert not m._forward_hooks and not m._forward_pre_hooks

    def pre_kw(mod, args, kwargs):
        return args, {"extra": 1}

    class KW(nn.Module):
        def forward(self, x, extra=0):
            return x + extra

    k = KW()
    with k.register_forward_pre_hook(pre_kw, with_kwargs=True):
        assert k(1) == 2
    assert k(1) == 1
    k.register_forward_hook(lambda mod, args, kwargs, out: out * 3, with_kwargs=True)
    assert k(1, extra=1) == 6


def test_always_call_hook_runs_on_error_and_global_hooks():
    class Boom(nn.Module):
        def forward(self, x):
            raise ValueError("boom")

    seen = []
    b = Boom()
    b.register_forward_hook(lambda mod, args, out: seen.append("always"), always_call=True)
    b.register_forward_hook(lambda mod, args, out: seen.append("normal"))
    with pytest.raises(ValueError):
        b(1)
    assert seen == ["always"]

    from ember.nn.modules.module import register_module_forward_hook
    h = register_module_forward_hook(lambda mod, args, out: seen.append(type(mod).__name__))
    try:
        nn.Identity()(1)
    finally:
        h.remove()
    nn.Identity()(1)
    assert seen == ["always", "Identity"]


@requires_torch
def test_full_backward_hooks_match_torch(oracle):
    import torch

    class TScale(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.tensor([1.0, 2.0, 3.0]))

        def forward(self, x, y):
            return x * self.w * y

    got = {}
    for name, M, lib in (("torch", TScale, torch), ("ember", None, ember)):
        if lib is ember:
            m = Scale()
            m.w = Parameter(ember.tensor([1.0, 2.0, 3.0]))
            m.forward = lambda x, y, m=m: x * m.w * y
        else:
            m = M()
        rec = []
        m.register_full_backward_pre_hook(lambda mod, go: rec.append(("pre", [g.detach().numpy().copy() for g in go])))

        def hook(mod, gi, go):
            rec.append(("full", [None if g is None else g.detach().numpy().copy() for g in gi],
                        [g.detach().numpy().copy() for g in go]))
            return tuple(None if g is None else g * 2 for g in gi)

        m.register_full_backward_hook(hook)
        x = lib.tensor([1.0, 1.0, 1.0], requires_grad=True)
        y = lib.tensor([2.0, 3.0, 4.0], requires_grad=True)
        out = m(x, y)
        out.backward(lib.tensor([1.0, 0.5, 0.25]))
        got[name] = (rec, x.grad.detach().numpy().copy(), y.grad.detach().numpy().copy(),
                     m.w.grad.detach().numpy().copy())
    (rt, xt, yt, wt), (re_, xe, ye, we) = got["torch"], got["ember"]
    assert [r[0] for r in re_] == [r[0] for r in rt]
    for a, b in zip(re_, rt):
        for xa, xb in zip(a[1:], b[1:]):
            for u, v in zip(xa, xb):
                np.testing.assert_allclose(u, v)
    np.testing.assert_allclose(xe, xt)
    np.testing.assert_allclose(ye, yt)
    np.testing.assert_allclose(we, wt)



def test_full_backward_hook_without_input_gradients_warns_as_torch():
    # torch calls the hook with grad_input (None,) when no input requires grad, and warns that it does
    m = nn.Linear(3, 1)
    seen = []
    m.register_full_backward_hook(lambda mod, gi, go: seen.append((gi, go[0].shape)))
    with pytest.warns(UserWarning, match="Full backward hook is firing when gradients are computed with "
                                         "respect to module outputs since no inputs require gradients") as rec:
        m(ember.ones(2, 3)).sum().backward()
    assert rec[0].filename == __file__
    assert seen == [((None,), (2, 1))]


# ---- copying ----------------------------------------------------------------------
class PickleBlock(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(3, 3)
        self.register_buffer("steps", ember.zeros(2))


class PickleModel(nn.Module):
    def __init__(self):
        super().__init__()
        shared = nn.Linear(3, 2)
        self.features = nn.Sequential(PickleBlock(), nn.ReLU(), nn.BatchNorm1d(3))
        self.heads = nn.ModuleList([shared, nn.Linear(2, 2)])
        self.alias = shared


def test_pickle_and_deepcopy_round_trip():
    net = PickleModel()
    for clone in (copy.deepcopy(net), pickle.loads(pickle.dumps(net))):
        assert repr(clone) == repr(net)
        assert clone.alias is clone.heads[0]  # sharing survives
        a, b = clone.state_dict(), net.state_dict()
        assert list(a) == list(b)
        for k in a:
            np.testing.assert_array_equal(a[k].numpy(), b[k].numpy())
            assert a[k]._data is not b[k]._data
        assert all(isinstance(p, Parameter) and p.requires_grad for p in clone.parameters())


def test_module_names_recorded_for_errors():
    from ember.nn.modules.module import _module_path
    net = _nested(nn)
    assert _module_path(net.features[2].lin) == "features.2.lin"
    assert _module_path(net.heads[1]) == "heads.1"
    assert _module_path(net.table["b"]) == "table.b"
    assert _module_path(net) == ""
    clone = copy.deepcopy(net)
    assert _module_path(clone.features[0].lin) == "features.0.lin"


def test_call_super_init_and_init_args():
    with pytest.raises(TypeError, match="takes 1 positional argument but 2 were given"):
        nn.Module(1)
    with pytest.raises(TypeError, match="unexpected keyword argument 'x'"):
        nn.Module(x=1)


# ---- torch.__future__'s conversion switches and Tensor.module_load ---------------------------------------------
def _outcome_text(M, f):
    try:
        return f()
    except Exception as e:   # noqa: BLE001  (the comparison is the point)
        return f"{type(e).__name__}: {e}".replace("torch.", "M.").replace("ember.", "M.")


def _conversions(M, swap, overwrite):
    """What module conversion and load_state_dict do to parameter objects under torch.__future__'s switches."""
    F = M.__future__
    F.set_swap_module_params_on_conversion(swap)
    F.set_overwrite_module_params_on_conversion(overwrite)
    try:
        assert (F.get_swap_module_params_on_conversion(), F.get_overwrite_module_params_on_conversion()) == \
            (swap, overwrite)
        m = M.nn.Linear(2, 3)
        m.register_buffer("b", M.ones(2))
        p = m.weight
        m(M.ones(1, 2)).sum().backward()
        g = p.grad
        m.double()
        out = [m.weight is p, str(m.weight.dtype)[6:], str(p.dtype)[6:], m.weight.grad is g,
               str(m.weight.grad.dtype)[6:], str(g.dtype)[6:], type(m.weight).__name__, str(m.b.dtype)[6:]]
        m2 = M.nn.Linear(2, 2)
        y = m2(M.ones(1, 2)).sum()
        m2.double()    # a graph built before the conversion: swapped leaves poison its AccumulateGrad
        out.append(_outcome_text(M, lambda: y.backward()))
        m3 = M.nn.Linear(2, 2)
        w = m3.weight
        sd = {"weight": M.full((2, 2), 5.0, dtype=M.float64), "bias": M.zeros(2)}
        m3.load_state_dict(sd)
        out += [m3.weight is w, str(m3.weight.dtype)[6:], m3.weight.data_ptr() == sd["weight"].data_ptr(),
                m3.weight.tolist()]
        m3.load_state_dict(sd, assign=True)
        out += [m3.weight is w, str(m3.weight.dtype)[6:], m3.weight.data_ptr() == sd["weight"].data_ptr(),
                type(m3.weight).__name__, m3.weight.requires_grad]
        out.append(_outcome_text(M, lambda: m3.load_state_dict({"weight": M.ones(2, 3), "bias": M.zeros(2)})))
        return out
    finally:
        F.set_swap_module_params_on_conversion(False)
        F.set_overwrite_module_params_on_conversion(False)


@requires_torch
@pytest.mark.parametrize("swap,overwrite", [(False, False), (True, False), (False, True), (True, True)])
def test_future_conversion_switches_match_torch(oracle, swap, overwrite):
    assert _conversions(ember, swap, overwrite) == _conversions(oracle, swap, overwrite)


def _module_load_returning_other(M):
    class Box(M.nn.Module):
        def __init__(self):
            super().__init__()
            self.w = M.nn.Parameter(M.zeros(2))

    M.__future__.set_swap_module_params_on_conversion(True)
    orig = M.Tensor.module_load
    M.Tensor.module_load = lambda self, other, assign=False: other
    try:
        return _outcome_text(M, lambda: Box().load_state_dict({"w": M.ones(2)}))
    finally:
        M.Tensor.module_load = orig
        M.__future__.set_swap_module_params_on_conversion(False)


@requires_torch
def test_module_load_matches_torch(oracle):
    for M in (ember, oracle):
        a, b = M.ones(2, requires_grad=True), M.arange(2.0)
        with M.no_grad():
            copied = a.module_load(b)
        assigned = a.module_load(b, assign=True)
        assert copied is not a and copied.data_ptr() == a.data_ptr() and a.tolist() == [0.0, 1.0]
        assert assigned is not b and assigned.data_ptr() == b.data_ptr() and not copied.requires_grad
    assert _module_load_returning_other(ember) == _module_load_returning_other(oracle)


def test_swap_switch_keeps_optimizer_references_training():
    ember.manual_seed(0)
    m = nn.Linear(3, 1)
    opt = ember.optim.SGD(m.parameters(), lr=0.1)
    ember.__future__.set_swap_module_params_on_conversion(True)
    try:
        m.double()
        m.load_state_dict({"weight": ember.ones(1, 3), "bias": ember.zeros(1)})
    finally:
        ember.__future__.set_swap_module_params_on_conversion(False)
    loss = m(ember.ones(2, 3, dtype=ember.float64)).sum()
    loss.backward()
    opt.step()    # the optimizer's Parameter objects are the module's: the step reaches the model
    assert m.weight.dtype == ember.float64 and m.weight.tolist() == [[0.8, 0.8, 0.8]]
