"""MNIST, Fashion-MNIST, KMNIST, EMNIST and QMNIST from the idx files, laid out as current torchvision:
root/<Class>/raw."""
import os
import os.path
import string
import warnings

import numpy as np

from ... import _backend as B
from ..._tensor import _wrap
from .utils import DownloadError, _by_hand, _download, _extract, _Journal, check_integrity, verify_str_arg
from . import vision as _vision
from .vision import VisionDataset

__all__ = ["MNIST", "FashionMNIST", "KMNIST", "EMNIST", "QMNIST", "read_sn3_pascalvincent_tensor",
           "read_image_file", "read_label_file"]


# idx type codes -> big-endian numpy dtypes
SN3_PASCALVINCENT_TYPEMAP = {8: np.uint8, 9: np.int8, 11: np.dtype(">i2"), 12: np.dtype(">i4"),
                             13: np.dtype(">f4"), 14: np.dtype(">f8")}


def read_sn3_pascalvincent_tensor(path, strict=True):
    """Read an idx file (the MNIST format: magic, dims, big-endian data) into a Tensor."""
    with open(path, "rb") as f:
        data = f.read()
    magic = int.from_bytes(data[0:4], "big")
    nd = magic % 256
    ty = magic // 256
    if not (1 <= nd <= 3 and ty in SN3_PASCALVINCENT_TYPEMAP):
        raise RuntimeError(f"{path} is not an idx file: magic number {magic:#x} (type {ty}, {nd} dims)")
    s = [int.from_bytes(data[4 * (i + 1): 4 * (i + 2)], "big") for i in range(nd)]
    dt = np.dtype(SN3_PASCALVINCENT_TYPEMAP[ty])
    parsed = np.frombuffer(data, dtype=dt, offset=4 * (nd + 1))
    if parsed.shape[0] != int(np.prod(s)) and strict:
        raise RuntimeError(f"{path}: the header announces {s} = {int(np.prod(s))} values, the file holds "
                           f"{parsed.shape[0]}; the file is truncated or damaged.")
    return _wrap(parsed.astype(dt.newbyteorder("=")).reshape(*s))


def read_label_file(path):
    """The labels of an idx1 file as an int64 Tensor."""
    x = read_sn3_pascalvincent_tensor(path, strict=False)
    if x._data.dtype != np.uint8:
        raise TypeError(f"x should be of dtype {B.namespace()}.uint8 instead of {x.dtype}")
    if x._data.ndim != 1:
        raise ValueError(f"x should have 1 dimension instead of {x._data.ndim}")
    return _wrap(x._data.astype(np.int64))


def read_image_file(path):
    """The images of an idx3 file as a uint8 Tensor (N, H, W)."""
    x = read_sn3_pascalvincent_tensor(path, strict=False)
    if x._data.dtype != np.uint8:
        raise TypeError(f"x should be of dtype {B.namespace()}.uint8 instead of {x.dtype}")
    if x._data.ndim != 3:
        raise ValueError(f"x should have 3 dimension instead of {x._data.ndim}")
    return x


