"""Seeing concurrency: timeline, lower bound, LPT, sweep, repeats, waits and blocking,
transaction modes, interference, run history, saved sets (real server)."""
from __future__ import annotations

import itertools
import json
import re

import pytest

from qshell.engine.analysis import lanes, lpt_order, normalize, parse_n_list, slowdowns, stats
from qshell.engine.pool import QueryPool, TxMode
from qshell.engine.sampler import Sampler
from qshell.output import run_series, run_summary, styles
from qshell.records.results import QueryResult, RunResult, Status
from qshell.store.history import RunStore


def _records(out: str) -> list[dict]:
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def _runs(out: str) -> list[dict]:
    return [r for r in _records(out) if r["type"] == "run"]


def _q(index: int, total: float, worker: int = 0, start: float = 0.0) -> QueryResult:
    return QueryResult(index=index, sql=f"q{index}", status=Status.OK, worker=worker, exec_s=total,
                       start_s=start, end_s=start + total)


def test_lower_bound_and_efficiency():
    run = RunResult(n=2, started_at=0, wall_s=1.0, queries=(_q(1, 0.6), _q(2, 0.2), _q(3, 0.2)))
    assert run.bound_s == pytest.approx(max(0.6, 1.0 / 2))
    assert run.efficiency == pytest.approx(0.6)
    run = RunResult(n=2, started_at=0, wall_s=2.0, queries=(_q(1, 1.0), _q(2, 1.0), _q(3, 1.0), _q(4, 1.0)))
    assert run.bound_s == pytest.approx(2.0) and run.efficiency == pytest.approx(1.0)
    run = RunResult(n=3, started_at=0, wall_s=0.3, queries=(_q(1, 0.3), _q(2, 0.1), _q(3, 0.1)))
    assert run.bound_s == pytest.approx(0.3)


def test_lpt_order_and_stats_and_n_lists():
    assert lpt_order(["a", "b", "c", "new"], {"a": 0.1, "b": 0.6, "c": 0.3}) == [3, 1, 2, 0]
    st = stats([5, 1, 4, 2, 3])
    assert (st.min, st.median, st.p95, st.max) == (1, 3, 5, 5)
    assert parse_n_list(["1-3", "5", "2"]) == [1, 2, 3, 5]
    for bad in (["0"], ["3-1"], ["x"], []):
        with pytest.raises(ValueError):
            parse_n_list(bad)


@pytest.mark.slow
def test_timeline_bars_do_not_overlap_and_cover_the_intervals(db):
    sleeps = [0.3, 0.1, 0.2, 0.1, 0.25, 0.15]
    run = QueryPool(db, [f"SELECT pg_sleep({s})" for s in sleeps], 2).run()
    for qs in lanes(run).values():
        for a, b in itertools.pairwise(qs):
            assert a.end_s <= b.start_s  # one query at a time per worker
    width = 120
    text = run_summary.timeline(run, width)
    lines = text.splitlines()
    label_w = len("w1 ")
    cols = width - label_w - 1
    span = max(run.wall_s, max(q.end_s for q in run.queries))
    for q in run.queries:
        line = lines[q.worker]
        assert line.startswith(f"w{q.worker}")
        at = line.index(f"#{q.index}") - label_w
        assert abs(at - q.start_s / span * cols) <= 1.01  # bar starts where the query started
        bar_end = at + len(f"#{q.index}")
        while bar_end < cols and line[label_w + bar_end] == "━":
            bar_end += 1
        assert abs(bar_end - q.end_s / span * cols) <= 1.51  # and ends where it ended
    assert text.splitlines()[-1].rstrip().endswith(styles.duration(span))


