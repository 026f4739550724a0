"""What an anomaly table found: each permutation of a spec (and each serial order of its
sessions) run at each isolation level, with what the server did and the verdict.

Made by ``qshell.engine.anomaly``, printed by ``qshell.output.anomaly_table``, drawn by the
report. Plain data: no qshell imports but the isolation records it wraps.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from qshell.records.isolation import PermutationRecord, Table

LEVELS = ("read uncommitted", "read committed", "repeatable read", "serializable")


@dataclass(frozen=True)
class Wait:
    """A step the server reported waiting on a lock (``pg_isolation_test_session_is_blocked``)
    and the sessions ``pg_blocking_pids`` named for its backend at that moment, with the step
    each of them had run last."""

    step: str
    sessions: tuple[str, ...]
    steps: tuple[str, ...]


@dataclass
class Cell:
    """One permutation (or serial order) run at one level."""

    level: str
    steps: tuple[str, ...]
    record: PermutationRecord
    serial: bool = False
    final: list[Table] = field(default_factory=list)  # the final state (see engine.anomaly.final_state)
    waits: list[Wait] = field(default_factory=list)
    errors: list[tuple[str, str]] = field(default_factory=list)  # (step, SQLSTATE or '') of each failed step
    anomaly: str = ""  # "" or its name: lost update, write skew, non-repeatable read, phantom, anomaly
    matches_serial: str = ""  # the serial order (sessions joined by ' → ') whose final state it equals, if any
    stopped: str = ""  # the run stopped in it (isolationtester's fatal message)


@dataclass
class SerialRun:
    """One serial order of a permutation's steps: the sessions in that order, each one's
    steps (those the permutation uses, in its order) as one block."""

    order: tuple[str, ...]  # session names
    cell: Cell


@dataclass
class AnomalyTable:
    """Rows = the spec's permutations, columns = levels. The permutations that use the same
    steps share a group, and the group's serial orders were run at each level."""

    name: str
    sessions: tuple[str, ...]
    levels: tuple[str, ...]
    permutations: list[tuple[str, ...]] = field(default_factory=list)
    groups: list[tuple[str, ...]] = field(default_factory=list)  # each group's steps, session by session
    group_of: list[int] = field(default_factory=list)  # the group of each permutation
    cells: dict[tuple[int, str], Cell] = field(default_factory=dict)  # (permutation index, level)
    serial: dict[tuple[int, str], list[SerialRun]] = field(default_factory=dict)  # (group index, level)
    final_from: str = ""  # where the final state was read: "teardown" or "last reading step"
    warnings: list[str] = field(default_factory=list)
    interrupted: bool = False
