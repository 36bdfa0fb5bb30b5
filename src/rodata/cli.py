"""The ``rodata`` command.  Each subcommand lives in the module that owns it and registers itself here.

Exit codes (docs/cli.md): 0 ok, 1 runtime failure, 2 usage error, 3 bad input data."""

from __future__ import annotations

import argparse
import difflib
import errno
import importlib
import os
import re
import sys
from collections.abc import Sequence
from typing import NoReturn

from rodata._exit import EXIT_BAD_INPUT, EXIT_FAILURE, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE
from rodata._version import __version__
from rodata.errors import (
    BadInputError,
    DuplicateKeyError,
    PublishGuardError,
    RodataError,
    SchemaError,
    UsageError,
)

__all__ = ["EXIT_BAD_INPUT", "EXIT_FAILURE", "EXIT_OK", "EXIT_USAGE", "main"]


#: Modules that define ``register(subparsers)``; each subparser sets ``func(args) -> int``.
COMMAND_MODULES = (
    "rodata.etl.commands",      # build
    "rodata.admin",             # inspect, verify, get, versions, rollback
    "rodata.server.commands",   # serve, demo
)


class _Parser(argparse.ArgumentParser):
    """argparse, saying "did you mean" for a misspelt subcommand or choice."""

    def error(self, message: str) -> NoReturn:
        match = re.search(r"invalid choice: '([^']*)' \(choose from (.*)\)", message)
        if match:
            close = difflib.get_close_matches(match.group(1), re.findall(r"'([^']*)'", match.group(2)), n=1)
            if close:
                message += f"; did you mean {close[0]!r}?"
        super().error(message)


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser (every registered subcommand)."""
    parser = _Parser(prog="rodata", description="Serve read-only datasets at memory speed.")
    parser.add_argument("--version", action="version", version=f"rodata {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:  # every one ships with rodata: a failed import is a real error
        importlib.import_module(name).register(subparsers)
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
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader of our output went away (`| head`): stop quietly, as other command-line tools
        # do; stdout goes to /dev/null so that flushing it at exit cannot fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except UsageError as exc:
        print(f"rodata: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except (BadInputError, DuplicateKeyError, SchemaError, PublishGuardError) as exc:
        print(f"rodata: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except RodataError as exc:
        print(f"rodata: error: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    except OSError as exc:
        print(f"rodata: error: {describe_os_error(exc)}", file=sys.stderr)
        return EXIT_FAILURE


#: What to do about the OS errors a command is most likely to meet.
_OS_HINTS = {
    errno.EROFS: "write to a writable volume",
    errno.EACCES: "check the owner and mode of the path, and the user rodata runs as",
    errno.EPERM: "check the owner and mode of the path, and the user rodata runs as",
    errno.ENOENT: "check the path",
    errno.ENOSPC: "free some space, or keep fewer versions (--keep-versions)",
    errno.EDQUOT: "free some space, or keep fewer versions (--keep-versions)",
    errno.EADDRINUSE: "pick another --port (0 picks a free one)",
    errno.EADDRNOTAVAIL: "check --host: it is not an address of this host",
    errno.EMFILE: "raise the open-files limit (ulimit -n)",
    errno.EIO: "check the disk or the network file system",
}


def describe_os_error(exc: OSError) -> str:
    """One line: what failed, where, and what to do (never a bare ``[Errno N]``)."""
    where = " -> ".join(str(f) for f in (exc.filename, exc.filename2) if f is not None)
    what = exc.strerror or str(exc)
    hint = _OS_HINTS.get(exc.errno or 0)
    text = f"{where}: {what}" if where else what
    return f"{text}: {hint}" if hint else text
