"""ember.distributions.transforms and the constraint registries against torch: forward, inverse,
log_abs_det_jacobian (values and gradients), shapes, reprs, flags and caching; biject_to / transform_to
for the standard constraints."""
import numpy as np
import pytest

import ember
import ember.distributions as D
from ember.distributions import constraints as C
from ember.distributions import transforms as T
from tests.conftest import numeric_grad, requires_torch, torch

RNG = np.random.default_rng(1)
X3 = RNG.normal(size=(2, 3))
POS3 = RNG.uniform(0.3, 2.0, size=(2, 3))
MAT = RNG.normal(size=(2, 3, 3))


def _pd(lib):
    a = lib.tensor(MAT)
    return a @ a.mT + 3 * lib.eye(3, dtype=lib.float64)


# name -> (builder(lib) -> transform, input array x (in the domain))
TRANSFORMS = {
    "exp": (lambda lib: lib.distributions.ExpTransform(), X3),
    "exp_inv": (lambda lib: lib.distributions.ExpTransform().inv, POS3),
    "power": (lambda lib: lib.distributions.PowerTransform(lib.tensor([0.5, 2.0, -1.5], dtype=lib.float64)), POS3),
    "power_scalar": (lambda lib: lib.distributions.PowerTransform(3.0), POS3),
    "sigmoid": (lambda lib: lib.distributions.SigmoidTransform(), X3),
    "sigmoid_inv": (lambda lib: lib.distributions.SigmoidTransform().inv, 1 / (1 + np.exp(-X3))),
    "tanh": (lambda lib: lib.distributions.TanhTransform(), X3),
    "softplus": (lambda lib: lib.distributions.SoftplusTransform(), X3),
    "abs": (lambda lib: lib.distributions.AbsTransform(), X3),
    "affine_num": (lambda lib: lib.distributions.AffineTransform(1.5, -2.0), X3),
    "affine_tensor": (lambda lib: lib.distributions.AffineTransform(
        lib.tensor([0.1, 0.2, 0.3], dtype=lib.float64), lib.tensor([2.0, -0.5, 3.0], dtype=lib.float64)), X3),
    "affine_event1": (lambda lib: lib.distributions.AffineTransform(
        0.5, lib.tensor([2.0, -0.5, 3.0], dtype=lib.float64), event_dim=1), X3),
    "softmax": (lambda lib: lib.distributions.SoftmaxTransform(), X3),
    "stick_breaking": (lambda lib: lib.distributions.StickBreakingTransform(), X3),
    "lower_cholesky": (lambda lib: lib.distributions.LowerCholeskyTransform(), MAT),
    "positive_definite": (lambda lib: lib.distributions.PositiveDefiniteTransform(), MAT),
    "corr_cholesky": (lambda lib: lib.distributions.CorrCholeskyTransform(), X3),
    "corr_cholesky_6": (lambda lib: lib.distributions.CorrCholeskyTransform(), RNG.normal(size=(4, 6))),
    "reshape": (lambda lib: lib.distributions.ReshapeTransform((3,), (3, 1)), X3),
    "independent": (lambda lib: lib.distributions.IndependentTransform(lib.distributions.ExpTransform(), 1), X3),
    "compose": (lambda lib: lib.distributions.ComposeTransform([
        lib.distributions.ExpTransform(), lib.distributions.AffineTransform(-1.0, 2.0),
        lib.distributions.SigmoidTransform()]), X3),
    "compose_event": (lambda lib: lib.distributions.ComposeTransform([
        lib.distributions.AffineTransform(0.0, 2.0), lib.distributions.StickBreakingTransform()]), X3),
    "identity": (lambda lib: lib.distributions.identity_transform, X3),
    "cat": (lambda lib: lib.distributions.CatTransform(
        [lib.distributions.ExpTransform(), lib.distributions.AffineTransform(1.0, 3.0)], dim=1, lengths=[1, 2]), X3),
    "cat_event_batch": (lambda lib: lib.distributions.CatTransform(
        [lib.distributions.IndependentTransform(lib.distributions.ExpTransform(), 1),
         lib.distributions.AffineTransform(0.0, 2.0, event_dim=1)], dim=0, lengths=[1, 1]), X3),
    "cat_event_sum": (lambda lib: lib.distributions.CatTransform(
        [lib.distributions.IndependentTransform(lib.distributions.ExpTransform(), 1),
         lib.distributions.AffineTransform(0.0, 2.0, event_dim=1)], dim=1, lengths=[1, 2]), X3),
    "stack": (lambda lib: lib.distributions.StackTransform(
        [lib.distributions.ExpTransform(), lib.distributions.TanhTransform(),
         lib.distributions.SigmoidTransform()], dim=1), X3),
    "cdf": (lambda lib: lib.distributions.CumulativeDistributionTransform(
        lib.distributions.Normal(lib.tensor(0.5, dtype=lib.float64), lib.tensor(2.0, dtype=lib.float64))), X3),
}


