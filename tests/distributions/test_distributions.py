"""ember.distributions against torch.distributions: values and gradients on fixed parameters,
sample shapes and moments, reparameterized gradients, validation errors and reprs."""
import math

import numpy as np
import pytest

import ember
import ember.distributions as D
from tests.conftest import requires_torch, torch

F64 = np.float64
RNG = np.random.default_rng(0)
LOC = RNG.normal(size=(3,))
SCALE = RNG.uniform(0.5, 2.0, size=(3,))
VAL = RNG.normal(size=(3,))
POS = RNG.uniform(0.5, 3.0, size=(3,))
POS2 = RNG.uniform(0.5, 3.0, size=(3,))
UNIT = RNG.uniform(0.05, 0.95, size=(3,))
PROBS = RNG.uniform(0.1, 1.0, size=(2, 4))
LOGITS = RNG.normal(size=(2, 4))
A = RNG.normal(size=(3, 3))
COV = A @ A.T + 3 * np.eye(3)
B = RNG.normal(size=(3, 3))
COV2 = B @ B.T + 2 * np.eye(3)
MVN_VAL = RNG.normal(size=(2, 3))


def _params(lib, arrays):
    return [lib.tensor(a, dtype=lib.float64, requires_grad=True) for a in arrays]


# name -> (builder(lib, *params), parameter arrays, value array or None, methods to check)
CASES = {
    "normal": (lambda lib, l, s: lib.distributions.Normal(l, s), [LOC, SCALE], VAL,
               ["log_prob", "entropy", "mean", "variance", "stddev", "cdf", "icdf"]),
    "bernoulli_probs": (lambda lib, p: lib.distributions.Bernoulli(probs=p), [UNIT], np.array([0., 1., 1.]),
                        ["log_prob", "entropy", "mean", "variance"]),
    "bernoulli_logits": (lambda lib, l: lib.distributions.Bernoulli(logits=l), [LOC], np.array([1., 0., 1.]),
                         ["log_prob", "entropy", "mean", "variance"]),
    "categorical_probs": (lambda lib, p: lib.distributions.Categorical(probs=p), [PROBS], np.array([3, 1]),
                          ["log_prob", "entropy"]),
    "categorical_logits": (lambda lib, l: lib.distributions.Categorical(logits=l), [LOGITS], np.array([0, 2]),
                           ["log_prob", "entropy"]),
    "onehot": (lambda lib, l: lib.distributions.OneHotCategorical(logits=l), [LOGITS],
               np.eye(4)[[1, 3]], ["log_prob", "entropy", "mean", "variance"]),
    "uniform": (lambda lib, lo, w: lib.distributions.Uniform(lo, lo + w), [LOC, SCALE], LOC + 0.3 * SCALE,
                ["log_prob", "entropy", "mean", "variance", "stddev", "cdf", "icdf"]),
    "exponential": (lambda lib, r: lib.distributions.Exponential(r), [POS], UNIT,
                    ["log_prob", "entropy", "mean", "variance", "stddev", "cdf", "icdf"]),
    "laplace": (lambda lib, l, s: lib.distributions.Laplace(l, s), [LOC, SCALE], VAL,
                ["log_prob", "entropy", "mean", "variance", "stddev", "cdf", "icdf"]),
    "poisson": (lambda lib, r: lib.distributions.Poisson(r), [POS], np.array([0., 2., 5.]),
                ["log_prob", "mean", "variance"]),
    "gamma": (lambda lib, c, r: lib.distributions.Gamma(c, r), [POS, POS2], UNIT * 3,
              ["log_prob", "entropy", "mean", "variance", "mode"]),
    # Gamma.cdf was missing; torch has no derivative in the concentration, so it is held fixed
    "gamma_cdf": (lambda lib, r: lib.distributions.Gamma(lib.tensor(POS), r), [POS2], UNIT * 3, ["cdf"]),
    "beta": (lambda lib, a, b: lib.distributions.Beta(a, b), [POS, POS2], UNIT,
             ["log_prob", "entropy", "mean", "variance"]),
    "dirichlet": (lambda lib, c: lib.distributions.Dirichlet(c), [POS], UNIT / UNIT.sum(),
                  ["log_prob", "entropy", "mean", "variance"]),
    "mvn_cov": (lambda lib, m, c: lib.distributions.MultivariateNormal(m, covariance_matrix=c), [LOC, COV],
                MVN_VAL, ["log_prob", "entropy", "mean", "variance"]),
    "mvn_tril": (lambda lib, m, c: lib.distributions.MultivariateNormal(m, scale_tril=c),
                 [LOC, np.linalg.cholesky(COV)], MVN_VAL, ["log_prob", "entropy", "variance"]),
    "mvn_prec": (lambda lib, m, c: lib.distributions.MultivariateNormal(m, precision_matrix=c), [LOC, COV],
                 MVN_VAL, ["log_prob", "entropy", "variance"]),
    "independent": (lambda lib, l, s: lib.distributions.Independent(lib.distributions.Normal(l, s), 1),
                    [LOC, SCALE], VAL, ["log_prob", "entropy", "mean", "variance"]),
}
_ARG_METHODS = {"log_prob", "cdf", "icdf"}


