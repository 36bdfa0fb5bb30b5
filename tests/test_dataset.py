"""rodata.open and Dataset: lookups, batches, scans, columns, lifetime — against a plain-Python reference."""

from __future__ import annotations

import gc
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import rodata
from tests.conftest import normalize, reference_rows, sample_columns


def test_get_matches_reference_for_every_key(sample: tuple[Path, dict[str, Any]]) -> None:
    path, cols = sample
    ref = reference_rows(cols)
    with rodata.open(path) as ds:
        assert len(ds) == len(ref)
        for key, row in ref.items():
            assert normalize(ds.get(key)) == row


def test_get_absent_keys_return_none(sample: tuple[Path, dict[str, Any]]) -> None:
    path, cols = sample
    present = set(int(k) for k in cols["id"])
    with rodata.open(path) as ds:
        for key in [-(2**63), 2**63 - 1, 10**6, *range(-300, 700)]:
            if key not in present:
                assert ds.get(key) is None
        assert ds.get(2**64) is None  # outside int64: cannot be stored, so absent


def test_get_with_projection_and_unknown_column(sample: tuple[Path, dict[str, Any]]) -> None:
    path, cols = sample
    key = int(cols["id"][0])
    with rodata.open(path) as ds:
        assert ds.get(key, columns=["name", "id"]) == {"name": cols["name"][0], "id": key}
        with pytest.raises(rodata.UnknownColumnError, match="nope"):
            ds.get(key, columns=["nope"])


def test_wrong_key_type_is_a_key_type_error(sample: tuple[Path, dict[str, Any]]) -> None:
    path, _ = sample
    with rodata.open(path) as ds:
        for bad in ["1", 1.0, True, None, b"1"]:
            with pytest.raises(rodata.KeyTypeError):
                ds.get(bad)
        with pytest.raises(rodata.KeyTypeError):
            ds.get_many([1, "2"])
        with pytest.raises(rodata.KeyTypeError):
            ds.get_many(np.array([1.5]))


def test_get_many_aligned_with_keys(sample: tuple[Path, dict[str, Any]]) -> None:
    path, cols = sample
    ref = reference_rows(cols)
    keys = [int(k) for k in cols["id"][::3]] + [10**9, -(10**9)] + [int(cols["id"][0])] * 2
    with rodata.open(path) as ds:
        batch = ds.get_many(keys)
        assert batch.found.tolist() == [k in ref for k in keys]
        assert [normalize(r) for r in batch.to_pylist()] == [ref.get(k) for k in keys]
        assert batch["i32"].tolist() == [ref[k]["i32"] if k in ref else 0 for k in keys]
        assert batch["name"] == [ref[k]["name"] if k in ref else None for k in keys]
        assert batch.valid("f64").tolist() == [k in ref and ref[k]["f64"] is not None for k in keys]
        assert batch["emb"].shape == (len(keys), 4)


def test_string_keyed_dataset(data_root: Path) -> None:
    cols = sample_columns(string_key=True)
    rodata.write(data_root, "s", cols, key="id")
    ref = reference_rows(cols)
    with rodata.open(data_root / "s") as ds:
        for key, row in ref.items():
            assert normalize(ds.get(key)) == row
        assert ds.get("missing") is None
        keys = [*list(ref)[:50], "nope", ""]
        batch = ds.get_many(keys)
        assert [normalize(r) for r in batch.to_pylist()] == [ref.get(k) for k in keys]
        with pytest.raises(rodata.KeyTypeError):
            ds.get(5)


def test_scan_in_key_order_with_bounds(sample: tuple[Path, dict[str, Any]]) -> None:
    path, cols = sample
    keys = sorted(int(k) for k in cols["id"])
    with rodata.open(path) as ds:
        every = [r["id"] for b in ds.scan(batch_size=7) for r in b.to_pylist()]
        assert every == keys
        lo, hi = keys[20], keys[90]
        got = [int(k) for b in ds.scan(start=lo, end=hi, columns=["id"]) for k in b["id"]]
        assert got == [k for k in keys if lo <= k < hi]
        after = [int(k) for b in ds.scan(after=keys[150]) for k in b["id"]]
        assert after == keys[151:]
        assert list(ds.scan(start=hi, end=lo)) == []
        with pytest.raises(rodata.KeyTypeError):
            list(ds.scan(prefix="a"))


