"""Summary builders, as in torch.utils.tensorboard.summary, but returning serialized `Summary`
protobuf bytes (encoded by hand in `_proto`) instead of protobuf objects.
"""
import io
import logging

import numpy as np

from ._proto import (f_bytes, f_double, f_float, f_message, f_packed_doubles, f_packed_floats, f_packed_varints,
                     f_repeated_bytes, f_varint)

logger = logging.getLogger(__name__)

# tensorflow DataType enum values (tensorboard/compat/proto/types.proto)
DT_FLOAT, DT_DOUBLE, DT_INT32, DT_UINT8, DT_INT16, DT_INT8, DT_STRING, DT_INT64, DT_BOOL = 1, 2, 3, 4, 5, 6, 7, 9, 10
DT_HALF = 19


def make_np(x):
    """A NumPy array from an ember Tensor, a NumPy array or a Python/NumPy scalar."""
    if isinstance(x, np.ndarray):
        return x
    if np.isscalar(x):
        return np.array([x])
    from ..._tensor import Tensor
    if isinstance(x, Tensor):
        return x.detach().cpu().numpy()
    raise NotImplementedError(f"Got {type(x)}, but numpy array or torch tensor are expected.")


# --- message builders (bytes) --------------------------------------------------------------------


def _summary(*values):
    return b"".join(f_message(1, v) for v in values)


def _value(tag, simple_value=None, image=None, histo=None, tensor=None, metadata=None):
    # field order: tag 1, simple_value 2, image 4, histo 5, tensor 8, metadata 9
    return (f_bytes(1, tag) + f_float(2, simple_value) + f_message(4, image) + f_message(5, histo)
            + f_message(8, tensor) + f_message(9, metadata))


def _metadata(plugin_name, content=b""):
    plugin_data = f_bytes(1, plugin_name) + (f_bytes(2, content) if content else b"")
    return f_message(1, plugin_data)


def _shape(dims):
    return b"".join(f_message(2, f_varint(1, d) if d else b"") for d in dims)


def _tensor(dtype, shape, **vals):
    # shape None: no tensor_shape field at all (as torch's scalar writes it); [] is a 0-d shape
    body = f_varint(1, dtype) + (f_message(2, _shape(shape)) if shape is not None else b"")
    if "float_val" in vals:
        body += f_packed_floats(5, vals["float_val"])
    if "double_val" in vals:
        body += f_packed_doubles(6, vals["double_val"])
    if "int_val" in vals:
        body += f_packed_varints(7, vals["int_val"])
    if "string_val" in vals:
        body += f_repeated_bytes(8, vals["string_val"])
    if "int64_val" in vals:
        body += f_packed_varints(10, vals["int64_val"])
    if "bool_val" in vals:
        body += f_packed_varints(11, vals["bool_val"])
    if "uint32_val" in vals:
        body += f_packed_varints(16, vals["uint32_val"])
    return body


def _nonzero(x):
    """Proto3 leaves out a non-oneof scalar equal to its default."""
    return x if x else None


# --- summaries ------------------------------------------------------------------------------------


def scalar(name, tensor, collections=None, new_style=False, double_precision=False):
    tensor = make_np(tensor).squeeze()
    if tensor.ndim != 0:
        raise AssertionError(f"Tensor should contain one element (0 dimensions). "
                             f"Was given size: {tensor.size} and {tensor.ndim} dimensions.")
    value = float(tensor)
    if new_style:
        t = (_tensor(DT_DOUBLE, None, double_val=[value]) if double_precision
             else _tensor(DT_FLOAT, None, float_val=[value]))
        return _summary(_value(name, tensor=t, metadata=_metadata("scalars")))
    return _summary(_value(name, simple_value=value))


_TENSOR_TYPES = {
    np.dtype(np.float32): (DT_FLOAT, "float_val"), np.dtype(np.float64): (DT_DOUBLE, "double_val"),
    np.dtype(np.int32): (DT_INT32, "int_val"), np.dtype(np.int16): (DT_INT16, "int_val"),
    np.dtype(np.int8): (DT_INT8, "int_val"), np.dtype(np.int64): (DT_INT64, "int64_val"),
    np.dtype(np.bool_): (DT_BOOL, "bool_val"), np.dtype(np.uint8): (DT_UINT8, "uint32_val"),
}


