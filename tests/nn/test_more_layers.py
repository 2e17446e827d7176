"""Padding, upsampling, pixel shuffle, fold/unfold, distances, instance/RMS/local response norm, max unpool.

Each layer against torch given identical weights (repr, state_dict keys, forward, input and
parameter gradients, buffers after the step); the new backward code against float64 central
differences; bad input raises torch's exception type with a message naming the op.
"""
import warnings
import zlib

import numpy as np
import pytest

import ember
import ember.nn as nn
import ember.nn.functional as F
from tests.conftest import numeric_grad, requires_torch

# (id, constructor taking the nn namespace, input shapes)
LAYERS = [
    ("ZeroPad1d", lambda m: m.ZeroPad1d((1, 2)), [(2, 3, 4)]),
    ("ZeroPad1d_unbatched", lambda m: m.ZeroPad1d(2), [(3, 4)]),
    ("ZeroPad2d", lambda m: m.ZeroPad2d((1, 2, 0, 3)), [(2, 3, 4, 5)]),
    ("ZeroPad2d_crop", lambda m: m.ZeroPad2d((-1, 2, 1, -1)), [(2, 3, 4, 5)]),
    ("ZeroPad3d", lambda m: m.ZeroPad3d(1), [(1, 2, 3, 4, 2)]),
    ("ConstantPad1d", lambda m: m.ConstantPad1d(2, 3.5), [(2, 3, 4)]),
    ("ConstantPad2d", lambda m: m.ConstantPad2d((1, 0, 2, 1), -1.0), [(2, 3, 4, 5)]),
    ("ConstantPad3d", lambda m: m.ConstantPad3d((1, 0, 0, 1, 2, 0), 0.5), [(3, 2, 3, 4)]),
    ("ReflectionPad1d", lambda m: m.ReflectionPad1d((2, 1)), [(2, 3, 5)]),
    ("ReflectionPad2d", lambda m: m.ReflectionPad2d((1, 2, 2, 0)), [(2, 3, 4, 5)]),
    ("ReflectionPad2d_unbatched", lambda m: m.ReflectionPad2d(1), [(3, 4, 5)]),
    ("ReflectionPad3d", lambda m: m.ReflectionPad3d(1), [(1, 2, 3, 3, 3)]),
    ("ReplicationPad1d", lambda m: m.ReplicationPad1d((3, 1)), [(2, 3, 4)]),
    ("ReplicationPad2d", lambda m: m.ReplicationPad2d((1, 2, 3, 0)), [(2, 3, 4, 5)]),
    ("ReplicationPad3d", lambda m: m.ReplicationPad3d((1, 0, 2, 1, 0, 1)), [(1, 2, 3, 3, 3)]),
    ("CircularPad1d", lambda m: m.CircularPad1d((2, 1)), [(2, 3, 4)]),
    ("CircularPad2d", lambda m: m.CircularPad2d((1, 2, 2, 1)), [(2, 3, 4, 5)]),
    ("CircularPad3d", lambda m: m.CircularPad3d(1), [(1, 2, 3, 3, 3)]),
    ("Upsample_nearest", lambda m: m.Upsample(scale_factor=2), [(2, 3, 4, 5)]),
    ("Upsample_nearest_1d", lambda m: m.Upsample(size=7), [(2, 3, 4)]),
    ("Upsample_bilinear", lambda m: m.Upsample(size=(5, 7), mode="bilinear"), [(2, 3, 4, 5)]),
    ("Upsample_bilinear_ac", lambda m: m.Upsample(scale_factor=(2.0, 1.5), mode="bilinear", align_corners=True),
     [(2, 3, 4, 4)]),
    ("Upsample_linear", lambda m: m.Upsample(scale_factor=3, mode="linear"), [(2, 3, 4)]),
    ("Upsample_trilinear", lambda m: m.Upsample(size=(3, 4, 5), mode="trilinear"), [(1, 2, 2, 3, 3)]),
    ("Upsample_recompute", lambda m: m.Upsample(scale_factor=1.7, mode="bilinear", recompute_scale_factor=True),
     [(1, 2, 4, 5)]),
    ("UpsamplingNearest2d", lambda m: m.UpsamplingNearest2d(scale_factor=3), [(2, 3, 2, 3)]),
    ("UpsamplingNearest2d_size", lambda m: m.UpsamplingNearest2d(size=(5, 4)), [(2, 3, 2, 3)]),
    ("UpsamplingBilinear2d", lambda m: m.UpsamplingBilinear2d(scale_factor=2), [(2, 3, 3, 4)]),
    ("UpsamplingBilinear2d_size", lambda m: m.UpsamplingBilinear2d(size=5), [(2, 3, 3, 4)]),
    ("Upsample_bicubic", lambda m: m.Upsample(scale_factor=2, mode="bicubic"), [(2, 3, 4, 5)]),
    ("Upsample_bicubic_ac", lambda m: m.Upsample(size=(9, 7), mode="bicubic", align_corners=True), [(2, 3, 4, 5)]),
    ("Upsample_bicubic_down", lambda m: m.Upsample(size=(3, 2), mode="bicubic"), [(1, 2, 7, 6)]),
    ("ChannelShuffle", lambda m: m.ChannelShuffle(3), [(2, 6, 2, 3)]),
    ("ChannelShuffle_3d", lambda m: m.ChannelShuffle(2), [(2, 4, 5)]),
    ("LPPool1d", lambda m: m.LPPool1d(2, 3, stride=2), [(2, 3, 9)]),
    ("LPPool2d", lambda m: m.LPPool2d(3, (2, 3), ceil_mode=True), [(2, 3, 5, 7)]),
    ("LPPool2d_inf", lambda m: m.LPPool2d(float("inf"), 2), [(2, 3, 4, 4)]),
    ("LPPool3d", lambda m: m.LPPool3d(2, 2), [(1, 2, 4, 4, 4)]),
    ("PixelShuffle", lambda m: m.PixelShuffle(2), [(2, 8, 3, 4)]),
    ("PixelShuffle_unbatched", lambda m: m.PixelShuffle(3), [(9, 2, 2)]),
    ("PixelShuffle_5d", lambda m: m.PixelShuffle(2), [(2, 3, 4, 2, 3)]),
    ("PixelUnshuffle", lambda m: m.PixelUnshuffle(2), [(2, 3, 4, 6)]),
    ("PixelUnshuffle_unbatched", lambda m: m.PixelUnshuffle(3), [(2, 3, 6)]),
    ("Unfold", lambda m: m.Unfold(2), [(2, 3, 4, 5)]),
    ("Unfold_opts", lambda m: m.Unfold((2, 3), dilation=(2, 1), padding=1, stride=(1, 2)), [(2, 3, 6, 7)]),
    ("Unfold_unbatched", lambda m: m.Unfold(3, padding=1, stride=2), [(2, 5, 5)]),
    ("Fold", lambda m: m.Fold((4, 5), 2), [(2, 12, 12)]),
    ("Fold_opts", lambda m: m.Fold((6, 7), (2, 3), dilation=(2, 1), padding=1, stride=(1, 2)), [(2, 12, 24)]),
    ("Fold_unbatched", lambda m: m.Fold(5, 3, padding=1, stride=2), [(18, 9)]),
    ("CosineSimilarity", lambda m: m.CosineSimilarity(), [(4, 5), (4, 5)]),
    ("CosineSimilarity_dim0_bcast", lambda m: m.CosineSimilarity(dim=0, eps=1e-6), [(3, 4), (3, 1)]),
    ("PairwiseDistance", lambda m: m.PairwiseDistance(), [(4, 5), (4, 5)]),
    ("PairwiseDistance_p1_keepdim", lambda m: m.PairwiseDistance(p=1.0, eps=0.0, keepdim=True), [(4, 5), (1, 5)]),
    ("PairwiseDistance_p3", lambda m: m.PairwiseDistance(p=3), [(2, 3, 5), (2, 3, 5)]),
    ("InstanceNorm1d", lambda m: m.InstanceNorm1d(3), [(2, 3, 6)]),
    ("InstanceNorm1d_unbatched", lambda m: m.InstanceNorm1d(3, affine=True), [(3, 6)]),
    ("InstanceNorm1d_affine_stats", lambda m: m.InstanceNorm1d(3, affine=True, track_running_stats=True),
     [(2, 3, 6)]),
    ("InstanceNorm2d", lambda m: m.InstanceNorm2d(4), [(2, 4, 3, 5)]),
    ("InstanceNorm2d_affine", lambda m: m.InstanceNorm2d(4, eps=1e-3, affine=True), [(2, 4, 3, 5)]),
    ("InstanceNorm2d_stats", lambda m: m.InstanceNorm2d(4, momentum=0.3, track_running_stats=True), [(2, 4, 3, 5)]),
    ("InstanceNorm2d_stats_eval", lambda m: _stats_eval(m.InstanceNorm2d(4, affine=True, track_running_stats=True)),
     [(2, 4, 3, 5)]),
    ("InstanceNorm2d_momentum_none", lambda m: m.InstanceNorm2d(4, momentum=None, track_running_stats=True),
     [(2, 4, 3, 5)]),
    ("InstanceNorm2d_unbatched", lambda m: m.InstanceNorm2d(4, affine=True, track_running_stats=True),
     [(4, 3, 5)]),
    ("InstanceNorm2d_nobias", lambda m: m.InstanceNorm2d(4, affine=True, bias=False), [(2, 4, 3, 5)]),
    ("InstanceNorm3d", lambda m: m.InstanceNorm3d(2, affine=True), [(2, 2, 3, 2, 3)]),
    ("LocalResponseNorm", lambda m: m.LocalResponseNorm(3), [(2, 5, 4, 4)]),
    ("LocalResponseNorm_3d", lambda m: m.LocalResponseNorm(2, alpha=0.1, beta=0.6, k=2.0), [(2, 5, 7)]),
    ("LocalResponseNorm_5d", lambda m: m.LocalResponseNorm(4, alpha=0.5), [(2, 6, 2, 3, 2)]),
    ("RMSNorm", lambda m: m.RMSNorm(5), [(3, 5)]),
    ("RMSNorm_2d_eps", lambda m: m.RMSNorm((3, 4), eps=1e-3), [(2, 3, 4)]),
    ("RMSNorm_no_affine", lambda m: m.RMSNorm([4], elementwise_affine=False), [(2, 3, 4)]),
    ("GroupNorm", lambda m: m.GroupNorm(2, 4), [(2, 4, 3, 3)]),
    ("Identity", lambda m: m.Identity(54, unused="argument"), [(2, 3)]),
    ("Bilinear", lambda m: m.Bilinear(3, 4, 2), [(5, 3), (5, 4)]),
]


