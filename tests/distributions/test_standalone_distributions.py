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


# ---- KL divergence: torch's rules for these families ------------------------------------------
def _lr(lib, loc, w, d):
    return _Dn(lib).LowRankMultivariateNormal(loc, w, d)


KL_CASES = {
    "binomial": (lambda lib, a, b: (_Dn(lib).Binomial(_t(lib, np.array([5., 7., 9.])), probs=a),
                                    _Dn(lib).Binomial(_t(lib, np.array([5., 6., 9.])), logits=b)), [UNIT, LOC]),
    "cb_cb": (lambda lib, a, b: (_Dn(lib).ContinuousBernoulli(probs=a), _Dn(lib).ContinuousBernoulli(logits=b)),
              [CB_P, LOC]),
    "geometric": (lambda lib, a, b: (_Dn(lib).Geometric(probs=a), _Dn(lib).Geometric(logits=b)), [UNIT, LOC]),
    "chi2_chi2": (lambda lib, a, b: (_Dn(lib).Chi2(a), _Dn(lib).Chi2(b)), [POS, POS2]),
    "chi2_gamma": (lambda lib, a, b, c: (_Dn(lib).Chi2(a), _Dn(lib).Gamma(b, c)), [POS, POS2, POS]),
    "lowrank_lowrank": (lambda lib, a, b, c, d, e, f: (_lr(lib, a, b, c), _lr(lib, d, e, f)),
                        [LOC4, W, WD, VAL4, W2, WD2]),
    "mvn_lowrank": (lambda lib, a, b, c, d, e: (_Dn(lib).MultivariateNormal(a, covariance_matrix=b),
                                                _lr(lib, c, d, e)), [LOC4, COV4, VAL4, W, WD]),
    "lowrank_mvn": (lambda lib, a, b, c, d, e: (_lr(lib, a, b, c),
                                                _Dn(lib).MultivariateNormal(d, covariance_matrix=e)),
                    [LOC4, W, WD, VAL4, COV4]),
    "beta_cb": (lambda lib, a, b, c: (_Dn(lib).Beta(a, b), _Dn(lib).ContinuousBernoulli(c)), [POS, POS2, CB_P]),
    "cb_exponential": (lambda lib, a, b: (_Dn(lib).ContinuousBernoulli(a), _Dn(lib).Exponential(b)), [CB_P, POS]),
    "cb_normal": (lambda lib, a, b, c: (_Dn(lib).ContinuousBernoulli(a), _Dn(lib).Normal(b, c)), [CB_P, LOC, SCALE]),
    "cb_uniform": (lambda lib, a, b, c: (_Dn(lib).ContinuousBernoulli(a), _Dn(lib).Uniform(b, c)),
                   [CB_P, np.array([-0.5, 0.1, -1.0]), np.array([1.5, 2.0, 0.9])]),
    "uniform_cb": (lambda lib, a, b, c: (_Dn(lib).Uniform(a, b), _Dn(lib).ContinuousBernoulli(c)),
                   [np.array([0.1, 0.0, 0.2]), np.array([0.9, 0.5, 1.0]), CB_P]),
}


@requires_torch
@pytest.mark.parametrize("case", list(KL_CASES))
def test_kl_matches_torch(case):
    build, arrays = KL_CASES[case]
    results = []
    for lib in (ember, torch):
        params = _params(lib, arrays)
        kl = lib.distributions.kl_divergence(*build(lib, *params))
        kl.nan_to_num(0.0, 0.0, 0.0).sum().backward()   # infinite entries carry no gradient
        results.append((kl.detach().numpy(), [p.grad.numpy() for p in params]))
    (mine, my_grads), (ref, ref_grads) = results
    np.testing.assert_allclose(mine, ref, rtol=1e-9, atol=1e-10)
    for g, r in zip(my_grads, ref_grads):
        np.testing.assert_allclose(g, r, rtol=1e-8, atol=1e-9)   # polygamma terms cancel to ~1e-10


@requires_torch
@pytest.mark.parametrize("pair", [("Exponential", "ContinuousBernoulli"), ("Gamma", "ContinuousBernoulli"),
                                  ("Laplace", "ContinuousBernoulli"), ("Normal", "ContinuousBernoulli"),
                                  ("Poisson", "Binomial")])
