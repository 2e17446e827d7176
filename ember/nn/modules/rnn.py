"""Recurrent layers: RNN, LSTM, GRU and their single-step cells RNNCell, LSTMCell, GRUCell.

Every step records torch's nodes (linear, add, unsafe_chunk, sigmoid, tanh, mul, sub), so
autograd needs no new backward code; the steps compute their gates on the arrays and make those
nodes directly, which costs half of calling the ops one by one.  Per layer and direction the input
projection W_ih x + b for all time steps is one matrix product; the Python loop then does only the
recurrent part, a handful of ops per step.  Parameter names, shapes, gate order (LSTM i,f,g,o;
GRU r,z,n), repr text and input errors are torch's, so state_dicts load both ways.
"""
import math
import numbers

import numpy as np

from ...autograd.grad_mode import state as _grad_state
from ... import _backend as _B
from ...autograd.graph import Node, edge
from ..._tensor import _wrap
from ...ops import _SavedOutput
from ...ops.activation import _sigm
from ..._threads import matmul as _mm
from ...ops import creation as _creation
from ...ops import elementwise as _ew
from ...ops import linalg as _linalg
from ...ops import shape as _shape
from ...ops.shape import TransposeBackward0 as _TransposeBackward0
from .. import functional as F
from .. import init
from ..parameter import Parameter
from ..utils.rnn import PackedSequence
from .module import Module
from ..._userwarn import warn as _warn_user

__all__ = ["RNNBase", "RNN", "LSTM", "GRU", "RNNCellBase", "RNNCell", "LSTMCell", "GRUCell"]

_GATES = {"LSTM": 4, "GRU": 3, "RNN_TANH": 1, "RNN_RELU": 1}
_new = object.__new__


# ---- one time step (shared by the layers and the cells) -------------------------------------------
# As torch's CPU cells (ATen's RNN.cpp, which its RNN and GRU layers, and LSTM layers off oneDNN,
# run step by step): gi is linear(x, w_ih, b_ih) for this step, the recurrent part is
# linear(h, w_hh, b_hh) each step, and the gates are unsafe_chunk's pieces.  The graph then has
# torch's nodes in torch's order, and the values torch's sums.

def _rnn_step(gi, h, w_hh, b_hh, act):
    gh = _linalg.linear(h, w_hh, b_hh)
    if not _plain(gi, gh):
        return act(gh + gi)
    a = gh._data + gi._data
    if act is _ew.tanh:
        cls = _ew.TanhBackward0
        with _quiet():
            np.tanh(a, out=a)
    else:
        cls = _ew.ReluBackward0
        np.maximum(a, 0, out=a)
    if not (_grad_state.enabled and (gi._requires_grad or gh._requires_grad)):
        return _wrap(a)
    return _activated(cls, _add_node(edge(gh), edge(gi), a.shape), a)


def _lstm_step(gi, h, c, w_hh, b_hh, w_hr):
    gh = _linalg.linear(h, w_hh, b_hh)
    if _plain(gi, gh) and _plain(gi, c):
        h, c = _lstm_cell_fast(gi, gh, c)
    else:
        i, f, g, o = _shape.unsafe_chunk(gh + gi, 4, 1)
        c = _ew.sigmoid(f) * c + _ew.sigmoid(i) * _ew.tanh(g)
        h = _ew.sigmoid(o) * _ew.tanh(c)
    if w_hr is not None:
        h = _linalg.matmul(h, w_hr.t())
    return h, c


def _lstm_cell_fast(gi, gh, c):
    """_lstm_step's gates on NumPy arrays in 12 calls, then the graph its ops record."""
    gates = gh._data + gi._data
    H = gates.shape[1] // 4
    cd = c._data
    with _quiet():
        s = _sigm(gates)   # (the g quarter's sigmoid is not used)
        i, f, o = s[:, :H], s[:, H:2 * H], s[:, 3 * H:]
        g = np.tanh(gates[:, 2 * H:3 * H])
        fc = f * cd
        ig = i * g
        cy = fc + ig
        tc = np.tanh(cy)
        hy = o * tc
    if not (_grad_state.enabled and (gi._requires_grad or gh._requires_grad or c._requires_grad)):
        return _wrap(hy), _wrap(cy)
    shape = i.shape
    if gi._requires_grad or gh._requires_grad:
        split = _new(_shape.UnsafeSplitBackward0)
        split.next_functions = (_add_node(edge(gh), edge(gi), gates.shape),)
        split._saved_versions = ()
        split._n_outputs = 4
        split._output_nrs = {}
        split.axis = 1
        split.shapes = (shape,) * 4
        i_t, f_t = _sigmoid_of((split, 0), i), _sigmoid_of((split, 1), f)
        g_t, o_t = _tanh_of((split, 2), g), _sigmoid_of((split, 3), o)
    else:
        i_t, f_t, g_t, o_t = _wrap(i), _wrap(f), _wrap(g), _wrap(o)
    cy_t = _wrap(cy, True, _add_node((_mul_node(f_t, c), 0), (_mul_node(i_t, g_t), 0), shape)[0])
    tc_t = _tanh_of((cy_t.grad_fn, 0), tc)
    return _wrap(hy, True, _mul_node(o_t, tc_t)), cy_t


