"""Help that reads as documentation: every subcommand with a description and examples."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from rodata.errors import UsageError

__all__ = ["HelpFormatter", "add_command", "add_data_root", "need_data_root"]


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Wraps the description, keeps the examples' lines as written, and shows defaults."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        if text.startswith("examples:"):
            return "".join(indent + line for line in text.splitlines(keepends=True))
        return super()._fill_text(text, width, indent)

    def _get_help_string(self, action: argparse.Action) -> str | None:
        # Only defaults worth reading: not None, not False, not already said in the help.
        help_text = action.help or ""
        if action.default in (None, False, argparse.SUPPRESS) or "default" in help_text:
            return help_text
        return super()._get_help_string(action)


def add_command(subparsers: Any, name: str, summary: str, description: str, examples: list[str]) -> Any:
    """A subcommand: a one-line summary for ``rodata --help``, a description and examples for its own."""
    epilog = "examples:\n" + "\n".join(f"  {e}" for e in examples)
    return subparsers.add_parser(name, help=summary, description=description, epilog=epilog,
                                 formatter_class=HelpFormatter)


def add_data_root(p: Any, *, why: str = "the directory holding the datasets") -> None:
    """``--data-root DIR``, defaulting to $RODATA_DATA_ROOT (checked when the command runs)."""
    p.add_argument("--data-root", metavar="DIR", default=os.environ.get("RODATA_DATA_ROOT"),
                   help=f"{why} (default: $RODATA_DATA_ROOT)")


def need_data_root(args: argparse.Namespace, *, exists: bool = True) -> Path:
    """The data root of a command that needs one (:class:`UsageError` when none was given, or when
    it must exist and does not)."""
    if not args.data_root:
        raise UsageError("--data-root DIR is required (or set RODATA_DATA_ROOT)")
    root = Path(args.data_root)
    if exists and not root.is_dir():
        raise UsageError(f"{root}: no such data root (a directory holding datasets)")
    return root
