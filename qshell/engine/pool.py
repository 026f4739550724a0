"""The engine: a QueryPool as the seed describes, on a SQLAlchemy-owned connection pool.

An overseer fills a gevent ``JoinableQueue`` with the staged queries in staged order;
N executor greenlets each hold one pooled connection for the whole run, take one query
at a time, run it, catch every exception into that query's result, put the result on
an output queue and call ``task_done()``. ``run()`` joins the queue, then kills the
workers. No prompt_toolkit, no tabulate: usable as a library once gevent has patched
the process (``qshell.bootstrap()``).

Each staged text is sent as written, once (``execute.run_statement``); only the first
``maxrows`` rows become Python values, the true row count is always reported. Each run
starts its workers in the user's session state and nothing else (``Database.new_run``).
"""
from __future__ import annotations

import gc
import time
from dataclasses import replace
from typing import Sequence

import gevent
from gevent.event import Event
from gevent.queue import Empty, JoinableQueue, Queue

from qshell.common.errors import ConnectionFailed, QshellError
from qshell.engine.conflicts import (
    RETRYABLE,
    Deadlock,
    OwnSession,
    Span,
    deadlock_names,
    detail_timeout,
    merge_retry,
    not_retried,
    retry_refusal,
    woke_at,
)
from qshell.engine.database import Capacity, Database
from qshell.engine.execute import (
    AUTOCOMMIT,
    CANCELLING,
    ISOLATION_LEVELS,
    SERVER,
    TxMode,
    _Interrupted,
    execute_on,
    ran_in_own_transaction,
    refuse_reason,
    run_statement,
    settle,
    stage_refusal,
)
from qshell.engine.sampler import backends
from qshell.records.results import Progress, QueryResult, RunResult, Status

# the engine's public names, importable from here
__all__ = ["AUTOCOMMIT", "ISOLATION_LEVELS", "Capacity", "Database", "QueryPool", "TxMode", "execute_on", "refuse_reason"]


MAX_DEADLOCKS = 100  # deadlocks kept per run for naming (a long load may see many)
# a worker busy this long is asked about: is the user's own session what it waits for?
# (pg_blocking_pids on the side connection, every WATCH_EVERY while one is)
WATCH_AFTER = 0.3
WATCH_EVERY = 0.2
_BLOCKED_BY = "SELECT array_agg(w) FROM unnest(%s::int[]) w WHERE %s = ANY(pg_blocking_pids(w))"


