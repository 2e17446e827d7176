"""Tensor basics: dtypes, creation, metadata, devices, NumPy interop and bad input."""
import re
import warnings

import numpy as np
import pytest

import ember
from tests.conftest import requires_torch, torch


def test_dtype_names_and_aliases():
    assert ember.float is ember.float32 and ember.double is ember.float64 and ember.half is ember.float16
    assert ember.long is ember.int64 and ember.int is ember.int32 and ember.short is ember.int16
    assert repr(ember.float64) == "ember.float64"
    assert ember.get_default_dtype() is ember.float32
    assert ember.float32.is_floating_point and not ember.int64.is_floating_point
    assert ember.float32.itemsize == 4


def test_tensor_infers_dtypes_like_torch():
    assert ember.tensor([1, 2]).dtype is ember.int64
    assert ember.tensor([1.0, 2]).dtype is ember.float32
    assert ember.tensor([True, False]).dtype is ember.bool
    assert ember.tensor(3.5).dim() == 0
    assert ember.tensor(np.arange(3, dtype=np.float64)).dtype is ember.float64
    assert ember.tensor([1, 2], dtype=ember.float16).dtype is ember.float16


@requires_torch
@pytest.mark.parametrize("data", [[1, 2], [1.5, 2], [True], 3, 2.5, [[1, 2], [3, 4]], np.arange(4, dtype=np.int32)])
def test_tensor_inference_matches_torch(data):
    assert ember.tensor(data).dtype.name == str(torch.tensor(data).dtype).split(".")[1]


def test_creation_functions():
    assert ember.zeros(5, 3, dtype=ember.long).numpy().sum() == 0
    assert ember.ones((2, 3)).shape == (2, 3)
    assert ember.full((2,), 7).dtype is ember.int64
    assert ember.full((2,), 7.0).dtype is ember.float32
    assert ember.arange(5).dtype is ember.int64
    assert ember.arange(0, 1, 0.25).tolist() == [0.0, 0.25, 0.5, 0.75]
    assert ember.linspace(0, 1, 5).tolist() == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert ember.eye(3).numpy().trace() == 3
    r = ember.rand(100)
    assert r.dtype is ember.float32 and 0 <= r.numpy().min() and r.numpy().max() < 1
    assert ember.randint(0, 10, (50,)).dtype is ember.int64
    assert sorted(ember.randperm(6).tolist()) == list(range(6))
    x = ember.ones(5, 3)
    y = x.new_ones(2, dtype=ember.double)
    assert y.dtype is ember.float64 and y.shape == (2,)
    assert ember.randn_like(y, dtype=ember.float).dtype is ember.float32
    assert ember.zeros_like(x).shape == (5, 3)
    assert ember.full_like(x, 3).numpy().max() == 3
    assert ember.empty(2, 3).shape == (2, 3)
    assert x.new_tensor([1, 2]).dtype is ember.float32
    assert ember.ones(2, requires_grad=True).requires_grad


def test_manual_seed_reproducible():
    ember.manual_seed(3)
    a = ember.randn(4)
    ember.manual_seed(3)
    b = ember.randn(4)
    assert ember.equal(a, b)
    assert not ember.equal(a, ember.randn(4))


def test_size_is_a_tuple_and_prints():
    s = ember.ones(5, 3).size()
    assert isinstance(s, tuple) and s == (5, 3)
    assert repr(s) == "ember.Size([5, 3])"
    assert ember.ones(5, 3).size(1) == 3 and ember.ones(5, 3).size(-1) == 3
    assert repr(s[1:]) == "ember.Size([3])"
    with pytest.raises(IndexError, match="Dimension out of range"):
        ember.ones(5, 3).size(2)
    assert ember.ones(2, 3, 4).numel() == 24 and ember.ones(2, 3, 4).dim() == 3


def test_numpy_shares_memory_both_ways():
    a = ember.ones(5)
    b = a.numpy()
    a.add_(1)
    assert b.tolist() == [2.0] * 5
    arr = np.ones(5)
    t = ember.from_numpy(arr)
    np.add(arr, 1, out=arr)
    assert t.tolist() == [2.0] * 5
    assert t.dtype is ember.float64


def test_numpy_on_requires_grad_raises():
    with pytest.raises(RuntimeError, match=r"detach\(\)\.numpy\(\)"):
        ember.ones(2, requires_grad=True).numpy()


