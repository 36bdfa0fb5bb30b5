"""``rodata demo``: a sample dataset, built with the ETL, served, with requests to try.

The sample is a table of users with the features a platform team might serve to
other services (country, plan, dates, activity counts, spend, a risk score),
with a few nulls.  It is generated once, as CSV, in the demo directory; each run
builds it as a new version, then serves the data root."""

from __future__ import annotations

import csv
import json
import os
import shlex
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

import rodata
from rodata.errors import UsageError
from rodata.server.runner import bind

if TYPE_CHECKING:
    from rodata.etl.report import BuildReport

__all__ = ["DATASET", "KEY", "build_sample", "check_port", "curl_examples", "run_demo", "write_sample_csv"]

DATASET = "users"
KEY = "user_id"
SCHEMA = {"user_id": "int64", "country": "string", "city": "string", "plan": "string", "signup_date": "date",
          "last_seen": "timestamp", "sessions_30d": "int32", "spend_usd": "float64", "churn_risk": "float32",
          "is_active": "bool"}
_COUNTRIES = {
    "US": ["New York", "Chicago", "Austin", "Seattle"], "DE": ["Berlin", "Munich", "Hamburg"],
    "FR": ["Paris", "Lyon"], "JP": ["Tokyo", "Osaka"], "BR": ["São Paulo", "Recife"],
    "IN": ["Bengaluru", "Pune", "Delhi"], "GB": ["London", "Leeds"], "NG": ["Lagos"],
}
_PLANS = np.array(["free", "pro", "team", "enterprise"])


def write_sample_csv(path: Path, rows: int, seed: int = 7) -> None:
    """A realistic sample of `rows` users as CSV (empty fields are nulls)."""
    rng = np.random.default_rng(seed)
    ids = rng.choice(np.arange(10_000_000, 10_000_000 + rows * 5, dtype=np.int64), size=rows, replace=False)
    countries = np.array(list(_COUNTRIES))
    country = countries[rng.integers(0, len(countries), rows)]
    plan = _PLANS[rng.choice(len(_PLANS), rows, p=[0.6, 0.25, 0.12, 0.03])]
    signup = np.datetime64("2019-01-01") + rng.integers(0, 5 * 365, rows).astype("timedelta64[D]")
    last_seen = (signup.astype("datetime64[s]") + rng.integers(0, 400 * 86400, rows).astype("timedelta64[s]"))
    sessions = rng.poisson(12, rows)
    spend = np.round(rng.gamma(1.5, 40.0, rows) * (plan != "free"), 2)
    risk = np.round(rng.beta(2, 5, rows), 4)
    active = sessions > 3
    no_city = rng.random(rows) < 0.05
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with open(tmp, "w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(list(SCHEMA))
        for i in range(rows):
            cities = _COUNTRIES[str(country[i])]
            city = "" if no_city[i] else cities[int(ids[i]) % len(cities)]
            out.writerow([int(ids[i]), country[i], city, plan[i], str(signup[i]), f"{last_seen[i]}Z",
                          int(sessions[i]), f"{spend[i]:.2f}", f"{risk[i]:.4f}", "true" if active[i] else "false"])
    os.replace(tmp, path)


def build_sample(csv_path: Path, data_root: Path) -> BuildReport:
    """Build the sample CSV into `data_root` as a new version, with the ETL on all cores."""
    return rodata.build([csv_path], dataset=DATASET, key=KEY, data_root=data_root, workers=None, schema=SCHEMA)


def check_port(host: str, port: int) -> None:
    """Refuse a port that is taken before anything is built (:class:`UsageError`, exit status 2)."""
    if port == 0:
        return
    try:
        bind(host, port).close()
    except OSError as exc:
        raise UsageError(f"cannot listen on {host}:{port}: {exc.strerror or exc}; "
                         "pick another --port, or --port 0 for a free one") from None


def curl_examples(base: str, keys: list[int]) -> list[str]:
    """Commands to try against a server at `base` serving the sample."""
    url = f"{base}/v1/datasets/{DATASET}"
    body = json.dumps({"keys": [keys[0], keys[1], 1], "columns": ["country", "plan", "spend_usd"]})
    return [
        f"curl -s {base}/healthz",
        f"curl -s {base}/v1/datasets",
        f"curl -s {url}/rows/{keys[0]}",
        f"curl -s '{url}/rows/{keys[1]}?columns=country,plan,churn_risk'",
        f"curl -s -X POST {url}/lookup -H 'content-type: application/json' -d {shlex.quote(body)}",
        f"curl -s '{url}/scan?start={keys[0]}&limit=3&columns=city,sessions_30d'",
        f"curl -s '{url}/columns/spend_usd?offset=0&limit=5&format=json'",
        f"curl -s '{url}/columns/churn_risk?limit=1000&format=npy' -o churn_risk.npy",
        f"curl -s {base}/metrics | grep rodata_dataset",
    ]


def run_demo(directory: str | os.PathLike[str], *, rows: int = 200_000, host: str = "127.0.0.1", port: int = 8080,
             serve: bool = True, seconds: float | None = None, out: Callable[[str], None] | None = None) -> int:
    """Generate (first run), build, serve and print example requests; returns the exit status."""
    say = out or (lambda line: print(line, flush=True))
    if serve:
        check_port(host, port)  # before anything is generated or built
    root = Path(directory).resolve()
    csv_path = root / "users.csv"
    data_root = root / "data"
    if not csv_path.exists():
        say(f"generating a sample of {rows} users in {csv_path}")
        write_sample_csv(csv_path, rows)
    report = build_sample(csv_path, data_root)
    say(f"{report.summary()}; data root {data_root}")
    with rodata.open(data_root / DATASET) as ds:
        keys = [int(k) for k in ds.column(KEY, 0, 2)]

    def print_examples(bound_host: str, bound_port: int) -> None:
        shown = "127.0.0.1" if bound_host in ("0.0.0.0", "::") else bound_host
        base = f"http://[{shown}]:{bound_port}" if ":" in shown else f"http://{shown}:{bound_port}"
        say("")
        say("try:")
        for line in curl_examples(base, keys):
            say(f"  {line}")
        say(f"  open {base}/docs")
        say("")
        if serve:
            say("serving; Ctrl-C to stop")

    if not serve:
        print_examples(host, port)
        return 0
    from rodata.server.app import create_app
    from rodata.server.runner import run
    from rodata.server.settings import Settings

    app = create_app(data_root, settings=Settings.from_env())
    return run(app, host, port, on_listen=print_examples, stop_after=seconds)

