"""\\report FILE.html: one self-contained HTML page for the last run, sweep or repeat.

The page is rendered from plain dicts, the same the JSON output gives: a *run
document* is the run record (``render.run_record``) with its ``results`` (the query
records of ``render.query_record``, without rows), exactly as the run history stores it;
a sweep document is ``{"type": "sweep", "rows": render.sweep_rows(...), "runs": [run
documents]}``; a repeat document is ``render.repeat_record(...)`` plus its ``runs``. A
sustained load (issue 13) is ``{"type": "load", ...}`` with the fields of its JSON record.

Each document type has a list of sections (``SECTIONS``): functions from the document
to an HTML fragment ("" when they have nothing to show). A new figure appears by adding a
section; until then, a field the renderer does not know is not lost: extra fields of a
query record become extra columns of the per-query table (a dict of figures one column
per key), extra fields of a run record are listed under "more figures".

Nothing in the page reaches the network: CSS and SVG are inline, there is no script
(the data rides along in a non-executable ``application/json`` block), and a
Content-Security-Policy forbids loading anything. Every text that comes from data goes
through :func:`esc` (control characters escaped as the terminal shows them, then HTML).
"""
from __future__ import annotations

import html
import math
import os
import time
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

from . import __version__, render
from .analysis import slowdowns
from .commands import Command
from .errors import UsageError
from .host import ShellHost
from .results import RunResult
from .visible import json_text, visible

Doc = dict[str, Any]

SQL_SHORT = render.SQL_PREVIEW  # characters of SQL in the per-query table (as the terminal summary)
SQL_FULL_MAX = 20_000  # characters of one statement shown in full (the rest is counted)

# one colour per wait event class (pg_stat_activity.wait_event_type); "CPU": sampled active,
# waiting on nothing; "not sampled": the query ended between two samples
WAIT_COLOURS = {
    "CPU": "#43a047",
    "Lock": "#e53935",
    "LWLock": "#fb8c00",
    "IO": "#1e88e5",
    "Timeout": "#8e24aa",
    "IPC": "#00897b",
    "Client": "#6d4c41",
    "BufferPin": "#f4511e",
    "Activity": "#9e9d24",
    "Extension": "#d81b60",
    "InjectionPoint": "#546e7a",
}
OTHER_COLOUR = "#757575"
UNSAMPLED = "not sampled"
UNSAMPLED_COLOUR = "#b0bec5"
STATUS_STROKE = {"error": "#b71c1c", "timeout": "#e65100", "cancelled": "#37474f"}

CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'"


# -- small helpers ---------------------------------------------------------------------
def esc(value: object) -> str:
    """Text from data, safe in HTML text and in quoted attributes: control characters
    escaped as psql shows them (:func:`visible`), then ``& < > " '`` as entities."""
    return html.escape(visible("" if value is None else str(value)), quote=True)


def dur(ms: float | None) -> str:
    """Milliseconds as the terminal shows a duration: ``12.3 ms`` below a second, else ``1.234 s``."""
    if ms is None:
        return ""
    return render.duration(ms / 1000)


def pct(x: float | None) -> str:
    return "" if x is None else f"{x * 100:.0f}%"


def _num(x: float) -> str:
    return f"{x:.4g}" if isinstance(x, float) else str(x)


def _nice_step(span: float, ticks: int = 6) -> float:
    """A round step (1, 2, 2.5 or 5 × 10^k) giving about ``ticks`` ticks over ``span``."""
    if span <= 0:
        return 1.0
    raw = span / ticks
    mag = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 2.5, 5, 10):
        if raw <= m * mag:
            return m * mag
    return 10 * mag


def _ticks(top: float, ticks: int = 6) -> tuple[list[float], float]:
    """Tick values from 0 to at least ``top`` and the axis maximum."""
    step = _nice_step(top, ticks)
    n = max(1, math.ceil(top / step - 1e-9))
    return [i * step for i in range(n + 1)], n * step


def _mix(colour: str, white: float) -> str:
    """``colour`` mixed with white (0: as it is, 1: white)."""
    r, g, b = (int(colour[i:i + 2], 16) for i in (1, 3, 5))
    return "#{:02x}{:02x}{:02x}".format(*(round(c + (255 - c) * white) for c in (r, g, b)))


def _ink(colour: str) -> str:
    """Black or white text, whichever reads better on ``colour``."""
    r, g, b = (int(colour[i:i + 2], 16) for i in (1, 3, 5))
    return "#000" if 0.299 * r + 0.587 * g + 0.114 * b > 150 else "#fff"


def dominant_wait(q: Mapping[str, Any]) -> str:
    """The wait event a query spent most of its sampled time on ('CPU': on none);
    ``not sampled`` when no sample saw it running."""
    waits = q.get("waits") or []
    if not waits:
        return UNSAMPLED
    return str(max(waits, key=lambda w: w.get("share") or 0).get("event") or UNSAMPLED)


