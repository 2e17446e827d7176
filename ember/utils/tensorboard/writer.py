"""SummaryWriter: TensorBoard event files written without tensorflow, tensorboard or protobuf.

An event file is a sequence of TFRecords, each an `Event` protobuf (encoded by hand in `_proto`).
Events wait in memory until `max_queue` of them are pending, `flush_secs` have passed (a single
daemon thread checks every open writer), `flush()`/`close()` is called, or the interpreter exits.
"""
import atexit
import itertools
import os
import socket
import threading
import time

import numpy as np

from . import summary as _s
from ._proto import f_bytes, f_double, f_message, f_varint, frame_record

__all__ = ["FileWriter", "SummaryWriter"]

_uid = itertools.count()
_open_writers = set()  # strong refs, as torch's flush thread holds its writers: unclosed ones flush at exit
_flusher = None
_flusher_lock = threading.Lock()


def _event(summary=None, step=None, wall_time=None, file_version=None, session_log_status=None, writer=None,
           graph_def=None, tagged_run_metadata=None):
    """Event bytes; fields in number order: wall_time 1, step 2, file_version 3, graph_def 4, summary 5,
    session_log 7, tagged_run_metadata 8, source_metadata 10."""
    return (f_double(1, time.time() if wall_time is None else wall_time)
            + f_varint(2, int(step) if step else None)
            + f_bytes(3, file_version)
            + f_bytes(4, graph_def)
            + f_message(5, summary)
            + (f_message(7, f_varint(1, session_log_status)) if session_log_status is not None else b"")
            + (f_message(8, f_bytes(1, tagged_run_metadata[0]) + f_bytes(2, tagged_run_metadata[1]))
               if tagged_run_metadata is not None else b"")
            + (f_message(10, f_bytes(1, writer)) if writer else b""))


def _flush_loop():
    while True:
        time.sleep(1.0)
        now = time.monotonic()
        for w in list(_open_writers):
            if w._pending and now - w._last_flush >= w._flush_secs:
                try:
                    w.flush()
                except (OSError, ValueError):
                    pass  # closed meanwhile, or the disk went away: the next explicit flush reports it


def _flush_all_at_exit():
    for w in list(_open_writers):
        try:
            w.close()
        except (OSError, ValueError):
            pass


atexit.register(_flush_all_at_exit)


class _EventFileWriter:
    """One event file: events.out.tfevents.<time>.<host>.<pid>.<uid><suffix> in logdir."""

    def __init__(self, logdir, max_queue=10, flush_secs=120, filename_suffix=""):
        global _flusher
        self._logdir = logdir
        os.makedirs(logdir, exist_ok=True)
        self._file_name = os.path.join(logdir, "events.out.tfevents.%010d.%s.%s.%s" % (
            time.time(), socket.gethostname(), os.getpid(), next(_uid))) + filename_suffix
        self._file = open(self._file_name, "wb")
        self._max_queue = max(int(max_queue), 1)
        self._flush_secs = flush_secs
        self._pending = []
        self._lock = threading.Lock()
        self._last_flush = time.monotonic()
        self.add_event(_event(file_version="brain.Event:2", writer="ember.utils.tensorboard"))
        self.flush()
        _open_writers.add(self)
        with _flusher_lock:
            if _flusher is None:
                _flusher = threading.Thread(target=_flush_loop, name="ember-tensorboard-flush", daemon=True)
                _flusher.start()

    def get_logdir(self):
        return self._logdir

    def add_event(self, event_bytes):
        record = frame_record(event_bytes)
        with self._lock:
            if self._file is None:
                raise OSError(f"the event file {self._file_name} is closed")
            self._pending.append(record)
            if len(self._pending) >= self._max_queue:
                self._write_pending()

    def _write_pending(self):
        if self._pending:
            self._file.write(b"".join(self._pending))
            self._pending.clear()
        self._file.flush()
        self._last_flush = time.monotonic()

    def flush(self):
        with self._lock:
            if self._file is not None:
                self._write_pending()

    def close(self):
        with self._lock:
            if self._file is not None:
                self._write_pending()
                self._file.close()
                self._file = None
        _open_writers.discard(self)


