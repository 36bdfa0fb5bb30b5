"""Writing one segment file (docs/FORMAT.md) from sorted, typed columns."""

from __future__ import annotations

import json
import os
import struct
from collections.abc import Sequence
from typing import Any, BinaryIO

import numpy as np

from rodata._columns import ColumnData
from rodata._core import (
    FORMAT_CONSTANTS,
    FORMAT_VERSION,
    Segment,
    build_index_int64,
    build_index_strings,
    deep_validate,
    xxh64,
)
from rodata.errors import FormatError, SchemaError
from rodata.manifest import PartEntry
from rodata.schema import MAX_DATE, MIN_DATE, Schema

__all__ = ["check_written", "write_segment"]

HEADER_MAGIC = b"\x89RODATA\n"
TRAILER_MAGIC = b"RODATEND"
ALIGN = FORMAT_CONSTANTS["ALIGN"]
NO_COLUMN = FORMAT_CONSTANTS["NO_COLUMN"]
_ZEROS = bytes(ALIGN)


class _SectionWriter:
    """Appends 64-byte aligned sections to a file and remembers their directory entries."""

    def __init__(self, fh: BinaryIO) -> None:
        self.fh = fh
        self.pos = 0
        self.entries: list[bytes] = []

    def write_raw(self, data: bytes) -> None:
        self.fh.write(data)
        self.pos += len(data)

    def pad(self) -> None:
        rem = self.pos % ALIGN
        if rem:
            self.write_raw(_ZEROS[: ALIGN - rem])

    def section(self, kind: int, column: int, buf: Any) -> None:
        self.pad()
        if isinstance(buf, bytes):
            view = memoryview(buf)
        else:  # as raw bytes: datetime64 arrays do not export a buffer of their own
            view = memoryview(np.ascontiguousarray(buf).reshape(-1).view(np.uint8))  # type: ignore[arg-type]
        offset = self.pos
        self.fh.write(view)
        self.pos += view.nbytes
        self.entries.append(struct.pack("<HHIQQQ", kind, 0, column, offset, view.nbytes, xxh64(view)))


def _header(rows: int, ncols: int, key_index: int) -> bytes:
    major, minor = FORMAT_VERSION
    head = HEADER_MAGIC + struct.pack("<HHIQII", major, minor, FORMAT_CONSTANTS["ENDIAN_TAG"], rows, ncols,
                                      key_index)
    head = head.ljust(56, b"\0")
    return head + struct.pack("<Q", xxh64(head))


def _trailer(dir_offset: int, dir_count: int, dir_checksum: int, file_size: int) -> bytes:
    body = struct.pack("<QQQQ", dir_offset, dir_count, dir_checksum, file_size).ljust(48, b"\0")
    return body + struct.pack("<Q", xxh64(body)) + TRAILER_MAGIC


def _key_value(col: ColumnData, row: int) -> int | str:
    if col.values is not None:
        return int(col.values[row])
    return col.bytes_at(row).decode("utf-8")


def write_segment(path: str | os.PathLike[str], schema: Schema, columns: Sequence[ColumnData]) -> PartEntry:
    """Write `columns` (one per column of `schema`, in its order, already sorted by a unique key) to
    `path` and fsync it.  Use :func:`rodata.parts_writer.write_part`, which sorts, applies the duplicate
    policy and reads the part back, unless the rows are known to be in order."""
    if len(columns) != len(schema.columns):
        raise SchemaError("columns do not match the schema's order")
    rows = len(columns[0]) if columns else 0
    if rows > FORMAT_CONSTANTS["MAX_ROWS"]:
        raise SchemaError(f"{rows} rows is more than one segment holds; split into parts")
    key_index = schema.index(schema.key)
    key = columns[key_index]
    for column, col in zip(schema.columns, columns, strict=True):
        if column.type == "date" and col.values is not None and col.values.size:
            values = col.values if col.valid is None else col.values[col.valid]
            if values.size and (values.min() < MIN_DATE or values.max() > MAX_DATE):
                raise SchemaError(f"column {column.name!r}: dates must lie in years 1 to 9999")
    if len(columns) > FORMAT_CONSTANTS["MAX_COLUMNS"]:
        raise SchemaError(f"{len(columns)} columns: a segment holds at most {FORMAT_CONSTANTS['MAX_COLUMNS']}")
    doc = {"columns": [c.to_segment_json() for c in schema.columns], "key": schema.key, "rows": rows}
    schema_bytes = json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    if len(schema_bytes) > FORMAT_CONSTANTS["MAX_SCHEMA_BYTES"]:
        raise SchemaError(f"the schema takes {len(schema_bytes)} bytes: at most {FORMAT_CONSTANTS['MAX_SCHEMA_BYTES']}")

    with open(path, "wb") as fh:
        out = _SectionWriter(fh)
        out.write_raw(_header(rows, len(columns), key_index))
        out.section(FORMAT_CONSTANTS["SEC_SCHEMA"], NO_COLUMN, schema_bytes)
        for i, col in enumerate(columns):
            if col.valid is not None and not col.valid.all():
                out.section(FORMAT_CONSTANTS["SEC_VALIDITY"], i, np.packbits(col.valid, bitorder="little"))
            if col.values is not None:
                out.section(FORMAT_CONSTANTS["SEC_DATA"], i, col.values)
            else:
                out.section(FORMAT_CONSTANTS["SEC_DATA"], i, col.data)
                out.section(FORMAT_CONSTANTS["SEC_OFFSETS"], i, np.asarray(col.offsets, dtype="<u8"))
        if key.values is not None:
            table = build_index_int64(np.ascontiguousarray(key.values, dtype=np.int64))
        else:
            assert key.offsets is not None and key.data is not None
            table = build_index_strings(key.offsets, key.data)
        out.section(FORMAT_CONSTANTS["SEC_INDEX"], NO_COLUMN, table)
        out.pad()
        directory = b"".join(out.entries)
        dir_offset, dir_checksum = out.pos, xxh64(directory)
        out.write_raw(directory)
        out.pad()
        out.write_raw(_trailer(dir_offset, len(out.entries), dir_checksum, out.pos + 64))
        fh.flush()
        os.fsync(fh.fileno())
    return PartEntry(
        file=os.path.basename(path),
        rows=rows,
        bytes=out.pos,
        min_key=_key_value(key, 0) if rows else None,
        max_key=_key_value(key, rows - 1) if rows else None,
        fingerprint=f"{dir_checksum:016x}",
    )


def check_written(path: str | os.PathLike[str], info: PartEntry) -> None:
    """Read a part back as a reader will, before it may be published: every checksum, deep
    validation (docs/FORMAT.md) and agreement with what the writer recorded for the manifest."""
    seg = Segment(path, verify=True)
    deep_validate(seg)
    name = os.path.basename(path)
    if len(seg) != info.rows:
        raise FormatError(f"{name}: wrote {info.rows} rows, read back {len(seg)}")
    if f"{seg.fingerprint:016x}" != info.fingerprint:
        raise FormatError(f"{name}: the fingerprint read back differs from the one written")
    if info.rows and (seg.key_at(0) != info.min_key or seg.key_at(info.rows - 1) != info.max_key):
        raise FormatError(f"{name}: the key range read back differs from the one written")
