"""ember.nn.functional: torch.nn.functional's namespace.

The functions live with their op families in ``ember/ops``; each family lists
the names torch.nn.functional exposes in ``__functional__`` and this module
collects them.  Only the wrappers whose signature differs from the op's
(``relu(input, inplace=False)``) are defined here.
"""
from ..ops import activation as _activation, elementwise as _elementwise, loss as _loss, norm as _norm
from ..ops import attention as _attention, conv as _conv, fold as _fold, linalg as _linalg, pool as _pool
from ..ops import sampling as _sampling, conv3d as _conv3d
from .._argcheck import tensor_args as _tensor_args


def _collect():
    g = globals()
    for module in (_elementwise, _activation, _loss, _norm, _linalg, _conv, _pool, _fold, _attention, _sampling,
                   _conv3d):
        for name in getattr(module, "__functional__", ()):
            fn = getattr(module, name, None)
            if fn is None:  # a family still being written must not break `import ember`
                continue
            # private helpers torch's layers call through F (_canonical_mask) take no user input
            g[name] = fn if name[0] == "_" else _tensor_args(fn, __name__)


_collect()

_relu = _elementwise.relu
sigmoid = _tensor_args(_elementwise.sigmoid, __name__)
tanh = _tensor_args(_elementwise.tanh, __name__)


def relu(input, inplace=False):
    """max(0, input), elementwise; in place when inplace=True."""
    if inplace:
        return input.relu_()
    return _relu(input)


relu = _tensor_args(relu, __name__)
