"""The engine: a QueryPool as the seed describes, on a SQLAlchemy-owned connection pool.

An overseer fills a gevent ``JoinableQueue`` with the staged queries in staged order;
N executor greenlets each hold one pooled connection for the whole run, take one query
at a time, run it, catch every exception into that query's result, put the result on
an output queue and call ``task_done()``. ``run()`` joins the queue, then kills the
workers. No prompt_toolkit, no tabulate: usable as a library once gevent has patched
the process (``qshell.bootstrap()``).

Rows are streamed from a server-side cursor in batches; only the first ``maxrows`` stay
in memory, the true row count is always reported.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import TYPE_CHECKING, Sequence

import gevent
import gevent.lock
import psycopg2
from gevent.queue import Empty, JoinableQueue, Queue
from psycopg2 import extensions

if TYPE_CHECKING:  # pragma: no cover
    from sqlalchemy.engine import Engine

from .errors import CapacityError, ConnectionFailed, QshellError
from .results import Column, Progress, QueryResult, RunResult, Status
from .sqlsplit import first_keyword, strip_comments_head

BATCH = 1000  # rows per FETCH from the server-side cursor
CONNECT_TIMEOUT = 15.0  # green mode ignores libpq's connect_timeout: guard with gevent.Timeout
_CURSOR = "qshell_c"
# statements that may be streamed through DECLARE ... CURSOR
_CURSOR_KEYWORDS = frozenset({"SELECT", "WITH", "VALUES", "TABLE"})
# DECLARE refused the statement at parse/plan time (SELECT INTO, data-modifying WITH): run it plainly
_NOT_DECLARABLE = frozenset({"0A000", "42601"})
_PENDING_END = "qshell_end"  # fairy.info key: a COMMIT not sent yet
_CURSOR_KEY = "qshell_cursor"  # fairy.info key: the connection's reused client cursor


def _keep_text(conn) -> None:
    """Make every value come back as the server's text on ``conn``: nothing reinterpreted.

    Covers the global typecasters and those SQLAlchemy's dialect put on the connection
    (uuid, json, hstore); types without a caster are text already.
    """
    oids = tuple(set(extensions.string_types) | set(conn.string_types))
    extensions.register_type(extensions.new_type(oids, "QSHELL_TEXT", lambda value, cur: value), conn)


def _error_text(exc: BaseException) -> tuple[str, str | None]:
    """One line for the user and the SQLSTATE, from any exception a query can raise."""
    orig = getattr(exc, "orig", None) or exc
    sqlstate = getattr(orig, "pgcode", None)
    diag = getattr(orig, "diag", None)
    primary = getattr(diag, "message_primary", None) if diag is not None else None
    severity = getattr(diag, "severity", None) if diag is not None else None
    if primary:
        text = f"{severity or 'ERROR'}: {primary}"
    else:
        text = str(orig).strip().splitlines()[0] if str(orig).strip() else type(orig).__name__
    # one line, always: a message may quote SQL with line breaks in it
    return text.replace("\r", "\\r").replace("\n", "\\n"), sqlstate


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


class Database:
    """A SQLAlchemy engine on one libpq target, its pool sized to the largest N asked.

    ``dsn`` is anything libpq takes (conninfo string or URI); PG* variables, service
    files and ~/.pgpass apply because libpq reads them. ``password`` (from -W) is passed
    aside so it never appears in the dsn shown to anyone.
    """

    def __init__(self, dsn: str, password: str | None = None, connect_timeout: float = CONNECT_TIMEOUT) -> None:
        self.dsn = dsn
        self._password = password
        self.connect_timeout = connect_timeout
        self._engine: "Engine | None" = None
        self._size = 0
        self.session_sql: list[str] = []  # plain SET/RESET statements, replayed on every new connection
        self._monitor = None  # the side connection (sampler, catalog, capacity), outside the pool
        self._monitor_lock = gevent.lock.RLock()  # one greenlet at a time on it
        self.readonly = False  # every session default_transaction_read_only
        self.on_reset = None  # called when a dead pooled connection was found and replaced
        try:
            named = "application_name" in extensions.parse_dsn(dsn) or bool(os.environ.get("PGAPPNAME"))
        except psycopg2.Error:
            named = False
        self._appname = None if named else "qshell"
        self._lost = False
        self._pinned = None  # the connection of an open explicit transaction (BEGIN ... COMMIT)

    # -- pool ---------------------------------------------------------------
    def _make_engine(self, size: int) -> "Engine":
        from sqlalchemy import create_engine, event  # imported at the first statement, not at start-up

        def connect():
            conn = self._connect_raw()
            if self.session_sql:
                cur = conn.cursor()
                for sql in self.session_sql:
                    cur.execute(sql)
            return conn

        engine = create_engine(
            "postgresql+psycopg2://",
            creator=connect,
            pool_size=size,
            max_overflow=0,
            pool_timeout=self.connect_timeout,
            pool_pre_ping=True,
            isolation_level="AUTOCOMMIT",
        )

        def invalidated(dbapi_conn, record, exception) -> None:  # noqa: ANN001
            # a pre-ping found the connection dead (server restart, killed backend):
            # SQLAlchemy reconnects; checkout() tells the user once it has succeeded
            if exception is not None:
                self._lost = True

        event.listen(engine, "invalidate", invalidated)
        return engine

    def _connect_raw(self):
        """A new autocommit psycopg2 connection with the session's fixed settings.

        It shows as ``qshell`` in pg_stat_activity unless the dsn or PGAPPNAME names it."""
        extra: dict[str, str] = {}
        if self._password is not None:
            extra["password"] = self._password
        if self._appname:
            extra["application_name"] = self._appname
        conn = psycopg2.connect(self.dsn, **extra)
        conn.autocommit = True
        if self.readonly:
            conn.cursor().execute("SET default_transaction_read_only = on")
        return conn

    def set_readonly(self, on: bool) -> None:
        """Make every session (pool, sampler) default_transaction_read_only, or not."""
        if on != self.readonly:
            self.readonly = on
            if self._engine is not None:
                self._engine.dispose()
            if self._monitor is not None:
                self._monitor.close()
                self._monitor = None

    def ensure_pool(self, n: int) -> None:
        """Make the pool hold at least ``n`` connections, besides the one an open
        transaction holds (recreated only to grow)."""
        n += 1 if self._pinned is not None else 0
        if self._engine is None or self._size < n:
            old = self._engine
            self._engine = self._make_engine(max(n, 1))
            self._size = max(n, 1)
            if old is not None:
                old.dispose()

    @property
    def pool_size(self) -> int:
        return self._size

    def checkout(self):
        """A pooled DBAPI connection (SQLAlchemy ``_ConnectionFairy``).

        Blocks the calling greenlet at most ``connect_timeout`` seconds; raises
        ConnectionFailed with libpq's message.
        """
        self.ensure_pool(1)
        assert self._engine is not None
        try:
            with gevent.Timeout(self.connect_timeout, ConnectionFailed(f"connection timed out after {self.connect_timeout:g} s")):
                fairy = self._engine.raw_connection()
        except ConnectionFailed:
            raise
        except Exception as exc:  # sqlalchemy OperationalError wrapping libpq's text
            orig = getattr(exc, "orig", exc)
            msg = " ".join(str(orig).split()) or type(orig).__name__
            raise ConnectionFailed(f"connection to server failed: {msg}") from None
        if self._lost:
            self._lost = False
            if self.on_reset is not None:
                self.on_reset()
        if not fairy.info.get("qshell_raw"):
            _keep_text(fairy.dbapi_connection)
            fairy.info["qshell_raw"] = True
        return fairy

    def pooled_connections(self) -> int:
        """qshell's own open connections: the pool's, and the sampler's."""
        own = 1 if self._monitor is not None and not self._monitor.closed else 0
        if self._engine is None:
            return own
        pool = self._engine.pool
        return pool.checkedin() + pool.checkedout() + own

    def monitor(self):
        """The sampler's connection (autocommit, plain psycopg2, kept across runs)."""
        if self._monitor is not None and not self._monitor.closed:
            try:
                self._monitor.cursor().execute("SELECT 1")  # pre-ping, as the pool does
            except psycopg2.Error:
                self._monitor.close()
        if self._monitor is None or self._monitor.closed:
            try:
                with gevent.Timeout(self.connect_timeout, ConnectionFailed(f"connection timed out after {self.connect_timeout:g} s")):
                    self._monitor = self._connect_raw()
            except psycopg2.Error as exc:
                raise ConnectionFailed(f"connection to server failed: {' '.join(str(exc).split())}") from None
        return self._monitor

    def dispose(self) -> None:
        """Close every pooled connection (the next checkout reconnects)."""
        if self._engine is not None:
            self._engine.dispose()

    def close(self) -> None:
        self._release_pinned()
        if self._monitor is not None:
            self._monitor.close()
            self._monitor = None
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None
            self._size = 0

    # -- facts about the server ----------------------------------------------
    def rows(self, sql: str) -> list[tuple]:
        """All rows of a small query of qshell's own (catalog, capacity), on the side
        connection: outside the pool and outside any transaction the user has open.

        Raises ConnectionFailed when the server cannot be reached."""
        with self._monitor_lock:
            conn = self.monitor()
            try:
                cur = conn.cursor()
                cur.execute(sql)
                return cur.fetchall()
            except psycopg2.Error as exc:
                if conn.closed:
                    self._monitor = None
                    raise ConnectionFailed(f"connection to server was lost: {_error_text(exc)[0]}") from None
                raise QshellError(_error_text(exc)[0]) from None

    def scalar_row(self, sql: str) -> tuple:
        return self.rows(sql)[0]

    def capacity(self) -> Capacity:
        row = self.scalar_row(
            "SELECT current_setting('max_connections')::int,"
            " current_setting('superuser_reserved_connections')::int"
            " + coalesce(current_setting('reserved_connections', true)::int, 0),"
            " (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend')::int"
        )
        reusable = self.pooled_connections() - (1 if self._pinned is not None else 0)
        return Capacity(int(row[0]), int(row[1]), int(row[2]), reusable)

    def check_capacity(self, n: int, extra: int = 0) -> None:
        """Refuse, before anything runs, an N the server cannot serve (CapacityError).

        ``extra`` counts connections beside the workers' (the sampler's)."""
        cap = self.capacity()
        if n + extra > cap.available:
            also = f" plus {extra} for sampling pg_stat_activity" if extra else ""
            raise CapacityError(
                f"cannot run {n} workers{also}: the server can take {cap.available} more connections"
                f" (max_connections {cap.max_connections} - reserved {cap.reserved}"
                f" - open {cap.open} + {cap.ours} of qshell's own to reuse)"
            )

    def info(self) -> dict[str, str]:
        """Where we are connected, from libpq (never includes the password).

        Connects the side connection only: SQLAlchemy and the pool wait for the first
        statement, which keeps start-up short."""
        with self._monitor_lock:
            conn = self.monitor()
            params = dict(conn.info.dsn_parameters)
            params.pop("password", None)
            params["server_version"] = str(conn.info.parameter_status("server_version") or "")
            params["backend_pid"] = str(conn.get_backend_pid())
            params["superuser"] = str(conn.info.parameter_status("is_superuser") or "")
            return params

    @property
    def monitor_open(self) -> bool:
        return self._monitor is not None and not self._monitor.closed

    # -- one statement now ----------------------------------------------------
    def execute(self, sql: str, maxrows: int = 100) -> QueryResult:
        """Run one statement at once on one pooled connection (a plain SQL entry).

        Errors of the statement come back in the result; ConnectionFailed is raised
        when no connection can be had.
        """
        fairy = self._pinned or self.checkout()
        start = time.perf_counter()
        try:
            result = execute_on(fairy, sql, 0, None, maxrows, start, 0.0)
            settle(fairy)  # a plain statement commits now: only the user's own BEGIN keeps a transaction open
            conn = fairy.dbapi_connection
            if result.status is Status.ERROR and (conn is None or conn.closed):
                self._pinned = None
                raise ConnectionFailed(f"connection to server was lost: {result.error}")
            if conn.info.transaction_status != extensions.TRANSACTION_STATUS_IDLE:
                self._pinned = fairy  # BEGIN ...: later plain statements stay on this connection
            else:
                self._pinned = None
                if result.status is Status.OK and _is_session_setting(sql):
                    self._remember_setting(sql)
            return result
        finally:
            if self._pinned is not fairy:
                settle(fairy)
                fairy.close()

    @property
    def transaction_state(self) -> str:
        """'' outside a transaction, '*' inside one, '!' in a failed one (psql's prompt marks)."""
        if self._pinned is None or self._pinned.dbapi_connection is None:
            return ""
        status = self._pinned.dbapi_connection.info.transaction_status
        if status == extensions.TRANSACTION_STATUS_INERROR:
            return "!"
        return "*" if status != extensions.TRANSACTION_STATUS_IDLE else ""

    def _release_pinned(self) -> None:
        fairy, self._pinned = self._pinned, None
        if fairy is not None:
            try:
                if fairy.dbapi_connection is not None and not fairy.dbapi_connection.closed:
                    fairy.dbapi_connection.cursor().execute("ROLLBACK")
            except Exception:  # noqa: BLE001 - closing anyway
                fairy.invalidate()
            fairy.close()

    def _remember_setting(self, sql: str) -> None:
        """Replay a session SET on every pooled connection: the staged queries see it
        as psql users expect, whichever connection runs them."""
        words = " ".join(sql.split()).upper()
        if words in ("RESET ALL", "DISCARD ALL"):
            self.session_sql.clear()
        else:
            self.session_sql.append(sql)
        if self._engine is not None:
            self._engine.dispose()  # idle connections reconnect with the settings


