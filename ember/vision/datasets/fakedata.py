"""FakeData: random images, for trying a pipeline without downloading anything."""
import numpy as np

from .vision import VisionDataset

__all__ = ["FakeData"]


class FakeData(VisionDataset):
    """A dataset of random PIL images (the same image for the same index) with random class labels."""

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
        from PIL import Image
        g = np.random.default_rng(index + self.random_offset)
        img = g.random(self.image_size, dtype=np.float32)
        target = int(g.integers(0, self.num_classes))
        # float CHW in [0, 1) -> HWC uint8, as ToPILImage would
        arr = (img * 255).astype(np.uint8).transpose(1, 2, 0)
        img = Image.fromarray(arr[:, :, 0] if arr.shape[2] == 1 else arr)
        if self.transform is not None:
            img = self.transform(img)
        if self.target_transform is not None:
            target = self.target_transform(target)
        return img, target

    def __len__(self):
        return self.size
