"""Interactive sessions (\\session, \\step, \\permute, \\sessions, \\spec save) on a real server.

The steps' text is checked against the real isolationtester 18.6: the sessions and steps
recorded by hand are saved with ``\\spec save`` and that file run by isolationtester and by
``qshell --spec``; every interleaving run by ``\\permute`` on the live sessions prints what
isolationtester prints for the saved file. Blocking is checked independently of the
runner (``pg_blocking_pids`` sampled from a connection of the test's own while the step is
shown waiting), the sessions' names and pids against ``pg_stat_activity``.
"""
from __future__ import annotations

import re
import subprocess
import uuid

import pexpect
import psycopg2
import pytest

from tests.conftest import clean_env, qshell_argv, wait_until
from tests.test_isolation_spec import isolationtester

PROMPT = "postgres=>"


def _sql(dsn: str, sql: str) -> list[tuple]:
    conn = psycopg2.connect(dsn)
    conn.autocommit = True
    try:
        cur = conn.cursor()
        cur.execute(sql)
        return cur.fetchall() if cur.description else []
    finally:
        conn.close()


def _table() -> str:
    return "iso_" + uuid.uuid4().hex[:10]


def test_steps_run_on_the_live_sessions_in_the_order_given(qshell_proc, dsn):
    """A lost-update pattern typed by hand: b1 waits for a1's row lock until a2 commits;
    the text is isolationtester's; the sessions are named as isolationtester names them;
    what the steps did is in the table afterwards (read on a connection of the test's)."""
    t = _table()
    script = f"""CREATE TABLE {t} (id int PRIMARY KEY, v int);
INSERT INTO {t} VALUES (1, 0);
\\session s1
SELECT current_setting('application_name') AS app;
\\step a1 BEGIN; UPDATE {t} SET v = v + 1 WHERE id = 1;
\\step a2 COMMIT;
\\session s2
\\step b1 UPDATE {t} SET v = v + 10 WHERE id = 1 RETURNING v;
\\session
\\permute a1 b1 a2
SELECT v FROM {t};
"""
    r = qshell_proc(script)
    assert r.code == 0, r.err
    assert " qshell/s1\n(1 row)" in r.out
    assert (f"""
starting permutation: a1 b1 a2
step a1: BEGIN; UPDATE {t} SET v = v + 1 WHERE id = 1;
step b1: UPDATE {t} SET v = v + 10 WHERE id = 1 RETURNING v; <waiting ...>
step a2: COMMIT;
step b1: <... completed>
 v
--
11
(1 row)

""") in r.out
    assert _sql(dsn, f"SELECT v FROM {t}") == [(11,)]
    assert "session s1 opened (pid " in r.err and "step b1 recorded in session s2" in r.err


def test_prompt_session_statements_and_errors_in_a_script(qshell_proc):
    """Statements typed in a named session run there (its own transaction); the user's own
    session is apart; mistakes are one-line errors and the sessions stay."""
    t = _table()
    script = f"""CREATE TABLE {t} (id int);
\\step x SELECT 1;
\\session s1
BEGIN;
INSERT INTO {t} VALUES (1);
\\session
SELECT count(*) AS mine FROM {t};
\\session s1
SELECT count(*) AS theirs FROM {t};
\\step bad SELECT '}}';
\\permute nosuch
\\permute x
\\step setup
\\session setup
\\sessions
ROLLBACK;
\\session close s1
\\session close s1
\\sessions
"""
    r = qshell_proc(script)
    assert r.code == 0  # psql's exit status: the script ran to its end
    assert " mine \n------\n    0\n" in r.out and " theirs \n--------\n      1\n" in r.out
    assert "steps belong to a named session" in r.err
    assert "a step cannot contain '}'" in r.err
    assert "no steps recorded" in r.err  # (s1 has none yet)
    assert "needs SQL" in r.err
    assert "'setup' is a word of the spec language" in r.err
    listing = r.out.split("theirs", 1)[1]
    assert re.search(r"\*\s+s1\s+\d+\s+in transaction", listing)
    assert "session s1 closed" in r.err and "no session 's1'" in r.err
    assert "Traceback" not in r.err


