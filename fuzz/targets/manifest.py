"""Target ``manifest``: ``manifest.json`` as every reader of a version consumes it.

The input is one selector byte (which real version directory the manifest is put in: an
int-keyed dataset of three parts, a string-keyed one of three, a one-part one) followed by
the manifest's bytes.  Each input is read by the typed parser (``rodata.manifest``, when
the library has it) and by ``rodata.store.read_manifest``, then the version is opened as
``rodata.open`` does, described as ``rodata inspect`` does, and loaded by a
:class:`rodata.catalog.Catalog` whose answers are requested through the server's route
functions.  The part files are real and never change: only the manifest is hostile.

Checks beyond "success or RodataError": the catalog's load never raises (one dataset's
bad manifest is that dataset's refusal); a version the catalog serves answers every route
without a 5xx; a manifest the typed parser accepts survives ``to_json`` and parses back
equal.  Modes: ``struct`` (default; the JSON-aware mutator of :mod:`fuzz.jsonmut` mixed
with libFuzzer's byte mutations) and ``raw``."""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import rodata
from fuzz import fixtures, jsonmut
from fuzz.feedback import Scratch, bucket, error_kind, tag
from fuzz.outcome import Finding, guard
from rodata import RodataError
from rodata.catalog import Catalog

NAME = "manifest"
MAX_LEN = 16 * 1024
MODES = ("struct", "raw")
DICT = "manifest.dict"

#: The fixture tables whose version directories the inputs are put in (selected by byte 0).
PART_SETS = ("parts-int", "parts-str", "every-int")
_MANIFEST_VALUES = ("vector[3]", "vector[1e999]", "int32", "uint64", 3, 9, 12, 1, 0, "k+00001-",
                    "0f21f7aa0f21f7aa", "ds", "v000002-0000f022", "2026-01-01T00:00:00Z", [1, 0], [2, 0])

_roots: list[tuple[Path, str, Path]] = []  # (data root, dataset name, version directory)
_keys: dict[str, list[Any]] = {}
_parse: Callable[..., Any] | None = None


def seeds(out: Path) -> list[Path]:
    written = []
    versions = fixtures.write_all(out / "tables")
    for i, name in enumerate(PART_SETS):
        raw = (versions[name] / "manifest.json").read_bytes()
        for j, variant in enumerate((raw, json.dumps(json.loads(raw), separators=(",", ":")).encode())):
            dest = out / f"seed-{name}-{j}.json"
            dest.write_bytes(bytes([i]) + variant)
            written.append(dest)
    return written


def setup(mode: str) -> None:
    global _parse
    # The catalog logs every refusal: at thousands of inputs a second that is all the run would do.
    logging.getLogger("rodata").setLevel(logging.CRITICAL)
    scratch = Scratch(NAME)
    tables = {t[0]: t for t in fixtures.small_tables()}
    for name in PART_SETS:
        _, cols, key, schema, per_part = tables[name]
        root = scratch.dir / name
        version = fixtures.write_table(root, name, cols, key, schema, per_part)
        _roots.append((root, name, version))
        _keys[name] = [k if isinstance(k, str) else int(k) for k in list(cols[key])[:4]]
    try:
        from rodata import manifest as typed
    except ImportError:
        typed = None
    _parse = getattr(typed, "parse_manifest", None)


def mutator(data: bytes, max_size: int, seed: int) -> bytes:
    import atheris

    rng = random.Random(seed)
    head, body = data[:1] or b"\0", data[1:]
    if rng.random() < 0.75:
        try:
            out = jsonmut.mutate_json(body, rng, _MANIFEST_VALUES)
        except Exception as exc:  # a mutator fault must not end the run: printed, then byte mutation
            print(f"fuzz.targets.manifest: mutator error {exc!r}", flush=True)
            out = None
        if out is not None and len(out) < max_size:
            return head + out
    return bytes(atheris.Mutate(data, max_size))


