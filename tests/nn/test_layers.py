"""Every layer against torch given identical weights: repr, forward, backward, buffers; and layer errors.

Layers call ember.nn.functional at forward time.  Where a functional a layer needs is not
there yet, its comparison is skipped with a reason naming the missing function.
"""

import zlib

import numpy as np
import pytest

import ember
import ember.nn as nn
import ember.nn.functional as F
from tests.conftest import requires_torch


def _need(*names):
    missing = [n for n in names if not hasattr(F, n)]
    if missing:
        pytest.skip(f"ember.nn.functional has no {', '.join(missing)} yet (layer not comparable)")


# (id, constructor taking the nn namespace, input shapes, functionals needed)
LAYERS = [
    ("Identity", lambda m: m.Identity(3, k=1), [(2, 3)], []),
    ("Linear", lambda m: m.Linear(5, 3), [(4, 5)], ["linear"]),
    ("Linear_3d_nobias", lambda m: m.Linear(5, 3, bias=False), [(2, 3, 5)], ["linear"]),
    ("Linear_1d", lambda m: m.Linear(5, 2), [(5,)], ["linear"]),
    ("Bilinear", lambda m: m.Bilinear(3, 4, 2), [(5, 3), (5, 4)], ["bilinear"]),
    ("Conv1d", lambda m: m.Conv1d(2, 4, 3, stride=2, padding=1), [(2, 2, 9)], ["conv1d"]),
    ("Conv2d", lambda m: m.Conv2d(3, 4, 3), [(2, 3, 7, 7)], ["conv2d"]),
    ("Conv2d_unbatched", lambda m: m.Conv2d(3, 4, 3), [(3, 6, 6)], ["conv2d"]),
    ("Conv2d_opts", lambda m: m.Conv2d(4, 6, (3, 2), stride=(2, 1), padding=(1, 0), dilation=(1, 2), groups=2,
                                       bias=False), [(2, 4, 8, 8)], ["conv2d"]),
    ("Conv2d_same", lambda m: m.Conv2d(2, 3, 4, padding="same"), [(1, 2, 6, 6)], ["conv2d"]),
    ("Conv2d_valid", lambda m: m.Conv2d(2, 3, 3, padding="valid"), [(1, 2, 5, 5)], ["conv2d"]),
    ("Conv2d_reflect", lambda m: m.Conv2d(2, 3, 3, padding=1, padding_mode="reflect"), [(1, 2, 5, 5)],
     ["conv2d", "pad"]),
    ("ConvTranspose2d", lambda m: m.ConvTranspose2d(3, 2, 3, stride=2, padding=1, output_padding=1),
     [(2, 3, 4, 4)], ["conv_transpose2d"]),
    ("MaxPool2d", lambda m: m.MaxPool2d(2, 2), [(2, 3, 6, 6)], ["max_pool2d"]),
    ("MaxPool2d_opts", lambda m: m.MaxPool2d(3, stride=2, padding=1, ceil_mode=True), [(1, 2, 7, 7)],
     ["max_pool2d"]),
    ("AvgPool2d", lambda m: m.AvgPool2d(2), [(2, 3, 6, 6)], ["avg_pool2d"]),
    ("AdaptiveAvgPool2d", lambda m: m.AdaptiveAvgPool2d((2, 3)), [(2, 3, 6, 6)], ["adaptive_avg_pool2d"]),
    ("AdaptiveAvgPool2d_1", lambda m: m.AdaptiveAvgPool2d(1), [(2, 3, 5, 5)], ["adaptive_avg_pool2d"]),
    ("ReLU", lambda m: m.ReLU(), [(3, 4)], ["relu"]),
    ("LeakyReLU", lambda m: m.LeakyReLU(0.2), [(3, 4)], ["leaky_relu"]),
    ("ELU", lambda m: m.ELU(0.5), [(3, 4)], ["elu"]),
    ("GELU", lambda m: m.GELU(), [(3, 4)], ["gelu"]),
    ("GELU_tanh", lambda m: m.GELU("tanh"), [(3, 4)], ["gelu"]),
    ("SiLU", lambda m: m.SiLU(), [(3, 4)], ["silu"]),
    ("Sigmoid", lambda m: m.Sigmoid(), [(3, 4)], []),
    ("Tanh", lambda m: m.Tanh(), [(3, 4)], []),
    ("Softmax", lambda m: m.Softmax(dim=1), [(3, 4)], ["softmax"]),
    ("LogSoftmax", lambda m: m.LogSoftmax(dim=-1), [(2, 3, 4)], ["log_softmax"]),
    ("Softplus", lambda m: m.Softplus(beta=2.0), [(3, 4)], ["softplus"]),
    ("Hardtanh", lambda m: m.Hardtanh(-0.5, 0.5), [(3, 4)], ["hardtanh"]),
    ("ReLU6", lambda m: m.ReLU6(), [(3, 4)], ["hardtanh"]),
    ("Dropout_eval", lambda m: m.Dropout(0.5).eval(), [(3, 4)], ["dropout"]),
    ("BatchNorm1d", lambda m: m.BatchNorm1d(4), [(6, 4)], ["batch_norm"]),
    ("BatchNorm1d_3d", lambda m: m.BatchNorm1d(4), [(3, 4, 5)], ["batch_norm"]),
    ("BatchNorm2d", lambda m: m.BatchNorm2d(3), [(4, 3, 5, 5)], ["batch_norm"]),
    ("BatchNorm2d_eval", lambda m: _bn_with_stats(m).eval(), [(4, 3, 5, 5)], ["batch_norm"]),
    ("BatchNorm2d_momentum_none", lambda m: m.BatchNorm2d(3, momentum=None), [(4, 3, 5, 5)], ["batch_norm"]),
    ("BatchNorm2d_no_affine_no_stats", lambda m: m.BatchNorm2d(3, affine=False, track_running_stats=False),
     [(4, 3, 5, 5)], ["batch_norm"]),
    ("LayerNorm", lambda m: m.LayerNorm(5), [(3, 5)], ["layer_norm"]),
    ("LayerNorm_2d", lambda m: m.LayerNorm((3, 4)), [(2, 3, 4)], ["layer_norm"]),
    ("Flatten", lambda m: m.Flatten(), [(2, 3, 4, 5)], []),
    ("Unflatten", lambda m: m.Unflatten(1, (2, 3)), [(4, 6)], []),
    ("Sequential", lambda m: m.Sequential(m.Linear(4, 6), m.ReLU(), m.Linear(6, 2)), [(3, 4)],
     ["linear", "relu"]),
]


