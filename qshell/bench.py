"""``python -m qshell.bench``: qshell measured beside pgbench, psql and the ideal.

Starts its own sandbox server (or takes ``--dsn``), runs every case, prints a table,
appends one JSON record to ``history/benchmarks.jsonl`` and regenerates
``history/README.md``. Every comparison is a ratio measured in the same run, the two
sides alternating, the median of ``--reps`` repetitions. Nothing here asserts a time:
the figures are recorded, and the targets are reported as met or missed.
"""
from __future__ import annotations

from .bootstrap import bootstrap

bootstrap()  # gevent first

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import platform  # noqa: E402
import re  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

from . import __version__  # noqa: E402
from .analysis import lpt_order  # noqa: E402
from .pool import Database, QueryPool  # noqa: E402
from .sets import DEMO  # noqa: E402

TARGETS = {
    "throughput_ratio_n8": ">= 0.5",
    "makespan_ratio": "<= 1.03 (+5 ms)",
    "processes_ratio": "< 1 (qshell faster)",
    "startup_s": "<= 0.35",
    "memory_growth_mb": "<= 64",
}
SELECT1 = "SELECT 1"


def _median(xs: list[float]) -> float:
    return statistics.median(xs) if xs else 0.0


class Bench:
    def __init__(self, dsn: str, reps: int, tiny: bool, bin_dir: Path, log=print) -> None:  # noqa: ANN001
        self.dsn = dsn
        self.reps = reps
        self.tiny = tiny
        self.bin = bin_dir
        self.log = log
        self.db = Database(dsn)
        self.tmp = Path(tempfile.mkdtemp(prefix="qshell-bench-"))

    # -- helpers -----------------------------------------------------------------
    def _engine_run(self, queries: list[str], n: int, order: list[int] | None = None):
        return QueryPool(self.db, queries, n, maxrows=10, order=order,
                         order_name="longest-first" if order else "fifo").run()

    def _proc_wall(self, argv: list[str], env: dict | None = None) -> float:
        t = time.perf_counter()
        subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
                       env=env, check=False)
        return time.perf_counter() - t

    def _qshell(self) -> list[str]:
        return [sys.executable, "-m", "qshell", "-X", "--history-dir", str(self.tmp / "hist")]

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
            w = self._proc_wall(self._qshell() + qargs + ["-c", f"\\go {len(queries)}", self.dsn])
            engine.append(run.wall_s)
            procs.append(p)
            whole.append(w)
            ratios.append(run.wall_s / p)
        out = {"queries": len(queries), "qshell_run_ms": round(_median(engine) * 1000, 1),
               "xargs_psql_ms": round(_median(procs) * 1000, 1), "ratio": round(_median(ratios), 4),
               "qshell_process_ms": round(_median(whole) * 1000, 1),
               "process_ratio": round(_median(whole) / _median(procs), 4) if procs else 0.0}
        self.log(f"  processes: qshell run {out['qshell_run_ms']} ms vs xargs -P {len(queries)} psql {out['xargs_psql_ms']} ms"
                 f" (ratio {out['ratio']}); whole qshell process {out['qshell_process_ms']} ms")
        return out

    # -- 4. start-up -------------------------------------------------------------------------------
    def startup(self) -> dict:
        q, p = [], []
        for _ in range(self.reps + 1):
            q.append(self._proc_wall(self._qshell() + ["-c", "\\q", self.dsn]))
            p.append(self._proc_wall([str(self.bin / "psql"), "-X", "-c", "\\q", self.dsn]))
        q, p = q[1:], p[1:]  # the first pair warms the page cache
        out = {"qshell_s": round(_median(q), 4), "psql_s": round(_median(p), 4),
               "ratio": round(_median([a / b for a, b in zip(q, p, strict=True)]), 2)}
        self.log(f"  start-up: qshell {out['qshell_s']} s, psql {out['psql_s']} s")
        return out

    # -- 5. memory of a huge result --------------------------------------------------------------------
    def _peak_rss(self, argv: list[str]) -> float:
        import psutil

        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
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
        rows = 500_000 if self.tiny else 5_000_000
        base = [self._peak_rss(self._qshell() + ["-c", "\\add SELECT 1", "-c", "\\go", self.dsn]) for _ in range(2)]
        big = [self._peak_rss(self._qshell() + ["-c", f"\\add SELECT generate_series(1, {rows})", "-c", "\\go", self.dsn])
               for _ in range(2)]
        out = {"rows": rows, "idle_peak_mb": round(min(base), 1), "peak_mb": round(min(big), 1),
               "growth_mb": round(min(big) - min(base), 1)}
        self.log(f"  memory: {rows} rows, peak {out['peak_mb']} MB, growth {out['growth_mb']} MB over {out['idle_peak_mb']} MB")
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
        from .sandbox import init_pgbench

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


