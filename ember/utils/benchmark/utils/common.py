"""TaskSpec and Measurement (torch.utils.benchmark.utils.common): what was timed, and its statistics.

Statistics follow torch to the printed digit: quantiles in float64 (linear interpolation, as
torch.quantile), while the significant-figure and unit estimates run in float32, because torch
computes them on default-dtype tensors and the float32 rounding decides boundary cases.
"""
import collections
import contextlib
import dataclasses
import math
import textwrap

import numpy as np

__all__ = ["TaskSpec", "Measurement", "select_unit", "unit_to_english", "trim_sigfig", "ordered_unique",
           "set_torch_threads"]

_MAX_SIGNIFICANT_FIGURES = 4
_MIN_CONFIDENCE_INTERVAL = 25e-9  # 25 ns
# a Measurement warns when its spread (IQR / median) passes these
_IQR_WARN_THRESHOLD = 0.1
_IQR_GROSS_WARN_THRESHOLD = 0.25
_f32 = np.float32


def _log10_f32(x):
    """log10 of x as torch computes it on a float32 tensor: correctly rounded to float32 (NumPy's own
    float32 log10 is off by an ulp at exact powers of ten, which moves unit and digit boundaries)."""
    return float(_f32(math.log10(abs(float(_f32(x))))))


@dataclasses.dataclass(init=True, repr=False, eq=True, frozen=True)
class TaskSpec:
    """What a Timer runs and how it is labelled (everything but globals)."""
    stmt: str
    setup: str
    global_setup: str = ""
    label: str = None
    sub_label: str = None
    description: str = None
    env: str = None
    num_threads: int = 1

    @property
    def title(self):
        """The label (or the statement) and sub_label, as printed."""
        if self.label is not None:
            return self.label + (f": {self.sub_label}" if self.sub_label else "")
        elif "\n" not in self.stmt:
            return self.stmt + (f": {self.sub_label}" if self.sub_label else "")
        return f"stmt:{f' ({self.sub_label})' if self.sub_label else ''}\n{textwrap.indent(self.stmt, '  ')}"

    def setup_str(self):
        """The setup as printed ('' for none)."""
        return ("" if (self.setup == "pass" or not self.setup)
                else f"setup:\n{textwrap.indent(self.setup, '  ')}" if "\n" in self.setup
                else f"setup: {self.setup}")

    def summarize(self):
        """The TaskSpec part of a Measurement's repr."""
        sections = [self.title, self.description or "", self.setup_str()]
        return "\n".join([f"{i}\n" if "\n" in i else i for i in sections if i])


_TASKSPEC_FIELDS = tuple(i.name for i in dataclasses.fields(TaskSpec))


