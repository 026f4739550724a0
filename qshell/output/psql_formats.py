"""psql's print options (``\\pset``) and the formats they shape that the aligned table does not:
unaligned text (``-A``) and its expanded form, with psql's field and record separators.

psql's rules (``print_unaligned_text`` and ``print_unaligned_vertical`` in
src/fe_utils/print.c, reimplemented): values are written as the server sent them (a
machine format, as CSV: newlines, tabs and control characters untouched, NULL as the
null display), fields joined by ``fieldsep`` (a zero byte with ``fieldsep_zero``),
records by ``recordsep``; the last record always ends in a newline, or in a zero byte
with ``recordsep_zero`` (for ``xargs -0``). Tuples only (``-t``) leaves out the title,
the header and the footer. Expanded (``-x``): one ``name|value`` per line, records
separated by two record separators, no footer. Never touches the database.

At a terminal (``escape``) the text is shown as qshell's tables show it, control characters
escaped and tabs expanded (``qshell.common.visible``): data never drives the terminal. To a
file or a pipe, where scripts read it, it is psql's bytes.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from qshell.common.visible import expand_tabs, visible
from qshell.common.visible import width as text_width

# psql's \pset names in the order its \pset listing gives them (format, null and expanded
# are qshell settings of their own: ``Settings.format``, ``.null``, ``.expanded``)
PSET_NAMES = ("border", "columns", "csv_fieldsep", "expanded", "fieldsep", "fieldsep_zero", "footer", "format",
              "linestyle", "null", "numericlocale", "pager", "pager_min_lines", "recordsep", "recordsep_zero",
              "tableattr", "title", "tuples_only", "unicode_border_linestyle", "unicode_column_linestyle",
              "unicode_header_linestyle", "xheader_width")


@dataclass(frozen=True, slots=True)
class PrintOptions:
    """psql's print options but format, null and expanded, at psql's defaults."""

    border: int = 1
    columns: int = 0
    csv_fieldsep: str = ","
    fieldsep: str = "|"
    fieldsep_zero: bool = False
    footer: bool = True
    linestyle: str = "ascii"
    numericlocale: bool = False
    pager: int = 1
    pager_min_lines: int = 0
    recordsep: str = "\n"
    recordsep_zero: bool = False
    tableattr: str | None = None
    title: str | None = None
    tuples_only: bool = False
    unicode_border_linestyle: str = "single"
    unicode_column_linestyle: str = "single"
    unicode_header_linestyle: str = "single"
    xheader_width: str = "full"

    @property
    def field_sep(self) -> str:
        return "\0" if self.fieldsep_zero else self.fieldsep

    @property
    def record_sep(self) -> str:
        return "\0" if self.recordsep_zero else self.recordsep

    @property
    def end(self) -> str:
        """What ends the last record: a newline, whatever the record separator, but a zero byte."""
        return "\0" if self.recordsep_zero else "\n"


DEFAULT = PrintOptions()


def shown(text: str) -> str:
    """``text`` safe at a terminal: every line escaped (:func:`visible`), tabs expanded."""
    return "\n".join(expand_tabs(visible(line)) for line in text.split("\n"))


def shown_title(text: str) -> str:
    """A table's title safe at a terminal, its tabs kept (psql prints its title as it is:
    ``\\watch`` puts a tab between ``\\pset title`` and its date)."""
    return "\t".join(shown(part) for part in text.split("\t"))


def title_width(title: str) -> int:
    """The width psql centres a title by: its widest line, tabs counted to the next stop of 8."""
    return max(text_width(expand_tabs(line)) for line in title.split("\n"))


def _values(rows: Sequence[Sequence[str | None]], null: str, escape: bool) -> Sequence[Sequence[str]]:
    if escape:
        return [[shown(null if v is None else v) for v in row] for row in rows]
    try:
        for row in rows:
            "".join(row)  # type: ignore[arg-type]
        return rows  # type: ignore[return-value]
    except TypeError:
        return [[null if v is None else v for v in row] for row in rows]


class Unaligned:
    """A result in psql's unaligned format, written piece by piece as its rows come (the
    table is never held): :meth:`head`, :meth:`body` per batch, :meth:`tail`. Each piece is
    the exact text psql writes, separators included."""

    def __init__(self, names: Sequence[str], opts: PrintOptions, null: str, expanded: bool, escape: bool = True) -> None:
        self.escape = escape
        self.names = [shown(n) for n in names] if escape else list(names)
        self.opts = opts
        self.null = null
        self.expanded = expanded
        self.need_sep = False  # a record was written and its separator is still due
        self.count = 0

    def head(self, title: str | None = None) -> str:
        """The title and the header line (none of it with tuples only)."""
        opts, out = self.opts, ""
        title = opts.title if title is None else title
        if title is not None and self.escape:
            title = shown_title(title)
        if opts.tuples_only:
            return ""
        if self.expanded:
            if title is not None:
                self.need_sep = True
                return title
            return ""
        if title is not None:
            out = title + opts.record_sep
        if self.names:  # (no columns: psql writes no header, and no separator after it)
            out += opts.field_sep.join(self.names)
        self.need_sep = True
        return out

    def body(self, rows: Sequence[Sequence[str | None]]) -> str:
        """One batch of rows."""
        if not rows or not self.names:
            self.count += len(rows)
            return ""
        opts = self.opts
        rs, fs = opts.record_sep, opts.field_sep
        self.count += len(rows)
        if self.expanded:
            values = _values(rows, self.null, self.escape)
            records = [rs.join(n + fs + v for n, v in zip(self.names, row, strict=True)) for row in values]
            text = (rs + rs).join(records)
            lead = rs + rs if self.need_sep else ""
        else:
            try:  # text values, as the server sent them: the batch joined in C
                if self.escape:
                    raise TypeError
                text = rs.join(map(fs.join, rows))  # type: ignore[arg-type]
            except TypeError:  # a NULL (or the terminal's escaping): value by value
                text = rs.join(map(fs.join, _values(rows, self.null, self.escape)))
            lead = rs if self.need_sep else ""
        self.need_sep = True
        return lead + text

    def tail(self, footer: str | None) -> str:
        """The footer (``(N rows)``; none in expanded display, with tuples only or ``footer
        off``) and what ends the last record."""
        opts, out = self.opts, ""
        if footer is not None and opts.footer and not opts.tuples_only and not self.expanded:
            out = (opts.record_sep if self.need_sep else "") + footer
            self.need_sep = True
        if self.need_sep:
            out += opts.end
        return out


def quoted(text: str) -> str:
    """psql's ``\\pset`` listing of a text value: in single quotes, newline as ``\\n``, a quote as ``\\'``."""
    return "'" + text.replace("\n", "\\n").replace("'", "\\'") + "'"


_numeric: tuple[str, str, int] | None = None


def _conventions() -> tuple[str, str, int]:
    """(decimal point, thousands separator, digits a group) of the user's LC_NUMERIC, as psql
    takes them (``setDecimalLocale``): "." without one, a thousands separator of "," (or "."
    beside a decimal comma) without one, groups of 3 unless 1-6 is given. Read once, the
    process's locale left as it was."""
    global _numeric
    if _numeric is None:
        import locale

        saved = locale.setlocale(locale.LC_NUMERIC)
        point, sep, grouping = ".", "", []
        try:
            locale.setlocale(locale.LC_NUMERIC, "")
            conv = locale.localeconv()
            point, sep, grouping = str(conv["decimal_point"]), str(conv["thousands_sep"]), list(conv["grouping"])
        except locale.Error:
            pass  # (an unusable LC_NUMERIC: psql's C defaults)
        finally:
            locale.setlocale(locale.LC_NUMERIC, saved)
        point = point or "."
        sep = sep or ("," if point != "," else ".")
        group = grouping[0] if grouping and 0 < grouping[0] <= 6 else 3
        _numeric = point, sep, group
    return _numeric


def numeric_locale(text: str) -> str:
    """A number as ``\\pset numericlocale`` shows it (psql's ``format_numeric_locale``): its
    integer digits grouped, the locale's decimal point; text that is not made of digits,
    signs, points and exponents only is left as it is."""
    if text.strip("0123456789+-.eE"):
        return text
    point, sep, group = _conventions()
    sign = text[:1] if text[:1] in ("+", "-") else ""
    rest = text[len(sign):]
    digits = rest[: len(rest) - len(rest.lstrip("0123456789"))]
    lead = len(digits) % group or group
    out = sign + sep.join([digits[:lead]] + [digits[i:i + group] for i in range(lead, len(digits), group)]) if digits else sign
    tail = rest[len(digits):]
    if tail.startswith("."):
        out, tail = out + point, tail[1:]
    return out + tail


def localized(rows: Sequence[Sequence[str | None]], right: Sequence[bool]) -> list[tuple[str | None, ...]]:
    """``rows`` with every value of a right-aligned (numeric) column as :func:`numeric_locale` shows it."""
    return [tuple(numeric_locale(v) if r and v is not None else v for v, r in zip(row, right, strict=True)) for row in rows]
