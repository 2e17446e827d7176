"""CIFAR-10 and CIFAR-100 from the official python pickle batches, as torchvision reads them."""
import os
import os.path
import pickle

import numpy as np

from .utils import check_integrity, download_and_extract_archive
from . import vision as _vision
from .vision import VisionDataset

__all__ = ["CIFAR10", "CIFAR100"]


def _load_batch(path):
    """One pickle batch as a dict with str keys (the official files are Python 2 pickles)."""
    with open(path, "rb") as f:
        entry = pickle.load(f, encoding="latin1")
    return {k.decode("latin1") if isinstance(k, bytes) else k: v for k, v in entry.items()}


class CIFAR10(VisionDataset):
    """`CIFAR10 <https://www.cs.toronto.edu/~kriz/cifar.html>`_ Dataset: 60,000 32x32 colour images in 10 classes.

    Args:
        root (str or pathlib.Path): folder where ``cifar-10-batches-py`` exists or will be saved by download.
        train (bool): the training set (50,000 images) when True, else the test set (10,000).
        transform (callable, optional): applied to the PIL image.
        target_transform (callable, optional): applied to the int label.
        download (bool): download and extract the archive into root unless it is already there.
    """

    base_folder = "cifar-10-batches-py"
    url = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
    filename = "cifar-10-python.tar.gz"
    tgz_md5 = "c58f30108f718f92721af3b95e74349a"
    train_list = [
        ["data_batch_1", "c99cafc152244af753f735de768cd75f"],
        ["data_batch_2", "d4bba439e000b95fd0a9bffe97cbabec"],
        ["data_batch_3", "54ebc095f3ab1f0389bbae665268c751"],
        ["data_batch_4", "634d18415352ddfa80567beed471001a"],
        ["data_batch_5", "482c414d41f54cd18b22e5b47cb7c3cb"],
    ]
    test_list = [
        ["test_batch", "40351d587109b95175f43aff81a1287e"],
    ]
    meta = {
        "filename": "batches.meta",
        "key": "label_names",
        "md5": "5ff9c542aee3614f3951f8cda6e48888",
    }

    def __init__(self, root, train=True, transform=None, target_transform=None, download=False):
        super().__init__(root, transform=transform, target_transform=target_transform)
        self.train = train  # training set or test set

        if download:
            self.download()

        if not self._check_integrity():
            raise RuntimeError("Dataset not found or corrupted. You can use download=True to download it")

        downloaded_list = self.train_list if self.train else self.test_list
        data = []
        self.targets = []
        for file_name, checksum in downloaded_list:
            entry = _load_batch(os.path.join(self.root, self.base_folder, file_name))
            data.append(entry["data"])
            if "labels" in entry:
                self.targets.extend(entry["labels"])
            else:
                self.targets.extend(entry["fine_labels"])
        # HWC, as torchvision; made contiguous once so each PIL image is built without a copy
        self.data = np.ascontiguousarray(np.vstack(data).reshape(-1, 3, 32, 32).transpose((0, 2, 3, 1)))
        self._load_meta()

    def _load_meta(self):
        path = os.path.join(self.root, self.base_folder, self.meta["filename"])
        if not check_integrity(path, self.meta["md5"]):
            raise RuntimeError("Dataset metadata file not found or corrupted. You can use download=True to download it")
        data = _load_batch(path)
        self.classes = data[self.meta["key"]]
        self.class_to_idx = {_class: i for i, _class in enumerate(self.classes)}

    def __getitem__(self, index):
        """(image, target): a PIL image (after transform) and the class index (after target_transform)."""
        img, target = self.data[index], self.targets[index]
        # a PIL Image, consistent with all other datasets
        img = _vision._pil_from_array(img)
        if self.transform is not None:
            img = self.transform(img)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return img, target

    def __len__(self):
        return len(self.data)

    def _check_integrity(self):
        for filename, md5 in self.train_list + self.test_list:
            fpath = os.path.join(self.root, self.base_folder, filename)
            if not check_integrity(fpath, md5):
                return False
        return True

    def download(self):
        """Download and extract the archive into root, unless the batch files are already there and verified."""
        if self._check_integrity():
            print("Files already downloaded and verified")
            return
        download_and_extract_archive(self.url, self.root, filename=self.filename, md5=self.tgz_md5)

    def extra_repr(self):
        split = "Train" if self.train is True else "Test"
        return f"Split: {split}"


class CIFAR100(CIFAR10):
    """`CIFAR100 <https://www.cs.toronto.edu/~kriz/cifar.html>`_ Dataset: CIFAR10's format with 100 classes."""

    base_folder = "cifar-100-python"
    url = "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz"
    filename = "cifar-100-python.tar.gz"
    tgz_md5 = "eb9058c3a382ffc7106e4002c42a8d85"
    train_list = [
        ["train", "16019d7e3df5f24257cddd939b257f8d"],
    ]
    test_list = [
        ["test", "f0ef6b0ae62326f3e7ffdfab6717acfc"],
    ]
    meta = {
        "filename": "meta",
        "key": "fine_label_names",
        "md5": "7973b15100ade9c7d40fb424638fde48",
    }
