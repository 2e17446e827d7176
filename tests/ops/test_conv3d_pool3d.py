"""3-d convolution and pooling (ember/ops/conv3d.py) and 5-d interpolate: values, gradients and node
names against torch (float32 and float64), float64 central differences, module reprs, errors."""
import numpy as np
import pytest

import ember
import ember.nn.functional as F
from tests.conftest import numeric_grad

RNG = np.random.default_rng(3)


def _run(torch, efn, tfn, shapes, dtype):
    arrs = [RNG.standard_normal(s).astype(dtype) for s in shapes]
    ex = [ember.tensor(a, requires_grad=True) for a in arrs]
    tx = [torch.tensor(a, requires_grad=True) for a in arrs]
    eo, to = efn(*ex), tfn(*tx)
    assert tuple(eo.shape) == tuple(to.shape)
    assert eo.dtype.name == str(to.dtype).split(".")[-1]
    tol = dict(rtol=1e-10, atol=1e-10) if dtype == np.float64 else dict(rtol=2e-4, atol=2e-4)
    np.testing.assert_allclose(eo.detach().numpy(), to.detach().numpy(), **tol)
    assert eo.grad_fn.name() == to.grad_fn.name()
    g = RNG.standard_normal(tuple(to.shape)).astype(dtype)
    eo.backward(ember.tensor(g))
    to.backward(torch.tensor(g))
    for e, t in zip(ex, tx):
        assert e.grad.dtype == e.dtype
        np.testing.assert_allclose(e.grad.numpy(), t.grad.numpy(), **tol)


def _both(name, **kw):
    return (lambda *a: getattr(F, name)(*a, **kw)), name, kw


