"""Seeded random transforms draw torchvision's numbers: after ember.manual_seed(s) a transform picks
the flips, crops, angles, factors and orders that torchvision picks after torch.manual_seed(s)
(and FakeData gives torchvision's images and labels).

Two layers of checks:
- against torch alone (CI installs it): the parameters ember draws equal the ones computed by hand
  from torch's own draws, written the way torchvision's source writes them;
- against torchvision itself, where it can be imported (it is not a test dependency: set
  EMBER_TORCHVISION_PATH to a folder holding a torchvision package to add it): whole transforms on
  tensors and PIL images, v1 and v2, give the same images.
"""
import importlib
import math
import random

import numpy as np
import pytest

import ember
from ember._tensor import _wrap
from ember.vision import transforms as T
from ember.vision.transforms import v2 as T2
from tests.conftest import real_torchvision, requires_torch, torch

Image = pytest.importorskip("PIL.Image")

SEEDS = (0, 1, 2)


def _img(c=3, h=40, w=50, seed=0):
    return np.random.default_rng(seed).random((c, h, w), dtype=np.float32)


# ---- against torch's draws, computed by hand as torchvision's source does ----------------------------
@requires_torch
@pytest.mark.parametrize("seed", SEEDS)
def test_random_crop_get_params_is_torch_randint(seed):
    img = _wrap(_img(h=37, w=45))
    ember.manual_seed(seed)
    got = [T.RandomCrop.get_params(img, (20, 16)) for _ in range(5)]
    torch.manual_seed(seed)
    want = []
    for _ in range(5):
        i = torch.randint(0, 37 - 20 + 1, size=(1,)).item()
        j = torch.randint(0, 45 - 16 + 1, size=(1,)).item()
        want.append((i, j, 20, 16))
    assert got == want
    # v2 draws in make_params, the same two randints (size=()), and none along an edge that fits
    t2 = T2.RandomCrop((20, 16))
    ember.manual_seed(seed)
    got2 = [(p["top"], p["left"]) for p in (t2.make_params([img]) for _ in range(5))]
    assert got2 == [w[:2] for w in want]
    t2 = T2.RandomCrop((37, 16))
    ember.manual_seed(seed)
    got2 = [t2.make_params([img])["left"] for _ in range(5)]
    torch.manual_seed(seed)
    assert got2 == [int(torch.randint(0, 45 - 16 + 1, size=())) for _ in range(5)]


def _torch_rrc_params(height, width, scale, ratio):
    """torchvision's RandomResizedCrop.get_params, transcribed with torch calls."""
    area = height * width
    log_ratio = torch.log(torch.tensor(ratio))
    for _ in range(10):
        target_area = area * torch.empty(1).uniform_(scale[0], scale[1]).item()
        aspect_ratio = torch.exp(torch.empty(1).uniform_(log_ratio[0], log_ratio[1])).item()
        w = int(round(math.sqrt(target_area * aspect_ratio)))
        h = int(round(math.sqrt(target_area / aspect_ratio)))
        if 0 < w <= width and 0 < h <= height:
            i = torch.randint(0, height - h + 1, size=(1,)).item()
            j = torch.randint(0, width - w + 1, size=(1,)).item()
            return i, j, h, w
    in_ratio = float(width) / float(height)
    if in_ratio < min(ratio):
        w = width
        h = int(round(w / min(ratio)))
    elif in_ratio > max(ratio):
        h = height
        w = int(round(h * max(ratio)))
    else:
        w, h = width, height
    return (height - h) // 2, (width - w) // 2, h, w


@requires_torch
@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("size,scale,ratio", [
    ((224, 224), (0.08, 1.0), (3.0 / 4.0, 4.0 / 3.0)),
    ((32, 48), (0.5, 0.9), (0.5, 2.0)),
    ((7, 300), (0.9, 1.0), (0.9, 1.1)),  # mostly misses: the fallback after 10 tries
])
def test_random_resized_crop_params_are_torchvisions(seed, size, scale, ratio):
    h, w = size
    img = _wrap(np.zeros((1, h, w), np.float32))
    ember.manual_seed(seed)
    got = [T.RandomResizedCrop.get_params(img, scale, ratio) for _ in range(6)]
    t2 = T2.RandomResizedCrop(5, scale=scale, ratio=ratio)
    got2 = [t2.make_params([img]) for _ in range(6)]
    got2 = [(p["top"], p["left"], p["height"], p["width"]) for p in got2]
    torch.manual_seed(seed)
    want = [_torch_rrc_params(h, w, scale, ratio) for _ in range(12)]
    assert got + got2 == want


