"""``BuildReport``: what a build did, for people (one line) and for machines (JSON)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["BuildReport"]


@dataclass
class BuildReport:
    """The result of :func:`rodata.build`."""

    dataset: str
    version: str
    path: str
    rows_in: int  # records read, good and bad
    rows_out: int  # rows in the published version
    bad_rows: int  # records quarantined (see `rejects`)
    duplicates: int  # rows dropped by on_duplicate="first"/"last"
    bytes_in: int  # bytes of the input files
    bytes_out: int  # bytes of the published segments
    parts: int
    workers: int
    passes: int  # parse passes (more than one when a column's inferred type had to widen)
    seconds: dict[str, float] = field(default_factory=dict)  # wall time per phase, and "total"
    work: dict[str, float] = field(default_factory=dict)  # worker time per step, summed over workers
    schema: list[dict[str, Any]] = field(default_factory=list)
    rejects: str | None = None
    inputs: list[str] = field(default_factory=list)
    #: types widened by inference past the sample: column, from, to, value, file, line
    widened: list[dict[str, Any]] = field(default_factory=list)
    dry_run: bool = False  # nothing was published: `version` and `path` are empty

    @property
    def rows_per_second(self) -> float:
        return self.rows_in / self.seconds["total"] if self.seconds.get("total") else 0.0

    @property
    def mb_per_second(self) -> float:
        return self.bytes_in / 1e6 / self.seconds["total"] if self.seconds.get("total") else 0.0

    def to_json(self) -> dict[str, Any]:
        """Everything, as JSON-ready values."""
        return {
            "dataset": self.dataset, "version": self.version, "path": self.path, "rows_in": self.rows_in,
            "rows_out": self.rows_out, "bad_rows": self.bad_rows, "duplicates": self.duplicates,
            "bytes_in": self.bytes_in, "bytes_out": self.bytes_out, "parts": self.parts,
            "workers": self.workers, "passes": self.passes,
            "seconds": {k: round(v, 4) for k, v in self.seconds.items()},
            "work": {k: round(v, 4) for k, v in self.work.items()},
            "rows_per_second": round(self.rows_per_second, 1), "mb_per_second": round(self.mb_per_second, 2),
            "schema": self.schema, "rejects": self.rejects, "inputs": self.inputs,
            "widened": self.widened, "dry_run": self.dry_run,
            **({"guard": "passed", "published": False} if self.dry_run else {}),
        }

    def summary(self) -> str:
        """One line for people."""
        extra = []
        if self.bad_rows:
            extra.append(f"{self.bad_rows:,} bad rows quarantined in {self.rejects}")
        if self.duplicates:
            extra.append(f"{self.duplicates:,} duplicate keys dropped")
        tail = f"; {', '.join(extra)}" if extra else ""
        if self.dry_run:
            return (f"dry run: would publish {self.dataset}: {self.rows_out:,} rows in {self.parts} part"
                    f"{'s' if self.parts != 1 else ''} ({_size(self.bytes_out)}) from {_size(self.bytes_in)}; "
                    f"the publish guard passed; nothing was published{tail}")
        return (f"built {self.dataset} {self.version}: {self.rows_out:,} rows in {self.parts} part"
                f"{'s' if self.parts != 1 else ''} from {_size(self.bytes_in)} in {self.seconds.get('total', 0):.2f} s "
                f"({self.rows_per_second:,.0f} rows/s, {self.mb_per_second:,.1f} MB/s, "
                f"{self.workers} worker{'s' if self.workers != 1 else ''}){tail}")

    def schema_line(self) -> str:
        """``schema: id int64 (key), price float64?, ...`` with ``?`` for nullable columns."""
        cols = []
        for c in self.schema:
            text = f"{c['name']} {c['type']}{'?' if c.get('nullable') else ''}"
            if c.get("key"):
                text += " (key)"
            if c.get("source"):
                text += f" <- {c['source']}"
            cols.append(text)
        return "schema: " + ", ".join(cols)


def _size(n: int) -> str:
    value = float(n)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if value < 1000 or unit == "TB":
            return f"{value:,.0f} {unit}" if unit == "B" else f"{value:,.1f} {unit}"
        value /= 1000
    return f"{n} B"
