"""Transitional: the key functions live in :mod:`rodata.keyorder`, taking of rows in
:meth:`rodata._columns.ColumnData.take`.  This module goes once no reader imports it."""

from __future__ import annotations

from typing import Any

import numpy as np

from rodata._columns import ColumnData
from rodata.keyorder import SAMPLE_MASK, equal_neighbors, key_at, merge_order, sample_keys, search, sort_order

__all__ = ["SAMPLE_MASK", "equal_neighbors", "key_at", "merge_order", "sample_keys", "search", "sort_order",
           "take"]


def take(col: ColumnData, order: np.ndarray[Any, Any]) -> ColumnData:
    """The column's rows in a new order."""
    return col.take(order)
