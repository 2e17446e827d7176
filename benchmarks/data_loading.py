"""DataLoader throughput on a CIFAR-shaped in-memory dataset, ember against torch in one process.

Each sample: a uint8 32x32x3 image turned into a normalized float32 3x32x32 array (in NumPy,
as ToTensor + Normalize would), plus an int label. Batch size 4, as in the tutorial.  Then
ImageNet-sized samples (3x224x224 float32) at batch 64, where each batch a worker hands over is
38 MB: the second epoch of persistent workers, in images/s.

    python benchmarks/data_loading.py [--samples N] [--workers 0 2]
"""
import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import numpy as np  # noqa: E402

import ember  # noqa: E402
from ember.utils import data as edata  # noqa: E402

try:
    import torch
    import torch.utils.data as tdata
except ImportError:
    torch = None


def _make_images(n, seed=0):
    rs = np.random.RandomState(seed)
    return rs.randint(0, 256, size=(n, 32, 32, 3), dtype=np.uint8), rs.randint(0, 10, size=n).tolist()


_MEAN = np.float32(0.5)
_INV_STD = np.float32(2.0)


def _transform(img):
    # HWC uint8 -> CHW float32 in [-1, 1]: ToTensor() then Normalize((0.5,)*3, (0.5,)*3)
    return (img.transpose(2, 0, 1).astype(np.float32) * np.float32(1 / 255) - _MEAN) * _INV_STD


class EmberCifar(edata.Dataset):
    def __init__(self, images, labels):
        self.images, self.labels = images, labels

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        return ember.from_numpy(_transform(self.images[i])), self.labels[i]


if torch is not None:
    class TorchCifar(tdata.Dataset):
        def __init__(self, images, labels):
            self.images, self.labels = images, labels

        def __len__(self):
            return len(self.images)

        def __getitem__(self, i):
            return torch.from_numpy(_transform(self.images[i])), self.labels[i]


def batches_per_second(loader_cls, dataset, workers, batch_size=4, steady=False):
    """Batches per second over one epoch: the first (worker start-up included), or with steady=True
    the second epoch of persistent workers."""
    kwargs = {"persistent_workers": True} if steady else {}
    loader = loader_cls(dataset, batch_size=batch_size, shuffle=True, num_workers=workers, **kwargs)
    if steady:
        for _ in loader:
            pass
    t0 = time.perf_counter()
    n = 0
    for images, labels in loader:
        n += 1
    return n / (time.perf_counter() - t0)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--samples", type=int, default=4000)
    p.add_argument("--workers", type=int, nargs="+", default=[0, 2])
    args = p.parse_args()
    images, labels = _make_images(args.samples)
    eds = EmberCifar(images, labels)
    tds = TorchCifar(images, labels) if torch is not None else None
    if torch is not None:
        torch.set_num_threads(1)
    print(f"CIFAR-shaped dataset, {args.samples} samples, batch 4, shuffle=True")
    print(f"{'num_workers':>26}  {'ember batches/s':>15}  {'torch batches/s':>15}  {'ember/torch':>11}")
    runs = [(w, False) for w in args.workers] + [(w, True) for w in args.workers if w > 0]
    for w, steady in runs:
        label = f"{w}{' (2nd epoch, persistent)' if steady else ''}"
        e = batches_per_second(edata.DataLoader, eds, w, steady=steady)
        if tds is not None:
            t = batches_per_second(tdata.DataLoader, tds, w, steady=steady)
            print(f"{label:>26}  {e:>15.0f}  {t:>15.0f}  {e / t:>11.2f}")
        else:
            print(f"{label:>26}  {e:>15.0f}  {'-':>15}  {'-':>11}")
    large_batches(args.workers)


class _Large:
    """ImageNet-sized samples: one of 8 uint8 224x224x3 images, normalized as above, and a label."""

    def __init__(self, lib, n=512):
        self.lib, self.n = lib, n
        self.images = np.random.RandomState(1).randint(0, 256, size=(8, 224, 224, 3), dtype=np.uint8)

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return self.lib.from_numpy(_transform(self.images[i % 8])), i % 10


def large_batches(workers):
    print("ImageNet-sized samples (3x224x224 float32), batch 64, 2nd epoch of persistent workers")
    print(f"{'num_workers':>26}  {'ember images/s':>15}  {'torch images/s':>15}  {'ember/torch':>11}")
    for w in workers:
        rates = []
        for lib, data_mod in ((ember, edata), (torch, tdata if torch is not None else None)):
            if lib is None:
                continue
            ds = type("Large", (_Large, data_mod.Dataset), {})(lib)
            rates.append(64 * batches_per_second(data_mod.DataLoader, ds, w, batch_size=64, steady=w > 0))
        ratio = f"{rates[0] / rates[1]:>11.2f}" if len(rates) == 2 else f"{'-':>11}"
        print(f"{w:>26}  {rates[0]:>15.0f}  {rates[1] if len(rates) == 2 else '-':>15.0f}  {ratio}")


if __name__ == "__main__":
    main()
