"""ember.testing: assert_close's verdicts and messages, assert_allclose and make_tensor, against torch.testing."""
import warnings

import numpy as np
import pytest

import ember

from .conftest import requires_torch, torch

NAN = float("nan")

# each case takes the framework module (ember or torch) and runs one comparison
CASES = {
    "close_fail": lambda T: T.testing.assert_close(T.tensor([1., 2., 3.]), T.tensor([1., 2.5, 3.1])),
    "int_equal_fail": lambda T: T.testing.assert_close(T.tensor([1, 2, 3]), T.tensor([1, 4, 3])),
    "dtype": lambda T: T.testing.assert_close(T.tensor([1., 2.]), T.tensor([1., 2.], dtype=T.float64)),
    "shape": lambda T: T.testing.assert_close(T.zeros(2, 3), T.zeros(3, 2)),
    "nested_item": lambda T: T.testing.assert_close({"a": [T.tensor(1.), 2.]}, {"a": [T.tensor(1.), 2.5]}),
    "scalars": lambda T: T.testing.assert_close(1.0, 1.5),
    "tensor_vs_float": lambda T: T.testing.assert_close(T.tensor(1.0), 1.5),
    "msg_str": lambda T: T.testing.assert_close(T.tensor([1., 2.]), T.tensor([1., 3.]), msg="custom"),
    "msg_callable": lambda T: T.testing.assert_close(T.tensor([1., 2.]), T.tensor([1., 3.]),
                                                     msg=lambda m: m + "!!"),
    "nan": lambda T: T.testing.assert_close(T.tensor([1., NAN]), T.tensor([1., NAN])),
    "nan_equal": lambda T: T.testing.assert_close(T.tensor([1., NAN]), T.tensor([1., NAN]), equal_nan=True),
    "only_rtol": lambda T: T.testing.assert_close(T.tensor([1., 2.]), T.tensor([1., 3.]), rtol=0.1),
    "zero_tol": lambda T: T.testing.assert_close(T.tensor([1., 2.]), T.tensor([1., 3.]), rtol=0.0, atol=0.0),
    "loose": lambda T: T.testing.assert_close(T.tensor([1., 2.]), T.tensor([1., 3.]), rtol=0.5, atol=0.0),
    "stride": lambda T: T.testing.assert_close(T.zeros(2, 2), T.zeros(2, 2).t(), check_stride=True),
    "stride_off": lambda T: T.testing.assert_close(T.zeros(2, 2), T.zeros(2, 2).t()),
    "seq_len": lambda T: T.testing.assert_close([1, 2], [1, 2, 3]),
    "list_tuple": lambda T: T.testing.assert_close([1, 2], (1, 2)),
    "keys": lambda T: T.testing.assert_close({"a": 1}, {"b": 1}),
    "bools": lambda T: T.testing.assert_close(True, False),
    "none": lambda T: T.testing.assert_close(None, 1),
    "bool_tensor": lambda T: T.testing.assert_close(T.tensor([True]), T.tensor([False])),
    "strings": lambda T: T.testing.assert_close("a", "b"),
    "int_float": lambda T: T.testing.assert_close(1, 1.0),
    "index_2d": lambda T: T.testing.assert_close(T.tensor([[1., 2.], [3., 4.]]), T.tensor([[1., 2.], [3., 5.]])),
    "complex": lambda T: T.testing.assert_close(T.tensor([1. + 1j]), T.tensor([1. + 2j])),
    "promote_ok": lambda T: T.testing.assert_close(T.tensor([1, 2]), T.tensor([1., 2.]), check_dtype=False),
    "promote_fail": lambda T: T.testing.assert_close(T.tensor([1, 2]), T.tensor([1., 2.5]), check_dtype=False),
    "zero_dim": lambda T: T.testing.assert_close(T.tensor(3.), T.tensor(4.)),
    "half": lambda T: T.testing.assert_close(T.tensor([1., 2.], dtype=T.float16),
                                             T.tensor([1., 2.001], dtype=T.float16)),
    "float_default_tol": lambda T: T.testing.assert_close(T.tensor([1., 2.]), T.tensor([1., 2.00001])),
    "double_tol": lambda T: T.testing.assert_close(T.tensor([1., 2.], dtype=T.float64),
                                                   T.tensor([1., 2.0000001], dtype=T.float64)),
    "deep": lambda T: T.testing.assert_close([T.tensor([1., 2.]), {"x": T.tensor([5, 6])}],
                                             [T.tensor([1., 2.]), {"x": T.tensor([5, 7])}]),
    "requires_grad": lambda T: T.testing.assert_close(T.tensor([1., 2.]), T.tensor([1., 2.]).requires_grad_()),
    "numpy_scalars": lambda T: T.testing.assert_close(np.float32(1.0), np.float32(1.5)),
    "ndarrays": lambda T: T.testing.assert_close(np.array([1., 2.]), np.array([1., 2.5])),
    "allclose_ok": lambda T: T.testing.assert_allclose(T.tensor([1., 2.]), [1., 2.00001]),
    "allclose_fail": lambda T: T.testing.assert_allclose(T.tensor([1., 2.]), [1., 2.1]),
    "empty": lambda T: T.testing.assert_close(T.zeros(0), T.zeros(0)),
}