def _is_session_setting(sql: str) -> bool:
    words = strip_comments_head(sql).split(None, 2)
    if not words:
        return False
    head = words[0].upper()
    if head == "DISCARD":
        return len(words) > 1 and words[1].upper().rstrip(";") == "ALL"
    if head not in ("SET", "RESET"):
        return False
    return not (len(words) > 1 and words[1].upper() in ("LOCAL", "TRANSACTION", "CONSTRAINTS"))


def refuse_reason(sql: str) -> str | None:
    """Why qshell will not run ``sql`` at all, or None. COPY cannot work on a cooperative
    connection (psycopg2 refuses it in green mode and COPY TO STDOUT breaks the connection)."""
    if first_keyword(sql) == "COPY":
        return "COPY is not supported: it cannot run on qshell's cooperative (gevent) connections; use INSERT ... SELECT, or psql's \\copy"
    return None


def _as_qshell_error(exc: BaseException, fairy=None) -> QshellError:
    text, _ = _error_text(exc)
    conn = getattr(fairy, "dbapi_connection", None)
    if isinstance(exc, psycopg2.OperationalError) and (conn is None or conn.closed):
        if fairy is not None:
            fairy.invalidate()
        return ConnectionFailed(f"connection to server was lost: {text}")
    return QshellError(text)


