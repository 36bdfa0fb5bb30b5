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
from dataclasses import dataclass

__all__ = ["FIXED", "KNOWN", "Finding", "Known", "is_known", "signature"]


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


#: Open findings (see docs/fuzzing.md for each one's analysis).
KNOWN: tuple[Known, ...] = (
    Known("segment-schema-unhashable-type", "segment", "TypeError", "_parse_schema", r"unhashable type",
          ("segment/schema-type-list.seg", "segment/schema-type-dict.seg"),
          "a schema column whose 'type' is a list or object: TypeError from the membership test "
          "`spec.get('type') not in _TYPE_CODES` in Segment._parse_schema, instead of FormatError"),
)

#: Findings fixed since: their reproducers must now pass (tests/fuzz replays them).
FIXED: tuple[Known, ...] = ()


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


def is_known(target: str, exc: BaseException) -> bool:
    """True for an open finding of `target` listed in :data:`KNOWN`, or one already met in this run."""
    if any(k.target == target and matches(k, exc) for k in KNOWN):
        return True
    return signature(exc) in _SKIP