def _stats_eval(layer):
    layer.running_mean.copy_(layer.running_mean.new_tensor([0.1, -0.2, 0.3, 0.0]))
    layer.running_var.copy_(layer.running_var.new_tensor([1.5, 0.5, 2.0, 1.0]))
    return layer.eval()


def _perturb_params(tm):
    """Non-default affine parameters, so that weight and bias matter in the comparison."""
    import torch
    gen = torch.Generator().manual_seed(3)
    with torch.no_grad():
        for p in tm.parameters():
            p.copy_(torch.randn(p.shape, generator=gen))


def _copy_state(tm, em):
    em.load_state_dict({k: ember.tensor(v.detach().numpy().copy()) for k, v in tm.state_dict().items()})


@requires_torch
@pytest.mark.parametrize("name,make,shapes", LAYERS, ids=[c[0] for c in LAYERS])
def test_layer_matches_torch(oracle, name, make, shapes):
    torch = oracle
    tm, em = make(torch.nn), make(nn)
    assert repr(em) == repr(tm)
    assert list(em.state_dict()) == list(tm.state_dict())
    _perturb_params(tm)
    _copy_state(tm, em)
    rng = np.random.default_rng(zlib.crc32(name.encode()))   # (str hashes change from run to run)
    arrays = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    t_in = [torch.tensor(a, requires_grad=True) for a in arrays]
    e_in = [ember.tensor(a, requires_grad=True) for a in arrays]
    tout, eout = tm(*t_in), em(*e_in)
    assert tuple(eout.shape) == tuple(tout.shape)
    assert eout.dtype == ember.float32
    np.testing.assert_allclose(eout.detach().numpy(), tout.detach().numpy(), rtol=1e-5, atol=1e-5)
    g = rng.standard_normal(tuple(tout.shape)).astype(np.float32)
    tout.backward(torch.tensor(g))
    eout.backward(ember.tensor(g))
    for a, b in zip(e_in, t_in):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-4, atol=1e-5)
    tp = dict(tm.named_parameters())
    for pname, p in em.named_parameters():
        np.testing.assert_allclose(p.grad.numpy(), tp[pname].grad.numpy(), rtol=1e-4, atol=1e-5,
                                   err_msg=f"{name}.{pname}.grad")
    ts = tm.state_dict()
    for k, v in em.state_dict().items():  # running statistics after the step
        np.testing.assert_allclose(v.numpy(), ts[k].numpy(), rtol=1e-5, atol=1e-6, err_msg=f"{name}.{k}")


