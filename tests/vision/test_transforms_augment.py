"""The augmentations: RandomAffine, RandomPerspective, FiveCrop/TenCrop, the colour ops (invert,
posterize, solarize, sharpness, autocontrast, equalize) and AutoAugment/RandAugment/TrivialAugmentWide/
AugMix, v1 and v2.

- against torch alone (CI installs it): the random parameters and coins ember draws after
  manual_seed equal those computed by hand from torch's own calls, in torchvision's order;
- without any oracle: exact pixels of the deterministic functionals on small hand-checked images;
- against torchvision itself when EMBER_TORCHVISION_PATH points at an importable copy: whole
  transforms on PIL, uint8 and float32 images give the same pixels bit for bit. The one exception is
  adjust_sharpness on float images (and so RandomAdjustSharpness there): torch's conv2d sums the 3x3
  products in another order, which moves results by an ulp; those are compared to 1e-6.
"""
import importlib
import random

import numpy as np
import pytest

import ember
from ember._tensor import _wrap
from ember.vision.transforms import functional as F
from ember.vision.transforms import v2 as T2
from ember.vision.transforms import transforms as T
from ember.vision.transforms.v2 import functional as F2
from tests.conftest import requires_torch, torch
from tests.vision.test_transforms_seeded import tv

Image = pytest.importorskip("PIL.Image")

SEEDS = (0, 1, 2)
requires_torchvision = pytest.mark.skipif(tv is None, reason="torchvision is not importable")


def _u8(a):
    return _wrap(np.asarray(a, dtype=np.uint8))


def _np(y):
    return np.asarray(y) if isinstance(y, Image.Image) else y.numpy()


# ---- random parameters: torch's calls in torchvision's order ----------------------------------------
def _torch_uniform(a, b):
    return float(torch.empty(1).uniform_(a, b).item())


@requires_torch
@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("shear", [None, [-5.0, 5.0], [-5.0, 5.0, 2.0, 8.0]])
def test_random_affine_params_are_torch_uniforms_in_order(seed, shear):
    degrees, translate, scale = [-30.0, 20.0], [0.2, 0.1], [0.8, 1.2]
    ember.manual_seed(seed)
    got = [T.RandomAffine.get_params(degrees, translate, scale, shear, [50, 40]) for _ in range(4)]
    t2 = T2.RandomAffine(degrees, translate=translate, scale=scale, shear=shear)
    img = _wrap(np.zeros((3, 40, 50), np.float32))
    got2 = [t2.make_params([img]) for _ in range(4)]
    got += [(p["angle"], p["translate"], p["scale"], p["shear"]) for p in got2]
    torch.manual_seed(seed)
    want = []
    for _ in range(8):
        angle = _torch_uniform(degrees[0], degrees[1])
        max_dx, max_dy = float(translate[0] * 50), float(translate[1] * 40)
        tx = int(round(_torch_uniform(-max_dx, max_dx)))
        ty = int(round(_torch_uniform(-max_dy, max_dy)))
        s = _torch_uniform(scale[0], scale[1])
        sx = sy = 0.0
        if shear is not None:
            sx = _torch_uniform(shear[0], shear[1])
            if len(shear) == 4:
                sy = _torch_uniform(shear[2], shear[3])
        want.append((angle, (tx, ty), s, (sx, sy)))
    assert got == want


@requires_torch
def test_random_affine_without_ranges_draws_only_the_angle():
    ember.manual_seed(3)
    got = T.RandomAffine.get_params([-10.0, 10.0], None, None, None, [8, 8])
    torch.manual_seed(3)
    assert got == (_torch_uniform(-10.0, 10.0), (0, 0), 1.0, (0.0, 0.0))


def _torch_perspective_points(width, height, d):
    hh, hw = height // 2, width // 2
    bw, bh = int(d * hw) + 1, int(d * hh) + 1

    def ri(lo, hi):
        return int(torch.randint(lo, hi, size=(1,)).item())
    tl = [ri(0, bw), ri(0, bh)]
    tr = [ri(width - bw, width), ri(0, bh)]
    br = [ri(width - bw, width), ri(height - bh, height)]
    bl = [ri(0, bw), ri(height - bh, height)]
    return [[0, 0], [width - 1, 0], [width - 1, height - 1], [0, height - 1]], [tl, tr, br, bl]


def _torch_coeffs(startpoints, endpoints):
    """torchvision's _get_perspective_coeffs, with torch's float64 least squares."""
    a = torch.zeros(8, 8, dtype=torch.float64)
    for i, (p1, p2) in enumerate(zip(endpoints, startpoints)):
        a[2 * i, :] = torch.tensor([p1[0], p1[1], 1, 0, 0, 0, -p2[0] * p1[0], -p2[0] * p1[1]])
        a[2 * i + 1, :] = torch.tensor([0, 0, 0, p1[0], p1[1], 1, -p2[1] * p1[0], -p2[1] * p1[1]])
    b = torch.tensor(startpoints, dtype=torch.float64).view(8)
    return torch.linalg.lstsq(a, b, driver="gels").solution.to(torch.float32).tolist()


