"""\\report FILE.html: one self-contained HTML page for the last run, sweep, repeat, load
or comparison, or for runs of the run history (``\\report FILE.html RUN…``).

The page is rendered from plain dicts, the same the JSON output gives: a *run
document* is the run record (``json_lines.run_record``) with its ``results`` (the query
records of ``json_lines.query_record``, without rows), exactly as the run history stores it;
a sweep document is ``{"type": "sweep", "rows": run_series.sweep_rows(...), "runs": [run
documents]}``; a repeat document is ``run_series.repeat_record(...)`` plus its ``runs``; a
sustained load is its JSON record (``{"type": "load", ...}``); several runs of the history
``{"type": "runs", "runs": [...]}``; a comparison \\compare's record plus both ``runs``.

Each document type has a list of sections (``SECTIONS``): functions from the document
(and the path of that document inside the page's data, for a run inside a sweep) to an
HTML fragment ("" when they have nothing to show). A field the renderer does not know is
not lost: extra fields of a query record become extra columns of the per-query table (a
dict one column per key), extra fields of a run or load record a table under "more
figures"; a dict or list is always drawn as a table (:func:`value_html`), never as JSON.

Every figure is drawn with the terminal's own format (``FORMATS``) and its cell names
the record key it comes from (``data-key``, ``data-fmt``): tests/test_report.py checks
each against the JSON output. The run's sum ÷ wall is read through :func:`overlap_key`.

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
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

from qshell import __version__
from qshell.common.visible import json_text, visible
from qshell.output import json_lines, run_series, run_summary, styles
from qshell.records.results import RunResult

Doc = dict[str, Any]

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
    return styles.duration(ms / 1000)


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
    left, right, top, lane_h, bar_h = 44, 32, 14, 30, 22
    width = 900
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
        tip.append(run_summary.preview(str(q.get("sql") or ""), 200))
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


def _event_colour(colours: Mapping[str, str], event: str) -> str:
    """An event's colour in ``colours``, else its class's, lighter (an event seen only in the series)."""
    return colours.get(event) or _mix(WAIT_COLOURS.get(event.split(":", 1)[0], OTHER_COLOUR), 0.3)


def timeline_legend(doc: Doc, series: bool = False) -> str:
    """The colours of the wait events (and, under the timeline, of the statuses); under the
    waits-over-time chart (``series``) the events its spans show."""
    results = doc.get("results") or []
    colours = wait_colours(results)
    if series:
        events = dict.fromkeys(str(s.get("event")) for s in doc.get("wait_series") or [] if isinstance(s, dict))
        keys = [f'<span class="key"><span class="swatch" style="background:{_event_colour(colours, ev)}"></span>{esc(ev)}</span>'
                for ev in events]
        keys.append('<span class="key"><span class="swatch" style="border:1px solid #263238;background:#fff"></span>a query</span>')
        return '<div class="legend">' + "".join(keys) + "</div>"
    items = [f'<span class="key"><span class="swatch" style="background:{c}"></span>{esc(ev)}</span>'
             for ev, c in colours.items()]
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


def waits_svg(doc: Doc) -> str:
    """Waits over time: one lane per worker, each query an outline from its start to its
    end, inside it the sampled stretches (``wait_series``) coloured by wait event."""
    results = doc.get("results") or []
    spans = [s for s in doc.get("wait_series") or [] if isinstance(s, dict)]
    n = max(int(doc.get("n") or 0), 1 + max((int(s.get("worker") or 0) for s in spans), default=0), 1)
    wall = max(float(doc.get("wall_ms") or 0), max((float(q.get("end_ms") or 0) for q in results), default=0.0),
               max((float(s.get("end_ms") or 0) for s in spans), default=0.0), 1e-3)
    colours = wait_colours(results)
    for s in spans:
        colours[str(s.get("event"))] = _event_colour(colours, str(s.get("event")))
    left, right, top, lane_h, bar_h = 44, 32, 10, 26, 18
    width = 900
    plot_w = width - left - right
    height = top + n * lane_h + 30
    ticks, axis_max = _ticks(wall, 8)

    def x(ms: float) -> float:
        return left + ms / axis_max * plot_w

    out = [f'<svg class="waits-chart" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
           'aria-label="waits over time per worker">']
    for w in range(n):
        ly = top + w * lane_h
        out.append(f'<rect x="{left}" y="{ly}" width="{plot_w}" height="{lane_h}" fill="{"#f7f9fb" if w % 2 else "#fff"}"/>'
                   f'<text x="{left - 8}" y="{ly + lane_h / 2 + 4:.1f}" text-anchor="end" class="lane-label">w{w}</text>')
    for t in ticks:
        out.append(f'<line x1="{x(t):.1f}" x2="{x(t):.1f}" y1="{top}" y2="{top + n * lane_h + 4}" stroke="#cfd8dc"/>'
                   f'<text x="{x(t):.1f}" y="{top + n * lane_h + 18}" text-anchor="middle" class="tick">{esc(dur(t))}</text>')
    for s in spans:
        a, b = float(s.get("start_ms") or 0), float(s.get("end_ms") or 0)
        y = top + int(s.get("worker") or 0) * lane_h + (lane_h - bar_h) / 2
        ev = str(s.get("event"))
        tip = f"#{s.get('index')} · worker {s.get('worker')} · {ev} · {dur(a)} → {dur(b)}"
        out.append(f'<rect class="span" data-worker="{esc(s.get("worker"))}" data-event="{esc(ev)}" x="{x(a):.1f}" y="{y:.1f}" '
                   f'width="{max(x(b) - x(a), 1):.1f}" height="{bar_h}" fill="{colours.get(ev, OTHER_COLOUR)}">'
                   f'<title>{esc(tip)}</title></rect>')
    for q in results:
        if q.get("worker") is None:
            continue
        a, b = float(q.get("start_ms") or 0), float(q.get("end_ms") or 0)
        y = top + int(q["worker"]) * lane_h + (lane_h - bar_h) / 2
        out.append(f'<rect class="query-outline" x="{x(a):.1f}" y="{y:.1f}" width="{max(x(b) - x(a), 1):.1f}" height="{bar_h}" '
                   'fill="none" stroke="#263238" stroke-width="1" rx="2"/>')
    out.append("</svg>")
    return "".join(out)


def _wrap(text: str, width: int, lines: int) -> list[str]:
    """``text`` (one line, whitespace folded) in at most ``lines`` lines of ``width`` characters."""
    words, out, cur = " ".join(text.split()).split(" "), [], ""
    for w in words:
        if cur and len(cur) + 1 + len(w) > width:
            out.append(cur)
            cur = w
        else:
            cur = f"{cur} {w}" if cur else w
        while len(cur) > width:
            out.append(cur[:width])
            cur = cur[width:]
    if cur:
        out.append(cur)
    if len(out) > lines:
        out = out[:lines]
        out[-1] = out[-1][: width - 1] + "…"
    return out


NODE_W, NODE_H = 250, 74


def _node_lines(doc: Doc, name: str) -> tuple[str, list[str]]:
    """A lock graph node's title and its lines: a staged query's text, or an outside
    session's application, state, transaction age."""
    for q in doc.get("results") or []:
        if f"#{q.get('index')}" == name:
            bits = _wrap(str(q.get("sql") or ""), 36, 2)
            if q.get("worker") is not None:
                bits.append(f"worker {q.get('worker')} · run {dur(q.get('total_ms'))}" if q.get("total_ms") is not None
                            else f"worker {q.get('worker')}")
            return f"{name} (staged query)", bits
    s = _session_of(doc, name)
    if s is None:
        return f"{name} (another session)", ["not sampled"] if name.startswith("pid") else []
    bits = [styles.shorten(str(s.get("application_name") or "(no application name)"), 36),
            styles.shorten(str(s.get("state") or "?"), 36)]
    if s.get("xact_age_ms") is not None:
        bits.append(f"transaction open {dur(s.get('xact_age_ms'))}")
    return f"{name} (another session)", bits


