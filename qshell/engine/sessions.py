"""The isolation runner on the user's live named sessions (``\\session``, ``\\permute``).

A named session is one psycopg2 connection: plain statements typed there run through it
as they do on the user's own session (psql's output). A step of ``\\permute`` must be
sent as isolationtester sends it (one ``PQsendQuery``, every result kept, notices as they
come), which psycopg2 cannot do; so the runner drives the *same* libpq connection
directly (``Adopted``: psycopg2's ``pgconn_ptr``, through the very libpq psycopg2 is
linked with), reading every result before it gives the connection back. While it holds
it, libpq's notice *receiver* is the runner's (so a step's notices are printed in order
with its steps, as isolationtester prints them); psycopg2's notice *processor* is left in
place and is called again once the default receiver is back.

``LiveRunner`` is ``IsolationRunner`` with those connections instead of new ones: a
control connection of its own (the prepared lock-wait query, the spec's setup and
teardown blocks), and, differently from a spec run, Ctrl-C leaves the sessions as the
server has them (the cancelled step's transaction aborted, nothing rolled back, no
teardown), as psql's Ctrl-C does.
"""
from __future__ import annotations

import ctypes
from typing import Callable

from qshell.engine.isolation import APPNAME_SQL, PREP_WAITING, WAIT_SQL, IsolationFatal, IsolationRunner, _Conn, _last
from qshell.engine.libpq import CONNECTION_BAD, PGRES_COMMAND_OK, PGRES_TUPLES_OK, Connection, LibpqError, lib
from qshell.records.isolation import Event, Message, PermutationRecord, StepCompleted, StepSent
from qshell.script.spec import Spec

_NoticeReceiver = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p)


def _receiver_api() -> ctypes.CDLL:
    pq = lib()
    fn = pq.PQsetNoticeReceiver
    fn.restype = ctypes.c_void_p
    fn.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p]
    return pq


class Adopted(Connection):
    """A libpq view of a connection psycopg2 owns (``pgconn_ptr``): never closed here.

    ``hold()`` installs a notice receiver that hands each notice's text (libpq's
    ``PQresultErrorMessage``, what the default receiver gives a notice processor) to
    ``on_notice``; ``release()`` puts the previous receiver back. Between the two, no
    psycopg2 call may use the connection."""

    def __init__(self, pgconn: int, on_notice: Callable[[str], None] | None = None) -> None:  # noqa: D107
        self.pq = _receiver_api()
        self.conn = pgconn
        self._on_notice = on_notice
        self._receiver = _NoticeReceiver(self._received)
        self._previous: int | None = None
        self.pid = self.pq.PQbackendPID(self.conn)

    def _received(self, _arg: int, res: int) -> None:
        try:
            self._notice(0, self.pq.PQresultErrorMessage(res))
        except Exception:  # noqa: BLE001 - an exception must not cross libpq's C frames
            pass

    def hold(self) -> None:
        if self._previous is None:
            self._previous = self.pq.PQsetNoticeReceiver(self.conn, ctypes.cast(self._receiver, ctypes.c_void_p), None) or 0

    def release(self) -> None:
        """The previous receiver back (libpq's default, which calls psycopg2's processor)."""
        if self._previous is not None and self.conn:
            self.pq.PQsetNoticeReceiver(self.conn, self._previous or None, None)
        self._previous = None

    def close(self) -> None:
        """Not ours to close: give it back."""
        self.release()
        self.conn = None


def adopt(psycopg_conn: object) -> int:
    """The PGconn* of a psycopg2 connection (as an integer)."""
    return int(psycopg_conn.pgconn_ptr)  # type: ignore[attr-defined]


def name_session(psycopg_conn: object, name: str) -> None:
    """``application_name`` extended with ``/NAME`` by isolationtester's own query (sent
    as it sends it); LibpqError with libpq's message when the server refuses it."""
    conn = Adopted(adopt(psycopg_conn))
    conn.send_params(APPNAME_SQL, [name])
    last = _last(conn.results())
    if last is None or last.status != PGRES_TUPLES_OK:
        raise LibpqError(f"setting of application name failed: {conn.error_message() or (last.message if last else '')}")