def wait_colours(queries: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    """A colour per wait event seen: its class's colour, lighter for each further event
    of the same class (the class's most common event keeps the full colour)."""
    weight: dict[str, float] = {}
    for q in queries:
        for w in q.get("waits") or []:
            ev = str(w.get("event"))
            weight[ev] = weight.get(ev, 0.0) + (w.get("share") or 0) * (q.get("total_ms") or 0)
        if not q.get("waits"):
            weight.setdefault(UNSAMPLED, 0.0)
    colours: dict[str, str] = {}
    per_class: dict[str, int] = {}
    for ev in sorted(weight, key=lambda e: (-weight[e], e)):
        if ev == UNSAMPLED:
            colours[ev] = UNSAMPLED_COLOUR
            continue
        cls = ev.split(":", 1)[0]
        k = per_class.get(cls, 0)
        per_class[cls] = k + 1
        colours[ev] = _mix(WAIT_COLOURS.get(cls, OTHER_COLOUR), min(0.6, 0.22 * k))
    return colours


# -- documents (plain dicts, as the JSON output gives) --------------------------------------
def run_doc(run: RunResult, run_id: str, slow: Mapping[int, float] | None = None) -> Doc:
    """The run record with its query records (no rows): the run history's record."""
    slow = slow or {}
    doc: Doc = render.run_record(run, run_id)
    doc["results"] = [render.query_record(q, run_id, rows=False, slowdown=slow.get(q.index)) for q in run.queries]
    return doc


def sweep_doc(runs: Sequence[RunResult], run_ids: Sequence[str], slow: Callable[[RunResult], Mapping[int, float]] | None = None) -> Doc:
    rows = render.sweep_rows(list(runs))
    for row, run_id in zip(rows, [i for r, i in zip(runs, run_ids, strict=False) if not r.interrupted], strict=False):
        row["run_id"] = run_id
    return {"type": "sweep", "rows": rows,
            "runs": [run_doc(r, i, slow(r) if slow else None) for r, i in zip(runs, run_ids, strict=False)]}


def targets_doc(series: Sequence[tuple[str, Sequence[RunResult], Sequence[str]]],
                slow: Callable[[RunResult], Mapping[int, float]] | None = None) -> Doc:
    """``\\sweep N… on TARGET…``: the table's rows (render.target_sweep_rows) and every run,
    each with its target."""
    rows = render.target_sweep_rows([(label, list(runs), list(ids)) for label, runs, ids in series])
    runs = [{**run_doc(r, i, slow(r) if slow else None), "target": label}
            for label, rs, ids in series for r, i in zip(rs, ids, strict=False)]
    return {"type": "targets", "targets": [label for label, _, _ in series], "rows": rows, "runs": runs}


def repeat_doc(runs: Sequence[RunResult], run_ids: Sequence[str], slow: Callable[[RunResult], Mapping[int, float]] | None = None) -> Doc:
    doc: Doc = render.repeat_record(list(runs), list(run_ids))
    doc["runs"] = [run_doc(r, i, slow(r) if slow else None) for r, i in zip(runs, run_ids, strict=False)]
    return doc


# -- SVG -------------------------------------------------------------------------------
STATUS_DEFS = (
    '<defs>'
    '<pattern id="{p}-error" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)">'
    '<rect width="3" height="6" fill="#b71c1c" fill-opacity="0.55"/></pattern>'
    '<pattern id="{p}-timeout" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(-45)">'
    '<rect width="3" height="6" fill="#e65100" fill-opacity="0.55"/></pattern>'
    '<pattern id="{p}-cancelled" width="6" height="6" patternUnits="userSpaceOnUse">'
    '<rect width="3" height="3" fill="#37474f" fill-opacity="0.45"/></pattern>'
    '</defs>'
)


def timeline_svg(doc: Doc, prefix: str = "tl") -> str:
    """The worker timeline: one lane per worker, each query a bar from its start to its
    end coloured by its dominant wait event; a failed, timed-out or cancelled query
    hatched and outlined; a time axis under the lanes. Each bar has a tooltip."""
    results = doc.get("results") or []
    n = max(int(doc.get("n") or 0), 1 + max((q["worker"] for q in results if q.get("worker") is not None), default=-1), 1)
    wall = max(float(doc.get("wall_ms") or 0), max((float(q.get("end_ms") or 0) for q in results), default=0.0), 1e-3)
    colours = wait_colours(results)
    left, right, top, lane_h, bar_h = 60, 24, 14, 30, 22
    width = 1100
    plot_w = width - left - right
    height = top + n * lane_h + 34
    ticks, axis_max = _ticks(wall, 8)

    def x(ms: float) -> float:
        return left + ms / axis_max * plot_w

    out = [f'<svg class="timeline" viewBox="0 0 {width} {height}" '
           f'width="{width}" height="{height}" role="img" aria-label="worker timeline">',
           STATUS_DEFS.format(p=prefix)]
    for w in range(n):
        y = top + w * lane_h
        out.append(f'<rect class="lane" x="{left}" y="{y}" width="{plot_w}" height="{lane_h}" fill="{"#f7f9fb" if w % 2 else "#fff"}"/>')
        out.append(f'<text x="{left - 8}" y="{y + lane_h / 2 + 4:.1f}" text-anchor="end" class="lane-label">w{w}</text>')
    for t in ticks:
        out.append(f'<line x1="{x(t):.1f}" x2="{x(t):.1f}" y1="{top}" y2="{top + n * lane_h + 4}" stroke="#cfd8dc" stroke-width="1"/>')
        out.append(f'<text x="{x(t):.1f}" y="{top + n * lane_h + 18}" text-anchor="middle" class="tick">{esc(dur(t))}</text>')
    wx = x(float(doc.get("wall_ms") or 0))
    out.append(f'<line class="wall-mark" x1="{wx:.1f}" x2="{wx:.1f}" y1="{top - 4}" y2="{top + n * lane_h + 4}" '
               'stroke="#263238" stroke-width="1.5" stroke-dasharray="4 3"/>')
    for q in results:
        if q.get("worker") is None:
            continue
        start, end = float(q.get("start_ms") or 0), float(q.get("end_ms") or 0)
        bx, bw = x(start), max(x(end) - x(start), 1.5)
        by = top + int(q["worker"]) * lane_h + (lane_h - bar_h) / 2
        sep = ' stroke="#fff" stroke-width="1"' if bw >= 6 else ""  # neighbours of one colour stay apart
        event = dominant_wait(q)
        fill = colours.get(event, OTHER_COLOUR)
        status = str(q.get("status") or "ok")
        tip = [f"#{q.get('index')} · worker {q.get('worker')} · {status} · run {dur(q.get('total_ms'))} "
               f"({dur(start)} → {dur(end)})"]
        if q.get("waits"):
            tip.append("waits " + ", ".join(f"{w.get('event')} {pct(w.get('share'))}" for w in q["waits"]))
        for b in q.get("blocked_by") or []:
            tip.append(f"blocked by {b.get('by')} {dur(b.get('ms'))}")
        if q.get("error"):
            tip.append(str(q["error"]))
        tip.append(render.preview(str(q.get("sql") or ""), 200))
        out.append(f'<g class="bar status-{esc(status)}" data-index="{esc(q.get("index"))}" data-wait="{esc(event)}">'
                   f'<title>{esc(chr(10).join(tip))}</title>'
                   f'<rect x="{bx:.1f}" y="{by:.1f}" width="{bw:.1f}" height="{bar_h}" rx="2" fill="{fill}"{sep}/>')
        if status != "ok":
            stroke = STATUS_STROKE.get(status, "#000")
            dash = ' stroke-dasharray="4 2"' if status == "timeout" else ' stroke-dasharray="1 2"' if status == "cancelled" else ""
            out.append(f'<rect x="{bx:.1f}" y="{by:.1f}" width="{bw:.1f}" height="{bar_h}" rx="2" '
                       f'fill="url(#{prefix}-{esc(status)})" stroke="{stroke}" stroke-width="2"{dash}/>')
        if status != "ok":  # a mark above the bar, seen however short the query was
            mx, my = bx + min(bw, 12) / 2, by - 1
            out.append(f'<path class="status-mark" d="M{mx - 4:.1f},{my - 6:.1f} L{mx + 4:.1f},{my - 6:.1f} L{mx:.1f},{my:.1f} Z" '
                       f'fill="{STATUS_STROKE.get(status, "#000")}"/>')
        label = f"#{q.get('index')}" + ("" if status == "ok" else " ✕")
        if bw >= 7.5 * len(label) + 4:
            out.append(f'<text x="{bx + 4:.1f}" y="{by + bar_h / 2 + 4:.1f}" class="bar-label" fill="{_ink(fill)}">{esc(label)}</text>')
        out.append("</g>")
    out.append("</svg>")
    return "".join(out)


def timeline_legend(doc: Doc) -> str:
    results = doc.get("results") or []
    items = [f'<span class="key"><span class="swatch" style="background:{c}"></span>{esc(ev)}</span>'
             for ev, c in wait_colours(results).items()]
    statuses = sorted({str(q.get("status")) for q in results if q.get("status") not in (None, "ok")})
    for s in statuses:
        items.append(f'<span class="key"><span class="swatch hatch-{esc(s)}"></span>{esc(s)} '
                     f'<span style="color:{STATUS_STROKE.get(s, "#000")}">▼</span></span>')
    items.append('<span class="key"><span class="swatch wall-key"></span>end of the run (wall)</span>')
    return '<div class="legend">' + "".join(items) + "</div>"


def _best_speedup(row: Mapping[str, Any]) -> float:
    """The speedup against N=1 that a wall equal to the lower bound would give."""
    wall, bound = float(row.get("wall_ms") or 0), float(row.get("bound_ms") or 0)
    return float(row.get("speedup") or 0) * wall / bound if bound > 0 else 0.0


def sweep_svg(rows: Sequence[Mapping[str, Any]]) -> str:
    """Wall (bars, left axis, with the lower bound as a dash) and speedup against N=1
    (line, right axis, with the best possible one — serial ÷ bound — dotted) for each N."""
    width, height, left, right, top, bottom = 900, 340, 70, 70, 20, 50
    plot_w, plot_h = width - left - right, height - top - bottom
    k = max(len(rows), 1)
    slot = plot_w / k
    wall_top = max([float(r.get("wall_ms") or 0) for r in rows] + [float(r.get("bound_ms") or 0) for r in rows] + [1e-3])
    wticks, wmax = _ticks(wall_top, 5)
    best = [_best_speedup(r) for r in rows]
    sp_top = max([float(r.get("speedup") or 0) for r in rows] + best + [1.0])
    sticks, smax = _ticks(sp_top, 5)

    def cx(i: int) -> float:
        return left + slot * (i + 0.5)

    def wy(v: float) -> float:
        return top + plot_h - v / wmax * plot_h

    def sy(v: float) -> float:
        return top + plot_h - min(v, smax) / smax * plot_h

    out = [f'<svg class="sweep-chart" viewBox="0 0 {width} {height}" '
           f'width="{width}" height="{height}" role="img" aria-label="wall and speedup per N">']
    for t in wticks:
        out.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{wy(t):.1f}" y2="{wy(t):.1f}" stroke="#eceff1"/>')
        out.append(f'<text x="{left - 6}" y="{wy(t) + 4:.1f}" text-anchor="end" class="tick">{esc(dur(t))}</text>')
    for t in sticks:
        out.append(f'<text x="{left + plot_w + 6}" y="{sy(t) + 4:.1f}" class="tick speedup-tick">{t:g}×</text>')
    out.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{top + plot_h}" y2="{top + plot_h}" stroke="#90a4ae"/>')
    bw = min(slot * 0.55, 90)
    points, ideal = [], []
    for i, r in enumerate(rows):
        wall, bound = float(r.get("wall_ms") or 0), float(r.get("bound_ms") or 0)
        out.append(f'<g class="sweep-bar" data-n="{esc(r.get("n"))}"><title>N={esc(r.get("n"))}: wall {esc(dur(wall))}, '
                   f'bound {esc(dur(bound))}, speedup {float(r.get("speedup") or 0):.2f}×, efficiency {esc(pct(r.get("efficiency")))}</title>'
                   f'<rect x="{cx(i) - bw / 2:.1f}" y="{wy(wall):.1f}" width="{bw:.1f}" height="{top + plot_h - wy(wall):.1f}" fill="#90caf9"/>'
                   f'<line x1="{cx(i) - bw / 2 - 4:.1f}" x2="{cx(i) + bw / 2 + 4:.1f}" y1="{wy(bound):.1f}" y2="{wy(bound):.1f}" '
                   'stroke="#0d47a1" stroke-width="2" stroke-dasharray="5 3"/></g>')
        out.append(f'<text x="{cx(i):.1f}" y="{top + plot_h + 18}" text-anchor="middle" class="tick">N={esc(r.get("n"))}</text>')
        out.append(f'<text x="{cx(i):.1f}" y="{top + plot_h + 34}" text-anchor="middle" class="tick muted">{esc(dur(wall))}</text>')
        points.append((cx(i), sy(float(r.get("speedup") or 0))))
        ideal.append((cx(i), sy(best[i])))
    if len(ideal) > 1:
        out.append('<polyline class="ideal" fill="none" stroke="#bdbdbd" stroke-width="1.5" stroke-dasharray="2 4" points="'
                   + " ".join(f"{a:.1f},{b:.1f}" for a, b in ideal) + '"/>')
    if len(points) > 1:
        out.append('<polyline class="speedup" fill="none" stroke="#e65100" stroke-width="2.5" points="'
                   + " ".join(f"{a:.1f},{b:.1f}" for a, b in points) + '"/>')
    for (a, b), r in zip(points, rows, strict=True):
        out.append(f'<circle cx="{a:.1f}" cy="{b:.1f}" r="4.5" fill="#e65100"/>'
                   f'<text x="{a + 7:.1f}" y="{b - 7:.1f}" class="point-label">{float(r.get("speedup") or 0):.2f}×</text>')
    out.append("</svg>")
    return "".join(out)


def bars_svg(items: Sequence[tuple[str, float, str]], unit: Callable[[float], str], label: str, css: str) -> str:
    """A plain bar chart: (label, value, colour) per bar, a value axis on the left."""
    width, height, left, right, top, bottom = 900, 260, 70, 20, 16, 40
    plot_w, plot_h = width - left - right, height - top - bottom
    ticks, vmax = _ticks(max([v for _, v, _ in items] + [1e-9]), 5)
    slot = plot_w / max(len(items), 1)

    def vy(v: float) -> float:
        return top + plot_h - v / vmax * plot_h

    out = [f'<svg class="{css}" viewBox="0 0 {width} {height}" '
           f'width="{width}" height="{height}" role="img" aria-label="{esc(label)}">']
    for t in ticks:
        out.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{vy(t):.1f}" y2="{vy(t):.1f}" stroke="#eceff1"/>'
                   f'<text x="{left - 6}" y="{vy(t) + 4:.1f}" text-anchor="end" class="tick">{esc(unit(t))}</text>')
    bw = min(slot * 0.7, 60)
    every = max(1, math.ceil(len(items) / 30))
    for i, (name, v, colour) in enumerate(items):
        x0 = left + slot * (i + 0.5) - bw / 2
        out.append(f'<g class="bar"><title>{esc(name)}: {esc(unit(v))}</title>'
                   f'<rect x="{x0:.1f}" y="{vy(v):.1f}" width="{bw:.1f}" height="{top + plot_h - vy(v):.1f}" fill="{colour}"/></g>')
        if i % every == 0:
            out.append(f'<text x="{x0 + bw / 2:.1f}" y="{top + plot_h + 16}" text-anchor="middle" class="tick">{esc(name)}</text>')
    out.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{top + plot_h}" y2="{top + plot_h}" stroke="#90a4ae"/></svg>')
    return "".join(out)


