"""Layers and functions the dir() comparison found missing (group 5): F.gumbel_softmax, nn.SyncBatchNorm,
nn.CrossMapLRN2d, nn.AdaptiveLogSoftmaxWithLoss, F.fractional_max_pool2d / nn.FractionalMaxPool2d, against
torch (seeded draws included) and float64 central differences."""
import numpy as np
import pytest

import ember
from tests.conftest import requires_torch, torch
from tests.ops.test_more_ops import _gradcheck, both

RNG = np.random.default_rng(31)
IMG = RNG.standard_normal((2, 3, 9, 8)).astype(np.float32)


@requires_torch
@pytest.mark.parametrize("kw", [dict(tau=0.5), dict(hard=True, dim=0), dict(tau=2.0, hard=True)])
def test_gumbel_softmax_replays_torch(kw):
    w = np.arange(15.0, dtype=np.float32).reshape(3, 5)

    def f(M):
        M.manual_seed(3)
        x = M.tensor(_LOGITS, requires_grad=True)
        y = M.nn.functional.gumbel_softmax(x, **kw)
        (y * M.tensor(w)).sum().backward()
        return y.detach(), x.grad
    both(f)


_LOGITS = RNG.standard_normal((3, 5)).astype(np.float32)


@requires_torch
def test_sync_batchnorm_is_batchnorm_in_one_process():
    def f(M):
        net = M.nn.Sequential(M.nn.Conv2d(3, 4, 1), M.nn.BatchNorm2d(4), M.nn.Sequential(M.nn.BatchNorm1d(4)))
        net[1].weight.data = M.tensor([1.0, 2, 3, 4])
        sync = M.nn.SyncBatchNorm.convert_sync_batchnorm(net)
        assert sync[1].weight is net[1].weight and isinstance(sync[2][0], M.nn.SyncBatchNorm)
        bn = M.nn.SyncBatchNorm(3, momentum=0.5)
        x = M.tensor(IMG[:, :, :2, :2].reshape(2, 3, 4))
        y = bn(x)
        bn.eval()
        return (repr(sync), sync[1](M.tensor(IMG[:, :, :2, :2].reshape(2, 4, 1, 3)))
                .detach(), y.detach(), bn.running_mean, bn.running_var, bn(x).detach(),
                M.nn.SyncBatchNorm(3)(M.tensor(IMG[0, :, 0].T)).detach())
    both(f)
    for M in (ember, torch):
        with pytest.raises(ValueError, match="expected at least 2D input"):
            M.nn.SyncBatchNorm(3)(M.ones(3))


@requires_torch
@pytest.mark.parametrize("size", [1, 2, 3, 4, 5, 9])
def test_cross_map_lrn2d_forward_matches_torch(size):
    x = RNG.standard_normal((2, 7, 3, 3)).astype(np.float32)
    a = ember.nn.CrossMapLRN2d(size, 0.1, 0.75, 2)(ember.tensor(x))
    b = torch.nn.CrossMapLRN2d(size, 0.1, 0.75, 2)(torch.tensor(x))
    np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-6)
    assert repr(ember.nn.CrossMapLRN2d(size)) == repr(torch.nn.CrossMapLRN2d(size))


def test_cross_map_lrn2d_gradient():
    # the derivative of the forward (torch's legacy backward approximates it with a symmetric window)
    _gradcheck(lambda x: ember.nn.CrossMapLRN2d(3, 0.5, 0.75, 1)(x), RNG.standard_normal((1, 5, 2, 2)))


def _asm(M):
    M.manual_seed(0)
    m = M.nn.AdaptiveLogSoftmaxWithLoss(8, 14, [4, 10], div_value=2.0)
    with M.no_grad():
        for i, p in enumerate(m.parameters()):
            p.copy_(M.tensor(np.random.default_rng(i).standard_normal(tuple(p.shape)).astype(np.float32)))
    return m


@requires_torch
def test_adaptive_log_softmax_matches_torch():
    x_np = RNG.standard_normal((6, 8)).astype(np.float32)
    t_np = np.array([0, 3, 9, 12, 5, 1])

    def f(M):
        m = _asm(M)
        x = M.tensor(x_np, requires_grad=True)
        out = m(x, M.tensor(t_np))
        out.loss.backward()
        single = m(M.tensor(x_np[0]), M.tensor(t_np[0]))
        grads = [x.grad.numpy()] + [p.grad.numpy() for p in m.parameters()]
        return (out.output.detach(), out.loss.detach(), m.log_prob(M.tensor(x_np)).detach(),
                m.predict(M.tensor(x_np)), single.output.detach(), type(out).__name__, tuple(out._fields),
                repr(m)), grads
    (e, eg), (t, tg) = f(ember), f(torch)
    both(lambda M: e if M is ember else t)
    for a, b in zip(eg, tg):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    for M in (ember, torch):
        with pytest.raises(RuntimeError, match="Target values should be in"):
            _asm(M)(M.tensor(x_np), M.tensor([0, 1, 2, 3, 4, 14]))
        with pytest.raises(ValueError, match="cutoffs should be a sequence"):
            M.nn.AdaptiveLogSoftmaxWithLoss(8, 14, [10, 4])


@requires_torch
@pytest.mark.parametrize("kw", [dict(kernel_size=3, output_size=(4, 5)), dict(kernel_size=2, output_size=3),
                                dict(kernel_size=(2, 3), output_ratio=(0.5, 0.6))])
def test_fractional_max_pool2d_replays_torch(kw):
    w = np.arange(2 * 3 * 30, dtype=np.float32)

    def f(M):
        M.manual_seed(1)
        x = M.tensor(IMG, requires_grad=True)
        out, idx = M.nn.functional.fractional_max_pool2d(x, return_indices=True, **kw)
        (out * M.tensor(w[:out.numel()].reshape(tuple(out.shape)))).sum().backward()
        single = M.nn.functional.fractional_max_pool2d(M.tensor(IMG[0]), **kw)
        layer = M.nn.FractionalMaxPool2d(**kw)
        return out.detach(), idx, x.grad, out.grad_fn.name(), single, layer(M.tensor(IMG)), repr(layer)
    both(f)


def test_fractional_max_pool2d_gradient_and_samples():
    samples = ember.tensor([[[0.3, 0.7]]], dtype=ember.float64)
    _gradcheck(lambda x: ember.nn.functional.fractional_max_pool2d(x, 2, output_size=(3, 3),
                                                                     _random_samples=samples),
               RNG.standard_normal((1, 1, 5, 6)))
    with pytest.raises(ValueError, match="requires specifying either"):
        ember.nn.FractionalMaxPool2d(2)