def _gru_step(gi, h, w_hh, b_hh, hidden_size):
    # torch's GRU: n = tanh(W_in x + b_in + r * (W_hn h + b_hn)); h' = (h - n) * z + n
    gh = _linalg.linear(h, w_hh, b_hh)
    gid, ghd, hd = gi._data, gh._data, h._data
    if not (_plain(gi, gh) and _plain(gi, h)):
        i_r, i_z, i_n = _shape.unsafe_chunk(gi, 3, 1)
        h_r, h_z, h_n = _shape.unsafe_chunk(gh, 3, 1)
        r = _ew.sigmoid(h_r + i_r)
        z = _ew.sigmoid(h_z + i_z)
        n = _ew.tanh(i_n + h_n * r)
        return (h - n) * z + n
    # the same arithmetic in 11 NumPy calls, then the graph those ops record (at 16 x 32 units a
    # step's forward costs ~40 us op by op, ~20 so)
    H = hidden_size
    with _quiet():
        s = _sigm(ghd[:, :2 * H] + gid[:, :2 * H])
        r, z = s[:, :H], s[:, H:]
        h_n = ghd[:, 2 * H:]
        n = h_n * r
        n += gid[:, 2 * H:]
        np.tanh(n, out=n)
        d = hd - n
        hy = d * z
        hy += n
    if not (_grad_state.enabled and (gi._requires_grad or gh._requires_grad)):
        return _wrap(hy)
    shape = r.shape
    ei = _unsafe_chunk_edges(gi, shape)
    eh = _unsafe_chunk_edges(gh, shape)
    r_t = _sigmoid_of(_add_node(eh[0], ei[0], shape), r)
    z_t = _sigmoid_of(_add_node(eh[1], ei[1], shape), z)
    if eh[2][0] is not None:
        h_n_t = _wrap(h_n, True, eh[2][0])   # (torch's saved self of the in-place mul_)
        h_n_t._vc = gh._vc
        eh[2][0]._output_nrs[id(h_n_t)] = 2
    else:
        h_n_t = _wrap(h_n)
    n_t = _tanh_of(_add_node(ei[2], (_mul_node(h_n_t, r_t), 0), shape), n)
    d_t = _wrap(d, True, _add_node(edge(h), (n_t.grad_fn, 0), shape, _ew.SubBackward0)[0])
    return _wrap(hy, True, _add_node((_mul_node(d_t, z_t), 0), (n_t.grad_fn, 0), shape)[0])


# ---- the nodes a few ops record, made directly (the steps above) ----------------------------------
_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def _plain(a, b):
    """True when two tensors hold 2-d float32/float64 NumPy arrays of one dtype: the steps above
    then compute on the arrays and record the graph themselves."""
    a, b = a._data, b._data
    return (type(a) is np.ndarray and type(b) is np.ndarray and a.ndim == 2 and a.dtype is b.dtype
            and a.dtype in _FLOATS)


class _quiet:
    """NumPy's floating-point warnings off (exp overflowing in a saturated gate: silent, as in torch)."""

    def __enter__(self):
        self.prev = _B.fp_set(_B.FP_QUIET)

    def __exit__(self, *exc):
        _B.fp_reset(self.prev)


def _unsafe_chunk_edges(t, shape):
    """The edges of unsafe_chunk(t, 3, 1)'s pieces: its node's outputs, or none."""
    if not t._requires_grad:
        return [(None, 0)] * 3
    node = _new(_shape.UnsafeSplitBackward0)
    node.next_functions = (edge(t),)
    node._saved_versions = ()
    node._n_outputs = 3
    node._output_nrs = {}
    node.axis = 1
    node.shapes = (shape, shape, shape)
    return [(node, 0), (node, 1), (node, 2)]


def _add_node(ea, eb, shape, cls=_ew.AddBackward0):
    """The edge to the node a + b (or a - b) of two same-shaped operands records."""
    node = _new(cls)
    node.next_functions = (ea, eb)
    node._saved_versions = ()
    node.a_shape = node.b_shape = shape
    node.alpha = 1
    return (node, 0)


def _mul_node(a, b):
    """The node a * b records (it saves both tensors)."""
    node = _new(_ew.MulBackward0)
    node.next_functions = (edge(a), edge(b))
    node.a, node.b = a._data, b._data
    node._saved_versions = ((a, a._vc[0]), (b, b._vc[0]))
    return node


def _activated(cls, e, y):
    """The output tensor of an activation's node cls (saving its output y) fed through edge e."""
    node = _new(cls)
    node.next_functions = (e,)
    node.x, node.y = None, y
    out = _wrap(y, True, node)
    node._saved_versions = ((_SavedOutput(out), 0),)
    return out


def _sigmoid_of(e, y):
    return _activated(_ew.SigmoidBackward0, e, y)


def _tanh_of(e, y):
    return _activated(_ew.TanhBackward0, e, y)


def _run_direction(mode, x, h, c, weights, reverse, hidden_size, batch_sizes=None):
    """One layer, one direction.  x is (T, B, I), or a packed sequence's data (N, I) with batch_sizes (a
    list, non-increasing).  Returns (output (T, B, H_out) or (N, H_out), h_last, c_last)."""
    w_ih, w_hh, b_ih, b_hh, w_hr = weights
    gi = _steps(F.linear(x, w_ih, b_ih), batch_sizes)
    if mode == "GRU":
        def step(g, h, c):
            return _gru_step(g, h, w_hh, b_hh, hidden_size), None
    elif mode == "LSTM":
        def step(g, h, c):
            return _lstm_step(g, h, c, w_hh, b_hh, w_hr)
    else:
        act = _ew.tanh if mode == "RNN_TANH" else _ew.relu

        def step(g, h, c):
            return _rnn_step(g, h, w_hh, b_hh, act), None
    T = len(gi)
    outs = [None] * T
    if batch_sizes is None:
        for t in (range(T - 1, -1, -1) if reverse else range(T)):
            h, c = step(gi[t], h, c)
            outs[t] = h
        return _shape.stack(outs, 0), h, c
    if not reverse:
        # sequences end as the batch shrinks: set their last states aside (highest rows first)
        done_h, done_c = [], []
        for t in range(T):
            b = batch_sizes[t]
            if b < h.shape[0]:
                done_h.append(h[b:])
                h = h[:b]
                if c is not None:
                    done_c.append(c[b:])
                    c = c[:b]
            h, c = step(gi[t], h, c)
            outs[t] = h
        if done_h:
            h = _shape.cat([h] + done_h[::-1], 0)
            if c is not None:
                c = _shape.cat([c] + done_c[::-1], 0)
    else:
        # backwards in time the batch grows: sequences join with their initial state
        h_init, c_init = h, c
        b = batch_sizes[-1]
        h = h_init[:b]
        c = None if c is None else c_init[:b]
        for t in range(T - 1, -1, -1):
            b, have = batch_sizes[t], h.shape[0]
            if b > have:
                h = _shape.cat([h, h_init[have:b]], 0)
                if c is not None:
                    c = _shape.cat([c, c_init[have:b]], 0)
            h, c = step(gi[t], h, c)
            outs[t] = h
    return _shape.cat(outs, 0), h, c


