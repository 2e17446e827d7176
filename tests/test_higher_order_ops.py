"""torch.cond, torch.while_loop, torch.sym_* and the in-place functional dropouts, against torch."""
import numpy as np
import pytest

import ember
from tests.conftest import requires_torch, torch


def _control_flow(lib):
    x = lib.tensor([0.5, -1.0, 2.0], dtype=lib.float64, requires_grad=True)   # (float32 cos differs in ulps)
    out = []
    for pred in (x.sum() > 0, x.sum() < 0, True, lib.tensor([False])):
        y = lib.cond(pred, lambda a: a.cos() * 2, lambda a: a.sin(), (x,))
        x.grad = None
        y.sum().backward()
        out.append((np.round(y.detach().numpy(), 6).tolist(), np.round(x.grad.numpy(), 6).tolist()))
    i, acc = lib.while_loop(lambda i, a: i < 3, lambda i, a: (i + 1, a * 2), (lib.tensor(0), lib.ones(2)))
    bare = lib.while_loop(lambda i: i < 7, lambda i: i + 1, (lib.tensor(5),))   # body's shape: a bare tensor
    out.append((i.item(), acc.tolist(), bare.item(), lib.while_loop(lambda i: i < 7, lambda i: (i + 1,),
                                                                    (lib.tensor(5),))[0].item()))
    out.append([lib.sym_int(3.7), lib.sym_int(-3.7), lib.sym_float(2), lib.sym_max(2, 5), lib.sym_min(2.5, 1),
                lib.sym_not(True), lib.sym_sqrt(4), lib.sym_sum([1, 2, 3]), lib.sym_sum([]), lib.sym_ite(False, 1, 2)])
    try:
        lib.cond(lib.tensor([True, False]), lambda a: a, lambda a: a, (x,))
    except RuntimeError as e:
        out.append(str(e).split(", but got")[0])
    return out


def test_cond_and_while_loop():
    got = _control_flow(ember)
    assert got[0][0] == pytest.approx(list(np.round(2 * np.cos([0.5, -1.0, 2.0]), 6)))
    assert got[0][1] == pytest.approx(list(np.round(-2 * np.sin([0.5, -1.0, 2.0]), 6)))
    assert got[4] == (3, [8.0, 8.0], 7, 7)
    assert got[5] == [3, -3, 2.0, 5, 1, False, 2.0, 6, 0, 2]
    assert got[6] == "Expected pred to be bool or single-element tensor"


@requires_torch
def test_cond_and_while_loop_match_torch():
    assert _control_flow(ember) == _control_flow(torch)


def _dropouts(lib):
    out = []
    for name, p, train in (("dropout_", 0.4, True), ("feature_dropout_", 0.5, True), ("alpha_dropout_", 0.3, True),
                           ("feature_alpha_dropout_", 0.5, True), ("dropout_", 0.4, False)):
        lib.manual_seed(3)
        t = lib.ones(2, 3, 4)
        r = getattr(lib, name)(t, p, train)
        out.append((r is t, np.round(t.numpy(), 5).tolist()))
    return out


def test_inplace_functional_dropouts_write_into_their_input():
    got = _dropouts(ember)
    assert all(same for same, _ in got)
    feature = np.array(got[1][1])
    assert (feature == feature[:, :, :1]).all()   # one draw per (sample, channel)
    assert got[4][1] == np.ones((2, 3, 4)).tolist()


@requires_torch
def test_inplace_functional_dropouts_match_torch():
    mine, theirs = _dropouts(ember), _dropouts(torch)
    for (s1, a), (s2, b) in zip(mine, theirs):
        assert s1 == s2
        np.testing.assert_allclose(a, b, rtol=1e-6)
