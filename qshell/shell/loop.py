"""The loop: parse each entry, dispatch through the command table, render, write.

Streams are injected (as in ``cmd.Cmd``): a terminal and a script share this path.
Every failure becomes one line on ``err``; the staged set survives all of them.
"""
from __future__ import annotations

import os
import shutil
from contextlib import contextmanager
from dataclasses import replace
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Callable, Iterable, Iterator, TextIO

from qshell.common.errors import ConnectionFailed, ExitStatus, OutputClosed, QshellError, UsageError
from qshell.common.numbers import INT_MAX
from qshell.common.visible import visible
from qshell.engine.execute import BATCH, has_copy, stage_refusal, statements
from qshell.output import csvout, documents, json_lines, result_tables, styles
from qshell.output.psql_formats import PrintOptions, Unaligned, localized
from qshell.records.results import Column, QueryResult, ServerMessage, Status
from qshell.script import commands
from qshell.script.commands import Command
from qshell.script.reader import Entry, InputError, ScriptContext, read_file, read_text
from qshell.script.sqlsplit import first_keyword, split, strip_comments_head
from qshell.script.variables import (
    PSQL_DEFAULTS,
    MetaArgError,
    interpolate,
    meta_args,
    meta_words,
    parse_bool,
    parse_int,
    special_value,
    valid_name,
)
from qshell.session.connect import password_in, redact
from qshell.session.session import Session, needs_password
from qshell.shell import psqlopts
from qshell.shell.host import _Failed, _Stop
from qshell.shell.interrupt import sigint_calls
from qshell.shell.prompt import Prompter
from qshell.shell.pset import PsetCommands, pager_state
from qshell.shell.pset import apply as pset_apply
from qshell.shell.session_commands import ConnectionCommands, ask_login_password, begin_for, end_savepoint, sync_encoding, sync_verbosity
from qshell.shell.settings import HELP, TERMINAL_MAXWIDTH, Settings, assign, listing, show
from qshell.shell.streams import isatty

if TYPE_CHECKING:
    from prompt_toolkit.history import History

if TYPE_CHECKING:  # pragma: no cover
    from qshell.shell.catalog import CatalogCommands
    from qshell.shell.cmdhistory import HistoryCommands
    from qshell.shell.copyio import CopyCommands
    from qshell.shell.describe import DescribeCommands
    from qshell.shell.explore import RunCommands
    from qshell.shell.extended import ExtendedCommands, LargeObjectCommands
    from qshell.shell.files import FileCommands
    from qshell.shell.helptext import HelpCommands
    from qshell.shell.isolation import IsolationCommands
    from qshell.shell.lab import LabCommands
    from qshell.shell.loadview import LoadCommands
    from qshell.shell.report_command import ReportCommands
    from qshell.shell.sessions import SessionCommands
    from qshell.shell.sets import SetCommands
    from qshell.shell.watch import WatchCommands

MAX_INCLUDE_DEPTH = 16
TEXT_OID = 25  # a column of text (left-aligned), as psql's printTable cells


class _Abandon(Exception):
    """The session was lost at the prompt inside files read by \\i: back to the prompt."""


class _Unopened(UsageError):
    """\\g's output file or command could not be opened: its query is not sent."""


def _first_meta(text: str, std_strings: bool) -> tuple[int, str] | None:
    """The first meta-command of an SQL file as psql's lexer finds it (its line and word), or None."""
    for entry in read_text(text, "", ScriptContext(std_strings=std_strings)):
        if isinstance(entry, Entry) and entry.text.lstrip().startswith("\\"):
            return entry.line, "\\" + commands.meta_name(entry.text)
    for number, line in enumerate(text.split("\n"), start=1):  # (the reader keeps \\if … \\endif to itself)
        word = commands.meta_name(line)
        if word in ("if", "elif", "else", "endif"):
            return number, "\\" + word
    return None


class _Quit(_Stop):
    """\\q: ends qshell, or, in a file read by \\i, that file only (as psql)."""


class _ErrorStop(_Stop):
    """``ON_ERROR_STOP`` stopped at an error (in a file read by \\i: that file, and its
    \\i fails; whether its includer stops too is its own ``ON_ERROR_STOP``'s say, as psql)."""



class _RowPrinter:
    """A plain statement's rows, written as they come (``UserSession.execute``'s sink).

    CSV: the header line, then every row (psql's ``--csv``; no footer). The aligned format
    with ``FETCH_COUNT`` unset (or 0): one table of the whole result, as psql draws it, its
    widths taken in a first pass over the rows libpq holds (``surveys``), the rows printed
    in a second, one batch of Python values at a time. With ``FETCH_COUNT`` set (and in the
    other table formats: 1000 rows while it is unset), each chunk of that many rows aligned
    on its own, the header printed with the first chunk only, as psql 18 prints them with
    ``FETCH_COUNT``. Then one ``(N rows)`` footer. Notices that arrive before a batch are
    printed before it."""

    def __init__(self, shell: "Shell", style: styles.Style | None = None, whole: bool = False) -> None:
        self.shell = shell
        self.style = style or shell.style()
        self.started = False
        self.shown = False  # some table text was printed
        # psql's strtol (0x10 is 16); \\set refuses anything else (a -v one counts as unset)
        chunk = 0 if whole else parse_int(shell.variables.get("FETCH_COUNT") or "0") or 0  # (whole: a table of psql's own)
        self.batch = chunk if chunk > 0 else BATCH  # rows per call; with FETCH_COUNT a table is aligned per chunk
        self.chunk = max(chunk, 0)  # FETCH_COUNT: libpq reads that many rows at a time (psql 18's chunked mode)
        self.surveys = chunk <= 0 and self.style.fmt == "aligned"  # one table: widths first (``survey``)
        # psql's border 0 or 2: the rows held and drawn as one table at the end (``borders``)
        self.held: list | None = [] if (self.surveys and result_tables.drawn_by_borders(self.style)
                                        or self.style.fmt in documents.FORMATS
                                        or self.style.fmt == "wrapped" and chunk <= 0) else None
        # FETCH_COUNT with a border but 1, a line style but ascii, wrapped: psql's chunks
        self.chunked = self.held is None and (self.style.fmt == "wrapped" or self.style.fmt == "aligned"
                                              and result_tables.drawn_by_borders(self.style))
        self.surveys = self.surveys and self.held is None
        self.layout: result_tables.Layout | None = None
        self._head: int | None = None  # how many lines a table's header takes (left out after the first chunk)
        self.count = 0  # rows printed so far (expanded display numbers its records on)
        self.columns: tuple | None = None  # the result's columns, once a batch came (``held``)
        self.unaligned: Unaligned | None = None  # psql's unaligned format: its pieces written as they are
        self._pending = ""  # at the prompt: unaligned text after its last newline, not yet a line

    def survey(self, columns, batch) -> None:  # noqa: ANN001
        """The first pass over the rows: their widths only."""
        if self.shell.session.user.cancelled:  # Ctrl-C while the widths are taken: stop
            raise KeyboardInterrupt
        if self.layout is None:
            self.layout = result_tables.Layout(columns, self.style)
        self.layout.survey(self._localized(columns, batch))

    def __call__(self, columns, batch, notices) -> None:  # noqa: ANN001
        shell = self.shell
        if shell.session.user.cancelled:  # Ctrl-C while rows are printed: stop printing them
            raise KeyboardInterrupt
        if notices:
            shell.show_notices(QueryResult(index=0, sql="", status=Status.OK, notices=tuple(notices)))
        if self.started and not batch:
            return
        batch = self._localized(columns, batch)
        if self.held is not None:
            self.columns = columns
            self.held.extend(batch)
        elif self.style.fmt == "csv":
            opts, expanded = self.style.opts, self.style.expanded == "on"
            head = "" if self.started or opts.tuples_only or expanded else csvout.header(columns, opts.csv_fieldsep)
            text = head + csvout.rows(batch, opts.csv_fieldsep, [c.name for c in columns] if expanded else None,
                                      result_tables.machine_null(self.style))
            if text:
                shell.write(text[:-1])
        elif self.style.fmt == "unaligned":
            if self.unaligned is None:
                self.unaligned = Unaligned([c.name for c in columns], self.style.opts, result_tables.machine_null(self.style),
                                           self.style.expanded == "on", escape=isatty(shell.out))
                self._put(self.unaligned.head())
            self._put(self.unaligned.body(batch))
        elif self.surveys:
            if self.layout is None:  # no rows, none surveyed
                self.layout = result_tables.Layout(columns, self.style)
            text = self.layout.body(batch)
            head = "" if self.started else self.layout.head()
            text = head + "\n" + text if head and text else head or text
            if text:
                shell.write(text)
                self.shown = True
        elif self.chunked:  # each chunk drawn on its own, the header with the first, the bottom rule at the end
            self.columns = columns
            if not batch:  # (no rows at all: the end draws the whole table)
                return
            part = QueryResult(index=0, sql="", status=Status.OK, columns=tuple(columns), rows=tuple(batch),
                               rowcount=len(batch))
            text = result_tables.bordered(part, self.style, self.count + 1, start=not self.started, stop=False)
            self.count += len(batch)
            if text or not self.started and result_tables.one_empty_line(part, self.style):
                shell.write(text)
                self.shown = True
        else:
            shown = QueryResult(index=0, sql="", status=Status.OK, columns=tuple(columns), rows=tuple(batch),
                                rowcount=len(batch))
            text = result_tables.table(shown, self.style, first_record=self.count + 1)
            self.count += len(batch)
            if self.started and text and not text.startswith("-[ RECORD"):  # psql: the header with the first chunk only
                if self._head is None:
                    empty = QueryResult(index=0, sql="", status=Status.OK, columns=tuple(columns))
                    self._head = result_tables.table(empty, self.style).count("\n") + 1
                text = "\n".join(text.split("\n")[self._head:])
            if text:  # a result of no columns shows nothing in expanded display
                shell.write(text)
                self.shown = True
        self.started = True

    def _localized(self, columns, batch):  # noqa: ANN001, ANN202
        """``\\pset numericlocale``: the numbers of a batch grouped (psql's, in every format)."""
        if not self.style.opts.numericlocale:
            return batch
        return localized(batch, [c.type_oid in result_tables.ALIGN_RIGHT for c in columns])

    def _put(self, text: str) -> None:
        """Unaligned text exactly as it is (its separators are the user's): at once to a
        script's output; at the prompt line by line (the pager takes lines)."""
        shell = self.shell
        if shell._page is None:
            if text:
                shell._emit(text)
            return
        self._pending += text
        lines, newline, self._pending = self._pending.rpartition("\n")
        if newline:
            shell.write(lines)

    def end(self, q: QueryResult) -> None:
        """After the last batch: psql's ``(N rows)`` under a table (unaligned: its footer and last
        separator); after CSV only the tag of INSERT … RETURNING and the like."""
        # psql prints the tag of INSERT … RETURNING and the like after the rows, unless QUIET
        tag = q.command if (q.command.split(" ", 1)[0] in result_tables._TAG_AFTER_ROWS
                            and not self.shell.variables.is_on("QUIET")) else ""
        if self.style.fmt == "unaligned":
            if self.unaligned is None:  # no batch came
                self(q.columns, [], ())
            assert self.unaligned is not None
            tail = self.unaligned.tail(f"({styles._rows_word(q.rowcount)})")  # every row was printed
            self._put(tail + (tag + "\n" if tag else ""))
            if self._pending:  # (a zero byte ended it: it goes out as the last line)
                self.shell.write(self._pending)
                self._pending = ""
        elif self.style.fmt == "csv":
            if tag:
                self.shell.write(tag)
        elif self.held is not None and self.style.fmt in documents.FORMATS:  # one document of every row
            whole = QueryResult(index=0, sql="", status=Status.OK, columns=tuple(self.columns or q.columns),
                                rows=tuple(self.held), rowcount=len(self.held))
            self.held = []
            text = result_tables.document(whole, self.style, f"({styles._rows_word(whole.rowcount)})",
                                          escape=isatty(self.shell.out))
            self._put(text + (documents.tag_line(self.style.fmt, tag) + "\n" if tag else ""))
            if self._pending:
                self.shell.write(self._pending)
                self._pending = ""
        elif self.chunked:  # psql's last chunk: none of the rows, the table's end
            last = QueryResult(index=0, sql="", status=Status.OK, columns=tuple(self.columns or q.columns))
            text = result_tables.bordered(last, self.style, self.count + 1, start=not self.started, stop=True)
            if text or not self.started and result_tables.one_empty_line(last, self.style):
                self.shell.write(text)
                self.shown = True
            self.shown = self.shown or self.started  # (psql: no footer under expanded chunks)
            vertical = self.style.expanded == "on"
            self.shell.write(result_tables.after_table(q, self.style, shown=self.shown, streamed=True, tag=bool(tag),
                                                       expanded=vertical))
        elif self.held is not None:  # one table of every row, then as below
            whole = QueryResult(index=0, sql="", status=Status.OK, columns=tuple(self.columns or q.columns),
                                rows=tuple(self.held), rowcount=len(self.held))
            text = result_tables.table(whole, self.style)
            self.held = []
            shown = bool(text) or result_tables.one_empty_line(whole, self.style)
            if shown:
                self.shell.write(text)
            vertical = self.style.expanded == "on" or (self.style.expanded == "auto" and text.startswith(
                ("-[ RECORD", "* Record", "+-[ RECORD")))
            tail = result_tables.after_table(q, self.style, shown=shown, streamed=True, tag=bool(tag), expanded=vertical)
            self.shell.write(tail)
        else:
            expanded = self.layout.expanded if self.layout is not None and self.surveys else None
            tail = result_tables.after_table(q, self.style, shown=self.shown, streamed=True, tag=bool(tag), expanded=expanded)
            self.shell.write(tail)  # even empty: psql's blank line after the records


