"""The connection side of the engine: a SQLAlchemy connection pool on one libpq target
(the workers' connections), the side connection for qshell's own queries (sampler,
catalog, capacity), capacity checks. The user's own session is not here: see
``usersession.UserSession``."""
from __future__ import annotations

import codecs
import os
import time
import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

import gevent
import gevent.lock
import psycopg2
from psycopg2 import extensions

from qshell.common.errors import CapacityError, ConnectionFailed, QshellError, one_line
from qshell.engine.execute import POOLED, SERVER, _error_text, _Interrupted, conn_params, execute_on, settle
from qshell.records.results import QueryResult, Server, Status

if TYPE_CHECKING:  # pragma: no cover
    from sqlalchemy.pool import QueuePool

    from qshell.engine.conflicts import OwnSession
    from qshell.engine.pooler import Pooler

CONNECT_TIMEOUT = 15.0  # green mode ignores libpq's connect_timeout: guard with gevent.Timeout
_FRESH = "qshell_fresh"  # connection record info: just connected, nothing to pre-ping

TRACK = "pg_stat_statements.track"  # qshell's own session setting for \set resources (resources.py sets it)


# With client_encoding SQL_ASCII (PGCLIENTENCODING=SQL_ASCII, say) the server sends a
# SQL_ASCII database's bytes as stored, unchecked; psql passes them through. psycopg2
# decodes SQL_ASCII with Python's strict 'ascii' codec (any non-ASCII byte fails):
# qshell decodes UTF-8 instead, and shows a byte that is not UTF-8 as \xHH (as psql
# shows control bytes) rather than failing. (With the UTF8 that qshell asks for by
# default, the server itself refuses to send such bytes, to psql too.)
_BYTES_CODEC = "qshell_sql_ascii"


def _escape_bytes(exc: UnicodeError):
    if isinstance(exc, UnicodeDecodeError):
        return "".join(f"\\x{b:02X}" for b in exc.object[exc.start:exc.end]), exc.end
    raise exc


def _find_codec(name: str):
    if name != _BYTES_CODEC:
        return None
    return codecs.CodecInfo(
        name=_BYTES_CODEC,
        encode=lambda text, errors="strict": codecs.utf_8_encode(text, errors),
        decode=lambda data, errors="strict": codecs.utf_8_decode(data, "qshell_bytes", True),
    )


codecs.register_error("qshell_bytes", _escape_bytes)
codecs.register(_find_codec)
extensions.encodings["SQL_ASCII"] = extensions.encodings["SQLASCII"] = _BYTES_CODEC


def _keep_text(conn) -> None:
    """Make every value come back as the server's text on ``conn``: nothing reinterpreted.

    Covers the global typecasters and those SQLAlchemy's dialect put on the connection
    (uuid, json, hstore); types without a caster are text already.
    """
    oids = tuple(set(extensions.string_types) | set(conn.string_types))
    extensions.register_type(extensions.new_type(oids, "QSHELL_TEXT", lambda value, cur: value), conn)


_CAPACITY = ("SELECT current_setting('max_connections')::int,"
             " current_setting('superuser_reserved_connections')::int"
             " + coalesce(current_setting('reserved_connections', true)::int, 0),"
             " (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend')::int")


@dataclass(frozen=True, slots=True)
class Capacity:
    """What the server can still give: max_connections - reserved - open (+ ours, reused)."""

    max_connections: int
    reserved: int
    open: int
    ours: int

    @property
    def available(self) -> int:
        return self.max_connections - self.reserved - self.open + self.ours


# the settings a server reports to its client (ParameterStatus, GUC_REPORT)
_REPORTED = ("application_name", "client_encoding", "DateStyle", "IntervalStyle", "TimeZone",
             "standard_conforming_strings", "integer_datetimes", "search_path", "default_transaction_read_only",
             "in_hot_standby", "is_superuser", "scram_iterations", "server_encoding", "session_authorization")


_SERVERS: dict[Server, Server] = {}  # every Server seen, one object each (a few per process)


