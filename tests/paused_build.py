"""A real ``rodata build`` in its own process that stops in the middle of its read phase, with its
staging directory, build lock and spilled runs on disk, until the test lets it go on (a line on its
standard input) or kills it: deterministic, no timing guesses."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# The CLI, with the progress callback replaced by one that, once the first chunk is parsed (its runs
# spilled), prints "paused" and waits for a line on standard input.
SCRIPT = """
import sys
from rodata.etl import build, progress

def pause_on_first_chunk(progress_arg):
    paused = []
    def on_event(event):
        if event.phase == "read" and event.done and not paused:
            paused.append(1)
            print("paused", flush=True)
            sys.stdin.readline()
    return progress._Callback(on_event)

build.make_progress = pause_on_first_chunk
from rodata.cli import main
sys.exit(main(sys.argv[1:]))
"""


def big_csv(directory: Path, n: int = 40000, name: str = "big.csv") -> Path:
    """A CSV input large enough to be cut in many chunks (with ``--chunk-size 20K``)."""
    path = directory / name
    path.write_text("id,v\n" + "".join(f"{i},value-{i}\n" for i in range(n)))
    return path


def env() -> dict[str, str]:
    """The environment of a child process that imports rodata from this checkout."""
    out = dict(os.environ)
    out["PYTHONPATH"] = str(ROOT / "src") + os.pathsep + out.get("PYTHONPATH", "")
    out.pop("RODATA_SPILL_DIR", None)
    return out


def start(tmp_path: Path, args: Sequence[str | os.PathLike[str]], *, prefix: Sequence[str] = (),
          extra_env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    """Start ``rodata build ARGS`` (under `prefix`, e.g. ``unshare ...``) and wait until it pauses."""
    script = tmp_path / "paused_build.py"
    script.write_text(SCRIPT)
    proc = subprocess.Popen([*prefix, sys.executable, str(script), "build", *map(str, args)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**env(), **(extra_env or {})})
    assert proc.stdout is not None
    line = proc.stdout.readline()  # blocks until the build pauses, or ends (then the line is empty)
    if line.strip() != "paused":
        proc.kill()
        _, err = proc.communicate(timeout=60)
        raise AssertionError(f"the build did not pause: {line!r} {err}")
    return proc


def resume(proc: subprocess.Popen[str]) -> tuple[int, str, str]:
    """Let a paused build go on; its exit status, stdout and stderr."""
    out, err = proc.communicate("\n", timeout=120)
    return proc.returncode, out, err


def build_args(csv: Path, root: Path, *more: str) -> list[str]:
    """The arguments of a build of `csv` into dataset ``d`` cut in many chunks on two workers."""
    return [str(csv), "--dataset", "d", "--key", "id", "--data-root", str(root), "--workers", "2",
            "--chunk-size", "20K", *more]