# The command groups a Shell holds: attribute -> (module, class). Each is made, and its
# module imported, when a command first needs it: `qshell -c 'SELECT 1;'` imports none of the
# run, load, report, isolation or catalog machinery (start-up; tests/test_parsing.py checks
# GROUP_OF against the classes).
GROUPS: dict[str, tuple[str, str]] = {
    "runs": ("qshell.shell.explore", "RunCommands"),
    "loads": ("qshell.shell.loadview", "LoadCommands"),
    "sets": ("qshell.shell.sets", "SetCommands"),
    "describe": ("qshell.shell.describe", "DescribeCommands"),
    "catalog": ("qshell.shell.catalog", "CatalogCommands"),
    "reports": ("qshell.shell.report_command", "ReportCommands"),
    "isolation": ("qshell.shell.isolation", "IsolationCommands"),
    "lab": ("qshell.shell.lab", "LabCommands"),
    "sessions": ("qshell.shell.sessions", "SessionCommands"),
    "pset": ("qshell.shell.pset", "PsetCommands"),
    "watch": ("qshell.shell.watch", "WatchCommands"),
    "helptext": ("qshell.shell.helptext", "HelpCommands"),
    "history": ("qshell.shell.cmdhistory", "HistoryCommands"),
    "extended": ("qshell.shell.extended", "ExtendedCommands"),
    "large_objects": ("qshell.shell.extended", "LargeObjectCommands"),
    "copyio": ("qshell.shell.copyio", "CopyCommands"),
    "files": ("qshell.shell.files", "FileCommands"),
    "connection": ("qshell.shell.session_commands", "ConnectionCommands"),  # (made at once: its module is needed anyway)
}

# \name -> the attribute of the group whose do_<name> runs it (the shell's own do_<name> first)
GROUP_OF: dict[str, str] = {
    **dict.fromkeys(("compare", "go", "history", "sweep", "timeline"), "runs"),
    **dict.fromkeys(("demo", "load", "sandbox", "save", "sets"), "sets"),
    **dict.fromkeys(("d", "dE", "di", "dm", "dn", "ds", "dt", "du", "dv", "dx", "l"), "describe"),
    **dict.fromkeys((
        "dA", "dAc", "dAf", "dAo", "dAp", "dC", "dD", "dF", "dFd", "dFp", "dFt", "dL", "dO", "dP", "dPi", "dPn",
        "dPt", "dRp", "dRs", "dT", "dX", "da", "db", "dc", "dconfig", "dd", "ddp", "des", "det", "deu", "dew", "df",
        "dfa", "dfn", "dfp", "dft", "dfw", "dg", "dl", "do", "dp", "drds", "drg", "dy", "ef", "ev", "sf", "sv", "z",
    ), "catalog"),
    "report": "reports",
    "spec": "isolation",
    "lab": "lab",
    **dict.fromkeys(("permute", "session", "sessions", "step", "steps", "spec_load", "spec_save"), "sessions"),
    **dict.fromkeys(("C", "H", "T", "a", "f", "pset", "t"), "pset"),
    "watch": "watch",
    **dict.fromkeys(("h", "copyright"), "helptext"),
    "s": "history",
    **dict.fromkeys(("conninfo", "encoding", "password"), "connection"),
    **dict.fromkeys(("bind", "bind_named", "parse", "close_prepared", "startpipeline", "endpipeline",
                     "syncpipeline", "flush", "flushrequest", "sendpipeline", "getresults", "gdesc",
                     "crosstabview"), "extended"),
    **dict.fromkeys(("lo_list", "lo_import", "lo_export", "lo_unlink"), "large_objects"),
    "copy": "copyio",
    **dict.fromkeys(("!", "cd", "getenv", "o", "prompt", "setenv", "w"), "files"),
}


def group_classes() -> dict[str, type]:
    """Every command group's class by attribute (imports them all: for tests and checks)."""
    import importlib

    return {attr: getattr(importlib.import_module(module), name) for attr, (module, name) in GROUPS.items()}


