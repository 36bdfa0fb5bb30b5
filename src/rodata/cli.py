"""The ``rodata`` command.  Each subcommand lives in the module that owns it and registers itself here.

Exit codes (DESIGN.md): 0 ok, 1 runtime failure, 2 usage error, 3 bad input data."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from rodata._version import __version__
from rodata.errors import BadInputError, DuplicateKeyError, RodataError, SchemaError

__all__ = ["EXIT_BAD_INPUT", "EXIT_FAILURE", "EXIT_OK", "EXIT_USAGE", "main"]

EXIT_OK, EXIT_FAILURE, EXIT_USAGE, EXIT_BAD_INPUT = 0, 1, 2, 3

#: Modules that define ``register(subparsers)``; each subparser sets ``func(args) -> int``.
COMMAND_MODULES = (
    "rodata.etl.commands",      # build
    "rodata.admin",             # inspect, verify, get, versions, rollback
    "rodata.server.commands",   # serve, demo
)


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser (every registered subcommand)."""
    parser = argparse.ArgumentParser(prog="rodata", description="Serve read-only datasets at memory speed.")
    parser.add_argument("--version", action="version", version=f"rodata {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:  # a missing dependency inside the module is a real error
                raise
            continue
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``rodata`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        print("rodata: interrupted", file=sys.stderr)
        return 130
    except (BadInputError, DuplicateKeyError, SchemaError) as exc:
        print(f"rodata: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except (RodataError, OSError) as exc:
        print(f"rodata: error: {exc}", file=sys.stderr)
        return EXIT_FAILURE


if __name__ == "__main__":
    sys.exit(main())
