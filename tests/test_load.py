"""Sustained load (issue 13, item 3): ``\\go N for DURATION [at RATE/s]`` on the real
server. Ratios and orderings measured in one run, never absolute times."""
from __future__ import annotations

import csv
import io
import json
import math
import os
import random
import re
import signal
import time
import tracemalloc

import gevent
import pytest

from qshell.common.errors import UsageError
from qshell.engine.load import MAX_BUCKETS, Histogram, LoadPool, bucket_bounds, bucket_of
from qshell.script.commands import parse

from .conftest import active_queries, wait_until
from .infra import query

pytest_plugins = ["tests.oracle"]


def _load(out: str) -> dict:
    return next(json.loads(line) for line in out.splitlines() if line.startswith('{"type":"load"'))


# -- the histogram (no server) ----------------------------------------------------------
def test_histogram_buckets_are_log_linear_and_percentiles_close_to_exact():
    for v in (0, 1, 127, 128, 129, 255, 256, 1000, 12345, 10**9, 10**11):
        low, high = bucket_bounds(bucket_of(v))
        assert low <= v < high
        assert v < 128 or (high - low) / low <= 1 / 64  # at most 1/64 of its values wide
    assert all(bucket_of(v) <= bucket_of(v + 1) for v in range(50_000))
    assert bucket_of(10**11) < MAX_BUCKETS  # 1 µs to 28 hours: a few thousand buckets at most
    rng = random.Random(13)
    xs = [rng.lognormvariate(-5, 1.2) for _ in range(50_000)]
    h = Histogram()
    for x in xs:
        h.record(x)
    xs.sort()
    for p in (50, 95, 99):
        exact = xs[math.ceil(p / 100 * len(xs)) - 1] * 1000
        assert h.percentile(p) == pytest.approx(exact, rel=1 / 100)
    assert h.percentile(100) == h.max_us / 1000 and h.count == len(xs)
    assert sum(n for _, n in h.coarse()) == h.count and len(h.coarse(16)) <= 16
    before = h.size
    for x in xs:  # twice the values, the same spread: no more buckets
        h.record(x)
    assert h.size == before


def test_notices_kept_bounded_and_shown_escaped():
    """However many messages: the first 3 distinct texts and their counts, the rest counted."""
    from qshell.engine.load import QueryLoad
    from qshell.shell.loadview import notice_lines

    q = QueryLoad(3, "DO …")
    for i in range(10_000):
        q.notice(f"NOTICE:  n {i}" if i % 2 else "WARNING:  \x1b[2J careful\nDETAIL:  twice")
    assert q.notices == 10_000 and q.severities == {"NOTICE": 5_000, "WARNING": 5_000}
    assert list(q.first_notices.values()) == [5_000, 1, 1] and q.more_notices == 4_998
    lines = notice_lines(q)
    assert lines[0] == "#3 messages from the server: WARNING ×5,000, NOTICE ×5,000"  # in the order first seen
    assert lines[1] == "  ×5,000 WARNING:  \\x1B[2J careful\n    DETAIL:  twice" and lines[-1] == "  … 4,998 more"
    assert not any("\x1b" in line for line in lines)


def test_go_for_parses_duration_and_rate():
    cmd = parse("\\go 4 for 10s at 50/s")
    assert (cmd.n, cmd.duration_s, cmd.rate) == (4, 10.0, 50.0)
    cmd = parse("\\go for 1.5min")
    assert (cmd.n, cmd.duration_s, cmd.rate) == (None, 90.0, None)
    assert parse("\\go 3 x5").reps == 5 and parse("\\go 3").duration_s is None
    for bad in ("\\go 4 for", "\\go 4 for 10x", "\\go 4 for 10s at", "\\go 4 for 10s at 0/s", "\\go 4 5 for 1s",
                "\\go 0 for 1s", "\\go 4 for 1s x3"):
        with pytest.raises(UsageError):
            parse(bad)