def test_kl_infinite_pairs(pair):
    args = {"Exponential": (POS,), "Gamma": (POS, POS2), "Laplace": (LOC, SCALE), "Normal": (LOC, SCALE),
            "Poisson": (POS,), "ContinuousBernoulli": (UNIT,)}
    res = []
    for lib in (ember, torch):
        dists = []
        for n in pair:
            if n == "Binomial":
                dists.append(lib.distributions.Binomial(4, lib.tensor(UNIT)))
            else:
                dists.append(getattr(lib.distributions, n)(*[lib.tensor(a) for a in args[n]]))
        res.append(lib.distributions.kl_divergence(*dists))
    assert tuple(res[0].shape) == tuple(res[1].shape) and np.isinf(res[0].numpy()).all()
    assert str(res[0].dtype).split(".")[-1] == str(res[1].dtype).split(".")[-1]


@requires_torch
def test_kl_wishart_by_bregman_divergence_matches_torch():
    """Wishart pairs go through torch's ExponentialFamily rule; p's natural parameters are detached
    there, so only q's parameters get gradients."""
    res = []
    for lib in (ember, torch):
        df_p, df_q = (lib.tensor(a, dtype=lib.float64, requires_grad=True) for a in ([4.0, 6.5], [5.0, 3.5]))
        cp, cq = (lib.tensor(c, requires_grad=True) for c in (COV, COV2))
        kl = lib.distributions.kl_divergence(lib.distributions.Wishart(df_p, covariance_matrix=cp),
                                             lib.distributions.Wishart(df_q, scale_tril=lib.linalg.cholesky(cq)))
        kl.sum().backward()
        res.append((kl.detach().numpy(), df_p.grad, cp.grad, df_q.grad.numpy(), cq.grad.numpy()))
    (mine, *my_grads), (ref, *ref_grads) = res
    np.testing.assert_allclose(mine, ref, rtol=1e-9)
    assert my_grads[0] is None and ref_grads[0] is None and my_grads[1] is None and ref_grads[1] is None
    for g, r in zip(my_grads[2:], ref_grads[2:]):
        np.testing.assert_allclose(g, r, rtol=1e-8, atol=1e-10)


@requires_torch
def test_kl_errors_match_torch():
    cases = [
        lambda lib: lib.distributions.kl_divergence(lib.distributions.Binomial(3, lib.tensor([0.5])),
                                                    lib.distributions.Binomial(5, lib.tensor([0.5]))),
        lambda lib: lib.distributions.kl_divergence(
            lib.distributions.LowRankMultivariateNormal(lib.zeros(3), lib.ones(3, 1), lib.ones(3)),
            lib.distributions.LowRankMultivariateNormal(lib.zeros(2), lib.ones(2, 1), lib.ones(2))),
        lambda lib: lib.distributions.kl_divergence(lib.distributions.StudentT(2.0),
                                                    lib.distributions.Normal(0.0, 1.0)),
        lambda lib: lib.distributions.kl_divergence(lib.distributions.Normal(0.0, 1.0),
                                                    lib.distributions.Bernoulli(0.5)),
        lambda lib: lib.distributions.kl_divergence(lib.distributions.Wishart(4.0, lib.eye(2)),
                                                    lib.distributions.Gamma(1.0, 1.0)),
    ]
    for case in cases:
        with pytest.raises(Exception) as ref:
            case(torch)
        with pytest.raises(Exception) as mine:
            case(ember)
        assert type(mine.value) is type(ref.value)
        assert " ".join(str(mine.value).split()) == " ".join(str(ref.value).split())


# ---- seeded samples: ember's generators draw torch's numbers ----------------------------------
def _f(lib, a, dtype):
    return lib.tensor(np.asarray(a), dtype=getattr(lib, dtype))


