"""Variable-length sequences (torch.nn.utils.rnn): pad_sequence, PackedSequence and packing.

Built from differentiable ops (slicing, cat, stack, index_select), so gradients flow through
padding and packing without new backward code.
"""
from collections import namedtuple

from ..._backend import xp_of
from ..._tensor import Tensor, _wrap
from ...autograd.grad_mode import state as _grad_state
from ...autograd.graph import Node, edge
from ...ops import creation as _creation
from ...ops import shape as _shape

__all__ = ["PackedSequence", "pad_sequence", "unpad_sequence", "pack_padded_sequence", "pad_packed_sequence",
           "pack_sequence", "unpack_sequence", "invert_permutation"]


def invert_permutation(permutation):
    """The permutation that undoes `permutation` (None stays None)."""
    if permutation is None:
        return None
    n = permutation.numel()
    inv = [0] * n
    for i, p in enumerate(permutation.tolist()):
        inv[p] = i
    return _creation.tensor(inv, dtype=permutation.dtype, device=permutation.device)


class PackedSequence(namedtuple("PackedSequence", ["data", "batch_sizes", "sorted_indices", "unsorted_indices"])):
    """Time steps of sequences sorted by length, concatenated: data holds the rows of step 0 (batch_sizes[0]
    of them), then step 1, ...; sorted_indices maps sorted position to the original batch index."""

    __slots__ = ()

    def __new__(cls, data, batch_sizes=None, sorted_indices=None, unsorted_indices=None):
        if unsorted_indices is None:
            unsorted_indices = invert_permutation(sorted_indices)
        if batch_sizes is None:  # torch also accepts PackedSequence((data, batch_sizes))
            data, batch_sizes = data[0], data[1]
        return super().__new__(cls, data, batch_sizes, sorted_indices, unsorted_indices)

    def to(self, *args, **kwargs):
        data = self.data.to(*args, **kwargs)
        if data is self.data:
            return self
        device = data.device
        si = None if self.sorted_indices is None else self.sorted_indices.to(device)
        ui = None if self.unsorted_indices is None else self.unsorted_indices.to(device)
        return type(self)(data, self.batch_sizes, si, ui)

    def cpu(self):
        return self.to("cpu")

    def cuda(self, *args, **kwargs):
        return self.to("cuda")

    def double(self):
        return self.to(dtype=_creation_dtype("float64"))

    def float(self):
        return self.to(dtype=_creation_dtype("float32"))

    def half(self):
        return self.to(dtype=_creation_dtype("float16"))

    def long(self):
        return self.to(dtype=_creation_dtype("int64"))

    def int(self):
        return self.to(dtype=_creation_dtype("int32"))

    def short(self):
        return self.to(dtype=_creation_dtype("int16"))

    def char(self):
        return self.to(dtype=_creation_dtype("int8"))

    def byte(self):
        return self.to(dtype=_creation_dtype("uint8"))

    def pin_memory(self):
        return type(self)(self.data.pin_memory(), self.batch_sizes, self.sorted_indices, self.unsorted_indices)

    @property
    def is_cuda(self):
        return self.data.is_cuda

    def is_pinned(self):
        return False


def _creation_dtype(name):
    from ... import _backend
    return getattr(_backend, name)


def _sequences(sequences):
    if isinstance(sequences, Tensor):
        sequences = sequences.unbind(0)
    else:
        sequences = list(sequences)
    if not sequences:
        raise RuntimeError("received an empty list of sequences")
    return sequences


def pad_sequence(sequences, batch_first=False, padding_value=0.0, padding_side="right"):
    """Stack sequences of shape (L_i, *) into (L_max, B, *) ((B, L_max, *) with batch_first), padding the
    short ones with padding_value on padding_side ('right' or 'left')."""
    sequences = _sequences(sequences)
    if padding_side not in ("left", "right"):
        raise RuntimeError(f"Expected padding_side to be one of left or right, but got {padding_side}.")
    for s in sequences:
        if s.dim() == 0:
            raise RuntimeError("pad_sequence: every sequence needs a length dimension, but got a 0-d tensor")
    max_len = max(s.size(0) for s in sequences)
    first = sequences[0]
    trailing = tuple(first.shape[1:])
    keys = []
    for i, s in enumerate(sequences):
        if tuple(s.shape[1:]) != trailing:
            raise RuntimeError(f"pad_sequence: sequence {i} has shape {list(s.shape)} but sequence 0 has "
                               f"{list(first.shape)}: all must agree in every dimension after the first")
        n = s.size(0)
        rows = slice(0, n) if padding_side == "right" else slice(max_len - n, max_len)
        keys.append([(i, rows) if batch_first else (rows, i)])
    shape = (len(sequences), max_len) if batch_first else (max_len, len(sequences))
    return _fill_slices(shape + trailing, padding_value, first, sequences, keys)


