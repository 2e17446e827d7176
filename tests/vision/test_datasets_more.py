"""KMNIST, EMNIST, QMNIST, SVHN, STL10, USPS and SEMEION: tiny files in each official format, served over HTTP on
127.0.0.1, read by ember and (when it is available) by torchvision from the same folder."""
import bz2
import gzip
import io
import lzma
import os
import string
import struct
import sys
import tarfile
import zipfile

import numpy as np
import pytest

import ember
from ember.vision import datasets, transforms
from tests.conftest import real_torchvision
from tests.vision.cifar_fixture import closed_port_url, md5, serve, snapshot

Image = pytest.importorskip("PIL.Image")

tv = real_torchvision("torchvision.datasets")
needs_tv = pytest.mark.skipif(tv is None, reason="torchvision (the oracle) is not available")

NOT_FOUND = "Dataset not found or corrupted. You can use download=True to download it"


def _subclass(cls, **attrs):
    """cls under its own name (folders are named after the class) with class attributes replaced."""
    return type(cls.__name__, (cls,), attrs)


def _as_numpy(x):
    return x.numpy() if hasattr(x, "numpy") else np.asarray(x)


def assert_same_as_torchvision(ours, theirs):
    """Same length, reprs, classes, and for every sample the same image (mode, size, pixels) and target."""
    assert len(ours) == len(theirs)
    assert repr(ours) == repr(theirs)
    assert getattr(ours, "classes", None) == getattr(theirs, "classes", None)
    for i in range(len(ours)):
        (a, y), (b, z) = ours[i], theirs[i]
        assert (a.mode, a.size) == (b.mode, b.size)
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
        if isinstance(y, int):
            assert type(z) is int and y == z
        else:
            assert isinstance(y, ember.Tensor) and str(y.dtype).split(".")[1] == str(z.dtype).split(".")[1]
            np.testing.assert_array_equal(y.numpy(), z.numpy())


# ---- the idx format ---------------------------------------------------------------------------------
_IDX_CODE = {np.dtype(np.uint8): 8, np.dtype(np.int32): 12}


def idx_bytes(arr):
    """An idx file: magic (type code, number of dims), big-endian dims, big-endian data."""
    header = struct.pack(">I", (_IDX_CODE[arr.dtype] << 8) | arr.ndim)
    header += b"".join(struct.pack(">I", s) for s in arr.shape)
    return header + arr.astype(arr.dtype.newbyteorder(">")).tobytes()


def _write_gz(path, arr):
    path.write_bytes(gzip.compress(idx_bytes(arr)))
    return md5(path)


# ---- KMNIST ------------------------------------------------------------------------------------------
def _mnist_like(folder, n_train=5, n_test=3, seed=0):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    arrays = {"train-images-idx3-ubyte.gz": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
              "train-labels-idx1-ubyte.gz": rng.integers(0, 10, n_train).astype(np.uint8),
              "t10k-images-idx3-ubyte.gz": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
              "t10k-labels-idx1-ubyte.gz": rng.integers(0, 10, n_test).astype(np.uint8)}
    return arrays, [(name, _write_gz(folder / name, arr)) for name, arr in arrays.items()]


def test_kmnist_downloads_and_reads_the_mnist_format(tmp_path, capsys):
    arrays, resources = _mnist_like(tmp_path / "srv")
    root = tmp_path / "data"
    with serve(tmp_path / "srv") as url:
        K = _subclass(datasets.KMNIST, mirrors=[url], resources=resources)
        ds = K(str(root), download=True)
        assert sorted(url.server.requests) == sorted("/" + name for name, _ in resources)
    assert "Downloading" in capsys.readouterr().out
    assert sorted(os.listdir(root / "KMNIST" / "raw")) == sorted(
        [n for n, _ in resources] + [n[:-3] for n, _ in resources])
    assert K.classes == ["o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo"]
    assert ds.class_to_idx["tsu"] == 3 and len(ds) == 5
    img, target = ds[4]
    assert img.mode == "L" and img.size == (28, 28)
    np.testing.assert_array_equal(np.asarray(img), arrays["train-images-idx3-ubyte.gz"][4])
    assert type(target) is int and target == arrays["train-labels-idx1-ubyte.gz"][4]
    test = datasets.KMNIST(root, train=False, transform=transforms.ToTensor(), target_transform=lambda y: -y)
    x, y = test[1]
    assert tuple(x.shape) == (1, 28, 28) and y == -int(arrays["t10k-labels-idx1-ubyte.gz"][1])
    np.testing.assert_allclose(x.numpy()[0], arrays["t10k-images-idx3-ubyte.gz"][1] / np.float32(255), rtol=1e-6)
    assert repr(datasets.KMNIST(str(root))) == (
        f"Dataset KMNIST\n    Number of datapoints: 5\n    Root location: {root}\n    Split: Train")
    if tv is not None:
        for train in (True, False):
            assert_same_as_torchvision(datasets.KMNIST(str(root), train=train), tv.KMNIST(str(root), train=train))