def _node_svg(doc: Doc, name: str, x: float, y: float, mark: str = "") -> str:
    title, bits = _node_lines(doc, name)
    outside = not name.startswith("#")
    fill, stroke, sw = ("#fff8e1", "#f9a825", 1.5) if outside else ("#e3f2fd", "#1e88e5", 1.5)
    if mark:
        stroke, sw = "#c62828", 3
    out = [f'<g class="node{" root" if mark == "root blocker" else ""}{" victim" if mark == "victim" else ""}" data-name="{esc(name)}">'
           f'<title>{esc(title + chr(10) + chr(10).join(bits))}</title>'
           f'<rect x="{x:.1f}" y="{y:.1f}" width="{NODE_W}" height="{NODE_H}" rx="6" fill="{fill}" stroke="{stroke}" stroke-width="{sw}"/>'
           f'<text x="{x + 8:.1f}" y="{y + 16:.1f}" class="node-title">{esc(title)}</text>']
    for k, line in enumerate(bits[:3]):
        out.append(f'<text x="{x + 8:.1f}" y="{y + 32 + 14 * k:.1f}" class="node-line">{esc(line)}</text>')
    if mark:
        out.append(f'<rect x="{x + NODE_W - 96:.1f}" y="{y - 9:.1f}" width="92" height="16" rx="3" fill="#c62828"/>'
                   f'<text x="{x + NODE_W - 50:.1f}" y="{y + 3:.1f}" text-anchor="middle" class="node-mark">{esc(mark.upper())}</text>')
    out.append("</g>")
    return "".join(out)


ARROW_DEFS = ('<defs><marker id="{p}-arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8" '
              'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#455a64"/></marker></defs>')


def _label_width(lines: Sequence[str]) -> float:
    return min(max((len(s) for s in lines), default=0), 44) * 6.3 + 8


def _label(x: float, y: float, lines: list[str]) -> str:
    w = _label_width(lines)
    h = 14 * len(lines) + 4
    return (f'<rect x="{x - w / 2:.1f}" y="{y - h / 2:.1f}" width="{w:.1f}" height="{h}" rx="3" fill="#fff" fill-opacity="0.92" '
            f'stroke="#cfd8dc"/>' + "".join(f'<text x="{x:.1f}" y="{y - h / 2 + 14 * (k + 1) - 1:.1f}" text-anchor="middle" '
                                            f'class="edge-label">{esc(s)}</text>' for k, s in enumerate(lines)))


def lock_graph_svg(doc: Doc) -> str:
    """The lock-wait graph: a box per staged query or outside session, an arrow from each
    waiter to the holder of the lock it waited for, labelled with the lock's mode, its
    relation and the time seen waiting; holders on the left, each waiter one column to
    the right of what it waits for; the root blocker (holds, waits for nobody) marked."""
    waits = [w for w in doc.get("lock_waits") or [] if isinstance(w, dict)]
    edges: dict[tuple[str, str], list[str]] = {}
    for w in waits:
        on = f" on {w.get('relation')}" if w.get("relation") else ""
        edges.setdefault((str(w.get("waiter")), str(w.get("holder"))), []).append(f"{w.get('mode')}{on} · {dur(w.get('ms'))}")
    names = list(dict.fromkeys(n for pair in edges for n in pair))
    holders_of: dict[str, list[str]] = {n: [] for n in names}
    for a, b in edges:
        holders_of[a].append(b)
    level: dict[str, int] = {}

    def depth(n: str, seen: frozenset[str]) -> int:
        if n in level:
            return level[n]
        hs = [h for h in holders_of[n] if h not in seen and h != n]
        d = 0 if not hs else 1 + max(depth(h, seen | {n}) for h in hs)
        level[n] = d
        return d

    for n in names:
        depth(n, frozenset())
    roots = {n for n in names if not holders_of[n]}
    columns: dict[int, list[str]] = {}
    for n in sorted(names, key=lambda n: (level[n], n)):
        columns.setdefault(level[n], []).append(n)
    gap_x, gap_y, pad = 230, 22, 10
    rows = max(len(c) for c in columns.values())
    width = pad * 2 + len(columns) * NODE_W + (len(columns) - 1) * gap_x
    back = any(level[b] >= level[a] for a, b in edges)  # an arc under the boxes needs room
    height = pad * 2 + rows * NODE_H + (rows - 1) * gap_y + (64 if back else 0)
    pos = {n: (float(pad + lv * (NODE_W + gap_x)), pad + k * (NODE_H + gap_y) + (rows - len(col)) * (NODE_H + gap_y) / 2)
           for lv, col in columns.items() for k, n in enumerate(col)}
    out = [f'<svg class="lock-graph" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
           f'aria-label="lock graph">', ARROW_DEFS.format(p="lg")]
    labels = []
    for (a, b), texts in edges.items():
        ax, ay = pos[a]
        bx, by = pos[b]
        if bx < ax:  # the usual: the holder one or more columns to the left
            x1, y1, x2, y2 = ax, ay + NODE_H / 2, bx + NODE_W, by + NODE_H / 2
            c1, c2 = (x1 - 80, y1), (x2 + 80, y2)
            path = f"M{x1:.1f},{y1:.1f} C{c1[0]:.1f},{c1[1]:.1f} {c2[0]:.1f},{c2[1]:.1f} {x2:.1f},{y2:.1f}"
            # the label just above the arrow's tail, beside its waiter: waiters are apart, holders shared
            lx, ly = x1 - 8 - _label_width(texts[:3]) / 2, y1 - 7 * min(len(texts), 3) - 6
        else:  # a cycle, or a wait on something in the same column or to the right: an arc under the boxes
            x1, y1, x2, y2 = ax + NODE_W / 2 + 20, ay + NODE_H, bx + NODE_W / 2 - 20, by + NODE_H
            bulge = 46 + 12 * len(texts)
            bottom = max(y1, y2) + bulge
            path = f"M{x1:.1f},{y1:.1f} C{x1:.1f},{bottom:.1f} {x2:.1f},{bottom:.1f} {x2:.1f},{y2:.1f}"
            lx, ly = (x1 + x2) / 2, max(y1, y2) + bulge * 0.75
        out.append(f'<g class="edge" data-waiter="{esc(a)}" data-holder="{esc(b)}"><title>{esc(a)} waited for {esc(b)}: '
                   f'{esc("; ".join(texts))}</title><path d="{path}" fill="none" stroke="#455a64" stroke-width="1.8" '
                   'marker-end="url(#lg-arrow)"/></g>')
        labels.append(_label(lx, ly, [t[:44] for t in texts[:3]]))
    for n in names:
        out.append(_node_svg(doc, n, *pos[n], mark="root blocker" if n in roots else ""))
    out.extend(labels)
    out.append("</svg>")
    return "".join(out)