SAMPLE_CASES = {
    "binomial": lambda lib, dt: _Dn(lib).Binomial(_f(lib, [3., 10., 100., 1000.], dt),
                                                  _f(lib, [0.3, 0.5, 0.05, 0.7], dt)),
    "binomial_logits": lambda lib, dt: _Dn(lib).Binomial(20, logits=_f(lib, [-1.0, 0.0, 2.0], dt)),
    "chi2": lambda lib, dt: _Dn(lib).Chi2(_f(lib, [0.5, 2.0, 9.0], dt)),
    "studentt": lambda lib, dt: _Dn(lib).StudentT(_f(lib, [0.8, 3.0, 30.0], dt), _f(lib, [0.0, 1.0, -1.0], dt), 2.0),
    "fisher": lambda lib, dt: _Dn(lib).FisherSnedecor(_f(lib, [1.0, 4.0, 10.0], dt), _f(lib, [2.0, 5.0, 30.0], dt)),
    "geometric": lambda lib, dt: _Dn(lib).Geometric(_f(lib, [0.05, 0.5, 1.0], dt)),
    "negbin": lambda lib, dt: _Dn(lib).NegativeBinomial(_f(lib, [1.0, 4.5, 20.0], dt), _f(lib, [0.2, 0.5, 0.9], dt)),
    "multinomial": lambda lib, dt: _Dn(lib).Multinomial(12, _f(lib, [[0.1, 0.2, 0.7], [0.5, 0.25, 0.25]], dt)),
    "cb": lambda lib, dt: _Dn(lib).ContinuousBernoulli(_f(lib, [0.1, 0.4999, 0.9], dt)),
    "gpareto": lambda lib, dt: _Dn(lib).GeneralizedPareto(_f(lib, [0.0, 1.0, -1.0], dt), _f(lib, [1.0, 2.0, 0.5], dt),
                                                          _f(lib, [-0.3, 0.0, 0.4], dt)),
    "vonmises": lambda lib, dt: _Dn(lib).VonMises(_f(lib, [0.0, 2.0, -3.0], dt), _f(lib, [1e-6, 1.0, 20.0], dt)),
    "lowrank": lambda lib, dt: _Dn(lib).LowRankMultivariateNormal(_f(lib, LOC4, dt), _f(lib, W, dt), _f(lib, WD, dt)),
    "mixture": lambda lib, dt: _mixture(lib, _f(lib, LOGITS[:, :3], dt), _f(lib, np.stack([LOC, VAL]), dt),
                                        _f(lib, np.stack([SCALE, POS]), dt)),
    "mixture_event": lambda lib, dt: _mixture_mvn(lib, _f(lib, LOGITS[0, :3], dt),
                                                  _f(lib, np.stack([LOC, VAL, POS]), dt)),
    "lkj": lambda lib, dt: _Dn(lib).LKJCholesky(4, _f(lib, [0.5, 1.0, 3.0], dt)),
}


@requires_torch
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", list(SAMPLE_CASES))
def test_seeded_samples_match_torch(name, dtype):
    out = []
    for lib in (ember, torch):
        d = SAMPLE_CASES[name](lib, dtype)
        lib.manual_seed(0)
        s = d.sample((50,))
        out.append((s.numpy(), str(s.dtype).split(".")[-1], tuple(d.sample().shape)))
    (mine, my_dtype, my_shape), (ref, ref_dtype, ref_shape) = out
    assert (my_dtype, my_shape, mine.shape) == (ref_dtype, ref_shape, ref.shape)
    # float32: LKJ's diagonal sqrt(1 - |row|^2) cancels, so allow a few ulps of 1 absolutely
    np.testing.assert_allclose(mine, ref, rtol=1e-5 if dtype == "float32" else 1e-12,
                               atol=1e-5 if dtype == "float32" else 1e-12)


RSAMPLE_CASES = {
    "chi2": (lambda lib, d: _Dn(lib).Chi2(d), [np.array([0.5, 2.0, 9.0])]),
    "studentt": (lambda lib, d, l, s: _Dn(lib).StudentT(d, l, s), [DF, LOC, SCALE]),
    "fisher": (lambda lib, a, b: _Dn(lib).FisherSnedecor(a, b), [DF1, DF2]),
    "cb": (lambda lib, p: _Dn(lib).ContinuousBernoulli(p), [CB_P]),
    "cb_logits": (lambda lib, l: _Dn(lib).ContinuousBernoulli(logits=l), [LOC]),
    "gpareto": (lambda lib, l, s, c: _Dn(lib).GeneralizedPareto(l, s, c), [LOC, SCALE, np.array([-0.3, 0.0, 0.4])]),
    "lowrank": (lambda lib, l, w, d: _Dn(lib).LowRankMultivariateNormal(l, w, d), [LOC4, W, WD]),
    "lowrank_bcast": (lambda lib, l, w, d: _Dn(lib).LowRankMultivariateNormal(l, w, d), [LOC4, W2, WD2]),
}


@requires_torch
@pytest.mark.parametrize("name", list(RSAMPLE_CASES))
def test_rsample_values_and_gradients_match_torch(name):
    build, arrays = RSAMPLE_CASES[name]
    res = []
    for lib in (ember, torch):
        params = _params(lib, arrays)
        lib.manual_seed(0)
        x = build(lib, *params).rsample((7,))
        (x * lib.cos(lib.arange(x.numel(), dtype=x.dtype)).reshape(x.shape)).sum().backward()
        res.append([x.detach().numpy()] + [p.grad.numpy() for p in params])
    for a, b in zip(*res):
        np.testing.assert_allclose(a, b, rtol=1e-7, atol=1e-10)


