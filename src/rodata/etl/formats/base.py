"""What a build asks of the reader of an input format: plan the inputs (the columns and where
each input's records start), cut them into tasks, and parse one task into the run sink
(rodata.etl.chunk.ChunkState).  One reader per format lives beside this module; the build and
the workers never ask which format they read."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import ClassVar

from rodata.etl.chunk import ChunkResult, ChunkTask
from rodata.etl.infer import ColumnPlan
from rodata.etl.schemafile import SchemaFile
from rodata.etl.sources import Source
from rodata.etl.tokenspec import TokenizerSpec

__all__ = ["SAMPLED_FILES", "Dialect", "FormatReader", "InputPlan", "PlannedInput", "ProgressPath"]

SAMPLED_FILES = 16  # inputs sampled for inference (the first ones)

#: Where the worker streaming task `seq` of a source notes its progress ("" for none).
ProgressPath = Callable[[int, Source], str]


@dataclass(frozen=True)
class Dialect:
    """How the text of the inputs is written: field separator, quote, null tokens."""

    delimiter: bytes
    quote: bytes  # b"": no quoting (and no quote bytes to count before a cut)
    null_values: tuple[bytes, ...]


@dataclass
class PlannedInput:
    """An input as planned: its source, where its records start, and (CSV) its field map."""

    source: Source
    data_start: int = 0
    first_line: int = 1
    field_map: tuple[int, ...] = ()  # CSV: the column of each header field, -1 for dropped
    counts: list[tuple[int, int]] | None = None  # quote/newline counts of its count spans
    points: list[int] | None = None  # where it is cut


@dataclass
class InputPlan:
    """What planning found: the dataset's columns and each input's layout."""

    columns: list[ColumnPlan]
    inputs: list[PlannedInput]
    skipped: tuple[str, ...] = ()  # input fields the schema file drops that are read past (JSON Lines)


class FormatReader:
    """The reader of one input format (a stateless singleton: workers get it by the task's format)."""

    name: ClassVar[str]
    #: Records may name fields the columns do not hold yet (JSON Lines): another pass adds them.
    adds_fields: ClassVar[bool] = False
    #: A quote byte can hold a newline inside a record (CSV): where a record starts depends on
    #: the quotes before it, which the plan counts before each cut.
    quoted: ClassVar[bool] = False

    #: The null tokens when the schema file names none.
    default_null_values: ClassVar[tuple[str, ...]] = ()

    def dialect(self, schema_file: SchemaFile, sources: Sequence[Source]) -> Dialect:
        """The separator, quote and null tokens of the inputs, from the schema file and the names."""
        delimiter = (schema_file.delimiter or ("\t" if sources[0].tab_separated else ",")).encode()
        quote = (schema_file.quote if schema_file.quote is not None else '"').encode()
        nulls = schema_file.null_values if schema_file.null_values is not None else self.default_null_values
        return Dialect(delimiter, quote, tuple(v.encode("utf-8") for v in nulls))

    def plan(self, sources: Sequence[Source], schema_file: SchemaFile, key: str, dialect: Dialect) -> InputPlan:
        """The columns (from the sample, the file's schema and the schema file) and each input's layout."""
        raise NotImplementedError

    def first_field(self, source: Source, schema_file: SchemaFile) -> str:
        """The name of the input's first column ("" when it has none): the default key of ``rodata infer``."""
        raise NotImplementedError

    def task_columns(self, plan: InputPlan) -> tuple[TokenizerSpec, ...]:
        """The columns as every task of this format reads them."""
        return tuple(c.tokenizer_spec() for c in plan.columns)

    def tasks(self, template: ChunkTask, inp: PlannedInput, first_seq: int, chunk_bytes: int,
              progress_path: ProgressPath) -> list[ChunkTask]:
        """The tasks of one input, numbered from `first_seq` (`template` holds what they share)."""
        raise NotImplementedError

    def parse(self, task: ChunkTask) -> ChunkResult:
        """Parse one task into sorted runs (in a worker)."""
        raise NotImplementedError

    def task_bytes(self, task: ChunkTask) -> int:
        """The input bytes a task covers, as the progress bar counts them (on disk)."""
        return 0
