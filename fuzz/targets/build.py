"""Target ``build``: ``rodata build`` end to end on a tiny input, in this process.

Byte 0 of the input picks the options (format, a schema file or inference, ``--max-bad-rows``
with a rejects file, ``--on-duplicate``); the rest is the input file.  The command line is
run through ``rodata.cli.main`` (so the exit status is the one a user sees): a build either
publishes (exit 0) or refuses the input (exit 3, bad input data).  Exit 1 (a runtime failure:
the ETL wrote something its own read-back refused, or failed otherwise), exit 2, or an
exception out of ``main`` is a finding.  A published version is then read whole and, where
the library has deep validation, every part must pass it.  Slow (a build per input): run it
for fewer inputs than the tokenizer targets, which cover the parsing itself far faster."""

from __future__ import annotations

import contextlib
import io
import json
import shutil
from pathlib import Path
from typing import Any

import rodata
from fuzz.feedback import Scratch, bucket, error_kind, tag
from fuzz.outcome import Finding
from fuzz.targets import csv as csv_target
from fuzz.targets import jsonl as jsonl_target

NAME = "build"
MAX_LEN = 2048
MODES = ("default",)
DICT = None

_SCHEMA = {"columns": {"id": "int64", "v": {"type": "int32", "nullable": True}, "when": "date"}}
_scratch: Scratch | None = None


def seeds(out: Path) -> list[Path]:
    written = []
    samples = [(0, s) for s in csv_target.SAMPLES[:3]] + [(1, s) for s in jsonl_target.SAMPLES[:3]]
    samples += [(0, b"id,v,when\n1,2,2024-01-01\n3,,\n2,5,1999-12-31\n"), (1, b'{"id": 1, "v": 2}\n{"id": 1}\n')]
    for i, (fmt, body) in enumerate(samples):
        for opts in (0, 2, 4, 6):
            if fmt == 0 and not body.startswith(b"id"):
                body = b"id,name,score,flag,day,ts,emb,raw,small,u,f,big\n" + body
            path = out / f"seed-{i}-{opts}.in"
            path.write_bytes(bytes([fmt | opts]) + body)
            written.append(path)
    return written


def setup(mode: str) -> None:
    global _scratch
    _scratch = Scratch(NAME)


def _command(opts: int, work: Path, source: Path) -> list[str]:
    fmt = "jsonl" if opts & 1 else "csv"
    argv = ["build", str(source), "--dataset", "fz", "--key", "id", "--data-root", str(work / "root"),
            "--format", fmt, "--workers", "1", "--no-progress"]
    if opts & 2:
        schema = work / "schema.json"
        schema.write_text(json.dumps(_SCHEMA))
        argv += ["--schema", str(schema)]
    if opts & 4:
        argv += ["--max-bad-rows", "3", "--rejects", str(work / "rejects.jsonl")]
    argv += ["--on-duplicate", ("error", "first", "last", "error")[(opts >> 3) & 3]]
    return argv


def one_input(data: bytes) -> None:
    if not data:
        return
    assert _scratch is not None
    work = _scratch.fresh("")
    work.mkdir()
    try:
        source = work / ("input.jsonl" if data[0] & 1 else "input.csv")
        source.write_bytes(data[1:])
        _build(data[0], work, source)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _build(opts: int, work: Path, source: Path) -> None:
    from rodata import cli

    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
        status = cli.main(_command(opts, work, source))
    message = err.getvalue().strip().splitlines()[-1:] or [""]
    tag(NAME, "exit", status, error_kind(Exception(message[0]), str(work)))
    if status == 3:
        return
    if status != 0:
        raise Finding(f"build-exit-{status}", f"rodata build exited {status}: {message[0][:300]}")
    _read_back(work / "root" / "fz")


def _read_back(dataset: Path) -> None:
    """A published version reads whole, and passes deep validation where the library has it."""
    from rodata import _core

    deep = getattr(_core, "deep_validate", None)
    try:
        with rodata.open(dataset) as ds:
            rows = sum(len(batch.to_pylist()) for batch in ds.scan())
            tag(NAME, "published", bucket(rows), len(ds.schema))
            if rows != len(ds):
                raise Finding("build-published-rows", f"{len(ds)} rows published, {rows} read by a scan")
            parts: list[Any] = ds._segments() if deep is not None else []
            for seg in parts:
                deep(seg)
    except rodata.RodataError as exc:
        raise Finding("build-published-unreadable", f"the published version fails to read: {exc}") from exc
