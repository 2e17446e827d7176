"""torchvision.datasets: CIFAR10/100, MNIST, FashionMNIST, ImageFolder and the download utilities."""
from .cifar import CIFAR10, CIFAR100
from .fakedata import FakeData
from .folder import DatasetFolder, ImageFolder
from .mnist import MNIST, FashionMNIST
from .vision import VisionDataset
from . import utils  # noqa: F401

__all__ = ("CIFAR10", "CIFAR100", "MNIST", "FashionMNIST", "ImageFolder", "DatasetFolder", "VisionDataset",
           "FakeData")
