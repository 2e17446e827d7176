"""torch.nn.attention (SDPBackend, sdpa_kernel, the flash-attention registry) and torch.nn.attention.bias
(CausalBias) against torch, and on their own: hand-computed masks, float64 central differences.

torch's CPU dispatcher is the model for sdpa_kernel's effect: with MATH disabled a call runs only where
torch's CPU flash kernel accepts it; otherwise torch warns why and raises, and ember must do the same.
"""
import logging
import warnings

import numpy as np
import pytest

import ember
import ember.nn.functional as F
from ember.nn import attention as A
from ember.nn.attention import SDPBackend, sdpa_kernel
from ember.nn.attention.bias import CausalBias, CausalVariant, causal_lower_right, causal_upper_left
from tests.conftest import numeric_grad, requires_torch, torch

NO_VIABLE = ("No viable backend for scaled_dot_product_attention was found. This is likely due to turning off "
             "both the math kernel and the fused kernels.")
NO_KERNEL = "No available kernel.  Aborting execution."


def _e(t, requires_grad=False):
    return ember.tensor(t.detach().numpy().copy(), requires_grad=requires_grad)


def _msg(text):
    # torch's C++ warnings end with where they were raised; its dtypes and sizes print as torch.*
    return str(text).split(" (Triggered internally")[0].replace("torch.", "ember.")


def _outcome(fn):
    """(exception type name or 'ok', message, warning messages) of fn()."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            fn()
            result = ("ok", "")
        except Exception as e:  # noqa: BLE001 - the type is what is compared
            result = (type(e).__name__, _msg(e))
    return result + ([_msg(w.message) for w in caught],)


def _rand(shape, seed=0, dtype=np.float32):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


@pytest.fixture(autouse=True)
def _fresh_selection():
    """Every test starts from torch's default selection, and a failing one cannot leak its own."""
    yield
    A._sdpa_kernel([SDPBackend[n] for n in A._backend_names.values()], set_priority=True)
    A._sdp._SDP_PRIORITY[:] = [1, 2, 0, 3, 4]


# ---------------------------------------------------------------------------------------------------
# SDPBackend


def test_sdpbackend_members_values_and_printing():
    assert [(n, m.value) for n, m in SDPBackend.__members__.items()] == [
        ("ERROR", -1), ("MATH", 0), ("FLASH_ATTENTION", 1), ("EFFICIENT_ATTENTION", 2), ("CUDNN_ATTENTION", 3),
        ("OVERRIDEABLE", 4)]
    m = SDPBackend.FLASH_ATTENTION
    assert (repr(m), str(m), f"{m}", int(m), m.name, hash(m)) == (
        "<SDPBackend.FLASH_ATTENTION: 1>", "SDPBackend.FLASH_ATTENTION", "SDPBackend.FLASH_ATTENTION", 1,
        "FLASH_ATTENTION", hash(1))
    assert SDPBackend(3) is SDPBackend.CUDNN_ATTENTION
    # a pybind11 enum in torch: equal only to itself, not to its value, and unordered
    assert SDPBackend.MATH != 0 and SDPBackend.MATH == SDPBackend.MATH and not isinstance(SDPBackend.MATH, int)
    with pytest.raises(TypeError):
        SDPBackend.MATH < SDPBackend.FLASH_ATTENTION  # noqa: B015
    assert (SDPBackend.__name__, SDPBackend.__module__) == ("SDPBackend", "ember.nn.attention")


@requires_torch
def test_sdpbackend_as_torch():
    from torch.nn.attention import SDPBackend as TB
    assert list(SDPBackend.__members__) == list(TB.__members__)
    for name, tm in TB.__members__.items():
        em = SDPBackend[name]
        assert (repr(em), str(em), int(em), em.name, em.value, hash(em)) == (
            repr(tm), str(tm), int(tm), tm.name, tm.value, hash(tm))
        assert (em == int(em)) == (tm == int(tm))
    assert sorted(A.__all__) == sorted(torch.nn.attention.__all__)
    assert A.WARN_FOR_UNFUSED_KERNELS is torch.nn.attention.WARN_FOR_UNFUSED_KERNELS is False
    assert A._get_flash_version() == torch.nn.attention._get_flash_version()


