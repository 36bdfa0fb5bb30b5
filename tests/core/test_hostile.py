"""Hostile segment files: truncated, bit-flipped, lying lengths and offsets, absurd counts.

Every case runs in a child process (hostile_worker), so a segfault, SIGBUS or hang fails the test instead of
killing the run.  The only acceptable outcomes are a FormatError or, where the damage is in bytes no reader
looks at (alignment padding), data identical to the original."""

from __future__ import annotations

import json
import random
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import rodata
from tests.core.segfile import SEC, directory, reseal, set_entry

ROOT = Path(__file__).resolve().parents[2]


def run_cases(workdir: Path, cases: list[dict[str, Any]]) -> list[dict[str, Any]]:
    spec = workdir / f"cases-{random.getrandbits(32):08x}.json"
    spec.write_text(json.dumps(cases))
    proc = subprocess.run([sys.executable, "-m", "tests.core.hostile_worker", str(spec)], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)
    lines = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
    results = [r for r in lines if "case" in r]
    if proc.returncode != 0:
        started = [r["start"] for r in lines if "start" in r]
        last = cases[started[-1]] if started else None
        pytest.fail(f"worker died with status {proc.returncode} during case {last}: {proc.stderr[-2000:]}")
    assert len(results) == len(cases)
    return results


def mutate(workdir: Path, original: bytes, name: str, change: Any) -> str:
    buf = bytearray(original)
    out = change(buf)
    path = workdir / f"{name}.seg"
    path.write_bytes(bytes(out if out is not None else buf))
    return str(path)


def original_digest(workdir: Path, segment: Path) -> str:
    (result,) = run_cases(workdir, [{"path": str(segment), "verify": True}])
    assert result["outcome"] == "ok", result
    return str(result["digest"])


def test_truncation_anywhere_is_a_format_error(segment: Path, tmp_path: Path) -> None:
    data = segment.read_bytes()
    cuts = sorted({*range(0, len(data), 24), *range(len(data) - 80, len(data))})
    cases = []
    for cut in cuts:
        path = tmp_path / f"cut-{cut}.seg"
        path.write_bytes(data[:cut])
        cases += [{"path": str(path), "verify": True}, {"path": str(path), "verify": False}]
    for case, result in zip(cases, run_cases(tmp_path, cases), strict=True):
        assert result["outcome"] == "format_error", (case, result)


def _flip_positions(data: bytes, rng: random.Random) -> list[int]:
    dir_off, entries = directory(data)
    structural = [*range(0, 64), *range(dir_off, len(data))]
    inside = [e.offset + rng.randrange(e.length) for e in entries if e.length for _ in range(6)]
    anywhere = [rng.randrange(len(data)) for _ in range(150)]
    return sorted(set(structural + inside + anywhere))


def run_bit_flips(segment: Path, tmp_path: Path, *, seed: int, verify: bool) -> list[tuple[Any, Any]]:
    """Flip one random bit at each of many positions; (case, result) per flipped file."""
    data = segment.read_bytes()
    rng = random.Random(seed)
    cases = []
    for pos in _flip_positions(data, rng):
        bit = 1 << rng.randrange(8)
        path = mutate(tmp_path, data, f"flip-{pos}", lambda b, p=pos, m=bit: b.__setitem__(p, b[p] ^ m))
        cases.append({"path": path, "verify": verify, "pos": pos})
    return list(zip(cases, run_cases(tmp_path, cases), strict=True))


def test_bit_flips_are_detected_by_verification(segment: Path, tmp_path: Path) -> None:
    want = original_digest(tmp_path, segment)
    for case, result in run_bit_flips(segment, tmp_path, seed=1, verify=True):
        # Either caught, or the flip hit padding no reader looks at and nothing changed.
        assert result["outcome"] == "format_error" or result.get("digest") == want, (case, result)


def test_bit_flips_without_verification_never_crash(segment: Path, tmp_path: Path) -> None:
    for case, result in run_bit_flips(segment, tmp_path, seed=2, verify=False):
        assert result["outcome"] in ("format_error", "ok"), (case, result)


