"""torch.profiler: profile with schedules and steps, record_function, trace handlers.

The recording itself is ember.autograd.profiler's (installed only while a schedule's step warms up or
records, removed otherwise: an idle or finished profiler costs nothing).  CPU activity only, on the
thread that runs the profiler.
"""
import enum
import gzip
import json
import os
import socket
import time
import warnings

from ..autograd import profiler as _prof
from ..autograd.profiler import record_function  # noqa: F401
from ..autograd.profiler_util import _chrome_trace

__all__ = ["profile", "record_function", "schedule", "ProfilerActivity", "ProfilerAction",
           "tensorboard_trace_handler", "supported_activities", "_KinetoProfile"]


class ProfilerActivity(enum.Enum):
    """The kinds of activity a profile can record (ember records CPU)."""
    CPU = 0
    XPU = 1
    MTIA = 2
    CUDA = 3
    HPU = 4
    PrivateUse1 = 5

    @property
    def name(self):
        return self._name_

    def __repr__(self):
        return f"<ProfilerActivity.{self._name_}: {self._value_}>"


class ProfilerAction(enum.Enum):
    """What a schedule asks the profiler to do at a step."""
    NONE = 0
    WARMUP = 1
    RECORD = 2
    RECORD_AND_SAVE = 3
    DEVICE_STOPPED = 4


def supported_activities():
    """The activities ember can profile: the CPU."""
    return {ProfilerActivity.CPU}


def schedule(*, wait, warmup, active, repeat=0, skip_first=0, skip_first_wait=0):
    """A step -> ProfilerAction function: skip_first steps, then cycles of wait, warmup, active (repeat times,
    0 = forever); the last active step of a cycle is RECORD_AND_SAVE."""
    if wait < 0 or warmup < 0 or active <= 0 or repeat < 0 or skip_first < 0:
        raise AssertionError(
            f"Invalid profiler schedule arguments. Got wait={wait} (need >= 0), warmup={warmup} (need >= 0), "
            f"active={active} (need > 0), repeat={repeat} (need >= 0), skip_first={skip_first} (need >= 0).")
    if warmup == 0:
        warnings.warn("Profiler won't be using warmup, this can skew profiler results", stacklevel=2)

    def schedule_fn(step):
        if step < 0:
            raise AssertionError(f"Step must be non-negative. Got {step}.")
        if step < skip_first:
            return ProfilerAction.NONE
        step -= skip_first
        if skip_first_wait != 0:   # the first cycle starts without its wait
            step += wait
        cycle = wait + warmup + active
        if repeat > 0 and step / cycle >= repeat:
            return ProfilerAction.NONE
        at = step % cycle
        if at < wait:
            return ProfilerAction.NONE
        if at < wait + warmup:
            return ProfilerAction.WARMUP
        return ProfilerAction.RECORD if at < cycle - 1 else ProfilerAction.RECORD_AND_SAVE
    return schedule_fn


def _default_schedule_fn(_):
    return ProfilerAction.RECORD


def tensorboard_trace_handler(dir_name, worker_name=None, use_gzip=False, use_python_export=False):
    """An on_trace_ready handler writing each trace to dir_name/<worker>.<ns>.pt.trace.json[.gz]."""

    def handler_fn(prof):
        nonlocal worker_name
        if not os.path.isdir(dir_name):
            try:
                os.makedirs(dir_name, exist_ok=True)
            except Exception as e:
                raise RuntimeError("Can't create directory: " + dir_name) from e
        if not worker_name:
            worker_name = f"{socket.gethostname()}_{os.getpid()}"
        file_name = f"{worker_name}.{time.time_ns()}.pt.trace.json"
        if use_gzip:
            file_name += ".gz"
        prof.export_chrome_trace(os.path.join(dir_name, file_name))
    return handler_fn


class _KinetoProfile:
    """The low-level profiler: start() / stop() around the code, then events, tables and traces."""

    def __init__(self, *, activities=None, record_shapes=False, profile_memory=False, with_stack=False,
                 with_flops=False, with_modules=False, experimental_config=None, execution_trace_observer=None,
                 acc_events=False, custom_trace_id_callback=None, post_processing_timeout_s=None):
        self.activities = set(activities) if activities else supported_activities()
        for a in self.activities:
            if not isinstance(a, (ProfilerActivity, dict)):
                raise TypeError(f"profile(): activities must be ProfilerActivity values (got {a!r})")
        self.record_shapes = record_shapes
        self.profile_memory = profile_memory
        self.with_stack = with_stack
        self.with_flops = with_flops
        self.with_modules = with_modules
        self.profiler = None
        self._recorder = None

    def start(self):
        """Begin recording (prepare and start the trace)."""
        self.prepare_trace()
        self.start_trace()

    def stop(self):
        """End recording."""
        self.stop_trace()

    def prepare_trace(self):
        """Install the recording hooks (warmup: events are kept only from start_trace on)."""
        if self._recorder is None:
            self.profiler = _prof.profile(record_shapes=self.record_shapes, profile_memory=self.profile_memory,
                                          with_stack=self.with_stack, with_flops=self.with_flops)
            self.profiler._start()
            self._recorder = self.profiler._recorder

    def start_trace(self):
        """Keep events from now on."""
        if self._recorder is None:
            self.prepare_trace()
        self._recorder.clear()

    def stop_trace(self):
        """Remove the hooks; the events become this profile's."""
        if self._recorder is not None:
            self.profiler._stop()
            self._recorder = None

    def events(self):
        """The recorded events (an EventList)."""
        if self.profiler is None or self.profiler.function_events is None:
            raise AssertionError("events() is available after the profiler has stopped recording a trace")
        return self.profiler.function_events

    def key_averages(self, group_by_input_shape=False, group_by_stack_n=0, group_by_overload_name=False):
        """The events averaged per name (and per input shapes / stack when asked)."""
        return self.events().key_averages(group_by_input_shape, group_by_stack_n, group_by_overload_name)

    def export_chrome_trace(self, path):
        """Write the trace as Chrome trace JSON (gzip-compressed when path ends with .gz)."""
        trace = _chrome_trace(self.events())
        if path.endswith(".gz"):
            with gzip.open(path, "wt") as f:
                json.dump(trace, f)
        else:
            with open(path, "w") as f:
                json.dump(trace, f)

    def export_stacks(self, path, metric="self_cpu_time_total"):
        """Write 'frame;frame;... time' lines (flame-graph input) for events recorded with with_stack."""
        with open(path, "w") as f:
            for evt in self.events():
                if evt.stack:
                    f.write(";".join(reversed(evt.stack)) + f";{evt.name} {int(getattr(evt, metric))}\n")