@requires_torch
@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("distortion", [0.5, 0.9, 0.0])
def test_random_perspective_points_and_coefficients_are_torchvisions(seed, distortion):
    ember.manual_seed(seed)
    got = [T.RandomPerspective.get_params(37, 29, distortion) for _ in range(3)]
    t2 = T2.RandomPerspective(distortion)
    img = _wrap(np.zeros((1, 29, 37), np.float32))
    got2 = [t2.make_params([img])["coefficients"] for _ in range(3)]
    torch.manual_seed(seed)
    want = [_torch_perspective_points(37, 29, distortion) for _ in range(6)]
    assert [[list(map(list, s)), list(map(list, e))] for s, e in got] == [list(w) for w in want[:3]]
    for c, (s, e) in zip(got2, want[3:]):
        # torch solves with LAPACK's gels (QR), ember with numpy's lstsq (SVD): coefficients that are zero
        # in exact arithmetic come out as different ~1e-16 noise; all others agree to the float32 bit
        np.testing.assert_allclose(np.float32(c), np.float32(_torch_coeffs(s, e)), rtol=0, atol=1e-12)


@requires_torch
@pytest.mark.parametrize("seed", SEEDS)
def test_colour_op_coins_are_torchvisions(seed):
    img = _u8(np.random.default_rng(0).integers(10, 200, (3, 40, 40)))
    changed = (lambda y: not np.array_equal(y.numpy(), img.numpy()))

    def v1(p):  # torchvision v1: if torch.rand(1).item() < self.p (Python floats)
        return torch.rand(1).item() < p

    def v2(p):  # v2: if torch.rand(1) >= self.p: pass the sample through
        return not bool(torch.rand(1) >= p)

    def v1_perspective(p):  # torch.rand(1) < p, then eight randints for the corners
        applied = bool(torch.rand(1) < p)
        if applied:
            _torch_perspective_points(40, 40, 0.5)
        return applied
    cases = [(T.RandomInvert(0.4), v1), (T.RandomPosterize(2, 0.6), v1), (T.RandomSolarize(100, 0.5), v1),
             (T.RandomAutocontrast(0.5), v1), (T.RandomEqualize(0.5), v1),
             (T.RandomAdjustSharpness(3.0, 0.5), v1),
             (T2.RandomInvert(0.4), v2), (T2.RandomPosterize(2, 0.6), v2), (T2.RandomSolarize(100, 0.5), v2),
             (T2.RandomAutocontrast(0.5), v2), (T2.RandomEqualize(0.5), v2),
             (T2.RandomAdjustSharpness(3.0, 0.5), v2),
             (T.RandomPerspective(0.5, p=0.5, fill=255), v1_perspective)]
    for t, draws in cases:
        ember.manual_seed(seed)
        got = [changed(t(img)) for _ in range(20)]
        torch.manual_seed(seed)
        want = [draws(t.p) for _ in range(20)]
        assert got == want, repr(t)
        assert 0 < sum(got) < 20


# ---- deterministic functionals: exact pixels ---------------------------------------------------------
def test_invert_posterize_solarize_pixels():
    a = _u8([[[0, 7, 128, 255]]])
    for mod in (F, F2):
        assert mod.invert(a).numpy().tolist() == [[[255, 248, 127, 0]]]
        assert mod.posterize(a, 3).numpy().tolist() == [[[0, 0, 128, 224]]]
        assert mod.posterize(a, 8).numpy().tolist() == [[[0, 7, 128, 255]]]
        assert mod.posterize(a, 0).numpy().tolist() == [[[0, 0, 0, 0]]]
        assert mod.solarize(a, 128).numpy().tolist() == [[[0, 7, 127, 0]]]
        pil = F.to_pil_image(a)
        assert np.asarray(mod.invert(pil)).tolist() == [[255, 248, 127, 0]]
        assert np.asarray(mod.posterize(pil, 3)).tolist() == [[0, 0, 128, 224]]
        assert np.asarray(mod.solarize(pil, 128)).tolist() == [[0, 7, 127, 0]]
    f = _wrap(np.array([[[0.0, 0.25, 0.5, 1.0]]], np.float32))
    assert F.invert(f).numpy().tolist() == [[[1.0, 0.75, 0.5, 0.0]]]
    assert F.solarize(f, 0.5).numpy().tolist() == [[[0.0, 0.25, 0.5, 0.0]]]
    # v2 posterizes floats too: floor(x * 2**bits) clamped to the top level, over 2**bits
    assert F2.posterize(f, 1).numpy().tolist() == [[[0.0, 0.0, 0.5, 0.5]]]


def test_colour_op_argument_errors():
    a = _u8(np.zeros((3, 4, 4)))
    f = _wrap(np.zeros((3, 4, 4), np.float32))
    with pytest.raises(ValueError, match="The number if bits should be between 0 and 8. Got 9"):
        F.posterize(a, 9)
    with pytest.raises(TypeError, match="Only torch.uint8 image tensors are supported"):
        F.posterize(f, 3)
    with pytest.raises(TypeError, match=r"bits must be a positive integer in the range \[0, 8\], got 9"):
        F2.posterize(a, 9)
    with pytest.raises(TypeError, match="Threshold should be less than bound of img."):
        F.solarize(f, 2.0)
    with pytest.raises(TypeError, match="Threshold should be less or equal the maximum value of the dtype"):
        F2.solarize(a, 256)
    with pytest.raises(TypeError, match="Only torch.uint8 image tensors are supported"):
        F.equalize(f)
    with pytest.raises(ValueError, match=r"sharpness_factor \(-1\) is not non-negative."):
        F.adjust_sharpness(a, -1)
    with pytest.raises(TypeError, match="permitted channel values are"):
        F.invert(_u8(np.zeros((2, 3, 3))))
    with pytest.raises(TypeError, match="img should be PIL Image"):
        F.invert(np.zeros((3, 3)))


