"""torch.autograd.profiler / torch.profiler.profile: the recorded events (names and call counts against real
torch for the ops both record), key_averages, torch's table layout, record_function, and that nothing stays
installed once a profiler has stopped (also after an exception)."""
import re
import sys
import tracemalloc

import numpy as np
import pytest

import ember
import ember.autograd.graph as graph
from ember.autograd import profiler as eprof
from tests.conftest import requires_torch, torch
from tests.lenet import make_net as _lenet

# every op the LeNet step records in both frameworks, with torch's names
# (torch's internal calls are events too: aten::view, recorded inside its convolution as well, is left out)
LENET_SHARED = {"aten::conv2d", "aten::relu", "aten::max_pool2d", "aten::linear",
                "aten::cross_entropy_loss", "autograd::engine::evaluate_function: ConvolutionBackward0",
                "ConvolutionBackward0", "AddmmBackward0", "ReluBackward0", "MaxPool2DWithIndicesBackward0",
                "NllLossBackward0", "LogSoftmaxBackward0", "TBackward0", "ViewBackward0",
                "torch::autograd::AccumulateGrad", "Optimizer.step#SGD.step", "Optimizer.zero_grad#SGD.zero_grad",
                "train_step"}


def _profile_step(lib, **kwargs):
    net = _lenet(lib)
    opt = lib.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    crit = lib.nn.CrossEntropyLoss()
    x = lib.tensor(np.random.default_rng(0).standard_normal((4, 3, 32, 32)).astype(np.float32))
    y = lib.tensor([1, 2, 3, 4])
    with lib.profiler.profile(activities=[lib.profiler.ProfilerActivity.CPU], **kwargs) as prof:
        with lib.profiler.record_function("train_step"):
            opt.zero_grad()
            loss = crit(net(x), y)
            loss.backward()
            opt.step()
    return prof


def _counts(prof):
    return {e.key: e.count for e in prof.key_averages()}


def _assert_uninstalled(saved):
    assert sys.getprofile() is saved[0]
    assert graph._run_lean is saved[1] and graph._apply_general is saved[2]
    assert tracemalloc.is_tracing() is saved[3]
    assert not eprof._active


def _state():
    return sys.getprofile(), graph._run_lean, graph._apply_general, tracemalloc.is_tracing()


@requires_torch
def test_lenet_step_counts_match_torch():
    ours = _counts(_profile_step(ember))
    theirs = _counts(_profile_step(torch))
    shared = set(ours) & set(theirs)
    assert LENET_SHARED <= shared, f"missing: {LENET_SHARED - shared}"
    assert {k: ours[k] for k in LENET_SHARED} == {k: theirs[k] for k in LENET_SHARED}
    assert ours["ConvolutionBackward0"] == 2 and ours["torch::autograd::AccumulateGrad"] == 10
    # and nothing torch does not record (an internal helper once showed up as "aten::fft_record")
    assert set(ours) <= set(theirs), f"only in ember: {set(ours) - set(theirs)}"


@requires_torch
def test_table_header_matches_torch():
    for kwargs in ({}, {"profile_memory": True}):
        ours = _profile_step(ember, **kwargs).key_averages().table(sort_by="self_cpu_time_total", row_limit=4)
        theirs = _profile_step(torch, **kwargs).key_averages().table(sort_by="self_cpu_time_total", row_limit=4)
        ours, theirs = ours.splitlines(), theirs.splitlines()
        assert ours[:3] == theirs[:3] and ours[-2] == theirs[-2]
        assert len(ours) == len(theirs) == 3 + 4 + 2   # header, 4 rows, rule and total
        assert ours[-1].split(":")[0] == theirs[-1].split(":")[0] == "Self CPU time total"
        assert [len(r) for r in ours[3:-2]] == [len(r) for r in theirs[3:-2]]
    assert not any(k.startswith(("Conv2d", "Linear", "Net")) or "Module" in k for k in ours)   # modules: no events


def test_events_nest_and_time_add_up():
    before = _state()
    prof = _profile_step(ember)
    _assert_uninstalled(before)
    events = prof.events()
    step = next(e for e in events if e.name == "train_step")
    assert step.cpu_parent is None and step.is_user_annotation
    names = {e.name for e in step.cpu_children}
    assert {"aten::conv2d", "Optimizer.step#SGD.step",
            "autograd::engine::evaluate_function: ConvolutionBackward0"} <= names
    for e in events:
        assert e.time_range.end >= e.time_range.start
        assert sum(c.cpu_time_total for c in e.cpu_children) <= e.cpu_time_total + 1e-6
    outer = next(e for e in events if e.name == "autograd::engine::evaluate_function: ConvolutionBackward0")
    assert [c.name for c in outer.cpu_children] == ["ConvolutionBackward0"]
    avg = prof.key_averages()
    total = avg.total_average()
    assert total.count == len(events) and total.key == "Total"
    assert abs(avg.self_cpu_time_total - events.self_cpu_time_total) < 1e-3


