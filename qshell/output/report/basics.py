"""The report's small pieces: escaping, number formats, tick steps, the colours of wait events and statuses, the page's CSP."""
from __future__ import annotations

import html
import math
from typing import Any, Iterable, Mapping

from qshell.common.visible import visible
from qshell.output import styles

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


def _slug(text: object) -> str:
    return "".join(c if c.isalnum() else "-" for c in str(text or "x"))[:40]
