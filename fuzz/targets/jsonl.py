"""Target ``jsonl``: the compiled JSON Lines tokenizer (``rodata._core._text.JsonTokenizer``), fed
as the ETL's workers feed it; see :mod:`fuzz.textharness` for the input layout and the checks."""

from __future__ import annotations

from pathlib import Path

from fuzz import textharness
from fuzz.targets.csv import _EVERY
from fuzz.textharness import Variant
from rodata._core import _text

NAME = "jsonl"
MAX_LEN = 8 * 1024
MODES = ("default",)
DICT = "jsonl.dict"

VARIANTS = (
    Variant(_EVERY, ()),
    # A string key, a vector, nested values kept as their JSON text, "NA" as null.
    Variant((("k", "string", 1, False, True, True), ("obj", "string", 1, False, False, False),
             ("vec", "vector", 4, False, False, False), ("n", "int32", 1, False, True, False)), (b"NA",)),
    # The first pass: inferred types widen instead of failing; unknown fields are collected.
    Variant((("id", "int64", 1, False, True, True), ("a", "int8", 1, True, False, False),
             ("b", "date", 1, True, False, False), ("c", "bool", 1, True, False, False),
             ("d", "vector", 2, True, False, False)), ()),
    # Inference's sample (rodata.etl.infer.sample_jsonl): no columns, every field is new.
    Variant((), ()),
)

SAMPLES = (
    b'{"id": 1, "name": "ada", "score": 1.5, "flag": true, "day": "2024-02-29", "ts": "2024-01-01T00:00:00Z",'
    b' "emb": [1, 2.5, -3e38], "raw": "\\u0000\\n", "small": -128, "u": 4294967295, "f": 0.1,'
    b' "big": 18446744073709551615}\n'
    b'{"id": -9223372036854775808, "name": null, "f": -0.0, "rare": {"x": [1, {"y": null}]}}\r\n'
    b'{"f": 1e-45, "id": 2, "name": "\\ud83d\\ude00 \\"q\\" \\\\", "day": "0001-01-01"}\n\n',
    b'{"k": "a", "obj": {"nested": [1, 2]}, "vec": [1, 2, 3, 4], "n": 5}\n{"k": "b", "obj": [], "n": 0}\n'
    b'{"k": "NA", "n": 1}\n{"k": "\\u00e9", "vec": "NA", "n": -2147483648}\n',
    b'{"id": 1, "a": 300, "b": "2024-13-01", "c": "maybe", "d": [1, 2, 3], "new": 1.5}\n{"id": 2, "new": "x"}\n',
    b'{"a": 1}\n{"b": [1, 2]}\n{"a": "2024-01-01", "c": {"d": true}}\n[1, 2]\n"just a string"\n{"a": 1, "a": 2}\n',
)


def seeds(out: Path) -> list[Path]:
    written = []
    for v in range(len(VARIANTS)):
        for j, sample in enumerate(SAMPLES):
            path = out / f"seed-v{v}-{j}.jsonl"
            path.write_bytes(bytes([v, 7 * j, 3 * j + v]) + sample)
            written.append(path)
    return written


def setup(mode: str) -> None:
    pass


def _make(v: Variant) -> _text.JsonTokenizer:
    return _text.JsonTokenizer(list(v.columns), list(v.null_values), rows_hint=16)


def one_input(data: bytes) -> None:
    textharness.run(data, VARIANTS, _make)
