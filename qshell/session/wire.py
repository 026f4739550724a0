"""The user's own session connection driven through libpq itself: psql's extended-protocol
and pipeline commands (\\bind, \\parse, \\bind_named, \\close_prepared, \\gdesc,
\\startpipeline ... \\endpipeline) and its large-object commands.

Why: psycopg2 sends every statement as one simple Query message and has no pipeline mode;
psql 18 sends these with ``PQsendQueryParams``, ``PQsendPrepare``, ``PQsendQueryPrepared``,
``PQsendClosePrepared``, ``PQpipelineSync``..., and the server sees (and logs) Parse, Bind,
Execute. qshell makes the same libpq calls through ctypes (``engine.libpq``: the libpq
psycopg2 bundles, the very library holding psycopg2's connection) on psycopg2's own
``PGconn`` (``connection.pgconn_ptr``): the same session, its transaction, its temp tables and
prepared statements. Every wait is a gevent wait on the socket; every result is read to the
end (``PQgetResult`` until NULL) so that psycopg2 finds the connection idle afterwards.

Notices arriving meanwhile are taken by a notice receiver of ours (psycopg2's processor would
keep them in its C list until its next statement), formatted by libpq as psql prints them;
psycopg2's receiver is put back after each call.
"""
from __future__ import annotations

import ctypes
from typing import TYPE_CHECKING, Callable

import gevent
from gevent import select as gselect
from gevent import socket as gsocket

from qshell.engine import libpq
from qshell.engine.libpq import (
    PGRES_PIPELINE_ABORTED,
    PGRES_PIPELINE_SYNC,
    PGRES_TUPLES_OK,
)
from qshell.records.results import Column, QueryResult, ServerMessage, Status

if TYPE_CHECKING:
    from qshell.session.usersession import UserSession
_OK_STATUSES = frozenset({0, 1, 2, 3, 4, PGRES_PIPELINE_SYNC, 12})  # psql's AcceptResult: EMPTY, COMMAND, TUPLES, COPY, SYNC, CHUNK
PQ_PIPELINE_OFF = 0

_NoticeReceiver = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p)

# PG_DIAG_* field codes of a ServerMessage
_FIELDS = (("severity", "S"), ("sqlstate", "C"), ("primary", "M"), ("detail", "D"), ("hint", "H"),
           ("context", "W"), ("internal_query", "q"), ("schema_name", "s"), ("table_name", "t"),
           ("column_name", "c"), ("datatype_name", "d"), ("constraint_name", "n"), ("source_file", "F"),
           ("source_line", "L"), ("source_function", "R"))


def _s(raw: bytes | None) -> str:
    return "" if raw is None else raw.decode("utf-8", "surrogateescape")