# ---- EMNIST ------------------------------------------------------------------------------------------
def _emnist_zip(srv, splits={"letters": (4, 2), "balanced": (3, 2)}):
    """srv/gzip.zip as NIST ships it: gzip/emnist-<split>-<train|test>-<images-idx3|labels-idx1>-ubyte.gz and a
    mapping text file per split. Returns {(split, train): (upright images, labels)} and the zip's md5."""
    rng = np.random.default_rng(1)
    content, buf = {}, io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for split, sizes in splits.items():
            z.writestr(f"gzip/emnist-{split}-mapping.txt", "0 48\n1 49\n")
            n_classes = len(datasets.EMNIST.classes_split_dict[split])
            for part, n in zip(("train", "test"), sizes):
                upright = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
                labels = rng.integers(0, n_classes, n).astype(np.uint8)
                stored = np.ascontiguousarray(upright.transpose(0, 2, 1))  # NIST writes each image transposed
                z.writestr(f"gzip/emnist-{split}-{part}-images-idx3-ubyte.gz", gzip.compress(idx_bytes(stored)))
                z.writestr(f"gzip/emnist-{split}-{part}-labels-idx1-ubyte.gz", gzip.compress(idx_bytes(labels)))
                content[split, part == "train"] = (upright, labels)
    srv.mkdir(parents=True, exist_ok=True)
    (srv / "gzip.zip").write_bytes(buf.getvalue())
    return content, md5(srv / "gzip.zip")


def test_emnist_classes_per_split():
    d = datasets.EMNIST.classes_split_dict
    assert d["byclass"] == list(string.digits + string.ascii_uppercase + string.ascii_lowercase)
    assert len(d["bymerge"]) == len(d["balanced"]) == 47 and "c" not in d["balanced"] and "C" in d["balanced"]
    assert d["balanced"][36:] == ["a", "b", "d", "e", "f", "g", "h", "n", "q", "r", "t"]
    assert d["letters"][:3] == ["N/A", "a", "b"] and len(d["letters"]) == 27
    assert d["digits"] == d["mnist"] == list("0123456789")
    if tv is not None:
        assert d == tv.EMNIST.classes_split_dict and datasets.EMNIST.splits == tv.EMNIST.splits


def test_emnist_download_unpacks_every_split_and_keeps_images_as_stored(tmp_path, capsys):
    content, zip_md5 = _emnist_zip(tmp_path / "srv")
    root = tmp_path / "data"
    with serve(tmp_path / "srv") as url:
        E = _subclass(datasets.EMNIST, url=url + "gzip.zip", md5=zip_md5)
        ds = E(str(root), split="letters", download=True)
        other = E(str(root), split="balanced", train=False, download=True)  # already unpacked: no request
        assert url.server.requests == ["/gzip.zip"]
    raw = root / "EMNIST" / "raw"
    out = capsys.readouterr().out
    assert f"Extracting {raw / 'gzip.zip'} to {raw}" in out
    # the zip and the idx files of every split; the gzip/ folder, .gz files and mapping files are gone
    assert sorted(os.listdir(raw)) == sorted(
        ["gzip.zip"] + [f"emnist-{s}-{p}-{k}-ubyte" for s in ("letters", "balanced") for p in ("train", "test")
                        for k in ("images-idx3", "labels-idx1")])
    upright, labels = content["letters", True]
    assert len(ds) == 4 and ds.classes == ["N/A"] + list(string.ascii_lowercase)
    assert ds.class_to_idx["c"] == 3 and ds.split == "letters" and ds.training_file == "training_letters.pt"
    img, target = ds[2]
    assert img.mode == "L" and img.size == (28, 28) and target == labels[2]
    # returned as stored, i.e. transposed; PIL's TRANSPOSE shows it upright
    np.testing.assert_array_equal(np.asarray(img), upright[2].T)
    np.testing.assert_array_equal(np.asarray(img.transpose(Image.Transpose.TRANSPOSE)), upright[2])
    assert len(other) == 2 and other.classes == datasets.EMNIST.classes_split_dict["balanced"]
    np.testing.assert_array_equal(other.data.numpy(), content["balanced", False][0].transpose(0, 2, 1))
    assert repr(other) == (f"Dataset EMNIST\n    Number of datapoints: 2\n    Root location: {root}\n"
                           "    Split: Test")
    with pytest.raises(RuntimeError, match="Dataset not found. You can use download=True"):
        datasets.EMNIST(str(root), split="digits")
    if tv is not None:
        for split in ("letters", "balanced"):
            for train in (True, False):
                assert_same_as_torchvision(datasets.EMNIST(str(root), split=split, train=train),
                                           tv.EMNIST(str(root), split=split, train=train))


