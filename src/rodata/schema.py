"""Column types and schemas: what a dataset stores, as the public API names it."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from rodata._core import FORMAT_CONSTANTS, TYPE_TABLE
from rodata.errors import SchemaError, UnknownColumnError

if TYPE_CHECKING:
    from rodata._core._codec import TypeInfo

__all__ = [
    "FIXED_TYPES",
    "KEY_TYPES",
    "KEY_WIDENING_TYPES",
    "MAX_DATE",
    "MAX_DATE_DAYS",
    "MAX_VECTOR_DIM",
    "MIN_DATE",
    "MIN_DATE_DAYS",
    "TYPES",
    "TYPE_INFO",
    "VAR_TYPES",
    "Column",
    "Schema",
    "key_storage_type",
    "parse_type",
]


def _is_integer(t: TypeInfo) -> bool:
    return t["dtype"] is not None and np.dtype(t["dtype"]).kind in "iu"


def _within(inner: tuple[int, int] | None, outer: tuple[int, int] | None) -> bool:
    return inner is not None and outer is not None and outer[0] <= inner[0] and inner[1] <= outer[1]


def _limits(name: str) -> tuple[int, int]:
    limits = TYPE_INFO[name]["limits"]
    assert limits is not None
    return limits


#: The column-type table of the compiled core (includes/rodata_types.h), by type name.
TYPE_INFO: dict[str, TypeInfo] = {t["name"]: t for t in TYPE_TABLE}
#: Fixed-width types and the little-endian numpy dtype of their zero-copy views.
FIXED_TYPES: dict[str, str] = {t["name"]: str(t["dtype"]) for t in TYPE_TABLE if t["layout"] == "fixed"}
#: Variable-width types: offsets plus a data blob.
VAR_TYPES = tuple(t["name"] for t in TYPE_TABLE if t["layout"] == "varwidth")
#: Every type name; a vector column is written ``vector[DIM]`` (float32 x DIM).
TYPES = (*FIXED_TYPES, *VAR_TYPES, *(t["name"] for t in TYPE_TABLE if t["layout"] == "vector"))
#: The types a key column is stored as.
KEY_TYPES = tuple(t["name"] for t in TYPE_TABLE if t["key"])
#: Declared integer types whose every value fits an int64: a key column declared with one is stored as int64.
KEY_WIDENING_TYPES: frozenset[str] = frozenset(
    name for name, t in TYPE_INFO.items()
    if not t["key"] and _is_integer(t) and _within(t["limits"], TYPE_INFO["int64"]["limits"]))
#: The largest dimension of a vector column.
MAX_VECTOR_DIM: int = FORMAT_CONSTANTS["MAX_VECTOR_DIM"]
#: Dates are days since 1970-01-01 from 0001-01-01 to 9999-12-31: those limits in days, and as dates.
MIN_DATE_DAYS, MAX_DATE_DAYS = _limits("date")
MIN_DATE = np.datetime64(MIN_DATE_DAYS, "D")
MAX_DATE = np.datetime64(MAX_DATE_DAYS, "D")
_VECTOR_RE = re.compile(r"^vector\[(\d+)\]$")
_NAME_RE = re.compile(r"^[^\x00-\x1f/]{1,256}$")


def key_storage_type(type_: str) -> str | None:
    """The type a key column declared `type_` is stored as, or None when a key cannot be of that type.

    ``int64`` and ``string`` are stored as they are; the types of :data:`KEY_WIDENING_TYPES` widen to
    ``int64``.  A ``uint64`` key is not among them (a value may not fit): only ``rodata.write``, which
    holds the values, stores one as int64 after checking that every value fits."""
    if type_ in KEY_TYPES:
        return type_
    if type_ in KEY_WIDENING_TYPES:
        return "int64"
    return None


def parse_type(text: str) -> tuple[str, int]:
    """``"int64"`` -> ``("int64", 1)``; ``"vector[128]"`` -> ``("vector", 128)``."""
    text = text.strip().lower()
    if text in FIXED_TYPES or text in VAR_TYPES:
        return text, 1
    aliases = {"str": "string", "utf8": "string", "text": "string", "int": "int64", "float": "float64",
               "double": "float64", "boolean": "bool", "datetime": "timestamp", "binary": "bytes"}
    if text in aliases:
        return aliases[text], 1
    match = _VECTOR_RE.match(text)
    if match:
        dim = int(match.group(1))
        if 1 <= dim <= MAX_VECTOR_DIM:
            return "vector", dim
    raise SchemaError(f"unknown column type {text!r} (expected one of {', '.join(TYPES[:-1])}, vector[DIM])")


@dataclass(frozen=True)
class Column:
    """One column: its name, type (see :data:`TYPES`), whether it may hold nulls, and a vector's length."""

    name: str
    type: str
    nullable: bool = False
    dim: int = 1

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _NAME_RE.match(self.name):
            raise SchemaError(f"bad column name {self.name!r}: 1-256 characters, no control characters or '/'")
        if self.type not in TYPES:
            raise SchemaError(f"column {self.name!r}: unknown type {self.type!r}")
        if self.type == "vector":
            if not 1 <= self.dim <= MAX_VECTOR_DIM:
                raise SchemaError(f"column {self.name!r}: vector dimension {self.dim} out of range")
        elif self.dim != 1:
            raise SchemaError(f"column {self.name!r}: only vector columns have a dimension")

    @property
    def type_name(self) -> str:
        """The type as written in schemas: ``vector[DIM]`` for vectors, else :attr:`type`."""
        return f"vector[{self.dim}]" if self.type == "vector" else self.type

    @property
    def fixed_width(self) -> bool:
        """True when the column is a zero-copy numpy view of the mapping."""
        return self.type not in VAR_TYPES

    @property
    def dtype(self) -> np.dtype[Any]:
        """The numpy dtype of this column's values (a vector's element type, float32)."""
        if self.type == "vector":
            return np.dtype("<f4")
        if self.type in VAR_TYPES:
            return np.dtype(object)
        return np.dtype(FIXED_TYPES[self.type])

    def to_json(self) -> dict[str, Any]:
        """The public description: ``{"name", "type", "nullable"}``."""
        return {"name": self.name, "type": self.type_name, "nullable": self.nullable}

    def to_segment_json(self) -> dict[str, Any]:
        """The description stored in a segment's schema section (FORMAT.md)."""
        doc: dict[str, Any] = {"name": self.name, "type": self.type, "nullable": self.nullable}
        if self.type == "vector":
            doc["dim"] = self.dim
        return doc

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> Column:
        """Inverse of :meth:`to_json` (also accepts :meth:`to_segment_json`)."""
        if doc["type"] == "vector":  # the segment form: {"type": "vector", "dim": N}
            type_, dim = "vector", int(doc.get("dim", 0))
        else:
            type_, dim = parse_type(str(doc["type"]))
        return cls(str(doc["name"]), type_, bool(doc.get("nullable", False)), dim)