@dataclasses.dataclass(init=True, repr=False)
class Measurement:
    """The times of one Timer run: raw_times[i] is the time of number_per_run executions of stmt."""
    number_per_run: int
    raw_times: list
    task_spec: TaskSpec
    metadata: dict = None  # the user's own payload

    def __post_init__(self):
        self._sorted_times = ()
        self._warnings = ()
        self._median = -1.0
        self._mean = -1.0
        self._p25 = -1.0
        self._p75 = -1.0

    def __getattr__(self, name):
        # the TaskSpec fields read through: m.label, m.stmt, m.num_threads, m.env ...
        if name in _TASKSPEC_FIELDS:
            return getattr(self.task_spec, name)
        return super().__getattribute__(name)

    # Per-run times: raw times divided by number_per_run (an extrapolation that hides how the
    # overhead amortizes, fine once the Timer has chosen a sensible number_per_run).
    @property
    def times(self):
        """Seconds per single execution of stmt, one per replicate."""
        return [t / self.number_per_run for t in self.raw_times]

    @property
    def median(self):
        """Median of times."""
        self._lazy_init()
        return self._median

    @property
    def mean(self):
        """Mean of times."""
        self._lazy_init()
        return self._mean

    @property
    def iqr(self):
        """Interquartile range (75th - 25th percentile) of times."""
        self._lazy_init()
        return self._p75 - self._p25

    @property
    def significant_figures(self):
        """Digits of the median worth printing (1 to 4), from the spread of the interquartile times."""
        self._lazy_init()
        n_total = len(self._sorted_times)
        lower_bound = int(n_total // 4)
        upper_bound = int(np.ceil(_f32(3 * n_total / 4)))
        interquartile_points = self._sorted_times[lower_bound:upper_bound]
        std = float(np.std(np.asarray(interquartile_points, dtype=_f32)))
        sqrt_n = float(np.sqrt(_f32(len(interquartile_points))))
        # rough, z = 1.645 for any n, as torch
        confidence_interval = max(1.645 * std / sqrt_n, _MIN_CONFIDENCE_INTERVAL)
        relative_ci = _log10_f32(self._median / confidence_interval)
        num_significant_figures = int(np.floor(_f32(relative_ci)))
        return min(max(num_significant_figures, 1), _MAX_SIGNIFICANT_FIGURES)

    @property
    def has_warnings(self):
        """Whether the spread is large enough to print a warning."""
        self._lazy_init()
        return bool(self._warnings)

    def _lazy_init(self):
        if self.raw_times and not self._sorted_times:
            self._sorted_times = tuple(sorted(self.times))
            sorted_times = np.asarray(self._sorted_times, dtype=np.float64)
            self._median = float(np.quantile(sorted_times, .5))
            self._mean = float(sorted_times.mean())
            self._p25 = float(np.quantile(sorted_times, .25))
            self._p75 = float(np.quantile(sorted_times, .75))

            def add_warning(msg):
                rel_iqr = self.iqr / self.median * 100
                self._warnings += (f"  WARNING: Interquartile range is {rel_iqr:.1f}% "
                                   f"of the median measurement.\n           {msg}",)

            if not self.meets_confidence(_IQR_GROSS_WARN_THRESHOLD):
                add_warning("This suggests significant environmental influence.")
            elif not self.meets_confidence(_IQR_WARN_THRESHOLD):
                add_warning("This could indicate system fluctuation.")

    def meets_confidence(self, threshold=_IQR_WARN_THRESHOLD):
        """Whether iqr / median is below threshold."""
        return self.iqr / self.median < threshold

    @property
    def title(self):
        """The task's title (label or statement, and sub_label)."""
        return self.task_spec.title

    @property
    def as_row_name(self):
        """The row name in a Compare table: sub_label, else the statement."""
        return self.sub_label or self.stmt or "[Unknown]"

    def __repr__(self):
        self._lazy_init()
        skip_line, newline = "MEASUREMENT_REPR_SKIP_LINE", "\n"
        n = len(self._sorted_times)
        time_unit, time_scale = select_unit(self._median)
        iqr_filter = '' if n >= 4 else skip_line
        # the first line names torch's class, as printed by torch (the alias or not)
        head = f"<torch.utils.benchmark.utils.common.Measurement object at {hex(id(self))}>"
        repr_str = f"""
{head}
{self.task_spec.summarize()}
  {'Median: ' if n > 1 else ''}{self._median / time_scale:.2f} {time_unit}
  {iqr_filter}IQR:    {self.iqr / time_scale:.2f} {time_unit} ({self._p25 / time_scale:.2f} to {self._p75 / time_scale:.2f})
  {n} measurement{'s' if n > 1 else ''}, {self.number_per_run} runs {'per measurement,' if n > 1 else ','} {self.num_threads} thread{'s' if self.num_threads > 1 else ''}
{newline.join(self._warnings)}""".strip()  # noqa: E501
        return "\n".join(line for line in repr_str.splitlines(keepends=False) if skip_line not in line)

    @staticmethod
    def merge(measurements):
        """Replicates of the same TaskSpec pooled into one Measurement each (number_per_run=1, no metadata)."""
        grouped = collections.defaultdict(list)
        for m in measurements:
            grouped[m.task_spec].append(m)

        def merge_group(task_spec, group):
            times = []
            for m in group:
                times.extend(m.times)  # .times: replicates may differ in number_per_run
            return Measurement(number_per_run=1, raw_times=times, task_spec=task_spec, metadata=None)

        return [merge_group(t, g) for t, g in grouped.items()]


def select_unit(t):
    """(unit, scale) that prints t seconds with O(1) magnitude: ns, us, ms or s."""
    time_unit = {-3: "ns", -2: "us", -1: "ms"}.get(int(_log10_f32(t) // 3), "s")
    time_scale = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1}[time_unit]
    return time_unit, time_scale


def unit_to_english(u):
    """'us' -> 'microsecond'."""
    return {"ns": "nanosecond", "us": "microsecond", "ms": "millisecond", "s": "second"}[u]


def trim_sigfig(x, n):
    """x rounded to n significant figures (3.14159, 2 -> 3.1)."""
    if n != int(n):
        raise AssertionError("Number of significant figures must be an integer")
    magnitude = int(math.ceil(_log10_f32(x)))
    scale = 10 ** (magnitude - n)
    return float(np.round(_f32(x / scale)) * _f32(scale))


def ordered_unique(elements):
    """elements without repeats, in first-seen order."""
    return list(collections.OrderedDict(dict.fromkeys(elements)).keys())


@contextlib.contextmanager
def set_torch_threads(n):
    """Run the block with n BLAS threads (torch.set_num_threads), then restore the setting."""
    from .... import _threads
    # restore the request itself (None: "all cores"), not its current value, so a Timer leaves
    # ember's threading exactly as it found it
    prior = _threads._requested
    try:
        _threads.set_num_threads(n)
        yield
    finally:
        _threads._requested = prior
