"""Retries and conflicts (issue 13, item 4): which failures are retried, deadlocks named.

A staged query that fails with a serialization failure (``40001``) or a deadlock
(``40P01``) is run again, up to ``\\set retries K`` times, as pgbench ``--max-tries``
does (K retries = K + 1 tries). Each staged query is its own transaction, so running
the statement again runs the whole transaction again. A deadlock's DETAIL names the
server processes of the cycle; the engine maps them to the staged queries that ran on
those backends at that moment. No UI, no database access: pure records.
"""
from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass
from typing import Callable, Iterable, Sequence

from qshell.records.conflicts import Deadlock, LockWait, Session, WaitSpan, lock_records, wait_series_record  # noqa: F401  (re-exported)

RETRYABLE = frozenset({"40001", "40P01"})  # serialization_failure, deadlock_detected
_MAY_COMMIT = frozenset({"CALL", "DO"})  # a procedure or a DO block may COMMIT inside

_CYCLE = re.compile(r"Process (\d+) waits for (\S+) on (.+?); blocked by process (\d+)\.")


@dataclass(frozen=True, slots=True)
class OwnSession:
    """The user's own session connection as a run sees it: its server ("host:port"), its
    backend pid (None behind a pooler: libpq's pid is then the pooler's key, not a
    backend), and whether a transaction is open there."""

    host: str
    pid: int | None
    in_transaction: bool

    def blocked_message(self) -> str:
        """The one line said when a staged query waits for this session."""
        if self.in_transaction:
            return (f"blocked by your own session's open transaction (pid {self.pid}): COMMIT or ROLLBACK it first;"
                    " the run's queries were cancelled, the staged set is kept")
        return (f"blocked by your own session (pid {self.pid}), which holds a lock outside any transaction"
                " (an advisory lock?): release it first; the run's queries were cancelled, the staged set is kept")


MAX_SPANS = 1000  # a run's wait series is coarsened beyond this (a run record stays small: ~75 kB at most)