def tensor_proto(tag, tensor):
    arr = make_np(tensor)
    if arr.nbytes >= 1 << 31:
        raise ValueError("tensor is bigger than protocol buffer's hard limit of 2GB in size")
    if arr.dtype not in _TENSOR_TYPES:
        raise ValueError(f"{tag} has unsupported tensor dtype {getattr(tensor, 'dtype', arr.dtype)}")
    dtype, field = _TENSOR_TYPES[arr.dtype]
    t = _tensor(dtype, arr.shape, **{field: arr.reshape(-1).tolist()})
    return _summary(_value(tag, tensor=t, metadata=_metadata("tensor")))


def _histogram_proto(vmin, vmax, num, vsum, sum_squares, bucket_limits, bucket_counts):
    return (f_double(1, _nonzero(vmin)) + f_double(2, _nonzero(vmax)) + f_double(3, _nonzero(num))
            + f_double(4, _nonzero(vsum)) + f_double(5, _nonzero(sum_squares))
            + f_packed_doubles(6, bucket_limits) + f_packed_doubles(7, bucket_counts))


def histogram_raw(name, min, max, num, sum, sum_squares, bucket_limits, bucket_counts):
    hist = _histogram_proto(min, max, num, sum, sum_squares, make_np(bucket_limits) if not isinstance(
        bucket_limits, (list, tuple)) else bucket_limits, make_np(bucket_counts) if not isinstance(
        bucket_counts, (list, tuple)) else bucket_counts)
    return _summary(_value(name, histo=hist))


def histogram(name, values, bins, max_bins=None):
    values = make_np(values)
    return _summary(_value(name, histo=make_histogram(values.astype(float), bins, max_bins)))


def make_histogram(values, bins, max_bins=None):
    """HistogramProto bytes for `values` (the logic of torch's make_histogram / histogram.cc)."""
    if values.size == 0:
        raise ValueError("The input has no element.")
    values = values.reshape(-1)
    counts, limits = np.histogram(values, bins=bins)
    num_bins = len(counts)
    if max_bins is not None and num_bins > max_bins:
        subsampling = num_bins // max_bins
        subsampling_remainder = num_bins % subsampling
        if subsampling_remainder != 0:
            counts = np.pad(counts, pad_width=[[0, subsampling - subsampling_remainder]], mode="constant",
                            constant_values=0)
        counts = counts.reshape(-1, subsampling).sum(axis=-1)
        new_limits = np.empty((counts.size + 1,), limits.dtype)
        new_limits[:-1] = limits[:-1:subsampling]
        new_limits[-1] = limits[-1]
        limits = new_limits
    # the support of the histogram: first and last non-empty bin
    cum_counts = np.cumsum(np.greater(counts, 0))
    start, end = np.searchsorted(cum_counts, [0, cum_counts[-1] - 1], side="right")
    start, end = int(start), int(end) + 1
    # TensorBoard keeps only right bin limits: keep an empty bin on the left for the leftmost limit
    counts = counts[start - 1:end] if start > 0 else np.concatenate([[0], counts[:end]])
    limits = limits[start:end + 1]
    if counts.size == 0 or limits.size == 0:
        raise ValueError("The histogram is empty, please file a bug report.")
    return _histogram_proto(values.min(), values.max(), len(values), values.sum(), values.dot(values),
                            limits, counts)


# --- images ---------------------------------------------------------------------------------------


def make_grid(I, ncols=8):
    """N1HW or N3HW images tiled into one CHW canvas, ncols per row."""
    if not isinstance(I, np.ndarray):
        raise AssertionError("plugin error, should pass numpy array here")
    if I.shape[1] == 1:
        I = np.concatenate([I, I, I], 1)
    if I.ndim != 4 or I.shape[1] != 3:
        raise AssertionError("Input should be a 4D numpy array with 3 channels")
    nimg, H, W = I.shape[0], I.shape[2], I.shape[3]
    ncols = min(nimg, ncols)
    nrows = int(np.ceil(float(nimg) / ncols))
    canvas = np.zeros((3, H * nrows, W * ncols), dtype=I.dtype)
    for i in range(nimg):
        y, x = divmod(i, ncols)
        canvas[:, y * H:(y + 1) * H, x * W:(x + 1) * W] = I[i]
    return canvas


