"""How values look as text: the Style of output, the table formats (tabulate's and qshell's own), durations, and shortening.

Never touches the database. Values are printed exactly as the server sent them
(tabulate's number parsing is off); NULL is shown as the ``null`` setting so it
differs from an empty string.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterator, Sequence

from qshell.common.visible import cell_lines, expand_tabs, visible
from qshell.common.visible import width as text_width
from qshell.output.psql_formats import DEFAULT as DEFAULT_PRINT
from qshell.output.psql_formats import PrintOptions

if TYPE_CHECKING:  # pragma: no cover
    from types import ModuleType


# drawn without tabulate (psql's formats) or not tables at all (json)
_OWN_FORMATS = ("aligned", "asciidoc", "csv", "html", "json", "latex", "latex-longtable", "troff-ms", "unaligned",
                "wrapped")
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
DEFAULT_NULL = "<null>"  # qshell's NULL in tables (psql's is empty: see README)
SQL_PREVIEW = 48  # characters of SQL in the summary table

JSON_SCHEMA_VERSION = 1


@dataclass(frozen=True, slots=True)
class Style:
    fmt: str = "aligned"  # psql's own table look (tabulate's "psql" is a boxed variant)
    null: str = "<null>"
    maxwidth: int = 80  # longest value shown in a table cell (JSON is never shortened)
    expanded: str = "off"  # \x: off, on, auto (expanded when the table is wider than ``width``)
    width: int = 100  # terminal width, for \x auto
    opts: PrintOptions = DEFAULT_PRINT  # psql's other \pset options (tuples only, separators, title, footer)
    tty: bool = True  # the output is a terminal: \x auto and the wrapped format then use ``width`` (psql: none else)


def ms(seconds: float) -> str:
    """Milliseconds with one decimal, rounded from the JSON's figure (3 decimals), so that
    the terminal, JSON and report never round one number two ways (101.5504 → 101.550 → 101.5)."""
    return f"{round(seconds * 1000, 3):.1f}"


def load_number(value: float) -> str:
    """A load's count or rate: whole from 100 up (and when whole), else one decimal."""
    return f"{value:,.0f}" if value >= 100 or float(value).is_integer() else f"{value:,.1f}"


def bound(ms: float) -> str:
    """A histogram bound: 50 µs, 2 ms, 1 s (the 1-2-5 series needs no decimals)."""
    if ms < 1:
        return f"{ms * 1000:g} µs"
    return f"{ms:g} ms" if ms < 1000 else f"{ms / 1000:g} s"


def duration(seconds: float) -> str:
    """12.3 ms below a second, else 1.234 s; rounded from the JSON's milliseconds first (as ``ms``)."""
    millis = round(seconds * 1000, 3)
    return f"{millis:.1f} ms" if millis < 1000 else f"{millis / 1000:.3f} s"


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
