"""JSON Lines: which fields a record named is decided per record, never by a row count.

A record that does not name a column is null there, whatever came before it: a spill of the
parsed rows in the middle of a chunk, a rejected record, a field met only in a rejected record."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import rodata
from rodata._core import _text

from .conftest import all_rows, rodata_cli, write


def spec(name: str, type_: str, *, key: bool = False) -> tuple[str, str, int, bool, bool, bool]:
    return (name, type_, 1, False, False, key)


def feed_all(tok: Any, data: bytes) -> list[str]:
    """Feed `data` whole; the reasons of the bad records met."""
    buf = np.frombuffer(data, dtype=np.uint8)
    pos, line, bad = 0, 1, []
    while True:
        status, pos, line = tok.feed(buf, pos, len(buf), True, line)
        if status != _text.STATUS_BAD:
            return bad
        bad.append(tok.error()[0])


def rows_of(tok: Any) -> list[tuple[Any, ...]]:
    out, lines = tok.finish()
    cols = []
    for doc in out:
        if "values" in doc:
            values = doc["values"].tolist()
        else:
            offs, data = doc["offsets"].tolist(), doc["data"].tobytes()
            assert offs == sorted(offs) and offs[-1] == len(data), "string offsets in order, ending at the data"
            values = [data[offs[i]: offs[i + 1]].decode() for i in range(len(lines))]
        if doc["valid"] is not None:
            values = [v if ok else None for v, ok in zip(values, doc["valid"].tolist(), strict=True)]
        cols.append(values)
    return list(zip(*cols, strict=True))


COLUMNS = [spec("id", "int64", key=True), spec("a", "int64"), spec("s", "string")]


def test_a_field_named_before_a_spill_is_not_taken_as_named_after_it() -> None:
    tok = _text.JsonTokenizer(COLUMNS, [])
    assert feed_all(tok, b'{"id": 1, "a": 5, "s": "x"}\n') == []
    assert rows_of(tok) == [(1, 5, "x")]  # spilled: the next rows start again at row 0
    assert feed_all(tok, b'{"id": 2}\n{"id": 3, "a": 7, "s": "y"}\n') == []
    assert rows_of(tok) == [(2, None, None), (3, 7, "y")]


def test_a_rejected_record_leaves_nothing_behind() -> None:
    tok = _text.JsonTokenizer(COLUMNS, [])
    data = (b'{"id": 1, "a": 5, "s": "xyz", oops}\n'   # rejected after naming every column
            b'{"id": 2, "a": 6}\n'                      # names id and a again: not "twice"
            b'{"id": 3}\n')                             # names none of a, s: null, not the rejected values
    assert feed_all(tok, data) == ["json"]
    assert rows_of(tok) == [(2, 6, None), (3, None, None)]


def test_fields_met_only_in_a_rejected_record_are_not_new_fields() -> None:
    tok = _text.JsonTokenizer([spec("id", "int64", key=True)], [])
    data = (b'{"id": 1, "v": [1, 2], "w": 1}\n'
            b'{"id": 2, "v": [1, 2, 3], "x": "only here", "w": "text", bad}\n'
            b'{"id": 3, "w": 2}\n')
    assert feed_all(tok, data) == ["json"]
    fields = {name: (kinds, line, dim) for name, kinds, line, dim in tok.new_fields()}
    assert fields == {"v": (_text.KINDS["vector"], 1, 2), "w": (_text.KINDS["int"], 1, -1)}


def test_a_new_field_named_twice_in_one_record_is_a_duplicate() -> None:
    tok = _text.JsonTokenizer([spec("id", "int64", key=True)], [])
    assert feed_all(tok, b'{"id": 1, "n": 1, "n": 2}\n{"id": 2, "n": 3}\n') == ["duplicate_field"]
    assert [name for name, *_ in tok.new_fields()] == ["n"]


FIELDS = [f"f{j}" for j in range(40)]
LINE = 100  # bytes per line, every line
WINDOW = 2 << 20  # what a worker parses between spill checks with --chunk-size 4M (workers.py)
AT = 1000


def sparse_lines(n: int) -> tuple[list[str], list[dict[str, Any]]]:
    """Lines of LINE bytes, each naming one of 40 sparse fields (ints and strings in turn), so
    the rows take several times the input's bytes in memory and the first 4 MiB chunk spills
    after its first window of ROWS rows.  A field ``h{d}`` is named twice: at row AT + d + 20
    and ROWS + d rows later -- for d = 0 at the same row index after the spill as before it."""
    rows = -(-WINDOW // LINE)
    extra = {AT + 20 + d: f"h{d}" for d in range(-20, 21)}
    extra.update({AT + 20 + d + rows + d: f"h{d}" for d in range(-20, 21)})
    lines, records = [], []
    for i in range(n):
        j = i % len(FIELDS)
        rec: dict[str, Any] = {"id": i, FIELDS[j]: i * 11 if j % 2 else f"s{i}"}
        if i in extra:
            rec[extra[i]] = i
        text = json.dumps(rec)
        lines.append(text[:-1] + " " * (LINE - 1 - len(text)) + "}\n")
        records.append(rec)
    assert {len(line) for line in lines} == {LINE}
    return lines, records


def test_sparse_fields_across_a_spill_build_exactly(tmp_path: Path, root: Path) -> None:
    lines, records = sparse_lines(45000)
    path = write(tmp_path, "in.jsonl", "".join(lines))
    proc = rodata_cli("build", path, "--dataset", "d", "--key", "id", "--data-root", root, "--workers", "1",
                      "--chunk-size", "4M")
    assert proc.returncode == 0, proc.stderr
    names = sorted({name for r in records for name in r}, key=lambda n: (n != "id", n))
    got = all_rows(root / "d")
    assert [sorted(r) for r in got[:1]] == [sorted(names)]
    assert got == [{name: r.get(name) for name in got[0]} for r in records]


def test_one_malformed_record_under_max_bad_rows(tmp_path: Path, root: Path) -> None:
    lines = [json.dumps({"id": 1, "rare": 10, "note": "one"}),
             '{"id": 2, "rare": 20, "note": "two", "zzz": 1,}',   # malformed (trailing comma)
             json.dumps({"id": 3}),
             json.dumps({"id": 4, "rare": 40}),
             json.dumps({"id": 5, "note": "five"})]
    path = write(tmp_path, "in.jsonl", "\n".join(lines) + "\n")
    rejects = tmp_path / "rejects.jsonl"
    report = rodata.build(path, dataset="d", key="id", data_root=root, max_bad_rows=1, rejects=rejects)
    assert (report.rows_out, report.bad_rows) == (4, 1)
    assert [c["name"] for c in report.schema] == ["id", "rare", "note"]  # no "zzz": it was only in the bad one
    assert all_rows(root / "d") == [
        {"id": 1, "rare": 10, "note": "one"}, {"id": 3, "rare": None, "note": None},
        {"id": 4, "rare": 40, "note": None}, {"id": 5, "rare": None, "note": "five"}]
    bad = [json.loads(line) for line in rejects.read_text().splitlines()]
    assert [(b["line"], b["record"]) for b in bad] == [(2, lines[1])]


def test_renamed_and_dropped_fields(tmp_path: Path, root: Path) -> None:
    path = write(tmp_path, "in.jsonl", '{"old": 5, "id": 1, "gone": [1]}\n{"id": 2, "gone": "x"}\n')
    report = rodata.build(path, dataset="d", key="id", data_root=root,
                          schema={"columns": {"old": {"rename": "new"}, "gone": {"drop": True}}})
    assert [(c["name"], c.get("source")) for c in report.schema] == [("new", "old"), ("id", None)]
    assert all_rows(root / "d") == [{"new": 5, "id": 1}, {"new": None, "id": 2}]


def test_messages_show_the_json_value_that_does_not_fit(tmp_path: Path, root: Path) -> None:
    path = write(tmp_path, "in.jsonl", '{"id": 1, "n": "abc"}\n{"id": 2, "n": 300}\n{"id": 3, "n": 3.5}\n'
                                       '{"id": 4, "n": [1]}\n{"id": 5, "n": -2}\n')
    rejects = tmp_path / "rejects.jsonl"
    rodata.build(path, dataset="d", key="id", data_root=root, schema={"n": "int8"}, max_bad_rows=4,
                 rejects=rejects)
    assert [json.loads(line)["reason"] for line in rejects.read_text().splitlines()] == [
        "column 'n': cannot parse 'abc' as int8", "column 'n': '300' is out of range for int8",
        "column 'n': cannot parse '3.5' as int8", "column 'n': cannot parse '[1]' as int8"]
    assert all_rows(root / "d") == [{"id": 5, "n": -2}]


def test_whole_numbers_with_a_fraction_or_exponent_fit_integer_columns(tmp_path: Path, root: Path) -> None:
    path = write(tmp_path, "in.jsonl", '{"id": 1, "n": 3.0, "u": 1e19}\n{"id": 2, "n": 1e20, "u": 0}\n'
                                       '{"id": 3, "n": -0.0, "u": -1.0}\n{"id": 4, "n": -9.3e18, "u": 2e19}\n')
    rejects = tmp_path / "rejects.jsonl"
    rodata.build(path, dataset="d", key="id", data_root=root, schema={"n": "int64", "u": "uint64"},
                 max_bad_rows=3, rejects=rejects)
    assert [json.loads(line)["reason"] for line in rejects.read_text().splitlines()] == [
        "column 'n': '1e20' is out of range for int64", "column 'u': '-1.0' is out of range for uint64",
        "column 'n': '-9.3e18' is out of range for int64"]
    assert all_rows(root / "d") == [{"id": 1, "n": 3, "u": 10**19}]


def test_a_dropped_field_may_hold_any_json_value(tmp_path: Path, root: Path) -> None:
    values = ["false", "true", "null", "-12.5e3", "401011648648964224573", '"text"', '{"a": [1, "]"]}', "[]"]
    path = write(tmp_path, "in.jsonl", "".join(f'{{"id": {i}, "gone": {v}, "n": {i}}}\n' for i, v in enumerate(values)))
    report = rodata.build(path, dataset="d", key="id", data_root=root, schema={"gone": {"drop": True}})
    assert report.bad_rows == 0
    assert all_rows(root / "d") == [{"id": i, "n": i} for i in range(len(values))]


@pytest.mark.parametrize(("number", "ok"), [("01", False), ("1.", False), ("Inf", False), ("-NaN", False),
                                            ("NAN", False), ("infinity", False), ("-", False), ("1e+", False),
                                            ("-0", True), ("1E+2", True), ("NaN", True), ("-Infinity", True),
                                            ("0.5e-3", True)])
def test_numbers_follow_the_json_grammar(number: str, ok: bool) -> None:
    tok = _text.JsonTokenizer([spec("id", "int64", key=True), ("x", "infer", 1, False, False, False)], [])
    lines = f'{{"id": 1, "x": {number}}}\n{{"id": 2, "x": [1, {number}]}}\n{{"id": 3, "x": {{"a": [{number}]}}}}\n'
    assert feed_all(tok, lines.encode()) == ([] if ok else ["json"] * 3)


@pytest.mark.parametrize(("nested", "reason"), [
    ('[1, 2,]', "json"), ('[1 2]', "json"), ('{"a" 1}', "json"), ('{"a": 1,}', "json"), ('{a: 1}', "json"),
    ("[tru]", "json"), ('{"a": [1}', "json"), ("[" * 1001 + "]" * 1001, "json"), ('["\\x"]', "bad_escape"),
    ('{"\\ud800": 1}', "bad_escape"), ('["\\udc00"]', "bad_escape")])
def test_nested_values_follow_the_json_grammar(nested: str, reason: str) -> None:
    tok = _text.JsonTokenizer([spec("id", "int64", key=True), spec("s", "string")], [])
    good = '{"id": 2, "s": [[], {}, {"b": [null, "]", "\\ud83d\\ude00"]}] }\n'
    assert feed_all(tok, f'{{"id": 1, "s": {nested}}}\n{good}'.encode()) == [reason]
    assert rows_of(tok) == [(2, '[[], {}, {"b": [null, "]", "\\ud83d\\ude00"]}]')]  # as written, without the space


def test_a_field_named_twice_is_reported_at_its_second_name_and_a_bad_vector_is_malformed(tmp_path: Path,
                                                                                           root: Path) -> None:
    path = write(tmp_path, "in.jsonl", '{"id": 1, "v": [1, 2], "v": [3, 4]}\n{"id": 2, "new": 1, "new": 2}\n'
                                       '{"id": 3, "v": [1 2]}\n{"id": 4, "v": [1, "a"]}\n{"id": 5, "v": [5, 6]}\n')
    rejects = tmp_path / "rejects.jsonl"
    rodata.build(path, dataset="d", key="id", data_root=root, schema={"v": "vector[2]"}, max_bad_rows=4,
                 rejects=rejects)
    bad = [json.loads(line) for line in rejects.read_text().splitlines()]
    assert [(b["line"], b["column"], b["reason"]) for b in bad] == [
        (1, 24, "column 'v': the field appears twice in one object"), (2, 21, "the field appears twice in one object"),
        (3, 19, "malformed JSON"), (4, 16, "column 'v': cannot parse '[1, \"a\"]' as vector[2]")]
