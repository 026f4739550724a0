"""Scaling with its cause: the CPU of the server's backends, qshell and the machine per run
and per N of a sweep (cpu.py), and the names of the ratios ("overlap" for sum ÷ wall,
"speedup" for time at N=1 ÷ time at N). Each figure is checked against /proc read by the
test itself, or against pg_stat_statements."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import psycopg2
import pytest

from qshell.engine import cpu

from .conftest import clean_env, qshell_argv

# CPU-bound on the server: counting a generated series (no I/O, no locks)
HEAVY = "SELECT count(*) FROM generate_series(1, {k}) g WHERE g % 7 = 3"


def _staged(count: int, k: int) -> str:
    """``count`` identical CPU-bound texts (one pg_stat_statements entry)."""
    return "".join(f"\\add {HEAVY.format(k=k)};\n" for _ in range(count))


def _records(out: str) -> list[dict]:
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def _ticks(pid: int) -> tuple[int, int]:
    """(utime + stime, ppid) of ``pid`` as /proc says."""
    with open(f"/proc/{pid}/stat") as fh:
        text = fh.read()
    f = text[text.rfind(")") + 2:].split()
    return int(f[11]) + int(f[12]), int(f[1])


def _hog() -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", "while True: pass"])


@pytest.mark.xdist_group("cpu")  # one at a time with the other CPU-heavy tests (conftest.py)
@pytest.mark.slow
def test_a_sweep_beside_cpu_hogs_names_other_processes(qshell, tmp_path):
    """Three busy-loop processes beside a sweep on this machine's cores: each N's share of the
    CPU other processes took is at least a good part of what the hogs themselves used (their
    /proc times, read by the test), and the sweep's verdict names other processes."""
    hogs = [_hog() for _ in range(3)]
    try:
        time.sleep(0.2)
        hog0 = sum(_ticks(h.pid)[0] for h in hogs)
        t0 = time.monotonic()
        r = qshell("\\set format json\n\\set resources off\n" + _staged(4, 1_500_000) + "\\sweep 1 2\n")
        elapsed = time.monotonic() - t0
        hog_cores = (sum(_ticks(h.pid)[0] for h in hogs) - hog0) * cpu.TICK / elapsed
    finally:
        for h in hogs:
            h.kill()
            h.wait()
    assert r.code == 0, r.err
    recs = _records(r.out)
    runs = [x for x in recs if x["type"] == "run"]
    sweep = [x for x in recs if x["type"] == "sweep"][0]
    assert len(runs) == 2 and hog_cores > 0.3  # (a machine shared with other work: the hogs get what they get)
    for run in runs:
        c = run["cpu"]
        assert c["source"] == "/proc" and c["not_measurable"] is None and c["backends"] == run["n"]
        other_cores = c["other_cpu_ms"] / c["wall_ms"]
        assert other_cores >= 0.5 * hog_cores, (other_cores, hog_cores)  # the hogs are in "other"
        assert "other processes took" in c["verdict"]
    assert "other processes took up to" in sweep["cpu_verdict"]
    for row, run in zip(sweep["rows"], runs, strict=True):
        assert row["other"] == run["cpu"]["other"] and row["machine_busy"] == run["cpu"]["machine_busy"]
        assert row["backends_cores"] == run["cpu"]["backends_cores"]


@pytest.mark.xdist_group("cpu")  # one at a time with the other CPU-heavy tests (conftest.py)
@pytest.mark.slow
def test_backend_cpu_equals_proc_read_apart_and_pg_stat_statements(dsn, hist):
    """The workers' backends' CPU of a run against /proc read by the test (the backends are
    new for the run: their whole lifetime's CPU, read while qshell still holds them, is the
    run's plus their connection set-up) and against pg_stat_statements' total_exec_time of
    the CPU-bound queries (CPU cannot exceed the time they executed)."""
    script = ("\\set format json\n" + _staged(4, 1_500_000) + "\\go 2\n"
              "SELECT 'ready' AS marker;\nSELECT pg_sleep(3);\n")
    argv = qshell_argv("--history-dir", str(hist), dsn)
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=clean_env(), text=True)
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(script)
    proc.stdin.close()
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if "ready" in line:
            break
    recs = _records("".join(lines))
    run = [x for x in recs if x["type"] == "run"][0]
    pids = {q["pid"] for q in recs if q["type"] == "query"}
    lifetime = {p: _ticks(p) for p in pids}  # while qshell sleeps, holding its workers
    proc.stdout.read()
    assert proc.wait(timeout=60) == 0
    c = run["cpu"]
    assert c["backends"] == 2 == len(pids)
    postmaster = {ppid for _, ppid in lifetime.values()}
    assert len(postmaster) == 1
    with open(f"/proc/{postmaster.pop()}/comm") as fh:
        assert fh.read().strip() == "postgres"
    total_ms = sum(t for t, _ in lifetime.values()) * cpu.TICK * 1000
    assert total_ms - 100 <= c["backends_cpu_ms"] <= total_ms + 1, (c, total_ms)
    res = [q for q in recs if q["type"] == "query"][0]["resources"]  # one entry: its run delta ÷ its calls
    assert res["calls"] == 4
    exec_ms = res["server_ms"] * res["calls"]
    assert c["backends_cpu_ms"] <= exec_ms + 20 * len(pids) + 30, (c["backends_cpu_ms"], exec_ms)
    assert c["backends_cpu_ms"] >= 0.3 * exec_ms  # on a shared machine a backend waits for a core too
    assert c["server_cpu_ms"] >= c["backends_cpu_ms"] - 1


