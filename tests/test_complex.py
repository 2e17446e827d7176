"""Complex tensors: dtypes, promotion, creation, printing, ops, refusals, autograd and checkpoints,
against fixed values, float64 central differences and real torch."""
import pickle
import warnings

import numpy as np
import pytest

import ember
from tests.conftest import numeric_grad, requires_torch, torch

rng = np.random.default_rng(0)


def cz(*shape):
    return rng.standard_normal(shape) + 1j * rng.standard_normal(shape)


def name(dtype):
    return str(dtype).split(".")[-1]


def rep(t):
    return repr(t).replace("ember.", "torch.")


def host(t):
    """A tensor's values as NumPy (torch's lazy conj resolved)."""
    if torch is not None and isinstance(t, torch.Tensor):
        return t.detach().resolve_conj().numpy()
    return t.detach().numpy()


# ---- dtypes -----------------------------------------------------------------------------------
def test_dtypes_and_aliases():
    assert ember.cfloat is ember.complex64 and ember.cdouble is ember.complex128
    assert ember.complex64.is_complex and not ember.complex64.is_floating_point
    assert ember.complex64.itemsize == 8 and ember.complex128.itemsize == 16
    assert ember.complex64.to_real() is ember.float32 and ember.complex128.to_real() is ember.float64
    assert ember.float64.to_complex() is ember.complex128 and ember.complex64.to_complex() is ember.complex64
    assert ember.float32.to_real() is ember.float32
    assert rep(ember.complex64) == "torch.complex64"
    assert ember.finfo(ember.complex64) == ember.finfo(ember.float32)
    assert ember.finfo(ember.complex128).eps == np.finfo(np.float64).eps
    with pytest.raises(TypeError):
        ember.iinfo(ember.complex64)
    assert pickle.loads(pickle.dumps(ember.complex128)) is ember.complex128


def test_tensor_type_names_and_predicates():
    z = ember.zeros(2, dtype=ember.complex64)
    assert z.type() == "ember.ComplexFloatTensor"
    assert ember.zeros(1, dtype=ember.cdouble).type() == "ember.ComplexDoubleTensor"
    assert z.is_complex() and ember.is_complex(z) and not z.is_floating_point()
    assert not ember.ones(2).is_complex()
    assert not z.is_conj() and not ember.is_conj(z.conj()) and z.resolve_conj() is z
    assert not hasattr(ember, "ComplexFloatTensor")   # torch has no such legacy constructor either
    c = ember.tensor([1 + 1j, 2 + 0j, complex(3, -0.0)])
    assert ember.isreal(c).tolist() == c.isreal().tolist() == [False, True, True]   # (it said True for all)
    assert ember.isreal(ember.tensor([1.0, float("nan")])).tolist() == [True, True]


def test_tensor_of_python_complex_follows_the_default_dtype():
    assert ember.tensor([1 + 2j]).dtype is ember.complex64
    assert ember.tensor(1j).dtype is ember.complex64
    assert ember.tensor([1, 2.5, 1j]).dtype is ember.complex64
    assert ember.full((2,), 1j).dtype is ember.complex64
    assert ember.get_default_dtype() is ember.float32
    ember.set_default_dtype(ember.float64)
    try:
        assert ember.tensor([1 + 2j]).dtype is ember.complex128
        assert ember.full((2,), 1j).dtype is ember.complex128
    finally:
        ember.set_default_dtype(ember.float32)


@requires_torch
@pytest.mark.parametrize("expr", [
    "f32 + c64", "f64 + c64", "i64 * 1j", "f32 * 1j", "f64 * 1j", "b * 1j", "c64 * 2.5", "c64 * 2", "c128 * f32",
    "f32 + z128", "f64 + z64", "i64 + z128", "c64 / 2", "i64 / c64", "c64 - f64", "c64 ** 2", "2 ** c64",
    "z64 * 2.5", "t(2.5) * 1j", "t(2) * 1j", "c64 + True", "z64 + z128", "f0 * 1j", "c64 @ c64", "c64.sum()",
])
def test_promotion_matches_torch(expr):
    def env(m):
        return {"f32": m.ones(2), "f64": m.ones(2, dtype=m.float64), "c64": m.ones(2, dtype=m.complex64),
                "c128": m.ones(2, dtype=m.complex128), "i64": m.ones(2, dtype=m.int64), "b": m.ones(2, dtype=m.bool),
                "z64": m.tensor(1 + 1j), "z128": m.tensor(1 + 1j, dtype=m.complex128), "t": m.tensor,
                "f0": m.tensor(1.5, dtype=m.float64)}
    got, want = eval(expr, env(ember)), eval(expr, env(torch))
    assert name(got.dtype) == name(want.dtype)
    np.testing.assert_allclose(host(got), host(want))


