"""The compiled text readers (rodata._core._text): CSV and JSON Lines tokenizers, value parsers,
scanning and key sorting."""

from __future__ import annotations

import csv
import io
import itertools
import math
import random
import struct
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rodata._columns import encode_strings
from rodata._core import _text

NULLS = [b"", b"NA", b"N/A", b"NULL", b"null", b"NaN", b"nan"]


def spec(name: str, type_: str, *, key: bool = False, inferred: bool = False, not_null: bool = False,
         dim: int = 1) -> tuple[str, str, int, bool, bool, bool]:
    return (name, type_, dim, inferred, not_null, key)


def to_rows(out: list[dict[str, Any] | None], lines: np.ndarray) -> list[tuple[Any, ...]]:
    cols = []
    for doc in out:
        assert doc is not None
        n = len(lines)
        if "values" in doc:
            values = doc["values"].tolist()
        else:
            offs, data = doc["offsets"], doc["data"].tobytes()
            values = [data[offs[i]: offs[i + 1]] for i in range(n)]
        if doc["valid"] is not None:
            values = [v if ok else None for v, ok in zip(values, doc["valid"].tolist(), strict=True)]
        cols.append(values)
    return list(zip(lines.tolist(), *cols, strict=True))


def parse_csv(data: bytes, columns: list[tuple], *, nulls: list[bytes] = NULLS, line: int = 1, step: int | None = None,
              delimiter: bytes = b",", quote: bytes = b'"') -> tuple[list[tuple], list[tuple]]:
    """Rows (line, values...) and bad records (reason, raw, fault position, field, line) of `data`.

    With `step`, the bytes arrive `step` at a time the way a stream feeds them (a record cut
    by the buffer end is fed again with more bytes)."""
    tok = _text.CsvTokenizer(columns, list(range(len(columns))), nulls, delimiter, quote)
    bad = []
    base, pos, ln = 0, 0, line
    have = len(data) if step is None else min(step, len(data))
    while True:
        buf = np.frombuffer(data[base:have], dtype=np.uint8)
        eof = have >= len(data)
        status, pos, ln = tok.feed(buf, pos, len(data) - base, eof, ln)
        if status == _text.STATUS_BAD:
            reason, a, b, at, field, rec_line = tok.error()
            bad.append((reason, data[base + a: base + b], base + at, field, rec_line))
            continue
        if status == _text.STATUS_MORE:
            base += pos
            pos = 0
            have = min(len(data), have + (step or len(data)))
            continue
        break
    out, lines = tok.finish()
    return to_rows(out, lines), bad


# -- CSV ----------------------------------------------------------------------------------------


def test_rfc4180_quotes_commas_newlines_and_doubled_quotes() -> None:
    data = b'1,"a, b","say ""hi""",x\r\n2,"two\nlines",,"last"\n'
    rows, bad = parse_csv(data, [spec("id", "int64", key=True), spec("s", "string"), spec("t", "string"),
                                 spec("u", "string")])
    assert bad == []
    assert rows == [(1, 1, b"a, b", b'say "hi"', b"x"), (2, 2, b"two\nlines", None, b"last")]


def test_crlf_blank_lines_and_no_final_newline() -> None:
    data = b"1,a\r\n\r\n\n2,b\r\n3,c"
    rows, _ = parse_csv(data, [spec("id", "int64"), spec("s", "string")])
    assert rows == [(1, 1, b"a"), (4, 2, b"b"), (5, 3, b"c")]


