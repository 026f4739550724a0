"""psql's extended-protocol and pipeline commands, \\gdesc, and the large-object commands.

A command group the ``Shell`` holds (``Shell.extended``). ``\\bind``, ``\\bind_named``,
``\\parse``, ``\\close_prepared`` choose how the next statement is sent (psql's send mode);
``\\startpipeline`` ... ``\\endpipeline`` drive libpq's pipeline mode; each is what psql 18
does (``command.c``, ``common.c``: ``ExecQueryAndProcessResults``), with the same libpq calls
on the user's own session connection (``session.wire.Wire``), so that the server receives
(and logs) the same Parse / Bind / Execute / Sync messages. Results print through the
shell's psql printing (``Shell.show_result``), errors and libpq's messages as psql says them.
"""
from __future__ import annotations

import time
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable, Iterator

from qshell.common.errors import ExitStatus, UsageError
from qshell.common.numbers import INT_MAX
from qshell.common.visible import visible
from qshell.engine.execute import refuse_reason
from qshell.engine.libpq import (
    PGRES_COPY_BOTH,
    PGRES_COPY_IN,
    PGRES_COPY_OUT,
    PGRES_EMPTY_QUERY,
    PGRES_FATAL_ERROR,
    PGRES_PIPELINE_ABORTED,
    PGRES_PIPELINE_SYNC,
)
from qshell.output import json_lines, result_tables
from qshell.records.results import Column, QueryResult, Status
from qshell.script import commands
from qshell.script.commands import Command
from qshell.script.variables import MetaArgError, meta_args
from qshell.session.usersession import Notification
from qshell.session.wire import Wire, in_pipeline
from qshell.shell.host import _Stop
from qshell.shell.interrupt import sigint_calls
from qshell.shell.session_commands import sql_identifier


def _take(shell: Any, cmd: Command, take: int | None) -> tuple[list[str], Callable[[], None]]:
    """The first ``take`` arguments of ``cmd`` as psql reads them, and a function saying psql's
    "extra argument ... ignored" warning for each further one: psql says them after a command
    that did not fail (none after an error), where ``Shell._args`` says them at once."""
    try:
        got = meta_args(cmd.arg, shell.variables, take, False)
    except MetaArgError as exc:  # a backquoted command that failed
        raise UsageError(f"\\{cmd.name}: {exc}") from None
    typed = commands.meta_name(shell.entry.text) if shell.entry is not None else cmd.name

    def warn() -> None:
        for word in got.extra:
            shell._where_notice(f'\\{typed}: extra argument "{visible(word)}" ignored')
        if got.problem:
            shell.complain(got.problem)  # (psql's lexer names no command)
    return got.words, warn
_ACCEPTED = frozenset({0, 1, 2, 3, 4, PGRES_PIPELINE_SYNC, 12})  # psql's AcceptResult