ISOLATION_LEVELS = ("read committed", "repeatable read", "serializable")


@dataclass(frozen=True)
class TxMode:
    """How each staged query is wrapped: its own autocommitted statement (default), or a
    transaction with an isolation level / read only, committed or rolled back."""

    rollback: bool = False
    isolation: str | None = None
    readonly: bool = False
    timeout_ms: int | None = None  # server-side statement_timeout per query

    @cached_property
    def begin(self) -> str:
        parts = ["BEGIN"]
        if self.isolation:
            parts.append(f"ISOLATION LEVEL {self.isolation.upper()}")
        if self.readonly:
            parts.append("READ ONLY")
        begin = " ".join(parts)
        if self.timeout_ms:
            begin += f"; SET LOCAL statement_timeout = {int(self.timeout_ms)}"
        return begin

    @property
    def end(self) -> str:
        return "ROLLBACK" if self.rollback else "COMMIT"

    @property
    def defers_end(self) -> bool:
        """The COMMIT of a small streamed query can ride with the next statement: it
        cannot fail (no serializable / repeatable read snapshot to validate)."""
        return not self.rollback and self.isolation in (None, "read committed")

    @property
    def wraps(self) -> bool:
        """Every statement needs an explicit transaction (not only the streamed ones)."""
        return self.rollback or self.isolation is not None or self.readonly

    def describe(self) -> str:
        parts = ["tx rollback" if self.rollback else "tx autocommit"]
        if self.isolation:
            parts.append(self.isolation)
        if self.readonly:
            parts.append("read only")
        if self.timeout_ms:
            parts.append(f"timeout {self.timeout_ms / 1000:g}s")
        return ", ".join(parts)


