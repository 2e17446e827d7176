"""Attention and transformers against torch: scaled_dot_product_attention, MultiheadAttention,
TransformerEncoder/Decoder(Layer), Transformer.

The modules get torch's weights (state_dict through NumPy), run with dropout 0 or in eval mode, and
must give torch's outputs, attention weights, input and parameter gradients, state_dict keys, repr,
warnings, and torch's exception type and message for bad input.
"""
import math
import warnings

import numpy as np
import pytest

import ember
import ember.nn as nn
import ember.nn.functional as F
from tests.conftest import numeric_grad, requires_torch

RTOL, ATOL = 1e-4, 2e-5

# both frameworks warn when a bool key padding mask meets a float attn_mask (checked in its own test)
pytestmark = pytest.mark.filterwarnings("ignore:Support for mismatched")


def _e(t, requires_grad=False):
    """An ember tensor with a torch tensor's values (and dtype)."""
    return ember.tensor(t.detach().numpy().copy(), requires_grad=requires_grad)


def _np(t):
    return t.detach().numpy()


def _copy_weights(tm, em):
    em.load_state_dict({k: _e(v) for k, v in tm.state_dict().items()})


def _close(e, t, msg="", rtol=RTOL, atol=ATOL):
    assert tuple(e.shape) == tuple(t.shape), msg
    np.testing.assert_allclose(_np(e), _np(t), rtol=rtol, atol=atol, err_msg=msg)


def _backward_both(tout, eout, torch, seed=0):
    """Backpropagate the same random cotangent through both outputs."""
    g = np.random.default_rng(seed).standard_normal(tuple(tout.shape)).astype(np.float32)
    tout.backward(torch.tensor(g))
    eout.backward(ember.tensor(g))


def _close_grads(tm, em, what):
    tp = dict(tm.named_parameters())
    names = [n for n, _ in em.named_parameters()]
    assert names == list(tp), what
    for name, p in em.named_parameters():
        assert (p.grad is None) == (tp[name].grad is None), f"{what}.{name}"
        if p.grad is not None:
            _close(p.grad, tp[name].grad, f"{what}.{name}.grad", rtol=1e-4, atol=5e-5)


def _torch_message(e):
    # shapes print as torch.Size in torch and ember.Size in ember
    return str(e).replace("torch.", "ember.")


def _same_error(torch_call, ember_call):
    """Both calls raise the same exception type with the same message."""
    with pytest.raises(Exception) as te:
        torch_call()
    with pytest.raises(Exception) as ee:
        ember_call()
    assert type(ee.value).__name__ == type(te.value).__name__, (ee.value, te.value)
    assert str(ee.value) == _torch_message(te.value)


# ---------------------------------------------------------------------------------------------------
# scaled_dot_product_attention

def _sdpa_inputs(torch, qs, ks, vs, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(*s, generator=g, requires_grad=True) for s in (qs, ks, vs)]


def _bool_mask(torch, shape, seed=1):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(*shape, generator=g) > 0.4


SDPA_CASES = [
    # id, q shape, k shape, v shape, mask builder (torch -> mask or None), kwargs
    ("plain", (2, 3, 4, 8), (2, 3, 5, 8), (2, 3, 5, 6), None, {}),
    ("bool_mask_broadcast", (2, 3, 4, 8), (2, 3, 5, 8), (2, 3, 5, 6), lambda t: _bool_mask(t, (4, 5)), {}),
    ("bool_mask_per_batch", (2, 3, 4, 8), (2, 3, 5, 8), (2, 3, 5, 6), lambda t: _bool_mask(t, (2, 1, 4, 5)), {}),
    ("float_mask", (2, 3, 4, 8), (2, 3, 5, 8), (2, 3, 5, 6),
     lambda t: t.randn(3, 1, 5, generator=t.Generator().manual_seed(3)), {}),
    ("causal", (2, 2, 5, 4), (2, 2, 5, 4), (2, 2, 5, 4), None, {"is_causal": True}),
    ("causal_rect", (1, 2, 3, 4), (1, 2, 6, 4), (1, 2, 6, 4), None, {"is_causal": True}),
    ("scale", (2, 4, 8), (2, 6, 8), (2, 6, 3), None, {"scale": 0.3}),
    ("unbatched", (4, 8), (5, 8), (5, 2), lambda t: _bool_mask(t, (4, 5)), {}),
    ("broadcast_batch", (1, 2, 3, 4, 6), (2, 3, 5, 6), (2, 3, 5, 6), None, {}),
    ("gqa", (2, 6, 4, 8), (2, 2, 5, 8), (2, 2, 5, 8), None, {"enable_gqa": True}),
]


@requires_torch
@pytest.mark.parametrize("name,qs,ks,vs,mask,kwargs", SDPA_CASES, ids=[c[0] for c in SDPA_CASES])
def test_sdpa_matches_torch(oracle, name, qs, ks, vs, mask, kwargs):
    torch = oracle
    tq, tk, tv = _sdpa_inputs(torch, qs, ks, vs)
    eq, ek, ev = (_e(t, True) for t in (tq, tk, tv))
    tm = None if mask is None else mask(torch)
    em = None if tm is None else _e(tm)
    tout = torch.nn.functional.scaled_dot_product_attention(tq, tk, tv, attn_mask=tm, **kwargs)
    eout = F.scaled_dot_product_attention(eq, ek, ev, attn_mask=em, **kwargs)
    _close(eout, tout, name)
    _backward_both(tout, eout, torch)
    for a, b, n in ((eq, tq, "query"), (ek, tk, "key"), (ev, tv, "value")):
        _close(a.grad, b.grad, f"{name}: grad of {n}")


