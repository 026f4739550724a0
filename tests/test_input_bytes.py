"""A statement with bytes that are not UTF-8, or a NUL, is refused whole, never run in part.

Each case hides the WHERE clause of a DELETE or an UPDATE on a line with a bad byte:
dropping that line (as qshell once did) would run the statement on every row. psql
refuses such a statement; so does qshell, on every input path, and the statements
around it run as usual.
"""
from __future__ import annotations

import io
import uuid

import psycopg2
import pytest

from qshell.cli import main

ROWS = [(1, "orig"), (2, "orig"), (3, "orig")]

# (bad line, what the error says about it): the byte is 19th / 16th of its line
BAD_LINES = {
    "latin1": (b"WHERE a = 1 -- caf\xe9 note", "invalid UTF-8 at byte 19"),
    # (psql reads no further than a NUL in its line, and goes on with the next line on the same
    # line: here the ";" of line 4 — qshell refuses the statement that NUL line ends up in)
    "nul": (b"WHERE a = 1 \x00 note", "NUL byte at byte 13"),
}
STATEMENTS = {
    "delete": b"DELETE FROM {t}\n{bad}\n;",
    "update": b"UPDATE {t} SET v = 'changed'\n{bad}\n;",
}
CASES = [pytest.param(stmt, bad, id=f"{stmt}-{bad}") for stmt in STATEMENTS for bad in BAD_LINES]


@pytest.fixture
def table(dsn):
    """A fresh table of three rows; yields its name, drops it afterwards."""
    name = "input_bytes_" + uuid.uuid4().hex[:10]
    with psycopg2.connect(dsn) as conn, conn.cursor() as cur:
        cur.execute(f"CREATE TABLE {name} (a int PRIMARY KEY, v text)")
        cur.executemany(f"INSERT INTO {name} VALUES (%s, %s)", ROWS)
    conn.close()
    yield name
    with psycopg2.connect(dsn) as conn, conn.cursor() as cur:
        cur.execute(f"DROP TABLE IF EXISTS {name}")
    conn.close()


def rows(dsn, name):
    with psycopg2.connect(dsn) as conn, conn.cursor() as cur:
        cur.execute(f"SELECT a, v FROM {name} ORDER BY a")
        found = cur.fetchall()
    conn.close()
    return found


def script(stmt: str, bad: str, table: str) -> bytes:
    """Three statements; the bad one is on lines 2-4, its bad line is line 3."""
    body = STATEMENTS[stmt].replace(b"{t}", table.encode()).replace(b"{bad}", BAD_LINES[bad][0])
    return b"SELECT 'before' AS b;\n" + body + b"\nSELECT 'after' AS c;\n"


def refused(source: str, bad: str, line: int = 3) -> str:
    where = "" if source == "-c" else f"qshell:{source}:{line}: "  # (psql names no place for -c)
    return f"{where}{BAD_LINES[bad][1]} of line {line}; statement not run"


def assert_refused_alone(r, source, bad, dsn, table, line=3):
    assert rows(dsn, table) == ROWS, r.err
    assert r.code == (1 if source == "-c" else 0), r.err  # psql's: a failed -c 1, a script that ran to its end 0
    assert refused(source, bad, line) in r.err.splitlines(), r.err
    assert len(r.err.splitlines()) == 1, r.err  # one line for the refused statement
    assert "before" in r.out and "after" in r.out  # the statements around it ran


@pytest.mark.parametrize("stmt, bad", CASES)
def test_stdin(qshell, dsn, table, stmt, bad):
    r = qshell(script(stmt, bad, table))
    assert_refused_alone(r, "<stdin>", bad, dsn, table)


@pytest.mark.parametrize("stmt, bad", CASES)
def test_file_with_f(qshell, dsn, table, tmp_path, stmt, bad):
    f = tmp_path / "script.sql"
    f.write_bytes(script(stmt, bad, table))
    r = qshell("", "-f", str(f))
    assert_refused_alone(r, str(f), bad, dsn, table)


@pytest.mark.parametrize("stmt, bad", CASES)
def test_include(qshell, dsn, table, tmp_path, stmt, bad):
    f = tmp_path / "included.sql"
    f.write_bytes(script(stmt, bad, table))
    r = qshell(f"\\i {f}\nSELECT 'after include' AS d;\n")
    assert_refused_alone(r, str(f), bad, dsn, table)
    assert "after include" in r.out


@pytest.mark.parametrize("stmt, bad", CASES)
def test_startup_file(qshell, dsn, table, tmp_path, monkeypatch, stmt, bad):
    rc = tmp_path / "qshellrc"
    rc.write_bytes(script(stmt, bad, table))
    monkeypatch.setenv("QSHELLRC", str(rc))
    r = qshell("SELECT 'main script' AS m;\n")
    assert_refused_alone(r, str(rc), bad, dsn, table)
    assert "main script" in r.out


