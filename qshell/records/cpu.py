"""The CPU of a run as a record: what ``engine.cpu`` measured from /proc, with its verdict and JSON."""
from __future__ import annotations

from dataclasses import dataclass

MIN_WALL_S = 0.2  # shorter: a few 10 ms ticks, too coarse for a verdict
BUSY = 0.9  # the machine (or the backends) used at least this share of its cores: CPU-bound
OTHER = 0.15  # other processes took at least this share of the machine's CPU: named
REMOTE = "server CPU not measurable: remote server"


@dataclass(frozen=True, slots=True)
class RunCpu:
    """A run's CPU, all over the same interval (seconds of CPU time)."""

    wall_s: float  # the interval (the run, from before its connections were given out)
    cpus: int  # the machine's CPUs
    machine_s: float  # CPU time every process of the machine used
    client_s: float  # qshell's own
    backends_s: float | None  # the run's worker backends (None: not measurable; ``why``)
    server_s: float | None  # every process of the server
    backends: int = 0  # worker backends counted
    why: str | None = None

    def cores(self, seconds: float | None) -> float | None:
        """``seconds`` of CPU over the wall: how many cores that is."""
        return None if seconds is None or self.wall_s <= 0 else seconds / self.wall_s

    @property
    def busy(self) -> float:
        """Share of the machine's CPU used (all processes)."""
        # (at most all of it: /proc/stat counts in 10 ms ticks, which over a short run can add
        # up to more than the wall clock allows)
        return min(1.0, self.machine_s / (self.cpus * self.wall_s)) if self.wall_s > 0 else 0.0

    @property
    def other_s(self) -> float | None:
        """CPU neither the server nor qshell used: other processes (None: the server is not measurable)."""
        if self.server_s is None:
            return None
        return max(self.machine_s - self.server_s - self.client_s, 0.0)

    @property
    def other(self) -> float | None:
        """Share of the machine's CPU other processes took."""
        o = self.other_s
        return None if o is None or self.wall_s <= 0 else o / (self.cpus * self.wall_s)

    @property
    def measurable(self) -> bool:
        return self.wall_s >= MIN_WALL_S

    def verdict(self) -> str:
        """One line: CPU-bound or not, and whether other processes took a share worth naming."""
        if not self.measurable:
            return f"no CPU verdict: the run took under {MIN_WALL_S:g} s (CPU is counted in 10 ms ticks)"
        parts = []
        where = "the machine" if self.server_s is not None else "qshell's machine (not the server's)"
        other = self.other
        if self.busy >= BUSY and other is not None and other > self.busy / 2:
            # the cores were full, but not with this run's work (its backends and qshell)
            return (f"CPU-bound at {self.cpus} cores by other processes: {where} was {_pct(self.busy)} busy, "
                    f"other processes took {_pct(other)} of the CPU during this run (the run itself did not fill it)")
        if self.busy >= BUSY:
            parts.append(f"CPU-bound at {self.cpus} cores: {where} was {_pct(self.busy)} busy")
        else:
            parts.append(f"not CPU-bound: {where} was {_pct(self.busy)} busy ({self.cpus} cores)")
        if other is not None and other >= OTHER:
            parts.append(f"other processes took {_pct(other)} of the CPU during this run")
        return "; ".join(parts)

    def line(self) -> str:
        """'CPU: server backends 1.57 cores (0.64 s) · whole server 1.60 · qshell 0.21 · other processes 0.15 · machine 98% of 2 cores'."""
        if self.backends_s is None:
            parts = [self.why or REMOTE, f"qshell {self.cores(self.client_s):.2f} cores"]
        else:
            parts = [f"server backends {self.cores(self.backends_s):.2f} cores ({self.backends_s:.2f} s)",
                     f"whole server {self.cores(self.server_s):.2f}", f"qshell {self.cores(self.client_s):.2f}",
                     f"other processes {self.cores(self.other_s):.2f}"]
        parts.append(f"machine {_pct(self.busy)} of {self.cpus} cores")
        return "CPU: " + " · ".join(parts) + "\n" + self.verdict()

    def record(self) -> dict:
        def r(x: float | None) -> float | None:
            return None if x is None else round(x, 4)

        return {"source": "/proc", "wall_ms": round(self.wall_s * 1000, 3), "cpus": self.cpus,
                "backends": self.backends, "backends_cpu_ms": r(None if self.backends_s is None else self.backends_s * 1000),
                "backends_cores": r(self.cores(self.backends_s)),
                "server_cpu_ms": r(None if self.server_s is None else self.server_s * 1000),
                "client_cpu_ms": r(self.client_s * 1000), "other_cpu_ms": r(None if self.other_s is None else self.other_s * 1000),
                "machine_busy": r(self.busy), "other": r(self.other), "not_measurable": self.why,
                "verdict": self.verdict()}


def _pct(x: float) -> str:
    return f"{x * 100:.0f}%"
