"""torch.fft: values, dtypes, shapes and gradients of every transform against real torch, and the
gradients of the three primitives (c2c, r2c, c2r) against float64 central differences."""
import numpy as np
import pytest

import ember
import ember.fft
from tests.conftest import numeric_grad, requires_torch, torch

rng = np.random.default_rng(0)


def _data(shape, dtype):
    x = rng.standard_normal(shape)
    if np.dtype(dtype).kind == "c":
        x = x + 1j * rng.standard_normal(shape)
    return x.astype(dtype)


def _host(t):
    return t.detach().resolve_conj().numpy() if torch is not None and isinstance(t, torch.Tensor) else t.detach().numpy()


REAL_ONLY = {"rfft", "rfft2", "rfftn", "ihfft", "ihfft2", "ihfftn"}
ONE_D = [(name, kw) for name in ("fft", "ifft", "rfft", "irfft", "hfft", "ihfft")
         for kw in ({}, {"n": 6}, {"n": 3}, {"norm": "ortho"}, {"norm": "forward"}, {"n": 7, "norm": "forward"},
                    {"dim": 0})]
N_D = [(name, kw) for name in ("fft2", "ifft2", "rfft2", "irfft2", "fftn", "ifftn", "rfftn", "irfftn", "hfft2",
                               "ihfft2", "hfftn", "ihfftn")
       for kw in ({}, {"s": (4, 6)}, {"s": (3, 3)}, {"norm": "ortho"}, {"norm": "forward"})]
N_D += [(name, kw) for name in ("fftn", "ifftn", "rfftn", "irfftn")
        for kw in ({"dim": (0, 2)}, {"s": (3,), "dim": (1,)}, {"s": (-1, 4)}, {"dim": 1})]
N_D += [(name, kw) for name in ("hfftn", "ihfftn") for kw in ({"dim": (0, 2)}, {"s": (-1, 4)})]


@requires_torch
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.complex64, np.complex128])
@pytest.mark.parametrize("fn, kwargs", ONE_D + N_D, ids=lambda v: str(v))
def test_transform_and_gradient_match_torch(fn, kwargs, dtype):
    if fn in REAL_ONLY and np.dtype(dtype).kind == "c":
        pytest.skip("a real-input transform")
    x0 = _data((4, 3) if kwargs.get("dim") == 0 else (2, 4, 5) if fn not in dict(ONE_D) else (2, 5), dtype)
    ex, tx = ember.tensor(x0, requires_grad=True), torch.tensor(x0, requires_grad=True)
    ey, ty = getattr(ember.fft, fn)(ex, **kwargs), getattr(torch.fft, fn)(tx, **kwargs)
    assert str(ey.dtype).split(".")[1] == str(ty.dtype).split(".")[1]
    assert tuple(ey.shape) == tuple(ty.shape)
    tol = 1e-4 if np.dtype(dtype) in (np.float32, np.complex64) else 1e-10
    np.testing.assert_allclose(ey.detach().numpy(), _host(ty), rtol=tol, atol=tol)
    w = rng.standard_normal(tuple(ty.shape) + (2,))
    if ty.is_complex():
        w = (w[..., 0] + 1j * w[..., 1]).astype(_host(ty).dtype)
        (ey * ember.tensor(w)).real.sum().backward()
        (ty * torch.tensor(w)).real.sum().backward()
    else:
        w = w[..., 0].astype(_host(ty).dtype)
        (ey * ember.tensor(w)).sum().backward()
        (ty * torch.tensor(w)).sum().backward()
    assert ex.grad.dtype is ex.dtype
    np.testing.assert_allclose(ex.grad.numpy(), _host(tx.grad), rtol=tol, atol=tol)


@requires_torch
def test_grad_fn_names_match_torch():
    x = ember.ones(4, requires_grad=True)
    tx = torch.ones(4, requires_grad=True)
    z, tz = ember.fft.fft(x), torch.fft.fft(tx)
    for e, t in ((z, tz), (ember.fft.rfft(x), torch.fft.rfft(tx)), (ember.fft.fft(z), torch.fft.fft(tz)),
                 (ember.fft.irfft(z), torch.fft.irfft(tz)), (ember.fft.hfft(z), torch.fft.hfft(tz)),
                 (ember.fft.ihfft(x), torch.fft.ihfft(tx)), (ember.fft.fftshift(x), torch.fft.fftshift(tx))):
        assert e.grad_fn.name() == t.grad_fn.name()


def test_single_precision_stays_single():
    x = ember.randn(8)
    assert ember.fft.fft(x).dtype is ember.complex64 and ember.fft.rfft(x).dtype is ember.complex64
    assert ember.fft.irfft(ember.fft.rfft(x)).dtype is ember.float32
    assert ember.fft.fft(x.double()).dtype is ember.complex128
    assert ember.fft.fft(ember.arange(4)).dtype is ember.complex64   # integers go through the default float
    np.testing.assert_allclose(ember.fft.irfft(ember.fft.rfft(x), n=8).numpy(), x.numpy(), atol=1e-6)


