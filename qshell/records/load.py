"""A sustained load as records: the log-linear latency ``Histogram``, each query's and each
host's counts, the live progress, and the load's result with its JSON record. Filled by
``engine.load``'s ``LoadPool``; read by the shell (its text and CSV) and written as the JSON record the report draws."""
from __future__ import annotations

import math
from dataclasses import dataclass, field

from qshell.records.conflicts import Deadlock, LockWait, Session, lock_records
from qshell.records.cpu import RunCpu
from qshell.records.results import CLIENT_BOUND, CLIENT_BOUND_MIN_WALL

SUB_BITS = 6  # 2**6 = 64 sub-buckets per power of two


_SUB = 1 << SUB_BITS


_LINEAR = _SUB * 2  # values below 128 µs have a bucket of their own (exact)


MAX_BUCKETS = _LINEAR + 40 * _SUB  # values up to 2**46 µs (815 days): 2,688 buckets at most


# qshell's own start delay (a worker free, its start due, not yet sent) at p50 from which an
# open loop is client-bound: with the timer above it is tens of microseconds (its p95 reached
# 1-2 ms on 2 cores shared with other busy processes: the median is what the client owns);
# gevent's plain timer gave 0.6 ms, a greenlet holding the CPU 5 ms at a time 2.4 ms
CLIENT_BOUND_DELAY_MS = 0.5


SHOWN_NOTICES = 3  # distinct notice texts kept per query (with their counts); the rest only counted


def bucket_of(us: int) -> int:
    """The bucket index of a value in microseconds (HDR-like: exact below 128, then 64
    buckets per power of two, each 1/64 to 1/128 of its values wide)."""
    if us < _LINEAR:
        return max(us, 0)
    shift = us.bit_length() - SUB_BITS - 1
    return _LINEAR + (shift - 1) * _SUB + ((us >> shift) - _SUB)


def bucket_bounds(index: int) -> tuple[int, int]:
    """[low, high) of a bucket, in microseconds."""
    if index < _LINEAR:
        return index, index + 1
    shift = (index - _LINEAR) // _SUB + 1
    m = (index - _LINEAR) % _SUB + _SUB
    return m << shift, (m + 1) << shift


class Histogram:
    """Counts of latencies (seconds in, microseconds kept) in log-linear buckets; its
    size depends on how spread the values are, never on how many there are."""

    __slots__ = ("counts", "count", "max_us", "min_us", "sum_us")

    def __init__(self) -> None:
        self.counts: dict[int, int] = {}
        self.count = 0
        self.max_us = 0
        self.min_us = 0
        self.sum_us = 0

    def record(self, seconds: float) -> None:
        us = int(seconds * 1e6)
        if us < 0:
            us = 0
        self.add(us, bucket_of(us))

    def add(self, us: int, b: int) -> None:
        """Count a value already in microseconds (>= 0) and its ``bucket_of``: one value
        counted in several histograms is converted once."""
        counts = self.counts
        counts[b] = counts.get(b, 0) + 1
        if not self.count or us < self.min_us:
            self.min_us = us
        if us > self.max_us:
            self.max_us = us
        self.count += 1
        self.sum_us += us

    def merge(self, other: "Histogram") -> None:
        for b, n in other.counts.items():
            self.counts[b] = self.counts.get(b, 0) + n
        if other.count:
            self.min_us = other.min_us if not self.count else min(self.min_us, other.min_us)
            self.max_us = max(self.max_us, other.max_us)
        self.count += other.count
        self.sum_us += other.sum_us

    def percentile(self, p: float) -> float:
        """The value (ms) at rank ⌈p/100 · count⌉ (nearest rank): its bucket's midpoint,
        kept within the exact min and max; 0 when empty."""
        if not self.count:
            return 0.0
        rank = min(max(1, math.ceil(p / 100 * self.count)), self.count)
        if rank == self.count:
            return self.max_us / 1000  # the largest value is known exactly
        seen = 0
        for b in sorted(self.counts):
            seen += self.counts[b]
            if seen >= rank:
                low, high = bucket_bounds(b)
                mid = (low + high - 1) / 2
                return min(max(mid, self.min_us), self.max_us) / 1000
        return self.max_us / 1000

    def figures_ms(self) -> dict[str, float | None]:
        """p50_ms, p95_ms, p99_ms, max_ms as a record holds them; None each when nothing
        was counted (a query that never succeeded has no latency, not 0 ms)."""
        if not self.count:
            return dict.fromkeys(("p50_ms", "p95_ms", "p99_ms", "max_ms"))
        return {"p50_ms": round(self.percentile(50), 3), "p95_ms": round(self.percentile(95), 3),
                "p99_ms": round(self.percentile(99), 3), "max_ms": round(self.max_us / 1000, 3)}

    def summary(self) -> dict:
        return {"p50": round(self.percentile(50), 3), "p95": round(self.percentile(95), 3),
                "p99": round(self.percentile(99), 3), "max": round(self.max_us / 1000, 3)}

    def coarse(self, rows: int = 12) -> list[tuple[float, int]]:
        """The histogram drawn coarsely: (upper bound in ms, count) on a 1-2-5 series of
        bounds covering min..max, at most about ``rows`` rows (empty ones kept inside)."""
        if not self.count:
            return []
        lo, hi = self.min_us / 1000, self.max_us / 1000
        bounds: list[float] = []
        for steps in ((1, 2, 5), (1,), (1,)):
            series = [round(10.0 ** e * f, 3) for e in range(-3, 10) for f in steps]
            first = next(i for i, v in enumerate(series) if v >= lo)
            last = next(i for i, v in enumerate(series) if v >= hi)
            bounds = series[first:last + 1]
            if len(bounds) <= rows:
                break
        while len(bounds) > rows:  # more decades than rows: every other one
            bounds = bounds[::-2][::-1]
        out: list[list] = [[b, 0] for b in bounds]
        for idx, n in self.counts.items():
            low, high = bucket_bounds(idx)
            ms = min(max((low + high - 1) / 2, self.min_us), self.max_us) / 1000
            for row in out:
                if ms <= row[0]:
                    row[1] += n
                    break
            else:
                out[-1][1] += n
        return [(b, n) for b, n in out]

    @property
    def size(self) -> int:
        """Buckets in use: what its memory grows with."""
        return len(self.counts)