def test_emnist_bad_split_and_bad_archives_leave_root_as_it_was(tmp_path):
    with pytest.raises(ValueError) as info:
        datasets.EMNIST(str(tmp_path), split="letter")
    assert str(info.value) == ("Unknown value 'letter' for argument split. Valid values are "
                               "{'byclass', 'bymerge', 'balanced', 'letters', 'digits', 'mnist'}.")
    root = tmp_path / "data"
    root.mkdir()
    (root / "mine.txt").write_text("keep")
    before = snapshot(root)
    srv = tmp_path / "srv"
    _emnist_zip(srv)
    with serve(srv) as url:
        with pytest.raises(RuntimeError, match="corrupted"):
            _subclass(datasets.EMNIST, url=url + "gzip.zip", md5="0" * 32)(str(root), split="letters", download=True)
        assert snapshot(root) == before
        (srv / "other.zip").write_bytes(zipfile_bytes({"emnist/readme.txt": b"not the layout"}))
        with pytest.raises(RuntimeError, match="has no gzip/ folder"):
            _subclass(datasets.EMNIST, url=url + "other.zip", md5=md5(srv / "other.zip"))(
                str(root), split="letters", download=True)
        assert snapshot(root) == before
    if tv is not None:
        with pytest.raises(ValueError) as theirs:
            tv.EMNIST(str(tmp_path), split="letter")
        assert str(theirs.value) == str(info.value)


def zipfile_bytes(files):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, data in files.items():
            z.writestr(name, data)
    return buf.getvalue()


# ---- QMNIST ------------------------------------------------------------------------------------------
_QMNIST_URL = "https://raw.githubusercontent.com/facebookresearch/qmnist/master/"


def _qmnist_files(srv, n_train=4, n_test=10003, n_nist=3):
    """The six QMNIST files (.gz for train/test, .xz for nist); 8-column int32 labels. Returns the arrays and the
    resources dict pointing at srv's server."""
    srv.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(2)
    arrays, resources = {}, {}
    for what, prefix, n, ext in (("train", "qmnist-train", n_train, ".gz"), ("test", "qmnist-test", n_test, ".gz"),
                                 ("nist", "xnist", n_nist, ".xz")):
        images = np.zeros((n, 28, 28), dtype=np.uint8)  # mostly blank, so 10k test images stay small
        images[:, 5, :4] = rng.integers(0, 256, (n, 4), dtype=np.uint8)
        images[:, 0, 0], images[:, 0, 1] = np.arange(n) % 256, np.arange(n) // 256
        labels = np.column_stack([rng.integers(0, 10, n), rng.integers(0, 4, n), rng.integers(0, 4000, n),
                                  rng.integers(0, 150, n), rng.integers(0, 10, n), np.arange(n) + 400000,
                                  rng.integers(-1, 2, n) * 1000000, np.zeros(n)]).astype(np.int32)
        compress = gzip.compress if ext == ".gz" else lzma.compress
        names = [f"{prefix}-images-idx3-ubyte{ext}", f"{prefix}-labels-idx2-int{ext}"]
        for name, arr in zip(names, (images, labels)):
            (srv / name).write_bytes(compress(idx_bytes(arr)))
        arrays[what] = (images, labels)
        resources[what] = names
    return arrays, resources


def _qmnist_class(url, srv, resources):
    return _subclass(datasets.QMNIST, resources={
        what: [(url + name, md5(srv / name)) for name in names] for what, names in resources.items()})