def spans_of(seen: list[tuple[int, int, float, float, str]]) -> tuple[WaitSpan, ...]:
    """Samples ``(worker, index, from, to, event)`` as spans: consecutive ones of one query
    and event merged; beyond ``MAX_SPANS``, time in bins (doubled until they fit), each
    bin of a worker the query and event it was seen on longest."""
    from collections import defaultdict

    end = max((b for _, _, _, b, _ in seen), default=0.0)
    width = 0.0
    items: list[tuple[int, int, float, float, str]]
    while True:
        if width:
            votes: dict[tuple[int, int], dict[tuple[int, str], float]] = defaultdict(lambda: defaultdict(float))
            for worker, index, a, b, event in seen:
                votes[(worker, int(a // width))][(index, event)] += b - a
            items = []
            for (w, k), c in votes.items():
                i, e = max(c, key=c.__getitem__)
                items.append((w, i, k * width, min((k + 1) * width, end), e))
            items.sort(key=lambda x: (x[0], x[2]))
        else:
            items = sorted(seen, key=lambda x: (x[0], x[2]))
        spans: list[list] = []
        for worker, index, a, b, event in items:
            last = spans[-1] if spans else None
            if last and last[0] == worker and last[1] == index and last[4] == event and a <= last[3] + 1e-6:
                last[3] = max(last[3], b)
            else:
                spans.append([worker, index, a, b, event])
        if len(spans) <= MAX_SPANS or not end:
            return tuple(WaitSpan(w, i, a, b, e) for w, i, a, b, e in spans)
        width = width * 2 if width else end / MAX_SPANS * 4


def deadlock_pids(detail: str | None) -> list[tuple[int, str, str, int]]:
    """The cycle in a deadlock's DETAIL: ``(waiting pid, lock mode, what, blocking pid)``."""
    if not detail:
        return []
    return [(int(a), mode, what, int(b)) for a, mode, what, b in _CYCLE.findall(detail)]


def name_cycle(detail: str | None, who) -> tuple[tuple[str, str, str, str], ...]:  # noqa: ANN001
    """The DETAIL's cycle with each pid named by ``who(pid)`` (``#K``, else ``pid N``)."""
    return tuple((who(a) or f"pid {a}", mode, what, who(b) or f"pid {b}") for a, mode, what, b in deadlock_pids(detail))


# -- attribution by time -----------------------------------------------------------------
# An execution is known by its interval on its backend (client clock, offsets from the
# run's start): from before its first byte was sent to after its last answer arrived, so
# the server's whole work for it lies inside. What was seen on a backend at a moment known
# only within [a, b] (a sample: from sending its query of pg_stat_activity to its answer; a
# deadlock: see ``deadlock_names``) belongs to the one execution whose interval holds that
# moment, and is attributed only when that is certain.
AMBIGUOUS = -1  # more than one execution (or qshell's own statements) may have been there
Span = tuple[float, float, "int | None"]  # (start, end, staged index); index None: not an execution


def owner(spans: Iterable[Span], a: float, b: float, exclusive: bool) -> int | None:
    """The staged index of the execution that was on a backend at a moment within [a, b],
    None when no execution of the run was, AMBIGUOUS when it cannot be told. ``spans``: the
    backend's intervals (an end of ``math.inf``: still running; index None: a time the
    backend ran something that is not an execution, as qshell's own statements, or
    intervals forgotten). ``exclusive``: nothing else uses the backend between the
    executions (a worker's own connection), so overlapping one execution alone is enough;
    else (behind a transaction pooler, the backend serves other clients between them) the
    whole of [a, b] must lie inside it."""
    hit: tuple[float, float, int] | None = None
    for start, end, index in spans:
        if end < a or start > b:
            continue
        if hit is not None or index is None:
            return AMBIGUOUS
        hit = (start, end, index)
    if hit is None:
        return None
    if exclusive or (hit[0] <= a and b <= hit[1]):
        return hit[2]
    return AMBIGUOUS


def woke_at() -> float:
    """A perf_counter reading no later than ``now`` and no earlier than the moment the
    calling greenlet's last wait ended: the hub's loop time (taken when its poll returned,
    before the greenlets it woke ran one after another). On a busy client the answer's
    arrival is then known within the hub's own delay, not the greenlet's."""
    from gevent import get_hub

    now, wall = time.perf_counter(), time.time()
    age = wall - get_hub().loop.now()
    # libev's loop time is wall-clock time; another loop's (libuv: milliseconds of its own
    # clock) or a clock step gives an age that is no delay of the hub's: then none is taken
    return now - age if 0.0 < age < 0.5 else now


def deadlock_names(detail: str | None, victim_pid: int | None, victim: int, start: float, end: float,
                   timeout: float, spans: Callable[[int], Sequence[Span] | None],
                   exclusive: Callable[[int], bool]) -> tuple[tuple[str, str, str, str], ...]:
    """The DETAIL's cycle, each pid named by the execution on that backend when the server
    detected the deadlock. The detection happened in the victim's backend, ``timeout``
    (deadlock_timeout, 0 when unsure) after it began to wait: after ``start + timeout``
    (the victim's execution began at ``start``) and before ``end`` (its error arrived).
    Every process of the cycle was waiting then: an execution of another backend that
    holds that moment overlaps [start + timeout, end]; the one the victim waited for
    directly had its lock before the victim waited, so it began before ``end - timeout``
    too; and the moment lies inside the execution of every worker's backend of the cycle,
    which narrows the window for the others. Named when exactly one execution fits;
    ``pid N`` when none of the run's could
    (``spans(pid)`` None: not a backend of the run); else ``#? (pid N)``. An edge
    between two executions of one staged query (a load runs one on several workers at
    once) names its holder ``#K (another execution)``: a query never waits for itself."""
    low, high = start + timeout, end
    pairs = deadlock_pids(detail)
    direct = next((b for a, _m, _w, b in pairs if a == victim_pid), None)
    members = {p for a, _m, _w, b in pairs for p in (a, b)} - {victim_pid}
    known = {p: spans(p) for p in members}

    def fits(pid: int, low: float, high: float) -> list[Span]:
        lead = timeout if pid == direct else 0.0
        return [(s, e, i) for s, e, i in known[pid] or () if e >= low and s + lead <= high]

    # the moment lies in [low, high]; a worker's own backend of the cycle was waiting then,
    # inside an execution: when one alone fits, the moment lies inside it too (narrowed
    # until nothing changes; the member waiting on the victim ended soonest after it)
    narrowed = True
    while narrowed:
        narrowed = False
        for pid in sorted(members):
            one = fits(pid, low, high)
            if len(one) == 1 and one[0][2] is not None and exclusive(pid):
                s, e, _i = one[0]
                new = (max(low, s + (timeout if pid == direct else 0.0)), min(high, e))
                if new != (low, high) and new[0] <= new[1]:
                    low, high = new
                    narrowed = True

    def who(pid: int) -> str:
        if pid == victim_pid:
            return f"#{victim}"
        if known[pid] is None:
            return f"pid {pid}"
        one = fits(pid, low, high)
        if not one:
            return f"pid {pid}"
        if len(one) == 1 and one[0][2] is not None:
            s, e, i = one[0]
            if exclusive(pid) or (s <= low and high <= e):
                return f"#{i}"
        elif exclusive(pid) and len({i for _s, _e, i in one}) == 1 and one[0][2] is not None:
            return f"#{one[0][2]}"  # tries of one staged query: which try is not asked
        return f"#? (pid {pid})"

    out = []
    for a, mode, what, b in pairs:
        waiter, holder = who(a), who(b)
        if holder == waiter and a != b and not holder.startswith("#?"):
            holder = another(holder)
        out.append((waiter, mode, what, holder))
    return tuple(out)


def another(name: str) -> str:
    """The name of an execution of the same staged query as the one it waits for (or
    blocks), on another backend: in a load one query runs on several workers at once."""
    return f"{name} (another execution)"


def detail_timeout(queries: Iterable[str], settings: dict[str, str], ask: Callable[[], float]) -> float:
    """deadlock_timeout in seconds as the workers have it, for ``deadlock_names``: the
    server's setting for this role and database (``ask()``), or 0 (no bound from it) when
    the user's session sets its own or a staged text may change it."""
    if any(name.lower() == "deadlock_timeout" for name in settings):
        return 0.0
    if any("deadlock_timeout" in q.lower() for q in queries):
        return 0.0
    try:
        value = ask()
    except Exception:  # noqa: BLE001 - a bound less: the names stay right, fewer are certain
        return 0.0
    return value if math.isfinite(value) and value > 0 else 0.0


def retry_refusal(sql: str, in_transaction: bool = False) -> str | None:
    """Why a failed ``sql`` must not run again, or None when it may: only a text whose
    failure rolled everything back is retried — a single statement or ``\\;`` group with
    no transaction control (a COMMIT inside would have committed the work before it) and,
    unless qshell ran it inside a transaction of its own (``in_transaction``: a transaction
    mode, where a COMMIT inside a procedure fails with 2D000), no CALL or DO (a procedure
    or block may COMMIT inside)."""
    from qshell.engine.execute import statements, tx_control
    from qshell.script.sqlsplit import first_keyword

    control = tx_control(sql)
    if control is not None:
        return f"it contains {control}: work before the failure may be committed"
    for stmt in statements(sql):
        word = first_keyword(stmt)
        if word in _MAY_COMMIT and not in_transaction:
            return f"it contains {word}: a procedure or block may have committed work before the failure"
    return None


def not_retried(result, why: str):  # noqa: ANN001, ANN201 - results.QueryResult
    """``result`` with a note saying why it was not retried."""
    from dataclasses import replace

    return replace(result, notices=result.notices + (f"qshell: not retried: {why}",))


def merge_retry(first_start_s: float, final, tries: int):  # noqa: ANN001, ANN201 - results.QueryResult
    """The result of a query that took ``tries`` retries: the last attempt's outcome, timed
    from the first attempt's start (pgbench counts the whole time of all tries)."""
    from dataclasses import replace

    whole = final.end_s - first_start_s
    return replace(final, retries=tries, start_s=first_start_s, exec_s=max(whole - final.fetch_s, 0.0))
