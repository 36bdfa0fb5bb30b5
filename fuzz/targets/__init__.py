"""The fuzz targets: one module each, with the same small interface.

``NAME``, ``MAX_LEN`` (bytes), ``MODES`` (the first is the default), ``DICT`` (a file in
fuzz/dicts/ or None), ``seeds(out_dir)``, ``setup(mode)``, ``one_input(data)`` and, where
the target has one, ``mutator(data, max_size, seed)`` (a custom mutator for `mode`)."""

from __future__ import annotations

import importlib
from types import ModuleType

NAMES = ("segment", "manifest", "csv", "jsonl", "build")
#: The targets that have a custom mutator (used in every mode but "raw").
WITH_MUTATOR = frozenset(("segment", "manifest"))


def load(name: str) -> ModuleType:
    """The target module called `name`."""
    if name not in NAMES:
        raise SystemExit(f"unknown target {name!r}; targets are {', '.join(NAMES)}")
    return importlib.import_module(f"fuzz.targets.{name}")
