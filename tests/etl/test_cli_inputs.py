"""``rodata build`` command-line inputs: help, ``-`` (standard input), ``--delimiter``, and the
words said when the format or the separator looks wrong."""

from __future__ import annotations

import json
from pathlib import Path

from .conftest import all_rows, rodata_cli, write

CSV = "id,name\n2,b\n1,a\n"
JSONL = '{"id": 2, "name": "b"}\n{"id": 1, "name": "a"}\n'
ROWS = [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}]


def build(root: Path, *args: str | Path, input: str | None = None, cwd: Path | None = None):
    return rodata_cli("build", *args, "--dataset", "d", "--key", "id", "--data-root", root, input=input, cwd=cwd)


def test_build_help_teaches() -> None:
    proc = rodata_cli("build", "--help")
    assert proc.returncode == 0
    out = proc.stdout
    assert "examples:" in out and "rodata build - " in out and "--delimiter ';'" in out
    assert "INPUT" in out and "- reads standard input" in " ".join(out.split())
    assert "(default: 3)" in out and "(default: error)" in out  # defaults shown
    assert "$RODATA_DATA_ROOT" in out
    for placeholder in ("NAME", "COLUMN", "DIR", "FILE", "SIZE"):
        assert placeholder in out
    assert "KEEP_VERSIONS" not in out and "MAX_BAD_ROWS" not in out  # readable placeholders


def test_stdin_csv_is_told_from_the_content(root: Path) -> None:
    proc = build(root, "-", "--json", input=CSV)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["inputs"] == ["-"]
    assert all_rows(root / "d") == ROWS
    assert [p.name for p in (root / "d").iterdir() if p.name.startswith(".staging")] == []  # spool removed


def test_stdin_jsonl_is_told_from_the_content(root: Path) -> None:
    proc = build(root, "-", input=JSONL)
    assert proc.returncode == 0, proc.stderr
    assert all_rows(root / "d") == ROWS


def test_stdin_with_a_file_and_many_workers(tmp_path: Path, root: Path) -> None:
    # Big enough for worker processes and byte ranges: the spooled file is read like any other.
    body = "".join(f"{i},n{i}\n" for i in range(3, 60000))
    other = write(tmp_path, "more.csv", "id,name\n" + body)
    proc = build(root, "-", other, "--workers", "2", "--chunk-size", "64K", input=CSV)
    assert proc.returncode == 0, proc.stderr
    rows = all_rows(root / "d")
    assert len(rows) == 59999 and rows[:2] == ROWS and rows[-1] == {"id": 59999, "name": "n59999"}


def test_stdin_errors_name_standard_input(root: Path) -> None:
    proc = build(root, "-", input="id,name\n1,a\n1,b\n")
    assert proc.returncode == 3
    assert "<stdin>:2" in proc.stderr and "<stdin>:3" in proc.stderr and ".staging" not in proc.stderr


def test_stdin_format_given(root: Path) -> None:
    proc = build(root, "-", "--format", "jsonl", input=JSONL)
    assert proc.returncode == 0, proc.stderr


def test_stdin_twice_or_as_parquet_is_a_usage_error(root: Path) -> None:
    assert build(root, "-", "-", input=CSV).returncode == 2
    proc = build(root, "-", "--format", "parquet", input=CSV)
    assert proc.returncode == 2 and "Parquet" in proc.stderr


def test_delimiter_semicolon(tmp_path: Path, root: Path) -> None:
    path = write(tmp_path, "in.csv", CSV.replace(",", ";"))
    proc = build(root, path, "--delimiter", ";")
    assert proc.returncode == 0, proc.stderr
    assert all_rows(root / "d") == ROWS


def test_delimiter_tab_as_typed(tmp_path: Path, root: Path) -> None:
    path = write(tmp_path, "in.csv", CSV.replace(",", "\t"))
    proc = build(root, path, "--delimiter", "\\t")
    assert proc.returncode == 0, proc.stderr
    assert all_rows(root / "d") == ROWS


