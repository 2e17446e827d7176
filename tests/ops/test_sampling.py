"""affine_grid and grid_sample: values and gradients (input and grid) against torch and float64
central differences, in every mode / padding_mode / align_corners; warnings, errors, and the
Spatial Transformer Network of the tutorial end to end."""
import warnings

import numpy as np
import pytest

import ember
import ember.nn.functional as F
from tests.conftest import numeric_grad

RNG = np.random.default_rng(0)
MODES = ["bilinear", "nearest", "bicubic"]
PADS = ["zeros", "border", "reflection"]


def _case(n=2, c=3, h=5, w=7, ho=4, wo=6, spread=1.4, dtype=np.float64):
    x = RNG.standard_normal((n, c, h, w)).astype(dtype)
    g = RNG.uniform(-spread, spread, (n, ho, wo, 2)).astype(dtype)
    return x, g


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("align_corners", [True, False])
@pytest.mark.parametrize("padding_mode", PADS)
@pytest.mark.parametrize("mode", MODES)
def test_grid_sample_matches_torch(oracle, mode, padding_mode, align_corners, dtype):
    x, g = _case(spread=2.5 if padding_mode == "reflection" else 1.4, dtype=dtype)
    tx, tg = oracle.tensor(x, requires_grad=True), oracle.tensor(g, requires_grad=True)
    ex, eg = ember.tensor(x, requires_grad=True), ember.tensor(g, requires_grad=True)
    to = oracle.nn.functional.grid_sample(tx, tg, mode, padding_mode, align_corners)
    eo = F.grid_sample(ex, eg, mode, padding_mode, align_corners)
    assert tuple(eo.shape) == tuple(to.shape) and eo.dtype == ex.dtype
    assert eo.grad_fn.name() == to.grad_fn.name() == "GridSampler2DBackward0"
    tol = dict(rtol=1e-10, atol=1e-10) if dtype == np.float64 else dict(rtol=1e-4, atol=1e-5)
    if mode == "bicubic" and dtype == np.float32:  # 16 taps: torch's fused multiply-adds round differently
        tol = dict(rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(eo.detach().numpy(), to.detach().numpy(), **tol)
    w = RNG.standard_normal(tuple(to.shape)).astype(dtype)
    to.backward(oracle.tensor(w))
    eo.backward(ember.tensor(w))
    assert ex.grad.dtype == ex.dtype and eg.grad.dtype == eg.dtype
    np.testing.assert_allclose(ex.grad.numpy(), tx.grad.numpy(), **tol)
    np.testing.assert_allclose(eg.grad.numpy(), tg.grad.numpy(), **tol)


@pytest.mark.parametrize("align_corners", [True, False])
@pytest.mark.parametrize("padding_mode", PADS)
def test_grid_sample_bilinear_central_differences(padding_mode, align_corners):
    x, g = _case(n=1, c=2, h=3, w=4, ho=2, wo=3, spread=2.2)
    w = RNG.standard_normal((1, 2, 2, 3))

    def loss(xa, ga):
        return float((F.grid_sample(ember.tensor(xa), ember.tensor(ga), "bilinear", padding_mode,
                                    align_corners).numpy() * w).sum())

    ex, eg = ember.tensor(x, requires_grad=True), ember.tensor(g, requires_grad=True)
    (F.grid_sample(ex, eg, "bilinear", padding_mode, align_corners) * ember.tensor(w)).sum().backward()
    np.testing.assert_allclose(ex.grad.numpy(), numeric_grad(lambda a: loss(a, g), x), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(eg.grad.numpy(), numeric_grad(lambda a: loss(x, a), g), rtol=1e-6, atol=1e-7)


def test_grid_sample_nearest_gradients():
    x, g = _case(n=1, c=2, h=3, w=4, ho=2, wo=3)
    ex, eg = ember.tensor(x, requires_grad=True), ember.tensor(g, requires_grad=True)
    w = RNG.standard_normal((1, 2, 2, 3))
    (F.grid_sample(ex, eg, "nearest", "zeros", False) * ember.tensor(w)).sum().backward()
    num = numeric_grad(lambda a: float((F.grid_sample(ember.tensor(a), ember.tensor(g), "nearest", "zeros",
                                                      False).numpy() * w).sum()), x)
    np.testing.assert_allclose(ex.grad.numpy(), num, atol=1e-7)
    np.testing.assert_array_equal(eg.grad.numpy(), 0)  # torch: nearest has no grid gradient


def test_grid_sample_known_values():
    # the identity grid reproduces the input; a half-pixel shift averages neighbours
    x = ember.arange(12.).reshape(1, 1, 3, 4)
    theta = ember.tensor([[[1., 0., 0.], [0., 1., 0.]]])
    for ac in (True, False):
        grid = F.affine_grid(theta, (1, 1, 3, 4), align_corners=ac)
        np.testing.assert_allclose(F.grid_sample(x, grid, align_corners=ac).numpy(), x.numpy(), atol=1e-6)
    grid = ember.tensor([[[[-1.0, -1.0], [1.0, 1.0], [-1 / 3, -1.0]]]])  # align_corners=True: x = 0, 3, 1
    out = F.grid_sample(x, grid, align_corners=True)
    np.testing.assert_allclose(out.numpy().ravel(), [0, 11, 1], atol=1e-6)
    out = F.grid_sample(x, ember.tensor([[[[-1.0, -1.0]]]]), align_corners=False)  # pixel (-0.5, -0.5)
    np.testing.assert_allclose(out.numpy().ravel(), [0 / 4], atol=1e-6)


@pytest.mark.filterwarnings("ignore:Since version 1.3.0")  # unit-size grid with align_corners=True
@pytest.mark.parametrize("align_corners", [True, False])
@pytest.mark.parametrize("size", [(2, 3, 4, 5), (2, 1, 1, 6), (2, 3, 2, 4, 5)])
def test_affine_grid_matches_torch(oracle, size, align_corners):
    th = RNG.standard_normal((2, len(size) - 2, len(size) - 1))
    tt, et = oracle.tensor(th, requires_grad=True), ember.tensor(th, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        to = oracle.nn.functional.affine_grid(tt, size, align_corners)
        eo = F.affine_grid(et, size, align_corners)
    assert tuple(eo.shape) == tuple(to.shape)
    assert eo.grad_fn.name() == to.grad_fn.name() == "AffineGridGeneratorBackward0"
    np.testing.assert_allclose(eo.detach().numpy(), to.detach().numpy(), rtol=1e-12, atol=1e-12)
    w = RNG.standard_normal(tuple(to.shape))
    to.backward(oracle.tensor(w))
    eo.backward(ember.tensor(w))
    np.testing.assert_allclose(et.grad.numpy(), tt.grad.numpy(), rtol=1e-12, atol=1e-12)
    # and the float32 path
    o32 = F.affine_grid(ember.tensor(th.astype(np.float32)), size, align_corners)
    t32 = oracle.nn.functional.affine_grid(oracle.tensor(th.astype(np.float32)), size, align_corners)
    assert o32.dtype == ember.float32
    np.testing.assert_allclose(o32.numpy(), t32.numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("align_corners", [True, False])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("size", [(3, 1, 5, 5), (2, 1, 28, 28), (2, 1, 64, 48), (2, 1, 4, 5, 6)])
def test_affine_grid_has_torchs_bits(oracle, size, dtype, align_corners):
    # an ulp off torch moves grid points that sit on a pixel edge to its other side, where grid_sample's
    # gradient jumps: the STN tutorial's theta.grad then differs in its first digit
    th = RNG.standard_normal((size[0], len(size) - 2, len(size) - 1)).astype(dtype)
    to = oracle.nn.functional.affine_grid(oracle.tensor(th), size, align_corners=align_corners).numpy()
    eo = F.affine_grid(ember.tensor(th), size, align_corners=align_corners).numpy()
    np.testing.assert_array_equal(eo, to)


def test_grid_sample_gradient_at_a_pixel_edge_matches_torch(oracle):
    # the grid point (-0.35, -0.4) of this theta lands on row 1.0 exactly in torch (one ulp above with BLAS)
    x = RNG.random((1, 1, 5, 5))
    th = [[[0.9, 0.1, 0.05], [-0.1, 1.1, 0.0]]]
    grads = []
    for lib, fn in ((oracle, oracle.nn.functional), (ember, F)):
        theta = lib.tensor(th, dtype=lib.float64, requires_grad=True)
        grid = fn.affine_grid(theta, (1, 1, 5, 5), align_corners=False)
        fn.grid_sample(lib.tensor(x), grid, align_corners=False).sum().backward()
        grads.append(theta.grad.numpy())
    np.testing.assert_allclose(grads[1], grads[0], rtol=1e-12, atol=1e-12)


def test_affine_grid_central_differences():
    th = RNG.standard_normal((2, 2, 3))
    w = RNG.standard_normal((2, 3, 4, 2))
    et = ember.tensor(th, requires_grad=True)
    (F.affine_grid(et, (2, 1, 3, 4), align_corners=False) * ember.tensor(w)).sum().backward()
    num = numeric_grad(lambda a: float((F.affine_grid(ember.tensor(a), (2, 1, 3, 4), False).numpy() * w).sum()), th)
    np.testing.assert_allclose(et.grad.numpy(), num, rtol=1e-7, atol=1e-8)


def test_align_corners_default_warns_at_caller():
    x, g = _case(dtype=np.float32)
    with pytest.warns(UserWarning, match="align_corners=False since 1.3.0") as rec:
        F.grid_sample(ember.tensor(x), ember.tensor(g))
    assert rec[0].filename == __file__
    with pytest.warns(UserWarning, match="align_corners=False since 1.3.0") as rec:
        F.affine_grid(ember.zeros(2, 2, 3), (2, 3, 4, 5))
    assert rec[0].filename == __file__


def test_grid_sample_only_one_input_needs_grad():
    x, g = _case()
    eg = ember.tensor(g, requires_grad=True)
    F.grid_sample(ember.tensor(x), eg, align_corners=False).sum().backward()
    assert eg.grad is not None and eg.grad.shape == eg.shape
    ex = ember.tensor(x, requires_grad=True)
    F.grid_sample(ex, ember.tensor(g), align_corners=False).sum().backward()
    assert ex.grad.shape == ex.shape
    with ember.no_grad():
        assert F.grid_sample(ex, eg, align_corners=False).grad_fn is None


def test_grid_sample_saved_input_modified_in_place():
    x, g = _case()
    ex = ember.tensor(x, requires_grad=True)
    y = ex * 1
    out = F.grid_sample(y, ember.tensor(g), align_corners=False)
    y.add_(1)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        out.sum().backward()


def _errors(mod, torchlike):
    t = torchlike
    f = mod.nn.functional
    cases = [
        lambda: f.grid_sample(t.zeros(1, 1, 3, 3), t.zeros(1, 2, 2, 2), mode="cubic", align_corners=False),
        lambda: f.grid_sample(t.zeros(1, 1, 3, 3), t.zeros(1, 2, 2, 2), padding_mode="wrap", align_corners=False),
        lambda: f.grid_sample(t.zeros(1, 1, 3, 3), t.zeros(1, 2, 2, 3), align_corners=False),
        lambda: f.grid_sample(t.zeros(2, 1, 3, 3), t.zeros(1, 2, 2, 2), align_corners=False),
        lambda: f.grid_sample(t.zeros(1, 1, 3, 3), t.zeros(1, 2, 2, 2, dtype=t.float64), align_corners=False),
        lambda: f.grid_sample(t.zeros(1, 1, 3, 3), t.zeros(1, 2, 2), align_corners=False),
        lambda: f.affine_grid(t.zeros(1, 3, 3), (1, 1, 3, 3), align_corners=False),
        lambda: f.affine_grid(t.zeros(1, 2, 3), (1, 3, 3), align_corners=False),
        lambda: f.affine_grid(t.zeros(1, 2, 3, dtype=t.int64), (1, 1, 3, 3), align_corners=False),
        lambda: f.affine_grid(t.zeros(1, 2, 3), (1, 1, 0, 3), align_corners=False),
    ]
    out = []
    for c in cases:
        with pytest.raises(Exception) as e:
            c()
        out.append((type(e.value).__name__, str(e.value)))
    return out


def test_errors_match_torch(oracle):
    for (et, em), (tt, tm) in zip(_errors(ember, ember), _errors(oracle, oracle)):
        assert et == tt, (em, tm)
        if "same dtype" in em:  # torch's CPU kernel says "expected scalar type Float but found Double"
            assert "float32" in em and "float64" in em
            continue
        assert em.replace("ember.", "torch.") == tm, (em, tm)


@pytest.mark.parametrize("align_corners", [True, False])
@pytest.mark.parametrize("padding_mode", PADS)
def test_grid_sample_bicubic_central_differences(padding_mode, align_corners):
    x, g = _case(n=1, c=2, h=4, w=5, ho=2, wo=3, spread=1.8)
    w = RNG.standard_normal((1, 2, 2, 3))

    def loss(xa, ga):
        return float((F.grid_sample(ember.tensor(xa), ember.tensor(ga), "bicubic", padding_mode,
                                    align_corners).numpy() * w).sum())

    ex, eg = ember.tensor(x, requires_grad=True), ember.tensor(g, requires_grad=True)
    (F.grid_sample(ex, eg, "bicubic", padding_mode, align_corners) * ember.tensor(w)).sum().backward()
    np.testing.assert_allclose(ex.grad.numpy(), numeric_grad(lambda a: loss(a, g), x), rtol=1e-6, atol=1e-7)
    if padding_mode == "zeros":  # border/reflection clip the taps: the grid gradient ignores that, as torch's
        np.testing.assert_allclose(eg.grad.numpy(), numeric_grad(lambda a: loss(x, a), g), rtol=1e-5, atol=1e-6)


def test_grid_sample_bicubic_reproduces_pixels_and_constants():
    # at pixel centres the cubic kernel is 1 at the centre tap and 0 elsewhere; a constant stays constant inside
    x = ember.tensor(RNG.standard_normal((1, 2, 4, 5)))
    ys, xs = np.meshgrid(np.linspace(-1, 1, 4), np.linspace(-1, 1, 5), indexing="ij")
    grid = ember.tensor(np.stack([xs, ys], -1)[None])
    np.testing.assert_allclose(F.grid_sample(x, grid, "bicubic", "zeros", True).numpy(), x.numpy(), atol=1e-12)
    flat = ember.full((1, 1, 6, 6), 3.0, dtype=ember.float64)
    c = F.grid_sample(flat, ember.tensor(RNG.uniform(-1, 1, (1, 3, 3, 2))), "bicubic", "border", False)
    np.testing.assert_allclose(c.numpy(), 3.0, atol=1e-12)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("align_corners", [True, False])
@pytest.mark.parametrize("padding_mode", PADS)
@pytest.mark.parametrize("mode", ["bilinear", "nearest"])
def test_grid_sample_volumetric_matches_torch(oracle, mode, padding_mode, align_corners, dtype):
    # 5-D input (N, C, D, H, W) at a grid (N, D_out, H_out, W_out, 3) of (x, y, z): trilinear over 8 corners
    x = RNG.standard_normal((2, 3, 4, 5, 6)).astype(dtype)
    spread = 2.5 if padding_mode == "reflection" else 1.3
    g = RNG.uniform(-spread, spread, (2, 3, 4, 2, 3)).astype(dtype)
    tx, tg = oracle.tensor(x, requires_grad=True), oracle.tensor(g, requires_grad=True)
    ex, eg = ember.tensor(x, requires_grad=True), ember.tensor(g, requires_grad=True)
    to = oracle.nn.functional.grid_sample(tx, tg, mode, padding_mode, align_corners)
    eo = F.grid_sample(ex, eg, mode, padding_mode, align_corners)
    assert tuple(eo.shape) == tuple(to.shape) == (2, 3, 3, 4, 2) and eo.dtype == ex.dtype
    assert eo.grad_fn.name() == to.grad_fn.name() == "GridSampler3DBackward0"
    tol = dict(rtol=1e-10, atol=1e-10) if dtype == np.float64 else dict(rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(eo.detach().numpy(), to.detach().numpy(), **tol)
    w = RNG.standard_normal(tuple(to.shape)).astype(dtype)
    to.backward(oracle.tensor(w))
    eo.backward(ember.tensor(w))
    np.testing.assert_allclose(ex.grad.numpy(), tx.grad.numpy(), **tol)
    np.testing.assert_allclose(eg.grad.numpy(), tg.grad.numpy(), **tol)


@pytest.mark.parametrize("align_corners", [True, False])
@pytest.mark.parametrize("padding_mode", PADS)
def test_grid_sample_volumetric_central_differences(padding_mode, align_corners):
    x = RNG.standard_normal((1, 2, 3, 3, 4))
    g = RNG.uniform(-2.2, 2.2, (1, 2, 1, 2, 3))
    w = RNG.standard_normal((1, 2, 2, 1, 2))

    def loss(xa, ga):
        return float((F.grid_sample(ember.tensor(xa), ember.tensor(ga), "bilinear", padding_mode,
                                    align_corners).numpy() * w).sum())

    ex, eg = ember.tensor(x, requires_grad=True), ember.tensor(g, requires_grad=True)
    (F.grid_sample(ex, eg, "bilinear", padding_mode, align_corners) * ember.tensor(w)).sum().backward()
    np.testing.assert_allclose(ex.grad.numpy(), numeric_grad(lambda a: loss(a, g), x), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(eg.grad.numpy(), numeric_grad(lambda a: loss(x, a), g), rtol=1e-6, atol=1e-7)


def test_grid_sample_volumetric_identity_and_errors(oracle):
    x = ember.arange(60.).reshape(1, 1, 3, 4, 5)
    theta = ember.tensor([[[1., 0., 0., 0.], [0., 1., 0., 0.], [0., 0., 1., 0.]]])
    for ac in (True, False):
        grid = F.affine_grid(theta, (1, 1, 3, 4, 5), align_corners=ac)
        np.testing.assert_allclose(F.grid_sample(x, grid, align_corners=ac).numpy(), x.numpy(), atol=1e-5)
    cases = [(lambda m: m.nn.functional.grid_sample(m.zeros(1, 1, 3, 3, 3), m.zeros(1, 2, 2, 2, 3), "bicubic",
                                                    align_corners=False), RuntimeError,
              "grid_sampler(): bicubic interpolation only supports 4D input"),
             (lambda m: m.nn.functional.grid_sample(m.zeros(1, 1, 3, 3, 3, dtype=m.int32),
                                                    m.zeros(1, 2, 2, 2, 3, dtype=m.int32), align_corners=False),
              NotImplementedError, "\"grid_sampler3d_cpu\" not implemented for 'Int'"),
             (lambda m: m.nn.functional.grid_sample(m.zeros(1, 1, 3, 3, dtype=m.int32),
                                                    m.zeros(1, 2, 2, 2, dtype=m.int32), align_corners=False),
              NotImplementedError, "\"grid_sampler_2d_cpu_kernel_impl\" not implemented for 'Int'")]
    for fn, exc, msg in cases:
        for lib in (oracle, ember):
            with pytest.raises(exc) as e:
                fn(lib)
            assert str(e.value).startswith(msg), (lib.__name__, e.value)


STN_SRC = '''
class Net(nn.Module):
    def __init__(self):
        super(Net, self).__init__()
        self.localization = nn.Sequential(nn.Conv2d(1, 8, kernel_size=7), nn.MaxPool2d(2, stride=2), nn.ReLU(True),
                                          nn.Conv2d(8, 10, kernel_size=5), nn.MaxPool2d(2, stride=2), nn.ReLU(True))
        self.fc_loc = nn.Sequential(nn.Linear(10 * 3 * 3, 32), nn.ReLU(True), nn.Linear(32, 3 * 2))
        self.fc_loc[2].weight.data.zero_()
        self.fc_loc[2].bias.data.copy_(torch.tensor([1, 0, 0, 0, 1, 0], dtype=torch.float))

    def forward(self, x):
        xs = self.localization(x)
        xs = xs.view(-1, 10 * 3 * 3)
        theta = self.fc_loc(xs)
        theta = theta.view(-1, 2, 3)
        grid = F.affine_grid(theta, x.size())
        return F.grid_sample(x, grid)
'''


def _stn(mod):
    ns = {"torch": mod, "nn": mod.nn, "F": mod.nn.functional}
    exec(STN_SRC, ns)
    return ns["Net"]()


def test_spatial_transformer_tutorial_matches_torch(oracle):
    # float64: float32 rounding, amplified through theta -> grid -> grid_sample, would blur the comparison
    tnet, enet = _stn(oracle).double(), _stn(ember).double()
    sd = {k: v.detach().numpy() + 0.05 * RNG.standard_normal(v.shape)
          for k, v in tnet.state_dict().items()}  # off the identity so grid_sample really moves pixels
    tnet.load_state_dict({k: oracle.tensor(v) for k, v in sd.items()})
    enet.load_state_dict({k: ember.tensor(v) for k, v in sd.items()})
    x = RNG.standard_normal((3, 1, 28, 28))
    tx, ex = oracle.tensor(x, requires_grad=True), ember.tensor(x, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        to, eo = tnet(tx), enet(ex)
    np.testing.assert_allclose(eo.detach().numpy(), to.detach().numpy(), rtol=1e-9, atol=1e-10)
    to.square().sum().backward()
    eo.square().sum().backward()
    np.testing.assert_allclose(ex.grad.numpy(), tx.grad.numpy(), rtol=1e-9, atol=1e-10)
    for (name, tp), ep in zip(tnet.named_parameters(), enet.parameters()):
        np.testing.assert_allclose(ep.grad.numpy(), tp.grad.numpy(), rtol=1e-9, atol=1e-10, err_msg=name)
