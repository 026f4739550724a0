"""Wait events and lock blocking, seen from ``pg_stat_activity`` while a run goes on.

One extra greenlet samples, every ``interval`` seconds on its own connection, the
workers' backends: their state, wait event and ``pg_blocking_pids()``. After the run
each sample is attributed to the query that was running on that backend at that
moment: the one execution whose interval holds the whole time between sending the
sample's query and its answer (``conflicts.owner``); a sample that may have seen either
of two executions counts for neither. Needs no extension; costs one connection (counted in the N check). When the
workers are on several servers (a multi-host target), one greenlet per server samples
it on a side connection to that server, and a backend is known by (server, pid): pids
of different servers are different backends.
"""
from __future__ import annotations

import math
import time
from collections import Counter, defaultdict
from dataclasses import replace
from operator import itemgetter
from typing import Mapping

import gevent
from gevent.event import Event

from qshell.engine.conflicts import AMBIGUOUS, LockWait, OwnSession, Session, Span, WaitSpan, owner, spans_of
from qshell.engine.execute import POOLED, SERVER
from qshell.records.results import QueryResult

DEFAULT_INTERVAL = 0.02  # 20 ms: within the 10-50 ms the design asks for

# a backend waiting on a lock: the lock it asks for (pg_locks' ungranted row), and the
# relation it is about — the lock's own, else the tuple lock the waiter holds while it
# waits for a row's locker (a row lock is a wait on the holder's transaction id)
_SELECT = ("SELECT a.pid, a.wait_event_type, a.wait_event, a.state, pg_blocking_pids(a.pid),"
           " CASE WHEN a.wait_event_type = 'Lock' THEN (SELECT array[l.locktype, l.mode, coalesce("
           "  l.relation, (SELECT t.relation FROM pg_locks t WHERE t.pid = a.pid AND t.granted AND t.locktype = 'tuple'"
           "   LIMIT 1))::regclass::text] FROM pg_locks l WHERE l.pid = a.pid AND NOT l.granted LIMIT 1) END"
           " FROM pg_stat_activity a WHERE ")
_SQL = _SELECT + "a.pid = ANY(%s)"
# behind a transaction pooler the workers' backends change at every transaction: every
# client backend of the database is sampled, and a sample counts for a query only when
# that query's own transaction was on that backend then (its pid, taken inside it)
_SQL_ANY = _SELECT + "a.datname = current_database() AND a.backend_type = 'client backend' AND a.pid <> pg_backend_pid()"
# a blocker that is not one of the sampled backends (another session): what a DBA asks of it
_OUTSIDE = ("SELECT pid, application_name, state, extract(epoch FROM now() - xact_start), usename"
            " FROM pg_stat_activity WHERE pid = ANY(%s)")
MAX_SESSIONS = 32  # outside blockers described per run (a lock graph has a few)


def backends(fairies) -> dict[str | None, list[int] | None]:  # noqa: ANN001 - pooled connections
    """What ``Sampler.start`` samples for these workers' connections: their backend pids,
    per server when they are on several ("host:port"; else None: the side connection's
    server), None for a server behind a transaction pooler (the backend changes per
    transaction: every client backend is sampled, attributed by the pid taken inside it)."""
    servers = {f.info.get(SERVER) for f in fairies}
    out: dict[str | None, list[int] | None] = {}
    for f in fairies:
        server = f.info.get(SERVER)
        key = server.host if len(servers) > 1 and server is not None else None
        if f.info.get(POOLED):
            out[key] = None
        else:
            pids = out.setdefault(key, [])
            if pids is not None:
                pids.append(f.dbapi_connection.get_backend_pid())
    return out



def _within(results: tuple[QueryResult, ...]):  # noqa: ANN202 - (index, t, dt) -> seconds
    """The part of a sample's period, ``(t - dt, t]``, that falls in its execution's time on
    its backend: a sample taken just after a query began stands for time before it began,
    and a query is never blocked for longer than it ran (a 16 ms query was 'blocked 20 ms',
    the sampling step)."""
    spans = {q.index: (q.on_backend_s, q.end_s) for q in results}

    def within(index: int, t: float, dt: float) -> float:
        span = spans.get(index)
        if span is None:
            return dt
        return max(0.0, min(t, span[1]) - max(t - dt, span[0]))

    return within

