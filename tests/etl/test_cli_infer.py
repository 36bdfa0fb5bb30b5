"""``rodata infer``: the schema a build infers, as a schema file that ``--schema`` reads back."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from .conftest import ROOT, rodata_cli, write


def _types(proc: subprocess.CompletedProcess[str]) -> list[tuple[str, str, bool]]:
    assert proc.returncode == 0, proc.stderr
    return [(c["name"], c["type"], c["nullable"]) for c in json.loads(proc.stdout)["schema"]]


def test_infer_prints_a_schema_file_that_builds_the_same_types(tmp_path: Path, root: Path) -> None:
    # A value far past the inference sample (1 MiB) widens `price` to float64 and `code` to string:
    # infer reads every row, as the build does.
    rows = "".join(f"{i},{i % 7},{i},2024-01-0{1 + i % 9}\n" for i in range(1, 120000))
    path = write(tmp_path, "in.csv", "id,price,code,day\n" + rows + "120000,2.5,x1,NA\n")
    inferred = rodata_cli("infer", path)
    assert inferred.returncode == 0, inferred.stderr
    assert '"price" = "float64"' in inferred.stdout and '"code" = "string"' in inferred.stdout
    assert '"day" = "date"  # holds nulls' in inferred.stdout
    plain = _types(rodata_cli("build", path, "--dataset", "a", "--key", "id", "--data-root", root, "--json"))
    # `--schema <(rodata infer ...)`: the schema file comes through a pipe, named /dev/fd/N.
    script = (f"{sys.executable} -m rodata build {path} --schema <({sys.executable} -m rodata infer {path}) "
              f"--dataset b --key id --data-root {root} --json")
    piped = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=120,
                           env={"PYTHONPATH": str(ROOT / "src"), "PATH": "/usr/bin:/bin"})
    assert _types(piped) == plain
    assert ("price", "float64", False) in plain and ("code", "string", False) in plain


def test_infer_jsonl_from_stdin_with_a_key(root: Path) -> None:
    proc = rodata_cli("infer", "-", "--key", "k", input='{"n": 1, "k": "a"}\n{"n": 2.5, "k": "b", "x": null}\n')
    assert proc.returncode == 0, proc.stderr
    assert '"k" = "string"  # key' in proc.stdout and '"n" = "float64"' in proc.stdout
    assert "from -" in proc.stdout


def test_infer_keeps_the_delimiter(tmp_path: Path, root: Path) -> None:
    path = write(tmp_path, "in.csv", "id;v\n1;true\n")
    schema = tmp_path / "s.toml"
    schema.write_text(rodata_cli("infer", path, "--delimiter", ";").stdout)
    assert 'delimiter = ";"' in schema.read_text()
    proc = rodata_cli("build", path, "--schema", schema, "--dataset", "d", "--key", "id", "--data-root", root,
                      "--json")
    assert _types(proc) == [("id", "int64", False), ("v", "bool", False)]


def test_infer_bad_input_is_exit_3_naming_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, "in.csv", 'id,v\n1,"a\n2,b"x\n')
    proc = rodata_cli("infer", path)
    assert proc.returncode == 3 and "in.csv:" in proc.stderr


def test_infer_missing_file_is_a_usage_error(tmp_path: Path) -> None:
    proc = rodata_cli("infer", tmp_path / "nope.csv")
    assert proc.returncode == 2 and "nope.csv" in proc.stderr
