"""qshell through a real PgBouncer (transaction pooling, pool size 2) in front of the test server.

The fixture (tests/infra.py) runs Debian's pgbouncer; without it these tests skip, and
fail when CI is set. What qshell cannot do behind a transaction pooler is not asserted
here (see the README, "Behind a pooler and over replicas"): sampling when the server
behind it cannot be reached directly, a pid for statements that cannot run in a transaction.
"""
from __future__ import annotations

import io
import json
import time

import gevent
import pytest

pytest.register_assert_rewrite("tests.infra")  # before its import below: loaded as a plugin too

from qshell.cli import main
from qshell.engine.database import Database
from qshell.engine.execute import TxMode
from qshell.engine.pool import QueryPool
from qshell.records.results import Status
from tests.infra import POOL_SIZE, query

pytest_plugins = ["tests.infra"]

PID_SLEEP = "SELECT pg_backend_pid() AS pid, pg_sleep(0.05)"
# a transaction of its own for every staged query: no cursor is held across transactions
IN_TX = "\\set isolation 'read committed'\n"


def run_json(target: str, script: str, hist) -> tuple[int, list[dict], list[dict], str]:  # noqa: ANN001
    """qshell in-process on ``target`` in JSON format: (exit code, query records, run records, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    code = main(["--history-dir", str(hist), "--format", "json", target], stdin=io.BytesIO(script.encode()),
                stdout=out, stderr=err)
    records = [json.loads(line) for line in out.getvalue().splitlines() if line.startswith("{")]
    queries = [r for r in records if r.get("type") == "query"]
    runs = [r for r in records if r.get("type") == "run"]
    return code, queries, runs, err.getvalue()


@pytest.fixture(autouse=True)
def fresh_backends(pgbouncer):
    """Each test on backends of its own: PgBouncer closes its server connections as they
    are released (RECONNECT), so nothing a test leaves on one (a held cursor of the
    default mode, a SET) reaches the next."""
    query(pgbouncer.admin_dsn, f"RECONNECT {pgbouncer.dbname}")
    yield


@pytest.fixture
def bouncer_db(pgbouncer):
    database = Database(pgbouncer.dsn)
    seen: list[str] = []
    database.on_notice = seen.append
    database.seen = seen  # type: ignore[attr-defined]
    yield database
    database.close()


def test_the_fixture_is_a_transaction_pool_of_two(pgbouncer):
    pools = query(pgbouncer.admin_dsn, "SHOW POOLS")
    assert pgbouncer.version.startswith("PgBouncer 1.")
    mode = {row[0]: row[-1] for row in pools}
    assert mode[pgbouncer.dbname] == "transaction"
    sizes = {row[0]: row[5] for row in query(pgbouncer.admin_dsn, "SHOW DATABASES")}
    assert sizes[pgbouncer.dbname] == POOL_SIZE == 2


@pytest.mark.slow
def test_go_8_over_16_queries_in_transactions_all_ok(pgbouncer, dsn, tmp_path):
    """\\go 8 over 16 queries through a pool of 2: all ok, at most 2 server backends ran
    them, and the run takes PgBouncer's queue's time (8 rounds of 50 ms, not 2)."""
    stage = "".join(f"\\add {PID_SLEEP};\n" for _ in range(16))
    code, queries, runs, err = run_json(pgbouncer.dsn, IN_TX + stage + "\\go 8\n", tmp_path / "h1")
    assert code == 0, err
    bouncer_err = err
    assert [q["status"] for q in queries] == ["ok"] * 16
    assert {q["worker"] for q in queries} == set(range(8))
    backends = {int(q["rows"][0][0]) for q in queries}
    assert 1 <= len(backends) <= POOL_SIZE
    assert runs[0]["wall_ms"] >= 16 * 50 / POOL_SIZE * 0.9
    # the same set directly on the server: 8 backends, two rounds
    code, direct, direct_runs, err = run_json(dsn, IN_TX + stage + "\\go 8\n", tmp_path / "h2")
    assert code == 0, err
    assert len({int(q["rows"][0][0]) for q in direct}) == 8
    assert direct_runs[0]["wall_ms"] < runs[0]["wall_ms"] / 2
    # directly, the pid qshell records is the backend that ran the query
    assert all(q["pid"] == int(q["rows"][0][0]) for q in direct)
    # the shell tells the DBA (stderr): N above the pool's size; not directly
    assert "8 workers behind" in bouncer_err and "at most 2 queries run on the server at once" in bouncer_err
    assert "workers behind" not in err


def test_pgbouncer_is_recognised_with_its_pool(bouncer_db, db):
    found = bouncer_db.pooler()
    assert found is not None
    assert found.kind == "pgbouncer"
    assert found.pool_mode == "transaction"
    assert found.pool_size == POOL_SIZE and found.servers == POOL_SIZE
    assert found.key_pid != found.backend_pid
    assert "PgBouncer 1." in found.describe() and "transaction pooling, pool size 2" in found.describe()
    assert db.pooler() is None  # the server itself: no pooler


def test_capacity_warns_when_n_exceeds_the_pool_size(bouncer_db, db):
    bouncer_db.check_capacity(8, extra=1)
    above = [t for t in bouncer_db.seen if "at most 2 queries run on the server at once" in t]
    assert len(above) == 1 and "8 workers" in above[0] and "other 6 workers wait in the pooler's queue" in above[0]
    bouncer_db.seen.clear()
    bouncer_db.check_capacity(2)
    assert not [t for t in bouncer_db.seen if "at most" in t]
    # the server's max_connections does not limit clients of the pooler
    beyond = db.capacity().available + 5
    bouncer_db.check_capacity(beyond)
    assert any(f"{beyond} workers" in t for t in bouncer_db.seen)


def test_session_settings_are_not_silently_lost_nor_leaked(bouncer_db, pgbouncer):
    """A session SET cannot stick on a worker behind a transaction pooler: the workers
    run with the server's defaults, the user is told, and no pooled backend keeps it."""
    default = query(pgbouncer.dsn, "SHOW work_mem")[0][0]
    assert default != "7MB"
    bouncer_db.session_settings = {"work_mem": "7MB"}
    run = QueryPool(bouncer_db, ["SELECT current_setting('work_mem')"] * 8, 4, mode=TxMode(isolation="read committed")).run()
    assert [q.status for q in run.queries] == [Status.OK] * 8
    assert {q.rows[0][0] for q in run.queries} == {default}
    told = [t for t in bouncer_db.seen if "session's settings are not given to the workers" in t]
    assert len(told) == 1 and "work_mem" in told[0]
    for _ in range(6):  # whichever backend the pool lends: none was left with the SET
        assert query(pgbouncer.dsn, "SHOW work_mem")[0][0] == default