@dataclass
class QueryLoad:
    """One staged query's executions in a load run."""

    index: int
    sql: str
    count: int = 0
    errors: int = 0
    retries: int = 0
    hist: Histogram = field(default_factory=Histogram)
    notices: int = 0  # every NOTICE / WARNING / INFO … its executions received
    severities: dict[str, int] = field(default_factory=dict)  # "NOTICE" -> count
    first_notices: dict[str, int] = field(default_factory=dict)  # the first SHOWN_NOTICES distinct texts -> count

    def notice(self, text: str) -> None:
        """Count one message; keep its text if it is one of the first few distinct ones."""
        self.notices += 1
        head = text.split(":", 1)[0] if ":" in text[:20] else "?"
        self.severities[head] = self.severities.get(head, 0) + 1
        if text in self.first_notices:
            self.first_notices[text] += 1
        elif len(self.first_notices) < SHOWN_NOTICES:
            self.first_notices[text] = 1

    @property
    def more_notices(self) -> int:
        """Messages not among the texts kept."""
        return self.notices - sum(self.first_notices.values())

    def notices_record(self) -> dict:
        return {"notices": self.notices, "notices_by_severity": dict(self.severities),
                "first_notices": [{"text": t, "count": n} for t, n in self.first_notices.items()],
                "more_notices": self.more_notices}


@dataclass
class ErrorKind:
    """The failures of one SQLSTATE in a load: how many, and the first one's message."""

    sqlstate: str
    count: int
    message: str  # the first failure's one-line message, as the server said it
    query: int  # the staged query it came from

    def record(self) -> dict:
        return {"sqlstate": self.sqlstate, "count": self.count, "message": self.message, "query": self.query}


@dataclass
class HostLoad:
    """One server's executions in a load over several (a multi-host target)."""

    host: str  # "host:port", as results.Server names it
    standby: bool
    count: int = 0
    errors: int = 0
    hist: Histogram = field(default_factory=Histogram)

    def record(self) -> dict:
        return {"host": self.host, "standby": self.standby, "executions": self.count, "errors": self.errors,
                **self.hist.figures_ms()}


@dataclass
class LoadProgress:
    """A snapshot for the live line: elapsed, executions, the last full second's rate."""

    elapsed_s: float
    duration_s: float
    executions: int
    errors: int
    last_second: int
    late: int
    skipped: int
    p95_ms: float


