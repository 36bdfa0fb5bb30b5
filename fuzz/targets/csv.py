"""Target ``csv``: the compiled CSV tokenizer (``rodata._core._text.CsvTokenizer``), fed as
the ETL's workers feed it; see :mod:`fuzz.textharness` for the input layout and the checks."""

from __future__ import annotations

import contextlib
from pathlib import Path

from fuzz import textharness
from fuzz.textharness import Variant
from rodata._core import _text

NAME = "csv"
MAX_LEN = 8 * 1024
MODES = ("default",)
DICT = "csv.dict"

_NULLS = (b"", b"NA", b"N/A", b"NULL", b"null", b"NaN", b"nan")  # the ETL's default null texts
_EVERY = (("id", "int64", 1, False, True, True), ("name", "string", 1, False, False, False),
          ("score", "float64", 1, False, False, False), ("flag", "bool", 1, False, False, False),
          ("day", "date", 1, False, False, False), ("ts", "timestamp", 1, False, False, False),
          ("emb", "vector", 3, False, False, False), ("raw", "bytes", 1, False, False, False),
          ("small", "int8", 1, False, False, False), ("u", "uint32", 1, False, False, False),
          ("f", "float32", 1, False, True, False), ("big", "uint64", 1, False, False, False))

VARIANTS = (
    Variant(_EVERY, _NULLS, tuple(range(len(_EVERY)))),
    # A string key, a dropped field, tabs, only the empty field null.
    Variant((("k", "string", 1, False, True, True), ("v", "int64", 1, False, True, False),
             ("w", "int16", 1, False, False, False)), (b"",), (0, -1, 1, 2), b"\t"),
    # The first pass over an input: inferred types widen instead of failing.
    Variant((("id", "int64", 1, False, True, True), ("a", "int8", 1, True, False, False),
             ("b", "date", 1, True, False, False), ("c", "bool", 1, True, False, False),
             ("d", "vector", 2, True, False, False), ("e", "int64", 1, True, False, False)), _NULLS,
            tuple(range(6)), b";", b"'"),
    # Inference's sample (rodata.etl.infer.sample_csv): classify only.
    Variant(tuple((f"f{i}", "infer", 1, False, False, False) for i in range(4)), _NULLS, tuple(range(4))),
    # No quoting at all.
    Variant((("id", "int64", 1, False, True, True), ("s", "string", 1, False, False, False),
             ("t", "timestamp", 1, False, False, False)), _NULLS, (0, 1, 2), b"|", b""),
)

SAMPLES = (
    b'1,ada,1.5,true,2024-02-29,2024-01-01T00:00:00Z,"[1,2,3]",\\x00,-128,4294967295,0.1,18446744073709551615\n'
    b'-9223372036854775808,"quoted, with ""quotes""\nand a newline",NaN,0,0001-01-01,1677-09-21T00:12:43.145224192Z,'
    b'"[0.5, -1e38, 3]",,127,0,-0,0\r\n'
    b"2,NA,,,9999-12-31,2262-04-11T23:47:16.854775807Z,,NULL,,,1e-45,\n",
    b"k1\tdrop\t1\t-32768\nk\xc3\xa9\tx\t-9223372036854775808\t32767\n\tx\t3\t\n",
    b"1;5;2024-01-01;true;'[1,2]';9\n2;300;'2024-13-01';maybe;'[1]';9.5\n3;;;;;\n",
    b'a,1,2024-01-01,"[1,2]"\nb,2.5,true,x\n,,,\n',
    b"1|plain|2024-01-01T10:00:00+02:00\n2|quote\"inside|2024-01-01 10:00:00\n3||\n",
)


def seeds(out: Path) -> list[Path]:
    written = []
    for v in range(len(VARIANTS)):
        for j, sample in enumerate(SAMPLES):
            path = out / f"seed-v{v}-{j}.csv"
            path.write_bytes(bytes([v, 7 * j, 3 * j + v]) + sample)
            written.append(path)
    return written


def setup(mode: str) -> None:
    pass


def _make(v: Variant) -> _text.CsvTokenizer:
    return _text.CsvTokenizer(list(v.columns), list(v.field_map), list(v.null_values), v.delimiter, v.quote,
                              rows_hint=16)


def one_input(data: bytes) -> None:
    textharness.run(data, VARIANTS, _make)
    if len(data) > 3:
        _helpers(data[3:], VARIANTS[data[0] % len(VARIANTS)])


def _helpers(text: bytes, v: Variant) -> None:
    """The module's scanning helpers, called as the ETL's planner and bad-record reporter call them."""
    import numpy as np

    buf = np.frombuffer(text, dtype=np.uint8)
    _text.count_quotes_newlines(buf, v.quote or b'"')
    for pos in (0, len(buf) // 2, len(buf)):
        for in_quote in (False, True):
            found, _lines = _text.find_record_start(buf, pos, in_quote, v.quote)
            if found > len(buf):
                from fuzz.outcome import Finding

                raise Finding("bad-output", f"find_record_start gave {found} past the end {len(buf)}")
        _text.column_of(buf, pos, 0)
        _text.count_newlines_in(buf, 0, pos)
    # The bad-record reporter (rodata.etl.workers._split_fields) takes ValueError as "unsplittable".
    with contextlib.suppress(ValueError):
        _text.csv_split_record(buf, 0, v.delimiter, v.quote, True)
