"""Help that reads as documentation: every subcommand with a description and examples."""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["HelpFormatter", "add_command"]


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