def deadlock_svg(doc: Doc, d: Mapping[str, Any], i: int) -> str:
    """One deadlock's cycle: its queries (or sessions) on a circle, an arrow from each
    waiter to the holder, labelled with the lock's mode; the victim marked."""
    cycle = [e for e in d.get("cycle") or [] if isinstance(e, dict)]
    names = list(dict.fromkeys([str(e.get("waiter")) for e in cycle] + [str(e.get("holder")) for e in cycle]))
    if not names:
        return ""
    k = len(names)
    if k <= 2:
        width, height = 2 * NODE_W + 200, NODE_H + 120
        pos = {n: (10.0 + j * (NODE_W + 180), 60.0) for j, n in enumerate(names)}
    else:
        r = 60 + 55 * k
        width, height = int(2 * r + NODE_W + 40), int(2 * r + NODE_H + 40)
        pos = {n: (r + 20 + r * math.cos(2 * math.pi * j / k - math.pi / 2),
                   r + 20 + r * math.sin(2 * math.pi * j / k - math.pi / 2)) for j, n in enumerate(names)}
    out = [f'<svg class="deadlock-graph" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
           f'aria-label="deadlock {i + 1}">', ARROW_DEFS.format(p=f"dl{i}")]
    labels = []
    for e in cycle:
        a, b = str(e.get("waiter")), str(e.get("holder"))
        (ax, ay), (bx, by) = pos[a], pos[b]
        acx, acy, bcx, bcy = ax + NODE_W / 2, ay + NODE_H / 2, bx + NODE_W / 2, by + NODE_H / 2
        dx, dy = bcx - acx, bcy - acy
        length = math.hypot(dx, dy) or 1.0
        nx, ny = -dy / length, dx / length  # each direction bends to its own side
        mx, my = (acx + bcx) / 2 + nx * 45, (acy + bcy) / 2 + ny * 45

        def edge_point(cx: float, cy: float, tx: float, ty: float) -> tuple[float, float]:
            """Where the line from a box's centre towards (tx, ty) leaves the box."""
            ddx, ddy = tx - cx, ty - cy
            s = min(NODE_W / 2 / abs(ddx) if ddx else math.inf, NODE_H / 2 / abs(ddy) if ddy else math.inf)
            return cx + ddx * s, cy + ddy * s

        x1, y1 = edge_point(acx, acy, mx, my)
        x2, y2 = edge_point(bcx, bcy, mx, my)
        out.append(f'<g class="edge" data-waiter="{esc(a)}" data-holder="{esc(b)}"><path d="M{x1:.1f},{y1:.1f} Q{mx:.1f},{my:.1f} '
                   f'{x2:.1f},{y2:.1f}" fill="none" stroke="#c62828" stroke-width="1.8" marker-end="url(#dl{i}-arrow)"/></g>')
        labels.append(_label(mx, my, [str(e.get("mode") or "?"), str(e.get("on") or "")[:44]]))
    victim = f"#{d.get('victim')}"
    for n in names:
        out.append(_node_svg(doc, n, *pos[n], mark="victim" if n == victim else ""))
    out.extend(labels)
    out.append("</svg>")
    return "".join(out)


def throughput_svg(values: Sequence[float], errors: Sequence[float]) -> str:
    """Executions per second (bars), the errors among them stacked in red."""
    width, height, left, right, top, bottom = 900, 240, 60, 16, 14, 36
    plot_w, plot_h = width - left - right, height - top - bottom
    ticks, vmax = _ticks(max(list(values) + [1e-9]), 5)
    slot = plot_w / max(len(values), 1)

    def vy(v: float) -> float:
        return top + plot_h - v / vmax * plot_h

    out = [f'<svg class="throughput-chart" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
           'aria-label="executions per second">']
    for t in ticks:
        out.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{vy(t):.1f}" y2="{vy(t):.1f}" stroke="#eceff1"/>'
                   f'<text x="{left - 6}" y="{vy(t) + 4:.1f}" text-anchor="end" class="tick">{t:g}/s</text>')
    bw = max(min(slot * 0.8, 40), 1)
    every = max(1, math.ceil(len(values) / 20))
    for i, v in enumerate(values):
        x0 = left + slot * (i + 0.5) - bw / 2
        e = errors[i] if i < len(errors) else 0
        out.append(f'<g class="bar" data-second="{i + 1}"><title>second {i + 1}: {v:g} executions, {e:g} errors</title>'
                   f'<rect x="{x0:.1f}" y="{vy(v):.1f}" width="{bw:.1f}" height="{top + plot_h - vy(v):.1f}" fill="#26a69a"/>'
                   + (f'<rect class="errors" x="{x0:.1f}" y="{vy(e):.1f}" width="{bw:.1f}" height="{top + plot_h - vy(e):.1f}" '
                      'fill="#c62828"/>' if e else "") + "</g>")
        if i % every == 0:
            out.append(f'<text x="{x0 + bw / 2:.1f}" y="{top + plot_h + 16}" text-anchor="middle" class="tick">{i + 1}</text>')
    out.append(f'<text x="{left + plot_w / 2:.1f}" y="{height - 4}" text-anchor="middle" class="tick">second of the load</text>'
               f'<line x1="{left}" x2="{left + plot_w}" y1="{top + plot_h}" y2="{top + plot_h}" stroke="#90a4ae"/></svg>')
    return "".join(out)


def lines_svg(series: Sequence[tuple[str, Sequence[float | None], str]], label: str, css: str) -> str:
    """Lines over the seconds of a load (a value per second; None: nothing ended then), a
    millisecond axis on the left."""
    width, height, left, right, top, bottom = 900, 260, 64, 16, 14, 36
    plot_w, plot_h = width - left - right, height - top - bottom
    k = max((len(v) for _, v, _ in series), default=0)
    top_v = max([float(v) for _, vs, _ in series for v in vs if v is not None] + [1e-6])
    ticks, vmax = _ticks(top_v, 5)
    slot = plot_w / max(k, 1)

    def px(i: int) -> float:
        return left + slot * (i + 0.5)

    def py(v: float) -> float:
        return top + plot_h - v / vmax * plot_h

    out = [f'<svg class="{css}" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" aria-label="{esc(label)}">']
    for t in ticks:
        out.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{py(t):.1f}" y2="{py(t):.1f}" stroke="#eceff1"/>'
                   f'<text x="{left - 6}" y="{py(t) + 4:.1f}" text-anchor="end" class="tick">{esc(dur(t))}</text>')
    every = max(1, math.ceil(k / 20))
    for i in range(0, k, every):
        out.append(f'<text x="{px(i):.1f}" y="{top + plot_h + 16}" text-anchor="middle" class="tick">{i + 1}</text>')
    for name, values, colour in series:
        pts = [(px(i), py(float(v))) for i, v in enumerate(values) if v is not None]
        if len(pts) > 1:
            out.append(f'<polyline class="line" data-series="{esc(name)}" fill="none" stroke="{colour}" stroke-width="2" points="'
                       + " ".join(f"{a:.1f},{b:.1f}" for a, b in pts) + '"/>')
        for (a, b), v in zip(pts, [v for v in values if v is not None], strict=True):
            out.append(f'<circle cx="{a:.1f}" cy="{b:.1f}" r="2.5" fill="{colour}"><title>{esc(name)}: {esc(dur(float(v)))}</title></circle>')
    out.append(f'<text x="{left + plot_w / 2:.1f}" y="{height - 4}" text-anchor="middle" class="tick">second of the load</text>'
               f'<line x1="{left}" x2="{left + plot_w}" y1="{top + plot_h}" y2="{top + plot_h}" stroke="#90a4ae"/></svg>')
    return "".join(out)


# -- figures: each shown as the terminal shows it, each cell naming where its number is --------
# A cell of a figure carries ``data-key`` (its path in the page's data block, e.g.
# ``results/2/total_ms``) and ``data-fmt`` (which of FORMATS drew it): a test reads the
# page, takes every such cell and checks it against the JSON output formatted the
# terminal's way; no number in a table without them.
FORMATS: dict[str, Callable[[Any], str]] = {
    "ms": lambda v: styles.ms(float(v) / 1000),  # 12.3 (a column headed "… ms", as the terminal's tables)
    "dur": lambda v: styles.duration(float(v) / 1000),  # 12.3 ms / 1.234 s (as the terminal's totals line)
    "s": lambda v: styles.duration(float(v)),  # a figure kept in seconds, drawn the same way
    "x": lambda v: f"{float(v):.2f}×",
    "pct": lambda v: f"{float(v) * 100:.0f}%",
    "int": lambda v: str(v),
    "count": lambda v: f"{int(v):,}",  # as the load's text: 1,234
    "num": lambda v: _num(v),
    "change": lambda v: f"{float(v) * 100:+.0f}%",  # as \\compare's column
    "rate": lambda v: _rate(v),  # a load's throughput, as its text: 839, 12.5
    "signed": lambda v: f"{float(v):+.1f}",  # a client time, as the resources line: +0.3
    "cores": lambda v: f"{float(v):.2f}",  # CPU as cores, as the CPU line: 1.57
    "compact": lambda v: _resources().compact(v),  # buffers, as the resources line: 1.2k
    "bytes": lambda v: _resources().size(v),  # WAL, as the resources line: 3.4 kB
}