def _central(fn, x0, kwargs):
    """ember's gradient of a fixed real projection of fn(x) vs central differences (complex: dx + i dy)."""
    x = ember.tensor(x0, requires_grad=True)
    y = fn(x, **kwargs)
    w = np.random.default_rng(1).standard_normal(tuple(y.shape) + (2,))
    wc = w[..., 0] + 1j * w[..., 1] if y.is_complex() else w[..., 0]

    def loss(v):
        out = fn(ember.tensor(v), **kwargs).numpy()
        return float(np.real(np.sum(out * np.conj(wc)))) if np.iscomplexobj(out) else float(np.sum(out * wc))
    wt = ember.tensor(np.conj(wc)) if y.is_complex() else ember.tensor(wc)
    ((y * wt).real if y.is_complex() else y * wt).sum().backward()
    if np.iscomplexobj(x0):
        want = numeric_grad(lambda r: loss(r + 1j * x0.imag), x0.real) + 1j * numeric_grad(
            lambda i: loss(x0.real + 1j * i), x0.imag)
    else:
        want = numeric_grad(loss, x0)
    np.testing.assert_allclose(x.grad.numpy(), want, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("fn, kwargs, dtype", [
    ("fft", {}, np.complex128), ("fft", {"n": 7}, np.float64), ("ifft", {"norm": "ortho"}, np.complex128),
    ("rfft", {"n": 4}, np.float64), ("irfft", {}, np.complex128), ("irfft", {"n": 7}, np.complex128),
    ("hfft", {"norm": "forward"}, np.complex128), ("ihfft", {}, np.float64), ("fft2", {"s": (3, 6)}, np.complex128),
    ("rfftn", {}, np.float64), ("irfftn", {"s": (2, 5)}, np.complex128), ("hfft2", {}, np.complex128),
    ("hfftn", {"s": (2, 6), "norm": "ortho"}, np.complex128), ("ihfft2", {}, np.float64),
    ("ihfftn", {"norm": "forward"}, np.float64),
])
def test_gradients_match_central_differences(fn, kwargs, dtype):
    _central(getattr(ember.fft, fn), _data((3, 5), dtype), kwargs)


def test_freqs_and_shifts():
    np.testing.assert_allclose(ember.fft.fftfreq(5, d=0.5).numpy(), [0, 0.4, 0.8, -0.8, -0.4], rtol=1e-6)
    np.testing.assert_allclose(ember.fft.rfftfreq(5).numpy(), [0, 0.2, 0.4], rtol=1e-6)
    assert ember.fft.fftfreq(4, dtype=ember.float64).dtype is ember.float64
    assert ember.fft.fftshift(ember.arange(5)).tolist() == [3, 4, 0, 1, 2]
    assert ember.fft.ifftshift(ember.fft.fftshift(ember.arange(6))).tolist() == list(range(6))
    x = ember.arange(12).reshape(3, 4)
    assert ember.fft.fftshift(x, dim=1).tolist() == [[2, 3, 0, 1], [6, 7, 4, 5], [10, 11, 8, 9]]


@requires_torch
@pytest.mark.parametrize("n, d", [(4, 1.0), (5, 1.0), (7, 0.3), (10, 2.5)])
def test_freqs_match_torch_exactly(n, d):
    assert ember.fft.fftfreq(n, d).tolist() == torch.fft.fftfreq(n, d).tolist()
    assert ember.fft.rfftfreq(n, d).tolist() == torch.fft.rfftfreq(n, d).tolist()


@pytest.mark.parametrize("call, exc, match", [
    (lambda: ember.fft.fft(ember.ones(4), norm="bad"), RuntimeError, 'Invalid normalization mode: "bad"'),
    (lambda: ember.fft.rfft(ember.ones(4, dtype=ember.complex64)), RuntimeError,
     "rfft expects a real input tensor, but got ComplexFloat"),
    (lambda: ember.fft.ihfft(ember.ones(4, dtype=ember.complex64)), RuntimeError, "ihfft expects a real input"),
    (lambda: ember.fft.fft(ember.ones(4), n=0), RuntimeError, r"Invalid number of data points \(0\)"),
    (lambda: ember.fft.irfft(ember.ones(1, dtype=ember.complex64)), RuntimeError, "Invalid number of data points"),
    (lambda: ember.fft.fft(ember.ones(4), dim=3), IndexError, "Dimension out of range"),
    (lambda: ember.fft.fftn(ember.ones(4), s=(2, 3)), RuntimeError, "Got shape with 2 values"),
    (lambda: ember.fft.fft(ember.ones(4, dtype=ember.float16)), RuntimeError, "Unsupported dtype Half"),
])
def test_errors(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_reachable_as_attribute_and_module():
    import importlib
    assert ember.fft is importlib.import_module("ember.fft")
    assert callable(ember.fft.fft) and ember.fft.__name__ == "ember.fft"


def test_torch_fft_under_the_alias():
    import os
    import subprocess
    import sys
    code = ("import ember.compat as c; c.install()\n"
            "import torch.fft\n"
            "from torch.fft import rfft\n"
            "import torch\n"
            "print(repr(torch.fft.fft(torch.ones(2))), rfft(torch.ones(4)).dtype)\n")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env).stdout
    assert out.split("\n")[0] == "tensor([2.+0.j, 0.+0.j]) torch.complex64"


@requires_torch
@pytest.mark.parametrize("fn", ["ihfft2", "ihfftn"])
def test_ihfftn_rejects_complex_as_torch(fn):
    x = _data((2, 3), np.complex128)
    with pytest.raises(RuntimeError, match="Only supports floating-point dtypes, but found: ComplexDouble"):
        getattr(ember.fft, fn)(ember.tensor(x))
    with pytest.raises(RuntimeError, match="Only supports floating-point dtypes, but found: ComplexDouble"):
        getattr(torch.fft, fn)(torch.tensor(x))
