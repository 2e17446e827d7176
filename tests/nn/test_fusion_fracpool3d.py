"""nn.utils.fuse_* (conv/linear + eval BatchNorm), skip_init, conv weight memory formats,
FractionalMaxPool3d / F.fractional_max_pool3d and the deprecated NLLLoss2d, against torch."""
import warnings

import numpy as np
import pytest

import ember
import ember.nn as nn
import ember.nn.functional as F
from tests.conftest import requires_torch, torch


def _bn(T, cls, n):
    bn = cls(n).eval()
    g = np.random.default_rng(n)
    bn.running_mean.copy_(T.tensor(g.standard_normal(n), dtype=T.float32))
    bn.running_var.copy_(T.tensor(g.uniform(0.5, 2, n), dtype=T.float32))
    with T.no_grad():
        bn.weight.copy_(T.tensor(g.standard_normal(n), dtype=T.float32))
        bn.bias.copy_(T.tensor(g.standard_normal(n), dtype=T.float32))
    return bn


def _fused(T, kind):
    T.manual_seed(0)
    if kind == "conv":
        layer, bn = T.nn.Conv2d(3, 4, 3).eval(), _bn(T, T.nn.BatchNorm2d, 4)
        fused = T.nn.utils.fuse_conv_bn_eval(layer, bn)
        x = T.tensor(np.random.default_rng(1).standard_normal((2, 3, 6, 6)), dtype=T.float32)
    elif kind == "conv_nobias":
        layer, bn = T.nn.Conv2d(3, 4, 3, bias=False).eval(), _bn(T, T.nn.BatchNorm2d, 4)
        fused = T.nn.utils.fuse_conv_bn_eval(layer, bn)
        x = T.tensor(np.random.default_rng(1).standard_normal((2, 3, 6, 6)), dtype=T.float32)
    elif kind == "convT":
        layer, bn = T.nn.ConvTranspose2d(3, 4, 3).eval(), _bn(T, T.nn.BatchNorm2d, 4)
        fused = T.nn.utils.fuse_conv_bn_eval(layer, bn, transpose=True)
        x = T.tensor(np.random.default_rng(1).standard_normal((2, 3, 5, 5)), dtype=T.float32)
    else:
        layer, bn = T.nn.Linear(5, 4).eval(), _bn(T, T.nn.BatchNorm1d, 4)
        fused = T.nn.utils.fuse_linear_bn_eval(layer, bn)
        x = T.tensor(np.random.default_rng(1).standard_normal((3, 5)), dtype=T.float32)
    ref = bn(layer(x))
    out = fused(x)
    return (fused.weight.detach().numpy(), fused.bias.detach().numpy(), out.detach().numpy(), ref.detach().numpy(),
            type(fused.weight).__name__, fused.weight.requires_grad, fused is layer)


@requires_torch
@pytest.mark.parametrize("kind", ["conv", "conv_nobias", "convT", "linear"])
def test_fusion_matches_torch(kind):
    e, t = _fused(ember, kind), _fused(torch, kind)
    for a, b in zip(e[:4], t[:4]):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(e[2], e[3], rtol=1e-4, atol=1e-5)   # fused == layer then bn
    assert e[4:] == t[4:] == ("Parameter", True, False)


@requires_torch
@pytest.mark.parametrize("call", [
    lambda T: T.nn.utils.fuse_conv_bn_eval(T.nn.Conv2d(3, 4, 3), T.nn.BatchNorm2d(4).eval()),
    lambda T: T.nn.utils.fuse_linear_bn_eval(T.nn.Linear(3, 4).eval(), T.nn.BatchNorm1d(5).eval()),
    lambda T: T.nn.utils.fuse_linear_bn_eval(T.nn.Linear(3, 4).eval(),
                                             T.nn.BatchNorm1d(4, track_running_stats=False).eval()),
])
def test_fusion_errors_match_torch(call):
    def run(T):
        try:
            call(T)
        except Exception as e:
            return type(e).__name__, str(e)
    assert run(ember) == run(torch)


def test_skip_init_leaves_rng_and_builds_module():
    state = ember.get_rng_state()
    m = nn.utils.skip_init(nn.Linear, 5, 3, bias=False)
    assert isinstance(m, nn.Linear) and m.weight.shape == (3, 5) and m.bias is None
    assert ember.equal(ember.get_rng_state(), state)
    with pytest.raises(RuntimeError, match="Expected a Module"):
        nn.utils.skip_init(int)


@requires_torch
def test_skip_init_errors_match_torch():
    class NoDevice(torch.nn.Module):
        def __init__(self):
            super().__init__()

    class ENoDevice(ember.nn.Module):
        def __init__(self):
            super().__init__()
    with pytest.raises(RuntimeError, match="Module must support a 'device' arg to skip initialization"):
        torch.nn.utils.skip_init(NoDevice)
    with pytest.raises(RuntimeError, match="Module must support a 'device' arg to skip initialization"):
        ember.nn.utils.skip_init(ENoDevice)