class Database:
    """A SQLAlchemy connection pool on one libpq target, sized to the largest N asked.

    ``dsn`` is anything libpq takes (conninfo string or URI); PG* variables, service
    files and ~/.pgpass apply because libpq reads them. ``password`` (from -W) is passed
    aside so it never appears in the dsn shown to anyone.
    """

    def __init__(self, dsn: str, password: str | None = None, connect_timeout: float = CONNECT_TIMEOUT) -> None:
        self.dsn = dsn
        self._password = password
        self.connect_timeout = connect_timeout
        self._pool: "QueuePool | None" = None
        self._size = 0
        self.session_settings: dict[str, str] = {}  # the user's session settings, given to every worker
        # the local server's postmaster pid for CPU figures, or why there is none (cpu.locate); None: not looked for
        self.cpu_source: int | str | None = None
        self.run_settings: dict[str, str] = {}  # the run's own (its statement_timeout), over those
        self._generation = 0  # counts runs (``new_run``): a connection is reset once per run
        self._monitor = None  # the side connection (sampler, catalog, capacity), outside the pool
        self._monitor_lock = gevent.lock.RLock()  # one greenlet at a time on it
        self.readonly = False  # every session default_transaction_read_only
        self.on_reset: Callable[[], None] | None = None  # called when a dead pooled connection was found and replaced
        # warnings for the user (a pooler in front: N above its pool size, settings that
        # cannot apply): handed to on_notice, else kept in ``notices`` for the caller
        self.on_notice: Callable[[str], None] | None = None
        # the user's own session as a run sees it (UserSession.own): a worker it blocks is told apart
        self.own_session: Callable[[], "OwnSession | None"] | None = None
        self.blocked_by_you: str | None = None  # the last run was stopped: it waited for that session (what was said)
        self.notices: list[str] = []
        # connections whose backend is lent by a pooler (seen when they were opened)
        self._lent: "weakref.WeakSet" = weakref.WeakSet()
        self._servers: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()  # connection -> results.Server
        self._workers: "weakref.WeakSet" = weakref.WeakSet()  # the pool's connections
        # a multi-host target: a side connection per server (by its one-host conninfo), for
        # its capacity and the sampler (the main side connection reaches one of them)
        self._sides: dict[str, object] = {}
        # one lock per side connection: the sampler of its server and the self-block watch may
        # share one (psycopg2: one query at a time on a connection; a second fails at once)
        self._side_locks: dict[int, gevent.lock.Semaphore] = {}
        self._direct = None  # the server behind a transaction pooler, for the sampler (False: unreachable)
        self._pooler: "Pooler | None | bool" = False  # False: not looked for yet (see pooler())
        self._settings_told: dict[str, str] | None = None
        try:
            named = "application_name" in extensions.parse_dsn(dsn) or bool(os.environ.get("PGAPPNAME"))
        except psycopg2.Error:
            named = False
        self._appname = None if named else "qshell"
        # psql asks for the terminal's encoding (client_encoding=auto) unless PGCLIENTENCODING
        # is set; qshell reads and writes UTF-8, so it asks for UTF8 (what psql asks for on
        # a UTF-8 terminal). An encoding the user names (PGCLIENTENCODING, the dsn) stands.
        try:
            chosen = "client_encoding" in extensions.parse_dsn(dsn) or bool(os.environ.get("PGCLIENTENCODING"))
        except psycopg2.Error:
            chosen = False
        self._encoding = None if chosen else "UTF8"
        self._lost = False

    # -- pool ---------------------------------------------------------------
    def _make_pool(self, size: int) -> "QueuePool":
        """SQLAlchemy's ``QueuePool`` of ``size`` connections, ``max_overflow`` 0, each
        checked by a round trip when it is taken again (the pre-ping). The pool alone: the
        workers run on its DBAPI connections, so no engine nor dialect is made (a dialect's
        import and first-connect queries cost 20 ms of a short script's run)."""
        from sqlalchemy import event, exc  # imported at the first run, not at start-up
        from sqlalchemy.pool import QueuePool

        pool = QueuePool(self._connect_worker, pool_size=size, max_overflow=0, timeout=self.connect_timeout)

        def connected(dbapi_conn, record) -> None:  # noqa: ANN001
            record.info[_FRESH] = True

        def checkout(dbapi_conn, record, proxy) -> None:  # noqa: ANN001
            # the pre-ping (SQLAlchemy's recipe for a pool without a dialect): a dead
            # connection (server restart, killed backend) is replaced before it is used
            if record.info.pop(_FRESH, False):
                return
            try:
                dbapi_conn.cursor().execute("SELECT 1")
            except psycopg2.Error as e:
                raise exc.DisconnectionError(str(e)) from e

        def invalidated(dbapi_conn, record, exception) -> None:  # noqa: ANN001
            # a pre-ping found the connection dead: SQLAlchemy reconnects; checkout() tells
            # the user once it has succeeded
            if exception is not None:
                self._lost = True

        event.listen(pool, "connect", connected)
        event.listen(pool, "checkout", checkout)
        event.listen(pool, "invalidate", invalidated)
        return pool

    def _connect_worker(self):
        """A worker's connection (``_connect_raw``), known as one (``_workers``)."""
        conn = self._connect_raw()
        self._workers.add(conn)
        return conn

    def _connect_raw(self, dsn: str | None = None):
        """A new autocommit psycopg2 connection with the session's fixed settings.

        Its settings are those the server, the database, the role, ``PGOPTIONS`` and the
        PG* variables give (what psql gets): psycopg2 sets ``DateStyle`` to ISO on connect
        when it is not, and ``RESET DateStyle`` takes that back to the value the session
        started with (qshell takes every value as text: nothing depends on ISO).

        It shows as ``qshell`` in pg_stat_activity unless the dsn or PGAPPNAME names it."""
        extra: dict[str, str] = {}
        if self._password is not None:
            extra["password"] = self._password
        if self._appname:
            extra["application_name"] = self._appname
        if self._encoding:
            extra["client_encoding"] = self._encoding
        conn = psycopg2.connect(dsn or self.dsn, **extra)
        conn.autocommit = True
        cur = conn.cursor()
        # a backend lent by a pooler: its pid is not the one the connection opened with
        cur.execute("RESET DateStyle; SELECT pg_backend_pid(), pg_is_in_recovery()")
        pid, standby = cur.fetchone()
        # which server (of a multi-host target) it reached: libpq's host and port
        server = Server(f"{conn.info.host}:{conn.info.port}", bool(standby))
        # one object per server for all its connections: a run's 50,000 results group and
        # look up by it, an identical object found at once (no field-by-field comparison)
        self._servers[conn] = _SERVERS.setdefault(server, server)
        if pid != conn.get_backend_pid():
            self._lent.add(conn)
        elif self.readonly:
            # read only: a session SET, but never on a backend lent by a pooler: it would not
            # stick for this client and would stay there for the pooler's other clients.
            # Staged queries are READ ONLY transactions anyway (TxMode.readonly).
            cur.execute("SET default_transaction_read_only = on")
        return conn

    def set_readonly(self, on: bool) -> None:
        """Make every session (pool, sampler) default_transaction_read_only, or not."""
        if on != self.readonly:
            self.readonly = on
            if self._pool is not None:
                self._pool.dispose()
                self._pool = self._pool.recreate()
            if self._monitor is not None:
                self._monitor.close()
                self._monitor = None

    def ensure_pool(self, n: int) -> None:
        """Make the pool hold at least ``n`` connections (recreated only to grow)."""
        if self._pool is None or self._size < n:
            old = self._pool
            self._pool = self._make_pool(max(n, 1))
            self._size = max(n, 1)
            if old is not None:
                old.dispose()

    def checkout(self):
        """A pooled DBAPI connection (SQLAlchemy ``_ConnectionFairy``).

        Blocks the calling greenlet at most ``connect_timeout`` seconds; raises
        ConnectionFailed with libpq's message.
        """
        self.ensure_pool(1)
        assert self._pool is not None
        try:
            with gevent.Timeout(self.connect_timeout, ConnectionFailed(f"connection timed out after {self.connect_timeout:g} s")):
                fairy = self._pool.connect()
        except ConnectionFailed:
            raise
        except Exception as exc:  # sqlalchemy OperationalError wrapping libpq's text
            orig = getattr(exc, "orig", exc)
            msg = one_line(str(orig)) or type(orig).__name__
            raise ConnectionFailed(f"connection to server failed: {msg}") from None
        if self._lost:
            self._lost = False
            if self.on_reset is not None:
                self.on_reset()
        if not fairy.info.get("qshell_raw"):
            _keep_text(fairy.dbapi_connection)
            fairy.info["qshell_raw"] = True
        # behind a transaction pooler every staged query is a transaction of its own (execute.POOLED)
        fairy.info[POOLED] = fairy.dbapi_connection in self._lent and self._behind_transaction_pooler()
        fairy.info[SERVER] = self._servers.get(fairy.dbapi_connection)
        try:
            self._give_settings(fairy)
        except BaseException:
            fairy.close()
            raise
        return fairy

    def new_run(self, settings: dict[str, str] | None = None) -> None:
        """A run begins: every connection it checks out is reset first (``_give_settings``),
        and gets the user's session settings and the run's own ``settings`` (its timeout)."""
        self._generation += 1
        self.run_settings = dict(settings or {})

    def _give_settings(self, fairy) -> None:  # noqa: ANN001
        """Put the connection in the user's session state, once per run (``new_run``):
        ``DISCARD ALL`` (what an earlier run's staged queries left there goes: SET ROLE,
        search_path, set_config, advisory locks, temp tables, prepared statements, LISTEN),
        then what the user SET, set_config'd or SET ROLE in the session now, the read-only
        default, and the run's own settings. Two round trips per worker per run.

        Behind a transaction pooler a session statement would reach whichever backend the
        pooler lent for it and stay there: nothing is sent, and the user is told.

        Raises QshellError when the server refuses one (the run does not start)."""
        if fairy.info.get("qshell_run") == self._generation:
            return
        conn = fairy.dbapi_connection
        want = dict(self.session_settings)
        want.update(self.run_settings)
        if fairy.info[POOLED]:
            # the user's own settings that the workers lack: not pg_stat_statements.track (qshell's,
            # for \set resources), nor those a worker has anyway — the connection's own
            # parameters (application_name, client_encoding…), which PgBouncer applies as
            # session settings on the user's backend and reports to every client it serves
            have = {name.lower(): conn.info.parameter_status(name) for name in _REPORTED}
            user_set = {k: v for k, v in self.session_settings.items() if k != TRACK and have.get(k) != v}
            if user_set and self._settings_told != user_set:
                self._settings_told = dict(user_set)
                self._notice("warning: behind a transaction pooler the session's settings are not given to the workers"
                             f" (set in this session: {', '.join(sorted(user_set))}); each staged query runs with the"
                             " server's defaults; put what it needs in the query (set_config(name, value, true))")
            fairy.info["qshell_run"] = self._generation
            return
        if self.readonly and conn not in self._lent:
            want.setdefault("default_transaction_read_only", "on")
        try:
            cur = conn.cursor()
            cur.execute("DISCARD ALL")
            if want:
                # in the order given: superuser-only settings (pg_stat_statements.track) come
                # before SET SESSION AUTHORIZATION / SET ROLE take the right to set them away
                parts = ["SELECT set_config(%s, %s, false)"] * len(want)
                cur.execute("; ".join(parts), [x for item in want.items() for x in item])
            conn.notices.clear()
        except psycopg2.Error as exc:
            if conn.closed:
                fairy.invalidate()
                raise ConnectionFailed(f"connection to server was lost: {_error_text(exc)[0]}") from None
            raise QshellError(f"cannot give the workers the session's settings: {_error_text(exc)[0]}") from None
        fairy.info["qshell_run"] = self._generation

    def pooled_connections(self) -> int:
        """qshell's own open connections: the pool's, and the sampler's."""
        own = 1 if self._monitor is not None and not self._monitor.closed else 0
        if self._pool is None:
            return own
        return self._pool.checkedin() + self._pool.checkedout() + own

    def _connect_guarded(self, dsn: str | None = None):
        """``_connect_raw`` within ``connect_timeout`` seconds (green mode ignores libpq's
        connect_timeout); ConnectionFailed with libpq's message."""
        try:
            with gevent.Timeout(self.connect_timeout, ConnectionFailed(f"connection timed out after {self.connect_timeout:g} s")):
                return self._connect_raw(dsn)
        except psycopg2.Error as exc:
            raise ConnectionFailed(f"connection to server failed: {one_line(str(exc))}") from None

    def connect(self):
        """A new connection outside the pool on the same target and with the same fixed
        settings, every value as the server's text (for the user's session). Blocks at
        most ``connect_timeout`` seconds; raises ConnectionFailed with libpq's message."""
        conn = self._connect_guarded()
        _keep_text(conn)
        return conn

    def monitor(self):
        """The sampler's connection (autocommit, plain psycopg2, kept across runs)."""
        if self._monitor is not None and not self._monitor.closed:
            try:
                self._monitor.cursor().execute("SELECT 1")  # pre-ping, as the pool does
            except psycopg2.Error:
                self._monitor.close()
        if self._monitor is None or self._monitor.closed:
            self._monitor = self._connect_guarded()
        return self._monitor

    def server_of(self, conn) -> Server | None:  # noqa: ANN001
        """The server ``conn`` (one of this Database's) reached when it was opened."""
        return self._servers.get(conn)

    def side(self, host: str | None):
        """A side connection to the server ``host`` ("host:port", as ``results.Server``
        names it) of a multi-host target, and the lock to hold while using it: the main
        side connection (``monitor()``) when it is on that server, else one of its own,
        kept until ``close()``. Blocks at most ``connect_timeout``; ConnectionFailed."""
        if host is None:
            direct = self._direct_side()
            if direct is not None:
                return direct, self._lock_of(direct)
        with self._monitor_lock:
            main = self.monitor()
            if host is None or host == self.server_of(main).host:  # type: ignore[union-attr]
                return main, self._monitor_lock
        for conn in self._sides.values():
            if not conn.closed and self.server_of(conn).host == host:  # type: ignore[attr-defined,union-attr]
                return conn, self._lock_of(conn)
        from qshell.engine.targets import host_dsn

        conn = self._side_on(host_dsn(self.dsn, host))
        return conn, self._lock_of(conn)

    def _lock_of(self, conn) -> gevent.lock.Semaphore:  # noqa: ANN001
        """The lock of a side connection (made at its first use)."""
        lock = self._side_locks.get(id(conn))
        if lock is None:
            lock = self._side_locks[id(conn)] = gevent.lock.Semaphore()
        return lock

    def _direct_side(self):
        """Behind a transaction pooler whose admin console named the server behind it: a
        side connection to that server itself, for the sampler (through the pool its
        queries would wait for a server connection the workers hold). None when not behind
        one, or when the server cannot be reached directly (said once: sampling then goes
        through the pool). Same user and password; the pooler's database name."""
        found = self._pooler if self._pooler is not False else None
        if found is None or not found.transaction_pooling or found.server is None or self._direct is False:
            return None
        if self._direct is not None and not self._direct.closed:
            return self._direct
        host, port, dbname = found.server
        from qshell.engine.targets import host_dsn

        try:
            conn = self._connect_guarded(extensions.make_dsn(host_dsn(self.dsn, f"{host}:{port}"), dbname=dbname))
        except QshellError as exc:
            self._direct = False
            self._notice(f"note: wait events are sampled through {found.describe()}: the server behind it"
                         f" ({host}:{port}) cannot be reached directly ({exc})")
            return None
        if conn in self._lent:  # another pooler: no better than the main side connection
            conn.close()
            self._direct = False
            return None
        self._direct = conn
        return conn

    def _side_on(self, dsn: str):
        """The side connection on the one-host conninfo ``dsn`` (opened once, kept)."""
        conn = self._sides.get(dsn)
        if conn is None or conn.closed:  # type: ignore[attr-defined]
            conn = self._sides[dsn] = self._connect_guarded(dsn)
        return conn

    def dispose(self) -> None:
        """Close every pooled connection (the next checkout reconnects)."""
        if self._pool is not None:
            self._pool.dispose()
            self._pool = self._pool.recreate()

    def close(self) -> None:
        if self._direct:
            self._direct.close()
        self._direct = None
        for conn in self._sides.values():
            conn.close()  # type: ignore[attr-defined]
        self._sides.clear()
        if self._monitor is not None:
            self._monitor.close()
            self._monitor = None
        if self._pool is not None:
            self._pool.dispose()
            self._pool = None
            self._size = 0

    # -- facts about the server ----------------------------------------------
    def rows(self, sql: str, params: tuple | None = None) -> list[tuple]:
        """All rows of a small query of qshell's own (catalog, capacity), on the side
        connection: outside the pool and outside any transaction the user has open.

        Raises ConnectionFailed when the server cannot be reached."""
        with self._monitor_lock:
            conn = self.monitor()
            try:
                cur = conn.cursor()
                cur.execute(sql, params)
                return cur.fetchall()
            except psycopg2.Error as exc:
                if conn.closed:
                    self._monitor = None
                    raise ConnectionFailed(f"connection to server was lost: {_error_text(exc)[0]}") from None
                raise QshellError(_error_text(exc)[0]) from None

    def scalar_row(self, sql: str) -> tuple:
        return self.rows(sql)[0]

    def capacity(self) -> Capacity:
        row = self.scalar_row(_CAPACITY)
        return Capacity(int(row[0]), int(row[1]), int(row[2]), self.pooled_connections())

    # -- a pooler in front --------------------------------------------------------
    def _notice(self, text: str) -> None:
        if self.on_notice is not None:
            self.on_notice(text)
        else:
            self.notices.append(text)

    def take_notices(self) -> list[str]:
        """The warnings kept since the last call (when no ``on_notice`` is set)."""
        out, self.notices = self.notices, []
        return out

    def pooler(self) -> "Pooler | None":
        """The connection pooler (PgBouncer) between qshell and the server, or None when
        connected directly; looked for once, on the side connection (see ``pooler.detect``)."""
        if self._pooler is False:
            from qshell.engine.pooler import detect

            with self._monitor_lock:
                conn = self.monitor()
                try:
                    with gevent.Timeout(self.connect_timeout, ConnectionFailed("pooler detection timed out")):
                        self._pooler = detect(conn, self.dsn, self._password)
                except psycopg2.Error as exc:
                    if conn.closed:
                        self._monitor = None
                        raise ConnectionFailed(f"connection to server was lost: {_error_text(exc)[0]}") from None
                    raise QshellError(_error_text(exc)[0]) from None
        return self._pooler  # type: ignore[return-value]

    def lent(self, conn) -> bool:  # noqa: ANN001
        """``conn`` (opened by this Database) was lent its backend by a pooler: its
        ``pg_backend_pid()`` was not libpq's pid when it opened."""
        return conn in self._lent

    def lent_by_transaction_pooler(self, conn) -> bool:  # noqa: ANN001
        """``conn`` (opened by this Database) talks to backends a transaction pooler lends
        per transaction: a session ``SET`` on it would not stick, and would stay on the
        backend for the pooler's other clients."""
        return conn in self._lent and self._behind_transaction_pooler()

    def _behind_transaction_pooler(self) -> bool:
        found = self.pooler()
        return found is not None and found.transaction_pooling is not False

    def check_capacity(self, n: int, extra: int = 0, sampling: bool | None = None) -> None:
        """Refuse, before anything runs, an N the server cannot serve (CapacityError).

        ``extra`` counts connections beside the workers' (the sampler's). Behind a pooler
        the server's max_connections says nothing of what the workers get: nothing is
        refused, and a warning says when N is above the pool's size (the extra workers
        would measure the pooler's queue)."""
        from qshell.engine.targets import hosts

        singles = hosts(self.dsn)
        if singles:
            self._check_hosts(n, singles)
            return
        found = self.pooler()
        if found is not None:
            direct = self._direct_side() if (extra > 0 if sampling is None else sampling) else None
            where = self.server_of(direct).host if direct is not None else None  # type: ignore[union-attr]
            for text in found.capacity_notices(n, extra, where):
                self._notice(text)
            return
        cap = self.capacity()
        if n + extra > cap.available:
            also = f" plus {extra} for sampling pg_stat_activity" if extra else ""
            raise CapacityError(
                f"cannot run {n} workers{also}: the server can take {cap.available} more connections"
                f" (max_connections {cap.max_connections} - reserved {cap.reserved}"
                f" - open {cap.open} + {cap.ours} of qshell's own to reuse)"
            )

    def _check_hosts(self, n: int, singles: list[str]) -> None:
        """``check_capacity`` for a multi-host target: each server's capacity, read on a
        side connection of its own (which also serves the sampler there, so it counts as
        qshell's own), judged by ``targets.capacity_verdict``. Unreachable servers are left
        out (a notice names them); CapacityError when N cannot be served."""
        from qshell.engine.targets import capacity_verdict, label

        seen: list[tuple[str, bool, int]] = []  # (server, standby, connections available)
        for dsn in singles:
            try:
                conn = self._side_on(dsn)
                cur = conn.cursor()
                cur.execute(_CAPACITY)
                max_conn, reserved, open_ = (int(v) for v in cur.fetchone())
            except (psycopg2.Error, QshellError) as exc:
                self._notice(f"note: {label(dsn)} left out of the capacity check: {_error_text(exc)[0] if isinstance(exc, psycopg2.Error) else exc}")
                continue
            server = self.server_of(conn)
            assert server is not None
            ours = 1 + sum(1 for c in list(self._workers) if not c.closed and self.server_of(c) == server)
            seen.append((server.host, server.standby, max_conn - reserved - open_ + ours))
        refusal, warning = capacity_verdict(n, self.dsn, seen)
        if refusal is not None:
            raise CapacityError(refusal)
        if warning is not None:
            self._notice(warning)

    def info(self) -> dict[str, str]:
        """Where we are connected, from libpq (never includes the password).

        Connects the side connection only: SQLAlchemy and the pool wait for the first
        run, which keeps start-up short."""
        with self._monitor_lock:
            conn = self.monitor()
            return conn_params(conn)

    @property
    def monitor_open(self) -> bool:
        return self._monitor is not None and not self._monitor.closed

    # -- one statement now ----------------------------------------------------
    def execute(self, sql: str, maxrows: int = 100) -> QueryResult:
        """Run one statement at once on a pooled connection (for library callers; the
        shell runs what the user types on the user's own session connection).

        Errors of the statement come back in the result; ConnectionFailed is raised
        when no connection can be had."""
        fairy = self.checkout()
        start = time.perf_counter()
        try:
            try:
                result = execute_on(fairy, sql, 0, None, maxrows, start, 0.0)
            except _Interrupted as stop:  # Ctrl-C: the statement was cancelled on the server
                result = stop.result
            conn = fairy.dbapi_connection
            if (conn is None or conn.closed) and result.status is Status.ERROR:
                raise ConnectionFailed(f"connection to server was lost: {result.error}")
            return result
        finally:
            settle(fairy, worker=True)
            fairy.close()
