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


@pytest.mark.parametrize("shape", [(2, 3, 5, 5), (4, 16, 90, 90)])   # (zero view / scalar maximum)
def test_relu_inplace_in_a_graph_matches_torch(oracle, shape):
    # relu_ on a non-leaf writes in place and saves its result (no copy of the input), as torch's
    import torch
    rng = np.random.default_rng(1)
    x = rng.standard_normal(shape).astype(np.float32)
    x.flat[:4] = [1e-45, 0.0, np.nan, -1.0]
    g = rng.standard_normal(shape).astype(np.float32)
    out = {}
    for lib, FF in ((ember, F), (oracle, oracle.nn.functional)):
        a = lib.tensor(x, requires_grad=True)
        b = a * 2
        before = b._version
        r = FF.relu(b, inplace=True)
        assert r is b and b._version == before + 1 and b.grad_fn.name() == "ReluBackward0"
        y = FF.max_pool2d(r, 2) * 3   # (ember's pool masks a relu's gradient itself)
        y.backward(lib.tensor(g[..., :shape[2] // 2, :shape[3] // 2].copy()))
        out[lib] = (r.detach().numpy().copy(), a.grad.numpy().copy())
    for e, t in zip(out[ember], out[oracle]):
        assert e.tobytes() == t.tobytes()   # the same bits, signed zeros and NaN included


def test_relu_inplace_refusals_match_torch(oracle):
    for lib in (ember, oracle):
        # a later in-place write into the result its node saved
        a = lib.tensor([-1.0, 2.0], requires_grad=True)
        b = (a * 2).relu_()
        b.add_(1)
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            b.sum().backward()
        # a leaf that requires grad
        with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
            lib.tensor([1.0], requires_grad=True).relu_()
        # the input saved by another node before it was overwritten
        c = a * 3
        d = c * c
        c.relu_()
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            d.sum().backward()
    # no graph: in place all the same
    e = ember.tensor([-1.0, 2.0], requires_grad=True)
    with ember.no_grad():
        assert e.relu_() is e and e.tolist() == [0.0, 2.0] and e.grad_fn is None
    # a retained gradient and a view take the general path, and keep torch's results
    for lib in (ember, oracle):
        a = lib.tensor([-1.0, 2.0, -3.0, 4.0], requires_grad=True)
        b = a * 1
        b.retain_grad()
        b.relu_()
        c = a * 2
        c[1:].relu_()
        (b + c).sum().backward()
        out = (a.grad.tolist(), b.grad.tolist())
        if lib is ember:
            mine = out
    assert mine == out


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