class QueryPool:
    """Run ``queries`` on ``workers`` green workers; ``run()`` returns a RunResult.

    ``order`` is the queue order as 0-based positions into ``queries`` (default: staged
    order); results always come back in staged order. ``mode`` wraps each query in a
    transaction (see TxMode). ``sampler``, if given, is started for the run with the
    workers' backend pids and attributes wait events and blocking to the results.

    ``run()`` blocks the calling greenlet until every query is done, or until the run
    is interrupted — by ``interrupt()`` (callable from any greenlet or a signal handler)
    or a KeyboardInterrupt in the waiting greenlet or in a worker: then every running
    query is cancelled on the server (a cancel request, whatever it is doing: sending,
    streaming, sleeping, waiting on a lock), the unfinished ones come back
    ``cancelled`` and the connections stay usable. It raises ConnectionFailed when the
    workers cannot get their connections, before any query runs.
    """

    def __init__(self, db: Database, queries: Sequence[str], workers: int, maxrows: int = 100, *,
                 mode: TxMode = AUTOCOMMIT, order: Sequence[int] | None = None, order_name: str = "fifo",
                 sampler=None, stop_on_error: bool = False, retries: int = 0) -> None:  # noqa: ANN001
        if workers < 1:
            raise ValueError("workers must be >= 1")
        self.db = db
        self.queries = list(queries)
        self.pool_max = min(workers, max(len(self.queries), 1))
        self.maxrows = maxrows
        self.mode = mode
        # staged order: a range, not a list (50,000 staged queries: 1.9 MB of ints held for the run)
        self.order: Sequence[int] = range(len(self.queries)) if order is None else list(order)
        if order is not None and sorted(self.order) != list(range(len(self.queries))):
            raise ValueError("order must be a permutation of the query positions")
        self.order_name = order_name
        self.sampler = sampler
        self.stop_on_error = stop_on_error
        self.retries = retries  # \\set retries: 40001 / 40P01 failures run again, up to this many times
        # (victim's result, retried, offset by which its error had arrived): named after the run
        self.deadlocks: list[tuple[QueryResult, bool, float]] = []
        self.deadlocks_seen = 0  # all of them (``deadlocks`` keeps the first ``max_deadlocks``)
        self.max_deadlocks = MAX_DEADLOCKS
        self._deadlock_timeout: float | None = None  # deadlock_timeout (s), asked at the first deadlock
        # (server, pid) -> each try run there: (start, end, staged index, the worker's own backend)
        self._tries: dict[tuple, list[tuple[float, float, int, bool]]] = {}
        self._retried: set[int] = set()  # staged indexes run again (their tries are in _tries)
        self.fairies: list = []
        self.tasks: JoinableQueue = JoinableQueue()
        self.output_queue: Queue = Queue()
        self.running: list[gevent.Greenlet] = []
        self.active: dict[int, tuple[int, float]] = {}  # worker -> (query index, perf_counter at pick-up)
        self.done = 0
        self._start = 0.0
        self._last = 0.0  # perf_counter of the last result
        self._stopping = False
        self.interrupted = False
        self._finished = Event()
        # the user's own session (conflicts.OwnSession) when the run began; set when it blocked
        # a worker: what was said, the run's queries then cancelled (not an interrupt)
        self.own: OwnSession | None = None
        self.blocked_by_you: str | None = None
        self._watcher: gevent.Greenlet | None = None

    def overseer(self) -> None:
        """Queue every staged query's position, in queue order (a position, not a copy of
        the query: 50,000 staged queries make no 50,000 tuples)."""
        put = self.tasks.put
        for pos in self.order:
            put(pos)

    def executor(self, number: int, fairy) -> None:  # noqa: ANN001
        """Take queries one at a time until the queue is empty (or the run is stopped)."""
        # the loop runs once per query: what it needs is looked up once
        get, task_done, put, clock = self.tasks.get_nowait, self.tasks.task_done, self.output_queue.put, time.perf_counter
        active, start, maxrows, mode, queries = self.active, self._start, self.maxrows, self.mode, self.queries
        conn = lost = None
        info: dict = {}
        try:
            while not self._stopping:
                try:
                    pos = get()
                except Empty:
                    break
                index, sql = pos + 1, queries[pos]
                now = clock()
                picked = now - start
                active[number] = (index, now)
                try:
                    if fairy is None or fairy.dbapi_connection is not conn or conn.closed:
                        if fairy is None or fairy.dbapi_connection is None or fairy.dbapi_connection.closed:
                            fairy = None
                            fairy = self.db.checkout()
                        conn, info, lost = fairy.dbapi_connection, fairy.info, fairy.invalidate
                    result = run_statement(conn, info, sql, index, number, maxrows, start, picked, mode, lost=lost)
                    if result.sqlstate in RETRYABLE and result.status is Status.ERROR:
                        result = self._retry(result, conn, info, lost, number, picked)
                except _Interrupted as stop:
                    result = stop.result
                    self._stopping = True
                    if stop.keyboard:  # Python raised Ctrl-C here, in a worker: stop the whole run
                        self.interrupt()
                except QshellError as exc:
                    end = clock() - start
                    result = QueryResult(index=index, sql=sql, status=Status.ERROR, worker=number,
                                         error=str(exc), wait_s=picked, start_s=picked, end_s=end)
                active.pop(number, None)
                self.done += 1
                self._last = clock()
                put(result)
                task_done()
                if self.stop_on_error and result.status in (Status.ERROR, Status.TIMEOUT) and not self._stopping:
                    self._abort(number)
        finally:
            if fairy is not None:
                try:
                    settle(fairy, worker=True)
                finally:
                    fairy.close()

    def _retry(self, result: QueryResult, conn, info: dict, lost, number: int, picked: float) -> QueryResult:  # noqa: ANN001
        """Run a query that failed with 40001 / 40P01 again, up to ``retries`` times (pgbench's
        ``--max-tries``); each deadlock seen is kept for naming its queries."""
        first = result.start_s
        tries = 0
        self._retried.add(result.index)  # its tries are kept one by one (the result spans them all)
        self._tried(result)
        if self.retries:
            why = retry_refusal(result.sql, ran_in_own_transaction(self.mode, result.sql))
            if why is not None:  # its work may have been committed (or half of it): never run again
                if result.sqlstate == "40P01":
                    self.deadlocks_seen += 1
                    self._deadlock(result, False)
                return not_retried(result, why)
        while True:
            retry = tries < self.retries and not self._stopping
            if result.sqlstate == "40P01":
                self.deadlocks_seen += 1
                self._deadlock(result, retry)
            if not retry:
                break
            tries += 1
            result = run_statement(conn, info, result.sql, result.index, number, self.maxrows, self._start, picked,
                                   self.mode, lost=lost)
            self._tried(result)
            if not (result.sqlstate in RETRYABLE and result.status is Status.ERROR):
                break
        return merge_retry(first, result, tries) if tries else result

    def _tried(self, result: QueryResult) -> None:
        """Keep a try's interval on its backend, for naming deadlocks: each try of a retried
        query (its result spans all its tries: the backend ran it only during each one);
        every other query's interval is its result's, taken once a deadlock needs it
        (``_tries_of``)."""
        if result.pid is not None:
            self._tries.setdefault((result.server, result.pid), []).append(
                (result.on_backend_s, result.end_s, result.index, result.lent_s is None))

    def _deadlock(self, result: QueryResult, retried: bool) -> None:
        """Keep a deadlock (the first ``max_deadlocks``) for naming its queries once the run
        is over (``_named_deadlocks``). Called as the victim's error came back, before any
        other greenlet ran: ``woke_at`` bounds the error's arrival more tightly than the end."""
        if len(self.deadlocks) < self.max_deadlocks:
            self.deadlocks.append((result, retried, min(result.end_s, woke_at() - self._start)))

    def deadlock_timeout(self) -> float:
        """The workers' deadlock_timeout in seconds (0: no bound from it), asked once per run
        on the side connection (one server only: several may be configured differently)."""
        if self._deadlock_timeout is None:
            if len({f.info.get(SERVER) for f in self.fairies}) > 1:
                self._deadlock_timeout = 0.0
            else:
                self._deadlock_timeout = detail_timeout(
                    self.queries, self.db.session_settings,
                    lambda: float(self.db.rows("SELECT setting::float8 / 1000 FROM pg_settings"
                                               " WHERE name = 'deadlock_timeout'")[0][0]))
        return self._deadlock_timeout

    def _abort(self, me: int) -> None:
        """on_error=cancel: cancel the other running queries, drop the queued ones."""
        self._stopping = True
        for fairy in self.fairies:
            fairy.info[CANCELLING] = True
        others = [g for i, g in enumerate(self.running) if i != me]
        gevent.spawn(gevent.killall, others, block=True, timeout=10)
        while True:
            try:
                self.tasks.get_nowait()
            except Empty:
                break
            self.tasks.task_done()

    def interrupt(self) -> None:
        """Stop the run as Ctrl-C does (idempotent, never blocks): ``run()`` cancels what
        is running and returns with ``interrupted`` set."""
        if self.interrupted:
            return
        self.interrupted = True
        self._stopping = True
        for fairy in self.fairies:
            fairy.info[CANCELLING] = True
        self._finished.set()

    # -- blocked by the user's own session ---------------------------------------------
    def _start_watch(self) -> None:
        """Know the user's own session for this run (``Database.own_session``); behind a
        pooler its backend cannot be known: said once when a transaction is open there."""
        get = self.db.own_session
        self.own = get() if get is not None else None
        self.blocked_by_you = self.db.blocked_by_you = None
        if self.sampler is not None:
            self.sampler.own = self.own
        if self.own is not None and self.own.pid is None and self.own.in_transaction:
            self.db._notice("note: behind a pooler qshell cannot tell your session's backend: a staged query that"
                            " waits for your open transaction waits until it ends (Ctrl-C cancels the run)")

    def _watch(self) -> None:
        """While a worker has been busy WATCH_AFTER or more, every WATCH_EVERY: are the
        user's own session's locks what it waits for (pg_blocking_pids of the workers'
        backends on that session's server, on the side connection)? Then that session,
        idle at the prompt while the run goes on, would never let go: say so, cancel the
        run's queries (as Ctrl-C does; the user's transaction is left alone). An extra:
        a failure here never fails the run."""
        own = self.own
        if own is None or own.pid is None:
            return
        host = own.host  # (a multi-host target: the workers elsewhere cannot wait for it)
        try:
            while not self._finished.wait(WATCH_EVERY):
                now = time.perf_counter()
                if not any(now - t >= WATCH_AFTER for _, t in list(self.active.values())):
                    continue
                pids = [f.dbapi_connection.get_backend_pid() for f in list(self.fairies)
                        if f.dbapi_connection is not None and not f.dbapi_connection.closed
                        and (f.info.get(SERVER) is None or f.info[SERVER].host == host)]
                if not pids:
                    continue
                conn, lock = self.db.side(host)
                with lock:
                    cur = conn.cursor()
                    cur.execute(_BLOCKED_BY, (pids, own.pid))
                    blocked = cur.fetchone()[0]
                if blocked and not self._stopping:
                    self.blocked_by_you = self.db.blocked_by_you = own.blocked_message()
                    self.db._notice(self.blocked_by_you)
                    self.interrupt()
                    return
        except gevent.GreenletExit:
            pass
        except Exception as exc:  # noqa: BLE001 - the watch is an extra: the run goes on unwatched, said
            if not self._stopping:
                self.db._notice("note: a wait for your own session would not be told in this run:"
                                f" {' '.join(str(exc).split())[:200] or type(exc).__name__}")

    def _join(self) -> None:
        self.tasks.join()
        self._finished.set()

    def progress(self) -> Progress:
        """What is running now (safe to call from another greenlet during ``run()``)."""
        now = time.perf_counter()
        running = tuple(sorted((w, i, now - t) for w, (i, t) in self.active.items()))
        queued = len(self.queries) - self.done - len(running)
        return Progress(now - self._start if self._start else 0.0, self.done, max(queued, 0), running)

    def _connect_all(self) -> list:
        if self.mode.rollback:  # \\set tx rollback never commits: refused before anything runs
            for i, sql in enumerate(self.queries, start=1):
                reason = stage_refusal(sql, rollback=True)
                if reason:
                    raise QshellError(f"#{i}: {reason}")
        self.db.new_run(self.mode.session)
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
        """The run (see the class); the cyclic garbage collector is paused while it goes on:
        a full pass over the results made so far would stall every worker at once (31 ms
        measured halfway through 50,000 queries), and the run makes no garbage cycles."""
        collecting = gc.isenabled()
        gc.disable()
        try:
            return self._run()
        finally:
            if collecting:
                gc.enable()

    def _settle(self, fairies: list) -> None:
        """After the run: let the workers end (or kill them once interrupted), stop the
        sampler, clear the connections' cancel marks. A second Ctrl-C while cancelling is
        absorbed: connections are never abandoned mid-cancel."""
        while True:
            try:
                if not self.interrupted:  # the queue is empty: workers settle and end by themselves
                    gevent.joinall(self.running, timeout=10)
                gevent.killall(self.running, block=True, timeout=10)
                if self._watcher is not None:
                    self._watcher.kill()
                if self.sampler is not None:
                    self.sampler.stop()
                break
            except KeyboardInterrupt:
                self.interrupt()
                continue
        for fairy in fairies:
            fairy.info.pop(CANCELLING, None)

    def _run_workers(self, fairies: list, join) -> gevent.Greenlet:  # noqa: ANN001
        """Start the watch, the sampler, the workers and ``join``'s greenlet, then block until
        the run is finished or interrupted (a Ctrl-C here interrupts it); the joiner, still
        to be killed, is returned."""
        self._start_watch()
        if self.sampler is not None:
            self.sampler.start(backends(fairies), self._start)  # spawns and returns: its stop is outside the wall
        self.running = [gevent.spawn(self.executor, i, fairies[i]) for i in range(self.pool_max)]
        self._watcher = gevent.spawn(self._watch)
        joiner = gevent.spawn(join)
        try:
            self._finished.wait()
        except KeyboardInterrupt:
            self.interrupt()
        return joiner

    def _run(self) -> RunResult:
        fairies = self.fairies = self._connect_all()
        gevent.spawn(self.overseer).join()
        started_at = time.time()
        cpu0 = time.process_time()
        self._start = self._last = time.perf_counter()
        joiner = self._run_workers(fairies, self._join)
        end = self._last if not self.interrupted else time.perf_counter()
        cpu = time.process_time() - cpu0
        joiner.kill(block=False)
        self._settle(fairies)
        wall = end - self._start
        slots: list[QueryResult | None] = [None] * len(self.queries)
        get = self.output_queue.get_nowait
        while True:
            try:
                r = get()
            except Empty:
                break
            slots[r.index - 1] = r
        self.output_queue = Queue()  # (its buffer let go)
        results = tuple(
            r if r is not None else QueryResult(index=i, sql=self.queries[i - 1], status=Status.CANCELLED,
                                                error="cancelled before it started")
            for i, r in enumerate(slots, start=1)
        )
        del slots
        if self.interrupted:  # the wall ran to the interruption; the statements cancelled then ended after it
            wall = max([wall, *(q.end_s for q in results if q.status is Status.CANCELLED)])
        samples = 0
        waits: tuple = ()
        sessions: tuple = ()
        series: tuple = ()
        if self.sampler is not None:
            owned = self.sampler.owners(results)  # (the intervals are the results': computed once)
            results, samples = self.sampler.attribute(results, owned)
            waits = self.sampler.lock_graph(results, owned)
            sessions = self.sampler.outside(results)
            series = self.sampler.wait_series(results, owned)
        if self.blocked_by_you is not None:
            why = f"cancelled: {self.blocked_by_you.split(';', 1)[0]}"
            results = tuple(replace(q, error=why) if q.status is Status.CANCELLED else q for q in results)
        return RunResult(n=self.pool_max, started_at=started_at, wall_s=wall, queries=results,
                         interrupted=self.interrupted and self.blocked_by_you is None, mode=self.mode.describe(), order=self.order_name,
                         samples=samples, client_cpu_s=cpu, lock_waits=waits, deadlocks=self._named_deadlocks(results),
                         sessions=sessions, wait_series=series)

    def _named_deadlocks(self, results: tuple[QueryResult, ...]) -> tuple[Deadlock, ...]:
        """Each deadlock with the pids of its DETAIL named by the staged query that was on
        that backend when the server detected it (``conflicts.deadlock_names``; a retried
        query's interval covers all its tries)."""
        if not self.deadlocks:
            return ()
        timeout = self.deadlock_timeout()
        for q in results:  # every other execution's interval, as its result has it
            if q.index not in self._retried:
                self._tried(q)
        out = []
        for victim, retried, arrived in self.deadlocks:
            server = victim.server  # the DETAIL's pids are backends of the victim's server
            detail = victim.diag.detail if victim.diag else None

            def spans(pid: int, server=server) -> list[Span] | None:  # noqa: ANN001
                tries = self._tries.get((server, pid))
                return None if tries is None else [(s, e, i) for s, e, i, _own in tries]

            def exclusive(pid: int, server=server) -> bool:  # noqa: ANN001
                return all(own for _s, _e, _i, own in self._tries.get((server, pid), ()))

            cycle = deadlock_names(detail, victim.pid, victim.index, victim.start_s, arrived, timeout, spans, exclusive)
            out.append(Deadlock(victim=victim.index, at_s=victim.end_s, cycle=cycle, retried=retried, detail=detail))
        return tuple(out)
