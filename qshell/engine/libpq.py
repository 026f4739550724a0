"""libpq itself, through ctypes: the few calls the isolation runner makes as isolationtester
makes them, on connections that wait in gevent rather than in select().

Why not psycopg2's cursor: a step is one ``PQsendQuery`` of the step's text, and
isolationtester prints *every* result of it (``SELECT 1; SELECT 2;`` prints two tables,
and the rows of a statement before a failing one); psycopg2 keeps only the last result of
a query string. Notices reach the caller as libpq formats them (``WARNING:  text`` with its
``DETAIL:``/``HINT:`` lines), at the moment libpq parses them, as isolationtester's notice
processor sees them. The library loaded is the libpq psycopg2 ships (same process, same
client library as the rest of qshell), else the system's.
"""
from __future__ import annotations

import ctypes
import ctypes.util
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

import gevent
from gevent import socket as gsocket

# ExecStatusType (libpq-fe.h): every module using libpq's results reads them from here
PGRES_EMPTY_QUERY, PGRES_COMMAND_OK, PGRES_TUPLES_OK, PGRES_COPY_OUT, PGRES_COPY_IN = 0, 1, 2, 3, 4
PGRES_BAD_RESPONSE, PGRES_NONFATAL_ERROR, PGRES_FATAL_ERROR, PGRES_COPY_BOTH, PGRES_SINGLE_TUPLE = 5, 6, 7, 8, 9
PGRES_PIPELINE_SYNC, PGRES_PIPELINE_ABORTED, PGRES_TUPLES_CHUNK = 10, 11, 12
CONNECTION_OK, CONNECTION_BAD = 0, 1
PGRES_POLLING_FAILED, PGRES_POLLING_READING, PGRES_POLLING_WRITING, PGRES_POLLING_OK = 0, 1, 2, 3
PQTRANS_IDLE = 0
PG_DIAG_SEVERITY = ord("S")
PG_DIAG_MESSAGE_PRIMARY = ord("M")
PG_DIAG_SQLSTATE = ord("C")

_NoticeProcessor = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_char_p)


class _PGnotify(ctypes.Structure):
    _fields_ = [("relname", ctypes.c_char_p), ("be_pid", ctypes.c_int), ("extra", ctypes.c_char_p),
                ("next", ctypes.c_void_p)]


class LibpqError(Exception):
    """A libpq call failed; the message is libpq's (PQerrorMessage), one or more lines."""


def _find() -> str:
    try:
        import psycopg2

        libs = Path(psycopg2.__file__).resolve().parent.parent / "psycopg2_binary.libs"
        found = sorted(libs.glob("libpq*.so*"))
        if found:
            return str(found[0])
    except ImportError:  # pragma: no cover - psycopg2 is a dependency
        pass
    name = ctypes.util.find_library("pq")
    if not name:
        raise LibpqError("libpq not found (neither psycopg2's nor the system's)")
    return name


_lib: ctypes.CDLL | None = None