@pytest.mark.slow
def test_cancel_goes_through_pgbouncer_to_the_backend(bouncer_db, dsn):
    """Interrupting a run cancels its queries with the protocol's cancel request, which
    PgBouncer forwards to the backend that runs them: nothing keeps running."""
    sleep = "SELECT pg_sleep(30) AS cancel_me_through_pgbouncer"
    pool = QueryPool(bouncer_db, [sleep] * 2, 2, mode=TxMode(isolation="read committed"))
    gevent.spawn_later(0.5, pool.interrupt)
    t0 = time.perf_counter()
    run = pool.run()
    assert time.perf_counter() - t0 < 10
    assert run.interrupted
    assert [q.status for q in run.queries] == [Status.CANCELLED] * 2

    def left() -> int:
        return query(dsn, "SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%cancel_me_through_pgbouncer%'"
                          " AND state = 'active' AND pid <> pg_backend_pid()")[0][0]

    deadline = time.monotonic() + 5
    while left() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert left() == 0
    again = QueryPool(bouncer_db, ["SELECT 1"] * 2, 2, mode=TxMode(isolation="read committed")).run()
    assert [q.status for q in again.queries] == [Status.OK] * 2


def test_read_only_workers_leave_no_setting_on_pooled_backends(pgbouncer):
    """Read only behind the pooler: each staged query is a READ ONLY transaction, and no
    session SET is left on PgBouncer's backends for its other clients."""
    database = Database(pgbouncer.dsn)
    try:
        database.set_readonly(True)
        run = QueryPool(database, ["CREATE TABLE read_only_probe (i int)", "SELECT 1"], 2, mode=TxMode(readonly=True)).run()
        assert [q.status for q in run.queries] == [Status.ERROR, Status.OK]
        assert run.queries[0].sqlstate == "25006"
        assert database.pooler() is not None
    finally:
        database.close()
    for _ in range(6):
        assert query(pgbouncer.dsn, "SHOW default_transaction_read_only") == [("off",)]


