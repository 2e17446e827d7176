"""Elementwise ops: values and gradients against float64 central differences and real torch."""
import numpy as np
import pytest

import ember
from tests.conftest import numeric_grad, record_blocks, requires_torch, torch

rng = np.random.default_rng(0)

UNARY = {
    "exp": lambda x: x, "log": lambda x: np.abs(x) + 0.5, "sqrt": lambda x: np.abs(x) + 0.5,
    "rsqrt": lambda x: np.abs(x) + 0.5, "sin": lambda x: x, "cos": lambda x: x, "tanh": lambda x: x,
    "sigmoid": lambda x: x * 3, "relu": lambda x: x + 0.05, "abs": lambda x: x + 0.05, "neg": lambda x: x,
    "reciprocal": lambda x: np.abs(x) + 0.5, "log1p": lambda x: np.abs(x), "expm1": lambda x: x,
    "tan": lambda x: x * 0.5, "atan": lambda x: x, "sinh": lambda x: x, "cosh": lambda x: x,
    "erf": lambda x: x, "square": lambda x: x, "log2": lambda x: np.abs(x) + 0.5,
}


@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_grad_matches_central_differences(name):
    x0 = UNARY[name](rng.standard_normal((3, 4)))
    x = ember.tensor(x0, dtype=ember.float64, requires_grad=True)
    getattr(ember, name)(x).sum().backward()

    def f(a):
        return getattr(ember, name)(ember.tensor(a)).sum().item()
    np.testing.assert_allclose(x.grad.numpy(), numeric_grad(f, x0), rtol=1e-5, atol=1e-7)


@requires_torch
@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_matches_torch(name):
    x0 = UNARY[name](rng.standard_normal((2, 5))).astype(np.float32)
    x = ember.tensor(x0, requires_grad=True)
    tx = torch.tensor(x0, requires_grad=True)
    y, ty = getattr(ember, name)(x), getattr(torch, name)(tx)
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=1e-5, atol=1e-6)
    assert y.dtype.name == str(ty.dtype).split(".")[1]
    assert y.grad_fn.name() == ty.grad_fn.name()
    y.sum().backward()
    ty.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-5, atol=1e-6)


BINARY = ["add", "sub", "mul", "div", "pow", "maximum", "minimum"]
SHAPES = [((3, 4), (3, 4)), ((3, 4), (4,)), ((2, 1, 4), (3, 1)), ((1,), (2, 3))]


@pytest.mark.parametrize("name", BINARY)
@pytest.mark.parametrize("shapes", SHAPES)
def test_binary_broadcast_grads(name, shapes):
    a0 = np.abs(rng.standard_normal(shapes[0])) + 0.5
    b0 = rng.standard_normal(shapes[1])
    a = ember.tensor(a0, dtype=ember.float64, requires_grad=True)
    b = ember.tensor(b0, dtype=ember.float64, requires_grad=True)
    fn = getattr(ember, name)
    (fn(a, b) * ember.tensor(np.arange(1.0, 1 + np.broadcast(a0, b0).size).reshape(
        np.broadcast(a0, b0).shape))).sum().backward()
    weights = np.arange(1.0, 1 + np.broadcast(a0, b0).size).reshape(np.broadcast(a0, b0).shape)

    def fa(x):
        return float((fn(ember.tensor(x), ember.tensor(b0)).numpy() * weights).sum())

    def fb(x):
        return float((fn(ember.tensor(a0), ember.tensor(x)).numpy() * weights).sum())
    np.testing.assert_allclose(a.grad.numpy(), numeric_grad(fa, a0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(b.grad.numpy(), numeric_grad(fb, b0), rtol=1e-5, atol=1e-6)


@requires_torch
@pytest.mark.parametrize("name", BINARY)
def test_binary_matches_torch(name):
    a0 = (np.abs(rng.standard_normal((3, 4))) + 0.5).astype(np.float32)
    b0 = rng.standard_normal((4,)).astype(np.float32)
    a, b = ember.tensor(a0, requires_grad=True), ember.tensor(b0, requires_grad=True)
    ta, tb = torch.tensor(a0, requires_grad=True), torch.tensor(b0, requires_grad=True)
    y, ty = getattr(ember, name)(a, b), getattr(torch, name)(ta, tb)
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=1e-5)
    assert y.grad_fn.name() == ty.grad_fn.name()
    y.sum().backward()
    ty.sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), ta.grad.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(b.grad.numpy(), tb.grad.numpy(), rtol=1e-5, atol=1e-6)


@requires_torch
@pytest.mark.parametrize("left,right", [
    ("i64", 2.5), ("i32", 2), ("i32", "i64_0d"), ("f16", 2.5), ("f32", "f64_0d"), ("f32", "f64"),
    ("u8", "i8"), ("b", 1), ("b", "b"), ("i64", "f32"), ("i32", True), ("f64", 1),
])
@pytest.mark.parametrize("op", ["add", "mul", "div", "sub"])
def test_type_promotion_matches_torch(left, right, op):
    kinds = {"i64": np.int64, "i32": np.int32, "f16": np.float16, "f32": np.float32, "f64": np.float64,
             "u8": np.uint8, "i8": np.int8, "b": np.bool_}

    def make(spec, lib):
        if not isinstance(spec, str):
            return spec
        zero_d = spec.endswith("_0d")
        arr = np.array(3 if zero_d else [1, 2, 3], dtype=kinds[spec.replace("_0d", "")])
        return lib.from_numpy(arr) if lib is not None else arr
    if op == "sub" and (left == "b" or right is True):
        pytest.skip("torch refuses bool subtraction")
    e = getattr(ember, op)(make(left, ember), make(right, ember))
    t = getattr(torch, op)(make(left, torch), make(right, torch))
    assert e.dtype.name == str(t.dtype).split(".")[1]
    np.testing.assert_allclose(e.numpy().astype(np.float64), t.numpy().astype(np.float64), rtol=1e-3)


