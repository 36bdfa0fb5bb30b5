"""``rodata.build`` end to end: real files in, a published version out, read back exactly."""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import rodata
from rodata.errors import BadInputError, DuplicateKeyError, SchemaError
from rodata.etl.progress import ProgressEvent

from .conftest import ROOT, all_rows, segment_bytes, write

UTC = dt.timezone.utc


def mixed_csv(n: int, seed: int = 3, *, crlf: bool = False) -> str:
    """A CSV of every inferable type, shuffled keys, nulls, quotes and line breaks in quotes."""
    rng = np.random.default_rng(seed)
    keys = rng.permutation(n) * 3 - n
    words = ["plain", "with, comma", 'with "quotes"', "two\nlines", "ünïcödé", "日本"]
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\r\n" if crlf else "\n")
    w.writerow(["id", "qty", "price", "ok", "day", "at", "name"])
    for i, k in enumerate(keys.tolist()):
        w.writerow([k, int(rng.integers(-10**6, 10**6)), "" if i % 7 == 0 else f"{rng.random() * 100:.3f}",
                    "true" if i % 2 else "false", f"2024-{1 + i % 12:02d}-{1 + i % 28:02d}",
                    f"2024-01-01T{i % 24:02d}:{i % 60:02d}:00Z", "NA" if i % 11 == 0 else words[i % len(words)]])
    return out.getvalue()


def expected_rows(text: str) -> list[dict[str, Any]]:
    rows = []
    for r in csv.DictReader(io.StringIO(text)):
        rows.append({
            "id": int(r["id"]), "qty": int(r["qty"]), "price": float(r["price"]) if r["price"] else None,
            "ok": r["ok"] == "true", "day": dt.date.fromisoformat(r["day"]),
            "at": dt.datetime.fromisoformat(r["at"].replace("Z", "+00:00")),
            "name": None if r["name"] == "NA" else r["name"],
        })
    return sorted(rows, key=lambda r: r["id"])


def test_csv_builds_and_reads_back_exactly(tmp_path: Path, root: Path) -> None:
    text = mixed_csv(500)
    path = write(tmp_path, "in.csv", text)
    report = rodata.build(path, dataset="mixed", key="id", data_root=root)
    assert isinstance(report, rodata.BuildReport)
    assert (report.rows_in, report.rows_out, report.bad_rows, report.passes) == (500, 500, 0, 1)
    assert [(c["name"], c["type"], c["nullable"]) for c in report.schema] == [
        ("id", "int64", False), ("qty", "int64", False), ("price", "float64", True), ("ok", "bool", False),
        ("day", "date", False), ("at", "timestamp", False), ("name", "string", True)]
    assert all_rows(root / "mixed") == expected_rows(text)
    manifest = json.loads((Path(report.path) / "manifest.json").read_text())
    assert manifest["build"]["inferred"]["price"] == "float64"
    assert manifest["build"]["source"] == "rodata.build"


def test_one_worker_and_many_give_byte_identical_segments(tmp_path: Path, root: Path) -> None:
    text = mixed_csv(3000, crlf=True)
    path = write(tmp_path, "in.csv", text)
    one = rodata.build(path, dataset="one", key="id", data_root=root, workers=1, chunk_bytes=4096,
                       part_bytes=20_000)
    many = rodata.build(path, dataset="many", key="id", data_root=root, workers=3, chunk_bytes=1500,
                        part_bytes=20_000)
    assert one.parts == many.parts > 1
    assert segment_bytes(one.path) == segment_bytes(many.path)
    assert all_rows(root / "many") == expected_rows(text)


@pytest.mark.parametrize("workers", [1, 2])
def test_line_breaks_in_quotes_across_tiny_chunks(tmp_path: Path, root: Path, workers: int) -> None:
    text = mixed_csv(300, crlf=True)  # "two\nlines" values, quoted, all over the file
    path = write(tmp_path, "in.csv", text)
    report = rodata.build(path, dataset="d", key="id", data_root=root, workers=workers, chunk_bytes=23)
    assert report.rows_out == 300
    assert all_rows(root / "d") == expected_rows(text)


def test_bom_crlf_and_quoted_header(tmp_path: Path, root: Path) -> None:
    path = write(tmp_path, "in.csv", b'\xef\xbb\xbf"id","the name"\r\n2,"b"\r\n1,a\r\n')
    rodata.build(path, dataset="d", key="id", data_root=root)
    assert all_rows(root / "d") == [{"id": 1, "the name": "a"}, {"id": 2, "the name": "b"}]


