"""ember.utils.benchmark: Timer's loop structure, Measurement's statistics and repr, Compare's table.

No wall-clock assertions: as torch's own tests, the Timer runs on a fake clock that the timed
statement itself advances, so every count and every printed digit is deterministic.  Where torch
is installed, torch.utils.benchmark runs the same statements on the same clock and must print
the same text.
"""
import re

import pytest

from ember import _threads
import ember.utils.benchmark as eb
from tests.conftest import torch

real_torch = torch if torch is not None and not getattr(torch, "__ember__", False) else None
requires_torch = pytest.mark.skipif(real_torch is None, reason="PyTorch (the test oracle) is not installed")
if real_torch is not None:
    import torch.utils.benchmark  # noqa: F401  (torch imports it on demand)


class FakeClock:
    """A clock that moves only when the statement calls advance(); costs cycle through a list."""

    def __init__(self, costs=(1e-6,)):
        self.t = 0.0
        self.costs = list(costs)
        self.runs = 0

    def __call__(self):
        return self.t

    def advance(self):
        self.t += self.costs[self.runs % len(self.costs)]
        self.runs += 1


def _timer(module, costs=(1e-6,), **kwargs):
    clock = FakeClock(costs)
    kwargs.setdefault("stmt", "clock.advance()")
    return module.Timer(timer=clock, globals={"clock": clock}, **kwargs), clock


def _strip(text):
    return re.sub(r"object at 0x[0-9a-f]+>", "object at 0x?>", text)


# ---- Timer ---------------------------------------------------------------------------------------
def test_timeit_warms_up_then_measures_once():
    t, clock = _timer(eb, label="Add", sub_label="float", description="n=4")
    m = t.timeit(100)
    assert clock.runs == 2 + 100  # warmup max(100 // 100, 2), then the measured runs
    assert m.number_per_run == 100 and m.raw_times == [pytest.approx(1e-4)] and m.times == [pytest.approx(1e-6)]
    assert (m.label, m.sub_label, m.description, m.num_threads, m.env) == ("Add", "float", "n=4", 1, None)
    assert _strip(repr(m)) == ("<torch.utils.benchmark.utils.common.Measurement object at 0x?>\n"
                               "Add: float\n"
                               "n=4\n"
                               "  1.00 us\n"
                               "  1 measurement, 100 runs , 1 thread")


def test_blocked_autorange_block_size_and_replicates():
    t, clock = _timer(eb)
    calls = []
    m = t.blocked_autorange(callback=lambda number, time: calls.append((number, time)))
    # timer overhead is 0 (floored at 1 ns): the block grows by 10x until overhead <= 1e-4 of a block and a
    # block is >= min_run_time / 1000 (0.2 ms) -> 1000 runs of 1 us; then blocks until 0.2 s is spent
    assert m.number_per_run == 1000
    assert len(m.raw_times) == len(calls) == 200 and set(n for n, _ in calls) == {1000}
    assert m.median == pytest.approx(1e-6) and m.iqr == pytest.approx(0, abs=1e-15)
    assert clock.runs == 1 + 10 + 100 + 1000 + 200 * 1000
    assert _strip(repr(m)).endswith("  Median: 1.00 us\n  IQR:    0.00 us (1.00 to 1.00)\n"
                                    "  200 measurements, 1000 runs per measurement, 1 thread")


def test_adaptive_autorange_stops_when_spread_is_small():
    t, clock = _timer(eb)
    m = t.adaptive_autorange(threshold=0.1, min_run_time=0.01)
    # block size from a 0.05 s target: 100 runs (0.1 ms); then blocks until 0.01 s and at least 4 (the
    # float sum of 100 blocks falls just short of 0.01, so 101, as in torch)
    assert m.number_per_run == 100 and len(m.raw_times) == 101
    # a noisy statement never meets the threshold: max_run_time ends it
    t, clock = _timer(eb, costs=(1e-6, 5e-6, 1e-6, 9e-6, 2e-6, 1e-6, 30e-6))  # 7 does not divide a block
    m = t.adaptive_autorange(threshold=0.01, min_run_time=0.001, max_run_time=0.02)
    assert sum(m.raw_times) > 0.02 and not m.meets_confidence(0.01)


