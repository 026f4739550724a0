"""Interactive sessions: ``\\session``, ``\\step``, ``\\steps``, ``\\sessions``,
``\\permute`` and ``\\spec save`` — the isolation lab typed by hand.

A named session is a connection of the user's (same server and credentials as the user's
own session, ``application_name`` extended with ``/NAME`` as isolationtester extends
it). While one is current, the shell's ``session.user`` *is* that session's
``UserSession``: everything typed there (statements, ``\\g``, ``\\gset``, ``\\d``…) runs
on it, printed as on the user's own session, and the prompt shows it and its
transaction state. ``\\session`` alone puts the user's own session back.

Steps recorded with ``\\step`` belong to the current named session; with the user's own
session current, ``\\step setup SQL`` / ``\\step teardown SQL`` record the spec's setup
and teardown blocks (on a named session: that session's). ``\\permute`` runs steps on the
live sessions through ``qshell.engine.sessions.LiveRunner`` (isolationtester's runner),
printing isolationtester's text as it happens; the recorded sessions and steps are the
spec that ``\\spec save FILE`` writes and that ``\\permute`` runs, so a saved file run by
isolationtester prints what ``\\permute`` printed.
"""
from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from pathlib import Path

import psycopg2

from qshell.common.errors import ConnectionFailed, UsageError
from qshell.common.visible import visible
from qshell.engine.isolation import IsolationFatal
from qshell.engine.libpq import LibpqError
from qshell.engine.sessions import LiveRunner, adopt, name_session
from qshell.output.json_lines import json_line
from qshell.records.isolation import SpecRun
from qshell.script.commands import Command
from qshell.script.spec import Session as SpecSession
from qshell.script.spec import Spec, SpecError, Step, all_permutations, dump, parse
from qshell.session.usersession import UserSession
from qshell.shell.host import ShellHost
from qshell.shell.interrupt import sigint_calls
from qshell.shell.isolation import printer

_BLOCKS = ("setup", "teardown")
_UNDER = re.compile(r"\sunder\s+", re.I)  # \permute [STEP…] under LEVELS
_STATES = {psycopg2.extensions.TRANSACTION_STATUS_IDLE: "idle",
           psycopg2.extensions.TRANSACTION_STATUS_INTRANS: "in transaction",
           psycopg2.extensions.TRANSACTION_STATUS_INERROR: "failed",
           psycopg2.extensions.TRANSACTION_STATUS_ACTIVE: "busy"}


@dataclass
class Named:
    """One named session: its connection (a ``UserSession``) and what was recorded in it."""

    name: str
    user: UserSession
    steps: dict[str, str] = field(default_factory=dict)  # step name -> SQL, in recording order
    setup: str | None = None
    teardown: str | None = None


def _check_name(name: str, what: str) -> None:
    if not name or "\n" in name or "\r" in name:
        raise UsageError(f"{what} must be a non-empty name on one line")


def _check_sql(sql: str, what: str) -> None:
    """SQL a spec file can hold: isolationtester's block ends at the first ``}``."""
    if not sql:
        raise UsageError(f"{what}: needs SQL (\\step NAME SQL)")
    if "}" in sql:
        raise UsageError(f"{what}: a step cannot contain '}}' (isolationtester's spec block ends at the first one)")


