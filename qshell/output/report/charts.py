"""The report's charts, drawn as inline SVG: timelines, sweeps, bars, waits over time, lock graphs, deadlocks, load series."""
from __future__ import annotations

import math
from typing import Any, Callable, Mapping, Sequence

from qshell.output import run_summary, styles
from qshell.output.report.basics import (
    OTHER_COLOUR,
    STATUS_STROKE,
    WAIT_COLOURS,
    Doc,
    _ink,
    _mix,
    _ticks,
    dominant_wait,
    dur,
    esc,
    pct,
    wait_colours,
)
from qshell.output.report.cells import _session_of

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
