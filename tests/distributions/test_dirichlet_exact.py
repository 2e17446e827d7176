"""Dirichlet and Beta draws and gradients as torch computes them: torch._sample_dirichlet (double gammas,
torch's summation order, rounding and clamping), torch._dirichlet_grad (ATen's four approximations) and
the _DirichletBackward node; oracle-free checks against the Beta CDF and hand-computed sums."""
import numpy as np
import pytest

import ember
import ember.distributions as D
from ember.distributions.utils import _dirichlet_grad_array, _sum_last
from tests.conftest import requires_torch, torch

try:
    from scipy.special import betainc, betaincinv, betaln
except ImportError:   # the Beta CDF check needs scipy
    betainc = None

DTYPES = [np.float32, np.float64]


def _ember_dtype(dt):
    return ember.float32 if dt == np.float32 else ember.float64


def _branches(x, alpha, total):
    """ATen's choice among its approximations, by the same tests in the same type."""
    st = x.dtype.type
    boundary = total * x * (st(1) - x)
    small = (x <= 0.5) & (boundary < 2.5)
    near_one = ~small & (x >= 0.5) & (boundary < 0.75)
    mid = ~(small | near_one) & (alpha > 6) & (total - alpha > 6)
    return {"alpha_small": small, "beta_small": near_one, "alpha_mid": mid,
            "rational": ~(small | near_one | mid)}


def _grid():
    xs = np.concatenate([np.geomspace(1e-6, 0.5, 25), np.linspace(0.01, 0.99, 40), 1 - np.geomspace(1e-6, 0.5, 25)])
    ab = np.geomspace(0.01, 200, 24)
    x, a, b = np.meshgrid(xs, ab, ab, indexing="ij")
    return x.ravel(), a.ravel(), (a + b).ravel()


# ---- oracle-free ------------------------------------------------------------------------------
@pytest.mark.parametrize("dt", DTYPES)
def test_samples_lie_on_the_simplex(dt):
    conc = ember.tensor(np.array([[0.01, 0.5, 3.0, 40.0], [1.0, 1.0, 1.0, 1.0], [1e-3, 1e-3, 1e-3, 1e3]], dt))
    ember.manual_seed(0)
    x = ember._sample_dirichlet(conc.expand(5, 3, 4))
    assert x.dtype == _ember_dtype(dt) and x.shape == (5, 3, 4) and not x.requires_grad
    v = x.numpy()
    eps = np.finfo(dt).eps
    np.testing.assert_allclose(v.astype(np.float64).sum(-1), 1.0, rtol=0, atol=4 * eps)
    assert (v >= np.finfo(dt).tiny).all() and (v < 1).all()
    # a row whose gammas all underflow is clamped to DBL_MIN each: equal parts
    np.testing.assert_array_equal(ember._sample_dirichlet(ember.tensor(np.zeros(4, dt))).numpy(), np.full(4, 0.25, dt))
    # a single category: the largest value below 1 (torch's clamp), not 1
    assert ember._sample_dirichlet(ember.tensor(np.array([2.0], dt))).item() == np.nextafter(dt(1), dt(0))


def test_sum_order_hand_computed():
    # torch adds 4 doubles (8 floats) per lane, then the lanes: the two large values cancel inside
    # lane 0 before the ones meet them, so nothing is lost (added in order: 3, not 6)
    a = np.array([1e16, 1, 1, 1, -1e16, 1, 1, 1])
    assert _sum_last(np, a)[0] == 6.0
    assert ((((a[0] + a[1]) + a[2]) + a[3]) + a[4]) + a[5] + a[6] + a[7] == 3.0
    f = np.zeros(16, np.float32)
    f[0], f[8], f[1:8], f[9:] = 1e9, -1e9, 1, 1
    assert _sum_last(np, f)[0] == 14.0
    # fewer values than a vector: one by one
    assert _sum_last(np, np.array([[1e16, 1.0, 1.0]]))[0, 0] == 1e16


