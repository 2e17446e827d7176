"""repr/str of tensors: character-identical to torch's, checked against real torch and fixed strings."""
import numpy as np
import pytest

import ember
from ember import _backend as B
from ember._tensor_str import get_printoptions, printoptions, set_printoptions


def rep(t):
    # the dtype prefix follows the namespace (ember.* here, torch.* under the torch alias)
    return repr(t).replace("ember.", "torch.")


@pytest.fixture(autouse=True)
def _default_printoptions():
    set_printoptions(profile="default")
    yield
    set_printoptions(profile="default")


# ---- fixed expectations: meaningful without torch --------------------------------------------
FIXED = [
    (np.array([1.0, 2.0, 3.0], np.float32), "tensor([1., 2., 3.])"),
    (np.array(27.0, np.float32), "tensor(27.)"),
    (np.array(True), "tensor(True)"),
    (np.array(5, np.int64), "tensor(5)"),
    (np.array([2.4835e27, 1.0], np.float32), "tensor([2.4835e+27, 1.0000e+00])"),
    (np.array([0.5, -1.25], np.float32), "tensor([ 0.5000, -1.2500])"),
    (np.array([np.nan, np.inf, -np.inf, 1.5], np.float32), "tensor([   nan,    inf,   -inf, 1.5000])"),
    (np.array([np.nan, 2.0], np.float32), "tensor([nan, 2.])"),
    (np.array([0.0, 0.0], np.float32), "tensor([0., 0.])"),
    (np.array([True, False]), "tensor([ True, False])"),
    (np.array([[1, -20], [300, 4]], np.int64), "tensor([[  1, -20],\n        [300,   4]])"),
    (np.array([1.0, 2.0], np.float64), "tensor([1., 2.], dtype=torch.float64)"),
    (np.array([1, 2], np.int32), "tensor([1, 2], dtype=torch.int32)"),
    (np.array([1.5, 2.5], np.float16), "tensor([1.5000, 2.5000], dtype=torch.float16)"),
    (np.zeros((0, 3), np.float32), "tensor([], size=(0, 3))"),
    (np.zeros((0,), np.float32), "tensor([])"),
    (np.zeros((0,), np.int64), "tensor([], dtype=torch.int64)"),
    (np.array([1e-5, 1.0], np.float32), "tensor([1.0000e-05, 1.0000e+00])"),
    (np.array([123456789.0, 1.0], np.float64), "tensor([1.2346e+08, 1.0000e+00], dtype=torch.float64)"),
    (np.arange(1001, dtype=np.int64), "tensor([   0,    1,    2,  ...,  998,  999, 1000])"),
]


@pytest.mark.parametrize("array,expected", FIXED, ids=[e for _, e in FIXED])
def test_fixed_reprs(array, expected):
    assert rep(ember.tensor(array)) == expected


def test_str_equals_repr():
    t = ember.tensor([[1.5, 2.0]])
    assert str(t) == repr(t) == "tensor([[1.5000, 2.0000]])"


def test_linewidth_wrapping_fixed():
    t = ember.tensor(np.arange(12, dtype=np.float32) / 8)
    assert rep(t) == (
        "tensor([0.0000, 0.1250, 0.2500, 0.3750, 0.5000, 0.6250, 0.7500, 0.8750, 1.0000,\n"
        "        1.1250, 1.2500, 1.3750])")


def test_summarised_2d_fixed():
    t = ember.tensor(np.arange(1100, dtype=np.int64).reshape(11, 100))
    assert rep(t) == (
        "tensor([[   0,    1,    2,  ...,   97,   98,   99],\n"
        "        [ 100,  101,  102,  ...,  197,  198,  199],\n"
        "        [ 200,  201,  202,  ...,  297,  298,  299],\n"
        "        ...,\n"
        "        [ 800,  801,  802,  ...,  897,  898,  899],\n"
        "        [ 900,  901,  902,  ...,  997,  998,  999],\n"
        "        [1000, 1001, 1002,  ..., 1097, 1098, 1099]])")


def test_requires_grad_and_grad_fn_suffixes():
    x = ember.tensor([1.0, 2.0], requires_grad=True)
    assert rep(x) == "tensor([1., 2.], requires_grad=True)"
    assert rep(x + 1) == "tensor([2., 3.], grad_fn=<AddBackward0>)"
    assert rep(x * 2) == "tensor([2., 4.], grad_fn=<MulBackward0>)"
    d = ember.tensor([1.0], dtype=ember.float64, requires_grad=True)
    assert rep(d) == "tensor([1.], dtype=torch.float64, requires_grad=True)"


def test_suffix_moves_to_next_line_when_too_long():
    x = ember.tensor(np.full((1, 9), -0.5, np.float32), requires_grad=True)
    assert rep(x * 1) == (
        "tensor([[-0.5000, -0.5000, -0.5000, -0.5000, -0.5000, -0.5000, -0.5000, -0.5000,\n"
        "         -0.5000]], grad_fn=<MulBackward0>)")
    y = ember.tensor(np.full((8,), -0.5, np.float32), requires_grad=True)
    assert rep(y * 1) == (
        "tensor([-0.5000, -0.5000, -0.5000, -0.5000, -0.5000, -0.5000, -0.5000, -0.5000],\n"
        "       grad_fn=<MulBackward0>)")


class _OnCuda(np.ndarray):
    """A host array that claims to live on cuda:0, to exercise the device suffix without a GPU."""
    _ember_device = B.device("cuda", 0)


def test_device_suffix():
    t = ember.Tensor.__new__(ember.Tensor)
    ember.Tensor._init(t, np.array([1.0, 2.0], np.float32).view(_OnCuda), False)
    assert rep(t) == "tensor([1., 2.], device='cuda:0')"


