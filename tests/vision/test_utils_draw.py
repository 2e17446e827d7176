"""torchvision.utils' drawing helpers: draw_bounding_boxes, draw_segmentation_masks, draw_keypoints,
flow_to_image. Hand-computed pixels always; pixel-for-pixel against the real torchvision when it is there
(EMBER_TORCHVISION_PATH), since both draw with the same PIL."""
import os
import warnings

import numpy as np
import pytest

import ember
from ember._tensor import _wrap
from ember.vision import utils as vutils
from tests.conftest import real_torchvision, torch

pytest.importorskip("PIL.Image")

tvu = real_torchvision("torchvision.utils")
needs_tv = pytest.mark.skipif(tvu is None, reason="the real torchvision (EMBER_TORCHVISION_PATH) is not available")

rng = np.random.default_rng(0)
RED, GREEN, BLUE = (255, 0, 0), (0, 255, 0), (0, 0, 255)


def E(a):
    return _wrap(np.ascontiguousarray(a))


def black(h=12, w=16, c=3, dtype=np.uint8):
    return np.zeros((c, h, w), dtype)


def rgb_at(x, y_, x_):
    return tuple(int(v) for v in x.numpy()[:, y_, x_])


# ---- draw_bounding_boxes, by hand ------------------------------------------------------------------
def test_box_outline_only_touches_the_rectangle_edges():
    out = vutils.draw_bounding_boxes(E(black()), E(np.array([[2, 3, 9, 8]])), colors="red")
    assert isinstance(out, ember.Tensor) and out.dtype == ember.uint8 and tuple(out.shape) == (3, 12, 16)
    o = out.numpy()
    edge = np.zeros((12, 16), bool)
    edge[3, 2:10] = edge[8, 2:10] = edge[3:9, 2] = edge[3:9, 9] = True  # x 2..9, y 3..8 inclusive
    np.testing.assert_array_equal(o[0] == 255, edge)
    assert not o[1:].any()


def test_box_width_grows_inwards_and_colors_per_box():
    boxes = np.array([[0, 0, 7, 7], [8, 4, 15, 11]])
    o = vutils.draw_bounding_boxes(E(black()), E(boxes), colors=["#00FF00", (0, 0, 255)], width=2).numpy()
    assert tuple(o[:, 0, 0]) == GREEN and tuple(o[:, 1, 1]) == GREEN and not o[:, 2, 2].any()
    assert tuple(o[:, 4, 8]) == BLUE and tuple(o[:, 5, 9]) == BLUE and tuple(o[:, 11, 15]) == BLUE
    assert not o[:, 7, 11].any()  # inside the second box, past the 2-pixel border


def test_box_fill_is_translucent_alpha_100():
    o = vutils.draw_bounding_boxes(E(black()), E(np.array([[2, 2, 10, 10]])), colors=RED, fill=True).numpy()
    assert tuple(o[:, 2, 2]) == RED  # the outline is opaque
    assert tuple(o[:, 5, 5]) == (100, 0, 0)  # 255 * 100/255 over black
    assert not o[:, 11, 11].any()


def test_box_default_palette_and_float_coordinates_truncate():
    # torchvision's palette: box i gets (i * (2**25-1, 2**15-1, 2**21-1)) % 255; box 1 -> (1, 127, 31)
    assert vutils._generate_color_palette(3)[:2] == [(0, 0, 0), (1, 127, 31)]
    boxes = np.array([[0, 0, 3, 3], [4.9, 5.7, 9.99, 10.2]], np.float32)
    o = vutils.draw_bounding_boxes(E(black()), E(boxes)).numpy()
    assert tuple(o[:, 5, 4]) == (1, 127, 31) and tuple(o[:, 10, 9]) == (1, 127, 31)
    assert not o[:, 6, 5].any()


def test_box_grayscale_becomes_rgb_and_float_keeps_its_dtype():
    g = np.full((1, 12, 16), 0.5, np.float32)
    out = vutils.draw_bounding_boxes(E(g), E(np.array([[1, 1, 6, 6]])), colors=BLUE)
    assert out.dtype == ember.float32 and tuple(out.shape) == (3, 12, 16)
    o = out.numpy()
    # float -> uint8 as torchvision's to_dtype: 0.5 * 255.999 = 127.99 -> 127, back as 127 / 255
    np.testing.assert_allclose(o[:, 0, 0], [127 / 255] * 3, rtol=1e-7)
    np.testing.assert_array_equal(o[:, 1, 1], [0, 0, 1])
    assert vutils.draw_bounding_boxes(E(g.astype(np.float64)), E(np.array([[1, 1, 6, 6]]))).dtype == ember.float64


