"""Datasets and downloads, against a tiny CIFAR in the official format served by a real HTTP server."""
import gzip
import io
import os
import pickle
import shutil
import struct
import tarfile

import numpy as np
import pytest

import ember
from ember.vision import datasets, transforms
from ember.vision.datasets import utils as dutils
from tests.vision.cifar_fixture import closed_port_url, make_cifar10, make_cifar100, md5, serve, snapshot

Image = pytest.importorskip("PIL.Image")

NOT_FOUND = "Dataset not found or corrupted. You can use download=True to download it"


@pytest.fixture
def cifar(tmp_path):
    """A served tiny CIFAR-10: (files, server dir)."""
    srv = tmp_path / "srv"
    return make_cifar10(srv, n_train=12, n_test=5, seed=3), srv


# ---- the fixture's format ---------------------------------------------------------------------------
def test_fixture_batches_have_the_official_pickle_layout(cifar):
    files, _ = cifar
    with open(os.path.join(files.folder, "data_batch_1"), "rb") as f:
        entry = pickle.load(f, encoding="bytes")
    assert set(entry) == {b"data", b"labels", b"batch_label", b"filenames"}
    assert entry[b"data"].dtype == np.uint8 and entry[b"data"].shape[1] == 3072
    assert entry[b"batch_label"] == b"training batch 1 of 5"
    with open(os.path.join(files.folder, "batches.meta"), "rb") as f:
        meta = pickle.load(f, encoding="latin1")
    assert meta["label_names"][0] == "airplane" and meta["num_vis"] == 3072
    with tarfile.open(files.tarball) as tar:
        assert "cifar-10-batches-py/test_batch" in tar.getnames()


# ---- loading ----------------------------------------------------------------------------------------
def test_cifar10_loads_like_torchvision(cifar):
    files, srv = cifar
    C = files.dataset_class(datasets.CIFAR10, "http://unused/")
    train = C(str(srv))
    assert len(train) == 12
    assert isinstance(train.data, np.ndarray) and train.data.dtype == np.uint8 and train.data.shape == (12, 32, 32, 3)
    np.testing.assert_array_equal(train.data, files.train_data)
    assert train.targets == files.train_labels and isinstance(train.targets, list)
    assert train.classes[:2] == ["airplane", "automobile"] and train.class_to_idx["truck"] == 9
    img, target = train[3]
    assert isinstance(img, Image.Image) and img.mode == "RGB" and img.size == (32, 32)
    np.testing.assert_array_equal(np.asarray(img), files.train_data[3])
    assert target == files.train_labels[3] and type(target) is int
    test = C(srv, train=False)  # a pathlib root works too
    assert len(test) == 5 and test.targets == files.test_labels


def test_cifar10_transforms_and_repr(cifar):
    files, srv = cifar
    C = files.dataset_class(datasets.CIFAR10, "http://unused/")
    tf = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))])
    ds = C(str(srv), transform=tf, target_transform=lambda y: y + 100)
    x, y = ds[0]
    assert isinstance(x, ember.Tensor) and tuple(x.shape) == (3, 32, 32) and x.dtype == ember.float32
    expected = files.train_data[0].transpose(2, 0, 1).astype(np.float32) / np.float32(255)
    np.testing.assert_array_equal(x.numpy(), (expected - np.float32(0.5)) / np.float32(0.5))
    assert y == files.train_labels[0] + 100
    assert repr(C(str(srv), transform=tf)) == (
        "Dataset CIFAR10\n"
        "    Number of datapoints: 12\n"
        f"    Root location: {srv}\n"
        "    Split: Train\n"
        "    StandardTransform\n"
        "Transform: Compose(\n"
        "               ToTensor()\n"
        "               Normalize(mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5))\n"
        "           )")


def test_cifar100_fine_labels(tmp_path):
    files = make_cifar100(tmp_path, n_train=6, n_test=3)
    C = files.dataset_class(datasets.CIFAR100, "http://unused/")
    ds = C(str(tmp_path))
    assert len(ds) == 6 and ds.targets == files.train_labels and len(ds.classes) == 100
    np.testing.assert_array_equal(np.asarray(ds[5][0]), files.train_data[5])


def test_missing_dataset_without_download(tmp_path):
    with pytest.raises(RuntimeError, match=NOT_FOUND):
        datasets.CIFAR10(str(tmp_path))
    assert os.listdir(tmp_path) == []