def test_permute_every_interleaving_and_spec_save_match_isolationtester(qshell_proc, dsn, tmp_path):
    """Sessions with a setup, a teardown and a session setup recorded by hand: ``\\permute``
    alone runs every interleaving on the live sessions; ``\\spec save`` writes them; the
    real isolationtester and ``qshell --spec`` on the saved file print the same bytes, and
    that is ``Parsed test spec with 2 sessions`` followed by exactly what \\permute printed."""
    t = _table()
    saved = tmp_path / "saved.spec"
    script = f"""\\step setup CREATE TABLE {t} (id int PRIMARY KEY, v int); INSERT INTO {t} VALUES (1, 0);
\\step teardown SELECT v AS final FROM {t}; DROP TABLE {t};
\\session s1
\\step a1 BEGIN; UPDATE {t} SET v = v + 1 WHERE id = 1;
\\step a2 COMMIT;
\\session s2
\\step setup SET lock_timeout = '60s';
\\step b1 UPDATE {t} SET v = v * 10 WHERE id = 1 RETURNING v;
\\session
\\permute
\\spec save {saved}
"""
    r = qshell_proc(script)
    assert r.code == 0, r.err
    assert r.out.count("starting permutation:") == 3 and r.out.count("<waiting ...>") == 1
    text = saved.read_text()
    assert "\nsession s2\nsetup { SET lock_timeout = '60s'; }\n" in text and "permutation" not in text
    env = clean_env(PGAPPNAME="isolation/saved", LC_MESSAGES="C")
    with open(saved, "rb") as f:
        real = subprocess.run([str(isolationtester()), dsn], stdin=f, capture_output=True, env=env, timeout=120)
    ours = subprocess.run(qshell_argv("-X", "--spec", str(saved), dsn), capture_output=True, env=env, timeout=120)
    assert real.returncode == 0, real.stderr
    assert (ours.stdout, ours.stderr, ours.returncode) == (real.stdout, real.stderr, real.returncode)
    assert real.stdout.decode() == "Parsed test spec with 2 sessions\n" + r.out
    assert b"step b1: <... completed>" in real.stdout


