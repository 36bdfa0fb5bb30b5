"""Deep validation: checksum-valid but malformed segments are refused, naming section and offset.

Every mutation here is re-sealed (all checksums recomputed), so only the structural checks of deep
validation can catch it.  The property test drives random re-sealed byte changes through a child
process: deep validation either refuses the file, or every read of it succeeds — a read of a
validated file never fails."""

from __future__ import annotations

import contextlib
import itertools
import json
import random
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import rodata
from rodata._core import Segment, deep_validate
from tests.core.segfile import SEC, Entry, directory, reseal
from tests.core.test_hostile import mutate, original_digest, run_cases


def _section(data: bytes, kind: str, column: str | None = None) -> Entry:
    seg_names = [c["name"] for c in json.loads(_schema_text(data))["columns"]]
    _, entries = directory(data)
    for e in entries:
        if e.kind == SEC[kind] and (column is None or e.column == seg_names.index(column)):
            return e
    raise LookupError((kind, column))


def _schema_text(data: bytes) -> bytes:
    _, entries = directory(data)
    e = next(e for e in entries if e.kind == SEC["schema"])
    return data[e.offset : e.offset + e.length]


def _deep_error(tmp_path: Path, data: bytes, name: str, change: Callable[[bytearray], Any]) -> str:
    buf = bytearray(data)
    change(buf)
    path = tmp_path / f"{name}.seg"
    path.write_bytes(bytes(reseal(buf)))
    seg = Segment(path, verify=True)  # checksums all pass: only deep validation can tell
    with pytest.raises(rodata.FormatError) as info:
        deep_validate(seg)
    return str(info.value)


def test_every_type_with_nulls_validates(segment: Path) -> None:
    deep_validate(Segment(segment))
    report = rodata.validate(segment.parent)
    assert report.rows == 40 and report.parts == 1 and report.version == segment.parent.name


def test_empty_and_multi_part_versions_validate(data_root: Path) -> None:
    rodata.write(data_root, "e", {"k": [], "s": []}, key="k", schema={"k": "int64", "s": "string"})
    assert rodata.validate(data_root / "e").rows == 0
    rodata.write(data_root, "m", {"k": np.arange(1000), "s": [str(i) for i in range(1000)]}, key="k",
                 rows_per_part=128)
    assert rodata.validate(data_root / "m").parts == 8


def _keys_swapped(data: bytes) -> Callable[[bytearray], None]:
    keys = _section(data, "data", "id")
    offsets = None
    with contextlib.suppress(LookupError):
        offsets = _section(data, "offsets", "id")

    def change(b: bytearray) -> None:
        if offsets is None:  # int64 keys: swap the first two
            first, second = b[keys.offset : keys.offset + 8], b[keys.offset + 8 : keys.offset + 16]
            b[keys.offset : keys.offset + 16] = second + first
        else:  # string keys: make the second key sort before the first (same length, earlier byte)
            (start,) = struct.unpack_from("<Q", b, offsets.offset + 8)
            b[keys.offset + start] = 0x20
    return change


def test_keys_out_of_order(segment: Path, tmp_path: Path) -> None:
    data = segment.read_bytes()
    message = _deep_error(tmp_path, data, "keys", _keys_swapped(data))
    assert "keys of column 'id'" in message and "do not strictly increase at row 1" in message
    assert str(segment.name) not in message or "keys.seg" in message


def test_invalid_utf8_names_the_byte(segment: Path, tmp_path: Path) -> None:
    data = segment.read_bytes()
    names = _section(data, "data", "name")
    message = _deep_error(tmp_path, data, "utf8", lambda b: b.__setitem__(names.offset + 3, 0xFF))
    assert f"data of column 'name' at offset {names.offset + 3}" in message and "invalid UTF-8" in message


def test_value_starting_inside_a_character(segment: Path, tmp_path: Path) -> None:
    # "ä" is two bytes: a value boundary moved into it leaves each side invalid on its own.
    data = segment.read_bytes()
    names, offsets = _section(data, "data", "name"), _section(data, "offsets", "name")
    text = data[names.offset : names.offset + names.length]
    at = text.index("ä".encode())
    row = next(i for i in range(41) if struct.unpack_from("<Q", data, offsets.offset + 8 * i)[0] > at)

    def change(b: bytearray) -> None:
        struct.pack_into("<Q", b, offsets.offset + 8 * row, at + 1)
    message = _deep_error(tmp_path, data, "boundary", change)
    assert "offsets of column 'name'" in message


