"""The standalone distributions beyond the first set (Binomial, Chi2, StudentT, FisherSnedecor,
Geometric, NegativeBinomial, Multinomial, ContinuousBernoulli, GeneralizedPareto, VonMises,
LowRankMultivariateNormal, MixtureSameFamily, LKJCholesky, Wishart) against torch.distributions:
values and gradients, KL rules, supports, reprs, expand, seeded samples (ember's generators draw
torch's numbers), validation errors; sample moments and float64 central differences without torch."""
import math
import warnings

import numpy as np
import pytest

import ember
import ember.distributions as D
from tests.conftest import numeric_grad, requires_torch, torch

RNG = np.random.default_rng(1)
LOC = RNG.normal(size=(3,))
SCALE = RNG.uniform(0.5, 2.0, size=(3,))
VAL = RNG.normal(size=(3,))
POS = RNG.uniform(0.5, 3.0, size=(3,))
POS2 = RNG.uniform(0.5, 3.0, size=(3,))
DF = np.array([0.8, 1.5, 5.0])          # StudentT: mean undefined, variance infinite, finite
DF1 = np.array([1.5, 3.0, 6.0])
DF2 = np.array([1.5, 3.0, 9.0])         # FisherSnedecor: mean / variance undefined where df2 <= 2 / 4
UNIT = RNG.uniform(0.05, 0.95, size=(3,))
CB_P = np.array([0.2, 0.4995, 0.8])     # one inside ContinuousBernoulli's Taylor region
PROBS = RNG.uniform(0.1, 1.0, size=(2, 4))
LOGITS = RNG.normal(size=(2, 4))
W = RNG.normal(size=(2, 4, 2))          # low-rank factors: batch 2, n = 4, rank 2
WD = RNG.uniform(0.5, 2.0, size=(2, 4))
W2 = RNG.normal(size=(4, 3))
WD2 = RNG.uniform(0.5, 2.0, size=(4,))
LOC4 = RNG.normal(size=(2, 4))
VAL4 = RNG.normal(size=(2, 4))
A = RNG.normal(size=(3, 3))
COV = A @ A.T + 3 * np.eye(3)
B = RNG.normal(size=(3, 3))
COV2 = B @ B.T + 2 * np.eye(3)
A4 = RNG.normal(size=(4, 4))
COV4 = A4 @ A4.T + 2 * np.eye(4)
WISH_VAL = COV2 / 3


def _corr_chol(seed):
    x = np.random.default_rng(seed).normal(size=(3, 3))
    s = x @ x.T + np.eye(3)
    c = s / np.sqrt(np.outer(np.diag(s), np.diag(s)))
    return np.linalg.cholesky(c)


LKJ_VAL = np.stack([_corr_chol(0), _corr_chol(1)])


def _t(lib, a):
    return lib.tensor(a, dtype=lib.int64 if np.asarray(a).dtype.kind == "i" else lib.float64)


def _params(lib, arrays):
    return [lib.tensor(a, dtype=lib.float64, requires_grad=True) for a in arrays]


def _Dn(lib):
    return lib.distributions


def _mixture(lib, logits, loc, scale):
    return _Dn(lib).MixtureSameFamily(_Dn(lib).Categorical(logits=logits), _Dn(lib).Normal(loc, scale))


def _mixture_mvn(lib, logits, loc):
    comp = _Dn(lib).Independent(_Dn(lib).Normal(loc, lib.ones_like(loc)), 1)
    return _Dn(lib).MixtureSameFamily(_Dn(lib).Categorical(logits=logits), comp)