@requires_torch
def test_wishart_samples_match_torch_bartlett():
    """torch 2.13's Wishart.rsample tests support.check without negating it: every valid draw counts as
    singular, is redrawn once and warns. ember redraws only singular ones, so its rsample equals
    torch's first Bartlett draw, values and gradients."""
    res = []
    for lib in (ember, torch):
        df = lib.tensor([4.0, 7.5], dtype=lib.float64, requires_grad=True)
        L = lib.tensor(np.linalg.cholesky(COV), requires_grad=True)
        d = lib.distributions.Wishart(df, scale_tril=L)
        lib.manual_seed(0)
        x = d._bartlett_sampling((3,)) if lib is torch else d.rsample((3,))
        (x * lib.tensor(np.sin(np.arange(x.numel())).reshape(x.shape))).sum().backward()
        res.append((x.detach().numpy(), df.grad.numpy(), L.grad.numpy()))
    for a, b in zip(*res):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-10)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        x = D.Wishart(ember.tensor(5.0), ember.eye(3)).rsample((4,))   # no spurious warning
    assert x.shape == (4, 3, 3) and bool(D.constraints.positive_definite.check(x).all())


# ---- support, enumerate_support, expand, flags, repr ------------------------------------------
BUILT = {
    "Binomial": lambda lib: _Dn(lib).Binomial(lib.tensor([[3.0], [5.0]]), lib.tensor([0.2, 0.5, 0.9])),
    "Binomial_scalar": lambda lib: _Dn(lib).Binomial(4, lib.tensor(0.3)),
    "Chi2": lambda lib: _Dn(lib).Chi2(lib.tensor([1.0, 3.0])),
    "StudentT": lambda lib: _Dn(lib).StudentT(lib.tensor([2.0, 5.0]), 1.0, lib.tensor([1.0, 2.0])),
    "FisherSnedecor": lambda lib: _Dn(lib).FisherSnedecor(3.0, 5.0),
    "Geometric": lambda lib: _Dn(lib).Geometric(lib.tensor([0.3, 0.6])),
    "NegativeBinomial": lambda lib: _Dn(lib).NegativeBinomial(lib.tensor([2.0, 3.0]), logits=lib.tensor([0.1, -1.0])),
    "Multinomial": lambda lib: _Dn(lib).Multinomial(5, lib.tensor([[0.2, 0.3, 0.5], [0.1, 0.1, 0.8]])),
    "ContinuousBernoulli": lambda lib: _Dn(lib).ContinuousBernoulli(lib.tensor([0.2, 0.7])),
    "GeneralizedPareto": lambda lib: _Dn(lib).GeneralizedPareto(lib.tensor([0.0, 1.0]), 1.0, lib.tensor([-0.5, 0.5])),
    "VonMises": lambda lib: _Dn(lib).VonMises(lib.tensor([0.0, 1.0]), lib.tensor([1.0, 2.0])),
    "LowRankMultivariateNormal": lambda lib: _Dn(lib).LowRankMultivariateNormal(lib.zeros(2, 3), lib.ones(3, 1),
                                                                                 lib.ones(3)),
    "MixtureSameFamily": lambda lib: _mixture(lib, lib.zeros(2, 3), lib.zeros(2, 3), lib.ones(2, 3)),
    "LKJCholesky": lambda lib: _Dn(lib).LKJCholesky(3, lib.tensor([1.0, 2.0])),
    "Wishart": lambda lib: _Dn(lib).Wishart(lib.tensor([4.0, 5.0]), covariance_matrix=lib.eye(3)),
}


@requires_torch
@pytest.mark.parametrize("name", list(BUILT))
def test_repr_support_flags_and_expand_match_torch(name):
    info = []
    for lib in (ember, torch):
        d = BUILT[name](lib)
        cls = type(d)
        sup = d.support
        e = d.expand((4,) + tuple(d.batch_shape))
        info.append((repr(d).replace("ember.", "torch."), repr(sup).replace("ember.", "torch."),
                     sup.is_discrete, sup.event_dim, cls.has_rsample, cls.has_enumerate_support,
                     tuple(e.batch_shape), tuple(e.event_shape), type(e).__name__, repr(e).replace("ember.", "torch.")))
    assert info[0] == info[1]


@requires_torch
@pytest.mark.parametrize("name", ["Binomial", "Binomial_scalar", "Geometric", "Multinomial", "LKJCholesky",
                                  "Wishart", "GeneralizedPareto", "MixtureSameFamily"])
