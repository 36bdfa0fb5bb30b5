"""The fuzzing process of one target (started by :mod:`fuzz.run`, one at a time).

``python -m fuzz.worker TARGET MODE [libFuzzer options and corpus directories]`` fuzzes;
``python -m fuzz.worker TARGET MODE --replay FILE...`` runs files through the harness once
each and prints one JSON line per file (what :mod:`fuzz.run` and tests/fuzz use to classify
an artifact, in a process of its own so that a crash is seen as its exit status).
``--coverage`` (with ``--replay``) measures line coverage of the rodata package (needs the
``coverage`` package)."""

from __future__ import annotations

import json
import sys
import traceback
from pathlib import Path
from types import ModuleType
from typing import Any

# Modules whose Python code the harnesses drive: imported inside the instrumentation so that
# atheris sees their branches (the compiled core is not Python bytecode: see docs/fuzzing.md).
_PYTHON_MODULES = (
    "rodata", "rodata.schema", "rodata.store", "rodata.dataset", "rodata.batch", "rodata.server.render",
    "rodata.catalog", "rodata.admin", "rodata.server.handlers", "rodata.etl.build", "rodata.etl.workers",
    "rodata.etl.infer", "rodata.etl.schemafile", "rodata.etl.merge", "rodata.manifest",
)


def _import_all(name: str) -> ModuleType:
    import contextlib
    import importlib

    for module in _PYTHON_MODULES:
        with contextlib.suppress(ImportError):  # rodata.manifest does not exist in every version
            importlib.import_module(module)
    from fuzz import targets

    return targets.load(name)


def run_one(target: ModuleType, data: bytes) -> None:
    """One input: success and RodataError are fine; a known open finding is stepped over."""
    from fuzz import feedback, outcome
    from rodata import RodataError

    try:
        target.one_input(data)
    except RodataError as exc:
        feedback.tag(target.NAME, "rodata-error", type(exc).__name__)
    except Exception as exc:
        if not outcome.is_known(target.NAME, exc):
            raise
        feedback.tag(target.NAME, "known", outcome.signature(exc))


def replay(target: ModuleType, files: list[str]) -> None:
    """Each file once; one JSON line each: outcome ok/known/finding, signature, traceback."""
    from fuzz import outcome
    from rodata import RodataError

    for name in files:
        data = Path(name).read_bytes()
        record: dict[str, Any] = {"file": name, "outcome": "ok"}
        outcome.HITS.clear()
        try:
            target.one_input(data)
        except RodataError:
            pass
        except Exception as exc:
            if not outcome.is_known(target.NAME, exc):
                record.update(outcome="finding", signature=outcome.signature(exc), type=type(exc).__name__,
                              message=str(exc)[:500], traceback="".join(traceback.format_exception(exc))[-4000:])
        record["known"] = sorted(set(outcome.HITS))
        if record["known"] and record["outcome"] == "ok":
            record["outcome"] = "known"
        print(json.dumps(record), flush=True)


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        raise SystemExit(__doc__)
    name, mode, rest = argv[0], argv[1], argv[2:]
    if rest and rest[0] == "--replay":
        cov = None
        files = rest[1:]
        if files and files[0] == "--coverage":
            import coverage

            files = files[1:]
            cov = coverage.Coverage(source=["rodata"], data_file=None)
            cov.start()
        target = _import_all(name)
        target.setup(mode)
        replay(target, files)
        if cov is not None:
            cov.stop()
            _print_coverage(cov)
        return 0
    import atheris

    from fuzz import feedback, targets

    # Setup comes first: it loads atheris' libFuzzer with its symbols global, which a compiled
    # core built with coverage instrumentation (fuzz/instrumented.py) needs when it is imported.
    loaded: list[ModuleType] = []
    kwargs: dict[str, Any] = {}
    if name in targets.WITH_MUTATOR and mode != "raw":  # "raw": libFuzzer's byte mutations alone
        kwargs["custom_mutator"] = lambda data, max_size, seed: loaded[0].mutator(data, max_size, seed)
    atheris.Setup([f"fuzz-{name}", *rest], lambda data: run_one(loaded[0], data), **kwargs)
    with atheris.instrument_imports(include=["rodata"]):
        loaded.append(_import_all(name))
    feedback.enable()
    loaded[0].setup(mode)
    atheris.Fuzz()
    return 0


def _print_coverage(cov: Any) -> None:
    """Line coverage of each rodata module that ran: one JSON line {"coverage": {...}}."""
    data = cov.get_data()
    out = {}
    for path in sorted(data.measured_files()):
        _, statements, _, missing, _ = cov.analysis2(path)
        if statements:
            rel = path[path.rfind("/rodata/") + 1 :]
            out[rel] = [len(statements) - len(missing), len(statements)]
    print(json.dumps({"coverage": out}), flush=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
