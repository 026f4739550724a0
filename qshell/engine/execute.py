"""Running one statement on one pooled connection: the engine's hot path.

Every statement is sent as written, once, as psql sends it: no cursor, no wrapper (a
statement inside ``DECLARE … CURSOR`` gets another plan: no parallel workers, a
fast-start plan). Its result is held by libpq, as psql holds it; only the first
``maxrows`` rows become Python values, the true row count is always reported. Every error becomes the result's status, with everything
the server said (its notices, DETAIL, HINT, CONTEXT, position). Used by the
QueryPool's workers and by the user's own session connection alike.
"""
from __future__ import annotations

import gc
import re
import time
from collections import deque
from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import Sequence

import gevent
import psycopg2
import psycopg2.errors
from psycopg2 import extensions

from qshell.common.errors import QshellError
from qshell.records.results import Column, QueryResult, ServerMessage, Status
from qshell.script.sqlsplit import first_keyword, split, strip_comments_head

BATCH = 1000  # rows per FETCH from the server-side cursor
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
    """Why the engine's workers will not run ``sql`` (a staged query), or None. COPY: its
    data belongs to the user's session (a script's lines, a file, the terminal), which the
    workers are not, and psycopg2 cannot run it on their cooperative connections; wherever it
    stands in a ``\\;`` group (a COPY FROM STDIN after a SELECT would leave the connection
    waiting for data). The user's session runs COPY (``shell/copyio.py``). A text without the word is answered at once (a load
    cycling over 10,000 texts would miss any cache); one with it is lexed once."""
    if has_copy(sql):
        return ("COPY is not supported in a staged query: the run's workers are not your session and have no data"
                " stream; run it as a plain statement (or \\copy) at the prompt or in a script, where it runs as in psql")
    return None


def has_copy(sql: str) -> bool:
    """Some statement of ``sql`` (of a ``\\;`` group too) is a COPY. A text without the word
    is answered at once; one with it is lexed once (cached)."""
    return "copy" in sql.lower() and _has_copy(sql)


@lru_cache(maxsize=1024)
def _has_copy(sql: str) -> bool:
    return any(first_keyword(s) == "COPY" for s in statements(sql))


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
        return " ".join(parts)

    @cached_property
    def begin_pid(self) -> str:
        """Behind a transaction pooler: ``begin``, the timeout as a ``SET LOCAL`` (a session
        SET would stay on the lent backend), then the backend's pid (the backend lent for
        this transaction; psycopg2 keeps only the last result)."""
        timeout = f"; SET LOCAL statement_timeout = {int(self.timeout_ms)}" if self.timeout_ms else ""
        return self.begin + timeout + "; SELECT pg_backend_pid()"

    @cached_property
    def session(self) -> dict[str, str]:
        """What the workers' sessions get for the run (the timeout: a session setting, so
        that the statement is sent alone, as psql sends it after ``SET statement_timeout``)."""
        return {"statement_timeout": str(int(self.timeout_ms))} if self.timeout_ms else {}

    @property
    def end(self) -> str:
        return "ROLLBACK" if self.rollback else "COMMIT"

    @cached_property
    def wraps(self) -> bool:
        """Every statement runs between ``begin`` and ``end``."""
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


