"""The anomaly table: every permutation of a spec run at each isolation level, beside every
serial order of its sessions, and the permutations whose final state no serial order
gives marked as anomalies (named where the pattern is recognisable).

How a level is set: each session's connection is sent
``SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL …`` once, after it connects and
before any setup block runs, so every transaction of that session (its ``BEGIN`` in a setup
block, or each step's implicit transaction) takes the level. The control connection (the
spec's setup and teardown blocks) keeps the server's default. A spec that names a level
itself (``BEGIN ISOLATION LEVEL …``) overrides it: that is said as a warning.

The final state of a permutation: the result sets its teardown blocks return (a session's
``teardown { SELECT … }`` or the spec's), read after every step has ended; a spec whose
teardowns return no rows: the result sets of the permutation's last step that returned rows.

A serial order runs each session's steps as one block, sessions one after another, for every
order of the sessions. A permutation is an anomaly when it ends with a final state that no
serial order ends with, and no step failed that did not fail in a serial order (a
serialization failure or a deadlock is the server refusing, not an anomaly); or when a session
read the same query twice inside one transaction and got different rows, which no serial
order shows (a non-repeatable read; a phantom when the number of rows changed).

Every step's outcome is the runner's record (``qshell.engine.isolation``): what the server
answered, its SQLSTATE, and, for a step found waiting on a lock, the sessions whose backends
``pg_blocking_pids`` named at that moment (asked on the control connection right then).
"""
from __future__ import annotations

import itertools
import re
from typing import Callable, Iterable, Sequence

from qshell.engine.isolation import IsolationFatal, IsolationRunner
from qshell.records.anomaly import LEVELS, AnomalyTable, Cell, SerialRun, Wait
from qshell.records.isolation import Event, PermutationRecord, ResultSet, StepOutcome, StepSent, Table
from qshell.script.spec import Permutation, PermutationStep, Spec, permutations_of

MAX_SESSIONS = 5  # 120 serial orders
_ABBREV = {"rc": "read committed", "rr": "repeatable read", "ru": "read uncommitted", "ser": "serializable",
           "s": "serializable"}
_ENDS_TX = re.compile(r"^\s*(commit|rollback|end|abort|begin|start\s+transaction|prepare\s+transaction)\b", re.I)
_WRITE = re.compile(r"^\s*(update|insert\s+into|delete\s+from|merge\s+into)\s+(?:only\s+)?([\w.\"]+)", re.I)
_WHERE = re.compile(r"\bwhere\b(.*)$", re.I | re.S)
_OWN_LEVEL = re.compile(r"isolation\s+level|\bset\s+(?:session\s+|local\s+)?(?:default_)?transaction_isolation\b"
                        r"|set_config\s*\(\s*'(?:default_)?transaction_isolation'", re.I)


class LevelError(ValueError):
    """A level that is not one of PostgreSQL's four."""


def parse_levels(text: str) -> tuple[str, ...]:
    """``"read committed, repeatable read,serializable"`` -> the levels, in order, once each;
    also ``rc``, ``rr``, ``ser``. LevelError names the word it does not know."""
    out: list[str] = []
    for word in text.split(","):
        w = " ".join(word.split()).lower()
        if not w:
            continue
        w = _ABBREV.get(w, w)
        if w not in LEVELS:
            raise LevelError(f"unknown isolation level {word.strip()!r} (read uncommitted, read committed, "
                             "repeatable read, serializable)")
        if w not in out:
            out.append(w)
    if not out:
        raise LevelError("no isolation level given")
    return tuple(out)


def blocks(perm: Permutation) -> dict[int, tuple[PermutationStep, ...]]:
    """The steps ``perm`` runs, session by session (session index -> its steps in the
    permutation's order, blocker annotations dropped)."""
    out: dict[int, list[PermutationStep]] = {}
    for ps in perm.steps:
        out.setdefault(ps.step.session, []).append(PermutationStep(ps.step))
    return {i: tuple(v) for i, v in sorted(out.items())}