def test_corrupted_batch_file_is_reported(cifar):
    files, srv = cifar
    with open(os.path.join(files.folder, "data_batch_2"), "ab") as f:
        f.write(b"x")
    with pytest.raises(RuntimeError, match=NOT_FOUND):
        files.dataset_class(datasets.CIFAR10, "http://unused/")(str(srv))


# ---- downloading ------------------------------------------------------------------------------------
def test_download_extracts_then_verifies(cifar, tmp_path, capsys):
    files, srv = cifar
    root = str(tmp_path / "data")
    with serve(srv) as url:
        C = files.dataset_class(datasets.CIFAR10, url)
        ds = C(root=root, train=True, download=True)
        out = capsys.readouterr().out
        archive = os.path.join(root, "cifar-10-python.tar.gz")
        assert f"Downloading {url}cifar-10-python.tar.gz to {archive}" in out
        assert f"Extracting {archive} to {root}" in out
        np.testing.assert_array_equal(ds.data, files.train_data)
        test = C(root=root, train=False, download=True)
        assert capsys.readouterr().out == "Files already downloaded and verified\n"
        assert len(test) == 5
        assert url.server.requests == ["/cifar-10-python.tar.gz"]  # downloaded once
    # the archive and the folder, no temporary leftovers
    assert sorted(os.listdir(root)) == ["cifar-10-batches-py", "cifar-10-python.tar.gz"]
    assert md5(archive) == files.tgz_md5
    assert sorted(os.listdir(os.path.join(root, "cifar-10-batches-py"))) == sorted(os.listdir(files.folder))


def test_corrupted_archive_md5_mismatch_leaves_root_as_it_was(cifar, tmp_path):
    files, srv = cifar
    root = tmp_path / "data"
    root.mkdir()
    (root / "keep.txt").write_text("mine")
    before = snapshot(root)
    with open(files.tarball, "r+b") as f:  # damage the served archive after its md5 was recorded
        f.seek(100)
        f.write(b"\xff\xfe\xfd")
    with serve(srv) as url:
        with pytest.raises(RuntimeError) as info:
            files.dataset_class(datasets.CIFAR10, url)(root=str(root), download=True)
    msg = str(info.value)
    assert "corrupted" in msg and files.tgz_md5 in msg and url in msg
    assert os.path.join(str(root), "cifar-10-python.tar.gz") in msg and "download=True" in msg
    assert snapshot(root) == before


def test_dropped_connection_leaves_nothing(cifar, tmp_path):
    files, srv = cifar
    root = tmp_path / "fresh" / "data"
    with serve(srv, drop_after=5000) as url:
        with pytest.raises(RuntimeError) as info:
            files.dataset_class(datasets.CIFAR10, url)(root=str(root), download=True)
    msg = str(info.value)
    assert f"{url}cifar-10-python.tar.gz" in msg and "5000 bytes" in msg
    assert os.path.join(str(root), "cifar-10-python.tar.gz") in msg
    assert not (tmp_path / "fresh").exists()  # the folders it created are gone too


def test_http_error_and_offline_messages_say_where_to_put_the_archive(cifar, tmp_path):
    files, srv = cifar
    root = tmp_path / "data"
    with serve(tmp_path / "nothing-here") as url:
        with pytest.raises(RuntimeError, match="HTTP Error 404"):
            files.dataset_class(datasets.CIFAR10, url)(root=str(root), download=True)
    with pytest.raises(RuntimeError) as info:
        files.dataset_class(datasets.CIFAR10, closed_port_url())(root=str(root), download=True)
    msg = str(info.value)
    assert "refused" in msg.lower() and os.path.join(str(root), "cifar-10-python.tar.gz") in msg
    assert "download=True" in msg and files.tgz_md5 in msg
    assert not root.exists()


def test_archive_placed_by_hand_is_verified_and_extracted(cifar, tmp_path, capsys):
    files, srv = cifar
    root = tmp_path / "data"
    root.mkdir()
    shutil.copy(files.tarball, root / "cifar-10-python.tar.gz")
    ds = files.dataset_class(datasets.CIFAR10, closed_port_url())(root=str(root), download=True)
    out = capsys.readouterr().out
    assert "Using downloaded and verified file: " + os.path.join(str(root), "cifar-10-python.tar.gz") in out
    assert "Extracting" in out and len(ds) == 12