def test_typed_values_and_null_tokens() -> None:
    data = (b"7,-3,2.5,true,2024-02-29,2024-02-29T23:59:59.123456789Z,a\n"
            b"NA,N/A,NULL,null,NaN,nan,\n"
            b'+8,0,-1e-3,FALSE,0001-01-01,"2024-01-01 10:00+02:00",b\n')
    columns = [spec("a", "int64"), spec("b", "int32"), spec("c", "float64"), spec("d", "bool"), spec("e", "date"),
               spec("f", "timestamp"), spec("g", "string")]
    rows, bad = parse_csv(data, columns)
    assert bad == []
    assert rows[1][1:] == (None,) * 7
    assert rows[0][1:5] == (7, -3, 2.5, True)
    assert rows[0][5] == np.datetime64("2024-02-29", "D").astype(object)
    assert np.datetime64(rows[0][6], "ns") == np.datetime64("2024-02-29T23:59:59.123456789", "ns")
    assert rows[2][1:5] == (8, 0, -0.001, False)
    assert np.datetime64(rows[2][6], "ns") == np.datetime64("2024-01-01T08:00", "ns")


@pytest.mark.parametrize(("data", "reason", "at", "field"), [
    (b"1,2\n3\n", "field_count", 5, 1),  # too few: the fault is where the next field should be
    (b"1,2\n3,4,5\n", "field_count", 8, 2),  # too many: the fault is where the extra field starts
    (b'1,2\n3,"x"y\n', "after_quote", 9, 1),
    (b'1,2\n3,x"y"\n', "quote_in_field", 7, 1),
    (b'1,2\n3,"never closed\n4,5\n', "unterminated_quote", 6, 1),
    (b"1,2\n3,abc\n", "syntax", 6, 1),
    (b"1,2\n3,99999999999999999999\n", "range", 6, 1),
    (b"1,2\nNA,4\n", "null_key", 4, 0),
])
def test_each_malformed_record_is_reported_with_its_position(data: bytes, reason: str, at: int, field: int) -> None:
    rows, bad = parse_csv(data, [spec("k", "int64", key=True), spec("v", "int64")])
    assert [r[1:] for r in rows] == [(1, 2)]
    assert len(bad) == 1
    got_reason, raw, got_at, got_field, line = bad[0]
    assert (got_reason, got_at, got_field, line) == (reason, at, field, 2)
    assert raw == data[4:].split(b"\n")[0] or reason == "unterminated_quote"


def test_a_bad_record_is_skipped_and_the_next_one_read() -> None:
    data = b"1,a\n2,b,extra\n3,c\n"
    rows, bad = parse_csv(data, [spec("k", "int64"), spec("v", "string")])
    assert [r[1:] for r in rows] == [(1, b"a"), (3, b"c")]
    assert [b[0] for b in bad] == ["field_count"]


def test_invalid_utf8_is_bad_input_and_points_at_the_byte() -> None:
    data = b"1,ok\n2,ab\xffcd\n"
    _, bad = parse_csv(data, [spec("k", "int64"), spec("v", "string")])
    assert bad[0][0] == "utf8"
    assert bad[0][2] == data.index(b"\xff")


def test_narrow_integer_ranges_are_checked() -> None:
    rows, bad = parse_csv(b"127\n-128\n128\n", [spec("a", "int8")])
    assert [r[1] for r in rows] == [127, -128]
    assert bad[0][0] == "range"
    rows, bad = parse_csv(b"255\n-1\n", [spec("a", "uint8")])
    assert [r[1] for r in rows] == [255]
    assert bad[0][0] == "range"


def test_declared_not_nullable_column_rejects_nulls() -> None:
    _, bad = parse_csv(b"1,\n", [spec("a", "int64"), spec("b", "string", not_null=True)])
    assert bad[0][0] == "null"


def test_vectors_in_csv_fields() -> None:
    rows, bad = parse_csv(b'"[1, 2.5, -3]"\n1 2 3\n"[1,2]"\n', [spec("v", "vector", dim=3)])
    assert [r[1] for r in rows] == [[1.0, 2.5, -3.0], [1.0, 2.0, 3.0]]
    assert bad[0][0] == "vector_length"


def test_inferred_columns_widen_instead_of_failing() -> None:
    tok = _text.CsvTokenizer([spec("a", "int64", inferred=True)], [0], NULLS)
    status, _, _ = tok.feed(np.frombuffer(b"1\n2.5\nx\n", dtype=np.uint8), 0, 9, True, 1)
    assert status == _text.STATUS_DONE
    kinds = tok.widened()[0]
    assert kinds & _text.KINDS["float"] and kinds & _text.KINDS["string"]


