"""ember.vision.ops: RoI ops (roi_align, roi_pool, ps_roi_align, ps_roi_pool, MultiScaleRoIAlign), deform_conv2d,
FrozenBatchNorm2d, DropBlock and the FeaturePyramidNetwork.

torchvision's C kernels do not load here, so the RoI ops and deform_conv2d are checked against slow float64
loop references written below from the CPU kernels' documented semantics, and their gradients against float64
central differences.  Where the real torchvision imports (EMBER_TORCHVISION_PATH), its pure-Python parts are
the oracle too: _roi_align, the modules' reprs, FrozenBatchNorm2d, seeded DropBlock, the FPN with copied
weights and MultiScaleRoIAlign's level mapping.
"""
import importlib
import math
from collections import OrderedDict
from decimal import ROUND_HALF_UP, Decimal

import numpy as np
import pytest

import ember
from ember import nn
from ember.vision.ops.deform_conv import DeformConv2d, deform_conv2d
from ember.vision.ops.drop_block import DropBlock2d, DropBlock3d, drop_block2d, drop_block3d
from ember.vision.ops.feature_pyramid_network import (ExtraFPNBlock, FeaturePyramidNetwork, LastLevelMaxPool,
                                                      LastLevelP6P7)
from ember.vision.ops.misc import FrozenBatchNorm2d
from ember.vision.ops.poolers import LevelMapper, MultiScaleRoIAlign, _infer_scale, _setup_scales
from ember.vision.ops.ps_roi_align import PSRoIAlign, ps_roi_align
from ember.vision.ops.ps_roi_pool import PSRoIPool, ps_roi_pool
from ember.vision.ops.roi_align import RoIAlign, roi_align
from ember.vision.ops.roi_pool import RoIPool, roi_pool
from tests.conftest import numeric_grad, real_torchvision, torch
from tests.cuda.conftest import fake_cuda  # noqa: F401 (the NumPy-backed 'cuda' device, a fixture)

# the modules themselves: ember.vision.ops.roi_align is the function, as in torchvision
roi_align_mod = importlib.import_module("ember.vision.ops.roi_align")
roi_pool_mod = importlib.import_module("ember.vision.ops.roi_pool")

tv = real_torchvision("torchvision.ops")
requires_tv = pytest.mark.skipif(tv is None, reason="torchvision is not importable")
FLT_MAX = float(np.finfo(np.float32).max)


# ---- float64 loop references (torchvision's CPU kernels, one sample at a time) -------------------
def c_round(v):
    """C's round(): halves away from zero."""
    return int(Decimal(float(v)).quantize(Decimal(0), rounding=ROUND_HALF_UP))


def bilinear_taps(H, W, y, x):
    """roi_align / ps_roi_align kernel: the (row, col, weight) a sample point reads; none outside [-1, H] x [-1, W]."""
    if not (-1.0 <= y <= H and -1.0 <= x <= W):
        return []
    y, x = max(y, 0.0), max(x, 0.0)
    yl, xl = int(y), int(x)
    if yl >= H - 1:
        yl = yh = H - 1
        y = float(yl)
    else:
        yh = yl + 1
    if xl >= W - 1:
        xl = xh = W - 1
        x = float(xl)
    else:
        xh = xl + 1
    ly, lx = y - yl, x - xl
    hy, hx = 1 - ly, 1 - lx
    return [(yl, xl, hy * hx), (yl, xh, hy * lx), (yh, xl, ly * hx), (yh, xh, ly * lx)]


def align_matrix(shape, rois, ph, pw, scale, sampling_ratio, aligned, ps=False):
    """The linear map input -> output of roi_align (ps=False) or ps_roi_align, and each bin's divisor."""
    N, C, H, W = shape
    cout = C // (ph * pw) if ps else C
    J = np.zeros((len(rois) * cout * ph * pw, N * C * H * W))
    counts = np.zeros(len(rois))
    for k, roi in enumerate(rois):
        b = int(roi[0])
        off = 0.5 if aligned else 0.0
        sw, sh, ew, eh = (v * scale - off for v in roi[1:])
        rw, rh = ew - sw, eh - sh
        if not aligned:
            rw, rh = max(rw, 1.0), max(rh, 1.0)
        bh, bw = rh / ph, rw / pw
        gh = sampling_ratio if sampling_ratio > 0 else math.ceil(rh / ph)
        gw = sampling_ratio if sampling_ratio > 0 else math.ceil(rw / pw)
        count = gh * gw if ps else max(gh * gw, 1)
        counts[k] = count
        for c in range(cout):
            for i in range(ph):
                for j in range(pw):
                    cin = (c * ph + i) * pw + j if ps else c
                    row = ((k * cout + c) * ph + i) * pw + j
                    for iy in range(gh):
                        y = sh + i * bh + (iy + 0.5) * bh / gh
                        for ix in range(gw):
                            x = sw + j * bw + (ix + 0.5) * bw / gw
                            for yy, xx, w in bilinear_taps(H, W, y, x):
                                J[row, ((b * C + cin) * H + yy) * W + xx] += w / count
    return J, counts


def ref_roi_pool(x, rois, ph, pw, scale):
    """roi_pool kernel: max of each integer bin (first strict maximum from -FLT_MAX) and its flat argmax."""
    N, C, H, W = x.shape
    out = np.zeros((len(rois), C, ph, pw))
    arg = np.full((len(rois), C, ph, pw), -1)
    for k, roi in enumerate(rois):
        b = int(roi[0])
        sw, sh, ew, eh = (c_round(v * scale) for v in roi[1:])
        rh, rw = max(eh - sh + 1, 1), max(ew - sw + 1, 1)
        for i in range(ph):
            for j in range(pw):
                h0 = min(max(math.floor(i * rh / ph) + sh, 0), H)
                h1 = min(max(math.ceil((i + 1) * rh / ph) + sh, 0), H)
                w0 = min(max(math.floor(j * rw / pw) + sw, 0), W)
                w1 = min(max(math.ceil((j + 1) * rw / pw) + sw, 0), W)
                empty = h1 <= h0 or w1 <= w0
                for c in range(C):
                    best, where = (0.0 if empty else -FLT_MAX), -1
                    for h in range(h0, h1):
                        for w in range(w0, w1):
                            if x[b, c, h, w] > best:
                                best, where = x[b, c, h, w], h * W + w
                    out[k, c, i, j], arg[k, c, i, j] = best, where
    return out, arg


def ps_pool_bins(roi, ph, pw, scale, H, W, backward):
    """ps_roi_pool kernel's bins: forward clips to [0, H - 1], backward to [0, H] and rounds through float32."""
    vals = [np.float32(v * scale) if backward else v * scale for v in roi[1:]]
    sw, sh, ew, eh = (c_round(v) for v in vals)
    rh, rw = max(eh - sh, 1), max(ew - sw, 1)
    top_h, top_w = (H, W) if backward else (H - 1, W - 1)
    for i in range(ph):
        for j in range(pw):
            h0 = min(max(math.floor(i * rh / ph) + sh, 0), top_h)
            h1 = min(max(math.ceil((i + 1) * rh / ph) + sh, 0), top_h)
            w0 = min(max(math.floor(j * rw / pw) + sw, 0), top_w)
            w1 = min(max(math.ceil((j + 1) * rw / pw) + sw, 0), top_w)
            yield i, j, h0, h1, w0, w1


