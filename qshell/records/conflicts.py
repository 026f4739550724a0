"""The conflicts of a run as records: the lock-wait graph's edges, the deadlocks the server
broke, the sessions outside the run that blocked it, and each worker's wait spans; and their
JSON records. Found and named by ``engine.conflicts`` and ``engine.sampler``."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class LockWait:
    """An edge of the lock-wait graph: ``waiter`` waited ``seconds`` (sampled) for ``holder``
    (each ``#K`` of a staged query, or ``pid N`` for a backend outside the run), asking
    for a lock ``mode`` of ``locktype`` on ``relation`` (None when the lock names none)."""

    waiter: str
    holder: str
    locktype: str
    mode: str
    relation: str | None
    seconds: float


@dataclass(frozen=True, slots=True)
class Deadlock:
    """One deadlock the server broke: the staged query it failed (``victim``) and every
    edge of the cycle as ``(waiter, lock mode, what, holder)``, each side ``#K``, ``pid N``
    (a backend outside the run) or ``#? (pid N)`` (a backend of the run whose execution at
    the detection cannot be told for certain). ``detail``: the server's DETAIL as sent."""

    victim: int
    at_s: float  # offset from the run's start
    cycle: tuple[tuple[str, str, str, str], ...]
    retried: bool = False
    detail: str | None = None

    @property
    def queries(self) -> tuple[str, ...]:
        names = [w for w, _, _, _ in self.cycle] + [h for _, _, _, h in self.cycle]
        return tuple(dict.fromkeys(names))


@dataclass(frozen=True, slots=True)
class Session:
    """A session outside the run that held a lock the run waited for (``pid N`` in the
    lock graph), as ``pg_stat_activity`` showed it while samples saw it block: the state
    most of them saw, its transaction's age at the last (None: no transaction open)."""

    pid: int
    server: str | None  # "host:port" when the run was on several servers
    application_name: str
    state: str
    xact_age_s: float | None
    user: str


@dataclass(frozen=True, slots=True)
class WaitSpan:
    """A stretch of a worker's time in which its query ``index`` was sampled active on
    ``event`` (``CPU``: waiting on nothing), offsets from the run's start."""

    worker: int
    index: int
    start_s: float
    end_s: float
    event: str


def wait_series_record(spans) -> list[dict]:  # noqa: ANN001
    """The run record's ``wait_series``: each WaitSpan as a dict."""
    return [{"worker": w.worker, "index": w.index, "start_ms": round(w.start_s * 1000, 3), "end_ms": round(w.end_s * 1000, 3),
             "event": w.event} for w in spans]


def lock_records(waits, deadlocks, sessions=()) -> dict:  # noqa: ANN001
    return {
        "sessions": [{"name": f"pid {s.pid}", "pid": s.pid, "server": s.server, "application_name": s.application_name,
                      "state": s.state, "xact_age_ms": None if s.xact_age_s is None else round(s.xact_age_s * 1000, 3),
                      "user": s.user} for s in sessions],
        "lock_waits": [{"waiter": w.waiter, "holder": w.holder, "locktype": w.locktype, "mode": w.mode,
                        "relation": w.relation, "ms": round(w.seconds * 1000, 3)} for w in waits],
        "deadlocks": [{"victim": d.victim, "at_ms": round(d.at_s * 1000, 3), "queries": list(d.queries),
                       "retried": d.retried,
                       "cycle": [{"waiter": a, "mode": m, "on": what, "holder": b} for a, m, what, b in d.cycle]}
                      for d in deadlocks],
    }
