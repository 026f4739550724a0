"""Sustained load (issue 13, item 3): the staged set run over and over for a duration.

``\\go N for DURATION`` is a *closed loop*: N workers, each taking the next query of a
cycling queue (1, 2, …, K, 1, 2, …) as soon as its previous one is done, until the
duration is over; executions under way then finish (as pgbench ``-T``).

``\\go N for DURATION at RATE/s`` is an *open loop*, as pgbench ``-R``: start times are
scheduled by a Poisson process of RATE per second (exponential gaps, pgbench's
schedule), shared by the N workers; a free worker takes the next scheduled start, waits
for it, and runs the next query of the cycle. An execution's **latency** is measured
from its *scheduled* start (pgbench: "calculated from the scheduled start times, so it
includes the schedule lag"); its **lag** is actual start − scheduled start. With a
latency limit L (``\\set latency_limit``, pgbench ``--latency-limit``; default 1 s):

* **late**: an execution whose latency exceeds L (in a closed loop too, as pgbench);
* **skipped**: a scheduled start that is already more than L behind when a worker
  comes free is not sent at all (pgbench ``-R --latency-limit``), and — qshell's
  addition, which pgbench leaves uncounted — every start scheduled before the end of the
  duration that no worker could take before the end.

The lag splits into the workers all being busy and qshell's own **start delay** (a worker
free, the start due, not yet sent): the starts are timed on a timerfd (``Alarm``), so the
delay is microseconds unless the client itself is starved (``client_bound``). What failed
is kept per SQLSTATE (count, first message), the server's notices per query (counts, the
first few distinct texts).

Memory stays bounded however long it runs: latencies go into log-linear histograms
(``Histogram``: 64 buckets per power of two, ≤ 1/128 relative error, at most ~2,300
buckets from 1 µs to days, kept sparse), never a list; the per-second throughput is one
integer per second. No UI here: the shell draws the progress line and the text.
"""
from __future__ import annotations

import ctypes
import math
import os
import random
import time
from collections import Counter, defaultdict, deque
from typing import Sequence

import gevent

from qshell.common.errors import QshellError
from qshell.engine.conflicts import (
    AMBIGUOUS,
    RETRYABLE,
    Deadlock,
    LockWait,
    Span,
    another,
    deadlock_names,
    owner,
    woke_at,
)
from qshell.engine.database import Database
from qshell.engine.execute import AUTOCOMMIT, ON_PID, POOLED, SERVER, TxMode, _Interrupted, run_statement, settle
from qshell.engine.pool import QueryPool
from qshell.engine.sampler import Sampler
from qshell.records.load import (  # noqa: F401  (the records, re-exported)
    CLIENT_BOUND_DELAY_MS,
    MAX_BUCKETS,
    SHOWN_NOTICES,
    SUB_BITS,
    ErrorKind,
    Histogram,
    HostLoad,
    LoadProgress,
    LoadResult,
    QueryLoad,
    _whole,
    bucket_bounds,
    bucket_of,
    fine,
)
from qshell.records.results import Status

RECENT = 16  # executions remembered per backend for attribution by time (older ones: their latest end)
# An open-loop start: gevent's timers (libev on epoll, whole milliseconds) wake 0.6-1.2 ms
# late (design/stack-notes.md, "Timers"). A worker waits on a gevent timer until SPIN_S
# before its start, then on a timerfd of its own (Linux: epoll wakes when it fires,
# whatever its timeout granularity; measured 35 / 57 µs late at p50 / p95, no CPU spent).
# The early wake is kept on purpose: the timerfd alone (one wake per start, from a long
# sleep) measured a longer tail, SELECT 1 at 300/s on 8 connections, 5 pairs interleaved:
# latency p95 0.49 ms against 0.40, lag p95 0.17 against 0.10 (client CPU 3.5% against
# 5.8%); in the benchmark p95 ÷ pgbench's 1.7-2.1 against 0.9-1.1. Without a timerfd:
# yielding (gevent.idle()) from SPIN_S before until the clock reaches it (microseconds
# late, a core busy meanwhile: on 2 cores a loop of gevent.sleep(0) stretched the other
# workers' service times, p95 0.85 ms against 0.25 ms, as it delays the polling of their
# sockets).
SPIN_S = 0.002


class _TimerFd(ctypes.Structure):
    _fields_ = [("sec", ctypes.c_long), ("nsec", ctypes.c_long)]


class _ITimerSpec(ctypes.Structure):
    _fields_ = [("interval", _TimerFd), ("value", _TimerFd)]