def test_without_the_admin_console_the_pool_size_is_unknown_and_said_so(pgbouncer):
    """Without the admin console (not asked, or a user outside PgBouncer's admin_users and
    stats_users) a pooler is still recognised by its cancel key, and the warning says the
    pool size is unknown, and why."""
    import psycopg2

    from qshell.engine.pooler import Pooler, detect

    conn = psycopg2.connect(pgbouncer.dsn)
    try:
        conn.autocommit = True
        found = detect(conn, pgbouncer.dsn, admin=False)
        assert found is not None and found.kind == "pooler" and found.pool_size is None
        # the console is asked on the host and port the connection reached, whatever the dsn says
        asked = detect(conn, pgbouncer.dsn.replace(f"port={pgbouncer.port}", "port=1"))
        assert asked is not None and asked.kind == "pgbouncer" and asked.pool_size == POOL_SIZE
    finally:
        conn.close()
    notices = Pooler(key_pid=1, backend_pid=2, admin_error="admin console: not allowed").capacity_notices(8)
    assert any("the pool size is unknown (admin console: not allowed); if it is below 8" in t for t in notices)


def on_every_backend(pgbouncer, sql: str) -> list[tuple]:  # noqa: ANN001
    """``sql`` on each of PgBouncer's server backends: POOL_SIZE transactions open at once
    through it hold every backend of the pool, one each (pg_cursors, SHOW are per session)."""
    import psycopg2

    conns = [psycopg2.connect(pgbouncer.dsn) for _ in range(POOL_SIZE)]  # not autocommit: each holds its backend
    try:
        rows = []
        for conn in conns:
            cur = conn.cursor()
            cur.execute(f"SELECT pg_backend_pid(), ({sql})")
            rows.append(cur.fetchone())
        assert len({pid for pid, _ in rows}) == POOL_SIZE
        return [value for _, value in rows]
    finally:
        for conn in conns:
            conn.close()


LEFT_CURSORS = "SELECT count(*) FROM pg_cursors WHERE name = 'qshell_c'"


@pytest.mark.slow
def test_default_mode_go_8_over_16_queries_all_ok_and_no_cursor_left(pgbouncer, tmp_path):
    """The default (autocommit) mode through a transaction pool: each staged query is a
    transaction of its own, its cursor never held across transactions, so no worker meets
    another's cursor (42P03) and none is left on PgBouncer's backends."""
    stage = "".join(f"\\add {PID_SLEEP};\n" for _ in range(16))
    code, queries, runs, err = run_json(pgbouncer.dsn, stage + "\\go 8\n\\go 8\n", tmp_path / "h")  # the set, twice
    assert code == 0, err
    assert [q["status"] for q in queries] == ["ok"] * 32, [q.get("error") for q in queries if q["status"] != "ok"]
    assert {q["sqlstate"] for q in queries} <= {None}
    assert len({int(q["rows"][0][0]) for q in queries}) <= POOL_SIZE
    assert on_every_backend(pgbouncer, LEFT_CURSORS) == [0] * POOL_SIZE


@pytest.mark.slow
def test_recorded_pid_is_the_backend_that_ran_the_query(pgbouncer, tmp_path):
    """Behind the pooler the pid recorded for a query is taken inside its transaction:
    the backend that ran it, not PgBouncer's cancel key (default mode and a tx mode)."""
    stage = "".join(f"\\add {PID_SLEEP};\n" for _ in range(16))
    for name, script in (("default", stage + "\\go 8\n"), ("in_tx", IN_TX + stage + "\\go 8\n")):
        code, queries, _, err = run_json(pgbouncer.dsn, script, tmp_path / name)
        assert code == 0, err
        assert [q["status"] for q in queries] == ["ok"] * 16
        assert [q["pid"] for q in queries] == [int(q["rows"][0][0]) for q in queries], name



def test_recorded_pid_is_an_int_as_directly(bouncer_db):
    """The pid taken inside the transaction is an int (the sampler matches it), as the one
    libpq gives on a direct connection; not the text every value comes as."""
    run = QueryPool(bouncer_db, [PID_SLEEP] * 4, 4).run()
    assert [q.pid for q in run.queries] == [int(q.rows[0][0]) for q in run.queries]
    assert all(type(q.pid) is int for q in run.queries)