class ExtendedCommands:
    """psql's send mode (``\\bind`` ...), its pipeline counters, and the commands using them."""

    def __init__(self, shell: Any) -> None:
        self.shell = shell
        self.mode = "query"  # psql's send_mode: query, params, prepared, parse, close, start, end, sync,
        #                      flush, flushrequest, getresults
        self.name: str | None = None  # the prepared statement's name (\\bind_named, \\parse, \\close_prepared)
        self.params: list[str] = []
        # psql's pipeline counters (pset.piped_syncs ...)
        self.piped_syncs = self.piped_commands = self.available = self.requested = 0
        self._t0 = 0.0  # when the command now running began sending
        self._told = False  # "Cancel request sent" said for the command now running
        self.keep_mode = False  # the mode outlives the next statement (\\gexec's, as psql's SendQuery nests)

    # -- what the shell asks ----------------------------------------------------------------
    def clean(self) -> None:
        """psql's clean_extended_state: back to sending plain queries."""
        self.mode, self.name, self.params = "query", None, []

    def in_pipeline(self) -> bool:
        return in_pipeline(self.shell.session.user)

    def pending(self) -> bool:
        """A send mode is set: the next statement (even an empty buffer) goes out through libpq."""
        return self.mode != "query"

    def takes(self, sql: str) -> bool:
        """Whether ``sql`` is sent here rather than as a simple query (a mode is set, or a
        pipeline is open: psql sends every statement in one with the extended protocol)."""
        return self.mode != "query" or self.in_pipeline()

    def refuse_in_pipeline(self, name: str) -> None:
        """psql's "\\g not allowed in pipeline mode" (\\g, \\gx, \\gset, \\gexec, \\watch)."""
        if self.in_pipeline():
            self.clean()
            raise UsageError(f"\\{name} not allowed in pipeline mode")

    # -- the send mode ----------------------------------------------------------------------
    def do_bind(self, cmd: Command) -> None:
        """\\bind [PARAM ...]: the next statement goes with these parameters, unnamed."""
        self.clean()
        self.params = self.shell._args(cmd)
        self.mode = "params"

    def do_bind_named(self, cmd: Command) -> None:
        """\\bind_named NAME [PARAM ...]: the next statement runs prepared statement NAME."""
        self.clean()
        words = self.shell._args(cmd)
        if not words:
            raise UsageError("\\bind_named: missing required argument")
        self.name, self.params, self.mode = words[0], words[1:], "prepared"

    def do_parse(self, cmd: Command) -> None:
        """\\parse NAME: prepare the statement being typed (or the last one) as NAME."""
        words = self.shell._args(cmd, take=1)
        self.clean()
        if not words:
            raise UsageError("\\parse: missing required argument")
        self.name, self.mode = words[0], "parse"
        self._send_buffer()

    def do_close_prepared(self, cmd: Command) -> None:
        """\\close_prepared NAME: close prepared statement NAME (libpq's Close message)."""
        words = self.shell._args(cmd, take=1)
        self.clean()
        if not words:
            raise UsageError("\\close_prepared: missing required argument")
        self.name, self.mode = words[0], "close"
        self._send_buffer()

    def _send_buffer(self) -> None:
        """psql's PSQL_CMD_SEND: the buffer (or the previous one; even empty) sent now."""
        shell = self.shell
        shell._run_sql(shell._buffer())

    # -- pipelines --------------------------------------------------------------------------
    def do_startpipeline(self, cmd: Command) -> None:
        self.shell._args(cmd, take=0)
        self.mode = "start"
        self._send_buffer()

    def do_endpipeline(self, cmd: Command) -> None:
        self.shell._args(cmd, take=0)
        self.mode = "end"
        self._send_buffer()

    def do_syncpipeline(self, cmd: Command) -> None:
        self.shell._args(cmd, take=0)
        self.mode = "sync"
        self._send_buffer()

    def do_flush(self, cmd: Command) -> None:
        self.shell._args(cmd, take=0)
        self.mode = "flush"
        self._send_buffer()

    def do_flushrequest(self, cmd: Command) -> None:
        self.shell._args(cmd, take=0)
        self.mode = "flushrequest"
        self._send_buffer()

    def do_sendpipeline(self, cmd: Command) -> None:
        """\\sendpipeline: the statement being typed, with \\bind's or \\bind_named's
        parameters, appended to the open pipeline."""
        _words, warn = _take(self.shell, cmd, 0)
        if not self.in_pipeline():
            self.clean()
            raise UsageError("\\sendpipeline not allowed outside of pipeline mode")
        if self.mode not in ("params", "prepared"):
            self.clean()
            raise UsageError("\\sendpipeline must be used after \\bind or \\bind_named")
        warn()
        self._send_buffer()

    def do_getresults(self, cmd: Command) -> None:
        """\\getresults [N]: read N (all: 0 or none) of the results the server has sent."""
        words, warn = _take(self.shell, cmd, 1)
        self.mode = "getresults"
        self.requested = 0
        if words:
            n = _atoi(words[0])
            if n < 0:
                raise UsageError("\\getresults: invalid number of requested results")
            self.requested = n
        warn()
        self._send_buffer()

    # -- \\gdesc -----------------------------------------------------------------------------
    def do_gdesc(self, cmd: Command) -> None:
        """\\gdesc: prepare the statement being typed (unnamed) and describe its result's
        columns, as psql's DescribeQuery: their types by format_type in one query of psql's."""
        shell = self.shell
        shell._args(cmd, take=0)
        sql = shell._buffer()
        shell._sent = True
        shell.last_query, shell._last_refused = sql, ""
        if shell.variables.get("ECHO") == "queries":
            shell.write(sql)
        user = shell.session.user
        if not user.alive:
            user.open()
        self.clean()
        wire = Wire(user)
        with self._timed():
            self._gdesc(wire, sql)
        self._notifications(wire)

    def _gdesc(self, wire: Wire, sql: str) -> None:
        shell = self.shell
        with wire:
            if wire.in_pipeline():
                wire.prepare_in_pipeline()
                self._failed(wire.error_message().removesuffix("\n"))
                return
            if not wire.send_prepare("", sql):
                self._failed(wire.error_message().removesuffix("\n"))
                return
            res = wire.get_result()
            if wire.status(res) != 1:
                q = wire.error_result(res, sql)
                wire.clear(res)
                wire.drain()
                shell.show_result(q, sql, None)
                return
            wire.clear(res)
            wire.drain()
            if not wire.send_describe(""):
                self._failed(wire.error_message().removesuffix("\n"))
                return
            res = wire.get_result()
            if res is None or wire.status(res) != 1:
                q = wire.error_result(res, sql)
                wire.clear(res)
                wire.drain()
                shell.show_result(q, sql, None)
                return
            columns = wire.column_types(res)
            notices = wire.take_notices()
            wire.clear(res)
            wire.drain()
            if not columns:
                shell.show_notices(QueryResult(index=0, sql=sql, status=Status.OK, notices=notices))
                message = "The command has no result, or the result has no columns."
                shell.write(json_lines.json_line({"type": "describe", "columns": [], "message": message})
                            if shell.json else message)
                shell._result_variables(QueryResult(index=0, sql=sql, status=Status.OK))
                return
            values = []
            for name, oid, mod in columns:
                literal = wire.escape_literal(name)
                if literal is None:
                    self._failed(wire.error_message().removesuffix("\n"))
                    return
                values.append(f"({literal}, '{oid}'::pg_catalog.oid, {mod})")
            query = ('SELECT name AS "Column", pg_catalog.format_type(tp, tpm) AS "Type"\n'
                     f"FROM (VALUES {','.join(values)}) s(name, tp, tpm)")
            wire.notices[:0] = notices
            if not wire.send_query(query):
                self._failed(wire.error_message().removesuffix("\n"))
                return
            res = wire.get_result()
            printer = shell._row_printer()
            q = (wire.result(res, query, shell.settings.maxrows, sink=printer,
                             batch=printer.batch if printer is not None else 1000)
                 if res is not None and wire.status(res) in _ACCEPTED else wire.error_result(res, query))
            wire.clear(res)
            wire.drain()
            shell.show_result(q, query, printer if q.status is Status.OK else None)

    # -- \\crosstabview ----------------------------------------------------------------------
    def do_crosstabview(self, cmd: Command) -> None:
        """\\crosstabview [COLV [COLH [COLD [SORTCOLH]]]]: run the statement being typed (or the
        last one) and show its rows pivoted, as psql's crosstabview.c: all on the client."""
        shell = self.shell
        args = shell._args(cmd, take=4)
        sql = shell._buffer()
        if not sql and not self.pending():
            return
        queued = self.in_pipeline()
        with self._timed():  # (its Time: line after the pivoted table, as psql's)
            self._crosstab(sql, args, queued)

    def _crosstab(self, sql: str, args: list[str], queued: bool) -> None:
        shell = self.shell
        q = shell._run_sql(sql, show=False, maxrows=INT_MAX)
        if q is None or q.status is not Status.OK or queued:  # (in a pipeline: queued, as psql's plain statement)
            return
        if not q.returns_rows and not q.command.startswith(("SELECT", "FETCH", "SHOW", "VALUES", "TABLE", "EXPLAIN")):
            if not shell.variables.is_on("QUIET"):  # a command's tag, as psql prints it
                shell.write(result_tables.statement(q, shell.style()))
            return
        try:
            pivoted = crosstab(q, args, shell.style().null)
        except UsageError:
            shell.variables.set("ERROR", "true")
            raise
        if shell.json:
            shell.write(json_lines.json_line(json_lines.query_record(pivoted, None)))
            return
        printer = shell._row_printer()
        if printer is None:
            shell.write(result_tables.statement(pivoted, shell.style()))
            return
        if printer.surveys:
            printer.survey(pivoted.columns, list(pivoted.rows))
        printer(pivoted.columns, list(pivoted.rows), ())
        printer.end(pivoted)

    # -- sending ----------------------------------------------------------------------------
    def send(self, sql: str, show: bool = True, maxrows: int | None = None) -> QueryResult | None:
        """psql's ExecQueryAndProcessResults for the modes above (and a plain statement in
        a pipeline); the send mode is forgotten after, as psql's SendQuery does."""
        shell = self.shell
        user = shell.session.user
        if not user.alive:
            user.open()
        if shell.variables.get("ECHO") == "queries":
            shell.write(sql)
        mode, name, params = self.mode, self.name or "", self.params
        if self.keep_mode:  # \\gexec's query: its first statement is sent in this mode too (psql's quirk)
            self.keep_mode = False
        else:
            self.clean()
        reason = refuse_reason(sql) if mode in ("params", "prepared", "parse", "query") else None
        if reason:  # COPY: as a plain statement (a COPY in psql's pipeline aborts its connection)
            raise UsageError(reason)
        wire = Wire(user)
        self._t0 = time.perf_counter()
        user._cancelled = False
        self._told = False
        with self._timed():
            result = self._send(user, wire, mode, name, params, sql, show, maxrows)
        self._notifications(wire)
        if not wire.lost and mode in ("params", "prepared", "query"):
            user.noted(sql)  # its SET / set_config reach the workers, as a plain statement's
        return result

    def _notifications(self, wire: Wire) -> None:
        """The notifications libpq received meanwhile, after the command as psql prints them."""
        if wire.lost:
            return
        shell = self.shell
        for channel, pid, payload in wire.notifies():
            note = Notification(channel, payload, pid)
            shell.write(json_lines.json_line({"type": "notification", "channel": channel, "payload": payload,
                                              "pid": pid}) if shell.json else visible(note.text()))

    @contextmanager
    def _timed(self) -> Iterator[None]:
        """\\timing as psql's SendQuery: one "Time:" line after the command (a pipeline's
        too, results or not), none per result; from sending to the last result read."""
        shell = self.shell
        saved = shell.settings
        if not saved.timing:
            yield
            return
        shell.settings = replace(saved, timing=False)
        start = time.perf_counter()
        try:
            yield
        finally:
            shell.settings = saved
        if shell.settings.format != "json":
            shell.write(f"Time: {(time.perf_counter() - start) * 1000:.3f} ms")

    def _send(self, user: Any, wire: Wire, mode: str, name: str, params: list[str], sql: str, show: bool,
              maxrows: int | None) -> QueryResult | None:
        shell = self.shell
        try:
            with sigint_calls(user.cancel), wire:  # Ctrl-C: a cancel request, as for a plain statement
                return self._exec(wire, mode, name, params, sql, show, maxrows)
        finally:
            if wire.lost:  # psql's pipelineReset after a lost connection
                self.piped_syncs = self.piped_commands = self.available = self.requested = 0
            self._pipeline_variables()
            if user.cancelled and not shell.interactive:  # Ctrl-C stops a script, as psql's (exit 3)
                raise _Stop(ExitStatus.SCRIPT_STOPPED)

    def _exec(self, wire: Wire, mode: str, name: str, params: list[str], sql: str, show: bool,
              maxrows: int | None) -> QueryResult | None:
        piped = wire.in_pipeline()
        end_pipeline = False
        ok = False
        if mode in ("params", "prepared", "parse", "close", "query"):
            flush = not piped  # (in a pipeline: libpq's, \\flush's or \\getresults' to push, as psql's)
            if mode == "params" or mode == "query":
                ok = wire.send_params(sql, params, flush)
            elif mode == "prepared":
                ok = wire.send_prepared(name, params, flush)
            elif mode == "parse":
                ok = wire.send_prepare(name, sql, flush)
            else:
                ok = wire.send_close(name, flush)
            if ok and piped:
                self.piped_commands += 1
        elif mode == "start":
            ok = wire.enter_pipeline()
        elif mode == "end":
            ok = bool(wire.pq.PQpipelineSync(wire.conn))
            if ok and wire.in_pipeline():
                end_pipeline = True
                self.piped_syncs += 1
                self.available += self.piped_commands
                self.piped_commands = 0
                self.requested = self.available + self.piped_syncs
        elif mode == "sync":
            ok = wire.send_pipeline_sync()
            if ok and wire.in_pipeline():
                self.piped_syncs += 1
                self.available += self.piped_commands
                self.piped_commands = 0
        elif mode == "flush":
            ok = bool(wire.raw_flush())  # as psql: PQflush's 0 (all sent) counts as a failure
        elif mode == "flushrequest":
            ok = wire.send_flush_request()
            if ok and wire.in_pipeline():
                self.available += self.piped_commands
                self.piped_commands = 0
        elif mode == "getresults":
            if self.available == 0 and self.piped_syncs == 0:
                self._info("No pending results to get")
                ok = False
                self.requested = 0
            else:
                ok = True
                if self.requested == 0 or self.requested > self.available + self.piped_syncs:
                    self.requested = self.available + self.piped_syncs
        if not ok:
            self._failed(wire.error_message().removesuffix("\n"), self._statement(sql))
            return None
        if self.requested == 0 and not end_pipeline and wire.in_pipeline():
            return QueryResult(index=0, sql=sql, status=Status.OK)
        return self._results(wire, sql, end_pipeline, show, maxrows)

    def _results(self, wire: Wire, sql: str, end_pipeline: bool, show: bool, maxrows: int | None) -> QueryResult | None:
        """Every result there is to read now, printed as psql prints them."""
        shell = self.shell
        success = True
        last_q: QueryResult | None = None
        stopped: _Stop | None = None
        before = shell.session.user.transaction_state
        res = wire.get_result()
        q: QueryResult | None
        while res is not None:
            got = time.perf_counter() - self._t0  # sent (in a pipeline: asked for by this command) -> read
            status = wire.status(res)
            if status not in _ACCEPTED:
                q = replace(wire.error_result(res, sql), exec_s=got)
                success = False
                wire.clear(res)
                if wire.broken():  # the server closed the session: said as for a plain statement, then the end
                    wire.close_lost()
                    self._show(q, sql, None, True, before)
                    return q
                try:
                    if status == PGRES_PIPELINE_ABORTED:
                        shell.show_notices(q)
                        shell.variables.set("ERROR", "true")
                        for var in ("SQLSTATE", "LAST_ERROR_SQLSTATE", "LAST_ERROR_MESSAGE"):
                            shell.variables.set(var, "")
                        shell.variables.set("ROW_COUNT", "0")
                        shell.fail("Pipeline aborted, command did not run")
                    else:
                        last_q = self._show(q, sql, None, True, before)
                except _Stop as stop:
                    stopped = stopped or stop
                if (end_pipeline or self.requested > 0) and wire.in_pipeline():
                    res = self._discard(wire)
                else:
                    res = wire.get_result()
                continue
            if status in (PGRES_COPY_IN, PGRES_COPY_OUT, PGRES_COPY_BOTH):  # refused before it is sent (not here)
                wire.clear(res)
                res = wire.get_result()
                continue
            printing = show and success
            if status == PGRES_PIPELINE_SYNC:
                self.piped_syncs -= 1
                self.requested -= 1
                success = True
                if end_pipeline and self.piped_syncs == 0:
                    success = wire.exit_pipeline() and success
            elif wire.in_pipeline():
                self.available -= 1
                self.requested -= 1
            next_res: int | None = None
            if not wire.in_pipeline():
                next_res = wire.get_result()
            else:
                if status != PGRES_PIPELINE_SYNC:
                    next_res = wire.get_result()  # the NULL ending this command's results
                if self.requested > 0:
                    next_res = wire.get_result()
            # printed after the next result is read, as psql (the notices that came with it first)
            printer = None
            q = None
            if status != PGRES_PIPELINE_SYNC:
                printer = shell._row_printer() if printing and not shell.session.user.cancelled else None
                q = wire.result(res, sql, shell.settings.maxrows if maxrows is None else maxrows, sink=printer,
                                batch=printer.batch if printer is not None else 1000)
                q = replace(q, exec_s=got)
            if q is not None and status == PGRES_EMPTY_QUERY:  # psql prints nothing for it
                shell._result_variables(q)
            elif q is not None:
                try:
                    if success:
                        last_q = self._show(q, sql, printer, show, before)
                    else:
                        shell._result_variables(q)
                except _Stop as stop:
                    stopped = stopped or stop
            wire.clear(res)
            res = next_res
        if not success and (line := self._statement(sql)) is not None:
            shell._where_notice(line)
        # ON_ERROR_STOP, as psql's: a pipeline's error stops the script only when no sync read
        # after it set the command's success again (\endpipeline after an error goes on)
        if stopped is not None and (not success or stopped.status != ExitStatus.SCRIPT_STOPPED):
            raise stopped
        return last_q

    def _show(self, q: QueryResult, sql: str, printer: Any, show: bool, before: str) -> QueryResult:
        """``Shell.show_result`` for one of the results read; after Ctrl-C, as psql: "Cancel
        request sent" once, the rows of results read after it not printed, errors still said."""
        shell = self.shell
        user = shell.session.user
        cancelled = user.cancelled
        if cancelled:
            if not self._told:
                shell.notice("Cancel request sent")
                self._told = True
            if q.status is Status.OK:
                show, printer = False, None
        user._cancelled = False  # (said here, once)
        try:  # (the STATEMENT: line of ECHO errors: once, after the command, as psql's SendQuery)
            return shell.show_result(q, sql, printer, show=show, before=before, statement=False)
        finally:
            user._cancelled = user._cancelled or cancelled

    def _discard(self, wire: Wire) -> int | None:
        """psql's discardAbortedPipelineResults: drop what an aborted pipeline returns, up
        to its next sync (returned), or until nothing more can come."""
        while True:
            res = wire.get_result()
            status = wire.status(res)
            if status == PGRES_PIPELINE_SYNC:
                return res
            if res is not None and status == PGRES_FATAL_ERROR:
                wire.get_result()
                return res
            if res is None:
                self.available -= 1
                self.requested -= 1
            if self.requested == 0:
                return res
            if self.available == 0 and self.piped_syncs == 0:
                return res
            wire.clear(res)

    def _statement(self, sql: str) -> str | None:
        """psql's ``STATEMENT:`` line after a failed command under ECHO errors."""
        return f"STATEMENT:  {sql}" if self.shell.variables.get("ECHO") == "errors" else None

    def _failed(self, text: str, statement: str | None = None) -> None:
        """The command failed, libpq's message said (psql prints none when libpq has none)."""
        shell = self.shell
        if text:
            shell.fail(text, then=statement)
            return
        if statement is not None:
            shell._where_notice(statement)
        shell.status = max(shell.status, ExitStatus.ERROR)
        if shell._stop_on_error():
            raise _Stop(ExitStatus.SCRIPT_STOPPED)

    def _info(self, text: str) -> None:
        """A message psql prints with pg_log_info (its place in a script in front): an error line."""
        self.shell._where_notice(text)

    def _pipeline_variables(self) -> None:
        v = self.shell.variables
        v.set("PIPELINE_SYNC_COUNT", str(self.piped_syncs))
        v.set("PIPELINE_COMMAND_COUNT", str(self.piped_commands))
        v.set("PIPELINE_RESULT_COUNT", str(self.available))