# -- closed loop -----------------------------------------------------------------------
@pytest.mark.slow
def test_three_second_load_percentiles_ordered_series_sums(qshell):
    r = qshell("\\add SELECT 1;\n\\add SELECT pg_sleep(0.002);\n\\go 4 for 3s\n", "--format", "json")
    assert r.code == 0, r.err
    rec = _load(r.out)
    assert {"n", "duration_s", "rate", "executions", "qps", "late", "latency_ms", "per_second", "queries"} <= rec.keys()
    assert rec["n"] == 4 and rec["duration_s"] == 3 and rec["rate"] is None and rec["late"] == 0
    lat = rec["latency_ms"]
    assert 0 < lat["p50"] <= lat["p95"] <= lat["p99"] <= lat["max"]
    assert sum(rec["per_second"]) == rec["executions"] > 100
    assert len(rec["per_second"]) in (3, 4)  # the executions under way at the end finish in a 4th
    assert rec["qps"] == pytest.approx(rec["executions"] / rec["elapsed_s"], rel=0.01)
    for q in rec["queries"]:
        assert {"index", "count", "errors", "p50_ms", "p95_ms", "p99_ms", "max_ms"} <= q.keys()
        assert 0 < q["p50_ms"] <= q["p95_ms"] <= q["p99_ms"] <= q["max_ms"]
    a, b = rec["queries"]
    assert abs(a["count"] - b["count"]) <= 4  # a cycling queue: each query in turn
    assert b["p50_ms"] > a["p50_ms"]  # the sleeping one is the slower


@pytest.mark.slow
def test_text_shows_table_totals_series_and_histogram(qshell):
    r = qshell("\\add SELECT 1;\n\\go 2 for 1s\n")
    assert r.code == 0, r.err
    assert "sustained load: 1 query on N=2 workers for 1 s · closed loop" in r.out
    assert "p95 ms" in r.out and "per second:" in r.out and "latency histogram" in r.out and "│█" in r.out
    # a 1 s load is one second of throughput; what ended after it is shown apart (the last N ms)
    per = re.search(r"per second: \S+ \(min ([\d,]+) · max ([\d,]+) over (\d+) s(?: · the last [\d.]+ ms: [\d,]+)?\)", r.out)
    assert per and per.group(3) == "1" and per.group(1) == per.group(2), r.out
    r = qshell("\\set latency_limit off\n\\add SELECT 1;\n\\go 2 for 500ms\n", "--format", "csv")
    assert r.code == 0, r.err
    lines = r.out.splitlines()
    assert lines[0] == "index,query,executions,errors,p50_ms,p95_ms,p99_ms,max_ms,retries,notices,first_sqlstate,first_error"
    assert lines[1].startswith("1,SELECT 1,") and len(lines) == 2
    r = qshell("\\set latency_limit off\n\\add SELECT 1;\n\\go 2 for 500ms at 10/s\n", "--format", "json")
    rec = _load(r.out)
    assert rec["latency_limit_ms"] is None and rec["late"] == 0


def _footprint(pool: LoadPool) -> int:
    return pool.overall.size + pool.lag.size + sum(q.hist.size for q in pool.stats) + len(pool.per_second)


@pytest.mark.xdist_group("cpu")  # one at a time with the other CPU-heavy tests (conftest.py)
@pytest.mark.slow
def test_memory_does_not_grow_with_the_duration(db):
    queries = ["SELECT pg_sleep(0.001)", "SELECT 1"]
    figures = {}
    LoadPool(db, queries, 4, 0.3).run()  # connections, caches: made once, before measuring
    for seconds in (1, 3):
        pool = LoadPool(db, queries, 4, seconds)
        tracemalloc.start()
        base = tracemalloc.get_traced_memory()[0]
        load = pool.run()
        kept = tracemalloc.get_traced_memory()[0] - base
        tracemalloc.stop()
        figures[seconds] = (load.executions, _footprint(pool), kept)
    (e1, f1, m1), (e3, f3, m3) = figures[1], figures[3]
    assert e3 >= 2 * e1, figures  # three times as long: about three times the executions...
    # ...in buckets that grow slower (only as the tails spread; each histogram at most MAX_BUCKETS):
    # one entry per execution would grow as the executions do. On a busy machine the tails
    # spread with the time (0.86 of the executions' growth once in a full test run), hence 0.9
    assert f3 / f1 < 0.9 * e3 / e1, figures
    assert all(h.size <= MAX_BUCKETS for h in (pool.overall, pool.lag, *(q.hist for q in pool.stats)))
    assert m3 <= 1.5 * m1 + 64 * 1024, figures  # and the memory kept after the run does not follow them


