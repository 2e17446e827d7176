"""torch.stft / torch.istft: values, shapes, errors and warnings against real torch, gradients against
torch and float64 central differences (real and complex inputs, and the window)."""
import warnings

import numpy as np
import pytest

import ember
from ember.ops import spectral
from tests.conftest import numeric_grad, requires_torch, torch

rng = np.random.default_rng(0)


def _signal(shape, complex_=False):
    x = rng.standard_normal(shape)
    return x + 1j * rng.standard_normal(shape) if complex_ else x


def _hann(n):
    return 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n) / n)   # torch.hann_window(n) (periodic)


STFT_CASES = [
    dict(n_fft=16),
    dict(n_fft=16, hop_length=5, normalized=True),
    dict(n_fft=16, win_length=10),
    dict(n_fft=15, hop_length=3),
    dict(n_fft=16, onesided=False),
    dict(n_fft=16, center=False),
    dict(n_fft=16, win_length=10, center=False, align_to_window=True),
    dict(n_fft=16, pad_mode="constant"),
    dict(n_fft=16, pad_mode="replicate", hop_length=7),
]


def _both(kw, shape, complex_=False, window=True):
    x = _signal(shape, complex_)
    w = _hann(kw.get("win_length") or kw["n_fft"]) if window else None
    return x, w


@requires_torch
@pytest.mark.parametrize("shape", [(100,), (3, 64)])
@pytest.mark.parametrize("kw", STFT_CASES, ids=str)
def test_stft_and_gradients_match_torch(kw, shape):
    x, w = _both(kw, shape)
    ex, tx = ember.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    ew, tw = ember.tensor(w, requires_grad=True), torch.tensor(w, requires_grad=True)
    ey = ember.stft(ex, window=ew, return_complex=True, **kw)
    ty = torch.stft(tx, window=tw, return_complex=True, **kw)
    assert tuple(ey.shape) == tuple(ty.shape) and ey.dtype is ember.complex128
    np.testing.assert_allclose(ey.detach().numpy(), ty.detach().numpy(), atol=1e-10)
    g = rng.standard_normal(tuple(ty.shape)) + 1j * rng.standard_normal(tuple(ty.shape))
    (ey * ember.tensor(g)).real.sum().backward()
    (ty * torch.tensor(g)).real.sum().backward()
    np.testing.assert_allclose(ex.grad.numpy(), tx.grad.numpy(), atol=1e-9)
    np.testing.assert_allclose(ew.grad.numpy(), tw.grad.numpy(), atol=1e-9)


@requires_torch
def test_method_form_complex_input_and_real_view():
    x = _signal((2, 80), complex_=True)
    w = _hann(16)
    e = ember.tensor(x).stft(16, window=ember.tensor(w))          # complex input: return_complex defaults True
    t = torch.tensor(x).stft(16, window=torch.tensor(w))
    assert tuple(e.shape) == tuple(t.shape) == (2, 16, 21)
    np.testing.assert_allclose(e.numpy(), t.numpy(), atol=1e-10)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        er = ember.stft(ember.tensor(x.real), 16, window=ember.tensor(w), return_complex=False)
        tr = torch.stft(torch.tensor(x.real), 16, window=torch.tensor(w), return_complex=False)
    assert tuple(er.shape) == tuple(tr.shape) and er.dtype is ember.float64
    np.testing.assert_allclose(er.numpy(), tr.numpy(), atol=1e-10)
    f32 = ember.stft(ember.tensor(x.real.astype(np.float32)), 16, window=ember.hann_window(16), return_complex=True)
    assert f32.dtype is ember.complex64


ISTFT_CASES = [
    (dict(n_fft=16), {}),
    (dict(n_fft=16, hop_length=5, normalized=True), {}),
    (dict(n_fft=16, win_length=10), {}),
    (dict(n_fft=15, hop_length=4), dict(length=90)),
    (dict(n_fft=16), dict(length=120)),
    (dict(n_fft=16, onesided=False), {}),
]


@requires_torch
@pytest.mark.parametrize("kw, extra", ISTFT_CASES, ids=str)
def test_istft_inverts_and_matches_torch(kw, extra):
    x, w = _both(kw, (2, 100))
    spec = torch.stft(torch.tensor(x), window=torch.tensor(w), return_complex=True, **kw)
    ikw = {k: v for k, v in kw.items() if k != "pad_mode"}
    ikw.update(extra)
    es = ember.tensor(spec.numpy(), requires_grad=True)
    ts = spec.clone().requires_grad_(True)
    ew, tw = ember.tensor(w, requires_grad=True), torch.tensor(w, requires_grad=True)
    ey = ember.istft(es, window=ew, **ikw)
    ty = torch.istft(ts, window=tw, **ikw)
    assert tuple(ey.shape) == tuple(ty.shape)
    np.testing.assert_allclose(ey.detach().numpy(), ty.detach().numpy(), atol=1e-10)
    if "length" not in extra:
        np.testing.assert_allclose(ey.detach().numpy(), x, atol=1e-10)   # the round trip
    g = rng.standard_normal(tuple(ty.shape))
    (ey * ember.tensor(g)).sum().backward()
    (ty * torch.tensor(g)).sum().backward()
    np.testing.assert_allclose(es.grad.numpy(), ts.grad.numpy(), atol=1e-9)
    np.testing.assert_allclose(ew.grad.numpy(), tw.grad.numpy(), atol=1e-9)