def default_history_dir() -> Path:
    """The source checkout's ``history/`` when qshell runs from one; else ``./history``
    (an installed package must never write into site-packages)."""
    checkout = Path(__file__).resolve().parent.parent
    if (checkout / "pyproject.toml").is_file() and (checkout / "history").is_dir():
        return checkout / "history"
    return Path.cwd() / "history"


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
    if "makespan" in c:
        worst = max(c["makespan"].values(), key=lambda x: x["ratio"])
        out["makespan_ratio"] = {"value": worst["ratio"], "met": all(x["met"] for x in c["makespan"].values())}
    if "processes" in c:
        v = c["processes"]["ratio"]
        out["processes_ratio"] = {"value": v, "met": v < 1}
    if "startup" in c:
        v = c["startup"]["qshell_s"]
        out["startup_s"] = {"value": v, "met": v <= 0.35}
    if "memory" in c:
        v = c["memory"]["growth_mb"]
        out["memory_growth_mb"] = {"value": v, "met": v <= 64}
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
             "| date | commit | machine | PG | throughput N=8 ÷ pgbench [≥ 0.5] | worst makespan ÷ bound [≤ 1.03] |"
             " run ÷ xargs psql [< 1] | start-up qshell / psql [≤ 0.35 s] | memory growth, 5M rows [≤ 64 MB] |"
             " µs/query at 1k / 10k / 100k | seed N=1/2/3/5 wall (s) |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in records:
        c = r.get("cases", {})
        thr = c.get("throughput", {}).get("8", {})
        mk = c.get("makespan", {})
        worst = max((x["ratio"] for x in mk.values()), default=0)
        pr = c.get("processes", {})
        st = c.get("startup", {})
        mem = c.get("memory", {})
        sc = c.get("scaling", {})
        seed = c.get("seed", {}).get("rows", [])
        lines.append(
            f"| {r.get('date', '')[:16]} | {r.get('commit', '')} | {r.get('machine', {}).get('cores', '?')} cores"
            f"{' (tiny)' if r.get('tiny') else ''} | {r.get('server_version', '')} | {thr.get('ratio', '-')}"
            f" ({thr.get('qshell_qps', '-')} q/s vs {thr.get('pgbench_tps', '-')} tps) | {worst or '-'} |"
            f" {pr.get('ratio', '-')} | {st.get('qshell_s', '-')} s / {st.get('psql_s', '-')} s |"
            f" {mem.get('growth_mb', '-')} MB ({mem.get('rows', '-')} rows) |"
            f" {' / '.join(str(v.get('us_per_query')) for v in sc.values()) or '-'} |"
            f" {' / '.join(str(x['wall_s']) for x in seed) or '-'} |")
    (history / "README.md").write_text("\n".join(lines) + "\n")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m qshell.bench", description=__doc__.splitlines()[0])
    p.add_argument("--dsn", help="benchmark this server (default: a sandbox of its own)")
    p.add_argument("--reps", type=int, default=5, help="repetitions of each comparison (median)")
    p.add_argument("--scale", type=int, default=10, help="pgbench scale for the seed's experiment")
    p.add_argument("--tiny", action="store_true", help="small sizes (for the test suite); recorded as tiny")
    p.add_argument("--history-dir", default=str(default_history_dir()),
                   help="where benchmarks.jsonl and README.md are written (default: the checkout's history/,"
                        " else ./history)")
    p.add_argument("--cases", default="throughput,makespan,processes,startup,memory,scaling,seed")
    args = p.parse_args(argv)
    from .sandbox import pgbench_path, start

    box = None
    dsn = args.dsn
    if not dsn:
        box = start(Path(tempfile.mkdtemp(prefix="qshell-bench-pg-")) / "data")
        dsn = box.dsn
    bench = Bench(dsn, max(1, args.reps), args.tiny, pgbench_path().parent)
    cases = [c.strip() for c in args.cases.split(",") if c.strip()]
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
    history = Path(args.history_dir)
    history.mkdir(parents=True, exist_ok=True)
    with open(history / "benchmarks.jsonl", "a", encoding="utf-8") as fh:
        fh.write(json.dumps(rec, separators=(",", ":")) + "\n")
    write_readme(history)
    print(f"recorded in {history / 'benchmarks.jsonl'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
