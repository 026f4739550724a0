"""Result records: the one language between the engine and the renderers.

Frozen dataclasses, no behaviour beyond derived figures. Times are seconds (floats)
measured with ``time.perf_counter``; offsets are relative to the run's start.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from qshell.records.cpu import RunCpu
    from qshell.records.plans import Plan
    from qshell.records.resources import Resources

# command tags after which the catalog (completion names) may have changed
DDL_TAGS = frozenset({"CREATE", "ALTER", "DROP", "COMMENT"})

# a run is client-bound when qshell's own CPU time / wall reaches this (see README)
CLIENT_BOUND = 0.6  # measured: 10,000 `SELECT 1` at N=8 on 2 cores 0.72-0.76; at N=1 0.49-0.50; sleeping 0.01
CLIENT_BOUND_MIN_WALL = 0.05  # shorter runs: too few samples of CPU time to tell

# PostgreSQL type OIDs psql right-aligns: its column_type_alignment() (src/fe_utils/print.c)
# int8 20, int2 21, int4 23, oid 26, xid 28, cid 29, float4 700, float8 701, money 790,
# numeric 1700, xid8 5069
NUMERIC_OIDS = frozenset({20, 21, 23, 26, 28, 29, 700, 701, 790, 1700, 5069})


class Status(str, Enum):
    OK = "ok"
    ERROR = "error"
    CANCELLED = "cancelled"
    TIMEOUT = "timeout"

    def __str__(self) -> str:
        return self.value


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    type_oid: int

    @property
    def numeric(self) -> bool:
        return self.type_oid in NUMERIC_OIDS


@dataclass(frozen=True, slots=True)
class ServerMessage:
    """Everything the server said about an error (psycopg2's ``diag``), kept so that it
    can be shown as psql shows it: ``text`` as libpq formats it by default (``ERROR:``,
    ``LINE n:`` with its caret, ``DETAIL:``, ``HINT:``, ``CONTEXT:``), the fields for
    JSON and for ``\\errverbose``. ``position`` counts characters of the statement as
    the user wrote it (1-based), not of what qshell wrapped around it."""

    severity: str = "ERROR"
    sqlstate: str | None = None
    primary: str = ""
    detail: str | None = None
    hint: str | None = None
    context: str | None = None
    position: int | None = None
    internal_query: str | None = None
    schema_name: str | None = None
    table_name: str | None = None
    column_name: str | None = None
    datatype_name: str | None = None
    constraint_name: str | None = None
    source_file: str | None = None
    source_line: str | None = None
    source_function: str | None = None
    text: str = ""  # libpq's default-verbosity text, without the final newline

    def verbose(self) -> str:
        """psql's ``\\errverbose``: libpq's verbose form of the same error."""
        lines = self.text.split("\n")
        state = f"{self.sqlstate}: " if self.sqlstate else ""
        out = [f"{self.severity}:  {state}{self.primary}"]
        if len(lines) > 1 and lines[1].startswith("LINE "):
            out.extend(lines[1:3])
        for label, value in (("DETAIL", self.detail), ("HINT", self.hint), ("QUERY", self.internal_query),
                             ("CONTEXT", self.context), ("SCHEMA NAME", self.schema_name),
                             ("TABLE NAME", self.table_name), ("COLUMN NAME", self.column_name),
                             ("DATATYPE NAME", self.datatype_name), ("CONSTRAINT NAME", self.constraint_name)):
            if value:
                out.append(f"{label}:  {value}")
        if self.source_function or self.source_file:
            out.append(f"LOCATION:  {self.source_function or ''}, {self.source_file or ''}:{self.source_line or ''}")
        return "\n".join(out)


@dataclass(frozen=True, slots=True)
class Server:
    """The server a worker's connection reached: libpq's host and port (one of a multi-host
    target's, or a pooler's) and whether it was a standby (``pg_is_in_recovery()``), both
    read when the connection was opened. One object per connection, shared by its results."""

    host: str  # "host:port" as libpq names it (a socket directory for a Unix socket)
    standby: bool

    def __hash__(self) -> int:  # (the host string's hash is cached: a run looks a server up per result)
        return hash(self.host) ^ self.standby

    @property
    def role(self) -> str:
        return "standby" if self.standby else "primary"


@dataclass(slots=True)
class QueryResult:
    """One statement's outcome. ``rows`` holds at most the display cap; ``rowcount`` is the true count.

    Values are the server's text output (``None`` for NULL): nothing is reinterpreted.

    Immutable by convention (a changed copy is ``dataclasses.replace(q, …)``), not frozen:
    a frozen dataclass sets each of its 20 fields through ``object.__setattr__``, and a
    run makes one per query (1.8 µs against 0.6 µs each: 1.3 µs of the ~14 µs of client
    CPU a ``SELECT 1`` costs at N=8).
    """

    index: int  # 1-based position in the staged set (0 for a plain statement)
    sql: str
    status: Status
    worker: int | None = None
    pid: int | None = None
    columns: tuple[Column, ...] = ()
    rows: tuple[tuple[str | None, ...], ...] = ()
    rowcount: int = 0
    command: str = ""  # command tag, e.g. "UPDATE 5", "SELECT 3"
    error: str | None = None
    sqlstate: str | None = None
    wait_s: float = 0.0  # run start -> a worker picked it up
    exec_s: float = 0.0  # sending it -> first rows / completion
    fetch_s: float = 0.0  # fetching the remaining batches
    start_s: float = 0.0  # offset of the pick-up from the run's start
    end_s: float = 0.0  # offset of completion from the run's start
    waits: tuple[tuple[str, float], ...] = ()  # ("Lock:transactionid", share of active samples), largest first
    blocked_by: tuple[tuple[str, float], ...] = ()  # ("#5" or "pid 123", seconds blocked), longest first
    notices: tuple[str, ...] = ()  # NOTICE / WARNING / INFO messages, as libpq formats them, in order
    diag: ServerMessage | None = None  # the server's full error, when it raised one
    retries: int = 0  # times it was run again after a 40001 / 40P01 (\\set retries)
    resources: Resources | None = None  # its pg_stat_statements delta (\set resources; resources.py)
    plan: Plan | None = None  # its EXPLAIN ANALYZE figures (\set explain analyze; plans.py)
    no_resources: str | None = None  # with \set resources, why it has none ("several statements"…)
    no_plan: str | None = None  # with \set explain analyze, why it has no plan ("utility statement"…)
    server: Server | None = None  # the server its worker's connection was on (several with a multi-host target)
    lent_s: float | None = None  # behind a transaction pooler: offset when its transaction got its backend
    # behind a transaction pooler: dispatch -> its backend (BEGIN + pg_backend_pid() answered),
    # the wait in the pooler's queue; not in exec_s / total_s
    pool_wait_s: float | None = None

    @property
    def on_backend_s(self) -> float:
        """Offset from which its backend (``pid``) was running it: behind a pooler, after
        the wait in the pooler's queue (samples of that backend before are another query's)."""
        return self.start_s if self.lent_s is None else self.lent_s

    @property
    def total_s(self) -> float:
        """Time the query occupied its worker (execution + fetch)."""
        return self.exec_s + self.fetch_s

    @property
    def changed_catalog(self) -> bool:
        return self.status is Status.OK and self.command.split(" ", 1)[0] in DDL_TAGS

    @property
    def truncated(self) -> bool:
        return self.rowcount > len(self.rows)

    @property
    def returns_rows(self) -> bool:
        return bool(self.columns)


@dataclass(frozen=True, slots=True)
class RunResult:
    """One ``\\go``: every staged query's result in staged order, plus the run's timing."""

    n: int  # workers used
    started_at: float  # epoch seconds
    wall_s: float
    queries: tuple[QueryResult, ...] = field(default_factory=tuple)
    interrupted: bool = False  # Ctrl-C stopped it: unfinished queries are ``cancelled``
    mode: str = "autocommit"  # transaction mode the queries ran in
    order: str = "fifo"  # queue order: fifo (staged) or longest-first
    samples: int = 0  # pg_stat_activity samples taken during the run
    client_cpu_s: float = 0.0  # CPU time the qshell process itself used during the run
    lock_waits: tuple = ()  # records.conflicts.LockWait: the lock-wait graph the sampler saw
    deadlocks: tuple = ()  # records.conflicts.Deadlock: each deadlock the server broke, its queries named
    cpu: RunCpu | None = None  # the CPU of the server's backends, qshell and the machine (cpu.py)
    servers: int | None = None  # behind a pooler: the server connections its pool can use at once
    sessions: tuple = ()  # records.conflicts.Session: the sessions outside the run that blocked it
    wait_series: tuple = ()  # records.conflicts.WaitSpan: what each worker's query was sampled on, over time

    @property
    def parallel(self) -> int:
        """Queries that can run at once: N, or fewer behind a pooler of fewer server connections."""
        return min(self.n, self.servers) if self.servers else self.n

    @property
    def pool_wait_s(self) -> tuple[float, float] | None:
        """(total, max) of the queries' waits for a backend in the pooler's queue (None: not behind one)."""
        waits = [q.pool_wait_s for q in self.queries if q.pool_wait_s is not None]
        return (sum(waits), max(waits)) if waits else None

    @property
    def client_cpu(self) -> float:
        """The client's CPU time / wall: near 1.0, qshell itself was the bottleneck."""
        return self.client_cpu_s / self.wall_s if self.wall_s > 0 else 0.0

    @property
    def client_bound(self) -> bool:
        """The qshell process was busy for most of the run, so per-query times include
        waiting for the client, not only for the server."""
        return self.client_cpu >= CLIENT_BOUND and self.wall_s >= CLIENT_BOUND_MIN_WALL

    @property
    def bound_s(self) -> float:
        """Makespan lower bound: max(longest query, sum of query times / the queries that can
        run at once: N, or the pool's server connections behind a pooler)."""
        if not self.queries:
            return 0.0
        return max(max(q.total_s for q in self.queries), self.sum_s / self.parallel)

    @property
    def efficiency(self) -> float:
        """bound / wall: 1.0 means no schedule on N workers (on the pool's server connections
        behind a pooler) could have been faster."""
        return self.bound_s / self.wall_s if self.wall_s > 0 else 0.0

    @property
    def sum_s(self) -> float:
        return sum(q.total_s for q in self.queries)

    @property
    def overlap(self) -> float:
        """sum of query times / wall: how many queries ran at once on average (not a
        speedup: that is a time at N=1 / the time at N, in a sweep)."""
        return self.sum_s / self.wall_s if self.wall_s > 0 else 0.0

    @property
    def failed(self) -> int:
        return sum(1 for q in self.queries if q.status is not Status.OK)


@dataclass(frozen=True, slots=True)
class Progress:
    """A snapshot of a run in progress, for a live status line."""

    elapsed_s: float
    done: int
    queued: int
    running: tuple[tuple[int, int, float], ...]  # (worker, query index, seconds running)