def test_timeout_is_set_local_behind_the_pooler(bouncer_db, pgbouncer, dsn):
    """\\set timeout through PgBouncer: SET LOCAL inside each query's transaction (a
    SELECT, an INSERT), never a session SET that would land on another backend and stay
    there; a statement that cannot run in a transaction (VACUUM) runs without it, and says so."""
    query(dsn, "DROP TABLE IF EXISTS pooler_sleep; CREATE TABLE pooler_sleep (i int)")
    default = on_every_backend(pgbouncer, "SELECT current_setting('statement_timeout')")
    assert default[0] != "100ms"
    sleeps = ["SELECT pg_sleep(1)", "INSERT INTO pooler_sleep SELECT 1 FROM pg_sleep(1)"] * 2
    run = QueryPool(bouncer_db, sleeps + ["VACUUM pooler_sleep"], 4, mode=TxMode(timeout_ms=100)).run()
    assert [q.status for q in run.queries] == [Status.TIMEOUT] * 4 + [Status.OK]
    assert all(q.sqlstate == "57014" for q in run.queries[:4])
    assert any("statement_timeout 100 ms not applied" in n for n in run.queries[4].notices)
    assert query(dsn, "SELECT count(*) FROM pooler_sleep") == [(0,)]
    assert on_every_backend(pgbouncer, "SELECT current_setting('statement_timeout')") == default


@pytest.mark.slow
def test_sampler_attributes_waits_through_the_pooler(bouncer_db):
    """Wait events through PgBouncer: sampled on whichever backend ran each query (the
    pid taken inside its transaction). One worker: the sampler's own queries need the
    pool's other backend (a saturated pool would queue them)."""
    from qshell.engine.sampler import Sampler

    run = QueryPool(bouncer_db, ["SELECT pg_sleep(0.3)"] * 2, 1, sampler=Sampler(bouncer_db)).run()
    assert [q.status for q in run.queries] == [Status.OK] * 2
    for q in run.queries:
        assert q.waits and dict(q.waits).get("Timeout:PgSleep", 0) > 0.5, q.waits


@pytest.mark.slow
def test_a_load_attributes_waits_through_the_pooler(pgbouncer, tmp_path):
    """``\\go 1 for 1s`` through PgBouncer: the load's samples are attributed by the pid
    each query got inside its transaction (before: by the worker connection's pid, which
    is PgBouncer's cancel key, and no wait was ever attributed). One worker: the sampler
    needs the pool's other backend."""
    out, errs = io.StringIO(), io.StringIO()
    code = main(["--history-dir", str(tmp_path / "h"), "--format", "json", pgbouncer.dsn],
                stdin=io.BytesIO(b"\\add SELECT pg_sleep(0.2);\n\\go 1 for 1s\n"), stdout=out, stderr=errs)
    assert code == 0, errs.getvalue()
    (load,) = [json.loads(line) for line in out.getvalue().splitlines() if '"type":"load"' in line.replace(" ", "")]
    assert load["samples"] > 10, load
    waits = {w["event"]: w["share"] for w in load["queries"][0]["waits"]}
    assert waits.get("Timeout:PgSleep", 0) > 0.5, waits


def test_read_only_session_is_refused_behind_a_transaction_pooler(pgbouncer, tmp_path):
    """Your own session's read only would be a session SET on a backend PgBouncer lends
    for one transaction: refused in one line (at start-up and by \\set readonly), nothing
    set on any pooled backend; a script that asked for it stops there (exit 1), since
    what follows was meant to run read only."""
    out, err = io.StringIO(), io.StringIO()
    code = main(["--history-dir", str(tmp_path / "h"), "--read-only", pgbouncer.dsn, "-c", "SELECT 1"],
                stdin=io.BytesIO(b""), stdout=out, stderr=err)
    assert code == 1 and out.getvalue() == ""
    lines = err.getvalue().splitlines()
    assert len(lines) == 1 and "read-only" in lines[0] and "cannot be kept behind PgBouncer" in lines[0], lines
    # in a script, what follows was meant to run read only: the script stops there
    query(pgbouncer.dsn, "DROP TABLE IF EXISTS ro_refused")
    code, queries, _, err2 = run_json(pgbouncer.dsn, "\\add SELECT 1 AS one;\n\\set readonly on\n"
                                      "\\add CREATE TABLE ro_refused (i int);\n\\go 1\nCREATE TABLE ro_refused (i int);\n",
                                      tmp_path / "h")
    assert code == 1 and queries == []
    assert "cannot be kept behind PgBouncer" in err2 and "Traceback" not in err2
    assert query(pgbouncer.dsn, "SELECT to_regclass('ro_refused') IS NULL") == [(True,)]
    for _ in range(6):
        assert query(pgbouncer.dsn, "SHOW default_transaction_read_only") == [("off",)]


