"""A structure-aware mutator for JSON documents (manifests, segment schemas).

Byte-level mutation of JSON mostly yields syntax errors, which stop at the parser.  This
one parses the document, changes one node (a hostile value, a deleted or duplicated member,
a swapped or repeated list item, an edited string or number) and writes it back, so that
the checks after the parser see well-formed documents with wrong contents."""

from __future__ import annotations

import json
import math
import random
from typing import Any

#: Values that have broken readers of JSON before: wrong types, absurd numbers, odd text.
HOSTILE: tuple[Any, ...] = (
    None, True, False, 0, 1, -1, 2, 7, 2**31, 2**32 - 1, 2**32, 2**53 + 1, 2**63 - 1, 2**63, 2**64, -(2**63),
    -(2**63) - 1, 10**30, 1.5, -0.0, 1e308, math.inf, -math.inf, math.nan, "", "0", "1", "-1", "x", "a" * 300,
    "\u0000", "\ud800", "\U0001f600", "../../etc/passwd", "part-00000.seg", "part-99999.seg", "part-0.seg",
    "int64", "string", "vector", "vector[0]", "vector[3]", "vector[1048577]", "float32", "date", "timestamp",
    "bytes", "bool", "v000001-0000f022", "v1", "0000000000000000", "ffffffffffffffff", "rodata-manifest/1",
    "rodata-manifest/2", [], {}, [None], [1, 2], [[[]]], {"": None}, {"name": "id", "type": "int64"},
)


def _nodes(doc: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path in the document (keys of objects, indices of lists)."""
    out = [path]
    if isinstance(doc, dict):
        for k, v in doc.items():
            out.extend(_nodes(v, (*path, k)))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            out.extend(_nodes(v, (*path, i)))
    return out


def _get(doc: Any, path: tuple[Any, ...]) -> Any:
    for p in path:
        doc = doc[p]
    return doc


def _tweak(value: Any, rng: random.Random, extra: tuple[Any, ...]) -> Any:
    """A value near `value` (an edited string, a number one off) or a hostile one."""
    if isinstance(value, bool) or rng.random() < 0.5:
        return rng.choice(extra or HOSTILE) if extra and rng.random() < 0.5 else rng.choice(HOSTILE)
    if isinstance(value, int):
        return value + rng.choice((-1, 1, -value - 1, value, 1 << rng.randrange(64)))
    if isinstance(value, float):
        return rng.choice((value * 2, -value, value + 0.5, float(int(value)) if math.isfinite(value) else 0.0))
    if isinstance(value, str) and value:
        i = rng.randrange(len(value))
        edits = (value[:i], value + value[i], value[:i] + value[i + 1 :], value.upper(), value + "\x00",
                 value[:i] + chr(rng.choice((0x7F, 0xE9, 0xD800, 0x1F600, ord("/")))) + value[i:])
        return rng.choice(edits)
    return rng.choice(HOSTILE)


def mutate_doc(doc: Any, rng: random.Random, extra: tuple[Any, ...] = ()) -> Any:
    """One structural change to a parsed document (returns the new document)."""
    paths = _nodes(doc)
    path = rng.choice(paths)
    if not path:
        return rng.choice(HOSTILE) if rng.random() < 0.05 else doc
    parent = _get(doc, path[:-1])
    last = path[-1]
    op = rng.random()
    if op < 0.55:
        parent[last] = _tweak(parent[last], rng, extra)
    elif op < 0.7:
        del parent[last]
    elif op < 0.85 and isinstance(parent, list):
        parent.insert(rng.randrange(len(parent) + 1), json.loads(json.dumps(parent[last])))
    elif isinstance(parent, list) and len(parent) > 1:
        j = rng.randrange(len(parent))
        parent[last], parent[j] = parent[j], parent[last]
    elif isinstance(parent, dict):
        donor = rng.choice(paths)
        parent[rng.choice(("dim", "nullable", "extra", str(last) + "_", "fingerprint"))] = (
            json.loads(json.dumps(_get(doc, donor))) if donor else None)
    return doc


def dumps(doc: Any, rng: random.Random) -> bytes:
    """The document as JSON text, in one of the layouts writers use (NaN and Infinity included)."""
    indent = rng.choice((None, None, 1, 2))
    return json.dumps(doc, indent=indent, ensure_ascii=rng.random() < 0.5).encode("utf-8", "surrogatepass")


def mutate_json(data: bytes, rng: random.Random, extra: tuple[Any, ...] = (), steps: int = 0) -> bytes | None:
    """`data` parsed, changed in 1-3 places and written back; None when it does not parse."""
    try:
        doc = json.loads(data)
    except (ValueError, RecursionError):
        return None
    try:
        for _ in range(steps or rng.choice((1, 1, 1, 2, 3))):
            doc = mutate_doc(doc, rng, extra)
        return dumps(doc, rng)
    except (ValueError, RecursionError):  # a document nested too deep to walk: leave it to byte mutation
        return None
