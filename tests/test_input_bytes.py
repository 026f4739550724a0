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
    "nul": (b"WHERE a = 1 -- \x00 note", "NUL byte at byte 16"),
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
    return f"qshell:{source}:{line}: {BAD_LINES[bad][1]} of line {line}; statement not run"


def assert_refused_alone(r, source, bad, dsn, table, line=3):
    assert rows(dsn, table) == ROWS, r.err
    assert r.code == 1, r.err
    assert refused(source, bad, line) in r.err.splitlines(), r.err
    assert len(r.err.splitlines()) == 1, r.err  # one line for the refused statement
    assert "before" in r.out and "after" in r.out  # the statements around it ran


def test_addfile_refuses_a_file_with_a_nul(qshell, dsn, table, tmp_path):
    # (a file that is not UTF-8 was refused whole already)
    f = tmp_path / "staged.sql"
    f.write_bytes(b"SELECT 1;\nDELETE FROM " + table.encode() + b"\n" + BAD_LINES["nul"][0] + b"\n;\n")
    r = qshell(f"\\addfile {f}\n\\list\n\\go\n")
    assert r.code == 1
    assert "(nothing staged)" in r.out
    assert f"qshell:<stdin>:1: {f}: NUL byte at byte 16 of line 3; nothing staged" in r.err
    assert rows(dsn, table) == ROWS