@requires_torch
def test_sdpa_fully_masked_row_is_zero_not_nan(oracle):
    """torch's math kernel gives a query that may attend to nothing zero output and zero gradient."""
    torch = oracle
    tq, tk, tv = _sdpa_inputs(torch, (2, 4, 8), (2, 5, 8), (2, 5, 8))
    eq, ek, ev = (_e(t, True) for t in (tq, tk, tv))
    for tm in (_bool_mask(torch, (4, 5)), torch.zeros(4, 5)):
        tm[1] = False if tm.dtype == torch.bool else float("-inf")
        for t in (tq, tk, tv, eq, ek, ev):
            t.grad = None
        tout = torch.nn.functional.scaled_dot_product_attention(tq, tk, tv, attn_mask=tm)
        eout = F.scaled_dot_product_attention(eq, ek, ev, attn_mask=_e(tm))
        _close(eout, tout)
        assert not np.isnan(_np(eout)).any() and (_np(eout)[:, 1] == 0).all()
        _backward_both(tout, eout, torch)
        for a, b in ((eq, tq), (ek, tk), (ev, tv)):
            assert not np.isnan(a.grad.numpy()).any()
            _close(a.grad, b.grad)


def test_sdpa_gradient_matches_central_differences():
    rng = np.random.default_rng(0)
    q, k, v = (rng.standard_normal(s) for s in ((2, 3, 4), (2, 5, 4), (2, 5, 3)))
    mask = ember.tensor(rng.standard_normal((3, 5)))
    w = rng.standard_normal((2, 3, 3))

    def loss(qa, ka, va):
        out = F.scaled_dot_product_attention(ember.tensor(qa), ember.tensor(ka), ember.tensor(va), attn_mask=mask)
        return float((out * ember.tensor(w)).sum())

    tensors = [ember.tensor(a, requires_grad=True) for a in (q, k, v)]
    (F.scaled_dot_product_attention(*tensors, attn_mask=mask) * ember.tensor(w)).sum().backward()
    grads = [numeric_grad(lambda x: loss(x, k, v), q), numeric_grad(lambda x: loss(q, x, v), k),
             numeric_grad(lambda x: loss(q, k, x), v)]
    for t, g in zip(tensors, grads):
        np.testing.assert_allclose(t.grad.numpy(), g, rtol=1e-6, atol=1e-8)


FLASH_CASES = [
    # id, q shape, k shape, v shape, mask builder, kwargs, only these require grad
    ("plain", (2, 3, 4, 8), (2, 3, 5, 8), (2, 3, 5, 8), None, {}, "qkv"),
    ("causal_rect", (1, 2, 5, 4), (1, 2, 3, 4), (1, 2, 3, 4), None, {"is_causal": True, "scale": 0.7}, "qkv"),
    ("bool_2d", (2, 3, 4, 8), (2, 3, 5, 8), (2, 3, 5, 8), lambda t: _bool_mask(t, (4, 5)), {}, "qkv"),
    ("float_4d", (2, 3, 4, 8), (2, 3, 5, 8), (2, 3, 5, 8),
     lambda t: t.randn(2, 1, 1, 5, generator=t.Generator().manual_seed(3)), {}, "kv"),
    ("gqa", (2, 6, 4, 8), (2, 2, 5, 8), (2, 2, 5, 8), None, {"enable_gqa": True}, "qkv"),
    ("only_q", (1, 2, 3, 4), (1, 2, 3, 4), (1, 2, 3, 4), None, {}, "q"),
]


@requires_torch
@pytest.mark.parametrize("name,qs,ks,vs,mask,kwargs,grads", FLASH_CASES, ids=[c[0] for c in FLASH_CASES])
def test_sdpa_4d_is_one_flash_node_as_torch(oracle, name, qs, ks, vs, mask, kwargs, grads):
    """4-D attention without dropout is torch's CPU flash kernel: its node name and edges (q, k, v),
    torch's values and gradients, and a fully masked query row giving zeros."""
    torch = oracle
    tq, tk, tv = _sdpa_inputs(torch, qs, ks, vs)
    for t, n in zip((tq, tk, tv), "qkv"):
        t.requires_grad_(n in grads)
    eq, ek, ev = (_e(t, t.requires_grad) for t in (tq, tk, tv))
    tm = None if mask is None else mask(torch)
    if tm is not None and tm.dtype == torch.bool:
        tm[1] = False
    em = None if tm is None else _e(tm)
    tout = torch.nn.functional.scaled_dot_product_attention(tq, tk, tv, attn_mask=tm, **kwargs)
    eout = F.scaled_dot_product_attention(eq, ek, ev, attn_mask=em, **kwargs)
    assert eout.grad_fn.name() == tout.grad_fn.name() == "ScaledDotProductFlashAttentionForCpuBackward0"
    assert ([type(n).__name__ for n, _ in eout.grad_fn.next_functions]
            == [type(n).__name__ for n, _ in tout.grad_fn.next_functions])
    _close(eout, tout, name)
    _backward_both(tout, eout, torch)
    for a, b, n in ((eq, tq, "query"), (ek, tk, "key"), (ev, tv, "value")):
        assert (a.grad is None) == (b.grad is None), n
        if b.grad is not None:
            _close(a.grad, b.grad, f"{name}: grad of {n}")


