"""isolationtester's text, rendered from the records of a spec run
(``qshell.records.isolation``): each event -> (stream, text), byte for byte what
isolationtester writes for it on stdout or stderr.

Result sets are printed as libpq's ``PQprint`` prints them with the options isolationtester
gives it (header, aligned, ``|`` between fields, no border): a column is as wide as its
widest value or name in *bytes*, right-aligned while every non-empty value of it looks
like a number (digits, ``.``, ``e``/``E``, ``-``, blanks, ending in a digit, not starting
with ``e``/``E``), then ``(N rows)`` and an empty line; a result of no columns prints nothing.
"""
from __future__ import annotations

from qshell.records.isolation import (
    STDERR,
    STDOUT,
    Event,
    Interrupted,
    Message,
    Notice,
    Notification,
    PermutationStarted,
    ResultSet,
    SpecParsed,
    StepCanceling,
    StepCompleted,
    StepError,
    StepSent,
    Table,
    UnexpectedStatus,
)

_NUMERIC = set("0123456789.Ee -")


def _width(text: str) -> int:
    return len(text.encode("utf-8", "surrogateescape"))


def _looks_numeric(value: str) -> bool:
    if value[0] in "eE":
        return False
    for ch in value:
        if ch not in _NUMERIC:
            return False
    return "0" <= value[-1] <= "9"


def _pad(text: str, width: int, right: bool) -> str:
    fill = " " * max(0, width - _width(text))
    return fill + text if right else text + fill


def pqprint(table: Table) -> str:
    """``table`` as PQprint(header, align, fieldSep '|') prints it."""
    n = len(table.columns)
    if n == 0:
        return ""
    widths = [_width(c) for c in table.columns]
    numeric = [True] * n
    for row in table.rows:
        for j, v in enumerate(row):
            if not v:  # NULL and '' are skipped: they neither widen nor decide the alignment
                continue
            if numeric[j] and not _looks_numeric(v):
                numeric[j] = False
            widths[j] = max(widths[j], _width(v))
    right = numeric
    lines = ["|".join(_pad(c, widths[j], right[j]) for j, c in enumerate(table.columns))]
    lines.append("+".join("-" * w for w in widths))
    for row in table.rows:
        lines.append("|".join(_pad(v or "", widths[j], right[j]) for j, v in enumerate(row)))
    count = len(table.rows)
    lines.append(f"({count} row{'' if count == 1 else 's'})")
    return "\n".join(lines) + "\n\n"


def render(ev: Event) -> tuple[str, str]:
    """(STDOUT or STDERR, the text isolationtester writes for ``ev``)."""
    if isinstance(ev, SpecParsed):
        return STDOUT, f"Parsed test spec with {ev.sessions} sessions\n"
    if isinstance(ev, PermutationStarted):
        return STDOUT, "\nstarting permutation:" + "".join(f" {s}" for s in ev.steps) + "\n"
    if isinstance(ev, ResultSet):
        return STDOUT, pqprint(ev.table)
    if isinstance(ev, StepSent):
        return STDOUT, f"step {ev.step}: {ev.sql}" + (" <waiting ...>\n" if ev.waiting else "\n")
    if isinstance(ev, StepCompleted):
        return STDOUT, f"step {ev.step}: <... completed>\n"
    if isinstance(ev, StepError):
        if ev.severity is not None and ev.message is not None:
            return STDOUT, f"{ev.severity}:  {ev.message}\n"
        return STDOUT, f"{ev.text}\n"
    if isinstance(ev, UnexpectedStatus):
        return STDOUT, f"unexpected result status: {ev.status}\n"
    if isinstance(ev, Notice):
        return STDOUT, f"{ev.session}: {ev.text}"
    if isinstance(ev, Notification):
        return STDOUT, f'{ev.session}: NOTIFY "{ev.channel}" with payload "{ev.payload}" from {ev.sender}\n'
    if isinstance(ev, StepCanceling):
        return STDOUT, f"isolationtester: canceling step {ev.step} after {ev.seconds} seconds\n"
    if isinstance(ev, Message):
        return STDERR, ev.text
    if isinstance(ev, Interrupted):
        which = ", ".join(ev.cancelled) if ev.cancelled else "nothing was running"
        return STDERR, f"interrupted: cancelled {which}; open transactions rolled back, teardown run\n"
    raise TypeError(f"not an isolation event: {ev!r}")  # pragma: no cover


def text(events: list[Event], stream: str = STDOUT) -> str:
    """The whole text of ``events`` written on ``stream``."""
    return "".join(t for s, t in map(render, events) if s == stream)
