"""Write the minimal reproducer of every finding: ``python -m fuzz.regressions.make``.

Each reproducer is made from a fixture table (fuzz.fixtures) by the smallest change that
shows the fault, so that the committed files can be regenerated and read as code."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from pathlib import Path

from fuzz import fixtures, segbytes

HERE = Path(__file__).resolve().parent


def _one_row_segment() -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        cols = {"id": [7], "v": ["only"]}
        version = fixtures.write_table(root, "one-row", cols, "id", None, None)
        return (version / "part-00000.seg").read_bytes()


def _with_schema(edit: Callable[[dict], None]) -> bytes:
    """The one-row segment with its schema JSON edited, every checksum re-sealed."""
    model = segbytes.decode(_one_row_segment())
    assert model is not None
    schema = next(s for s in model.sections if s.kind == segbytes.KINDS["schema"])
    doc = json.loads(schema.body)
    edit(doc)
    schema.body = json.dumps(doc).encode()
    return bytes(segbytes.encode(model))


def _manifest(table: str, edit: Callable[[dict], None]) -> bytes:
    """The manifest of a fixture table, edited, behind the manifest target's selector byte."""
    from fuzz.targets.manifest import PART_SETS

    with tempfile.TemporaryDirectory() as tmp:
        name, cols, key, schema, per_part = next(t for t in fixtures.small_tables() if t[0] == table)
        version = fixtures.write_table(Path(tmp), name, cols, key, schema, per_part)
        doc = json.loads((version / "manifest.json").read_bytes())
    edit(doc)
    return bytes([PART_SETS.index(table)]) + json.dumps(doc, indent=1).encode()


def manifest_cases() -> dict[str, bytes]:
    def big_int(doc: dict) -> None:
        doc["build"] = {"n": 2**64}

    def surrogate(doc: dict) -> None:
        doc["build"] = {"note": "\ud800"}

    return {"build-int-over-64-bits.json": _manifest("every-int", big_int),
            "build-lone-surrogate.json": _manifest("every-int", surrogate)}


def segment_cases() -> dict[str, bytes]:
    def type_list(doc: dict) -> None:
        doc["columns"][1]["type"] = ["string"]

    def type_dict(doc: dict) -> None:
        doc["columns"][0]["type"] = {}

    return {"schema-type-list.seg": _with_schema(type_list), "schema-type-dict.seg": _with_schema(type_dict)}


def jsonl_cases() -> dict[str, bytes]:
    """Inputs the jsonl target found on commit 5444b21, before the JSON Lines fixes (c7c5adb, cf7b651):
    the three control bytes (variant, cuts, spills), then the text, as libFuzzer saved them."""
    return {
        "spill-drops-a-row.jsonl": (
            b'\x01\x07\x04{"k": "a", "obj": {"nested": [1, 2]}, "vec": [1, 2, 3, 4], "n": 5}\n{"k": "b", "o'
            b'bj": [], "n": 0}\n{"k": "NA", "n": 1}\n{"k": "\\u00e9", "vec": "NA", "n": -2147483648}\n'
        ),
        "absurd-string-length.jsonl": (
            b'\x01\x07\x04{"k": "a", "obj":\x00"k":\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00'
            b'\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00'
            b'\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00'
            b'\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00'
            b'\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00 {"nested": \xd8\xd8\xd8\xd8\xd8\xd8\xd8\xd8'
            b'\xd8\xd8\xd8\xd8\xd8\xd8\xd8\xd8 [], \xd8\xd8\xd8\xd8[], "n":(0}\n{ "n": 1}\n{"k": "\\u00\xed'
            b'\xa0\x80e9"214$7483648}\n'
        ),
        "date-out-of-range.jsonl": (
            b'\x02\x0e\x08{"id": 00, "b":0"2 \xae\xae: "ma1.5}\n{"\xe9d": 1, "new": "x"}\n'
        ),
    }


def build_cases() -> dict[str, bytes]:
    """Option byte 1 (JSON Lines, inferred schema), then the input file."""
    return {"jsonl-key-never-named.in": bytes([1]) + b'{"k": "a"}\n'}


def all_cases() -> dict[str, dict[str, bytes]]:
    """target -> {file name: bytes} of every reproducer."""
    return {"segment": segment_cases(), "manifest": manifest_cases(), "jsonl": jsonl_cases(), "build": build_cases()}


def main() -> None:
    for target, cases in all_cases().items():
        out = HERE / target
        out.mkdir(exist_ok=True)
        for name, data in cases.items():
            (out / name).write_bytes(data)
            print(out / name, len(data))


if __name__ == "__main__":
    main()
