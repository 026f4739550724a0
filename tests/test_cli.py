"""Scripted use: stdin, -c, -f, exit codes, error lines, JSON output, run records."""
from __future__ import annotations

import json
import os
import re
import stat

import pytest

from qshell.store.history import RunStore

SLEEPS = "\\add SELECT pg_sleep(0.3);\n" * 6


def test_stage_and_go_prints_each_result_and_a_summary(qshell):
    r = qshell("\\add SELECT 1 AS one;\n\\add SELECT 'b' AS two;\n\\go 2\n")
    assert r.code == 0, r.err
    assert "── #1 · worker" in r.out and "── #2 · worker" in r.out
    assert r.out.index("one") < r.out.index("two")  # staged order
    assert re.search(r"N=2 · 2 queries · wall [\d.]+ (ms|s) · sum [\d.]+ (ms|s) · overlap [\d.]+×", r.out)
    for col in ("query", "worker", "pid", "status", "rows", "wait ms", "run ms"):
        assert col in r.out


@pytest.mark.slow
def test_overlap_visible_in_json_ratio(qshell):
    r1 = qshell(SLEEPS + "\\go 1\n", "--format", "json")
    r6 = qshell(SLEEPS + "\\go 6\n", "--format", "json")
    run1 = json.loads(r1.out.splitlines()[-1])
    run6 = json.loads(r6.out.splitlines()[-1])
    assert run6["wall_ms"] < run1["wall_ms"] / 2
    assert run6["overlap"] > 3 and "speedup" not in run6  # sum ÷ wall: "speedup" is only a sweep's


def test_json_schema(qshell):
    r = qshell("\\add SELECT g FROM generate_series(1, 5) g;\n\\add SELECT 1/0;\n\\set maxrows 2\n\\go\n"
               "SELECT 'plain' AS p;\n", "--format", "json")
    assert r.code == 0  # psql's exit status: the script ran to its end
    lines = [json.loads(line) for line in r.out.splitlines()]
    q1, q2, run, stmt = lines
    assert q1["type"] == "query" and q1["index"] == 1 and q1["status"] == "ok"
    assert q1["rows"] == [["1"], ["2"]] and q1["rowcount"] == 5 and q1["truncated"] is True
    assert q1["columns"] == [{"name": "g", "type_oid": 23}]
    assert q1["command"] == "SELECT 5"
    for key in ("wait_ms", "exec_ms", "fetch_ms", "total_ms", "start_ms", "end_ms", "worker", "pid", "sql", "run_id"):
        assert key in q1
    assert q2["status"] == "error" and q2["sqlstate"] == "22012" and "division by zero" in q2["error"]
    assert run["type"] == "run" and run["n"] == 2 and run["queries"] == 2 and run["failed"] == 1
    assert run["run_id"] == q1["run_id"] == q2["run_id"]
    for key in ("wall_ms", "sum_ms", "overlap", "started_at", "schema"):
        assert key in run
    assert stmt["type"] == "statement" and stmt["rows"] == [["plain"]]


def test_exit_0_when_all_went_well(qshell_proc):
    r = qshell_proc("SELECT 1;\n\\add SELECT 2;\n\\go\n")
    assert r.code == 0, r.err
    assert r.err == ""


def test_exit_1_on_sql_error_and_the_script_goes_on(qshell_proc):
    r = qshell_proc("SELECT * FROM nope;\nSELECT 'after' AS a;\n")
    assert r.code == 0  # psql's exit status: the script ran to its end
    assert "after" in r.out
    assert re.search(r'^qshell:<stdin>:1: ERROR:  relation "nope" does not exist\nLINE 1: SELECT \* FROM nope', r.err, re.M), r.err
    assert "Traceback" not in r.err


def test_exit_1_on_failed_staged_query(qshell_proc):
    r = qshell_proc("\\add SELECT 1;\n\\add SELECT 1/0;\n\\go\n")
    assert r.code == 0  # psql's exit status: the script ran to its end
    assert "qshell:<stdin>:3: 1 of 2 staged queries failed" in r.err


def test_exit_2_when_the_server_cannot_be_reached(qshell_proc, tmp_path):
    r = qshell_proc("SELECT 1;\n", f"host={tmp_path} port=1 dbname=x", use_dsn=False)
    assert r.code == 2
    assert r.err.startswith("qshell: connection to server failed:") and len(r.err.strip().splitlines()) == 1
    assert "Traceback" not in r.err