@pytest.mark.parametrize(("name", "change_of", "expected"), [
    ("offsets-not-zero", lambda d: (_section(d, "offsets", "name"), 0, 1), "the first offset is not 0"),
    ("offsets-decrease", lambda d: (_section(d, "offsets", "name"), 8 * 20, 0), "offsets decrease"),
    ("offsets-short", lambda d: (_section(d, "offsets", "name"), 8 * 40, 1), "not the data length"),
])
def test_offsets(segment: Path, tmp_path: Path, name: str, change_of: Any, expected: str) -> None:
    data = segment.read_bytes()
    entry, at, value = change_of(data)

    def change(b: bytearray) -> None:
        if name == "offsets-short":
            (last,) = struct.unpack_from("<Q", b, entry.offset + at)
            value_ = last - 1
        else:
            value_ = value
        struct.pack_into("<Q", b, entry.offset + at, value_)
    message = _deep_error(tmp_path, data, name, change)
    assert expected in message and f"at offset {entry.offset + at}" in message


def test_bool_and_date_ranges(segment: Path, tmp_path: Path) -> None:
    data = segment.read_bytes()
    flag, day = _section(data, "data", "flag"), _section(data, "data", "day")
    assert "neither 0 nor 1" in _deep_error(tmp_path, data, "bool", lambda b: b.__setitem__(flag.offset + 5, 2))
    message = _deep_error(tmp_path, data, "date", lambda b: struct.pack_into("<q", b, day.offset + 16, 3_000_000))
    assert "date of row 2 outside years 1 to 9999" in message and f"at offset {day.offset + 16}" in message


def test_validity_padding_and_null_slots(segment: Path, tmp_path: Path) -> None:
    data = segment.read_bytes()
    validity = _section(data, "validity", "f64")
    f64 = _section(data, "data", "f64")
    # 40 rows: the bitmap is exactly 5 bytes, no padding bits.
    null = _null_rows(data, "f64")[0]
    message = _deep_error(tmp_path, data, "null-slot", lambda b: b.__setitem__(f64.offset + 8 * null + 2, 1))
    assert f"the slot of null row {null} is not empty" in message
    names = _section(data, "offsets", "name")
    null = next(r for r in _null_rows(data, "name") if r > 0)

    def grow_null(b: bytearray) -> None:  # the null value takes the previous value's last byte
        (start,) = struct.unpack_from("<Q", b, names.offset + 8 * null)
        struct.pack_into("<Q", b, names.offset + 8 * null, start - 1)
    assert "null row" in _deep_error(tmp_path, data, "null-string", grow_null)
    all_valid = lambda b: b.__setitem__(slice(validity.offset, validity.offset + 5), b"\xff" * 5)  # noqa: E731
    assert "without any null" in _deep_error(tmp_path, data, "no-nulls", all_valid)


def _null_rows(data: bytes, column: str) -> list[int]:
    validity = _section(data, "validity", column)
    bits = np.unpackbits(np.frombuffer(data, np.uint8, validity.length, validity.offset), bitorder="little")
    return np.flatnonzero(bits[:40] == 0).tolist()


def test_validity_padding_bits(data_root: Path, tmp_path: Path) -> None:
    rodata.write(data_root, "p", {"k": np.arange(5), "x": [1.0, None, 2.0, 3.0, 4.0]}, key="k")
    version = (data_root / "p" / "CURRENT").read_text().strip()
    data = (data_root / "p" / version / "part-00000.seg").read_bytes()
    validity = _section(data, "validity", "x")
    message = _deep_error(tmp_path, data, "pad", lambda b: b.__setitem__(validity.offset, b[validity.offset] | 0x80))
    assert "padding bits past the last row" in message


def _slots(b: bytes | bytearray, index: Entry) -> list[tuple[int, int]]:
    out = []
    for at in range(index.offset, index.offset + index.length, 8):
        (slot,) = struct.unpack_from("<Q", b, at)
        if slot:
            out.append((at, slot))
    return out