def ref_ps_roi_pool(x, rois, ph, pw, scale, grad=None):
    """ps_roi_pool kernel: forward averages, or (grad given) the kernel's backward."""
    N, C, H, W = x.shape
    cout = C // (ph * pw)
    out = np.zeros((len(rois), cout, ph, pw))
    gi = np.zeros_like(x)
    for k, roi in enumerate(rois):
        b = int(roi[0])
        for i, j, h0, h1, w0, w1 in ps_pool_bins(roi, ph, pw, scale, H, W, grad is not None):
            if h1 <= h0 or w1 <= w0:
                continue
            area = (h1 - h0) * (w1 - w0)
            for c in range(cout):
                cin = (c * ph + i) * pw + j
                if grad is None:
                    out[k, c, i, j] = x[b, cin, h0:h1, w0:w1].sum() / area
                else:
                    gi[b, cin, h0:h1, w0:w1] += grad[k, c, i, j] / area
    return out if grad is None else gi


def ref_deform_conv2d(x, offset, weight, bias, stride, pad, dil, mask):
    """Deformable convolution, one tap at a time: bilinear reads with zeros outside the image."""
    B, C, H, W = x.shape
    Co, Cg, kh, kw = weight.shape
    groups = C // Cg
    OH, OW = offset.shape[2:]
    og = offset.shape[1] // (2 * kh * kw)
    cpg = C // og

    def pixel(b, c, r, q):
        return x[b, c, r, q] if 0 <= r < H and 0 <= q < W else 0.0

    out = np.zeros((B, Co, OH, OW))
    for b in range(B):
        for co in range(Co):
            g = co // (Co // groups)
            for oy in range(OH):
                for ox in range(OW):
                    s = 0.0 if bias is None else bias[co]
                    for cg in range(Cg):
                        c = g * Cg + cg
                        grp = c // cpg
                        for i in range(kh):
                            for j in range(kw):
                                t = i * kw + j
                                y = oy * stride[0] - pad[0] + i * dil[0] + offset[b, grp * 2 * kh * kw + 2 * t, oy, ox]
                                xx = ox * stride[1] - pad[1] + j * dil[1] + offset[b, grp * 2 * kh * kw + 2 * t + 1,
                                                                                   oy, ox]
                                if y <= -1 or y >= H or xx <= -1 or xx >= W:
                                    continue
                                y0, x0 = math.floor(y), math.floor(xx)
                                ly, lx = y - y0, xx - x0
                                v = ((1 - ly) * (1 - lx) * pixel(b, c, y0, x0) + (1 - ly) * lx * pixel(b, c, y0, x0 + 1)
                                     + ly * (1 - lx) * pixel(b, c, y0 + 1, x0) + ly * lx * pixel(b, c, y0 + 1, x0 + 1))
                                m = 1.0 if mask is None else mask[b, grp * kh * kw + t, oy, ox]
                                s += weight[co, cg, i, j] * m * v
                    out[b, co, oy, ox] = s
    return out


def grad_of(fn, x, g):
    """ember's gradient of sum(fn(x) * g) with respect to x (float64 array)."""
    t = ember.tensor(x, requires_grad=True)
    (fn(t) * ember.tensor(g)).sum().backward()
    return t.grad.numpy()


# boxes inside, across the border, far outside, beyond -1, malformed (x2 < x1), tiny, and fractional
ROIS = np.array([[0, 1.2, 0.5, 8.3, 7.1], [1, 0, 0, 11, 9], [1, 3.3, 2.2, 4.1, 5.9], [0, 2, 2, 2.5, 2.2],
                 [1, -3.5, -2.0, 4.0, 3.0], [0, 9.0, 6.0, 14.5, 12.0], [0, 20, 20, 30, 30], [1, 6.0, 5.0, 2.0, 1.0]])


@pytest.fixture(scope="module")
def feat():
    return np.random.default_rng(0).standard_normal((2, 4, 8, 11))


# ---- roi_align ---------------------------------------------------------------------------------
@pytest.mark.parametrize("ph,pw,scale,sr,aligned", [(3, 3, 1.0, -1, False), (2, 4, 0.5, 2, True),
                                                     (5, 5, 1.0, -1, True), (4, 3, 0.7, 3, False)])
def test_roi_align_matches_the_kernel_reference(feat, ph, pw, scale, sr, aligned):
    J, _ = align_matrix(feat.shape, ROIS, ph, pw, scale, sr, aligned)
    want = (J @ feat.ravel()).reshape(len(ROIS), 4, ph, pw)
    got = roi_align(ember.tensor(feat), ember.tensor(ROIS), (ph, pw), scale, sr, aligned)
    assert got.dtype == ember.float64 and tuple(got.shape) == (len(ROIS), 4, ph, pw)
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-12, atol=1e-12)
    g = np.random.default_rng(1).standard_normal(want.shape)
    gi = grad_of(lambda t: roi_align(t, ember.tensor(ROIS), (ph, pw), scale, sr, aligned), feat, g)
    np.testing.assert_allclose(gi, (J.T @ g.ravel()).reshape(feat.shape), rtol=1e-12, atol=1e-12)
    f32 = roi_align(ember.tensor(feat.astype(np.float32)), ember.tensor(ROIS.astype(np.float32)), (ph, pw), scale,
                    sr, aligned)
    assert f32.dtype == ember.float32
    np.testing.assert_allclose(f32.numpy(), want, rtol=1e-5, atol=1e-5)


def test_roi_align_hand_values_boxes_list_and_module():
    x = ember.arange(16.0).reshape(1, 1, 4, 4)  # value = 4 * row + col: bilinear sampling reproduces it exactly
    out = roi_align(x, [ember.tensor([[0.0, 0.0, 2.0, 2.0]])], 1, sampling_ratio=1, aligned=False)
    assert out.item() == 5.0  # the centre (1, 1)
    out = roi_align(x, [ember.tensor([[0.0, 0.0, 2.0, 2.0]])], 2, sampling_ratio=1, aligned=True)
    np.testing.assert_array_equal(out.numpy().ravel(), [0.0, 1.0, 4.0, 5.0])  # pixel centres after the -0.5 shift
    out = roi_align(x, [ember.tensor([[10.0, 10.0, 12.0, 12.0]])], 1, sampling_ratio=2)
    assert out.item() == 0.0  # every sample beyond the image
    # a list of per-image boxes is the (index, box) tensor
    x2 = ember.randn(2, 3, 6, 6)
    boxes = [ember.tensor([[0.5, 1.0, 4.0, 5.0]]), ember.tensor([[1.0, 0.0, 5.0, 3.5], [0, 0, 6, 6.0]])]
    rois = ember.tensor([[0, 0.5, 1.0, 4.0, 5.0], [1, 1.0, 0.0, 5.0, 3.5], [1, 0, 0, 6, 6.0]])
    m = RoIAlign((2, 3), spatial_scale=0.5, sampling_ratio=2)
    np.testing.assert_array_equal(m(x2, boxes).numpy(), m(x2, rois).numpy())
    assert repr(m) == "RoIAlign(output_size=(2, 3), spatial_scale=0.5, sampling_ratio=2, aligned=False)"
    assert tuple(roi_align(x2, ember.zeros(0, 5), 3).shape) == (0, 3, 3, 3)
    half = roi_align(x2.half(), rois.half(), (2, 3), 0.5, 2)  # the kernel has a float16 version too
    assert half.dtype == ember.float16
    np.testing.assert_allclose(half.float().numpy(), m(x2, rois).numpy(), rtol=1e-2, atol=1e-2)


