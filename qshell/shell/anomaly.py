"""The anomaly table from the shell and the command line: ``qshell --spec FILE --levels L``,
``\\spec FILE under L`` and ``\\lab NAME under L`` all come here.

The runner is ``qshell.engine.anomaly`` (it says how a level is set, what the final state
is, and when a permutation is an anomaly); the text and the JSON records come from
``qshell.output.anomaly_table``. Ctrl-C cancels the permutation running (its steps cancelled,
sessions rolled back, teardown run) and prints the part of the table done.
"""
from __future__ import annotations

import re
import shlex
from typing import Sequence, TextIO

from qshell.common.errors import UsageError
from qshell.engine.anomaly import AnomalyRunner, LevelError, parse_levels
from qshell.engine.isolation import IsolationFatal
from qshell.engine.libpq import LibpqError
from qshell.output.anomaly_table import records, table_text
from qshell.output.json_lines import json_line
from qshell.records.anomaly import AnomalyTable, Cell
from qshell.script.spec import Spec
from qshell.shell.interrupt import sigint_calls
from qshell.shell.streams import isatty

_UNDER = re.compile(r"\s+under\s+", re.I)


def split_under(arg: str, command: str) -> tuple[str, tuple[str, ...] | None]:
    """``FILE under L1, L2`` -> (FILE, levels); without ``under``: (the argument, None).
    The name before ``under`` is one word (quotes as the shell takes them)."""
    parts = _UNDER.split(arg.strip(), maxsplit=1)
    head = parts[0]
    try:
        words = shlex.split(head)
    except ValueError as exc:
        raise UsageError(f"\\{command}: {exc}") from None
    if len(words) != 1:
        raise UsageError(f"\\{command}: needs one argument" + (" before 'under'" if len(parts) > 1 else ""))
    if len(parts) == 1:
        return words[0], None
    return words[0], levels_of(parts[1], f"\\{command}")


def levels_of(text: str, command: str) -> tuple[str, ...]:
    try:
        return parse_levels(text)
    except LevelError as exc:
        raise UsageError(f"{command}: {exc}") from None


def run_table(spec: Spec, levels: Sequence[str], conninfo: str, password: str | None, out: TextIO,
              json: bool = False, name: str = "", err: TextIO | None = None) -> AnomalyTable:
    """Run the anomaly table and print it (the table, or one JSON record per permutation per
    level); on a terminal ``err``, a status line counts the runs done while it runs."""
    live = err is not None and isatty(err)
    done = [0]

    def progress(cell: Cell) -> None:
        done[0] += 1
        if live and err is not None:
            err.write(f"\r\x1b[Kanomaly table: {done[0]} runs done · {cell.level}")
            err.flush()

    runner = AnomalyRunner(spec, conninfo, password, on_cell=progress)
    try:
        with sigint_calls(runner.interrupt):
            table = runner.run(levels, None, name)
    except (IsolationFatal, LibpqError, LevelError) as exc:
        raise UsageError(f"{name}: {str(exc).strip()}" if name else str(exc).strip()) from None
    finally:
        if live and err is not None and done[0]:
            err.write("\r\x1b[K")
            err.flush()
    if json:
        for rec in records(table):
            out.write(json_line(rec) + "\n")
    else:
        out.write(table_text(table) + "\n")
    out.flush()
    return table
