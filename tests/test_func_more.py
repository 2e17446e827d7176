"""torch.func.linearize, functionalize, replace_all_batch_norm_modules_ and debug_unwrap (ember/_functorch):
linearize's jvp_fn against hand-derived Jacobian-vector products and float64 central differences,
functionalize's values and input mutations, BatchNorm without running statistics; and the same
calls, errors included, against torch."""
import numpy as np
import pytest

import ember
import ember.func as efunc
from tests.conftest import requires_torch, torch

RNG = np.random.default_rng(0)


def f_np(x, y):
    return np.sin(x) * y.sum() + x ** 2


def f(x, y):
    return x.sin() * y.sum() + x ** 2


def test_linearize_is_the_jacobian_vector_product():
    x, y = RNG.standard_normal(3), RNG.standard_normal(2)
    out, jvp_fn = efunc.linearize(f, ember.tensor(x), ember.tensor(y))
    np.testing.assert_allclose(out.numpy(), f_np(x, y))
    for _ in range(2):      # jvp_fn can be called again with other tangents
        tx, ty = RNG.standard_normal(3), RNG.standard_normal(2)
        got = jvp_fn(ember.tensor(tx), ember.tensor(ty)).numpy()
        eps = 1e-6
        numeric = (f_np(x + eps * tx, y + eps * ty) - f_np(x - eps * tx, y - eps * ty)) / (2 * eps)
        np.testing.assert_allclose(got, numeric, atol=1e-8)
        np.testing.assert_allclose(got, np.cos(x) * tx * y.sum() + np.sin(x) * ty.sum() + 2 * x * tx)


def test_linearize_pytrees_constants_and_checks():
    out, jvp_fn = efunc.linearize(lambda d: {"s": d["a"].exp() * d["b"], "n": 3, "i": d["a"].long()},
                                  {"a": ember.zeros(2, dtype=ember.float64), "b": ember.ones(2, dtype=ember.float64)})
    r = jvp_fn({"a": ember.ones(2, dtype=ember.float64), "b": ember.full((2,), 2., dtype=ember.float64)})
    assert r["s"].tolist() == [3.0, 3.0] and r["n"] == 3 and r["i"].tolist() == [0, 0]
    _, jvp_fn = efunc.linearize(ember.sin, ember.zeros(2))
    with pytest.raises(RuntimeError, match="to have the same argspec as the primals"):
        jvp_fn(ember.zeros(2), ember.zeros(2))
    with pytest.raises(RuntimeError, match=r"tangent:0 with shape .*\[3\].* doesn't match the shape .*\[2\]"):
        jvp_fn(ember.zeros(3))
    with pytest.raises(RuntimeError, match="tangent:0 with dtype .*float64 in flattened pytree doesn't match"):
        jvp_fn(ember.zeros(2, dtype=ember.float64))
    with pytest.raises(ValueError, match="Expected primal to be floating point or complex, but got: .*int64"):
        efunc.linearize(lambda x: x * 2, ember.ones(2, dtype=ember.int64))


def test_linearize_keeps_the_graph_of_inputs_that_require_grad():
    x = ember.tensor([0.5, 1.0], requires_grad=True)
    out, jvp_fn = efunc.linearize(ember.sin, x)
    assert out.grad_fn.name() == "SinBackward0"
    t = jvp_fn(ember.ones(2))            # cos(x): differentiable in x again
    assert t.requires_grad
    t.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), -np.sin([0.5, 1.0]), rtol=1e-6)
    with ember.no_grad():
        assert not jvp_fn(ember.ones(2)).requires_grad


