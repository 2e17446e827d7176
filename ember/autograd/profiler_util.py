"""torch.autograd.profiler_util: the recorded events, their averages, torch's summary table and Chrome traces."""
import json
from collections import OrderedDict

__all__ = ["FunctionEvent", "FunctionEventAvg", "EventList", "Interval"]


def _format_time(time_us):
    """A duration in us as torch prints it (s, ms or us, 3 decimals)."""
    if time_us >= 1e6:
        return f"{time_us / 1e6:.3f}s"
    if time_us >= 1e3:
        return f"{time_us / 1e3:.3f}ms"
    return f"{time_us:.3f}us"


def _format_time_share(time_us, total_us):
    if total_us == 0:
        return "NaN"
    return f"{time_us * 100.0 / total_us:.2f}%"


def _format_memory(nbytes):
    """A byte count as torch prints it (GB, MB, KB with 2 decimals, else B)."""
    kb = 1024
    mb, gb = kb * kb, kb * kb * kb
    if abs(nbytes) >= gb:
        return f"{nbytes * 1.0 / gb:.2f} GB"
    if abs(nbytes) >= mb:
        return f"{nbytes * 1.0 / mb:.2f} MB"
    if abs(nbytes) >= kb:
        return f"{nbytes * 1.0 / kb:.2f} KB"
    return str(nbytes) + " B"


class Interval:
    """A time range in us."""

    def __init__(self, start, end):
        self.start = start
        self.end = end

    def elapsed_us(self):
        """The range's length in us."""
        return self.end - self.start


class _Times:
    """The *_str properties torch's events have, and the device columns (always 0: CPU only)."""
    device_time_total = self_device_time_total = 0.0
    device_memory_usage = self_device_memory_usage = 0
    cuda_time_total = self_cuda_time_total = 0.0

    @property
    def cpu_time(self):
        return 0.0 if self.count == 0 else self.cpu_time_total / self.count

    @property
    def device_time(self):
        return 0.0

    cuda_time = device_time

    cpu_time_str = property(lambda self: _format_time(self.cpu_time))
    cpu_time_total_str = property(lambda self: _format_time(self.cpu_time_total))
    self_cpu_time_total_str = property(lambda self: _format_time(self.self_cpu_time_total))
    device_time_str = device_time_total_str = self_device_time_total_str = property(lambda self: _format_time(0.0))


class FunctionEvent(_Times):
    """One recorded op, autograd node or record_function region (times in us)."""

    def __init__(self, id, name, thread, start_us, end_us, input_shapes=None, stack=None, cpu_memory_usage=0,
                 is_user_annotation=False, sequence_nr=-1):
        self.id = id
        self.trace_name = name
        if name.startswith("ProfilerStep#"):   # torch reports every step under one key; traces keep the number
            name = "ProfilerStep*"
        self.name = name
        self.key = name
        self.thread = thread
        self.time_range = Interval(start_us, end_us)
        self.input_shapes = input_shapes
        self.stack = stack or []
        self.cpu_memory_usage = cpu_memory_usage
        self.cpu_children = []
        self.cpu_parent = None
        self.count = 1
        self.is_user_annotation = is_user_annotation
        self.is_async = False
        self.is_legacy = False
        self.node_id = -1
        self.sequence_nr = sequence_nr
        self.overload_name = ""
        self.device_type = "CPU"
        self.use_device = None
        self.flops = 0

    def append_cpu_child(self, child):
        """Record child as an event run inside this one."""
        self.cpu_children.append(child)

    def set_cpu_parent(self, parent):
        """Record the event this one ran inside."""
        self.cpu_parent = parent

    @property
    def cpu_time_total(self):
        return self.time_range.elapsed_us()

    @property
    def self_cpu_time_total(self):
        return self.cpu_time_total - sum(c.cpu_time_total for c in self.cpu_children)

    @property
    def self_cpu_memory_usage(self):
        return self.cpu_memory_usage - sum(c.cpu_memory_usage for c in self.cpu_children)

    def __repr__(self):
        return (f"<FunctionEvent id={self.id} name={self.name} cpu_time={self.cpu_time_str} "
                f"start_us={self.time_range.start:.3f} end_us={self.time_range.end:.3f} "
                f"cpu_children={[c.id for c in self.cpu_children]} thread={self.thread} "
                f"input_shapes={self.input_shapes} cpu_memory_usage={self.cpu_memory_usage}>")