class CopySlices(Node):
    """torch's padded outputs end in CopySlices (a chain of slice copies there).  Here one node, so the
    backward stays linear in the number of slices: each input's gradient is its slices of g, in order."""
    __slots__ = ("keys", "dtypes")
    _double_backward = True   # its formula (slices, concatenation) also runs on Tensors

    def name(self):
        return "torch::autograd::CopySlices"  # torch's C++ name; its repr and print say CopySlices

    def apply(self, grad):
        xp = xp_of(grad)
        out = []
        for (fn, _), keys, dtype in zip(self.next_functions, self.keys, self.dtypes):
            if fn is None:
                out.append(None)
                continue
            g = xp.concatenate([grad[k] for k in keys], 0) if len(keys) > 1 else grad[keys[0]].copy()
            out.append(g if g.dtype == dtype else g.astype(dtype))
        return tuple(out)


def _fill_slices(shape, padding_value, like, inputs, keys):
    """A tensor of `shape` filled with padding_value (like's dtype and device) where the rows of
    inputs[i], split along dim 0 into the pieces keys[i] name, are copied into out[key]."""
    out = _creation.full(shape, padding_value, dtype=like.dtype, device=like.device)
    a = out._data
    for t, ks in zip(inputs, keys):
        pos = 0
        for k in ks:
            piece = a[k]
            n = piece.shape[0]
            piece[...] = t._data[pos:pos + n]
            pos += n
    if _grad_state.enabled and any(t._requires_grad for t in inputs):
        node = CopySlices.__new__(CopySlices)
        node.next_functions = tuple(edge(t) for t in inputs)
        node._saved_versions = ()
        node.keys, node.dtypes = keys, [t._data.dtype for t in inputs]
        out._requires_grad = True
        out.grad_fn = node
    return out


def unpad_sequence(padded_sequences, lengths, batch_first=False):
    """The list of unpadded sequences from pad_sequence's output and the lengths."""
    if not batch_first:
        padded_sequences = padded_sequences.transpose(0, 1)
    return [seq[:int(n)] for seq, n in zip(padded_sequences.unbind(0), _lengths_list(lengths))]


def _lengths_list(lengths):
    if isinstance(lengths, Tensor):
        values, dim = lengths.tolist(), lengths.dim()
    else:
        values = list(lengths)
        dim = 1 + (bool(values) and all(isinstance(v, (list, tuple)) for v in values))
    if dim != 1:  # torch: as_tensor(lengths) must come out 1-D
        raise RuntimeError(f"'lengths' argument should be a 1D CPU int64 tensor, but got {dim}D cpu Long tensor")
    return [int(v) for v in values]


def _batch_sizes(lengths):
    """Non-increasing lengths -> batch size per time step."""
    batch_sizes = []
    b = len(lengths)
    for t in range(lengths[0]):
        while b and lengths[b - 1] <= t:
            b -= 1
        batch_sizes.append(b)
    return batch_sizes