@requires_torch
def test_grad_fn_names_match_torch(oracle):
    torch = oracle
    x = np.random.default_rng(0).standard_normal((1, 4, 4, 4)).astype(np.float32)
    cases = [
        lambda t, f: f.unfold(t, 2),
        lambda t, f: f.fold(t.reshape(1, 16, 4), (3, 3), 2),
        lambda t, f: f.pixel_shuffle(t, 2),
        lambda t, f: f.pixel_unshuffle(t, 2),
        lambda t, f: f.local_response_norm(t, 3),
        lambda t, f: f.channel_shuffle(t, 2),
        lambda t, f: f.interpolate(t, scale_factor=2, mode="bicubic"),
    ]
    for case in cases:
        tt = torch.tensor(x, requires_grad=True)
        et = ember.tensor(x, requires_grad=True)
        assert case(et, F).grad_fn.name() == case(tt, torch.nn.functional).grad_fn.name()


# ---- functional forms against torch ---------------------------------------------------------------
FUNCTIONALS = [
    ("unfold", lambda f, x: f.unfold(x, (3, 2), dilation=(1, 2), padding=(2, 1), stride=(2, 1)), (2, 3, 5, 6)),
    ("unfold_kernel_equals_input", lambda f, x: f.unfold(x, (4, 5)), (2, 3, 4, 5)),
    ("unfold_empty_batch", lambda f, x: f.unfold(x, 2), (0, 3, 4, 5)),
    ("fold_roundtrip", lambda f, x: f.fold(f.unfold(x, 3, padding=1), (4, 5), 3, padding=1), (2, 3, 4, 5)),
    ("fold_large_stride", lambda f, x: f.fold(x, (7, 7), 2, stride=3), (2, 8, 4)),
    ("pixel_shuffle", lambda f, x: f.pixel_shuffle(x, 2), (1, 8, 2, 3)),
    ("pixel_unshuffle_shuffle", lambda f, x: f.pixel_shuffle(f.pixel_unshuffle(x, 2), 2), (2, 3, 4, 6)),
    ("pixel_shuffle_empty", lambda f, x: f.pixel_shuffle(x, 2), (0, 8, 2, 3)),
    ("local_response_norm_big_size", lambda f, x: f.local_response_norm(x, 7, alpha=1.0, beta=1.0, k=0.5),
     (2, 4, 3)),
    ("local_response_norm_empty", lambda f, x: f.local_response_norm(x, 3), (0, 4, 3)),
    ("rms_norm", lambda f, x: f.rms_norm(x, (4,), eps=1e-6), (2, 3, 4)),
    ("instance_norm", lambda f, x: f.instance_norm(x, eps=1e-3), (2, 3, 5)),
]


@requires_torch
@pytest.mark.parametrize("name,fn,shape", FUNCTIONALS, ids=[c[0] for c in FUNCTIONALS])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_functional_matches_torch(oracle, name, fn, shape, dtype):
    torch = oracle
    a = np.random.default_rng(1).standard_normal(shape).astype(dtype)
    tx, ex = torch.tensor(a, requires_grad=True), ember.tensor(a, requires_grad=True)
    tout, eout = fn(torch.nn.functional, tx), fn(F, ex)
    assert tuple(eout.shape) == tuple(tout.shape)
    assert str(eout.dtype).split(".")[-1] == str(tout.dtype).split(".")[-1]
    tol = 1e-5 if dtype == "float32" else 1e-12
    np.testing.assert_allclose(eout.detach().numpy(), tout.detach().numpy(), rtol=tol, atol=tol)
    if tout.numel():
        g = np.random.default_rng(2).standard_normal(tuple(tout.shape)).astype(dtype)
        tout.backward(torch.tensor(g))
        eout.backward(ember.tensor(g))
        np.testing.assert_allclose(ex.grad.numpy(), tx.grad.numpy(), rtol=10 * tol, atol=10 * tol)


@requires_torch
def test_pixel_shuffle_integer_and_top_level(oracle):
    a = np.arange(2 * 8 * 2 * 3).reshape(2, 8, 2, 3)
    np.testing.assert_array_equal(ember.pixel_shuffle(ember.tensor(a), 2).numpy(),
                                  oracle.pixel_shuffle(oracle.tensor(a), 2).numpy())
    np.testing.assert_array_equal(ember.pixel_unshuffle(ember.tensor(a), 1).numpy(), a)
    assert ember.pixel_shuffle(ember.tensor(a), 2).dtype == ember.int64


@requires_torch
@pytest.mark.parametrize("output_size", [None, (7, 5), [1, 2, 7, 5], (6, 4)])
def test_max_unpool2d_inverts_max_pool2d_as_torch(oracle, output_size):
    torch = oracle
    a = np.random.default_rng(4).standard_normal((1, 2, 6, 4)).astype(np.float32)
    results = []
    for t, m in ((torch, torch.nn), (ember, nn)):
        x = t.tensor(a, requires_grad=True)
        pool, unpool = m.MaxPool2d(2, stride=2, return_indices=True), m.MaxUnpool2d(2, stride=2)
        y, idx = pool(x)
        out = unpool(y, idx, output_size=output_size)
        (out * t.tensor(np.arange(out.numel(), dtype=np.float32).reshape(tuple(out.shape)))).sum().backward()
        results.append((out.detach().numpy(), idx.numpy(), x.grad.numpy(), out.grad_fn.name()))
    (to, ti, tg, tn), (eo, ei, eg, en) = results
    np.testing.assert_array_equal(ei, ti)
    np.testing.assert_allclose(eo, to)
    np.testing.assert_allclose(eg, tg)
    assert en == tn


@requires_torch
def test_max_unpool1d_matches_torch(oracle):
    torch = oracle
    a = np.random.default_rng(5).standard_normal((2, 3, 8)).astype(np.float32)
    outs = []
    for t, m in ((torch, torch.nn), (ember, nn)):
        y, idx = m.MaxPool1d(2, return_indices=True)(t.tensor(a))
        outs.append(m.MaxUnpool1d(2)(y, idx).numpy())
    np.testing.assert_allclose(outs[1], outs[0])