def test_box_labels_are_written_inside_the_box_in_label_colors():
    from PIL import Image, ImageDraw, ImageFont
    img = black(40, 60)
    box = np.array([[2, 2, 55, 35]])
    plain = vutils.draw_bounding_boxes(E(img), E(box), colors="red").numpy()
    lab = vutils.draw_bounding_boxes(E(img), E(box), labels=["Hi"], colors="red").numpy()
    text = (lab != plain).any(0)
    ys, xs = np.nonzero(text)
    assert text.sum() > 5 and ys.min() >= 4 and xs.min() >= 4  # at the box corner + width + 1 margin
    assert not lab[1:, text].any()  # text in the box color
    white = vutils.draw_bounding_boxes(E(img), E(box), labels=["Hi"], colors="red", label_colors="white").numpy()
    assert ((white[:, text] == white[0, text]).all(0) & (white[0, text] > 0)).all()  # gray levels of white
    # fill_labels: the text's bounding box grown by 1 pixel, in the box color; the text black by default
    left, top, right, bottom = ImageDraw.Draw(Image.new("RGB", (60, 40))).textbbox(
        (4, 4), "Hi", font=ImageFont.load_default())
    filled = vutils.draw_bounding_boxes(E(img), E(box), labels=["Hi"], colors="red", fill_labels=True).numpy()
    assert tuple(filled[:, top - 1, left - 1]) == RED and tuple(filled[:, bottom + 1, right + 1]) == RED
    assert not filled[:, bottom + 2, right + 2].any()
    assert (filled[0, text] < 255).any() and not filled[1:].any()  # black text on red
    bg = vutils.draw_bounding_boxes(E(img), E(box), labels=["Hi"], colors="red", fill_labels=True,
                                    label_background_colors="blue").numpy()
    assert tuple(bg[:, top - 1, left - 1]) == BLUE and tuple(bg[:, 2, 2]) == RED


def test_box_truetype_font_and_font_size():
    mpl = pytest.importorskip("matplotlib")
    ttf = os.path.join(os.path.dirname(mpl.__file__), "mpl-data", "fonts", "ttf", "DejaVuSans.ttf")
    if not os.path.exists(ttf):
        pytest.skip("no DejaVuSans.ttf")
    img, box = black(60, 90), np.array([[0, 0, 89, 59]])
    plain = vutils.draw_bounding_boxes(E(img), E(box), colors="white").numpy()

    def text_pixels(**kw):
        out = vutils.draw_bounding_boxes(E(img), E(box), labels=["W"], font=ttf, colors="white", **kw).numpy()
        return (out != plain).any(0).sum()

    small, default, big = text_pixels(font_size=8), text_pixels(), text_pixels(font_size=30)
    assert 0 < small < default < big and big > 8 * small  # font_size defaults to 10; area grows ~ size**2
    if tvu is not None:
        kw = dict(labels=["Wq", "j"], font=ttf, font_size=14, colors=["red", "blue"])
        two = np.array([[0, 0, 89, 59], [30, 20, 80, 50]])
        same(vutils.draw_bounding_boxes(E(IMG[:, :60, :90]), E(two), **kw),
             tvu.draw_bounding_boxes(T(IMG[:, :60, :90]), T(two), **kw))


def test_rotated_box_first_edge_is_dashed():
    # (x1, y1, ..., x4, y4): edge 1 -> 2 dashed (5 on, 5 off), the others solid
    box = np.array([[2, 2, 22, 2, 22, 10, 2, 10]])
    o = vutils.draw_bounding_boxes(E(black(14, 26)), E(box), colors="red").numpy()[0]
    assert (o[2, 2:8] == 255).all() and not o[2, 9:11].any() and (o[2, 13:17] == 255).all()
    assert (o[10, 2:23] == 255).all() and (o[2:11, 2] == 255).all() and (o[2:11, 22] == 255).all()
    assert not o[5, 10]