@requires_torch
def test_sdpa_4d_output_layout_follows_query_as_torch(oracle):
    """q = x.view(B, L, H, D).transpose(1, 2): torch's output is laid out like q, so
    out.transpose(1, 2).view(B, L, H * D) works without .contiguous()."""
    for lib in (oracle, ember):
        x = lib.zeros(2, 4, 6)
        q = x.view(2, 4, 3, 2).transpose(1, 2)
        out = lib.nn.functional.scaled_dot_product_attention(q, q, q, is_causal=True)
        assert not out.is_contiguous() and tuple(out.stride()) == (24, 2, 6, 1)
        assert tuple(out.transpose(1, 2).view(2, 4, 6).shape) == (2, 4, 6)
        out = lib.nn.functional.scaled_dot_product_attention(q.contiguous(), q, q)
        assert out.is_contiguous()


def test_sdpa_4d_gradient_matches_central_differences():
    rng = np.random.default_rng(1)
    q, k, v = (rng.standard_normal(s) for s in ((1, 4, 3, 2), (1, 2, 5, 2), (1, 2, 5, 2)))
    mask = ember.tensor(rng.standard_normal((3, 5)))
    w = rng.standard_normal((1, 4, 3, 2))

    def out(*arrays, grad=False):
        ts = [ember.tensor(a, requires_grad=grad) for a in arrays]
        return ts, F.scaled_dot_product_attention(*ts, attn_mask=mask, enable_gqa=True) * ember.tensor(w)

    tensors, o = out(q, k, v, grad=True)
    assert o.grad_fn.next_functions[0][0].name() == "ScaledDotProductFlashAttentionForCpuBackward0"
    o.sum().backward()
    grads = [numeric_grad(lambda x: float(out(x, k, v)[1].sum()), q),
             numeric_grad(lambda x: float(out(q, x, v)[1].sum()), k),
             numeric_grad(lambda x: float(out(q, k, x)[1].sum()), v)]
    for t, g in zip(tensors, grads):
        np.testing.assert_allclose(t.grad.numpy(), g, rtol=1e-6, atol=1e-8)


def test_sdpa_dropout():
    ember.manual_seed(0)
    q = ember.randn(2, 3, 4)
    v = ember.randn(2, 3, 5)
    assert (F.scaled_dot_product_attention(q, q, v, dropout_p=1.0) == 0).all()
    # dropout always applies (training or not), rescaling the kept weights by 1 / (1 - p)
    ember.manual_seed(1)
    a = F.scaled_dot_product_attention(q, q, v, dropout_p=0.5)
    assert not ember.allclose(a, F.scaled_dot_product_attention(q, q, v))


@requires_torch
def test_sdpa_errors_match_torch(oracle):
    torch = oracle
    sdpa_t, sdpa_e = torch.nn.functional.scaled_dot_product_attention, F.scaled_dot_product_attention
    tq, tk, tv = (t.detach() for t in _sdpa_inputs(torch, (2, 3, 4, 8), (2, 3, 5, 8), (2, 3, 5, 6)))
    eq, ek, ev = _e(tq), _e(tk), _e(tv)
    for kw in ({"attn_mask": torch.ones(4, 5, dtype=torch.bool), "is_causal": True},
               {"attn_mask": torch.ones(4, 5, dtype=torch.int64)},
               {"attn_mask": torch.ones(4, 5, dtype=torch.float64)},
               {"attn_mask": torch.ones(5, 2, 3, 4, 5)}):
        _same_error(lambda: sdpa_t(tq, tk, tv, **kw),
                    lambda: sdpa_e(eq, ek, ev, **{k: _e(v) if hasattr(v, "numpy") else v for k, v in kw.items()}))
    _same_error(lambda: sdpa_t(tq[0, 0, 0], tk[0, 0, 0], tv[0, 0, 0]),
                lambda: sdpa_e(eq[0, 0, 0], ek[0, 0, 0], ev[0, 0, 0]))
    _same_error(lambda: sdpa_t(tq, tk.double(), tv), lambda: sdpa_e(eq, ek.double(), ev))


@requires_torch
def test_sdpa_takes_a_float32_mask_with_any_query_dtype_as_torch(oracle):
    # torch's check: the mask is bool, float32 or the query's dtype (a float64 query adds a float32 mask)
    torch = oracle
    tq, tk, tv = (t.detach().double() for t in _sdpa_inputs(torch, (2, 3, 4, 8), (2, 3, 5, 8), (2, 3, 5, 8)))
    tm = torch.randn(4, 5)
    for q, k, v in ((tq, tk, tv), (tq[0], tk[0], tv[0])):   # the flash node, the composite
        expected = torch.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=tm)
        got = F.scaled_dot_product_attention(_e(q), _e(k), _e(v), attn_mask=_e(tm))
        assert got.dtype == ember.float64
        np.testing.assert_allclose(got.numpy(), expected.numpy(), rtol=1e-12, atol=1e-12)


# ---------------------------------------------------------------------------------------------------
# MultiheadAttention

