"""The column-type table (includes/rodata_types.h, exported as rodata._core.TYPE_TABLE) agrees with
what real segments store, with numpy's own dtypes, and with what the text readers produce."""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import rodata
from rodata._core import FORMAT_CONSTANTS, TYPE_TABLE, Segment, _text, deep_validate, take_varwidth
from rodata.errors import FormatError, KeyTypeError

from .segfile import directory, reseal

ROWS = 5
DIM = 3
SEC_DATA = FORMAT_CONSTANTS["SEC_DATA"]
SEC_OFFSETS = FORMAT_CONSTANTS["SEC_OFFSETS"]


def _sample(name: str) -> tuple[Any, str]:
    """ROWS values of type `name` and the type as rodata.write's schema names it."""
    if name == "vector":
        return np.arange(ROWS * DIM, dtype=np.float32).reshape(ROWS, DIM), f"vector[{DIM}]"
    if name == "string":
        return [f"s{i}" * i for i in range(ROWS)], name
    if name == "bytes":
        return [bytes([i]) * i for i in range(ROWS)], name
    if name == "bool":
        return np.array([i % 2 == 0 for i in range(ROWS)]), name
    if name in ("timestamp", "date"):
        unit = "ns" if name == "timestamp" else "D"
        return np.arange(ROWS).astype(f"M8[{unit}]"), name
    return np.arange(ROWS).astype(name), name


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> tuple[Segment, list[str]]:
    """One real segment holding a column of every type of the table, written by rodata.write."""
    root = tmp_path_factory.mktemp("types")
    columns: dict[str, Any] = {"key": np.arange(ROWS, dtype=np.int64)}
    schema: dict[str, str] = {}
    names = []
    for t in TYPE_TABLE:
        col = f"c_{t['name']}"
        columns[col], schema[col] = _sample(t["name"])
        names.append(col)
    rodata.write(root, "ds", columns, key="key", schema=schema)
    parts = sorted(Path(root, "ds").rglob("*.seg"))
    assert len(parts) == 1
    return Segment(parts[0]), names


def test_codes_are_distinct_and_in_table_order() -> None:
    codes = [t["code"] for t in TYPE_TABLE]
    assert len(set(codes)) == len(codes) and codes == sorted(codes) and min(codes) >= 1
    assert len({t["name"] for t in TYPE_TABLE}) == len(TYPE_TABLE)


def test_item_sizes_and_limits_are_numpys(written: tuple[Segment, list[str]]) -> None:
    for t in TYPE_TABLE:
        if t["dtype"] is None:
            assert t["layout"] == "varwidth" and t["itemsize"] == 0 and t["limits"] is None
            continue
        dtype = np.dtype(t["dtype"])
        assert dtype.itemsize == t["itemsize"], t
        if dtype.kind in "iu":
            info = np.iinfo(dtype)
            assert t["limits"] == (int(info.min), int(info.max)), t
        elif dtype.kind == "f":
            assert t["limits"] is None
    assert TYPE_TABLE[[t["name"] for t in TYPE_TABLE].index("bool")]["limits"] == (0, 1)
    date = next(t for t in TYPE_TABLE if t["name"] == "date")
    assert date["limits"] == (int(np.datetime64("0001-01-01", "D").astype(np.int64)),
                              int(np.datetime64("9999-12-31", "D").astype(np.int64)))


def test_every_type_round_trips_through_a_written_segment(written: tuple[Segment, list[str]]) -> None:
    seg, names = written
    for t, col in zip(TYPE_TABLE, names, strict=True):
        i = seg.names.index(col)
        assert seg.schema[i]["type"] == t["name"]
        sections = {kind: length for kind, column, _off, length, _sum in seg.sections if column == i}
        if t["layout"] == "varwidth":
            assert sections[SEC_OFFSETS] == 8 * (ROWS + 1)
            with pytest.raises(TypeError, match="variable-width"):
                seg.column_view(i)
            offsets, data = seg.offsets_view(i)
            assert len(offsets) == ROWS + 1 and len(data) == sections[SEC_DATA]
            continue
        dim = seg.schema[i].get("dim", 1)
        assert sections[SEC_DATA] == ROWS * dim * t["itemsize"], t
        view = seg.column_view(i)
        assert view.dtype == np.dtype(t["dtype"])
        assert view.shape == ((ROWS, dim) if t["layout"] == "vector" else (ROWS,))
        expected, _ = _sample(t["name"])
        np.testing.assert_array_equal(view, np.asarray(expected).astype(view.dtype))


def test_the_key_flag_is_what_a_segment_accepts_as_its_key(tmp_path: Path) -> None:
    from rodata.schema import KEY_TYPES

    assert set(KEY_TYPES) == {t["name"] for t in TYPE_TABLE if t["key"]}
    for name in KEY_TYPES:
        values, _ = _sample(name)
        rodata.write(tmp_path, f"k_{name}", {"k": values}, key="k")
        seg = next(iter(Path(tmp_path, f"k_{name}").rglob("*.seg")))
        assert Segment(seg).key_is_string == (name == "string")