# -- HTML pieces -----------------------------------------------------------------------
def _cards(items: Sequence[tuple[str, str, str]]) -> str:
    """Figure cards: (label, value, extra css class)."""
    return '<div class="cards">' + "".join(
        f'<div class="card {css}"><div class="label">{esc(label)}</div><div class="value">{esc(value)}</div></div>'
        for label, value, css in items) + "</div>"


def _table(headers: Sequence[str], rows: Iterable[Sequence[str]], css: str = "", numeric: Iterable[int] = ()) -> str:
    """An HTML table; the cells are already HTML (escape them first)."""
    num = set(numeric)
    head = "".join(f'<th{" class=num" if i in num else ""}>{esc(h)}</th>' for i, h in enumerate(headers))
    body = "".join("<tr>" + "".join(f'<td{" class=num" if i in num else ""}>{c}</td>' for i, c in enumerate(r)) + "</tr>"
                   for r in rows)
    return f'<table class="{css}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _scalar(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return _num(v)
    if isinstance(v, (dict, list)):
        return render.shorten(json_text(v), 120)
    return str(v)


# the fields of a query record the per-query table shows (or that are not per-query figures)
QUERY_KNOWN = frozenset({
    "type", "run_id", "index", "sql", "status", "worker", "pid", "command", "columns", "rowcount", "error", "sqlstate",
    "wait_ms", "exec_ms", "fetch_ms", "total_ms", "start_ms", "end_ms", "waits", "blocked_by", "notices", "detail",
    "hint", "context", "position", "slowdown", "rows", "truncated", "host", "standby",
})
RUN_KNOWN = frozenset({
    "type", "schema", "run_id", "n", "queries", "ok", "failed", "interrupted", "started_at", "wall_ms", "sum_ms",
    "overlap", "bound_ms", "efficiency", "mode", "order", "samples", "client_cpu", "client_bound", "results", "hosts",
    "fingerprint", "label", "target", "server_version", "sandbox", "number", "results_trimmed",
})


