"""The benchmark suite: every speed and memory target of the project in one table.

    python benchmarks/run.py [--quick] [--cifar ROOT]

Each workload runs ember and torch side by side (interleaved rounds in one process, medians), or
back to back in subprocesses for whole-process figures (peak RSS, import time, the spec's
classifier). Prints: workload, ember, torch, ratio, target, met. With --cifar ROOT (a folder
holding cifar-10-batches-py) it also trains the spec's classifier on it with both libraries.
"""
import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

import lenet  # noqa: E402

import ember  # noqa: E402

try:
    import torch
except ImportError:
    torch = None

ROWS = []


def row(workload, ember_value, torch_value, unit, target, higher_is_better=True):
    """Record one line; target is (comparison, factor) on ember/torch, e.g. ('>=', 1.5)."""
    ratio = ember_value / torch_value if torch_value else None
    op, factor = target
    met = None
    if ratio is not None:
        met = ratio >= factor if op == ">=" else ratio <= factor
    ROWS.append((workload, ember_value, torch_value, unit, ratio, f"{op} {factor}x torch", met))
    print(f"  {workload}: ember {ember_value:.4g} {unit}, torch {torch_value or float('nan'):.4g} {unit}"
          + (f", ratio {ratio:.2f}" if ratio else ""), flush=True)


def train_rates(rounds, seconds):
    for batch in (4, 32, 256):
        for threads, label in ((None, "default threads"), (1, "1 thread")):
            if torch is None and threads == 1:
                continue
            e, t = lenet.compare(batch, rounds, seconds, True, threads)
            target = {4: 1.5, 32: 1.0, 256: 0.8}[batch]
            row(f"train step, batch {batch} (torch {label})", e, t, "img/s", (">=", target))


def eval_rates(rounds, seconds):
    for batch in (4, 1000):
        e, t = lenet.compare(batch, rounds, seconds, False, None)
        row(f"eval, batch {batch}", e, t, "img/s", (">=", 1.0))


def add_overhead(rounds):
    import timeit
    libs = {"ember": ember, "torch": torch} if torch is not None else {"ember": ember}
    fns = {}
    for name, lib in libs.items():
        a = lib.ones(2, 2, requires_grad=True)
        b = lib.ones(2, 2, requires_grad=True)
        fns[name] = (lambda a=a, b=b: a + b)
    times = {name: [] for name in libs}
    for _ in range(rounds):
        for name, fn in fns.items():
            times[name].append(min(timeit.repeat(fn, number=20000, repeat=3)) / 20000 * 1e6)
    row("a + b, 2x2, requires_grad", statistics.median(times["ember"]),
        statistics.median(times["torch"]) if torch is not None else None, "us", ("<=", 1.0))


# VmHWM, not ru_maxrss: Linux carries ru_maxrss over fork+exec from the parent (this script,
# which has both libraries loaded), while VmHWM is the child's own peak.
_RSS_SCRIPT = """
import sys
sys.path[:0] = [{root!r}, {here!r}]
sys.modules[{other!r}] = None  # lenet imports both libraries when it can: keep the other one out
lib = __import__({lib!r})
import lenet
w = lenet.Workload(lib, 256, n_batches=2)  # the data itself: 2 batches (6 MiB)
for _ in range({steps}):
    w.step()
print([int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM")][0] / 1024)
"""


def _subprocess_value(code, env=None):
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600,
                         env=env or dict(os.environ))
    if out.returncode != 0:
        raise RuntimeError(out.stderr)
    return float(out.stdout.strip().splitlines()[-1])


def _each_library(script, steps):
    """{lib: the value script prints} for ember and torch, each alone in a fresh interpreter."""
    vals = {}
    for lib in ("ember", "torch") if torch is not None else ("ember",):
        other = "torch" if lib == "ember" else "ember"
        vals[lib] = _subprocess_value(script.format(root=str(ROOT), here=str(HERE), lib=lib, other=other,
                                                    steps=steps))
    return vals


def peak_rss(steps):
    vals = _each_library(_RSS_SCRIPT, steps)
    row(f"peak RSS, {steps} steps at batch 256", vals["ember"], vals.get("torch"), "MiB", ("<=", 0.5))


