"""The transforms torchvision has that ember.vision lacked: v1 LinearTransformation, ElasticTransform,
adjust_gamma, elastic_transform; v2 MixUp, CutMix, JPEG, RandomChannelPermutation, RGB, GaussianNoise,
LinearTransformation, ElasticTransform, ScaleJitter, RandomShortestSize, RandomResize, SetClampingMode,
UniformTemporalSubsample, the query helpers and the per-type kernels of v2.functional.

Three layers, as in test_transforms_seeded.py:
- oracle-free: hand-computed values, shapes, label sums, fixed-seed reproducibility, errors, gradients
  against float64 central differences;
- against torch alone: the parameters ember draws equal those computed from torch's own draws;
- against torchvision (EMBER_TORCHVISION_PATH=/tmp/tvlib): the same seed gives the same outputs.
"""
import math
import warnings

import numpy as np
import pytest

import ember
from ember.vision import transforms as T
from ember.vision import tv_tensors
from ember.vision.transforms import functional as F1
from ember.vision.transforms import v2
from ember.vision.transforms.v2 import functional as F
from tests.conftest import numeric_grad, real_torchvision, requires_torch, torch

PImage = pytest.importorskip("PIL.Image")

tv2 = real_torchvision("torchvision.transforms.v2", "torchvision.transforms")
requires_tv = pytest.mark.skipif(tv2 is None, reason="torchvision (the oracle) is not importable; set "
                                                     "EMBER_TORCHVISION_PATH")
SEEDS = (0, 1, 2)


def _tv():
    import torchvision.transforms as TT
    import torchvision.transforms.functional as TF1
    import torchvision.transforms.v2 as TV2
    import torchvision.transforms.v2.functional as TVF
    from torchvision import tv_tensors as TVT
    return TT, TF1, TV2, TVF, TVT


def _u8(shape, seed=0):
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


def _f32(shape, seed=0):
    return np.random.default_rng(seed).random(shape, dtype=np.float32)


def _np(x):
    return np.asarray(x.numpy() if hasattr(x, "numpy") else x)


def _grad_check(f, x0, w, tol=1e-6):
    x = ember.tensor(x0, requires_grad=True)
    (f(x) * ember.tensor(w)).sum().backward()
    num = numeric_grad(lambda a: float((f(ember.tensor(a)) * ember.tensor(w)).sum()), x0)
    np.testing.assert_allclose(x.grad.numpy(), num, atol=tol)


# ---- the names exist, with docstrings -------------------------------------------------------------------
V1 = ["LinearTransformation", "ElasticTransform"]
V1F = ["adjust_gamma", "elastic_transform"]
V2 = ["CutMix", "MixUp", "JPEG", "RandomChannelPermutation", "RGB", "GaussianNoise", "LinearTransformation",
      "ElasticTransform", "ScaleJitter", "RandomShortestSize", "RandomResize", "SetClampingMode",
      "UniformTemporalSubsample", "query_chw", "query_size", "get_bounding_boxes", "has_any", "has_all", "check_type"]
V2F = ["adjust_gamma", "gaussian_noise", "grayscale_to_rgb", "jpeg", "elastic", "elastic_transform", "get_num_frames",
       "uniform_temporal_subsample"] + [
    f"{op}_{kind}" for op, kinds in {
        "adjust_brightness": "iv", "adjust_contrast": "iv", "adjust_saturation": "iv", "adjust_hue": "iv",
        "adjust_sharpness": "iv", "adjust_gamma": "iv", "autocontrast": "iv", "equalize": "iv", "invert": "iv",
        "posterize": "iv", "solarize": "iv", "permute_channels": "iv", "gaussian_noise": "iv", "jpeg": "iv",
        "normalize": "iv", "gaussian_blur": "iv", "erase": "iv", "to_dtype": "iv", "five_crop": "iv",
        "ten_crop": "iv", "get_dimensions": "iv", "get_num_channels": "iv", "rgb_to_grayscale": "i",
        "grayscale_to_rgb": "i", "uniform_temporal_subsample": "v", "get_num_frames": "v",
        "get_size": "ivmb", "resize": "ivmb", "resized_crop": "ivmb", "crop": "ivmb", "center_crop": "ivmb",
        "pad": "ivmb", "rotate": "ivmb", "affine": "ivmb", "perspective": "ivmb", "elastic": "ivmb",
        "horizontal_flip": "ivmb", "vertical_flip": "ivmb",
    }.items() for kind in [{"i": "image", "v": "video", "m": "mask", "b": "bounding_boxes"}[k] for k in kinds]]


def test_the_new_public_names_exist_with_docstrings():
    for mod, names in ((T, V1), (F1, V1F), (v2, V2), (F, V2F)):
        for name in names:
            obj = getattr(mod, name)
            assert obj.__doc__ and obj.__doc__.strip(), f"{mod.__name__}.{name} has no docstring"
            assert name in mod.__all__, f"{name} missing from {mod.__name__}.__all__"
    assert F1.pil_modes_mapping[F1.InterpolationMode.NEAREST_EXACT] == 0
    assert F1.pil_modes_mapping[F1.InterpolationMode.BICUBIC] == 3
    # ember's tv_tensors have no KeyPoints, so the keypoint transforms are left out
    assert not hasattr(tv_tensors, "KeyPoints") and not hasattr(v2, "ClampKeyPoints")


# ---- adjust_gamma -----------------------------------------------------------------------------------------
def test_adjust_gamma_values_by_hand():
    x = np.array([[[0.0, 0.25, 0.5, 1.0]]], np.float32)
    np.testing.assert_allclose(F1.adjust_gamma(ember.tensor(x), 2.0).numpy(), x ** 2, rtol=1e-6)
    np.testing.assert_allclose(F.adjust_gamma(ember.tensor(x), 0.5).numpy(), np.sqrt(x), rtol=1e-6)
    # gain: v1 always clamps to [0, 1]; v2 clamps when gain != 1
    np.testing.assert_allclose(F1.adjust_gamma(ember.tensor(x), 1.0, 3.0).numpy(), np.minimum(3 * x, 1), rtol=1e-6)
    np.testing.assert_allclose(F.adjust_gamma(ember.tensor(x), 1.0, 3.0).numpy(), np.minimum(3 * x, 1), rtol=1e-6)
    # uint8: scaled to [0, 1], back with * 255.999 and truncation; gamma 1 is the identity
    u = np.arange(256, dtype=np.uint8).reshape(1, 16, 16)
    for fn in (F1.adjust_gamma, F.adjust_gamma):
        out = fn(ember.tensor(u), 1.0)
        assert out.dtype == ember.uint8
        np.testing.assert_array_equal(out.numpy(), u)
        sq = fn(ember.tensor(u), 2.0).numpy().astype(int)
        want = np.floor((u / 255.0) ** 2 * 255.999).astype(int)
        assert np.abs(sq - want).max() <= 1
    # PIL: torchvision's lookup table, on RGB and L images
    a = _u8((5, 6, 3))
    table = np.array([int(255.999 * 0.8 * (v / 255.0) ** 1.5) for v in range(256)])
    np.testing.assert_array_equal(np.asarray(F1.adjust_gamma(PImage.fromarray(a), 1.5, 0.8)), table[a])
    g = PImage.fromarray(a[..., 0])
    out = F.adjust_gamma(g, 1.5, 0.8)
    assert out.mode == "L"
    np.testing.assert_array_equal(np.asarray(out), table[a[..., 0]])


