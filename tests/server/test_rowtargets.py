"""The compiled row route's cache (rodata.server.rowtargets, wire/rows.pyx): answers equal to the row
handler's (the differential tests check every case), remade when the version changes, and never the
one thing keeping a swapped-out version mapped."""

from __future__ import annotations

import asyncio
import gc
import weakref
from pathlib import Path

import numpy as np

import rodata
from rodata.server.app import create_app
from rodata.server.runner import wire_for
from rodata.server.settings import Settings
from tests.server.asgikit import call_wire


def publish(root: Path, gen: int) -> str:
    return rodata.write(root, "d", {"id": np.arange(50), "gen": np.full(50, gen)}, key="id").name


def test_a_swapped_out_version_is_not_kept_by_the_row_cache(tmp_path: Path) -> None:
    first = publish(tmp_path, 1)
    app = create_app(tmp_path, settings=Settings())
    app.catalog.load()
    wire = wire_for(app)
    loop = asyncio.new_event_loop()
    try:
        got = loop.run_until_complete(call_wire(wire, "GET", b"/v1/datasets/d/rows/7"))
        assert got.status == 200 and b'"gen":1' in got.body and got.header("x-rodata-version") == first
        old = weakref.ref(app.catalog.get("d"))
        second = publish(tmp_path, 2)
        app.catalog.refresh()
        assert app.catalog.get("d").version == second
        gc.collect()
        assert old() is None  # nothing of the protocol keeps the old version (and its mapping) alive
        got = loop.run_until_complete(call_wire(wire, "GET", b"/v1/datasets/d/rows/7"))
        assert b'"gen":2' in got.body and got.header("x-rodata-version") == second
    finally:
        loop.close()
        app.catalog.stop()
