"""The --schema file: JSON and TOML, types, nullable, rename, drop, null values."""

from __future__ import annotations

from pathlib import Path

import pytest

from rodata.errors import SchemaError
from rodata.etl.schemafile import load_schema, schema_from_mapping

from .conftest import write


def test_toml_and_json_say_the_same(tmp_path: Path) -> None:
    toml = write(tmp_path, "s.toml", '''
null_values = ["", "-"]
delimiter = ";"
[columns]
id = "int64"
price = { type = "float32", nullable = true }
old = { rename = "new" }
junk = { drop = true }
emb = "vector[4]"
''')
    json_ = write(tmp_path, "s.json", '''{"null_values": ["", "-"], "delimiter": ";", "columns": {
        "id": "int64", "price": {"type": "float32", "nullable": true}, "old": {"rename": "new"},
        "junk": {"drop": true}, "emb": "vector[4]"}}''')
    a, b = load_schema(toml), load_schema(json_)
    assert a.columns == b.columns
    assert a.null_values == b.null_values == ("", "-")
    assert a.delimiter == ";"
    assert a.spec("price").nullable is True
    assert a.spec("old").name == "new"
    assert a.spec("junk").drop
    assert a.spec("unnamed").type is None


def test_a_bare_mapping_is_the_columns() -> None:
    schema = schema_from_mapping({"id": "int64", "x": {"type": "string"}})
    assert set(schema.columns) == {"id", "x"}


@pytest.mark.parametrize(("doc", "message"), [
    ({"columns": {"a": "int99"}}, "unknown column type"),
    ({"columns": {"a": {"tpye": "int64"}}}, "unknown key"),
    ({"columns": {"a": {"nullable": "yes"}}}, "'nullable' must be"),
    ({"columns": {"a": {"rename": "b"}, "b": "int64"}}, "would both be named"),
    ({"colums": {}}, "did you mean .columns."),
    ({"notes": {}}, "empty table"),
    ({"null_values": "NA", "columns": {}}, "list of strings"),
    ({"delimiter": ",,", "columns": {}}, "single ASCII character"),
    ([1, 2], "expected an object"),
])
def test_mistakes_are_schema_errors(doc: object, message: str) -> None:
    with pytest.raises(SchemaError, match=message):
        schema_from_mapping(doc)


def test_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(SchemaError, match="not valid JSON"):
        load_schema(write(tmp_path, "s.json", "{nope"))
    with pytest.raises(SchemaError, match="not valid TOML"):
        load_schema(write(tmp_path, "s.toml", "= nope"))
    with pytest.raises(SchemaError, match="cannot read"):
        load_schema(tmp_path / "missing.json")