def _lies(data: bytes) -> dict[str, Any]:
    """Mutations that are re-sealed afterwards, so only structural checks can catch them."""
    dir_off, entries = directory(data)
    size = len(data)
    trailer = size - 64
    by_kind: dict[int, list[Any]] = {}
    for e in entries:
        by_kind.setdefault(e.kind, []).append(e)
    data_e = next(e for e in by_kind[SEC["data"]] if e.column == 1)  # column 1 is fixed-width (int8)
    offs_e = by_kind[SEC["offsets"]][0]
    index_e, schema_e = by_kind[SEC["index"]][0], by_kind[SEC["schema"]][0]

    def header_u64(at: int, value: int) -> Any:
        return lambda b: struct.pack_into("<Q", b, at, value)

    def header_u32(at: int, value: int) -> Any:
        return lambda b: struct.pack_into("<I", b, at, value)

    def entry(e: Any, **kw: int) -> Any:
        return lambda b: set_entry(b, e, **kw)

    def schema_text(text: bytes) -> Any:
        def change(b: bytearray) -> None:
            assert len(text) <= schema_e.length + (64 - schema_e.length % 64) % 64
            b[schema_e.offset : schema_e.offset + len(text)] = text
            set_entry(b, schema_e, length=len(text))
        return change

    def offsets_backwards(b: bytearray) -> None:
        struct.pack_into("<Q", b, offs_e.offset + 8, 2**63)

    def index_past_rows(b: bytearray) -> None:
        for at in range(index_e.offset, index_e.offset + index_e.length, 8):
            (slot,) = struct.unpack_from("<Q", b, at)
            if slot:
                struct.pack_into("<Q", b, at, (slot & ~0xFFFFFFFF) | 0xFFFFFFF0)

    def index_full_of_garbage(b: bytearray) -> None:
        for at in range(index_e.offset, index_e.offset + index_e.length, 8):
            struct.pack_into("<Q", b, at, 0x1234567_00000001)

    nested = b"[" * 4000 + b"]" * 4000
    return {
        "rows-huge": header_u64(16, 2**32 - 2),
        "rows-plus-one": header_u64(16, int.from_bytes(data[16:24], "little") + 1),
        "rows-over-format-limit": header_u64(16, 2**63),
        "columns-count-lies": header_u32(24, 1000),
        "key-index-out-of-range": header_u32(28, 999),
        "version-2": lambda b: struct.pack_into("<H", b, 8, 2),
        "endianness": lambda b: struct.pack_into(">I", b, 12, 0x0A0B0C0D),
        "dir-count-huge": lambda b: struct.pack_into("<Q", b, trailer + 8, 2**61),
        "dir-offset-past-end": lambda b: struct.pack_into("<Q", b, trailer, size + 64),
        "dir-offset-misaligned": lambda b: struct.pack_into("<Q", b, trailer, dir_off - 8),
        "size-lies": lambda b: struct.pack_into("<Q", b, trailer + 24, size * 2),
        "data-length-lies": entry(data_e, length=data_e.length + 8),
        "data-length-huge": entry(data_e, length=2**64 - 64),
        "data-offset-overflows": entry(data_e, offset=2**64 - 64),
        "section-overlaps-previous": entry(data_e, offset=schema_e.offset),
        "section-misaligned": entry(data_e, offset=data_e.offset + 1),
        "offsets-length-lies": entry(offs_e, length=offs_e.length - 8),
        "index-not-power-of-two": entry(index_e, length=index_e.length - 8),
        "schema-not-json": schema_text(b"{not json"),
        "schema-deeply-nested": schema_text(nested[: min(len(nested), schema_e.length)]),
        "schema-duplicate-names": lambda b: b.__setitem__(slice(schema_e.offset, schema_e.offset + schema_e.length),
                                                          _rename_all(b, schema_e)),
        "offsets-backwards": offsets_backwards,
        "index-points-past-rows": index_past_rows,
    }, index_full_of_garbage


def _rename_all(b: bytearray, schema_e: Any) -> bytes:
    doc = json.loads(bytes(b[schema_e.offset : schema_e.offset + schema_e.length]))
    for c in doc["columns"]:
        if c["name"] != doc["key"]:
            c["name"] = "same"
    text = json.dumps(doc, separators=(",", ":")).encode()
    return text.ljust(schema_e.length)


