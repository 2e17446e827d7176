"""Building and running torchvision-sized models, ember against torch in one process.

    python benchmarks/large_models.py [--rounds 5] [--threads 0] [--cases train load ...]

The models are written once against the shared API (``lib.nn``), with torchvision's layers and
initialization, so the same code builds them in ember and in torch (torchvision itself is not
needed): the time to construct them (every parameter drawn by its init), the no-grad forward
of the ResNet-18 at 224 x 224, batch 1 and 8, and training steps: the ResNet-18 on CIFAR-sized
input (its last stages then run 256-512 channels over 2 x 2 and 1 x 1 planes) and at 224 x 224,
batch 4 (as when fine-tuning it), the VGG-11 (a 4096 x 25088 weight), optimizer steps over that
head, and loading a checkpoint of it.  Medians of interleaved rounds, and the ratio ember / torch
(below 1: ember is faster).  Both run on their default threads unless --threads sets both.
--cases picks the workloads whose names contain one of the given words.
"""
import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import ember  # noqa: E402

try:
    import torch
except ImportError:
    torch = None


def resnet18(lib):
    """torchvision's resnet18: BasicBlocks of 64-512 channels, kaiming_normal_ (fan_out) convs."""
    nn = lib.nn

    class Block(nn.Module):
        def __init__(self, cin, cout, stride):
            super().__init__()
            self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(cout)
            self.relu = nn.ReLU(inplace=True)
            self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(cout)
            self.downsample = None
            if stride != 1 or cin != cout:
                self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

        def forward(self, x):
            identity = x if self.downsample is None else self.downsample(x)
            out = self.relu(self.bn1(self.conv1(x)))
            out = self.bn2(self.conv2(out))
            out += identity   # (in place, as torchvision's block)
            return self.relu(out)

    layers = [nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2, 1)]
    cin = 64
    for cout, stride in ((64, 1), (128, 2), (256, 2), (512, 2)):
        layers += [Block(cin, cout, stride), Block(cout, cout, 1)]
        cin = cout
    net = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(512, 1000))
    for m in net.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.constant_(m.weight, 1)
            nn.init.constant_(m.bias, 0)
    return net


def vgg11(lib):
    """torchvision's vgg11 (133M parameters): kaiming_normal_ convs, normal_(0, 0.01) linears."""
    nn = lib.nn
    layers, cin = [], 3
    for v in (64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"):
        if v == "M":
            layers.append(nn.MaxPool2d(2, 2))
        else:
            layers += [nn.Conv2d(cin, v, 3, padding=1), nn.ReLU(inplace=True)]
            cin = v
    net = nn.Sequential(*layers, nn.AdaptiveAvgPool2d((7, 7)), nn.Flatten(), nn.Linear(512 * 7 * 7, 4096),
                        nn.ReLU(True), nn.Dropout(), nn.Linear(4096, 4096), nn.ReLU(True), nn.Dropout(),
                        nn.Linear(4096, 1000))
    for m in net.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            nn.init.constant_(m.bias, 0)
        elif isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, 0, 0.01)
            nn.init.constant_(m.bias, 0)
    return net


def _seconds(fn):
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _build(make):
    def run(lib):
        lib.manual_seed(0)
        make(lib)
    return run


def _inference(batch):
    """A no-grad forward of an eval-mode resnet18 at 224 x 224 (the model built once per library)."""
    nets = {}

    def run(lib):
        if lib not in nets:
            lib.manual_seed(0)
            nets[lib] = (resnet18(lib).eval(), lib.randn(batch, 3, 224, 224))
        net, x = nets[lib]
        with lib.no_grad():
            net(x)
    return run


