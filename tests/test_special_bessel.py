"""torch.special's Bessel and Airy functions (bessel_j0/j1/y0/y1, modified_bessel_i0/i1/k0/k1,
scaled_modified_bessel_k0/k1, spherical_bessel_j0, airy_ai): NumPy-only Cephes approximations against torch,
to 1e-6 relative (absolute near the zeros of the oscillating ones), special values included."""
import numpy as np
import pytest

import ember
from tests.conftest import requires_torch, torch

NAMES = ["bessel_j0", "bessel_j1", "bessel_y0", "bessel_y1", "modified_bessel_i0", "modified_bessel_i1",
         "modified_bessel_k0", "modified_bessel_k1", "scaled_modified_bessel_k0", "scaled_modified_bessel_k1",
         "spherical_bessel_j0", "airy_ai"]
_RNG = np.random.default_rng(5)
POINTS = np.concatenate([
    np.linspace(-30, 30, 1201), _RNG.standard_normal(100) * 3,
    # the branch points of the approximations, zero, tiny and huge values, infinities, nan
    [0.0, -0.0, 1e-6, -1e-6, 1e-300, 4.99999, 5.0, 5.00001, 1.9999, 2.0, 2.0001, -2.09, -2.0901, 2.09, 8.3203353,
     8.33, 0.4999, 0.5, 103.8, 104.0, 700.0, -700.0, np.inf, -np.inf, np.nan]])


def _close(got, ref, atol):
    got, ref = np.asarray(got, np.float64), np.asarray(ref, np.float64)
    assert np.array_equal(np.isnan(got), np.isnan(ref))
    inf = np.isinf(ref)
    assert np.array_equal(got[inf], ref[inf])
    fin = np.isfinite(ref)
    np.testing.assert_allclose(got[fin], ref[fin], rtol=1e-6, atol=atol)


@requires_torch
@pytest.mark.parametrize("name", NAMES)
def test_float64_matches_torch(name):
    got = getattr(ember.special, name)(ember.tensor(POINTS))
    assert got.dtype is ember.float64 and got.shape == (POINTS.size,)
    _close(got.numpy(), getattr(torch.special, name)(torch.tensor(POINTS)).numpy(), 1e-12)


@requires_torch
@pytest.mark.parametrize("name", NAMES)
def test_float32_is_the_rounded_double(name):
    # (torch's float32 kernels evaluate in float; ember rounds its double result, so it is compared with
    # torch's float64 values: closer, e.g. airy_ai's phase for large negative x)
    x = POINTS.astype(np.float32)
    got = getattr(ember.special, name)(ember.tensor(x))
    assert got.dtype is ember.float32
    ref = getattr(torch.special, name)(torch.tensor(x, dtype=torch.float64)).numpy()
    with np.errstate(over="ignore"):
        ref = ref.astype(np.float32)
    _close(got.numpy(), ref, 1e-6)


@requires_torch
def test_integers_out_and_no_gradient():
    for M in (ember, torch):
        assert M.special.bessel_j0(M.tensor([0, 1, 2])).dtype is M.float32
        out = M.empty(3)
        M.special.airy_ai(M.tensor([0.0, 1, -1]), out=out)
        np.testing.assert_allclose(out.numpy(), [0.35502805, 0.13529242, 0.53556088], rtol=1e-6)
    assert ember.special.bessel_y1(ember.tensor([1.0], requires_grad=True)).grad_fn is None