def _resources():  # noqa: ANN202 - the module
    from qshell.engine import resources

    return resources


def _rate(v: Any) -> str:
    return styles.load_number(float(v))


@dataclass(frozen=True, slots=True)
class Cell:
    """A table cell: its HTML, and for a figure the path of its number and its format."""

    html: str
    key: str | None = None
    fmt: str | None = None
    num: bool = False
    css: str = ""


@dataclass(frozen=True, slots=True)
class Under:
    """The last item of a table row: HTML for a full-width row under it ('' for none)."""

    html: str


def fig(value: Any, key: str, fmt: str, css: str = "") -> Cell:
    """A figure's cell: ``value`` (the record's own number, found at ``key``) as ``fmt``
    draws it; a missing figure is an empty cell."""
    if isinstance(value, (dict, list)):  # a figure that became a record: a table, never JSON text
        return Cell(value_html(value, key), css=css)
    if value is None or isinstance(value, bool) or not isinstance(value, (int, float)):
        return Cell("" if value is None else esc(_scalar(value)), num=True, css=css)
    return Cell(esc(FORMATS[fmt](value)), key, fmt, True, css)


def _attrs(c: Cell) -> str:
    css = " ".join(x for x in ("num" if c.num else "", c.css) if x)
    out = f' class="{css}"' if css else ""
    if c.key is not None:
        out += f' data-key="{esc(c.key)}" data-fmt="{esc(c.fmt)}"'
    return out


def _cards(items: Sequence[tuple[str, Any, str]]) -> str:
    """Figure cards: (label, value — text or a figure's Cell —, extra css class)."""
    out = []
    for label, value, css in items:
        c = value if isinstance(value, Cell) else Cell(esc(value))
        key = f' data-key="{esc(c.key)}" data-fmt="{esc(c.fmt)}"' if c.key is not None else ""
        out.append(f'<div class="card {css}"><div class="label">{esc(label)}</div><div class="value"{key}>{c.html}</div></div>')
    return '<div class="cards">' + "".join(out) + "</div>"


def _table(headers: Sequence[str], rows: Iterable[Sequence[Any]], css: str = "", numeric: Iterable[int] = (),
           after: Sequence[str] | None = None) -> str:
    """An HTML table; a cell is HTML (escape it first) or a Cell. ``after``: per row, HTML
    of a full-width row under it ('' for none: an error, a plan); a row may also end with
    an :class:`Under` for the same."""
    num = set(numeric)
    head = "".join(f'<th{" class=num" if i in num else ""}>{esc(h).replace("_", "_<wbr>")}</th>' for i, h in enumerate(headers))
    body = []
    for k, r in enumerate(rows):
        under = r[-1].html if r and isinstance(r[-1], Under) else ""
        if r and isinstance(r[-1], Under):
            r = r[:-1]
        cells = []
        for i, c in enumerate(r):
            if isinstance(c, Cell):
                cells.append(f"<td{_attrs(replace(c, num=c.num or i in num))}>{c.html}</td>")
            else:
                cells.append(f'<td{" class=num" if i in num else ""}>{c}</td>')
        body.append("<tr>" + "".join(cells) + "</tr>")
        extra = (after[k] if after is not None and k < len(after) else "") + under
        if extra:
            body.append(f'<tr class="sub"><td></td><td colspan="{len(headers) - 1}">{extra}</td></tr>')
    return f'<table class="{css}"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'


def _scalar(v: Any) -> str:
    """A plain value as text (a dict or list never: :func:`value_html` draws those as tables)."""
    if v is None:
        return ""
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return _num(v)
    return str(v)


def value_html(v: Any, key: str) -> str:
    """Any value of a record as HTML: a number as a figure (``data-key``), a dict as a
    two-column table, a list of dicts as a table (a column per key), a list of plain
    values one per line. No JSON text is ever shown."""
    if isinstance(v, dict):
        if not v:
            return '<span class="muted">none</span>'
        rows = [[esc(k), Cell(value_html(x, f"{key}/{k}"))] if isinstance(x, (dict, list)) else
                [esc(k), fig(x, f"{key}/{k}", "num") if _is_number(x) else Cell(_text_html(x))] for k, x in v.items()]
        return _table(["field", "value"], rows, "kv")
    if isinstance(v, list):
        if not v:
            return '<span class="muted">none</span>'
        if all(isinstance(x, dict) for x in v):
            cols = list(dict.fromkeys(k for x in v for k in x))
            rows = [[Cell(value_html(x.get(c), f"{key}/{i}/{c}")) if isinstance(x.get(c), (dict, list)) else
                     fig(x.get(c), f"{key}/{i}/{c}", "num") if _is_number(x.get(c)) else Cell(_text_html(x.get(c)))
                     for c in cols] for i, x in enumerate(v)]
            return _table(cols, rows, "kv")
        return "".join(f"<div>{value_html(x, f'{key}/{i}')}</div>" for i, x in enumerate(v))
    if _is_number(v):
        c = fig(v, key, "num")
        return f'<span data-key="{esc(c.key)}" data-fmt="num">{c.html}</span>'
    return _text_html(v)


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _text_html(v: Any) -> str:
    """A text value: short ones as they are, long ones (a statement, a message) wrapped and
    expandable."""
    text = _scalar(v)
    if len(text) <= 120 and "\n" not in text:
        return esc(text)
    return (f'<details class="long"><summary>{esc(run_summary.preview(text, 100))}</summary>'
            f'<pre class="sql-full">{esc(text[:SQL_FULL_MAX])}</pre></details>')


def sql_cell(sql: str, width: int = 90) -> str:
    """A statement in a table: its first ``width`` characters (whitespace folded) wrapped
    in a column of reading width, and the whole text (as written, line breaks kept) on
    hover (``title``) and on click (``<details>``); a short one-line statement as it is."""
    sql = str(sql or "")
    folded = " ".join(sql.split())
    if len(folded) <= width and "\n" not in sql.strip():
        return f'<code class="sql">{esc(sql)}</code>'
    cut = f"\n… ({len(sql) - SQL_FULL_MAX} more characters)" if len(sql) > SQL_FULL_MAX else ""
    return (f'<details class="sql"><summary title="{esc(sql[:2000])}"><code class="sql">{esc(run_summary.preview(sql, width))}</code>'
            f'</summary><pre class="sql-full">{esc(sql[:SQL_FULL_MAX] + cut)}</pre></details>')


def _sql_td(sql: str, width: int = 90) -> Cell:
    return Cell(sql_cell(sql, width), css="sql")


# -- the run record's keys, read in one place ------------------------------------------------
OVERLAP_KEYS = ("overlap", "speedup")  # the run's sum ÷ wall: "speedup" in records written before it was named overlap


def overlap_key(doc: Mapping[str, Any]) -> str:
    """The key of a run record's sum ÷ wall (a sweep row's ``speedup`` is another figure:
    time at N=1 ÷ time at N)."""
    return next((k for k in OVERLAP_KEYS if k in doc), OVERLAP_KEYS[0])


# the fields of a query record the per-query table shows (or that are not per-query figures)
QUERY_KNOWN = frozenset({
    "type", "run_id", "index", "sql", "status", "worker", "pid", "command", "columns", "rowcount", "error", "sqlstate",
    "wait_ms", "exec_ms", "fetch_ms", "total_ms", "start_ms", "end_ms", "waits", "blocked_by", "notices", "detail",
    "hint", "context", "position", "slowdown", "rows", "truncated", "host", "standby", "retries",
    "resources", "plan", "workers_planned", "workers_launched", "no_resources", "no_plan",  # why_slow_section
})
RUN_KNOWN = frozenset({
    "type", "schema", "run_id", "n", "queries", "ok", "failed", "interrupted", "started_at", "wall_ms", "sum_ms",
    *OVERLAP_KEYS, "bound_ms", "efficiency", "mode", "order", "samples", "client_cpu", "client_bound", "results", "hosts",
    "fingerprint", "label", "target", "server_version", "sandbox", "number", "results_trimmed",
    "retries", "failures", "lock_waits", "deadlocks", "sessions", "wait_series",
    "resources", "workers_planned", "workers_launched",
})


