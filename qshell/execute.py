"""Running one statement on one pooled connection: the engine's hot path.

Row-returning statements stream from a server-side cursor (``DECLARE … CURSOR`` and
``FETCH`` in batches): only the first ``maxrows`` rows stay in memory, the true row
count is always reported. Every error becomes the result's status, with everything
the server said (its notices, DETAIL, HINT, CONTEXT, position). Used by the
QueryPool's workers and by the user's own session connection alike.
"""
from __future__ import annotations

import re
import time
from collections import deque
from dataclasses import dataclass
from functools import cached_property, lru_cache

import gevent
import psycopg2
import psycopg2.errors
from psycopg2 import extensions

from .errors import QshellError
from .results import Column, QueryResult, ServerMessage, Status
from .sqlsplit import first_keyword, strip_comments_head

BATCH = 1000  # rows per FETCH from the server-side cursor
_CURSOR = "qshell_c"
# statements that may be streamed through DECLARE ... CURSOR
_CURSOR_KEYWORDS = frozenset({"SELECT", "WITH", "VALUES", "TABLE"})
# DECLARE refused the statement at parse/plan time (SELECT INTO, data-modifying WITH): run it plainly
_NOT_DECLARABLE = frozenset({"0A000", "42601"})
_PARSER_FILES = frozenset({"analyze.c", "scan.l", "gram.y", "parser.c"})
_CLOSE_PENDING = "qshell_close"  # info key: the held cursor of the last statement is still open
_CURSOR_KEY = "qshell_cursor"  # fairy.info key: the connection's reused client cursor
CANCELLING = "qshell_cancelling"  # info key: the run asked for a cancel (QueryCanceled is then "cancelled")
# info key: the connection is lent a server backend per transaction (PgBouncer in transaction
# pooling): no cursor held across transactions, no session SET, the pid taken inside each one
POOLED = "qshell_pooled"
ON_PID = "qshell_on_pid"  # connection record info: called with the pid lent for a query (behind a pooler)
SERVER = "qshell_server"  # connection record info: its results.Server (which host, standby or not)
NO_PID = "qshell_no_pid"  # info key: libpq's pid is not the backend's (a pooler's cancel key), and none is asked
# statements that cannot run inside a transaction of qshell's own behind a transaction
# pooler: PostgreSQL refuses them in a transaction block (PreventInTransactionBlock), or
# they begin or end one themselves. Missed ones are caught by their 25001 and run plainly.
# CALL and DO: a procedure or block may COMMIT, which a transaction block forbids (2D000)
_NO_TX_KEYWORDS = frozenset({"VACUUM", "CLUSTER", "REINDEX", "BEGIN", "START", "COMMIT", "END", "ROLLBACK",
                             "ABORT", "SAVEPOINT", "RELEASE", "DISCARD", "CALL", "DO"})
_NO_TX = re.compile(r"\bCONCURRENTLY\b|^(?:CREATE|DROP|ALTER)\s+(?:DATABASE|TABLESPACE|SUBSCRIPTION|SYSTEM)\b"
                    r"|^PREPARE\s+TRANSACTION\b|^(?:COMMIT|ROLLBACK)\s+PREPARED\b", re.I)


@lru_cache(maxsize=1024)
def fits_a_transaction(sql: str) -> bool:
    """Whether ``sql`` may run inside ``BEGIN … COMMIT`` of qshell's own (behind a
    transaction pooler, to take its pid and set its timeout there)."""
    if first_keyword(sql) in _NO_TX_KEYWORDS:
        return False
    return _NO_TX.search(" ".join(strip_comments_head(sql)[:400].split())) is None


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

    @cached_property
    def begin_pid(self) -> str:
        """``begin``, then the backend's pid (behind a transaction pooler: the backend lent
        for this transaction; its own round trip, psycopg2 keeps only the last result)."""
        return self.begin + "; SELECT pg_backend_pid()"

    @property
    def end(self) -> str:
        return "ROLLBACK" if self.rollback else "COMMIT"

    @cached_property
    def wraps(self) -> bool:
        """Every statement needs an explicit transaction (not only the streamed ones)."""
        return self.rollback or self.isolation is not None or self.readonly

    @cached_property
    def wrapped(self) -> bool:
        """A streamed statement goes inside ``begin`` … ``end`` (a transaction mode, a timeout)."""
        return self.wraps or bool(self.timeout_ms)

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