@pytest.mark.slow
def test_pty_two_sessions_waiting_ctrl_c_and_completion(dsn, hist, qshell_pty, tmp_path):
    """In a terminal: the prompt shows the session and its transaction; a step blocked by
    the other session is shown waiting (pg_blocking_pids, sampled apart, agrees); Ctrl-C
    cancels it and keeps both sessions (\\sessions: pids as pg_stat_activity has them,
    s1 still in its transaction); after s1 commits, the same steps run again with the
    commit between them: the blocked step completes after it. Saved with ``\\spec save``,
    the file runs through isolationtester and ``qshell --spec`` with the same bytes."""
    t = _table()
    _sql(dsn, f"CREATE TABLE {t} (id int PRIMARY KEY, v int); INSERT INTO {t} VALUES (1, 0)")
    term = qshell_pty("--history-dir", str(hist), dsn)
    term.expect_exact(PROMPT)
    term.sendline("\\session s1")
    term.expect_exact("postgres[s1]=>")
    term.sendline(f"\\step a1 BEGIN; UPDATE {t} SET v = v + 1 WHERE id = 1;")
    term.expect_exact("postgres[s1]=>")
    term.sendline("\\step a2 COMMIT;")
    term.expect_exact("postgres[s1]=>")
    term.sendline("\\session s2")
    term.expect_exact("postgres[s2]=>")
    term.sendline(f"\\step b1 UPDATE {t} SET v = v * 10 WHERE id = 1 RETURNING v;")
    term.expect_exact("postgres[s2]=>")
    term.sendline("\\permute a1 b1")
    term.expect_exact("<waiting ...>")
    pids = dict(_sql(dsn, "SELECT application_name, pid FROM pg_stat_activity WHERE application_name LIKE 'qshell/s_'"))
    assert set(pids) == {"qshell/s1", "qshell/s2"}
    blocked = wait_until(lambda: _sql(dsn, f"SELECT pg_blocking_pids({pids['qshell/s2']})")[0][0], 10)
    assert blocked == [pids["qshell/s1"]]
    term.sendintr()
    term.expect_exact("step b1: <... completed>")
    term.expect_exact("ERROR:  canceling statement due to user request")
    term.expect_exact("interrupted: cancelled b1")
    term.expect_exact("postgres[s2]=>")
    assert wait_until(lambda: not _sql(dsn, f"SELECT 1 FROM pg_stat_activity WHERE pid = {pids['qshell/s2']} AND state = 'active'"), 5)
    term.sendline("\\sessions")
    term.expect(rf"s1\s+{pids['qshell/s1']}\s+in transaction")
    term.expect(rf"\*\s+s2\s+{pids['qshell/s2']}\s+idle")
    term.expect_exact("postgres[s2]=>")
    term.sendline("\\session s1")
    term.expect_exact("postgres[s1]=*>")
    term.sendline("COMMIT;")
    term.expect_exact("COMMIT")
    term.expect_exact("postgres[s1]=>")
    assert _sql(dsn, f"SELECT v FROM {t}") == [(1,)]
    term.sendline("\\permute a1 b1 a2")
    term.expect_exact("<waiting ...>")
    term.expect_exact("step a2: COMMIT;")
    term.expect_exact("step b1: <... completed>")
    term.expect(r" v\s*\r\n--\s*\r\n20\s*\r\n\(1 row\)")
    term.expect_exact("postgres[s1]=>")
    assert _sql(dsn, f"SELECT v FROM {t}") == [(20,)]
    term.sendline("\\session")
    term.expect_exact(PROMPT)
    term.sendline(f"\\step setup UPDATE {t} SET v = 0 WHERE id = 1;")  # (each permutation from the same row)
    term.expect_exact("setup block 1 recorded")
    term.expect_exact(PROMPT)
    saved = tmp_path / "typed.spec"
    term.sendline(f"\\spec save {saved}")
    term.expect_exact("wrote ")
    term.expect_exact(PROMPT)
    term.sendline("\\q")
    term.expect(pexpect.EOF)
    assert "Traceback" not in term.logfile_read.getvalue()
    assert wait_until(lambda: not _sql(dsn, "SELECT 1 FROM pg_stat_activity WHERE application_name LIKE 'qshell/s_'"), 10)
    # the file typed by hand: isolationtester runs it, qshell --spec prints the same bytes
    env = clean_env(PGAPPNAME="isolation/typed", LC_MESSAGES="C")
    with open(saved, "rb") as f:
        real = subprocess.run([str(isolationtester()), dsn], stdin=f, capture_output=True, env=env, timeout=120)
    ours = subprocess.run(qshell_argv("-X", "--spec", str(saved), dsn), capture_output=True, env=env, timeout=120)
    assert real.returncode == 0 and real.stdout.startswith(b"Parsed test spec with 2 sessions\n"), real
    assert real.stdout.count(b"starting permutation:") == 3 and b"<waiting ...>" in real.stdout
    assert (ours.stdout, ours.stderr, ours.returncode) == (real.stdout, real.stderr, real.returncode)


