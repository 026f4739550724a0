"""COPY on the user's own session, as psql runs it: libpq's copy protocol on the PGconn
under psycopg2's connection, every wait a gevent wait on its socket.

Why not psycopg2: its ``copy_expert`` raises in green mode, and a ``COPY … TO STDOUT``
sent through ``execute`` leaves the connection broken (/work/shared/design/stack-notes.md).
libpq itself can do it without blocking the hub: the statement goes out once with
``PQsendQuery`` (exactly the text psql would send), data with ``PQputCopyData`` /
``PQputCopyEnd``, rows come back with ``PQgetCopyData(async=1)``. Every result is read
until ``PQgetResult`` says there is none left, so that psycopg2 finds its connection idle
afterwards (its next ``execute`` works; the transaction status is libpq's, read live).
Notices the server sends meanwhile are taken by a notice processor of our own for the
exchange and handed back in order; psycopg2's is put back after it.
"""
from __future__ import annotations

import ctypes
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Callable, Iterable

from gevent import socket as gsocket

from qshell.engine import libpq
from qshell.engine.libpq import PGRES_COPY_IN, PGRES_COPY_OUT, PGRES_NONFATAL_ERROR
from qshell.records.results import Column, ServerMessage

_BATCH = 64 * 1024
_FIELDS = {"severity": "S", "sqlstate": "C", "primary": "M", "detail": "D", "hint": "H", "context": "W",
           "position": "P", "internal_query": "q", "schema_name": "s", "table_name": "t", "column_name": "c",
           "datatype_name": "d", "constraint_name": "n", "source_file": "F", "source_line": "L",
           "source_function": "R"}


@dataclass
class Outcome:
    """One result of the statement group, in order: a COPY's tag (``COPY 3``), a table,
    another command's tag, or an error as libpq formats it."""

    status: int
    command: str = ""
    columns: tuple[Column, ...] = ()
    rows: list[tuple[str | None, ...]] = field(default_factory=list)
    diag: ServerMessage | None = None
    notices: list[str] = field(default_factory=list)  # the notices that came before this result
    copied_out: bool = False  # the end of a COPY TO STDOUT (its rows went to the sink)

    @property
    def ok(self) -> bool:
        return self.diag is None


def _diag(pq: ctypes.CDLL, res: int) -> ServerMessage:
    values: dict[str, object] = {}
    for name, code in _FIELDS.items():
        raw = pq.PQresultErrorField(res, ord(code))
        if raw is not None:
            values[name] = raw.decode("utf-8", "replace")
    if "position" in values:
        try:
            values["position"] = int(str(values["position"]))
        except ValueError:
            del values["position"]
    text = pq.PQresultErrorMessage(res).decode("utf-8", "replace").rstrip("\n")
    values.setdefault("severity", "ERROR")
    values.setdefault("primary", text)
    return ServerMessage(text=text, **values)  # type: ignore[arg-type]


def _conn_error(pq: ctypes.CDLL, pg: int) -> ServerMessage:
    text = pq.PQerrorMessage(pg).decode("utf-8", "replace").rstrip("\n")
    return ServerMessage(primary=text, text=text)


def lost(conn) -> bool:  # noqa: ANN001 - a psycopg2 connection
    """libpq found the connection broken during the exchange (psycopg2 has not seen it)."""
    return libpq.lib().PQstatus(conn.pgconn_ptr) == libpq.CONNECTION_BAD


