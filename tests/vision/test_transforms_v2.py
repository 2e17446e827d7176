"""ember.vision.transforms.v2 and tv_tensors: against v1, hand-computed values and torchvision's reprs."""
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import ember
from ember.vision import transforms as T
from ember.vision import tv_tensors
from ember.vision.transforms import v2
from ember.vision.transforms.v2 import functional as F
from tests.conftest import requires_torch, torch

PImage = pytest.importorskip("PIL.Image")


def rgb(h=6, w=8, seed=0):
    return np.random.default_rng(seed).integers(0, 256, size=(h, w, 3), dtype=np.uint8)


def chw(a):
    return ember.tensor(np.ascontiguousarray(a.transpose(2, 0, 1)))


# ---- type conversion and dtype scaling ------------------------------------------------------------
def test_to_image_from_pil_ndarray_and_tensor_keeps_values():
    a = rgb()
    for inpt in (PImage.fromarray(a), a, chw(a)):
        img = v2.ToImage()(inpt)
        assert type(img) is tv_tensors.Image and img.dtype == ember.uint8 and tuple(img.shape) == (3, 6, 8)
        np.testing.assert_array_equal(img.numpy(), a.transpose(2, 0, 1))
    gray = F.to_image(np.zeros((2, 3), np.uint8))
    assert tuple(gray.shape) == (1, 2, 3)
    with pytest.raises(TypeError, match="pure Tensor, a numpy array, or a PIL image"):
        F.to_image([1, 2])


def test_to_dtype_scale_uint8_to_float_and_back():
    x = ember.tensor(np.array([[[0, 1, 127, 128, 255]]], np.uint8))
    f = F.to_dtype(x, ember.float32, scale=True)
    assert f.dtype == ember.float32 and type(f) is ember.Tensor
    np.testing.assert_allclose(f.numpy()[0, 0], np.array([0, 1, 127, 128, 255], np.float32) / 255, rtol=1e-6)
    # float -> uint8: multiply by 255.999 and truncate, as torchvision does (0.5 -> 127, 0.999 -> 255, 1 -> 255)
    y = ember.tensor(np.array([[[0.0, 0.5, 0.999, 1.0, 0.2]]], np.float32))
    np.testing.assert_array_equal(F.to_dtype(y, ember.uint8, scale=True).numpy(), [[[0, 127, 255, 255, 51]]])
    # a round trip is exact for every byte
    allb = ember.tensor(np.arange(256, dtype=np.uint8).reshape(1, 16, 16))
    back = F.to_dtype(F.to_dtype(allb, ember.float32, scale=True), ember.uint8, scale=True)
    np.testing.assert_array_equal(back.numpy(), allb.numpy())
    # without scale only the dtype changes
    np.testing.assert_array_equal(F.to_dtype(x, ember.float32).numpy(), [[[0, 1, 127, 128, 255]]])
    # int -> int shifts bits
    np.testing.assert_array_equal(F.to_dtype(x, ember.int16, scale=True).numpy(),
                                  np.array([[[0, 1, 127, 128, 255]]]) << 7)
    with pytest.raises(RuntimeError, match="cannot be performed safely"):
        F.to_dtype(y, ember.int64, scale=True)


def test_to_dtype_on_samples_converts_images_only_unless_a_dict_says_otherwise():
    img = tv_tensors.Image(ember.tensor(np.full((3, 2, 2), 255, np.uint8)))
    mask = tv_tensors.Mask(ember.tensor(np.ones((2, 2), np.uint8)))
    out_img, out_mask = v2.ToDtype(ember.float32, scale=True)(img, mask)
    assert type(out_img) is tv_tensors.Image and out_img.dtype == ember.float32 and out_img.numpy().max() == 1.0
    assert out_mask is mask
    out_img, out_mask = v2.ToDtype({tv_tensors.Image: ember.float32, tv_tensors.Mask: ember.int64},
                                   scale=True)(img, mask)
    assert type(out_mask) is tv_tensors.Mask and out_mask.dtype == ember.int64
    assert out_mask.numpy().max() == 1  # masks are never rescaled
    with pytest.raises(ValueError, match="No dtype was specified for type"):
        v2.ToDtype({tv_tensors.Image: ember.float32})(img, mask)
    with pytest.raises(ValueError, match="dtype must be a dict or a torch.dtype"):
        v2.ToDtype("float32")


def test_modern_pipeline_matches_v1_to_tensor_normalize():
    a = rgb(5, 7, seed=3)
    mean, std = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]
    new = v2.Compose([v2.ToImage(), v2.ToDtype(ember.float32, scale=True), v2.Normalize(mean, std)])(
        PImage.fromarray(a))
    old = T.Compose([T.ToTensor(), T.Normalize(mean, std)])(PImage.fromarray(a))
    assert type(new) is tv_tensors.Image
    np.testing.assert_allclose(new.numpy(), old.numpy(), rtol=1e-6, atol=1e-6)
    with pytest.raises(TypeError, match=r"Normalize\(\) does not support PIL images"):
        v2.Normalize(mean, std)(PImage.fromarray(a))
    with pytest.raises(TypeError, match="Input tensor should be a float tensor"):
        F.normalize(chw(a), mean, std)


def test_v2_to_tensor_warns_and_equals_v1():
    a = rgb()
    with pytest.warns(UserWarning, match=r"The transform `ToTensor\(\)` is deprecated"):
        t = v2.ToTensor()
    out = t(PImage.fromarray(a))
    assert type(out) is ember.Tensor
    np.testing.assert_array_equal(out.numpy(), T.ToTensor()(PImage.fromarray(a)).numpy())