def _training(make, batch, size, opt):
    """A training step (cross-entropy, the optimizer opt(lib.optim, params)) of make's model on random
    batch x 3 x size x size images (the model built once per library)."""
    runs = {}

    def run(lib):
        if lib not in runs:
            lib.manual_seed(0)
            net = make(lib)
            optimizer = opt(lib.optim, net.parameters())
            x, y = lib.randn(batch, 3, size, size), lib.randint(0, 10, (batch,))

            def step():
                optimizer.zero_grad()
                lib.nn.functional.cross_entropy(net(x), y).backward()
                optimizer.step()
            runs[lib] = step
        runs[lib]()
    return run


def _sgd(optim, params):
    return optim.SGD(params, 0.01, momentum=0.9, weight_decay=5e-4)


def _adam(optim, params):
    return optim.Adam(params, 1e-4)


def _vgg_head_step(opt):
    """opt's step alone over the VGG-11 head's parameters (120M, gradients given)."""
    runs = {}

    def run(lib):
        if lib not in runs:
            lib.manual_seed(0)
            params = [lib.nn.Parameter(lib.randn(4096, 25088)), lib.nn.Parameter(lib.randn(4096, 4096))]
            for p in params:
                p.grad = lib.randn(*p.shape)
            runs[lib] = opt(lib.optim, params).step
        runs[lib]()
    return run


def _load_checkpoint():
    """load() of a 480 MB state dict (vgg11's head) that the library saved (once) to a temporary file."""
    paths = {}

    def run(lib):
        if lib not in paths:
            import atexit
            import os
            import tempfile
            fd, paths[lib] = tempfile.mkstemp(suffix=".pt")
            os.close(fd)
            atexit.register(os.remove, paths[lib])
            lib.manual_seed(0)
            lib.save({"w1": lib.randn(4096, 25088), "w2": lib.randn(4096, 4096)}, paths[lib])
        lib.load(paths[lib])
    return run


CASES = [("build resnet18", _build(resnet18)), ("build vgg11", _build(vgg11)),
         ("resnet18 eval, batch 1, 224x224", _inference(1)), ("resnet18 eval, batch 8, 224x224", _inference(8)),
         ("resnet18 train, batch 32, 32x32", _training(resnet18, 32, 32, _sgd)),
         ("resnet18 train, batch 4, 224x224", _training(resnet18, 4, 224, _sgd)),
         ("vgg11 train, batch 8, 64x64", _training(vgg11, 8, 64, _sgd)),
         ("SGD step, vgg11's head", _vgg_head_step(_sgd)), ("Adam step, vgg11's head", _vgg_head_step(_adam)),
         ("load a 480 MB checkpoint", _load_checkpoint())]


def main(argv=None):
    p = argparse.ArgumentParser()
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--threads", type=int, default=0, help="both libraries' threads (0: their defaults)")
    p.add_argument("--cases", nargs="+", default=None, help="only workloads whose names contain one of these")
    a = p.parse_args(argv)
    if a.threads:
        ember.set_num_threads(a.threads)
        if torch is not None:
            torch.set_num_threads(a.threads)
    libs = [ember] + ([torch] if torch is not None else [])
    print(f"{'workload':34s} {'ember s':>9s} {'torch s':>9s} {'ember/torch':>12s}")
    for name, run in CASES:
        if a.cases and not any(c in name for c in a.cases):
            continue
        for lib in libs:   # warm-up: imports, first allocations, the inference models
            run(lib)
        times = {lib: [] for lib in libs}
        for _ in range(a.rounds):
            for lib in libs:
                # the other library's idle threads spin for a while after its run (OpenMP, OpenBLAS):
                # right after ember, torch's resnet18 at batch 1 took 58 ms instead of 23
                time.sleep(0.3)
                times[lib].append(_seconds(lambda: run(lib)))
        e = statistics.median(times[ember])
        t = statistics.median(times[torch]) if torch is not None else None
        ratio = f"{e / t:12.2f}" if t else "           -"
        print(f"{name:34s} {e:9.3f} {t or 0:9.3f} {ratio}", flush=True)


if __name__ == "__main__":
    main()
