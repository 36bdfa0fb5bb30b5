"""Schema inference: headers, the sample, schema-file overrides, widening."""

from __future__ import annotations

from pathlib import Path

import pytest

from rodata._core import _text
from rodata.errors import BadInputError, SchemaError
from rodata.etl import infer
from rodata.etl.schemafile import DEFAULT_NULL_VALUES, SchemaFile, schema_from_mapping
from rodata.etl.sources import detect_sources

from .conftest import write

NULLS = [v.encode() for v in DEFAULT_NULL_VALUES]


def layout_and_kinds(tmp_path: Path, text: str | bytes) -> tuple[infer.CsvLayout, dict[str, str]]:
    path = write(tmp_path, "in.csv", text)
    source = detect_sources([path])[0]
    layout = infer.read_csv_layout(source, b",", b'"')
    kinds = infer.sample_csv(source, layout, b",", b'"', NULLS)
    return layout, {name: infer.inferred_type(k)[0] for name, k in zip(layout.fields, kinds, strict=True)}


def test_types_inferred_from_the_values(tmp_path: Path) -> None:
    text = ("i,f,mix,b,d,ts,dts,s,zip,allnull,big\n"
            "1,1.5,1,true,2024-01-01,2024-01-01T10:00:00Z,2024-01-01,x,007,NA,1\n"
            "-2,2,2.5,False,2024-12-31,2024-01-01 11:00,2024-01-01T00:00,y,123,,99999999999999999999\n")
    _, types = layout_and_kinds(tmp_path, text)
    assert types == {"i": "int64", "f": "float64", "mix": "float64", "b": "bool", "d": "date",
                     "ts": "timestamp", "dts": "timestamp", "s": "string", "zip": "string",
                     "allnull": "string", "big": "float64"}


def test_header_with_bom_crlf_quotes_and_awkward_names(tmp_path: Path) -> None:
    layout, _ = layout_and_kinds(tmp_path, b'\xef\xbb\xbfid,"a, b",,a/b,id\r\n1,2,3,4,5\r\n')
    assert layout.fields == ("id", "a, b", "column_3", "a_b", "id_2")
    assert layout.data_start == len(b'\xef\xbb\xbfid,"a, b",,a/b,id\r\n')
    assert layout.first_line == 2


def test_header_with_a_line_break_in_quotes(tmp_path: Path) -> None:
    layout, _ = layout_and_kinds(tmp_path, 'id,"two\nlines"\n1,2\n')
    assert layout.fields == ("id", "two\nlines".replace("\n", "_"))
    assert layout.first_line == 3


@pytest.mark.parametrize("text", ["", "\n\r\n", "\ufeff"])
def test_empty_file_has_no_header(tmp_path: Path, text: str) -> None:
    with pytest.raises(BadInputError, match="empty file") as info:
        layout_and_kinds(tmp_path, text)
    assert info.value.line == 1


def test_malformed_header_names_its_position(tmp_path: Path) -> None:
    with pytest.raises(BadInputError, match="header row: unterminated") as info:
        layout_and_kinds(tmp_path, 'id,"oops\n')
    assert (info.value.line, info.value.column) == (1, 4)


def test_plan_applies_the_schema_file() -> None:
    k = _text.KINDS
    schema = schema_from_mapping({"columns": {"id": "int32", "old": {"rename": "new"}, "junk": {"drop": True},
                                              "price": {"type": "float32", "nullable": True}}})
    plans = infer.plan_columns(["id", "old", "junk", "price", "n"], [k["int"], k["string"], k["int"], k["int"],
                               k["int"] | k["float"]], [-1] * 5, schema, "id", "in.csv")
    assert [(p.name, p.source, p.type, p.inferred, p.nullable, p.key) for p in plans] == [
        ("id", "id", "int64", False, None, True),  # a narrower integer key is stored as int64
        ("new", "old", "string", True, None, False),
        ("price", "price", "float32", False, True, False),
        ("n", "n", "float64", True, None, False),
    ]


def test_plan_errors() -> None:
    k = _text.KINDS
    with pytest.raises(BadInputError, match="no key column 'x'"):
        infer.plan_columns(["id"], [k["int"]], [-1], SchemaFile(), "x", "in.csv")
    with pytest.raises(BadInputError, match="renamed to 'ident'"):
        infer.plan_columns(["id"], [k["int"]], [-1], schema_from_mapping({"id": {"rename": "ident"}}), "id", "f")
    with pytest.raises(SchemaError, match="does not have"):
        infer.plan_columns(["id"], [k["int"]], [-1], schema_from_mapping({"nope": "int64"}), "id", "in.csv")
    with pytest.raises(SchemaError, match="must be int64 or string"):
        infer.plan_columns(["id"], [k["int"]], [-1], schema_from_mapping({"id": "float64"}), "id", "in.csv")


def test_inferred_key_is_int64_or_string() -> None:
    k = _text.KINDS
    for kinds, expected in ((k["int"], "int64"), (k["float"], "string"), (k["date"], "string")):
        plan = infer.plan_columns(["id"], [kinds], [-1], SchemaFile(), "id", "f")[0]
        assert plan.type == expected


def test_widening_joins_kinds_and_never_narrows() -> None:
    k = _text.KINDS
    plans = infer.plan_columns(["id", "a", "b", "c"], [k["int"], k["int"], k["date"], k["bool"]], [-1] * 4,
                               SchemaFile(), "id", "f")
    wider = infer.widen_columns(plans, {0: k["string"], 1: k["float"], 2: k["timestamp"], 3: k["int"]})
    assert [p.type for p in wider] == ["string", "float64", "timestamp", "string"]
    with pytest.raises(SchemaError):
        infer.widen_columns(wider, {1: k["int"]})  # nothing to widen: never loops


def test_to_schema_nullability() -> None:
    k = _text.KINDS
    schema_file = schema_from_mapping({"a": {"type": "int64", "nullable": True}})
    plans = infer.plan_columns(["id", "a", "b"], [k["int"]] * 3, [-1] * 3, schema_file, "id", "f")
    schema = infer.to_schema(plans, [False, False, True])
    assert [(c.name, c.nullable) for c in schema.columns] == [("id", False), ("a", True), ("b", True)]
    assert schema.key == "id"


def test_jsonl_sample_fields_in_order_of_appearance(tmp_path: Path) -> None:
    path = write(tmp_path, "in.jsonl", '{"b": 1, "a": "2024-01-01"}\n{"c": [1, 2], "a": null, "b": 2.5}\n')
    fields = infer.sample_jsonl(detect_sources([path])[0])
    assert [(name, infer.inferred_type(kinds, dim)) for name, kinds, dim in fields] == [
        ("b", ("float64", 1)), ("a", ("date", 1)), ("c", ("vector", 2))]
