"""``python -m qshell.bench``: qshell measured beside pgbench, psql and the ideal.

Starts its own sandbox server (or takes ``--dsn``), runs every case, prints a table,
appends one JSON record to ``history/benchmarks.jsonl`` and regenerates
``history/README.md``. Every comparison is a ratio measured in the same run, the two
sides alternating, the median of ``--reps`` repetitions. Nothing here asserts a time:
the figures are recorded, and the targets are reported as met or missed.

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
import re  # noqa: E402
import shutil  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

from qshell import __version__  # noqa: E402
from qshell.engine.analysis import lpt_order  # noqa: E402
from qshell.engine.pool import Database, QueryPool  # noqa: E402
from qshell.shell.sets import DEMO  # noqa: E402

TARGETS = {
    "throughput_ratio_n8": ">= 0.5",
    "throughput_ratio_n32": ">= 0.45",
    "makespan_ratio": "<= 1.03 (+5 ms)",
    "processes_ratio": "< 1 (qshell faster)",
    "process_whole_ratio": "< 1 (the whole qshell process faster)",
    "startup_s": "<= 0.35",
    "startup_vs_pgcli": "<= 0.7",
    "memory_vs_psql": "<= 1.25 (the result held by libpq, as psql holds it)",
    "e2e_ratio": ">= 0.25",
    "history_ratio": "<= 1.2",
    "latency_p50_ratio": "<= 1.5",
    "latency_p95_ratio": "<= 2",
}
SELECT1 = "SELECT 1"
CASES = ("throughput", "makespan", "processes", "startup", "memory", "scaling", "seed", "e2e", "history", "resources",
         "reader", "latency")
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


def _spread(xs: list[float]) -> dict:
    return {"min": round(min(xs), 3), "median": round(_median(xs), 3), "max": round(max(xs), 3)}


class Bench:
    def __init__(self, dsn: str, reps: int, tiny: bool, bin_dir: Path, log=print, pgcli: str | None = None) -> None:  # noqa: ANN001
        self.dsn = dsn
        self.reps = reps
        self.tiny = tiny
        self.bin = bin_dir
        self.log = log
        self.pgcli = pgcli
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
        """Wall time of one whole process (a qshell one with this package and its bytecode)."""
        with open(stdin or os.devnull, "rb") as fin, open(stdout or os.devnull, "wb") as fout:
            t = time.perf_counter()
            subprocess.run(argv, stdout=fout, stderr=subprocess.DEVNULL, stdin=fin, check=False,
                           env=self.env if qshell else None, cwd=self.tmp)
            return time.perf_counter() - t

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

    # -- 1. tiny-query throughput against pgbench ------------------------------------------
    def throughput(self) -> dict:
        total = 2000 if self.tiny else 20000
        script = self.tmp / "select1.sql"
        script.write_text(SELECT1 + ";\n")
        out = {}
        for n in (1, 8, 32):
            queries = [SELECT1] * total
            self._engine_run(queries[: min(total, 1000)], n)  # warm the pool
            qps, tps, ratios = [], [], []
            for _ in range(self.reps):
                run = self._engine_run(queries, n)
                q = total / run.wall_s
                proc = subprocess.run([str(self.bin / "pgbench"), "-n", "-c", str(n), "-j", "2", "-t", str(total // n),
                                       "-f", str(script), self.dsn], capture_output=True, text=True, check=False)
                m = re.search(r"tps = ([\d.]+) \(without initial connection time\)", proc.stdout)
                if not m:
                    raise RuntimeError(f"pgbench failed: {proc.stderr.strip()[:300]}")
                t = float(m.group(1))
                qps.append(q)
                tps.append(t)
                ratios.append(q / t)
            out[str(n)] = {"qshell_qps": round(_median(qps)), "pgbench_tps": round(_median(tps)),
                           "ratio": round(_median(ratios), 3), "statements": total}
            self.log(f"  throughput N={n}: qshell {out[str(n)]['qshell_qps']} q/s, pgbench {out[str(n)]['pgbench_tps']} tps,"
                     f" ratio {out[str(n)]['ratio']}")
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
            t = time.perf_counter()
            subprocess.run(["xargs", "-0", "-P", str(len(queries)), "-I{}", psql, "-X", "-q", "-c", "{}", self.dsn],
                           stdin=open(qfile, "rb"), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
            p = time.perf_counter() - t
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
        (when found) pgcli's ``-c``: start, connect, run it, print it, exit."""
        pgcli = self._pgcli_argv("SELECT 1;")
        if pgcli:
            check = subprocess.run(pgcli, capture_output=True, text=True, stdin=subprocess.DEVNULL, check=False, timeout=60)
            if check.returncode != 0 or "1" not in check.stdout:
                self.log(f"  pgcli did not run SELECT 1 (exit {check.returncode}: {check.stderr.strip()[-300:]}): left out of the comparison")
                pgcli = None
        q, p, q1, p1, c1 = [], [], [], [], []
        for _ in range(self.reps + 1):
            q.append(self._proc_wall(self._qshell() + ["-c", "\\q", self.dsn], qshell=True))
            p.append(self._proc_wall([str(self.bin / "psql"), "-X", "-c", "\\q", self.dsn]))
            q1.append(self._proc_wall(self._qshell() + [self.dsn, "-c", "SELECT 1;"], qshell=True))
            p1.append(self._proc_wall([str(self.bin / "psql"), "-X", self.dsn, "-c", "SELECT 1;"]))
            if pgcli:
                c1.append(self._proc_wall(pgcli))
        q, p, q1, p1, c1 = q[1:], p[1:], q1[1:], p1[1:], c1[1:]  # the first round warms caches
        out = {"qshell_s": round(_median(q), 4), "psql_s": round(_median(p), 4),
               "ratio": round(_median([a / b for a, b in zip(q, p, strict=True)]), 2),
               "qshell_select1_s": round(_median(q1), 4), "psql_select1_s": round(_median(p1), 4),
               "pgcli_select1_s": round(_median(c1), 4) if c1 else None,
               "pgcli_ratio": round(_median([a / b for a, b in zip(q1, c1, strict=True)]), 3) if c1 else None}
        self.log(f"  start-up: qshell {out['qshell_s']} s, psql {out['psql_s']} s; one SELECT 1: qshell"
                 f" {out['qshell_select1_s']} s, psql {out['psql_select1_s']} s, pgcli {out['pgcli_select1_s'] or '-'} s"
                 f" (qshell/pgcli {out['pgcli_ratio'] or '-'})")
        return out

    # -- 5. memory of a huge result --------------------------------------------------------------------
    def _peak_rss(self, argv: list[str], stdin: Path | None = None) -> float:
        """Peak RSS (MB) of a qshell process, polled every 5 ms."""
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
        """Peak RSS of a staged ``SELECT generate_series(1, 5000000)`` and of the same
        statement from psql, interleaved. The statement is sent as written (no cursor), so
        libpq holds the whole result in both: qshell's memory is psql's plus its own start."""
        rows = 500_000 if self.tiny else 5_000_000
        sql = f"SELECT generate_series(1, {rows})"
        base, big, psql = [], [], []
        for _ in range(2):
            base.append(self._peak_rss(self._qshell() + ["-c", "\\add SELECT 1", "-c", "\\go", self.dsn]))
            big.append(self._peak_rss(self._qshell() + ["-c", f"\\add {sql}", "-c", "\\go", self.dsn]))
            psql.append(self._peak_rss([str(self.bin / "psql"), "-X", "-c", sql, self.dsn]))
        out = {"rows": rows, "idle_peak_mb": round(min(base), 1), "peak_mb": round(min(big), 1),
               "growth_mb": round(min(big) - min(base), 1), "psql_peak_mb": round(min(psql), 1),
               "vs_psql": round(min(big) / min(psql), 2)}
        self.log(f"  memory: {rows} rows, peak {out['peak_mb']} MB (psql {out['psql_peak_mb']} MB, {out['vs_psql']}×),"
                 f" growth {out['growth_mb']} MB over {out['idle_peak_mb']} MB")
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

    # -- 7. the seed's experiment ------------------------------------------------------------------------------
    def seed(self, scale: int) -> dict:
        from qshell.session.sandbox import init_pgbench

        try:
            branches = self.db.rows("SELECT count(*) FROM pgbench_branches")[0][0]
        except Exception:  # noqa: BLE001 - no tables yet
            branches = 0
        if branches != scale:
            self.log(f"  loading pgbench tables at scale {scale}...")
            init_pgbench(self.dsn, scale)
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
        ``pgbench -n -c 8 -j 2 -t K/8`` running the same K statements (its whole process too)."""
        k = 2000 if self.tiny else 50000
        script = self.tmp / "e2e.sql"
        script.write_text("\\add SELECT 1;\n" * k + "\\go 8\n")
        select1 = self.tmp / "select1.sql"
        select1.write_text(SELECT1 + ";\n")
        out_file = self.tmp / "e2e.json"
        hist = self.tmp / "e2e-hist"
        argv = self._qshell(hist) + ["--format", "json", self.dsn]
        pgbench = [str(self.bin / "pgbench"), "-n", "-c", "8", "-j", "2", "-t", str(k // 8), "-f", str(select1), self.dsn]
        self._proc_wall(argv, stdin=script, stdout=out_file, qshell=True)  # warm: bytecode, the history file
        qs, ps = [], []
        for _ in range(self.reps):
            ps.append(self._proc_wall(pgbench))
            qs.append(self._proc_wall(argv, stdin=script, stdout=out_file, qshell=True))
        lines = out_file.read_text().splitlines()
        run = json.loads(lines[-1]) if lines else {}
        if len(lines) != k + 1 or run.get("type") != "run" or run.get("ok") != k:
            raise RuntimeError(f"end to end: expected {k} query records and a run record, got {len(lines)} lines")
        peak = self._peak_rss(argv, stdin=script)
        out = {"statements": k, "qshell_s": round(_median(qs), 4), "pgbench_s": round(_median(ps), 4),
               "ratio": round(_median([p / q for p, q in zip(ps, qs, strict=True)]), 3),
               "run_wall_ms": run.get("wall_ms"), "peak_mb": round(peak, 1)}
        self.log(f"  end to end: {k} statements, qshell {out['qshell_s']} s (its run {out['run_wall_ms']} ms,"
                 f" peak {out['peak_mb']} MB), pgbench {out['pgbench_s']} s, ratio {out['ratio']}")
        return out

    # -- 9. a large run history does not slow a run ---------------------------------------------------------
    def history(self) -> dict:
        """A five-line script (four ``\\add``, ``\\go 4``) with an empty run history, then with
        one holding R runs of Q queries each (one real run, stored again R - 1 times)."""
        from qshell.store.history import RunStore

        runs, size = (3, 500) if self.tiny else (15, 10000)
        full = self.tmp / "history-full"
        big = self.tmp / "history-big.sql"
        big.write_text("".join(f"\\add SELECT {i};\n" for i in range(1, size + 1)) + "\\go 8\n")
        self._proc_wall(self._qshell(full) + [self.dsn], stdin=big, qshell=True)
        store, _ = RunStore.open(full, create=False)
        if store is None:
            raise RuntimeError("history: the large run was not recorded")
        try:
            numbered, _ = store.last(1)
            rec = numbered[0][1]
            for i in range(1, runs):
                store.append({**rec, "run_id": f"{rec['run_id']}-{i}", "started_at": rec["started_at"] + i})
            stored = store.count()
        finally:
            store.close()
        size_mb = sum(f.stat().st_size for f in full.glob("runs.sqlite*")) / 2**20
        small = self.tmp / "history-small.sql"
        small.write_text("".join(f"\\add SELECT {i};\n" for i in range(1, 5)) + "\\go 4\n")
        empty_s, full_s = [], []
        for rep in range(self.reps + 1):
            empty = self.tmp / f"history-empty-{rep}"
            empty_s.append(self._proc_wall(self._qshell(empty) + [self.dsn], stdin=small, qshell=True))
            full_s.append(self._proc_wall(self._qshell(full) + [self.dsn], stdin=small, qshell=True))
        empty_s, full_s = empty_s[1:], full_s[1:]
        out = {"runs": stored, "queries_per_run": size, "history_mb": round(size_mb, 2),
               "empty_s": round(_median(empty_s), 4), "full_s": round(_median(full_s), 4),
               "ratio": round(_median([f / e for f, e in zip(full_s, empty_s, strict=True)]), 3)}
        self.log(f"  history: five-line script {out['empty_s']} s with an empty history, {out['full_s']} s with"
                 f" {stored} runs of {size} queries ({out['history_mb']} MB): ratio {out['ratio']}")
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

    def close(self) -> None:
        self.db.close()


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


def targets(rec: dict) -> dict:
    """Each target: its value and whether it was met in this run."""
    c = rec["cases"]
    out = {}
    if "throughput" in c:
        v = c["throughput"]["8"]["ratio"]
        out["throughput_ratio_n8"] = {"value": v, "met": v >= 0.5}
        v = c["throughput"]["32"]["ratio"]
        out["throughput_ratio_n32"] = {"value": v, "met": v >= 0.45}
    if "makespan" in c:
        worst = max(c["makespan"].values(), key=lambda x: x["ratio"])
        out["makespan_ratio"] = {"value": worst["ratio"], "met": all(x["met"] for x in c["makespan"].values())}
    if "processes" in c:
        v = c["processes"]["ratio"]
        out["processes_ratio"] = {"value": v, "met": v < 1}
        v = c["processes"]["process_ratio"]
        out["process_whole_ratio"] = {"value": v, "met": v < 1}
    if "startup" in c:
        v = c["startup"]["qshell_s"]
        out["startup_s"] = {"value": v, "met": v <= 0.35}
        v = c["startup"].get("pgcli_ratio")
        if v is not None:
            out["startup_vs_pgcli"] = {"value": v, "met": v <= 0.7}
    if "memory" in c:
        v = c["memory"]["vs_psql"]
        out["memory_vs_psql"] = {"value": v, "met": v <= 1.25}
    if "e2e" in c:
        v = c["e2e"]["ratio"]
        out["e2e_ratio"] = {"value": v, "met": v >= 0.25}
    if "history" in c:
        v = c["history"]["ratio"]
        out["history_ratio"] = {"value": v, "met": v <= 1.2}
    if "latency" in c:
        v = c["latency"]["p50_ratio"]["median"]
        out["latency_p50_ratio"] = {"value": v, "met": v <= 1.5}
        v = c["latency"]["p95_ratio"]["median"]
        out["latency_p95_ratio"] = {"value": v, "met": v <= 2}
    return out


README_HEAD = (Path(__file__).parent / "bench_readme.md")


def write_readme(history: Path) -> None:
    """Regenerate history/README.md: the record formats, then a table of every recorded run."""
    records = []
    path = history / "benchmarks.jsonl"
    if path.exists():
        for line in path.read_text().splitlines():
            try:
                records.append(json.loads(line))
            except ValueError:
                continue
    lines = [README_HEAD.read_text().rstrip(), "", "## Recorded benchmark runs", "",
             "Generated by `python -m qshell.bench` from `benchmarks.jsonl`; targets in brackets.", "",
             "| date | commit | machine | PG | throughput N=8 ÷ pgbench [≥ 0.5] | N=32 [≥ 0.45] |"
             " worst makespan ÷ bound [≤ 1.03] | run ÷ xargs psql [< 1] | whole process ÷ xargs psql [< 1] |"
             " start-up qshell / psql [≤ 0.35 s] | `-c 'SELECT 1;'` qshell ÷ pgcli [≤ 0.7] |"
             " end to end ÷ pgbench [≥ 0.25] | history of large runs ÷ empty [≤ 1.2] |"
             " memory, 5M rows [growth ≤ 64 MB until 2026-12; then ÷ psql ≤ 1.25] | µs/query at 1k / 10k / 100k | seed N=1/2/3/5 wall (s) |"
             " resources on ÷ off, SELECT 1 at N=8 | reader ÷ psql: one 100k-line statement / 100k statements"
             " (lexed only) | open-loop latency ÷ pgbench -R, SELECT 1 at 300/s, N=8: p50 [≤ 1.5] / p95 [≤ 2]"
             " (min–max of the rounds; qshell / pgbench p50 and p95) |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in records:
        c = r.get("cases", {})
        thr = c.get("throughput", {}).get("8", {})
        thr32 = c.get("throughput", {}).get("32", {})
        mk = c.get("makespan", {})
        worst = max((x["ratio"] for x in mk.values()), default=0)
        pr = c.get("processes", {})
        st = c.get("startup", {})
        mem = c.get("memory", {})
        sc = c.get("scaling", {})
        seed = c.get("seed", {}).get("rows", [])
        e2e = c.get("e2e", {})
        hist = c.get("history", {})
        pgcli = (f"{st['pgcli_ratio']} ({st['qshell_select1_s']} s vs {st['pgcli_select1_s']} s)"
                 if st.get("pgcli_ratio") is not None else "-")
        whole = (f"{pr['process_ratio']} ({pr['qshell_process_ms']} vs {pr['xargs_psql_ms']} ms)"
                 if "process_ratio" in pr and "qshell_process_ms" in pr else "-")
        end = (f"{e2e['ratio']} ({e2e['qshell_s']} s vs {e2e['pgbench_s']} s, {e2e['statements']} statements,"
               f" peak {e2e['peak_mb']} MB)" if e2e else "-")
        large = (f"{hist['ratio']} ({hist['runs']} runs × {hist['queries_per_run']}, {hist['history_mb']} MB)"
                 if hist else "-")
        lines.append(
            f"| {r.get('date', '')[:16]} | {r.get('commit', '')} | {r.get('machine', {}).get('cores', '?')} cores"
            f"{' (tiny)' if r.get('tiny') else ''} | {r.get('server_version', '')} | {thr.get('ratio', '-')}"
            f" ({thr.get('qshell_qps', '-')} q/s vs {thr.get('pgbench_tps', '-')} tps) | {thr32.get('ratio', '-')} |"
            f" {worst or '-'} | {pr.get('ratio', '-')} | {whole} | {st.get('qshell_s', '-')} s / {st.get('psql_s', '-')} s |"
            f" {pgcli} | {end} | {large} | {_memory_cell(mem)} |"
            f" {' / '.join(str(v.get('us_per_query')) for v in sc.values()) or '-'} |"
            f" {' / '.join(str(x['wall_s']) for x in seed) or '-'} |"
            f" {_resources_cell(c.get('resources', {}))} | {_reader_cell(c.get('reader', {}))} |"
            f" {_latency_cell(c.get('latency', {}))} |")
    (history / "README.md").write_text("\n".join(lines) + "\n")


def _memory_cell(m: dict) -> str:
    if not m:
        return "-"
    if "vs_psql" in m:
        return f"{m['vs_psql']} ({m['peak_mb']} MB vs psql {m['psql_peak_mb']} MB, {m['rows']} rows)"
    return f"growth {m.get('growth_mb', '-')} MB ({m.get('rows', '-')} rows, through a cursor)"


def _reader_cell(r: dict) -> str:
    if not r:
        return "-"
    def cell(key: str) -> str:
        x = r.get(key, {})
        return f"{x.get('ratio', '-')} ({x.get('qshell_s', '-')} s vs {x.get('psql_s', '-')} s)"
    return (f"{cell('one_statement')} / {cell('one_line_statements')}"
            f" ({cell('one_statement_lexed_only')} / {cell('one_line_statements_lexed_only')})")


def _latency_cell(r: dict) -> str:
    if not r:
        return "-"
    q, b = r["qshell"]["latency_ms"], r["pgbench"]["latency_ms"]
    return (f"{r['p50_ratio']['median']} ({r['p50_ratio']['min']}–{r['p50_ratio']['max']}) /"
            f" {r['p95_ratio']['median']} ({r['p95_ratio']['min']}–{r['p95_ratio']['max']});"
            f" {q['p50']} / {q['p95']} ms vs {b['p50']} / {b['p95']} ms")


def _resources_cell(r: dict) -> str:
    if not r:
        return "-"
    if not r.get("usable"):
        return "not usable"
    return f"{r['ratio']} ({r['on_qps']} vs {r['off_qps']} q/s)"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m qshell.bench", description=__doc__.splitlines()[0])
    p.add_argument("--dsn", help="benchmark this server (default: a sandbox of its own)")
    p.add_argument("--reps", type=int, default=5, help="repetitions of each comparison (median)")
    p.add_argument("--scale", type=int, default=10, help="pgbench scale for the seed's experiment")
    p.add_argument("--tiny", action="store_true", help="small sizes (for the test suite); recorded as tiny")
    p.add_argument("--history-dir", help="where benchmarks.jsonl and README.md are written (default: the history/"
                                          " of the qshell checkout it runs from or in; required elsewhere)")
    p.add_argument("--pgcli", default=shutil.which("pgcli"), metavar="PATH",
                   help="pgcli, for the start-up comparison (default: pgcli on PATH; none: the comparison is skipped)")
    p.add_argument("--cases", default=",".join(CASES))
    args = p.parse_args(argv)
    history = Path(args.history_dir) if args.history_dir else default_history_dir()
    if history is None:
        print("python -m qshell.bench: not run from a checkout of qshell: give --history-dir DIR for the records",
              file=sys.stderr)
        return 2
    if args.pgcli and not shutil.which(args.pgcli):
        print(f"python -m qshell.bench: --pgcli {args.pgcli}: no such program", file=sys.stderr)
        return 2
    cases = [c.strip() for c in args.cases.split(",") if c.strip()]
    unknown = [c for c in cases if c not in CASES]
    if unknown:
        print(f"python -m qshell.bench: unknown case(s) {', '.join(unknown)}; the cases: {', '.join(CASES)}", file=sys.stderr)
        return 2
    from qshell.session.sandbox import pgbench_path, start

    box = None
    dsn = args.dsn
    if not dsn:
        box = start(Path(tempfile.mkdtemp(prefix="qshell-bench-pg-")) / "data")
        dsn = box.dsn
    bench = Bench(dsn, max(1, args.reps), args.tiny, pgbench_path().parent, pgcli=args.pgcli)
    rec = {"type": "benchmark", "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "qshell": __version__,
           "commit": commit(), "machine": machine(), "tiny": args.tiny, "reps": bench.reps,
           "server_version": bench.db.info().get("server_version", ""), "cases": {}}
    try:
        print(f"qshell {__version__} ({rec['commit']}) on {rec['machine']['cores']} cores, PostgreSQL {rec['server_version']}")
        if "seed" in cases:  # first: the processes case uses the seed's queries when the tables are there
            rec["cases"]["seed"] = bench.seed(1 if args.tiny else args.scale)
        for case in cases:
            if case == "seed":
                continue
            print(f"{case}:")
            if case == "processes":
                queries = list(DEMO) if "seed" in cases else ["SELECT pg_sleep(0.3)"] * 6
                rec["cases"][case] = bench.processes(queries)
            else:
                rec["cases"][case] = getattr(bench, case)()
    finally:
        bench.close()
        if box is not None:
            box.stop()
    rec["targets"] = targets(rec)
    print("targets:")
    for name, t in rec["targets"].items():
        print(f"  {name}: {t['value']} [{TARGETS[name]}] {'met' if t['met'] else 'MISSED'}")
    history.mkdir(parents=True, exist_ok=True)
    with open(history / "benchmarks.jsonl", "a", encoding="utf-8") as fh:
        fh.write(json.dumps(rec, separators=(",", ":")) + "\n")
    write_readme(history)
    print(f"recorded in {history / 'benchmarks.jsonl'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
