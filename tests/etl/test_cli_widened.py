"""A type widened by inference names the value and the file:line that widened it, on stderr and
in the ``--json`` report."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from .conftest import rodata_cli, write

N = 200_000  # rows: far past the inference sample (1 MiB), so the widening comes from the read


def _csv() -> str:
    rows = [f"{i},{i % 7},{i % 5}.5\n" for i in range(1, N)]
    half = len(rows) * 3 // 4
    return "id,n,f\n" + "".join(rows[:half]) + "77777777,12,oops\n" + "".join(rows[half:]) + f"{N},x9,1\n"


def _build(root: Path, path: Path, *extra: str):
    return rodata_cli("build", path, "--dataset", "d", "--key", "id", "--data-root", root, *extra)


def _line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


@pytest.mark.parametrize("workers", [("--workers", "1"), ("--workers", "2", "--chunk-size", "128K")])
def test_widening_is_named_on_stderr_and_in_the_report(tmp_path: Path, root: Path, workers: tuple[str, ...]) -> None:
    text = _csv()
    path = write(tmp_path, "in.csv", text)
    proc = _build(root, path, "--json", *workers)
    assert proc.returncode == 0, proc.stderr
    widened = {w["column"]: w for w in json.loads(proc.stdout)["widened"]}
    assert widened["f"] == {"column": "f", "from": "float64", "to": "string", "value": "oops", "file": str(path),
                            "line": _line_of(text, "oops")}
    assert widened["n"] == {"column": "n", "from": "int64", "to": "string", "value": "x9", "file": str(path),
                            "line": len(text.splitlines())}
    plain = _build(root, path, "--allow-schema-change", *workers)
    assert plain.returncode == 0, plain.stderr
    assert (f"rodata build: column 'f' widened from float64 to string by 'oops' at {path}:{_line_of(text, 'oops')}"
            in plain.stderr.splitlines())


def test_widening_in_a_gzip_csv(tmp_path: Path, root: Path) -> None:
    text = _csv()
    path = tmp_path / "in.csv.gz"
    path.write_bytes(gzip.compress(text.encode()))
    proc = _build(root, path)
    assert proc.returncode == 0, proc.stderr
    assert f"column 'n' widened from int64 to string by 'x9' at {path}:{len(text.splitlines())}" in proc.stderr


def test_widening_in_jsonl(tmp_path: Path, root: Path) -> None:
    lines = [json.dumps({"id": i, "v": i}) for i in range(1, 60000)] + ['{"id": 0, "v": 2.5}']
    path = write(tmp_path, "in.jsonl", "\n".join(lines) + "\n")
    proc = _build(root, path, "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["widened"] == [
        {"column": "v", "from": "int64", "to": "float64", "value": "2.5", "file": str(path), "line": 60000}]


def test_no_widening_reports_none(tmp_path: Path, root: Path) -> None:
    proc = _build(root, write(tmp_path, "in.csv", "id,v\n1,2\n"), "--json")
    assert proc.returncode == 0 and json.loads(proc.stdout)["widened"] == [] and proc.stderr == ""


def test_a_refused_widening_says_which_value_did_it(tmp_path: Path, root: Path) -> None:
    rows = "".join(f"{i},{i}.5\n" for i in range(1, N))
    first = write(tmp_path, "a.csv", "id,price\n" + rows)
    assert _build(root, first).returncode == 0
    second = write(tmp_path, "b.csv", "id,price\n" + rows + f"{N},abc\n")
    proc = _build(root, second)
    assert proc.returncode == 3
    assert f"column 'price' widened from float64 to string by 'abc' at {second}:{N + 1}" in proc.stderr
