"""The settings of ``\\set``: one table of names, parsers, defaults and help."""
from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any, Callable

from qshell.common.errors import UsageError
from qshell.common.numbers import DECIMAL, DEFAULT_KEEP, INT_MAX, MAX_WORKERS, whole
from qshell.output.styles import FORMATS

_TRUE = {"on", "true", "1", "yes"}
_FALSE = {"off", "false", "0", "no"}


def _bool(value: str) -> bool:
    v = value.strip().lower()
    if v in _TRUE:
        return True
    if v in _FALSE:
        return False
    raise ValueError("expected on or off")


def _int(minimum: int, maximum: int = INT_MAX) -> Callable[[str], int]:
    def parse(value: str) -> int:
        return whole(value, minimum, maximum)

    return parse


def _maxwidth(value: str) -> int | None:
    if value.strip().lower() in ("", "auto", "default"):
        return None
    return _int(4)(value)


def _workers(value: str) -> int | None:
    if value.strip().lower() in ("", "auto", "default"):
        return None
    return _int(1, MAX_WORKERS)(value)


def _format(value: str) -> str:
    if value not in FORMATS:
        raise ValueError(f"unknown format; one of: {', '.join(FORMATS)}")
    return value


def _choice(*options: str) -> Callable[[str], str]:
    def parse(value: str) -> str:
        v = " ".join(value.lower().split())
        if v not in options:
            raise ValueError(f"one of: {', '.join(options)}")
        return v

    return parse


def _auto_bool(value: str) -> bool | None:
    if value.strip().lower() in ("", "auto", "default"):
        return None
    return _bool(value)


def _isolation(value: str) -> str | None:
    v = _choice("default", "read committed", "repeatable read", "serializable")(value)
    return None if v == "default" else v


MAX_TIMEOUT_MS = INT_MAX  # statement_timeout is an integer of milliseconds

_UNITS = {"ms": 1, "s": 1000, "sec": 1000, "min": 60000, "m": 60000, "h": 3600000}


def parse_duration_ms(value: str) -> int | None:
    """'5s', '500ms', '2min', '1.5s', a bare number of seconds; 'off' or 0 for none.

    At most 2147483647 ms (about 24.8 days), the server's limit for statement_timeout."""
    import re
    from decimal import Decimal

    v = value.strip().lower()
    if v in ("", "off", "none", "0"):
        return None
    m = re.fullmatch(f"({DECIMAL})\\s*(ms|s|sec|min|m|h)?", v)
    if not m:
        raise ValueError("expected a duration like 5s, 500ms, 2min (or off)")
    ms = round(Decimal(m.group(1)) * _UNITS[m.group(2) or "s"])  # exact: no float overflow
    if not 1 <= ms <= MAX_TIMEOUT_MS:
        raise ValueError(f"expected a duration from 1ms to {MAX_TIMEOUT_MS}ms (about 24.8 days), or off")
    return ms


TERMINAL_MAXWIDTH = 80  # maxwidth auto at a terminal


@dataclass(frozen=True, slots=True)
class Settings:
    workers: int | None = None
    maxrows: int = 100
    format: str = "aligned"
    null: str = "<null>"
    maxwidth: int | None = None  # None: auto, TERMINAL_MAXWIDTH at a terminal, no limit in a file or pipe
    on_error_stop: bool = False
    tx: str = "autocommit"
    isolation: str | None = None
    readonly: bool = False
    order: str = "fifo"
    timeline: bool = False
    sample: bool = True
    timeout: int | None = None  # ms
    on_error: str = "continue"
    expanded: str = "off"
    pager: bool = True
    timing: bool = False
    history_keep: int = DEFAULT_KEEP
    csv_rows: bool = False
    retries: int = 0
    latency_limit: int | None = 1000  # ms
    resources: bool | None = None  # None: auto (on when pg_stat_statements is usable)
    explain: str = "off"