def test_ember_nn_attention_is_reachable_as_torch_nn_attention():
    import subprocess
    import sys
    # a fresh interpreter: `import ember` alone must give ember.nn.attention, as `import torch` does
    code = "import ember; a = ember.nn.attention; print(a.__name__, a.sdpa_kernel.__module__, hasattr(a, 'bias'))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["ember.nn.attention", "ember.nn.attention", "False"]  # bias loads on import, as in torch
    assert A.bias.CausalBias is CausalBias
    assert ember.nn.MultiheadAttention.__module__ == "ember.nn.modules.attention"  # the layer module is separate


# ---------------------------------------------------------------------------------------------------
# sdpa_kernel: the selection it records and restores

ALL = [SDPBackend.CUDNN_ATTENTION, SDPBackend.FLASH_ATTENTION, SDPBackend.EFFICIENT_ATTENTION, SDPBackend.MATH,
       SDPBackend.OVERRIDEABLE]


def test_sdpa_kernel_sets_and_restores_the_selection():
    assert A._cur_sdpa_kernel_backends() == ALL
    assert A._cur_sdpa_kernel_backends(with_priority=True) == [ALL[1], ALL[2], ALL[3], ALL[0], ALL[4]]
    with sdpa_kernel(SDPBackend.MATH) as ctx:
        assert ctx == {} and A._cur_sdpa_kernel_backends() == [SDPBackend.MATH]
        with sdpa_kernel([SDPBackend.FLASH_ATTENTION, SDPBackend.FLASH_ATTENTION, SDPBackend.MATH]):
            assert A._cur_sdpa_kernel_backends() == [SDPBackend.FLASH_ATTENTION, SDPBackend.MATH]
        assert A._cur_sdpa_kernel_backends() == [SDPBackend.MATH]
    assert A._cur_sdpa_kernel_backends() == ALL
    with pytest.raises(KeyError):
        with sdpa_kernel([]):
            assert A._cur_sdpa_kernel_backends() == []
            raise KeyError("inside")
    assert A._cur_sdpa_kernel_backends() == ALL


def test_sdpa_kernel_priority_and_decorator():
    with sdpa_kernel([SDPBackend.CUDNN_ATTENTION, SDPBackend.MATH], set_priority=True):
        assert A._sdp._SDP_PRIORITY == [3, 0, 1, 2, 4]
        assert A._cur_sdpa_kernel_backends(True) == [SDPBackend.CUDNN_ATTENTION, SDPBackend.MATH]
        with sdpa_kernel(SDPBackend.MATH):  # without set_priority the order stays
            assert A._sdp._SDP_PRIORITY == [3, 0, 1, 2, 4]
    assert A._sdp._SDP_PRIORITY == [1, 2, 0, 3, 4] and A._cur_sdpa_kernel_backends() == ALL
    with pytest.raises(ValueError):  # int() of a non-backend, after the flags were set: still restored
        with sdpa_kernel([SDPBackend.MATH, "x"], set_priority=True):
            pass
    assert A._sdp._SDP_PRIORITY == [1, 2, 0, 3, 4] and A._cur_sdpa_kernel_backends() == ALL

    @sdpa_kernel(SDPBackend.MATH)
    def selected():
        return A._cur_sdpa_kernel_backends()
    assert selected() == selected() == [SDPBackend.MATH] and A._cur_sdpa_kernel_backends() == ALL


@pytest.mark.parametrize("bad, name", [((SDPBackend.MATH,), "tuple"), (1, "int"), (None, "NoneType"),
                                       ({SDPBackend.MATH}, "set")])
def test_sdpa_kernel_rejects_non_backends(bad, name):
    with pytest.raises(AssertionError, match=f"^Backend must be an instance of SDPBackend or a list of SDPBackend "
                                             f"instances, got {name}$"):
        with sdpa_kernel(bad):
            pass
    assert A._cur_sdpa_kernel_backends() == ALL