def lib() -> ctypes.CDLL:
    """The loaded libpq with the signatures used here declared (once)."""
    global _lib
    if _lib is not None:
        return _lib
    pq = ctypes.CDLL(_find())
    vp, cp, i = ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int
    sigs: dict[str, tuple[object, list]] = {
        "PQconnectStartParams": (vp, [ctypes.POINTER(cp), ctypes.POINTER(cp), i]),
        "PQconnectPoll": (i, [vp]),
        "PQstatus": (i, [vp]),
        "PQsocket": (i, [vp]),
        "PQerrorMessage": (cp, [vp]),
        "PQfinish": (None, [vp]),
        "PQbackendPID": (i, [vp]),
        "PQsetNoticeProcessor": (vp, [vp, _NoticeProcessor, vp]),
        "PQsendQuery": (i, [vp, cp]),
        "PQsendQueryParams": (i, [vp, cp, i, vp, ctypes.POINTER(cp), vp, vp, i]),
        "PQsendPrepare": (i, [vp, cp, cp, i, vp]),
        "PQsendQueryPrepared": (i, [vp, cp, i, ctypes.POINTER(cp), vp, vp, i]),
        "PQconsumeInput": (i, [vp]),
        "PQisBusy": (i, [vp]),
        "PQgetResult": (vp, [vp]),
        "PQresultStatus": (i, [vp]),
        "PQresStatus": (cp, [i]),
        "PQresultErrorField": (cp, [vp, i]),
        "PQresultErrorMessage": (cp, [vp]),
        "PQnfields": (i, [vp]),
        "PQntuples": (i, [vp]),
        "PQfname": (cp, [vp, i]),
        "PQgetvalue": (vp, [vp, i, i]),
        "PQgetlength": (i, [vp, i, i]),
        "PQgetisnull": (i, [vp, i, i]),
        "PQcmdStatus": (cp, [vp]),
        "PQclear": (None, [vp]),
        "PQnotifies": (ctypes.POINTER(_PGnotify), [vp]),
        "PQfreemem": (None, [vp]),
        "PQgetCancel": (vp, [vp]),
        "PQcancel": (i, [vp, cp, i]),
        "PQfreeCancel": (None, [vp]),
        "PQtransactionStatus": (i, [vp]),
        "PQflush": (i, [vp]),
        "PQsetnonblocking": (i, [vp, i]),
        # the extended protocol, pipelines and large objects (psql's \\bind ... \\lo_import: qshell/session/wire.py)
        "PQftype": (ctypes.c_uint, [vp, i]),
        "PQfmod": (i, [vp, i]),
        "PQcmdTuples": (cp, [vp]),
        "PQoidValue": (ctypes.c_uint, [vp]),
        "PQsendDescribePrepared": (i, [vp, cp]),
        "PQprepare": (vp, [vp, cp, cp, i, vp]),
        "PQexec": (vp, [vp, cp]),
        "PQsendClosePrepared": (i, [vp, cp]),
        "PQenterPipelineMode": (i, [vp]),
        "PQexitPipelineMode": (i, [vp]),
        "PQpipelineSync": (i, [vp]),
        "PQsendPipelineSync": (i, [vp]),
        "PQsendFlushRequest": (i, [vp]),
        "PQpipelineStatus": (i, [vp]),
        "PQsetNoticeReceiver": (vp, [vp, vp, vp]),
        "PQescapeLiteral": (vp, [vp, cp, ctypes.c_size_t]),
        "PQescapeStringConn": (ctypes.c_size_t, [vp, cp, cp, ctypes.c_size_t, vp]),
        "lo_import": (ctypes.c_uint, [vp, cp]),
        "lo_export": (i, [vp, ctypes.c_uint, cp]),
        "lo_unlink": (i, [vp, ctypes.c_uint]),
        # COPY on the user's session (qshell/session/copyproto.py)
        "PQisnonblocking": (i, [vp]),
        "PQputCopyData": (i, [vp, cp, i]),
        "PQputCopyEnd": (i, [vp, cp]),
        "PQgetCopyData": (i, [vp, ctypes.POINTER(vp), i]),
        "PQbinaryTuples": (i, [vp]),
        # FETCH_COUNT's chunks (qshell/session/chunked.py; libpq 17+)
        "PQsetChunkedRowsMode": (i, [vp, i]),
        # what psql asks about its connection (\\conninfo, \\encoding, \\password, VERBOSITY:
        # qshell/shell/session_commands.py)
        "PQdb": (cp, [vp]),
        "PQuser": (cp, [vp]),
        "PQhost": (cp, [vp]),
        "PQhostaddr": (cp, [vp]),
        "PQport": (cp, [vp]),
        "PQoptions": (cp, [vp]),
        "PQprotocolVersion": (i, [vp]),
        "PQsslInUse": (i, [vp]),
        "PQsslAttribute": (cp, [vp, cp]),
        "PQconnectionUsedPassword": (i, [vp]),
        "PQconnectionUsedGSSAPI": (i, [vp]),
        "PQparameterStatus": (cp, [vp, cp]),
        "PQsetClientEncoding": (i, [vp, cp]),
        "PQclientEncoding": (i, [vp]),
        "PQchangePassword": (vp, [vp, cp, cp]),
        "PQsetErrorVerbosity": (i, [vp, i]),
        "PQsetErrorContextVisibility": (i, [vp, i]),
    }
    for name, (res, args) in sigs.items():
        fn = getattr(pq, name, None)
        if fn is None:  # a newer libpq's (PQchangePassword, PQsetChunkedRowsMode: 17): callers ask first
            continue
        fn.restype = res
        fn.argtypes = args
    _lib = pq
    return pq


def read_notifies(pq: ctypes.CDLL, conn: object, consume: bool = False) -> list[tuple[str, int, str]]:
    """PQnotifies until none: (channel, sender's pid, payload), oldest first; ``consume``:
    PQconsumeInput after each, so that what arrived meanwhile is read too."""
    out: list[tuple[str, int, str]] = []
    while True:
        p = pq.PQnotifies(conn)
        if not p:
            return out
        n = p.contents
        out.append((_s(n.relname), n.be_pid, _s(n.extra)))
        pq.PQfreemem(ctypes.cast(p, ctypes.c_void_p))
        if consume:
            pq.PQconsumeInput(conn)