def _evaluate(lib, case, method):
    build, arrays, value, _ = CASES[case]
    params = _params(lib, arrays)
    dist = build(lib, *params)
    if method in _ARG_METHODS:
        v = UNIT if method == "icdf" else value
        v = lib.tensor(v, dtype=lib.int64 if v.dtype.kind == "i" else lib.float64)
        out = getattr(dist, method)(v)
    elif method == "entropy":
        out = dist.entropy()
    else:
        out = getattr(dist, method)
    grads = [None] * len(params)
    if out.requires_grad:
        (out * lib.arange(1, out.numel() + 1, dtype=out.dtype).reshape(out.shape)).sum().backward()
        grads = [None if p.grad is None else p.grad.numpy() for p in params]
    return out.detach().numpy(), grads, tuple(dist.batch_shape), tuple(dist.event_shape)


@requires_torch
@pytest.mark.parametrize("case,method", [(c, m) for c, spec in CASES.items() for m in spec[3]])
def test_values_and_grads_match_torch(case, method):
    mine, my_grads, my_batch, my_event = _evaluate(ember, case, method)
    ref, ref_grads, ref_batch, ref_event = _evaluate(torch, case, method)
    assert (my_batch, my_event) == (ref_batch, ref_event)
    assert mine.shape == ref.shape
    np.testing.assert_allclose(mine, ref, rtol=1e-9, atol=1e-10)
    for g, r in zip(my_grads, ref_grads):
        assert (g is None) == (r is None)
        if r is not None:
            np.testing.assert_allclose(g, r, rtol=1e-8, atol=1e-10)


KL_CASES = {
    "normal": (lambda lib, a, b, c, d: (lib.distributions.Normal(a, b), lib.distributions.Normal(c, d)),
               [LOC, SCALE, VAL, POS]),
    "categorical": (lambda lib, a, b: (lib.distributions.Categorical(logits=a),
                                       lib.distributions.Categorical(probs=b)), [LOGITS, PROBS]),
    "bernoulli": (lambda lib, a, b: (lib.distributions.Bernoulli(probs=a), lib.distributions.Bernoulli(logits=b)),
                  [UNIT, LOC]),
    "mvn": (lambda lib, a, b, c, d: (lib.distributions.MultivariateNormal(a, covariance_matrix=b),
                                     lib.distributions.MultivariateNormal(c, covariance_matrix=d)),
            [LOC, COV, VAL, COV2]),
    "independent": (lambda lib, a, b, c, d: (lib.distributions.Independent(lib.distributions.Normal(a, b), 1),
                                             lib.distributions.Independent(lib.distributions.Normal(c, d), 1)),
                    [LOC, SCALE, VAL, POS]),
    "uniform": (lambda lib, a, b, c, d: (lib.distributions.Uniform(a - b, a + b), lib.distributions.Uniform(c - d, c + d)),
                [LOC, SCALE + 3, LOC + 0.1, SCALE + 3.5]),
    "gamma": (lambda lib, a, b, c, d: (lib.distributions.Gamma(a, b), lib.distributions.Gamma(c, d)),
              [POS, POS2, POS2, POS]),
    "beta": (lambda lib, a, b, c, d: (lib.distributions.Beta(a, b), lib.distributions.Beta(c, d)),
             [POS, POS2, POS2, POS]),
    "dirichlet": (lambda lib, a, b: (lib.distributions.Dirichlet(a), lib.distributions.Dirichlet(b)), [POS, POS2]),
    "exponential": (lambda lib, a, b: (lib.distributions.Exponential(a), lib.distributions.Exponential(b)),
                    [POS, POS2]),
    "laplace": (lambda lib, a, b, c, d: (lib.distributions.Laplace(a, b), lib.distributions.Laplace(c, d)),
                [LOC, SCALE, VAL, POS]),
    "poisson": (lambda lib, a, b: (lib.distributions.Poisson(a), lib.distributions.Poisson(b)), [POS, POS2]),
    "onehot": (lambda lib, a, b: (lib.distributions.OneHotCategorical(logits=a),
                                  lib.distributions.OneHotCategorical(probs=b)), [LOGITS, PROBS]),
}

