"""The baseline: the same lookups as a plain FastAPI + SQLite service, the way a user would write it.

Run with ``RODATA_BENCH_SQLITE=/path/to/db.sqlite RODATA_BENCH_TABLE=flights uvicorn sqlite_app:app``
(same uvicorn settings as ``rodata serve``); the table has an ``id INTEGER PRIMARY KEY``."""

from __future__ import annotations

import os
import sqlite3
from typing import Any

from fastapi import FastAPI, HTTPException
from pydantic import BaseModel

DB_PATH = os.environ.get("RODATA_BENCH_SQLITE", "flights.sqlite")
TABLE = os.environ.get("RODATA_BENCH_TABLE", "flights")
app = FastAPI()
_conn = sqlite3.connect(DB_PATH, check_same_thread=False)
_conn.row_factory = sqlite3.Row
_ROW = f"SELECT * FROM {TABLE} WHERE id = ?"


class Lookup(BaseModel):
    keys: list[int]


@app.get("/rows/{key}")
def row(key: int) -> dict[str, Any]:
    found = _conn.execute(_ROW, (key,)).fetchone()
    if found is None:
        raise HTTPException(404, "not found")
    return dict(found)


@app.post("/lookup")
def lookup(body: Lookup) -> dict[str, Any]:
    by_key: dict[int, dict[str, Any]] = {}
    for at in range(0, len(body.keys), 500):
        chunk = body.keys[at : at + 500]
        marks = ",".join("?" * len(chunk))
        for found in _conn.execute(f"SELECT * FROM {TABLE} WHERE id IN ({marks})", chunk):
            by_key[found["id"]] = dict(found)
    return {"rows": [by_key.get(k) for k in body.keys]}
