"""The compiled core (private).  Import the public API from :mod:`rodata` instead."""

from __future__ import annotations

from rodata._core._codec import (
    FORMAT_CONSTANTS,
    FORMAT_VERSION,
    TYPE_TABLE,
    JsonPlan,
    Mapping,
    Segment,
    build_index_int64,
    build_index_strings,
    deep_validate,
    get_json,
    row_json,
    rows_json,
    section_name,
    table_slots,
    take_varwidth,
    xxh64,
)

__all__ = [
    "FORMAT_CONSTANTS",
    "FORMAT_VERSION",
    "TYPE_TABLE",
    "JsonPlan",
    "Mapping",
    "Segment",
    "build_index_int64",
    "build_index_strings",
    "deep_validate",
    "get_json",
    "row_json",
    "rows_json",
    "section_name",
    "table_slots",
    "take_varwidth",
    "xxh64",
]