def test_box_errors_and_warnings():
    img, box = E(black()), E(np.array([[1, 1, 5, 5]]))
    with pytest.raises(TypeError, match="Tensor expected"):
        vutils.draw_bounding_boxes(black(), box)
    with pytest.raises(ValueError, match="must be uint8 or float, got ember.int32"):
        vutils.draw_bounding_boxes(E(black(dtype=np.int32)), box)
    with pytest.raises(ValueError, match="Pass individual images, not batches"):
        vutils.draw_bounding_boxes(E(black()[None]), box)
    with pytest.raises(ValueError, match="Only grayscale and RGB images are supported"):
        vutils.draw_bounding_boxes(E(black(c=4)), box)
    with pytest.raises(ValueError, match=r"\(xmin, ymin, xmax, ymax\) format"):
        vutils.draw_bounding_boxes(img, E(np.array([[5, 1, 1, 5]])))
    with pytest.raises(ValueError, match=r"Number of boxes \(1\) and labels \(2\) mismatch"):
        vutils.draw_bounding_boxes(img, box, labels=["a", "b"])
    with pytest.raises(ValueError, match="equal or larger than the number of objects, but got 1 < 2"):
        vutils.draw_bounding_boxes(img, E(np.array([[1, 1, 5, 5]] * 2)), colors=["red"])
    with pytest.raises(ValueError, match="should be an RGB triplet"):
        vutils.draw_bounding_boxes(img, box, colors=(1, 2, 3, 4))
    with pytest.raises(ValueError, match="colors must be a tuple or a string"):
        vutils.draw_bounding_boxes(img, box, colors=5)
    with pytest.warns(UserWarning, match="boxes doesn't contain any box"):
        assert vutils.draw_bounding_boxes(img, E(np.zeros((0, 4)))) is img
    with pytest.warns(UserWarning, match="'font_size' will be ignored since 'font' is not set"):
        vutils.draw_bounding_boxes(img, box, font_size=20)


# ---- draw_segmentation_masks, by hand ----------------------------------------------------------------
def test_masks_blend_with_alpha_and_black_out_overlaps():
    img = np.full((3, 4, 5), 100, np.uint8)
    m = np.zeros((2, 4, 5), bool)
    m[0, :2] = True
    m[1, 1:3] = True  # row 1 is under both masks
    out = vutils.draw_segmentation_masks(E(img), E(m), alpha=0.5, colors=[(200, 0, 50), "#0000FF"])
    assert out.dtype == ember.uint8
    o = out.numpy()
    assert tuple(o[:, 0, 0]) == (150, 50, 75)  # int(100 * 0.5 + color * 0.5)
    assert tuple(o[:, 1, 0]) == (50, 50, 50)  # overlap: blended with black
    assert tuple(o[:, 2, 0]) == (50, 50, 177)
    assert tuple(o[:, 3, 0]) == (100, 100, 100)
    # a single (H, W) mask; alpha 0 leaves the image, alpha 1 paints the color
    np.testing.assert_array_equal(vutils.draw_segmentation_masks(E(img), E(m[0]), alpha=0).numpy(), img)
    full = vutils.draw_segmentation_masks(E(img), E(m[0]), alpha=1, colors="red").numpy()
    assert tuple(full[:, 0, 0]) == RED and tuple(full[:, 3, 0]) == (100, 100, 100)


def test_masks_on_float_images_use_colors_over_255():
    img = np.full((3, 2, 2), 0.5, np.float64)
    m = np.array([[True, False], [False, False]])
    o = vutils.draw_segmentation_masks(E(img), E(m), alpha=0.25, colors=(255, 51, 0))
    assert o.dtype == ember.float64
    np.testing.assert_allclose(o.numpy()[:, 0, 0], [0.375 + 0.25, 0.375 + 0.05, 0.375], rtol=1e-12)
    np.testing.assert_array_equal(o.numpy()[:, 1, 1], [0.5] * 3)