@pytest.fixture(scope="module")
def qmnist(tmp_path_factory):
    """A QMNIST root with every subset downloaded from the local server, the arrays and the served class."""
    base = tmp_path_factory.mktemp("qmnist")
    arrays, resources = _qmnist_files(base / "srv")
    root = base / "data"
    with serve(base / "srv") as url:
        Q = _qmnist_class(url, base / "srv", resources)
        Q(str(root), what="nist", download=True)
        assert url.server.requests == ["/xnist-images-idx3-ubyte.xz", "/xnist-labels-idx2-int.xz"]  # only nist
        for kw in ({}, {"train": False}):
            Q(str(root), download=True, **kw)
        assert len(url.server.requests) == 6
    return root, arrays


def test_qmnist_files_and_compat_targets(qmnist):
    root, arrays = qmnist
    assert sorted(os.listdir(root / "QMNIST" / "raw")) == sorted(
        f"{p}-{k}{e}" for p, x in (("qmnist-train", ".gz"), ("qmnist-test", ".gz"), ("xnist", ".xz"))
        for k in ("images-idx3-ubyte", "labels-idx2-int") for e in ("", x))
    train = datasets.QMNIST(str(root))
    images, labels = arrays["train"]
    assert train.what == "train" and train.compat is True and train.data_file == "train.pt"
    assert train.classes == datasets.MNIST.classes and len(train) == 4
    assert train.data.dtype == ember.uint8 and train.targets.dtype == ember.int64
    assert tuple(train.targets.shape) == (4, 8)
    np.testing.assert_array_equal(train.targets.numpy(), labels)
    img, target = train[3]
    assert img.mode == "L" and img.size == (28, 28) and type(target) is int and target == labels[3, 0]
    np.testing.assert_array_equal(np.asarray(img), images[3])
    nist = datasets.QMNIST(str(root), what="nist", train=True, transform=transforms.ToTensor())
    x, y = nist[2]
    assert len(nist) == 3 and tuple(x.shape) == (1, 28, 28) and y == arrays["nist"][1][2, 0]
    assert repr(nist).endswith("    Split: nist\n    StandardTransform\nTransform: ToTensor()")


def test_qmnist_full_targets_and_test_subsets(qmnist):
    root, arrays = qmnist
    images, labels = arrays["test"]
    full = datasets.QMNIST(str(root), train=False, compat=False, target_transform=lambda t: t * 2)
    assert full.what == "test" and len(full) == 10003
    img, target = full[10001]
    assert isinstance(target, ember.Tensor) and target.dtype == ember.int64 and tuple(target.shape) == (8,)
    np.testing.assert_array_equal(target.numpy(), labels[10001].astype(np.int64) * 2)
    np.testing.assert_array_equal(np.asarray(img), images[10001])
    t10 = datasets.QMNIST(str(root), what="test10k")
    t50 = datasets.QMNIST(str(root), what="test50k", compat=False)
    assert len(t10) == 10000 and len(t50) == 3
    np.testing.assert_array_equal(t50.data.numpy(), images[10000:])
    np.testing.assert_array_equal(t50[0][1].numpy(), labels[10000])
    assert t10[9999][1] == labels[9999, 0]
    assert repr(t50) == f"Dataset QMNIST\n    Number of datapoints: 3\n    Root location: {root}\n    Split: test50k"
    with pytest.raises(ValueError) as info:
        datasets.QMNIST(str(root), what="test60k")
    assert str(info.value) == ("Unknown value 'test60k' for argument what. Valid values are "
                               "{'train', 'test', 'test10k', 'test50k', 'nist'}.")


@needs_tv
def test_qmnist_same_as_torchvision(qmnist):
    root, _ = qmnist
    for kw in ({}, {"what": "nist"}, {"what": "train", "compat": False}, {"what": "test50k", "compat": False},
               {"what": "nist", "compat": False}):
        assert_same_as_torchvision(datasets.QMNIST(str(root), **kw), tv.QMNIST(str(root), **kw))
    ours, theirs = datasets.QMNIST(str(root), what="test10k"), tv.QMNIST(str(root), what="test10k")
    assert len(ours) == len(theirs) == 10000 and repr(ours) == repr(theirs)
    for i in (0, 777, 9999):
        assert ours[i][1] == theirs[i][1]
        np.testing.assert_array_equal(np.asarray(ours[i][0]), np.asarray(theirs[i][0]))