def test_adjust_gamma_errors_and_gradient():
    with pytest.raises(ValueError, match="Gamma should be a non-negative real number"):
        F1.adjust_gamma(ember.rand(3, 2, 2), -1)
    with pytest.raises(ValueError, match="Gamma should be a non-negative real number"):
        F.adjust_gamma(ember.rand(3, 2, 2), -1)
    with pytest.raises(TypeError, match=r"permitted channel values are \[1, 3\], but found 4"):
        F1.adjust_gamma(ember.rand(4, 2, 2), 2)
    with pytest.raises(TypeError, match="img should be PIL Image"):
        F1.adjust_gamma([1, 2], 2)
    x0 = np.random.default_rng(0).random((3, 4, 5)) * 0.9 + 0.05
    w = np.random.default_rng(1).random((3, 4, 5))
    _grad_check(lambda x: F1.adjust_gamma(x, 1.7, 0.8), x0, w)
    _grad_check(lambda x: F.adjust_gamma(x, 2.3, 0.9), x0, w)
    img = F.adjust_gamma(tv_tensors.Image(ember.tensor(x0)), 2.0)
    assert type(img) is tv_tensors.Image


# ---- gaussian_noise / GaussianNoise ---------------------------------------------------------------------
def test_gaussian_noise_statistics_clip_and_dtypes():
    ember.manual_seed(0)
    x = ember.full((1, 200, 200), 0.5)
    out = F.gaussian_noise(x, mean=0.1, sigma=0.05, clip=False).numpy()
    assert abs(out.mean() - 0.6) < 2e-3 and abs(out.std() - 0.05) < 2e-3
    # sigma 0: the mean only; floats clip to [0, 1], uint8 adds int(mean * 255) and clips to [0, 255]
    np.testing.assert_allclose(F.gaussian_noise(x, mean=0.7, sigma=0.0).numpy(), 1.0)
    np.testing.assert_allclose(F.gaussian_noise(x, mean=0.2, sigma=0.0).numpy(), 0.7, rtol=1e-6)
    u = ember.tensor(np.array([[[0, 100, 200, 250]]], np.uint8))
    out = F.gaussian_noise(u, mean=0.5, sigma=0.0)
    assert out.dtype == ember.uint8 and out.tolist() == [[[127, 227, 255, 255]]]
    # without clip, uint8 wraps around as torch's int16 -> uint8 cast does
    assert F.gaussian_noise(u, mean=0.5, sigma=0.0, clip=False).tolist() == [[[127, 227, (327) % 256, 377 % 256]]]
    assert F.gaussian_noise(ember.tensor(np.zeros((1, 2, 2))), sigma=0.1).dtype == ember.float64


def test_gaussian_noise_is_reproducible_per_seed_and_passes_gradients():
    x = ember.tensor(_f32((2, 3, 5, 6)))
    ember.manual_seed(3)
    a = v2.GaussianNoise(sigma=0.2)(x).numpy()
    ember.manual_seed(3)
    b = v2.GaussianNoise(sigma=0.2)(x).numpy()
    c = v2.GaussianNoise(sigma=0.2)(x).numpy()
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(b, c)
    assert a.min() >= 0 and a.max() <= 1
    video = tv_tensors.Video(ember.rand(2, 3, 4, 4))
    assert type(v2.GaussianNoise()(video)) is tv_tensors.Video
    x0 = np.full((3, 4, 4), 0.5)

    def f(t):
        ember.manual_seed(1)
        return F.gaussian_noise(t, sigma=0.01)
    _grad_check(f, x0, np.random.default_rng(0).random((3, 4, 4)))


def test_gaussian_noise_errors():
    with pytest.raises(ValueError, match="sigma shouldn't be negative. Got -1"):
        F.gaussian_noise(ember.rand(3, 2, 2), sigma=-1)
    with pytest.raises(ValueError, match="uint8 or float dtype"):
        F.gaussian_noise(ember.zeros(3, 2, 2, dtype=ember.int32))
    with pytest.raises(ValueError, match="Gaussian Noise is not implemented for PIL images"):
        v2.GaussianNoise()(PImage.new("RGB", (4, 4)))


# ---- RGB, grayscale_to_rgb, permute_channels ---------------------------------------------------------------
def test_grayscale_to_rgb_repeats_one_channel_and_keeps_rgb():
    g = ember.tensor(_u8((2, 1, 3, 4)))
    out = F.grayscale_to_rgb(g)
    assert tuple(out.shape) == (2, 3, 3, 4) and out.dtype == ember.uint8
    for c in range(3):
        np.testing.assert_array_equal(out.numpy()[:, c], g.numpy()[:, 0])
    rgb = ember.tensor(_u8((3, 3, 4)))
    assert F.grayscale_to_rgb(rgb) is rgb
    img = v2.RGB()(tv_tensors.Image(g[0]))
    assert type(img) is tv_tensors.Image and tuple(img.shape) == (3, 3, 4)
    pil = v2.RGB()(PImage.fromarray(_u8((3, 4))))
    assert pil.mode == "RGB"
    with pytest.raises(ValueError, match="1 or 3 channels"):
        F.grayscale_to_rgb(ember.rand(2, 3, 3))