def test_reflected_operators_and_scalars():
    x = ember.tensor([1.0, 2.0, 4.0])
    np.testing.assert_allclose((2 - x).numpy(), [1, 0, -2])
    np.testing.assert_allclose((2 / x).numpy(), [2, 1, 0.5])
    np.testing.assert_allclose((2 ** x).numpy(), [2, 4, 16])
    np.testing.assert_allclose((x ** 2).numpy(), [1, 4, 16])
    np.testing.assert_allclose((7 // x).numpy(), [7, 3, 1])
    np.testing.assert_allclose((x % 3).numpy(), [1, 2, 1])
    assert (x * 2).dtype is ember.float32
    assert (ember.tensor([1, 2]) / 2).dtype is ember.float32
    assert (ember.tensor([1, 2]) // 2).dtype is ember.int64


OPERATORS = {"add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b,
             "div": lambda a, b: a / b}
# (left, right): shapes, or a Python number on the right; small broadcasts and 0-d operands take the
# operators' hot path, large broadcasts (> 8192 elements) the general one
OPERANDS = [((3, 4), (3, 4)), ((3, 4), (4,)), ((), (5,)), ((5,), ()), ((), ()), ((64, 128), (128,)),
            ((3, 4), 2.5), ((3, 4), 3), ((), -1.5)]


@requires_torch
@pytest.mark.parametrize("name", sorted(OPERATORS))
@pytest.mark.parametrize("operands", OPERANDS, ids=str)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_operators_match_the_functions_and_torch(name, operands, dtype):
    # the operators' hot path against the general function (the same bits), and against torch:
    # values, dtype, node, gradients, and the saved operands' version check
    left, right = operands
    a0 = (np.abs(rng.standard_normal(left)) + 0.5).astype(dtype)
    b0 = (np.abs(rng.standard_normal(right)) + 0.5).astype(dtype) if isinstance(right, tuple) else right
    fn = OPERATORS[name]
    results = []
    for lib in (ember, torch):
        a = lib.tensor(a0, requires_grad=True)
        b = lib.tensor(b0, requires_grad=True) if isinstance(right, tuple) else b0
        y = fn(a, b)
        y.backward(lib.ones_like(y) * 3)
        results.append((y, a.grad, b.grad if isinstance(right, tuple) else None))
    (y, ga, gb), (ty, tga, tgb) = results
    assert y.dtype.name == str(ty.dtype).split(".")[1] and y.shape == ty.shape
    assert y.grad_fn.name() == ty.grad_fn.name()
    np.testing.assert_allclose(y.detach().numpy(), ty.detach().numpy(), rtol=1e-6)
    np.testing.assert_allclose(ga.numpy(), tga.numpy(), rtol=1e-6)
    if gb is not None:
        np.testing.assert_allclose(gb.numpy(), tgb.numpy(), rtol=1e-6)
    a = ember.tensor(a0, requires_grad=True)
    b = ember.tensor(b0) if isinstance(right, tuple) else b0
    general = getattr(ember, name)(a, b)
    np.testing.assert_array_equal(fn(a, b).detach().numpy(), general.detach().numpy())
    # the saved operands: modifying one in place refuses backward where torch saved it, which is where
    # a gradient to be computed reads it (mul's other operand; div's divisor; a number: nothing)
    for b_grad in (False, True):
        for changed in ("left", "right"):
            if changed == "right" and not isinstance(right, tuple):
                continue
            raised = []
            for lib in (ember, torch):
                c = lib.tensor(a0, requires_grad=True) * 1
                d = lib.tensor(b0, requires_grad=b_grad) * 1 if isinstance(right, tuple) else b0
                y = fn(c, d)
                with lib.no_grad():
                    (c if changed == "left" else d).add_(1)
                try:
                    y.sum().backward()
                    raised.append(None)
                except RuntimeError as e:
                    raised.append("modified by an inplace operation" in str(e))
            assert raised[0] == raised[1], (b_grad, changed, raised)


@requires_torch
def test_operators_on_parameters_match_torch():
    # nn.Parameter operands (a custom module's self.a + self.b * x) take the hot path too: plain
    # tensors out, torch's nodes and gradients
    x0 = np.linspace(-1, 1, 7).astype(np.float32)
    got = []
    for lib in (ember, torch):
        a, b = lib.nn.Parameter(lib.tensor(0.5)), lib.nn.Parameter(lib.tensor(x0 * 2))
        x = lib.tensor(x0)
        y = a + b * x - x / a
        assert type(y) is lib.Tensor and y.grad_fn.name() == "SubBackward0"
        y.backward(lib.ones_like(y))
        got.append((y.detach().numpy(), a.grad.numpy(), b.grad.numpy()))
    for e, t in zip(*got):
        np.testing.assert_allclose(e, t, rtol=1e-6)


def test_operators_hot_path_keeps_the_general_errors_and_promotions():
    f, i = ember.ones(3), ember.ones(3, dtype=ember.int64)
    with pytest.raises(RuntimeError, match=r"size of tensor a \(3\) must match the size of tensor b \(2\)"):
        f * ember.ones(2)
    with pytest.raises(RuntimeError, match="Subtraction, the `-` operator, with two bool tensors"):
        ember.ones(2, dtype=ember.bool) - ember.ones(2, dtype=ember.bool)
    assert (i / i).dtype is ember.float32 and (i * 2).dtype is ember.int64 and (i + 2.5).dtype is ember.float32
    assert (f.double() * f).dtype is ember.float64
    assert (ember.tensor([True]) + ember.tensor([True])).tolist() == [True]
    assert (1 / ember.tensor([0.0, -0.0])).tolist() == [float("inf"), float("-inf")]
    with pytest.raises(TypeError):
        f * "2"
    x = ember.ones(2, requires_grad=True)
    with ember.no_grad():
        assert (x * 2).grad_fn is None and not (x * x).requires_grad


def test_add_out_and_alpha():
    x, y = ember.ones(2, 3), ember.full((2, 3), 2.0)
    result = ember.empty(2, 3)
    ret = ember.add(x, y, alpha=10, out=result)
    assert ret is result
    np.testing.assert_allclose(result.numpy(), 21.0)


def test_out_refuses_autograd():
    x = ember.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="out="):
        ember.add(x, x, out=ember.empty(2))


def test_inplace_really_modifies_storage_and_bumps_version():
    a = ember.ones(5)
    b = a.numpy()
    v = a._version
    a.add_(1)
    np.testing.assert_array_equal(b, [2, 2, 2, 2, 2])
    assert a._version == v + 1
    a.mul_(3).sub_(1).div_(5)
    np.testing.assert_allclose(b, 1.0)
    a.clamp_(max=0.5)
    np.testing.assert_allclose(b, 0.5)
    a.zero_()
    assert not b.any()


def test_inplace_dtype_error_names_types():
    x = ember.zeros(3, dtype=ember.long)
    with pytest.raises(RuntimeError, match="Float can't be cast to the desired output type Long"):
        x.add_(1.5)


def test_inplace_on_leaf_requiring_grad_raises():
    x = ember.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        x.add_(1)
    with ember.no_grad():
        x.add_(1)
    np.testing.assert_allclose(x.detach().numpy(), 2.0)


def test_inplace_in_graph_is_differentiated():
    x = ember.tensor([1.0, 2.0], requires_grad=True)
    y = x * 1
    y.mul_(3)
    y.add_(x)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [4.0, 4.0])


def test_comparisons_and_logic():
    x = ember.tensor([1, 2, 3])
    assert (x > 1).dtype is ember.bool
    np.testing.assert_array_equal((x == 2).numpy(), [False, True, False])
    assert x.eq(x).all().item() is True
    np.testing.assert_array_equal(ember.logical_and(x > 1, x < 3).numpy(), [False, True, False])
    np.testing.assert_array_equal((~(x > 1)).numpy(), [True, False, False])
    assert ember.equal(x, ember.tensor([1, 2, 3]))
    assert ember.allclose(ember.tensor([1.0]), ember.tensor([1.0 + 1e-9]))


def test_clamp_grad_and_where():
    x = ember.tensor([-2.0, 0.5, 3.0], requires_grad=True)
    x.clamp(-1, 1).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [0, 1, 0])
    a = ember.tensor([1.0, 2.0], requires_grad=True)
    b = ember.tensor([10.0, 20.0], requires_grad=True)
    ember.where(ember.tensor([True, False]), a, b).sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), [1, 0])
    np.testing.assert_allclose(b.grad.numpy(), [0, 1])