# -- open loop --------------------------------------------------------------------------
@pytest.mark.xdist_group("cpu")  # one at a time with the other CPU-heavy tests (conftest.py)
@pytest.mark.slow
def test_open_loop_rate_held_has_no_late_executions(qshell):
    r = qshell("\\add SELECT 1;\n\\go 4 for 2s at 25/s\n", "--format", "json")
    assert r.code == 0, r.err
    rec = _load(r.out)
    assert rec["rate"] == 25 and rec["late"] == 0 and rec["skipped"] == 0
    assert 20 <= rec["executions"] <= 90  # a Poisson schedule of 25/s for 2 s: 50 on average
    assert rec["lag_ms"]["max"] < rec["latency_limit_ms"]


@pytest.mark.slow
def test_open_loop_rate_not_held_has_late_and_skipped(qshell):
    r = qshell("\\set latency_limit 200ms\n\\add SELECT pg_sleep(0.05);\n\\go 1 for 2s at 100/s\n", "--format", "json")
    assert r.code == 0, r.err
    rec = _load(r.out)
    assert rec["late"] > 0 and rec["skipped"] > 0
    assert rec["executions"] + rec["skipped"] > 2 * rec["executions"]  # most of the schedule could not be kept
    assert rec["qps"] < 0.5 * rec["rate"]
    assert rec["latency_ms"]["max"] > rec["latency_limit_ms"]  # from the scheduled start: the lag is in it
    r = qshell("\\add SELECT pg_sleep(0.05);\n\\go 1 for 1s at 100/s\n")
    assert "open loop at 100/s" in r.out and "schedule lag" in r.out and "skipped" in r.out


def _nearest(xs: list[float], p: float) -> float:
    return xs[min(max(1, math.ceil(p / 100 * len(xs))), len(xs)) - 1]


@pytest.mark.xdist_group("cpu")  # one at a time with the other CPU-heavy tests (conftest.py)
@pytest.mark.slow
def test_open_loop_lag_and_latency_against_the_servers_clock(db, dsn):
    """Each execution stamps the server's clock_timestamp() into a table; the schedule is
    rebuilt from the seed (pgbench's exponential gaps from the load's start). The server
    saw every start at or after its scheduled time, later than qshell's reported lag and
    before its reported latency had passed (sorted matching: the k-th start against the
    k-th scheduled time, an order statistic keeps both inequalities)."""
    query(dsn, "DROP TABLE IF EXISTS load_clock; CREATE TABLE load_clock (t timestamptz)")
    seed, rate, seconds = 2113, 200.0, 2.0
    load = LoadPool(db, ["INSERT INTO load_clock VALUES (clock_timestamp())"], 4, seconds, rate, seed=seed).run()
    starts = sorted(float(t) - load.started_at for (t,) in query(dsn, "SELECT extract(epoch FROM t) FROM load_clock"))
    rng, t, schedule = random.Random(seed), 0.0, []
    while t < seconds:
        schedule.append(t)
        t += rng.expovariate(rate)
    assert load.errors == 0 and load.executions == len(starts)  # every execution once, on the server
    assert load.executions + load.skipped == len(schedule)  # the seed's schedule, whole
    taken = schedule[:len(starts)]  # starts are taken in schedule order
    server_lag = sorted((s - p) * 1000 for s, p in zip(starts, taken, strict=True))  # ms
    lag, lat = load.lag.summary(), load.overall.summary()
    tol = 0.25  # ms: the epoch of the load's start against its clock, the clocks' rates over 2 s
    assert server_lag[0] >= -tol, server_lag[:5]  # nothing started before its time
    assert server_lag[-1] <= lat["max"] + tol
    for p in (50, 95):
        seen = _nearest(server_lag, p)
        assert load.lag.percentile(p) - tol <= seen <= load.overall.percentile(p) + tol, (p, seen, lag, lat)
    assert load.lag.count == load.delay.count == load.executions and lag["p50"] <= lat["p50"]
    assert load.delay.percentile(50) <= load.lag.percentile(50) and load.delay.max_us <= load.lag.max_us
    rec = load.record()
    assert rec["lag_ms"] == lag and rec["start_delay_ms"] == load.delay.summary() and rec["latency_ms"] == lat
    assert rec["client_bound"] is load.client_bound
    assert load.late_starts == (load.delay.percentile(50) >= 0.5)