class MNIST(VisionDataset):
    """`MNIST <http://yann.lecun.com/exdb/mnist/>`_ Dataset: 28x28 grayscale digits.

    Args:
        root (str or pathlib.Path): folder where ``MNIST/raw/train-images-idx3-ubyte`` and
            ``MNIST/raw/t10k-images-idx3-ubyte`` exist.
        train (bool): the 60,000 training images when True, else the 10,000 test images.
        download (bool): download the files from ``mirrors`` unless they are already there.
        transform, target_transform (callable, optional): applied to the PIL image / the int label.
    """

    mirrors = [
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "http://yann.lecun.com/exdb/mnist/",
    ]
    resources = [
        ("train-images-idx3-ubyte.gz", "f68b3c2dcbeaaa9fbdd348bbdeb94873"),
        ("train-labels-idx1-ubyte.gz", "d53e105ee54ea40749a09fcbcd1e9432"),
        ("t10k-images-idx3-ubyte.gz", "9fb629c4189551a2d022fa330f9573f3"),
        ("t10k-labels-idx1-ubyte.gz", "ec29112dd5afa0611ce80d1b7f02629c"),
    ]
    training_file = "training.pt"
    test_file = "test.pt"
    classes = ["0 - zero", "1 - one", "2 - two", "3 - three", "4 - four",
               "5 - five", "6 - six", "7 - seven", "8 - eight", "9 - nine"]

    def __init__(self, root, train=True, transform=None, target_transform=None, download=False):
        super().__init__(root, transform=transform, target_transform=target_transform)
        self.train = train  # training set or test set
        if download:
            self.download()
        if not self._check_exists():
            raise RuntimeError("Dataset not found. You can use download=True to download it")
        self.data, self.targets = self._load_data()

    def _load_data(self):
        prefix = "train" if self.train else "t10k"
        data = read_image_file(os.path.join(self.raw_folder, f"{prefix}-images-idx3-ubyte"))
        targets = read_label_file(os.path.join(self.raw_folder, f"{prefix}-labels-idx1-ubyte"))
        return data, targets

    def __getitem__(self, index):
        """(image, target): a mode-L PIL image (after transform) and the class index."""
        img, target = self.data._data[index], int(self.targets._data[index])
        img = _vision._pil_from_array(img, mode="L")
        if self.transform is not None:
            img = self.transform(img)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return img, target

    def __len__(self):
        return len(self.data)

    # the names of torchvision < 0.2.2, still used by older tutorials
    @property
    def train_labels(self):
        warnings.warn("train_labels has been renamed targets")
        return self.targets

    @property
    def test_labels(self):
        warnings.warn("test_labels has been renamed targets")
        return self.targets

    @property
    def train_data(self):
        warnings.warn("train_data has been renamed data")
        return self.data

    @property
    def test_data(self):
        warnings.warn("test_data has been renamed data")
        return self.data

    @property
    def raw_folder(self):
        return os.path.join(self.root, self.__class__.__name__, "raw")

    @property
    def processed_folder(self):
        return os.path.join(self.root, self.__class__.__name__, "processed")

    @property
    def class_to_idx(self):
        return {_class: i for i, _class in enumerate(self.classes)}

    def _check_exists(self):
        return all(
            check_integrity(os.path.join(self.raw_folder, os.path.splitext(os.path.basename(url))[0]))
            for url, _ in self.resources)

    def download(self):
        """Download and decompress the four files (trying each mirror); all of them or none are kept."""
        if self._check_exists():
            return
        with _Journal() as journal:
            journal.makedirs(self.raw_folder)
            for filename, md5 in self.resources:
                failures = []
                for mirror in self.mirrors:
                    url = f"{mirror}{filename}"
                    try:
                        print(f"Downloading {url}")
                        _download(url, self.raw_folder, filename, md5, journal, hint=False)
                    except DownloadError as error:
                        print(f"Failed to download (trying next):\n{error}")
                        failures.append(f"    {error}")
                        continue
                    finally:
                        print()
                    archive = os.path.join(self.raw_folder, filename)
                    print(f"Extracting {archive} to {self.raw_folder}")
                    _extract(archive, self.raw_folder, False, journal)
                    break
                else:
                    raise RuntimeError(f"Error downloading {filename}:\n" + "\n".join(failures) + "\n"
                                       + _by_hand(os.path.join(self.raw_folder, filename), md5, "file"))

    def extra_repr(self):
        split = "Train" if self.train is True else "Test"
        return f"Split: {split}"


class FashionMNIST(MNIST):
    """`Fashion-MNIST <https://github.com/zalandoresearch/fashion-mnist>`_ Dataset: MNIST's format, clothes."""

    mirrors = ["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"]
    resources = [
        ("train-images-idx3-ubyte.gz", "8d4fb7e6c68d591d4c3dfef9ec88bf0d"),
        ("train-labels-idx1-ubyte.gz", "25c81989df183df01b3e8a0aad5dffbe"),
        ("t10k-images-idx3-ubyte.gz", "bef4ecab320f06d8554ea6380940ec79"),
        ("t10k-labels-idx1-ubyte.gz", "bb300cfdad3c16e7a12a480ee83cd310"),
    ]
    classes = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
               "Ankle boot"]


class KMNIST(MNIST):
    """`Kuzushiji-MNIST <https://github.com/rois-codh/kmnist>`_ Dataset: MNIST's format, cursive Japanese."""

    mirrors = ["http://codh.rois.ac.jp/kmnist/dataset/kmnist/"]
    resources = [
        ("train-images-idx3-ubyte.gz", "bdb82020997e1d708af4cf47b453dcf7"),
        ("train-labels-idx1-ubyte.gz", "e144d726b3acfaa3e44228e80efcd344"),
        ("t10k-images-idx3-ubyte.gz", "5c965bf0a639b31b8f53240b1b52f4d7"),
        ("t10k-labels-idx1-ubyte.gz", "7320c461ea6c1c855c0b718fb2a4b134"),
    ]
    classes = ["o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo"]


