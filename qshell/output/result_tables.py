"""A statement's result as psql draws it: aligned tables, expanded records, footers, command tags, errors.

Never touches the database. Values are printed exactly as the server sent them
(tabulate's number parsing is off); NULL is shown as the ``null`` setting so it
differs from an empty string.
"""
from __future__ import annotations

import re
from contextlib import contextmanager
from dataclasses import replace
from itertools import repeat
from typing import Sequence

from qshell.common.visible import cell_lines
from qshell.common.visible import width as text_width
from qshell.output import csvout, documents, styles
from qshell.output.psql_formats import Unaligned, localized, shown, shown_title, title_width
from qshell.output.styles import DEFAULT_NULL, Style, _cell, _rows_word, _tabulate, tabulate
from qshell.records.results import NUMERIC_OIDS, Column, QueryResult, ServerMessage, Status

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


# a character outside printable ASCII and U+00A0-U+02FF (Latin-1's letters, Latin Extended,
# IPA, spacing modifiers): below it every printable character is one column wide, for
# wcwidth and for psql's ucs_wcwidth alike (combining marks begin at U+0300)
_ONE_COLUMN = re.compile("[^ -~\u00a0-\u02ff]")


class Layout:
    """A result drawn as psql draws it, one table, its rows given batch by batch twice:
    :meth:`survey` every batch (only widths are kept), then :meth:`head` and :meth:`body`
    of every batch again (the same rows: what the survey found plain is not checked
    again). psql (``FETCH_COUNT`` unset) aligns a whole result as one table; libpq holds
    the result either way, so the Python values are one batch at a time.

    Aligned format (border 1) and expanded display (``\\x``, ``\\x auto`` when the table
    is wider than ``style.width``). A column whose values in a batch are plain text
    (printable, one column a character, none longer than ``maxwidth``: see :meth:`_plain`)
    is padded as a whole (its values' widths are their lengths); any other goes value by value
    (:func:`_cell`: escaped, cut, wide characters 2 columns, lines of their own)."""

    def __init__(self, columns: Sequence[Column], style: Style) -> None:
        self.style = style
        self.headers = ["\n".join(cell_lines(c.name)) for c in columns]
        self.names = [h.split("\n") for h in self.headers]
        self.name_widths = [max(map(text_width, n)) for n in self.names]
        self.value_widths = [0] * len(columns)  # widest line of a value, per column
        self.multi = False  # a value of several lines was seen
        self.count = 0  # rows surveyed
        self.right = [c.type_oid in ALIGN_RIGHT for c in columns]
        self.null = _cell(None, style)
        self.null_plain = self.null.isascii() and self.null.isprintable()
        self.plain = [True] * len(columns)  # every value surveyed in the column was plain
        self.printed = 0  # rows drawn so far (expanded records are numbered on)
        self._expanded: bool | None = None

    def _columns(self, rows: Sequence[Sequence[str | None]]) -> list[tuple]:
        return list(zip(*rows, strict=True))

    def _cells(self, col: Sequence[str | None]) -> list[str]:
        """A column's values as table text, one by one (the slow way)."""
        style, null = self.style, self.null
        return [null if v is None else _cell(v, style) for v in col]

    def _nulls(self, col: tuple) -> tuple | None:
        """``col`` with NULL as its text when that text is plain (``col`` itself when it
        holds no NULL); None when it holds a NULL whose text is not plain, or a value that
        is not text."""
        try:
            "".join(col)  # (the cheapest test for a NULL: 1/4 of ``None in col``'s time)
            return col
        except TypeError:
            if not self.null_plain:
                return None
        null = self.null
        col = tuple([null if v is None else v for v in col])
        try:
            "".join(col)
        except TypeError:
            return None
        return col

    def _plain(self, col: tuple) -> tuple[tuple | None, int]:
        """(``col`` with NULL as its text, its widest value) when every value is printed as it
        is: printable (no control character, newline or tab), ASCII or one column a
        character (below U+0300), none cut to ``maxwidth``; its width is then its length.
        (None, -1) otherwise. A few passes of C over the column's joined text, not a call
        per value."""
        try:
            blob = "".join(col)
            fast = col
        except TypeError:  # a NULL
            nulls = self._nulls(col)
            if nulls is None:
                return None, -1
            fast = nulls
            blob = "".join(fast)
        if not blob.isprintable() or not (blob.isascii() or _ONE_COLUMN.search(blob) is None):
            return None, -1
        widest = max(map(len, fast))
        maxwidth = self.style.maxwidth
        return (fast, widest) if maxwidth <= 1 or widest <= maxwidth else (None, -1)

    def survey(self, rows: Sequence[Sequence[str | None]]) -> None:
        """Take in the widths of one batch of rows (nothing of them is kept)."""
        if not rows or not self.headers:
            self.count += len(rows)
            return
        widths = self.value_widths
        for j, col in enumerate(self._columns(rows)):
            w = self._plain(col)[1]
            if w < 0:
                self.plain[j] = False
                for cell in self._cells(col):
                    if "\n" in cell:
                        self.multi = True
                        w = max(w, *map(text_width, cell.split("\n")))
                    else:
                        w = max(w, text_width(cell))
            if w > widths[j]:
                widths[j] = w
        self.count += len(rows)

    @property
    def widths(self) -> list[int]:
        return [max(a, b) for a, b in zip(self.name_widths, self.value_widths, strict=True)]

    @property
    def expanded(self) -> bool:
        """Drawn as expanded records: ``\\x``, or ``\\x auto`` and the table wider than
        ``style.width`` (its widest line is its rule: every column and its separators)."""
        if self._expanded is None:
            style = self.style
            self._expanded = style.expanded == "on" or (  # auto: psql knows a width only at a terminal or set
                style.expanded == "auto" and (style.tty or style.opts.columns > 0) and self.count > 0 and len(self.headers) > 1
                and sum(self.widths) + _overhead(len(self.headers), border(style)) > style.width)
        return self._expanded

    def head(self) -> str:
        """The column names and the rule under them ("" in expanded display; ``--`` for a
        result without columns, as psql)."""
        opts = self.style.opts
        title = shown_title(opts.title) if opts.title is not None and not opts.tuples_only else None  # (escaped, as names)
        if self.expanded:  # (psql: no title over an expanded result without values)
            return title or "" if self.count and self.headers else ""
        if opts.tuples_only:
            return ""
        if not self.headers:
            return "--" if title is None else title + "\n--"
        widths = self.widths
        head = _aligned_header(self.names, widths) + "\n" + "+".join("-" * (w + 2) for w in widths)
        if title is not None:  # psql centres it over the table's width (its widest line), unless as wide
            room = sum(widths) + 3 * len(widths) - 1 - title_width(title)
            head = (" " * (room // 2) if room > 0 else "") + title + "\n" + head
        return head

    def body(self, rows: Sequence[Sequence[str | None]]) -> str:
        """One batch of rows drawn with the widths of the whole result ("" for none)."""
        if not rows or not self.headers:
            return ""
        first = self.printed + 1
        self.printed += len(rows)
        if self.expanded:
            columns = [self._cells(col) for col in self._columns(rows)]
            return expanded(self.headers, [list(r) for r in zip(*columns, strict=True)], first, value_w=max(self.value_widths),
                            multi=self.multi, last_record=self.count, numbered=not self.style.opts.tuples_only)
        widths, right = self.widths, self.right
        last = len(widths) - 1
        padded: list[Sequence[str]] = []
        split: list[list[list[str]] | None] = []  # per column: its values' lines, when one has several
        for j, col in enumerate(self._columns(rows)):
            w = widths[j]
            # a column found plain all through by the survey is plain in this batch too
            fast = self._nulls(col) if self.plain[j] else self._plain(col)[0]
            if fast is not None:
                if right[j]:
                    padded.append(list(map(str.rjust, fast, repeat(w))))
                elif j == last:
                    padded.append(fast)
                else:
                    padded.append(list(map(str.ljust, fast, repeat(w))))
                split.append(None)
                continue
            cells = self._cells(col)
            if any("\n" in c for c in cells):
                split.append([c.split("\n") for c in cells])
                padded.append(cells)
                continue
            split.append(None)
            if right[j]:
                padded.append([" " * (w - text_width(c)) + c for c in cells])
            elif j == last:
                padded.append(cells)
            else:
                padded.append([c + " " * (w - text_width(c)) for c in cells])
        if all(s is None for s in split):
            return " " + "\n ".join(map(" | ".join, zip(*padded, strict=True)))
        # a value of several lines: the rows of this batch as psql lays them out, line by line
        out = []
        for i, row in enumerate(zip(*padded, strict=True)):
            out.extend(_lines_of_row([[row[j]] if s is None else s[i] for j, s in enumerate(split)],
                                     widths, right, padded=[s is None for s in split]))
        return "\n".join(out)


def _lines_of_row(split: list[list[str]], widths: list[int], right: list[bool], padded: list[bool]) -> list[str]:
    """The printed lines of one row whose values have several lines: each value's lines
    under each other, `+` after a line that goes on; the last column unpadded unless a `+`
    follows (``padded[j]``: column j's one line is padded already)."""
    last = len(widths) - 1
    out = []
    for i in range(max(map(len, split))):
        parts = []
        for j, lines in enumerate(split):
            if i >= len(lines):  # this value had fewer lines
                parts.append(" " if j == last else " " * (widths[j] + 2))
                continue
            text = lines[i]
            goes_on = i < len(lines) - 1
            if not padded[j]:
                pad = " " * (widths[j] - text_width(text))
                if right[j]:
                    text = pad + text
                elif j != last or goes_on:  # psql pads the last column only before a `+`
                    text += pad
            parts.append(" " + text + ("+" if goes_on else "" if j == last else " "))
        out.append("|".join(parts))
    return out


def table(q: QueryResult, style: Style, first_record: int = 1) -> str:
    """The rows kept for display as a table (or CSV), without footer; in expanded display
    the records numbered from ``first_record`` (a later chunk of a result goes on)."""
    headers = [c.name for c in q.columns]
    if style.opts.numericlocale:  # psql: numbers grouped as the locale groups them, in every format
        q = replace(q, rows=tuple(localized(q.rows, [c.type_oid in ALIGN_RIGHT for c in q.columns])))
    if style.fmt == "csv":
        return csvout.table(q, style.opts, expanded=style.expanded == "on", null=machine_null(style))
    if style.fmt == "unaligned":  # the title, header and rows; the footer is the caller's
        u = unaligned(q, style)
        return u.head() + u.body(q.rows)
    if style.fmt in documents.FORMATS:  # html, asciidoc, latex…: the footer is the caller's
        return document(q, style, None, first_record)
    if style.fmt == "wrapped" or style.fmt == "aligned" and drawn_by_borders(style):  # psql's other borders, styles
        return bordered(q, style, first_record)
    if style.fmt == "aligned":  # psql's own format: drawn by Layout, in one batch
        layout = Layout(q.columns, style)
        layout.survey(q.rows)
        if not layout.expanded:
            body = layout.body(q.rows)
            head = layout.head()  # (none with tuples only)
            return head + ("\n" + body if head and body else body)
    headers = ["\n".join(cell_lines(h)) for h in headers]  # no width limit: only escaped
    rows = [[_cell(v, style) for v in row] for row in q.rows]
    if style.expanded == "on":
        return expanded(headers, rows, first_record, numbered=not style.opts.tuples_only)
    align = ["right" if c.type_oid in ALIGN_RIGHT else "left" for c in q.columns]
    with _faithful():
        text = tabulate(rows, headers=headers, tablefmt=style.fmt, disable_numparse=True,
                        colalign=align if rows else None, **styles._KEEP_SPACE)
    if style.expanded == "auto" and rows and len(headers) > 1 and max(map(text_width, text.splitlines())) > style.width:
        return expanded(headers, rows, first_record, numbered=not style.opts.tuples_only)
    return text


def _overhead(n: int, border: int) -> int:
    """The columns a table of ``n`` columns takes beyond its values (psql's width_total)."""
    return n if border == 0 else 3 * n - 1 if border == 1 else 3 * n + 1


def one_empty_line(q: QueryResult, style: Style) -> bool:
    """Whether ``table`` drew a table of one empty line (its text then is ""): border 0 over
    rows of no columns, whose rule under the (absent) header is empty."""
    return (style.fmt == "aligned" and border(style) == 0 and not q.columns and not style.opts.tuples_only
            and style.expanded != "on")


def document(q: QueryResult, style: Style, footer_text: "documents.Footer", first_record: int = 1, escape: bool = True) -> str:
    """``q`` in one of psql's document formats (``qshell.output.documents``), its footer
    ``footer_text`` (None: none); ``escape``: control characters shown escaped (for the terminal)."""
    null = machine_null(style)
    names = [c.name for c in q.columns]
    rows = [[null if v is None else v for v in row] for row in q.rows] if names else []  # (psql: no cells, nothing)
    if escape:
        names = [shown(n) for n in names]
        rows = [[shown(v) for v in row] for row in rows]
    opts = style.opts
    if escape and opts.title is not None:
        opts = replace(opts, title=shown_title(opts.title))
    right = [c.type_oid in ALIGN_RIGHT for c in q.columns]
    return documents.RENDER[style.fmt](names, rows, right, opts, footer_text, style.expanded == "on", first_record)


def drawn_by_borders(style: Style) -> bool:
    """An aligned table drawn value by value (``borders``): a border but 1, a line style but
    ascii, an expanded header width but full."""
    return border(style) != 1 or style.opts.linestyle != "ascii" or style.opts.xheader_width != "full"


def border(style: Style) -> int:
    """psql's border as it draws it: 0, 1 or 2 (more is 2; psql's unsigned short makes a negative one 2 too)."""
    b = style.opts.border
    return b if 0 <= b <= 2 else 2


def bordered(q: QueryResult, style: Style, first_record: int = 1, last_record: int | None = None,
             start: bool = True, stop: bool = True) -> str:
    """An aligned result in a border but 1 or a line style but ascii (``qshell.output.borders``),
    expanded as ``Layout`` decides it for border 1; ``start``/``stop``: see ``borders.aligned``."""
    from qshell.output import borders

    opts = style.opts
    layout = Layout(q.columns, style)
    layout.survey(q.rows)
    names = [h.split("\n") for h in layout.headers]
    rows = [[(style.null if v is None else _cell(v, style)).split("\n") if v is not None
             else _cell(None, style).split("\n") for v in row] for row in q.rows]
    fmt = borders.line_style(opts.linestyle, opts.unicode_border_linestyle, opts.unicode_column_linestyle,
                             opts.unicode_header_linestyle)
    b = border(style)
    title = None if opts.title is None else shown_title(opts.title)  # (escaped, as the column names are)
    widths = None
    expanded = layout.expanded
    wrap_to = 0
    if style.fmt == "wrapped":  # psql: \pset columns, else a terminal's width; the columns narrowed to it
        wrap_to = opts.columns if opts.columns > 0 else style.width if style.tty else 0
        widths = borders.shrink(names, rows, b, wrap_to)
        n = len(names)
        overhead = _overhead(n, b) if n else (0 if b < 2 else 1)
        header_total = overhead + sum(max(map(text_width, x)) for x in names)
        expanded = style.expanded == "on" or (style.expanded == "auto" and wrap_to > 0 and n > 1 and (
            wrap_to < header_total or wrap_to < overhead + sum(widths)))
    if expanded:
        if not rows and start or not names and start and stop:  # (psql: only the footer)
            return ""
        return borders.vertical(names, rows, b, title, opts.tuples_only, first_record,
                                last_record or layout.count + first_record - 1,
                                line_border=opts.border if 0 <= opts.border <= 2 else 3, fmt=fmt,
                                xheader=opts.xheader_width, page=opts.columns if opts.columns > 0 else style.width,
                                wrap_to=wrap_to,
                                start=start, stop=stop)
    return borders.aligned(names, rows, layout.right, b, title, opts.tuples_only, fmt, widths, start, stop)


def unaligned(q: QueryResult, style: Style) -> Unaligned:
    """psql's unaligned format for ``q's`` columns (its rows given to ``body``), escaped: for the
    terminal and the staged results (a script's statements stream it as psql's bytes: ``_RowPrinter``)."""
    return Unaligned([c.name for c in q.columns], style.opts, machine_null(style), style.expanded == "on")


def machine_null(style: Style) -> str:
    """NULL in the machine formats (unaligned, as CSV): psql's empty text unless a null
    display was set (qshell's ``<null>`` marks NULL in its tables only, so that
    ``qshell -Atc`` prints what ``psql -Atc`` prints)."""
    return "" if style.null == DEFAULT_NULL else style.null


def expanded(headers: list[str], rows: list[list[str]], first_record: int = 1, *, value_w: int | None = None,
             multi: bool | None = None, last_record: int | None = None, numbered: bool = True) -> str:
    """psql's expanded display (``\\x``, border 1): one record after the other, one column
    per line, ``-[ RECORD n ]`` above each; a value's further lines go under it, with `+`
    after the line before; no record at all: ``(0 rows)``. ``value_w``, ``multi`` and
    ``last_record``: the widest value line, whether any value has several lines, and the
    last record's number of the whole result these rows belong to (default: these rows').
    ``numbered`` off (tuples only): a plain rule between records instead of the record lines."""
    if not rows or not headers:
        return ""  # psql shows only the footer, (0 rows)
    names = [h.split("\n") for h in headers]
    values = [[v.split("\n") for v in row] for row in rows]
    name_w = max(text_width(line) for n in names for line in n)
    if value_w is None:
        value_w = max((text_width(line) for row in values for v in row for line in v), default=0)
    if multi is None:
        multi = any(len(v) > 1 for row in values for v in row)
    sep_w = 3 + multi
    record_w = len(str(last_record or len(rows) + first_record - 1)) + 12 if numbered else 0  # "-[ RECORD  ]"
    value_w = max(name_w + sep_w + value_w, record_w) - name_w - sep_w
    out = []
    for number, row in enumerate(values, start=first_record):
        if not numbered:  # psql: a plain rule between records, none above the first
            if number > 1:
                out.append("-" * (name_w + 1) + "+" + "-" * (value_w + 1))
        else:
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
    if not q.returns_rows and not _zero_columns(q):  # a command's tag (psql's PrintQueryStatus: <p> in HTML)
        return documents.tag_line(style.fmt, q.command) if style.fmt == "html" else q.command
    if style.opts.numericlocale:
        q = replace(q, rows=tuple(localized(q.rows, [c.type_oid in ALIGN_RIGHT for c in q.columns])))
    if style.fmt in documents.FORMATS:
        text = document(q, style, footer(q))
        if q.command.split(" ", 1)[0] in _TAG_AFTER_ROWS:
            text += documents.tag_line(style.fmt, q.command) + "\n"
        return text.removesuffix("\n")
    if style.fmt == "unaligned":  # (its last record ends in a newline: the caller's line end)
        u = unaligned(q, style)
        text = u.head() + u.body(q.rows) + u.tail(footer(q))
        if q.command.split(" ", 1)[0] in _TAG_AFTER_ROWS:
            text += q.command + "\n"
        return text.removesuffix("\n")
    text = table(q, style)
    if style.fmt == "csv":
        return f"{text}\n{footer(q)}"
    shown = bool(text) or one_empty_line(q, style)
    expanded = style.expanded == "on" or (style.expanded == "auto" and text.startswith(("-[ RECORD", "* Record", "+-[ RECORD")))
    return (text + "\n" if shown else "") + after_table(q, style, shown=shown, expanded=expanded)


def after_table(q: QueryResult, style: Style, shown: bool = True, streamed: bool = False, tag: bool = True,
                expanded: bool | None = None) -> str:
    """What psql prints after a result's table: the footer and an empty line (none in
    expanded display unless nothing was shown or rows were left out), then the command
    tag of INSERT/UPDATE/DELETE/MERGE … RETURNING. ``streamed``: every row was printed
    as it came (none kept in ``q``); ``tag`` off: no command tag (psql's QUIET); ``expanded``:
    the table was drawn expanded (default: expanded display is on; ``\\x auto`` decides per table)."""
    cut = q.truncated and not streamed
    no_footer = style.opts.tuples_only or not style.opts.footer  # (psql's empty line stays)
    if expanded is None:
        expanded = style.expanded == "on"
    if (expanded and shown or no_footer) and not cut:
        out = ""
    else:
        out = f"{footer(q) if cut else '(' + _rows_word(q.rowcount) + ')'}\n"
    if tag and q.command.split(" ", 1)[0] in _TAG_AFTER_ROWS:
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