def _pour(conn, columns: tuple, cur, count: int, batch: int, sink) -> None:  # noqa: ANN001
    """Hand every row of a result held by libpq to ``sink``, ``batch`` rows at a time
    (at least one call), keeping none. A sink with ``surveys`` true is first given every
    row by ``sink.survey(columns, rows)``, batch by batch, then the rows again from the
    first (``scroll``: libpq still holds them all): two passes, one batch of Python values
    alive at a time, as psql's aligned table of a whole result needs its widths first.

    The cyclic garbage collector is paused meanwhile: the rows make no cycles (they are
    freed by their counts), but each batch alive at a collection is promoted, and the full
    passes that follow took 13% of a 2,000,000-row table's time (py-spy, measured). The
    hub gets a turn before each batch: SIGINT is a gevent signal watcher (``sigint_calls``),
    which never ran while rows were printed, so Ctrl-C could not stop them."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        _pour_rows(conn, columns, cur, count, batch, sink)
    finally:
        if collecting:
            gc.enable()


def _pour_rows(conn, columns: tuple, cur, count: int, batch: int, sink) -> None:  # noqa: ANN001
    if count and getattr(sink, "surveys", False):
        left = count
        while left > 0:
            rows = cur.fetchmany(batch)
            if not rows:
                break
            left -= len(rows)
            try:
                gevent.sleep(0)  # the hub's turn: a Ctrl-C (its signal watcher) reaches the sink
                sink.survey(columns, rows)
            except BaseException as exc:  # Ctrl-C while the widths are taken: the sink's, as below
                raise _SinkFailed(exc) from exc
        rows = []
        cur.scroll(0, mode="absolute")
    left = count
    while True:
        rows = cur.fetchmany(batch) if left else []
        left -= len(rows)
        try:
            gevent.sleep(0)
            sink(columns, rows, _notices(conn))
        except BaseException as exc:  # the sink's own failure (a closed pipe, Ctrl-C): not the statement's
            raise _SinkFailed(exc) from exc
        if left <= 0 or not rows:
            return


def server_message(exc: BaseException) -> ServerMessage | None:
    """The server's error as a ServerMessage, or None when the server said nothing (a lost
    connection, a Python error)."""
    orig = getattr(exc, "orig", None) or exc
    diag = getattr(orig, "diag", None)
    primary = getattr(diag, "message_primary", None) if diag is not None else None
    if diag is None or not primary:
        return None
    pos = diag.statement_position
    position = int(pos) if pos and pos.isdigit() else None
    text = (getattr(orig, "pgerror", None) or f"{diag.severity or 'ERROR'}:  {primary}").rstrip("\n")
    return ServerMessage(
        severity=diag.severity or "ERROR", sqlstate=diag.sqlstate, primary=primary, detail=diag.message_detail,
        hint=diag.message_hint, context=diag.context, position=position, internal_query=diag.internal_query,
        schema_name=diag.schema_name, table_name=diag.table_name, column_name=diag.column_name,
        datatype_name=diag.datatype_name, constraint_name=diag.constraint_name, source_file=diag.source_file,
        source_line=diag.source_line, source_function=diag.source_function, text=text,
    )


def _notices(conn) -> tuple[str, ...]:  # noqa: ANN001
    """The notices the server sent since the last call, oldest first (NOTICE, WARNING,
    INFO... as libpq formats them, DETAIL and HINT included)."""
    box = conn.notices
    if not isinstance(box, deque):  # psycopg2's default list keeps only the last 50
        conn.notices = box = deque(box)
    if not box:
        return ()
    out = tuple(n.rstrip("\n") for n in box)
    box.clear()
    return out


def execute_on(fairy, sql: str, index: int, worker: int | None, maxrows: int, run_start: float, picked: float,
               mode: TxMode = AUTOCOMMIT) -> QueryResult:
    """Run ``sql`` on a pooled connection (a SQLAlchemy fairy); see ``run_statement``."""
    return run_statement(fairy.dbapi_connection, fairy.info, sql, index, worker, maxrows, run_start, picked, mode,
                         lost=fairy.invalidate)


def run_statement(conn, info: dict, sql: str, index: int, worker: int | None, maxrows: int, run_start: float,
                  picked: float, mode: TxMode = AUTOCOMMIT, *, lost=None,  # noqa: ANN001
                  sink=None, batch: int = BATCH, describe: bool = True) -> QueryResult:
    """Run ``sql`` on ``conn`` (autocommit psycopg2); every error becomes the result's status.

    The text is sent as written, once, in one Query message, as psql sends it (a ``\\;``
    group too: one implicit transaction): no cursor, no wrapper, never sent again. Its
    whole result is held by libpq, as psql holds it; only the first ``maxrows`` rows
    become Python values, the true count comes from the result. A transaction mode sends
    ``BEGIN …`` before it and ``COMMIT``/``ROLLBACK`` after it, each a statement of its
    own, as a user typing them in psql would; the final ``ROLLBACK`` of ``\\set tx
    rollback`` is checked (a "no transaction in progress" warning means the text's work
    was committed: a loud notice says so). A statement timeout is the connection's
    session setting (given for the run), not a wrapper.
    Behind a transaction pooler (``info[POOLED]``) each statement that may run in a
    transaction block is one of its own, ``BEGIN`` and ``pg_backend_pid()`` its first
    round trip (the pid recorded is the backend lent for it, not the pooler's cancel key;
    the timeout a ``SET LOCAL`` there). Those that cannot (VACUUM, CREATE INDEX
    CONCURRENTLY…: see ``fits_a_transaction``, and a single statement the server refuses
    with 25001 before running it) run plainly, with no pid and no timeout (a notice says so).

    A worker's text (``worker`` not None) is a unit of its own: a transaction it leaves
    open (``SELECT 1 \\; BEGIN``) is rolled back and a notice says so; the user's session
    (``worker`` None) is left as the server has it, as psql leaves it (a failed ``BEGIN
    \\; SELECT 1/0`` stays a failed transaction).

    Blocks the calling greenlet until the server answers. ``info[CANCELLING]`` says a
    cancel was asked for (the result is then ``cancelled``); ``lost()`` is called when
    the connection broke. A kill of the greenlet (GreenletExit, KeyboardInterrupt)
    cancels the statement on the server and raises ``_Interrupted`` with the partial result.

    ``sink(columns, rows, notices)``, when given, receives every row of a row-returning
    result, ``batch`` rows at a time (at least one call, possibly with no rows;
    ``notices``: those the server sent with it) and nothing is kept: the result has no
    ``rows``, its ``rowcount`` is the true count. A sink with ``surveys`` true has every
    row handed to its ``survey(columns, rows)`` first, the same way (see ``_pour``).
    ``describe`` False: the result's ``columns`` are left empty (a load keeps no rows).
    """
    pid = None
    lent_at: float | None = None  # behind a pooler: when its transaction got its backend
    pool_wait: float | None = None  # behind a pooler: dispatch -> its backend (BEGIN + pid answered)
    in_tx = False
    own_tx = False
    skipped_timeout = False
    t0 = time.perf_counter()
    t1 = t0
    columns: tuple[Column, ...] = ()
    kept: list[tuple] | tuple[tuple, ...] = []
    count = 0
    command = ""
    extra: tuple[str, ...] = ()  # qshell's own notes about this statement
    try:
        refused = refuse_reason(sql)
        if refused:
            raise QshellError(refused)
        pooled = info.get(POOLED, False)
        if pooled or NO_PID in info:
            pid = None
        else:  # (asked once per connection: libpq's answer never changes, and an int per query adds up)
            known = info.get(_PID_KEY)
            if known is None or known[0] is not conn:
                known = info[_PID_KEY] = (conn, conn.get_backend_pid())
            pid = known[1]
        cur = info.get(_CURSOR_KEY)
        if cur is None or cur.closed:
            cur = info[_CURSOR_KEY] = conn.cursor()  # one client cursor per connection, reused
        box = conn.notices
        if box or box.__class__ is not deque:  # (made a deque once: psycopg2's list keeps only 50)
            _notices(conn)  # what earlier statements of qshell's own left there is not this one's
        in_tx = conn.get_transaction_status() != _IDLE
        if not in_tx:
            if pooled and (mode.wraps or fits_a_transaction(sql)) and not _read_only_session_will_do(conn, mode, sql):
                pid, lent_at = _begin_lent(cur, mode, info, run_start)
                own_tx = True
                # the wait in the pooler's queue is not the query's time: it runs from here
                pool_wait = run_start + lent_at - t0
                t0 = run_start + lent_at
            elif mode.wraps and not _read_only_session_will_do(conn, mode, sql):
                cur.execute(mode.begin)
                own_tx = True
            elif pooled and mode.timeout_ms:
                # a session SET would stay on whichever backend the pooler lent, for its other
                # clients; and this statement (VACUUM...) cannot run in a transaction
                skipped_timeout = True
            if own_tx and box:
                _notices(conn)
        try:
            cur.execute(sql)
        except psycopg2.errors.ActiveSqlTransaction as refusal:
            if not (own_tx and pooled and not mode.wraps and _single(sql) and _refused_as_a_block(refusal)):
                raise
            # one statement refused in a transaction block (25001, before it did anything):
            # plainly, without a pid, as any statement that cannot run in a transaction
            # behind the pooler
            cur.execute("ROLLBACK")
            own_tx, pid, lent_at = False, None, None
            if pool_wait is not None:  # plainly: its time is from dispatch again
                t0 -= pool_wait
                pool_wait = None
            skipped_timeout = bool(mode.timeout_ms)
            _notices(conn)
            cur.execute(sql)
        t1 = time.perf_counter()
        command = _tag(cur.statusmessage or "")
        if cur.description is not None:
            if describe:
                columns = _columns(cur.description)
            count = max(cur.rowcount, 0)
            if sink is not None:
                _pour(conn, columns, cur, count, batch, sink)
            elif maxrows > 0 and count:
                kept = cur.fetchmany(maxrows) if count > maxrows else cur.fetchall()
                if count == 1 and worker is not None:
                    kept = _shared_row(kept)
        else:
            count = max(cur.rowcount, 0)
        if own_tx:
            extra = _end_tx(cur, mode)
        elif worker is not None and not in_tx and conn.get_transaction_status() != _IDLE:
            extra = _left_open(cur)
        notices = _notices(conn) if conn.notices else ()
        if skipped_timeout:
            notices += (f"qshell: statement_timeout {mode.timeout_ms} ms not applied: behind a transaction pooler"
                        " it is set inside the query's transaction, and this statement runs outside one",)
        t2 = time.perf_counter()
        # every field in order (records.results.QueryResult), positionally: once per query,
        # a third of the time keywords take (test_records checks the order)
        return QueryResult(
            index, sql, Status.OK, worker, pid, columns, kept if kept.__class__ is tuple else tuple(kept), count,
            command, None, None, picked, t1 - t0, t2 - t1, t0 - run_start - (pool_wait or 0.0), t2 - run_start,
            (), (), notices + extra, None, 0, None, None, None, None, info.get(SERVER), lent_at, pool_wait,
        )
    except _SinkFailed as failed:  # the statement is fine; its sink failed
        raise failed.error from None
    except BaseException as exc:  # noqa: BLE001 - one failing query never stops the others
        t2 = time.perf_counter()
        killed = isinstance(exc, (KeyboardInterrupt, gevent.GreenletExit))
        diag = server_message(exc)
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
            notices = _notices(conn)
            if conn.closed:
                if lost is not None:
                    lost()
                if not killed:  # (a cancelled greenlet's connection is closed by qshell: no loss to report)
                    text = f"{text} (connection lost)" if "connection" not in text.lower() else text
            elif not in_tx and (own_tx or worker is not None):
                # qshell's own transaction, or a staged text's: never carried into the next query.
                # The user's session keeps what the server has (a failed BEGIN \\; group stays failed)
                cur2 = conn.cursor()
                info.pop(_CURSOR_KEY, None)
                _finish_tx(cur2)
                _notices(conn)
        except Exception:  # noqa: BLE001 - the connection is beyond use
            if lost is not None:
                lost()
        result = QueryResult(
            index=index, sql=sql, status=status, worker=worker, pid=pid, error=text, sqlstate=state,
            wait_s=picked, exec_s=t2 - t0, start_s=t0 - run_start - (pool_wait or 0.0), end_s=t2 - run_start,
            notices=notices, diag=diag, server=info.get(SERVER), lent_s=lent_at, pool_wait_s=pool_wait,
        )
        if killed:
            raise _Interrupted(result, isinstance(exc, KeyboardInterrupt)) from None
        return result


_NO_TX_IN_PROGRESS = "there is no transaction in progress"


def _end_tx(cur, mode: TxMode) -> tuple[str, ...]:  # noqa: ANN001
    """Send the transaction mode's ``COMMIT``/``ROLLBACK``; what qshell must say about it.
    A rollback that finds no transaction means the text's work was committed already:
    said loudly (its own WARNING stays among the statement's notices)."""
    conn = cur.connection
    before = len(conn.notices)
    cur.execute(mode.end)
    said = list(conn.notices)[before:]
    if mode.rollback and any(_NO_TX_IN_PROGRESS in n for n in said):
        return ("qshell: WARNING:  this query's work was COMMITTED: its transaction had ended before"
                " qshell's ROLLBACK (\\set tx rollback could not undo it)",)
    return ()


def _left_open(cur) -> tuple[str, ...]:  # noqa: ANN001
    """A staged text left a transaction open (``SELECT 1 \\; BEGIN``): rolled back, said."""
    cur.execute("ROLLBACK")
    return ("qshell: the query left a transaction open; rolled back (each staged query is a unit of its own)",)


def _refused_as_a_block(exc: psycopg2.Error) -> bool:
    """The server refused the statement itself for running in a transaction block
    (PreventInTransactionBlock, at its top level: nothing of it ran), not an error raised
    while it ran (a function's ``RAISE … USING ERRCODE = '25001'`` after a ``nextval``)."""
    diag = exc.diag
    return diag.source_function == "PreventInTransactionBlock" and not diag.context


def _single(sql: str) -> bool:
    """``sql`` is one statement (not a ``\\;`` group)."""
    return len(statements(sql)) <= 1


@lru_cache(maxsize=4096)
def statements(sql: str) -> tuple[str, ...]:
    """The statements of a text as psql's lexer splits it (a ``\\;`` group gives several)."""
    parts = split(sql)
    rest = parts.rest if strip_comments_head(parts.rest).strip() else ""
    return parts.statements + ((rest.strip(),) if rest else ())


_IDLE = extensions.TRANSACTION_STATUS_IDLE
_PID_KEY = "qshell_pid"  # info key: (the connection, its backend pid), asked once
_TAGS: dict[str, str] = {}  # command tags seen (a run repeats a few): one string each
_ROWS: dict[tuple, tuple] = {}  # small one-row results seen (SELECT 1, a count): one tuple each


def _one_of(table: dict, value, limit: int):  # noqa: ANN001, ANN202 - a str or a tuple, and the same back
    """``value``, or the equal one ``table`` holds already (kept there while it has fewer
    than ``limit``): a run repeating a value holds it once."""
    found = table.get(value)
    if found is None:
        found = value
        if len(table) < limit:
            table[value] = value
    return found


def _tag(text: str) -> str:
    """The command tag as one shared string (50,000 ``SELECT 1`` hold one, not 50,000)."""
    return _one_of(_TAGS, text, 1024)


def _shared_row(kept: Sequence[tuple]) -> tuple[tuple, ...]:
    """A staged query's one-row result as a tuple shared with every equal one kept before
    (short values only; bounded): a run of many small queries holds each answer once."""
    rows = tuple(kept)
    row = rows[0]
    if len(row) > 4 or any(v is not None and len(v) > 32 for v in row):
        return rows
    return _one_of(_ROWS, rows, 4096)


_COLUMNS: dict[tuple, tuple[Column, ...]] = {}  # result descriptions seen, as Columns (shared, bounded)


def _columns(description) -> tuple[Column, ...]:  # noqa: ANN001 - psycopg2's cursor.description
    """A result's columns; the same description gives the same (immutable) tuple."""
    if len(description) == 1:  # (the common small result: no list built)
        d = description[0]
        key: tuple = (d.name, d.type_code)
    else:
        key = tuple([(d.name, d.type_code) for d in description])
    found = _COLUMNS.get(key)
    if found is None:
        found = (Column(*key),) if len(description) == 1 else tuple([Column(name, oid) for name, oid in key])
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


def settle(fairy, worker: bool = False) -> None:  # noqa: ANN001
    """Leave a pooled connection clean before it goes back to the pool: with ``worker``, a
    transaction still open there (a staged ``BEGIN`` through the library) rolled back,
    never carried into the pool."""
    conn = fairy.dbapi_connection
    if conn is None or conn.closed:
        return
    try:
        if worker and conn.info.transaction_status != extensions.TRANSACTION_STATUS_IDLE:
            conn.cursor().execute("ROLLBACK")
        _notices(conn)
    except psycopg2.Error:
        fairy.invalidate()


_TX_CONTROL = frozenset({"BEGIN", "START", "COMMIT", "END", "ROLLBACK", "ABORT", "SAVEPOINT", "RELEASE", "PREPARE"})
_ENDS_TX = re.compile(r"^(?:COMMIT|END|ABORT|ROLLBACK(?!\s+(?:WORK\s+|TRANSACTION\s+)?TO\b)|PREPARE\s+TRANSACTION)\b", re.I)


_COMMENTS = re.compile(r"/\*.*?\*/|--[^\n\r]*", re.S)  # (not nested: a nested one keeps the refusal)


def _words(sql: str) -> str:
    """The head of a statement, comments dropped, its words one space apart."""
    return " ".join(strip_comments_head(sql)[:200].split())


@lru_cache(maxsize=4096)
def tx_control(sql: str) -> str | None:
    """The first statement of ``sql`` (split as psql's lexer splits a ``\\;`` group) that
    controls transactions (BEGIN, COMMIT, SAVEPOINT, PREPARE TRANSACTION…), as its first
    words; None when there is none."""
    for stmt in statements(sql):
        word = first_keyword(stmt)
        if word in _TX_CONTROL and not (word == "PREPARE" and not _words(stmt).upper().startswith("PREPARE TRANSACTION")):
            return " ".join(_words(stmt).split()[:2]).upper() if word in ("PREPARE", "START") else word
    return None


@lru_cache(maxsize=4096)
def ends_transaction(sql: str) -> str | None:
    """The first statement of ``sql`` that would end a transaction qshell opened (COMMIT,
    END, ROLLBACK but ROLLBACK TO, ABORT, PREPARE TRANSACTION, COMMIT/ROLLBACK PREPARED),
    as its first words; None when there is none."""
    for stmt in statements(sql):
        head = _words(stmt)
        if head[:8].upper() == "ROLLBACK":  # ROLLBACK /* … */ TO s keeps the transaction: comments out
            head = " ".join(_COMMENTS.sub(" ", strip_comments_head(stmt)[:400]).split())
        if _ENDS_TX.match(head):
            return " ".join(head.split()[:2]).upper() if head.upper().startswith("PREPARE") else head.split()[0].upper()
    return None


@lru_cache(maxsize=4096)
def stage_refusal(sql: str, rollback: bool = False) -> str | None:
    """Why ``sql`` cannot be a staged query, or None: what cannot run at all, transaction
    control as its first statement (each staged query is its own transaction; see \\set
    tx), and, with ``rollback`` (\\set tx rollback), any statement of it that would end
    qshell's transaction, wherever it stands: its work would be committed.
    Cached per SQL text: a script staging one statement many times lexes it once."""
    refused = refuse_reason(sql)
    if refused:
        return refused
    word = first_keyword(sql)
    if word in _TX_CONTROL and not (word == "PREPARE" and "TRANSACTION" not in sql.upper()):
        return (f"{word} cannot be staged: each staged query runs in a transaction of its own"
                " (\\set tx rollback, \\set isolation ...); run it as a plain statement instead")
    if rollback:
        ending = ends_transaction(sql)
        if ending:
            return (f"{ending} in a staged query is refused with \\set tx rollback: it would end qshell's transaction"
                    " and the query's work would be committed")
    return None


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


def ran_in_own_transaction(mode: TxMode, sql: str) -> bool:
    """Whether ``run_statement`` put ``sql`` inside a ``BEGIN`` of qshell's own in this mode
    (where a procedure's COMMIT fails with 2D000): a transaction mode, but for read only
    alone on a statement that cannot run in a transaction block, which may then run plainly
    on a read-only session (``_read_only_session_will_do``). Said conservatively: False
    whenever it may have run plainly."""
    return mode.wraps and not (mode.readonly and not mode.rollback and mode.isolation is None
                               and not fits_a_transaction(sql))


def _read_only_session_will_do(conn, mode: TxMode, sql: str) -> bool:  # noqa: ANN001
    """Read only, nothing else asked, a statement that cannot run in a transaction block
    (VACUUM…), on a session whose default is read only (the server reports it): it runs
    plainly there, as from psql with ``default_transaction_read_only`` (a ``BEGIN READ
    ONLY`` would make the server refuse it with 25001)."""
    return (mode.readonly and not mode.rollback and mode.isolation is None and not fits_a_transaction(sql)
            and conn.info.parameter_status("default_transaction_read_only") == "on")


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