def serial_permutations(perm: Permutation) -> list[tuple[tuple[int, ...], Permutation]]:
    """Every serial order of the steps ``perm`` runs: each session's steps as one block, for
    every order of the sessions that have steps in it: (the session order, the permutation)."""
    b = blocks(perm)
    return [(order, Permutation(tuple(ps for i in order for ps in b[i]))) for order in itertools.permutations(b)]


def own_level_warnings(spec: Spec) -> list[str]:
    """The sessions whose setup or steps set an isolation level themselves (the column's level
    does not apply to their transactions)."""
    out = []
    for s in spec.sessions:
        texts = [s.setup or ""] + [st.sql for st in s.steps]
        if any(_OWN_LEVEL.search(t) for t in texts):
            out.append(f"session {s.name} sets its own isolation level: the column's level does not apply to it")
    return out


def final_state(record: PermutationRecord) -> tuple[list[Table], str]:
    """(the final state's tables, where they come from): what the teardown blocks returned,
    else the result of the permutation's last step that returned rows."""
    torn = [ev.table for ev in record.events if isinstance(ev, ResultSet) and ev.origin in ("session teardown", "teardown")]
    if torn:
        return torn, "teardown"
    for o in reversed(record.outcomes):
        if o.tables:
            return list(o.tables), "last reading step"
    return [], ""


def _key(tables: Iterable[Table]) -> tuple:
    return tuple((t.columns, t.rows) for t in tables)


def _norm(sql: str) -> str:
    return " ".join(sql.split()).rstrip(";").lower()


def read_anomalies(outcomes: Sequence[StepOutcome]) -> list[tuple[str, str, str]]:
    """(session, query, name) for each query a session ran twice inside one transaction with
    different rows: ``phantom`` when the number of rows changed, else ``non-repeatable read``.
    A transaction ends at a step that ends or begins one (COMMIT, ROLLBACK, BEGIN…) or fails."""
    seen: dict[str, dict[str, Table]] = {}
    found: list[tuple[str, str, str]] = []
    for o in outcomes:
        reads = seen.setdefault(o.session, {})
        if _ENDS_TX.match(o.sql) or o.error is not None:
            reads.clear()
            continue
        if len(o.tables) != 1:
            continue
        q, t = _norm(o.sql), o.tables[0]
        before = reads.get(q)
        if before is None:
            reads[q] = t
        elif (before.columns, before.rows) != (t.columns, t.rows):
            name = "phantom" if len(before.rows) != len(t.rows) else "non-repeatable read"
            if (o.session, q, name) not in found:
                found.append((o.session, q, name))
    return found


def _writes_after_read(outcomes: Sequence[StepOutcome]) -> dict[str, list[tuple[str, str]]]:
    """Per session: the targets ((table, WHERE text)) it wrote after reading in the same
    transaction."""
    out: dict[str, list[tuple[str, str]]] = {}
    have_read: dict[str, bool] = {}
    for o in outcomes:
        if _ENDS_TX.match(o.sql):
            have_read[o.session] = False
            continue
        m = _WRITE.match(o.sql)
        if m and have_read.get(o.session):
            where = _WHERE.search(o.sql)
            target = (m.group(2).lower(), _norm(where.group(1)) if where else "")
            out.setdefault(o.session, []).append(target)
        elif o.tables:
            have_read[o.session] = True
    return out