def _atoi(text: str) -> int:
    """C's atoi: the leading integer, 0 when there is none."""
    import re

    m = re.match(r"\s*([+-]?\d+)", text)
    return int(m.group(1)) if m else 0



PQTRANS_IDLE, PQTRANS_INTRANS, PQTRANS_INERROR = 0, 2, 3


def _atooid(text: str) -> int:
    """psql's atooid (strtoul): the leading number, 0 when none, modulo 2^32 as an Oid."""
    import re

    m = re.match(r"\s*([+-]?)(\d+)", text)
    if not m:
        return 0
    value = int(m.group(2))
    return (-value if m.group(1) == "-" else value) % (1 << 32)


class LargeObjectCommands:
    """psql's \\lo_import, \\lo_export, \\lo_unlink (libpq's client-side functions, in a
    transaction of their own when none is open, as psql's large_obj.c) and \\lo_list."""

    def __init__(self, shell: Any) -> None:
        self.shell = shell
        self._warn: Callable[[], None] = lambda: None  # the command's extra-argument warnings

    def do_lo_list(self, cmd: Command) -> None:
        """\\lo_list[x+]: psql's listLargeObjects, as \\dl (its two arguments read, unused, as psql's)."""
        _words, warn = _take(self.shell, cmd, 2)
        self.shell.catalog.do_dl(cmd)
        warn()

    def _two(self, cmd: Command) -> list[str]:
        words, self._warn = _take(self.shell, cmd, 2)
        return words

    def do_lo_import(self, cmd: Command) -> None:
        """\\lo_import FILE [COMMENT]: the file becomes a large object; its OID is said and set as LASTOID."""
        words = self._two(cmd)
        if not words:
            raise UsageError("\\lo_import: missing required argument")
        path = str(Path(words[0]).expanduser()) if words[0].startswith("~") else words[0]
        with self._transaction("\\lo_import") as (wire, own):
            oid = wire.lo_import(path)
            if oid == 0:
                return self._failed(wire, own)
            if len(words) > 1:
                if not wire.run_simple(f"COMMENT ON LARGE OBJECT {oid} IS '{wire.escape_string(words[1])}'"):
                    return self._failed(wire, own)
            if not self._finish(wire, own):
                return None
            self._result(f"lo_import {oid}")
            self.shell.variables.set("LASTOID", str(oid))
        return None

    def do_lo_export(self, cmd: Command) -> None:
        """\\lo_export OID FILE: the large object written to FILE."""
        words = self._two(cmd)
        if len(words) < 2:
            raise UsageError("\\lo_export: missing required argument")
        path = str(Path(words[1]).expanduser()) if words[1].startswith("~") else words[1]
        with self._transaction("\\lo_export") as (wire, own):
            if wire.lo_export(_atooid(words[0]), path) != 1:
                return self._failed(wire, own)
            if self._finish(wire, own):
                self._result("lo_export")
        return None

    def do_lo_unlink(self, cmd: Command) -> None:
        """\\lo_unlink OID: the large object removed."""
        words = self._two(cmd)
        if not words:
            raise UsageError("\\lo_unlink: missing required argument")
        oid = _atooid(words[0])
        with self._transaction("\\lo_unlink") as (wire, own):
            if wire.lo_unlink(oid) == -1:
                return self._failed(wire, own)
            if self._finish(wire, own):
                self._result(f"lo_unlink {oid}")
        return None

    # -- psql's start_lo_xact / finish_lo_xact / fail_lo_xact ------------------------------
    @contextmanager
    def _transaction(self, operation: str) -> Iterator[tuple[Wire, bool]]:
        user = self.shell.session.user
        if not user.alive:
            user.open()
        wire = Wire(user)
        # libpq's lo_* are synchronous and psql sends no cancel for them: Ctrl-C waits for
        # their end (no KeyboardInterrupt between them and their COMMIT)
        with sigint_calls(lambda: None), wire:
            try:
                state = wire.transaction_status()
                if state == PQTRANS_IDLE:
                    if not wire.run_simple("BEGIN"):
                        self._say_failed(wire)
                        return
                    own = True
                elif state == PQTRANS_INTRANS:
                    own = False
                elif state == PQTRANS_INERROR:
                    raise UsageError(f"{operation}: current transaction is aborted")
                else:
                    raise UsageError(f"{operation}: unknown transaction status")
                yield wire, own
            finally:
                notices = wire.take_notices()
                if notices:
                    self.shell.show_notices(QueryResult(index=0, sql="", status=Status.OK, notices=notices))

    def _say_failed(self, wire: Wire) -> None:
        text = wire.error_message().removesuffix("\n")
        shell = self.shell
        if text:
            shell.fail(text)
        else:
            shell.status = max(shell.status, ExitStatus.ERROR)

    def _failed(self, wire: Wire, own: bool) -> None:
        self._say_failed(wire)
        if own:
            wire.run_simple("ROLLBACK")

    def _finish(self, wire: Wire, own: bool) -> bool:
        if own and not wire.run_simple("COMMIT"):
            self._say_failed(wire)
            wire.run_simple("ROLLBACK")
            return False
        return True

    def _result(self, text: str) -> None:
        """psql's print_lo_result: the line on the query output (in <p> under \\pset format html), unless QUIET;
        then psql's warnings of extra arguments (said after a command that did not fail)."""
        try:
            self._say(text)
        finally:
            self._warn()

    def _say(self, text: str) -> None:
        shell = self.shell
        if shell.json:  # (JSON lines stay JSON: psql has no such output)
            word, _, oid = text.partition(" ")
            shell.write(json_lines.json_line({"type": "large_object", "command": word, "oid": int(oid) if oid else None}))
            return
        if shell.variables.is_on("QUIET"):
            return
        shell.write(f"<p>{text}</p>" if shell.style().fmt == "html" else text)


