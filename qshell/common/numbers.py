"""Numbers the user types: ASCII digits only, each in a named range.

Python's ``int()`` and ``float()`` take any Unicode digit (``int("١") == 1``),
underscores (``1_000``) and texts of any length, and ``re``'s ``\\d`` matches every
Unicode digit; psql reads a number with ``strtol``: an optional sign and ASCII digits.
Every number qshell takes from the user — a meta-command's N, xR, K or SCALE, a
``\\sweep`` list, a setting, a duration or a rate, a run number, a command-line option,
``FETCH_COUNT`` — is read here, so each gives one line naming its range when it is not
one, never an overflow deep inside.
"""
from __future__ import annotations

import re

INT_MAX = 2147483647  # psql's variables and the server's integer settings stop here
INT64_MAX = 9223372036854775807  # SQLite's largest integer: the run history's numbers
MAX_WORKERS = 10000  # far above any server's max_connections
DEFAULT_KEEP = 1000  # the run history: per staged set, the runs whose per-query results are kept
MAX_REPEATS = 10000  # \go N xR: runs kept in memory and recorded one by one

# a decimal number as a duration or a rate writes it (10, 1.5): for patterns of their own
DECIMAL = r"[0-9]+(?:\.[0-9]+)?"

_WHOLE = re.compile(r"[+-]?[0-9]+")


def is_whole(text: str) -> bool:
    """``text`` is written as a whole number: an optional sign and ASCII digits (spaces
    around it allowed), whatever its size."""
    return _WHOLE.fullmatch(text.strip()) is not None


def whole(text: str, lo: int, hi: int, what: str | None = None) -> int:
    """``text`` as a whole number from ``lo`` to ``hi``: an optional sign and ASCII digits,
    spaces around them allowed (as psql's ``strtol``). ValueError otherwise, its message
    naming the range: ``expected a whole number from 1 to 10000`` or, with ``what``,
    ``N must be a whole number from 1 to 10000``."""
    t = text.strip()
    if _WHOLE.fullmatch(t) and len(t.lstrip("+-").lstrip("0")) <= 19:  # longer: out of any range here
        n = int(t)
        if lo <= n <= hi:
            return n
    range_ = f"a whole number from {lo} to {hi}"
    raise ValueError(f"{what} must be {range_}" if what else f"expected {range_}")
