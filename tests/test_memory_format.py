"""Memory formats: channels_last lays the array out NHWC (torch's strides), ops keep working on it."""
import pickle

import numpy as np
import pytest

import ember
import ember.nn.functional as F
from ember import _memory_format as _mf

from .conftest import requires_torch, torch

RNG = np.random.default_rng(0)


def _both(fn):
    """fn(ember) and fn(torch): results, or (exception type, message) with the namespace blanked."""
    out = []
    for T in (ember, torch):
        try:
            out.append(fn(T))
        except Exception as e:
            out.append((type(e).__name__, str(e).replace("torch.", "X.").replace("ember.", "X.")))
    return out


LAYOUTS = {
    "contiguous_cl": lambda T: T.zeros(2, 3, 4, 5).contiguous(memory_format=T.channels_last).stride(),
    "is_cl": lambda T: T.zeros(2, 3, 4, 5).contiguous(memory_format=T.channels_last).is_contiguous(
        memory_format=T.channels_last),
    "cl_not_contig": lambda T: T.zeros(2, 3, 4, 5).contiguous(memory_format=T.channels_last).is_contiguous(),
    "empty_cl": lambda T: T.empty(2, 3, 4, 5, memory_format=T.channels_last).stride(),
    "empty_cl3d": lambda T: T.empty(2, 3, 4, 5, 6, memory_format=T.channels_last_3d).stride(),
    "empty_like_preserve": lambda T: T.empty_like(T.empty(2, 3, 4, 5, memory_format=T.channels_last)).stride(),
    "zeros_like_perm": lambda T: T.zeros_like(T.zeros(2, 3, 4, 5).permute(0, 1, 3, 2)).stride(),
    "ones_like_contig": lambda T: T.ones_like(T.empty(2, 3, 4, 5, memory_format=T.channels_last),
                                              memory_format=T.contiguous_format).stride(),
    "full_like_cl": lambda T: T.full_like(T.zeros(2, 3, 4, 5), 1.5, memory_format=T.channels_last).stride(),
    "clone_preserve": lambda T: T.zeros(2, 3, 4, 5).contiguous(memory_format=T.channels_last).clone().stride(),
    "clone_transposed": lambda T: T.zeros(3, 4).t().clone().stride(),
    "clone_sliced": lambda T: T.zeros(2, 3, 4, 5)[:, :, ::2].clone().stride(),
    "to_dtype_keeps": lambda T: T.zeros(2, 3, 4, 5).contiguous(memory_format=T.channels_last).double().stride(),
    "to_memory_format": lambda T: T.zeros(2, 3, 4, 5).to(memory_format=T.channels_last).stride(),
    "to_copy_preserves": lambda T: T.zeros(3, 4).t().to(copy=True).stride(),
    "float_memory_format": lambda T: T.zeros(2, 3, 4, 5).float(memory_format=T.channels_last).stride(),
    "elementwise_keeps": lambda T: (T.zeros(2, 3, 4, 5).contiguous(memory_format=T.channels_last) + 1).stride(),
    "unit_dims": lambda T: T.zeros(2, 3, 1, 1).contiguous(memory_format=T.channels_last).stride(),
    "cl3d": lambda T: T.zeros(2, 3, 4, 5, 6).contiguous(memory_format=T.channels_last_3d).stride(),
    "2d_is_cl": lambda T: T.zeros(2, 3).is_contiguous(memory_format=T.channels_last),
    "preserve_is_contig": lambda T: T.zeros(2, 3).is_contiguous(memory_format=T.preserve_format),
    "contiguous_preserve_ok": lambda T: T.zeros(2, 3).contiguous(memory_format=T.preserve_format).stride(),
    "err_contiguous_preserve": lambda T: T.zeros(2, 3, 4).permute(2, 0, 1).contiguous(
        memory_format=T.preserve_format),
    "err_rank_cl": lambda T: T.zeros(2, 3).contiguous(memory_format=T.channels_last),
    "err_rank_cl3d": lambda T: T.zeros(2, 3, 4, 5).clone(memory_format=T.channels_last_3d),
    "err_rank_to": lambda T: T.zeros(2, 3, 4, 5).to(memory_format=T.channels_last_3d),
    "err_rank_empty": lambda T: T.empty(2, 3, memory_format=T.channels_last),
    "err_rank_like": lambda T: T.zeros_like(T.zeros(2, 3), memory_format=T.channels_last),
    "err_type": lambda T: T.zeros(2, 3).contiguous(memory_format=3),
    "repr": lambda T: (repr(T.channels_last), str(T.contiguous_format), repr(T.preserve_format),
                       repr(T.channels_last_3d)),
}