# pairs of different families (they raised NotImplementedError): values and gradients, also where
# some entries are infinite (a support not covered)
_Dn = lambda lib: lib.distributions  # noqa: E731
KL_CASES.update({
    "bernoulli_poisson": (lambda lib, a, b: (_Dn(lib).Bernoulli(a), _Dn(lib).Poisson(b)), [UNIT, POS]),
    "beta_exponential": (lambda lib, a, b, c: (_Dn(lib).Beta(a, b), _Dn(lib).Exponential(c)), [POS, POS2, POS]),
    "beta_gamma": (lambda lib, a, b, c, d: (_Dn(lib).Beta(a, b), _Dn(lib).Gamma(c, d)), [POS, POS2, POS2, POS]),
    "beta_normal": (lambda lib, a, b, c, d: (_Dn(lib).Beta(a, b), _Dn(lib).Normal(c, d)), [POS, POS2, LOC, SCALE]),
    "beta_uniform": (lambda lib, a, b, c, d: (_Dn(lib).Beta(a, b), _Dn(lib).Uniform(c, d)),
                     [POS, POS2, np.array([-0.1, 0.0, 0.2]), np.array([1.2, 1.0, 1.5])]),
    "exponential_gamma": (lambda lib, a, b, c: (_Dn(lib).Exponential(a), _Dn(lib).Gamma(b, c)), [POS, POS2, POS]),
    "exponential_normal": (lambda lib, a, b, c: (_Dn(lib).Exponential(a), _Dn(lib).Normal(b, c)), [POS, LOC, SCALE]),
    "gamma_exponential": (lambda lib, a, b, c: (_Dn(lib).Gamma(a, b), _Dn(lib).Exponential(c)), [POS, POS2, POS]),
    "gamma_normal": (lambda lib, a, b, c, d: (_Dn(lib).Gamma(a, b), _Dn(lib).Normal(c, d)), [POS, POS2, LOC, SCALE]),
    "laplace_normal": (lambda lib, a, b, c, d: (_Dn(lib).Laplace(a, b), _Dn(lib).Normal(c, d)), [LOC, SCALE, VAL, POS]),
    "normal_laplace": (lambda lib, a, b, c, d: (_Dn(lib).Normal(a, b), _Dn(lib).Laplace(c, d)), [LOC, SCALE, VAL, POS]),
    "uniform_beta": (lambda lib, a, b, c, d: (_Dn(lib).Uniform(a * 0.5, a * 0.5 + b), _Dn(lib).Beta(c, d)),
                     [UNIT, np.array([0.3, 0.2, 0.9]), POS, POS2]),
    "uniform_exponential": (lambda lib, a, b, c: (_Dn(lib).Uniform(a, a + b), _Dn(lib).Exponential(c)),
                            [LOC, POS2, POS]),
    "uniform_gamma": (lambda lib, a, b, c, d: (_Dn(lib).Uniform(a, a + b), _Dn(lib).Gamma(c, d)),
                      [LOC, POS2, POS, POS2]),
    "uniform_normal": (lambda lib, a, b, c, d: (_Dn(lib).Uniform(a, a + b), _Dn(lib).Normal(c, d)),
                       [LOC, POS2, VAL, SCALE]),
})


@requires_torch
@pytest.mark.parametrize("pair", [("Normal", "Uniform"), ("Normal", "Beta"), ("Normal", "Exponential"),
                                  ("Normal", "Gamma"), ("Laplace", "Uniform"), ("Laplace", "Beta"),
                                  ("Laplace", "Exponential"), ("Laplace", "Gamma"), ("Exponential", "Uniform"),
                                  ("Exponential", "Beta"), ("Gamma", "Uniform"), ("Gamma", "Beta"),
                                  ("Poisson", "Bernoulli")])
def test_kl_infinite_pairs(pair):
    args = {"Normal": (LOC, SCALE), "Laplace": (LOC, SCALE), "Uniform": (LOC, LOC + 1), "Beta": (POS, POS2),
            "Exponential": (POS,), "Gamma": (POS, POS2), "Poisson": (POS,), "Bernoulli": (UNIT,)}
    res = []
    for lib in (ember, torch):
        p, q = (getattr(lib.distributions, n)(*[lib.tensor(a) for a in args[n]]) for n in pair)
        res.append(lib.distributions.kl_divergence(p, q))
    assert tuple(res[0].shape) == tuple(res[1].shape) and np.isinf(res[0].numpy()).all()
    assert res[0].dtype.name == str(res[1].dtype).split(".")[-1]


