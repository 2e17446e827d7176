"""Error messages that name the layer, its expected sizes and the likely fix.

Layers call these only once a check has failed, so they cost nothing on the hot path.
"""
from .module import _module_path

__all__ = []


def where(module):
    """"Linear layer 'fc1'" (or "Linear layer" for a module that is not inside a model)."""
    path = _module_path(module)
    name = type(module).__name__
    return f"{name} layer '{path}'" if path else f"{name} layer"


def shape_of(t):
    try:
        return list(t.shape)
    except Exception:
        return "?"


def flatten_hint(input, got, expected):
    """Explain a feature count produced by view/flatten, or '' when input is not such a view."""
    base = getattr(input, "_base", None)
    if base is None or base.ndim <= input.ndim:
        return ""
    bshape = list(base.shape)
    prod = 1
    for k in range(len(bshape) - 1, -1, -1):
        prod *= bshape[k]
        if prod == got:
            dims = bshape[k:]
            expr = "*".join(str(d) for d in dims)
            return (f" The input was flattened from shape {bshape} to {got} features; check the view/flatten "
                    f"size ({expr} = {got} vs {expected}): either build this layer with in_features={got} "
                    f"or change the layers before the flatten so that they produce {expected} features.")
    return (f" The input was reshaped from shape {bshape} to {list(input.shape)}; check the view/flatten "
            f"size ({got} vs {expected}).")


def linear_error(module, input, in_features, weight_shape):
    shape = shape_of(input)
    got = shape[-1]
    msg = (f"{where(module)} (in_features={in_features}) got input of shape {shape}: "
           f"the last dimension must be {in_features}")
    if len(shape) >= 2:
        rows = 1
        for s in shape[:-1]:
            rows *= s
        msg += (f" (mat1 and mat2 shapes cannot be multiplied ({rows}x{got} and "
                f"{weight_shape[1]}x{weight_shape[0]})).")
    else:
        msg += "."
    return RuntimeError(msg + flatten_hint(input, got, in_features))


def conv_rank_error(module, input, nd, in_channels):
    shape = shape_of(input)
    spatial = {1: "length", 2: "height, width", 3: "depth, height, width"}[nd]
    sp = {1: "L", 2: "H, W", 3: "D, H, W"}[nd]
    msg = (f"Expected {nd + 1}D (unbatched) or {nd + 2}D (batched) input to conv{nd}d, but got input of size: "
           f"{shape}. {where(module)} takes (batch, channels, {spatial}) = (N, {in_channels}, {sp}), or a "
           f"single unbatched sample ({in_channels}, {sp}).")
    if len(shape) == nd:
        msg += (f" This input has no channel dimension: for one single-channel sample use "
                f"input.unsqueeze(0).unsqueeze(0), i.e. shape [1, 1, ...].")
    elif len(shape) < nd:
        msg += " For a single sample, add the missing dimensions with input.unsqueeze(0)."
    else:
        msg += (" The input has too many dimensions; remove the extra ones (e.g. with squeeze) or, for a "
                "single sample, use input.unsqueeze(0) on the (C, ...) tensor instead.")
    return RuntimeError(msg)


def conv_channel_error(module, input, nd, in_channels, groups, weight_shape):
    shape = shape_of(input)
    got = shape[-nd - 1]
    msg = (f"{where(module)} (in_channels={in_channels}) got input of shape {shape}: dimension "
           f"{len(shape) - nd - 1} (channels) must be {in_channels}. Given groups={groups}, weight of size "
           f"{list(weight_shape)}, expected input{shape} to have {in_channels} channels, but got {got} "
           f"channels instead.")
    if shape[-1] == in_channels and nd == 2:
        msg += (" The input looks channels-last (N, H, W, C); convert it with input.permute(0, 3, 1, 2).")
    else:
        msg += (f" Make in_channels match the channels of the input (1 for grayscale, 3 for RGB images, or "
                f"the out_channels of the previous layer).")
    return RuntimeError(msg)


def conv_spatial_error(module, input, nd, kernel_size, stride, padding, dilation):
    """A message when the input is smaller than the (dilated) kernel, else None."""
    shape = shape_of(input)
    if shape == "?" or isinstance(padding, str):
        return None
    spatial = shape[-nd:]
    padded = [s + 2 * p for s, p in zip(spatial, padding)]
    eff = [d * (k - 1) + 1 for k, d in zip(kernel_size, dilation)]
    if all(p >= e for p, e in zip(padded, eff)):
        return None
    return RuntimeError(
        f"{where(module)} got input of shape {shape}: Calculated padded input size per channel: "
        f"({' x '.join(map(str, padded))}). Kernel size: ({' x '.join(map(str, eff))}). Kernel size can't be "
        f"greater than actual input size. The input is too small for this layer: use larger inputs, "
        f"padding, or fewer pooling steps before it.")