# ---- float64 central differences for the new backward code ------------------------------------------
GRADCHECKS = [
    ("unfold", lambda x: F.unfold(x, (2, 3), dilation=(2, 1), padding=(1, 2), stride=(2, 1)), (2, 2, 5, 4)),
    ("unfold_unbatched", lambda x: F.unfold(x, 2, stride=2), (2, 4, 5)),
    ("fold", lambda x: F.fold(x, (5, 4), (2, 3), dilation=(2, 1), padding=(1, 2), stride=(2, 1)), (2, 12, 18)),
    ("fold_unbatched", lambda x: F.fold(x, (3, 3), 2), (8, 4)),
    ("pixel_shuffle", lambda x: F.pixel_shuffle(x, 2), (2, 8, 2, 3)),
    ("pixel_unshuffle", lambda x: F.pixel_unshuffle(x, 2), (1, 2, 4, 2)),
    ("channel_shuffle", lambda x: F.channel_shuffle(x, 3), (2, 6, 2)),
    ("bicubic", lambda x: F.interpolate(x, size=(5, 3), mode="bicubic"), (1, 2, 3, 4)),
    ("bicubic_ac", lambda x: F.interpolate(x, scale_factor=1.5, mode="bicubic", align_corners=True), (1, 1, 4, 4)),
    ("lp_pool2d", lambda x: F.lp_pool2d(x, 2, 2), (1, 2, 4, 4)),
    ("local_response_norm", lambda x: F.local_response_norm(x, 3, alpha=0.5, beta=0.75, k=1.0), (2, 4, 3)),
    ("local_response_norm_4d", lambda x: F.local_response_norm(x, 2, alpha=0.3), (1, 3, 2, 2)),
]


@pytest.mark.parametrize("name,fn,shape", GRADCHECKS, ids=[c[0] for c in GRADCHECKS])
def test_gradient_matches_central_differences(name, fn, shape):
    rng = np.random.default_rng(6)
    a = rng.standard_normal(shape)
    x = ember.tensor(a, dtype=ember.float64, requires_grad=True)
    out = fn(x)
    w = rng.standard_normal(tuple(out.shape))
    (out * ember.tensor(w)).sum().backward()
    num = numeric_grad(lambda v: float((fn(ember.tensor(v)).numpy() * w).sum()), a)
    np.testing.assert_allclose(x.grad.numpy(), num, rtol=1e-6, atol=1e-7)


def test_double_unfold_fold_is_counting():
    # fold(unfold(ones)) counts how many blocks cover each pixel: a value check with no oracle
    x = ember.ones(1, 1, 3, 3)
    counts = F.fold(F.unfold(x, 2), (3, 3), 2)
    np.testing.assert_array_equal(counts.numpy()[0, 0], [[1, 2, 1], [2, 4, 2], [1, 2, 1]])


def test_instance_norm_untracked_state_dict_drops_old_running_stats():
    layer = nn.InstanceNorm1d(3)
    with pytest.raises(RuntimeError, match="Unexpected running stats buffer"):
        layer.load_state_dict({"running_mean": ember.zeros(3), "running_var": ember.ones(3)})


def test_instance_norm_warns_on_channel_mismatch_without_affine():
    with pytest.warns(UserWarning, match="does not match num_features"):
        nn.InstanceNorm1d(3)(ember.randn(2, 4, 5))


# ---- bad input: torch's exception type, a message naming the op -------------------------------------
def _rand(t, *shape, dtype=None):
    x = t.randn(*shape)
    return x if dtype is None else x.to(dtype)


ERRORS = [
    ("unfold_2d", lambda t, m, f: f.unfold(_rand(t, 3, 4), 2), "unfold"),
    ("unfold_5d", lambda t, m, f: f.unfold(_rand(t, 1, 2, 3, 4, 5), 2), "3D or 4D"),
    ("unfold_kernel_too_big", lambda t, m, f: f.unfold(_rand(t, 2, 3, 5, 5), 6), "sliding blocks"),
    ("unfold_zero_kernel", lambda t, m, f: f.unfold(_rand(t, 2, 3, 5, 5), 0), "kernel size"),
    ("unfold_zero_stride", lambda t, m, f: f.unfold(_rand(t, 2, 3, 5, 5), 2, stride=0), "stride"),
    ("unfold_negative_padding", lambda t, m, f: f.unfold(_rand(t, 2, 3, 5, 5), 2, padding=-1), "padding"),
    ("unfold_zero_dilation", lambda t, m, f: f.unfold(_rand(t, 2, 3, 5, 5), 2, dilation=0), "dilation"),
    ("unfold_three_kernel_dims", lambda t, m, f: f.unfold(_rand(t, 2, 3, 5, 5), (2, 2, 2)), "kernel_size"),
    ("unfold_long", lambda t, m, f: f.unfold(_rand(t, 2, 3, 5, 5, dtype=t.long), 2), "im2col"),
    ("unfold_zero_channels", lambda t, m, f: f.unfold(_rand(t, 2, 0, 5, 5), 2), "non-zero"),
    ("fold_wrong_blocks", lambda t, m, f: f.fold(_rand(t, 2, 12, 16), (4, 4), 2), "sliding blocks 3 * 3 = 9"),
    ("fold_channels_not_divisible", lambda t, m, f: f.fold(_rand(t, 2, 13, 16), (5, 5), 2), "divisible"),
    ("fold_1d", lambda t, m, f: f.fold(_rand(t, 12), (5, 5), 2), "2D or 3D"),
    ("fold_4d", lambda t, m, f: f.fold(_rand(t, 1, 2, 12, 16), (5, 5), 2), "2D or 3D"),
    ("fold_zero_stride", lambda t, m, f: f.fold(_rand(t, 2, 12, 16), 5, 2, stride=0), "stride"),
    ("pixel_shuffle_channels", lambda t, m, f: f.pixel_shuffle(_rand(t, 2, 7, 3, 3), 2), "divisible by 4"),
    ("pixel_shuffle_2d", lambda t, m, f: f.pixel_shuffle(_rand(t, 8, 3), 2), "at least 3 dimensions"),
    ("pixel_shuffle_zero", lambda t, m, f: f.pixel_shuffle(_rand(t, 2, 8, 3, 3), 0), "positive"),
    ("pixel_shuffle_float_factor", lambda t, m, f: m.PixelShuffle(2.5)(_rand(t, 2, 8, 3, 3)), "must be int"),
    ("pixel_unshuffle_height", lambda t, m, f: f.pixel_unshuffle(_rand(t, 2, 2, 5, 6), 2), "height"),
    ("pixel_unshuffle_width", lambda t, m, f: f.pixel_unshuffle(_rand(t, 2, 2, 4, 5), 2), "width"),
    ("pixel_unshuffle_negative", lambda t, m, f: f.pixel_unshuffle(_rand(t, 2, 2, 4, 4), -1), "positive"),
    ("lrn_2d", lambda t, m, f: m.LocalResponseNorm(2)(_rand(t, 3, 3)), "3D or higher"),
    ("rms_norm_shape", lambda t, m, f: m.RMSNorm(4)(_rand(t, 2, 3)), "normalized_shape"),
    ("instance_norm1d_4d", lambda t, m, f: m.InstanceNorm1d(3)(_rand(t, 2, 3, 4, 5)), "2D or 3D"),
    ("instance_norm2d_2d", lambda t, m, f: m.InstanceNorm2d(3)(_rand(t, 3, 4)), "3D or 4D"),
    ("instance_norm_affine_channels", lambda t, m, f: m.InstanceNorm1d(3, affine=True)(_rand(t, 2, 4, 5)),
     "num_features"),
    ("instance_norm_one_element", lambda t, m, f: m.InstanceNorm1d(3)(_rand(t, 2, 3, 1)), "more than 1"),
    ("zero_pad_1d_input", lambda t, m, f: m.ZeroPad2d(1)(_rand(t, 3)), "Padding length"),
    ("reflection_pad_too_big", lambda t, m, f: m.ReflectionPad1d(3)(_rand(t, 1, 2, 3)), "Padding size"),
    ("circular_pad_rank", lambda t, m, f: m.CircularPad1d(1)(_rand(t, 1, 2, 3, 3)), "2D or 3D"),
    ("circular_pad2d_rank", lambda t, m, f: m.CircularPad2d(1)(_rand(t, 3, 3)), "3D or 4D"),
    ("replication_pad_1d_input", lambda t, m, f: m.ReplicationPad1d(1)(_rand(t, 3)), "not supported"),
    ("replication_pad_5d_input", lambda t, m, f: m.ReplicationPad2d(1)(_rand(t, 2, 3, 4, 5, 6)), "not supported"),
    ("upsample_bilinear_3d", lambda t, m, f: m.Upsample(scale_factor=2, mode="bilinear")(_rand(t, 2, 3, 4)),
     "bilinear"),
    ("upsample_no_size", lambda t, m, f: m.Upsample()(_rand(t, 2, 3, 4)), "size or scale_factor"),
    ("upsample_nearest_align", lambda t, m, f: m.Upsample(scale_factor=2, align_corners=True)(_rand(t, 1, 1, 2)),
     "align_corners"),
    ("cosine_shapes", lambda t, m, f: m.CosineSimilarity()(_rand(t, 2, 3), _rand(t, 3, 3)), "x1"),
    ("pairwise_shapes", lambda t, m, f: m.PairwiseDistance()(_rand(t, 2, 3), _rand(t, 2, 4)), "x1"),
    ("cosine_dim", lambda t, m, f: m.CosineSimilarity(dim=2)(_rand(t, 2, 3), _rand(t, 2, 3)), "Dimension"),
    ("unpool_output_size_range", lambda t, m, f: m.MaxUnpool2d(2)(_rand(t, 1, 1, 2, 2),
                                                                  t.zeros(1, 1, 2, 2, dtype=t.long),
                                                                  output_size=(9, 9)), "output_size"),
    ("unpool_output_size_length", lambda t, m, f: m.MaxUnpool2d(2)(_rand(t, 1, 1, 2, 2),
                                                                   t.zeros(1, 1, 2, 2, dtype=t.long),
                                                                   output_size=(1, 4, 4)), "output_size"),
    ("unpool_indices_shape", lambda t, m, f: m.MaxUnpool2d(2)(_rand(t, 1, 1, 2, 2), t.zeros(1, 1, 2, 3,
                                                                                            dtype=t.long)),
     "indices"),
]