def _bn_with_stats(m):
    import torch
    bn = m.BatchNorm2d(3)
    t = torch if m is torch.nn else ember
    bn.running_mean = t.tensor([0.1, -0.2, 0.3])
    bn.running_var = t.tensor([1.5, 0.5, 2.0])
    return bn


def _copy_weights(tm, em):
    """Load torch's parameters and buffers into the ember module (through NumPy)."""
    sd = {k: ember.tensor(v.detach().numpy().copy()) for k, v in tm.state_dict().items()}
    em.load_state_dict(sd)


def _compare(name, make, shapes, torch, int_input=False):
    tm, em = make(torch.nn), make(nn)
    _copy_weights(tm, em)
    rng = np.random.default_rng(zlib.crc32(name.encode()))   # (str hashes change from run to run)
    arrays = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    t_in = [torch.tensor(a, requires_grad=True) for a in arrays]
    e_in = [ember.tensor(a, requires_grad=True) for a in arrays]
    tout, eout = tm(*t_in), em(*e_in)
    np.testing.assert_allclose(eout.detach().numpy(), tout.detach().numpy(), rtol=1e-5, atol=1e-5)
    assert tuple(eout.shape) == tuple(tout.shape)
    g = rng.standard_normal(tuple(tout.shape)).astype(np.float32)
    tout.backward(torch.tensor(g))
    eout.backward(ember.tensor(g))
    for a, b in zip(e_in, t_in):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-4, atol=1e-5)
    tp = dict(tm.named_parameters())
    for pname, p in em.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), tp[pname].grad.numpy(), rtol=1e-4, atol=1e-5,
                                   err_msg=f"{name}.{pname}.grad")
    ts = tm.state_dict()
    for k, v in em.state_dict().items():  # running statistics after the step
        np.testing.assert_allclose(v.numpy(), ts[k].numpy(), rtol=1e-5, atol=1e-6, err_msg=f"{name}.{k}")