def _pour(conn, columns: tuple, first: list, more, sink, shift: int = 0) -> int:  # noqa: ANN001
    """Hand every row of a result to ``sink`` batch by batch, keeping none; the count.
    ``shift``: lines qshell sent before the statement (its notices' LINE numbers)."""
    count = 0
    batch = first
    while True:
        try:
            sink(columns, batch, _notices(conn, shift))
        except BaseException as exc:  # the sink's own failure (a closed pipe, Ctrl-C): not the statement's
            raise _SinkFailed(exc) from exc
        count += len(batch)
        if len(batch) < BATCH:
            return count
        batch = more()
        if not batch:
            return count


_LINE_NO = re.compile(r"LINE (\d+): ")


def _shift_line(text: str, by: int) -> str:
    """libpq's ``LINE n:`` (and its caret) renumbered for the statement as the user wrote
    it, when qshell sent it after ``by`` lines of its own (the DECLARE line)."""
    lines = text.split("\n")
    if by and len(lines) > 1:
        m = _LINE_NO.match(lines[1])
        if m and int(m.group(1)) > by:
            new = f"LINE {int(m.group(1)) - by}: "
            delta = len(new) - len(m.group(0))
            lines[1] = new + lines[1][m.end():]
            if len(lines) > 2 and lines[2].strip() == "^":
                lines[2] = lines[2][-delta:] if delta < 0 else " " * delta + lines[2]
    return "\n".join(lines)


def server_message(exc: BaseException, offset: int = 0, shift: int = 0) -> ServerMessage | None:
    """The server's error as a ServerMessage, or None when the server said nothing (a lost
    connection, a Python error). ``offset`` characters and ``shift`` lines of the text
    sent were qshell's own (a DECLARE around the statement)."""
    orig = getattr(exc, "orig", None) or exc
    diag = getattr(orig, "diag", None)
    primary = getattr(diag, "message_primary", None) if diag is not None else None
    if diag is None or not primary:
        return None
    pos = diag.statement_position
    position = int(pos) - offset if pos and pos.isdigit() and int(pos) > offset else None
    text = (getattr(orig, "pgerror", None) or f"{diag.severity or 'ERROR'}:  {primary}").rstrip("\n")
    return ServerMessage(
        severity=diag.severity or "ERROR", sqlstate=diag.sqlstate, primary=primary, detail=diag.message_detail,
        hint=diag.message_hint, context=diag.context, position=position, internal_query=diag.internal_query,
        schema_name=diag.schema_name, table_name=diag.table_name, column_name=diag.column_name,
        datatype_name=diag.datatype_name, constraint_name=diag.constraint_name, source_file=diag.source_file,
        source_line=diag.source_line, source_function=diag.source_function, text=_shift_line(text, shift),
    )


def _notices(conn, shift: int = 0) -> tuple[str, ...]:  # noqa: ANN001
    """The notices the server sent since the last call, oldest first (NOTICE, WARNING,
    INFO... as libpq formats them, DETAIL and HINT included); ``shift``: their ``LINE n:``
    renumbered for the statement as written, when qshell sent ``shift`` lines before it."""
    box = conn.notices
    if not isinstance(box, deque):  # psycopg2's default list keeps only the last 50
        conn.notices = box = deque(box)
    if not box:
        return ()
    out = tuple(_shift_line(n.rstrip("\n"), shift) if shift else n.rstrip("\n") for n in box)
    box.clear()
    return out


def _declarable_refusal(exc: psycopg2.Error) -> bool:
    """DECLARE refused the statement while parsing it (SELECT INTO, a data-modifying
    WITH, FOR UPDATE with HOLD, a syntax error): nothing of it ran, so it may be sent
    again as it is. Any other error may come from running it: never sent twice."""
    diag = exc.diag
    return exc.pgcode in _NOT_DECLARABLE and diag.source_file in _PARSER_FILES


def execute_on(fairy, sql: str, index: int, worker: int | None, maxrows: int, run_start: float, picked: float,
               mode: TxMode = AUTOCOMMIT) -> QueryResult:
    """Run ``sql`` on a pooled connection (a SQLAlchemy fairy); see ``run_statement``."""
    return run_statement(fairy.dbapi_connection, fairy.info, sql, index, worker, maxrows, run_start, picked, mode,
                         lost=fairy.invalidate)


