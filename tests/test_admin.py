"""``rodata inspect | verify | get | versions | rollback`` on real data roots."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pytest

import rodata
from rodata.cli import main
from tests.etl.conftest import rodata_cli


@pytest.fixture
def built(tmp_path: Path) -> Path:
    """A data root with dataset "d": three versions, the last live."""
    root = tmp_path / "data"
    for rows in (1, 2, 3):
        rodata.write(root, "d", {
            "id": np.arange(rows, dtype=np.int64),
            "name": [f"n{i}" for i in range(rows)],
            "emb": np.ones((rows, 2), dtype=np.float32),
            "blob": [b"\x00\xff"] * rows,
            "at": np.array(["2024-01-02T03:04:05"] * rows, dtype="datetime64[ns]"),
            "score": [None] + [1.5] * (rows - 1),
        }, key="id", schema={"score": {"type": "float64", "nullable": True}})
    return root


def test_get_prints_the_row_as_json(built: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["get", "--data-root", str(built), "d", "2"]) == 0
    row = json.loads(capsys.readouterr().out)
    assert row == {"id": 2, "name": "n2", "emb": [1.0, 1.0], "blob": "AP8=", "at": "2024-01-02T03:04:05Z",
                   "score": 1.5}
    assert main(["get", "--data-root", str(built), "d", "0", "--columns", "score,name"]) == 0
    assert json.loads(capsys.readouterr().out) == {"score": None, "name": "n0"}


def test_get_errors(built: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["get", "--data-root", str(built), "d", "99"]) == 1
    assert "key '99' not found in d" in capsys.readouterr().err
    assert main(["get", "--data-root", str(built), "d", "abc"]) == 2
    assert "not an integer" in capsys.readouterr().err
    assert main(["get", "--data-root", str(built), "d", "1", "--columns", "nme"]) == 2  # a usage mistake
    assert "unknown column 'nme'" in (err := capsys.readouterr().err) and "did you mean 'name'?" in err
    assert main(["get", "--data-root", str(built), "missing", "1"]) == 2
    assert "no dataset 'missing'" in capsys.readouterr().err


def test_versions_and_rollback(built: Path, capsys: pytest.CaptureFixture[str]) -> None:
    names = rodata.list_versions(built / "d")
    assert main(["versions", "--data-root", str(built), "d", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [v["version"] for v in doc["versions"]] == names
    assert [v["live"] for v in doc["versions"]] == [False, False, True]
    assert [v["rows"] for v in doc["versions"]] == [1, 2, 3]
    assert main(["rollback", "--data-root", str(built), "d"]) == 0
    assert f"{names[1]} is live" in capsys.readouterr().out
    with rodata.open(built / "d") as ds:
        assert len(ds) == 2
    assert main(["rollback", "--data-root", str(built), "d", names[2]]) == 0
    capsys.readouterr()
    assert main(["versions", "--data-root", str(built), "d"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[2].startswith(f"* {names[2]}") and lines[0].startswith(f"  {names[0]}")
    assert main(["rollback", "--data-root", str(built), "d", "v999999-00000000"]) == 2
    assert "no version 'v999999-00000000'" in capsys.readouterr().err
    assert main(["rollback", "--data-root", str(built / "nosuch"), "d"]) == 2
    assert "no such data root" in capsys.readouterr().err


def test_inspect_dataset_version_and_segment(built: Path, capsys: pytest.CaptureFixture[str]) -> None:
    live = (built / "d" / "CURRENT").read_text().strip()
    assert main(["inspect", str(built / "d"), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert (doc["kind"], doc["version"], doc["rows"], doc["key"]) == ("dataset", live, 3, "id")
    assert [c["name"] for c in doc["columns"]] == ["id", "name", "emb", "blob", "at", "score"]
    assert doc["parts"][0]["rows"] == 3
    assert main(["inspect", str(built / "d" / live)]) == 0
    text = capsys.readouterr().out
    assert "rows: 3" in text and "emb" in text and "vector[2]" in text
    seg = next((built / "d" / live).glob("part-*.seg"))
    assert main(["inspect", str(seg), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["kind"] == "segment" and doc["rows"] == 3
    assert {s["kind"] for s in doc["sections"]} >= {"schema", "data", "index"}
    assert main(["inspect", str(built)]) == 1


def test_verify_clean_and_corrupt(built: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["verify", str(built / "d"), "--all"]) == 0
    assert capsys.readouterr().out.count("ok: ") == 3
    live = (built / "d" / "CURRENT").read_text().strip()
    seg = next((built / "d" / live).glob("part-*.seg"))
    data = bytearray(seg.read_bytes())
    data[200] ^= 0xFF
    seg.write_bytes(bytes(data))
    assert main(["verify", str(built / "d")]) == 1
    assert "rodata: error:" in capsys.readouterr().err


def test_cli_subprocess_round_trip(tmp_path: Path) -> None:
    csv_path = tmp_path / "in.csv"
    csv_path.write_text('id,city\n10,"Zürich, CH"\n20,Oslo\n')
    root = tmp_path / "data"
    assert rodata_cli("build", csv_path, "--dataset", "c", "--key", "id", "--data-root", root).returncode == 0
    proc = rodata_cli("get", "--data-root", root, "c", "10")
    assert proc.returncode == 0
    assert json.loads(proc.stdout) == {"id": 10, "city": "Zürich, CH"}
    proc = rodata_cli("verify", root / "c")
    assert proc.returncode == 0 and proc.stdout.startswith("ok: ")
    proc = rodata_cli("versions", "--data-root", root, "../etc")
    assert proc.returncode == 2


def test_verify_deep_refuses_what_checksums_pass(tmp_path: Path) -> None:
    from rodata._core import Segment
    from tests.core.segfile import directory, reseal

    root = tmp_path / "data"
    v = rodata.write(root, "d", {"id": np.arange(20), "s": [f"v{i}" for i in range(20)]}, key="id")
    seg = v.path / "part-00000.seg"
    proc = rodata_cli("verify", "--deep", root / "d")
    assert proc.returncode == 0 and "deep-validated" in proc.stdout
    buf = bytearray(seg.read_bytes())
    _, entries = directory(buf)
    text = next(e for e in entries if e.kind == 3 and e.column == 1)
    buf[text.offset + 1] = 0xC3  # a lone lead byte: invalid UTF-8, re-sealed so every checksum passes
    seg.write_bytes(bytes(reseal(buf)))
    doc = json.loads((v.path / "manifest.json").read_text())
    doc["parts"][0]["fingerprint"] = f"{Segment(seg).fingerprint:016x}"
    (v.path / "manifest.json").write_text(json.dumps(doc))
    assert rodata_cli("verify", root / "d").returncode == 0
    proc = rodata_cli("verify", "--deep", root / "d")
    assert proc.returncode == 1
    assert f"part-00000.seg: data of column 's' at offset {text.offset + 1}: invalid UTF-8" in proc.stderr


def test_every_data_root_command_reads_the_environment(built: Path, monkeypatch: pytest.MonkeyPatch,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("RODATA_DATA_ROOT", str(built))
    for argv in (["ls"], ["get", "d", "1"], ["versions", "d"], ["inspect", "d"], ["verify", "d"],
                 ["verify", "--deep", "--all", "d"]):
        assert main(argv) == 0, argv
    out = capsys.readouterr().out
    assert "ok: " in out and '"id":1' in out
    monkeypatch.delenv("RODATA_DATA_ROOT")
    assert main(["get", "d", "1"]) == 2
    assert "--data-root DIR is required (or set RODATA_DATA_ROOT)" in capsys.readouterr().err
    assert main(["inspect", "d"]) == 2
    assert "to name a dataset, give --data-root" in capsys.readouterr().err


def test_ls_lists_every_dataset(built: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rodata.write(built, "other", {"k": np.arange(5)}, key="k")
    (built / "broken").mkdir()
    (built / "broken" / "CURRENT").write_text("garbage\n")
    assert main(["ls", "--data-root", str(built), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    by_name = {d["dataset"]: d for d in doc["datasets"]}
    assert sorted(by_name) == ["broken", "d", "other"]
    assert by_name["d"]["rows"] == 3 and by_name["d"]["version"] == (built / "d" / "CURRENT").read_text().strip()
    assert by_name["other"]["bytes"] > 0 and by_name["other"]["created_at"].endswith("+00:00")
    assert "not a version name" in by_name["broken"]["error"]
    assert main(["ls", "--data-root", str(built)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["DATASET", "VERSION", "ROWS", "BYTES", "PUBLISHED"]
    assert any(line.startswith("other ") and " 5 " in line for line in lines)


def test_verify_all_reports_every_version(built: Path, capsys: pytest.CaptureFixture[str]) -> None:
    first = rodata.list_versions(built / "d")[0]
    seg = next((built / "d" / first).glob("part-*.seg"))
    data = bytearray(seg.read_bytes())
    data[200] ^= 0xFF
    seg.write_bytes(bytes(data))
    assert main(["verify", "--all", str(built / "d")]) == 1
    captured = capsys.readouterr()
    assert captured.out.count("ok: ") == 2 and captured.out.count("FAULT: ") == 1
    assert first in captured.out.split("FAULT: ")[1] and "checksum mismatch" in captured.out
    assert "1 of 3 versions have a fault" in captured.err


def test_os_errors_are_one_line_with_what_to_do(built: Path, monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    import errno

    import rodata.admin

    def read_only(*_: object) -> list[str]:
        raise OSError(errno.EROFS, "Read-only file system", str(built / "d" / ".lock"))

    monkeypatch.setattr(rodata.admin, "list_datasets", read_only)
    assert main(["ls", "--data-root", str(built)]) == 1
    err = capsys.readouterr().err.strip()
    assert err == f"rodata: error: {built / 'd' / '.lock'}: Read-only file system: write to a writable volume"


def test_help_teaches(capsys: pytest.CaptureFixture[str]) -> None:
    import re

    from rodata.cli import build_parser

    parser = build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices
    assert set(commands) >= {"build", "infer", "serve", "demo", "ls", "inspect", "verify", "get", "versions",
                             "rollback"}
    for command in commands:
        with pytest.raises(SystemExit):
            main([command, "--help"])
        text = capsys.readouterr().out
        assert re.search(r"\n\n\S.{40,}", text), f"{command}: no description"
        assert f"examples:\n  rodata {command}" in text or "examples:\n  RODATA_" in text, command
        # Readable placeholders: no argparse default like POLL_INTERVAL made from a flag's name.
        assert not re.search(r"--[a-z-]+ [A-Z]+_[A-Z_]+", text), f"{command}: {text}"
        if command not in ("demo", "infer"):
            assert "$RODATA_DATA_ROOT" in text or "RODATA_DATA_ROOT" in text, command
    with pytest.raises(SystemExit):
        main(["rolback"])
    assert "did you mean 'rollback'?" in capsys.readouterr().err


def test_inspect_of_a_file_that_is_not_a_segment_says_so(tmp_path: Path) -> None:
    other = tmp_path / "notes.txt"
    other.write_bytes(b"just some text, " * 20)
    proc = rodata_cli("inspect", other)
    assert proc.returncode == 1
    assert proc.stderr.strip() == f"rodata: error: {other}: header at offset 0: bad magic: not a rodata segment"