@requires_torch
@pytest.mark.filterwarnings("ignore:Using padding='same'")
@pytest.mark.parametrize("name,make,shapes,needs", LAYERS, ids=[c[0] for c in LAYERS])
def test_layer_matches_torch(oracle, name, make, shapes, needs):
    assert repr(make(nn)) == repr(make(oracle.nn))
    _need(*needs)
    _compare(name, make, shapes, oracle)


@requires_torch
def test_embedding_matches_torch(oracle):
    _need("embedding")
    tm, em = oracle.nn.Embedding(10, 4, padding_idx=0), nn.Embedding(10, 4, padding_idx=0)
    assert repr(em) == repr(tm)
    _copy_weights(tm, em)
    idx = np.array([[0, 3, 3], [9, 0, 1]])
    tout, eout = tm(oracle.tensor(idx)), em(ember.tensor(idx))
    np.testing.assert_allclose(eout.detach().numpy(), tout.detach().numpy())
    g = np.random.default_rng(0).standard_normal((2, 3, 4)).astype(np.float32)
    tout.backward(oracle.tensor(g))
    eout.backward(ember.tensor(g))
    np.testing.assert_allclose(em.weight.grad.numpy(), tm.weight.grad.numpy(), rtol=1e-5, atol=1e-6)
    w = oracle.randn(5, 2)
    assert repr(nn.Embedding.from_pretrained(ember.tensor(w.numpy()))) == \
        repr(oracle.nn.Embedding.from_pretrained(w))


LOSSES = [
    ("MSELoss", lambda m: m.MSELoss(), "float", ["mse_loss"]),
    ("MSELoss_sum", lambda m: m.MSELoss(reduction="sum"), "float", ["mse_loss"]),
    ("L1Loss", lambda m: m.L1Loss(), "float", ["l1_loss"]),
    ("SmoothL1Loss", lambda m: m.SmoothL1Loss(beta=0.5), "float", ["smooth_l1_loss"]),
    ("HuberLoss", lambda m: m.HuberLoss(delta=0.7), "float", ["huber_loss"]),
    ("CrossEntropyLoss", lambda m: m.CrossEntropyLoss(), "class", ["cross_entropy"]),
    ("CrossEntropyLoss_opts", lambda m: m.CrossEntropyLoss(reduction="none", label_smoothing=0.1,
                                                           ignore_index=2), "class", ["cross_entropy"]),
    ("NLLLoss", lambda m: m.NLLLoss(), "logprob", ["nll_loss"]),
    ("BCELoss", lambda m: m.BCELoss(), "prob", ["binary_cross_entropy"]),
    ("BCEWithLogitsLoss", lambda m: m.BCEWithLogitsLoss(), "binary", ["binary_cross_entropy_with_logits"]),
    ("KLDivLoss", lambda m: m.KLDivLoss(reduction="batchmean"), "kl", ["kl_div"]),
]


@requires_torch
@pytest.mark.parametrize("name,make,kind,needs", LOSSES, ids=[c[0] for c in LOSSES])
def test_loss_matches_torch(oracle, name, make, kind, needs):
    torch = oracle
    assert repr(make(nn)) == repr(make(torch.nn))
    _need(*needs)
    rng = np.random.default_rng(7)
    x = rng.standard_normal((4, 5)).astype(np.float32)
    if kind == "float":
        y = rng.standard_normal((4, 5)).astype(np.float32)
    elif kind in ("class", "logprob"):
        y = np.array([1, 0, 4, 2])
        if kind == "logprob":
            x = x - np.log(np.exp(x).sum(1, keepdims=True))
    elif kind == "prob":
        x = 1 / (1 + np.exp(-x))
        y = rng.random((4, 5)).astype(np.float32)
    elif kind == "binary":
        y = (rng.random((4, 5)) > 0.5).astype(np.float32)
    else:  # kl: log-probabilities against probabilities
        x = x - np.log(np.exp(x).sum(1, keepdims=True))
        y = rng.random((4, 5)).astype(np.float32)
        y /= y.sum(1, keepdims=True)
    tx, ex = torch.tensor(x, requires_grad=True), ember.tensor(x, requires_grad=True)
    tl, el = make(torch.nn)(tx, torch.tensor(y)), make(nn)(ex, ember.tensor(y))
    np.testing.assert_allclose(el.detach().numpy(), tl.detach().numpy(), rtol=1e-5, atol=1e-6)
    g = np.ones(tuple(tl.shape), np.float32)
    tl.backward(torch.tensor(g))
    el.backward(ember.tensor(g))
    np.testing.assert_allclose(ex.grad.numpy(), tx.grad.numpy(), rtol=1e-4, atol=1e-6)