@requires_torch
def test_sdpa_kernel_state_as_torch():
    from torch.nn.attention import SDPBackend as TB
    import torch.nn.attention as TA

    def names(bs):
        return [b.name for b in bs]
    cases = [([TB.MATH], False), ([TB.FLASH_ATTENTION, TB.MATH], True), ([TB.CUDNN_ATTENTION], True), ([], False),
             ([TB.OVERRIDEABLE, TB.EFFICIENT_ATTENTION, TB.MATH], True)]
    for tbs, prio in cases:
        ebs = [SDPBackend[b.name] for b in tbs]
        with TA.sdpa_kernel(tbs, set_priority=prio), sdpa_kernel(ebs, set_priority=prio):
            assert names(A._cur_sdpa_kernel_backends()) == names(TA._cur_sdpa_kernel_backends())
            assert names(A._cur_sdpa_kernel_backends(True)) == names(TA._cur_sdpa_kernel_backends(True))
            assert A._sdp._SDP_PRIORITY == torch._C._get_sdp_priority_order()
            assert A._sdp._SDP_ENABLED["math"] == torch.backends.cuda.math_sdp_enabled()
            assert A._sdp._SDP_ENABLED["flash"] == torch.backends.cuda.flash_sdp_enabled()
    assert A._sdp._SDP_PRIORITY == torch._C._get_sdp_priority_order()
    te, ee = _outcome(lambda: TA.sdpa_kernel((TB.MATH,)).__enter__()), _outcome(lambda: sdpa_kernel((1,)).__enter__())
    assert te[:1] == ee[:1] == ("AssertionError",)


# ---------------------------------------------------------------------------------------------------
# scaled_dot_product_attention under a selection

def _qkv(qs, ks=None, vs=None, dtype=np.float32):
    ks = ks or qs
    vs = vs or ks
    return [_rand(s, seed=i, dtype=dtype) for i, s in enumerate((qs, ks, vs))]


# (name, backends, query, key, value shapes, keyword arguments, what torch does on the CPU)
SELECTION_CASES = [
    ("flash 4-D", ["FLASH_ATTENTION"], (2, 3, 4, 8), None, None, {}, "ok"),
    ("cudnn only", ["CUDNN_ATTENTION"], (2, 3, 4, 8), None, None, {}, "no viable"),
    ("efficient only", ["EFFICIENT_ATTENTION"], (2, 3, 4, 8), None, None, {}, "no viable"),
    ("overrideable only", ["OVERRIDEABLE"], (2, 3, 4, 8), None, None, {}, "no viable"),
    ("nothing", [], (2, 3, 4, 8), None, None, {}, "no viable"),
    ("error member", ["ERROR"], (2, 3, 4, 8), None, None, {}, "no viable"),
    ("flash 3-D", ["FLASH_ATTENTION"], (3, 4, 8), None, None, {}, "no kernel"),
    ("flash 2-D", ["FLASH_ATTENTION"], (4, 8), None, None, {}, "no kernel"),
    ("flash dropout", ["FLASH_ATTENTION"], (2, 3, 4, 8), None, None, {"dropout_p": 0.5}, "no kernel"),
    ("flash batch", ["FLASH_ATTENTION"], (2, 3, 4, 8), (1, 3, 4, 8), None, {}, "no kernel"),
    ("flash heads", ["FLASH_ATTENTION"], (2, 3, 4, 8), (2, 1, 4, 8), None, {}, "no kernel"),
    ("flash gqa", ["FLASH_ATTENTION"], (2, 4, 4, 8), (2, 2, 4, 8), None, {"enable_gqa": True}, "ok"),
    ("flash gqa indivisible", ["FLASH_ATTENTION"], (2, 4, 4, 8), (2, 3, 4, 8), None, {"enable_gqa": True}, "no kernel"),
    ("flash gqa k != v", ["FLASH_ATTENTION"], (2, 4, 4, 8), (2, 2, 4, 8), (2, 1, 4, 8), {"enable_gqa": True},
     "no kernel"),
    ("flash head dim", ["FLASH_ATTENTION"], (2, 3, 4, 8), (2, 3, 4, 8), (2, 3, 4, 6), {}, "no kernel"),
    ("flash zero kv", ["FLASH_ATTENTION"], (2, 3, 4, 8), (2, 3, 0, 8), (2, 3, 4, 8), {}, "no kernel"),
    ("flash causal L != S", ["FLASH_ATTENTION"], (2, 3, 4, 8), (2, 3, 6, 8), None, {"is_causal": True}, "ok"),
    ("flash half", ["FLASH_ATTENTION"], (2, 3, 4, 8), None, None, {"dtype": np.float16}, "ok"),
    ("flash double", ["FLASH_ATTENTION"], (2, 3, 4, 8), None, None, {"dtype": np.float64}, "ok"),
    ("math 3-D", ["MATH"], (3, 4, 8), None, None, {}, "ok"),
    ("math dropout", ["MATH"], (2, 3, 4, 8), None, None, {"dropout_p": 0.5}, "ok"),
    ("empty query rows", [], (2, 3, 0, 8), (2, 3, 4, 8), None, {}, "ok"),
    ("empty value", [], (2, 3, 4, 8), (2, 3, 0, 8), (2, 3, 0, 5), {}, "ok"),
    ("empty value dim", ["CUDNN_ATTENTION"], (2, 3, 4, 8), None, (2, 3, 4, 0), {}, "ok"),
    ("empty head dim", [], (2, 3, 4, 0), (2, 3, 4, 0), (2, 3, 4, 5), {}, "no viable"),
]