CROSSTABVIEW_MAX_COLUMNS = 1600


def _column_index(arg: str, names: list[str]) -> int:
    """psql's indexOfColumn: a column number (1-based) or a name, as \\crosstabview takes them."""
    if arg and arg.isascii() and arg.isdigit():
        idx = int(arg) - 1
        if idx < 0 or idx >= len(names):
            raise UsageError(f"\\crosstabview: column number {idx + 1} is out of range 1..{len(names)}")
        return idx
    name = sql_identifier(arg)  # psql's dequote_downcase_identifier
    found = [i for i, n in enumerate(names) if n == name]
    if len(found) > 1:
        raise UsageError(f'\\crosstabview: ambiguous column name: "{name}"')
    if not found:
        raise UsageError(f'\\crosstabview: column name not found: "{name}"')
    return found[0]


def _bytes_key(value: str | None) -> tuple[int, bytes]:
    """psql's pivotFieldCompare: strcmp of the values' bytes, NULL after every value."""
    return (1, b"") if value is None else (0, value.encode("utf-8", "surrogateescape"))


def _rank(value: str | None) -> int:
    """psql's rankSort: a sort value counts when it matches ^-?\\d+$ (atoi), else 0."""
    if value is not None and value and (value.lstrip("-") if value.startswith("-") else value).isdigit() \
            and value.isascii() and value.count("-") <= 1:
        return int(value)
    return 0


