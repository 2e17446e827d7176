"""Lazy modules (LazyLinear, LazyConvNd, LazyBatchNorm/InstanceNorm): shapes from the first input.

Against torch: reprs before and after, the class they turn into, state_dict entries, and the
initial weights after manual_seed (ember's CPU generator is torch's).  Without torch: the
materialization keeps parameter identity (an optimizer built first still trains them).
"""
import copy

import numpy as np
import pytest

import ember
import ember.nn as nn
from tests.conftest import requires_torch


def _run(lib):
    lib.manual_seed(0)
    out = []
    lin = lib.nn.LazyLinear(5)
    out += [repr(lin), repr(lin.weight), repr(lin.state_dict())]
    opt = lib.optim.SGD(lin.parameters(), lr=0.1)
    x = lib.tensor(np.linspace(-1, 1, 6, dtype=np.float32).reshape(2, 3))
    lin(x).sum().backward()
    opt.step()
    out += [type(lin).__name__, repr(lin), lin.weight.detach().numpy(), lin.bias.detach().numpy()]
    loaded = lib.nn.LazyLinear(5)
    loaded.load_state_dict(lin.state_dict())
    out += [type(loaded).__name__, loaded(x).detach().numpy(), type(loaded).__name__]
    for cls, shape, args in [("LazyConv2d", (1, 2, 5, 5), (4, 3)), ("LazyConv1d", (2, 3, 7), (2, 2)),
                             ("LazyConv3d", (1, 2, 3, 4, 4), (2, 2)), ("LazyConvTranspose2d", (1, 2, 3, 3), (4, 2)),
                             ("LazyConv2d", (2, 5, 5), (3, 3))]:
        conv = getattr(lib.nn, cls)(*args)
        before = repr(conv)
        y = conv(lib.ones(*shape))
        out += [before, repr(conv), type(conv).__name__, conv.weight.detach().numpy(), tuple(y.shape)]
    for cls, shape in [("LazyBatchNorm2d", (2, 3, 2, 2)), ("LazyBatchNorm1d", (4, 3)), ("LazyInstanceNorm1d", (2, 3, 4))]:
        norm = getattr(lib.nn, cls)(affine=True, track_running_stats=True)
        before = (repr(norm), repr(norm.state_dict()))
        norm(lib.tensor(np.arange(np.prod(shape), dtype=np.float32).reshape(shape)))
        out += [before, repr(norm), type(norm).__name__, norm.running_mean.numpy(), list(norm.state_dict())]
    return out


@requires_torch
def test_lazy_modules_match_torch(oracle):
    for t, e in zip(_run(oracle), _run(ember)):
        if isinstance(t, np.ndarray):
            np.testing.assert_allclose(e, t, rtol=1e-6, atol=1e-7)
        else:
            assert str(e).replace("ember", "torch") == str(t)


@requires_torch
def test_d2l_style_lenet_of_lazy_layers_matches_torch(oracle):
    def build(lib):
        lib.manual_seed(1)
        n = lib.nn
        net = n.Sequential(n.LazyConv2d(6, kernel_size=5, padding=2), n.Sigmoid(), n.AvgPool2d(2, 2),
                           n.LazyConv2d(16, kernel_size=5), n.Sigmoid(), n.AvgPool2d(2, 2), n.Flatten(),
                           n.LazyLinear(120), n.Sigmoid(), n.LazyLinear(84), n.Sigmoid(), n.LazyLinear(10))
        x = lib.tensor(np.random.default_rng(0).standard_normal((2, 1, 28, 28)).astype(np.float32))
        shapes = []
        h = x
        for layer in net:
            h = layer(h)
            shapes.append((type(layer).__name__, tuple(h.shape)))
        return shapes, repr(net), h.detach().numpy()
    (ts, tr, th), (es, er, eh) = build(oracle), build(ember)
    assert es == ts and er == tr
    np.testing.assert_allclose(eh, th, rtol=1e-5, atol=1e-6)


def test_materializing_keeps_the_parameter_objects():
    lin = nn.LazyLinear(3)
    params = list(lin.parameters())
    opt = ember.optim.SGD(lin.parameters(), lr=1.0)
    lin(ember.ones(4, 2)).sum().backward()
    opt.step()
    assert type(lin) is nn.Linear and lin.in_features == 2
    assert [id(p) for p in lin.parameters()] == [id(p) for p in params]
    assert type(params[0]) is nn.Parameter and tuple(params[0].shape) == (3, 2)
    assert not hasattr(lin, "_initialize_hook") and not lin._forward_pre_hooks


def test_uninitialized_parameter_says_what_to_do():
    lin = nn.LazyLinear(3)
    assert nn.parameter.is_lazy(lin.weight)
    with pytest.raises(RuntimeError, match="Call `forward` to initialize the parameters"):
        lin.weight.shape
    clone = copy.deepcopy(lin)
    assert nn.parameter.is_lazy(clone.weight) and clone.weight is not lin.weight
    clone(ember.ones(1, 4))
    assert tuple(clone.weight.shape) == (3, 4) and nn.parameter.is_lazy(lin.weight)


def test_lazy_conv_bad_input():
    with pytest.raises(ValueError, match="in_channels must be divisible by groups"):
        nn.LazyConv2d(4, 3, groups=2)(ember.ones(1, 3, 5, 5))
    with pytest.raises(RuntimeError, match=r"Expected 3D \(unbatched\) or 4D \(batched\) input to LazyConv2d"):
        nn.LazyConv2d(4, 3)(ember.ones(5, 5))