def test_equalize_pixels_follow_pils_lookup_table():
    # 255 zeros, 255 hundreds, one 200: step = (255 + 255) // 255 = 2, lut[100] = (255 + 1) // 2 = 128,
    # lut[200] = (510 + 1) // 2 = 255
    row = np.array([0] * 255 + [100] * 255 + [200], np.uint8)
    a = _u8(row.reshape(1, 1, -1))
    want = np.array([0] * 255 + [128] * 255 + [255], np.uint8).reshape(1, 1, -1)
    for mod in (F, F2):
        np.testing.assert_array_equal(mod.equalize(a).numpy(), want)
        np.testing.assert_array_equal(np.asarray(mod.equalize(F.to_pil_image(a))), want[0])
    # a near-constant channel (step 0) is left as it is
    flat = _u8([[[3, 3], [3, 9]]])
    assert F.equalize(flat).numpy().tolist() == [[[3, 3], [3, 9]]]
    # v2 equalizes floats through uint8: 100/255 -> 128/255
    fl = _wrap((row.astype(np.float32) / 255).reshape(1, 1, -1))
    np.testing.assert_allclose(F2.equalize(fl).numpy(), want / np.float32(255), rtol=0, atol=1e-7)


def test_autocontrast_pixels():
    # min 1, max 5: scale 255 / 4 = 63.75, truncated toward zero after clamping
    a = _u8([[[1, 2], [3, 5]]])
    assert F.autocontrast(a).numpy().tolist() == [[[0, 63], [127, 255]]]
    # v2 divides by (max - min) / 255 instead: 4 / float32(4 / 255) = 254.99998, truncated as torchvision does
    assert F2.autocontrast(a).numpy().tolist() == [[[0, 63], [127, 254]]]
    for mod in (F, F2):
        assert np.asarray(mod.autocontrast(F.to_pil_image(a))).tolist() == [[0, 63], [127, 255]]
        assert mod.autocontrast(_u8([[[7, 7]]])).numpy().tolist() == [[[7, 7]]]  # constant: unchanged
    f = _wrap(np.array([[[0.25, 0.5], [0.75, 0.25]]], np.float32))
    assert F.autocontrast(f).numpy().tolist() == [[[0.0, 0.5], [1.0, 0.0]]]


def test_adjust_sharpness_pixels():
    # a single bright pixel in a 3x3: the degenerate image replaces the centre by its smoothed value
    # (5 * 13) / 13 = 5 (uint8 rounded); factor 0 gives the degenerate image, 2 extrapolates away from it
    a = _u8([[[0, 0, 0], [0, 13, 0], [0, 0, 0]]])
    for mod in (F, F2):
        assert mod.adjust_sharpness(a, 0.0).numpy()[0, 1, 1] == 5
        assert mod.adjust_sharpness(a, 1.0).numpy()[0, 1, 1] == 13
        assert mod.adjust_sharpness(a, 2.0).numpy()[0, 1, 1] == 21
        assert (mod.adjust_sharpness(a, 2.0).numpy()[0] == 0).sum() == 8  # the border is kept
        small = _u8(np.arange(6).reshape(1, 2, 3))
        assert mod.adjust_sharpness(small, 0.0).numpy().tolist() == small.numpy().tolist()  # too small: as is


def test_five_and_ten_crop_pixels():
    a = np.arange(20, dtype=np.uint8).reshape(1, 4, 5)
    img = _u8(a)
    for mod in (F, F2):
        tl, tr, bl, br, c = mod.five_crop(img, (2, 3))
        assert tl.numpy().tolist() == [[[0, 1, 2], [5, 6, 7]]]
        assert tr.numpy().tolist() == [[[2, 3, 4], [7, 8, 9]]]
        assert bl.numpy().tolist() == [[[10, 11, 12], [15, 16, 17]]]
        assert br.numpy().tolist() == [[[12, 13, 14], [17, 18, 19]]]
        assert c.numpy().tolist() == [[[6, 7, 8], [11, 12, 13]]]
        ten = mod.ten_crop(img, [2, 3])
        assert len(ten) == 10 and ten[5].numpy().tolist() == [[[4, 3, 2], [9, 8, 7]]]
        assert mod.ten_crop(img, 2, vertical_flip=True)[5].numpy().tolist() == [[[15, 16], [10, 11]]]
        pil = mod.five_crop(F.to_pil_image(img), 2)
        assert [np.asarray(p).tolist() for p in pil][4] == [[7, 8], [12, 13]]  # left = round(1.5) = 2
    with pytest.raises(ValueError, match=r"Requested crop size \(5, 5\) is bigger than input size \(4, 5\)"):
        F.five_crop(img, 5)
    with pytest.raises(ValueError, match="Please provide only two dimensions"):
        T.FiveCrop((1, 2, 3))
    out = T2.FiveCrop(2)(ember.vision.tv_tensors.Image(img))
    assert type(out) is tuple and all(type(o).__name__ == "Image" for o in out)
    with pytest.raises(TypeError, match="BoundingBoxes'es and Mask's are not supported by TenCrop()"):
        T2.TenCrop(2)(img, ember.vision.tv_tensors.Mask(_u8(np.zeros((4, 5)))))