def test_support_check_matches_torch(name):
    ember.manual_seed(0)
    good = BUILT[name](ember).sample((3,)).numpy()
    bad = good * 1.7 - 0.35   # out of most supports
    res = []
    for lib in (ember, torch):
        d = BUILT[name](lib)
        res.append((d.support.check(lib.tensor(good)).tolist(), d.support.check(lib.tensor(bad)).tolist()))
    assert res[0] == res[1]


@requires_torch
@pytest.mark.parametrize("name", ["Binomial", "Binomial_scalar"])
@pytest.mark.parametrize("expand", [True, False])
def test_enumerate_support_matches_torch(name, expand):
    res = []
    for lib in (ember, torch):
        d = BUILT[name](lib) if name == "Binomial_scalar" else _Dn(lib).Binomial(4, lib.tensor([[0.2], [0.5]]))
        s = d.enumerate_support(expand)
        res.append((s.tolist(), tuple(s.shape), str(s.dtype).split(".")[-1], d.entropy().tolist()))
    assert res[0][:3] == res[1][:3]
    np.testing.assert_allclose(res[0][3], res[1][3], rtol=1e-6)


@requires_torch
def test_expanded_log_prob_and_sample_match_torch():
    for name in BUILT:
        res = []
        for lib in (ember, torch):
            d = BUILT[name](lib).expand((2,) + tuple(BUILT[name](lib).batch_shape))
            lib.manual_seed(0)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")   # torch's Wishart: "Singular sample detected."
                x = d.sample()
                res.append((x.numpy(), d.log_prob(x).detach().numpy()))
        if name == "Wishart":   # torch redraws every sample (see the Bartlett test)
            assert res[0][0].shape == res[1][0].shape
            continue
        for a, b in zip(*res):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5, err_msg=name)