def test_mixed_dtypes_bad_input_messages():
    with pytest.raises(TypeError, match="unsupported operand"):
        ember.ones(2) + "a"
    with pytest.raises(RuntimeError, match="Boolean value of Tensor with more than one value"):
        bool(ember.ones(2))


@requires_torch
@pytest.mark.parametrize("expr", [
    "x + [1., 2.]", "[1., 2.] + x", "x - [1., 2.]", "[1., 2.] - x", "x * [1., 2.]", "[1., 2.] * x", "x / [1., 2.]",
    "[1., 2.] / x", "x @ [1., 2.]", "[1., 2.] @ x", "x // [1., 2.]", "[1., 2.] // x", "x % (1., 2.)", "x ** [1., 2.]",
    "[1., 2.] ** x", "x + 'a'", "x - None", "x < [1., 2.]", "None >= x", "i & [1, 2]", "[1] | i", "i ^ None",
    "torch.tensor(2) * [1, 2]", "x == [1., 2.]", "x != None",
])
def test_operators_with_unsupported_operands_raise_pythons_error_as_torch(expr):
    # the operators return NotImplemented for what they can't take, as torch's do, so Python tries the
    # other operand (a list repeats by a one-element integer tensor) and names the operator in its error
    outcomes = []
    for lib in (torch, ember):
        scope = {"torch": lib, "x": lib.ones(2), "i": lib.ones(2, dtype=lib.int64)}
        try:
            outcomes.append(eval(expr, scope))
        except TypeError as e:
            outcomes.append(str(e).replace("torch", "ember"))
    assert outcomes[1] == outcomes[0]


@pytest.mark.parametrize("a,b", [((2, 3), (4,)), ((2, 3), (2, 1, 4)), ((5, 3), (3, 5))])
def test_broadcast_error_is_torchs_runtime_error(a, b):
    with pytest.raises(RuntimeError) as e:
        ember.ones(*a) + ember.ones(*b)
    assert "must match the size of tensor b" in str(e.value) and f"{list(a)} and {list(b)}" in str(e.value)
    if torch is not None:
        with pytest.raises(RuntimeError) as t:
            torch.ones(*a) + torch.ones(*b)
        assert str(e.value).startswith(str(t.value))
    for op in (ember.mul, ember.sub, ember.div, ember.eq, ember.maximum):
        with pytest.raises(RuntimeError, match="must match the size"):
            op(ember.ones(*a), ember.ones(*b))


def test_relu_fast_path_matches_general_path():
    # the zero-block fast path (float, C-contiguous) and the scalar path must agree: values,
    # dtype, NaN propagation, grads, and the in-place-modification check on the saved output
    from ember.ops import elementwise as E
    rng = np.random.default_rng(0)
    for shape in [(3,), (2, 5), (4, 3, 2), (2, 3, 4, 5), (7, 3)]:
        for dt in (np.float32, np.float64):
            a = rng.standard_normal(shape).astype(dt)
            a.flat[0] = np.nan
            a.flat[-1] = -0.0
            x = ember.from_numpy(a.copy()).requires_grad_()
            y = ember.relu(x)
            ref = E._relu_general(ember.from_numpy(a.copy()))
            assert y.dtype == ref.dtype
            np.testing.assert_array_equal(y.detach().numpy(), ref.numpy())
            assert y.grad_fn.name() == "ReluBackward0"
            y.sum().backward()
            # (a NaN output passes the gradient, as torch's threshold_backward: NaN <= 0 is False)
            np.testing.assert_array_equal(x.grad.numpy(), (np.nan_to_num(a, nan=1) > 0).astype(dt))
    # non-contiguous input and out= take the general path
    x = ember.from_numpy(rng.standard_normal((4, 3)).astype(np.float32)).t()
    np.testing.assert_array_equal(ember.relu(x).numpy(), np.maximum(x.numpy(), 0))
    # the cached zeros are never written: a later relu of the same shape is still right
    y = ember.relu(ember.full((2, 5), -3.0))
    y.add_(7)
    np.testing.assert_array_equal(ember.relu(ember.full((2, 5), -1.0)).numpy(), np.zeros((2, 5), np.float32))
    x = ember.randn(2, 5, requires_grad=True)
    y = ember.relu(x)
    y.add_(1)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()