@pytest.mark.xdist_group("cpu")  # one at a time with the other CPU-heavy tests (conftest.py)
@pytest.mark.slow
def test_a_busy_client_is_flagged_client_bound(db):
    """A greenlet of the same process holding the CPU 5 ms at a time: starts come late while
    workers are free (qshell's own start delay), so the load says it is client-bound; the
    same load without it has a fraction of that delay."""
    from qshell.output.styles import Style
    from qshell.shell.loadview import load_text

    quiet = LoadPool(db, ["SELECT 1"], 4, 1.5, 100).run()

    def hog() -> None:
        while True:
            end = time.perf_counter() + 0.005
            while time.perf_counter() < end:
                pass
            gevent.sleep(0.001)  # a timer: the hub polls (a loop of sleep(0) would starve the sockets)

    g = gevent.spawn(hog)
    try:
        busy = LoadPool(db, ["SELECT 1"], 4, 1.5, 100).run()
    finally:
        g.kill()
    assert busy.client_bound and busy.late_starts and busy.record()["client_bound"] is True
    assert busy.delay.percentile(50) >= 0.5 and not quiet.late_starts
    assert busy.delay.percentile(50) > 3 * quiet.delay.percentile(50), (busy.delay.summary(), quiet.delay.summary())
    text = load_text(busy, Style(), 120)
    assert "qshell itself started executions late" in text and "start delay" in text


# -- errors, retries, Ctrl-C, \report -----------------------------------------------------
@pytest.mark.slow
def test_errors_by_sqlstate_and_exit_status(qshell):
    r = qshell("\\add SELECT 1;\n\\add SELECT 1/0;\n\\go 2 for 1s\n", "--format", "json")
    assert r.code == 0  # psql's exit status: the script ran to its end
    rec = _load(r.out)
    assert rec["errors_by_sqlstate"] == {"22012": rec["errors"]} and rec["errors"] == rec["queries"][1]["errors"] > 0
    assert rec["queries"][0]["errors"] == 0 and "executions failed" in r.err
    r = qshell("\\add SELECT 1;\n\\add SELECT 1/0;\n\\go 2 for 0.5s\n")
    row = next(line for line in r.out.splitlines() if "SELECT 1/0" in line)
    assert [c.strip() for c in row.split("|")[4:8]] == ["–"] * 4, row  # no ok execution: no latency, not 0.000
    assert "latency (ok executions): p50" in r.out  # (the other query's)
    r = qshell("\\add SELECT 1/0;\n\\go 1 for 0.5s\n")
    assert "latency (ok executions): none succeeded" in r.out, r.out
    r = qshell("\\add SELECT 1/0;\n\\go 1 for 0.3s\n", "--format", "json")
    q = _load(r.out)["queries"][0]
    assert q["errors"] == q["count"] > 0 and [q[k] for k in ("p50_ms", "p95_ms", "p99_ms", "max_ms")] == [None] * 4