def name_anomaly(outcomes: Sequence[StepOutcome]) -> str:
    """The name of a final-state anomaly from the steps' shapes: ``lost update`` when two
    sessions that committed each read and then wrote the same target (table and WHERE text),
    ``write skew`` when they read and then wrote different ones, ``read-only anomaly`` when a
    session that only read took part; else ``anomaly``."""
    failed = {o.session for o in outcomes if o.error is not None}
    writes = {s: set(ts) for s, ts in _writes_after_read(outcomes).items() if s not in failed}
    if len(writes) >= 2:
        sessions = list(writes)
        for a, b in itertools.combinations(sessions, 2):
            if writes[a] & writes[b]:
                return "lost update"
        return "write skew"
    writers = {o.session for o in outcomes if _WRITE.match(o.sql)}
    readers = {o.session for o in outcomes if o.tables and o.session not in writers and o.session not in failed}
    if readers and writers:
        return "read-only anomaly"
    return "anomaly"


class AnomalyRunner:
    """Runs the table: one IsolationRunner per level (its sessions set to the level), the
    serial orders first, then the permutations. ``on_cell`` is told of each cell as it is done."""

    def __init__(self, spec: Spec, conninfo: str, password: str | None = None,
                 on_cell: Callable[[Cell], None] | None = None, max_step_wait: float | None = None) -> None:
        self.spec = spec
        self.conninfo = conninfo
        self.password = password
        self.on_cell = on_cell
        self.max_step_wait = max_step_wait
        self.runner: IsolationRunner | None = None
        self._level = ""

    def interrupt(self) -> None:
        """Ctrl-C from another greenlet: the running permutation is cancelled and torn down."""
        if self.runner is not None:
            self.runner.interrupt()

    def _open(self, level: str) -> IsolationRunner:
        runner = IsolationRunner(self.spec, self.conninfo, self._event, max_step_wait=self.max_step_wait,
                                 password=self.password)
        runner.connect()
        for c in runner.conns:
            c.conn.exec(f"SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL {level.upper()}")
        self._level = level
        self.runner = runner
        return runner

    def _event(self, ev: Event) -> None:
        """A step found waiting on a lock: ask the server which backends block it, now."""
        runner = self.runner
        if runner is None or not isinstance(ev, StepSent) or not ev.waiting or ev.reason != "lock":
            return
        step = self.spec.step(ev.step)
        if step is None or runner.control is None:
            return
        pid = runner.conns[step.session].pid
        res = runner.control.conn.exec(f"SELECT pg_catalog.pg_blocking_pids({int(pid)})")
        pids: list[int] = []
        if res and res[-1].rows and res[-1].rows[0][0]:
            pids = [int(p) for p in res[-1].rows[0][0].strip("{}").split(",") if p]
        names, steps = [], []
        record = runner.run_record.permutations[-1] if runner.run_record.permutations else None
        for c in runner.conns:
            if c.pid in pids:
                names.append(c.name)
                last = next((o.name for o in reversed(record.outcomes) if o.session == c.name), "") if record else ""
                steps.append(last)
        self._waits.append(Wait(ev.step, tuple(names), tuple(steps)))

    def _cell(self, level: str, perm: Permutation, serial: bool) -> Cell:
        runner = self.runner if self.runner is not None and self._level == level else self._open(level)
        self._waits: list[Wait] = []
        try:
            record = runner.run_permutation(perm)
        except IsolationFatal:
            record = runner.run_record.permutations[-1]
            self._reset(teardown=bool(record.outcomes))
        except BaseException:
            self._reset(teardown=False)
            raise
        final = [] if record.failed or record.interrupted else final_state(record)[0]  # a stopped run has no final state
        cell = Cell(level, tuple(perm.names()), record, serial=serial, final=final, waits=self._waits,
                    errors=[(o.name, o.error.sqlstate or "") for o in record.outcomes if o.error is not None],
                    stopped=record.failed.strip())
        if self.on_cell is not None:
            self.on_cell(cell)
        return cell

    def _reset(self, teardown: bool) -> None:
        """After a run that stopped: close the connections (rolling back); with ``teardown``
        (the setups had succeeded: a step was sent) run the spec's teardown on a new connection,
        so the next permutation's setup finds a clean database. A setup that failed is not
        followed by the teardown: the table it could not create may be somebody else's."""
        runner, self.runner = self.runner, None
        if runner is None:
            return
        runner.close()
        if teardown and self.spec.teardown is not None:
            from qshell.engine.libpq import Connection, LibpqError

            try:
                conn = Connection(self.conninfo, None, None, self.password)
                try:
                    conn.exec(self.spec.teardown)
                finally:
                    conn.close()
            except LibpqError:
                pass

    def run(self, levels: Sequence[str], permutations: Sequence[Permutation] | None = None, name: str = "") -> AnomalyTable:
        """The whole table at ``levels`` for ``permutations`` (default: the spec's, else every interleaving)."""
        spec = self.spec
        if len(spec.sessions) > MAX_SESSIONS:
            raise LevelError(f"{len(spec.sessions)} sessions: the anomaly table runs every serial order, at most {MAX_SESSIONS} sessions")
        perms = list(permutations) if permutations is not None else list(permutations_of(spec))
        table = AnomalyTable(name, tuple(s.name for s in spec.sessions), tuple(levels),
                             permutations=[tuple(p.names()) for p in perms], warnings=own_level_warnings(spec))
        firsts: list[Permutation] = []
        for perm in perms:
            key = tuple(ps.name for b in blocks(perm).values() for ps in b)
            if key not in table.groups:
                table.groups.append(key)
                firsts.append(perm)
            table.group_of.append(table.groups.index(key))
        try:
            for level in levels:
                for g, first in enumerate(firsts):
                    table.serial[(g, level)] = [
                        SerialRun(tuple(spec.sessions[i].name for i in order), self._cell(level, sp, True))
                        for order, sp in serial_permutations(first)]
                for k, perm in enumerate(perms):
                    table.cells[(k, level)] = self._cell(level, perm, False)
        except KeyboardInterrupt:
            table.interrupted = True
        finally:
            if self.runner is not None:
                self.runner.close()
                self.runner = None
        judge(table)
        return table


