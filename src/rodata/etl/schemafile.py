"""The ``--schema FILE`` of a build: column types, nullability, renames and drops.

A JSON or TOML document (docs/etl.md)::

    null_values = ["", "NA"]          # optional: the texts read as null (CSV)
    delimiter = ","                   # optional (CSV)
    [columns]
    id = "int64"                      # just a type
    price = { type = "float32", nullable = true }
    old_name = { rename = "new_name" }
    notes = { drop = true }

Columns it does not name are inferred from the data."""

from __future__ import annotations

import difflib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rodata.errors import SchemaError
from rodata.schema import parse_type

__all__ = ["DEFAULT_NULL_VALUES", "ColumnSpec", "SchemaFile", "load_schema", "schema_from_mapping"]

#: Texts read as null in CSV unless the schema file says otherwise.
DEFAULT_NULL_VALUES = ("", "NA", "N/A", "NULL", "null", "NaN", "nan")
_TOP_KEYS = {"columns", "null_values", "delimiter", "quote"}
_COLUMN_KEYS = {"type", "nullable", "rename", "drop"}


@dataclass(frozen=True)
class ColumnSpec:
    """What the schema file says about one input column (named as in the input)."""

    source: str
    type: str | None = None  # a type name as written ("int32", "vector[8]"); None: infer it
    nullable: bool | None = None  # None: nullable when the data holds nulls
    rename: str | None = None
    drop: bool = False

    @property
    def name(self) -> str:
        """The column's name in the dataset."""
        return self.rename or self.source


@dataclass(frozen=True)
class SchemaFile:
    """A parsed schema file (or the empty one: infer everything)."""

    columns: dict[str, ColumnSpec] = field(default_factory=dict)
    null_values: tuple[str, ...] | None = None
    delimiter: str | None = None
    quote: str | None = None
    origin: str = "schema"

    def spec(self, source: str) -> ColumnSpec:
        """The spec of input column `source` (an empty one when the file does not name it)."""
        return self.columns.get(source) or ColumnSpec(source)