@requires_torch
@pytest.mark.parametrize("name", sorted(LAYOUTS))
def test_layout_matches_torch(name):
    e, t = _both(LAYOUTS[name])
    if name == "repr":
        e = tuple(s.replace("ember.", "torch.") for s in e)
    assert e == t


@requires_torch
def test_random_like_fills_in_memory_order():
    def draw(T):
        T.manual_seed(0)
        return T.randn_like(T.empty(1, 2, 2, 2, memory_format=T.channels_last)).flatten().tolist()
    e, t = _both(draw)
    np.testing.assert_allclose(e, t, rtol=1e-6)


@requires_torch
def test_module_to_channels_last():
    e, t = _both(lambda T: [tuple(p.stride()) for p in T.nn.Conv2d(3, 4, 3).to(memory_format=T.channels_last)
                            .parameters()])
    assert e == t == [(27, 1, 9, 3), (1,)]


def test_ops_on_channels_last_match_contiguous():
    ember.manual_seed(0)
    x = ember.randn(2, 3, 8, 8)
    y = x.contiguous(memory_format=ember.channels_last)
    assert not y.is_contiguous() and y.stride() == (192, 1, 24, 3)
    w = ember.randn(4, 3, 3, 3)
    np.testing.assert_allclose(F.conv2d(y, w).numpy(), F.conv2d(x, w).numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(F.max_pool2d(y, 2).numpy(), F.max_pool2d(x, 2).numpy())
    np.testing.assert_allclose(F.avg_pool2d(y, 2).numpy(), F.avg_pool2d(x, 2).numpy(), rtol=1e-5, atol=1e-6)
    lin = ember.nn.Linear(8, 5)
    np.testing.assert_allclose(lin(y).detach().numpy(), lin(x).detach().numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(F.batch_norm(y, None, None, training=True).numpy(),
                               F.batch_norm(x, None, None, training=True).numpy(), rtol=1e-4, atol=1e-5)
    yg = y.clone().requires_grad_()
    xg = x.clone().requires_grad_()
    F.conv2d(yg, w).square().sum().backward()
    F.conv2d(xg, w).square().sum().backward()
    np.testing.assert_allclose(yg.grad.numpy(), xg.grad.numpy(), rtol=1e-4, atol=1e-4)


def _inputs(T):
    """The same values in four layouts: channels_last, H and W swapped in memory, a sliced view, row-major."""
    T.manual_seed(0)
    x = T.randn(2, 3, 8, 8)
    return {"cl": x.contiguous(memory_format=T.channels_last), "hw": x.transpose(2, 3).contiguous().transpose(2, 3),
            "sliced": T.randn(2, 3, 8, 16)[..., ::2], "rows": x}


def _grad(T, f, x):
    x = x.detach().clone(memory_format=T.preserve_format).requires_grad_()
    return T.autograd.grad(f(T, x).sum(), x)[0]


# torch's layout rules: convolution, pooling and normalization follow channels_last when the input
# (or the weight) suggests it, else row-major; dropout keeps the input's dense layout; layer_norm and
# softmax are row-major
RESULT_LAYOUTS = {
    "conv2d": lambda T, x: T.nn.functional.conv2d(x, T.ones(4, 3, 3, 3)),
    "conv2d cl weight": lambda T, x: T.nn.functional.conv2d(
        x.contiguous(), T.ones(4, 3, 3, 3).contiguous(memory_format=T.channels_last)),
    "conv_transpose2d": lambda T, x: T.nn.functional.conv_transpose2d(x, T.ones(3, 2, 3, 3)),
    "max_pool2d": lambda T, x: T.nn.functional.max_pool2d(x, 2),
    "max_pool2d 3x3": lambda T, x: T.nn.functional.max_pool2d(x, 3, 2, 1),
    "max_pool2d indices": lambda T, x: T.nn.functional.max_pool2d(x, 2, return_indices=True)[1],
    "avg_pool2d": lambda T, x: T.nn.functional.avg_pool2d(x, 2),
    "adaptive_avg_pool2d": lambda T, x: T.nn.functional.adaptive_avg_pool2d(x, 3),
    "adaptive_max_pool2d": lambda T, x: T.nn.functional.adaptive_max_pool2d(x, 3),
    "batch_norm": lambda T, x: T.nn.functional.batch_norm(x, None, None, training=True),
    "group_norm": lambda T, x: T.nn.functional.group_norm(x, 1),
    "layer_norm": lambda T, x: T.nn.functional.layer_norm(x, (8,)),
    "softmax": lambda T, x: T.nn.functional.softmax(x, 1),
    "log_softmax": lambda T, x: T.nn.functional.log_softmax(x, -1),
    "dropout": lambda T, x: T.nn.functional.dropout(x, 0.5),
    "local_response_norm": lambda T, x: T.nn.functional.local_response_norm(x, 2),
    "interpolate": lambda T, x: T.nn.functional.interpolate(x, scale_factor=2),
    "bilinear": lambda T, x: T.nn.functional.interpolate(x, scale_factor=2, mode="bilinear"),
    "pad": lambda T, x: T.nn.functional.pad(x, (1, 1, 1, 1)),
    "pixel_unshuffle": lambda T, x: T.nn.functional.pixel_unshuffle(x, 2),
}
GRAD_LAYOUTS = ["conv2d", "conv_transpose2d", "max_pool2d", "max_pool2d 3x3", "avg_pool2d", "adaptive_avg_pool2d",
                "adaptive_max_pool2d", "batch_norm", "group_norm", "dropout", "interpolate", "pad", "pixel_unshuffle"]


@requires_torch
@pytest.mark.parametrize("name", sorted(RESULT_LAYOUTS))
def test_result_layouts_match_torch(name):
    e, t = _both(lambda T: {k: RESULT_LAYOUTS[name](T, x).stride() for k, x in _inputs(T).items()})
    assert e == t


@requires_torch
@pytest.mark.parametrize("name", GRAD_LAYOUTS)
def test_input_gradient_layouts_match_torch(name):
    e, t = _both(lambda T: {k: _grad(T, RESULT_LAYOUTS[name], x).stride() for k, x in _inputs(T).items()})
    assert e == t


@requires_torch
@pytest.mark.parametrize("name", ["conv3d", "conv_transpose3d", "max_pool3d", "avg_pool3d", "batch_norm"])
def test_channels_last_3d_layouts_match_torch(name):
    ops = {"conv3d": lambda T, x: T.nn.functional.conv3d(x, T.ones(4, 3, 2, 2, 2)),
           "conv_transpose3d": lambda T, x: T.nn.functional.conv_transpose3d(x, T.ones(3, 2, 2, 2, 2)),
           "max_pool3d": lambda T, x: T.nn.functional.max_pool3d(x, 2),
           "avg_pool3d": lambda T, x: T.nn.functional.avg_pool3d(x, 2),
           "batch_norm": lambda T, x: T.nn.functional.batch_norm(x, None, None, training=True)}

    def layouts(T):
        T.manual_seed(0)
        x = T.randn(2, 3, 6, 6, 6)
        out = {}
        for k, v in {"cl3d": x.contiguous(memory_format=T.channels_last_3d), "rows": x}.items():
            out[k] = ops[name](T, v).stride(), _grad(T, ops[name], v).stride()
        return out
    e, t = _both(layouts)
    assert e == t


@requires_torch
def test_grad_of_a_leaf_takes_its_layout():
    def grads(T):
        conv = T.nn.Conv2d(3, 4, 3).to(memory_format=T.channels_last)
        x = T.randn(2, 3, 8, 8).requires_grad_()
        p = T.randn(4, 6).t().requires_grad_()   # a dense transposed leaf
        q = T.randn(4, 6)[:, ::2].requires_grad_()   # not dense: row-major
        (conv(x).sum() + (p * 2).sum() + (q * 3).sum()).backward()
        return conv.weight.grad.stride(), x.grad.stride(), p.grad.stride(), q.grad.stride()
    e, t = _both(grads)
    assert e == t == ((27, 1, 9, 3), (192, 64, 8, 1), (1, 6), (3, 1))


@requires_torch
@pytest.mark.parametrize("draw", [
    lambda T, x: T.nn.functional.dropout(x.fill_(1), 0.5),
    lambda T, x: T.nn.functional.alpha_dropout(x.fill_(1), 0.5, True),
    lambda T, x: x.bernoulli_(0.3),
    lambda T, x: x.bernoulli_(T.rand(2, 3, 4, 4)),
    lambda T, x: x.bernoulli_(T.rand(3, 1, 1, dtype=T.float64)),
    lambda T, x: T.randn_like(x),
    lambda T, x: T.nn.functional.rrelu(x.fill_(-1), training=True),
])
@pytest.mark.parametrize("layout", ["cl", "hw", "rows"])
def test_random_noise_lands_where_torchs_does(draw, layout):
    def values(T):
        x = T.zeros(2, 3, 4, 4)
        x = {"cl": x.contiguous(memory_format=T.channels_last), "hw": x.transpose(2, 3), "rows": x}[layout]
        T.manual_seed(0)
        r = draw(T, x)
        return r.stride(), r.contiguous().flatten().tolist(), T.rand(2).tolist()
    e, t = _both(values)
    assert e == t


@requires_torch
@pytest.mark.parametrize("x", [[[-1., 2., -3., 4.], [-5., -6., float("nan"), -0.]], [-1.] * 40])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_rrelu_draws_a_slope_for_each_element_not_above_zero(x, dtype):
    def run(T):
        T.manual_seed(0)
        t = T.tensor(x, dtype=getattr(T, dtype), requires_grad=True)
        y = T.nn.functional.rrelu(t, training=True)
        y.sum().backward()
        return str(y.tolist()), str(t.grad.tolist()), T.rand(2).tolist()
    e, t = _both(run)
    assert e == t


def test_memory_format_pickles_as_singleton():
    assert pickle.loads(pickle.dumps(ember.channels_last)) is ember.channels_last
    assert isinstance(ember.channels_last, ember.memory_format)


def test_channels_last_save_load_roundtrip(tmp_path):
    y = ember.arange(120.).reshape(2, 3, 4, 5).contiguous(memory_format=ember.channels_last)
    ember.save(y, tmp_path / "y.pt")
    z = ember.load(tmp_path / "y.pt")
    assert z.tolist() == y.tolist()


@pytest.mark.parametrize("shape,dims", [
    ((1100, 300), (1, 0)),            # result rows of 1,024 and more
    ((290, 2048), (1, 0)),            # a source row stride that is a multiple of 4 KB
    ((3, 2, 1030, 140), (0, 1, 3, 2)),  # leading dims: each matrix by tiles
    ((1030, 3, 140), (2, 1, 0)),      # a dim between the swapped ones: NumPy's copy
    ((150, 130), (1, 0)),             # neither: NumPy's copy
])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int16, np.bool_])
def test_transposed_copies_by_tiles(monkeypatch, shape, dims, dtype):
    # .contiguous() (and reshape) of a large transposed tensor copies tile by tile (here tiles of 16 from
    # any size)
    monkeypatch.setattr(_mf, "_TILED_MIN", 0)
    monkeypatch.setattr(_mf, "_TILE", 16)
    a = (RNG.standard_normal(shape) * 100).astype(dtype)
    t = ember.from_numpy(a).permute(*dims)
    c = t.contiguous()
    assert c.is_contiguous() and tuple(c.shape) == tuple(t.shape)
    np.testing.assert_array_equal(c.numpy(), a.transpose(dims))
    cl = ember.from_numpy(a.copy()).permute(*dims).clone(memory_format=ember.contiguous_format)
    np.testing.assert_array_equal(cl.numpy(), a.transpose(dims))
    np.testing.assert_array_equal(t.reshape(-1).numpy(), a.transpose(dims).reshape(-1))   # (a copy, too)
