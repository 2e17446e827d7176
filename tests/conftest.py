"""Shared test helpers: the torch oracle (optional) and float64 gradient checks."""
import numpy as np
import pytest

try:
    import torch  # the oracle; tests that need it skip cleanly without it
except ImportError:  # pragma: no cover
    torch = None

requires_torch = pytest.mark.skipif(torch is None, reason="PyTorch (the test oracle) is not installed")


@pytest.fixture
def oracle():
    """Real torch, or skip the test."""
    if torch is None:
        pytest.skip("PyTorch (the test oracle) is not installed")
    return torch


def numeric_grad(f, x, eps=1e-6):
    """Central-difference gradient of scalar f at float64 array x."""
    x = np.array(x, dtype=np.float64)
    g = np.zeros_like(x)
    flat, gflat = x.reshape(-1), g.reshape(-1)
    for i in range(flat.size):
        orig = flat[i]
        flat[i] = orig + eps
        fp = f(x)
        flat[i] = orig - eps
        fm = f(x)
        flat[i] = orig
        gflat[i] = (fp - fm) / (2 * eps)
    return g