def extra_columns(results: Sequence[Mapping[str, Any]]) -> list[tuple[str, str, str | None]]:
    """Columns for the query-record fields the table does not know yet (figures added
    later): (header, field, key in it): a plain field one column, a dict one column per key
    (a list goes under the row: :func:`extra_lists`)."""
    cols: list[tuple[str, str, str | None]] = []
    seen: set[str] = set()
    lists = set(extra_lists(results))
    for q in results:
        for key, value in q.items():
            if key in QUERY_KNOWN or key in lists:
                continue
            for sub in value if isinstance(value, dict) else [None]:
                name = key if sub is None else f"{key}.{sub}"
                if name not in seen:
                    seen.add(name)
                    cols.append((name, key, sub))
    return cols


def extra_lists(results: Sequence[Mapping[str, Any]]) -> list[str]:
    """The query-record fields the table does not know yet that hold lists: drawn as tables
    under the query's row."""
    return list(dict.fromkeys(k for q in results for k, v in q.items() if k not in QUERY_KNOWN and isinstance(v, list)))


def _extra_cell(q: Mapping[str, Any], key: str, sub: str | None, path: str) -> Cell:
    value = q.get(key)
    if sub is not None:
        value = value.get(sub) if isinstance(value, dict) else None
        path = f"{path}/{sub}"
    if _is_number(value):
        return fig(value, path, "num")
    return Cell(value_html(value, path) if isinstance(value, (dict, list)) else _text_html(value))


def _waits_cell(q: Mapping[str, Any], colours: Mapping[str, str], path: str) -> Cell:
    waits = q.get("waits") or []
    if not waits:
        return Cell('<span class="muted">not sampled</span>' if q.get("worker") is not None else "")
    bar = "".join(f'<span style="width:{max(float(w.get("share") or 0) * 100, 0.5):.1f}%;background:'
                  f'{colours.get(str(w.get("event")), OTHER_COLOUR)}" title="{esc(w.get("event"))} {pct(w.get("share"))}"></span>'
                  for w in waits)
    text = "".join(f'<div class="nowrap">{esc(w.get("event"))} <span data-key="{esc(path)}/waits/{i}/share" data-fmt="pct">'
                   f'{pct(w.get("share"))}</span></div>' for i, w in enumerate(waits))
    return Cell(f'<div class="waitbar">{bar}</div><div class="small">{text}</div>')


def _blocked_cell(q: Mapping[str, Any], path: str) -> Cell:
    return Cell("".join(f'<div>{esc(b.get("by"))} <span class="nowrap" data-key="{esc(path)}/blocked_by/{i}/ms" data-fmt="dur">'
                        f'{esc(dur(b.get("ms")))}</span></div>' for i, b in enumerate(q.get("blocked_by") or [])))


def _error_html(q: Mapping[str, Any]) -> str:
    """What the server said about a query (its error with SQLSTATE, DETAIL, HINT, CONTEXT)
    and its notices: for a full-width row under the query's."""
    parts = []
    if q.get("error"):
        state = f' <span class="muted">({esc(q.get("sqlstate"))})</span>' if q.get("sqlstate") else ""
        parts.append(f'<div class="error-text">{esc(q["error"])}{state}</div>')
    for label in ("detail", "hint", "context"):
        if q.get(label):
            parts.append(f'<div class="small msg"><b>{label.upper()}:</b> {esc(q[label])}</div>')
    for note in q.get("notices") or []:
        parts.append(f'<div class="small notice msg">{esc(note)}</div>')
    return "".join(parts)


def queries_table(doc: Doc, base: str = "") -> str:
    results = doc.get("results") or []
    colours = wait_colours(results)
    slow = any(q.get("slowdown") is not None for q in results)
    extra = extra_columns(results)
    lists = extra_lists(results)
    hosts = len({q.get("host") for q in results}) > 1  # a multi-host target: which server ran each
    retried = any(q.get("retries") for q in results)
    headers = ["#", "query", "worker / pid", "status", "rows", "wait ms", "run ms"] + (["× alone"] if slow else []) + \
        (["retries"] if retried else []) + ["waits", "blocked by"] + (["host"] if hosts else []) + [name for name, _, _ in extra]
    rows, after = [], []
    for k, q in enumerate(results):
        path = f"{base}results/{k}"
        status = str(q.get("status") or "")
        if status != "ok":
            rows_cell = Cell("-", num=True)
        else:  # as the terminal's summary: the row count (of a SELECT, or affected), the command tag on hover
            rows_cell = Cell(f'<span title="{esc(q.get("command"))}" data-key="{esc(path)}/rowcount" data-fmt="int">'
                             f'{esc(q.get("rowcount"))}</span>', num=True)
        row: list[str | Cell] = [
            fig(q.get("index"), f"{path}/index", "int"),
            _sql_td(str(q.get("sql") or "")),
            _worker_pid(q, path),
            f'<span class="status st-{esc(status)}">{esc(status)}</span>',
            rows_cell,
            fig(q.get("wait_ms") or 0, f"{path}/wait_ms", "ms"),
            fig(q.get("total_ms") or 0, f"{path}/total_ms", "ms"),
        ]
        if slow:
            row.append(fig(q.get("slowdown"), f"{path}/slowdown", "x"))
        if retried:
            row.append(fig(q.get("retries"), f"{path}/retries", "int"))
        row += [_waits_cell(q, colours, path), _blocked_cell(q, path)]
        if hosts:
            row.append(f'<span class="nowrap">{esc(q.get("host") or "-")} {"(standby)" if q.get("standby") else "(primary)" if q.get("host") else ""}</span>')
        row += [_extra_cell(q, key, sub, f"{path}/{key}") for _, key, sub in extra]
        rows.append(row)
        after.append(_error_html(q) + _nested_html(q, lists, path))
    return _table(headers, rows, "queries", [0, 2, 4, 5, 6] + ([7] if slow else []) + ([7 + slow] if retried else []), after)


def _worker_pid(q: Mapping[str, Any], path: str) -> Cell:
    """The worker that ran a query and, under it, its backend's pid."""
    if q.get("worker") is None:
        return Cell("-", num=True)
    pid = (f'<div class="small muted" data-key="{esc(path)}/pid" data-fmt="int">{esc(q.get("pid"))}</div>'
           if q.get("pid") else "")
    return Cell(f'<span data-key="{esc(path)}/worker" data-fmt="int">{esc(q.get("worker"))}</span>{pid}', num=True)


def _sql_of(doc: Doc, who: str) -> str:
    for q in doc.get("results") or []:
        if f"#{q.get('index')}" == who:
            return str(q.get("sql") or "")
    return ""


def _session_of(doc: Doc, who: str) -> Mapping[str, Any] | None:
    return next((s for s in doc.get("sessions") or [] if s.get("name") == who), None)


def _who_html(doc: Doc, who: str) -> str:
    """A node of the lock graph in a table: a staged query's text, or an outside session's
    application, state and transaction age."""
    sql = _sql_of(doc, who)
    if sql:
        return sql_cell(sql, 60)
    s = _session_of(doc, who)
    if s is None:
        return '<span class="muted">another session (not sampled)</span>' if who.startswith("pid") else ""
    bits = [f'<b>{esc(s.get("application_name") or "(no application name)")}</b>', esc(s.get("state") or "?")]
    if s.get("xact_age_ms") is not None:
        bits.append(f'transaction open {esc(dur(s.get("xact_age_ms")))}')
    if s.get("user"):
        bits.append(f'user {esc(s.get("user"))}')
    return " · ".join(bits)