def extra_columns(results: Sequence[Mapping[str, Any]]) -> list[tuple[str, str, str | None]]:
    """Columns for the query-record fields the table does not know yet (resources, plan
    figures, retries...): (header, field, key in it): a scalar field one column, a dict of
    figures one column per key."""
    cols: list[tuple[str, str, str | None]] = []
    seen: set[str] = set()
    for q in results:
        for key, value in q.items():
            if key in QUERY_KNOWN:
                continue
            for sub in value if isinstance(value, dict) else [None]:
                name = key if sub is None else f"{key}.{sub}"
                if name not in seen:
                    seen.add(name)
                    cols.append((name, key, sub))
    return cols


def _extra_value(q: Mapping[str, Any], key: str, sub: str | None) -> Any:
    value = q.get(key)
    if sub is None:
        return value
    return value.get(sub) if isinstance(value, dict) else None


def _waits_cell(q: Mapping[str, Any], colours: Mapping[str, str]) -> str:
    waits = q.get("waits") or []
    if not waits:
        return '<span class="muted">not sampled</span>' if q.get("worker") is not None else ""
    bar = "".join(f'<span style="width:{max(float(w.get("share") or 0) * 100, 0.5):.1f}%;background:'
                  f'{colours.get(str(w.get("event")), OTHER_COLOUR)}" title="{esc(w.get("event"))} {pct(w.get("share"))}"></span>'
                  for w in waits)
    text = ", ".join(f"{esc(w.get('event'))} {pct(w.get('share'))}" for w in waits)
    return f'<div class="waitbar">{bar}</div><div class="small">{text}</div>'


def _error_cell(q: Mapping[str, Any]) -> str:
    parts = []
    if q.get("error"):
        state = f' <span class="muted">({esc(q.get("sqlstate"))})</span>' if q.get("sqlstate") else ""
        parts.append(f'<div class="error-text">{esc(q["error"])}{state}</div>')
    for label in ("detail", "hint", "context"):
        if q.get(label):
            parts.append(f'<div class="small">{label.upper()}: {esc(q[label])}</div>')
    for note in q.get("notices") or []:
        parts.append(f'<div class="small notice">{esc(note)}</div>')
    return "".join(parts)


def queries_table(doc: Doc) -> str:
    results = doc.get("results") or []
    colours = wait_colours(results)
    slow = any(q.get("slowdown") is not None for q in results)
    extra = extra_columns(results)
    hosts = len({q.get("host") for q in results}) > 1  # a multi-host target: which server ran each
    headers = ["#", "query", "worker", "pid", "status", "rows", "wait ms", "run ms"] + (["× alone"] if slow else []) + \
        ["waits", "blocked by", "error"] + (["host"] if hosts else []) + [name for name, _, _ in extra]
    numeric = [0, 2, 3, 5, 6, 7] + ([8] if slow else []) + list(range(len(headers) - len(extra), len(headers)))
    rows = []
    for q in results:
        status = str(q.get("status") or "")
        if status == "ok":
            rows_cell = esc(q.get("rowcount")) if q.get("columns") else esc(q.get("command"))
        else:
            rows_cell = "-"
        sql = str(q.get("sql") or "")
        row = [
            esc(q.get("index")),
            f'<code class="sql" title="{esc(sql[:SQL_FULL_MAX])}">{esc(render.preview(sql, SQL_SHORT))}</code>',
            esc("-" if q.get("worker") is None else q.get("worker")),
            esc(q.get("pid") or "-"),
            f'<span class="status st-{esc(status)}">{esc(status)}</span>',
            rows_cell,
            f'{float(q.get("wait_ms") or 0):.1f}',
            f'{float(q.get("total_ms") or 0):.1f}',
        ]
        if slow:
            row.append(f'{q["slowdown"]:.2f}×' if q.get("slowdown") is not None else "")
        row += [
            _waits_cell(q, colours),
            "".join(f'<div class="nowrap">{esc(b.get("by"))} {esc(dur(b.get("ms")))}</div>' for b in q.get("blocked_by") or []),
            _error_cell(q),
        ]
        if hosts:
            row.append(f'<span class="nowrap">{esc(q.get("host") or "-")} {"(standby)" if q.get("standby") else "(primary)" if q.get("host") else ""}</span>')
        row += [esc(_scalar(_extra_value(q, key, sub))) for _, key, sub in extra]
        rows.append(row)
    return _table(headers, rows, "queries", numeric)


def blocking_pairs(doc: Doc) -> list[tuple[Mapping[str, Any], str, float]]:
    """(waiting query record, who blocked it, ms) for every blocking seen."""
    return [(q, str(b.get("by")), float(b.get("ms") or 0)) for q in doc.get("results") or [] for b in q.get("blocked_by") or []]


def _sql_of(doc: Doc, who: str) -> str:
    if who.startswith("#"):
        for q in doc.get("results") or []:
            if f"#{q.get('index')}" == who:
                return render.preview(str(q.get("sql") or ""), SQL_SHORT)
    return "another session" if who.startswith("pid") else ""


# -- sections ----------------------------------------------------------------------------
def run_header(doc: Doc) -> str:
    cards = [
        ("N (workers)", str(doc.get("n")), ""),
        ("queries", f"{doc.get('queries')}" + (f" · {doc.get('failed')} not ok" if doc.get("failed") else ""),
         "bad" if doc.get("failed") else ""),
        ("mode", str(doc.get("mode") or ""), ""),
        ("order", str(doc.get("order") or ""), ""),
        ("wall", dur(doc.get("wall_ms")), "main"),
        ("sum of query times", dur(doc.get("sum_ms")), ""),
        ("overlap (sum ÷ wall)", f"{float(doc.get('overlap') or 0):.2f}×", "main"),
        ("lower bound", dur(doc.get("bound_ms")), ""),
        ("efficiency (bound ÷ wall)", pct(doc.get("efficiency")), "main"),
        ("samples", str(doc.get("samples", "")), ""),
        ("client CPU ÷ wall", pct(doc.get("client_cpu")), ""),
        ("client-bound", "yes" if doc.get("client_bound") else "no", "warn" if doc.get("client_bound") else ""),
    ]
    notes = []
    if doc.get("client_bound"):
        notes.append(f'<p class="note warn">qshell itself was busy {pct(doc.get("client_cpu"))} of the wall (CPU-bound '
                     "client): the query times include waiting for qshell, not only for the server.</p>")
    if doc.get("interrupted"):
        notes.append('<p class="note bad">This run was interrupted (Ctrl-C): its times are not measurements.</p>')
    return _cards(cards) + "".join(notes)


def timeline_section(doc: Doc) -> str:
    if not doc.get("results"):
        return ""
    unstarted = [q for q in doc["results"] if q.get("worker") is None]
    names = ", ".join(f"#{q.get('index')}" for q in unstarted)
    more = f'<p class="small muted">not started: {esc(names)}</p>' if unstarted else ""
    return ('<h3>Worker timeline</h3><p class="small muted">One lane per worker; each query a bar from its start to '
            "its end, coloured by the wait event it spent most of its sampled time on (CPU: sampled running, waiting on "
            "nothing); hover a bar for its details.</p>"
            f'<div class="figure">{timeline_svg(doc, "tl-" + _slug(doc.get("run_id")))}</div>{timeline_legend(doc)}{more}')


def queries_section(doc: Doc) -> str:
    if not doc.get("results"):
        return ""
    return f'<h3>Queries</h3><div class="scroll">{queries_table(doc)}</div>'