@pytest.mark.parametrize("convert", [np.asarray, np.array, lambda t: np.asarray(t * 2), np.exp])
def test_numpy_conversion_of_requires_grad_raises_like_torch(convert):
    # plt.plot(losses) / np.asarray(t) of a tensor in the graph: torch's __array__ calls numpy(), which refuses
    libs = [ember] + ([torch] if torch is not None else [])
    for lib in libs:
        with pytest.raises(RuntimeError, match=r"detach\(\)\.numpy\(\)"):
            convert(lib.ones(2, requires_grad=True))
    np.testing.assert_array_equal(np.asarray(ember.ones(2, requires_grad=True).detach()), [1.0, 1.0])


def test_item_and_tolist():
    x = ember.tensor([-0.25])
    assert x.item() == -0.25
    with pytest.raises(RuntimeError, match="cannot be converted to Scalar"):
        ember.ones(2).item()
    assert ember.tensor([[1, 2]]).tolist() == [[1, 2]]


def test_conversions():
    x = ember.tensor([1.7, -2.2])
    assert x.long().tolist() == [1, -2]
    assert x.double().dtype is ember.float64
    assert x.int().dtype is ember.int32
    assert x.bool().dtype is ember.bool
    assert x.float() is x
    assert x.type() == "ember.FloatTensor"
    assert x.type(ember.float64).dtype is ember.float64
    assert x.to("cpu", ember.double).dtype is ember.float64
    assert x.to(ember.float32) is x


def test_to_keeps_graph():
    x = ember.tensor([1.0, 2.0], requires_grad=True)
    y = x.double() * 2
    y.backward(ember.ones(2, dtype=ember.float64))
    assert x.grad.dtype is ember.float32
    assert x.grad.tolist() == [2.0, 2.0]


@pytest.mark.parametrize("cast", ["long", "int", "bool", "byte"])
def test_integer_casts_carry_no_gradient(cast):
    # a rounded value is a constant in torch: y.long().float() * y has gradient y.long(), not 2y
    y = ember.tensor([1.6, 2.4], requires_grad=True)
    r = getattr(y, cast)()
    assert not r.requires_grad and r.grad_fn is None
    (r.float() * y).sum().backward()
    assert y.grad.tolist() == r.float().tolist()
    assert y.half().requires_grad and y.to(ember.float64).grad_fn.name() == "ToCopyBackward0"


def test_numpy_operands_like_torch():
    x = ember.tensor([1.0, 2.0], requires_grad=True)
    for y in (np.float64(2.0) * x, np.float32(2.0) * x, x * np.float32(2.0), np.sqrt(4.0) * x):
        assert type(y) is ember.Tensor and y.dtype is ember.float32 and y.grad_fn.name() == "MulBackward0"
        assert y.tolist() == [2.0, 4.0]
    assert (np.int64(1) + x).grad_fn.name() == "AddBackward0"
    t = ember.ones(2)
    s = t + np.array([1.0, 2.0])  # an ndarray is a tensor of its dtype, as torch reads it
    assert type(s) is ember.Tensor and s.dtype is ember.float64 and s.tolist() == [2.0, 3.0]
    assert (t + np.ones(2, dtype=np.float32)).dtype is ember.float32
    assert (t == np.ones(2)).tolist() == [True, True]
    e = np.exp(t)  # NumPy functions hand tensors back
    assert type(e) is ember.Tensor and e.dtype is ember.float32


def test_comparison_with_none_is_identity():
    x = ember.ones(2)
    assert (x == None) is False and (x != None) is True  # noqa: E711
    assert (None == x) is False and (x == "a") is False
    with pytest.raises(TypeError):
        ember.eq(x, None)


def test_devices():
    d = ember.device("cuda:0")
    assert d.type == "cuda" and d.index == 0 and str(d) == "cuda:0"
    assert repr(ember.device("cpu")) == "device(type='cpu')"
    assert ember.ones(2).device == ember.device("cpu") and ember.ones(2).device.type == "cpu"
    assert isinstance(ember.cuda.is_available(), bool)
    with pytest.raises(RuntimeError, match="Expected one of cpu, cuda"):
        ember.device("gpu")


@requires_torch
def test_device_equals_only_devices_as_torch():
    def f(M):
        d, c = M.device("cpu"), M.device("cuda:0")
        return (d == "cpu", d != "cpu", "cpu" == d, d == M.device("cpu"), d != M.device("cpu"), d == 0,
                d == None, c == "cuda:0",  # noqa: E711 c == M.device("cuda", 0), c == M.device("cuda"), hash(d) == hash(M.device("cpu")),
                d in {"cpu"}, d in {M.device("cpu")}, d in ["cpu"], "cpu" in [d], d.__eq__("cpu"),
                M.zeros(1).device == "cpu", M.zeros(1).device == M.device("cpu"), {d: 1}.get(M.device("cpu")),
                {d: 1}.get("cpu"))
    assert f(ember) == f(torch)