MHA_CASES = [
    # id, constructor kwargs, (query, key, value) shapes or "self", forward kwargs builder
    ("self", {}, "self", {}),
    ("self_batch_first", {"batch_first": True}, "self", {}),
    ("cross_kv_same", {}, ((4, 2, 8), (6, 2, 8), "key"), {}),
    ("qkv_distinct", {}, ((4, 2, 8), (6, 2, 8), (6, 2, 8)), {}),
    ("kdim_vdim", {"kdim": 5, "vdim": 3}, ((4, 2, 8), (6, 2, 5), (6, 2, 3)), {}),
    ("kdim_vdim_batch_first", {"kdim": 5, "vdim": 3, "batch_first": True},
     ((2, 4, 8), (2, 6, 5), (2, 6, 3)), {}),
    ("bool_attn_mask", {}, "self", {"attn_mask": lambda t: t.rand(5, 5, generator=_g(t)) > 0.7}),
    ("float_attn_mask_3d", {}, "self", {"attn_mask": lambda t: t.randn(2 * 2, 5, 5, generator=_g(t))}),
    ("bool_key_padding_mask", {"batch_first": True}, "self",
     {"key_padding_mask": lambda t: t.tensor([[False] * 5, [False, False, False, True, True]])}),
    ("float_key_padding_mask", {}, "self", {"key_padding_mask": lambda t: t.randn(2, 5, generator=_g(t))}),
    ("both_masks", {}, "self", {"attn_mask": lambda t: t.rand(5, 5, generator=_g(t)) > 0.7,
                                "key_padding_mask": lambda t: t.tensor([[False] * 4 + [True], [False] * 5])}),
    ("no_weights", {}, "self", {"need_weights": False}),
    ("no_weights_masks", {"batch_first": True}, "self",
     {"need_weights": False, "attn_mask": lambda t: t.randn(5, 5, generator=_g(t)),
      "key_padding_mask": lambda t: t.tensor([[False] * 4 + [True], [False] * 5])}),
    ("per_head_weights", {}, "self", {"average_attn_weights": False}),
    ("causal_hint", {}, "self", {"need_weights": False, "is_causal": True,
                                 "attn_mask": lambda t: t.nn.Transformer.generate_square_subsequent_mask(5)}),
    ("bias_kv_zero_attn", {"add_bias_kv": True, "add_zero_attn": True}, "self",
     {"key_padding_mask": lambda t: t.tensor([[False] * 4 + [True], [False] * 5]),
      "attn_mask": lambda t: t.rand(5, 5, generator=_g(t)) > 0.7}),
    ("no_bias", {"bias": False}, ((4, 2, 8), (6, 2, 8), "key"), {}),
    ("unbatched", {}, ((4, 8), (6, 8), (6, 8)), {"key_padding_mask": lambda t: t.tensor([False] * 5 + [True])}),
    ("unbatched_3d_mask", {}, "self_unbatched", {"attn_mask": lambda t: t.rand(2, 5, 5, generator=_g(t)) > 0.7}),
    ("eval_dropout", {"dropout": 0.5, "batch_first": True}, "self", {"_eval": True}),
]


def _g(torch):
    return torch.Generator().manual_seed(7)


def _mha_inputs(torch, shapes, batch_first):
    g = torch.Generator().manual_seed(0)
    if shapes in ("self", "self_unbatched"):
        shape = (5, 8) if shapes == "self_unbatched" else ((2, 5, 8) if batch_first else (5, 2, 8))
        x = torch.randn(*shape, generator=g, requires_grad=True)
        return [x, x, x], [0, 0, 0]
    q = torch.randn(*shapes[0], generator=g, requires_grad=True)
    k = torch.randn(*shapes[1], generator=g, requires_grad=True)
    v = k if shapes[2] == "key" else torch.randn(*shapes[2], generator=g, requires_grad=True)
    return [q, k, v], [0, 1, 1 if shapes[2] == "key" else 2]


@requires_torch
@pytest.mark.parametrize("name,ctor,shapes,fwd", MHA_CASES, ids=[c[0] for c in MHA_CASES])
def test_multihead_attention_matches_torch(oracle, name, ctor, shapes, fwd):
    torch = oracle
    torch.manual_seed(0)
    tm = torch.nn.MultiheadAttention(8, 2, **ctor)
    em = nn.MultiheadAttention(8, 2, **ctor)
    assert repr(em) == repr(tm)
    assert list(em.state_dict()) == list(tm.state_dict())
    _copy_weights(tm, em)
    fwd = dict(fwd)
    if fwd.pop("_eval", False):
        tm.eval()
        em.eval()
    tkw = {k: (v(torch) if callable(v) else v) for k, v in fwd.items()}
    ekw = {k: (_e(v) if hasattr(v, "numpy") else v) for k, v in tkw.items()}
    t_in, which = _mha_inputs(torch, shapes, ctor.get("batch_first", False))
    e_leaves = {}
    e_in = [e_leaves.setdefault(i, _e(t, True)) for t, i in zip(t_in, which)]  # keep q is k is v
    tout, tw = tm(*t_in, **tkw)
    eout, ew = em(*e_in, **ekw)
    _close(eout, tout, f"{name}: output")
    if tw is None:
        assert ew is None
    else:
        _close(ew, tw, f"{name}: weights")
    loss_t = (tout * torch.linspace(-1, 1, tout.numel()).reshape(tout.shape)).sum()
    loss_e = (eout * ember.linspace(-1, 1, eout.numel()).reshape(eout.shape)).sum()
    if tw is not None:
        loss_t = loss_t + (tw * torch.linspace(1, 2, tw.numel()).reshape(tw.shape)).sum()
        loss_e = loss_e + (ew * ember.linspace(1, 2, ew.numel()).reshape(ew.shape)).sum()
    loss_t.backward()
    loss_e.backward()
    _close_grads(tm, em, name)
    for i, t in zip(which, t_in):
        _close(e_leaves[i].grad, t.grad, f"{name}: input grad", atol=5e-5)