@requires_torch
@pytest.mark.parametrize("method", ["timeit", "blocked_autorange", "adaptive_autorange"])
def test_timer_same_as_torch(method):
    costs = (1e-6, 3e-6, 2e-6, 8e-6, 1e-6, 1e-6, 4e-6)
    kwargs = dict(label="lbl", sub_label="sub", description="d", setup="x = 1", num_threads=2)
    args = {"timeit": (50,), "blocked_autorange": (), "adaptive_autorange": ()}[method]
    te, ce = _timer(eb, costs, **kwargs)
    tt, ct = _timer(real_torch.utils.benchmark, costs, **kwargs)
    me, mt = getattr(te, method)(*args), getattr(tt, method)(*args)
    assert ce.runs == ct.runs and me.number_per_run == mt.number_per_run
    assert me.raw_times == pytest.approx(mt.raw_times)
    assert _strip(repr(me)) == _strip(repr(mt))


def test_num_threads_applies_while_timing_only():
    before = _threads._requested
    seen = []
    t = eb.Timer("seen.append(ember.get_num_threads())", globals={"seen": seen}, num_threads=3)
    t.timeit(3)
    assert set(seen) == {3} and _threads._requested == before
    assert eb.Timer("torch.ones(1)").timeit(1).number_per_run == 1  # `torch` names ember in the statement


def test_timer_argument_errors():
    with pytest.raises(ValueError, match="Currently only a `str` stmt is supported."):
        eb.Timer(lambda: None)
    with pytest.raises(ValueError, match="global_setup is C\\+\\+ only"):
        eb.Timer("pass", global_setup="#include <x>")
    with pytest.raises(NotImplementedError, match="ember has no C\\+\\+ frontend"):
        eb.Timer("pass", language="c++")
    with pytest.raises(ValueError, match="Invalid language `fortran`."):
        eb.Timer("pass", language="fortran")
    t = eb.Timer("pass")
    for call in (t.repeat, t.autorange):
        with pytest.raises(NotImplementedError, match="See `Timer.blocked_autorange.`"):
            call()
    # stmt and setup are dedented and stripped as torch does
    t = eb.Timer("\n    a = 1\n    b = a\n", setup="\n  c = 2\n")
    assert t._task_spec.stmt == "a = 1\nb = a" and t._task_spec.setup == "c = 2"


# ---- Measurement ---------------------------------------------------------------------------------
def _m(module, times, number=1, **spec):
    spec.setdefault("stmt", "f(x)")
    spec.setdefault("setup", "pass")
    return module.Measurement(number, list(times), module.TaskSpec(**spec))


def test_measurement_statistics_and_repr():
    m = _m(eb, [4e-6, 1e-6, 2e-6, 3e-6, 10e-6], number=2, label="L", setup="a = 1\nb = 2", num_threads=4)
    assert m.times == pytest.approx([2e-6, 0.5e-6, 1e-6, 1.5e-6, 5e-6])
    assert m.median == pytest.approx(1.5e-6) and m.mean == pytest.approx(2e-6)
    assert m.iqr == pytest.approx(1e-6)  # 2.0 - 1.0 us (linear interpolation, as torch.quantile)
    assert m.has_warnings and not m.meets_confidence() and m.significant_figures == 1
    assert _strip(repr(m)) == (
        "<torch.utils.benchmark.utils.common.Measurement object at 0x?>\n"
        "L\n"
        "setup:\n"
        "  a = 1\n"
        "  b = 2\n"
        "\n"
        "  Median: 1.50 us\n"
        "  IQR:    1.00 us (1.00 to 2.00)\n"
        "  5 measurements, 2 runs per measurement, 4 threads\n"
        "  WARNING: Interquartile range is 66.7% of the median measurement.\n"
        "           This suggests significant environmental influence.")
    quiet = _m(eb, [1.00e-3, 1.01e-3, 1.02e-3, 1.03e-3], stmt="a\nb")
    assert not quiet.has_warnings and quiet.significant_figures == 2
    assert _strip(repr(quiet)).split("\n")[1:] == ["stmt:", "  a", "  b", "", "  Median: 1.02 ms",
                                                   "  IQR:    0.01 ms (1.01 to 1.02)",
                                                   "  4 measurements, 1 runs per measurement, 1 thread"]
    merged = eb.Measurement.merge([_m(eb, [2e-6], number=2), _m(eb, [3e-6]), _m(eb, [5e-6], label="other")])
    assert [x.times for x in merged] == [pytest.approx([1e-6, 3e-6]), pytest.approx([5e-6])]
    assert merged[0].number_per_run == 1 and merged[0].metadata is None


