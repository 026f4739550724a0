"""\\set resources: per staged query, its pg_stat_statements delta (buffers, temp, WAL,
server time), on the real server the session fixture started with pg_stat_statements
preloaded. Figures are compared with each other in one test, never with absolute times."""
from __future__ import annotations

import json
import os

import psycopg2
import pytest


def records(out: str) -> list[dict]:
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def queries(out: str) -> list[list[dict]]:
    """The query records of each run, in order."""
    runs: list[list[dict]] = [[]]
    for rec in records(out):
        if rec["type"] == "query":
            runs[-1].append(rec)
        elif rec["type"] == "run":
            runs.append([])
    return [r for r in runs if r]


@pytest.fixture
def name() -> str:
    return f"res_{os.getpid()}"


def test_a_table_evicted_from_shared_buffers_is_read_then_found_in_them(qshell, name):
    """The first count(*) after evicting the table's buffers reads its pages; the same query
    again finds them all in shared buffers (hit) and reads none."""
    r = qshell(f"""
CREATE EXTENSION IF NOT EXISTS pg_buffercache;
CREATE TABLE {name}_c AS SELECT g, repeat('x', 100) AS pad FROM generate_series(1, 50000) g;
SELECT count(*) > 0 FROM pg_buffercache_evict_relation('{name}_c');
\\add SELECT count(*) FROM {name}_c;
\\set format json
\\go 1
\\go 1
DROP TABLE {name}_c;
""")
    assert r.code == 0, r.err
    assert "no resources" not in r.err  # on by default: pg_stat_statements is usable
    first, second = (run[0]["resources"] for run in queries(r.out))
    assert first["source"] == "pg_stat_statements" and first["calls"] == 1 and first["shared"] == 1
    assert first["shared_read"] > 500  # ~900 pages, nearly all read
    assert second["shared_read"] == 0
    assert second["shared_hit"] >= 0.9 * (first["shared_read"] + first["shared_hit"]) - 10
    for run in queries(r.out):
        q = run[0]
        assert 0 < q["resources"]["server_ms"] <= q["total_ms"] + 1.0  # the server's time is within the client's


def test_resources_in_the_summary_the_query_header_and_the_run_record(qshell, name):
    r = qshell(f"""
CREATE TABLE {name}_w (id int PRIMARY KEY, v int);
INSERT INTO {name}_w SELECT g, 0 FROM generate_series(1, 1000) g;
\\set tx rollback
\\add UPDATE {name}_w SET v = v + 1;
\\add SELECT sum(v) FROM {name}_w;
\\add SELECT sum(v) FROM {name}_w WHERE id > 0;
\\add SELECT sum(v) FROM {name}_w WHERE id > 0;
\\add CREATE INDEX ON {name}_w (v);
\\go 2
\\set format json
\\go 2
\\set format aligned
\\set tx autocommit
\\add SELECT sum(v) FROM {name}_w WHERE id > 1000000;
\\go 2
DROP TABLE {name}_w;
""")
    assert r.code == 0, r.err
    text = r.out
    assert "resources server" in text and "srv ms" in text and "hit" in text and " wal" in text
    runs = queries(r.out)
    upd, sel, same1, same2, ddl = runs[0]
    assert upd["resources"]["wal_bytes"] > 1000  # 1000 rows updated (then rolled back): WAL written
    # a SELECT in tx rollback is sent as written (no cursor for the rollback to drop): recorded
    assert sel["resources"]["shared_hit"] + sel["resources"]["shared_read"] > 0 and "no_resources" not in sel
    assert "resources" not in ddl and ddl["no_resources"] == "utility statement"  # no queryid
    run = [rec for rec in records(r.out) if rec["type"] == "run"][0]
    assert run["resources"]["queries"] == 4 and run["resources"]["wal_bytes"] >= upd["resources"]["wal_bytes"]  # all but the DDL
    # the last aligned run: texts that differ only in constants share one entry (so do
    # identical ones): its total averaged over its calls, marked ~ and said; the client
    # time of such a query is unknown
    assert "client ? (server time: an average of 3 calls, 3 staged on one entry)" in text and "~" in text


def test_resources_off_and_a_database_without_the_extension(qshell, dsn, name):
    conn = psycopg2.connect(dsn)
    conn.autocommit = True
    conn.cursor().execute(f"DROP DATABASE IF EXISTS {name}_noext")
    conn.cursor().execute(f"CREATE DATABASE {name}_noext")
    try:
        other = psycopg2.extensions.make_dsn(dsn, dbname=f"{name}_noext")
        r = qshell("\\add SELECT 1;\n\\go 1\n\\go 1\n", other, use_dsn=False)
        assert r.code == 0, r.err
        # auto: one notice, how to enable it; runs go on without figures
        assert r.err.count("no resources per query") == 1 and "CREATE EXTENSION pg_stat_statements" in r.err
        assert "srv ms" not in r.out
        r = qshell("\\set resources off\n\\add SELECT 1;\n\\go 1\n", other, use_dsn=False)
        assert r.err == "" and "srv ms" not in r.out
    finally:
        conn.cursor().execute(f"DROP DATABASE IF EXISTS {name}_noext")
        conn.close()
    r = qshell("\\set resources off\n\\set format json\n\\add SELECT 1;\n\\go 1\n")
    assert r.code == 0 and "resources" not in r.out