def run_statement(conn, info: dict, sql: str, index: int, worker: int | None, maxrows: int, run_start: float,
                  picked: float, mode: TxMode = AUTOCOMMIT, *, lost=None,  # noqa: ANN001
                  stream: bool = True, sink=None) -> QueryResult:
    """Run ``sql`` on ``conn`` (autocommit psycopg2); every error becomes the result's status.

    ``info`` is the connection's own state (its reused cursor, a cursor left to close).
    Row-returning statements stream through ``DECLARE … CURSOR`` + ``FETCH`` (one round
    trip for the first batch), keeping ``maxrows`` rows. In autocommit mode the cursor is
    ``WITH HOLD``: the statement, its commit and any error the commit raises (a deferred
    constraint) come back in that one round trip, so every outcome belongs to this
    statement; the exhausted cursor is closed with the connection's next statement.
    Other modes wrap the statement in ``BEGIN … COMMIT/ROLLBACK``, the end sent at once.
    Behind a transaction pooler (``info[POOLED]``) a cursor is never held across
    transactions (the next one may be on another backend): a streamed statement is a
    transaction of its own in every mode, ``BEGIN`` and ``pg_backend_pid()`` its first
    round trip (the pid recorded is the backend lent for it, not the pooler's cancel key);
    so is any other statement that may run in a transaction block, DDL included (its
    timeout a ``SET LOCAL``). Those that cannot (VACUUM, CREATE INDEX CONCURRENTLY…: see
    ``fits_a_transaction``, and any the server refuses with 25001) run plainly there, with
    no pid and no timeout (a notice says so): a session ``SET`` would land on another
    backend and stay there.
    Inside a transaction the caller opened (a library caller's ``BEGIN``), or without
    ``stream`` (the user's own session: the server sees exactly the statement typed, as
    from psql, which also holds a whole result in memory), it runs plainly.

    Blocks the calling greenlet until the server answers. ``info[CANCELLING]`` says a
    cancel was asked for (the result is then ``cancelled``); ``lost()`` is called when
    the connection broke. A kill of the greenlet (GreenletExit, KeyboardInterrupt)
    cancels the statement on the server and raises ``_Interrupted`` with the partial result.

    ``sink(columns, batch, notices)``, when given, receives every row of a row-returning
    statement batch by batch (at least one call, possibly with no rows; ``notices``: those
    the server sent before the batch) and nothing is kept: the result has no ``rows``,
    its ``rowcount`` is the true count. With a server-side cursor (``stream``) memory
    stays bounded by one batch.
    """
    pid = None
    lent_at: float | None = None  # behind a pooler: when its transaction got its backend
    in_tx = False
    restore_timeout: str | None = None
    skipped_timeout = False
    t0 = time.perf_counter()
    t1 = t0
    columns: tuple[Column, ...] = ()
    kept: list[tuple] = []
    count = 0
    command = ""
    offset = shift = 0  # characters / lines qshell put before the statement in what it sent
    streamed = False  # sent inside qshell's DECLARE (its notices' LINE numbers are one too high)
    try:
        refused, streamable = _plan(sql)
        if refused:
            raise QshellError(refused)
        pooled = info.get(POOLED, False)
        pid = None if pooled or NO_PID in info else conn.get_backend_pid()
        cur = info.get(_CURSOR_KEY)
        if cur is None or cur.closed:
            cur = info[_CURSOR_KEY] = conn.cursor()  # one client cursor per connection, reused
        box = conn.notices
        if box or box.__class__ is not deque:  # (made a deque once: psycopg2's list keeps only 50)
            _notices(conn)  # what earlier statements of qshell's own left there is not this one's
        streamed = False
        in_tx = conn.get_transaction_status() != _IDLE
        wrapped = mode.wrapped or pooled
        if stream and streamable and not in_tx:
            head = mode.begin + "; " if wrapped and not pooled else ""
            if pooled:  # BEGIN and the pid first: a transaction of its own, on one backend
                pid, lent_at = _begin_lent(cur, mode, info, run_start)
            closing = bool(info.pop(_CLOSE_PENDING, None))
            if closing:
                head = f"CLOSE {_CURSOR}; " + head
            text = _declare(head, sql, not wrapped)
            try:
                cur.execute(text)
                streamed = True
                if not wrapped:
                    info[_CLOSE_PENDING] = True  # the held cursor: closed with the next statement
            except psycopg2.Error as exc:
                _finish_tx(cur)
                if closing:
                    _still_open(cur, info)
                if not _declarable_refusal(exc):
                    offset, shift = len(text) - len(sql) - len(_TAIL), 1
                    raise
        if not streamed and info.pop(_CLOSE_PENDING, None):
            cur.execute(f"CLOSE {_CURSOR}")
        if streamed:
            t1 = time.perf_counter()
            columns = _columns(cur.description)
            first = cur.fetchall()
            if sink is None and len(first) < BATCH:  # the common case: one batch, no closure, no loop
                kept = first if len(first) <= maxrows else first[:maxrows]
                count = len(first)
            else:
                def more() -> list:
                    cur.execute(_FETCH)
                    return cur.fetchall()

                count = (_pour(conn, columns, first, more, sink, 1) if sink is not None
                         else _drain(cur, first, maxrows, kept, more))
            if wrapped:
                cur.execute(mode.end)  # its error, if any, is this statement's
            command = _SELECT_TAGS[count] if count < len(_SELECT_TAGS) else f"SELECT {count}"
        else:
            own_tx = not in_tx and (mode.wraps or (pooled and fits_a_transaction(sql)))
            if own_tx and _read_only_session_will_do(conn, mode, sql):
                own_tx = False
            if own_tx and pooled:
                pid, lent_at = _begin_lent(cur, mode, info, run_start)
            elif own_tx:
                cur.execute(mode.begin)
            elif mode.timeout_ms and not in_tx and pooled:
                # a session SET would stay on whichever backend the pooler lent, for its other
                # clients; and this statement (VACUUM...) cannot run in a transaction
                skipped_timeout = True
            elif mode.timeout_ms and not in_tx:
                # not in a transaction (VACUUM and friends refuse one): a session SET, undone below
                cur.execute("SHOW statement_timeout")
                restore_timeout = cur.fetchone()[0]
                cur.execute(f"SET statement_timeout = {int(mode.timeout_ms)}")
            _notices(conn)
            try:
                cur.execute(sql)
            except psycopg2.errors.ActiveSqlTransaction:
                if not (own_tx and pooled and not mode.wraps):
                    raise
                # refused in a transaction block (25001, before doing anything): plainly, without
                # a pid, as any statement that cannot run in a transaction behind the pooler
                cur.execute("ROLLBACK")
                own_tx, pid, lent_at = False, None, None
                skipped_timeout = bool(mode.timeout_ms)
                _notices(conn)
                cur.execute(sql)
            t1 = time.perf_counter()
            command = cur.statusmessage or ""
            if cur.description is not None:
                columns = _columns(cur.description)
                if sink is not None:
                    count = _pour(conn, columns, cur.fetchmany(BATCH), lambda: cur.fetchmany(BATCH), sink)
                else:
                    count = _drain(cur, cur.fetchmany(BATCH), maxrows, kept, lambda: cur.fetchmany(BATCH))
            else:
                count = max(cur.rowcount, 0)
            if own_tx:
                cur.execute(mode.end)
        notices = _notices(conn, 1 if streamed else 0) if conn.notices else ()
        if skipped_timeout:
            notices += (f"qshell: statement_timeout {mode.timeout_ms} ms not applied: behind a transaction pooler"
                        " it is set inside the query's transaction, and this statement runs outside one",)
        if restore_timeout is not None:
            cur.execute("SELECT set_config('statement_timeout', %s, false)", (restore_timeout,))
            restore_timeout = None
        t2 = time.perf_counter()
        return QueryResult(
            index=index, sql=sql, status=Status.OK, worker=worker, pid=pid, columns=columns,
            rows=tuple(kept), rowcount=count, command=command,
            wait_s=picked, exec_s=t1 - t0, fetch_s=t2 - t1,
            start_s=t0 - run_start, end_s=t2 - run_start, notices=notices, server=info.get(SERVER), lent_s=lent_at,
        )
    except _SinkFailed as failed:  # the statement is fine; a held cursor is closed with the next one
        raise failed.error from None
    except BaseException as exc:  # noqa: BLE001 - one failing query never stops the others
        t2 = time.perf_counter()
        killed = isinstance(exc, (KeyboardInterrupt, gevent.GreenletExit))
        diag = server_message(exc, offset, shift)
        if killed or (isinstance(exc, extensions.QueryCanceledError) and info.get(CANCELLING)):
            status = Status.CANCELLED
            text, state = "cancelled", getattr(exc, "pgcode", None)
        elif isinstance(exc, extensions.QueryCanceledError) and mode.timeout_ms and "statement timeout" in str(exc):
            status = Status.TIMEOUT
            text, state = f"timeout after {t2 - t0:.3f} s (statement_timeout {mode.timeout_ms} ms)", exc.pgcode
        else:
            status = Status.ERROR
            text, state = _error_text(exc)
        notices = ()
        try:
            notices = _notices(conn, 1 if streamed or shift else 0)
            if conn.closed:
                if lost is not None:
                    lost()
                info.pop(_CLOSE_PENDING, None)
                text = f"{text} (connection lost)" if "connection" not in text.lower() else text
            elif not in_tx:
                cur2 = conn.cursor()
                info.pop(_CURSOR_KEY, None)
                _finish_tx(cur2)
                if restore_timeout is not None:
                    cur2.execute("SELECT set_config('statement_timeout', %s, false)", (restore_timeout,))
                _notices(conn)
        except Exception:  # noqa: BLE001 - the connection is beyond use
            if lost is not None:
                lost()
        result = QueryResult(
            index=index, sql=sql, status=status, worker=worker, pid=pid, error=text, sqlstate=state,
            wait_s=picked, exec_s=t2 - t0, start_s=t0 - run_start, end_s=t2 - run_start,
            notices=notices, diag=diag, server=info.get(SERVER), lent_s=lent_at,
        )
        if killed:
            raise _Interrupted(result, isinstance(exc, KeyboardInterrupt)) from None
        return result