@requires_torch
def test_istft_complex_output_matches_torch():
    x = _signal((1, 64), complex_=True)
    spec = torch.stft(torch.tensor(x), 16, window=torch.hann_window(16, dtype=torch.float64), return_complex=True)
    ey = ember.istft(ember.tensor(spec.numpy()), 16, window=ember.hann_window(16, dtype=ember.float64),
                     return_complex=True)
    ty = torch.istft(spec, 16, window=torch.hann_window(16, dtype=torch.float64), return_complex=True)
    assert ey.is_complex() and tuple(ey.shape) == tuple(ty.shape)
    np.testing.assert_allclose(ey.numpy(), ty.numpy(), atol=1e-10)
    np.testing.assert_allclose(ey.numpy(), x, atol=1e-10)


def test_gradients_match_central_differences():
    x0, w0 = _signal(40), _hann(8)
    proj = rng.standard_normal((5, 21)) + 1j * rng.standard_normal((5, 21))

    def f_x(v):
        return float(np.real(np.sum(ember.stft(ember.tensor(v), 8, window=ember.tensor(w0),
                                               return_complex=True).numpy() * proj)))

    def f_w(v):
        return float(np.real(np.sum(ember.stft(ember.tensor(x0), 8, window=ember.tensor(v),
                                               return_complex=True).numpy() * proj)))
    x, w = ember.tensor(x0, requires_grad=True), ember.tensor(w0, requires_grad=True)
    (ember.stft(x, 8, window=w, return_complex=True) * ember.tensor(proj)).real.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), numeric_grad(f_x, x0), atol=1e-6)
    np.testing.assert_allclose(w.grad.numpy(), numeric_grad(f_w, w0), atol=1e-6)

    spec0 = ember.stft(ember.tensor(x0), 8, window=ember.tensor(w0), return_complex=True).numpy()
    out_w = rng.standard_normal(40)

    def g_re(v):
        return float(np.sum(ember.istft(ember.tensor(v + 1j * spec0.imag), 8, window=ember.tensor(w0)).numpy()
                            * out_w))
    s = ember.tensor(spec0, requires_grad=True)
    (ember.istft(s, 8, window=ember.tensor(w0)) * ember.tensor(out_w)).sum().backward()
    # d/d(real part) of a real loss: the real part of the complex gradient (torch's convention)
    np.testing.assert_allclose(s.grad.numpy().real, numeric_grad(g_re, np.ascontiguousarray(spec0.real)), atol=1e-6)


@requires_torch
def test_errors_match_torch():
    x = ember.randn(100)
    cases = [
        (lambda m, t: m.stft(t(np.random.randn(100)), 16), "stft requires the return_complex parameter"),
        (lambda m, t: m.istft(t(np.random.randn(9, 5)), 16), "istft requires a complex-valued input"),
        (lambda m, t: m.stft(t(np.random.randn(2, 2, 100)), 16, return_complex=True), "expected a 1D or 2D"),
        (lambda m, t: m.stft(t(np.random.randn(100) + 0j), 16, onesided=True, return_complex=True),
         "Cannot have onesided output if window or input is complex"),
        (lambda m, t: m.stft(t(np.random.randn(10)), 16, center=False, return_complex=True),
         "expected 0 < n_fft < 10"),
        (lambda m, t: m.istft(t(np.zeros((9, 5), complex)), 16, window=t(np.zeros(16))), "window overlap add min"),
        (lambda m, t: m.stft(t(np.random.randn(100)), 16, align_to_window=True, return_complex=True),
         "align_to_window should only be set when center = false"),
    ]
    for call, text in cases:
        with pytest.raises(RuntimeError, match=text):
            call(torch, torch.tensor)
        with pytest.raises(RuntimeError, match=text):
            call(ember, ember.tensor)
    assert x is not None


def test_warnings_given_once_as_torch():
    spectral._warned.clear()
    with warnings.catch_warnings(record=True) as got:
        warnings.simplefilter("always")
        ember.stft(ember.randn(64), 16, return_complex=False)
        ember.stft(ember.randn(64), 16, return_complex=False)
    messages = [str(w.message) for w in got]
    assert sum("return_complex=False is deprecated" in m for m in messages) == 1
    assert sum("A window was not provided" in m for m in messages) == 1
    assert all(w.category is UserWarning for w in got)
