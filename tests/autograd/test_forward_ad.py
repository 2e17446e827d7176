"""autograd.forward_ad: dual levels, make_dual/unpack_dual, tangents through op families, errors; against torch."""
import numpy as np
import pytest

import ember
import ember.autograd.forward_ad as fwAD
import ember.nn.functional as F
from tests.conftest import requires_torch, torch

_rng = np.random.default_rng(0)
X = _rng.standard_normal((3, 4))
TX = _rng.standard_normal((3, 4))
W = _rng.standard_normal((5, 4))
B = _rng.standard_normal(5)
IMG = _rng.standard_normal((2, 3, 6, 6))
TIMG = _rng.standard_normal((2, 3, 6, 6))
CW = _rng.standard_normal((4, 3, 3, 3))

# each case: (input array, tangent array, fn(lib, F, dual, tensor))
CASES = {
    "elementwise": (X, TX, lambda L, F_, d, T: L.sin(d) * L.exp(d) + d ** 2 / (1 + d.abs()) - L.tanh(d)),
    "log_sqrt_sigmoid": (X, TX, lambda L, F_, d, T: L.log(d * d + 1) + L.sqrt(d * d + 2) + L.sigmoid(d)),
    "binary_with_plain": (X, TX, lambda L, F_, d, T: d * T(X[::-1].copy()) + L.maximum(d, T(X[:, ::-1].copy()))),
    "matmul": (X, TX, lambda L, F_, d, T: d @ T(W).T),
    "linear": (X, TX, lambda L, F_, d, T: F_.linear(d, T(W), T(B))),
    "reductions": (X, TX, lambda L, F_, d, T: d.sum(1) + d.mean(0).sum() + d.max(dim=1).values + d.norm(dim=1)),
    "views": (X, TX, lambda L, F_, d, T: d.view(12).reshape(2, 6).T.contiguous() * 2 + d.permute(1, 0)[0:2, 0:3].sum()),
    "activations": (X, TX, lambda L, F_, d, T: F_.relu(d) + F_.gelu(d) + F_.softmax(d, dim=1) + F_.log_softmax(d, -1)),
    "conv_pool": (IMG, TIMG, lambda L, F_, d, T: F_.max_pool2d(F_.relu(F_.conv2d(d, T(CW), padding=1)), 2)),
    "loss": (X, TX, lambda L, F_, d, T: F_.cross_entropy(d, L.tensor([0, 3, 1]))),
}


