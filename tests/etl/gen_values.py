"""Seeded generators of the differential suite: value texts for CSV fields and raw JSON values,
drawn per column "family" (ints of a width, floats, bools, dates, timestamps, strings...), with
the awkward cases on purpose: int64 extremes, unicode beyond the BMP, quotes, delimiters and line
breaks, empty strings, null spellings, dates of any year, numbers that look like codes."""

from __future__ import annotations

import json
import random
import struct

from .ref_values import INT_RANGES

WIDTHS = list(INT_RANGES)
DECLARED = {  # family -> declared types that hold its values (None: inferred)
    "int": [None, None, "int64", "int"], "float": [None, None, "float64", "float32", "double"],
    "bool": [None, "bool", "boolean"], "date": [None, "date", "timestamp"], "date_wide": [None, "date"],
    "timestamp": [None, "timestamp", "datetime"], "string": [None, None, "string", "str", "bytes"],
    "code": [None, "string"], "big_int": [None, "float64"], "mixed": [None], "allnull": [None, "int32", "string"],
    "bytes": ["bytes"], "vector": ["vector"], "nested": [None, "string"],
}
WORDS = ["plain", "with, comma", 'with "quotes"', "two\nlines", "crlf\r\ninside", "ünïcödé", "日本語", "😀 astral",
         "𝄞 clef", "tab\tinside", " lead", "trail ", "NA ", "na", "n/a", "Null", "None", "-", "'single'", "a;b",
         "ß", "\u200b", "e\u0301", "0", "12", "1.5", "true", "2024-01-01", "#", "\\back\\slash"]


def int_text(rng: random.Random, width: str) -> str:
    lo, hi = INT_RANGES[width]
    pick = rng.random()
    if pick < 0.15:
        return str(rng.choice([lo, hi, 0, min(hi, 1), max(lo, -1) if lo < 0 else 1]))
    if pick < 0.2 and lo < 0:
        return "-0"
    return str(rng.randint(max(lo, -(10 ** rng.randint(1, 19))), min(hi, 10 ** rng.randint(1, 20))))


def float_text(rng: random.Random) -> str:
    pick = rng.random()
    if pick < 0.08:
        return rng.choice(["inf", "-inf", "Infinity", "-0.0", "0.0", "1e-320", "1.7976931348623157e308", ".5", "5.",
                           "1E3", "-2.5e-3", "+1.5"])
    x = struct.unpack("<d", rng.randbytes(8))[0] if pick < 0.25 else rng.uniform(-1e6, 1e6)
    if x != x or x in (float("inf"), float("-inf")):
        x = 0.5
    return rng.choice([repr(x), f"{x:.3f}", f"{x:e}", f"{x:.17g}", str(int(x))])


def date_text(rng: random.Random, wide: bool) -> str:
    year = rng.choice([1, 1000, 1677, 2263, 9999, rng.randint(1, 9999)]) if wide else rng.randint(1678, 2261)
    month = rng.randint(1, 12)
    day = rng.randint(1, 28 if month == 2 else 30)
    return f"{year:04d}-{month:02d}-{day:02d}"


def timestamp_text(rng: random.Random) -> str:
    text = date_text(rng, False)
    if rng.random() < 0.1:
        return text  # a date alone is midnight
    text += rng.choice(["T", "T", "t", " "])
    text += f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}"
    if rng.random() < 0.8:
        text += f":{rng.choice([0, 59, 60, rng.randint(0, 59)]):02d}"
        if rng.random() < 0.5:
            text += rng.choice(".,") + "".join(rng.choice("0123456789") for _ in range(rng.randint(1, 12)))
    text += rng.choice(["", "Z", "z", "+02:00", "-05:30", "+0100", "-03", "+23:59"])
    return text


def string_text(rng: random.Random, *, plain: bool = False) -> str:
    """A string value; `plain`: no delimiter, quote or line break (for CSV without quoting)."""
    if plain:
        words = ["plain", "ünïcödé", "日本", "😀", "x y", "", "NA ", "na", "12", "𝄞"]
        return rng.choice(words) + str(rng.randint(0, 99))
    parts = [rng.choice(WORDS) for _ in range(rng.randint(0, 3))]
    if rng.random() < 0.2:
        parts.append("".join(chr(rng.choice([rng.randint(0x20, 0x7e), rng.randint(0xa0, 0xd7ff),
                                              rng.randint(0xe000, 0xfffd), rng.randint(0x10000, 0x10ffff)]))
                             for _ in range(rng.randint(1, 8))))
    return "".join(parts)


