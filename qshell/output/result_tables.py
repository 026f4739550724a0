"""A statement's result as psql draws it: aligned tables, expanded records, footers, command tags, errors.

Never touches the database. Values are printed exactly as the server sent them
(tabulate's number parsing is off); NULL is shown as the ``null`` setting so it
differs from an empty string.
"""
from __future__ import annotations

from contextlib import contextmanager

from qshell.common.visible import cell_lines
from qshell.common.visible import width as text_width
from qshell.output import csvout, styles
from qshell.output.styles import Style, _cell, _rows_word, _tabulate, tabulate
from qshell.records.results import NUMERIC_OIDS, QueryResult, ServerMessage, Status

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
                            colalign=align if rows else None, **styles._KEEP_SPACE)
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
