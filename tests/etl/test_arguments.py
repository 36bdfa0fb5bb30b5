"""A build's arguments are checked once, before any work, for rodata.build and rodata build
alike: a UsageError (exit 2) naming the parameter as the caller wrote it, and the inputs
described once."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import rodata
from rodata.errors import SchemaError, UsageError
from rodata.etl.arguments import BuildArgumentError, check_build_arguments

from .conftest import ROOT, rodata_cli, write


@pytest.mark.parametrize(("options", "library", "cli"), [
    ({"workers": 0}, "workers must be at least 1", "--workers must be at least 1"),
    ({"max_bad_rows": -1}, "max_bad_rows must not be negative", "--max-bad-rows must not be negative"),
    ({"max_bad_rows": 2}, "max_bad_rows > 0 needs a rejects file", "--max-bad-rows needs --rejects FILE"),
    ({"keep_versions": 0}, "keep_versions must be at least 1", "--keep-versions must be at least 1"),
    ({"chunk_bytes": 0}, "chunk_bytes must be positive", "--chunk-size must be positive"),
    ({"memory_limit": 1000}, "memory_limit must be at least 1 MiB", "--memory-limit must be at least 1M"),
])
def test_one_check_words_each_problem_for_its_caller(tmp_path: Path, options: dict, library: str, cli: str) -> None:
    path = write(tmp_path, "in.csv", "id\n1\n")
    for as_cli, message in ((False, library), (True, cli)):
        with pytest.raises(BuildArgumentError) as caught:
            check_build_arguments([path], dataset="d", key="id", data_root=tmp_path / "data", cli=as_cli, **options)
        assert str(caught.value).startswith(message)
        assert isinstance(caught.value, UsageError) and isinstance(caught.value, ValueError)
    assert not (tmp_path / "data").exists()  # nothing was made


def test_the_library_raises_the_usage_error_before_any_work(tmp_path: Path) -> None:
    path = write(tmp_path, "in.csv", "id\n1\n")
    with pytest.raises(UsageError, match="needs a rejects file"):
        rodata.build([path], dataset="d", key="id", data_root=tmp_path / "data", max_bad_rows=1)
    with pytest.raises(UsageError, match="bad dataset name"):
        rodata.build([path], dataset="../d", key="id", data_root=tmp_path / "data")
    with pytest.raises(UsageError, match="on_duplicate must be 'error', 'first' or 'last', not 'keep'"):
        rodata.build([path], dataset="d", key="id", data_root=tmp_path / "data", on_duplicate="keep")
    with pytest.raises(FileNotFoundError, match="no such input file"):  # a UsageError that is also what it was
        rodata.build([tmp_path / "nope.csv"], dataset="d", key="id", data_root=tmp_path / "data")
    assert not (tmp_path / "data").exists()


def test_the_cli_exits_2_with_the_same_check(tmp_path: Path) -> None:
    path = write(tmp_path, "in.csv", "id\n1\n")
    done = rodata_cli("build", path, "--dataset", "d", "--key", "id", "--data-root", tmp_path / "data",
                      "--keep-versions", "0")
    assert done.returncode == 2
    assert done.stderr.strip() == "rodata build: error: --keep-versions must be at least 1"
    done = rodata_cli("build", path, "-", "-", "--dataset", "d", "--key", "id", "--data-root", tmp_path / "data")
    assert (done.returncode, done.stderr.strip()) == (2, "rodata build: error: - (standard input) can be given "
                                                         "only once")


def test_mixed_formats_are_bad_input(tmp_path: Path) -> None:
    paths = [write(tmp_path, "a.csv", "id\n1\n"), write(tmp_path, "b.jsonl", '{"id": 2}\n')]
    with pytest.raises(SchemaError, match=r"inputs mix formats \(csv, jsonl\); build them separately"):
        check_build_arguments(paths, dataset="d", key="id", data_root=tmp_path / "data")
    done = rodata_cli("build", *paths, "--dataset", "d", "--key", "id", "--data-root", tmp_path / "data")
    assert done.returncode == 3 and "inputs mix formats (csv, jsonl)" in done.stderr


def test_standard_input_takes_its_place_once_spooled(tmp_path: Path) -> None:
    first, last = write(tmp_path, "a.csv", "id\n1\n"), write(tmp_path, "c.csv", "id\n3\n")
    checked = check_build_arguments([first, "-", last], dataset="d", key="id", data_root=tmp_path, cli=True)
    assert checked.reads_stdin and [s.index for s in checked.sources] == [0, 1]
    spooled = write(tmp_path, "stdin.csv", "id\n2\n")
    full = checked.with_stdin(str(spooled))
    assert not full.reads_stdin
    assert [(s.index, Path(s.path).name) for s in full.sources] == [(0, "a.csv"), (1, "stdin.csv"), (2, "c.csv")]
    assert full.inputs == (str(first), str(spooled), str(last))
    # Without cli, "-" is a file name like any other.
    with pytest.raises(FileNotFoundError, match="no such input file: -"):
        check_build_arguments(["-"], dataset="d", key="id", data_root=tmp_path)


_COUNTED_BUILD = """
import sys
import rodata.etl.sources as sources

real, calls = sources.detect_sources, []

def counted(paths, format=None):
    calls.append(list(paths))
    return real(paths, format)

sources.detect_sources = counted
from rodata.cli import main

status = main(["build", *sys.argv[1:]])
print(status, len(calls))
"""


def test_a_build_describes_its_inputs_once(tmp_path: Path) -> None:
    path = write(tmp_path, "in.csv", "id,v\n1,a\n2,b\n")
    done = subprocess.run([sys.executable, "-c", _COUNTED_BUILD, str(path), "--dataset", "d", "--key", "id",
                           "--data-root", str(tmp_path / "data")], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(ROOT / "src")})
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "0 1"  # built, and the input described once
