"""psql's output control: ``\\pset`` with every option psql 18 has, its listing, and the
shortcuts ``\\a \\t \\f \\C \\H \\T`` (``\\x`` is the shell's own).

A command group the ``Shell`` holds (``shell.pset``). What each option does and says is
psql's ``do_pset`` and ``printPsetInfo`` (src/bin/psql/command.c), reimplemented and
checked against psql 18 itself in tests/test_pset.py. Three options are qshell settings
of their own, so that ``\\set`` and ``\\pset`` are two spellings of one thing: ``format``
(``Settings.format``), ``null`` (``Settings.null``, qshell's default ``<null>``) and
``expanded`` (``Settings.expanded``); ``pager`` is ``Settings.pager`` as well. The rest
are a :class:`PrintOptions`.

Every format psql has is drawn, every option acts as in psql (docs/guide/psql.md), so a
psql user's ``.psqlrc`` works unchanged.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Any, Protocol

from qshell.common.errors import UsageError
from qshell.common.visible import visible
from qshell.output.psql_formats import DEFAULT, PSET_NAMES, PrintOptions, quoted
from qshell.script.commands import Command
from qshell.script.variables import parse_bool
from qshell.shell.settings import Settings

PSQL_FORMATS = ("aligned", "asciidoc", "csv", "html", "latex", "latex-longtable", "troff-ms", "unaligned", "wrapped")
_ALIASES = {"x": "expanded", "vertical": "expanded", "t": "tuples_only", "C": "title"}
_BOOL_OPTIONS = ("numericlocale", "tuples_only", "footer")


class PsetHost(Protocol):
    """What the group needs of the shell."""

    settings: Settings

    def say(self, text: str) -> None: ...
    def _args(self, cmd: Command, take: int | None = None, semicolon: bool = False) -> list[str]: ...
    def write(self, text: str) -> None: ...
    def _where_notice(self, text: str) -> None: ...
    @property
    def json(self) -> bool: ...


def _atoi(text: str) -> int:
    """C's atoi, as psql reads border, columns and pager_min_lines: leading blanks, a sign,
    digits; 0 when there are none."""
    s = text.lstrip(" \t\n\r\f\v")
    sign, i = 1, 0
    if s[:1] in "+-" and s:
        sign, i = (-1 if s[0] == "-" else 1), 1
    j = i
    while j < len(s) and s[j].isascii() and s[j].isdigit():
        j += 1
    return sign * int(s[i:j]) if j > i else 0


def _prefix(value: str, options: tuple[str, ...], what: str) -> str:
    """psql's abbreviation match (case-insensitive prefix); an exact name, or one every other
    match begins with (``l``: latex, not latex-longtable), wins; else ambiguous."""
    v = value.lower()
    found = [o for o in options if o.startswith(v)]
    if v in found:
        return v
    if found and all(o.startswith(found[0]) for o in found):
        return found[0]
    if len(found) > 1:
        raise UsageError(f'\\pset: ambiguous abbreviation "{value}" matches both "{found[0]}" and "{found[1]}"')
    raise UsageError(what)


def _with(opts: PrintOptions, **changes: Any) -> PrintOptions:
    """``opts`` with options named at run time changed (``dataclasses.replace``)."""
    return replace(opts, **changes)


def _bool(value: str, name: str) -> bool:
    parsed = parse_bool(value)
    if parsed is None:
        raise UsageError(f'unrecognized value "{value}" for "{name}": Boolean expected')
    return parsed


def apply(opts: PrintOptions, settings: Settings, param: str, value: str | None) -> tuple[PrintOptions, Settings, bool]:
    """``\\pset param value`` (``value`` None: no value given) on these options and
    settings: the new ones, and whether psql then says the state (it does not after a
    value given to numericlocale, tuples_only or footer). UsageError with psql's message."""
    name = _ALIASES.get(param, param)
    o, s = opts, settings
    if name == "format":
        if value is not None:
            fmt = _prefix(value, PSQL_FORMATS, "\\pset: allowed formats are " + ", ".join(PSQL_FORMATS))
            s = replace(s, format=fmt)
    elif name == "linestyle":
        if value is not None:
            o = replace(o, linestyle=_prefix(value, ("ascii", "old-ascii", "unicode"),
                                             "\\pset: allowed line styles are ascii, old-ascii, unicode"))
    elif name.startswith("unicode_") and name.endswith("_linestyle") and name in PSET_NAMES:
        if value is not None:
            kind = name.split("_")[1]
            style = _prefix(value, ("single", "double"),
                            f"\\pset: allowed Unicode {kind} line styles are single, double")
            o = _with(o, **{name: style})
    elif name == "border":
        if value is not None:
            o = replace(o, border=_atoi(value) % 65536)  # (psql keeps it in an unsigned short)
    elif name == "expanded":
        if value is not None and value.lower() == "auto":
            s = replace(s, expanded="auto")
        elif value is not None:
            on = parse_bool(value)
            if on is None:
                raise UsageError(f'unrecognized value "{value}" for "{param}"\nAvailable values are: on, off, auto.')
            s = replace(s, expanded="on" if on else "off")
        else:  # psql: auto toggles to off
            s = replace(s, expanded="off" if s.expanded != "off" else "on")
    elif name == "xheader_width":
        if value is not None:
            v = value.lower()
            if v in ("full", "column", "page"):
                o = replace(o, xheader_width=v)
            else:
                if not value.strip().lstrip("-").isdigit():
                    raise UsageError('\\pset: allowed xheader_width values are "full" (default), "column", "page", '
                                     "or a number specifying the exact width")
                o = replace(o, xheader_width=str(_atoi(value)))
    elif name == "csv_fieldsep":
        if value is not None:
            if len(value.encode("utf-8")) != 1:
                raise UsageError("\\pset: csv_fieldsep must be a single one-byte character")
            if value in '"\n\r':
                raise UsageError("\\pset: csv_fieldsep cannot be a double quote, a newline, or a carriage return")
            o = replace(o, csv_fieldsep=value)
    elif name in _BOOL_OPTIONS:
        if value is not None:
            return _with(o, **{name: _bool(value, param)}), s, False
        o = _with(o, **{name: not getattr(o, name)})
    elif name == "null":
        if value is not None:
            s = replace(s, null=value)
    elif name in ("fieldsep", "recordsep"):
        if value is not None:
            o = _with(o, **{name: value, name + "_zero": False})
    elif name in ("fieldsep_zero", "recordsep_zero"):
        o = _with(o, **{name: True})
    elif name == "title":
        o = replace(o, title=value)
    elif name == "tableattr":
        o = replace(o, tableattr=value)
    elif name == "pager":
        if value is not None and value.lower() == "always":
            o = replace(o, pager=2)
        elif value is not None:
            on = parse_bool(value)
            if on is None:
                raise UsageError(f'unrecognized value "{value}" for "{param}"\nAvailable values are: on, off, always.')
            o = replace(o, pager=int(on))
        else:
            o = replace(o, pager=0 if pager_state(o, s) == 1 else 1)
        s = replace(s, pager=o.pager != 0)
    elif name == "pager_min_lines":
        if value is not None:
            o = replace(o, pager_min_lines=_atoi(value))
    elif name == "columns":
        if value is not None:
            o = replace(o, columns=_atoi(value))
    else:
        raise UsageError(f"\\pset: unknown option: {param}")
    return o, s, True