def test_roi_align_gradient_is_the_derivative(feat):
    x = feat[:1, :2, :6, :7].copy()
    rois = np.array([[0, 0.7, 0.3, 5.2, 4.4], [0, -1.5, 2.0, 3.0, 7.5], [0, 3.1, 1.2, 3.6, 1.9]])
    g = np.random.default_rng(2).standard_normal((3, 2, 2, 3))
    for aligned, sr in ((False, -1), (True, 2)):
        def f(a):
            return (roi_align(ember.tensor(a), ember.tensor(rois), (2, 3), 0.9, sr, aligned).numpy() * g).sum()
        num = numeric_grad(f, x)
        got = grad_of(lambda t: roi_align(t, ember.tensor(rois), (2, 3), 0.9, sr, aligned), x, g)
        np.testing.assert_allclose(got, num, rtol=1e-6, atol=1e-8)
    t = ember.tensor(x, requires_grad=True)
    y = roi_align(t, ember.tensor(rois), 2)
    assert y.grad_fn.name() == "torch::autograd::CppNode<vision::ops::(anonymous namespace)::ROIAlignFunction>"


def test_roi_align_chunks_and_grids_agree(feat, monkeypatch):
    rng = np.random.default_rng(3)
    xy = rng.uniform(-2, 9, (40, 2))
    rois = np.concatenate([rng.integers(0, 2, (40, 1)), xy, xy + rng.uniform(0.1, 8, (40, 2))], 1)
    g = rng.standard_normal((40, 4, 3, 2))
    whole = roi_align(ember.tensor(feat), ember.tensor(rois), (3, 2), 1.0, -1, True).numpy()
    gwhole = grad_of(lambda t: roi_align(t, ember.tensor(rois), (3, 2), 1.0, -1, True), feat, g)
    monkeypatch.setattr(roi_align_mod, "_BUDGET", 64)  # one sample point of one RoI per gather
    np.testing.assert_allclose(roi_align(ember.tensor(feat), ember.tensor(rois), (3, 2), 1.0, -1, True).numpy(),
                               whole, rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(grad_of(lambda t: roi_align(t, ember.tensor(rois), (3, 2), 1.0, -1, True), feat, g),
                               gwhole, rtol=1e-12, atol=1e-12)
    J, _ = align_matrix(feat.shape, rois, 3, 2, 1.0, -1, True)
    np.testing.assert_allclose(whole.ravel(), J @ feat.ravel(), rtol=1e-12, atol=1e-12)


def test_roi_align_sample_points_follow_the_kernels_float32_arithmetic():
    f = np.float32
    # ((iy + 0.5) * bin) / grid, not (iy + 0.5) * (bin / grid): these boxes' points differ in the last bit
    rois = np.array([[0, 1.3, 1.65, 9.1, 16.33], [0, 0.1, 2.75, 3.3, 4.2], [0, 4.45, 1.56, 8.85, 9.94]], f)
    (sh, bh, gh), _, _ = roi_align_mod._align_layout(rois, 0.37, 3, 3, 3, True, False, True)
    for k in range(len(rois)):
        idx, w = roi_align_mod._axis(sh[k:k + 1], bh[k:k + 1], 3, 8, int(gh[k]))
        start = rois[k, 2] * f(0.37) - f(0.5)
        size = (rois[k, 4] * f(0.37) - f(0.5)) - start
        bin_h, grid = size / f(3), 3
        for p in range(3):
            for iy in range(grid):
                y = (start + f(p) * bin_h) + f(iy + 0.5) * bin_h / f(grid)  # each step rounded to float32
                y = max(y, f(0))
                low = min(int(y), 7)
                frac = f(y - f(low)) if low < 7 else f(0)
                assert (idx[0, p, 2 * iy], w[0, p, 2 * iy + 1]) == (low, frac)
                assert w[0, p, 2 * iy] == f(1) - frac


def test_roi_ops_refuse_bad_input(feat):
    x = ember.tensor(feat)
    with pytest.raises(AssertionError, match=r"The boxes tensor shape is not correct as Tensor\[K, 5\]"):
        roi_align(x, ember.zeros(3, 4, dtype=ember.float64), 2)
    with pytest.raises(AssertionError, match=r"boxes list is not correct as List\[Tensor\[L, 4\]\]"):
        roi_pool(x, [ember.zeros(3, 5, dtype=ember.float64)], 2)
    with pytest.raises(AssertionError, match="boxes is expected to be a Tensor"):
        ps_roi_align(x, np.zeros((1, 5)), 2)
    with pytest.raises(RuntimeError, match="input should have the same type as rois"):
        roi_align(x, ember.tensor(ROIS, dtype=ember.float32), 2)
    with pytest.raises(RuntimeError, match="input and rois must have the same dtype"):
        roi_pool(x, ember.tensor(ROIS, dtype=ember.float32), 2)
    with pytest.raises(RuntimeError, match="roi_pool only supports float and double types"):
        roi_pool(x.half(), ember.tensor(ROIS).half(), 2)
    with pytest.raises(RuntimeError, match="input channels must be a multiple of pooling height"):
        ps_roi_align(x, ember.tensor(ROIS), 3)
    with pytest.raises(RuntimeError, match="input channels must be a multiple of pooling height"):
        ps_roi_pool(x, ember.tensor(ROIS), (1, 3))
    with pytest.raises(IndexError, match="batch index"):
        roi_align(x, ember.tensor([[2, 0, 0, 3, 3.0]], dtype=ember.float64), 2)


# ---- ps_roi_align ------------------------------------------------------------------------------
@pytest.mark.parametrize("ph,pw,scale,sr", [(2, 2, 1.0, -1), (1, 2, 0.6, 2), (2, 1, 1.3, 3)])
def test_ps_roi_align_matches_the_kernel_reference(feat, ph, pw, scale, sr):
    rois = ROIS[ROIS[:, 3] > ROIS[:, 1]]  # a malformed box with an adaptive grid divides by 0 (tested below)
    J, _ = align_matrix(feat.shape, rois, ph, pw, scale, sr, True, ps=True)
    cout = 4 // (ph * pw)
    want = (J @ feat.ravel()).reshape(len(rois), cout, ph, pw)
    got = ps_roi_align(ember.tensor(feat), ember.tensor(rois), (ph, pw), scale, sr)
    assert tuple(got.shape) == (len(rois), cout, ph, pw)
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-12, atol=1e-12)
    g = np.random.default_rng(4).standard_normal(want.shape)
    gi = grad_of(lambda t: ps_roi_align(t, ember.tensor(rois), (ph, pw), scale, sr), feat, g)
    np.testing.assert_allclose(gi, (J.T @ g.ravel()).reshape(feat.shape), rtol=1e-12, atol=1e-12)


