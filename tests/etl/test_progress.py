"""The build's progress: compressed inputs advance the bar as they are read; the bar stays short."""

from __future__ import annotations

import gzip
import os
import random
from pathlib import Path

from tqdm import tqdm  # type: ignore[import-untyped]

import rodata
from rodata.etl.progress import ProgressEvent, StreamProgress, compact, make_progress
from rodata.etl.sources import detect_sources, open_bytes
from rodata.etl.workers import _note_progress

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
