"""The sections of several runs and of a load: sweeps, sweeps over targets, repeats, history runs, comparisons, sustained load."""
from __future__ import annotations

import time
from typing import Any, Mapping

from qshell.output import run_series, styles
from qshell.output.report.basics import Doc, dur, esc, wait_colours
from qshell.output.report.cells import (
    Cell,
    Under,
    _cards,
    _is_number,
    _nested_html,
    _scalar,
    _sql_td,
    _table,
    _text_html,
    _waits_cell,
    fig,
    overlap_key,
    sql_cell,
    value_html,
)
from qshell.output.report.charts import bars_svg, lines_svg, sweep_svg, throughput_svg
from qshell.output.report.run_sections import _run_block, conflicts_section, cpu_section, more_figures


def sweep_section(doc: Doc, base: str = "") -> str:
    rows = doc.get("rows") or []
    est = rows and rows[0].get("serial_estimated")
    table_rows = [[fig(r.get("n"), f"rows/{i}/n", "int"), fig(r.get("wall_ms"), f"rows/{i}/wall_ms", "dur"),
                   fig(r.get("speedup") or 0, f"rows/{i}/speedup", "x"), fig(r.get("efficiency"), f"rows/{i}/efficiency", "pct"),
                   fig(r.get("bound_ms"), f"rows/{i}/bound_ms", "dur"),
                   fig(r.get("failed"), f"rows/{i}/failed", "int") if r.get("failed") else "",
                   f'<code>{esc(r.get("run_id") or "")}</code>'] for i, r in enumerate(rows)]
    note = ('<p class="small muted">No run at N=1: the serial time is estimated as the sum of the query times of the first run.</p>'
            if est else "")
    stopped = [r for r in doc.get("runs") or [] if r.get("interrupted")]
    if stopped:
        note += f'<p class="note bad">The sweep was interrupted at N={esc(stopped[-1].get("n"))}.</p>'
    extra = {k for r in rows for k in r} - {"n", "wall_ms", "speedup", "efficiency", "bound_ms", "failed", "run_id", "serial_estimated"}
    more = ("<h3>More figures per N</h3>" + value_html([{k: r.get(k) for k in ["n", *sorted(extra)]} for r in rows], "rows")
            if extra else "")
    return ("<h2>Sweep</h2>" + _cards([("Ns", " ".join(str(r.get("n")) for r in rows), ""),
                                       ("best wall", dur(min((float(r.get("wall_ms") or 0) for r in rows), default=0)), "main"),
                                       ("best speedup vs N=1", f'{max((float(r.get("speedup") or 0) for r in rows), default=0):.2f}×', "main")])
            + ('<div class="figure">' + sweep_svg(rows) + "</div>" if rows else "")
            + '<div class="legend"><span class="key"><span class="swatch" style="background:#90caf9"></span>wall</span>'
              '<span class="key"><span class="swatch dash" style="border-color:#0d47a1"></span>lower bound</span>'
              '<span class="key"><span class="swatch" style="background:#e65100"></span>speedup vs N=1 (right axis)</span>'
              '<span class="key"><span class="swatch dash" style="border-color:#bdbdbd"></span>best possible speedup (serial ÷ bound)</span></div>'
            + note
            + _table(["N", "wall", "speedup vs N=1", "efficiency", "lower bound", "not ok", "run"], table_rows, "sweep", [0, 1, 2, 3, 4, 5])
            + more)


def targets_section(doc: Doc, base: str = "") -> str:
    rows = doc.get("rows") or []
    table_rows = [[esc(r.get("target")), fig(r.get("n"), f"rows/{i}/n", "int"), fig(r.get("wall_ms"), f"rows/{i}/wall_ms", "dur"),
                   fig(r.get("vs_first"), f"rows/{i}/vs_first", "x") if r.get("vs_first") is not None else "-",
                   fig(r.get("speedup") or 0, f"rows/{i}/speedup", "x"), fig(r.get("efficiency"), f"rows/{i}/efficiency", "pct"),
                   esc(run_series.servers_cell(r.get("servers") or [])),
                   esc(" / ".join(f'{h.get("host")} {h.get("queries")}' for h in r.get("servers") or [])),
                   fig(r.get("failed"), f"rows/{i}/failed", "int") if r.get("failed") else "",
                   f'<code>{esc(r.get("run_id") or "")}</code>'] for i, r in enumerate(rows)]
    stopped = [r for r in doc.get("runs") or [] if r.get("interrupted")]
    note = (f'<p class="note bad">The sweep was interrupted on {esc(stopped[-1].get("target"))} at N={esc(stopped[-1].get("n"))}.</p>'
            if stopped else "")
    return ("<h2>Sweep over targets</h2>"
            '<p class="small muted">The staged set at each N on each target; <em>vs first target</em> is the first'
            " target's wall at the same N ÷ this wall.</p>" + note
            + '<div class="scroll">'
            + _table(["target", "N", "wall", "vs first target", "speedup vs N=1", "efficiency", "servers", "queries per server",
                      "not ok", "run"], table_rows, "targets", [1, 2, 3, 4, 5, 8]) + "</div>")


