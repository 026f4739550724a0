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
    assert "resources" not in sel  # a SELECT through a cursor a rollback dropped is not recorded
    assert "resources" not in ddl  # a utility statement has no queryid
    run = [rec for rec in records(r.out) if rec["type"] == "run"][0]
    assert run["resources"]["queries"] == 1 and run["resources"]["wal_bytes"] == upd["resources"]["wal_bytes"]
    # the last aligned run: texts that differ only in constants share one entry (so do
    # identical ones): its total averaged over its calls, marked ~ and said
    assert "average of 3 calls (3 staged)" in text and "~" in text


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
    from qshell import render
    from qshell.plans import summarize
    from qshell.resources import Resources
    from qshell.results import QueryResult, Status

    res = Resources(shared_hit=10.5, shared_read=3, temp_written=0, wal_bytes=120, server_ms=1.23456, calls=2, shared=2)
    plan = summarize('[{"Plan": {"Node Type": "Result", "Actual Rows": 1}, "Execution Time": 0.1}]')
    qs = [QueryResult(index=1, sql="SELECT 1", status=Status.OK, resources=res),
          QueryResult(index=2, sql="SELECT 1", status=Status.OK, resources=res),
          QueryResult(index=3, sql="SELECT 2", status=Status.OK, resources=res, plan=plan),
          QueryResult(index=4, sql="SELECT 3", status=Status.OK, plan=plan)]
    for slow in ({}, {1: 1.5, 3: 2.0}):
        enc = render.RecordEncoder("r-1", slow)
        for q in qs:
            for rows in (True, False):
                want = render.query_record(q, "r-1", rows=rows, slowdown=slow.get(q.index))
                head = enc.head(q)
                got = json.loads(enc.line(head, q) if rows else head)
                assert got == want and list(got) == list(want)


def test_queryids_planned_in_one_round_trip_and_one_by_one_in_a_read_only_session(db):
    """The texts' queryids from the temporary function equal EXPLAIN VERBOSE's own, one by
    one; a read-only session (no function can be created) falls back to that; a text that
    cannot be planned, or is not explainable, has none."""
    from qshell.resources import query_id, query_ids

    texts = ["SELECT 1 AS a", "SELECT relname FROM pg_class WHERE oid = 5", "SELECT * FROM no_such_table_here",
             "VACUUM", "SELECT '100%' AS pct"]
    fairy = db.checkout()
    try:
        cur = fairy.dbapi_connection.cursor()
        together = query_ids(cur, texts)
        alone = {t: query_id(cur, t) for t in texts}
        assert together == alone
        assert together["SELECT 1 AS a"] is not None and together["SELECT '100%' AS pct"] is not None
        assert together["SELECT * FROM no_such_table_here"] is None and together["VACUUM"] is None
        cur.execute("SET default_transaction_read_only = on")
        try:
            assert query_ids(cur, texts) == alone
        finally:
            cur.execute("RESET default_transaction_read_only")
    finally:
        fairy.close()
