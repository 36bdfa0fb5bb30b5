"""A build never replaces data with nothing by accident: CR-only line endings are refused, and a
build that yields no rows from input that held some (or over a live version that has some) is
bad input, exit 3, with the live version untouched."""

from __future__ import annotations

from pathlib import Path

import pytest

import rodata
from rodata.errors import BadInputError

from .conftest import all_rows, rodata_cli, write


def live(tmp_path: Path, root: Path) -> str:
    return rodata.build(write(tmp_path, "old.csv", "id,v\n1,old\n2,old\n"), dataset="d", key="id",
                        data_root=root).version


def current(root: Path) -> str:
    return (root / "d" / "CURRENT").read_text().strip()


@pytest.mark.parametrize("content", [b"id,v\r1,a\r2,b\r", b"id,v\r1,a\r2,b", b'"id","v"\r1,a\r'])
def test_cr_only_line_endings_are_refused(tmp_path: Path, root: Path, content: bytes) -> None:
    version = live(tmp_path, root)
    path = write(tmp_path, "mac.csv", content)
    proc = rodata_cli("build", path, "--dataset", "d", "--key", "id", "--data-root", root)
    assert proc.returncode == 3, proc.stderr
    column = content.index(b"\r") + 1
    assert proc.stderr == (f"rodata: error: {path}:1:{column}: the header holds a carriage return (CR) that no line "
                           "feed follows: CR-only line endings are not supported; convert the file to LF or CRLF "
                           "line endings\n")
    assert current(root) == version
    assert all_rows(root / "d") == [{"id": 1, "v": "old"}, {"id": 2, "v": "old"}]


def test_cr_only_line_endings_are_refused_with_no_live_version(tmp_path: Path, root: Path) -> None:
    with pytest.raises(BadInputError, match="CR-only line endings"):
        rodata.build(write(tmp_path, "mac.csv", b"id,v\r1,a\r"), dataset="d", key="id", data_root=root)
    assert not (root / "d" / "CURRENT").exists()


def test_crlf_inside_a_quoted_header_name_is_not_cr_only(tmp_path: Path, root: Path) -> None:
    rodata.build(write(tmp_path, "in.csv", b'id,"two\r\nlines"\r\n1,a\r\n'), dataset="d", key="id", data_root=root)
    assert all_rows(root / "d") == [{"id": 1, "two__lines": "a"}]  # control characters in names become _


def test_every_record_rejected_publishes_nothing(tmp_path: Path, root: Path) -> None:
    version = live(tmp_path, root)
    path = write(tmp_path, "in.csv", "id,v\n1\n2,b,c\n")
    rejects = tmp_path / "rejects.jsonl"
    proc = rodata_cli("build", path, "--dataset", "d", "--key", "id", "--data-root", root, "--max-bad-rows", "5",
                      "--rejects", rejects)
    assert proc.returncode == 3, proc.stderr
    assert proc.stderr == (f"rodata: error: {path}: no rows to publish: all 2 records were rejected "
                           f"(see {rejects})\n")
    assert len(rejects.read_text().splitlines()) == 2
    assert current(root) == version


def test_no_records_over_a_live_version_with_rows_is_refused(tmp_path: Path, root: Path) -> None:
    version = live(tmp_path, root)
    path = write(tmp_path, "in.csv", "id,v\n\n")
    proc = rodata_cli("build", path, "--dataset", "d", "--key", "id", "--data-root", root)
    assert proc.returncode == 3, proc.stderr
    assert proc.stderr == (f"rodata: error: {path}: no rows to publish: the input holds no records, and the live "
                           f"version {version} has 2 rows (pass --allow-shrink if this is meant)\n")
    assert current(root) == version
    # With no records the key is inferred as a string: each flag opens only its own guard.
    proc = rodata_cli("build", path, "--dataset", "d", "--key", "id", "--data-root", root, "--allow-shrink")
    assert proc.returncode == 3 and "column 'id' changed type from int64 to string" in proc.stderr
    assert current(root) == version
    proc = rodata_cli("build", path, "--dataset", "d", "--key", "id", "--data-root", root, "--allow-shrink",
                      "--allow-schema-change")
    assert proc.returncode == 0, proc.stderr  # meant: the empty version goes live
    assert current(root) != version


def test_no_records_and_no_rows_live_publishes_an_empty_version(tmp_path: Path, root: Path) -> None:
    first = rodata.build(write(tmp_path, "a.jsonl", b"\n"), dataset="d", key="id", data_root=root,
                         schema={"id": "int64"})
    second = rodata.build(write(tmp_path, "b.jsonl", b"  \n"), dataset="d", key="id", data_root=root,
                          schema={"id": "int64"})
    assert (first.rows_out, second.rows_out) == (0, 0)
    assert current(root) == second.version