def _run_title(r: Mapping[str, Any]) -> str:
    bits = [f"N={r.get('n')}", f"wall {dur(r.get('wall_ms'))}"]
    if r.get("number") is not None:
        bits.insert(0, f"run {r.get('number')}")
    if r.get("run_id"):
        bits.append(str(r.get("run_id")))
    return " · ".join(bits)


def runs_section(doc: Doc, base: str = "") -> str:
    runs = doc.get("runs") or []
    if doc.get("type") == "targets":
        titles = [f"{r.get('target')} · N={r.get('n')} · wall {dur(r.get('wall_ms'))}" for r in runs]
    elif doc.get("type") == "repeat":
        titles = [f"Repetition {i}" + (" (cold)" if i == 1 else "") + f" · N={r.get('n')} · wall {dur(r.get('wall_ms'))}"
                  for i, r in enumerate(runs, start=1)]
    elif doc.get("type") in ("runs", "compare"):
        titles = [_run_title(r) for r in runs]
    else:
        titles = [f"Run at N={r.get('n')} · wall {dur(r.get('wall_ms'))}" for r in runs]
    return "".join(_run_block(r, t, open_=doc.get("type") in ("sweep", "targets", "runs", "compare") or i == len(runs) - 1,
                              base=f"runs/{i}/")
                   for i, (r, t) in enumerate(zip(runs, titles, strict=True)))


def runs_list_section(doc: Doc, base: str = "") -> str:
    """Several runs (``\\report FILE ID…``): one row each, then each run."""
    runs = doc.get("runs") or []
    rows = []
    for i, r in enumerate(runs):
        ok = overlap_key(r)
        p = f"runs/{i}"
        rows.append([fig(r.get("number"), f"{p}/number", "int"), f'<code>{esc(r.get("run_id") or "")}</code>',
                     esc(time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(float(r.get("started_at") or 0)))),
                     Cell(sql_cell(str(r.get("label") or ""), 50), css="sql"), fig(r.get("n"), f"{p}/n", "int"),
                     fig(r.get("wall_ms"), f"{p}/wall_ms", "dur"), fig(r.get(ok), f"{p}/{ok}", "x"),
                     fig(r.get("efficiency"), f"{p}/efficiency", "pct"), fig(r.get("failed"), f"{p}/failed", "int"),
                     esc(r.get("mode") or "")])
    return ("<h2>Runs</h2>" + '<div class="scroll">'
            + _table(["run", "id", "when", "set", "N", "wall", f"{overlap_key(runs[0]) if runs else 'overlap'} (sum ÷ wall)",
                      "efficiency", "not ok", "mode"], rows, "runs", [0, 4, 5, 6, 7, 8]) + "</div>")