def test_ps_roi_align_channel_map_gradient_and_empty_grid():
    x = ember.zeros(1, 8, 5, 5)
    x[0, 5] = 1.0  # channel 5 = (c_out 1, bin row 0, bin col 1) of a 2x2 output
    out = ps_roi_align(x, ember.tensor([[0, 0, 0, 5, 5.0]]), 2, sampling_ratio=2).numpy()[0]
    np.testing.assert_array_equal(out, [[[0, 0], [0, 0]], [[0, 1], [0, 0]]])
    # x2 < x1 with an adaptive grid: no samples, divided by the kernel's grid_h * grid_w (0 or negative)
    out = ps_roi_align(x, ember.tensor([[0, 3, 3, 2.5, 4.0]]), 2).numpy()  # ceil(-0.25) * 1 samples: 0 / 0
    assert np.isnan(out).all()
    out = ps_roi_align(x, ember.tensor([[0, 3, 3, 1, 4.0]]), 2).numpy()  # ceil(-1) * 1: 0 / -1
    assert (out == 0).all() and np.signbit(out).all()
    a = np.random.default_rng(5).standard_normal((1, 4, 5, 6))
    rois = np.array([[0, 0.6, 0.2, 4.3, 4.8], [0, 2.2, -0.4, 5.7, 3.1]])
    g = np.random.default_rng(6).standard_normal((2, 1, 2, 2))
    num = numeric_grad(lambda v: (ps_roi_align(ember.tensor(v), ember.tensor(rois), 2, 0.8).numpy() * g).sum(), a)
    np.testing.assert_allclose(grad_of(lambda t: ps_roi_align(t, ember.tensor(rois), 2, 0.8), a, g), num,
                               rtol=1e-6, atol=1e-8)
    m = PSRoIAlign(2, 0.25, 2)
    assert repr(m) == "PSRoIAlign(output_size=2, spatial_scale=0.25, sampling_ratio=2)"


# ---- roi_pool ----------------------------------------------------------------------------------
@pytest.mark.parametrize("ph,pw,scale", [(2, 3, 1.0), (3, 3, 0.5), (4, 2, 1.7)])
def test_roi_pool_matches_the_kernel_reference(feat, ph, pw, scale):
    x = feat.copy()
    x[0, 1, 2, 3] = np.nan  # never the maximum
    x[1, 2] = -np.inf  # a channel of -inf: -FLT_MAX and no gradient
    x[1, 2, 0, 0] = -FLT_MAX  # not above the scan's start either: no gradient
    x[0, 0, 1, 1:3] = 5.0  # a tie: the first in row-major order wins
    want, arg = ref_roi_pool(x, ROIS, ph, pw, scale)
    got = roi_pool(ember.tensor(x), ember.tensor(ROIS), (ph, pw), scale)
    np.testing.assert_array_equal(got.numpy(), want)
    g = np.random.default_rng(7).standard_normal(want.shape)
    gi = np.zeros_like(x)
    for k, c, i, j in zip(*np.nonzero(arg >= 0)):
        gi[int(ROIS[k, 0]), c].reshape(-1)[arg[k, c, i, j]] += g[k, c, i, j]
    np.testing.assert_allclose(grad_of(lambda t: roi_pool(t, ember.tensor(ROIS), (ph, pw), scale), x, g), gi,
                               rtol=1e-14, atol=1e-14)
    f32 = roi_pool(ember.tensor(x.astype(np.float32)), ember.tensor(ROIS.astype(np.float32)), (ph, pw), scale)
    np.testing.assert_allclose(f32.numpy(), want.astype(np.float32), rtol=1e-6)


@pytest.mark.parametrize("budget", [1, 100])
def test_roi_pools_in_blocks_agree(feat, budget, monkeypatch):
    x = feat.copy()
    x[0, :, 1:4, 1:3] = 5.0  # ties within and across window rows: the first in row-major order wins
    monkeypatch.setattr(roi_pool_mod, "_BUDGET", budget)  # 1: single rows in column blocks, 100: row blocks
    want, arg = ref_roi_pool(x, ROIS, 2, 3, 1.0)
    got = roi_pool(ember.tensor(x), ember.tensor(ROIS), (2, 3))
    np.testing.assert_array_equal(got.numpy(), want)
    g = np.ones(want.shape)
    gi = np.zeros_like(x)
    for k, c, i, j in zip(*np.nonzero(arg >= 0)):
        gi[int(ROIS[k, 0]), c].reshape(-1)[arg[k, c, i, j]] += 1
    np.testing.assert_array_equal(grad_of(lambda t: roi_pool(t, ember.tensor(ROIS), (2, 3)), x, g), gi)
    want = ref_ps_roi_pool(feat, ROIS, 2, 1, 1.0)
    np.testing.assert_allclose(ps_roi_pool(ember.tensor(feat), ember.tensor(ROIS), (2, 1)).numpy(), want,
                               rtol=1e-12, atol=1e-12)
    g = np.random.default_rng(19).standard_normal(want.shape)
    np.testing.assert_allclose(grad_of(lambda t: ps_roi_pool(t, ember.tensor(ROIS), (2, 1)), feat, g),
                               ref_ps_roi_pool(feat, ROIS, 2, 1, 1.0, grad=g), rtol=1e-12, atol=1e-12)


def test_roi_pool_hand_values_and_gradient():
    x = ember.tensor([[[[1.0, 2, 3], [4, 9, 6], [7, 8, 5]]]], requires_grad=True)
    y = roi_pool(x, [ember.tensor([[0.0, 0, 2, 2]])], 2)  # a 3x3 box in 2x2 bins of 2x2 (overlapping) pixels
    np.testing.assert_array_equal(y.detach().numpy()[0, 0], [[9, 9], [9, 9]])
    y.sum().backward()
    assert x.grad.numpy()[0, 0, 1, 1] == 4.0 and x.grad.numpy().sum() == 4.0
    a = np.random.default_rng(8).permutation(60).reshape(1, 2, 5, 6) / 7.0  # distinct: a unique maximum per bin
    rois = np.array([[0, 0, 0, 3, 4], [0, 1.4, 0.6, 5.2, 3.9]])
    g = np.random.default_rng(9).standard_normal((2, 2, 2, 2))
    num = numeric_grad(lambda v: (roi_pool(ember.tensor(v), ember.tensor(rois), 2).numpy() * g).sum(), a)
    np.testing.assert_allclose(grad_of(lambda t: roi_pool(t, ember.tensor(rois), 2), a, g), num, atol=1e-8)
    assert repr(RoIPool((3, 2), 0.5)) == "RoIPool(output_size=(3, 2), spatial_scale=0.5)"