def test_keyboard_interrupt_midway_cleans_up(cifar, tmp_path, monkeypatch):
    files, srv = cifar
    root = tmp_path / "data"
    root.mkdir()
    before = snapshot(root)

    def interrupt(self, n):
        raise KeyboardInterrupt

    monkeypatch.setattr(dutils._Progress, "update", interrupt)
    with serve(srv) as url:
        with pytest.raises(KeyboardInterrupt):
            files.dataset_class(datasets.CIFAR10, url)(root=str(root), download=True)
    assert snapshot(root) == before


def _evil_tar(path, member):
    with tarfile.open(path, "w:gz") as tar:
        data = b"payload"
        info = tarfile.TarInfo("cifar-10-batches-py/data_batch_1")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
        tar.addfile(member, io.BytesIO(data) if member.isfile() else None)
    return md5(path)


def _file_member(name):
    info = tarfile.TarInfo(name)
    info.size = len(b"payload")
    return info


def _symlink_member(name, target):
    info = tarfile.TarInfo(name)
    info.type = tarfile.SYMTYPE
    info.linkname = target
    return info


@pytest.mark.parametrize("member", [
    _file_member("../escape"),
    _file_member("cifar-10-batches-py/../../escape"),
    _file_member("/tmp/ember-absolute-escape"),
    _symlink_member("cifar-10-batches-py/link", "../../escape"),
    _symlink_member("cifar-10-batches-py/abs", "/etc"),
], ids=["dotdot", "nested-dotdot", "absolute", "symlink-out", "symlink-absolute"])
def test_archive_members_escaping_root_are_refused(cifar, tmp_path, member):
    files, _ = cifar
    srv = tmp_path / "evil"
    srv.mkdir()
    tgz_md5 = _evil_tar(srv / "cifar-10-python.tar.gz", member)
    root = tmp_path / "a" / "data"
    root.mkdir(parents=True)
    before = snapshot(tmp_path / "a")
    C = type("CIFAR10", (datasets.CIFAR10,), {})
    with serve(srv) as url:
        C.url, C.tgz_md5 = f"{url}cifar-10-python.tar.gz", tgz_md5
        with pytest.raises(RuntimeError, match="Refusing to extract"):
            C(root=str(root), download=True)
    assert snapshot(tmp_path / "a") == before
    assert not (tmp_path / "escape").exists() and not (tmp_path / "a" / "escape").exists()
    assert not os.path.exists("/tmp/ember-absolute-escape")


def test_redownload_repairs_a_corrupted_folder_and_keeps_other_files(cifar, tmp_path):
    files, srv = cifar
    root = tmp_path / "data"
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    (folder / "data_batch_1").write_bytes(b"garbage")
    (folder / "my_notes.txt").write_text("notes")
    with serve(srv) as url:
        ds = files.dataset_class(datasets.CIFAR10, url)(root=str(root), download=True)
    assert len(ds) == 12 and (folder / "my_notes.txt").read_text() == "notes"
    assert md5(folder / "data_batch_1") == files.train_list[0][1]
    assert sorted(os.listdir(root)) == ["cifar-10-batches-py", "cifar-10-python.tar.gz"]


def test_failure_while_installing_restores_replaced_files(cifar, tmp_path, monkeypatch):
    files, srv = cifar
    root = tmp_path / "data"
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    (folder / "data_batch_1").write_bytes(b"garbage")
    (folder / "data_batch_3").write_bytes(b"old")
    before = snapshot(root)
    real_install = dutils._Journal.install
    calls = []

    def flaky_install(self, src, dst):
        if os.path.isfile(src):
            calls.append(dst)
            if len(calls) == 4:  # a few files are already in place when this fails
                raise OSError(28, "No space left on device")
        return real_install(self, src, dst)

    monkeypatch.setattr(dutils._Journal, "install", flaky_install)
    with serve(srv) as url:
        with pytest.raises(OSError, match="No space left"):
            files.dataset_class(datasets.CIFAR10, url)(root=str(root), download=True)
    assert len(calls) == 4
    assert snapshot(root) == before


def test_extract_archive_zip_and_gz(tmp_path):
    import zipfile
    src = tmp_path / "a.zip"
    with zipfile.ZipFile(src, "w") as z:
        z.writestr("folder/x.txt", "hello")
    out = dutils.extract_archive(str(src), str(tmp_path / "out"))
    assert (tmp_path / "out" / "folder" / "x.txt").read_text() == "hello" and out == str(tmp_path / "out")
    bad = tmp_path / "bad.zip"
    with zipfile.ZipFile(bad, "w") as z:
        z.writestr("../evil.txt", "x")
    with pytest.raises(RuntimeError, match="Refusing"):
        dutils.extract_archive(str(bad), str(tmp_path / "out2"))
    assert not (tmp_path / "evil.txt").exists() and not (tmp_path / "out2").exists()
    gz = tmp_path / "data.bin.gz"
    gz.write_bytes(gzip.compress(b"abc"))
    dutils.extract_archive(str(gz))
    assert (tmp_path / "data.bin").read_bytes() == b"abc"


