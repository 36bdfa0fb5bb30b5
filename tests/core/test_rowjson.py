"""The compiled row renderer (``_core/rowjson.pyx``) against the reference: ``Dataset.get``'s
row (and a lookup's batch) converted by :mod:`rodata.encode` and written by orjson, which is
what :func:`rodata.server.render.row_json` and ``lookup_json`` wrote before they used it.
Every comparison is of bytes."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import rodata
from rodata._core import JsonPlan, get_json, row_json, rows_json
from rodata.encode import converter, dumps, fix_rows
from rodata.errors import FormatError, UnknownColumnError
from rodata.server import render
from tests.core.segfile import SEC, directory, reseal
from tests.server.gentables import table

# -- the reference: the orjson path, built on rodata.encode --------------------------------------


def ref_row(ds: rodata.Dataset, key: Any, columns: Sequence[str] | None = None) -> bytes | None:
    row = ds.get(key, columns)
    if row is None:
        return None
    for index in dict.fromkeys(ds.projection(columns)):  # a repeated column is one key of the row
        column = ds.schema.columns[index]
        convert = converter(column)
        if convert is not None and row[column.name] is not None:
            row[column.name] = convert(row[column.name])
    return dumps(row)


def ref_lookup(ds: rodata.Dataset, keys: Sequence[Any], columns: Sequence[str] | None = None) -> bytes:
    batch = ds.get_many(keys, columns)
    rows = batch.to_pylist()
    proj = [ds.schema.columns[i] for i in dict.fromkeys(ds.projection(columns))]
    fixes = [(c.name, f) for c in proj if (f := converter(c)) is not None]
    fix_rows(rows, fixes, {c.name: batch[c.name] for c in proj if c.type == "float32"})
    return dumps({"rows": rows})


# -- datasets -----------------------------------------------------------------------------------

SHAPES = {  # name: (rows, seed, string key, rows per part)
    "one": (300, 1, False, 0),
    "parts": (400, 2, False, 70),
    "strings": (250, 3, True, 0),
    "string-parts": (250, 4, True, 60),
}


@pytest.fixture(scope="module")
def datasets(tmp_path_factory: pytest.TempPathFactory) -> dict[str, rodata.Dataset]:
    root = tmp_path_factory.mktemp("rowjson")
    out = {}
    for name, (n, seed, string_key, per_part) in SHAPES.items():
        cols, schema = table(n, seed, string_key=string_key)
        rodata.write(root, name, cols, key="id", schema=schema, rows_per_part=per_part or None)
        out[name] = rodata.open(root / name)
    return out


def keys_of(ds: rodata.Dataset) -> list[Any]:
    return [k for seg in ds._segments() for k in (seg.key_at(r) for r in range(len(seg)))]


def absent_key(ds: rodata.Dataset) -> Any:
    return "no such key" if ds.schema.key_column.type == "string" else 10**12


@pytest.mark.parametrize("name", SHAPES)
def test_every_row_of_every_type_is_the_references_text(datasets: dict[str, rodata.Dataset], name: str) -> None:
    ds = datasets[name]
    assert len(ds._segments()) > 1 or "parts" not in name
    for key in keys_of(ds):
        assert render.row_json(ds, key) == ref_row(ds, key)
    assert render.row_json(ds, absent_key(ds)) is None


@pytest.mark.parametrize("name", SHAPES)
def test_lookups_of_every_type_are_the_references_text(datasets: dict[str, rodata.Dataset], name: str) -> None:
    ds = datasets[name]
    keys = keys_of(ds)
    rng = np.random.default_rng(5)
    mixed = [keys[i] for i in rng.integers(0, len(keys), 500)] + [absent_key(ds)] * 3
    rng.shuffle(mixed)  # pieces of many parts interleaved, misses among them
    assert render.lookup_json(ds, mixed) == ref_lookup(ds, mixed)
    assert render.lookup_json(ds, keys[:10]) == ref_lookup(ds, keys[:10])  # under the nogil threshold
    assert render.lookup_json(ds, []) == ref_lookup(ds, []) == b'{"rows":[]}'


@pytest.mark.parametrize("columns", [
    ["string", "id"], ["vector?", "float32", "date?"], ["bool"], [], ["float32", "float32"],
    ["timestamp?", "bytes", "timestamp?", "uint64"],
])
def test_projections_subsets_reordered_and_repeated(datasets: dict[str, rodata.Dataset], columns: list[str]) -> None:
    for ds in datasets.values():
        keys = keys_of(ds)[:40]
        for key in keys:
            assert render.row_json(ds, key, columns) == ref_row(ds, key, columns)
        assert render.lookup_json(ds, keys, columns) == ref_lookup(ds, keys, columns)


def test_errors_are_the_references(datasets: dict[str, rodata.Dataset]) -> None:
    ds = datasets["parts"]
    for call in (lambda: render.row_json(ds, 1, ["nope"]), lambda: ref_row(ds, 1, ["nope"]),
                 lambda: render.lookup_json(ds, [1], ["nope"])):
        with pytest.raises(UnknownColumnError):
            call()
    for ds in (datasets["parts"], datasets["one"]):
        with pytest.raises(rodata.KeyTypeError):
            render.row_json(ds, "a string")
        with pytest.raises(rodata.KeyTypeError):
            ref_row(ds, "a string")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_random_projections_and_key_sets(datasets: dict[str, rodata.Dataset], data: st.DataObject) -> None:
    ds = datasets[data.draw(st.sampled_from(sorted(SHAPES)))]
    names = [c.name for c in ds.schema.columns]
    columns = data.draw(st.none() | st.lists(st.sampled_from(names), max_size=8))
    keys = data.draw(st.lists(st.sampled_from(keys_of(ds)) | st.just(absent_key(ds)), max_size=120))
    assert render.lookup_json(ds, keys, columns) == ref_lookup(ds, keys, columns)
    for key in keys[:5]:
        assert render.row_json(ds, key, columns) == ref_row(ds, key, columns)


@settings(max_examples=40, deadline=None)
@given(strings=st.lists(st.text(), min_size=1, max_size=12),
       floats=st.lists(st.floats(width=32), min_size=12, max_size=12),
       doubles=st.lists(st.floats(), min_size=12, max_size=12))
def test_any_text_and_float_is_written_as_the_reference(tmp_path_factory: pytest.TempPathFactory,
                                                        strings: list[str], floats: list[float],
                                                        doubles: list[float]) -> None:
    strings = [s.encode("utf-8", "replace").decode("utf-8") for s in strings]  # lone surrogates: no UTF-8 form
    n = len(strings)
    root = tmp_path_factory.mktemp("text")
    rodata.write(root, "t", {"id": np.arange(n, dtype=np.int64), "s": strings, "b": [s.encode() for s in strings],
                             "f": np.array(floats[:n], dtype=np.float32), "d": np.array(doubles[:n])}, key="id")
    ds = rodata.open(root / "t")
    for key in range(n):
        assert render.row_json(ds, key) == ref_row(ds, key)
    assert render.lookup_json(ds, list(range(n))) == ref_lookup(ds, list(range(n)))


# -- floats: the shortest round trip, on random bit patterns ------------------------------------


@pytest.mark.parametrize("seed", [11, 12])
def test_floats_on_random_bit_patterns_are_orjsons_text(tmp_path: Path, seed: int) -> None:
    """Every class of float: subnormals (one pattern in 256 of float32's), both ends of the
    exponents, integers, powers of two, NaN payloads and infinities."""
    n = 250_000
    rng = np.random.default_rng(seed)
    f64 = rng.integers(0, 2**64, n, dtype=np.uint64).view(np.float64)
    f32 = rng.integers(0, 2**32, n, dtype=np.uint32).view(np.float32)
    special = [0.0, -0.0, 1e16, 1e15, 1e-5, 1e-6, 1e13, 1e12, 5e-324, 2.0**-1022, 2.0**-126, 2.0**-149, 2.0**53,
               2.0**1023, 9007199254740993.0, 1.7976931348623157e308, 3.4028235e38, 16777217.0, 0.1, 1 / 3]
    powers = [2.0**e for e in range(-1074, 1024, 7)] + [10.0**e for e in range(-300, 300, 3)]
    head = np.array(special + powers + [-x for x in powers])
    # a third short decimals (what most data holds: 2.0, 227.5, 0.1469), the renderer's fast path
    third = n // 3
    short = rng.integers(-(10**7), 10**7, third) / 10.0 ** rng.integers(0, 12, third)
    f64[-third:] = short
    f32[-third:] = short.astype(np.float32)
    f64[: len(head)] = head
    with np.errstate(over="ignore"):  # past float32's range: infinities
        f32[: len(head)] = head.astype(np.float32)
    rodata.write(tmp_path, "f", {"id": np.arange(n, dtype=np.int64), "a": f64, "b": f32}, key="id")
    seg = rodata.open(tmp_path / "f")._segments()[0]
    out = rows_json((seg,), np.zeros(n, np.int32), np.arange(n, dtype=np.int64), JsonPlan((1, 2), [b'"a"', b'"b"']),
                    b"", b"")
    expected = orjson.dumps([{"a": a, "b": b} for a, b in zip(f64.tolist(), list(f32), strict=True)],
                            option=orjson.OPT_SERIALIZE_NUMPY)
    assert out == expected


# -- the def boundary: plans, rows and faults ---------------------------------------------------


def test_row_and_column_numbers_are_checked(datasets: dict[str, rodata.Dataset]) -> None:
    seg = datasets["one"]._segments()[0]
    plan = JsonPlan((0, 1), [b'"a"', b'"b"'])
    assert row_json(seg, 0, plan).startswith(b'{"a":')
    with pytest.raises(IndexError, match="row 300 out of range"):
        row_json(seg, len(seg), plan)
    with pytest.raises(IndexError, match="row -1 out of range"):
        row_json(seg, -1, plan)
    wide = JsonPlan((seg.ncols,), [b'"x"'])
    for call in (lambda: row_json(seg, 0, wide), lambda: get_json(seg, seg.key_at(0), wide),
                 lambda: rows_json((seg,), np.zeros(1, np.int32), np.zeros(1, np.int64), wide, b"", b"")):
        with pytest.raises(IndexError, match=f"column {seg.ncols} out of range"):
            call()
    with pytest.raises(IndexError):
        JsonPlan((-1,), [b'"x"'])
    with pytest.raises(ValueError):
        JsonPlan((0, 1), [b'"x"'])
    with pytest.raises(IndexError, match="row 300 out of range"):
        rows_json((seg,), np.zeros(2, np.int32), np.array([0, 300]), plan, b"", b"")
    with pytest.raises(IndexError, match="segment 1 out of range"):
        rows_json((seg,), np.array([0, 1], np.int32), np.array([0, 1]), plan, b"", b"")
    assert rows_json((seg,), np.array([7], np.int32), np.array([-1]), plan, b"<", b">") == b"<[null]>"


def _corrupt(tmp_path: Path, kind: str) -> rodata.Dataset:
    """A dataset whose column `v` holds a value the reader refuses (checksums resealed)."""
    values: Any = np.array(["2000-01-01"] * 3, dtype="M8[D]") if kind == "date" else ["ok", "fine", "good"]
    rodata.write(tmp_path, "c", {"id": np.arange(3, dtype=np.int64), "v": values}, key="id")
    path = next((tmp_path / "c").glob("v*/part-00000.seg"))
    buf = bytearray(path.read_bytes())
    _, entries = directory(buf)
    data = next(e for e in entries if e.kind == SEC["data"] and e.column == 1)
    if kind == "date":
        buf[data.offset + 8: data.offset + 16] = (10**9).to_bytes(8, "little")
    else:
        buf[data.offset + 2] = 0xFF  # inside row 1's bytes: invalid UTF-8
    path.write_bytes(bytes(reseal(buf)))
    return rodata.open(path)  # the segment alone: the manifest's fingerprint is the old file's


@pytest.mark.parametrize("kind", ["date", "string"])
def test_a_faulty_value_raises_the_readers_error(tmp_path: Path, kind: str) -> None:
    ds = _corrupt(tmp_path, kind)
    with pytest.raises(FormatError) as expected:
        ds.get(1)
    for call in (lambda: render.row_json(ds, 1), lambda: render.lookup_json(ds, [0, 1, 2] * 30)):
        with pytest.raises(FormatError) as got:
            call()
        assert str(got.value) == str(expected.value)
    assert render.row_json(ds, 0) == ref_row(ds, 0)


def test_a_repeated_bytes_column_is_one_key_of_the_row(datasets: dict[str, rodata.Dataset]) -> None:
    """A column named twice is one key, at its first place (as the library's row dict has it); the
    orjson path converted a repeated bytes value twice and failed."""
    ds = datasets["one"]
    keys = keys_of(ds)[:20]
    for key in keys:
        text = render.row_json(ds, key, ["bytes", "id", "bytes?", "bytes"])
        assert text == ref_row(ds, key, ["bytes", "id", "bytes?", "bytes"])
        assert text is not None and list(orjson.loads(text)) == ["bytes", "id", "bytes?"]
    assert render.lookup_json(ds, keys, ["bytes", "bytes"]) == ref_lookup(ds, keys, ["bytes", "bytes"])


def test_long_vector_rows_take_the_orjson_path_with_the_same_text(tmp_path: Path) -> None:
    # Rows that are mostly long vectors are written by orjson (faster there); both writers agree.
    rng = np.random.default_rng(5)
    n = 40
    cols = {"id": np.arange(n, dtype=np.int64), "emb": rng.standard_normal((n, 300)).astype(np.float32),
            "small": rng.standard_normal((n, 3)).astype(np.float32), "name": [f"n{i}" for i in range(n)],
            "b": [bytes([i]) for i in range(n)]}
    rodata.write(tmp_path, "v", cols, key="id")
    with rodata.open(tmp_path / "v") as ds:
        for columns in (None, ["emb", "name"], ["small", "b", "b"]):
            plan = render.plan_for(ds, columns)
            assert plan.compiled == (columns is not None and "emb" not in columns)
            seg = ds.part_for(7)
            assert seg is not None
            compiled = get_json(seg, 7, plan.json)
            assert render.row_json(ds, 7, columns) == compiled == ref_row(ds, 7, columns)
            keys = [3, 99, 7, 3]
            assert render.lookup_json(ds, keys, columns) == ref_lookup(ds, keys, columns)