_IDLE = extensions.TRANSACTION_STATUS_IDLE
_SELECT_TAGS = tuple(f"SELECT {i}" for i in range(BATCH + 1))  # the command tags of small results, made once
_COLUMNS: dict[tuple, tuple[Column, ...]] = {}  # result descriptions seen, as Columns (shared, bounded)


def _columns(description) -> tuple[Column, ...]:  # noqa: ANN001 - psycopg2's cursor.description
    """A result's columns; the same description gives the same (immutable) tuple."""
    key = tuple([(d.name, d.type_code) for d in description])
    found = _COLUMNS.get(key)
    if found is None:
        found = tuple([Column(name, oid) for name, oid in key])
        if len(_COLUMNS) < 1024:
            _COLUMNS[key] = found
    return found


def conn_params(conn) -> dict[str, str]:  # noqa: ANN001
    """Where ``conn`` is connected, from libpq (never includes the password)."""
    params = dict(conn.info.dsn_parameters)
    params.pop("password", None)
    params["server_version"] = str(conn.info.parameter_status("server_version") or "")
    params["backend_pid"] = str(conn.get_backend_pid())
    params["superuser"] = str(conn.info.parameter_status("is_superuser") or "")
    return params


def _still_open(cur, info: dict) -> None:  # noqa: ANN001
    """After a failed ``CLOSE c; DECLARE …`` message: did the CLOSE run? It does when a later
    statement of the message fails (a dropped portal is not restored), not when the whole
    message failed to parse. Ask the server rather than guess: a wrong guess is an error
    ("cursor does not exist" / "already exists") blamed on the next, innocent statement."""
    if cur.connection.closed:
        return
    try:
        cur.execute("SELECT 1 FROM pg_cursors WHERE name = %s", (_CURSOR,))
        if cur.fetchone() is not None:
            info[_CLOSE_PENDING] = True
    except psycopg2.Error:
        pass