@requires_torch
@pytest.mark.parametrize("case", list(KL_CASES))
def test_kl_matches_torch(case):
    build, arrays = KL_CASES[case]
    results = []
    for lib in (ember, torch):
        params = _params(lib, arrays)
        kl = lib.distributions.kl_divergence(*build(lib, *params))
        kl.sum().backward()
        results.append((kl.detach().numpy(), [p.grad.numpy() for p in params]))
    (mine, my_grads), (ref, ref_grads) = results
    np.testing.assert_allclose(mine, ref, rtol=1e-9, atol=1e-10)
    for g, r in zip(my_grads, ref_grads):
        np.testing.assert_allclose(g, r, rtol=1e-8, atol=1e-10)


@requires_torch
def test_kl_infinite_where_support_not_covered():
    for lib in (ember, torch):
        p = lib.distributions.Uniform(lib.tensor([0.0, 0.0]), lib.tensor([1.0, 1.0]))
        q = lib.distributions.Uniform(lib.tensor([0.5, -1.0]), lib.tensor([2.0, 2.0]))
        res = lib.distributions.kl_divergence(p, q).numpy()
        assert np.isinf(res[0]) and np.isclose(res[1], math.log(3))
        p = lib.distributions.Categorical(probs=lib.tensor([0.5, 0.5, 0.0]))
        q = lib.distributions.Categorical(probs=lib.tensor([0.5, 0.0, 0.5]))
        assert np.isinf(lib.distributions.kl_divergence(p, q).item())
        assert np.isclose(lib.distributions.kl_divergence(q, q).item(), 0.0)


def test_register_kl_and_unregistered_pair():
    class MyNormal(D.Normal):
        pass

    p, q = MyNormal(0.0, 1.0), D.Normal(1.0, 2.0)
    base = D.kl_divergence(p, q)  # a subclass inherits the Normal-Normal rule

    @D.register_kl(MyNormal, D.Normal)
    def _kl(p, q):
        return ember.tensor(42.0)

    assert D.kl_divergence(p, q).item() == 42.0
    assert D.kl_divergence(D.Normal(0.0, 1.0), q).item() == pytest.approx(base.item())
    # (Normal and Bernoulli are both exponential families: torch's Bregman rule refuses that pair)
    with pytest.raises(NotImplementedError, match="No KL\\(p \\|\\| q\\) is implemented for p type Normal and "
                                                  "q type Categorical"):
        D.kl_divergence(D.Normal(0.0, 1.0), D.Categorical(ember.ones(2)))
    with pytest.raises(TypeError):
        D.register_kl(int, D.Normal)
    del D.kl._KL_REGISTRY[MyNormal, D.Normal]
    D.kl._KL_MEMOIZE.clear()


# ---- sampling: shapes, dtypes, moments, reproducibility ---------------------------------------
SAMPLERS = {
    "normal": (lambda: D.Normal(ember.tensor([0.0, 3.0]), ember.tensor([1.0, 0.5])), ember.float32),
    "bernoulli": (lambda: D.Bernoulli(ember.tensor([0.2, 0.7])), ember.float32),
    "categorical": (lambda: D.Categorical(ember.tensor([[0.1, 0.2, 0.7], [0.5, 0.25, 0.25]])), ember.int64),
    "onehot": (lambda: D.OneHotCategorical(ember.tensor([0.1, 0.2, 0.7])), ember.float32),
    "uniform": (lambda: D.Uniform(ember.tensor([0.0, -2.0]), ember.tensor([1.0, 4.0])), ember.float32),
    "exponential": (lambda: D.Exponential(ember.tensor([0.5, 3.0])), ember.float32),
    "laplace": (lambda: D.Laplace(ember.tensor([0.0, 1.0]), ember.tensor([1.0, 0.3])), ember.float32),
    "poisson": (lambda: D.Poisson(ember.tensor([0.5, 6.0])), ember.float32),
    "gamma": (lambda: D.Gamma(ember.tensor([0.3, 2.0, 12.0]), ember.tensor([1.0, 2.0, 0.5])), ember.float32),
    "beta": (lambda: D.Beta(ember.tensor([0.5, 2.0]), ember.tensor([0.5, 5.0])), ember.float32),
    "dirichlet": (lambda: D.Dirichlet(ember.tensor([[1.0, 2.0, 3.0], [0.3, 0.3, 4.0]])), ember.float32),
    "mvn": (lambda: D.MultivariateNormal(ember.tensor([1.0, -1.0]),
                                         covariance_matrix=ember.tensor([[2.0, 0.6], [0.6, 1.0]])), ember.float32),
    "independent": (lambda: D.Independent(D.Normal(ember.zeros(2, 3), ember.ones(2, 3)), 2), ember.float32),
}


