"""Admin commands: ``rodata inspect | verify | get | versions | rollback`` (DESIGN.md, "CLI contract").

Each is a thin shell over the library (:func:`rodata.open`, :mod:`rodata.store`)."""

from __future__ import annotations

import argparse
import base64
import datetime as _dt
import sys
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from rodata._core import section_name
from rodata.dataset import open as open_dataset
from rodata.errors import DatasetNotFoundError, RodataError
from rodata.store import (
    current_version,
    dataset_path,
    list_versions,
    load_version,
    read_manifest,
    rollback,
)

__all__ = ["register"]

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2


def register(subparsers: Any) -> None:
    """Add the admin subcommands to the ``rodata`` command."""
    p = subparsers.add_parser("inspect", help="schema, rows, sizes and build info of a dataset, version or .seg file")
    p.add_argument("path", metavar="PATH", help="a dataset directory, a version directory or a .seg file")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=_usage_on_value_error(cmd_inspect))

    p = subparsers.add_parser("verify", help="check every checksum (--deep: every structural invariant too); "
                                             "exit 0 when clean, 1 with the first fault")
    p.add_argument("path", metavar="PATH", help="a dataset directory, a version directory or a .seg file")
    p.add_argument("--all", action="store_true", help="verify every kept version of a dataset, not just the live one")
    p.add_argument("--deep", action="store_true",
                   help="deep validation: key order, offsets, UTF-8, value ranges, index slots, padding, "
                        "manifest against parts (docs/FORMAT.md)")
    p.set_defaults(func=_usage_on_value_error(cmd_verify))

    p = subparsers.add_parser("get", help="look a key up locally and print the row as JSON")
    p.add_argument("--data-root", required=True, metavar="DIR")
    p.add_argument("dataset", metavar="DATASET")
    p.add_argument("key", metavar="KEY")
    p.add_argument("--columns", metavar="A,B", help="only these columns")
    p.add_argument("--no-verify", action="store_true", help="skip the checksum pass when opening")
    p.set_defaults(func=_usage_on_value_error(cmd_get))

    p = subparsers.add_parser("versions", help="list the kept versions of a dataset, the live one marked")
    p.add_argument("--data-root", required=True, metavar="DIR")
    p.add_argument("dataset", metavar="DATASET")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=_usage_on_value_error(cmd_versions))

    p = subparsers.add_parser("rollback", help="make an older version live again (default: the one before)")
    p.add_argument("--data-root", required=True, metavar="DIR")
    p.add_argument("dataset", metavar="DATASET")
    p.add_argument("version", metavar="VERSION", nargs="?")
    p.set_defaults(func=_usage_on_value_error(cmd_rollback))


def _usage_on_value_error(func: Any) -> Any:
    """A bad argument (a malformed dataset name...) is a usage error, exit 2."""
    def run(args: argparse.Namespace) -> int:
        try:
            return int(func(args))
        except ValueError as exc:
            if isinstance(exc, RodataError):
                raise
            return _usage(str(exc))

    run.__doc__ = func.__doc__
    return run


def _json_default(value: Any) -> Any:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"cannot encode {type(value).__name__}")


def _dumps(doc: Any, *, indent: bool = False) -> str:
    option = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS | (orjson.OPT_INDENT_2 if indent else 0)
    return orjson.dumps(doc, default=_json_default, option=option).decode()


def _usage(message: str) -> int:
    print(f"rodata: error: {message}", file=sys.stderr)
    return EXIT_USAGE


# -- inspect -------------------------------------------------------------------------------


def describe_path(path: str) -> dict[str, Any]:
    """What ``inspect`` shows, as a document."""
    p = Path(path)
    if p.is_file():
        with open_dataset(p, verify=False) as ds:
            seg = ds._segments()[0]
            sections = [{"kind": section_name(kind), "column": col, "offset": off, "bytes": length}
                        for kind, col, off, length, _sum in seg.sections]
            return {"kind": "segment", "path": str(p), "rows": len(ds), "bytes": p.stat().st_size,
                    "key": ds.key, "columns": ds.schema.to_json(), "sections": sections}
    if p.is_dir() and (p / "CURRENT").is_file():
        live = current_version(p)
        if live is None:
            raise DatasetNotFoundError(f"{p}: no live version")
        doc = _version_doc(p / live)
        doc["kind"] = "dataset"
        doc["versions"] = list_versions(p)
        return doc
    if p.is_dir() and (p / "manifest.json").is_file():
        doc = _version_doc(p)
        doc["kind"] = "version"
        return doc
    raise DatasetNotFoundError(f"{p}: not a dataset (no CURRENT), a version (no manifest.json) or a .seg file")