CONV = [
    ("plain", (2, 3, 5, 6, 7), (4, 3, 2, 3, 2), True, {}),
    ("stride_pad_dil", (2, 3, 6, 7, 8), (4, 3, 3, 2, 3), True, dict(stride=(2, 1, 3), padding=(1, 0, 2),
                                                                     dilation=(1, 2, 1))),
    ("groups_same", (2, 4, 5, 6, 7), (6, 2, 2, 3, 2), False, dict(groups=2, padding="same", dilation=2)),
    ("valid_depthwise", (1, 3, 4, 5, 6), (6, 1, 3, 1, 2), True, dict(groups=3, padding="valid", stride=2)),
    ("unbatched", (3, 4, 5, 6), (2, 3, 2, 2, 2), True, dict(padding=1)),
    ("1x1x1", (2, 5, 3, 3, 3), (4, 5, 1, 1, 1), False, {}),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("cid,xs,ws,bias,kw", CONV, ids=[c[0] for c in CONV])
def test_conv3d_matches_torch(oracle, dtype, cid, xs, ws, bias, kw):
    shapes = [xs, ws] + ([(ws[0],)] if bias else [])
    _run(oracle, lambda *a: F.conv3d(*a, **kw), lambda *a: oracle.nn.functional.conv3d(*a, **kw), shapes, dtype)


CONVT = [
    ("plain", (2, 4, 3, 4, 5), (4, 3, 2, 3, 2), True, {}),
    ("stride_pad_outpad", (2, 4, 3, 4, 5), (4, 3, 3, 3, 2), True, dict(stride=2, padding=1, output_padding=1)),
    ("groups_dil", (2, 4, 3, 4, 5), (4, 3, 3, 3, 2), False, dict(groups=2, stride=(1, 2, 3), dilation=(2, 1, 1))),
    ("unbatched", (4, 3, 2, 3), (4, 2, 2, 2, 2), True, dict(stride=(2, 1, 1), output_padding=(1, 0, 0))),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("cid,xs,ws,bias,kw", CONVT, ids=[c[0] for c in CONVT])
def test_conv_transpose3d_matches_torch(oracle, dtype, cid, xs, ws, bias, kw):
    shapes = [xs, ws] + ([(ws[1] * kw.get("groups", 1),)] if bias else [])
    _run(oracle, lambda *a: F.conv_transpose3d(*a, **kw),
         lambda *a: oracle.nn.functional.conv_transpose3d(*a, **kw), shapes, dtype)


POOL = [
    ("max_pool3d", (2, 3, 4, 6, 6), dict(kernel_size=2)),
    ("max_pool3d", (2, 3, 7, 6, 8), dict(kernel_size=(3, 2, 3), stride=(2, 1, 2), padding=1, dilation=(1, 2, 1),
                                         ceil_mode=True)),
    ("max_pool3d", (3, 5, 5, 5), dict(kernel_size=3, stride=2, padding=1)),
    ("avg_pool3d", (2, 3, 4, 6, 6), dict(kernel_size=2)),
    ("avg_pool3d", (2, 3, 7, 6, 8), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True,
                                         count_include_pad=False)),
    ("avg_pool3d", (2, 3, 7, 6, 8), dict(kernel_size=3, stride=2, padding=1, ceil_mode=True)),
    ("avg_pool3d", (3, 7, 6, 8), dict(kernel_size=(2, 3, 1), divisor_override=5)),
    ("adaptive_avg_pool3d", (2, 3, 7, 6, 8), dict(output_size=(3, None, 4))),
    ("adaptive_avg_pool3d", (3, 5, 4, 6), dict(output_size=1)),
    ("adaptive_max_pool3d", (2, 3, 7, 6, 8), dict(output_size=(3, 2, 5))),
    ("adaptive_max_pool3d", (3, 5, 4, 6), dict(output_size=(2, 4, 4))),
    ("interpolate", (2, 3, 4, 6, 8), dict(scale_factor=(2, 1.5, 0.5), mode="nearest")),
    ("interpolate", (2, 3, 4, 6, 8), dict(size=(5, 7, 3), mode="trilinear")),
    ("interpolate", (2, 3, 4, 6, 8), dict(size=(5, 7, 3), mode="trilinear", align_corners=True)),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name,xs,kw", POOL, ids=[f"{p[0]}-{i}" for i, p in enumerate(POOL)])
def test_pool3d_matches_torch(oracle, dtype, name, xs, kw):
    _run(oracle, lambda x: getattr(F, name)(x, **kw), lambda x: getattr(oracle.nn.functional, name)(x, **kw),
         [xs], dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("xs,kw", [(p[1], p[2]) for p in POOL if p[0] == "avg_pool3d"]
                         + [((2, 3, 8, 8, 6), dict(kernel_size=(2, 4, 3)))])
def test_avg_pool3d_has_torchs_bits(oracle, dtype, xs, kw):
    # each window summed from 0 in order, shares added in the windows' order (see test_pool's 2-d case)
    x = RNG.standard_normal(xs).astype(dtype)
    x[..., 0, :, :] = -0.0
    tx, ex = oracle.tensor(x, requires_grad=True), ember.tensor(x, requires_grad=True)
    to, eo = oracle.nn.functional.avg_pool3d(tx, **kw), F.avg_pool3d(ex, **kw)
    assert eo.detach().numpy().tobytes() == to.detach().numpy().tobytes()
    g = RNG.standard_normal(tuple(to.shape)).astype(dtype)
    to.backward(oracle.tensor(g))
    eo.backward(ember.tensor(g))
    assert ex.grad.numpy().tobytes() == tx.grad.numpy().tobytes()


@pytest.mark.parametrize("name,kw", [("max_pool3d", dict(kernel_size=3, stride=2, padding=1)),
                                     ("max_pool3d", dict(kernel_size=(2, 3, 2), dilation=2, ceil_mode=True)),
                                     ("adaptive_max_pool3d", dict(output_size=(3, 2, 5)))])
def test_pool3d_indices_match_torch(oracle, name, kw):
    x = np.round(RNG.standard_normal((2, 3, 7, 6, 8)) * 2)   # ties: the first maximum wins
    eo, ei = getattr(F, name)(ember.tensor(x), return_indices=True, **kw)
    to, ti = getattr(oracle.nn.functional, name)(oracle.tensor(x), return_indices=True, **kw)
    np.testing.assert_array_equal(eo.numpy(), to.numpy())
    np.testing.assert_array_equal(ei.numpy(), ti.numpy())
    assert ei.dtype == ember.int64


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_max_unpool3d_matches_torch(oracle, dtype):
    x = RNG.standard_normal((2, 3, 7, 6, 8)).astype(dtype)
    _, ei = F.max_pool3d(ember.tensor(x), 2, return_indices=True)
    _, ti = oracle.nn.functional.max_pool3d(oracle.tensor(x), 2, return_indices=True)
    for size in (None, (7, 7, 9)):
        _run(oracle, lambda a: F.max_unpool3d(a, ei, 2, output_size=size),
             lambda a: oracle.nn.functional.max_unpool3d(a, ti, 2, output_size=size), [tuple(ei.shape)], dtype)


def test_modules_match_torch(oracle):
    x = RNG.standard_normal((2, 3, 5, 6, 7))
    for ctor, args, kw in [("Conv3d", (3, 4, (1, 2, 3)), dict(stride=2, padding=1, padding_mode="circular")),
                           ("Conv3d", (3, 4, 3), dict(padding="same", padding_mode="reflect", bias=False)),
                           ("ConvTranspose3d", (3, 2, 2), dict(stride=2, output_padding=1))]:
        em, tm = getattr(ember.nn, ctor)(*args, **kw).double(), getattr(oracle.nn, ctor)(*args, **kw).double()
        em.load_state_dict({k: ember.tensor(v.detach().numpy()) for k, v in tm.state_dict().items()})
        np.testing.assert_allclose(em(ember.tensor(x)).detach().numpy(),
                                   tm(oracle.tensor(x)).detach().numpy(), rtol=1e-10, atol=1e-10)
    for ctor, args in [("MaxPool3d", (2,)), ("AvgPool3d", (3, 2, 1)), ("AdaptiveAvgPool3d", ((2, None, 3),)),
                       ("AdaptiveMaxPool3d", (2,)), ("BatchNorm3d", (3,))]:
        em, tm = getattr(ember.nn, ctor)(*args), getattr(oracle.nn, ctor)(*args)
        x32 = x.astype(np.float32)
        np.testing.assert_allclose(em(ember.tensor(x32)).detach().numpy(), tm(oracle.tensor(x32)).detach().numpy(),
                                   rtol=1e-5, atol=1e-5)
    out, ind = ember.nn.MaxPool3d(2, return_indices=True)(ember.tensor(x))
    back = ember.nn.MaxUnpool3d(2)(out, ind, output_size=x.shape)
    tout, tind = oracle.nn.MaxPool3d(2, return_indices=True)(oracle.tensor(x))
    np.testing.assert_array_equal(back.numpy(), oracle.nn.MaxUnpool3d(2)(tout, tind, output_size=x.shape).numpy())


REPRS = [
    ("Conv3d", (3, 4, 3), {}),
    ("Conv3d", (3, 4, (1, 2, 3)), dict(stride=2, padding=1, dilation=2, bias=False, padding_mode="reflect")),
    ("Conv3d", (4, 4, 3), dict(groups=2, padding="same")),
    ("ConvTranspose3d", (3, 4, 3), dict(stride=2, output_padding=1)),
    ("MaxPool3d", (2,), {}),
    ("MaxPool3d", ((2, 3, 1),), dict(stride=1, padding=1, ceil_mode=True, return_indices=True)),
    ("AvgPool3d", (2,), {}),
    ("AvgPool3d", (3, 2, 1, True, False, 2), {}),
    ("AdaptiveAvgPool3d", ((2, None, 3),), {}),
    ("AdaptiveMaxPool3d", (2,), {}),
    ("MaxUnpool3d", (2,), {}),
    ("MaxUnpool3d", ((2, 3, 1), 1, 0), {}),
    ("BatchNorm3d", (3,), {}),
]


@pytest.mark.parametrize("ctor,args,kw", REPRS, ids=[f"{r[0]}-{i}" for i, r in enumerate(REPRS)])
def test_repr_matches_torch(oracle, ctor, args, kw):
    assert repr(getattr(ember.nn, ctor)(*args, **kw)) == repr(getattr(oracle.nn, ctor)(*args, **kw))


def test_weight_shapes_and_torch_namespace():
    assert tuple(ember.nn.Conv3d(4, 6, (1, 2, 3), groups=2).weight.shape) == (6, 2, 1, 2, 3)
    assert tuple(ember.nn.ConvTranspose3d(4, 6, 2, groups=2).weight.shape) == (4, 3, 2, 2, 2)
    assert ember.conv3d is not None and ember.conv_transpose3d is not None and ember.max_pool3d is not None


# ---- float64 central differences ------------------------------------------------------------
def _fd_check(fn, arrays, i):
    """Gradient of sum(fn(...) * r) w.r.t. arrays[i]: autograd against central differences."""
    ts = [ember.tensor(a, requires_grad=True) for a in arrays]
    out = fn(*ts)
    r = RNG.standard_normal(tuple(out.shape))
    (out * ember.tensor(r)).sum().backward()

    def f(v):
        args = [ember.tensor(v if j == i else a) for j, a in enumerate(arrays)]
        return float((fn(*args).numpy() * r).sum())
    np.testing.assert_allclose(ts[i].grad.numpy(), numeric_grad(f, arrays[i]), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("which", [0, 1, 2])
def test_conv3d_central_differences(which):
    a = [RNG.standard_normal((1, 4, 3, 4, 3)), RNG.standard_normal((2, 2, 2, 2, 2)), RNG.standard_normal(2)]
    _fd_check(lambda x, w, b: F.conv3d(x, w, b, stride=(1, 2, 1), padding=1, groups=2), a, which)


@pytest.mark.parametrize("which", [0, 1, 2])
def test_conv_transpose3d_central_differences(which):
    a = [RNG.standard_normal((1, 2, 2, 3, 2)), RNG.standard_normal((2, 2, 2, 2, 2)), RNG.standard_normal(2)]
    _fd_check(lambda x, w, b: F.conv_transpose3d(x, w, b, stride=2, padding=1, output_padding=1), a, which)


@pytest.mark.parametrize("fn", [
    lambda x: F.max_pool3d(x, 2, stride=1, padding=1),
    lambda x: F.avg_pool3d(x, 3, 2, 1, ceil_mode=True, count_include_pad=False),
    lambda x: F.adaptive_avg_pool3d(x, (2, 3, 2)),
    lambda x: F.adaptive_max_pool3d(x, (2, 3, 2)),
    lambda x: F.interpolate(x, size=(3, 5, 4), mode="trilinear"),
], ids=["max", "avg", "adaptive_avg", "adaptive_max", "trilinear"])
def test_pool3d_central_differences(fn):
    _fd_check(fn, [RNG.standard_normal((1, 2, 3, 4, 3))], 0)


# ---- errors ----------------------------------------------------------------------------------
def _x(*s):
    return lambda m: m.zeros(*s)


ERRORS = [
    ("conv3d", lambda m, F: F.conv3d(m.zeros(2, 3, 4, 6, 6), m.zeros(4, 3, 2, 2))),
    ("conv3d", lambda m, F: F.conv3d(m.zeros(4, 6, 6), m.zeros(4, 3, 2, 2, 2))),
    ("conv3d", lambda m, F: F.conv3d(m.zeros(2, 3, 4, 6, 6), m.zeros(4, 2, 2, 2, 2))),
    ("conv3d", lambda m, F: F.conv3d(m.zeros(2, 3, 4, 6, 6), m.zeros(4, 3, 2, 2, 2), stride=0)),
    ("conv3d", lambda m, F: F.conv3d(m.zeros(2, 3, 4, 6, 6), m.zeros(4, 3, 2, 2, 2), padding=-1)),
    ("conv3d", lambda m, F: F.conv3d(m.zeros(2, 3, 4, 6, 6), m.zeros(4, 3, 2, 2, 2), padding="same", stride=2)),
    ("conv3d", lambda m, F: F.conv3d(m.zeros(2, 3, 4, 6, 6), m.zeros(4, 3, 2, 2, 2), padding="foo")),
    ("conv3d", lambda m, F: F.conv3d(m.zeros(2, 3, 4, 6, 6), m.zeros(4, 3, 5, 2, 2))),
    ("conv3d", lambda m, F: F.conv3d(m.zeros(2, 3, 4, 6, 6), m.zeros(4, 3, 2, 2, 2), stride=(1, 2))),
    ("conv3d", lambda m, F: F.conv3d(m.zeros(2, 3, 4, 6, 6), m.zeros(4, 3, 2, 2, 2), m.zeros(3))),
    ("conv3d", lambda m, F: F.conv3d(m.zeros(2, 3, 4, 6, 6), m.zeros(4, 3, 2, 2, 2), dilation=0)),
    ("conv3d", lambda m, F: F.conv3d(m.zeros(2, 3, 4, 6, 6), m.zeros(4, 3, 2, 2, 2), groups=2)),
    ("conv_transpose3d", lambda m, F: F.conv_transpose3d(m.zeros(2, 3, 4, 6, 6), m.zeros(4, 3, 2, 2, 2))),
    ("conv_transpose3d", lambda m, F: F.conv_transpose3d(m.zeros(2, 4, 4, 6, 6), m.zeros(4, 3, 2, 2, 2),
                                                         stride=2, output_padding=2)),
    ("conv_transpose3d", lambda m, F: F.conv_transpose3d(m.zeros(2, 4, 4, 6, 6), m.zeros(4, 3, 2, 2, 2),
                                                         padding="same")),
    ("max_pool3d", lambda m, F: F.max_pool3d(m.zeros(3, 4, 5), 2)),
    ("max_pool3d", lambda m, F: F.max_pool3d(m.zeros(2, 3, 4, 6, 6), 2, padding=2)),
    ("max_pool3d", lambda m, F: F.max_pool3d(m.zeros(2, 3, 4, 6, 6), 0)),
    ("max_pool3d", lambda m, F: F.max_pool3d(m.zeros(2, 3, 4, 6, 6), 2, stride=0)),
    ("max_pool3d", lambda m, F: F.max_pool3d(m.zeros(2, 3, 4, 6, 6), 2, dilation=0)),
    ("max_pool3d", lambda m, F: F.max_pool3d(m.zeros(2, 3, 4, 6, 6), 5)),
    ("max_pool3d", lambda m, F: F.max_pool3d(m.zeros(2, 3, 4, 6, 6), (2, 2))),
    ("avg_pool3d", lambda m, F: F.avg_pool3d(m.zeros(3, 4, 5), 2)),
    ("avg_pool3d", lambda m, F: F.avg_pool3d(m.zeros(2, 3, 4, 6, 6), 2, padding=2)),
    ("avg_pool3d", lambda m, F: F.avg_pool3d(m.zeros(2, 3, 4, 6, 6), 5)),
    ("avg_pool3d", lambda m, F: F.avg_pool3d(m.zeros(2, 3, 4, 6, 6), 2, stride=0)),
    ("avg_pool3d", lambda m, F: F.avg_pool3d(m.zeros(2, 3, 4, 6, 6), 2, divisor_override=0)),
    ("avg_pool3d", lambda m, F: F.avg_pool3d(m.zeros(2, 3, 4, 6, 6), (2, 2))),
    ("adaptive_avg_pool3d", lambda m, F: F.adaptive_avg_pool3d(m.zeros(3, 4, 5), 2)),
    ("adaptive_avg_pool3d", lambda m, F: F.adaptive_avg_pool3d(m.zeros(2, 3, 4, 6, 6), (2, 2))),
    ("adaptive_max_pool3d", lambda m, F: F.adaptive_max_pool3d(m.zeros(3, 4, 5), 2)),
    ("adaptive_max_pool3d", lambda m, F: F.adaptive_max_pool3d(m.zeros(2, 3, 4, 6, 6), (2, 2))),
    ("max_unpool3d", lambda m, F: F.max_unpool3d(*F.max_pool3d(m.zeros(2, 3, 4, 6, 6), 2, return_indices=True),
                                                 2, output_size=(20, 20, 20))),
    ("max_unpool3d", lambda m, F: F.max_unpool3d(m.zeros(2, 3, 2, 3, 3), m.zeros(2, 3, 2, 3, 3).long() + 999,
                                                 2)),
    ("max_unpool3d", lambda m, F: F.max_unpool3d(m.zeros(2, 3, 2, 3, 3), m.zeros(2, 1, 2, 3, 3).long(), 2)),
    ("max_unpool3d", lambda m, F: F.max_unpool3d(m.zeros(2, 3, 2, 3, 3), m.zeros(2, 3, 2, 3, 3), 2)),
]


@pytest.mark.parametrize("op,call", ERRORS, ids=[f"{e[0]}-{i}" for i, e in enumerate(ERRORS)])
def test_errors_match_torch(oracle, op, call):
    with pytest.raises(Exception) as te:
        call(oracle, oracle.nn.functional)
    with pytest.raises(Exception) as ee:
        call(ember, ember.nn.functional)
    assert type(ee.value) is type(te.value)
    assert str(ee.value).split("\n")[0] == str(te.value).split("\n")[0]


def test_errors_without_torch():
    with pytest.raises(RuntimeError, match="Expected 4D \\(unbatched\\) or 5D \\(batched\\) input to conv3d"):
        F.conv3d(ember.zeros(4, 6, 6), ember.zeros(4, 3, 2, 2, 2))
    with pytest.raises(RuntimeError, match="pad should be at most half of effective kernel size"):
        F.max_pool3d(ember.zeros(1, 1, 4, 4, 4), 2, padding=2)
    with pytest.raises(RuntimeError, match="divisor must be not zero"):
        F.avg_pool3d(ember.zeros(1, 1, 4, 4, 4), 2, divisor_override=0)
    with pytest.raises(TypeError, match="conv3d"):
        F.conv3d("x", ember.zeros(4, 3, 2, 2, 2))