def test_interrupts_at_random_moments_keep_the_sessions_usable(dsn):
    """The runner on two live psycopg2 connections, interrupted (Ctrl-C's callback) at a
    random moment of a permutation, 20 times: each time both connections are handed back
    idle on the wire (psycopg2 runs a statement on them at once), nothing of theirs is left
    running on the server (pg_stat_activity), and notices reach psycopg2 again (the notice
    receiver put back)."""
    import random

    import gevent

    from qshell.engine.pool import Database
    from qshell.engine.sessions import LiveRunner, adopt, name_session
    from qshell.output.isolation import text
    from qshell.script.spec import parse

    t = _table()
    _sql(dsn, f"CREATE TABLE {t} (id int PRIMARY KEY, v int); INSERT INTO {t} VALUES (1, 0)")
    spec = parse(f"session s1\nstep a1 {{ BEGIN; UPDATE {t} SET v = v + 1 WHERE id = 1; }}\n"
                 f"step a2 {{ SELECT pg_sleep(0.05); COMMIT; }}\n"
                 f"session s2\nstep b1 {{ UPDATE {t} SET v = 0 WHERE id = 1; }}\npermutation a1 b1 a2\n")
    db = Database(dsn)
    c1, c2 = db.connect(), db.connect()
    try:
        name_session(c1, "s1")
        name_session(c2, "s2")
        interrupted = completed = 0
        rng = random.Random(24)
        for _ in range(20):
            events: list = []
            runner = LiveRunner(spec, dsn, [adopt(c1), adopt(c2)], [], events.append)
            runner.connect()
            stop = gevent.spawn_later(rng.uniform(0.0, 0.07), runner.interrupt)
            try:
                runner.run_permutation(spec.permutations[0])
                completed += 1
                assert text(events).endswith("step a2: SELECT pg_sleep(0.05); COMMIT;\n"
                                             "pg_sleep\n--------\n        \n(1 row)\n\nstep b1: <... completed>\n")
            except KeyboardInterrupt:
                interrupted += 1
                assert "interrupted: cancelled" in text(events, "stderr")
            finally:
                stop.kill()
                runner.close()
            for c in (c1, c2):
                cur = c.cursor()
                cur.execute("ROLLBACK")  # (a warning when none is open: fine)
                cur.execute("SELECT 1")
                assert cur.fetchone() == ("1",)  # (values as text: Database.connect)
            pids = (c1.get_backend_pid(), c2.get_backend_pid())
            assert _sql(dsn, f"SELECT count(*) FROM pg_stat_activity WHERE pid IN {pids} AND state <> 'idle'") == [(0,)]
        assert interrupted >= 5, (interrupted, completed)
        events = []  # and then the whole permutation, on the same connections
        runner = LiveRunner(spec, dsn, [adopt(c1), adopt(c2)], [], events.append)
        try:
            runner.connect()
            runner.run_permutation(spec.permutations[0])
        finally:
            runner.close()
        assert text(events).endswith("step a2: SELECT pg_sleep(0.05); COMMIT;\n"
                                     "pg_sleep\n--------\n        \n(1 row)\n\nstep b1: <... completed>\n")
        del c1.notices[:]
        c1.cursor().execute("DO $$BEGIN RAISE NOTICE 'heard by psycopg2'; END$$")
        assert any("heard by psycopg2" in n for n in c1.notices)
    finally:
        c1.close()
        c2.close()
        db.close()


def test_json_sessions_and_c_closes_the_named_sessions(qshell_proc):
    """``\\sessions`` in JSON: one object per session (pid, state, steps); ``\\c`` closes
    the named sessions and says so; a step's notice is printed with the session's name."""
    import json

    script = """\\session s1
\\step n1 DO $$BEGIN RAISE NOTICE 'from n1'; END$$;
BEGIN;
\\format json
\\sessions
\\format aligned
\\permute n1
ROLLBACK;
\\c postgres
\\sessions
"""
    r = qshell_proc(script)
    assert r.code == 0, r.err
    objs = [json.loads(line) for line in r.out.splitlines() if line.startswith("{")]
    sessions = [o for o in objs if o.get("type") == "session"]
    assert [o["name"] for o in sessions] == [None, "s1"]
    assert sessions[1]["state"] == "in transaction" and sessions[1]["steps"] == ["n1"] and sessions[1]["current"]
    assert "s1: NOTICE:  from n1\nstep n1: DO $$BEGIN RAISE NOTICE 'from n1'; END$$;\n" in r.out
    assert "closed session s1 (connections to the previous database, with their steps)" in r.err
    assert re.search(r"\n\*\s+\(yours\)\s+\d+\s+idle\s*\n$", r.out)


