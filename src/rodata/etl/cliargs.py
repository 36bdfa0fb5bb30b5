"""Argument types shared by the ETL's commands (``rodata build``, ``rodata infer``)."""

from __future__ import annotations

import argparse
import re

__all__ = ["STDIN", "parse_delimiter", "parse_size"]

#: The INPUT that means standard input.
STDIN = "-"
_SIZE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b?)\s*$", re.IGNORECASE)


def parse_size(text: str) -> int:
    """``512M``, ``2G``, ``1.5GiB``, ``1000000`` -> bytes (K/M/G/T are powers of 1024)."""
    match = _SIZE_RE.match(text)
    if not match:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (try 512M or 2G)")
    number, unit = float(match.group(1)), match.group(2).lower()
    return int(number * (1024 ** " kmgt".index(unit or " ")))


def parse_delimiter(text: str) -> str:
    """``--delimiter``: one character; ``\\t`` (as typed in a shell) or ``tab`` is a tab."""
    if text in ("\\t", "tab", "TAB"):
        return "\t"
    if len(text.encode("utf-8")) != 1 or text in ('"', "\n", "\r"):
        raise argparse.ArgumentTypeError(f"not a delimiter: {text!r} (one character, e.g. ';' or '\\t')")
    return text