def test_index_slots(segment: Path, tmp_path: Path) -> None:
    data = segment.read_bytes()
    index = _section(data, "index")
    (a_at, a), (b_at, b_) = _slots(data, index)[:2]

    def swap_rows(b: bytearray) -> None:  # tags stay, rows swap: each slot names the other's key
        struct.pack_into("<Q", b, a_at, (a & ~0xFFFFFFFF) | (b_ & 0xFFFFFFFF))
        struct.pack_into("<Q", b, b_at, (b_ & ~0xFFFFFFFF) | (a & 0xFFFFFFFF))
    message = _deep_error(tmp_path, data, "swap", swap_rows)
    # Found with the other key's tag, or not found at all, depending on where the two homes lie.
    assert "has a tag that is not its key's" in message or "cannot be found from its home slot" in message

    def past_rows(b: bytearray) -> None:
        struct.pack_into("<Q", b, a_at, (a & ~0xFFFFFFFF) | 0xFFFFFFF0)
    assert f"slot {(a_at - index.offset) // 8} points past the last row" in _deep_error(
        tmp_path, data, "past", past_rows)

    slots = _slots(data, index)
    first, then = next((x, y) for x, y in itertools.pairwise(slots) if y[0] == x[0] + 8)

    def duplicate(b: bytearray) -> None:  # two slots name one row: the other row is then in none
        struct.pack_into("<Q", b, then[0], first[1])
    assert "cannot be found from its home slot" in _deep_error(tmp_path, data, "dup", duplicate)

    def drop(b: bytearray) -> None:
        struct.pack_into("<Q", b, a_at, 0)
    assert "39 slots are occupied, not one per row" in _deep_error(tmp_path, data, "drop", drop)

    def move(b: bytearray) -> None:  # a slot moved to after an empty slot past its home cannot be reached
        slots = index.length // 8
        for i in range(slots):
            at = index.offset + 8 * i
            nxt = index.offset + 8 * ((i + 1) % slots)
            (here,) = struct.unpack_from("<Q", b, at)
            (after,) = struct.unpack_from("<Q", b, nxt)
            (after2,) = struct.unpack_from("<Q", b, index.offset + 8 * ((i + 2) % slots))
            if here and not after and not after2:
                struct.pack_into("<Q", b, at, 0)
                struct.pack_into("<Q", b, index.offset + 8 * ((i + 2) % slots), here)
                return
        raise AssertionError("no slot to move")
    assert "cannot be found from its home slot" in _deep_error(tmp_path, data, "move", move)


def test_padding_and_reserved_fields(segment: Path, tmp_path: Path) -> None:
    data = segment.read_bytes()
    schema = _section(data, "schema")
    gap_at = schema.offset + schema.length
    assert gap_at % 64, "the schema section should end before a 64-byte boundary"
    assert "non-zero bytes between sections" in _deep_error(tmp_path, data, "gap",
                                                           lambda b: b.__setitem__(gap_at, 1))
    assert "reserved field" in _deep_error(tmp_path, data, "reserved", lambda b: b.__setitem__(40, 1))


def test_schema_rows_and_key_must_match_the_header(segment: Path, tmp_path: Path) -> None:
    data = segment.read_bytes()
    schema = _section(data, "schema")
    doc = json.loads(_schema_text(data))

    def rewrite(b: bytearray, **fields: Any) -> None:
        text = json.dumps({**doc, **fields}, separators=(",", ":")).encode()
        assert len(text) <= schema.length
        b[schema.offset : schema.offset + schema.length] = text.ljust(schema.length)
    assert "says 41 rows" in _deep_error(tmp_path, data, "rows", lambda b: rewrite(b, rows=41))
    assert "names key 'i8'" in _deep_error(tmp_path, data, "key", lambda b: rewrite(b, key="i8"))


def test_resealed_changes_anywhere_are_refused_or_read_cleanly(segment: Path, tmp_path: Path) -> None:
    """The guarantee: after deep validation passes, no read fails and nothing crashes."""
    data = segment.read_bytes()
    original_digest(tmp_path, segment)
    rng = random.Random(11)
    _, entries = directory(data)
    positions = [e.offset + rng.randrange(e.length) for e in entries if e.length for _ in range(8)]
    positions += [rng.randrange(len(data)) for _ in range(120)]
    cases = []
    for pos in sorted(set(positions)):
        value = rng.randrange(256)
        path = mutate(tmp_path, data, f"byte-{pos}",
                      lambda b, p=pos, v=value: reseal(b) if b.__setitem__(p, v) is None else None)
        cases.append({"path": path, "verify": True, "deep": True, "pos": pos})
    outcomes = []
    for case, result in zip(cases, run_cases(tmp_path, cases), strict=True):
        assert result["outcome"] in ("refused", "ok"), (case, result)
        outcomes.append(result["outcome"])
    assert "refused" in outcomes and "ok" in outcomes  # both kinds of change were made