def test_custom_delimiter_and_no_quoting() -> None:
    rows, _ = parse_csv(b'1\t"a"\n', [spec("k", "int64"), spec("v", "string")], delimiter=b"\t", quote=b"")
    assert rows == [(1, 1, b'"a"')]


csv_values = st.text(alphabet=st.sampled_from(list('ab,"\n\r é1')), max_size=8)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.integers(-10**6, 10**6), csv_values), max_size=12), st.integers(1, 17),
       st.booleans())
def test_any_feeding_step_gives_the_one_shot_result(records: list[tuple[int, str]], step: int, crlf: bool) -> None:
    buf = io.StringIO()
    # (a lone CR is only quoted when it is part of the line terminator: quote everything otherwise)
    csv.writer(buf, lineterminator="\r\n" if crlf else "\n",
               quoting=csv.QUOTE_MINIMAL if crlf else csv.QUOTE_ALL).writerows(records)
    data = buf.getvalue().encode("utf-8")
    columns = [spec("k", "int64"), spec("v", "string")]
    whole, bad = parse_csv(data, columns, nulls=[b""])
    assert bad == []
    assert [(k, (v.encode() or None)) for k, v in records] == [r[1:] for r in whole]
    assert parse_csv(data, columns, nulls=[b""], step=step) == (whole, bad)


def test_split_record_reads_a_header() -> None:
    buf = np.frombuffer(b'a,"b ""x""",c\r\nrest', dtype=np.uint8)
    assert _text.csv_split_record(buf, 0) == ([b"a", b'b "x"', b"c"], 15, 1)
    assert _text.csv_split_record(np.frombuffer(b'a,"open', dtype=np.uint8), 0, eof=False) is None
    with pytest.raises(ValueError, match="unterminated"):
        _text.csv_split_record(np.frombuffer(b'a,"open', dtype=np.uint8), 0)


# -- values -------------------------------------------------------------------------------------


@settings(max_examples=400, deadline=None)
@given(st.floats(allow_nan=False, allow_infinity=False))
def test_floats_round_trip_exactly(x: float) -> None:
    for text in (repr(x), f"{x:.17g}", f"{x:.6e}", f"{x:.3f}"):
        status, value = _text.parse_value(text.encode(), "float64")
        assert status == 0
        assert struct.pack("<d", value) == struct.pack("<d", float(text))


def test_float_parser_hard_cases() -> None:
    rng = random.Random(3)
    cases = ["2.2250738585072011e-308", "4.9406564584124654e-324", "1.7976931348623157e308",
             "9007199254740993", "0.1", "123456789012345678901234567890", "7.038531e-26",
             "1e23", "8.988465674311580536566680e307", "." + "0" * 30 + "1"]
    cases += [f"{rng.randrange(10**18)}e{rng.randrange(-330, 290)}" for _ in range(2000)]
    for text in cases:
        status, value = _text.parse_value(text.encode(), "float64")
        assert status == 0, text
        assert struct.pack("<d", value) == struct.pack("<d", float(text)), text
    assert _text.parse_value(b"1e999", "float64")[0] == 2  # too large: a range error, not inf
    for bad in (b"", b".", b"1.2.3", b"1e", b"e5", b"--1", b"1_0", b" 1", b"0x10"):
        assert _text.parse_value(bad, "float64")[0] == 1, bad
    assert math.isinf(_text.parse_value(b"-Infinity", "float64")[1])


def test_integer_parser() -> None:
    assert _text.parse_value(b"9223372036854775807", "int64") == (0, 2**63 - 1)
    assert _text.parse_value(b"-9223372036854775808", "int64") == (0, -(2**63))
    assert _text.parse_value(b"9223372036854775808", "int64")[0] == 2
    assert _text.parse_value(b"18446744073709551615", "uint64") == (0, 2**64 - 1)
    assert _text.parse_value(b"12a", "int64")[0] == 1
    assert _text.parse_value(b"-", "int64")[0] == 1