def _b(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")


class Wire:
    """libpq calls on the user's session connection (borrowed from psycopg2 for one call or a
    pipeline). ``notices`` collects what the server said meanwhile, oldest first."""

    def __init__(self, user: "UserSession") -> None:
        assert user.conn is not None
        self.user = user
        self.pq = libpq.lib()
        self.conn = ctypes.c_void_p(user.conn.pgconn_ptr)
        self.notices: list[str] = []
        self._receiver = _NoticeReceiver(self._notice)
        self._saved: int | None = None
        self._reported = ""  # the last error result's text (libpq reports each part of its message once)
        self._said: dict[int, str] = {}  # a result's message as libpq had it when the connection broke
        self.lost = False  # the connection broke: psycopg2's connection closed, the PGconn gone with it

    # -- notices -------------------------------------------------------------------------
    def _notice(self, _arg: int, res: int) -> None:
        try:
            self.notices.append(_s(self.pq.PQresultErrorMessage(res)).rstrip("\n"))
        except Exception:  # noqa: BLE001 - nothing may cross libpq's C frames
            pass

    def __enter__(self) -> "Wire":
        self._saved = self.pq.PQsetNoticeReceiver(self.conn, ctypes.cast(self._receiver, ctypes.c_void_p), None)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._saved is not None and not self.lost:
            self.pq.PQsetNoticeReceiver(self.conn, self._saved, None)
            self._saved = None

    def take_notices(self) -> tuple[str, ...]:
        out, self.notices = tuple(self.notices), []
        return out

    def broken(self) -> bool:
        """libpq says the connection is gone (CONNECTION_BAD): the server closed it."""
        return self.pq.PQstatus(self.conn) == libpq.CONNECTION_BAD

    def close_lost(self) -> None:
        """After ``broken()``: close psycopg2's connection (its PGconn with it), so that the
        session knows it is lost; nothing here touches the connection afterwards."""
        self.lost = True
        try:
            self.user.conn.close()  # type: ignore[union-attr]
        except Exception:  # noqa: BLE001 - closing a broken connection
            pass

    # -- libpq state ----------------------------------------------------------------------
    def error_message(self) -> str:
        """libpq's PQerrorMessage as it is now (psql prints it after a failed call)."""
        return _s(self.pq.PQerrorMessage(self.conn))

    def in_pipeline(self) -> bool:
        return self.pq.PQpipelineStatus(self.conn) != PQ_PIPELINE_OFF

    def _fd(self) -> int:
        return self.pq.PQsocket(self.conn)

    def flush(self) -> bool:
        """Push what libpq holds to the server, waiting green; False when it failed."""
        while True:
            r = self.pq.PQflush(self.conn)
            if r == 0:
                return True
            if r < 0:
                return False
            # some is left to send: wait until the socket takes more, or the server says something
            # (reading it lets a server blocked on its own writes go on: libpq's advice)
            fd = self._fd()
            readable, _, _ = gselect.select([fd], [fd], [])
            if readable and not self.pq.PQconsumeInput(self.conn):
                return False

    # -- sending (each: libpq's success, then flushed) ------------------------------------
    def _sent(self, ok: int, flush: bool = True) -> bool:
        """libpq's success, then (``flush``) what it holds pushed to the server; in a
        pipeline psql leaves that to libpq, \\flush and \\getresults (``flush`` False)."""
        return bool(ok) and (not flush or self.flush())

    def send_query(self, sql: str) -> bool:
        """PQsendQuery: a simple Query message (psql's own queries: PQexec)."""
        return self._sent(self.pq.PQsendQuery(self.conn, _b(sql)))

    def prepare_in_pipeline(self) -> None:
        """PQprepare on a connection in pipeline mode: libpq refuses it at once (and says so
        in its error message, as psql's \\gdesc shows it)."""
        self.clear(self.pq.PQprepare(self.conn, b"", b"", 0, None))

    def send_params(self, sql: str, params: list[str], flush: bool = True) -> bool:
        arr = (ctypes.c_char_p * max(len(params), 1))(*[_b(p) for p in params])
        return self._sent(self.pq.PQsendQueryParams(self.conn, _b(sql), len(params), None, arr, None, None, 0), flush)

    def send_prepare(self, name: str, sql: str, flush: bool = True) -> bool:
        return self._sent(self.pq.PQsendPrepare(self.conn, _b(name), _b(sql), 0, None), flush)

    def send_prepared(self, name: str, params: list[str], flush: bool = True) -> bool:
        arr = (ctypes.c_char_p * max(len(params), 1))(*[_b(p) for p in params])
        return self._sent(self.pq.PQsendQueryPrepared(self.conn, _b(name), len(params), arr, None, None, 0), flush)

    def send_close(self, name: str, flush: bool = True) -> bool:
        return self._sent(self.pq.PQsendClosePrepared(self.conn, _b(name)), flush)

    def send_describe(self, name: str) -> bool:
        return self._sent(self.pq.PQsendDescribePrepared(self.conn, _b(name)))

    def enter_pipeline(self) -> bool:
        return bool(self.pq.PQenterPipelineMode(self.conn))

    def exit_pipeline(self) -> bool:
        return bool(self.pq.PQexitPipelineMode(self.conn))

    def pipeline_sync(self) -> bool:
        return self._sent(self.pq.PQpipelineSync(self.conn))

    def send_pipeline_sync(self) -> bool:
        return bool(self.pq.PQsendPipelineSync(self.conn))

    def send_flush_request(self) -> bool:
        return bool(self.pq.PQsendFlushRequest(self.conn))

    def raw_flush(self) -> int:
        """PQflush once, its own return value (psql's \\flush takes it as its success)."""
        return self.pq.PQflush(self.conn)

    # -- results --------------------------------------------------------------------------
    def get_result(self, stop: Callable[[], bool] | None = None) -> int | None:
        """PQgetResult once libpq has it whole (waiting green on the socket); None for NULL."""
        pq, conn = self.pq, self.conn
        while pq.PQisBusy(conn):
            if pq.PQstatus(conn) == libpq.CONNECTION_BAD:
                break  # PQgetResult says what happened
            if self.in_pipeline() and not self.flush():  # what a pipeline holds goes first, as PQgetResult sends it
                break
            try:
                gsocket.wait_read(self._fd(), timeout=0.05, timeout_exc=_TimedOut)
            except _TimedOut:
                if stop is not None and stop():
                    raise KeyboardInterrupt() from None
                continue
            if not pq.PQconsumeInput(conn):  # the connection broke: libpq's message says how
                said = self.error_message()
                if self._reported and said.startswith(self._reported):  # (libpq's errorReported: said once)
                    said = said[len(self._reported):]
                res = pq.PQgetResult(conn)  # (its own wait on the dropped socket adds "invalid socket")
                if res:
                    self._said[res] = said  # what psql's blocking PQgetResult reports
                return res or None
        res = pq.PQgetResult(conn)
        return res or None

    def status(self, res: int | None) -> int:
        return self.pq.PQresultStatus(res) if res else -1

    def clear(self, res: int | None) -> None:
        if res:
            self.pq.PQclear(res)

    def drain(self) -> None:
        """Read and drop every result left (outside a pipeline: until NULL)."""
        while (res := self.get_result()) is not None:
            self.clear(res)

    def columns(self, res: int) -> tuple[Column, ...]:
        pq = self.pq
        return tuple(Column(_s(pq.PQfname(res, j)), int(pq.PQftype(res, j))) for j in range(pq.PQnfields(res)))

    def column_types(self, res: int) -> list[tuple[str, int, int]]:
        """(name, type oid, typmod) of each column (\\gdesc)."""
        pq = self.pq
        return [(_s(pq.PQfname(res, j)), int(pq.PQftype(res, j)), pq.PQfmod(res, j)) for j in range(pq.PQnfields(res))]

    def rows(self, res: int, start: int, stop: int) -> list[tuple[str | None, ...]]:
        pq = self.pq
        nf = pq.PQnfields(res)
        out: list[tuple[str | None, ...]] = []
        for r in range(start, stop):
            out.append(tuple(None if pq.PQgetisnull(res, r, j) else
                             _s(ctypes.string_at(pq.PQgetvalue(res, r, j), pq.PQgetlength(res, r, j)))
                             for j in range(nf)))
        return out

    def result(self, res: int, sql: str, maxrows: int, sink=None, batch: int = 1000) -> QueryResult:  # noqa: ANN001
        """One PGresult as qshell's QueryResult: its columns, its first ``maxrows`` rows (or
        every row to ``sink`` as ``UserSession.execute`` gives them), the true count, its
        tag; an error as the server said it (libpq's text). Notices so far come with it."""
        pq = self.pq
        status = pq.PQresultStatus(res)
        if status not in _OK_STATUSES:
            return self.error_result(res, sql)
        command = _s(pq.PQcmdStatus(res))
        if status != PGRES_TUPLES_OK:
            return QueryResult(index=0, sql=sql, status=Status.OK, command=command, rowcount=_count(pq, res),
                               notices=self.take_notices())
        columns = self.columns(res)
        count = pq.PQntuples(res)
        kept: list = []
        if sink is not None:
            self.pour(res, columns, count, batch, sink)
        else:
            kept = self.rows(res, 0, min(count, maxrows))
        return QueryResult(index=0, sql=sql, status=Status.OK, columns=columns, rows=tuple(kept), rowcount=count,
                           command=command, notices=self.take_notices())

    def pour(self, res: int, columns: tuple, count: int, batch: int, sink) -> None:  # noqa: ANN001
        """Every row to ``sink`` ``batch`` at a time (a surveying sink: every row to its
        ``survey`` first), as ``execute._pour`` hands psycopg2's rows."""
        try:
            if count and getattr(sink, "surveys", False):
                for at in range(0, count, batch):
                    gevent.sleep(0)
                    sink.survey(columns, self.rows(res, at, min(count, at + batch)))
            at = 0
            while True:
                rows = self.rows(res, at, min(count, at + batch))
                at += len(rows)
                gevent.sleep(0)
                sink(columns, rows, self.take_notices())
                if at >= count or not rows:
                    return
        except KeyboardInterrupt:  # the sink's Ctrl-C (a cancel asked while rows print): they stop, as psql's
            return

    def error_result(self, res: int | None, sql: str) -> QueryResult:
        """A failed PGresult (or a failure with none): the server's message as libpq
        formats it, its fields for \\errverbose and the variables; libpq's own text else."""
        pq = self.pq
        text = self._said.pop(res, "") or _s(pq.PQresultErrorMessage(res)) if res else self.error_message()
        self._reported = text
        fields = {name: pq.PQresultErrorField(res, ord(code)) if res else None for name, code in _FIELDS}
        values = {name: _s(v) if v is not None else None for name, v in fields.items()}
        status = pq.PQresultStatus(res) if res else -1
        diag = None
        if values["severity"] is not None:
            pos = pq.PQresultErrorField(res, ord("P"))
            diag = ServerMessage(severity=values["severity"] or "ERROR", sqlstate=values["sqlstate"],
                                 primary=values["primary"] or "", detail=values["detail"], hint=values["hint"],
                                 context=values["context"], position=int(pos) if pos and pos.isdigit() else None,
                                 internal_query=values["internal_query"], schema_name=values["schema_name"],
                                 table_name=values["table_name"], column_name=values["column_name"],
                                 datatype_name=values["datatype_name"], constraint_name=values["constraint_name"],
                                 source_file=values["source_file"], source_line=values["source_line"],
                                 source_function=values["source_function"], text=text.rstrip("\n"))
        return QueryResult(index=0, sql=sql, status=Status.ERROR, error=text.rstrip("\n") or None,
                           sqlstate=values["sqlstate"], diag=diag, notices=self.take_notices(),
                           command="PIPELINE_ABORTED" if status == PGRES_PIPELINE_ABORTED else "")

    def notifies(self) -> list[tuple[str, int, str]]:
        """PQnotifies until none: (channel, sender's pid, payload), oldest first."""
        return libpq.read_notifies(self.pq, self.conn)

    def escape_literal(self, text: str) -> str | None:
        p = self.pq.PQescapeLiteral(self.conn, _b(text), len(_b(text)))
        if not p:
            return None
        try:
            return _s(ctypes.string_at(p))
        finally:
            self.pq.PQfreemem(p)

    def escape_string(self, text: str) -> str:
        """PQescapeStringConn: ``text`` for inside '...' on this connection."""
        raw = _b(text)
        buf = ctypes.create_string_buffer(2 * len(raw) + 1)
        n = self.pq.PQescapeStringConn(self.conn, buf, raw, len(raw), None)
        return _s(buf.raw[:n])

    def run_simple(self, sql: str) -> bool:
        """psql's PSQLexec: one simple query, every result read; False (libpq's message in
        ``error_message``) when it failed."""
        if not self.send_query(sql):
            return False
        ok = True
        while (res := self.get_result()) is not None:
            ok = ok and self.status(res) in (1, 2)
            self.clear(res)
        return ok

    def transaction_status(self) -> int:
        return self.pq.PQtransactionStatus(self.conn)

    # -- large objects (libpq's client-side lo_import / lo_export / lo_unlink) -------------
    def lo_import(self, path: str) -> int:
        return int(self.pq.lo_import(self.conn, _b(path)))

    def lo_export(self, oid: int, path: str) -> int:
        return int(self.pq.lo_export(self.conn, oid, _b(path)))

    def lo_unlink(self, oid: int) -> int:
        return int(self.pq.lo_unlink(self.conn, oid))


def _count(pq, res: int) -> int:  # noqa: ANN001
    tuples = _s(pq.PQcmdTuples(res))
    return int(tuples) if tuples.isdigit() else 0


class _TimedOut(Exception):
    pass


def pipeline_refusal(user: "UserSession") -> str | None:
    """While the session is in pipeline mode (psql's \\startpipeline), what libpq says to a
    query of psql's own (PSQLexec's PQexec: refused at once, libpq's message added to its
    connection's error text, as psql then prints it); None when it is not."""
    if user.conn is None or user.conn.closed:
        return None
    pq = libpq.lib()
    conn = ctypes.c_void_p(user.conn.pgconn_ptr)
    if pq.PQpipelineStatus(conn) == PQ_PIPELINE_OFF:
        return None
    res = pq.PQexec(conn, b"")  # no I/O: refused before anything is sent
    if res:
        pq.PQclear(res)
    return _s(pq.PQerrorMessage(conn)).removesuffix("\n")


def in_pipeline(user: "UserSession") -> bool:
    """Whether the session's connection is in libpq's pipeline mode (one libpq call: asked
    before every plain statement, which a pipeline takes instead of psycopg2)."""
    conn = user.conn
    if conn is None or conn.closed:
        return False
    return libpq.lib().PQpipelineStatus(conn.pgconn_ptr) != PQ_PIPELINE_OFF
