"""The user's own session connection: what psql would be.

Everything the user types that is not staged runs here, on one connection for the
whole session, so that what PostgreSQL keeps per session stays: an open ``BEGIN``,
temp tables, ``PREPARE``d statements, sequences' ``currval``, ``SET`` and
``set_config(…, false)``, advisory locks, ``LISTEN``. The engine's workers never run
on it (they have the pool, ``database.Database``); they receive its settings
(``settings()``) at the start of each run.
"""
from __future__ import annotations

import re
import select
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable

import psycopg2
from psycopg2 import extensions

from qshell.engine import libpq
from qshell.engine.execute import BATCH, NO_PID, _Interrupted, conn_params, run_statement, statements
from qshell.records.results import QueryResult
from qshell.session import chunked

if TYPE_CHECKING:
    from qshell.engine.conflicts import OwnSession

# GUC names qshell passes on to the workers (and only these: they are used unquoted)
_GUC_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_.")

# what the session changed: SET SESSION AUTHORIZATION first (it resets the role), the
# settings pg_settings knows, SET ROLE, and custom ``app.x`` settings (pg_settings leaves
# those placeholders out: their names come from the statements typed)
_SETTINGS_SQL = ("SELECT 'session_authorization', session_user::text WHERE session_user <> %(login)s"
                 " UNION ALL SELECT name, setting FROM pg_settings WHERE source = 'session'"
                 " UNION ALL SELECT 'role', current_setting('role')"
                 " UNION ALL SELECT n, current_setting(n, true) FROM unnest(%(custom)s::text[]) n")
_NAME = r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+"  # a custom setting's name: at least one dot
_CHANGES_SETTINGS = re.compile(r"\b(?:SET|RESET|set_config|DISCARD)\b", re.I)
_CUSTOM = re.compile(rf"""set_config\s*\(\s*'({_NAME})'|\b(?:SET|RESET)\s+(?:SESSION\s+)?({_NAME})\b""", re.I)


def _one_statement(sql: str) -> bool:
    """One statement (a ``\\;`` group keeps psycopg2's path, whose last result qshell shows)."""
    return len(statements(sql)) <= 1


@dataclass
class Notification:
    channel: str
    payload: str
    pid: int

    def text(self) -> str:
        """psql's line for an asynchronous notification."""
        if self.payload:
            return (f'Asynchronous notification "{self.channel}" with payload "{self.payload}"'
                    f" received from server process with PID {self.pid}.")
        return f'Asynchronous notification "{self.channel}" received from server process with PID {self.pid}.'