def test_timeline_command_and_json_offsets(qshell):
    r = qshell("\\add SELECT pg_sleep(0.2);\n\\add SELECT pg_sleep(0.1);\n\\add SELECT pg_sleep(0.1);\n\\go 2\n\\timeline\n")
    assert r.code == 0, r.err
    tl = r.out.split("efficiency")[-1]
    # (which worker takes #1 first is the hub's order: on a busy machine w1 may)
    lanes = [line for line in tl.splitlines() if re.match(r"w[01] #", line)]
    assert len(lanes) == 2 and all(f"#{k}" in "".join(lanes) for k in (1, 2, 3)), tl
    r = qshell("\\add SELECT 1;\n\\go\n", "--format", "json")
    q = _records(r.out)[0]
    assert q["start_ms"] <= q["end_ms"]
    r = qshell("\\timeline\n")
    assert r.code == 0 and "no run yet" in r.err  # psql's exit status: the script ran to its end


@pytest.mark.xdist_group("cpu")  # one at a time with the other CPU-heavy tests (conftest.py)
@pytest.mark.slow
def test_lpt_beats_fifo_on_a_set_built_for_it(qshell):
    durations = [0.6, 0.1, 0.1, 0.1, 0.1, 0.6]
    stage = "".join(f"\\add SELECT pg_sleep({d});\n" for d in durations)
    r = qshell(stage + "\\go 1\n\\go 2\n\\set order longest-first\n\\go 2\n", "--format", "json")
    assert r.code == 0, r.err
    serial, fifo, lpt = _runs(r.out)
    assert fifo["order"] == "fifo" and lpt["order"] == "longest-first"
    assert lpt["wall_ms"] / fifo["wall_ms"] < 0.9  # ideal: 0.8 / 1.0
    assert lpt["efficiency"] > fifo["efficiency"]
    # results still come back in staged order
    assert [q["index"] for q in _records(r.out) if q["type"] == "query"][-6:] == [1, 2, 3, 4, 5, 6]


@pytest.mark.slow
def test_lock_conflict_is_reported_with_the_right_pair(db):
    db.execute("DROP TABLE IF EXISTS lk")
    db.execute("CREATE TABLE lk (id int PRIMARY KEY, v int)")
    db.execute("INSERT INTO lk VALUES (1, 0)")
    queries = [
        "SELECT pg_sleep(1) FROM (SELECT * FROM lk WHERE id = 1 FOR UPDATE) s",
        "UPDATE lk SET v = v + 1 WHERE id = 1 AND pg_sleep(0.2) IS NOT NULL",
    ]
    run = QueryPool(db, queries, 2, mode=TxMode(rollback=True), sampler=Sampler(db)).run()
    holder, waiter = run.queries
    assert holder.status is Status.OK and waiter.status is Status.OK
    assert run.samples > 10
    blocked = dict(waiter.blocked_by)
    assert "#1" in blocked and blocked["#1"] > 0.4
    assert not holder.blocked_by
    assert waiter.waits[0][0].startswith("Lock:")
    assert "#2 waited" in run_summary.summary(run, styles.Style()) and "on #1" in run_summary.summary(run, styles.Style())
    assert db.execute("SELECT v FROM lk").rows == (("0",),)  # rolled back


def test_tx_modes_in_the_shell(qshell):
    script = ("DROP TABLE IF EXISTS txm;\nCREATE TABLE txm (a int);\n\\set tx rollback\n"
              "\\add INSERT INTO txm SELECT generate_series(1, 10);\n\\add SELECT count(*) FROM txm;\n\\go 2\n"
              "SELECT count(*) AS after_rollback FROM txm;\n\\clear\n\\set tx autocommit\n\\set isolation serializable\n"
              "\\add SELECT current_setting('transaction_isolation') AS iso;\n\\go\n\\set readonly on\n\\clear\n"
              "\\add INSERT INTO txm VALUES (1);\n\\go\n")
    r = qshell(script)
    assert "══ 2 queries on N=2 workers · tx rollback · order fifo" in r.out
    assert "INSERT 0 10" in r.out
    after = r.out.split("after_rollback")[1]
    assert after.splitlines()[2].split("|")[-1].strip() == "0"
    assert "serializable" in r.out and "tx autocommit, serializable" in r.out
    assert "read-only transaction" in r.out and "read only" in r.out
    assert r.code == 0  # the read-only INSERT failed