@requires_torch
def test_constructor_reprs_match_torch(oracle):
    makers = [
        lambda m: m.Conv2d(1, 6, 5, stride=2, padding=2, dilation=2, groups=1, bias=False, padding_mode="circular"),
        lambda m: m.Conv2d(4, 4, 3, groups=4, padding="same"),
        lambda m: m.Conv1d(1, 2, 3),
        lambda m: m.ConvTranspose2d(3, 2, 3, stride=2, output_padding=1, dilation=2),
        lambda m: m.MaxPool2d((2, 3), stride=1, padding=1, dilation=1, ceil_mode=True),
        lambda m: m.AvgPool2d(3, stride=2, padding=1),
        lambda m: m.AvgPool1d(3),
        lambda m: m.AdaptiveMaxPool2d((1, 2)),
        lambda m: m.ReLU(inplace=True), lambda m: m.LeakyReLU(inplace=True), lambda m: m.ELU(inplace=True),
        lambda m: m.Softmax(), lambda m: m.PReLU(2), lambda m: m.Threshold(0.1, 2.0), lambda m: m.Softplus(),
        lambda m: m.Hardshrink(), lambda m: m.Softshrink(0.3), lambda m: m.GLU(), lambda m: m.Mish(),
        lambda m: m.Dropout(), lambda m: m.Dropout2d(0.1, inplace=True), lambda m: m.AlphaDropout(0.2),
        lambda m: m.BatchNorm1d(3, eps=1e-3, momentum=None, affine=False, track_running_stats=False),
        lambda m: m.BatchNorm2d(3, bias=False), lambda m: m.BatchNorm3d(2),
        lambda m: m.LayerNorm([2, 3], elementwise_affine=False), lambda m: m.LayerNorm(4, bias=False),
        lambda m: m.GroupNorm(2, 4), lambda m: m.Embedding(5, 2, max_norm=1.0, norm_type=1.0,
                                                           scale_grad_by_freq=True, sparse=True),
        lambda m: m.Flatten(0, 2), lambda m: m.Unflatten(-1, [2, 2]), lambda m: m.Bilinear(1, 2, 3, bias=False),
        lambda m: m.NLLLoss(ignore_index=1), lambda m: m.CrossEntropyLoss(label_smoothing=0.2),
        lambda m: m.ParameterList([m.Parameter(_z(m, 2, 3)), m.Parameter(_z(m, 1))]),
        lambda m: m.ParameterDict({"b": m.Parameter(_z(m, 2)), "a": m.Parameter(_z(m, 1))}),
        lambda m: m.Sequential(m.Linear(1, 2), m.Sequential(m.ReLU(), m.Linear(2, 2))) * 2,
    ]
    for make in makers:
        assert repr(make(nn)) == repr(make(oracle.nn)).replace("torch.", "ember.")
    # the state each constructor registers matches too
    for make in makers:
        e, t = make(nn), make(oracle.nn)
        assert list(e.state_dict().keys()) == list(t.state_dict().keys())
        for (k, a), (_, b) in zip(e.state_dict().items(), t.state_dict().items()):
            assert tuple(a.shape) == tuple(b.shape), k


def _z(m, *shape):
    import torch
    return torch.zeros(*shape) if m is torch.nn else ember.zeros(*shape)