# ---- creation and conversion --------------------------------------------------------------------
@pytest.mark.parametrize("dtype", ["complex64", "complex128"])
def test_factories_take_complex_dtypes(dtype):
    dt = getattr(ember, dtype)
    for fn in (ember.zeros, ember.ones, ember.empty, ember.rand, ember.randn):
        t = fn(2, 3, dtype=dt)
        assert t.dtype is dt and t.shape == (2, 3)
    assert ember.full((2,), 1 + 1j, dtype=dt).tolist() == [1 + 1j, 1 + 1j]
    assert ember.zeros_like(ember.ones(2, dtype=dt)).dtype is dt


def test_randn_complex_has_variance_one_split_evenly():
    z = ember.randn(200000, dtype=ember.complex128).numpy()
    assert abs(np.var(z.real) - 0.5) < 0.01 and abs(np.var(z.imag) - 0.5) < 0.01
    assert abs(np.mean(np.abs(z) ** 2) - 1) < 0.02


@requires_torch
@pytest.mark.parametrize("fn", ["rand", "randn"])
def test_random_complex_draws_match_torch_stream(fn):
    ember.manual_seed(3)
    torch.manual_seed(3)
    a = getattr(ember, fn)(5, dtype=ember.complex64)
    b = getattr(torch, fn)(5, dtype=torch.complex64)
    np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-6)


def test_conversions():
    z = ember.tensor([1 + 2j, 3 - 4j])
    assert z[1].item() == 3 - 4j and isinstance(z[0].item(), complex)
    assert z.tolist() == [1 + 2j, 3 - 4j]
    assert z.numpy().dtype == np.complex64
    a = np.array([1j, 2], np.complex128)
    t = ember.from_numpy(a)
    assert t.dtype is ember.complex128
    a[0] = 5
    assert t[0].item() == 5   # shares memory
    assert z.to(ember.complex128).dtype is ember.complex128 and z.cdouble().dtype is ember.complex128
    assert ember.tensor([1, 2]).to(ember.cfloat).tolist() == [1, 2]
    assert complex(ember.tensor(2 - 1j)) == 2 - 1j


def test_casting_complex_to_real_warns_and_keeps_the_real_part():
    z = ember.tensor([1 + 2j, -3 + 4j])
    with pytest.warns(UserWarning, match="Casting complex values to real discards the imaginary part"):
        r = z.float()
    assert r.dtype is ember.float32 and r.tolist() == [1, -3]


def test_complex_polar_and_views():
    re, im = ember.tensor([1.0, 2.0]), ember.tensor([3.0, -4.0])
    z = ember.complex(re, im)
    assert z.dtype is ember.complex64 and z.tolist() == [1 + 3j, 2 - 4j]
    p = ember.polar(ember.tensor([2.0], dtype=ember.float64), ember.tensor([np.pi / 2], dtype=ember.float64))
    assert p.dtype is ember.complex128 and abs(p.item() - 2j) < 1e-12
    r = ember.view_as_real(z)
    assert r.shape == (2, 2) and r.dtype is ember.float32
    r[0, 1] = 7.0
    assert z[0].item() == 1 + 7j   # a view
    c = ember.view_as_complex(r)
    c[1] = 0j
    assert z[1].item() == 0
    z.real = ember.tensor([5.0, 6.0])
    z.imag[1] = 9.0
    assert z.tolist() == [5 + 7j, 6 + 9j]
    z.real.mul_(2)
    assert z.real.tolist() == [10, 12]
    assert ember.real(ember.ones(2)).tolist() == [1, 1]