def test_convert_conv_weight_memory_format():
    m = nn.Sequential(nn.Conv2d(3, 4, 3), nn.Sequential(nn.ConvTranspose2d(4, 2, 3)), nn.Conv3d(2, 2, 1))
    nn.utils.convert_conv2d_weight_memory_format(m, ember.channels_last)
    assert m[0].weight.stride() == (27, 1, 9, 3) and m[1][0].weight.is_contiguous(memory_format=ember.channels_last)
    assert m[2].weight.is_contiguous()
    nn.utils.convert_conv3d_weight_memory_format(m, ember.channels_last_3d)
    assert m[2].weight.is_contiguous(memory_format=ember.channels_last_3d)


def _frac(T, x0, s0, kw):
    x = T.tensor(x0).requires_grad_()
    out = F.fractional_max_pool3d(x, _random_samples=T.tensor(s0), **kw) if T is ember else \
        T.nn.functional.fractional_max_pool3d(x, _random_samples=T.tensor(s0), **kw)
    y, idx = out if isinstance(out, tuple) else (out, None)
    (y * T.arange(y.numel(), dtype=y.dtype).reshape(y.shape)).sum().backward()
    return (y.detach().numpy(), None if idx is None else idx.numpy(), x.grad.numpy(), type(y.grad_fn).__name__)


@requires_torch
@pytest.mark.parametrize("kw", [dict(kernel_size=2, output_size=(4, 5, 6)), dict(kernel_size=(2, 3, 2), output_ratio=0.5),
                                dict(kernel_size=3, output_size=4, return_indices=True)], ids=str)
@pytest.mark.parametrize("batched", [True, False])
def test_fractional_max_pool3d_matches_torch(kw, batched):
    g = np.random.default_rng(0)
    x0 = g.standard_normal((2, 3, 7, 8, 9)).astype(np.float32)
    s0 = g.random((2, 3, 3)).astype(np.float32)
    if not batched:
        x0, s0 = x0[0], s0[:1]
    e, t = _frac(ember, x0, s0, kw), _frac(torch, x0, s0, kw)
    for a, b in zip(e[:3], t[:3]):
        if a is None:
            assert b is None
        else:
            np.testing.assert_array_equal(a, b)
    assert e[3] == t[3]


@requires_torch
def test_fractional_max_pool3d_default_samples_and_module_match_torch():
    x0 = np.random.default_rng(2).standard_normal((2, 3, 6, 6, 6)).astype(np.float32)

    def run(T):
        T.manual_seed(0)
        a = T.nn.functional.fractional_max_pool3d(T.tensor(x0), 2, output_size=3)
        m = T.nn.FractionalMaxPool3d(2, output_ratio=(0.5, 0.5, 0.5), return_indices=True)
        b, i = m(T.tensor(x0))
        return a.numpy().tolist(), b.numpy().tolist(), i.numpy().tolist(), repr(m), list(m.state_dict())
    assert run(ember) == run(torch)


@requires_torch
@pytest.mark.parametrize("call", [
    lambda T: T.nn.functional.fractional_max_pool3d(T.zeros(1, 2, 5, 5, 5), 4, output_size=5),
    lambda T: T.nn.functional.fractional_max_pool3d(T.zeros(1, 2, 5, 5, 5), 2),
    lambda T: T.nn.FractionalMaxPool3d(2, output_ratio=1.5),
    lambda T: T.nn.FractionalMaxPool3d(0, output_size=2),
    lambda T: T.nn.FractionalMaxPool3d(2),
    lambda T: T.nn.FractionalMaxPool3d(2, output_size=2, output_ratio=0.5),
    lambda T: T.nn.functional.fractional_max_pool3d(T.zeros(2, 5, 5), 2, output_size=2),
])
def test_fractional_max_pool3d_errors_match_torch(call):
    def run(T):
        try:
            call(T)
        except Exception as e:
            return type(e).__name__, str(e).split(" (")[0]
    assert run(ember) == run(torch)


@requires_torch
def test_nllloss2d_deprecated_alias():
    x0 = np.random.default_rng(0).standard_normal((2, 3, 4, 4)).astype(np.float32)
    t0 = np.random.default_rng(1).integers(0, 3, (2, 4, 4))
    with pytest.warns(FutureWarning, match="`NLLLoss2d` has been deprecated"):
        le = ember.nn.NLLLoss2d(ignore_index=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lt = torch.nn.NLLLoss2d(ignore_index=1)
    assert isinstance(le, ember.nn.NLLLoss) and repr(le) == repr(lt)
    e = le(ember.tensor(x0).log_softmax(1), ember.tensor(t0))
    t = lt(torch.tensor(x0).log_softmax(1), torch.tensor(t0))
    np.testing.assert_allclose(e.item(), t.item(), rtol=1e-6)