@contextmanager
def notices_of(conn: Any, encoding: str = "utf-8") -> Iterator[list[str]]:
    """While inside, what the server says on psycopg2 connection ``conn`` during libpq's own
    calls (NOTICE, WARNING… as libpq formats them) goes to the list yielded, as it comes:
    psycopg2's processor would hold it until psycopg2's next statement. psycopg2's processor
    is put back after, with its argument (the connection object: CPython's ``id``), unless
    the connection was closed meanwhile (its PGconn is gone)."""
    pq = lib()
    setproc = pq["PQsetNoticeProcessor"]  # (a function of its own: plain pointers in and out)
    setproc.restype, setproc.argtypes = ctypes.c_void_p, [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p]
    ptr = ctypes.c_void_p(conn.pgconn_ptr)
    heard: list[str] = []

    @_NoticeProcessor
    def on_notice(_arg: int, message: bytes) -> None:
        heard.append(message.decode(encoding, "replace").rstrip("\n"))

    psycopg2s = setproc(ptr, ctypes.cast(on_notice, ctypes.c_void_p), None)
    try:
        yield heard
    finally:
        if not conn.closed:
            setproc(ptr, ctypes.c_void_p(psycopg2s), ctypes.c_void_p(id(conn)))


def _b(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")


def _s(raw: bytes | None) -> str:
    return "" if raw is None else raw.decode("utf-8", "surrogateescape")


def connect_timeout(conninfo: str) -> float | None:
    """libpq's connect_timeout of ``conninfo`` (else PGCONNECT_TIMEOUT) in seconds, as libpq
    reads it: none when absent or not above 0, at least 2."""
    import os

    from psycopg2.extensions import parse_dsn

    try:
        value = parse_dsn(conninfo).get("connect_timeout")
    except Exception:  # noqa: BLE001 - libpq says what is wrong with it when connecting
        value = None
    value = value if value is not None else os.environ.get("PGCONNECT_TIMEOUT")
    try:
        seconds = int(str(value).strip()) if value is not None else 0
    except ValueError:
        return None
    return None if seconds <= 0 else float(max(seconds, 2))


class Result:
    """One PGresult read out whole (then cleared): status, columns, rows as text (None
    for NULL), the error's severity and primary message, libpq's error text."""

    __slots__ = ("status", "status_name", "columns", "rows", "severity", "primary", "sqlstate", "message", "command")

    def __init__(self, res: int) -> None:
        pq = lib()
        self.status = pq.PQresultStatus(res)
        self.status_name = _s(pq.PQresStatus(self.status))
        self.columns: tuple[str, ...] = ()
        self.rows: list[tuple[str | None, ...]] = []
        self.command = _s(pq.PQcmdStatus(res))
        if self.status == PGRES_TUPLES_OK:
            nf, nt = pq.PQnfields(res), pq.PQntuples(res)
            self.columns = tuple(_s(pq.PQfname(res, j)) for j in range(nf))
            for r in range(nt):
                row: list[str | None] = []
                for j in range(nf):
                    if pq.PQgetisnull(res, r, j):
                        row.append(None)
                    else:
                        row.append(_s(ctypes.string_at(pq.PQgetvalue(res, r, j), pq.PQgetlength(res, r, j))))
                self.rows.append(tuple(row))
        sev, prim = pq.PQresultErrorField(res, PG_DIAG_SEVERITY), pq.PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY)
        self.severity = None if sev is None else _s(sev)
        self.primary = None if prim is None else _s(prim)
        state = pq.PQresultErrorField(res, PG_DIAG_SQLSTATE)
        self.sqlstate = None if state is None else _s(state)
        self.message = _s(pq.PQresultErrorMessage(res))


