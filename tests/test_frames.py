"""``to_arrow`` and ``to_pandas`` of datasets and batches, checked value by value against the library."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

import rodata
from tests.conftest import sample_columns


@pytest.fixture(params=[None, 37], ids=["one-part", "parts"])
def dataset(request: pytest.FixtureRequest, data_root: Path) -> Any:
    rodata.write(data_root, "f", sample_columns(n=150), key="id", rows_per_part=request.param)
    with rodata.open(data_root / "f") as ds:
        yield ds


def _library_values(ds: rodata.Dataset, name: str) -> tuple[list[Any], np.ndarray[Any, Any]]:
    """(values with None for null, validity) of a column, as the library reads it row by row."""
    rows = [ds.get(k) for k in ds.column("id").tolist()]
    values = [r[name] for r in rows]  # type: ignore[index]
    return values, np.array([v is not None for v in values])


def test_to_arrow_matches_the_library_column_by_column(dataset: rodata.Dataset) -> None:
    table = dataset.to_arrow()
    assert table.num_rows == len(dataset) and table.column_names == list(dataset.schema.names)
    for column in dataset.schema.columns:
        got = table.column(column.name).combine_chunks()
        values, valid = _library_values(dataset, column.name)
        assert np.array_equal(got.is_valid().to_numpy(zero_copy_only=False), valid), column.name
        if column.type == "timestamp":
            ns = got.cast(pa.int64()).to_pylist()
            want = dataset.column(column.name).view(np.int64).tolist()
            assert [n for n, ok in zip(ns, valid, strict=True) if ok] == [w for w, ok in zip(want, valid, strict=True)
                                                                         if ok]
        elif column.type == "vector":
            assert [None if v is None else list(v) for v in got.to_pylist()] == [
                None if v is None else v.tolist() for v in values]
        else:
            assert got.to_pylist() == values, column.name


def test_to_arrow_wraps_fixed_width_and_string_columns_without_copying(data_root: Path) -> None:
    rodata.write(data_root, "z", {"k": np.arange(1000), "s": [f"v{i}" for i in range(1000)],
                                  "e": np.ones((1000, 8), dtype=np.float32)}, key="k")
    with rodata.open(data_root / "z") as ds:
        table = ds.to_arrow()
        mapped = ds.column("k")
        start = mapped.__array_interface__["data"][0]
        assert table.column("k").chunk(0).buffers()[1].address == start
        offsets, data = ds._segments()[0].offsets_view(1)
        s = table.column("s").chunk(0)
        assert s.buffers()[1].address == offsets.__array_interface__["data"][0]
        assert s.buffers()[2].address == data.__array_interface__["data"][0]
        assert table.column("e").chunk(0).values.buffers()[1].address == ds.column("e").__array_interface__["data"][0]


def test_batches_of_lookups_hold_nulls_where_keys_are_absent(dataset: rodata.Dataset) -> None:
    keys = [*dataset.column("id").tolist()[:5], 10**12, -(10**12)]
    batch = dataset.get_many(keys, columns=["id", "name", "f64", "i8", "flag", "day"])
    table = batch.to_arrow()
    expected = batch.to_pylist()
    for name in table.column_names:
        assert table.column(name).to_pylist() == [None if r is None else r[name] for r in expected], name
    frame = batch.to_pandas()
    assert frame["i8"].dtype == "Int8" and frame["flag"].dtype == "boolean"
    assert frame["i8"].isna().tolist() == [False] * 5 + [True, True]
    assert np.isnan(frame["f64"].iloc[5])


def test_to_pandas_types_and_nulls(dataset: rodata.Dataset) -> None:
    frame = dataset.to_pandas()
    assert len(frame) == len(dataset) and list(frame.columns) == list(dataset.schema.names)
    assert frame["i8"].dtype == np.int8 and frame["f64"].dtype == np.float64
    assert str(frame["ts"].dtype) == "datetime64[ns, UTC]"
    for column in dataset.schema.columns:
        values, valid = _library_values(dataset, column.name)
        got = frame[column.name].tolist()
        for v, g, ok in zip(values, got, valid, strict=True):
            if not ok:
                assert g is None or pd.isna(g), column.name
            elif column.type == "timestamp":
                assert g.floor("us").to_pydatetime() == v  # the library reads microseconds
            elif column.type == "vector":
                assert g.tolist() == v.tolist()
            else:
                assert g == v, column.name


def test_nan_from_pandas_and_nan_from_a_csv_are_both_null(data_root: Path, tmp_path: Path) -> None:
    frame = pd.DataFrame({"k": [1, 2, 3], "x": [1.5, np.nan, 2.5],
                          "t": pd.to_datetime(["2020-01-01", None, "2021-06-01"], utc=True)})
    rodata.write(data_root, "p", frame, key="k")
    csv = tmp_path / "x.csv"
    csv.write_text("k,x\n1,1.5\n2,NaN\n3,2.5\n")
    rodata.build([csv], dataset="c", key="k", data_root=data_root)
    with rodata.open(data_root / "p") as p, rodata.open(data_root / "c") as c:
        assert p.get(2) == {"k": 2, "x": None, "t": None}
        assert c.get(2) == {"k": 2, "x": None}
        assert p.schema["x"].nullable and c.schema["x"].nullable
        back = p.to_pandas()
        assert np.isnan(back["x"][1]) and pd.isna(back["t"][1])
    # A NaN in a numpy array is a value: numpy has no null (use a masked array for nulls).
    rodata.write(data_root, "n", {"k": [1, 2], "x": np.array([np.nan, 1.0])}, key="k")
    with rodata.open(data_root / "n") as n:
        assert np.isnan(n.get(1)["x"])  # type: ignore[index]


def test_without_pyarrow_the_error_says_what_to_install(dataset: rodata.Dataset,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    import builtins

    real_import = builtins.__import__

    def no_pyarrow(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "pyarrow":
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_pyarrow)
    with pytest.raises(rodata.RodataError, match=r"pip install 'rodata\[arrow\]'"):
        dataset.to_arrow()