def test_to_pure_tensor_strips_the_type_only():
    img = tv_tensors.Image(chw(rgb()))
    lab = 3
    out, out_lab = v2.ToPureTensor()(img, lab)
    assert type(out) is ember.Tensor and out_lab == 3
    np.testing.assert_array_equal(out.numpy(), img.numpy())


# ---- deterministic geometry: v1 equivalence and hand-computed values ------------------------------
@pytest.mark.parametrize("make", [lambda a: PImage.fromarray(a), chw, lambda a: tv_tensors.Image(chw(a))])
def test_resize_center_crop_pad_match_v1(make):
    a = rgb(9, 12, seed=1)
    pairs = [(v2.Resize(5), T.Resize(5)), (v2.Resize((4, 7), antialias=True), T.Resize((4, 7))),
             (v2.CenterCrop(5), T.CenterCrop(5)), (v2.Pad([1, 2]), T.Pad([1, 2])),
             (v2.Grayscale(3), T.Grayscale(3))]
    for new, old in pairs:
        n, o = new(make(a)), old(make(a))
        if isinstance(o, PImage.Image):
            assert isinstance(n, PImage.Image)
            np.testing.assert_array_equal(np.asarray(n), np.asarray(o))
        else:
            assert type(n) is type(make(a))  # pure stays pure, Image stays Image
            # v2 resizes uint8 tensors with torch's native fixed-point kernel, v1 through float: an image
            # may differ by one level (test_uint8_resize_matches_torchvision_v2 checks v2's own bits)
            tol = 1 if isinstance(new, v2.Resize) else 0
            np.testing.assert_allclose(n.numpy().astype(int), o.numpy().astype(int), atol=tol, rtol=0)


def test_flip_and_crop_hand_computed():
    x = ember.tensor(np.arange(12, dtype=np.int64).reshape(1, 3, 4))
    np.testing.assert_array_equal(F.horizontal_flip(x).numpy()[0], [[3, 2, 1, 0], [7, 6, 5, 4], [11, 10, 9, 8]])
    np.testing.assert_array_equal(F.vertical_flip(x).numpy()[0], [[8, 9, 10, 11], [4, 5, 6, 7], [0, 1, 2, 3]])
    np.testing.assert_array_equal(F.crop(x, 1, 1, 2, 2).numpy()[0], [[5, 6], [9, 10]])
    np.testing.assert_array_equal(F.center_crop(x, [1, 2]).numpy()[0], [[5, 6]])


def test_rotate_90_is_rot90_and_fill():
    a = np.arange(16, dtype=np.float32).reshape(1, 4, 4)
    out = F.rotate(ember.tensor(a), 90.0)
    np.testing.assert_array_equal(out.numpy(), np.rot90(a, 1, axes=(1, 2)))  # counter-clockwise
    # 45 degrees on a 5x5 image: corner (0, 0) samples row -0.83 (outside) and gets the fill
    ones = ember.tensor(np.ones((1, 5, 5), np.uint8))
    r = F.rotate(ones, 45.0, fill=7).numpy()[0]
    assert r[2, 2] == 1 and r[0, 0] == 7 and r[4, 4] == 7 and r[0, 2] == 1
    assert F.rotate(ones, 45.0).numpy()[0, 0, 0] == 0  # fill=None: zeros
    pil = PImage.fromarray(np.arange(16, dtype=np.uint8).reshape(4, 4))
    np.testing.assert_array_equal(np.asarray(F.rotate(pil, 90.0)), np.rot90(np.asarray(pil)))
    assert tuple(F.rotate(ember.tensor(np.ones((1, 2, 4), np.float32)), 90.0, expand=True).shape) == (1, 4, 2)


def test_gaussian_blur_weights_are_torchvisions():
    x = np.zeros((1, 5, 5), np.float32)
    x[0, 2, 2] = 1.0
    out = F.gaussian_blur(ember.tensor(x), [3, 3], [1.0, 1.0]).numpy()[0]
    lim = 2 / (2 * np.sqrt(2))
    k = np.exp(-(np.linspace(-lim, lim, 3) ** 2))
    k /= k.sum()
    np.testing.assert_allclose(out[1:4, 1:4], np.outer(k, k), rtol=1e-5)
    assert out[0].sum() == 0
    const = ember.tensor(np.full((3, 4, 4), 100, np.uint8))
    blurred = v2.GaussianBlur(3, sigma=(0.5, 2.0))(const)
    assert blurred.dtype == ember.uint8 and (blurred.numpy() == 100).all()
    with pytest.raises(ValueError, match="odd and positive"):
        v2.GaussianBlur(4)


# ---- randomness: same draws as v1, one draw per sample ---------------------------------------------
def test_random_transforms_draw_like_v1():
    a = rgb(10, 12, seed=2)
    for new, old in [(v2.RandomResizedCrop(6, antialias=True), T.RandomResizedCrop(6)),
                     (v2.RandomCrop(5), T.RandomCrop(5)),
                     (v2.RandomHorizontalFlip(0.5), T.RandomHorizontalFlip(0.5))]:
        for seed in range(4):  # float images: the same draws give the same pixels (uint8 resizes differ, above)
            ember.manual_seed(seed)
            n = new(chw(a).float())
            ember.manual_seed(seed)
            o = old(chw(a).float())
            np.testing.assert_array_equal(n.numpy(), o.numpy())