def test_table_layout_and_options():
    prof = _profile_step(ember)
    text = prof.key_averages().table(sort_by="cpu_time_total", row_limit=5)
    lines = text.splitlines()
    rule = lines[0]
    assert re.fullmatch(r"(-+  )+", rule) and lines[2] == rule and lines[-2] == rule
    assert lines[1].split() == ["Name", "Self", "CPU", "%", "Self", "CPU", "CPU", "total", "%", "CPU", "total",
                                "CPU", "time", "avg", "#", "of", "Calls"]
    assert [len(c) for c in rule.split("  ")[:-1]][1:] == [12] * 6
    rows = lines[3:-2]
    assert len(rows) == 5
    assert lines[-1].startswith("Self CPU time total: ")
    assert rows[0].split()[0] == "train_step" and rows[0].split()[3] == "100.00%"
    totals = [_us(r.split()[-3]) for r in rows]     # CPU total (before avg and calls)
    assert totals == sorted(totals, reverse=True)
    by_calls = prof.key_averages().table(sort_by="count", row_limit=3).splitlines()[3:6]
    assert [int(r.split()[-1]) for r in by_calls] == sorted([int(r.split()[-1]) for r in by_calls], reverse=True)
    long = [r for r in prof.key_averages().table(row_limit=-1).splitlines() if "ConvolutionBack..." in r]
    assert long and all(len(r.split("  ")[0]) == 55 for r in long)   # names cut at torch's 55 columns


def _us(text):
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()
    return float(value) * {"us": 1, "ms": 1e3, "s": 1e6}[unit]


def test_memory_and_shapes_columns():
    prof = _profile_step(ember, record_shapes=True, profile_memory=True)
    header = prof.key_averages().table(row_limit=1).splitlines()[1]
    assert "CPU Mem" in header and "Self CPU Mem" in header and "Input Shapes" not in header
    grouped = prof.key_averages(group_by_input_shape=True)
    header = grouped.table(row_limit=1).splitlines()[1]
    assert header.rstrip().endswith("Input Shapes")
    convs = [e for e in grouped if e.key == "aten::conv2d"]
    assert sorted(str(e.input_shapes) for e in convs) == [
        "[[4, 3, 32, 32], [6, 3, 5, 5], [6], [], [], [], []]", "[[4, 6, 14, 14], [16, 6, 5, 5], [16], [], [], [], []]"]
    conv = next(e for e in prof.key_averages() if e.key == "aten::conv2d")
    assert conv.cpu_memory_usage > 4 * 6 * 28 * 28 * 4     # its output, at least
    assert re.search(r"\d+\.\d\d (KB|MB)", prof.key_averages().table(sort_by="cpu_memory_usage", row_limit=3))


@requires_torch
def test_op_names_for_methods_operators_and_functions():
    def program(lib):
        a = lib.ones(3, 4, requires_grad=True)
        b = lib.ones(4, 2)
        c = (a @ b).relu() + 1
        d = lib.mul(lib.nn.functional.softmax(c, 1), 2).sum() + lib.softmax(c, 0).sum()
        e = a[0] * a[:, 1:].sum()
        return d, e

    def names(lib):
        with lib.autograd.profiler.profile() as prof:
            program(lib)
        return {e.name for e in prof.function_events}
    ours, theirs = names(ember), names(torch)
    with ember.autograd.profiler.profile() as prof:
        program(ember)
    assert sum(e.name == "aten::softmax" for e in prof.function_events) == 2   # F.softmax and torch.softmax
    wanted = {"aten::matmul", "aten::relu", "aten::add", "aten::mul", "aten::sum", "aten::select", "aten::slice",
              "aten::ones", "aten::softmax"}
    assert wanted <= ours & theirs, wanted - (ours & theirs)


