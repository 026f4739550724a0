"""Figures as table cells, each shown as the terminal shows it and naming where its number is in the data block."""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Callable, Iterable, Mapping, Sequence

from qshell.output import run_summary, styles
from qshell.output.report.basics import OTHER_COLOUR, SQL_FULL_MAX, Doc, _num, dur, esc, pct, wait_colours

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


def _nested_html(q: Mapping[str, Any], keys: Sequence[str], path: str) -> str:
    """A record's fields that are records themselves (a query's first notices, …), each a
    labelled table for the full-width row under the record's; empty ones left out."""
    return "".join(f'<div class="small nested"><b>{esc(k)}</b> {value_html(q.get(k), f"{path}/{k}")}</div>'
                    for k in keys if q.get(k) not in (None, [], {}))
