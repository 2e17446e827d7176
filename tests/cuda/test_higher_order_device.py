"""Higher-order gradients on the fake 'cuda' device: every constant a Tensor formula makes stays on
the device, and the derivatives equal the CPU's (tests/autograd/test_higher_order.py checks those
against torch)."""
import numpy as np
import pytest

import ember
from tests.autograd.test_higher_order import CASES, X, Y, V

NAMES = ["where_maximum", "hardtanh_relu6_threshold", "clamp", "elu", "softplus_silu", "abs", "relu", "max_min_amax",
         "l1_smooth_l1", "mse_loss", "cross_entropy", "leaky_relu", "mul", "div", "pow", "detached_aliases",
         "fmax_fmin_clamp_min_max", "lgamma_digamma_polygamma", "special", "fmod_remainder", "pow_tensor",
         "xlogy_logaddexp2", "lerp_addcmul_addcdiv", "gelu", "glu", "prelu", "mish_logsigmoid_softsign_tanhshrink",
         "shrinks_rrelu", "normalize_cosine_similarity", "pairwise_distance_triplet", "huber_soft_margin_bce",
         "kl_div_poisson_nll", "margin_ranking_hinge", "multilabel_soft_gaussian_nll_cosine_embedding",
         "cross_entropy_probabilities", "rms_norm", "inplace"]


def _orders(f, device):
    x = ember.tensor(X, device=device, requires_grad=True)
    y = ember.tensor(Y, device=device, requires_grad=True)
    out = f(ember, x, y)
    w = ember.tensor(np.cos(np.arange(out.numel())).reshape(tuple(out.shape)), device=device)
    gx, gy = ember.autograd.grad((out * w).sum(), (x, y), create_graph=True)
    s = (gx * ember.tensor(V, device=device)).sum() + (gy ** 2).sum()
    hx, hy = ember.autograd.grad(s, (x, y), create_graph=True, allow_unused=True, materialize_grads=True)
    res = [gx, gy, hx, hy] + ([ember.autograd.grad(hx.sum(), x)[0]] if hx.requires_grad else [])
    return [r.detach().cpu().numpy() for r in res]


@pytest.mark.parametrize("name", NAMES)
def test_higher_order_derivatives_on_the_device(fake_cuda, name):
    ember.set_default_device("cuda")   # (the cases' own constants, ember.tensor(...), go there too)
    try:
        got = _orders(CASES[name], "cuda")
    finally:
        ember.set_default_device(None)
    for w, g in zip(_orders(CASES[name], "cpu"), got):
        np.testing.assert_allclose(g, w, rtol=1e-10, atol=1e-12)
