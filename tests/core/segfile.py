"""Test helpers that read and re-seal segment files, so tests can plant lies that pass the checksums."""

from __future__ import annotations

import struct
from dataclasses import dataclass

from rodata._core import FORMAT_CONSTANTS, xxh64

HEADER, TRAILER, ENTRY = 64, 64, 32
#: Section kinds by name: {"schema": 1, "validity": 2, ...}.
SEC = {name[4:].lower(): value for name, value in FORMAT_CONSTANTS.items() if name.startswith("SEC_")}


@dataclass
class Entry:
    kind: int
    column: int
    offset: int
    length: int
    checksum: int
    at: int  # where the entry itself sits in the file


def directory(buf: bytes | bytearray) -> tuple[int, list[Entry]]:
    """(directory offset, entries) of a well-formed segment."""
    t = len(buf) - TRAILER
    dir_off, count = struct.unpack_from("<QQ", buf, t)
    entries = []
    for i in range(count):
        at = dir_off + i * ENTRY
        kind, _, column, offset, length, checksum = struct.unpack_from("<HHIQQQ", buf, at)
        entries.append(Entry(kind, column, offset, length, checksum, at))
    return dir_off, entries


def reseal(buf: bytearray, *, sections: bool = True) -> bytearray:
    """Recompute every checksum (sections that fit, directory, trailer, header) after a mutation."""
    t = len(buf) - TRAILER
    dir_off, count = struct.unpack_from("<QQ", buf, t)
    if sections and dir_off + count * ENTRY <= t:
        for i in range(count):
            at = dir_off + i * ENTRY
            _, _, _, offset, length, _ = struct.unpack_from("<HHIQQQ", buf, at)
            if offset + length <= len(buf):
                struct.pack_into("<Q", buf, at + 24, xxh64(bytes(buf[offset : offset + length])))
    if dir_off + count * ENTRY <= t:
        struct.pack_into("<Q", buf, t + 16, xxh64(bytes(buf[dir_off : dir_off + count * ENTRY])))
    struct.pack_into("<Q", buf, t + 48, xxh64(bytes(buf[t : t + 48])))
    struct.pack_into("<Q", buf, 56, xxh64(bytes(buf[:56])))
    return buf


def set_entry(buf: bytearray, entry: Entry, *, offset: int | None = None, length: int | None = None) -> None:
    """Overwrite a directory entry's offset and/or length in place."""
    if offset is not None:
        struct.pack_into("<Q", buf, entry.at + 8, offset)
    if length is not None:
        struct.pack_into("<Q", buf, entry.at + 16, length)