class FileWriter:
    """Writes serialized Summary/Event messages to one event file (torch's FileWriter)."""

    def __init__(self, log_dir, max_queue=10, flush_secs=120, filename_suffix=""):
        self.event_writer = _EventFileWriter(str(log_dir), max_queue, flush_secs, filename_suffix)

    def get_logdir(self):
        return self.event_writer.get_logdir()

    def add_event(self, event, step=None, walltime=None):
        """`event` is serialized Event bytes; wall time and step are set here when given."""
        self.event_writer.add_event(event)

    def add_summary(self, summary, global_step=None, walltime=None):
        self.event_writer.add_event(_event(summary=summary, step=global_step, wall_time=walltime))

    def add_graph(self, graph_profile, walltime=None):
        """Writes a (GraphDef bytes, RunMetadata bytes) pair: the graph, then its step stats tagged "step1"."""
        graph_def, run_metadata = graph_profile
        self.event_writer.add_event(_event(graph_def=graph_def, wall_time=walltime))
        self.event_writer.add_event(_event(tagged_run_metadata=("step1", run_metadata), wall_time=walltime))

    def flush(self):
        self.event_writer.flush()

    def close(self):
        self.event_writer.close()


def _default_bins():
    v, buckets = 1e-12, []
    while v < 1e20:
        buckets.append(v)
        v *= 1.1
    return [-b for b in reversed(buckets)] + [0] + buckets