@pytest.mark.parametrize("name", list(SAMPLERS))
def test_sample_shape_dtype_and_moments(name):
    build, dtype = SAMPLERS[name]
    dist = build()
    ember.manual_seed(0)
    s = dist.sample((20000,))
    assert s.shape == (20000,) + tuple(dist.batch_shape) + tuple(dist.event_shape)
    assert s.dtype == dtype and not s.requires_grad
    assert dist.sample().shape == tuple(dist.batch_shape) + tuple(dist.event_shape)
    assert dist.sample((2, 3)).shape == (2, 3) + tuple(dist.batch_shape) + tuple(dist.event_shape)
    assert bool(dist.support.check(s).all())
    if name == "categorical":
        freq = np.stack([(s.numpy() == k).mean(0) for k in range(3)], -1)
        np.testing.assert_allclose(freq, dist.probs.numpy(), atol=0.02)
        return
    x = s.numpy().astype(np.float64)
    mean, var = dist.mean.numpy(), dist.variance.numpy()
    np.testing.assert_allclose(x.mean(0), mean, atol=0.05 * (1 + np.sqrt(var).max()))
    np.testing.assert_allclose(x.var(0), var, rtol=0.1, atol=0.01)
    ember.manual_seed(0)
    assert np.array_equal(dist.sample((20000,)).numpy(), s.numpy())  # manual_seed reproduces


def test_mvn_sample_covariance():
    cov = np.array([[2.0, 0.6], [0.6, 1.0]])
    ember.manual_seed(1)
    s = D.MultivariateNormal(ember.zeros(2, dtype=ember.float64), covariance_matrix=ember.tensor(cov)).sample((40000,))
    np.testing.assert_allclose(np.cov(s.numpy().T), cov, atol=0.05)


def test_rsample_is_reparameterized():
    loc = ember.tensor([0.5, -1.0], requires_grad=True)
    scale = ember.tensor([1.0, 2.0], requires_grad=True)
    ember.manual_seed(0)
    x = D.Normal(loc, scale).rsample((5000,))
    assert x.requires_grad
    (x ** 2).mean(0).sum().backward()  # E[x^2] = loc^2 + scale^2
    np.testing.assert_allclose(loc.grad.numpy(), 2 * loc.detach().numpy(), atol=0.1)
    np.testing.assert_allclose(scale.grad.numpy(), 2 * scale.detach().numpy(), atol=0.15)
    assert not D.Normal(loc, scale).sample((3,)).requires_grad
    # the sample equals loc + scale * eps for the same draws
    ember.manual_seed(3)
    eps = ember.empty(4, 2).normal_()  # torch's draw for rsample
    ember.manual_seed(3)
    np.testing.assert_allclose(D.Normal(loc, scale).rsample((4,)).detach().numpy(),
                               (loc + scale * eps).detach().numpy(), rtol=1e-6)


@pytest.mark.parametrize("alpha", [0.3, 1.0, 3.0, 20.0])
def test_gamma_rsample_gradient(alpha):
    # d E[x] / d alpha = 1 / rate and d E[x^2] / d alpha = (2 alpha + 1) / rate^2 for Gamma(alpha, rate)
    conc = ember.tensor([alpha], dtype=ember.float64, requires_grad=True)
    rate = ember.tensor([2.0], dtype=ember.float64, requires_grad=True)
    ember.manual_seed(0)
    x = D.Gamma(conc, rate).rsample((40000,))
    x.mean().backward()
    assert conc.grad.item() == pytest.approx(0.5, rel=0.05)
    assert rate.grad.item() == pytest.approx(-alpha / 4, rel=0.05)  # d(alpha/rate)/d rate
    conc.grad = None
    ember.manual_seed(0)
    (D.Gamma(conc, 2.0).rsample((40000,)) ** 2).mean().backward()
    assert conc.grad.item() == pytest.approx((2 * alpha + 1) / 4, rel=0.06)


