"""A staged run as text: per-query headers and waits, the summary table, conflicts, hosts, totals, the timeline.

Never touches the database.
"""
from __future__ import annotations

from typing import Mapping

from qshell.common.secrets import without_passwords
from qshell.common.visible import visible
from qshell.output.result_tables import _zero_columns, error_line, error_lines, statement
from qshell.output.styles import SQL_PREVIEW, Style, _rows_word, duration, ms, shorten, tabulate
from qshell.records.results import QueryResult, RunResult, Server, Status


def query_header(q: QueryResult) -> str:
    parts = [f"#{q.index}", f"worker {q.worker if q.worker is not None else '-'}", str(q.status)]
    if q.status is Status.OK:
        parts.append(_rows_word(q.rowcount) if q.returns_rows else q.command)
    parts.append(f"wait {ms(q.wait_s)} ms")
    parts.append(f"run {ms(q.total_s)} ms")
    if q.retries:
        parts.append(f"retried {q.retries}×")
    return "── " + visible(" · ".join(parts))


def _pct(x: float) -> str:
    return f"{x * 100:.0f}%"


def waits_line(q: QueryResult) -> str:
    """'waits Lock:transactionid 79% · CPU 21% · blocked by #1 0.79 s' ('' when nothing sampled)."""
    parts = []
    if q.waits:
        parts.append("waits " + ", ".join(f"{name} {_pct(share)}" for name, share in q.waits[:3]))
    if q.blocked_by:
        parts.append("blocked by " + ", ".join(f"{who} {duration(t)}" for who, t in q.blocked_by))
    return "   " + visible(" · ".join(parts)) if parts else ""  # an extension names its own wait events


def run_header(run: RunResult) -> str:
    return (f"══ {_queries(len(run.queries))} on N={run.n} workers · {run.mode} · order {run.order}")


def _queries(n: int) -> str:
    return f"{n} query" if n == 1 else f"{n} queries"


def query_block(q: QueryResult, style: Style) -> str:
    """Header line, then the result table and its footer (or the error)."""
    lines = [query_header(q)]
    if waits_line(q):
        lines.append(waits_line(q))
    if q.resources is not None or q.plan is not None or q.no_resources or q.no_plan:
        lines.extend(why_slow_lines(q))
    lines.extend(visible(n) for n in q.notices)
    if q.status is Status.OK:
        if q.returns_rows or _zero_columns(q):
            # what psql prints for it as a plain statement, in the \pset format and options
            # (tuples only, footer off, expanded...), without psql's closing empty line
            text = statement(q, style).rstrip("\n")
            if text:
                lines.append(text)
    else:
        lines.append(visible(error_line(q)))
        lines.extend(visible(line) for line in error_lines(q))
    return "\n".join(lines)


def why_slow_lines(q: QueryResult) -> list[str]:
    """Its resources (pg_stat_statements) and its plan (EXPLAIN ANALYZE) when measured, or
    why they are missing."""
    from qshell.engine import plans, resources

    out = [resources.line(q)] if q.resources is not None or q.no_resources else []
    return out + plans.lines(q)


def preview(sql: str, width: int = SQL_PREVIEW) -> str:
    """A statement on one line, shortened, a password in it shown as '***'."""
    return shorten(" ".join(without_passwords(sql).split()), width)


def _table_fmt(style: Style) -> str:
    if style.fmt in ("unaligned", "latex-longtable", "troff-ms", "wrapped"):  # psql's formats tabulate has not: qshell's own tables
        return "aligned"
    return "psql" if style.fmt in ("csv", "json") else style.fmt


