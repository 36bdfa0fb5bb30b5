"""The command line's exit statuses (docs/cli.md), in one place for every command module."""

from __future__ import annotations

__all__ = ["EXIT_BAD_INPUT", "EXIT_FAILURE", "EXIT_INTERRUPTED", "EXIT_OK", "EXIT_USAGE"]

#: Success.
EXIT_OK = 0
#: A runtime failure: an I/O error, a corrupt version, a key not found.
EXIT_FAILURE = 1
#: A usage error: a bad option, a name that is not there, an impossible request.
EXIT_USAGE = 2
#: Bad input data: a malformed record, a duplicate key, a schema that cannot be stored, a refused publish.
EXIT_BAD_INPUT = 3
#: Stopped by Ctrl-C (128 + SIGINT, as shells report it).
EXIT_INTERRUPTED = 130
