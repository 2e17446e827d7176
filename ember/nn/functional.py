"""ember.nn.functional: torch.nn.functional's namespace.

The functions live with their op families in ``ember/ops``; each family lists
the names torch.nn.functional exposes in ``__functional__`` and this module
collects them.  Only the wrappers whose signature differs from the op's
(``relu(input, inplace=False)``) are defined here.
"""
from ..ops import activation as _activation, elementwise as _elementwise, loss as _loss, norm as _norm
from ..ops import conv as _conv, linalg as _linalg, pool as _pool
from .._argcheck import tensor_args as _tensor_args


def _collect():
    g = globals()
    for module in (_elementwise, _activation, _loss, _norm, _linalg, _conv, _pool):
        for name in getattr(module, "__functional__", ()):
            fn = getattr(module, name, None)
            if fn is not None:  # a family still being written must not break `import ember`
                g[name] = _tensor_args(fn)


_collect()

_relu = _elementwise.relu
sigmoid = _tensor_args(_elementwise.sigmoid)
tanh = _tensor_args(_elementwise.tanh)


@_tensor_args
def relu(input, inplace=False):
    """max(0, input), elementwise; in place when inplace=True."""
    if inplace:
        return input.relu_()
    return _relu(input)

# attention (ember/ops/attention.py): scaled_dot_product_attention, multi_head_attention_forward and the
# private helpers torch's Transformer layers call through F (_canonical_mask, _none_or_dtype)
from ..ops import attention as _attention  # noqa: E402
for _name in _attention.__functional__:  # the private helpers unwrapped: their warnings' stacklevel counts frames
    globals()[_name] = getattr(_attention, _name) if _name[0] == "_" else _tensor_args(getattr(_attention, _name))
del _name

# The wrappers made by _collect copy their op's __module__ (ember.ops.activation, ...), where pickle
# finds the unwrapped op and refuses them ("not the same object").  A module holding one, as
# TransformerEncoderLayer(activation="gelu") holds F.gelu, could then not be pickled or ember.save'd.
for _name, _fn in list(globals().items()):
    if getattr(_fn, "_checks_tensors", False) and globals().get(getattr(_fn, "__qualname__", None)) is _fn:
        _fn.__module__ = __name__
del _name, _fn
