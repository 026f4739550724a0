"""One staged query's ``pg_stat_statements`` delta as a record (``\\set resources``; measured in ``engine.resources``)."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Resources:
    """One staged query's share of its ``pg_stat_statements`` entry during a run."""

    shared_hit: float  # shared buffers found in PostgreSQL's cache
    shared_read: float  # shared buffers read from the OS (its page cache or the disk)
    temp_written: float  # temp file blocks written (sorts, hashes beyond work_mem)
    wal_bytes: float
    server_ms: float  # execution time inside the server
    calls: int  # executions the entry counted during the run (all sessions)
    shared: int  # staged queries of the run on this entry (1: its own)
    client_ms: float | None = None  # run ms minus server ms: only for its own figures (``exact``)

    @property
    def exact(self) -> bool:
        """Its own figures: one staged query, one execution."""
        return self.shared == 1 and self.calls == 1

    @property
    def basis(self) -> str:
        """What its figures are: "this execution" (its own entry, one call in the run), or
        "avg of k calls" (the entry's run delta divided by its calls: staged texts that
        normalise to one queryid, other sessions' calls)."""
        return "this execution" if self.exact else f"avg of {self.calls} calls"

    @property
    def client_unknown(self) -> str | None:
        """Why ``client_ms`` is unknown (None when it is known)."""
        if self.client_ms is not None:
            return None
        if not self.exact:
            others = "; other sessions ran it too" if self.calls > self.shared else ""
            return f"server time: an average of {self.calls} calls, {self.shared} staged on one entry{others}"
        return "server time above the time qshell measured"

    def record(self) -> dict:
        return {"source": "pg_stat_statements", "shared_hit": _num(self.shared_hit),
                "shared_read": _num(self.shared_read), "temp_written": _num(self.temp_written),
                "wal_bytes": _num(self.wal_bytes), "server_ms": round(self.server_ms, 3),
                "calls": self.calls, "shared": self.shared, "basis": self.basis,
                "client_ms": None if self.client_ms is None else round(self.client_ms, 3),
                "client_unknown": self.client_unknown}


def _num(x: float) -> float | int:
    return int(x) if float(x).is_integer() else round(x, 1)