@pytest.mark.parametrize("kind", ["uint8", "float32", "pil"])
@pytest.mark.parametrize("interp", ["NEAREST", "BILINEAR"])
def test_affine_identity_rotation_and_translation(kind, interp):
    a = np.arange(1, 17, dtype=np.uint8).reshape(1, 4, 4)
    if kind == "pil":
        img = F.to_pil_image(_u8(a))
    elif kind == "uint8":
        img = _u8(a)
    else:
        img = _wrap(a.astype(np.float32))
    mode = getattr(F.InterpolationMode, interp)
    for mod in (F, F2):
        same = mod.affine(img, angle=0.0, translate=[0, 0], scale=1.0, shear=[0.0, 0.0], interpolation=mode)
        np.testing.assert_array_equal(_np(same).reshape(4, 4), a[0])
        # positive angles turn clockwise
        turned = mod.affine(img, angle=90.0, translate=[0, 0], scale=1.0, shear=0.0, interpolation=mode)
        tol = 1e-5 if kind == "float32" else 0
        np.testing.assert_allclose(_np(turned).reshape(4, 4), np.rot90(a[0], -1), atol=tol)
        shifted = mod.affine(img, angle=0.0, translate=[1, -1], scale=1.0, shear=0.0, interpolation=mode, fill=0)
        want = np.zeros((4, 4))
        want[:3, 1:] = a[0, 1:, :3]
        np.testing.assert_allclose(_np(shifted).reshape(4, 4), want, atol=tol)


def test_affine_fill_and_argument_errors():
    img = _u8(np.full((3, 4, 4), 9))
    out = F.affine(img, 0.0, [2, 0], 1.0, 0.0, fill=[1.0, 2.0, 3.0])
    assert out.numpy()[:, 0, 0].tolist() == [1, 2, 3] and out.numpy()[:, 0, 3].tolist() == [9, 9, 9]
    with pytest.raises(ValueError, match="Argument scale should be positive"):
        F.affine(img, 0.0, [0, 0], 0.0, 0.0)
    with pytest.raises(ValueError, match="Argument translate should be a sequence of length 2"):
        F.affine(img, 0.0, [0], 1.0, 0.0)
    with pytest.raises(TypeError, match="Argument angle should be int or float"):
        F2.affine(img, "0", [0, 0], 1.0, 0.0)
    with pytest.raises(ValueError, match="cannot broadcast to match the number of channels of the image"):
        F.affine(img, 0.0, [0, 0], 1.0, 0.0, fill=[1.0, 2.0])
    with pytest.raises(ValueError, match="Interpolation mode 'bicubic' is unsupported with Tensor input"):
        F.affine(img, 0.0, [0, 0], 1.0, 0.0, interpolation=F.InterpolationMode.BICUBIC)
    with pytest.raises(ValueError, match="translation values should be between 0 and 1"):
        T.RandomAffine(0, translate=(0.5, 2))
    with pytest.raises(ValueError, match="scale values should be positive"):
        T2.RandomAffine(0, scale=(0, 1))
    with pytest.raises(ValueError, match="shear should be a sequence of length 2 or 4."):
        T.RandomAffine(0, shear=(1, 2, 3))
    with pytest.raises(ValueError, match="Argument distortion_scale value should be between 0 and 1"):
        T2.RandomPerspective(1.5)
    with pytest.raises(ValueError, match="Please provide exactly four corners, got 3 startpoints"):
        F.perspective(img, [[0, 0]] * 3, [[0, 0]] * 4)


def test_perspective_identity_keeps_the_tensor_image():
    # (PIL's own identity perspective is off by a pixel in places: it samples at the coefficients'
    # ~1e-15 least-squares noise, which torch and numpy solve differently; not compared here)
    a = np.arange(20, dtype=np.uint8).reshape(1, 4, 5)
    pts = [[0, 0], [4, 0], [4, 3], [0, 3]]
    for mod in (F, F2):
        np.testing.assert_array_equal(mod.perspective(_u8(a), pts, pts).numpy(), a)
        for interp in (F.InterpolationMode.NEAREST, F.InterpolationMode.BILINEAR):
            np.testing.assert_array_equal(mod.perspective(_wrap(a.astype(np.float32)), pts, pts, interp).numpy(), a)


def test_reprs_are_torchvisions():
    assert repr(T.RandomAffine(10)) == "RandomAffine(degrees=[-10.0, 10.0])"
    assert repr(T.RandomAffine((-5, 15), translate=(0.1, 0.2), scale=(0.9, 1.1), shear=3,
                               interpolation=T.InterpolationMode.BILINEAR, fill=1, center=(2, 3))) == (
        "RandomAffine(degrees=[-5.0, 15.0], translate=(0.1, 0.2), scale=(0.9, 1.1), shear=[-3.0, 3.0], "
        "interpolation=bilinear, fill=1, center=(2, 3))")
    assert repr(T.RandomPerspective(0.3, p=0.2)) == "RandomPerspective(p=0.2)"
    assert repr(T.FiveCrop(3)) == "FiveCrop(size=(3, 3))"
    assert repr(T.TenCrop((3, 4), True)) == "TenCrop(size=(3, 4), vertical_flip=True)"
    assert repr(T.RandomPosterize(3)) == "RandomPosterize(bits=3,p=0.5)"
    assert repr(T.RandomSolarize(0.5, 0.3)) == "RandomSolarize(threshold=0.5,p=0.3)"
    assert repr(T.RandomAdjustSharpness(2)) == "RandomAdjustSharpness(sharpness_factor=2,p=0.5)"
    assert repr(T.RandomInvert()) == "RandomInvert(p=0.5)"
    assert repr(T2.RandomAffine(10, shear=5)) == (
        "RandomAffine(degrees=[-10.0, 10.0], shear=[-5.0, 5.0], interpolation=nearest, fill=0)")
    assert repr(T2.RandomPerspective()) == (
        "RandomPerspective(p=0.5, distortion_scale=0.5, interpolation=bilinear, fill=0)")
    assert repr(T2.RandomPosterize(2)) == "RandomPosterize(p=0.5, bits=2)"
    assert repr(T2.TenCrop(3)) == "TenCrop(size=(3, 3), vertical_flip=False)"