def pack_padded_sequence(input, lengths, batch_first=False, enforce_sorted=True):
    """Pack a padded batch (T, B, *) ((B, T, *) with batch_first) of sequences with the given lengths."""
    lengths = _lengths_list(lengths)
    if enforce_sorted:
        if any(lengths[i] < lengths[i + 1] for i in range(len(lengths) - 1)):
            raise RuntimeError("`lengths` array must be sorted in decreasing order when `enforce_sorted` is True. "
                               "You can pass `enforce_sorted=False` to pack_padded_sequence and/or pack_sequence to "
                               "sidestep this requirement if you do not need ONNX exportability.")
        sorted_indices = None
    else:
        order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
        lengths = [lengths[i] for i in order]
        sorted_indices = _creation.tensor(order, dtype=_creation_dtype("int64"), device=input.device)
        input = input.index_select(0 if batch_first else 1, sorted_indices)
    if batch_first:
        input = input.transpose(0, 1)
    if lengths and lengths[-1] <= 0:
        raise RuntimeError("Length of all samples has to be greater than 0, but found an element in 'lengths' "
                           "that is <= 0")
    if len(lengths) != input.size(1):
        raise RuntimeError(f"Expected `len(lengths)` to be equal to batch_size, but got {len(lengths)} "
                           f"(batch_size={input.size(1)})")
    if lengths[0] > input.size(0):
        raise RuntimeError(f"Length of a sample ({lengths[0]}) is larger than the padded length "
                           f"({input.size(0)})")
    batch_sizes = _batch_sizes(lengths)
    return PackedSequence(_pack(input, batch_sizes), _creation.tensor(batch_sizes, dtype=_creation_dtype("int64")),
                          sorted_indices, None)


class PackPaddedSequenceBackward0(Node):
    """Scatter the packed rows' gradient back into a zero padded (T, B, *) gradient."""
    __slots__ = ("shape", "batch_sizes")
    _double_backward = True   # its formula (slice writes into zeros) also runs on Tensors

    def apply(self, grad):
        out = xp_of(grad).zeros(self.shape, grad.dtype)
        pos = 0
        for t, b in enumerate(self.batch_sizes):
            out[t, :b] = grad[pos:pos + b]
            pos += b
        return (out,)


def _pack(input, batch_sizes):
    """The rows of a time-first padded batch that belong to sequences: (sum(batch_sizes), *)."""
    a = input._data
    data = _wrap(xp_of(a).concatenate([a[t, :b] for t, b in enumerate(batch_sizes)], 0))
    if _grad_state.enabled and input._requires_grad:
        node = PackPaddedSequenceBackward0.__new__(PackPaddedSequenceBackward0)
        node.next_functions = (edge(input),)
        node._saved_versions = ()
        node.shape, node.batch_sizes = a.shape, batch_sizes
        data._requires_grad = True
        data.grad_fn = node
    return data


def pad_packed_sequence(sequence, batch_first=False, padding_value=0.0, total_length=None):
    """Undo pack_padded_sequence: (padded (T, B, *), lengths as an int64 tensor)."""
    data, batch_sizes, _, unsorted_indices = sequence
    batch_sizes = [int(b) for b in batch_sizes.tolist()]
    max_batch = batch_sizes[0]
    T = len(batch_sizes)
    if total_length is not None:
        if total_length < T:
            raise ValueError("Expected total_length to be at least the length of the longest sequence in input, "
                             f"but got total_length={total_length} and max sequence length being {T}")
    # as torch: fill (T, B, *) and copy each step's rows into it (CopySlices), transpose for batch_first,
    # then restore the original batch order (IndexSelectBackward0)
    padded = _fill_slices((max(T, total_length or T), max_batch, *data.shape[1:]), padding_value, data, [data],
                          [[(t, slice(0, b)) for t, b in enumerate(batch_sizes)]])
    lengths = [sum(1 for b in batch_sizes if b > i) for i in range(max_batch)]
    lengths = _creation.tensor(lengths, dtype=_creation_dtype("int64"))
    if batch_first:
        padded = padded.transpose(0, 1)
    if unsorted_indices is not None:
        padded = padded.index_select(0 if batch_first else 1, unsorted_indices)
        lengths = lengths.index_select(0, unsorted_indices.cpu())
    return padded, lengths


def pack_sequence(sequences, enforce_sorted=True):
    """Pack a list of (L_i, *) sequences (pad_sequence, then pack_padded_sequence)."""
    sequences = _sequences(sequences)
    lengths = [s.size(0) for s in sequences]
    return pack_padded_sequence(pad_sequence(sequences), lengths, enforce_sorted=enforce_sorted)


def unpack_sequence(packed_sequences):
    """The list of sequences in a PackedSequence, in their original order."""
    padded, lengths = pad_packed_sequence(packed_sequences, batch_first=True)
    return unpad_sequence(padded, lengths, batch_first=True)
