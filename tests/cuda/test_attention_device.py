"""Attention on a 'cuda' device against the CPU, forward and backward (tests/cuda/ops_battery's runner).

On the fake device (NumPy underneath, always run) this checks that scaled_dot_product_attention,
multi_head_attention_forward and the Transformer layers build every intermediate (masks, zero
key/value rows) on their inputs' device; with @pytest.mark.gpu the same cases run through CuPy.
"""
import numpy as np
import pytest

import ember
import ember.nn as nn
import ember.nn.functional as F
from tests.cuda import ops_battery as ob

Q, K, V = ("f", (2, 3, 4, 8)), ("f", (2, 3, 5, 8)), ("f", (2, 3, 5, 6))
E, NH = 8, 2


def _mha(x, mem, w_in, b_in, w_out, b_out, bias_k, bias_v, mask, kpm, need_weights, zero_attn=False):
    return F.multi_head_attention_forward(
        x, mem, mem, E, NH, w_in, b_in, bias_k, bias_v, zero_attn, 0.0, w_out, b_out, training=False,
        key_padding_mask=kpm, need_weights=need_weights, attn_mask=mask)


def _dead_row(b):
    m = b.clone()
    m[1] = False  # a query that may attend to nothing: zero output, zero gradient
    return m


CASES = [
    ("sdpa_bool_mask", lambda q, k, v, b: F.scaled_dot_product_attention(q, k, v, attn_mask=_dead_row(b)),
     [Q, K, V, ("b", (4, 5))]),
    ("sdpa_float_mask_scale", lambda q, k, v, m: F.scaled_dot_product_attention(q, k, v, attn_mask=m, scale=0.2),
     [Q, K, V, ("f", (3, 1, 5))]),
    ("sdpa_causal_gqa", lambda q, k, v: F.scaled_dot_product_attention(q, k[:, :1], v[:, :1], is_causal=True,
                                                                       enable_gqa=True), [Q, K, V]),
    # 4-D, equal head dims, no dropout: torch's flash kernel node (ScaledDotProductFlashAttentionForCpuBackward0)
    ("sdpa_flash_bool_mask_gqa", lambda q, k, v, b: F.scaled_dot_product_attention(
        q, k[:, :1], v[:, :1], attn_mask=_dead_row(b), enable_gqa=True), [Q, K, ("f", (2, 3, 5, 8)), ("b", (4, 5))]),
    ("sdpa_flash_causal", lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True),
     [Q, K, ("f", (2, 3, 5, 8))]),
    ("mha_weights_masks", lambda x, mem, wi, bi, wo, bo, bk, bv, m: _mha(
        x, mem, wi, bi, wo, bo, bk, bv, m, ember.tensor([[False] * 4 + [True], [False] * 5], device=x.device),
        True, zero_attn=True),
     [("f", (4, 2, E)), ("f", (5, 2, E)), ("f", (3 * E, E)), ("f", (3 * E,)), ("f", (E, E)), ("f", (E,)),
      ("f", (1, 1, E)), ("f", (1, 1, E)), ("b", (4, 5))]),
    ("mha_no_weights_bool_mask", lambda x, wi, bi, wo, bo, b: _mha(x, x, wi, bi, wo, bo, None, None, _dead_row(b), None,
                                                                             False)[0],
     [("f", (4, 2, E)), ("f", (3 * E, E)), ("f", (3 * E,)), ("f", (E, E)), ("f", (E,)), ("b", (4, 4))]),
]


@pytest.fixture(params=["fake", pytest.param("gpu", marks=pytest.mark.gpu)])
def device(request):
    if request.param == "fake":
        request.getfixturevalue("fake_cuda")
    return "cuda"


@pytest.mark.parametrize("name,fn,specs", CASES, ids=[c[0] for c in CASES])
def test_attention_on_device_matches_cpu(device, name, fn, specs):
    ob.run_case(fn, specs, device)


def test_transformer_on_device_matches_cpu(device):
    ember.manual_seed(0)
    model = nn.Transformer(8, 2, 1, 1, 16, dropout=0.0, batch_first=True)
    moved = nn.Transformer(8, 2, 1, 1, 16, dropout=0.0, batch_first=True)
    moved.load_state_dict(model.state_dict())
    moved.to(device)
    src, tgt = ember.randn(2, 6, 8), ember.randn(2, 5, 8)
    mask = nn.Transformer.generate_square_subsequent_mask(5)
    kpm = ember.tensor([[False] * 5 + [True], [False] * 6])
    out = model(src, tgt, tgt_mask=mask, src_key_padding_mask=kpm)
    dev_out = moved(src.to(device), tgt.to(device), tgt_mask=mask.to(device), src_key_padding_mask=kpm.to(device))
    assert dev_out.device.type == "cuda"
    np.testing.assert_allclose(dev_out.detach().cpu().numpy(), out.detach().numpy(), rtol=1e-4, atol=1e-5)
    out.sum().backward()
    dev_out.sum().backward()
    for (name, p), (_, q) in zip(model.named_parameters(), moved.named_parameters()):
        assert q.grad.device.type == "cuda", name
        np.testing.assert_allclose(q.grad.cpu().numpy(), p.grad.numpy(), rtol=1e-4, atol=1e-5, err_msg=name)