def test_date_limits_are_the_readers(tmp_path: Path) -> None:
    """The first and last day of the table read back; a day one past either, planted in a real
    segment, is refused by the reader and by deep validation."""
    date = next(t for t in TYPE_TABLE if t["name"] == "date")
    assert date["limits"] is not None
    lo, hi = date["limits"]
    rodata.write(tmp_path, "d", {"k": np.arange(2), "d": np.array([lo, hi]).astype("M8[D]")}, key="k")
    with rodata.open(tmp_path / "d") as ds:
        assert [str(ds.get(i)["d"]) for i in range(2)] == ["0001-01-01", "9999-12-31"]
    part = next(iter(Path(tmp_path, "d").rglob("*.seg")))
    column = Segment(part).names.index("d")
    for row, outside in ((0, lo - 1), (1, hi + 1)):
        buf = bytearray(part.read_bytes())
        data = next(e for e in directory(buf)[1] if e.kind == SEC_DATA and e.column == column)
        struct.pack_into("<q", buf, data.offset + 8 * row, outside)
        bad = tmp_path / f"bad{row}.seg"
        bad.write_bytes(reseal(buf))
        seg = Segment(bad)
        with pytest.raises(FormatError, match=f"date {outside} days out of range"):
            seg.value(column, row)
        with pytest.raises(FormatError, match="date"):
            deep_validate(seg)


def _csv_column(name: str, text: bytes) -> tuple[str, Any]:
    """One field of type `name` through the CSV tokenizer: (status name or "ok", values)."""
    tok = _text.CsvTokenizer([("c", name, DIM if name == "vector" else 1, False, False, False)], [0], [])
    buf = np.frombuffer(text + b"\n", dtype=np.uint8)
    status, _pos, _line = tok.feed(buf, 0, len(buf), True, 1)
    if status == _text.STATUS_BAD:
        return tok.error()[0], None
    columns, _lines = tok.finish()
    return "ok", columns[0]


def test_text_readers_store_each_type_with_the_tables_dtype() -> None:
    texts = {"bool": b"true", "timestamp": b"2020-01-02T03:04:05Z", "date": b"2020-01-02", "string": b"abc",
             "bytes": b"abc", "vector": b'"1,2,3"'}
    for t in TYPE_TABLE:
        status, col = _csv_column(t["name"], texts.get(t["name"], b"7"))
        assert status == "ok", t
        if t["dtype"] is None:
            assert col["offsets"].dtype == np.uint64 and bytes(col["data"]) == b"abc"
        else:
            assert col["values"].dtype == np.dtype(t["dtype"]), t


def test_text_readers_check_each_integer_types_limits() -> None:
    for t in TYPE_TABLE:
        if t["dtype"] is None or np.dtype(t["dtype"]).kind not in "iu":
            continue
        info = np.iinfo(np.dtype(t["dtype"]))
        for edge in (int(info.min), int(info.max)):
            status, col = _csv_column(t["name"], str(edge).encode())
            assert status == "ok" and int(col["values"][0]) == edge, t
        for past in (int(info.min) - 1, int(info.max) + 1):
            status, _ = _csv_column(t["name"], str(past).encode())
            assert status in ("range", "syntax"), (t, past)
            if past >= -(2**63) and past < 2**63:  # within what a field's integer can say
                assert status == "range", (t, past)


def test_the_base_tokenizer_says_it_has_no_record_loop() -> None:
    with pytest.raises(NotImplementedError, match="no record loop"):
        _text.Tokenizer().feed(np.frombuffer(b"a\n", dtype=np.uint8), 0, 2, True, 1)


def _reference_gather(offsets: np.ndarray[Any, Any], data: bytes, order: np.ndarray[Any, Any]) -> list[bytes]:
    return [data[int(offsets[r]):int(offsets[r + 1])] for r in order]


def test_the_one_gather_against_a_reference() -> None:
    gather = take_varwidth  # the writer, the ETL's runs and the size bounds all gather through it
    rng = np.random.default_rng(9)
    values = [bytes(rng.integers(0, 256, int(n), dtype=np.uint8)) for n in rng.integers(0, 40, 300)]
    offsets = np.concatenate([[0], np.cumsum([len(v) for v in values])]).astype(np.uint64)
    data = b"".join(values)
    order = rng.permutation(len(values)).astype(np.int64)
    order = np.concatenate([order, order[:50]])  # a gather may repeat values
    out_offsets, out_data = gather(offsets, np.frombuffer(data, dtype=np.uint8), order)
    assert _reference_gather(out_offsets, bytes(out_data), np.arange(len(order))) == \
        _reference_gather(offsets, data, order)
    with pytest.raises(IndexError, match="out of range"):
        gather(offsets, np.frombuffer(data, dtype=np.uint8), np.array([len(values)], dtype=np.int64))
    bad = offsets.copy()
    bad[1] = len(data) + 1
    with pytest.raises(ValueError, match="not monotonic"):
        gather(bad, np.frombuffer(data, dtype=np.uint8), np.array([0], dtype=np.int64))


def test_batch_probes_refuse_keys_of_another_type(written: tuple[Segment, list[str]], tmp_path: Path) -> None:
    """The batch probes do not check key types again, but the conversions they need refuse them."""
    rodata.write(tmp_path, "s", {"k": ["a", "b"]}, key="k")
    seg = Segment(next(iter(Path(tmp_path, "s").rglob("*.seg"))))
    assert seg.find_many(["b", "zz", "a"]).tolist() == [1, -1, 0]
    with pytest.raises(KeyTypeError, match=r"key b'a' is not a string \(the key column is string\)"):
        seg.find_many(["a", b"a"])
    with pytest.raises(KeyTypeError, match="is not a string"):
        seg.lower_bound(5)
    assert seg.lower_bound(b"b") == seg.lower_bound("b") == 1
    ints, _ = written
    with pytest.raises(KeyTypeError, match="is not an integer"):
        ints.lower_bound("a")
    assert ints.lower_bound(2**64) == ROWS and ints.lower_bound(-(2**70)) == 0