# ---- LSTM layer as one op, as torch's CPU float32 path (oneDNN) runs it ----------------------------
# torch runs each LSTM layer and direction on the CPU in float32 as one mkldnn_rnn_layer op: its
# output and states print grad_fn=<MkldnnRnnLayerBackward0> (the sequence-models tutorial shows it),
# with next_functions (input, w_ih, w_hh, b_ih, b_hh, hx, cx).  Here too: one forward loop and
# one BPTT loop on arrays, which also spares the per-step graph nodes.  At small sizes each step's
# NumPy calls are the cost (~1 us each), so a forward step is one product and nine ufunc calls into
# preallocated arrays, and a backward step one product and six: what does not depend on the carried
# gradients is computed for all steps at once before the loop (8x20 steps of 64 units: forward
# 455 -> 340 us, forward and backward 1185 -> 715; torch 122 / 370).

def _fused_lstm_ok(x, weights):
    w_ih, w_hh, b_ih, b_hh, w_hr = weights
    return (w_hr is None and type(x._data) is np.ndarray and x._data.dtype == np.float32
            and x._data.size != 0 and type(w_ih._data) is np.ndarray and w_ih._data.dtype == np.float32)


class MkldnnRnnLayerBackward0(Node):
    """Backpropagation through time of one LSTM layer and direction (outputs: output, hy, cy)."""
    __slots__ = ("_n_outputs", "_output_nrs", "x", "w_ih", "w_hh", "h0", "c0", "hs", "cs", "tcs", "gates",
                 "reverse")
    _saved_fields = ("x", "w_ih", "w_hh", "h0", "c0", "hs", "cs", "tcs", "gates")
    _double_backward = True   # through _apply_tensors (create_graph=True)

    def _apply_tensors(self, grads, saved):
        """create_graph=True: the gradients of the layer recomputed step by step with ember's ops."""
        import ember
        grads = grads if type(grads) is list else [grads, None, None]
        ins = list(saved[:3]) + (list(saved[3:5]) if len(saved) == 7 else [None, None]) + list(saved[-2:])
        # fresh aliases: the inner pass stops at them (as autograd/higher_order.py's vjp)
        alias = [t.view_as(t) if t is not None and t.requires_grad else t for t in ins]
        x, w_ih, w_hh, b_ih, b_hh, h, c = alias
        H = w_hh.shape[1]
        gi = x @ w_ih.T if b_ih is None else x @ w_ih.T + (b_ih + b_hh)
        hs = [None] * x.shape[0]
        for t in (range(x.shape[0] - 1, -1, -1) if self.reverse else range(x.shape[0])):
            a = gi[t] + h @ w_hh.T
            c = a[:, H:2 * H].sigmoid() * c + a[:, :H].sigmoid() * a[:, 2 * H:3 * H].tanh()
            h = a[:, 3 * H:].sigmoid() * c.tanh()
            hs[t] = h
        used = [(o, g) for o, g in zip((ember.stack(hs), h, c), grads) if g is not None]
        wanted = [a for a in alias if a is not None and a.requires_grad]
        got = iter(ember.autograd.grad([o for o, _ in used], wanted, [g for _, g in used], create_graph=True,
                                       allow_unused=True))
        return tuple(next(got) if a is not None and a.requires_grad else None for a in alias)

    def apply(self, grads):
        if type(grads) is not list:
            grads = [grads, None, None]
        gout, ghy, gcy = grads
        hs, cs, gates, tcs, w_hh = self.hs, self.cs, self.gates, self.tcs, self.w_hh
        T, B, H = hs.shape
        reverse = self.reverse
        mul, dot = np.multiply, np.dot
        # Everything that does not depend on the carried gradients is computed for all steps at
        # once, so that each step of the loop below is seven NumPy calls
        c_prev = _shifted(cs, self.c0, reverse)
        # the gates' derivatives with respect to their pre-activations: s (1 - s) for the
        # sigmoids i, f, o, 1 - g^2 for g
        D = gates * _GATE_LINEAR[H]
        D -= gates * gates
        D += _GATE_ONE[H]
        # F: what the carried dc (gates i, f, g) or dh (gate o) is multiplied by to give dgates
        F = np.empty_like(gates)
        mul(gates[..., 2 * H:3 * H], D[..., :H], out=F[..., :H])
        mul(c_prev, D[..., H:2 * H], out=F[..., H:2 * H])
        mul(gates[..., :H], D[..., 2 * H:3 * H], out=F[..., 2 * H:3 * H])
        mul(tcs, D[..., 3 * H:], out=F[..., 3 * H:])
        # Q = o (1 - tanh(c)^2): dh's path into dc
        Q = mul(tcs, tcs)
        np.subtract(1, Q, out=Q)
        Q *= gates[..., 3 * H:]
        F3 = F.reshape(T, B, 4, H)[:, :, :3]
        f_gate = gates[..., H:2 * H]
        # (our own C-ordered copies: np.dot writes dh in place)
        dh = np.zeros((B, H), np.float32) if ghy is None else np.array(ghy, np.float32, order="C")
        dc = np.zeros((B, H), np.float32) if gcy is None else np.array(gcy, np.float32, order="C")
        dc3 = dc[:, None, :]
        tmp = np.empty((B, H), np.float32)
        dgates = np.empty((T, B, 4 * H), np.float32)
        dg3 = dgates.reshape(T, B, 4, H)[:, :, :3]
        for t in (range(T) if reverse else range(T - 1, -1, -1)):
            if gout is not None:
                dh += gout[t]
            mul(dh, Q[t], out=tmp)
            dc += tmp
            mul(F3[t], dc3, out=dg3[t])
            mul(F[t, :, 3 * H:], dh, out=dgates[t, :, 3 * H:])
            dc *= f_gate[t]
            dot(dgates[t], w_hh, out=dh)
        flat = dgates.reshape(T * B, 4 * H)
        x = self.x
        d_x = _mm(flat, self.w_ih).reshape(T, B, -1) if self.next_functions[0][0] is not None else None
        d_wih = _mm(flat.T, x.reshape(T * B, -1))
        # every step's dgates[t].T @ h_prev in one product (T products with K = B ran below BLAS's pace)
        d_whh = _mm(flat.T, _shifted(hs, self.h0, reverse).reshape(T * B, H))
        d_b = flat.sum(0)
        return (d_x, d_wih, d_whh, d_b, d_b, dh, dc)