@requires_torch
def test_layer_constructor_errors_match_torch(oracle):
    cases = [
        lambda m: m.Conv2d(3, 4, 3, groups=2),
        lambda m: m.Conv2d(4, 3, 3, groups=2),
        lambda m: m.Conv2d(2, 2, 3, groups=0),
        lambda m: m.Conv2d(2, 2, 3, padding="full"),
        lambda m: m.Conv2d(2, 2, 3, stride=2, padding="same"),
        lambda m: m.Conv2d(2, 2, 3, padding_mode="mirror"),
        lambda m: m.ConvTranspose2d(2, 2, 3, padding_mode="reflect"),
        lambda m: m.Dropout(1.5),
        lambda m: m.Embedding(3, 2, padding_idx=5),
        lambda m: m.GroupNorm(3, 4),
        lambda m: m.Unflatten(1, 6),
        lambda m: m.Hardtanh(1.0, 0.5),
        lambda m: m.HuberLoss(delta="x"),
    ]
    for case in cases:
        with pytest.raises(Exception) as te:
            case(oracle.nn)
        with pytest.raises(Exception) as ee:
            case(nn)
        assert type(ee.value) is type(te.value) and _sorted_sets(str(ee.value)) == _sorted_sets(str(te.value))


def _sorted_sets(msg):
    """torch prints Python sets, whose order depends on the hash seed: compare them sorted."""
    import re
    return re.sub(r"\{([^}]*)\}", lambda m: "{" + ", ".join(sorted(m.group(1).split(", "))) + "}", msg)


# ---- containers -------------------------------------------------------------------
def test_sequential_indexing_slicing_and_mutation():
    a, b, c = nn.Linear(1, 2), nn.ReLU(), nn.Linear(2, 3)
    seq = nn.Sequential(a, b, c)
    assert len(seq) == 3 and seq[0] is a and seq[-1] is c and list(seq) == [a, b, c]
    sub = seq[1:]
    assert isinstance(sub, nn.Sequential) and list(sub) == [b, c] and list(sub._modules) == ["1", "2"]
    with pytest.raises(IndexError, match="index 3 is out of range"):
        seq[3]
    seq.append(nn.Tanh())
    assert len(seq) == 4 and isinstance(seq[3], nn.Tanh)
    del seq[1]
    assert list(seq._modules) == ["0", "1", "2"] and seq[1] is c
    seq[0] = nn.Identity()
    assert isinstance(seq[0], nn.Identity)
    seq.insert(1, b)
    assert seq[1] is b and len(seq) == 4
    assert seq.pop(1) is b
    seq.extend([nn.ReLU()])
    assert len(seq) == 4 and len(seq + nn.Sequential(b)) == 5
    from collections import OrderedDict
    named = nn.Sequential(OrderedDict([("conv", nn.Conv2d(1, 1, 1)), ("act", nn.ReLU())]))
    assert list(dict(named.named_children())) == ["conv", "act"] and named.act is named[1]
    x = ember.ones(2)
    assert nn.Sequential(nn.Identity(), nn.Identity())(x) is x


def test_module_list_and_dict():
    layers = nn.ModuleList([nn.Linear(1, 1) for _ in range(3)])
    assert len(layers) == 3 and len(list(layers.parameters())) == 6
    layers.append(nn.ReLU())
    layers.extend([nn.Tanh()])
    layers.insert(0, nn.Identity())
    assert isinstance(layers[0], nn.Identity) and isinstance(layers[-1], nn.Tanh) and len(layers) == 6
    assert isinstance(layers[1:3], nn.ModuleList) and len(layers[1:3]) == 2
    del layers[0]
    assert list(layers._modules) == [str(i) for i in range(5)]
    with pytest.raises(TypeError, match="ModuleList.extend should be called with an iterable"):
        layers.extend(3)
    d = nn.ModuleDict({"b": nn.ReLU(), "a": nn.Linear(1, 1)})
    assert list(d.keys()) == ["b", "a"] and "a" in d and len(d) == 2
    d["c"] = nn.Tanh()
    d.update([("e", nn.Identity())])
    assert list(d) == ["b", "a", "c", "e"]
    assert isinstance(d.pop("b"), nn.ReLU) and "b" not in d
    d.clear()
    assert len(d) == 0
    pl = nn.ParameterList([ember.zeros(2)])
    assert isinstance(pl[0], nn.Parameter) and len(list(pl.parameters())) == 1
    with pytest.raises(RuntimeError, match="ParameterList should not be called"):
        pl()