MASK_CASES = [
    ("mask 2-D", (4, 4), False, "ok"),
    ("mask 2-D broadcast", (1, 4), False, "ok"),
    ("mask 4-D", (2, 1, 1, 4), False, "ok"),
    ("mask 3-D", (3, 4, 4), False, "no kernel"),
    ("mask 4-D bad batch", (3, 1, 4, 4), False, "no kernel"),
    ("mask rows", (2, 4), False, "no kernel"),
    ("mask requires grad", (4, 4), True, "no kernel"),
    ("mask 1-D", (4,), False, "IndexError"),
]


def _ember_call(qkv, kwargs, mask=None):
    dtype = kwargs.pop("dtype", None)
    q, k, v = (ember.tensor(a if dtype is None else a.astype(dtype)) for a in qkv)
    return lambda: F.scaled_dot_product_attention(q, k, v, attn_mask=mask, **kwargs)


@pytest.mark.parametrize("case", SELECTION_CASES, ids=[c[0] for c in SELECTION_CASES])
def test_selection_refuses_where_torch_cpu_does(case):
    name, backs, qs, ks, vs, kwargs, expected = case
    fn = _ember_call(_qkv(qs, ks, vs), dict(kwargs))
    with sdpa_kernel([SDPBackend[b] for b in backs]):
        kind, message, warned = _outcome(fn)
    if expected == "ok":
        assert (kind, warned) == ("ok", []), message
    elif expected == "no viable":
        assert (kind, message, warned) == ("RuntimeError", NO_VIABLE, [])
    else:
        assert (kind, message) == ("RuntimeError", NO_KERNEL)
        assert warned[0] == "Flash attention kernel not used because:" and len(warned) == 2


@requires_torch
@pytest.mark.parametrize("case", SELECTION_CASES, ids=[c[0] for c in SELECTION_CASES])
def test_selection_as_torch(case):
    name, backs, qs, ks, vs, kwargs, _ = case
    from torch.nn.attention import SDPBackend as TB, sdpa_kernel as tsdpa_kernel
    qkv = _qkv(qs, ks, vs)
    tk = dict(kwargs)
    dtype = tk.pop("dtype", None)
    tq, tkk, tv = (torch.tensor(a if dtype is None else a.astype(dtype)) for a in qkv)
    with tsdpa_kernel([getattr(TB, b) for b in backs]):
        expected = _outcome(lambda: torch.nn.functional.scaled_dot_product_attention(tq, tkk, tv, **tk))
    with sdpa_kernel([SDPBackend[b] for b in backs]):
        got = _outcome(_ember_call(qkv, dict(kwargs)))
    if expected[0] == "ok" and kwargs.get("dropout_p"):
        assert got[0] == "ok"  # random dropout: only that it runs
    else:
        assert got == expected


@pytest.mark.parametrize("case", MASK_CASES, ids=[c[0] for c in MASK_CASES])
def test_flash_only_mask_shapes(case):
    name, shape, requires_grad, expected = case
    mask = ember.zeros(*shape, requires_grad=requires_grad)
    with sdpa_kernel(SDPBackend.FLASH_ATTENTION):
        kind, message, warned = _outcome(_ember_call(_qkv((2, 3, 4, 8)), {}, mask))
    if expected == "ok":
        assert kind == "ok"
    elif expected == "IndexError":
        assert (kind, message) == ("IndexError",
                                   "Dimension out of range (expected to be in range of [-1, 0], but got -2)")
    else:
        assert kind == "RuntimeError" and message == NO_KERNEL
        assert warned[0] == "Flash attention kernel not used because:"


