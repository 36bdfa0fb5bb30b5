"""Helpers of the ETL tests: input files on disk, the CLI as a subprocess, reading a dataset back."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import rodata

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """An empty data root."""
    path = tmp_path / "data"
    path.mkdir()
    return path


def write(directory: Path, name: str, content: str | bytes) -> Path:
    """A file with `content` (text is written as UTF-8, byte for byte: no newline translation)."""
    path = directory / name
    path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    return path


def rodata_cli(*args: str | os.PathLike[str], cwd: Path | None = None, timeout: float = 120,
               input: str | None = None) -> subprocess.CompletedProcess[str]:
    """``python -m rodata ARGS`` as a subprocess (stdout and stderr captured as text; `input` on
    its standard input)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT / "src") + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.run([sys.executable, "-m", "rodata", *map(str, args)], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout, input=input)


def all_rows(path: Path | str) -> list[dict[str, Any]]:
    """Every row of a dataset in key order, as dicts."""
    with rodata.open(path) as ds:
        return [row for batch in ds.scan() for row in batch.to_pylist()]  # type: ignore[misc]


def segment_bytes(version_dir: Path | str) -> list[bytes]:
    """The content of each part file of a version, in order."""
    return [p.read_bytes() for p in sorted(Path(version_dir).glob("part-*.seg"))]