# ---- against torchvision itself ----------------------------------------------------------------------
_CASES = [  # name, factory taking the transforms module, input kinds
    ("RandomAffine", lambda m: m.RandomAffine(25, translate=(0.1, 0.2), scale=(0.8, 1.2), shear=(-5, 5, -3, 3)),
     ("float", "uint8", "pil")),
    ("RandomAffine-bilinear-fill", lambda m: m.RandomAffine((-40, 40), shear=10, fill=(10, 20, 30),
                                                            interpolation=m.InterpolationMode.BILINEAR,
                                                            center=(5, 7)), ("float", "uint8", "pil")),
    ("RandomPerspective", lambda m: m.RandomPerspective(0.6, p=0.7), ("float", "uint8", "pil")),
    ("RandomPerspective-nearest-fill", lambda m: m.RandomPerspective(
        0.4, p=0.9, interpolation=m.InterpolationMode.NEAREST, fill=50), ("float", "uint8", "pil")),
    ("RandomInvert", lambda m: m.RandomInvert(0.5), ("float", "uint8", "pil")),
    ("RandomPosterize", lambda m: m.RandomPosterize(3, 0.5), ("uint8", "pil")),
    ("RandomSolarize", lambda m: m.RandomSolarize(120, 0.5), ("uint8", "pil")),
    ("RandomSolarize-float", lambda m: m.RandomSolarize(0.4, 0.5), ("float",)),
    ("RandomAdjustSharpness", lambda m: m.RandomAdjustSharpness(2.5, 0.5), ("uint8", "pil")),
    ("RandomAutocontrast", lambda m: m.RandomAutocontrast(0.5), ("float", "uint8", "pil")),
    ("RandomEqualize", lambda m: m.RandomEqualize(0.5), ("uint8", "pil")),
    ("FiveCrop", lambda m: m.FiveCrop((13, 21)), ("float", "uint8", "pil")),
    ("TenCrop", lambda m: m.TenCrop(17, vertical_flip=True), ("float", "uint8", "pil")),
    # the colour kernels AutoAugment reuses: v2 has its own (fused multiply-adds, floored grayscale).
    # (On float images v1's chained blends can differ from torch's by a float32 ulp: uint8 only here.)
    ("ColorJitter-bcs", lambda m: m.ColorJitter(0.4, 0.4, 0.4), ("uint8",)),
    ("pipeline", lambda m: m.Compose([m.RandomAffine(15, translate=(0.1, 0.1)), m.RandomPerspective(0.3),
                                      m.RandomAutocontrast(), m.RandomEqualize(), m.RandomInvert(0.2),
                                      m.RandomPosterize(5), m.RandomSolarize(200)]), ("uint8", "pil")),
]


def _inputs(kind):
    rng = np.random.default_rng(7)
    a = rng.integers(0, 256, (40, 50, 3), dtype=np.uint8)
    if kind == "pil":
        return Image.fromarray(a), Image.fromarray(a)
    if kind == "uint8":
        c = np.ascontiguousarray(a.transpose(2, 0, 1))
        return _wrap(c.copy()), torch.from_numpy(c.copy())
    f = rng.random((3, 40, 50), dtype=np.float32)
    return _wrap(f.copy()), torch.from_numpy(f.copy())


def _flat(y):
    return [_np(v) for v in y] if isinstance(y, tuple) else [_np(y)]


@requires_torchvision
@pytest.mark.parametrize("version", ["v1", "v2"])
@pytest.mark.parametrize("name,make,kinds", _CASES, ids=[c[0] for c in _CASES])
def test_transform_gives_torchvisions_images(name, make, kinds, version):
    tvm = importlib.import_module("torchvision.transforms" + (".v2" if version == "v2" else ""))
    em = T2 if version == "v2" else T
    assert repr(make(em)) == repr(make(tvm))
    for kind in kinds:
        e_in, t_in = _inputs(kind)
        for seed in SEEDS:
            et, tt = make(em), make(tvm)
            ember.manual_seed(seed)
            random.seed(seed)
            got = [_flat(et(e_in)) for _ in range(4)]
            torch.manual_seed(seed)
            random.seed(seed)
            want = [_flat(tt(t_in)) for _ in range(4)]
            for gs, ws in zip(got, want):
                assert len(gs) == len(ws)
                for g, w in zip(gs, ws):
                    assert g.dtype == w.dtype and g.shape == w.shape, (kind, seed)
                    np.testing.assert_array_equal(g, w, err_msg=f"{name} {version} {kind} seed {seed}")