class Connection:
    """One libpq connection driven asynchronously; every wait is a gevent wait on its socket."""

    def __init__(self, conninfo: str, on_notice: Callable[[str], None] | None = None, timeout: float | None = None,
                 password: str | None = None, stop: Callable[[], bool] | None = None) -> None:
        pq = lib()
        self.pq = pq
        # what PQconnectdb(conninfo) does (the conninfo or URI expanded), a typed password beside it
        words = [("dbname", conninfo)] + ([("password", password)] if password is not None else [])
        keys = (ctypes.c_char_p * (len(words) + 1))(*[_b(k) for k, _ in words], None)
        values = (ctypes.c_char_p * (len(words) + 1))(*[_b(v) for _, v in words], None)
        self.conn = pq.PQconnectStartParams(keys, values, 1)
        if not self.conn:
            raise LibpqError("out of memory")
        # keep the callback object alive as long as the connection
        self._notice_cb = _NoticeProcessor(self._notice)
        self._on_notice = on_notice
        try:
            self._connect(connect_timeout(conninfo) if timeout is None else timeout, stop)
        except BaseException:
            self.close()
            raise
        pq.PQsetNoticeProcessor(self.conn, self._notice_cb, None)
        pq.PQsetnonblocking(self.conn, 1)
        self.pid = pq.PQbackendPID(self.conn)

    def _notice(self, _arg: int, message: bytes) -> None:
        if self._on_notice is not None:
            try:
                self._on_notice(_s(message))
            except Exception:  # noqa: BLE001 - an exception must not cross libpq's C frames
                pass

    def _connect(self, timeout: float | None, stop: Callable[[], bool] | None) -> None:
        """PQconnectPoll until connected, each wait a gevent wait (libpq's own connect_timeout
        does not hold for an asynchronous connect: ``timeout`` does, over the whole connect);
        ``stop()`` true (Ctrl-C) ends it with KeyboardInterrupt within 50 ms."""
        pq = self.pq
        if pq.PQstatus(self.conn) == CONNECTION_BAD:
            raise LibpqError(self.error_message())
        with gevent.Timeout(timeout, LibpqError("timeout expired\n")):
            state = PGRES_POLLING_WRITING
            while True:
                fd = pq.PQsocket(self.conn)
                wait = gsocket.wait_read if state == PGRES_POLLING_READING else gsocket.wait_write
                while True:
                    try:
                        wait(fd, timeout=0.05, timeout_exc=_TimedOut)
                        break
                    except _TimedOut:
                        if stop is not None and stop():
                            raise KeyboardInterrupt() from None
                state = pq.PQconnectPoll(self.conn)
                if state == PGRES_POLLING_OK:
                    return
                if state == PGRES_POLLING_FAILED:
                    raise LibpqError(self.error_message())

    def error_message(self) -> str:
        return _s(self.pq.PQerrorMessage(self.conn)) if self.conn else ""

    @property
    def fd(self) -> int:
        return self.pq.PQsocket(self.conn)

    def _flush(self) -> None:
        while True:
            r = self.pq.PQflush(self.conn)
            if r == 0:
                return
            if r < 0:
                raise LibpqError(self.error_message())
            gsocket.wait_write(self.fd)

    def send(self, sql: str) -> None:
        """PQsendQuery: the text as one simple query."""
        if not self.pq.PQsendQuery(self.conn, _b(sql)):
            raise LibpqError(self.error_message())
        self._flush()

    def send_params(self, sql: str, params: list[str]) -> None:
        arr = (ctypes.c_char_p * len(params))(*[_b(p) for p in params])
        if not self.pq.PQsendQueryParams(self.conn, _b(sql), len(params), None, arr, None, None, 0):
            raise LibpqError(self.error_message())
        self._flush()

    def send_prepare(self, name: str, sql: str) -> None:
        if not self.pq.PQsendPrepare(self.conn, _b(name), _b(sql), 0, None):
            raise LibpqError(self.error_message())
        self._flush()

    def send_prepared(self, name: str, params: list[str]) -> None:
        arr = (ctypes.c_char_p * len(params))(*[_b(p) for p in params])
        if not self.pq.PQsendQueryPrepared(self.conn, _b(name), len(params), arr, None, None, 0):
            raise LibpqError(self.error_message())
        self._flush()

    def busy(self) -> bool:
        return bool(self.pq.PQisBusy(self.conn))

    def consume(self) -> None:
        if not self.pq.PQconsumeInput(self.conn):
            raise LibpqError(self.error_message())

    def wait_readable(self, timeout: float | None) -> bool:
        """Whether the socket became readable within ``timeout`` seconds (None: no limit)."""
        try:
            gsocket.wait_read(self.fd, timeout=timeout, timeout_exc=_TimedOut)
        except _TimedOut:
            return False
        return True

    def next_result(self) -> Result | None:
        """PQgetResult once libpq has it (waits green for it); None after the last one."""
        while self.busy():
            self.wait_readable(None)
            self.consume()
        res = self.pq.PQgetResult(self.conn)
        if not res:
            return None
        try:
            return Result(res)
        finally:
            self.pq.PQclear(res)

    def results(self) -> list[Result]:
        out = []
        while (r := self.next_result()) is not None:
            out.append(r)
        return out

    def exec(self, sql: str) -> list[Result]:
        """What PQexec does, green: send, then every result."""
        self.send(sql)
        return self.results()

    def notifies(self) -> list[tuple[str, int, str]]:
        """The notifications received so far: (channel, sender pid, payload)."""
        return read_notifies(self.pq, self.conn, consume=True)

    def cancel(self) -> str | None:
        """PQcancel; None when sent, libpq's reason otherwise."""
        c = self.pq.PQgetCancel(self.conn)
        if not c:
            return "no cancel object"
        try:
            buf = ctypes.create_string_buffer(256)
            if self.pq.PQcancel(c, buf, 256):
                return None
            return _s(buf.value)
        finally:
            self.pq.PQfreeCancel(c)

    def in_transaction(self) -> bool:
        return self.pq.PQtransactionStatus(self.conn) != PQTRANS_IDLE

    def close(self) -> None:
        if self.conn:
            self.pq.PQfinish(self.conn)
            self.conn = None


class _TimedOut(Exception):
    pass