class Sampler:
    """Samples the workers' backends during ``QueryPool.run()``.

    ``start`` spawns the sampling greenlet and returns at once; ``stop`` ends it (it
    waits at most one sample); ``attribute`` adds waits and blockers to the results.
    """

    def __init__(self, db, interval: float = DEFAULT_INTERVAL, sink=None) -> None:  # noqa: ANN001
        self.db = db
        self.interval = interval
        # sink(t, dt, server, rows), when given, takes each sample's rows and none is kept (a load:
        # its samples are aggregated as they come, or memory would grow with the duration)
        self.sink = sink
        self.taken = 0  # samples taken
        self.samples: list[tuple] = []  # (t, dt, (server, pid), wait type, wait event, state, blockers, lock)
        self.ends: list[float] = []  # per sample, when its answer arrived (t: when its query was sent)
        self.own: OwnSession | None = None  # the user's own session: a blocker named as such
        self._greenlets: list[gevent.Greenlet] = []
        self._stopping = False
        self._stop = Event()  # set by stop(): the pause between samples ends at once
        self.error: str | None = None
        self._servers = False
        # (server, pid) of a blocker outside the sampled backends -> Session: its state the one
        # most samples saw it in (a COMMIT is seen "active" once), its transaction's age as last seen
        self.sessions: dict[tuple, Session] = {}
        self._states: dict[tuple, Counter] = {}

    def start(self, pids: Mapping[str | None, list[int] | None], t0: float) -> None:
        """Sample, per server ("host:port", None: the side connection's), the backends
        ``pids`` (None: every client backend of the database, behind a pooler)."""
        self.samples = []
        self.ends = []
        self.sessions = {}
        self._states = {}
        self._servers = any(server is not None for server in pids)  # samples name their server
        self.taken = 0
        self._stopping = False
        self._stop.clear()
        self.error = None
        self._greenlets = [gevent.spawn(self._loop, server, None if p is None else list(p), t0)
                           for server, p in pids.items()]

    def _loop(self, server: str | None, pids: list[int] | None, t0: float) -> None:
        try:
            conn, lock = self.db.side(server)
            last = time.perf_counter()
            taken = 0
            while not self._stopping:
                now = time.perf_counter()
                with lock:
                    cur = conn.cursor()
                    if pids is None:
                        cur.execute(_SQL_ANY)
                    else:
                        cur.execute(_SQL, (pids,))
                    rows = cur.fetchall()
                    end = time.perf_counter()
                    self._describe(cur, server, pids, rows)
                dt = now - last if taken else self.interval
                last = now
                taken += 1
                self.taken += 1
                if self.sink is not None:
                    self.sink(now - t0, dt, server, rows)
                    self._stop.wait(self.interval)
                    continue
                for pid, wtype, wevent, state, blockers, lock_ in rows:
                    self.samples.append((now - t0, dt, (server, pid), wtype, wevent, state,
                                         tuple((server, b) for b in blockers or ()), tuple(lock_) if lock_ else None))
                    self.ends.append(end - t0)
                self._stop.wait(self.interval)
        except gevent.GreenletExit:
            pass
        except Exception as exc:  # noqa: BLE001 - sampling is an extra; never fails the run
            self.error = " ".join(str(exc).split())[:200] or type(exc).__name__

    def _describe(self, cur, server: str | None, pids: list[int] | None, rows: list) -> None:  # noqa: ANN001
        """Describe the blockers of this sample that are not sampled backends (another
        session holding a lock): its application name, state and transaction age, one
        more query only when a sample saw such a blocker. Behind a pooler (every backend
        sampled) each blocker is described: which are the run's is known only afterwards."""
        sampled = set(pids or ())
        outside = {b for row in rows for b in row[4] or () if b not in sampled}
        if len(self.sessions) >= MAX_SESSIONS:  # only those known are seen again
            outside = {b for b in outside if (server, b) in self.sessions}
        if not outside:
            return
        cur.execute(_OUTSIDE, (sorted(outside),))
        for pid, app, state, age, user in cur.fetchall():
            key = (server, pid)
            if key in self.sessions or len(self.sessions) < MAX_SESSIONS:
                seen = self._states.setdefault(key, Counter())
                seen[state or ""] += 1
                known = self.sessions.get(key)
                # its transaction may have ended since the sample named it a blocker (no
                # xact_start any more): the age it was last seen holding with stands
                age_s = float(age) if age is not None else known.xact_age_s if known is not None else None
                self.sessions[key] = Session(pid, server, app or "", seen.most_common(1)[0][0], age_s, user or "")

    def stop(self) -> None:
        self._stopping = True
        self._stop.set()  # a sample under way is finished, none is waited for
        if self._greenlets:
            gevent.joinall(self._greenlets, timeout=max(1.0, self.interval * 5))
            gevent.killall([g for g in self._greenlets if not g.dead], block=True, timeout=2)
            self._greenlets = []

    def _backend(self, q: QueryResult) -> tuple:
        """(server, pid) of the backend that ran ``q``, as the samples name backends."""
        return (q.server.host if self._servers and q.server is not None else None, q.pid)

    def _spans(self, results: tuple[QueryResult, ...]) -> tuple[dict[tuple, list[Span]], set[tuple]]:
        """Per backend its executions' intervals, and the backends that are a worker's own
        (not lent by a transaction pooler). After a worker's last execution qshell may still
        send its own statements there (a ROLLBACK of a transaction left open): no execution's."""
        spans: dict[tuple, list[Span]] = defaultdict(list)
        shared: set[tuple] = set()
        for q in results:
            if q.pid is not None:
                key = self._backend(q)
                spans[key].append((q.on_backend_s, q.end_s, q.index))
                if q.lent_s is not None:
                    shared.add(key)
        for key, known in spans.items():
            known.sort()
            if key not in shared:
                known.append((known[-1][1], math.inf, None))
        return spans, set(spans) - shared

    def owners(self, results: tuple[QueryResult, ...]) -> list[tuple[int | None, tuple[str, ...]]]:
        """Per sample (in ``samples`` order): the staged index of the execution it saw
        active on its backend (None: none for certain, see ``conflicts.owner``), and each
        blocker named (``#K``; ``pid N`` outside the run; "" when which execution of the run
        held it cannot be told)."""
        spans, own = self._spans(results)

        def at(key: tuple, a: float, b: float) -> int | None:
            known = spans.get(key)
            return None if known is None else owner(known, a, b, key in own)

        out: list[tuple[int | None, tuple[str, ...]]] = []
        for (t, _dt, pid, _wt, _we, state, blockers, _lock), t_end in zip(self.samples, self.ends, strict=True):
            index = at(pid, t, t_end) if state == "active" else None
            if index is None or index == AMBIGUOUS:
                out.append((None, ()))
                continue
            names = []
            for b in blockers:
                holder = at(b, t, t_end)
                names.append("" if holder == AMBIGUOUS else f"#{holder}" if holder is not None else self.outside_name(b))
            out.append((index, tuple(names)))
        return out

    def outside_name(self, backend: tuple) -> str:
        """A blocker outside the run: "your session (pid N)" when it is the user's own
        session's backend, else "pid N"."""
        own = self.own
        if own is not None and own.pid == backend[1] and (backend[0] is None or backend[0] == own.host):
            return f"your session (pid {backend[1]})"
        return f"pid {backend[1]}"

    def attribute(self, results: tuple[QueryResult, ...], owned: list | None = None) -> tuple[tuple[QueryResult, ...], int]:
        """Results with ``waits`` and ``blocked_by`` filled in, and the number of samples.
        A sample counts for the execution whose interval on its backend holds the moment it
        was taken (between sending its query and its answer), only when that is certain.
        ``owned``: ``owners(results)`` when the caller has it (it is the same for results
        that differ only in what this fills in: one pass over a run's results, not three)."""
        waits: dict[int, Counter] = defaultdict(Counter)
        blocked: dict[int, dict[str, float]] = defaultdict(lambda: defaultdict(float))  # seconds, not counts
        within = _within(results)
        for (t, dt, _pid, wtype, wevent, _state, _b, _lock), (index, holders) in zip(self.samples, owned if owned is not None else self.owners(results), strict=True):
            if index is None:
                continue
            waits[index][f"{wtype}:{wevent}" if wtype else "CPU"] += 1
            for holder in holders:
                if holder:
                    blocked[index][holder] += within(index, t, dt)
        out = []
        for q in results:
            counts = waits.get(q.index)
            if counts:
                total = sum(counts.values())
                shares = tuple((name, n / total) for name, n in counts.most_common())
                q = replace(q, waits=shares)
            if q.index in blocked:
                q = replace(q, blocked_by=tuple(sorted(blocked[q.index].items(), key=itemgetter(1), reverse=True)))  # as most_common
            out.append(q)
        return tuple(out), len(self.samples)

    def outside(self, results: tuple[QueryResult, ...]) -> tuple[Session, ...]:
        """The sessions outside the run that blocked it (a backend that ran one of its
        queries is the run's, not an outside session)."""
        own = {self._backend(q) for q in results if q.pid is not None}
        return tuple(s for key, s in self.sessions.items() if key not in own)

    def wait_series(self, results: tuple[QueryResult, ...], owned: list | None = None) -> tuple[WaitSpan, ...]:
        """What each worker's query waited on over time: the samples in which a query of
        the run was active on its backend, each covering the ``dt`` before it (as the
        blocked times do), consecutive ones of one query and event merged."""
        by_index = {q.index: q for q in results}
        seen: list[tuple[int, int, float, float, str]] = []
        for (t, dt, _pid, wtype, wevent, _state, _b, _lock), (index, _holders) in zip(self.samples, owned if owned is not None else self.owners(results), strict=True):
            q = by_index.get(index) if index is not None else None
            if q is not None and q.worker is not None:
                seen.append((q.worker, q.index, max(t - dt, q.on_backend_s), t, f"{wtype}:{wevent}" if wtype else "CPU"))
        return spans_of(seen)

    def lock_graph(self, results: tuple[QueryResult, ...], owned: list | None = None) -> tuple[LockWait, ...]:
        """Who waited for whom, on which lock and relation: one edge per (waiter, holder,
        lock), with the time it was seen waiting, longest first (attributed as ``attribute``)."""
        edges: dict[tuple[str, str, str, str, str | None], float] = defaultdict(float)
        within = _within(results)
        for (t, dt, _pid, _wt, _we, _state, _b, lock), (index, holders) in zip(self.samples, owned if owned is not None else self.owners(results), strict=True):
            if index is None or not holders:
                continue
            locktype, mode, relation = lock if lock else ("?", "?", None)
            for holder in holders:
                if holder:
                    edges[(f"#{index}", holder, locktype, mode, relation)] += within(index, t, dt)
        return tuple(LockWait(w, h, lt, m, r, sec) for (w, h, lt, m, r), sec
                     in sorted(edges.items(), key=itemgetter(1), reverse=True))