_GROWTH_SCRIPT = """
import sys
sys.path[:0] = [{root!r}, {here!r}]
sys.modules[{other!r}] = None
lib = __import__({lib!r})
import lenet
def rss():
    return [int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmRSS")][0] / 1024
w = lenet.Workload(lib, 4)
for _ in range(500):
    w.step()
before = rss()
for _ in range({steps}):
    w.step()
print(rss() - before)
"""


def rss_growth(steps):
    """RSS after `steps` more batch-4 train steps, less RSS after 500 warm-up steps (no leaks)."""
    vals = _each_library(_GROWTH_SCRIPT, steps)
    ROWS.append((f"RSS growth, {steps} steps at batch 4", vals["ember"], vals.get("torch"), "MiB", None,
                 "flat: < 1 MiB", vals["ember"] < 1))
    print(f"  RSS growth over {steps} steps: ember {vals['ember']:.2f} MiB, torch "
          f"{vals.get('torch', float('nan')):.2f} MiB", flush=True)


def import_time(rounds):
    code = "import time, sys; sys.path.insert(0, {root!r}); t = time.perf_counter(); import {lib}; print(time.perf_counter() - t)"
    # torch's bytecode was compiled when pip installed it; ember's, in a source checkout, only once an
    # import writes it, which PYTHONDONTWRITEBYTECODE (set on this machine) prevents: compile it
    # first, as `pip install` would, so both imports are timed from bytecode
    import compileall
    compileall.compile_dir(str(ROOT / "ember"), quiet=1)
    vals = {"ember": [], "torch": []}
    for _ in range(rounds):
        for lib in vals:
            if lib == "torch" and torch is None:
                continue
            vals[lib].append(_subprocess_value(code.format(root=str(ROOT), lib=lib)))
    row("import time", statistics.median(vals["ember"]),
        statistics.median(vals["torch"]) if vals["torch"] else None, "s", ("<=", 0.2))


def loading_fraction():
    """CIFAR10 + ToTensor + Normalize + DataLoader at batch 4, as a fraction of the train step."""
    import tempfile
    from ember.utils.data import DataLoader
    from ember.vision import datasets, transforms
    from tests.vision.cifar_fixture import make_cifar10
    with tempfile.TemporaryDirectory() as root:
        files = make_cifar10(root, n_train=2000, n_test=4, tarball=False)
        cifar = files.dataset_class(datasets.CIFAR10, "http://127.0.0.1:9/")
        tf = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))])
        ds = cifar(root, train=True, transform=tf)
        w = lenet.Workload(ember, 4)

        def per_batch(loader, train):
            start, n = time.perf_counter(), 0
            for x, y in loader:
                if train:
                    w.opt.zero_grad()
                    w.crit(w.net(x), y).backward()
                    w.opt.step()
                n += 1
            return (time.perf_counter() - start) / n
        load = statistics.median(per_batch(DataLoader(ds, batch_size=4, shuffle=True), False) for _ in range(3))
        step = 4 / w.rate(1.0)
        # after a first epoch each: starting the workers (~0.1 s) is a real run's first-epoch cost,
        # spread over 12,500 batches there but over this data's 500 here.  Then epochs of the two
        # loaders in turn, medians of three (one epoch each varied by 10 % or more here)
        loaders = [DataLoader(ds, batch_size=4, shuffle=True, num_workers=n, persistent_workers=n > 0) for n in (0, 2)]
        times = [[per_batch(dl, True)] for dl in loaders]
        for _ in range(3):
            for dl, t in zip(loaders, times):
                t.append(per_batch(dl, True))
        both0, both2 = (statistics.median(t[1:]) for t in times)
    ROWS.append(("loading, batch 4, workers=0 (of train step)", load / step, None, "x", None, "<= 0.25 of step",
                 load / step <= 0.25))
    ROWS.append(("load+train per batch, workers=2 (of step)", both2 / step, None, "x", None, "< workers=0's",
                 both2 < both0))
    print(f"  loading {load * 1e6:.0f} us/batch, train step {step * 1e6:.0f} us; with loading: "
          f"workers=0 {both0 * 1e6:.0f} us, workers=2 {both2 * 1e6:.0f} us", flush=True)