@pytest.mark.slow
def test_exit_3_with_on_error_stop(qshell_proc):
    script = "SELECT 1/0;\nSELECT 'not reached' AS x;\n"
    for flags in (["--on-error-stop"], ["-v", "ON_ERROR_STOP=1"]):
        r = qshell_proc(script, *flags)
        assert r.code == 3, r.err
        assert "not reached" not in r.out
    r = qshell_proc("\\add SELECT 1/0;\n\\go\nSELECT 'not reached' AS x;\n", "--on-error-stop")
    assert r.code == 3 and "not reached" not in r.out


def test_bad_usage_exits_1(qshell_proc):
    r = qshell_proc("", "--no-such-flag")
    assert r.code == 1 and "unrecognized arguments" in r.err and "Traceback" not in r.err


def test_dash_c_repeatable_and_in_order(qshell):
    r = qshell("", "-c", "\\add SELECT 'first' AS a", "-c", "\\add SELECT 'second' AS b", "-c", "\\go", "-c", "SELECT 3 AS c")
    assert r.code == 0, r.err
    assert r.out.index("first") < r.out.index("second") < r.out.index("N=2 · 2 queries")
    assert "(1 row)" in r.out.split("N=2 · 2 queries")[1]


def test_dash_f_file_and_missing_file(qshell, tmp_path):
    f = tmp_path / "set.sql"
    f.write_text("\\add SELECT 1 AS x;\n\\add SELECT 2 AS y;\n\\go 2\n")
    r = qshell("", "-f", str(f))
    assert r.code == 0 and "N=2" in r.out
    r = qshell("", "-f", str(tmp_path / "missing.sql"))
    assert r.code == 1 and "No such file or directory" in r.err
    r = qshell("", "-f", str(tmp_path))
    assert r.code == 1 and "is a directory" in r.err


def test_error_lines_name_source_and_line(qshell, tmp_path):
    f = tmp_path / "s.sql"
    f.write_text("SELECT 1;\n\n\\bogus\nSELECT\n  1/0;\n")
    r = qshell("", "-f", str(f))
    assert f"qshell:{f}:3: invalid command \\bogus\n" in r.err  # (psql's "Try \\? for help." only at its prompt)
    assert f"qshell:{f}:5: ERROR:  division by zero" in r.err  # the line it ends on, as psql


def test_staged_set_survives_every_failure(qshell):
    script = "\n".join([
        "\\add SELECT 1 AS a;",
        "\\add SELECT 2 AS b;",
        "\\go 0", "\\go -1", "\\go abc", "\\drop 7", "\\drop x", "\\add", ";", "\\frobnicate",
        "SELECT * FROM missing_table;", "\\addfile /nonexistent/file.sql", "\\i /nonexistent",
        "\\format nosuch", "\\set workers zero", "\\add COPY (SELECT 1) TO STDOUT;",
        "\\list", "",
    ])
    r = qshell(script)
    assert r.code == 0  # psql's exit status: the script ran to its end
    listing = r.out.strip().splitlines()[-2:]
    assert listing == ["1  SELECT 1 AS a", "2  SELECT 2 AS b"]
    errors = [line for line in r.err.strip().splitlines() if line.startswith("qshell:")]
    assert len(errors) == 13, r.err
    assert "\\go: N must be a whole number from 1 to 2147483647, got '0'" in errors[0]
    assert "got '-1'" in errors[1] and "got 'abc'" in errors[2]
    assert "no staged query 7" in errors[3]
    assert errors[-3].startswith("qshell:<stdin>:14: \\format: unknown format")
    assert "COPY is not supported" in errors[-1]
    assert "Traceback" not in r.err


def test_go_default_workers_clipping_and_setting(qshell):
    r = qshell("\\add SELECT 1;\n\\add SELECT 2;\n\\add SELECT 3;\n\\go\n\\set workers 2\n\\go\n\\go 9\n", "--format", "json")
    runs = [json.loads(line) for line in r.out.splitlines() if '"type":"run"' in line]
    assert [run["n"] for run in runs] == [3, 2, 3]
    assert "N clipped from 9 to 3" in r.err


def test_go_refuses_an_n_the_server_cannot_serve(qshell, hist):
    script = "\\add SELECT 1;\n" * 150 + "\\go 150\n\\list\n"
    r = qshell(script)
    assert r.code == 0  # psql's exit status: the script ran to its end
    assert "cannot run 150 workers" in r.err and "max_connections" in r.err
    assert "N=" not in r.out  # nothing ran
    assert not (hist / "runs.sqlite").exists()  # no run, no record
    assert "150  SELECT 1" in r.out


