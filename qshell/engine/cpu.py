"""CPU during a run: the server's backends, the whole server, qshell, and the machine.

Why: a ratio such as overlap or speedup says nothing of its cause. On a machine of 2 cores
a sweep's walls stop shrinking when the cores are busy — with the server's work, with
qshell's own, or with other processes' — and only CPU figures tell which.

Sources (Linux ``/proc``, read by qshell on its own machine; nothing asked of the server
but, once per connection target, its side connection's ``pg_backend_pid()`` and
``backend_start``):

- the **worker backends**: ``utime + stime`` of ``/proc/<pid>/stat`` for each backend pid
  the run's queries ran on (``pg_backend_pid()`` of the workers' connections, the backend
  lent for each query behind a transaction pooler), before and after the run; a backend
  born during the run counts from zero. Counted only when the server is local: the side
  connection's backend must be a ``postgres`` process here whose start time equals the
  server's ``backend_start`` (within a second) — a pid of another machine's server is
  not one of ours — and a worker's pid must be a child of that backend's parent (the
  postmaster). Otherwise: ``server CPU not measurable: remote server``.
- the **whole server**: every child of the postmaster (backends of other sessions,
  parallel workers, autovacuum, checkpointer…) plus the postmaster's own time and the
  time of the children it reaped during the run (``cutime + cstime``: parallel workers
  end before they can be read).
- **qshell**: ``time.process_time()`` over the same interval.
- the **machine**: the first line of ``/proc/stat``: busy = all but ``idle`` and
  ``iowait``, over every CPU.

``other`` = machine busy − whole server − qshell: what other processes took. Times are
in clock ticks (10 ms on Linux): a run shorter than ``MIN_WALL_S`` gets figures but no
verdict. No UI imports.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from qshell.common.errors import QshellError
from qshell.records.cpu import BUSY, MIN_WALL_S, OTHER, REMOTE, RunCpu, _pct  # noqa: F401  (the record, re-exported)

if TYPE_CHECKING:  # pragma: no cover
    from qshell.engine.database import Database

TICK = 1.0 / (os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100)


def _stat(pid: int) -> tuple[str, int, int, int, int] | None:
    """(comm, ppid, utime + stime, cutime + cstime, starttime) of ``pid`` in ticks, or None."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            text = fh.read().decode("utf-8", "replace")
    except OSError:
        return None
    left, right = text.find("("), text.rfind(")")
    if left < 0 or right < 0:
        return None
    f = text[right + 2:].split()
    # fields after comm: state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt
    # utime stime cutime cstime priority nice threads itrealvalue starttime
    try:
        return text[left + 1:right], int(f[1]), int(f[11]) + int(f[12]), int(f[13]) + int(f[14]), int(f[19])
    except (IndexError, ValueError):
        return None


def _boot_time() -> float | None:
    try:
        with open("/proc/stat") as fh:
            for line in fh:
                if line.startswith("btime "):
                    return float(line.split()[1])
    except OSError:
        return None
    return None


def machine() -> tuple[int, int, int] | None:
    """(busy ticks, all ticks, CPUs) of the whole machine since boot (``/proc/stat``)."""
    try:
        with open("/proc/stat") as fh:
            lines = fh.read().splitlines()
    except OSError:
        return None
    head = lines[0].split()
    if not lines or head[0] != "cpu":
        return None
    v = [int(x) for x in head[1:9]]  # user nice system idle iowait irq softirq steal
    cpus = sum(1 for line in lines if line.startswith("cpu") and line[3:4].isdigit())
    return sum(v) - v[3] - v[4], sum(v), max(cpus, 1)


def _children(parent: int) -> list[int]:
    """The pids whose parent is ``parent`` (its ``children`` file, else a scan of /proc)."""
    try:
        with open(f"/proc/{parent}/task/{parent}/children") as fh:
            return [int(x) for x in fh.read().split()]
    except OSError:
        pass
    out = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            st = _stat(int(name))
            if st is not None and st[1] == parent:
                out.append(int(name))
    return out


def _is_postgres(pid: int, comm: str) -> bool:
    if comm.startswith("postgres"):
        return True
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return fh.read(9) == b"postgres:"
    except OSError:
        return False


def locate(backend_pid: int, backend_start: float) -> int | str:
    """The postmaster pid of the server whose backend ``backend_pid`` (started at epoch
    ``backend_start``, as ``pg_stat_activity`` says) answered, when that server runs on this
    machine; else why its CPU cannot be read."""
    st = _stat(backend_pid)
    boot = _boot_time()
    if st is None or boot is None or machine() is None:
        return REMOTE
    comm, ppid, _, _, start = st
    if not _is_postgres(backend_pid, comm) or abs(boot + start * TICK - backend_start) > 1.0:
        return REMOTE  # a process of this machine that happens to have that pid
    parent = _stat(ppid)
    if parent is None or not _is_postgres(ppid, parent[0]):
        return REMOTE
    return ppid


