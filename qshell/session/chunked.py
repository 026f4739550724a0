"""A plain statement read in chunks of rows, as psql 18 reads it with ``FETCH_COUNT``.

psql 18 sends the statement as typed (``PQsendQuery``) and asks libpq for its rows
``FETCH_COUNT`` at a time (``PQsetChunkedRowsMode``): no cursor, and no more than one
chunk held in memory. psycopg2 has no such mode, so this drives libpq itself through
ctypes on the session's own PGconn (``connection.pgconn_ptr``, the libpq psycopg2 is
linked with: ``qshell.engine.libpq``), waiting in gevent on its socket, and gives every
result back before psycopg2 uses the connection again. psycopg2's notice processor is
set aside meanwhile (the notices of this statement go with its rows, as with psycopg2's)
and put back as psycopg2 set it (its argument is the connection object: CPython's ``id``).

Used for one statement at a time (a ``\\;`` group keeps the psycopg2 path, whose single
result qshell shows).
"""
from __future__ import annotations

import ctypes
import platform
import time
from contextlib import ExitStack
from typing import Callable

from gevent import socket as gsocket

from qshell.engine import libpq
from qshell.engine.libpq import PGRES_COMMAND_OK, PGRES_EMPTY_QUERY, PGRES_TUPLES_CHUNK, PGRES_TUPLES_OK
from qshell.records.results import Column, QueryResult, ServerMessage, Status

CONNECTION_BAD = 1
_FIELDS = {name: ord(code) for name, code in (
    ("severity", "S"), ("sqlstate", "C"), ("primary", "M"), ("detail", "D"), ("hint", "H"), ("position", "P"),
    ("internal_query", "q"), ("context", "W"), ("schema_name", "s"), ("table_name", "t"), ("column_name", "c"),
    ("datatype_name", "d"), ("constraint_name", "n"), ("source_file", "F"), ("source_line", "L"),
    ("source_function", "R"))}


def available() -> bool:
    """libpq 17 or later (chunked rows), and CPython (psycopg2's notice processor put back)."""
    if platform.python_implementation() != "CPython":
        return False
    try:
        return getattr(libpq.lib(), "PQsetChunkedRowsMode", None) is not None
    except libpq.LibpqError:
        return False


def _pq() -> ctypes.CDLL:
    return libpq.lib()  # (PQsetChunkedRowsMode, PQftype, PQcmdTuples declared there)


def _s(raw: bytes | None) -> str | None:
    return None if raw is None else raw.decode("utf-8", "surrogateescape")


def _message(pq: ctypes.CDLL, res: int) -> ServerMessage | None:
    fields = {name: _s(pq.PQresultErrorField(res, code)) for name, code in _FIELDS.items()}
    if not fields["primary"]:
        return None
    pos = fields.pop("position")
    return ServerMessage(**{k: v for k, v in fields.items() if k != "severity"}, severity=fields["severity"] or "ERROR",  # type: ignore[arg-type]
                         position=int(pos) if pos and pos.isdigit() else None,
                         text=(_s(pq.PQresultErrorMessage(res)) or "").rstrip("\n"))