def compare_section(doc: Doc, base: str = "") -> str:
    """``\\compare A B``: per query its time in each run and the change, as the terminal's table."""
    rows = doc.get("rows") or []
    a, b = doc.get("a"), doc.get("b")
    table_rows = []
    for i, r in enumerate(rows):
        p = f"rows/{i}"
        status = "" if r.get("a_status") == r.get("b_status") == "ok" else f'{r.get("a_status")}/{r.get("b_status")}'
        table_rows.append([fig(r.get("index"), f"{p}/index", "int"), _sql_td(str(r.get("sql") or ""), 60),
                           fig(r.get("a_ms"), f"{p}/a_ms", "ms"), fig(r.get("b_ms"), f"{p}/b_ms", "ms"),
                           Cell(esc(f'{float(r["change"]) * 100:+.0f}%'), f"{p}/change", "change", True)
                           if r.get("change") is not None else Cell("-", num=True),
                           esc(status), Cell(_text_html(r.get("plan") or ""), css="sql")])
    plan = any(r.get("plan") for r in rows)
    headers = ["#", "query", f"run {a} ms", f"run {b} ms", "change", "status"] + (["plan / resources"] if plan else [])
    if not plan:
        table_rows = [r[:-1] for r in table_rows]
    wa, wb = doc.get("a_wall_ms"), doc.get("b_wall_ms")
    cards = [(f"run {a} wall", fig(wa, "a_wall_ms", "dur"), ""), (f"run {b} wall", fig(wb, "b_wall_ms", "dur"), ""),
             ("change", f"{(float(wb) / float(wa) - 1) * 100:+.0f}%" if wa and wb is not None else "-", "main")]
    return (f"<h2>Run {esc(a)} against run {esc(b)}</h2>" + _cards(cards)
            + '<div class="scroll">' + _table(headers, table_rows, "compare", [0, 2, 3, 4]) + "</div>")


def repeat_section(doc: Doc, base: str = "") -> str:
    runs = doc.get("runs") or []
    wall = doc.get("wall") or {}
    items = [(f"{i}" + (" cold" if i == 1 else ""), float(r.get("wall_ms") or 0),
              "#cfd8dc" if i == 1 or r.get("interrupted") else "#64b5f6") for i, r in enumerate(runs, start=1)]
    stats_rows = [["wall", "", fig(wall.get("count"), "wall/count", "int"),
                   *(fig(wall.get(k) or 0, f"wall/{k}", "ms") for k in ("min_ms", "median_ms", "p95_ms", "max_ms"))]]
    first = runs[0].get("results") if runs else []
    sql_of = {q.get("index"): str(q.get("sql") or "") for q in first or []}
    for i, q in enumerate(doc.get("queries") or []):
        stats_rows.append([esc(f"#{q.get('index')}"), _sql_td(sql_of.get(q.get("index"), ""), 60),
                           fig(q.get("count"), f"queries/{i}/count", "int"),
                           *(fig(q.get(k) or 0, f"queries/{i}/{k}", "ms") for k in ("min_ms", "median_ms", "p95_ms", "max_ms"))])
    return ("<h2>Repeats</h2>"
            + _cards([("N", fig(doc.get("n"), "n", "int"), ""), ("repetitions", fig(doc.get("reps"), "reps", "int"), ""),
                      ("median wall (warm)", fig(wall.get("median_ms"), "wall/median_ms", "dur"), "main"),
                      ("p95 wall (warm)", fig(wall.get("p95_ms"), "wall/p95_ms", "dur"), ""),
                      ("min / max wall (warm)", f"{dur(wall.get('min_ms'))} / {dur(wall.get('max_ms'))}", "")])
            + '<div class="figure">' + bars_svg(items, dur, "wall per repetition", "repeat-chart") + "</div>"
            + '<p class="small muted">Wall per repetition; the first (cold) is grey and left out of the statistics.</p>'
            + _table(["", "query", "count", "min ms", "median ms", "p95 ms", "max ms"], stats_rows, "stats", [2, 3, 4, 5, 6]))


LOAD_KNOWN = frozenset({
    "type", "n", "duration_s", "rate", "executions", "qps", "late", "latency_ms", "per_second", "histogram", "queries",
    "hosts", "started_at", "elapsed_s", "interrupted", "skipped", "errors", "errors_by_sqlstate", "retries",
    "latency_limit_ms", "lag_ms", "deadlocks_seen", "lock_waits", "deadlocks", "sessions", "samples", "mode", "client_cpu",
    "latency_per_second", "start_delay_ms", "client_bound", "error_kinds", "cpu",
})
LOAD_QUERY_KNOWN = frozenset({"index", "sql", "count", "errors", "p50_ms", "p95_ms", "p99_ms", "max_ms", "retries", "waits"})


def _percentiles_table(doc: Doc) -> str:
    """Latency (and, in an open loop, schedule lag) p50 / p95 / p99 / max, as the terminal's lines."""
    rows = []
    for key, label in (("latency_ms", "latency (ok executions)"), ("lag_ms", "schedule lag"),
                       ("start_delay_ms", "qshell's own start delay")):
        v = doc.get(key)
        if isinstance(v, dict):
            rows.append([esc(label)] + [fig(v.get(p), f"{key}/{p}", "dur") for p in ("p50", "p95", "p99", "max")])
    return _table(["", "p50", "p95", "p99", "max"], rows, "percentiles", [1, 2, 3, 4]) if rows else ""