def test_lying_structures_are_format_errors(segment: Path, tmp_path: Path) -> None:
    data = segment.read_bytes()
    lies, _ = _lies(data)
    cases = []
    for name, change in lies.items():
        path = mutate(tmp_path, data, name, lambda b, c=change: reseal(b) if c(b) is None else None)
        cases += [{"path": path, "verify": True, "name": name}, {"path": path, "verify": False, "name": name}]
    for case, result in zip(cases, run_cases(tmp_path, cases), strict=True):
        assert result["outcome"] == "format_error", (case, result)


def test_an_index_with_no_empty_slot_cannot_hang_a_lookup(segment: Path, tmp_path: Path) -> None:
    data = segment.read_bytes()
    _, garbage = _lies(data)
    path = mutate(tmp_path, data, "full-index", lambda b: reseal(b) if garbage(b) is None else None)
    (result,) = run_cases(tmp_path, [{"path": path, "verify": True}])
    # Every probe runs out after one lap of the table; rows are simply not found.
    assert result["outcome"] == "ok", result
    with rodata.open(path) as ds:
        assert ds.get(ds._segments()[0].key_at(0)) is None


def _set_major(buf: bytearray, major: int) -> bytearray:
    struct.pack_into("<H", buf, 8, major)
    return buf


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda b: b.__setitem__(slice(0, 8), b"NOTRODAT"), r"header at offset 0: bad magic"),
        (lambda b: reseal(_set_major(b, 9)), r"header at offset 8: unsupported format version 9"),
        (lambda b: b.__setitem__(slice(len(b) - 8, len(b)), b"XXXXXXXX"), r"trailer at offset \d+: bad trailer magic"),
        (lambda b: b.__setitem__(70, b[70] ^ 1), r"schema at offset 64: checksum mismatch"),
    ],
)
def test_errors_name_section_and_offset(segment: Path, tmp_path: Path, change: Any, message: str) -> None:
    buf = bytearray(segment.read_bytes())
    change(buf)
    path = tmp_path / "bad.seg"
    path.write_bytes(bytes(buf))
    with pytest.raises(rodata.FormatError, match=message):
        rodata.open(path)


def test_data_checksum_error_names_the_column(segment: Path, tmp_path: Path) -> None:
    buf = bytearray(segment.read_bytes())
    _, entries = directory(buf)
    target = next(e for e in entries if e.kind == SEC["data"] and e.length)
    buf[target.offset] ^= 0x80
    path = tmp_path / "bad.seg"
    path.write_bytes(bytes(buf))
    with pytest.raises(rodata.FormatError, match=rf"data of column '\w+' at offset {target.offset}: checksum"):
        rodata.open(path)
    with rodata.open(path, verify=False):
        pass  # skipping verification is explicit, and structure alone is sound


def test_empty_and_non_regular_files(tmp_path: Path) -> None:
    empty = tmp_path / "empty.seg"
    empty.write_bytes(b"")
    with pytest.raises(rodata.FormatError, match="shorter than a header"):
        rodata.open(empty)
    (tmp_path / "dir.seg").mkdir()
    with pytest.raises(rodata.RodataError):
        rodata.open(tmp_path / "dir.seg")


def test_unknown_section_kinds_depend_on_the_minor_version(segment: Path, tmp_path: Path) -> None:
    buf = bytearray(segment.read_bytes())
    _, entries = directory(buf)
    validity = next(e for e in entries if e.kind == SEC["validity"])
    struct.pack_into("<H", buf, validity.at, 77)
    path = tmp_path / "unknown.seg"
    path.write_bytes(bytes(reseal(buf)))
    with pytest.raises(rodata.FormatError, match="unknown section kind 77"):
        rodata.open(path)
    struct.pack_into("<H", buf, 10, 1)  # a newer minor version: unknown kinds are optional additions
    path.write_bytes(bytes(reseal(buf)))
    with rodata.open(path) as ds:
        seg = ds._segments()[0]
        assert seg.validity_view(validity.column) is None  # the skipped section is not used
