"""The benchmark stays honest: it runs at a tiny size against the real server and writes a
well-formed record and README. No absolute time is asserted here: the figures live in history/."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from .conftest import clean_env


def test_bench_tiny_run_writes_a_well_formed_record(dsn, tmp_path):
    hist = tmp_path / "history"
    p = subprocess.run([sys.executable, "-m", "qshell.bench", "--tiny", "--reps", "1", "--dsn", dsn,
                        "--history-dir", str(hist), "--cases", "throughput,makespan,processes,startup,memory,scaling,seed"],
                       capture_output=True, text=True, timeout=600, env=clean_env())
    assert p.returncode == 0, p.stderr[-2000:]
    assert "Traceback" not in p.stderr
    lines = (hist / "benchmarks.jsonl").read_text().splitlines()
    assert len(lines) == 1
    rec = json.loads(lines[0])
    assert rec["type"] == "benchmark" and rec["tiny"] is True and rec["machine"]["cores"] >= 1
    cases = rec["cases"]
    assert set(cases) == {"throughput", "makespan", "processes", "startup", "memory", "scaling", "seed"}
    for n in ("1", "8", "32"):
        t = cases["throughput"][n]
        assert t["qshell_qps"] > 0 and t["pgbench_tps"] > 0
        assert abs(t["ratio"] - t["qshell_qps"] / t["pgbench_tps"]) < 0.5 * t["ratio"] + 0.01
    for key, m in cases["makespan"].items():
        assert m["wall_ms"] >= m["bound_ms"] * 0.99 > 0, key  # no run beats the lower bound
        assert abs(m["ratio"] - m["wall_ms"] / m["bound_ms"]) < 0.05
    assert [r["n"] for r in cases["seed"]["rows"]] == [1, 2, 3, 5]
    assert cases["seed"]["rows"][0]["speedup"] == 1.0
    assert cases["memory"]["peak_mb"] >= cases["memory"]["idle_peak_mb"] > 0
    assert set(cases["scaling"]) == {"200", "2000", "10000"}
    assert set(rec["targets"]) == {"throughput_ratio_n8", "makespan_ratio", "processes_ratio", "startup_s", "memory_growth_mb"}
    for t in rec["targets"].values():
        assert isinstance(t["met"], bool)
    readme = (hist / "README.md").read_text()
    assert "## Recorded benchmark runs" in readme and rec["commit"] in readme and "(tiny)" in readme
    assert "## The run record" in readme  # the format documentation is kept
    # a second run appends, and the README lists both
    p = subprocess.run([sys.executable, "-m", "qshell.bench", "--tiny", "--reps", "1", "--dsn", dsn,
                        "--history-dir", str(hist), "--cases", "startup"], capture_output=True, text=True,
                       timeout=300, env=clean_env())
    assert p.returncode == 0, p.stderr[-2000:]
    assert len((hist / "benchmarks.jsonl").read_text().splitlines()) == 2
    assert (hist / "README.md").read_text().count("(tiny)") == 2


def test_an_installed_bench_never_writes_into_site_packages(tmp_path, monkeypatch):
    import qshell.bench as bench

    fake = tmp_path / "site-packages" / "qshell" / "bench.py"
    fake.parent.mkdir(parents=True)
    fake.write_text("")
    monkeypatch.setattr(bench, "__file__", str(fake))
    monkeypatch.chdir(tmp_path)
    assert bench.default_history_dir() == tmp_path / "history"
    monkeypatch.setattr(bench, "__file__", str(Path(__file__).resolve().parent.parent / "qshell" / "bench.py"))
    assert bench.default_history_dir() == Path(__file__).resolve().parent.parent / "history"