def close_cursor(conn, info: dict) -> None:  # noqa: ANN001
    """Close the held cursor a statement left (before the connection is given back)."""
    if info.pop(_CLOSE_PENDING, None) and not conn.closed:
        conn.cursor().execute(f"CLOSE {_CURSOR}")


def settle(fairy, worker: bool = False) -> None:  # noqa: ANN001
    """Leave a pooled connection clean before it goes back to the pool: the held cursor
    closed and, with ``worker``, a transaction still open there (a staged ``BEGIN``
    through the library) rolled back, never carried into the pool."""
    conn = fairy.dbapi_connection
    if conn is None or conn.closed:
        fairy.info.pop(_CLOSE_PENDING, None)
        return
    try:
        if conn.info.transaction_status == extensions.TRANSACTION_STATUS_IDLE:
            close_cursor(conn, fairy.info)
        if worker and conn.info.transaction_status != extensions.TRANSACTION_STATUS_IDLE:
            conn.cursor().execute("ROLLBACK")
        _notices(conn)
    except psycopg2.Error:
        fairy.invalidate()


_TX_CONTROL = frozenset({"BEGIN", "START", "COMMIT", "END", "ROLLBACK", "ABORT", "SAVEPOINT", "RELEASE", "PREPARE"})


@lru_cache(maxsize=4096)
def stage_refusal(sql: str) -> str | None:
    """Why ``sql`` cannot be a staged query, or None: what cannot run at all, and
    transaction control (each staged query is its own transaction; see \\set tx).
    Cached per SQL text: a script staging one statement many times lexes it once."""
    word = first_keyword(sql)
    if word == "COPY":
        return refuse_reason(sql)
    if word in _TX_CONTROL and not (word == "PREPARE" and "TRANSACTION" not in sql.upper()):
        return (f"{word} cannot be staged: each staged query runs in a transaction of its own"
                " (\\set tx rollback, \\set isolation ...); run it as a plain statement instead")
    return None