@pytest.mark.skipif(ember.cuda.is_available(), reason="needs a machine without a GPU")
def test_cuda_without_gpu_raises_torch_error():
    import importlib.util
    if importlib.util.find_spec("cupy") is None:
        kind, text = AssertionError, "Torch not compiled with CUDA enabled"
    else:
        kind, text = RuntimeError, "CUDA error"
    with pytest.raises(kind, match=text):
        ember.ones(2).cuda()
    with pytest.raises(kind, match=text):
        ember.ones(2).to("cuda")


def test_unknown_dtype_raises():
    with pytest.raises(TypeError, match=r"ones\(\): argument 'dtype' must be ember.dtype, not str \(got 'float31'; "
                                        "the dtypes are ember.float32"):
        ember.ones(2, dtype="float31")


def test_missing_torch_name_is_explained():
    with pytest.raises(AttributeError, match="does not implement torch.fft_magic"):
        ember.fft_magic  # noqa: B018


def test_negative_size_raises():
    with pytest.raises(RuntimeError, match="^zeros: Dimension size must be non-negative.*negative dimension -1"):
        ember.zeros(-1, 2)   # (torch's words for zeros; every other creation function says the second part)
    with pytest.raises(RuntimeError, match=r"^Trying to create tensor with negative dimension -2: \[3, -2\]"):
        ember.ones(3, -2)


@requires_torch
@pytest.mark.parametrize("data", [[[1, 2], [3]], [[1, 2], 3], [[[1], [2]], [[1], [2, 3]]], [1, [2]], [[1.5, 2], [3]]])
def test_ragged_lists_raise_torchs_error(data):
    with pytest.raises(Exception) as ref:
        torch.tensor(data)
    with pytest.raises(ref.type, match=f"^{re.escape(str(ref.value))}$"):
        ember.tensor(data)


def test_storage_offset_counts_from_the_viewed_memory():
    base = ember.arange(12)
    assert base.storage_offset() == 0
    assert base[2:5].storage_offset() == 2
    assert base.reshape(3, 4)[1:, 2].storage_offset() == 6
    assert base.reshape(3, 4)[1:][:, 1:].storage_offset() == 5


def _scalar_warnings(lib, reset):
    reset()
    x = lib.ones(1, requires_grad=True) * 2
    seen = []
    for convert in (lambda: x.item(), lambda: int(x), lambda: f"{x.sum():.1f}", lambda: float(x.detach()),
                    lambda: float(x), lambda: float(x), lambda: complex(x)):
        with warnings.catch_warnings(record=True) as rec:
            warnings.simplefilter("always")
            convert()
        seen.append([str(w.message).split(" (Triggered")[0] for w in rec])
    return seen


def _reset_ember():
    import ember._tensor
    ember._tensor._SCALAR_WARNED[0] = False


def test_float_of_a_grad_tensor_warns_once():
    seen = _scalar_warnings(ember, _reset_ember)
    assert seen[:4] == [[]] * 4 and seen[5:] == [[], []]
    assert seen[4] == ["Converting a tensor with requires_grad=True to a scalar may lead to unexpected behavior.\n"
                       "Consider using tensor.detach() first."]
    _reset_ember()
    with ember.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("error")
        float(ember.ones(1, requires_grad=True))   # (no warning under no_grad)


@requires_torch
def test_float_of_a_grad_tensor_warns_as_torch():
    # torch warns once a process: ask a fresh one
    import json
    import subprocess
    import sys
    code = ("import json, sys; sys.path.insert(0, sys.argv[1]); import torch; "
            "from tests.test_tensor import _scalar_warnings; print(json.dumps(_scalar_warnings(torch, lambda: None)))")
    root = __file__.rsplit("/tests/", 1)[0]
    out = subprocess.run([sys.executable, "-c", code, root], capture_output=True, text=True, timeout=120, cwd=root)
    assert out.returncode == 0, out.stderr
    assert _scalar_warnings(ember, _reset_ember) == json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("element, expected", [(2.0, True), (2, True), (True, False), (5, False),
                                               ("tensor", True), ("pair", False), (None, RuntimeError),
                                               ("a", RuntimeError), ([2.0], RuntimeError)])
def test_contains_as_torch(element, expected):
    for lib in (ember, torch) if torch is not None else (ember,):
        v = lib.tensor([0.5, 2.0])
        e = lib.tensor(2.0) if element == "tensor" else lib.tensor([2.0, 3.0]) if element == "pair" else element
        if expected is RuntimeError:
            with pytest.raises(RuntimeError, match="Tensor.__contains__ only supports Tensor or scalar"):
                e in v
        else:
            assert (e in v) is expected