def test_unterminated_input_at_end_is_sent_as_psql_sends_it(qshell):
    # psql sends what its buffer holds at the end of a script: the server judges it
    r = qshell("SELECT 'open\n")
    assert r.code == 0 and "ERROR:  unterminated quoted string" in r.err  # psql's exit status: the script ran to its end
    r = qshell("SELECT $$ open\n")
    assert "ERROR:  unterminated dollar-quoted string" in r.err
    r = qshell("SELECT 1 /* open\n")
    assert "ERROR:  unterminated /* comment" in r.err
    r = qshell("SELECT 'run at the end' AS x\n")
    assert r.code == 0 and "run at the end" in r.out, r.err
    r = qshell("\\add SELECT 'open\n")
    assert r.code == 0 and "\\add unterminated quoted string at end of input" in r.err  # (psql's: the script ran to its end)


def test_invalid_utf8_and_nul_are_reported_and_skipped(qshell):
    r = qshell(b"SELECT '\xff\xfe' AS bad;\nSELECT 'ok' AS good;\nSELECT '\x00';\n")
    assert r.code == 0  # psql's exit status: the script ran to its end
    assert "qshell:<stdin>:1: invalid UTF-8" in r.err
    assert "qshell:<stdin>:3: NUL byte" in r.err
    assert "good" in r.out


def test_multiline_statements_and_bare_add(qshell):
    r = qshell("\\add\nSELECT\n  'multi' AS m\n;\n\\add SELECT 'x;y' AS s,\n  $$a;b$$ AS d;\n\\list\n\\go\n")
    assert r.code == 0, r.err
    assert "1  SELECT" in r.out and "'multi' AS m" in r.out
    assert "a;b" in r.out and "x;y" in r.out


def test_addfile_splits_quotes_dollars_and_comments(qshell, tmp_path):
    f = tmp_path / "q.sql"
    f.write_text("-- a comment; with a semicolon\nSELECT 'a;b' AS s;\n/* block ; */ SELECT $x$ c;d $x$ AS d;\n"
                 "SELECT 3 AS e -- trailing\n;\nSELECT 'last without semicolon' AS f\n")
    r = qshell(f"\\addfile {f}\n\\list\n\\go\n")
    assert r.code == 0, r.err
    assert "staged 4 statements" in r.err
    assert "last without semicolon" in r.out


@pytest.mark.parametrize("body, line, word", [
    ("SELECT 1;\n\\echo hi\nSELECT 2;\n", 2, "\\echo"),
    ("SELECT 1\n\\gx\n", 2, "\\gx"),
    ("\\if true\nSELECT 1;\n\\endif\n", 1, "\\if"),
])
def test_addfile_refuses_a_file_with_meta_commands(qshell, tmp_path, body, line, word):
    """A meta-command in a file \\addfile reads would be staged as a part of a statement's
    text and sent to the server so: the file is refused in one line, nothing staged, and a
    backslash inside a quote or a comment is no meta-command."""
    f = tmp_path / "m.sql"
    f.write_text(body)
    r = qshell(f"\\add SELECT 0;\n\\addfile {f}\n\\list\n")
    assert f"line {line} is a meta-command ({word})" in r.err and "nothing staged" in r.err, r.err
    assert len(r.err.splitlines()) == 1 and r.out.strip() == "1  SELECT 0"
    f.write_text("SELECT '\\echo' AS a;\n/* \\gx */ SELECT $$\n\\x$$ AS b;\n")
    r = qshell(f"\\addfile {f}\n")
    assert "staged 2 statements" in r.err, r.err


def test_dml_command_tags(qshell):
    r = qshell("DROP TABLE IF EXISTS cli_t;\nCREATE TABLE cli_t (a int);\nINSERT INTO cli_t VALUES (1),(2),(3);\n"
               "\\add UPDATE cli_t SET a = a + 1;\n\\add DELETE FROM cli_t WHERE a > 3;\n\\go 1\n")
    assert r.code == 0, r.err
    assert "CREATE TABLE" in r.out and "INSERT 0 3" in r.out
    assert "UPDATE 3" in r.out and "DELETE 1" in r.out


def test_run_records_appended_0600(qshell, hist):
    qshell("\\add SELECT 1;\n\\add SELECT 2;\n\\go 2\n\\go 1\n")
    path = hist / "runs.sqlite"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    records = list(RunStore.open(hist, create=False)[0].dump())  # the JSON-lines export
    assert [r["n"] for r in records] == [2, 1]
    assert records[0]["fingerprint"] == records[1]["fingerprint"]
    assert [q["index"] for q in records[0]["results"]] == [1, 2]
    assert "rows" not in records[0]["results"][0]


