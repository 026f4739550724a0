"""psql's ``\\watch [i=SEC] [c=COUNT] [m=MIN_ROWS]``: one statement run again and again.

A command group the ``Shell`` holds (``shell.watch``). What it does is psql 18's
``exec_command_watch`` / ``do_watch`` (src/bin/psql/command.c), reimplemented and checked
against psql itself in tests/test_interact.py:

- the statement is the one being typed, else the last one sent (psql's previous buffer;
  a ``\\watch`` does not become it), sent as written each time on the user's session;
- each result table has psql's header as its title: ``DATE (every Ns)`` (DATE in
  strftime's ``%c`` of the user's LC_TIME), after ``\\pset title``'s text and a tab when one is set; a command's
  status (``INSERT 0 1``) is printed without it, as psql does;
- the interval runs from the start of one execution to the start of the next (psql 18's
  interval timer), the default taken from ``WATCH_INTERVAL``;
- it ends after ``c=COUNT`` executions, when a result has fewer than ``m=MIN_ROWS`` rows
  (that result printed), at an error, or at Ctrl-C; then psql's one empty line;
- the result variables (ERROR, SQLSTATE, ROW_COUNT, LAST_ERROR_*) are left as they were,
  as psql's \\watch leaves them.
"""
from __future__ import annotations

import re
import time
from dataclasses import replace
from typing import TYPE_CHECKING, Protocol

import gevent.event

from qshell.common.errors import UsageError
from qshell.common.numbers import INT_MAX
from qshell.records.results import Status
from qshell.script.commands import Command
from qshell.script.variables import strtod
from qshell.shell.interrupt import sigint_calls

if TYPE_CHECKING:
    from qshell.shell.extended import ExtendedCommands
    from qshell.shell.host import CommandHost
    from qshell.shell.pset import PsetCommands

    class _Host(CommandHost, Protocol):
        pset: PsetCommands

        @property
        def extended(self) -> ExtendedCommands: ...
        def made(self, attr: str) -> bool: ...

DEFAULT_INTERVAL = 2.0
RESULT_VARIABLES = ("ERROR", "SQLSTATE", "ROW_COUNT", "LAST_ERROR_MESSAGE", "LAST_ERROR_SQLSTATE")
_INT = re.compile(r"[ \t\n\r\f\v]*[+-]?\d+")


def interval_value(text: str) -> float | None:
    """``text`` as psql reads an interval (strtod of the whole word, 0 or more), else None.
    (psql takes ``inf`` and ``nan`` too, and then sleeps for ever or not at all: refused.)"""
    value = strtod(text)
    return value if value is not None and 0 <= value < float("inf") else None


def _count(text: str) -> int | None:
    """A count as psql's strtoint reads it (the whole word, 1 to INT_MAX), else None."""
    if not _INT.fullmatch(text):
        return None
    value = int(text)
    return value if 0 < value <= INT_MAX else None


def watch_options(words: list[str], default_interval: float) -> tuple[float, int, int]:
    """(interval seconds, count (0: no end), minimum rows (0: none)) from ``\\watch``'s
    words, with psql's messages for the words it refuses (the first refused ends it)."""
    interval: float | None = None
    count = min_rows = 0
    for word in words:
        key, eq, value = word.partition("=")
        if not eq:
            key, value = "i", word
        if key in ("i", "interval"):
            if interval is not None:
                raise UsageError("\\watch: interval value is specified more than once")
            interval = interval_value(value)
            if interval is None:
                raise UsageError(f'\\watch: incorrect interval value "{value}"')
        elif key in ("c", "count"):
            if count:
                raise UsageError("\\watch: iteration count is specified more than once")
            count = _count(value) or 0
            if not count:
                raise UsageError(f'\\watch: incorrect iteration count "{value}"')
        elif key in ("m", "min_rows"):
            if min_rows:
                raise UsageError("\\watch: minimum row count specified more than once")
            min_rows = _count(value) or 0
            if not min_rows:
                raise UsageError(f'\\watch: incorrect minimum row count "{value}"')
        else:
            raise UsageError(f'\\watch: unrecognized parameter "{word}"')
    return (default_interval if interval is None else interval), count, min_rows


def _local_c_time(when: time.struct_time) -> str:
    """strftime's ``%c`` in the user's LC_TIME, as psql (which calls setlocale at start);
    the process's own locale left as it was."""
    import locale

    saved = locale.setlocale(locale.LC_TIME)
    try:
        locale.setlocale(locale.LC_TIME, "")
        return time.strftime("%c", when)
    except locale.Error:  # (an unusable LC_TIME: psql's C format)
        return time.strftime("%c", when)
    finally:
        locale.setlocale(locale.LC_TIME, saved)


def header(interval: float, title: str | None, now: float | None = None) -> str:
    """psql's title of each result: ``[TITLE\\t]DATE (every Ns)`` and a newline (so an empty
    line follows it); the interval as psql shows it (whole milliseconds, ``%g``)."""
    stamp = _local_c_time(time.localtime(now))
    shown = int(interval * 1000) / 1000.0
    text = f"{stamp} (every {shown:g}s)\n"
    return f"{title}\t{text}" if title is not None else text


class WatchCommands:
    """``\\watch``, held by the shell."""

    def __init__(self, host: "_Host") -> None:
        self.host = host

    def _default_interval(self) -> float:
        value = interval_value(self.host.variables.get("WATCH_INTERVAL") or "")
        return DEFAULT_INTERVAL if value is None else value

    def do_watch(self, cmd: Command) -> None:
        """Run the statement being typed (or the last one sent) every interval, each
        result under psql's header, until a count, a short result, an error or Ctrl-C."""
        host = self.host
        interval, count, min_rows = watch_options(host._args(cmd), self._default_interval())
        if host.made("extended"):
            host.extended.refuse_in_pipeline("watch")  # psql's "\\watch not allowed in pipeline mode"
        pending = host.entry.pending if host.entry is not None else ""
        sql = pending if pending.strip() else host.last_query
        if not sql.strip():
            raise UsageError("\\watch cannot be used with an empty query")
        stop = gevent.event.Event()
        if host._page:
            host._flush_page()
        saved_page, host._page = host._page, None  # each result shown as it comes (never held for a pager)
        done = 0
        try:
            while True:
                started = time.monotonic()
                opts = host.pset.options
                host.pset.options = replace(opts, title=header(interval, opts.title))
                kept = {name: host.variables.get(name) for name in RESULT_VARIABLES}
                try:
                    q = host._run_sql(sql, remember=False)
                finally:
                    host.pset.options = opts
                    for name, value in kept.items():  # psql's \watch sets none of them
                        if value is not None:
                            host.variables.set(name, value)
                done += 1
                user = host.session.user
                if q is None or q.status is not Status.OK or user.cancelled:
                    break
                rows = q.rowcount if q.returns_rows else 0
                if (count and done >= count) or (min_rows and rows < min_rows):
                    break
                wait = started + interval - time.monotonic()
                if wait > 0:
                    with sigint_calls(stop.set):  # Ctrl-C while waiting: the watch ends, back to the prompt
                        stop.wait(wait)
                    if stop.is_set():
                        break
        finally:
            host._page = saved_page
            if not host.json:  # (JSON output stays JSON lines)
                host.write("")  # psql's newline after the last result