@pytest.mark.slow
def test_failures_and_messages_against_the_server_log(logged_server, tmp_path):
    """Errors of known kinds (division by zero on every third value of a sequence, unique
    violations, a message holding ESC) and a NOTICE + WARNING per execution: per SQLSTATE
    the count and first message equal the server log's ERROR records; the notices and
    warnings counted equal the executions (and the WARNINGs the log's records)."""
    ldb = logged_server.database("loaderr", setup="CREATE SEQUENCE s_div; CREATE SEQUENCE s_uniq; CREATE SEQUENCE s_note;"
                                                  " CREATE TABLE u_load (id int PRIMARY KEY)")
    app = "load-errors"
    script = """\
\\add SELECT 1 / (nextval('s_div') % 3) AS load_div;
\\add INSERT INTO u_load VALUES (nextval('s_uniq') % 5);
\\add DO $$BEGIN RAISE NOTICE 'note %', nextval('s_note'); RAISE WARNING 'load careful'; END$$;
\\add DO $$BEGIN RAISE EXCEPTION USING MESSAGE = E'bad \\x1b[31m row', ERRCODE = 'P0001'; END$$;
\\go 3 for 1s
"""
    r = logged_server.qshell(script, ldb.dsn(app), "--format", "json", history=tmp_path / "h")
    assert r.code == 0 and "Traceback" not in r.err, r.err  # psql's exit status: the script ran to its end
    rec = _load(r.out)
    logged = [e for e in logged_server.entries() if e.db == ldb.name and e.app == app]
    errors: dict[str, list[str]] = {}
    for e in logged:
        if e.severity == "ERROR":
            errors.setdefault(e.raw.get("state_code"), []).append(e.message)
    kinds = {k["sqlstate"]: k for k in rec["error_kinds"]}
    assert set(kinds) == set(errors) == {"22012", "23505", "P0001"}, (kinds, list(errors))
    for state, messages in errors.items():
        assert kinds[state]["count"] == len(messages) == rec["errors_by_sqlstate"][state]
        assert kinds[state]["message"] == f"ERROR: {messages[0]}"
    assert kinds["22012"]["query"] == 1 and kinds["23505"]["query"] == 2 and kinds["P0001"]["query"] == 4
    assert kinds["P0001"]["message"] == "ERROR: bad \x1b[31m row"  # JSON: the exact text
    assert [k["count"] for k in rec["error_kinds"]] == sorted((k["count"] for k in rec["error_kinds"]), reverse=True)
    assert sum(k["count"] for k in rec["error_kinds"]) == rec["errors"]
    q3 = rec["queries"][2]
    warnings = [e for e in logged if e.severity == "WARNING" and e.message == "load careful"]
    assert q3["count"] > 3 and q3["errors"] == 0
    assert q3["notices_by_severity"] == {"NOTICE": q3["count"], "WARNING": q3["count"]} and q3["notices"] == 2 * q3["count"]
    assert len(warnings) == q3["count"]
    shown = q3["first_notices"]
    assert len(shown) == 3 and {"text": "WARNING:  load careful", "count": q3["count"]} in shown
    assert all(x["count"] == 1 for x in shown if x["text"].startswith("NOTICE:  note "))  # a new number each time
    assert q3["more_notices"] == q3["notices"] - sum(x["count"] for x in shown) > 0
    assert all(q["notices"] == 0 and q["first_notices"] == [] for i, q in enumerate(rec["queries"]) if i != 2)
    # the terminal: the same figures, the server's text escaped
    r = logged_server.qshell(script, ldb.dsn(app), history=tmp_path / "h")
    assert "\x1b" not in r.out and "ERROR: bad \\x1B[31m row" in r.out, r.out
    assert "errors by SQLSTATE" in r.out and "first: ERROR: division by zero" in r.out
    assert re.search(r"#3 messages from the server: NOTICE ×[\d,]+, WARNING ×[\d,]+", r.out)
    assert "×1 NOTICE:  note " in r.out and "WARNING:  load careful" in r.out and re.search(r"… [\d,]+ more", r.out)
    # CSV: per query its notices and the first error it was the first of (the server's text as data, as psql's --csv)
    r = logged_server.qshell(script, ldb.dsn(app), "--format", "csv", history=tmp_path / "h")
    rows = list(csv.DictReader(io.StringIO(r.out)))
    assert [row["first_sqlstate"] for row in rows] == ["22012", "23505", "", "P0001"], rows
    assert rows[3]["first_error"] == "ERROR: bad \x1b[31m row" and rows[0]["first_error"] == "ERROR: division by zero"
    assert int(rows[2]["notices"]) == 2 * int(rows[2]["executions"]) > 0 and rows[0]["notices"] == "0"