def test_qmnist_failed_download_keeps_neither_file(tmp_path):
    srv = tmp_path / "srv"
    _, resources = _qmnist_files(srv, n_test=2)
    root = tmp_path / "data"
    root.mkdir()
    before = snapshot(root)
    labels = srv / resources["train"][1]
    with serve(srv) as url:
        Q = _qmnist_class(url, srv, resources)
        labels.unlink()  # the images download, the labels are missing: neither is kept
        with pytest.raises(RuntimeError, match="HTTP Error 404") as info:
            Q(str(root), download=True)
    assert os.path.join(str(root), "QMNIST", "raw", resources["train"][1]) in str(info.value)
    assert snapshot(root) == before
    with pytest.raises(RuntimeError, match="Dataset not found. You can use download=True to download it"):
        datasets.QMNIST(str(root))


# ---- SVHN --------------------------------------------------------------------------------------------
def _svhn_mat(path, n, seed):
    """A .mat file as SVHN's: X (32, 32, 3, N) uint8 and y (N, 1) uint8 in [1, 10] (10 is the digit 0)."""
    sio = pytest.importorskip("scipy.io")
    rng = np.random.default_rng(seed)
    hwc = rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8)
    y = np.array([10, 1, 5, 10, 9, 2, 3][:n], dtype=np.uint8).reshape(n, 1)
    sio.savemat(path, {"X": hwc.transpose(1, 2, 3, 0), "y": y})
    return hwc, y[:, 0], md5(path)


def test_svhn_download_labels_and_images(tmp_path, capsys):
    srv = tmp_path / "srv"
    srv.mkdir()
    train_hwc, train_y, train_md5 = _svhn_mat(srv / "train_32x32.mat", 5, 0)
    test_hwc, _, test_md5 = _svhn_mat(srv / "test_32x32.mat", 3, 1)
    root = tmp_path / "data"
    with serve(srv) as url:
        split_list = {"train": [url + "train_32x32.mat", "train_32x32.mat", train_md5],
                      "test": [url + "test_32x32.mat", "test_32x32.mat", test_md5],
                      "extra": [url + "extra_32x32.mat", "extra_32x32.mat", "0" * 32]}
        S = _subclass(datasets.SVHN, split_list=split_list)
        ds = S(str(root), download=True)
        assert f"Downloading {url}train_32x32.mat to {root / 'train_32x32.mat'}" in capsys.readouterr().out
        S(str(root), download=True)
        assert "Using downloaded and verified file" in capsys.readouterr().out
        with pytest.raises(RuntimeError, match="HTTP Error 404"):
            S(str(root), split="extra", download=True)
    assert sorted(os.listdir(root)) == ["train_32x32.mat"]
    assert ds.labels.dtype == np.int64 and ds.labels.tolist() == [0, 1, 5, 0, 9]  # 10 is the digit 0
    assert ds.data.shape == (5, 3, 32, 32) and ds.data.dtype == np.uint8 and len(ds) == 5
    img, target = ds[3]
    assert img.mode == "RGB" and img.size == (32, 32) and type(target) is int and target == 0
    np.testing.assert_array_equal(np.asarray(img), train_hwc[3])
    assert repr(ds) == f"Dataset SVHN\n    Number of datapoints: 5\n    Root location: {root}\n    Split: train"
    with pytest.raises(RuntimeError, match=NOT_FOUND):
        S(str(root), split="test")
    with pytest.raises(ValueError, match="Unknown value 'valid' for argument split. Valid values are "
                                         "{'train', 'test', 'extra'}."):
        S(str(root), split="valid")
    x, y = S(str(root), transform=transforms.ToTensor(), target_transform=lambda t: t + 10)[0]
    assert tuple(x.shape) == (3, 32, 32) and y == 10
    np.testing.assert_array_equal(x.numpy(), train_hwc[0].transpose(2, 0, 1) / np.float32(255))
    if tv is not None:
        assert_same_as_torchvision(ds, _subclass(tv.SVHN, split_list=split_list)(str(root)))


def test_svhn_without_scipy_says_how_to_install_it(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "scipy", None)
    monkeypatch.setitem(sys.modules, "scipy.io", None)
    with pytest.raises(ImportError, match="pip install scipy"):
        datasets.SVHN(str(tmp_path / "data"), download=True)
    assert not (tmp_path / "data").exists()  # nothing fetched before the missing dependency was found


# ---- STL10 -------------------------------------------------------------------------------------------
STL_CLASSES = ["airplane", "bird", "car", "cat", "deer", "dog", "horse", "monkey", "ship", "truck"]