@requires_torch
@pytest.mark.parametrize("seed", SEEDS)
def test_color_jitter_params_are_randperm_then_uniforms(seed):
    ranges = [(0.6, 1.4), None, (0.2, 1.8), (-0.1, 0.1)]
    ember.manual_seed(seed)
    got = [T.ColorJitter.get_params(*ranges) for _ in range(3)]
    cj2 = T2.ColorJitter(brightness=0.4, saturation=0.8, hue=0.1)
    got2 = [cj2.make_params([]) for _ in range(3)]
    torch.manual_seed(seed)
    for fn_idx, *factors in got:
        want_idx = torch.randperm(4)
        assert isinstance(fn_idx, ember.Tensor) and fn_idx.tolist() == want_idx.tolist()
        want = [None if r is None else float(torch.empty(1).uniform_(r[0], r[1])) for r in ranges]
        assert factors == want
    for p in got2:
        assert p["fn_idx"].tolist() == torch.randperm(4).tolist()
        want = [None if r is None else float(torch.empty(1).uniform_(r[0], r[1]).item()) for r in ranges]
        assert [p["brightness_factor"], p["contrast_factor"], p["saturation_factor"], p["hue_factor"]] == want


@requires_torch
@pytest.mark.parametrize("seed", SEEDS)
def test_rotation_and_blur_params_are_float32_uniforms(seed):
    ember.manual_seed(seed)
    got = [T.RandomRotation.get_params([-30.0, 45.0]), T.GaussianBlur.get_params(0.1, 2.0),
           T2.RandomRotation(10).make_params([])["angle"], T2.GaussianBlur(3, (0.5, 1.5)).make_params([])["sigma"]]
    torch.manual_seed(seed)
    want = [float(torch.empty(1).uniform_(-30.0, 45.0).item()), torch.empty(1).uniform_(0.1, 2.0).item(),
            torch.empty(1).uniform_(-10.0, 10.0).item()]
    s = torch.empty(1).uniform_(0.5, 1.5).item()
    assert got == want + [[s, s]]
    assert all(type(v) is float and float(np.float32(v)) == v for v in got[:3])  # float32 values, as .item()


def test_reversed_range_fails_at_the_draw_as_torch():
    for t in (T.RandomRotation((30, -30)), T2.RandomRotation((30, -30))):
        with pytest.raises(RuntimeError, match=r"uniform_ expects to return a \[from, to\) range, but found "
                                               r"from=30 > to=-30"):
            t(_wrap(_img(h=4, w=4)))


def _torch_erasing_params(c, h, w, scale, ratio, value):
    area = h * w
    log_ratio = torch.log(torch.tensor(ratio))
    for _ in range(10):
        erase_area = area * torch.empty(1).uniform_(scale[0], scale[1]).item()
        aspect_ratio = torch.exp(torch.empty(1).uniform_(log_ratio[0], log_ratio[1])).item()
        eh = int(round(math.sqrt(erase_area * aspect_ratio)))
        ew = int(round(math.sqrt(erase_area / aspect_ratio)))
        if not (eh < h and ew < w):
            continue
        v = torch.empty([c, eh, ew], dtype=torch.float32).normal_() if value is None \
            else torch.tensor(value)[:, None, None]
        i = torch.randint(0, h - eh + 1, size=(1,)).item()
        j = torch.randint(0, w - ew + 1, size=(1,)).item()
        return i, j, eh, ew, v
    return 0, 0, h, w, None


@requires_torch
@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("value", [None, [0.5], [0.1, 0.2, 0.3]])
def test_random_erasing_params_and_noise_are_torchvisions(seed, value):
    img = _wrap(_img(h=30, w=20))
    ember.manual_seed(seed)
    got = [T.RandomErasing.get_params(img, scale=(0.02, 0.33), ratio=(0.3, 3.3), value=value) for _ in range(3)]
    e2 = T2.RandomErasing(value="random" if value is None else value)
    got2 = [e2.make_params([img]) for _ in range(3)]
    torch.manual_seed(seed)
    for i, j, h, w, v in got + [tuple(p[k] for k in "ijhwv") for p in got2]:
        wi, wj, wh, ww, wv = _torch_erasing_params(3, 30, 20, (0.02, 0.33), (0.3, 3.3), value)
        assert (i, j, h, w) == (wi, wj, wh, ww)
        assert v.dtype == ember.float32 and tuple(v.shape) == tuple(wv.shape)
        np.testing.assert_array_equal(v.numpy(), wv.numpy())  # the noise too, bit for bit


