"""The prompt's command history: which file, what is kept, ``\\s``.

- The file: qshell's own ``command_history`` in the history directory (prompt_toolkit's
  format), unless ``HISTFILE`` is set (in ``~/.psqlrc`` or qshell's startup file, or with
  ``\\set`` before the prompt starts): then that file, in psql's format (one entry a line,
  the newlines of a multi-line entry written as byte 0x01, as psql writes them with
  readline), so that qshell and psql share it. Created mode 0600.
- ``HISTSIZE`` (default 500, as psql): the entries the file keeps (older ones dropped when
  it is written); a negative value: no limit.
- ``HISTCONTROL``: ``ignorespace`` (a line that starts with a space is not kept),
  ``ignoredups`` (nor one equal to the entry before), ``ignoreboth``.
- Never kept: a line that sets a password in SQL (``CREATE``/``ALTER ROLE``/``USER`` …
  ``PASSWORD '…'``; psql keeps it) — a conninfo's password is masked (``redact``).
  ``\\password`` asks for the password without echo; its line holds none.
- ``\\s [FILE]``: the history (this session's entries and those read from the file),
  printed then an empty line, or written to FILE (``Wrote history to file "FILE".``), as
  psql's printHistory.
"""
from __future__ import annotations

import os
from typing import TYPE_CHECKING, Protocol

from qshell.common.errors import UsageError
from qshell.common.secrets import SETS_PASSWORD
from qshell.script.commands import Command

if TYPE_CHECKING:
    from prompt_toolkit.history import History

    from qshell.shell.host import CommandHost

    class _Host(CommandHost, Protocol):
        command_history: History | None

DEFAULT_SIZE = 500
NL_IN_HISTORY = "\x01"  # psql's stand-in for a newline inside a history line


def histsize(value: str | None) -> int:
    """HISTSIZE as psql reads it: a whole number (default 500); negative: no limit."""
    try:
        return int((value or "").strip() or DEFAULT_SIZE)
    except ValueError:
        return DEFAULT_SIZE


def keeps(line: str, previous: str | None, control: str | None) -> bool:
    """Whether ``line`` goes into the history under HISTCONTROL, never one setting a password."""
    control = (control or "").lower()
    if control in ("ignorespace", "ignoreboth") and line[:1] == " ":
        return False
    if control in ("ignoredups", "ignoreboth") and line == previous:
        return False
    return not SETS_PASSWORD.search(line)


class HistoryCommands:
    """``\\s [FILE]``, held by the shell."""

    def __init__(self, host: "_Host") -> None:
        self.host = host

    def do_s(self, cmd: Command) -> None:
        host = self.host
        words = host._args(cmd, take=1)
        history = host.command_history
        if history is None:
            raise UsageError("\\s: there is a command history only at the interactive prompt")
        text = "".join(s + "\n" for s in history.get_strings())
        if not words:
            host.write(text)  # (psql: the history, then an empty line)
            return
        name = os.path.expanduser(words[0])
        try:
            with open(name, "w", encoding="utf-8") as f:
                f.write(text)
        except OSError as exc:
            raise UsageError(f'could not save history to file "{name}": {exc.strerror or exc}') from None
        host.say(f'Wrote history to file "{name}".')
