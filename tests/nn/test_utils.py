"""nn.utils: gradient clipping and parameter/vector conversion against torch."""
import math

import numpy as np
import pytest

import ember
import ember.nn as nn
from ember.nn.utils import clip_grad_norm_, clip_grad_value_, parameters_to_vector, vector_to_parameters
from tests.conftest import requires_torch


def _params_with_grads(lib, P, grads):
    out = []
    for g in grads:
        p = P(lib.zeros(*g.shape))
        p.grad = lib.tensor(g)
        out.append(p)
    return out


GRADS = [np.array([[3.0, -4.0], [1.0, 2.0]], np.float32), np.array([0.5, -6.0, 2.0], np.float32)]


@requires_torch
@pytest.mark.parametrize("norm_type", [2.0, 1.0, 3.0, math.inf])
@pytest.mark.parametrize("max_norm", [0.5, 100.0])
def test_clip_grad_norm_matches_torch(oracle, norm_type, max_norm):
    tp = _params_with_grads(oracle, oracle.nn.Parameter, GRADS)
    ep = _params_with_grads(ember, nn.Parameter, GRADS)
    tn = oracle.nn.utils.clip_grad_norm_(tp, max_norm, norm_type)
    en = clip_grad_norm_(ep, max_norm, norm_type)
    assert en.dtype == ember.float32 and en.ndim == 0
    np.testing.assert_allclose(en.item(), tn.item(), rtol=1e-6)
    for a, b in zip(ep, tp):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-6)


def test_clip_grad_norm_nonfinite_and_empty():
    ps = _params_with_grads(ember, nn.Parameter, [np.array([np.inf, 1.0], np.float32)])
    with pytest.raises(RuntimeError, match="non-finite"):
        clip_grad_norm_(ps, 1.0, error_if_nonfinite=True)
    assert clip_grad_norm_([], 1.0).item() == 0.0
    p = nn.Parameter(ember.ones(2))  # no grad: skipped
    assert clip_grad_norm_(p, 1.0).item() == 0.0


@requires_torch
def test_clip_grad_value_matches_torch(oracle):
    tp = _params_with_grads(oracle, oracle.nn.Parameter, GRADS)
    ep = _params_with_grads(ember, nn.Parameter, GRADS)
    oracle.nn.utils.clip_grad_value_(tp, 1.5)
    clip_grad_value_(ep, 1.5)
    for a, b in zip(ep, tp):
        np.testing.assert_array_equal(a.grad.numpy(), b.grad.numpy())


def test_parameters_vector_round_trip():
    if not hasattr(ember, "cat"):
        pytest.skip("ember.cat has not landed")
    lin = nn.Linear(3, 2)
    vec = parameters_to_vector(lin.parameters())
    assert tuple(vec.shape) == (8,)
    np.testing.assert_array_equal(vec.detach().numpy()[:6], lin.weight.detach().numpy().ravel())
    w = lin.weight
    vector_to_parameters(ember.arange(8, dtype=ember.float32), lin.parameters())
    assert lin.weight is w
    np.testing.assert_array_equal(lin.weight.detach().numpy(), [[0, 1, 2], [3, 4, 5]])
    np.testing.assert_array_equal(lin.bias.detach().numpy(), [6, 7])
    with pytest.raises(TypeError, match="expected torch.Tensor"):
        vector_to_parameters([1.0], lin.parameters())