class LiveRunner(IsolationRunner):
    """An ``IsolationRunner`` whose sessions are live connections of the user's.

    ``live`` gives, for each of ``spec``'s sessions in order, the PGconn* of its psycopg2
    connection; ``others`` the backend pids of the user's other sessions (named sessions
    without steps, the user's own session): a step waiting for one of them is reported
    ``<waiting ...>`` too (isolationtester asks only about the spec's sessions, which are
    all it has)."""

    def __init__(self, spec: Spec, conninfo: str, live: list[int], others: list[int],
                 emit: Callable[[Event], None] | None = None, password: str | None = None) -> None:
        super().__init__(spec, conninfo, emit, password=password)
        self._live = live
        self._others = others

    def connect(self) -> None:
        """A control connection of its own (named ``/control connection``, the lock-wait
        query prepared with every session's pid), and the live sessions held."""
        made: list[_Conn] = []
        try:
            for i, (session, ptr) in enumerate(zip(self.spec.sessions, self._live, strict=True), start=1):
                conn = Adopted(ptr, self._noticer(i))
                made.append(_Conn(session.name, conn, conn.pid))
            self.conns = made
            try:
                ctl = Connection(self.conninfo, self._noticer(0), self.connect_timeout, self.password, lambda: self._stop)
            except LibpqError as exc:
                raise self._fatal(f"Connection 0 failed: {exc}") from None
            self.control = _Conn("control connection", ctl, ctl.pid)
            ctl.send_params(APPNAME_SQL, ["control connection"])
            last = _last(ctl.results())
            if last is None or last.status != PGRES_TUPLES_OK:
                raise self._fatal(f"setting of application name failed: {ctl.error_message()}")
            pids = ",".join(str(p) for p in [c.pid for c in made] + [p for p in self._others if p])
            ctl.send_prepare(PREP_WAITING, WAIT_SQL % pids)
            last = _last(ctl.results())
            if last is None or last.status != PGRES_COMMAND_OK:
                raise self._fatal(f"prepare of lock wait query failed: {ctl.error_message()}")
            for c in made:
                assert isinstance(c.conn, Adopted)
                c.conn.hold()
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        """The control connection closed; the sessions given back (not closed), each idle:
        a step the run left running (it stopped on a failure: a time limit, steps blocking
        each other) is cancelled and its answer printed, as on Ctrl-C."""
        for c in self.conns:
            if c.active is not None and c.conn.conn and self.pq_bad(c.conn):
                c.active = None  # (its connection is gone: nothing to cancel or read)
        if any(c.active is not None for c in self.conns):
            self._finish_running([])
        for c in self.conns:
            try:
                if c.conn.conn:
                    c.conn.results()  # (nothing, unless a failure left a result unread)
            except LibpqError:
                pass
            c.conn.close()
        if self.control is not None:
            self.control.conn.close()
        self.control, self.conns = None, []

    @staticmethod
    def pq_bad(conn: Connection) -> bool:
        """libpq says the connection is broken (``PQstatus`` CONNECTION_BAD)."""
        return bool(conn.conn) and conn.pq.PQstatus(conn.conn) == CONNECTION_BAD

    def _interrupted(self, record: PermutationRecord) -> None:
        """Ctrl-C: the running steps cancelled (a cancel request, as psql's Ctrl-C) and their
        answers printed as isolationtester prints a step's (the server's ``canceling
        statement due to user request``); nothing rolled back, no teardown: each session
        stays as the server has it (a transaction a cancelled step was in is aborted)."""
        record.interrupted = True
        self._stop = False
        cancelled, self._cancelled = self._cancelled, []
        self._finish_running(cancelled)
        which = ", ".join(cancelled) if cancelled else "nothing was running"
        self.emit(Message(f"interrupted: cancelled {which}; the sessions are kept as the server has them\n"))

    def _finish_running(self, cancelled: list[str]) -> None:
        """Cancel the steps still running, print each one's answer (``cancelled`` gets
        their names); the control connection's answer read."""
        running = [c for c in self.conns if c.active is not None]
        for c in running:
            if c.active is not None and c.active.pstep.name not in cancelled:
                c.active.outcome.cancelled = True
                cancelled.append(c.active.pstep.name)
            if c.conn.busy():
                c.conn.cancel()
        try:
            for c in running:
                r = c.active
                assert r is not None
                self.emit(StepCompleted(r.pstep.name) if r.outcome.waited else StepSent(r.pstep.name, r.pstep.step.sql))
                while (res := c.conn.next_result()) is not None:
                    self._report(r, res)
                c.active = None
            if self.control is not None:
                self.control.conn.results()
        except (LibpqError, IsolationFatal):
            for c in running:
                c.active = None
