"""VisionDataset: the base of torchvision's datasets (root, transforms, repr)."""
import os

try:
    from ...utils.data import Dataset as _Dataset
except ImportError:  # pragma: no cover - utils.data not built yet
    try:
        from ...utils.data.dataset import Dataset as _Dataset
    except ImportError:
        _Dataset = object

__all__ = ["VisionDataset", "StandardTransform"]


def _pil_from_array(array, mode=None):
    """PIL.Image.fromarray, with Pillow imported on first use (ember installs without it)."""
    global _pil_from_array
    from PIL import Image

    def _pil_from_array(array, mode=None):
        return Image.fromarray(array) if mode is None else Image.fromarray(array, mode=mode)
    return _pil_from_array(array, mode)


class VisionDataset(_Dataset):
    """Base class for torchvision-compatible datasets: subclasses define __getitem__ and __len__."""

    _repr_indent = 4

    def __init__(self, root=None, transforms=None, transform=None, target_transform=None):
        if isinstance(root, str):
            root = os.path.expanduser(root)
        self.root = root
        has_transforms = transforms is not None
        has_separate_transform = transform is not None or target_transform is not None
        if has_transforms and has_separate_transform:
            raise ValueError("Only transforms or transform/target_transform can be passed as argument")
        self.transform = transform
        self.target_transform = target_transform
        if has_separate_transform:
            transforms = StandardTransform(transform, target_transform)
        self.transforms = transforms

    def __getitem__(self, index):
        raise NotImplementedError

    def __len__(self):
        raise NotImplementedError

    def __repr__(self):
        head = "Dataset " + self.__class__.__name__
        body = [f"Number of datapoints: {self.__len__()}"]
        if self.root is not None:
            body.append(f"Root location: {self.root}")
        body += self.extra_repr().splitlines()
        if hasattr(self, "transforms") and self.transforms is not None:
            body += [repr(self.transforms)]
        lines = [head] + [" " * self._repr_indent + line for line in body]
        return "\n".join(lines)

    def _format_transform_repr(self, transform, head):
        lines = transform.__repr__().splitlines()
        return [f"{head}{lines[0]}"] + ["{}{}".format(" " * len(head), line) for line in lines[1:]]

    def extra_repr(self):
        return ""


class StandardTransform:
    """Applies transform to the input and target_transform to the target."""

    def __init__(self, transform=None, target_transform=None):
        self.transform = transform
        self.target_transform = target_transform

    def __call__(self, input, target):
        if self.transform is not None:
            input = self.transform(input)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return input, target

    def _format_transform_repr(self, transform, head):
        lines = transform.__repr__().splitlines()
        return [f"{head}{lines[0]}"] + ["{}{}".format(" " * len(head), line) for line in lines[1:]]

    def __repr__(self):
        body = [self.__class__.__name__]
        if self.transform is not None:
            body += self._format_transform_repr(self.transform, "Transform: ")
        if self.target_transform is not None:
            body += self._format_transform_repr(self.target_transform, "Target transform: ")
        return "\n".join(body)