@pytest.mark.slow
def test_serialization_conflicts_retried_under_load(qshell):
    script = """\
DROP TABLE IF EXISTS load_ser;
CREATE TABLE load_ser (id int PRIMARY KEY, v int);
INSERT INTO load_ser VALUES (1, 0);
\\set isolation serializable
\\set retries 100
\\add UPDATE load_ser SET v = v + 1 WHERE id = 1 AND pg_sleep(0.01) IS NOT NULL;
\\go 3 for 2s
"""
    r = qshell(script, "--format", "json")
    rec = _load(r.out)
    assert r.code == 0, r.err
    assert rec["errors"] == 0 and rec["retries"] > 0 and rec["queries"][0]["retries"] == rec["retries"]


@pytest.mark.slow
def test_deadlocks_under_load_are_named_and_retried(qshell):
    script = """\
DROP TABLE IF EXISTS load_dl;
CREATE TABLE load_dl (id int PRIMARY KEY, v int);
INSERT INTO load_dl VALUES (1, 0), (2, 0);
\\set tx rollback
\\set retries 5
\\add DO $$BEGIN UPDATE load_dl SET v = v + 1 WHERE id = 1; PERFORM pg_sleep(0.2); UPDATE load_dl SET v = v + 1 WHERE id = 2; END$$;
\\add DO $$BEGIN UPDATE load_dl SET v = v + 1 WHERE id = 2; PERFORM pg_sleep(0.2); UPDATE load_dl SET v = v + 1 WHERE id = 1; END$$;
\\go 2 for 2s
"""
    r = qshell(script, "--format", "json")
    rec = _load(r.out)
    assert r.code == 0, r.err
    # the first two executions (#1 and #2, started together, each holding its first row
    # through the sleep) deadlock whatever the machine's load
    assert rec["deadlocks_seen"] >= 1 and rec["errors"] == 0 and rec["retries"] >= rec["deadlocks_seen"]
    # each named by the execution on that backend when the server detected it (not by what
    # its worker ran when the victim's error came back): #1 and #2, never one of them twice
    # (tests/test_attribution.py checks the names against the server's log)
    for d in rec["deadlocks"]:
        assert sorted(d["queries"]) == ["#1", "#2"] and d["retried"], d
        assert all(e["waiter"] != e["holder"] for e in d["cycle"]), d


@pytest.mark.slow
def test_waits_and_lock_graph_sampled_under_load(qshell):
    script = """\
DROP TABLE IF EXISTS load_lg;
CREATE TABLE load_lg (id int PRIMARY KEY, v int);
INSERT INTO load_lg VALUES (1, 0);
\\set tx rollback
\\add SELECT pg_sleep(0.3) FROM (SELECT * FROM load_lg WHERE id = 1 FOR UPDATE) s;
\\add UPDATE load_lg SET v = v + 1 WHERE id = 1;
\\go 2 for 2s
"""
    r = qshell(script, "--format", "json")
    assert r.code == 0, r.err
    rec = _load(r.out)
    assert rec["samples"] > 10
    assert any(w["event"] == "Timeout:PgSleep" for w in rec["queries"][0]["waits"])
    edges = {(e["waiter"], e["holder"], e["relation"], e["mode"]) for e in rec["lock_waits"]}
    assert ("#2", "#1", "load_lg", "ShareLock") in edges, rec["lock_waits"]
    r = qshell(script)
    assert "lock waits (waiter → holder" in r.out and "#2 → #1 · ShareLock (transactionid) · load_lg" in r.out, r.out
    assert "main waits" in r.out


@pytest.mark.slow
def test_interrupt_cancels_and_reports_what_was_measured(db):
    pool = LoadPool(db, ["SELECT pg_sleep(0.01)", "SELECT pg_sleep(30)"], 2, 60)
    gevent.spawn_later(1.0, pool.interrupt)
    t0 = time.perf_counter()
    load = pool.run()
    took = time.perf_counter() - t0
    assert load.interrupted and took < 0.2 * 60  # the 30 s sleep was cancelled, the 60 s not waited for
    assert load.executions > 0 and load.record()["interrupted"] is True
    conn = db.monitor()
    with db._monitor_lock:
        cur = conn.cursor()
        cur.execute("SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%pg_sleep(30)%' AND state = 'active'"
                    " AND pid <> pg_backend_pid()")
        assert cur.fetchone()[0] == 0


