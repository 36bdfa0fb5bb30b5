"""``rodata.manifest``: every field of a manifest is checked, whoever wrote it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import rodata
from rodata.manifest import Manifest, parse_manifest
from rodata.store import read_manifest


@pytest.fixture
def manifest_doc(data_root: Path) -> tuple[Path, dict[str, Any]]:
    """(version dir, manifest document) of a published three-part version."""
    v = rodata.write(data_root, "d", {"k": np.arange(300), "s": [str(i) for i in range(300)]}, key="k",
                     rows_per_part=100)
    return v.path, json.loads((v.path / "manifest.json").read_text())


def parse(path: Path, doc: dict[str, Any]) -> Manifest:
    return parse_manifest(json.dumps(doc).encode(), source=str(path / "manifest.json"), version=path.name)


def test_a_written_manifest_parses_to_the_same_document(manifest_doc: tuple[Path, dict[str, Any]]) -> None:
    path, doc = manifest_doc
    typed = read_manifest(path)
    assert typed.to_json() == doc
    assert typed.rows == 300 and [p.min_key for p in typed.parts] == [0, 100, 200]
    assert typed.schema.key == "k" and typed.version == path.name


def _set(doc: dict[str, Any], dotted: str, value: Any) -> dict[str, Any]:
    doc = json.loads(json.dumps(doc))
    target: Any = doc
    *parents, last = dotted.split(".")
    for p in parents:
        target = target[int(p)] if p.isdigit() else target[p]
    if value is _DELETE:
        del target[int(last) if last.isdigit() else last]
    else:
        target[int(last) if last.isdigit() else last] = value
    return doc


_DELETE = object()


@pytest.mark.parametrize(("field", "value", "message"), [
    ("version", 12, "field 'version' is int"),
    ("version", "v000001-00000000", "names version 'v000001-00000000', but lies in directory"),
    ("version", "latest", "is not a version name"),
    ("parts", [], "lists no parts"),
    ("parts.0.fingerprint", _DELETE, "no 'fingerprint' field"),
    ("parts.0.fingerprint", "XYZ", "is not 16 lowercase hex digits"),
    ("parts.1.min_key", 50, "not in ascending, disjoint key order"),
    ("parts.0.rows", True, "field 'rows' is bool"),
    ("parts.0.rows", -1, "out of range"),
    ("parts.0.file", "../../etc/passwd", "is not a part file name"),
    ("parts.1.file", "part-00000.seg", "lists a part file twice"),
    ("parts.0.min_key", "0", "is not an int64 key"),
    ("parts.0.max_key", 2**63, "is not an int64 key"),
    ("rows", 299, "the parts hold 300"),
    ("rows", 1e999, "number is infinity"),
    ("bytes", 1, "the parts hold"),
    ("schema.0.dim", 1e999, "number is infinity"),
    ("schema.1.type", "vector[1e999]", "unknown column type"),
    ("schema.1.type", "str", "is not a canonical name"),
    ("schema.0.nullable", "no", "bad schema entry"),
    ("key", "s", "min_key 0 is not a string key"),
    ("key", "nope", "is not among the columns"),
    ("format_version", [2, 0], "is not [1, minor]"),
    ("format", "rodata-manifest/2", "not a rodata-manifest/1 manifest"),
    ("created_at", None, "field 'created_at' is NoneType"),
    ("build", [], "field 'build' is list"),
])
def test_bad_fields_are_format_errors(manifest_doc: tuple[Path, dict[str, Any]], field: str, value: Any,
                                      message: str) -> None:
    path, doc = manifest_doc
    if field == "parts.1.min_key":
        doc = _set(doc, "parts.0.max_key", 150)
    raw = json.dumps(_set(doc, field, value), allow_nan=True).replace("Infinity", "1e999").encode()
    with pytest.raises(rodata.FormatError, match=r"manifest\.json") as info:
        parse_manifest(raw, source=str(path / "manifest.json"), version=path.name)
    assert message in str(info.value)


def test_not_json_and_not_an_object(manifest_doc: tuple[Path, dict[str, Any]]) -> None:
    path, _ = manifest_doc
    for raw in (b"{", b"[1, 2]", b"\xff\xfe", b"[" * 5000):
        with pytest.raises(rodata.FormatError):
            parse_manifest(raw, source="m", version=path.name)


def test_oversized_manifest_is_refused_before_parsing(manifest_doc: tuple[Path, dict[str, Any]]) -> None:
    path, _ = manifest_doc
    (path / "manifest.json").write_bytes(b" " * (8 * 1024 * 1024 + 1))
    with pytest.raises(rodata.FormatError, match="larger than"):
        read_manifest(path)


def test_a_part_from_another_dataset_is_refused(data_root: Path) -> None:
    a = rodata.write(data_root, "a", {"k": np.arange(10), "x": np.arange(10)}, key="k")
    b = rodata.write(data_root, "b", {"k": np.arange(10), "x": np.arange(10) * 2}, key="k")
    (a.path / "part-00000.seg").write_bytes((b.path / "part-00000.seg").read_bytes())
    with pytest.raises(rodata.FormatError, match="fingerprint differs"):
        rodata.open(data_root / "a")


def test_key_ranges_must_match_the_parts(manifest_doc: tuple[Path, dict[str, Any]]) -> None:
    path, doc = manifest_doc
    (path / "manifest.json").write_text(json.dumps(_set(doc, "parts.0.max_key", 98)))
    with pytest.raises(rodata.FormatError, match="key range differs"):
        rodata.open(path)