def _shifted(states, first, reverse):
    """The states one step back in time (T, B, H): step t's previous state, first at the start."""
    prev = np.empty_like(states)
    if reverse:
        prev[:-1], prev[-1] = states[1:], first
    else:
        prev[1:], prev[0] = states[:-1], first
    return prev


class _GateRows(dict):
    """Per hidden size H, a float32 row over the 4H gate columns (i, f, g, o) built from the
    values (sigmoid gate, tanh gate) on first use."""

    def __init__(self, sigmoid_value, tanh_value):
        super().__init__()
        self.values = sigmoid_value, tanh_value

    def __missing__(self, H):
        s, g = self.values
        row = np.full(4 * H, s, np.float32)
        row[2 * H:3 * H] = g
        self[H] = row
        return row


# sigmoid(a) = 0.5 + 0.5 tanh(a / 2): with the i, f and o rows of the weights and bias halved (exact
# in floating point), one tanh activates all four gates, and a multiply and an add map the sigmoid ones
_GATE_SCALE = _GateRows(0.5, 1.0)
_GATE_SHIFT = _GateRows(0.5, 0.0)
# s (1 - s) = s - s^2 for the sigmoid gates, 1 - g^2 for g: (LINEAR * gate - gate^2) + ONE
_GATE_LINEAR = _GateRows(1.0, 0.0)
_GATE_ONE = _GateRows(0.0, 1.0)


def _fused_lstm_layer(x, h0, c0, weights, reverse):
    """One LSTM layer and direction over x (T, B, I): (output (T, B, H), h_last, c_last)."""
    w_ih, w_hh, b_ih, b_hh, _ = weights
    xa, wih, whh = x._data, w_ih._data, w_hh._data
    T, B = xa.shape[0], xa.shape[1]
    H = whh.shape[1]
    scale = _GATE_SCALE[H]
    shift = _GATE_SHIFT[H]
    col = scale[:, None]
    # one 2-d product over all steps (NumPy runs a 3-d operand as one small product per step)
    gi = _mm(xa.reshape(T * B, -1), (wih * col).T).reshape(T, B, -1)
    if b_ih is not None:
        b = b_ih._data + b_hh._data
        b *= scale
        gi += b   # (in place: a fresh (T*B, 4H) array costs its page faults again)
    whh_t = np.ascontiguousarray((whh * col).T)   # np.dot with C-ordered operands: ~1 us less a step
    h0a = h0._data
    h, c = h0a, c0._data
    hs = np.empty((T, B, H), np.float32)
    cs = np.empty((T, B, H), np.float32)
    tcs = np.empty((T, B, H), np.float32)
    gates = np.empty((T, B, 4 * H), np.float32)
    a = np.empty((B, 4 * H), np.float32)
    ig = np.empty((B, H), np.float32)
    mul, dot, tanh = np.multiply, np.dot, np.tanh
    for t in (range(T - 1, -1, -1) if reverse else range(T)):
        dot(h, whh_t, out=a)
        a += gi[t]
        tanh(a, out=a)
        gt = gates[t]
        mul(a, scale, out=gt)
        gt += shift
        ct = cs[t]
        mul(gt[:, H:2 * H], c, out=ct)
        mul(gt[:, :H], gt[:, 2 * H:3 * H], out=ig)
        ct += ig
        tanh(ct, out=tcs[t])
        h = hs[t]
        mul(gt[:, 3 * H:], tcs[t], out=h)
        c = ct
    out, hy, cy = _wrap(hs), _wrap(h.copy()), _wrap(c.copy())
    ins = (x, w_ih, w_hh, b_ih, b_hh, h0, c0)
    if _grad_state.enabled and any(t is not None and t._requires_grad for t in ins):
        node = MkldnnRnnLayerBackward0.__new__(MkldnnRnnLayerBackward0)
        node.next_functions = tuple((None, 0) if t is None else edge(t) for t in ins)
        node._saved_versions = tuple((t, t._vc[0]) for t in ins if t is not None)
        node.x, node.w_ih, node.w_hh, node.h0, node.c0 = xa, wih, whh, h0a, c0._data
        node.hs, node.cs, node.tcs, node.gates, node.reverse = hs, cs, tcs, gates, reverse
        node._n_outputs, node._output_nrs = 3, {}
        for nr, t in enumerate((out, hy, cy)):
            t._requires_grad = True
            t.grad_fn = node
            node._output_nrs[id(t)] = nr
    return out, hy, cy