def test_random_channel_permutation_permutes_every_image_of_a_sample_alike():
    a = np.arange(4 * 2 * 3, dtype=np.float32).reshape(4, 2, 3)
    sample = {"image": tv_tensors.Image(ember.tensor(a)), "video": tv_tensors.Video(ember.tensor(a[None, None]))}
    ember.manual_seed(0)
    outs = [v2.RandomChannelPermutation()(sample) for _ in range(4)]
    perms = set()
    for out in outs:
        got = out["image"].numpy()
        perm = [int(got[c, 0, 0]) // 6 for c in range(4)]
        assert sorted(perm) == [0, 1, 2, 3]
        np.testing.assert_array_equal(got, a[perm])
        np.testing.assert_array_equal(out["video"].numpy()[0, 0], a[perm])
        perms.add(tuple(perm))
    assert len(perms) > 1
    with pytest.raises(ValueError, match="Length of permutation does not match number of channels: 2 != 4"):
        F.permute_channels(ember.tensor(a), [0, 1])


# ---- JPEG ------------------------------------------------------------------------------------------------
def _smooth(c=3, h=24, w=32):
    yy, xx = np.mgrid[0:h, 0:w]
    return np.stack([40 + 4 * xx + 3 * yy + 10 * k for k in range(c)]).astype(np.uint8)


def test_jpeg_compresses_with_a_quality_dependent_error():
    a = _smooth()
    errs = []
    for q in (100, 50, 5):
        out = F.jpeg(ember.tensor(a), q)
        assert out.dtype == ember.uint8 and tuple(out.shape) == a.shape
        errs.append(np.abs(out.numpy().astype(int) - a).mean())
    assert errs[0] < 2 and errs[0] < errs[1] < errs[2]
    gray = F.jpeg(ember.tensor(a[:1]), 90)
    assert tuple(gray.shape) == (1, 24, 32) and np.abs(gray.numpy().astype(int) - a[:1]).mean() < 3
    # a batch and a video: each image on its own, as torchvision's loop does
    batch = np.stack([a, a[::-1].copy()])
    out = F.jpeg(tv_tensors.Video(ember.tensor(batch[None])), 75)
    assert type(out) is tv_tensors.Video
    np.testing.assert_array_equal(out.numpy()[0, 1], F.jpeg(ember.tensor(batch[1]), 75).numpy())
    # the tensor kernel and the PIL kernel compress alike
    pil = F.jpeg(PImage.fromarray(a.transpose(1, 2, 0)), 60)
    assert type(pil) is PImage.Image
    np.testing.assert_array_equal(np.asarray(pil).transpose(2, 0, 1), F.jpeg(ember.tensor(a), 60).numpy())


def test_jpeg_transform_draws_quality_in_the_closed_range_and_checks_arguments():
    t = v2.JPEG((20, 23))
    ember.manual_seed(0)
    qs = {t.make_params([])["quality"] for _ in range(100)}
    assert qs == {20, 21, 22, 23}
    assert v2.JPEG(40).quality == [40, 40]
    with pytest.raises(TypeError, match="quality can't be bool"):
        v2.JPEG(True)
    with pytest.raises(ValueError, match=r"quality must be an integer from 1 to 100, got quality =\[0, 0\]"):
        v2.JPEG(0)
    with pytest.raises(ValueError, match="quality should be a sequence of length 2"):
        v2.JPEG([1, 2, 3])
    with pytest.raises(ValueError, match="Image quality should be a positive number between 1 and 100"):
        F.jpeg(ember.zeros(3, 4, 4, dtype=ember.uint8), 101)
    with pytest.raises(RuntimeError, match="dtype should be uint8"):
        F.jpeg(ember.rand(3, 4, 4), 50)
    with pytest.raises(RuntimeError, match="The number of channels should be 1 or 3, got: 4"):
        F.jpeg(ember.zeros(4, 4, 4, dtype=ember.uint8), 50)


# ---- elastic ---------------------------------------------------------------------------------------------
def test_elastic_zero_displacement_is_the_identity_and_a_pixel_shift_shifts():
    a = _f32((2, 3, 5, 6))
    zero = ember.zeros(1, 5, 6, 2)
    for mode in ("nearest", "bilinear", "bicubic"):
        np.testing.assert_allclose(F.elastic(ember.tensor(a), zero, interpolation=mode).numpy(), a, atol=1e-5)
    u = _u8((3, 5, 6))
    np.testing.assert_array_equal(F.elastic(ember.tensor(u), zero).numpy(), u)
    np.testing.assert_array_equal(F1.elastic_transform(ember.tensor(u), zero).numpy(), u)
    # a displacement of 2 / W in x (one pixel): output pixel j reads input pixel j + 1; the last column is fill
    d = np.zeros((1, 5, 6, 2), np.float32)
    d[..., 0] = 2.0 / 6
    out = F.elastic(ember.tensor(u), ember.tensor(d), interpolation="nearest", fill=[7, 8, 9]).numpy()
    np.testing.assert_array_equal(out[..., :5], u[..., 1:])
    np.testing.assert_array_equal(out[:, :, 5], np.array([7, 8, 9])[:, None].repeat(5, 1))
    out1 = F1.elastic_transform(ember.tensor(u), ember.tensor(d), F1.InterpolationMode.BILINEAR, [7.0]).numpy()
    np.testing.assert_array_equal(out1[..., :5], u[..., 1:])
    assert (out1[..., 5] == 7).all()
    # PIL in, PIL out
    pil = F1.elastic_transform(PImage.fromarray(u.transpose(1, 2, 0)), ember.tensor(d))
    np.testing.assert_array_equal(np.asarray(pil)[:, :5], u.transpose(1, 2, 0)[:, 1:])


def test_elastic_masks_stay_labels_and_boxes_follow_the_inverse_field():
    ember.manual_seed(0)
    m = tv_tensors.Mask(ember.tensor(np.random.default_rng(0).integers(0, 4, (12, 15), dtype=np.uint8)))
    d = (ember.rand(1, 12, 15, 2) - 0.5) * 0.4
    out = F.elastic(m, d)
    assert type(out) is tv_tensors.Mask and tuple(out.shape) == (12, 15)
    assert set(np.unique(out.numpy())) <= {0, 1, 2, 3}
    np.testing.assert_array_equal(F.elastic_mask(ember.tensor(m.numpy()), d).numpy(), out.numpy())
    boxes = tv_tensors.BoundingBoxes([[2.0, 3.0, 10.0, 8.5]], format="XYXY", canvas_size=(10, 20))
    out = F.elastic(boxes, ember.zeros(1, 10, 20, 2))
    assert type(out) is tv_tensors.BoundingBoxes and out.canvas_size == (10, 20)
    assert out.tolist() == [[2.0, 3.0, 10.0, 9.0]]  # corners rounded up to the pixel they index


def test_elastic_errors_and_gradient():
    with pytest.raises(TypeError, match="Argument displacement should be a Tensor"):
        F.elastic(ember.rand(3, 4, 4), np.zeros((1, 4, 4, 2)))
    with pytest.raises(ValueError, match=r"Argument displacement shape should be \(1, 4, 4, 2\)"):
        F.elastic(ember.rand(3, 4, 4), ember.zeros(1, 4, 5, 2))
    with pytest.raises(ValueError, match=r"Argument displacement shape should be \(1, 4, 4, 2\)"):
        F1.elastic_transform(ember.rand(3, 4, 4), ember.zeros(1, 4, 4, 3))
    with pytest.raises(TypeError, match="img should be PIL Image or Tensor"):
        F1.elastic_transform([1], ember.zeros(1, 4, 4, 2))
    with pytest.raises(ValueError, match="expected mode to be 'bilinear', 'nearest' or 'bicubic'"):
        F.elastic(ember.rand(3, 4, 4), ember.zeros(1, 4, 4, 2), interpolation="nearest-exact")
    rng = np.random.default_rng(0)
    d = ember.tensor((rng.random((1, 5, 6, 2)) - 0.5) * 0.3)
    x0, w = rng.random((2, 3, 5, 6)), rng.random((2, 3, 5, 6))
    _grad_check(lambda x: F.elastic(x, d, fill=[0.2, 0.3, 0.4]), x0, w)
    _grad_check(lambda x: F1.elastic_transform(x, d), x0, w)


def test_elastic_transform_parameters_reprs_and_errors():
    img = ember.rand(3, 24, 30)
    ember.manual_seed(5)
    d1 = T.ElasticTransform.get_params([30.0, 20.0], [3.0, 2.0], [24, 30])
    ember.manual_seed(5)
    d2 = v2.ElasticTransform(alpha=[30.0, 20.0], sigma=[3.0, 2.0]).make_params([img])
    assert tuple(d1.shape) == (1, 24, 30, 2) and d1.dtype == ember.float32
    np.testing.assert_array_equal(d1.numpy(), d2["displacement"].numpy())
    # sigma 0: no blur, the raw field (2 * rand - 1) * alpha / side
    ember.manual_seed(1)
    raw = T.ElasticTransform.get_params([4.0, 6.0], [0.0, 0.0], [8, 10]).numpy()
    assert np.abs(raw[..., 0]).max() <= 4.0 / 10 and np.abs(raw[..., 1]).max() <= 6.0 / 8
    assert raw.std() > 0.05
    out = T.ElasticTransform(alpha=10.0, sigma=2.0)(ember.rand(3, 24, 30))
    assert tuple(out.shape) == (3, 24, 30)
    assert repr(T.ElasticTransform()) == ("ElasticTransform(alpha=[50.0, 50.0], sigma=[5.0, 5.0], "
                                          "interpolation=InterpolationMode.BILINEAR, fill=[0.0])")
    assert repr(v2.ElasticTransform()) == "ElasticTransform(alpha=[50.0, 50.0], sigma=[5.0, 5.0], " \
                                          "interpolation=bilinear, fill=0)"
    with pytest.raises(TypeError, match="alpha should be float or a sequence of floats. Got <class 'int'>"):
        T.ElasticTransform(alpha=50)
    with pytest.raises(ValueError, match="If sigma is a sequence its length should be 2. Got 3"):
        T.ElasticTransform(sigma=[1.0, 2.0, 3.0])
    with pytest.raises(TypeError, match="fill should be int or float or a list or tuple"):
        T.ElasticTransform(fill="x")
    # sigma 5 blurs with a 41-tap kernel: torch's reflection pad refuses an image of side <= 20
    with pytest.raises(RuntimeError, match=r"Padding size should be less than the corresponding input dimension, "
                                           r"but got: padding \(20, 20\) at dimension 3 of input \[1, 1, 10, 10\]"):
        v2.ElasticTransform()(ember.rand(3, 10, 10))


# ---- LinearTransformation -------------------------------------------------------------------------------
def test_linear_transformation_is_centred_flat_matmul():
    rng = np.random.default_rng(0)
    D = 2 * 3 * 4
    M, mv = rng.standard_normal((D, D)), rng.standard_normal(D)
    x = rng.random((5, 2, 3, 4))
    want = ((x.reshape(5, D) - mv) @ M).reshape(x.shape)
    np.testing.assert_allclose(T.LinearTransformation(ember.tensor(M), ember.tensor(mv))(ember.tensor(x)).numpy(),
                               want, rtol=1e-12)
    t2 = v2.LinearTransformation(ember.tensor(M), ember.tensor(mv))
    out = t2({"img": tv_tensors.Image(ember.tensor(x[0])), "mask": tv_tensors.Mask(ember.zeros(3, 4))})
    assert type(out["img"]) is tv_tensors.Image and type(out["mask"]) is tv_tensors.Mask
    np.testing.assert_allclose(out["img"].numpy(), want[0], rtol=1e-12)
    assert repr(T.LinearTransformation(ember.eye(2), ember.zeros(2))) == \
        "LinearTransformation(transformation_matrix=[[1.0, 0.0], [0.0, 1.0]], mean_vector=[0.0, 0.0])"
    _grad_check(lambda t: t2(t), x, rng.random(x.shape))


def test_linear_transformation_errors():
    for cls in (T.LinearTransformation, v2.LinearTransformation):
        with pytest.raises(ValueError, match=r"transformation_matrix should be square. Got \(3, 4\)"):
            cls(ember.zeros(3, 4), ember.zeros(3))
        with pytest.raises(ValueError, match="mean_vector should have the same length 4"):
            cls(ember.zeros(3, 3), ember.zeros(4))
        with pytest.raises(ValueError, match="Input tensors should have the same dtype"):
            cls(ember.zeros(3, 3), ember.zeros(3, dtype=ember.float64))
        with pytest.raises(ValueError, match=r"incompatible shape.\[1 x 2 x 2\] != 3"):
            cls(ember.eye(3), ember.zeros(3))(ember.rand(1, 2, 2))
    with pytest.raises(TypeError, match="LinearTransformation\\(\\) does not support PIL images"):
        v2.LinearTransformation(ember.eye(3), ember.zeros(3))(PImage.new("RGB", (1, 1)))


# ---- MixUp / CutMix ---------------------------------------------------------------------------------------
def test_mixup_mixes_each_sample_with_the_previous_one():
    rng = np.random.default_rng(0)
    x = rng.random((4, 3, 5, 6)).astype(np.float32)
    labels = ember.tensor([0, 2, 1, 2])
    ember.manual_seed(0)
    out, lab = v2.MixUp(alpha=0.4, num_classes=3)(ember.tensor(x), labels)
    lab = lab.numpy()
    assert lab.shape == (4, 3) and lab.dtype == np.float32
    np.testing.assert_allclose(lab.sum(1), 1.0, rtol=1e-6)
    lam = lab[0, 0]  # sample 0 (class 0) mixed with sample 3 (class 2)
    np.testing.assert_allclose(lab[0], [lam, 0, 1 - lam], rtol=1e-6)
    np.testing.assert_allclose(out.numpy(), lam * x + (1 - lam) * np.roll(x, 1, 0), rtol=1e-5, atol=1e-6)
    # one-hot labels in, the same mix; num_classes may then be left out
    ember.manual_seed(0)
    _, lab2 = v2.MixUp(alpha=0.4)(ember.tensor(x), ember.nn.functional.one_hot(labels, 3))
    np.testing.assert_allclose(lab2.numpy(), lab, rtol=1e-6)
    ember.manual_seed(0)
    again = v2.MixUp(alpha=0.4, num_classes=3)(ember.tensor(x), labels)[0].numpy()
    np.testing.assert_array_equal(again, out.numpy())

    def mix(t):
        ember.manual_seed(2)  # the same lam for every evaluation
        return v2.MixUp(num_classes=3)(t, labels)[0]
    _grad_check(mix, x.astype(np.float64), rng.random(x.shape))


def test_cutmix_pastes_one_box_and_mixes_labels_by_its_area():
    rng = np.random.default_rng(1)
    x = rng.random((3, 2, 16, 20)).astype(np.float32) + 10 * np.arange(3, dtype=np.float32)[:, None, None, None]
    labels = ember.tensor([0, 1, 2])
    for seed in range(6):
        ember.manual_seed(seed)
        t = v2.CutMix(num_classes=4)
        imgs, lab = t(tv_tensors.Image(ember.tensor(x)), labels)
        assert type(imgs) is tv_tensors.Image
        imgs, lab = imgs.numpy(), lab.numpy()
        np.testing.assert_allclose(lab.sum(1), 1.0, rtol=1e-6)
        rolled = np.roll(x, 1, 0)
        pasted = imgs == rolled
        assert ((imgs == x) | pasted).all()
        frac = pasted[0, 0].mean()
        np.testing.assert_allclose(lab[0, 2], frac, rtol=1e-6)  # sample 0 takes a box of sample 2
        np.testing.assert_allclose(lab[0, 0], 1 - frac, rtol=1e-6)
        ys, xs = np.nonzero(pasted[0, 0])
        if len(ys):  # one rectangle, the same in every image and channel
            assert pasted[0, 0, ys.min():ys.max() + 1, xs.min():xs.max() + 1].all()
            assert (pasted == pasted[0, 0]).all()


def test_mixup_cutmix_take_dicts_and_videos_and_leave_other_entries():
    video = tv_tensors.Video(ember.rand(2, 3, 1, 4, 4))
    out = v2.MixUp(num_classes=5)({"video": video, "labels": ember.tensor([1, 4]), "id": "batch-7"})
    assert type(out["video"]) is tv_tensors.Video and out["id"] == "batch-7"
    assert tuple(out["labels"].shape) == (2, 5)
    out = v2.CutMix(labels_getter=lambda s: s[1]["y"])(ember.rand(2, 1, 4, 4), {"y": ember.rand(2, 3)})
    assert tuple(out[1]["y"].shape) == (2, 3)


def test_mixup_cutmix_errors():
    imgs, labels = ember.rand(4, 3, 5, 5), ember.tensor([0, 1, 2, 0])
    for cls in (v2.MixUp, v2.CutMix):
        with pytest.raises(ValueError, match=r"num_classes must be passed if the labels are index-based \(1D\)"):
            cls()(imgs, labels)
        with pytest.raises(ValueError, match="must match num_classes: 4 != 3"):
            cls(num_classes=3)(imgs, ember.rand(4, 4))
        with pytest.raises(ValueError, match="Expected a batched input with 4 dims, but got 3 dimensions"):
            cls(num_classes=3)(imgs[0], labels)
        with pytest.raises(ValueError, match="does not match the batch size of the labels: 4 != 3"):
            cls(num_classes=3)(imgs, labels[:3])
        with pytest.raises(ValueError, match="labels should be index based"):
            cls(num_classes=3)(imgs, ember.zeros(4, 3, 1))
        with pytest.raises(ValueError, match="The labels must be a tensor, but got <class 'NoneType'>"):
            cls(num_classes=3, labels_getter=None)(imgs, labels)
        with pytest.raises(ValueError, match="does not support PIL images, bounding boxes"):
            cls(num_classes=3)(PImage.new("RGB", (4, 4)), labels)
        with pytest.raises(ValueError, match="does not support PIL images, bounding boxes"):
            cls(num_classes=3)({"image": imgs, "masks": tv_tensors.Mask(ember.zeros(4, 5, 5)), "labels": labels})
        with pytest.raises(ValueError, match="labels_getter should either be 'default', a callable, or None"):
            cls(labels_getter=3)
    with pytest.raises(RuntimeError, match="result type Float can't be cast to the desired output type Byte"):
        v2.MixUp(num_classes=3)(ember.zeros(4, 3, 5, 5, dtype=ember.uint8), labels)


# ---- size augmentation -------------------------------------------------------------------------------------
def test_random_shortest_size_random_resize_and_scale_jitter_sizes():
    img = tv_tensors.Image(ember.rand(3, 40, 50))
    boxes = tv_tensors.BoundingBoxes([[10.0, 4.0, 30.0, 20.0]], format="XYXY", canvas_size=(40, 50))
    out = v2.RandomShortestSize(20)({"img": img, "boxes": boxes})
    assert tuple(out["img"].shape) == (3, 20, 25) and out["boxes"].canvas_size == (20, 25)
    assert out["boxes"].tolist() == [[5.0, 2.0, 15.0, 10.0]]
    assert tuple(v2.RandomShortestSize(30, max_size=33)(img).shape) == (3, 26, 33)
    ember.manual_seed(0)
    sizes = {v2.RandomShortestSize([10, 20, 30])(img).shape[-2] for _ in range(30)}
    assert sizes == {10, 20, 30}
    ember.manual_seed(0)
    shorter = {min(v2.RandomResize(16, 20)(img).shape[-2:]) for _ in range(40)}
    assert shorter == {16, 17, 18, 19}
    # scale_range (1, 1): the fit of (H, W) into target_size, scaled by min(t[1] / H, t[0] / W)
    out = v2.ScaleJitter((100, 60), scale_range=(1.0, 1.0))({"img": img, "boxes": boxes})
    assert tuple(out["img"].shape) == (3, 60, 75) and out["boxes"].tolist() == [[15.0, 6.0, 45.0, 30.0]]
    ember.manual_seed(0)
    hs = [v2.ScaleJitter((100, 60), scale_range=(0.5, 1.5))(img).shape[-2] for _ in range(20)]
    assert min(hs) >= 30 and max(hs) <= 90 and len(set(hs)) > 5


def test_set_clamping_mode_and_uniform_temporal_subsample():
    boxes = tv_tensors.BoundingBoxes([[-5.0, 2.0, 8.0, 30.0]], format="XYXY", canvas_size=(20, 20))
    out = v2.Compose([v2.SetClampingMode(None), v2.Pad(1)])(boxes)
    assert out.clamping_mode is None and out.tolist() == [[-4.0, 3.0, 9.0, 31.0]]
    out = v2.Compose([v2.SetClampingMode("hard"), v2.Pad(1)])(boxes)
    assert out.clamping_mode == "hard" and out.tolist() == [[0.0, 3.0, 9.0, 22.0]]
    assert boxes.clamping_mode == "soft"  # a copy was changed
    with pytest.raises(ValueError, match="clamping_mode must be soft, hard or None, got x"):
        v2.SetClampingMode("x")
    video = tv_tensors.Video(ember.arange(7.0).reshape(7, 1, 1, 1).expand(7, 2, 2, 2))
    out = v2.UniformTemporalSubsample(3)(video)
    assert type(out) is tv_tensors.Video and out[:, 0, 0, 0].tolist() == [0.0, 3.0, 6.0]
    assert F.uniform_temporal_subsample(video, 10)[:, 0, 0, 0].tolist() == [0, 0, 1, 2, 2, 3, 4, 4, 5, 6]
    assert F.get_num_frames(video) == 7 and F.get_num_frames_video(ember.rand(2, 5, 3, 1, 1)) == 5
    pil = PImage.new("RGB", (2, 2))
    assert v2.UniformTemporalSubsample(3)(pil) is pil


# ---- query helpers -----------------------------------------------------------------------------------------
def test_query_helpers():
    img = tv_tensors.Image(ember.rand(3, 6, 8))
    boxes = tv_tensors.BoundingBoxes([[0, 0, 2, 2]], format="XYXY", canvas_size=(6, 8))
    flat = [img, boxes, "x"]
    assert v2.query_size(flat) == (6, 8) and v2.query_chw(flat) == (3, 6, 8)
    assert v2.get_bounding_boxes(flat) is boxes
    assert v2.has_any(flat, tv_tensors.Mask, tv_tensors.BoundingBoxes) and not v2.has_any(flat, tv_tensors.Mask)
    assert v2.has_all(flat, tv_tensors.Image, tv_tensors.BoundingBoxes)
    assert not v2.has_all(flat, tv_tensors.Image, tv_tensors.Mask)
    assert v2.check_type("x", (int, lambda o: o == "x")) and not v2.check_type(3.0, (int, str))
    with pytest.raises(ValueError, match="Found multiple HxW dimensions in the sample"):
        v2.query_size([img, tv_tensors.Mask(ember.zeros(5, 8))])
    with pytest.raises(TypeError, match="No image or video was found in the sample"):
        v2.query_chw([boxes])
    with pytest.raises(ValueError, match="No bounding boxes were found in the sample"):
        v2.get_bounding_boxes([img])


# ---- per-type kernels --------------------------------------------------------------------------------------
def test_image_video_and_mask_kernels_are_the_dispatched_ones():
    x = ember.tensor(_u8((3, 9, 11)))
    np.testing.assert_array_equal(F.resize_image(x, [5, 6]).numpy(), F.resize(x, [5, 6]).numpy())
    np.testing.assert_array_equal(F.rotate_video(x[None], 30.0).numpy()[0], F.rotate(x, 30.0).numpy())
    np.testing.assert_array_equal(F.adjust_hue_image(x, 0.2).numpy(), F.adjust_hue(x, 0.2).numpy())
    np.testing.assert_array_equal(F.horizontal_flip_image(x).numpy(), x.numpy()[..., ::-1])
    assert F.get_dimensions_image(x) == [3, 9, 11] and F.get_dimensions_image(x[0]) == [1, 9, 11]
    assert F.get_size_image(x) == [9, 11] and F.get_num_channels_video(ember.rand(2, 4, 1, 1)) == 4
    assert F.get_size_bounding_boxes(tv_tensors.BoundingBoxes([[0, 0, 1, 1]], format="XYXY", canvas_size=(4, 5))) \
        == [4, 5]
    crops = F.five_crop_image(x, 3)
    assert len(crops) == 5 and tuple(crops[4].shape) == (3, 3, 3)
    # masks: 2-D in, 2-D out, nearest whatever the mode
    m = ember.tensor(np.random.default_rng(0).integers(0, 3, (9, 11), dtype=np.uint8))
    for out in (F.resize_mask(m, [18, 22]), F.rotate_mask(m, 30.0), F.affine_mask(m, 10.0, [1, 1], 1.1, [0.0, 0.0]),
                F.resized_crop_mask(m, 1, 1, 6, 6, [12, 12]), F.crop_mask(m, 1, 1, 5, 5), F.pad_mask(m, 2),
                F.perspective_mask(m, None, None, coefficients=[1, 0.1, 0, 0, 1, 0, 0, 0])):
        assert out.ndim == 2 and type(out) is ember.Tensor and set(np.unique(out.numpy())) <= {0, 1, 2}
    np.testing.assert_array_equal(F.resize_mask(m, [18, 22]).numpy(), m.numpy().repeat(2, 0).repeat(2, 1))
    # nearest-exact is kept for masks, every other mode becomes nearest
    ne = F.resize(tv_tensors.Mask(m), [4, 5], interpolation="nearest-exact").numpy()
    np.testing.assert_array_equal(ne, F1.resize(m, [4, 5], F1.InterpolationMode.NEAREST_EXACT).numpy())
    np.testing.assert_array_equal(F.resize(tv_tensors.Mask(m), [4, 5], interpolation="bicubic").numpy(),
                                  F1.resize(m, [4, 5], F1.InterpolationMode.NEAREST).numpy())


def test_bounding_box_kernels_by_hand():
    b = ember.tensor([[2.0, 1.0, 6.0, 4.0]])
    out, canvas = F.rotate_bounding_boxes(b, "XYXY", (10, 20), 90.0, expand=True)
    assert canvas == (20, 10) and out.tolist() == [[1.0, 14.0, 4.0, 18.0]]
    assert F.affine_bounding_boxes(b, "XYXY", (10, 20), 0.0, [3, -1], 1.0, [0.0, 0.0]).tolist() == [[5, 0, 9, 3]]
    assert F.affine_bounding_boxes(b, "XYXY", (10, 20), 0.0, [0, 0], 2.0, [0.0, 0.0]).tolist() == [[0, 0, 2, 3]]
    corners = [[0, 0], [19, 0], [19, 9], [0, 9]]
    np.testing.assert_allclose(F.perspective_bounding_boxes(b, "XYXY", (10, 20), corners, corners).numpy(),
                               b.numpy(), atol=1e-5)
    out, canvas = F.crop_bounding_boxes(b, "XYXY", 2, 3, 5, 5)
    assert canvas == (5, 5) and out.tolist() == [[0.0, 0.0, 3.0, 2.0]]
    out, canvas = F.pad_bounding_boxes(ember.tensor([[2, 1, 4, 3]]), "XYWH", (10, 20), [1, 2])
    assert canvas == (14, 22) and out.tolist() == [[3, 3, 4, 3]]
    out, canvas = F.resize_bounding_boxes(ember.tensor([[3, 3, 9, 7]]), (10, 20), [5, 10])
    assert canvas == (5, 10) and out.tolist() == [[1, 1, 4, 3]]  # integer boxes truncate
    out, canvas = F.center_crop_bounding_boxes(b, "XYXY", (10, 20), [4, 4])
    assert canvas == (4, 4) and out.tolist() == [[0.0, 0.0, 0.0, 1.0]]
    assert F.horizontal_flip_bounding_boxes(ember.tensor([[2, 1, 4, 3]]), "CXCYWH", (10, 20)).tolist() == \
        [[18, 1, 4, 3]]
    assert F.vertical_flip_bounding_boxes(ember.tensor([[2, 1, 4, 3]]), "XYWH", (10, 20)).tolist() == [[2, 6, 4, 3]]
    # the transforms now move boxes with the image
    boxes = tv_tensors.BoundingBoxes([[2.0, 1.0, 6.0, 4.0]], format="XYXY", canvas_size=(10, 20))
    out = v2.RandomRotation((90, 90), expand=True)(boxes)
    assert out.canvas_size == (20, 10) and out.tolist() == [[1.0, 14.0, 4.0, 18.0]]
    # integer centre boxes convert as torchvision's: corners truncated, centres floored
    c = ember.tensor([[10, 10, 5, 7], [0, 0, -3, -4]])
    assert F.convert_bounding_box_format(c, old_format="CXCYWH", new_format="XYXY").tolist() == \
        [[7, 6, 12, 13], [1, 2, -1, -2]]
    assert F.convert_bounding_box_format(ember.tensor([[7, 6, 12, 13]]), old_format="XYXY",
                                         new_format="CXCYWH").tolist() == [[9, 9, 5, 7]]


# ---- against torch's own draws ------------------------------------------------------------------------------
@requires_torch
@pytest.mark.parametrize("seed", SEEDS)
def test_parameters_are_torchs_draws(seed):
    img = ember.rand(3, 40, 50)
    ember.manual_seed(seed)
    got = [v2.RandomChannelPermutation().make_params([img])["permutation"].tolist(),
           v2.JPEG((5, 95)).make_params([img])["quality"], v2.RandomResize(10, 90).make_params([img])["size"],
           v2.RandomShortestSize([7, 8, 9]).make_params([img])["size"],
           v2.ScaleJitter((64, 48)).make_params([img])["size"], v2.CutMix(num_classes=3).make_params([img])]
    torch.manual_seed(seed)
    perm = torch.randperm(3).tolist()
    q = torch.randint(5, 96, ()).item()
    rr = [int(torch.randint(10, 90, ()))]
    m = [7, 8, 9][int(torch.randint(3, ()))]
    rss = (int(40 * m / 40), int(50 * m / 40))
    scale = 0.1 + torch.rand(1) * (2.0 - 0.1)
    r = min(48 / 40, 64 / 50) * scale
    sj = (int(40 * r), int(50 * r))
    lam = float(torch.distributions.Beta(torch.tensor([1.0]), torch.tensor([1.0])).sample(()))
    r_x, r_y = torch.randint(50, size=(1,)), torch.randint(40, size=(1,))
    rr_ = 0.5 * math.sqrt(1.0 - lam)
    x1, y1 = int(torch.clamp(r_x - int(rr_ * 50), min=0)), int(torch.clamp(r_y - int(rr_ * 40), min=0))
    x2, y2 = int(torch.clamp(r_x + int(rr_ * 50), max=50)), int(torch.clamp(r_y + int(rr_ * 40), max=40))
    assert got[:5] == [perm, q, rr, rss, sj]
    assert got[5]["box"] == (x1, y1, x2, y2)
    assert got[5]["lam_adjusted"] == pytest.approx(1.0 - (x2 - x1) * (y2 - y1) / 2000)


@requires_torch
@pytest.mark.parametrize("seed", SEEDS)
def test_noise_and_mixup_weight_are_torchs_draws(seed):
    x = _f32((2, 3, 5, 6))
    ember.manual_seed(seed)
    got = F.gaussian_noise(ember.tensor(x), mean=0.1, sigma=0.3, clip=False).numpy()
    lam = v2.MixUp(alpha=0.5, num_classes=2).make_params([])["lam"]
    torch.manual_seed(seed)
    want = torch.tensor(x) + (0.1 + torch.randn(2, 3, 5, 6) * 0.3)
    want_lam = float(torch.distributions.Beta(torch.tensor([0.5]), torch.tensor([0.5])).sample(()))
    np.testing.assert_array_equal(got, want.numpy())
    assert lam == pytest.approx(want_lam, rel=1e-6)


# ---- against torchvision ---------------------------------------------------------------------------------------
def _same_seed(seed, fe, ft):
    ember.manual_seed(seed)
    e = fe()
    torch.manual_seed(seed)
    return e, ft()


@requires_tv
def test_functionals_match_torchvision():
    TT, TF1, TV2, TVF, TVT = _tv()
    u8, f32 = _u8((3, 21, 25)), _f32((3, 21, 25))
    for g, gain in ((0.5, 1), (2.2, 1), (1.7, 1.3)):
        for x in (u8, f32):
            for ef, tf in ((F1.adjust_gamma, TF1.adjust_gamma), (F.adjust_gamma, TVF.adjust_gamma)):
                e, t = _np(ef(ember.tensor(x), g, gain)), _np(tf(torch.tensor(x), g, gain))
                assert e.dtype == t.dtype
                # ember's float32 pow is correctly rounded, torch's (SLEEF) may be one ulp off
                assert np.abs(e.astype(float) - t.astype(float)).max() <= (1 if x is u8 else 2e-7)
        pil = PImage.fromarray(u8.transpose(1, 2, 0))
        np.testing.assert_array_equal(np.asarray(F1.adjust_gamma(pil, g, gain)),
                                      np.asarray(TF1.adjust_gamma(pil, g, gain)))
    for x in (u8, f32, np.random.default_rng(3).random((2, 3, 4, 5))):
        for clip in (True, False):
            e, t = _same_seed(1, lambda: F.gaussian_noise(ember.tensor(x), mean=0.1, sigma=0.3, clip=clip),
                              lambda: TVF.gaussian_noise(torch.tensor(x), mean=0.1, sigma=0.3, clip=clip))
            np.testing.assert_array_equal(_np(e), _np(t))
    g1 = _u8((2, 1, 5, 6))
    np.testing.assert_array_equal(_np(F.grayscale_to_rgb(ember.tensor(g1))),
                                  _np(TVF.grayscale_to_rgb(torch.tensor(g1))))
    video = _f32((7, 3, 2, 2))
    for n in (1, 3, 7, 10):
        np.testing.assert_array_equal(_np(F.uniform_temporal_subsample(ember.tensor(video), n)),
                                      _np(TVF.uniform_temporal_subsample(torch.tensor(video), n)))
    pil = PImage.fromarray(u8.transpose(1, 2, 0))
    for q in (10, 75):
        np.testing.assert_array_equal(np.asarray(F.jpeg(pil, q)), np.asarray(TVF.jpeg(pil, q)))


@requires_tv
@pytest.mark.parametrize("dtype", [np.uint8, np.float32, np.float64])
def test_elastic_matches_torchvision(dtype):
    TT, TF1, TV2, TVF, TVT = _tv()
    rng = np.random.default_rng(0)
    x = (rng.random((2, 3, 13, 17)) * (255 if dtype == np.uint8 else 1)).astype(dtype)
    d = ((rng.random((1, 13, 17, 2)) - 0.5) * 0.3).astype(np.float32)
    for mode in ("nearest", "bilinear", "bicubic"):
        for fill in (None, [0.5], [1.0, 2.0, 3.0]):
            e2 = _np(F.elastic(ember.tensor(x), ember.tensor(d), mode, fill))
            t2 = _np(TVF.elastic(torch.tensor(x), torch.tensor(d), mode, fill))
            e1 = _np(F1.elastic_transform(ember.tensor(x), ember.tensor(d), F1.InterpolationMode(mode), fill))
            t1 = _np(TF1.elastic_transform(torch.tensor(x), torch.tensor(d), TT.InterpolationMode(mode), fill))
            assert e2.dtype == t2.dtype and e1.dtype == t1.dtype
            if mode == "bicubic":  # torch's bicubic grid_sample sums its 16 taps in its own order
                np.testing.assert_allclose(e2, t2, atol=1 if dtype == np.uint8 else 1e-5)
                np.testing.assert_allclose(e1, t1, atol=1 if dtype == np.uint8 else 1e-5)
            elif dtype == np.float64:  # torch fuses the float64 unnormalize into one multiply-add
                np.testing.assert_allclose(e2, t2, atol=1e-13)
                np.testing.assert_array_equal(e1, t1)
            else:
                np.testing.assert_array_equal(e2, t2)
                np.testing.assert_array_equal(e1, t1)


@requires_tv
@pytest.mark.parametrize("seed", SEEDS)
def test_random_transforms_match_torchvision_with_the_same_seed(seed):
    TT, TF1, TV2, TVF, TVT = _tv()
    f32, u8 = _f32((3, 40, 50), seed), _u8((3, 40, 50), seed)
    # ElasticTransform: torch blurs the field with a 2-D convolution, ember with two 1-D passes, so the
    # displacement agrees to ~1e-7 and a rare uint8 pixel on a rounding edge may differ by one
    for x in (f32, u8):
        e, t = _same_seed(seed, lambda: T.ElasticTransform(alpha=30.0, sigma=3.0)(ember.tensor(x)),
                          lambda: TT.ElasticTransform(alpha=30.0, sigma=3.0)(torch.tensor(x)))
        np.testing.assert_allclose(_np(e), _np(t), atol=1 if x is u8 else 1e-4)
        e, t = _same_seed(seed, lambda: v2.ElasticTransform(alpha=30.0, sigma=3.0)(ember.tensor(x)),
                          lambda: TV2.ElasticTransform(alpha=30.0, sigma=3.0)(torch.tensor(x)))
        np.testing.assert_allclose(_np(e), _np(t), atol=1 if x is u8 else 1e-4)
    exact = [("GaussianNoise", dict(sigma=0.2), f32), ("RandomChannelPermutation", {}, u8),
             ("ScaleJitter", dict(target_size=(40, 30)), u8), ("ScaleJitter", dict(target_size=(100, 200)), u8),
             ("RandomShortestSize", dict(min_size=[20, 30, 70], max_size=80), u8),
             ("RandomResize", dict(min_size=20, max_size=60), u8), ("RGB", {}, u8[:1])]
    for name, kw, x in exact:
        e, t = _same_seed(seed, lambda: getattr(v2, name)(**kw)(ember.tensor(x)),
                          lambda: getattr(TV2, name)(**kw)(torch.tensor(x)))
        np.testing.assert_array_equal(_np(e), _np(t), err_msg=name)
    e, t = _same_seed(seed, lambda: v2.JPEG((5, 95))(PImage.fromarray(u8.transpose(1, 2, 0))),
                      lambda: TV2.JPEG((5, 95))(PImage.fromarray(u8.transpose(1, 2, 0))))
    np.testing.assert_array_equal(np.asarray(e), np.asarray(t))
    imgs, labels = _f32((4, 3, 20, 30), seed), np.array([0, 3, 1, 2])
    for name in ("MixUp", "CutMix"):
        for alpha in (1.0, 0.3):
            e, t = _same_seed(seed, lambda: getattr(v2, name)(alpha=alpha, num_classes=5)(ember.tensor(imgs),
                                                                                          ember.tensor(labels)),
                              lambda: getattr(TV2, name)(alpha=alpha, num_classes=5)(torch.tensor(imgs),
                                                                                     torch.tensor(labels)))
            # ember's Beta draw may differ from torch's in the last bit of lam
            np.testing.assert_allclose(_np(e[0]), _np(t[0]), atol=3e-7)
            np.testing.assert_allclose(_np(e[1]), _np(t[1]), atol=3e-7)


@requires_tv
def test_linear_transformation_and_reprs_match_torchvision():
    TT, TF1, TV2, TVF, TVT = _tv()
    rng = np.random.default_rng(0)
    D = 3 * 4 * 5
    M, mv, x = rng.standard_normal((D, D)).astype(np.float32), rng.standard_normal(D).astype(np.float32), \
        _f32((2, 3, 4, 5))
    for EC, TC in ((T.LinearTransformation, TT.LinearTransformation),
                   (v2.LinearTransformation, TV2.LinearTransformation)):
        np.testing.assert_allclose(_np(EC(ember.tensor(M), ember.tensor(mv))(ember.tensor(x))),
                                   _np(TC(torch.tensor(M), torch.tensor(mv))(torch.tensor(x))), atol=1e-4)
    assert repr(T.LinearTransformation(ember.eye(2), ember.zeros(2))) == \
        repr(TT.LinearTransformation(torch.eye(2), torch.zeros(2)))
    assert repr(T.ElasticTransform(alpha=3.0, fill=(1, 2))) == repr(TT.ElasticTransform(alpha=3.0, fill=(1, 2)))
    for name, args, kw in (("RandomChannelPermutation", (), {}), ("RGB", (), {}), ("GaussianNoise", (), {}),
                           ("ElasticTransform", (), {}), ("ScaleJitter", ((10, 10),), {}),
                           ("RandomShortestSize", (5,), {}), ("RandomResize", (5, 10), {}),
                           ("SetClampingMode", ("hard",), {}), ("UniformTemporalSubsample", (3,), {}),
                           ("JPEG", (50,), {}), ("MixUp", (), dict(num_classes=3)), ("CutMix", (), {})):
        assert repr(getattr(v2, name)(*args, **kw)) == repr(getattr(TV2, name)(*args, **kw))


@requires_tv
@pytest.mark.parametrize("fmt", ["XYXY", "XYWH", "CXCYWH"])
@pytest.mark.parametrize("dtype", [np.float32, np.int64])
def test_bounding_box_kernels_match_torchvision(fmt, dtype):
    TT, TF1, TV2, TVF, TVT = _tv()
    rng = np.random.default_rng(0)
    xy = rng.random((6, 2)) * 30
    xyxy = np.concatenate([xy, xy + rng.random((6, 2)) * 20 + 1], 1).astype(np.float32)
    tb = TVF.convert_bounding_box_format(torch.tensor(xyxy), old_format=TVT.BoundingBoxFormat.XYXY,
                                         new_format=getattr(TVT.BoundingBoxFormat, fmt)).numpy().astype(dtype)
    tfmt, canvas = getattr(TVT.BoundingBoxFormat, fmt), (40, 50)
    d = ((rng.random((1, 40, 50, 2)) - 0.5) * 0.2).astype(np.float32)
    sp, ep = [[0, 0], [49, 0], [49, 39], [0, 39]], [[3, 2], [45, 1], [47, 36], [1, 38]]
    # the matmul kernels (affine, rotate, perspective) sum in BLAS order: float32 boxes within 1e-5
    atol = 1e-5 if dtype == np.float32 else 0
    for cm in ("soft", None):
        E, Tt = ember.tensor(tb), torch.tensor(tb)
        cases = [
            (F.affine_bounding_boxes(E, fmt, canvas, 25.0, [3, -2], 1.2, [10.0, 5.0], clamping_mode=cm),
             TVF.affine_bounding_boxes(Tt, tfmt, canvas, 25.0, [3, -2], 1.2, [10.0, 5.0], clamping_mode=cm)),
            (F.perspective_bounding_boxes(E, fmt, canvas, sp, ep, clamping_mode=cm),
             TVF.perspective_bounding_boxes(Tt, tfmt, canvas, sp, ep, clamping_mode=cm)),
            (F.elastic_bounding_boxes(E, fmt, canvas, ember.tensor(d), clamping_mode=cm),
             TVF.elastic_bounding_boxes(Tt, tfmt, canvas, torch.tensor(d), clamping_mode=cm)),
            (F.horizontal_flip_bounding_boxes(E, fmt, canvas), TVF.horizontal_flip_bounding_boxes(Tt, tfmt, canvas)),
            (F.vertical_flip_bounding_boxes(E, fmt, canvas), TVF.vertical_flip_bounding_boxes(Tt, tfmt, canvas)),
            (F.convert_bounding_box_format(E, old_format=fmt, new_format="CXCYWH"),
             TVF.convert_bounding_box_format(Tt, old_format=tfmt, new_format=TVT.BoundingBoxFormat.CXCYWH)),
        ]
        for (e, ec), (t, tc) in [
            (F.rotate_bounding_boxes(E, fmt, canvas, 33.0, expand=True, clamping_mode=cm),
             TVF.rotate_bounding_boxes(Tt, tfmt, canvas, 33.0, expand=True, clamping_mode=cm)),
            (F.crop_bounding_boxes(E, fmt, 3, 4, 20, 25, clamping_mode=cm),
             TVF.crop_bounding_boxes(Tt, tfmt, 3, 4, 20, 25, clamping_mode=cm)),
            (F.center_crop_bounding_boxes(E, fmt, canvas, [20, 30], clamping_mode=cm),
             TVF.center_crop_bounding_boxes(Tt, tfmt, canvas, [20, 30], clamping_mode=cm)),
            (F.pad_bounding_boxes(E, fmt, canvas, [1, 2, 3, 4], clamping_mode=cm),
             TVF.pad_bounding_boxes(Tt, tfmt, canvas, [1, 2, 3, 4], clamping_mode=cm)),
            (F.resized_crop_bounding_boxes(E, fmt, 3, 4, 20, 25, [40, 50], clamping_mode=cm),
             TVF.resized_crop_bounding_boxes(Tt, tfmt, 3, 4, 20, 25, [40, 50], clamping_mode=cm)),
            (F.resize_bounding_boxes(E, canvas, [20, 30], format=fmt),
             TVF.resize_bounding_boxes(Tt, canvas, [20, 30], format=tfmt))]:
            assert tuple(ec) == tuple(tc)
            cases.append((e, t))
        for e, t in cases:
            assert _np(e).dtype == _np(t).dtype
            np.testing.assert_allclose(_np(e), _np(t), atol=atol, rtol=0)


@requires_tv
@pytest.mark.parametrize("seed", (0, 1))
def test_detection_samples_match_torchvision(seed):
    TT, TF1, TV2, TVF, TVT = _tv()
    img, mask = _u8((3, 40, 50), seed), _u8((40, 50), seed) % 5
    boxes = np.array([[5, 6, 20, 30], [10, 2, 45, 38]], np.float32)

    def sample(tvt, make):
        return {"image": tvt.Image(make(img)), "mask": tvt.Mask(make(mask)), "labels": make(np.array([1, 2])),
                "boxes": tvt.BoundingBoxes(make(boxes), format="XYXY", canvas_size=(40, 50))}
    for name, kw in (("RandomRotation", dict(degrees=40, expand=True)),
                     ("RandomAffine", dict(degrees=20, translate=(0.1, 0.1), scale=(0.8, 1.2), shear=10)),
                     ("RandomPerspective", dict(p=1.0)), ("ElasticTransform", dict(alpha=20.0, sigma=3.0)),
                     ("ScaleJitter", dict(target_size=(30, 30))), ("RandomResize", dict(min_size=20, max_size=50)),
                     ("RandomShortestSize", dict(min_size=[20, 30], max_size=60)),
                     ("SetClampingMode", dict(clamping_mode=None))):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            e, t = _same_seed(seed, lambda: getattr(v2, name)(**kw)(sample(tv_tensors, ember.tensor)),
                              lambda: getattr(TV2, name)(**kw)(sample(TVT, torch.tensor)))
        for k in ("image", "mask", "labels"):
            np.testing.assert_allclose(_np(e[k]), _np(t[k]), atol=1 if name == "ElasticTransform" else 0,
                                       err_msg=f"{name} {k}")
        np.testing.assert_allclose(_np(e["boxes"]), _np(t["boxes"]), atol=1e-5, err_msg=name)
        assert e["boxes"].canvas_size == tuple(t["boxes"].canvas_size)
        assert e["boxes"].clamping_mode == t["boxes"].clamping_mode
