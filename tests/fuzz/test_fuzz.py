"""A bounded run of every fuzz target, and the known findings' reproducers (docs/fuzzing.md).

Each target runs a few thousand inputs under libFuzzer in a child process (a crash or hang
there is a finding, not the end of the test run); the run must end with no finding outside
the known open ones that fuzz/outcome.py lists.  The reproducers under fuzz/regressions/ end
as their known finding or cleanly, never as anything else."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from fuzz.regressions import make
from fuzz.run import replay

from fuzz import outcome

ROOT = Path(__file__).resolve().parents[2]
REGRESSIONS = ROOT / "fuzz" / "regressions"

#: Inputs per target: enough to get past the seeds into mutated inputs, small enough for CI.
BOUNDED = {"segment": 4000, "manifest": 2000, "csv": 4000, "jsonl": 4000, "build": 300}


@pytest.mark.parametrize("target", sorted(BOUNDED))
def test_bounded_run_finds_nothing_new(target: str, tmp_path: Path) -> None:
    runs = BOUNDED[target]
    proc = subprocess.run(
        [sys.executable, "-m", "fuzz.run", "--target", target, "--runs", str(runs), "--seed", "1",
         "--timeout", "60", "--workdir", str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )
    summary = json.loads((tmp_path / "summary.json").read_text())
    new = [f for f in summary["findings"] if f.get("outcome") != "known"]
    report = "\n\n".join(f"{f.get('kind')}: {f.get('signature')}\nartifact: {f.get('artifact')}\n"
                         f"{f.get('traceback', '')[-1500:]}" for f in new)
    assert not new, f"new findings of target {target!r}:\n{report}"
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert summary["executed"] >= runs
    assert summary["corpus"] > 0 and summary["cov"] > 0  # coverage feedback reached libFuzzer


_ENTRIES = [*outcome.KNOWN, *outcome.FIXED]


@pytest.mark.parametrize("entry", _ENTRIES, ids=[k.id for k in _ENTRIES])
def test_reproducer_ends_as_its_finding_or_cleanly(entry: outcome.Known) -> None:
    """A known finding's reproducer ends as that finding (still open) or cleanly (fixed: then the
    entry belongs in FIXED); a fixed one's ends cleanly.  Never as another finding."""
    records = replay(entry.target, _mode(entry.target), [REGRESSIONS / r for r in entry.regressions])
    assert len(records) == len(entry.regressions)
    for record in records:
        assert record["outcome"] != "finding", f"{record['file']}: {record.get('traceback')}"
        allowed = {entry.id} if entry in outcome.KNOWN else set()
        ids_of_target = {k.id for k in outcome.KNOWN if k.target == entry.target}
        assert set(record["known"]) <= (ids_of_target if allowed else set()), record


def test_every_reproducer_is_listed_and_regenerates() -> None:
    listed = {r for k in (*outcome.KNOWN, *outcome.FIXED) for r in k.regressions}
    on_disk = {str(p.relative_to(REGRESSIONS)) for p in REGRESSIONS.glob("*/*") if p.is_file()}
    assert on_disk == listed
    for target, cases in make.all_cases().items():
        for name, data in cases.items():
            assert (REGRESSIONS / target / name).read_bytes() == data, f"{target}/{name} differs from make.py's"


def _mode(target: str) -> str:
    from fuzz import targets

    mode: str = targets.load(target).MODES[0]
    return mode
