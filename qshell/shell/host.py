"""What the command mixins (``RunCommands``, ``SetCommands``, ``DescribeCommands``) need
from the ``Shell`` they are mixed into, declared for the type checker.

At run time this class is empty: the attributes are annotations only and the methods
exist only for type checking; ``Shell`` provides all of them.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from qshell.common.errors import ExitStatus

if TYPE_CHECKING:  # pragma: no cover
    from qshell.engine.database import Database
    from qshell.output import styles
    from qshell.records.results import RunResult, ServerMessage
    from qshell.session.session import Session
    from qshell.shell.settings import Settings


class _Stop(Exception):
    """Stop reading the input (a script) with this exit status: raised by any command, caught by the loop."""

    def __init__(self, status: ExitStatus) -> None:
        super().__init__(status)
        self.status = status


class ShellHost:
    session: Session
    out: TextIO
    err: TextIO
    settings: Settings
    history_dir: Path | None
    sets_dir: Path | None
    interactive: bool
    staged: list[str]
    last_run: RunResult | None
    last_error: ServerMessage | None
    _history_warned: bool
    _secrets: set[str]  # passwords the user gave: every notice is redacted of them
    _times: dict[str, float | None] | None
    _alone: dict[str, float | None]

    if TYPE_CHECKING:  # pragma: no cover
        def write(self, text: str) -> None: ...
        def notice(self, text: str) -> None: ...
        def fail(self, message: str, status: ExitStatus = ...) -> None: ...
        def stage_file(self, path: Path | str, label: str) -> int: ...
        @property
        def json(self) -> bool: ...
        def default_workers(self) -> int: ...
        def width(self) -> int: ...
        def style(self) -> styles.Style: ...
        def catalog_changed(self) -> None: ...
        def _cpu_source(self, db: Database) -> int | str: ...
