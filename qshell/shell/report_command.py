"""``\\report FILE.html``: the shell's command that picks what to report (the last run,
sweep, repeat, load or comparison, or runs of the history) and writes the page that
:mod:`qshell.output.report` builds."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping, Sequence

from qshell.common.errors import UsageError
from qshell.engine.analysis import slowdowns
from qshell.output import run_series
from qshell.output.report import TITLES, Doc, page, repeat_doc, run_doc, sweep_doc, targets_doc, write
from qshell.records.results import RunResult
from qshell.script.commands import Command
from qshell.shell.explore import RunCommands
from qshell.shell.host import ShellHost
from qshell.shell.isolation import IsolationCommands
from qshell.shell.loadview import LoadCommands


class ReportCommands:
    """``\\report FILE.html`` for the last run, sweep, repeat, load or comparison of
    this session; ``\\report FILE.html RUN…`` for runs of the run history (several in one page).

    Given the shell (session, streams) and the groups that keep what was measured last:
    ``runs.last_run`` (set by every measured run), ``runs.last_sweep`` / ``runs.last_repeat``
    as ``(runs, run_ids)``: the sweep or repeat is reported when its last run is
    ``runs.last_run`` (a later ``\\go`` wins). ``loads.last_load`` (a load record with
    ``started_at``) is reported when it started after the last run; ``runs.last_compare``
    (set by ``\\compare``: when, and its two runs as recorded) when it came after both."""

    def __init__(self, shell: ShellHost, runs: RunCommands, loads: LoadCommands, isolation: IsolationCommands | None = None) -> None:
        self.shell = shell
        self.runs = runs
        self.loads = loads
        self.isolation = isolation  # its last_table: the last anomaly table (\\spec/\\lab … under LEVELS)

    def _report_run_id(self, run: RunResult) -> str:
        kept = self.runs.last_run_id  # kept by RunCommands._execute
        if kept and run is self.runs.last_run:
            return str(kept)
        return f"{int(run.started_at * 1000):x}-{os.getpid():x}"  # as RunCommands._execute names it

    def _report_slow(self, run: RunResult) -> Mapping[int, float]:
        """Each query's time ÷ its time alone, as the run printed it."""
        if run.n <= 1 or run.interrupted:
            return {}
        return slowdowns(run, self.runs.alone)

    def _history_runs(self, refs: Sequence[str]) -> Doc:
        """``\\report FILE RUN…``: the runs of the run history named (numbers as \\history
        lists them, negative from the latest, or run ids), each as it was recorded."""
        store = self.runs.run_store()
        found: list[Doc] = []
        for ref in refs:
            hit = None
            if store is not None:
                from qshell.store.history import HistoryError

                try:
                    hit = store.find(ref)
                except HistoryError as exc:
                    raise UsageError(f"\\report: {exc}") from None
            if hit is None:
                total = store.count() if store is not None else 0
                raise UsageError(f"\\report: no run {ref!r} in the history ({total} runs; see \\history)")
            k, rec = hit
            found.append({**rec, "number": k})
        if len(found) == 1:
            return found[0]
        return {"type": "runs", "runs": found}

    def report_doc(self) -> tuple[Doc, str] | None:
        """The document of the last thing measured or compared and the command that made
        it, or None."""
        last = self.runs.last_run
        load = self.loads.last_load
        compared = self.runs.last_compare  # (when, run A's number, A, B's number, B)
        latest = max(last.started_at if last is not None else 0.0,
                     float(load.get("started_at") or 0) if isinstance(load, dict) else 0.0)
        table = self.isolation.last_table if self.isolation is not None else None
        if table is not None and table[0] >= latest and not (compared and compared[0] >= table[0]):
            from qshell.output.anomaly_table import document

            return document(table[1]), f"anomaly table of {table[1].name}"
        if compared and compared[0] >= latest:
            _, ka, a, kb, b = compared
            return ({"type": "compare", "a": ka, "b": kb, "rows": run_series.compare_rows(a, b), "a_wall_ms": a.get("wall_ms"),
                     "b_wall_ms": b.get("wall_ms"), "runs": [{**a, "number": ka}, {**b, "number": kb}]},
                    f"\\compare {ka} {kb}")
        if isinstance(load, dict) and (last is None or float(load.get("started_at") or 0) >= last.started_at):
            return load, f"\\go {load.get('n')} for {load.get('duration_s')}s" + (f" at {load['rate']}/s" if load.get("rate") else "")
        if last is None:
            return None
        series = self.runs.last_targets  # \\sweep N… on TARGET…
        if series and series[-1][1] and series[-1][1][-1] is last:
            return (targets_doc(series, self._report_slow),
                    "\\sweep " + " ".join(str(n) for n in dict.fromkeys(r.n for _, rs, _ in series for r in rs))
                    + " on " + " ".join(label for label, _, _ in series))
        for kind in ("sweep", "repeat"):
            kept = getattr(self.runs, f"last_{kind}")
            if not kept:
                continue
            runs, ids = kept
            if runs and runs[-1] is last:
                if kind == "sweep":
                    return sweep_doc(runs, ids, self._report_slow), "\\sweep " + " ".join(str(r.n) for r in runs)
                return repeat_doc(runs, ids, self._report_slow), f"\\go {runs[0].n} x{len(runs)}"
        return run_doc(last, self._report_run_id(last), self._report_slow(last)), f"\\go {last.n}"

    def do_report(self, cmd: Command) -> None:
        refs = list(cmd.args[1:])
        if refs:
            doc = self._history_runs(refs)
            command = "\\report FILE " + " ".join(refs)
        else:
            found = self.report_doc()
            if found is None:
                raise UsageError("\\report: nothing to report yet: no run in this session (\\go, \\sweep, \\go N xR,"
                                 " \\compare or \\spec FILE under LEVELS first, or name runs of the history: \\report FILE RUN…)")
            doc, command = found
        path = Path(cmd.arg).expanduser()
        meta = {"target": self.shell.session.target(), "server_version": self.shell.session.server_version,
                "sandbox": self.shell.session.sandbox is not None, "command": command}
        text = page(doc, meta)
        try:
            write(path, text)
        except OSError as exc:
            raise UsageError(f"\\report: {path}: {exc.strerror or exc}") from None
        what = TITLES.get(str(doc.get("type")), "run")
        whose = f"{what} {' '.join(refs)}" if refs else f"the last {what}"
        self.shell.notice(f"report of {whose} written to {path} ({len(text.encode('utf-8')):,} bytes)")

