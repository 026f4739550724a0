"""Result records -> text: tables, per-query headers, the run summary, CSV, JSON lines.

Never touches the database. Values are printed exactly as the server sent them
(tabulate's number parsing is off); NULL is shown as the ``null`` setting so it
differs from an empty string.
"""
from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass

from tabulate import tabulate, tabulate_formats

from .results import QueryResult, RunResult, Status

FORMATS = tuple(sorted(set(tabulate_formats) | {"csv", "json"}))
SQL_PREVIEW = 48  # characters of SQL in the summary table

JSON_SCHEMA_VERSION = 1


@dataclass(frozen=True, slots=True)
class Style:
    fmt: str = "psql"
    null: str = "<null>"
    maxwidth: int = 80  # longest value shown in a table cell (JSON is never shortened)


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f}"


def duration(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms" if seconds < 1 else f"{seconds:.3f} s"


def _rows_word(n: int) -> str:
    return "1 row" if n == 1 else f"{n} rows"


def shorten(text: str, width: int) -> str:
    one = text.replace("\r", "\\r").replace("\t", "    ")
    if width > 1 and len(one) > width:
        return one[: width - 1] + "…"
    return one


def _cell(value: str | None, style: Style) -> str:
    if value is None:
        return style.null
    return shorten(value, style.maxwidth)


def table(q: QueryResult, style: Style) -> str:
    """The rows kept for display as a table (or CSV), without footer."""
    headers = [c.name for c in q.columns]
    if style.fmt == "csv":
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(headers)
        for row in q.rows:
            w.writerow(["" if v is None else v for v in row])
        return buf.getvalue().rstrip("\n")
    rows = [[_cell(v, style) for v in row] for row in q.rows]
    align = ["right" if c.numeric else "left" for c in q.columns]
    return tabulate(rows, headers=headers, tablefmt=style.fmt, disable_numparse=True,
                    colalign=align if rows else None)


def footer(q: QueryResult) -> str:
    """psql's ``(N rows)``, saying how many are shown when the display is capped."""
    if q.truncated:
        return f"({_rows_word(q.rowcount)}, first {len(q.rows)} shown)"
    return f"({_rows_word(q.rowcount)})"


def error_line(q: QueryResult) -> str:
    state = f" (SQLSTATE {q.sqlstate})" if q.sqlstate else ""
    return f"{q.error}{state}"


def statement(q: QueryResult, style: Style) -> str:
    """A plain SQL statement's output, as psql prints it."""
    if q.status is not Status.OK:
        return error_line(q)
    if not q.returns_rows:
        return q.command
    return f"{table(q, style)}\n{footer(q)}"


def query_header(q: QueryResult) -> str:
    parts = [f"#{q.index}", f"worker {q.worker if q.worker is not None else '-'}", str(q.status)]
    if q.status is Status.OK:
        parts.append(_rows_word(q.rowcount) if q.returns_rows else q.command)
    parts.append(f"wait {ms(q.wait_s)} ms")
    parts.append(f"run {ms(q.total_s)} ms")
    return "── " + " · ".join(parts)


def query_block(q: QueryResult, style: Style) -> str:
    """Header line, then the result table and its footer (or the error)."""
    lines = [query_header(q)]
    if q.status is Status.OK:
        if q.returns_rows:
            lines.append(table(q, style))
            lines.append(footer(q))
    else:
        lines.append(error_line(q))
    return "\n".join(lines)


def preview(sql: str, width: int = SQL_PREVIEW) -> str:
    return shorten(" ".join(sql.split()), width)


def summary(run: RunResult, style: Style) -> str:
    """One row per query, then the run's totals."""
    rows = [
        [q.index, preview(q.sql), "-" if q.worker is None else q.worker, q.pid or "-", str(q.status),
         q.rowcount if q.status is Status.OK else "-", ms(q.wait_s), ms(q.total_s)]
        for q in run.queries
    ]
    headers = ["#", "query", "worker", "pid", "status", "rows", "wait ms", "run ms"]
    fmt = "psql" if style.fmt in ("csv", "json") else style.fmt
    text = tabulate(rows, headers=headers, tablefmt=fmt, disable_numparse=True,
                    colalign=("right", "left", "right", "right", "left", "right", "right", "right"))
    return f"{text}\n{totals(run)}"


def totals(run: RunResult) -> str:
    failed = f" · {run.failed} not ok" if run.failed else ""
    stopped = " · interrupted" if run.interrupted else ""
    return (f"N={run.n} · {len(run.queries)} queries · wall {duration(run.wall_s)} · "
            f"sum {duration(run.sum_s)} · speedup {run.speedup:.2f}×{failed}{stopped}")


def run_text(run: RunResult, style: Style) -> str:
    blocks = [query_block(q, style) for q in run.queries]
    blocks.append(summary(run, style))
    return "\n".join(blocks)


# -- JSON lines ----------------------------------------------------------------
def query_record(q: QueryResult, run_id: str | None, rows: bool = True) -> dict:
    rec = {
        "type": "query" if run_id is not None else "statement",
        "run_id": run_id,
        "index": q.index,
        "sql": q.sql,
        "status": str(q.status),
        "worker": q.worker,
        "pid": q.pid,
        "command": q.command,
        "columns": [{"name": c.name, "type_oid": c.type_oid} for c in q.columns],
        "rowcount": q.rowcount,
        "error": q.error,
        "sqlstate": q.sqlstate,
        "wait_ms": round(q.wait_s * 1000, 3),
        "exec_ms": round(q.exec_s * 1000, 3),
        "fetch_ms": round(q.fetch_s * 1000, 3),
        "total_ms": round(q.total_s * 1000, 3),
        "start_ms": round(q.start_s * 1000, 3),
        "end_ms": round(q.end_s * 1000, 3),
    }
    if rows:
        rec["rows"] = [list(r) for r in q.rows]
        rec["truncated"] = q.truncated
    return rec


def run_record(run: RunResult, run_id: str) -> dict:
    return {
        "type": "run",
        "schema": JSON_SCHEMA_VERSION,
        "run_id": run_id,
        "n": run.n,
        "queries": len(run.queries),
        "ok": len(run.queries) - run.failed,
        "failed": run.failed,
        "interrupted": run.interrupted,
        "started_at": run.started_at,
        "wall_ms": round(run.wall_s * 1000, 3),
        "sum_ms": round(run.sum_s * 1000, 3),
        "speedup": round(run.speedup, 4),
    }


def json_line(obj: dict) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def run_json(run: RunResult, run_id: str) -> str:
    lines = [json_line(query_record(q, run_id)) for q in run.queries]
    lines.append(json_line(run_record(run, run_id)))
    return "\n".join(lines)