def _call(what: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    try:
        out = fn(*args, **kwargs)
    except RodataError as exc:
        tag(NAME, what, "err", error_kind(exc))
        return None
    tag(NAME, what, "ok")
    return out


def one_input(data: bytes) -> None:
    if not data:
        return
    root, name, version = _roots[data[0] % len(_roots)]
    raw = data[1:]
    (version / "manifest.json").write_bytes(raw)
    # Each consumer is a stage of its own: one stepping on a known finding does not hide the others.
    guard(NAME, _typed, raw, version)
    guard(NAME, _call, "read_manifest", rodata.store.read_manifest, version)
    guard(NAME, _open, version, _keys[name])
    guard(NAME, _call, "inspect", _inspect, version)
    guard(NAME, _serve, root, name, _keys[name])


def _typed(raw: bytes, version: Path) -> None:
    if _parse is None:
        return
    source = str(version / "manifest.json")
    parsed = _call("parse_manifest", _parse, raw, source=source, version=version.name)
    if parsed is None:
        return
    tag(NAME, "parsed", bucket(len(parsed.parts)))
    again = _parse(json.dumps(parsed.to_json()).encode(), source=source, version=version.name)
    if again != parsed:
        raise Finding("manifest-roundtrip", "a parsed manifest's to_json() parses back different")


def _open(version: Path, keys: list[Any]) -> None:
    ds = _call("open", rodata.open, version, verify=False)
    if ds is None:
        return
    with ds:
        tag(NAME, "opened", len(ds), ds.version == version.name)
        _call("describe", ds.describe)
        for key in keys:
            _call("get", ds.get, key)
        batch = _call("get_many", ds.get_many, keys)
        if batch is not None:
            _call("to_pylist", batch.to_pylist)
        for col in ds.schema.names[:4]:
            _call("column", ds.column, col, 0, 5)
        _call("scan", lambda: [b.to_pylist() for b in ds.scan(batch_size=4)])


def _inspect(version: Path) -> None:
    from rodata import admin

    doc = admin.describe_path(version)
    dumps = getattr(admin, "_dumps", None)
    if dumps is not None:
        dumps(doc)  # what `rodata inspect` prints


def _serve(root: Path, name: str, keys: list[Any]) -> None:
    """Load the data root in a catalog and ask the server's routes what they answer."""
    try:
        catalog = Catalog(root, verify=False)
        events = catalog.load()
    except Exception as exc:
        raise Finding("catalog-load-raises", f"Catalog.load() raised {type(exc).__name__}: {exc}") from exc
    for event in events:
        tag(NAME, "event", event.kind, error_kind(event.reason or ""))
    health = catalog.health()
    tag(NAME, "health", health["status"])
    if catalog.get(name) is None:
        return
    _routes(catalog, name, keys)


def _routes(catalog: Catalog, name: str, keys: list[Any]) -> None:
    from rodata.server import handlers
    from rodata.server.settings import Settings

    ctx = handlers.Context(catalog, Settings())
    body = json.dumps({"keys": keys}).encode()
    calls: list[tuple[str, Callable[..., Any], tuple[Any, ...]]] = [
        ("datasets", handlers.datasets, (ctx,)),
        ("detail", handlers.dataset_detail, (ctx, name)),
        ("healthz", handlers.healthz, (ctx,)),
        ("row", handlers.row, (ctx, name, str(keys[0]), b"")),
        ("row-miss", handlers.row, (ctx, name, "0", b"")),
        ("lookup", handlers.lookup, (ctx, name, body, b"")),
        ("scan", handlers.scan, (ctx, name, b"limit=5")),
        ("column", handlers.column, (ctx, name, "id", b"limit=3")),
    ]
    for what, fn, args in calls:
        guard(NAME, _route, what, fn, args)


def _route(what: str, fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
    from rodata.server import handlers

    try:
        reply = handlers.guarded(fn, *args)
    except Exception as exc:
        raise Finding("served-route-fails",
                      f"route {what} of a served version raised {type(exc).__name__}: {exc}") from exc
    tag(NAME, "route", what, reply.status)
    if reply.status >= 500 and not (what == "healthz" and reply.status == 503):
        raise Finding("served-route-5xx", f"route {what} of a served version answered {reply.status}")


