"""The QueryPool engine against the real server: concurrency, isolation of failures, streaming."""
from __future__ import annotations

import subprocess
import sys

import pytest

from qshell.common.errors import CapacityError
from qshell.engine.pool import Database, QueryPool
from qshell.records.results import Status

SLEEP = "SELECT pg_sleep(0.3)"


@pytest.mark.xdist_group("cpu")  # one at a time with the other CPU-heavy tests (conftest.py)
@pytest.mark.slow
def test_concurrency_ratio_in_one_run(db):
    queries = [SLEEP] * 6
    walls = {n: QueryPool(db, queries, n).run().wall_s for n in (1, 3, 6)}
    assert walls[6] < walls[1] / 2
    # N=3 takes two rounds, N=6 one: about twice as long
    assert 1.5 < walls[3] / walls[6] < 2.6
    assert 2.5 < walls[1] / walls[3] < 3.5


def test_overlap_and_sum_are_consistent(db):
    run = QueryPool(db, [SLEEP] * 4, 4).run()
    assert run.n == 4
    assert run.sum_s == pytest.approx(sum(q.total_s for q in run.queries))
    assert run.overlap == pytest.approx(run.sum_s / run.wall_s)
    assert run.overlap > 2.5
    assert {q.worker for q in run.queries} == {0, 1, 2, 3}
    assert len({q.pid for q in run.queries}) == 4


def test_failing_query_does_not_stop_the_others(db):
    queries = ["SELECT 1 AS one", "SELECT * FROM no_such_table", "SELECT 1/0", "SELECT 'fine' AS t"]
    run = QueryPool(db, queries, 2).run()
    assert [q.index for q in run.queries] == [1, 2, 3, 4]
    assert [q.status for q in run.queries] == [Status.OK, Status.ERROR, Status.ERROR, Status.OK]
    assert run.queries[1].sqlstate == "42P01"
    assert "no_such_table" in run.queries[1].error
    assert run.queries[2].sqlstate == "22012"
    assert run.queries[3].rows == (("fine",),)
    assert run.failed == 2


def test_more_workers_than_sqlalchemy_default_pool(db):
    # SQLAlchemy's default pool is 5 + 10 overflow; 16 must neither block nor deadlock
    run = QueryPool(db, ["SELECT pg_sleep(0.2)"] * 16, 16).run()
    assert all(q.status is Status.OK for q in run.queries)
    assert len({q.pid for q in run.queries}) == 16
    assert run.wall_s < run.sum_s / 4


def test_connections_are_reused_across_runs(db):
    first = QueryPool(db, ["SELECT pg_backend_pid()"] * 3, 3).run()
    second = QueryPool(db, ["SELECT pg_backend_pid()"] * 3, 3).run()
    pids1 = {q.pid for q in first.queries}
    pids2 = {q.pid for q in second.queries}
    assert pids1 == pids2
    # the recorded pid is the backend that really ran the query
    assert {int(q.rows[0][0]) for q in second.queries} == pids2


def test_big_result_is_streamed_and_counted(db):
    run = QueryPool(db, ["SELECT g, repeat('x', 20) FROM generate_series(1, 250000) g"], 1, maxrows=7).run()
    q = run.queries[0]
    assert q.status is Status.OK
    assert q.rowcount == 250000
    assert len(q.rows) == 7 and q.truncated
    assert q.rows[0] == ("1", "x" * 20)
    assert q.command == "SELECT 250000"


def test_command_tags_and_fallbacks(db):
    db.execute("DROP TABLE IF EXISTS eng_t")
    db.execute("CREATE TABLE eng_t (a int)")
    run = QueryPool(db, ["INSERT INTO eng_t SELECT generate_series(1, 5)"], 1).run()
    assert run.queries[0].command == "INSERT 0 5"
    run = QueryPool(db, ["UPDATE eng_t SET a = a + 1 WHERE a <= 3", "DELETE FROM eng_t WHERE a = 5"], 1).run()
    assert [q.command for q in run.queries] == ["UPDATE 3", "DELETE 1"]
    # statements DECLARE refuses run plainly: SELECT INTO and data-modifying WITH
    run = QueryPool(db, [
        "SELECT 1 AS x INTO TEMP eng_into",
        "WITH d AS (DELETE FROM eng_t WHERE a = 4 RETURNING a) SELECT count(*) FROM d",
        "INSERT INTO eng_t VALUES (10), (11) RETURNING a",
    ], 1).run()
    assert [q.status for q in run.queries] == [Status.OK] * 3, [q.error for q in run.queries]
    assert run.queries[0].command == "SELECT 1"
    assert run.queries[1].rows == (("2",),)  # after the UPDATE, 4 is there twice
    assert run.queries[2].rows == (("10",), ("11",)) and run.queries[2].command == "INSERT 0 2"
    assert db.execute("SELECT count(*) FROM eng_t").rows == (("4",),)


