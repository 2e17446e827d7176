"""torch.signal.windows: every window's values, dtype, autograd flags and errors against real torch, and the
torch.signal names under the torch alias."""
import numpy as np
import pytest

import ember
import ember.signal.windows as ew
from tests.conftest import requires_torch, torch

NAMES = ["bartlett", "blackman", "cosine", "exponential", "gaussian", "general_cosine", "general_hamming",
         "hamming", "hann", "kaiser", "nuttall"]
# each window's own keyword arguments, beside M and sym
PARAMS = {"general_cosine": [{"a": [0.46, 0.23, 0.31]}, {"a": (1.0,)}], "general_hamming": [{}, {"alpha": 0.6}],
          "exponential": [{}, {"tau": 0.5}], "gaussian": [{}, {"std": 0.9}],
          "kaiser": [{}, {"beta": 0.0}, {"beta": 5.5}]}
VALUE_CASES = [(name, kw) for name in NAMES for kw in PARAMS.get(name, [{}])]
# the ops differ from torch's vectorised kernels by a few ulps (ember's i0 by ~8 float32 ulps)
TOL = {"float32": dict(rtol=1e-5, atol=2e-7), "float64": dict(rtol=1e-12, atol=1e-15)}


def _window(lib, name, M, kw, dtype=None):
    kw = dict(kw)
    if dtype is not None:
        kw["dtype"] = getattr(lib, dtype)
    return getattr(lib.signal.windows, name)(M, **kw)


def test_layout_matches_torch():
    assert ew.__all__ == NAMES
    assert ember.signal.__all__ == ["windows"]
    assert ember.signal.windows is ew
    assert ew.hann.__module__ == "ember.signal.windows.windows"


@requires_torch
@pytest.mark.parametrize("name,kw", VALUE_CASES, ids=[f"{n}-{'-'.join(map(str, k.values()))}" for n, k in VALUE_CASES])
@pytest.mark.parametrize("dtype", [None, "float64"])
def test_values_match_torch(name, kw, dtype):
    import torch.signal.windows  # noqa: F401  (torch imports torch.signal lazily)
    for M in (0, 1, 2, 3, 4, 5, 10, 11, 64):
        for sym in (True, False):
            e = _window(ember, name, M, dict(kw, sym=sym), dtype)
            t = _window(torch, name, M, dict(kw, sym=sym), dtype)
            assert str(e.dtype).replace("ember.", "torch.") == str(t.dtype)
            assert e.shape == (M,)
            np.testing.assert_allclose(e.numpy(), t.numpy(), **TOL[dtype or "float32"], err_msg=f"{name} {M} {sym}")


@requires_torch
def test_exponential_center_matches_torch():
    import torch.signal.windows  # noqa: F401
    for M in (1, 4, 7):
        e = ew.exponential(M, center=2.0, tau=1.5, sym=False)
        t = torch.signal.windows.exponential(M, center=2.0, tau=1.5, sym=False)
        np.testing.assert_allclose(e.numpy(), t.numpy(), **TOL["float32"])


@pytest.mark.parametrize("name", NAMES)
def test_default_dtype_is_honoured(name):
    kw = PARAMS.get(name, [{}])[0]
    saved = ember.get_default_dtype()
    ember.set_default_dtype(ember.float64)
    try:
        assert _window(ember, name, 5, kw).dtype == ember.float64
        assert _window(ember, name, 0, kw).dtype == ember.float64
    finally:
        ember.set_default_dtype(saved)
    assert _window(ember, name, 5, kw).dtype == ember.float32


def _outcome(lib, name, M, kw):
    kw = {k: getattr(lib, v[4:]) if isinstance(v, str) and v.startswith("lib.") else v for k, v in kw.items()}
    try:
        r = getattr(lib.signal.windows, name)(M, **kw)
        return (str(r.dtype).replace("ember.", "torch."), r.requires_grad, r.is_leaf,
                type(r.grad_fn).__name__ if r.grad_fn is not None else None)
    except Exception as e:   # (a non-int M: a TypeError from linspace, whose wording differs)
        return type(e).__name__, str(e).replace("ember.", "torch.") if "linspace" not in str(e) else ""


ERROR_CASES = [(n, M, dict(PARAMS.get(n, [{}])[0], **kw)) for n in NAMES for M, kw in [
    (-1, {}), (5, {"dtype": "lib.float16"}), (5, {"dtype": "lib.int64"}), (5, {"layout": None}),
    (5, {"layout": "lib.sparse_coo"}), (-1, {"dtype": "lib.int64"}), (5, {"requires_grad": True}),
    (1, {"requires_grad": True}), (0, {"requires_grad": True}), (5, {"dtype": "lib.float64"}), (3.0, {})]]
ERROR_CASES += [("exponential", 5, {"tau": 0}), ("exponential", 5, {"center": 1.0}),
                ("exponential", 5, {"tau": -1, "center": 1.0}), ("exponential", -1, {"tau": 0}),
                ("gaussian", 5, {"std": 0}), ("gaussian", 5, {"std": -1.0}), ("kaiser", 5, {"beta": -1}),
                ("kaiser", 0, {"beta": -1}), ("general_cosine", 5, {"a": []}), ("general_cosine", 5, {"a": 3}),
                ("general_cosine", 1, {"a": 3}), ("general_cosine", 5, {}), ("general_hamming", -2, {"alpha": 0.3}),
                ("hann", 4, {"sym": False, "dtype": "lib.bfloat16"}), ("hann", 5, {"sym": 0}),
                ("general_cosine", 5, {"a": [1.0], "requires_grad": True})]


@requires_torch
@pytest.mark.parametrize("name,M,kw", ERROR_CASES)
def test_errors_and_autograd_flags_match_torch(name, M, kw):
    import torch.signal.windows  # noqa: F401
    assert _outcome(ember, name, M, kw) == _outcome(torch, name, M, kw)


def test_errors_without_torch():
    with pytest.raises(ValueError, match="gaussian requires non-negative window length, got M=-3"):
        ew.gaussian(-3)
    with pytest.raises(ValueError, match=r"blackman expects float32 or float64 dtypes, got: \w+\.float16"):
        ew.blackman(4, dtype=ember.float16)
    with pytest.raises(ValueError, match="general_cosine requires non-negative"):   # (torch's hann names it so)
        ew.hann(-1)
    with pytest.raises(ValueError, match="Center must be None for symmetric windows"):
        ew.exponential(4, center=1.0)


def test_requires_grad_window_backpropagates():
    w = ew.kaiser(6, beta=3.0, requires_grad=True)
    assert w.requires_grad and type(w.grad_fn).__name__ == "DivBackward0"
    w.sum().backward()   # (the linspace leaf is internal: only that the graph runs is observable)


def test_torch_signal_under_the_alias():
    import os
    import subprocess
    import sys
    code = ("import ember.compat as c; c.install()\n"
            "import torch\n"
            "from torch.signal.windows import hann\n"
            "import torch.signal.windows.windows as w\n"
            "print(repr(hann(3)), w.nuttall is torch.signal.windows.nuttall)\n")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env).stdout
    assert out.split("\n")[0] == "tensor([0., 1., 0.]) True"