class EMNIST(MNIST):
    """`EMNIST <https://www.westernsydney.edu.au/bens/home/reproducible_research/emnist>`_ Dataset: handwritten
    digits and letters in six splits.

    The idx files store each image transposed (column-major); like torchvision, the images are returned as
    stored, so a letter appears mirrored and rotated: use ``img.transpose(Image.TRANSPOSE)`` to see it upright.

    Args:
        root (str or pathlib.Path): folder where ``EMNIST/raw/emnist-<split>-train-images-idx3-ubyte`` exist.
        split (str): one of ``byclass``, ``bymerge``, ``balanced``, ``letters``, ``digits``, ``mnist``.
        train, download, transform, target_transform: as for :class:`MNIST`.
    """

    url = "https://biometrics.nist.gov/cs_links/EMNIST/gzip.zip"
    md5 = "58c8d27c78d21e728a6bc7b3cc06412e"
    splits = ("byclass", "bymerge", "balanced", "letters", "digits", "mnist")
    # letters whose upper and lower case are written alike are one class in bymerge and balanced
    _merged_classes = {"c", "i", "j", "k", "l", "m", "o", "p", "s", "u", "v", "w", "x", "y", "z"}
    _all_classes = set(string.digits + string.ascii_letters)
    classes_split_dict = {
        "byclass": sorted(_all_classes),
        "bymerge": sorted(_all_classes - _merged_classes),
        "balanced": sorted(_all_classes - _merged_classes),
        "letters": ["N/A"] + list(string.ascii_lowercase),
        "digits": list(string.digits),
        "mnist": list(string.digits),
    }

    def __init__(self, root, split, **kwargs):
        self.split = verify_str_arg(split, "split", self.splits)
        self.training_file = self._training_file(split)
        self.test_file = self._test_file(split)
        super().__init__(root, **kwargs)
        self.classes = self.classes_split_dict[self.split]

    @staticmethod
    def _training_file(split):
        return f"training_{split}.pt"

    @staticmethod
    def _test_file(split):
        return f"test_{split}.pt"

    @property
    def _file_prefix(self):
        return f"emnist-{self.split}-{'train' if self.train else 'test'}"

    @property
    def images_file(self):
        return os.path.join(self.raw_folder, f"{self._file_prefix}-images-idx3-ubyte")

    @property
    def labels_file(self):
        return os.path.join(self.raw_folder, f"{self._file_prefix}-labels-idx1-ubyte")

    def _load_data(self):
        return read_image_file(self.images_file), read_label_file(self.labels_file)

    def _check_exists(self):
        return all(check_integrity(file) for file in (self.images_file, self.labels_file))

    def download(self):
        """Download gzip.zip and decompress every split's idx files into raw/; all of them or none are kept."""
        if self._check_exists():
            return
        filename = os.path.basename(self.url)
        archive = os.path.join(self.raw_folder, filename)
        with _Journal() as journal:
            journal.makedirs(self.raw_folder)
            _download(self.url, self.raw_folder, filename, self.md5, journal)
            print(f"Extracting {archive} to {self.raw_folder}")
            # the zip holds a gzip/ folder of .gz files; unpacked aside (a scratch folder removed in every
            # case) raw/ ends as torchvision leaves it: gzip.zip and the decompressed idx files
            unpacked = journal.scratch_dir(self.raw_folder)
            _extract(archive, unpacked, False, journal)
            gzip_folder = os.path.join(unpacked, "gzip")
            if not os.path.isdir(gzip_folder):
                raise RuntimeError(f"{archive} has no gzip/ folder, which EMNIST's archive holds; the file is not "
                                   "EMNIST's gzip.zip. Nothing was extracted.")
            for name in sorted(os.listdir(gzip_folder)):
                if name.endswith(".gz"):
                    _extract(os.path.join(gzip_folder, name), self.raw_folder, False, journal)


