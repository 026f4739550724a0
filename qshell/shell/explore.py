"""The shell's run commands: \\go (with repeats), \\sweep, \\timeline, \\history, \\compare.

A command group the ``Shell`` holds: it is given the shell (its session, settings, staged set and
streams) and the load commands.
Everything measured goes through ``_execute`` (one run: capacity, pool, sampler,
progress line, run record) so the commands only differ in how they report.
"""
from __future__ import annotations

import json  # noqa: F401  (the run commands' JSON output)
import os
import shutil
import time
from contextlib import contextmanager
from dataclasses import replace
from typing import Iterator, Literal, Mapping

import gevent

from qshell.common.errors import ExitStatus, QshellError, UsageError
from qshell.common.secrets import without_passwords
from qshell.engine import cpu, plans, resources
from qshell.engine.analysis import lpt_order, normalize, parse_n_list, slowdowns
from qshell.engine.pool import Database, QueryPool, TxMode
from qshell.engine.resources import Probe, Tracker
from qshell.engine.sampler import Sampler
from qshell.output import csvout, json_lines, result_tables, run_series, run_summary
from qshell.records.results import DDL_TAGS, RunResult, Status
from qshell.script.commands import Command
from qshell.shell.host import ShellHost, _Stop
from qshell.shell.interrupt import sigint_calls
from qshell.shell.loadview import LoadCommands
from qshell.shell.streams import isatty
from qshell.store.history import HistoryError, Results, RunStore

PROGRESS_EVERY = 0.2  # seconds between redraws of the live status line
PRINT_BATCH = 1000  # JSON records per write


def fingerprint(queries) -> str:  # noqa: ANN001
    """A short stable id of a staged set (same SQL in the same order -> same id)."""
    import hashlib

    # each normalised query followed by a NUL, hashed in one call
    text = "".join([normalize(q) + "\0" for q in queries])
    return hashlib.sha1(text.encode("utf-8", "surrogatepass")).hexdigest()[:12]


class _CpuPool(cpu.CpuSnapshots, QueryPool):
    """A QueryPool whose run's CPU is measured (cpu.CpuSnapshots)."""


