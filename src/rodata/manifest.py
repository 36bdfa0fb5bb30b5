"""The manifest of a version (docs/FORMAT.md, "The manifest"): assembled by a writer from its
parts (:func:`new_manifest`, which :func:`rodata.store.publish` completes), and parsed once into a
typed object by every reader.

Every field is checked here, whoever wrote the file: its type, its range and how it
agrees with the others (rows add up, parts in strictly ascending key order, a
fingerprint for every part, the version named as its directory).  Anything wrong is a
:class:`FormatError` naming the manifest and the field."""

from __future__ import annotations

import datetime as _dt
import platform
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from rodata._core import FORMAT_VERSION
from rodata._version import __version__
from rodata.errors import FormatError, SchemaError
from rodata.schema import Column, Schema, parse_type

__all__ = ["MANIFEST_FORMAT", "MAX_MANIFEST_BYTES", "Manifest", "PartEntry", "check_part_order", "new_manifest",
           "parse_manifest"]

MANIFEST_FORMAT = "rodata-manifest/1"
#: A manifest is parsed with the GIL held: the limit bounds that time for a forged file.
MAX_MANIFEST_BYTES = 8 * 1024 * 1024
PART_FILE_RE = re.compile(r"part-[0-9]{5,}\.seg")
VERSION_RE = re.compile(r"v([0-9]{6,})-([0-9a-f]{8})")
_FINGERPRINT_RE = re.compile(r"[0-9a-f]{16}")
_INT64_MIN, _INT64_MAX = -(1 << 63), (1 << 63) - 1
_MAX_PART_ROWS = 0xFFFFFFFE
_MIN_PART_BYTES = 128  # a header and a trailer


@dataclass(frozen=True)
class PartEntry:
    """One part as the manifest lists it: what a writer records of the segment it wrote
    (rodata._segment.write_segment), and what a reader checks the file against."""

    file: str
    rows: int
    bytes: int
    min_key: int | str | None
    max_key: int | str | None
    fingerprint: str  # 16 lowercase hex digits: the part's directory checksum (FORMAT.md, "Trailer")

    def to_json(self) -> dict[str, Any]:
        return {"file": self.file, "rows": self.rows, "bytes": self.bytes, "min_key": self.min_key,
                "max_key": self.max_key, "fingerprint": self.fingerprint}