@pytest.mark.slow
def test_sweep_figures_match_their_runs(qshell):
    stage = "\\add SELECT pg_sleep(0.2);\n" * 4
    r = qshell(stage + "\\sweep 1-2 4\n", "--format", "json")
    assert r.code == 0, r.err
    runs = _runs(r.out)
    sweep = [x for x in _records(r.out) if x["type"] == "sweep"][0]
    assert [row["n"] for row in sweep["rows"]] == [1, 2, 4] == [run["n"] for run in runs]
    serial = runs[0]["wall_ms"]
    for row, run in zip(sweep["rows"], runs, strict=True):
        assert row["wall_ms"] == run["wall_ms"] and row["run_id"] == run["run_id"]
        assert row["speedup"] == pytest.approx(serial / run["wall_ms"], rel=1e-3)
        assert row["bound_ms"] == run["bound_ms"]
    assert sweep["rows"][2]["speedup"] > 2.5
    text = qshell(stage + "\\sweep 1 4 9\n").out
    assert "speedup vs N=1" in text and "N=4 │" in text and "wall time per N" in text


@pytest.mark.slow
def test_repeats_report_statistics_consistent_with_their_runs(qshell):
    r = qshell("\\add SELECT pg_sleep(0.1);\n\\add SELECT 1;\n\\go 2 x4\n", "--format", "json")
    assert r.code == 0, r.err
    runs = _runs(r.out)
    rep = [x for x in _records(r.out) if x["type"] == "repeat"][0]
    assert rep["reps"] == 4 and len(runs) == 4 and rep["cold_run_id"] == runs[0]["run_id"]
    warm = [run["wall_ms"] for run in runs[1:]]
    assert rep["wall"]["min_ms"] == min(warm) and rep["wall"]["max_ms"] == max(warm)
    assert rep["wall"]["count"] == 3
    assert rep["queries"][0]["min_ms"] >= 90
    text = qshell("\\add SELECT 1;\n\\go 1 x3\n").out
    assert "cold" in text and re.search(r"efficiency \| +note", text) and "median ms" in text and "warm repetitions 2-3" in text


def test_slowdowns_are_each_query_time_over_its_time_alone_as_known_when_the_run_ended():
    """The mapping works each ratio out when asked: the same figures as a dict built at
    the run's end, none for a failed query or one never run alone, and a time alone
    learned later does not change a run already reported."""
    qs = (QueryResult(1, "SELECT 1", Status.OK, exec_s=0.3), QueryResult(2, "SELECT  1 ", Status.OK, exec_s=0.6),
          QueryResult(3, "SELECT 2", Status.OK, exec_s=0.5), QueryResult(4, "SELECT 1", Status.ERROR, exec_s=0.1))
    run = RunResult(n=2, started_at=0.0, wall_s=1.0, queries=qs)
    alone = {normalize("SELECT 1"): 0.2}
    slow = slowdowns(run, alone)
    alone[normalize("SELECT 2")] = 0.25  # learned after the run
    assert dict(slow) == {1: pytest.approx(1.5), 2: pytest.approx(3.0)}
    assert slow.get(3) is None and 4 not in slow and 9 not in slow and len(slow) == 2 and bool(slow)
    assert not slowdowns(run, {}) and dict(slowdowns(run, {})) == {}


def test_slowdown_against_running_alone(qshell):
    stage = "\\add SELECT count(*) FROM generate_series(1, 300000);\n" * 2
    r = qshell(stage + "\\go 1\n\\go 2\n", "--format", "json")
    queries = [x for x in _records(r.out) if x["type"] == "query"]
    assert "slowdown" not in queries[0]
    last = queries[-1]
    assert last["slowdown"] == pytest.approx(last["total_ms"] / queries[1]["total_ms"], rel=0.02)
    text = qshell(stage + "\\go 1\n\\go 2\n").out
    assert "× alone" in text