def run_chunked(conn, sql: str, chunk: int, sink: Callable, encoding: str = "utf-8") -> QueryResult:  # noqa: ANN001
    """Send ``sql`` as typed on psycopg2 connection ``conn`` (idle, autocommit) and hand its
    rows to ``sink(columns, rows, notices)`` ``chunk`` rows at a time (psql 18's
    FETCH_COUNT). Every result is read before returning; an error is the result's status;
    a sink's failure (Ctrl-C while printing) cancels the statement, drains it, and is
    raised again."""
    pq = _pq()
    ptr = ctypes.c_void_p(conn.pgconn_ptr)
    aside = ExitStack()  # psycopg2's notice processor set aside until the end (libpq.notices_of)
    notices = aside.enter_context(libpq.notices_of(conn, encoding))
    t0 = time.perf_counter()
    columns: tuple[Column, ...] = ()
    count, command, diag, error = 0, "", None, None
    failure: BaseException | None = None
    fd = pq.PQsocket(ptr)

    def wait(read: bool) -> None:
        """A green wait on the socket; interrupted (Ctrl-C, a kill), the statement is
        cancelled on the server and read to its end, then the interruption raised again;
        interrupted twice, the connection is given up."""
        nonlocal failure
        try:
            (gsocket.wait_read if read else gsocket.wait_write)(fd)
        except BaseException as exc:
            if failure is not None:
                conn.close()  # (nothing touches the PGconn after this)
                raise
            failure = exc
            conn.cancel()

    try:
        if not pq.PQsendQuery(ptr, sql.encode(encoding, "surrogateescape")):
            error = (_s(pq.PQerrorMessage(ptr)) or "").strip()
        else:
            # (refused only when not right after the send: then the result comes whole, read the same way)
            pq.PQsetChunkedRowsMode(ptr, chunk)
            while True:
                flushed = pq.PQflush(ptr)
                if flushed <= 0:
                    break
                wait(False)
            while True:
                lost = False
                while pq.PQisBusy(ptr) and not lost:
                    wait(True)
                    lost = not pq.PQconsumeInput(ptr)
                if lost and error is None:  # the connection broke (what the server said before, if anything, comes first)
                    error = (_s(pq.PQerrorMessage(ptr)) or "connection to server was lost").strip()
                res = pq.PQgetResult(ptr)
                if not res:
                    break
                try:
                    status = pq.PQresultStatus(res)
                    if status in (PGRES_TUPLES_CHUNK, PGRES_TUPLES_OK):
                        nf, nt = pq.PQnfields(res), pq.PQntuples(res)
                        if not columns or count == 0:
                            columns = tuple(Column(_s(pq.PQfname(res, j)) or "", int(pq.PQftype(res, j)))
                                            for j in range(nf))
                        rows = _rows(pq, res, nt, nf, encoding)
                        count += nt
                        if failure is None and (rows or status == PGRES_TUPLES_OK and count == 0):
                            said, notices[:] = tuple(notices), []
                            try:
                                sink(columns, rows, said)
                            except BaseException as exc:  # noqa: BLE001 - Ctrl-C while printing: stop the statement
                                failure = exc
                                conn.cancel()  # (read to its end below, then raised again)
                        if status == PGRES_TUPLES_OK:
                            command = _s(pq.PQcmdStatus(res)) or ""
                    elif status in (PGRES_COMMAND_OK, PGRES_EMPTY_QUERY):
                        command = _s(pq.PQcmdStatus(res)) or ""
                    elif diag is None:  # the first error is the statement's (a FATAL before the hang-up)
                        diag = _message(pq, res)
                        error = (_s(pq.PQresultErrorMessage(res)) or "").strip() if diag is not None or error is None else error
                finally:
                    pq.PQclear(res)
        if pq.PQstatus(ptr) == CONNECTION_BAD:
            error = error or (_s(pq.PQerrorMessage(ptr)) or "connection to server was lost").strip()
            conn.close()  # psycopg2 learns it is gone: the session is reset as after any lost connection
    finally:
        aside.close()
    if failure is not None:
        raise failure
    t1 = time.perf_counter()
    if error is not None:
        return QueryResult(index=0, sql=sql, status=Status.ERROR, columns=columns, rowcount=0, error=error,
                           sqlstate=diag.sqlstate if diag else None, exec_s=t1 - t0, end_s=t1 - t0,
                           notices=tuple(notices), diag=diag)
    return QueryResult(index=0, sql=sql, status=Status.OK, columns=columns, rowcount=count, command=command,
                       exec_s=t1 - t0, end_s=t1 - t0, notices=tuple(notices))


_getvalue = None


def _rows(pq: ctypes.CDLL, res: int, nt: int, nf: int, encoding: str) -> list[tuple[str | None, ...]]:
    """The rows of one chunk as text (None for NULL): one libpq call per value (a text
    value holds no NUL byte, so PQgetvalue's C string is the whole value), PQgetisnull
    only for an empty one."""
    global _getvalue
    if _getvalue is None:
        fn = libpq.lib()["PQgetvalue"]  # (a function of its own: the shared one returns a pointer)
        fn.restype = ctypes.c_char_p
        fn.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_int]
        _getvalue = fn
    get, isnull = _getvalue, pq.PQgetisnull
    res_p = ctypes.c_void_p(res)
    out = []
    cols = range(nf)
    for r in range(nt):
        row = []
        for j in cols:
            raw = get(res_p, r, j)
            row.append(raw.decode(encoding, "surrogateescape") if raw else None if isnull(res_p, r, j) else "")
        out.append(tuple(row))
    return out


