"""make_grid / save_image pixel for pixel, and the spec's imshow."""
import io

import numpy as np
import pytest

import ember
from ember._tensor import _wrap
from ember.vision import utils as vutils

Image = pytest.importorskip("PIL.Image")

P = 0.5  # pad value used below
IMGS = np.array([[[[1, 2], [3, 4]]], [[[5, 6], [7, 8]]], [[[9, 10], [11, 12]]]], np.float32)  # 3 x 1 x 2 x 2


def layout(v0, v1, v2, pad=P):
    """The 7 x 7 grid of three 2x2 images, 2 per row, padding 1, written out by hand."""
    (a, b), (c, d) = v0
    (e, f), (g, h) = v1
    (i, j), (k, m) = v2
    return np.array([
        [pad, pad, pad, pad, pad, pad, pad],
        [pad, a, b, pad, e, f, pad],
        [pad, c, d, pad, g, h, pad],
        [pad, pad, pad, pad, pad, pad, pad],
        [pad, i, j, pad, pad, pad, pad],
        [pad, k, m, pad, pad, pad, pad],
        [pad, pad, pad, pad, pad, pad, pad],
    ], np.float32)


def grid_of(**kwargs):
    out = vutils.make_grid(_wrap(IMGS.copy()), nrow=2, padding=1, pad_value=P, **kwargs)
    assert isinstance(out, ember.Tensor)
    g = out.numpy()
    assert g.shape == (3, 7, 7)  # single channel is repeated to RGB
    assert np.array_equal(g[0], g[1]) and np.array_equal(g[0], g[2])
    return g[0]


def test_make_grid_layout_by_hand():
    np.testing.assert_array_equal(grid_of(), layout(IMGS[0, 0], IMGS[1, 0], IMGS[2, 0]))


def test_make_grid_normalize_over_batch():
    x = IMGS[:, 0]
    np.testing.assert_allclose(grid_of(normalize=True), layout(*((x - 1) / 11)), rtol=1e-6)


def test_make_grid_normalize_value_range_clamps():
    x = np.clip(IMGS[:, 0], 0, 8) / 8
    np.testing.assert_allclose(grid_of(normalize=True, value_range=(0, 8)), layout(*x), rtol=1e-6)


def test_make_grid_value_range_must_be_a_tuple():
    with pytest.raises(TypeError, match="value_range has to be a tuple"):  # torchvision raises TypeError
        grid_of(normalize=True, value_range=[0, 8])


def test_make_grid_scale_each():
    x = IMGS[:, 0]
    expected = layout((x[0] - 1) / 3, (x[1] - 5) / 3, (x[2] - 9) / 3)
    np.testing.assert_allclose(grid_of(normalize=True, scale_each=True), expected, rtol=1e-6)


def test_make_grid_does_not_modify_input_and_default_padding():
    x = _wrap(IMGS.copy())
    vutils.make_grid(x, normalize=True)
    np.testing.assert_array_equal(x.numpy(), IMGS)
    g = vutils.make_grid(x).numpy()  # nrow=8, padding=2, pad 0: one row of 3
    assert g.shape == (3, 2 * 1 + 2 + 2, 4 * 3 + 2)
    assert g[0, 2, 2] == 1 and g[0, 2, 6] == 5 and g[0, 3, 11] == 12 and g[0, 0].sum() == 0


def test_make_grid_spec_batch_shape_and_list_input():
    batch = np.random.default_rng(0).random((4, 3, 32, 32), dtype=np.float32)
    g = vutils.make_grid(_wrap(batch)).numpy()
    assert g.shape == (3, 36, 138)
    np.testing.assert_array_equal(g[:, 2:34, 2 + 34 * 3: 34 * 4], batch[3])
    g2 = vutils.make_grid([_wrap(b) for b in batch]).numpy()
    np.testing.assert_array_equal(g, g2)


def test_make_grid_single_image_and_errors():
    one = np.arange(12, dtype=np.float32).reshape(3, 2, 2)
    np.testing.assert_array_equal(vutils.make_grid(_wrap(one)).numpy(), one)  # a single image comes back
    np.testing.assert_array_equal(vutils.make_grid(_wrap(one[0])).numpy(), np.stack([one[0]] * 3))
    with pytest.raises(TypeError, match="tensor or list of tensors expected"):
        vutils.make_grid(one)


def test_save_image_rounds_like_torchvision(tmp_path):
    x = np.array([[[0.0, 0.5, 1.0], [1.2, -0.1, 0.2]]] * 3, np.float32)  # 3 x 2 x 3
    path = tmp_path / "img.png"
    vutils.save_image(_wrap(x), path)
    back = np.asarray(Image.open(path))
    expected = np.clip(x * np.float32(255) + np.float32(0.5), 0, 255).astype(np.uint8).transpose(1, 2, 0)
    np.testing.assert_array_equal(back, expected)
    assert back[0, 1, 0] == 128 and back[1, 0, 0] == 255 and back[1, 1, 0] == 0
    buf = io.BytesIO()
    vutils.save_image(_wrap(IMGS / 12), buf, format="png", nrow=2, padding=1)
    assert Image.open(io.BytesIO(buf.getvalue())).size == (7, 7)


def test_spec_imshow_runs_with_agg(tmp_path):
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    images = _wrap(np.random.default_rng(1).random((4, 3, 32, 32), dtype=np.float32) * 2 - 1)

    def imshow(img):  # the tutorial's code, verbatim
        img = img / 2 + 0.5
        npimg = img.numpy()
        plt.imshow(np.transpose(npimg, (1, 2, 0)))
        plt.show()

    imshow(vutils.make_grid(images))
    shown = plt.gca().get_images()[-1].get_array()
    assert shown.shape == (36, 138, 3)
    np.testing.assert_allclose(shown[2:34, 2:34], images.numpy()[0].transpose(1, 2, 0) / 2 + 0.5, rtol=1e-6)
    plt.savefig(tmp_path / "grid.png")
    plt.close("all")