def summary(run: RunResult, style: Style, slow: Mapping[int, float] | None = None) -> str:
    """One row per query (with its main wait and its slowdown against running alone
    when known), the blocking seen, then the run's totals."""
    slow = slow or {}
    sampled = any(q.waits for q in run.queries)
    headers = ["#", "query", "worker", "pid", "status", "rows", "wait ms", "run ms"]
    align = ["right", "left", "right", "right", "left", "right", "right", "right"]
    pooled = any(q.pool_wait_s is not None for q in run.queries)
    if pooled:  # behind a transaction pooler: the wait for a backend, not in run ms
        headers.insert(7, "pool wait ms")
        align.insert(7, "right")
    if sampled:
        headers.append("main waits")
        align.append("left")
    if slow:
        headers.append("× alone")
        align.append("right")
    measured = any(q.resources is not None for q in run.queries)
    planned = any(q.plan is not None for q in run.queries)
    if measured or planned:
        from qshell.engine import plans, resources
        if measured:
            headers.extend(resources.HEADERS)
            align.extend(["right"] * len(resources.HEADERS))
        if planned:
            headers.extend(["plan ms", "workers"])
            align.extend(["right", "right"])
    hosts = host_rows(run)
    if len(hosts) > 1:  # a multi-host target: which server ran each query
        headers.insert(3, "host")
        align.insert(3, "left")
    rows = []
    for q in run.queries:
        row = [q.index, preview(q.sql), "-" if q.worker is None else q.worker, q.pid or "-", str(q.status),
               q.rowcount if q.status is Status.OK else "-", ms(q.wait_s), ms(q.total_s)]
        if pooled:
            row.insert(7, "-" if q.pool_wait_s is None else ms(q.pool_wait_s))
        if sampled:
            row.append(visible(", ".join(f"{name} {_pct(share)}" for name, share in q.waits[:2])))
        if slow:
            row.append(f"{slow[q.index]:.2f}×" if q.index in slow else "")
        if measured:
            row.extend(resources.cells(q))
        if planned:
            row.extend([f"{q.plan.total_ms:.1f}" if q.plan is not None else "-", plans.workers_cell(q.plan)])
        if len(hosts) > 1:
            row.insert(3, f"{q.server.host} ({q.server.role})" if q.server else "-")
        rows.append(row)
    text = tabulate(rows, headers=headers, tablefmt=_table_fmt(style), disable_numparse=True, colalign=align)
    lines = [text]
    if len(hosts) > 1:
        lines.append(hosts_table(hosts, style))
    blocking = blocking_lines(run)
    if blocking:
        lines.append("blocking: " + "; ".join(blocking))
    lines.extend(_conflict_lines(run))
    lines.append(totals(run))
    if run.client_bound:
        lines.append(client_bound_line(run))
    if run.cpu is not None and run.cpu.measurable:  # (a shorter run: its JSON record says why no verdict)
        lines.append(run.cpu.line())
    return "\n".join(lines)


def host_rows(run: RunResult) -> list[dict]:
    """The run's times grouped per server its queries ran on (``QueryResult.server``: one
    host of a multi-host target, in host order), for the summary and the run record."""
    groups: dict[Server, list[QueryResult]] = {}
    for q in run.queries:
        if q.server is not None:
            groups.setdefault(q.server, []).append(q)
    rows = []
    for server in sorted(groups, key=lambda s: (s.host, s.standby)):
        qs = groups[server]
        times = [q.total_s for q in qs]
        rows.append({"host": server.host, "standby": server.standby, "workers": len({q.worker for q in qs}),
                     "queries": len(qs), "failed": sum(1 for q in qs if q.status is not Status.OK),
                     "sum_ms": round(sum(times) * 1000, 3), "mean_ms": round(sum(times) / len(times) * 1000, 3),
                     "max_ms": round(max(times) * 1000, 3)})
    return rows


def hosts_table(hosts: list[dict], style: Style) -> str:
    """``per host:`` and one row per server (``host_rows``)."""
    rows = [[h["host"], "standby" if h["standby"] else "primary", h["workers"], h["queries"], h["failed"],
             duration(h["sum_ms"] / 1000), ms(h["mean_ms"] / 1000), ms(h["max_ms"] / 1000)] for h in hosts]
    return "per host:\n" + tabulate(rows, headers=["host", "role", "workers", "queries", "not ok", "sum", "mean ms", "max ms"],
                                    tablefmt=_table_fmt(style), disable_numparse=True,
                                    colalign=("left", "left", "right", "right", "right", "right", "right", "right"))


def lock_lines(waits, deadlocks) -> list[str]:  # noqa: ANN001
    """The lock-wait graph and the deadlocks as summary lines, every one through
    :func:`~qshell.common.visible.visible`: a relation's name, a lock's mode and the DETAIL's
    words come from the server (a table may be named with an ESC in it)."""
    lines = []
    if waits:
        lines.append("lock waits (waiter → holder · lock · relation · time seen waiting):")
        for w in waits:
            on = f" · {w.relation}" if w.relation else ""
            lines.append(f"  {w.waiter} → {w.holder} · {w.mode} ({w.locktype}){on} · {duration(w.seconds)}")
    for d in deadlocks:
        edges = "; ".join(f"{a} waited for {mode} on {what} held by {b}" for a, mode, what, b in d.cycle)
        lines.append(f"deadlock at {duration(d.at_s)}: {' and '.join(d.queries)}: {edges}; #{d.victim} failed"
                     + (" (retried)" if d.retried else ""))
    return [visible(line) for line in lines]


