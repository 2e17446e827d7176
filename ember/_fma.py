"""Fused multiply-add (a * x + y rounded once) on NumPy arrays.

torch's CPU kernels are compiled with FMA contraction: its range kernels compute `start + step * i`
and its random-number transforms `u * (to - from) + from` as one fused operation, and printed
tensors show the last bit (torch.arange(-1, 1, 0.2) holds 5.5511e-17, not 0).  NumPy has no fma,
so these emulate it with error-free transformations (Veltkamp/Dekker's product, Knuth's sum) and
Boldo and Melquiond's rounding to odd.
"""
import numpy as np

_SPLIT = 134217729.0  # 2**27 + 1, Veltkamp's splitter for float64


def _two_sum(a, b):
    s = a + b
    bb = s - a
    return s, (a - (s - bb)) + (b - bb)


def _two_prod(a, b):
    p = a * b
    t = _SPLIT * a
    ah = t - (t - a)
    t = _SPLIT * b
    bh = t - (t - b)
    al, bl = a - ah, b - bh
    return p, ((ah * bh - p) + ah * bl + al * bh) + al * bl


def _round_odd(s, err):
    """s = RN(s + err) moved to its odd neighbour when the sum was inexact."""
    fix = (err != 0) & ((s.view(np.int64) & 1) == 0)
    return np.where(fix, np.nextafter(s, np.where(err > 0, np.inf, -np.inf)), s)


def fma64(a, x, y):
    """a * x + y rounded once to float64."""
    a, x, y = (np.asarray(v, np.float64) for v in (a, x, y))
    with np.errstate(all="ignore"):
        uh, ul = _two_prod(a, x)
        th, tl = _two_sum(y, ul)
        vh, vl = _two_sum(uh, th)
        out = vh + _round_odd(*_two_sum(tl, vl))
        # near overflow the splitting itself overflows, and an exact zero loses its sign (-0. + 0.):
        # in both cases the plain expression gives fma's answer
        bad = ~np.isfinite(out) | (out == 0)
        if bad.any():
            out = np.where(bad, a * x + y, out)
        return out


def fma32(a, x, y):
    """fmaf, correctly rounded: the product of two floats is exact in float64, and the sum rounded
    to odd in float64 then rounds to float32 exactly once."""
    with np.errstate(all="ignore"):
        p = np.asarray(a, np.float64) * np.asarray(x, np.float64)
        y = np.asarray(y, np.float64)
        out = _round_odd(*_two_sum(p, y))
        bad = ~np.isfinite(out)
        if bad.any():
            out = np.where(bad, p + y, out)
        return out.astype(np.float32)


def fma32_via_double(a, x, y):
    """fmaf computed as float64 a * x + y rounded to float32: a tenth of fma32's cost, and equal to
    it except where the float64 sum lands exactly on a float32 rounding midpoint (double rounding;
    none in 10^6 random draws).  For the hot random-number paths."""
    return (np.asarray(a, np.float64) * np.float64(x) + np.asarray(y, np.float64)).astype(np.float32)
