"""The LeNet train step with no profiler, inside ember.profiler.profile, and after profiles have run.

    python benchmarks/profiler_overhead.py [--batch 4] [--rounds 5] [--seconds 0.4]

ember's profiler installs its hooks (sys.setprofile, the engine's timed loop) only while a profile
records, so the "idle" and "after" rows must match: any gap is machine noise.  CPU-time minima
(time.process_time) over interleaved rounds; set OPENBLAS_NUM_THREADS=1 for steadier numbers.
"""
import argparse
import gc
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import ember  # noqa: E402
from ember.profiler import profile  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from lenet import Workload  # noqa: E402


def step_time(work, seconds):
    """Mean CPU seconds per step over about `seconds`."""
    work.step()
    n, start = 0, time.process_time()
    while time.process_time() - start < seconds:
        work.step()
        n += 1
    return (time.process_time() - start) / n


def calls_per_step(work, steps=10):
    """Python and C function calls per step: a noise-free count of the work done."""
    counts = {"call": 0, "c_call": 0}

    def count(frame, event, arg):
        if event in counts:
            counts[event] += 1
    sys.setprofile(count)
    try:
        for _ in range(steps):
            work.step()
    finally:
        sys.setprofile(None)
    return {k: v / steps for k, v in counts.items()}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--seconds", type=float, default=0.4)
    args = p.parse_args(argv)
    work = Workload(ember, args.batch)
    rows = {"idle (never profiled)": [], "profiling": [], "after profiling": []}
    for _ in range(3):   # first steps make the momentum buffers
        work.step()
    calls_before = calls_per_step(work)
    rows["idle (never profiled)"] = [step_time(work, args.seconds) for _ in range(args.rounds)]
    for _ in range(args.rounds):
        with profile():
            rows["profiling"].append(step_time(work, args.seconds))
        assert sys.getprofile() is None   # nothing left behind
        gc.collect()   # the dropped profile's events (parent <-> child cycles) are not the step's cost
        rows["after profiling"].append(step_time(work, args.seconds))
    calls_after = calls_per_step(work)
    base = min(rows["idle (never profiled)"])
    print(f"LeNet train step, batch {args.batch} (CPU time, min of {args.rounds}):")
    for name, times in rows.items():
        print(f"  {name:<24} {min(times) * 1e3:8.3f} ms  x{min(times) / base:.2f}")
    print(f"Python/C calls per step: before any profile {calls_before}, after {calls_after}")


if __name__ == "__main__":
    main()
