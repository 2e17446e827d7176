"""ember.vision: torchvision's API (datasets, io, models, ops, transforms, utils); ``import torchvision`` maps here."""
from . import datasets, io, models, ops, transforms, tv_tensors, utils  # noqa: F401

__version__ = "0.1.0"

_image_backend = "PIL"


def get_image_backend():
    """The name of the package used to load images ('PIL')."""
    return _image_backend


def set_image_backend(backend):
    """Choose the image loading backend; only 'PIL' is available."""
    if backend != "PIL":
        raise ValueError(f"Invalid backend '{backend}'. Options are 'PIL' (ember does not ship accimage)")


def get_video_backend():
    """torchvision's video backend name; ember reads no video."""
    return "pyav"