class profile(_KinetoProfile):
    """torch.profiler.profile: a context manager recording ember's ops, autograd nodes, optimizer steps and
    record_function regions; with a schedule, prof.step() moves through wait / warmup / active steps and
    on_trace_ready(prof) is called at the end of each active cycle."""

    def __init__(self, *, activities=None, schedule=None, on_trace_ready=None, record_shapes=False,
                 profile_memory=False, with_stack=False, with_flops=False, with_modules=False,
                 experimental_config=None, execution_trace_observer=None, acc_events=False, use_cuda=None,
                 custom_trace_id_callback=None, post_processing_timeout_s=None):
        if use_cuda is not None:
            warnings.warn("The use_cuda parameter is deprecated, please use activities argument instead.",
                          FutureWarning, stacklevel=2)
        super().__init__(activities=activities, record_shapes=record_shapes, profile_memory=profile_memory,
                         with_stack=with_stack, with_flops=with_flops, with_modules=with_modules)
        if schedule:
            self.schedule = schedule
            self.record_steps = True
        else:
            self.schedule = _default_schedule_fn
            self.record_steps = False
        self.on_trace_ready = on_trace_ready
        self.step_num = 0
        self.current_action = self.schedule(self.step_num)
        self.step_rec_fn = None
        A = ProfilerAction
        prep, start, stop, ready = self.prepare_trace, self.start_trace, self.stop_trace, self._trace_ready
        # what to do between two steps' actions (None: the profiler is stopping), as torch
        self.action_map = {
            (A.NONE, A.NONE): [], (A.NONE, A.WARMUP): [prep], (A.NONE, A.RECORD): [prep, start],
            (A.NONE, A.RECORD_AND_SAVE): [prep, start],
            (A.WARMUP, A.NONE): [self._warn_warmup_none, start, stop], (A.WARMUP, A.WARMUP): [],
            (A.WARMUP, A.RECORD): [start], (A.WARMUP, A.RECORD_AND_SAVE): [start],
            (A.RECORD, A.NONE): [self._warn_record_none, stop], (A.RECORD, A.WARMUP): [self._warn_record_warmup, stop],
            (A.RECORD, A.RECORD): [], (A.RECORD, A.RECORD_AND_SAVE): [],
            (A.RECORD_AND_SAVE, A.NONE): [stop, ready], (A.RECORD_AND_SAVE, A.WARMUP): [stop, ready, prep],
            (A.RECORD_AND_SAVE, A.RECORD): [stop, ready, prep, start],
            (A.RECORD_AND_SAVE, A.RECORD_AND_SAVE): [stop, ready, prep, start],
            (A.WARMUP, None): [start, stop], (A.RECORD, None): [stop, ready],
            (A.RECORD_AND_SAVE, None): [stop, ready], (A.NONE, None): [],
        }

    @staticmethod
    def _warn_warmup_none():
        warnings.warn("Incorrect schedule: WARMUP followed by NONE", stacklevel=4)

    @staticmethod
    def _warn_record_none():
        warnings.warn("Incorrect schedule: RECORD followed by NONE", stacklevel=4)

    @staticmethod
    def _warn_record_warmup():
        warnings.warn("Incorrect schedule: RECORD followed by WARMUP", stacklevel=4)

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, exc_type, exc_val, exc_tb):
        self.stop()

    def start(self):
        """Enter the schedule's action for the current step (and its ProfilerStep# region)."""
        self._transit_action(ProfilerAction.NONE, self.current_action)
        if self.record_steps:
            self.step_rec_fn = record_function("ProfilerStep#" + str(self.step_num))
            self.step_rec_fn.__enter__()

    def stop(self):
        """Leave the current action: hooks removed, a pending trace handed to on_trace_ready."""
        try:
            if self.record_steps and self.step_rec_fn:
                self.step_rec_fn.__exit__(None, None, None)
                self.step_rec_fn = None
        finally:
            try:
                self._transit_action(self.current_action, None)
            finally:
                if self._recorder is not None:   # an on_trace_ready that raised must not leave hooks behind
                    self.stop_trace()

    def step(self):
        """Signal that the next step starts: move to the schedule's action for it."""
        if self.record_steps and self.step_rec_fn:
            self.step_rec_fn.__exit__(None, None, None)
            self.step_rec_fn = None
        prev_action = self.current_action
        self.step_num += 1
        self.current_action = self.schedule(self.step_num)
        self._transit_action(prev_action, self.current_action)
        if self.record_steps:
            self.step_rec_fn = record_function("ProfilerStep#" + str(self.step_num))
            self.step_rec_fn.__enter__()

    def _trace_ready(self):
        if self.on_trace_ready:
            self.on_trace_ready(self)

    def _transit_action(self, prev_action, current_action):
        for action in self.action_map.get((prev_action, current_action), []):
            action()