# ---- MNIST ------------------------------------------------------------------------------------------
def _idx(arr):
    code = {np.dtype(np.uint8): 8}[arr.dtype]
    header = struct.pack(">I", (code << 8) | arr.ndim) + b"".join(struct.pack(">I", s) for s in arr.shape)
    return gzip.compress(header + arr.tobytes())


def _make_mnist(folder, n_train=6, n_test=3):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    arrays = {"train-images-idx3-ubyte.gz": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
              "train-labels-idx1-ubyte.gz": rng.integers(0, 10, n_train).astype(np.uint8),
              "t10k-images-idx3-ubyte.gz": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
              "t10k-labels-idx1-ubyte.gz": rng.integers(0, 10, n_test).astype(np.uint8)}
    resources = []
    for name, arr in arrays.items():
        (folder / name).write_bytes(_idx(arr))
        resources.append((name, md5(folder / name)))
    return arrays, resources


@pytest.mark.parametrize("cls", [datasets.MNIST, datasets.FashionMNIST])
def test_mnist_download_with_mirror_fallback(tmp_path, capsys, cls):
    arrays, resources = _make_mnist(tmp_path / "srv" / "good")
    root = tmp_path / "data"
    with serve(tmp_path / "srv") as url:
        C = type(cls.__name__, (cls,), {"mirrors": [url + "missing/", url + "good/"], "resources": resources})
        ds = C(str(root), download=True)
        out = capsys.readouterr().out
    assert "Failed to download (trying next)" in out and "HTTP Error 404" in out
    raw = root / cls.__name__ / "raw"
    assert (raw / "train-images-idx3-ubyte").exists() and (raw / "train-images-idx3-ubyte.gz").exists()
    assert ds.data.dtype == ember.uint8 and tuple(ds.data.shape) == (6, 28, 28)
    assert ds.targets.dtype == ember.int64
    np.testing.assert_array_equal(ds.data.numpy(), arrays["train-images-idx3-ubyte.gz"])
    img, target = ds[2]
    assert img.mode == "L" and img.size == (28, 28) and target == int(arrays["train-labels-idx1-ubyte.gz"][2])
    np.testing.assert_array_equal(np.asarray(img), arrays["train-images-idx3-ubyte.gz"][2])
    test = C(str(root), train=False)
    assert len(test) == 3 and ds.class_to_idx[ds.classes[1]] == 1
    x, _ = C(str(root), transform=transforms.ToTensor())[0]
    assert tuple(x.shape) == (1, 28, 28)
    # torchvision's old attribute names still answer, with a warning
    with pytest.warns(UserWarning, match="train_labels has been renamed targets"):
        assert ds.train_labels is ds.targets
    with pytest.warns(UserWarning, match="test_data has been renamed data"):
        assert test.test_data is test.data


def test_mnist_all_mirrors_failing_leaves_root_as_it_was(tmp_path):
    _, resources = _make_mnist(tmp_path / "srv" / "good")
    root = tmp_path / "data"
    root.mkdir()
    before = snapshot(root)
    with serve(tmp_path / "srv") as url:
        # the first three files download, the fourth is missing everywhere: none is kept
        resources = resources[:3] + [("t10k-labels-idx1-ubyte.gz", "0" * 32)]
        (tmp_path / "srv" / "good" / "t10k-labels-idx1-ubyte.gz").unlink()
        C = type("MNIST", (datasets.MNIST,), {"mirrors": [url + "good/"], "resources": resources})
        with pytest.raises(RuntimeError) as info:
            C(str(root), download=True)
    msg = str(info.value)
    assert "Error downloading t10k-labels-idx1-ubyte.gz" in msg
    assert os.path.join(str(root), "MNIST", "raw", "t10k-labels-idx1-ubyte.gz") in msg
    assert snapshot(root) == before
    with pytest.raises(RuntimeError, match="Dataset not found. You can use download=True to download it"):
        datasets.MNIST(str(root))