def test_masks_errors():
    img, m = E(black(4, 5)), E(np.ones((4, 5), bool))
    with pytest.raises(TypeError, match="The image must be a tensor"):
        vutils.draw_segmentation_masks(black(4, 5), m)
    with pytest.raises(ValueError, match="Pass an RGB image"):
        vutils.draw_segmentation_masks(E(black(4, 5, c=1)), m)
    with pytest.raises(ValueError, match=r"masks must be of shape \(H, W\) or \(batch_size, H, W\)"):
        vutils.draw_segmentation_masks(img, E(np.ones((1, 1, 4, 5), bool)))
    with pytest.raises(ValueError, match="The masks must be of dtype bool. Got ember.uint8"):
        vutils.draw_segmentation_masks(img, E(np.ones((4, 5), np.uint8)))
    with pytest.raises(ValueError, match="same height and width"):
        vutils.draw_segmentation_masks(img, E(np.ones((5, 4), bool)))
    with pytest.warns(UserWarning, match="masks doesn't contain any mask"):
        assert vutils.draw_segmentation_masks(img, E(np.ones((0, 4, 5), bool))) is img


# ---- draw_keypoints, by hand -------------------------------------------------------------------------
def test_keypoints_discs_lines_and_visibility():
    kp = np.array([[[3, 5], [12, 5], [12, 10]]], np.float32)
    o = vutils.draw_keypoints(E(black(14, 18)), E(kp), colors="red", radius=1).numpy()
    for x, y in ((3, 5), (12, 5), (12, 10)):
        assert tuple(o[:, y, x]) == RED
    assert (o[0] > 0).sum() == 3 * (o[0, 4:7, 2:5] > 0).sum()  # three identical discs, nothing else
    # connections are drawn in PIL's default ink (white), over the discs, between visible points only
    lines = vutils.draw_keypoints(E(black(14, 18)), E(kp), connectivity=[(0, 1), (1, 2)], colors="red",
                                  radius=1, width=1, visibility=E(np.array([[True, True, False]]))).numpy()
    assert (lines[:, 5, 3:13] == 255).all()
    assert not lines[:, 10, 12].any() and not lines[:, 8, 12].any()  # point 2 hidden, and its edge
    # visibility (N, K, 1) is squeezed, as after pred.split([2, 1], dim=-1)
    again = vutils.draw_keypoints(E(black(14, 18)), E(kp), connectivity=[(0, 1), (1, 2)], colors="red",
                                  radius=1, width=1, visibility=E(np.array([[[1], [1], [0]]], np.float32))).numpy()
    np.testing.assert_array_equal(again, lines)


def test_keypoints_float_image_and_errors():
    out = vutils.draw_keypoints(E(np.full((3, 8, 8), 1.0, np.float32)), E(np.array([[[4, 4]]])), colors="black")
    assert out.dtype == ember.float32
    o = out.numpy()
    assert o[:, 4, 4].tolist() == [0, 0, 0] and o[:, 0, 0].tolist() == [1, 1, 1]
    img = E(black())
    with pytest.raises(ValueError, match="Pass an RGB image"):
        vutils.draw_keypoints(E(black(c=1)), E(np.zeros((1, 2, 2))))
    with pytest.raises(ValueError, match=r"keypoints must be of shape \(num_instances, K, 2\)"):
        vutils.draw_keypoints(img, E(np.zeros((2, 2))))
    with pytest.raises(ValueError, match=r"visibility must be of shape \(num_instances, K\). Got ndim=1"):
        vutils.draw_keypoints(img, E(np.zeros((1, 2, 2))), visibility=E(np.ones(2, bool)))
    with pytest.raises(ValueError, match=r"Got visibility.shape=ember.Size\(\[1, 3\]\) and "
                                         r"keypoints.shape=ember.Size\(\[1, 2, 2\]\)"):
        vutils.draw_keypoints(img, E(np.zeros((1, 2, 2))), visibility=E(np.ones((1, 3), bool)))


# ---- flow_to_image, by hand --------------------------------------------------------------------------
def test_colorwheel_by_hand():
    w = vutils._make_colorwheel()
    assert w.shape == (55, 3) and w.dtype == np.float32
    for row, rgb in {0: RED, 1: (255, 17, 0), 15: (255, 255, 0), 21: GREEN, 25: (0, 255, 255), 36: BLUE,
                     49: (255, 0, 255), 54: (255, 0, 43)}.items():
        assert tuple(w[row]) == rgb, row