HELP: dict[str, tuple[Callable[[str], Any], str]] = {
    "workers": (_workers, "default N of a bare \\go (auto: the staged count)"),
    "maxrows": (_int(0), "rows kept and shown per result (the true count is always given)"),
    "format": (_format, "table format: psql's (aligned, unaligned, wrapped, csv, html, asciidoc, latex, latex-longtable, troff-ms: \\pset format), json, or any other tabulate format"),
    "null": (str, "how NULL is shown in tables"),
    "maxwidth": (_maxwidth, f"longest value shown in a table cell (auto: {TERMINAL_MAXWIDTH} at a terminal, whole in a file or pipe, as psql; JSON is never shortened)"),
    "on_error_stop": (_bool, "stop a script at the first error (exit 3)"),
    "tx": (_choice("autocommit", "rollback"), "staged queries: autocommit, or each in a transaction rolled back"),
    "isolation": (_isolation, "isolation level of each staged query (default, read committed, repeatable read, serializable)"),
    "readonly": (_bool, "every session default_transaction_read_only (explore production safely)"),
    "order": (_choice("fifo", "longest-first"), "queue order: staged (fifo) or longest-first (the longest measured first: LPT)"),
    "timeline": (_bool, "draw the worker timeline after every run"),
    "sample": (_bool, "sample pg_stat_activity during runs: wait events, blocking (one extra connection)"),
    "timeout": (parse_duration_ms, "server-side statement_timeout of each staged query (5s, 500ms; off)"),
    "on_error": (_choice("continue", "cancel"), "a failing staged query: let the others finish, or cancel the run"),
    "expanded": (_choice("off", "on", "auto"), "expanded display, one column per line (\\x); auto when too wide"),
    "pager": (_bool, "page long output in a terminal through $PAGER (less -SRXF)"),
    "timing": (_bool, "print the time of each plain statement (\\timing), as psql"),
    "history_keep": (_int(1), "per staged set, the last K runs whose per-query times the run history keeps"),
    "csv_rows": (_bool, "CSV format: \\go prints each staged query's rows (as psql --csv) instead of the run summary"),
    "retries": (_int(0, 1000), "run a staged query again after a serialization failure (40001) or deadlock (40P01), up to K times"),
    "latency_limit": (parse_duration_ms, "\\go N for D: an execution slower than this is late; at a rate, one this far behind schedule is skipped (off)"),
    "resources": (_auto_bool, "per staged query: buffers hit/read, temp, WAL, server time from pg_stat_statements (auto: when usable)"),
    "explain": (_choice("off", "analyze"), "analyze: run each staged query as EXPLAIN (ANALYZE, BUFFERS) and show its plan's figures (executes it)"),
}
assert set(HELP) == {f.name for f in fields(Settings)}


def show(value: Any, name: str = "") -> str:
    if value is None:
        return {"isolation": "default", "timeout": "off", "latency_limit": "off"}.get(name, "auto")
    if name in ("timeout", "latency_limit"):
        return f"{value / 1000:g}s"
    if isinstance(value, bool):
        return "on" if value else "off"
    return str(value)


def assign(settings: Settings, name: str, value: str, label: str | None = None) -> Settings:
    """A copy of ``settings`` with ``name`` set from text; UsageError on a bad name or value.

    ``label`` names the command in error messages (default ``\\set NAME``)."""
    key = name.strip().lower()
    cmd = label or "\\set"
    if key not in HELP:
        raise UsageError(f"{cmd}: unknown setting {name!r}; one of: {', '.join(HELP)}")
    parse, _ = HELP[key]
    try:
        parsed = parse(value)
    except ValueError as exc:
        raise UsageError(f"{label or cmd + ' ' + key}: {exc}, got {value!r}") from None
    return replace(settings, **{key: parsed})


def listing(settings: Settings) -> str:
    width = max(map(len, HELP))
    return "\n".join(
        f"{name.ljust(width)} = {show(getattr(settings, name), name).ljust(10)}  {text}" for name, (_, text) in HELP.items()
    )