def judge(table: AnomalyTable) -> None:
    """Mark each cell: the serial order it matches, else an anomaly (named), as the module says."""
    froms = set()
    for (k, level), c in table.cells.items():
        finals: dict[tuple, str] = {}
        allowed: set[tuple[str, str]] = set()
        serial_reads: set[tuple[str, str, str]] = set()
        for run in table.serial.get((table.group_of[k], level), []):
            finals.setdefault(_key(run.cell.final), " → ".join(run.order))
            allowed.update(run.cell.errors)
            serial_reads.update(read_anomalies(run.cell.record.outcomes))
            froms.add(final_state(run.cell.record)[1])
        if c.stopped or c.record.interrupted:
            continue
        froms.add(final_state(c.record)[1])
        # no final state anywhere (no teardown, no step returned rows): nothing to compare,
        # not a match of every serial order
        compared = bool(c.final) or any(finals)
        c.matches_serial = finals.get(_key(c.final), "") if compared else ""
        extra_errors = [e for e in c.errors if e not in allowed]
        reads = [r for r in read_anomalies(c.record.outcomes) if r not in serial_reads]
        if not extra_errors and not c.matches_serial and finals and compared:
            c.anomaly = name_anomaly(c.record.outcomes)
        elif not extra_errors and reads:
            c.anomaly = reads[0][2]
    froms.discard("")
    table.final_from = " / ".join(sorted(froms))


def run_levels(spec: Spec, levels: Sequence[str], conninfo: str, password: str | None = None,
               permutations: Sequence[Permutation] | None = None, on_cell: Callable[[Cell], None] | None = None,
               name: str = "") -> AnomalyTable:
    """The anomaly table of ``spec`` (or of the given ``permutations`` of its steps) at each
    of ``levels``: what ``--levels``, ``\\spec … under …`` and ``\\lab NAME under …`` print."""
    return AnomalyRunner(spec, conninfo, password, on_cell).run(levels, permutations, name)