def test_flow_to_image_by_hand():
    flow = np.zeros((2, 3, 4), np.float32)
    flow[0, 0] = 1  # row 0 moves right: hue 0 of the wheel, red
    flow[0, 1] = -1  # row 1 moves left: the wheel's middle, entry 27 = (0, 255 - floor(255 * 2 / 11), 255)
    flow[0, 2, 0] = 0.5  # half the largest motion: halfway to white
    out = vutils.flow_to_image(E(flow))
    assert out.dtype == ember.uint8 and tuple(out.shape) == (3, 3, 4)
    o = out.numpy()
    assert tuple(o[:, 0, 0]) == RED and tuple(o[:, 1, 0]) == (0, 209, 255)
    assert tuple(o[:, 2, 0]) == (255, 127, 127) and tuple(o[:, 2, 1]) == (255, 255, 255)  # no motion: white
    batch = vutils.flow_to_image(E(np.stack([flow, flow * 3])))
    assert tuple(batch.shape) == (2, 3, 3, 4)
    np.testing.assert_array_equal(batch.numpy()[1], o)  # normalized per batch by the largest norm
    with pytest.raises(ValueError, match="Flow should be of dtype torch.float, got ember.float64"):
        vutils.flow_to_image(E(flow.astype(np.float64)))
    with pytest.raises(ValueError, match=r"shape \(2, H, W\) or \(N, 2, H, W\), got ember.Size\(\[3, 3, 4\]\)"):
        vutils.flow_to_image(E(np.zeros((3, 3, 4), np.float32)))


# ---- against torchvision ---------------------------------------------------------------------------------
IMG = rng.integers(0, 256, (3, 60, 80), dtype=np.uint8)
FIMG = rng.random((3, 60, 80), dtype=np.float32)
BOXES = np.array([[5, 5, 40, 30], [10.7, 20.2, 70.9, 55.5], [0, 0, 79, 59]], np.float32)
RBOXES = np.array([[10, 10, 50, 15, 45, 40, 5, 35], [30.5, 5, 70, 20, 60, 50, 20, 40]], np.float32)
LABELS = ["cat", "dog", "x"]


def T(a):
    return torch.from_numpy(np.ascontiguousarray(a))


def same(ours, theirs):
    o, t = ours.numpy(), theirs.numpy()
    assert o.dtype == t.dtype and o.shape == t.shape
    np.testing.assert_array_equal(o, t)


@needs_tv
@pytest.mark.parametrize("kw", [
    {}, {"colors": "red"}, {"colors": ["#FF00FF", (0, 255, 0), "blue"], "width": 3}, {"fill": True},
    {"labels": LABELS}, {"labels": LABELS, "fill": True, "width": 2, "colors": "yellow"},
    {"labels": LABELS, "label_colors": "white"}, {"labels": LABELS, "fill_labels": True},
    {"labels": LABELS, "fill_labels": True, "label_background_colors": ["red", "green", "blue"],
     "label_colors": (1, 2, 3)},
])
def test_boxes_match_torchvision(kw):
    same(vutils.draw_bounding_boxes(E(IMG), E(BOXES), **kw), tvu.draw_bounding_boxes(T(IMG), T(BOXES), **kw))


@needs_tv
@pytest.mark.parametrize("kw", [{}, {"fill": True, "width": 2}, {"labels": ["r", "s"]}])
def test_rotated_boxes_match_torchvision(kw):
    same(vutils.draw_bounding_boxes(E(IMG), E(RBOXES), **kw), tvu.draw_bounding_boxes(T(IMG), T(RBOXES), **kw))


@needs_tv
@pytest.mark.parametrize("dt", [np.float32, np.float64, np.float16])
def test_boxes_on_float_and_gray_images_match_torchvision(dt):
    f = FIMG.astype(dt)
    same(vutils.draw_bounding_boxes(E(f), E(BOXES), labels=LABELS), tvu.draw_bounding_boxes(T(f), T(BOXES),
                                                                                             labels=LABELS))
    same(vutils.draw_bounding_boxes(E(f[:1]), E(BOXES)), tvu.draw_bounding_boxes(T(f[:1]), T(BOXES)))