def test_joint_flip_and_crop_keep_image_and_mask_aligned():
    a = rgb(16, 16, seed=4)
    img = tv_tensors.Image(chw(a))
    mask = tv_tensors.Mask(ember.tensor(a[..., 0].astype(np.int64)))  # mask == channel 0 of the image
    t = v2.Compose([v2.RandomHorizontalFlip(0.5), v2.RandomVerticalFlip(0.5), v2.RandomCrop(9, padding=2),
                    v2.RandomResizedCrop(8, interpolation=v2.InterpolationMode.NEAREST),
                    v2.RandomRotation(40)])
    flipped = 0
    for seed in range(8):
        ember.manual_seed(seed)
        out_img, out_mask, label = t(img, mask, 5)
        assert type(out_img) is tv_tensors.Image and type(out_mask) is tv_tensors.Mask and label == 5
        assert tuple(out_img.shape) == (3, 8, 8) and tuple(out_mask.shape) == (8, 8)
        assert out_mask.dtype == ember.int64
        np.testing.assert_array_equal(out_img.numpy()[0].astype(np.int64), out_mask.numpy())
        flipped += not np.array_equal(out_mask.numpy(), mask.numpy()[:8, :8])
    assert flipped


def test_dict_sample_with_boxes_and_label_passthrough():
    img = tv_tensors.Image(ember.zeros(3, 10, 20))
    boxes = tv_tensors.BoundingBoxes([[2, 1, 6, 4]], format="XYXY", canvas_size=(10, 20))
    sample = {"image": img, "target": {"boxes": boxes, "labels": ember.tensor([1])}, "name": "a"}
    out = v2.RandomHorizontalFlip(p=1.0)(sample)
    assert out["name"] == "a" and out["target"]["labels"].tolist() == [1]
    b = out["target"]["boxes"]
    assert type(b) is tv_tensors.BoundingBoxes and b.canvas_size == (10, 20) and b.tolist() == [[14, 1, 18, 4]]
    r = v2.Resize((5, 10))(sample)["target"]["boxes"]
    assert r.canvas_size == (5, 10) and r.tolist() == [[1, 0, 3, 2]]
    xywh = F.convert_bounding_box_format(boxes, new_format="XYWH")
    assert xywh.format is tv_tensors.BoundingBoxFormat.XYWH and xywh.tolist() == [[2, 1, 4, 3]]
    assert F.horizontal_flip(xywh).tolist() == [[14, 1, 4, 3]]
    c = F.crop(boxes, 2, 3, 5, 5)
    assert c.canvas_size == (5, 5) and c.tolist() == [[0, 0, 3, 2]]


def test_only_first_pure_tensor_is_the_image():
    x = ember.tensor(np.arange(12, dtype=np.float32).reshape(1, 3, 4))
    y = ember.tensor(np.arange(12, dtype=np.float32).reshape(1, 3, 4))
    ox, oy = v2.RandomHorizontalFlip(p=1.0)(x, y)
    np.testing.assert_array_equal(ox.numpy(), x.numpy()[..., ::-1])
    assert oy is y
    # with an Image present, pure tensors pass through
    img = tv_tensors.Image(x)
    _, oy = v2.RandomHorizontalFlip(p=1.0)(img, y)
    assert oy is y


def test_color_transforms_pass_masks_through():
    img = tv_tensors.Image(chw(rgb()))
    mask = tv_tensors.Mask(ember.tensor(np.ones((6, 8), np.uint8)))
    oi, om = v2.ColorJitter(brightness=0.5, contrast=0.5, saturation=0.5, hue=0.2)(img, mask)
    assert type(oi) is tv_tensors.Image and om is mask
    ember.manual_seed(0)
    n = v2.ColorJitter(0.4, 0.4, 0.4, 0.1)(chw(rgb()))
    ember.manual_seed(0)
    o = T.ColorJitter(0.4, 0.4, 0.4, 0.1)(chw(rgb()))
    np.testing.assert_array_equal(n.numpy(), o.numpy())
    with pytest.raises(TypeError, match="Functional F.adjust_brightness supports inputs of type"):
        F.adjust_brightness(mask, 1.5)


def test_random_erasing_erases_one_rectangle():
    x = tv_tensors.Image(ember.ones(3, 20, 20))
    ember.manual_seed(1)
    out = v2.RandomErasing(p=1.0, value=0)(x)
    zero = out.numpy() == 0
    assert type(out) is tv_tensors.Image and zero.any() and (zero[0] == zero[1]).all()
    rows, cols = np.where(zero[0])
    assert zero[0][rows.min():rows.max() + 1, cols.min():cols.max() + 1].all()
    assert (x.numpy() == 1).all()  # not in place
    with pytest.raises(ValueError, match="If value is str, it should be 'random'"):
        v2.RandomErasing(value="noise")


def test_lambda_and_containers():
    doubled = v2.Lambda(lambda x: x * 2, ember.Tensor)(ember.tensor([1.0]), 3)
    assert doubled[0].tolist() == [2.0] and doubled[1] == 3
    with pytest.raises(TypeError, match="Argument transforms should be a sequence of callables"):
        v2.Compose(v2.ToImage())
    with pytest.raises(ValueError, match=r"`p` should be a floating point value in the interval \[0.0, 1.0\]"):
        v2.RandomHorizontalFlip(p=2)


