"""The ETL differential suite: seeded random inputs built by ``rodata build`` (the library or the
real CLI) and read back with ``rodata.open``; every published cell, the schema, the row set and
order, the rejected records and the errors are compared with independent reference readers
(ref_csv, ref_jsonl, ref_parquet: Python's csv and json modules and pyarrow, applying the rules
docs/etl.md documents).

    python -m tests.etl.differential --minutes 5            # the long run
    python -m tests.etl.differential --seed 1234 --keep DIR  # one case, its files kept

A bounded run is part of the default test suite (tests/etl/test_differential.py)."""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from collections import Counter
from pathlib import Path
from typing import Any

import rodata
from rodata.errors import RodataError

from . import ref_csv, ref_jsonl, ref_parquet
from .gen_formats import make_case
from .gen_inputs import Case
from .ref_build import Expected
from .ref_values import canon

ROOT = Path(__file__).resolve().parents[2]


class Mismatch(AssertionError):
    """The build and the reference disagree."""


def expected_of(case: Case, rejects: str | None, live: tuple[str, int] | None) -> Expected:
    common = {"key": case.key, "schema": case.schema, "max_bad": case.max_bad, "on_duplicate": case.on_duplicate,
              "rejects": rejects, "live": live}
    if case.format == "csv":
        return ref_csv.reference(case.files, tab=case.tab, **common)
    if case.format == "jsonl":
        return ref_jsonl.reference(case.files, **common)
    return ref_parquet.reference(case.files, **common)


def run_case(case: Case, work: Path) -> Expected:
    """Build the case and compare everything with the reference; raises Mismatch."""
    root = work / "root"
    rejects = str(work / "rejects.jsonl") if case.max_bad else None
    live = None
    if case.live:
        old = work / "old.csv"
        old.write_text(f"{case.key}\n1\n2\n3\n")
        report = rodata.build(old, dataset="d", key=case.key, data_root=root, progress=False)
        live = (report.version, report.rows_out)
    expected = expected_of(case, rejects, live)
    outcome = _build_cli(case, work, root, rejects) if case.cli else _build_library(case, root, rejects)
    current = root / "d" / "CURRENT"
    if expected.error is not None:
        _check_error(case, expected, outcome)
        if (current.read_text().strip() if current.exists() else None) != (live[0] if live else None):
            raise Mismatch("a failed build changed CURRENT")
        return expected
    if isinstance(outcome, Exception) or (isinstance(outcome, tuple) and outcome[0] != 0):
        raise Mismatch(f"the build failed: {outcome!r}; expected success")
    report = outcome if isinstance(outcome, dict) else outcome.to_json()
    if current.read_text().strip() != report["version"]:
        raise Mismatch("CURRENT does not name the version built")
    got = (report["rows_out"], report["bad_rows"], report["duplicates"], report["rows_in"])
    want = (len(expected.rows), len(expected.bad), expected.duplicates, expected.rows_in)
    if got != want:
        raise Mismatch(f"report (rows_out, bad_rows, duplicates, rows_in) {got} != {want}")
    _check_version(root / "d", expected)
    _check_rejects(rejects, expected)
    return expected


def _build_library(case: Case, root: Path, rejects: str | None) -> Any:
    try:
        return rodata.build(case.files, dataset="d", key=case.key, data_root=root, workers=case.workers,
                            format=case.format if case.seed % 3 == 0 else None, schema=case.schema or None,
                            on_duplicate=case.on_duplicate, max_bad_rows=case.max_bad, rejects=rejects,
                            memory_limit=case.memory_limit, chunk_bytes=case.chunk_bytes,
                            part_bytes=case.part_bytes, progress=False,
                            # A live version here has another schema by design: the guard of that is
                            # tested on its own (tests/etl/test_guard.py); its row guard is modelled.
                            allow_schema_change=case.live)
    except RodataError as exc:
        return exc


def _build_cli(case: Case, work: Path, root: Path, rejects: str | None) -> Any:
    args = [sys.executable, "-m", "rodata", "build", *map(str, case.files), "--dataset", "d", "--key", case.key,
            "--data-root", str(root), "--workers", str(case.workers), "--on-duplicate", case.on_duplicate,
            "--json", "--no-progress", *(["--allow-schema-change"] if case.live else [])]
    if case.schema:
        path = work / "schema.json"
        path.write_text(json.dumps(case.schema, ensure_ascii=False))
        args += ["--schema", str(path)]
    if case.max_bad:
        args += ["--max-bad-rows", str(case.max_bad), "--rejects", str(rejects)]
    if case.chunk_bytes:
        args += ["--chunk-size", str(case.chunk_bytes)]
    if case.memory_limit:
        args += ["--memory-limit", str(case.memory_limit)]
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src") + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run(args, capture_output=True, text=True, env=env, timeout=300)
    if proc.returncode == 0:
        return json.loads(proc.stdout)
    return proc.returncode, proc.stderr


def _check_error(case: Case, expected: Expected, outcome: Any) -> None:
    assert expected.error is not None
    kind, message = expected.error
    first = expected.bad[0] if expected.bad else None
    pattern = re.escape(message)
    if first is not None and first.column is None:  # a malformed JSON line: where exactly is the parser's call
        pattern = pattern.replace(re.escape(f":{first.line}:None:"), f":{first.line}:[0-9]+:")
    if isinstance(outcome, tuple):
        code, stderr = outcome
        if code != 3 or not re.fullmatch(f"rodata: error: {pattern}\n", stderr):
            raise Mismatch(f"exit {code}, stderr {stderr!r}; expected exit 3 and {message!r}")
        return
    if type(outcome).__name__ != kind or not re.fullmatch(pattern, str(outcome)):
        raise Mismatch(f"got {type(outcome).__name__}: {outcome}; expected {kind}: {message}")


