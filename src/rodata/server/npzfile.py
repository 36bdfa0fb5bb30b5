"""An uncompressed ``.npz`` archive (what ``numpy.savez`` writes: a stored zip of ``.npy`` members)
as the chunks of an answer, without copying the arrays: each member's zip header and ``.npy``
header are bytes, its values a view of the array; small members are joined into their headers.

The zip is written by hand (the format's fixed little-endian records) because ``zipfile`` copies
every member into one buffer and the buffer into the answer: two passes over megabytes, most of
the cost of an archive beside the gather itself.  Answers are far below 4 GiB (the size limits),
so no zip64 record is needed; one over that is refused."""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["as_bytes", "npy_header", "npz_chunks"]

_LOCAL = struct.Struct("<IHHHHHIIIHH")  # signature, version, flags, method, time, date, crc, sizes, name, extra
_CENTRAL = struct.Struct("<IHHHHHHIIIHHHHHII")
_END = struct.Struct("<IHHHHIIH")
_VERSION = 20  # 2.0: stored members
_DATE = (1 << 5) | 1  # 1980-01-01, as zipfile writes a member without a date
_JOIN_BELOW = 16 * 1024  # a member smaller than this is copied into its header (fewer, larger writes)
_LIMIT = 0xFFFFFFFF


def as_bytes(array: np.ndarray[Any, Any]) -> memoryview:
    """A flat byte view of a C-contiguous array (datetime64 has no buffer format of its own)."""
    flat: Any = array.reshape(-1).view(np.uint8)
    return memoryview(flat)


def npy_header(array: np.ndarray[Any, Any]) -> bytes:
    """The ``.npy`` header (format 1.0, or 2.0 when needed) that precedes `array`'s raw bytes."""
    buf = io.BytesIO()
    info = np.lib.format.header_data_from_array_1_0(array)
    try:
        np.lib.format.write_array_header_1_0(buf, info)
    except ValueError:  # a header over 64 KiB (a very wide structure) needs format 2.0
        buf = io.BytesIO()
        np.lib.format.write_array_header_2_0(buf, info)
    return buf.getvalue()


def npz_chunks(arrays: Sequence[tuple[str, np.ndarray[Any, Any]]]) -> tuple[list[bytes | memoryview], int]:
    """The archive of the named arrays, as chunks in order, and its length in bytes."""
    chunks: list[bytes | memoryview] = []
    central: list[bytes] = []
    offset = 0
    for name, array in arrays:
        data = np.ascontiguousarray(array)
        header = npy_header(data)
        values = as_bytes(data)
        size = len(header) + values.nbytes
        crc = zlib.crc32(values, zlib.crc32(header))
        member = f"{name}.npy".encode()
        local = _LOCAL.pack(0x04034B50, _VERSION, 0, 0, 0, _DATE, crc, size, size, len(member), 0) + member
        if offset + len(local) + size > _LIMIT:
            raise ValueError("an npz answer over 4 GiB")  # the size limits keep answers far below this
        central.append(_CENTRAL.pack(0x02014B50, _VERSION, _VERSION, 0, 0, 0, _DATE, crc, size, size, len(member),
                                     0, 0, 0, 0, 0o600 << 16, offset) + member)
        if values.nbytes < _JOIN_BELOW:
            chunks.append(local + header + values.tobytes())
        else:
            chunks.append(local + header)
            chunks.append(values)
        offset += len(local) + size
    directory = b"".join(central)
    chunks.append(directory + _END.pack(0x06054B50, 0, 0, len(central), len(central), len(directory), offset, 0))
    return chunks, offset + len(directory) + _END.size