def test_delimiter_must_be_one_character(tmp_path: Path, root: Path) -> None:
    path = write(tmp_path, "in.csv", CSV)
    proc = build(root, path, "--delimiter", ";;")
    assert proc.returncode == 2 and "--delimiter" in proc.stderr


def test_semicolon_header_suggests_the_delimiter(tmp_path: Path, root: Path) -> None:
    path = write(tmp_path, "in.csv", CSV.replace(",", ";"))
    proc = build(root, path)
    assert proc.returncode == 3
    assert "semicolon-separated" in proc.stderr and "--delimiter ';'" in proc.stderr


def test_tab_header_suggests_the_delimiter(tmp_path: Path, root: Path) -> None:
    path = write(tmp_path, "in.csv", CSV.replace(",", "\t"))
    proc = build(root, path)
    assert proc.returncode == 3
    assert "tab-separated" in proc.stderr and "--delimiter" in proc.stderr


def test_jsonl_format_on_a_csv_says_it_looks_like_csv(tmp_path: Path, root: Path) -> None:
    path = write(tmp_path, "in.csv", CSV)
    proc = build(root, path, "--format", "jsonl")
    assert proc.returncode == 3
    assert "looks like CSV" in proc.stderr and "--format csv" in proc.stderr
    assert "columns are: \n" not in proc.stderr


def test_csv_format_on_jsonl_says_it_looks_like_jsonl(tmp_path: Path, root: Path) -> None:
    path = write(tmp_path, "in.jsonl", JSONL)
    proc = build(root, path, "--format", "csv")
    assert proc.returncode == 3
    assert "looks like JSON Lines" in proc.stderr and "--format jsonl" in proc.stderr


def _build_with_schema(tmp_path: Path, root: Path, schema: str, name: str = "s.toml"):
    path = write(tmp_path, "in.csv", CSV)
    return build(root, path, "--schema", write(tmp_path, name, schema))


def test_misspelt_schema_section_says_did_you_mean(tmp_path: Path, root: Path) -> None:
    proc = _build_with_schema(tmp_path, root, '[colums]\nid = "int64"\n')
    assert proc.returncode == 3
    assert "unknown section 'colums'; did you mean 'columns'?" in proc.stderr
    assert not (root / "d" / "CURRENT").exists()


def test_misspelt_top_level_key_says_did_you_mean(tmp_path: Path, root: Path) -> None:
    proc = _build_with_schema(tmp_path, root, 'delimeter = ","\n[columns]\nid = "int64"\n')
    assert proc.returncode == 3 and "'delimeter' -> 'delimiter'" in proc.stderr


def test_misspelt_column_key_says_did_you_mean(tmp_path: Path, root: Path) -> None:
    proc = _build_with_schema(tmp_path, root, '{"columns": {"id": {"tpye": "int64"}}}', "s.json")
    assert proc.returncode == 3 and "'tpye' -> 'type'" in proc.stderr


def test_bare_columns_mapping_still_reads(tmp_path: Path, root: Path) -> None:
    proc = _build_with_schema(tmp_path, root, '{"id": "int64", "name": "string"}', "s.json")
    assert proc.returncode == 0, proc.stderr


def test_misspelt_key_says_did_you_mean(tmp_path: Path, root: Path) -> None:
    path = write(tmp_path, "in.csv", "user_id,name\n1,a\n")
    proc = rodata_cli("build", path, "--dataset", "d", "--key", "userid", "--data-root", root)
    assert proc.returncode == 3 and "no key column 'userid' (did you mean 'user_id'?)" in proc.stderr


def test_misspelt_schema_column_says_did_you_mean(tmp_path: Path, root: Path) -> None:
    proc = _build_with_schema(tmp_path, root, '[columns]\nnmae = "string"\n')
    assert proc.returncode == 3 and "did you mean 'nmae' -> 'name'?" in proc.stderr
