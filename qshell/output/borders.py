"""psql's aligned table and expanded records in every border (0, 1, 2) and line style
(``ascii``, ``old-ascii``, ``unicode`` with its single/double border, column and header lines).

Border 1 in ASCII, psql's default, is drawn by ``result_tables.Layout`` (its fast path for big
results); everything else is drawn here value by value, from the same table text (values
escaped and cut as ``styles._cell`` makes them). The rules are psql's ``print_aligned_text``,
``print_aligned_vertical``, ``print_aligned_vertical_line``, ``_print_horizontal_line`` and
its line styles (``pg_asciiformat``, ``pg_asciiformat_old``, ``refresh_utf8format`` in
src/fe_utils/print.c), reimplemented. Checked against psql 18 in tests/test_pset.py. Never
touches the database.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from qshell.common.visible import width as text_width
from qshell.output.psql_formats import title_width

TOP, MIDDLE, BOTTOM, DATA = range(4)


@dataclass(frozen=True)
class LineStyle:
    """psql's printTextFormat: per rule (top, middle, bottom, data) its horizontal, left,
    middle and right pieces, and the marks of values that go on."""

    name: str
    rules: tuple[tuple[str, str, str, str], ...]
    midvrule_nl: str
    midvrule_wrap: str
    midvrule_blank: str
    header_nl_left: str
    header_nl_right: str
    nl_left: str
    nl_right: str
    wrap_left: str
    wrap_right: str
    wrap_right_border: bool


ASCII = LineStyle("ascii", (("-", "+", "+", "+"),) * 3 + (("", "|", "|", "|"),), "|", "|", "|", " ", "+", " ", "+",
                  ".", ".", True)
OLD_ASCII = LineStyle("old-ascii", (("-", "+", "+", "+"),) * 3 + (("", "|", "|", "|"),), ":", ";", " ", "+", " ",
                      " ", " ", " ", " ", False)

# the box-drawing characters psql's unicode style picks from, [single, double]
_H = ("\u2500", "\u2550")  # horizontal
_V = ("\u2502", "\u2551")  # vertical
_ROW_VR = (("\u251c", "\u255f"), ("\u255e", "\u2560"))  # header row: vertical and right [header][border]
_ROW_VL = (("\u2524", "\u2562"), ("\u2561", "\u2563"))  # vertical and left [header][border]
_COL_VH = (("\u253c", "\u256a"), ("\u256b", "\u256c"))  # column: vertical and horizontal [column][header]
_COL_UH = (("\u2534", "\u2567"), ("\u2568", "\u2569"))  # up and horizontal [column][border]
_COL_DH = (("\u252c", "\u2564"), ("\u2565", "\u2566"))  # down and horizontal [column][border]
_BORDER = (("\u2514", "\u2502", "\u250c", "\u2500", "\u2510", "\u2518"),  # up-right, vertical, down-right,
           ("\u255a", "\u2551", "\u2554", "\u2550", "\u2557", "\u255d"))  # horizontal, down-left, up-left


def unicode_style(border_style: str, column_style: str, header_style: str) -> LineStyle:
    """psql's unicode line style for its three ``unicode_*_linestyle`` settings."""
    b, c, h = (int(s == "double") for s in (border_style, column_style, header_style))
    up_right, vertical, down_right, horizontal, down_left, up_left = _BORDER[b]
    rules = ((horizontal, down_right, _COL_DH[c][b], down_left),
             (_H[h], _ROW_VR[h][b], _COL_VH[c][h], _ROW_VL[h][b]),
             (horizontal, up_right, _COL_UH[c][b], up_left),
             ("", vertical, _V[c], vertical))
    return LineStyle("unicode", rules, _V[c], _V[c], _V[c], " ", "\u21b5", " ", "\u21b5", "\u2026", "\u2026", True)


def line_style(name: str, border_style: str = "single", column_style: str = "single",
               header_style: str = "single") -> LineStyle:
    if name == "unicode":
        return unicode_style(border_style, column_style, header_style)
    return OLD_ASCII if name == "old-ascii" else ASCII