def test_header_only_publishes_an_empty_version(tmp_path: Path, root: Path) -> None:
    report = rodata.build(write(tmp_path, "in.csv", "id,name\n"), dataset="d", key="id", data_root=root)
    assert report.rows_out == 0
    with rodata.open(root / "d") as ds:
        assert len(ds) == 0
        assert ds.get("x") is None


def test_empty_file_is_bad_input(tmp_path: Path, root: Path) -> None:
    with pytest.raises(BadInputError, match="empty file"):
        rodata.build(write(tmp_path, "in.csv", ""), dataset="d", key="id", data_root=root)
    assert not (root / "d" / "CURRENT").exists()


def test_many_files_and_gzip(tmp_path: Path, root: Path) -> None:
    a = write(tmp_path, "a.csv", "id,v\n1,a\n3,c\n")
    b = tmp_path / "b.csv.gz"
    b.write_bytes(gzip.compress(b"v,id\r\nb,2\r\nd,4\r\n"))  # another column order, CRLF
    report = rodata.build([a, b], dataset="d", key="id", data_root=root, workers=2)
    assert report.inputs == [str(a), str(b)]
    assert [r["v"] for r in all_rows(root / "d")] == ["a", "b", "c", "d"]


def test_big_gzip_stream_spills_several_runs(tmp_path: Path, root: Path) -> None:
    text = mixed_csv(4000)
    path = tmp_path / "in.csv.gz"
    path.write_bytes(gzip.compress(text.encode()))
    rodata.build(path, dataset="d", key="id", data_root=root, chunk_bytes=10_000, memory_limit=8 << 20)
    assert all_rows(root / "d") == expected_rows(text)


def test_headers_must_agree(tmp_path: Path, root: Path) -> None:
    a = write(tmp_path, "a.csv", "id,v\n1,a\n")
    b = write(tmp_path, "b.csv", "id,w\n2,b\n")
    with pytest.raises(BadInputError, match="header differs") as info:
        rodata.build([a, b], dataset="d", key="id", data_root=root)
    assert info.value.path == str(b)


def test_a_late_value_widens_the_inferred_type(tmp_path: Path, root: Path) -> None:
    lines = [f"{i},{i}" for i in range(150000)] + ["150000,2.5", "150001,NA"]
    path = write(tmp_path, "in.csv", "id,n\n" + "\n".join(lines) + "\n")  # past the 1 MiB sample
    report = rodata.build(path, dataset="d", key="id", data_root=root)
    assert report.passes == 2
    with rodata.open(root / "d") as ds:
        assert ds.schema["n"].type == "float64"
        assert ds.get(150000)["n"] == 2.5
        assert ds.get(150001)["n"] is None
        assert ds.get(7)["n"] == 7.0


def test_schema_file_types_renames_drops_and_null_values(tmp_path: Path, root: Path) -> None:
    schema = write(tmp_path, "s.toml", '''
null_values = ["-"]
[columns]
id = "int32"
price = { type = "float32", nullable = true }
old = { rename = "new" }
junk = { drop = true }
emb = "vector[2]"
''')
    path = write(tmp_path, "in.csv", 'id,price,old,junk,emb\n1,-,NA,x,"[1,2]"\n2,2.5,,y,3 4\n')
    report = rodata.build(path, dataset="d", key="id", data_root=root, schema=schema)
    assert [c["name"] for c in report.schema] == ["id", "price", "new", "emb"]
    rows = all_rows(root / "d")
    assert rows[0]["price"] is None and rows[0]["new"] == "NA"  # "NA" is text here: null_values says so
    assert rows[1]["new"] == ""
    assert [list(r["emb"]) for r in rows] == [[1.0, 2.0], [3.0, 4.0]]
    with rodata.open(root / "d") as ds:
        assert ds.schema["price"].type == "float32" and ds.schema["id"].type == "int64"


def test_declared_type_mismatch_is_bad_input(tmp_path: Path, root: Path) -> None:
    path = write(tmp_path, "in.csv", "id,n\n1,5\n2,x\n")
    with pytest.raises(BadInputError) as info:
        rodata.build(path, dataset="d", key="id", data_root=root, schema={"n": "int64"})
    assert (info.value.line, info.value.column) == (3, 3)
    assert "column 'n': cannot parse 'x' as int64" in str(info.value)