@requires_torch
@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
def test_multihead_attention_weights_nan_for_fully_masked_query(oracle):
    """With need_weights=True torch uses a plain softmax: a query with every key masked gets NaN."""
    torch = oracle
    tm = torch.nn.MultiheadAttention(4, 1)
    em = nn.MultiheadAttention(4, 1)
    _copy_weights(tm, em)
    x = torch.randn(3, 1, 4)
    mask = torch.tensor([[False, True, True], [True, True, True], [False, False, True]])
    tout, tw = tm(x, x, x, attn_mask=mask)
    eout, ew = em(_e(x), _e(x), _e(x), attn_mask=_e(mask))
    np.testing.assert_allclose(_np(eout), _np(tout), rtol=RTOL, atol=ATOL)  # NaN where torch has NaN
    np.testing.assert_allclose(_np(ew), _np(tw), rtol=RTOL, atol=ATOL)
    assert np.isnan(_np(ew)[0, 1]).all()
    tout, _ = tm(x, x, x, attn_mask=mask, need_weights=False)  # scaled_dot_product_attention: zeros
    eout, _ = em(_e(x), _e(x), _e(x), attn_mask=_e(mask), need_weights=False)
    _close(eout, tout)


@requires_torch
def test_multihead_attention_init_and_names(oracle):
    torch = oracle
    em = nn.MultiheadAttention(16, 4)
    assert em.in_proj_weight.shape == (48, 16) and em.q_proj_weight is None
    bound = math.sqrt(6.0 / (16 + 48))  # xavier_uniform_ over (3E, E)
    w = em.in_proj_weight.detach().numpy()
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.9 * bound
    assert (em.in_proj_bias.detach().numpy() == 0).all() and (em.out_proj.bias.detach().numpy() == 0).all()
    ob = 1 / math.sqrt(16)  # out_proj keeps Linear's kaiming init
    assert np.abs(em.out_proj.weight.detach().numpy()).max() <= ob
    sep = nn.MultiheadAttention(16, 4, kdim=3, vdim=5, add_bias_kv=True, bias=False)
    tsep = torch.nn.MultiheadAttention(16, 4, kdim=3, vdim=5, add_bias_kv=True, bias=False)
    assert list(sep.state_dict()) == list(tsep.state_dict())
    assert [tuple(v.shape) for v in sep.state_dict().values()] == [tuple(v.shape) for v in tsep.state_dict().values()]
    assert sep.in_proj_weight is None and sep.in_proj_bias is None and sep.out_proj.bias is None
    assert type(sep.out_proj).__name__ == "NonDynamicallyQuantizableLinear" and isinstance(sep.out_proj, nn.Linear)
    for attr in ("embed_dim", "kdim", "vdim", "num_heads", "head_dim", "dropout", "batch_first", "add_zero_attn",
                 "_qkv_same_embed_dim"):
        assert getattr(sep, attr) == getattr(tsep, attr), attr


def test_multihead_attention_dropout_in_training():
    em = nn.MultiheadAttention(4, 2, dropout=1.0)
    x = ember.randn(3, 2, 4)
    out, w = em(x, x, x)
    assert (w == 0).all()  # every weight dropped: the output is out_proj's bias alone
    np.testing.assert_allclose(out.detach().numpy(), np.broadcast_to(em.out_proj.bias.detach().numpy(), (3, 2, 4)))
    em.eval()
    _, w = em(x, x, x)
    np.testing.assert_allclose(w.sum(-1).detach().numpy(), 1, rtol=1e-6)