def test_functionalize():
    def mutate(a):
        a.add_(1)
        return a * 2
    x = ember.tensor([1., 2.])
    g = efunc.functionalize(mutate)
    assert g.__name__ == "mutate" and g.__wrapped__ is mutate
    assert g(x).tolist() == [4., 6.] and x.tolist() == [2., 3.]      # the input mutation still lands
    assert efunc.functionalize(lambda a: a[1:])(x)._base is x
    y = efunc.functionalize(lambda a: a[1:], remove="mutations_and_views")(x)
    assert y._base is None and y.tolist() == [3.]
    y.add_(10)
    assert x.tolist() == [2., 3.]                                   # no aliasing with the input
    assert efunc.functionalize(lambda a: a, remove="mutations_and_views")(x) is x
    with pytest.raises(RuntimeError, match="received invalid argument for remove=views"):
        efunc.functionalize(mutate, remove="views")


def test_replace_all_batch_norm_modules_and_debug_unwrap():
    m = ember.nn.Sequential(ember.nn.Linear(2, 3), ember.nn.BatchNorm1d(3),
                            ember.nn.Sequential(ember.nn.BatchNorm1d(3, track_running_stats=False)))
    assert efunc.replace_all_batch_norm_modules_(m) is m
    bn = m[1]
    assert bn.running_mean is None and bn.running_var is None and bn.num_batches_tracked is None
    assert not bn.track_running_stats
    assert list(m.state_dict()) == ["0.weight", "0.bias", "1.weight", "1.bias", "2.0.weight", "2.0.bias"]
    x = ember.tensor(RNG.standard_normal((4, 2)), dtype=ember.float32)
    m.eval()    # without running statistics, eval mode normalizes with the batch's own
    h = m[0](x).detach().numpy()
    expect = (h - h.mean(0)) / np.sqrt(h.var(0) + 1e-5)
    np.testing.assert_allclose(m[:2](x).detach().numpy(), expect, atol=1e-5)
    bn2 = ember.nn.BatchNorm2d(2)
    assert efunc.replace_all_batch_norm_modules_(bn2) is bn2 and bn2.running_var is None
    t = ember.ones(2)
    assert efunc.debug_unwrap(t) is t and efunc.debug_unwrap(t, recurse=False) is t
    with pytest.raises(TypeError, match="incompatible function arguments"):
        efunc.debug_unwrap(3)


@requires_torch
def test_against_torch():
    import torch.func as tfunc
    x, y = RNG.standard_normal((2, 3)), RNG.standard_normal(3)
    tx, ty = RNG.standard_normal((2, 3)), RNG.standard_normal(3)

    def g(lib):
        return lambda a, b: ((a @ b).exp(), (a * b).sum())
    to, tj = tfunc.linearize(g(torch), torch.tensor(x), torch.tensor(y))
    eo, ej = efunc.linearize(g(ember), ember.tensor(x), ember.tensor(y))
    for a, b in zip(eo + ej(ember.tensor(tx), ember.tensor(ty)), to + tj(torch.tensor(tx), torch.tensor(ty))):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-12)
    errors = []
    for lib, fn in ((torch, tfunc), (ember, efunc)):
        _, j = fn.linearize(lib.sin, lib.zeros(2))
        for call in (lambda: j(lib.zeros(2), lib.zeros(2)), lambda: j(lib.zeros(3)), lambda: j(lib.zeros(2).double()),
                     lambda: fn.functionalize(lib.sin, remove="x"), lambda: fn.debug_unwrap([1])):
            with pytest.raises(Exception) as info:
                call()
            errors.append((info.type.__name__, str(info.value).replace("ember", "torch")))
    assert errors[:5] == errors[5:]
    tm = torch.nn.Sequential(torch.nn.BatchNorm1d(3), torch.nn.Sequential(torch.nn.BatchNorm2d(2)))
    em = ember.nn.Sequential(ember.nn.BatchNorm1d(3), ember.nn.Sequential(ember.nn.BatchNorm2d(2)))
    tfunc.replace_all_batch_norm_modules_(tm)
    efunc.replace_all_batch_norm_modules_(em)
    assert list(em.state_dict()) == list(tm.state_dict()) and repr(em) == repr(tm)