def _check_version(path: Path, expected: Expected) -> None:
    rodata.validate(path)  # deep validation: every structural invariant of what was published
    with rodata.open(path) as ds:
        cols = [(c.name, c.type, c.dim if c.type == "vector" else 1, c.nullable) for c in ds.schema.columns]
        if cols != expected.columns:
            raise Mismatch(f"schema {cols} != expected {expected.columns}")
        if len(ds) != len(expected.rows):
            raise Mismatch(f"{len(ds)} rows published, expected {len(expected.rows)}")
        for n, (name, type_, _dim, _null) in enumerate(expected.columns):
            got = published(ds, name, type_)
            want = [row[n] for row in expected.rows]
            if got != want:
                at = next(i for i, (a, b) in enumerate(zip(got, want, strict=True)) if a != b)
                raise Mismatch(f"column {name!r} row {at} (key {expected.rows[at][_key_index(ds)]!r}): "
                               f"published {got[at]!r}, expected {want[at]!r}")


def _key_index(ds: Any) -> int:
    return next(i for i, c in enumerate(ds.schema.columns) if c.name == ds.schema.key)


def published(ds: Any, name: str, type_: str) -> list[Any]:
    """Every value of a published column, canonical (nulls as None)."""
    values = ds.column(name)
    valid = ds.validity(name)
    if type_ in ("date", "timestamp"):
        values = values.astype("int64")
    out = values if isinstance(values, list) else (list(values) if type_ == "vector" else values.tolist())
    if type_ == "vector":
        out = [tuple(v.tolist()) for v in out]
        out = [tuple(_f32(x) for x in v) for v in out]
    if valid is not None:
        out = [v if ok else None for v, ok in zip(out, valid.tolist(), strict=True)]
    return [canon(v, type_) for v in out]


def _f32(x: float) -> Any:
    import numpy as np

    return np.float32(x)


def _check_rejects(rejects: str | None, expected: Expected) -> None:
    lines = Path(rejects).read_text().splitlines() if rejects and Path(rejects).exists() else []
    got = [json.loads(line) for line in lines]
    if len(got) != len(expected.bad):
        raise Mismatch(f"{len(got)} rejected records, expected {len(expected.bad)}: {got[:3]} vs {expected.bad[:3]}")
    for doc, bad in zip(got, expected.bad, strict=True):
        record = (doc["record"].encode() if "record_base64" not in doc else
                  __import__("base64").b64decode(doc["record_base64"]))
        want = (bad.file, bad.line, bad.column if bad.column is not None else doc["column"], bad.reason)
        have = (doc["file"], doc["line"], doc["column"], doc["reason"])
        if have != want or (bad.record and record != bad.record):
            raise Mismatch(f"rejected {have} {record!r}, expected {want} {bad.record!r}")


def run_seed(seed: int, fmt: str | None = None, keep: Path | None = None, *, large: bool = False) -> Expected:
    """One case in a temporary directory (kept in `keep` when given, or when it fails)."""
    work = Path(tempfile.mkdtemp(prefix=f"rodata-diff-{seed}-"))
    try:
        case = make_case(seed, work, fmt, large=large)
        try:
            expected = run_case(case, work)
        except Mismatch as exc:
            raise Mismatch(f"seed {seed} ({case.format}; files in {work}): {exc}\n  case: {case.describe()}") from None
        if keep is None:
            shutil.rmtree(work, ignore_errors=True)
        return expected
    except BaseException:
        if keep is not None:
            shutil.copytree(work, keep, dirs_exist_ok=True)
        raise


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.etl.differential", description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=1.0, help="how long to run (default 1)")
    parser.add_argument("--seed", type=int, help="run this one case only")
    parser.add_argument("--start", type=int, default=100_000, help="first seed of a timed run (default 100000)")
    parser.add_argument("--format", choices=("csv", "jsonl", "parquet"), help="only this format")
    parser.add_argument("--keep", type=Path, help="keep the case's files here")
    args = parser.parse_args(argv)
    if args.seed is not None:
        expected = run_seed(args.seed, args.format, args.keep)
        print(f"seed {args.seed}: ok ({'error' if expected.error else f'{len(expected.rows)} rows'})")
        return 0
    deadline = time.monotonic() + args.minutes * 60
    seed, counts, failures = args.start, Counter[str](), 0
    while time.monotonic() < deadline:
        try:
            expected = run_seed(seed, args.format)
            counts["error" if expected.error else "built"] += 1
            counts["rows"] += len(expected.rows)
            counts["rejected"] += len(expected.bad)
        except Mismatch as exc:
            failures += 1
            print(f"MISMATCH {exc}", file=sys.stderr, flush=True)
        except Exception:  # the suite's own fault or a crash of the build: reported the same way
            failures += 1
            print(f"FAILED seed {seed}:\n{traceback.format_exc()}", file=sys.stderr, flush=True)
        seed += 1
    cases = counts["built"] + counts["error"] + failures
    print(f"{cases} cases (seeds {args.start}..{seed - 1}): {counts['built']} built, {counts['error']} refused as "
          f"expected, {failures} mismatches; {counts['rows']:,} rows and {counts['rejected']:,} rejected records "
          "compared")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