@requires_torchvision
@pytest.mark.parametrize("version", ["v1", "v2"])
def test_functionals_equal_torchvisions(version):
    tvf = importlib.import_module("torchvision.transforms" + (".v2" if version == "v2" else "") + ".functional")
    ef = F2 if version == "v2" else F
    calls = [
        ("invert", ()), ("solarize", (0.3,)), ("autocontrast", ()), ("adjust_sharpness", (0.2,)),
        ("adjust_sharpness", (3.0,)),
        ("affine", (33.0, [3, -2], 1.3, [7.0, -4.0])), ("affine", (-120.0, [0, 5], 0.7, [0.0, 12.0])),
        ("perspective", ([[0, 0], [49, 0], [49, 39], [0, 39]], [[3, 2], [45, 6], [47, 35], [1, 38]])),
    ]
    if version == "v2":
        calls += [("posterize", (2,)), ("equalize", ())]  # v2 takes float images for these too
    for kind in ("float", "uint8"):
        e_in, t_in = _inputs(kind)
        for name, args in calls + [("posterize", (2,)), ("equalize", ())] * (kind == "uint8"):
            g, w = _np(getattr(ef, name)(e_in, *args)), getattr(tvf, name)(t_in, *args).numpy()
            assert g.dtype == w.dtype and g.shape == w.shape
            if kind == "float" and name == "adjust_sharpness":  # torch's conv2d sums in another order
                np.testing.assert_allclose(g, w, rtol=0, atol=1e-6)
            else:
                np.testing.assert_array_equal(g, w, err_msg=f"{name}{args} {kind}")


# ---- AutoAugment, RandAugment, TrivialAugmentWide ----------------------------------------------------
from ember.vision.transforms import autoaugment as AA  # noqa: E402


@requires_torch
def test_magnitude_bins_are_torchs():
    for a, b, n in [(0.0, 0.3, 10), (0.0, 150.0 / 331.0 * 37, 31), (255.0, 0.0, 31), (0.0, 0.99, 31), (1.0, 0.0, 10)]:
        np.testing.assert_array_equal(AA._linspace(a, b, n), torch.linspace(a, b, n).numpy())
    for n, top, span in [(10, 8, 4), (31, 8, 4), (31, 8, 6), (7, 8, 6)]:
        want = (top - (torch.arange(n) / ((n - 1) / span)).round().int()).numpy()
        np.testing.assert_array_equal(AA._posterize_bins(n, top, span), want)


def _recorder(calls):
    def apply(img, op_name, magnitude, interpolation, fill):
        calls.append((op_name, magnitude))
        return img
    return apply


def _v1_ops(t, img, seed, monkeypatch, n=6):
    calls = []
    monkeypatch.setattr(AA, "_apply_op", _recorder(calls))
    ember.manual_seed(seed)
    per_call = []
    for _ in range(n):
        start = len(calls)
        t(img)
        per_call.append(calls[start:])
    return per_call


def _v2_ops(t, img, seed, n=6):
    calls = []
    t._apply_image_or_video_transform = lambda image, tid, mag, interpolation, fill: calls.append((tid, mag)) or image
    ember.manual_seed(seed)
    per_call = []
    for _ in range(n):
        start = len(calls)
        t(img)
        per_call.append(calls[start:])
    return per_call


_H, _W = 23, 37


def _tl(a, b, n):
    return torch.linspace(a, b, n)


def _t_space(kind, n, top_posterize=None):
    """torchvision's op tables (v1 layout), magnitudes from torch itself."""
    if kind == "wide":
        d = {"Identity": (torch.tensor(0.0), False), "ShearX": (_tl(0.0, 0.99, n), True),
             "ShearY": (_tl(0.0, 0.99, n), True), "TranslateX": (_tl(0.0, 32.0, n), True),
             "TranslateY": (_tl(0.0, 32.0, n), True), "Rotate": (_tl(0.0, 135.0, n), True)}
        for k in ("Brightness", "Color", "Contrast", "Sharpness"):
            d[k] = (_tl(0.0, 0.99, n), True)
        d["Posterize"] = (8 - (torch.arange(n) / ((n - 1) / 6)).round().int(), False)
    else:
        d = {} if kind == "auto" else {"Identity": (torch.tensor(0.0), False)}
        d.update({"ShearX": (_tl(0.0, 0.3, n), True), "ShearY": (_tl(0.0, 0.3, n), True),
                  "TranslateX": (_tl(0.0, 150.0 / 331.0 * _W, n), True),
                  "TranslateY": (_tl(0.0, 150.0 / 331.0 * _H, n), True), "Rotate": (_tl(0.0, 30.0, n), True)})
        for k in ("Brightness", "Color", "Contrast", "Sharpness"):
            d[k] = (_tl(0.0, 0.9, n), True)
        d["Posterize"] = (8 - (torch.arange(n) / ((n - 1) / 4)).round().int(), False)
    d["Solarize"] = (_tl(255.0, 0.0, n), False)
    d["AutoContrast"] = (torch.tensor(0.0), False)
    d["Equalize"] = (torch.tensor(0.0), False)
    if kind == "auto":
        d["Invert"] = (torch.tensor(0.0), False)
    return d


@requires_torch
@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("policy", list(AA.AutoAugmentPolicy))
def test_autoaugment_v1_draws_are_torchvisions(seed, policy, monkeypatch):
    img = _u8(np.zeros((3, _H, _W)))
    got = _v1_ops(AA.AutoAugment(policy), img, seed, monkeypatch, n=8)
    policies = AA._get_policies(policy)
    space = _t_space("auto", 10)
    torch.manual_seed(seed)
    want = []
    for _ in range(8):
        pid = int(torch.randint(len(policies), (1,)).item())
        probs = torch.rand((2,))
        signs = torch.randint(2, (2,))
        ops = []
        for i, (name, p, mid) in enumerate(policies[pid]):
            if probs[i] <= p:
                mags, signed = space[name]
                m = float(mags[mid].item()) if mid is not None else 0.0
                if signed and signs[i] == 0:
                    m *= -1.0
                ops.append((name, m))
        want.append(ops)
    assert got == want


