"""Fixtures of the core's tests: a real segment of every column type."""

from __future__ import annotations

from pathlib import Path

import pytest

import rodata
from tests.conftest import sample_columns


@pytest.fixture(scope="module", params=["int", "string"])
def segment(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real segment file with every column type, nulls and unicode (int or string keys)."""
    root = tmp_path_factory.mktemp("segment")
    rodata.write(root, "t", sample_columns(n=40, string_key=request.param == "string"), key="id")
    version = (root / "t" / "CURRENT").read_text().strip()
    return root / "t" / version / "part-00000.seg"