# ---- train / eval ---------------------------------------------------------------
def test_dropout_train_and_eval():
    _need("dropout")
    ember.manual_seed(0)
    d = nn.Dropout(0.25)
    x = ember.ones(200, 50)
    y = d(x).numpy() if not d(x).requires_grad else d(x).detach().numpy()
    zero = (y == 0).mean()
    assert 0.2 < zero < 0.3
    np.testing.assert_allclose(y[y != 0], 1 / 0.75, rtol=1e-6)
    d.eval()
    out = d(x)
    np.testing.assert_array_equal(out.numpy(), x.numpy())


@requires_torch
def test_batchnorm_train_then_eval_matches_torch(oracle):
    _need("batch_norm")
    torch = oracle
    tm, em = torch.nn.BatchNorm2d(3, momentum=0.3), nn.BatchNorm2d(3, momentum=0.3)
    rng = np.random.default_rng(3)
    for step in range(3):
        x = (rng.standard_normal((4, 3, 2, 2)) * (step + 1) + step).astype(np.float32)
        tm(torch.tensor(x))
        em(ember.tensor(x))
    assert em.num_batches_tracked.item() == 3
    for k, v in em.state_dict().items():
        np.testing.assert_allclose(v.numpy(), tm.state_dict()[k].numpy(), rtol=1e-5, atol=1e-6)
    tm.eval()
    em.eval()
    x = rng.standard_normal((2, 3, 2, 2)).astype(np.float32)
    np.testing.assert_allclose(em(ember.tensor(x)).detach().numpy(), tm(torch.tensor(x)).detach().numpy(),
                               rtol=1e-5, atol=1e-6)
    assert em.num_batches_tracked.item() == 3
    with pytest.raises(ValueError, match="expected 4D input \\(got 3D input\\)"):
        em(ember.zeros(3, 2, 2))


# ---- bad input: errors that name the layer -------------------------------------------
class SpecNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 3)
        self.conv2 = nn.Conv2d(6, 16, 3)
        self.fc1 = nn.Linear(16 * 6 * 6, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)


def test_linear_wrong_features_names_layer():
    net = SpecNet()
    with pytest.raises(RuntimeError) as info:
        net.fc1(ember.zeros(1, 400))
    msg = str(info.value)
    assert msg.startswith("Linear layer 'fc1' (in_features=576) got input of shape [1, 400]: "
                          "the last dimension must be 576")
    assert "1x400 and 576x120" in msg
    with pytest.raises(RuntimeError, match=r"^Linear layer \(in_features=3\) got input of shape \[2, 4\]"):
        nn.Linear(3, 2)(ember.zeros(2, 4))
    seq = nn.Sequential(nn.Linear(2, 2), nn.Linear(3, 1))
    with pytest.raises(RuntimeError, match=r"^Linear layer '1' \(in_features=3\)"):
        seq(ember.zeros(1, 2)) if hasattr(F, "linear") else seq[1](ember.zeros(1, 2))


def test_linear_error_explains_flatten():
    net = SpecNet()
    base = ember.zeros(1, 16, 5, 5)
    x = base.view(1, 400)
    if x._base is None:  # the view op has not landed yet: mark the view by hand
        x._base = base
    with pytest.raises(RuntimeError) as info:
        net.fc1(x)
    msg = str(info.value)
    assert "The input was flattened from shape [1, 16, 5, 5] to 400 features" in msg
    assert "(16*5*5 = 400 vs 576)" in msg


@requires_torch
def test_conv_wrong_rank_and_channels(oracle):
    net = SpecNet()
    for shape in ((32, 32), (1, 1, 1, 32, 32)):
        with pytest.raises(RuntimeError) as te:
            oracle.nn.Conv2d(1, 6, 3)(oracle.zeros(*shape))
        with pytest.raises(RuntimeError) as ee:
            net.conv1(ember.zeros(*shape))
        msg = str(ee.value)
        assert str(te.value) in msg  # torch's own sentence, then ours
        assert "Conv2d layer 'conv1'" in msg and "input.unsqueeze(0)" in msg
    with pytest.raises(RuntimeError) as te:
        oracle.nn.Conv2d(1, 6, 3)(oracle.zeros(4, 3, 32, 32))
    with pytest.raises(RuntimeError) as ee:
        net.conv1(ember.zeros(4, 3, 32, 32))
    assert str(te.value) in str(ee.value)
    assert str(ee.value).startswith("Conv2d layer 'conv1' (in_channels=1) got input of shape [4, 3, 32, 32]")
    with pytest.raises(RuntimeError, match="channels-last"):
        nn.Conv2d(3, 6, 5)(ember.zeros(2, 32, 32, 3))