@pytest.mark.skipif(betainc is None, reason="scipy (the Beta CDF) is not installed")
def test_dirichlet_grad_matches_beta_cdf_derivative():
    # for x ~ Beta(a, b): dx/da = -(dF/da)(x) / f(x); _dirichlet_grad is that over (1 - x), with total = a + b
    a, b = np.meshgrid(np.geomspace(0.05, 80, 30), np.geomspace(0.05, 80, 30), indexing="ij")
    u = np.array([0.02, 0.1, 0.3, 0.5, 0.7, 0.9, 0.98])
    a, b, u = (v.ravel() for v in np.broadcast_arrays(a[..., None], b[..., None], u))
    x = betaincinv(a, b, u)
    keep = (x > 1e-5) & (x < 1 - 1e-5)
    x, a, b = x[keep], a[keep], b[keep]
    h = 1e-6 * a
    dF = (betainc(a + h, b, x) - betainc(a - h, b, x)) / (2 * h)
    pdf = np.exp((a - 1) * np.log(x) + (b - 1) * np.log1p(-x) - betaln(a, b))
    want = -dF / pdf / (1 - x)
    got = ember._dirichlet_grad(ember.tensor(x), ember.tensor(a), ember.tensor(a + b)).numpy()
    # the series are truncated after 8-10 terms; the saddle point and rational fits are good to ~0.2 %
    tol = {"alpha_small": 1e-3, "beta_small": 1e-3, "alpha_mid": 5e-3, "rational": 5e-3}
    for name, m in _branches(x, a, a + b).items():
        assert m.sum() > 50, name
        np.testing.assert_allclose(got[m], want[m], rtol=tol[name], err_msg=name)


def test_dirichlet_backward_formula_and_grad_fn():
    conc = ember.tensor([[0.7, 2.0, 9.0], [12.0, 15.0, 0.2]], dtype=ember.float64, requires_grad=True)
    ember.manual_seed(3)
    x = D.Dirichlet(conc).rsample((4,))
    assert x.grad_fn.name() == "_DirichletBackward"
    assert repr(x.grad_fn).startswith("<torch.autograd.function._DirichletBackward object at 0x")
    assert x.grad_fn.next_functions[0][0].name() == "ExpandBackward0"
    w = np.random.default_rng(0).standard_normal((4, 2, 3))
    (x * ember.tensor(w)).sum().backward()
    xv, c = x.detach().numpy(), np.broadcast_to(conc.detach().numpy(), (4, 2, 3))
    g = _dirichlet_grad_array(xv, c, np.broadcast_to(c.sum(-1, keepdims=True), c.shape))
    want = (g * (w - (xv * w).sum(-1, keepdims=True))).sum(0)
    np.testing.assert_allclose(conc.grad.numpy(), want, rtol=1e-12)
    # Beta's draw is the first coordinate of a two-category Dirichlet draw
    ember.manual_seed(3)
    b = D.Beta(ember.tensor([0.5, 4.0]), ember.tensor([2.0, 30.0])).rsample((3,))
    ember.manual_seed(3)
    d = D.Dirichlet(ember.tensor([[0.5, 2.0], [4.0, 30.0]])).rsample((3,))
    np.testing.assert_array_equal(b.numpy(), d.numpy()[..., 0])
    assert not D.Dirichlet(conc).sample().requires_grad


def test_private_ops_errors_and_no_derivative():
    with pytest.raises(NotImplementedError, match="\"dirichlet\" not implemented for 'Long'"):
        ember._sample_dirichlet(ember.tensor([1, 2]))
    x = ember.tensor([0.2, 0.3, 0.5])
    with pytest.raises(RuntimeError, match="Found dtype Double but expected Float"):
        ember._dirichlet_grad(x, x.double(), x)
    c = ember.tensor([1.0, 2.0], requires_grad=True)
    s = ember._sample_dirichlet(c)
    assert s.requires_grad and s.grad_fn.name() == "torch::autograd::NotImplemented"
    with pytest.raises(RuntimeError, match="derivative for aten::_sample_dirichlet is not implemented"):
        s.sum().backward()


# ---- against torch ----------------------------------------------------------------------------
@requires_torch
@pytest.mark.parametrize("dt", DTYPES)
def test_sample_dirichlet_equals_torch(dt):
    rng = np.random.default_rng(1)
    for k in (2, 3, 5, 8, 9, 17, 33, 50):
        for shape, scale in (((k,), 0.01), ((k,), 1.0), ((3, k), 0.3), ((2, 2, k), 25.0), ((4, k), 3e3)):
            c = (rng.uniform(0.2, 3.0, shape) * scale).astype(dt)
            torch.manual_seed(k)
            want = torch._sample_dirichlet(torch.from_numpy(c)).numpy()
            ember.manual_seed(k)
            got = ember._sample_dirichlet(ember.tensor(c)).numpy()
            assert got.dtype == want.dtype
            np.testing.assert_array_equal(got, want, err_msg=f"k={k} shape={shape} scale={scale}")
            assert ember.rand(2).numpy().tolist() == torch.rand(2).numpy().tolist()   # as many draws
    c = rng.uniform(0.5, 2.0, 1000).astype(dt)   # (the cascade's chunks carried up a level)
    torch.manual_seed(7)
    ember.manual_seed(7)
    np.testing.assert_array_equal(ember._sample_dirichlet(ember.tensor(c)).numpy(),
                                  torch._sample_dirichlet(torch.from_numpy(c)).numpy())


