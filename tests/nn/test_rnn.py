"""Recurrent layers and sequence utilities against torch: RNN/LSTM/GRU and their cells given identical
weights (outputs, input and parameter gradients), a float64 central-difference check, state_dict round
trips through real files in both directions, repr text, torch's errors, pad_sequence and packing."""
import warnings

import numpy as np
import pytest

import ember
import ember.nn as nn
from ember.nn.utils import rnn as ernn
from tests.conftest import numeric_grad, requires_torch, torch

pytestmark = requires_torch

RTOL, ATOL = 1e-4, 2e-5


def _copy_weights(tm, em):
    """torch module's weights into the ember module, through numpy."""
    em.load_state_dict({k: ember.tensor(v.detach().numpy()) for k, v in tm.state_dict().items()})


def _pair(cls_name, **kw):
    tm = getattr(torch.nn, cls_name)(**kw)
    em = getattr(nn, cls_name)(**kw)
    _copy_weights(tm, em)
    return tm, em


def _both(a, requires_grad=False):
    a = np.asarray(a, dtype=np.float32)
    return torch.tensor(a, requires_grad=requires_grad), ember.tensor(a, requires_grad=requires_grad)


def _close(e, t, msg=""):
    np.testing.assert_allclose(e.detach().numpy(), t.detach().numpy(), rtol=RTOL, atol=ATOL, err_msg=msg)


def _flat(out):
    """(output, h) / (output, (h, c)) / h / (h, c) as a flat list of tensors."""
    if isinstance(out, (tuple, list)):
        return [t for o in out for t in _flat(o)]
    return [out]


def _loss(tensors, weights):
    # a different random weighting per output, so every output's gradient matters
    total = None
    for t, w in zip(tensors, weights):
        term = (t * w).sum()
        total = term if total is None else total + term
    return total


def _call_args(lib, x, states):
    """A module call's arguments from arrays, all requiring grad: (x, h) or (x, (h, c)) for an LSTM;
    and the state tensors."""
    ss = [lib.tensor(s, requires_grad=True) for s in states]
    return [lib.tensor(x, requires_grad=True)] + ([tuple(ss)] if len(ss) == 2 else ss), ss


def _compare(tm, em, x_shape, state_shapes, rng):
    """Forward with identical inputs (and initial states when state_shapes is given), then backward of a
    random weighting of all outputs: outputs, input grad, state grads and every parameter grad."""
    x = rng.standard_normal(x_shape).astype(np.float32)
    states = [rng.standard_normal(shape).astype(np.float32) for shape in state_shapes or ()]
    (targs, tstates), (eargs, estates) = _call_args(torch, x, states), _call_args(ember, x, states)
    tx, ex = targs[0], eargs[0]
    tout, eout = _flat(tm(*targs)), _flat(em(*eargs))
    assert len(tout) == len(eout)
    weights = [rng.standard_normal(tuple(t.shape)).astype(np.float32) for t in tout]
    for e, t in zip(eout, tout):
        assert tuple(e.shape) == tuple(t.shape)
        _close(e, t, "forward")
    _loss(tout, [torch.tensor(w) for w in weights]).backward()
    _loss(eout, [ember.tensor(w) for w in weights]).backward()
    _close(ex.grad, tx.grad, "input grad")
    for es, ts in zip(estates, tstates):
        _close(es.grad, ts.grad, "initial state grad")
    eparams = dict(em.named_parameters())
    tparams = dict(tm.named_parameters())
    assert list(eparams) == list(tparams)
    for name, tp in tparams.items():
        assert eparams[name].grad is not None, name
        _close(eparams[name].grad, tp.grad, name)


# (class, constructor kwargs, input shape); batch 2, 5 steps, 3 features, hidden 4
LAYER_CASES = []
for _cls in ("RNN", "LSTM", "GRU"):
    LAYER_CASES += [
        (_cls, dict(input_size=3, hidden_size=4), (5, 2, 3)),
        (_cls, dict(input_size=3, hidden_size=4, num_layers=2), (5, 2, 3)),
        (_cls, dict(input_size=3, hidden_size=4, bidirectional=True), (5, 2, 3)),
        (_cls, dict(input_size=3, hidden_size=4, num_layers=2, bidirectional=True, batch_first=True), (2, 5, 3)),
        (_cls, dict(input_size=3, hidden_size=4, bias=False, batch_first=True), (2, 5, 3)),
        (_cls, dict(input_size=3, hidden_size=4, num_layers=2, bidirectional=True), (5, 3)),  # unbatched
        (_cls, dict(input_size=3, hidden_size=4, batch_first=True), (5, 3)),  # unbatched, batch_first
    ]
LAYER_CASES += [
    ("RNN", dict(input_size=3, hidden_size=4, nonlinearity="relu", num_layers=2), (5, 2, 3)),
    ("LSTM", dict(input_size=3, hidden_size=6, proj_size=2, num_layers=2, bidirectional=True), (5, 2, 3)),
]