def _libc_timerfd():  # noqa: ANN202
    """libc's timerfd functions, when this is Linux and perf_counter is CLOCK_MONOTONIC (the
    timerfd's clock, so that a start is set on the same clock it was scheduled on)."""
    try:
        if time.get_clock_info("perf_counter").implementation != "clock_gettime(CLOCK_MONOTONIC)":
            return None
        libc = ctypes.CDLL(None, use_errno=True)
        return libc if hasattr(libc, "timerfd_create") and hasattr(libc, "timerfd_settime") else None
    except (OSError, AttributeError):
        return None


_LIBC = _libc_timerfd()


class Alarm:
    """A timerfd of one worker's (Linux): ``set(t)`` then ``wait()`` returns when
    perf_counter() reaches t, microseconds late, with the hub free meanwhile (see SPIN_S)."""

    def __init__(self) -> None:
        if _LIBC is None:
            raise OSError("no timerfd here")
        self.fd = _LIBC.timerfd_create(1, os.O_NONBLOCK | os.O_CLOEXEC)  # CLOCK_MONOTONIC
        if self.fd < 0:
            raise OSError(ctypes.get_errno(), "timerfd_create")
        self.hub = gevent.get_hub()
        self.watcher = self.hub.loop.io(self.fd, 1)

    def set(self, due: float) -> None:
        """Expire at ``due`` (perf_counter's clock)."""
        sec = int(due)
        spec = _ITimerSpec(_TimerFd(0, 0), _TimerFd(sec, max(1, int((due - sec) * 1e9))))
        if _LIBC.timerfd_settime(self.fd, 1, ctypes.byref(spec), None) != 0:  # TFD_TIMER_ABSTIME
            raise OSError(ctypes.get_errno(), "timerfd_settime")

    def wait(self) -> None:
        """Until it expires (set before)."""
        while True:
            self.hub.wait(self.watcher)
            try:
                os.read(self.fd, 8)  # the expirations: reading re-arms the readiness
                return
            except BlockingIOError:
                continue

    def close(self) -> None:
        self.watcher.close()
        os.close(self.fd)


def alarm() -> Alarm | None:
    """A worker's Alarm, or None where there is no timerfd (the wait then yields until due)."""
    try:
        return Alarm()
    except OSError:
        return None