@pytest.mark.parametrize(("body", "line", "column", "reason"), [
    ("1,a\n2\n", 3, 2, "expected 2 fields, found 1"),
    ("1,a\n2,b,c\n", 3, 5, "expected 2 fields, found 3"),
    ('1,a\n2,"b\n', 3, 3, "unterminated quoted field"),
    ('1,a\n2,b"c"\n', 3, 4, "quote inside an unquoted field"),
    ("1,a\n,b\n", 3, 1, "null key (key column 'id')"),
    ("1,a\n2,\xff\n", 3, 3, "invalid UTF-8"),
])
def test_first_bad_record_stops_the_build(tmp_path: Path, root: Path, body: str, line: int, column: int,
                                          reason: str) -> None:
    data = ("id,v\n" + body).encode("utf-8").replace("\xff".encode(), b"\xff")
    path = write(tmp_path, "in.csv", data)
    with pytest.raises(BadInputError) as info:
        rodata.build(path, dataset="d", key="id", data_root=root)
    assert (info.value.path, info.value.line, info.value.column) == (str(path), line, column)
    assert reason in str(info.value)
    assert not (root / "d" / "CURRENT").exists()
    assert [p.name for p in (root / "d").iterdir() if p.name.startswith(".staging")] == []


def test_first_bad_record_is_the_first_in_the_input_whatever_the_timing(tmp_path: Path, root: Path) -> None:
    lines = [f"{i},v{i}" for i in range(2000)]
    lines[1500] = "1500"  # late in the input
    lines[300] = "300,a,b"  # early
    path = write(tmp_path, "in.csv", "id,v\n" + "\n".join(lines) + "\n")
    with pytest.raises(BadInputError) as info:
        rodata.build(path, dataset="d", key="id", data_root=root, workers=3, chunk_bytes=500)
    assert info.value.line == 302


def test_bad_rows_quarantined_in_the_rejects_file(tmp_path: Path, root: Path) -> None:
    path = write(tmp_path, "in.csv", b'id,v\n1,a\n2,b,extra\n3,"c\n\n"\nx,d\n4,\xff\n5,e\n')
    rejects = tmp_path / "rejects.jsonl"
    schema = {"id": "int64"}
    report = rodata.build(path, dataset="d", key="id", data_root=root, max_bad_rows=3, rejects=rejects,
                          schema=schema)
    assert report.bad_rows == 3 and report.rows_out == 3
    assert [r["id"] for r in all_rows(root / "d")] == [1, 3, 5]
    bad = [json.loads(line) for line in rejects.read_text().splitlines()]
    assert [(b["line"], b["column"]) for b in bad] == [(3, 5), (7, 1), (8, 3)]
    assert bad[0]["record"] == "2,b,extra"
    assert "cannot parse 'x' as int64" in bad[1]["reason"]
    assert bad[2]["record_base64"] == "NCz/"  # the raw bytes, not valid UTF-8: nothing is lost
    assert bad[0]["file"] == str(path)


def test_too_many_bad_rows_fail_and_still_write_the_rejects(tmp_path: Path, root: Path) -> None:
    path = write(tmp_path, "in.csv", "id,v\n1,a\n2\n3\n4\n")
    rejects = tmp_path / "rejects.jsonl"
    with pytest.raises(BadInputError, match="more than --max-bad-rows 2") as info:
        rodata.build(path, dataset="d", key="id", data_root=root, max_bad_rows=2, rejects=rejects)
    assert info.value.line == 3
    assert len(rejects.read_text().splitlines()) == 3
    assert not (root / "d" / "CURRENT").exists()


def test_max_bad_rows_needs_a_rejects_file(tmp_path: Path, root: Path) -> None:
    with pytest.raises(ValueError, match="rejects"):
        rodata.build(write(tmp_path, "in.csv", "id\n1\n"), dataset="d", key="id", data_root=root, max_bad_rows=1)


def test_duplicate_keys(tmp_path: Path, root: Path) -> None:
    a = write(tmp_path, "a.csv", "id,v\n1,first\n2,x\n")
    b = write(tmp_path, "b.csv", "id,v\n3,y\n1,second\n1,third\n")
    with pytest.raises(DuplicateKeyError) as info:
        rodata.build([a, b], dataset="d", key="id", data_root=root)
    assert f"duplicate key 1 in column 'id': first at {a}:2, again at {b}:3" in str(info.value)
    first = rodata.build([a, b], dataset="d", key="id", data_root=root, on_duplicate="first")
    assert first.duplicates == 2
    assert [r["v"] for r in all_rows(root / "d")] == ["first", "x", "y"]
    rodata.build([a, b], dataset="d", key="id", data_root=root, on_duplicate="last", workers=2, chunk_bytes=8)
    assert [r["v"] for r in all_rows(root / "d")] == ["third", "x", "y"]


