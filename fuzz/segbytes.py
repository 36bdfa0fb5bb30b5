"""Segment files as the fuzzer edits them: a tolerant decoder, an encoder that lays sections
out and seals every checksum, and the structure-aware mutator of the segment target.

Random bytes almost never pass the header, trailer, directory and section checksums, so a
byte-level fuzzer only ever tests the checksum checks.  The mutator here changes a segment
at the level the format describes (a header field, a directory entry, one section's
contents, the schema's JSON) and re-seals the checksums, so that inputs reach the
structural checks at open and the accessors behind them.  See docs/FORMAT.md."""

from __future__ import annotations

import json
import random
import struct
from dataclasses import dataclass, field
from typing import Any

from fuzz import jsonmut
from rodata._core import xxh64

HEADER, TRAILER, ENTRY, ALIGN = 64, 64, 32, 64
KINDS = {"schema": 1, "validity": 2, "data": 3, "offsets": 4, "index": 5}
NO_COLUMN = 0xFFFFFFFF
_MASK = (1 << 64) - 1
MAX_ENTRIES = 4096


@dataclass
class Section:
    kind: int
    column: int
    body: bytes
    reserved: int = 0


@dataclass
class Model:
    """A segment as header bytes, sections in file order and the trailer's reserved bytes."""

    header: bytearray
    sections: list[Section] = field(default_factory=list)
    trailer_reserved: bytes = bytes(16)

    def u64(self, at: int) -> int:
        return int(struct.unpack_from("<Q", self.header, at)[0])

    def set(self, fmt: str, at: int, value: int) -> None:
        struct.pack_into(fmt, self.header, at, value & ((1 << (8 * struct.calcsize(fmt))) - 1))


def decode(data: bytes) -> Model | None:
    """The model of a file that is framed like a segment (checksums not checked), else None."""
    if len(data) < HEADER + TRAILER or len(data) % 8:
        return None
    t = len(data) - TRAILER
    dir_off, count = struct.unpack_from("<QQ", data, t)
    if count > MAX_ENTRIES or dir_off > t or count * ENTRY > t - dir_off:
        return None
    sections = []
    for i in range(count):
        kind, reserved, column, off, length, _ = struct.unpack_from("<HHIQQQ", data, dir_off + i * ENTRY)
        if off > len(data) or length > len(data) - off:
            return None
        sections.append(Section(kind, column, bytes(data[off : off + length]), reserved))
    return Model(bytearray(data[:HEADER]), sections, bytes(data[t + 32 : t + 48]))


def _pad(n: int) -> int:
    return -n % ALIGN


def encode(model: Model, *, seal: bool = True) -> bytearray:
    """The file: sections 64-aligned from offset 64, the directory, the trailer, every checksum fresh."""
    out = bytearray(model.header[:HEADER].ljust(HEADER, b"\0"))
    entries = []
    for s in model.sections:
        out += bytes(_pad(len(out)))
        checksum = xxh64(s.body) if seal else 0
        entries.append(struct.pack("<HHIQQQ", s.kind & 0xFFFF, s.reserved & 0xFFFF, s.column & NO_COLUMN,
                                   len(out), len(s.body), checksum))
        out += s.body
    out += bytes(_pad(len(out)))
    directory = b"".join(entries)
    dir_off = len(out)
    out += directory
    out += bytes(_pad(len(out)))
    size = len(out) + TRAILER
    trailer = struct.pack("<QQQQ", dir_off, len(entries), xxh64(directory), size) + model.trailer_reserved[:16]
    out += trailer + struct.pack("<Q", xxh64(trailer)) + b"RODATEND"
    struct.pack_into("<Q", out, 56, xxh64(bytes(out[:56])))
    return out


def reseal(data: bytes | bytearray) -> bytearray:
    """Recompute the checksums of a (possibly damaged) file in place, as far as its framing allows."""
    buf = bytearray(data)
    if len(buf) < HEADER + TRAILER:
        return buf
    t = len(buf) - TRAILER
    dir_off, count = struct.unpack_from("<QQ", buf, t)
    if dir_off <= t and count <= MAX_ENTRIES and count * ENTRY <= t - dir_off:
        for i in range(count):
            at = dir_off + i * ENTRY
            off, length = struct.unpack_from("<QQ", buf, at + 8)
            if off <= len(buf) and length <= len(buf) - off:
                struct.pack_into("<Q", buf, at + 24, xxh64(bytes(buf[off : off + length])))
        struct.pack_into("<Q", buf, t + 16, xxh64(bytes(buf[dir_off : dir_off + count * ENTRY])))
    struct.pack_into("<Q", buf, t + 48, xxh64(bytes(buf[t : t + 48])))
    struct.pack_into("<Q", buf, 56, xxh64(bytes(buf[:56])))
    return buf


