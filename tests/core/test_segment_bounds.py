"""Bounds at the boundary of the compiled reader: forged directories, bad column numbers, and the
byte offsets that access-time errors carry out of nogil code."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
import pytest

import rodata
from rodata._core import FORMAT_CONSTANTS, Segment, xxh64
from tests.core.segfile import directory, reseal

SEC_DATA, SEC_OFFSETS = FORMAT_CONSTANTS["SEC_DATA"], FORMAT_CONSTANTS["SEC_OFFSETS"]


def _part(root: Path, columns: dict[str, object], key: str) -> Path:
    v = rodata.write(root, "t", columns, key=key)
    return v.path / "part-00000.seg"


def _forge_directory(part: Path, extra: int, kind: int, minor: int | None = None) -> bytes:
    """The segment with `extra` zero-length entries of `kind` appended to its directory (moved past them)."""
    data = bytearray(part.read_bytes())
    dir_off, entries = directory(data)
    raw_entries = bytes(data[dir_off : dir_off + 32 * len(entries)])
    filler = struct.pack("<HHIQQQ", kind, 0, 0, dir_off, 0, xxh64(b"")) * extra
    body = bytearray(data[:dir_off]) + raw_entries + filler
    body += bytes(-len(body) % 64)
    trailer = bytearray(64)
    struct.pack_into("<QQQQ", trailer, 0, dir_off, len(entries) + extra, 0, len(body) + 64)
    trailer[56:] = b"RODATEND"
    out = body + trailer
    if minor is not None:
        struct.pack_into("<H", out, 10, minor)
    return bytes(reseal(out, sections=False))


def test_a_forged_directory_of_a_million_entries_is_refused_at_the_cap(data_root: Path, tmp_path: Path) -> None:
    part = _part(data_root, {"k": np.arange(10), "x": np.arange(10)}, "k")
    forged = tmp_path / "forged.seg"
    forged.write_bytes(_forge_directory(part, 1_000_000, SEC_DATA))
    assert forged.stat().st_size > 32_000_000
    with pytest.raises(rodata.FormatError, match=r"sections for 2 columns: at most 8"):
        Segment(forged, verify=False)


def test_unknown_kinds_of_a_newer_minor_version_are_skipped_without_python_objects(
        data_root: Path, tmp_path: Path) -> None:
    part = _part(data_root, {"k": np.arange(10), "x": np.arange(10)}, "k")
    forged = tmp_path / "newer.seg"
    forged.write_bytes(_forge_directory(part, 1_000_000, 77, minor=9))
    seg = Segment(forged, verify=True)
    assert len(seg.sections) == 4 and seg.get(3, (0, 1)) == {"k": 3, "x": 3}  # the optional sections skipped


def test_too_many_columns_is_refused_at_the_header(data_root: Path, tmp_path: Path) -> None:
    part = _part(data_root, {"k": np.arange(3)}, "k")
    buf = bytearray(part.read_bytes())
    struct.pack_into("<I", buf, 24, 1 << 20)
    forged = tmp_path / "wide.seg"
    forged.write_bytes(bytes(reseal(buf)))
    with pytest.raises(rodata.FormatError, match="column count 1048576 is not between 1 and 32768"):
        Segment(forged)


def test_bad_column_numbers_are_refused_before_any_read(data_root: Path) -> None:
    seg = Segment(_part(data_root, {"k": np.arange(10), "s": [str(i) for i in range(10)]}, "k"))
    for cols in [(0, 99), (-1,), (1 << 40,)]:
        with pytest.raises((IndexError, OverflowError)):
            seg.get(3, cols)
        with pytest.raises((IndexError, OverflowError)):
            seg.rows(np.array([1, 2], dtype=np.int64), cols)
        with pytest.raises((IndexError, OverflowError)):
            seg.row(1, cols)
    with pytest.raises(TypeError):
        seg.get(3, ("s",))  # type: ignore[arg-type]
    assert seg.get(3, (1, 0)) == {"s": "3", "k": 3}


def _corrupt_offsets(part: Path, tmp_path: Path, column: int, row: int, value: int) -> tuple[Path, int]:
    buf = bytearray(part.read_bytes())
    _, entries = directory(buf)
    offsets = next(e for e in entries if e.kind == SEC_OFFSETS and e.column == column)
    struct.pack_into("<Q", buf, offsets.offset + 8 * row, value)
    out = tmp_path / "bad-offsets.seg"
    out.write_bytes(bytes(reseal(buf)))
    return out, offsets.offset + 8 * row


def test_access_time_errors_carry_the_real_offset(data_root: Path, tmp_path: Path) -> None:
    part = _part(data_root, {"k": np.arange(10), "s": [str(i) for i in range(10)]}, "k")
    bad, at = _corrupt_offsets(part, tmp_path, column=1, row=5, value=1 << 40)
    seg = Segment(bad, verify=False)
    with pytest.raises(rodata.FormatError) as info:
        seg.get(4, (1,))  # row 4 ends at offsets[5]
    assert f"offsets of column 's' at offset {at - 8}: offsets of row 4" in str(info.value)  # the row's pair
    with pytest.raises(rodata.FormatError, match="offsets of column 's'"):
        rodata.validate(bad)


def test_string_key_lookup_errors_name_the_key_offsets(data_root: Path, tmp_path: Path) -> None:
    keys = [f"key-{i:03d}" for i in range(20)]
    part = _part(data_root, {"k": keys}, "k")
    seg = Segment(part)
    row = seg.find("key-007")
    bad, at = _corrupt_offsets(part, tmp_path, column=0, row=row + 1, value=1 << 40)
    with pytest.raises(rodata.FormatError) as info:
        Segment(bad, verify=False).find("key-007")
    assert f"offsets of column 'k' at offset {at - 8}" in str(info.value)


def test_invalid_utf8_at_access_names_its_byte(data_root: Path, tmp_path: Path) -> None:
    part = _part(data_root, {"k": np.arange(3), "s": ["aa", "bb", "cc"]}, "k")
    buf = bytearray(part.read_bytes())
    _, entries = directory(buf)
    data = next(e for e in entries if e.kind == SEC_DATA and e.column == 1)
    buf[data.offset + 3] = 0xFF  # the second byte of "bb"
    bad = tmp_path / "utf8.seg"
    bad.write_bytes(bytes(reseal(buf)))
    with pytest.raises(rodata.FormatError, match=f"data of column 's' at offset {data.offset + 3}: invalid UTF-8"):
        Segment(bad, verify=True).get(1, (1,))


@pytest.mark.parametrize("bad_type", [["string"], {}, 7, None])
def test_a_schema_type_of_any_json_kind_is_a_format_error(data_root: Path, tmp_path: Path, bad_type: object) -> None:
    import json

    part = _part(data_root, {"k": np.arange(3), "v": ["a", "b", "c"]}, "k")
    buf = bytearray(part.read_bytes())
    _, entries = directory(buf)
    schema = next(e for e in entries if e.kind == FORMAT_CONSTANTS["SEC_SCHEMA"])
    doc = json.loads(bytes(buf[schema.offset : schema.offset + schema.length]))
    doc["columns"][1]["type"] = bad_type
    text = json.dumps(doc, separators=(",", ":")).encode()
    assert len(text) <= schema.length + 16
    buf[schema.offset : schema.offset + len(text)] = text
    struct.pack_into("<Q", buf, schema.at + 16, len(text))
    bad = tmp_path / "schema.seg"
    bad.write_bytes(bytes(reseal(buf)))
    with pytest.raises(rodata.FormatError, match="bad column description"):
        Segment(bad)


def test_a_key_with_a_lone_surrogate_is_absent(data_root: Path) -> None:
    v = rodata.write(data_root, "s", {"k": ["a", "b", "c"], "x": [1, 2, 3]}, key="k")
    with rodata.open(v.path) as ds:
        assert ds.get("\ud800") is None
        batch = ds.get_many(["b", "\ud800", "c"])
        assert batch.found.tolist() == [True, False, True] and batch["x"].tolist() == [2, 0, 3]


def test_every_accessor_checks_its_column_and_row_numbers(data_root: Path) -> None:
    """One check of a column number and one of a row number, the same message from every method."""
    seg = Segment(_part(data_root, {"k": np.arange(4), "s": ["a", "b", None, "d"]}, "k"))
    rows = np.array([0, -1, 3], dtype=np.int64)
    by_column = [lambda c: seg.value(c, 0), lambda c: seg.take_objects(c, rows), lambda c: seg.valid_rows(c, rows),
                 seg.column_view, seg.validity_view, seg.offsets_view]
    for col in (2, -1, 1 << 40):
        for read in by_column:
            with pytest.raises(IndexError, match=f"^column {col} out of range$"):
                read(col)
    past = np.array([0, 4], dtype=np.int64)
    by_row = [lambda r: seg.value(0, r), seg.key_at, lambda r: seg.row(r, (0,))]
    for row in (4, -1):
        for read in by_row:
            with pytest.raises(IndexError, match=f"^row {row} out of range$"):
                read(row)
    for read_rows in (lambda: seg.rows(past, (0,)), lambda: seg.take_objects(1, past), lambda: seg.valid_rows(1, past)):
        with pytest.raises(IndexError, match=r"^row 4 out of range$"):
            read_rows()
    assert seg.take_objects(1, rows) == ["a", None, "d"]
    assert seg.valid_rows(1, np.array([0, -1, 2], dtype=np.int64)).tolist() == [True, False, False]
    assert seg.rows(rows, (0,)) == [{"k": 0}, None, {"k": 3}]