class FunctionEventAvg(_Times):
    """The events of one key (name, and input shapes or stack when grouped by them), summed."""

    def __init__(self):
        self.key = None
        self.count = 0
        self.node_id = 0
        self.is_async = False
        self.is_legacy = False
        self.cpu_time_total = 0.0
        self.self_cpu_time_total = 0.0
        self.input_shapes = None
        self.stack = None
        self.scope = None
        self.cpu_memory_usage = 0
        self.self_cpu_memory_usage = 0
        self.cpu_parent = None
        self.device_type = "CPU"
        self.is_user_annotation = False
        self.overload_name = None
        self.use_device = None
        self.flops = 0

    def add(self, other):
        """Add an event (or another average) of the same key."""
        if self.key is None:
            self.key = other.key
            self.node_id = other.node_id
            self.is_async = other.is_async
            self.cpu_parent = other.cpu_parent
            self.input_shapes = other.input_shapes
            self.stack = other.stack
            self.is_user_annotation = other.is_user_annotation
        self.cpu_time_total += other.cpu_time_total
        self.self_cpu_time_total += other.self_cpu_time_total
        self.cpu_memory_usage += other.cpu_memory_usage
        self.self_cpu_memory_usage += other.self_cpu_memory_usage
        self.count += other.count
        return self

    def __iadd__(self, other):
        return self.add(other)

    def __repr__(self):
        return (f"<FunctionEventAvg key={self.key} self_cpu_time={self.self_cpu_time_total_str} "
                f"cpu_time={self.cpu_time_str} input_shapes={self.input_shapes} "
                f"cpu_memory_usage={self.cpu_memory_usage}>")


class EventList(list):
    """A list of events (or of averages) with torch's table, Chrome trace export and averaging."""

    def __init__(self, *args, **kwargs):
        self._use_device = kwargs.pop("use_device", None)
        self._profile_memory = kwargs.pop("profile_memory", False)
        self._with_flops = kwargs.pop("with_flops", False)
        super().__init__(*args, **kwargs)

    def __str__(self):
        return self.table()

    @property
    def self_cpu_time_total(self):
        """The sum of every event's self CPU time (us)."""
        return sum(e.self_cpu_time_total for e in self)

    def table(self, sort_by=None, row_limit=100, max_src_column_width=75, max_name_column_width=55,
              max_shapes_column_width=80, header=None, top_level_events_only=False, time_unit=None):
        """The summary table torch prints, one row per event (sorted by an attribute, e.g. 'cpu_time_total')."""
        return _build_table(self, sort_by=sort_by, header=header, row_limit=row_limit,
                            max_src_column_width=max_src_column_width, max_name_column_width=max_name_column_width,
                            max_shapes_column_width=max_shapes_column_width, profile_memory=self._profile_memory,
                            top_level_events_only=top_level_events_only, time_unit=time_unit)

    def export_chrome_trace(self, path):
        """Write the events as a Chrome trace (chrome://tracing, Perfetto) JSON file."""
        with open(path, "w") as f:
            json.dump(_chrome_trace(self), f)

    def key_averages(self, group_by_input_shapes=False, group_by_stack_n=0, group_by_overload_name=False):
        """One FunctionEventAvg per name (and per input shapes / top stack frames when asked)."""
        stats = OrderedDict()
        for evt in self:
            key = [evt.key]
            if group_by_input_shapes:
                key.append(str(evt.input_shapes))
            if group_by_stack_n > 0:
                key += evt.stack[:group_by_stack_n]
            key = tuple(key)
            if key not in stats:
                stats[key] = FunctionEventAvg()
            stats[key].add(evt)
        averages = EventList(stats.values(), use_device=self._use_device, profile_memory=self._profile_memory,
                             with_flops=self._with_flops)
        for avg in averages:
            avg.stack = avg.stack[:group_by_stack_n] if group_by_stack_n and avg.stack else []
            if not group_by_input_shapes:
                avg.input_shapes = ""
        return averages

    def total_average(self):
        """All events summed into one FunctionEventAvg keyed 'Total'."""
        total = FunctionEventAvg()
        for evt in self:
            total.add(evt)
        total.key = "Total"
        return total


def _chrome_trace(events):
    """The trace dict: one complete ('X') event per recorded event, times in us."""
    trace = []
    for evt in events:
        if not isinstance(evt, FunctionEvent):
            continue
        args = {"External id": evt.id}
        if evt.input_shapes:
            args["Input Dims"] = evt.input_shapes
        if evt.stack:
            args["Call stack"] = ";".join(evt.stack)
        cat = "user_annotation" if evt.is_user_annotation else "cpu_op"
        trace.append({"ph": "X", "cat": cat, "name": evt.trace_name, "pid": _PID, "tid": evt.thread,
                      "ts": round(evt.time_range.start, 3), "dur": round(evt.time_range.elapsed_us(), 3),
                      "args": args})
    return {"schemaVersion": 1, "deviceProperties": [], "traceEvents": trace, "traceName": "ember",
            "displayTimeUnit": "ms"}


