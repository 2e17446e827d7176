"""SEMEION handwritten digits from the UCI text file, as torchvision reads it."""
import os.path

import numpy as np

from .utils import check_integrity, download_url
from . import vision as _vision
from .vision import VisionDataset

__all__ = ["SEMEION"]


class SEMEION(VisionDataset):
    """`SEMEION <http://archive.ics.uci.edu/ml/datasets/semeion+handwritten+digit>`_ Dataset: 1593 16x16 binary digits.

    Args:
        root (str or pathlib.Path): folder where ``semeion.data`` is stored.
        transform (callable, optional): applied to the PIL image.
        target_transform (callable, optional): applied to the int label.
        download (bool): download the file into root unless it is already there and verified (default True,
            as torchvision).
    """

    url = "http://archive.ics.uci.edu/ml/machine-learning-databases/semeion/semeion.data"
    filename = "semeion.data"
    md5_checksum = "cb545d371d2ce14ec121470795a77432"

    def __init__(self, root, transform=None, target_transform=None, download=True):
        super().__init__(root, transform=transform, target_transform=target_transform)

        if download:
            self.download()
        if not self._check_integrity():
            raise RuntimeError("Dataset not found or corrupted. You can use download=True to download it")

        fp = os.path.join(self.root, self.filename)
        # each line: 256 pixels (0 or 1), then the digit one-hot in 10 columns
        data = np.loadtxt(fp, ndmin=2)
        onehot = data[:, 256:]
        if onehot.shape[1] != 10 or (np.count_nonzero(onehot, axis=1) != 1).any():
            raise RuntimeError(f"{fp}: each line should end with the digit one-hot in 10 columns after 256 pixels; "
                               f"the file has {data.shape[1]} columns. It is not SEMEION's data.")
        self.data = np.reshape((data[:, :256] * 255).astype("uint8"), (-1, 16, 16))
        self.labels = np.nonzero(onehot)[1]

    def __getitem__(self, index):
        """(image, target): a 16x16 mode-L PIL image (after transform) and the digit (after target_transform)."""
        img, target = self.data[index], int(self.labels[index])
        img = _vision._pil_from_array(img, mode="L")
        if self.transform is not None:
            img = self.transform(img)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return img, target

    def __len__(self):
        return len(self.data)

    def _check_integrity(self):
        return check_integrity(os.path.join(self.root, self.filename), self.md5_checksum)

    def download(self):
        """Download semeion.data into root unless it is already there and verified."""
        if self._check_integrity():
            return
        download_url(self.url, self.root, self.filename, self.md5_checksum)
