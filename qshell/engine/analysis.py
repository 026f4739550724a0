"""Figures derived from result records: schedules, statistics, lanes, comparisons.

Pure functions over ``results`` records; nothing here runs or prints anything.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Iterable, Iterator, Mapping, Sequence

from qshell.common.numbers import INT_MAX, is_whole, whole
from qshell.records.results import QueryResult, RunResult


@lru_cache(maxsize=4096)
def normalize(sql: str) -> str:
    """The key under which a query's timings are remembered (whitespace-insensitive)."""
    return " ".join(sql.split())


def lpt_order(queries: Sequence[str], known: Mapping[str, float | None]) -> list[int]:
    """Positions of ``queries`` longest-first by last measured time (the LPT schedule).

    Queries never measured go first (they may be long), in staged order; ties keep
    staged order.
    """
    def key(pos: int) -> tuple[float, int]:
        t = known.get(normalize(queries[pos]))
        return (-(math.inf if t is None else t), pos)

    return sorted(range(len(queries)), key=key)


@dataclass(frozen=True, slots=True)
class Stats:
    count: int
    min: float
    median: float
    p95: float
    max: float


def stats(values: Iterable[float]) -> Stats:
    """min / median / p95 (nearest rank) / max; zeros for no values."""
    xs = sorted(values)
    if not xs:
        return Stats(0, 0.0, 0.0, 0.0, 0.0)
    rank = max(1, math.ceil(0.95 * len(xs)))
    half = len(xs) // 2
    middle = xs[half] if len(xs) % 2 else (xs[half - 1] + xs[half]) / 2  # statistics.median, without its import
    return Stats(len(xs), xs[0], middle, xs[rank - 1], xs[-1])


def lanes(run: RunResult) -> dict[int, list[QueryResult]]:
    """Per worker, its queries in the order it ran them (by start offset)."""
    out: dict[int, list[QueryResult]] = {}
    for q in run.queries:
        if q.worker is not None:
            out.setdefault(q.worker, []).append(q)
    for qs in out.values():
        qs.sort(key=lambda q: q.start_s)
    return dict(sorted(out.items()))


class Slowdowns(Mapping[int, float]):
    """Per query index: time at this run's N ÷ its time alone (when known and measurable).

    Each ratio is worked out when asked: a run of 50,000 queries held them all as a dict
    (3.6 MB) for records that read each once."""

    def __init__(self, run: RunResult, alone: Mapping[str, float | None]) -> None:
        self._queries = run.queries
        self._alone = dict(alone)  # as known now: later runs' times alone do not change this run's
        self._keys: dict[str, str] = {}  # (a run repeats texts: each normalized once)
        self._any: bool | None = None

    def _ratio(self, q: QueryResult) -> float | None:
        if q.status.value != "ok" or not self._alone:
            return None
        key = self._keys.get(q.sql)
        if key is None:
            key = self._keys[q.sql] = normalize(q.sql)
        t = self._alone.get(key)
        return q.total_s / t if t and t > 0 else None

    def _query(self, index: object) -> QueryResult | None:
        queries = self._queries
        if isinstance(index, int) and 0 < index <= len(queries) and queries[index - 1].index == index:
            return queries[index - 1]  # (a run's results are in staged order)
        return next((q for q in queries if q.index == index), None)

    def __getitem__(self, index: int) -> float:
        q = self._query(index)
        ratio = None if q is None else self._ratio(q)
        if ratio is None:
            raise KeyError(index)
        return ratio

    def __iter__(self) -> Iterator[int]:
        return (q.index for q in self._queries if self._ratio(q) is not None)

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def __bool__(self) -> bool:
        if self._any is None:
            self._any = next(iter(self), None) is not None
        return self._any


def slowdowns(run: RunResult, alone: Mapping[str, float | None]) -> Mapping[int, float]:
    """Per query index: time at this run's N ÷ its time alone (when known and measurable)."""
    return Slowdowns(run, alone)


def parse_n_list(words: Sequence[str]) -> list[int]:
    """``["1", "2", "5"]`` or ``["1-8"]`` (mixed too) -> sorted unique Ns; ValueError otherwise."""
    ns: set[int] = set()
    for word in words:
        for part in word.split(","):
            if not part:
                continue
            lo, sep, hi = part.partition("-")
            if not is_whole(lo) or (sep and not is_whole(hi)):
                raise ValueError(f"not a whole number or range: {part!r}")
            try:
                a = whole(lo, 1, INT_MAX, "N")
                b = whole(hi, 1, INT_MAX, "N") if sep else a
            except ValueError as exc:
                raise ValueError(f"{exc}, got {part!r}") from None
            if b < a:
                raise ValueError(f"bad N or range: {part!r}")
            if b - a > 1000:
                raise ValueError(f"range too long: {part!r}")
            ns.update(range(a, b + 1))
    if not ns:
        raise ValueError("needs at least one N (e.g. 1 2 3 5, or 1-8)")
    return sorted(ns)
