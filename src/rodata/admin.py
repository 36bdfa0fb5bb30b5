"""Admin commands: ``rodata ls | inspect | verify | get | versions | rollback`` (docs/cli.md).

Each is a thin shell over the library (:func:`rodata.open`, :mod:`rodata.store`)."""

from __future__ import annotations

import argparse
import difflib
import hashlib
import sys
from pathlib import Path
from typing import Any

from rodata import encode
from rodata._core import section_name
from rodata._exit import EXIT_FAILURE, EXIT_OK, EXIT_USAGE
from rodata._help import add_command, add_data_root, need_data_root
from rodata.dataset import open as open_dataset
from rodata.errors import DatasetNotFoundError, FormatError, RodataError, UnknownColumnError, UsageError
from rodata.store import (
    CURRENT,
    check_dataset_name,
    current_version,
    is_dataset_name,
    list_datasets,
    list_versions,
    load_version,
    path_kind,
    read_manifest,
)
from rodata.validation import manifest_digest, record, validate, verifier_name
from rodata.versions import rollback

__all__ = ["register"]


_EXAMPLE_ROOT = "/srv/data"


def register(subparsers: Any) -> None:
    """Add the admin subcommands to the ``rodata`` command."""
    p = add_command(subparsers, "ls", "list the datasets under a data root",
                "List every dataset under the data root: its live version, rows, size and when that version "
                "was published.", [f"rodata ls --data-root {_EXAMPLE_ROOT}", "RODATA_DATA_ROOT=/srv/data rodata ls"])
    add_data_root(p)
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_ls)

    p = add_command(subparsers, "inspect", "show the schema, rows, sizes and build info of a dataset, version or file",
                "Describe a dataset (its live version), a version directory or a single .seg file: schema, "
                "rows, parts, sizes and how it was built. Nothing is verified.",
                [f"rodata inspect {_EXAMPLE_ROOT}/events", f"rodata inspect events --data-root {_EXAMPLE_ROOT}",
                 f"rodata inspect {_EXAMPLE_ROOT}/events/v000012-1a2b3c4d/part-00000.seg --json"])
    p.add_argument("target", metavar="PATH|DATASET",
                   help="a dataset, version or .seg path, or a dataset name under --data-root")
    add_data_root(p, why="where a DATASET name is looked up")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_inspect)

    p = add_command(subparsers, "verify", "check a version: checksums, or with --deep every structural invariant",
                "Check the live version of a dataset (or a version directory, or a .seg file): every checksum, "
                "and with --deep every invariant docs/FORMAT.md states (key order, offsets, UTF-8, value ranges, "
                "index slots, padding, the manifest against the parts). Exit status 0 when clean, 1 naming "
                "each fault (file, section, byte offset).",
                [f"rodata verify --deep {_EXAMPLE_ROOT}/events",
                 f"rodata verify --all events --data-root {_EXAMPLE_ROOT}",
                 f"rodata verify --deep --record events --data-root {_EXAMPLE_ROOT}"])
    p.add_argument("target", metavar="PATH|DATASET",
                   help="a dataset, version or .seg path, or a dataset name under --data-root")
    add_data_root(p, why="where a DATASET name is looked up")
    p.add_argument("--all", action="store_true",
                   help="verify every kept version of the dataset and report each, not just the live one")
    p.add_argument("--deep", action="store_true",
                   help="deep validation: every structural invariant over every byte, not only the checksums")
    p.add_argument("--record", action="store_true",
                   help="with --deep: record the verdict (pass, or fail with the fault) beside each version, "
                        "in verdicts/verify-<host>.json, for servers run with --verify recorded")
    p.set_defaults(func=cmd_verify)

    p = add_command(subparsers, "get", "look a key up locally and print the row as JSON",
                "Open the live version of DATASET (checksums verified), look KEY up and print the row as JSON, "
                "encoded as the server encodes it. Exit status 1 when the key is not there.",
                [f"rodata get --data-root {_EXAMPLE_ROOT} events 42",
                 f"rodata get --data-root {_EXAMPLE_ROOT} users ada --columns name,score"])
    add_data_root(p)
    p.add_argument("dataset", metavar="DATASET", help="the dataset's name")
    p.add_argument("key", metavar="KEY", help="the key (decimal for an int64 key column)")
    p.add_argument("--columns", metavar="A,B", help="only these columns, in this order (default: all)")
    p.add_argument("--no-verify", action="store_true", help="skip the checksum pass when opening")
    p.set_defaults(func=cmd_get)

    p = add_command(subparsers, "versions", "list the kept versions of a dataset, the live one marked",
                "List the versions of DATASET that are kept on disk, oldest first, with rows, size and when each "
                "was published; the live one is marked with *.",
                [f"rodata versions --data-root {_EXAMPLE_ROOT} events"])
    add_data_root(p)
    p.add_argument("dataset", metavar="DATASET", help="the dataset's name")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_versions)

    p = add_command(subparsers, "rollback", "make an earlier version live again",
                "Make VERSION live again after checking it; without VERSION, the version that was live before "
                "the current one (the dataset's HISTORY). Servers swap to it at their next poll.",
                [f"rodata rollback --data-root {_EXAMPLE_ROOT} events",
                 f"rodata rollback --data-root {_EXAMPLE_ROOT} events v000011-9f8e7d6c"])
    add_data_root(p)
    p.add_argument("dataset", metavar="DATASET", help="the dataset's name")
    p.add_argument("version", metavar="VERSION", nargs="?",
                   help="the version to make live (default: the one live before the current one)")
    p.set_defaults(func=cmd_rollback)