class TransposeBackward1(_TransposeBackward0):
    """transpose_'s node in torch: the name RNN and GRU outputs show with batch_first=True."""
    __slots__ = ()


def _steps(g, batch_sizes):
    """Per-time-step pieces of a projection: unbind over time, or split by a packed batch's sizes."""
    return g.unbind(0) if batch_sizes is None else g.split(batch_sizes, 0)


class RNNBase(Module):
    """Shared construction, checks and the multi-layer loop of RNN, LSTM and GRU."""

    __constants__ = ["mode", "input_size", "hidden_size", "num_layers", "bias", "batch_first", "dropout",
                     "bidirectional", "proj_size"]

    def __init__(self, mode, input_size, hidden_size, num_layers=1, bias=True, batch_first=False, dropout=0.0,
                 bidirectional=False, proj_size=0, device=None, dtype=None):
        super().__init__()
        self.mode = mode
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bias = bias
        self.batch_first = batch_first
        self.dropout = float(dropout)
        self.bidirectional = bidirectional
        self.proj_size = proj_size
        num_directions = 2 if bidirectional else 1

        if not isinstance(dropout, numbers.Number) or not 0 <= dropout <= 1 or isinstance(dropout, bool):
            raise ValueError("dropout should be a number in range [0, 1] representing the probability of an "
                             "element being zeroed")
        if dropout > 0 and num_layers == 1:
            _warn_user("dropout option adds dropout after all but last recurrent layer, so non-zero dropout "
                       f"expects num_layers greater than 1, but got dropout={dropout} and "
                       f"num_layers={num_layers}")
        if not isinstance(bias, bool):
            raise TypeError(f"bias should be of type bool, got: {type(bias).__name__}")
        if not isinstance(batch_first, bool):
            raise TypeError(f"batch_first should be of type bool, got: {type(batch_first).__name__}")
        if not isinstance(input_size, int):
            raise TypeError(f"input_size should be of type int, got: {type(input_size).__name__}")
        if input_size <= 0:
            raise ValueError("input_size must be greater than zero")
        if not isinstance(hidden_size, int):
            raise TypeError(f"hidden_size should be of type int, got: {type(hidden_size).__name__}")
        if hidden_size <= 0:
            raise ValueError("hidden_size must be greater than zero")
        if num_layers <= 0:
            raise ValueError("num_layers must be greater than zero")
        if proj_size < 0:
            raise ValueError("proj_size should be a positive integer or zero to disable projections")
        if proj_size >= hidden_size:
            raise ValueError("proj_size has to be smaller than hidden_size")
        if mode not in _GATES:
            raise ValueError("Unrecognized RNN mode: " + mode)
        gate_size = _GATES[mode] * hidden_size
        real_hidden_size = proj_size if proj_size > 0 else hidden_size

        self._flat_weights_names = []
        self._all_weights = []
        for layer in range(num_layers):
            for direction in range(num_directions):
                layer_input_size = input_size if layer == 0 else real_hidden_size * num_directions
                suffix = "_reverse" if direction == 1 else ""
                params = [(f"weight_ih_l{layer}{suffix}", (gate_size, layer_input_size)),
                          (f"weight_hh_l{layer}{suffix}", (gate_size, real_hidden_size))]
                if bias:
                    params += [(f"bias_ih_l{layer}{suffix}", (gate_size,)),
                               (f"bias_hh_l{layer}{suffix}", (gate_size,))]
                if proj_size > 0:
                    params += [(f"weight_hr_l{layer}{suffix}", (proj_size, hidden_size))]
                for name, shape in params:
                    setattr(self, name, Parameter(_creation.empty(tuple(shape), device=device, dtype=dtype)))
                names = [name for name, _ in params]
                self._flat_weights_names.extend(names)
                self._all_weights.append(names)
        self.reset_parameters()

    def reset_parameters(self):
        """torch's default: every weight and bias U(-1/sqrt(hidden_size), 1/sqrt(hidden_size))."""
        stdv = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for weight in self.parameters():
            init.uniform_(weight, -stdv, stdv)

    def flatten_parameters(self):
        """A no-op, as torch's is off cuDNN: ember keeps each weight as its own array."""

    @property
    def _flat_weights(self):
        return [getattr(self, name, None) for name in self._flat_weights_names]

    def __getstate__(self):
        # torch's RNNBase.__setstate__ reads _flat_weights from the state: a whole pickled RNN carries it
        # (the same parameters, shared in the pickle) so that real torch loads it
        state = super().__getstate__()
        state["_flat_weights"] = self._flat_weights
        return state

    def __setstate__(self, state):
        # (ember derives _flat_weights from the names; torch's files also carry weak refs to the weights)
        state = {k: v for k, v in state.items() if k not in ("_flat_weights", "_flat_weight_refs")}
        super().__setstate__(state)

    @property
    def all_weights(self):
        return [[getattr(self, name) for name in names] for names in self._all_weights]

    # ---- torch's checks, with torch's messages ----
    def check_input(self, input, batch_sizes):
        w_dtype = self._flat_weights[0].dtype
        if input.dtype != w_dtype:
            raise ValueError(f"RNN input dtype ({input.dtype}) does not match weight dtype ({w_dtype}). "
                             f"Convert input: input.to({w_dtype}), or convert model: model.to({input.dtype})")
        expected_input_dim = 2 if batch_sizes is not None else 3
        if input.dim() != expected_input_dim:
            raise RuntimeError(f"input must have {expected_input_dim} dimensions, got {input.dim()}")
        if self.input_size != input.size(-1):
            raise RuntimeError(f"input.size(-1) must be equal to input_size. Expected {self.input_size}, "
                               f"got {input.size(-1)}")

    def get_expected_hidden_size(self, input, batch_sizes):
        if batch_sizes is not None:
            mini_batch = int(batch_sizes[0])
        else:
            mini_batch = input.size(0) if self.batch_first else input.size(1)
        num_directions = 2 if self.bidirectional else 1
        real_hidden_size = self.proj_size if self.proj_size > 0 else self.hidden_size
        return (self.num_layers * num_directions, mini_batch, real_hidden_size)

    def check_hidden_size(self, hx, expected_hidden_size, msg="Expected hidden size {}, got {}"):
        if tuple(hx.size()) != expected_hidden_size:
            raise RuntimeError(msg.format(expected_hidden_size, list(hx.size())))

    def _check_hidden_dtype(self, input, hx, name):
        # torch raises (from its kernels) rather than mixing dtypes; say which tensor to convert
        if hx.dtype != input.dtype:
            raise RuntimeError(f"{type(self).__name__}: {name} dtype ({hx.dtype}) does not match input dtype "
                               f"({input.dtype}). Convert it: {name}.to({input.dtype})")

    def check_forward_args(self, input, hidden, batch_sizes):
        self.check_input(input, batch_sizes)
        self.check_hidden_size(hidden, self.get_expected_hidden_size(input, batch_sizes))
        self._check_hidden_dtype(input, hidden, "hx")

    def permute_hidden(self, hx, permutation):
        if permutation is None:
            return hx
        return hx.index_select(1, permutation)

    def extra_repr(self):
        s = "{input_size}, {hidden_size}"
        if self.proj_size != 0:
            s += ", proj_size={proj_size}"
        if self.num_layers != 1:
            s += ", num_layers={num_layers}"
        if self.bias is not True:
            s += ", bias={bias}"
        if self.batch_first is not False:
            s += ", batch_first={batch_first}"
        if self.dropout != 0:
            s += ", dropout={dropout}"
        if self.bidirectional is not False:
            s += ", bidirectional={bidirectional}"
        return s.format(**self.__dict__)

    def _zeros(self, input, batch, size):
        num_directions = 2 if self.bidirectional else 1
        return _creation.zeros(self.num_layers * num_directions, batch, size, dtype=input.dtype,
                               device=input.device)

    def _check_dims(self, input, hx):
        """torch's rank checks for a plain (not packed) input: returns (input with a batch dim, hx, is_batched)."""
        name = "RNN" if self.mode.startswith("RNN") else self.mode
        dim = input.dim()
        if dim not in (2, 3):
            raise ValueError(f"{name}: Expected input to be 2D or 3D, got {dim}D"
                             f"{' tensor' if name == 'RNN' else ''} instead")
        is_batched = dim == 3
        if not is_batched:
            input = input.unsqueeze(0 if self.batch_first else 1)
        return input, is_batched

    def _layers(self, x, h0, c0, batch_sizes=None):
        """The stacked recurrence over x (T, B, I) (time first) or packed data (N, I):
        (output, [h_n per layer and direction], [c_n ...])."""
        if batch_sizes is None and x.size(0) == 0:
            raise RuntimeError("Expected sequence length to be larger than 0 in RNN")
        num_directions = 2 if self.bidirectional else 1
        params = self._parameters

        def weights_of(layer, direction):
            suffix = f"_l{layer}_reverse" if direction else f"_l{layer}"
            # straight from the parameter dict (Module.__getattr__ costs ~0.5 us a name); a weight
            # replaced by a plain attribute takes the getattr path
            return tuple(params[n + suffix] if n + suffix in params else getattr(self, n + suffix, None)
                         for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight_hr"))
        # the fused LSTM layer (torch's oneDNN path: float32, no projections) takes hx[k] as torch's
        # does (SelectBackward0); the composed path unbinds, as torch's native one
        fused = self.mode == "LSTM" and batch_sizes is None and _fused_lstm_ok(x, weights_of(0, 0))
        if not fused:
            h0 = h0.unbind(0)
            c0 = c0.unbind(0) if c0 is not None else [None] * len(h0)
        hn, cn = [], []
        for layer in range(self.num_layers):
            outs = []
            for direction in range(num_directions):
                k = layer * num_directions + direction
                weights = weights_of(layer, direction)
                if fused and _fused_lstm_ok(x, weights):
                    if not x._data.flags.c_contiguous:
                        x = x.contiguous()   # (torch's oneDNN layer takes a contiguous input: CloneBackward0)
                    out, h, c = _fused_lstm_layer(x, h0[k], c0[k], weights, direction == 1)
                else:
                    out, h, c = _run_direction(self.mode, x, h0[k], c0[k], weights, direction == 1,
                                               self.hidden_size, batch_sizes)
                outs.append(out)
                hn.append(h)
                cn.append(c)
            x = outs[0] if num_directions == 1 else _shape.cat(outs, -1)
            if self.dropout and self.training and layer < self.num_layers - 1:
                x = F.dropout(x, self.dropout, True)
        return x, hn, cn

    def _run(self, input, hx, cx):
        """input (batched, torch layout) -> (output in torch layout, h_n, c_n or None)."""
        x = input.transpose(0, 1) if self.batch_first else input
        out, hn, cn = self._layers(x, hx, cx)
        if self.batch_first:
            out = out.transpose(0, 1)
            if self.mode != "LSTM" and type(out.grad_fn) is _TransposeBackward0:
                out.grad_fn.__class__ = TransposeBackward1  # torch's RNN/GRU kernel transposes in place
        return out, _shape.stack(hn, 0), (_shape.stack(cn, 0) if cx is not None else None)

    def _forward_packed(self, input, hx):
        """A PackedSequence through the layers: (PackedSequence, h_n) / (PackedSequence, (h_n, c_n))."""
        data, batch_sizes, sorted_indices, unsorted_indices = input
        sizes = [int(b) for b in batch_sizes.tolist()]
        lstm = self.mode == "LSTM"
        real_hidden_size = self.proj_size if self.proj_size > 0 else self.hidden_size
        if hx is None:
            h0 = self._zeros(data, sizes[0], real_hidden_size)
            hx = (h0, self._zeros(data, sizes[0], self.hidden_size)) if lstm else h0
        else:
            hx = self.permute_hidden(hx, sorted_indices)
        self.check_forward_args(data, hx, batch_sizes)
        out, hn, cn = self._layers(data, hx[0] if lstm else hx, hx[1] if lstm else None, sizes)
        hidden = (_shape.stack(hn, 0), _shape.stack(cn, 0)) if lstm else _shape.stack(hn, 0)
        return (PackedSequence(out, batch_sizes, sorted_indices, unsorted_indices),
                self.permute_hidden(hidden, unsorted_indices))

    def _forward_one_state(self, input, hx):
        """RNN's and GRU's forward: (output, h_n)."""
        if isinstance(input, PackedSequence):
            return self._forward_packed(input, hx)
        input, is_batched = self._check_dims(input, hx)
        if not is_batched:
            if hx is not None:
                if hx.dim() != 2:
                    raise RuntimeError(f"For unbatched 2-D input, hx should also be 2-D but got {hx.dim()}-D tensor")
                hx = hx.unsqueeze(1)
        elif hx is not None and hx.dim() != 3:
            raise RuntimeError(f"For batched 3-D input, hx should also be 3-D but got {hx.dim()}-D tensor")
        if hx is None:
            hx = self._zeros(input, input.size(0) if self.batch_first else input.size(1), self.hidden_size)
        self.check_forward_args(input, hx, None)
        output, hidden, _ = self._run(input, hx, None)
        if not is_batched:
            output = output.squeeze(0 if self.batch_first else 1)
            hidden = hidden.squeeze(1)
        return output, hidden


class RNN(RNNBase):
    """Elman RNN: h_t = tanh(W_ih x_t + b_ih + W_hh h_(t-1) + b_hh) (or relu)."""

    def __init__(self, *args, **kwargs):
        if "proj_size" in kwargs:
            raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
        if len(args) > 3:
            nonlinearity = args[3]
            args = args[:3] + args[4:]
        else:
            nonlinearity = kwargs.pop("nonlinearity", "tanh")
        if nonlinearity == "tanh":
            mode = "RNN_TANH"
        elif nonlinearity == "relu":
            mode = "RNN_RELU"
        else:
            raise ValueError(f"Unknown nonlinearity '{nonlinearity}'. Select from 'tanh' or 'relu'.")
        super().__init__(mode, *args, **kwargs)
        self.nonlinearity = nonlinearity

    def forward(self, input, hx=None):
        return self._forward_one_state(input, hx)


class GRU(RNNBase):
    """Gated recurrent unit, torch's gate order r, z, n."""

    def __init__(self, *args, **kwargs):
        if "proj_size" in kwargs:
            raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
        super().__init__("GRU", *args, **kwargs)

    def forward(self, input, hx=None):
        return self._forward_one_state(input, hx)


class LSTM(RNNBase):
    """Long short-term memory, torch's gate order i, f, g, o; optional projection (proj_size)."""

    def __init__(self, *args, **kwargs):
        super().__init__("LSTM", *args, **kwargs)

    def get_expected_cell_size(self, input, batch_sizes):
        if batch_sizes is not None:
            mini_batch = int(batch_sizes[0])
        else:
            mini_batch = input.size(0) if self.batch_first else input.size(1)
        num_directions = 2 if self.bidirectional else 1
        return (self.num_layers * num_directions, mini_batch, self.hidden_size)

    def check_forward_args(self, input, hidden, batch_sizes):
        self.check_input(input, batch_sizes)
        self.check_hidden_size(hidden[0], self.get_expected_hidden_size(input, batch_sizes),
                               "Expected hidden[0] size {}, got {}")
        self.check_hidden_size(hidden[1], self.get_expected_cell_size(input, batch_sizes),
                               "Expected hidden[1] size {}, got {}")
        self._check_hidden_dtype(input, hidden[0], "hx[0]")
        self._check_hidden_dtype(input, hidden[1], "hx[1]")

    def permute_hidden(self, hx, permutation):
        if permutation is None:
            return hx
        return hx[0].index_select(1, permutation), hx[1].index_select(1, permutation)

    def forward(self, input, hx=None):
        if isinstance(input, PackedSequence):
            return self._forward_packed(input, hx)
        input, is_batched = self._check_dims(input, hx)
        real_hidden_size = self.proj_size if self.proj_size > 0 else self.hidden_size
        if hx is None:
            batch = input.size(0) if self.batch_first else input.size(1)
            hx = (self._zeros(input, batch, real_hidden_size), self._zeros(input, batch, self.hidden_size))
        else:
            if is_batched:
                if hx[0].dim() != 3 or hx[1].dim() != 3:
                    raise RuntimeError("For batched 3-D input, hx and cx should also be 3-D but got "
                                       f"({hx[0].dim()}-D, {hx[1].dim()}-D) tensors")
            else:
                if hx[0].dim() != 2 or hx[1].dim() != 2:
                    raise RuntimeError("For unbatched 2-D input, hx and cx should also be 2-D but got "
                                       f"({hx[0].dim()}-D, {hx[1].dim()}-D) tensors")
                hx = (hx[0].unsqueeze(1), hx[1].unsqueeze(1))
        self.check_forward_args(input, hx, None)
        output, h_n, c_n = self._run(input, hx[0], hx[1])
        if not is_batched:
            output = output.squeeze(0 if self.batch_first else 1)
            h_n, c_n = h_n.squeeze(1), c_n.squeeze(1)
        return output, (h_n, c_n)


# ---- cells ---------------------------------------------------------------------------------------

class RNNCellBase(Module):
    __constants__ = ["input_size", "hidden_size", "bias"]

    def __init__(self, input_size, hidden_size, bias, num_chunks, device=None, dtype=None):
        super().__init__()
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.bias = bias
        self.weight_ih = Parameter(_creation.empty(num_chunks * hidden_size, input_size, device=device, dtype=dtype))
        self.weight_hh = Parameter(_creation.empty(num_chunks * hidden_size, hidden_size, device=device,
                                                   dtype=dtype))
        if bias:
            self.bias_ih = Parameter(_creation.empty(num_chunks * hidden_size, device=device, dtype=dtype))
            self.bias_hh = Parameter(_creation.empty(num_chunks * hidden_size, device=device, dtype=dtype))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def extra_repr(self):
        s = "{input_size}, {hidden_size}"
        if "bias" in self.__dict__ and self.bias is not True:
            s += ", bias={bias}"
        if "nonlinearity" in self.__dict__ and self.nonlinearity != "tanh":
            s += ", nonlinearity={nonlinearity}"
        return s.format(**self.__dict__)

    def reset_parameters(self):
        """torch's default: every weight and bias U(-1/sqrt(hidden_size), 1/sqrt(hidden_size))."""
        stdv = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for weight in self.parameters():
            init.uniform_(weight, -stdv, stdv)

    def _prepare(self, input):
        """torch's rank and size checks: (input as (B, I), is_batched)."""
        name = type(self).__name__
        if input.dim() not in (1, 2):
            raise ValueError(f"{name}: Expected input to be 1D or 2D, got {input.dim()}D instead")
        is_batched = input.dim() == 2
        if not is_batched:
            input = input.unsqueeze(0)
        if input.size(1) != self.input_size:
            raise RuntimeError(f"input has inconsistent input_size: got {input.size(1)} expected {self.input_size}")
        return input, is_batched

    def _check_hidden(self, input, hx, k):
        if input.size(0) != hx.size(0):
            raise RuntimeError(f"Input batch size {input.size(0)} doesn't match hidden{k} batch size {hx.size(0)}")
        if hx.size(1) != self.hidden_size:
            raise RuntimeError(f"hidden{k} has inconsistent hidden_size: got {hx.size(1)}, "
                               f"expected {self.hidden_size}")

    def _zeros(self, input):
        return _creation.zeros(input.size(0), self.hidden_size, dtype=input.dtype, device=input.device)


class RNNCell(RNNCellBase):
    """One step of an Elman RNN: h' = tanh(W_ih x + b_ih + W_hh h + b_hh) (or relu)."""

    __constants__ = ["input_size", "hidden_size", "bias", "nonlinearity"]

    def __init__(self, input_size, hidden_size, bias=True, nonlinearity="tanh", device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, num_chunks=1, device=device, dtype=dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input, hx=None):
        if input.dim() not in (1, 2):
            raise ValueError(f"RNNCell: Expected input to be 1D or 2D, got {input.dim()}D instead")
        if hx is not None and hx.dim() not in (1, 2):
            raise ValueError(f"RNNCell: Expected hidden to be 1D or 2D, got {hx.dim()}D instead")
        input, is_batched = self._prepare(input)
        hx = self._zeros(input) if hx is None else (hx if is_batched else hx.unsqueeze(0))
        self._check_hidden(input, hx, 0)
        if self.nonlinearity == "tanh":
            act = _ew.tanh
        elif self.nonlinearity == "relu":
            act = _ew.relu
        else:
            raise RuntimeError(f"Unknown nonlinearity: {self.nonlinearity}")
        gi = F.linear(input, self.weight_ih, self.bias_ih)
        ret = _rnn_step(gi, hx, self.weight_hh, self.bias_hh, act)
        return ret if is_batched else ret.squeeze(0)


class LSTMCell(RNNCellBase):
    """One LSTM step: (h', c') from x and (h, c); gate order i, f, g, o."""

    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, num_chunks=4, device=device, dtype=dtype)

    def forward(self, input, hx=None):
        if input.dim() not in (1, 2):
            raise ValueError(f"LSTMCell: Expected input to be 1D or 2D, got {input.dim()}D instead")
        if hx is not None:
            for idx, value in enumerate(hx):
                if value.dim() not in (1, 2):
                    raise ValueError(f"LSTMCell: Expected hx[{idx}] to be 1D or 2D, got {value.dim()}D instead")
        input, is_batched = self._prepare(input)
        if hx is None:
            zeros = self._zeros(input)
            hx = (zeros, zeros)
        elif not is_batched:
            hx = (hx[0].unsqueeze(0), hx[1].unsqueeze(0))
        self._check_hidden(input, hx[0], 0)
        self._check_hidden(input, hx[1], 1)
        gi = F.linear(input, self.weight_ih, self.bias_ih)
        h, c = _lstm_step(gi, hx[0], hx[1], self.weight_hh, self.bias_hh, None)
        return (h, c) if is_batched else (h.squeeze(0), c.squeeze(0))


class GRUCell(RNNCellBase):
    """One GRU step; gate order r, z, n with n = tanh(W_in x + b_in + r * (W_hn h + b_hn))."""

    def __init__(self, input_size, hidden_size, bias=True, device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, num_chunks=3, device=device, dtype=dtype)

    def forward(self, input, hx=None):
        if input.dim() not in (1, 2):
            raise ValueError(f"GRUCell: Expected input to be 1D or 2D, got {input.dim()}D instead")
        if hx is not None and hx.dim() not in (1, 2):
            raise ValueError(f"GRUCell: Expected hidden to be 1D or 2D, got {hx.dim()}D instead")
        input, is_batched = self._prepare(input)
        hx = self._zeros(input) if hx is None else (hx if is_batched else hx.unsqueeze(0))
        self._check_hidden(input, hx, 0)
        gi = F.linear(input, self.weight_ih, self.bias_ih)
        ret = _gru_step(gi, hx, self.weight_hh, self.bias_hh, self.hidden_size)
        return ret if is_batched else ret.squeeze(0)