@needs_tv
@pytest.mark.parametrize("dt", [np.uint8, np.float32, np.float64, np.float16])
@pytest.mark.parametrize("kw", [{}, {"alpha": 0.3, "colors": "red"},
                                {"alpha": 0.55, "colors": ["red", (0, 10, 200), "#123456"]}, {"alpha": 1},
                                {"alpha": 0}])
def test_masks_match_torchvision(dt, kw):
    img = IMG if dt == np.uint8 else FIMG.astype(dt)
    masks = np.random.default_rng(1).random((3, 60, 80)) > 0.6
    same(vutils.draw_segmentation_masks(E(img), E(masks), **kw), tvu.draw_segmentation_masks(T(img), T(masks), **kw))
    same(vutils.draw_segmentation_masks(E(img), E(masks[0]), **kw),
         tvu.draw_segmentation_masks(T(img), T(masks[0]), **kw))


@needs_tv
@pytest.mark.parametrize("dt", [np.uint8, np.float32])
@pytest.mark.parametrize("kw", [{}, {"colors": "red", "radius": 4},
                                {"connectivity": [(0, 1), (1, 2), (2, 3), (3, 4)], "width": 2, "colors": (0, 255, 0)},
                                {"connectivity": [(0, 1), (1, 2), (2, 3), (3, 4)], "visibility": True}])
def test_keypoints_match_torchvision(dt, kw):
    img = IMG if dt == np.uint8 else FIMG
    kp = np.random.default_rng(2).random((2, 5, 2)).astype(np.float32) * [79, 59]
    ours, theirs = dict(kw), dict(kw)
    if kw.get("visibility"):
        vis = np.array([[1, 1, 0, 1, 1], [1, 0, 1, 1, 1]], bool)
        ours["visibility"], theirs["visibility"] = E(vis), T(vis)
    same(vutils.draw_keypoints(E(img), E(kp), **ours), tvu.draw_keypoints(T(img), T(kp), **theirs))


@needs_tv
def test_flow_and_colorwheel_match_torchvision():
    np.testing.assert_array_equal(vutils._make_colorwheel(), tvu._make_colorwheel().numpy())
    r = np.random.default_rng(3)
    for shape in [(2, 64, 64), (3, 2, 50, 70)]:
        fl = (r.standard_normal(shape) * 5).astype(np.float32)
        same(vutils.flow_to_image(E(fl)), tvu.flow_to_image(T(fl)))
    # torch's float32 sqrt/atan2 (vectorized, up to 1 ulp off) can move a rare pixel by one level
    fl = np.stack(np.meshgrid(np.linspace(-3, 3, 301), np.linspace(-3, 3, 301))).astype(np.float32)
    o, t = vutils.flow_to_image(E(fl)).numpy().astype(int), tvu.flow_to_image(T(fl)).numpy().astype(int)
    assert np.abs(o - t).max() <= 1 and (o != t).mean() < 1e-3


@needs_tv
def test_errors_match_torchvision():
    cases = [
        (lambda m: m.draw_bounding_boxes, (black(c=4), np.array([[1, 1, 5, 5]])), {}),
        (lambda m: m.draw_bounding_boxes, (black(), np.array([[5, 1, 1, 5]])), {}),
        (lambda m: m.draw_bounding_boxes, (black(), np.array([[1, 1, 5, 5]])), {"colors": (1, 2)}),
        (lambda m: m.draw_segmentation_masks, (black(), np.ones((12, 16), np.uint8)), {}),
        (lambda m: m.draw_keypoints, (black(), np.zeros((2, 2))), {}),
        (lambda m: m.flow_to_image, (np.zeros((3, 3, 4), np.float32),), {}),
    ]
    for fn, args, kw in cases:
        with pytest.raises(Exception) as ours:
            fn(vutils)(*map(E, args), **kw)
        with pytest.raises(Exception) as theirs:
            fn(tvu)(*map(T, args), **kw)
        assert type(ours.value) is type(theirs.value)
        assert str(ours.value).replace("ember", "torch") == str(theirs.value)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        tvu.draw_bounding_boxes(T(black()), T(np.zeros((0, 4))))
    with pytest.warns(UserWarning, match=str(w[-1].message)):
        vutils.draw_bounding_boxes(E(black()), E(np.zeros((0, 4))))