# name -> (builder(lib, *params), parameter arrays, value (or None), methods)
CASES = {
    "binomial_probs": (lambda lib, p: _Dn(lib).Binomial(10, probs=p), [UNIT], np.array([0., 4., 10.]),
                       ["log_prob", "entropy", "mean", "mode", "variance"]),
    "binomial_logits": (lambda lib, l: _Dn(lib).Binomial(_t(lib, np.array([3., 7., 5.])), logits=l), [LOC],
                        np.array([1., 7., 0.]), ["log_prob", "mean", "mode", "variance"]),
    "chi2": (lambda lib, d: _Dn(lib).Chi2(d), [POS], UNIT * 3, ["log_prob", "entropy", "mean", "mode", "variance"]),
    # torch has no derivative of the cdf in df (igamma's input): df is held fixed
    "chi2_cdf": (lambda lib: _Dn(lib).Chi2(_t(lib, POS)), [], UNIT * 3, ["cdf"]),
    "studentt": (lambda lib, d, l, s: _Dn(lib).StudentT(d, l, s), [DF, LOC, SCALE], VAL,
                 ["log_prob", "entropy", "mean", "mode", "variance"]),
    "fisher": (lambda lib, a, b: _Dn(lib).FisherSnedecor(a, b), [DF1, DF2], UNIT * 2,
               ["log_prob", "mean", "mode", "variance"]),
    "geometric_probs": (lambda lib, p: _Dn(lib).Geometric(probs=p), [UNIT], np.array([0., 3., 1.]),
                        ["log_prob", "entropy", "mean", "mode", "variance"]),
    "geometric_logits": (lambda lib, l: _Dn(lib).Geometric(logits=l), [LOC], np.array([2., 0., 5.]),
                         ["log_prob", "entropy", "mean", "variance"]),
    "negbin_probs": (lambda lib, n, p: _Dn(lib).NegativeBinomial(n, probs=p), [POS, UNIT], np.array([0., 3., 8.]),
                     ["log_prob", "mean", "mode", "variance"]),
    "negbin_logits": (lambda lib, n, l: _Dn(lib).NegativeBinomial(n, logits=l), [POS2, LOC], np.array([4., 0., 1.]),
                      ["log_prob", "mean", "mode", "variance"]),
    "multinomial_probs": (lambda lib, p: _Dn(lib).Multinomial(6, probs=p), [PROBS],
                          np.array([[1., 2., 0., 3.], [0., 0., 6., 0.]]),
                          ["log_prob", "entropy", "mean", "variance"]),
    "multinomial_logits": (lambda lib, l: _Dn(lib).Multinomial(4, logits=l), [LOGITS],
                           np.array([[1., 1., 1., 1.], [4., 0., 0., 0.]]), ["log_prob", "entropy", "mean", "variance"]),
    "cb_probs": (lambda lib, p: _Dn(lib).ContinuousBernoulli(probs=p), [CB_P], UNIT,
                 ["log_prob", "entropy", "mean", "variance", "stddev", "cdf", "icdf"]),
    "cb_logits": (lambda lib, l: _Dn(lib).ContinuousBernoulli(logits=l), [LOC], UNIT,
                  ["log_prob", "entropy", "mean", "variance", "cdf", "icdf"]),
    "gpareto": (lambda lib, l, s, c: _Dn(lib).GeneralizedPareto(l, s, c), [LOC, SCALE, np.array([-0.2, 0.0, 0.3])],
                LOC + UNIT, ["entropy", "mean", "mode", "variance", "icdf"]),  # log_prob, cdf: float32 below
    "vonmises": (lambda lib, l, c: _Dn(lib).VonMises(l, c), [LOC, np.array([0.5, 3.0, 8.0])], VAL,
                 ["log_prob", "mean", "mode", "variance"]),
    "lowrank": (lambda lib, l, w, d: _Dn(lib).LowRankMultivariateNormal(l, w, d), [LOC4, W, WD], VAL4,
                ["log_prob", "entropy", "mean", "mode", "variance", "scale_tril", "covariance_matrix",
                 "precision_matrix"]),
    "lowrank_bcast": (lambda lib, l, w, d: _Dn(lib).LowRankMultivariateNormal(l, w, d), [LOC4, W2, WD2], VAL4,
                      ["log_prob", "entropy", "variance", "scale_tril", "precision_matrix"]),
    "mixture": (lambda lib, lg, l, s: _mixture(lib, lg, l, s), [LOGITS[:, :3], np.stack([LOC, VAL]),
                                                                np.stack([SCALE, POS])],
                np.array([0.3, -0.2]), ["log_prob", "mean", "variance", "cdf"]),
    "mixture_event": (lambda lib, lg, l: _mixture_mvn(lib, lg, l), [LOGITS[0, :3], np.stack([LOC, VAL, POS])],
                      VAL, ["log_prob", "mean", "variance"]),
    "lkj": (lambda lib, c: _Dn(lib).LKJCholesky(3, c), [np.array([0.5, 2.0])], LKJ_VAL, ["log_prob"]),
    "wishart_cov": (lambda lib, df, c: _Dn(lib).Wishart(df, covariance_matrix=c), [np.array(5.0), COV], WISH_VAL,
                    ["log_prob", "entropy", "mean", "mode", "variance"]),
    "wishart_tril": (lambda lib, df, c: _Dn(lib).Wishart(df, scale_tril=c), [np.array([3.5, 6.0]),
                                                                              np.linalg.cholesky(COV)],
                     WISH_VAL, ["log_prob", "entropy", "mean", "variance"]),
    "wishart_prec": (lambda lib, df, c: _Dn(lib).Wishart(df, precision_matrix=c), [np.array(4.0), COV2], WISH_VAL,
                     ["log_prob", "entropy", "mean", "precision_matrix", "covariance_matrix"]),
}
_ARG_METHODS = {"log_prob", "cdf", "icdf"}