@pytest.mark.parametrize("call, exc, match", [
    (lambda: ember.complex(ember.tensor([1]), ember.tensor([2])), RuntimeError, "Float or Double"),
    (lambda: ember.complex(ember.ones(1), ember.ones(1, dtype=ember.float64)), RuntimeError, "scalar type"),
    (lambda: ember.view_as_real(ember.ones(2)), RuntimeError, "only supported for complex tensors"),
    (lambda: ember.view_as_complex(ember.ones(3)), RuntimeError, "last dimension of size 2"),
    (lambda: ember.view_as_complex(ember.ones(2, 4)[:, ::2]), RuntimeError, "stride 1"),
    (lambda: ember.ones(2).imag, RuntimeError, "non-complex"),
    (lambda: ember.tensor(1 + 1j, requires_grad=True).backward(), RuntimeError, "real scalar outputs"),
])
def test_errors(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


# ---- printing ---------------------------------------------------------------------------------
PRINT_CASES = [
    "[1+2j, 3-4j]", "[0.1+2j]", "[1e-5+1j, 1000+2j]", "1+2j", "[[1.5+2j, -3j], [float('nan')+1j, float('inf')-2j]]",
    "[1e10+1e-10j]", "[complex(i, -i * 0.37) for i in range(2000)]", "[[1+1j] * 30] * 3", "[-0.0-0.0j, 0.0+0.0j]",
    "[123456.7+0.001j]", "[0.5-0.25j, -2.125+8j]", "[1+1j, 2+2j]",
]
FIXED = [
    ("ember.tensor([1+2j, 3-4j])", "tensor([1.+2.j, 3.-4.j])"),
    ("ember.tensor([0.1+2j])", "tensor([0.1000+2.j])"),
    ("ember.tensor([1+2j], dtype=ember.complex128)", "tensor([1.+2.j], dtype=torch.complex128)"),
    ("ember.tensor(1.5-2.25j, dtype=ember.cdouble)", "tensor(1.5000-2.2500j, dtype=torch.complex128)"),
    ("ember.zeros(0, dtype=ember.complex64)", "tensor([], dtype=torch.complex64)"),
    ("ember.tensor([1e-5+1j, 1000+2j])", "tensor([1.0000e-05+1.j, 1.0000e+03+2.j])"),
]


@pytest.mark.parametrize("expr, want", FIXED)
def test_repr_fixed(expr, want):
    assert rep(eval(expr)) == want


@requires_torch
@pytest.mark.parametrize("data", PRINT_CASES)
@pytest.mark.parametrize("dtype", ["complex64", "complex128"])
def test_repr_matches_torch(data, dtype):
    values = eval(data)
    got = ember.tensor(values, dtype=getattr(ember, dtype))
    want = torch.tensor(values, dtype=getattr(torch, dtype))
    assert rep(got) == repr(want)
    assert str(got).replace("ember.", "torch.") == str(want)


@requires_torch
def test_repr_with_options_and_grad_matches_torch():
    values = [[1.23456 + 1e-3j, -7.5 + 2j], [0.0 + 0j, 1e5 - 1e-5j]]
    for kwargs in ({"precision": 2}, {"sci_mode": False}, {"sci_mode": True}, {"linewidth": 30}):
        ember.set_printoptions(**kwargs)
        torch.set_printoptions(**kwargs)
        try:
            assert rep(ember.tensor(values)) == repr(torch.tensor(values))
        finally:
            ember.set_printoptions(profile="default")
            torch.set_printoptions(profile="default")
    assert rep(ember.tensor([1 + 1j], requires_grad=True)) == repr(torch.tensor([1 + 1j], requires_grad=True))
    z, tz = ember.tensor([1 + 1j], requires_grad=True), torch.tensor([1 + 1j], requires_grad=True)
    assert rep(z * 2) == repr(tz * 2)


# ---- elementwise math, reductions, shapes -----------------------------------------------------
OPS = [
    "z + w", "z - w", "z * w", "z / w", "z + 2.5", "z * (1 - 2j)", "2 / z", "-z", "z.reciprocal()", "z.exp()", "z.log()",
    "z.sqrt()", "z ** 2", "z ** 0.5", "z.pow(w)", "z.sin()", "z.cos()", "z.tanh()", "z.sigmoid()", "z.abs()",
    "z.angle()", "z.sgn()", "z.conj()", "z.conj_physical()", "z.real", "z.imag", "z.sum()", "z.sum(0)", "z.mean()",
    "z.mean(1)", "z.prod()", "z.prod(1)", "z @ w.mT", "torch.mm(z, w.T)", "torch.bmm(z[None], w.T[None])",
    "torch.einsum('ij,kj->ik', z, w)", "torch.cat([z, w])", "torch.stack([z, w])", "z.reshape(3, 2)", "z[1, ::2]",
    "z.T", "z.flip(0)", "z.var()", "z.std(1)", "z.norm()", "z.logsumexp(1)", "z.square()", "z.log1p()",
    "torch.isclose(z, w)", "z == w", "z != z", "torch.isnan(z)", "torch.where(z.real > 0, z, w)", "torch.vdot(z[0], w[0])",
    "torch.dot(z[0], w[0])", "torch.outer(z[0], w[0])", "z.cumsum(1)", "torch.lerp(z, w, 0.25)", "z.masked_fill(z.real > 0, 1j)",
    "torch.angle(torch.tensor([-1.0, 2.0]))", "z.abs().dtype", "torch.complex(z.real, z.imag)",
]


@requires_torch
@pytest.mark.parametrize("expr", OPS)
def test_op_matches_torch(expr):
    z0, w0 = cz(2, 3).astype(np.complex64), cz(2, 3).astype(np.complex64)
    got = eval(expr, {"torch": ember, "z": ember.tensor(z0), "w": ember.tensor(w0)})
    want = eval(expr, {"torch": torch, "z": torch.tensor(z0), "w": torch.tensor(w0)})
    if not isinstance(want, torch.Tensor):
        assert name(got) == name(want)
        return
    assert name(got.dtype) == name(want.dtype) and tuple(got.shape) == tuple(want.shape)
    np.testing.assert_allclose(host(got), host(want), rtol=1e-5, atol=1e-5)


def test_allclose_isclose_on_complex():
    z = ember.tensor([1 + 1j, 2 - 2j])
    assert ember.allclose(z, z + 1e-9j)
    assert not ember.allclose(z, z + 1e-3j)
    assert ember.isclose(z, ember.tensor([1 + 1j, 2 + 2j])).tolist() == [True, False]


REFUSED = [
    ("torch.relu(z)", NotImplementedError, "clamp is not supported for complex types"),
    ("z.clamp(0, 1)", NotImplementedError, "clamp is not supported for complex types"),
    ("z.max()", NotImplementedError, "\"max_all\" not implemented for 'ComplexFloat'"),
    ("z.min()", NotImplementedError, "\"min_all\" not implemented for 'ComplexFloat'"),
    ("z.max(0)", RuntimeError, "max\\(\\): does not support complex input"),
    ("z.min(0)", RuntimeError, "min\\(\\): does not support complex input"),
    ("z.amax()", NotImplementedError, "\"max_values_cpu\" not implemented for 'ComplexFloat'"),
    ("z.argmax()", RuntimeError, "argmax\\(\\): does not support complex input"),
    ("torch.sort(z)", RuntimeError, "Sort does not support complex dtypes on CPU"),
    ("z.argsort()", RuntimeError, "Sort does not support complex dtypes on CPU"),
    ("torch.topk(z, 1)", RuntimeError, "topk does not support complex dtypes on CPU"),
    ("z.median()", NotImplementedError, "\"median_cpu\" not implemented for 'ComplexFloat'"),
    ("z.cummax(0)", NotImplementedError, "\"cummax_cpu\" not implemented for 'ComplexFloat'"),
    ("z.unique()", NotImplementedError, "\"unique\" not implemented for 'ComplexFloat'"),
    ("z < w", NotImplementedError, "\"lt_cpu\" not implemented for 'ComplexFloat'"),
    ("z > w", NotImplementedError, "\"gt_cpu\" not implemented for 'ComplexFloat'"),
    ("z <= w", NotImplementedError, "\"le_cpu\" not implemented for 'ComplexFloat'"),
    ("z >= 1", NotImplementedError, "\"ge_cpu\" not implemented for 'ComplexFloat'"),
    ("z.floor()", NotImplementedError, "floor is not supported for complex inputs"),
    ("z.ceil()", NotImplementedError, "ceil is not supported for complex inputs"),
    ("z.trunc()", NotImplementedError, "trunc is not supported for complex inputs"),
    ("z.round()", NotImplementedError, "\"round_vml_cpu\" not implemented for 'ComplexFloat'"),
    ("z.frac()", NotImplementedError, "\"frac_cpu\" not implemented for 'ComplexFloat'"),
    ("z.sign()", NotImplementedError, "Please use torch.sgn instead"),
    ("torch.maximum(z, w)", RuntimeError, "maximum not implemented for complex tensors"),
    ("torch.minimum(z, w)", RuntimeError, "minimum not implemented for complex tensors"),
    ("torch.erf(z)", NotImplementedError, "\"erf_vml_cpu\" not implemented for 'ComplexFloat'"),
    ("z % 2", NotImplementedError, "\"remainder_cpu\" not implemented for 'ComplexFloat'"),
    ("z.fmod(2)", NotImplementedError, "\"fmod_cpu\" not implemented for 'ComplexFloat'"),
    ("z // 2", NotImplementedError, "\"div_floor_cpu\" not implemented for 'ComplexFloat'"),
    ("z.double().max()", NotImplementedError, "'ComplexDouble'"),
]


@pytest.mark.parametrize("expr, exc, match", REFUSED)
def test_ops_without_complex_kernels_raise_torchs_error(expr, exc, match):
    z, w = ember.tensor([1 + 2j, 3 - 1j]), ember.tensor([2 + 0j, 1j])
    if "double" in expr:
        z = z.to(ember.complex128)
        expr = expr.replace(".double()", "")
    with pytest.raises(exc, match=match):
        eval(expr, {"torch": ember, "z": z, "w": w})


@requires_torch
@pytest.mark.parametrize("expr, exc, match", REFUSED[:-1])
def test_torch_refuses_the_same_ops(expr, exc, match):
    z, w = torch.tensor([1 + 2j, 3 - 1j]), torch.tensor([2 + 0j, 1j])
    with pytest.raises(exc, match=match):
        eval(expr, {"torch": torch, "z": z, "w": w})


# ---- autograd ---------------------------------------------------------------------------------
def test_abs_squared_gradient_is_two_z():
    z0 = np.array([1 + 2j, -3 + 0.5j])
    z = ember.tensor(z0, requires_grad=True)
    (z.abs() ** 2).sum().backward()
    np.testing.assert_allclose(z.grad.numpy(), 2 * z0.astype(np.complex64), rtol=1e-6)


GRADS = {
    "mul": (lambda m, a, b: a * b, [cz(3), cz(3)]),
    "mul_real_by_complex": (lambda m, a, b: a * b, [rng.standard_normal(3), cz(3)]),
    "scalar": (lambda m, a: a * (2 - 3j) + 1j - a / (1 + 1j), [cz(3)]),
    "real_times_j": (lambda m, a: a * 1j + a, [rng.standard_normal(3)]),
    "div": (lambda m, a, b: a / b, [cz(3), cz(3)]),
    "add_sub": (lambda m, a, b: a + 2 * b - a * b.conj(), [cz(3), cz(3)]),
    "exp_log": (lambda m, a: a.exp() + a.log(), [cz(3)]),
    "sqrt_sin_cos_tanh": (lambda m, a: a.sqrt() + a.sin() * a.cos() + a.tanh(), [cz(3)]),
    "reciprocal_sigmoid_neg": (lambda m, a: a.reciprocal() + a.sigmoid() - a, [cz(3)]),
    "pow": (lambda m, a, b: a ** 2 + a.pow(3) + a ** (0.5 + 1j) + a ** b + 2 ** b, [cz(3), cz(3)]),
    "abs_angle": (lambda m, a: a.abs() * 2 + a.angle(), [cz(3)]),
    "sgn": (lambda m, a: a.sgn(), [cz(3)]),
    "conj": (lambda m, a: a.conj() * a + m.conj_physical(a), [cz(3)]),
    "real_imag": (lambda m, a: a.real * 2 + a.imag ** 2, [cz(3)]),
    "sum_mean": (lambda m, a: a.sum(0) + a.mean(1).sum() + a.mean(), [cz(2, 3)]),
    "prod": (lambda m, a: a.prod() + a.prod(1).sum(), [cz(2, 3)]),
    "matmul": (lambda m, a, b: a @ b, [cz(2, 3), cz(3, 4)]),
    "mm_bmm_mv_dot": (lambda m, a, b: m.mm(a, b).sum() + m.bmm(a[None], b[None]).sum() + (a @ b[:, 0]).sum()
                      + m.dot(a[0], b[:, 1]) + m.vdot(a[1], b[:, 0]), [cz(2, 3), cz(3, 2)]),
    "einsum": (lambda m, a, b: m.einsum("ij,jk->ik", a, b), [cz(2, 3), cz(3, 2)]),
    "view_as_real": (lambda m, a: m.view_as_real(a) ** 2, [cz(3)]),
    "view_as_complex": (lambda m, a: m.view_as_complex(a) ** 2, [rng.standard_normal((3, 2))]),
    "complex": (lambda m, a, b: m.complex(a, b) ** 2, [rng.standard_normal(3), rng.standard_normal(3)]),
    "polar": (lambda m, a, b: m.polar(a, b) ** 2, [np.abs(rng.standard_normal(3)) + 0.1, rng.standard_normal(3)]),
    "to_complex": (lambda m, a: a.to(m.complex128) * (1 + 2j), [rng.standard_normal(3)]),
    "shapes": (lambda m, a, b: m.cat([a, b])[1:4] * m.stack([a, b])[1, 0] + a.reshape(3, 1).T.flip(1),
               [cz(3), cz(3)]),
    "var_std_norm_logsumexp": (lambda m, a: a.var() + a.std() + a.norm() + a.logsumexp(0), [cz(5)]),
    "where": (lambda m, a, b: m.where(a.real > 0, a, b), [cz(3), cz(3)]),
    # a real intermediate (sin of exp, var) feeding complex ops: its gradient must be real there
    "real_intermediate": (lambda m, a, b: a.exp().sin() * b + a.var() - b / (a.abs() + 1),
                          [rng.standard_normal(3), cz(3)]),
}


def _run(m, f, inputs, weights_seed=5):
    ts = [m.tensor(x, requires_grad=True) for x in inputs]
    out = f(m, *ts)
    w = np.random.default_rng(weights_seed).standard_normal(tuple(out.shape) + (2,))
    if out.is_complex():
        loss = (out * m.tensor(w[..., 0] + 1j * w[..., 1])).real.sum()
    else:
        loss = (out * m.tensor(w[..., 0])).sum()
    loss.backward()
    return out, ts, loss


@requires_torch
@pytest.mark.parametrize("case", sorted(GRADS))
def test_gradients_match_torch(case):
    f, inputs = GRADS[case]
    out, ts, _ = _run(ember, f, inputs)
    tout, tts, _ = _run(torch, f, inputs)
    assert name(out.dtype) == name(tout.dtype)
    np.testing.assert_allclose(host(out), host(tout), rtol=1e-7, atol=1e-9)
    for t, tt in zip(ts, tts):
        assert name(t.grad.dtype) == name(tt.grad.dtype)
        np.testing.assert_allclose(t.grad.numpy(), host(tt.grad), rtol=1e-7, atol=1e-9)


def _complex_numeric_grad(loss_of, x):
    """torch's convention for a real loss L of complex z = x + iy: grad = dL/dx + i dL/dy."""
    if not np.iscomplexobj(x):
        return numeric_grad(loss_of, x)
    gr = numeric_grad(lambda r: loss_of(r + 1j * x.imag), x.real)
    gi = numeric_grad(lambda i: loss_of(x.real + 1j * i), x.imag)
    return gr + 1j * gi


NEW_FORMULAS = ["abs_angle", "sgn", "view_as_real", "view_as_complex", "complex", "polar", "real_imag", "conj",
                "mul", "div", "pow", "prod", "matmul", "var_std_norm_logsumexp", "real_times_j", "real_intermediate"]


@pytest.mark.parametrize("case", NEW_FORMULAS)
def test_gradients_match_central_differences(case):
    f, inputs = GRADS[case]
    _, ts, _ = _run(ember, f, inputs)
    for k, x in enumerate(inputs):
        def loss_of(v, k=k):
            args = list(inputs)
            args[k] = v
            with ember.no_grad():
                return _run_nograd(f, args)
        np.testing.assert_allclose(ts[k].grad.numpy(), _complex_numeric_grad(loss_of, np.asarray(x)),
                                   rtol=1e-5, atol=1e-6)


def _run_nograd(f, args):
    out = f(ember, *[ember.tensor(a) for a in args])
    w = np.random.default_rng(5).standard_normal(tuple(out.shape) + (2,))
    if out.is_complex():
        return (out * ember.tensor(w[..., 0] + 1j * w[..., 1])).real.sum().item()
    return (out * ember.tensor(w[..., 0])).sum().item()


def test_grad_fn_names():
    z = ember.tensor([1 + 1j], requires_grad=True)
    x = ember.tensor([1.0], requires_grad=True)
    assert z.real.grad_fn.name() == "SelectBackward0" and z.imag.grad_fn.name() == "SelectBackward0"
    names = {"ConjBackward0": z.conj(), "ConjPhysicalBackward0": z.conj_physical(), "AngleBackward0": z.angle(),
             "SgnBackward0": z.sgn(), "AbsBackward0": z.abs(), "ViewAsRealBackward0": ember.view_as_real(z),
             "ViewAsComplexBackward0": ember.view_as_complex(ember.stack([x, x], -1)),
             "ComplexBackward0": ember.complex(x, x), "PolarBackward0": ember.polar(x, x)}
    for want, t in names.items():
        assert t.grad_fn.name() == want


def test_real_leaf_takes_the_real_part_of_a_complex_gradient():
    x = ember.tensor([1.0, 2.0], requires_grad=True)
    (x * (1 + 2j)).real.sum().backward()
    assert x.grad.dtype is ember.float32 and x.grad.tolist() == [1, 1]
    x.grad = None
    (x.to(ember.complex64) * 1j).imag.sum().backward()
    assert x.grad.tolist() == [1, 1]


# ---- checkpoints ------------------------------------------------------------------------------
def test_save_load_round_trip(tmp_path):
    z = ember.tensor([[1 + 2j, 3 - 4j], [0.5j, -1]])
    w = ember.tensor([1 + 1j], dtype=ember.complex128)
    ember.save({"z": z, "w": w, "col": z[:, 1]}, tmp_path / "c.pt")
    d = ember.load(tmp_path / "c.pt")
    assert d["z"].dtype is ember.complex64 and d["z"].tolist() == z.tolist()
    assert d["w"].dtype is ember.complex128 and d["col"].tolist() == [3 - 4j, -1]


@requires_torch
def test_checkpoints_cross_with_torch(tmp_path):
    z = ember.tensor([[1 + 2j, 3 - 4j]])
    ember.save({"z": z, "w": z.to(ember.complex128)}, tmp_path / "e.pt")
    d = torch.load(tmp_path / "e.pt")
    assert d["z"].dtype == torch.complex64 and d["z"].tolist() == z.tolist()
    assert d["w"].dtype == torch.complex128
    t = torch.tensor([[1 + 2j, 3 - 4j]])
    torch.save({"t": t, "u": t.to(torch.complex128)[0, 1:], "c": t.conj()}, tmp_path / "t.pt")
    d = ember.load(tmp_path / "t.pt")
    assert d["t"].dtype is ember.complex64 and d["t"].tolist() == [[1 + 2j, 3 - 4j]]
    assert d["u"].dtype is ember.complex128 and d["u"].tolist() == [3 - 4j]
    assert d["c"].tolist() == [[1 - 2j, 3 + 4j]]   # torch's lazy conj bit, resolved on load


def test_copy_into_real_tensor_warns_as_torch():
    r = ember.zeros(2)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        r.copy_(ember.tensor([1 + 2j, 3 + 0j]))
    assert r.tolist() == [1, 3]
    assert any("discards the imaginary part" in str(x.message) for x in w)


# ---- odds and ends --------------------------------------------------------------------------
def test_conjugate_transposes():
    z = ember.tensor([[1 + 2j, 3j], [1, 2 - 1j]])
    want = [[1 - 2j, 1], [-3j, 2 + 1j]]
    assert z.H.tolist() == want and z.mH.tolist() == want and z.adjoint().tolist() == want
    assert ember.adjoint(z).tolist() == want and z.T.tolist() == [[1 + 2j, 1], [3j, 2 - 1j]]
    assert ember.ones(2, 3).H.shape == (3, 2)


def test_parameter_may_be_complex():
    p = ember.nn.Parameter(ember.zeros(2, dtype=ember.cfloat))
    assert p.requires_grad and p.dtype is ember.complex64
    assert rep(p) == "Parameter containing:\ntensor([0.+0.j, 0.+0.j], requires_grad=True)"


@pytest.mark.parametrize("call, exc, match", [
    (lambda: float(ember.tensor(1 + 1j)), RuntimeError, "cannot be converted to type double"),
    (lambda: int(ember.tensor(1 + 1j)), RuntimeError, "cannot be converted to type int64_t"),
    (lambda: ember.arange(3, dtype=ember.cfloat), NotImplementedError, "\"arange_cpu\" not implemented for 'ComplexFloat'"),
    (lambda: ember.randint(3, (2,), dtype=ember.cfloat), RuntimeError, "check_random_bounds"),
    (lambda: ember.tensor([1 + 1j]).abs_(), RuntimeError, "In-place abs is not supported for complex tensors"),
    (lambda: ember.tensor([1 + 1j], dtype=ember.float32), TypeError, "must be real number, not complex"),
    (lambda: ember.ones(2).add_(1j), RuntimeError, "can't be cast to the desired output type Float"),
    (lambda: ember.set_default_dtype(ember.complex64), TypeError, "only floating-point types"),
])
def test_more_torch_errors(call, exc, match):
    with pytest.raises(exc, match=match):
        call()


def test_misc_values():
    assert float(ember.tensor(2 + 0j)) == 2.0
    assert ember.linspace(0, 1 + 2j, 5, dtype=ember.cfloat).tolist() == [0j, 0.25 + 0.5j, 0.5 + 1j, 0.75 + 1.5j, 1 + 2j]
    assert ember.eye(2, dtype=ember.cfloat).tolist() == [[1, 0], [0, 1]]
    z = ember.zeros(2, dtype=ember.cfloat)
    z.add_(ember.ones(2)).mul_(1j)
    assert z.tolist() == [1j, 1j]
    assert ember.tensor([1j]).sum(dtype=ember.complex128).dtype is ember.complex128


@requires_torch
def test_double_backward_through_complex_ops_matches_torch():
    def run(m):
        z = m.tensor([1 + 2j, 0.5 - 1j], dtype=m.complex128, requires_grad=True)
        y = ((z * z * 2).exp() * z.conj()).real.sum() + (z.abs() ** 2).sum()
        (g,) = m.autograd.grad(y, (z,), create_graph=True)
        (g.real.sum() + g.imag.sum()).backward()
        return z.grad
    np.testing.assert_allclose(run(ember).numpy(), host(run(torch)), rtol=1e-9)


@pytest.mark.parametrize("call", [
    lambda T, z: T.lgamma(z), lambda T, z: T.digamma(z), lambda T, z: T.polygamma(1, z), lambda T, z: T.polygamma(3, z),
    lambda T, z: T.erfinv(z), lambda T, z: T.erfc(z), lambda T, z: T.i0(z), lambda T, z: T.special.i0e(z),
    lambda T, z: T.special.i1(z), lambda T, z: T.special.i1e(z), lambda T, z: T.special.entr(z),
    lambda T, z: T.special.erfcx(z), lambda T, z: T.special.log_ndtr(z), lambda T, z: T.special.ndtri(z),
    lambda T, z: T.logit(z), lambda T, z: T.deg2rad(z), lambda T, z: T.rad2deg(z), lambda T, z: T.nansum(z),
    lambda T, z: T.nanmean(z), lambda T, z: T.special.gammaln(z)])
def test_real_only_functions_refuse_complex_input_as_torch(call):
    # (they computed something from complex input, or dropped its imaginary part)
    def run(T):
        try:
            call(T, T.tensor([1 + 1j, 0.5 - 2j]))
            return "ok"
        except Exception as e:  # noqa: BLE001 - compared with torch's
            return type(e).__name__, str(e)
    got = run(ember)
    assert got != "ok"
    if torch is not None:
        assert got == run(torch)
