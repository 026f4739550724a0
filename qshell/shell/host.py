"""What the command groups (``RunCommands``, ``LoadCommands``, ``SetCommands``,
``DescribeCommands``, ``ReportCommands``, ``IsolationCommands``) receive from the shell that holds them.

``ShellHost`` is a protocol: the groups are handed the ``Shell`` (which has all of this)
and never import it, so ``loop.py`` imports the groups and nothing imports ``loop.py``
back. ``_Stop`` is how any command ends the script with a status.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Protocol, TextIO

from qshell.common.errors import ExitStatus

if TYPE_CHECKING:  # pragma: no cover
    from qshell.output import styles
    from qshell.records.results import QueryResult, ServerMessage
    from qshell.script.commands import Command
    from qshell.script.reader import Entry, ScriptContext
    from qshell.script.variables import Variables
    from qshell.session.session import Session
    from qshell.shell.settings import Settings


class _Stop(Exception):
    """Stop reading the input (a script) with this exit status: raised by any command, caught by the loop."""

    def __init__(self, status: ExitStatus) -> None:
        super().__init__(status)
        self.status = status


class _Failed(Exception):
    """A command failed, its errors already said (an \\i whose file stopped at an error), or
    with nothing to say (psql's ECHO_HIDDEN noexec: the catalog query shown, not run)."""


class ShellHost(Protocol):
    """The session, the streams, the settings and the staged set, and the shell's ways to
    write, warn and fail (one line each, redacted and escaped as the shell does)."""

    session: Session
    out: TextIO
    err: TextIO
    settings: Settings
    interactive: bool
    staged: list[str]
    last_error: ServerMessage | None  # the last error a statement or a run got (\errverbose)
    secrets: set[str]  # passwords the user gave: every notice is redacted of them

    def write(self, text: str) -> None: ...
    def notice(self, text: str) -> None: ...
    def _where_notice(self, text: str) -> None: ...  # an error line psql logs: FILE:LINE: first in a script
    def fail(self, message: str, status: ExitStatus = ...) -> None: ...
    def stage_file(self, path: Path | str, label: str) -> int: ...
    @property
    def json(self) -> bool: ...
    @property
    def history_dir(self) -> Path | None: ...  # the run history's directory (resolved on first use)
    @property
    def sets_dir(self) -> Path | None: ...
    def default_workers(self) -> int: ...
    def width(self) -> int: ...
    def style(self) -> styles.Style: ...
    def catalog_changed(self) -> None: ...


class CommandHost(ShellHost, Protocol):
    """What psql's own commands (COPY and ``\\copy``, the file commands, ``\\watch``) reach
    further: psql's variables and query buffer, its stdout beside ``\\o``'s output, the page
    held for the pager, and the shell's way to send a statement as a plain one."""

    variables: Variables
    context: ScriptContext
    entry: Entry | None
    last_query: str
    stdout: TextIO  # psql's stdout, whatever \\o sends the query output to
    _outer_out: TextIO | None
    _page: list[str] | None
    _where: tuple[str, int]

    def say(self, text: str) -> None: ...
    def to_stdout(self, text: str) -> None: ...
    def show_notices(self, q: QueryResult) -> None: ...
    def _show_rows(self, q: QueryResult) -> None: ...  # a result read whole, as a statement's rows print
    def _flush_page(self) -> None: ...
    def _args(self, cmd: Command, take: int | None = None, semicolon: bool = False) -> list[str]: ...
    def _run_sql(self, sql: str, *, show: bool = True, maxrows: int | None = None,
                 remember: bool = True) -> QueryResult | None: ...
