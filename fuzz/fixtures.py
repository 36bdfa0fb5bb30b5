"""Deterministic real data: the tables whose segments and manifests seed the fuzzers.

Everything here is written by rodata's own writer, so the seeds are what a real data root
holds; the same call always writes the same segment bytes (only manifests carry a time)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np

import rodata

#: The version directory name the fixtures are moved to, so that seeds and harness agree.
VERSION = "v000001-0000f022"


def every_type(n: int, *, string_key: bool = False, seed: int = 3) -> dict[str, Any]:
    """`n` rows with a column of every type, nulls in the nullable ones, unicode in strings."""
    rng = np.random.default_rng(seed)
    ids = rng.permutation(n * 4)[:n].astype(np.int64) - 2 * n  # negative keys too
    words = ["", "ä", "日本", "emoji-\U0001f600", "tab\tand\nnewline", "plain", "x" * 40]
    return {
        "id": [f"k{int(k):+06d}-{words[i % 6]}" for i, k in enumerate(ids)] if string_key else ids,
        "i8": rng.integers(-128, 128, n).astype(np.int8),
        "u16": rng.integers(0, 2**16, n).astype(np.uint16),
        "i32": [None if i % 4 == 1 else int(v) for i, v in enumerate(rng.integers(-(2**31), 2**31, n))],
        "u64": rng.integers(0, 2**63, n).astype(np.uint64) * np.uint64(2),
        "f32": rng.standard_normal(n).astype(np.float32),
        "f64": [None if i % 3 == 0 else float(v) for i, v in enumerate(rng.standard_normal(n))],
        "flag": rng.integers(0, 2, n).astype(bool),
        "ts": np.datetime64("2024-01-01T00:00:00", "ns") + rng.integers(-(10**15), 10**15, n).astype("m8[ns]"),
        "day": np.datetime64("2000-01-01", "D") + rng.integers(-3000, 3000, n).astype("m8[D]"),
        "name": [None if i % 5 == 2 else f"{words[i % len(words)]}{i}" for i in range(n)],
        "blob": [None if i % 4 == 0 else bytes(rng.integers(0, 256, i % 7).astype(np.uint8)) for i in range(n)],
        "emb": rng.standard_normal((n, 3)).astype(np.float32),
    }


def small_tables() -> list[tuple[str, dict[str, Any], str, dict[str, str] | None, int | None]]:
    """(name, columns, key, declared types, rows per part) of the seed tables."""
    n8 = every_type(8, string_key=True)
    return [
        ("every-int", every_type(12), "id", {"i32": "int32"}, None),
        ("every-str", n8, "id", {"i32": "int32"}, None),
        ("one-row", {"id": np.array([7], dtype=np.int64), "v": ["only"]}, "id", None, None),
        ("empty", {"id": np.array([], dtype=np.int64), "v": np.array([], dtype=np.float64)}, "id", None, None),
        ("wide-index", {"id": np.arange(-40, 60, dtype=np.int64) * 7919, "v": np.arange(100, dtype=np.int16)},
         "id", None, None),
        ("str-keys", {"id": ["", "a", "ab", "b", "\u00e9", "\U0001f600"], "vec": np.ones((6, 2), np.float32),
                      "when": [None, "2024-02-29", "1970-01-01", None, "0001-01-01", "9999-12-31"]},
         "id", {"when": "date"}, None),
        ("parts-int", every_type(9), "id", {"i32": "int32"}, 3),
        ("parts-str", every_type(6, string_key=True, seed=5), "id", {"i32": "int32"}, 2),
    ]


def write_table(root: Path, name: str, columns: dict[str, Any], key: str, schema: dict[str, str] | None,
                rows_per_part: int | None) -> Path:
    """Publish one table under `root` and move its version to the fixed name :data:`VERSION`;
    returns the version directory."""
    version = rodata.write(root, name, columns, key=key, schema=schema, rows_per_part=rows_per_part)
    fixed = root / name / VERSION
    if fixed.exists():
        shutil.rmtree(fixed)
    Path(version.path).rename(fixed)
    manifest_path = fixed / "manifest.json"
    doc = json.loads(manifest_path.read_bytes())
    doc["version"] = VERSION
    doc["created_at"] = "2026-01-01T00:00:00Z"
    doc["build"] = {"source": "rodata.write"}  # no host or timings: the same bytes on every machine
    manifest_path.write_text(json.dumps(doc, indent=1) + "\n")
    (root / name / "CURRENT").write_text(VERSION + "\n")
    history = root / name / "HISTORY"
    if history.exists():
        history.write_text(VERSION + "\n")
    return fixed


def write_all(root: Path) -> dict[str, Path]:
    """Every seed table under `root`: name -> version directory."""
    root.mkdir(parents=True, exist_ok=True)
    return {name: write_table(root, name, cols, key, schema, per_part)
            for name, cols, key, schema, per_part in small_tables()}
