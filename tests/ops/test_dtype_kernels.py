"""Integer, bool and half inputs to ops whose torch kernels have no version for them: the same
refusal as torch (exception type and message), or the same result dtype where torch computes.
NumPy computes nearly everything for any dtype, so ember answered where torch refuses."""
import numpy as np
import pytest

import ember
from tests.conftest import requires_torch, torch


def _x(T, dtype):
    return T.tensor([[1, 0, 2], [3, 1, 0]], dtype=getattr(T, dtype))


OPS = {
    "abs": lambda T, x: T.abs(x), "floor": lambda T, x: T.floor(x), "ceil": lambda T, x: T.ceil(x),
    "round": lambda T, x: T.round(x), "trunc": lambda T, x: T.trunc(x), "frac": lambda T, x: T.frac(x),
    "relu": lambda T, x: T.relu(x), "hardtanh": lambda T, x: T.nn.functional.hardtanh(x),
    "relu6": lambda T, x: T.nn.functional.relu6(x), "threshold": lambda T, x: T.nn.functional.threshold(x, 0.5, 0.0),
    "softsign": lambda T, x: T.nn.functional.softsign(x), "tanhshrink": lambda T, x: T.nn.functional.tanhshrink(x),
    "mm": lambda T, x: x @ x.t(), "matmul 3d": lambda T, x: x[None] @ x.t()[None],
    "dot": lambda T, x: T.dot(x[0], x[1]),
    "mv": lambda T, x: T.mv(x, x[0]), "kthvalue": lambda T, x: T.kthvalue(x, 1)[0],
    "quantile": lambda T, x: T.quantile(x, 0.5), "flip without dims": lambda T, x: T.flip(x),
    "layer_norm": lambda T, x: T.nn.functional.layer_norm(x, (3,)),
    "max_pool1d": lambda T, x: T.nn.functional.max_pool1d(x[None], 1),
    "max_pool2d": lambda T, x: T.nn.functional.max_pool2d(x[None, None], 1),
    "max_pool2d 2x2": lambda T, x: T.nn.functional.max_pool2d(T.cat([x, x])[None, None, :, :2], 2),
    "avg_pool1d": lambda T, x: T.nn.functional.avg_pool1d(x[None], 1),
    "adaptive_avg_pool1d": lambda T, x: T.nn.functional.adaptive_avg_pool1d(x[None], 1),
    "adaptive_max_pool2d": lambda T, x: T.nn.functional.adaptive_max_pool2d(x[None, None], 1),
    "interpolate nearest": lambda T, x: T.nn.functional.interpolate(x[None], scale_factor=2),
    "interpolate linear": lambda T, x: T.nn.functional.interpolate(x[None], scale_factor=2, mode="linear"),
    "interpolate area": lambda T, x: T.nn.functional.interpolate(x[None], scale_factor=2, mode="area"),
}


@requires_torch
@pytest.mark.parametrize("dtype", ["int64", "uint8", "bool", "float16"])
@pytest.mark.parametrize("name", sorted(OPS))
def test_kernels_refuse_or_compute_as_torch(name, dtype):
    def run(T):
        try:
            out = OPS[name](T, _x(T, dtype))
            return "ok", str(out.dtype).split(".")[1]
        except Exception as e:  # noqa: BLE001 - compared with torch's
            return type(e).__name__, str(e).split(" (")[0]
    assert run(ember) == run(torch)


def test_refusals_name_torchs_kernel():
    with pytest.raises(NotImplementedError, match="\"frac_cpu\" not implemented for 'Long'"):
        ember.frac(ember.tensor([1, 2]))
    with pytest.raises(NotImplementedError, match="\"addmm_impl_cpu_\" not implemented for 'Bool'"):
        ember.ones(2, 2, dtype=ember.bool) @ ember.ones(2, 2, dtype=ember.bool)
    with pytest.raises(RuntimeError, match="Boolean inputs not supported for relu"):
        ember.relu(ember.tensor([True]))
    with pytest.raises(TypeError, match="flip\\(\\) missing 1 required positional arguments: \"dims\""):
        ember.ones(2).flip()
    assert ember.floor(ember.tensor([1, 2])).dtype is ember.int64   # integers still work, as in torch


BINARY = {
    "floor_divide": lambda T, a, b: a // b, "remainder": lambda T, a, b: a % b, "pow": lambda T, a, b: a ** b,
    "lshift": lambda T, a, b: a << b, "rshift": lambda T, a, b: T.bitwise_right_shift(a, b),
    "fmod": lambda T, a, b: T.fmod(a, b), "and": lambda T, a, b: a & b, "atan2": lambda T, a, b: T.atan2(a, b),
    "copysign": lambda T, a, b: T.copysign(a, b), "xlogy": lambda T, a, b: T.xlogy(a, b),
    "float_power": lambda T, a, b: T.float_power(a, b), "ldexp": lambda T, a, b: T.ldexp(a, b),
    "fmax": lambda T, a, b: T.fmax(a, b), "heaviside": lambda T, a, b: T.heaviside(a, b),
    "nextafter": lambda T, a, b: T.nextafter(a, b), "isclose": lambda T, a, b: T.isclose(a, b),
    "sub_": lambda T, a, b: a.clone().sub_(b), "add_": lambda T, a, b: a.clone().add_(b),
    "mul_": lambda T, a, b: a.clone().mul_(b), "bool ** True": lambda T, a, b: a ** True,
}
VALUES = {"bool": [True, False, True], "uint8": [1, 0, 250], "int64": [7, -3, 0], "float32": [1.5, -2.0, 0.0],
          "complex64": [1 + 1j, -2, 0]}


@requires_torch
@pytest.mark.parametrize("pair", [("bool", "bool"), ("uint8", "int64"), ("int64", "bool"), ("float32", "bool"),
                                  ("float32", "complex64"), ("complex64", "complex64"), ("uint8", "float32")])
@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_ops_take_torchs_dtypes(name, pair):
    def run(T):
        a, b = (T.tensor(VALUES[d], dtype=getattr(T, d)) for d in pair)
        try:
            out = BINARY[name](T, a, b)
            return "ok", str(out.dtype).split(".")[1], out.numpy()
        except Exception as e:  # noqa: BLE001 - compared with torch's
            return type(e).__name__, str(e).split(" (")[0].split(".")[0].split(":")[0]
    e, t = run(ember), run(torch)
    assert e[:2] == t[:2]
    if e[0] == "ok" and not (name in ("pow", "float_power") and "complex64" in pair):
        # (torch's complex powers go through exp(y log x): 0 ** 0 is nan there, 1 in NumPy)
        np.testing.assert_allclose(e[2], t[2], rtol=1e-6)
        for part in ((e[2].real, t[2].real), (e[2].imag, t[2].imag)) if e[2].dtype.kind == "c" else ((e[2], t[2]),):
            assert (np.signbit(part[0]) == np.signbit(part[1])).all()   # -0.0 prints differently


def test_integer_inplace_results_wrap_as_torch():
    u = ember.tensor([1, 2], dtype=ember.uint8)
    assert u.add_(ember.tensor([300, 2])).tolist() == [45, 4]   # int64 into uint8: wraps, as torch casts
    with pytest.raises(RuntimeError, match="result type Float can't be cast to the desired output type Byte"):
        u.add_(ember.tensor([1.5, 2.0]))
    with pytest.raises(RuntimeError, match="Subtraction, the `-` operator, with a bool tensor is not supported"):
        ember.ones(2).sub_(ember.tensor([True, False]))