@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_relu_out_of_cache_paths(monkeypatch, dt, threads):
    # large activations: the forward through clip, and the gradient made in chunks (a last chunk
    # short), on two threads past _RELU_PAR_MIN; the losers' gradient is +0.0 under a negative
    # upstream gradient, as torch's
    from ember.ops import elementwise as E
    monkeypatch.setattr(E, "_ZERO_MAX", 8)
    monkeypatch.setattr(E, "_RELU_CHUNK", 5)
    monkeypatch.setattr(E, "_RELU_PAR_MIN", 0)
    blocks = record_blocks(monkeypatch, threads)
    rng = np.random.default_rng(1)
    a = rng.standard_normal((3, 2, 4)).astype(dt)
    a.flat[3] = np.nan
    g = -np.abs(rng.standard_normal(a.shape)).astype(dt)
    x = ember.from_numpy(a.copy()).requires_grad_()
    y = ember.relu(x)
    np.testing.assert_array_equal(y.detach().numpy(), E._relu_general(ember.from_numpy(a.copy())).numpy())
    y.backward(ember.from_numpy(g))
    assert blocks == [(5, (3 if threads == 2 else 5, threads))]   # 24 elements: 5 chunks
    expect = np.where(np.nan_to_num(a, nan=1) > 0, g, 0).astype(dt)
    np.testing.assert_array_equal(x.grad.numpy().view(f"i{a.itemsize}"), expect.view(f"i{a.itemsize}"))
    if torch is not None:
        t = torch.from_numpy(a.copy()).requires_grad_()
        torch.relu(t).backward(torch.from_numpy(g))
        np.testing.assert_array_equal(x.grad.numpy().view(f"i{a.itemsize}"), t.grad.numpy().view(f"i{a.itemsize}"))


@pytest.mark.parametrize("dt", [np.float16, np.float32, np.float64])
@pytest.mark.parametrize("n", [12, 300_000])
def test_relu_keeps_signed_zeros_and_nans_as_torch(dt, n):
    """Forward bits and gradient bits on +-0.0, NaNs of both signs and infinities, against torch: the
    contiguous, in-place and general (strided) paths, small and past the cache, and a pooled relu (whose
    gradient the pool masks for it)."""
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    a = rng.standard_normal(n).astype(dt)
    a[:8] = [-0.0, 0.0, np.nan, -np.nan, np.inf, -np.inf, -1.0, 2.0]
    g = rng.standard_normal(n).astype(dt)
    g[:8] = -1.5
    bits = f"i{a.itemsize}"

    def both(lib, fn):
        x = lib.from_numpy(a.copy()).requires_grad_()
        y = fn(lib, x)
        y.backward(lib.from_numpy(g[:y.numel()].reshape(tuple(y.shape)).copy()))
        return y.detach().numpy().view(bits), x.grad.numpy().view(bits)
    cases = {
        "relu": lambda lib, x: lib.relu(x),
        "relu_": lambda lib, x: (x * 1).relu_(),
        "strided": lambda lib, x: lib.relu(x.reshape(-1, 2)[:, 0]) if n % 2 == 0 else lib.relu(x),
        "pooled": lambda lib, x: lib.nn.functional.max_pool2d(lib.relu(x.reshape(1, -1, 2, 2)), 2),
    }
    for name, fn in cases.items():
        if name == "pooled" and dt is np.float16:
            continue   # (torch has no float16 max_pool2d on the CPU)
        (ey, eg), (ty, tg) = both(ember, fn), both(torch, fn)
        if name == "pooled":   # (a pooled NaN's sign is the pool's business: compared as values)
            np.testing.assert_array_equal(ey.view(dt), ty.view(dt), err_msg=name)
        else:
            np.testing.assert_array_equal(ey, ty, err_msg=name)
        np.testing.assert_array_equal(eg, tg, err_msg=name)