BAD = [
    lambda lib: lib.distributions.Binomial(10),
    lambda lib: lib.distributions.Binomial(lib.tensor([2.5]), lib.tensor([0.5])),
    lambda lib: lib.distributions.Binomial(5, lib.tensor([1.5])),
    lambda lib: lib.distributions.Binomial(5, lib.tensor([0.5])).log_prob(lib.tensor([6.0])),
    lambda lib: lib.distributions.Binomial(lib.tensor([2.0, 3.0]), lib.tensor([0.5, 0.5])).entropy(),
    lambda lib: lib.distributions.Chi2(lib.tensor([-1.0])),
    lambda lib: lib.distributions.StudentT(lib.tensor([1.0]), lib.tensor([0.0]), lib.tensor([-1.0])),
    lambda lib: lib.distributions.StudentT(lib.tensor([0.0])),
    lambda lib: lib.distributions.FisherSnedecor(lib.tensor([1.0]), lib.tensor([0.0])),
    lambda lib: lib.distributions.FisherSnedecor(1.0, 2.0).log_prob(lib.tensor(-1.0)),
    lambda lib: lib.distributions.Geometric(lib.tensor([0.0, 0.5])),
    lambda lib: lib.distributions.Geometric(lib.tensor([1.5])),
    lambda lib: lib.distributions.Geometric(probs=0.5, logits=0.0),
    lambda lib: lib.distributions.Geometric(lib.tensor([0.5])).log_prob(lib.tensor([1.5])),
    lambda lib: lib.distributions.NegativeBinomial(lib.tensor([1.0]), lib.tensor([1.0])),
    lambda lib: lib.distributions.NegativeBinomial(lib.tensor([-1.0]), lib.tensor([0.5])),
    lambda lib: lib.distributions.NegativeBinomial(2.0, lib.tensor([0.5])).log_prob(lib.tensor([-1.0])),
    lambda lib: lib.distributions.Multinomial(lib.tensor(3), lib.tensor([0.5, 0.5])),
    lambda lib: lib.distributions.Multinomial(3, lib.tensor([0.5, -0.5, 1.0])),
    lambda lib: lib.distributions.Multinomial(3, lib.tensor([0.5, 0.5])).log_prob(lib.tensor([4.0, 0.0])),
    lambda lib: lib.distributions.ContinuousBernoulli(lib.tensor([1.5]), validate_args=True),
    lambda lib: lib.distributions.ContinuousBernoulli(lib.tensor([0.5])).log_prob(lib.tensor([1.5])),
    lambda lib: lib.distributions.ContinuousBernoulli(),
    lambda lib: lib.distributions.GeneralizedPareto(0.0, -1.0, 0.5),
    lambda lib: lib.distributions.GeneralizedPareto(lib.tensor([0.0]), lib.tensor([1.0]),
                                                    lib.tensor([-0.5])).log_prob(lib.tensor([3.0])),
    lambda lib: lib.distributions.VonMises(lib.tensor([0.0]), lib.tensor([-1.0])),
    lambda lib: lib.distributions.LowRankMultivariateNormal(lib.tensor(0.0), lib.ones(3, 1), lib.ones(3)),
    lambda lib: lib.distributions.LowRankMultivariateNormal(lib.zeros(3), lib.ones(3), lib.ones(3)),
    lambda lib: lib.distributions.LowRankMultivariateNormal(lib.zeros(3), lib.ones(2, 1), lib.ones(3)),
    lambda lib: lib.distributions.LowRankMultivariateNormal(lib.zeros(3), lib.ones(3, 1), lib.ones(2)),
    lambda lib: lib.distributions.LowRankMultivariateNormal(lib.zeros(3), lib.ones(3, 1), -lib.ones(3)),
    lambda lib: lib.distributions.LowRankMultivariateNormal(lib.zeros(2, 3), lib.ones(3, 3, 1), lib.ones(3)),
    lambda lib: lib.distributions.MixtureSameFamily(lib.distributions.Normal(0.0, 1.0),
                                                    lib.distributions.Normal(lib.zeros(2), lib.ones(2))),
    lambda lib: lib.distributions.MixtureSameFamily(lib.distributions.Categorical(lib.ones(3)), None),
    lambda lib: lib.distributions.MixtureSameFamily(lib.distributions.Categorical(lib.ones(3)),
                                                    lib.distributions.Normal(lib.zeros(2), lib.ones(2))),
    lambda lib: lib.distributions.MixtureSameFamily(lib.distributions.Categorical(lib.ones(2, 3)),
                                                    lib.distributions.Normal(lib.zeros(4, 3), lib.ones(4, 3))),
    lambda lib: lib.distributions.LKJCholesky(1),
    lambda lib: lib.distributions.LKJCholesky(3, lib.tensor([-1.0])),
    lambda lib: lib.distributions.LKJCholesky(2).log_prob(lib.tensor([[1.0, 0.0], [0.5, 0.5]])),
    lambda lib: lib.distributions.Wishart(lib.tensor(1.0), lib.eye(3)),
    lambda lib: lib.distributions.Wishart(lib.tensor(4.0)),
    lambda lib: lib.distributions.Wishart(4.0, lib.ones(3)),
    lambda lib: lib.distributions.Wishart(4.0, lib.tensor([[1.0, 2.0], [2.0, 1.0]])),
    lambda lib: lib.distributions.Wishart(4.0, scale_tril=lib.tensor([[1.0, 1.0], [0.0, 1.0]])),
    lambda lib: lib.distributions.Wishart(4.0, lib.eye(2)).log_prob(lib.tensor([[1.0, 2.0], [2.0, 1.0]])),
    # no mode in torch either
    lambda lib: lib.distributions.ContinuousBernoulli(lib.tensor([0.3])).mode,
    lambda lib: lib.distributions.Multinomial(3, lib.tensor([0.5, 0.5])).mode,
    lambda lib: lib.distributions.LKJCholesky(3).mode,
    lambda lib: lib.distributions.MixtureSameFamily(lib.distributions.Categorical(lib.ones(2)),
                                                    lib.distributions.Normal(lib.zeros(2), lib.ones(2))).mode,
]


@requires_torch
@pytest.mark.parametrize("i", range(len(BAD)))
def test_validation_errors_match_torch(i):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(Exception) as ref:
            BAD[i](torch)
        with pytest.raises(Exception) as mine:
            BAD[i](ember)
    # torch raises torch._C._LinAlgError, ember ember.linalg.LinAlgError: the same class by name
    assert type(mine.value).__name__.lstrip("_") == type(ref.value).__name__.lstrip("_")
    assert isinstance(mine.value, type(ref.value).__mro__[1]) or type(mine.value) is type(ref.value)
    assert str(mine.value).replace("ember.", "torch.") == str(ref.value)


# ---- without torch: sample moments and float64 central differences ----------------------------
def _e(a, dtype=ember.float64):
    return ember.tensor(np.asarray(a), dtype=dtype)


