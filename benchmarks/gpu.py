"""Train-step speed on a GPU: ember (CuPy) against ember on the CPU and torch on CUDA.

    python benchmarks/gpu.py [--seconds 2] [--rounds 3] [--only lenet4 lenet256 resnet128]

Workloads (synthetic CIFAR-shaped data, forward + cross-entropy + backward + SGD(momentum) step):
the spec's LeNet at batch 4 and 256, and a ResNet-18-style CIFAR network (BasicBlocks with
BatchNorm, 64-128-256-512 channels) at batch 128.  Prints the median images/s of each
library/device and the ratios ember-cuda / torch-cuda and ember-cuda / ember-cpu.  TF32 is off in
torch so both compute in full float32.  Without a GPU it says so and exits 0.
"""
import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import numpy as np  # noqa: E402

import ember  # noqa: E402

try:
    import torch
except ImportError:
    torch = None

sys.path.insert(0, str(Path(__file__).resolve().parent))
from lenet import make_net as make_lenet  # noqa: E402


def make_resnet18(lib, num_classes=10):
    """ResNet-18 for 32x32 inputs (3x3 stem, no max-pool), written once for ember and torch."""
    nn, F = lib.nn, lib.nn.functional

    class BasicBlock(nn.Module):
        def __init__(self, cin, cout, stride):
            super().__init__()
            self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(cout)
            self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(cout)
            self.short = nn.Sequential()
            if stride != 1 or cin != cout:
                self.short = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

        def forward(self, x):
            out = F.relu(self.bn1(self.conv1(x)))
            out = self.bn2(self.conv2(out))
            return F.relu(out + self.short(x))

    class ResNet18(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(3, 64, 3, 1, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(64)
            layers, cin = [], 64
            for cout, stride in ((64, 1), (128, 2), (256, 2), (512, 2)):
                layers += [BasicBlock(cin, cout, stride), BasicBlock(cout, cout, 1)]
                cin = cout
            self.layers = nn.Sequential(*layers)
            self.pool = nn.AdaptiveAvgPool2d(1)
            self.fc = nn.Linear(512, num_classes)

        def forward(self, x):
            x = F.relu(self.bn1(self.conv1(x)))
            x = self.pool(self.layers(x))
            return self.fc(x.flatten(1))
    return ResNet18()


WORKLOADS = {"lenet4": (make_lenet, 4), "lenet256": (make_lenet, 256), "resnet128": (make_resnet18, 128)}


class Workload:
    """One train step of a network for one library on one device."""

    def __init__(self, lib, make, batch, device, n_batches=4):
        rng = np.random.default_rng(0)
        self.lib, self.batch, self.device = lib, batch, device
        lib.manual_seed(0)
        self.net = make(lib).to(device)
        self.crit = lib.nn.CrossEntropyLoss()
        self.opt = lib.optim.SGD(self.net.parameters(), lr=0.01, momentum=0.9)
        self.data = [(lib.tensor(rng.standard_normal((batch, 3, 32, 32)).astype(np.float32)).to(device),
                      lib.tensor(rng.integers(0, 10, batch).astype(np.int64)).to(device)) for _ in range(n_batches)]
        self.i = 0

    def sync(self):
        if self.device != "cpu":
            self.lib.cuda.synchronize()

    def step(self):
        x, y = self.data[self.i % len(self.data)]
        self.i += 1
        self.opt.zero_grad()
        loss = self.crit(self.net(x), y)
        loss.backward()
        self.opt.step()
        return loss

    def rate(self, seconds, min_steps=3):
        """Images per second over about `seconds` of steps (after a warm-up step)."""
        self.step()
        self.sync()
        n, start = 0, time.perf_counter()
        while True:
            self.step()
            n += 1
            if n >= min_steps and time.perf_counter() - start >= seconds:
                self.sync()
                return n * self.batch / (time.perf_counter() - start)


def main(argv=None):
    p = argparse.ArgumentParser()
    p.add_argument("--seconds", type=float, default=2.0)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--only", nargs="+", choices=sorted(WORKLOADS), default=list(WORKLOADS))
    p.add_argument("--no-cpu", action="store_true", help="skip ember on the CPU")
    a = p.parse_args(argv)
    if not ember.cuda.is_available():
        print("ember.cuda.is_available() is False: no GPU (or no CuPy) here; nothing to measure")
        return 0
    have_torch = torch is not None and torch.cuda.is_available()
    if have_torch:
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
    print(f"GPU: {ember.cuda.get_device_name()}; torch: {torch.__version__ if have_torch else 'no CUDA torch'}")
    print(f"{'workload':12s} {'ember cuda':>11s} {'ember cpu':>10s} {'torch cuda':>11s} {'e-cuda/torch':>13s} "
          f"{'e-cuda/e-cpu':>13s}   (images/s, median of {a.rounds})")
    for name in a.only:
        make, batch = WORKLOADS[name]
        runs = {"ember cuda": Workload(ember, make, batch, "cuda")}
        if not a.no_cpu and not name.startswith("resnet"):
            runs["ember cpu"] = Workload(ember, make, batch, "cpu")
        if have_torch:
            runs["torch cuda"] = Workload(torch, make, batch, "cuda")
        rates = {k: [] for k in runs}
        for _ in range(a.rounds):  # interleaved, so machine noise hits every run
            for k, w in runs.items():
                rates[k].append(w.rate(a.seconds))
        med = {k: statistics.median(v) for k, v in rates.items()}
        ec, cpu, tc = med["ember cuda"], med.get("ember cpu"), med.get("torch cuda")

        def fmt(v, width):
            return f"{v:{width}.0f}" if v else f"{'-':>{width}s}"
        r_torch = f"{ec / tc:13.2f}" if tc else f"{'-':>13s}"
        r_cpu = f"{ec / cpu:13.2f}" if cpu else f"{'-':>13s}"
        print(f"{name:12s} {fmt(ec, 11)} {fmt(cpu, 10)} {fmt(tc, 11)} {r_torch} {r_cpu}", flush=True)
        print(f"{'':12s} ember peak GPU memory {ember.cuda.max_memory_allocated() / 2**20:.0f} MiB", flush=True)
        del runs
    return 0


if __name__ == "__main__":
    sys.exit(main())
