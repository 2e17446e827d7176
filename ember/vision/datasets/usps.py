"""USPS handwritten digits from the libsvm-format .bz2 files, as torchvision reads them."""
import bz2
import errno
import os

import numpy as np

from .utils import download_url
from . import vision as _vision
from .vision import VisionDataset

__all__ = ["USPS"]


def _read_libsvm(path, n_features=256):
    """(values (N, n_features) float32, labels list of int) from a (bz2) libsvm text file."""
    with bz2.open(path) as fp:
        rows = [line.split() for line in fp.read().decode().splitlines()]
    rows = [r for r in rows if r]
    values = np.zeros((len(rows), n_features), dtype=np.float32)  # libsvm leaves zeros out
    labels = []
    for r, tokens in enumerate(rows):
        labels.append(int(tokens[0]))
        if len(tokens) == 1:
            continue
        index, _, value = zip(*(t.partition(":") for t in tokens[1:]))
        index = np.asarray(index, dtype=np.int64)
        if index.min() < 1 or index.max() > n_features:
            raise RuntimeError(f"{path}, line {r + 1}: feature indices must lie in [1, {n_features}], got "
                               f"{index.min()}..{index.max()}; the file is not USPS's libsvm data.")
        values[r, index - 1] = np.asarray(value, dtype=np.float32)
    return values, labels


class USPS(VisionDataset):
    """`USPS <https://www.csie.ntu.edu.tw/~cjlin/libsvmtools/datasets/multiclass.html#usps>`_ Dataset: 16x16 digits.

    The files hold lines ``label index:value ...`` with labels in [1, 10] and values in [-1, 1]; here the
    labels become [0, 9] and the values [0, 255].

    Args:
        root (str or pathlib.Path): folder where ``usps.bz2`` / ``usps.t.bz2`` are stored.
        train (bool): the training file ``usps.bz2`` when True, else the test file ``usps.t.bz2``.
        transform (callable, optional): applied to the PIL image.
        target_transform (callable, optional): applied to the int label.
        download (bool): download the file into root unless it is already there.
    """

    split_list = {
        "train": ["https://www.csie.ntu.edu.tw/~cjlin/libsvmtools/datasets/multiclass/usps.bz2", "usps.bz2",
                  "ec16c51db3855ca6c91edd34d0e9b197"],
        "test": ["https://www.csie.ntu.edu.tw/~cjlin/libsvmtools/datasets/multiclass/usps.t.bz2", "usps.t.bz2",
                 "8ea070ee2aca1ac39742fdd1ef5ed118"],
    }

    def __init__(self, root, train=True, transform=None, target_transform=None, download=False):
        super().__init__(root, transform=transform, target_transform=target_transform)
        split = "train" if train else "test"
        url, filename, checksum = self.split_list[split]
        full_path = os.path.join(self.root, filename)

        if download and not os.path.exists(full_path):
            download_url(url, self.root, filename, md5=checksum)
        if not os.path.exists(full_path):
            raise FileNotFoundError(errno.ENOENT, "Dataset not found. You can use download=True to download it",
                                    str(full_path))

        values, labels = _read_libsvm(full_path)
        imgs = values.reshape((-1, 16, 16))
        self.data = ((imgs + 1) / 2 * 255).astype(dtype=np.uint8)
        self.targets = [label - 1 for label in labels]

    def __getitem__(self, index):
        """(image, target): a 16x16 mode-L PIL image (after transform) and the digit (after target_transform)."""
        img, target = self.data[index], int(self.targets[index])
        img = _vision._pil_from_array(img, mode="L")
        if self.transform is not None:
            img = self.transform(img)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return img, target

    def __len__(self):
        return len(self.data)