def _stl10(srv, n_train=6, n_test=3, n_unlabeled=4, class_names=True):
    """srv/stl10_binary.tar.gz: *_X.bin hold each image's channels column by column, *_y.bin labels in [1, 10]."""
    rng = np.random.default_rng(3)
    folder = srv / "stl10_binary"
    folder.mkdir(parents=True)
    out = {}
    for name, n in (("train", n_train), ("test", n_test), ("unlabeled", n_unlabeled)):
        hwc = rng.integers(0, 256, (n, 96, 96, 3), dtype=np.uint8)
        (folder / f"{name}_X.bin").write_bytes(np.ascontiguousarray(hwc.transpose(0, 3, 2, 1)).tobytes())
        labels = None
        if name != "unlabeled":
            labels = rng.integers(0, 10, n).astype(np.uint8)
            (folder / f"{name}_y.bin").write_bytes((labels + 1).tobytes())
        out[name] = (hwc, labels)
    folds = [[(3 * k + j) % n_train for j in range(2)] for k in range(10)]
    (folder / "fold_indices.txt").write_text("".join(" ".join(map(str, f)) + " \n" for f in folds))
    if class_names:
        (folder / "class_names.txt").write_text("\n".join(STL_CLASSES) + "\n")
    with tarfile.open(srv / "stl10_binary.tar.gz", "w:gz") as tar:
        tar.add(folder, arcname="stl10_binary")
    attrs = {"train_list": [[n, md5(folder / n)] for n in ("train_X.bin", "train_y.bin", "unlabeled_X.bin")],
             "test_list": [[n, md5(folder / n)] for n in ("test_X.bin", "test_y.bin")],
             "tgz_md5": md5(srv / "stl10_binary.tar.gz")}
    return out, folds, attrs


@pytest.fixture
def stl10(tmp_path):
    """An STL10 root downloaded from the local server: (root, arrays, folds, class attrs)."""
    out, folds, attrs = _stl10(tmp_path / "srv")
    root = tmp_path / "data"
    with serve(tmp_path / "srv") as url:
        attrs["url"] = url + "stl10_binary.tar.gz"
        S = _subclass(datasets.STL10, **attrs)
        S(str(root), download=True)
        S(str(root), split="test", download=True)
        assert url.server.requests == ["/stl10_binary.tar.gz"]
    return root, out, folds, attrs


def test_stl10_splits_folds_and_unlabeled_targets(stl10):
    root, out, folds, attrs = stl10
    S = _subclass(datasets.STL10, **attrs)
    train = S(str(root))
    hwc, labels = out["train"]
    assert len(train) == 6 and train.data.shape == (6, 3, 96, 96) and train.classes == STL_CLASSES
    assert train.labels.tolist() == labels.tolist()
    img, target = train[5]
    assert img.mode == "RGB" and img.size == (96, 96) and type(target) is int and target == labels[5]
    np.testing.assert_array_equal(np.asarray(img), hwc[5])  # column-major channels read back row-major
    fold = S(str(root), folds=4)
    assert fold.folds == 4 and len(fold) == 2 and fold.labels.tolist() == labels[folds[4]].tolist()
    np.testing.assert_array_equal(np.asarray(fold[1][0]), hwc[folds[4][1]])
    unl = S(str(root), split="unlabeled")
    assert len(unl) == 4 and unl.labels.tolist() == [-1] * 4 and unl[2][1] == -1
    np.testing.assert_array_equal(np.asarray(unl[2][0]), out["unlabeled"][0][2])
    both = S(str(root), split="train+unlabeled", folds=0, target_transform=lambda t: t * 10)
    assert len(both) == 6 and both.labels.dtype == np.int64
    assert [both[i][1] for i in range(6)] == [int(v) * 10 for v in labels[folds[0]]] + [-10] * 4
    test = S(str(root), split="test", transform=transforms.ToTensor())
    x, y = test[2]
    assert tuple(x.shape) == (3, 96, 96) and y == out["test"][1][2]
    assert repr(both) == (f"Dataset STL10\n    Number of datapoints: 6\n    Root location: {root}\n"
                          "    Split: train+unlabeled\n    StandardTransform\n"
                          f"Target transform: {both.target_transform!r}")
    if tv is not None:
        T = _subclass(tv.STL10, **attrs)
        for kw in ({}, {"folds": 4}, {"split": "unlabeled"}, {"split": "train+unlabeled", "folds": 0},
                   {"split": "train+unlabeled"}, {"split": "test"}):
            assert_same_as_torchvision(S(str(root), **kw), T(str(root), **kw))