@dataclass(frozen=True, slots=True)
class Snapshot:
    """What ``measure`` needs from one moment: monotonic time, qshell's CPU, the machine's
    ticks, and per process of the server (pid -> (cpu ticks, start tick))."""

    at: float
    client_s: float
    machine: tuple[int, int, int] | None
    procs: dict[int, tuple[int, int]]
    postmaster: int | None
    reaped: int  # the postmaster's own ticks + those of the children it reaped


def snapshot(postmaster: int | None) -> Snapshot:
    """Now: the machine, qshell, and every process of the server (when local)."""
    procs: dict[int, tuple[int, int]] = {}
    reaped = 0
    if postmaster is not None:
        pm = _stat(postmaster)
        if pm is not None:
            reaped = pm[2] + pm[3]
            for pid in _children(postmaster):
                st = _stat(pid)
                if st is not None and st[1] == postmaster:
                    procs[pid] = (st[2], st[4])
    return Snapshot(time.monotonic(), time.process_time(), machine(), procs,
                    postmaster, reaped)


def measure(before: Snapshot, after: Snapshot, pids: set[int], why: str | None = None) -> RunCpu | None:
    """The run's CPU between two snapshots; ``pids``: the worker backends' pids. None when
    this machine has no ``/proc/stat``."""
    if before.machine is None or after.machine is None:
        return None
    wall = after.at - before.at
    machine_s = (after.machine[0] - before.machine[0]) * TICK
    client = after.client_s - before.client_s
    if after.postmaster is None or why is not None:
        return RunCpu(wall, after.machine[2], machine_s, client, None, None, 0, why or REMOTE)

    def used(pid: int) -> int:
        now = after.procs.get(pid)
        if now is None:
            return 0  # ended before the second snapshot: its time is in ``reaped``
        then = before.procs.get(pid)
        return now[0] - then[0] if then is not None and then[1] == now[1] else now[0]  # born during the run: all of it

    backends = [p for p in pids if p in after.procs]
    backend_ticks = sum(used(p) for p in backends)
    server_ticks = sum(used(p) for p in after.procs) + after.reaped - before.reaped
    return RunCpu(wall, after.machine[2], machine_s, client, backend_ticks * TICK, server_ticks * TICK, len(backends))


def sweep_verdict(points: list[tuple[int, RunCpu]]) -> str:
    """One line over a sweep's runs (N, its CPU): from which N the machine was CPU-bound,
    and the largest share other processes took."""
    usable = [(n, c) for n, c in points if c.measurable]
    if not usable:
        return f"no CPU verdict: every run took under {MIN_WALL_S:g} s"
    parts = []
    bound = next(((n, c) for n, c in usable if c.busy >= BUSY), None)
    if bound is not None:
        parts.append(f"CPU-bound at {bound[1].cpus} cores from N={bound[0]}")
    else:
        top = max(usable, key=lambda p: p[1].busy)
        parts.append(f"not CPU-bound: the machine was at most {_pct(top[1].busy)} busy (N={top[0]})")
    others = [(n, c.other) for n, c in usable if c.other is not None]
    if others:
        n, share = max(others, key=lambda p: p[1] or 0.0)
        if share is not None and share >= OTHER:
            parts.append(f"other processes took up to {_pct(share)} of the CPU (N={n})")
    if all(c.backends_s is None for _, c in usable):
        parts.append(usable[0][1].why or REMOTE)
    return "; ".join(parts)


def source(db: Database) -> int | str:
    """The postmaster pid of ``db``'s server when it runs on this machine (its side
    connection's backend checked in /proc), else why its CPU cannot be read; asked once
    per Database."""
    if db.cpu_source is None:
        try:
            pid, start = db.scalar_row("SELECT pg_backend_pid(), extract(epoch FROM backend_start)"
                                       " FROM pg_stat_activity WHERE pid = pg_backend_pid()")
            db.cpu_source = locate(int(pid), float(start))
        except (QshellError, TypeError, ValueError) as exc:
            db.cpu_source = f"server CPU not measurable: {exc}"
    return db.cpu_source


class CpuSnapshots:
    """Mixed in before a QueryPool or LoadPool: the run's CPU is read (``snapshot``) once its
    workers are connected, right before its clock starts (connecting is not the run's),
    with the workers' backend pids (a load's workers keep theirs for the whole load)."""

    postmaster: int | None = None
    cpu_start: Snapshot | None = None
    cpu_pids: frozenset[int] = frozenset()

    def _connect_all(self) -> list:
        fairies = super()._connect_all()  # type: ignore[misc]
        self.cpu_pids = frozenset(f.dbapi_connection.get_backend_pid() for f in fairies)
        self.cpu_start = snapshot(self.postmaster)
        return fairies
