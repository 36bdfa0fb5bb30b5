"""rodata.Batch against a reference: each position of a batch is what ``Dataset.get`` says of its key."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import rodata
from rodata import store
from rodata.errors import UnknownColumnError
from tests.conftest import python_value, sample_columns


@pytest.fixture(params=[None, 37], ids=["one-part", "many-parts"])
def dataset(request: pytest.FixtureRequest, data_root: Path) -> Iterator[tuple[rodata.Dataset, dict[str, Any]]]:
    cols = sample_columns(300, seed=11)
    rodata.write(data_root, "b", cols, key="id", rows_per_part=request.param)
    with rodata.open(data_root / "b") as ds:
        if request.param:
            assert len(store.read_manifest(data_root / "b" / str(ds.version)).parts) > 1
        yield ds, cols


def _queries(cols: dict[str, Any], seed: int) -> list[int]:
    """Present keys in random order, absent ones, and repeats."""
    rng = np.random.default_rng(seed)
    present = [int(k) for k in rng.permutation(cols["id"])[:120]]
    absent = [int(k) for k in rng.integers(10**6, 2 * 10**6, 30)]
    keys = present + absent + present[:10]
    return [keys[i] for i in rng.permutation(len(keys))]


def _expected_value(row: dict[str, Any] | None, name: str) -> Any:
    return None if row is None else row[name]


def _plain(rows: list[dict[str, Any] | None]) -> list[dict[str, Any] | None]:
    """Rows with vectors as lists, so that rows compare with ==."""
    return [None if r is None else {k: python_value(v) for k, v in r.items()} for r in rows]


def test_every_position_matches_get(dataset: tuple[rodata.Dataset, dict[str, Any]]) -> None:
    ds, cols = dataset
    keys = _queries(cols, seed=1)
    batch = ds.get_many(keys)
    rows = _plain([ds.get(k) for k in keys])
    assert batch.found.tolist() == [r is not None for r in rows]
    assert _plain(batch.to_pylist()) == rows
    assert _plain(list(batch)) == rows
    for column in ds.schema.columns:
        values, valid = batch[column.name], batch.valid(column.name)
        assert valid.tolist() == [r is not None and r[column.name] is not None for r in rows]
        for i, row in enumerate(rows):
            expected = _expected_value(row, column.name)
            if not column.fixed_width:
                assert values[i] == expected
            elif column.type == "vector" and expected is not None:
                assert values[i].tolist() == expected
            elif expected is not None:
                assert python_value(values[i]) == expected, (column.name, i)
            else:
                assert not np.any(values[i]), "absent or null: zeros"


def test_a_batch_of_a_numpy_key_array_equals_one_of_a_list(dataset: tuple[rodata.Dataset, dict[str, Any]]) -> None:
    ds, cols = dataset
    keys = _queries(cols, seed=2)
    assert _plain(ds.get_many(np.array(keys, dtype=np.int64)).to_pylist()) == _plain(ds.get_many(keys).to_pylist())


def test_a_projection_carries_only_its_columns(dataset: tuple[rodata.Dataset, dict[str, Any]]) -> None:
    ds, cols = dataset
    keys = _queries(cols, seed=3)
    batch = ds.get_many(keys, columns=["name", "f32"])
    assert batch.names == ("name", "f32")
    assert batch.to_pylist() == [ds.get(k, ["name", "f32"]) for k in keys]
    with pytest.raises(UnknownColumnError, match="not selected") as info:
        batch["u8"]
    assert isinstance(info.value, KeyError)  # what a mapping's caller catches


def test_scan_batches_are_the_rows_in_key_order(dataset: tuple[rodata.Dataset, dict[str, Any]]) -> None:
    ds, cols = dataset
    ordered = sorted(int(k) for k in cols["id"])
    got = _plain([row for batch in ds.scan(batch_size=50) for row in batch.to_pylist()])
    assert [r["id"] for r in got if r is not None] == ordered
    assert got == _plain([ds.get(k) for k in ordered])
    first = next(iter(ds.scan(batch_size=50, columns=["f64"])))
    view = first["f64"]
    assert isinstance(view, np.ndarray) and not view.flags.writeable


def test_an_empty_batch(dataset: tuple[rodata.Dataset, dict[str, Any]]) -> None:
    ds, _ = dataset
    batch = ds.get_many([])
    assert len(batch) == 0 and batch.to_pylist() == [] and batch["name"] == [] and len(batch["f32"]) == 0