@requires_torch
@pytest.mark.parametrize("dt", DTYPES)
def test_sum_order_equals_torch(dt):
    rng = np.random.default_rng(2)
    threads = ember.get_num_threads()
    ember.set_num_threads(torch.get_num_threads())   # a single long row is split among the threads
    try:
        for k in list(range(1, 70)) + [127, 128, 129, 255, 256, 257, 1000, 4097, 32768, 32769, 70001]:
            a = (rng.standard_normal((1 if k > 5000 else 3, k)) * np.exp(rng.uniform(-15, 15, k))).astype(dt)
            np.testing.assert_array_equal(_sum_last(np, a), torch.from_numpy(a).sum(-1, True).numpy(), err_msg=str(k))
    finally:
        ember.set_num_threads(threads)


@requires_torch
@pytest.mark.parametrize("dt", DTYPES)
def test_dirichlet_grad_equals_torch_on_each_branch(dt):
    x, a, t = (v.astype(dt) for v in _grid())
    want = torch._dirichlet_grad(torch.from_numpy(x), torch.from_numpy(a), torch.from_numpy(t)).numpy()
    got = ember._dirichlet_grad(ember.tensor(x), ember.tensor(a), ember.tensor(t)).numpy()
    assert got.dtype == want.dtype
    for name, m in _branches(x, a, t).items():
        assert m.sum() > 1000, name
        np.testing.assert_allclose(got[m], want[m], rtol=1e-6, atol=0, err_msg=name)


@requires_torch
@pytest.mark.parametrize("dt", DTYPES)
def test_dirichlet_and_beta_rsample_equal_torch(dt):
    rng = np.random.default_rng(4)
    tdt = torch.float32 if dt == np.float32 else torch.float64
    for shape, sample_shape in (((2,), (6,)), ((5,), ()), ((3, 7), (2,)), ((50,), (2,))):
        for scale in (0.05, 1.0, 40.0):
            c = (rng.uniform(0.3, 3.0, shape) * scale).astype(dt)
            w = rng.standard_normal(tuple(sample_shape) + shape).astype(dt)
            tc = torch.tensor(c, requires_grad=True)
            torch.manual_seed(11)
            tx = torch.distributions.Dirichlet(tc).rsample(sample_shape)
            (tx * torch.from_numpy(w)).sum().backward()
            ec = ember.tensor(c, requires_grad=True)
            ember.manual_seed(11)
            ex = D.Dirichlet(ec).rsample(sample_shape)
            (ex * ember.tensor(w)).sum().backward()
            np.testing.assert_array_equal(ex.detach().numpy(), tx.detach().numpy())
            assert ex.grad_fn.name() == tx.grad_fn.name() == "_DirichletBackward"
            np.testing.assert_allclose(ec.grad.numpy(), tc.grad.numpy(), rtol=1e-6, atol=0)
    a1, a0 = np.array([0.2, 2.0, 30.0], dt), np.array([0.7, 5.0, 45.0], dt)
    ta = torch.tensor(a1, requires_grad=True)
    torch.manual_seed(5)
    tb = torch.distributions.Beta(ta, torch.tensor(a0)).rsample((4,))
    tb.sum().backward()
    ea = ember.tensor(a1, requires_grad=True)
    ember.manual_seed(5)
    eb = D.Beta(ea, ember.tensor(a0)).rsample((4,))
    eb.sum().backward()
    assert eb.dtype == _ember_dtype(dt) and tb.dtype == tdt
    np.testing.assert_array_equal(eb.detach().numpy(), tb.detach().numpy())
    np.testing.assert_allclose(ea.grad.numpy(), ta.grad.numpy(), rtol=1e-6, atol=0)


@requires_torch
@pytest.mark.parametrize("alpha", [0.2, 1.0, 2.0])
def test_mixup_cutmix_lambda_equals_torch(alpha):
    # torchvision's MixUp/CutMix draw lam = float(Beta(tensor([alpha]), tensor([alpha])).sample(()))
    from ember.vision.transforms import v2
    ember.manual_seed(9)
    mix, cut = v2.MixUp(alpha=alpha, num_classes=3), v2.CutMix(alpha=alpha, num_classes=3)
    got = [mix._sample_lam() for _ in range(4)] + [cut._sample_lam() for _ in range(4)]
    torch.manual_seed(9)
    dist = torch.distributions.Beta(torch.tensor([alpha]), torch.tensor([alpha]))
    assert got == [float(dist.sample(())) for _ in range(8)]