def test_query_size_rejects_mismatched_sample():
    img = tv_tensors.Image(ember.zeros(3, 4, 4))
    mask = tv_tensors.Mask(ember.zeros(5, 5))
    with pytest.raises(ValueError, match=r"Found multiple HxW dimensions in the sample: \(4, 4\) and \(5, 5\)"):
        v2.RandomCrop(2)(img, mask)


# ---- tv_tensors -----------------------------------------------------------------------------------
def test_tv_tensor_types_and_reprs():
    img = tv_tensors.Image(ember.tensor(np.zeros((2, 2), np.uint8)))
    assert tuple(img.shape) == (1, 2, 2) and isinstance(img, ember.Tensor)
    assert repr(img) == "Image([[[0, 0],\n        [0, 0]]], dtype=ember.uint8, )"
    assert type(img + 1) is ember.Tensor  # ops return pure tensors, as in torchvision
    assert type(img.to(ember.float32)) is tv_tensors.Image and type(img.clone()) is tv_tensors.Image
    boxes = tv_tensors.BoundingBoxes([1, 2, 3, 4], format=tv_tensors.BoundingBoxFormat.XYXY, canvas_size=(8, 9))
    assert repr(boxes) == ("BoundingBoxes([[1, 2, 3, 4]], format=BoundingBoxFormat.XYXY, canvas_size=(8, 9), "
                           "clamping_mode=soft)")
    w = tv_tensors.wrap(boxes + 1, like=boxes)
    assert type(w) is tv_tensors.BoundingBoxes and w.canvas_size == (8, 9) and w.tolist() == [[2, 3, 4, 5]]
    with pytest.raises(ValueError, match="Expected a 1D or 2D tensor, got 3D"):
        tv_tensors.BoundingBoxes(ember.zeros(1, 1, 4), format="XYXY", canvas_size=(1, 1))
    m = tv_tensors.Mask(PImage.fromarray(np.eye(3, dtype=np.uint8)))
    assert type(m) is tv_tensors.Mask and tuple(m.shape) == (1, 3, 3)


# ---- reprs, as torchvision prints them ---------------------------------------------------------------
def test_reprs_match_torchvision():
    c = v2.Compose([v2.ToImage(), v2.ToDtype(ember.float32, scale=True),
                    v2.Normalize(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225])])
    assert repr(c) == ("Compose(\n      ToImage()\n      ToDtype(scale=True)\n"
                       "      Normalize(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225], inplace=False)\n)")
    assert repr(v2.Compose([v2.ToImage()])) == "Compose(    ToImage())"
    assert repr(v2.RandomResizedCrop(size=(224, 224), antialias=True)) == (
        "RandomResizedCrop(size=(224, 224), scale=(0.08, 1.0), ratio=(0.75, 1.3333333333333333), "
        "interpolation=bilinear, antialias=True)")
    # torchvision >= 0.24 defaults to the string "bilinear" and prints the interpolation as it was given
    assert repr(v2.Resize(256)) == "Resize(size=[256], interpolation=bilinear, antialias=True)"
    assert repr(v2.Resize(256, interpolation=T.InterpolationMode.BICUBIC)) == \
        "Resize(size=[256], interpolation=InterpolationMode.BICUBIC, antialias=True)"
    assert repr(v2.CenterCrop(224)) == "CenterCrop(size=(224, 224))"
    assert repr(v2.RandomCrop(32, padding=4)) == (
        "RandomCrop(size=(32, 32), padding=[4, 4, 4, 4], pad_if_needed=False, fill=0, padding_mode=constant)")
    assert repr(v2.RandomHorizontalFlip(p=0.5)) == "RandomHorizontalFlip(p=0.5)"
    assert repr(v2.ColorJitter(brightness=0.5, hue=0.3)) == "ColorJitter(brightness=(0.5, 1.5), hue=(-0.3, 0.3))"
    assert repr(v2.RandomRotation(degrees=30)) == (
        "RandomRotation(degrees=[-30.0, 30.0], interpolation=nearest, expand=False, fill=0)")
    assert repr(v2.Grayscale()) == "Grayscale(num_output_channels=1)"
    assert repr(v2.GaussianBlur(kernel_size=(5, 9), sigma=(0.1, 5.0))) == \
        "GaussianBlur(kernel_size=(5, 9), sigma=[0.1, 5.0])"
    assert repr(v2.RandomErasing()) == \
        "RandomErasing(p=0.5, scale=(0.02, 0.33), ratio=(0.3, 3.3), value=[0.0], inplace=False)"
    assert repr(v2.Lambda(lambda x: x)) == "Lambda(<lambda>, types=['object'])"
    assert repr(v2.ToPureTensor()) == "ToPureTensor()"


# ---- end to end under the torch/torchvision alias --------------------------------------------------
SCRIPT = """
import torch
import torchvision
from torchvision import datasets, tv_tensors
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as F
from torch.utils.data import DataLoader

torch.manual_seed(0)
train_tf = v2.Compose([
    v2.ToImage(),
    v2.RandomResizedCrop(size=(8, 8), antialias=True),
    v2.RandomHorizontalFlip(p=0.5),
    v2.ToDtype(torch.float32, scale=True),
    v2.Normalize(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225]),
])
print(train_tf)
ds = datasets.ImageFolder(ROOT, transform=train_tf)
loader = DataLoader(ds, batch_size=4, shuffle=True, num_workers=2)
n = 0
for x, y in loader:
    assert x.dtype == torch.float32 and tuple(x.shape[1:]) == (3, 8, 8), x.shape
    n += x.shape[0]
print(n, sorted(ds.class_to_idx))
img = F.to_image(ds.loader(ds.samples[0][0]))
print(type(img).__name__, F.to_dtype(img, torch.float32, scale=True).dtype, isinstance(img, tv_tensors.Image))
"""