def test_dates_and_timestamps() -> None:
    assert _text.parse_value(b"1970-01-02", "date") == (0, 1)
    assert _text.parse_value(b"2023-02-29", "date")[0] == 1
    assert _text.parse_value(b"0000-01-01", "date")[0] == 1
    ns = int(np.datetime64("2024-05-06T07:08:09.5", "ns").astype(np.int64))
    for text in (b"2024-05-06T07:08:09.5", b"2024-05-06 07:08:09.500Z", b"2024-05-06T09:08:09.5+02:00",
                 b"2024-05-06T02:08:09.5-0500"):
        assert _text.parse_value(text, "timestamp") == (0, ns), text
    assert _text.parse_value(b"2024-05-06", "timestamp")[0] == 0
    assert _text.parse_value(b"3000-01-01T00:00", "timestamp")[0] == 2  # past the int64 nanoseconds
    assert _text.parse_value(b"2024-05-06T25:00", "timestamp")[0] == 1


@pytest.mark.parametrize(("text", "kind"), [
    (b"12", "int"), (b"-3", "int"), (b"007", "string"), (b"0", "int"), (b"1.5", "float"), (b"1e3", "float"),
    (b"99999999999999999999", "float"), (b"true", "bool"), (b"FALSE", "bool"), (b"yes", "string"),
    (b"2024-01-01", "date"), (b"2024-01-01T00:00:00Z", "timestamp"), (b"2024-13-01", "string"),
    (b"abc", "string"), (b"inf", "float"),
])
def test_classify_for_inference(text: bytes, kind: str) -> None:
    assert _text.classify_value(text) == _text.KINDS[kind]


def test_resolving_kinds() -> None:
    k = _text.KINDS
    assert _text.resolve_kinds(k["int"] | k["null"]) == "int64"
    assert _text.resolve_kinds(k["int"] | k["float"]) == "float64"
    assert _text.resolve_kinds(k["date"] | k["timestamp"]) == "timestamp"
    assert _text.resolve_kinds(k["int"] | k["bool"]) == "string"
    assert _text.resolve_kinds(k["null"]) == "string"
    assert _text.resolve_kinds(k["vector"]) == "vector"


# -- JSON Lines -----------------------------------------------------------------------------------


def parse_jsonl(data: bytes, columns: list[tuple]) -> tuple[list[tuple], list[tuple], Any]:
    tok = _text.JsonTokenizer(columns, [])
    bad = []
    pos, line = 0, 1
    buf = np.frombuffer(data, dtype=np.uint8)
    while True:
        status, pos, line = tok.feed(buf, pos, len(buf), True, line)
        if status != _text.STATUS_BAD:
            break
        bad.append(tok.error())
    out, lines = tok.finish()
    return to_rows(out, lines), bad, tok


def test_jsonl_values_escapes_nesting_and_missing_fields() -> None:
    data = (b'{"id": 2, "s": "a\\"b\\u00e9\\ud83d\\ude00", "v": [1, 2.5], "o": {"x": [1, {"y": "}"}]}}\n'
            b'\n{"s": null, "id": 1}\r\n')
    columns = [spec("id", "int64", key=True), spec("s", "string"), spec("v", "vector", dim=2), spec("o", "string")]
    rows, bad, _ = parse_jsonl(data, columns)
    assert bad == []
    assert rows[0][1:3] == (2, 'a"bé\U0001f600'.encode())
    assert rows[0][3] == [1.0, 2.5]
    assert rows[0][4] == b'{"x": [1, {"y": "}"}]}'
    assert rows[1] == (3, 1, None, None, None)


