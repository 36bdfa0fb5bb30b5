"""Build rodata's compiled core with coverage instrumentation, for fuzzing it natively.

``python -m fuzz.instrumented --out DIR [--rev REV]`` exports the commit REV (default HEAD)
into DIR and compiles its extensions with clang's SanitizerCoverage (edge counters, their
program-counter table and comparison tracing), without touching setup.py: the flags travel in
``CC`` and ``CFLAGS``, which setuptools honours.  It also links clang's libFuzzer runtime into
``DIR/libfuzzer.so``.  Then ``python -m fuzz.run --target NAME --native DIR ...`` fuzzes with
the compiled reader and tokenizers visible to libFuzzer: the worker runs with that libFuzzer
preloaded (atheris uses a preloaded libFuzzer when it finds one) and DIR/src first on its path.

Needs clang and its runtime libraries (Debian: ``apt-get install clang``)."""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COVERAGE_FLAGS = "-fsanitize-coverage=inline-8bit-counters,pc-table,trace-cmp"


def build(out: Path, rev: str) -> None:
    clang = shutil.which("clang")
    if clang is None:
        raise SystemExit("clang is needed (Debian: apt-get install clang)")
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    archive = subprocess.run(["git", "archive", rev], cwd=ROOT, check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(out)], input=archive, check=True)
    env = dict(os.environ, CC=clang, CFLAGS=COVERAGE_FLAGS)
    subprocess.run([sys.executable, "setup.py", "build_ext", "--inplace", "-j", "2"], cwd=out, env=env, check=True,
                   stdout=subprocess.DEVNULL)
    runtime = subprocess.run([clang, "-print-file-name=libclang_rt.fuzzer_no_main-x86_64.a"], check=True,
                             capture_output=True, text=True).stdout.strip()
    if not Path(runtime).is_file():
        raise SystemExit(f"clang's libFuzzer runtime is missing ({runtime})")
    subprocess.run([clang, "-shared", "-fPIC", "-o", str(out / "libfuzzer.so"), "-Wl,--whole-archive", runtime,
                    "-Wl,--no-whole-archive", "-lstdc++", "-lpthread", "-lm"], check=True)
    commit = subprocess.run(["git", "rev-parse", "--short", rev], cwd=ROOT, check=True, capture_output=True,
                            text=True).stdout.strip()
    (out / "COMMIT").write_text(commit + "\n")
    print(f"instrumented build of {commit} in {out}; run: python -m fuzz.run --target NAME --native {out} ...")


def worker_env(native: Path) -> dict[str, str]:
    """The environment a fuzzing worker needs to run the instrumented build in `native`."""
    lib = native / "libfuzzer.so"
    if not lib.is_file():
        raise SystemExit(f"{native} is not an instrumented build (python -m fuzz.instrumented --out {native})")
    path = os.pathsep.join(p for p in (str(native / "src"), os.environ.get("PYTHONPATH", "")) if p)
    return {"LD_PRELOAD": str(lib), "RODATA_FUZZ_PYTHONPATH": path}


def main() -> None:
    ap = argparse.ArgumentParser(prog="python -m fuzz.instrumented", description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True, type=Path, help="directory of the instrumented build")
    ap.add_argument("--rev", default="HEAD", help="the commit to build (default HEAD)")
    args = ap.parse_args()
    build(args.out.resolve(), args.rev)


if __name__ == "__main__":
    main()