def test_ddl_runs_in_a_transaction_of_its_own_and_what_cannot_runs_plainly(bouncer_db, pgbouncer):
    """Behind the pooler DDL is a transaction of qshell's own too: its pid is the server
    backend PgBouncer lent and \\set timeout reaches it
    as SET LOCAL (CREATE TABLE AS pg_sleep(1) at 200 ms times out: before it ran 1 s
    untimed); VACUUM and CREATE INDEX CONCURRENTLY, which PostgreSQL refuses in a
    transaction block, run plainly: ok, no pid, a notice that the timeout did not apply."""
    query(pgbouncer.dsn, "DROP TABLE IF EXISTS pooled_ddl, pooled_slow")
    mode = TxMode(timeout_ms=200)
    sqls = ["CREATE TABLE pooled_ddl (i int)", "CREATE TABLE pooled_slow AS SELECT 1 AS s FROM pg_sleep(1)",
            "VACUUM pooled_ddl", "CREATE INDEX CONCURRENTLY pooled_ddl_i ON pooled_ddl (i)"]
    run = QueryPool(bouncer_db, sqls, 1, mode=mode).run()
    create, slow, vacuum, concurrently = run.queries
    assert create.status is Status.OK and create.pid is not None
    # PgBouncer keeps the server connection it lent: a client backend of the server, not its cancel key
    remote = {int(r[0]) for r in query(pgbouncer.dsn, "SELECT pid FROM pg_stat_activity WHERE backend_type = 'client backend'")}
    assert create.pid in remote, (create.pid, remote)
    assert slow.status is Status.TIMEOUT, slow
    assert query(pgbouncer.dsn, "SELECT to_regclass('pooled_slow') IS NULL") == [(True,)]
    for q in (vacuum, concurrently):
        assert q.status is Status.OK and q.pid is None, q
        assert any("statement_timeout 200 ms not applied" in n for n in q.notices), q.notices
    assert query(pgbouncer.dsn, "SELECT count(*) FROM pg_indexes WHERE indexname = 'pooled_ddl_i'") == [(1,)]
    query(pgbouncer.dsn, "DROP TABLE IF EXISTS pooled_ddl, pooled_slow")


def test_a_statement_refused_in_a_transaction_block_runs_plainly(bouncer_db, pgbouncer, monkeypatch):
    """A statement qshell wrongly took for one that fits a transaction: the server refuses
    it there (25001) before doing anything; qshell rolls back and runs it plainly, once."""
    from qshell.engine import execute

    monkeypatch.setattr(execute, "fits_a_transaction", lambda sql: True)
    run = QueryPool(bouncer_db, ["VACUUM (ANALYZE) pg_class"], 1).run()
    (vacuum,) = run.queries
    assert vacuum.status is Status.OK and vacuum.command == "VACUUM" and vacuum.pid is None, vacuum
    assert not any("cannot run inside a transaction block" in n for n in vacuum.notices)


@pytest.mark.slow
def test_the_sampler_reaches_the_server_itself_when_the_pool_is_saturated(bouncer_db):
    """N = the pool's size: every server connection PgBouncer has is a worker's. The
    sampler reads pg_stat_activity on the server behind it (the address SHOW DATABASES
    gives), outside the pool, so each query still gets its wait events (through the pool
    its samples waited for a free server connection, which only came between queries)."""
    from qshell.engine.sampler import Sampler

    bouncer_db.check_capacity(POOL_SIZE, sampling=True)
    assert any("sampled on the server itself" in n for n in bouncer_db.seen), bouncer_db.seen
    run = QueryPool(bouncer_db, ["SELECT pg_sleep(0.3)"] * 4, POOL_SIZE, sampler=Sampler(bouncer_db)).run()
    assert [q.status for q in run.queries] == [Status.OK] * 4
    for q in run.queries:
        assert q.waits and dict(q.waits).get("Timeout:PgSleep", 0) > 0.5, q.waits
    assert run.samples > 20


