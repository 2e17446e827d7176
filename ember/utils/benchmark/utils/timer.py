"""Timer (torch.utils.benchmark.utils.timer): timeit.Timer with warmup, thread control and replicates."""
import enum
import textwrap
import timeit

from .... import accelerator as _accelerator
from . import common

__all__ = ["Timer", "timer", "Language"]


def timer():
    """timeit.default_timer, after waiting for the accelerator's queued work (if one is in use)."""
    if _accelerator.is_available():
        _accelerator.synchronize()
    return timeit.default_timer()


class Language(enum.Enum):
    """The language of stmt: ember times Python only."""
    PYTHON = 0
    CPP = 1


class Timer:
    """Measure the execution time of stmt (after setup), torch.utils.benchmark.Timer.

    Args: stmt and setup (code strings), global_setup (C++ only: must be empty), timer (the clock),
    globals (the namespace stmt runs in; ``torch`` and ``ember`` are added), label, sub_label,
    description, env (how Measurement and Compare name and group the result), num_threads (BLAS
    threads while timing, default 1).
    """

    _timer_cls = timeit.Timer

    def __init__(self, stmt="pass", setup="pass", global_setup="", timer=timer, globals=None, label=None,
                 sub_label=None, description=None, env=None, num_threads=1, language=Language.PYTHON):
        if not isinstance(stmt, str):
            raise ValueError("Currently only a `str` stmt is supported.")
        import ember
        self._globals = dict(globals or {})
        if language in (Language.PYTHON, "py", "python"):
            # torch adds itself as `torch`; ember answers to both names, so a statement copied from
            # a torch benchmark runs unchanged
            self._globals.setdefault("torch", ember)
            self._globals.setdefault("ember", ember)
            self._language = Language.PYTHON
            if global_setup:
                raise ValueError(f"global_setup is C++ only, got `{global_setup}`. Most "
                                 "likely this code can simply be moved to `setup`.")
        elif language in (Language.CPP, "cpp", "c++"):
            raise NotImplementedError("Timer(language='c++') compiles the statement against libtorch; ember has no "
                                      "C++ frontend: time the Python statement instead (language='python').")
        else:
            raise ValueError(f"Invalid language `{language}`.")

        stmt = textwrap.dedent(stmt)
        stmt = (stmt[1:] if stmt and stmt[0] == "\n" else stmt).rstrip()
        setup = textwrap.dedent(setup)
        setup = (setup[1:] if setup and setup[0] == "\n" else setup).rstrip()
        self._timer = self._timer_cls(stmt=stmt, setup=setup, timer=timer, globals=self._globals)
        self._task_spec = common.TaskSpec(stmt=stmt, setup=setup, global_setup=global_setup, label=label,
                                          sub_label=sub_label, description=description, env=env,
                                          num_threads=num_threads)

    def _timeit(self, number):
        # never 0: Measurement divides by it
        return max(self._timer.timeit(number), 1e-9)

    def timeit(self, number=1000000):
        """Run stmt number times (after a warmup of number // 100, at least 2) and return one Measurement."""
        with common.set_torch_threads(self._task_spec.num_threads):
            self._timeit(number=max(int(number // 100), 2))
            return common.Measurement(number_per_run=number, raw_times=[self._timeit(number=number)],
                                      task_spec=self._task_spec)

    def repeat(self, repeat=-1, number=-1):
        """Not provided, as in torch: blocked_autorange measures replicates."""
        raise NotImplementedError("See `Timer.blocked_autorange.`")

    def autorange(self, callback=None):
        """Not provided, as in torch: blocked_autorange measures replicates."""
        raise NotImplementedError("See `Timer.blocked_autorange.`")

    def _threaded_measurement_loop(self, number, time_hook, stop_hook, min_run_time, max_run_time=None,
                                   callback=None):
        total_time = 0.0
        can_stop = False
        times = []
        with common.set_torch_threads(self._task_spec.num_threads):
            while (total_time < min_run_time) or (not can_stop):
                time_spent = time_hook()
                times.append(time_spent)
                total_time += time_spent
                if callback:
                    callback(number, time_spent)
                can_stop = stop_hook(times)
                if max_run_time and total_time > max_run_time:
                    break
        return times

    def _estimate_block_size(self, min_run_time):
        with common.set_torch_threads(self._task_spec.num_threads):
            # the timer's own cost: median of five empty runs
            overhead = sorted(self._timeit(0) for _ in range(5))[2]
            number = 1
            while True:
                time_taken = self._timeit(number)
                relative_overhead = overhead / time_taken
                if relative_overhead <= 1e-4 and time_taken >= min_run_time / 1000:
                    break
                if time_taken > min_run_time:
                    break
                # the loop count is a C int inside timeit
                if number * 10 > 2147483647:
                    break
                number *= 10
        return number

    def blocked_autorange(self, callback=None, min_run_time=0.2):
        """Replicates of a block of runs (sized so the timer's overhead is under 0.01%) for min_run_time seconds."""
        number = self._estimate_block_size(min_run_time)
        times = self._threaded_measurement_loop(number, lambda: self._timeit(number), lambda times: True,
                                                min_run_time=min_run_time, callback=callback)
        return common.Measurement(number_per_run=number, raw_times=times, task_spec=self._task_spec)

    def adaptive_autorange(self, threshold=0.1, *, min_run_time=0.01, max_run_time=10.0, callback=None):
        """Replicates until iqr / median < threshold (after at least 4 and min_run_time), or max_run_time."""
        number = self._estimate_block_size(min_run_time=0.05)

        def stop_hook(times):
            if len(times) > 3:
                return common.Measurement(number_per_run=number, raw_times=times,
                                          task_spec=self._task_spec).meets_confidence(threshold=threshold)
            return False

        times = self._threaded_measurement_loop(number, lambda: self._timeit(number), stop_hook, min_run_time,
                                                max_run_time, callback=callback)
        return common.Measurement(number_per_run=number, raw_times=times, task_spec=self._task_spec)

    def collect_callgrind(self, number=100, *, repeats=None, collect_baseline=True, retain_out_file=False):
        """Not available: instruction counts need torch's Valgrind bindings."""
        raise NotImplementedError("Timer.collect_callgrind runs the statement under Valgrind through torch's C++ "
                                  "bindings, which ember does not have; use blocked_autorange for wall times.")
