"""DLPack: tensors and NumPy arrays exchange memory without copies, as torch's do."""
import numpy as np
import pytest

import ember
from ember.utils import dlpack

from tests.conftest import requires_torch, torch


def test_numpy_reads_tensor_memory():
    t = ember.arange(6.).reshape(2, 3)
    assert t.__dlpack_device__() == (dlpack.DLDeviceType.kDLCPU, 0)
    a = np.from_dlpack(t)
    a[0, 0] = 100
    assert t[0, 0].item() == 100
    assert np.from_dlpack(t.t()).strides == t.t().numpy().strides


def test_from_dlpack_shares_numpy_memory():
    x = np.arange(4.)
    u = ember.from_dlpack(x)
    u[0] = 7
    assert x[0] == 7 and u.dtype == ember.float64
    c = ember.from_dlpack(x, copy=True)
    c[1] = -1
    assert x[1] == 1


def test_capsule_roundtrip_and_single_use():
    t = ember.arange(3, dtype=ember.int32)
    cap = dlpack.to_dlpack(t)
    u = ember.utils.dlpack.from_dlpack(cap)
    assert u.data_ptr() == t.data_ptr() and u.tolist() == [0, 1, 2]
    with pytest.raises(RuntimeError, match="capsule"):
        ember.from_dlpack(cap)
    with pytest.raises(RuntimeError, match="invalid capsule"):
        ember.from_dlpack("abc")


def test_requires_grad_refuses_export():
    with pytest.raises(BufferError, match="require gradient"):
        np.from_dlpack(ember.ones(2, requires_grad=True))
    assert np.from_dlpack(ember.ones(2, requires_grad=True).detach()).tolist() == [1., 1.]


def test_bool_and_device_keyword():
    b = ember.tensor([True, False])
    assert np.from_dlpack(b).tolist() == [True, False]
    assert ember.from_dlpack(np.ones(2), device="cpu").device.type == "cpu"


@requires_torch
def test_exchange_with_torch():
    t = ember.arange(4.)
    tt = torch.from_dlpack(t)
    tt[0] = 9
    assert t[0].item() == 9
    back = ember.from_dlpack(torch.arange(3.))
    assert back.tolist() == [0., 1., 2.]
    via_capsule = ember.from_dlpack(torch.utils.dlpack.to_dlpack(torch.arange(2)))
    assert via_capsule.tolist() == [0, 1] and via_capsule.dtype == ember.int64


def test_top_level_to_dlpack_is_the_utils_one():
    assert ember.to_dlpack is dlpack.to_dlpack
    t = ember.arange(3.)
    u = ember.from_dlpack(ember.to_dlpack(t))
    u[0] = 5
    assert t[0].item() == 5
    # a capsule is a raw export: torch hands one out for a tensor requiring grad too
    assert ember.from_dlpack(ember.to_dlpack(ember.ones(2, requires_grad=True))).tolist() == [1., 1.]
    with pytest.raises(TypeError, match=r"to_dlpack\(\): argument 'data' \(position 1\) must be Tensor, not int"):
        ember.to_dlpack(3)


@requires_torch
def test_top_level_to_dlpack_matches_torch():
    with pytest.raises(TypeError, match="must be Tensor, not int"):
        torch.to_dlpack(3)
    assert torch.from_dlpack(ember.to_dlpack(ember.arange(4))).tolist() == [0, 1, 2, 3]
    assert ember.from_dlpack(torch.to_dlpack(torch.arange(2.))).dtype == ember.float32
    # a legacy capsule's memory is writable (NumPy alone would read it as read-only), as torch's consumer has it
    tt = torch.arange(3.)
    shared = ember.from_dlpack(torch.to_dlpack(tt))
    shared[0] = 9
    assert tt.tolist() == [9., 1., 2.] and shared.data_ptr() == tt.data_ptr()
    x = np.arange(3.)
    ember.from_dlpack(x.__dlpack__()).add_(1)
    assert x.tolist() == [1., 2., 3.]