@requires_torch
@pytest.mark.parametrize("name", list(CASES))
def test_tangents_match_torch(name):
    x, tx, fn = CASES[name]
    got = []
    for lib, F_, fw in ((ember, F, fwAD), (torch, torch.nn.functional, torch.autograd.forward_ad)):
        with fw.dual_level():
            d = fw.make_dual(lib.tensor(x), lib.tensor(tx))
            out = fn(lib, F_, d, lib.tensor)
            p, t = fw.unpack_dual(out)
            got.append((p.detach().numpy(), t.numpy(), t.dtype))
    np.testing.assert_allclose(got[0][0], got[1][0], rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(got[0][1], got[1][1], rtol=1e-8, atol=1e-10)
    assert str(got[0][2]).split(".")[1] == str(got[1][2]).split(".")[1]


def test_tangent_matches_finite_differences():
    x, tx = ember.tensor(X), ember.tensor(TX)

    def f(a):
        return F.softmax(a @ a.T, dim=0).sum(1) * a.sin().mean()
    with fwAD.dual_level():
        t = fwAD.unpack_dual(f(fwAD.make_dual(x, tx))).tangent
    eps = 1e-6
    fd = (f(x + eps * tx) - f(x - eps * tx)) / (2 * eps)
    np.testing.assert_allclose(t.numpy(), fd.numpy(), rtol=1e-6, atol=1e-8)


def test_dual_identity_level_scoping_and_named_tuple():
    x, tx = ember.randn(3), ember.randn(3)
    with fwAD.dual_level() as level:
        assert level == 0
        d = fwAD.make_dual(x, tx)
        u = fwAD.unpack_dual(d)
        assert isinstance(u, fwAD.UnpackedDualTensor) and u._fields == ("primal", "tangent")
        assert u.tangent is tx and not u.primal.requires_grad
        assert fwAD.unpack_dual(fwAD.make_dual(x, ember.randn(3, 2)[:, 0])).tangent is not None
        plain = ember.randn(3)
        assert fwAD.unpack_dual(plain).tangent is None
        assert fwAD.unpack_dual(plain * 2 + 1).tangent is None
        out = d * 3
        assert not fwAD.unpack_dual(out).primal.requires_grad
        np.testing.assert_allclose(fwAD.unpack_dual(out).tangent.numpy(), 3 * tx.numpy())
    assert fwAD.unpack_dual(out).tangent is None and fwAD.unpack_dual(d).tangent is None
    assert not d.requires_grad  # back to a plain tensor once the level is gone


def test_primal_requiring_grad_keeps_reverse_mode():
    w = ember.randn(3, requires_grad=True)
    with fwAD.dual_level():
        d = fwAD.make_dual(w, ember.ones(3))
        out = (d * d).sum()
        np.testing.assert_allclose(fwAD.unpack_dual(out).tangent.item(), 2 * w.detach().sum().item(), rtol=1e-6)
        out.backward()
    np.testing.assert_allclose(w.grad.numpy(), 2 * w.detach().numpy(), rtol=1e-6)


def test_modules_with_dual_parameters():
    model = ember.nn.Linear(5, 5)
    inp = ember.randn(16, 5)
    params = dict(model.named_parameters())
    tangents = {n: ember.rand_like(p) for n, p in params.items()}
    with fwAD.dual_level():
        dual = {n: fwAD.make_dual(p, tangents[n]) for n, p in params.items()}
        out = ember.func.functional_call(model, dual, inp)
        jvp = fwAD.unpack_dual(out).tangent
    want = inp @ tangents["weight"].T + tangents["bias"]
    np.testing.assert_allclose(jvp.numpy(), want.numpy(), rtol=1e-5, atol=1e-6)


class _Exp(ember.autograd.Function):
    @staticmethod
    def forward(ctx, foo):
        result = ember.exp(foo)
        ctx.result = result
        return result

    @staticmethod
    def jvp(ctx, g):
        out = g * ctx.result
        del ctx.result
        return out


def test_custom_function_jvp_and_gradcheck_forward_ad():
    primal = ember.randn(4, 3, dtype=ember.float64, requires_grad=True)
    tangent = ember.randn(4, 3)
    with fwAD.dual_level():
        d = fwAD.make_dual(primal, tangent)
        out = _Exp.apply(d * 2).sin()
        t = fwAD.unpack_dual(out).tangent
    e = np.exp(2 * primal.detach().numpy())
    np.testing.assert_allclose(t.numpy(), np.cos(e) * e * 2 * tangent.numpy(), rtol=1e-6)
    assert ember.autograd.gradcheck(_Exp.apply, (primal,), check_forward_ad=True, check_backward_ad=False,
                                    check_undefined_grad=False, check_batched_grad=False)
    assert ember.autograd.gradcheck(lambda a: (a * a).tanh(), (primal,), check_forward_ad=True)


def test_misuse_errors_match_torch():
    with pytest.raises(RuntimeError, match=r"Trying to create a dual Tensor for forward AD but no level exists, "
                                           r"make sure to enter_dual_level\(\) first\."):
        fwAD.make_dual(ember.ones(3), ember.ones(3))
    with pytest.raises(RuntimeError, match=r"Dual level must be a positive number"):
        fwAD.exit_dual_level()
    with fwAD.dual_level():
        with pytest.raises(RuntimeError, match=r"different size than that of the original Tensor, this is not "
                                               r"supported\. Tensor is of size \[3\] while the given forward "
                                               r"gradient is of size \[2\]\."):
            fwAD.make_dual(ember.ones(3), ember.ones(2))
        with pytest.raises(ValueError, match=r"Expected primal to be floating point or complex, but got: "):
            fwAD.make_dual(ember.ones(3, dtype=ember.int64), ember.ones(3))
        with pytest.raises(ValueError, match=r"Expected tangent to be floating point or complex"):
            fwAD.make_dual(ember.ones(3), ember.ones(3, dtype=ember.int64))
        with pytest.raises(RuntimeError, match="Nested forward mode AD is not supported"):
            fwAD.enter_dual_level()
    assert fwAD.unpack_dual(ember.ones(2)).tangent is None


def test_op_without_rule_names_it():
    with fwAD.dual_level():
        d = fwAD.make_dual(ember.randn(3, 2), ember.randn(3, 2))
        out = ember.cdist(d, d + 1)
        with pytest.raises(NotImplementedError, match=r"Trying to use forward AD with cdist that does not support"):
            fwAD.unpack_dual(out)


def test_decorator_form():
    @fwAD.dual_level()
    def f(x, t):
        return fwAD.unpack_dual(fwAD.make_dual(x, t).exp()).tangent
    x, t = ember.randn(3), ember.randn(3)
    np.testing.assert_allclose(f(x, t).numpy(), (x.exp() * t).numpy(), rtol=1e-6)
    assert fwAD._current_level == -1