@dataclass
class UserSession:
    """One autocommit psycopg2 connection, reconnected only after it was lost.

    ``connect`` makes a new connection (raising ConnectionFailed); ``execute`` runs one
    statement and blocks the calling greenlet until the server answers; ``cancel``
    sends a cancel request (psql's Ctrl-C): the statement fails with the server's
    "canceling statement due to user request", the connection and any transaction stay.
    """

    connect: Callable[[], "extensions.connection"]
    conn: "extensions.connection | None" = None
    readonly: bool = False
    _info: dict = field(default_factory=dict)  # the reused cursor, a held cursor to close
    _cancelled: bool = False
    _custom: set = field(default_factory=set)  # custom setting names (app.x) the user has set
    goodbye: tuple = ()  # what the server said when it closed the session while idle (FATAL: …)
    _snapshot: dict | None = None  # the settings last read outside a transaction
    # lent(conn): its backend is lent by a pooler (Database.lent); then libpq's pid is the
    # pooler's cancel key, and a cursor may not outlive the statement's transaction
    lent: Callable[["extensions.connection"], bool] | None = None
    _lent: bool = False

    def open(self) -> None:
        self.conn = self.connect()
        self._info = {}
        self._lent = self.lent is not None and self.lent(self.conn)
        if self._lent:
            self._info[NO_PID] = True
        if self.readonly:
            self.conn.cursor().execute("SET default_transaction_read_only = on")

    # -- facts ----------------------------------------------------------------------
    @property
    def alive(self) -> bool:
        return self.conn is not None and not self.conn.closed

    def lost_while_idle(self) -> bool:
        """True when the server closed the connection since the last statement (a restart,
        ``pg_terminate_backend``). Costs no round trip: an idle connection has nothing to
        read unless the server said something (a FATAL, a NOTIFY)."""
        if self.conn is None:
            return True
        lost = bool(self.conn.closed)
        if not lost and libpq.lib().PQpipelineStatus(self.conn.pgconn_ptr) != 0:
            return False  # in libpq's pipeline mode (psql's \\startpipeline): what arrives is its results, not psycopg2's
        said: list[str] = []
        try:
            ready = not lost and select.select([self.conn.fileno()], [], [], 0)[0]
            if ready:
                self.conn.poll()  # takes notifications; raises when the server hung up
        except (psycopg2.Error, OSError, ValueError) as exc:
            lost = True
            # the goodbye may come with the hang-up, in libpq's message rather than as a notice
            said = [line for line in str(exc).splitlines() if line.startswith(("FATAL:", "PANIC:"))]
        fatal = tuple(n.rstrip("\n") for n in self.conn.notices if n.startswith(("FATAL:", "PANIC:"))) or tuple(said)
        if fatal:  # the server's goodbye ("terminating connection due to administrator command")
            self.goodbye = fatal
            self.conn.notices.clear()
            lost = True
        return lost or bool(self.conn.closed)

    def reset(self) -> None:
        """Replace a lost connection (psql's "Attempting reset"); ConnectionFailed if it cannot."""
        if self.conn is not None:
            try:
                self.conn.close()
            except psycopg2.Error:
                pass
        self.conn = None
        self.open()

    def own(self) -> "OwnSession | None":
        """This session as a run sees it (``conflicts.OwnSession``): no round trip (libpq
        knows the pid and the transaction status). None when not connected."""
        from qshell.engine.conflicts import OwnSession

        if not self.alive:
            return None
        assert self.conn is not None  # alive
        return OwnSession(f"{self.conn.info.host}:{self.conn.info.port}",
                          None if self._lent else self.conn.get_backend_pid(), self.transaction_state != "")

    @property
    def transaction_state(self) -> str:
        """'' outside a transaction, '*' inside one, '!' in a failed one (psql's prompt marks)."""
        if not self.alive:
            return ""
        assert self.conn is not None  # alive
        status = self.conn.info.transaction_status
        if status == extensions.TRANSACTION_STATUS_INERROR:
            return "!"
        if status in (extensions.TRANSACTION_STATUS_INTRANS, extensions.TRANSACTION_STATUS_ACTIVE):
            return "*"
        return ""

    def params(self) -> dict[str, str]:
        """Where we are connected, from libpq (never includes the password)."""
        return conn_params(self.conn)

    def std_strings(self) -> bool:
        """The server's ``standard_conforming_strings`` as it last reported it (no round
        trip): off means a backslash escapes in every '…', which the reader must know."""
        if not self.alive:
            return True
        assert self.conn is not None  # alive
        return self.conn.get_parameter_status("standard_conforming_strings") != "off"

    def send_empty(self, sql: str) -> str | None:
        """Send a statement with nothing to run (a lone ``;``, only comments), as psql
        does: the server answers with an empty response. Returns an error's text (a lost
        connection), None when all went well. Raises ConnectionFailed as ``execute``."""
        if not self.alive:
            self.open()
        assert self.conn is not None
        try:
            self.conn.cursor().execute(sql)
        except psycopg2.ProgrammingError as exc:
            if str(exc) != "can't execute an empty query":  # psycopg2's word for that empty response
                return str(exc).strip()
        except psycopg2.Error as exc:
            return str(exc).strip() or type(exc).__name__
        return None

    def server_version_num(self) -> int:
        """PostgreSQL's version number (180006), 0 without a connection."""
        return self.conn.server_version if self.alive and self.conn is not None else 0

    def settings(self) -> dict[str, str] | None:
        """The settings this session changed (``SET``, ``set_config(…, false)``, ``SET ROLE``,
        ``SET SESSION AUTHORIZATION``), for the workers. Read now when the session is idle;
        inside a transaction, those read before it began; None when never read."""
        if self.lost_while_idle() or self.transaction_state:
            # a lost session keeps its goodbye for the next statement to report; an open
            # transaction of the user's is never touched (what it SETs is not settled yet):
            # the settings read before it began
            return self._snapshot
        self._snapshot = self._read_settings()
        return self._snapshot

    def _read_settings(self) -> dict[str, str] | None:
        assert self.conn is not None  # read only on an open session
        try:
            cur = self.conn.cursor()
            cur.execute(_SETTINGS_SQL, {"login": self.conn.info.user, "custom": sorted(self._custom)})
            rows = cur.fetchall()
        except psycopg2.Error:
            return None
        out = {}
        for name, value in rows:
            if value is None or (name == "role" and value == "none"):
                continue
            if set(name.lower()) <= _GUC_NAME_CHARS:
                out[name.lower()] = value
        return out

    def notifications(self) -> list[Notification]:
        """LISTEN notifications received so far, oldest first (then forgotten)."""
        if self.conn is None:
            return []
        out = [Notification(n.channel, n.payload, n.pid) for n in self.conn.notifies]
        del self.conn.notifies[:]
        return out

    # -- running ------------------------------------------------------------------------
    def execute(self, sql: str, maxrows: int = 100, sink=None, batch: int = BATCH,  # noqa: ANN001
                chunk: int = 0) -> QueryResult:
        """Run one statement as typed; its errors come back in the result (a lost
        connection too: ``alive`` is then False).

        The statement is sent exactly as typed, once, and its whole result is held by
        libpq, as psql holds it; the first ``maxrows`` rows are kept. With ``chunk``
        (FETCH_COUNT) and a sink, one statement is read ``chunk`` rows at a time as psql 18
        reads it (``qshell.session.chunked``: libpq's chunked-rows mode, the statement
        still sent as typed). With ``sink(columns, rows,
        notices)`` every row goes to the sink ``batch`` rows at a time and none is kept.

        Raises ConnectionFailed when there is no connection and none can be made."""
        if not self.alive:
            self.open()
        self._cancelled = False
        self._note_names(sql)
        start = time.perf_counter()
        try:
            if chunk > 0 and sink is not None and not self._lent and _one_statement(sql) and chunked.available():
                # psql 18's FETCH_COUNT: the statement as typed, its rows read ``chunk`` at a time
                assert self.conn is not None  # opened above
                result = chunked.run_chunked(self.conn, sql, chunk, sink,
                                             extensions.encodings.get(self.conn.encoding, "utf-8"))
            else:
                result = run_statement(self.conn, self._info, sql, 0, None, maxrows, start, 0.0, sink=sink, batch=batch)
        except _Interrupted as stop:  # a KeyboardInterrupt reached the wait: cancelled on the server
            result = stop.result
        self._note_changes(sql)
        return result

    def _note_names(self, sql: str) -> None:
        for m in _CUSTOM.finditer(sql):
            self._custom.add((m.group(1) or m.group(2)).lower())

    def _note_changes(self, sql: str) -> None:
        if self.alive and not self.transaction_state and _CHANGES_SETTINGS.search(sql):
            self._snapshot = self._read_settings()  # before a BEGIN can hide them from the next run

    def noted(self, sql: str) -> None:
        """What ``execute`` notes of a statement, for one sent another way (psql's \\bind,
        \\parse...: session/wire.py): the custom settings it names, and the settings the
        workers get, read again when it may have changed them (never in a pipeline: the
        connection is libpq's until it ends)."""
        self._note_names(sql)
        if self.alive and libpq.lib().PQpipelineStatus(self.conn.pgconn_ptr) == 0:  # type: ignore[union-attr]
            self._note_changes(sql)

    @property
    def cancelled(self) -> bool:
        """A cancel request was sent during the last statement."""
        return self._cancelled

    def cancel(self) -> None:
        """Ask the server to cancel the running statement (from a signal handler; never raises)."""
        if self.alive:
            self._cancelled = True
            try:
                assert self.conn is not None  # alive
                self.conn.cancel()
            except psycopg2.Error:
                pass

    def set_readonly(self, on: bool) -> None:
        """``default_transaction_read_only`` for this session; refused inside a transaction
        (the SET would belong to it)."""
        if on == self.readonly:
            return
        if self.alive:
            if self.transaction_state:
                from qshell.common.errors import UsageError

                raise UsageError("\\set readonly: finish the transaction first (COMMIT or ROLLBACK)")
            assert self.conn is not None  # alive
            self.conn.cursor().execute(f"SET default_transaction_read_only = {'on' if on else 'off'}")
        self.readonly = on

    def close(self) -> None:
        if self.conn is not None and not self.conn.closed:
            self.conn.close()
        self.conn = None