def _apply(lib, name):
    build, x0 = TRANSFORMS[name]
    t = build(lib)
    x = lib.tensor(x0, requires_grad=True)
    y = t(x)
    x_back = t.inv(y.detach())
    try:
        ladj = t.log_abs_det_jacobian(x, y)
    except NotImplementedError:  # not bijective (abs, softmax, ...)
        ladj = x.new_zeros(())
    w = lib.tensor(np.cos(np.arange(ladj.numel())).reshape(tuple(ladj.shape)))
    ((ladj * w).sum() + (y * lib.tensor(np.sin(np.arange(y.numel())).reshape(tuple(y.shape)))).sum()).backward()
    shape = lib.Size(x0.shape)
    flags = (t.bijective, t.domain.event_dim, t.codomain.event_dim, repr(t.domain), repr(t.codomain),
             tuple(t.forward_shape(shape)), tuple(t.inverse_shape(t.forward_shape(shape))))
    try:
        sign = t.sign
        sign = sign.tolist() if hasattr(sign, "tolist") else sign
    except NotImplementedError:
        sign = "n/a"
    return (y.detach().numpy(), x_back.detach().numpy(), ladj.detach().numpy(), x.grad.numpy(),
            repr(t), flags, sign)


def _norm(text):
    return text.replace("ember.", "torch.")


@requires_torch
@pytest.mark.parametrize("name", list(TRANSFORMS))
def test_transform_matches_torch(name):
    mine, ref = _apply(ember, name), _apply(torch, name)
    for a, b in zip(mine[:4], ref[:4]):
        assert a.shape == b.shape
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)
    assert _norm(mine[4]) == ref[4]
    assert tuple(_norm(str(f)) for f in mine[5]) == tuple(str(f) for f in ref[5])
    assert mine[6] == ref[6]


@pytest.mark.parametrize("name", ["exp", "sigmoid", "tanh", "softplus", "affine_tensor", "power", "stick_breaking",
                                  "corr_cholesky", "compose_event", "cat", "stack"])
def test_log_abs_det_jacobian_by_central_differences(name):
    """log|det dy/dx| of one event equals the log-determinant of the numeric Jacobian (CorrCholesky:
    of y's strictly-lower triangle; StickBreaking: of y without its last coordinate)."""
    build, x0 = TRANSFORMS[name]
    t = build(ember)
    x0 = x0[0] if name not in ("cat", "stack") else x0
    ev = t.domain.event_dim

    def out(xv):
        y = t(ember.tensor(xv)).numpy()
        if name == "corr_cholesky":
            return y[np.tril_indices(3, -1)]
        if name in ("stick_breaking", "compose_event"):
            return y[..., :-1]
        return y

    flat = x0.reshape(-1)
    jac = np.stack([numeric_grad(lambda v, i=i: out(v.reshape(x0.shape)).reshape(-1)[i], flat)
                    for i in range(out(x0).size)])
    ladj = t.log_abs_det_jacobian(ember.tensor(x0), t(ember.tensor(x0))).numpy()
    if ev == 0:  # elementwise: the Jacobian is diagonal
        np.testing.assert_allclose(np.log(np.abs(np.diag(jac))), ladj.reshape(-1), rtol=1e-6, atol=1e-7)
    else:
        np.testing.assert_allclose(np.linalg.slogdet(jac)[1], ladj.sum(), rtol=1e-6, atol=1e-7)


