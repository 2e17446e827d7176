"""Activations: values and gradients against torch and float64 central differences, node names, errors."""
import inspect
import warnings

import numpy as np
import pytest

import ember
from ember.ops import activation as A
from tests.conftest import check_unbuffered_rows, numeric_grad, record_blocks, requires_torch, torch

RNG = np.random.default_rng(0)


def _tensors(lib, args, grad_idx):
    out = []
    for i, a in enumerate(args):
        if isinstance(a, np.ndarray):
            t = lib.tensor(a)
            if i in grad_idx:
                t.requires_grad_(True)
            out.append(t)
        else:
            out.append(a)
    return out


def compare(torch, efn, tfn, args, grad_idx=(0,), atol=1e-5, rtol=1e-4, kwargs=None, names=True):
    """Forward values, dtypes, gradients (for a random upstream gradient) and node names vs torch."""
    kwargs = kwargs or {}
    ea = _tensors(ember, args, grad_idx)
    ta = _tensors(torch, args, grad_idx)
    eo, to = efn(*ea, **kwargs), tfn(*ta, **kwargs)
    assert tuple(eo.shape) == tuple(to.shape)
    assert eo.dtype.name == str(to.dtype).split(".")[-1]
    np.testing.assert_allclose(eo.detach().numpy(), to.detach().numpy(), atol=atol, rtol=rtol)
    if not grad_idx:
        return eo
    if names:
        assert eo.grad_fn.name() == to.grad_fn.name()
    w = RNG.standard_normal(tuple(to.shape)).astype(args[0].dtype)
    eo.backward(ember.tensor(w))
    to.backward(torch.tensor(w))
    for i in grad_idx:
        assert ea[i].grad is not None, f"no gradient for argument {i}"
        np.testing.assert_allclose(ea[i].grad.numpy(), ta[i].grad.numpy(), atol=atol, rtol=rtol)
    return eo


def gradcheck(efn, x, *rest, kwargs=None):
    """Backward of sum(out * w) against float64 central differences."""
    kwargs = kwargs or {}
    x = x.astype(np.float64)
    xt = ember.tensor(x, requires_grad=True)
    out = efn(xt, *rest, **kwargs)
    w = RNG.standard_normal(tuple(out.shape))
    out.backward(ember.tensor(w))

    def f(v):
        with ember.no_grad():
            return float((efn(ember.tensor(v), *rest, **kwargs).numpy() * w).sum())
    np.testing.assert_allclose(xt.grad.numpy(), numeric_grad(f, x), atol=1e-6, rtol=1e-5)


def _x(*shape, dtype=np.float32):
    x = RNG.standard_normal(shape).astype(dtype) * 2
    return x


# (name, kwargs) for functions that exist in torch.nn.functional with the same signature
POINTWISE = [
    ("leaky_relu", {}), ("leaky_relu", {"negative_slope": 0.2}), ("elu", {}), ("elu", {"alpha": 0.5}),
    ("selu", {}), ("celu", {}), ("celu", {"alpha": 2.0}), ("gelu", {}), ("gelu", {"approximate": "tanh"}),
    ("silu", {}), ("mish", {}), ("hardtanh", {}), ("hardtanh", {"min_val": -0.5, "max_val": 2.0}),
    ("relu6", {}), ("hardsigmoid", {}), ("hardswish", {}), ("softplus", {}),
    ("softplus", {"beta": 2.0, "threshold": 3.0}), ("softsign", {}), ("tanhshrink", {}), ("logsigmoid", {}),
    ("hardshrink", {}), ("hardshrink", {"lambd": 1.0}), ("softshrink", {}), ("softshrink", {"lambd": 1.0}),
]


@pytest.mark.parametrize("name,kwargs", POINTWISE)
@pytest.mark.parametrize("shape,dtype", [((7,), np.float32), ((3, 4, 5), np.float32), ((2, 3), np.float64)])
def test_pointwise_matches_torch(oracle, name, kwargs, shape, dtype):
    import torch.nn.functional as TF
    x = _x(*shape, dtype=dtype)
    compare(oracle, getattr(A, name), getattr(TF, name), [x], kwargs=kwargs)


