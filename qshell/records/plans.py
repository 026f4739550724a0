"""A query's EXPLAIN ANALYZE figures as a record (``\\set explain analyze``; parsed in ``engine.plans``)."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Node:
    depth: int
    kind: str  # "Parallel Seq Scan on pgbench_accounts"
    ms: float  # actual total time (per loop, as EXPLAIN gives it)
    rows: float  # actual rows per loop
    loops: int
    workers: tuple[int, int] | None = None  # (planned, launched) of a Gather node


@dataclass(frozen=True, slots=True)
class Plan:
    total_ms: float  # Execution Time
    planning_ms: float
    rows: int  # the top node's actual rows
    shared_hit: int
    shared_read: int
    temp_read: int
    temp_written: int
    workers_planned: int
    workers_launched: int
    nodes: tuple[Node, ...] = ()

    @property
    def parallel(self) -> bool:
        return self.workers_planned > 0

    def record(self) -> dict:
        return {"total_ms": round(self.total_ms, 3), "planning_ms": round(self.planning_ms, 3), "rows": self.rows,
                "shared_hit": self.shared_hit, "shared_read": self.shared_read, "temp_read": self.temp_read,
                "temp_written": self.temp_written, "workers_planned": self.workers_planned,
                "workers_launched": self.workers_launched,
                "nodes": [{"depth": n.depth, "node": n.kind, "ms": round(n.ms, 3), "rows": n.rows, "loops": n.loops,
                           **({"workers_planned": n.workers[0], "workers_launched": n.workers[1]} if n.workers else {})}
                          for n in self.nodes]}