@requires_torch
@pytest.mark.parametrize("seed", SEEDS)
def test_rand_and_trivial_augment_v1_draws_are_torchvisions(seed, monkeypatch):
    img = _u8(np.zeros((3, _H, _W)))
    got = _v1_ops(AA.RandAugment(num_ops=3, magnitude=7), img, seed, monkeypatch)
    got += _v1_ops(AA.TrivialAugmentWide(), img, seed + 10, monkeypatch)
    torch.manual_seed(seed)
    space = _t_space("rand", 31)
    want = []
    for _ in range(6):
        ops = []
        for _ in range(3):
            name = list(space)[int(torch.randint(len(space), (1,)).item())]
            mags, signed = space[name]
            m = float(mags[7].item()) if mags.ndim > 0 else 0.0
            if signed and torch.randint(2, (1,)):
                m *= -1.0
            ops.append((name, m))
        want.append(ops)
    torch.manual_seed(seed + 10)
    space = _t_space("wide", 31)
    for _ in range(6):
        name = list(space)[int(torch.randint(len(space), (1,)).item())]
        mags, signed = space[name]
        m = float(mags[torch.randint(len(mags), (1,), dtype=torch.long)].item()) if mags.ndim > 0 else 0.0
        if signed and torch.randint(2, (1,)):
            m *= -1.0
        want.append([(name, m)])
    assert got == want


@requires_torch
@pytest.mark.parametrize("seed", SEEDS)
def test_auto_augment_v2_draws_are_torchvisions(seed):
    img = _u8(np.zeros((3, _H, _W)))
    got = _v2_ops(T2.AutoAugment(T2.AutoAugmentPolicy.CIFAR10), img, seed)
    got += _v2_ops(T2.RandAugment(num_ops=2, magnitude=5, num_magnitude_bins=11), img, seed + 1)
    got += _v2_ops(T2.TrivialAugmentWide(num_magnitude_bins=15), img, seed + 2)

    def v2_space(kind, n):  # v2's tables: Solarize magnitudes in [1, 0], signs drawn as rand(()) <= 0.5
        d = _t_space(kind, n)
        d["Solarize"] = (_tl(1.0, 0.0, n), False)
        return {k: (None if v[0].ndim == 0 else v[0], v[1]) for k, v in d.items()}
    want = []
    torch.manual_seed(seed)
    policies, space = AA._get_policies(AA.AutoAugmentPolicy.CIFAR10), v2_space("auto", 10)
    for _ in range(6):
        ops = []
        for name, p, mid in policies[int(torch.randint(len(policies), ()))]:
            if not torch.rand(()) <= p:
                continue
            mags, signed = space[name]
            m = 0.0
            if mags is not None:
                m = float(mags[mid])
                if signed and torch.rand(()) <= 0.5:
                    m *= -1
            ops.append((name, m))
        want.append(ops)
    for s, kind, n, draws in [(seed + 1, "rand", 11, 2), (seed + 2, "wide", 15, 1)]:
        torch.manual_seed(s)
        space = v2_space(kind, n)
        for _ in range(6):
            ops = []
            for _ in range(draws):
                name = tuple(space)[int(torch.randint(len(space), ()))]
                mags, signed = space[name]
                m = 0.0
                if mags is not None:
                    m = float(mags[5] if kind == "rand" else mags[int(torch.randint(n, ()))])
                    if signed and torch.rand(()) <= 0.5:
                        m *= -1
                ops.append((name, m))
            want.append(ops)
    assert got == want


def test_auto_augment_reprs_and_errors():
    assert repr(AA.AutoAugment()) == "AutoAugment(policy=AutoAugmentPolicy.IMAGENET, fill=None)"
    assert repr(AA.RandAugment(fill=[1, 2, 3])) == (
        "RandAugment(num_ops=2, magnitude=9, num_magnitude_bins=31, interpolation=InterpolationMode.NEAREST, "
        "fill=[1, 2, 3])")
    assert repr(AA.TrivialAugmentWide()) == (
        "TrivialAugmentWide(num_magnitude_bins=31, interpolation=InterpolationMode.NEAREST, fill=None)")
    assert repr(T2.RandAugment()) == "RandAugment(interpolation=nearest, num_ops=2, magnitude=9, num_magnitude_bins=31)"
    with pytest.raises(ValueError, match="num_ops should be a non-negative integer, but got -1 instead."):
        T2.RandAugment(num_ops=-1)
    with pytest.raises(TypeError, match="Inputs of type Mask are not supported by TrivialAugmentWide()"):
        T2.TrivialAugmentWide()(_u8(np.zeros((3, 4, 4))), ember.vision.tv_tensors.Mask(_u8(np.zeros((4, 4)))))
    with pytest.raises(ValueError, match="The provided operator Blur is not recognized."):
        AA._apply_op(_u8(np.zeros((3, 4, 4))), "Blur", 0.0, F.InterpolationMode.NEAREST, None)


_AA_CASES = [
    ("AutoAugment-imagenet", lambda m: m.AutoAugment()),
    ("AutoAugment-cifar10", lambda m: m.AutoAugment(m.AutoAugmentPolicy.CIFAR10, fill=[10, 20, 30])),
    ("AutoAugment-svhn", lambda m: m.AutoAugment(m.AutoAugmentPolicy.SVHN)),
    ("RandAugment", lambda m: m.RandAugment(num_ops=3, magnitude=12)),
    ("RandAugment-bilinear", lambda m: m.RandAugment(interpolation=m.InterpolationMode.BILINEAR)),
    ("TrivialAugmentWide", lambda m: m.TrivialAugmentWide()),
    ("AugMix", lambda m: m.AugMix()),
    ("AugMix-partial-nearest", lambda m: m.AugMix(severity=7, mixture_width=2, chain_depth=2, alpha=0.5,
                                                  all_ops=False, interpolation=m.InterpolationMode.NEAREST)),
]