# -- the mutator -------------------------------------------------------------------------------

_U64 = (0, 1, 2, 7, 8, 63, 64, 65, 2**31, 2**32 - 2, 2**32 - 1, 2**32, 2**63 - 1, 2**63, 2**64 - 1)
_I64 = (0, 1, -1, 2**63 - 1, -(2**63), -(2**63) + 1, 719162, -719162, -719163, 2932896, 2932897)
_UTF8_BAD = (b"\xff", b"\xc0\x80", b"\xed\xa0\x80", b"\xe2\x82", b"\xf4\x90\x80\x80", b"\x80", b"\xf0\x9f\x98")
_SCHEMA_VALUES = ("int8", "uint64", "float64", "bool", "timestamp", "date", "string", "bytes", "vector", "int",
                  "vector[3]", 0, 3, 2**20, 2**20 + 1, -3, 1.0, "3")


def _schema(model: Model) -> list[dict[str, Any]]:
    for s in model.sections:
        if s.kind == KINDS["schema"]:
            try:
                doc = json.loads(s.body)
            except (ValueError, RecursionError):
                return []
            cols = doc.get("columns") if isinstance(doc, dict) else None
            return [c for c in cols if isinstance(c, dict)] if isinstance(cols, list) else []
    return []


def _set_u64(body: bytes, rng: random.Random, values: tuple[int, ...]) -> bytes:
    if len(body) < 8:
        return body
    buf = bytearray(body)
    at = 8 * rng.randrange(len(buf) // 8)
    struct.pack_into("<Q", buf, at, rng.choice(values) & _MASK)  # signed values as their two's complement
    return bytes(buf)


def _mutate_header(model: Model, rng: random.Random) -> None:
    rows = model.u64(16)
    choice = rng.randrange(7)
    if choice == 0:
        model.set("<Q", 16, rng.choice((*_U64, rows - 1, rows + 1, rows * 2, rows + 8)))
    elif choice == 1:
        ncols = struct.unpack_from("<I", model.header, 24)[0]
        model.set("<I", 24, rng.choice((0, 1, ncols - 1, ncols + 1, 2**32 - 1, 2**31)))
    elif choice == 2:
        model.set("<I", 28, rng.choice((0, 1, 2, 3, 2**32 - 1)))
    elif choice == 3:
        model.set("<H", 10, rng.choice((1, 2, 0xFFFF)))  # a newer minor version: unknown kinds are skipped
    elif choice == 4:
        model.set("<H", 8, rng.choice((0, 2, 0xFFFF)))
    elif choice == 5:
        model.header[32 + rng.randrange(24)] = rng.randrange(1, 256)
    else:
        model.set("<I", 12, rng.choice((0x0D0C0B0A, 0)))


def _mutate_layout(model: Model, rng: random.Random) -> None:
    secs = model.sections
    if not secs:
        secs.append(Section(rng.choice((1, 3, 5)), 0, bytes(64)))
        return
    i = rng.randrange(len(secs))
    choice = rng.randrange(7)
    if choice == 0:
        del secs[i]
    elif choice == 1:
        secs.insert(rng.randrange(len(secs) + 1), Section(secs[i].kind, secs[i].column, secs[i].body))
    elif choice == 2:
        j = rng.randrange(len(secs))
        secs[i], secs[j] = secs[j], secs[i]
    elif choice == 3:
        secs[i].kind = rng.choice((0, 1, 2, 3, 4, 5, 6, 0xFFFF))
    elif choice == 4:
        ncols = struct.unpack_from("<I", model.header, 24)[0]
        secs[i].column = rng.choice((0, 1, ncols - 1, ncols, NO_COLUMN, secs[i].column + 1))
    elif choice == 5:
        secs[i].reserved = rng.randrange(1, 0x10000)
    else:
        body = secs[i].body
        secs[i].body = rng.choice((body[:-1], body[:-8], body + bytes(8), body + bytes(1), b"", body + body))


def _mutate_body(model: Model, rng: random.Random, byte_mutate: Any) -> None:
    if not model.sections:
        return
    s = rng.choice(model.sections)
    cols = _schema(model)
    spec = cols[s.column] if s.column < len(cols) else {}
    kind = s.kind
    if kind == KINDS["schema"]:
        out = jsonmut.mutate_json(s.body, rng, _SCHEMA_VALUES)
        if out is not None:
            s.body = out
            return
    elif kind == KINDS["offsets"]:
        if len(s.body) >= 8 and rng.random() < 0.5:
            n = len(s.body) // 8
            offs = list(struct.unpack_from(f"<{n}Q", s.body))
            i = rng.randrange(n)
            offs[i] = rng.choice((offs[i] + 1, offs[i] - 1, offs[-1] + 1, *_U64)) & _MASK
            s.body = struct.pack(f"<{n}Q", *offs)
        else:
            s.body = _set_u64(s.body, rng, _U64)
        return
    elif kind == KINDS["index"]:
        n = len(s.body) // 8
        if n and rng.random() < 0.3:
            fill = rng.choice((0, 1, 0xFFFFFFFF, (1 << 32) | 1))
            s.body = struct.pack(f"<{n}Q", *([fill] * n))
        else:
            rows = model.u64(16)
            slot = (rng.getrandbits(32) << 32) | (rng.choice((rows, rows + 1, 0xFFFFFFFF, 1)) & 0xFFFFFFFF)
            s.body = _set_u64(s.body, rng, (slot, 0, 1, *_U64))
        return
    elif kind == KINDS["data"] and s.body:
        t = spec.get("type")
        if t in ("string", "bytes") and rng.random() < 0.7:
            at = rng.randrange(len(s.body))
            s.body = s.body[:at] + rng.choice(_UTF8_BAD) + s.body[at + 1 :]
            return
        if t in ("date", "timestamp", "int64") and rng.random() < 0.7:
            s.body = _set_u64(s.body, rng, _I64)
            return
        if t == "bool":
            buf = bytearray(s.body)
            buf[rng.randrange(len(buf))] = rng.choice((2, 0xFF))
            s.body = bytes(buf)
            return
    elif kind == KINDS["validity"] and s.body:
        buf = bytearray(s.body)
        buf[-1] |= 0x80  # a padding bit
        buf[rng.randrange(len(buf))] ^= 1 << rng.randrange(8)
        s.body = bytes(buf)
        return
    s.body = bytes(byte_mutate(s.body, max(len(s.body) + 16, 64)))


def mutate(data: bytes, max_size: int, seed: int, byte_mutate: Any) -> bytes:
    """The segment target's custom mutator (see the module docstring).

    `byte_mutate(data, max_size)` is libFuzzer's own byte mutation (atheris.Mutate)."""
    try:
        return _mutate(data, max_size, random.Random(seed), byte_mutate)
    except Exception as exc:
        # A mutator fault must not end the run (atheris would stop with SIGALRM): it is printed
        # in the run's log so that it gets fixed, and libFuzzer's mutation is used instead.
        print(f"fuzz.segbytes: mutator error {exc!r}", flush=True)
        return bytes(byte_mutate(data, max_size))


def _mutate(data: bytes, max_size: int, rng: random.Random, byte_mutate: Any) -> bytes:
    model = decode(data)
    roll = rng.random()
    if model is None or roll < 0.2:
        out = bytearray(byte_mutate(data, max_size))
        return bytes(reseal(out) if rng.random() < 0.7 else out)[:max_size]
    for _ in range(rng.choice((1, 1, 2, 3))):
        step = rng.random()
        if step < 0.15:
            _mutate_header(model, rng)
        elif step < 0.35:
            _mutate_layout(model, rng)
        else:
            _mutate_body(model, rng, byte_mutate)
    out = encode(model, seal=rng.random() < 0.97)
    if rng.random() < 0.1:
        # Placement lies that an encoder never writes: an entry's offset or length, then re-sealed.
        t = len(out) - TRAILER
        dir_off, count = struct.unpack_from("<QQ", out, t)
        if count:
            at = dir_off + ENTRY * rng.randrange(count)
            field_at = at + rng.choice((8, 16))
            old = struct.unpack_from("<Q", out, field_at)[0]
            struct.pack_into("<Q", out, field_at, rng.choice((old + 1, old + 8, old + 64, old - 64, 0, *_U64))
                             & 0xFFFFFFFFFFFFFFFF)
            out = reseal(out)
    return bytes(out[:max_size]) if len(out) <= max_size else bytes(byte_mutate(data, max_size))