def test_dtype_prefix_follows_namespace(monkeypatch):
    t = ember.tensor([1.0], dtype=ember.float64)
    assert repr(t) == "tensor([1.], dtype=ember.float64)"
    import sys
    monkeypatch.setitem(sys.modules, "torch", ember)  # the torch alias
    assert repr(t) == "tensor([1.], dtype=torch.float64)"


def test_default_dtype_changes_suffix():
    old = ember.get_default_dtype()
    try:
        ember.set_default_dtype(ember.float64)
        assert rep(ember.tensor(np.array([1.0, 2.0]))) == "tensor([1., 2.])"
        assert rep(ember.tensor(np.array([1.0], np.float32))) == "tensor([1.], dtype=torch.float32)"
    finally:
        ember.set_default_dtype(old)


def test_set_printoptions_fixed():
    set_printoptions(precision=2)
    assert rep(ember.tensor([1.12345])) == "tensor([1.12])"
    set_printoptions(threshold=5)
    assert rep(ember.tensor(np.arange(10))) == "tensor([0, 1, 2,  ..., 7, 8, 9])"
    set_printoptions(profile="default")
    assert rep(ember.tensor([1.12345])) == "tensor([1.1235])"
    assert rep(ember.tensor(np.arange(10))) == "tensor([0, 1, 2, 3, 4, 5, 6, 7, 8, 9])"
    with printoptions(sci_mode=True):
        assert rep(ember.tensor([1.0, 2.0])) == "tensor([1.0000e+00, 2.0000e+00])"
    assert get_printoptions()["sci_mode"] is None
    assert rep(ember.tensor([1.0, 2.0])) == "tensor([1., 2.])"


def test_set_printoptions_is_exported_from_the_module():
    from ember import _tensor_str
    assert _tensor_str.__all__ == ["set_printoptions"]


# ---- against real torch ----------------------------------------------------------------------
def _cases():
    r = np.random.RandomState(0)
    f32 = np.float32
    return [
        r.randn(4, 5).astype(f32),
        r.randn(1, 10).astype(f32),
        r.randn(3, 1, 2, 2).astype(f32),
        (r.randn(6) * 1e5).astype(f32),
        (r.randn(6) * 1e-6).astype(f32),
        np.array([1e-4, 1.0, 999.0], f32),
        np.array([1e-4, 1.0, 1001.0], f32),
        np.array([1e8, 1.0], f32),
        np.array([-1e9, 3.0], f32),
        np.array([0.0, -0.0, 1.0], f32),
        np.array([-np.inf, 2.0, 1e10], f32),
        np.array([np.nan, np.nan], f32),
        np.array([9.99996, 0.5], f32),
        r.randn(2, 3).astype(np.float64),
        (r.randn(3, 3) * 100).astype(np.float16),
        np.array([65504.0, 1e-3], np.float16),
        r.randint(-1000, 1000, size=(3, 7)).astype(np.int64),
        r.randint(0, 255, size=(2, 4)).astype(np.uint8),
        r.randint(-5, 5, size=(5,)).astype(np.int8),
        r.randint(-5, 5, size=(5,)).astype(np.int16),
        r.randint(-5, 5, size=(5,)).astype(np.int32),
        r.rand(3, 3) > 0.5,
        np.array(-3.25, f32),
        np.array(7, np.int32),
        np.array(0.0, np.float64),
        np.zeros((2, 0, 3), f32),
        np.zeros((0,), np.int32),
        np.zeros((0,), bool),
        r.randn(2000).astype(f32),
        r.randn(30, 40).astype(f32),
        r.randn(4, 300).astype(f32),
        r.randn(3, 20, 20).astype(f32),
        np.arange(1200, dtype=np.float32).reshape(2, 600),
        (r.randn(5, 300) * 1e6).astype(f32),
        r.randint(0, 100000, size=(50, 50)).astype(np.int64),
        np.round(r.randn(40), 0).astype(f32),
        r.randn(25).astype(f32),
    ]


CASES = _cases()


@pytest.mark.parametrize("i", range(len(CASES)))
def test_repr_matches_torch(oracle, i):
    a = CASES[i]
    assert rep(ember.tensor(a)) == repr(oracle.tensor(a))


@pytest.mark.parametrize("opts", [
    dict(precision=2), dict(precision=8), dict(threshold=10), dict(edgeitems=1, threshold=5),
    dict(edgeitems=0, threshold=5), dict(linewidth=40), dict(sci_mode=True), dict(sci_mode=False),
    dict(profile="short"), dict(profile="full"),
])
def test_printoptions_match_torch(oracle, opts):
    cases = [CASES[0], CASES[3], CASES[4], CASES[16], CASES[21], CASES[29], CASES[31], CASES[22]]
    old = oracle._tensor_str.get_printoptions()
    try:
        oracle.set_printoptions(**opts)
        set_printoptions(**opts)
        for a in cases:
            assert rep(ember.tensor(a)) == repr(oracle.tensor(a)), (opts, a.shape)
    finally:
        oracle.set_printoptions(**old)


def test_grad_suffixes_match_torch(oracle):
    a = np.random.RandomState(3).randn(2, 12).astype(np.float32)
    x, tx = ember.tensor(a, requires_grad=True), oracle.tensor(a, requires_grad=True)
    assert rep(x) == repr(tx)
    assert rep(x + 1) == repr(tx + 1)
    assert rep(x * x) == repr(tx * tx)
    b = a.astype(np.float64)
    x, tx = ember.tensor(b, requires_grad=True), oracle.tensor(b, requires_grad=True)
    assert rep(x) == repr(tx)
    assert rep(x * 3) == repr(tx * 3)