class SummaryWriter:
    """Writes entries directly to event files in `log_dir` for TensorBoard to read (torch's API).

    log_dir defaults to runs/CURRENT_DATETIME_HOSTNAME<comment>. Needs neither tensorflow nor
    tensorboard to write; Pillow is needed for images, matplotlib for add_figure.
    """

    def __init__(self, log_dir=None, comment="", purge_step=None, max_queue=10, flush_secs=120,
                 filename_suffix=""):
        if not log_dir:
            from datetime import datetime
            current_time = datetime.now().strftime("%b%d_%H-%M-%S")
            log_dir = os.path.join("runs", current_time + "_" + socket.gethostname() + comment)
        self.log_dir = log_dir
        self.purge_step = purge_step
        self.max_queue = max_queue
        self.flush_secs = flush_secs
        self.filename_suffix = filename_suffix
        self.file_writer = self.all_writers = None
        self._get_file_writer()
        self.default_bins = _default_bins()

    def _get_file_writer(self):
        """The main FileWriter, reopened (as a new event file) if the writer was closed."""
        if self.all_writers is None or self.file_writer is None:
            self.file_writer = FileWriter(self.log_dir, self.max_queue, self.flush_secs, self.filename_suffix)
            self.all_writers = {self.file_writer.get_logdir(): self.file_writer}
            if self.purge_step is not None:
                # TensorBoard discards events at or after this step from earlier files of the run
                step = self.purge_step
                self.file_writer.add_event(_event(step=step, file_version="brain.Event:2"))
                self.file_writer.add_event(_event(step=step, session_log_status=1))  # SessionLog.START
                self.purge_step = None
        return self.file_writer

    def get_logdir(self):
        return self.log_dir

    def add_hparams(self, hparam_dict, metric_dict, hparam_domain_discrete=None, run_name=None,
                    global_step=None):
        if type(hparam_dict) is not dict or type(metric_dict) is not dict:
            raise TypeError("hparam_dict and metric_dict should be dictionary.")
        exp, ssi, sei = _s.hparams(hparam_dict, metric_dict, hparam_domain_discrete)
        if not run_name:
            run_name = str(time.time())
        logdir = os.path.join(self._get_file_writer().get_logdir(), run_name)
        with SummaryWriter(log_dir=logdir) as w_hp:
            w_hp.file_writer.add_summary(exp, global_step)
            w_hp.file_writer.add_summary(ssi, global_step)
            w_hp.file_writer.add_summary(sei, global_step)
            for k, v in metric_dict.items():
                w_hp.add_scalar(k, v, global_step)

    def add_scalar(self, tag, scalar_value, global_step=None, walltime=None, new_style=False,
                   double_precision=False):
        summary = _s.scalar(tag, scalar_value, new_style=new_style, double_precision=double_precision)
        self._get_file_writer().add_summary(summary, global_step, walltime)

    def add_scalars(self, main_tag, tag_scalar_dict, global_step=None, walltime=None):
        """Each key of tag_scalar_dict goes to its own run, log_dir/<main_tag>_<key>, so TensorBoard
        draws them on one chart."""
        walltime = time.time() if walltime is None else walltime
        fw_logdir = self._get_file_writer().get_logdir()
        for tag, scalar_value in tag_scalar_dict.items():
            fw_tag = fw_logdir + "/" + main_tag.replace("/", "_") + "_" + tag
            fw = self.all_writers.get(fw_tag)
            if fw is None:
                fw = FileWriter(fw_tag, self.max_queue, self.flush_secs, self.filename_suffix)
                self.all_writers[fw_tag] = fw
            fw.add_summary(_s.scalar(main_tag, scalar_value), global_step, walltime)

    def add_tensor(self, tag, tensor, global_step=None, walltime=None):
        self._get_file_writer().add_summary(_s.tensor_proto(tag, tensor), global_step, walltime)

    def add_histogram(self, tag, values, global_step=None, bins="tensorflow", walltime=None, max_bins=None):
        if isinstance(bins, str) and bins == "tensorflow":
            bins = self.default_bins
        self._get_file_writer().add_summary(_s.histogram(tag, values, bins, max_bins=max_bins), global_step,
                                            walltime)

    def add_histogram_raw(self, tag, min, max, num, sum, sum_squares, bucket_limits, bucket_counts,
                          global_step=None, walltime=None):
        if len(bucket_limits) != len(bucket_counts):
            raise ValueError("len(bucket_limits) != len(bucket_counts), see the document.")
        self._get_file_writer().add_summary(
            _s.histogram_raw(tag, min, max, num, sum, sum_squares, bucket_limits, bucket_counts),
            global_step, walltime)

    def add_image(self, tag, img_tensor, global_step=None, walltime=None, dataformats="CHW"):
        self._get_file_writer().add_summary(_s.image(tag, img_tensor, dataformats=dataformats), global_step,
                                            walltime)

    def add_images(self, tag, img_tensor, global_step=None, walltime=None, dataformats="NCHW"):
        self._get_file_writer().add_summary(_s.image(tag, img_tensor, dataformats=dataformats), global_step,
                                            walltime)

    def add_figure(self, tag, figure, global_step=None, close=True, walltime=None):
        if isinstance(figure, list):
            self.add_image(tag, _s.figure_to_image(figure, close), global_step, walltime, dataformats="NCHW")
        else:
            self.add_image(tag, _s.figure_to_image(figure, close), global_step, walltime, dataformats="CHW")

    def add_text(self, tag, text_string, global_step=None, walltime=None):
        self._get_file_writer().add_summary(_s.text(tag, text_string), global_step, walltime)

    def add_graph(self, model, input_to_model=None, verbose=False, use_strict_trace=True):
        """Writes model's graph for TensorBoard's Graphs tab, traced by running it once on input_to_model."""
        from ._graph import graph
        self._get_file_writer().add_graph(graph(model, input_to_model, verbose, use_strict_trace))

    @staticmethod
    def _encode(rawstr):
        return rawstr.replace("%", "%25").replace("/", "%2f").replace("\\", "%5c")

    def add_embedding(self, mat, metadata=None, label_img=None, global_step=None, tag="default",
                      metadata_header=None):
        """Writes the projector plugin's files: <step>/<tag>/tensors.tsv, metadata.tsv, sprite.png,
        and log_dir/projector_config.pbtxt listing every embedding added so far."""
        mat = _s.make_np(mat)
        if global_step is None:
            global_step = 0
        subdir = f"{str(global_step).zfill(5)}/{self._encode(tag)}"
        save_path = os.path.join(self._get_file_writer().get_logdir(), subdir)
        if os.path.exists(save_path):
            if os.path.isdir(save_path):
                print("warning: Embedding dir exists, did you set global_step for add_embedding()?")
            else:
                raise NotADirectoryError(f"Path: `{save_path}` exists, but is a file. Cannot proceed.")
        if metadata is not None and mat.shape[0] != len(metadata):
            raise AssertionError("#labels should equal with #data points")
        if label_img is not None:
            label_img = _s.make_np(label_img)
            if mat.shape[0] != label_img.shape[0]:
                raise AssertionError("#images should equal with #data points")
            if label_img.ndim != 4:
                raise AssertionError(f"label_img should be NCHW (4 dimensions), got shape {tuple(label_img.shape)}")
        if mat.ndim != 2:
            raise AssertionError("mat should be 2D, where mat.size(0) is the number of data points")
        os.makedirs(save_path, exist_ok=True)
        if metadata is not None:
            if not metadata_header:
                lines = [str(x) for x in metadata]
            else:
                if len(metadata_header) != len(metadata[0]):
                    raise AssertionError("len of header must be equal to the number of columns in metadata")
                lines = ["\t".join(str(e) for e in row) for row in [metadata_header] + list(metadata)]
            with open(os.path.join(save_path, "metadata.tsv"), "wb") as f:
                f.write(("\n".join(lines) + "\n").encode("utf-8"))
        if label_img is not None:
            _make_sprite(label_img, save_path)
        with open(os.path.join(save_path, "tensors.tsv"), "wb") as f:
            for row in mat:
                f.write(("\t".join(str(v.item()) for v in row) + "\n").encode("utf-8"))
        info = {"tensor_name": f"{tag}:{str(global_step).zfill(5)}", "tensor_path": subdir + "/tensors.tsv"}
        if metadata is not None:
            info["metadata_path"] = subdir + "/metadata.tsv"
        if label_img is not None:
            info["sprite"] = (subdir + "/sprite.png", label_img.shape[3], label_img.shape[2])
        if not hasattr(self, "_projector_config"):
            self._projector_config = []
        self._projector_config.append(info)
        with open(os.path.join(self._get_file_writer().get_logdir(), "projector_config.pbtxt"), "wb") as f:
            f.write(_projector_pbtxt(self._projector_config).encode("utf-8"))

    def add_pr_curve(self, tag, labels, predictions, global_step=None, num_thresholds=127, weights=None,
                     walltime=None):
        labels, predictions = _s.make_np(labels), _s.make_np(predictions)
        self._get_file_writer().add_summary(_s.pr_curve(tag, labels, predictions, num_thresholds, weights),
                                            global_step, walltime)

    def add_pr_curve_raw(self, tag, true_positive_counts, false_positive_counts, true_negative_counts,
                         false_negative_counts, precision, recall, global_step=None, num_thresholds=127,
                         weights=None, walltime=None):
        self._get_file_writer().add_summary(
            _s.pr_curve_raw(tag, true_positive_counts, false_positive_counts, true_negative_counts,
                            false_negative_counts, precision, recall, num_thresholds, weights),
            global_step, walltime)

    def flush(self):
        if self.all_writers is None:
            return
        for writer in self.all_writers.values():
            writer.flush()

    def close(self):
        if self.all_writers is None:
            return  # a second close does nothing
        for writer in self.all_writers.values():
            writer.flush()
            writer.close()
        self.file_writer = self.all_writers = None

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc_val, exc_tb):
        self.close()