def test_inverse_caching_equality_and_errors():
    t = T.ExpTransform(cache_size=1)
    x = ember.tensor([0.5, 1.0])
    y = t(x)
    assert t(x) is y and t.inv(y) is x  # the cached pair
    assert t.inv.inv is t and T.ExpTransform() == T.ExpTransform() and T.ExpTransform() != T.SigmoidTransform()
    assert T.ExpTransform().inv == T.ExpTransform().inv
    assert T.AffineTransform(1.0, 2.0) == T.AffineTransform(1.0, 2.0) != T.AffineTransform(1.0, 3.0)
    assert T.ExpTransform().with_cache(1)._cache_size == 1
    assert T.ComposeTransform([T.ExpTransform()]).inv.inv.parts[0] == T.ExpTransform()
    with pytest.raises(ValueError, match="cache_size must be 0 or 1"):
        T.ExpTransform(cache_size=2)
    with pytest.raises(ValueError, match="different numbers of elements"):
        T.ReshapeTransform((2, 3), (5,))
    with pytest.raises(ValueError, match="Please use either .domain.event_dim or .codomain.event_dim"):
        T.StickBreakingTransform().inv.event_dim + T.CorrCholeskyTransform().event_dim
    with pytest.raises(NotImplementedError):
        T.AbsTransform().sign
    with pytest.raises(ValueError, match="Input is not a flattened lower-diagonal number"):
        T.CorrCholeskyTransform().forward_shape((4,))
    with pytest.raises(AssertionError, match="must equal length 3"):
        T.CatTransform([T.ExpTransform(), T.ExpTransform()], 0, [1, 2])(ember.zeros(2))


@requires_torch
def test_transform_errors_match_torch():
    cases = [lambda lib: lib.distributions.ExpTransform(cache_size=2),
             lambda lib: lib.distributions.ReshapeTransform((2, 3), (5,)),
             lambda lib: lib.distributions.ReshapeTransform((2, 3), (6,)).forward_shape((3, 2)),
             lambda lib: lib.distributions.StickBreakingTransform().forward_shape(()),
             lambda lib: lib.distributions.CorrCholeskyTransform().inverse_shape((3, 2)),
             lambda lib: lib.distributions.StackTransform([lib.distributions.ExpTransform()], 0)(lib.zeros(2)),
             lambda lib: lib.distributions.TransformedDistribution(lib.distributions.Normal(0.0, 1.0), "exp"),
             lambda lib: lib.distributions.TransformedDistribution(lib.distributions.Normal(0.0, 1.0),
                                                                   lib.distributions.StickBreakingTransform()),
             lambda lib: lib.distributions.biject_to(lib.distributions.constraints.lower_cholesky),
             lambda lib: lib.distributions.biject_to.register(3, lambda c: None)]
    for case in cases:
        with pytest.raises(Exception) as ref:
            case(torch)
        with pytest.raises(Exception) as mine:
            case(ember)
        assert type(mine.value) is type(ref.value)
        assert _norm(str(mine.value)) == str(ref.value)


# constraint (as built from lib.distributions.constraints) -> the input's shape
CONSTRAINTS = {
    "real": (lambda c: c.real, (4,)),
    "positive": (lambda c: c.positive, (4,)),
    "nonnegative": (lambda c: c.nonnegative, (4,)),
    "greater_than": (lambda c: c.greater_than(1.5), (4,)),
    "greater_than_eq": (lambda c: c.greater_than_eq(-1.0), (4,)),
    "less_than": (lambda c: c.less_than(2.0), (4,)),
    "unit_interval": (lambda c: c.unit_interval, (4,)),
    "interval": (lambda c: c.interval(-2.0, 3.0), (4,)),
    "half_open_interval": (lambda c: c.half_open_interval(0.0, 2.0), (4,)),
    "simplex": (lambda c: c.simplex, (2, 3)),
    "real_vector": (lambda c: c.real_vector, (2, 3)),
    "independent_positive": (lambda c: c.independent(c.positive, 1), (2, 3)),
    "lower_cholesky": (lambda c: c.lower_cholesky, (2, 3, 3)),
    "positive_definite": (lambda c: c.positive_definite, (2, 3, 3)),
    "positive_semidefinite": (lambda c: c.positive_semidefinite, (3, 3)),
    "corr_cholesky": (lambda c: c.corr_cholesky, (2, 3)),
    "cat": (lambda c: c.cat([c.positive, c.interval(0.0, 2.0)], dim=1, lengths=[1, 2]), (2, 3)),
    "stack": (lambda c: c.stack([c.real, c.positive, c.unit_interval], dim=-1), (2, 3)),
}