def test_end_to_end_script_under_ember_run(tmp_path):
    root = tmp_path / "data"
    rng = np.random.default_rng(0)
    for cls in ("cat", "dog"):
        (root / cls).mkdir(parents=True)
        for i in range(5):
            PImage.fromarray(rng.integers(0, 256, (12, 14, 3), dtype=np.uint8)).save(root / cls / f"{i}.png")
    script = tmp_path / "train.py"
    script.write_text(f"ROOT = {str(root)!r}\n" + SCRIPT)
    repo = Path(__file__).resolve().parents[2]
    proc = subprocess.run([sys.executable, "-m", "ember", "run", str(script)], capture_output=True, text=True,
                          env=dict(os.environ, PYTHONPATH=str(repo)), timeout=180)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == (
        "Compose(\n      ToImage()\n"
        "      RandomResizedCrop(size=(8, 8), scale=(0.08, 1.0), ratio=(0.75, 1.3333333333333333), "
        "interpolation=bilinear, antialias=True)\n"
        "      RandomHorizontalFlip(p=0.5)\n      ToDtype(scale=True)\n"
        "      Normalize(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225], inplace=False)\n)\n"
        "10 ['cat', 'dog']\n"
        "Image torch.float32 True\n")


def test_tv_tensor_reprs_of_current_torchvision():
    assert repr(tv_tensors.Mask(ember.tensor([[0, 1], [1, 0]]))) == "Mask([[0, 1],\n      [1, 0]])"
    assert repr(tv_tensors.Mask(ember.zeros(1, 2, dtype=ember.uint8))) == "Mask([[0, 0]], dtype=ember.uint8)"
    b = tv_tensors.BoundingBoxes([[0, 0, 2, 2]], format="XYXY", canvas_size=(4, 4), clamping_mode="hard")
    assert b.clamping_mode == "hard" and F.horizontal_flip(b).clamping_mode == "hard"
    assert tv_tensors.wrap(b + 1, like=b).clamping_mode == "hard"
    with pytest.raises(ValueError, match="clamping_mode must be None, hard or soft"):
        tv_tensors.BoundingBoxes([[0, 0, 2, 2]], format="XYXY", canvas_size=(4, 4), clamping_mode="x")


def test_string_interpolation_is_accepted():
    x = ember.rand(3, 6, 8)
    np.testing.assert_array_equal(v2.Resize((3, 4), interpolation="bicubic")(x).numpy(),
                                  F.resize(x, [3, 4], interpolation=T.InterpolationMode.BICUBIC).numpy())
    with pytest.raises(ValueError, match="Invalid interpolation mode"):
        F.resize(x, [3, 4], interpolation="cubic")


def test_to_dtype_scales_bool_like_torchvision():
    out = v2.ToDtype(ember.float32, scale=True)(ember.tensor([[[True, False]]]))
    assert out.dtype == ember.float32 and out.tolist() == [[[1.0, 0.0]]]


@requires_torch
@pytest.mark.parametrize("size", [(26, 34), (5, 7), (26, 7), (5, 34)])
@pytest.mark.parametrize("antialias", [True, False])
def test_uint8_bicubic_matches_torchs_native_uint8_kernel(size, antialias):
    import torch  # noqa: F811
    a = np.random.default_rng(0).integers(0, 256, (3, 13, 17), dtype=np.uint8)
    out = F.resize(ember.tensor(a), list(size), interpolation="bicubic", antialias=antialias).numpy()
    ref = torch.nn.functional.interpolate(torch.tensor(a)[None], size=size, mode="bicubic",
                                          antialias=antialias)[0].numpy()
    assert out.dtype == np.uint8
    assert np.abs(out.astype(int) - ref.astype(int)).max() <= 1


def test_rotate_matches_torchvision_sizes_and_nearest_samples():
    # expected values printed by torchvision 0.29's v2.functional.rotate
    x = ember.arange(30, dtype=ember.float32).reshape(1, 5, 6)
    assert F.rotate(x, 30).int().tolist() == [[[0, 2, 3, 10, 11, 0], [1, 2, 9, 9, 16, 17], [6, 7, 14, 15, 22, 23],
                                                [12, 13, 20, 20, 27, 28], [0, 18, 19, 26, 27, 0]]]
    e = F.rotate(x, 30, expand=True)
    assert tuple(e.shape) == (1, 9, 8)
    assert e.int().tolist()[0][1:8] == [[0, 0, 0, 0, 4, 5, 0, 0], [0, 0, 2, 3, 10, 11, 0, 0],
                                        [0, 1, 2, 9, 9, 16, 17, 0], [0, 6, 7, 14, 15, 22, 23, 0],
                                        [0, 12, 13, 20, 20, 27, 28, 0], [0, 0, 18, 19, 26, 27, 0, 0],
                                        [0, 0, 24, 25, 0, 0, 0, 0]]
    z = ember.zeros(3, 13, 17)
    assert [tuple(F.rotate(z, a, expand=True).shape) for a in (30, 90, 45)] == [(3, 21, 23), (3, 17, 13), (3, 23, 23)]
    np.testing.assert_array_equal(F.rotate(x, 180).numpy(), x.numpy()[:, ::-1, ::-1])
    np.testing.assert_array_equal(F.rotate(x, -270, expand=True).numpy(), np.rot90(x.numpy(), 1, axes=(1, 2)))