def _make_sprite(label_img, save_path):
    """All label images tiled into one square sprite.png (the projector needs a square sprite)."""
    nrow = int(np.ceil(label_img.shape[0] ** 0.5))
    arranged_CHW = _s.make_grid(label_img, ncols=nrow)
    square_HWC = np.zeros((arranged_CHW.shape[2], arranged_CHW.shape[2], 3))
    arranged_HWC = arranged_CHW.transpose(1, 2, 0)
    square_HWC[:arranged_HWC.shape[0], :, :] = arranged_HWC
    with open(os.path.join(save_path, "sprite.png"), "wb") as f:
        f.write(_s.encode_png(np.uint8((square_HWC * 255).clip(0, 255))))


def _pbtxt_str(s):
    out = []
    for ch in s.encode("utf-8"):
        c = chr(ch)
        if c in "\"'\\":
            out.append("\\" + c)
        elif c == "\n":
            out.append("\\n")
        elif 32 <= ch < 127:
            out.append(c)
        else:
            out.append("\\%03o" % ch)
    return '"' + "".join(out) + '"'


def _projector_pbtxt(infos):
    """ProjectorConfig in protobuf text format, as text_format.MessageToString writes it."""
    lines = []
    for info in infos:
        lines.append("embeddings {")
        # fields in number order: tensor_name 1, metadata_path 2, sprite 5, tensor_path 6
        for key in ("tensor_name", "metadata_path"):
            if key in info:
                lines.append(f"  {key}: {_pbtxt_str(info[key])}")
        if "sprite" in info:
            path, w, h = info["sprite"]
            lines += ["  sprite {", f"    image_path: {_pbtxt_str(path)}", f"    single_image_dim: {int(w)}",
                      f"    single_image_dim: {int(h)}", "  }"]
        lines.append(f"  tensor_path: {_pbtxt_str(info['tensor_path'])}")
        lines.append("}")
    return "\n".join(lines) + "\n"
