"""Exit statuses and the few exceptions that cross layers.

Every exception here carries a message fit to show a user on one line; the shell
prints it and goes on, scripts map it to an exit status.
"""
from __future__ import annotations

from enum import IntEnum


class ExitStatus(IntEnum):
    """Process exit codes, as psql defines them (issue: 1 also for a failed statement)."""

    OK = 0
    ERROR = 1  # an SQL statement or staged query failed; bad usage; file not found
    CONNECTION = 2  # could not connect, or the connection was lost
    SCRIPT_STOPPED = 3  # an error with --on-error-stop (or Ctrl-C in a script)


def one_line(text: str) -> str:
    """libpq's message on one line: its lines joined with "; " ("Connection refused; Is the
    server running on that host…"), runs of white space as one space."""
    return "; ".join(" ".join(line.split()) for line in str(text).splitlines() if line.strip())


class QshellError(Exception):
    """A user-facing error: the message is one line, no traceback is shown."""

    status = ExitStatus.ERROR


class UsageError(QshellError):
    """Bad command, bad argument, bad setting value."""


class ConnectionFailed(QshellError):
    """Could not connect, or the connection was lost."""

    status = ExitStatus.CONNECTION


class CapacityError(QshellError):
    """The server cannot give N more connections."""


class SandboxError(QshellError):
    """The embedded server could not start; message includes the log's last lines."""

    status = ExitStatus.CONNECTION


class OutputClosed(Exception):
    """Our output's reader went away (``qshell ... | head``): end quietly, as psql does."""
