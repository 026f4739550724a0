"""psql's aligned table and expanded records with ``\\pset border 0`` and ``2`` (ASCII line style).

Border 1, psql's default, is drawn by ``result_tables.Layout`` (its fast path for big
results); these other borders are drawn here value by value, from the same table text
(values escaped and cut as ``styles._cell`` makes them). The rules are psql's
``print_aligned_text``, ``print_aligned_vertical`` and ``print_aligned_vertical_line``
(src/fe_utils/print.c), reimplemented for the ASCII style: ``+`` where rules cross, ``|``
between columns, ``+`` after a line of a value that goes on. Checked against psql 18 in
tests/test_pset.py. Never touches the database.
"""
from __future__ import annotations

from typing import Sequence

from qshell.common.visible import width as text_width


def _rule(widths: Sequence[int], border: int) -> str:
    """A horizontal rule across the columns (psql's ``_print_horizontal_line``, ASCII)."""
    if border == 0:
        return " ".join("-" * w for w in widths)
    return "+-" + "-+-".join("-" * w for w in widths) + "-+"


def aligned(names: list[list[str]], rows: list[list[list[str]]], right: Sequence[bool], border: int,
            title: str | None, tuples_only: bool) -> str:
    """The table (title, header, rules, rows) without footer: ``names`` each column's name
    lines, ``rows`` each value's lines, ``border`` 0 or 2."""
    n = len(names)
    widths = [max([text_width(x) for x in lines] or [0]) for lines in names]
    for row in rows:
        for j, lines in enumerate(row):
            for line in lines:
                widths[j] = max(widths[j], text_width(line))
    out: list[str] = []
    if not tuples_only:
        if title is not None:
            total = sum(widths) + (n if border == 0 else 3 * n + 1)
            room = total - text_width(title)
            out.append((" " * (room // 2) if room > 0 else "") + title)
        if border == 2:
            out.append(_rule(widths, border))
        for i in range(max([len(x) for x in names] or [0])):
            parts = ["|" if border == 2 else ""]
            for j, lines in enumerate(names):
                if border != 0:
                    parts.append(" ")
                if i < len(lines):
                    gap = widths[j] - text_width(lines[i])
                    parts.append(" " * (gap // 2) + lines[i] + " " * ((gap + 1) // 2))
                    parts.append("+" if i < len(lines) - 1 else " ")
                else:
                    parts.append(" " * widths[j] + " ")
                if border != 0 and j < n - 1:
                    parts.append("|")
            if border == 2:
                parts.append("|")
            out.append("".join(parts))
        out.append(_rule(widths, border))  # (no columns: psql draws it all the same)
    for row in rows if n else ():  # (rows of no columns: no line at all)
        for i in range(max([len(v) for v in row] or [1])):
            parts = ["|" if border == 2 else ""]
            for j, lines in enumerate(row):
                final = border == 2 or j < n - 1
                if border != 0:
                    parts.append(" ")
                more = i + 1 < len(lines)
                if i >= len(lines):
                    if final:
                        parts.append(" " * widths[j])
                else:
                    text = lines[i]
                    pad = " " * (widths[j] - text_width(text))
                    if right[j]:
                        parts.append(pad + text)
                    else:
                        parts.append(text + (pad if final or more else ""))
                if more:
                    parts.append("+")
                elif final:
                    parts.append(" ")
                if border != 0 and j < n - 1:
                    parts.append("|")
            if border == 2:
                parts.append("|")
            out.append("".join(parts))
    if border == 2:
        out.append(_rule(widths, border))
    return "\n".join(out)


def _record_line(border: int, record: int, hwidth: int, dwidth: int) -> str:
    """The line above a record (psql's ``print_aligned_vertical_line``, ASCII): its number
    (none for tuples only), rules (border 2) or spaces (border 0) to the table's width."""
    out = "+-" if border == 2 else ""
    label = ("* Record %d" if border == 0 else "[ RECORD %d ]") % record if record else ""
    out += label
    reclen = len(label) + (0 if border == 2 else 1)
    fill = "-" if border > 0 else " "
    out += fill * max(0, hwidth - reclen)
    reclen -= hwidth
    for part in ("-", "+", "-") if border > 0 else (" ",):
        if reclen <= 0:
            out += part
        reclen -= 1
    out += fill * max(0, dwidth - max(reclen, 0))
    if border == 2:
        out += "-+"
    return out


def vertical(names: list[list[str]], rows: list[list[list[str]]], border: int, title: str | None,
             tuples_only: bool, first_record: int = 1, last_record: int | None = None, line_border: int | None = None) -> str:
    """Expanded records (``\\x``) for border 0 or 2, without the empty line after them.
    ``line_border``: the border the record lines take (psql 18 draws them with the border as
    set, unclamped: 3 for any above 2)."""
    lb = border if line_border is None else line_border
    hwidth = max(text_width(x) for lines in names for x in lines)
    dwidth = max([text_width(x) for row in rows for v in row for x in v] or [0])
    hmulti = any(len(lines) > 1 for lines in names)
    dmulti = any(len(v) > 1 for row in rows for v in row)
    swidth = (1 + hmulti + dmulti) if border == 0 else 7
    rwidth = 0
    if not tuples_only:
        last = last_record or first_record + len(rows) - 1
        rwidth = len(str(last)) + (9 if border == 0 else 15)
    dwidth = max(hwidth + swidth + dwidth, rwidth) - hwidth - swidth
    out: list[str] = []
    if title is not None and not tuples_only:
        out.append(title)
    for k, row in enumerate(rows):
        if not tuples_only:
            out.append(_record_line(lb, first_record + k, hwidth, dwidth))
        elif k or border == 2:
            out.append(_record_line(lb, 0, hwidth, dwidth))
        for hlines, dlines in zip(names, row, strict=True):
            for i in range(max(len(hlines), len(dlines))):
                line = "|" if border == 2 else ""
                if i < len(hlines):
                    if border == 2:
                        line += " "
                    text = hlines[i]
                    line += text + " " * (hwidth - text_width(text))
                    if i + 1 < len(hlines):
                        line += "+" if border > 0 or hmulti else ""
                    elif border > 0 or hmulti:
                        line += " "
                else:
                    line += " " * (hwidth + border + (1 if border == 0 and hmulti else 0))
                if border > 0:
                    line += "|"
                if i < len(dlines):
                    text = dlines[i]
                    line += " " + text
                    pad = " " * (dwidth - text_width(text))
                    if i + 1 < len(dlines):
                        if border > 1 or dmulti:
                            line += pad + "+"
                    elif border > 1:
                        line += pad + " "
                    if border == 2:
                        line += "|"
                elif border == 2:
                    line += " " * dwidth + "  |"
                out.append(line)
    if border == 2 and rows:
        out.append(_record_line(lb, 0, hwidth, dwidth))
    return "\n".join(out)