def family_text(rng: random.Random, family: str, width: str = "int64", dim: int = 1, plain: bool = False) -> str:
    """A CSV text of `family` (never a null token on purpose; the caller spells nulls)."""
    if family == "int":
        return int_text(rng, width)
    if family == "float":
        return float_text(rng)
    if family == "bool":
        return rng.choice(["true", "false", "TRUE", "False", "tRuE"])
    if family in ("date", "date_wide"):
        return date_text(rng, family == "date_wide")
    if family == "timestamp":
        return timestamp_text(rng)
    if family == "code":
        return "0" + str(rng.randint(0, 9999))
    if family == "big_int":
        return str(rng.choice([1, -1]) * rng.randint(2**63, 2**70))
    if family == "vector":
        values = [repr(float(struct.unpack("<f", struct.pack("<f", rng.uniform(-10, 10)))[0])) for _ in range(dim)]
        sep = rng.choice([", ", ",", " ", ";", " ; "])
        text = sep.join(values)
        return f"[{text}]" if rng.random() < 0.6 else text
    if family == "mixed":
        return family_text(rng, rng.choice(["int", "float", "bool", "date", "timestamp", "string", "code"]),
                           plain=plain)
    if family == "numeric":
        return family_text(rng, rng.choice(["int", "float"]))
    return string_text(rng, plain=plain)


def bytes_value(rng: random.Random) -> bytes:
    return rng.choice([rng.randbytes(rng.randint(0, 6)), b"\xff\xfe", b"caf\xc3\xa9", b"\x00zero", b"ok"])


def json_string(text: str | bytes, rng: random.Random) -> bytes:
    """A JSON string literal of `text`, escaped in one of several ways (raw bytes kept as they are)."""
    if isinstance(text, bytes):  # raw bytes (maybe not UTF-8), control characters made printable
        body = bytes(b if b >= 0x20 else 0x3F for b in text).replace(b"\\", b"\\\\").replace(b'"', b'\\"')
        return b'"' + body + b'"'
    style = rng.random()
    if style < 0.5:
        return json.dumps(text, ensure_ascii=False).encode("utf-8")
    if style < 0.8:
        return json.dumps(text, ensure_ascii=True).encode("utf-8")
    return json.dumps(text, ensure_ascii=False).replace("/", "\\/").encode("utf-8")


def json_number(rng: random.Random, family: str, width: str = "int64") -> bytes:
    if family == "int":
        return int_text(rng, width).encode()
    if family == "big_int":
        return family_text(rng, "big_int").encode()
    pick = rng.random()
    if pick < 0.05:
        return rng.choice([b"NaN", b"Infinity", b"-Infinity", b"-0.0", b"1E3", b"2.5e-3", b"1e300"])
    x = rng.uniform(-1e6, 1e6) if pick < 0.9 else struct.unpack("<d", rng.randbytes(8))[0]
    if x != x or abs(x) == float("inf"):
        x = 0.25
    return json.dumps(x).encode()


def json_value(rng: random.Random, family: str, width: str = "int64", dim: int = 1) -> bytes:
    """A raw JSON value of `family`."""
    if family in ("int", "float", "big_int"):
        return json_number(rng, family, width)
    if family == "bool":
        return rng.choice([b"true", b"false"])
    if family == "vector":
        values = [json.dumps(rng.uniform(-1e3, 1e3)).encode() if rng.random() < 0.9 else
                  rng.choice([b"0", b"-0.0", b"1e-3", b"3.4e38", b"-7", b"1e39"]) for _ in range(dim)]
        sep = rng.choice([b", ", b",", b" , "])
        return b"[" + sep.join(values) + b"]"
    if family == "nested":
        doc = rng.choice([{"a": [1, {"b": "x"}]}, [1, "two", None], {}, [], [[1, 2], [3]], {"k": {"n": True}},
                          [1, 2, 3], {"s": "ü😀"}])
        return json.dumps(doc, ensure_ascii=rng.random() < 0.5, separators=rng.choice([(",", ":"), (", ", ": ")])
                          ).encode("utf-8")
    if family == "mixed":
        return json_value(rng, rng.choice(["int", "float", "bool", "string", "nested", "date"]))
    if family == "bytes":
        return json_string(bytes_value(rng), rng)
    return json_string(family_text(rng, family, width, dim), rng)
