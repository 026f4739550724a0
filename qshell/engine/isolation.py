"""Run an isolation spec as isolationtester runs it: one connection per session plus a
control connection, steps sent asynchronously, a step found waiting by asking the server
``pg_isolation_test_session_is_blocked(pid, '{pids of the spec's sessions}')`` on the
control connection every 10 ms while it has not answered, the blocker annotations
``(*)``, ``(step)`` and ``(step notices N)`` honoured, and the same time limits
(twice ``PG_TEST_TIMEOUT_DEFAULT`` seconds, 360 s by default: a cancel after it, giving
up after twice it).

Every connection is a libpq connection of its own (``qshell.engine.libpq``): a step is one
``PQsendQuery`` of its text and all its results are kept, as isolationtester prints them.
Each session's ``application_name`` is extended with ``/NAME`` (the control connection's
with ``/control connection``) by the same ``set_config`` query isolationtester sends.

What happens becomes records (``qshell.records.isolation``): each event is handed to
``emit`` as it happens (so a caller can print while a step waits) and kept, with what each
step did, in the ``PermutationRecord`` that ``run_permutation`` returns. The runner can be
given any permutation of its spec's steps (``run_permutation``), not only the spec's.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from typing import Callable

from gevent import GreenletExit

from qshell.engine.libpq import PGRES_COMMAND_OK, PGRES_EMPTY_QUERY, PGRES_FATAL_ERROR, PGRES_TUPLES_OK, Connection, LibpqError, Result
from qshell.records.isolation import (
    Event,
    Interrupted,
    Message,
    Notice,
    Notification,
    PermutationRecord,
    PermutationStarted,
    ResultSet,
    SpecParsed,
    SpecRun,
    StepCanceling,
    StepCompleted,
    StepError,
    StepOutcome,
    StepSent,
    Table,
    UnexpectedStatus,
)
from qshell.script.spec import NOTICES, ONCE, OTHER_STEP, Blocker, Permutation, PermutationStep, Spec, permutations_of

PREP_WAITING = "isolationtester_waiting"
CHECK_EVERY = 0.010  # isolationtester's select() timeout between lock-wait checks
DEFAULT_STEP_WAIT = 360.0  # seconds: isolationtester 18's limit (2 x PG_TEST_TIMEOUT_DEFAULT, which is 180)
APPNAME_SQL = "SELECT set_config('application_name',\n  current_setting('application_name') || '/' || $1,\n  false)"
WAIT_SQL = "SELECT pg_catalog.pg_isolation_test_session_is_blocked($1, '{%s}')"

_NONBLOCK, _RETRY = 1, 2


class IsolationFatal(Exception):
    """The run cannot go on (isolationtester exits 1 there); the message was emitted."""


def step_wait_limit() -> float:
    """How long a step may run before it is cancelled, as isolationtester 18 reads it:
    twice ``PG_TEST_TIMEOUT_DEFAULT`` seconds (strtol of it, as a C int), else 360."""
    env = os.environ.get("PG_TEST_TIMEOUT_DEFAULT")
    if env is None:
        return DEFAULT_STEP_WAIT
    text = env.lstrip(" \t\n\r\f\v")
    sign = -1 if text.startswith("-") else 1
    digits = ""
    for c in text[1:] if text[:1] in "+-" and text else text:
        if not "0" <= c <= "9":
            break
        digits += c
    value = (sign * int(digits or "0")) & 0xFFFFFFFF
    if value >= 1 << 31:
        value -= 1 << 32
    return 2.0 * value


@dataclass(eq=False)
class _Running:
    """One position of the permutation being run (a step may appear twice)."""

    pstep: PermutationStep
    outcome: StepOutcome
    targets: dict[int, int] = field(default_factory=dict)  # blocker index -> notices to reach


@dataclass(eq=False)
class _Conn:
    name: str
    conn: Connection
    pid: int
    active: _Running | None = None
    total_notices: int = 0


class IsolationRunner:
    """The connections of one spec and the runner of its permutations."""

    def __init__(self, spec: Spec, conninfo: str, emit: Callable[[Event], None] | None = None,
                 max_step_wait: float | None = None, connect_timeout: float | None = None,
                 password: str | None = None) -> None:
        self.spec = spec
        self.conninfo = conninfo
        self.password = password
        self._stop = False  # interrupt() was called: the run ends at its next wait
        self._setup_failed = False  # a setup block of this permutation failed: no teardown after it
        self._cancelled: list[str] = []  # the steps running when it was
        self._sink = emit
        self.max_step_wait = step_wait_limit() if max_step_wait is None else max_step_wait
        self.connect_timeout = connect_timeout
        self.control: _Conn | None = None
        self.conns: list[_Conn] = []
        self._pending: list[Notice] = []
        self._any_new_notice = False
        self._record: PermutationRecord | None = None
        self.run_record = SpecRun(tuple(s.name for s in spec.sessions))

    # -- events ----------------------------------------------------------------------
    def _flush_notices(self) -> None:
        pending, self._pending = self._pending, []
        for ev in pending:
            self._put(ev)

    def _put(self, ev: Event) -> None:
        self.run_record.events.append(ev)
        if self._record is not None:
            self._record.events.append(ev)
        if self._sink is not None:
            self._sink(ev)

    def emit(self, ev: Event) -> None:
        """Hand ``ev`` on after the notices that arrived before it."""
        self._flush_notices()
        self._put(ev)

    def _fatal(self, text: str) -> IsolationFatal:
        self.emit(Message(text, fatal=True))
        self.run_record.status = 1
        if self._record is not None:
            self._record.failed = text
        return IsolationFatal(text)

    def _noticer(self, index: int) -> Callable[[str], None]:
        def on_notice(text: str) -> None:
            if index == 0:
                return  # the control connection's messages are not shown (isolationtester's black hole)
            c = self.conns[index - 1]
            c.total_notices += 1
            self._any_new_notice = True
            self._pending.append(Notice(c.name, text))
            if c.active is not None:
                c.active.outcome.notices.append(text)
        return on_notice

    # -- connecting ------------------------------------------------------------------
    def connect(self) -> None:
        """The control connection and one per session, named, and the lock-wait query prepared."""
        names = ["control connection"] + [s.name for s in self.spec.sessions]
        made: list[_Conn] = []
        try:
            for i, name in enumerate(names):
                try:
                    conn = Connection(self.conninfo, self._noticer(i), self.connect_timeout, self.password, lambda: self._stop)
                except LibpqError as exc:
                    raise self._fatal(f"Connection {i} failed: {exc}") from None
                made.append(_Conn(name, conn, conn.pid))
                self.conns = made[1:]  # (a notice while connecting finds its session)
                conn.send_params(APPNAME_SQL, [name])
                last = _last(conn.results())
                if last is None or last.status != PGRES_TUPLES_OK:
                    raise self._fatal(f"setting of application name failed: {conn.error_message()}")
            self.control, self.conns = made[0], made[1:]
            pids = ",".join(str(c.pid) for c in self.conns)
            ctl = self.control.conn
            ctl.send_prepare(PREP_WAITING, WAIT_SQL % pids)
            last = _last(ctl.results())
            if last is None or last.status != PGRES_COMMAND_OK:
                raise self._fatal(f"prepare of lock wait query failed: {ctl.error_message()}")
        except BaseException:
            for c in made:
                c.conn.close()
            self.control, self.conns = None, []
            raise

    def close(self) -> None:
        for c in ([self.control] if self.control else []) + self.conns:
            c.conn.close()
        self.control, self.conns = None, []

    # -- running -----------------------------------------------------------------------
    def run(self) -> SpecRun:
        """The whole spec as isolationtester runs it: its warnings, ``Parsed test spec``,
        the connections, then every permutation it names (else every interleaving).
        Stops at a fatal failure (``status`` 1, the message emitted)."""
        for w in self.spec.warnings:
            self.emit(Message(w + "\n"))
        self.emit(SpecParsed(len(self.spec.sessions)))
        try:
            if self.control is None:
                self.connect()
            for perm in permutations_of(self.spec):
                self.run_permutation(perm)
        except IsolationFatal:
            pass
        finally:
            self._flush_notices()
        return self.run_record

    def run_permutation(self, perm: Permutation) -> PermutationRecord:
        """Run ``perm``: setup blocks, each session's setup, the steps, the teardowns."""
        if self.control is None:
            self.connect()
        record = PermutationRecord(tuple(perm.names()))
        self._record = record
        self.run_record.permutations.append(record)
        try:
            self.emit(PermutationStarted(record.steps))
            self._run(perm, record)
        except (KeyboardInterrupt, GreenletExit):
            self._interrupted(record)
            raise
        finally:
            self._flush_notices()
            self._record = None
        return record

    def _block(self, conn: Connection, sql: str, origin: str, failed: str, fatal: bool) -> None:
        """A setup or teardown block, as PQexec: its last result is what counts."""
        self._check_stop()
        conn.send(sql)
        last = _last(conn.results())
        if fatal and (last is None or last.status not in (PGRES_TUPLES_OK, PGRES_COMMAND_OK)):
            # a setup that failed (a table of that name is the user's already): never followed
            # by the spec's teardown, not even when Ctrl-C comes at the same moment
            self._setup_failed = True
            raise self._fatal(failed + conn.error_message())
        self._check_stop()
        if last is not None and last.status == PGRES_TUPLES_OK:
            self.emit(ResultSet(Table(last.columns, tuple(last.rows)), origin))
        elif last is None or last.status != PGRES_COMMAND_OK:
            self.emit(Message(failed + conn.error_message()))

    def _run(self, perm: Permutation, record: PermutationRecord) -> None:
        assert self.control is not None
        self._setup_failed = False
        for sql in self.spec.setups:
            self._block(self.control.conn, sql, "setup", "setup failed: ", True)
        for session, c in zip(self.spec.sessions, self.conns, strict=True):
            if session.setup is not None:
                self._block(c.conn, session.setup, "session setup", f"setup of session {c.name} failed: ", True)
        waiting: list[_Running] = []
        for ps in perm.steps:
            self._check_stop()
            c = self.conns[ps.step.session]
            if c.active is not None:
                start = time.monotonic()
                while c.active is not None:
                    old = c.active
                    if not self._try_complete(old, _RETRY):
                        waiting = [w for w in waiting if w is not old]
                    waiting = self._try_complete_steps(waiting, _NONBLOCK | _RETRY)
                    if c.active is not None:
                        td = time.monotonic() - start
                        if td > 2 * self.max_step_wait:
                            self.emit(Message(f"step {c.active.pstep.name} timed out after {int(td)} seconds\n"))
                            active = "".join(f" {o.active.pstep.name}" for o in self.conns if o.active is not None)
                            raise self._fatal(f"active steps are:{active}\n")
            outcome = StepOutcome(ps.name, c.name, ps.step.sql, sent_at=time.monotonic())
            record.outcomes.append(outcome)
            running = _Running(ps, outcome)
            try:
                c.conn.send(ps.step.sql)
            except LibpqError as exc:
                raise self._fatal(f"failed to send query for step {ps.name}: {exc}") from None
            c.active = running
            for i, b in enumerate(ps.blockers):
                if b.kind == NOTICES:
                    other = self.spec.step(b.step)
                    assert other is not None
                    running.targets[i] = b.notices + self.conns[other.session].total_notices
            mustwait = self._try_complete(running, _NONBLOCK)
            waiting = self._try_complete_steps(waiting, _NONBLOCK | _RETRY)
            if mustwait:
                waiting.append(running)
        waiting = self._try_complete_steps(waiting, _RETRY)
        self._check_stop()
        if waiting:
            raise self._fatal("failed to complete permutation due to mutually-blocking steps\n")
        self._teardown()

    def _teardown(self) -> None:
        assert self.control is not None
        for session, c in zip(self.spec.sessions, self.conns, strict=True):
            if session.teardown is not None:
                self._block(c.conn, session.teardown, "session teardown", f"teardown of session {c.name} failed: ", False)
        if self.spec.teardown is not None:
            self._block(self.control.conn, self.spec.teardown, "teardown", "teardown failed: ", False)

    def _try_complete_steps(self, waiting: list[_Running], flags: int) -> list[_Running]:
        while True:
            self._any_new_notice = False
            before = len(waiting)
            have_blocker = False
            still: list[_Running] = []
            for w in waiting:
                if self._try_complete(w, flags):
                    if w.pstep.blockers:
                        have_blocker = True
                    still.append(w)
            waiting = still
            if not (have_blocker and (len(waiting) < before or self._any_new_notice)):
                return waiting

    def _is_blocked(self, c: _Conn) -> bool:
        assert self.control is not None
        ctl = self.control.conn
        try:
            ctl.send_prepared(PREP_WAITING, [str(c.pid)])
            results = ctl.results()
        except LibpqError:
            results = []
        self._check_stop()  # (Ctrl-C's cancel may have met this query)
        last = _last(results)
        if last is None or last.status != PGRES_TUPLES_OK or len(last.rows) != 1:
            raise self._fatal(f"lock wait query failed: {ctl.error_message()}")
        value = last.rows[0][0]
        return value is not None and value.startswith("t")

    def _holding_blocker(self, r: _Running) -> Blocker | None:
        """The first annotation of ``r`` that still holds its completion back, if any."""
        for i, b in enumerate(r.pstep.blockers):
            if b.kind == ONCE:
                continue
            other = self.spec.step(b.step)
            assert other is not None
            oc = self.conns[other.session]
            if b.kind == OTHER_STEP:
                if oc.active is not None and oc.active.pstep.name == b.step:
                    return b
            elif b.kind == NOTICES and oc.total_notices < r.targets.get(i, 0):
                return b
        return None

    def _waiting(self, r: _Running, reason: str) -> None:
        r.outcome.waited = True
        r.outcome.wait_reason = r.outcome.wait_reason or reason
        self.emit(StepSent(r.pstep.name, r.pstep.step.sql, waiting=True, reason=reason))

    def _try_complete(self, r: _Running, flags: int) -> bool:
        """True while the step has not completed (waiting on a lock with _NONBLOCK, or held
        back by a blocker annotation); False once it completed and was reported."""
        step = r.pstep.step
        c = self.conns[step.session]
        conn = c.conn
        self._check_stop()
        if not flags & _RETRY and any(b.kind == ONCE for b in r.pstep.blockers):
            self._waiting(r, "*")
            return True
        start = time.monotonic()
        canceled = False
        while conn.busy():
            self._flush_notices()
            self._check_stop()
            if conn.wait_readable(CHECK_EVERY):
                try:
                    conn.consume()
                except LibpqError as exc:
                    raise self._fatal(f"PQconsumeInput failed: {exc}\n") from None
                continue
            if flags & _NONBLOCK and self._is_blocked(c):
                try:
                    conn.consume()
                except LibpqError as exc:
                    raise self._fatal(f"PQconsumeInput failed: {exc}\n") from None
                if not conn.busy():
                    break
                if not flags & _RETRY:
                    self._waiting(r, "lock")
                return True
            td = time.monotonic() - start
            if td > self.max_step_wait and not canceled:
                why = conn.cancel()
                if why is None:
                    self.emit(StepCanceling(step.name, int(td)))
                    r.outcome.cancelled = True
                    canceled = True
                else:
                    self.emit(Message(f"PQcancel failed: {why}\n"))
            if td > 2 * self.max_step_wait:
                raise self._fatal(f"step {step.name} timed out after {int(td)} seconds\n")
        held = self._holding_blocker(r)
        if held is not None:
            if not flags & _RETRY:
                self._waiting(r, f"blocker {held}")
            return True
        if flags & _RETRY:
            self.emit(StepCompleted(step.name))
        else:
            self.emit(StepSent(step.name, step.sql))
        while (res := conn.next_result()) is not None:
            self._report(r, res)
        try:
            conn.consume()
        except LibpqError:
            pass
        for channel, pid, payload in conn.notifies():
            sender = next((o.name for o in self.conns if o.pid == pid), f"PID {pid}")
            n = Notification(c.name, channel, payload, sender)
            r.outcome.notifications.append(n)
            self.emit(n)
        r.outcome.completed_at = time.monotonic()
        c.active = None
        return False

    def _report(self, r: _Running, res: Result) -> None:
        if res.status in (PGRES_COMMAND_OK, PGRES_EMPTY_QUERY):
            return
        if res.status == PGRES_TUPLES_OK:
            table = Table(res.columns, tuple(res.rows))
            r.outcome.tables.append(table)
            self.emit(ResultSet(table))
        elif res.status == PGRES_FATAL_ERROR:
            err = StepError(r.pstep.name, res.severity, res.primary, res.sqlstate, res.message)
            r.outcome.error = err
            self.emit(err)
        else:
            self.emit(UnexpectedStatus(r.pstep.name, res.status_name))

    # -- Ctrl-C -----------------------------------------------------------------------
    def interrupt(self) -> None:
        """Ctrl-C (called from another greenlet): cancel what runs now; the run raises
        KeyboardInterrupt at its next wait, after cleaning up (``_interrupted``)."""
        self._stop = True
        for c in self.conns:
            if c.active is not None and c.active.pstep.name not in self._cancelled:
                c.active.outcome.cancelled = True
                self._cancelled.append(c.active.pstep.name)
        for c in self.conns + ([self.control] if self.control else []):
            if c.conn.conn and c.conn.busy():
                c.conn.cancel()

    def _check_stop(self) -> None:
        if self._stop:
            raise KeyboardInterrupt()

    def _interrupted(self, record: PermutationRecord) -> None:
        """Cancel what runs, read each session's answers, roll back open transactions, run
        the teardowns: the connections stay usable for the next permutation."""
        record.interrupted = True
        self._stop = False
        cancelled, self._cancelled = self._cancelled, []
        for c in self.conns:
            if c.active is not None and c.active.pstep.name not in cancelled:
                c.active.outcome.cancelled = True
                cancelled.append(c.active.pstep.name)
            if c.conn.busy() or c.active is not None:
                c.conn.cancel()
        try:
            for c in self.conns + ([self.control] if self.control else []):
                c.conn.results()
                c.active = None
            for c in self.conns:
                if c.conn.in_transaction():
                    c.conn.exec("ROLLBACK")
            if not self._setup_failed:
                self._teardown()
        except (LibpqError, IsolationFatal):
            pass
        self.emit(Interrupted(tuple(cancelled)))


def _last(results: list[Result]) -> Result | None:
    return results[-1] if results else None

