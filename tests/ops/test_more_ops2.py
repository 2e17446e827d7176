"""The second batch of torch functions: elementwise math (sgn ... float_power, lgamma/digamma), reductions
(aminmax ... corrcoef), shape and indexing ops (ravel ... as_strided) and small helpers (can_cast ...):
values, dtypes, printing, node names and errors against torch; gradients against float64 central
differences (and torch)."""
import numpy as np
import pytest

import ember
from tests.conftest import requires_torch, torch
from tests.ops.test_more_ops import _gradcheck, _grads_vs_torch, both

RNG = np.random.default_rng(11)
X = RNG.standard_normal((3, 4)).astype(np.float32)
P = RNG.uniform(0.05, 0.95, (3, 4)).astype(np.float32)
Y = RNG.standard_normal((3, 4)).astype(np.float32)
NAN = float("nan")
XN = np.array([[1.0, NAN, 3, -2], [NAN, NAN, NAN, NAN], [0.5, 2, 2, 7]], dtype=np.float32)
IMG = RNG.standard_normal((2, 3, 4)).astype(np.float32)


def T(M, a, **kw):
    return M.tensor(a, **kw)


FORWARD = {
    # elementwise
    "sgn": lambda M: (T(M, X).sgn(), M.sgn(T(M, [-2, 0, 3])), M.sgn(T(M, [True, False]))),
    "exp2": lambda M: (M.exp2(T(M, X)), T(M, [1, 3]).exp2(), M.exp2(T(M, [1.0, 2], dtype=M.float64))),
    "erfc": lambda M: (M.erfc(T(M, X * 3)), T(M, [-30.0, -7, 0, 1, 2.5, 6.5, 12, 26, 40], dtype=M.float64).erfc(),
                       M.erfc(T(M, [0, 1]))),
    "erfinv": lambda M: (M.erfinv(T(M, P * 2 - 1)), T(M, [-1.0, -0.999999, 0, 0.3, 0.999999, 1, 1.5],
                                                     dtype=M.float64).erfinv()),
    "logit": lambda M: (M.logit(T(M, P)), T(M, [0.0, 0.05, 0.5, 1, 1.2]).logit(eps=0.1), M.logit(T(M, [0, 1]))),
    "sinc": lambda M: (M.sinc(T(M, X)), T(M, [0.0, 1, -2.5, 1e-9], dtype=M.float64).sinc(), M.sinc(T(M, [0, 2]))),
    "deg_rad": lambda M: (M.deg2rad(T(M, X * 100)), T(M, X).rad2deg(), M.deg2rad(T(M, [180, 90])),
                          M.rad2deg(T(M, [1.0], dtype=M.float64))),
    "fix_positive": lambda M: (M.fix(T(M, X * 3)), T(M, [-2, 3]).fix(), M.positive(T(M, X)), T(M, [1, 2]).positive()),
    "predicates": lambda M: (M.signbit(T(M, [-0.0, 0.0, -1, 2, float("-inf")])), T(M, [-1, 0, 2]).signbit(),
                             M.isposinf(T(M, [float("inf"), -float("inf"), 1])), T(M, [1, 2]).isneginf(),
                             M.isneginf(T(M, [float("inf"), -float("inf"), NAN])), M.signbit(T(M, [True]))),
    "xlogy": lambda M: (M.xlogy(T(M, [0.0, 0, 1, 2]), T(M, [0.0, NAN, 2, 3])), M.xlogy(T(M, P), 2.5),
                        M.xlogy(2, T(M, P)), T(M, [0, 1]).xlogy(T(M, [0, 3])), M.xlogy(T(M, X), T(M, P[0]))),
    "hypot": lambda M: (M.hypot(T(M, X), T(M, Y)), T(M, X).hypot(T(M, Y[0], dtype=M.float64))),
    "logaddexp": lambda M: (M.logaddexp(T(M, X), T(M, Y)), T(M, [-1e4, 1e4, -float("inf")]).logaddexp(
        T(M, [-1e4, 0, -float("inf")])), M.logaddexp2(T(M, X), T(M, Y))),
    "fmax_fmin": lambda M: (M.fmax(T(M, [1.0, NAN, NAN, 2]), T(M, [NAN, 3, NAN, 1])), M.fmin(T(M, X), T(M, Y)),
                            T(M, [1, 5]).fmax(T(M, [2.5, 1])), M.fmin(T(M, [1, 5]), T(M, [2, 1]))),
    "heaviside": lambda M: (M.heaviside(T(M, [-1.0, 0, 2]), T(M, [0.5])), T(M, [-1, 0, 3]).heaviside(T(M, [7, 8, 9]))),
    "float_power": lambda M: (M.float_power(T(M, [1, 2, 3]), 2), M.float_power(T(M, P), T(M, X)),
                              M.float_power(2, T(M, [1, 2])), T(M, P).float_power(0.5)),
    "lgamma_digamma": lambda M: (M.lgamma(T(M, X * 3)), T(M, [-2.5, 0.5, 1, 2, 7.25, 100], dtype=M.float64).lgamma(),
                                 M.digamma(T(M, X * 3)), T(M, [-2.5, 0.001, 1, 3.5, 60], dtype=M.float64).digamma(),
                                 M.lgamma(T(M, [1, 4]))),
    # reductions
    "aminmax": lambda M: (M.aminmax(T(M, X)), T(M, X).aminmax(dim=0), M.aminmax(T(M, X), dim=-1, keepdim=True),
                          M.aminmax(T(M, [[1, 5], [3, 0]]), dim=1), M.aminmax(T(M, X), keepdim=True)),
    "cummax_cummin": lambda M: (M.cummax(T(M, X), 1), T(M, [1.0, 3, 3, 2, NAN, 5]).cummax(0),
                                M.cummin(T(M, [[4, 2, 2, 5], [1, 1, 0, 3]]), dim=1), T(M, X).cummin(0),
                                M.cummax(T(M, 2.0), 0), M.cummax(T(M, [True, False, True]), 0)),
    "logcumsumexp": lambda M: (M.logcumsumexp(T(M, X), 1), T(M, [-1e3, 0, 1e3, -float("inf")]).logcumsumexp(0)),
    "kthvalue": lambda M: (M.kthvalue(T(M, X), 2), T(M, X).kthvalue(3, 0, True), M.kthvalue(T(M, [5, 1, 4]), 1)),
    "mode": lambda M: (M.mode(T(M, [[1.0, 2, 2, 3, 3, 1], [5, 5, 4, 4, 0, 0]])), T(M, [3, 1, 1, 3, 2]).mode(),
                       M.mode(T(M, [[1, 2], [1, 3], [2, 3]]), 0, keepdim=True), M.mode(T(M, 3.0))),
    "nanmean": lambda M: (M.nanmean(T(M, XN)), T(M, XN).nanmean(1), M.nanmean(T(M, XN), 0, keepdim=True)),
    "nanmedian": lambda M: (M.nanmedian(T(M, XN)), T(M, XN[[0, 2]]).nanmedian(1), M.nanmedian(T(M, X), 0),
                            M.nanmedian(T(M, [3, 1, 2]))),
    "quantile": lambda M: (M.quantile(T(M, X), 0.3), T(M, X).quantile(T(M, [0.25, 0.5, 1.0]), dim=1),
                           M.quantile(T(M, X), T(M, [0.1, 0.9]), dim=0, keepdim=True),
                           M.quantile(T(M, [[1.0, 2, 3, 4], [1, NAN, 3, 5]]), 0.5, dim=1),
                           M.quantile(T(M, X), 0.5, keepdim=True)),
    "quantile_modes": lambda M: tuple(M.quantile(T(M, X), T(M, [0.1, 0.45, 0.5]), dim=1, interpolation=m)
                                      for m in ("lower", "higher", "midpoint", "nearest")),
    "nanquantile": lambda M: (M.nanquantile(T(M, XN), 0.4, dim=1, interpolation="nearest"),
                              T(M, XN).nanquantile(T(M, [0.2, 0.7]), dim=1), M.nanquantile(T(M, XN), 0.5)),
    "msort_histc": lambda M: (M.msort(T(M, [[3, 1], [0, 2]])), T(M, X).msort(), M.histc(T(M, [1.0, 2, 1, 4]), 4),
                              T(M, [1.0, 1]).histc(3), M.histc(T(M, [1.0, 2, 1, 4, 5, -1]), 4, min=1, max=4),
                              M.histc(T(M, X, dtype=M.float64), bins=7)),
    "cov_corrcoef": lambda M: (M.cov(T(M, X)), T(M, [1.0, 2, 4]).cov(), M.cov(T(M, [[1, 2, 4], [1, 0, 0]])),
                               M.cov(T(M, X), correction=0), M.cov(T(M, X), fweights=T(M, [1, 2, 0, 1]),
                                                                   aweights=T(M, [0.5, 1, 1, 2])),
                               M.corrcoef(T(M, X)), T(M, [1.0, 2, 4]).corrcoef(),
                               M.corrcoef(T(M, [[1, 2, 4], [1, 0, 0]]))),
}


@requires_torch
@pytest.mark.parametrize("name", list(FORWARD))
def test_forward_matches_torch(name):
    both(FORWARD[name])