def test_record_function_as_decorator_nested_and_idle():
    @eprof.record_function("decorated")
    def work(x):
        return x * 2

    work(ember.ones(2))    # no profiler: a plain call
    with eprof.record_function("idle"):
        pass
    with eprof.profile() as prof:
        with ember.profiler.record_function("outer"):
            with eprof.record_function("inner"):
                work(ember.ones(2))
    events = {e.name: e for e in prof.function_events}
    assert events["inner"].cpu_parent is events["outer"]
    assert events["decorated"].cpu_parent is events["inner"]
    assert events["aten::mul"].cpu_parent is events["decorated"]
    assert "idle" not in events


def test_nothing_left_installed_after_an_exception():
    before = _state()

    class Boom(Exception):
        pass
    with pytest.raises(Boom):
        with ember.profiler.profile(profile_memory=True) as prof:
            x = ember.ones(2, requires_grad=True)
            (x * 3).sum().backward()
            raise Boom
    _assert_uninstalled(before)
    assert "aten::mul" in {e.name for e in prof.events()}
    # an op that raises inside the profile: its event still closes
    with ember.profiler.profile() as prof:
        with pytest.raises(RuntimeError):
            ember.ones(2, 3) @ ember.ones(2, 3)
        ember.ones(1) + 1
    _assert_uninstalled(before)
    mm = next(e for e in prof.events() if e.name == "aten::matmul")
    assert mm.cpu_parent is None and mm.time_range.end >= mm.time_range.start


def test_profiling_keeps_gradients_and_other_profile_functions():
    def calls(frame, event, arg):
        pass
    sys.setprofile(calls)
    try:
        x = ember.tensor([1.0, 2.0], requires_grad=True)
        with ember.profiler.profile():
            (x * x).sum().backward()
        assert sys.getprofile() is calls
    finally:
        sys.setprofile(None)
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 4.0])
    with pytest.raises(RuntimeError, match="already enabled"):
        with ember.profiler.profile():
            with ember.profiler.profile():
                pass
    assert sys.getprofile() is None


def test_with_stack_points_at_the_caller():
    with ember.profiler.profile(with_stack=True) as prof:
        ember.ones(2).exp()
    exp = next(e for e in prof.events() if e.name == "aten::exp")
    assert exp.stack and "test_profiler.py" in exp.stack[0] and "test_with_stack_points_at_the_caller" in exp.stack[0]
    assert "Source Location" in prof.key_averages(group_by_stack_n=2).table().splitlines()[1]


def test_a_step_does_the_same_work_before_and_after_a_profile():
    # the no-cost rule, without timing: the Python and C calls of a train step are counted (the
    # profiler's hooks would add calls, and a check in the ops would add C calls to the count)
    net = _lenet(ember)
    opt = ember.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    x, y = ember.randn(4, 3, 32, 32), ember.tensor([1, 2, 3, 4])

    def step():
        opt.zero_grad()
        ember.nn.functional.cross_entropy(net(x), y).backward()
        opt.step()

    def calls():
        n = [0]

        def count(frame, event, arg):
            n[0] += 1
        sys.setprofile(count)
        try:
            step()
        finally:
            sys.setprofile(None)
        return n[0]
    step()
    step()
    before = calls()
    with ember.profiler.profile(record_shapes=True, profile_memory=True) as prof:
        step()
    assert len(prof.events()) > 50
    assert calls() == before


def test_recorded_events_stay_out_of_the_cyclic_collector():
    # thousands of live event objects made the collector's passes slow, and each pass landed
    # inside whichever op was running (aten::linear 33 -> 162 us on average over 300 LeNet steps):
    # recorded events must not add objects the collector tracks
    import gc
    x = ember.ones(3, requires_grad=True)
    with ember.profiler.profile(record_shapes=True, with_stack=True) as prof:
        (x * 2).sum().backward()   # warm-up: the first events and lazily built state
        gc.collect()
        before = len(gc.get_objects())
        for _ in range(300):
            (x * 2).sum().backward()
        gc.collect()
        grown = len(gc.get_objects()) - before
    assert grown < 50, grown
    names = [e.name for e in prof.events()]
    assert names.count("aten::mul") == 301 and names.count("autograd::engine::evaluate_function: MulBackward0") == 301
    mul = next(e for e in prof.events() if e.name == "aten::mul")
    assert mul.input_shapes[0] == [3] and mul.stack and mul.cpu_parent is None
    evaluate = next(e for e in prof.events() if e.name.startswith("autograd::engine::evaluate_function: Mul"))
    assert [c.name for c in evaluate.cpu_children] == ["MulBackward0"]
    assert evaluate.cpu_children[0].cpu_parent is evaluate
