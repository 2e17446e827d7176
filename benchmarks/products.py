"""Large matrix products, ember against torch: matmul, linear, einsum, tensordot, an LSTM layer and an
MLP training step, each forward and backward where it trains.  Each library runs in its own process,
the two alternating (both keep idle BLAS/OpenMP threads spinning for a while after a threaded
product, which in one process slows whichever runs next); medians over all rounds; torch with its
default threads unless --threads is given.

    python benchmarks/products.py [--rounds 5] [--threads N]
"""
import argparse
import json
import statistics
import subprocess
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


def cases(lib):
    """name -> zero-argument callable, on the same data for both libraries."""
    rng = np.random.default_rng(0)

    def t(*shape, grad=False):
        return lib.tensor(rng.standard_normal(shape).astype(np.float32), requires_grad=grad)

    lib.manual_seed(0)
    a, q, k = t(1024, 1024), t(8, 8, 128, 64), t(8, 8, 128, 64)
    m, n = t(512, 512), t(512, 512)
    u, v = t(64, 32, 32), t(32, 32, 16)
    x, fc = t(256, 1024, grad=True), lib.nn.Linear(1024, 1024)
    lstm, seq = lib.nn.LSTM(256, 256), t(20, 32, 256, grad=True)
    mlp = lib.nn.Sequential(lib.nn.Linear(784, 1024), lib.nn.ReLU(), lib.nn.Linear(1024, 1024), lib.nn.ReLU(),
                            lib.nn.Linear(1024, 10))
    opt = lib.optim.SGD(mlp.parameters(), lr=0.01, momentum=0.9)
    images, labels = t(256, 784), lib.tensor(rng.integers(0, 10, 256))

    def mlp_step():
        opt.zero_grad()
        lib.nn.functional.cross_entropy(mlp(images), labels).backward()
        opt.step()

    return {
        "matmul 1024x1024": lambda: a @ a,
        "linear 256x1024 -> 1024, fwd+bwd": lambda: fc(x).sum().backward(),
        "einsum ij,jk->ik (512)": lambda: lib.einsum("ij,jk->ik", m, n),
        "einsum bhqd,bhkd->bhqk": lambda: lib.einsum("bhqd,bhkd->bhqk", q, k),
        "tensordot (64,32,32)x(32,32,16)": lambda: lib.tensordot(u, v, dims=2),
        "LSTM 20x32x256, fwd+bwd": lambda: lstm(seq)[0].sum().backward(),
        "MLP step, batch 256": mlp_step,
    }


def measure(lib_name, rounds, threads):
    """{case: [seconds per call, one per round]} for one library, in this process."""
    lib = ember if lib_name == "ember" else torch
    if lib is torch and threads:
        torch.set_num_threads(threads)
    fns = cases(lib)
    times = {}
    for _ in range(rounds):
        for case, fn in fns.items():
            fn()
            t0 = time.perf_counter()
            fn()
            times.setdefault(case, []).append(time.perf_counter() - t0)
    return times


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="rounds in each process (two per library)")
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's)")
    parser.add_argument("--lib", choices=["ember", "torch"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.lib:
        print(json.dumps(measure(args.lib, args.rounds, args.threads)))
        return
    libs = ["ember"] + (["torch"] if torch is not None else [])
    times = {}
    for _ in range(2):
        for lib in libs:
            cmd = [sys.executable, __file__, "--lib", lib, "--rounds", str(args.rounds)]
            if args.threads:
                cmd += ["--threads", str(args.threads)]
            out = json.loads(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout)
            for case, values in out.items():
                times.setdefault(case, {}).setdefault(lib, []).extend(values)
    threads = args.threads or (torch.get_num_threads() if torch is not None else "-")
    print(f"ms per call, medians of {2 * args.rounds} rounds; torch on {threads} threads")
    print(f"{'case':36s} {'ember':>9s} {'torch':>9s} {'ratio':>7s}")
    for case, r in times.items():
        e = statistics.median(r["ember"]) * 1e3
        t = statistics.median(r["torch"]) * 1e3 if "torch" in r else float("nan")
        print(f"{case:36s} {e:9.2f} {t:9.2f} {e / t:7.2f}")


if __name__ == "__main__":
    main()