_PID = __import__("os").getpid()


def _build_table(events, sort_by=None, header=None, row_limit=100, max_src_column_width=75,
                 max_name_column_width=55, max_shapes_column_width=80, profile_memory=False,
                 top_level_events_only=False, time_unit=None):
    """torch's table: fixed 12-wide right-aligned columns, 2 spaces apart, dashed rules, a total line."""
    if len(events) == 0:
        return ""
    has_input_shapes = any(evt.input_shapes is not None and len(evt.input_shapes) > 0 for evt in events)
    if sort_by is not None:
        attr = sort_by.replace("cuda", "device").replace("xpu", "device").replace("privateuse1", "device")
        try:
            events = sorted(events, key=lambda evt: getattr(evt, attr), reverse=True)
        except AttributeError:
            raise AttributeError(f"'FunctionEventAvg' object has no attribute '{attr}' (sort_by takes an event "
                                 "attribute: cpu_time_total, self_cpu_time_total, cpu_time, count, "
                                 "cpu_memory_usage, self_cpu_memory_usage)") from None
    name_width = max(len(evt.key) for evt in events) + 4
    if max_name_column_width is not None:
        name_width = min(name_width, max_name_column_width)
    shapes_width = max(len(str(evt.input_shapes)) for evt in events) + 4
    if max_shapes_column_width is not None:
        shapes_width = min(shapes_width, max_shapes_column_width)
    stacks = [evt.stack for evt in events if evt.stack]
    src_width = None
    if stacks:
        src_width = max(max(len(entry) for entry in stack) for stack in stacks) + 4
        if max_src_column_width is not None:
            src_width = min(src_width, max_src_column_width)
    width = 12
    headers = ["Name", "Self CPU %", "Self CPU", "CPU total %", "CPU total", "CPU time avg"]
    if profile_memory:
        headers += ["CPU Mem", "Self CPU Mem"]
    headers.append("# of Calls")
    row_format, rule, line_length = "", "", -2

    def column(padding, align=">"):
        nonlocal row_format, rule, line_length
        row_format += "{: " + align + str(padding) + "}  "
        rule += "-" * padding + "  "
        line_length += padding + 2

    column(name_width)
    for _ in headers[1:]:
        column(width)
    if has_input_shapes:
        headers.append("Input Shapes")
        column(shapes_width)
    if stacks:
        headers.append("Source Location")
        column(src_width, "<")

    def fmt(us, default):
        if time_unit == "s":
            return f"{us / 1e6:.3f}s"
        if time_unit == "ms":
            return f"{us / 1e3:.3f}ms"
        if time_unit == "us":
            return f"{us:.3f}us"
        return default

    def trim(path):
        if len(path) > src_width:
            path = path[len(path) - src_width:]
            if len(path) > 3:
                path = "..." + path[3:]
        return path

    total = sum(evt.self_cpu_time_total for evt in events)
    out = []
    if header is not None:
        out += ["=" * line_length, header]
    if top_level_events_only:
        out += ["=" * line_length, "This report only display top-level ops statistics"]
    out += [rule, row_format.format(*headers), rule]
    shown = 0
    for evt in events:
        if shown == row_limit:
            break
        if top_level_events_only and evt.cpu_parent is not None:
            continue
        shown += 1
        name = evt.key
        if max_name_column_width is not None and len(name) >= max_name_column_width - 3:
            name = name[:max_name_column_width - 3] + "..."
        row = [name, _format_time_share(evt.self_cpu_time_total, total),
               fmt(evt.self_cpu_time_total, evt.self_cpu_time_total_str),
               _format_time_share(evt.cpu_time_total, total), fmt(evt.cpu_time_total, evt.cpu_time_total_str),
               fmt(evt.cpu_time, evt.cpu_time_str)]
        if profile_memory:
            row += [_format_memory(evt.cpu_memory_usage), _format_memory(evt.self_cpu_memory_usage)]
        row.append(evt.count)
        if has_input_shapes:
            row.append(str(evt.input_shapes)[:shapes_width])
        if stacks:
            row.append(trim(evt.stack[0]) if evt.stack else "")
        out.append(row_format.format(*row))
        if stacks:
            blank = [""] * (len(headers) - 1)
            for entry in (evt.stack or [])[1:]:
                out.append(row_format.format(*(blank + [trim(entry)])))
            out.append(row_format.format(*(blank + [""])))
    out += [rule, f"Self CPU time total: {fmt(total, _format_time(total))}"]
    return "".join(line + "\n" for line in out)