@requires_torch
def test_gamma_implicit_gradient_matches_torch_per_sample():
    # the same draw x gives torch's d x / d alpha: compare on torch's own samples
    alpha = np.array([0.2, 0.7, 1.5, 4.0, 9.0, 30.0])
    ta = torch.tensor(alpha, requires_grad=True)
    torch.manual_seed(0)
    tx = torch._standard_gamma(ta.expand(50, 6).contiguous())
    ref = torch.autograd.grad(tx.sum(), ta)[0]  # sum over samples of dx/dalpha
    from ember.distributions.utils import _standard_gamma_grad
    mine = _standard_gamma_grad(np, np.broadcast_to(alpha, (50, 6)), tx.detach().numpy()).sum(0)
    np.testing.assert_allclose(mine, ref.numpy(), rtol=1e-6)


def test_dirichlet_and_beta_rsample_gradients():
    c = ember.tensor([2.0, 3.0, 5.0], dtype=ember.float64, requires_grad=True)
    ember.manual_seed(0)
    D.Dirichlet(c).rsample((40000,))[:, 0].mean().backward()
    # E[x0] = c0 / sum(c): gradient (sum - c0) / sum^2, -c0 / sum^2
    np.testing.assert_allclose(c.grad.numpy(), [0.08, -0.02, -0.02], atol=0.006)
    a = ember.tensor(2.0, dtype=ember.float64, requires_grad=True)
    ember.manual_seed(0)
    D.Beta(a, ember.tensor(3.0, dtype=ember.float64)).rsample((40000,)).mean().backward()
    assert a.grad.item() == pytest.approx(3 / 25, rel=0.06)


def test_reproducible_with_manual_seed_and_enumerate_support():
    ember.manual_seed(7)
    a = D.Categorical(logits=ember.zeros(5)).sample((10,))
    ember.manual_seed(7)
    assert np.array_equal(D.Categorical(logits=ember.zeros(5)).sample((10,)).numpy(), a.numpy())
    c = D.Categorical(probs=ember.ones(2, 3))
    assert c.enumerate_support().tolist() == [[0, 0], [1, 1], [2, 2]]
    assert c.enumerate_support(expand=False).shape == (3, 1)
    assert D.Bernoulli(ember.full((2,), 0.5)).enumerate_support().tolist() == [[0.0, 0.0], [1.0, 1.0]]
    assert D.OneHotCategorical(ember.ones(3)).enumerate_support().tolist() == np.eye(3).tolist()


def test_expand_and_extended_shape():
    n = D.Normal(ember.tensor([0.0, 1.0]), ember.tensor([1.0, 2.0]))
    e = n.expand((4, 2))
    assert e.batch_shape == (4, 2) and e.sample((3,)).shape == (3, 4, 2)
    assert e.log_prob(ember.zeros(4, 2)).shape == (4, 2)
    m = D.MultivariateNormal(ember.zeros(3), ember.eye(3)).expand((5,))
    assert m.batch_shape == (5,) and m.event_shape == (3,) and m.rsample().shape == (5, 3)
    c = D.Categorical(logits=ember.zeros(3)).expand((2, 2))
    assert c.sample((6,)).shape == (6, 2, 2)