AUTOCOMMIT = TxMode()


def _finish_tx(cur, end: str = "ROLLBACK") -> None:
    if cur.connection.closed:
        return
    if cur.connection.info.transaction_status != extensions.TRANSACTION_STATUS_IDLE:
        cur.execute(end)


def _drain(cur, first: list, maxrows: int, kept: list, more) -> int:
    """Count every row of a result, keeping the first ``maxrows``; ``more()`` gives the next batch."""
    count = 0
    batch = first
    while batch:
        if len(kept) < maxrows:
            kept.extend(batch[: maxrows - len(kept)])
        count += len(batch)
        if len(batch) < BATCH:
            break
        batch = more()
    return count


def execute_on(fairy, sql: str, index: int, worker: int | None, maxrows: int, run_start: float, picked: float,
               mode: TxMode = AUTOCOMMIT) -> QueryResult:
    """Run ``sql`` on a pooled connection; every error becomes the result's status.

    Row-returning statements stream through ``DECLARE … CURSOR`` + ``FETCH`` (one round
    trip for the first batch), keeping ``maxrows`` rows; others run plainly and report
    their command tag. Inside a transaction the user opened with a plain ``BEGIN`` the
    statement runs plainly, since our own BEGIN/COMMIT would end theirs.
    """
    conn = fairy.dbapi_connection
    pid = None
    users_tx = False
    restore_timeout: str | None = None
    t0 = time.perf_counter()
    t1 = t0
    columns: tuple[Column, ...] = ()
    kept: list[tuple] = []
    count = 0
    command = ""
    info = fairy.info
    pending = info.pop(_PENDING_END, None)  # the previous query's COMMIT, sent with this one
    try:
        refused, streamable = _plan(sql)
        if refused:
            raise QshellError(refused)
        pid = conn.get_backend_pid()
        cur = info.get(_CURSOR_KEY)
        if cur is None or cur.closed:
            cur = info[_CURSOR_KEY] = conn.cursor()  # one client cursor per connection, reused
        streamed = False
        users_tx = pending is None and conn.info.transaction_status != extensions.TRANSACTION_STATUS_IDLE
        own_tx = not users_tx and mode.wraps
        if streamable and not users_tx:
            head = f"{pending}; {mode.begin}" if pending else mode.begin
            pending = None
            try:
                cur.execute(_declare(head, sql))
                streamed = True
            except psycopg2.Error as exc:
                _finish_tx(cur)
                if exc.pgcode not in _NOT_DECLARABLE:
                    raise
        elif pending:
            cur.execute(pending)
            pending = None
        if streamed:
            t1 = time.perf_counter()
            columns = tuple([Column(d.name, d.type_code) for d in cur.description])
            first = cur.fetchall()
            if len(first) < BATCH:  # the common case: one batch, no closure, no loop
                kept = first if len(first) <= maxrows else first[:maxrows]
                count = len(first)
            else:
                def more() -> list:
                    cur.execute(_FETCH)
                    return cur.fetchall()

                count = _drain(cur, first, maxrows, kept, more)
            if count < BATCH and mode.defers_end:
                info[_PENDING_END] = mode.end  # one round trip per small query: COMMIT rides with the next
            else:
                cur.execute(mode.end)
            command = f"SELECT {count}"
        else:
            if own_tx:
                cur.execute(mode.begin)
            elif mode.timeout_ms and not users_tx:
                # not in a transaction (VACUUM and friends refuse one): a session SET, undone below
                cur.execute("SHOW statement_timeout")
                restore_timeout = cur.fetchone()[0]
                cur.execute(f"SET statement_timeout = {int(mode.timeout_ms)}")
            cur.execute(sql)
            t1 = time.perf_counter()
            command = cur.statusmessage or ""
            if cur.description is not None:
                columns = tuple(Column(d.name, d.type_code) for d in cur.description)
                count = _drain(cur, cur.fetchmany(BATCH), maxrows, kept, lambda: cur.fetchmany(BATCH))
            else:
                count = max(cur.rowcount, 0)
            if own_tx:
                cur.execute(mode.end)
            if restore_timeout is not None:
                cur.execute("SELECT set_config('statement_timeout', %s, false)", (restore_timeout,))
                restore_timeout = None
        t2 = time.perf_counter()
        return QueryResult(
            index=index, sql=sql, status=Status.OK, worker=worker, pid=pid, columns=columns,
            rows=tuple(kept), rowcount=count, command=command,
            wait_s=picked, exec_s=t1 - t0, fetch_s=t2 - t1,
            start_s=t0 - run_start, end_s=t2 - run_start,
        )
    except BaseException as exc:  # noqa: BLE001 - one failing query never stops the others
        t2 = time.perf_counter()
        killed = isinstance(exc, (KeyboardInterrupt, gevent.GreenletExit))
        if killed or (isinstance(exc, extensions.QueryCanceledError) and _cancelling(fairy)):
            status = Status.CANCELLED
            text, state = "cancelled", getattr(exc, "pgcode", None)
        elif isinstance(exc, extensions.QueryCanceledError) and "statement timeout" in str(exc):
            status = Status.TIMEOUT
            text, state = f"timeout after {t2 - t0:.3f} s (statement_timeout {mode.timeout_ms} ms)", exc.pgcode
        else:
            status = Status.ERROR
            text, state = _error_text(exc)
        try:
            if conn.closed:
                fairy.invalidate()
                text = f"{text} (connection lost)" if "connection" not in text.lower() else text
            elif not users_tx:
                cur2 = conn.cursor()
                info.pop(_CURSOR_KEY, None)
                _finish_tx(cur2)
                if restore_timeout is not None:
                    cur2.execute("SELECT set_config('statement_timeout', %s, false)", (restore_timeout,))
        except Exception:
            fairy.invalidate()
        result = QueryResult(
            index=index, sql=sql, status=status, worker=worker, pid=pid, error=text, sqlstate=state,
            wait_s=picked, exec_s=t2 - t0, start_s=t0 - run_start, end_s=t2 - run_start,
        )
        if killed:
            raise _Interrupted(result) from None
        return result


