"""Dates: ``YYYY-MM-DD`` is a date for every year 1 to 9999, inferred and read back exactly;
timestamps stay within what int64 nanoseconds hold (1677-09-21 to 2262-04-11)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

import rodata
from rodata._core import _text

from .conftest import all_rows, write

UTC = dt.timezone.utc
WIDE = ["0001-01-01", "1500-06-30", "1677-09-20", "2262-04-12", "9999-12-31"]


@pytest.mark.parametrize("text", [w.encode() for w in WIDE])
def test_a_date_outside_the_nanosecond_range_is_a_date(text: bytes) -> None:
    assert _text.classify_value(text) == _text.KINDS["date_wide"]
    assert _text.resolve_kinds(_text.classify_value(text) | _text.KINDS["date"]) == "date"


def test_a_wide_date_next_to_timestamps_makes_a_string() -> None:
    k = _text.KINDS
    assert _text.resolve_kinds(k["date_wide"] | k["timestamp"]) == "string"
    assert _text.resolve_kinds(k["date"] | k["timestamp"]) == "timestamp"
    assert _text.classify_value(b"2262-04-12T00:00:00Z") == k["string"]
    assert _text.classify_value(b"1677-09-22T00:00:00Z") == k["timestamp"]


def test_csv_dates_of_any_year_are_inferred_as_dates(tmp_path: Path, root: Path) -> None:
    days = ["2024-05-06", *WIDE, "NA"]
    path = write(tmp_path, "in.csv", "id,day\n" + "".join(f"{i},{d}\n" for i, d in enumerate(days)))
    report = rodata.build(path, dataset="d", key="id", data_root=root)
    assert [(c["name"], c["type"]) for c in report.schema] == [("id", "int64"), ("day", "date")]
    assert [r["day"] for r in all_rows(root / "d")] == [
        None if d == "NA" else dt.date.fromisoformat(d) for d in days]


def test_jsonl_dates_of_any_year_are_inferred_as_dates(tmp_path: Path, root: Path) -> None:
    path = write(tmp_path, "in.jsonl", "".join(json.dumps({"id": i, "day": d}) + "\n" for i, d in enumerate(WIDE)))
    report = rodata.build(path, dataset="d", key="id", data_root=root)
    assert report.schema[1]["type"] == "date"
    assert [r["day"] for r in all_rows(root / "d")] == [dt.date.fromisoformat(d) for d in WIDE]


def test_a_late_wide_date_in_a_timestamp_column_makes_it_a_string(tmp_path: Path, root: Path) -> None:
    rows = [f"{i},2024-01-01T00:00:{i % 60:02d}Z" for i in range(60000)] + ["60000,0900-01-01"]
    path = write(tmp_path, "in.csv", "id,at\n" + "\n".join(rows) + "\n")  # the wide date is past the sample
    report = rodata.build(path, dataset="d", key="id", data_root=root)
    assert (report.schema[1]["type"], report.passes) == ("string", 2)
    with rodata.open(root / "d") as ds:
        assert ds.get(60000)["at"] == "0900-01-01"
        assert ds.get(1)["at"] == "2024-01-01T00:00:01Z"


def test_timestamps_outside_the_nanosecond_range_stay_strings(tmp_path: Path, root: Path) -> None:
    path = write(tmp_path, "in.csv", "id,at\n1,2024-01-01T00:00:00Z\n2,2300-01-01T00:00:00Z\n")
    report = rodata.build(path, dataset="d", key="id", data_root=root)
    assert report.schema[1]["type"] == "string"
