"""The publish protocol and the data root (rodata.store), step by step on real directories."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

import rodata
from rodata import store
from rodata.errors import DatasetNotFoundError, FormatError, PublishError, RodataError, UsageError


def _write(root: Path, n: int = 10, dataset: str = "d", **kwargs: object) -> rodata.Version:
    return rodata.write(root, dataset, {"id": list(range(n)), "x": [i * 2 for i in range(n)]}, key="id",
                        **kwargs)  # type: ignore[arg-type]


def _manifest_doc(root: Path, dataset: str = "d") -> dict[str, object]:
    """A manifest as a writer hands it to publish, taken from a real published version."""
    live = store.current_version(root / dataset)
    assert live is not None
    doc = store.read_manifest(root / dataset / live).to_json()
    return {k: v for k, v in doc.items() if k not in ("version", "format", "dataset")}


def _stage_copy_of_live(root: Path, dataset: str = "d") -> Path:
    """A staging directory holding a copy of the live version's parts (what a writer leaves there)."""
    d = root / dataset
    live = store.current_version(d)
    assert live is not None
    staging = d / f".staging-{os.getpid()}-test"
    staging.mkdir()
    for part in (d / live).glob("part-*.seg"):
        (staging / part.name).write_bytes(part.read_bytes())
    return staging


def test_publish_numbers_versions_and_moves_current_and_history(data_root: Path) -> None:
    first = _write(data_root)
    second = _write(data_root, 12)
    d = data_root / "d"
    assert (first.sequence, second.sequence) == (1, 2)
    assert store.current_version(d) == second.name
    assert (d / store.CURRENT).read_text() == second.name + "\n"
    assert store.history(d) == [first.name, second.name]
    assert store.list_versions(d) == [first.name, second.name]
    assert store.read_manifest(d / second.name).rows == 12
    assert not [p for p in d.iterdir() if p.name.startswith(".staging-")]


def test_publish_checks_its_own_manifest_and_leaves_the_live_version(data_root: Path) -> None:
    live = _write(data_root)
    staging = _stage_copy_of_live(data_root)
    doc = _manifest_doc(data_root)
    doc["rows"] = 11  # does not add up with the parts' rows
    with pytest.raises(FormatError):
        store.publish(staging, "d", doc)
    assert store.current_version(data_root / "d") == live.name
    assert store.list_versions(data_root / "d") == [live.name]


def test_publish_refuses_keep_versions_below_one(data_root: Path) -> None:
    _write(data_root)
    with pytest.raises(UsageError, match="keep_versions"):
        store.publish(_stage_copy_of_live(data_root), "d", _manifest_doc(data_root), keep_versions=0)


def test_a_version_that_cannot_be_moved_into_place_is_a_publish_error(data_root: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    live = _write(data_root)
    staging = _stage_copy_of_live(data_root)
    doc = _manifest_doc(data_root)
    # The next version's name is taken by a file (not a version, so it is not counted): the rename fails.
    monkeypatch.setattr(store.secrets, "token_hex", lambda n=4: "deadbeef")
    (data_root / "d" / "v000002-deadbeef").write_text("occupied")
    with pytest.raises(PublishError, match="cannot move the new version into place"):
        store.publish(staging, "d", doc)
    assert store.current_version(data_root / "d") == live.name


def test_pruning_keeps_the_live_and_the_previously_live_version(data_root: Path) -> None:
    names = [_write(data_root, 10 + i, keep_versions=5).name for i in range(4)]
    d = data_root / "d"
    rodata.rollback(data_root, "d", names[0])  # v1 live again; v4 was live before it
    _write(data_root, 20, keep_versions=1)  # v5 live: keep it, and v1 (live before it)
    kept = store.list_versions(d)
    assert store.current_version(d) == kept[-1]
    assert names[0] in kept
    assert len(kept) == 2


def test_staging_dir_is_removed_on_error_and_stale_ones_of_dead_builds_are_cleaned(data_root: Path) -> None:
    d = data_root / "d"
    seen: list[Path] = []

    def failing_build() -> None:
        with store.staging_dir(data_root, "d") as staging:
            seen.append(staging)
            (staging / "part-00000.seg").write_bytes(b"half")
            raise RuntimeError("the build failed")

    with pytest.raises(RuntimeError):
        failing_build()
    assert seen and not seen[0].exists()
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True)
    stale = d / f".staging-{int(dead.stdout)}-0000"
    alive = d / f".staging-{os.getppid()}-0000"  # our parent is alive
    foreign = d / ".staging-notapid"
    for p in (stale, alive, foreign):
        p.mkdir()
    removed = store.clean_stale_staging(d)
    assert removed == [stale.name]
    assert alive.exists() and foreign.exists() and not stale.exists()


def test_publishes_of_one_dataset_never_interleave(data_root: Path) -> None:
    _write(data_root)
    errors: list[BaseException] = []

    def publish_one(i: int) -> None:
        try:
            _write(data_root, 10 + i, keep_versions=10)
        except BaseException as exc:  # the test reports it below
            errors.append(exc)

    threads = [threading.Thread(target=publish_one, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    d = data_root / "d"
    sequences = [int(name[1:7]) for name in store.list_versions(d)]
    assert sequences == list(range(1, 8))  # seven distinct numbers: no two publishes took the same
    assert store.history(d)[-1] == store.current_version(d)


@pytest.mark.parametrize("name", ["", ".hidden", "a/b", "x" * 129, "new\nline", "sp ace", "ü"])
def test_a_bad_dataset_name_is_a_usage_error(data_root: Path, name: str) -> None:
    with pytest.raises(UsageError, match="bad dataset name") as info:
        store.dataset_path(data_root, name)
    assert isinstance(info.value, RodataError) and isinstance(info.value, ValueError)
    assert not store.is_dataset_name(name)


def test_path_kind_tells_a_dataset_a_version_and_a_segment(data_root: Path, tmp_path: Path) -> None:
    version = _write(data_root)
    d = data_root / "d"
    assert store.path_kind(d) == "dataset"
    assert store.path_kind(version.path) == "version"
    assert store.path_kind(next(version.path.glob("*.seg"))) == "segment"
    with pytest.raises(DatasetNotFoundError, match="not a dataset"):
        store.path_kind(tmp_path)
    with pytest.raises(DatasetNotFoundError):
        store.path_kind(tmp_path / "missing")


def test_versions_sort_by_number_not_by_text(data_root: Path) -> None:
    d = data_root / "d"
    for name in ("v000010-aaaaaaaa", "v000009-bbbbbbbb", "v1000000-cccccccc"):
        (d / name).mkdir(parents=True)
    (d / "not-a-version").mkdir()
    assert store.list_versions(d) == ["v000009-bbbbbbbb", "v000010-aaaaaaaa", "v1000000-cccccccc"]
    assert store.numbered_before(store.list_versions(d), "v000010-aaaaaaaa") == "v000009-bbbbbbbb"


@pytest.mark.parametrize("text", ["../escape\n", "v1-x\n", "\xff", ""])
def test_a_current_that_names_no_version_is_a_format_error(data_root: Path, text: str) -> None:
    _write(data_root)
    (data_root / "d" / store.CURRENT).write_bytes(text.encode("latin-1"))
    with pytest.raises(FormatError):
        store.current_version(data_root / "d")