@requires_torch
def test_multihead_attention_errors_match_torch(oracle):
    torch = oracle
    torch.manual_seed(0)
    tm, em = torch.nn.MultiheadAttention(8, 2), nn.MultiheadAttention(8, 2)
    tsep, esep = torch.nn.MultiheadAttention(8, 2, kdim=6, vdim=5), nn.MultiheadAttention(8, 2, kdim=6, vdim=5)
    x = torch.randn(4, 2, 8)

    def both(module_t, module_e, args, kwargs=None):
        kwargs = kwargs or {}
        _same_error(lambda: module_t(*args, **kwargs),
                    lambda: module_e(*[_e(a) for a in args], **{k: _e(v) for k, v in kwargs.items()}))

    both(tm, em, (torch.randn(4, 2, 6), x, x))  # query's embed dim
    both(tm, em, (x, x, torch.randn(5, 2, 8)))  # key / value shapes
    both(tm, em, (x, x[0], x))
    both(tm, em, (x[0, 0], x[0, 0], x[0, 0]))
    both(tsep, esep, (x, torch.randn(4, 2, 7), torch.randn(4, 2, 5)))  # kdim
    both(tsep, esep, (x, torch.randn(4, 2, 6), torch.randn(3, 2, 5)))
    both(tm, em, (x, x, x), {"attn_mask": torch.ones(3, 4, dtype=torch.bool)})
    both(tm, em, (x, x, x), {"attn_mask": torch.ones(3, 4, 4, dtype=torch.bool)})
    both(tm, em, (x, x, x), {"attn_mask": torch.ones(3, 4, 4, 4, dtype=torch.bool)})
    both(tm, em, (x, x, x), {"attn_mask": torch.ones(4, 4, dtype=torch.int64)})
    both(tm, em, (x, x, x), {"key_padding_mask": torch.ones(2, 4, dtype=torch.int64)})
    both(tm, em, (x, x, x), {"key_padding_mask": torch.zeros(3, 4, dtype=torch.bool)})
    both(tm, em, (x, x, x), {"key_padding_mask": torch.zeros(2, 5, dtype=torch.bool)})
    both(tm, em, (x, x, x), {"key_padding_mask": torch.zeros(2, 4, 1, dtype=torch.bool)})
    both(tm, em, (x[:, 0], x[:, 0], x[:, 0]), {"attn_mask": torch.zeros(3, 4, 4)})
    _same_error(lambda: tm(x, x, x, is_causal=True), lambda: em(_e(x), _e(x), _e(x), is_causal=True))
    _same_error(lambda: torch.nn.MultiheadAttention(8, 3), lambda: nn.MultiheadAttention(8, 3))
    _same_error(lambda: torch.nn.MultiheadAttention(0, 3), lambda: nn.MultiheadAttention(0, 3))


@requires_torch
def test_mismatched_mask_types_warn_like_torch(oracle):
    torch = oracle
    tm, em = torch.nn.MultiheadAttention(8, 2), nn.MultiheadAttention(8, 2)
    x = torch.randn(4, 2, 8)
    kpm, am = torch.zeros(2, 4, dtype=torch.bool), torch.zeros(4, 4)
    with warnings.catch_warnings(record=True) as tw:
        warnings.simplefilter("always")
        tm(x, x, x, key_padding_mask=kpm, attn_mask=am)
    with warnings.catch_warnings(record=True) as ew:
        warnings.simplefilter("always")
        em(_e(x), _e(x), _e(x), key_padding_mask=_e(kpm), attn_mask=_e(am))
    assert [str(w.message) for w in ew] == [str(w.message) for w in tw]


# ---------------------------------------------------------------------------------------------------
# Transformer layers