def load_section(doc: Doc, base: str = "") -> str:
    """A sustained load: its figures, per second its throughput, errors and latency,
    latency percentiles overall and per query, errors, per host, lock waits, and whatever
    else its record carries (as tables)."""
    lat = doc.get("latency_ms") or {}
    cards: list[tuple[str, str | Cell, str]] = [
        ("N (workers)", fig(doc.get("n"), "n", "int"), ""),
        ("duration", f"{_scalar(doc.get('duration_s'))} s", ""),
        ("rate", f"{doc.get('rate')}/s" if doc.get("rate") else "closed loop", ""),
        ("executions", fig(doc.get("executions"), "executions", "count"), "main"),
        ("throughput /s", fig(doc.get("qps"), "qps", "rate"), "main"),
        ("errors", fig(doc.get("errors"), "errors", "count"), "bad" if doc.get("errors") else ""),
        ("late", fig(doc.get("late"), "late", "count"), "warn" if doc.get("late") else "")]
    if doc.get("rate"):
        cards.append(("skipped", fig(doc.get("skipped"), "skipped", "count"), "warn" if doc.get("skipped") else ""))
    if isinstance(lat, dict):
        cards += [(f"latency {k}", fig(lat.get(k), f"latency_ms/{k}", "dur"), "main" if k == "p95" else "")
                  for k in ("p50", "p95", "p99", "max") if k in lat]
    if doc.get("retries"):
        cards.append(("retries", fig(doc.get("retries"), "retries", "count"), "warn"))
    cards += [("elapsed", fig(doc.get("elapsed_s"), "elapsed_s", "s"), ""),
              ("latency limit", fig(doc.get("latency_limit_ms"), "latency_limit_ms", "dur")
               if doc.get("latency_limit_ms") is not None else "none", ""),
              ("mode", str(doc.get("mode") or ""), ""), ("samples", fig(doc.get("samples"), "samples", "int"), ""),
              ("client CPU ÷ elapsed", fig(doc.get("client_cpu"), "client_cpu", "pct"), "")]
    if doc.get("client_bound"):
        cards.append(("client-bound", "yes: the latencies include waiting for qshell", "warn"))
    out = ["<h2>Sustained load</h2>", _cards(cards)]
    if doc.get("interrupted"):
        out.append('<p class="note bad">This load was interrupted (Ctrl-C).</p>')
    out.append(_percentiles_table(doc))
    per_second = doc.get("per_second") or []
    stats = [s if isinstance(s, dict) else {} for s in doc.get("latency_per_second") or []]
    if per_second:
        values = [float(v.get("count", 0) if isinstance(v, dict) else v or 0) for v in per_second]
        errors = [float(s.get("errors") or 0) for s in stats] + [0.0] * max(0, len(values) - len(stats))
        out.append("<h3>Throughput per second</h3><div class=\"figure\">" + throughput_svg(values, errors) + "</div>"
                   '<div class="legend"><span class="key"><span class="swatch" style="background:#26a69a"></span>'
                   'executions that ended in that second</span>'
                   + ('<span class="key"><span class="swatch" style="background:#c62828"></span>of which errors</span>'
                      if any(errors) else "") + "</div>")
    if any(s.get("p50_ms") is not None for s in stats):
        series = [(name, [s.get(key) for s in stats], colour) for name, key, colour in
                  (("p50", "p50_ms", "#1e88e5"), ("p95", "p95_ms", "#e65100"), ("max", "max_ms", "#9e9e9e"))]
        out.append("<h3>Latency per second</h3><div class=\"figure\">" + lines_svg(series, "latency per second", "latency-chart")
                   + "</div>" + '<div class="legend">' + "".join(
                       f'<span class="key"><span class="swatch" style="background:{c}"></span>{esc(n)}</span>' for n, _, c in series)
                   + '</div><p class="small muted">Of the ok executions that ended in each second'
                   + (", from their scheduled start" if doc.get("rate") else "") + ".</p>")
    hist = doc.get("histogram") or []
    if hist and all(isinstance(h, dict) and "count" in h for h in hist):
        bound = styles.bound

        def bucket(h: Mapping[str, Any]) -> str:  # as the load's text
            return next((f"≤ {bound(float(v))}" for k, v in h.items() if k != "count" and isinstance(v, (int, float))), "?")
        out.append("<h3>Latency histogram</h3><div class=\"figure\">"
                   + bars_svg([(bucket(h), float(h["count"]), "#7e57c2") for h in hist], lambda v: f"{v:g}", "latency histogram",
                              "histogram-chart") + "</div>")
    queries = [q for q in doc.get("queries") or [] if isinstance(q, dict)]
    if queries:
        extra = list(dict.fromkeys(k for q in queries for k in q if k not in LOAD_QUERY_KNOWN))
        nested = [k for k in extra if any(isinstance(q.get(k), (dict, list)) for q in queries)]  # under the row
        extra = [k for k in extra if k not in nested]  # plain figures: a column each
        retried = any(q.get("retries") for q in queries)
        colours = wait_colours([{"waits": q.get("waits"), "total_ms": q.get("count")} for q in queries])
        rows = []
        for i, q in enumerate(queries):
            p = f"queries/{i}"
            rows.append([fig(q.get("index"), f"{p}/index", "int"), _sql_td(str(q.get("sql") or ""), 70),
                         fig(q.get("count"), f"{p}/count", "count"), fig(q.get("errors"), f"{p}/errors", "count"),
                         *(fig(q.get(k), f"{p}/{k}", "ms") for k in ("p50_ms", "p95_ms", "p99_ms", "max_ms"))]
                        + ([fig(q.get("retries"), f"{p}/retries", "count")] if retried else [])
                        + [_waits_cell({**q, "worker": 0}, colours, p) if q.get("waits") else ""]
                        + [fig(q.get(k), f"{p}/{k}", "num") if _is_number(q.get(k)) else Cell(_text_html(q.get(k))) for k in extra]
                        + [Under(_nested_html(q, nested, p))])
        headers = (["#", "query", "executions", "errors", "p50 ms", "p95 ms", "p99 ms", "max ms"] + (["retries"] if retried else [])
                   + ["waits"] + extra)
        out.append('<h3>Per query</h3><div class="scroll">' + _table(headers, rows, "load-queries", range(2, 8 + retried)) + "</div>")
    kinds = [k for k in doc.get("error_kinds") or [] if isinstance(k, dict)]
    states = doc.get("errors_by_sqlstate")
    if kinds:
        out.append("<h3>Errors by SQLSTATE</h3>" + _table(
            ["SQLSTATE", "count", "query", "first message"],
            [[esc(k.get("sqlstate")), fig(k.get("count"), f"error_kinds/{i}/count", "count"), esc(f"#{k.get('query')}"),
              Cell(f'<span class="msg">{esc(k.get("message"))}</span>')] for i, k in enumerate(kinds)],
            "load-errors", [1]))
    elif isinstance(states, dict) and states:
        rows = [[esc(k), fig(v, f"errors_by_sqlstate/{k}", "count")] for k, v in sorted(states.items(), key=lambda kv: -kv[1])]
        out.append("<h3>Errors by SQLSTATE</h3>" + _table(["SQLSTATE", "executions"], rows, "errors-by-sqlstate", [1]))
    hosts = doc.get("hosts") or []
    if len(hosts) > 1:  # a load over several servers
        out.append("<h3>Per host</h3>" + _table(
            ["host", "role", "executions", "errors", "p50 ms", "p95 ms", "p99 ms", "max ms"],
            [[esc(h.get("host")), "standby" if h.get("standby") else "primary", fig(h.get("executions"), f"hosts/{i}/executions", "count"),
              fig(h.get("errors"), f"hosts/{i}/errors", "count"),
              *(fig(h.get(k), f"hosts/{i}/{k}", "ms") for k in ("p50_ms", "p95_ms", "p99_ms", "max_ms"))] for i, h in enumerate(hosts)],
            "hosts", [2, 3, 4, 5, 6, 7]))
    out.append(cpu_section(doc))
    out.append(conflicts_section({**doc, "results": [{"index": q.get("index"), "sql": q.get("sql")} for q in queries]}))
    out.append(more_figures({k: v for k, v in doc.items() if k not in LOAD_KNOWN}))
    return "".join(out)
