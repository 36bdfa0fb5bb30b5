"""Inference counts only the records that are built: a rejected record's values never choose a
type, and the sample (the first MiB) reads records exactly as the full read does, so the result
never depends on where the sample ended."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import rodata

from .conftest import all_rows, write

FILLER = 100000  # rows enough to put what follows them past the 1 MiB sample


def build(tmp_path: Path, root: Path, name: str, content: bytes, **kwargs: Any) -> tuple[rodata.BuildReport,
                                                                                      list[dict[str, Any]]]:
    assert len(content) < 1000 or len(content) > (1 << 20) + 1000
    rejects = tmp_path / f"{name}.rejects.jsonl"
    report = rodata.build(write(tmp_path, name, content), dataset=name.replace(".", "-"), key="id",
                          data_root=root, max_bad_rows=5, rejects=rejects, **kwargs)
    bad = [json.loads(line) for line in rejects.read_text().splitlines()] if rejects.exists() else []
    return report, bad


def types(report: rodata.BuildReport) -> dict[str, str]:
    return {c["name"]: c["type"] for c in report.schema}


@pytest.mark.parametrize("late", [False, True])
def test_invalid_utf8_in_an_inferred_csv_column_is_rejected_not_a_string(tmp_path: Path, root: Path,
                                                                        late: bool) -> None:
    rows = [f"{i},{i * 2}\n".encode() for i in range(FILLER if late else 3)]
    content = b"id,n\n" + b"".join(rows) + b"-1,4\xff\n"
    report, bad = build(tmp_path, root, "in.csv", content)
    assert types(report) == {"id": "int64", "n": "int64"}
    assert [(b["line"], b["reason"]) for b in bad] == [(len(rows) + 2, "column 'n': invalid UTF-8")]


@pytest.mark.parametrize("late", [False, True])
def test_invalid_utf8_in_an_inferred_jsonl_field_is_rejected_not_a_string(tmp_path: Path, root: Path,
                                                                         late: bool) -> None:
    rows = [b'{"id": %d, "n": %d}\n' % (i, i) for i in range(FILLER if late else 3)]
    content = b"".join(rows) + b'{"id": -1, "n": "4\xff"}\n{"id": -2, "n\xfe": 1}\n'
    report, bad = build(tmp_path, root, "in.jsonl", content)
    assert types(report) == {"id": "int64", "n": "int64"}
    assert [(b["line"], b["reason"]) for b in bad] == [(len(rows) + 1, "column 'n': invalid UTF-8"),
                                                       (len(rows) + 2, "invalid UTF-8")]


@pytest.mark.parametrize("late", [False, True])
def test_a_record_rejected_for_a_declared_column_does_not_widen_another(tmp_path: Path, root: Path,
                                                                       late: bool) -> None:
    rows = [f"{i},{i},1\n".encode() for i in range(FILLER if late else 3)]
    content = b"id,n,d\n" + b"".join(rows) + b"-1,text,300\n-2,more text,\n"
    report, bad = build(tmp_path, root, "in.csv", content, schema={"columns": {
        "d": {"type": "int8", "nullable": False}}})
    assert types(report) == {"id": "int64", "n": "int64", "d": "int8"}
    assert [b["reason"] for b in bad] == ["column 'd': '300' is out of range for int8",
                                          "column 'd': null in a column declared not nullable"]


@pytest.mark.parametrize("late", [False, True])
def test_a_record_with_a_null_or_missing_key_does_not_count_in_jsonl(tmp_path: Path, root: Path,
                                                                     late: bool) -> None:
    rows = [b'{"id": %d, "n": %d}\n' % (i, i) for i in range(FILLER if late else 3)]
    content = b"".join(rows) + b'{"id": null, "n": "text", "extra": 1}\n{"n": [1, 2]}\n{"id": 7.5, "bad": }\n'
    report, bad = build(tmp_path, root, "in.jsonl", content)
    assert types(report) == {"id": "int64", "n": "int64"}
    assert [b["reason"] for b in bad] == ["null key (key column 'id')", "missing key (key column 'id')",
                                          "malformed JSON"]


def test_jsonl_null_values_apply_in_the_sample(tmp_path: Path, root: Path) -> None:
    content = b'{"id": 1, "n": "NA"}\n{"id": 2, "n": 5}\n'
    report, _ = build(tmp_path, root, "in.jsonl", content, schema={"null_values": ["NA"], "columns": {}})
    assert types(report) == {"id": "int64", "n": "int64"}
    assert all_rows(root / "in-jsonl") == [{"id": 1, "n": None}, {"id": 2, "n": 5}]
