"""torch.profiler: schedules (against torch.profiler.schedule's actions), step() and on_trace_ready (against
torch's ProfilerStep# regions and handler calls), Chrome traces and tensorboard_trace_handler's files."""
import gzip
import json
import os
import sys
import warnings

import pytest

import ember
from ember import profiler as P
from tests.conftest import requires_torch, torch

SCHEDULES = [dict(wait=1, warmup=1, active=2), dict(wait=1, warmup=1, active=2, repeat=2),
             dict(wait=2, warmup=1, active=1, repeat=1, skip_first=3), dict(wait=0, warmup=2, active=3, repeat=3),
             dict(wait=3, warmup=1, active=2, skip_first=2, skip_first_wait=1)]


@requires_torch
@pytest.mark.parametrize("kw", SCHEDULES, ids=str)
def test_schedule_actions_match_torch(kw):
    ours, theirs = P.schedule(**kw), torch.profiler.schedule(**kw)
    assert [ours(i).name for i in range(30)] == [theirs(i).name for i in range(30)]


def test_schedule_checks_arguments_as_torch():
    with pytest.raises(AssertionError, match="active=0 \\(need > 0\\)"):
        P.schedule(wait=0, warmup=1, active=0)
    with pytest.warns(UserWarning, match="won't be using warmup"):
        P.schedule(wait=1, warmup=0, active=1)
    with pytest.raises(AssertionError, match="non-negative"):
        P.schedule(wait=1, warmup=1, active=1)(-1)
    assert P.ProfilerActivity.CPU in P.supported_activities()


def _run(lib, kw, steps=9):
    """The steps each on_trace_ready saw (from their ProfilerStep# regions) and the profiler's final state."""
    seen = []

    def ready(prof):
        seen.append(sorted((e.key, e.count) for e in prof.key_averages() if e.key in ("ProfilerStep*", "aten::mul")))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sched = lib.profiler.schedule(**kw)
    x = lib.ones(3)
    with lib.profiler.profile(activities=[lib.profiler.ProfilerActivity.CPU], schedule=sched,
                              on_trace_ready=ready) as prof:
        for _ in range(steps):
            x = x * 2
            prof.step()
    return seen, prof.step_num


@requires_torch
@pytest.mark.parametrize("kw", SCHEDULES, ids=str)
def test_steps_and_trace_ready_match_torch(kw):
    assert _run(ember, kw) == _run(torch, kw)


def test_hooks_installed_only_while_warming_up_or_recording():
    states = []
    with P.profile(schedule=P.schedule(wait=1, warmup=1, active=1, repeat=1)) as prof:
        for _ in range(4):
            states.append(sys.getprofile() is not None)
            prof.step()
        states.append(sys.getprofile() is not None)
    assert states == [False, True, True, False, False]
    assert sys.getprofile() is None
    events = [e.trace_name for e in prof.events()]
    assert "ProfilerStep#2" in events and "ProfilerStep#1" not in events   # the warmup step is dropped
    assert {e.key for e in prof.key_averages()} >= {"ProfilerStep*"}


def test_on_trace_ready_error_leaves_nothing_installed():
    def bad(prof):
        raise ValueError("handler failed")
    with pytest.raises(ValueError, match="handler failed"):
        with P.profile(on_trace_ready=bad):
            ember.ones(2) + 1
    assert sys.getprofile() is None and not ember.autograd.profiler._active


def test_chrome_trace_is_valid_json(tmp_path):
    x = ember.ones(4, 4, requires_grad=True)
    with P.profile(record_shapes=True) as prof:
        with P.record_function("region"):
            (x @ x).relu().sum().backward()
    path = tmp_path / "trace.json"
    prof.export_chrome_trace(str(path))
    trace = json.loads(path.read_text())
    events = trace["traceEvents"]
    names = {e["name"] for e in events}
    assert {"region", "aten::matmul", "aten::relu", "MmBackward0", "autograd::engine::evaluate_function: MmBackward0"} \
        <= names
    for e in events:
        assert e["ph"] == "X" and e["dur"] >= 0 and isinstance(e["ts"], (int, float))
    region = next(e for e in events if e["name"] == "region")
    assert region["cat"] == "user_annotation"
    mm = next(e for e in events if e["name"] == "aten::matmul")
    assert mm["cat"] == "cpu_op" and mm["args"]["Input Dims"] == [[4, 4], [4, 4]]
    assert region["ts"] <= mm["ts"] and mm["ts"] + mm["dur"] <= region["ts"] + region["dur"] + 1e-3
    gz = tmp_path / "trace.json.gz"
    prof.export_chrome_trace(str(gz))
    with gzip.open(gz, "rt") as f:
        assert len(json.load(f)["traceEvents"]) == len(events)
    legacy = tmp_path / "legacy.json"
    prof.profiler.export_chrome_trace(str(legacy))
    assert json.loads(legacy.read_text())["traceEvents"]


def test_tensorboard_trace_handler_writes_a_trace_per_cycle(tmp_path):
    out = tmp_path / "tb" / "run"
    with P.profile(schedule=P.schedule(wait=0, warmup=1, active=1, repeat=2),
                   on_trace_ready=P.tensorboard_trace_handler(str(out), worker_name="w0")) as prof:
        for _ in range(5):
            ember.ones(3).exp()
            prof.step()
    files = sorted(os.listdir(out))
    assert len(files) == 2 and all(f.startswith("w0.") and f.endswith(".pt.trace.json") for f in files)
    for f in files:
        assert any(e["name"] == "aten::exp" for e in json.loads((out / f).read_text())["traceEvents"])
