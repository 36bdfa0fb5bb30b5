"""The harness shared by the ``csv`` and ``jsonl`` targets: the compiled tokenizers of
``rodata._core._text``, driven the way the ETL's workers drive them (rodata.etl.workers).

An input is three control bytes and the text: byte 0 picks the schema variant, byte 1 how
the text is cut into blocks, byte 2 where the rows parsed so far are taken out (``finish``,
as a worker spills a run when its memory budget is reached).  The text is parsed

- once whole (one buffer, end of data known): the reference;
- as a stream of blocks, each feed seeing the carried-over partial record plus the next block,
  the end of data known only when an empty block comes (``_parse_stream``);
- as one mapped buffer fed in windows whose limit moves forward (``_parse_range``);

with bad records skipped and collected in each.  All three must give the same rows, the
same bad records (position, line, reason) and the same schema observations (widened types,
kinds seen, vector lengths, JSON fields met): a difference is a :class:`Finding`.  So is a
row the tokenizer accepts that breaks what a segment requires (a null key, a null in a
non-nullable column, string offsets out of order, invalid UTF-8 in a string, a bool byte
that is not 0/1, a date outside years 1-9999, line numbers that do not increase)."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from fuzz.feedback import bucket, tag
from fuzz.outcome import Finding
from rodata._core import _text
from rodata.schema import MAX_DATE_DAYS, MIN_DATE_DAYS

ColumnSpec = tuple[str, str, int, bool, bool, bool]


@dataclass(frozen=True)
class Variant:
    """A schema and dialect the tokenizer is built with."""

    columns: tuple[ColumnSpec, ...]
    null_values: tuple[bytes, ...]
    field_map: tuple[int, ...] = ()
    delimiter: bytes = b","
    quote: bytes = b'"'


@dataclass
class Parsed:
    """What one way of feeding the text produced."""

    rows: list[tuple[Any, ...]]
    bad: list[tuple[Any, ...]]
    observed: tuple[Any, ...]


def _canonical(variant: Variant, out: list[dict[str, Any] | None],
               lines: np.ndarray[Any, Any]) -> list[tuple[Any, ...]]:
    """The finished rows as tuples (line, then each column's value bytes or None), checked."""
    n = int(lines.shape[0])
    per_col: list[list[Any]] = []
    for spec, doc in zip(variant.columns, out, strict=False):
        if doc is None:  # "infer" columns store nothing
            continue
        per_col.append(_column_values(spec, doc, n))
    rows = [(int(lines[i]), *(c[i] for c in per_col)) for i in range(n)]
    if n > 1 and not bool(np.all(np.diff(lines) > 0)):
        raise Finding("bad-output", "line numbers of successive rows do not increase")
    return rows


def _column_values(spec: ColumnSpec, doc: dict[str, Any], n: int) -> list[Any]:
    name, type_, dim, _inferred, not_null, is_key = spec
    valid = doc["valid"]
    if valid is not None and (is_key or not_null) and not bool(valid.all()):
        raise Finding("bad-output", f"column {name!r} ({'key' if is_key else 'not nullable'}) holds a null")
    present = np.ones(n, dtype=bool) if valid is None else np.asarray(valid, dtype=bool)
    if len(present) != n:
        raise Finding("bad-output", f"column {name!r}: {len(present)} validity flags for {n} rows")
    if "offsets" in doc:
        offsets, data = doc["offsets"], doc["data"]
        if len(offsets) != n + 1 or offsets[0] != 0 or int(offsets[-1]) != len(data) or (
                n and not bool(np.all(np.diff(offsets.astype(np.int64)) >= 0))):
            raise Finding("bad-output", f"column {name!r}: string offsets out of order or not ending at the data")
        values = [bytes(data[int(offsets[i]) : int(offsets[i + 1])]) if present[i] else None for i in range(n)]
        if type_ == "string":
            for i, v in enumerate(values):
                if v is not None:
                    try:
                        v.decode("utf-8")
                    except UnicodeDecodeError:
                        raise Finding("bad-output", f"column {name!r} row {i}: invalid UTF-8 {v[:40]!r}") from None
        return values
    arr = doc["values"]
    if arr.shape[0] != n or (type_ == "vector" and arr.shape != (n, dim)):
        raise Finding("bad-output", f"column {name!r}: values of shape {arr.shape} for {n} rows")
    if type_ == "bool" and n and int(arr.view(np.uint8)[present].max(initial=0)) > 1:
        raise Finding("bad-output", f"column {name!r}: a bool byte that is not 0 or 1")
    if type_ == "date":
        days = arr.view(np.int64)[present]
        if days.size and (int(days.min()) < MIN_DATE_DAYS or int(days.max()) > MAX_DATE_DAYS):
            raise Finding("bad-output", f"column {name!r}: a date outside years 1-9999")
    raw = arr.view(np.uint8).reshape(n, -1) if n else arr
    return [raw[i].tobytes() if present[i] else None for i in range(n)]


class Feeder:
    """One tokenizer and the rows, bad records and observations it produced."""

    def __init__(self, make: Callable[[], Any], variant: Variant, spill: Callable[[], bool]) -> None:
        self.tok = make()
        self.variant = variant
        self.spill = spill
        self.rows: list[tuple[Any, ...]] = []
        self.bad: list[tuple[Any, ...]] = []

    def feed(self, buf: np.ndarray[Any, Any], base: int, pos: int, limit: int, eof: bool, line: int,
             ) -> tuple[int, int, int]:
        """As rodata.etl.workers._Chunk.feed: bad records are collected, then parsing goes on."""
        while True:
            status, new_pos, line = self.tok.feed(buf, pos, limit, eof, line)
            if not pos <= new_pos <= len(buf):
                raise Finding("bad-output", f"feed() moved from {pos} to {new_pos} in a buffer of {len(buf)}")
            pos = new_pos
            if status == _text.STATUS_BAD:
                code, start, end, at, field, rec_line = self.tok.error()
                if not (0 <= start <= at <= len(buf) and start <= end <= len(buf)):
                    raise Finding("bad-output", f"bad record at [{start}, {end}) fault {at} outside the buffer")
                self.bad.append((code, base + start, base + end, base + at, field, rec_line))
                tag("text", "bad", code, field)
                continue
            if self.spill():
                self.take()
            return status, pos, line

    def take(self) -> None:
        out, lines = self.tok.finish()
        self.rows.extend(_canonical(self.variant, out, lines))

    def result(self) -> Parsed:
        self.take()
        new_fields = self.tok.new_fields() if hasattr(self.tok, "new_fields") else []
        observed = (sorted(self.tok.widened().items()), self.tok.seen_kinds(), self.tok.vector_dims(),
                    sorted((f[0], f[1], f[3]) for f in new_fields))
        return Parsed(self.rows, self.bad, observed)


def _whole(feeder: Feeder, data: bytes) -> Parsed:
    buf = np.frombuffer(data, dtype=np.uint8)
    status, pos, _line = feeder.feed(buf, 0, 0, len(buf), True, 1)
    if status != _text.STATUS_DONE or pos != len(buf):
        raise Finding("bad-output", f"a whole-buffer feed ended with status {status} at {pos} of {len(buf)}")
    return feeder.result()


def _stream(feeder: Feeder, data: bytes, sizes: Sequence[int]) -> Parsed:
    """rodata.etl.workers._parse_stream: blocks, the partial record carried into the next."""
    base, line, carry, at, k = 0, 1, b"", 0, 0
    while True:
        size = sizes[k % len(sizes)]
        k += 1
        block = data[at : at + size]
        at += len(block)
        eof = not block
        chunk = carry + block if carry else block
        buf = np.frombuffer(chunk, dtype=np.uint8)
        status, pos, line = feeder.feed(buf, base, 0, len(buf), eof, line)
        if status == _text.STATUS_DONE and eof:
            break
        carry = chunk[pos:]
        base += pos
        if k > 4 * len(data) + 16:
            raise Finding("hang", "the stream of blocks does not end")
    return feeder.result()


def _windows(feeder: Feeder, data: bytes, sizes: Sequence[int]) -> Parsed:
    """rodata.etl.workers._parse_range: one buffer, fed up to a limit that moves forward."""
    buf = np.frombuffer(data, dtype=np.uint8)
    pos, line, k = 0, 1, 0
    while pos < len(buf):
        limit = min(len(buf), pos + sizes[k % len(sizes)])
        k += 1
        _status, new_pos, line = feeder.feed(buf, 0, pos, limit, True, line)
        if new_pos < limit:
            raise Finding("hang", f"feed() up to {limit} stopped at {new_pos}: the worker's loop would not end")
        pos = new_pos
    return feeder.result()


def run(data: bytes, variants: Sequence[Variant], make: Callable[[Variant], Any]) -> None:
    """One input of a text target (see the module docstring)."""
    if len(data) < 3:
        return
    variant = variants[data[0] % len(variants)]
    rng = random.Random(data[1])
    sizes = [rng.choice((1, 2, 3, 7, 16, 61, 256, 4096)) for _ in range(8)]
    spill_rng = random.Random(data[2])
    text = data[3:]

    def never() -> bool:
        return False

    def sometimes() -> bool:
        return spill_rng.random() < 0.3

    reference = _whole(Feeder(lambda: make(variant), variant, never), text)
    tag("text", "variant", data[0] % len(variants), "rows", bucket(len(reference.rows)), "bad",
        bucket(len(reference.bad)))
    for obs in reference.observed[0]:
        tag("text", "widened", *obs)
    for how, parsed in (("stream", _stream(Feeder(lambda: make(variant), variant, sometimes), text, sizes)),
                        ("windows", _windows(Feeder(lambda: make(variant), variant, sometimes), text, sizes))):
        _compare(how, reference, parsed)


def _compare(how: str, ref: Parsed, got: Parsed) -> None:
    for what, a, b in (("rows", ref.rows, got.rows), ("bad records", ref.bad, got.bad),
                       ("observations", ref.observed, got.observed)):
        if a != b:
            i = next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))
            first = (a[i] if i < len(a) else "(none)", b[i] if i < len(b) else "(none)")
            raise Finding("split-dependent", f"{what} differ when fed as {how}: {len(a)} vs {len(b)}; "
                          f"first difference at {i}: {str(first[0])[:160]} vs {str(first[1])[:160]}")