@requires_torch
@pytest.mark.parametrize("case", MASK_CASES, ids=[c[0] for c in MASK_CASES])
def test_flash_only_mask_shapes_as_torch(case):
    name, shape, requires_grad, _ = case
    from torch.nn.attention import SDPBackend as TB, sdpa_kernel as tsdpa_kernel
    qkv = _qkv((2, 3, 4, 8))
    tq, tk, tv = (torch.tensor(a) for a in qkv)
    tmask = torch.zeros(*shape, requires_grad=requires_grad)
    with tsdpa_kernel(TB.FLASH_ATTENTION):
        expected = _outcome(lambda: torch.nn.functional.scaled_dot_product_attention(tq, tk, tv, attn_mask=tmask))
    with sdpa_kernel(SDPBackend.FLASH_ATTENTION):
        got = _outcome(_ember_call(qkv, {}, ember.zeros(*shape, requires_grad=requires_grad)))
    assert got == expected


def test_selection_picks_the_node_and_keeps_the_values():
    qkv = _qkv((2, 3, 5, 4))
    outs, nodes = {}, {}
    for backs in ([SDPBackend.MATH], [SDPBackend.FLASH_ATTENTION], ALL):
        q, k, v = (ember.tensor(a, requires_grad=True) for a in qkv)
        with sdpa_kernel(backs):
            out = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        out.sum().backward()
        key = tuple(b.name for b in backs)
        outs[key] = [out.detach().numpy()] + [t.grad.numpy() for t in (q, k, v)]
        nodes[key] = out.grad_fn.name()
    flash = "ScaledDotProductFlashAttentionForCpuBackward0"
    assert nodes == {("MATH",): "UnsafeViewBackward0", ("FLASH_ATTENTION",): flash, tuple(b.name for b in ALL): flash}
    first = outs[("MATH",)]
    for got in outs.values():
        for a, b in zip(got, first):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