@pytest.mark.parametrize(("line", "reason"), [
    (b'{"id": 1, "id": 2}', "duplicate_field"),
    (b'{"id": 1', "json"),
    (b'[1, 2]', "not_object"),
    (b'{"x": 1}', "missing_key"),
    (b'{"id": null}', "null_key"),
    (b'{"id": "1\\ud800"}', "bad_escape"),
    (b'{"id": 1} trailing', "json"),
])
def test_jsonl_malformed_lines(line: bytes, reason: str) -> None:
    _, bad, _ = parse_jsonl(line + b"\n", [spec("id", "string" if b'"1' in line else "int64", key=True)])
    assert [b[0] for b in bad] == [reason]


def test_jsonl_collects_unknown_fields_with_their_kinds() -> None:
    _, _, tok = parse_jsonl(b'{"id": 1, "new": 2.5}\n{"id": 2, "new": 3, "v": [1, 2]}\n', [spec("id", "int64")])
    fields = {name: (kinds, line, dim) for name, kinds, line, dim in tok.new_fields()}
    assert fields["new"] == (_text.KINDS["float"] | _text.KINDS["int"], 1, -1)
    assert fields["v"] == (_text.KINDS["vector"], 2, 2)


# -- scanning and sorting ---------------------------------------------------------------------------


def test_quote_and_newline_counts_and_record_starts() -> None:
    data = np.frombuffer(b'a,"x\ny"\nb,c\n', dtype=np.uint8)
    assert _text.count_quotes_newlines(data) == (2, 3)
    assert _text.find_record_start(data, 0, False) == (8, 2)  # the newline in quotes is skipped
    assert _text.find_record_start(data, 5, True) == (8, 1)
    assert _text.column_of(np.frombuffer("ab\nxé,z".encode(), dtype=np.uint8), 7) == 4


def test_int64_radix_argsort_is_stable() -> None:
    rng = np.random.default_rng(1)
    for n in (0, 1, 5, 1000, 100_000):
        keys = rng.integers(-50, 50, n) * (2**40) + rng.integers(0, 3, n)
        assert np.array_equal(_text.argsort_int64(keys.astype(np.int64)), np.argsort(keys, kind="stable"))


@settings(max_examples=100, deadline=None)
@given(st.lists(st.binary(max_size=20).map(lambda b: b.replace(b"\x01", b"")), max_size=300))
def test_string_argsort_is_stable_and_bytewise(values: list[bytes]) -> None:
    offsets, data = encode_strings(values)
    order = _text.argsort_strings(offsets, data).tolist()
    assert order == sorted(range(len(values)), key=lambda i: values[i])
    ordered = sorted(values)
    o2, d2 = encode_strings(ordered)
    assert _text.strings_sorted(o2, d2)
    assert _text.equal_neighbors_strings(o2, d2).tolist() == [a == b for a, b in itertools.pairwise(ordered)]
    probe = values[0] if values else b"m"
    assert _text.search_strings(o2, d2, probe) == sum(v < probe for v in ordered)
    assert _text.search_strings(o2, d2, probe, True) == sum(v <= probe for v in ordered)


def test_string_argsort_with_long_shared_prefixes() -> None:
    rng = random.Random(5)
    values = [f"user_{rng.randrange(10**6):012d}_{rng.choice('ab')}".encode() for _ in range(20000)]
    values += [b"user_", b"user_000", b"user_000\x00"]
    offsets, data = encode_strings(values)
    order = _text.argsort_strings(offsets, data).tolist()
    assert order == sorted(range(len(values)), key=lambda i: values[i])


def test_content_defined_sample_depends_on_keys_only() -> None:
    keys = np.arange(100_000, dtype=np.int64)
    picked = _text.sample_int64(keys, 511)
    assert 100 < picked.sum() < 400
    assert np.array_equal(_text.sample_int64(keys[::-1].copy(), 511), picked[::-1])


def test_invalid_utf8_after_a_field_with_doubled_quotes_points_at_the_byte() -> None:
    rows, bad = parse_csv(b'"x""y",ab\xffc\n', [spec("a", "string"), spec("b", "string")])
    assert rows == []
    assert bad == [("utf8", b'"x""y",ab\xffc', 9, 1, 1)]