def crosstab(q: QueryResult, args: list[str], null: str) -> QueryResult:
    """psql's PrintResultInCrosstab: ``q``'s rows pivoted (vertical header values in order of
    first appearance, horizontal ones too or by the sort column), as a result to print;
    UsageError with psql's message when it cannot be."""
    names = [c.name for c in q.columns]
    if len(names) < 3:
        raise UsageError("\\crosstabview: query must return at least three columns")
    args = args + [""] * (4 - len(args))
    col_v = _column_index(args[0], names) if args[0] else 0
    col_h = _column_index(args[1], names) if args[1] else 1
    if col_v == col_h:
        raise UsageError("\\crosstabview: vertical and horizontal headers must be different columns")
    if args[2]:
        col_d = _column_index(args[2], names)
    elif len(names) != 3:
        raise UsageError("\\crosstabview: data column must be specified when query returns more than three columns")
    else:
        col_d = next(i for i in range(3) if i not in (col_v, col_h))
    col_s = _column_index(args[3], names) if args[3] else -1
    horizontal: dict[str | None, str | None] = {}  # value -> its first sort value, in order of appearance
    vertical: dict[str | None, int] = {}
    for row in q.rows:
        h = row[col_h]
        if h not in horizontal:
            horizontal[h] = row[col_s] if col_s >= 0 else None
            if len(horizontal) > CROSSTABVIEW_MAX_COLUMNS:
                raise UsageError(f"\\crosstabview: maximum number of columns ({CROSSTABVIEW_MAX_COLUMNS}) exceeded")
        vertical.setdefault(row[col_v], len(vertical))
    heads = list(horizontal)
    if col_s >= 0:  # by the sort column's number; equal ones in the values' byte order (psql's qsort of them)
        heads = sorted(sorted(heads, key=_bytes_key), key=lambda h: _rank(horizontal[h]))
    where = {h: i for i, h in enumerate(heads)}
    cells: list[list[str | None]] = [[None] * len(heads) for _ in vertical]
    for row in q.rows:
        r, c = vertical[row[col_v]], where[row[col_h]]
        if cells[r][c] is not None:
            rv, cv = row[col_v], row[col_h]
            raise UsageError("\\crosstabview: query result contains multiple data values for row "
                             f'"{rv if rv is not None else (null or "(null)")}", '
                             f'column "{cv if cv is not None else (null or "(null)")}"')
        cells[r][c] = row[col_d] if row[col_d] is not None else null
    columns = (q.columns[col_v],) + tuple(Column(h if h is not None else null, q.columns[col_d].type_oid)
                                          for h in heads)
    rows = tuple((v if v is not None else null, *(c if c is not None else "" for c in cells[i]))
                 for i, v in enumerate(vertical))
    return QueryResult(index=0, sql=q.sql, status=Status.OK, columns=columns, rows=rows, rowcount=len(rows),
                       command=q.command)