def hosts_section(doc: Doc) -> str:
    """The run's times per server, when its queries ran on more than one."""
    hosts = doc.get("hosts") or []
    if len(hosts) < 2:
        return ""
    rows = [[esc(h.get("host")), "standby" if h.get("standby") else "primary", esc(h.get("workers")), esc(h.get("queries")),
             esc(h.get("failed") or ""), esc(dur(h.get("sum_ms"))), f'{float(h.get("mean_ms") or 0):.1f}',
             f'{float(h.get("max_ms") or 0):.1f}'] for h in hosts]
    return "<h3>Per host</h3>" + _table(["host", "role", "workers", "queries", "not ok", "sum", "mean ms", "max ms"], rows,
                                        "hosts", [2, 3, 4, 5, 6, 7])


def blocking_section(doc: Doc) -> str:
    pairs = blocking_pairs(doc)
    if not pairs:
        return ""
    rows = [[esc(f"#{q.get('index')}"), f'<code class="sql">{esc(render.preview(str(q.get("sql") or ""), SQL_SHORT))}</code>',
             esc(who), f'<code class="sql">{esc(_sql_of(doc, who))}</code>', esc(dur(t))] for q, who, t in pairs]
    return ('<h3>Blocking</h3><p class="small muted">Who waited on whom (from <code>pg_blocking_pids()</code> samples).</p>'
            + _table(["waiting", "its query", "blocked by", "blocker's query", "for"], rows, "blocking", [4]))


def sql_section(doc: Doc) -> str:
    results = doc.get("results") or []
    if not results:
        return ""
    items = []
    for q in results:
        sql = str(q.get("sql") or "")
        cut = f"\n… ({len(sql) - SQL_FULL_MAX} more characters)" if len(sql) > SQL_FULL_MAX else ""
        items.append(f'<li value="{esc(q.get("index"))}"><pre class="sql-full">{esc(sql[:SQL_FULL_MAX] + cut)}</pre></li>')
    return f'<details class="sql-list"><summary>The staged SQL ({len(results)} statements)</summary><ol>{"".join(items)}</ol></details>'


def more_run_figures(doc: Doc) -> str:
    extra = {k: v for k, v in doc.items() if k not in RUN_KNOWN}
    if not extra:
        return ""
    return "<h3>More figures</h3>" + _table(["field", "value"], [[esc(k), esc(_scalar(v))] for k, v in extra.items()], "kv")


RUN_SECTIONS: list[Callable[[Doc], str]] = [run_header, timeline_section, queries_section, hosts_section, blocking_section,
                                            more_run_figures, sql_section]


# -- why is it slow: resources (pg_stat_statements) and plans (EXPLAIN ANALYZE) per query --
WHY_QUERY_FIELDS = frozenset({"resources", "plan", "workers_planned", "workers_launched", "no_resources", "no_plan"})
QUERY_KNOWN = QUERY_KNOWN | WHY_QUERY_FIELDS  # shown by why_slow_section, not as extra columns
RUN_KNOWN = RUN_KNOWN | {"resources", "workers_planned", "workers_launched"}


def _plan_nodes(plan: Mapping[str, Any]) -> str:
    out = []
    for n in plan.get("nodes") or []:
        depth = int(n.get("depth") or 0)
        workers = (f' · workers {esc(n.get("workers_launched"))}/{esc(n.get("workers_planned"))}'
                   if "workers_planned" in n else "")
        out.append(f'<div class="small nowrap" style="padding-left:{depth * 1.2:.1f}em">{esc(n.get("node"))} '
                   f'<span class="muted">{_num(float(n.get("ms") or 0))} ms · rows {_num(float(n.get("rows") or 0))}'
                   f'{workers}</span></div>')
    return "".join(out)


def _client(q: Mapping[str, Any], r: Mapping[str, Any]) -> tuple[str, str]:
    """(client ms, why unknown): the record's own figure; a record of before it was kept
    (no ``client_ms``) gives run ms minus server ms only for a query's own figures, never
    an average of a shared entry subtracted from one run's time."""
    if "client_ms" in r:
        c = r.get("client_ms")
        return (f"{float(c):+.1f}", "") if c is not None else ("?", str(r.get("client_unknown") or "unknown"))
    if r.get("calls") == 1 and r.get("shared") == 1:
        c = float(q.get("total_ms") or 0) - float(r.get("server_ms") or 0)
        if c >= 0:
            return f"{c:+.1f}", ""
    return "?", f'server time: an average of {r.get("calls")} calls, {r.get("shared")} staged on one entry'


def why_slow_section(doc: Doc) -> str:
    """Per query: server time beside the client's, buffers, temp, WAL (resources); the
    plan's time, workers launched of planned and its top nodes (explain analyze); why a
    query has none of them, or no client time."""
    results = [q for q in doc.get("results") or [] if isinstance(q.get("resources"), dict) or isinstance(q.get("plan"), dict)
               or q.get("no_resources") or q.get("no_plan")]
    if not results:
        return ""
    has_res = any(isinstance(q.get("resources"), dict) or q.get("no_resources") for q in results)
    has_plan = any(isinstance(q.get("plan"), dict) or q.get("no_plan") for q in results)
    headers = ["#", "query", "run ms"]
    if has_res:
        headers += ["server ms", "client ms", "shared hit", "shared read", "temp written", "WAL bytes", "calls / staged"]
    if has_plan:
        headers += ["plan ms", "workers launched / planned", "top plan nodes"]
    headers.append("missing")
    rows = []
    for q in results:
        total = float(q.get("total_ms") or 0)
        sql = str(q.get("sql") or "")
        row = [esc(q.get("index")), f'<code class="sql" title="{esc(sql[:SQL_FULL_MAX])}">{esc(render.preview(sql, SQL_SHORT))}</code>',
               f"{total:.1f}"]
        missing = []
        r = q.get("resources")
        if has_res:
            if isinstance(r, dict):
                server = float(r.get("server_ms") or 0)
                client, unknown = _client(q, r)
                if unknown:
                    missing.append(f"client time: {unknown}")
                row += [f"{server:.1f}", client] + [esc(_scalar(r.get(k))) for k in
                                                    ("shared_hit", "shared_read", "temp_written", "wal_bytes")]
                row.append(esc(f'{r.get("calls")} / {r.get("shared")}'))
            else:
                row += ["-"] * 7
                if q.get("no_resources"):
                    missing.append(f'resources: no figures: {q.get("no_resources")}')
        p = q.get("plan")
        if has_plan:
            if isinstance(p, dict):
                planned, launched = p.get("workers_planned") or 0, p.get("workers_launched") or 0
                short = ' class="error-text"' if launched < planned else ""
                row += [f'{float(p.get("total_ms") or 0):.1f}',
                        f"<span{short}>{esc(launched)} / {esc(planned)}</span>" if planned else "",
                        _plan_nodes(p)]
            else:
                row += ["-", "", ""]
                if q.get("no_plan"):
                    missing.append(f'plan: none: {q.get("no_plan")}')
        row.append(f'<span class="small">{esc("; ".join(missing))}</span>')
        rows.append(row)
    numeric = [0, 2] + (list(range(3, 10)) if has_res else []) + ([len(headers) - 4, len(headers) - 3] if has_plan else [])
    notes = []
    if has_res:
        notes.append("Resources: the run's delta of <code>pg_stat_statements</code> per queryid (shared buffers found in "
                     "PostgreSQL's cache (hit) or read from the OS, temp blocks written, WAL, execution time in the "
                     "server); client ms is run ms minus server ms. Queries on one entry (same text up to constants) "
                     "share its average, and their client time is unknown (?); other sessions running it meanwhile "
                     "are counted in (calls above staged). A text of several statements, a utility statement, a "
                     "text whose table was locked while it was planned before the run get no figures: "
                     "<i>missing</i> says why.")
    if has_plan:
        notes.append("Plans: each query ran as <code>EXPLAIN (ANALYZE, BUFFERS)</code>; workers are summed over its "
                     "Gather nodes (<code>max_parallel_workers</code> is shared by every session).")
    totals = doc.get("resources")
    cards = []
    if isinstance(totals, dict):
        cards += [("server ms", _num(float(totals.get("server_ms") or 0)), ""),
                  ("shared hit", _scalar(totals.get("shared_hit")), ""), ("shared read", _scalar(totals.get("shared_read")), ""),
                  ("temp written", _scalar(totals.get("temp_written")), ""), ("WAL bytes", _scalar(totals.get("wal_bytes")), "")]
    if doc.get("workers_planned"):
        cards.append(("workers launched / planned", f'{doc.get("workers_launched")} / {doc.get("workers_planned")}', ""))
    return ('<h3>Why is it slow: resources and plans</h3>' + "".join(f'<p class="small muted">{n}</p>' for n in notes)
            + (_cards(cards) if cards else "") + f'<div class="scroll">{_table(headers, rows, "why", numeric)}</div>')


