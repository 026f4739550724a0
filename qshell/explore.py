"""The shell's run commands: \\go (with repeats), \\sweep, \\timeline, \\history, \\compare.

A mixin of ``Shell``: it uses the shell's session, settings, staged set and streams.
Everything measured goes through ``_execute`` (one run: capacity, pool, sampler,
progress line, run record) so the commands only differ in how they report.
"""
from __future__ import annotations

import json
import os
import shutil
from typing import TYPE_CHECKING

import gevent

from . import csvout, render
from .analysis import lpt_order, normalize, parse_n_list, slowdowns
from .commands import Command
from .errors import ExitStatus, UsageError
from .history import find, read_runs
from .interrupt import sigint_calls
from .paths import append_line
from .pool import QueryPool, TxMode
from .results import RunResult, Status
from .sampler import Sampler
from .streams import isatty

if TYPE_CHECKING:  # pragma: no cover
    from .shell import Shell

PROGRESS_EVERY = 0.2  # seconds between redraws of the live status line


def fingerprint(queries) -> str:  # noqa: ANN001
    """A short stable id of a staged set (same SQL in the same order -> same id)."""
    import hashlib

    h = hashlib.sha1()
    for q in queries:
        h.update(normalize(q).encode("utf-8"))
        h.update(b"\0")
    return h.hexdigest()[:12]


