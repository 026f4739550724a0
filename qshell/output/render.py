"""Result records -> text: tables, per-query headers, the run summary, CSV, JSON lines.

Never touches the database. Values are printed exactly as the server sent them
(tabulate's number parsing is off); NULL is shown as the ``null`` setting so it
differs from an empty string.
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterator, Mapping, Sequence

from qshell.common.visible import cell_lines, expand_tabs, json_str, json_text, visible
from qshell.common.visible import width as text_width
from qshell.output import csvout
from qshell.records.results import NUMERIC_OIDS, QueryResult, RunResult, Server, ServerMessage, Status

if TYPE_CHECKING:  # pragma: no cover
    from types import ModuleType

_OWN_FORMATS = ("aligned", "csv", "json")  # drawn without tabulate (aligned) or not tables at all
_tabulate_module: "ModuleType | None" = None
_KEEP_SPACE: dict[str, bool] = {}


def _tabulate() -> "ModuleType":
    """tabulate, imported at its first use (a plain statement in the aligned format never
    needs it: -20 ms of start-up), with psql's aligned look registered as a format."""
    global _tabulate_module, _KEEP_SPACE
    if _tabulate_module is None:
        import inspect

        import tabulate as module

        # psql's look, border 1 (its default): ` a | b `, `---+---`, no outer box, as a
        # tabulate format for the summaries and listings; result tables are drawn by
        # :func:`_aligned` (continuation marks, psql's unpadded last column)
        aligned = module.TableFormat(lineabove=None, linebelowheader=module.Line("", "-", "+", ""),
                                     linebetweenrows=None, linebelow=None, headerrow=module.DataRow("", "|", ""),
                                     datarow=module.DataRow("", "|", ""), padding=1, with_header_hide=None)
        module._table_formats.setdefault("aligned", aligned)
        module.multiline_formats.setdefault("aligned", "aligned")
        if "aligned" not in module.tabulate_formats:
            module.tabulate_formats.append("aligned")
            module.tabulate_formats.sort()
        # tabulate 0.10 takes preserve_whitespace as an argument (and ignores the module global
        # PRESERVE_WHITESPACE that 0.9 reads): give it whichever this tabulate understands
        if "preserve_whitespace" in inspect.signature(module.tabulate).parameters:
            _KEEP_SPACE = {"preserve_whitespace": True}
        _tabulate_module = module
    return _tabulate_module


def tabulate(rows: Any, headers: Any = (), **kwargs: Any) -> str:
    """``tabulate.tabulate``; the summaries and listings of the default format (psql's look,
    columns aligned as given, one line per value) are drawn without importing it."""
    module = _tabulate_module
    if (kwargs.get("tablefmt") == "aligned" and kwargs.get("disable_numparse") and kwargs.get("colalign")
            and set(kwargs) == {"tablefmt", "disable_numparse", "colalign"}
            and (module is None or (module.MIN_PADDING == 2 and not module.PRESERVE_WHITESPACE))):
        text = _simple_aligned(rows, headers, kwargs["colalign"])
        if text is not None:
            return text
    return _tabulate().tabulate(rows, headers, **kwargs)


def _simple_aligned(rows: Any, headers: Any, colalign: Sequence[str]) -> str | None:
    """What tabulate draws in the "aligned" format (padding 1, its minimum padding 2 beside
    each column name, values stripped, columns aligned as given) for single-line text and
    whole numbers; None for anything else (tabulate draws it then)."""
    headers = list(headers)
    if not rows or not headers or len(colalign) != len(headers):
        return None
    table = []
    for row in rows:
        if len(row) != len(headers):
            return None
        cells = []
        for v in row:
            if v is None:
                v = ""
            elif type(v) is int:
                v = str(v)
            elif type(v) is not str:
                return None
            cells.append(v.strip())
        table.append(cells)
    if any(not isinstance(h, str) or "\n" in h or "\r" in h or "\x1b" in h for h in headers) or any(
            "\n" in c or "\r" in c or "\x1b" in c for row in table for c in row):
        return None
    widths = [text_width(h) + 2 for h in headers]
    for row in table:
        for j, cell in enumerate(row):
            w = text_width(cell)
            if w > widths[j]:
                widths[j] = w
    right = [a == "right" for a in colalign]

    def line(cells: list[str]) -> str:  # tabulate strips each line's end
        return "|".join(" " + (" " * (widths[j] - text_width(c)) + c if right[j] else c + " " * (widths[j] - text_width(c)))
                        + " " for j, c in enumerate(cells)).rstrip()

    return "\n".join([line(headers), "+".join("-" * (w + 2) for w in widths), *map(line, table)])


class _Formats(Sequence[str]):
    """Every table format name: tabulate's and qshell's own, sorted. qshell's own are
    known without importing tabulate (``--format json`` is checked for nothing)."""

    _names: tuple[str, ...] | None = None

    def _all(self) -> tuple[str, ...]:
        if self._names is None:
            self._names = tuple(sorted(set(_tabulate().tabulate_formats) | set(_OWN_FORMATS)))
        return self._names

    def __contains__(self, name: object) -> bool:
        return name in _OWN_FORMATS or name in self._all()

    def __getitem__(self, i):  # noqa: ANN001, ANN204 - as a tuple's
        return self._all()[i]

    def __len__(self) -> int:
        return len(self._all())

    def __iter__(self) -> Iterator[str]:
        return iter(self._all())

    def __repr__(self) -> str:
        return repr(self._all())