RUN_SECTIONS.insert(RUN_SECTIONS.index(queries_section) + 1, why_slow_section)


def render_run(doc: Doc) -> str:
    return "".join(section(doc) for section in RUN_SECTIONS)


def _run_block(doc: Doc, title: str, open_: bool) -> str:
    return (f'<details class="run" {"open" if open_ else ""}><summary><h2 class="inline">{esc(title)}</h2></summary>'
            f'{render_run(doc)}</details>')


def sweep_section(doc: Doc) -> str:
    rows = doc.get("rows") or []
    est = rows and rows[0].get("serial_estimated")
    table_rows = [[esc(r.get("n")), esc(dur(r.get("wall_ms"))), f'{float(r.get("speedup") or 0):.2f}×', esc(pct(r.get("efficiency"))),
                   esc(dur(r.get("bound_ms"))), esc(r.get("failed") or ""), f'<code>{esc(r.get("run_id") or "")}</code>']
                  for r in rows]
    note = ('<p class="small muted">No run at N=1: the serial time is estimated as the sum of the query times of the first run.</p>'
            if est else "")
    stopped = [r for r in doc.get("runs") or [] if r.get("interrupted")]
    if stopped:
        note += f'<p class="note bad">The sweep was interrupted at N={esc(stopped[-1].get("n"))}.</p>'
    return ("<h2>Sweep</h2>" + _cards([("Ns", " ".join(str(r.get("n")) for r in rows), ""),
                                       ("best wall", dur(min((float(r.get("wall_ms") or 0) for r in rows), default=0)), "main"),
                                       ("best speedup vs N=1", f'{max((float(r.get("speedup") or 0) for r in rows), default=0):.2f}×', "main")])
            + ('<div class="figure">' + sweep_svg(rows) + "</div>" if rows else "")
            + '<div class="legend"><span class="key"><span class="swatch" style="background:#90caf9"></span>wall</span>'
              '<span class="key"><span class="swatch dash" style="border-color:#0d47a1"></span>lower bound</span>'
              '<span class="key"><span class="swatch" style="background:#e65100"></span>speedup vs N=1 (right axis)</span>'
              '<span class="key"><span class="swatch dash" style="border-color:#bdbdbd"></span>best possible speedup (serial ÷ bound)</span></div>'
            + note
            + _table(["N", "wall", "speedup vs N=1", "efficiency", "lower bound", "not ok", "run"], table_rows, "sweep", [0, 1, 2, 3, 4, 5]))


def targets_section(doc: Doc) -> str:
    rows = doc.get("rows") or []
    table_rows = [[esc(r.get("target")), esc(r.get("n")), esc(dur(r.get("wall_ms"))),
                   f'{float(r["vs_first"]):.2f}×' if r.get("vs_first") is not None else "-",
                   f'{float(r.get("speedup") or 0):.2f}×', esc(pct(r.get("efficiency"))),
                   esc(render.servers_cell(r.get("servers") or [])),
                   esc(" / ".join(f'{h.get("host")} {h.get("queries")}' for h in r.get("servers") or [])),
                   esc(r.get("failed") or ""), f'<code>{esc(r.get("run_id") or "")}</code>'] for r in rows]
    stopped = [r for r in doc.get("runs") or [] if r.get("interrupted")]
    note = (f'<p class="note bad">The sweep was interrupted on {esc(stopped[-1].get("target"))} at N={esc(stopped[-1].get("n"))}.</p>'
            if stopped else "")
    return ("<h2>Sweep over targets</h2>"
            '<p class="small muted">The staged set at each N on each target; <em>vs first target</em> is the first'
            " target's wall at the same N ÷ this wall.</p>" + note
            + _table(["target", "N", "wall", "vs first target", "speedup vs N=1", "efficiency", "servers", "queries per server",
                      "not ok", "run"], table_rows, "targets", [1, 2, 3, 4, 5, 8]))


def runs_section(doc: Doc) -> str:
    runs = doc.get("runs") or []
    if doc.get("type") == "targets":
        titles = [f"{r.get('target')} · N={r.get('n')} · wall {dur(r.get('wall_ms'))}" for r in runs]
    elif doc.get("type") == "repeat":
        titles = [f"Repetition {i}" + (" (cold)" if i == 1 else "") + f" · N={r.get('n')} · wall {dur(r.get('wall_ms'))}"
                  for i, r in enumerate(runs, start=1)]
    else:
        titles = [f"Run at N={r.get('n')} · wall {dur(r.get('wall_ms'))}" for r in runs]
    return "".join(_run_block(r, t, open_=doc.get("type") in ("sweep", "targets") or i == len(runs) - 1)
                   for i, (r, t) in enumerate(zip(runs, titles, strict=True)))


def repeat_section(doc: Doc) -> str:
    runs = doc.get("runs") or []
    wall = doc.get("wall") or {}
    items = [(f"{i}" + (" cold" if i == 1 else ""), float(r.get("wall_ms") or 0),
              "#cfd8dc" if i == 1 or r.get("interrupted") else "#64b5f6") for i, r in enumerate(runs, start=1)]
    stats_rows = [[esc("wall"), "", esc(wall.get("count")), *(f"{float(wall.get(k) or 0):.1f}" for k in ("min_ms", "median_ms", "p95_ms", "max_ms"))]]
    first = runs[0].get("results") if runs else []
    sql_of = {q.get("index"): str(q.get("sql") or "") for q in first or []}
    for q in doc.get("queries") or []:
        stats_rows.append([esc(f"#{q.get('index')}"), f'<code class="sql">{esc(render.preview(sql_of.get(q.get("index"), ""), SQL_SHORT))}</code>',
                           esc(q.get("count")), *(f"{float(q.get(k) or 0):.1f}" for k in ("min_ms", "median_ms", "p95_ms", "max_ms"))])
    return ("<h2>Repeats</h2>"
            + _cards([("N", str(doc.get("n")), ""), ("repetitions", str(doc.get("reps")), ""),
                      ("median wall (warm)", dur(wall.get("median_ms")), "main"), ("p95 wall (warm)", dur(wall.get("p95_ms")), ""),
                      ("min / max wall (warm)", f"{dur(wall.get('min_ms'))} / {dur(wall.get('max_ms'))}", "")])
            + '<div class="figure">' + bars_svg(items, dur, "wall per repetition", "repeat-chart") + "</div>"
            + '<p class="small muted">Wall per repetition; the first (cold) is grey and left out of the statistics.</p>'
            + _table(["", "query", "count", "min ms", "median ms", "p95 ms", "max ms"], stats_rows, "stats", [2, 3, 4, 5, 6]))