@requires_torchvision
@pytest.mark.parametrize("version", ["v1", "v2"])
@pytest.mark.parametrize("name,make", _AA_CASES, ids=[c[0] for c in _AA_CASES])
def test_auto_augment_gives_torchvisions_images(name, make, version):
    tvm = importlib.import_module("torchvision.transforms" + (".v2" if version == "v2" else ""))
    em = T2 if version == "v2" else ember.vision.transforms
    assert repr(make(em)) == repr(make(tvm))
    # v1 cannot take float images (its Solarize thresholds are 0-255); on floats only Sharpness (torch's
    # conv2d summation order) may differ, by float32 ulps: 1e-6 there
    kinds = ("uint8", "pil") + (("float",) if version == "v2" else ())
    for kind in kinds:
        e_in, t_in = _inputs(kind)
        for seed in SEEDS:
            et, tt = make(em), make(tvm)
            ember.manual_seed(seed)
            got = [_np(et(e_in)) for _ in range(8)]
            torch.manual_seed(seed)
            want = [_np(tt(t_in)) for _ in range(8)]
            for g, w in zip(got, want):
                assert g.dtype == w.dtype and g.shape == w.shape
                if kind == "float":
                    np.testing.assert_allclose(g, w, rtol=0, atol=1e-6, err_msg=f"{name} {version} seed {seed}")
                else:
                    np.testing.assert_array_equal(g, w, err_msg=f"{name} {version} {kind} seed {seed}")


# ---- AugMix: torch's Dirichlet sampler, then the chains ------------------------------------------------
@requires_torch
@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("alphas", [[1.0, 1.0], [1.0, 1.0, 1.0], [0.3, 0.3, 0.3, 0.3], [2.5, 0.7]])
def test_dirichlet_weights_are_torchs_bit_for_bit(seed, alphas):
    ember.manual_seed(seed)
    got = [AA._sample_dirichlet(alphas) for _ in range(4)] + [ember.rand(3).numpy()]
    torch.manual_seed(seed)
    want = [torch._sample_dirichlet(torch.tensor(alphas).expand(1, -1)).numpy() for _ in range(4)]
    want.append(torch.rand(3).numpy())  # and the generator is left where torch's is (normal cache included)
    for g, w in zip(got, want):
        assert g.dtype == w.dtype and g.shape == w.shape
        np.testing.assert_array_equal(g, w)


@requires_torch
@pytest.mark.parametrize("seed", SEEDS)
def test_augmix_v1_draws_are_torchvisions(seed, monkeypatch):
    img = _u8(np.zeros((3, _H, _W)))
    got = _v1_ops(AA.AugMix(severity=4, mixture_width=3), img, seed, monkeypatch, n=4)
    space = {k: v for k, v in _t_space("auto", 10).items() if k not in ("Invert",)}
    space["TranslateX"] = (_tl(0.0, _W / 3.0, 10), True)
    space["TranslateY"] = (_tl(0.0, _H / 3.0, 10), True)
    space["Posterize"] = (4 - (torch.arange(10) / ((10 - 1) / 4)).round().int(), False)
    order = ["ShearX", "ShearY", "TranslateX", "TranslateY", "Rotate", "Posterize", "Solarize", "AutoContrast",
             "Equalize", "Brightness", "Color", "Contrast", "Sharpness"]
    torch.manual_seed(seed)
    want = []
    for _ in range(4):
        torch._sample_dirichlet(torch.tensor([1.0, 1.0]).expand(1, -1))
        torch._sample_dirichlet(torch.tensor([1.0] * 3).expand(1, -1))
        ops = []
        for _ in range(3):
            for _ in range(int(torch.randint(low=1, high=4, size=(1,)).item())):
                name = order[int(torch.randint(len(order), (1,)).item())]
                mags, signed = space[name]
                m = float(mags[torch.randint(4, (1,), dtype=torch.long)].item()) if mags.ndim > 0 else 0.0
                if signed and torch.randint(2, (1,)):
                    m *= -1.0
                ops.append((name, m))
        want.append(ops)
    assert got == want


def test_augmix_arguments_and_repr():
    with pytest.raises(ValueError, match=r"The severity must be between \[1, 10\]. Got 11 instead."):
        AA.AugMix(severity=11)
    with pytest.raises(ValueError, match=r"The severity must be between \[1, 10\]. Got 0 instead."):
        T2.AugMix(severity=0)
    assert repr(AA.AugMix()) == ("AugMix(severity=3, mixture_width=3, chain_depth=-1, alpha=1.0, all_ops=True, "
                                 "interpolation=InterpolationMode.BILINEAR, fill=None)")
    # PIL in, PIL out; a v2 Image stays an Image; the dtype is kept
    pil = F.to_pil_image(_u8(np.random.default_rng(1).integers(0, 256, (3, 9, 11))))
    out = AA.AugMix()(pil)
    assert isinstance(out, Image.Image) and out.size == (11, 9) and out.mode == "RGB"
    img = ember.vision.tv_tensors.Image(_u8(np.zeros((3, 9, 11))))
    out2 = T2.AugMix()(img)
    assert type(out2).__name__ == "Image" and out2.dtype == ember.uint8 and tuple(out2.shape) == (3, 9, 11)