def _version_doc(version_dir: Path) -> dict[str, Any]:
    manifest = read_manifest(version_dir)
    return {"path": str(version_dir), "dataset": manifest.dataset, "version": manifest.version,
            "rows": manifest.rows, "bytes": manifest.bytes, "key": manifest.key,
            "columns": manifest.schema.to_json(), "parts": [p.to_json() for p in manifest.parts],
            "created_at": manifest.created_at, "format_version": list(manifest.format_version),
            "build": dict(manifest.build)}


def cmd_inspect(args: argparse.Namespace) -> int:
    """``rodata inspect PATH``."""
    doc = describe_path(args.path)
    if args.json:
        print(_dumps(doc))
        return EXIT_OK
    lines = [f"{doc['kind']}: {doc['path']}"]
    if doc.get("dataset"):
        lines.append(f"dataset: {doc['dataset']}  version: {doc.get('version')}  created: {doc.get('created_at')}")
    lines.append(f"rows: {doc['rows']:,}  bytes: {doc.get('bytes') or 0:,}  key: {doc['key']}")
    lines.append("columns:")
    for c in doc["columns"]:
        lines.append(f"  {c['name']:<24} {c['type']:<14} {'nullable' if c.get('nullable') else ''}".rstrip())
    if doc.get("parts"):
        lines.append("parts:")
        for part in doc["parts"]:
            lines.append(f"  {part['file']}  rows {part['rows']:,}  bytes {part.get('bytes', 0):,}  "
                         f"keys {part.get('min_key')!r} .. {part.get('max_key')!r}")
    if doc.get("sections"):
        lines.append("sections:")
        for s in doc["sections"]:
            lines.append(f"  kind {s['kind']}  column {s['column']}  offset {s['offset']}  bytes {s['bytes']:,}")
    if doc.get("build"):
        lines.append("build: " + _dumps(doc["build"]))
    if doc.get("versions"):
        lines.append("versions: " + ", ".join(doc["versions"]))
    print("\n".join(lines))
    return EXIT_OK


# -- verify --------------------------------------------------------------------------------


def cmd_verify(args: argparse.Namespace) -> int:
    """``rodata verify [--deep] PATH``: every checksum (and every invariant) of the live version
    (or of every version)."""
    p = Path(args.path)
    targets = [p]
    if args.all and p.is_dir() and (p / "CURRENT").is_file():
        targets = [p / name for name in list_versions(p)]
    what = "deep-validated" if args.deep else "verified"
    for target in targets:
        with open_dataset(target, verify=True) as ds:
            if args.deep:
                ds.validate()
            print(f"ok: {target}: {ds.version or ds.name}, {len(ds):,} rows, {ds.nbytes:,} bytes {what}")
    return EXIT_OK


# -- get -----------------------------------------------------------------------------------


def cmd_get(args: argparse.Namespace) -> int:
    """``rodata get --data-root DIR DATASET KEY [--columns a,b]``: the row as JSON."""
    columns = [c for c in args.columns.split(",") if c] if args.columns else None
    with open_dataset(dataset_path(args.data_root, args.dataset), verify=not args.no_verify) as ds:
        key: Any = args.key
        if ds.schema.key_column.type == "int64":
            try:
                key = int(args.key, 10)
            except ValueError:
                return _usage(f"key {args.key!r} is not an integer (the key column {ds.key!r} is int64)")
        if columns is not None:
            ds.projection(columns)  # an unknown column is an error before the lookup
        row = ds.get(key, columns)
    if row is None:
        print(f"rodata: error: key {args.key!r} not found in {args.dataset}", file=sys.stderr)
        return EXIT_FAILURE
    print(_dumps({k: _plain(v) for k, v in row.items()}))
    return EXIT_OK


def _plain(value: Any) -> Any:
    if isinstance(value, _dt.datetime) and value.tzinfo is not None:
        return value.isoformat().replace("+00:00", "Z")
    return value


# -- versions, rollback --------------------------------------------------------------------


def cmd_versions(args: argparse.Namespace) -> int:
    """``rodata versions --data-root DIR DATASET``."""
    d = dataset_path(args.data_root, args.dataset)
    live = current_version(d)
    rows = []
    for name in list_versions(d):
        version = load_version(d, name)
        rows.append({"version": name, "live": name == live, "rows": version.rows,
                     "bytes": version.manifest.bytes, "created_at": version.manifest.created_at})
    if args.json:
        print(_dumps({"dataset": args.dataset, "live": live, "versions": rows}))
        return EXIT_OK
    if not rows:
        print(f"{args.dataset}: no versions")
        return EXIT_OK
    for r in rows:
        mark = "*" if r["live"] else " "
        print(f"{mark} {r['version']}  {r['rows']:>12,} rows  {r['bytes'] or 0:>14,} bytes  {r['created_at']}")
    return EXIT_OK


def cmd_rollback(args: argparse.Namespace) -> int:
    """``rodata rollback --data-root DIR DATASET [VERSION]``."""
    version = rollback(args.data_root, args.dataset, args.version)
    print(f"{args.dataset}: {version.name} is live ({version.rows:,} rows)")
    return EXIT_OK
