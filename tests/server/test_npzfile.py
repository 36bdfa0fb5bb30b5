"""The hand-written npz archive: what ``numpy.load`` and ``zipfile`` read back (CRCs checked), the
arrays of ``numpy.savez`` for every dtype the lookups send, its length, and the large arrays
passed on as views (not copied)."""

from __future__ import annotations

import io
import zipfile
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from rodata.server.npzfile import npz_chunks

DTYPES = [np.bool_, np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64,
          np.float32, np.float64, np.dtype("datetime64[D]"), np.dtype("datetime64[ns]")]


def archive(arrays: list[tuple[str, np.ndarray[Any, Any]]]) -> bytes:
    chunks, size = npz_chunks(arrays)
    data = b"".join(bytes(c) for c in chunks)
    assert len(data) == size
    return data


@settings(max_examples=60, deadline=None, derandomize=True)
@given(st.lists(st.tuples(st.sampled_from(DTYPES), st.integers(0, 5000), st.integers(1, 4)), max_size=5))
def test_the_archive_holds_what_savez_holds(specs: list[tuple[Any, int, int]]) -> None:
    rng = np.random.default_rng(len(specs))
    arrays = []
    for i, (dtype, n, dim) in enumerate(specs):
        raw = rng.integers(0, 255, size=(n, dim) if dim > 1 else n, dtype=np.uint8)
        array = np.resize(raw, raw.shape).astype(np.int64).astype(dtype) if dtype != np.bool_ else raw % 2 == 0
        arrays.append((f"values/c{i}", array))
    data = archive(arrays)
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        assert zf.testzip() is None  # every member's CRC
    loaded = np.load(io.BytesIO(data))
    reference = io.BytesIO()
    np.savez(reference, **dict(arrays))
    expected = np.load(io.BytesIO(reference.getvalue()))
    assert sorted(loaded.files) == sorted(expected.files)
    for name in expected.files:
        assert loaded[name].dtype == expected[name].dtype and loaded[name].shape == expected[name].shape
        assert loaded[name].tobytes() == expected[name].tobytes()


@given(hnp.arrays(np.float64, st.integers(0, 300)))
@settings(max_examples=30, deadline=None, derandomize=True)
def test_any_float_bits_round_trip(values: np.ndarray[Any, Any]) -> None:
    loaded = np.load(io.BytesIO(archive([("values/x", values)])))["values/x"]
    assert loaded.tobytes() == values.tobytes()


def test_a_large_array_is_passed_on_as_a_view_and_a_small_one_joined() -> None:
    big = np.arange(100_000, dtype=np.int64)
    small = np.ones(10, dtype=np.bool_)
    chunks, _ = npz_chunks([("found", small), ("values/big", big)])
    views = [c for c in chunks if isinstance(c, memoryview)]
    assert len(views) == 1 and np.shares_memory(np.frombuffer(views[0], np.int64), big)
    assert all(isinstance(c, bytes) for c in chunks if c is not views[0])


def test_an_empty_archive_is_a_valid_zip() -> None:
    with zipfile.ZipFile(io.BytesIO(archive([]))) as zf:
        assert zf.namelist() == []


@pytest.mark.parametrize("dtype", DTYPES)
def test_empty_arrays_of_every_dtype(dtype: Any) -> None:
    empty = np.zeros(0, dtype=dtype)
    loaded = np.load(io.BytesIO(archive([("values/e", empty)])))["values/e"]
    assert loaded.dtype == empty.dtype and loaded.shape == (0,)