def test_a_step_left_waiting_is_cancelled_at_the_time_limit_and_the_sessions_kept(dsn):
    """A permutation ending with a step still blocked (its blocker never commits): as
    isolationtester, it is cancelled once it has waited the step limit (here 0.3 s instead
    of 360 s) and the permutation ends; the blocking session stays in its transaction
    (libpq's status and pg_stat_activity say so), the cancelled one idle."""
    from psycopg2.extensions import TRANSACTION_STATUS_IDLE, TRANSACTION_STATUS_INTRANS

    from qshell.engine.pool import Database
    from qshell.engine.sessions import LiveRunner, adopt, name_session
    from qshell.output.isolation import text
    from qshell.script.spec import parse

    t = _table()
    _sql(dsn, f"CREATE TABLE {t} (id int PRIMARY KEY, v int); INSERT INTO {t} VALUES (1, 0)")
    spec = parse(f"session s1\nstep a1 {{ BEGIN; UPDATE {t} SET v = 1 WHERE id = 1; }}\n"
                 f"session s2\nstep b1 {{ UPDATE {t} SET v = 2 WHERE id = 1; }}\npermutation a1 b1\n")
    db = Database(dsn)
    c1, c2 = db.connect(), db.connect()
    try:
        name_session(c1, "s1")
        name_session(c2, "s2")
        events: list = []
        runner = LiveRunner(spec, dsn, [adopt(c1), adopt(c2)], [], events.append)
        runner.max_step_wait = 0.3
        try:
            runner.connect()
            runner.run_permutation(spec.permutations[0])
        finally:
            runner.close()
        assert text(events).endswith(f"step b1: UPDATE {t} SET v = 2 WHERE id = 1; <waiting ...>\n"
                                     "isolationtester: canceling step b1 after 0 seconds\n"
                                     "step b1: <... completed>\nERROR:  canceling statement due to user request\n")
        assert c1.info.transaction_status == TRANSACTION_STATUS_INTRANS
        assert c2.info.transaction_status == TRANSACTION_STATUS_IDLE
        states = dict(_sql(dsn, f"SELECT pid, state FROM pg_stat_activity WHERE pid IN ({c1.get_backend_pid()}, {c2.get_backend_pid()})"))
        assert states == {c1.get_backend_pid(): "idle in transaction", c2.get_backend_pid(): "idle"}
        c1.cursor().execute("ROLLBACK")
    finally:
        c1.close()
        c2.close()
        db.close()


NO_PERMUTATION_SPECS = ["all-permutations-three", "multiple-setup-blocks", "result-formats", "write-skew-serializable"]


@pytest.mark.slow
@pytest.mark.parametrize("name", NO_PERMUTATION_SPECS)
def test_spec_load_then_permute_prints_what_isolationtester_prints(name, qshell_proc, dsn, tmp_path):
    """PostgreSQL-style specs without permutation lines, loaded into interactive sessions
    (``\\spec load``) and run with ``\\permute`` alone on the live sessions: exactly
    isolationtester's stdout for the file, after its ``Parsed test spec`` line; saved back
    (``\\spec save``), the file reads as the same spec."""
    from qshell.script.spec import parse
    from tests.test_isolation_spec import SPECS, fresh_db, regress_env, run_real

    spec = SPECS / f"{name}.spec"
    env = regress_env(name, spec.name)
    real = run_real(fresh_db(dsn, "iso_load_r"), spec, env)
    assert real[2] == 0, real[1]
    saved = tmp_path / "again.spec"
    db = fresh_db(dsn, "iso_load_q")
    r = qshell_proc(f"\\spec load {spec}\n\\permute\n\\spec save {saved}\n", "-X", db, use_dsn=False, env=env)
    assert r.code == 0, r.err
    head, _, rest = real[0].decode().partition("\n")
    assert head.startswith("Parsed test spec with ")
    assert r.out == rest
    original = parse(spec.read_text())
    assert parse(saved.read_text()) == original.__class__(original.setups, original.teardown, original.sessions, ())


def test_the_commands_parse():
    """\\spec save/load FILE are commands of their own; \\spec FILE and anything after the
    file (the anomaly table's ``under LEVELS``) stay \\spec's; \\step and \\permute take
    their line as typed (no variable interpolation: SQL casts ``::``)."""
    from qshell.common.errors import UsageError
    from qshell.script.commands import parse

    assert parse("\\spec save 'my file.spec'").name == "spec_save"
    assert parse("\\spec save 'my file.spec'").arg == "my file.spec"
    assert parse("\\spec load x.spec").name == "spec_load"
    assert parse("\\spec x.spec").arg == "x.spec"
    assert parse("\\spec x.spec under serializable").arg == "x.spec under serializable"
    for bad in ("\\spec save", "\\spec load a b"):
        with pytest.raises(UsageError):
            parse(bad)
    assert parse("\\session close s1").args == ("close", "s1")
    assert parse("\\step a1 SELECT 1::int;").arg.strip() == "a1 SELECT 1::int;"
    assert parse("\\permute a1 b1(a1) a2").arg.strip() == "a1 b1(a1) a2"