def exchange(conn, sql: str, feed: Callable[[bool], Iterable[bytes]], sink: Callable[[bytes], None],  # noqa: ANN001
             on_result: Callable[[Outcome], None] | None = None) -> list[Outcome]:
    """Send ``sql`` on psycopg2 connection ``conn`` and read every result. At each
    ``COPY … FROM STDIN`` the data is ``feed(binary)``'s chunks (Ctrl-C or a read error in
    it ends the COPY with psql's words for them); at each ``COPY … TO STDOUT`` every row goes to ``sink``.
    Each result but the last goes to ``on_result`` as soon as the next one begins (psql
    prints a group's results in order, a COPY's data between them); returns those not
    handed over (the last; all of them without ``on_result``). A lost connection is the
    last one's error."""
    pq = libpq.lib()
    pg = conn.pgconn_ptr
    aside = ExitStack()  # psycopg2's notice processor set aside until the end (libpq.notices_of)
    notices = aside.enter_context(libpq.notices_of(conn))
    blocking = not pq.PQisnonblocking(pg)
    pq.PQsetnonblocking(pg, 1)
    fd = pq.PQsocket(pg)
    out: list[Outcome] = []
    failure: BaseException | None = None  # from feed or sink: raised once every result is read
    copied = False  # the last result was a COPY OUT's start: the next one is its end

    def flush() -> bool:
        while True:
            r = pq.PQflush(pg)
            if r == 0:
                return True
            if r < 0:
                return False
            gsocket.wait_write(fd)

    def add(outcome: Outcome) -> None:
        outcome.notices, notices[:] = list(notices), []
        out.append(outcome)

    def release() -> None:  # every result so far, before the next one is handled
        nonlocal failure
        while on_result is not None and out and out[0].ok:  # (an error is the last word: kept)
            outcome = out.pop(0)
            if failure is None:  # (what on_result raises, a closed output, waits for the last result)
                try:
                    on_result(outcome)
                except BaseException as exc:  # noqa: BLE001 - raised once every result is read
                    failure = exc

    try:
        if not pq.PQsendQuery(pg, sql.encode("utf-8", "surrogateescape")) or not flush():
            add(Outcome(libpq.PGRES_FATAL_ERROR, diag=_conn_error(pq, pg)))
            return out
        while True:
            while pq.PQisBusy(pg) and pq.PQsocket(pg) >= 0:  # (a closed connection: no socket to wait on)
                gsocket.wait_read(fd)
                if not pq.PQconsumeInput(pg):
                    break
            res = pq.PQgetResult(pg)
            if not res:
                break
            release()
            try:
                status = pq.PQresultStatus(res)
                binary = bool(pq.PQbinaryTuples(res))
                if status == PGRES_COPY_IN:
                    failure = _put(pq, pg, fd, feed, binary, flush) or failure
                elif status == PGRES_COPY_OUT:
                    failure = _get(pq, pg, fd, sink) or failure
                    copied = True
                elif status == libpq.PGRES_TUPLES_OK:
                    r = libpq.Result(res)
                    cols = tuple(Column(name, pq.PQftype(res, j)) for j, name in enumerate(r.columns))
                    add(Outcome(status, r.command, cols, r.rows))
                elif status in (libpq.PGRES_FATAL_ERROR, PGRES_NONFATAL_ERROR) or status > PGRES_NONFATAL_ERROR:
                    if all(o.ok for o in out):  # (after the server's FATAL, libpq's "server closed the
                        add(Outcome(status, diag=_diag(pq, res)))  # connection" is the same failure)
                else:
                    add(Outcome(status, pq.PQcmdStatus(res).decode("utf-8", "replace"), copied_out=copied))
                if status != PGRES_COPY_OUT:
                    copied = False
            finally:
                pq.PQclear(res)
            if pq.PQstatus(pg) == libpq.CONNECTION_BAD:  # the server's FATAL is the error; else libpq's
                if not out or out[-1].ok:
                    add(Outcome(libpq.PGRES_FATAL_ERROR, diag=_conn_error(pq, pg)))
                break
        if notices:  # after the last result (the server's last word)
            if out:
                out[-1].notices.extend(notices)
            else:
                add(Outcome(libpq.PGRES_COMMAND_OK))
        if failure is not None:
            raise failure
    finally:
        if blocking:
            pq.PQsetnonblocking(pg, 0)
        aside.close()
    return out


def _put(pq: ctypes.CDLL, pg: int, fd: int, feed: Callable[[bool], Iterable[bytes]], binary: bool,
         flush: Callable[[], bool]) -> BaseException | None:
    """The data of one COPY FROM STDIN, then its end, or its abort: Ctrl-C ("canceled by
    user") and a read error ("aborted because of read failure") as psql ends it; anything
    else the source raised ends it as canceled and is returned, to be raised afterwards."""
    error: bytes | None = None
    failure: BaseException | None = None

    def put(data: bytes) -> bool:
        while True:
            r = pq.PQputCopyData(pg, data, len(data))
            if r == 1:
                return True
            if r < 0:
                return False  # the connection failed: its result says so
            gsocket.wait_write(fd)

    try:
        held: list[bytes] = []  # lines gathered into one call per 64 kB (not a ctypes call per line)
        size = 0
        for chunk in feed(binary):
            held.append(chunk)
            size += len(chunk)
            if size >= _BATCH:
                if not put(b"".join(held)):
                    return None
                held, size = [], 0
        if held and not put(b"".join(held)):
            return None
    except KeyboardInterrupt:  # Ctrl-C while the data is typed: psql's words, the server's error said
        error = b"canceled by user"
    except OSError:  # the file or program could not be read: psql's words
        error = b"aborted because of read failure"
    except BaseException as exc:  # noqa: BLE001 - Ctrl-C, a bug: the COPY ends first, then it is raised
        error, failure = b"canceled by user", exc
    while True:
        r = pq.PQputCopyEnd(pg, error)
        if r != 0:
            break
        gsocket.wait_write(fd)
    flush()
    return failure


def _get(pq: ctypes.CDLL, pg: int, fd: int, sink: Callable[[bytes], None]) -> BaseException | None:
    """Every row of one COPY TO STDOUT, to ``sink`` (64 kB at a time: a call per row cost
    several times psql's time), until libpq says the copy is done. What the sink raises (a
    closed pipe, Ctrl-C) stops the writing, not the reading: returned."""
    buf = ctypes.c_void_p()
    ref = ctypes.byref(buf)
    get, free, string_at = pq.PQgetCopyData, pq.PQfreemem, ctypes.string_at
    failure: BaseException | None = None
    held: list[bytes] = []
    size = 0

    def give() -> BaseException | None:
        if failure is None and held:
            try:
                sink(b"".join(held))
            except BaseException as exc:  # noqa: BLE001 - raised after the copy is read through
                return exc
        return failure

    while True:
        n = get(pg, ref, 1)
        if n > 0:
            held.append(string_at(buf, n))
            free(buf)
            size += n
            if size >= _BATCH:
                failure = give()
                held, size = [], 0
        elif n == 0:
            failure = give()  # (what came so far is written while the server sends the rest)
            held, size = [], 0
            if pq.PQsocket(pg) < 0:
                return failure
            gsocket.wait_read(fd)
            if not pq.PQconsumeInput(pg):
                return failure
        else:  # -1: done (the result follows), -2: an error (the result says it)
            return give()