class Shell:
    """State of one qshell: the session, the staged set, the settings; the loop and the
    commands of its own (staging, psql's), and the command groups it holds (``runs``,
    ``loads``, ``sets``, ``describe``, ``reports``, ``isolation``), each given this shell as its host."""

    def __init__(self, session: Session, out: TextIO, err: TextIO, *, settings: Settings | None = None,
                 history_dir: Path | Callable[[], Path] | None = None, interactive: bool = False,
                 sets_dir: Path | Callable[[], Path] | None = None, context: ScriptContext | None = None) -> None:
        """``history_dir`` and ``sets_dir`` may be given as functions, called on first use:
        resolving the XDG directories costs a `-c` that needs neither 3 ms of its start."""
        self.context = context or ScriptContext()  # what the readers share: psql's variables...
        self.variables = self.context.variables
        if not interactive:
            self.context.echo = self.write  # ECHO all (psql -a): the lines read
        self.last_query = ""  # the last statement sent (what \\g sends again, psql's previous buffer): one per input
        self._last_refused = ""  # why the last statement was refused, when it was (\\g then refuses it again)
        self._input = ""  # the top-level input being read (each has its own previous buffer, as psql's MainLoop)
        for name, value in PSQL_DEFAULTS.items():
            if self.variables.get(name) is None:
                self.variables.set(name, value)
        if self.variables.get("ON_ERROR_STOP") in (None, "off") and settings is not None and settings.on_error_stop:
            self.variables.set("ON_ERROR_STOP", "on")
        self.session = session
        self.out = out
        self.err = err
        self._ttys: dict[int, tuple[TextIO, bool]] = {}  # id(stream) -> (stream, a terminal?)
        self.settings = settings or Settings()
        self._dirs = {"history_dir": history_dir, "sets_dir": sets_dir}
        self.interactive = interactive
        self.staged: list[str] = []
        self.status = ExitStatus.OK  # the worst of the input being read (run_inputs: psql's exit status)
        self._unreadable = False  # that input could not be read at all (a -f file)
        self._startup = False  # the input being read is a startup file (~/.psqlrc…): a script, at the prompt too
        self._where: tuple[str, int] = ("<stdin>", 0)
        self._depth = 0
        self._reset_told = False
        self._page: list[str] | None = [] if interactive else None
        self.entry: Entry | None = None
        self.last_sql = ""  # the last statement typed (for \\e)
        self.prefill: str | None = None  # text for the next prompt (after \\e)
        self.catalog_loader = None  # set by the terminal: completion names, refreshed after DDL / \\c
        self.secrets: set[str] = set()
        self.ask_password = True  # psql asks for a password the server wants (not with -w)
        self.last_error: ServerMessage | None = None  # for \\errverbose
        self._sent = False  # the meta-command being run has sent its query (\\g: a failure after is the query's)
        # per input depth: the line being run and ON_ERROR_STOP as it was when that line began (as psql's
        # die_on_error, a \\set ON_ERROR_STOP counts from the next line on)
        self._line_stop: list[tuple[tuple[str, int], bool]] = []
        self._tx = ""  # the session's transaction state after the last statement ('*', '!')
        self._savepoint = False  # psql's ON_ERROR_ROLLBACK savepoint set for the statement being sent
        self._extra: list[str] = []  # the arguments the command being run did not take (see handle)
        self._unwritten: tuple[TextIO, OSError] | None = None  # an output that could not be written, and why
        self._outer_out: TextIO | None = None  # while \\g writes to a file or pipe: the query output it replaced
        self.stdout = out  # psql's stdout, whatever \\o sends the query output to (pstdout)
        self.pset = PsetCommands(self)  # psql's print options (\\pset), in style()
        self.prompter = Prompter(self)  # PROMPT1, PROMPT2 set by the user
        self.command_history: History | None = None  # the prompt's (cmdhistory.open_history)
        self.history_file: Path | None = None
        self.connection = ConnectionCommands(self)  # \\conninfo, \\encoding, \\password
        self.step_input: BinaryIO | None = None  # where SINGLESTEP (psql -s) reads its answers: stdin
        self.log: TextIO | None = None  # psql's -L session log
        self._attach(session)

    def _dir(self, name: str) -> Path | None:
        given = self._dirs[name]
        if callable(given):
            given = self._dirs[name] = given()
        return given

    @property
    def history_dir(self) -> Path | None:
        """The run history's directory (None: no run history)."""
        return self._dir("history_dir")

    @property
    def sets_dir(self) -> Path | None:
        """Where \\save keeps named sets."""
        return self._dir("sets_dir")

    # -- the command groups, each made when first used (GROUPS) --------------------------------

    @cached_property
    def loads(self) -> "LoadCommands":
        from qshell.shell.loadview import LoadCommands

        return LoadCommands(self)

    @cached_property
    def runs(self) -> "RunCommands":
        from qshell.shell.explore import RunCommands

        return RunCommands(self, self.loads)

    @cached_property
    def sets(self) -> "SetCommands":
        from qshell.shell.sets import SetCommands

        return SetCommands(self)

    @cached_property
    def describe(self) -> "DescribeCommands":
        from qshell.shell.describe import DescribeCommands

        return DescribeCommands(self)

    @cached_property
    def catalog(self) -> "CatalogCommands":
        from qshell.shell.catalog import CatalogCommands

        return CatalogCommands(self, self.describe)

    @cached_property
    def isolation(self) -> "IsolationCommands":
        from qshell.shell.isolation import IsolationCommands

        return IsolationCommands(self)

    @cached_property
    def reports(self) -> "ReportCommands":
        from qshell.shell.report_command import ReportCommands

        return ReportCommands(self, self.runs, self.loads, self.isolation)

    @cached_property
    def sessions(self) -> "SessionCommands":  # \\session: named connections of the user's
        from qshell.shell.sessions import SessionCommands

        return SessionCommands(self)

    @cached_property
    def lab(self) -> "LabCommands":
        from qshell.shell.lab import LabCommands

        return LabCommands(self, self.isolation, self.sessions)

    @cached_property
    def watch(self) -> "WatchCommands":  # \\watch
        from qshell.shell.watch import WatchCommands

        return WatchCommands(self)

    @cached_property
    def helptext(self) -> "HelpCommands":  # \\h, \\copyright
        from qshell.shell.helptext import HelpCommands

        return HelpCommands(self)

    @cached_property
    def history(self) -> "HistoryCommands":  # \\s
        from qshell.shell.cmdhistory import HistoryCommands

        return HistoryCommands(self)

    @cached_property
    def extended(self) -> "ExtendedCommands":  # \\bind, \\parse, pipelines, \\gdesc, \\crosstabview
        from qshell.shell.extended import ExtendedCommands

        return ExtendedCommands(self)

    @cached_property
    def large_objects(self) -> "LargeObjectCommands":  # \\lo_import, \\lo_export, \\lo_unlink, \\lo_list
        from qshell.shell.extended import LargeObjectCommands

        return LargeObjectCommands(self)

    @cached_property
    def copyio(self) -> "CopyCommands":  # COPY on the user's session, \\copy
        from qshell.shell.copyio import CopyCommands

        return CopyCommands(self)

    @cached_property
    def files(self) -> "FileCommands":  # \\o \\w \\cd \\! \\setenv \\getenv \\prompt
        from qshell.shell.files import FileCommands

        return FileCommands(self)

    def made(self, attr: str) -> bool:
        """Whether the command group ``attr`` has been made (used) in this shell."""
        return attr in self.__dict__

    def handler(self, name: str) -> Callable[[Command], None]:
        """The method that runs ``\\name``: the shell's own ``do_<name>`` or its group's
        (made, and its module imported, on first use)."""
        found = getattr(self, "do_" + name, None)
        if found is None and name in GROUP_OF:
            found = getattr(getattr(self, GROUP_OF[name]), "do_" + name, None)
        if found is None:
            raise AttributeError(f"no handler for \\{name}")
        return found

    @classmethod
    def handles(cls, name: str) -> bool:
        """Whether ``\\name`` has a handler (the shell's or a command group's)."""
        return name in GROUP_OF or callable(getattr(cls, "do_" + name, None))

    def _attach(self, session: Session) -> None:
        """Apply the session-wide settings to a (new) connection and hear about resets."""
        session.set_readonly(self.settings.readonly)
        self._tx = ""
        session.pool.on_reset = self._connection_reset
        session.pool.on_notice = self.notice  # the pool's warnings (a pooler: N above its size, settings not replayed)
        self.secrets.update(p for p in (password_in(session.dsn), session.pool._password) if p)
        p, v = session.params, self.variables
        for name, key in (("DBNAME", "dbname"), ("USER", "user"), ("HOST", "host"), ("PORT", "port"),
                          ("SERVER_VERSION_NAME", "server_version")):
            if p.get(key) is not None:
                v.set(name, str(p[key]))
        v.set("ENCODING", "UTF8")  # (as the server reports it, below; psycopg2 asks for UTF8 unless told)
        sync_encoding(self)
        num = session.user.server_version_num()
        if num:
            v.set("SERVER_VERSION_NUM", str(num))
        self.context.std_strings = session.user.std_strings()

    def _connection_reset(self) -> None:
        if not self._reset_told:
            self._reset_told = True
            self.notice("The connection to the server was lost. Attempting reset: Succeeded.")

    # -- output ---------------------------------------------------------------
    def write(self, text: str) -> None:
        if self._page is not None:  # interactive: held until the command ends, for the pager
            self._page.append(text)
            return
        self._emit(text + "\n")

    def _emit(self, text: str) -> None:
        """Write to the output as it is now. A write that fails (a full disk: ENOSPC) is
        remembered, not raised: the command goes on (its statement's result is still taken
        in, its variables set), what it prints to that output is dropped, and the failure
        is said once at its end (``_told_unwritten``). A closed stdout is raised, as before;
        a closed \\o pipe is like a full disk (psql: "could not print result table")."""
        failed = self._unwritten
        if failed is not None and failed[0] is self.out:
            return
        try:
            self.out.write(self._for(self.out, text))
            self.out.flush()
        except BrokenPipeError as exc:
            if self.out is self.stdout or self._outer_out is not None:  # (\\g |cmd says it itself)
                raise
            if failed is None:
                self._unwritten = (self.out, exc)
        except OSError as exc:
            if failed is None:
                self._unwritten = (self.out, exc)

    def _told_unwritten(self) -> None:
        """Say that stdout could not be written during the command, if so (and forget it)."""
        failed, self._unwritten = self._unwritten, None
        if failed is not None:
            where = "write to stdout" if failed[0] is self.stdout else "print result table"  # (\\o's, as psql)
            self.fail(f"could not {where}: {failed[1].strerror or failed[1]}")

    def _flush_page(self) -> None:
        """Show a command's output; through the pager when it does not fit the terminal."""
        lines, self._page = self._page, []
        if not lines:
            return
        text = "\n".join(lines) + "\n"
        size = shutil.get_terminal_size((100, 24))
        rows = text.count("\n")
        too_big = rows > size.lines - 2 or any(len(line) > size.columns for line in text.splitlines())
        opts = self.pset.options  # psql's \pset pager always, and pager_min_lines
        paging = pager_state(opts, self.settings)
        if paging and (paging == 2 or too_big and rows >= opts.pager_min_lines) and self.interactive and isatty(self.out):
            import shlex

            from qshell.shell.editor import run_foreground

            try:
                run_foreground(shlex.split(os.environ.get("PAGER") or "less -SRXF"), visible(text).encode("utf-8"))
                return
            except (OSError, ValueError):
                pass  # no pager (or an unparsable $PAGER): print as it is
        self._emit(text)

    def say(self, text: str) -> None:
        """An informational message psql prints on stdout (``Timing is on.``): silenced by
        QUIET, on stderr in JSON output (which stays JSON lines)."""
        if self.json:
            self.notice(text)
        elif not self.variables.is_on("QUIET"):
            if self.out is not self.stdout:  # \\o sends the query output elsewhere; these stay on stdout
                self.to_stdout(text + "\n")
            elif self._page is not None:  # at the prompt: never through the pager (psql prints these itself)
                self._flush_page()
                self._emit(text + "\n")
            else:
                self.write(text)

    def to_stdout(self, text: str) -> None:
        """``text`` on psql's stdout, where \\o does not reach (\\echo, "Time:", messages):
        after what the command printed to the query output so far."""
        if self.out is self.stdout:
            if self._page:
                self._flush_page()
            self._emit(text)
            return
        if self._page:
            self._flush_page()
        self.stdout.write(self._for(self.stdout, text))
        self.stdout.flush()

    def _for(self, stream: TextIO, text: str) -> str:
        """``text`` as it may go to ``stream``: at a terminal every control character but
        newline and tab shown escaped, whatever wrote it (a CSV value, a view's definition,
        \\echo of a \\gset value): data never drives the terminal. To a file or a pipe, as it is."""
        known = self._ttys.get(id(stream))
        if known is None or known[0] is not stream:
            known = self._ttys[id(stream)] = (stream, isatty(stream))
        return visible(text) if known[1] else text

    def notice(self, text: str) -> None:
        if self._page:  # what the command printed so far comes first
            self._flush_page()
        # a server message may quote data (an invalid value, a NOTICE's text): never raw control
        self.err.write(visible(redact(text, secrets=self.secrets)) + "\n")
        self.err.flush()

    def fail(self, message: str, status: ExitStatus = ExitStatus.ERROR, then: str | None = None) -> None:
        """Report one error line (and ``then``, psql's ``STATEMENT:`` line); remember the
        worst status; stop a script if asked."""
        if then is None and self._at_prompt() and message.startswith("invalid command \\"):
            then = "Try \\? for help."  # psql's second line, at the prompt only
        for text in (message, then):
            if text is not None:
                self._where_notice(text)
        if status > self.status:
            self.status = status
        if status == ExitStatus.CONNECTION and self._stop_on_error():
            raise _Stop(ExitStatus.CONNECTION)
        if self._stop_on_error():
            raise _ErrorStop(ExitStatus.SCRIPT_STOPPED)

    def _stop_on_error(self) -> bool:
        """A script stops at an error now: ``ON_ERROR_STOP`` as it was when this line began
        (psql's die_on_error: a \\set ON_ERROR_STOP counts from the next line on)."""
        lines = self._line_stop
        return not self._at_prompt() and (lines[self._depth][1] if self._depth < len(lines) else self.settings.on_error_stop)

    def _at_prompt(self) -> bool:
        """The line being run was typed (psql's cur_cmd_interactive): not one of a file that
        \\i or a startup file reads, where ON_ERROR_STOP stops and errors name their place."""
        return self.interactive and self._depth == 0 and not self._startup

    # -- the loop ---------------------------------------------------------------
    def run_inputs(self, inputs: Iterable[Iterable[Entry | InputError]], startup: int = 0) -> ExitStatus:
        """Each input after the other, as psql runs its startup files and its -c/-f actions:
        ``\\q`` ends the input it is in (the next one runs); ``ON_ERROR_STOP`` ends them all,
        but not in the first ``startup`` ones (psql ignores how a startup file ends); Ctrl-C
        or a lost connection ends them all. The exit status is psql's: the last action's, where
        a ``-c`` that failed is 1 and a script (a file, stdin, the prompt) that ran to its end
        or to ``\\q`` is 0 whatever failed in it (ON_ERROR_STOP makes a failure end it: 3),
        a ``-f`` file that cannot be read 1; the startup files' own do not count."""
        result = ExitStatus.OK
        for k, entries in enumerate(inputs):
            self.status, self._unreadable = ExitStatus.OK, False
            self._startup = k < startup
            self._input = ""  # each its own previous query (psql's MainLoop per -c, -f, file): two -c's too
            try:
                self.feed(entries)
            except _Quit:
                pass
            except _ErrorStop:  # psql: a -c that ON_ERROR_STOP ended is a failed command (1), a script 3
                if k < startup:
                    continue
                return ExitStatus.ERROR if self._input == "-c" else ExitStatus.SCRIPT_STOPPED
            except _Stop as stop:
                return stop.status
            if k >= startup:
                result = self.status if self._input == "-c" else \
                    ExitStatus.ERROR if self._unreadable else ExitStatus.OK
        return result

    def feed(self, entries: Iterable[Entry | InputError]) -> None:
        it = iter(entries)
        while True:
            try:
                entry = next(it)
            except StopIteration:
                return
            except KeyboardInterrupt:  # from the reader: a script interrupted
                raise _Stop(ExitStatus.SCRIPT_STOPPED) from None
            self.handle(entry)

    def complain(self, message: str) -> None:
        """An error line that is no failure of the command (psql's "unterminated quoted
        string" in an argument, a \\if value that is not a boolean): as psql, neither
        ``ON_ERROR_STOP`` stops there nor does it count for a ``-c``'s exit status."""
        self._where_notice(message)

    def handle(self, entry: Entry | InputError) -> None:
        self._where = (entry.source, entry.line)
        if not self._depth and entry.source != self._input:  # a new input (-f, -c, stdin): as psql's
            self._input, self.last_query, self._last_refused = entry.source, "", ""  # MainLoop of each, no previous query
        lines, at = self._line_stop, (entry.source, entry.line)
        del lines[self._depth + 1:]  # (what an \\i that ended read)
        if len(lines) <= self._depth:
            lines.extend([(("", -1), False)] * (self._depth + 1 - len(lines)))
        if lines[self._depth][0] != at:  # the first entry of its line: ON_ERROR_STOP as the line begins
            lines[self._depth] = (at, self.settings.on_error_stop)
        if isinstance(entry, InputError):
            self._unreadable = self._unreadable or entry.unreadable
            if entry.statement:  # psql sent it (the server refused it): \g's previous query now
                self.last_query, self._last_refused = "", entry.message
            if entry.warning:
                self._where_notice(entry.message)
            else:
                (self.fail if entry.failed else self.complain)(entry.message)
            return
        self._reset_told = False
        self.entry = entry
        self._sent = False
        failed = True  # (psql's PSQL_CMD_ERROR: the reader drops the rest of the line)
        outer_extra, self._extra = self._extra, []  # (an \\i's lines have their own)
        try:
            cmd = commands.parse(self._interpolated(entry.text))
            if cmd.problem and not cmd.problem_after:
                self.complain(cmd.problem)
            self.handler(cmd.name)(cmd)
            failed = False
            # as psql's HandleSlashCmds: the arguments a command did not take are read after
            # it ran, each a warning; after a failed command, dropped without a word
            self._extra[:0] = cmd.extra
            self._warn_extra(entry)
            if cmd.problem and cmd.problem_after:
                self.complain(cmd.problem)
        except _Stop:
            raise
        except _Abandon:
            if self._depth:  # in an included file: its includer ends too
                raise
        except ConnectionFailed as exc:
            self.fail(str(exc), ExitStatus.CONNECTION)
        except QshellError as exc:
            failed = not self._sent  # (\\g: its query failed, not the command)
            self.fail(str(exc))
        except _Failed:
            if self._stop_on_error():
                raise _ErrorStop(ExitStatus.SCRIPT_STOPPED) from None
        except KeyboardInterrupt:
            if not self.interactive:
                raise _Stop(ExitStatus.SCRIPT_STOPPED) from None
            self.notice("cancelled")
        except BrokenPipeError:  # the reader of our output went away (qshell ... | head)
            raise OutputClosed from None
        except Exception as exc:  # noqa: BLE001 - a bug of ours: one line, the shell goes on
            if os.environ.get("QSHELL_DEBUG"):
                import traceback

                traceback.print_exc(file=self.err)
            self.fail(f"internal error: {type(exc).__name__}: {exc} (set QSHELL_DEBUG=1 for details)")
        finally:
            self._extra = outer_extra
            if self._page:
                self._flush_page()
            self.context.command_failed = failed
        self._told_unwritten()

    def _warn_extra(self, entry: Entry | None = None) -> None:
        """psql's warning for each argument the command being run did not take (``entry``:
        the command's own line, when an \\i has read others since)."""
        if not self._extra:
            return
        entry = entry or self.entry
        typed = commands.meta_name(entry.text) if entry is not None else ""
        for word in self._extra:
            self._where_notice(f'\\{typed}: extra argument "{visible(word)}" ignored')
        self._extra = []

    def _interpolated(self, text: str) -> str:
        """A qshell meta-command with psql's variables in its arguments (``\\go :n``); SQL
        was interpolated as it was read, and psql's own commands lex their arguments."""
        if not text.startswith("\\") or ":" not in text:
            return text
        spec = commands.BY_NAME.get(commands.meta_name(text).rstrip("+S")) or commands.BY_NAME.get(commands.meta_name(text))
        if spec is None or spec.takes_sql or spec.psql_args:
            return text
        return interpolate(text, self.variables)

    # -- staging ------------------------------------------------------------------
    def _stage(self, sql: str) -> None:
        reason = stage_refusal(sql, self.settings.tx == "rollback")
        if reason:
            raise UsageError(reason)
        staged = self.staged
        if staged and staged[-1] == sql:  # the same text again (a script staging one query many times): held once
            sql = staged[-1]
        staged.append(sql)

    def do_add(self, cmd: Command) -> None:
        self.last_sql = cmd.arg
        self._stage(cmd.arg)
        if self.interactive:
            self.notice(f"staged #{len(self.staged)}")

    def _read_file(self, name: str) -> tuple[Path, str]:
        path = Path(name).expanduser()
        try:
            if path.is_dir():
                raise UsageError(f"{name}: is a directory")
            data = path.read_bytes().removeprefix(b"\xef\xbb\xbf")  # a byte-order mark, as psql's \\i skips it
        except UsageError:
            raise
        except OSError as exc:
            raise UsageError(f"{name}: {exc.strerror or exc}") from None
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise UsageError(f"{name}: not UTF-8 (byte {exc.start})") from None
        nul = data.find(b"\x00")
        if nul != -1:  # a NUL cannot reach the server: the file is refused whole, as bad UTF-8
            line = data.count(b"\n", 0, nul) + 1
            at = nul - (data.rfind(b"\n", 0, nul) + 1) + 1
            raise UsageError(f"{name}: NUL byte at byte {at} of line {line}; nothing staged")
        return path, text

    def stage_file(self, path: Path | str, label: str) -> int:
        """Stage every statement of an SQL file; all or nothing. Returns how many."""
        _, text = self._read_file(str(path))
        parts = split(text, std_strings=self.context.std_strings)
        statements = list(parts.statements)
        if parts.open_construct:
            raise UsageError(f"{label}: unterminated {parts.open_construct} at end of file; nothing staged")
        if strip_comments_head(parts.rest):
            statements.append(parts.rest.strip())
        # leading comments (a file's header, a note above a statement) are not staged
        statements = [strip_comments_head(s) for s in statements if strip_comments_head(s)]
        meta = _first_meta(text, self.context.std_strings)
        if meta is not None:  # (it would be staged as part of a statement's text, and sent so)
            raise UsageError(f"{label}: line {meta[0]} is a meta-command ({meta[1]}); a staged set holds SQL "
                             "statements only; nothing staged")
        for sql in statements:
            reason = stage_refusal(sql, self.settings.tx == "rollback")
            if reason:
                raise UsageError(f"{label}: {reason}; nothing staged")
        self.staged.extend(statements)
        return len(statements)

    def do_addfile(self, cmd: Command) -> None:
        count = self.stage_file(cmd.arg, cmd.arg)
        self.notice(f"staged {count} statement{'s' if count != 1 else ''} from {cmd.arg} ({len(self.staged)} staged)")

    @property
    def json(self) -> bool:
        """JSON-lines output: every command prints objects, never loose text."""
        return self.settings.format == "json"

    def do_list(self, cmd: Command) -> None:
        if self.json:
            for i, sql in enumerate(self.staged, start=1):
                self.write(json_lines.json_line({"type": "staged", "index": i, "sql": sql}))
            return
        if not self.staged:
            self.write("(nothing staged)")
            return
        width = len(str(len(self.staged)))
        for i, sql in enumerate(self.staged, start=1):
            lines = sql.split("\n")
            self.write(f"{str(i).rjust(width)}  {visible(lines[0])}")
            for more in lines[1:]:
                self.write(f"{' ' * width}  {visible(more)}")

    def do_drop(self, cmd: Command) -> None:
        k = cmd.n or 0
        if k > len(self.staged):
            raise UsageError(f"\\drop: there is no staged query {k} ({len(self.staged)} staged)")
        del self.staged[k - 1]
        self.notice(f"dropped #{k} ({len(self.staged)} staged)")

    def do_clear(self, cmd: Command) -> None:
        count = len(self.staged)
        self.staged.clear()
        self.notice(f"cleared {count} staged quer{'y' if count == 1 else 'ies'}")

    # -- running --------------------------------------------------------------------
    def default_workers(self) -> int:
        n = len(self.staged)
        return min(n, self.settings.workers) if self.settings.workers else n

    def do_sql(self, cmd: Command) -> None:
        """A plain statement: at once, on the user's own session, as psql runs it."""
        self._run_sql(cmd.arg)

    def _run_sql(self, sql: str, *, show: bool = True, maxrows: int | None = None,
                 remember: bool = True) -> QueryResult | None:
        """Send ``sql`` exactly as given on the user's own session; print its result
        (``show``) as psql does; set psql's ERROR, SQLSTATE, ROW_COUNT... Returns the
        result (None when nothing was sent). A failure is reported here (``fail``)."""
        self._sent = True
        if remember:  # (not what \\gexec runs: \\g then sends the \\gexec query again, as psql)
            self.last_query, self._last_refused = sql, ""  # (a lone ";" too: psql's previous buffer, \\g sends nothing then)
        if self.made("extended") and self.extended.takes(sql):  # \\bind, \\parse ... or a pipeline: libpq's calls
            return self._run_extended(sql, show=show, maxrows=maxrows, remember=remember)
        if self._empty(sql):
            problem = self.session.user.send_empty(sql)  # a lone ";", only comments: sent, as psql
            if problem:
                self.fail(problem)
            return None
        if remember:
            self.last_sql = sql
        # through libpq's own calls, every result read as psql reads them: a COPY (its data moved as
        # psql moves it) and a group of several statements (psql 18 prints each of its results,
        # SHOW_ALL_RESULTS; psycopg2 keeps only the last)
        copying = has_copy(sql) or (";" in sql.rstrip().rstrip(";") and self.variables.get("SHOW_ALL_RESULTS") != "off"
                                    and len(statements(sql)) > 1)  # (no ";" inside: one statement, not lexed again)
        user = self.session.user
        if self._found_lost(sql):
            return None
        if self.variables.is_on("SINGLESTEP"):  # psql -s: asked first (then no ECHO queries, as psql)
            if not psqlopts.single_step(self, sql, self.step_input):
                return None
        elif self.variables.get("ECHO") == "queries":
            self.write(sql)  # psql -e: the statement as sent, before its result
        sync_verbosity(self)  # psql's VERBOSITY, SHOW_CONTEXT: libpq lays out what the server says
        go, self._savepoint = begin_for(self, sql, self.interactive and not self._depth)  # psql's BEGIN, SAVEPOINT
        if not go:
            self.status = max(self.status, ExitStatus.ERROR)
            return None
        printer = self._row_printer() if show and not copying else None
        if self.log is not None:  # psql -L: the statement, then its result as psql logs it
            psqlopts.log_query(self.log, sql)
            if printer is not None:
                printer = psqlopts.LogTee(printer)  # type: ignore[assignment]
        before = user.transaction_state  # what a lost connection during the statement takes with it
        with sigint_calls(user.cancel):
            if copying:
                q = self.copyio.run(sql)
            else:
                q = user.execute(sql, maxrows=self.settings.maxrows if maxrows is None else maxrows, sink=printer,
                                 batch=printer.batch if printer is not None else BATCH,
                                 chunk=printer.chunk if printer is not None else 0)
        return self.show_result(q, sql, printer, show=show, before=before, copying=copying)

    def show_result(self, q: QueryResult, sql: str, printer: "_RowPrinter | None", *, show: bool = True,
                    before: str = "", statement: bool = True, copying: bool = False) -> QueryResult:
        """What psql prints after a statement's result (its rows already given to ``printer``
        when there is one): notices, the table or tag, timing, notifications, the error; and
        psql's result variables. ``before``: the transaction state before it was sent;
        ``statement``: psql's ``STATEMENT:`` line under an error (ECHO errors) said here;
        ``copying``: a COPY's (its rows went to a file or the output: no tag then, as psql)."""
        user = self.session.user
        if user.cancelled:
            self.notice("Cancel request sent")
        self.context.std_strings = user.std_strings()
        sync_encoding(self)  # psql: a SET client_encoding changes :ENCODING
        self.show_notices(q)
        self._result_variables(q)
        if copying and self.copyio.tag_hidden:
            self.variables.set("ROW_COUNT", "0")  # psql: rows it wrote to the query output are no count
        if not show:
            pass
        elif self.settings.format == "json":
            self.write(json_lines.json_line(json_lines.query_record(q, None)))
        elif q.status is Status.OK and printer is not None and (q.returns_rows or printer.started):
            printer.end(q)
        elif q.status is Status.OK and (q.returns_rows or not self.variables.is_on("QUIET")):
            if q.returns_rows and copying:  # (a group's last result: read whole, printed as one statement's)
                self._show_rows(q)
            elif copying and self._outer_out is not None and q.command.split(" ", 1)[0] == "COPY":
                # \\g FILE: a COPY's rows went there, its tag does not (psql's other tags go there too)
                self._outer_out.write(result_tables.statement(q, self.style()) + "\n")
                self._outer_out.flush()
            elif not (copying and self.copyio.tag_hidden):  # (rows COPY wrote to the output: no tag, as psql)
                self.write(result_tables.statement(q, self.style()))
        if self.settings.timing and self.settings.format != "json":
            if self.out is not self.stdout:  # psql's stdout, not \\o's file
                self.to_stdout(f"Time: {q.total_s * 1000:.3f} ms\n")
            else:
                self.write(f"Time: {q.total_s * 1000:.3f} ms")
        for note in user.notifications():
            self.write(json_lines.json_line({"type": "notification", "channel": note.channel, "payload": note.payload,
                                         "pid": note.pid}) if self.json else visible(note.text()))
        if q.changed_catalog:
            self.catalog_changed()
        if q.status is not Status.OK and not user.alive:
            text = q.diag.text if q.diag is not None else (q.error or "connection to server was lost")
            # libpq adds its own line after the server's goodbye (FATAL: …), as psql prints it
            closed = "server closed the connection unexpectedly"
            self._lost_session(text, *([closed] if text.startswith(("FATAL:", "PANIC:")) else []), sql=sql, tx=before)
            return q
        if self._savepoint:  # psql's ROLLBACK TO / RELEASE of its savepoint, before the error is reported
            self._savepoint = False
            problem = end_savepoint(self, q.command)
            if problem:
                self._where_notice(problem)
        self._tx = user.transaction_state
        if self.log is not None and show:
            psqlopts.log_result(self, self.log, q, printer.rows if isinstance(printer, psqlopts.LogTee) else None)
        try:
            if q.status is not Status.OK:
                if q.diag is not None:
                    self.last_error = q.diag
                self.fail(q.diag.text if q.diag is not None else result_tables.error_line(q),
                          then=f"STATEMENT:  {sql}" if statement and self.variables.get("ECHO") == "errors" else None)
        finally:
            if user.cancelled and not self.interactive:  # Ctrl-C stops a script, as psql's (exit 3)
                raise _Stop(ExitStatus.SCRIPT_STOPPED)
        return q

    def _run_extended(self, sql: str, *, show: bool, maxrows: int | None, remember: bool) -> QueryResult | None:
        """``sql`` sent as psql's SendQuery sends it after ``\\bind``, ``\\parse``... or in a
        pipeline (``shell/extended.py``): psql's VERBOSITY, its BEGIN and savepoint
        (AUTOCOMMIT off, ON_ERROR_ROLLBACK; not in a pipeline, where libpq refuses a
        synchronous BEGIN), the -L log of the statement; its results shown by ``show_result``."""
        if remember:
            self.last_sql = sql
        if self._found_lost(sql):
            return None
        sync_verbosity(self)
        savepoint = False
        if not self.extended.in_pipeline():
            go, savepoint = begin_for(self, sql, self.interactive and not self._depth)
            if not go:
                self.status = max(self.status, ExitStatus.ERROR)
                return None
        if self.log is not None:
            psqlopts.log_query(self.log, sql)
        q: QueryResult | None = None
        try:
            q = self.extended.send(sql, show=show, maxrows=maxrows)
        finally:
            # psql's ROLLBACK TO / RELEASE once every result is read (libpq's session is busy
            # until then), as its SendQuery after ExecQueryAndProcessResults
            if savepoint and (problem := end_savepoint(self, q.command if q is not None else "")):
                self._where_notice(problem)
        return q

    def _found_lost(self, sql: str) -> bool:
        """The session was lost while idle: said as psql says it when it finds its session
        gone (the server's goodbye; the statement not run: it belonged to the lost session,
        its transaction, its temp tables), and True."""
        user = self.session.user
        if user.conn is None or not user.lost_while_idle():
            return False
        goodbye, user.goodbye = user.goodbye, ()
        self._lost_session(*goodbye, "server closed the connection unexpectedly"
                           + ("; statement not run" if self.interactive else ""), sql=sql, tx=self._tx)
        return True

    def _empty(self, sql: str) -> bool:
        """``sql`` has nothing to run: only ";" (``\\; \\;`` too), whitespace, complete comments."""
        head = strip_comments_head(sql.rstrip().rstrip(";"))
        if head and not head.startswith(";"):
            return False
        parts = split(sql, std_strings=self.context.std_strings)
        return parts.open_construct != "comment" and not strip_comments_head(parts.rest) \
            and not any(strip_comments_head(s) for s in parts.statements)

    def _result_variables(self, q: QueryResult) -> None:
        """psql's ERROR, SQLSTATE, ROW_COUNT, LAST_ERROR_MESSAGE, LAST_ERROR_SQLSTATE."""
        v = self.variables
        ok = q.status is Status.OK
        v.set("ERROR", "false" if ok else "true")
        v.set("SQLSTATE", "00000" if ok else (q.sqlstate or "XX000"))
        tag = q.command.rsplit(" ", 1)[-1] if q.command else ""
        v.set("ROW_COUNT", str(q.rowcount) if q.returns_rows else (tag if ok and tag.isdigit() else "0"))
        if not ok:
            message = q.diag.primary if q.diag is not None else (q.error or "")
            v.set("LAST_ERROR_MESSAGE", message)
            v.set("LAST_ERROR_SQLSTATE", q.sqlstate or "XX000")

    def print_table(self, names: list[str], rows: list[list[str]], title: str) -> None:
        """A table of qshell's own as psql prints its own (\\conninfo's printTable): as a
        query's result in every \\pset option, ``title`` over it whatever \\pset title says."""
        style = self.style()
        style = replace(style, opts=replace(style.opts, title=title))
        printer = _RowPrinter(self, style, whole=True)
        columns = tuple(Column(name, TEXT_OID) for name in names)
        batch = [tuple(r) for r in rows]
        if printer.surveys:  # the widths first, as for a query's result
            printer.survey(columns, batch)
        printer(columns, batch, ())
        printer.end(QueryResult(index=0, sql="", status=Status.OK, columns=columns, rowcount=len(rows),
                                command=f"SELECT {len(rows)}"))

    def _failed_variables(self) -> None:
        """psql's SetResultVariables for a result that failed with no error of the server's
        (\\gset without one row, a \\gexec whose statements failed): every field empty."""
        for name, value in (("ERROR", "true"), ("SQLSTATE", ""), ("ROW_COUNT", "0"), ("LAST_ERROR_SQLSTATE", ""),
                            ("LAST_ERROR_MESSAGE", "")):
            self.variables.set(name, value)

    def _where_notice(self, text: str) -> None:
        """An error line as psql logs it: ``qshell:FILE:LINE: `` first in a script (psql
        names no place at its prompt nor for a ``-c`` command, only itself for a file it
        could not read)."""
        if self._at_prompt() or self._where[0] == "-c":
            self.notice(text)
        elif not self._where[1]:  # no line read (a -f file that cannot be opened): psql's "psql: error: FILE: …"
            self.notice("qshell: " + text)
        else:
            self.notice("qshell:{}:{}: ".format(*self._where) + text)

    # -- psql's query buffer: \g, \gx, \gset, \gexec, \p, \r ------------------------------------
    def _buffer(self) -> str:
        """What \\g sends: the statement being typed, else the last one sent ('' if none)."""
        pending = self.entry.pending if self.entry is not None else ""
        if not pending.strip() and self._last_refused:
            raise UsageError(self._last_refused)
        return pending if pending.strip() else self.last_query

    def _words(self, cmd: Command) -> list[str]:
        """Every argument of ``cmd`` (psql's commands that read all of theirs: \\set, \\echo)."""
        return self._args(cmd)

    def _args(self, cmd: Command, take: int | None = None, semicolon: bool = False) -> list[str]:
        """The first ``take`` arguments of a psql command (all when None), as psql reads
        them (``variables.meta_args``; ``semicolon``: a trailing ``;`` dropped, as psql
        drops it from most commands' arguments). As psql: each further one is a warning
        (``\\x: extra argument "y" ignored``); a quote left open is an error line, the
        command runs with the arguments before it."""
        try:
            got = meta_args(cmd.arg, self.variables, take, semicolon)
        except MetaArgError as exc:  # a backquoted command that failed
            raise UsageError(f"\\{cmd.name}: {exc}") from None
        self._extra.extend(got.extra)  # warned of once the command has run (handle), as psql
        spec = commands.BY_NAME.get(cmd.name)
        if spec is not None and spec.ends_query:  # psql sends \\g's query after its warnings
            self._warn_extra()
        if got.problem:  # (after the words before it, as psql reads them one by one)
            self.complain(got.problem)  # (psql's lexer names no command)
        return got.words

    def do_g(self, cmd: Command, expanded: str | None = None) -> None:
        """psql's \\g [(OPTIONS)] [FILE|'|'COMMAND]: its arguments are read (their errors
        said) even with nothing to send, as psql reads them."""
        arg = cmd.arg.strip()
        settings, opts = self.settings, self.pset.options
        if arg.startswith("("):  # psql 18's \g (format=csv expanded) options: any of \pset's
            end = arg.find(")")
            if end == -1:
                raise UsageError(f"\\{cmd.name}: unterminated option list")
            settings, opts = self._g_options(cmd.name, arg[1:end], settings, opts)
            arg = arg[end + 1:].strip()
        if expanded:
            settings = replace(settings, expanded=expanded)
        if arg.startswith("|"):
            target = "|" + interpolate(arg[1:], self.variables)
        else:  # psql: the first word is the file, any other a warning
            words = self._args(replace(cmd, arg=arg), take=1)
            target = words[0] if words else ""
        if self.made("extended"):
            self.extended.refuse_in_pipeline(cmd.name)
        sql = self._buffer()
        if not sql and not (self.made("extended") and self.extended.pending()):
            return  # psql: nothing to send, nothing said (after \\bind: an empty statement, as psql sends it)
        saved, self.settings = self.settings, settings
        saved_opts, self.pset.options = self.pset.options, opts
        try:
            with self._output_to(target, cmd.name):
                self._run_sql(sql)
        except _Unopened as exc:  # as psql: the query is not sent, and that is its failure, not \g's
            self.fail(str(exc))  # (the rest of the line goes on; ON_ERROR_STOP stops)
        finally:
            self.settings, self.pset.options = saved, saved_opts

    def _g_options(self, name: str, text: str, settings: Settings, opts: PrintOptions) -> tuple[Settings, PrintOptions]:
        """``\\g (NAME=VALUE ...)``: psql's print options for this query only, each as
        ``\\pset NAME VALUE`` (a NAME alone as ``\\pset NAME``), said by psql's messages."""
        try:
            words = meta_words(text, self.variables)
        except MetaArgError as exc:
            raise UsageError(f"\\{name}: {exc}") from None
        for word in words:
            key, sep, value = word.partition("=")
            opts, settings, _ = pset_apply(opts, settings, key, value if sep else None)
        return settings, opts

    @contextmanager
    def _output_to(self, target: str, name: str) -> Iterator[None]:
        """Output to ``target`` while the block runs: a file, ``|command``'s stdin, or
        (``''``) where it goes now."""
        if not target:
            yield
            return
        import subprocess

        proc = None
        try:
            if target.startswith("|"):
                proc = subprocess.Popen(target[1:], shell=True, stdin=subprocess.PIPE, encoding="utf-8", errors="replace")
                stream: TextIO = proc.stdin  # type: ignore[assignment]
            else:
                stream = open(Path(target).expanduser(), "w", encoding="utf-8")  # noqa: SIM115 - closed below
        except OSError as exc:
            raise _Unopened(f"\\{name}: {target}: {exc.strerror or exc}") from None
        if self._page:
            self._flush_page()
        saved = self.out, self._page
        self.out, self._page = stream, None
        self._outer_out = saved[0]  # (where a COPY's tag goes: psql's query output, not \\g's file)
        try:
            yield
        except BrokenPipeError:  # the command stopped reading (| head): the script goes on, as psql's
            self.out, self._page = saved
            self.fail("could not print result table: Broken pipe")
        finally:
            self.out, self._page = saved
            self._outer_out = None
            try:
                stream.close()
            except BrokenPipeError:
                pass  # the command stopped reading: what it did not take is lost, as in psql
            except OSError as exc:  # what was still buffered could not be written (a full disk)
                if self._unwritten is None:
                    self._unwritten = (stream, exc)
            if proc is not None:
                proc.wait()
            lost = None
            if self._unwritten is not None and self._unwritten[0] is stream:
                lost, self._unwritten = self._unwritten[1], None
        if lost is not None:  # psql: "could not print result table: …"; here the file is named
            where = target if proc is None else f"the pipe to {target[1:].strip()!r}"
            self.fail(f"\\{name}: could not write to {where}: {lost.strerror or lost}")

    def do_gx(self, cmd: Command) -> None:
        self.do_g(cmd, expanded="on")

    def do_gset(self, cmd: Command) -> None:
        """psql's \\gset [PREFIX]: the query's one row becomes variables (a NULL unsets)."""
        words = self._args(cmd, take=1)
        prefix = words[0] if words else ""
        if self.made("extended"):
            self.extended.refuse_in_pipeline("gset")
        sql = self._buffer()
        if not sql:
            return
        q = self._run_sql(sql, show=False, maxrows=2)
        if q is None or q.status is not Status.OK:
            return
        if not q.returns_rows:  # nothing to set: its tag, as psql prints it
            if not self.variables.is_on("QUIET"):
                self.write(result_tables.statement(q, self.style()))
            return
        problem = ("no rows returned for \\gset" if q.rowcount == 0 else
                   "more than one row returned for \\gset" if q.rowcount > 1 else "")
        if problem:
            self._failed_variables()  # as psql: \\if :ERROR sees it
            raise UsageError(problem)
        for column, value in zip(q.columns, q.rows[0], strict=True):
            name = prefix + column.name
            if not valid_name(name):
                raise UsageError(f'invalid variable name: "{name}"')
            if name in PSQL_DEFAULTS and not name.startswith("LAST_ERROR"):
                self._where_notice(f'attempt to \\gset into specially treated variable "{name}" ignored')
            elif value is None:
                self.variables.unset(name)
            else:
                self.variables.set(name, value)
        if q.command.split(" ", 1)[0] in ("INSERT", "UPDATE", "DELETE", "MERGE") and not self.variables.is_on("QUIET"):
            self.write(q.command)  # … RETURNING: psql prints the tag after setting the variables

    def do_gexec(self, cmd: Command) -> None:
        """psql's \\gexec: run the query, then each non-NULL value of its result, row by
        row, column by column, as a statement of its own."""
        self._args(cmd, take=0)
        if self.made("extended"):
            self.extended.refuse_in_pipeline("gexec")
        sql = self._buffer()
        if not sql and not (self.made("extended") and self.extended.pending()):
            return
        # as psql: \\bind's parameters go with the query and with the first statement it makes
        ext = self.extended if self.made("extended") else None
        if ext is not None:
            ext.keep_mode = True
        try:
            q = self._run_sql(sql, show=False, maxrows=INT_MAX)
            if q is None or q.status is not Status.OK:
                return
            ok = True
            for row in q.rows:
                for value in row:
                    if value is not None:
                        if self.variables.get("ECHO") == "all":
                            self.write(value)
                        done = self._run_sql(value, remember=False)
                        ok = ok and (done is None or done.status is Status.OK)
        finally:
            if ext is not None:
                ext.keep_mode = False
                ext.clean()
        # psql sets the variables from the \\gexec query's own result last: a failure among
        # the statements it ran makes that result a failure without an SQLSTATE
        if ok:
            self._result_variables(q)
        else:
            self._failed_variables()

    def do_p(self, cmd: Command) -> None:
        self._args(cmd, take=0)
        text = self._buffer()
        self.write(text if text else "Query buffer is empty.")

    def do_r(self, cmd: Command) -> None:
        self.say("Query buffer reset (cleared).")
        self._args(cmd, take=0)

    def _show_rows(self, q: QueryResult) -> None:
        """A result read whole (one of a ``\\;`` group's) printed as a single statement's
        rows are: through the row printer where a statement's go through one."""
        printer = self._row_printer()
        if printer is None:
            self.write(result_tables.statement(q, self.style()))
            return
        rows = list(q.rows)
        if printer.surveys and rows:
            printer.survey(q.columns, rows)
        printer(q.columns, rows, ())
        printer.end(q)

    def _row_printer(self) -> "_RowPrinter | None":
        """How a plain statement's rows are printed: every row, batch by batch as they
        arrive, in CSV (always, as psql --csv) and in scripts (every format but JSON); None:
        interactive tables and JSON keep ``maxrows`` rows and give the true count."""
        fmt = self.settings.format
        if fmt in ("csv", "unaligned") or (not self.interactive and fmt != "json"):
            return _RowPrinter(self)
        return None

    def show_notices(self, q: QueryResult) -> None:
        """The server's notices of a statement, on stderr, as psql prints them (in a script
        with ``qshell:<source>:<line>:`` in front, as psql's ``psql:<file>:<line>:``)."""
        where = "" if self.interactive or self._where[0] == "-c" else "qshell:{}:{}: ".format(*self._where)
        for text in q.notices:
            self.notice(where + text)

    def _lost_session(self, *messages: str, sql: str = "", tx: str = "") -> None:
        """The server closed the session (``messages``: what it and libpq said). As psql's
        CheckConnection: in a script, ``connection to server was lost`` and the end (exit
        2) — nothing after it runs, on a new session in autocommit least of all. At the
        prompt, a new session at once, saying so, and that an open transaction went with
        the old one (with its temp tables); nothing is re-run. A file read by \\i at the
        prompt ends there too (psql, for which such a file is not interactive, exits)."""
        for text in messages:
            self._where_notice(text)
        self.status = max(self.status, ExitStatus.CONNECTION)
        if not self.interactive:
            self._where_notice("connection to server was lost")
            raise _Stop(ExitStatus.CONNECTION)
        try:
            self.session.user.reset()
            self.notice("The connection to the server was lost. Attempting reset: Succeeded.")
        except ConnectionFailed:
            self.notice("The connection to the server was lost. Attempting reset: Failed.")
        self._tx = ""
        if tx:  # the state before ``sql``: a transaction was open
            parts = split(sql, std_strings=self.context.std_strings)
            ending = {"COMMIT", "END", "PREPARE"} & {first_keyword(s) for s in (*parts.statements, parts.rest)}
            self.notice("The transaction in progress was lost with the connection: whether it committed is unknown."
                        if ending else "The transaction in progress was lost with the connection: "
                        "none of it was committed.")
        if self._depth:
            raise _Abandon()

    def do_errverbose(self, cmd: Command) -> None:
        """psql's \\errverbose: the last server error, with every field the server sent."""
        self._args(cmd, take=0)
        if self.last_error is None:
            self.write("There is no previous error.")
            return
        if self.json:
            self.write(json_lines.json_line({"type": "error", **result_tables.diag_fields(self.last_error)}))
            return
        self._where_notice(self.last_error.verbose())  # psql's pg_log_error: on stderr, its FILE:LINE: prefix in a script

    # -- files, settings, connection ----------------------------------------------------
    def do_ir(self, cmd: Command) -> None:
        """psql's \\ir: a relative name is read from the directory of the file this
        command is in (at the top level of stdin or the terminal: the current directory)."""
        self._include(cmd, relative=True)

    def do_i(self, cmd: Command) -> None:
        self._include(cmd, relative=False)

    def _include(self, cmd: Command, relative: bool) -> None:
        """psql's \\i FILE: the first word is the file (a trailing ";" dropped), any other
        a warning. The file is read as its own input, with its own previous query (psql
        runs a MainLoop of its own for it): a \\g in it with nothing typed sends nothing
        sent before it, and after it the includer's previous query is as it was."""
        words = self._args(cmd, take=1, semicolon=True)
        if not words:
            raise UsageError(f"\\{commands.meta_name(self.entry.text) if self.entry else cmd.name}: missing required argument")
        name = words[0]
        source = self.entry.source if self.entry is not None else ""
        if relative and not Path(name).expanduser().is_absolute() and source and not source.startswith(("<", "-")):
            name = str(Path(source).parent / name)
        if self._depth >= MAX_INCLUDE_DEPTH:
            raise UsageError(f"\\i: files nested deeper than {MAX_INCLUDE_DEPTH} levels")
        try:
            entries = read_file(name, self.context)
        except OSError as exc:
            raise UsageError(f"{name}: {exc.strerror or exc}") from None
        saved = self._where, self.last_query, self._last_refused
        self._depth += 1
        self.last_query, self._last_refused = "", ""
        try:
            self.feed(entries)
        except _Quit:
            pass  # \\q in an included file ends that file, as psql
        except _ErrorStop:  # ON_ERROR_STOP ended the file: its \\i fails
            raise _Failed() from None
        finally:
            self._depth -= 1
            self._where, self.last_query, self._last_refused = saved

    def width(self) -> int:
        return shutil.get_terminal_size((100, 24)).columns

    def style(self) -> styles.Style:
        tty = isatty(self.out)
        maxwidth = self.settings.maxwidth  # auto (None): shortened at a terminal only; a file or pipe gets psql's bytes
        if maxwidth is None:
            maxwidth = TERMINAL_MAXWIDTH if tty else 0
        return styles.Style(fmt=self.settings.format, null=self.settings.null, maxwidth=maxwidth,
                            expanded=self.settings.expanded, width=max(self.pset.options.columns, 0) or self.width(),
                            opts=self.pset.options, tty=tty)  # (psql's \pset columns, else the terminal's)

    def _toggle(self, name: str, arg: str, on: str, off: str) -> None:
        """Set ``name`` (pager, timing) to ``arg``, or toggle it; say it is so. A value it cannot
        take is an error, and (as psql's \\timing) its state is said."""
        value = arg or (on if show(getattr(self.settings, name), name) == off else off)
        try:
            self.settings = assign(self.settings, name, value, f"\\{name}")
        finally:
            self.say(f"{'Pager' if name == 'pager' else 'Timing'} is {show(getattr(self.settings, name), name)}.")

    def do_x(self, cmd: Command) -> None:
        """psql's \\x [on|off|auto]: its \\pset expanded (the same values, words and toggle)."""
        words = self._args(cmd, take=1, semicolon=True)  # psql: "\x ;" toggles
        self.pset.set("expanded", words[0] if words else None)

    def do_pager(self, cmd: Command) -> None:
        self._toggle("pager", cmd.arg, "on", "off")

    def do_timing(self, cmd: Command) -> None:
        """psql's \\timing [on|off]: a boolean as psql reads one (``t``, ``yes``, ``1``…); a
        value it cannot read is said, then the state unchanged, as psql does."""
        words = self._args(cmd, take=1)
        if not words:
            self._toggle("timing", "", "on", "off")
            return
        on = parse_bool(words[0])
        if on is not None:
            self._toggle("timing", "on" if on else "off", "on", "off")
            return
        self._where_notice(f'unrecognized value "{visible(words[0])}" for "\\timing": Boolean expected')
        self.status = max(self.status, ExitStatus.ERROR)
        self.say(f"Timing is {show(self.settings.timing, 'timing')}.")
        raise _Failed()

    def do_e(self, cmd: Command) -> None:
        from qshell.shell.editor import edit

        if cmd.n is not None:
            k = cmd.n
            if k > len(self.staged):
                raise UsageError(f"\\e: there is no staged query {k} ({len(self.staged)} staged)")
            parts = split(edit(self.staged[k - 1] + ";"))
            statements = [s for s in parts.statements if strip_comments_head(s)]
            if strip_comments_head(parts.rest) and not parts.open_construct:
                statements.append(parts.rest.strip())
            if parts.open_construct or len(statements) != 1:
                raise UsageError(f"\\e {k}: the file must hold exactly one complete statement; staged query {k} unchanged")
            reason = stage_refusal(statements[0], self.settings.tx == "rollback")
            if reason:
                raise UsageError(reason)
            self.staged[k - 1] = statements[0]
            self.notice(f"staged query {k} updated")
            return
        if not self.interactive:
            raise UsageError("\\e without K needs a terminal (\\e K edits staged query K)")
        pending = self.entry.pending if self.entry is not None else ""
        text = edit(pending or (self.last_sql + ";" if self.last_sql else ""))
        self.prefill = text.rstrip("\n")

    def do_format(self, cmd: Command) -> None:
        self.settings = assign(self.settings, "format", cmd.arg, "\\format")
        self.notice(f"format is {self.settings.format}")

    def do_set(self, cmd: Command) -> None:
        """\\set: a qshell setting when NAME is one (any case: ON_ERROR_STOP is
        on_error_stop), else a psql variable, its values concatenated as psql's (a
        setting's words are joined by spaces: ``\\set isolation repeatable read``)."""
        words = self._words(cmd)
        if not words:
            self._list_settings()
            return
        name, values = words[0], words[1:]
        if name.lower() in HELP:
            if name in PSQL_DEFAULTS:  # ON_ERROR_STOP: psql's variable as well (no value: on)
                value = self._special(name, "".join(values))
                values = [value]
                self.variables.set(name, value)
            if not values:
                key = name.lower()
                self.write(f"{key} = {show(getattr(self.settings, key), key)}")
                return
            new = assign(self.settings, name, " ".join(values))
            try:
                self.session.set_readonly(new.readonly)
            except UsageError as exc:
                if self.interactive or not new.readonly:
                    raise
                # a script asked for read only and cannot have it: what follows was meant to run
                # read only, so it does not run at all (as a failed \\c stops a script)
                self.fail(str(exc))
                raise _Stop(ExitStatus.ERROR) from None
            self.settings = new
            return
        if not valid_name(name):
            raise UsageError(f'invalid variable name: "{name}"')
        self.variables.set(name, self._special(name, "".join(values)))

    def _list_settings(self) -> None:
        variables = dict(sorted(self.variables.values.items()))
        if self.json:
            self.write(json_lines.json_line({"type": "settings", **{k: getattr(self.settings, k) for k in HELP},
                                         "variables": variables}))
            return
        self.write(listing(self.settings))
        if variables:
            self.write("")
            for name, value in variables.items():
                self.write(visible(f"{name} = '{value}'"))

    @staticmethod
    def _special(name: str, value: str) -> str:
        try:
            return special_value(name, value)
        except MetaArgError as exc:
            raise UsageError(str(exc)) from None

    def do_restrict(self, cmd: Command) -> None:
        """psql's \\restrict KEY, which pg_dump puts at the top of a plain dump: no
        meta-command but \\unrestrict KEY runs until then (data cannot inject commands)."""
        words = self._args(cmd, take=1)
        if not words:
            raise UsageError("\\restrict: missing required argument")
        self.context.restricted = words[0]

    def do_unrestrict(self, cmd: Command) -> None:
        words = self._args(cmd, take=1)
        if not words:
            raise UsageError("\\unrestrict: missing required argument")
        if self.context.restricted is None:
            raise UsageError("\\unrestrict: not currently in restricted mode")
        if words[0] != self.context.restricted:
            raise UsageError("\\unrestrict: wrong key")
        self.context.restricted = None

    def do_unset(self, cmd: Command) -> None:
        words = self._args(cmd, take=1)
        if not words:
            raise UsageError("\\unset: missing required argument")
        name = words[0]
        if name.lower() in HELP:  # a setting goes back to its default
            self.settings = assign(self.settings, name, show(getattr(Settings(), name.lower()), name.lower()))
            if name in PSQL_DEFAULTS:
                self.variables.set(name, PSQL_DEFAULTS[name])  # psql: an unset special variable reads as its default
            return
        if not valid_name(name):
            return  # psql: deleting a variable that cannot exist is no error
        if name in PSQL_DEFAULTS:  # psql: an unset special variable reads as its default
            self.variables.set(name, PSQL_DEFAULTS[name])
        else:
            self.variables.unset(name)

    def do_c(self, cmd: Command) -> None:
        self.secrets.update(p for p in (password_in(a) for a in (*cmd.args, " ".join(cmd.args))) if p)
        try:
            try:
                new = self.session.reconnect(cmd.args)
            except ConnectionFailed as exc:  # the server asks for a password: psql's prompt, once
                if not (self.ask_password and needs_password(exc)):
                    raise
                typed = ask_login_password(self.session.reconnect_user(cmd.args))
                if typed is None:
                    raise
                new = self.session.reconnect(cmd.args, password=typed)
        except QshellError as exc:
            if not self.interactive:  # as psql: a script meant for the other database stops here (exit 2)
                self.fail(f"\\connect: {exc}", ExitStatus.CONNECTION)
                raise _Stop(ExitStatus.CONNECTION) from None
            raise type(exc)(f"{exc}; previous connection kept") from None
        if self.made("sessions"):
            self.sessions.close_all("connections to the previous database, with their steps")
        old, self.session = self.session, new
        old.close()
        self._attach(new)
        if self.made("runs"):
            self.runs.forget_times()  # measured times belong to the old target
        self.catalog_changed()
        self.say(f'You are now connected to database "{new.dbname}" as user "{new.params.get("user", "?")}".')

    def do_qecho(self, cmd: Command) -> None:
        self.do_echo(cmd, query_output=True)  # the query output: \\o's target

    def do_echo(self, cmd: Command, stderr: bool = False, query_output: bool = False) -> None:
        """psql's \\echo: the words (quotes, :variables and backquotes done), one space
        apart; ``-n`` first: no newline."""
        words = self._words(cmd)
        newline = cmd.arg.split(None, 1)[:1] != ["-n"]  # an unquoted -n only ('-n' is text, as psql)
        text = " ".join(words if newline else words[1:])
        if stderr:
            self.notice(text) if newline else self.err.write(visible(text))
        elif self.json:
            self.write(json_lines.json_line({"type": "echo", "text": text}))
        elif newline and (query_output or self.out is self.stdout):
            self.write(text)
        elif query_output:
            if self._page:
                self._flush_page()
            self._emit(text)
        else:  # \\echo: stdout, whatever \\o does
            self.to_stdout(text + "\n" if newline else text)

    def do_warn(self, cmd: Command) -> None:
        self.do_echo(cmd, stderr=True)

    def do_if(self, cmd: Command) -> None:
        """\\if and its branches are the reader's (they decide what is read at all); one
        reaching here came from no reader."""
        raise UsageError(f"\\{cmd.name}: only in a script or at the prompt")

    do_elif = do_else = do_endif = do_if

    def do_commands(self, cmd: Command) -> None:
        self._args(cmd, take=1)  # (psql's \? TOPIC: qshell has one help)
        self.write(commands.help_text())

    def do_q(self, cmd: Command) -> None:
        """Quit (in a file read by \\i: that file ends). As psql, each argument is a
        warning (``\\q: extra argument "now" ignored``), and a statement left without its
        ";" is sent first, as at the end of a script (``INSERT … \\q``)."""
        self._args(cmd, take=0)
        self._warn_extra()  # (before it ends the input, as psql)
        pending = self.entry.pending if self.entry is not None else ""
        if pending and not pending.startswith("\\") and (self._depth or not self.interactive):  # (not at a
            try:  # prompt, as psql; not an \add being typed)
                self._run_sql(pending)
            except QshellError as exc:
                self.fail(str(exc))
        raise _Quit(self.status)

    # -- for the prompt -------------------------------------------------------------
    def catalog_changed(self) -> None:
        if self.catalog_loader is not None:
            self.catalog_loader.refresh()

    def toolbar(self) -> str:
        p = self.session.params
        where = f"{p.get('host', '?')}:{p.get('port', '?')}/{p.get('dbname', '?')}"
        kind = "sandbox" if self.session.sandbox is not None else f"as {p.get('user', '?')}"
        last = "no run yet"
        run = self.runs.last_run if self.made("runs") else None
        if run is not None:
            last = f"last run N={run.n}: wall {styles.duration(run.wall_s)}, overlap {run.overlap:.2f}×"
        workers = self.settings.workers or "auto"
        return f" {where} ({kind}) │ staged {len(self.staged)} │ workers {workers} │ {last} "

    def take_prefill(self) -> str | None:
        text, self.prefill = self.prefill, None
        return text

    def prompt(self, continuation: bool | str = False, skipping: bool = False) -> str:
        """psql's prompt: ``=`` or ``-`` (a statement is being typed), ``@`` in a \\if
        branch that does not run; the transaction mark after it. PROMPT1/PROMPT2 set by
        the user win (``continuation``: the statement typed so far)."""
        custom = self.prompter.prompt(2 if continuation else 1, continuation if isinstance(continuation, str) else "",
                                      skipping)
        if custom is not None:
            if not continuation:
                self.prompter.shown(custom)
            return custom
        staged = f"[{len(self.staged)}]" if self.staged else ""
        mark = "@" if skipping else "-" if continuation else "="
        # \\session NAME: [NAME], its transaction state after the mark
        named = self.sessions.prompt_label() if self.made("sessions") else ""
        text = f"{self.session.dbname}{visible(named)}{staged}{mark}{self.session.user.transaction_state}> "
        if not continuation:
            self.prompter.shown(text)
        return text
