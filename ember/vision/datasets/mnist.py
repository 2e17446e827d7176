"""MNIST and Fashion-MNIST from the idx ubyte files, laid out as current torchvision: root/<Class>/raw."""
import os
import os.path
import warnings

import numpy as np

from ... import _backend as B
from ..._tensor import _wrap
from .utils import DownloadError, _by_hand, _download, _extract, _Journal, check_integrity
from .vision import VisionDataset

__all__ = ["MNIST", "FashionMNIST", "read_sn3_pascalvincent_tensor", "read_image_file", "read_label_file"]

_fromarray = None


def _pil_fromarray():
    global _fromarray
    from PIL import Image
    _fromarray = Image.fromarray
    return _fromarray


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
        img = (_fromarray or _pil_fromarray())(img, mode="L")
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