def _make(ns, kind, **kw):
    """The module of `kind` from namespace ns (torch.nn or ember.nn), warnings silenced."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return kind(ns, **kw)


def _enc_layer(ns, **kw):
    return ns.TransformerEncoderLayer(16, 4, 32, dropout=0.0, **kw)


def _dec_layer(ns, **kw):
    return ns.TransformerDecoderLayer(16, 4, 32, dropout=0.0, **kw)


def _encoder(ns, **kw):
    return ns.TransformerEncoder(ns.TransformerEncoderLayer(16, 4, 32, dropout=0.0, **kw), 2, ns.LayerNorm(16))


def _decoder(ns, **kw):
    return ns.TransformerDecoder(ns.TransformerDecoderLayer(16, 4, 32, dropout=0.0, **kw), 2)


def _transformer(ns, **kw):
    return ns.Transformer(16, 4, 2, 2, 32, dropout=0.0, **kw)


LAYER_CASES = [
    # id, builder, builder kwargs, kind ("enc" takes src, "dec" src+memory, "tr" src+tgt), mask kwargs
    ("enc_layer", _enc_layer, {}, "enc", {}),
    ("enc_layer_bf_gelu_normfirst", _enc_layer, {"batch_first": True, "activation": "gelu", "norm_first": True},
     "enc", {"src_key_padding_mask": "kpm"}),
    ("enc_layer_callable_act", _enc_layer, {"activation": "sigmoid_fn", "layer_norm_eps": 1e-3},
     "enc", {"src_mask": "causal"}),
    ("enc_layer_gelu_module", _enc_layer, {"activation": "GELU", "bias": False}, "enc", {"src_mask": "bool"}),
    ("dec_layer", _dec_layer, {}, "dec", {"tgt_mask": "causal", "memory_key_padding_mask": "mkpm"}),
    ("dec_layer_bf_normfirst_gelu", _dec_layer, {"batch_first": True, "norm_first": True, "activation": "gelu"},
     "dec", {"tgt_mask": "causal", "tgt_is_causal": True, "tgt_key_padding_mask": "kpm"}),
    ("encoder", _encoder, {}, "enc", {"mask": "causal", "src_key_padding_mask": "kpm"}),
    ("encoder_bf", _encoder, {"batch_first": True}, "enc", {"src_key_padding_mask": "kpm"}),
    ("decoder", _decoder, {"norm_first": True}, "dec", {"tgt_mask": "causal", "memory_mask": "mem_bool"}),
    ("transformer", _transformer, {}, "tr", {"tgt_mask": "causal", "src_key_padding_mask": "kpm_src"}),
    ("transformer_bf_normfirst_gelu", _transformer, {"batch_first": True, "norm_first": True, "activation": "gelu"},
     "tr", {"tgt_mask": "causal", "memory_key_padding_mask": "kpm_src", "tgt_key_padding_mask": "kpm"}),
]

N, S_SRC, S_TGT, D = 2, 6, 5, 16


def _layer_mask(torch, what):
    g = torch.Generator().manual_seed(11)
    if what == "causal":
        return torch.nn.Transformer.generate_square_subsequent_mask(S_TGT)
    if what == "bool":
        m = torch.rand(S_TGT, S_TGT, generator=g) > 0.7
        m.fill_diagonal_(False)
        return m
    if what == "mem_bool":
        return torch.rand(S_TGT, S_SRC, generator=g) > 0.7
    if what == "kpm":
        return torch.tensor([[False] * S_TGT, [False] * (S_TGT - 2) + [True] * 2])
    if what in ("mkpm", "kpm_src"):
        return torch.tensor([[False] * (S_SRC - 1) + [True], [False] * S_SRC])
    raise ValueError(what)


def _resolve_kw(ns, kw):
    kw = dict(kw)
    if kw.get("activation") == "GELU":
        kw["activation"] = ns.GELU()
    elif kw.get("activation") == "sigmoid_fn":
        kw["activation"] = ns.functional.sigmoid if hasattr(ns.functional, "sigmoid") else None
    return kw


@requires_torch
@pytest.mark.parametrize("name,build,kw,kind,masks", LAYER_CASES, ids=[c[0] for c in LAYER_CASES])
def test_transformer_modules_match_torch(oracle, name, build, kw, kind, masks):
    torch = oracle
    torch.manual_seed(0)
    tm = _make(torch.nn, build, **_resolve_kw(torch.nn, kw))
    em = _make(nn, build, **_resolve_kw(nn, kw))
    assert repr(em) == repr(tm)
    assert list(em.state_dict()) == list(tm.state_dict())
    _copy_weights(tm, em)
    bf = kw.get("batch_first", False)
    g = torch.Generator().manual_seed(1)

    def seq(length):
        return torch.randn(*((N, length, D) if bf else (length, N, D)), generator=g, requires_grad=True)

    if kind == "enc":
        t_in = [seq(S_TGT)]
    elif kind == "dec":
        t_in = [seq(S_TGT), seq(S_SRC)]
    else:
        t_in = [seq(S_SRC), seq(S_TGT)]
    tkw = {k: (_layer_mask(torch, v) if isinstance(v, str) else v) for k, v in masks.items()}
    ekw = {k: (_e(v) if hasattr(v, "numpy") else v) for k, v in tkw.items()}
    e_in = [_e(t, True) for t in t_in]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch's prototype nested-tensor / mask-type warnings
        tout = tm(*t_in, **tkw)
    eout = em(*e_in, **ekw)
    _close(eout, tout, f"{name}: output", atol=5e-5)
    _backward_both(tout, eout, torch)
    _close_grads(tm, em, name)
    for a, b in zip(e_in, t_in):
        _close(a.grad, b.grad, f"{name}: input grad", atol=5e-5)


@requires_torch
def test_transformer_eval_mode_matches_torch(oracle):
    """In inference torch drops the padding of right-padded batch-first input (its nested-tensor path):
    the encoder's outputs at padded positions are zero before the final norm."""
    torch = oracle
    torch.manual_seed(0)
    tm, em = _make(torch.nn, _encoder, batch_first=True), _make(nn, _encoder, batch_first=True)
    _copy_weights(tm, em)
    tm.eval()
    em.eval()
    x = torch.randn(N, S_TGT, D)
    kpm = _layer_mask(torch, "kpm")
    for grad in (False, True):
        with torch.set_grad_enabled(grad), ember.set_grad_enabled(grad), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            _close(em(_e(x), src_key_padding_mask=_e(kpm)), tm(x, src_key_padding_mask=kpm), f"grad={grad}",
                   atol=5e-5)
    tm, em = _make(torch.nn, _transformer, batch_first=True), _make(nn, _transformer, batch_first=True)
    _copy_weights(tm, em)
    tm.eval()
    em.eval()
    src, tgt = torch.randn(N, S_SRC, D), torch.randn(N, S_TGT, D)
    mask = torch.nn.Transformer.generate_square_subsequent_mask(S_TGT)
    with torch.no_grad(), ember.no_grad():
        _close(em(_e(src), _e(tgt), tgt_mask=_e(mask)), tm(src, tgt, tgt_mask=mask), atol=5e-5)