def convert_to_HWC(tensor, input_format):
    if len(set(input_format)) != len(input_format):
        raise AssertionError(f"You can not use the same dimension shorthand twice. input_format: {input_format}")
    if len(tensor.shape) != len(input_format):
        raise AssertionError(f"size of input tensor and input format are different. tensor shape: "
                             f"{tuple(tensor.shape)}, input_format: {input_format}")
    input_format = input_format.upper()
    if len(input_format) == 4:
        tensor_NCHW = tensor.transpose([input_format.find(c) for c in "NCHW"])
        return make_grid(tensor_NCHW).transpose(1, 2, 0)
    if len(input_format) == 3:
        tensor_HWC = tensor.transpose([input_format.find(c) for c in "HWC"])
        if tensor_HWC.shape[2] == 1:
            tensor_HWC = np.concatenate([tensor_HWC, tensor_HWC, tensor_HWC], 2)
        return tensor_HWC
    if len(input_format) == 2:
        tensor = tensor.transpose([input_format.find(c) for c in "HW"])
        return np.stack([tensor, tensor, tensor], 2)
    raise AssertionError(f"dataformats should have 2 to 4 letters out of N, C, H, W; got {input_format!r}")


def _pil_image():
    try:
        from PIL import Image
    except ImportError:
        raise ImportError("writing images to TensorBoard (add_image, add_images, add_figure, add_embedding's "
                          "label_img) needs Pillow to encode PNG; install it with `pip install pillow`") from None
    return Image


def encode_png(hwc_uint8):
    buf = io.BytesIO()
    _pil_image().fromarray(hwc_uint8).save(buf, format="PNG")
    return buf.getvalue()