def test_truth_of_an_empty_tensor_says_it_has_no_values():
    with pytest.raises(RuntimeError, match="Boolean value of Tensor with no values is ambiguous"):
        bool(ember.tensor([]))
    with pytest.raises(RuntimeError, match="Boolean value of Tensor with more than one value is ambiguous"):
        bool(ember.tensor([1.0, 2.0]))


def test_pointer_identity_and_deprecated_resize_as_torch():
    x = ember.arange(6.0)
    assert x.const_data_ptr() == x.data_ptr()
    assert x.is_set_to(x) and not x.is_set_to(x.clone()) and not x.is_set_to(x.view(2, 3))
    with pytest.warns(UserWarning, match="non-inplace resize is deprecated"):
        assert x.resize(2, 3).shape == (2, 3) and x.shape == (6,)
    with pytest.warns(UserWarning, match="non-inplace resize_as is deprecated"):
        assert x.resize_as(ember.ones(3, 2)).shape == (3, 2)


_TO_CALLS = [  # (args, kwargs) of Tensor.to / Module.to, valid and not; <name> is lib.name, <t> a float64 tensor
    (("<float64>",), {}), (("cpu",), {"dtype": "<float64>"}), (("<cpu>", "<int64>"), {}),
    ((None,), {}), (("<float64>", True), {}), ((float,), {}), ((), {"tensor": "<t>"}),
    (("<float64>", "cpu"), {}), (("<float64>",), {"foo": 1}), (("cpu", 1.5), {}), ((), {"dtype": "float32"}),
    ((), {"device": "<float32>"}), (("<float64>", 1), {}), (("<channels_last>",), {}),
    (("<t>", "<float64>"), {}), ((None, None, None), {}), ((), {"dtype": "f", "copy": 1}),
    (("float32",), {}), (("<float64>",), {"non_blocking": True, "copy": True})]


def _to_outcome(lib, obj, args, kwargs):
    def resolve(v):
        if not (isinstance(v, str) and v.startswith("<")):
            return v
        name = v[1:-1]
        return lib.ones(1, dtype=lib.float64) if name == "t" else lib.device("cpu") if name == "cpu" else \
            getattr(lib, name)
    try:
        out = obj.to(*map(resolve, args), **{k: resolve(v) for k, v in kwargs.items()})
    except (TypeError, RuntimeError) as e:
        return type(e).__name__, str(e).replace("torch.", "T.").replace("ember.", "T.").split("\n")[0]
    return str((out.weight if hasattr(out, "weight") else out).dtype).rpartition(".")[2]


@requires_torch
@pytest.mark.parametrize("call", range(len(_TO_CALLS)))
def test_to_parses_arguments_as_torch(call):
    # torch has three signatures (device, dtype / dtype / tensor, then non_blocking, copy); anything
    # else is a TypeError listing them, and a positional string is always a device ('float32' is not one)
    args, kwargs = _TO_CALLS[call]
    for make in (lambda lib: lib.ones(2), lambda lib: lib.nn.Linear(2, 2)):
        got = _to_outcome(ember, make(ember), args, kwargs)
        want = _to_outcome(torch, make(torch), args, kwargs)
        if isinstance(want, tuple):     # ember's message is torch's, sometimes with a hint after it
            assert got[0] == want[0] and got[1].startswith(want[1])
        else:
            assert got == want


def test_to_a_cpu_index_copies_and_module_to_complex_warns():
    x = ember.ones(2)
    assert x.to("cpu") is x and x.to("cpu:0") is not x      # torch: 'cpu:0' is another device
    x.to("cpu:0").add_(1)
    assert x.tolist() == [1.0, 1.0]
    m = ember.nn.Linear(2, 2)
    with pytest.warns(UserWarning, match="Complex modules are a new feature"):
        m.to(ember.complex64)
    assert m.weight.dtype == ember.complex64
    with pytest.warns(UserWarning, match="Casting complex values to real discards the imaginary part"):
        m.to(ember.float64)
    assert m.weight.dtype == ember.float64
    with pytest.raises(RuntimeError, match=r"^\.to\(\) does not accept copy argument"):
        m.to(ember.float32, copy=True)


@pytest.mark.parametrize("arg, error, message", [
    ("float", ValueError, "invalid type: 'float'"), ("FloatTensor", ValueError, "invalid type: 'FloatTensor'"),
    ("torch.float32", ValueError, r"invalid type: 'torch.float32'"), (float, ValueError, "invalid type: 'float'"),
    (3, TypeError, "dtype must be a type, str, or dtype object")])
