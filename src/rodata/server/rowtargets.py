"""What the compiled protocol keeps for the row route's common request: per (dataset, columns),
everything its answers share, made by the functions the row handler uses (so that the answers
it writes are the handler's, byte for byte; the differential test holds them to it)."""

from __future__ import annotations

from typing import Any

from rodata.catalog import Catalog
from rodata.server import render
from rodata.server.conditional import row_etag
from rodata.server.handlers import parse_columns, parse_query

__all__ = ["RowTarget", "row_etag", "row_target"]

#: ``(dataset, name, compiled plan, columns text or None, string key?, the one part or None,
#: the version header's bytes after the content-length, the ETag prefix or None)``.
RowTarget = tuple[Any, str, Any, "str | None", bool, Any, bytes, "bytes | None"]


def row_target(catalog: Catalog, name: bytes, columns: bytes | None) -> RowTarget | None:
    """The target of ``/v1/datasets/<name>/rows/...?columns=<columns>`` (both raw, without
    percent-encoding), or None when the row handler must answer (no such dataset, a bad or
    unknown column, rows rendered through orjson)."""
    try:
        text = name.decode("utf-8")
        ds = catalog.get(text)
        if ds is None:
            return None
        names = None if columns is None else parse_columns(parse_query(b"columns=" + columns))
        if names is not None:
            for column in names:
                ds.schema.index(column)
        plan = render.plan_for(ds, names)
    except Exception:  # the handler answers it (with its error)
        return None
    if not plan.compiled:
        return None
    version = ds.version
    header = b"\r\nx-rodata-version: " + str(version).encode("ascii", "replace") + b"\r\n"
    prefix = None if version is None else b'"' + version.encode("ascii", "replace") + b"."
    return (ds, text, plan.json, None if names is None else ",".join(names),
            ds.schema.key_column.type == "string", ds.single_part, header, prefix)