def test_the_duplicate_reported_is_the_lowest_key_whatever_the_workers(tmp_path: Path, root: Path) -> None:
    keys = [*range(6000), 5500, 100]  # two duplicates, far apart in key order (other parts)
    path = write(tmp_path, "in.csv", "id,v\n" + "".join(f"{k},{i}\n" for i, k in enumerate(keys)))
    for workers in (1, 3):
        with pytest.raises(DuplicateKeyError, match="duplicate key 100 in column 'id'") as info:
            rodata.build(path, dataset="d", key="id", data_root=root, workers=workers, chunk_bytes=4000,
                         part_bytes=5000)
        assert f"first at {path}:102, again at {path}:6003" in str(info.value)
    assert not (root / "d" / "CURRENT").exists()
    assert [p.name for p in (root / "d").iterdir() if p.name.startswith(".staging")] == []


def test_string_keys_sorted_bytewise_across_parts(tmp_path: Path, root: Path) -> None:
    rng = np.random.default_rng(2)
    keys = [f"user-{v}" for v in rng.permutation(5000)]
    path = write(tmp_path, "in.csv", "user,n\n" + "".join(f"{k},{i}\n" for i, k in enumerate(keys)))
    report = rodata.build(path, dataset="d", key="user", data_root=root, workers=2, chunk_bytes=4096,
                          part_bytes=16_384)
    assert report.parts > 1
    rows = all_rows(root / "d")
    assert [r["user"] for r in rows] == sorted(keys, key=lambda k: k.encode())
    with rodata.open(root / "d") as ds:
        assert ds.get(keys[123])["n"] == 123


def test_jsonl_with_nested_values_vectors_and_late_new_fields(tmp_path: Path, root: Path) -> None:
    lines = [json.dumps({"id": i, "name": f"n{i}", "emb": [i, i + 0.5], "meta": {"a": [i]}}) for i in range(30000)]
    lines.append(json.dumps({"id": 30000, "name": None, "emb": [0, 1], "late": "2024-05-01"}))
    path = write(tmp_path, "in.jsonl", "\n".join(lines) + "\n")
    report = rodata.build(path, dataset="d", key="id", data_root=root)
    assert report.passes == 2  # "late" is past the sample: found, added, read again
    with rodata.open(root / "d") as ds:
        assert ds.schema["emb"].type_name == "vector[2]"
        assert ds.schema["late"].type == "date"
        row = ds.get(7)
        assert row["meta"] == '{"a": [7]}' and list(row["emb"]) == [7.0, 7.5] and row["late"] is None
        assert ds.get(30000)["late"] == dt.date(2024, 5, 1)


def test_jsonl_bad_line(tmp_path: Path, root: Path) -> None:
    path = write(tmp_path, "in.jsonl", '{"id": 1}\n{"id": 2,}\n')
    with pytest.raises(BadInputError, match="malformed JSON") as info:
        rodata.build(path, dataset="d", key="id", data_root=root)
    assert (info.value.line, info.value.column) == (2, 10)
    path = write(tmp_path, "in2.jsonl", '{"id": 1}\n{"x": 2}\n')
    with pytest.raises(BadInputError, match="missing key"):
        rodata.build(path, dataset="d", key="id", data_root=root)


def test_parquet_input(tmp_path: Path, root: Path) -> None:
    import pyarrow as pa  # a test dependency (the "test" extra)
    import pyarrow.parquet as pq

    n = 5000
    table = pa.table({
        "id": pa.array(np.random.default_rng(1).permutation(n), pa.int32()),
        "name": pa.array([None if i % 9 == 0 else f"n{i}" for i in range(n)]).dictionary_encode(),
        "at": pa.array(np.arange(n) * 10**6, pa.timestamp("us", tz="Europe/Paris")),
        "emb": pa.array([[float(i), 1.0] for i in range(n)], pa.list_(pa.float32(), 2)),
    })
    path = tmp_path / "in.parquet"
    pq.write_table(table, path, row_group_size=700)
    report = rodata.build(path, dataset="d", key="id", data_root=root, workers=2, chunk_bytes=1)
    assert report.rows_out == n
    ids = table.column("id").to_pylist()
    with rodata.open(root / "d") as ds:
        assert ds.schema["id"].type == "int64"
        at = ids.index(42)
        row = ds.get(42)
        assert row["name"] == (None if at % 9 == 0 else f"n{at}")
        assert row["at"] == dt.datetime(1970, 1, 1, tzinfo=UTC) + dt.timedelta(seconds=at)
        assert list(row["emb"]) == [float(at), 1.0]


