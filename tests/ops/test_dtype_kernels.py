"""Integer, bool and half inputs to ops whose torch kernels have no version for them: the same
refusal as torch (exception type and message), or the same result dtype where torch computes.
NumPy computes nearly everything for any dtype, so ember answered where torch refuses."""
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
    "mm": lambda T, x: x @ x.t(), "matmul 3d": lambda T, x: x[None] @ x.t()[None], "dot": lambda T, x: T.dot(x[0], x[1]),
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
