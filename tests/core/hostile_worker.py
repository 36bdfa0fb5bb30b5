"""Runs hostile-file cases in a child process, so that a crash (segfault, SIGBUS) fails the parent test.

Usage: python -m tests.core.hostile_worker CASES.json — each case is {"path", "verify", "deep"?}; prints one
JSON line per case: {"case": i, "outcome": "refused" | "format_error" | "ok" | "unexpected", "digest", "detail"}.
With "deep", the file is deep-validated first: "refused" when validation raised FormatError, and only then
is everything read ("format_error" after a passed validation is a read that failed on a validated file)."""

from __future__ import annotations

import hashlib
import json
import sys
from typing import Any

import numpy as np

import rodata


def exercise(path: str, verify: bool) -> str:
    """Read everything a user can read; return a digest of what came back."""
    out: list[Any] = []
    with rodata.open(path, verify=verify) as ds:
        seg = ds._segments()[0]
        keys = [seg.key_at(i) for i in range(len(seg))]
        out.append(keys)
        out.extend(ds.get(k) for k in keys)
        absent = "\uffff-absent" if seg.key_is_string else 10**15
        out.append(ds.get(absent))
        out.append(ds.get_many([*keys, absent]).to_pylist())
        for batch in ds.scan(batch_size=16):
            out.append(batch.to_pylist())
        if seg.key_is_string:
            out.append([b.to_pylist() for b in ds.scan(prefix="key-")])
        else:
            out.append([b.to_pylist() for b in ds.scan(start=-5, end=5)])
        for column in ds.schema.columns:
            values = ds.column(column.name)
            out.append(values.tolist() if isinstance(values, np.ndarray) else values)
            out.append(ds.validity(column.name))
    return hashlib.sha256(repr(out).encode()).hexdigest()


def main() -> None:
    with open(sys.argv[1]) as fh:
        cases = json.load(fh)
    for i, case in enumerate(cases):
        print(json.dumps({"start": i}), flush=True)
        result: dict[str, Any] = {"case": i}
        if case.get("deep"):
            try:
                rodata.validate(case["path"])
            except rodata.FormatError as exc:
                print(json.dumps({**result, "outcome": "refused", "detail": str(exc)}), flush=True)
                continue
            except Exception as exc:
                print(json.dumps({**result, "outcome": "unexpected", "detail": f"{type(exc).__name__}: {exc}"}),
                      flush=True)
                continue
        try:
            result["digest"] = exercise(case["path"], case["verify"])
            result["outcome"] = "ok"
        except rodata.FormatError as exc:
            result["outcome"] = "format_error"
            result["detail"] = str(exc)
        except Exception as exc:
            result["outcome"] = "unexpected"
            result["detail"] = f"{type(exc).__name__}: {exc}"
        print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