# -- sections ----------------------------------------------------------------------------
def run_header(doc: Doc, base: str = "") -> str:
    ok = overlap_key(doc)
    cards = [
        ("N (workers)", fig(doc.get("n"), f"{base}n", "int"), ""),
        ("queries", Cell(f'<span data-key="{esc(base)}queries" data-fmt="int">{esc(doc.get("queries"))}</span>'
                         + (f' · <span data-key="{esc(base)}failed" data-fmt="int">{esc(doc.get("failed"))}</span> not ok'
                            if doc.get("failed") else "")), "bad" if doc.get("failed") else ""),
        ("mode", str(doc.get("mode") or ""), ""),
        ("order", str(doc.get("order") or ""), ""),
        ("wall", fig(doc.get("wall_ms"), f"{base}wall_ms", "dur"), "main"),
        ("sum of query times", fig(doc.get("sum_ms"), f"{base}sum_ms", "dur"), ""),
        (f"{ok} (sum ÷ wall)", fig(doc.get(ok), f"{base}{ok}", "x"), "main"),
        ("lower bound", fig(doc.get("bound_ms"), f"{base}bound_ms", "dur"), ""),
        ("efficiency (bound ÷ wall)", fig(doc.get("efficiency"), f"{base}efficiency", "pct"), "main"),
        ("samples", fig(doc.get("samples"), f"{base}samples", "int"), ""),
        ("client CPU ÷ wall", fig(doc.get("client_cpu"), f"{base}client_cpu", "pct"), ""),
        ("client-bound", "yes" if doc.get("client_bound") else "no", "warn" if doc.get("client_bound") else ""),
    ]
    if doc.get("retries"):
        cards.append(("retries", fig(doc.get("retries"), f"{base}retries", "int"), "warn"))
    notes = []
    if doc.get("client_bound"):
        notes.append(f'<p class="note warn">qshell itself was busy {pct(doc.get("client_cpu"))} of the wall (CPU-bound '
                     "client): the query times include waiting for qshell, not only for the server.</p>")
    if doc.get("interrupted"):
        notes.append('<p class="note bad">This run was interrupted (Ctrl-C): its times are not measurements.</p>')
    return _cards(cards) + "".join(notes)


def timeline_section(doc: Doc, base: str = "") -> str:
    if not doc.get("results"):
        return ""
    unstarted = [q for q in doc["results"] if q.get("worker") is None]
    names = ", ".join(f"#{q.get('index')}" for q in unstarted)
    more = f'<p class="small muted">not started: {esc(names)}</p>' if unstarted else ""
    return ('<h3>Worker timeline</h3><p class="small muted">One lane per worker; each query a bar from its start to '
            "its end, coloured by the wait event it spent most of its sampled time on (CPU: sampled running, waiting on "
            "nothing); hover a bar for its details.</p>"
            f'<div class="figure">{timeline_svg(doc, "tl-" + _slug(base + str(doc.get("run_id"))))}</div>{timeline_legend(doc)}{more}')


def waits_over_time_section(doc: Doc, base: str = "") -> str:
    spans = doc.get("wait_series") or []
    if not spans:
        return ""
    return ('<h3>Waits over time</h3><p class="small muted">What each worker\'s query was doing at each '
            "<code>pg_stat_activity</code> sample (every 20 ms): each sample colours the time since the one before; "
            "the outlines are the queries.</p>"
            f'<div class="figure">{waits_svg(doc)}</div>{timeline_legend(doc, series=True)}')


def queries_section(doc: Doc, base: str = "") -> str:
    if not doc.get("results"):
        return ""
    return f'<h3>Queries</h3><div class="scroll">{queries_table(doc, base)}</div>'


def hosts_section(doc: Doc, base: str = "") -> str:
    """The run's times per server, when its queries ran on more than one."""
    hosts = doc.get("hosts") or []
    if len(hosts) < 2:
        return ""
    rows = [[esc(h.get("host")), "standby" if h.get("standby") else "primary",
             fig(h.get("workers"), f"{base}hosts/{i}/workers", "int"), fig(h.get("queries"), f"{base}hosts/{i}/queries", "int"),
             fig(h.get("failed"), f"{base}hosts/{i}/failed", "int"), fig(h.get("sum_ms"), f"{base}hosts/{i}/sum_ms", "dur"),
             fig(h.get("mean_ms"), f"{base}hosts/{i}/mean_ms", "ms"), fig(h.get("max_ms"), f"{base}hosts/{i}/max_ms", "ms")]
            for i, h in enumerate(hosts)]
    return "<h3>Per host</h3>" + _table(["host", "role", "workers", "queries", "not ok", "sum", "mean ms", "max ms"], rows,
                                        "hosts", [2, 3, 4, 5, 6, 7])


def failures_section(doc: Doc, base: str = "") -> str:
    failures = doc.get("failures") or {}
    if not isinstance(failures, dict) or not failures:
        return ""
    if not all(_is_number(v) for v in failures.values()):
        return "<h3>Failures by SQLSTATE</h3>" + value_html(failures, f"{base}failures")
    rows = [[esc(k), fig(v, f"{base}failures/{k}", "int")] for k, v in failures.items()]
    return "<h3>Failures by SQLSTATE</h3>" + _table(["SQLSTATE", "queries"], rows, "failures", [1])


def conflicts_section(doc: Doc, base: str = "") -> str:
    """Who waited for whom (the lock graph drawn, then as a table, with the outside
    sessions described) and every deadlock."""
    waits = [w for w in doc.get("lock_waits") or [] if isinstance(w, dict)]
    deadlocks = [d for d in doc.get("deadlocks") or [] if isinstance(d, dict)]
    out = []
    if waits:
        out.append('<h3>Lock waits</h3><p class="small muted">Who waited for whom, sampled from <code>pg_stat_activity'
                   "</code>, <code>pg_blocking_pids()</code> and <code>pg_locks</code> (an arrow from the waiting query to "
                   "the lock's holder; the time is the time seen waiting). The <b>root blocker</b> holds a lock and waits "
                   "for nobody.</p>")
        out.append(f'<div class="figure">{lock_graph_svg(doc)}</div>')
        rows = []
        for i, w in enumerate(waits):
            p = f"{base}lock_waits/{i}"
            on = f' on <b>{esc(w.get("relation"))}</b>' if w.get("relation") else ""
            rows.append([Cell(f'<b>{esc(w.get("waiter"))}</b> {_who_html(doc, str(w.get("waiter")))}', css="sql"),
                         Cell(f'<b>{esc(w.get("holder"))}</b> {_who_html(doc, str(w.get("holder")))}', css="sql"),
                         f'{esc(w.get("mode"))} <span class="muted">({esc(w.get("locktype"))})</span>{on}',
                         fig(w.get("ms"), f"{p}/ms", "dur")])
        out.append('<div class="scroll">' + _table(["waiter", "holder (its query, or the session)", "lock asked for",
                                                    "time waiting"], rows, "lock-waits", [3]) + "</div>")
    sessions = [s for s in doc.get("sessions") or [] if isinstance(s, dict)]
    if sessions:
        rows = [[esc(s.get("name")), fig(s.get("pid"), f"{base}sessions/{i}/pid", "int"), esc(s.get("application_name") or ""),
                 esc(s.get("user") or ""), esc(s.get("state") or ""), fig(s.get("xact_age_ms"), f"{base}sessions/{i}/xact_age_ms", "dur")]
                for i, s in enumerate(sessions)]
        out.append('<h3>Sessions outside the run that blocked it</h3><p class="small muted">As '
                   "<code>pg_stat_activity</code> showed each while samples saw it block: the state most of them saw, "
                   "its transaction's age at the last.</p>" + _table(["name", "pid", "application", "user", "state", "transaction age"], rows,
                                             "sessions", [1, 5]))
    if deadlocks:
        seen = doc.get("deadlocks_seen")
        head = "<h3>Deadlocks</h3>"
        if isinstance(seen, int) and seen > len(deadlocks):
            head += (f'<p class="small muted">The first {len(deadlocks)} of <span data-key="{esc(base)}deadlocks_seen" '
                     f'data-fmt="int">{seen}</span> deadlocks.</p>')
        out.append(head + '<p class="small muted">Each cycle as the server\'s DETAIL gives it, its backends named by the '
                   "staged query that ran on them then; the victim is the query the server failed.</p>")
        rows = []
        graphs = []
        for i, d in enumerate(deadlocks):
            p = f"{base}deadlocks/{i}"
            edges = "".join(f'<div>{esc(e.get("waiter"))} waited for <b>{esc(e.get("mode"))}</b> on {esc(e.get("on"))}, '
                            f'held by {esc(e.get("holder"))}</div>' for e in d.get("cycle") or [] if isinstance(e, dict))
            rows.append([fig(d.get("at_ms"), f"{p}/at_ms", "dur"), esc(f'#{d.get("victim")}'),
                         esc(", ".join(str(x) for x in d.get("queries") or [])), Cell(edges, css="sql"),
                         "yes" if d.get("retried") else "no"])
            graphs.append(deadlock_svg(doc, d, i))
        out.append('<div class="scroll">' + _table(["at", "victim", "queries", "cycle", "retried"], rows, "deadlocks", [0]) + "</div>")
        out.append('<div class="figure graphs">' + "".join(graphs[:6]) + "</div>")
    return "".join(out)