class LoadPool(QueryPool):
    """``queries`` run over and over on ``workers`` green workers for ``duration_s``;
    closed loop, or open loop at ``rate`` executions per second (see the module).

    Connections, cancelling and Ctrl-C are the QueryPool's: ``interrupt()`` cancels the
    executions under way and ``run()`` returns what was measured, marked interrupted.
    ``retries`` runs a 40001 / 40P01 failure again (the execution's latency covers all
    its tries). No rows are kept. The garbage collector stays on (a long run's errors
    leave reference cycles)."""

    def __init__(self, db: Database, queries: Sequence[str], workers: int, duration_s: float,
                 rate: float | None = None, *, mode: TxMode = AUTOCOMMIT, retries: int = 0,
                 latency_limit_s: float | None = 1.0, seed: int | None = None, sample: bool = False) -> None:
        if not queries:
            raise ValueError("nothing to run")
        if duration_s <= 0:
            raise ValueError("duration must be > 0")
        if rate is not None and rate <= 0:
            raise ValueError("rate must be > 0")
        super().__init__(db, queries, workers, maxrows=0, mode=mode, retries=retries)
        self.pool_max = workers  # a cycling queue: N may exceed the staged count
        self.duration_s = duration_s
        self.rate = rate
        self.latency_limit_s = latency_limit_s
        self._random = random.Random(seed)
        self.stats = [QueryLoad(i + 1, sql) for i, sql in enumerate(self.queries)]
        self.overall = Histogram()
        self.lag = Histogram()
        self.delay = Histogram()
        self.per_second: list[int] = []
        self.late = 0
        self.skipped = 0
        self.errors_by_sqlstate: dict[str, int] = {}
        self.first_error: dict[str, tuple[str, int]] = {}  # SQLSTATE -> (first message, query index)
        self._next = 0
        self._deadline = 0.0
        self._trigger = 0.0  # the next scheduled start (open loop)
        self._stopped_at: float | None = None
        # (server, backend pid) -> worker number; the server as Sampler.start names it (None
        # with one server); behind a transaction pooler each query's pid, from inside it
        self._worker_of: dict[tuple[str | None, int], int] = {}
        self._hosts = False  # the workers are on several servers
        # sampled as they come (bounded: wait events per query, lock edges between queries)
        self.sampler = Sampler(db, sink=self._sample) if sample else None
        self.waits: dict[int, Counter] = defaultdict(Counter)
        self.lock_edges: dict[tuple[str, str, str, str, str | None], float] = defaultdict(float)
        self.named: list[Deadlock] = []  # deadlocks, their queries named as they happen
        # attribution by time, bounded: per backend (as _worker_of names it) its last RECENT
        # executions' intervals (offsets), the latest end of those forgotten, the one running
        self._recent: dict[tuple[str | None, int], deque[Span]] = {}
        self._forgot: dict[tuple[str | None, int], float] = {}
        self._on: dict[tuple[str | None, int], tuple[float, int]] = {}
        self._exclusive: set[tuple[str | None, int]] = set()  # a worker's own backend (no pooler lends it)
        self._backend_of: dict[int, tuple[str | None, int]] = {}  # worker -> the backend its execution is on
        self._mine: dict[int, int] = {}  # worker -> the staged index it is running (behind a pooler: until lent)
        self.by_server: dict = {}  # results.Server -> HostLoad
        # the second being counted: its latencies, summed up (three figures) when the next one starts
        self._second_hist = Histogram()
        self._second_errors = 0
        # each server's histogram counted execution by execution (several servers), or, with
        # one, merged from each second's as the overall one is (a second server switches it)
        self._host_direct = False
        self.second_stats: list[dict] = []

    # -- the schedule ---------------------------------------------------------------
    def _slot(self) -> float | None:
        """The next scheduled start for a free worker, or None when the schedule is over.
        A start already more than the latency limit behind is skipped (pgbench)."""
        limit = self.latency_limit_s
        while True:
            t = self._trigger
            if t >= self._deadline or self._stopping:
                return None
            self._trigger = t + self._random.expovariate(self.rate or 1.0)
            if limit is not None and time.perf_counter() - t > limit:
                self.skipped += 1
                continue
            return t

    def _wait_until(self, due: float, timer: Alarm | None) -> bool:
        """Wait for a scheduled start: a gevent timer (stoppable) to SPIN_S before it, then
        the worker's timerfd, or without one yielding until the clock reaches it (see
        SPIN_S); True when the load was stopped meanwhile."""
        clock = time.perf_counter
        coarse = due - SPIN_S - clock()
        if coarse > 0 and self._finished.wait(coarse):
            return True
        if timer is not None:
            timer.set(due)
            timer.wait()
            return self._finished.is_set()
        while clock() < due:
            gevent.idle()  # after the loop has polled the sockets (a loop of sleep(0) starves them)
            if self._finished.is_set():
                return True
        return self._finished.is_set()

    def _record(self, pos: int, result, scheduled: float, started: float, ended: float,  # noqa: ANN001
                ready: float = 0.0) -> None:
        """Count one execution. ``ready``: when its worker came free for it (open loop);
        lag = started - scheduled, of which qshell's own start delay = started - max(scheduled, ready)."""
        q = self.stats[pos]
        if result.status is Status.CANCELLED and self._stopping:
            return  # cut by Ctrl-C: not an execution
        q.count += 1
        for text in result.notices:
            q.notice(text)
        q.retries += result.retries
        latency = ended - scheduled
        host = self.by_server.get(result.server)
        if host is None and result.server is not None:
            if self.by_server and not self._host_direct:
                # a second server: what the second being counted holds was all the first one's;
                # from now on each server counts its own
                for first in self.by_server.values():
                    first.hist.merge(self._second_hist)
                self._host_direct = True
            host = self.by_server[result.server] = HostLoad(result.server.host, result.server.standby)
        if host is not None:
            host.count += 1
        second = int(ended - self._start)
        per = self.per_second
        while len(per) <= second:
            per.append(0)
        per[second] += 1
        if second >= len(self.second_stats) + 1:  # an execution of a later second: the earlier ones are complete
            self._close_seconds(second)
        if result.status is Status.OK:
            us = int(latency * 1e6) if latency > 0 else 0
            b = bucket_of(us)
            q.hist.add(us, b)
            self._second_hist.add(us, b)  # (the overall and one server's: from it, once the second is over)
            if host is not None and self._host_direct:
                host.hist.add(us, b)
        else:
            q.errors += 1
            self._second_errors += 1
            if host is not None:
                host.errors += 1
            key = result.sqlstate or str(result.status)
            self.errors_by_sqlstate[key] = self.errors_by_sqlstate.get(key, 0) + 1
            if key not in self.first_error:
                self.first_error[key] = (result.error or str(result.status), pos + 1)
        if self.rate is not None:
            self.lag.record(started - scheduled)
            self.delay.record(started - max(scheduled, ready))
        if self.latency_limit_s is not None and latency > self.latency_limit_s:
            self.late += 1

    def _close_seconds(self, upto: int) -> None:
        """Sum up the seconds before ``upto``: the one counted (its histogram's p50, p95,
        max and its errors) and any with no execution since (nulls). Executions end in
        clock order (one thread), so a second is complete once a later one has an end.
        One dict per second is kept, as ``per_second`` keeps one count: bounded by the
        duration, never by the number of executions."""
        h = self._second_hist
        while len(self.second_stats) < upto:
            if h.count or self._second_errors:
                self.overall.merge(h)
                if not self._host_direct:  # one server: its histogram is the overall one
                    for host in self.by_server.values():
                        host.hist.merge(h)
                self.second_stats.append({"p50_ms": round(h.percentile(50), 3) if h.count else None,
                                          "p95_ms": round(h.percentile(95), 3) if h.count else None,
                                          "max_ms": round(h.max_us / 1000, 3) if h.count else None,
                                          "errors": self._second_errors})
                h = self._second_hist = Histogram()
                self._second_errors = 0
            else:
                self.second_stats.append({"p50_ms": None, "p95_ms": None, "max_ms": None, "errors": 0})

    def executor(self, number: int, fairy) -> None:  # noqa: ANN001
        clock = time.perf_counter
        nq = len(self.queries)
        conn = lost = None
        info: dict = {}
        timer = alarm() if self.rate is not None else None
        try:
            while not self._stopping:
                if self.rate is not None:
                    scheduled = self._slot()
                    if scheduled is None:
                        break
                    ready = clock()
                    if scheduled > ready and self._wait_until(scheduled, timer):
                        break  # interrupted while waiting for the start
                else:
                    scheduled = ready = clock()
                    if scheduled >= self._deadline:
                        break
                pos = self._next % nq
                self._next += 1
                sql = self.queries[pos]
                started = clock()
                self.active[number] = (pos + 1, started)
                try:
                    if fairy is None or fairy.dbapi_connection is not conn or conn.closed:
                        if fairy is None or fairy.dbapi_connection is None or fairy.dbapi_connection.closed:
                            fairy = None
                            fairy = self.db.checkout()
                        conn, info, lost = fairy.dbapi_connection, fairy.info, fairy.invalidate
                        self._own(fairy, number)
                    self._span_open(number, pos + 1, started)
                    result = run_statement(conn, info, sql, pos + 1, number, 0, self._start, started - self._start,
                                           self.mode, lost=lost, describe=False)
                    if result.pid is not None and info.get(POOLED):  # the backend was lent for that query only
                        self._worker_of.pop((self._server_key(info), result.pid), None)
                    if result.sqlstate in RETRYABLE and result.status is Status.ERROR:
                        result = self._retry(result, conn, info, lost, number, started - self._start)
                except _Interrupted as stop:
                    result = stop.result
                    self._stopping = True
                    if stop.keyboard:
                        self.interrupt()
                except QshellError as exc:
                    from qshell.records.results import QueryResult

                    result = QueryResult(index=pos + 1, sql=sql, status=Status.ERROR, worker=number, error=str(exc))
                ended = clock()
                self.active.pop(number, None)
                self._span_close(number, ended)
                self._record(pos, result, scheduled, started, ended, ready)
                self._last = ended
                if result.status is not Status.OK:
                    gevent.sleep(0)  # an error that took no round trip must not starve the others
        finally:
            self._span_done(number)
            if timer is not None:
                timer.close()
            if fairy is not None:
                try:
                    settle(fairy, worker=True)
                finally:
                    fairy.close()

    def _server_key(self, info: dict) -> str | None:
        server = info.get(SERVER)
        return server.host if self._hosts and server is not None else None

    def _own(self, fairy, number: int) -> None:  # noqa: ANN001
        """Know the worker's backend by its pid (behind a transaction pooler: each query's,
        told by run_statement through ``info[ON_PID]``)."""
        key = self._server_key(fairy.info)
        if fairy.info.get(POOLED):
            fairy.info[ON_PID] = lambda pid: self._lent(number, (key, pid))
            self._backend_of.pop(number, None)
        else:
            backend = (key, fairy.dbapi_connection.get_backend_pid())
            self._worker_of[backend] = number
            self._backend_of[number] = backend
            self._exclusive.add(backend)

    # -- attribution by time (bounded: RECENT intervals per backend) --------------------
    def _span_open(self, number: int, index: int, started: float) -> None:
        """The worker starts an execution of ``index``: on its own backend from ``started``
        (before anything of it is sent); behind a pooler, from when a backend is lent."""
        self._mine[number] = index
        backend = self._backend_of.get(number)
        if backend is not None and backend in self._exclusive:
            self._on[backend] = (started - self._start, index)

    def _lent(self, number: int, backend: tuple[str | None, int]) -> None:
        """Behind a transaction pooler: the worker's transaction got ``backend`` (a retry's
        try may get another: the one before has ended by now)."""
        now = time.perf_counter()
        self._worker_of[backend] = number
        before = self._backend_of.get(number)
        if before is not None and before != backend and before in self._on:
            self._end_on(before, now - self._start)
        self._backend_of[number] = backend
        index = self._mine.get(number)
        if index is not None:
            self._on[backend] = (now - self._start, index)

    def _span_close(self, number: int, ended: float) -> None:
        """The worker's execution is over (all its tries): its interval is remembered.
        (Once per execution: ``_end_on`` written out here.)"""
        self._mine.pop(number, None)
        backend = self._backend_of.get(number)
        if backend is None:
            return
        on = self._on.pop(backend, None)
        if on is not None:
            ring = self._recent.get(backend)
            if ring is None:
                ring = self._recent[backend] = deque()
            elif len(ring) >= RECENT:
                end = ring.popleft()[1]
                if end > self._forgot.get(backend, -math.inf):
                    self._forgot[backend] = end
            ring.append((on[0], ended - self._start, on[1]))
        if backend not in self._exclusive:  # lent for that execution only
            self._worker_of.pop(backend, None)
            self._backend_of.pop(number, None)

    def _end_on(self, backend: tuple[str | None, int], end: float) -> None:
        start, index = self._on.pop(backend)
        ring = self._recent.get(backend)
        if ring is None:
            ring = self._recent[backend] = deque()
        if len(ring) >= RECENT:
            self._forgot[backend] = max(self._forgot.get(backend, -math.inf), ring.popleft()[1])
        ring.append((start, end, index))

    def _span_done(self, number: int) -> None:
        """The worker ends: qshell's own statements (a ROLLBACK of what was left open) may
        follow on its backend; from now on nothing seen there is an execution's."""
        backend = self._backend_of.get(number)
        if backend is not None and backend in self._exclusive:
            ring = self._recent.setdefault(backend, deque())
            ring.append((time.perf_counter() - self._start, math.inf, None))

    def spans(self, backend: tuple[str | None, int]) -> list[Span] | None:
        """The intervals known on ``backend`` (None: never one of the load's)."""
        ring = self._recent.get(backend)
        on = self._on.get(backend)
        if ring is None and on is None and backend not in self._exclusive:
            return None
        out: list[Span] = []
        forgot = self._forgot.get(backend)
        if forgot is not None:
            out.append((-math.inf, forgot, None))
        if ring:
            out.extend(ring)
        if on is not None:
            out.append((on[0], math.inf, on[1]))
        return out

    def _at(self, backend: tuple[str | None, int], a: float, b: float) -> int | None:
        known = self.spans(backend)
        return None if known is None else owner(known, a, b, backend in self._exclusive)

    def _sample(self, t: float, dt: float, server: str | None, rows: list) -> None:
        """One sample of the workers' backends (its query sent at ``t``, its answer here,
        now): each row counts for the execution on that backend then, only when certain."""
        t_end = time.perf_counter() - self._start
        for pid, wtype, wevent, state, blockers, lock in rows:
            if state != "active":
                continue
            index = self._at((server, pid), t, t_end)
            if index is None or index == AMBIGUOUS:
                continue
            self.waits[index][f"{wtype}:{wevent}" if wtype else "CPU"] += 1
            for b in blockers or ():
                holder = self._at((server, b), t, t_end)
                if holder == AMBIGUOUS:
                    continue
                name = (f"#{holder}" if holder != index else another(f"#{holder}")) if holder is not None else (
                    self.sampler.outside_name((server, b)) if self.sampler is not None else f"pid {b}")
                locktype, mode, relation = lock if lock else ("?", "?", None)
                self.lock_edges[(f"#{index}", name, locktype, mode, relation)] += dt

    def _tried(self, result) -> None:  # noqa: ANN001 - results.QueryResult
        """A load keeps no tries: its executions' intervals (all their tries) are remembered per backend."""

    def _deadlock(self, result, retried: bool) -> None:  # noqa: ANN001 - results.QueryResult
        """A load keeps no executions to look pids up in afterwards: name them now, by the
        executions on those backends when the server detected it (``deadlock_names``), from
        the intervals remembered per backend."""
        if len(self.named) >= self.max_deadlocks:
            return
        arrived = min(result.end_s, woke_at() - self._start)  # before anything else runs
        key = result.server.host if self._hosts and result.server is not None else None
        detail = result.diag.detail if result.diag else None
        timeout = self.deadlock_timeout()
        cycle = deadlock_names(detail, result.pid, result.index, result.start_s, arrived, timeout,
                               lambda pid: self.spans((key, pid)), lambda pid: (key, pid) in self._exclusive)
        self.named.append(Deadlock(victim=result.index, at_s=result.end_s, cycle=cycle, retried=retried, detail=detail))

    def progress(self) -> LoadProgress:  # type: ignore[override]
        """What the load has done so far; its p95 is that of the seconds completed (the overall
        histogram takes each second's once it is over: one count per execution, not two)."""
        now = time.perf_counter()
        elapsed = now - self._start if self._start else 0.0
        second = int(elapsed) - 1
        last = self.per_second[second] if 0 <= second < len(self.per_second) else 0
        return LoadProgress(elapsed, self.duration_s, sum(q.count for q in self.stats),
                            sum(q.errors for q in self.stats), last, self.late, self.skipped,
                            self.overall.percentile(95))

    def _run_load(self) -> LoadResult:
        fairies = self.fairies = self._connect_all()
        cpu0 = time.process_time()
        self._start = self._last = self._trigger = time.perf_counter()
        started_at = time.time()  # the epoch of _start, to a microsecond (the schedule's origin)
        self._deadline = self._start + self.duration_s
        self._hosts = len({f.info.get(SERVER) for f in fairies}) > 1
        self._host_direct = self._hosts
        for number, f in enumerate(fairies):
            self._own(f, number)
        joiner = self._run_workers(fairies, self._join_workers)
        stopped = time.perf_counter()
        joiner.kill(block=False)
        self._settle(fairies)
        self._close_seconds(len(self.per_second))
        end = stopped if self.interrupted else max(self._last, min(stopped, self._deadline))
        if self.rate is not None:  # starts due before the end that no worker could take
            horizon = min(self._deadline, end)
            if (horizon - self._trigger) * self.rate > 100_000:  # many: their expected number
                self.skipped += round((horizon - self._trigger) * self.rate)
            while self._trigger < horizon:
                self.skipped += 1
                self._trigger += self._random.expovariate(self.rate)
        return LoadResult(
            n=self.pool_max, duration_s=self.duration_s, rate=self.rate, started_at=started_at,
            elapsed_s=end - self._start, queries=self.stats, overall=self.overall, lag=self.lag,
            per_second=self.per_second, late=self.late, skipped=self.skipped,
            errors_by_sqlstate=self.errors_by_sqlstate, latency_limit_s=self.latency_limit_s,
            interrupted=self.interrupted and self.blocked_by_you is None, mode=self.mode.describe(),
            client_cpu_s=time.process_time() - cpu0,
            deadlocks=tuple(self.named), deadlocks_seen=self.deadlocks_seen,
            waits={i: tuple((name, n / sum(c.values())) for name, n in c.most_common()) for i, c in self.waits.items()},
            lock_waits=tuple(LockWait(w, h, lt, m, r, sec) for (w, h, lt, m, r), sec
                             in sorted(self.lock_edges.items(), key=lambda kv: kv[1], reverse=True)),
            samples=self.sampler.taken if self.sampler is not None else 0,
            sessions=tuple(s for key, s in self.sampler.sessions.items() if key not in self._worker_of)
            if self.sampler is not None else (),
            hosts=tuple(sorted(self.by_server.values(), key=lambda h: (h.host, h.standby))), delay=self.delay,
            error_kinds=tuple(sorted((ErrorKind(k, n, *self.first_error[k]) for k, n in self.errors_by_sqlstate.items()),
                                     key=lambda e: (-e.count, e.sqlstate))),
            second_stats=self.second_stats)

    def _join_workers(self) -> None:
        gevent.joinall(self.running)
        self._finished.set()

    def run(self) -> LoadResult:  # type: ignore[override]
        return self._run_load()