def test_a_lost_session_is_reconnected_before_permute(qshell_proc):
    """A named session whose backend was terminated while idle (pg_terminate_backend waits
    until it is gone): \\sessions shows it lost (it showed it idle); \\permute says so, opens a new connection for it (named as before, a
    new pid) and runs the steps there."""
    script = """\\session s1
\\step a1 SELECT current_setting('application_name') AS app, pg_backend_pid() AS pid;
\\session
SELECT pg_terminate_backend(pid, 10000) AS gone FROM pg_stat_activity WHERE application_name = 'qshell/s1';
\\sessions
\\permute a1
"""
    r = qshell_proc(script)
    assert r.code == 0, r.err
    assert re.search(r"\n\s+s1\s+\d+\s+lost\s+1\s*\n", r.out), r.out  # \\sessions: its backend gone, said so
    old = int(re.search(r"session s1 opened \(pid (\d+)\)", r.err).group(1))
    new = int(re.search(r"session s1 was lost \(FATAL:  terminating connection due to administrator command\): "
                        r"reconnected \(pid (\d+)\)", r.err).group(1))
    assert new != old
    assert re.search(rf"\nqshell/s1\|\s*{new}\n\(1 row\)", r.out), r.out


def test_a_step_waiting_for_your_own_session_is_reported_waiting(qshell_proc):
    """Your own session's open transaction holds a lock a step needs: the step is reported
    ``<waiting ...>`` (your session's pid is among those asked about), then cancelled at the
    step limit (PG_TEST_TIMEOUT_DEFAULT=1: 2 s), as isolationtester cancels a step; your
    transaction is untouched (its lock still held, then rolled back by you)."""
    t = _table()
    script = f"""CREATE TABLE {t} (id int);
BEGIN;
LOCK TABLE {t};
\\session s1
\\step a1 SELECT count(*) FROM {t};
\\session
\\permute a1
SELECT count(*) AS locks FROM pg_locks WHERE relation = '{t}'::regclass AND pid = pg_backend_pid() AND granted;
ROLLBACK;
"""
    r = qshell_proc(script, env=clean_env(PG_TEST_TIMEOUT_DEFAULT="1"))
    assert r.code == 0, r.err
    assert (f"step a1: SELECT count(*) FROM {t}; <waiting ...>\n"
            "isolationtester: canceling step a1 after 2 seconds\n"
            "step a1: <... completed>\nERROR:  canceling statement due to user request\n") in r.out
    assert " locks \n-------\n     1\n" in r.out


def test_a_session_lost_during_a_step_is_one_error_line(qshell_proc):
    """A step whose backend dies under it: the server's FATAL printed as the step's, one
    error line for \\permute (no internal error), and the next \\permute reconnects it."""
    script = """\\session s1
\\step a1 SELECT pg_terminate_backend(pg_backend_pid());
\\step a2 SELECT 'after' AS x;
\\permute a1 a2
\\permute a2
"""
    r = qshell_proc(script)
    assert r.code == 0  # psql's exit status: the script ran to its end
    assert "step a1: SELECT pg_terminate_backend(pg_backend_pid());\nFATAL:  terminating connection due to administrator command\n" in r.out
    assert "\\permute: a session's connection was lost: FATAL:  terminating connection" in r.err
    assert "internal error" not in r.err and "Traceback" not in r.err
    assert "session s1 was lost" in r.err
    assert r.out.endswith("\nstarting permutation: a2\nstep a2: SELECT 'after' AS x;\nx    \n-----\nafter\n(1 row)\n\n")


WRITE_SKEW = """setup
{
  CREATE TABLE %(t)s (doctor text PRIMARY KEY, on_call boolean NOT NULL);
  INSERT INTO %(t)s VALUES ('alice', true), ('bob', true);
}
teardown { DROP TABLE %(t)s; }

session alice
setup { BEGIN; }
step a_check { SELECT count(*) AS on_call FROM %(t)s WHERE on_call; }
step a_off { UPDATE %(t)s SET on_call = false WHERE doctor = 'alice' AND (SELECT count(*) FROM %(t)s WHERE on_call) >= 2; }
step a_commit { COMMIT; }

session bob
setup { BEGIN; }
step b_check { SELECT count(*) AS on_call FROM %(t)s WHERE on_call; }
step b_off { UPDATE %(t)s SET on_call = false WHERE doctor = 'bob' AND (SELECT count(*) FROM %(t)s WHERE on_call) >= 2; }
step b_commit { COMMIT; }
teardown { SELECT doctor, on_call FROM %(t)s ORDER BY doctor; }
"""