def test_stl10_argument_errors_and_missing_files(stl10, tmp_path):
    root, _, _, attrs = stl10
    S = _subclass(datasets.STL10, **attrs)
    cases = [({"folds": 10}, "Value for argument folds should be in the range [0, 10), but got 10."),
             ({"folds": "1"}, "Expected type None or int for argument folds, but got type <class 'str'>."),
             ({"split": "val"}, "Unknown value 'val' for argument split. Valid values are "
                                "{'train', 'train+unlabeled', 'unlabeled', 'test'}.")]
    for kw, msg in cases:
        with pytest.raises(ValueError) as info:
            S(str(root), **kw)
        assert str(info.value) == msg
        if tv is not None:
            with pytest.raises(ValueError) as theirs:
                _subclass(tv.STL10, **attrs)(str(root), **kw)
            assert str(theirs.value) == msg
    os.remove(root / "stl10_binary" / "class_names.txt")
    assert not hasattr(S(str(root)), "classes")  # as torchvision: classes come only from class_names.txt
    with open(root / "stl10_binary" / "unlabeled_X.bin", "ab") as f:
        f.write(b"\0")
    with pytest.raises(RuntimeError, match=NOT_FOUND):
        S(str(root), split="test")
    with pytest.raises(RuntimeError, match="refused"):  # re-download is attempted, offline fails clearly
        _subclass(S, url=closed_port_url() + "stl10_binary.tar.gz")(str(tmp_path / "elsewhere"), download=True)
    assert not (tmp_path / "elsewhere").exists()


# ---- USPS --------------------------------------------------------------------------------------------
# value in the file -> pixel, by hand: uint8((v + 1) / 2 * 255) in float32, truncated
USPS_VALUES = {"-1": 0, "1": 255, "0": 127, "0.5": 191, "-0.5": 63, "-0.999998": 0, "0.803922": 230}


def _usps_file(path, labels, seed, sparse_rows=()):
    """A bz2 libsvm file: 'label 1:v 2:v ... 256:v' per line, labels in [1, 10]; sparse rows leave zeros out."""
    rng = np.random.default_rng(seed)
    keys = list(USPS_VALUES)
    lines, pixels = [], []
    for r, label in enumerate(labels):
        vals = [keys[k] for k in rng.integers(0, len(keys), 256)]
        if r in sparse_rows:
            vals[7] = vals[100] = "0"
        pixels.append([USPS_VALUES[v] for v in vals])
        pairs = [f"{i + 1}:{v}" for i, v in enumerate(vals) if not (r in sparse_rows and v == "0")]
        lines.append(f"{label} " + " ".join(pairs))
    path.write_bytes(bz2.compress(("\n".join(lines) + "\n").encode()))
    return np.array(pixels, dtype=np.uint8).reshape(-1, 16, 16), md5(path)


def test_usps_reads_libsvm_text_into_uint8_images(tmp_path, capsys):
    srv = tmp_path / "srv"
    srv.mkdir()
    train_px, train_md5 = _usps_file(srv / "usps.bz2", [10, 1, 7, 3], 0)
    test_px, test_md5 = _usps_file(srv / "usps.t.bz2", [2, 10, 5], 1)
    root = tmp_path / "data"
    with serve(srv) as url:
        split_list = {"train": [url + "usps.bz2", "usps.bz2", train_md5],
                      "test": [url + "usps.t.bz2", "usps.t.bz2", test_md5]}
        U = _subclass(datasets.USPS, split_list=split_list)
        ds = U(str(root), download=True)
        U(str(root), download=True)  # the file exists: torchvision does not even verify it
        test = U(str(root), train=False, download=True)
        assert url.server.requests == ["/usps.bz2", "/usps.t.bz2"]
    assert ds.data.dtype == np.uint8 and ds.data.shape == (4, 16, 16)
    np.testing.assert_array_equal(ds.data, train_px)
    assert ds.targets == [9, 0, 6, 2] and test.targets == [1, 9, 4]
    img, target = test[1]
    assert img.mode == "L" and img.size == (16, 16) and type(target) is int and target == 9
    np.testing.assert_array_equal(np.asarray(img), test_px[1])
    x, y = U(str(root), transform=transforms.ToTensor(), target_transform=str)[2]
    assert tuple(x.shape) == (1, 16, 16) and y == "6"
    assert repr(test) == f"Dataset USPS\n    Number of datapoints: 3\n    Root location: {root}"
    if tv is not None:
        T = _subclass(tv.USPS, split_list=split_list)
        for train in (True, False):
            assert_same_as_torchvision(U(str(root), train=train), T(str(root), train=train))


