"""The build's progress: compressed inputs advance the bar as they are read; the bar stays short."""

from __future__ import annotations

import gzip
import os
import random
from pathlib import Path

from tqdm import tqdm  # type: ignore[import-untyped]

import rodata
from rodata.etl.formats.text import _note_progress
from rodata.etl.progress import ProgressEvent, StreamProgress, compact, make_progress
from rodata.etl.sources import detect_sources, open_bytes

from .conftest import all_rows, rodata_cli


def _gz(path: Path, rows: int) -> Path:
    rng = random.Random(7)  # random text: the compressed file is large enough to be read in several steps
    body = "".join(f"{i},{rng.getrandbits(64):x}\n" for i in range(rows))
    path.write_bytes(gzip.compress(("id,v\n" + body).encode(), compresslevel=1))
    return path


def test_a_stream_reports_compressed_bytes_as_it_is_read(tmp_path: Path) -> None:
    path = _gz(tmp_path / "in.csv.gz", 60_000)
    source = detect_sources([path])[0]
    events: list[ProgressEvent] = []
    bar = make_progress(events.append)
    bar.start("read", source.size, "B")
    spill = tmp_path / "spill"
    spill.mkdir()
    watch = StreamProgress(bar, spill)  # polled by hand here: its thread is not started
    where = watch.path(0, source)
    assert where  # a compressed source gets a counter file
    with open_bytes(source) as fh:
        fh.read(200_000)
        _note_progress(where, fh)
        watch.poll()
        first = events[-1].done
        assert 0 < first < source.size  # part of the file: the bar moved before the end
        fh.read()
        _note_progress(where, fh)
    watch.poll()
    assert first < events[-1].done <= source.size
    watch.finish(0, source.size, 60_000)
    watch.poll()  # a finished chunk is never counted again
    assert events[-1].done == source.size and events[-1].rows == 60_000


def test_gz_build_with_a_progress_callback_ends_at_the_total(tmp_path: Path, root: Path) -> None:
    path = _gz(tmp_path / "in.csv.gz", 30_000)
    events: list[ProgressEvent] = []
    rodata.build([path], dataset="d", key="id", data_root=root, progress=events.append)
    reads = [e for e in events if e.phase == "read"]
    assert reads[-1].done == reads[-1].total == os.path.getsize(path)
    assert [e.done for e in reads] == sorted(e.done for e in reads)  # never backwards, never double-counted
    assert len(all_rows(root / "d")) == 30_000


def test_gz_build_with_the_bar_forced_on(tmp_path: Path, root: Path) -> None:
    path = _gz(tmp_path / "in.csv.gz", 30_000)
    proc = rodata_cli("build", path, "--dataset", "d", "--key", "id", "--data-root", root, "--progress")
    assert proc.returncode == 0, proc.stderr
    assert "read" in proc.stderr and "Traceback" not in proc.stderr


def test_the_bar_fits_80_columns_with_its_rates() -> None:
    # What _Bar shows at its widest: a second pass, a GB-sized input, millions of rows.
    postfix = f"{compact(7_009_728)} rows, {compact(714_552.3)}/s"
    assert postfix == "7.0M rows, 715k/s"
    line = tqdm.format_meter(512_300_000, 1_200_000_000, 12.3, ncols=80, prefix="read #2", unit="B",
                             unit_scale=True, unit_divisor=1000, postfix=postfix)
    assert len(line) <= 80 and line.endswith("/s]")  # nothing cut off
    assert "|" in line and line.split("|")[1].count("█") + line.split("|")[1].count(" ") >= 5  # a bar shows


def _on_a_terminal(args: list[str], stop_at: bytes | None) -> tuple[int, list[bytes]]:
    """Run ``python -m rodata ARGS`` on an 80-column pseudo-terminal; send SIGINT once `stop_at`
    has been written.  (exit code, the output cut at carriage returns)."""
    import fcntl
    import pty
    import select
    import signal
    import struct
    import sys
    import termios

    from .conftest import ROOT

    pid, fd = pty.fork()
    if pid == 0:  # the child: a terminal of 24 lines of 80 columns (fd 1: pytest has replaced sys.stdout)
        try:
            fcntl.ioctl(1, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
            os.environ["PYTHONPATH"] = str(ROOT / "src")
            os.execv(sys.executable, [sys.executable, "-m", "rodata", *args])
        finally:
            os._exit(127)
    out, sent = b"", False
    while True:
        ready, _, _ = select.select([fd], [], [], 60)
        if not ready:
            os.kill(pid, signal.SIGKILL)
            break
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # the child is gone
            break
        if not chunk:
            break
        out += chunk
        if stop_at is not None and not sent and stop_at in out:
            os.kill(pid, signal.SIGINT)
            sent = True
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    return os.waitstatus_to_exitcode(status), out.replace(b"\n", b"\r").split(b"\r")


def test_on_a_terminal_a_gz_read_advances_fits_80_columns_and_ctrl_c_clears_it(tmp_path: Path, root: Path) -> None:
    path = _gz(tmp_path / "in.csv.gz", 600_000)
    code, frames = _on_a_terminal(["build", str(path), "--dataset", "d", "--key", "id", "--data-root", str(root),
                                   "--workers", "2"], stop_at=b"%|")
    assert code == 130, frames
    text = [f.decode("utf-8") for f in frames]
    assert all(len(f) <= 80 for f in text)
    assert any(f.startswith("read:") for f in text)
    last = text.index("rodata: interrupted")
    assert text[last - 1].strip() == "" and len(text[last - 1]) > 40  # the bar's line was blanked first
    assert not (root / "d" / "CURRENT").exists()