def _outcome(T, case):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            case(T)
        except Exception as e:  # the type and the full message must match torch's
            return type(e).__name__, str(e).replace("torch.", "X.").replace("ember.", "X.")
    return "ok", ""


@requires_torch
@pytest.mark.parametrize("name", sorted(CASES))
def test_assert_close_matches_torch(name):
    assert _outcome(ember, CASES[name]) == _outcome(torch, CASES[name])


def test_assert_close_message_format():
    with pytest.raises(AssertionError) as info:
        ember.testing.assert_close(ember.tensor([1., 2., 3.]), ember.tensor([1., 2.5, 3.1]))
    assert str(info.value) == ("Tensor-likes are not close!\n\nMismatched elements: 2 / 3 (66.7%)\n"
                               "Greatest absolute difference: 0.5 at index (1,) (up to 1e-05 allowed)\n"
                               "Greatest relative difference: 0.20000000298023224 at index (1,) "
                               "(up to 1.3e-06 allowed)")


def test_assert_close_passes_within_tolerance():
    ember.testing.assert_close(ember.tensor([1., 2.]), ember.tensor([1., 2.000001]))
    ember.testing.assert_close({"w": ember.ones(3)}, {"w": ember.ones(3)})


def test_assert_allclose_warns_deprecated():
    with pytest.warns(FutureWarning, match="assert_allclose"):
        ember.testing.assert_allclose(ember.ones(2), ember.ones(2))


MAKE = [dict(dtype="float32"), dict(dtype="float64", low=-1, high=1), dict(dtype="int64"), dict(dtype="uint8"),
        dict(dtype="bool"), dict(dtype="complex64"), dict(dtype="int32", low=0, high=3, exclude_zero=True),
        dict(dtype="float32", noncontiguous=True), dict(dtype="float32", requires_grad=True),
        dict(dtype="float32", memory_format="channels_last")]


def _make(T, kw):
    kw = dict(kw)
    kw["dtype"] = getattr(T, kw["dtype"])
    if "memory_format" in kw:
        kw["memory_format"] = getattr(T, kw["memory_format"])
    T.manual_seed(3)
    x = T.testing.make_tensor(2, 3, 4, 5, device="cpu", **kw)
    return x.tolist(), x.stride(), x.requires_grad, x.is_contiguous(), str(x.dtype).split(".")[1]


@requires_torch
@pytest.mark.parametrize("kw", MAKE, ids=lambda kw: "-".join(f"{k}={v}" for k, v in kw.items()))
def test_make_tensor_matches_torch(kw):
    assert _make(ember, kw) == _make(torch, kw)


@requires_torch
@pytest.mark.parametrize("kw", [dict(dtype="int64", requires_grad=True), dict(dtype="float32", low=3, high=1),
                                dict(dtype="uint8", low=-5, high=-1), dict(dtype="float32", low=NAN),
                                dict(dtype="float32", noncontiguous=True, memory_format="channels_last")])
def test_make_tensor_errors_match_torch(kw):
    def run(T):
        k = dict(kw, dtype=getattr(T, kw["dtype"]))
        if "memory_format" in k:
            k["memory_format"] = getattr(T, k["memory_format"])
        return _outcome(T, lambda T: T.testing.make_tensor(2, 2, 2, 2, device="cpu", **k))
    assert run(ember) == run(torch)


def test_make_tensor_bounds_without_torch():
    x = ember.testing.make_tensor(100, dtype=ember.float32, device="cpu", low=-2, high=3)
    assert x.dtype == ember.float32 and -2 <= float(x.min()) and float(x.max()) < 3
    n = ember.testing.make_tensor((50,), dtype=ember.int64, device="cpu", low=1, high=4, exclude_zero=True)
    assert set(n.tolist()) <= {1, 2, 3}