def test_conninfo_masks_password_and_help_lists_commands(qshell, dsn):
    from psycopg2.extensions import make_dsn

    secret = "s3cr3t-Pa55"
    r = qshell("\\conninfo\n\\?\n", make_dsn(dsn, password=secret), use_dsn=False)
    assert r.code == 0, r.err
    assert "Connection Information" in r.out
    assert secret not in r.out + r.err
    for name in ("\\add", "\\addfile", "\\go", "\\list", "\\drop", "\\clear", "\\i", "\\format", "\\set", "\\c", "\\conninfo", "\\q"):
        assert name in r.out


def test_reconnect_with_c(qshell):
    r = qshell("CREATE DATABASE qshell_other;\n\\c qshell_other\nSELECT current_database();\n\\c postgres\n"
               "DROP DATABASE qshell_other;\n")
    assert r.code == 0, r.err
    assert 'You are now connected to database "qshell_other"' in r.out and r.out.count("qshell_other") >= 2
    # as psql: in a script a failed \c stops it (exit 2), nothing runs on the old database
    r = qshell("\\c no_such_db_here\nSELECT 'ran on the old one' AS x;\n")
    assert r.code == 2 and "ran on the old one" not in r.out
    assert r.err.startswith("qshell:<stdin>:1: \\connect: ") and 'database "no_such_db_here" does not exist' in r.err


def test_include_file_and_quit(qshell, tmp_path):
    inc = tmp_path / "inc.sql"
    inc.write_text("\\add SELECT 'from include' AS i;\n")
    r = qshell(f"\\i {inc}\n\\go\n\\q\nSELECT 'after quit';\n")
    assert r.code == 0 and "from include" in r.out and "after quit" not in r.out


def test_formats(qshell):
    r = qshell("\\format csv\nSELECT 1 AS a, 'x,y' AS b;\n")
    assert 'a,b\n1,"x,y"' in r.out
    r = qshell("\\format github\nSELECT 1 AS a;\n")
    assert "| a |" in r.out.replace("   ", " ") or "|   a |" in r.out


def test_explicit_transaction_stays_on_one_connection(qshell):
    r = qshell("DROP TABLE IF EXISTS tx_t;\nCREATE TABLE tx_t (a int);\nBEGIN;\nINSERT INTO tx_t VALUES (1);\n"
               "\\add SELECT count(*) AS seen FROM tx_t;\n\\go\nSELECT count(*) AS mine FROM tx_t;\n"
               "SELECT 1/0;\nSELECT 1;\nROLLBACK;\nSELECT count(*) AS after FROM tx_t;\n", "--format", "json")
    recs = [json.loads(line) for line in r.out.splitlines()]
    by_col = {rec["columns"][0]["name"]: rec["rows"] for rec in recs if rec.get("columns")}
    assert by_col["seen"] == [["0"]]  # the workers do not see the uncommitted row
    assert by_col["mine"] == [["1"]]  # the transaction's own connection does
    assert by_col["after"] == [["0"]]  # rolled back
    assert "current transaction is aborted" in r.err


def test_session_settings_reach_every_worker(qshell):
    r = qshell("SET application_name = 'qs_test_app';\n" + "\\add SELECT current_setting('application_name') AS app;\n" * 3
               + "\\go 3\nRESET application_name;\n\\go 3\n", "--format", "json")
    apps = [json.loads(line)["rows"][0][0] for line in r.out.splitlines() if '"type":"query"' in line]
    assert apps[:3] == ["qs_test_app"] * 3
    assert "qs_test_app" not in apps[3:]


def test_describe_and_timing(qshell):
    r = qshell("DROP TABLE IF EXISTS desc_t;\nCREATE TABLE desc_t (id serial PRIMARY KEY, label text NOT NULL DEFAULT 'x',"
               " amount numeric(10,2));\n\\d\n\\dt desc_*\n\\d desc_t\n\\d no_such_rel\n\\timing\nSELECT 1 AS one;\n\\l\n")
    assert r.code == 0  # the unknown relation
    listing = r.out.split("List of relations")[1].split("List of tables")[0]
    assert "desc_t " in listing and "desc_t_id_seq" in listing and "pg_class" not in listing
    tables = r.out.split("List of tables")[1].split('Table "public.desc_t"')[0]
    assert "desc_t " in tables and "(1 row)" in tables and "desc_t_id_seq" not in tables
    described = r.out.split('Table "public.desc_t"')[1]
    assert re.search(r"(?m)(^|\| ) ?id\s+\| integer\s+\|\s+\| not null\s+\| nextval\('desc_t_id_seq'::regclass\)", described)
    assert re.search(r"(?m)(^|\| ) ?amount\s+\| numeric\(10,2\)", described)
    assert '"desc_t_pkey" PRIMARY KEY, btree (id)' in described  # psql's words
    assert 'Did not find any relation named "no_such_rel".' in r.err
    assert "Timing is on." in r.out and re.search(r"^Time: \d+\.\d{3} ms$", r.out, re.M)
    assert "List of databases" in r.out and re.search(r"(^|\| ) ?postgres\s+\| \w+\s+\| UTF8", r.out, re.M)