class RunCommands:
    """The measured runs of one shell: ``\\go``, ``\\sweep``, ``\\timeline``, ``\\history``,
    ``\\compare``. Given the shell (its session, settings, staged set, streams) and the load
    commands (``\\go N for D`` is theirs); keeps what was measured last, for ``\\report``."""

    _run_store: RunStore | Literal[False]  # False: the history cannot be used (said once)
    _history_unusable: str | None = None  # why, when it cannot be used
    _unrecorded: str | None = None  # why the last run could not be stored (said once until one is)

    def __init__(self, shell: ShellHost, loads: LoadCommands) -> None:
        self.shell = shell
        self.loads = loads
        self.last_run: RunResult | None = None
        self.last_run_id: str | None = None
        self.last_sweep: tuple[list[RunResult], list[str]] | None = None  # (runs, run ids), for \\report
        self.last_repeat: tuple[list[RunResult], list[str]] | None = None
        self.last_targets: list[tuple[str, list[RunResult], list[str]]] | None = None  # \\sweep N… on TARGET…
        self.last_compare: tuple[float, int, dict, int, dict] | None = None  # (when, A's number, A, B's number, B)
        self.times: dict[str, float | None] | None = None  # last measured time per staged query (for LPT)
        self.alone: dict[str, float | None] = {}  # time at N=1 per staged query (for slowdowns); None: unknown
        self._history_warned = False

    def forget_times(self) -> None:
        """Measured times belong to one target: forgotten when the connection changes."""
        self.times, self.alone = None, {}

    # -- memory of measured times (this session and the run history) -------------------
    def run_store(self, create: bool = False) -> RunStore | None:
        """The run history (runs.sqlite), opened once per shell; None when there is none yet
        (and ``create`` is false), no history directory, or it cannot be used (said once)."""
        store = self.__dict__.get("_run_store")
        if store is not None or self.shell.history_dir is None:
            return store or None
        try:
            store, notes = RunStore.open(self.shell.history_dir, create=create, keep=self.shell.settings.history_keep)
        except HistoryError as exc:
            self._runs_failed(exc)
            return None
        for note in notes:
            self.shell.notice(note)
        if store is not None:
            self._run_store = store
        return store

    def close_history(self) -> None:
        """Close the run history (at the shell's end, whatever ended it)."""
        store = self.__dict__.get("_run_store")
        if store:
            store.close()
            del self._run_store

    def _runs_failed(self, exc: HistoryError) -> None:
        """Say once that the run history cannot be used; the shell goes on without it."""
        old = self.__dict__.get("_run_store")
        if old:
            old.close()
        self._run_store = False
        self._history_unusable = str(exc)
        if not self._history_warned:
            self._history_warned = True
            self.shell.notice(f"warning: {exc}; runs are not recorded or looked up in it this session")

    def _memory(self) -> tuple[dict[str, float | None], dict[str, float | None]]:
        """(last measured time, time alone at N=1) per normalised SQL of the staged set, on
        this connection's target (None: never measured): this session's runs, else an indexed
        lookup in the run history of the staged queries not looked up yet (never all of it)."""
        if self.times is None:
            self.times, self.alone = {}, {}
        wanted = {normalize(q) for q in self.shell.staged} - self.times.keys()
        if wanted:
            times: dict[str, float] = {}
            alone: dict[str, float] = {}
            store = self.run_store()
            if store is not None:
                try:
                    times, alone = store.lookup(self.shell.session.target(), wanted)
                except HistoryError as exc:
                    self._runs_failed(exc)
            for key in wanted:
                self.times[key] = times.get(key)
                if self.alone.get(key) is None:
                    self.alone[key] = alone.get(key)
        return self.times, self.alone

    def _remember(self, run: RunResult, times: dict[str, float | None], alone: dict[str, float | None]) -> None:
        """Keep ``run``'s measured times in ``times`` and ``alone`` (``_memory()``'s)."""
        if run.interrupted:  # an interrupted run's times are not measurements
            return
        keys: dict[str, str] = {}  # (a run repeats texts: each normalized once)
        for q in run.queries:
            if q.status is Status.OK:
                key = keys.get(q.sql)
                if key is None:
                    key = keys[q.sql] = normalize(q.sql)
                times[key] = q.total_s
                if run.n == 1:
                    alone[key] = q.total_s

    # -- one measured run ------------------------------------------------------------
    def _tx_mode(self) -> TxMode:
        s = self.shell.settings
        return TxMode(rollback=s.tx == "rollback", isolation=s.isolation, readonly=s.readonly, timeout_ms=s.timeout)

    def _workers_for(self, requested: int | None) -> int:
        if not self.shell.staged:
            raise UsageError("nothing staged; \\add a statement first")
        n = requested if requested is not None else self.shell.default_workers()
        if n > len(self.shell.staged):
            staged = len(self.shell.staged)
            self.shell.notice(f"N clipped from {n} to {staged}: only {staged} {'query' if staged == 1 else 'queries'} staged")
            n = len(self.shell.staged)
        return n

    def _check(self, n: int, db: Database | None = None) -> None:
        """Refuse an N the server cannot serve; the sampler's connection counts too."""
        db = db or self.shell.session.pool
        db.check_capacity(n, extra=1 if self.shell.settings.sample and not db.monitor_open else 0, sampling=self.shell.settings.sample)

    def _execute(self, n: int, on: tuple[Database, str] | None = None) -> tuple[RunResult, str, Mapping[int, float]]:
        """One measured run: its result, run id, and slowdowns against running alone.

        ``on``: (the workers' Database, its target for the record) instead of the session's
        (``\\sweep … on TARGET…``; no resources per query there)."""
        queries = tuple(self.shell.staged)
        db = on[0] if on is not None else self.shell.session.pool
        settings = self.shell.session.user.settings()  # what the user SET: every worker gets it
        if settings is not None:
            db.session_settings = settings
        times, alone = self._memory()
        order = lpt_order(queries, times) if self.shell.settings.order == "longest-first" else None
        tracker = self._resources_before(queries, n) if on is None else None  # \set resources: queryids, first snapshot
        explain = self.shell.settings.explain == "analyze"
        sent = plans.wrap(queries) if explain else queries  # \set explain analyze
        maxrows = max(self.shell.settings.maxrows, 1) if explain else self.shell.settings.maxrows  # the plan is a row
        source = cpu.source(db)
        pool = _CpuPool(db, sent, n, maxrows=maxrows, mode=self._tx_mode(),
                         order=order, order_name=self.shell.settings.order,
                         sampler=Sampler(db) if self.shell.settings.sample else None,
                         stop_on_error=self.shell.settings.on_error == "cancel", retries=self.shell.settings.retries)
        pool.postmaster = source if isinstance(source, int) else None
        ticker = gevent.spawn(self._progress, pool) if isatty(self.shell.err) else None
        try:
            with sigint_calls(pool.interrupt):
                run = pool.run()
        finally:
            if ticker is not None:
                ticker.kill()
                self.shell.err.write("\r\x1b[K")
                self.shell.err.flush()
        if pool.cpu_start is not None:
            run = replace(run, cpu=self._cpu_of(run, pool.cpu_start, source))
        try:
            behind = db.pooler()
        except QshellError:  # (the side connection lost since the capacity check: the run stands)
            behind = None
        if behind is not None and behind.servers is not None:  # at most that many queries ran at once
            run = replace(run, servers=behind.servers)
        if explain or tracker is not None:
            run = self._why_slow(run, queries, tracker, explain)
        run_id = f"{int(run.started_at * 1000):x}-{os.getpid():x}"
        slow = slowdowns(run, alone) if run.n > 1 and not run.interrupted else {}
        failed = [q.diag for q in run.queries if q.diag is not None and q.status is Status.ERROR]
        if failed:
            self.shell.last_error = failed[-1]
        self._report(run, run_id, queries, slow, on[1] if on is not None else None)
        if on is None:  # times on other servers are not this target's
            self._remember(run, times, alone)
        # the distinct command tags (a run repeats a few), then whether one is DDL
        tags = {q.command for q in run.queries if q.status is Status.OK}
        if any(tag.split(" ", 1)[0] in DDL_TAGS for tag in tags):
            self.shell.catalog_changed()
        self.last_run = run
        self.last_run_id = run_id
        if pool.sampler is not None and pool.sampler.error:
            self.shell.notice(f"warning: sampling pg_stat_activity failed: {pool.sampler.error}")
        return run, run_id, slow

    # -- CPU of the server's backends, qshell and the machine (cpu.py) -------------------
    def _cpu_of(self, run: RunResult, before: cpu.Snapshot, source: int | str) -> cpu.RunCpu | None:
        """The run's CPU from ``before`` to now: its workers' backends (the pids its
        queries ran on), the whole server, qshell and the machine."""
        after = cpu.snapshot(before.postmaster)
        why = source if isinstance(source, str) else None
        if why is None and len({q.server.host for q in run.queries if q.server is not None}) > 1:
            why = "server CPU not measurable: the queries ran on several servers"
        return cpu.measure(before, after, {q.pid for q in run.queries if q.pid}, why)

    # -- why is it slow: resources (resources.py) and plans (plans.py) -------------------
    def _resources_before(self, queries: tuple[str, ...], n: int) -> Tracker | None:
        """With ``\\set resources`` on (or auto and usable): the workers get
        ``pg_stat_statements.track = all`` when needed, the texts their queryids (planned,
        read only, never executed, briefly: see resources.plan_texts) and the first
        snapshot is taken (before the wall). None when off or not usable (said once)."""
        db = self.shell.session.pool
        want = self.shell.settings.resources
        found: Probe | None = None
        if want is not False:
            target = self.shell.session.target()
            cached = self.__dict__.get("_res_probe")
            if cached is not None and cached[0] == target and cached[1].usable:
                found = cached[1]
            else:
                found = resources.probe(db)
                self._res_probe = (target, found)
                self._res_ids: dict[str, int | str] = {}
            if not found.usable:
                if not self.__dict__.get("_res_warned"):
                    self._res_warned = True
                    self.shell.notice(f"{'warning' if want else 'note'}: no resources per query (\\set resources):"
                                f" {found.why}")
                found = None
        db.session_settings = resources.session_settings(db.session_settings, found is not None and found.set_track)
        if found is None:
            return None
        tracker = resources.Tracker(db, found, self._res_ids)
        tracker.before(queries, n)
        return tracker

    def _why_slow(self, run: RunResult, queries: tuple[str, ...], tracker: Tracker | None, explain: bool) -> RunResult:
        """The run's results with their plans (EXPLAIN ANALYZE unwrapped) and resources."""
        results: list = list(run.queries)
        if explain:
            results = plans.unwrap(results, queries)
        if tracker is not None:
            results = tracker.after(results)
            if tracker.error is not None:
                self.shell.notice(f"warning: reading pg_stat_statements failed: {tracker.error}")
        return replace(run, queries=tuple(results))

    def _progress(self, pool: QueryPool) -> None:
        width = shutil.get_terminal_size((100, 24)).columns
        while True:
            gevent.sleep(PROGRESS_EVERY)
            self.shell.err.write("\r\x1b[K" + run_series.progress_line(pool.progress(), width))
            self.shell.err.flush()

    def _report(self, run: RunResult, run_id: str, queries: tuple[str, ...], slow: Mapping[int, float], target: str | None = None) -> None:
        """The run's query records, each rendered once as JSON text: printed as JSON lines
        (JSON format), in batches as they are rendered, and stored in the run history."""
        store = self.run_store(create=True) if self.shell.history_dir is not None else None
        printing = self.shell.settings.format == "json"
        if store is None and not printing:
            return
        encoder = json_lines.RecordEncoder(run_id, slow)
        results = Results() if store is not None else None
        lines: list[str] = []
        unprinted: BaseException | None = None  # the output failed (a closed pipe): still recorded, then raised
        for q in run.queries:
            head = encoder.head(q)
            if results is not None:
                ok = q.status is Status.OK
                results.add(head, without_passwords(q.sql) if ok else None, round(q.total_s * 1000, 3) if ok else None)
            if printing and unprinted is None:
                lines.append(encoder.line(head, q))
                if len(lines) >= PRINT_BATCH:
                    unprinted = self._print(lines)
                    lines = []
        record = json_lines.run_record(run, run_id)
        if printing and unprinted is None:
            lines.append(json_lines.json_line(record))
            unprinted = self._print(lines)
        if store is not None and results is not None:
            record.update(
                fingerprint=fingerprint(queries),
                label=run_summary.preview(queries[0], 40) + (f" (+{len(queries) - 1})" if len(queries) > 1 else ""),
                target=target or self.shell.session.target(),
                server_version=self.shell.session.server_version,
                sandbox=self.shell.session.sandbox is not None,
            )
            try:
                store.append(record, keep=self.shell.settings.history_keep, results=results)
            except HistoryError as exc:  # a full disk: this run is lost to it, the history stays readable
                if self._unrecorded != str(exc):
                    self.shell.notice(f"warning: run not recorded: {exc} (later runs are tried too; this is not"
                                " repeated while they fail the same way)")
                self._unrecorded = str(exc)
            else:
                self._unrecorded = None
        if unprinted is not None:
            raise unprinted

    def _print(self, lines: list[str]) -> BaseException | None:
        """Write ``lines``; what writing raised (a closed pipe, Ctrl-C), or None."""
        try:
            self.shell.write("\n".join(lines))
        except BaseException as exc:  # noqa: BLE001 - raised again once the run is recorded
            return exc
        return None

    def _after(self, runs: list[RunResult]) -> None:
        """Exit status and script stop after one or more runs."""
        if any(r.interrupted for r in runs) and not self.shell.interactive:
            raise _Stop(ExitStatus.SCRIPT_STOPPED)
        failed = sum(r.failed for r in runs if not r.interrupted)
        total = sum(len(r.queries) for r in runs)
        if failed:
            self.shell.fail(f"{failed} of {total} staged queries failed" if len(runs) == 1
                      else f"{failed} of {total} query executions failed over {len(runs)} runs")

    # -- commands ------------------------------------------------------------------
    def do_go(self, cmd: Command) -> None:
        if cmd.duration_s is not None:  # \go N for DURATION [at RATE/s]: loadview.py
            self.loads.sustained(cmd)
            return
        n = self._workers_for(cmd.n)
        self._check(n)
        if cmd.reps and cmd.reps > 1:
            self._repeat(n, cmd.reps)
            return
        run, run_id, slow = self._execute(n)
        if self.shell.settings.format == "csv":
            self._csv_run(run, slow)
        elif self.shell.settings.format != "json":  # in JSON, _execute printed the run's records
            text = run_summary.run_text(run, self.shell.style(), slow)
            if self.shell.settings.timeline:
                text += "\n" + run_summary.timeline(run, self.shell.width())
            self.shell.write(text)
        self._after([run])

    def _csv_run(self, run: RunResult, slow: Mapping[int, float]) -> None:
        """A run in CSV: one CSV table on stdout, nothing else there (see README, "CSV").

        Default: the run summary, one row per staged query. With ``\\set csv_rows on``:
        instead, what psql --csv prints for each staged statement, in staged order (its
        header and the rows kept, at most ``maxrows``; a non-row statement's command tag;
        nothing for a failed one). Notices, errors and capped results are told on stderr."""
        self._csv_messages(run)
        if not self.shell.settings.csv_rows:
            self.shell.write(csvout.summary(run, slow))
            return
        for q in run.queries:
            if q.status is not Status.OK:
                continue
            if q.returns_rows:
                self.shell.write(csvout.table(q))
                if q.truncated:
                    self.shell.notice(f"#{q.index}: {q.rowcount} rows, first {len(q.rows)} printed (\\set maxrows)")
            else:
                self.shell.write(q.command)

    def _csv_messages(self, run: RunResult) -> None:
        """A CSV run's notices and errors, on stderr, each line after ``#K:``."""
        for q in run.queries:
            for text in q.notices:
                self.shell.notice(f"#{q.index}: {text}")
            if q.status is not Status.OK:
                self.shell.notice(f"#{q.index}: {result_tables.error_line(q)}")
                for line in result_tables.error_lines(q):
                    self.shell.notice(f"#{q.index}: {line}")

    def _series(self, ns: list[int], on: tuple[Database, str] | None = None) -> tuple[list[RunResult], list[str]]:
        """Run the staged set once per N of ``ns`` (stopping at Ctrl-C); JSON mode prints
        each run's records as it goes (``_execute`` does)."""
        runs, ids = [], []
        for n in ns:
            run, run_id, _ = self._execute(n, on)
            runs.append(run)
            ids.append(run_id)
            if run.interrupted or (on[0] if on is not None else self.shell.session.pool).blocked_by_you:  # the next would too
                break
        return runs, ids

    def _repeat(self, n: int, reps: int) -> None:
        runs, ids = self._series([n] * reps)
        self.last_repeat = (runs, ids)  # for \report
        if self.shell.settings.format == "json":
            self.shell.write(json_lines.json_line(run_series.repeat_record(runs, ids)))
        elif self.shell.settings.format == "csv":
            for run in runs:
                self._csv_messages(run)
            self.shell.write(csvout.repeat(runs))
        else:
            self.shell.write(run_series.repeat_text(runs, self.shell.style()))
        self._after(runs)

    def do_sweep(self, cmd: Command) -> None:
        words = list(cmd.args)
        where = words.index("on") if "on" in words else len(words)
        try:
            ns = parse_n_list(words[:where])
        except ValueError as exc:
            raise UsageError(f"\\sweep: {exc}") from None
        if where < len(words):
            self._sweep_targets(ns, words[where + 1:])
            return
        if not self.shell.staged:
            raise UsageError("nothing staged; \\add a statement first")
        clipped = sorted({min(n, len(self.shell.staged)) for n in ns})
        if clipped != ns:
            self.shell.notice(f"Ns clipped to the {len(self.shell.staged)} staged queries: {' '.join(map(str, clipped))}")
        self._check(max(clipped))
        runs, ids = self._series(clipped)
        self.last_sweep = (runs, ids)  # for \report
        if self.shell.settings.format == "json":
            rows = run_series.sweep_rows(runs)
            # an interrupted run (only ever the last) has an id but no row
            for row, run_id in zip(rows, ids, strict=False):
                row["run_id"] = run_id
            self.shell.write(json_lines.json_line({"type": "sweep", "rows": rows, "cpu_verdict": run_series.sweep_verdict(runs)}))
        elif self.shell.settings.format == "csv":
            for run in runs:
                self._csv_messages(run)
            self.shell.write(csvout.sweep(run_series.sweep_rows(runs)))
        elif not run_series.sweep_rows(runs):  # Ctrl-C during the first N: no run to tabulate
            self.shell.write(f"sweep interrupted at N={runs[-1].n}: no N completed" if runs else "sweep: no N ran")
        else:
            self.shell.write(run_series.sweep_text(runs, self.shell.style()))
        self._after(runs)

    def _sweep_targets(self, ns: list[int], texts: list[str]) -> None:
        """``\\sweep N… on TARGET…``: the staged set at each N on each target (conninfo
        words over this session's: ``host=a,b load_balance_hosts=random``), one table
        answering "does another replica help?". Every target is connected and its
        capacity checked before anything runs; the workers' connections are closed after."""
        from qshell.engine.targets import merge
        from qshell.session.connect import passwords_in, redact
        from qshell.session.session import where_to

        if not texts:
            raise UsageError("\\sweep: on what? e.g. \\sweep 8 on host=db1 'host=db1,db2 load_balance_hosts=random'")
        if not self.shell.staged:
            raise UsageError("nothing staged; \\add a statement first")
        clipped = sorted({min(n, len(self.shell.staged)) for n in ns})
        if clipped != ns:
            self.shell.notice(f"Ns clipped to the {len(self.shell.staged)} staged queries: {' '.join(map(str, clipped))}")
        base = self.shell.session.pool
        dbs: list[tuple[Database, str]] = []
        try:
            for text in texts:
                self.shell.secrets |= passwords_in(text)  # whatever quotes it later is redacted too
                label = redact(text)
                try:
                    dsn = merge(self.shell.session.dsn, text)
                except ValueError as exc:
                    raise UsageError(redact(f"\\sweep: target {label!r}: {exc}", text)) from None
                same_user = where_to(dsn)[0] == where_to(self.shell.session.dsn)[0]
                db = Database(dsn, base._password if same_user else None)  # -W's password: only for the same user
                db.on_notice = base.on_notice
                dbs.append((db, label))
                with _naming(label, text):
                    self._check(max(clipped), db)
            series: list[tuple[str, list[RunResult], list[str]]] = []
            for (db, label), text in zip(dbs, texts, strict=True):
                with _naming(label, text):
                    runs, ids = self._series(clipped, (db, label))
                series.append((label, runs, ids))
                if runs and runs[-1].interrupted:
                    break
        finally:
            for db, _ in dbs:
                db.close()
        self.last_targets = series  # for \\report
        rows = run_series.target_sweep_rows(series)
        if self.shell.settings.format == "json":
            self.shell.write(json_lines.json_line({"type": "sweep", "targets": [label for label, _, _ in series], "rows": rows}))
        elif self.shell.settings.format == "csv":
            for _, runs, _ in series:
                for run in runs:
                    self._csv_messages(run)
            self.shell.write(csvout.target_sweep(rows))
        else:
            self.shell.write(run_series.target_sweep_text(rows, self.shell.style()))
        self._after([run for _, runs, _ in series for run in runs])

    def do_timeline(self, cmd: Command) -> None:
        if self.last_run is None:
            raise UsageError("\\timeline: no run yet in this session; \\go first")
        if self.shell.json:
            from qshell.engine.analysis import lanes

            self.shell.write(json_lines.json_line({"type": "timeline", "n": self.last_run.n, "wall_ms": round(self.last_run.wall_s * 1000, 3),
                                         "lanes": [{"worker": w, "queries": [{"index": q.index, "start_ms": round(q.start_s * 1000, 3),
                                                                               "end_ms": round(q.end_s * 1000, 3)} for q in qs]}
                                                   for w, qs in lanes(self.last_run).items()]}))
            return
        self.shell.write(run_summary.timeline(self.last_run, self.shell.width()))

    def do_history(self, cmd: Command) -> None:
        store = self.run_store()
        numbered: list[tuple[int, dict]] = []
        if store is not None:
            try:
                numbered, damaged = store.last(cmd.n or 20, results=self.shell.settings.format == "json")
            except HistoryError as exc:
                self._runs_failed(exc)
                store = None
            else:
                if damaged:
                    self.shell.notice(f"warning: skipped {damaged} damaged run record(s) in {store.path}")
        if self.shell.settings.format == "json":
            for k, rec in numbered:
                self.shell.write(json_lines.json_line({**rec, "number": k}))
        elif store is None and self._history_unusable is not None:  # not "no runs": it could not be read
            self.shell.write(f"(no runs listed: {self._history_unusable})")
        elif not numbered:
            self.shell.write(f"(no runs recorded in {self.shell.history_dir})")
        else:
            self.shell.write(run_series.history_text(numbered, self.shell.style()))

    def do_compare(self, cmd: Command) -> None:
        store = self.run_store()
        found: list[tuple[int, dict] | None] = [None] * len(cmd.args)
        total = 0
        if store is not None:
            try:
                found = [store.find(ref) for ref in cmd.args]
                total = store.count()
            except HistoryError as exc:
                self._runs_failed(exc)
        for ref, hit in zip(cmd.args, found, strict=True):
            if hit is None:
                raise UsageError(f"\\compare: no run {ref!r} in the history ({total} runs; see \\history)")
        (ka, a), (kb, b) = found  # type: ignore[misc]
        for k, rec in ((ka, a), (kb, b)):
            if rec.get("results_trimmed"):
                self.shell.notice(f"note: run {k}'s per-query times were trimmed (\\set history_keep)")
        if a.get("fingerprint") != b.get("fingerprint"):
            self.shell.notice(f"note: runs {ka} and {kb} are of different sets; compared by position")
        self.last_compare = (time.time(), ka, a, kb, b)  # for \report
        if self.shell.settings.format == "json":
            self.shell.write(json_lines.json_line({"type": "compare", "a": ka, "b": kb, "rows": run_series.compare_rows(a, b),
                                         "a_wall_ms": a.get("wall_ms"), "b_wall_ms": b.get("wall_ms")}))
        else:
            self.shell.write(run_series.compare_text(ka, a, kb, b, self.shell.style()))



@contextmanager
def _naming(label: str, text: str) -> Iterator[None]:
    """A qshell error about one ``\\sweep`` target says which (``label``: its conninfo
    ``text`` redacted); no password of ``text`` in it."""
    from qshell.session.connect import redact

    try:
        yield
    except QshellError as exc:
        raise type(exc)(redact(f"\\sweep: target {label!r}: {exc}", text)) from None