def load_section(doc: Doc) -> str:
    """A sustained load (issue 13): its figures, the per-second throughput, latency
    percentiles overall and per query, and whatever else its record carries."""
    lat = doc.get("latency_ms") or {}
    cards = [("N (workers)", str(doc.get("n")), ""), ("duration", f"{_scalar(doc.get('duration_s'))} s", ""),
             ("rate", f"{doc.get('rate')}/s" if doc.get("rate") else "closed loop", ""),
             ("executions", _scalar(doc.get("executions")), "main"), ("throughput", f"{_scalar(doc.get('qps'))}/s", "main"),
             ("late", _scalar(doc.get("late")), "warn" if doc.get("late") else "")]
    cards += [(f"latency {k}", dur(lat.get(k)), "main" if k == "p95" else "") for k in ("p50", "p95", "p99", "max") if k in lat]
    from .load import fine

    for key, label in (("lag_ms", "schedule lag"), ("start_delay_ms", "qshell's start delay")):  # open loop
        cards += [(f"{label} {k}", fine(float(v)), "") for k, v in (doc.get(key) or {}).items() if k in ("p50", "p95", "p99")]
    if doc.get("client_bound"):
        cards.append(("client-bound", "yes: the latencies include waiting for qshell", "warn"))
    out = ["<h2>Sustained load</h2>", _cards(cards)]
    kinds = doc.get("error_kinds") or []
    if kinds:
        out.append("<h3>Errors by SQLSTATE</h3>" + _table(
            ["SQLSTATE", "count", "query", "first message"],
            [[esc(k.get("sqlstate")), esc(k.get("count")), esc(f"#{k.get('query')}"), esc(k.get("message"))] for k in kinds],
            "load-errors", [1]))
    per_second = doc.get("per_second") or []
    if per_second:
        values = [float(v.get("count", 0) if isinstance(v, dict) else v or 0) for v in per_second]
        out.append("<h3>Throughput per second</h3><div class=\"figure\">"
                   + bars_svg([(f"{i + 1}", v, "#26a69a") for i, v in enumerate(values)], lambda v: f"{v:g}/s",
                              "executions per second", "throughput-chart") + "</div>")
    hist = doc.get("histogram") or []
    if hist and all(isinstance(h, dict) and "count" in h for h in hist):
        def bucket(h: Mapping[str, Any]) -> str:
            return next((f"≤ {dur(float(v))}" for k, v in h.items() if k != "count" and isinstance(v, (int, float))), "?")
        out.append("<h3>Latency histogram</h3><div class=\"figure\">"
                   + bars_svg([(bucket(h), float(h["count"]), "#7e57c2") for h in hist], lambda v: f"{v:g}", "latency histogram",
                              "histogram-chart") + "</div>")
    queries = doc.get("queries") or []
    if queries:
        keys = list(dict.fromkeys(k for q in queries for k in q))
        out.append("<h3>Per query</h3>" + _table(keys, [[esc(_scalar(q.get(k))) for k in keys] for q in queries], "load-queries",
                                                 range(len(keys))))
    hosts = doc.get("hosts") or []
    if len(hosts) > 1:  # a load over several servers
        out.append("<h3>Per host</h3>" + _table(
            ["host", "role", "executions", "errors", "p50 ms", "p95 ms", "p99 ms", "max ms"],
            [[esc(h.get("host")), "standby" if h.get("standby") else "primary", esc(h.get("executions")), esc(h.get("errors")),
              *(f'{float(h.get(k) or 0):.1f}' for k in ("p50_ms", "p95_ms", "p99_ms", "max_ms"))] for h in hosts],
            "hosts", [2, 3, 4, 5, 6, 7]))
    rest = {k: v for k, v in doc.items() if k not in {"type", "n", "duration_s", "rate", "executions", "qps", "late", "latency_ms",
                                                       "per_second", "histogram", "queries", "hosts", "lag_ms",
                                                       "start_delay_ms", "client_bound", "error_kinds"}}
    if rest:
        out.append("<h3>More figures</h3>" + _table(["field", "value"], [[esc(k), esc(_scalar(v))] for k, v in rest.items()], "kv"))
    return "".join(out)


SECTIONS: dict[str, list[Callable[[Doc], str]]] = {
    "run": [render_run],
    "sweep": [sweep_section, runs_section],
    "targets": [targets_section, runs_section],
    "repeat": [repeat_section, runs_section],
    "load": [load_section],
}

TITLES = {"run": "run", "sweep": "sweep", "targets": "sweep over targets", "repeat": "repeated run", "load": "sustained load"}


def _slug(text: object) -> str:
    return "".join(c if c.isalnum() else "-" for c in str(text or "x"))[:40]


CSS = """
:root{color-scheme:light}
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans","Liberation Sans",Arial,sans-serif;
 margin:24px 32px;color:#212121;background:#fff;font-size:14px;line-height:1.4}
h1{font-size:22px;margin:0 0 4px} h2{font-size:18px;margin:28px 0 10px;border-bottom:1px solid #e0e0e0;padding-bottom:4px}
h2.inline{display:inline;border:0;font-size:17px} h3{font-size:15px;margin:20px 0 8px}
.meta{color:#546e7a;margin-bottom:16px} .meta code{color:#37474f}
.cards{display:flex;flex-wrap:wrap;gap:8px;margin:8px 0 12px}
.card{border:1px solid #e0e0e0;border-radius:6px;padding:6px 12px;min-width:110px;background:#fafafa}
.card .label{font-size:11px;color:#607d8b;text-transform:uppercase;letter-spacing:.03em}
.card .value{font-size:18px;font-weight:600;font-variant-numeric:tabular-nums}
.card.main{background:#e3f2fd;border-color:#90caf9} .card.warn{background:#fff3e0;border-color:#ffb74d}
.card.bad{background:#ffebee;border-color:#ef9a9a}
.note{padding:6px 10px;border-radius:4px} .note.warn{background:#fff3e0} .note.bad{background:#ffebee}
.figure{overflow-x:auto;margin:6px 0} svg text{font-family:inherit;font-size:12px}
svg .tick{fill:#546e7a;font-size:11px} svg .lane-label{fill:#37474f;font-weight:600}
svg .bar-label{font-size:11px;font-weight:600;pointer-events:none} svg .point-label{fill:#bf360c;font-size:11px;font-weight:600}
svg .muted{fill:#90a4ae}
.legend{display:flex;flex-wrap:wrap;gap:6px 16px;font-size:12px;margin:4px 0 8px}
.key{display:inline-flex;align-items:center;gap:5px}
.swatch{display:inline-block;width:14px;height:14px;border-radius:2px;border:1px solid rgba(0,0,0,.15)}
.swatch.dash{height:0;border:0;border-top:2px dashed;width:18px;border-radius:0}
.swatch.wall-key{height:14px;width:0;border:0;border-left:2px dashed #263238;border-radius:0}
.swatch.hatch-error{background:repeating-linear-gradient(45deg,#b71c1c 0 3px,#fff 3px 6px);border:2px solid #b71c1c}
.swatch.hatch-timeout{background:repeating-linear-gradient(-45deg,#e65100 0 3px,#fff 3px 6px);border:2px dashed #e65100}
.swatch.hatch-cancelled{background:repeating-linear-gradient(0deg,#37474f 0 2px,#fff 2px 5px);border:2px dotted #37474f}
table{border-collapse:collapse;margin:6px 0 12px;font-variant-numeric:tabular-nums}
th,td{border-bottom:1px solid #eceff1;padding:4px 8px;text-align:left;vertical-align:top}
th{background:#f5f7f8;font-weight:600;font-size:12px;color:#455a64;white-space:nowrap}
td.num,th.num{text-align:right;white-space:nowrap}
code.sql{font-family:"DejaVu Sans Mono",Menlo,Consolas,monospace;font-size:12px;white-space:pre-wrap;word-break:break-word}
table.queries code.sql{display:inline-block;max-width:250px}
pre.sql-full{font-family:"DejaVu Sans Mono",Menlo,Consolas,monospace;font-size:12px;background:#f5f7f8;padding:6px 8px;
 white-space:pre-wrap;word-break:break-word;margin:4px 0}
.scroll{overflow-x:auto} .small{font-size:12px} .muted{color:#78909c}
.status{padding:1px 6px;border-radius:3px;font-size:12px;font-weight:600}
.st-ok{background:#e8f5e9;color:#1b5e20} .st-error{background:#ffebee;color:#b71c1c}
.st-timeout{background:#fff3e0;color:#e65100} .st-cancelled{background:#eceff1;color:#37474f}
.error-text{color:#b71c1c;font-weight:600;min-width:180px}
table.queries td:nth-child(n+9){min-width:90px} .nowrap{white-space:nowrap} .notice{color:#6d4c41}
.waitbar{display:flex;width:140px;height:8px;border-radius:2px;overflow:hidden;background:#eceff1;margin-top:3px}
.waitbar span{display:block;height:100%}
details.run{margin:14px 0;border-top:1px solid #e0e0e0;padding-top:6px} details.run>summary{cursor:pointer}
footer{margin-top:32px;color:#90a4ae;font-size:12px}
@media print{.figure{overflow:visible}}
"""


