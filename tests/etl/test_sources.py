"""The inputs of a build described from real files: the format from the name (or --format), gzip
from the name or the content, sizes and order; and what cannot be an input."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from rodata.errors import BadInputError
from rodata.etl.sources import FORMATS, detect_sources, open_bytes, read_head

from .conftest import write


@pytest.mark.parametrize(("name", "fmt", "tab"), [
    ("a.csv", "csv", False), ("a.tsv", "csv", True), ("a.txt", "csv", False), ("A.CSV", "csv", False),
    ("a.jsonl", "jsonl", False), ("a.ndjson", "jsonl", False), ("a.json", "jsonl", False),
    ("a.parquet", "parquet", False), ("a.pq", "parquet", False),
])
def test_the_format_comes_from_the_extension(tmp_path: Path, name: str, fmt: str, tab: bool) -> None:
    path = write(tmp_path, name, "id\n1\n")
    (source,) = detect_sources([path])
    assert (source.format, source.tab_separated, source.compressed) == (fmt, tab, False)
    assert source.path == str(path) and source.size == 5 and source.index == 0
    assert source.splittable == (fmt != "parquet")


def test_format_overrides_the_name(tmp_path: Path) -> None:
    path = write(tmp_path, "export.data", '{"id": 1}\n')
    assert detect_sources([path], "jsonl")[0].format == "jsonl"
    assert detect_sources([write(tmp_path, "b.csv", "id\n")], "jsonl")[0].format == "jsonl"


def test_gzip_by_name_and_by_content(tmp_path: Path) -> None:
    body = gzip.compress(b"id,v\n1,a\n2,b\n")
    named = tmp_path / "a.csv.gz"
    named.write_bytes(body)
    hidden = tmp_path / "b.tsv"  # compressed, but the name does not say so
    hidden.write_bytes(body)
    a, b = detect_sources([named, hidden])
    assert (a.format, a.compressed, a.splittable, a.index) == ("csv", True, False, 0)
    assert (b.format, b.compressed, b.tab_separated, b.index) == ("csv", True, True, 1)
    assert a.size == len(body)
    assert read_head(a, 1 << 20) == (b"id,v\n1,a\n2,b\n", True)  # decompressed
    with open_bytes(b) as fh:
        assert fh.read() == b"id,v\n1,a\n2,b\n"


def test_a_named_gz_that_is_not_gzip_fails_when_read(tmp_path: Path) -> None:
    path = write(tmp_path, "a.jsonl.gz", '{"id": 1}\n')
    (source,) = detect_sources([path])
    assert source.compressed and source.format == "jsonl"
    with pytest.raises(BadInputError, match="corrupt gzip data"):
        read_head(source, 100)


def test_read_head_says_whether_it_read_everything(tmp_path: Path) -> None:
    (source,) = detect_sources([write(tmp_path, "a.csv", "id\n1\n2\n")])
    assert read_head(source, 4) == (b"id\n1", False)
    assert read_head(source, 7) == (b"id\n1\n2\n", True)


def test_inputs_keep_their_order(tmp_path: Path) -> None:
    paths = [write(tmp_path, f"{name}.csv", "id\n") for name in ("c", "a", "b")]
    assert [(s.index, Path(s.path).name) for s in detect_sources(paths)] == [(0, "c.csv"), (1, "a.csv"), (2, "b.csv")]


def test_mixed_formats_are_described_as_they_are(tmp_path: Path) -> None:
    # Describing does not judge: a build refuses the mix (tests/etl/test_arguments.py).
    sources = detect_sources([write(tmp_path, "a.csv", "id\n"), write(tmp_path, "b.jsonl", "{}\n")])
    assert [s.format for s in sources] == ["csv", "jsonl"]


def test_unknown_extension_needs_a_format(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"a\.data: cannot tell the format from the name; give --format"):
        detect_sources([write(tmp_path, "a.data", "id\n")])


def test_unknown_format_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown format 'xml': expected one of csv, jsonl, parquet"):
        detect_sources([write(tmp_path, "a.csv", "id\n")], "xml")
    assert FORMATS == ("csv", "jsonl", "parquet")


def test_gzip_parquet_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "a.parquet.gz"
    path.write_bytes(gzip.compress(b"PAR1"))
    with pytest.raises(ValueError, match="gzip-compressed Parquet file is not supported"):
        detect_sources([path])


def test_a_missing_file_and_a_directory_are_no_inputs(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"missing\.csv"):
        detect_sources([tmp_path / "missing.csv"])
    with pytest.raises(FileNotFoundError):  # a pattern is the shell's to expand, not a name
        detect_sources([tmp_path / "*.csv"])
    folder = tmp_path / "inputs.csv"
    folder.mkdir()
    with pytest.raises(IsADirectoryError, match="not a file"):
        detect_sources([folder])
