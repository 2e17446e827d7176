"""FakeData: random images, for trying a pipeline without downloading anything."""
from ..._tensor import _wrap
from ...random import Generator
from .vision import VisionDataset

__all__ = ["FakeData"]


class FakeData(VisionDataset):
    """A dataset of random PIL images (the same image for the same index) with random class labels:
    torchvision's images and labels, drawn from torch's generator seeded with index + random_offset."""

    def __init__(self, size=1000, image_size=(3, 224, 224), num_classes=10, transform=None, target_transform=None,
                 random_offset=0):
        super().__init__(None, transform=transform, target_transform=target_transform)
        self.size = size
        self.num_classes = num_classes
        self.image_size = image_size
        self.random_offset = random_offset

    def __getitem__(self, index):
        """(PIL image, class index), both determined by index."""
        if index >= len(self):
            raise IndexError(f"{self.__class__.__name__} index out of range")
        from ..transforms import functional as F
        # torchvision seeds torch's generator with index + random_offset, draws torch.randn(*image_size)
        # and torch.randint(0, num_classes, (1,)), and restores the generator: a private Generator
        # seeded alike draws the same numbers and leaves the default one alone
        g = Generator().manual_seed(index + self.random_offset)
        img = g.standard_normal(tuple(self.image_size), "float32")
        target = int(g.integers(0, self.num_classes, (1,))[0])
        img = F.to_pil_image(_wrap(img))  # ToPILImage: mul(255).byte() of the normal floats, as torchvision
        if self.transform is not None:
            img = self.transform(img)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return img, target

    def __len__(self):
        return self.size
