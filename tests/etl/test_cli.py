"""``rodata build`` as users run it: a subprocess, its exit code, its one-line messages."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .conftest import all_rows, rodata_cli, write


def build(tmp_path: Path, root: Path, *inputs: Path | str, key: str = "id", extra: tuple[str, ...] = ()):
    return rodata_cli("build", *inputs, "--dataset", "d", "--key", key, "--data-root", root, *extra, cwd=tmp_path)


def test_build_prints_the_schema_and_a_one_line_summary(tmp_path: Path, root: Path) -> None:
    path = write(tmp_path, "in.csv", "id,name,price\n2,b,NA\n1,a,1.5\n")
    proc = build(tmp_path, root, path)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == "schema: id int64 (key), name string, price float64?"
    assert lines[1].startswith("built d v000001-") and "2 rows" in lines[1]
    assert proc.stderr == ""  # no progress bar in a pipe
    assert all_rows(root / "d") == [{"id": 1, "name": "a", "price": 1.5}, {"id": 2, "name": "b", "price": None}]


def test_json_report(tmp_path: Path, root: Path) -> None:
    path = write(tmp_path, "in.jsonl", '{"id": "b", "n": 1}\n{"id": "a", "n": 2}\n')
    proc = build(tmp_path, root, path, extra=("--json", "--workers", "2"))
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["rows_out"] == 2 and doc["dataset"] == "d" and doc["version"].startswith("v000001-")
    assert doc["schema"][0] == {"name": "id", "type": "string", "nullable": False, "inferred": True, "key": True}


@pytest.mark.parametrize(("body", "where", "message"), [
    ("id,v\n1,a\n2\n", ":3:2:", "expected 2 fields, found 1"),
    ('id,v\n1,a\n2,"b\n', ":3:3:", "unterminated quoted field"),
    ("id,v\n1,a\nx,b\n", ":3:1:", "cannot parse 'x' as int64"),
    ("id,v\n1,a\nNA,b\n", ":3:1:", "null key"),
    (b"id,v\n1,a\n2,\xc3\x28\n", ":3:3:", "invalid UTF-8"),
])
def test_bad_input_exits_3_with_one_line(tmp_path: Path, root: Path, body: str | bytes, where: str,
                                         message: str) -> None:
    path = write(tmp_path, "in.csv", body)
    proc = build(tmp_path, root, path, extra=("--schema", str(write(tmp_path, "s.json", '{"id": "int64"}'))))
    assert proc.returncode == 3
    assert proc.stderr.count("\n") == 1
    assert proc.stderr.startswith(f"rodata: error: {path}{where}")
    assert message in proc.stderr
    assert not (root / "d" / "CURRENT").exists()


def test_missing_key_in_jsonl_exits_3(tmp_path: Path, root: Path) -> None:
    proc = build(tmp_path, root, write(tmp_path, "in.jsonl", '{"id": 1}\n{"other": 1}\n'))
    assert proc.returncode == 3
    assert ":2:" in proc.stderr and "missing key" in proc.stderr


def test_duplicates_exit_3_naming_key_and_both_lines(tmp_path: Path, root: Path) -> None:
    path = write(tmp_path, "in.csv", "id,v\n5,a\n6,b\n5,c\n")
    proc = build(tmp_path, root, path)
    assert proc.returncode == 3
    assert f"duplicate key 5 in column 'id': first at {path}:2, again at {path}:4" in proc.stderr
    proc = build(tmp_path, root, path, extra=("--on-duplicate", "last"))
    assert proc.returncode == 0
    assert all_rows(root / "d")[0] == {"id": 5, "v": "c"}


def test_quarantine_with_rejects(tmp_path: Path, root: Path) -> None:
    path = write(tmp_path, "in.csv", "id,v\n1,a\n2\n3,c\n")
    rejects = tmp_path / "bad.jsonl"
    proc = build(tmp_path, root, path, extra=("--max-bad-rows", "1", "--rejects", str(rejects)))
    assert proc.returncode == 0, proc.stderr
    assert "1 bad rows quarantined" in proc.stdout
    assert json.loads(rejects.read_text())["record"] == "2"


@pytest.mark.parametrize(("args", "message"), [
    (("missing.csv",), "no such input file: missing.csv"),
    (("in.csv", "--max-bad-rows", "5"), "--max-bad-rows needs --rejects"),
    (("in.csv", "--workers", "0"), "--workers must be at least 1"),
    (("in.data",), "cannot tell the format"),
    (("in.csv", "--memory-limit", "lots"), "not a size"),
    (("in.csv", "--on-duplicate", "merge"), "invalid choice"),
])
def test_usage_errors_exit_2(tmp_path: Path, root: Path, args: tuple[str, ...], message: str) -> None:
    write(tmp_path, "in.csv", "id\n1\n")
    write(tmp_path, "in.data", "id\n1\n")
    proc = rodata_cli("build", *args, "--dataset", "d", "--key", "id", "--data-root", root, cwd=tmp_path)
    assert proc.returncode == 2
    assert message in proc.stderr


def test_bad_dataset_name_and_missing_flags_are_usage_errors(tmp_path: Path, root: Path) -> None:
    path = write(tmp_path, "in.csv", "id\n1\n")
    proc = rodata_cli("build", path, "--dataset", "../x", "--key", "id", "--data-root", root)
    assert proc.returncode == 2 and "bad dataset name" in proc.stderr
    proc = rodata_cli("build", path, "--key", "id", "--data-root", root)
    assert proc.returncode == 2 and "--dataset" in proc.stderr


def test_schema_file_problems_exit_3(tmp_path: Path, root: Path) -> None:
    path = write(tmp_path, "in.csv", "id\n1\n")
    schema = write(tmp_path, "s.toml", '[columns]\nid = "int77"\n')
    proc = build(tmp_path, root, path, extra=("--schema", str(schema)))
    assert proc.returncode == 3 and "unknown column type" in proc.stderr


def test_runtime_failure_exits_1(tmp_path: Path) -> None:
    path = write(tmp_path, "in.csv", "id\n1\n")
    blocker = write(tmp_path, "root", "a file where the data root should be")
    proc = rodata_cli("build", path, "--dataset", "d", "--key", "id", "--data-root", blocker)
    assert proc.returncode == 1
    assert proc.stderr.startswith("rodata: error:")


def test_many_workers_from_python_m(tmp_path: Path, root: Path) -> None:
    # Workers must not import and run `python -m rodata` again (the fork server hides __main__).
    body = "".join(f"{i},{'x' * (i % 50)}\n" for i in range(20000))
    path = write(tmp_path, "in.csv", "id,v\n" + body)
    proc = build(tmp_path, root, path, extra=("--workers", "2", "--chunk-size", "64K", "--json"))
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["workers"] == 2
    assert len(all_rows(root / "d")) == 20000