FORMATS: Sequence[str] = _Formats()
SQL_PREVIEW = 48  # characters of SQL in the summary table

JSON_SCHEMA_VERSION = 1


@dataclass(frozen=True, slots=True)
class Style:
    fmt: str = "aligned"  # psql's own table look (tabulate's "psql" is a boxed variant)
    null: str = "<null>"
    maxwidth: int = 80  # longest value shown in a table cell (JSON is never shortened)
    expanded: str = "off"  # \x: off, on, auto (expanded when the table is wider than ``width``)
    width: int = 100  # terminal width, for \x auto


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f}"


def load_number(value: float) -> str:
    """A load's count or rate: whole from 100 up (and when whole), else one decimal."""
    return f"{value:,.0f}" if value >= 100 or float(value).is_integer() else f"{value:,.1f}"


def bound(ms: float) -> str:
    """A histogram bound: 50 µs, 2 ms, 1 s (the 1-2-5 series needs no decimals)."""
    if ms < 1:
        return f"{ms * 1000:g} µs"
    return f"{ms:g} ms" if ms < 1000 else f"{ms / 1000:g} s"


def duration(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms" if seconds < 1 else f"{seconds:.3f} s"


def _rows_word(n: int) -> str:
    return "1 row" if n == 1 else f"{n} rows"


def shorten(text: str, width: int) -> str:
    """``text`` as one line of table text (control characters escaped, see :func:`visible`;
    tabs expanded to 8-column stops, as psql), cut to ``width`` columns with an ellipsis."""
    return _cut(expand_tabs(visible(text)), width)


def _cut(line: str, limit: int) -> str:
    """``line`` cut to ``limit`` display columns, its last one an ellipsis (0: no limit)."""
    if limit <= 1 or len(line) <= limit and text_width(line) <= limit:
        return line
    if line.isascii():
        return line[: limit - 1] + "…"
    out, used = [], 0
    for c in line:
        w = text_width(c)
        if used + w > limit - 1:
            break
        out.append(c)
        used += w
    return "".join(out) + "…"


def _cell(value: str | None, style: Style) -> str:
    """A value as table text: every line escaped, tab-expanded and cut to ``maxwidth``
    on its own (a long multi-line value keeps all its lines); NULL as the ``null`` setting."""
    if value is None:
        return "\n".join(cell_lines(style.null))
    return "\n".join(_cut(line, style.maxwidth) for line in cell_lines(value))


# psql's column_type_alignment() (src/fe_utils/print.c) right-aligns exactly these types
ALIGN_RIGHT = NUMERIC_OIDS


@contextmanager
def _faithful():
    """tabulate with nothing stripped (``PRESERVE_WHITESPACE``) and columns exactly as wide
    as their widest line or name (``MIN_PADDING`` 0), as psql; restored afterwards (module
    globals: no greenlet can run in between, tabulate never yields)."""
    module = _tabulate()
    saved = module.PRESERVE_WHITESPACE, module.MIN_PADDING
    module.PRESERVE_WHITESPACE, module.MIN_PADDING = True, 0
    try:
        yield
    finally:
        module.PRESERVE_WHITESPACE, module.MIN_PADDING = saved


def _aligned_header(names: list[list[str]], widths: list[int]) -> str:
    """The column names, centered; a name's further lines under it, `+` after the line
    before (psql's header_nl_right)."""
    out = []
    for i in range(max(len(n) for n in names)):
        parts = []
        for lines, w in zip(names, widths, strict=True):
            if i < len(lines):
                room = w - text_width(lines[i])
                parts.append(" " + " " * (room // 2) + lines[i] + " " * (room - room // 2)
                             + ("+" if i < len(lines) - 1 else " "))
            else:
                parts.append(" " * (w + 2))
        out.append("|".join(parts))
    return "\n".join(out)


def _aligned(headers: list[str], rows: list[list[str]], align: list[str]) -> str:
    """psql's aligned table (border 1): each value's lines become printed lines of their
    own, `+` after a line that goes on; the last column unpadded unless a `+` follows;
    every column as wide as its widest line or name (display columns: wide characters 2)."""
    if not headers:  # a result without columns: psql prints a rule of two dashes, no header
        return "--"
    names = [h.split("\n") for h in headers]
    widths = [max(map(text_width, n)) for n in names]
    table = []
    for row in rows:
        split = [cell.split("\n") for cell in row]
        for j, lines in enumerate(split):
            w = max(map(text_width, lines))
            if w > widths[j]:
                widths[j] = w
        table.append(split)
    out = [_aligned_header(names, widths), "+".join("-" * (w + 2) for w in widths)]
    last = len(headers) - 1
    right = [a == "right" for a in align]
    for split in table:
        for i in range(max(map(len, split))):
            parts = []
            for j, lines in enumerate(split):
                if i >= len(lines):  # this value had fewer lines
                    parts.append(" " if j == last else " " * (widths[j] + 2))
                    continue
                text = lines[i]
                goes_on = i < len(lines) - 1
                pad = " " * (widths[j] - text_width(text))
                if right[j]:
                    text = pad + text
                elif j != last or goes_on:  # psql pads the last column only before a `+`
                    text += pad
                parts.append(" " + text + ("+" if goes_on else "" if j == last else " "))
            out.append("|".join(parts))
    return "\n".join(out)


def table(q: QueryResult, style: Style, first_record: int = 1) -> str:
    """The rows kept for display as a table (or CSV), without footer; in expanded display
    the records numbered from ``first_record`` (a later chunk of a result goes on)."""
    headers = [c.name for c in q.columns]
    if style.fmt == "csv":
        return csvout.table(q)
    headers = ["\n".join(cell_lines(h)) for h in headers]  # no width limit: only escaped
    rows = [[_cell(v, style) for v in row] for row in q.rows]
    if style.expanded == "on":
        return expanded(headers, rows, first_record)
    align = ["right" if c.type_oid in ALIGN_RIGHT else "left" for c in q.columns]
    if style.fmt == "aligned":
        text = _aligned(headers, rows, align)
    else:
        with _faithful():
            text = tabulate(rows, headers=headers, tablefmt=style.fmt, disable_numparse=True,
                            colalign=align if rows else None, **_KEEP_SPACE)
    if style.expanded == "auto" and rows and len(headers) > 1 and max(map(text_width, text.splitlines())) > style.width:
        return expanded(headers, rows, first_record)
    return text


def expanded(headers: list[str], rows: list[list[str]], first_record: int = 1) -> str:
    """psql's expanded display (``\\x``, border 1): one record after the other, one column
    per line, ``-[ RECORD n ]`` above each; a value's further lines go under it, with `+`
    after the line before; no record at all: ``(0 rows)``."""
    if not rows or not headers:
        return ""  # psql shows only the footer, (0 rows)
    names = [h.split("\n") for h in headers]
    values = [[v.split("\n") for v in row] for row in rows]
    name_w = max(text_width(line) for n in names for line in n)
    value_w = max((text_width(line) for row in values for v in row for line in v), default=0)
    multi = any(len(v) > 1 for row in values for v in row)
    sep_w = 3 + multi
    record_w = len(str(len(rows) + first_record - 1)) + 12  # "-[ RECORD  ]"
    value_w = max(name_w + sep_w + value_w, record_w) - name_w - sep_w
    out = []
    for number, row in enumerate(values, start=first_record):
        head = f"-[ RECORD {number} ]"
        rest = len(head) - name_w  # psql's print_aligned_vertical_line
        line = head + "-" * max(0, name_w - len(head))
        for part in "-+-":
            if rest <= 0:
                line += part
            rest -= 1
        out.append(line + "-" * (value_w - max(rest, 0)))
        for name, value in zip(names, row, strict=True):
            for i in range(max(len(name), len(value))):
                if i < len(name):
                    text = name[i] + " " * (name_w - text_width(name[i])) + ("+" if i < len(name) - 1 else " ")
                else:
                    text = " " * (name_w + 1)
                text += "|"
                if i < len(value):
                    text += " " + value[i]
                    if i < len(value) - 1:
                        text += " " * (value_w - text_width(value[i])) + "+"
                out.append(text)
    return "\n".join(out)


def _zero_columns(q: QueryResult) -> bool:
    """A row set without columns (``SELECT FROM t``): rows of nothing. (With no rows it
    cannot be told from a command's tag: see README.)"""
    return not q.columns and bool(q.rows)


def footer(q: QueryResult) -> str:
    """psql's ``(N rows)``, saying how many are shown when the display is capped."""
    if q.truncated:
        return f"({_rows_word(q.rowcount)}, first {len(q.rows)} shown)"
    return f"({_rows_word(q.rowcount)})"


# psql prints the command tag after the rows of these (INSERT … RETURNING and the like)
_TAG_AFTER_ROWS = ("INSERT", "UPDATE", "DELETE", "MERGE")


def error_line(q: QueryResult) -> str:
    state = f" (SQLSTATE {q.sqlstate})" if q.sqlstate else ""
    return f"{q.error}{state}"


def statement(q: QueryResult, style: Style) -> str:
    """A plain SQL statement's output, as psql prints it: the table, its footer and the
    empty line psql ends a table with; after rows of INSERT/UPDATE/DELETE/MERGE …
    RETURNING, the command tag. In expanded display psql gives no footer (but the
    ``(0 rows)`` of an empty result); qshell adds one only when rows were left out."""
    if q.status is not Status.OK:
        return error_line(q)
    if not q.returns_rows and not _zero_columns(q):
        return q.command
    text = table(q, style)
    if style.fmt == "csv":
        return f"{text}\n{footer(q)}"
    return (text + "\n" if text else "") + after_table(q, style, shown=bool(text))


def after_table(q: QueryResult, style: Style, shown: bool = True, streamed: bool = False) -> str:
    """What psql prints after a result's table: the footer and an empty line (none in
    expanded display unless nothing was shown or rows were left out), then the command
    tag of INSERT/UPDATE/DELETE/MERGE … RETURNING. ``streamed``: every row was printed
    as it came (none kept in ``q``)."""
    cut = q.truncated and not streamed
    if style.expanded == "on" and shown and not cut:
        out = ""
    else:
        out = f"{footer(q) if cut else '(' + _rows_word(q.rowcount) + ')'}\n"
    if q.command.split(" ", 1)[0] in _TAG_AFTER_ROWS:
        out += f"\n{q.command}"
    return out.rstrip("\n") if not out.strip() else out


def diag_fields(d: ServerMessage | None) -> dict:
    """The server's error fields for a JSON record (nulls when there was no server error)."""
    if d is None:
        return {"severity": None, "detail": None, "hint": None, "context": None, "position": None}
    return {"severity": d.severity, "sqlstate": d.sqlstate, "message": d.primary, "detail": d.detail,
            "hint": d.hint, "context": d.context, "position": d.position}


def error_lines(q: QueryResult) -> list[str]:
    """What the server said beyond the one-line error (DETAIL, HINT, CONTEXT, LINE and its
    caret), as libpq prints it, for under a staged query's header."""
    if q.diag is None:
        return []
    return q.diag.text.split("\n")[1:]


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
    return (f"══ {len(run.queries)} queries on N={run.n} workers · {run.mode} · order {run.order}")


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
            text = table(q, style)
            if text:  # nothing in expanded display without rows
                lines.append(text)
            lines.append(footer(q))
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
    return shorten(" ".join(sql.split()), width)


def _table_fmt(style: Style) -> str:
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
    parts = [f"retries: {sum(q.retries for q in retried)} ({len(retried)} queries retried)"] if retried else []
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
    return (f"N={run.n} · {len(run.queries)} queries · wall {duration(run.wall_s)} · "
            f"sum {duration(run.sum_s)} · overlap {run.overlap:.2f}× · "
            f"bound {duration(run.bound_s)}{on} · efficiency {_pct(run.efficiency)}{pool}{failed}{stopped}")


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


# -- JSON lines ----------------------------------------------------------------
def query_record(q: QueryResult, run_id: str | None, rows: bool = True, slowdown: float | None = None) -> dict:
    rec: dict[str, object] = {
        "type": "query" if run_id is not None else "statement",
        "run_id": run_id,
        "index": q.index,
        "sql": q.sql,
        "status": str(q.status),
        "worker": q.worker,
        "pid": q.pid,
        "host": q.server.host if q.server else None,
        "standby": q.server.standby if q.server else None,
        "command": q.command,
        "columns": [{"name": c.name, "type_oid": c.type_oid} for c in q.columns],
        "rowcount": q.rowcount,
        "error": q.error,
        "sqlstate": q.sqlstate,
        "retries": q.retries,
        "wait_ms": round(q.wait_s * 1000, 3),
        "exec_ms": round(q.exec_s * 1000, 3),
        "fetch_ms": round(q.fetch_s * 1000, 3),
        "total_ms": round(q.total_s * 1000, 3),
        "start_ms": round(q.start_s * 1000, 3),
        "end_ms": round(q.end_s * 1000, 3),
    }
    if q.pool_wait_s is not None:  # behind a transaction pooler: its wait for a backend
        rec["pool_wait_ms"] = round(q.pool_wait_s * 1000, 3)
    rec.update(waits=[{"event": name, "share": round(share, 4)} for name, share in q.waits],
               blocked_by=[{"by": who, "ms": round(t * 1000, 3)} for who, t in q.blocked_by],
               notices=list(q.notices))
    d = q.diag
    rec.update(detail=d.detail if d else None, hint=d.hint if d else None, context=d.context if d else None,
               position=d.position if d else None)
    if slowdown is not None:
        rec["slowdown"] = round(slowdown, 4)
    if q.resources is not None:
        rec["resources"] = q.resources.record()
    elif q.no_resources:
        rec["no_resources"] = q.no_resources
    if q.plan is not None:
        rec["workers_planned"] = q.plan.workers_planned
        rec["workers_launched"] = q.plan.workers_launched
        rec["plan"] = q.plan.record()
    elif q.no_plan:
        rec["no_plan"] = q.no_plan
    if rows:
        rec["rows"] = [list(r) for r in q.rows]
        rec["truncated"] = q.truncated
    return rec


def run_record(run: RunResult, run_id: str) -> dict:
    # RunResult's figures, each pass over the queries made once (50,000 queries: 5 passes saved)
    times = [q.total_s for q in run.queries]
    sum_s = sum(times)
    bound_s = max(max(times), sum_s / run.parallel) if times else 0.0
    waited = run.pool_wait_s
    wall = run.wall_s
    failed = sum(1 for q in run.queries if q.status is not Status.OK)
    return {
        "type": "run",
        "schema": JSON_SCHEMA_VERSION,
        "run_id": run_id,
        "n": run.n,
        "queries": len(run.queries),
        "ok": len(run.queries) - failed,
        "failed": failed,
        "interrupted": run.interrupted,
        "started_at": run.started_at,
        "wall_ms": round(wall * 1000, 3),
        "sum_ms": round(sum_s * 1000, 3),
        "overlap": round(sum_s / wall if wall > 0 else 0.0, 4),
        "bound_ms": round(bound_s * 1000, 3),
        "efficiency": round(bound_s / wall if wall > 0 else 0.0, 4),
        "servers": run.servers,
        "pool_wait_ms": None if waited is None else {"total": round(waited[0] * 1000, 3), "max": round(waited[1] * 1000, 3)},
        "mode": run.mode,
        "order": run.order,
        "samples": run.samples,
        "client_cpu": round(run.client_cpu, 4),
        "client_bound": run.client_bound,
        "cpu": run.cpu.record() if run.cpu is not None else None,
        "hosts": host_rows(run),
        **_conflict_record(run),
        **why_slow_totals(run),
    }


def _conflict_record(run: RunResult) -> dict:
    from qshell.engine.conflicts import lock_records, wait_series_record

    return {"retries": sum(q.retries for q in run.queries), "failures": failures_by_sqlstate(run),
            **lock_records(run.lock_waits, run.deadlocks, run.sessions), "wait_series": wait_series_record(run.wait_series)}


def why_slow_totals(run: RunResult) -> dict:
    """The run record's sums of resources and parallel workers (nothing when not measured)."""
    out: dict[str, object] = {}
    if any(q.resources is not None for q in run.queries):
        from qshell.engine.resources import totals

        out["resources"] = totals(run.queries)
    plans = [q.plan for q in run.queries if q.plan is not None]
    if plans:
        out["workers_planned"] = sum(p.workers_planned for p in plans)
        out["workers_launched"] = sum(p.workers_launched for p in plans)
    return out


_encode = json_text  # compact, non-ASCII kept, no control character raw (C1 as \u009b)
_encode_str = json_str  # a str as JSON, escaped the same way


def json_line(obj: dict) -> str:
    return _encode(obj)


class RecordEncoder:
    """Query records as JSON text, each built once: ``head(q)`` is the record without its
    rows (what the run history keeps), ``line(head, q)`` the output line with them. The
    text is ``json_line(query_record(q, run_id, rows, slowdown))`` built without the
    intermediate dict (at 50,000 records, the dict and its encoding cost twice as much),
    its times written with exactly 3 decimals (``0.500``: the same numbers)."""

    _NO_ERROR = '"error":null,"sqlstate":null,"retries":0,'
    _NOTHING = '"waits":[],"blocked_by":[],"notices":[],"detail":null,"hint":null,"context":null,"position":null'

    def __init__(self, run_id: str | None, slow: Mapping[int, float] | None = None) -> None:
        kind = "query" if run_id is not None else "statement"
        self._start = f'{{"type":"{kind}","run_id":{_str(run_id)},"index":'
        self._run_id = run_id
        self._res: object = None  # the last Resources encoded, and its JSON
        self._res_text = ""
        self._slow = slow or {}
        self._texts: dict[str, str] = {}  # SQL texts and command tags as JSON (a run repeats them)
        self._columns: dict[tuple, str] = {}
        self._rows: dict[tuple, str] = {}
        self._servers: dict[Server | None, str] = {}

    def _text(self, value: str) -> str:
        text = self._texts.get(value)
        if text is None:
            text = _encode_str(value)
            if len(self._texts) < 1024:
                self._texts[value] = text
        return text

    def _server(self, server: Server | None) -> str:
        """``"host":…,"standby":…,`` (one text per server: a run has a few)."""
        text = self._servers.get(server)
        if text is None:
            text = self._servers[server] = ('"host":null,"standby":null,' if server is None else
                                            f'"host":{_encode_str(server.host)},"standby":{"true" if server.standby else "false"},')
        return text

    def _cols(self, columns: tuple) -> str:
        text = self._columns.get(columns)
        if text is None:
            text = _encode([{"name": c.name, "type_oid": c.type_oid} for c in columns])
            if len(self._columns) < 256:
                self._columns[columns] = text
        return text

    def head(self, q: QueryResult) -> str:
        """The record without ``rows`` and ``truncated``."""
        if q.error is None and q.sqlstate is None and not q.retries:
            error = self._NO_ERROR
        else:
            error = f'"error":{_str(q.error)},"sqlstate":{_str(q.sqlstate)},"retries":{q.retries},'
        d = q.diag
        if d is None and not q.waits and not q.blocked_by and not q.notices:
            rest = self._NOTHING
        else:
            waits = _encode([{"event": name, "share": round(share, 4)} for name, share in q.waits])
            blocked = _encode([{"by": who, "ms": round(t * 1000, 3)} for who, t in q.blocked_by])
            diag = ('"detail":null,"hint":null,"context":null,"position":null' if d is None else
                    f'"detail":{_str(d.detail)},"hint":{_str(d.hint)},"context":{_str(d.context)},'
                    f'"position":{_int(d.position)}')
            rest = f'"waits":{waits},"blocked_by":{blocked},"notices":{_encode(list(q.notices))},{diag}'
        slowdown = self._slow.get(q.index) if self._slow else None
        worker, pid, exec_s, fetch_s = q.worker, q.pid, q.exec_s, q.fetch_s
        pool = "" if q.pool_wait_s is None else f'"pool_wait_ms":{q.pool_wait_s * 1000:.3f},'
        if q.plan is not None:
            return self._why_slow(q, slowdown)
        head = (f'{self._start}{q.index},"sql":{self._text(q.sql)},"status":"{q.status.value}",'
                f'"worker":{"null" if worker is None else worker},"pid":{"null" if pid is None else pid},'
                f'{self._server(q.server)}"command":{self._text(q.command)},"columns":{self._cols(q.columns) if q.columns else "[]"},'
                f'"rowcount":{q.rowcount},{error}'
                f'"wait_ms":{q.wait_s * 1000:.3f},"exec_ms":{exec_s * 1000:.3f},"fetch_ms":{fetch_s * 1000:.3f},'
                f'"total_ms":{(exec_s + fetch_s) * 1000:.3f},"start_ms":{q.start_s * 1000:.3f},'
                f'"end_ms":{q.end_s * 1000:.3f},{pool}{rest}'
                + ("}" if slowdown is None else f',"slowdown":{round(slowdown, 4)!r}}}'))
        res = q.resources
        if res is None and q.no_resources is None and q.no_plan is None:
            return head
        if res is None:
            why = f',"no_resources":{_encode_str(q.no_resources)}' if q.no_resources else ""
        else:
            if res is not self._res:  # the queries of one pg_stat_statements entry share one object
                self._res, self._res_text = res, _encode(res.record())
            why = f',"resources":{self._res_text}'
        if q.no_plan:
            why += f',"no_plan":{_encode_str(q.no_plan)}'
        return f"{head[:-1]}{why}}}"

    def _why_slow(self, q: QueryResult, slowdown: float | None) -> str:
        """The record of a query with a plan (EXPLAIN ANALYZE runs are slow anyway: built as a dict)."""
        return _encode(query_record(q, self._run_id, rows=False, slowdown=slowdown))

    def line(self, head: str, q: QueryResult) -> str:
        """The output line: ``head`` with the rows kept and whether rows were left out."""
        rows = q.rows
        if not rows:
            text = "[]"
        elif len(rows) == 1 and len(rows[0]) == 1 and (rows[0][0] is None or len(rows[0][0]) <= 32):
            known = self._rows.get(rows)  # one short value (SELECT 1, a count): often the same again
            if known is None:
                known = _encode(rows)
                if len(self._rows) < 256:
                    self._rows[rows] = known
            text = known
        else:
            text = _encode(rows)
        return f'{head[:-1]},"rows":{text},"truncated":{"true" if q.rowcount > len(q.rows) else "false"}}}'


def _str(value: str | None) -> str:
    return "null" if value is None else _encode_str(value)


def _int(value: int | None) -> str:
    return "null" if value is None else str(int(value))


def run_json(run: RunResult, run_id: str, slow: Mapping[int, float] | None = None) -> str:
    """A run as JSON lines: each query's record, then the run's."""
    enc = RecordEncoder(run_id, slow)
    lines = [enc.line(enc.head(q), q) for q in run.queries]
    lines.append(json_line(run_record(run, run_id)))
    return "\n".join(lines)


# -- live progress, sweep, repeats, history, compare ---------------------------------------
def progress_line(p, width: int = 100) -> str:  # noqa: ANN001 - results.Progress
    """One status line: elapsed, done / running / queued, what each worker runs."""
    head = f"{duration(p.elapsed_s)} · done {p.done} · running {len(p.running)} · queued {p.queued}"
    workers = " ".join(f"w{w}:#{i} {t:.1f}s" for w, i, t in p.running)
    text = f"{head} · {workers}" if workers else head
    return shorten(text, width - 1)


def bar_chart(items: list[tuple[str, float]], width: int = 40) -> str:
    """Horizontal bars, longest = ``width`` cells; label and value beside each."""
    if not items:
        return ""
    top = max(v for _, v in items) or 1.0
    label_w = max(len(k) for k, _ in items)
    return "\n".join(f"{k.rjust(label_w)} │{'█' * max(1, round(v / top * width))} {duration(v)}" for k, v in items)


def sweep_rows(runs: list[RunResult]) -> list[dict]:
    """The seed's table as data: per N its wall, speedup against N=1, efficiency, bound.

    Without an N=1 run in the sweep, the serial time is estimated as the sum of query
    times of the first run (``serial_estimated``)."""
    runs = [r for r in runs if not r.interrupted]  # an interrupted run measured nothing
    serial = next((r.wall_s for r in runs if r.n == 1), None)
    estimated = serial is None
    if serial is None:
        serial = runs[0].sum_s if runs else 0.0  # no runs: no rows either
    rows = []
    for r in runs:
        c = r.cpu
        rows.append({
            "n": r.n, "wall_ms": round(r.wall_s * 1000, 3), "speedup": round(serial / r.wall_s, 4) if r.wall_s else 0.0,
            "efficiency": round(r.efficiency, 4), "bound_ms": round(r.bound_s * 1000, 3),
            "failed": r.failed, "serial_estimated": estimated,
            "backends_cores": _round(c.cores(c.backends_s)) if c is not None else None,
            "machine_busy": round(c.busy, 4) if c is not None else None,
            "other": _round(c.other) if c is not None else None,
        })
    return rows


def _round(x: float | None) -> float | None:
    return None if x is None else round(x, 4)


def sweep_verdict(runs: list[RunResult]) -> str | None:
    """The CPU verdict over a sweep's runs (cpu.sweep_verdict), None when none was measured."""
    from qshell.engine.cpu import sweep_verdict as verdict

    points = [(r.n, r.cpu) for r in runs if r.cpu is not None and not r.interrupted]
    return verdict(points) if points else None


def sweep_text(runs: list[RunResult], style: Style) -> str:
    rows = sweep_rows(runs)
    est = " (N=1 estimated as the sum of query times)" if rows and rows[0]["serial_estimated"] else ""
    failed = any(x["failed"] for x in rows)
    measured = any(x["machine_busy"] is not None for x in rows)

    def cores(x: float | None) -> str:
        return "-" if x is None else f"{x:.2f}"

    table = tabulate(
        [[r["n"], duration(r["wall_ms"] / 1000), f"{r['speedup']:.2f}×", _pct(r["efficiency"]),
          duration(r["bound_ms"] / 1000)]
         + ([cores(r["backends_cores"]), "-" if r["machine_busy"] is None else _pct(r["machine_busy"]),
             "-" if r["other"] is None else _pct(r["other"])] if measured else [])
         + ([r["failed"]] if failed else []) for r in rows],
        headers=["N", "wall", "speedup vs N=1", "efficiency", "lower bound"]
        + (["server cores", "machine busy", "other procs"] if measured else []) + (["not ok"] if failed else []),
        tablefmt=_table_fmt(style), disable_numparse=True,
        colalign=("right",) * (5 + (3 if measured else 0) + (1 if failed else 0)))
    chart = bar_chart([(f"N={r.n}", r.wall_s) for r in runs if not r.interrupted])
    stopped = [r.n for r in runs if r.interrupted]
    if stopped:
        chart += f"\n(the run at N={stopped[0]} was interrupted: not in the table)"
    verdict = sweep_verdict(runs)
    cpu_note = f"\nCPU: {verdict}" if verdict else ""
    return f"{table}\n{est.strip()}{cpu_note}\nwall time per N:\n{chart}".replace("\n\n", "\n")


def target_sweep_rows(series: list[tuple[str, list[RunResult], list[str]]]) -> list[dict]:
    """``\\sweep N… on TARGET…`` as data: per target (label, runs, run ids) its
    ``sweep_rows``, with the target, its run id, the servers its queries ran on
    (``host_rows``) and ``vs_first``: the first target's wall at the same N / this wall."""
    out: list[dict] = []
    first: dict[int, float] = {}
    for k, (label, runs, ids) in enumerate(series):
        done = [(r, i) for r, i in zip(runs, ids, strict=True) if not r.interrupted]
        for row, (run, run_id) in zip(sweep_rows([r for r, _ in done]), done, strict=True):
            if k == 0:
                first[run.n] = run.wall_s
            base = first.get(run.n)
            out.append({"target": label, **row, "vs_first": round(base / run.wall_s, 4) if base and run.wall_s else None,
                        "run_id": run_id, "servers": host_rows(run)})
    return out


def servers_cell(servers: list[dict]) -> str:
    """'3: 1 primary + 2 standby' (how many servers a run's queries ran on, by role)."""
    standby = sum(1 for h in servers if h["standby"])
    roles = [f"{len(servers) - standby} primary"] if len(servers) > standby else []
    if standby:
        roles.append(f"{standby} standby")
    return f"{len(servers)}: {' + '.join(roles)}" if servers else "-"


def target_sweep_text(rows: list[dict], style: Style) -> str:
    failed = any(r["failed"] for r in rows)
    table = tabulate(
        [[shorten(visible(r["target"]), 40), r["n"], duration(r["wall_ms"] / 1000),
          f"{r['vs_first']:.2f}×" if r["vs_first"] is not None else "-", f"{r['speedup']:.2f}×",
          _pct(r["efficiency"]), servers_cell(r["servers"]), " / ".join(str(h["queries"]) for h in r["servers"]) or "-"]
         + ([r["failed"]] if failed else []) for r in rows],
        headers=["target", "N", "wall", "vs first target", "speedup vs N=1", "efficiency", "servers", "queries per server"]
        + (["not ok"] if failed else []),
        tablefmt=_table_fmt(style), disable_numparse=True,
        colalign=("left", "right", "right", "right", "right", "right", "left", "left") + (("right",) if failed else ()))
    chart = bar_chart([(f"{shorten(visible(r['target']), 30)} N={r['n']}", r["wall_ms"] / 1000) for r in rows])
    est = ("\n(N=1 estimated as the sum of query times where a target has no N=1 run)"
           if any(r["serial_estimated"] for r in rows) else "")
    return f"{table}{est}\nwall time per target and N:\n{chart}"


def stats_cells(st) -> list[str]:  # noqa: ANN001 - analysis.Stats
    return [ms(st.min), ms(st.median), ms(st.p95), ms(st.max)]


def _warm(runs: list[RunResult]) -> list[RunResult]:
    """The repetitions statistics are taken over: after the cold first one, never an
    interrupted one (its times are not measurements)."""
    return [r for r in (runs[1:] if len(runs) > 1 else runs) if not r.interrupted]


def repeat_text(runs: list[RunResult], style: Style) -> str:
    """Per repetition its wall (the first marked cold), then per query and for the wall
    min / median / p95 / max over the warm repetitions."""
    from qshell.engine.analysis import stats

    warm = _warm(runs)
    reps = tabulate([[i, duration(r.wall_s), f"{r.overlap:.2f}×", _pct(r.efficiency),
                      "interrupted" if r.interrupted else "cold" if i == 1 else ""]
                     for i, r in enumerate(runs, start=1)],
                    headers=["rep", "wall", "overlap", "efficiency", ""], tablefmt=_table_fmt(style),
                    disable_numparse=True, colalign=("right", "right", "right", "right", "left"))
    rows = []
    for pos, q in enumerate(runs[0].queries):
        st = stats(r.queries[pos].total_s for r in warm if r.queries[pos].status is Status.OK)
        rows.append([q.index, preview(q.sql), st.count] + stats_cells(st))
    per_query = tabulate(rows, headers=["#", "query", "ok", "min ms", "median ms", "p95 ms", "max ms"],
                         tablefmt=_table_fmt(style), disable_numparse=True,
                         colalign=("right", "left", "right", "right", "right", "right", "right"))
    if not warm:
        return f"{reps}\nno repetition to measure (N={runs[0].n}: {'interrupted' if runs[-1].interrupted else 'only the cold one'})"
    wall = stats(r.wall_s for r in warm)
    done = len(runs) - sum(r.interrupted for r in runs)
    over = f"warm repetitions 2-{done}" if len(runs) > 1 else "1 repetition"
    return (f"{reps}\n{per_query}\nwall over {over}: min {duration(wall.min)} · median {duration(wall.median)} · "
            f"p95 {duration(wall.p95)} · max {duration(wall.max)} (N={runs[0].n}, {len(runs)} repetitions)")


def repeat_record(runs: list[RunResult], run_ids: list[str]) -> dict:
    from qshell.engine.analysis import stats

    warm = _warm(runs)

    def st(values) -> dict:  # noqa: ANN001
        s = stats(values)
        return {"count": s.count, "min_ms": round(s.min * 1000, 3), "median_ms": round(s.median * 1000, 3),
                "p95_ms": round(s.p95 * 1000, 3), "max_ms": round(s.max * 1000, 3)}

    return {
        "type": "repeat", "n": runs[0].n, "reps": len(runs), "cold_run_id": run_ids[0], "run_ids": run_ids,
        "wall": st(r.wall_s for r in warm),
        "queries": [{"index": q.index, **st(r.queries[pos].total_s for r in warm if r.queries[pos].status is Status.OK)}
                    for pos, q in enumerate(runs[0].queries)],
    }


def history_text(numbered: list[tuple[int, dict]], style: Style) -> str:
    import time as _time

    # a record's text may come from another program (runs.sqlite is a file): shown escaped
    rows = [[k, _time.strftime("%Y-%m-%d %H:%M:%S", _time.localtime(r.get("started_at", 0))), visible(r.get("fingerprint", "")),
             visible(r.get("label", "")), r.get("n"), duration(r.get("wall_ms", 0) / 1000), f"{r.get('overlap', 0):.2f}×",
             visible(r.get("mode", ""))] for k, r in numbered]
    return tabulate(rows, headers=["run", "when", "set", "label", "N", "wall", "overlap", "mode"],
                    tablefmt=_table_fmt(style), disable_numparse=True)


def compare_rows(a: dict, b: dict) -> list[dict]:
    """Per query position: its time in run A and in run B and the change."""
    rows = []
    # two runs of different sets: only the positions both have are compared
    for qa, qb in zip(a.get("results", []), b.get("results", []), strict=False):
        ta, tb = qa.get("total_ms", 0.0), qb.get("total_ms", 0.0)
        rows.append({"index": qa.get("index"), "sql": qa.get("sql", ""), "a_ms": ta, "b_ms": tb,
                     "change": (tb / ta - 1) if ta else None, "a_status": qa.get("status"), "b_status": qb.get("status")})
        if any(k in q for q in (qa, qb) for k in ("plan", "resources")):
            from qshell.engine.plans import difference

            rows[-1]["plan"] = difference(qa, qb)
    return rows


def compare_text(ka: int, a: dict, kb: int, b: dict, style: Style) -> str:
    rows = compare_rows(a, b)
    plan = any("plan" in r for r in rows)  # either run measured plans or resources: their differences
    body = tabulate(
        [[r["index"], preview(r["sql"]), f"{r['a_ms']:.1f}", f"{r['b_ms']:.1f}",
          f"{r['change'] * 100:+.0f}%" if r["change"] is not None else "-",
          "" if r["a_status"] == r["b_status"] == "ok" else visible(f"{r['a_status']}/{r['b_status']}")]
         + ([visible(r.get("plan", ""))] if plan else []) for r in rows],
        headers=["#", "query", f"run {ka} ms", f"run {kb} ms", "change", "status"] + (["plan / resources"] if plan else []),
        tablefmt=_table_fmt(style), disable_numparse=True,
        colalign=("right", "left", "right", "right", "right", "left") + (("left",) if plan else ()))
    wa, wb = a.get("wall_ms", 0.0), b.get("wall_ms", 0.0)
    change = f"{(wb / wa - 1) * 100:+.0f}%" if wa else "-"
    head = (f"run {ka}: N={a.get('n')} {a.get('mode', '')} · wall {duration(wa / 1000)}    "
            f"run {kb}: N={b.get('n')} {b.get('mode', '')} · wall {duration(wb / 1000)}    change {change}")
    return f"{visible(head)}\n{body}"
