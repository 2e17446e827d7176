"""A tiny protocol-buffer encoder and decoder, for the few TensorBoard messages ember writes.

ember does not depend on protobuf or tensorboard, so the wire format is written by hand: each
field is a key (field number << 3 | wire type) then a varint, a little-endian fixed64/fixed32, or
a length-prefixed byte string (strings, bytes, sub-messages and packed repeated numbers). Fields
are emitted in field-number order, as protobuf's own serializer does. Proto3 leaves out scalars
equal to their default unless they sit in a oneof; callers decide that by passing None.

The decoder (`decode`, `read_records`, `read_events`) is a minimal reader for tests and debugging.
"""
import struct

import numpy as np

from ._crc32c import masked_crc32c

# --- encoding ------------------------------------------------------------------------------------


def varint(n):
    n = int(n)
    if n < 0:
        n += 1 << 64  # int32/int64 negatives are ten-byte two's complement varints
    out = bytearray()
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _key(field, wire_type):
    return varint(field << 3 | wire_type)


def f_varint(field, value):
    """int32/int64/uint32/bool/enum field; None leaves it out."""
    return b"" if value is None else _key(field, 0) + varint(value)


def f_double(field, value):
    return b"" if value is None else _key(field, 1) + struct.pack("<d", float(value))


def f_float(field, value):
    return b"" if value is None else _key(field, 5) + struct.pack("<f", float(value))


def f_bytes(field, value):
    """string/bytes/sub-message field (str is written as UTF-8); None leaves it out."""
    if value is None:
        return b""
    if isinstance(value, str):
        value = value.encode("utf-8")
    return _key(field, 2) + varint(len(value)) + bytes(value)


f_message = f_bytes


def f_packed_doubles(field, values):
    values = np.asarray(values, dtype="<f8").reshape(-1)
    return f_bytes(field, values.tobytes()) if values.size else b""


def f_packed_floats(field, values):
    values = np.asarray(values, dtype="<f4").reshape(-1)
    return f_bytes(field, values.tobytes()) if values.size else b""


def f_packed_varints(field, values):
    values = list(values)
    return f_bytes(field, b"".join(varint(v) for v in values)) if values else b""


def f_repeated_bytes(field, values):
    return b"".join(f_bytes(field, v) for v in values)


# --- TFRecord framing ----------------------------------------------------------------------------


def frame_record(data):
    """One TFRecord: uint64 length, masked CRC32C of the length, data, masked CRC32C of the data."""
    header = struct.pack("<Q", len(data))
    return header + struct.pack("<I", masked_crc32c(header)) + data + struct.pack("<I", masked_crc32c(data))


def read_records(path_or_bytes):
    """The data of each TFRecord in a file (or bytes), checking both CRCs; ValueError on corruption."""
    if isinstance(path_or_bytes, (bytes, bytearray)):
        buf = bytes(path_or_bytes)
    else:
        with open(path_or_bytes, "rb") as f:
            buf = f.read()
    records, pos = [], 0
    while pos < len(buf):
        if pos + 12 > len(buf):
            raise ValueError(f"truncated TFRecord header at byte {pos}")
        header = buf[pos:pos + 8]
        (length,) = struct.unpack("<Q", header)
        (crc,) = struct.unpack("<I", buf[pos + 8:pos + 12])
        if crc != masked_crc32c(header):
            raise ValueError(f"bad length CRC in TFRecord at byte {pos}")
        data = buf[pos + 12:pos + 12 + length]
        if len(data) != length or pos + 16 + length > len(buf):
            raise ValueError(f"truncated TFRecord at byte {pos}")
        (crc,) = struct.unpack("<I", buf[pos + 12 + length:pos + 16 + length])
        if crc != masked_crc32c(data):
            raise ValueError(f"bad data CRC in TFRecord at byte {pos}")
        records.append(data)
        pos += 16 + length
    return records


# --- decoding ------------------------------------------------------------------------------------


def _read_varint(buf, pos):
    result = shift = 0
    while True:
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7


def decode_fields(buf):
    """[(field, wire_type, value)]: value is an int (varint), bytes (length-delimited) or raw
    8/4 bytes (fixed64/fixed32)."""
    out, pos = [], 0
    while pos < len(buf):
        key, pos = _read_varint(buf, pos)
        field, wt = key >> 3, key & 7
        if wt == 0:
            value, pos = _read_varint(buf, pos)
        elif wt == 1:
            value, pos = buf[pos:pos + 8], pos + 8
        elif wt == 2:
            n, pos = _read_varint(buf, pos)
            value, pos = buf[pos:pos + n], pos + n
        elif wt == 5:
            value, pos = buf[pos:pos + 4], pos + 4
        else:
            raise ValueError(f"unsupported wire type {wt} for field {field}")
        out.append((field, wt, value))
    return out


# schemas: field number -> (name, kind, repeated); kind is a scalar type name or a nested schema
_DIM = {1: ("size", "int64", False), 2: ("name", "string", False)}
_SHAPE = {2: ("dim", _DIM, True), 3: ("unknown_rank", "bool", False)}
TENSOR = {1: ("dtype", "enum", False), 2: ("tensor_shape", _SHAPE, False), 4: ("tensor_content", "bytes", False),
          5: ("float_val", "float", True), 6: ("double_val", "double", True), 7: ("int_val", "int32", True),
          8: ("string_val", "bytes", True), 10: ("int64_val", "int64", True), 11: ("bool_val", "bool", True),
          16: ("uint32_val", "uint32", True)}