@requires_torch
def test_transformer_repr_state_dict_and_mask(oracle):
    torch = oracle
    tm, em = _make(torch.nn, _transformer, activation="gelu"), _make(nn, _transformer, activation="gelu")
    assert repr(em) == repr(tm)
    assert list(em.state_dict()) == list(tm.state_dict())
    tm_default = _make(torch.nn, lambda ns: ns.Transformer(d_model=8, nhead=2, num_encoder_layers=1,
                                                            num_decoder_layers=1, dim_feedforward=4))
    em_default = _make(nn, lambda ns: ns.Transformer(d_model=8, nhead=2, num_encoder_layers=1,
                                                      num_decoder_layers=1, dim_feedforward=4))
    assert repr(em_default) == repr(tm_default)
    for attr in ("d_model", "nhead", "batch_first"):
        assert getattr(em, attr) == getattr(tm, attr)
    assert em.encoder.layers[0].activation is F.gelu and em.encoder.layers[0].activation_relu_or_gelu == 2
    assert em.encoder.num_layers == 2 and em.encoder.use_nested_tensor is False
    assert em.encoder.layers[0] is not em.encoder.layers[1]
    assert em.encoder.layers[0].linear1.weight is not em.encoder.layers[1].linear1.weight
    # xavier_uniform_ on every matrix (torch's Transformer._reset_parameters)
    w = em.encoder.layers[0].linear1.weight.detach().numpy()
    assert np.abs(w).max() <= math.sqrt(6 / (16 + 32))
    # state_dicts interchange both ways
    em.load_state_dict({k: _e(v) for k, v in tm.state_dict().items()})
    tm.load_state_dict({k: torch.tensor(v.detach().numpy()) for k, v in em.state_dict().items()})
    for sz in (1, 4):
        _close(nn.Transformer.generate_square_subsequent_mask(sz),
               torch.nn.Transformer.generate_square_subsequent_mask(sz))
    m = nn.Transformer.generate_square_subsequent_mask(3, dtype=ember.float64)
    assert m.dtype == ember.float64
    assert str(nn.Transformer.generate_square_subsequent_mask(3)) == str(
        torch.nn.Transformer.generate_square_subsequent_mask(3))


@requires_torch
def test_encoder_nested_tensor_warning_matches_torch(oracle):
    torch = oracle
    for kw in ({}, {"batch_first": True}, {"batch_first": True, "norm_first": True},
               {"batch_first": True, "activation": torch.sigmoid}):
        with warnings.catch_warnings(record=True) as tw:
            warnings.simplefilter("always")
            torch.nn.TransformerEncoder(torch.nn.TransformerEncoderLayer(8, 2, 16, **kw), 2)
        ekw = dict(kw)
        if "activation" in ekw:
            ekw["activation"] = ember.sigmoid
        with warnings.catch_warnings(record=True) as ew:
            warnings.simplefilter("always")
            nn.TransformerEncoder(nn.TransformerEncoderLayer(8, 2, 16, **ekw), 2)
        assert [str(w.message) for w in ew] == [str(w.message) for w in tw], kw


@requires_torch
def test_transformer_errors_match_torch(oracle):
    torch = oracle
    tm, em = _make(torch.nn, _transformer), _make(nn, _transformer)
    src, tgt = torch.randn(S_SRC, N, D), torch.randn(S_TGT, N, D)
    _same_error(lambda: tm(src, tgt[:, :1]), lambda: em(_e(src), _e(tgt[:, :1])))
    _same_error(lambda: tm(src, tgt[..., :8]), lambda: em(_e(src), _e(tgt[..., :8])))
    _same_error(lambda: torch.nn.TransformerEncoderLayer(8, 2, activation="tanh"),
                lambda: nn.TransformerEncoderLayer(8, 2, activation="tanh"))
    _same_error(lambda: torch.nn.TransformerEncoderLayer(8, 3), lambda: nn.TransformerEncoderLayer(8, 3))
    enc_t, enc_e = _make(torch.nn, _encoder), _make(nn, _encoder)
    _same_error(lambda: enc_t(tgt, mask=torch.ones(S_TGT, S_TGT, dtype=torch.int64)),
                lambda: enc_e(_e(tgt), mask=ember.ones(S_TGT, S_TGT, dtype=ember.int64)))
    _same_error(lambda: enc_t(tgt, mask=torch.zeros(S_TGT + 1, S_TGT + 1)),
                lambda: enc_e(_e(tgt), mask=ember.zeros(S_TGT + 1, S_TGT + 1)))


def test_transformer_trains():
    """A few SGD steps on a copy task lower the loss: the graph reaches every parameter."""
    ember.manual_seed(0)
    model = _make(nn, lambda ns: ns.Transformer(8, 2, 1, 1, 16, dropout=0.1, batch_first=True))
    opt = ember.optim.SGD(model.parameters(), lr=0.05)
    src = ember.randn(4, 5, 8)
    mask = nn.Transformer.generate_square_subsequent_mask(5)
    losses = []
    for _ in range(15):
        opt.zero_grad()
        loss = ((model(src, src, tgt_mask=mask) - src) ** 2).mean()
        loss.backward()
        opt.step()
        losses.append(float(loss))
    assert all(p.grad is not None for p in model.parameters())
    assert losses[-1] < losses[0]


@pytest.mark.parametrize("activation", ["relu", "gelu"])
def test_transformer_layer_saves_whole(tmp_path, activation):
    """ember.save(model) pickles the module, and with it the functional it holds as its activation."""
    layer = nn.TransformerDecoderLayer(8, 2, 16, activation=activation)
    ember.save(layer, tmp_path / "layer.pt")
    loaded = ember.load(tmp_path / "layer.pt", weights_only=False)
    assert loaded.activation is layer.activation
    assert repr(loaded) == repr(layer) and list(loaded.state_dict()) == list(layer.state_dict())
    loaded.eval()
    layer.eval()
    x, mem = ember.randn(3, 2, 8), ember.randn(4, 2, 8)
    np.testing.assert_array_equal(loaded(x, mem).detach().numpy(), layer(x, mem).detach().numpy())