def test_permute_under_levels_is_the_anomaly_table_of_the_recorded_steps(qshell_proc, tmp_path):
    """``\\permute STEP… under LEVELS``: the anomaly table (qshell.shell.anomaly, where this
    build has it) of the steps recorded in the sessions, on connections of its own: write
    skew is an anomaly under repeatable read, a 40001 under serializable; the live sessions
    are left as they were (idle, the table's table never created there). Without the
    anomaly table in the build, one line says so."""
    import importlib.util

    t = _table()
    spec = tmp_path / "ws.spec"
    spec.write_text(WRITE_SKEW % {"t": t})
    script = (f"\\spec load {spec}\n"
              "\\permute a_check b_check a_off b_off a_commit b_commit under repeatable read, serializable\n"
              "\\sessions\n"
              f"SELECT to_regclass('{t}') IS NULL AS gone;\n")
    r = qshell_proc(script)
    assert "Traceback" not in r.err and "internal error" not in r.err
    assert re.search(r"\s+alice\s+\d+\s+idle\s+3\n\s+bob\s+\d+\s+idle\s+3\n", r.out), r.out
    assert " gone \n------\n t\n" in r.out
    if importlib.util.find_spec("qshell.shell.anomaly") is None:
        assert r.code == 1 and "\\permute … under LEVELS: the anomaly table is not in this build" in r.err
        return
    assert r.code == 0, r.err
    assert "ANOMALY: write skew" in r.out and "b_commit 40001" in r.out


def test_ctrl_c_in_a_script_cancels_the_waiting_step_and_stops_the_script(qshell_pipe, dsn):
    """A script (stdin a pipe) whose \\permute waits on a lock: SIGINT cancels the step (the
    server's answer printed as the step's), says so and stops the script with exit status 3
    as psql stops one; nothing of the script's sessions is left running on the server."""
    import os
    import select
    import signal
    import time

    t = _table()
    _sql(dsn, f"CREATE TABLE {t} (id int PRIMARY KEY, v int); INSERT INTO {t} VALUES (1, 0)")
    script = f"""\\session s1
\\step a1 BEGIN; UPDATE {t} SET v = 1 WHERE id = 1;
\\session s2
\\step b1 UPDATE {t} SET v = 2 WHERE id = 1;
\\permute a1 b1
SELECT 'not reached' AS after;
"""
    proc = qshell_pipe("-X", dsn)
    proc.stdin.write(script.encode())
    proc.stdin.flush()
    seen = b""  # what the script printed until the step was reported waiting (stdout is flushed per event)
    deadline = time.monotonic() + 30
    while b"<waiting ...>" not in seen and time.monotonic() < deadline:
        if select.select([proc.stdout], [], [], 0.5)[0]:
            seen += os.read(proc.stdout.fileno(), 65536)
    assert b"<waiting ...>" in seen
    waiting = "SELECT 1 FROM pg_stat_activity WHERE application_name = 'qshell/s2' AND wait_event_type = 'Lock'"
    assert _sql(dsn, waiting)  # (the server agrees: a lock wait)
    proc.send_signal(signal.SIGINT)
    rest, err = proc.communicate(timeout=30)
    out = seen + rest
    assert proc.returncode == 3, err
    assert out.decode().endswith(f"step b1: UPDATE {t} SET v = 2 WHERE id = 1; <waiting ...>\n"
                                 "step b1: <... completed>\nERROR:  canceling statement due to user request\n")
    assert b"interrupted: cancelled b1; the sessions are kept as the server has them" in err
    assert b"not reached" not in out and b"Traceback" not in err
    assert wait_until(lambda: not _sql(dsn, "SELECT 1 FROM pg_stat_activity WHERE application_name LIKE 'qshell/s_'"), 10)
