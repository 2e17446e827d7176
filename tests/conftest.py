"""Shared test helpers: the torch oracle (optional) and float64 gradient checks."""
import importlib
import os
import sys

import numpy as np
import pytest

try:
    import torch  # the oracle; tests that need it skip cleanly without it
except ImportError:  # pragma: no cover
    torch = None

requires_torch = pytest.mark.skipif(torch is None, reason="PyTorch (the test oracle) is not installed")


def real_torchvision(*modules):
    """The real torchvision's module (the first of modules, all importable), or None: torchvision is not
    installed with the test extras; EMBER_TORCHVISION_PATH may point at a folder holding a copy."""
    if torch is None:
        return None
    path = os.environ.get("EMBER_TORCHVISION_PATH")
    if path and path not in sys.path:
        sys.path.append(path)
    try:
        found = [importlib.import_module(m) for m in modules]
    except Exception:  # absent, or its C extensions don't load here
        return None
    tv = sys.modules.get("torchvision")
    if "ember" in (getattr(found[0], "__file__", "") or "") or not hasattr(tv, "__version__"):
        return None  # ember's own alias, not torchvision
    return found[0]


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


def check_unbuffered_rows(run, ours, theirs, oracle, monkeypatch, **tol):
    """run(lib, op) -> arrays, for ops that broadcast along long rows: ember's results under the short
    ufunc buffer (_backend.rows_state) have the bits of NumPy's default buffer, NumPy's own buffer size
    and error state are back after the op, and torch's values agree within tol."""
    import ember
    from ember import _backend
    before = np.getbufsize(), np.geterr()
    fast = run(ember, ours)
    assert (np.getbufsize(), np.geterr()) == before
    with monkeypatch.context() as m:
        m.setattr(_backend, "ROWS_MIN", 1 << 30)   # NumPy's default buffer throughout
        for f, s in zip(fast, run(ember, ours)):
            assert np.array_equal(f, s)
    for f, t in zip(fast, run(oracle, theirs)):
        np.testing.assert_allclose(f, t, **tol)


def record_blocks(monkeypatch, workers, name="run_blocks"):
    """Make ember see `workers` threads, and record the arguments (after the function) of each call to
    _threads.<name> (run_blocks: (N, plan); row_blocks: (rows, row_len, state))."""
    from ember import _threads
    monkeypatch.setattr(_threads, "get_num_threads", lambda: workers)
    calls = []
    real = getattr(_threads, name)
    monkeypatch.setattr(_threads, name, lambda fn, *a: calls.append(a) or real(fn, *a))
    return calls