def _need_root(args: argparse.Namespace) -> Path:
    return need_data_root(args)


def _dataset_dir(args: argparse.Namespace, name: str) -> Path:
    root = _need_root(args)
    d = root / check_dataset_name(name)
    if not (d / CURRENT).exists():
        known = list_datasets(root)
        hint = _did_you_mean(name, known) or (f"; datasets are: {', '.join(known)}" if known else "")
        raise UsageError(f"no dataset {name!r} under {root}{hint}")
    return d


def _target(args: argparse.Namespace) -> Path:
    """A PATH that exists, else a DATASET name under the data root."""
    p = Path(args.target)
    if p.exists():
        return p
    if args.data_root and is_dataset_name(args.target):
        return _dataset_dir(args, args.target)
    raise UsageError(f"{args.target}: no such path" + ("" if args.data_root else
                     " (to name a dataset, give --data-root DIR or set RODATA_DATA_ROOT)"))


def _did_you_mean(word: str, choices: list[str]) -> str:
    close = difflib.get_close_matches(word, choices, n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


def _dumps(doc: Any) -> str:
    return encode.dumps(doc).decode()


def _usage(message: str) -> int:
    print(f"rodata: error: {message}", file=sys.stderr)
    return EXIT_USAGE


# -- inspect -------------------------------------------------------------------------------


def describe_path(path: str) -> dict[str, Any]:
    """What ``inspect`` shows, as a document."""
    p = Path(path)
    kind = path_kind(p)
    if kind == "segment":
        with open_dataset(p, verify=False) as ds:
            seg = ds._segments()[0]
            sections = [{"kind": section_name(kind), "column": col, "offset": off, "bytes": length}
                        for kind, col, off, length, _sum in seg.sections]
            return {"kind": "segment", "path": str(p), "rows": len(ds), "bytes": p.stat().st_size,
                    "key": ds.key, "columns": ds.schema.to_json(), "sections": sections}
    if kind == "version":
        return dict(_version_doc(p), kind="version")
    live = current_version(p)
    if live is None:
        raise DatasetNotFoundError(f"{p}: no live version")
    return dict(_version_doc(p / live), kind="dataset", versions=list_versions(p))


def _version_doc(version_dir: Path) -> dict[str, Any]:
    manifest = read_manifest(version_dir)
    return {"path": str(version_dir), "dataset": manifest.dataset, "version": manifest.version,
            "rows": manifest.rows, "bytes": manifest.bytes, "key": manifest.key,
            "columns": manifest.schema.to_json(), "parts": [p.to_json() for p in manifest.parts],
            "created_at": manifest.created_at, "format_version": list(manifest.format_version),
            "build": dict(manifest.build)}


def cmd_inspect(args: argparse.Namespace) -> int:
    """``rodata inspect PATH|DATASET``."""
    doc = describe_path(str(_target(args)))
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
    """``rodata verify [--deep] [--all] [--record] PATH|DATASET``: the live version (or every kept
    version), each reported ok or with its fault; exit status 1 when any has one.  With ``--record``
    each version's verdict is recorded beside it (rodata.validation)."""
    p = _target(args)
    if args.record:
        return _verify_recorded(p, args)
    targets = [p]
    if args.all:
        if not (p / CURRENT).exists():
            raise UsageError(f"{p}: --all needs a dataset (a directory with a CURRENT file)")
        targets = [p / name for name in list_versions(p)]
    what = "deep-validated" if args.deep else "verified"
    faults = 0
    for target in targets:
        try:
            with open_dataset(target, verify=True) as ds:
                if args.deep:
                    ds.validate()
                print(f"ok: {target}: {ds.version or ds.name}, {len(ds):,} rows, {ds.nbytes:,} bytes {what}")
        except (RodataError, OSError) as exc:
            if not args.all:
                raise
            faults += 1
            print(f"FAULT: {target}: {exc}")
    if faults:
        print(f"rodata: error: {faults} of {len(targets)} versions have a fault", file=sys.stderr)
        return EXIT_FAILURE
    return EXIT_OK


def _verify_recorded(p: Path, args: argparse.Namespace) -> int:
    """``verify --deep --record``: deep-validate each version and record its verdict, pass or fail."""
    if not args.deep:
        raise UsageError("--record needs --deep: a verdict is the result of a deep validation")
    kind = path_kind(p)
    if kind == "segment":
        raise UsageError(f"{p}: --record needs a version or a dataset, not a .seg file")
    if kind == "version":
        versions = [p]
    elif args.all:
        versions = [p / name for name in list_versions(p)]
    else:
        live = current_version(p)
        if live is None:
            raise DatasetNotFoundError(f"{p}: no live version")
        versions = [p / live]
    faults = sum(_record_one(version) for version in versions)
    if faults:
        print(f"rodata: error: {faults} of {len(versions)} versions have a fault", file=sys.stderr)
        return EXIT_FAILURE
    return EXIT_OK


def _record_one(version: Path) -> bool:
    """Deep-validate one version and record its verdict; True when it has a fault.  An I/O error
    records nothing: it says nothing of the version, only of reading it now."""
    name = verifier_name("verify")
    try:
        digest = manifest_digest(version)
        report = validate(version)
    except FormatError as exc:
        path = record(version, name, by="rodata verify", passed=False, digest=_digest_or_none(version),
                      fault=str(exc))
        print(f"FAULT: {version}: {exc} (recorded in {path})")
        return True
    except (RodataError, OSError) as exc:
        print(f"FAULT: {version}: {exc} (nothing recorded: not a fault of the version's contents)")
        return True
    path = record(version, name, by="rodata verify", passed=True, digest=digest,
                  details={"parts": report.parts, "rows": report.rows, "bytes": report.bytes,
                           "seconds": report.seconds})
    print(f"ok: {version}: {report.version}, {report.rows:,} rows, {report.bytes:,} bytes deep-validated, "
          f"recorded in {path}")
    return False


def _digest_or_none(version: Path) -> str:
    """The manifest's digest, or one of nothing when it cannot even be read: the fail still binds."""
    try:
        return manifest_digest(version)
    except (RodataError, OSError):
        return hashlib.sha256(b"").hexdigest()


# -- get -----------------------------------------------------------------------------------


def cmd_get(args: argparse.Namespace) -> int:
    """``rodata get --data-root DIR DATASET KEY [--columns a,b]``: the row as JSON."""
    d = _dataset_dir(args, args.dataset)
    columns = [c for c in args.columns.split(",") if c] if args.columns else None
    with open_dataset(d, verify=not args.no_verify) as ds:
        key: Any = args.key
        if ds.schema.key_column.type == "int64":
            try:
                key = int(args.key, 10)
            except ValueError:
                return _usage(f"key {args.key!r} is not an integer (the key column {ds.key!r} is int64)")
        if columns is not None:
            try:
                ds.projection(columns)  # an unknown column is an error before the lookup
            except UnknownColumnError as exc:
                bad = next(c for c in columns if c not in ds.schema)
                return _usage(f"{exc}{_did_you_mean(bad, list(ds.schema.names))}")
        row = ds.get(key, columns)
        if row is None:
            print(f"rodata: error: key {args.key!r} not found in {args.dataset}", file=sys.stderr)
            return EXIT_FAILURE
        print(_dumps(_encodable(ds, row)))
    return EXIT_OK


def _encodable(ds: Any, row: dict[str, Any]) -> dict[str, Any]:
    """The row with each value as the server's one encoder writes it (encode.converter)."""
    out = {}
    for name, value in row.items():
        convert = encode.converter(ds.schema[name])
        out[name] = value if convert is None or value is None else convert(value)
    return out


# -- versions, rollback --------------------------------------------------------------------


def cmd_versions(args: argparse.Namespace) -> int:
    """``rodata versions --data-root DIR DATASET``."""
    d = _dataset_dir(args, args.dataset)
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
    d = _dataset_dir(args, args.dataset)
    if args.version is not None and args.version not in list_versions(d):
        kept = list_versions(d)
        raise UsageError(f"{args.dataset}: no version {args.version!r}"
                         f"{_did_you_mean(args.version, kept) or '; kept: ' + ', '.join(kept)}")
    version = rollback(d.parent, args.dataset, args.version)
    print(f"{args.dataset}: {version.name} is live ({version.rows:,} rows)")
    return EXIT_OK


# -- ls ------------------------------------------------------------------------------------


def cmd_ls(args: argparse.Namespace) -> int:
    """``rodata ls --data-root DIR``: every dataset, its live version, rows, size and publish time."""
    root = _need_root(args)
    rows = [_ls_row(root, name) for name in list_datasets(root)]
    if args.json:
        print(_dumps({"data_root": str(root), "datasets": rows}))
        return EXIT_OK
    if not rows:
        print(f"{root}: no datasets")
        return EXIT_OK
    width = max(len("DATASET"), *(len(str(r["dataset"])) for r in rows))
    print(f"{'DATASET':<{width}}  {'VERSION':<16}  {'ROWS':>14}  {'BYTES':>16}  PUBLISHED")
    for r in rows:
        if r["error"]:
            print(f"{r['dataset']:<{width}}  error: {r['error']}")
        else:
            print(f"{r['dataset']:<{width}}  {r['version']:<16}  {r['rows']:>14,}  {r['bytes']:>16,}  "
                  f"{r['created_at']}")
    return EXIT_OK


def _ls_row(root: Path, name: str) -> dict[str, Any]:
    row: dict[str, Any] = {"dataset": name, "version": None, "rows": None, "bytes": None, "created_at": None,
                           "error": None}
    try:
        live = current_version(root / name)
        if live is not None:
            version = load_version(root / name, live)
            row.update(version=live, rows=version.rows, bytes=version.manifest.bytes,
                       created_at=version.manifest.created_at)
    except (RodataError, OSError) as exc:
        row["error"] = str(exc)
    return row