def settle(fairy) -> None:  # noqa: ANN001
    """Send a deferred COMMIT before the connection goes back to the pool."""
    end = fairy.info.pop(_PENDING_END, None)
    conn = fairy.dbapi_connection
    if end and conn is not None and not conn.closed:
        try:
            conn.cursor().execute(end)
        except psycopg2.Error:
            fairy.invalidate()


_FETCH = f"FETCH FORWARD {BATCH} FROM {_CURSOR}"


@lru_cache(maxsize=4096)
def _declare(head: str, sql: str) -> str:
    """One round trip: [previous COMMIT;] BEGIN; DECLARE the cursor; FETCH the first batch.

    The newline before ';' ends a trailing ``--`` comment of the user's statement."""
    return f"{head}; DECLARE {_CURSOR} NO SCROLL CURSOR FOR\n{sql}\n; {_FETCH}"


@lru_cache(maxsize=4096)
def _plan(sql: str) -> tuple[str | None, bool]:
    """(why it is refused, whether it can stream through a cursor), once per SQL text."""
    return refuse_reason(sql), first_keyword(sql) in _CURSOR_KEYWORDS


def _cancelling(fairy) -> bool:
    return bool(fairy.info.get("qshell_cancelling"))


class _Interrupted(BaseException):
    """Carries the partial result of a query whose worker was killed."""

    def __init__(self, result: QueryResult) -> None:
        super().__init__()
        self.result = result


