"""Batch augmentations (MixUp, CutMix) and JPEG, as torchvision/transforms/v2/_augment.py.

MixUp and CutMix work on a whole batch: images (N, C, H, W) or videos (N, T, C, H, W) and their labels,
either class indices (N,) (one-hot encoded with num_classes) or probabilities (N, num_classes). Each
sample is mixed with the one before it (the batch rolled by one), so the batch should be shuffled.
The mixing weight comes from ember.distributions.Beta(alpha, alpha), drawn from ember's default
generator as torchvision draws it from torch's.
"""
import math

from ... import tv_tensors
from ...tv_tensors import BoundingBoxes, Image, Mask, Video
from ...._tensor import Tensor
from . import functional as F
from ._transforms import (Transform, _check_sequence_input, _parse_labels_getter, _pil_cls, _randint1,
                          has_any, is_pure_tensor, query_size, tree_flatten, tree_unflatten)


class _BaseMixUpCutMix(Transform):
    def __init__(self, *, alpha=1.0, num_classes=None, labels_getter="default"):
        from .... import distributions, tensor
        super().__init__()
        self.alpha = float(alpha)
        self._dist = distributions.Beta(tensor([alpha]), tensor([alpha]))
        self.num_classes = num_classes
        self._labels_getter = _parse_labels_getter(labels_getter)

    def forward(self, *inputs):
        inputs = inputs if len(inputs) > 1 else inputs[0]
        flat_inputs, spec = tree_flatten(inputs)
        needs_transform_list = self._needs_transform_list(flat_inputs)
        if has_any(flat_inputs, _pil_cls(), BoundingBoxes, Mask):
            raise ValueError(f"{type(self).__name__}() does not support PIL images, bounding boxes, keypoints and "
                             "masks.")
        labels = self._labels_getter(inputs)
        if not isinstance(labels, Tensor):
            raise ValueError(f"The labels must be a tensor, but got {type(labels)} instead.")
        if labels.ndim not in (1, 2):
            raise ValueError(f"labels should be index based with shape (batch_size,) or probability based with shape "
                             f"(batch_size, num_classes), but got a tensor of shape {labels.shape} instead.")
        if labels.ndim == 2 and self.num_classes is not None and labels.shape[-1] != self.num_classes:
            raise ValueError(f"When passing 2D labels, the number of elements in last dimension must match "
                             f"num_classes: {labels.shape[-1]} != {self.num_classes}. You can Leave num_classes to "
                             f"None.")
        if labels.ndim == 1 and self.num_classes is None:
            raise ValueError("num_classes must be passed if the labels are index-based (1D)")
        params = {"labels": labels, "batch_size": labels.shape[0],
                  **self.make_params([i for i, n in zip(flat_inputs, needs_transform_list) if n])}
        # the labels are a pure tensor after the images, which the default rule leaves alone: mix them too
        needs_transform_list[next(k for k, i in enumerate(flat_inputs) if i is labels)] = True
        flat_outputs = [self.transform(i, params) if n else i for i, n in zip(flat_inputs, needs_transform_list)]
        return tree_unflatten(flat_outputs, spec)

    def _check_image_or_video(self, inpt, *, batch_size):
        expected_num_dims = 5 if isinstance(inpt, Video) else 4
        if inpt.ndim != expected_num_dims:
            raise ValueError(f"Expected a batched input with {expected_num_dims} dims, but got {inpt.ndim} dimensions "
                             "instead.")
        if inpt.shape[0] != batch_size:
            raise ValueError(f"The batch size of the image or video does not match the batch size of the labels: "
                             f"{inpt.shape[0]} != {batch_size}.")

    def _mixup_label(self, label, *, lam):
        from ....nn.functional import one_hot
        if label.ndim == 1:
            label = one_hot(label, num_classes=self.num_classes)
        if not label.is_floating_point():
            label = label.float()
        return label.roll(1, 0).mul_(1.0 - lam).add_(label.mul(lam))

    def _sample_lam(self):
        return float(self._dist.sample(()))


class MixUp(_BaseMixUpCutMix):
    """MixUp on a batch: every image and label becomes lam * itself + (1 - lam) * the previous one."""

    def make_params(self, flat_inputs):
        return dict(lam=self._sample_lam())

    def transform(self, inpt, params):
        lam = params["lam"]
        if inpt is params["labels"]:
            return self._mixup_label(inpt, lam=lam)
        if isinstance(inpt, (Image, Video)) or is_pure_tensor(inpt):
            self._check_image_or_video(inpt, batch_size=params["batch_size"])
            x = F._pure(inpt)
            output = x.roll(1, 0).mul_(1.0 - lam).add_(x.mul(lam))
            return tv_tensors.wrap(output, like=inpt) if isinstance(inpt, (Image, Video)) else output
        return inpt


class CutMix(_BaseMixUpCutMix):
    """CutMix on a batch: paste a random box of the previous image into each image; labels mix by area."""

    def make_params(self, flat_inputs):
        lam = self._sample_lam()
        H, W = query_size(flat_inputs)
        r_x = _randint1(0, W)
        r_y = _randint1(0, H)
        r = 0.5 * math.sqrt(1.0 - lam)
        r_w_half = int(r * W)
        r_h_half = int(r * H)
        x1, y1 = max(r_x - r_w_half, 0), max(r_y - r_h_half, 0)
        x2, y2 = min(r_x + r_w_half, W), min(r_y + r_h_half, H)
        lam_adjusted = float(1.0 - (x2 - x1) * (y2 - y1) / (W * H))
        return dict(box=(x1, y1, x2, y2), lam_adjusted=lam_adjusted)

    def transform(self, inpt, params):
        if inpt is params["labels"]:
            return self._mixup_label(inpt, lam=params["lam_adjusted"])
        if isinstance(inpt, (Image, Video)) or is_pure_tensor(inpt):
            self._check_image_or_video(inpt, batch_size=params["batch_size"])
            x1, y1, x2, y2 = params["box"]
            x = F._pure(inpt)
            rolled = x.roll(1, 0)
            output = x.clone()
            output[..., y1:y2, x1:x2] = rolled[..., y1:y2, x1:x2]
            return tv_tensors.wrap(output, like=inpt) if isinstance(inpt, (Image, Video)) else output
        return inpt


class JPEG(Transform):
    """JPEG-compress and decompress images at a quality (or one drawn from [min, max], both included)."""

    def __init__(self, quality):
        super().__init__()
        if isinstance(quality, int):
            if isinstance(quality, bool):
                raise TypeError("quality can't be bool")
            quality = [quality, quality]
        else:
            _check_sequence_input(quality, "quality", req_sizes=(2,))
        if not (1 <= quality[0] <= quality[1] <= 100 and isinstance(quality[0], int)
                and isinstance(quality[1], int)):
            raise ValueError(f"quality must be an integer from 1 to 100, got {quality =}")
        self.quality = quality

    def make_params(self, flat_inputs):
        return dict(quality=_randint1(self.quality[0], self.quality[1] + 1))

    def transform(self, inpt, params):
        return self._call_kernel(F.jpeg, inpt, quality=params["quality"])

