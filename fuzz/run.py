"""Run one fuzz target: ``python -m fuzz.run --target NAME (--minutes N | --runs N)``.

The run generates the target's seed corpus, then runs libFuzzer (through atheris) in a
child process over a corpus directory that persists in ``--workdir`` (so a long run resumes
where the last one stopped).  A finding stops the child; the run replays the artifact in a
fresh process to classify it, lists it, and restarts the child with that finding's signature
stepped over, until the budget (inputs or minutes) is spent.  It prints a summary (and writes
``summary.json`` in the work directory): inputs executed, libFuzzer's ``cov:`` and ``ft:``
counts, corpus size and every finding with its artifact.  Exit status 1 when there was a
finding that :data:`fuzz.outcome.KNOWN` does not list.

``python -m fuzz.run --target NAME --replay FILE|DIR... [--coverage]`` replays inputs (an
artifact, a corpus, fuzz/regressions/...) and prints how each one ends."""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from fuzz import targets

ROOT = Path(__file__).resolve().parents[1]
_STAT = re.compile(r"stat::number_of_executed_units:\s*(\d+)")
_PULSE = re.compile(r"^#(\d+)\s.*?cov: (\d+) ft: (\d+)(?: corp: (\d+)/)?", re.M)
_ARTIFACT = re.compile(r"Test unit written to (\S+)")
_KIND = re.compile(r"ERROR: libFuzzer: (deadly signal|timeout|out-of-memory|fuzz target exited)")
_MAX_RESTARTS = 40


def _worker(target: str, mode: str, *args: str) -> list[str]:
    return [sys.executable, "-m", "fuzz.worker", target, mode, *args]


def replay(target: str, mode: str, files: list[Path], *, coverage: bool = False,
           timeout: float = 600) -> list[dict[str, Any]]:
    """Run `files` through the harness in a fresh process; one record per file (plus a
    ``{"coverage": ...}`` record with --coverage).  A crash is a record with its signal."""
    cmd = _worker(target, mode, "--replay", *(["--coverage"] if coverage else []), *map(str, files))
    try:
        proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return [{"file": str(files[0]), "outcome": "finding", "signature": "hang", "type": "timeout"}]
    records = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0:
        done = {r.get("file") for r in records}
        first = next((str(f) for f in files if str(f) not in done), str(files[-1]))
        sig = f"signal {-proc.returncode}" if proc.returncode < 0 else f"exit {proc.returncode}"
        records.append({"file": first, "outcome": "finding", "signature": sig, "type": "crash",
                        "traceback": proc.stderr[-4000:]})
    return records


def _input_files(paths: list[str]) -> list[Path]:
    out: list[Path] = []
    for p in map(Path, paths):
        out.extend(sorted(f for f in p.rglob("*") if f.is_file()) if p.is_dir() else [p])
    return out


