"""``python -m qshell.bench``: qshell measured beside pgbench, psql and the ideal.

Starts its own sandbox server (or takes ``--dsn``), runs every case, prints a table,
appends one JSON record to ``history/benchmarks.jsonl`` and regenerates
``history/README.md`` (and the headline tables of README.md and docs/benchmark.md).
Every comparison is a ratio measured in the same run, the two sides interleaved (the one
going first alternating), over at least three rounds, kept with their min / median /
max. Whole processes are measured by the kernel (``measure``: wall, CPU, peak RSS).
Nothing here asserts a time: the figures are recorded, and the targets are reported as
met or missed.

Whole qshell processes run this very package (``PYTHONPATH``, from a scratch working
directory) with Python's bytecode cache (kept in the bench's temporary directory), as
an installed qshell has it.
"""
from __future__ import annotations

from qshell.bootstrap import bootstrap

bootstrap()  # gevent first

import argparse  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import os  # noqa: E402
import platform  # noqa: E402
import random  # noqa: E402
import re  # noqa: E402
import shutil  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402

from qshell import __version__  # noqa: E402
from qshell.engine.analysis import lpt_order  # noqa: E402
from qshell.engine.pool import Database, QueryPool  # noqa: E402
from qshell.shell.sets import DEMO  # noqa: E402

# Every target the benchmark reports: the headline rows first (each a ratio qshell ÷ peer
# measured in the same run, interleaved, the median of the rounds), then the others.
TARGETS = {
    "throughput_n1": ">= 0.5 (engine ÷ pgbench -j 2, 20,000 SELECT 1)",
    "throughput_n8": ">= 0.5",
    "throughput_n32": ">= 0.5",
    "throughput_n64": ">= 0.5",
    "client_cpu_us_n8": "<= 25 µs of qshell's CPU per staged query (pgbench's per transaction beside it)",
    "e2e_ratio": ">= 0.35 (pgbench's time ÷ the whole qshell process's)",
    "e2e_peak_mb": "<= 60 MB",
    "bigresult_aligned_time": "<= 2 (× psql's time)",
    "bigresult_csv_time": "<= 2 (× psql --csv's time)",
    "bigresult_aligned_memory": "<= 1 (÷ psql's peak RSS)",
    "bigresult_csv_memory": "<= 1 (÷ psql --csv's peak RSS)",
    "history_ratio": "<= 1.1 (30 runs of 10,000 queries ÷ empty)",
    "startup_vs_pgcli": "<= 0.5",
    "load_ratio": ">= 0.6 (executions/s ÷ pgbench -S tps)",
    "makespan_ratio": "<= 1.03 (+5 ms)",
    "processes_ratio": "< 1 (qshell faster)",
    "process_whole_ratio": "< 1 (the whole qshell process faster)",
    "startup_s": "<= 0.35",
    "memory_vs_psql": "<= 1.25 (the result held by libpq, as psql holds it)",
    "latency_p50_ratio": "<= 1.5",
    "latency_p95_ratio": "<= 2",
}
SELECT1 = "SELECT 1"
CASES = ("throughput", "makespan", "processes", "startup", "memory", "bigresult", "scaling", "seed", "e2e", "history",
         "resources", "reader", "latency", "load")
THROUGHPUT_N = (1, 8, 32, 64)
BIG_SQL = "SELECT g, 'row ' || g AS t, g * 1.5 AS f FROM generate_series(1, {rows}) g"
LOAD_SEED = 23  # the load case's random aids: the same statements in every record
LATENCY_RATE = 300  # the open-loop latency case: SELECT 1 at 300/s on 8 connections
LATENCY_CLIENTS = 8


def _median(xs: list[float]) -> float:
    return statistics.median(xs) if xs else 0.0


def nearest_rank(sorted_xs: list[float], p: float) -> float:
    """The value at rank ⌈p/100 · n⌉ (as the load's histogram ranks); 0 when empty."""
    if not sorted_xs:
        return 0.0
    return sorted_xs[min(max(1, math.ceil(p / 100 * len(sorted_xs))), len(sorted_xs)) - 1]


def pgbench_log(paths: list[Path]) -> tuple[list[float], list[float]]:
    """Latencies and schedule lags (ms, sorted) from pgbench ``-l`` logs under ``-R``: per
    transaction ``client_id transaction_no time script_no time_epoch time_us schedule_lag``,
    ``time`` measured from the scheduled start (the lag inside it), both in µs."""
    lat: list[float] = []
    lag: list[float] = []
    for path in paths:
        for line in path.read_text().splitlines():
            f = line.split()
            if len(f) >= 7 and f[2].isdigit():  # a failed transaction has "failed" or "skipped" there
                lat.append(int(f[2]) / 1000)
                lag.append(int(f[6]) / 1000)
    return sorted(lat), sorted(lag)


def _spread(xs: list[float], digits: int = 3) -> dict:
    """``{min, median, max}`` of the rounds (how every ratio of the record is kept)."""
    return {"min": round(min(xs), digits), "median": round(_median(xs), digits), "max": round(max(xs), digits)}


def _num(v):  # noqa: ANN001, ANN202 - a figure of any record: a number, or a spread's median
    """The median of a spread, or the number itself (older records kept one number)."""
    return v.get("median") if isinstance(v, dict) else v


# Runs one program and reports its wall, CPU and peak RSS from the kernel (wait4): a
# plain Python process, because the benchmark's own process is gevent-patched and its
# child watcher may reap a child (and its resource usage) before the benchmark does.
_RUNNER = """
import json, os, subprocess, sys, time
out, argv = sys.argv[1], sys.argv[2:]
t = time.perf_counter()
p = subprocess.Popen(argv)
_, status, ru = os.wait4(p.pid, 0)
wall = time.perf_counter() - t
with open(out, "w") as fh:
    json.dump({"wall_s": wall, "cpu_s": ru.ru_utime + ru.ru_stime, "peak_kb": ru.ru_maxrss,
               "code": os.waitstatus_to_exitcode(status)}, fh)
"""


# bench's stack floor for `-c 'SELECT 1;'`: what qshell's __main__ does before anything of its own
# (gevent's patching without the plugin scan, not ssl), then psycopg2 running the statement
STACK_SELECT1 = """import sys
from gevent import events, monkey
events.notify_and_call_entry_points = events.notify
monkey.patch_all(ssl=False)
import psycopg2
conn = psycopg2.connect(sys.argv[1])
cur = conn.cursor()
cur.execute("SELECT 1;")
print(cur.fetchall())
conn.close()
"""


@dataclass(frozen=True)
class Proc:
    """One whole process as the kernel accounted it (wait4)."""

    wall_s: float  # fork to reaped
    cpu_s: float  # user + system, its threads included
    peak_mb: float  # ru_maxrss: the high-water mark of its resident set
    code: int


def measure(argv: list[str], stdin: Path | None = None, stdout: Path | None = None, env: dict | None = None,
            cwd: Path | None = None, timeout: float = 3600, stderr: Path | None = None) -> Proc:
    """Run ``argv`` to its end, stdin from ``stdin`` (else /dev/null), stdout to ``stdout``
    and stderr to ``stderr`` (else /dev/null); its wall, CPU and peak RSS (``_RUNNER``)."""
    fd, result = tempfile.mkstemp(prefix="qshell-bench-proc-", suffix=".json")
    os.close(fd)
    try:
        with open(stdin or os.devnull, "rb") as fin, open(stdout or os.devnull, "wb") as fout, \
                open(stderr or os.devnull, "wb") as ferr:
            subprocess.run([sys.executable, "-S", "-c", _RUNNER, result, *argv], stdin=fin, stdout=fout,
                           stderr=ferr, env=env, cwd=cwd, check=False, timeout=timeout)
        got = json.loads(Path(result).read_text() or "{}")
    finally:
        os.unlink(result)
    if not got:
        raise RuntimeError(f"could not run {argv[0]}")
    return Proc(got["wall_s"], got["cpu_s"], got["peak_kb"] / 1024, got["code"])


def history_files(directory: Path) -> tuple[dict[str, int], int]:
    """The sizes of a run history's ``runs.sqlite*`` files as they are, and its runs counted
    without changing them: a clean history on a plain connection, whose close (the last
    one) removes the -wal and -shm it opens (a read-only one would leave both behind for
    the timed processes to find); one with a -wal or -shm left read only, never
    checkpointed away before it is timed."""
    import sqlite3

    files = {f.name: f.stat().st_size for f in directory.glob("runs.sqlite*")}
    path = directory / "runs.sqlite"
    db = sqlite3.connect(path) if set(files) == {"runs.sqlite"} else sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        stored = db.execute("SELECT count(*) FROM runs").fetchone()[0]
    finally:
        db.close()
    return files, stored


