"""The column as the compiled tokenizers take it: one named spec, shared by the planner, the
readers of every format and the tokenizers (which may read it by position or by name)."""

from __future__ import annotations

from typing import NamedTuple

__all__ = ["INFER", "SKIP", "TokenizerSpec"]

#: The type of a JSON field that is read past and never stored (dropped by the schema file).
SKIP = "skip"
#: The type of a column whose values are only classified (the inference sample).
INFER = "infer"


class TokenizerSpec(NamedTuple):
    """One column of a chunk: what the tokenizer reads into it and how."""

    name: str  # the column's name (JSON Lines: the field's name in the input, before renames)
    type: str  # a storage type (rodata.schema.TYPES), INFER, or SKIP
    dim: int  # a vector's length (1 otherwise)
    inferred: bool  # the type came from the data and may still widen
    not_null: bool  # a null is a bad record
    is_key: bool  # the key column: a null or missing value is a bad record

    @classmethod
    def skip(cls, name: str) -> TokenizerSpec:
        """A JSON field that is read past and never stored."""
        return cls(name, SKIP, 1, False, False, False)
