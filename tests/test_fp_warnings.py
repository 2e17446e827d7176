"""inf and nan arise silently, as in torch, even under warnings filters set after `import ember`
(pytest's per-test filters, `simplefilter("error")`), while the user's own NumPy keeps its warnings."""
import math
import subprocess
import sys
import warnings

import numpy as np
import pytest

import ember
import ember.nn.functional as F
from ember import nn

SPECIAL = [0.0, -1.0, 1.0, 1000.0, math.inf, -math.inf, math.nan]


def _x():
    return ember.tensor(SPECIAL, requires_grad=True)


CASES = {
    "log": ember.log, "sqrt": ember.sqrt, "exp": ember.exp, "rsqrt": ember.rsqrt, "reciprocal": ember.reciprocal,
    "x / 0": lambda t: t / 0, "1 / x": lambda t: 1 / t, "x ** -1": lambda t: t ** -1, "x ** 0.5": lambda t: t ** 0.5,
    "softmax": lambda t: F.softmax(t, 0), "log_softmax": lambda t: F.log_softmax(t, 0),
    "cross_entropy": lambda t: F.cross_entropy(t.reshape(1, 7), ember.tensor([0])),
    "cross_entropy smoothed": lambda t: F.cross_entropy(t.reshape(1, 7), ember.tensor([0]), label_smoothing=0.1),
    "bce_with_logits": lambda t: F.binary_cross_entropy_with_logits(t, ember.ones(7)),
    "gelu": F.gelu, "silu": F.silu, "softplus": F.softplus, "normalize": lambda t: F.normalize(t, dim=0),
    "layer_norm": lambda t: F.layer_norm(t, (7,)), "logsumexp": lambda t: ember.logsumexp(t, 0),
    "mean": lambda t: t.mean(), "var": lambda t: t.var(), "prod": lambda t: t.prod(), "cumsum": lambda t: t.cumsum(0),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_ops_on_inf_and_nan_stay_silent_under_an_error_filter(name):
    with warnings.catch_warnings():
        warnings.simplefilter("error")   # in front of ember's own filter, as pytest's are
        y = CASES[name](_x())
        y.sum().backward()   # the backward formulas too (log's g / x at x = 0)


@pytest.mark.parametrize("name,fn", [
    ("det", lambda: ember.linalg.det(ember.full((60, 60), 1e3) + 1e4 * ember.eye(60))),       # overflows to inf
    ("x.det()", lambda: (ember.full((60, 60), 1e3) + 1e4 * ember.eye(60)).det()),
    ("vector_norm", lambda: ember.linalg.vector_norm(ember.full((4,), 1e30))),
    ("matrix_norm", lambda: ember.linalg.matrix_norm(ember.full((2, 2), 1e30))),
])
def test_linalg_overflow_stays_silent_under_an_error_filter(name, fn):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert ember.isinf(fn()).all()


def test_a_model_with_a_minus_inf_mask_stays_silent():
    class Attend(nn.Module):
        def forward(self, q, mask):
            scores = (q @ q.T).masked_fill(mask, float("-inf"))
            return F.softmax(scores, dim=-1) @ q   # a fully masked row is nan, silently, as in torch

    q = ember.randn(3, 4, requires_grad=True)
    mask = ember.tensor([[False, True, True], [True, True, True], [False, False, True]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = Attend()(q, mask)
        out.sum().backward()
    assert ember.isnan(out[1]).all() and not ember.isnan(out[0]).any()


def test_the_users_own_numpy_keeps_its_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ember.log(ember.zeros(2))   # ember's scope ends with the op
        with pytest.raises(RuntimeWarning, match="divide by zero"):
            np.log(np.zeros(2))

        class UsesNumpy(nn.Module):
            def forward(self, x):
                return x * 2

        UsesNumpy()(ember.ones(2))
        with pytest.raises(RuntimeWarning, match="divide by zero"):
            np.ones(2) / 0


def test_a_script_under_python_w_error_runs():
    script = ("import ember, ember.nn.functional as F\n"
              "x = ember.tensor([0.0, float('inf'), -float('inf')], requires_grad=True)\n"
              "y = (ember.log(x) + F.softmax(x, 0)).sum(); y.backward()\n"
              "print('ok')\n")
    proc = subprocess.run([sys.executable, "-W", "error", "-c", script], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "ok"


def test_threaded_convolution_blocks_stay_silent(monkeypatch):
    from ember.ops import conv
    monkeypatch.setattr(conv, "_PAR_MIN_FLOPS", 0)   # split the batch over the helper threads
    x = ember.randn(64, 3, 12, 12)
    x[:32, 0] = float("inf")   # inf times weights of both signs: inf - inf in the products
    w = ember.randn(6, 3, 3, 3, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        y = F.conv2d(x, w)
        y.sum().backward()
    assert ember.isnan(y[0]).any() and ember.isfinite(y[40]).all()