class Bench:
    def __init__(self, dsn: str, reps: int, tiny: bool, bin_dir: Path, log=print, pgcli: str | None = None) -> None:  # noqa: ANN001
        self.dsn = dsn
        self.reps = reps
        self.tiny = tiny
        self.bin = bin_dir
        self.log = log
        self.pgcli = pgcli
        self.pgcli_why: str | None = None  # why pgcli is not measured (found_pgcli's reason)
        self.rounds = max(3, reps)  # the interleaved cases: at least three rounds
        self.db = Database(dsn)
        self.tmp = Path(tempfile.mkdtemp(prefix="qshell-bench-"))
        # qshell processes: this package (not one the working directory holds), bytecode cached
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        package_root = str(Path(__file__).resolve().parent.parent)
        env["PYTHONPATH"] = os.pathsep.join([package_root] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
        env["PYTHONPYCACHEPREFIX"] = str(self.tmp / "pycache")
        self.env = env

    # -- helpers -----------------------------------------------------------------
    def _engine_run(self, queries: list[str], n: int, order: list[int] | None = None):
        return QueryPool(self.db, queries, n, maxrows=10, order=order,
                         order_name="longest-first" if order else "fifo").run()

    def _proc_wall(self, argv: list[str], stdin: Path | None = None, stdout: Path | None = None, qshell: bool = False) -> float:
        """Wall time of one whole process (``measure``; a qshell one with this package and its bytecode)."""
        return self._measure(argv, stdin=stdin, stdout=stdout, qshell=qshell).wall_s

    def _qshell(self, history: Path | None = None) -> list[str]:
        return [sys.executable, "-m", "qshell", "-X", "--history-dir", str(history or self.tmp / "hist")]

    def _pgcli_argv(self, command: str) -> list[str] | None:
        """pgcli running one command on the same server (its DSN given as host, port, user, db)."""
        if not self.pgcli:
            return None
        import psycopg2.extensions

        p = psycopg2.extensions.parse_dsn(self.dsn)
        argv = [self.pgcli, "--less-chatty"]
        for flag, key in (("-h", "host"), ("-p", "port"), ("-U", "user")):
            if p.get(key):
                argv += [flag, p[key]]
        return argv + [p.get("dbname") or "postgres", "-c", command]

    def _measure(self, argv: list[str], stdin: Path | None = None, stdout: Path | None = None,
                 qshell: bool = False, stderr: Path | None = None) -> Proc:
        """A whole process (a qshell one with this package and its bytecode), from the scratch directory."""
        return measure(argv, stdin=stdin, stdout=stdout, env=self.env if qshell else None, cwd=self.tmp, stderr=stderr)

    def _pgbench(self, args: list[str]) -> tuple[float, int, Proc]:
        """``pgbench ARGS DSN``: (tps without initial connection time, transactions, the process)."""
        out, err = self.tmp / "pgbench.out", self.tmp / "pgbench.err"
        proc = self._measure([str(self.bin / "pgbench"), *args, self.dsn], stdout=out, stderr=err)
        text = out.read_text()
        tps = re.search(r"tps = ([\d.]+) \(without initial connection time\)", text)
        done = re.search(r"number of transactions actually processed: (\d+)", text)
        if proc.code != 0 or not tps or not done:
            raise RuntimeError(f"pgbench failed: {err.read_text().strip()[-300:]}")
        return float(tps.group(1)), int(done.group(1)), proc

    def _max_connections(self) -> int:
        try:
            return int(self.db.rows("SHOW max_connections")[0][0])
        except Exception:  # noqa: BLE001 - a server that will not say: assume the default
            return 100

    # -- 1. tiny-query throughput against pgbench, and the client's CPU per query ---------------------
    def throughput(self) -> dict:
        """K ``SELECT 1`` through the engine at N, and ``pgbench -n -c N -j 2 -t K/N`` with the
        same statement, the side that goes first alternating, ``rounds`` rounds per N. Each
        round: qshell's statements/s (the run's wall: connections made before it starts) and
        its CPU per statement (``RunResult.client_cpu_s``: the process's CPU during the run);
        pgbench's tps without initial connection time and its CPU per transaction (user +
        system of the whole pgbench process from wait4, its threads and its connecting
        included)."""
        total = 2000 if self.tiny else 20000
        script = self.tmp / "select1.sql"
        script.write_text(SELECT1 + ";\n")
        limit = self._max_connections()
        out: dict = {}
        for n in THROUGHPUT_N:
            queries = [SELECT1] * total
            self._engine_run(queries[: min(total, 1000)], n)  # warm the pool
            rounds = []
            for r in range(self.rounds):
                got: dict = {}
                for side in (("qshell", "pgbench") if r % 2 == 0 else ("pgbench", "qshell")):
                    if side == "qshell":
                        run = self._engine_run(queries, n)
                        if sum(1 for q in run.queries if q.status.value != "ok"):
                            raise RuntimeError(f"throughput N={n}: not every statement ran")
                        got.update(qshell_qps=round(total / run.wall_s), qshell_wall_s=round(run.wall_s, 4),
                                   qshell_cpu_s=round(run.client_cpu_s, 4),
                                   qshell_cpu_us=round(run.client_cpu_s / total * 1e6, 2))
                        continue
                    if 2 * n + 10 > limit:  # the pool's idle connections and pgbench's would not fit
                        self.db.dispose()
                    tps, done, proc = self._pgbench(["-n", "-c", str(n), "-j", "2", "-t", str(total // n),
                                                     "-f", str(script)])
                    got.update(pgbench_tps=round(tps), pgbench_transactions=done, pgbench_wall_s=round(proc.wall_s, 4),
                               pgbench_cpu_s=round(proc.cpu_s, 4), pgbench_cpu_us=round(proc.cpu_s / done * 1e6, 2))
                got["ratio"] = round(got["qshell_qps"] / got["pgbench_tps"], 3)
                rounds.append(got)
            out[str(n)] = {"statements": total, "qshell_qps": round(_median([x["qshell_qps"] for x in rounds])),
                           "pgbench_tps": round(_median([x["pgbench_tps"] for x in rounds])),
                           "ratio": _spread([x["ratio"] for x in rounds]),
                           "qshell_cpu_us": _spread([x["qshell_cpu_us"] for x in rounds], 2),
                           "pgbench_cpu_us": _spread([x["pgbench_cpu_us"] for x in rounds], 2), "rounds": rounds}
            t = out[str(n)]
            self.log(f"  throughput N={n}: qshell {t['qshell_qps']} q/s, pgbench {t['pgbench_tps']} tps, ratio"
                     f" {t['ratio']['median']} ({t['ratio']['min']}–{t['ratio']['max']}); CPU per statement qshell"
                     f" {t['qshell_cpu_us']['median']} µs, pgbench {t['pgbench_cpu_us']['median']} µs")
        return out

    # -- 2. makespan against the lower bound --------------------------------------------------------
    def makespan(self) -> dict:
        k = 0.25 if self.tiny else 1.0
        sets = {
            "equal": [0.2] * 8,
            "mixed": [0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4],
            "one_long_many_short": [1.0] + [0.05] * 20,
        }
        out = {}
        for name, durations in sets.items():
            durations = [round(d * k, 4) for d in durations]
            queries = [f"SELECT pg_sleep({d})" for d in durations]
            known = {q: d for q, d in zip(queries, durations, strict=True)}
            for n in (2, 4, 8):
                order = lpt_order(queries, known)
                ratios, overheads, walls, bounds = [], [], [], []
                for _ in range(self.reps):
                    run = self._engine_run(queries, n, order)
                    ratios.append(run.wall_s / run.bound_s)
                    overheads.append((run.wall_s - run.bound_s) * 1000)
                    walls.append(run.wall_s)
                    bounds.append(run.bound_s)
                key = f"{name}@{n}"
                ratio, over, bound = _median(ratios), _median(overheads), _median(bounds)
                out[key] = {"wall_ms": round(_median(walls) * 1000, 2), "bound_ms": round(bound * 1000, 2),
                            "ratio": round(ratio, 4), "overhead_ms": round(over, 2),
                            "met": _median(walls) <= 1.03 * bound + 0.005}
                self.log(f"  makespan {key}: wall/bound {ratio:.4f}, overhead {over:.1f} ms")
        return out

    # -- 3. against one process per query ---------------------------------------------------------
    def processes(self, queries: list[str]) -> dict:
        qfile = self.tmp / "queries.txt"
        qfile.write_text("\0".join(queries))
        psql = str(self.bin / "psql")
        engine, procs, whole, ratios = [], [], [], []
        qargs = [a for q in queries for a in ("-c", f"\\add {q}")]
        for _ in range(self.reps):
            run = self._engine_run(queries, len(queries))
            p = self._proc_wall(["xargs", "-0", "-P", str(len(queries)), "-I{}", psql, "-X", "-q", "-c", "{}", self.dsn],
                                stdin=qfile)
            w = self._proc_wall(self._qshell() + qargs + ["-c", f"\\go {len(queries)}", self.dsn], qshell=True)
            engine.append(run.wall_s)
            procs.append(p)
            whole.append(w)
            ratios.append(run.wall_s / p)
        out = {"queries": len(queries), "qshell_run_ms": round(_median(engine) * 1000, 1),
               "xargs_psql_ms": round(_median(procs) * 1000, 1), "ratio": round(_median(ratios), 4),
               "qshell_process_ms": round(_median(whole) * 1000, 1),
               "process_ratio": round(_median([w / p for w, p in zip(whole, procs, strict=True)]), 4) if procs else 0.0}
        self.log(f"  processes: qshell run {out['qshell_run_ms']} ms vs xargs -P {len(queries)} psql {out['xargs_psql_ms']} ms"
                 f" (ratio {out['ratio']}); whole qshell process {out['qshell_process_ms']} ms"
                 f" (ratio {out['process_ratio']})")
        return out

    # -- 4. start-up -------------------------------------------------------------------------------
    def startup(self) -> dict:
        """``qshell -c '\\q'`` against psql; then one statement, ``-c 'SELECT 1;'``, against psql and
        ``pgcli --less-chatty -c`` (found or installed by ``find_pgcli``): start, connect, run it,
        print it, exit. Each compared pair runs back to back, the one going first alternating
        from round to round; one round more than counted, the first warming the caches."""
        pgcli = self._pgcli_argv("SELECT 1;")
        why = self.pgcli_why
        if pgcli:
            try:
                check = subprocess.run(pgcli, capture_output=True, text=True, stdin=subprocess.DEVNULL, check=False,
                                       timeout=120)
                if check.returncode != 0 or "1" not in check.stdout:
                    why = f"pgcli did not run SELECT 1 (exit {check.returncode}: {check.stderr.strip()[-200:]})"
            except (OSError, subprocess.TimeoutExpired) as exc:
                why = f"pgcli did not run SELECT 1 ({exc})"
            if why:
                self.log(f"  {why}: not measured")
                pgcli = None
        q_q = ("qshell_q", self._qshell() + ["-c", "\\q", self.dsn], True)
        p_q = ("psql_q", [str(self.bin / "psql"), "-X", "-c", "\\q", self.dsn], False)
        q_1 = ("qshell_select1", self._qshell() + [self.dsn, "-c", "SELECT 1;"], True)
        p_1 = ("psql_select1", [str(self.bin / "psql"), "-X", self.dsn, "-c", "SELECT 1;"], False)
        c_1 = ("pgcli_select1", pgcli, False) if pgcli else None
        # the floor under qshell's figure: the stack it is built on doing the same (Python, gevent's
        # patching as qshell's __main__ does it, psycopg2, one connection, SELECT 1 printed)
        s_1 = ("stack_select1", [sys.executable, "-c", STACK_SELECT1, self.dsn], False)
        progs = [q_q, p_q, q_1, p_1, s_1] + ([c_1] if c_1 else [])
        rounds: list[dict] = []
        for r in range(self.rounds + 1):
            # each compared pair back to back, the one going first alternating
            pairs = [(q_1, c_1 or p_1), (q_q, p_q), (s_1, None)] + ([(p_1, None)] if c_1 else [])
            order = [x for a, b in pairs for x in ((a, b) if r % 2 == 0 else (b, a)) if x is not None]
            got = {}
            for name, argv, qshell in order:
                got[name] = round(self._measure(argv, qshell=qshell).wall_s, 4)
            if pgcli:
                got["pgcli_ratio"] = round(got["qshell_select1"] / got["pgcli_select1"], 3)
                got["stack_ratio"] = round(got["stack_select1"] / got["pgcli_select1"], 3)
            if r:  # the first round warms caches
                rounds.append(got)
        med = {name: round(_median([x[name] for x in rounds]), 4) for name, _, _ in progs}
        out: dict = {"qshell_s": med["qshell_q"], "psql_s": med["psql_q"],
                     "ratio": round(_median([x["qshell_q"] / x["psql_q"] for x in rounds]), 2),
                     "qshell_select1_s": med["qshell_select1"], "psql_select1_s": med["psql_select1"],
                     "pgcli_select1_s": med.get("pgcli_select1"),
                     "pgcli_ratio": _spread([x["pgcli_ratio"] for x in rounds]) if pgcli else None,
                     "stack_select1_s": med["stack_select1"],
                     "stack_ratio": _spread([x["stack_ratio"] for x in rounds]) if pgcli else None,
                     "pgcli_why": None if pgcli else (why or "pgcli not given"), "rounds": rounds}
        ratio = out["pgcli_ratio"]
        self.log(f"  start-up: qshell {out['qshell_s']} s, psql {out['psql_s']} s; one SELECT 1: qshell"
                 f" {out['qshell_select1_s']} s, psql {out['psql_select1_s']} s, pgcli {out['pgcli_select1_s'] or '–'} s"
                 f" (qshell ÷ pgcli {ratio['median'] if ratio else '–'}); the stack alone {out['stack_select1_s']} s")
        return out

    # -- 5. memory of a huge result --------------------------------------------------------------------
    def _peak_rss(self, argv: list[str], stdin: Path | None = None) -> float:
        """Peak RSS (MB) of a qshell process, polled every 5 ms (the check on ``measure``'s wait4 figure)."""
        import psutil

        with open(stdin or os.devnull, "rb") as fin:
            proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=fin,
                                    env=self.env, cwd=self.tmp)
        peak = 0
        ps = psutil.Process(proc.pid)
        while proc.poll() is None:
            try:
                peak = max(peak, ps.memory_info().rss)
            except psutil.Error:
                break
            time.sleep(0.005)
        return peak / 2**20

    def memory(self) -> dict:
        """Peak RSS (wait4) of a staged ``SELECT generate_series(1, 5000000)`` run by ``\\go``
        and of the same statement from psql, interleaved, ``rounds`` rounds. The statement is
        sent as written (no cursor), so libpq holds the whole result in both."""
        rows = 500_000 if self.tiny else 5_000_000
        sql = f"SELECT generate_series(1, {rows})"
        rounds = []
        for r in range(self.rounds):
            got = {}
            progs = [("idle_peak_mb", self._qshell() + ["-c", "\\add SELECT 1", "-c", "\\go", self.dsn], True),
                     ("peak_mb", self._qshell() + ["-c", f"\\add {sql}", "-c", "\\go", self.dsn], True),
                     ("psql_peak_mb", [str(self.bin / "psql"), "-X", "-c", sql, self.dsn], False)]
            for name, argv, qshell in (progs if r % 2 == 0 else progs[::-1]):
                got[name] = round(self._measure(argv, qshell=qshell).peak_mb, 1)
            got["vs_psql"] = round(got["peak_mb"] / got["psql_peak_mb"], 3)
            rounds.append(got)
        med = {k: round(_median([x[k] for x in rounds]), 1) for k in ("idle_peak_mb", "peak_mb", "psql_peak_mb")}
        out: dict = {"rows": rows, **med, "growth_mb": round(med["peak_mb"] - med["idle_peak_mb"], 1),
                     "vs_psql": _spread([x["vs_psql"] for x in rounds]), "rounds": rounds}
        self.log(f"  memory: {rows} rows, peak {out['peak_mb']} MB (psql {out['psql_peak_mb']} MB,"
                 f" {out['vs_psql']['median']}×), growth {out['growth_mb']} MB over {out['idle_peak_mb']} MB")
        return out

    # -- 5b. a big result printed, against psql ------------------------------------------------------------
    def bigresult(self) -> dict:
        """``qshell -X DSN -c SQL`` vs ``psql -X DSN -c SQL`` (aligned), and ``qshell -X --format csv``
        vs ``psql -X --csv``, SQL a 5,000,000-row three-column ``SELECT``, stdout to /dev/null:
        each process's wall and peak RSS (wait4), interleaved, ``rounds`` rounds. A first
        round, not counted, writes both outputs to files: their line counts and whether they
        are byte for byte the same are recorded (psql's aligned widths come from the whole
        result, so only CSV can be identical)."""
        import hashlib

        rows = 200_000 if self.tiny else 5_000_000
        sql = BIG_SQL.format(rows=rows)
        out: dict = {"rows": rows, "sql": sql}
        for fmt, qflags, pflags in (("aligned", [], []), ("csv", ["--format", "csv"], ["--csv"])):
            progs = {"qshell": (self._qshell() + qflags + [self.dsn, "-c", sql], True),
                     "psql": ([str(self.bin / "psql"), "-X", *pflags, self.dsn, "-c", sql], False)}
            check = {}
            for side, (argv, qshell) in progs.items():
                path = self.tmp / f"bigresult.{side}.{fmt}"
                proc = self._measure(argv, stdout=path, qshell=qshell)
                digest, lines = hashlib.sha256(), 0
                with open(path, "rb") as fh:
                    for block in iter(lambda: fh.read(1 << 20), b""):  # noqa: B023 - read now
                        digest.update(block)
                        lines += block.count(b"\n")
                path.unlink()
                if proc.code != 0:
                    raise RuntimeError(f"bigresult: {side} ({fmt}) exited {proc.code}")
                check[side] = (lines, digest.hexdigest())
            rounds = []
            for r in range(self.rounds):
                got = {}
                for side in (("qshell", "psql") if r % 2 == 0 else ("psql", "qshell")):
                    argv, qshell = progs[side]
                    proc = self._measure(argv, qshell=qshell)
                    got[f"{side}_s"], got[f"{side}_peak_mb"] = round(proc.wall_s, 3), round(proc.peak_mb, 1)
                got["time_ratio"] = round(got["qshell_s"] / got["psql_s"], 3)
                got["memory_ratio"] = round(got["qshell_peak_mb"] / got["psql_peak_mb"], 3)
                rounds.append(got)
            x = out[fmt] = {
                "qshell_s": round(_median([g["qshell_s"] for g in rounds]), 3),
                "psql_s": round(_median([g["psql_s"] for g in rounds]), 3),
                "qshell_peak_mb": round(_median([g["qshell_peak_mb"] for g in rounds]), 1),
                "psql_peak_mb": round(_median([g["psql_peak_mb"] for g in rounds]), 1),
                "time_ratio": _spread([g["time_ratio"] for g in rounds]),
                "memory_ratio": _spread([g["memory_ratio"] for g in rounds]),
                "qshell_lines": check["qshell"][0], "psql_lines": check["psql"][0],
                "identical": check["qshell"][1] == check["psql"][1], "rounds": rounds}
            self.log(f"  big result, {fmt}: {rows} rows, qshell {x['qshell_s']} s / {x['qshell_peak_mb']} MB, psql"
                     f" {x['psql_s']} s / {x['psql_peak_mb']} MB: time ×{x['time_ratio']['median']}, memory"
                     f" ×{x['memory_ratio']['median']}; output {x['qshell_lines']} vs {x['psql_lines']} lines"
                     f"{', identical' if x['identical'] else ''}")
        return out

    # -- 6. scaling with the staged count ----------------------------------------------------------------
    def scaling(self) -> dict:
        import psutil

        me = psutil.Process()
        out = {}
        for count in ((200, 2000, 10000) if self.tiny else (1000, 10000, 100000)):
            queries = [SELECT1] * count
            before = me.memory_info().rss
            run = self._engine_run(queries, 8)
            grown = me.memory_info().rss - before
            out[str(count)] = {"us_per_query": round(run.wall_s / count * 1e6, 2),
                               "bytes_per_query": max(0, round(grown / count))}
            del run
            self.log(f"  scaling {count}: {out[str(count)]['us_per_query']} us/query, ~{out[str(count)]['bytes_per_query']} B/query")
        return out

    def _pgbench_tables(self, scale: int) -> None:
        """The pgbench tables at ``scale`` (loaded by ``pgbench -i`` unless they are there)."""
        from qshell.session.sandbox import init_pgbench

        try:
            branches = self.db.rows("SELECT count(*) FROM pgbench_branches")[0][0]
        except Exception:  # noqa: BLE001 - no tables yet
            branches = 0
        if branches != scale:
            self.log(f"  loading pgbench tables at scale {scale}...")
            init_pgbench(self.dsn, scale)

    # -- 7. the seed's experiment ------------------------------------------------------------------------------
    def seed(self, scale: int) -> dict:
        self._pgbench_tables(scale)
        rows: list[dict] = []
        out = {"scale": scale, "rows": rows}
        serial = None
        for n in (1, 2, 3, 5):
            walls, bounds = [], []
            for _ in range(max(1, self.reps // 2)):
                run = self._engine_run(list(DEMO), n)
                walls.append(run.wall_s)
                bounds.append(run.bound_s)
            wall = _median(walls)
            serial = serial or wall
            rows.append({"n": n, "wall_s": round(wall, 3), "speedup": round(serial / wall, 2),
                                "bound_s": round(_median(bounds), 3)})
            self.log(f"  seed N={n}: wall {wall:.3f} s, bound {_median(bounds):.3f} s")
        return out

    # -- 8. end to end: the whole process on many staged statements, against pgbench ---------------------
    def e2e(self) -> dict:
        """``qshell -X --format json DSN`` fed K lines ``\\add SELECT 1;`` then ``\\go 8``, its JSON
        lines to a file (start-up, reading, staging, the run, rendering, the run history), against
        ``pgbench -n -c 8 -j 2 -t K/8`` running the same K statements (its whole process too),
        the side that goes first alternating, ``rounds`` rounds; each qshell process's peak RSS
        and CPU (wait4)."""
        k = 2000 if self.tiny else 50000
        script = self.tmp / "e2e.sql"
        script.write_text("\\add SELECT 1;\n" * k + "\\go 8\n")
        select1 = self.tmp / "select1.sql"
        select1.write_text(SELECT1 + ";\n")
        out_file = self.tmp / "e2e.json"
        hist = self.tmp / "e2e-hist"
        argv = self._qshell(hist) + ["--format", "json", self.dsn]
        pgbench = [str(self.bin / "pgbench"), "-n", "-c", "8", "-j", "2", "-t", str(k // 8), "-f", str(select1), self.dsn]
        # the floor: the same process staging ONE statement (imports, 8 connections, a run, its
        # history): the part of the peak that is not the results (what is per result is the rest)
        floor_script = self.tmp / "e2e-floor.sql"
        floor_script.write_text("\\add SELECT 1;\n\\go 8\n")
        floor_out = self.tmp / "e2e-floor.json"
        self._measure(argv, stdin=script, stdout=out_file, qshell=True)  # warm: bytecode, the history file
        rounds = []
        for r in range(self.rounds):
            got: dict = {}
            floor = self._measure(argv, stdin=floor_script, stdout=floor_out, qshell=True)
            if floor.code != 0:
                raise RuntimeError(f"end to end: the one-statement run exited {floor.code}")
            got["floor_mb"] = round(floor.peak_mb, 1)
            for side in (("pgbench", "qshell") if r % 2 == 0 else ("qshell", "pgbench")):
                if side == "pgbench":
                    proc = self._measure(pgbench)
                    if proc.code != 0:
                        raise RuntimeError(f"end to end: pgbench exited {proc.code}")
                    got["pgbench_s"] = round(proc.wall_s, 4)
                    continue
                proc = self._measure(argv, stdin=script, stdout=out_file, qshell=True)
                lines = out_file.read_text().splitlines()
                run = json.loads(lines[-1]) if lines else {}
                if proc.code != 0 or len(lines) != k + 1 or run.get("type") != "run" or run.get("ok") != k:
                    raise RuntimeError(f"end to end: expected {k} query records and a run record, got {len(lines)}"
                                       f" lines (exit {proc.code})")
                got.update(qshell_s=round(proc.wall_s, 4), peak_mb=round(proc.peak_mb, 1), cpu_s=round(proc.cpu_s, 3),
                           run_wall_ms=run.get("wall_ms"))
            got["ratio"] = round(got["pgbench_s"] / got["qshell_s"], 3)
            rounds.append(got)
        out: dict = {"statements": k, "qshell_s": round(_median([x["qshell_s"] for x in rounds]), 4),
                     "pgbench_s": round(_median([x["pgbench_s"] for x in rounds]), 4),
                     "ratio": _spread([x["ratio"] for x in rounds]),
                     "run_wall_ms": round(_median([x["run_wall_ms"] for x in rounds]), 1),
                     "peak_mb": _spread([x["peak_mb"] for x in rounds], 1),
                     "floor_mb": _spread([x["floor_mb"] for x in rounds], 1), "rounds": rounds}
        out["per_result_bytes"] = round((out["peak_mb"]["median"] - out["floor_mb"]["median"]) * 2**20 / k)
        self.log(f"  end to end: {k} statements, qshell {out['qshell_s']} s (its run {out['run_wall_ms']} ms,"
                 f" peak {out['peak_mb']['median']} MB, one statement's {out['floor_mb']['median']} MB), pgbench {out['pgbench_s']} s, ratio {out['ratio']['median']}"
                 f" ({out['ratio']['min']}–{out['ratio']['max']})")
        return out

    # -- 9. a large run history written by separate processes does not slow a start -------------------
    def history(self) -> dict:
        """R separate qshell processes each run Q staged queries (``\\add SELECT i;`` × Q, then
        ``\\go 8``) into one history directory, as a user's shells over time; then a five-line
        script (four ``\\add``, ``\\go 4``) with that history and with an empty one, whole
        processes, the side that goes first alternating, ``rounds`` rounds (and one more, not
        counted, to warm the caches). The history's files are measured as the R processes
        left them: a ``-wal`` left behind means a store was not closed (or checkpointed)."""
        runs, size = (3, 500) if self.tiny else (30, 10000)
        full = self.tmp / "history-full"
        shutil.rmtree(full, ignore_errors=True)
        big = self.tmp / "history-big.sql"
        big.write_text("".join(f"\\add SELECT {i};\n" for i in range(1, size + 1)) + "\\go 8\n")
        t = time.perf_counter()
        for i in range(runs):
            proc = self._measure(self._qshell(full) + [self.dsn], stdin=big, qshell=True)
            if proc.code != 0:
                raise RuntimeError(f"history: writing process {i + 1} exited {proc.code}")
        written_s = time.perf_counter() - t
        files, stored = history_files(full)
        wal = files.get("runs.sqlite-wal", 0)
        if stored != runs:
            raise RuntimeError(f"history: {runs} processes wrote {stored} runs")
        if wal:
            self.log(f"  history: a -wal of {wal / 2**20:.1f} MB was left by the writing processes (a store not closed)")
        small = self.tmp / "history-small.sql"
        small.write_text("".join(f"\\add SELECT {i};\n" for i in range(1, 5)) + "\\go 4\n")
        rounds = []
        for r in range(self.rounds + 1):
            empty = self.tmp / f"history-empty-{r}"
            got = {}
            for side in (("empty_s", "full_s") if r % 2 == 0 else ("full_s", "empty_s")):
                proc = self._measure(self._qshell(empty if side == "empty_s" else full) + [self.dsn], stdin=small,
                                     qshell=True)
                if proc.code != 0:
                    raise RuntimeError(f"history: the five-line script exited {proc.code}")
                got[side] = round(proc.wall_s, 4)
            got["ratio"] = round(got["full_s"] / got["empty_s"], 3)
            if r:
                rounds.append(got)
        out: dict = {"runs": stored, "queries_per_run": size, "processes": runs, "written_s": round(written_s, 1),
                     "history_mb": round(sum(files.values()) / 2**20, 2),
                     "files_mb": {k: round(v / 2**20, 2) for k, v in files.items()}, "wal_mb": round(wal / 2**20, 2),
                     "empty_s": round(_median([x["empty_s"] for x in rounds]), 4),
                     "full_s": round(_median([x["full_s"] for x in rounds]), 4),
                     "ratio": _spread([x["ratio"] for x in rounds]), "rounds": rounds}
        self.log(f"  history: five-line script {out['empty_s']} s with an empty history, {out['full_s']} s with"
                 f" {stored} runs of {size} queries written by {runs} processes ({out['history_mb']} MB,"
                 f" -wal {out['wal_mb']} MB): ratio {out['ratio']['median']} ({out['ratio']['min']}–{out['ratio']['max']})")
        return out

    # -- 10. the cost of \\set resources (pg_stat_statements per staged query) ---------------------------
    def resources(self) -> dict:
        """K ``SELECT 1`` at N=8 with resources off, then on (the workers on
        ``pg_stat_statements.track = all``, the queryids planned, the snapshots before and
        after, the attribution), alternating; the throughput on ÷ off, the median of the
        pairs. The "on" time counts everything the shell adds to a run, not only the wall."""
        from qshell.engine.resources import Tracker, probe, session_settings

        found = probe(self.db)
        if not found.usable:
            self.log(f"  resources: not measured: {found.why}")
            return {"usable": False, "why": found.why}
        k = 2000 if self.tiny else 20000
        queries = [SELECT1] * k
        self._engine_run(queries[:1000], 8)  # warm the pool
        offs, ons, ratios = [], [], []
        for _ in range(self.reps):
            self.db.session_settings = session_settings({}, False)
            off = k / self._engine_run(queries, 8).wall_s
            self.db.session_settings = session_settings({}, found.set_track)
            t0 = time.perf_counter()
            tracker = Tracker(self.db, found, {})
            tracker.before(queries, 8)
            run = self._engine_run(queries, 8)
            measured = tracker.after(run.queries)
            on = k / (time.perf_counter() - t0)
            if tracker.error or measured[0].resources is None:
                raise RuntimeError(f"resources: no figures measured ({tracker.error})")
            offs.append(off)
            ons.append(on)
            ratios.append(on / off)
        self.db.session_settings = session_settings({}, False)
        out = {"usable": True, "statements": k, "n": 8, "off_qps": round(_median(offs)), "on_qps": round(_median(ons)),
               "ratio": round(_median(ratios), 3)}
        self.log(f"  resources: {k} x SELECT 1 at N=8, off {out['off_qps']} q/s, on {out['on_qps']} q/s,"
                 f" on/off {out['ratio']}")
        return out

    # -- 11. the script reader against psql's -------------------------------------------------------------
    def reader(self) -> dict:
        """Two scripts through ``qshell -X -f`` and ``psql -X -f``, interleaved, whole processes:
        one statement of 100,000 lines (a ``VALUES`` list the server counts) and 100,000
        one-line ``SELECT i;``. Each is also read inside ``\\if false`` … ``\\endif``, where
        both programs lex every line and send nothing: the reader alone (plus start-up)."""
        lines = 10_000 if self.tiny else 100_000
        one = "SELECT count(*) FROM (VALUES\n" + ",\n".join(f"({i}, 'v{i}')" for i in range(lines)) + ") v(a, b);\n"
        many = "".join(f"SELECT {i};\n" for i in range(lines))
        files = {}
        for name, text in (("one_statement", one), ("one_line_statements", many)):
            for lexed, body in (("", text), ("_lexed_only", "\\if false\n" + text + "\\endif\n")):
                path = self.tmp / f"reader_{name}{lexed}.sql"
                path.write_text(body)
                files[name + lexed] = path
        out: dict = {"lines": lines}
        for key, path in files.items():
            qshell = self._qshell() + [self.dsn, "-f", str(path)]
            psql = [str(self.bin / "psql"), "-X", "-q", self.dsn, "-f", str(path)]
            self._proc_wall(qshell, qshell=True)  # warm
            q, p = [], []
            for _ in range(self.reps):
                p.append(self._proc_wall(psql))
                q.append(self._proc_wall(qshell, qshell=True))
            out[key] = {"qshell_s": round(_median(q), 3), "psql_s": round(_median(p), 3),
                        "ratio": round(_median([a / b for a, b in zip(q, p, strict=True)]), 2)}
            self.log(f"  reader, {key.replace('_', ' ')} ({lines} lines): qshell {out[key]['qshell_s']} s,"
                     f" psql {out[key]['psql_s']} s ({out[key]['ratio']}×)")
        return out

    # -- 12. open-loop latency against pgbench -R ------------------------------------------------------------
    def latency(self) -> dict:
        """``SELECT 1`` at 300/s on 8 connections for ``seconds``: ``pgbench -n -R 300 -c 8 -j 2 -T D
        -l`` (its per-transaction log: latency from the scheduled start, and the schedule lag)
        and the engine's ``\\go 8 for D at 300/s`` (LoadPool), interleaved (the side that goes
        first alternates), ``rounds`` rounds; p50 / p95 / p99 of each, and per round the
        ratios qshell ÷ pgbench of p50 and p95 (min / median / max)."""
        from qshell.engine.load import LoadPool

        seconds = 2 if self.tiny else 10
        rounds = max(3, self.reps)
        script = self.tmp / "select1.sql"
        script.write_text(SELECT1 + ";\n")
        LoadPool(self.db, [SELECT1], LATENCY_CLIENTS, 0.5, LATENCY_RATE).run()  # the connections, warm
        per_round: list[dict] = []
        for r in range(rounds):
            got: dict = {}
            for side in (("pgbench", "qshell") if r % 2 == 0 else ("qshell", "pgbench")):
                if side == "qshell":
                    load = LoadPool(self.db, [SELECT1], LATENCY_CLIENTS, seconds, LATENCY_RATE).run()
                    got["qshell"] = {"executions": load.executions, "errors": load.errors,
                                     "latency_ms": {k: load.overall.summary()[k] for k in ("p50", "p95", "p99")},
                                     "lag_ms": {k: load.lag.summary()[k] for k in ("p50", "p95", "p99")},
                                     "client_bound": load.client_bound}
                    continue
                logs = self.tmp / f"latency-{r}"
                shutil.rmtree(logs, ignore_errors=True)
                logs.mkdir()
                proc = subprocess.run([str(self.bin / "pgbench"), "-n", "-R", str(LATENCY_RATE), "-c", str(LATENCY_CLIENTS),
                                       "-j", "2", "-T", str(seconds), "-f", str(script), "-l",
                                       f"--log-prefix={logs / 'pgbench'}", self.dsn],
                                      capture_output=True, text=True, check=False)
                lat, lag = pgbench_log(sorted(logs.iterdir()))
                if proc.returncode != 0 or not lat:
                    raise RuntimeError(f"pgbench failed: {proc.stderr.strip()[:300]}")
                got["pgbench"] = {"executions": len(lat),
                                  "latency_ms": {f"p{p}": round(nearest_rank(lat, p), 3) for p in (50, 95, 99)},
                                  "lag_ms": {f"p{p}": round(nearest_rank(lag, p), 3) for p in (50, 95, 99)}}
            q, b = got["qshell"]["latency_ms"], got["pgbench"]["latency_ms"]
            got["p50_ratio"] = round(q["p50"] / b["p50"], 3) if b["p50"] else None
            got["p95_ratio"] = round(q["p95"] / b["p95"], 3) if b["p95"] else None
            per_round.append(got)
            self.log(f"  latency round {r + 1}: qshell p50/p95 {q['p50']}/{q['p95']} ms (lag"
                     f" {got['qshell']['lag_ms']['p50']}/{got['qshell']['lag_ms']['p95']}), pgbench {b['p50']}/{b['p95']} ms"
                     f" (lag {got['pgbench']['lag_ms']['p50']}/{got['pgbench']['lag_ms']['p95']}):"
                     f" ratios {got['p50_ratio']} / {got['p95_ratio']}")

        def median_of(side: str, key: str) -> dict:
            return {p: round(_median([x[side][key][p] for x in per_round]), 3) for p in ("p50", "p95", "p99")}

        out = {"rate": LATENCY_RATE, "clients": LATENCY_CLIENTS, "seconds": seconds, "rounds": rounds,
               "qshell": {"latency_ms": median_of("qshell", "latency_ms"), "lag_ms": median_of("qshell", "lag_ms"),
                          "client_bound_rounds": sum(1 for x in per_round if x["qshell"]["client_bound"])},
               "pgbench": {"latency_ms": median_of("pgbench", "latency_ms"), "lag_ms": median_of("pgbench", "lag_ms")},
               "p50_ratio": _spread([x["p50_ratio"] for x in per_round if x["p50_ratio"] is not None]),
               "p95_ratio": _spread([x["p95_ratio"] for x in per_round if x["p95_ratio"] is not None]),
               "per_round": per_round}
        self.log(f"  latency: p50 ratio {out['p50_ratio']}, p95 ratio {out['p95_ratio']}")
        return out

    # -- 13. closed-loop load against pgbench select-only ---------------------------------------------------
    def load(self, scale: int = 10) -> dict:
        """``pgbench -n -S -c 8 -j 2 -T D`` (its built-in select-only script: one
        ``SELECT abalance FROM pgbench_accounts WHERE aid = :aid``, aid random in 1..100,000 ×
        scale) against the engine's closed-loop load ``\\go 8 for Ds`` (LoadPool, in this
        process) over 10,000 staged ``SELECT abalance FROM pgbench_accounts WHERE aid = K``, K
        drawn the same way (a fixed seed), the side that goes first alternating, ``rounds``
        rounds. Ratio: qshell's executions per second of its elapsed time ÷ pgbench's tps
        without initial connection time."""
        from qshell.engine.load import LoadPool

        self._pgbench_tables(scale)
        seconds = 2 if self.tiny else 10
        rng = random.Random(LOAD_SEED)
        queries = [f"SELECT abalance FROM pgbench_accounts WHERE aid = {rng.randint(1, 100000 * scale)}"
                   for _ in range(10000)]
        LoadPool(self.db, queries, 8, 0.5).run()  # the connections, warm
        rounds = []
        for r in range(self.rounds):
            got: dict = {}
            for side in (("pgbench", "qshell") if r % 2 == 0 else ("qshell", "pgbench")):
                if side == "pgbench":
                    tps, done, proc = self._pgbench(["-n", "-S", "-c", "8", "-j", "2", "-T", str(seconds)])
                    got.update(pgbench_tps=round(tps), pgbench_transactions=done,
                               pgbench_cpu_us=round(proc.cpu_s / done * 1e6, 2))
                    continue
                run = LoadPool(self.db, queries, 8, seconds).run()
                if run.errors:
                    raise RuntimeError(f"load: {run.errors} executions failed")
                got.update(qshell_eps=round(run.executions / run.elapsed_s), qshell_executions=run.executions,
                           qshell_elapsed_s=round(run.elapsed_s, 3), qshell_cpu_us=round(run.client_cpu_s / run.executions * 1e6, 2),
                           client_cpu=round(run.client_cpu, 3), client_bound=run.client_bound)
            got["ratio"] = round(got["qshell_eps"] / got["pgbench_tps"], 3)
            rounds.append(got)
        out: dict = {"scale": scale, "clients": 8, "seconds": seconds, "statements": len(queries), "seed": LOAD_SEED,
                     "qshell_eps": round(_median([x["qshell_eps"] for x in rounds])),
                     "pgbench_tps": round(_median([x["pgbench_tps"] for x in rounds])),
                     "ratio": _spread([x["ratio"] for x in rounds]),
                     "qshell_cpu_us": _spread([x["qshell_cpu_us"] for x in rounds], 2),
                     "pgbench_cpu_us": _spread([x["pgbench_cpu_us"] for x in rounds], 2), "rounds": rounds}
        self.log(f"  load: select-only at scale {scale}, 8 clients, {seconds} s: qshell {out['qshell_eps']} executions/s,"
                 f" pgbench {out['pgbench_tps']} tps, ratio {out['ratio']['median']} ({out['ratio']['min']}–"
                 f"{out['ratio']['max']})")
        return out

    def close(self) -> None:
        """Close the connections and remove the scratch directory (its histories, scripts, outputs, bytecode)."""
        self.db.close()
        shutil.rmtree(self.tmp, ignore_errors=True)


def machine() -> dict:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cores": os.cpu_count(), "cpu": cpu or platform.processor(), "python": platform.python_version(),
            "platform": platform.platform()}


def _checkout(directory: Path) -> bool:
    """``directory`` is a source checkout of qshell (its pyproject.toml and its history/)."""
    try:
        return (directory / "history").is_dir() and 'name = "qshell"' in (directory / "pyproject.toml").read_text()
    except OSError:
        return False


def default_history_dir() -> Path | None:
    """Where the records go: the history/ of the checkout this package runs from, else of
    the checkout that is the working directory; None otherwise (an installed package
    must never write into site-packages, nor guess: the bench asks for --history-dir)."""
    for directory in (Path(__file__).resolve().parent.parent, Path.cwd()):
        if _checkout(directory):
            return directory / "history"
    return None


def commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                              cwd=Path(__file__).parent, check=False).stdout.strip() or "unknown"
    except OSError:
        return "unknown"


def _t(value, met: bool, **extra) -> dict:  # noqa: ANN001 - a number or None
    return {"value": value, "met": met, **extra}


def targets(rec: dict) -> dict:
    """Each target of ``TARGETS`` the record's cases measured: its value (the median of the
    rounds), whether it was met, and for some the peer's figure beside it; a headline row
    that could not be measured has value None, met false and why."""
    c = rec["cases"]
    out: dict = {}
    thr = c.get("throughput", {})
    for n in THROUGHPUT_N:
        if str(n) in thr:
            v = _num(thr[str(n)]["ratio"])
            out[f"throughput_n{n}"] = _t(v, v >= 0.5)
    if "qshell_cpu_us" in thr.get("8", {}):
        v = _num(thr["8"]["qshell_cpu_us"])
        out["client_cpu_us_n8"] = _t(v, v <= 25, peer=_num(thr["8"]["pgbench_cpu_us"]))
    if "e2e" in c:
        v = _num(c["e2e"]["ratio"])
        out["e2e_ratio"] = _t(v, v >= 0.35)
        v = _num(c["e2e"]["peak_mb"])
        out["e2e_peak_mb"] = _t(v, v <= 60)
    for fmt in ("aligned", "csv"):
        if fmt in c.get("bigresult", {}):
            x = c["bigresult"][fmt]
            v = _num(x["time_ratio"])
            out[f"bigresult_{fmt}_time"] = _t(v, v <= 2)
            v = _num(x["memory_ratio"])
            out[f"bigresult_{fmt}_memory"] = _t(v, v <= 1)
    if "history" in c:
        v = _num(c["history"]["ratio"])
        out["history_ratio"] = _t(v, v <= 1.1)
    if "startup" in c:
        v = _num(c["startup"].get("pgcli_ratio"))
        out["startup_vs_pgcli"] = (_t(v, v <= 0.5) if v is not None
                                   else _t(None, False, why=c["startup"].get("pgcli_why") or "not measured"))
    if "load" in c:
        v = _num(c["load"]["ratio"])
        out["load_ratio"] = _t(v, v >= 0.6)
    if "makespan" in c:
        worst = max(c["makespan"].values(), key=lambda x: x["ratio"])
        out["makespan_ratio"] = _t(worst["ratio"], all(x["met"] for x in c["makespan"].values()))
    if "processes" in c:
        v = c["processes"]["ratio"]
        out["processes_ratio"] = _t(v, v < 1)
        v = c["processes"]["process_ratio"]
        out["process_whole_ratio"] = _t(v, v < 1)
    if "startup" in c:
        v = c["startup"]["qshell_s"]
        out["startup_s"] = _t(v, v <= 0.35)
    if "memory" in c:
        v = _num(c["memory"]["vs_psql"])
        out["memory_vs_psql"] = _t(v, v <= 1.25)
    if "latency" in c:
        v = c["latency"]["p50_ratio"]["median"]
        out["latency_p50_ratio"] = _t(v, v <= 1.5)
        v = c["latency"]["p95_ratio"]["median"]
        out["latency_p95_ratio"] = _t(v, v <= 2)
    return out


# -- pgcli, for the start-up comparison ------------------------------------------------------------------
def cache_dir() -> Path:
    """The benchmark's own cache (pgcli's venv): ``$XDG_CACHE_HOME/qshell-bench``, else ``~/.cache/qshell-bench``."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "qshell-bench"


def find_pgcli(spec: str | None, log=print, cache: Path | None = None) -> tuple[str | None, str | None]:  # noqa: ANN001
    """(pgcli's path, None), or (None, why it is not measured). ``spec``: ``none`` (or empty):
    skipped; ``auto``: pgcli on PATH, else the one in the benchmark's cache venv, else that
    venv made now and ``pip install pgcli`` run in it (a failure is logged, never raised);
    anything else: that program."""
    if not spec or spec == "none":
        return None, "skipped (--pgcli none)"
    if spec != "auto":
        found = shutil.which(spec)
        return (found, None) if found else (None, f"--pgcli {spec}: no such program")
    on_path = shutil.which("pgcli")
    if on_path:
        return on_path, None
    venv = (cache or cache_dir()) / "pgcli-venv"
    exe = venv / "bin" / "pgcli"
    if not exe.exists():
        log(f"pgcli: not on PATH; installing it into {venv} (pip install pgcli)...")
        try:
            venv.parent.mkdir(parents=True, exist_ok=True)
            for step in ([sys.executable, "-m", "venv", "--clear", str(venv)],
                         [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "pgcli"]):
                done = subprocess.run(step, capture_output=True, text=True, stdin=subprocess.DEVNULL, check=False,
                                      timeout=900)
                if done.returncode != 0:
                    tail = (done.stderr.strip() or done.stdout.strip()).splitlines()[-1:] or ["no output"]
                    why = f"pgcli could not be installed ({' '.join(step[-3:])}: exit {done.returncode}: {tail[0][:200]})"
                    log(f"pgcli: {why}")
                    return None, why
        except (OSError, subprocess.TimeoutExpired) as exc:
            log(f"pgcli: could not be installed: {exc}")
            return None, f"pgcli could not be installed ({exc})"
        if not exe.exists():
            return None, "pgcli could not be installed (no pgcli in its venv after pip install)"
    return str(exe), None


# -- the records, the README's tables and the headline figures -------------------------------------------
README_HEAD = (Path(__file__).parent / "bench_readme.md")
HEADLINE_START, HEADLINE_END = "<!-- bench:headline -->", "<!-- /bench:headline -->"


def load_records(history: Path) -> list[dict]:
    """Every record of ``history/benchmarks.jsonl``, oldest first (unreadable lines skipped)."""
    records = []
    path = history / "benchmarks.jsonl"
    if path.exists():
        for line in path.read_text().splitlines():
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            if isinstance(rec, dict):
                records.append(rec)
    return records


def _cell(v, unit: str = "", bold: bool = False) -> str:  # noqa: ANN001 - a number, a spread or None
    """A figure: ``median (min–max)`` for a spread, the number itself for older records, – when missing."""
    if v is None or v == {}:
        return "–"
    b = "**" if bold else ""
    if isinstance(v, dict):
        return f"{b}{v['median']}{unit}{b} ({v['min']}–{v['max']})"
    return f"{b}{v}{unit}{b}"


def _n(v) -> str:  # noqa: ANN001
    return f"{v:,}" if isinstance(v, int) else ("–" if v is None else str(v))


def _h_throughput(c: dict, bold: bool = True) -> str | None:
    if not all(str(n) in c for n in THROUGHPUT_N):
        return None
    return (" / ".join(_cell(c[str(n)]["ratio"], bold=bold) for n in THROUGHPUT_N)
            + f"; at N=8 {_n(c['8']['qshell_qps'])} q/s vs {_n(c['8']['pgbench_tps'])} tps")


def _h_cpu(c: dict, bold: bool = True) -> str | None:
    x = c.get("8", {})
    if "qshell_cpu_us" not in x:
        return None
    one = c.get("1", {}).get("qshell_cpu_us")
    return (f"{_cell(x['qshell_cpu_us'], ' µs', bold)} at N=8 (N=1: {_cell(one, ' µs')});"
            f" pgbench {_cell(x['pgbench_cpu_us'], ' µs')} per transaction")


def _h_e2e(c: dict, bold: bool = True) -> str | None:
    if "ratio" not in c:
        return None
    return (f"pgbench ÷ qshell {_cell(c['ratio'], bold=bold)} ({c['qshell_s']} s vs {c['pgbench_s']} s),"
            f" peak {_cell(c.get('peak_mb'), ' MB', bold)}"
            + (f" (one statement: {_cell(c['floor_mb'], ' MB')}; {c['per_result_bytes']} B per result)" if "floor_mb" in c else ""))


def _h_big(c: dict, bold: bool = True) -> str | None:
    if "aligned" not in c or "csv" not in c:
        return None
    return "; ".join(f"{name}: time ×{_cell(x['time_ratio'], bold=bold)} ({x['qshell_s']} s vs {x['psql_s']} s),"
                     f" memory ×{_cell(x['memory_ratio'], bold=bold)} ({x['qshell_peak_mb']} vs {x['psql_peak_mb']} MB)"
                     for name, x in (("aligned", c["aligned"]), ("CSV", c["csv"])))


def _h_history(c: dict, bold: bool = True) -> str | None:
    if "processes" not in c:  # older records stored one run again: not this figure
        return None
    return (f"{_cell(c['ratio'], '×', bold)} ({c['full_s']} s vs {c['empty_s']} s; {c['runs']} runs × {_n(c['queries_per_run'])}"
            f" queries, {c['history_mb']} MB, -wal {c['wal_mb']} MB)")


def _h_pgcli(c: dict, bold: bool = True) -> str | None:
    if c.get("pgcli_ratio") is None:
        return None
    return (f"{_cell(c['pgcli_ratio'], '×', bold)} ({c['qshell_select1_s']} s vs {c['pgcli_select1_s']} s;"
            f" psql {c['psql_select1_s']} s"
            + (f"; the stack alone — Python, gevent's patching, psycopg2, one SELECT 1 — {c['stack_select1_s']} s,"
               f" {_cell(c['stack_ratio'], '×')})" if c.get("stack_ratio") else ")"))


def _h_load(c: dict, bold: bool = True) -> str | None:
    if "ratio" not in c:
        return None
    return (f"{_cell(c['ratio'], bold=bold)} ({_n(c['qshell_eps'])} executions/s vs {_n(c['pgbench_tps'])} tps"
            + (f"; client CPU {_cell(c['qshell_cpu_us'], ' µs')} per execution vs pgbench's"
               f" {_cell(c['pgbench_cpu_us'], ' µs')})" if "qshell_cpu_us" in c else ")"))


def _h_latency(c: dict, bold: bool = True) -> str | None:
    if "p50_ratio" not in c:
        return None
    return f"p50 {_cell(c['p50_ratio'], bold=bold)}, p95 {_cell(c['p95_ratio'], bold=bold)}"


def _h_memory(c: dict, bold: bool = True) -> str | None:
    if "vs_psql" not in c:
        return None
    return f"{_cell(c['vs_psql'], '×', bold)} ({c['peak_mb']} MB vs {c['psql_peak_mb']} MB)"


def _h_processes(c: dict, bold: bool = True) -> str | None:
    if "process_ratio" not in c:
        return None
    return f"the run {_cell(c['ratio'], bold=bold)}; the whole process, start-up included, {_cell(c['process_ratio'], bold=bold)}"


def _h_startup(c: dict, bold: bool = True) -> str | None:
    return f"{_cell(c['qshell_s'], ' s', bold)} vs {c['psql_s']} s" if "qshell_s" in c else None


def _h_reader(c: dict, bold: bool = True) -> str | None:
    x = c.get("one_line_statements")
    return f"{_cell(x['ratio'], '×', bold)} ({x['qshell_s']} s vs {x['psql_s']} s)" if x else None


# (case, figure, what it is compared with and how, its cell, target): the headline rows first
HEADLINE = (
    ("throughput", "engine, 20,000 `SELECT 1`, N = 1 / 8 / 32 / 64, qshell ÷ `pgbench -c N -j 2`", _h_throughput,
     "≥ 0.5 at every N"),
    ("throughput", "client CPU per staged query (engine alone, `RunResult.client_cpu_s` ÷ statements), beside"
     " pgbench's CPU per transaction (wait4)", _h_cpu, "≤ 25 µs"),
    ("e2e", "end to end, 50,000 `\\add SELECT 1;` + `\\go 8`, JSON to a file, the whole process vs pgbench's",
     _h_e2e, "≥ 0.35, ≤ 60 MB"),
    ("bigresult", "5,000,000-row `SELECT` via `-c`, aligned / CSV, qshell ÷ psql (time, peak RSS)", _h_big,
     "time ≤ 2×, memory ≤ 1×"),
    ("history", "a 5-line script after 30 processes ran 10,000 queries each into the history, ÷ empty history",
     _h_history, "≤ 1.1×"),
    ("startup", "`-c 'SELECT 1;'` start to exit, qshell ÷ `pgcli --less-chatty -c`", _h_pgcli, "≤ 0.5×"),
    ("load", "closed-loop load, select-only on pgbench scale 10, N=8, executions/s ÷ `pgbench -S` tps", _h_load,
     "≥ 0.6"),
    ("latency", "open-loop latency, `SELECT 1` at 300/s on 8 connections, qshell ÷ `pgbench -R 300`", _h_latency,
     "p50 ≤ 1.5, p95 ≤ 2"),
    ("memory", "peak memory of a staged 5,000,000-row `SELECT` run by `\\go`, ÷ `psql -c`'s", _h_memory, "≤ 1.25"),
    ("processes", "the six `\\demo` queries at N=6, ÷ `xargs -P 6` one `psql -c` each", _h_processes, "< 1"),
    ("startup", "start-up, `qshell -X -c '\\q'`, vs psql", _h_startup, "≤ 0.35 s"),
    ("reader", "reading a script of 100,000 one-line statements, ÷ `psql -f`", _h_reader, "–"),
)


def headline(records: list[dict]) -> str:
    """The headline table (README.md and docs/benchmark.md, between the bench:headline
    markers): each row from the latest full-size record that measured it, its date and
    commit beside it; – when no record has it."""
    lines = ["| figure | result: median of the rounds (min–max) | target | record |", "|---|---|---|---|"]
    for case, figure, cell, target in HEADLINE:
        found, src = "–", "–"
        for rec in reversed(records):
            if rec.get("tiny") or case not in rec.get("cases", {}):
                continue
            got = cell(rec["cases"][case])
            if got is not None:
                found, src = got, f"{str(rec.get('date', ''))[:10]}, `{rec.get('commit', '')}`"
                break
        lines.append(f"| {figure} | {found} | {target} | {src} |")
    return "\n".join(lines)


def rewrite_block(path: Path, block: str) -> bool:
    """Replace what stands between the bench:headline markers of ``path`` by ``block``; False
    (nothing written) when the file or its markers are missing."""
    try:
        text = path.read_text()
    except OSError:
        return False
    a, b = text.find(HEADLINE_START), text.find(HEADLINE_END)
    if a < 0 or b < a:
        return False
    new = text[: a + len(HEADLINE_START)] + "\n" + block + "\n" + text[b:]
    if new != text:
        path.write_text(new)
    return True


def headline_block(path: Path) -> str | None:
    """What stands between the markers of ``path`` now (None: no markers)."""
    text = path.read_text()
    a, b = text.find(HEADLINE_START), text.find(HEADLINE_END)
    return text[a + len(HEADLINE_START): b].strip("\n") if 0 <= a < b else None


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def _other_cells(c: dict) -> list[str]:
    mk = c.get("makespan", {})
    pr = c.get("processes", {})
    st = c.get("startup", {})
    sc = c.get("scaling", {})
    seed = c.get("seed", {}).get("rows", [])
    return [str(max((x["ratio"] for x in mk.values()), default="–")),
            f"{_cell(pr.get('ratio'))} / {_cell(pr.get('process_ratio'))}" if pr else "–",
            f"{st['qshell_s']} s / {st['psql_s']} s" if "qshell_s" in st else "–",
            _memory_cell(c.get("memory", {})),
            " / ".join(str(v.get("us_per_query")) for v in sc.values()) or "–",
            " / ".join(str(x["wall_s"]) for x in seed) or "–",
            _resources_cell(c.get("resources", {})), _reader_cell(c.get("reader", {})),
            _latency_cell(c.get("latency", {}))]


def write_readme(history: Path) -> None:
    """Regenerate history/README.md (the record formats, then two tables of every recorded
    run: the headline figures, the others) and the headline block of the checkout's
    README.md and docs/benchmark.md when ``history`` is a checkout's history/ (their
    markers present)."""
    records = load_records(history)
    lines = [README_HEAD.read_text().rstrip(), "", "## Recorded benchmark runs", "",
             "Generated by `python -m qshell.bench` from `benchmarks.jsonl`; targets in brackets; a spread is the"
             " median of the rounds (min–max); – where a record lacks the figure (older records kept one number,"
             " the median).", "",
             "### The headline figures", "",
             _row(["date", "commit", "machine", "PG",
                   "engine ÷ pgbench -j 2, 20,000 SELECT 1, N = 1 / 8 / 32 / 64 [≥ 0.5]",
                   "client CPU per staged query, N=8 [≤ 25 µs]; pgbench per transaction",
                   "end to end ÷ pgbench [≥ 0.35], peak [≤ 60 MB]",
                   "big result aligned / CSV: time ÷ psql [≤ 2], memory ÷ psql [≤ 1]",
                   "history of 30 runs × 10,000 by separate processes ÷ empty [≤ 1.1]",
                   "`-c 'SELECT 1;'` ÷ pgcli [≤ 0.5]", "select-only load ÷ pgbench -S [≥ 0.6]"]),
             "|" + "---|" * 11]
    for r in records:
        c = r.get("cases", {})
        thr = c.get("throughput", {})
        big = c.get("bigresult", {})
        hist = c.get("history", {})
        st = c.get("startup", {})
        head = [str(r.get("date", ""))[:16], str(r.get("commit", "")),
                f"{r.get('machine', {}).get('cores', '?')} cores{' (tiny)' if r.get('tiny') else ''}",
                str(r.get("server_version", ""))]
        lines.append(_row(head + [
            " / ".join(_cell(thr.get(str(n), {}).get("ratio")) for n in THROUGHPUT_N) if thr else "–",
            _h_cpu(thr, False) or "–",
            f"{_cell(c['e2e'].get('ratio'))}, {_cell(c['e2e'].get('peak_mb'), ' MB')}" if "e2e" in c else "–",
            " / ".join(f"{_cell(big[f]['time_ratio'])}, {_cell(big[f]['memory_ratio'])}" for f in ("aligned", "csv"))
            if big else "–",
            (_h_history(hist, False) or f"{_cell(hist.get('ratio'))} (one run stored {hist.get('runs')} times)")
            if hist else "–",
            _h_pgcli(st, False) or (f"not measured: {st.get('pgcli_why')}" if st.get("pgcli_why") else "–"),
            _h_load(c.get("load", {}), False) or "–"]))
    lines += ["", "### The other figures", "",
              _row(["date", "commit", "worst makespan ÷ bound [≤ 1.03]",
                    "\\demo run / whole process ÷ xargs psql [< 1]", "start-up qshell / psql [≤ 0.35 s]",
                    "memory, 5M rows [÷ psql ≤ 1.25]", "µs/query at 1k / 10k / 100k", "seed N=1/2/3/5 wall (s)",
                    "resources on ÷ off, SELECT 1 at N=8",
                    "reader ÷ psql: one 100k-line statement / 100k statements (lexed only)",
                    "open-loop latency ÷ pgbench -R, SELECT 1 at 300/s, N=8: p50 [≤ 1.5] / p95 [≤ 2]"
                    " (qshell / pgbench p50 and p95)"]),
              "|" + "---|" * 11]
    for r in records:
        lines.append(_row([str(r.get("date", ""))[:16] + (" (tiny)" if r.get("tiny") else ""), str(r.get("commit", ""))]
                          + _other_cells(r.get("cases", {}))))
    (history / "README.md").write_text("\n".join(lines) + "\n")
    if _checkout(history.parent):
        block = headline(records)
        for doc in (history.parent / "README.md", history.parent / "docs" / "benchmark.md"):
            rewrite_block(doc, block)


def _memory_cell(m: dict) -> str:
    if not m:
        return "–"
    if "vs_psql" in m:
        return f"{_cell(m['vs_psql'])} ({m['peak_mb']} MB vs psql {m['psql_peak_mb']} MB, {m['rows']} rows)"
    return f"growth {m.get('growth_mb', '–')} MB ({m.get('rows', '–')} rows, through a cursor)"


def _reader_cell(r: dict) -> str:
    if not r:
        return "–"

    def cell(key: str) -> str:
        x = r.get(key, {})
        return f"{x.get('ratio', '–')} ({x.get('qshell_s', '–')} s vs {x.get('psql_s', '–')} s)"
    return (f"{cell('one_statement')} / {cell('one_line_statements')}"
            f" ({cell('one_statement_lexed_only')} / {cell('one_line_statements_lexed_only')})")


def _latency_cell(r: dict) -> str:
    if not r:
        return "–"
    q, b = r["qshell"]["latency_ms"], r["pgbench"]["latency_ms"]
    return (f"{_cell(r['p50_ratio'])} / {_cell(r['p95_ratio'])};"
            f" {q['p50']} / {q['p95']} ms vs {b['p50']} / {b['p95']} ms")


def _resources_cell(r: dict) -> str:
    if not r:
        return "–"
    if not r.get("usable"):
        return "not usable"
    return f"{r['ratio']} ({r['on_qps']} vs {r['off_qps']} q/s)"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m qshell.bench", description=__doc__.splitlines()[0])
    p.add_argument("--dsn", help="benchmark this server (default: a sandbox of its own)")
    p.add_argument("--reps", type=int, default=5, help="rounds of each comparison (at least 3 where they are interleaved)")
    p.add_argument("--scale", type=int, default=10, help="pgbench scale for the seed's experiment and the load case")
    p.add_argument("--tiny", action="store_true", help="small sizes (for the test suite); recorded as tiny")
    p.add_argument("--history-dir", help="where benchmarks.jsonl and README.md are written (default: the history/"
                                          " of the qshell checkout it runs from or in; required elsewhere)")
    p.add_argument("--pgcli", default="auto", metavar="auto|none|PATH",
                   help="pgcli, for the start-up comparison (auto, the default: on PATH, else installed by pip into"
                        " a venv under the user cache dir; none: skipped, recorded as not measured)")
    p.add_argument("--cases", default=",".join(CASES))
    args = p.parse_args(argv)
    history = Path(args.history_dir) if args.history_dir else default_history_dir()
    if history is None:
        print("python -m qshell.bench: not run from a checkout of qshell: give --history-dir DIR for the records",
              file=sys.stderr)
        return 2
    if args.pgcli not in ("auto", "none", "") and not shutil.which(args.pgcli):
        print(f"python -m qshell.bench: --pgcli {args.pgcli}: no such program", file=sys.stderr)
        return 2
    cases = [c.strip() for c in args.cases.split(",") if c.strip()]
    unknown = [c for c in cases if c not in CASES]
    if unknown:
        print(f"python -m qshell.bench: unknown case(s) {', '.join(unknown)}; the cases: {', '.join(CASES)}", file=sys.stderr)
        return 2
    from qshell.session.sandbox import pgbench_path, start

    pgcli, why = find_pgcli(args.pgcli) if "startup" in cases else (None, None)
    box = None
    dsn = args.dsn
    if not dsn:
        box = start(Path(tempfile.mkdtemp(prefix="qshell-bench-pg-")) / "data")
        dsn = box.dsn
    bench = Bench(dsn, max(1, args.reps), args.tiny, pgbench_path().parent, pgcli=pgcli)
    bench.pgcli_why = why
    scale = 1 if args.tiny else args.scale
    rec = {"type": "benchmark", "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "qshell": __version__,
           "commit": commit(), "machine": machine(), "tiny": args.tiny, "reps": bench.reps,
           "server_version": bench.db.info().get("server_version", ""), "cases": {}}
    try:
        print(f"qshell {__version__} ({rec['commit']}) on {rec['machine']['cores']} cores, PostgreSQL {rec['server_version']}")
        if "seed" in cases:  # first: the processes case uses the seed's queries when the tables are there
            rec["cases"]["seed"] = bench.seed(scale)
        for case in cases:
            if case == "seed":
                continue
            print(f"{case}:")
            if case == "processes":
                queries = list(DEMO) if "seed" in cases else ["SELECT pg_sleep(0.3)"] * 6
                rec["cases"][case] = bench.processes(queries)
            elif case == "load":
                rec["cases"][case] = bench.load(scale)
            else:
                rec["cases"][case] = getattr(bench, case)()
    finally:
        bench.close()
        if box is not None:
            box.stop()
    rec["targets"] = targets(rec)
    print("targets:")
    for name, t in rec["targets"].items():
        peer = f" (peer {t['peer']})" if "peer" in t else ""
        value = t["value"] if t["value"] is not None else f"not measured: {t.get('why')}"
        print(f"  {name}: {value}{peer} [{TARGETS[name]}] {'met' if t['met'] else 'MISSED'}")
    history.mkdir(parents=True, exist_ok=True)
    with open(history / "benchmarks.jsonl", "a", encoding="utf-8") as fh:
        fh.write(json.dumps(rec, separators=(",", ":")) + "\n")
    write_readme(history)
    print(f"recorded in {history / 'benchmarks.jsonl'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