# ---- ps_roi_pool -------------------------------------------------------------------------------
@pytest.mark.parametrize("ph,pw,scale", [(2, 2, 1.0), (1, 2, 0.5), (2, 1, 1.4)])
def test_ps_roi_pool_matches_the_kernel_reference(feat, ph, pw, scale):
    want = ref_ps_roi_pool(feat, ROIS, ph, pw, scale)
    got = ps_roi_pool(ember.tensor(feat), ember.tensor(ROIS), (ph, pw), scale)
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-12, atol=1e-12)
    g = np.random.default_rng(10).standard_normal(want.shape)
    gi = grad_of(lambda t: ps_roi_pool(t, ember.tensor(ROIS), (ph, pw), scale), feat, g)
    np.testing.assert_allclose(gi, ref_ps_roi_pool(feat, ROIS, ph, pw, scale, grad=g), rtol=1e-12, atol=1e-12)


def test_ps_roi_pool_gradient_inside_and_the_kernels_edge_quirk():
    a = np.random.default_rng(11).standard_normal((1, 4, 7, 8))
    inner = np.array([[0, 0.6, 1.2, 5.4, 4.6], [0, 2, 1, 6, 5]])  # bins clear of the last row and column
    g = np.random.default_rng(12).standard_normal((2, 1, 2, 2))
    num = numeric_grad(lambda v: (ps_roi_pool(ember.tensor(v), ember.tensor(inner), 2).numpy() * g).sum(), a)
    np.testing.assert_allclose(grad_of(lambda t: ps_roi_pool(t, ember.tensor(inner), 2), a, g), num, atol=1e-8)
    # the forward never reads the last row / column; torchvision's backward still writes them
    edge = np.array([[0, 4, 3, 8, 7.0]])
    x = ember.tensor(a, requires_grad=True)
    ps_roi_pool(x, ember.tensor(edge), 2).sum().backward()
    assert (x.grad.numpy()[0, 3, 6, 6:] != 0).all()
    x2 = a.copy()
    x2[:, :, 6, :] += 100.0
    x2[:, :, :, 7] += 100.0
    np.testing.assert_array_equal(ps_roi_pool(ember.tensor(x2), ember.tensor(edge), 2).numpy(),
                                  ps_roi_pool(ember.tensor(a), ember.tensor(edge), 2).numpy())
    assert repr(PSRoIPool(2, 1.0)) == "PSRoIPool(output_size=2, spatial_scale=1.0)"


# ---- MultiScaleRoIAlign ------------------------------------------------------------------------
def test_multiscale_roi_align_maps_levels_and_pools_each_box_from_its_level():
    boxes = [ember.tensor([[0.0, 0, 40, 40], [10, 10, 250, 230], [0, 0, 500, 500]]),
             ember.tensor([[5.0, 5, 117, 117], [1, 2, 3, 4]])]
    # floor(4 + log2(sqrt(area) / 224) + 1e-6), clamped to [2, 5], minus 2
    mapper = LevelMapper(2, 5)
    np.testing.assert_array_equal(mapper(boxes).numpy(), [0, 2, 3, 1, 0])
    np.testing.assert_array_equal(mapper([b.half() for b in boxes]).numpy(), [0, 2, 3, 1, 0])  # no fp16 overflow
    feats = OrderedDict([("p2", ember.randn(2, 3, 64, 64)), ("skip", ember.randn(2, 3, 5, 5)),
                         ("p3", ember.randn(2, 3, 32, 32)), ("p4", ember.randn(2, 3, 16, 16))])
    m = MultiScaleRoIAlign(["p2", "p3", "p4"], 3, 2)
    assert repr(m) == "MultiScaleRoIAlign(featmap_names=['p2', 'p3', 'p4'], output_size=(3, 3), sampling_ratio=2)"
    out = m(feats, boxes, [(256, 256), (250, 240)])
    assert m.scales == [0.25, 0.125, 0.0625] and (m.map_levels.k_min, m.map_levels.k_max) == (2, 4)
    rois = ember.cat([ember.cat([ember.full((len(b), 1), float(i)), b], 1) for i, b in enumerate(boxes)])
    levels = [0, 2, 2, 1, 0]  # the mapper's, clamped to the three levels present
    names = ["p2", "p3", "p4"]
    for k, lvl in enumerate(levels):
        want = roi_align(feats[names[lvl]], rois[k:k + 1], (3, 3), m.scales[lvl], 2)
        np.testing.assert_allclose(out.numpy()[k], want.numpy()[0], rtol=1e-6, atol=1e-7)
    # gradients reach each level through the boxes pooled from it
    p3 = feats["p3"].requires_grad_()
    m(feats, boxes, [(256, 256), (250, 240)]).sum().backward()
    leaf = feats["p3"].detach().requires_grad_()
    roi_align(leaf, rois[[3]], (3, 3), 0.125, 2).sum().backward()
    np.testing.assert_allclose(p3.grad.numpy(), leaf.grad.numpy(), rtol=1e-6, atol=1e-7)
    x = ember.randn(1, 2, 16, 16, requires_grad=True)
    single = MultiScaleRoIAlign(["a"], (2, 2), -1)({"a": x}, [ember.tensor([[0.0, 0, 31, 31]])], [(32, 32)])
    single.sum().backward()
    assert x.grad.abs().sum().item() > 0
    with pytest.raises(ValueError, match="images list should not be empty"):
        _setup_scales([x], [], 224, 4)
    # the nearest power of two (in log scale) of the first axis' ratio
    assert _infer_scale(ember.zeros(1, 1, 64, 64), (170, 170)) == 0.5  # 2 ** round(-1.41)
    assert _infer_scale(ember.zeros(1, 1, 64, 9), (250, 1000)) == 0.25


