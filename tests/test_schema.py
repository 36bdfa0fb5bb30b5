"""Column and Schema: type names, validation and JSON round trips."""

from __future__ import annotations

import pytest

from rodata.errors import SchemaError, UnknownColumnError
from rodata.schema import Column, Schema, parse_type


def test_parse_type_names_and_aliases() -> None:
    assert parse_type("int64") == ("int64", 1)
    assert parse_type(" Vector[128] ") == ("vector", 128)
    assert parse_type("str") == ("string", 1)
    for bad in ["vector[0]", "vector[x]", "int128", ""]:
        with pytest.raises(SchemaError):
            parse_type(bad)


def test_schema_json_round_trip_and_lookup() -> None:
    schema = Schema((Column("k", "string"), Column("e", "vector", True, 8), Column("n", "int32")), "k")
    again = Schema.from_json(schema.to_json(), "k")
    assert again == schema
    assert schema.to_json()[1] == {"name": "e", "type": "vector[8]", "nullable": True}
    assert schema.index("n") == 2 and schema["e"].dim == 8 and "e" in schema
    with pytest.raises(UnknownColumnError, match="unknown column 'zz'; columns are k, e, n"):
        schema.index("zz")


def test_key_rules() -> None:
    with pytest.raises(SchemaError, match="int64 or string"):
        Schema((Column("k", "float64"),), "k")
    with pytest.raises(SchemaError, match="cannot be nullable"):
        Schema((Column("k", "int64", True),), "k")
    with pytest.raises(SchemaError, match="duplicate column name"):
        Schema((Column("k", "int64"), Column("k", "int8")), "k")
    with pytest.raises(SchemaError, match="only vector columns"):
        Column("x", "int8", dim=3)