def test_a_server_not_on_this_machine_is_said_so(dsn):
    """locate(): a pid that is not a postgres process here, or one whose start time is not
    the server's backend_start, is a remote server's; the real one is found."""
    conn = psycopg2.connect(dsn)
    try:
        cur = conn.cursor()
        cur.execute("SELECT pg_backend_pid(), extract(epoch FROM backend_start) FROM pg_stat_activity"
                    " WHERE pid = pg_backend_pid()")
        pid, start = cur.fetchone()
        assert isinstance(cpu.locate(pid, float(start)), int)
        assert cpu.locate(pid, float(start) + 100) == cpu.REMOTE
        assert cpu.locate(os.getpid(), time.time()) == cpu.REMOTE
    finally:
        conn.close()
    # what a run on a remote server shows: one line why, and the machine named as qshell's
    first = cpu.snapshot(None)
    time.sleep(0.25)
    far = cpu.measure(first, cpu.snapshot(None), {pid}, cpu.REMOTE)
    assert far is not None and far.backends_s is None and far.record()["not_measurable"] == cpu.REMOTE
    line = far.line()
    assert line.startswith("CPU: server CPU not measurable: remote server · qshell ") and "qshell's machine" in line


@pytest.mark.xdist_group("cpu")  # one at a time with the other CPU-heavy tests (conftest.py)
@pytest.mark.slow
def test_the_ratios_names_in_terminal_json_and_csv(qshell):
    """"overlap" is a run's sum ÷ wall, "speedup" only a sweep's time at N=1 ÷ time at N; a
    run long enough has its CPU line and verdict under the totals."""
    staged = _staged(2, 4_000_000)
    r = qshell(staged + "\\set resources off\n\\go 2\n\\sweep 1 2\n\\set format json\n\\go 2\n\\sweep 1 2\n"
               "\\set format csv\n\\sweep 1 2\n")
    assert r.code == 0, r.err
    text = r.out.split('{"type"')[0]
    assert " · overlap " in text and "speedup" not in text.split("speedup vs N=1")[0]
    assert "CPU: server backends " in text and "machine " in text
    assert "server cores" in text and "machine busy" in text and "\nCPU: " in text
    recs = _records(r.out)
    run = [x for x in recs if x["type"] == "run"][0]
    assert "overlap" in run and "speedup" not in run and run["cpu"]["verdict"]
    sweep = [x for x in recs if x["type"] == "sweep"][0]
    assert all("speedup" in row and "overlap" not in row for row in sweep["rows"])
    assert "n,wall_ms,speedup,efficiency,bound_ms,failed,serial_estimated,backends_cores,machine_busy,other" in r.out


@pytest.mark.xdist_group("cpu")  # one at a time with the other CPU-heavy tests (conftest.py)
@pytest.mark.slow
def test_a_loads_cpu_against_pg_stat_statements(dsn, qshell):
    """A load has the CPU figures of a run: its workers' backends (each keeps one for the
    load) used no more CPU than pg_stat_statements says the CPU-bound statement executed
    during it, and most of that; the whole server at least as much."""
    conn = psycopg2.connect(dsn)
    conn.autocommit = True

    def executed() -> tuple[float, int]:
        with conn.cursor() as cur:
            cur.execute("SELECT coalesce(sum(total_exec_time), 0), coalesce(sum(calls), 0) FROM pg_stat_statements"
                        " WHERE query LIKE '%generate_series($1, $2) g WHERE g % $3 = $4%'")
            ms, calls = cur.fetchone()
        return float(ms), int(calls)

    try:
        before = executed()
        r = qshell("\\set format json\n" + _staged(1, 300_000) + "\\go 2 for 2s\n")
        after = executed()
    finally:
        conn.close()
    assert r.code == 0, r.err
    (load,) = [x for x in _records(r.out) if x["type"] == "load"]
    c = load["cpu"]
    assert c is not None and c["backends"] == 2 and c["not_measurable"] is None, c
    exec_ms, calls = after[0] - before[0], after[1] - before[1]
    assert calls == load["executions"], (calls, load["executions"])
    assert c["backends_cpu_ms"] <= exec_ms + 20 * 2 + 30, (c["backends_cpu_ms"], exec_ms)
    assert c["backends_cpu_ms"] >= 0.3 * exec_ms, (c["backends_cpu_ms"], exec_ms)
    assert c["server_cpu_ms"] >= c["backends_cpu_ms"] - 1
    assert c["verdict"] and c["wall_ms"] >= 1900


def test_the_machine_is_never_more_than_all_busy():
    """/proc/stat counts in 10 ms ticks: over a short run they may add up to more than the
    wall clock holds for every CPU (a newcomer saw 'machine 104% of 2 cores'); the share
    stops at all of it, and the lines and records say no more."""
    from qshell.records.cpu import RunCpu

    cpu = RunCpu(wall_s=0.05, cpus=2, machine_s=0.11, client_s=0.01, backends_s=0.02, server_s=0.03, backends=2)
    assert cpu.busy == 1.0
    assert "machine 100% of 2 cores" in cpu.line()
    assert RunCpu(wall_s=1.0, cpus=2, machine_s=0.5, client_s=0.1, backends_s=0.1, server_s=0.2).busy == 0.25


def test_a_machine_filled_by_other_processes_is_said_so():
    """The cores full, but the run's backends and qshell used little of them: the verdict
    names the other processes as what filled them, not the run."""
    from qshell.records.cpu import RunCpu

    busy_elsewhere = RunCpu(wall_s=1.0, cpus=2, machine_s=1.9, client_s=0.1, backends_s=0.0, server_s=0.05)
    assert busy_elsewhere.verdict().startswith("CPU-bound at 2 cores by other processes: the machine was 95% busy")
    own = RunCpu(wall_s=1.0, cpus=2, machine_s=1.9, client_s=0.8, backends_s=0.9, server_s=0.95)
    assert own.verdict() == "CPU-bound at 2 cores: the machine was 95% busy"