_BUSY = "import os; os.sched_setaffinity(0, {0}); \nwhile True: pass"


def under_load(rounds, seconds):
    """Batch-4 train step with a busy loop pinned to core 0: throughput kept vs quiet."""
    quiet_e, quiet_t = lenet.compare(4, rounds, seconds, True, None)
    busy = subprocess.Popen([sys.executable, "-c", _BUSY])
    try:
        time.sleep(0.5)
        load_e, load_t = lenet.compare(4, rounds, seconds, True, None)
    finally:
        busy.kill()
        busy.wait()
    kept_e = load_e / quiet_e
    kept_t = load_t / quiet_t if quiet_t else None
    ROWS.append(("batch-4 train under load (kept of quiet)", kept_e, kept_t, "x", None, ">= 0.5x quiet",
                 kept_e >= 0.5))
    print(f"  under load: ember keeps {kept_e:.2f} of quiet ({load_e:.0f} img/s), torch "
          f"{kept_t if kept_t is None else round(kept_t, 2)} ({load_t or 0:.0f} img/s)", flush=True)


def classifier(root):
    """The spec's classifier end to end on real CIFAR-10, back to back: wall time and accuracy."""
    import json
    import tempfile
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "ember", "run", str(ROOT / "examples" / "cifar10_classifier.py"),
                        "--data", root, "--no-verify", "--out", out, "--no-plots", "--no-progress"],
                       check=True, capture_output=True, env=dict(os.environ, PYTHONPATH=str(ROOT)))
        e_time = time.perf_counter() - start
        e_acc = json.load(open(os.path.join(out, "summary.json")))["accuracy"]
    t_time = t_acc = None
    if torch is not None:
        start = time.perf_counter()
        res = subprocess.run([sys.executable, str(HERE / "cifar10_torch_reference.py"), "--data", root],
                             check=True, capture_output=True, text=True)
        t_time = time.perf_counter() - start
        t_acc = float(res.stdout.strip().splitlines()[-1].split("accuracy ")[1].split(" %")[0])
    row("spec classifier, 2 epochs batch 4 (wall)", e_time, t_time, "s", ("<=", 0.67))
    ROWS.append(("spec classifier accuracy", e_acc, t_acc, "%", None, "within 2 points",
                 None if t_acc is None else abs(e_acc - t_acc) <= 2))


def table():
    print()
    print(f"{'workload':48s} {'ember':>10s} {'torch':>10s} {'unit':>6s} {'ratio':>7s}  {'target':16s} met")
    for workload, e, t, unit, ratio, target, met in ROWS:
        ts = f"{t:10.4g}" if t is not None else f"{'-':>10s}"
        rs = f"{ratio:7.2f}" if ratio is not None else f"{'':>7s}"
        ms = "-" if met is None else ("yes" if met else "NO")
        print(f"{workload:48s} {e:10.4g} {ts} {unit:>6s} {rs}  {target:16s} {ms}")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="fewer, shorter rounds (a smoke run)")
    p.add_argument("--cifar", default=None, help="root holding cifar-10-batches-py: also time the classifier")
    a = p.parse_args(argv)
    rounds, seconds = (1, 0.2) if a.quick else (5, 0.6)
    print("train steps"); train_rates(rounds, seconds)
    print("eval"); eval_rates(rounds, seconds)
    print("per-op overhead"); add_overhead(rounds)
    print("peak RSS"); peak_rss(20 if a.quick else 200)
    print("RSS growth"); rss_growth(1000 if a.quick else 10000)
    print("import time"); import_time(2 if a.quick else 5)
    print("data loading"); loading_fraction()
    if os.cpu_count() and os.cpu_count() >= 2 and hasattr(os, "sched_setaffinity"):
        print("under load"); under_load(rounds, seconds)
    if a.cifar:
        print("spec classifier"); classifier(a.cifar)
    table()


if __name__ == "__main__":
    main()