def test_no_numpy_warnings_from_ember_ops():
    # in a fresh interpreter, as a script sees it (pytest resets warning filters around each test)
    import subprocess
    import sys
    code = ("import ember, numpy as np\n"
            "print((ember.tensor([1.0, 0.0]) / 0).tolist(), ember.log(ember.tensor([0.0])).item())\n"
            "u = ember.tensor([0.0, 1.0], requires_grad=True); u.sqrt().sum().backward()\n"
            "np.log(np.zeros(1))  # the user's own NumPy calls keep their warnings\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "[inf, nan] -inf\n"
    assert r.stderr.count("RuntimeWarning") == 1 and "divide by zero encountered in log" in r.stderr
    assert "ember" not in r.stderr


def test_public_functions_stay_silent_on_inf_and_nan_under_warnings_as_errors():
    # whether its wrapper swaps NumPy's fp state or (marked _fp_safe) leaves that to the op, no public
    # function warns where torch's kernels compute inf and nan silently; NumPy's state is left as found.
    # (The operators rely on the warnings filter ember installs: a state swap would cost them ~0.13 us)
    import warnings
    big = ember.tensor([[88.0, 1e38, -np.inf, np.nan], [0.0, -1.0, 3.0, np.inf]])
    huge = ember.full((2, 4), 3e38)
    F = ember.nn.functional
    calls = [lambda: ember.exp(huge), lambda: ember.log(big), lambda: ember.sqrt(big), lambda: ember.tanh(big),
             lambda: ember.sigmoid(-huge), lambda: F.softmax(big, 1), lambda: ember.relu(big), lambda: F.relu(big),
             lambda: F.log_softmax(big, 1), lambda: ember.softmax(big, 0), lambda: ember.sum(huge),
             lambda: huge.sum(1), lambda: ember.cat([huge, big]).sum(), lambda: ember.max(big, 1),
             lambda: ember.div(ember.flatten(big), 0), lambda: ember.add(huge, huge), lambda: ember.div(big, 0),
             lambda: ember.mul(huge, huge), lambda: ember.sub(-huge, huge), lambda: huge.mean(),
             lambda: ember.argmax(big), lambda: ember.neg(big), lambda: ember.matmul(huge, huge.t())]
    before = np.geterr()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for call in calls:
            call()
    assert np.geterr() == before


@pytest.mark.parametrize("op", [lambda x: x // 0, lambda x: x % 0, lambda x: ember.fmod(x, 0),
                                lambda x: 5 // (x - 7)])
def test_integer_division_by_zero_raises_like_torch(op):
    with pytest.raises(RuntimeError, match="ZeroDivisionError"):
        op(ember.tensor([7, 8]))
    assert (ember.tensor([1.0]) // 0).item() == float("inf")


@requires_torch
def test_reflected_floor_div_and_mod_keep_scalar_dtype():
    # a Python number on the left is a wrapped scalar in torch: 2.5 // int_tensor is float32
    for dtype in ("int64", "int32", "float64"):
        x, tx = ember.tensor([7, 8, 9], dtype=getattr(ember, dtype)), torch.tensor([7, 8, 9], dtype=getattr(torch, dtype))
        for f in (lambda x: 2.5 // x, lambda x: 2.5 % x, lambda x: 20 // x, lambda x: -3 % x):
            got, ref = f(x), f(tx)
            assert got.dtype.name == str(ref.dtype).split(".")[1]
            assert got.tolist() == ref.tolist()


@requires_torch
def test_integer_pow_with_negative_exponents_like_torch():
    cases = [([2, 1, -1, 3, -1, 0], [-1, -2, -3, 0, -2, -1]), ([2, -1], [-1, -3])]
    for a, b in cases:
        got = ember.tensor(a) ** ember.tensor(b)
        ref = torch.tensor(a) ** torch.tensor(b)
        assert got.tolist() == ref.tolist() and got.dtype is ember.int64
    assert (2 ** ember.tensor([-1, 2])).tolist() == (2 ** torch.tensor([-1, 2])).tolist()
    for dtype in ("int64", "uint8"):
        with pytest.raises(RuntimeError, match="Integers to negative integer powers are not allowed"):
            ember.tensor([2], dtype=getattr(ember, dtype)) ** -1


def test_bool_negation_and_expanded_inplace_errors_say_what_to_do():
    with pytest.raises(RuntimeError, match="use the `~` or `logical_not\\(\\)` operator instead"):
        -ember.tensor([True])
    assert (-ember.tensor([1, 2])).tolist() == [-1, -2]
    with pytest.raises(RuntimeError, match="more than one element of the written-to tensor refers to a single "
                                           "memory location.*Please clone\\(\\)"):
        ember.ones(3).expand(2, 3).add_(1)
    with pytest.raises(ValueError, match="only one element tensors can be converted to Python scalars"):
        float(ember.tensor([1.0, 2.0]))
    with pytest.raises(ValueError, match="only one element tensors"):
        int(ember.tensor([1, 2]))
    assert float(ember.tensor([2.5])) == 2.5 and int(ember.tensor([[3]])) == 3


def test_alpha_may_be_a_one_element_tensor():
    x, y = ember.ones(2), ember.ones(2)
    with ember.no_grad():
        x.add_(y, alpha=ember.tensor(2.0))
    assert x.tolist() == [3.0, 3.0]
    assert ember.add(x, y, alpha=ember.tensor(3.0)).tolist() == [6.0, 6.0]
    assert ember.sub(x, y, alpha=ember.tensor(3.0)).tolist() == [0.0, 0.0]
    w = ember.ones(2, requires_grad=True)
    ember.add(y, w, alpha=ember.tensor(2.0)).sum().backward()
    assert w.grad.tolist() == [2.0, 2.0]


@requires_torch
def test_integer_scalars_wrap_into_the_tensor_dtype_like_torch():
    # NumPy 2 refuses an out-of-range Python int; torch casts it modulo 2**bits
    cases = [("uint8", [1, 1], lambda x: x + -1), ("uint8", [1, 1], lambda x: x * -1), ("uint8", [200], lambda x: x + 100),
             ("int32", [1], lambda x: x * 2 ** 40), ("uint8", [5], lambda x: x - (-1)), ("uint8", [5], lambda x: x // -1),
             ("int64", [5], lambda x: x * -3), ("int8", [1], lambda x: x // True), ("float32", [1.0], lambda x: x / True),
             # in place too
             ("uint8", [1, 200], lambda x: x.add_(300)), ("uint8", [1, 200], lambda x: x.sub_(300)),
             ("uint8", [1, 200], lambda x: x.mul_(-1)), ("uint8", [1, 200], lambda x: x.add_(300, alpha=2)),
             ("int8", [1, 2], lambda x: x.sub_(-200)), ("int32", [3], lambda x: x.mul_(2 ** 40))]
    for dtype, data, f in cases:
        got = f(ember.tensor(data, dtype=getattr(ember, dtype)))
        ref = f(torch.tensor(data, dtype=getattr(torch, dtype)))
        assert got.tolist() == ref.tolist() and got.dtype.name == str(ref.dtype).split(".")[1], (dtype, data)
    for lib in (ember, torch):   # (true division's float result can't go into an integer tensor)
        with pytest.raises(RuntimeError, match="result type Float can't be cast to the desired output type Byte"):
            lib.tensor([1], dtype=lib.uint8).div_(300)


@requires_torch
@pytest.mark.parametrize("method", ["add_", "sub_", "add", "sub"])
def test_deprecated_number_alpha_overload_as_torch(method):
    # pre-2.0 tutorials update weights with p.data.add_(-lr, p.grad.data); torch 2.x still runs it
    # (warning once) and rejects other combinations with a TypeError
    import warnings
    results = []
    for lib in (torch, ember):
        a, b = lib.tensor([1.0, 2.0]), lib.tensor([0.5, 4.0])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = getattr(a, method)(-2, b)
        results.append((out.tolist(), a.tolist()))
        with pytest.raises(TypeError):
            getattr(a, method)(b, b)
    assert results[0] == results[1]


def test_deprecated_overload_warns_and_keeps_autograd():
    import warnings
    import ember.ops.elementwise as ew
    ew._deprecated_warned = False
    w = ember.ones(2, requires_grad=True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        y = ember.add(w * 1, 3.0, ember.tensor([1.0, 2.0]))
    assert any("This overload of add is deprecated" in str(c.message) for c in caught)
    assert caught[0].filename == __file__
    y.sum().backward()
    assert y.tolist() == [4.0, 7.0] and w.grad.tolist() == [1.0, 1.0]


# x ** e for a Python number e: torch's CPU kernel computes 3, -2 and -0.5 as x*x*x, 1/(x*x) and
# 1/sqrt(x); other whole exponents go through |x| (NumPy's power is ~90x slower on negative bases)
_POW_VALUES = np.concatenate([rng.standard_normal(3000) * 3,
                              [0.0, -0.0, np.inf, -np.inf, np.nan, 1e-30, -1e-30, 1e30, -1e30, 1.0, -1.0, 2.0, -2.0]])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("exponent", [3, 3.0, -2, -0.5, 0.5, 2, -1, 0, 1, 4, 5, -3, 7.0, -4])
def test_scalar_pow_special_values_and_signs(exponent, dtype):
    x = _POW_VALUES.astype(dtype)
    with np.errstate(all="ignore"):
        x64 = x.astype(np.float64)
        # the sign and the special values; torch takes +-0.5 through sqrt (sqrt(-inf) is nan)
        want = np.sqrt(x64) if exponent == 0.5 else 1 / np.sqrt(x64) if exponent == -0.5 \
            else np.power(x64, float(exponent))
        got = (ember.tensor(x) ** exponent).numpy()
    assert got.dtype == dtype
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want.astype(dtype)))
    np.testing.assert_array_equal(np.signbit(got), np.signbit(want.astype(dtype)))
    np.testing.assert_allclose(got, want.astype(dtype), rtol=4 * np.finfo(dtype).eps, atol=0)
    if exponent == 3:
        with np.errstate(all="ignore"):
            np.testing.assert_array_equal(got, x * x * x)


@requires_torch
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("exponent", [3, 3.0, -2, -0.5, 2, -1, 0, 1, 4, 5, -3, 7.0, 2.5])
def test_scalar_pow_against_torch(exponent, dtype):
    x = _POW_VALUES.astype(dtype)
    g = rng.standard_normal(x.shape).astype(dtype)
    e, t = ember.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    ey, ty = e ** exponent, t ** exponent
    ey.backward(ember.tensor(g))
    ty.backward(torch.tensor(g))
    got, want = ey.detach().numpy(), ty.detach().numpy()
    ggot, gwant = e.grad.numpy(), t.grad.numpy()
    if exponent in (3, -2, -0.5, 2, -1, 0, 1):   # torch's exact formulas
        np.testing.assert_array_equal(got, want)
    else:   # torch's SLEEF pow is within 1 ulp too, not correctly rounded
        np.testing.assert_allclose(got, want, rtol=2 * np.finfo(dtype).eps, atol=0)
    if exponent in (3, 2, -1, 0, 1):   # grad * (e * x ** (e - 1)), as torch groups it
        np.testing.assert_array_equal(ggot, gwant)
    else:
        np.testing.assert_array_equal(np.isfinite(ggot), np.isfinite(gwant))
        fin = np.isfinite(gwant)
        np.testing.assert_allclose(ggot[fin], gwant[fin], rtol=4 * np.finfo(dtype).eps, atol=0)


SPECIAL_FLOATS = [-0.0, 0.0, np.nan, np.inf, -np.inf, 1.5, -1.5, 3.0, 6e4, -6e4]

# x ** y for a tensor y: negative bases go through |x| (NumPy's power takes ~55 ns an element there)
_POW_SPECIALS = [0.0, -0.0, 1.0, -1.0, 2.0, -2.0, 0.5, -0.5, 3.0, -3.0, 2.5, -2.5, np.inf, -np.inf, np.nan,
                 1e-30, -1e-30, 1e30, -1e30, 7.0, -7.0, 2.0 ** 25, -(2.0 ** 25), 2.0 ** 60, -(2.0 ** 60)]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_tensor_pow_special_values_and_signs(dtype):
    base, exponent = (np.array(v, dtype) for v in zip(*[(a, b) for a in _POW_SPECIALS for b in _POW_SPECIALS]))
    with np.errstate(all="ignore"):
        want = np.power(base.astype(np.float64), exponent.astype(np.float64)).astype(dtype)   # C's pow
    got = ember.pow(ember.tensor(base), ember.tensor(exponent)).numpy()
    assert got.dtype == dtype
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_array_equal(np.signbit(got)[~np.isnan(want)], np.signbit(want)[~np.isnan(want)])
    np.testing.assert_allclose(got, want, rtol=2 * np.finfo(dtype).eps, atol=0)


@requires_torch
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shapes", [((3000,), (3000,)), ((60, 1), (1, 50)), ((1, 50), (60, 1))])
def test_tensor_pow_mixed_signs_against_torch(dtype, shapes):
    x = (rng.standard_normal(shapes[0]) * 3).astype(dtype)
    y = np.round(rng.standard_normal(shapes[1]) * 4).astype(dtype)
    y.reshape(-1)[::3] += 0.5   # a third of the exponents not whole: NaN for the negative bases
    e, t = [ember.tensor(x, requires_grad=True), ember.tensor(y, requires_grad=True)], \
        [torch.tensor(x, requires_grad=True), torch.tensor(y, requires_grad=True)]
    ez, tz = e[0] ** e[1], t[0] ** t[1]
    g = rng.standard_normal(tz.shape).astype(dtype)
    ez.backward(ember.tensor(g))
    tz.backward(torch.tensor(g))
    got, want = ez.detach().numpy(), tz.detach().numpy()
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_allclose(got, want, rtol=2 * np.finfo(dtype).eps, atol=0, equal_nan=True)
    # the gradients, summed over broadcast axes, within a few ulps of the sum of their terms' magnitudes
    x64, y64, g64 = np.broadcast_arrays(x.astype(np.float64), y.astype(np.float64), g.astype(np.float64))
    with np.errstate(all="ignore"):
        terms = [np.abs(g64 * y64 * x64 ** (y64 - 1)), np.abs(g64 * x64 ** y64 * np.log(np.abs(x64)))]
    for k, (shape, ours, theirs) in enumerate(zip(shapes, e, t)):
        got, want = ours.grad.numpy(), theirs.grad.numpy()
        np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
        axes = tuple(i for i, n in enumerate(shape) if n == 1 and len(shape) > 1)
        scale = np.nansum(terms[k], axis=axes, keepdims=True).reshape(got.shape)
        ok = np.isnan(want) | (np.abs(got - want) <= 8 * np.finfo(dtype).eps * scale) | (got == want)
        assert ok.all(), (got[~ok], want[~ok])



@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16])
@pytest.mark.parametrize("size", ["small", "large"])   # large: past clamp's one-bound size switch
def test_clamp_and_nan_to_num_match_torch_on_special_values(oracle, dtype, size):
    # clamp runs as one clip ufunc (NumPy's maximum against a number has no SIMD loop), nan_to_num
    # as a clip to the dtype's extremes then NaN: torch's results, signed zeros and NaN included
    v = np.tile(np.array(SPECIAL_FLOATS, dtype), 1 if size == "small" else 1000)
    bounds = [-0.0, 0.0, float("nan"), float("inf"), -float("inf"), 1.0, -1.0, 2, None]
    for lo in bounds:
        for hi in bounds:
            if lo is None and hi is None:
                continue
            want = oracle.clamp(oracle.tensor(v), min=lo, max=hi).numpy()
            got = ember.clamp(ember.tensor(v), min=lo, max=hi).numpy()
            assert got.dtype == want.dtype, (lo, hi)
            np.testing.assert_array_equal(got, want, err_msg=f"clamp({lo}, {hi})")
            np.testing.assert_array_equal(np.signbit(got), np.signbit(want), err_msg=f"clamp({lo}, {hi})")
    for nan in (0.0, -1.0, float("inf")):
        want = oracle.nan_to_num(oracle.tensor(v), nan=nan).numpy()
        got = ember.nan_to_num(ember.tensor(v), nan=nan).numpy()
        assert got.dtype == want.dtype
        np.testing.assert_array_equal(got, want)
        np.testing.assert_array_equal(np.signbit(got), np.signbit(want))


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
@pytest.mark.parametrize("shapes", [((70000,), (70000,), (70000,)), ((300, 250), (250,), (300, 250)),
                                    ((300, 250), (300, 1), None), ((250, 300), None, (250, 300))])
def test_backend_where_is_numpys_bit_for_bit(dtype, shapes):
    # ember's where on large NumPy arrays selects by bit masks (np.where slows ~9x on an unpredictable
    # condition): the same bits as np.where, NaN payloads and signed zeros included, with broadcasting,
    # a number on either side, and strided operands
    from ember import _backend as B
    rng = np.random.default_rng(0)
    sc, sa, sb = shapes
    cond = rng.random(sc) > 0.5
    special = np.array([np.nan, -0.0, 0.0, np.inf, -np.inf], dtype)

    def operand(shape, number):
        if shape is None:
            return number
        v = rng.standard_normal(shape).astype(dtype)
        v.reshape(-1)[::7] = np.resize(special, v.reshape(-1)[::7].shape)
        return v
    a, b = operand(sa, 2.5), operand(sb, -0.0)
    want = np.where(cond, a, b)
    got = B.where(np, cond, a, b)
    assert got.dtype == want.dtype and got.shape == want.shape
    bits = {2: np.int16, 4: np.int32, 8: np.int64}[want.dtype.itemsize]
    np.testing.assert_array_equal(got.view(bits), want.view(bits))
    if sa is not None and len(sa) == 2 and sa[1] > 1:   # a transposed (strided) operand
        at = np.ascontiguousarray(a.T).T
        np.testing.assert_array_equal(B.where(np, cond, at, b).view(bits), np.where(cond, at, b).view(bits))


@pytest.mark.parametrize("name", ["elu", "leaky_relu", "softshrink", "threshold", "smooth_l1_loss", "huber_loss",
                                  "where", "masked_fill", "softplus"])
def test_large_data_dependent_selects_match_torch(oracle, name):
    # the ops whose select runs on the bit-mask path past 16,384 elements: values and gradients
    rng = np.random.default_rng(1)
    x = rng.standard_normal((64, 1100)).astype(np.float32) * 3
    y = rng.standard_normal((64, 1100)).astype(np.float32)

    def run(lib):
        F = lib.nn.functional
        a = lib.tensor(x, requires_grad=True)
        b = lib.tensor(y, requires_grad=True)
        out = {"elu": lambda: F.elu(a), "leaky_relu": lambda: F.leaky_relu(a, 0.1),
               "softshrink": lambda: F.softshrink(a, 0.7), "threshold": lambda: F.threshold(a, 0.5, -2.0),
               "smooth_l1_loss": lambda: F.smooth_l1_loss(a, b, reduction="none", beta=0.8),
               "huber_loss": lambda: F.huber_loss(a, b, reduction="none", delta=1.3),
               "where": lambda: lib.where(a > b, a, b), "masked_fill": lambda: a.masked_fill(a > 0.2, -1.5),
               "softplus": lambda: F.softplus(a, beta=2.0, threshold=3.0)}[name]()
        out.backward(lib.tensor(np.cos(x)))
        return out.detach().numpy(), a.grad.numpy(), (b.grad.numpy() if b.grad is not None else None)
    got, want = run(ember), run(oracle)
    for g, w in zip(got, want):
        if w is None:
            assert g is None or not g.any()
        else:
            np.testing.assert_allclose(g, w, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("op", ["add", "sub", "mul", "div"])
def test_per_channel_broadcasts_unbuffered_same_bits_and_state_restored(oracle, op, monkeypatch):
    # an operand repeated along rows of >= 128 elements runs under a short ufunc buffer
    # (_backend.broadcast_state): NumPy's buffered bits, torch's values, NumPy's state back after
    from tests.conftest import check_unbuffered_rows
    rng = np.random.default_rng(5)
    x = rng.standard_normal((4, 6, 16, 20)).astype(np.float32)
    s = (rng.random((6, 1, 1)) + 0.5).astype(np.float32)
    g = rng.standard_normal((4, 6, 16, 20)).astype(np.float32)

    def run(lib, _):
        xt, st = lib.tensor(x, requires_grad=True), lib.tensor(s, requires_grad=True)
        y = getattr(lib, op)(xt, st)
        y.backward(lib.tensor(g))
        return y.detach().numpy().copy(), xt.grad.numpy().copy(), st.grad.numpy().copy()

    check_unbuffered_rows(run, None, None, oracle, monkeypatch, rtol=1e-5, atol=1e-5)


def test_broadcast_state_only_for_one_operand_repeated_along_long_rows():
    from ember import _backend as B

    def state(a, b):
        return B.broadcast_state(np.zeros(a, np.float32), np.zeros(b, np.float32))
    assert state((8, 16, 32, 32), (16, 1, 1)) is B.rows_state(1024)
    assert state((16, 1, 1), (8, 16, 32, 32)) is B.rows_state(1024)
    assert state((64, 300), (64, 1)) is B.rows_state(300)
    for a, b in (((8, 16, 32, 32), (8, 16, 32, 32)),   # same shape
                 ((64, 1), (1, 1024)),                # both broadcast
                 ((300, 64), (300, 1)),               # rows shorter than ROWS_MIN
                 ((4, 16384), (4, 1)),                # rows past NumPy's buffer: unbuffered anyway
                 ((8, 16, 32, 32), (32,))):           # a row vector: no stride-0 run along the rows
        assert state(a, b) is B.FP_QUIET, (a, b)


def test_dropout2d_mask_over_long_rows_same_bits_and_state_restored(monkeypatch):
    # its (N, C, 1, 1) mask repeats along rows of H * W = 320: the short buffer gives the same bits
    from ember import _backend as B
    x = np.random.default_rng(6).standard_normal((4, 6, 16, 20)).astype(np.float32)

    def run():
        ember.manual_seed(0)
        xt = ember.tensor(x, requires_grad=True)
        y = ember.nn.functional.dropout2d(xt, 0.5)
        y.backward(ember.ones_like(y))
        return y.detach().numpy().copy(), xt.grad.numpy().copy()

    before = np.getbufsize(), np.geterr()
    y, gx = run()
    assert (np.getbufsize(), np.geterr()) == before
    kept = (y != 0).reshape(24, -1)
    assert kept.all(axis=1).sum() + (~kept).all(axis=1).sum() == 24 and 0 < kept.all(axis=1).sum() < 24
    np.testing.assert_array_equal(gx, np.where(y != 0, 2.0, 0.0))
    monkeypatch.setattr(B, "ROWS_MIN", 1 << 30)   # NumPy's default buffer throughout
    for a, b in zip((y, gx), run()):
        assert np.array_equal(a, b)


@pytest.mark.parametrize("dtype", [np.float32, np.float16])
def test_fmod_remainder_and_floor_divide_of_large_arrays_exactly(dtype, monkeypatch):
    # from _FMOD_MIN elements on, float16/float32 fmod runs as a - trunc(a / b) * b in float64 (exact
    # below 2^23 quotients, with one |b| back where the quotient rounded up): NumPy's values bit for bit,
    # over random magnitudes, dividends a hair either side of whole multiples, and special values
    from ember.ops import elementwise as E
    _FMOD_MIN = E._FMOD_MIN
    calls = []
    narrow = E._fmod_narrow
    monkeypatch.setattr(E, "_fmod_narrow", lambda *args: calls.append(1) or narrow(*args))
    g = np.random.default_rng(3)
    n = 3 * _FMOD_MIN
    scale = 10.0 ** g.integers(-3, 4, n) if dtype == np.float32 else 10.0 ** g.integers(-1, 2, n)
    a, b = (g.standard_normal(n) * scale).astype(dtype), (g.standard_normal(n) * scale[::-1]).astype(dtype)
    k = 3000 if dtype == np.float32 else 100
    whole = (g.integers(-k, k, n) * b).astype(dtype)
    specials = np.array([0.0, -0.0, 1.0, -1.0, np.inf, -np.inf, np.nan, 3.0, -3.0, 0.5, 7.0,
                         np.finfo(dtype).max, -np.finfo(dtype).max, np.finfo(dtype).smallest_subnormal], dtype)
    sa, sb = (np.tile(v.ravel(), n // specials.size ** 2 + 1)[:n] for v in np.meshgrid(specials, specials))
    pairs = [(a, b), (whole, b), (np.nextafter(whole, dtype(np.inf)), b), (np.nextafter(whole, dtype(-np.inf)), b),
             (sa, sb), (a.reshape(-1, 64), b[:64])]   # (the last: broadcast)
    with np.errstate(all="ignore"):
        for x, y in pairs:
            want = np.fmod(x, y)
            got = ember.fmod(ember.tensor(x), ember.tensor(y)).numpy()
            assert got.dtype == dtype and got.shape == want.shape
            np.testing.assert_array_equal(got, want)
            np.testing.assert_array_equal(np.signbit(got), np.signbit(want))
            # remainder: torch's fmod, then + y where the signs differ (a zero keeps x's sign)
            r = ember.remainder(ember.tensor(x), ember.tensor(y)).numpy()
            fixed = np.where((want != 0) & ((y < 0) != (want < 0)), want + y, want)
            np.testing.assert_array_equal(r, fixed)
            np.testing.assert_array_equal(np.signbit(r), np.signbit(fixed))
            # floor division: NumPy's (and torch's) rule from the same remainder
            q, want = ember.floor_divide(ember.tensor(x), ember.tensor(y)).numpy(), np.floor_divide(x, y)
            assert q.dtype == dtype
            np.testing.assert_array_equal(q, want)
            np.testing.assert_array_equal(np.signbit(q), np.signbit(want))
    assert len(calls) == 3 * len(pairs)
    # a Python number as the divisor, cast to the tensor's dtype as NumPy casts it (the values; remainder's
    # zeros keep the dividend's sign, as torch's, where NumPy's take the divisor's)
    for s in (2.5, -0.7, 3):
        with np.errstate(all="ignore"):
            for got, want in [(ember.tensor(a).fmod(s), np.fmod(a, s)), (ember.tensor(a) % s, np.remainder(a, s)),
                              (ember.tensor(a) // s, np.floor_divide(a, s))]:
                assert got.dtype == ember.tensor(a).dtype
                np.testing.assert_array_equal(got.numpy(), want)
    assert len(calls) == 3 * len(pairs) + 9


@requires_torch
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_addcdiv_scales_before_dividing_as_torch(dtype):
    # torch computes input + value * tensor1 / tensor2 left to right: (value * tensor1) / tensor2
    g = np.random.default_rng(4)
    x, y, z = (g.standard_normal(20000).astype(dtype) for _ in range(3))
    for value in (1.5, 0.1, -2.3, 3):
        got = ember.addcdiv(ember.tensor(x), ember.tensor(y), ember.tensor(z), value=value).numpy()
        want = torch.addcdiv(torch.tensor(x), torch.tensor(y), torch.tensor(z), value=value).numpy()
        np.testing.assert_array_equal(got, want)