def _rule(widths: Sequence[int], border: int, fmt: LineStyle, pos: int) -> str:
    """A horizontal rule across the columns (psql's ``_print_horizontal_line``)."""
    h, left, mid, right = fmt.rules[pos]
    out = h if border == 1 else left + h if border == 2 else ""
    out += (" " if border == 0 else h + mid + h).join(h * w for w in widths)
    return out + (h + right if border == 2 else h if border == 1 else "")


def _cut(line: str, width: int) -> list[str]:
    """``line`` in pieces of at most ``width`` display columns (psql's ``strlen_max_width``:
    a character wider than what is left still goes in a piece of its own)."""
    if width <= 0 or text_width(line) <= width:
        return [line]
    pieces, piece, used = [], "", 0
    for c in line:
        w = text_width(c)
        if piece and used + w > width:
            pieces.append(piece)
            piece, used = "", 0
        piece += c
        used += w
    pieces.append(piece)
    return pieces


def _segments(lines: list[str], width: int) -> list[tuple[str, int]]:
    """A value's display lines at ``width``: (text, what follows: 0 nothing, 1 the same line
    wrapped, 2 its next line)."""
    out: list[tuple[str, int]] = []
    for k, line in enumerate(lines):
        pieces = _cut(line, width)
        for m, piece in enumerate(pieces):
            out.append((piece, 1 if m + 1 < len(pieces) else 2 if k + 1 < len(lines) else 0))
    return out