def test_tv_tensor_ops_that_return_self_still_give_pure_tensors():
    img = tv_tensors.Image(ember.rand(3, 4, 4))
    for out in (img.float(), img.contiguous(), img.cpu(), img.type(ember.float32), img.add_(0), img.clamp_(0, 1)):
        assert type(out) is ember.Tensor and out.data_ptr() == img.data_ptr()
    assert type(img.clone()) is tv_tensors.Image and type(img.to(ember.float64)) is tv_tensors.Image
    x = img
    x += 1  # torchvision: the in-place result is a pure tensor too
    assert type(x) is ember.Tensor and type(img) is tv_tensors.Image


@requires_torch
@pytest.mark.parametrize("size", [(26, 34), (5, 7), (13, 34)])
def test_lanczos_tensor_resize_matches_torch(size):
    import torch  # noqa: F811
    x = np.random.default_rng(2).random((3, 13, 17)).astype(np.float32)
    out = F.resize(ember.tensor(x), list(size), interpolation="lanczos").numpy()
    ref = torch.nn.functional.interpolate(torch.tensor(x)[None], size=size, mode="lanczos", antialias=True)[0]
    np.testing.assert_allclose(out, ref.numpy(), atol=1e-5)
    u = np.random.default_rng(3).integers(0, 256, (3, 13, 17), dtype=np.uint8)
    out = F.resize(ember.tensor(u), list(size), interpolation="lanczos").numpy()
    ref = torch.nn.functional.interpolate(torch.tensor(u)[None], size=size, mode="lanczos", antialias=True)[0]
    assert out.dtype == np.uint8 and np.abs(out.astype(int) - ref.numpy().astype(int)).max() <= 2


def test_tensor_resize_modes_torch_lacks_raise_its_errors():
    x = ember.rand(3, 8, 8)
    with pytest.raises(ValueError, match="Lanczos mode requires antialias=True"):  # v1 turns antialias off
        T.functional.resize(x, [4, 4], interpolation=T.InterpolationMode.LANCZOS)
    with pytest.raises(ValueError, match="Lanczos mode requires antialias=True"):
        F.resize(x, [4, 4], interpolation="lanczos", antialias=False)
    for mode in ("box", "hamming"):
        with pytest.raises(NotImplementedError):
            F.resize(x, [4, 4], interpolation=mode)


def _fixed_point_case(seed):
    r = np.random.default_rng(seed)
    h, w = (int(v) for v in r.integers(5, 60, 2))
    return r.integers(0, 256, (3, h, w), dtype=np.uint8), [int(v) for v in r.integers(3, 70, 2)]


@pytest.mark.parametrize("mode", ["bilinear", "bicubic"])
@pytest.mark.parametrize("antialias", [True, False])
def test_uint8_resize_matches_torchvision_v2(mode, antialias):
    # torchvision.transforms.v2 resizes uint8 images on the CPU with torch's native kernel: int16 fixed-point
    # weights, horizontal pass rounded to uint8 first. RandomResizedCrop on a decoded image differed from
    # torchvision by up to a few levels in ~15 % of pixels
    from tests.vision.test_transforms_seeded import tv
    interp = getattr(v2.InterpolationMode, mode.upper())
    changed = 0
    for seed in range(12):
        a, size = _fixed_point_case(seed)
        out = F.resize(ember.tensor(a), size, interpolation=interp, antialias=antialias).numpy()
        if tv is not None:
            import importlib
            tf = importlib.import_module("torchvision.transforms.v2.functional")
            ref = tf.resize(torch.from_numpy(a), size, interpolation=getattr(tf.InterpolationMode, mode.upper()),
                            antialias=antialias).numpy()
            np.testing.assert_array_equal(out, ref)
        # and without torchvision: near the float computation, but not always equal to it
        flt = F.resize(ember.tensor(a).float(), size, interpolation=interp, antialias=antialias).numpy()
        diff = np.abs(out.astype(float) - np.clip(np.round(flt), 0, 255))
        assert diff.max() <= (1 if mode == "bilinear" else 40)  # bicubic: overshoots clamped between passes
        changed += int((diff > 0).sum())
    assert changed > 0


# ---- detection: SSD augmentation and box housekeeping ---------------------------------------------
def _det_sample(dtype=np.float32):
    boxes = tv_tensors.BoundingBoxes(
        ember.tensor(np.array([[5, 6, 30, 28], [0, 0, 0.5, 10], [-3, 2, 45, 38], [40, 30, 55, 39]], dtype)),
        format="XYXY", canvas_size=(40, 50))
    masks = np.zeros((4, 40, 50), np.uint8)
    masks[0, 5:20, 5:25] = 1
    img = tv_tensors.Image(chw(np.random.default_rng(0).integers(0, 256, (40, 50, 3), dtype=np.uint8)))
    return {"image": img, "boxes": boxes, "masks": tv_tensors.Mask(ember.tensor(masks)),
            "labels": ember.tensor([1, 2, 3, 4])}


