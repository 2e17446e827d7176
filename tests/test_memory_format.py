"""Memory formats: channels_last lays the array out NHWC (torch's strides), ops keep working on it."""
import pickle

import numpy as np
import pytest

import ember
import ember.nn.functional as F

from .conftest import requires_torch, torch


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


def test_memory_format_pickles_as_singleton():
    assert pickle.loads(pickle.dumps(ember.channels_last)) is ember.channels_last
    assert isinstance(ember.channels_last, ember.memory_format)


def test_channels_last_save_load_roundtrip(tmp_path):
    y = ember.arange(120.).reshape(2, 3, 4, 5).contiguous(memory_format=ember.channels_last)
    ember.save(y, tmp_path / "y.pt")
    z = ember.load(tmp_path / "y.pt")
    assert z.tolist() == y.tolist()