def test_the_workers_track_all_only_while_resources_are_on(qshell):
    r = qshell("\\add SELECT current_setting('pg_stat_statements.track');\n\\go 1\n"
               "\\set resources off\n\\go 1\n")
    assert r.code == 0, r.err
    tables = r.out.split("── #1")
    assert " all" in tables[1] and " top" in tables[2]


def test_records_with_resources_and_plans_built_as_text_equal_the_dicts():
    from qshell.engine.plans import summarize
    from qshell.engine.resources import Resources
    from qshell.output import json_lines
    from qshell.records.results import QueryResult, Status

    res = Resources(shared_hit=10.5, shared_read=3, temp_written=0, wal_bytes=120, server_ms=1.23456, calls=2, shared=2)
    plan = summarize('[{"Plan": {"Node Type": "Result", "Actual Rows": 1}, "Execution Time": 0.1}]')
    qs = [QueryResult(index=1, sql="SELECT 1", status=Status.OK, resources=res),
          QueryResult(index=2, sql="SELECT 1", status=Status.OK, resources=res),
          QueryResult(index=3, sql="SELECT 2", status=Status.OK, resources=res, plan=plan),
          QueryResult(index=4, sql="SELECT 3", status=Status.OK, plan=plan)]
    for slow in ({}, {1: 1.5, 3: 2.0}):
        enc = json_lines.RecordEncoder("r-1", slow)
        for q in qs:
            for rows in (True, False):
                want = json_lines.query_record(q, "r-1", rows=rows, slowdown=slow.get(q.index))
                head = enc.head(q)
                got = json.loads(enc.line(head, q) if rows else head)
                assert got == want and list(got) == list(want)


def test_queryids_planned_in_one_round_trip_and_one_by_one_in_a_read_only_session(db):
    """The texts' queryids from the one-round-trip batch equal those planned one by one; a
    read-only session (no temporary function can be made) falls back to that; a text that
    cannot be planned, a utility statement, several statements have none, and say why.
    Nothing is left on the connection: no transaction, no function, no setting."""
    from qshell.engine.resources import SEVERAL, UTILITY, plan_texts

    texts = ["SELECT 1 AS a", "SELECT relname FROM pg_class WHERE oid = 5", "SELECT * FROM no_such_table_here",
             "VACUUM", "SELECT '100%' AS pct", "SELECT 2 ; SELECT 3", "/* c */ SELECT 4; -- one statement"]
    fairy = db.checkout()
    try:
        cur = fairy.dbapi_connection.cursor()
        together = plan_texts(cur, texts)
        alone = plan_texts(cur, texts, one_by_one=True)
        assert together == alone
        assert isinstance(together["SELECT 1 AS a"], int) and isinstance(together["SELECT '100%' AS pct"], int)
        assert isinstance(together["/* c */ SELECT 4; -- one statement"], int)
        assert together["SELECT * FROM no_such_table_here"] == (
            'it could not be planned before the run: relation "no_such_table_here" does not exist')
        assert together["VACUUM"] == UTILITY and together["SELECT 2 ; SELECT 3"] == SEVERAL
        cur.execute("SELECT current_setting('lock_timeout'), current_setting('statement_timeout'),"
                    " to_regprocedure('pg_temp.qshell_queryids(text[], float8, float8)')")
        assert cur.fetchone() == ("0", "0", None)
        assert fairy.dbapi_connection.info.transaction_status == 0  # idle
        cur.execute("SET default_transaction_read_only = on")
        try:
            assert plan_texts(cur, texts) == alone
        finally:
            cur.execute("RESET default_transaction_read_only")
    finally:
        fairy.close()


