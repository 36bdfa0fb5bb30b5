"""Target ``segment``: the compiled segment reader, ``rodata._core._codec.Segment``.

Each input is written to a fresh file (the reader maps files), opened without verification
(so damaged sections reach the accessors), read through every accessor with in-range
arguments, opened again as a :class:`rodata.Dataset` the way ``rodata.open`` does, and
finally checksum-verified.  Modes: ``sealed`` (default; the structure-aware mutator of
:mod:`fuzz.segbytes` re-seals every checksum, so inputs reach the structural checks) and
``raw`` (libFuzzer's byte mutations only: the checksum and framing checks)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

import rodata
from fuzz import fixtures, segbytes
from fuzz.feedback import Scratch, bucket, error_kind, tag
from fuzz.outcome import Finding, guard
from rodata import RodataError
from rodata._core import Segment

NAME = "segment"
MAX_LEN = 64 * 1024
MODES = ("sealed", "raw")
DICT = "segment.dict"

_VAR = ("string", "bytes")
_scratch: Scratch | None = None
_mode = "sealed"
_validate: Callable[[Any], Any] | None = None


def seeds(out: Path) -> list[Path]:
    """Every part file of the fixture tables (int and string keys, every type, nulls, 0-100 rows)."""
    parts = sorted(p for v in fixtures.write_all(out / "tables").values() for p in v.glob("part-*.seg"))
    written = []
    for i, part in enumerate(parts):
        dest = out / f"seed-{i:02d}-{part.parent.parent.name}.seg"
        dest.write_bytes(part.read_bytes())
        written.append(dest)
    return written


def setup(mode: str) -> None:
    global _scratch, _mode, _validate
    _scratch = Scratch(NAME)
    _mode = mode
    # Deep validation, when the library has it, is an oracle: a file it accepts must read cleanly.
    _validate = getattr(rodata, "validate", None)
    if _validate is None:
        from rodata import _core

        deep = getattr(_core, "deep_validate", None)
        if deep is not None:
            def _validate(path: Path) -> None:
                deep(Segment(path, verify=True))


def mutator(data: bytes, max_size: int, seed: int) -> bytes:
    import atheris

    return segbytes.mutate(data, max_size, seed, atheris.Mutate)


def _call(what: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """One accessor: a RodataError is an allowed answer (recorded as a feature), anything else escapes."""
    try:
        out = fn(*args, **kwargs)
    except RodataError as exc:
        tag(NAME, what, "err", error_kind(exc))
        return None
    tag(NAME, what, "ok")
    return out


def one_input(data: bytes) -> None:
    assert _scratch is not None
    path = _scratch.write(data, ".seg")
    try:
        _check_file(path, data)
    finally:
        path.unlink()


def _check_file(path: Path, data: bytes) -> None:
    try:
        seg = Segment(path, verify=False)
    except RodataError as exc:
        tag(NAME, "open", error_kind(exc, str(path)))
        return
    tag(NAME, "opened", bucket(len(seg)), seg.ncols, seg.key_is_string)
    rows = _rows_to_read(len(seg), data)
    # Stages of their own: one stepping on a known finding does not hide the others.
    guard(NAME, _read_columns, seg, rows)
    keys = guard(NAME, _read_keys, seg, rows) or []
    guard(NAME, _lookups, seg, keys)
    guard(NAME, _as_dataset, path, seg, keys)
    if _succeeds("verify", seg.verify):
        # Verification is a function of the bytes: what verify() accepted, open-with-verify accepts.
        _call("reopen-verified", Segment, path)
    if _validate is not None:
        guard(NAME, _deep_oracle, path, seg, rows)


def _succeeds(what: str, fn: Callable[..., Any], *args: Any) -> bool:
    try:
        fn(*args)
    except RodataError as exc:
        tag(NAME, what, "err", error_kind(exc))
        return False
    tag(NAME, what, "ok")
    return True


def _rows_to_read(n: int, data: bytes) -> list[int]:
    """The first, last and middle rows, and a few more picked by the input itself."""
    picks = {0, 1, n // 2, n - 2, n - 1}
    for b in data[-4:]:
        picks.add(b * 31 % max(n, 1))
    return sorted(r for r in picks if 0 <= r < n)


def _read_columns(seg: Segment, rows: list[int]) -> None:
    arr = np.array([*rows, -1], dtype=np.int64)
    cols = tuple(range(seg.ncols))
    for col, spec in enumerate(seg.schema):
        kind = spec["type"]
        tag(NAME, "column", kind, spec["nullable"])
        if kind in _VAR:
            views = _call("offsets_view", seg.offsets_view, col)
            if views is not None:
                offsets, blob = views
                tag(NAME, "offsets", bucket(int(offsets[-1]) if len(offsets) else 0), bucket(len(blob)))
        else:
            view = _call("column_view", seg.column_view, col)
            if view is not None:
                tag(NAME, "view", kind, bucket(int(view.view(np.uint8).sum())))  # touches every byte
        valid = _call("validity_view", seg.validity_view, col)
        if valid is not None:
            tag(NAME, "nulls", bucket(int((~valid).sum())))
        for r in rows:
            _call(f"value-{kind}", seg.value, col, r)
        _call(f"take_objects-{kind}", seg.take_objects, col, arr)
        _call("valid_rows", seg.valid_rows, col, arr)
    for r in rows:
        _call("row", seg.row, r, cols)
    _call("rows", seg.rows, arr, cols)
    _call("fingerprint", lambda: seg.fingerprint)


def _read_keys(seg: Segment, rows: list[int]) -> list[Any]:
    keys: list[Any] = []
    for r in rows:
        key = _call("key_at", seg.key_at, r)
        if key is not None:
            keys.append(key)
    if seg.key_is_string:
        extra: list[Any] = ["", "a", "\uffff", "\U0001f600", *(k + "\x00" for k in keys[:2])]
    else:
        extra = [0, -1, 2**63 - 1, -(2**63), 2**64, -(2**70), np.int64(5), *(k + 1 for k in keys[:2])]
    return keys + extra


def _lookups(seg: Segment, keys: list[Any]) -> None:
    cols = tuple(range(seg.ncols))
    for key in keys:
        _call("get", seg.get, key, cols)
        _call("find", seg.find, key)
        _call("lower_bound", seg.lower_bound, key)
        if isinstance(key, str):
            _call("lower_bound-bytes", seg.lower_bound, key.encode("utf-8"))
    if seg.key_is_string:
        _call("find_many", seg.find_many, keys)
    else:
        ints = [int(k) for k in keys if -(2**63) <= int(k) < 2**63]
        _call("find_many", seg.find_many, np.array(ints, dtype=np.int64))
        _call("find_many-list", seg.find_many, ints)


def _as_dataset(path: Path, seg: Segment, keys: list[Any]) -> None:
    """What rodata.open does with a .seg file, and the reads a server makes of it."""
    ds = _call("dataset-open", rodata.open, path, verify=False)
    if ds is None:
        return
    with ds:
        usable = [k for k in keys if isinstance(k, str)] if seg.key_is_string else [
            int(k) for k in keys if -(2**63) <= int(k) < 2**63]
        for key in usable[:4]:
            _call("ds.get", ds.get, key)
        batch = _call("ds.get_many", ds.get_many, usable)
        if batch is not None:
            _call("batch.to_pylist", batch.to_pylist)
        for name in ds.schema.names:
            _call("ds.column", ds.column, name, 0, 16)
            _call("ds.validity", ds.validity, name)
        _call("ds.scan", _scan, ds, usable)


def _scan(ds: rodata.Dataset, keys: list[Any]) -> None:
    for batch in ds.scan(batch_size=7):
        batch.to_pylist()
    if keys:
        lo, hi = min(keys), max(keys)
        for batch in ds.scan(start=lo, end=hi, batch_size=5):
            batch.to_pylist()
        if isinstance(lo, str):
            for batch in ds.scan(prefix=lo[:1]):
                batch.to_pylist()


def _deep_oracle(path: Path, seg: Segment, rows: list[int]) -> None:
    """A file deep validation accepts must read without any error, and its index must agree."""
    assert _validate is not None
    try:
        _validate(path)
    except RodataError:
        return
    tag(NAME, "validated")
    try:
        seg.verify()
        for r in rows:
            key = seg.key_at(r)
            found = seg.find(key)
            if found != r:
                raise Finding("validated-lookup", f"row {r} has key {key!r:.60} but find() gives {found}")
            seg.row(r, tuple(range(seg.ncols)))
    except RodataError as exc:
        raise Finding("validated-read-fails", f"a file rodata.validate accepted fails to read: {exc}") from exc
