"""Result records -> the report's documents: plain dicts, the same the JSON output gives."""
from __future__ import annotations

from typing import Callable, Mapping, Sequence

from qshell.output import json_lines, run_series
from qshell.output.report.basics import Doc
from qshell.records.results import RunResult


# -- documents (plain dicts, as the JSON output gives) --------------------------------------
def run_doc(run: RunResult, run_id: str, slow: Mapping[int, float] | None = None) -> Doc:
    """The run record with its query records (no rows): the run history's record."""
    slow = slow or {}
    doc: Doc = json_lines.run_record(run, run_id)
    doc["results"] = [json_lines.query_record(q, run_id, rows=False, slowdown=slow.get(q.index)) for q in run.queries]
    return doc


def sweep_doc(runs: Sequence[RunResult], run_ids: Sequence[str], slow: Callable[[RunResult], Mapping[int, float]] | None = None) -> Doc:
    rows = run_series.sweep_rows(list(runs))
    for row, run_id in zip(rows, [i for r, i in zip(runs, run_ids, strict=False) if not r.interrupted], strict=False):
        row["run_id"] = run_id
    return {"type": "sweep", "rows": rows,
            "runs": [run_doc(r, i, slow(r) if slow else None) for r, i in zip(runs, run_ids, strict=False)]}


def targets_doc(series: Sequence[tuple[str, Sequence[RunResult], Sequence[str]]],
                slow: Callable[[RunResult], Mapping[int, float]] | None = None) -> Doc:
    """``\\sweep N… on TARGET…``: the table's rows (run_series.target_sweep_rows) and every run,
    each with its target."""
    rows = run_series.target_sweep_rows([(label, list(runs), list(ids)) for label, runs, ids in series])
    runs = [{**run_doc(r, i, slow(r) if slow else None), "target": label}
            for label, rs, ids in series for r, i in zip(rs, ids, strict=False)]
    return {"type": "targets", "targets": [label for label, _, _ in series], "rows": rows, "runs": runs}


def repeat_doc(runs: Sequence[RunResult], run_ids: Sequence[str], slow: Callable[[RunResult], Mapping[int, float]] | None = None) -> Doc:
    doc: Doc = run_series.repeat_record(list(runs), list(run_ids))
    doc["runs"] = [run_doc(r, i, slow(r) if slow else None) for r, i in zip(runs, run_ids, strict=False)]
    return doc