class RunCommands:
    """Mixin: needs ``self.session``, ``self.settings``, ``self.staged``, ``self.err``..."""

    # -- memory of measured times (this session and the run history) -------------------
    def _memory(self: "Shell") -> tuple[dict[str, float], dict[str, float]]:
        """(last measured time, time alone at N=1) per normalised SQL, on this connection's
        target; the history is read once per connection."""
        if self._times is None:
            self._times, self._alone = {}, {}
            runs, damaged = read_runs(self.history_dir)
            if damaged:
                self.notice(f"warning: skipped {damaged} damaged line(s) in {self.history_dir / 'runs.jsonl'}")
            target = self.session.target()
            for rec in runs:
                if rec.get("target") != target or rec.get("interrupted"):
                    continue
                for q in rec.get("results", []):
                    if q.get("status") == "ok" and "sql" in q:
                        t = q.get("total_ms", 0.0) / 1000
                        self._times[normalize(q["sql"])] = t
                        if rec.get("n") == 1:
                            self._alone[normalize(q["sql"])] = t
        return self._times, self._alone

    def _remember(self: "Shell", run: RunResult) -> None:
        if run.interrupted:  # an interrupted run's times are not measurements
            return
        times, alone = self._memory()
        for q in run.queries:
            if q.status is Status.OK:
                times[normalize(q.sql)] = q.total_s
                if run.n == 1:
                    alone[normalize(q.sql)] = q.total_s

    # -- one measured run ------------------------------------------------------------
    def _tx_mode(self: "Shell") -> TxMode:
        s = self.settings
        return TxMode(rollback=s.tx == "rollback", isolation=s.isolation, readonly=s.readonly, timeout_ms=s.timeout)

    def _workers_for(self: "Shell", requested: int | None) -> int:
        if not self.staged:
            raise UsageError("nothing staged; \\add a statement first")
        n = requested if requested is not None else self.default_workers()
        if n > len(self.staged):
            self.notice(f"N clipped from {n} to {len(self.staged)}: only {len(self.staged)} queries staged")
            n = len(self.staged)
        return n

    def _check(self: "Shell", n: int) -> None:
        """Refuse an N the server cannot serve; the sampler's connection counts too."""
        db = self.session.pool
        db.check_capacity(n, extra=1 if self.settings.sample and not db.monitor_open else 0)

    def _execute(self: "Shell", n: int) -> tuple[RunResult, str, dict[int, float]]:
        """One measured run: its result, run id, and slowdowns against running alone."""
        queries = tuple(self.staged)
        settings = self.session.user.settings()  # what the user SET: every worker gets it
        if settings is not None:
            self.session.pool.session_settings = settings
        times, _ = self._memory()
        order = lpt_order(queries, times) if self.settings.order == "longest-first" else None
        pool = QueryPool(self.session.pool, queries, n, maxrows=self.settings.maxrows, mode=self._tx_mode(),
                         order=order, order_name=self.settings.order,
                         sampler=Sampler(self.session.pool) if self.settings.sample else None,
                         stop_on_error=self.settings.on_error == "cancel")
        ticker = gevent.spawn(self._progress, pool) if isatty(self.err) else None
        try:
            with sigint_calls(pool.interrupt):
                run = pool.run()
        finally:
            if ticker is not None:
                ticker.kill()
                self.err.write("\r\x1b[K")
                self.err.flush()
        run_id = f"{int(run.started_at * 1000):x}-{os.getpid():x}"
        slow = slowdowns(run, self._memory()[1]) if run.n > 1 and not run.interrupted else {}
        failed = [q.diag for q in run.queries if q.diag is not None and q.status is Status.ERROR]
        if failed:
            self.last_error = failed[-1]
        self._record(run, run_id, queries, slow)
        self._remember(run)
        if any(q.changed_catalog for q in run.queries):
            self.catalog_changed()
        self.last_run = run
        if pool.sampler is not None and pool.sampler.error:
            self.notice(f"warning: sampling pg_stat_activity failed: {pool.sampler.error}")
        return run, run_id, slow

    def _progress(self: "Shell", pool: QueryPool) -> None:
        width = shutil.get_terminal_size((100, 24)).columns
        while True:
            gevent.sleep(PROGRESS_EVERY)
            self.err.write("\r\x1b[K" + render.progress_line(pool.progress(), width))
            self.err.flush()

    def _record(self: "Shell", run: RunResult, run_id: str, queries: tuple[str, ...], slow: dict) -> None:
        if self.history_dir is None:
            return
        record = render.run_record(run, run_id)
        record.update(
            fingerprint=fingerprint(queries),
            label=render.preview(queries[0], 40) + (f" (+{len(queries) - 1})" if len(queries) > 1 else ""),
            target=self.session.target(),
            server_version=self.session.server_version,
            sandbox=self.session.sandbox is not None,
            results=[render.query_record(q, run_id, rows=False, slowdown=slow.get(q.index)) for q in run.queries],
        )
        try:
            append_line(self.history_dir / "runs.jsonl", json.dumps(record, ensure_ascii=False, separators=(",", ":")))
        except OSError as exc:
            if not self._history_warned:
                self._history_warned = True
                self.notice(f"warning: cannot write run history in {self.history_dir}: {exc.strerror or exc}")

    def _after(self: "Shell", runs: list[RunResult]) -> None:
        """Exit status and script stop after one or more runs."""
        from .shell import _Stop

        if any(r.interrupted for r in runs) and not self.interactive:
            raise _Stop(ExitStatus.SCRIPT_STOPPED)
        failed = sum(r.failed for r in runs if not r.interrupted)
        total = sum(len(r.queries) for r in runs)
        if failed:
            self.fail(f"{failed} of {total} staged queries failed" if len(runs) == 1
                      else f"{failed} of {total} query executions failed over {len(runs)} runs")

    # -- commands ------------------------------------------------------------------
    def do_go(self: "Shell", cmd: Command) -> None:
        n = self._workers_for(cmd.n)
        self._check(n)
        if cmd.reps and cmd.reps > 1:
            self._repeat(n, cmd.reps)
            return
        run, run_id, slow = self._execute(n)
        if self.settings.format == "json":
            self.write(render.run_json(run, run_id, slow))
        elif self.settings.format == "csv":
            self._csv_run(run, slow)
        else:
            text = render.run_text(run, self.style(), slow)
            if self.settings.timeline:
                text += "\n" + render.timeline(run, self.width())
            self.write(text)
        self._after([run])

    def _csv_run(self: "Shell", run: RunResult, slow: dict[int, float]) -> None:
        """A run in CSV: one CSV table on stdout, nothing else there (see README, "CSV").

        Default: the run summary, one row per staged query. With ``\\set csv_rows on``:
        instead, what psql --csv prints for each staged statement, in staged order (its
        header and the rows kept, at most ``maxrows``; a non-row statement's command tag;
        nothing for a failed one). Notices, errors and capped results are told on stderr."""
        self._csv_messages(run)
        if not self.settings.csv_rows:
            self.write(csvout.summary(run, slow))
            return
        for q in run.queries:
            if q.status is not Status.OK:
                continue
            if q.returns_rows:
                self.write(csvout.table(q))
                if q.truncated:
                    self.notice(f"#{q.index}: {q.rowcount} rows, first {len(q.rows)} printed (\\set maxrows)")
            else:
                self.write(q.command)

    def _csv_messages(self: "Shell", run: RunResult) -> None:
        """A CSV run's notices and errors, on stderr, each line after ``#K:``."""
        for q in run.queries:
            for text in q.notices:
                self.notice(f"#{q.index}: {text}")
            if q.status is not Status.OK:
                self.notice(f"#{q.index}: {render.error_line(q)}")
                for line in render.error_lines(q):
                    self.notice(f"#{q.index}: {line}")

    def _series(self: "Shell", ns: list[int]) -> tuple[list[RunResult], list[str]]:
        """Run the staged set once per N of ``ns`` (stopping at Ctrl-C); JSON mode prints
        each run's records as it goes."""
        runs, ids = [], []
        for n in ns:
            run, run_id, slow = self._execute(n)
            runs.append(run)
            ids.append(run_id)
            if self.settings.format == "json":
                self.write(render.run_json(run, run_id, slow))
            if run.interrupted:
                break
        return runs, ids

    def _repeat(self: "Shell", n: int, reps: int) -> None:
        runs, ids = self._series([n] * reps)
        if self.settings.format == "json":
            self.write(render.json_line(render.repeat_record(runs, ids)))
        elif self.settings.format == "csv":
            for run in runs:
                self._csv_messages(run)
            self.write(csvout.repeat(runs))
        else:
            self.write(render.repeat_text(runs, self.style()))
        self._after(runs)

    def do_sweep(self: "Shell", cmd: Command) -> None:
        try:
            ns = parse_n_list(cmd.args)
        except ValueError as exc:
            raise UsageError(f"\\sweep: {exc}") from None
        if not self.staged:
            raise UsageError("nothing staged; \\add a statement first")
        clipped = sorted({min(n, len(self.staged)) for n in ns})
        if clipped != ns:
            self.notice(f"Ns clipped to the {len(self.staged)} staged queries: {' '.join(map(str, clipped))}")
        self._check(max(clipped))
        runs, ids = self._series(clipped)
        if self.settings.format == "json":
            rows = render.sweep_rows(runs)
            for row, run_id in zip(rows, ids):
                row["run_id"] = run_id
            self.write(render.json_line({"type": "sweep", "rows": rows}))
        elif self.settings.format == "csv":
            for run in runs:
                self._csv_messages(run)
            self.write(csvout.sweep(render.sweep_rows(runs)))
        else:
            self.write(render.sweep_text(runs, self.style()))
        self._after(runs)

    def do_timeline(self: "Shell", cmd: Command) -> None:
        if self.last_run is None:
            raise UsageError("\\timeline: no run yet in this session; \\go first")
        if self.json:
            from .analysis import lanes

            self.write(render.json_line({"type": "timeline", "n": self.last_run.n, "wall_ms": round(self.last_run.wall_s * 1000, 3),
                                         "lanes": [{"worker": w, "queries": [{"index": q.index, "start_ms": round(q.start_s * 1000, 3),
                                                                               "end_ms": round(q.end_s * 1000, 3)} for q in qs]}
                                                   for w, qs in lanes(self.last_run).items()]}))
            return
        self.write(render.timeline(self.last_run, self.width()))

    def do_history(self: "Shell", cmd: Command) -> None:
        runs, damaged = read_runs(self.history_dir)
        if damaged:
            self.notice(f"warning: skipped {damaged} damaged line(s) in runs.jsonl")
        numbered = list(enumerate(runs, start=1))[-(cmd.n or 20):]
        if self.settings.format == "json":
            for k, rec in numbered:
                self.write(render.json_line({**rec, "number": k}))
        elif not numbered:
            self.write(f"(no runs recorded in {self.history_dir})")
        else:
            self.write(render.history_text(numbered, self.style()))

    def do_compare(self: "Shell", cmd: Command) -> None:
        runs, _ = read_runs(self.history_dir)
        found = [find(runs, ref) for ref in cmd.args]
        for ref, hit in zip(cmd.args, found):
            if hit is None:
                raise UsageError(f"\\compare: no run {ref!r} in the history ({len(runs)} runs; see \\history)")
        (ka, a), (kb, b) = found  # type: ignore[misc]
        if a.get("fingerprint") != b.get("fingerprint"):
            self.notice(f"note: runs {ka} and {kb} are of different sets; compared by position")
        if self.settings.format == "json":
            self.write(render.json_line({"type": "compare", "a": ka, "b": kb, "rows": render.compare_rows(a, b),
                                         "a_wall_ms": a.get("wall_ms"), "b_wall_ms": b.get("wall_ms")}))
        else:
            self.write(render.compare_text(ka, a, kb, b, self.style()))
