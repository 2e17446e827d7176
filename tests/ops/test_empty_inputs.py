"""Empty batches and other degenerate sizes, against torch: the last, empty batch of a loop, an empty
selection, zero samples. Values, shapes and gradients, or torch's exception type."""
import warnings

import pytest

import ember
from tests.conftest import requires_torch, torch


def _run(T, case):
    """(shape, values, input grad shape, param grads) of case(T), or the exception type's name; no
    warning may reach the user (NumPy's 'invalid value' for a mean over nothing, say)."""
    T.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        # what a user's process has: ember silences NumPy's RuntimeWarnings raised from its own frames
        warnings.filterwarnings("ignore", category=RuntimeWarning, module=r"ember(\.|$)")
        try:
            out, x, params = case(T)
            if x is not None:
                out.sum().backward()
            return (tuple(out.shape), str(out.tolist()), None if x is None else tuple(x.grad.shape),
                    [p.grad.tolist() for p in params], [b.tolist() for b in getattr(case, "buffers", lambda T: [])(T)])
        except Exception as exc:  # noqa: BLE001 - the type is what we compare
            return type(exc).__name__


def _grad_input(*shape):
    return lambda T: T.zeros(*shape, requires_grad=True)


def _layer(make, *shape):
    def case(T):
        layer = make(T)
        x = T.zeros(*shape, requires_grad=True)
        return layer(x), x, list(layer.parameters())
    return case


CASES = {
    "batch_norm empty batch": _layer(lambda T: T.nn.BatchNorm2d(3), 0, 3, 2, 2),
    "batch_norm one value": _layer(lambda T: T.nn.BatchNorm1d(3), 1, 3),
    "batch_norm eval empty": _layer(lambda T: T.nn.BatchNorm2d(3).eval(), 0, 3, 2, 2),
    "group_norm empty batch": _layer(lambda T: T.nn.GroupNorm(1, 3), 0, 3, 2, 2),
    "instance_norm empty batch": _layer(lambda T: T.nn.InstanceNorm2d(3), 0, 3, 2, 2),
    "instance_norm one element": _layer(lambda T: T.nn.InstanceNorm2d(3), 2, 3, 1, 1),
    "layer_norm empty batch": _layer(lambda T: T.nn.LayerNorm(4), 0, 4),
    "max_pool2d empty batch": _layer(lambda T: T.nn.MaxPool2d(2), 0, 3, 8, 8),
    "max_pool2d 3x3 empty batch": _layer(lambda T: T.nn.MaxPool2d(3, 2), 0, 3, 8, 8),
    "conv2d empty batch": _layer(lambda T: T.nn.Conv2d(3, 2, 3), 0, 3, 8, 8),
    "linear empty batch": _layer(lambda T: T.nn.Linear(4, 3), 0, 4),
    "adaptive_max_pool2d empty batch": _layer(lambda T: T.nn.AdaptiveMaxPool2d(2), 0, 3, 8, 8),
    "conv3d empty batch": _layer(lambda T: T.nn.Conv3d(2, 4, 2, groups=2), 0, 2, 3, 3, 3),
    "conv_transpose3d empty batch": _layer(lambda T: T.nn.ConvTranspose3d(2, 2, 2), 0, 2, 3, 3, 3),
    "max_pool3d empty batch": _layer(lambda T: T.nn.MaxPool3d(3, 2, ceil_mode=True), 0, 2, 5, 5, 5),
    "avg_pool3d empty batch": _layer(lambda T: T.nn.AvgPool3d(2), 0, 2, 4, 4, 4),
    "adaptive_avg_pool3d empty batch": _layer(lambda T: T.nn.AdaptiveAvgPool3d(2), 0, 2, 4, 4, 4),
    "adaptive_max_pool3d empty batch": _layer(lambda T: T.nn.AdaptiveMaxPool3d(2), 0, 2, 4, 4, 4),
    "batch_norm3d empty batch": _layer(lambda T: T.nn.BatchNorm3d(2), 0, 2, 2, 2, 2),
    "cross_entropy empty batch": lambda T: (lambda x: (T.nn.functional.cross_entropy(x, T.zeros(0, dtype=T.long)),
                                                       x, []))(T.zeros(0, 3, requires_grad=True)),
    "stack nothing": lambda T: (T.stack([]), None, []),
    "hstack nothing": lambda T: (T.hstack([]), None, []),
    "cat nothing": lambda T: (T.cat([]), None, []),
    "multinomial zero samples": lambda T: (T.multinomial(T.ones(3), 0), None, []),
    "multinomial negative samples": lambda T: (T.multinomial(T.ones(3), -1), None, []),
}


def _tracked_instance_norm(T):
    layer = T.nn.InstanceNorm2d(3, track_running_stats=True)
    x = T.zeros(0, 3, 2, 2, requires_grad=True)
    out = layer(x)
    _tracked_instance_norm.layer = layer
    return out, x, []


_tracked_instance_norm.buffers = lambda T: [str(b.tolist()) for b in _tracked_instance_norm.layer.buffers()]
CASES["instance_norm running stats of an empty batch"] = _tracked_instance_norm


@requires_torch
@pytest.mark.parametrize("name", list(CASES))
def test_degenerate_sizes_match_torch(name):
    assert _run(ember, CASES[name]) == _run(torch, CASES[name])


def test_empty_batch_keeps_batch_norm_running_stats():
    bn = ember.nn.BatchNorm2d(3)
    bn.running_mean.fill_(0.5)
    out = bn(ember.zeros(0, 3, 2, 2))
    assert out.shape == (0, 3, 2, 2)
    assert bn.running_mean.tolist() == [0.5] * 3 and bn.running_var.tolist() == [1.0] * 3
    assert int(bn.num_batches_tracked) == 1
    with pytest.raises(ValueError, match="Expected more than 1 value per channel when training"):
        ember.nn.BatchNorm1d(3)(ember.zeros(1, 3))


def test_empty_lists_and_sample_counts_raise_torchs_errors():
    with pytest.raises(RuntimeError, match="stack expects a non-empty TensorList"):
        ember.stack([])
    with pytest.raises(ValueError, match=r"cat\(\): expected a non-empty list of Tensors"):
        ember.cat([])
    with pytest.raises(RuntimeError, match="cannot sample n_sample <= 0 samples"):
        ember.multinomial(ember.ones(3), -1)