def shrink(names: list[list[str]], rows: list[list[list[str]]], border: int, columns: int) -> list[int]:
    """The column widths psql's wrapped format takes to fit ``columns`` (0: as wide as the
    values): the column whose widest value is furthest above its average loses a column at a
    time (1% of its width counted against it), never below its name."""
    n = len(names)
    header = [max([text_width(x) for x in lines] or [0]) for lines in names]
    widest = list(header)
    total_w = [0] * n
    for row in rows:
        for j, lines in enumerate(row):
            w = max(text_width(x) for x in lines)
            widest[j] = max(widest[j], w)
            total_w[j] += w
    wrap = list(widest)
    overhead = n if border == 0 else 3 * n - (1 if n else 0) if border == 1 else 3 * n + 1
    total, header_total = overhead + sum(widest), overhead + sum(header)
    if columns > 0 and columns >= header_total and rows:
        average = [t // len(rows) for t in total_w]
        while total > columns:
            worst, best = -1, 0.0
            for j in range(n):
                if average[j] and wrap[j] > header[j]:
                    ratio = wrap[j] / average[j] + widest[j] * 0.01
                    if ratio > best:
                        worst, best = j, ratio
            if worst < 0:
                break
            wrap[worst] -= 1
            total -= 1
    return wrap


def aligned(names: list[list[str]], rows: list[list[list[str]]], right: Sequence[bool], border: int,
            title: str | None, tuples_only: bool, fmt: LineStyle = ASCII, widths: list[int] | None = None,
            start: bool = True, stop: bool = True) -> str:
    """The table (title, header, rules, rows) without footer: ``names`` each column's name
    lines, ``rows`` each value's lines; ``widths``: the columns' widths when the wrapped
    format narrowed them (:func:`shrink`), values wrapped to them. ``start``/``stop`` off: a
    later / not the last chunk of a result printed by ``FETCH_COUNT`` (no title and header /
    no bottom rule), as psql's ``start_table`` and ``stop_table``."""
    n = len(names)
    data = fmt.rules[DATA]
    if widths is None:
        widths = [max([text_width(x) for x in lines] or [0]) for lines in names]
        for row in rows:
            for j, lines in enumerate(row):
                for line in lines:
                    widths[j] = max(widths[j], text_width(line))
    out: list[str] = []
    if not tuples_only and start:
        if title is not None:
            total = sum(widths) + (n if border == 0 else 3 * n - (1 if n else 0) if border == 1 else 3 * n + 1)
            room = total - title_width(title)
            out.append((" " * (room // 2) if room > 0 else "") + title)
        if border == 2:
            out.append(_rule(widths, border, fmt, TOP))
        done = [False] * n
        i = 0
        while not all(done):
            parts = [data[1] if border == 2 else ""]
            for j, lines in enumerate(names):
                if border != 0 or (not fmt.wrap_right_border and j > 0):
                    parts.append(fmt.header_nl_left if i else " ")
                if not done[j]:
                    gap = widths[j] - text_width(lines[i])
                    parts.append(" " * (gap // 2) + lines[i] + " " * ((gap + 1) // 2))
                    if i + 1 >= len(lines):
                        done[j] = True
                else:
                    parts.append(" " * widths[j])
                if border != 0 or fmt.wrap_right_border:
                    parts.append(fmt.header_nl_right if not done[j] else " ")
                if border != 0 and j < n - 1:
                    parts.append(data[2])
            if border == 2:
                parts.append(data[3])
            out.append("".join(parts))
            i += 1
        out.append(_rule(widths, border, fmt, MIDDLE))  # (no columns: psql draws it all the same)
    for row in rows if n else ():  # (rows of no columns: no line at all)
        segs = [_segments(lines, widths[j]) for j, lines in enumerate(row)]
        cur = [0] * n
        state = [0] * n  # what the column's last piece left: 0 nothing, 1 a wrap, 2 a newline
        more = True
        while more:
            more = False
            parts = [data[1] if border == 2 else ""]
            for j in range(n):
                final = border == 2 or j < n - 1
                if border != 0:
                    parts.append(fmt.wrap_left if state[j] == 1 else fmt.nl_left if state[j] == 2 else " ")
                used = widths[j]
                if cur[j] >= len(segs[j]):
                    if final:
                        parts.append(" " * widths[j])
                    state[j] = 0
                else:
                    text, state[j] = segs[j][cur[j]]
                    used = text_width(text)
                    parts.append(" " * (widths[j] - used) + text if right[j] else text)
                    cur[j] += 1
                    more = more or cur[j] < len(segs[j])
                if not right[j] and (final or state[j]):
                    parts.append(" " * (widths[j] - used))
                if state[j] == 1:
                    parts.append(fmt.wrap_right)
                elif state[j] == 2:
                    parts.append(fmt.nl_right)
                elif final:
                    parts.append(" ")
                if border != 0 and j < n - 1:
                    if state[j + 1] == 1:
                        parts.append(fmt.midvrule_wrap)
                    elif state[j + 1] == 2:
                        parts.append(fmt.midvrule_nl)
                    elif cur[j + 1] >= len(segs[j + 1]):
                        parts.append(fmt.midvrule_blank)
                    else:
                        parts.append(data[2])
            if border == 2:
                parts.append(data[3])
            out.append("".join(parts))
    if border == 2 and stop:
        out.append(_rule(widths, border, fmt, BOTTOM))
    return "\n".join(out)


def _record_line(fmt: LineStyle, border: int, record: int, hwidth: int, dwidth: int, pos: int,
                 xheader: str = "full", page: int = 0) -> str:
    """The line above a record (psql's ``print_aligned_vertical_line``): its number (none
    for tuples only), rules (borders 1 and 2) or spaces (border 0) to the table's width;
    ``xheader`` (``\\pset xheader_width``): to the records' width (full), to the names'
    (column), to ``page`` columns (page) or to that many (a number)."""
    h, left, mid, right = fmt.rules[pos]
    column = xheader == "column"
    out = left + h if border == 2 else h if border == 1 else ""
    label = ("* Record %d" if border == 0 else "[ RECORD %d ]") % record if record else ""
    out += label
    reclen = len(label) + (0 if border == 2 else 1)
    fill = h if border > 0 else " "
    out += fill * max(0, hwidth - reclen)
    reclen -= hwidth
    for part in (h, right if column else mid, "" if column else h) if border > 0 else (" ",):
        if reclen <= 0:
            out += part
        reclen -= 1
    if column:
        return out
    if xheader != "full":
        limit = page if xheader == "page" else int(xheader)
        if limit > 0:
            dwidth = min(dwidth, max(0, limit - hwidth - {0: 0, 1: 3}.get(border, 7)))
    out += fill * max(0, max(dwidth, reclen) - max(reclen, 0))
    if border == 2:
        out += h + right
    return out


def vertical(names: list[list[str]], rows: list[list[list[str]]], border: int, title: str | None,
             tuples_only: bool, first_record: int = 1, last_record: int | None = None, line_border: int | None = None,
             fmt: LineStyle = ASCII, xheader: str = "full", page: int = 0, wrap_to: int = 0,
             start: bool = True, stop: bool = True) -> str:
    """Expanded records (``\\x``), without the empty line after them. ``line_border``: the
    border the record lines take (psql 18 draws them with the border as set, unclamped: 3
    for any above 2); ``wrap_to``: the wrapped format's width (values wrapped to fit it)."""
    lb = border if line_border is None else line_border
    old = fmt.name == "old-ascii"
    data = fmt.rules[DATA]
    hwidth = max([text_width(x) for lines in names for x in lines] or [0])
    dwidth = max([text_width(x) for row in rows for v in row for x in v] or [0])
    hmulti = any(len(lines) > 1 for lines in names)
    dmulti = any(len(v) > 1 for row in rows for v in row)
    swidth = (1 + hmulti) if border == 0 else (3 + (hmulti and old)) if border == 1 else 7
    if dmulti and border < 2 and not old:
        swidth += 1
    rwidth = 0
    if not tuples_only:  # (psql: the digits of this chunk's row count)
        rwidth = (len(str(len(rows))) if rows else 0) + (9 if border == 0 else 12 if border == 1 else 15)
    while True:  # (psql: the data width, and when wrapping needs a mark's column, once more)
        width = max(hwidth + swidth + dwidth, rwidth)
        if wrap_to > 0:
            least = max(hwidth + swidth + 3, rwidth)
            new = width if wrap_to >= width else least if wrap_to < least else wrap_to
        else:
            new = width
        new -= hwidth + swidth
        if wrap_to > 0 and new < dwidth and not dmulti and border < 2 and not old:
            dmulti = True
            swidth += 1
            continue
        break
    dwidth = new
    lhwidth = hwidth + (1 if border < 2 and hmulti and old else 0)
    out: list[str] = []
    if title is not None and not tuples_only and start:
        out.append(title)
    for k, row in enumerate(rows if names else []):  # (rows of no columns: no cells, no records)
        pos = TOP if k == 0 else MIDDLE
        if not tuples_only:
            out.append(_record_line(fmt, lb, first_record + k, lhwidth, dwidth, pos, xheader, page))
        elif k or not start or border == 2:
            out.append(_record_line(fmt, lb, 0, lhwidth, dwidth, pos, xheader, page))
        for hlines, dlines in zip(names, row, strict=True):
            dsegs = _segments(dlines, dwidth if wrap_to else 0)
            for i in range(max(len(hlines), len(dsegs))):
                line = data[1] if border == 2 else ""
                if i < len(hlines):
                    if border == 2 or (hmulti and old):
                        line += fmt.header_nl_left if i else " "
                    text = hlines[i]
                    line += text + " " * (hwidth - text_width(text))
                    if border > 0 or (hmulti and not old):
                        line += fmt.header_nl_right if i + 1 < len(hlines) else " "
                else:
                    line += " " * (hwidth + border + (1 if border < 2 and hmulti and old else 0)
                                   + (1 if border == 0 and not old and hmulti else 0))
                wrapped = i > 0 and (dsegs[i - 1][1] == 1 if i < len(dsegs) else bool(dsegs[-1][0]))
                if border > 0:  # psql: by the data line (once the value ended, its last, after its text)
                    newlines = sum(1 for _, kind in dsegs[:i] if kind == 2)
                    line += fmt.midvrule_wrap if wrapped else data[2] if newlines == 0 else fmt.midvrule_nl
                if i < len(dsegs):
                    text, kind = dsegs[i]
                    line += (fmt.wrap_left if wrapped else " ") + text
                    pad = " " * (dwidth - text_width(text))
                    if kind:
                        if border > 1 or (dmulti and not old):
                            line += pad + (fmt.wrap_right if kind == 1 else fmt.nl_right)
                    elif border > 1:
                        line += pad + " "
                    if border == 2:
                        line += data[3]
                elif border == 2:
                    line += " " * dwidth + "  " + data[3]
                out.append(line)
    if border == 2 and stop and (rows or not start):
        out.append(_record_line(fmt, lb, 0, hwidth, dwidth, BOTTOM, xheader, page))
    return "\n".join(out)
