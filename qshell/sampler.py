"""Wait events and lock blocking, seen from ``pg_stat_activity`` while a run goes on.

One extra greenlet samples, every ``interval`` seconds on its own connection, the
workers' backends: their state, wait event and ``pg_blocking_pids()``. After the run
each sample is attributed to the query that was running on that backend at that
moment. Needs no extension; costs one connection (counted in the N check). When the
workers are on several servers (a multi-host target), one greenlet per server samples
it on a side connection to that server, and a backend is known by (server, pid): pids
of different servers are different backends.
"""
from __future__ import annotations

import time
from bisect import bisect_right
from collections import Counter, defaultdict
from dataclasses import replace
from operator import itemgetter
from typing import Mapping

import gevent
from gevent.event import Event

from .conflicts import LockWait, Session, WaitSpan, spans_of
from .execute import POOLED, SERVER
from .results import QueryResult

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
                self.sessions[key] = Session(pid, server, app or "", seen.most_common(1)[0][0],
                                             None if age is None else float(age), user or "")

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

    def attribute(self, results: tuple[QueryResult, ...]) -> tuple[tuple[QueryResult, ...], int]:
        """Results with ``waits`` and ``blocked_by`` filled in, and the number of samples."""
        by_pid: dict[tuple, list[QueryResult]] = defaultdict(list)
        for q in results:
            if q.pid is not None:
                by_pid[self._backend(q)].append(q)
        # one backend runs one query at a time: per backend its queries by start, found by bisection
        starts: dict[tuple, list[float]] = {}
        for pid, qs in by_pid.items():
            qs.sort(key=lambda q: q.on_backend_s)
            starts[pid] = [q.on_backend_s for q in qs]

        def query_at(pid: tuple, t: float) -> QueryResult | None:
            qs = by_pid.get(pid)
            if not qs:
                return None
            i = bisect_right(starts[pid], t) - 1
            if i >= 0 and qs[i].on_backend_s <= t <= qs[i].end_s:
                return qs[i]
            return None

        waits: dict[int, Counter] = defaultdict(Counter)
        blocked: dict[int, dict[str, float]] = defaultdict(lambda: defaultdict(float))  # seconds, not counts
        for t, dt, pid, wtype, wevent, state, blockers, _lock in self.samples:
            hit = query_at(pid, t)
            if hit is None or state != "active":
                continue
            waits[hit.index][f"{wtype}:{wevent}" if wtype else "CPU"] += 1
            for b in blockers:
                other = query_at(b, t)
                blocked[hit.index][f"#{other.index}" if other else f"pid {b[1]}"] += dt
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

    def wait_series(self, results: tuple[QueryResult, ...]) -> tuple[WaitSpan, ...]:
        """What each worker's query waited on over time: the samples in which a query of
        the run was active on its backend, each covering the ``dt`` before it (as the
        blocked times do), consecutive ones of one query and event merged."""
        by_pid: dict[tuple, list[QueryResult]] = defaultdict(list)
        for q in results:
            if q.pid is not None and q.worker is not None:
                by_pid[self._backend(q)].append(q)
        seen: list[tuple[int, int, float, float, str]] = []
        for t, dt, pid, wtype, wevent, state, _blockers, _lock in self.samples:
            if state != "active":
                continue
            for q in by_pid.get(pid, ()):
                if q.worker is not None and q.on_backend_s <= t <= q.end_s:
                    seen.append((q.worker, q.index, max(t - dt, q.on_backend_s), t, f"{wtype}:{wevent}" if wtype else "CPU"))
                    break
        return spans_of(seen)

    def lock_graph(self, results: tuple[QueryResult, ...]) -> tuple[LockWait, ...]:
        """Who waited for whom, on which lock and relation: one edge per (waiter, holder,
        lock), with the time it was seen waiting, longest first."""
        spans: dict[tuple, list[QueryResult]] = defaultdict(list)
        for q in results:
            if q.pid is not None:
                spans[self._backend(q)].append(q)

        def name(pid: tuple, t: float) -> str:
            for q in spans.get(pid, ()):
                if q.on_backend_s <= t <= q.end_s:
                    return f"#{q.index}"
            return f"pid {pid[1]}"

        edges: dict[tuple[str, str, str, str, str | None], float] = defaultdict(float)
        for t, dt, pid, _wtype, _wevent, state, blockers, lock in self.samples:
            if state != "active" or not blockers:
                continue
            locktype, mode, relation = lock if lock else ("?", "?", None)
            waiter = name(pid, t)
            if waiter.startswith("pid"):
                continue
            for b in blockers:
                edges[(waiter, name(b, t), locktype, mode, relation)] += dt
        return tuple(LockWait(w, h, lt, m, r, sec) for (w, h, lt, m, r), sec
                     in sorted(edges.items(), key=itemgetter(1), reverse=True))