def pager_state(opts: PrintOptions, settings: Settings) -> int:
    """psql's pager value (0 off, 1 on, 2 always) from qshell's pager setting (which ``\\pager`` toggles)."""
    return 0 if not settings.pager else opts.pager or 1


def info(opts: PrintOptions, settings: Settings, param: str) -> str:
    """What psql says about ``param`` after setting it (``printPsetInfo``)."""
    name = _ALIASES.get(param, param)
    if name == "border":
        return f"Border style is {opts.border}."
    if name == "columns":
        return f"Target width is {opts.columns}." if opts.columns else "Target width is unset."
    if name == "expanded":
        return {"on": "Expanded display is on.", "auto": "Expanded display is used automatically."}.get(
            settings.expanded, "Expanded display is off.")
    if name == "csv_fieldsep":
        return f'Field separator for CSV is "{opts.csv_fieldsep}".'
    if name == "fieldsep":
        return "Field separator is zero byte." if opts.fieldsep_zero else f'Field separator is "{opts.fieldsep}".'
    if name == "fieldsep_zero":
        return "Field separator is zero byte."
    if name == "footer":
        return f"Default footer is {'on' if opts.footer else 'off'}."
    if name == "format":
        return f"Output format is {settings.format}."
    if name == "linestyle":
        return f"Line style is {opts.linestyle}."
    if name == "null":
        return f'Null display is "{settings.null}".'
    if name == "numericlocale":
        return f"Locale-adjusted numeric output is {'on' if opts.numericlocale else 'off'}."
    if name == "pager":
        return ("Pager usage is off.", "Pager is used for long output.", "Pager is always used.")[pager_state(opts, settings)]
    if name == "pager_min_lines":
        n = opts.pager_min_lines
        return f"Pager won't be used for less than {n} line{'' if n == 1 else 's'}."
    if name == "recordsep":
        if opts.recordsep_zero:
            return "Record separator is zero byte."
        return "Record separator is <newline>." if opts.recordsep == "\n" else f'Record separator is "{opts.recordsep}".'
    if name == "recordsep_zero":
        return "Record separator is zero byte."
    if name == "tableattr":
        return "Table attributes unset." if opts.tableattr is None else f'Table attributes are "{opts.tableattr}".'
    if name == "title":
        return "Title is unset." if opts.title is None else f'Title is "{opts.title}".'
    if name == "tuples_only":
        return f"Tuples only is {'on' if opts.tuples_only else 'off'}."
    if name.startswith("unicode_"):
        return f'Unicode {name.split("_")[1]} line style is "{getattr(opts, name)}".'
    if name == "xheader_width":
        w = opts.xheader_width
        return f'Expanded header width is "{w}".' if w in ("full", "column", "page") else f"Expanded header width is {w}."
    raise UsageError(f"\\pset: unknown option: {param}")