def sql_section(doc: Doc, base: str = "") -> str:
    results = doc.get("results") or []
    if not results:
        return ""
    items = []
    for q in results:
        sql = str(q.get("sql") or "")
        cut = f"\n… ({len(sql) - SQL_FULL_MAX} more characters)" if len(sql) > SQL_FULL_MAX else ""
        items.append(f'<li value="{esc(q.get("index"))}"><pre class="sql-full">{esc(sql[:SQL_FULL_MAX] + cut)}</pre></li>')
    return f'<details class="sql-list"><summary>The staged SQL ({len(results)} statements)</summary><ol>{"".join(items)}</ol></details>'


def cpu_section(doc: Doc, base: str = "") -> str:
    """The CPU the run used, when its record has it (``cpu``: from /proc on the server's
    machine): its verdict, the cores the server's backends used, how busy the machine and
    other processes were, then every figure of it as a table."""
    cpu = doc.get("cpu")
    if not isinstance(cpu, dict):
        return ""
    p = f"{base}cpu"
    cards = [(label, fig(cpu.get(key), f"{p}/{key}", f), "") for label, key, f in
             (("server backends (cores)", "backends_cores", "cores"), ("machine busy", "machine_busy", "pct"),
              ("other processes", "other", "pct")) if _is_number(cpu.get(key))]
    verdict = cpu.get("verdict")
    note = f'<p class="note {"warn" if "CPU-bound at" in str(verdict) or "other processes" in str(verdict) else ""}">{esc(verdict)}</p>' \
        if verdict else ""
    rest = {k: v for k, v in cpu.items() if k != "verdict" and v is not None}
    return "<h3>CPU during the run</h3>" + note + (_cards(cards) if cards else "") + value_html(rest, p)


def more_run_figures(doc: Doc, base: str = "") -> str:
    extra = {k: v for k, v in doc.items() if k not in RUN_KNOWN and k != "cpu"}
    return more_figures(extra, base)


def more_figures(extra: Mapping[str, Any], base: str = "") -> str:
    """Fields the report has no section for yet (figures added later): each as a table;
    empty ones (null, no entries) left out."""
    extra = {k: v for k, v in extra.items() if v not in (None, [], {})}
    if not extra:
        return ""
    rows = [[esc(k), Cell(value_html(v, f"{base}{k}"))] if not _is_number(v) else [esc(k), fig(v, f"{base}{k}", "num")]
            for k, v in extra.items()]
    return "<h3>More figures</h3>" + _table(["field", "value"], rows, "kv more")


# -- why is it slow: resources (pg_stat_statements) and plans (EXPLAIN ANALYZE) per query --
def _plan_nodes(plan: Mapping[str, Any], path: str) -> str:
    """The plan's nodes as an indented list that wraps (no line wider than the page)."""
    out = []
    for i, n in enumerate(plan.get("nodes") or []):
        depth = min(int(n.get("depth") or 0), 12)
        p = f"{path}/nodes/{i}"
        workers = (f' · workers <span data-key="{esc(p)}/workers_launched" data-fmt="int">{esc(n.get("workers_launched"))}</span>/'
                   f'<span data-key="{esc(p)}/workers_planned" data-fmt="int">{esc(n.get("workers_planned"))}</span>'
                   if "workers_planned" in n else "")
        out.append(f'<li style="margin-left:{depth * 1.4:.1f}em">{"→ " if depth else ""}<b>{esc(n.get("node"))}</b> '
                   f'<span class="muted"><span data-key="{esc(p)}/ms" data-fmt="ms">{esc(FORMATS["ms"](n.get("ms") or 0))}</span> ms'
                   f' · rows <span data-key="{esc(p)}/rows" data-fmt="int">{esc(n.get("rows"))}</span>{workers}</span></li>')
    return '<ul class="plan">' + "".join(out) + "</ul>" if out else ""


def _client(q: Mapping[str, Any], r: Mapping[str, Any], path: str) -> tuple[str | Cell, str]:
    """(client ms, why unknown): the record's own figure; a record of before it was kept
    (no ``client_ms``) gives run ms minus server ms only for a query's own figures, never
    an average of a shared entry subtracted from one run's time."""
    if "client_ms" in r:
        c = r.get("client_ms")
        return (fig(c, f"{path}/client_ms", "signed"), "") if c is not None else ("?", str(r.get("client_unknown") or "unknown"))
    if r.get("calls") == 1 and r.get("shared") == 1:
        c = float(q.get("total_ms") or 0) - float(r.get("server_ms") or 0)
        if c >= 0:
            return f"{c:+.1f}", ""
    return "?", f'server time: an average of {r.get("calls")} calls, {r.get("shared")} staged on one entry'


def _pair(r: Mapping[str, Any], path: str, a: tuple[str, str], b: tuple[str, str]) -> Cell:
    """Two figures in one cell, ``a / b``."""
    def one(key: str, f: str) -> str:
        c = fig(r.get(key), f"{path}/{key}", f)
        return f'<span data-key="{esc(c.key)}" data-fmt="{esc(c.fmt)}">{c.html}</span>' if c.key else c.html
    return Cell(f'<span class="nowrap">{one(*a)} / {one(*b)}</span>', num=True)