@dataclass
class LoadResult:
    """What a load run measured (built by ``LoadPool.run``); ``record()`` is its JSON."""

    n: int
    duration_s: float
    rate: float | None
    started_at: float
    elapsed_s: float  # start -> the last execution's end (or the interrupt)
    queries: list[QueryLoad]
    overall: Histogram
    lag: Histogram  # open loop: actual start - scheduled start, every execution
    per_second: list[int]
    late: int
    skipped: int
    errors_by_sqlstate: dict[str, int]
    latency_limit_s: float | None
    interrupted: bool
    mode: str
    client_cpu_s: float
    deadlocks: tuple[Deadlock, ...] = ()  # the first MAX_DEADLOCKS, their queries named
    deadlocks_seen: int = 0
    waits: dict[int, tuple[tuple[str, float], ...]] = field(default_factory=dict)  # per query index, largest first
    lock_waits: tuple[LockWait, ...] = ()
    sessions: tuple[Session, ...] = ()  # the sessions outside the load that blocked it
    samples: int = 0
    hosts: tuple[HostLoad, ...] = ()  # per server its executions' latencies, in host order
    # per second (as per_second): latency p50 / p95 / max of its ok executions, and its errors
    second_stats: list[dict] = field(default_factory=list)
    cpu: RunCpu | None = None  # the CPU of the server's backends, qshell and the machine (cpu.py), set by the caller
    delay: Histogram = field(default_factory=Histogram)  # open loop: the part of the lag that is qshell's own
    error_kinds: tuple[ErrorKind, ...] = ()  # per SQLSTATE its count and first message, most frequent first

    @property
    def client_cpu(self) -> float:
        return self.client_cpu_s / self.elapsed_s if self.elapsed_s > 0 else 0.0

    @property
    def late_starts(self) -> bool:
        """Open loop: qshell's own start delay (a worker was free and its start due)
        reached CLIENT_BOUND_DELAY_MS at p50 — lag that busy workers do not explain."""
        return bool(self.rate) and self.delay.count > 0 and self.delay.percentile(50) >= CLIENT_BOUND_DELAY_MS

    @property
    def busy_client(self) -> bool:
        """As a run's client_bound: the qshell process busy most of the wall."""
        return self.client_cpu >= CLIENT_BOUND and self.elapsed_s >= CLIENT_BOUND_MIN_WALL

    @property
    def client_bound(self) -> bool:
        """The latencies include waiting for qshell itself: late starts, or a busy client
        (a starved client also finishes its executions late, so its workers come free late
        and the lag looks like busy workers: the CPU time tells)."""
        return self.late_starts or self.busy_client

    @property
    def executions(self) -> int:
        return sum(q.count for q in self.queries)

    @property
    def errors(self) -> int:
        return sum(q.errors for q in self.queries)

    @property
    def qps(self) -> float:
        return self.executions / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def record(self) -> dict:
        """The JSON record: issue 13's fields first, then the rest."""
        return {
            "type": "load", "n": self.n, "duration_s": _whole(self.duration_s),
            "rate": None if self.rate is None else _whole(self.rate),
            "executions": self.executions, "qps": round(self.qps, 3), "late": self.late,
            "latency_ms": self.overall.summary(), "per_second": list(self.per_second),
            "queries": [{"index": q.index, "count": q.count, "errors": q.errors, **q.hist.figures_ms(),
                         "retries": q.retries, "sql": q.sql, **q.notices_record(),
                         "waits": [{"event": e, "share": round(s, 4)} for e, s in self.waits.get(q.index, ())]}
                        for q in self.queries],
            "started_at": self.started_at, "elapsed_s": round(self.elapsed_s, 3), "interrupted": self.interrupted,
            "skipped": self.skipped, "errors": self.errors, "errors_by_sqlstate": dict(self.errors_by_sqlstate),
            "retries": sum(q.retries for q in self.queries),
            "latency_limit_ms": None if self.latency_limit_s is None else round(self.latency_limit_s * 1000, 3),
            "lag_ms": self.lag.summary() if self.rate else None,
            "start_delay_ms": self.delay.summary() if self.rate else None,
            "error_kinds": [k.record() for k in self.error_kinds],
            "histogram": [{"le_ms": b, "count": n} for b, n in self.overall.coarse()],
            "deadlocks_seen": self.deadlocks_seen, **lock_records(self.lock_waits, self.deadlocks, self.sessions),
            "samples": self.samples, "hosts": [h.record() for h in self.hosts],
            "mode": self.mode, "client_cpu": round(self.client_cpu, 4), "client_bound": self.client_bound,
            "latency_per_second": list(self.second_stats),
            "cpu": self.cpu.record() if self.cpu is not None else None,
        }


def fine(ms: float) -> str:
    """A latency that may be microseconds, as the terminal and the report show it: 35 µs,
    0.52 ms, 12.3 ms, 1.204 s."""
    if ms < 0.1:
        return f"{ms * 1000:.0f} µs"
    if ms < 1:
        return f"{ms:.2f} ms"
    return f"{ms:.1f} ms" if ms < 1000 else f"{ms / 1000:.3f} s"


def _whole(x: float) -> float | int:
    """10.0 as 10 (the command's own figure), 2.5 as it is."""
    return int(x) if float(x).is_integer() else x
