"""What counts as a finding, and the known open findings a run may step past.

An input may succeed or raise a :class:`rodata.RodataError`.  Anything else is a finding:
an exception of another type, a :class:`Finding` raised by a harness's own checks (a
served version whose read fails, a tokenizer whose result depends on how its input was
cut, ...), a crash, a hang or running out of memory (those three are caught by libFuzzer).

:data:`KNOWN` lists the findings already reported and not yet fixed.  A run treats an input
that reproduces exactly one of them as allowed (counted, not reported), so that it can go
on and surface new ones; tests/fuzz checks that each entry still reproduces from its file
under fuzz/regressions/, and says so once it no longer does (then move it to FIXED)."""

from __future__ import annotations

import os
import re
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

T = TypeVar("T")

__all__ = ["FIXED", "HITS", "KNOWN", "Finding", "Known", "guard", "is_known", "signature"]


class Finding(Exception):
    """A harness check that failed: wrong behaviour without an exception of its own."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code


@dataclass(frozen=True)
class Known:
    """One reported finding: the exception type, where it is raised, and its message."""

    id: str
    target: str
    exc_type: str  # the exception's class name (Finding for harness checks)
    where: str  # a substring of the innermost frame's function (or the Finding code)
    message: str  # a regular expression searched in the message
    regressions: tuple[str, ...]  # the reproducers, relative to fuzz/regressions/
    summary: str


_UNENCODABLE = r"Integer exceeds 64-bit range|surrogates not allowed"

#: Open findings (see docs/fuzzing.md for each one's analysis).
KNOWN: tuple[Known, ...] = ()

#: Findings fixed since: their reproducers must now pass (tests/fuzz replays them).
FIXED: tuple[Known, ...] = (
    Known("build-jsonl-kind-int", "build", "AttributeError", "_plan_jsonl", r"KIND_INT",
          ("build/jsonl-key-never-named.in",),
          "rodata build of JSON Lines whose sample never names the key: build.py's _plan_jsonl (19b6c4a) "
          "read infer.KIND_INT, which that commit did not define (29c958e defines it): a traceback and "
          "exit 1, not exit 3"),
    Known("segment-schema-unhashable-type", "segment", "TypeError", "_parse_schema", r"unhashable type",
          ("segment/schema-type-list.seg", "segment/schema-type-dict.seg"),
          "a schema column whose 'type' is a list or object: TypeError from the membership test "
          "`spec.get('type') not in _TYPE_CODES` in Segment._parse_schema, instead of FormatError"),
    Known("manifest-unencodable-inspect", "manifest", "TypeError", "_dumps", _UNENCODABLE,
          ("manifest/build-int-over-64-bits.json", "manifest/build-lone-surrogate.json"),
          "a manifest holding an integer beyond 64 bits or a lone surrogate (in 'build' or any unchecked "
          "field) is accepted, then `rodata inspect` dies in admin._dumps (orjson) with a traceback, exit 1"),
    Known("manifest-unencodable-detail", "manifest", "Finding", "served-route-fails", r"route detail .*(" +
          _UNENCODABLE + ")", ("manifest/build-int-over-64-bits.json", "manifest/build-lone-surrogate.json"),
          "the same manifests are served, and GET /v1/datasets/{name} raises TypeError in render.dumps "
          "(orjson) for them: a 500 for a version being served"),
    # Found by the jsonl target on 5444b21 (the commit before the JSON Lines fixes c7c5adb and cf7b651).
    Known("jsonl-spill-drops-a-row", "jsonl", "Finding", "split-dependent", r"rows differ",
          ("jsonl/spill-drops-a-row.jsonl",),
          "valid JSON Lines: after the rows parsed so far are taken out (a spill), the record after it "
          "is lost or gets another record's fields (the per-record stamp was the chunk's row count)"),
    Known("jsonl-absurd-string-length", "jsonl", "MemoryError", "_hand_over", r"Unable to allocate",
          ("jsonl/absurd-string-length.jsonl",),
          "after a rejected record, a string field absent from the next record counted as present, its "
          "offset leftover memory: finish() asked for a 128 TiB buffer (MemoryError in _hand_over)"),
    Known("jsonl-date-out-of-range", "jsonl", "Finding", "bad-output", r"date outside years",
          ("jsonl/date-out-of-range.jsonl",),
          "after a rejected record, the next record was accepted without its key, and its absent date "
          "column held leftover memory: a date outside years 1-9999"),
)


def _innermost(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    return frames[-1].name if frames else "?"


def signature(exc: BaseException) -> str:
    """``Type@function: message-shape``: stable across inputs that hit the same fault."""
    where = exc.code if isinstance(exc, Finding) else _innermost(exc)
    shape = re.sub(r"\d+", "#", str(exc))[:80]
    return f"{type(exc).__name__}@{where}: {shape}"


def matches(known: Known, exc: BaseException) -> bool:
    """True when `exc` is the finding `known` describes."""
    if type(exc).__name__ != known.exc_type:
        return False
    where = exc.code if isinstance(exc, Finding) else _innermost(exc)
    return known.where in where and re.search(known.message, str(exc)) is not None


def _session_known() -> set[str]:
    # Signatures found earlier in the same run (python -m fuzz.run passes them on restart).
    raw = os.environ.get("RODATA_FUZZ_SKIP", "")
    return {s for s in raw.split("\x1e") if s}


_SKIP = _session_known()


#: The known findings the current input ran into (ids; signatures for those met earlier in the run).
HITS: list[str] = []


def is_known(target: str, exc: BaseException) -> bool:
    """True for an open finding of `target` listed in :data:`KNOWN`, or one already met in this run."""
    ids = [k.id for k in KNOWN if k.target == target and matches(k, exc)]
    if not ids and signature(exc) in _SKIP:
        ids = [signature(exc)]
    HITS.extend(ids)
    return bool(ids)


def guard(target: str, fn: Callable[..., T], *args: Any) -> T | None:
    """``fn(*args)``, with a known finding stepped over (None) so that the input's later stages
    still run; any other exception propagates."""
    try:
        return fn(*args)
    except Exception as exc:
        from rodata import RodataError

        if isinstance(exc, RodataError) or not is_known(target, exc):
            raise
        return None