@requires_torch
@pytest.mark.parametrize("seed", SEEDS)
def test_coin_flips_are_torch_rand_compared_in_float32(seed):
    x = _wrap(np.arange(6, dtype=np.float32).reshape(1, 2, 3))
    rgb = _wrap(_img(h=2, w=3))
    def lt(p):  # torchvision: if torch.rand(1) < p (a float32 tensor against a Python float)
        return bool(torch.rand(1) < p)

    def ge_skips(p):  # v2: if torch.rand(1) >= p: skip
        return not bool(torch.rand(1) >= p)

    def apply_v1(p):  # if p < torch.rand(1): skip; else the inner flip draws its own torch.rand(1)
        applied = not bool(p < torch.rand(1))
        return applied and lt(1.0)

    def apply_v2(p):
        applied = ge_skips(p)
        return applied and ge_skips(1.0)

    flipped = (lambda y: y.numpy()[0, 0, 0] == 2)
    vflipped = (lambda y: y.numpy()[0, 0, 0] == 3)
    gray = (lambda y: bool(np.all(y.numpy()[0] == y.numpy()[1])))
    cases = [  # transform, input, "applied?" read from the output, torchvision's draws for one call
        (T.RandomHorizontalFlip(0.7), x, flipped, lt),
        (T.RandomVerticalFlip(0.3), x, vflipped, lt),
        (T.RandomGrayscale(0.4), rgb, gray, lt),
        (T.RandomApply([T.RandomHorizontalFlip(1.0)], p=0.6), x, flipped, apply_v1),
        (T2.RandomHorizontalFlip(0.7), x, flipped, ge_skips),
        (T2.RandomVerticalFlip(0.3), x, vflipped, ge_skips),
        (T2.RandomGrayscale(0.4), rgb, gray, ge_skips),
        (T2.RandomApply([T2.RandomHorizontalFlip(1.0)], p=0.6), x, flipped, apply_v2),
    ]
    for t, inp, applied, draws in cases:
        ember.manual_seed(seed)
        got = [bool(applied(t(inp))) for _ in range(30)]
        torch.manual_seed(seed)
        want = [draws(t.p) for _ in range(30)]
        assert got == want, type(t).__name__
        assert 0 < sum(got) < 30


@requires_torch
@pytest.mark.parametrize("seed", SEEDS)
def test_random_erasing_coin_comes_first(seed):
    img = _wrap(_img(h=30, w=20))
    for t in (T.RandomErasing(p=0.5, value=7.0), T2.RandomErasing(p=0.5, value=7.0)):
        ember.manual_seed(seed)
        got = [t(img).numpy() for _ in range(6)]
        torch.manual_seed(seed)
        for out in got:
            if torch.rand(1) < 0.5:
                i, j, h, w, _ = _torch_erasing_params(3, 30, 20, (0.02, 0.33), (0.3, 3.3), [7.0])
                want = _img(h=30, w=20)
                want[:, i:i + h, j:j + w] = 7.0
                np.testing.assert_array_equal(out, want)
            else:
                np.testing.assert_array_equal(out, _img(h=30, w=20))


def _tagger(k):
    return lambda xs: xs + [k]


@requires_torch
@pytest.mark.parametrize("seed", SEEDS)
def test_v2_random_order_and_choice_use_torch_randperm_and_multinomial(seed):
    order = T2.RandomOrder([_tagger(k) for k in range(5)])
    choice = T2.RandomChoice([_tagger(k) for k in range(4)], p=[0.1, 0.4, 0.2, 0.3])
    ember.manual_seed(seed)
    got = [order([]) for _ in range(3)] + [choice([]) for _ in range(8)]
    torch.manual_seed(seed)
    want = [torch.randperm(5).tolist() for _ in range(3)]
    p = [q / 1.0 for q in (0.1, 0.4, 0.2, 0.3)]
    want += [[int(torch.multinomial(torch.tensor(p), 1))] for _ in range(8)]
    assert got == want


