"""torchvision.io's image readers (the data tutorial's custom Dataset calls decode_image(path))."""
import csv
import os

import numpy as np
import pytest

import ember
from ember.utils.data import DataLoader, Dataset
from ember.vision import io as vio

Image = pytest.importorskip("PIL.Image")

rng = np.random.default_rng(0)


def _write(path, arr, mode=None, **kw):
    Image.fromarray(arr, mode=mode).save(path, **kw)
    return str(path)


def test_decode_image_png_gray_rgb_rgba_keep_their_channels(tmp_path):
    gray = rng.integers(0, 256, (5, 7), dtype=np.uint8)
    rgb = rng.integers(0, 256, (5, 7, 3), dtype=np.uint8)
    rgba = rng.integers(0, 256, (5, 7, 4), dtype=np.uint8)
    for arr in (gray, rgb, rgba):
        path = _write(tmp_path / f"img{arr.ndim}{arr.shape[-1]}.png", arr)
        x = vio.decode_image(path)
        want = arr[None] if arr.ndim == 2 else arr.transpose(2, 0, 1)
        assert x.dtype == ember.uint8 and tuple(x.shape) == want.shape
        np.testing.assert_array_equal(x.numpy(), want)
        np.testing.assert_array_equal(vio.read_image(path).numpy(), want)
        # from the file's bytes, as torchvision's decode_image(read_file(path))
        data = vio.read_file(path)
        assert data.dtype == ember.uint8 and data.dim() == 1 and data.numel() == os.path.getsize(path)
        np.testing.assert_array_equal(vio.decode_image(data).numpy(), want)


def test_decode_image_modes_convert(tmp_path):
    rgb = rng.integers(0, 256, (4, 6, 3), dtype=np.uint8)
    path = _write(tmp_path / "c.png", rgb)
    assert tuple(vio.decode_image(path, mode=vio.ImageReadMode.GRAY).shape) == (1, 4, 6)
    assert tuple(vio.decode_image(path, mode="RGB_ALPHA").shape) == (4, 4, 6)
    assert vio.ImageReadMode.RGBA is vio.ImageReadMode.RGB_ALPHA
    gray = _write(tmp_path / "g.png", rgb[..., 0])
    x = vio.decode_image(gray, mode=vio.ImageReadMode.RGB)
    assert tuple(x.shape) == (3, 4, 6)
    np.testing.assert_array_equal(x.numpy()[2], rgb[..., 0])
    # a palette PNG decodes to RGB, as libpng expands it
    pal = Image.fromarray(rgb).convert("P")
    pal.save(tmp_path / "p.png")
    assert tuple(vio.decode_image(str(tmp_path / "p.png")).shape) == (3, 4, 6)
    jpg = _write(tmp_path / "j.jpg", rgb, quality=95)
    assert tuple(vio.decode_image(jpg).shape) == (3, 4, 6)
    with pytest.raises(KeyError, match="unknown mode"):  # torchvision: ImageReadMode["CMYK"]
        vio.decode_image(path, mode="CMYK")
    with pytest.raises(TypeError, match="unknown mode"):
        vio.decode_image(path, mode=3)


def test_decode_image_errors_name_the_file(tmp_path):
    with pytest.raises(RuntimeError, match="No such file or directory.*nope.png"):
        vio.decode_image(str(tmp_path / "nope.png"))
    (tmp_path / "bad.png").write_bytes(b"not an image")
    with pytest.raises(RuntimeError, match="bad.png"):
        vio.decode_image(str(tmp_path / "bad.png"))
    with pytest.raises(RuntimeError, match="1-D uint8"):
        vio.decode_image(ember.zeros(3))


def test_custom_image_dataset_from_the_data_tutorial(tmp_path):
    imgs = rng.integers(0, 256, (6, 28, 28), dtype=np.uint8)
    with open(tmp_path / "labels.csv", "w", newline="") as f:
        w = csv.writer(f)
        for i, a in enumerate(imgs):
            _write(tmp_path / f"img{i}.png", a)
            w.writerow([f"img{i}.png", i % 3])

    class CustomImageDataset(Dataset):
        def __init__(self, annotations_file, img_dir, transform=None, target_transform=None):
            with open(annotations_file) as f:
                self.img_labels = [(r[0], int(r[1])) for r in csv.reader(f)]
            self.img_dir = img_dir

        def __len__(self):
            return len(self.img_labels)

        def __getitem__(self, idx):
            image = vio.decode_image(os.path.join(self.img_dir, self.img_labels[idx][0]))
            return image, self.img_labels[idx][1]

    ds = CustomImageDataset(tmp_path / "labels.csv", str(tmp_path))
    x, y = next(iter(DataLoader(ds, batch_size=4)))
    assert tuple(x.shape) == (4, 1, 28, 28) and x.dtype == ember.uint8 and y.tolist() == [0, 1, 2, 0]
    np.testing.assert_array_equal(x.numpy()[:, 0], imgs[:4])


def test_torchvision_io_resolves_under_the_alias(tmp_path):
    import subprocess
    import sys
    from pathlib import Path
    root = Path(__file__).resolve().parents[2]
    script = tmp_path / "s.py"
    _write(tmp_path / "a.png", np.full((2, 3), 7, np.uint8))
    script.write_text("from torchvision.io import decode_image, read_image, ImageReadMode\n"
                      "import torchvision\n"
                      f"x = decode_image({str(tmp_path / 'a.png')!r})\n"
                      "print(x.shape, x.dtype, torchvision.io.read_image is read_image)\n")
    proc = subprocess.run([sys.executable, "-m", "ember", "run", str(script)], capture_output=True, text=True,
                          env=dict(os.environ, PYTHONPATH=str(root)), timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "torch.Size([1, 2, 3]) torch.uint8 True\n"
