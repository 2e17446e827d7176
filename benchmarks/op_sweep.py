"""Per-op speed sweep: ~120 tensor ops on float32 vectors, ember against torch in one process (minimum of
repeated timings), sorted by ratio, to find the ops where NumPy takes a slow path.

    python benchmarks/op_sweep.py [--n 2000] [--top 30]
"""
import argparse
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

UNARY = ["abs", "acos", "asin", "atan", "ceil", "cos", "cosh", "erf", "erfc", "erfinv", "exp", "exp2", "expm1",
         "floor", "frac", "lgamma", "digamma", "neg", "reciprocal", "round", "sigmoid", "sign", "sin", "sinh",
         "sqrt", "square", "tan", "tanh", "trunc", "log", "log1p", "log2", "log10", "rsqrt", "isnan", "isfinite",
         "signbit", "sgn", "nan_to_num", "relu", "deg2rad", "i0", "sinc", "logit", "atanh", "asinh", "acosh"]
POSITIVE = {"log", "log1p", "log2", "log10", "rsqrt", "sqrt", "acosh", "lgamma", "digamma"}
UNIT = {"acos", "asin", "atanh", "erfinv", "logit"}
BINARY = ["add", "sub", "mul", "div", "atan2", "hypot", "maximum", "minimum", "fmod", "remainder", "pow",
          "copysign", "logaddexp", "floor_divide", "eq", "lt", "xlogy", "fmax", "nextafter"]


def cases(lib, n):
    """name -> zero-argument callable, on the same data for both libraries."""
    F = lib.nn.functional
    rng = np.random.default_rng(0)
    xa = (rng.standard_normal(n) * 3).astype(np.float32)
    x, y = lib.tensor(xa), lib.tensor((rng.standard_normal(n) * 3).astype(np.float32))
    px = lib.tensor(np.abs(xa) + 0.1)
    unit = lib.tensor(np.clip(xa / 10, -0.99, 0.99))
    m = lib.tensor(rng.standard_normal((max(1, n // 50), 50)).astype(np.float32))
    ints = lib.tensor(rng.integers(-100, 100, n))
    out = {}
    for name in UNARY:
        f = getattr(lib, name)
        arg = px if name in POSITIVE else (unit.abs() if name == "logit" else unit) if name in UNIT else x
        out[name] = (lambda f=f, a=arg: f(a))
    for name in BINARY:
        f = getattr(lib, name)
        out[name] = (lambda f=f: f(px, y)) if name == "pow" else (lambda f=f: f(x, y))
    out.update({
        "x ** 3": lambda: x ** 3, "pow, tensor exponent": lambda: lib.pow(x, lib.full_like(x, 3.0)),
        "x ** 2.5": lambda: px ** 2.5, "clamp": lambda: x.clamp(-1, 1), "clamp_min": lambda: x.clamp_min(0),
        "where": lambda: lib.where(x > 0, x, y), "lerp": lambda: lib.lerp(x, y, 0.3),
        "addcmul": lambda: lib.addcmul(x, y, x, value=0.5), "isclose": lambda: lib.isclose(x, y),
        "softmax": lambda: F.softmax(m, dim=1), "log_softmax": lambda: F.log_softmax(m, dim=1),
        "gelu": lambda: F.gelu(x), "silu": lambda: F.silu(x), "softplus": lambda: F.softplus(x),
        "elu": lambda: F.elu(x), "leaky_relu": lambda: F.leaky_relu(x), "hardtanh": lambda: F.hardtanh(x),
        "logsigmoid": lambda: F.logsigmoid(x), "mish": lambda: F.mish(x),
        "mse_loss": lambda: F.mse_loss(x, y), "l1_loss": lambda: F.l1_loss(x, y),
        "smooth_l1_loss": lambda: F.smooth_l1_loss(x, y),
        "bce_with_logits": lambda: F.binary_cross_entropy_with_logits(x, (y > 0).float()),
        "sum": lambda: x.sum(), "mean": lambda: x.mean(), "std": lambda: x.std(), "var": lambda: x.var(),
        "norm": lambda: x.norm(), "max": lambda: x.max(), "argmax": lambda: x.argmax(),
        "prod": lambda: (x / 10).prod(), "cumsum": lambda: x.cumsum(0), "sort": lambda: x.sort(),
        "topk": lambda: x.topk(10), "median": lambda: x.median(), "logsumexp": lambda: lib.logsumexp(m, 1),
        "sum(dim)": lambda: m.sum(1), "max(dim)": lambda: m.max(1), "int //": lambda: ints // 7,
        "int %": lambda: ints % 7, "int ** 2": lambda: ints ** 2, "float()": lambda: ints.float(),
        "clone": lambda: x.clone(), "index": lambda: x[ints.abs() % n], "mask": lambda: x[x > 0],
        "cat": lambda: lib.cat([x, y]), "stack": lambda: lib.stack([x, y]), "matmul": lambda: m @ m.T,
        "unique": lambda: lib.unique(ints), "quantile": lambda: lib.quantile(x, 0.3),
        "bincount": lambda: lib.bincount(ints.abs()), "round(decimals)": lambda: lib.round(x, decimals=2),
    })
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000, help="elements per tensor")
    parser.add_argument("--top", type=int, default=30, help="rows to print (the largest ratios)")
    args = parser.parse_args()
    if torch is not None:
        torch.set_num_threads(1)
    number = max(3, 600_000 // args.n)
    libs = {"ember": ember} if torch is None else {"ember": ember, "torch": torch}
    results = {}
    for name, lib in libs.items():
        for case, fn in cases(lib, args.n).items():
            fn()
            results.setdefault(case, {})[name] = min(timeit.repeat(fn, number=number, repeat=3)) / number * 1e6
    rows = [(case, r["ember"], r.get("torch")) for case, r in results.items()]
    rows.sort(key=lambda r: -(r[1] / r[2]) if r[2] else 0)
    print(f"{args.n} float32 elements; torch on one thread; us per call")
    print(f"{'op':24s} {'ember':>9s} {'torch':>9s} {'ratio':>7s}")
    for case, e, t in rows[:args.top]:
        print(f"{case:24s} {e:9.2f} {t if t else float('nan'):9.2f} {e / t if t else float('nan'):7.2f}")


if __name__ == "__main__":
    main()