MOMENTS = {
    "binomial": lambda: D.Binomial(_e([3., 10., 100.]), _e([0.3, 0.5, 0.05])),
    "chi2": lambda: D.Chi2(_e([0.5, 2.0, 9.0])),
    "studentt": lambda: D.StudentT(_e([5.0, 8.0]), _e([0.0, 1.0]), _e([1.0, 0.5])),
    "fisher": lambda: D.FisherSnedecor(_e([4.0, 10.0]), _e([9.0, 12.0])),
    "geometric": lambda: D.Geometric(_e([0.2, 0.5, 0.9])),
    "negbin": lambda: D.NegativeBinomial(_e([1.0, 4.5, 20.0]), _e([0.2, 0.5, 0.7])),
    "multinomial": lambda: D.Multinomial(12, _e([[0.1, 0.2, 0.7], [0.5, 0.25, 0.25]])),
    "cb": lambda: D.ContinuousBernoulli(_e([0.1, 0.4999, 0.9])),
    "gpareto": lambda: D.GeneralizedPareto(_e([0.0, 1.0, -1.0]), _e([1.0, 2.0, 0.5]), _e([-0.3, 0.0, 0.2])),
    "lowrank": lambda: D.LowRankMultivariateNormal(_e(LOC4), _e(W), _e(WD)),
    "mixture": lambda: _mixture(ember, _e(LOGITS[:, :3]), _e(np.stack([LOC, VAL])), _e(np.stack([SCALE, POS]))),
    "mixture_event": lambda: _mixture_mvn(ember, _e(LOGITS[0, :3]), _e(np.stack([LOC, VAL, POS]))),
    "wishart": lambda: D.Wishart(_e([5.0, 8.0]), covariance_matrix=_e(COV / 3)),
}


@pytest.mark.parametrize("name", list(MOMENTS))
def test_sample_moments(name):
    dist = MOMENTS[name]()
    n = 6000   # torch's exact binomial / gamma draws are a Python loop: keep the count modest
    ember.manual_seed(0)
    s = dist.sample((n,))
    assert s.shape == (n,) + tuple(dist.batch_shape) + tuple(dist.event_shape)
    assert bool(dist.support.check(s).all())
    x = s.numpy().astype(np.float64)
    mean, var = dist.mean.detach().numpy(), dist.variance.detach().numpy()
    # within 5 standard errors: of the mean, and of the variance (from the sample's 4th moment)
    assert (np.abs(x.mean(0) - mean) < 5 * np.sqrt(var / n) + 1e-9).all(), (x.mean(0), mean)
    m4 = ((x - x.mean(0)) ** 4).mean(0)
    assert (np.abs(x.var(0) - var) < 5 * np.sqrt((m4 - var ** 2) / n) + 1e-9).all(), (x.var(0), var)
    draws = []
    for _ in range(2):   # manual_seed reproduces
        ember.manual_seed(3)
        draws.append(dist.sample((50,)).numpy())
    assert np.array_equal(*draws)


def test_von_mises_and_lkj_samples():
    d = D.VonMises(_e([0.5, -2.0, 3.0]), _e([1e-6, 2.0, 30.0]))
    ember.manual_seed(0)
    x = d.sample((20000,)).numpy()
    assert ((-math.pi <= x) & (x < math.pi)).all()
    # E[cos(x - loc)] = I1(k) / I0(k) = 1 - circular variance; E[sin(x - loc)] = 0
    r = np.cos(x - d.loc.numpy())
    np.testing.assert_allclose(r.mean(0), 1 - d.variance.numpy(), atol=0.015)
    np.testing.assert_allclose(np.sin(x - d.loc.numpy()).mean(0), 0.0, atol=0.015)
    # LKJ(eta): each off-diagonal correlation is 2 Beta(a, a) - 1 with a = eta - 1 + dim / 2
    ember.manual_seed(0)
    eta, dim = 2.0, 3
    L = D.LKJCholesky(dim, _e(eta)).sample((20000,))
    assert bool(D.constraints.corr_cholesky.check(L).all())
    C = (L @ L.mT).numpy()
    np.testing.assert_allclose(np.diagonal(C, axis1=-2, axis2=-1), 1.0, atol=1e-12)
    a = eta - 1 + dim / 2
    r01 = C[:, 1, 0]
    np.testing.assert_allclose(r01.mean(), 0.0, atol=0.02)
    np.testing.assert_allclose(r01.var(), 4 * a * a / ((2 * a) ** 2 * (2 * a + 1)), rtol=0.05)