def test_copy_is_refused_with_a_clear_message(db):
    run = QueryPool(db, ["COPY (SELECT 1) TO STDOUT", "SELECT 2"], 2).run()
    assert run.queries[0].status is Status.ERROR
    assert "COPY is not supported" in run.queries[0].error
    assert run.queries[1].status is Status.OK
    # the connection stays usable
    assert QueryPool(db, ["SELECT 3"], 1).run().queries[0].rows == (("3",),)


def test_capacity_check_refuses_before_running(db):
    cap = db.capacity()
    with pytest.raises(CapacityError) as info:
        db.check_capacity(cap.available + 1)
    text = str(info.value)
    assert str(cap.max_connections) in text and "reserved" in text
    db.check_capacity(2)  # a small N passes


@pytest.mark.slow
def test_times_are_ordered(db):
    run = QueryPool(db, [SLEEP, SLEEP, "SELECT 1"], 1).run()
    q1, q2, q3 = run.queries
    assert q1.wait_s < q2.wait_s < q3.wait_s  # one worker: each waits for the previous
    assert q2.wait_s >= 0.25
    assert q1.end_s <= q2.start_s + 0.01
    assert all(q.exec_s >= 0 and q.fetch_s >= 0 for q in run.queries)


def test_engine_imports_no_ui_libraries():
    code = ("from qshell.bootstrap import bootstrap; bootstrap(); import qshell.engine.pool, sys; "
            "print('prompt_toolkit' in sys.modules, 'tabulate' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


def test_read_only_runs_vacuum_as_psql_does(dsn):
    """--read-only: a staged VACUUM (which refuses a transaction block) runs plainly on the
    workers' read-only session, as psql runs it with default_transaction_read_only (was:
    wrapped in BEGIN READ ONLY, 25001); a write is still refused (25006)."""
    from qshell.engine.execute import TxMode

    database = Database(dsn)
    try:
        database.set_readonly(True)
        run = QueryPool(database, ["VACUUM pg_class", "CREATE TABLE read_only_vacuum_probe (i int)"], 1,
                        mode=TxMode(readonly=True)).run()
    finally:
        database.close()
    vacuum, create = run.queries
    assert vacuum.status is Status.OK and vacuum.command == "VACUUM", vacuum
    assert create.status is Status.ERROR and create.sqlstate == "25006", create


# -- issue 19: the transaction modes' ends, checked ---------------------------------------------------
def test_a_rollback_that_finds_no_transaction_says_the_work_was_committed(dsn):
    """``\\set tx rollback``'s final ROLLBACK is checked: the server's "there is no
    transaction in progress" warning means the text's work was committed, and qshell says
    so loudly (every text that could end the transaction is refused before the run, so
    the warning is provoked here on a real connection whose transaction was ended)."""
    import psycopg2

    from qshell.engine.execute import TxMode, _end_tx

    conn = psycopg2.connect(dsn)
    conn.autocommit = True
    try:
        cur = conn.cursor()
        cur.execute("BEGIN")
        assert _end_tx(cur, TxMode(rollback=True)) == ()  # a transaction to roll back: nothing to say
        cur.execute("BEGIN; COMMIT")  # ended before qshell's ROLLBACK
        said = _end_tx(cur, TxMode(rollback=True))
        assert len(said) == 1 and "COMMITTED" in said[0]
        assert any("there is no transaction in progress" in n for n in conn.notices)  # the server's own, kept
        cur.execute("BEGIN; COMMIT")
        assert _end_tx(cur, TxMode(isolation="serializable")) == ()  # a COMMIT that finds none: nothing lost
    finally:
        conn.close()


def test_tx_rollback_refuses_a_text_that_ends_its_transaction_before_anything_runs(db):
    from qshell.common.errors import QshellError
    from qshell.engine.execute import TxMode

    with pytest.raises(QshellError, match="#2: COMMIT in a staged query is refused"):
        QueryPool(db, ["SELECT 1", "DELETE FROM pg_class WHERE false; COMMIT"], 1, mode=TxMode(rollback=True)).run()


def test_rollback_to_a_savepoint_is_allowed_in_tx_rollback_whatever_its_comments():
    from qshell.engine.execute import stage_refusal

    for text in ("INSERT INTO t VALUES (1); SAVEPOINT s; ROLLBACK /* x */ TO s", "SELECT 1; SAVEPOINT s; ROLLBACK--x\nTO s",
                 "SELECT 1; SAVEPOINT s; rollback work to savepoint s"):
        assert stage_refusal(text, rollback=True) is None, text
    for text in ("SELECT 1; ROLLBACK /* x */", "SELECT 1; ROLLBACK -- TO s", "SELECT 1; commit and chain"):
        assert stage_refusal(text, rollback=True) is not None, text