def test_a_script_reads_a_large_result_through_the_pooler(pgbouncer, tmp_path):
    """A script's row-returning statement is streamed through a cursor directly (1,000
    rows per FETCH); behind a pooler the next FETCH could go to another backend, where the
    cursor does not exist: there it runs as typed, as psql sends it (the whole result in
    memory, as psql), and its record has no pid rather than PgBouncer's cancel key."""
    out, err = io.StringIO(), io.StringIO()
    code = main(["--history-dir", str(tmp_path / "h"), "--format", "json", pgbouncer.dsn],
                stdin=io.BytesIO(b"SELECT g FROM generate_series(1, 2500) g;\nSELECT pg_backend_pid() AS pid;\n"),
                stdout=out, stderr=err)
    assert code == 0, err.getvalue()
    big, pid = [json.loads(line) for line in out.getvalue().splitlines() if line.startswith("{")]
    assert big["status"] == "ok" and big["rowcount"] == 2500, big
    assert pid["pid"] is None  # not known without a statement of qshell's own: none is sent


# -- the pool's server connections in the figures: bound, efficiency, pool wait ------------
SLEEP = "SELECT pg_sleep(0.05)"


def _pgbouncer_wait_us(pgbouncer) -> int:  # noqa: ANN001
    """PgBouncer's own total_wait_time (µs) of the test database: time its clients waited
    for a server connection (SHOW STATS)."""
    import psycopg2

    conn = psycopg2.connect(pgbouncer.admin_dsn)
    try:
        conn.autocommit = True
        cur = conn.cursor()
        cur.execute("SHOW STATS")
        names = [d.name for d in cur.description]
        for row in cur.fetchall():
            rec = dict(zip(names, row, strict=True))
            if rec["database"] == pgbouncer.dbname:
                return int(rec["total_wait_time"])
    finally:
        conn.close()
    raise AssertionError("no SHOW STATS row for the test database")


def test_bound_and_efficiency_count_the_pools_servers_and_the_pool_wait_is_apart(pgbouncer, tmp_path):
    """\\go 8 over 16 × pg_sleep(0.05) through a pool of 2: each query's time is its 50 ms
    on a backend, its wait in PgBouncer's queue apart (``pool_wait_ms``); the bound is
    sum ÷ 2 (the ideal 16 × 0.05 ÷ 2 = 0.4 s), so the efficiency is the ideal's share of
    the wall, not sum ÷ 8's. The waits add up to what PgBouncer itself counted (SHOW
    STATS total_wait_time), plus one BEGIN round trip each."""
    stage = "".join(f"\\add {SLEEP};\n" for _ in range(16))
    before = _pgbouncer_wait_us(pgbouncer)
    code, queries, runs, err = run_json(pgbouncer.dsn, stage + "\\go 8\n", tmp_path / "h")
    deadline = time.monotonic() + 3
    after = _pgbouncer_wait_us(pgbouncer)
    while after == before and time.monotonic() < deadline:  # (PgBouncer may publish its totals late)
        time.sleep(0.2)
        after = _pgbouncer_wait_us(pgbouncer)
    assert code == 0, err
    (run,) = runs
    assert [q["status"] for q in queries] == ["ok"] * 16 and run["servers"] == POOL_SIZE
    for q in queries:  # the statement alone: 50 ms and a little, never the queue
        assert 49 <= q["total_ms"] < 50 + 40, q
    ideal = 16 * 50 / POOL_SIZE
    assert run["bound_ms"] == pytest.approx(max(run["sum_ms"] / POOL_SIZE, max(q["total_ms"] for q in queries)), abs=0.01)
    assert ideal <= run["bound_ms"] < ideal * 1.25
    assert run["efficiency"] == pytest.approx(run["bound_ms"] / run["wall_ms"], abs=1e-3)
    assert run["efficiency"] == pytest.approx(ideal / run["wall_ms"], rel=0.25)
    assert run["efficiency"] > 0.75  # (with N=8 servers assumed it would have been about 25%)
    assert run["overlap"] < POOL_SIZE * 1.1  # sum ÷ wall: never more at once than the pool's servers
    waits = [q["pool_wait_ms"] for q in queries]
    assert run["pool_wait_ms"]["total"] == pytest.approx(sum(waits), abs=0.02)
    assert run["pool_wait_ms"]["max"] == pytest.approx(max(waits), abs=0.001)
    assert max(waits) > 100  # 8 clients on 2 servers: the 7th and 8th in line wait 3 rounds of 50 ms
    pgb_ms = (after - before) / 1000
    assert pgb_ms > 1000, pgb_ms  # 6 of 8 clients queue in every round
    assert pgb_ms * 0.9 - 5 <= sum(waits) <= pgb_ms * 1.1 + 16 * 5, (sum(waits), pgb_ms)
    # the workers' own timings: a query's pool wait ends where its time starts, and the
    # worker is occupied from dispatch to end by the two
    for q in queries:
        assert q["end_ms"] - q["start_ms"] == pytest.approx(q["pool_wait_ms"] + q["total_ms"], abs=0.01)


