"""SVHN (Street View House Numbers) from the official MATLAB .mat files, as torchvision reads them."""
import os.path

import numpy as np

from .utils import check_integrity, download_url, verify_str_arg
from . import vision as _vision
from .vision import VisionDataset

__all__ = ["SVHN"]


def _scipy_io():
    """scipy.io, which reads the .mat files; an optional dependency, so imported only when SVHN needs it."""
    try:
        import scipy.io
    except ImportError as e:
        raise ImportError("SVHN reads its .mat files with scipy, which is not installed: "
                          "pip install scipy") from e
    return scipy.io


class SVHN(VisionDataset):
    """`SVHN <http://ufldl.stanford.edu/housenumbers/>`_ Dataset: 32x32 colour digits cropped from house numbers.

    SVHN labels the digit 0 as 10; here it is 0, so targets lie in [0, 9] as loss functions expect.
    Reading the .mat files needs scipy.

    Args:
        root (str or pathlib.Path): folder where ``<split>_32x32.mat`` is stored.
        split (str): ``train``, ``test`` or ``extra`` (the extra training set).
        transform (callable, optional): applied to the PIL image.
        target_transform (callable, optional): applied to the int label.
        download (bool): download the split's file into root unless it is already there and verified.
    """

    split_list = {
        "train": ["http://ufldl.stanford.edu/housenumbers/train_32x32.mat", "train_32x32.mat",
                  "e26dedcc434d2e4c54c9b2d4a06d8373"],
        "test": ["http://ufldl.stanford.edu/housenumbers/test_32x32.mat", "test_32x32.mat",
                 "eb5a983be6a315427106f1b164d9cef3"],
        "extra": ["http://ufldl.stanford.edu/housenumbers/extra_32x32.mat", "extra_32x32.mat",
                  "a93ce644f1a588dc4d68dda5feec44a7"],
    }

    def __init__(self, root, split="train", transform=None, target_transform=None, download=False):
        super().__init__(root, transform=transform, target_transform=target_transform)
        self.split = verify_str_arg(split, "split", tuple(self.split_list.keys()))
        self.url = self.split_list[split][0]
        self.filename = self.split_list[split][1]
        self.file_md5 = self.split_list[split][2]

        # before downloading: better to learn scipy is missing than after fetching 1.3 GB
        sio = _scipy_io()
        if download:
            self.download()
        if not self._check_integrity():
            raise RuntimeError("Dataset not found or corrupted. You can use download=True to download it")

        loaded_mat = sio.loadmat(os.path.join(self.root, self.filename))
        # X is (height, width, channel, index), MATLAB's order; y is (N, 1) uint8
        self.labels = loaded_mat["y"].astype(np.int64).squeeze()
        self.labels[self.labels == 10] = 0
        self.data = np.transpose(loaded_mat["X"], (3, 2, 0, 1))

    def __getitem__(self, index):
        """(image, target): a 32x32 RGB PIL image (after transform) and the digit (after target_transform)."""
        img, target = self.data[index], int(self.labels[index])
        img = _vision._pil_from_array(np.transpose(img, (1, 2, 0)))
        if self.transform is not None:
            img = self.transform(img)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return img, target

    def __len__(self):
        return len(self.data)

    def _check_integrity(self):
        md5 = self.split_list[self.split][2]
        return check_integrity(os.path.join(self.root, self.filename), md5)

    def download(self):
        """Download the split's .mat file into root (verified; nothing is kept if it fails)."""
        md5 = self.split_list[self.split][2]
        download_url(self.url, self.root, self.filename, md5)

    def extra_repr(self):
        return f"Split: {self.split}"