@pytest.mark.parametrize("name,kwargs", POINTWISE)
def test_pointwise_gradcheck(name, kwargs):
    x = _x(3, 4, dtype=np.float64)
    # keep away from the kinks, where central differences are meaningless
    x[np.abs(x) < 0.05] += 0.3
    for k in (-3.0, 3.0, -1.0, 1.0, 6.0, 2.0, -0.5, 0.5):
        x[np.abs(x - k) < 0.05] += 0.2
    gradcheck(getattr(A, name), x, kwargs=kwargs)


def test_gelu_erf_is_accurate():
    import math
    x = np.linspace(-8, 8, 4001)
    ref = np.array([math.erf(v) for v in x])
    assert np.max(np.abs(A._erf(x) - ref)) < 5e-15
    assert A._erf(np.float32([0.5])).dtype == np.float32


def test_threshold_and_inplace_variants(oracle):
    import torch.nn.functional as TF
    x = _x(4, 5)
    compare(oracle, A.threshold, TF.threshold, [x, 0.3, -2.0])
    for name, args in [("leaky_relu_", ()), ("elu_", ()), ("celu_", ()), ("selu_", ()), ("hardtanh_", ()),
                       ("threshold_", (0.3, -2.0)), ("rrelu_", ())]:
        e = ember.tensor(x.copy(), requires_grad=True)
        t = oracle.tensor(x.copy(), requires_grad=True)
        eo = getattr(A, name)(e * 1, *args)
        to = getattr(TF, name)(t * 1, *args)
        np.testing.assert_allclose(eo.detach().numpy(), to.detach().numpy(), rtol=1e-5, atol=1e-6)
        assert eo.grad_fn.name() == to.grad_fn.name()
        assert eo.grad_fn.next_functions[0][0].name() == "MulBackward0"
        w = RNG.standard_normal(x.shape).astype(np.float32)
        eo.backward(ember.tensor(w))
        to.backward(oracle.tensor(w))
        np.testing.assert_allclose(e.grad.numpy(), t.grad.numpy(), rtol=1e-5, atol=1e-6)


def test_inplace_writes_input_and_bumps_version():
    x = ember.tensor([-1.0, 2.0])
    v = x._version
    y = A.leaky_relu(x, 0.5, inplace=True)
    assert y is x and x._version == v + 1
    np.testing.assert_allclose(x.numpy(), [-0.5, 2.0])


