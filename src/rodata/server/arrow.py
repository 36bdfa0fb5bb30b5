"""Arrow answers: lookups, scan pages and column slices as Arrow IPC streams
(``application/vnd.apache.arrow.stream``), built with pyarrow (the extra ``rodata[arrow]``).

Like :mod:`rodata.server.render`, nothing here knows about HTTP: each function takes a dataset
and plain arguments and returns the stream as chunks to send in order (:class:`ArrowStream`).

What is copied and what is not.  pyarrow's stream writer hands each buffer of a record batch to
its sink as it is; the sink here keeps every large buffer as a view (small pieces, the metadata
and padding, are joined into bytes), so a buffer that wraps the mapping goes from the mapped
pages to the socket without a copy.  A scan page or a column slice (rows of parts, in order)
wraps the mapping where Arrow's layout is rodata's: fixed-width numbers, timestamps (int64
nanoseconds, ``timestamp('ns', 'UTC')``) and vectors (``fixed_size_list<float32>``) are the
mapped values; validity bitmaps are the mapped bitmaps (LSB first in both formats) when the run
starts on a multiple of 8 rows, else shifted (a copy of one bit per row); strings and bytes are
``large_string`` / ``large_binary`` over the mapped data, with the mapped uint64 offsets when the
run starts where the data does (row 0 of a part), else offsets rebased to 0 (8 bytes per row).
Bools (bit-packed in Arrow) and dates (``date32``: int32 days; int64 days on disk) are converted.
A lookup's columns are gathered from the parts (its rows lie anywhere), once, and the gathered
arrays are sent as they are.

A lookup's stream holds a bool ``found`` column first, then the columns asked for (each once, in
the order named; every column in schema order when none are), aligned with the keys; absent rows
and nulls are Arrow nulls.  A column named twice is one column, as it is one key of a JSON row.
Sizes are bounded before anything is built (:func:`stream_bound`), and over `max_bytes`
:class:`~rodata.sizes.AnswerTooLarge` is raised."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from rodata import sizes
from rodata._core import FORMAT_CONSTANTS, Segment, take_varwidth
from rodata.batch import Batch
from rodata.dataset import Dataset
from rodata.errors import RodataError
from rodata.schema import Column, Schema
from rodata.server.render import Gather

__all__ = ["MEDIA_TYPE", "ArrowStream", "ArrowUnavailable", "available", "column_arrow", "lookup_arrow",
           "scan_arrow", "scan_names", "stream_bound"]

#: The media type of an Arrow IPC stream.
MEDIA_TYPE = "application/vnd.apache.arrow.stream"
#: A buffer the writer hands over from this size on is sent as it is (a view); smaller ones are joined.
_VIEW_FROM = 4096
_SEC_VALIDITY = FORMAT_CONSTANTS["SEC_VALIDITY"]
# The stream's metadata, bounded (flatbuffers, measured with margin): the schema message (its
# header, and per field a table, its type and its name; a vector's child field again), and per
# record batch its message (a header, then 16 bytes per field node and per buffer: a fixed-width
# column has one node and two buffers, a string column one and three, a vector two and three).
_SCHEMA_HEAD, _FIELD, _BATCH_HEAD, _ENTRY = 256, 128, 320, 16
_ENTRIES = {"string": 4, "bytes": 4, "vector": 5}


class ArrowUnavailable(RodataError):
    """pyarrow is not installed: no Arrow answer can be built."""


def _pyarrow() -> Any:
    """The pyarrow module (imported on first use: a server that never answers Arrow never loads it)."""
    try:
        import pyarrow
        import pyarrow.ipc
    except ImportError:
        raise ArrowUnavailable("Arrow answers need pyarrow, which this server does not have: "
                               "pip install 'rodata[arrow]'") from None
    return pyarrow


def available() -> bool:
    """Whether Arrow answers can be built here (pyarrow imports)."""
    try:
        _pyarrow()
    except ArrowUnavailable:
        return False
    return True


@dataclass(frozen=True)
class ArrowStream:
    """An Arrow IPC stream ready to send: `chunks` concatenated are the stream (bytes for the
    metadata, views for the buffers: of the mapping where the layout allowed)."""

    chunks: tuple[bytes | memoryview, ...]

    @property
    def nbytes(self) -> int:
        """Length of the stream."""
        return sum(c.nbytes if isinstance(c, memoryview) else len(c) for c in self.chunks)


class _Sink:
    """A file-like sink for pyarrow's stream writer that keeps what it is given (see the module's
    documentation): large buffers as views, small writes joined."""

    def __init__(self) -> None:
        self.chunks: list[bytes | memoryview] = []
        self.small = bytearray()
        self.closed = False

    def write(self, data: Any) -> int:
        view = memoryview(data)
        if view.nbytes >= _VIEW_FROM:
            if self.small:
                self.chunks.append(bytes(self.small))
                self.small.clear()
            self.chunks.append(view)
        else:
            self.small += view
        return view.nbytes

    def flush(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True

    def finish(self) -> ArrowStream:
        if self.small:
            self.chunks.append(bytes(self.small))
            self.small.clear()
        return ArrowStream(tuple(self.chunks))


def _stream(pa: Any, schema: Any, batches: Sequence[Sequence[Any]]) -> ArrowStream:
    """The stream of `schema` and one record batch per list of arrays."""
    sink = _Sink()
    with pa.ipc.new_stream(sink, schema) as writer:
        for arrays in batches:
            writer.write_batch(pa.RecordBatch.from_arrays(list(arrays), schema=schema))
    return sink.finish()


# -- types ----------------------------------------------------------------------------------------


def arrow_type(pa: Any, column: Column) -> Any:
    """The Arrow type a column is sent as."""
    kind = column.type
    if kind == "vector":
        return pa.list_(pa.float32(), column.dim)
    special = {"string": pa.large_string, "bytes": pa.large_binary, "date": pa.date32, "bool": pa.bool_}
    if kind in special:
        return special[kind]()
    if kind == "timestamp":
        return pa.timestamp("ns", tz="UTC")
    return pa.from_numpy_dtype(column.dtype)


def _value_bytes(column: Column, rows: int) -> int:
    """Bytes of the value buffer of `rows` fixed-width values as Arrow holds them."""
    if column.type == "bool":
        return (rows + 7) // 8
    if column.type == "date":
        return 4 * rows
    return column.dtype.itemsize * column.dim * rows


def _padded(n: int) -> int:
    return (n + 7) & ~7


def stream_bound(fields: Sequence[tuple[str, str]], batches: int) -> int:
    """The metadata of a stream of `fields` (name and rodata type) in `batches` record batches, bounded."""
    schema = _SCHEMA_HEAD + sum(_FIELD * (2 if kind == "vector" else 1) + _padded(len(name.encode()) + 4)
                                for name, kind in fields)
    batch = _BATCH_HEAD + _ENTRY * sum(_ENTRIES.get(kind, 3) for _, kind in fields)
    return schema + batches * batch + 8  # the end-of-stream marker


def _too_large(what: str, bound: int, limit: int, code: str) -> sizes.AnswerTooLarge:
    return sizes.AnswerTooLarge(f"{what} would take up to {bound} bytes; the limit is {limit} (ask for fewer "
                                "rows, keys or columns)", bound=bound, limit=limit, code=code)


# -- runs of rows of a part (scan pages, column slices) -------------------------------------------


def _mapped_bitmap(seg: Segment, index: int) -> np.ndarray[Any, Any] | None:
    """The validity bitmap of column `index` as mapped (None: the part holds no null there)."""
    for kind, col, offset, length, _ in seg.sections:
        if kind == _SEC_VALIDITY and col == index:
            bits: np.ndarray[Any, Any] = np.frombuffer(memoryview(seg.mapping), np.uint8, length, offset)
            return bits
    return None


def _run_bitmap(seg: Segment, index: int, lo: int, hi: int) -> np.ndarray[Any, Any] | None:
    """Validity of rows [lo, hi) as an Arrow bitmap starting at row `lo`: the mapped bytes when
    `lo` is a multiple of 8, else the bits shifted into new bytes; None when there is no bitmap."""
    bits = _mapped_bitmap(seg, index)
    if bits is None:
        return None
    first, last = lo // 8, (hi + 7) // 8
    if lo % 8 == 0:
        return bits[first:last]
    flags = np.unpackbits(bits[first:last], bitorder="little")[lo % 8: lo % 8 + hi - lo]
    shifted: np.ndarray[Any, Any] = np.packbits(flags, bitorder="little")
    return shifted


def _run_bytes(seg: Segment, index: int, column: Column, lo: int, hi: int) -> int:
    """The buffers of rows [lo, hi) of a column, in bytes, each padded."""
    rows = hi - lo
    total = _padded((rows + 7) // 8) if _mapped_bitmap(seg, index) is not None else 0
    if column.fixed_width:
        return total + _padded(_value_bytes(column, rows))
    offsets, _ = seg.offsets_view(index)
    return total + _padded(8 * (rows + 1)) + _padded(int(offsets[hi]) - int(offsets[lo]))


def _buffer(pa: Any, array: np.ndarray[Any, Any] | None) -> Any:
    return None if array is None else pa.py_buffer(array)


def _run_array(pa: Any, seg: Segment, index: int, column: Column, lo: int, hi: int) -> Any:
    """Rows [lo, hi) of column `index` of a part as an Arrow array (see the module's documentation)."""
    rows = hi - lo
    validity = _buffer(pa, _run_bitmap(seg, index, lo, hi))
    kind = arrow_type(pa, column)
    if not column.fixed_width:
        offsets, data = seg.offsets_view(index)
        start, stop = int(offsets[lo]), int(offsets[hi])
        edges = offsets[lo: hi + 1]
        if start:
            edges = edges - np.uint64(start)  # rebased: Arrow reads offsets from the data it is given
        return pa.Array.from_buffers(kind, rows, [validity, pa.py_buffer(edges), pa.py_buffer(data[start:stop])])
    return _fixed_array(pa, column, kind, rows, seg.column_view(index)[lo:hi], validity)


def _fixed_array(pa: Any, column: Column, kind: Any, rows: int, values: np.ndarray[Any, Any],
                 validity: Any) -> Any:
    """An Arrow array of `rows` fixed-width values as rodata holds them (a view is wrapped as it is,
    bools and dates converted)."""
    if column.type == "bool":
        return pa.Array.from_buffers(kind, rows, [validity, pa.py_buffer(np.packbits(values, bitorder="little"))])
    if column.type == "date":
        days = values.view(np.int64).astype(np.int32)
        return pa.Array.from_buffers(kind, rows, [validity, pa.py_buffer(days)])
    if column.type == "vector":
        flat = pa.Array.from_buffers(pa.float32(), rows * column.dim, [None, pa.py_buffer(values.reshape(-1))])
        return pa.Array.from_buffers(kind, rows, [validity], children=[flat])
    if column.type == "timestamp":
        values = values.view(np.int64)  # datetime64 has no buffer format of its own
    return pa.Array.from_buffers(kind, rows, [validity, pa.py_buffer(values)])


def _fields(pa: Any, schema: Schema, names: Sequence[str], nullable: bool | None = None) -> list[Any]:
    out = []
    for name in names:
        column = schema[name]
        out.append(pa.field(name, arrow_type(pa, column), column.nullable if nullable is None else nullable))
    return out


def _runs_stream(ds: Dataset, names: Sequence[str], runs: Sequence[tuple[Segment, int, int]],
                 max_bytes: int | None, what: str, code: str) -> ArrowStream:
    """The stream of the named columns over runs of rows ``(part, lo, hi)``, one record batch each."""
    schema = ds.schema
    indices = [schema.index(name) for name in names]
    if max_bytes is not None:
        bound = stream_bound([(name, schema[name].type) for name in names], len(runs))
        for seg, lo, hi in runs:
            bound += sum(_run_bytes(seg, i, schema.columns[i], lo, hi) for i in indices)
        if bound > max_bytes:
            raise _too_large(what, bound, max_bytes, code)
    pa = _pyarrow()
    arrow_schema = pa.schema(_fields(pa, schema, names))
    batches = [[_run_array(pa, seg, i, schema.columns[i], lo, hi) for i in indices] for seg, lo, hi in runs]
    return _stream(pa, arrow_schema, batches)


def column_arrow(ds: Dataset, name: str, offset: int, rows: int, *, max_bytes: int | None = None) -> ArrowStream:
    """Rows [offset, offset + rows) of column `name` as a stream of one column named `name` (one
    record batch per part the rows lie in); :class:`~rodata.sizes.AnswerTooLarge` when its size
    bound is over `max_bytes`."""
    runs = ds.row_ranges(offset, offset + rows)
    return _runs_stream(ds, [ds.schema[name].name], runs, max_bytes,
                        f"an Arrow slice of {rows} rows of column {name!r}", "slice_too_large")


def scan_arrow(ds: Dataset, batches: Sequence[Batch], names: Sequence[str], *,
               max_bytes: int | None = None) -> ArrowStream:
    """A scan page (:func:`rodata.server.render.scan_batches`) as a stream of the columns `names`
    (:func:`scan_names`), one record batch per run of rows (none: the schema alone)."""
    runs = []
    for batch in batches:
        for seg, _, rows in batch._pieces:
            assert isinstance(rows, slice)
            runs.append((seg, rows.start, rows.stop))
    return _runs_stream(ds, names, runs, max_bytes, "the scan page", "response_too_large")


def scan_names(ds: Dataset, columns: Sequence[str] | None) -> list[str]:
    """The columns of a scan page's or a lookup's stream: those named, each once, or every column."""
    return [c.name for c in ds.schema.columns] if columns is None else list(dict.fromkeys(columns))


# -- lookups -------------------------------------------------------------------------------------


def _bits(flags: np.ndarray[Any, Any]) -> np.ndarray[Any, Any] | None:
    """An Arrow validity bitmap of bool flags; None when all are set."""
    if flags.all():
        return None
    packed: np.ndarray[Any, Any] = np.packbits(flags, bitorder="little")
    return packed


def _gather_varwidth(batch: Batch, index: int) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """A string/bytes column aligned with a lookup's keys, as (uint64 offsets, data); an absent row
    is an empty value (its validity bit says null)."""
    parts, which, rows = batch.locations()
    n = len(rows)
    found = rows >= 0
    present = np.flatnonzero(found)
    if len(parts) == 1:
        offsets, data = parts[0].offsets_view(index)
        got_offsets, got = take_varwidth(offsets, data, np.ascontiguousarray(rows[present]))
    else:
        # Each part's values gathered (in position order), joined, then taken in position order.
        taken = []
        order = np.empty(n, dtype=np.int64)
        for k, seg in enumerate(parts):
            pos = np.flatnonzero(found & (which == k))
            offsets, data = seg.offsets_view(index)
            taken.append((pos, *take_varwidth(offsets, data, np.ascontiguousarray(rows[pos]))))
        joined_offsets, joined = _join(taken, order)
        got_offsets, got = take_varwidth(joined_offsets, joined, np.ascontiguousarray(order[present]))
    if len(present) == n:
        return got_offsets, got
    lengths = np.zeros(n, dtype=np.uint64)
    lengths[present] = np.diff(got_offsets)
    out = np.zeros(n + 1, dtype=np.uint64)
    np.cumsum(lengths, out=out[1:])
    return out, got


def _join(taken: list[tuple[np.ndarray[Any, Any], np.ndarray[Any, Any], np.ndarray[Any, Any]]],
          order: np.ndarray[Any, Any]) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """The parts' gathered values one after the other (offsets and data), and in `order` each
    position's value number among them."""
    offsets = [np.zeros(1, dtype=np.uint64)]
    data = []
    count = base = 0
    for pos, part_offsets, part_data in taken:
        order[pos] = np.arange(count, count + len(pos), dtype=np.int64)
        offsets.append(part_offsets[1:] + np.uint64(base))
        data.append(part_data)
        count += len(pos)
        base += len(part_data)
    return np.concatenate(offsets), np.concatenate(data) if data else np.zeros(0, dtype=np.uint8)


def _lookup_bound(batch: Batch, names: Sequence[str]) -> int:
    """The size bound of a lookup's stream."""
    n = len(batch)
    parts, which, rows = batch.locations()
    bits = _padded((n + 7) // 8)
    bound = stream_bound([("found", "bool"), *((name, batch.schema[name].type) for name in names)], 1) + bits
    for name in names:
        column = batch.schema[name]
        bound += bits
        if column.fixed_width:
            bound += _padded(_value_bytes(column, n))
            continue
        index = batch.schema.index(name)
        data = 0
        for k, seg in enumerate(parts):
            mine = rows[(rows >= 0) & (which == k)]
            offsets, _ = seg.offsets_view(index)
            data += int((offsets[mine + 1] - offsets[mine]).sum())
        bound += _padded(8 * (n + 1)) + _padded(data)
    return bound


def lookup_arrow(ds: Dataset, keys: Sequence[Any], columns: Sequence[str] | None = None, *,
                 max_bytes: int | None = None) -> ArrowStream:
    """A lookup's stream aligned with `keys`: ``found``, then the columns asked for (every column
    when None); :class:`~rodata.sizes.AnswerTooLarge` (nothing built) when its size bound is over
    `max_bytes`."""
    names = scan_names(ds, columns)
    batch = ds.get_many(keys, names)  # which checks the keys
    if max_bytes is not None:
        bound = _lookup_bound(batch, names)
        if bound > max_bytes:
            raise _too_large(f"the answer to {len(keys)} keys", bound, max_bytes, "response_too_large")
    pa = _pyarrow()
    n = len(batch)
    arrays = [pa.Array.from_buffers(pa.bool_(), n, [None, pa.py_buffer(np.packbits(batch.found, bitorder="little"))])]
    take = Gather(batch)
    for name in names:
        index = ds.schema.index(name)
        column = ds.schema.columns[index]
        validity = _buffer(pa, _bits(batch.valid(name)))
        kind = arrow_type(pa, column)
        if column.fixed_width:
            arrays.append(_fixed_array(pa, column, kind, n, take.values(index), validity))
        else:
            offsets, data = _gather_varwidth(batch, index)
            arrays.append(pa.Array.from_buffers(kind, n, [validity, pa.py_buffer(offsets), pa.py_buffer(data)]))
    schema = pa.schema([pa.field("found", pa.bool_(), False), *_fields(pa, ds.schema, names, nullable=True)])
    return _stream(pa, schema, [arrays])
