"""Running one statement on one pooled connection: the engine's hot path.

Row-returning statements stream from a server-side cursor (``DECLARE … CURSOR`` and
``FETCH`` in batches): only the first ``maxrows`` rows stay in memory, the true row
count is always reported. Every error becomes the result's status. Used by the
QueryPool's workers and by plain statements alike.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from functools import cached_property, lru_cache

import gevent
import psycopg2
from psycopg2 import extensions

from .errors import QshellError
from .results import Column, QueryResult, Status
from .sqlsplit import first_keyword

BATCH = 1000  # rows per FETCH from the server-side cursor
_CURSOR = "qshell_c"
# statements that may be streamed through DECLARE ... CURSOR
_CURSOR_KEYWORDS = frozenset({"SELECT", "WITH", "VALUES", "TABLE"})
# DECLARE refused the statement at parse/plan time (SELECT INTO, data-modifying WITH): run it plainly
_NOT_DECLARABLE = frozenset({"0A000", "42601"})
_PENDING_END = "qshell_end"  # fairy.info key: a COMMIT not sent yet
_CURSOR_KEY = "qshell_cursor"  # fairy.info key: the connection's reused client cursor


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


def refuse_reason(sql: str) -> str | None:
    """Why qshell will not run ``sql`` at all, or None. COPY cannot work on a cooperative
    connection (psycopg2 refuses it in green mode and COPY TO STDOUT breaks the connection)."""
    if first_keyword(sql) == "COPY":
        return "COPY is not supported: it cannot run on qshell's cooperative (gevent) connections; use INSERT ... SELECT, or psql's \\copy"
    return None


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


def settle(fairy, worker: bool = False) -> None:  # noqa: ANN001
    """Send a deferred COMMIT before the connection goes back to the pool.

    ``worker``: the connection ends a run; a transaction still open there (a staged
    ``BEGIN`` through the library) is rolled back, never carried into the pool."""
    end = fairy.info.pop(_PENDING_END, None)
    conn = fairy.dbapi_connection
    if conn is None or conn.closed:
        return
    try:
        if end:
            conn.cursor().execute(end)
        if worker and conn.info.transaction_status != extensions.TRANSACTION_STATUS_IDLE:
            conn.cursor().execute("ROLLBACK")
    except psycopg2.Error:
        fairy.invalidate()


_TX_CONTROL = frozenset({"BEGIN", "START", "COMMIT", "END", "ROLLBACK", "ABORT", "SAVEPOINT", "RELEASE", "PREPARE"})


def stage_refusal(sql: str) -> str | None:
    """Why ``sql`` cannot be a staged query, or None: what cannot run at all, and
    transaction control (each staged query is its own transaction; see \\set tx)."""
    reason = refuse_reason(sql)
    if reason:
        return reason
    word = first_keyword(sql)
    if word in _TX_CONTROL and not (word == "PREPARE" and "TRANSACTION" not in sql.upper()):
        return (f"{word} cannot be staged: each staged query runs in a transaction of its own"
                " (\\set tx rollback, \\set isolation ...); run it as a plain statement instead")
    return None


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