def test_transaction_control_cannot_be_staged(qshell, tmp_path):
    r = qshell("\\add BEGIN;\n\\add COMMIT;\n\\add SELECT 1;\n\\list\n")
    assert r.err.count("cannot be staged") == 2 and "1  SELECT 1" in r.out
    f = tmp_path / "tx.sql"
    f.write_text("SELECT 1;\nSTART TRANSACTION;\n")
    r = qshell(f"\\addfile {f}\n\\list\n")
    assert "START cannot be staged" in r.err and r.err.rstrip().endswith("nothing staged") and "(nothing staged)" in r.out


def test_a_transaction_left_open_by_a_library_caller_is_rolled_back(db):
    from qshell.engine.pool import QueryPool

    db.execute("DROP TABLE IF EXISTS lib_tx")
    db.execute("CREATE TABLE lib_tx (a int)")
    # the engine does not refuse it, but each staged text is a unit of its own: what it left
    # open is rolled back at once (and said), never carried into the next text nor committed
    run = QueryPool(db, ["BEGIN; INSERT INTO lib_tx VALUES (1)", "INSERT INTO lib_tx VALUES (2)"], 1).run()
    assert "rolled back" in run.queries[0].notices[-1]
    assert db.execute("SELECT a FROM lib_tx").rows == (("2",),)
    run = QueryPool(db, ["SELECT count(*) FROM lib_tx"], 1).run()
    assert run.queries[0].rows == (("1",),)


def test_json_mode_prints_only_json(qshell):
    r = qshell("\\add SELECT 1;\n\\add SELECT 2;\n\\list\n\\conninfo\n\\echo hello\n\\set\n\\go\nSELECT 3 AS c;\n",
               "--format", "json")
    assert r.code == 0, r.err
    recs = [json.loads(line) for line in r.out.splitlines()]  # every line is JSON
    types = [rec["type"] for rec in recs]
    assert types[:6] == ["staged", "staged", "conninfo", "echo", "settings", "query"]
    assert recs[1] == {"type": "staged", "index": 2, "sql": "SELECT 2"}
    assert recs[2]["dbname"] and "password" not in recs[2]
    assert recs[3]["text"] == "hello" and recs[4]["format"] == "json" and recs[4]["maxrows"] == 100
    assert types[-1] == "statement"
    r = qshell("\\d\n\\l\n\\d pg_class\n", "--format", "json")
    recs = [json.loads(line) for line in r.out.splitlines()]
    assert [rec["title"] for rec in recs] == ["List of relations", "List of databases", 'Table "pg_catalog.pg_class"']
    assert recs[-1]["columns"] == ["Column", "Type", "Collation", "Nullable", "Default"] and recs[-1]["rows"][0][0] == "oid"
    assert recs[-1]["indexes"]
    r = qshell("\\add SELECT pg_sleep(0.05);\n\\add SELECT 1;\n\\go 2\n\\timeline\n", "--format", "json")
    tl = [json.loads(line) for line in r.out.splitlines()][-1]
    assert tl["type"] == "timeline" and {lane["worker"] for lane in tl["lanes"]} == {0, 1}
    assert all(q["start_ms"] <= q["end_ms"] for lane in tl["lanes"] for q in lane["queries"])


def test_include_reads_a_file_as_a_script_line_by_line(qshell, tmp_path):
    f = tmp_path / "mixed.sql"
    f.write_bytes(b"SELECT 'first' AS a;\nSELECT '\xff';\nSELECT 'third' AS c;\n")
    for script, args in ((f"\\i {f}\n", ()), ("", ("-f", str(f)))):
        r = qshell(script, *args)
        assert r.code == 0 and "first" in r.out and "third" in r.out  # the bad line costs only itself
        assert f"qshell:{f}:2: invalid UTF-8" in r.err


def test_libpqs_two_line_message_is_one_readable_line(qshell_proc):
    """libpq says "Connection refused" and, on its next line, "Is the server running…":
    one line for the user, the two parts told apart (they were run together with a space)."""
    from tests.infra import free_port

    r = qshell_proc("SELECT 1;\n", f"host=127.0.0.1 port={free_port()} dbname=x", use_dsn=False)
    assert r.code == 2
    assert len(r.err.strip().splitlines()) == 1
    assert "Connection refused; Is the server running on that host" in r.err, r.err
