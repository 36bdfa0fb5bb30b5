"""The reference rules of the differential suite for single values: how a text (a CSV field, a
JSON string or number) reads as each column type, and what kind it counts as for inference.

Written from docs/etl.md ("Types and inference", "The schema file", "Bad input") in plain
Python -- none of rodata's code -- so that the suite compares two readings of the same input.
Where the docs leave a detail open the rule here says what rodata documents now (etl.md,
"Inference, exactly")."""

from __future__ import annotations

import datetime as dt
import math
import re
import struct
from typing import Any

import numpy as np

INT_RANGES = {"int8": (-(1 << 7), (1 << 7) - 1), "int16": (-(1 << 15), (1 << 15) - 1),
              "int32": (-(1 << 31), (1 << 31) - 1), "int64": (-(1 << 63), (1 << 63) - 1),
              "uint8": (0, (1 << 8) - 1), "uint16": (0, (1 << 16) - 1), "uint32": (0, (1 << 32) - 1),
              "uint64": (0, (1 << 64) - 1)}
NS_MIN_SECONDS, NS_MAX_SECONDS = -9223372035, 9223372035  # whole seconds int64 nanoseconds hold, with margin
EPOCH_ORDINAL = dt.date(1970, 1, 1).toordinal()

_INT = re.compile(rb"[+-]?[0-9]+")
_FLOAT = re.compile(rb"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_FLOAT_WORD = re.compile(rb"[+-]?(?:inf|infinity|nan)", re.IGNORECASE)
_DATE = re.compile(rb"([0-9]{4})-([0-9]{2})-([0-9]{2})")
_TIME = re.compile(rb"[Tt ]([0-9]{2}):([0-9]{2})(?::([0-9]{2})(?:[.,]([0-9]+))?)?(Z|z|[+-][0-9]{2}(?::?[0-9]{2})?)?")
_VECTOR_SEP = re.compile(rb"[ \t\r\n]*[,;][ \t\r\n]*|[ \t\r\n]+")


class Fault(Exception):
    """A value that does not read as its column's type: `code` as in docs/etl.md's table."""

    def __init__(self, code: str, at: int = 0) -> None:
        super().__init__(code)
        self.code = code
        self.at = at  # byte offset of the fault inside the value (UTF-8 faults)


def utf8_fault(text: bytes) -> int | None:
    """The offset of the first byte that makes `text` not UTF-8, or None."""
    try:
        text.decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc.start
    return None


def parse_int(text: bytes, type_: str) -> int:
    if not _INT.fullmatch(text):
        raise Fault("syntax")
    value = int(text)
    lo, hi = INT_RANGES[type_]
    if type_ == "uint64" and text.startswith(b"-") and value == 0:
        return 0
    if not lo <= value <= hi:
        raise Fault("range")
    return value


def parse_float(text: bytes) -> float:
    if _FLOAT_WORD.fullmatch(text):
        word = text.lstrip(b"+-").lower()
        if word == b"nan":
            return math.nan
        return -math.inf if text.startswith(b"-") else math.inf
    if not _FLOAT.fullmatch(text):
        raise Fault("syntax")
    value = float(text)
    if math.isinf(value):
        raise Fault("range")  # a finite literal beyond a double
    return value


def to_float32(value: float) -> np.float32:
    with np.errstate(over="ignore"):
        f = np.float32(value)
    if math.isinf(f) and not math.isinf(value):
        raise Fault("range")
    return f


def parse_bool(text: bytes, *, lenient: bool) -> bool:
    word = text.lower()
    if word in (b"true", b"false"):
        return word == b"true"
    if lenient:
        if word in (b"t", b"yes", b"y") or text == b"1":
            return True
        if word in (b"f", b"no", b"n") or text == b"0":
            return False
    raise Fault("syntax")


def parse_date(text: bytes) -> int:
    """Days since 1970-01-01 of ``YYYY-MM-DD`` (years 1 to 9999)."""
    m = _DATE.fullmatch(text)
    if not m:
        raise Fault("syntax")
    try:
        day = dt.date(int(m[1]), int(m[2]), int(m[3]))
    except ValueError:
        raise Fault("syntax") from None
    return day.toordinal() - EPOCH_ORDINAL


def parse_timestamp(text: bytes) -> tuple[int, bool]:
    """(UTC nanoseconds, has a time part) of an ISO 8601 timestamp (docs/etl.md)."""
    days = parse_date(text[:10])
    if len(text) < 10:
        raise Fault("syntax")
    seconds, frac, has_time = 0, 0, False
    if len(text) > 10:
        m = _TIME.fullmatch(text, 10)
        if not m:
            raise Fault("syntax")
        hh, mm = int(m[1]), int(m[2])
        ss = int(m[3]) if m[3] else 0
        if hh > 23 or mm > 59 or ss > 60:
            raise Fault("syntax")
        ss = min(ss, 59)  # a leap second reads as the last second of its minute
        frac = int((m[4] or b"")[:9].ljust(9, b"0"))
        seconds = hh * 3600 + mm * 60 + ss
        offset = m[5] or b"Z"
        if offset not in (b"Z", b"z"):
            oh, om = int(offset[1:3]), int(offset[-2:]) if len(offset) > 3 else 0
            if oh > 23 or om > 59:
                raise Fault("syntax")
            seconds -= (oh * 3600 + om * 60) * (-1 if offset[:1] == b"-" else 1)
        has_time = True
    total = days * 86400 + seconds
    if not NS_MIN_SECONDS <= total <= NS_MAX_SECONDS:
        raise Fault("range")
    return total * 1_000_000_000 + frac, has_time


def parse_vector(text: bytes, dim: int) -> tuple[np.float32, ...]:
    """``[1, 2.5]``, ``1 2.5`` or ``1;2.5`` into `dim` float32 values."""
    body = text.lstrip(b" \t")
    if body.startswith(b"["):
        body = body[1:].rstrip(b" \t")
        if not body.endswith(b"]"):
            raise Fault("syntax")
        body = body[:-1]
    body = body.strip(b" \t\r\n")
    tokens = _VECTOR_SEP.split(body) if body else []
    out = []
    for token in tokens:
        if len(out) >= dim:
            raise Fault("vector_length")
        out.append(to_float32(parse_float(token)))
    if len(out) != dim:
        raise Fault("vector_length")
    return tuple(out)


def parse_text(text: bytes, type_: str, dim: int = 1) -> Any:
    """`text` (not null) as a declared column of `type_`; raises Fault.  Any column but bytes
    holds text: a value that is not UTF-8 is a fault whatever the type."""
    if type_ == "bytes":
        return text
    at = utf8_fault(text)
    if at is not None:
        raise Fault("utf8", at)
    if type_ in INT_RANGES:
        return parse_int(text, type_)
    if type_ == "float64":
        return parse_float(text)
    if type_ == "float32":
        return to_float32(parse_float(text))
    if type_ == "bool":
        return parse_bool(text, lenient=True)
    if type_ == "date":
        return parse_date(text)
    if type_ == "timestamp":
        return parse_timestamp(text)[0]
    if type_ == "string":
        return text.decode("utf-8")
    if type_ == "vector":
        return parse_vector(text, dim)
    raise ValueError(type_)


# -- inference ---------------------------------------------------------------------------------


def date_kind(text: bytes) -> str:
    """"date", "date_wide" (a date no timestamp holds), "timestamp", or "string"."""
    try:
        if len(text) == 10:
            days = parse_date(text)
            return "date" if NS_MIN_SECONDS <= days * 86400 <= NS_MAX_SECONDS else "date_wide"
        _ns, has_time = parse_timestamp(text)
        return "timestamp" if has_time else "date"
    except Fault:
        return "string"


def csv_kind(text: bytes) -> str:
    """The kind of a non-null CSV text: bool, int, float, date, date_wide, timestamp, string."""
    if not text:
        return "string"
    first = text[:1]
    if first.isdigit() or (first in (b"+", b"-") and len(text) > 1):
        if _INT.fullmatch(text):
            if not INT_RANGES["int64"][0] <= int(text) <= INT_RANGES["int64"][1]:
                return "float"  # an integer beyond int64
            digits = text.lstrip(b"+-")
            return "string" if len(digits) > 1 and digits.startswith(b"0") else "int"  # "007" is a code
        if len(text) >= 10 and text[4:5] == b"-" and date_kind(text) != "string":
            return date_kind(text)
        return _float_kind(text)
    if first in (b".", b"i", b"I"):
        return _float_kind(text)
    if text.lower() in (b"true", b"false"):
        return "bool"
    return "string"


def _float_kind(text: bytes) -> str:
    try:
        parse_float(text)
    except Fault:
        return "string"
    return "float"


def resolve(kinds: set[str]) -> str:
    """The type a column's set of kinds resolves to ("vector" needs every array one length)."""
    kinds = kinds - {"null"}
    if not kinds or kinds & {"string", "vector_mixed"}:
        return "string"
    if "vector" in kinds:
        return "vector" if kinds == {"vector"} else "string"
    if kinds == {"bool"}:
        return "bool"
    if kinds == {"int"}:
        return "int64"
    if kinds <= {"int", "float"}:
        return "float64"
    if kinds <= {"date", "date_wide"}:
        return "date"
    if kinds <= {"date", "timestamp"}:
        return "timestamp"
    return "string"


# -- comparable values ---------------------------------------------------------------------------


def canon(value: Any, type_: str) -> Any:
    """A value in a form that compares exactly: floats by their bits (any NaN is NaN)."""
    if value is None:
        return None
    if type_ == "float64":
        return "nan" if math.isnan(value) else struct.pack("<d", float(value))
    if type_ == "float32":
        return "nan" if math.isnan(value) else np.float32(value).tobytes()
    if type_ == "vector":
        return tuple(canon(v, "float32") for v in value)
    if type_ == "bool":
        return bool(value)
    if type_ in INT_RANGES or type_ in ("date", "timestamp"):
        return int(value)
    return value