@pytest.mark.slow
def test_interrupt_wakes_workers_waiting_for_a_scheduled_start(db):
    """Open loop at 0.05/s, seed 2: the second start is due 62.5 s in, the third 121.6 s:
    the workers waiting on their timers (the hub free) end when the load is interrupted,
    their connections settled."""
    assert random.Random(2).expovariate(0.05) > 60
    def timerfds() -> int:
        return sum(1 for fd in os.listdir("/proc/self/fd") if "timerfd" in _link(f"/proc/self/fd/{fd}"))

    before = timerfds()
    pool = LoadPool(db, ["SELECT 1"], 2, 300, 0.05, seed=2)  # starts at 0, 62.5 s, 121.6 s…
    gevent.spawn_later(0.5, lambda: seen.append(timerfds()))
    gevent.spawn_later(1.0, pool.interrupt)
    seen: list[int] = []
    t0 = time.perf_counter()
    load = pool.run()
    took = time.perf_counter() - t0
    assert load.interrupted and load.executions == 1 and took < 0.1 * 60, took
    assert all(w.dead for w in pool.running)
    assert seen == [before + 2] and timerfds() == before  # one per worker, closed with it


def _link(path: str) -> str:
    try:
        return os.readlink(path)
    except OSError:
        return ""


@pytest.mark.slow
def test_ctrl_c_stops_a_script_load_and_prints_what_was_measured(dsn, tmp_path, qshell_pipe):
    script = "\\add SELECT pg_sleep(0.01);\n\\add SELECT pg_sleep(20.3);\n\\go 2 for 60s\nSELECT 'not reached';\n"
    proc = qshell_pipe("--history-dir", str(tmp_path), dsn)
    proc.stdin.write(script.encode())
    proc.stdin.close()
    wait_until(lambda: active_queries(dsn, "pg_sleep(20.3)") >= 1, 20)
    time.sleep(0.3)
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=20)
    out, err = proc.stdout.read().decode(), proc.stderr.read().decode()
    assert proc.returncode == 3, err
    assert "Traceback" not in err and "not reached" not in out
    assert "sustained load" in out and "interrupted" in out
    assert wait_until(lambda: active_queries(dsn, "pg_sleep(20.3)") == 0, 5)  # cancelled, not left to run its 20 s


@pytest.mark.slow
def test_report_renders_the_last_load(qshell, tmp_path):
    page = tmp_path / "load.html"
    r = qshell(f"\\add SELECT 1;\n\\go 2 for 1s at 20/s\n\\report {page}\n")
    assert r.code == 0, r.err
    assert "report of the last sustained load" in r.err
    text = page.read_text()
    assert "Sustained load" in text and "throughput-chart" in text and "histogram-chart" in text


@pytest.mark.slow
def test_live_progress_line_and_ctrl_c_in_a_terminal(dsn, hist, qshell_pty):
    import pexpect

    child = qshell_pty("--history-dir", str(hist), dsn)
    child.expect_exact("postgres=>")
    child.sendline("\\add SELECT pg_sleep(0.05);")
    child.expect_exact("postgres[1]=>")
    child.sendline("\\go 2 for 2s")
    child.expect(r"load \d\.\d s / 2 s · \d+ executions · \d+/s · p95 \d")
    child.expect("sustained load: 1 query on N=2 workers for 2 s")
    child.expect_exact("postgres[1]=>")
    child.sendline("\\go 2 for 60s")
    child.expect(r"load \d\.\d s / 60 s · [1-9]\d* executions")
    child.sendintr()
    child.expect(r"executions \d+ in .* · interrupted")
    child.expect_exact("postgres[1]=>")
    child.sendline("\\q")
    child.expect(pexpect.EOF)
    assert "Traceback" not in child.logfile_read.getvalue()