_FETCH = f"FETCH FORWARD {BATCH} FROM {_CURSOR}"
_TAIL = f"\n; {_FETCH}"


@lru_cache(maxsize=4096)
def _declare(head: str, sql: str, hold: bool) -> str:
    """One round trip: [CLOSE the previous cursor;] [BEGIN …;] DECLARE; FETCH the first batch.

    The statement starts a line of its own (error positions stay on the user's lines);
    the newline after it ends a trailing ``--`` comment."""
    return f"{head}DECLARE {_CURSOR} NO SCROLL CURSOR{' WITH HOLD' if hold else ''} FOR\n{sql}{_TAIL}"


def _begin_lent(cur, mode: TxMode, info: dict, run_start: float) -> tuple[int, float]:  # noqa: ANN001
    """Behind a transaction pooler: ``BEGIN`` and the pid of the backend lent for this
    transaction; (that pid, the run offset it was known at). ``info[ON_PID]`` hears it (a
    load attributes samples by it while the query runs)."""
    cur.execute(mode.begin_pid)
    pid = int(cur.fetchone()[0])  # (values come as text: _keep_text)
    told = info.get(ON_PID)
    if told is not None:
        told(pid)
    return pid, time.perf_counter() - run_start


def _read_only_session_will_do(conn, mode: TxMode, sql: str) -> bool:  # noqa: ANN001
    """Read only, nothing else asked, a statement that cannot run in a transaction block
    (VACUUM…), on a session whose default is read only (the server reports it): it runs
    plainly there, as from psql with ``default_transaction_read_only`` (a ``BEGIN READ
    ONLY`` would make the server refuse it with 25001)."""
    return (mode.readonly and not mode.rollback and mode.isolation is None and not fits_a_transaction(sql)
            and conn.info.parameter_status("default_transaction_read_only") == "on")


@lru_cache(maxsize=4096)
def _plan(sql: str) -> tuple[str | None, bool]:
    """(why it is refused, whether it can stream through a cursor), once per SQL text."""
    return refuse_reason(sql), first_keyword(sql) in _CURSOR_KEYWORDS


class _SinkFailed(BaseException):
    """What the row sink raised, carried past the statement's own error handling."""

    def __init__(self, error: BaseException) -> None:
        super().__init__()
        self.error = error


class _Interrupted(BaseException):
    """Carries the partial result of a query whose worker was killed; ``keyboard``: by a
    KeyboardInterrupt (the user), not by the engine stopping its workers."""

    def __init__(self, result: QueryResult, keyboard: bool = False) -> None:
        super().__init__()
        self.result = result
        self.keyboard = keyboard