def value_text(opts: PrintOptions, settings: Settings, name: str) -> str:
    """An option's value as psql's ``\\pset`` listing shows it (``pset_value_string``)."""
    if name == "format":
        return settings.format
    if name == "null":
        return quoted(settings.null)
    if name == "expanded":
        return settings.expanded
    if name == "pager":
        return str(pager_state(opts, settings))
    value = getattr(opts, name)
    if name in ("fieldsep", "recordsep") and getattr(opts, name + "_zero"):
        return quoted("")  # (psql drops the text for the zero byte)
    if name in ("csv_fieldsep", "fieldsep", "recordsep"):
        return quoted(value)
    if name == "title":
        return "" if value is None else quoted(value)
    if name == "tableattr":
        return "" if value is None else quoted(value)
    if isinstance(value, bool):
        return "on" if value else "off"
    return str(value)


def listing(opts: PrintOptions, settings: Settings) -> str:
    """``\\pset`` without arguments: every option and its value, as psql lists them."""
    return "\n".join(f"{name:<24} {value_text(opts, settings, name)}".rstrip("\n") for name in PSET_NAMES)


class PsetCommands:
    """``\\pset`` and its shortcuts; holds psql's print options (``options``)."""

    def __init__(self, shell: PsetHost) -> None:
        self.shell = shell
        self.options: PrintOptions = DEFAULT

    def set(self, param: str, value: str | None) -> None:
        """``\\pset param value``: applied, then said as psql says it (unless QUIET)."""
        shell = self.shell
        self.options, shell.settings, say = apply(self.options, shell.settings, param, value)
        if say:
            shell.say(info(self.options, shell.settings, param))

    def do_pset(self, cmd: Command) -> None:
        words = self.shell._args(cmd)
        if not words:
            if self.shell.json:  # the output stays JSON lines: one object of every option's value
                from qshell.output.json_lines import json_line

                self.shell.write(json_line({"type": "pset", **{name: value_text(self.options, self.shell.settings, name)
                                                               for name in PSET_NAMES}}))
                return
            self.shell.write(listing(self.options, self.shell.settings))
            return
        try:
            self.set(words[0], words[1] if len(words) > 1 else None)
        finally:
            self._extra("pset", words[2:])

    def _extra(self, name: str, words: list[str]) -> None:
        """psql warns of the words a command does not take after running it."""
        for word in words:
            self.shell._where_notice(f'\\{name}: extra argument "{visible(word)}" ignored')

    def do_a(self, cmd: Command) -> None:
        """psql's \\a: unaligned from aligned, aligned from any other format."""
        self.shell._args(cmd, take=0)
        self.set("format", "unaligned" if self.shell.settings.format == "aligned" else "aligned")

    def do_t(self, cmd: Command) -> None:
        """psql's \\t [on|off]: tuples only (no header, no footer)."""
        value = self.shell._args(cmd)
        self.set("tuples_only", value[0] if value else None)
        self._extra("t", value[1:])

    def do_f(self, cmd: Command) -> None:
        """psql's \\f [SEP]: the field separator of the unaligned format."""
        value = self.shell._args(cmd)
        self.set("fieldsep", value[0] if value else None)
        self._extra("f", value[1:])

    def do_C(self, cmd: Command) -> None:  # noqa: N802 - psql's name
        """psql's \\C [TITLE]: the title printed above tables (none: unset)."""
        value = self.shell._args(cmd)
        self.set("title", value[0] if value else None)
        self._extra("C", value[1:])

    def do_T(self, cmd: Command) -> None:  # noqa: N802 - psql's name
        """psql's \\T [ATTRIBUTES]: the HTML table tag's attributes (none: unset)."""
        value = self.shell._args(cmd)
        self.set("tableattr", value[0] if value else None)
        self._extra("T", value[1:])

    def do_H(self, cmd: Command) -> None:  # noqa: N802 - psql's name
        """psql's \\H: HTML output, or aligned again."""
        self.shell._args(cmd, take=0)
        self.set("format", "aligned" if self.shell.settings.format == "html" else "html")
