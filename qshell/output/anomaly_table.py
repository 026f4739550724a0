"""The anomaly table as text (rows = permutations, columns = levels) and as JSON records
(one per permutation per level, serial orders included with ``"serial": true``).

A cell says, one line each: how the permutation ended (``committed``, or each failed step
with its SQLSTATE), each step that waited on a lock and the session(s) the server named as
blocking it (with that session's last step), the final state's rows, and ``ANOMALY: name``
or ``= serial A → B`` (the serial order whose final state it equals).
"""
from __future__ import annotations

from typing import Any

from qshell.common.visible import visible
from qshell.output.styles import _tabulate
from qshell.records.anomaly import AnomalyTable, Cell
from qshell.records.isolation import StepOutcome, Table


def rows_text(tables: list[Table]) -> str:
    """A final state in one line: each row as ``(v1,v2)``, NULL as ``NULL``; tables apart by `` | ``."""
    parts = []
    for t in tables:
        parts.append(" ".join("(" + ",".join("NULL" if v is None else v for v in row) + ")" for row in t.rows) or "(no rows)")
    return " | ".join(parts)


def outcome_text(cell: Cell) -> str:
    """How the permutation ended: ``committed``, or ``STEP SQLSTATE`` of each failed step."""
    if cell.record.interrupted:
        return "interrupted"
    if cell.stopped:
        return "stopped: " + cell.stopped.splitlines()[0]
    if not cell.errors:
        return "committed"
    return ", ".join(f"{step} {state or 'error'}" for step, state in cell.errors)


def wait_text(cell: Cell) -> list[str]:
    out = []
    for w in cell.waits:
        who = ", ".join(f"{s} ({st})" if st else s for s, st in zip(w.sessions, w.steps, strict=True)) or "?"
        out.append(f"{w.step} waited for {who}")
    return out


def cell_text(cell: Cell) -> str:
    lines = [outcome_text(cell), *wait_text(cell)]
    if cell.final:
        lines.append("final " + rows_text(cell.final))
    if cell.anomaly:
        lines.append("ANOMALY" if cell.anomaly == "anomaly" else f"ANOMALY: {cell.anomaly}")
    elif cell.matches_serial:
        lines.append(f"= serial {cell.matches_serial}")
    return "\n".join(visible(line) for line in lines)


def table_text(table: AnomalyTable) -> str:
    """The whole table as the terminal shows it (data escaped)."""
    head = []
    name = f"{table.name}: " if table.name else ""
    orders = sum(len(runs) for (_g, lv), runs in table.serial.items() if lv == table.levels[0]) if table.levels else 0
    head.append(f"Anomaly table: {name}{len(table.permutations)} permutation{'s' if len(table.permutations) != 1 else ''}"
                f" x {len(table.levels)} level{'s' if len(table.levels) != 1 else ''};"
                f" {orders} serial order{'s' if orders != 1 else ''} per level")
    cols = next((t.columns for runs in table.serial.values() for r in runs for t in r.cell.final), ())
    if table.final_from:
        head.append(visible(f"final state: the {table.final_from}'s rows ({', '.join(cols)})"))
    else:
        head.append("final state: none (no teardown block and no step returned rows): the cells are not compared"
                    " with the serial orders, only their errors and reads")
    for g, steps in enumerate(table.groups):
        if len(table.groups) > 1:
            head.append(visible(f"serial orders of {' '.join(steps)}:"))
        first = table.serial.get((g, table.levels[0]), []) if table.levels else []
        for j, run in enumerate(first):
            texts = {}
            for lv in table.levels:
                runs = table.serial.get((g, lv), [])
                if j < len(runs):
                    c = runs[j].cell
                    texts[lv] = rows_text(c.final) + ("" if not c.errors else " [" + outcome_text(c) + "]")
            if len(set(texts.values())) <= 1:
                shown = next(iter(texts.values()), "")
            else:
                shown = "; ".join(f"{lv}: {t}" for lv, t in texts.items())
            head.append(visible(f"{'  ' if len(table.groups) > 1 else ''}serial {' → '.join(run.order)}: {shown}"))
    for w in table.warnings:
        head.append(visible(f"warning: {w}"))
    rows = []
    for k, steps in enumerate(table.permutations):
        row = [visible(" ".join(steps))]
        for lv in table.levels:
            got = table.cells.get((k, lv))
            row.append(cell_text(got) if got is not None else "not run")
        rows.append(row)
    # (tabulate imported here, at the first table: start-up never needs it; whitespace kept
    # for this table only, never set for the process)
    module: Any = _tabulate()
    saved, module.PRESERVE_WHITESPACE = module.PRESERVE_WHITESPACE, True
    try:
        body = module.tabulate(rows, headers=["permutation", *table.levels], tablefmt="psql", disable_numparse=True)
    finally:
        module.PRESERVE_WHITESPACE = saved
    anomalies = sum(1 for c in table.cells.values() if c.anomaly)
    tail = f"{anomalies} anomal{'y' if anomalies == 1 else 'ies'} in {len(table.cells)} runs"
    if table.interrupted:
        tail += " (interrupted: the table is not complete)"
    return "\n".join(head) + "\n" + body + "\n" + tail


def _table(t: Table) -> dict[str, Any]:
    return {"columns": list(t.columns), "rows": [list(r) for r in t.rows]}


def _step(o: StepOutcome, t0: float, cell: Cell) -> dict[str, Any]:
    wait = next((w for w in cell.waits if w.step == o.name), None)
    return {
        "step": o.name, "session": o.session, "sql": o.sql,
        "sent_ms": round((o.sent_at - t0) * 1000, 3),
        "completed_ms": None if o.completed_at is None else round((o.completed_at - t0) * 1000, 3),
        "waited": o.waited, "wait_reason": o.wait_reason,
        "blocked_by": list(wait.sessions) if wait else [], "blocked_by_steps": list(wait.steps) if wait else [],
        "sqlstate": o.error.sqlstate if o.error else None,
        "error": (o.error.message or o.error.text) if o.error else None,
        "results": [_table(t) for t in o.tables], "notices": list(o.notices), "cancelled": o.cancelled,
    }


def cell_record(cell: Cell, spec_name: str = "") -> dict[str, Any]:
    """One permutation at one level, as a JSON record: its steps' outcomes, times from its first step."""
    t0 = min((o.sent_at for o in cell.record.outcomes), default=0.0)
    return {
        "type": "isolation_permutation", "spec": spec_name, "level": cell.level, "permutation": list(cell.steps),
        "serial": cell.serial, "outcome": outcome_text(cell), "final": [_table(t) for t in cell.final],
        "anomaly": cell.anomaly or None, "matches_serial": cell.matches_serial or None,
        "steps": [_step(o, t0, cell) for o in cell.record.outcomes],
    }


def records(table: AnomalyTable) -> list[dict[str, Any]]:
    """Every run of the table: the serial orders of each level, then the permutations."""
    out = []
    for lv in table.levels:
        for g in range(len(table.groups)):
            for run in table.serial.get((g, lv), []):
                out.append({**cell_record(run.cell, table.name), "order": list(run.order)})
        for k in range(len(table.permutations)):
            c = table.cells.get((k, lv))
            if c is not None:
                out.append(cell_record(c, table.name))
    return out


def document(table: AnomalyTable) -> dict[str, Any]:
    """The report's document of the table: ``{"type": "anomaly", ...}`` with every record."""
    return {"type": "anomaly", "spec": table.name, "levels": list(table.levels), "sessions": list(table.sessions),
            "permutations": [list(p) for p in table.permutations],
            "final_from": table.final_from, "warnings": list(table.warnings), "records": records(table)}