@pytest.mark.parametrize("seed", SEEDS)
def test_v1_random_order_and_choice_use_pythons_random_as_torchvision(seed):
    order = T.RandomOrder([_tagger(k) for k in range(5)])
    choice = T.RandomChoice([_tagger(k) for k in range(4)])
    weighted = T.RandomChoice([_tagger(k) for k in range(4)], p=[0.1, 0.4, 0.2, 0.3])
    random.seed(seed)
    ember.manual_seed(123)
    got = [order([]) for _ in range(3)] + [choice([]) for _ in range(5)] + [weighted([]) for _ in range(5)]
    random.seed(seed)
    want = []
    for _ in range(3):
        o = list(range(5))
        random.shuffle(o)
        want.append(o)
    want += [[random.choices(range(4))[0]] for _ in range(5)]
    want += [[random.choices(range(4), weights=[0.1, 0.4, 0.2, 0.3])[0]] for _ in range(5)]
    assert got == want
    ember.manual_seed(0)  # ember's generator plays no part
    random.seed(seed)
    assert [order([]) for _ in range(3)] == want[:3]


def test_seeded_pipeline_is_reproducible_and_differs_between_seeds():
    pipe = T.Compose([T.RandomResizedCrop(12), T.RandomHorizontalFlip(), T.ColorJitter(0.3, 0.3, 0.3, 0.05),
                      T.RandomRotation(10), T.RandomErasing()])
    x = _wrap(_img(h=20, w=24))
    ember.manual_seed(5)
    a = [pipe(x).numpy() for _ in range(3)]
    ember.manual_seed(5)
    b = [pipe(x).numpy() for _ in range(3)]
    ember.manual_seed(6)
    c = [pipe(x).numpy() for _ in range(3)]
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u, v)
    assert any(not np.array_equal(u, w) for u, w in zip(a, c))


# ---- against torchvision itself (when it can be imported) ---------------------------------------------
tv = real_torchvision("torchvision", "torchvision.transforms.v2")
requires_torchvision = pytest.mark.skipif(tv is None, reason="torchvision is not importable")

# (name, factory taking the transforms module, input kinds): the factory builds the same transform
# from torchvision.transforms[.v2] and ember.vision.transforms[.v2]
_CASES = [
    ("RandomHorizontalFlip", lambda m: m.RandomHorizontalFlip(), ("float", "uint8", "pil")),
    ("RandomVerticalFlip", lambda m: m.RandomVerticalFlip(0.3), ("float", "uint8", "pil")),
    ("RandomCrop", lambda m: m.RandomCrop(17, padding=3), ("float", "uint8", "pil")),
    ("RandomCrop-pad_if_needed", lambda m: m.RandomCrop((45, 30), pad_if_needed=True, padding_mode="reflect"),
     ("float", "pil")),
    ("RandomResizedCrop", lambda m: m.RandomResizedCrop(24), ("pil",)),
    ("RandomResizedCrop-nearest", lambda m: m.RandomResizedCrop(24, interpolation=m.InterpolationMode.NEAREST),
     ("uint8", "pil")),
    ("ColorJitter", lambda m: m.ColorJitter(0.4, 0.4, 0.4, 0.1), ("pil",)),
    ("RandomGrayscale", lambda m: m.RandomGrayscale(0.5), ("pil", "uint8")),
    ("RandomRotation", lambda m: m.RandomRotation(30), ("float", "uint8", "pil")),
    ("RandomApply", lambda m: m.RandomApply([m.RandomHorizontalFlip(1.0), m.RandomCrop(20)], p=0.5),
     ("float", "pil")),
    ("RandomChoice", lambda m: m.RandomChoice([m.RandomHorizontalFlip(1.0), m.RandomVerticalFlip(1.0),
                                               m.RandomCrop(21)]), ("float", "pil")),
    ("RandomOrder", lambda m: m.RandomOrder([m.RandomHorizontalFlip(), m.RandomVerticalFlip(), m.RandomCrop(20)]),
     ("float", "pil")),
    ("RandomErasing-random", lambda m: m.RandomErasing(0.9, value="random"), ("float",)),
    ("RandomErasing-value", lambda m: m.RandomErasing(0.9, value=(0.1, 0.2, 0.3)), ("float",)),
    ("pipeline", lambda m: m.Compose([m.RandomResizedCrop(32), m.RandomHorizontalFlip(), m.ColorJitter(0.3, 0.3),
                                      m.RandomGrayscale(0.3), m.RandomRotation(15)]), ("pil",)),
]
# The draws agree everywhere; these image kernels give a few float32 ulps of difference (torch's
# antialiased resize, reductions and exp are not computed in the same order / with the same libm):
# on them only the random parameters are compared exactly, through the PIL and nearest paths above.