@requires_torch
def test_selection_picks_torch_node():
    from torch.nn.attention import SDPBackend as TB, sdpa_kernel as tsdpa_kernel
    qkv = _qkv((2, 3, 5, 4))
    for tbs in ([TB.MATH], [TB.FLASH_ATTENTION], [TB.MATH, TB.FLASH_ATTENTION]):
        for prio in (False, True):
            tq, tk, tv = (torch.tensor(a, requires_grad=True) for a in qkv)
            eq, ek, ev = (ember.tensor(a, requires_grad=True) for a in qkv)
            ebs = [SDPBackend[b.name] for b in tbs]
            with tsdpa_kernel(tbs, set_priority=prio), sdpa_kernel(ebs, set_priority=prio):
                t_out = torch.nn.functional.scaled_dot_product_attention(tq, tk, tv)
                e_out = F.scaled_dot_product_attention(eq, ek, ev)
            assert e_out.grad_fn.name() == t_out.grad_fn.name()
            np.testing.assert_allclose(e_out.detach().numpy(), t_out.detach().numpy(), rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------------------------------------------
# torch.nn.attention.bias


def test_causal_bias_masks_by_hand():
    ul, lr = causal_upper_left(3, 4), causal_lower_right(3, 4)
    np.testing.assert_array_equal(ul._materialize().numpy(), [[1, 0, 0, 0], [1, 1, 0, 0], [1, 1, 1, 0]])
    np.testing.assert_array_equal(lr._materialize(ember.device("cpu")).numpy(),
                                  [[1, 1, 0, 0], [1, 1, 1, 0], [1, 1, 1, 1]])
    assert ul._materialize().dtype is ember.bool
    assert repr(lr) == str(lr) == repr(lr._materialize())
    assert isinstance(ul, ember.Tensor) and isinstance(ul, CausalBias)
    # torch.Tensor.__new__ takes (variant, seq_len_q, seq_len_kv) as sizes: the bias object is that shape
    assert tuple(ul.shape) == (1, 3, 4) and tuple(lr.shape) == (2, 3, 4) and ul.dtype is ember.float32
    assert (ul.variant, ul.seq_len_q, ul.seq_len_kv) == (CausalVariant.UPPER_LEFT, 3, 4)
    assert [int(v) for v in CausalVariant] == [1, 2] and str(CausalVariant.LOWER_RIGHT) == "2"


def test_causal_bias_bad_construction_and_warning():
    with pytest.raises(AssertionError, match="^causal_upper_left only supports 2D tensors$"):
        causal_upper_left(3)
    with pytest.raises(AssertionError, match="^causal_lower_right only supports 2D tensors$"):
        causal_lower_right(1, 2, 3)
    with pytest.raises(AssertionError, match="^variant must be a CausalVariant, got int$"):
        CausalBias(1, 2, 3)
    with pytest.warns(UserWarning, match="^Lower right causal bias will produce NaNs in the output when "
                                         r"seq_len_q > seq_len_kv!$"):
        causal_lower_right(5, 3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        causal_upper_left(5, 3)
        causal_lower_right(3, 5)


def _explicit(q, k, v, keep):
    """softmax(q k^T / sqrt(E) masked by keep) v in float64 NumPy; rows with no key give zeros."""
    s = q @ np.swapaxes(k, -1, -2) / np.sqrt(q.shape[-1])
    s = np.where(keep, s, -np.inf)
    top = s.max(-1, keepdims=True)
    top = np.where(np.isfinite(top), top, 0)
    e = np.exp(s - top)
    total = e.sum(-1, keepdims=True)
    return (e / np.where(total == 0, 1, total)) @ v


@pytest.mark.parametrize("L, S", [(4, 6), (6, 4), (5, 5)])
@pytest.mark.parametrize("factory", [causal_upper_left, causal_lower_right])
def test_causal_bias_attention_by_hand(factory, L, S):
    q, k, v = _rand((2, 3, L, 8), 1, np.float64), _rand((2, 3, S, 8), 2, np.float64), _rand((2, 3, S, 5), 3, np.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # lower right with L > S warns of its empty rows
        bias = factory(L, S)
    out = F.scaled_dot_product_attention(ember.tensor(q), ember.tensor(k), ember.tensor(v), attn_mask=bias)
    offset = 0 if factory is causal_upper_left or L == S else S - L
    keep = np.tril(np.ones((L, S), bool), offset)
    np.testing.assert_allclose(out.numpy(), _explicit(q, k, v, keep), rtol=1e-10, atol=1e-12)


def test_causal_bias_gradients_against_central_differences():
    q0, k0 = _rand((1, 2, 3, 4), 4, np.float64), _rand((1, 2, 5, 4), 5, np.float64)
    v0 = _rand((1, 2, 5, 3), 6, np.float64)
    w = _rand((1, 2, 3, 3), 7, np.float64)
    bias = causal_lower_right(3, 5)
    ins = [ember.tensor(a, requires_grad=True) for a in (q0, k0, v0)]
    out = F.scaled_dot_product_attention(*ins, attn_mask=bias)
    (out * ember.tensor(w)).sum().backward()
    for i, base in enumerate((q0, k0, v0)):
        def f(a, i=i):
            args = [ember.tensor(x) for x in (q0, k0, v0)]
            args[i] = ember.tensor(a)
            return float((F.scaled_dot_product_attention(*args, attn_mask=bias).numpy() * w).sum())
        np.testing.assert_allclose(ins[i].grad.numpy(), numeric_grad(f, base), rtol=1e-6, atol=1e-8)


def test_causal_bias_dispatch_errors_and_warnings():
    q, k = ember.tensor(_rand((3, 4, 8))), ember.tensor(_rand((3, 6, 8)))
    with pytest.raises(ValueError, match="^CausalBias should not be used with causal=True$"):
        F.scaled_dot_product_attention(q, k, k, attn_mask=causal_upper_left(4, 6), is_causal=True)
    with pytest.raises(ValueError, match="^Expected query, key, and value to have the same dtype, but got "
                                         "query.dtype: ember.float32, key.dtype: ember.float64, and value.dtype: "
                                         "ember.float32 instead.$"):
        F.scaled_dot_product_attention(q, k.double(), k, attn_mask=causal_lower_right(4, 6))
    with pytest.raises(RuntimeError):  # the square / upper-left variant is plain is_causal: its RuntimeError
        F.scaled_dot_product_attention(q, k.double(), k, attn_mask=causal_upper_left(4, 6))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        F.scaled_dot_product_attention(q, k, k, attn_mask=causal_lower_right(4, 6))
    A.WARN_FOR_UNFUSED_KERNELS = True
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            F.scaled_dot_product_attention(q, k, k, attn_mask=causal_lower_right(4, 6))
            F.scaled_dot_product_attention(q, k, k, attn_mask=causal_upper_left(4, 6))
    finally:
        A.WARN_FOR_UNFUSED_KERNELS = False
    assert [str(w.message) for w in caught] == ["Efficient attention can't be used because:",
                                                "Flash attention can't be used because:"]


@requires_torch
@pytest.mark.parametrize("shapes", [((2, 3, 4, 8), (2, 3, 6, 8)), ((3, 6, 8), (3, 4, 8)), ((2, 3, 5, 8), (2, 3, 5, 8)),
                                    ((4, 8), (7, 8))])
@pytest.mark.parametrize("variant", ["causal_upper_left", "causal_lower_right"])
def test_causal_bias_as_torch(variant, shapes):
    import torch.nn.attention.bias as TBias
    qs, ks = shapes
    L, S = qs[-2], ks[-2]
    tfac, efac = getattr(TBias, variant), globals()[variant]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tb, eb = tfac(L, S), efac(L, S)
    assert repr(eb) == repr(tb) and tuple(eb.shape) == tuple(tb.shape)
    np.testing.assert_array_equal(eb._materialize().numpy(), tb._materialize().numpy())
    arrays = [_rand(qs, 1), _rand(ks, 2), _rand(ks, 3)]
    t_in = [torch.tensor(a, requires_grad=True) for a in arrays]
    e_in = [ember.tensor(a, requires_grad=True) for a in arrays]
    t_out = torch.nn.functional.scaled_dot_product_attention(*t_in, attn_mask=tb)
    e_out = F.scaled_dot_product_attention(*e_in, attn_mask=eb)
    np.testing.assert_allclose(e_out.detach().numpy(), t_out.detach().numpy(), rtol=1e-5, atol=1e-6)
    assert e_out.grad_fn.name() == t_out.grad_fn.name()
    g = _rand(tuple(t_out.shape), 9)
    t_out.backward(torch.tensor(g))
    e_out.backward(ember.tensor(g))
    for e, t in zip(e_in, t_in):
        np.testing.assert_allclose(e.grad.numpy(), t.grad.numpy(), rtol=1e-4, atol=1e-5)


@requires_torch
def test_causal_bias_errors_and_warnings_as_torch():
    import torch.nn.attention as TA
    import torch.nn.attention.bias as TBias
    q, k = _rand((3, 4, 8)), _rand((3, 6, 8))
    tq, tk, eq, ek = torch.tensor(q), torch.tensor(k), ember.tensor(q), ember.tensor(k)
    tF = torch.nn.functional
    pairs = [
        (lambda: tF.scaled_dot_product_attention(tq, tk, tk, attn_mask=TBias.causal_lower_right(4, 6), is_causal=True),
         lambda: F.scaled_dot_product_attention(eq, ek, ek, attn_mask=causal_lower_right(4, 6), is_causal=True)),
        (lambda: tF.scaled_dot_product_attention(tq, tk.double(), tk, attn_mask=TBias.causal_lower_right(4, 6)),
         lambda: F.scaled_dot_product_attention(eq, ek.double(), ek, attn_mask=causal_lower_right(4, 6))),
        (lambda: TBias.causal_lower_right(6, 4), lambda: causal_lower_right(6, 4)),
        (lambda: TBias.causal_upper_left(6), lambda: causal_upper_left(6)),
        (lambda: TBias.CausalBias(2, 3, 4), lambda: CausalBias(2, 3, 4)),
    ]
    for tcall, ecall in pairs:
        assert _outcome(ecall) == _outcome(tcall)
    TA.WARN_FOR_UNFUSED_KERNELS = A.WARN_FOR_UNFUSED_KERNELS = True
    try:
        expected = _outcome(
            lambda: tF.scaled_dot_product_attention(tq, tk, tk, attn_mask=TBias.causal_lower_right(4, 6)))
        got = _outcome(lambda: F.scaled_dot_product_attention(eq, ek, ek, attn_mask=causal_lower_right(4, 6)))
    finally:
        TA.WARN_FOR_UNFUSED_KERNELS = A.WARN_FOR_UNFUSED_KERNELS = False
    assert got == expected


# ---------------------------------------------------------------------------------------------------
# the flash-attention implementation registry


def test_flash_attention_registry(caplog):
    assert A.list_flash_attention_impls() == ["FA3", "FA4"] and A.current_flash_attention_impl() is None
    with pytest.raises(ValueError, match=r"^Unknown flash attention impl 'FA5'\. Available implementations: "
                                         r"\['FA3', 'FA4'\]$"):
        A.activate_flash_attention_impl("FA5")
    with pytest.raises(ModuleNotFoundError, match="flash_attn"):
        A.activate_flash_attention_impl("FA4")
    with pytest.raises(TypeError):
        A.register_flash_attention_impl("X", lambda: None)  # register_fn is keyword-only
    removed = []

    class Handle:
        def remove(self):
            removed.append(True)
    try:
        A.register_flash_attention_impl("Mine", register_fn=lambda: None)
        A.register_flash_attention_impl("Kept", register_fn=Handle)
        assert A.list_flash_attention_impls() == ["FA3", "FA4", "Kept", "Mine"]
        A.activate_flash_attention_impl("Mine")
        assert A.current_flash_attention_impl() is None  # no handle: nothing to keep
        A.activate_flash_attention_impl("Kept")
        assert A.current_flash_attention_impl() == "Kept" and removed == []
        A.activate_flash_attention_impl("Mine")  # restores (removes) the previous one first
        assert removed == [True] and A.current_flash_attention_impl() is None
        with caplog.at_level(logging.WARNING, logger="ember.nn.attention"):
            A.restore_flash_attention_impl()
        assert "Trying to restore default FA2 impl when no custom impl was activated" in caplog.text
    finally:
        A._FLASH_ATTENTION_IMPLS.pop("Mine", None)
        A._FLASH_ATTENTION_IMPLS.pop("Kept", None)
        A._FLASH_ATTENTION_ACTIVE = None


@requires_torch
def test_flash_attention_registry_as_torch():
    import torch.nn.attention as TA
    assert A.list_flash_attention_impls() == TA.list_flash_attention_impls()
    assert A.current_flash_attention_impl() == TA.current_flash_attention_impl()
    for name in ("FA5", "FA4", "FA3"):
        assert _outcome(lambda: A.activate_flash_attention_impl(name)) == \
            _outcome(lambda: TA.activate_flash_attention_impl(name))


def test_backends_cuda_sdp_switches_share_sdpa_kernels_table():
    import ember.backends.cuda as switches
    from ember.nn.attention import SDPBackend, sdpa_kernel
    names = ("flash", "mem_efficient", "math", "cudnn")
    assert all(getattr(switches, f"{n}_sdp_enabled")() for n in names)
    with pytest.raises(RuntimeError, match="^set_sdp_use_math expects a bool, but got int"):
        switches.enable_flash_sdp(1)    # (torch names the math setter here too)
    with pytest.raises(RuntimeError, match="^set_sdp_use_cudnn expects a bool, but got str"):
        switches.enable_cudnn_sdp("yes")
    try:
        switches.enable_flash_sdp(False)
        with sdpa_kernel(SDPBackend.MATH):
            assert not switches.flash_sdp_enabled() and switches.math_sdp_enabled()
        assert not switches.flash_sdp_enabled()          # the block restores the global switch
        with pytest.warns(FutureWarning, match="sdp_kernel\\(\\)` is deprecated"):
            with switches.sdp_kernel(enable_flash=True, enable_math=False):
                assert switches.flash_sdp_enabled() and not switches.math_sdp_enabled()
        assert switches.math_sdp_enabled() and not switches.flash_sdp_enabled()
    finally:
        for n in names:
            getattr(switches, f"enable_{n}_sdp")(True)
    assert switches.SDPBackend is SDPBackend and switches.is_ck_sdpa_available() is False