def why_slow_section(doc: Doc, base: str = "") -> str:
    """Per query: server time beside the client's, buffers, temp, WAL (resources); the
    plan's time, workers launched of planned, and under the row its nodes (explain
    analyze); why a query has none of them, or no client time."""
    indexed = [(k, q) for k, q in enumerate(doc.get("results") or [])
               if isinstance(q.get("resources"), dict) or isinstance(q.get("plan"), dict) or q.get("no_resources") or q.get("no_plan")]
    if not indexed:
        return ""
    has_res = any(isinstance(q.get("resources"), dict) or q.get("no_resources") for _, q in indexed)
    has_plan = any(isinstance(q.get("plan"), dict) or q.get("no_plan") for _, q in indexed)
    headers = ["#", "query", "run ms"]
    if has_res:
        headers += ["server ms", "client ms", "shared hit / read", "temp written / WAL", "calls / staged"]
    if has_plan:
        headers += ["plan ms", "workers launched / planned"]
    rows, after = [], []
    for k, q in indexed:
        path = f"{base}results/{k}"
        row: list[str | Cell] = [fig(q.get("index"), f"{path}/index", "int"), _sql_td(str(q.get("sql") or ""), 60),
                                 fig(q.get("total_ms") or 0, f"{path}/total_ms", "ms")]
        missing = []
        r = q.get("resources")
        if has_res:
            if isinstance(r, dict):
                rp = f"{path}/resources"
                client, unknown = _client(q, r, rp)
                if unknown:
                    missing.append(f"client time: {unknown}")
                row += [fig(r.get("server_ms") or 0, f"{rp}/server_ms", "ms"), client,
                        _pair(r, rp, ("shared_hit", "compact"), ("shared_read", "compact")),
                        _pair(r, rp, ("temp_written", "compact"), ("wal_bytes", "bytes")),
                        _pair(r, rp, ("calls", "int"), ("shared", "int"))]
            else:
                row += ["-"] * 5
                if q.get("no_resources"):
                    missing.append(f'resources: no figures: {q.get("no_resources")}')
        p = q.get("plan")
        nodes = ""
        if has_plan:
            if isinstance(p, dict):
                planned, launched = p.get("workers_planned") or 0, p.get("workers_launched") or 0
                short = ' class="error-text"' if launched < planned else ""
                row += [fig(p.get("total_ms") or 0, f"{path}/plan/total_ms", "ms"),
                        Cell(f'<span{short}><span data-key="{esc(path)}/plan/workers_launched" data-fmt="int">{esc(launched)}</span>'
                             f' / <span data-key="{esc(path)}/plan/workers_planned" data-fmt="int">{esc(planned)}</span></span>'
                             if planned else "", num=True)]
                nodes = _plan_nodes(p, f"{path}/plan")
            else:
                row += ["-", ""]
                if q.get("no_plan"):
                    missing.append(f'plan: none: {q.get("no_plan")}')
        rows.append(row)
        why = f'<div class="small muted">missing: {esc("; ".join(missing))}</div>' if missing else ""
        after.append(why + nodes)
    numeric = [0, 2] + (list(range(3, 8)) if has_res else []) + ([len(headers) - 2, len(headers) - 1] if has_plan else [])
    notes = []
    if has_res:
        notes.append("Resources: the run's delta of <code>pg_stat_statements</code> per queryid (shared buffers found in "
                     "PostgreSQL's cache (hit) or read from the OS, temp blocks written, WAL, execution time in the "
                     "server); client ms is run ms minus server ms. Queries on one entry (same text up to constants) "
                     "share its average, and their client time is unknown (?); other sessions running it meanwhile "
                     "are counted in (calls above staged). A text of several statements, a utility statement, a "
                     "text whose table was locked while it was planned before the run get no figures: "
                     "a line under the query says why.")
    if has_plan:
        notes.append("Plans: each query ran as <code>EXPLAIN (ANALYZE, BUFFERS)</code>; its plan's nodes under its row; "
                     "workers are summed over its Gather nodes (<code>max_parallel_workers</code> is shared by every session).")
    totals = doc.get("resources")
    cards: list[tuple[str, str | Cell, str]] = []
    if isinstance(totals, dict):
        cards += [(label, fig(totals.get(key), f"{base}resources/{key}", f), "") for label, key, f in
                  (("server ms", "server_ms", "ms"), ("shared hit", "shared_hit", "compact"),
                   ("shared read", "shared_read", "compact"), ("temp written", "temp_written", "compact"),
                   ("WAL", "wal_bytes", "bytes"))]
    if doc.get("workers_planned"):
        cards.append(("workers launched / planned",
                      Cell(f'<span data-key="{esc(base)}workers_launched" data-fmt="int">{esc(doc.get("workers_launched"))}</span> / '
                           f'<span data-key="{esc(base)}workers_planned" data-fmt="int">{esc(doc.get("workers_planned"))}</span>'), ""))
    return ('<h3>Why is it slow: resources and plans</h3>' + "".join(f'<p class="small muted">{n}</p>' for n in notes)
            + (_cards(cards) if cards else "") + f'<div class="scroll">{_table(headers, rows, "why", numeric, after)}</div>')


RUN_SECTIONS: list[Callable[..., str]] = [run_header, timeline_section, waits_over_time_section, queries_section,
                                          why_slow_section, failures_section, hosts_section, conflicts_section,
                                          cpu_section, more_run_figures, sql_section]


def render_run(doc: Doc, base: str = "") -> str:
    return "".join(section(doc, base) for section in RUN_SECTIONS)


def _run_block(doc: Doc, title: str, open_: bool, base: str) -> str:
    return (f'<details class="run" {"open" if open_ else ""}><summary><h2 class="inline">{esc(title)}</h2></summary>'
            f'{render_run(doc, base)}</details>')


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


def _nested_html(q: Mapping[str, Any], keys: Sequence[str], path: str) -> str:
    """A record's fields that are records themselves (a query's first notices, …), each a
    labelled table for the full-width row under the record's; empty ones left out."""
    return "".join(f'<div class="small nested"><b>{esc(k)}</b> {value_html(q.get(k), f"{path}/{k}")}</div>'
                    for k in keys if q.get(k) not in (None, [], {}))


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


SECTIONS: dict[str, list[Callable[..., str]]] = {
    "run": [render_run],
    "sweep": [sweep_section, runs_section],
    "targets": [targets_section, runs_section],
    "repeat": [repeat_section, runs_section],
    "load": [load_section],
    "runs": [runs_list_section, runs_section],
    "compare": [compare_section, runs_section],
}

TITLES = {"run": "run", "sweep": "sweep", "targets": "sweep over targets", "repeat": "repeated run", "load": "sustained load",
          "runs": "runs", "compare": "comparison of two runs"}


def _slug(text: object) -> str:
    return "".join(c if c.isalnum() else "-" for c in str(text or "x"))[:40]


CSS = """
:root{color-scheme:light}
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans","Liberation Sans",Arial,sans-serif;
 margin:24px 32px;max-width:1400px;color:#212121;background:#fff;font-size:14px;line-height:1.4}
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
code.sql{font-family:"DejaVu Sans Mono",Menlo,Consolas,monospace;font-size:12px;white-space:pre-wrap;overflow-wrap:anywhere}
td.sql{min-width:15em;max-width:34em} details.sql>summary,details.long>summary{cursor:pointer}
details.sql[open]>summary code.sql{color:#78909c}
tr.sub>td{border-bottom:1px solid #eceff1;padding-top:0} tr:has(+tr.sub)>td{border-bottom:0}
.msg{overflow-wrap:anywhere;max-width:80em}
ul.plan{list-style:none;margin:0 0 4px;padding:0;font-size:12px} ul.plan li{padding-left:1.4em;text-indent:-1.4em;overflow-wrap:anywhere}
table.kv{margin:2px 0} table.kv td,table.kv th{padding:2px 6px;font-size:12px}
svg{max-width:100%;height:auto} .graphs{display:flex;flex-wrap:wrap;gap:12px}
svg .node-title{font-weight:600;font-size:12px;fill:#263238} svg .node-line{font-size:11px;fill:#37474f;font-family:"DejaVu Sans Mono",Menlo,Consolas,monospace}
svg .node-mark{font-size:10px;font-weight:700;fill:#fff} svg .edge-label{font-size:11px;fill:#263238}
pre.sql-full{font-family:"DejaVu Sans Mono",Menlo,Consolas,monospace;font-size:12px;background:#f5f7f8;padding:6px 8px;
 white-space:pre-wrap;word-break:break-word;margin:4px 0}
.scroll{overflow-x:auto} .small{font-size:12px} .muted{color:#78909c}
.status{padding:1px 6px;border-radius:3px;font-size:12px;font-weight:600}
.st-ok{background:#e8f5e9;color:#1b5e20} .st-error{background:#ffebee;color:#b71c1c}
.st-timeout{background:#fff3e0;color:#e65100} .st-cancelled{background:#eceff1;color:#37474f}
.error-text{color:#b71c1c;font-weight:600;overflow-wrap:anywhere}
.nowrap{white-space:nowrap} .notice{color:#6d4c41}
.waitbar{display:flex;width:120px;height:8px;border-radius:2px;overflow:hidden;background:#eceff1;margin-top:3px}
.waitbar span{display:block;height:100%}
details.run{margin:14px 0;border-top:1px solid #e0e0e0;padding-top:6px} details.run>summary{cursor:pointer}
footer{margin-top:32px;color:#90a4ae;font-size:12px}
@media print{.figure{overflow:visible}}
@media (max-width:900px){body{margin:16px 12px} td.sql{min-width:9em} th,td{padding:4px 4px} .card{min-width:90px}
 th{white-space:normal}}
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