def _inputs(kind):
    a = np.random.default_rng(7).integers(0, 256, (40, 50, 3), dtype=np.uint8)
    if kind == "pil":
        return Image.fromarray(a), Image.fromarray(a)
    if kind == "uint8":
        c = np.ascontiguousarray(a.transpose(2, 0, 1))
        return _wrap(c.copy()), torch.from_numpy(c.copy())
    f = _img()
    return _wrap(f.copy()), torch.from_numpy(f.copy())


def _as_np(y):
    return np.asarray(y) if isinstance(y, Image.Image) else y.numpy()


@requires_torchvision
@pytest.mark.parametrize("version", ["v1", "v2"])
@pytest.mark.parametrize("name,make,kinds", _CASES, ids=[c[0] for c in _CASES])
def test_seeded_transform_gives_torchvisions_images(name, make, kinds, version):
    tvm = importlib.import_module("torchvision.transforms" + (".v2" if version == "v2" else ""))
    em = T2 if version == "v2" else T
    for kind in kinds:
        e_in, t_in = _inputs(kind)
        for seed in SEEDS:
            et, tt = make(em), make(tvm)
            ember.manual_seed(seed)
            random.seed(seed)
            got = [_as_np(et(e_in)) for _ in range(4)]
            torch.manual_seed(seed)
            random.seed(seed)
            want = [_as_np(tt(t_in)) for _ in range(4)]
            for g, w in zip(got, want):
                assert g.dtype == w.dtype and g.shape == w.shape, (kind, seed)
                np.testing.assert_array_equal(g, w, err_msg=f"{name} {version} {kind} seed {seed}")


@requires_torchvision
@pytest.mark.parametrize("seed", SEEDS)
def test_get_params_equal_torchvisions(seed):
    TV = importlib.import_module("torchvision.transforms")
    e_img, t_img = _wrap(_img(h=33, w=41)), torch.from_numpy(_img(h=33, w=41))
    calls = [
        (lambda M, im: M.RandomCrop.get_params(im, (20, 30))),
        (lambda M, im: M.RandomResizedCrop.get_params(im, [0.08, 1.0], [3 / 4, 4 / 3])),
        (lambda M, im: M.RandomRotation.get_params([-20.0, 35.0])),
        (lambda M, im: M.GaussianBlur.get_params(0.1, 2.0)),
        (lambda M, im: M.ColorJitter.get_params((0.5, 1.5), (0.8, 1.2), None, (-0.2, 0.2))),
        (lambda M, im: M.RandomErasing.get_params(im, (0.02, 0.33), (0.3, 3.3), None)),
    ]

    def plain(v):
        if isinstance(v, (tuple, list)):
            return [plain(u) for u in v]
        return v.numpy().tolist() if hasattr(v, "numpy") else v

    ember.manual_seed(seed)
    got = [plain(c(T, e_img)) for c in calls for _ in range(3)]
    torch.manual_seed(seed)
    want = [plain(c(TV, t_img)) for c in calls for _ in range(3)]
    assert got == want


# ---- FakeData draws torchvision's images and labels too --------------------------------------------
@requires_torch
@pytest.mark.parametrize("image_size", [(3, 20, 30), (1, 2, 3)])
def test_fake_data_is_torch_randn_and_randint_seeded_by_index(image_size):
    from ember.vision.datasets import FakeData
    from ember.vision.transforms import functional as F
    ds = FakeData(size=6, image_size=image_size, num_classes=7, random_offset=11)
    ember.manual_seed(0)
    before = ember.rand(3).tolist()
    ember.manual_seed(0)
    for index in (0, 3, 5):
        img, target = ds[index]
        torch.manual_seed(index + 11)
        want = torch.randn(*image_size)
        want_target = torch.randint(0, 7, size=(1,), dtype=torch.long)[0].item()
        assert target == want_target and type(target) is int
        np.testing.assert_array_equal(np.asarray(img), np.asarray(F.to_pil_image(_wrap(want.numpy()))))
    assert ember.rand(3).tolist() == before  # the default generator is left alone, as torchvision restores it


@requires_torchvision
def test_fake_data_equals_torchvisions():
    from ember.vision.datasets import FakeData
    theirs = importlib.import_module("torchvision.datasets").FakeData(size=4, image_size=(3, 16, 24), random_offset=2)
    ours = FakeData(size=4, image_size=(3, 16, 24), random_offset=2)
    for index in range(4):
        (a, ta), (b, tb) = ours[index], theirs[index]
        assert ta == tb and a.mode == b.mode
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
