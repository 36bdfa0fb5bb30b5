"""The readers of the input formats, one per format (docs/etl.md, "Inputs").

To add a format: a :class:`FormatReader` subclass in a module here (plan, first_field, tasks,
parse; a text format subclasses :class:`TextReader` and gives its tokenizer, faults and records),
an entry in READERS, and its file extensions in rodata.etl.sources."""

from __future__ import annotations

from rodata.etl.formats.base import FormatReader
from rodata.etl.formats.csv import CsvReader
from rodata.etl.formats.jsonl import JsonlReader
from rodata.etl.formats.parquet import ParquetReader

__all__ = ["READERS", "FormatReader", "reader_for"]

READERS: dict[str, FormatReader] = {r.name: r for r in (CsvReader(), JsonlReader(), ParquetReader())}


def reader_for(format: str) -> FormatReader:
    """The reader of an input format (one of rodata.etl.sources.FORMATS)."""
    return READERS[format]
