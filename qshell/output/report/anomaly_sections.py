"""The report of an anomaly table (``{"type": "anomaly"}``, made by
``qshell.output.anomaly_table.document``): the table itself (rows = permutations, columns
= levels, the same cell text as the terminal's), then each permutation at each level drawn
as a timeline: one lane per session, each step a bar from when it was sent to the step
after which it completed (from the JSON record's ``sent_ms`` / ``completed_ms``), a step that waited on a
lock hatched, with an arrow from it to the lane of each session the server named as
blocking it (``blocked_by``: pg_blocking_pids when the step was found waiting). Left to
right the slots are the steps in the order they were sent (a step's times are in its
tooltip): milliseconds apart and seconds of waiting would not both be readable to scale.
"""
from __future__ import annotations

from typing import Any, Mapping, Sequence

from qshell.output.report.basics import Doc, esc

LANE_H, LANE_GAP, LEFT, SLOT, TOP = 28, 14, 110, 104, 10
ERROR, WAIT, OK = "#c62828", "#ef6c00", "#1565c0"


def _cell_html(rec: Mapping[str, Any]) -> str:
    lines = [esc(rec.get("outcome"))]
    for st in rec.get("steps") or []:
        if st.get("blocked_by"):
            who = ", ".join(f"{esc(s)} ({esc(t)})" if t else esc(s)
                            for s, t in zip(st.get("blocked_by") or [], st.get("blocked_by_steps") or [], strict=False))
            lines.append(f"{esc(st.get('step'))} waited for {who}")
    final = rec.get("final") or []
    if final:
        rows = " | ".join(" ".join("(" + ",".join("NULL" if v is None else str(v) for v in r) + ")" for r in t.get("rows") or [])
                          or "(no rows)" for t in final)
        lines.append("final " + esc(rows))
    if rec.get("anomaly"):
        name = rec["anomaly"]
        lines.append('<span class="status st-error">ANOMALY' + ("" if name == "anomaly" else f": {esc(name)}") + "</span>")
    elif rec.get("matches_serial"):
        lines.append(f'<span class="status st-ok">= serial {esc(rec["matches_serial"])}</span>')
    return "<br>".join(lines)


def _runs(doc: Doc) -> list[Mapping[str, Any]]:
    return [r for r in doc.get("records") or [] if isinstance(r, dict)]


def anomaly_table_section(doc: Doc) -> str:
    """The table: rows = permutations, columns = levels."""
    levels = [str(lv) for lv in doc.get("levels") or []]
    by = {(tuple(r.get("permutation") or []), r.get("level")): r for r in _runs(doc) if not r.get("serial")}
    head = "".join(f"<th>{esc(lv)}</th>" for lv in levels)
    rows = []
    for perm in doc.get("permutations") or []:
        cells = []
        for lv in levels:
            rec = by.get((tuple(perm), lv))
            cls = ' class="anomaly"' if rec and rec.get("anomaly") else ""
            cells.append(f"<td{cls}>{_cell_html(rec) if rec else 'not run'}</td>")
        rows.append(f'<tr><td><code class="sql">{esc(" ".join(perm))}</code></td>{"".join(cells)}</tr>')
    serial = []
    for r in _runs(doc):
        if r.get("serial"):
            serial.append(f"<tr><td>{esc(r.get('level'))}</td><td>{esc(' → '.join(r.get('order') or []))}</td>"
                          f"<td>{_cell_html(r)}</td></tr>")
    notes = "".join(f'<p class="note warn">{esc(w)}</p>' for w in doc.get("warnings") or [])
    n_anom = sum(1 for r in _runs(doc) if r.get("anomaly"))
    return (f'<section id="anomaly-table"><h2>Anomaly table: {esc(doc.get("spec") or "")}</h2>{notes}'
            f'<p>{n_anom} anomal{"y" if n_anom == 1 else "ies"}; final state: the {esc(doc.get("final_from") or "?")}\'s rows. '
            "A permutation is an anomaly when its final state is none of the serial orders' and no step failed that did not "
            "fail serially, or when a query read twice in one transaction gave different rows.</p>"
            f'<div class="scroll"><table class="anomaly"><tr><th>permutation</th>{head}</tr>{"".join(rows)}</table></div>'
            f'<details><summary>serial orders ({len(serial)} runs)</summary><table><tr><th>level</th><th>order</th>'
            f'<th>outcome</th></tr>{"".join(serial)}</table></details></section>')


def _slots(steps: Sequence[Mapping[str, Any]]) -> list[tuple[int, int]]:
    """Each step's (first, last) slot: slot i is the i-th step sent; a step ends in the slot of
    the last step sent before it completed (a step that never completed: the last slot)."""
    sent = [float(st.get("sent_ms") or 0) for st in steps]
    out = []
    for i, st in enumerate(steps):
        done = st.get("completed_ms")
        if done is None:
            out.append((i, len(steps) - 1))
            continue
        last = max([j for j, t in enumerate(sent) if t <= float(done)] + [i])
        out.append((i, last if st.get("waited") else i))
    return out


