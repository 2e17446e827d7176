"""Forward + backward of the CIFAR LeNet's heavy ops, ember against PyTorch in one process.

    python benchmarks/conv_pool.py [--batch 4 256] [--threads 0 1] [--repeats 7] [--cpu-time]

For each op at the tutorial's shapes, torch and ember run alternately (interleaved repeats,
so machine load hits both alike); the medians are printed with the ratio torch/ember
(> 1 means ember is faster).  --threads 1 also pins torch to one thread (ember's BLAS keeps
its own setting); --cpu-time measures process CPU time instead of wall time, which is steadier
on a shared machine but hides multi-threading gains.
"""
import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import ember  # noqa: E402
import ember.nn.functional as EF  # noqa: E402

try:
    import torch
    import torch.nn.functional as TF
except ImportError:  # pragma: no cover
    sys.exit("this benchmark compares against PyTorch: pip install torch")


def cases(B):
    """(name, make-inputs, fn(F, *inputs)) for the LeNet ops at batch B."""
    rng = np.random.default_rng(0)

    def arr(*shape, scale=1.0):
        return (rng.standard_normal(shape) * scale).astype(np.float32)

    relu1 = np.maximum(arr(B, 6, 28, 28), 0)
    relu2 = np.maximum(arr(B, 16, 10, 10), 0)
    return [
        # name, arrays, requires_grad flags, call
        ("conv1 3->6 5x5 (B,3,32,32)", [arr(B, 3, 32, 32), arr(6, 3, 5, 5, scale=0.1), arr(6)],
         [False, True, True], lambda F, x, w, b: F.conv2d(x, w, b)),
        ("maxpool 2x2 (B,6,28,28)", [relu1], [True], lambda F, x: F.max_pool2d(x, (2, 2))),
        ("conv2 6->16 5x5 (B,6,14,14)", [arr(B, 6, 14, 14), arr(16, 6, 5, 5, scale=0.1), arr(16)],
         [True, True, True], lambda F, x, w, b: F.conv2d(x, w, b)),
        ("maxpool 2 (B,16,10,10)", [relu2], [True], lambda F, x: F.max_pool2d(x, 2)),
        ("linear 400->120", [arr(B, 400), arr(120, 400, scale=0.05), arr(120)], [True, True, True],
         lambda F, x, w, b: F.linear(x, w, b)),
        ("linear 120->84", [arr(B, 120), arr(84, 120, scale=0.1), arr(84)], [True, True, True],
         lambda F, x, w, b: F.linear(x, w, b)),
        ("linear 84->10", [arr(B, 84), arr(10, 84, scale=0.1), arr(10)], [True, True, True],
         lambda F, x, w, b: F.linear(x, w, b)),
    ]


def make(lib, arrays, flags):
    return [lib.tensor(a, requires_grad=f) for a, f in zip(arrays, flags)]


def step(lib, F, fn, tensors, grad):
    for t in tensors:
        t.grad = None
    out = fn(F, *tensors)
    out.backward(grad)


def timed(clock, f, n):
    t = clock()
    for _ in range(n):
        f()
    return (clock() - t) / n


def bench(B, repeats, clock):
    n = max(3, int(2000 / B))
    rows = []
    for name, arrays, flags, fn in cases(B):
        tt, et = make(torch, arrays, flags), make(ember, arrays, flags)
        out_shape = tuple(fn(TF, *tt).shape)
        g = np.random.default_rng(1).standard_normal(out_shape).astype(np.float32)
        tg, eg = torch.tensor(g), ember.tensor(g)
        fwd_t, fwd_e, all_t, all_e = [], [], [], []
        with torch.no_grad(), ember.no_grad():
            tf = (lambda: fn(TF, *tt))
            ef = (lambda: fn(EF, *et))
            tf(), ef()
            for _ in range(repeats):
                fwd_t.append(timed(clock, tf, n))
                fwd_e.append(timed(clock, ef, n))
        ts = (lambda: step(torch, TF, fn, tt, tg))
        es = (lambda: step(ember, EF, fn, et, eg))
        ts(), es()
        for _ in range(repeats):
            all_t.append(timed(clock, ts, n))
            all_e.append(timed(clock, es, n))
        m = [float(np.median(v)) * 1e6 for v in (fwd_t, fwd_e, all_t, all_e)]
        rows.append((name, *m))
        print(f"  {name:30s} fwd  torch {m[0]:9.1f} us  ember {m[1]:9.1f} us  x{m[0] / m[1]:5.2f}   "
              f"fwd+bwd  torch {m[2]:9.1f} us  ember {m[3]:9.1f} us  x{m[2] / m[3]:5.2f}", flush=True)
    tot_t = sum(r[3] for r in rows)
    tot_e = sum(r[4] for r in rows)
    print(f"  {'sum of the above':30s} {'':49s}fwd+bwd  torch {tot_t:9.1f} us  ember {tot_e:9.1f} us  "
          f"x{tot_t / tot_e:5.2f}")


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--batch", type=int, nargs="+", default=[4, 256])
    p.add_argument("--threads", type=int, nargs="+", default=[0, 1],
                   help="torch thread counts to try (0 = torch's default)")
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--cpu-time", action="store_true", help="process CPU time instead of wall time")
    args = p.parse_args()
    clock = time.process_time if args.cpu_time else time.perf_counter
    default_threads = torch.get_num_threads()
    for threads in args.threads:
        torch.set_num_threads(threads or default_threads)
        for B in args.batch:
            print(f"batch {B}, torch threads {torch.get_num_threads()}  (ratio = torch time / ember time)")
            bench(B, args.repeats, clock)
    torch.set_num_threads(default_threads)


if __name__ == "__main__":
    main()