@dataclass(frozen=True)
class Manifest:
    """A checked manifest: the schema, the parts in key order, totals and build information."""

    dataset: str
    version: str
    created_at: str
    format_version: tuple[int, int]
    schema: Schema
    rows: int
    bytes: int
    parts: tuple[PartEntry, ...]
    build: Mapping[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        """The key column's name."""
        return self.schema.key

    def to_json(self) -> dict[str, Any]:
        """The document as stored in ``manifest.json``."""
        return {"format": MANIFEST_FORMAT, "format_version": list(self.format_version), "dataset": self.dataset,
                "version": self.version, "created_at": self.created_at, "key": self.key,
                "schema": self.schema.to_json(), "rows": self.rows, "bytes": self.bytes,
                "parts": [p.to_json() for p in self.parts], "build": dict(self.build)}


def check_part_order(parts: Sequence[PartEntry]) -> None:
    """Parts must follow each other in key order without overlapping (empty parts aside)."""
    previous_max: Any = None
    for part in parts:
        if previous_max is not None and part.rows and not previous_max < part.min_key:
            raise FormatError(f"{part.file}: parts overlap in key range")
        if part.rows:
            previous_max = part.max_key


def utc_now() -> str:
    """The current time as an ISO 8601 UTC string (a manifest's ``created_at``)."""
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def new_manifest(schema: Schema, parts: Sequence[PartEntry], *, created_at: str | None = None,
                 build: Mapping[str, Any] | None = None, seconds: float | None = None) -> dict[str, Any]:
    """The manifest document of a new version made of `parts` (written and verified, in key
    order), without the fields that publishing fills in (``format``, ``dataset``, ``version``).
    `build` adds to the build information (this rodata, the host, `seconds` the write took)."""
    check_part_order(parts)
    return {
        "format_version": list(FORMAT_VERSION),
        "created_at": created_at or utc_now(),
        "key": schema.key,
        "schema": schema.to_json(),
        "rows": sum(p.rows for p in parts),
        "bytes": sum(p.bytes for p in parts),
        "parts": [p.to_json() for p in parts],
        "build": {"rodata": __version__, "host": platform.node(), "seconds": seconds, **(build or {})},
    }


def parse_manifest(raw: bytes, *, source: str, version: str | None = None) -> Manifest:
    """The :class:`Manifest` in `raw` (the bytes of ``manifest.json``).

    `source` names the file in errors; `version`, when given, is the name of the
    directory the manifest was read from, which its ``version`` field must equal."""
    if len(raw) > MAX_MANIFEST_BYTES:
        raise FormatError(f"{source}: larger than {MAX_MANIFEST_BYTES} bytes")
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise FormatError(f"{source}: not valid JSON: {exc}") from None
    return _Checker(source).manifest(doc, version)


class _Checker:
    """Field checks that name the manifest and the field in their errors."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, what: str) -> FormatError:
        return FormatError(f"{self.source}: {what}")

    def get(self, doc: Mapping[str, Any], name: str, kind: type | tuple[type, ...]) -> Any:
        if name not in doc:
            raise self.fail(f"no {name!r} field")
        value = doc[name]
        # bool is an int to isinstance; no field of a manifest is both.
        if not isinstance(value, kind) or (isinstance(value, bool) and kind is int):
            raise self.fail(f"field {name!r} is {type(value).__name__} {value!r:.80}, not {_kind_name(kind)}")
        return value

    def count(self, doc: Mapping[str, Any], name: str, limit: int = _INT64_MAX) -> int:
        value: int = self.get(doc, name, int)
        if not 0 <= value <= limit:
            raise self.fail(f"field {name!r} = {value} is out of range (0 to {limit})")
        return value

    def manifest(self, doc: Any, version: str | None) -> Manifest:
        if not isinstance(doc, dict):
            raise self.fail("not a JSON object")
        if doc.get("format") != MANIFEST_FORMAT:
            raise self.fail(f"not a {MANIFEST_FORMAT} manifest (format {doc.get('format')!r:.80})")
        name = self.get(doc, "version", str)
        if not VERSION_RE.fullmatch(name):
            raise self.fail(f"version {name!r:.80} is not a version name (v000012-1a2b3c4d)")
        if version is not None and name != version:
            raise self.fail(f"names version {name!r}, but lies in directory {version!r}")
        schema = self.schema(doc)
        parts = tuple(self.part(p, schema, i) for i, p in enumerate(self.get(doc, "parts", list)))
        if not parts:
            raise self.fail("lists no parts (a version has at least one)")
        self.check_parts(parts)
        rows, nbytes = self.count(doc, "rows"), self.count(doc, "bytes")
        if rows != sum(p.rows for p in parts):
            raise self.fail(f"rows = {rows}, the parts hold {sum(p.rows for p in parts)}")
        if nbytes != sum(p.bytes for p in parts):
            raise self.fail(f"bytes = {nbytes}, the parts hold {sum(p.bytes for p in parts)}")
        return Manifest(
            dataset=self.get(doc, "dataset", str), version=name, created_at=self.get(doc, "created_at", str),
            format_version=self.format_version(doc), schema=schema, rows=rows, bytes=nbytes, parts=parts,
            build=self.get(doc, "build", dict) if "build" in doc else {},
        )

    def format_version(self, doc: Mapping[str, Any]) -> tuple[int, int]:
        fv = self.get(doc, "format_version", list)
        if len(fv) != 2 or any(type(v) is not int for v in fv) or fv[0] != 1 or not 0 <= fv[1] <= 0xFFFF:
            raise self.fail(f"format_version {fv!r:.80} is not [1, minor]")
        return fv[0], fv[1]

    def schema(self, doc: Mapping[str, Any]) -> Schema:
        key = self.get(doc, "key", str)
        columns = []
        for spec in self.get(doc, "schema", list):
            if (not isinstance(spec, dict) or type(spec.get("name")) is not str
                    or type(spec.get("type")) is not str or type(spec.get("nullable")) is not bool):
                raise self.fail(f"bad schema entry {spec!r:.200}")
            try:
                type_, dim = parse_type(spec["type"])
                column = Column(spec["name"], type_, spec["nullable"], dim)
            except SchemaError as exc:
                raise self.fail(f"bad schema entry {spec!r:.200}: {exc}") from None
            if column.type_name != spec["type"]:
                raise self.fail(f"schema entry {spec['name']!r}: type {spec['type']!r:.80} is not a canonical name")
            columns.append(column)
        try:
            return Schema(tuple(columns), key)
        except SchemaError as exc:
            raise self.fail(f"bad schema: {exc}") from None

    def part(self, doc: Any, schema: Schema, i: int) -> PartEntry:
        if not isinstance(doc, dict):
            raise self.fail(f"part {i} is not an object")
        file = self.get(doc, "file", str)
        if not PART_FILE_RE.fullmatch(file):
            raise self.fail(f"part {i}: {file!r:.80} is not a part file name (part-00000.seg)")
        rows, nbytes = self.count(doc, "rows", _MAX_PART_ROWS), self.count(doc, "bytes")
        if nbytes < _MIN_PART_BYTES or nbytes % 64 != 0:
            raise self.fail(f"part {file}: {nbytes} bytes is not a segment's size")
        fingerprint = self.get(doc, "fingerprint", str)
        if not _FINGERPRINT_RE.fullmatch(fingerprint):
            raise self.fail(f"part {file}: fingerprint {fingerprint!r:.80} is not 16 lowercase hex digits")
        lo, hi = self.key(doc, "min_key", schema, file), self.key(doc, "max_key", schema, file)
        if (rows == 0) != (lo is None) or (lo is None) != (hi is None):
            raise self.fail(f"part {file}: min_key and max_key must be set exactly when it has rows")
        if lo is not None and hi is not None and (lo > hi or (rows == 1 and lo != hi)):  # type: ignore[operator]
            raise self.fail(f"part {file}: min_key {lo!r:.80} and max_key {hi!r:.80} do not fit {rows} rows")
        return PartEntry(file, rows, nbytes, lo, hi, fingerprint)

    def key(self, doc: Mapping[str, Any], name: str, schema: Schema, file: str) -> int | str | None:
        if name not in doc:
            raise self.fail(f"part {file}: no {name!r} field")
        value = doc[name]
        if value is None:
            return None
        if schema.key_column.type == "string":
            if type(value) is not str:
                raise self.fail(f"part {file}: {name} {value!r:.80} is not a string key")
            return value
        if type(value) is not int or not _INT64_MIN <= value <= _INT64_MAX:
            raise self.fail(f"part {file}: {name} {value!r:.80} is not an int64 key")
        return value

    def check_parts(self, parts: tuple[PartEntry, ...]) -> None:
        """Part files are distinct; non-empty parts follow each other in strictly ascending key order
        (a reader picks a part by comparing a key with the parts' max_key).  Python orders str by
        code point, which is the UTF-8 byte order the segments use."""
        files = [p.file for p in parts]
        if len(set(files)) != len(files):
            raise self.fail("lists a part file twice")
        previous: PartEntry | None = None
        for part in parts:
            if part.rows == 0:
                continue
            if previous is not None and not previous.max_key < part.min_key:  # type: ignore[operator]
                raise self.fail(f"parts {previous.file} and {part.file} are not in ascending, disjoint key order")
            previous = part


def _kind_name(kind: type | tuple[type, ...]) -> str:
    names = {int: "an integer", str: "a string", list: "a list", dict: "an object"}
    if isinstance(kind, tuple):
        return " or ".join(names.get(k, k.__name__) for k in kind)
    return names.get(kind, kind.__name__)