@requires_torch
def test_conv_too_small_input_names_layer(oracle):
    _need("conv2d")
    with pytest.raises(RuntimeError) as te:
        oracle.nn.Conv2d(1, 6, 5)(oracle.zeros(1, 1, 3, 3))
    net = SpecNet()
    net.conv1 = nn.Conv2d(1, 6, 5)
    with pytest.raises(RuntimeError) as ee:
        net.conv1(ember.zeros(1, 1, 3, 3))
    assert "Conv2d layer 'conv1'" in str(ee.value)
    assert "Kernel size can't be greater than actual input size" in str(te.value)
    assert "Kernel size can't be greater than actual input size" in str(ee.value)


# ---- the spec's network end to end ----------------------------------------------------
@requires_torch
def test_spec_net_forward_backward_matches_torch(oracle):
    _need("relu", "max_pool2d", "linear", "conv2d", "mse_loss")
    torch = oracle

    def build(mod, Fm):
        class Net(mod.Module):
            def __init__(self):
                super(Net, self).__init__()
                self.conv1 = mod.Conv2d(1, 6, 3)
                self.conv2 = mod.Conv2d(6, 16, 3)
                self.fc1 = mod.Linear(16 * 6 * 6, 120)
                self.fc2 = mod.Linear(120, 84)
                self.fc3 = mod.Linear(84, 10)

            def forward(self, x):
                x = Fm.max_pool2d(Fm.relu(self.conv1(x)), (2, 2))
                x = Fm.max_pool2d(Fm.relu(self.conv2(x)), 2)
                x = x.view(-1, self.num_flat_features(x))
                x = Fm.relu(self.fc1(x))
                x = Fm.relu(self.fc2(x))
                return self.fc3(x)

            def num_flat_features(self, x):
                n = 1
                for s in x.size()[1:]:
                    n *= s
                return n

        return Net()

    tnet, enet = build(torch.nn, torch.nn.functional), build(nn, F)
    _copy_weights(tnet, enet)
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 1, 32, 32)).astype(np.float32)
    y = rng.standard_normal((2, 10)).astype(np.float32)
    tl = torch.nn.MSELoss()(tnet(torch.tensor(x)), torch.tensor(y))
    el = nn.MSELoss()(enet(ember.tensor(x)), ember.tensor(y))
    np.testing.assert_allclose(el.item(), tl.item(), rtol=1e-5)
    tnet.zero_grad()
    enet.zero_grad()
    assert enet.conv1.bias.grad is None
    tl.backward()
    el.backward()
    for (n, p), (_, q) in zip(enet.named_parameters(), tnet.named_parameters()):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-4, atol=1e-6, err_msg=n)
    # a 28x28 input leaves 5x5 maps: fc1 says so, naming the flatten
    with pytest.raises(RuntimeError) as info:
        enet(ember.zeros(1, 1, 28, 28))
    assert "Linear layer 'fc1' (in_features=576) got input of shape [1, 400]" in str(info.value)
    assert "16*5*5 = 400 vs 576" in str(info.value)


def test_linear_and_conv_use_a_weight_replaced_outside_the_parameter_dict():
    # forward reads registered parameters from _parameters directly; a weight deleted from it
    # and set as a plain attribute (what weight_norm does) must still be the one used
    import numpy as np
    import ember
    from ember import nn
    for m, x in [(nn.Linear(3, 2), ember.randn(4, 3)), (nn.Conv2d(2, 3, 3), ember.randn(1, 2, 5, 5))]:
        w = m.weight.detach() * 0
        del m._parameters["weight"]
        m.weight = w
        out = m(x)
        np.testing.assert_allclose(out.detach().numpy(), np.broadcast_to(
            m.bias.detach().numpy().reshape((-1,) + (1,) * (out.dim() - 2)), out.shape[1:]) + np.zeros(out.shape),
            rtol=1e-6)
        m.bias = None
        assert float(m(x).abs().sum()) == 0.0