def _data_block(doc: Doc) -> str:
    """The document as JSON in a non-executable block; ``<``, ``>`` and ``&`` as \\u escapes
    so no text in it can end the block."""
    text = json_text(doc)
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    text = text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    return f'<script type="application/json" id="qshell-data">{text}</script>'


def page(doc: Doc, meta: Mapping[str, Any] | None = None) -> str:
    """The whole HTML page for a document (run, sweep, repeat or load)."""
    meta = dict(meta or {})
    kind = str(doc.get("type") or "run")
    if kind not in SECTIONS:
        raise ValueError(f"no report for a {kind!r} record")
    title = f"qshell report: {TITLES.get(kind, kind)}"
    if doc.get("n") is not None:
        title += f" at N={doc.get('n')}"
    target = meta.get("target")
    made = meta.get("generated_at") or time.time()
    bits = []
    if target:
        bits.append(f"target <code>{esc(target)}</code>")
    if meta.get("server_version"):
        bits.append(f"PostgreSQL {esc(meta['server_version'])}" + (" (qshell's sandbox)" if meta.get("sandbox") else ""))
    if meta.get("command"):
        bits.append(f"<code>{esc(meta['command'])}</code>")
    started = doc.get("started_at") or next((r.get("started_at") for r in doc.get("runs") or []), None)
    if started:
        bits.append("started " + esc(time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(float(started)))))
    body = "".join(section(doc) for section in SECTIONS[kind])
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<meta name=\"generator\" content=\"qshell {esc(__version__)}\">"
        f"<title>{esc(title + (' · ' + str(target) if target else ''))}</title><style>{CSS}</style></head>"
        f'<body class="report report-{esc(kind)}"><header><h1>{esc(title)}</h1>'
        f'<div class="meta">{" · ".join(bits)}</div></header><main>{body}</main>'
        f"<footer>Written by qshell {esc(__version__)} on "
        f"{esc(time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(float(made))))}; self-contained: no script, "
        f"nothing loaded from the network.</footer>{_data_block(doc)}</body></html>\n"
    )


def write(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` whole or not at all (a temporary file beside it, renamed).

    A symbolic link is followed (the file it names is replaced, the link stays), and what
    is not a regular file — a device, a FIFO (``/dev/stdout``, ``/dev/full``) — is written
    into as it is: a rename would replace the device itself with a file."""
    import stat

    if path.is_dir():
        raise IsADirectoryError(21, "Is a directory")
    if path.is_symlink():
        path = path.resolve()
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        mode = stat.S_IFREG
    if not stat.S_ISREG(mode):
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(text)
        return
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


# -- the command -------------------------------------------------------------------------
class ReportCommands(ShellHost):
    """Mixin: ``\\report FILE.html`` for the last run, sweep or repeat of this session.

    What was last: ``self.last_run`` (set by every measured run), and, when the shell
    keeps them, ``self.last_sweep`` / ``self.last_repeat`` as ``(runs, run_ids)``: the
    sweep or repeat is reported when its last run is ``self.last_run`` (a later ``\\go``
    wins). ``self.last_load`` (a load record with ``started_at``) is reported when it
    started after the last run."""

    def _report_run_id(self, run: RunResult) -> str:
        kept = getattr(self, "last_run_id", None)  # kept by RunCommands._execute, when it keeps it
        if kept and run is getattr(self, "last_run", None):
            return str(kept)
        return f"{int(run.started_at * 1000):x}-{os.getpid():x}"  # as RunCommands._execute names it

    def _report_slow(self, run: RunResult) -> Mapping[int, float]:
        """Each query's time ÷ its time alone, as the run printed it."""
        if run.n <= 1 or run.interrupted:
            return {}
        return slowdowns(run, getattr(self, "_alone", None) or {})

    def report_doc(self) -> tuple[Doc, str] | None:
        """The document of the last thing measured and the command that made it, or None."""
        last: RunResult | None = getattr(self, "last_run", None)
        load = getattr(self, "last_load", None)
        if isinstance(load, dict) and (last is None or float(load.get("started_at") or 0) >= last.started_at):
            return load, f"\\go {load.get('n')} for {load.get('duration_s')}s" + (f" at {load['rate']}/s" if load.get("rate") else "")
        if last is None:
            return None
        series = getattr(self, "last_targets", None)  # \\sweep N… on TARGET…
        if series and series[-1][1] and series[-1][1][-1] is last:
            return (targets_doc(series, self._report_slow),
                    "\\sweep " + " ".join(str(n) for n in dict.fromkeys(r.n for _, rs, _ in series for r in rs))
                    + " on " + " ".join(label for label, _, _ in series))
        for kind in ("sweep", "repeat"):
            kept = getattr(self, f"last_{kind}", None)
            if not kept:
                continue
            runs, ids = kept
            if runs and runs[-1] is last:
                if kind == "sweep":
                    return sweep_doc(runs, ids, self._report_slow), "\\sweep " + " ".join(str(r.n) for r in runs)
                return repeat_doc(runs, ids, self._report_slow), f"\\go {runs[0].n} x{len(runs)}"
        return run_doc(last, self._report_run_id(last), self._report_slow(last)), f"\\go {last.n}"

    def do_report(self, cmd: Command) -> None:
        found = self.report_doc()
        if found is None:
            raise UsageError("\\report: nothing to report yet: no run in this session (\\go, \\sweep or \\go N xR first)")
        doc, command = found
        path = Path(cmd.arg).expanduser()
        meta = {"target": self.session.target(), "server_version": self.session.server_version,
                "sandbox": self.session.sandbox is not None, "command": command}
        text = page(doc, meta)
        try:
            write(path, text)
        except OSError as exc:
            raise UsageError(f"\\report: {path}: {exc.strerror or exc}") from None
        what = TITLES.get(str(doc.get("type")), "run")
        self.notice(f"report of the last {what} written to {path} ({len(text.encode('utf-8')):,} bytes)")

