"""Per-op Python overhead: ember against torch in one process (medians of interleaved rounds): the
operators, a matrix product, a backward pass, a cubic fit step, and single ops as a small model calls them.

    python benchmarks/op_overhead.py
"""
import statistics
import sys
import timeit
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import numpy as np  # noqa: E402

import ember  # noqa: E402

try:
    import torch
except ImportError:
    torch = None


def _cases(lib):
    a = lib.ones(2, 2, requires_grad=True)
    b = lib.ones(2, 2, requires_grad=True)
    m1 = lib.ones(8, 8, requires_grad=True)
    m2 = lib.ones(8, 8, requires_grad=True)
    x = lib.ones(4, 4, requires_grad=True)

    def add():
        return a + b

    def matmul():
        return m1 @ m2

    def backward10():
        y = x
        for _ in range(10):
            y = y * 1.01 + 0.1
        y.sum().backward()
    # "Learning PyTorch with Examples": a cubic fitted to sin on 2000 points of both signs
    xs = lib.linspace(-3.14159, 3.14159, 2000)
    ys = lib.sin(xs)
    coef = [lib.zeros((), requires_grad=True) for _ in range(4)]

    def cubic_fit_step():
        p0, p1, p2, p3 = coef
        loss = (p0 + p1 * xs + p2 * xs ** 2 + p3 * xs ** 3 - ys).pow(2).sum()
        loss.backward()
        with lib.no_grad():
            for p in coef:
                p -= 1e-6 * p.grad
                p.grad = None
    # single ops as a small model's forward calls them: vectors of 2000 with autograd, (4, 10) scores
    v = lib.linspace(-1.0, 1.0, 2000).requires_grad_() * 1.0
    w = lib.linspace(1.0, 2.0, 2000)
    scores = lib.linspace(-3.0, 3.0, 40).reshape(4, 10).requires_grad_()
    F = lib.nn.functional
    return {"c = a + b (2x2, requires_grad)": add, "8x8 matmul (requires_grad)": matmul,
            "backward through 10 ops": backward10, "cubic fit step (2000 points)": cubic_fit_step,
            "v - w": lambda: v - w, "v * w": lambda: v * w, "v / w": lambda: v / w, "v * 2.0": lambda: v * 2.0,
            "v.exp()": lambda: v.exp(), "F.relu(v)": lambda: F.relu(v), "v.sum()": lambda: v.sum(),
            "F.softmax(scores, 1)": lambda: F.softmax(scores, 1),
            "torch.max(scores, 1)": lambda: lib.max(scores, 1)}


def measure(fn, number):
    return min(timeit.repeat(fn, number=number, repeat=3)) / number


def main(rounds=5):
    libs = {"ember": ember}
    if torch is not None:
        libs["torch"] = torch
    cases = {name: _cases(lib) for name, lib in libs.items()}
    numbers = {"c = a + b (2x2, requires_grad)": 20000, "8x8 matmul (requires_grad)": 10000,
               "backward through 10 ops": 1000, "cubic fit step (2000 points)": 500}
    numbers.update((case, 5000) for case in cases["ember"] if case not in numbers)
    results = {lib: {c: [] for c in numbers} for lib in libs}
    for _ in range(rounds):
        for case, number in numbers.items():
            for lib in libs:
                results[lib][case].append(measure(cases[lib][case], number))
    a = np.ones((2, 2), np.float32)
    raw = measure(lambda: a + a, 20000)
    print(f"{'case':34s} {'ember us':>10s} {'torch us':>10s} {'ember/torch':>12s}")
    for case in numbers:
        e = statistics.median(results["ember"][case]) * 1e6
        if torch is not None:
            t = statistics.median(results["torch"][case]) * 1e6
            print(f"{case:34s} {e:10.2f} {t:10.2f} {e / t:12.2f}")
        else:
            print(f"{case:34s} {e:10.2f} {'-':>10s} {'-':>12s}")
    print(f"{'raw numpy a + a (2x2)':34s} {raw * 1e6:10.2f}")


if __name__ == "__main__":
    main()
