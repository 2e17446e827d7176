"""STL-10 from the official binary files (stl10_binary/*.bin), as torchvision reads them."""
import os.path

import numpy as np

from .utils import check_integrity, download_and_extract_archive, verify_str_arg
from . import vision as _vision
from .vision import VisionDataset

__all__ = ["STL10"]


class STL10(VisionDataset):
    """`STL10 <https://cs.stanford.edu/~acoates/stl10/>`_ Dataset: 96x96 colour images, 10 classes and 100k unlabeled.

    Args:
        root (str or pathlib.Path): folder where ``stl10_binary`` exists or will be extracted.
        split (str): ``train``, ``test``, ``unlabeled`` or ``train+unlabeled``; unlabeled images have target -1.
        folds (int, optional): 0-9 loads that predefined fold (1k of the 5k training images); None loads all.
        transform (callable, optional): applied to the PIL image.
        target_transform (callable, optional): applied to the int label.
        download (bool): download and extract the archive into root unless the files are there and verified.
    """

    base_folder = "stl10_binary"
    url = "http://ai.stanford.edu/~acoates/stl10/stl10_binary.tar.gz"
    filename = "stl10_binary.tar.gz"
    tgz_md5 = "91f7769df0f17e558f3565bffb0c7dfb"
    class_names_file = "class_names.txt"
    folds_list_file = "fold_indices.txt"
    train_list = [
        ["train_X.bin", "918c2871b30a85fa023e0c44e0bee87f"],
        ["train_y.bin", "5a34089d4802c674881badbb80307741"],
        ["unlabeled_X.bin", "5242ba1fed5e4be9e1e742405eb56ca4"],
    ]
    test_list = [["test_X.bin", "7f263ba9f9e0b06b93213547f721ac82"],
                 ["test_y.bin", "36f9794fa4beb8a2c72628de14fa638e"]]
    splits = ("train", "train+unlabeled", "unlabeled", "test")

    def __init__(self, root, split="train", folds=None, transform=None, target_transform=None, download=False):
        super().__init__(root, transform=transform, target_transform=target_transform)
        self.split = verify_str_arg(split, "split", self.splits)
        self.folds = self._verify_folds(folds)

        if download:
            self.download()
        if not self._check_integrity():
            raise RuntimeError("Dataset not found or corrupted. You can use download=True to download it")

        if self.split == "train":
            self.data, self.labels = self._loadfile(self.train_list[0][0], self.train_list[1][0])
            self._load_folds(folds)
        elif self.split == "train+unlabeled":
            self.data, self.labels = self._loadfile(self.train_list[0][0], self.train_list[1][0])
            self._load_folds(folds)
            unlabeled_data, _ = self._loadfile(self.train_list[2][0])
            self.data = np.concatenate((self.data, unlabeled_data))
            self.labels = np.concatenate((self.labels, np.full(unlabeled_data.shape[0], -1, dtype=np.int64)))
        elif self.split == "unlabeled":
            self.data, _ = self._loadfile(self.train_list[2][0])
            self.labels = np.full(self.data.shape[0], -1, dtype=np.int64)
        else:  # test
            self.data, self.labels = self._loadfile(self.test_list[0][0], self.test_list[1][0])

        class_file = os.path.join(self.root, self.base_folder, self.class_names_file)
        if os.path.isfile(class_file):
            with open(class_file) as f:
                self.classes = f.read().splitlines()

    def _verify_folds(self, folds):
        if folds is None:
            return folds
        if isinstance(folds, int):
            if folds in range(10):
                return folds
            raise ValueError(f"Value for argument folds should be in the range [0, 10), but got {folds}.")
        raise ValueError(f"Expected type None or int for argument folds, but got type {type(folds)}.")

    def __getitem__(self, index):
        """(image, target): a 96x96 RGB PIL image and the class index (-1 for unlabeled images)."""
        if self.labels is not None:
            img, target = self.data[index], int(self.labels[index])
        else:
            img, target = self.data[index], None
        img = _vision._pil_from_array(np.transpose(img, (1, 2, 0)))
        if self.transform is not None:
            img = self.transform(img)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return img, target

    def __len__(self):
        return self.data.shape[0]

    def _loadfile(self, data_file, labels_file=None):
        """(images (N, 3, 96, 96) uint8, labels 0-based uint8 or None) from the binary files."""
        labels = None
        if labels_file:
            path_to_labels = os.path.join(self.root, self.base_folder, labels_file)
            labels = np.fromfile(path_to_labels, dtype=np.uint8) - 1  # the file counts classes from 1
        path_to_data = os.path.join(self.root, self.base_folder, data_file)
        everything = np.fromfile(path_to_data, dtype=np.uint8)
        # each channel is stored column by column (MATLAB's order): swap to rows
        images = np.transpose(np.reshape(everything, (-1, 3, 96, 96)), (0, 1, 3, 2))
        return images, labels

    def _check_integrity(self):
        for filename, md5 in self.train_list + self.test_list:
            if not check_integrity(os.path.join(self.root, self.base_folder, filename), md5):
                return False
        return True

    def download(self):
        """Download and extract the archive into root, unless the binary files are already there and verified."""
        if self._check_integrity():
            return
        download_and_extract_archive(self.url, self.root, filename=self.filename, md5=self.tgz_md5)

    def extra_repr(self):
        return f"Split: {self.split}"

    def _load_folds(self, folds):
        if folds is None:
            return
        path_to_folds = os.path.join(self.root, self.base_folder, self.folds_list_file)
        with open(path_to_folds) as f:
            list_idx = np.array(f.read().splitlines()[folds].split(), dtype=np.int64)
        self.data = self.data[list_idx, :, :, :]
        if self.labels is not None:
            self.labels = self.labels[list_idx]