def test_import_is_lazy_and_aliased():
    import subprocess
    import sys
    code = ("import sys, ember; assert 'ember.distributions' not in sys.modules; "
            "import ember.compat as c; c.install(); from torch.distributions import Normal, kl_divergence; "
            "import torch; print(Normal(torch.tensor([0., 1.]), torch.tensor([1., 1.])), torch.distributions.Normal is Normal)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "Normal(loc: torch.Size([2]), scale: torch.Size([2])) True"


# ---- validation and repr vs torch --------------------------------------------------------------
def _norm(text):
    return text.replace("ember.", "torch.")


BAD = [
    lambda lib: lib.distributions.Normal(lib.tensor([0.0, 1.0]), lib.tensor([1.0, -1.0])),
    lambda lib: lib.distributions.Normal(0.0, 0.0),
    lambda lib: lib.distributions.Normal(lib.tensor([float("nan")]), lib.tensor([1.0])),
    lambda lib: lib.distributions.Categorical(probs=lib.tensor([0.5, -0.5, 1.0])),
    lambda lib: lib.distributions.Categorical(probs=lib.tensor(0.5)),
    lambda lib: lib.distributions.Categorical(),
    lambda lib: lib.distributions.Bernoulli(probs=lib.tensor([1.5])),
    lambda lib: lib.distributions.Bernoulli(probs=0.5, logits=0.0),
    lambda lib: lib.distributions.Uniform(lib.tensor([2.0]), lib.tensor([1.0])),
    lambda lib: lib.distributions.Gamma(lib.tensor([1.0]), lib.tensor([-2.0])),
    lambda lib: lib.distributions.Exponential(lib.tensor([0.0])),
    lambda lib: lib.distributions.Poisson(lib.tensor([-1.0])),
    lambda lib: lib.distributions.Dirichlet(lib.tensor([1.0, -1.0])),
    lambda lib: lib.distributions.Beta(lib.tensor([1.0]), lib.tensor([-1.0])),
    lambda lib: lib.distributions.MultivariateNormal(lib.zeros(2), covariance_matrix=lib.tensor([[1.0, 2.0], [2.0, 1.0]])),
    lambda lib: lib.distributions.MultivariateNormal(lib.zeros(2), scale_tril=lib.tensor([[1.0, 1.0], [0.0, 1.0]])),
    lambda lib: lib.distributions.MultivariateNormal(lib.zeros(2), lib.eye(2), scale_tril=lib.eye(2)),
    lambda lib: lib.distributions.MultivariateNormal(lib.tensor(0.0), lib.eye(2)),
    lambda lib: lib.distributions.Independent(lib.distributions.Normal(lib.zeros(2), lib.ones(2)), 2),
    lambda lib: lib.distributions.Normal(0.0, 1.0).log_prob(0.5),
    lambda lib: lib.distributions.Normal(lib.zeros(3), lib.ones(3)).log_prob(lib.zeros(2)),
    lambda lib: lib.distributions.MultivariateNormal(lib.zeros(2), lib.eye(2)).log_prob(lib.zeros(3)),
    lambda lib: lib.distributions.Categorical(logits=lib.zeros(3)).log_prob(lib.tensor([3])),
    lambda lib: lib.distributions.Bernoulli(lib.tensor([0.5])).log_prob(lib.tensor([0.5])),
    lambda lib: lib.distributions.Exponential(lib.tensor([1.0])).log_prob(lib.tensor([-1.0])),
    lambda lib: lib.distributions.Uniform(lib.tensor([0.0]), lib.tensor([1.0])).log_prob(lib.tensor([2.0])),
    lambda lib: lib.distributions.Dirichlet(lib.ones(3)).log_prob(lib.tensor([0.5, 0.6, 0.1])),
    lambda lib: lib.distributions.Poisson(lib.tensor([1.0])).log_prob(lib.tensor([1.5])),
]


@requires_torch
@pytest.mark.parametrize("i", range(len(BAD)))
def test_validation_errors_match_torch(i):
    with pytest.raises(Exception) as ref:
        BAD[i](torch)
    with pytest.raises(Exception) as mine:
        BAD[i](ember)
    assert type(mine.value) is type(ref.value)
    assert _norm(str(mine.value)) == str(ref.value)


def test_validate_args_false_and_default_switch():
    D.Normal(0.0, -1.0, validate_args=False)  # no check
    D.Normal(ember.zeros(2), ember.ones(2), validate_args=False).log_prob(ember.zeros(3, 1))
    try:
        D.Distribution.set_default_validate_args(False)
        D.Normal(0.0, -1.0)
    finally:
        D.Distribution.set_default_validate_args(True)
    with pytest.raises(ValueError):
        D.Normal(0.0, -1.0)
    with pytest.raises(ValueError):
        D.Distribution.set_default_validate_args("yes")


REPRS = [
    lambda lib: lib.distributions.Normal(lib.tensor([0.0, 1.0]), lib.tensor([1.0, 2.0])),
    lambda lib: lib.distributions.Normal(0.0, 1.0),
    lambda lib: lib.distributions.Categorical(logits=lib.zeros(2, 3)),
    lambda lib: lib.distributions.Categorical(probs=lib.ones(3)),
    lambda lib: lib.distributions.Bernoulli(0.3),
    lambda lib: lib.distributions.Bernoulli(logits=lib.zeros(4)),
    lambda lib: lib.distributions.Uniform(0.0, 2.0),
    lambda lib: lib.distributions.Gamma(lib.ones(2), 1.0),
    lambda lib: lib.distributions.Beta(2.0, 3.0),
    lambda lib: lib.distributions.Dirichlet(lib.ones(3)),
    lambda lib: lib.distributions.MultivariateNormal(lib.zeros(2), lib.eye(2)),
    lambda lib: lib.distributions.MultivariateNormal(lib.zeros(2), scale_tril=lib.eye(2)),
    lambda lib: lib.distributions.Independent(lib.distributions.Normal(lib.zeros(3), lib.ones(3)), 1),
    lambda lib: lib.distributions.OneHotCategorical(lib.ones(3)),
    lambda lib: lib.distributions.Exponential(lib.tensor([1.5])),
    lambda lib: lib.distributions.Normal(lib.tensor([0.5]), lib.tensor([2.0], requires_grad=True)),
    lambda lib: lib.distributions.Laplace(0.0, 1.0),
    lambda lib: lib.distributions.Poisson(lib.tensor([2.0, 3.0])),
    lambda lib: lib.distributions.constraints.interval(0.0, 1.0),
    lambda lib: lib.distributions.constraints.independent(lib.distributions.constraints.positive, 1),
    lambda lib: lib.distributions.Categorical(logits=lib.zeros(3)).support,
]


@requires_torch
@pytest.mark.parametrize("i", range(len(REPRS)))
def test_repr_matches_torch(i):
    assert _norm(repr(REPRS[i](ember))) == repr(REPRS[i](torch))


@requires_torch
def test_flags_and_properties_match_torch():
    for name in ["Normal", "Categorical", "Bernoulli", "Uniform", "Gamma", "Beta", "Dirichlet", "MultivariateNormal",
                 "OneHotCategorical", "Exponential", "Laplace", "Poisson"]:
        mine, ref = getattr(D, name), getattr(torch.distributions, name)
        assert mine.has_rsample == ref.has_rsample, name
        assert mine.has_enumerate_support == ref.has_enumerate_support, name
    for lib_pair in [(ember, torch)]:
        vals = []
        for lib in lib_pair:
            c = lib.distributions.Categorical(logits=lib.tensor([[0.0, 1.0, 2.0]]))
            b = lib.distributions.Bernoulli(lib.tensor([0.2, 0.5, 0.9]))
            vals.append((c.mode.tolist(), c.mean.isnan().tolist(), b.mode.tolist(),
                         lib.distributions.Dirichlet(lib.tensor([2.0, 3.0])).mode.tolist(),
                         lib.distributions.Normal(0.0, 2.0).perplexity().item()))
        assert repr(vals[0]) == repr(vals[1])


@requires_torch
def test_mvn_scale_tril_gradients_match_torch():
    """precision_matrix is torch's cholesky_inverse, whose gradient reaches the whole scale_tril
    argument (ember's solve of tril(L) kept the upper triangle's gradient at zero); log_prob goes
    through solve_triangular as torch's does."""
    L0 = np.linalg.cholesky(COV)
    res = []
    for lib in (ember, torch):
        L = lib.tensor(L0, requires_grad=True)
        d = lib.distributions.MultivariateNormal(lib.zeros(3, dtype=lib.float64), scale_tril=L)
        w = lib.tensor(np.cos(np.arange(9.0)).reshape(3, 3))
        ((d.precision_matrix * w).sum() + d.log_prob(lib.tensor(MVN_VAL)).sum()).backward()
        res.append(L.grad.numpy())
    np.testing.assert_allclose(res[0], res[1], rtol=1e-9, atol=1e-12)
    assert np.abs(res[1][np.triu_indices(3, 1)]).max() > 0


_SCALAR = {
    "Normal": lambda lib, x: lib.distributions.Normal(x, 1.0),
    "Gamma": lambda lib, x: lib.distributions.Gamma(x, 1.0),
    "Poisson": lambda lib, x: lib.distributions.Poisson(x),
    "Exponential": lambda lib, x: lib.distributions.Exponential(x),
    "Beta": lambda lib, x: lib.distributions.Beta(x, x),
    "Laplace": lambda lib, x: lib.distributions.Laplace(x, 1.0),
    "Uniform": lambda lib, x: lib.distributions.Uniform(x - 1, x),
}


@requires_torch
@pytest.mark.parametrize("name", sorted(_SCALAR))
@pytest.mark.parametrize("as_tensor", [True, False])
def test_scalar_parameter_sampling(name, as_tensor):
    """A 0-d (or Python number) parameter: Gamma and Poisson samples raised AttributeError (NumPy's
    generators return a Python scalar there)."""
    shapes = []
    for lib in (ember, torch):
        d = _SCALAR[name](lib, lib.tensor(2.0) if as_tensor else 2.0)
        s, s3 = d.sample(), d.sample((3,))
        shapes.append((tuple(s.shape), tuple(s3.shape), str(s.dtype).split(".")[-1]))
        if d.has_rsample:
            assert tuple(d.rsample().shape) == ()
    assert shapes[0] == shapes[1]
    c = ember.tensor(2.0, requires_grad=True)
    if D.Gamma.has_rsample:
        D.Gamma(c, 1.0).rsample().backward()
        assert c.grad is not None and np.isfinite(c.grad.item())