# -- issue 19 item 3 / issue 21 item 4: the figures are gathered read-only, never blocking,
# and a query without figures says why ---------------------------------------------------
def test_a_group_of_statements_is_not_run_before_the_run_and_says_why(qshell, dsn, name):
    """A staged ``\\;`` group is never planned piece by piece (its DELETE was run, committed,
    before a ``\\set tx rollback`` run); it gets no figures and the output says why; a
    utility statement too. In autocommit a group of INSERTs runs once: two rows, not more."""
    r = qshell(f"""
CREATE TABLE {name}_rt (id int PRIMARY KEY);
INSERT INTO {name}_rt VALUES (1), (2), (3);
\\set tx rollback
\\set resources on
\\add SELECT 2 \\; DELETE FROM {name}_rt WHERE id = 2 \\; SELECT 3;
\\add ANALYZE {name}_rt;
\\add SELECT count(*) FROM {name}_rt;
\\go 1
\\set format json
\\go 1
\\set format aligned
SELECT string_agg(id::text, ',' ORDER BY id) AS left_rows FROM {name}_rt;
""")
    try:
        assert r.code == 0, r.err
        assert "1,2,3" in r.out.split("left_rows")[1]  # row 2 is still there
        text = r.out.split('{"type"')[0]
        assert "resources: no figures: several statements" in text
        assert "resources: no figures: utility statement" in text
        group, analyze, count = queries(r.out)[0]
        assert "resources" not in group and group["no_resources"] == "several statements"
        assert "resources" not in analyze and analyze["no_resources"] == "utility statement"
        # a single SELECT in tx rollback, sent as written, is planned and recorded
        assert "no_resources" not in count and count["resources"]["shared_hit"] + count["resources"]["shared_read"] > 0
        r = qshell(f"""
TRUNCATE {name}_rt;
\\add INSERT INTO {name}_rt VALUES (10) \\; INSERT INTO {name}_rt VALUES (20);
\\go 1
SELECT count(*) AS n_rows FROM {name}_rt;
""")
        assert r.code == 0, r.err
        assert r.out.split("n_rows")[1].split()[1] == "2"  # executed once, by the run
    finally:
        conn = psycopg2.connect(dsn)
        conn.autocommit = True
        conn.cursor().execute(f"DROP TABLE IF EXISTS {name}_rt")
        conn.close()


def _run_started(out: str) -> float:
    return [rec for rec in records(out) if rec["type"] == "run"][0]["started_at"]


@pytest.mark.slow
def test_a_locked_table_does_not_hold_the_preparation_and_says_why(qshell, dsn, name):
    """A side connection holds ACCESS EXCLUSIVE on the table (released after 3 s): planning
    each staged text on it waits at most a short lock_timeout (~50 ms, then less once a
    budget of waits is spent), not the 500 ms per text it waited, and each of those texts
    says why it has no figures; SELECT 1 still has its own. The time from qshell's start to
    the run's start is compared with the same script without the lock."""
    import threading
    import time

    k = 6
    # texts that differ in more than constants: six queryids, six texts to plan
    staged = "".join(f"\\add SELECT count(*) FROM {name}_lk WHERE id > 0{' AND true' * i};\n" for i in range(k))
    script = f"\\set format json\n{staged}\\add SELECT 1;\n\\go 1\n"
    conn = psycopg2.connect(dsn)
    conn.autocommit = True
    conn.cursor().execute(f"DROP TABLE IF EXISTS {name}_lk; CREATE TABLE {name}_lk (id int)")
    try:
        t0 = time.time()
        free = qshell(script)
        free_prep = _run_started(free.out) - t0
        assert free.code == 0, free.err
        holder = psycopg2.connect(dsn)
        cur = holder.cursor()
        cur.execute(f"LOCK TABLE {name}_lk IN ACCESS EXCLUSIVE MODE")  # (a transaction: psycopg2 opened it)
        releaser = threading.Timer(3.0, holder.rollback)
        releaser.start()
        try:
            t0 = time.time()
            locked = qshell(script)
            locked_prep = _run_started(locked.out) - t0
        finally:
            releaser.join()
            holder.close()
        assert locked.code == 0, locked.err
        waited = locked_prep - free_prep
        assert waited < k * 0.050 * 2 + 0.4, (waited, free_prep, locked_prep)  # it waited 6 × 0.5 s
        run = queries(locked.out)[0]
        for q in run[:k]:
            assert "resources" not in q and q["no_resources"] == "a table was locked while planning", q
        assert run[k]["resources"]["calls"] >= 1  # SELECT 1: planned, measured
    finally:
        conn.cursor().execute(f"DROP TABLE IF EXISTS {name}_lk")
        conn.close()


