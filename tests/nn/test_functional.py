"""ember.nn.functional: the namespace matches torch.nn.functional; relu's inplace flag; hot-path wrappers."""
import inspect
import numpy as np
import pytest

import ember
import ember.nn.functional as F
from ember.ops import activation, elementwise, loss, norm

CORE = ["relu", "relu_", "sigmoid", "tanh", "leaky_relu", "elu", "selu", "gelu", "silu", "softmax", "log_softmax",
        "softmin", "softplus", "hardtanh", "relu6", "threshold", "prelu", "glu", "cross_entropy", "nll_loss",
        "mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss", "binary_cross_entropy",
        "binary_cross_entropy_with_logits", "kl_div", "batch_norm", "layer_norm", "group_norm", "instance_norm",
        "dropout", "dropout2d", "embedding", "one_hot", "pad", "normalize", "cosine_similarity",
        "pairwise_distance", "interpolate"]


def test_core_names_present():
    missing = [n for n in CORE if not callable(getattr(F, n, None))]
    assert not missing, missing


@pytest.mark.parametrize("module", [activation, loss, norm])
def test_functional_lists_are_collected(module):
    for name in module.__functional__:
        assert inspect.unwrap(getattr(F, name)) is inspect.unwrap(getattr(module, name)), name  # under the type check


def test_functional_names_exist_in_torch(oracle):
    import torch.nn.functional as TF
    ours = [n for m in (elementwise, activation, loss, norm) for n in getattr(m, "__functional__", ())]
    assert [n for n in ours if not hasattr(TF, n)] == []
    public = [n for n in dir(F) if not n.startswith("_") and callable(getattr(F, n))]
    assert [n for n in public if not hasattr(TF, n)] == []


def test_relu_inplace_flag():
    x = ember.tensor([-1.0, 2.0])
    y = F.relu(x)
    assert y is not x and x.tolist() == [-1.0, 2.0] and y.tolist() == [0.0, 2.0]
    z = F.relu(x, inplace=True)
    assert z is x and x.tolist() == [0.0, 2.0]
    w = ember.tensor([-3.0])
    assert F.relu_(w) is w and w.tolist() == [0.0]


def test_relu_graph_matches_torch(oracle):
    import torch.nn.functional as TF
    x = np.array([[-1.0, 0.5, 2.0]], np.float32)
    e = ember.tensor(x, requires_grad=True)
    t = oracle.tensor(x, requires_grad=True)
    ey, ty = F.relu(e * 2, inplace=True), TF.relu(t * 2, inplace=True)
    assert ey.grad_fn.name() == ty.grad_fn.name()
    ey.sum().backward()
    ty.sum().backward()
    np.testing.assert_allclose(e.grad.numpy(), t.grad.numpy())
    assert F.relu(e).grad_fn.name() == "ReluBackward0"


def test_tutorial_style_forward_backward(oracle):
    """relu -> scale -> cross_entropy, the tail of the tutorial's classifier, against torch."""
    import torch.nn.functional as TF
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 10)).astype(np.float32)
    w = rng.standard_normal((4, 10)).astype(np.float32)
    target = np.array([1, 0, 9, 3])
    ex, ew = ember.tensor(x), ember.tensor(w, requires_grad=True)
    tx, tw = oracle.tensor(x), oracle.tensor(w, requires_grad=True)
    el = F.cross_entropy(F.relu(ex) * ew, ember.tensor(target))
    tl = TF.cross_entropy(TF.relu(tx) * tw, oracle.tensor(target))
    np.testing.assert_allclose(el.item(), tl.item(), rtol=1e-5)
    el.backward()
    tl.backward()
    np.testing.assert_allclose(ew.grad.numpy(), tw.grad.numpy(), rtol=1e-5, atol=1e-6)
    assert el.grad_fn.name() == tl.grad_fn.name() == "NllLossBackward0"
    assert el.grad_fn.next_functions[0][0].name() == "LogSoftmaxBackward0"


def test_mse_graph_walk_like_the_tutorial():
    out = ember.randn(1, 10, requires_grad=True)
    loss_ = F.mse_loss(out, ember.randn(1, 10))
    assert loss_.grad_fn.name() == "MseLossBackward0"
    assert loss_.grad_fn.next_functions[0][0].name() == "torch::autograd::AccumulateGrad"


@pytest.mark.parametrize("call, message", [
    (lambda: F.cross_entropy(ember.ones(2, 3), [0, 1]), r"cross_entropy\(\): argument 'target' \(position 2\) "
                                                        r"must be Tensor, not list"),
    (lambda: F.mse_loss(ember.ones(2), target=np.ones(2)), "mse_loss\\(\\): argument 'target' must be Tensor, "
                                                           "not numpy.ndarray"),
    (lambda: ember.exp(1.0), r"exp\(\): argument 'input' \(position 1\) must be Tensor, not float"),
    (lambda: ember.nn.CrossEntropyLoss()(ember.ones(2, 3), [0, 1]), "argument 'target'"),
    (lambda: F.relu([1.0, -1.0]), "relu\\(\\): argument 'input'"),
])
def test_non_tensor_arguments_raise_torchs_type_error(call, message):
    with pytest.raises(TypeError, match=message):
        call()


def test_public_functions_pickle_by_name():
    # a module holding F.gelu (TransformerEncoderLayer(activation="gelu")) must survive ember.save;
    # aliases (ember.concat = ember.cat) pickle too
    import pickle
    import types
    for ns in (ember, F):
        for name in dir(ns):
            fn = getattr(ns, name)
            if isinstance(fn, types.FunctionType) and not name.startswith("_"):
                assert pickle.loads(pickle.dumps(fn)) is fn, (ns.__name__, name)


def test_warnings_point_at_the_callers_line():
    # torch's warnings name the user's line whichever way the op was reached (method, torch.*, F.*, a Module)
    import warnings
    x = ember.ones(2, 3)
    calls = [lambda: ember.std(x[:, :1], dim=1), lambda: x[:, :1].std(dim=1), lambda: F.softmax(x),
             lambda: ember.nn.Softmax()(x), lambda: F.dropout2d(ember.ones(2, 3))]
    for call in calls:
        with warnings.catch_warnings(record=True) as log:
            warnings.simplefilter("always")
            call()
        assert log and all(w.filename == __file__ for w in log), [(w.filename, w.lineno) for w in log]