def timeline_svg(rec: Mapping[str, Any], sessions: list[str]) -> str:
    """One permutation at one level: a lane per session; the steps left to right in the order
    they were sent, a bar per step up to the step after which it completed (the times in its
    tooltip); arrows from a step that waited on a lock to the sessions blocking it."""
    steps = [s for s in rec.get("steps") or [] if isinstance(s, dict)]
    lanes = [s for s in sessions if any(st.get("session") == s for st in steps)]
    slot = SLOT
    width = LEFT + slot * max(len(steps), 1) + 10
    height = TOP + len(lanes) * (LANE_H + LANE_GAP) + 4
    y_of: dict[str, float] = {s: TOP + i * (LANE_H + LANE_GAP) for i, s in enumerate(lanes)}
    parts = [f'<svg class="timeline" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" role="img" aria-label="timeline of {esc(" ".join(rec.get("permutation") or []))}">',
             '<defs><pattern id="hatch" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)">'
             f'<rect width="3" height="6" fill="{WAIT}"/></pattern>'
             '<marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto">'
             '<path d="M0,0 L10,5 L0,10 z" fill="#263238"/></marker></defs>']
    for s, ly in y_of.items():
        parts.append(f'<text class="lane-label" x="4" y="{ly + LANE_H / 2 + 4}">{esc(s)}</text>'
                     f'<line x1="{LEFT}" y1="{ly + LANE_H / 2}" x2="{width - 10}" y2="{ly + LANE_H / 2}" stroke="#eceff1"/>')
    for st, (first, last) in zip(steps, _slots(steps), strict=True):
        y = y_of.get(str(st.get("session")))
        if y is None:
            continue
        x0 = LEFT + first * slot + 2
        w = (last - first + 1) * slot - 4
        colour = ERROR if st.get("sqlstate") else (WAIT if st.get("waited") else OK)
        fill = "url(#hatch)" if st.get("waited") else colour
        done = st.get("completed_ms")
        when = f"sent at {st.get('sent_ms')} ms, " + ("never completed" if done is None else f"completed at {done} ms")
        title = f"{st.get('step')}: {st.get('sql')}\n{when}" + (f"\n{st.get('sqlstate')} {st.get('error')}" if st.get("sqlstate") else "")
        ink = "#263238" if st.get("waited") else "#fff"
        label = str(st.get("step")) + (f" {st.get('sqlstate')}" if st.get("sqlstate") else "")
        parts.append(f'<g class="step" data-step="{esc(st.get("step"))}"><title>{esc(title)}</title>'
                     f'<rect x="{x0:.1f}" y="{y + 3}" width="{w:.1f}" height="{LANE_H - 6}" rx="3" fill="{fill}" stroke="{colour}"/>'
                     f'<text class="bar-label" x="{x0 + (16 if st.get("blocked_by") else 4):.1f}" y="{y + LANE_H / 2 + 4}" fill="{ink}"'
                     f'{" textLength=" + chr(34) + str(slot - 12) + chr(34) + " lengthAdjust=" + chr(34) + "spacingAndGlyphs" + chr(34) if len(label) * 6.5 > slot - 12 else ""}>'
                     f'{esc(label)}</text></g>')
        for blocker in st.get("blocked_by") or []:
            by = y_of.get(str(blocker))
            if by is None:
                continue
            ya, yb = y + LANE_H / 2, by + LANE_H / 2
            xa = x0 + 7
            parts.append(f'<line class="block-edge" data-from="{esc(st.get("step"))}" data-to="{esc(blocker)}" '
                         f'x1="{xa:.1f}" y1="{ya + (-8 if yb < ya else 8):.1f}" x2="{xa:.1f}" y2="{yb + (LANE_H / 2 - 2 if yb < ya else 2 - LANE_H / 2):.1f}" '
                         'stroke="#263238" stroke-width="1.5" marker-end="url(#arrow)"/>')
    parts.append("</svg>")
    return "".join(parts)


def timelines_section(doc: Doc) -> str:
    """Every permutation at every level as a timeline (the serial orders folded away)."""
    sessions = [str(s) for s in doc.get("sessions") or []]
    out = ['<section id="anomaly-timelines"><h2>Timelines</h2><p class="small">Left to right, the steps in the order they '
           "were sent; a bar ends where its step completed (its times in its tooltip). Hatched: it waited on a lock, the "
           "arrow points to the session the server named as blocking it (pg_blocking_pids at that moment); red: it failed.</p>"]
    for r in _runs(doc):
        if r.get("serial"):
            continue
        tag = f' <span class="status st-error">ANOMALY: {esc(r["anomaly"])}</span>' if r.get("anomaly") else ""
        out.append(f'<h3>{esc(" ".join(r.get("permutation") or []))} · {esc(r.get("level"))}{tag}</h3>'
                   f'<div class="figure">{timeline_svg(r, sessions)}</div>')
    out.append("</section>")
    return "".join(out)
