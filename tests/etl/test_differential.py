"""The ETL differential suite, bounded run: seeded random CSV, JSON Lines and Parquet inputs built
by ``rodata build`` and compared cell by cell with the reference readers (tests/etl/differential.py).
The long run is ``python -m tests.etl.differential --minutes N`` (docs/etl.md)."""

from __future__ import annotations

import tempfile
from collections import Counter
from pathlib import Path

import pytest

from . import differential, ref_build
from .differential import Mismatch, run_seed
from .gen_formats import make_case

SEEDS = range(300)
LARGE = (0, 2, 7)  # a gzip JSON Lines stream and a gzip CSV stream that spill mid-way, and a second JSON one


@pytest.mark.parametrize("seed", SEEDS)
def test_build_matches_the_reference(seed: int) -> None:
    run_seed(seed)


@pytest.mark.parametrize("seed", LARGE)
def test_large_input_that_spills_matches_the_reference(seed: int) -> None:
    run_seed(seed, large=True)


def test_the_bounded_run_covers_what_it_claims(tmp_path: Path) -> None:
    """The seeds above exercise every format, both workers counts, the CLI, every duplicate policy,
    quarantined records, declared and inferred types, gzip, TSV, a live version to keep."""
    seen: Counter[str] = Counter()
    for seed in SEEDS:
        case = make_case(seed, Path(tempfile.mkdtemp(dir=tmp_path)))
        seen.update([case.format, f"workers={case.workers}", f"on_duplicate={case.on_duplicate}"])
        seen.update(name for name, flag in [("cli", case.cli), ("max_bad", case.max_bad), ("live", case.live),
                                            ("tsv", case.tab), ("schema", case.schema),
                                            ("gzip", any(p.suffix == ".gz" for p in case.files)),
                                            ("spill-sized memory", case.memory_limit),
                                            ("tiny chunks", (case.chunk_bytes or 1 << 30) < 1000)] if flag)
    for feature in ("csv", "jsonl", "parquet", "workers=1", "workers=2", "on_duplicate=error",
                    "on_duplicate=first", "on_duplicate=last", "cli", "max_bad", "live", "tsv", "schema", "gzip",
                    "spill-sized memory", "tiny chunks"):
        assert seen[feature] >= 3, (feature, seen)


def test_a_wrong_expectation_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    """The comparison is not vacuous: one expected cell changed makes the case fail."""
    original = ref_build.finish

    def finish(*args: object, **kwargs: object) -> ref_build.Expected:
        expected = original(*args, **kwargs)  # type: ignore[arg-type]
        row = list(expected.rows[-1])
        row[-1] = None if row[-1] is not None else 0
        expected.rows[-1] = tuple(row)
        return expected

    for module in (differential.ref_csv, differential.ref_jsonl, differential.ref_parquet):
        monkeypatch.setattr(module, "finish", finish)
    seed = next(s for s in SEEDS if _builds_rows(s))
    with pytest.raises(Mismatch, match=f"seed {seed}"):
        run_seed(seed)


def _builds_rows(seed: int) -> bool:
    with tempfile.TemporaryDirectory() as work:
        case = make_case(seed, Path(work))
        expected = differential.expected_of(case, str(Path(work) / "rejects.jsonl") if case.max_bad else None,
                                            None)
        return expected.error is None and bool(expected.rows) and not case.live