def test_usps_sparse_lines_missing_file_and_bad_download(tmp_path):
    srv = tmp_path / "srv"
    srv.mkdir()
    px, good_md5 = _usps_file(srv / "usps.bz2", [4, 8], 2, sparse_rows=(1,))
    root = tmp_path / "data"
    with pytest.raises(FileNotFoundError, match="You can use download=True to download it"):
        datasets.USPS(str(root))
    with serve(srv) as url:
        bad = {"train": [url + "usps.bz2", "usps.bz2", "0" * 32], "test": datasets.USPS.split_list["test"]}
        with pytest.raises(RuntimeError, match="corrupted"):
            _subclass(datasets.USPS, split_list=bad)(str(root), download=True)
        assert not root.exists()
        good = dict(bad, train=[url + "usps.bz2", "usps.bz2", good_md5])
        ds = _subclass(datasets.USPS, split_list=good)(str(root), download=True)
    # libsvm leaves out zero values: they are put back at their index (pixel 127)
    np.testing.assert_array_equal(ds.data, px)
    assert ds.data[1].reshape(-1)[[7, 100]].tolist() == [127, 127]


# ---- SEMEION -----------------------------------------------------------------------------------------
def _semeion_file(path, digits, seed):
    """semeion.data: per line 256 pixels written '0.0000'/'1.0000', then the digit one-hot, space separated."""
    rng = np.random.default_rng(seed)
    bits = rng.integers(0, 2, (len(digits), 256))
    lines = []
    for row, d in zip(bits, digits):
        onehot = ["1" if k == d else "0" for k in range(10)]
        lines.append(" ".join(f"{b}.0000" for b in row) + " " + " ".join(onehot) + " ")
    path.write_text("\r\n".join(lines) + "\r\n")
    return (bits * 255).astype(np.uint8).reshape(-1, 16, 16), md5(path)


def test_semeion_downloads_by_default(tmp_path, capsys):
    srv = tmp_path / "srv"
    srv.mkdir()
    px, data_md5 = _semeion_file(srv / "semeion.data", [0, 9, 3, 3, 7], 0)
    root = tmp_path / "data"
    with serve(srv) as url:
        S = _subclass(datasets.SEMEION, url=url + "semeion.data", md5_checksum=data_md5)
        ds = S(str(root))  # download=True is SEMEION's default
        S(str(root))
        assert url.server.requests == ["/semeion.data"]
    assert len(ds) == 5 and ds.labels.tolist() == [0, 9, 3, 3, 7]
    np.testing.assert_array_equal(ds.data, px)
    img, target = ds[1]
    assert img.mode == "L" and img.size == (16, 16) and type(target) is int and target == 9
    np.testing.assert_array_equal(np.asarray(img), px[1])
    x, y = S(str(root), transform=transforms.ToTensor(), target_transform=lambda t: t + 1)[4]
    assert tuple(x.shape) == (1, 16, 16) and y == 8 and set(np.unique(x.numpy())) <= {0.0, 1.0}
    assert repr(ds) == f"Dataset SEMEION\n    Number of datapoints: 5\n    Root location: {root}"
    with pytest.raises(RuntimeError, match=NOT_FOUND):
        S(str(tmp_path / "none"), download=False)
    if tv is not None:
        assert_same_as_torchvision(ds, _subclass(tv.SEMEION, url=S.url, md5_checksum=data_md5)(str(root)))


def test_semeion_offline_and_malformed(tmp_path):
    root = tmp_path / "data"
    with pytest.raises(RuntimeError) as info:
        _subclass(datasets.SEMEION, url=closed_port_url() + "semeion.data")(str(root))
    assert "refused" in str(info.value).lower() and os.path.join(str(root), "semeion.data") in str(info.value)
    assert not root.exists()
    root.mkdir()
    _, _ = _semeion_file(root / "semeion.data", [1, 2], 1)
    text = (root / "semeion.data").read_text().replace(" 1 0 0 0 0 0 0 0 ", " 1 1 0 0 0 0 0 0 ", 1)
    (root / "semeion.data").write_text(text)
    with pytest.raises(RuntimeError, match="one-hot"):
        _subclass(datasets.SEMEION, md5_checksum=md5(root / "semeion.data"))(str(root), download=False)


def test_all_are_exported():
    for name in ("KMNIST", "EMNIST", "QMNIST", "SVHN", "STL10", "USPS", "SEMEION"):
        assert name in datasets.__all__ and issubclass(getattr(datasets, name), datasets.VisionDataset)