def test_sanitize_drops_small_and_outside_boxes_with_their_labels_and_masks():
    s = _det_sample()
    out = v2.SanitizeBoundingBoxes()(s)
    assert out["boxes"].tolist() == [[5, 6, 30, 28]] and out["labels"].tolist() == [1]
    assert type(out["boxes"]) is tv_tensors.BoundingBoxes and out["boxes"].canvas_size == (40, 50)
    assert type(out["masks"]) is tv_tensors.Mask and tuple(out["masks"].shape) == (1, 40, 50)
    assert out["image"] is s["image"]
    # clamping first keeps the box that only stuck out of the canvas
    out = v2.Compose([v2.ClampBoundingBoxes(), v2.SanitizeBoundingBoxes()])(_det_sample())
    assert out["labels"].tolist() == [1, 3, 4]
    kept, valid = F.sanitize_bounding_boxes(s["boxes"], min_size=10)
    assert valid.tolist() == [True, False, False, False] and kept.tolist() == [[5, 6, 30, 28]]
    with pytest.raises(ValueError, match="Could not infer where the labels are"):
        v2.SanitizeBoundingBoxes()({"boxes": s["boxes"], "x": s["labels"]})
    with pytest.raises(ValueError, match="must match the number of labels"):
        v2.SanitizeBoundingBoxes()({"boxes": s["boxes"], "labels": ember.tensor([1, 2])})
    with pytest.raises(ValueError, match="min_size must be >= 1"):
        v2.SanitizeBoundingBoxes(min_size=0.5)


def test_clamp_and_convert_bounding_boxes():
    b = _det_sample()["boxes"]
    assert v2.ClampBoundingBoxes()(b).tolist()[2:] == [[0, 2, 45, 38], [40, 30, 50, 39]]
    assert F.clamp_bounding_boxes(b, clamping_mode=None).tolist() == b.tolist()
    pure = F.clamp_bounding_boxes(b.as_subclass(ember.Tensor), format="XYXY", canvas_size=(20, 20),
                                  clamping_mode="soft")
    assert type(pure) is ember.Tensor and pure.tolist()[0] == [5, 6, 20, 20]
    with pytest.raises(ValueError, match="have to be passed"):
        F.clamp_bounding_boxes(b.as_subclass(ember.Tensor))
    c = v2.ConvertBoundingBoxFormat("CXCYWH")(b)
    assert c.format is tv_tensors.BoundingBoxFormat.CXCYWH and c.tolist()[0] == [17.5, 17, 25, 22]
    assert repr(v2.ConvertBoundingBoxFormat("XYWH")) == "ConvertBoundingBoxFormat(format=XYWH)"


def test_zoom_out_pads_everything_onto_one_canvas():
    ember.manual_seed(0)
    out = v2.RandomZoomOut(fill={tv_tensors.Image: 127, "others": 0}, side_range=(2.0, 2.0), p=1.0)(_det_sample())
    h, w = out["image"].shape[-2:]
    assert (h, w) == (80, 100) and out["boxes"].canvas_size == (80, 100) and out["masks"].shape[-2:] == (80, 100)
    top, left = np.argwhere(out["masks"].numpy()[0])[0] - [5, 5]
    assert out["boxes"].tolist()[0] == [5 + left, 6 + top, 30 + left, 28 + top]
    already = (_det_sample()["image"].numpy() == 127).sum()
    assert (out["image"].numpy() == 127).sum() == 3 * (80 * 100 - 40 * 50) + already
    with pytest.raises(ValueError, match="Non-scalar fill"):
        v2.RandomZoomOut(fill=(1, 2, 3), p=1.0)({"image": out["image"], "masks": out["masks"]})
    with pytest.raises(ValueError, match="Invalid side range"):
        v2.RandomZoomOut(side_range=(0.5, 2))


def test_iou_crop_crops_and_zeroes_the_boxes_it_cut_off():
    ember.manual_seed(1)
    t = v2.RandomIoUCrop(sampler_options=[0.3])
    out = t(_det_sample())
    h, w = out["image"].shape[-2:]
    assert out["boxes"].canvas_size == (h, w) and out["masks"].shape[-2:] == (h, w) and (h, w) != (40, 50)
    b = out["boxes"].numpy()
    assert ((b[:, 0::2] >= 0) & (b[:, 0::2] <= w) & (b[:, 1::2] >= 0) & (b[:, 1::2] <= h)).all()
    with pytest.raises(TypeError, match="requires input sample to contain tensor or PIL images and bounding"):
        t({"image": out["image"]})
    assert v2.RandomIoUCrop(sampler_options=[1.0])(_det_sample())["image"].shape[-2:] == (40, 50)


def test_photometric_distort_and_permute_channels():
    x = ember.arange(12).reshape(3, 2, 2)
    assert F.permute_channels(x, [2, 0, 1]).tolist() == [x.tolist()[2], x.tolist()[0], x.tolist()[1]]
    with pytest.raises(ValueError, match="Length of permutation does not match"):
        F.permute_channels(x, [1, 0])
    s = _det_sample()
    out = v2.RandomPhotometricDistort(p=0.0)(s)
    np.testing.assert_array_equal(out["image"].numpy(), s["image"].numpy())
    assert out["boxes"] is s["boxes"] and out["labels"] is s["labels"]
    ember.manual_seed(0)
    out = v2.RandomPhotometricDistort(p=1.0)(s)
    assert type(out["image"]) is tv_tensors.Image and out["image"].dtype == ember.uint8
    assert not np.array_equal(out["image"].numpy(), s["image"].numpy())


