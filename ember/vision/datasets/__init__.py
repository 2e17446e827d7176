"""torchvision.datasets: CIFAR10/100, the MNIST family, SVHN, STL10, USPS, SEMEION, ImageFolder and the download
utilities."""
from .cifar import CIFAR10, CIFAR100
from .fakedata import FakeData
from .folder import DatasetFolder, ImageFolder
from .mnist import EMNIST, KMNIST, MNIST, QMNIST, FashionMNIST
from .semeion import SEMEION
from .stl10 import STL10
from .svhn import SVHN
from .usps import USPS
from .vision import VisionDataset
from . import utils  # noqa: F401

__all__ = ("CIFAR10", "CIFAR100", "MNIST", "FashionMNIST", "KMNIST", "EMNIST", "QMNIST", "SVHN", "STL10", "USPS",
           "SEMEION", "ImageFolder", "DatasetFolder", "VisionDataset", "FakeData")