class QMNIST(MNIST):
    """`QMNIST <https://github.com/facebookresearch/qmnist>`_ Dataset: MNIST rebuilt from NIST, with full labels.

    Args:
        root (str or pathlib.Path): folder whose ``QMNIST/raw`` holds the idx files.
        what (str, optional): ``train``, ``test`` (60k), ``test10k`` (the 10k matching MNIST's test set),
            ``test50k`` (the other 50k) or ``nist`` (all NIST digits); default ``train`` or ``test`` by ``train``.
        compat (bool): the target is the class number when True, else an int64 Tensor of QMNIST's 8 columns
            (class, NIST hsf series, writer id, digit index, NIST class, global index, duplicate, unused).
        train (bool): picks ``what`` when it is None.
        download, transform, target_transform: as for :class:`MNIST`.
    """

    subsets = {"train": "train", "test": "test", "test10k": "test", "test50k": "test", "nist": "nist"}
    resources = {
        "train": [
            ("https://raw.githubusercontent.com/facebookresearch/qmnist/master/qmnist-train-images-idx3-ubyte.gz",
             "ed72d4157d28c017586c42bc6afe6370"),
            ("https://raw.githubusercontent.com/facebookresearch/qmnist/master/qmnist-train-labels-idx2-int.gz",
             "0058f8dd561b90ffdd0f734c6a30e5e4"),
        ],
        "test": [
            ("https://raw.githubusercontent.com/facebookresearch/qmnist/master/qmnist-test-images-idx3-ubyte.gz",
             "1394631089c404de565df7b7aeaf9412"),
            ("https://raw.githubusercontent.com/facebookresearch/qmnist/master/qmnist-test-labels-idx2-int.gz",
             "5b5b05890a5e13444e108efe57b788aa"),
        ],
        "nist": [
            ("https://raw.githubusercontent.com/facebookresearch/qmnist/master/xnist-images-idx3-ubyte.xz",
             "7f124b3b8ab81486c9d8c2749c17f834"),
            ("https://raw.githubusercontent.com/facebookresearch/qmnist/master/xnist-labels-idx2-int.xz",
             "5ed0e788978e45d4a8bd4b7caec3d79d"),
        ],
    }
    classes = ["0 - zero", "1 - one", "2 - two", "3 - three", "4 - four",
               "5 - five", "6 - six", "7 - seven", "8 - eight", "9 - nine"]

    def __init__(self, root, what=None, compat=True, train=True, **kwargs):
        if what is None:
            what = "train" if train else "test"
        self.what = verify_str_arg(what, "what", tuple(self.subsets.keys()))
        self.compat = compat
        self.data_file = what + ".pt"
        self.training_file = self.data_file
        self.test_file = self.data_file
        super().__init__(root, train, **kwargs)

    @property
    def images_file(self):
        (url, _), _ = self.resources[self.subsets[self.what]]
        return os.path.join(self.raw_folder, os.path.splitext(os.path.basename(url))[0])

    @property
    def labels_file(self):
        _, (url, _) = self.resources[self.subsets[self.what]]
        return os.path.join(self.raw_folder, os.path.splitext(os.path.basename(url))[0])

    def _check_exists(self):
        return all(check_integrity(file) for file in (self.images_file, self.labels_file))

    def _load_data(self):
        images = read_sn3_pascalvincent_tensor(self.images_file)
        data = images._data
        if data.dtype != np.uint8:
            raise TypeError(f"data should be of dtype {B.namespace()}.uint8 instead of {images.dtype}")
        if data.ndim != 3:
            raise ValueError(f"data should have 3 dimensions instead of {data.ndim}")
        targets = read_sn3_pascalvincent_tensor(self.labels_file)._data.astype(np.int64)
        if targets.ndim != 2:
            raise ValueError(f"targets should have 2 dimensions instead of {targets.ndim}")
        if self.what == "test10k":
            data, targets = data[0:10000].copy(), targets[0:10000].copy()
        elif self.what == "test50k":
            data, targets = data[10000:].copy(), targets[10000:].copy()
        return _wrap(data), _wrap(targets)

    def download(self):
        """Download and decompress the images and labels of ``what`` only; both or neither are kept."""
        if self._check_exists():
            return
        with _Journal() as journal:
            journal.makedirs(self.raw_folder)
            for url, md5 in self.resources[self.subsets[self.what]]:
                filename = os.path.basename(url)
                _download(url, self.raw_folder, filename, md5, journal)
                archive = os.path.join(self.raw_folder, filename)
                print(f"Extracting {archive} to {self.raw_folder}")
                _extract(archive, self.raw_folder, False, journal)

    def __getitem__(self, index):
        """(image, target): a mode-L PIL image and the class (compat) or the 8-column int64 label Tensor."""
        img = _vision._pil_from_array(self.data._data[index], mode="L")
        if self.transform is not None:
            img = self.transform(img)
        target = int(self.targets._data[index, 0]) if self.compat else self.targets[index]
        if self.target_transform is not None:
            target = self.target_transform(target)
        return img, target

    def extra_repr(self):
        return f"Split: {self.what}"