class Run:
    """One budgeted run of one target (see the module docstring)."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.target = targets.load(args.target)
        self.mode = args.mode or self.target.MODES[0]
        self.work = Path(args.workdir or ROOT / "fuzz" / "work" / f"{args.target}-{self.mode}").resolve()
        self.corpus = self.work / "corpus"
        self.seeds = self.work / "seeds"
        self.artifacts = self.work / "artifacts"
        self.executed = 0
        self.cov = self.ft = self.corp = 0
        self.findings: list[dict[str, Any]] = []
        self.skip: list[str] = []
        self.restarts = 0
        self.started = time.monotonic()

    def prepare(self) -> None:
        if self.args.fresh and self.work.exists():
            shutil.rmtree(self.work)
        shutil.rmtree(self.seeds, ignore_errors=True)
        for d in (self.corpus, self.seeds, self.artifacts):
            d.mkdir(parents=True, exist_ok=True)
        scratch = self.work / "seed-tables"
        shutil.rmtree(scratch, ignore_errors=True)
        scratch.mkdir()
        for seed in self.target.seeds(scratch):
            shutil.move(str(seed), self.seeds / seed.name)
        shutil.rmtree(scratch, ignore_errors=True)

    def budget_left(self) -> tuple[int | None, float | None]:
        runs = None if self.args.runs is None else self.args.runs - self.executed
        secs = None if self.args.minutes is None else self.args.minutes * 60 - (time.monotonic() - self.started)
        return runs, secs

    def libfuzzer_args(self, runs: int | None, secs: float | None) -> list[str]:
        a = self.args
        out = [str(self.corpus), str(self.seeds), f"-seed={a.seed + self.restarts}", f"-timeout={a.timeout}",
               f"-rss_limit_mb={a.rss_mb}", f"-max_len={self.target.MAX_LEN}", "-print_final_stats=1",
               f"-artifact_prefix={self.artifacts}/", "-print_pcs=0", "-reduce_inputs=1"]
        if self.target.DICT:
            out.append(f"-dict={ROOT / 'fuzz' / 'dicts' / self.target.DICT}")
        if runs is not None:
            out.append(f"-runs={max(runs, 1)}")
        if secs is not None:
            out.append(f"-max_total_time={max(int(secs), 1)}")
        return out

    def once(self) -> bool:
        """One child run; False when the budget is spent (or the run cannot go on)."""
        runs, secs = self.budget_left()
        if (runs is not None and runs <= 0) or (secs is not None and secs < 1):
            return False
        log = self.work / f"log-{self.restarts:02d}.txt"
        env = dict(os.environ, RODATA_FUZZ_SKIP="\x1e".join(self.skip))
        if self.args.native:
            from fuzz.instrumented import worker_env

            env.update(worker_env(Path(self.args.native).resolve()))
            env["PYTHONPATH"] = env.pop("RODATA_FUZZ_PYTHONPATH")
        with open(log, "w") as fh:
            proc = subprocess.run(_worker(self.args.target, self.mode, *self.libfuzzer_args(runs, secs)),
                                  cwd=ROOT, stdout=fh, stderr=subprocess.STDOUT, env=env)
        text = log.read_text(errors="replace")
        pulses = _PULSE.findall(text)
        stat = _STAT.findall(text)
        self.executed += int(stat[-1]) if stat else (int(pulses[-1][0]) if pulses else 0)
        if pulses:
            self.cov, self.ft = int(pulses[-1][1]), int(pulses[-1][2])
            self.corp = int(pulses[-1][3] or self.corp)
        artifact = _ARTIFACT.search(text)
        if proc.returncode == 0 and artifact is None:
            return False
        self.restarts += 1
        self._record(text, artifact.group(1) if artifact else None, proc.returncode)
        return self.restarts < _MAX_RESTARTS

    def _record(self, text: str, artifact: str | None, rc: int) -> None:
        kind = _KIND.search(text)
        finding: dict[str, Any] = {"kind": kind.group(1) if kind else f"exit {rc}", "artifact": artifact}
        if artifact and finding["kind"] in ("fuzz target exited", "deadly signal"):
            rec = replay(self.args.target, self.mode, [Path(artifact)])[-1]
            finding.update({k: rec.get(k) for k in ("outcome", "signature", "type", "message", "traceback")})
        else:
            finding.update(outcome="finding", signature=finding["kind"],
                           traceback=text[text.find("ERROR: libFuzzer") :][:4000])
        sig = finding.get("signature") or finding["kind"]
        seen = [f for f in self.findings if f.get("signature") == sig]
        finding["repeats"] = len(seen)
        self.findings.append(finding)
        if finding.get("type") not in (None, "crash", "timeout") and sig not in self.skip:
            self.skip.append(sig)  # a Python exception: step over it from now on
        print(f"[fuzz.run] finding: {finding['kind']}: {sig} ({artifact})", file=sys.stderr, flush=True)

    def summary(self) -> dict[str, Any]:
        distinct: dict[str, dict[str, Any]] = {}
        for f in self.findings:
            distinct.setdefault(f.get("signature") or f["kind"], f)
        return {"target": self.args.target, "mode": self.mode, "executed": self.executed,
                "seconds": round(time.monotonic() - self.started, 1), "cov": self.cov, "ft": self.ft,
                "corpus": len(list(self.corpus.iterdir())), "restarts": self.restarts,
                "findings": list(distinct.values()), "workdir": str(self.work)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m fuzz.run", description=__doc__.split("\n\n")[0])
    ap.add_argument("--target", required=True, choices=targets.NAMES)
    ap.add_argument("--mode", help="the target's mode (the first of its MODES by default)")
    ap.add_argument("--minutes", type=float, help="stop after this many minutes")
    ap.add_argument("--runs", type=int, help="stop after this many inputs")
    ap.add_argument("--seed", type=int, default=1, help="libFuzzer's random seed (reruns are reproducible)")
    ap.add_argument("--timeout", type=int, default=10, help="seconds one input may take before it is a hang")
    ap.add_argument("--rss-mb", type=int, default=2048, help="memory limit of the fuzzing process")
    ap.add_argument("--workdir", help="corpus, artifacts and logs (default fuzz/work/TARGET-MODE)")
    ap.add_argument("--fresh", action="store_true", help="start from the seeds alone (drop the saved corpus)")
    ap.add_argument("--native", metavar="DIR", help="fuzz the instrumented build in DIR (python -m fuzz.instrumented)")
    ap.add_argument("--replay", nargs="+", metavar="PATH", help="replay files or directories instead")
    ap.add_argument("--coverage", action="store_true", help="with --replay: line coverage of rodata's Python")
    args = ap.parse_args(argv)
    if args.replay:
        mode = args.mode or targets.load(args.target).MODES[0]
        records = replay(args.target, mode, _input_files(args.replay), coverage=args.coverage)
        for r in records:
            print(json.dumps(r))
        return int(any(r.get("outcome") == "finding" for r in records))
    if args.runs is None and args.minutes is None:
        ap.error("give --runs or --minutes")
    run = Run(args)
    run.prepare()
    while run.once():
        pass
    doc = run.summary()
    (run.work / "summary.json").write_text(json.dumps(doc, indent=1) + "\n")
    print(json.dumps({k: v for k, v in doc.items() if k != "findings"}))
    for f in doc["findings"]:
        print(f"finding [{f.get('outcome')}] {f.get('signature')}  artifact: {f.get('artifact')}")
    return int(any(f.get("outcome") != "known" for f in doc["findings"]))


if __name__ == "__main__":
    sys.exit(main())