@requires_torch
def test_measurement_same_as_torch():
    tb = real_torch.utils.benchmark
    cases = [([1e-6], 1, {}), ([1e-6, 2e-6], 10, {"sub_label": "s"}), ([1e-9, 1.1e-9, 1.2e-9, 5e-9], 1, {}),
             ([0.5, 0.7, 0.6, 0.55, 0.9, 1.3], 3, {"label": "slow", "description": "big"}),
             ([1e-3 * (1 + 0.001 * i) for i in range(40)], 100, {"env": "A"})]
    for times, number, spec in cases:
        e, t = _m(eb, times, number, **spec), _m(tb, times, number, **spec)
        for attr in ("median", "iqr", "significant_figures", "has_warnings", "title", "as_row_name", "env"):
            assert getattr(e, attr) == pytest.approx(getattr(t, attr)) if isinstance(getattr(t, attr), float) \
                else getattr(e, attr) == getattr(t, attr), attr
        assert e.mean == pytest.approx(t.mean, rel=1e-12)
        assert _strip(repr(e)) == _strip(repr(t))
    for x in (3.14159, 0.000123456, 98765.4, 1.0, 999.95):
        for n in (1, 2, 3, 4):
            assert eb.trim_sigfig(x, n) == tb.trim_sigfig(x, n)
    for t in (1e-9, 5e-8, 1e-6, 999e-9, 1e-3, 0.5, 1.0, 12.0):
        assert eb.select_unit(t) == tb.select_unit(t)


def test_helpers():
    assert eb.select_unit(1.5e-6) == ("us", 1e-6) and eb.select_unit(2.0) == ("s", 1)
    assert eb.select_unit(1e-6) == ("us", 1e-6) and eb.select_unit(1e-3) == ("ms", 1e-3)  # at the boundary
    assert eb.unit_to_english("ms") == "millisecond"
    assert eb.trim_sigfig(3.14159, 2) == pytest.approx(3.1) and eb.trim_sigfig(98765, 2) == 99000
    assert eb.ordered_unique([3, 1, 3, 2, 1]) == [3, 1, 2]


# ---- Compare -------------------------------------------------------------------------------------
def _results(module):
    out = []
    for threads in (1, 4):
        for sub, scale in (("float", 1.0), ("int", 2.5)):
            for desc, size in (("n=1", 1), ("n=64", 64)):
                base = 1e-6 * scale * size / threads
                out.append(_m(module, [base, base * 1.01, base * 1.02, base * (1.5 if size == 64 else 1.03)],
                              label="add", sub_label=sub, description=desc, num_threads=threads))
    out.append(_m(module, [2e-3, 2.1e-3], label="mul", sub_label="float", description="n=1"))
    return out


EXPECTED_TABLE = """\
[-------------- add --------------]
             |   n=1    |    n=64  
1 threads: ------------------------
      float  |  1015.0  |   64960.0
      int    |  2537.5  |  162400.0
4 threads: ------------------------
      float  |   253.8  |   16240.0
      int    |   634.4  |   40600.0

Times are in nanoseconds (ns).

[------ mul ------]
             |  n=1
1 threads: --------
      float  |  2.0

Times are in milliseconds (ms).
"""


def test_compare_table(capsys):
    c = eb.Compare(_results(eb))
    assert str(c) == EXPECTED_TABLE
    c.print()
    assert capsys.readouterr().out == EXPECTED_TABLE + "\n"
    with pytest.raises(ValueError, match="Expected an instance of `Measurement`"):
        c.extend_results([1.0])
    c.trim_significant_figures()
    c.highlight_warnings()
    text = str(c)
    assert "(! " in text and "(! XX%) Measurement has high variance, where XX is the IQR / median * 100.\n" in text
    c.colorize(rowwise=True)
    assert "\033[92m" in str(c)


@requires_torch
@pytest.mark.parametrize("mode", ["plain", "trim", "warn", "color_col", "color_row"])
def test_compare_same_as_torch(mode):
    tb = real_torch.utils.benchmark
    extra = [dict(label="env", sub_label="s", description="d", env=env) for env in ("A", "BB")]
    tables = []
    for module in (eb, tb):
        results = _results(module) + [_m(module, [1e-6 * (i + 1), 1.2e-6 * (i + 1)], **spec)
                                      for i, spec in enumerate(extra)]
        c = module.Compare(results)
        if mode == "trim":
            c.trim_significant_figures()
        if mode == "warn":
            c.highlight_warnings()
        if mode.startswith("color"):
            c.colorize(rowwise=mode == "color_row")
        tables.append(str(c))
    assert tables[0] == tables[1]