class QueryPool:
    """Run ``queries`` on ``workers`` green workers; ``run()`` returns a RunResult.

    ``order`` is the queue order as 0-based positions into ``queries`` (default: staged
    order); results always come back in staged order. ``mode`` wraps each query in a
    transaction (see TxMode). ``sampler``, if given, is started for the run with the
    workers' backend pids and attributes wait events and blocking to the results.

    ``run()`` blocks the calling greenlet until every query is done (or the run is
    interrupted by KeyboardInterrupt: the running queries are cancelled on the server,
    the unfinished ones come back ``cancelled``). It raises ConnectionFailed when the
    workers cannot get their connections, before any query runs.
    """

    def __init__(self, db: Database, queries: Sequence[str], workers: int, maxrows: int = 100, *,
                 mode: TxMode = AUTOCOMMIT, order: Sequence[int] | None = None, order_name: str = "fifo",
                 sampler=None, stop_on_error: bool = False) -> None:  # noqa: ANN001
        if workers < 1:
            raise ValueError("workers must be >= 1")
        self.db = db
        self.queries = list(queries)
        self.pool_max = min(workers, max(len(self.queries), 1))
        self.maxrows = maxrows
        self.mode = mode
        self.order = list(order) if order is not None else list(range(len(self.queries)))
        if sorted(self.order) != list(range(len(self.queries))):
            raise ValueError("order must be a permutation of the query positions")
        self.order_name = order_name
        self.sampler = sampler
        self.stop_on_error = stop_on_error
        self.fairies: list = []
        self.tasks: JoinableQueue = JoinableQueue()
        self.output_queue: Queue = Queue()
        self.running: list[gevent.Greenlet] = []
        self.active: dict[int, tuple[int, float]] = {}  # worker -> (query index, perf_counter at pick-up)
        self.done = 0
        self._start = 0.0
        self._stopping = False

    def overseer(self) -> None:
        for pos in self.order:
            self.tasks.put((pos + 1, self.queries[pos]))

    def executor(self, number: int, fairy) -> None:  # noqa: ANN001
        """Take queries one at a time until the queue is empty (or the run is stopped)."""
        try:
            while not self._stopping:
                try:
                    index, sql = self.tasks.get_nowait()
                except Empty:
                    break
                now = time.perf_counter()
                picked = now - self._start
                self.active[number] = (index, now)
                try:
                    if fairy is None or fairy.dbapi_connection is None or fairy.dbapi_connection.closed:
                        fairy = None
                        fairy = self.db.checkout()
                    result = execute_on(fairy, sql, index, number, self.maxrows, self._start, picked, self.mode)
                except _Interrupted as stop:
                    result = stop.result
                    self._stopping = True
                except QshellError as exc:
                    end = time.perf_counter() - self._start
                    result = QueryResult(index=index, sql=sql, status=Status.ERROR, worker=number,
                                         error=str(exc), wait_s=picked, start_s=picked, end_s=end)
                self.active.pop(number, None)
                self.done += 1
                self.output_queue.put(result)
                self.tasks.task_done()
                if self.stop_on_error and result.status in (Status.ERROR, Status.TIMEOUT) and not self._stopping:
                    self._abort(number)
        finally:
            if fairy is not None:
                try:
                    settle(fairy)
                finally:
                    fairy.close()

    def _abort(self, me: int) -> None:
        """on_error=cancel: cancel the other running queries, drop the queued ones."""
        self._stopping = True
        for fairy in self.fairies:
            fairy.info["qshell_cancelling"] = True
        others = [g for i, g in enumerate(self.running) if i != me]
        gevent.spawn(gevent.killall, others, block=True, timeout=10)
        while True:
            try:
                self.tasks.get_nowait()
            except Empty:
                break
            self.tasks.task_done()

    def progress(self) -> Progress:
        """What is running now (safe to call from another greenlet during ``run()``)."""
        now = time.perf_counter()
        running = tuple(sorted((w, i, now - t) for w, (i, t) in self.active.items()))
        queued = len(self.queries) - self.done - len(running)
        return Progress(now - self._start if self._start else 0.0, self.done, max(queued, 0), running)

    def _connect_all(self) -> list:
        self.db.ensure_pool(self.pool_max)

        def attempt():
            try:
                return self.db.checkout()
            except Exception as exc:  # noqa: BLE001 - reported below, not by gevent
                return exc

        jobs = [gevent.spawn(attempt) for _ in range(self.pool_max)]
        gevent.joinall(jobs)
        values = [j.value for j in jobs]
        fairies = [v for v in values if not isinstance(v, BaseException)]
        failed = [v for v in values if isinstance(v, BaseException)]
        if failed:
            for f in fairies:
                f.close()
            exc = failed[0]
            raise exc if isinstance(exc, QshellError) else ConnectionFailed(str(exc))
        return fairies

    def run(self) -> RunResult:
        fairies = self.fairies = self._connect_all()
        pids = [f.dbapi_connection.get_backend_pid() for f in fairies]
        started_at = time.time()
        self._start = time.perf_counter()
        if self.sampler is not None:
            self.sampler.start(pids, self._start)
        gevent.spawn(self.overseer).join()
        self.running = [gevent.spawn(self.executor, i, fairies[i]) for i in range(self.pool_max)]
        interrupted = False
        try:
            self.tasks.join()
        except KeyboardInterrupt:
            interrupted = True
            self._stopping = True
            for fairy in fairies:
                fairy.info["qshell_cancelling"] = True
        finally:
            while True:  # a second Ctrl-C while cancelling must not abandon connections mid-cancel
                try:
                    if not interrupted:  # the queue is empty: workers settle and end by themselves
                        gevent.joinall(self.running, timeout=10)
                    gevent.killall(self.running, block=True, timeout=10)
                    if self.sampler is not None:
                        self.sampler.stop()
                    break
                except KeyboardInterrupt:
                    interrupted = True
                    continue
            for fairy in fairies:
                fairy.info.pop("qshell_cancelling", None)
        wall = time.perf_counter() - self._start
        done: dict[int, QueryResult] = {}
        while not self.output_queue.empty():
            r = self.output_queue.get()
            done[r.index] = r
        results = tuple(
            done.get(i) or QueryResult(index=i, sql=sql, status=Status.CANCELLED, error="cancelled before it started")
            for i, sql in enumerate(self.queries, start=1)
        )
        samples = 0
        if self.sampler is not None:
            results, samples = self.sampler.attribute(results)
        return RunResult(n=self.pool_max, started_at=started_at, wall_s=wall, queries=results,
                         interrupted=interrupted, mode=self.mode.describe(), order=self.order_name, samples=samples)