def _conflict_lines(run: RunResult) -> list[str]:
    """Retries, failures by SQLSTATE, the lock-wait graph and deadlocks (conflicts.py)."""
    lines = lock_lines(run.lock_waits, run.deadlocks)
    retried = [q for q in run.queries if q.retries]
    states = failures_by_sqlstate(run)
    parts = [f"retries: {sum(q.retries for q in retried)} ({_queries(len(retried))} retried)"] if retried else []
    if states:
        parts.append("failures by SQLSTATE: " + ", ".join(f"{k} ×{v}" for k, v in states.items()))
    if parts:
        lines.append(" · ".join(parts))
    return lines


def failures_by_sqlstate(run: RunResult) -> dict[str, int]:
    out: dict[str, int] = {}
    for q in run.queries:
        if q.status is not Status.OK:
            key = q.sqlstate or str(q.status)
            out[key] = out.get(key, 0) + 1
    return out


def client_bound_line(run: RunResult) -> str:
    return (f"note: qshell itself was busy {_pct(run.client_cpu)} of the wall (CPU-bound client): the query times"
            " include waiting for qshell, not only for the server")


def blocking_lines(run: RunResult) -> list[str]:
    return [f"#{q.index} waited {duration(t)} on {who}" for q in run.queries for who, t in q.blocked_by]


def totals(run: RunResult) -> str:
    """'N=8 · 16 queries · wall … · sum … · overlap … · bound … · efficiency …'; behind a
    pooler of fewer server connections than N, the bound's divisor, and the queries' total
    and longest wait in the pooler's queue (not in their times)."""
    failed = f" · {run.failed} not ok" if run.failed else ""
    stopped = " · interrupted" if run.interrupted else ""
    on = f" (on {run.parallel} server connections)" if run.parallel < run.n else ""
    waited = run.pool_wait_s
    pool = f" · pool wait {duration(waited[0])}, longest {duration(waited[1])}" if waited is not None else ""
    return (f"N={run.n} · {_queries(len(run.queries))} · wall {duration(run.wall_s)} · "
            # (overlap and efficiency rounded as the JSON record rounds them first: the terminal,
            # JSON and report never round one figure two ways, 1.51× here and 1.50× there)
            f"sum {duration(run.sum_s)} · overlap {round(run.overlap, 4):.2f}× · "
            f"bound {duration(run.bound_s)}{on} · efficiency {_pct(round(run.efficiency, 4))}{pool}{failed}{stopped}")


def run_text(run: RunResult, style: Style, slow: Mapping[int, float] | None = None) -> str:
    blocks = [run_header(run)]
    blocks.extend(query_block(q, style) for q in run.queries)
    blocks.append(summary(run, style, slow))
    return "\n".join(blocks)


# -- timeline ----------------------------------------------------------------------
def timeline(run: RunResult, width: int = 80) -> str:
    """One line per worker, time scaled to ``width`` columns: each query a bar labelled
    with its index from its start to its end, idle time as '·', and a scale."""
    from qshell.engine.analysis import lanes

    label_w = len(f"w{max(run.n - 1, 0)} ")
    cols = max(10, width - label_w - 1)
    span = max(run.wall_s, max((q.end_s for q in run.queries), default=0.0), 1e-9)

    def col(t: float) -> int:
        return min(cols, max(0, round(t / span * cols)))

    lines = []
    for worker, qs in lanes(run).items():
        cells = ["·"] * cols
        free = 0  # first column not yet drawn: a query shorter than a column still gets one
        for q in qs:
            a = min(max(col(q.start_s), free), cols - 1)
            b = min(max(col(q.end_s), a + 1), cols)
            free = b
            tag = f"#{q.index}" if b - a >= len(f"#{q.index}") else str(q.index)
            cells[a:b] = list((tag + "━" * (b - a))[: b - a])
        lines.append(f"w{worker}".ljust(label_w) + "".join(cells))
    ticks = [" "] * cols
    ticks[0] = "|"
    ticks[-1] = "|"
    ticks[cols // 2] = "|"
    mid = duration(span / 2)
    scale_text = "0".ljust(cols // 2 - len(mid) // 2) + mid
    scale_text = scale_text.ljust(cols - len(duration(span))) + duration(span)
    lines.append(" " * label_w + "".join(ticks))
    lines.append(" " * label_w + scale_text[:cols])
    return "\n".join(lines)