_PLUGIN = {1: ("plugin_name", "string", False), 2: ("content", "bytes", False)}
_METADATA = {1: ("plugin_data", _PLUGIN, False), 2: ("display_name", "string", False),
             3: ("summary_description", "string", False), 4: ("data_class", "enum", False)}
_IMAGE = {1: ("height", "int32", False), 2: ("width", "int32", False), 3: ("colorspace", "int32", False),
          4: ("encoded_image_string", "bytes", False)}
HISTOGRAM = {1: ("min", "double", False), 2: ("max", "double", False), 3: ("num", "double", False),
             4: ("sum", "double", False), 5: ("sum_squares", "double", False),
             6: ("bucket_limit", "double", True), 7: ("bucket", "double", True)}
_VALUE = {1: ("tag", "string", False), 2: ("simple_value", "float", False), 4: ("image", _IMAGE, False),
          5: ("histo", HISTOGRAM, False), 7: ("node_name", "string", False), 8: ("tensor", TENSOR, False),
          9: ("metadata", _METADATA, False)}
SUMMARY = {1: ("value", _VALUE, True)}
EVENT = {1: ("wall_time", "double", False), 2: ("step", "int64", False), 3: ("file_version", "string", False),
         4: ("graph_def", "bytes", False), 5: ("summary", SUMMARY, False),
         7: ("session_log", {1: ("status", "enum", False), 3: ("msg", "string", False)}, False),
         8: ("tagged_run_metadata", {1: ("tag", "string", False), 2: ("run_metadata", "bytes", False)}, False),
         10: ("source_metadata", {1: ("writer", "string", False)}, False)}
_ATTR_VALUE = {1: ("list", {7: ("shape", _SHAPE, True)}, False), 2: ("s", "bytes", False)}
GRAPH_DEF = {1: ("node", {1: ("name", "string", False), 2: ("op", "string", False), 3: ("input", "string", True),
                          4: ("device", "string", False),
                          5: ("attr", {1: ("key", "string", False), 2: ("value", _ATTR_VALUE, False)}, True)}, True),
             4: ("versions", {1: ("producer", "int32", False)}, False)}
RUN_METADATA = {1: ("step_stats", {1: ("dev_stats", {1: ("device", "string", False)}, True)}, False)}
_STRUCT_VALUE = {2: ("number_value", "double", False), 3: ("string_value", "string", False),
                 4: ("bool_value", "bool", False)}
_STRUCT_VALUE[6] = ("list_value", {1: ("values", _STRUCT_VALUE, True)}, False)
HPARAMS_PLUGIN_DATA = {
    1: ("version", "int32", False),
    2: ("experiment", {4: ("hparam_infos", {1: ("name", "string", False), 4: ("type", "enum", False),
                                            5: ("domain_discrete", {1: ("values", _STRUCT_VALUE, True)}, False)},
                           True),
                       5: ("metric_infos", {1: ("name", {1: ("group", "string", False), 2: ("tag", "string", False)},
                                                False)}, True)}, False),
    3: ("session_start_info", {1: ("hparams", {1: ("key", "string", False), 2: ("value", _STRUCT_VALUE, False)},
                                   True), 4: ("group_name", "string", False)}, False),
    4: ("session_end_info", {1: ("status", "enum", False)}, False),
}

_FIXED = {"double": ("<d", 8), "float": ("<f", 4)}


def _signed64(v):
    return v - (1 << 64) if v >= 1 << 63 else v


def _scalar(kind, wt, value):
    if kind in _FIXED:
        return struct.unpack(_FIXED[kind][0], value)[0]
    if kind == "string":
        return value.decode("utf-8")
    if kind == "bytes":
        return bytes(value)
    if kind == "bool":
        return bool(value)
    if kind in ("int32", "int64"):
        return _signed64(value)
    return value  # uint32 / enum


def decode(buf, schema):
    """Decode a message into a dict by `schema` (unknown fields land under their number)."""
    out = {}
    for field, wt, value in decode_fields(buf):
        if field not in schema:
            out.setdefault(field, []).append(value)
            continue
        name, kind, repeated = schema[field]
        if isinstance(kind, dict):
            items = [decode(value, kind)]
        elif repeated and wt == 2 and kind not in ("string", "bytes"):  # packed
            if kind in _FIXED:
                fmt, size = _FIXED[kind]
                items = [struct.unpack(fmt, value[i:i + size])[0] for i in range(0, len(value), size)]
            else:
                items, pos = [], 0
                while pos < len(value):
                    v, pos = _read_varint(value, pos)
                    items.append(_scalar(kind, 0, v))
        else:
            items = [_scalar(kind, wt, value)]
        if repeated:
            out.setdefault(name, []).extend(items)
        else:
            out[name] = items[-1]
    return out


def read_events(path):
    """Every Event in a TensorBoard event file, decoded into dicts (CRCs checked)."""
    return [decode(r, EVENT) for r in read_records(path)]