# ---- deform_conv2d -----------------------------------------------------------------------------
def test_deform_conv2d_with_zero_offsets_is_a_convolution():
    x = ember.randn(2, 4, 7, 6, dtype=ember.float64)
    w = ember.randn(6, 2, 3, 3, dtype=ember.float64)
    b = ember.randn(6, dtype=ember.float64)
    off = ember.zeros(2, 2 * 2 * 9, 4, 4, dtype=ember.float64)  # two offset groups
    y = deform_conv2d(x, off, w, b, stride=(2, 1), padding=1, dilation=(1, 2))
    want = nn.functional.conv2d(x, w, b, stride=(2, 1), padding=1, dilation=(1, 2), groups=2)
    np.testing.assert_allclose(y.numpy(), want.numpy(), rtol=1e-12, atol=1e-12)
    # an offset of (+1, 0) on every tap reads one row down: the convolution of the shifted image
    off = ember.zeros(1, 18, 5, 4, dtype=ember.float64)
    off[:, 0::2] = 1.0
    x1, w1 = x[:1, :2], w[:3]
    shifted = ember.cat([x1[:, :, 1:], ember.zeros(1, 2, 1, 6, dtype=ember.float64)], 2)
    np.testing.assert_allclose(deform_conv2d(x1, off, w1).numpy(), nn.functional.conv2d(shifted, w1).numpy(),
                               rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("use_mask,stride,pad,dil,groups,og", [(True, (1, 1), (1, 0), (1, 1), 1, 1),
                                                               (False, (2, 1), (0, 1), (1, 2), 2, 2)])
def test_deform_conv2d_matches_the_reference_and_its_gradients(use_mask, stride, pad, dil, groups, og):
    rng = np.random.default_rng(13)
    C, Co, kh, kw, H, W = 4, 4, 2, 3, 5, 6
    x = rng.standard_normal((2, C, H, W))
    w = rng.standard_normal((Co, C // groups, kh, kw))
    b = rng.standard_normal(Co)
    OH = (H + 2 * pad[0] - dil[0] * (kh - 1) - 1) // stride[0] + 1
    OW = (W + 2 * pad[1] - dil[1] * (kw - 1) - 1) // stride[1] + 1
    off = rng.uniform(-1.7, 1.7, (2, og * 2 * kh * kw, OH, OW))
    off[0, 0, 0, 0] = -2.6  # a tap beyond the border
    mask = rng.uniform(0.1, 1.0, (2, og * kh * kw, OH, OW)) if use_mask else None
    T = ember.tensor

    def run(xx=x, oo=off, ww=w, bb=b, mm=mask):
        return deform_conv2d(T(xx), T(oo), T(ww), T(bb), stride, pad, dil, None if mm is None else T(mm))

    want = ref_deform_conv2d(x, off, w, b, stride, pad, dil, mask)
    np.testing.assert_allclose(run().numpy(), want, rtol=1e-12, atol=1e-12)
    g = rng.standard_normal(want.shape)
    ts = [T(v, requires_grad=True) for v in (x, off, w, b)] + ([T(mask, requires_grad=True)] if use_mask else [])
    y = deform_conv2d(ts[0], ts[1], ts[2], ts[3], stride, pad, dil, ts[4] if use_mask else None)
    assert y.grad_fn.name().endswith("DeformConv2dFunction>")
    (y * T(g)).sum().backward()
    checks = [("xx", x), ("oo", off), ("ww", w), ("bb", b)] + ([("mm", mask)] if use_mask else [])
    for t, (name, v) in zip(ts, checks):
        num = numeric_grad(lambda a: (run(**{name: a}).numpy() * g).sum(), v)
        np.testing.assert_allclose(t.grad.numpy(), num, rtol=1e-6, atol=1e-7, err_msg=name)


def test_deform_conv2d_module_and_errors():
    ember.manual_seed(0)
    m = DeformConv2d(4, 6, 3, padding=1, groups=2)
    assert repr(m) == "DeformConv2d(4, 6, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1), groups=2)"
    assert repr(DeformConv2d(2, 2, (1, 2), bias=False, dilation=2)) == \
        "DeformConv2d(2, 2, kernel_size=(1, 2), stride=(1, 1), dilation=(2, 2), bias=False)"
    x = ember.randn(1, 4, 5, 5)
    off = ember.zeros(1, 18, 5, 5)
    np.testing.assert_allclose(m(x, off).detach().numpy(),
                               nn.functional.conv2d(x, m.weight, m.bias, padding=1, groups=2).detach().numpy(),
                               rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="in_channels must be divisible by groups"):
        DeformConv2d(3, 4, 3, groups=2)
    with pytest.raises(RuntimeError, match="the shape of the offset tensor at dimension 1 is not valid"):
        m(x, ember.zeros(1, 4, 5, 5))
    with pytest.raises(RuntimeError, match=r"offset.shape\[1\] is not valid: got: 20 expected: 18"):
        m(x, ember.zeros(1, 20, 5, 5))
    with pytest.raises(RuntimeError, match=r"offset output dims: \(4, 5\) - computed output dims: \(5, 5\)"):
        m(x, ember.zeros(1, 18, 4, 5))
    with pytest.raises(RuntimeError, match=r"mask.shape\[1\] is not valid: got: 4 expected: 9"):
        m(x, off, ember.ones(1, 4, 5, 5))
    with pytest.raises(RuntimeError, match="invalid batch size of offset"):
        m(x, ember.zeros(2, 18, 5, 5))


def test_ops_run_on_the_device_of_their_input(fake_cuda):  # noqa: F811
    rng = np.random.default_rng(18)
    x = rng.standard_normal((2, 4, 8, 9))
    rois = np.array([[0, 1.2, 0.5, 8.3, 7.1], [1, 0, 0, 11, 9], [1, -3.5, -2, 4, 3.0]])
    g = rng.standard_normal((3, 4, 2, 2))
    ops = [lambda t, r: roi_align(t, r, 2, 1.0, -1, True), lambda t, r: roi_pool(t, r, 2),
           lambda t, r: ps_roi_align(t, r, 2), lambda t, r: ps_roi_pool(t, r, 2)]
    deform = [x, rng.standard_normal((2, 18, 6, 7)), rng.standard_normal((3, 4, 3, 3)), rng.standard_normal(3),
              rng.uniform(0, 1, (2, 9, 6, 7))]
    results = {}
    for dev in ("cpu", "cuda"):
        got = []
        for fn in ops:
            t = ember.tensor(x, device=dev, requires_grad=True)
            y = fn(t, ember.tensor(rois, device=dev))
            (y * ember.tensor(g[:, :y.shape[1]], device=dev)).sum().backward()
            assert y.device.type == dev and t.grad.device.type == dev
            got += [y.detach().cpu().numpy(), t.grad.cpu().numpy()]
        ts = [ember.tensor(v, device=dev, requires_grad=True) for v in deform]
        y = deform_conv2d(ts[0], ts[1], ts[2], ts[3], mask=ts[4])
        y.sum().backward()
        assert y.device.type == dev and all(t.grad.device.type == dev for t in ts)
        results[dev] = got + [y.detach().cpu().numpy()] + [t.grad.cpu().numpy() for t in ts]
    for a, b in zip(results["cpu"], results["cuda"]):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


# ---- FrozenBatchNorm2d, DropBlock, FPN ---------------------------------------------------------
def test_frozen_batch_norm_is_a_fixed_affine_map_and_loads_batchnorm_checkpoints():
    bn = nn.BatchNorm2d(3)
    with ember.no_grad():
        bn.weight.copy_(ember.tensor([1.0, 2.0, 0.5]))
        bn.bias.copy_(ember.tensor([0.0, -1.0, 3.0]))
        bn.running_mean.copy_(ember.tensor([0.5, 0.0, -2.0]))
        bn.running_var.copy_(ember.tensor([4.0, 0.25, 1.0]))
    f = FrozenBatchNorm2d(3, eps=0.0)
    assert repr(f) == "FrozenBatchNorm2d(3, eps=0.0)"
    f.load_state_dict(bn.state_dict())  # num_batches_tracked is dropped, not unexpected
    assert sorted(f.state_dict()) == ["bias", "running_mean", "running_var", "weight"]
    x = ember.ones(1, 3, 1, 1)
    np.testing.assert_allclose(f(x).numpy().ravel(), [0.25, 3.0, 4.5], rtol=1e-6)
    assert not f.weight.requires_grad and list(f.parameters()) == []


def test_drop_block_is_its_bernoulli_centres_grown_into_blocks():
    ember.manual_seed(7)
    y = drop_block2d(ember.ones(2, 3, 10, 9, dtype=ember.float64), 0.3, 3).numpy()
    ember.manual_seed(7)  # the same draws: centres where a whole block fits, gamma = p * H * W / (9 * 8 * 7)
    centres = ember.empty((2, 3, 8, 7), dtype=ember.float64).bernoulli_(0.3 * 10 * 9 / (9 * 8 * 7)).numpy()
    assert centres.any()
    dropped = np.zeros((2, 3, 10, 9))
    for n, c, i, j in zip(*np.nonzero(centres)):
        dropped[n, c, i:i + 3, j:j + 3] = 1
    keep = 1 - dropped
    np.testing.assert_allclose(y, keep * keep.size / (1e-6 + keep.sum()), rtol=1e-12)
    ember.manual_seed(8)  # 3-d, with block_size 5 capped at the depth, 3
    y = drop_block3d(ember.ones(2, 2, 3, 6, 6, dtype=ember.float64), 0.4, 5).numpy()
    ember.manual_seed(8)
    centres = ember.empty((2, 2, 1, 4, 4), dtype=ember.float64).bernoulli_(0.4 * 3 * 6 * 6 / (27 * 16)).numpy()
    assert centres.any()
    dropped = np.zeros((2, 2, 3, 6, 6))
    for n, c, d, i, j in zip(*np.nonzero(centres)):
        dropped[n, c, d:d + 3, i:i + 3, j:j + 3] = 1
    keep = 1 - dropped
    np.testing.assert_allclose(y, keep * keep.size / (1e-6 + keep.sum()), rtol=1e-12)


def test_drop_block_drops_whole_blocks_and_rescales():
    x = ember.ones(4, 3, 12, 12)
    ember.manual_seed(0)
    y = drop_block2d(x, 0.2, 3).numpy()
    kept = y != 0
    assert 0 < kept.mean() < 1
    scale = y[kept][0]
    np.testing.assert_allclose(scale, y.size / (kept.sum() + 1e-6), rtol=1e-5)
    # every dropped pixel lies in a fully dropped 3x3 square (the blocks' union)
    dropped = ~kept
    for n, c, i, j in zip(*np.nonzero(dropped)):
        assert any(dropped[n, c, max(r, 0):r + 3, max(q, 0):q + 3].all() and r >= 0 and q >= 0 and
                   r + 3 <= 12 and q + 3 <= 12 for r in range(i - 2, i + 1) for q in range(j - 2, j + 1))
    assert drop_block2d(x, 0.5, 3, training=False) is x and drop_block2d(x, 0.0, 3) is x
    with pytest.raises(ValueError, match="drop probability has to be between 0 and 1, but got 1.5."):
        drop_block2d(x, 1.5, 3)
    with pytest.raises(ValueError, match="input should be 4 dimensional. Got 5 dimensions."):
        drop_block2d(ember.ones(1, 1, 2, 2, 2), 0.1, 1)
    with pytest.raises(ValueError, match="block size should be odd. Got 4 which is even."):
        drop_block2d(x, 0.1, 4)
    m = DropBlock3d(0.1, 3, inplace=True)
    assert repr(m) == "DropBlock3d(p=0.1, block_size=3, inplace=True)"
    assert repr(DropBlock2d(0.5, 7)) == "DropBlock2d(p=0.5, block_size=7, inplace=False)"
    z = ember.ones(1, 1, 5, 5, 5)
    assert m(z) is z and m.eval()(z) is z


def test_feature_pyramid_network_shapes_extra_blocks_and_old_checkpoints():
    ember.manual_seed(0)
    fpn = FeaturePyramidNetwork([4, 8, 16], 6, extra_blocks=LastLevelMaxPool())
    x = OrderedDict([("c2", ember.randn(1, 4, 16, 16)), ("c3", ember.randn(1, 8, 8, 8)),
                     ("c4", ember.randn(1, 16, 4, 3))])
    out = fpn(x)
    assert [(k, tuple(v.shape)) for k, v in out.items()] == [("c2", (1, 6, 16, 16)), ("c3", (1, 6, 8, 8)),
                                                            ("c4", (1, 6, 4, 3)), ("pool", (1, 6, 2, 2))]
    np.testing.assert_array_equal(out["pool"].detach().numpy(), out["c4"].detach().numpy()[:, :, ::2, ::2])
    # top-down: c3's map is layer(inner(c3) + nearest-upsampled inner(c4))
    inner = fpn.inner_blocks[1](x["c3"]) + nn.functional.interpolate(fpn.inner_blocks[2](x["c4"]), size=(8, 8))
    np.testing.assert_allclose(out["c3"].detach().numpy(), fpn.layer_blocks[1](inner).detach().numpy(), rtol=1e-5,
                               atol=1e-6)
    assert all(float(b.detach().abs().sum()) == 0 for n, b in fpn.named_parameters() if n.endswith("bias"))
    # a version-1 checkpoint named the bare convolutions inner_blocks.0.weight
    sd = fpn.state_dict()
    old = OrderedDict((k.replace(".0.weight", ".weight").replace(".0.bias", ".bias"), v) for k, v in sd.items())
    old._metadata = OrderedDict({"": {"version": 1}})
    fresh = FeaturePyramidNetwork([4, 8, 16], 6, extra_blocks=LastLevelMaxPool())
    fresh.load_state_dict(old)
    np.testing.assert_array_equal(fresh(x)["c2"].detach().numpy(), out["c2"].detach().numpy())
    p67 = FeaturePyramidNetwork([4, 8], 6, extra_blocks=LastLevelP6P7(8, 6))
    res = p67(OrderedDict([("a", x["c2"]), ("b", ember.randn(1, 8, 8, 8))]))
    assert [(k, tuple(v.shape)) for k, v in res.items()][2:] == [("p6", (1, 6, 4, 4)), ("p7", (1, 6, 2, 2))]
    assert not p67.extra_blocks.use_P5
    with pytest.raises(TypeError, match="extra_blocks should be of type ExtraFPNBlock"):
        FeaturePyramidNetwork([4], 6, extra_blocks=nn.ReLU())
    with pytest.raises(ValueError, match="in_channels=0 is currently not supported"):
        FeaturePyramidNetwork([0], 6)
    assert isinstance(LastLevelMaxPool(), ExtraFPNBlock)


# ---- against the real torchvision --------------------------------------------------------------
@requires_tv
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_roi_align_same_as_torchvisions_python_roi_align(feat, dtype):
    from torchvision.ops.roi_align import _roi_align
    ref = _roi_align.__wrapped__  # the eager code (roi_align itself would compile it)
    rois = np.array([[0, 1.2, 0.5, 8.3, 7.1], [1, 0, 0, 10, 7], [1, 3.3, 2.2, 4.1, 5.9], [0, 2, 2, 2.5, 2.2]])
    x, r = feat.astype(dtype), rois.astype(dtype)
    g = np.random.default_rng(14).standard_normal((4, 4, 3, 2)).astype(dtype)
    tol = 1e-5 if dtype == "float32" else 1e-12
    for scale, sr, aligned in ((1.0, -1, False), (0.8, 2, True), (1.0, -1, True)):
        tx = torch.tensor(x, requires_grad=True)
        want = ref(tx, torch.tensor(r), scale, 3, 2, sr, aligned)
        (want * torch.tensor(g)).sum().backward()
        got = roi_align(ember.tensor(x), ember.tensor(r), (3, 2), scale, sr, aligned)
        np.testing.assert_allclose(got.numpy(), want.detach().numpy(), rtol=tol, atol=tol)
        np.testing.assert_allclose(grad_of(lambda t: roi_align(t, ember.tensor(r), (3, 2), scale, sr, aligned),
                                           x, g), tx.grad.numpy(), rtol=tol, atol=tol)


@requires_tv
def test_module_reprs_same_as_torchvision():
    pairs = [(RoIAlign(7, 0.25, 2, True), tv.RoIAlign(7, 0.25, 2, True)),
             (RoIPool((3, 4), 1.0), tv.RoIPool((3, 4), 1.0)), (PSRoIAlign(3, 0.5, -1), tv.PSRoIAlign(3, 0.5, -1)),
             (PSRoIPool(2, 0.5), tv.PSRoIPool(2, 0.5)),
             (MultiScaleRoIAlign(["0", "1"], (7, 5), 2), tv.MultiScaleRoIAlign(["0", "1"], (7, 5), 2)),
             (DeformConv2d(4, 6, (3, 1), stride=2, padding=1, groups=2, bias=False),
              tv.DeformConv2d(4, 6, (3, 1), stride=2, padding=1, groups=2, bias=False)),
             (DropBlock2d(0.1, 5), tv.DropBlock2d(0.1, 5)), (DropBlock3d(0.2, 3, True), tv.DropBlock3d(0.2, 3, True)),
             (FrozenBatchNorm2d(8, 1e-3), tv.FrozenBatchNorm2d(8, 1e-3)),
             (FeaturePyramidNetwork([2, 4], 3, LastLevelP6P7(4, 3), norm_layer=nn.BatchNorm2d),
              tv.FeaturePyramidNetwork([2, 4], 3, tv.feature_pyramid_network.LastLevelP6P7(4, 3),
                                       norm_layer=torch.nn.BatchNorm2d))]
    for ours, theirs in pairs:
        assert repr(ours) == repr(theirs)
        assert {k: tuple(v.shape) for k, v in ours.state_dict().items()} == \
               {k: tuple(v.shape) for k, v in theirs.state_dict().items()}


@requires_tv
def test_seeded_modules_same_as_torchvision():
    x = np.random.default_rng(15).standard_normal((2, 3, 9, 9)).astype(np.float32)
    for p, bs in ((0.3, 3), (0.9, 5)):
        torch.manual_seed(4)
        want = tv.drop_block2d(torch.tensor(x), p, bs).numpy()
        ember.manual_seed(4)  # ember draws torch's numbers
        np.testing.assert_allclose(drop_block2d(ember.tensor(x), p, bs).numpy(), want, rtol=1e-6)
    x3 = x.reshape(2, 3, 9, 9, 1).repeat(5, -1)
    torch.manual_seed(5)
    want = tv.drop_block3d(torch.tensor(x3), 0.25, 3).numpy()
    ember.manual_seed(5)
    np.testing.assert_allclose(drop_block3d(ember.tensor(x3), 0.25, 3).numpy(), want, rtol=1e-6)
    torch.manual_seed(6)
    theirs = tv.DeformConv2d(4, 6, 3, groups=2)
    ember.manual_seed(6)
    ours = DeformConv2d(4, 6, 3, groups=2)
    np.testing.assert_array_equal(ours.weight.detach().numpy(), theirs.weight.detach().numpy())
    np.testing.assert_array_equal(ours.bias.detach().numpy(), theirs.bias.detach().numpy())


@requires_tv
def test_frozen_batch_norm_and_fpn_same_as_torchvision():
    rng = np.random.default_rng(16)
    theirs = tv.FrozenBatchNorm2d(5)
    sd = {k: torch.tensor(rng.uniform(0.5, 2.0, 5).astype(np.float32)) for k in theirs.state_dict()}
    theirs.load_state_dict(sd)
    ours = FrozenBatchNorm2d(5)
    ours.load_state_dict({k: ember.tensor(v.numpy()) for k, v in sd.items()})
    x = rng.standard_normal((2, 5, 3, 3)).astype(np.float32)
    np.testing.assert_allclose(ours(ember.tensor(x)).numpy(), theirs(torch.tensor(x)).numpy(), rtol=1e-6)
    for extra, tv_extra in ((LastLevelMaxPool(), tv.feature_pyramid_network.LastLevelMaxPool()),
                            (LastLevelP6P7(6, 6), tv.feature_pyramid_network.LastLevelP6P7(6, 6))):
        theirs = tv.FeaturePyramidNetwork([3, 5, 7], 6, extra_blocks=tv_extra)
        ours = FeaturePyramidNetwork([3, 5, 7], 6, extra_blocks=extra)
        ours.load_state_dict({k: ember.tensor(v.numpy()) for k, v in theirs.state_dict().items()})
        feats = [rng.standard_normal(s).astype(np.float32) for s in ((1, 3, 20, 18), (1, 5, 10, 9), (1, 7, 5, 5))]
        want = theirs(OrderedDict((f"f{i}", torch.tensor(a)) for i, a in enumerate(feats)))
        got = ours(OrderedDict((f"f{i}", ember.tensor(a)) for i, a in enumerate(feats)))
        assert list(got) == list(want)
        for k in want:
            np.testing.assert_allclose(got[k].detach().numpy(), want[k].detach().numpy(), rtol=1e-4, atol=1e-5)


@requires_tv
def test_multiscale_roi_align_same_as_torchvision(monkeypatch):
    from torchvision.ops import poolers as tv_poolers
    from torchvision.ops.roi_align import _roi_align
    monkeypatch.setattr(tv_poolers, "roi_align", lambda inp, rois, output_size, spatial_scale, sampling_ratio:
                        _roi_align.__wrapped__(inp, rois, spatial_scale, output_size[0], output_size[1],
                                               sampling_ratio, False))
    rng = np.random.default_rng(17)
    feats = [rng.standard_normal((2, 3, s, s)).astype(np.float32) for s in (32, 16, 8)]
    xy = rng.uniform(0, 60, (9, 2)).astype(np.float32)
    boxes = np.concatenate([xy, xy + rng.uniform(2, 60, (9, 2)).astype(np.float32)], 1).clip(0, 127)
    parts = [boxes[:4], boxes[4:]]
    theirs = tv.MultiScaleRoIAlign(["a", "b", "c"], (3, 2), 2)
    want = theirs(OrderedDict(zip("abc", map(torch.tensor, feats))), [torch.tensor(p) for p in parts],
                  [(128, 128), (120, 100)])
    ours = MultiScaleRoIAlign(["a", "b", "c"], (3, 2), 2)
    got = ours(OrderedDict(zip("abc", map(ember.tensor, feats))), [ember.tensor(p) for p in parts],
               [(128, 128), (120, 100)])
    assert ours.scales == theirs.scales
    np.testing.assert_array_equal(ours.map_levels([ember.tensor(p) for p in parts]).numpy(),
                                  theirs.map_levels([torch.tensor(p) for p in parts]).numpy())
    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-5, atol=1e-6)