@pytest.mark.slow
def test_texts_sharing_one_entry_never_show_a_negative_client_time(qshell, dsn, name, tmp_path):
    """pg_sleep(0.3) and pg_sleep(0.1) are one pg_stat_statements entry: each query's server
    figure is the entry's run delta averaged over its calls ("avg of 2 calls"), never
    subtracted from the short one's 100 ms; the client time is unknown, and said why, in the
    text, the JSON record and \\report. Checked against pg_stat_statements read by the test
    itself before and after the run (its own queryid, from its own EXPLAIN)."""
    page = tmp_path / "why.html"
    conn = psycopg2.connect(dsn)
    conn.autocommit = True
    cur = conn.cursor()
    cur.execute("EXPLAIN (VERBOSE, FORMAT JSON) SELECT pg_sleep(0.3)")
    qid = int(cur.fetchone()[0][0]["Query Identifier"])
    cur.execute("EXPLAIN (VERBOSE, FORMAT JSON) SELECT pg_sleep(0.1)")
    assert int(cur.fetchone()[0][0]["Query Identifier"]) == qid  # one entry for both texts

    def snap() -> tuple[float, float]:
        cur.execute("SELECT coalesce(sum(calls), 0), coalesce(sum(total_exec_time), 0) FROM pg_stat_statements"
                    " WHERE queryid = %s AND dbid = (SELECT oid FROM pg_database WHERE datname = current_database())",
                    (qid,))
        calls, ms = cur.fetchone()
        return float(calls), float(ms)

    try:
        r1 = qshell("\\add SELECT pg_sleep(0.3);\n\\add SELECT pg_sleep(0.1);\n\\go 2\n")
        before = snap()
        r = qshell(f"\\set format json\n\\add SELECT pg_sleep(0.3);\n\\add SELECT pg_sleep(0.1);\n\\go 2\n"
                   f"\\report {page}\n")
        after = snap()
    finally:
        conn.close()
    assert r1.code == 0 and r.code == 0, (r1.err, r.err)
    text = r1.out
    assert "client -" not in text
    assert text.count("client ? (server time: an average of 2 calls, 2 staged on one entry)") == 2
    assert text.count("(avg of 2 calls)") == 2 and "~" in text  # the summary's srv ms marked as an average
    calls, total_ms = after[0] - before[0], after[1] - before[1]
    assert calls == 2 and 390 < total_ms < 600
    for q in queries(r.out)[0]:
        res = q["resources"]
        assert res["shared"] == 2 and res["calls"] == 2 and res["basis"] == "avg of 2 calls"
        assert res["client_ms"] is None and "average" in res["client_unknown"]
        assert abs(res["server_ms"] - total_ms / 2) < 0.01  # pg_stat_statements' own delta ÷ its calls
        assert res["server_ms"] > q["total_ms"] or q["sql"].endswith("(0.3)")  # an average: above the short one's time
    html = page.read_text()
    section = html[html.index("Why is it slow"):]
    assert ">-1" not in section and ">-2" not in section and ">-9" not in section
    assert "client ms" in section and "an average of 2 calls" in section


def test_the_figures_are_pg_stat_statements_own_delta(qshell, dsn, name):
    """An independent check: the test reads pg_stat_statements itself, before and after,
    for the queryid it plans itself; the query's figures are that delta."""
    conn = psycopg2.connect(dsn)
    conn.autocommit = True
    cur = conn.cursor()
    cur.execute(f"DROP TABLE IF EXISTS {name}_d; CREATE TABLE {name}_d (id int PRIMARY KEY, v int);"
                f" INSERT INTO {name}_d SELECT g, 0 FROM generate_series(1, 2000) g")
    sql = f"UPDATE {name}_d SET v = v + 1 WHERE id <= 700"
    try:
        cur.execute("EXPLAIN (VERBOSE, FORMAT JSON) " + sql)
        qid = int(cur.fetchone()[0][0]["Query Identifier"])

        def snap() -> list[float]:
            cur.execute("SELECT coalesce(sum(calls), 0), coalesce(sum(shared_blks_hit), 0),"
                        " coalesce(sum(shared_blks_read), 0), coalesce(sum(temp_blks_written), 0),"
                        " coalesce(sum(wal_bytes), 0), coalesce(sum(total_exec_time), 0) FROM pg_stat_statements"
                        " WHERE queryid = %s AND dbid = (SELECT oid FROM pg_database WHERE datname = current_database())",
                        (qid,))
            return [float(x) for x in cur.fetchone()]

        before = snap()
        r = qshell(f"\\set format json\n\\add {sql};\n\\go 1\n")
        after = snap()
        assert r.code == 0, r.err
        res = queries(r.out)[0][0]["resources"]
        calls, hit, read, temp, wal, ms = (a - b for a, b in zip(after, before, strict=True))
        assert calls == 1 and res["calls"] == 1 and res["shared"] == 1 and res["basis"] == "this execution"
        assert (res["shared_hit"], res["shared_read"], res["temp_written"], res["wal_bytes"]) == (hit, read, temp, wal)
        assert wal > 0 and hit > 0
        assert abs(res["server_ms"] - ms) < 0.001
        total = queries(r.out)[0][0]["total_ms"]
        assert res["client_ms"] is not None and abs(res["client_ms"] - (total - ms)) < 0.01
    finally:
        cur.execute(f"DROP TABLE IF EXISTS {name}_d")
        conn.close()