@pytest.mark.parametrize("name", ["silu", "mish", "hardswish", "hardsigmoid"])
def test_inplace_via_out_of_place_keeps_gradient(oracle, name):
    import torch.nn.functional as TF
    x = _x(6)
    e = ember.tensor(x, requires_grad=True)
    t = oracle.tensor(x, requires_grad=True)
    eo = getattr(A, name)(e * 1, inplace=True)
    to = getattr(TF, name)(t * 1, inplace=True)
    eo.backward(ember.ones(6))
    to.backward(oracle.ones(6))
    np.testing.assert_allclose(e.grad.numpy(), t.grad.numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", ["silu", "mish", "hardswish", "hardsigmoid"])
def test_inplace_via_result_may_be_modified_again(oracle, name):
    # these nodes save a copy of the input, as torch's: MobileNetV3's Hardswish(inplace) then Dropout(inplace)
    import torch.nn.functional as TF
    x = _x(6)
    e = ember.tensor(x, requires_grad=True)
    t = oracle.tensor(x, requires_grad=True)
    eo = getattr(A, name)(e * 1, inplace=True)
    to = getattr(TF, name)(t * 1, inplace=True)
    eo.mul_(3)
    to.mul_(3)
    eo.backward(ember.ones(6))
    to.backward(oracle.ones(6))
    np.testing.assert_allclose(e.grad.numpy(), t.grad.numpy(), rtol=1e-5, atol=1e-6)


def test_inplace_on_leaf_requiring_grad_raises():
    x = ember.tensor([1.0, -1.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf Variable"):
        A.elu_(x)
    with pytest.raises(RuntimeError, match="leaf Variable"):
        A.leaky_relu(x, inplace=True)


def test_inplace_saved_result_detects_later_modification():
    x = ember.tensor([1.0, -1.0], requires_grad=True)
    y = A.elu_(x * 1)
    y.mul_(2)  # modifies what EluBackward1 saved
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.backward(ember.ones(2))


@pytest.mark.parametrize("dim", [0, 1, -1, 2])
@pytest.mark.parametrize("fn", ["softmax", "log_softmax", "softmin"])
def test_softmax_family(oracle, fn, dim):
    import torch.nn.functional as TF
    x = _x(2, 3, 4)
    compare(oracle, getattr(A, fn), getattr(TF, fn), [x, dim])
    gradcheck(getattr(A, fn), x[:, :2, :3], dim)


def test_softmax_node_names_and_dtype(oracle):
    x = _x(3, 4)
    e = ember.tensor(x, requires_grad=True)
    assert A.softmax(e, 1).grad_fn.name() == "SoftmaxBackward0"
    assert A.log_softmax(e, 1).grad_fn.name() == "LogSoftmaxBackward0"
    sm = A.softmin(e, 1)
    assert sm.grad_fn.name() == "SoftmaxBackward0"
    assert sm.grad_fn.next_functions[0][0].name() == "NegBackward0"
    y = A.softmax(e, 1, dtype=ember.float64)
    assert y.dtype is ember.float64
    assert y.grad_fn.next_functions[0][0].name() == "ToCopyBackward0"
    y.backward(ember.ones(3, 4, dtype=ember.float64))
    assert e.grad.dtype is ember.float32
    # torch.softmax(x, dim, dtype) positionally, and the Tensor methods
    np.testing.assert_allclose(ember.softmax(e, 1, ember.float64).detach().numpy(),
                               oracle.softmax(oracle.tensor(x), 1, oracle.float64).numpy(), rtol=1e-6)
    np.testing.assert_allclose(e.softmax(0).detach().numpy(), oracle.tensor(x).softmax(0).numpy(), rtol=1e-5)
    np.testing.assert_allclose(e.log_softmax(dim=1).detach().numpy(),
                               oracle.tensor(x).log_softmax(dim=1).numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("shape", [(5,), (4, 10), (3, 2, 7), (1, 127)])
@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_softmax_hot_path_is_the_general_path(shape, dt):
    # small rows over the last dim take a hot path: the general path's bits, inf and nan rows
    # included, and its gradients; a dim given as -1 or as the last index alike
    from ember.ops import activation as act
    rng = np.random.default_rng(3)
    a = (rng.standard_normal(shape) * 4).astype(dt)
    a.flat[0] = np.inf
    a.flat[-1] = np.nan
    for fast, general in ((A.softmax, act._softmax), (A.log_softmax, act._log_softmax)):
        for dim in (-1, len(shape) - 1):
            x = ember.tensor(a, requires_grad=True)
            y = fast(x, dim)
            xr = ember.tensor(a, requires_grad=True)
            ref = general(xr, dim, 3, None)
            np.testing.assert_array_equal(y.detach().numpy(), ref.detach().numpy())
            assert y.grad_fn.name() == ref.grad_fn.name()
            g = rng.standard_normal(shape).astype(dt)
            y.backward(ember.tensor(g))
            ref.backward(ember.tensor(g))
            np.testing.assert_array_equal(x.grad.numpy(), xr.grad.numpy())


def test_softmax_rows_sum_to_one_and_handle_large_values():
    x = ember.tensor([[1000.0, 1000.0], [-1000.0, 0.0]])
    y = A.softmax(x, 1).numpy()
    np.testing.assert_allclose(y.sum(1), [1, 1])
    np.testing.assert_allclose(y[0], [0.5, 0.5])
    assert np.isfinite(A.log_softmax(x, 1).numpy()).all()


@pytest.mark.parametrize("ndim,expected_dim", [(1, 0), (2, 1), (3, 0), (4, 1)])
def test_softmax_implicit_dim_warns(oracle, ndim, expected_dim):
    import torch.nn.functional as TF
    x = _x(*([3] * ndim))
    with pytest.warns(UserWarning, match="Implicit dimension choice for softmax has been deprecated"):
        y = A.softmax(ember.tensor(x))
    np.testing.assert_allclose(y.numpy(), A.softmax(ember.tensor(x), expected_dim).numpy())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        np.testing.assert_allclose(y.numpy(), TF.softmax(oracle.tensor(x)).numpy(), rtol=1e-5)
    with pytest.warns(UserWarning, match="Implicit dimension choice for log_softmax"):
        A.log_softmax(ember.tensor(x))


def test_softmax_scalar_and_errors():
    assert A.softmax(ember.tensor(3.0), 0).item() == 1.0
    with pytest.raises(IndexError, match="Dimension out of range"):
        A.softmax(ember.tensor([1.0, 2.0]), 1)
    with pytest.raises(NotImplementedError, match="not implemented for 'Long'"):
        A.softmax(ember.tensor([1, 2]), 0)
    # an explicit dtype makes integer input fine, as in torch
    np.testing.assert_allclose(A.softmax(ember.tensor([0, 0]), 0, dtype=ember.float32).numpy(), [0.5, 0.5])


_ZERO_D_ACTIVATIONS = ["relu", "relu6", "elu", "selu", "celu", "gelu", "silu", "mish", "softplus", "softsign",
                       "tanhshrink", "hardtanh", "hardswish", "hardsigmoid", "logsigmoid", "sigmoid", "tanh",
                       "leaky_relu", "softshrink", "hardshrink"]


@pytest.mark.parametrize("name", _ZERO_D_ACTIVATIONS)
@pytest.mark.parametrize("value", [-0.3, 0.7])
def test_zero_dim_activations_hold_arrays(oracle, name, value):
    # NumPy gives elementwise results of 0-d arrays as scalars (np.float32), which take no out= (sigmoid's
    # and relu's backward raised) and which .numpy() refuses: a tensor must hold an array
    fn = getattr(ember.nn.functional, name)
    eo = compare(oracle, fn, getattr(oracle.nn.functional, name), [np.array(value, np.float32)], names=False)
    assert type(eo._data) is np.ndarray
    with ember.no_grad():
        assert type(fn(ember.tensor(value))._data) is np.ndarray


def test_prelu(oracle):
    import torch.nn.functional as TF
    for shape, wshape in [((2, 3, 4, 4), (3,)), ((2, 3), (3,)), ((2, 3, 5), (1,)), ((5,), (1,))]:
        x = _x(*shape)
        w = RNG.uniform(0.05, 0.5, wshape).astype(np.float32)
        compare(oracle, A.prelu, TF.prelu, [x, w], grad_idx=(0, 1))
    with pytest.raises(RuntimeError, match="Mismatch of parameter numbers and input channel size"):
        A.prelu(ember.tensor(_x(2, 3)), ember.tensor(np.ones(4, np.float32)))
    assert ember.tensor(_x(2, 3)).prelu(ember.tensor([0.1])).shape == (2, 3)


# (input shape, input dtype, weight shape, weight dtype): torch's checks, in its order
_PRELU_BAD = [((5,), "float32", (5,), "float32"), ((4,), "float32", (5,), "float32"), ((), "float32", (5,), "float32"),
              ((2, 3, 5), "float32", (5,), "float32"), ((2, 5), "float32", (1, 5), "float32"),
              ((), "float32", (1, 1), "float32"), ((2, 5), "float64", (5,), "float32"),
              ((2, 5), "int64", (5,), "float32"), ((2, 5), "int64", (5,), "int64"),
              ((2, 5), "float32", (5, 1), "float32")]


@pytest.mark.parametrize("xshape,xdtype,wshape,wdtype", _PRELU_BAD)
def test_prelu_errors_match_torch(oracle, xshape, xdtype, wshape, wdtype):
    # a 1-D input is one channel to torch (a PReLU(5) can't take a vector of 5), and a 0-d one has none
    excs = []
    for lib in (oracle, ember):
        x, w = lib.ones(xshape, dtype=getattr(lib, xdtype)), lib.ones(wshape, dtype=getattr(lib, wdtype))
        with pytest.raises(Exception) as info:  # noqa: PT011 (the type is compared below)
            lib.nn.functional.prelu(x, w)
        excs.append(info.value)
    theirs, ours = excs
    assert type(ours) is type(theirs) and str(ours).startswith(str(theirs)), (str(ours), str(theirs))


def test_prelu_module_of_a_vector_raises_as_torch(oracle):
    for lib in (oracle, ember):
        with pytest.raises(RuntimeError, match="Found parameter numbers = 5 and channel size = 1"):
            lib.nn.PReLU(5)(lib.ones(5))
        assert tuple(lib.nn.PReLU()(lib.ones(5)).shape) == (5,)


@pytest.mark.parametrize("dim", [0, 1, -1])
def test_glu(oracle, dim):
    import torch.nn.functional as TF
    x = _x(4, 6, 2)
    compare(oracle, A.glu, TF.glu, [x, dim])
    gradcheck(A.glu, _x(2, 4, 2, dtype=np.float64), dim)
    with pytest.raises(RuntimeError, match="Halving dimension must be even"):
        A.glu(ember.tensor(_x(3, 3)), 0)


def test_rrelu(oracle):
    import torch.nn.functional as TF
    x = _x(50)
    compare(oracle, A.rrelu, TF.rrelu, [x])  # eval: fixed slope (lower + upper) / 2
    e = ember.tensor(x, requires_grad=True)
    y = A.rrelu(e, 0.1, 0.3, training=True)
    neg = x < 0
    ratio = y.detach().numpy()[neg] / x[neg]
    assert (ratio >= 0.1 - 1e-6).all() and (ratio <= 0.3 + 1e-6).all() and ratio.std() > 0
    y.backward(ember.ones(50))
    np.testing.assert_allclose(e.grad.numpy()[neg], ratio, rtol=1e-5)
    np.testing.assert_allclose(e.grad.numpy()[~neg], 1)


def test_integer_input_errors():
    with pytest.raises(NotImplementedError, match="\"elu_cpu\" not implemented for 'Long'"):
        A.elu(ember.tensor([1, 2]))
    with pytest.raises(NotImplementedError, match="float"):
        A.gelu(ember.tensor([1, 2]))
    with pytest.raises(RuntimeError, match="approximate argument must be either none or tanh"):
        A.gelu(ember.tensor([1.0]), approximate="fast")
    # hardtanh / threshold work on integers, as in torch; softsign promotes to float
    assert A.hardtanh(ember.tensor([-5, 0, 5])).tolist() == [-1, 0, 1]
    assert A.softsign(ember.tensor([1, -1])).dtype is ember.float32


def test_grad_mode_and_second_backward():
    x = ember.tensor([1.0, -2.0], requires_grad=True)
    with ember.no_grad():
        assert A.gelu(x).grad_fn is None
    y = A.softmax(x, 0)
    y.backward(ember.ones(2), retain_graph=True)
    y.backward(ember.ones(2))  # retained: fine
    z = A.softmax(x, 0)
    z.backward(ember.ones(2))
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        z.backward(ember.ones(2))


def test_float32_stays_float32():
    x = ember.tensor(_x(3, 3), requires_grad=True)
    for name, _ in POINTWISE:
        y = getattr(A, name)(x)
        assert y.dtype is ember.float32, name
        y.backward(ember.ones(3, 3))
        assert x.grad.dtype is ember.float32
        x.grad = None


def test_top_level_exports():
    for name in A.__all__:
        expected = A.__top_level__.get(name, getattr(A, name))  # torch.softmax requires dim, F.softmax not
        assert inspect.unwrap(getattr(ember, name)) is inspect.unwrap(expected)  # under the type check
    x = ember.tensor([-1.0, 1.0])
    ember.relu_(x)
    assert x.tolist() == [0.0, 1.0]


def test_modifying_softmax_output_in_place_is_detected(oracle):
    x = ember.tensor(_x(2, 3), requires_grad=True)
    y = A.softmax(x, 1)
    y.mul_(2)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.backward(ember.ones(2, 3))
    z = A.log_softmax(x, 1)
    z.add_(1)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        z.backward(ember.ones(2, 3))


@requires_torch
def test_top_level_softmax_requires_dim_like_torch():
    x = ember.ones(2, 3)
    for call in (lambda m, t: m.softmax(t), lambda m, t: t.softmax(), lambda m, t: m.log_softmax(t),
                 lambda m, t: t.log_softmax()):
        with pytest.raises(TypeError):
            call(torch, torch.ones(2, 3))
        with pytest.raises(TypeError, match="missing 1 required positional argument: 'dim'"):
            call(ember, x)
    assert ember.softmax(x, 1, ember.float64).dtype is ember.float64
    assert x.log_softmax(1, ember.float64).dtype is ember.float64
    with pytest.warns(UserWarning, match="Implicit dimension choice for softmax"):
        ember.nn.functional.softmax(x)  # F keeps torch's deprecated guess


@requires_torch
@pytest.mark.parametrize("op", ["threshold", "softshrink", "sign", "sgn"])
def test_nan_and_negative_zero_as_torch(op):
    # NaN stays NaN through threshold and softshrink (and passes its gradient), sign(NaN) is 0, and
    # softshrink keeps -0.0 (torch's middle branch is x * 0)
    def run(T):
        x = T.tensor([float("nan"), 0.2, 1.0, -0.0, -3.0], requires_grad=op not in ("sign", "sgn"))
        f = {"threshold": lambda v: T.nn.functional.threshold(v, 0.5, -1.0),
             "softshrink": T.nn.functional.softshrink, "sign": T.sign, "sgn": T.sgn}[op]
        y = f(x)
        if x.requires_grad:
            y.sum().backward()
        return str(y.tolist()), None if x.grad is None else str(x.grad.tolist())
    assert run(ember) == run(torch)


@requires_torch
@pytest.mark.parametrize("slope", [0.01, 0.0, 1.0, 0.3, 2.0, -0.5])
def test_leaky_relu_special_values_match_torch(slope):
    # the max(x, slope * x) path must keep torch's signed zeros, infinities and NaNs
    v = np.array([np.inf, -np.inf, np.nan, -0.0, 0.0, -1e-45, 1e-45, -3.0, 2.0], np.float32)
    want = torch.nn.functional.leaky_relu(torch.tensor(v), slope).numpy()
    got = ember.nn.functional.leaky_relu(ember.tensor(v), slope).numpy()
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(np.signbit(got), np.signbit(want))


@requires_torch
@pytest.mark.parametrize("name", ["sigmoid", "silu", "softplus", "logsigmoid", "mish"])
def test_sigmoid_family_special_values_match_torch(name):
    # torch's formulas (1 / (1 + exp(-x)) and friends) at the ends, where exp overflows
    v = np.array([np.inf, -np.inf, np.nan, 100.0, -100.0, 0.0, -0.0, 30.0, -30.0, 1.5], np.float32)
    tf = torch.sigmoid if name == "sigmoid" else getattr(torch.nn.functional, name)
    ef = ember.sigmoid if name == "sigmoid" else getattr(ember.nn.functional, name)
    want, got = tf(torch.tensor(v)).numpy(), ef(ember.tensor(v)).numpy()
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_allclose(got, want, rtol=3e-7, atol=1e-38)


@pytest.mark.parametrize("size", ["small", "blocks"])
def test_float32_erf_is_within_half_an_ulp_or_so(size):
    # the float32 path's own fits (degrees 8 and 7): every float32 result within 0.52 ulp of the truth;
    # "blocks": a large array goes in cache-sized blocks, some mostly past 1.5 (the tail's fit on the
    # whole block), some mostly below (on the few elements past it), as GELU's normal inputs
    import math
    n = 20001 if size == "small" else 150001
    parts = [np.linspace(-4.5, 4.5, n, dtype=np.float32)]
    if size == "blocks":
        parts.append((np.random.default_rng(0).standard_normal(100000) * 0.7).astype(np.float32))
    x = np.concatenate(parts + [np.float32([0.0, -0.0, 1e-30, -1e-38, 1e-45, 1.5, -1.5, 3.92, 10.0])])
    ref = np.array([math.erf(v) for v in x.astype(np.float64)])
    got = ember.erf(ember.tensor(x)).numpy()
    assert got.dtype == np.float32
    ulp = np.spacing(np.maximum(np.abs(ref.astype(np.float32)), np.float32(1e-38))).astype(np.float64)
    assert np.max(np.abs(got - ref) / ulp) < 0.55
    np.testing.assert_array_equal(np.signbit(got), np.signbit(x))
    special = ember.erf(ember.tensor(np.float32([np.inf, -np.inf, np.nan]))).numpy()
    np.testing.assert_array_equal(special[:2], [1.0, -1.0])
    assert np.isnan(special[2])


@pytest.mark.parametrize("workers", [1, 2])
def test_large_erf_and_gelu_gradient_in_blocks_on_threads(monkeypatch, workers):
    # from _ERF_PAR_MIN elements on, erf and GELU's gradient run in blocks shared between threads:
    # the same bits as one pass over the whole array, whatever the block size and thread count
    monkeypatch.setattr(A, "_ERF_PAR_MIN", 50000)
    monkeypatch.setattr(A, "_ERF_SHARED_BLOCK", 4096)
    monkeypatch.setattr(A, "_ERF_BLOCK", 3000)
    calls = record_blocks(monkeypatch, workers)
    rng = np.random.default_rng(5)
    x = (rng.standard_normal((7, 10007)) * 2).astype(np.float32)   # (a last block shorter than the rest)
    g = rng.standard_normal(x.shape).astype(np.float32)
    got = A._erf32(x)
    blocks = -(-x.size // (3000 if workers == 1 else 4096))   # (one thread: _ERF_BLOCK's blocks)
    assert calls[-1][1] == (-(-blocks // workers), workers)
    np.testing.assert_array_equal(got, A._erf32_block(x))
    cdf = A._erf32(x * A._SQRT1_2)
    cdf += 1
    cdf *= 0.5
    want = g * (cdf + x * (np.exp(x * x * -0.5) * A._INV_SQRT_2PI))
    t = ember.tensor(x, requires_grad=True)
    y = A.gelu(t)
    np.testing.assert_array_equal(y.detach().numpy(), x * cdf)
    y.backward(ember.tensor(g))
    assert len(calls) == 4   # erf twice above, once in gelu; the gradient
    np.testing.assert_array_equal(t.grad.numpy(), want)


@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.parametrize("cols", [700, 30])
def test_large_softmax_in_blocks_of_rows(oracle, monkeypatch, workers, cols):
    # softmax and log_softmax over the last dim of large arrays, forward and backward, in blocks of rows
    # (on threads): each row as from one pass over the whole array, and torch's values
    import torch.nn.functional as TF
    from ember import _threads
    monkeypatch.setattr(_threads, "ROW_BLOCK", 20000)
    monkeypatch.setattr(_threads, "ROWS_PAR_MIN", 100000)
    calls = record_blocks(monkeypatch, workers, "row_blocks")
    rng = np.random.default_rng(6)
    x = rng.standard_normal((21000 // cols * 10 + 7, cols)).astype(np.float32)   # (a longer last block)
    x[3, :5] = -np.inf
    g = rng.standard_normal(x.shape).astype(np.float32)
    for name, rows in (("softmax", A._softmax_rows), ("log_softmax", A._log_softmax_rows)):
        calls.clear()
        e = ember.tensor(x, requires_grad=True)
        t = oracle.tensor(x, requires_grad=True)
        ey, ty = getattr(A, name)(e, -1), getattr(TF, name)(t, -1)
        ey.backward(ember.tensor(g))
        ty.backward(oracle.tensor(g))
        assert [c[0] for c in calls] == [x.shape[0]] * 2   # forward and backward, in blocks
        np.testing.assert_array_equal(ey.detach().numpy(), rows(x))
        node = (A.SoftmaxBackward0 if name == "softmax" else A.LogSoftmaxBackward0).__new__(
            A.SoftmaxBackward0 if name == "softmax" else A.LogSoftmaxBackward0)
        node.y, node.dim = rows(x), 1
        monkeypatch.setattr(_threads, "ROW_BLOCK", 1 << 30)   # (the whole array at once)
        np.testing.assert_array_equal(e.grad.numpy(), node.apply(g)[0])
        monkeypatch.setattr(_threads, "ROW_BLOCK", 20000)
        np.testing.assert_allclose(ey.detach().numpy(), ty.detach().numpy(), rtol=2e-6, atol=1e-6)
        np.testing.assert_allclose(e.grad.numpy(), t.grad.numpy(), rtol=2e-5, atol=2e-6)


def test_float32_erfc_is_within_half_an_ulp_or_so():
    # the float32 path's table of erfcx: relative accuracy through the tail, where erfc falls through
    # float32's normal and subnormal range to 0 past 10.06, and 2 - erfc(-x) for negative x
    import math
    x = np.concatenate([np.linspace(-11, 11, 200001, dtype=np.float32),
                        np.float32([0.0, -0.0, 1e-30, -1e-38, 1e-45, 9.2, 10.0, 10.05, 10.06, 10.125, 12.0, -12.0])])
    ref = np.array([math.erfc(v) for v in x.astype(np.float64)])
    got = ember.erfc(ember.tensor(x)).numpy()
    assert got.dtype == np.float32
    ulp = np.spacing(np.maximum(np.abs(ref.astype(np.float32)), np.float32(1.4e-45))).astype(np.float64)
    assert np.max(np.abs(got - ref) / ulp) < 0.51
    special = ember.erfc(ember.tensor(np.float32([np.inf, -np.inf, np.nan, 0.0, -0.0]))).numpy()
    np.testing.assert_array_equal(special[[0, 1, 3, 4]], [0.0, 2.0, 1.0, 1.0])
    assert np.isnan(special[2])
    assert ember.erfc(ember.tensor(0.5)).shape == () and ember.erfc(ember.tensor([1.0], dtype=ember.float16)).dtype \
        == ember.float16


def test_gelu_backward_uses_forwards_cdf_and_releases_it():
    # forward keeps Phi(x) for backward (erf is most of GELU's cost); it goes with the other saved arrays
    x = ember.tensor(np.linspace(-4, 4, 33, dtype=np.float32), requires_grad=True)
    y = ember.nn.functional.gelu(x)
    node = y.grad_fn
    assert node.cdf is not None
    y.backward(ember.ones_like(y))
    assert node.cdf is None and node.x is None
    xs = x.detach().numpy().astype(np.float64)
    import math
    cdf = np.array([0.5 * (1 + math.erf(v / math.sqrt(2))) for v in xs])
    want = cdf + xs * np.exp(-xs * xs / 2) / math.sqrt(2 * math.pi)
    np.testing.assert_allclose(x.grad.numpy(), want, rtol=2e-6, atol=1e-7)


@pytest.mark.parametrize("name", ["softmax", "log_softmax", "cross_entropy"])
def test_softmax_over_long_rows_unbuffered_same_bits_and_state_restored(oracle, name, monkeypatch):
    # rows of >= 128 elements run with a short ufunc buffer (_backend.rows_state): NumPy's buffered
    # loops' bits, torch's values, and NumPy's own buffer size and error state back afterwards
    import torch.nn.functional as TF
    from ember.ops import loss as L
    x = np.random.default_rng(3).standard_normal((24, 300)).astype(np.float32)
    target = np.arange(24) * 7 % 300
    g = np.random.default_rng(4).standard_normal((24, 300)).astype(np.float32)

    def run(lib, op):
        xt = lib.tensor(x, requires_grad=True)
        if name == "cross_entropy":
            y = op(xt, lib.tensor(target))
            y.backward()
        else:
            y = op(xt, 1)
            y.backward(lib.tensor(g))
        return y.detach().numpy().copy(), xt.grad.numpy().copy()

    # (the op itself: F's argument check would restore NumPy's state on its own)
    ours = {"softmax": A.softmax, "log_softmax": A.log_softmax, "cross_entropy": L.cross_entropy}[name]
    check_unbuffered_rows(run, ours, getattr(TF, name), oracle, monkeypatch, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("shape", [(6000, 10), (2000, 32), (40, 20, 33), (30, 1000)])
@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_softmax_over_many_short_rows_matches_torch(oracle, shape, name):
    # past 16,384 elements the last dim's max runs over columns (rows of 2-32) and its sum as a product
    # with ones: torch's values, -inf entries and all-(-inf) rows included, and torch's gradients
    from ember.ops.reduce import _max_rows
    x = (np.random.default_rng(0).standard_normal(shape) * 4).astype(np.float32)
    x.reshape(-1)[::37] = -np.inf
    x.reshape(-1, shape[-1])[5] = -np.inf
    assert (_max_rows(x, True) is not None) == (shape[-1] <= 32)
    e = ember.tensor(x, requires_grad=True)
    t = oracle.tensor(x, requires_grad=True)
    got, want = getattr(ember.nn.functional, name)(e, dim=-1), getattr(oracle.nn.functional, name)(t, dim=-1)
    np.testing.assert_allclose(got.detach().numpy(), want.detach().numpy(), rtol=2e-6, atol=2e-6)
    g = np.cos(np.arange(x.size, dtype=np.float32)).reshape(shape)
    got.backward(ember.tensor(g))
    want.backward(oracle.tensor(g))
    np.testing.assert_allclose(e.grad.numpy(), t.grad.numpy(), rtol=2e-5, atol=2e-5)