def test_history_and_compare_read_back_what_was_written(qshell, hist):
    qshell("\\add SELECT pg_sleep(0.05);\n\\add SELECT 2;\n\\go 1\n\\go 2\n")
    r = qshell("\\history\n\\compare 1 2\n", "--format", "json")
    assert r.code == 0, r.err
    recs = _records(r.out)
    history = [x for x in recs if x["type"] == "run"]
    written = list(RunStore.open(hist, create=False)[0].dump())
    assert [h["run_id"] for h in history] == [w["run_id"] for w in written]
    assert [h["number"] for h in history] == [1, 2]
    cmp = [x for x in recs if x["type"] == "compare"][0]
    assert [row["a_ms"] for row in cmp["rows"]] == [q["total_ms"] for q in written[0]["results"]]
    assert [row["b_ms"] for row in cmp["rows"]] == [q["total_ms"] for q in written[1]["results"]]
    text = qshell("\\history\n\\compare 1 -1\n\\compare 1 99\n")
    assert "SELECT pg_sleep(0.05) (+1)" in text.out and "change" in text.out
    assert "no run '99'" in text.err


def test_history_skips_a_damaged_line(qshell, hist, tmp_path):
    qshell("\\add SELECT 1;\n\\go\n")
    good = next(RunStore.open(hist, create=False)[0].dump())
    older = tmp_path / "older"
    older.mkdir()
    with open(older / "runs.jsonl", "w") as fh:  # an older qshell's history, cut by a full disk
        fh.write(json.dumps(good) + "\n" + '{"type":"run","half a li')
    r = qshell("\\history\n", "--history-dir", str(older))
    assert r.code == 0 and "skipped 1 damaged line" in r.err and "SELECT 1" in r.out


def test_saved_sets_round_trip(qshell, tmp_path, monkeypatch):
    monkeypatch.setenv("QSHELL_SETS_DIR", str(tmp_path / "sets"))
    staged = "\\add SELECT 'a;b' AS x;\n\\add SELECT $$q$$ AS y,\n  2 AS z;\n"
    r = qshell(staged + "\\save mine\n\\list\n\\clear\n\\load mine\n\\list\n\\sets\n\\save ../evil\n\\load nope\n")
    lists = r.out.split("mine  2 statements")[0]
    first, second = lists.split("1  SELECT 'a;b' AS x")[1:]
    assert first.strip() == second.strip()
    assert "bad set name" in r.err and "no saved set 'nope'" in r.err
    saved = tmp_path / "sets" / "mine.sql"
    assert saved.stat().st_mode & 0o777 == 0o600  # as the history: a set may hold a password in its SQL
    r = qshell("", "-f", str(saved))  # a saved set is plain SQL: -f runs it
    assert r.code == 0 and "a;b" in r.out and "q" in r.out


def test_progress_helpers():
    from qshell.records.results import Progress

    line = run_series.progress_line(Progress(1.5, 3, 2, ((0, 4, 0.8), (1, 5, 0.2))), 200)
    assert "done 3" in line and "running 2" in line and "queued 2" in line and "w0:#4 0.8s" in line


def test_times_from_another_server_are_not_used(qshell, hist):
    sql = "SELECT count(*) FROM generate_series(1, 200000)"
    hist.mkdir(parents=True, exist_ok=True)
    foreign = {"type": "run", "n": 1, "target": "someone@elsewhere:5432/db", "run_id": "x",
               "results": [{"sql": sql, "status": "ok", "total_ms": 0.001}]}
    (hist / "runs.jsonl").write_text(json.dumps(foreign) + "\n")
    r = qshell(f"\\add {sql};\n\\add {sql};\n\\go 2\n", "--format", "json")
    assert all("slowdown" not in q for q in _records(r.out) if q["type"] == "query")
    r = qshell(f"\\add {sql};\n\\go 1\n\\add {sql};\n\\go 2\n", "--format", "json")
    assert "slowdown" in [q for q in _records(r.out) if q["type"] == "query"][-1]