@pytest.mark.parametrize("stmt, bad", CASES)
def test_dash_c_in_process(dsn, table, hist, stmt, bad):
    # Python hands over an undecodable argv byte as a lone surrogate (surrogateescape)
    text = script(stmt, bad, table).decode("utf-8", "surrogateescape")
    out, err = io.StringIO(), io.StringIO()
    code = main(["--history-dir", str(hist), "-c", text, dsn], stdin=io.BytesIO(b""), stdout=out, stderr=err)
    assert code == 1, err.getvalue()
    assert err.getvalue().splitlines() == [refused("-c", bad)]
    assert "before" in out.getvalue() and "after" in out.getvalue()
    assert rows(dsn, table) == ROWS


@pytest.mark.parametrize("stmt", list(STATEMENTS))
def test_dash_c_real_argv(qshell_proc, dsn, table, stmt):
    # the raw latin-1 byte goes through execve (a NUL cannot: argv strings end at it)
    text = script(stmt, "latin1", table).decode("utf-8", "surrogateescape")
    r = qshell_proc("", "-c", text)
    assert_refused_alone(r, "-c", "latin1", dsn, table)


def test_add_with_a_bad_line_stages_nothing(qshell, dsn, table):
    r = qshell(b"\\add DELETE FROM " + table.encode() + b"\nWHERE a = 1 -- caf\xe9\n;\n\\list\n\\go\n")
    assert "invalid UTF-8 at byte 19 of line 2; statement not run" in r.err
    assert "(nothing staged)" in r.out
    assert rows(dsn, table) == ROWS


def test_bad_meta_command_line_is_refused(qshell):
    # the line after a NUL goes on the NUL's line, as psql reads it: refused with it
    r = qshell(b"SELECT 'before' AS b;\n\\echo caf\xe9\n\\echo ok\x00 lost\nSELECT 'joined' AS c;\nSELECT 'after' AS d;\n")
    assert r.code == 0  # psql's exit status: the script ran to its end
    assert r.err.splitlines() == ["qshell:<stdin>:2: invalid UTF-8 at byte 10 of line 2; command not run",
                                  "qshell:<stdin>:3: NUL byte at byte 9 of line 3; command not run"]
    assert "caf" not in r.out and "ok" not in r.out and "joined" not in r.out and "lost" not in r.out
    assert "before" in r.out and "after" in r.out


def test_statements_sharing_the_bad_line_run_when_clean(qshell, dsn, table):
    # the bad byte belongs to the second statement of the line only
    line = b"SELECT 'before' AS b; DELETE FROM " + table.encode() + b" -- caf\xe9"
    r = qshell(line + b"\n WHERE a = 1;\nSELECT 'after' AS c;\n")
    assert r.code == 0  # psql's exit status: the script ran to its end
    at = line.index(b"\xe9") + 1
    assert r.err.splitlines() == [f"qshell:<stdin>:1: invalid UTF-8 at byte {at} of line 1; statement not run"]
    assert "before" in r.out and "after" in r.out
    assert rows(dsn, table) == ROWS


def test_addfile_refuses_a_file_with_a_nul(qshell, dsn, table, tmp_path):
    # (a file that is not UTF-8 was refused whole already)
    f = tmp_path / "staged.sql"
    f.write_bytes(b"SELECT 1;\nDELETE FROM " + table.encode() + b"\n" + BAD_LINES["nul"][0] + b"\n;\n")
    r = qshell(f"\\addfile {f}\n\\list\n\\go\n")
    assert r.code == 0  # psql's exit status: the script ran to its end
    assert "(nothing staged)" in r.out
    assert f"qshell:<stdin>:1: {f}: NUL byte at byte 13 of line 3; nothing staged" in r.err
    assert rows(dsn, table) == ROWS


@pytest.mark.parametrize("stop", [("-v", "ON_ERROR_STOP=1"), ("--on-error-stop",)])
@pytest.mark.parametrize("stmt, bad", CASES)
def test_on_error_stop_stops_at_the_refused_statement(qshell_proc, dsn, table, stmt, bad, stop):
    # line 1: a clean statement, then the bad one up to its bad comment; line 2: its ';'
    body = STATEMENTS[stmt].replace(b"{t}", table.encode()).replace(b"{bad}", BAD_LINES[bad][0])
    line = b"SELECT 'before' AS b; " + body.replace(b"\n", b" ", 1).split(b"\n")[0]
    r = qshell_proc(line + b"\n;\nSELECT 'after' AS c;\n", *stop)
    assert r.code == 3, r.err
    at = max(line.find(b"\xe9"), line.find(b"\x00")) + 1
    what = BAD_LINES[bad][1].split(" at ")[0]
    assert r.err.splitlines() == [f"qshell:<stdin>:1: {what} at byte {at} of line 1; statement not run"]
    assert "before" in r.out and "after" not in r.out
    assert rows(dsn, table) == ROWS