@requires_torch
@pytest.mark.parametrize("name,call,words", ERRORS, ids=[c[0] for c in ERRORS])
def test_errors_match_torch(oracle, name, call, words):
    torch = oracle
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(Exception) as t_err:
            call(torch, torch.nn, torch.nn.functional)
        with pytest.raises(Exception) as e_err:
            call(ember, nn, F)
    assert e_err.type is t_err.type, f"ember raised {e_err.value!r}, torch {t_err.value!r}"
    assert words in str(e_err.value)


def test_errors_without_torch_name_the_op():
    with pytest.raises(RuntimeError, match=r"^unfold: .*\(5, 5\).*kernel_size=\(6, 6\)"):
        F.unfold(ember.randn(1, 1, 5, 5), 6)
    with pytest.raises(RuntimeError, match=r"^fold: .*input.size\(2\)=16"):
        F.fold(ember.randn(1, 4, 16), (4, 4), 2)
    with pytest.raises(ValueError, match=r"^InstanceNorm2d: expected 3D or 4D input \(got 2D input\)"):
        nn.InstanceNorm2d(3)(ember.randn(3, 4))
    with pytest.raises(ValueError, match="max_unpool2d: invalid output_size"):
        F.max_unpool2d(ember.randn(1, 1, 2, 2), ember.zeros(1, 1, 2, 2, dtype=ember.long), 2, output_size=(2, 2))


# ---- documentation --------------------------------------------------------------------------------
NEW_NAMES = ["ZeroPad1d", "ZeroPad2d", "ZeroPad3d", "ConstantPad1d", "ConstantPad2d", "ConstantPad3d",
             "ReflectionPad1d", "ReflectionPad2d", "ReflectionPad3d", "ReplicationPad1d", "ReplicationPad2d",
             "ReplicationPad3d", "CircularPad1d", "CircularPad2d", "CircularPad3d", "Upsample",
             "UpsamplingNearest2d", "UpsamplingBilinear2d", "PixelShuffle", "PixelUnshuffle", "Fold", "Unfold",
             "CosineSimilarity", "PairwiseDistance", "InstanceNorm1d", "InstanceNorm2d", "InstanceNorm3d",
             "LocalResponseNorm", "RMSNorm", "MaxUnpool1d", "MaxUnpool2d", "GroupNorm", "Identity", "Bilinear",
             "ChannelShuffle", "LPPool1d", "LPPool2d", "LPPool3d", "EmbeddingBag"]
NEW_FUNCTIONS = ["unfold", "fold", "pixel_shuffle", "pixel_unshuffle", "local_response_norm", "rms_norm",
                 "instance_norm", "max_unpool2d", "pad", "interpolate", "cosine_similarity", "pairwise_distance",
                 "channel_shuffle", "lp_pool1d", "lp_pool2d", "lp_pool3d", "embedding_bag"]


@pytest.mark.parametrize("name", NEW_NAMES)
def test_layer_is_exported_and_documented(name):
    cls = getattr(nn, name)
    assert issubclass(cls, nn.Module)
    assert name in nn.modules.__all__
    doc = (cls.__doc__ or "").strip()
    assert doc and "\n" not in doc, f"nn.{name} needs a one-line docstring"


@pytest.mark.parametrize("name", NEW_FUNCTIONS)
def test_functional_is_documented(name):
    doc = (getattr(F, name).__doc__ or "").strip()
    assert doc, f"F.{name} needs a docstring"