def test_rsample_gradients_statistically():
    # StudentT: E[|x - loc|] is proportional to scale; Wishart: E[X] = df * Sigma
    scale = ember.tensor(2.0, dtype=ember.float64, requires_grad=True)
    ember.manual_seed(0)
    x = D.StudentT(_e(5.0), _e(0.0), scale).rsample((20000,))
    m = (x.abs()).mean()
    m.backward()
    np.testing.assert_allclose(scale.grad.item(), m.item() / 2.0, rtol=1e-9)
    df = ember.tensor(6.0, dtype=ember.float64, requires_grad=True)
    ember.manual_seed(0)
    X = D.Wishart(df, covariance_matrix=_e(COV)).rsample((20000,))
    X.mean(0).diagonal().sum().backward()
    np.testing.assert_allclose(df.grad.item(), np.trace(COV), rtol=0.03)
    p = ember.tensor(0.3, dtype=ember.float64, requires_grad=True)
    ember.manual_seed(0)
    D.ContinuousBernoulli(p).rsample((20000,)).mean().backward()
    mean = lambda q: D.ContinuousBernoulli(_e(q)).mean.item()  # noqa: E731
    np.testing.assert_allclose(p.grad.item(), (mean(0.3 + 1e-6) - mean(0.3 - 1e-6)) / 2e-6, rtol=0.05)


GRAD_CASES = ["binomial_probs", "binomial_logits", "chi2", "studentt", "fisher", "geometric_probs", "negbin_logits",
              "multinomial_probs", "cb_probs", "vonmises", "lowrank", "lowrank_bcast", "mixture", "mixture_event",
              "lkj", "wishart_cov", "wishart_tril"]


@pytest.mark.parametrize("case,method", [(c, m) for c in GRAD_CASES for m in ("log_prob", "entropy")
                                         if m in CASES[c][3]])
def test_gradients_against_central_differences(case, method):
    build, arrays, value, _ = CASES[case]
    v = _t(ember, value)

    def f(i):
        def fn(a):
            params = [_e(x) for x in arrays]
            params[i] = _e(a)
            d = build(ember, *params)
            out = d.log_prob(v) if method == "log_prob" else d.entropy()
            return float((out * ember.arange(1, out.numel() + 1, dtype=out.dtype).reshape(out.shape)).sum())
        return fn

    params = _params(ember, arrays)
    d = build(ember, *params)
    out = d.log_prob(v) if method == "log_prob" else d.entropy()
    (out * ember.arange(1, out.numel() + 1, dtype=out.dtype).reshape(out.shape)).sum().backward()
    for i, p in enumerate(params):
        if case.startswith("wishart") and i > 0:
            continue   # one-entry steps leave the symmetric / triangular matrices (checked against torch)
        ref = numeric_grad(f(i), arrays[i])
        if p.grad is None:   # the parameter does not enter (a Binomial's total_count in entropy, ...)
            np.testing.assert_allclose(ref, 0.0, atol=1e-6)
            continue
        np.testing.assert_allclose(p.grad.numpy(), ref, rtol=1e-5, atol=1e-6)


def test_wishart_redraws_singular_samples():
    """df just above p - 1 in float32 gives singular Bartlett draws: they are redrawn (with torch's
    warning), the result is positive definite, and gradients still reach df through the redraws."""
    df = ember.tensor([2.05, 2.5], requires_grad=True)
    with pytest.warns(UserWarning, match="Low df values detected"):
        d = D.Wishart(df, ember.eye(3) * 1e-3)
    ember.manual_seed(0)
    with pytest.warns(UserWarning, match="Singular sample detected."):
        x = d.rsample((50,))
    assert x.shape == (50, 2, 3, 3) and bool(D.constraints.positive_definite.check(x).all())
    x.sum().backward()
    assert df.grad is not None and np.isfinite(df.grad.numpy()).all()


@requires_torch
def test_poisson_samples_are_torchs_numbers():
    got = []
    for lib in (ember, torch):
        lib.manual_seed(3)
        d = lib.distributions.Poisson(lib.tensor([0.5, 4.0, 30.0]))
        got.append((d.sample((4,)).tolist(), str(d.sample().dtype).split(".")[-1]))
    assert got[0] == got[1]


@requires_torch
def test_every_torch_kl_pair_and_name_is_registered():
    import torch.distributions.kl as torch_kl
    mine = {(a.__name__, b.__name__) for a, b in ember.distributions.kl._KL_REGISTRY}
    theirs = {(a.__name__, b.__name__) for a, b in torch_kl._KL_REGISTRY}
    assert theirs <= mine, sorted(theirs - mine)
    missing = [n for n in dir(torch.distributions) if not n.startswith("_") and not hasattr(ember.distributions, n)]
    assert not missing
    d = ember.distributions
    for p in (d.Gumbel(ember.tensor(0.), ember.tensor(1.)), d.Pareto(ember.tensor(1.), ember.tensor(2.))):
        assert ember.isinf(d.kl_divergence(p, d.ContinuousBernoulli(ember.tensor(0.3)))).all()