def _state_shapes(cls_name, kw, x_shape):
    layers = kw.get("num_layers", 1) * (2 if kw.get("bidirectional") else 1)
    h = kw.get("proj_size") or kw["hidden_size"]
    if len(x_shape) == 2:
        hs, cs = (layers, h), (layers, kw["hidden_size"])
    else:
        batch = x_shape[0] if kw.get("batch_first") else x_shape[1]
        hs, cs = (layers, batch, h), (layers, batch, kw["hidden_size"])
    return [hs, cs] if cls_name == "LSTM" else [hs]


@pytest.mark.parametrize("with_h0", [False, True], ids=["no_h0", "h0"])
@pytest.mark.parametrize("cls_name,kw,x_shape", LAYER_CASES,
                         ids=[f"{c}-{'-'.join(f'{k}={v}' for k, v in kw.items() if k not in ('input_size', 'hidden_size'))}-"
                              f"{'x'.join(map(str, s))}" for c, kw, s in LAYER_CASES])
def test_layer_matches_torch(cls_name, kw, x_shape, with_h0):
    rng = np.random.default_rng(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch: "LSTM with projections is not supported with oneDNN"
        tm, em = _pair(cls_name, **kw)
        _compare(tm, em, x_shape, _state_shapes(cls_name, kw, x_shape) if with_h0 else None, rng)


CELL_CASES = [
    ("RNNCell", dict(input_size=3, hidden_size=4)),
    ("RNNCell", dict(input_size=3, hidden_size=4, nonlinearity="relu", bias=False)),
    ("LSTMCell", dict(input_size=3, hidden_size=4)),
    ("LSTMCell", dict(input_size=3, hidden_size=4, bias=False)),
    ("GRUCell", dict(input_size=3, hidden_size=4)),
    ("GRUCell", dict(input_size=3, hidden_size=4, bias=False)),
]


@pytest.mark.parametrize("batched", [True, False], ids=["batched", "unbatched"])
@pytest.mark.parametrize("with_h0", [False, True], ids=["no_h0", "h0"])
@pytest.mark.parametrize("cls_name,kw", CELL_CASES, ids=[f"{c}-{i}" for i, (c, _) in enumerate(CELL_CASES)])
def test_cell_matches_torch(cls_name, kw, with_h0, batched):
    rng = np.random.default_rng(1)
    tm, em = _pair(cls_name, **kw)
    x_shape = (3, 3) if batched else (3,)
    hs = (3, 4) if batched else (4,)
    states = None
    if with_h0:
        states = [hs, hs] if cls_name == "LSTMCell" else [hs]
    _compare(tm, em, x_shape, states, rng)


def test_cell_unrolled_equals_layer():
    """An LSTMCell stepped over time with the layer's weights gives the layer's output."""
    layer = nn.LSTM(3, 4)
    cell = nn.LSTMCell(3, 4)
    cell.load_state_dict({k[:-3]: v for k, v in layer.state_dict().items()})
    x = ember.randn(6, 2, 3)
    out, (h, c) = layer(x)
    hc = None
    for t in range(6):
        hc = cell(x[t], hc)
        np.testing.assert_allclose(hc[0].detach().numpy(), out[t].detach().numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(hc[1].detach().numpy(), c[0].detach().numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("cls_name", ["RNN", "LSTM", "GRU"])
def test_gradcheck_float64(cls_name):
    """Every parameter's gradient against float64 central differences (tiny bidirectional 2-layer net)."""
    ember.manual_seed(0)
    m = getattr(nn, cls_name)(2, 3, num_layers=2, bidirectional=True, batch_first=True).double()
    x = ember.randn(2, 3, 2, dtype=ember.float64)
    rng = np.random.default_rng(2)

    def loss():
        out, h = m(x)
        h = h[0] if cls_name == "LSTM" else h
        return (out * out_w).sum() + (h * h_w).sum()

    out, h = m(x)
    out_w = ember.tensor(rng.standard_normal(tuple(out.shape)))
    h_w = ember.tensor(rng.standard_normal(tuple((h[0] if cls_name == "LSTM" else h).shape)))
    loss().backward()
    for name, p in m.named_parameters():
        def f(values, p=p):
            with ember.no_grad():
                p.copy_(ember.tensor(values))
                return float(loss())
        orig = p.detach().numpy().copy()
        expected = numeric_grad(f, orig)
        with ember.no_grad():
            p.copy_(ember.tensor(orig))
        np.testing.assert_allclose(p.grad.numpy(), expected, rtol=1e-6, atol=1e-8, err_msg=name)


def test_parameter_names_shapes_and_init():
    em = nn.LSTM(10, 20, num_layers=2, bidirectional=True, proj_size=5)
    tm = torch.nn.LSTM(10, 20, num_layers=2, bidirectional=True, proj_size=5)
    assert [(k, tuple(v.shape)) for k, v in em.state_dict().items()] == \
        [(k, tuple(v.shape)) for k, v in tm.state_dict().items()]
    for m_e, m_t in [(nn.GRU(7, 16, 3), torch.nn.GRU(7, 16, 3)), (nn.RNNCell(7, 16), torch.nn.RNNCell(7, 16))]:
        assert [(k, tuple(v.shape)) for k, v in m_e.state_dict().items()] == \
            [(k, tuple(v.shape)) for k, v in m_t.state_dict().items()]
        for p in m_e.parameters():  # U(-1/4, 1/4), and not all equal
            a = p.detach().numpy()
            assert a.min() >= -0.25 and a.max() <= 0.25 and a.std() > 0.05
    assert [[tuple(p.shape) for p in ws] for ws in em.all_weights] == \
        [[tuple(p.shape) for p in ws] for ws in tm.all_weights]
    em.flatten_parameters()  # torch's no-op off cuDNN


def test_state_dict_round_trip_through_files(tmp_path):
    x = np.random.default_rng(3).standard_normal((4, 2, 5)).astype(np.float32)
    # torch -> file -> ember
    tm = torch.nn.GRU(5, 6, num_layers=2, bidirectional=True)
    torch.save(tm.state_dict(), tmp_path / "torch.pt")
    em = nn.GRU(5, 6, num_layers=2, bidirectional=True)
    em.load_state_dict(ember.load(tmp_path / "torch.pt"))
    _close(em(ember.tensor(x))[0], tm(torch.tensor(x))[0])
    # ember -> file -> torch
    em2 = nn.LSTM(5, 6, batch_first=True)
    ember.save(em2.state_dict(), tmp_path / "ember.pt")
    tm2 = torch.nn.LSTM(5, 6, batch_first=True)
    tm2.load_state_dict(torch.load(tmp_path / "ember.pt"))
    eo, (eh, ec) = em2(ember.tensor(x))
    to, (th, tc) = tm2(torch.tensor(x))
    for e, t in ((eo, to), (eh, th), (ec, tc)):
        _close(e, t)


@pytest.mark.parametrize("make", [
    lambda m: m.RNN(10, 20), lambda m: m.RNN(10, 20, 2, "relu"), lambda m: m.RNN(10, 20, nonlinearity="relu"),
    lambda m: m.LSTM(10, 20, num_layers=2, batch_first=True),
    lambda m: m.LSTM(10, 20, 2, False, True, 0.5, True),
    lambda m: m.LSTM(10, 20, proj_size=5),
    lambda m: m.GRU(3, 4, bidirectional=True, dropout=0.0),
    lambda m: m.RNNCell(10, 20), lambda m: m.RNNCell(10, 20, bias=False, nonlinearity="relu"),
    lambda m: m.LSTMCell(10, 20), lambda m: m.GRUCell(10, 20, bias=False),
    lambda m: m.Sequential(m.LSTM(4, 8), m.Linear(8, 2)),
])
def test_repr_matches_torch(make):
    assert repr(make(nn)) == repr(make(torch.nn))


def test_layers_are_distinct_classes():
    assert not isinstance(nn.GRU(2, 3), nn.RNN) and isinstance(nn.GRU(2, 3), nn.RNNBase)
    assert isinstance(nn.LSTMCell(2, 3), nn.RNNCellBase)


def _error(fn):
    try:
        fn()
    except Exception as e:  # noqa: BLE001 - the point is to compare what was raised
        return type(e).__name__, str(e).replace("torch.", "").replace("ember.", "")
    return None


ERROR_CASES = [
    # (constructor, input shapes: x [, h] or [, (h, c)])
    (lambda m: m.LSTM(10, 20), [(5, 3, 7)]),
    (lambda m: m.LSTM(10, 20), [(5, 3, 10, 1)]),
    (lambda m: m.LSTM(10, 20), [(5, 3, 10), ((1, 2, 20), (1, 3, 20))]),
    (lambda m: m.LSTM(10, 20), [(5, 3, 10), ((1, 3, 20), (1, 3, 21))]),
    (lambda m: m.LSTM(10, 20), [(5, 3, 10), ((3, 20), (1, 3, 20))]),
    (lambda m: m.LSTM(10, 20), [(5, 10), ((1, 3, 20), (1, 3, 20))]),
    (lambda m: m.LSTM(10, 20, proj_size=4), [(5, 3, 10), ((1, 3, 20), (1, 3, 20))]),
    (lambda m: m.GRU(10, 20), [(5, 10, 1, 1)]),
    (lambda m: m.GRU(10, 20), [(5, 3, 10), (1, 2, 20)]),
    (lambda m: m.GRU(10, 20), [(5, 3, 10), (3, 20)]),
    (lambda m: m.GRU(10, 20), [(5, 10), (1, 1, 20)]),
    (lambda m: m.GRU(10, 20, batch_first=True), [(3, 5, 10), (1, 5, 20)]),
    (lambda m: m.GRU(10, 20), [(0, 3, 10)]),
    (lambda m: m.RNN(10, 20), [(5,)]),
    (lambda m: m.RNN(10, 20, bidirectional=True), [(5, 3, 10), (1, 3, 20)]),
    (lambda m: m.RNNCell(10, 20), [(3, 5)]),
    (lambda m: m.RNNCell(10, 20), [(3, 10), (2, 20)]),
    (lambda m: m.RNNCell(10, 20), [(3, 10), (3, 5)]),
    (lambda m: m.RNNCell(10, 20), [(10,), (3, 20)]),
    (lambda m: m.RNNCell(10, 20), [(3, 10, 1)]),
    (lambda m: m.RNNCell(10, 20), [(3, 10), (1, 3, 20)]),
    (lambda m: m.RNNCell(10, 20, nonlinearity="sig"), [(3, 10)]),
    (lambda m: m.LSTMCell(10, 20), [(3, 5)]),
    (lambda m: m.LSTMCell(10, 20), [(3, 10), ((2, 20), (3, 20))]),
    (lambda m: m.LSTMCell(10, 20), [(3, 10), ((3, 20), (2, 20))]),
    (lambda m: m.LSTMCell(10, 20), [(3, 10), ((3, 20), (3, 21))]),
    (lambda m: m.LSTMCell(10, 20), [(3, 10), ((3, 20), (1, 3, 20))]),
    (lambda m: m.GRUCell(10, 20), [(3, 10), (3, 5)]),
    (lambda m: m.GRUCell(10, 20), [(2, 3, 10)]),
    (lambda m: m.GRUCell(10, 20), [(3, 10), (1, 3, 20)]),
    (lambda m: m.LSTMCell(10, 20), [(2, 3, 10)]),
]


def _make_args(lib, shapes):
    out = []
    for s in shapes:
        if s and isinstance(s[0], tuple):
            out.append(tuple(lib.zeros(*t) for t in s))
        else:
            out.append(lib.zeros(*s))
    return out


@pytest.mark.parametrize("make,shapes", ERROR_CASES, ids=[str(i) for i in range(len(ERROR_CASES))])
def test_forward_errors_match_torch(make, shapes):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = _error(lambda: make(torch.nn)(*_make_args(torch, shapes)))
        got = _error(lambda: make(nn)(*_make_args(ember, shapes)))
    assert expected is not None
    assert got == expected


def test_dtype_mismatch_error():
    expected = _error(lambda: torch.nn.GRU(3, 4)(torch.zeros(2, 1, 3, dtype=torch.float64)))
    got = _error(lambda: nn.GRU(3, 4)(ember.zeros(2, 1, 3, dtype=ember.float64)))
    assert got == expected


@pytest.mark.parametrize("make", [
    lambda m: m.RNN(10, 20, nonlinearity="sig"), lambda m: m.RNN(10, 20, proj_size=2),
    lambda m: m.GRU(10, 20, proj_size=2), lambda m: m.LSTM(10, 20, dropout=2), lambda m: m.LSTM(10, 20, dropout=True),
    lambda m: m.LSTM(10, 0), lambda m: m.LSTM(0, 10), lambda m: m.LSTM(10, 20, num_layers=0),
    lambda m: m.LSTM(10.0, 20), lambda m: m.LSTM(10, 20, bias=1), lambda m: m.LSTM(10, 20, batch_first=None),
    lambda m: m.LSTM(10, 20, proj_size=20), lambda m: m.LSTM(10, 20, proj_size=-1),
])
def test_constructor_errors_match_torch(make):
    expected = _error(lambda: make(torch.nn))
    assert expected is not None
    assert _error(lambda: make(nn)) == expected


def test_dropout_warning_and_training_dropout():
    with pytest.warns(UserWarning, match="non-zero dropout expects num_layers greater than 1"):
        nn.LSTM(3, 4, dropout=0.3)
    ember.manual_seed(0)
    m = nn.GRU(3, 8, num_layers=2, dropout=0.5)
    x = ember.randn(4, 2, 3)
    m.eval()
    a, b = m(x)[0], m(x)[0]
    assert np.array_equal(a.detach().numpy(), b.detach().numpy())  # eval: deterministic
    m.train()
    c, d = m(x)[0], m(x)[0]
    assert not np.allclose(c.detach().numpy(), d.detach().numpy())  # training: dropout between layers
    assert not np.allclose(c.detach().numpy(), a.detach().numpy())
    # no dropout after the last layer: a one-layer net ignores training mode
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        one = nn.RNN(3, 8, dropout=0.5)
    np.testing.assert_array_equal(one(x)[0].detach().numpy(), one.eval()(x)[0].detach().numpy())


def test_backward_graph_and_zero_batch():
    m = nn.LSTM(3, 4)
    out, (h, c) = m(ember.randn(5, 0, 3))
    assert tuple(out.shape) == (5, 0, 4) and tuple(h.shape) == (1, 0, 4)
    out, (h, c) = m(ember.randn(5, 2, 3))
    assert out.requires_grad and h.grad_fn is not None


# ---- pad_sequence and packing ---------------------------------------------------------------------

@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("padding_side", ["right", "left"])
def test_pad_sequence_matches_torch(batch_first, padding_side):
    rng = np.random.default_rng(4)
    arrays = [rng.standard_normal((n, 2, 3)).astype(np.float32) for n in (3, 5, 1)]
    ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    es = [ember.tensor(a, requires_grad=True) for a in arrays]
    tp = torch.nn.utils.rnn.pad_sequence(ts, batch_first=batch_first, padding_value=-1.5, padding_side=padding_side)
    ep = ernn.pad_sequence(es, batch_first=batch_first, padding_value=-1.5, padding_side=padding_side)
    np.testing.assert_array_equal(ep.detach().numpy(), tp.detach().numpy())
    w = rng.standard_normal(tuple(tp.shape)).astype(np.float32)
    (tp * torch.tensor(w)).sum().backward()
    (ep * ember.tensor(w)).sum().backward()
    for e, t in zip(es, ts):
        np.testing.assert_array_equal(e.grad.numpy(), t.grad.numpy())


@pytest.mark.parametrize("call", [
    lambda m, lib: m.pad_sequence([]),
    lambda m, lib: m.pad_sequence([lib.ones(2, 3), lib.ones(3, 3)], padding_side="middle"),
])
def test_pad_sequence_errors(call):
    expected = _error(lambda: call(torch.nn.utils.rnn, torch))
    assert expected is not None
    assert _error(lambda: call(ernn, ember)) == expected


@pytest.mark.parametrize("enforce_sorted", [True, False])
@pytest.mark.parametrize("batch_first", [False, True])
def test_pack_pad_round_trip_matches_torch(enforce_sorted, batch_first):
    lengths = [5, 3, 3, 1] if enforce_sorted else [3, 5, 1, 3]
    rng = np.random.default_rng(5)
    shape = (4, 5, 2) if batch_first else (5, 4, 2)
    tx, ex = _both(rng.standard_normal(shape), requires_grad=True)
    tpk = torch.nn.utils.rnn.pack_padded_sequence(tx, lengths, batch_first=batch_first, enforce_sorted=enforce_sorted)
    epk = ernn.pack_padded_sequence(ex, lengths, batch_first=batch_first, enforce_sorted=enforce_sorted)
    np.testing.assert_array_equal(epk.data.detach().numpy(), tpk.data.detach().numpy())
    assert epk.batch_sizes.tolist() == tpk.batch_sizes.tolist()
    for e, t in ((epk.sorted_indices, tpk.sorted_indices), (epk.unsorted_indices, tpk.unsorted_indices)):
        assert (e is None and t is None) or e.tolist() == t.tolist()
    tpad, tlen = torch.nn.utils.rnn.pad_packed_sequence(tpk, batch_first=batch_first, padding_value=9.0,
                                                        total_length=6)
    epad, elen = ernn.pad_packed_sequence(epk, batch_first=batch_first, padding_value=9.0, total_length=6)
    np.testing.assert_array_equal(epad.detach().numpy(), tpad.detach().numpy())
    assert elen.tolist() == tlen.tolist()
    tpad.sum().backward()
    epad.sum().backward()
    np.testing.assert_array_equal(ex.grad.numpy(), tx.grad.numpy())


def test_pack_errors_match_torch():
    def unsorted(m, lib):
        return m.pack_padded_sequence(lib.zeros(5, 3, 2), [3, 5, 1])

    def zero_length(m, lib):
        return m.pack_padded_sequence(lib.zeros(5, 3, 2), [5, 3, 0])
    for call in (unsorted, zero_length):
        expected = _error(lambda: call(torch.nn.utils.rnn, torch))
        assert expected is not None
        assert _error(lambda: call(ernn, ember)) == expected


@pytest.mark.parametrize("cls_name,kw", [
    ("LSTM", dict(input_size=3, hidden_size=4, num_layers=2, bidirectional=True)),
    ("GRU", dict(input_size=3, hidden_size=4, bidirectional=True, batch_first=True)),
    ("RNN", dict(input_size=3, hidden_size=4)),
    ("LSTM", dict(input_size=3, hidden_size=5, proj_size=2, bidirectional=True)),
])
@pytest.mark.parametrize("with_h0", [False, True], ids=["no_h0", "h0"])
def test_packed_input_matches_torch(cls_name, kw, with_h0):
    rng = np.random.default_rng(6)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tm, em = _pair(cls_name, **kw)
    lengths = [3, 5, 1, 4]
    seqs = [rng.standard_normal((n, 3)).astype(np.float32) for n in lengths]
    ts = [torch.tensor(s, requires_grad=True) for s in seqs]
    es = [ember.tensor(s, requires_grad=True) for s in seqs]
    tpk = torch.nn.utils.rnn.pack_sequence(ts, enforce_sorted=False)
    epk = ernn.pack_sequence(es, enforce_sorted=False)
    targs, eargs, tstates, estates = [tpk], [epk], [], []
    if with_h0:
        for shape in _state_shapes(cls_name, kw, (5, 4, 3) if not kw.get("batch_first") else (4, 5, 3)):
            t, e = _both(rng.standard_normal(shape), requires_grad=True)
            tstates.append(t)
            estates.append(e)
        targs.append(tuple(tstates) if cls_name == "LSTM" else tstates[0])
        eargs.append(tuple(estates) if cls_name == "LSTM" else estates[0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tout, thid = tm(*targs)
    eout, ehid = em(*eargs)
    assert isinstance(eout, ernn.PackedSequence)
    assert eout.batch_sizes.tolist() == tout.batch_sizes.tolist()
    tflat, eflat = [tout.data] + _flat(thid), [eout.data] + _flat(ehid)
    weights = [rng.standard_normal(tuple(t.shape)).astype(np.float32) for t in tflat]
    for e, t in zip(eflat, tflat):
        _close(e, t, "packed forward")
    _loss(tflat, [torch.tensor(w) for w in weights]).backward()
    _loss(eflat, [ember.tensor(w) for w in weights]).backward()
    for e, t in zip(es + estates, ts + tstates):
        _close(e.grad, t.grad, "input/state grad")
    eparams = dict(em.named_parameters())
    for name, tp in tm.named_parameters():
        _close(eparams[name].grad, tp.grad, name)
    # padded back: the packed output equals running each sequence on its own
    epad, elen = ernn.pad_packed_sequence(eout, batch_first=True)
    assert elen.tolist() == lengths
    if not with_h0:
        for i, s in enumerate(es):
            alone = em(s.unsqueeze(0) if kw.get("batch_first") else s.unsqueeze(1))[0]
            alone = alone[0] if kw.get("batch_first") else alone[:, 0]
            np.testing.assert_allclose(epad[i, :lengths[i]].detach().numpy(), alone.detach().numpy(),
                                       rtol=1e-5, atol=1e-6)


def test_torch_alias_imports():
    from ember import compat
    assert compat.ALIASES["torch.nn.utils.rnn"] == "ember.nn.utils.rnn"
    assert nn.utils.rnn.pad_sequence is ernn.pad_sequence


@pytest.mark.parametrize("num_layers,batch_first,bidirectional,bias,only", [
    (1, False, False, True, "all"), (2, True, True, True, "all"), (2, False, True, False, "out"),
    (3, False, False, True, "hy")])
def test_lstm_float32_is_one_mkldnn_layer_node_as_torch(num_layers, batch_first, bidirectional, bias, only):
    # torch's CPU float32 LSTM runs each layer as one oneDNN op: the sequence-models tutorial prints
    # grad_fn=<MkldnnRnnLayerBackward0>; its BPTT must give torch's gradients for any output used
    tm, em = _pair("LSTM", input_size=3, hidden_size=5, num_layers=num_layers, batch_first=batch_first,
                   bidirectional=bidirectional, bias=bias)
    rng = np.random.default_rng(0)
    d = 2 if bidirectional else 1
    x = rng.standard_normal((2, 4, 3) if batch_first else (4, 2, 3)).astype(np.float32)
    h0, c0 = (rng.standard_normal((num_layers * d, 2, 5)).astype(np.float32) for _ in range(2))
    results = []
    for lib, m in ((torch, tm), (ember, em)):
        xt, ht, ct = (lib.tensor(a, requires_grad=True) for a in (x, h0, c0))
        o, (h, c) = m(xt, (ht, ct))
        loss = {"all": o.sin().sum() + (h * h).sum() + c.cos().sum(), "out": o.sin().sum(),
                "hy": h[-1].sum()}[only]
        loss.backward()
        last = o.grad_fn if not (batch_first or bidirectional) else o.grad_fn.next_functions[0][0]
        names = (o.grad_fn.name(), h.grad_fn.name(), [e[1] for e in h.grad_fn.next_functions],
                 [type(n).__name__ if n is not None else None for n, _ in last.next_functions])
        results.append((names, [t.detach().numpy() for t in (o, h, c, xt.grad, ht.grad, ct.grad)]
                        + [p.grad.numpy() for p in m.parameters()]))
    assert results[0][0] == results[1][0]
    for a, b in zip(results[0][1], results[1][1]):
        np.testing.assert_allclose(b, a, rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("batch_first", [False, True])
def test_lstm_float32_saturated_gates_and_accumulated_grads_match_torch(batch_first):
    # the fused layer activates all four gates with one tanh (sigmoid(a) = 0.5 + 0.5 tanh(a / 2)):
    # inputs large enough to saturate the gates, two backward passes accumulating into .grad (the
    # two biases share one gradient array there), a non-contiguous gradient for h_n, and the
    # longest sequence the other tests use x 3
    tm, em = _pair("LSTM", input_size=6, hidden_size=7, num_layers=2, bidirectional=True,
                   batch_first=batch_first)
    shape = (3, 12, 6) if batch_first else (12, 3, 6)
    x = (np.random.default_rng(1).standard_normal(shape) * 6).astype(np.float32)
    wh = np.random.default_rng(2).standard_normal((4, 7, 3)).astype(np.float32)
    results = []
    for lib, m in ((torch, tm), (ember, em)):
        xt = lib.tensor(x, requires_grad=True)
        for _ in range(2):
            o, (h, c) = m(xt)
            (o.sin().sum() + (c * c).sum() + (h.transpose(1, 2) * lib.tensor(wh)).sum()).backward()
        results.append([o.detach().numpy(), c.detach().numpy(), xt.grad.numpy()]
                       + [p.grad.numpy() for p in m.parameters()])
    for a, b in zip(*results):
        np.testing.assert_allclose(b, a, rtol=RTOL, atol=ATOL)
    assert not np.shares_memory(em.bias_ih_l0.grad.numpy(), em.bias_hh_l0.grad.numpy())


def test_lstm_print_matches_torch_tutorial():
    torch.manual_seed(1)
    tm = torch.nn.LSTM(3, 3)
    em = nn.LSTM(3, 3)
    _copy_weights(tm, em)
    x = np.random.default_rng(1).standard_normal((5, 1, 3)).astype(np.float32)
    to, (th, _) = tm(torch.tensor(x))
    eo, (eh, _) = em(ember.tensor(x))
    assert str(eo) == str(to) and str(eh) == str(th)


@pytest.mark.parametrize("cls_name", ["RNN", "GRU", "LSTM"])
def test_hidden_dtype_mismatch_raises_as_torch(cls_name):
    # torch refuses a float64 h0 / c0 for a float32 input; ember used to run the LSTM and return float64 states
    x = np.zeros((2, 1, 3), np.float32)
    h = np.zeros((1, 1, 4), np.float64)
    for lib in (torch, ember):
        m = getattr(lib.nn, cls_name)(3, 4)
        hx = (lib.tensor(h.astype(np.float32)), lib.tensor(h)) if cls_name == "LSTM" else lib.tensor(h)
        with pytest.raises(RuntimeError):
            m(lib.tensor(x), hx)
        if cls_name == "LSTM":
            with pytest.raises(RuntimeError):
                m(lib.tensor(x), (lib.tensor(h), lib.tensor(h.astype(np.float32))))


@pytest.mark.parametrize("lengths", ["list2d", "0d", "2d"])
def test_pack_lengths_must_be_1d(lengths):
    for lib in (torch, ember):
        ln = {"list2d": [[4, 2]], "0d": lib.tensor(4), "2d": lib.tensor([[4, 2]])}[lengths]
        with pytest.raises(RuntimeError, match="1D CPU int64 tensor"):
            lib.nn.utils.rnn.pack_padded_sequence(lib.zeros(4, 2, 2), ln)


@pytest.mark.parametrize("batch_first,enforce_sorted", [(False, True), (False, False), (True, True), (True, False)])
def test_packing_grad_fn_names_and_grads_match_torch(batch_first, enforce_sorted):
    # print(packed) / print(padded) show torch's nodes: PackPaddedSequenceBackward0, CopySlices,
    # TransposeBackward0 or IndexSelectBackward0; pad_sequence's output is CopySlices too
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 4, 2) if batch_first else (4, 3, 2)).astype(np.float32)
    w = rng.standard_normal((7, 2)).astype(np.float32)
    lengths = [4, 2, 1] if enforce_sorted else [2, 4, 1]
    res = []
    for lib in (torch, ember):
        U = lib.nn.utils.rnn
        xt = lib.tensor(x, requires_grad=True)
        p = U.pack_padded_sequence(xt, lengths, batch_first=batch_first, enforce_sorted=enforce_sorted)
        padded, ln = U.pad_packed_sequence(p, batch_first=batch_first, total_length=5)
        seqs = U.pad_sequence([xt[0], xt[1, :2]], batch_first=batch_first)
        ((p.data * lib.tensor(w)).sum() + padded.sin().sum() + seqs.cos().sum()).backward()
        res.append(([type(t.grad_fn).__name__ for t in (p.data, padded, seqs)], padded.is_contiguous(),
                    [t.detach().numpy() for t in (p.data, padded, ln, seqs, xt.grad)]))
    assert res[1][:2] == res[0][:2]
    for a, b in zip(res[0][2], res[1][2]):
        np.testing.assert_allclose(b, a, rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize("cls_name,kw", [("RNN", {}), ("GRU", {}), ("RNN", {"num_layers": 2, "bidirectional": True}),
                                         ("LSTM", {}), ("LSTM", {"proj_size": 2})])
def test_batch_first_output_grad_fn_matches_torch(cls_name, kw):
    # torch's RNN/GRU kernels transpose the batch-first output in place: grad_fn=<TransposeBackward1>
    names = []
    for lib in (torch, ember):
        lib.manual_seed(0)
        m = getattr(lib.nn, cls_name)(3, 4, batch_first=True, **kw)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch: LSTM with projections is not supported with oneDNN
            out = m(lib.zeros(2, 5, 3))[0]
        names.append(type(out.grad_fn).__name__)
    assert names[1] == names[0]


def test_padded_output_prints_as_torch():
    # pad_sequence / pad_packed_sequence outputs print grad_fn=<CopySlices> (torch's C++ node's short name)
    x = np.arange(12, dtype=np.float32).reshape(3, 2, 2)
    out = []
    for lib in (torch, ember):
        xt = lib.tensor(x, requires_grad=True)
        U = lib.nn.utils.rnn
        padded, _ = U.pad_packed_sequence(U.pack_padded_sequence(xt, [3, 1]))
        out.append((str(padded), str(U.pad_sequence([xt[0], xt[1, :1]]))))
    assert out[1] == out[0]


@pytest.mark.parametrize("method", ["float", "double", "half", "long", "int", "short", "char", "byte"])
def test_packed_sequence_dtype_methods_match_torch(method):
    res = []
    for lib in (torch, ember):
        p = lib.nn.utils.rnn.pack_sequence([lib.tensor([1, 2, 3]), lib.tensor([4])])
        q = getattr(p, method)()
        res.append((type(q).__name__, str(q.data.dtype).split(".")[-1], q.data.tolist(), q.batch_sizes.tolist()))
    assert res[1] == res[0]


def _graph(fn):
    """A graph as a list: each node's name, then its edges (output number, and the node's index in
    the order of first visit, depth first; None for an edge without a node)."""
    seen, out = {}, []

    def visit(f):
        seen[f] = len(seen)
        entry = [f.name().replace("torch::autograd::", "")]
        out.append(entry)
        for child, nr in f.next_functions:
            if child is not None and child not in seen:
                visit(child)
            entry.append((nr, None if child is None else seen[child]))
    visit(fn)
    return out


GRAPH_CASES = [(c, kw, s, "float32") for c, kw, s in LAYER_CASES] + [
    ("LSTM", dict(input_size=3, hidden_size=4), (3, 2, 3), "float64"),
    ("GRU", dict(input_size=3, hidden_size=4, num_layers=2), (3, 2, 3), "float64"),
] + [(c, kw, (2, 3), "float32") for c, kw in CELL_CASES] + [(c, kw, (3,), "float32") for c, kw in CELL_CASES]


@pytest.mark.parametrize("with_h0", [False, True], ids=["no_h0", "h0"])
@pytest.mark.parametrize("cls_name,kw,x_shape,dtype", GRAPH_CASES, ids=[f"{c}-{i}" for i, (c, *_) in
                                                                        enumerate(GRAPH_CASES)])
def test_recurrent_graphs_are_torchs(cls_name, kw, x_shape, dtype, with_h0):
    # torch's CPU RNN/GRU layers and the cells record each step's ops (linear_hh(h) + gi, the gates'
    # unsafe_chunk, sigmoid, tanh...): ember's graph has the same nodes in the same order
    rng = np.random.default_rng(2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tm, em = _pair(cls_name, **kw)
    convert = "float" if dtype == "float32" else "double"
    tm, em = getattr(tm, convert)(), getattr(em, convert)()
    x = rng.standard_normal(x_shape).astype(dtype)
    shapes = []
    if with_h0:
        shapes = ([x_shape[:-1] + (4,)] * (2 if cls_name == "LSTMCell" else 1) if cls_name.endswith("Cell")
                  else _state_shapes(cls_name, kw, x_shape))
    states = [rng.standard_normal(s).astype(dtype) for s in shapes]
    (args_t, _), (args_e, _) = _call_args(torch, x, states), _call_args(ember, x, states)
    for t, e in zip(_flat(tm(*args_t)), _flat(em(*args_e))):
        assert _graph(e.grad_fn) == _graph(t.grad_fn)