def test_prefix_scan_on_string_keys(data_root: Path) -> None:
    words = ["a", "ab", "abc", "abd", "ac", "b", "ab\xff", "\U0001f600", "\U0001f600x", "ä", "äb", ""]
    rodata.write(data_root, "w", {"k": words, "n": list(range(len(words)))}, key="k")
    encoded = sorted(w.encode() for w in words)
    with rodata.open(data_root / "w") as ds:
        for prefix in ["", "a", "ab", "abc", "\U0001f600", "ä", "zz"]:
            got = [k for b in ds.scan(prefix=prefix) for k in b["k"]]
            want = [w.decode() for w in encoded if w.startswith(prefix.encode())]
            assert got == want, prefix
        got = [k for b in ds.scan(start="ab", end="b", prefix="ab") for k in b["k"]]
        assert got == ["ab", "abc", "abd", "ab\xff"]
        assert [k for b in ds.scan(after="abd") for k in b["k"]] == [w.decode() for w in encoded if w > b"abd"]


def test_column_is_a_read_only_zero_copy_view(sample: tuple[Path, dict[str, Any]]) -> None:
    path, cols = sample
    with rodata.open(path) as ds:
        view = ds.column("i32")
        order = np.argsort(cols["id"])
        assert view.tolist() == cols["i32"][order].tolist()
        assert not view.flags.writeable
        with pytest.raises(ValueError):
            view[0] = 1
        part = ds._segments()[0]
        assert np.shares_memory(view, np.frombuffer(part.mapping, dtype=np.uint8))
        base: Any = view
        while isinstance(base, (np.ndarray, memoryview)):
            base = base.base if isinstance(base, np.ndarray) else base.obj
        assert base is part.mapping  # the base chain ends at the mapping: the view keeps it alive
        assert ds.column("i32", offset=10, limit=5).tolist() == view[10:15].tolist()
        assert ds.column("i32", offset=195, limit=100).tolist() == view[195:].tolist()
        assert ds.column("name", offset=0, limit=3) == [cols["name"][i] for i in order[:3]]
        assert ds.column("emb").shape == (200, 4)
        validity = ds.validity("f64")
        assert validity is not None
        assert validity.tolist() == [cols["f64"][i] is not None for i in order]
        assert ds.validity("i32") is None


def test_views_outlive_close_and_the_dataset(sample: tuple[Path, dict[str, Any]]) -> None:
    path, cols = sample
    ds = rodata.open(path)
    view = ds.column("f32")
    expected = view.copy()
    scan_batch = next(ds.scan(columns=["u16"]))
    u16 = scan_batch["u16"]
    ds.close()
    assert ds.closed
    with pytest.raises(rodata.RodataError, match="closed"):
        ds.get(int(cols["id"][0]))
    del ds, scan_batch
    gc.collect()
    # The mapping is still alive through the views: reading them is safe.
    assert np.array_equal(view, expected)
    assert int(u16.sum()) == int(cols["u16"].sum())


def test_multi_part_version_behaves_like_one_part(data_root: Path) -> None:
    cols = sample_columns(n=500)
    rodata.write(data_root, "one", cols, key="id")
    rodata.write(data_root, "many", cols, key="id", rows_per_part=64)
    with rodata.open(data_root / "one") as one, rodata.open(data_root / "many") as many:
        assert len(many.manifest.parts) == 8
        keys = [int(k) for k in cols["id"]] + [10**7, -(10**7)]
        for k in keys[::5]:
            assert normalize(many.get(k)) == normalize(one.get(k))
        a, b = one.get_many(keys), many.get_many(keys)
        assert a.found.tolist() == b.found.tolist()
        assert [normalize(r) for r in a.to_pylist()] == [normalize(r) for r in b.to_pylist()]
        assert a["name"] == b["name"]
        assert np.array_equal(a["f32"], b["f32"])
        assert a.valid("f64").tolist() == b.valid("f64").tolist()
        assert np.array_equal(one.column("f32"), many.column("f32"))
        assert one.column("name", 60, 10) == many.column("name", 60, 10)
        assert [r["id"] for x in many.scan(start=-50, end=400) for r in x.to_pylist()] == \
               [r["id"] for x in one.scan(start=-50, end=400) for r in x.to_pylist()]


def test_open_version_dir_and_segment_file(sample: tuple[Path, dict[str, Any]]) -> None:
    path, cols = sample
    version = (path / "CURRENT").read_text().strip()
    key = int(cols["id"][3])
    with rodata.open(path / version) as ds:
        assert ds.version == version
        want = ds.get(key)
    with rodata.open(path / version / "part-00000.seg") as seg_ds:
        assert normalize(seg_ds.get(key)) == normalize(want)
    with pytest.raises(rodata.DatasetNotFoundError):
        rodata.open(path / "nothing-here")


def test_describe_and_schema(sample: tuple[Path, dict[str, Any]]) -> None:
    path, _ = sample
    with rodata.open(path) as ds:
        d = ds.describe()
        assert d["name"] == "sample" and d["rows"] == 200 and d["key"] == "id"
        types = {c["name"]: c["type"] for c in d["columns"]}
        assert types["emb"] == "vector[4]" and types["ts"] == "timestamp" and types["day"] == "date"
        assert ds.schema["f64"].nullable and not ds.schema["i32"].nullable