def test_parquet_without_pyarrow_names_the_extra(tmp_path: Path, root: Path) -> None:
    path = write(tmp_path, "in.parquet", b"PAR1")
    code = ("import sys; sys.modules['pyarrow'] = None; sys.modules['pyarrow.parquet'] = None\n"
            "import rodata\n"
            f"rodata.build({str(path)!r}, dataset='d', key='id', data_root={str(root)!r})\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={"PYTHONPATH": str(ROOT / "src")}, timeout=60)
    assert proc.returncode != 0
    assert "pip install 'rodata[parquet]'" in proc.stderr


def test_progress_callback_and_report(tmp_path: Path, root: Path) -> None:
    events: list[ProgressEvent] = []
    path = write(tmp_path, "in.csv", mixed_csv(200))
    report = rodata.build(path, dataset="d", key="id", data_root=root, progress=events.append)
    assert events[0].phase == "read" and events[-1].phase == "write"
    assert max(e.rows for e in events) == 200
    assert set(report.seconds) >= {"plan", "read", "merge", "publish", "total"}
    assert report.summary().startswith(f"built d {report.version}: 200 rows")
    doc = report.to_json()
    assert doc["rows_out"] == 200 and doc["version"] == report.version


def test_keep_versions_and_failed_builds_leave_current(tmp_path: Path, root: Path) -> None:
    path = write(tmp_path, "in.csv", "id,v\n1,a\n")
    versions = [rodata.build(path, dataset="d", key="id", data_root=root, keep_versions=2).version
                for _ in range(3)]
    assert rodata.list_versions(root / "d") == versions[1:]
    bad = write(tmp_path, "bad.csv", "id,v\n1\n")
    with pytest.raises(BadInputError):
        rodata.build(bad, dataset="d", key="id", data_root=root)
    assert (root / "d" / "CURRENT").read_text().strip() == versions[-1]


def test_memory_limit_bounds_chunks_and_parts(tmp_path: Path, root: Path) -> None:
    text = mixed_csv(20000)
    path = write(tmp_path, "in.csv", text)
    report = rodata.build(path, dataset="d", key="id", data_root=root, memory_limit=16 << 20, workers=2)
    assert report.parts == 16  # 1 MiB parts under a 16 MiB budget: more than one, a multiple of 16
    assert all_rows(root / "d") == expected_rows(text)


def test_schema_errors(tmp_path: Path, root: Path) -> None:
    path = write(tmp_path, "in.csv", "id,v\n1.5,a\n")
    with pytest.raises(SchemaError, match="must be int64 or string"):
        rodata.build(path, dataset="d", key="id", data_root=root, schema={"id": "float64"})
    with pytest.raises(SchemaError, match="mix formats"):
        rodata.build([path, write(tmp_path, "x.jsonl", "{}")], dataset="d", key="id", data_root=root)


def test_a_build_keeps_its_state_in_what_it_starts_with(tmp_path: Path) -> None:
    """Every phase fills attributes the build object had from the start (no state appears later
    to be read back with getattr): here a JSON Lines plan with a dropped field and a widening pass."""
    from rodata.etl.build import _Build
    from rodata.etl.guards import schema_file
    from rodata.etl.pool import WorkerPool
    from rodata.etl.progress import make_progress
    from rodata.etl.sources import detect_sources

    early = "".join(f'{{"id": {i}, "v": {i}, "junk": [{i}]}}\n' for i in range(40000))  # past the sample
    path = write(tmp_path, "in.jsonl", early + '{"id": -1, "v": "x", "late": true}\n')
    job = _Build(detect_sources([path]), schema_file({"junk": {"drop": True}}), "id", 1, 64 << 20, "error", 0,
                 make_progress(False), None, None)
    started = set(vars(job))
    job.spill = tmp_path / "spill"
    job.spill.mkdir()
    with WorkerPool(1, processes=False) as pool:
        job.pool = pool
        job.plan()
        job.read()
    assert set(vars(job)) == started
    assert job.skipped == ("junk",) and job.passes == 2
    assert [(c.name, c.type) for c in job.columns] == [("id", "int64"), ("v", "string"), ("late", "bool")]
