"""CRC-32C (Castagnoli), the checksum of TFRecord framing, table-driven in pure Python.

TensorBoard rejects a record whose masked CRC does not match, so this must be exact; it is fast
enough for what a SummaryWriter writes (scalars are a few dozen bytes, a PNG tens of kilobytes).
"""
_POLY = 0x82F63B78  # the Castagnoli polynomial, bit-reversed


def _make_table():
    table = []
    for n in range(256):
        c = n
        for _ in range(8):
            c = (c >> 1) ^ _POLY if c & 1 else c >> 1
        table.append(c)
    return tuple(table)


_TABLE = _make_table()


def crc32c(data, crc=0):
    """CRC-32C of bytes `data` (continuing from `crc`)."""
    table = _TABLE
    crc ^= 0xFFFFFFFF
    for b in data:
        crc = table[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def masked_crc32c(data):
    """TFRecord's masked CRC: rotate right by 15 bits and add a constant (tensorflow/core/lib/hash/crc32c.h)."""
    crc = crc32c(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF
