"""``rodata.rollback``: make an earlier version live again, after checking it.

It sits above the store (it opens the version it restores, as a reader would), so the store
never imports the reader."""

from __future__ import annotations

import os

from rodata.dataset import open as open_dataset
from rodata.errors import DatasetNotFoundError, PublishError
from rodata.store import (
    Version,
    current_version,
    dataset_path,
    history,
    list_versions,
    load_version,
    locked,
    numbered_before,
    previous_live,
    swap_current,
)

__all__ = ["rollback"]


def rollback(data_root: str | os.PathLike[str], dataset: str, version: str | None = None) -> Version:
    """Make `version` live again; by default the version that was live before the live one
    (HISTORY), or for a dataset without a HISTORY the one numbered before it.  The version is
    opened, checksums verified and deep-validated, before it goes live."""
    d = dataset_path(data_root, dataset)
    with locked(d):
        live = current_version(d)
        versions = list_versions(d)
        if version is None:
            version = previous_live(d, live) if history(d) else numbered_before(versions, live)
            if version is None:
                raise PublishError(f"{dataset}: no version that was live before {live} is kept to roll back to")
        if version not in versions:
            raise DatasetNotFoundError(f"{dataset}: no version {version!r} (have {', '.join(versions)})")
        with open_dataset(d / version, verify=True) as ds:  # a broken version never goes live
            ds.validate()
        swap_current(d, version)
        return load_version(d, version)