def _registry(lib, name, registry):
    build, shape = CONSTRAINTS[name]
    c = build(lib.distributions.constraints)
    try:
        t = getattr(lib.distributions, registry)(c)
    except NotImplementedError as e:
        return "NotImplementedError: " + str(e)
    x = lib.tensor(np.linspace(-1.5, 1.7, int(np.prod(shape))).reshape(shape))
    y = t(x)
    if registry == "transform_to" and name in ("positive_definite", "positive_semidefinite", "lower_cholesky"):
        back = x.new_zeros(())  # not bijective: the inverse does not recover x
    else:
        back = t.inv(y)
    return (repr(t), y.numpy(), back.numpy(), bool(c.check(y).all()), t.bijective)


@requires_torch
@pytest.mark.parametrize("registry", ["biject_to", "transform_to"])
@pytest.mark.parametrize("name", list(CONSTRAINTS))
def test_biject_to_and_transform_to_match_torch(name, registry):
    mine, ref = _registry(ember, name, registry), _registry(torch, name, registry)
    if isinstance(ref, str):
        assert _norm(mine) == ref
        return
    assert _norm(mine[0]) == ref[0]
    np.testing.assert_allclose(mine[1], ref[1], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(mine[2], ref[2], rtol=1e-7, atol=1e-9)
    assert mine[3:] == ref[3:] and mine[3]  # the image satisfies the constraint


def test_biject_to_round_trips_without_torch():
    for name in CONSTRAINTS:
        build, shape = CONSTRAINTS[name]
        c = build(C)
        try:
            t = D.biject_to(c)
        except NotImplementedError:
            assert name in ("lower_cholesky", "positive_definite", "positive_semidefinite")
            t = D.transform_to(c)
            assert bool(c.check(t(ember.randn(*shape, dtype=ember.float64))).all())
            continue
        x = ember.tensor(np.linspace(-1.5, 1.7, int(np.prod(shape))).reshape(shape))
        y = t(x)
        assert bool(c.check(y).all()), name
        np.testing.assert_allclose(t.inv(y).numpy(), x.numpy(), rtol=1e-7, atol=1e-9)


def test_register_custom_constraint():
    class _Odd(C.Constraint):
        def check(self, value):
            return value % 2 == 1

    reg = D.constraint_registry.ConstraintRegistry()
    reg.register(_Odd, lambda c: T.AffineTransform(1.0, 2.0))
    assert isinstance(reg(_Odd()), T.AffineTransform)
    with pytest.raises(NotImplementedError, match="Cannot transform _Real constraints"):
        reg(C.real)
    with pytest.raises(TypeError):
        reg.register(int, lambda c: None)


@requires_torch
def test_new_constraints_match_torch():
    vals = []
    for lib in (ember, torch):
        c = lib.distributions.constraints
        L = lib.linalg.cholesky(_pd(lib))
        corr = L / L.norm(dim=-1, keepdim=True)
        cat = c.cat([c.positive, c.unit_interval], dim=0, lengths=[2, 1])
        stack = c.stack([c.positive, c.real], dim=-1)
        vals.append((c.corr_cholesky.check(corr).tolist(), c.corr_cholesky.check(L).tolist(),
                     cat.check(lib.tensor([1.0, -1.0, 0.5])).tolist(), cat.event_dim, cat.is_discrete,
                     stack.check(lib.tensor([[1.0, -3.0], [-1.0, 2.0]])).tolist(), stack.event_dim,
                     repr(c.corr_cholesky), c.corr_cholesky.event_dim))
    assert vals[0] == vals[1]