def load_schema(path: str | os.PathLike[str]) -> SchemaFile:
    """Read a schema file: ``.toml`` is TOML, ``.json`` JSON, any other name (a pipe) JSON when
    it starts with ``{``, else TOML."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise SchemaError(f"{p}: cannot read the schema file: {exc.strerror or exc}") from None
    suffix = p.suffix.lower()
    if suffix == ".toml" or (suffix != ".json" and raw.lstrip()[:1] not in (b"{", b"")):
        doc = _parse_toml(p, raw)  # by name, or (a pipe, `--schema <(rodata infer ...)`) by content
    else:
        try:
            doc = json.loads(raw)
        except (ValueError, RecursionError) as exc:
            raise SchemaError(f"{p}: not valid JSON: {exc}") from None
    return schema_from_mapping(doc, origin=str(p))


def _parse_toml(p: Path, raw: bytes) -> Any:
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        try:
            import tomli as tomllib  # type: ignore[no-redef,import-not-found,unused-ignore]
        except ModuleNotFoundError:
            raise SchemaError(f"{p}: TOML schema files need Python 3.11+ (or `pip install tomli`); "
                              "use JSON instead") from None
    try:
        return tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise SchemaError(f"{p}: not valid TOML: {exc}") from None


def schema_from_mapping(doc: Any, *, origin: str = "schema") -> SchemaFile:
    """A SchemaFile from its document; a mapping without a ``columns`` key is taken as the
    columns themselves (``{"id": "int64", "price": {"type": "float32"}}``)."""
    if not isinstance(doc, Mapping):
        raise SchemaError(f"{origin}: expected an object/table at the top, not {type(doc).__name__}")
    if "columns" not in doc and not (set(doc) & _TOP_KEYS):
        for name in doc:  # `[colums]` is a misspelt section, not a column named "colums"
            close = _close(str(name), _TOP_KEYS)
            if close and (close != "columns" or isinstance(doc[name], Mapping)):
                raise SchemaError(f"{origin}: unknown section {str(name)!r}; did you mean {close!r}?")
        doc = {"columns": doc}
    unknown = set(doc) - _TOP_KEYS
    if unknown:
        raise SchemaError(f"{origin}: unknown key(s) {sorted(unknown)}{_did_you_mean(unknown, _TOP_KEYS)}; "
                          f"expected {sorted(_TOP_KEYS)}")
    columns_doc = doc.get("columns", {})
    if not isinstance(columns_doc, Mapping):
        raise SchemaError(f"{origin}: 'columns' must map column names to types or tables")
    columns = {str(name): _column_spec(origin, str(name), spec) for name, spec in columns_doc.items()}
    _check_names(origin, columns)
    null_values = doc.get("null_values")
    if null_values is not None:
        if not isinstance(null_values, list) or not all(isinstance(v, str) for v in null_values):
            raise SchemaError(f"{origin}: 'null_values' must be a list of strings")
        null_values = tuple(null_values)
    delimiter = _one_char(origin, "delimiter", doc.get("delimiter"), allow_empty=False)
    quote = _one_char(origin, "quote", doc.get("quote"), allow_empty=True)
    return SchemaFile(columns, null_values, delimiter, quote, origin)


def _close(name: str, known: set[str]) -> str | None:
    match = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.75)
    return match[0] if match else None


def _did_you_mean(unknown: set[Any], known: set[str]) -> str:
    hints = [f"{str(u)!r} -> {c!r}" for u in sorted(unknown, key=str) if (c := _close(str(u), known))]
    return f" (did you mean {', '.join(hints)}?)" if hints else ""


def _column_spec(origin: str, name: str, spec: Any) -> ColumnSpec:
    where = f"{origin}: column {name!r}"
    if isinstance(spec, str):
        parse_type(spec)
        return ColumnSpec(name, type=spec)
    if not isinstance(spec, Mapping):
        raise SchemaError(f"{where}: expected a type name or a table of {sorted(_COLUMN_KEYS)}")
    unknown = set(spec) - _COLUMN_KEYS
    if unknown:
        raise SchemaError(f"{where}: unknown key(s) {sorted(unknown)}{_did_you_mean(unknown, _COLUMN_KEYS)}; "
                          f"expected {sorted(_COLUMN_KEYS)}")
    if not spec:
        raise SchemaError(f"{where}: an empty table says nothing; give one of {sorted(_COLUMN_KEYS)} "
                          "(or a misspelt top-level key?)")
    type_ = spec.get("type")
    if type_ is not None:
        if not isinstance(type_, str):
            raise SchemaError(f"{where}: 'type' must be a string")
        parse_type(type_)
    nullable = spec.get("nullable")
    if nullable is not None and not isinstance(nullable, bool):
        raise SchemaError(f"{where}: 'nullable' must be true or false")
    rename = spec.get("rename")
    if rename is not None and (not isinstance(rename, str) or not rename):
        raise SchemaError(f"{where}: 'rename' must be a non-empty string")
    drop = spec.get("drop", False)
    if not isinstance(drop, bool):
        raise SchemaError(f"{where}: 'drop' must be true or false")
    return ColumnSpec(name, type_, nullable, rename, drop)


def _check_names(origin: str, columns: Mapping[str, ColumnSpec]) -> None:
    seen: dict[str, str] = {}
    for spec in columns.values():
        if spec.drop:
            continue
        if spec.name in seen and seen[spec.name] != spec.source:
            raise SchemaError(f"{origin}: columns {seen[spec.name]!r} and {spec.source!r} would both be "
                              f"named {spec.name!r}")
        seen[spec.name] = spec.source


def _one_char(origin: str, key: str, value: Any, *, allow_empty: bool) -> str | None:
    if value is None:
        return None
    if key == "delimiter" and value == "\\t":
        value = "\t"
    if not isinstance(value, str) or len(value.encode("utf-8")) > 1 or (not value and not allow_empty):
        raise SchemaError(f"{origin}: {key!r} must be a single ASCII character")
    if value in ("\n", "\r"):
        raise SchemaError(f"{origin}: {key!r} cannot be a line break")
    return value