@requires_torch
@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_zoom_out_and_photometric_draw_torchvisions_numbers(seed):
    img = _det_sample()["image"]
    ember.manual_seed(seed)
    got = v2.RandomZoomOut().make_params([img])["padding"]
    torch.manual_seed(seed)
    r = 1.0 + torch.rand(1) * (4.0 - 1.0)
    cw, ch = int(50 * r), int(40 * r)
    r = torch.rand(2)
    left, top = int((cw - 50) * r[0]), int((ch - 40) * r[1])
    assert got == [left, top, cw - (left + 50), ch - (top + 40)]
    ember.manual_seed(seed)
    p = v2.RandomPhotometricDistort().make_params([img])
    torch.manual_seed(seed)
    want = [float(torch.empty(1).uniform_(*rng).item()) if torch.rand(1) < 0.5 else None
            for rng in [(0.875, 1.125), (0.5, 1.5), (0.5, 1.5), (-0.05, 0.05)]]
    assert [p["brightness_factor"], p["contrast_factor"], p["saturation_factor"], p["hue_factor"]] == want
    assert p["contrast_before"] == bool(torch.rand(()) < 0.5)
    perm = torch.randperm(3).tolist() if torch.rand(1) < 0.5 else None
    assert (None if p["channel_permutation"] is None else p["channel_permutation"].tolist()) == perm


def test_detection_pipeline_equals_torchvisions():
    from tests.conftest import real_torchvision
    tv = real_torchvision("torchvision.transforms.v2")
    if tv is None:
        pytest.skip("torchvision is not importable (set EMBER_TORCHVISION_PATH)")
    TV, TT = tv, sys.modules["torchvision.tv_tensors"]
    TF = sys.modules["torchvision.transforms.v2.functional"]
    rng = np.random.default_rng(0)
    u8 = rng.integers(0, 256, (3, 40, 50), dtype=np.uint8)
    boxes = np.array([[5, 6, 30, 28], [0, 0, 10, 10], [20, 2, 45, 38], [40, 30, 49, 39]], np.float32)
    masks = np.zeros((4, 40, 50), np.uint8)
    masks[0, 5:20, 5:25] = 1
    masks[2, 3:30, 20:40] = 1

    def pipeline(V, T, dt):
        return V.Compose([V.RandomPhotometricDistort(p=1), V.RandomZoomOut(fill={T.Image: (123, 117, 104),
                                                                                   "others": 0}),
                          V.RandomIoUCrop(), V.RandomHorizontalFlip(), V.ToDtype(dt, scale=True),
                          V.SanitizeBoundingBoxes(), V.ClampBoundingBoxes(), V.ConvertBoundingBoxFormat("CXCYWH")])

    for kind in ("uint8", "pil"):
        for seed in range(4):
            torch.manual_seed(seed)
            ember.manual_seed(seed)
            tt, et = pipeline(TV, TT, torch.float32), pipeline(v2, tv_tensors, ember.float32)
            for _ in range(3):
                outs = []
                for M, T in ((torch, TT), (ember, tv_tensors)):
                    img = PImage.fromarray(u8.transpose(1, 2, 0)) if kind == "pil" else T.Image(M.tensor(u8))
                    outs.append((img, {"boxes": T.BoundingBoxes(M.tensor(boxes), format="XYXY", canvas_size=(40, 50)),
                                       "masks": T.Mask(M.tensor(masks)), "labels": M.tensor([1, 2, 3, 4])}))
                (ti, tt_), (ei, et_) = tt(*outs[0]), et(*outs[1])
                np.testing.assert_array_equal(np.asarray(ei), np.asarray(ti))
                for k in ("boxes", "masks", "labels"):
                    np.testing.assert_array_equal(et_[k].numpy(), tt_[k].numpy())
                assert et_["boxes"].canvas_size == tuple(tt_["boxes"].canvas_size)
    # v2's adjust_hue (float32 HSV, h * (1/6)) bit for bit, float and uint8
    for x in (rng.random((3, 9, 11), dtype=np.float32), u8, rng.random((3, 5, 6))):
        for hf in (-0.5, -0.21, 0.03, 0.5):
            np.testing.assert_array_equal(F.adjust_hue(ember.tensor(x), hf).numpy(),
                                          TF.adjust_hue(torch.tensor(x), hf).numpy())


def test_resize_antialias_on_tensors_equals_torchvisions():
    from tests.conftest import real_torchvision
    tv = real_torchvision("torchvision.transforms", "torchvision.transforms.v2")
    if tv is None:
        pytest.skip("torchvision is not importable (set EMBER_TORCHVISION_PATH)")
    TV2 = sys.modules["torchvision.transforms.v2"]
    rng = np.random.default_rng(3)
    u8 = rng.integers(0, 256, (3, 40, 50)).astype(np.uint8)
    f32 = rng.random((3, 40, 50), dtype=np.float32)
    for size in (17, (64, 31), (9, 9)):
        for interp in ("BILINEAR", "BICUBIC"):
            for TM, EM in ((tv, T), (TV2, v2)):
                for x, atol in ((u8, 0), (f32, 3e-7)):  # uint8 bit for bit; float up to an ulp or two
                    want = TM.Resize(size, getattr(TM.InterpolationMode, interp), antialias=True)(torch.tensor(x))
                    got = EM.Resize(size, getattr(EM.InterpolationMode, interp), antialias=True)(ember.tensor(x))
                    assert got.dtype.name == str(want.dtype).split(".")[-1]
                    np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=0, atol=atol)