def test_type_refuses_what_torch_refuses(arg, error, message):
    with pytest.raises(error, match=message):
        ember.ones(2).type(arg)
    if torch is not None:
        with pytest.raises(error, match=message):
            torch.ones(2).type(arg)


def test_type_takes_type_names_dtypes_and_legacy_types():
    x = ember.ones(2)
    assert x.type("torch.DoubleTensor").dtype == ember.float64
    assert x.type("ember.LongTensor").dtype == ember.int64
    assert x.type(ember.DoubleTensor).dtype == ember.float64 and x.type(ember.float16).dtype == ember.float16
    assert x.type("torch.FloatTensor") is x


@pytest.mark.parametrize("grad, error, message", [
    ("ones3", RuntimeError, r"attempting to assign a gradient of size '\[3\]' to a tensor of size '\[2\]'"),
    ("ones2x1", RuntimeError, r"attempting to assign a gradient of size '\[2, 1\]' to a tensor of size '\[2\]'"),
    ("double", RuntimeError, "attempting to assign a gradient with dtype 'double' to a tensor with grad_dtype 'Float'"),
    ("long", RuntimeError, "attempting to assign a gradient with dtype 'long int' to a tensor with grad_dtype 'Float'"),
    ("double3", RuntimeError, "with dtype 'double'"),   # the dtype is checked before the size
    ("list", TypeError, "assigned grad expected to be a Tensor or None but got grad of type list")])
def test_assigning_a_grad_that_does_not_fit_raises_as_torch(grad, error, message):
    for lib in (ember, torch) if torch is not None else (ember,):
        g = {"ones3": lambda: lib.ones(3), "ones2x1": lambda: lib.ones(2, 1),
             "double": lambda: lib.ones(2, dtype=lib.float64), "long": lambda: lib.ones(2, dtype=lib.int64),
             "double3": lambda: lib.ones(3, dtype=lib.float64), "list": lambda: [1.0, 2.0]}[grad]()
        t = lib.ones(2, requires_grad=True)
        t.grad = lib.full((2,), 5.0)
        with pytest.raises(error, match=message):
            t.grad = g
        assert t.grad.tolist() == [5.0, 5.0]     # nothing changed


def test_assigning_a_fitting_grad_and_deleting_it():
    t = ember.ones(2, requires_grad=True)
    t.grad = ember.full((2,), 3.0)
    (t * 2).sum().backward()
    assert t.grad.tolist() == [5.0, 5.0]          # backward accumulates into the assigned gradient
    del t.grad
    assert t.grad is None
    plain = ember.ones(2)                          # no requires_grad, a non-leaf: both take a gradient
    plain.grad = ember.ones(2)
    assert plain.grad.tolist() == [1.0, 1.0]


def test_requires_grad_messages_differ_as_torchs():
    with pytest.raises(RuntimeError, match="^only Tensors of floating point dtype can require gradients"):
        ember.arange(2).requires_grad_()
    with pytest.raises(RuntimeError, match="^only Tensors of floating point and complex dtype can require"):
        ember.arange(2).requires_grad = True


@pytest.mark.parametrize("make, error, message", [
    (lambda lib: lib.randn(2.0), TypeError,
     r"^randn\(\): argument 'size' \(position 1\) must be tuple of ints, not float"),
    (lambda lib: lib.zeros(None), TypeError,
     r"^zeros\(\): argument 'size' \(position 1\) must be tuple of ints, not NoneType"),
    (lambda lib: lib.randn(2, 2.0), TypeError,
     r"^randn\(\): argument 'size' failed to unpack the object at pos 2 with error "
     r"\"type must be tuple of ints,but got float\""),
    (lambda lib: lib.ones((2, "a")), TypeError,
     r"^ones\(\): argument 'size' failed to unpack the object at pos 2 .*got str"),
    (lambda lib: lib.tensor("a"), TypeError, r"^new\(\): invalid data type 'str'"),
    (lambda lib: lib.tensor([b"a"]), TypeError, r"^new\(\): invalid data type 'bytes'"),
    (lambda lib: lib.tensor([1, "a"]), TypeError, r"^new\(\): invalid data type 'str'"),
    (lambda lib: lib.set_num_threads(0), RuntimeError, "^set_num_threads expects a positive integer"),
    (lambda lib: lib.nn.BatchNorm2d(3).eval()(lib.ones(2, 4, 2, 2)), RuntimeError,
     "^running_mean should contain 4 elements not 3")])
def test_bad_arguments_raise_torchs_error(make, error, message):
    for lib in (ember, torch) if torch is not None else (ember,):
        with pytest.raises(error, match=message):
            make(lib)