# ---- EmbeddingBag (the torchtext text-classification tutorial's layer) ------------------------------
_TABLE = np.random.default_rng(3).standard_normal((10, 4)).astype(np.float32)
_BAGS = [1, 2, 4, 5, 4, 3, 2, 9]
BAG_CASES = [
    ("offsets", dict(input=_BAGS, offsets=[0, 4])),
    ("empty_bags", dict(input=_BAGS, offsets=[0, 0, 4, 8])),
    ("include_last_offset", dict(input=_BAGS, offsets=[0, 3, 8], include_last_offset=True)),
    ("2d", dict(input=[[1, 2, 4], [4, 3, 2]])),
    ("padding_idx", dict(input=[1, 2, 4, 2, 2, 3], offsets=[0, 3, 4], padding_idx=2)),
    ("ties", dict(input=[1, 1, 3, 3], offsets=[0, 2])),
]


@requires_torch
@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
@pytest.mark.parametrize("name,kw", BAG_CASES, ids=[c[0] for c in BAG_CASES])
def test_embedding_bag_matches_torch(oracle, name, kw, mode):
    torch = oracle
    results = []
    for lib in (torch, ember):
        w = lib.tensor(_TABLE, requires_grad=True)
        args = {k: (lib.tensor(v) if k in ("input", "offsets") else v) for k, v in kw.items()}
        out = lib.nn.functional.embedding_bag(weight=w, mode=mode, **args)
        g = np.cos(np.arange(out.numel())).reshape(tuple(out.shape)).astype(np.float32)
        out.backward(lib.tensor(g))
        results.append((out.detach().numpy(), w.grad.numpy(), out.grad_fn.name()))
    (to, tg, tn), (eo, eg, en) = results
    np.testing.assert_allclose(eo, to, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(eg, tg, rtol=1e-6, atol=1e-6)
    assert en == tn == "EmbeddingBagBackward0"


@requires_torch
@pytest.mark.parametrize("mode", ["sum", "mean", "max", "per_sample_weights"])
@pytest.mark.parametrize("offsets", [[0, 3, 5], [0, 6, 2]], ids=["short", "decreasing"])
def test_embedding_bag_entries_past_the_last_offset_match_torch(oracle, mode, offsets):
    # torch's reference kernel reads offsets[-1] only to check it: the last bag runs to the input's end
    # (float64 here: torch's float32 CPU fast path differs by mode, and its per_sample_weights gradient
    # reads uninitialised memory there)
    results = []
    for lib in (oracle, ember):
        w = lib.tensor(_TABLE.astype(np.float64), requires_grad=True)
        p = lib.tensor(np.linspace(0.5, 2, 8), requires_grad=True) if mode == "per_sample_weights" else None
        out = lib.nn.functional.embedding_bag(lib.tensor(_BAGS), w, lib.tensor(offsets), include_last_offset=True,
                                              mode="sum" if p is not None else mode, per_sample_weights=p)
        out.backward(lib.tensor(np.cos(np.arange(out.numel())).reshape(tuple(out.shape))))
        results.append([out.detach().numpy(), w.grad.numpy()] + ([p.grad.numpy()] if p is not None else []))
    for e, t in zip(results[1], results[0]):
        np.testing.assert_allclose(e, t, rtol=1e-12, atol=1e-12)


@requires_torch
@pytest.mark.parametrize("mode", ["sum", "mean"])
@pytest.mark.parametrize("lengths", [[30] * 8, [25, 30, 0, 41, 1, 30]], ids=["equal", "unequal"])
def test_embedding_bag_sums_rows_in_order_as_torch(oracle, mode, lengths):
    # torch adds each bag's rows in order, then divides a mean by the bag's size: bags of one length
    # give its bits exactly; others (reduceat, another order) agree to rounding
    torch = oracle
    rng = np.random.default_rng(4)
    table = rng.standard_normal((500, 16)).astype(np.float32)
    idx = rng.integers(0, 500, sum(lengths))
    off = np.concatenate(([0], np.cumsum(lengths)[:-1]))
    outs = [lib.nn.functional.embedding_bag(lib.tensor(idx), lib.tensor(table), lib.tensor(off), mode=mode).numpy()
            for lib in (torch, ember)]
    if len(set(lengths)) == 1:
        np.testing.assert_array_equal(outs[1], outs[0])
    else:
        np.testing.assert_allclose(outs[1], outs[0], rtol=1e-5, atol=1e-6)


@requires_torch
def test_embedding_bag_per_sample_weights_and_module_match_torch(oracle):
    torch = oracle
    results = []
    for lib in (torch, ember):
        lib.manual_seed(0)
        bag = lib.nn.EmbeddingBag(10, 4, mode="sum", padding_idx=4)
        p = lib.tensor(np.linspace(0.5, 2, 8).astype(np.float32), requires_grad=True)
        out = bag(lib.tensor(_BAGS), lib.tensor([0, 4]), per_sample_weights=p)
        out.sum().backward()
        results.append((repr(bag), out.detach().numpy(), bag.weight.grad.numpy(), p.grad.numpy(),
                        list(bag.state_dict())))
    (tr, to, tw, tp, tk), (er, eo, ew, ep, ek) = results
    assert er == tr and ek == tk
    np.testing.assert_allclose(eo, to, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(ew, tw, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(ep, tp, rtol=1e-6, atol=1e-6)


PSW_CASES = [("2d", dict(input=[[1, 2, 4], [4, 3, 3]])),
             ("2d_padding_idx", dict(input=[[1, 2, 4], [4, 3, 3]], padding_idx=3)),
             ("offsets", dict(input=_BAGS, offsets=[0, 3, 3])),
             ("include_last_offset", dict(input=_BAGS, offsets=[0, 3, 8], include_last_offset=True)),
             ("module_2d", dict(input=[[1, 2], [4, 3], [0, 9]]))]


@requires_torch
@pytest.mark.parametrize("name,kw", PSW_CASES, ids=[c[0] for c in PSW_CASES])
def test_embedding_bag_per_sample_weights_gradient_matches_torch(oracle, name, kw):
    # a 2-D input's per_sample_weights are (B, L): their gradient takes that shape (it came back flat)
    results = []
    for lib in (oracle, ember):
        w = lib.tensor(_TABLE, requires_grad=True)
        shape = np.array(kw["input"]).shape
        p = lib.tensor(np.linspace(0.5, 2, int(np.prod(shape))).reshape(shape).astype(np.float32),
                       requires_grad=True)
        args = {k: (lib.tensor(v) if k in ("input", "offsets") else v) for k, v in kw.items()}
        if name.startswith("module"):
            bag = lib.nn.EmbeddingBag(10, 4, mode="sum", _weight=w)
            w = bag.weight   # (a Parameter over the same data)
            out = bag(args["input"], per_sample_weights=p)
        else:
            out = lib.nn.functional.embedding_bag(weight=w, mode="sum", per_sample_weights=p, **args)
        out.backward(lib.tensor(np.cos(np.arange(out.numel())).reshape(tuple(out.shape)).astype(np.float32)))
        results.append((out.detach().numpy(), w.grad.numpy(), p.grad.numpy()))
    for e, t in zip(results[1], results[0]):
        assert e.shape == t.shape
        np.testing.assert_allclose(e, t, rtol=1e-6, atol=1e-6)


def test_embedding_bag_per_sample_weights_gradient_matches_central_differences():
    rng = np.random.default_rng(8)
    table, p0 = ember.tensor(rng.standard_normal((6, 3))), rng.standard_normal((2, 3))
    idx, w = ember.tensor([[0, 2, 5], [1, 3, 3]]), rng.standard_normal((2, 3))

    def f(v):
        return float((F.embedding_bag(idx, table, mode="sum", per_sample_weights=ember.tensor(v)).numpy() * w).sum())
    p = ember.tensor(p0, requires_grad=True)
    (F.embedding_bag(idx, table, mode="sum", per_sample_weights=p) * ember.tensor(w)).sum().backward()
    np.testing.assert_allclose(p.grad.numpy(), numeric_grad(f, p0), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("last", [False, True], ids=["", "include_last_offset"])
@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
def test_embedding_bag_gradient_matches_central_differences(mode, last):
    rng = np.random.default_rng(7)
    table = rng.standard_normal((6, 3))
    idx, off = ember.tensor([0, 2, 2, 5, 1, 3, 3]), ember.tensor([0, 3, 3, 5])
    w = rng.standard_normal((3 if last else 4, 3))

    def f(v):
        return float((F.embedding_bag(idx, ember.tensor(v), off, mode=mode, include_last_offset=last).numpy()
                      * w).sum())
    x = ember.tensor(table, requires_grad=True)
    (F.embedding_bag(idx, x, off, mode=mode, include_last_offset=last) * ember.tensor(w)).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), numeric_grad(f, table), rtol=1e-6, atol=1e-7)


def test_embedding_bag_bad_input_names_the_problem():
    w = ember.randn(10, 3)
    with pytest.raises(ValueError, match="offsets has to be a 1D Tensor but got None"):
        F.embedding_bag(ember.tensor([1, 2]), w)
    with pytest.raises(ValueError, match="if input is 2D, then offsets has to be None"):
        F.embedding_bag(ember.tensor([[1, 2]]), w, ember.tensor([0]))
    with pytest.raises(RuntimeError, match=r"offsets\[0\] has to be 0"):
        F.embedding_bag(ember.tensor([1, 2]), w, ember.tensor([1]))
    with pytest.raises(RuntimeError, match=r"Index 1 of input takes value 20 .*\[0, 10\)"):
        F.embedding_bag(ember.tensor([1, 20]), w, ember.tensor([0]))
    with pytest.raises(NotImplementedError, match="per_sample_weights is only supported for mode='sum'"):
        F.embedding_bag(ember.tensor([1, 2]), w, ember.tensor([0]), per_sample_weights=ember.ones(2))
    with pytest.raises(ValueError, match="mode has to be one of sum, mean or max"):
        F.embedding_bag(ember.tensor([1, 2]), w, ember.tensor([0]), mode="min")


# ---- sparse=True: the weight's gradient is a sparse COO tensor, as torch's -------------------------------------------
def _lookup_grad(M, ids, out_grad=None, **kw):
    """embedding(ids, w, sparse=True) backward with out_grad (None: through .sum(), an expanded gradient)."""
    w = M.nn.Parameter(M.tensor(_TABLE))
    out = M.nn.functional.embedding(M.tensor(ids), w, sparse=True, **kw)
    if out_grad is None:
        out.sum().backward()
    else:
        out.backward(M.tensor(np.cos(np.arange(out.numel())).reshape(tuple(out.shape)).astype(np.float32)))
    return w


def _twice(M, first_sum, second_sum):
    w = M.nn.Parameter(M.tensor(_TABLE))
    for ids, by_sum in (([[3, 1, 3], [0, 5, 1]], first_sum), ([2, 3], second_sum)):
        out = M.nn.functional.embedding(M.tensor(ids), w, sparse=True)
        (out.sum() if by_sum else (out * M.tensor(np.float32(1.5)))).backward(
            None if by_sum else M.ones(*out.shape))
    return w


def _bag(M, ids, offsets=None, **kw):
    w = M.nn.Parameter(M.tensor(_TABLE))
    out = M.nn.functional.embedding_bag(M.tensor(ids), w, None if offsets is None else M.tensor(offsets),
                                        sparse=True, **kw)
    out.backward(M.tensor(np.cos(np.arange(out.numel())).reshape(tuple(out.shape)).astype(np.float32)))
    return w


SPARSE_EMBEDDING_CASES = {
    "2-d ids": lambda M: _lookup_grad(M, [[3, 1, 3], [0, 5, 1]], True),
    "expanded gradient (sum)": lambda M: _lookup_grad(M, [[3, 1, 3], [0, 5, 1]]),
    "padding_idx rows dropped": lambda M: _lookup_grad(M, [[3, 1, 3], [0, 5, 1]], True, padding_idx=1),
    "negative padding_idx": lambda M: _lookup_grad(M, [9, 1, 9], True, padding_idx=-1),
    "padding only (no entries)": lambda M: _lookup_grad(M, [1, 1], True, padding_idx=1),
    "no ids": lambda M: _lookup_grad(M, np.zeros(0, np.int64), True),
    "0-d id": lambda M: _lookup_grad(M, 2, True),
    "one id": lambda M: _lookup_grad(M, [4], True),
    "int32 ids": lambda M: _lookup_grad(M, np.array([[3, 1], [3, 0]], np.int32), True),
    "max_norm": lambda M: _lookup_grad(M, [[3, 1, 3], [0, 5, 1]], True, max_norm=1.0),
    # a second backward adds into .grad in place: torch merges the entries when the new gradient's values are
    # contiguous, and concatenates them when they are a strided view (the expanded gradient of a sum)
    "accumulated, merged": lambda M: _twice(M, False, False),
    "accumulated, concatenated": lambda M: _twice(M, False, True),
    "accumulated, expanded first": lambda M: _twice(M, True, False),
    "one graph, two lookups": lambda M: _used_twice(M, lambda w, M: 0),
    "dense then sparse": lambda M: _used_twice(M, lambda w, M: (w * 2).sum(), dense_first=True),
    "sparse and dense in one graph": lambda M: _used_twice(M, lambda w, M: (w * 2).sum()),
    "module": lambda M: _module(M),
    "backward(inputs=...), twice": lambda M: _with_inputs(M),
    "bag sum, per_sample_weights": lambda M: _bag(
        M, _BAGS, [0, 3, 3], mode="sum", per_sample_weights=M.tensor(np.linspace(0.5, 2, 8, dtype=np.float32))),
    "bag mean, padding_idx": lambda M: _bag(M, [1, 2, 4, 2, 2, 3], [0, 3, 4], mode="mean", padding_idx=2),
    # (entries past the last bag: torch's sparse backward gives them the last bag's gradient, scaled by a mean
    # over a bag its forward did not take; ember lists them with zero rows)
    "bag mean, include_last_offset": lambda M: _bag(M, _BAGS, [0, 3, 8], mode="mean", include_last_offset=True),
    "bag 2-d": lambda M: _bag(M, [[1, 2, 4], [4, 3, 2]], mode="sum"),
}


def _used_twice(M, other, dense_first=False):
    w = M.nn.Parameter(M.tensor(_TABLE))
    if dense_first:
        other(w, M).backward()
    loss = M.nn.functional.embedding(M.tensor([1, 2]), w, sparse=True).sum() + \
        M.nn.functional.embedding(M.tensor([0, 2]), w, sparse=True).sum()
    (loss if dense_first else loss + other(w, M)).backward()
    return w


def _with_inputs(M):
    w = M.nn.Parameter(M.tensor(_TABLE))
    for ids in ([[1, 2], [2, 4]], [7, 1]):
        M.nn.functional.embedding(M.tensor(ids), w, sparse=True).sum().backward(inputs=[w])
    return w


def _module(M):
    M.manual_seed(0)
    emb = M.nn.Embedding(10, 4, padding_idx=0, sparse=True)
    with M.no_grad():
        emb.weight.copy_(M.tensor(_TABLE))
    emb(M.tensor([[0, 2, 7], [7, 7, 1]])).backward(M.full((2, 3, 4), 0.5))
    return emb.weight


@requires_torch
@pytest.mark.parametrize("case", list(SPARSE_EMBEDDING_CASES))
def test_sparse_embedding_grad_matches_torch(oracle, case):
    # layout, coalesced flag, indices (the looked-up rows in lookup order) and values, as torch stores them
    t = SPARSE_EMBEDDING_CASES[case](oracle).grad
    e = SPARSE_EMBEDDING_CASES[case](ember).grad
    assert e.is_sparse == t.is_sparse and str(e.layout)[6:] == str(t.layout)[6:] and e.dtype == ember.float32
    if t.is_sparse:
        assert e.is_coalesced() == t.is_coalesced()
        assert e._indices().tolist() == t._indices().tolist() and e._indices().dtype == ember.int64
        np.testing.assert_allclose(e._values().numpy(), t._values().numpy(), rtol=1e-6, atol=1e-7)
        assert tuple(e._values().shape) == tuple(t._values().shape) and not e.requires_grad
    else:
        np.testing.assert_allclose(e.numpy(), t.numpy(), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("kw", [{}, {"padding_idx": 3}, {"max_norm": 1.0}])
def test_sparse_embedding_grad_is_the_dense_grad(kw):
    # the same gradient, stored sparsely (the dense one is checked against central differences above)
    ids = ember.tensor([[3, 1, 3], [0, 5, 1]])
    grads = []
    for sparse in (True, False):
        w = ember.nn.Parameter(ember.tensor(_TABLE))
        out = F.embedding(ids, w, sparse=sparse, **kw)
        (out * ember.tensor(np.sin(np.arange(out.numel())).reshape(tuple(out.shape)))).sum().backward()
        grads.append(w.grad)
    assert grads[0].is_sparse and not grads[1].is_sparse
    np.testing.assert_allclose(grads[0].to_dense().numpy(), grads[1].numpy(), rtol=1e-6, atol=1e-7)


@requires_torch
def test_sparse_embedding_autograd_grad_hooks_and_assignment_match_torch(oracle):
    for M in (ember, oracle):
        w = M.nn.Parameter(M.tensor(_TABLE))
        seen = []
        w.register_hook(lambda g: seen.append((g.is_sparse, g.is_coalesced())))
        g, = M.autograd.grad(M.nn.functional.embedding(M.tensor([1, 2, 1]), w, sparse=True).sum(), w)
        assert g.is_sparse and not g.is_coalesced() and g._indices().tolist() == [[1, 2, 1]]
        assert seen == [(True, False)]
        w.grad = g   # a sparse .grad may be assigned to a dense parameter
        assert w.grad is g
        with pytest.raises(RuntimeError, match="size"), warnings.catch_warnings():
            warnings.simplefilter("ignore")   # (the sparse-invariants warning)
            w.grad = M.sparse_coo_tensor([[0]], [[1.0] * 4], (11, 4))


@requires_torch
def test_sparse_embedding_refusals_match_torch(oracle):
    for M in (ember, oracle):
        w = M.nn.Parameter(M.tensor(_TABLE))
        out = M.nn.functional.embedding(M.tensor([1, 2]), w, sparse=True, scale_grad_by_freq=True)
        with pytest.raises(RuntimeError, match="scale_grad_by_freq not supported with sparse gradients"):
            out.sum().backward()
        with pytest.raises(ValueError, match="max mode does not support sparse weights"):
            M.nn.functional.embedding_bag(M.tensor([[1, 2]]), w, mode="max", sparse=True)


@requires_torch
def test_sparse_embedding_grad_with_create_graph_matches_torch(oracle):
    # torch's sparse gradient is built from a view of the output's gradient: differentiable in it
    got = []
    for M in (oracle, ember):
        w = M.nn.Parameter(M.tensor(_TABLE))
        ids = M.tensor([[3, 1, 3], [0, 5, 1]])
        g, = M.autograd.grad((M.nn.functional.embedding(ids, w, sparse=True, padding_idx=1) ** 2).sum(), w,
                             create_graph=True)
        assert g.is_sparse and g.requires_grad and g.grad_fn.name() == "SparseCooTensorWithDimsAndTensorsBackward0"
        gg, = M.autograd.grad((g.to_dense() ** 2).sum(), w)
        (M.nn.functional.embedding(ids, w, sparse=True) ** 2).sum().backward(create_graph=True)
        assert w.grad.is_sparse and w.grad.requires_grad
        got.append((g._indices().tolist(), g._values().detach().numpy(), gg.to_dense().numpy(),
                    w.grad._indices().tolist()))
    (ti, tv, tgg, twi), (ei, ev, egg, ewi) = got
    assert ei == ti and ewi == twi
    np.testing.assert_allclose(ev, tv, rtol=1e-6)
    np.testing.assert_allclose(egg, tgg, rtol=1e-6)