class SessionCommands:
    """The named sessions of one shell and the commands on them."""

    def __init__(self, shell: ShellHost) -> None:
        self.shell = shell
        self.named: dict[str, Named] = {}
        self.current: Named | None = None
        self._own: UserSession | None = None  # the user's own session while a named one is current
        self.setups: list[str] = []
        self.teardown: str | None = None
        self.last_run: SpecRun | None = None

    # -- the sessions ---------------------------------------------------------------
    def own(self) -> UserSession:
        """The user's own session, whichever is current."""
        return self._own if self._own is not None else self.shell.session.user

    def _connect(self, name: str):  # noqa: ANN202 - a psycopg2 connection
        """A new connection as the user's own session gets one, named ``…/NAME``."""
        conn = self.shell.session.pool.connect()
        try:
            name_session(conn, name)
        except LibpqError as exc:
            conn.close()
            raise ConnectionFailed(str(exc).strip()) from None
        return conn

    def _switch(self, to: Named | None) -> None:
        """Make ``to`` (None: the user's own session) the shell's ``session.user``."""
        session = self.shell.session
        if self._own is None:
            self._own = session.user
        session.user = to.user if to is not None else self._own
        if to is None:
            self._own = None
        self.current = to

    def do_session(self, cmd: Command) -> None:
        """``\\session NAME``: open or switch to it; ``\\session``: back to your own;
        ``\\session close [NAME]``: close one (the current one without NAME)."""
        words = cmd.args
        if not words:
            if self.current is not None:
                self._switch(None)
            self.shell.notice("your own session")
            return
        if words[0] == "close":
            if len(words) > 2:
                raise UsageError("\\session close: takes at most one session name")
            target = self.named.get(words[1]) if len(words) == 2 else self.current
            if target is None:
                raise UsageError(f"\\session close: no session {visible(words[1])!r}" if len(words) == 2
                                 else "\\session close: no named session is current (\\session close NAME)")
            self._close(target)
            self.shell.notice(f"session {visible(target.name)} closed"
                              + (f" ({len(target.steps)} step{'s' if len(target.steps) != 1 else ''} dropped)" if target.steps else ""))
            return
        if len(words) > 1:
            raise UsageError("\\session: takes one session name (\\session NAME), or close NAME")
        name = words[0]
        _check_name(name, "\\session: the session")
        if name in _BLOCKS:
            raise UsageError(f"\\session: {name!r} is a word of the spec language, not a session name")
        found = self.named.get(name)
        if found is None:
            user = UserSession(connect=lambda: self._connect(name), lent=self.shell.session.pool.lent,
                               readonly=self.shell.settings.readonly)
            user.open()
            found = self.named[name] = Named(name, user)
            self.shell.notice(f"session {visible(name)} opened (pid {user.conn.get_backend_pid() if user.conn else '?'})")
        self._switch(found)

    def _close(self, target: Named) -> None:
        if self.current is target:
            self._switch(None)
        target.user.close()
        del self.named[target.name]

    def close_all(self, why: str = "") -> None:
        """Every named session closed, the user's own session current again (``\\c``: said
        with ``why``; at exit: silently). The recorded setup and teardown blocks go too."""
        names = list(self.named)
        for named in list(self.named.values()):
            self._close(named)
        self.setups, self.teardown = [], None
        if names and why:
            self.shell.notice(f"closed session{'s' if len(names) > 1 else ''} {', '.join(map(visible, names))} ({why})")

    def prompt_label(self) -> str:
        """``[NAME]`` for the prompt while a named session is current."""
        return f"[{self.current.name}]" if self.current is not None else ""

    # -- steps ------------------------------------------------------------------------
    def do_step(self, cmd: Command) -> None:
        """``\\step NAME SQL``: record a step of the current session (not run)."""
        text = cmd.arg.strip()
        if not text:
            raise UsageError("\\step: needs a name and SQL (\\step NAME SQL)")
        if text.startswith('"'):  # a quoted name, as the spec language quotes it ("" for a quote)
            end, i = None, 1
            while i < len(text):
                if text[i] == '"':
                    if text.startswith('""', i):
                        i += 2
                        continue
                    end = i
                    break
                i += 1
            if end is None:
                raise UsageError("\\step: unterminated quoted name")
            name, sql = text[1:end].replace('""', '"'), text[end + 1:].strip()
        else:
            name, _, sql = text.partition(" ")
            sql = sql.strip()
        _check_name(name, "\\step: the step")
        _check_sql(sql, f"\\step {name}")
        named = self.current
        if name in _BLOCKS and not text.startswith('"'):
            if named is None:
                if name == "setup":
                    self.setups.append(sql)
                    self.shell.notice(f"setup block {len(self.setups)} recorded (run before each permutation)")
                else:
                    self.teardown = sql
                    self.shell.notice("teardown block recorded (run after each permutation)")
            else:
                setattr(named, name, sql)
                self.shell.notice(f"{name} of session {visible(named.name)} recorded")
            return
        if named is None:
            raise UsageError("\\step: steps belong to a named session: \\session NAME first "
                             "(on your own session only \\step setup SQL and \\step teardown SQL)")
        for other in self.named.values():
            if other is not named and name in other.steps:
                raise UsageError(f"\\step: step {visible(name)!r} belongs to session {visible(other.name)!r}")
        replaced = name in named.steps
        named.steps[name] = sql
        self.shell.notice(f"step {visible(name)} {'replaced' if replaced else 'recorded'} in session {visible(named.name)}")

    def spec(self) -> Spec:
        """The recorded sessions and steps as a spec (sessions with no step left out), as
        ``\\spec save`` writes it and ``\\permute`` runs it."""
        sessions: list[SpecSession] = []
        for named in self.named.values():
            if not named.steps:
                continue
            index = len(sessions)
            steps = tuple(Step(n, sql, index) for n, sql in named.steps.items())
            sessions.append(SpecSession(named.name, steps, named.setup, named.teardown))
        if not sessions:
            raise UsageError("no steps recorded (\\session NAME, then \\step NAME SQL)")
        spec = Spec(tuple(self.setups), self.teardown, tuple(sessions), ())
        try:
            return parse(dump(spec))  # what a saved file reads as (and isolationtester's checks)
        except SpecError as exc:  # pragma: no cover - dump writes what parse reads
            raise UsageError(f"the recorded steps do not make a spec: {exc}") from None

    def do_steps(self, cmd: Command) -> None:
        """The recorded sessions and steps, written as the spec ``\\spec save`` writes."""
        try:
            text = dump(self.spec())
        except UsageError:
            self.shell.write("(no steps recorded)")
            return
        for line in text.rstrip("\n").split("\n"):
            self.shell.write(visible(line))

    def do_spec_save(self, cmd: Command) -> None:
        """``\\spec save FILE``: the sessions and steps as a spec file isolationtester runs
        (every interleaving, as \\permute alone runs them)."""
        spec = self.spec()
        left = [n.name for n in self.named.values() if not n.steps]
        path = Path(cmd.arg).expanduser()
        try:
            path.write_text(dump(spec), encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"\\spec save: {cmd.arg}: {exc.strerror or exc}") from None
        steps = sum(len(s.steps) for s in spec.sessions)
        self.shell.notice(f"wrote {cmd.arg}: {len(spec.sessions)} session{'s' if len(spec.sessions) != 1 else ''}, "
                          f"{steps} step{'s' if steps != 1 else ''}"
                          + (f" (left out, no steps: {', '.join(map(visible, left))})" if left else ""))

    def do_spec_load(self, cmd: Command) -> None:
        """``\\spec load FILE``: a spec file's sessions opened (or reused) with its steps,
        setups and teardowns recorded in them (what was recorded there before replaced);
        its permutation lines are not kept (``\\permute STEP…`` runs any order)."""
        from qshell.shell.isolation import read_spec

        spec = read_spec(cmd.arg)
        self.load(spec)
        perms = len(spec.permutations)
        steps = sum(len(s.steps) for s in spec.sessions)
        self.shell.notice(f"loaded {cmd.arg}: {len(spec.sessions)} session{'s' if len(spec.sessions) != 1 else ''}, "
                          f"{steps} step{'s' if steps != 1 else ''}"
                          + (f" ({perms} permutation line{'s' if perms != 1 else ''} not kept: \\permute STEP... runs one)"
                             if perms else ""))

    def load(self, spec: Spec) -> None:
        """Record ``spec``'s sessions, steps, setups and teardowns as interactive ones
        (sessions opened as ``\\session`` opens them); nothing changes if a step name of
        it is a step of another session already open, or a session cannot be opened."""
        mine = {s.name for s in spec.sessions}
        for named in self.named.values():
            if named.name in mine:
                continue
            for st in spec.steps():
                if st.name in named.steps:
                    raise UsageError(f"step {visible(st.name)!r} is a step of session {visible(named.name)!r} already")
        for s in spec.sessions:
            if s.name in _BLOCKS:
                raise UsageError(f"{s.name!r} cannot be a session's name here (\\step {s.name} records a block)")
        current = self.current
        try:
            for s in spec.sessions:
                if s.name not in self.named:
                    self.do_session(Command("session", s.name, args=(s.name,)))
        finally:
            self._switch(current)
        for s in spec.sessions:
            named = self.named[s.name]
            named.steps = {st.name: st.sql for st in s.steps}
            named.setup, named.teardown = s.setup, s.teardown
        self.setups, self.teardown = list(spec.setups), spec.teardown

    # -- listing ----------------------------------------------------------------------
    def do_sessions(self, cmd: Command) -> None:
        """Each session: name, backend pid, transaction state (libpq's), and what the
        server says it is doing (pg_stat_activity, and whom it waits for: pg_blocking_pids)."""
        rows: list[tuple[str, UserSession]] = [("(yours)", self.own())] + [(n.name, n.user) for n in self.named.values()]
        pids = []
        for _name, user in rows:
            pids.append(user.conn.get_backend_pid() if user.alive and user.conn is not None else None)
        server: dict[int, tuple[str, str]] = {}
        asked = False  # the server said which of these backends it has (a backend it has not: gone)
        try:
            conn = self.shell.session.pool.monitor()
            cur = conn.cursor()
            cur.execute("SELECT pid, coalesce(wait_event_type || ': ' || wait_event, ''),"
                        " array_to_string(pg_blocking_pids(pid), ',') FROM pg_stat_activity WHERE pid = ANY(%s)",
                        ([p for p in pids if p is not None],))
            server = {pid: (wait, blockers) for pid, wait, blockers in cur.fetchall()}
            asked = True
        except (psycopg2.Error, ConnectionFailed):
            pass

        def state_of(user: UserSession, pid: int | None) -> str:
            if not user.alive or user.conn is None:
                return "closed"
            if asked and pid is not None and pid not in server:
                return "lost"  # (its backend ended: terminated, or the server restarted; found at its next use)
            return "waiting" if server.get(pid or 0, ("", ""))[1] else _STATES.get(user.conn.info.transaction_status, "?")
        if self.shell.json:
            for (name, user), pid in zip(rows, pids, strict=True):
                wait, blockers = server.get(pid, ("", "")) if pid is not None else ("", "")
                named = self.named.get(name)
                self.shell.write(json_line({
                    "type": "session", "name": None if named is None else name, "pid": pid,
                    "current": (named is self.current) if named is not None else self.current is None,
                    "state": state_of(user, pid),
                    "waiting_for": [int(p) for p in blockers.split(",")] if blockers else [],
                    "wait_event": wait or None, "steps": list(named.steps) if named is not None else []}))
            return
        header = ("", "session", "pid", "state", "steps", "waiting for")
        table = []
        for (name, user), pid in zip(rows, pids, strict=True):
            state = state_of(user, pid)
            wait, blockers = server.get(pid, ("", "")) if pid is not None else ("", "")
            named = self.named.get(name)
            mark = "*" if (named is not None and named is self.current) or (name == "(yours)" and self.current is None) else ""
            table.append((mark, name, str(pid or ""), state, str(len(named.steps)) if named else "",
                          f"pid {blockers} ({wait})" if blockers else ""))
        widths = [max(len(visible(r[i])) for r in (header, *table)) for i in range(len(header))]
        for r in (header, *table):
            self.shell.write("  ".join(visible(v).ljust(w) for v, w in zip(r, widths, strict=True)).rstrip())

    # -- running ----------------------------------------------------------------------
    def _with_steps(self, base: Spec, steps: str) -> Spec:
        """``base`` with the permutation ``steps`` (isolationtester's words, annotations
        included) as its one permutation; ``base`` itself when ``steps`` is empty."""
        if not steps:
            return base
        try:
            return parse(dump(base) + "\npermutation " + steps + "\n")
        except SpecError as exc:
            text = str(exc)
            if text.startswith("syntax error"):
                text = f"cannot read {steps!r} as steps (NAME, NAME(OTHER), NAME(*), NAME(OTHER notices N))"
            raise UsageError(f"\\permute: {visible(text)}") from None

    def _table(self, base: Spec, steps: str, levels_text: str) -> None:
        """``\\permute [STEP…] under LEVELS``: the anomaly table (``qshell.shell.anomaly``) of
        the recorded steps, that permutation or every interleaving, on new connections (each
        level needs sessions of its own: the live sessions are not used)."""
        import importlib

        try:
            anomaly = importlib.import_module("qshell.shell.anomaly")
        except ImportError:
            raise UsageError("\\permute … under LEVELS: the anomaly table is not in this build") from None
        levels = anomaly.levels_of(levels_text, "\\permute")
        spec = self._with_steps(base, steps)
        shell = self.shell
        table = anomaly.run_table(spec, levels, shell.session.dsn, shell.session.pool._password, shell.out,
                                  json=shell.json, name="\\permute", err=shell.err)
        isolation = getattr(shell, "isolation", None)
        if isolation is not None and hasattr(isolation, "last_table"):  # what \\report draws
            isolation.last_table = (time.time(), table)

    def do_permute(self, cmd: Command) -> None:
        """``\\permute STEP…``: those steps in that order on the live sessions (blocker
        annotations as in a spec); ``\\permute``: every interleaving. Each permutation
        runs the recorded setup blocks and teardowns around it, as isolationtester does
        (none recorded: the steps alone, on the sessions as they are)."""
        base = self.spec()
        arg = cmd.arg.strip()
        under = _UNDER.search(" " + arg)
        if under is not None:  # the anomaly table of these steps
            self._table(base, arg[:max(under.start() - 1, 0)].strip(), arg[under.end() - 1:])
            return
        if arg:
            spec = self._with_steps(base, arg)
            perms = list(spec.permutations)
        else:
            spec = base
            perms = list(all_permutations(spec))
        for named in self.named.values():
            if named.name in {s.name for s in spec.sessions} and named.user.lost_while_idle():
                # (as psql finds its session gone: a new one, said; what the old one held is lost with it)
                said = "; ".join(named.user.goodbye) or "server closed the connection unexpectedly"
                named.user.goodbye = ()
                named.user.reset()
                pid = named.user.conn.get_backend_pid() if named.user.conn is not None else "?"
                self.shell.notice(f"session {visible(named.name)} was lost ({visible(said)}): reconnected (pid {pid})")
        live = [adopt(self.named[s.name].user.conn) for s in spec.sessions]
        using = {s.name for s in spec.sessions}
        others = [n.user.conn.get_backend_pid() for n in self.named.values()
                  if n.name not in using and n.user.alive and n.user.conn is not None]
        own = self.own()
        if own.alive and own.conn is not None:
            others.append(own.conn.get_backend_pid())
        shell = self.shell
        runner = LiveRunner(spec, shell.session.dsn, live, others, printer(shell.out, shell.err),
                            password=shell.session.pool._password)
        self.last_run = runner.run_record
        interrupted = False
        lost = ""
        try:
            with sigint_calls(runner.interrupt):
                runner.connect()
                for perm in perms:
                    runner.run_permutation(perm)
        except IsolationFatal:
            pass
        except KeyboardInterrupt:
            interrupted = True
        except LibpqError as exc:  # a connection lost while a step ran (the server's words)
            lost = " ".join(line.strip() for line in str(exc).splitlines() if line.strip())
        finally:
            try:
                runner.close()
            except LibpqError:
                pass
        if lost:
            raise UsageError(f"\\permute: a session's connection was lost: {lost} "
                             "(it is reconnected when it is next used)")
        if interrupted and not shell.interactive:
            raise KeyboardInterrupt
        if runner.run_record.status:
            shell.fail("\\permute: the run stopped (isolationtester exits 1 there)")
