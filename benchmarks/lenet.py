"""Train-step speed of the spec's CIFAR-10 LeNet: ember against torch in one process.

    python benchmarks/lenet.py [--batches 4 32 256] [--rounds 5] [--seconds 0.5]

Each round times ember and torch alternately (interleaved, so machine noise hits both) on
synthetic CIFAR-shaped data: forward + cross-entropy + backward + SGD(momentum) step. Prints
medians in images/s and the ember/torch ratio, torch with its default threads and with 1 thread.
"""
import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import numpy as np  # noqa: E402

try:
    import ember
except ImportError:  # the peak-RSS run of benchmarks/run.py measures torch alone
    ember = None
try:
    import torch
except ImportError:
    torch = None


def make_net(lib):
    nn, F = lib.nn, lib.nn.functional

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(3, 6, 5)
            self.pool = nn.MaxPool2d(2, 2)
            self.conv2 = nn.Conv2d(6, 16, 5)
            self.fc1 = nn.Linear(16 * 5 * 5, 120)
            self.fc2 = nn.Linear(120, 84)
            self.fc3 = nn.Linear(84, 10)

        def forward(self, x):
            x = self.pool(F.relu(self.conv1(x)))
            x = self.pool(F.relu(self.conv2(x)))
            x = x.view(-1, 16 * 5 * 5)
            x = F.relu(self.fc1(x))
            x = F.relu(self.fc2(x))
            return self.fc3(x)
    return Net()


class Workload:
    """A train (or eval) step of the LeNet for one library at one batch size."""

    def __init__(self, lib, batch, train=True, n_batches=16):
        rng = np.random.default_rng(0)
        self.lib, self.train = lib, train
        self.net = make_net(lib)
        self.crit = lib.nn.CrossEntropyLoss()
        self.opt = lib.optim.SGD(self.net.parameters(), lr=0.001, momentum=0.9)
        self.data = [(lib.from_numpy(rng.standard_normal((batch, 3, 32, 32)).astype(np.float32)),
                      lib.from_numpy(rng.integers(0, 10, batch).astype(np.int64))) for _ in range(n_batches)]
        self.i = 0
        self.batch = batch

    def step(self):
        x, y = self.data[self.i % len(self.data)]
        self.i += 1
        if self.train:
            self.opt.zero_grad()
            loss = self.crit(self.net(x), y)
            loss.backward()
            self.opt.step()
            return loss.item()
        with self.lib.no_grad():
            return self.net(x)

    def rate(self, seconds):
        """Images per second over about `seconds` of steps."""
        self.step()
        n, start = 0, time.perf_counter()
        while True:
            self.step()
            n += 1
            elapsed = time.perf_counter() - start
            if elapsed >= seconds:
                return n * self.batch / elapsed


def compare(batch, rounds, seconds, train=True, torch_threads=None):
    """Median images/s for ember and torch, measured in interleaved rounds."""
    e = Workload(ember, batch, train)
    t = Workload(torch, batch, train) if torch is not None else None
    er, tr = [], []
    prev = torch.get_num_threads() if torch is not None else None
    if torch is not None and torch_threads:
        torch.set_num_threads(torch_threads)
    try:
        for _ in range(rounds):
            er.append(e.rate(seconds))
            if t is not None:
                tr.append(t.rate(seconds))
    finally:
        if torch is not None:
            torch.set_num_threads(prev)
    em = statistics.median(er)
    tm = statistics.median(tr) if tr else None
    return em, tm


def main(argv=None):
    p = argparse.ArgumentParser()
    p.add_argument("--batches", type=int, nargs="+", default=[4, 32, 256])
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--seconds", type=float, default=0.5)
    a = p.parse_args(argv)
    print(f"{'workload':28s} {'ember img/s':>12s} {'torch img/s':>12s} {'ratio':>7s}")
    for batch in a.batches:
        for threads in ([None, 1] if torch is not None else [None]):
            em, tm = compare(batch, a.rounds, a.seconds, True, threads)
            label = f"train b{batch}" + (" (torch 1 thread)" if threads == 1 else "")
            ratio = f"{em / tm:7.2f}" if tm else "      -"
            print(f"{label:28s} {em:12.0f} {tm or 0:12.0f} {ratio}", flush=True)


if __name__ == "__main__":
    main()