# ---- ImageFolder ------------------------------------------------------------------------------------
def _tree(root):
    rng = np.random.default_rng(0)
    pics = {}
    for cls, names in {"dog": ["b.png", "a.png"], "cat": ["z.png", "sub/y.bmp"]}.items():
        for name in names:
            p = root / cls / name
            p.parent.mkdir(parents=True, exist_ok=True)
            arr = rng.integers(0, 256, (4, 6), dtype=np.uint8)  # grayscale on disk
            Image.fromarray(arr).save(p)
            pics[str(p)] = arr
    (root / "dog" / "notes.txt").write_text("not an image")
    return pics


def test_image_folder(tmp_path):
    pics = _tree(tmp_path)
    ds = datasets.ImageFolder(str(tmp_path))
    assert ds.classes == ["cat", "dog"] and ds.class_to_idx == {"cat": 0, "dog": 1}
    names = [os.path.relpath(p, tmp_path) for p, _ in ds.samples]
    # torchvision's order: sorted(os.walk()) lists a folder's own files before its sub-folders'
    assert names == [os.path.join("cat", "z.png"), os.path.join("cat", "sub", "y.bmp"),
                     os.path.join("dog", "a.png"), os.path.join("dog", "b.png")]
    assert ds.targets == [0, 0, 1, 1] and ds.imgs is ds.samples and len(ds) == 4
    img, target = ds[2]
    assert img.mode == "RGB" and img.size == (6, 4) and target == 1
    np.testing.assert_array_equal(np.asarray(img)[..., 0], pics[ds.samples[2][0]])
    x, _ = datasets.ImageFolder(str(tmp_path), transform=transforms.ToTensor())[0]
    assert tuple(x.shape) == (3, 4, 6)
    only_png = datasets.ImageFolder(str(tmp_path), is_valid_file=lambda p: p.endswith(".png"))
    assert len(only_png) == 3


def test_image_folder_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="Couldn't find any class folder"):
        datasets.ImageFolder(str(tmp_path))
    (tmp_path / "empty").mkdir()
    _tree(tmp_path / "x")
    (tmp_path / "x" / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="Found no valid file for the classes empty"):
        datasets.ImageFolder(str(tmp_path / "x"))
    assert len(datasets.ImageFolder(str(tmp_path / "x"), allow_empty=True).classes) == 3
    seen = datasets.DatasetFolder(str(tmp_path / "x"), loader=lambda p: os.path.basename(p), extensions=(".txt",),
                                  allow_empty=True)
    assert seen[0] == ("notes.txt", 1)


# ---- with the DataLoader (real worker processes) ------------------------------------------------------
def test_cifar_through_dataloader_workers(cifar):
    data = pytest.importorskip("ember.utils.data")
    if not hasattr(data, "DataLoader"):
        pytest.skip("ember.utils.data.DataLoader is not built yet")
    files, srv = cifar
    tf = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))])
    ds = files.dataset_class(datasets.CIFAR10, "http://unused/")(str(srv), transform=tf)
    loader = data.DataLoader(ds, batch_size=4, shuffle=False, num_workers=2)
    batches = list(loader)
    images, labels = batches[0]
    assert tuple(images.shape) == (4, 3, 32, 32) and images.dtype == ember.float32
    assert labels.tolist() == files.train_labels[:4]
    np.testing.assert_array_equal(images.numpy()[1], tf(Image.fromarray(files.train_data[1])).numpy())
    assert sum(len(b[1]) for b in batches) == 12


class _RandomCrops:
    """Every item is a random 1x1 crop position of the same 8x8 image (its value encodes where)."""

    def __init__(self):
        self.crop = transforms.RandomCrop(1)
        self.img = ember.tensor(np.arange(64, dtype=np.float32).reshape(1, 8, 8))

    def __len__(self):
        return 32

    def __getitem__(self, i):
        return self.crop(self.img)


def test_random_transforms_differ_between_workers_and_repeat_under_seed():
    data = pytest.importorskip("ember.utils.data")
    if not hasattr(data, "DataLoader"):
        pytest.skip("ember.utils.data.DataLoader is not built yet")

    def run():
        ember.manual_seed(0)
        loader = data.DataLoader(_RandomCrops(), batch_size=16, num_workers=2)
        return [b.numpy().ravel().tolist() for b in loader]

    first = run()
    assert len(first) == 2 and first[0] != first[1]  # worker 0 and worker 1 draw different crops
    assert run() == first  # the same base seed gives the same crops