def make_image(tensor, rescale=1):
    """Summary.Image bytes for an HWC uint8 array."""
    height, width, channel = tensor.shape
    Image = _pil_image()
    img = Image.fromarray(tensor)
    if rescale != 1:
        img = img.resize((int(width * rescale), int(height * rescale)), Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return f_varint(1, height) + f_varint(2, width) + f_varint(3, channel) + f_bytes(4, buf.getvalue())


def image(tag, tensor, rescale=1, dataformats="NCHW"):
    tensor = convert_to_HWC(make_np(tensor), dataformats)
    scale_factor = 1 if tensor.dtype == np.uint8 else 255  # float images are taken to be in [0, 1]
    tensor = (tensor.astype(np.float32) * scale_factor).clip(0, 255).astype(np.uint8)
    return _summary(_value(tag, image=make_image(tensor, rescale=rescale)))


def figure_to_image(figures, close=True):
    """A matplotlib figure (CHW uint8) or list of figures (NCHW) rendered with the Agg backend."""
    import matplotlib.backends.backend_agg as plt_backend_agg
    import matplotlib.pyplot as plt

    def render_to_rgb(figure):
        canvas = plt_backend_agg.FigureCanvasAgg(figure)
        canvas.draw()
        data = np.frombuffer(canvas.buffer_rgba(), dtype=np.uint8)
        w, h = figure.canvas.get_width_height()
        image_chw = np.moveaxis(data.reshape([h, w, 4])[:, :, 0:3], source=2, destination=0)
        if close:
            plt.close(figure)
        return image_chw

    if isinstance(figures, list):
        return np.stack([render_to_rgb(f) for f in figures])
    return render_to_rgb(figures)


# --- text, pr curves, hparams ---------------------------------------------------------------------


def text(tag, text):
    t = _tensor(DT_STRING, [1], string_val=[text.encode("utf_8")])
    # TextPluginData(version=0) serializes to no bytes
    return _summary(_value(tag + "/text_summary", tensor=t, metadata=_metadata("text")))


def _pr_summary(tag, data, num_thresholds):
    content = f_varint(2, _nonzero(num_thresholds))  # PrCurvePluginData(version=0, num_thresholds)
    t = _tensor(DT_FLOAT, data.shape, float_val=data.reshape(-1))
    return _summary(_value(tag, tensor=t, metadata=_metadata("pr_curves", content)))


def pr_curve_raw(tag, tp, fp, tn, fn, precision, recall, num_thresholds=127, weights=None):
    num_thresholds = min(num_thresholds, 127)
    data = np.stack([make_np(a) if not isinstance(a, (list, tuple)) else np.asarray(a)
                     for a in (tp, fp, tn, fn, precision, recall)])
    return _pr_summary(tag, data, num_thresholds)


def compute_curve(labels, predictions, num_thresholds=None, weights=None):
    _MINIMUM_COUNT = 1e-7
    if weights is None:
        weights = 1.0
    bucket_indices = np.int32(np.floor(predictions * (num_thresholds - 1)))
    float_labels = labels.astype(np.float64)
    histogram_range = (0, num_thresholds - 1)
    tp_buckets, _ = np.histogram(bucket_indices, bins=num_thresholds, range=histogram_range,
                                 weights=float_labels * weights)
    fp_buckets, _ = np.histogram(bucket_indices, bins=num_thresholds, range=histogram_range,
                                 weights=(1.0 - float_labels) * weights)
    tp = np.cumsum(tp_buckets[::-1])[::-1]
    fp = np.cumsum(fp_buckets[::-1])[::-1]
    tn = fp[0] - fp
    fn = tp[0] - tp
    precision = tp / np.maximum(_MINIMUM_COUNT, tp + fp)
    recall = tp / np.maximum(_MINIMUM_COUNT, tp + fn)
    return np.stack((tp, fp, tn, fn, precision, recall))


def pr_curve(tag, labels, predictions, num_thresholds=127, weights=None):
    num_thresholds = min(num_thresholds, 127)
    data = compute_curve(make_np(labels), make_np(predictions), num_thresholds=num_thresholds, weights=weights)
    return _pr_summary(tag, data, num_thresholds)


# tensorboard/plugins/hparams/metadata.py and api.proto
_HP_PLUGIN = "hparams"
_HP_EXPERIMENT_TAG = "_hparams_/experiment"
_HP_SESSION_START_TAG = "_hparams_/session_start_info"
_HP_SESSION_END_TAG = "_hparams_/session_end_info"
_HP_STRING, _HP_BOOL, _HP_FLOAT64 = 1, 2, 3
_HP_STATUS_SUCCESS = 1


def _struct_value(v):
    """google.protobuf.Value; its `kind` is a oneof, so a zero is still written."""
    if isinstance(v, str):
        return f_bytes(3, v)
    if isinstance(v, bool):
        return f_varint(4, int(v))
    return f_double(2, v)


def _hp_summary(tag, plugin_data):
    return _summary(_value(tag, metadata=_metadata(_HP_PLUGIN, plugin_data)))


def hparams(hparam_dict=None, metric_dict=None, hparam_domain_discrete=None):
    """The three Summary messages of the hparams plugin: experiment, session start, session end."""
    if not isinstance(hparam_dict, dict):
        logger.warning("parameter: hparam_dict should be a dictionary, nothing logged.")
        raise TypeError("parameter: hparam_dict should be a dictionary, nothing logged.")
    if not isinstance(metric_dict, dict):
        logger.warning("parameter: metric_dict should be a dictionary, nothing logged.")
        raise TypeError("parameter: metric_dict should be a dictionary, nothing logged.")
    hparam_domain_discrete = hparam_domain_discrete or {}
    if not isinstance(hparam_domain_discrete, dict):
        raise TypeError("parameter: hparam_domain_discrete should be a dictionary, nothing logged.")
    for k, v in hparam_domain_discrete.items():
        if k not in hparam_dict or not isinstance(v, list) or not all(isinstance(d, type(hparam_dict[k])) for d in v):
            raise TypeError(f"parameter: hparam_domain_discrete[{k}] should be a list of same type as "
                            f"hparam_dict[{k}].")
    from ..._tensor import Tensor
    infos, entries = [], []
    for k, v in hparam_dict.items():
        if v is None:
            continue
        # torch tests int/float before bool, so a bool is logged as a number; follow it
        if isinstance(v, (int, float)):
            value, dtype, kind = f_double(2, v), _HP_FLOAT64, lambda d: f_double(2, d)
        elif isinstance(v, str):
            value, dtype, kind = f_bytes(3, v), _HP_STRING, lambda d: f_bytes(3, d)
        elif isinstance(v, Tensor):
            value, dtype, kind = f_double(2, float(make_np(v).reshape(-1)[0])), _HP_FLOAT64, None
        else:
            raise ValueError("value should be one of int, float, str, bool, or torch.Tensor")
        entries.append(f_message(1, f_bytes(1, k) + f_message(2, value)))
        domain = b""
        if kind is not None and k in hparam_domain_discrete:
            domain = f_message(5, b"".join(f_message(1, kind(d)) for d in hparam_domain_discrete[k]))
        infos.append(f_message(4, f_bytes(1, k) + f_varint(4, dtype) + domain))
    metrics = [f_message(5, f_message(1, f_bytes(2, k))) for k in metric_dict]
    exp = _hp_summary(_HP_EXPERIMENT_TAG, f_message(2, b"".join(infos + metrics)))
    ssi = _hp_summary(_HP_SESSION_START_TAG, f_message(3, b"".join(entries)))
    sei = _hp_summary(_HP_SESSION_END_TAG, f_message(4, f_varint(1, _HP_STATUS_SUCCESS)))
    return exp, ssi, sei


__all__ = ["scalar", "histogram", "histogram_raw", "make_histogram", "image", "make_image", "text", "tensor_proto",
           "pr_curve", "pr_curve_raw", "compute_curve", "hparams", "make_np", "make_grid", "convert_to_HWC",
           "figure_to_image"]