@dataclass(frozen=True)
class Schema:
    """The ordered columns of a dataset and the name of its key column."""

    columns: tuple[Column, ...]
    key: str
    _positions: dict[str, int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        positions: dict[str, int] = {}
        for i, col in enumerate(self.columns):
            if col.name in positions:
                raise SchemaError(f"duplicate column name {col.name!r}")
            positions[col.name] = i
        object.__setattr__(self, "_positions", positions)
        if self.key not in positions:
            raise SchemaError(f"key column {self.key!r} is not among the columns {list(positions)}")
        key_col = self.columns[positions[self.key]]
        if key_col.type not in KEY_TYPES:
            raise SchemaError(f"key column {self.key!r} has type {key_col.type}: it must be int64 or string")
        if key_col.nullable:
            raise SchemaError(f"key column {self.key!r} cannot be nullable")

    @property
    def names(self) -> tuple[str, ...]:
        """Column names in order."""
        return tuple(c.name for c in self.columns)

    @property
    def key_column(self) -> Column:
        """The key column."""
        return self.columns[self._positions[self.key]]

    def index(self, name: str) -> int:
        """Position of column `name`; :class:`UnknownColumnError` naming the known columns if absent."""
        try:
            return self._positions[name]
        except KeyError:
            raise UnknownColumnError(f"unknown column {name!r}; columns are {', '.join(self.names)}") from None

    def __getitem__(self, name: str) -> Column:
        return self.columns[self.index(name)]

    def __contains__(self, name: object) -> bool:
        return name in self._positions

    def __iter__(self) -> Iterator[Column]:
        return iter(self.columns)

    def __len__(self) -> int:
        return len(self.columns)

    def to_json(self) -> list[dict[str, Any]]:
        """``[{"name", "type", "nullable"}, ...]``."""
        return [c.to_json() for c in self.columns]

    @classmethod
    def from_json(cls, columns: Iterable[Mapping[str, Any]], key: str) -> Schema:
        """Inverse of :meth:`to_json`."""
        return cls(tuple(Column.from_json(c) for c in columns), key)