def test_the_summary_shows_the_pool_wait_and_the_pools_servers(pgbouncer, tmp_path):
    out, err = io.StringIO(), io.StringIO()
    stage = "".join(f"\\add {SLEEP};\n" for _ in range(8))
    code = main(["--history-dir", str(tmp_path / "h"), pgbouncer.dsn], stdin=io.BytesIO((stage + "\\go 4\n").encode()),
                stdout=out, stderr=err)
    assert code == 0, err.getvalue()
    text = out.getvalue()
    assert "pool wait ms" in text and "(on 2 server connections)" in text and "· pool wait " in text
    assert ", longest " in text
    # the warning says where the queue's time goes
    assert "shown as pool wait, kept out of their run times" in err.getvalue()
    assert "bound and efficiency count 2 server connections" in err.getvalue()


def test_the_settings_warning_names_only_the_users_settings(pgbouncer, tmp_path):
    """Behind a transaction pooler the session's settings are not given to the workers:
    the warning lists what the user SET, never qshell's own (pg_stat_statements.track, set
    for \\set resources); with nothing SET by the user there is no warning."""
    def err_of(script: str) -> str:
        out, err = io.StringIO(), io.StringIO()
        code = main(["--history-dir", str(tmp_path / "h"), pgbouncer.dsn], stdin=io.BytesIO(script.encode()),
                    stdout=out, stderr=err)
        assert code == 0, err.getvalue()
        return err.getvalue()

    plain = err_of("\\set resources on\n\\add SELECT 1;\n\\go 1\n")
    assert "session's settings are not given" not in plain and "pg_stat_statements.track" not in plain
    mine = err_of("\\set resources on\nSET work_mem = '7MB';\n\\add SELECT 1;\n\\go 1\n")
    (line,) = [t for t in mine.splitlines() if "session's settings are not given" in t]
    assert "(set in this session: work_mem)" in line and "pg_stat_statements" not in line


def test_the_multi_host_capacity_warning_is_a_sentence():
    from qshell.engine.targets import capacity_verdict

    dsn = "host=a,b,c load_balance_hosts=random"
    refusal, warning = capacity_verdict(60, dsn, [("a:5432", False, 57), ("b:5432", True, 56), ("c:5432", True, 80)])
    assert refusal is None
    assert warning == ("warning: 60 workers are spread at random over 3 servers, but a:5432 (primary) can take only"
                       " 57 more connections and b:5432 (standby) only 56: a worker refused by those servers (too many"
                       " clients) is not retried on another host")
    _, one = capacity_verdict(60, dsn, [("a:5432", False, 70), ("b:5432", True, 10)])
    assert one is not None and "but b:5432 (standby) can take only 10 more connections: a worker refused by that server" in one


def test_behind_the_pooler_a_run_says_it_cannot_tell_your_own_session(pgbouncer, tmp_path):
    """Behind a pooler libpq's pid of your session is the pooler's key, not a backend: a
    worker waiting for your open transaction cannot be told apart. A run that starts with a
    transaction open there says so in one line (and none outside a transaction)."""
    out, errs = io.StringIO(), io.StringIO()
    script = b"BEGIN;\nSELECT 1;\n\\add SELECT 2;\n\\go 1\nCOMMIT;\n\\go 1\n"
    code = main(["--history-dir", str(tmp_path / "h"), pgbouncer.dsn], stdin=io.BytesIO(script), stdout=out, stderr=errs)
    assert code == 0, errs.getvalue()
    said = "behind a pooler qshell cannot tell your session's backend"
    assert errs.getvalue().count(said) == 1, errs.getvalue()