def _evaluate(lib, case, method):
    build, arrays, value, _ = CASES[case]
    params = _params(lib, arrays)
    dist = build(lib, *params)
    if method in _ARG_METHODS:
        out = getattr(dist, method)(_t(lib, UNIT if method == "icdf" else value))
    elif method == "entropy":
        out = dist.entropy()
    else:
        out = getattr(dist, method)
    grads = [None] * len(params)
    if out.requires_grad:
        weights = lib.arange(1, out.numel() + 1, dtype=out.dtype).reshape(out.shape)
        (out * weights).nan_to_num(0.0, 0.0, 0.0).sum().backward()
        grads = [None if p.grad is None else p.grad.numpy() for p in params]
    return out.detach().numpy(), grads, tuple(dist.batch_shape), tuple(dist.event_shape)


@requires_torch
@pytest.mark.parametrize("case,method", [(c, m) for c, spec in CASES.items() for m in spec[3]])
def test_values_and_grads_match_torch(case, method):
    mine, my_grads, my_batch, my_event = _evaluate(ember, case, method)
    ref, ref_grads, ref_batch, ref_event = _evaluate(torch, case, method)
    assert (my_batch, my_event) == (ref_batch, ref_event)
    assert mine.shape == ref.shape and mine.dtype == ref.dtype
    np.testing.assert_allclose(mine, ref, rtol=1e-9, atol=1e-10)
    for g, r in zip(my_grads, ref_grads):
        assert (g is None) == (r is None)
        if r is not None:
            np.testing.assert_allclose(g, r, rtol=1e-8, atol=1e-10)


@requires_torch
@pytest.mark.parametrize("method", ["log_prob", "cdf", "log_cdf", "log_survival_function"])
def test_generalized_pareto_float32_matches_torch(method):
    """torch's GeneralizedPareto.log_prob / cdf compare concentration with a float32 zero and fail on
    float64 parameters; ember takes both, so the two agree in float32 only."""
    res = []
    conc = np.array([-0.2, 0.0, 0.3])
    for lib in (ember, torch):
        params = [lib.tensor(a, dtype=lib.float32, requires_grad=True) for a in (LOC, SCALE, conc)]
        d = lib.distributions.GeneralizedPareto(*params)
        out = getattr(d, method)(lib.tensor(LOC + UNIT, dtype=lib.float32))
        out.sum().backward()
        res.append([out.detach().numpy()] + [p.grad.numpy() for p in params])
    for a, b in zip(*res):
        np.testing.assert_allclose(a, b, rtol=2e-5, atol=1e-6)
