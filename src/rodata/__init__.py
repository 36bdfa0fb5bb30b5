"""rodata: serve read-only datasets at memory speed.

>>> import rodata
>>> version = rodata.write("data", "users", {"id": [1, 2], "name": ["ada", "bob"]}, key="id")
>>> with rodata.open("data/users") as ds:
...     ds.get(2)
{'id': 2, 'name': 'bob'}
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rodata._version import __version__
from rodata.batch import Batch
from rodata.dataset import Dataset, open
from rodata.errors import (
    BadInputError,
    BuildInProgressError,
    ClientError,
    DatasetNotFoundError,
    DuplicateKeyError,
    FormatError,
    KeyTypeError,
    PublishError,
    PublishGuardError,
    RodataError,
    SchemaError,
    UnknownColumnError,
    UsageError,
)
from rodata.schema import Column, Schema
from rodata.store import Version, list_versions
from rodata.validation import ValidationReport, validate
from rodata.versions import rollback
from rodata.writer import write

if TYPE_CHECKING:
    from rodata import parts
    from rodata.etl.build import build
    from rodata.etl.report import BuildReport


def __getattr__(name: str) -> Any:
    # The ETL (process pool and all) loads on first use: `import rodata` stays light for readers.
    if name == "build":
        from rodata.etl.build import build

        return build
    if name == "parts":  # building from many workers (docs/cluster.md); rodata.spark is imported by name
        import rodata.parts  # a submodule import (`from rodata import parts` would come back here)

        return rodata.parts
    if name == "BuildReport":
        from rodata.etl.report import BuildReport

        return BuildReport
    # The clients load httpx: only when one is asked for.
    if name == "Client":
        from rodata.client import Client

        return Client
    if name == "AsyncClient":
        from rodata.client import AsyncClient

        return AsyncClient
    raise AttributeError(f"module 'rodata' has no attribute {name!r}")

__all__ = [
    "AsyncClient",
    "BadInputError",
    "Batch",
    "BuildInProgressError",
    "BuildReport",
    "Client",
    "ClientError",
    "Column",
    "Dataset",
    "DatasetNotFoundError",
    "DuplicateKeyError",
    "FormatError",
    "KeyTypeError",
    "PublishError",
    "PublishGuardError",
    "RodataError",
    "Schema",
    "SchemaError",
    "UnknownColumnError",
    "UsageError",
    "ValidationReport",
    "Version",
    "__version__",
    "build",
    "list_versions",
    "open",
    "parts",
    "rollback",
    "validate",
    "write",
]
