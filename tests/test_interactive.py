"""Typing comfort in a real pty: completion from the catalog, \\e, the pager, \\x,
the startup file and -X, NO_COLOR, the toolbar."""
from __future__ import annotations

import re
import time

import pexpect
import psycopg2
import pytest

from .conftest import spawn_qshell

COLOUR = re.compile(r"\x1b\[[0-9;]*(?:3[0-7]|38;[25];[0-9;]+|9[0-7])m")


def spawn(dsn: str, hist, *args: str, **env: str) -> pexpect.spawn:
    """qshell in a pty (conftest's ``spawn_qshell``), no colour: plain text to match."""
    return spawn_qshell("--history-dir", str(hist), *args, dsn, env={"NO_COLOR": "1", **env}, dimensions=(40, 150))


def script(path, body: str):  # noqa: ANN001, ANN201
    """An executable shell script standing in for $EDITOR or $PAGER."""
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)
    return path


def quit_(child: pexpect.spawn) -> str:
    child.sendline("\\q")
    child.expect(pexpect.EOF)
    seen = child.logfile_read.getvalue()
    assert "Traceback" not in seen
    return seen


@pytest.fixture
def other_db(dsn):
    conn = psycopg2.connect(dsn)
    conn.autocommit = True
    cur = conn.cursor()
    cur.execute("DROP DATABASE IF EXISTS qshell_compl")
    cur.execute("CREATE DATABASE qshell_compl")
    other = psycopg2.connect(dsn.replace("/postgres?", "/qshell_compl?"))
    other.autocommit = True
    other.cursor().execute("CREATE TABLE remote_zebra_tbl (stripe_count int)")
    other.close()
    yield "qshell_compl"
    cur.execute("DROP DATABASE IF EXISTS qshell_compl WITH (FORCE)")
    conn.close()


@pytest.mark.slow
def test_completion_from_the_catalog_after_ddl_and_reconnect(dsn, hist, other_db):
    child = spawn(dsn, hist)
    child.expect("postgres=>")
    child.sendline("DROP TABLE IF EXISTS compl_tbl_xyz; CREATE TABLE compl_tbl_xyz (alpha_col int, beta_col text);")
    child.expect("CREATE TABLE")
    child.expect("postgres=>")
    time.sleep(1.0)  # the catalog reloads in the background after DDL
    child.send("SELECT compl_tbl_xyz.alp")
    child.send("\t")
    time.sleep(0.3)
    child.send(" FROM compl_tbl")
    child.send("\t")
    time.sleep(0.3)
    child.sendline(";")
    child.expect(r" alpha_col \r\n-+\r\n")  # the completed column came back as the result's header
    child.expect(r"\(0 rows\)")
    child.expect("postgres=>")
    child.sendline(f"\\c {other_db}")
    child.expect("You are now connected")
    child.expect("qshell_compl=>")
    time.sleep(1.0)
    child.send("TABLE remote_zeb")
    child.send("\t")
    time.sleep(0.3)
    child.sendline(";")
    child.expect(r" stripe_count \r\n-+\r\n")  # the other database's table, completed
    child.expect(r"\(0 rows\)")
    child.send("\\set")  # (\se completes to \session now: the first of \session, \sessions, \set, \sets)
    child.send("\t")
    time.sleep(0.3)
    child.send(" timel")
    child.send("\t")
    time.sleep(0.3)
    child.sendline(" on")
    child.expect("qshell_compl=>")
    child.sendline("\\set timeline")
    child.expect("timeline = on")
    quit_(child)


@pytest.mark.slow
def test_meta_argument_completion_for_drop(dsn, hist):
    child = spawn(dsn, hist)
    child.expect("postgres=>")
    child.sendline("\\add SELECT 'only one' AS o;")
    child.expect_exact("postgres[1]=>")
    child.send("\\drop ")
    child.send("\t")
    child.expect("1")
    child.sendline("")
    child.expect("dropped #1")
    quit_(child)


@pytest.mark.slow
def test_edit_last_statement_and_staged_query(dsn, hist, tmp_path):
    editor = script(tmp_path / "ed.sh", "printf \"SELECT 'edited by the editor' AS e;\\n\" > \"$1\"\n")
    child = spawn(dsn, hist, EDITOR=str(editor))
    child.expect("postgres=>")
    child.sendline("SELECT 'before' AS b;")
    child.expect("before")
    child.expect("postgres=>")
    child.sendline("\\e")
    child.expect("SELECT 'edited by the editor' AS e;")  # put back at the prompt to review
    child.sendline("")
    child.expect(r"\n edited by the editor\r\n")
    child.expect(r"\(1 row\)")
    child.sendline("\\add SELECT 1;")
    child.expect_exact("postgres[1]=>")
    child.sendline("\\e 1")
    child.expect("staged query 1 updated")
    child.sendline("\\list")
    child.expect("1  SELECT 'edited by the editor' AS e")
    quit_(child)


@pytest.mark.slow
def test_pager_gets_long_output_and_can_be_turned_off(dsn, hist, tmp_path):
    record = tmp_path / "paged.txt"
    pager = script(tmp_path / "pager.sh", f"cat >> {record}\n")
    child = spawn(dsn, hist, PAGER=str(pager))
    child.expect("postgres=>")
    child.sendline("SELECT g AS paged_col FROM generate_series(1, 120) g;")
    child.sendline("SELECT 'marker' || '-one' AS m;")  # its result comes after the pager returned
    child.expect(r"\n marker-one\r\n")
    got = record.read_text()
    assert "paged_col" in got and "120" in got and "(100 rows, first" not in got or "(120 rows)" in got
    child.sendline("SELECT 'short' AS s;")  # fits: no pager
    child.expect("short")
    child.expect("postgres=>")
    child.sendline("\\pager off")
    child.expect("Pager is off")
    child.sendline("SELECT g AS unpaged FROM generate_series(1, 120) g;")
    child.expect(r" unpaged \r\n-+\r\n")
    child.sendline("SELECT 'marker' || '-two' AS m;")
    child.expect(r"\n marker-two\r\n")
    quit_(child)
    text = record.read_text()
    assert "short" not in text and "unpaged" not in text


@pytest.mark.slow
def test_expanded_display(dsn, hist):
    child = spawn(dsn, hist)
    child.expect("postgres=>")
    child.sendline("\\x")
    child.expect("Expanded display is on")
    child.sendline("SELECT 1 AS first_c, 'two' AS second_c;")
    child.expect(r"-\[ RECORD 1 \]")
    child.expect(r"first_c\s+\| 1")
    child.expect(r"second_c\s+\| two")
    child.sendline("\\x auto")
    child.expect("Expanded display is used automatically")
    child.sendline("SELECT 1 AS narrow;")
    child.expect(r" narrow \r\n-+\r\n")
    child.sendline("SELECT repeat('w', 75) AS a, repeat('v', 75) AS b, 3 AS c;")
    child.expect(r"-\[ RECORD 1 \]")
    child.expect("postgres=>")
    quit_(child)


@pytest.mark.slow
def test_startup_file_and_dash_x(dsn, hist, tmp_path):
    rc = tmp_path / "qshellrc"
    rc.write_text("\\set null NULLVAL\n\\echo rc-was-read\n")
    child = spawn(dsn, hist, QSHELLRC=str(rc))
    child.expect("rc-was-read")
    child.expect("postgres=>")
    child.sendline("SELECT NULL AS n;")
    child.expect("NULLVAL")
    quit_(child)
    child = spawn(dsn, hist, "-X", QSHELLRC=str(rc))
    child.expect("postgres=>")
    child.sendline("SELECT NULL AS n;")
    child.expect("<null>")
    seen = quit_(child)
    assert "rc-was-read" not in seen


def expect_answering_cpr(child: pexpect.spawn, pattern: str) -> None:
    """Wait for ``pattern`` while playing the terminal: answer cursor position requests
    (prompt_toolkit draws the bottom toolbar only once it knows the screen height)."""
    while child.expect([r"\x1b\[6n", pattern]) == 0:
        child.send("\x1b[20;1R")


@pytest.mark.slow
def test_no_color_removes_colour_escapes_and_toolbar_shows_state(dsn, hist):
    child = spawn(dsn, hist, NO_COLOR="", PROMPT_TOOLKIT_NO_CPR="")
    expect_answering_cpr(child, "postgres=>")
    child.sendline("\\add SELECT 42 AS answer;")
    expect_answering_cpr(child, r"staged 1 │ workers auto │ no run yet")  # the bottom toolbar
    child.sendline("\\go")
    expect_answering_cpr(child, r"last run N=1: wall [\d.]+ ms, overlap")
    coloured = quit_(child)
    assert COLOUR.search(coloured)  # highlighting is on by default
    child = spawn(dsn, hist, NO_COLOR="1")
    child.expect("postgres=>")
    child.sendline("SELECT 42 AS answer;")
    child.expect("answer")
    child.expect("postgres=>")
    plain = quit_(child)
    assert not COLOUR.search(plain)


@pytest.mark.slow
def test_history_search_suggestion_and_indentation(dsn, hist):
    child = spawn(dsn, hist)
    child.expect("postgres=>")
    child.sendline("SELECT 'needle-' || 'one' AS found;")
    child.expect(r"\n needle-one\r\n")
    child.sendline("SELECT 'other' AS o;")
    child.expect(r"\n other\r\n")
    child.send("\x12")  # Ctrl-R: reverse search
    child.send("needle")
    time.sleep(0.3)
    child.send("\r")  # take the match
    time.sleep(0.3)
    child.send("\r")  # run it
    child.expect(r"\n needle-one\r\n")
    child.send("SELECT 'needle-")
    time.sleep(0.3)
    child.send("\x1b[C")  # right arrow: accept the suggestion from history
    time.sleep(0.2)
    child.send("\r")
    child.expect(r"\n needle-one\r\n")
    child.send("SELECT\r")
    child.send("    1 AS a,\r")
    child.send("2 AS b;\r")  # typed without indentation: the new line kept the one above
    child.expect(r" a \| b \r\n---\+---\r\n")
    quit_(child)
    assert "\n+    1 AS a,\n+    2 AS b;\n" in (hist / "command_history").read_text()


@pytest.mark.slow
def test_enter_on_a_chosen_completion_keeps_it(dsn, hist):
    child = spawn(dsn, hist)
    child.expect("postgres=>")
    child.sendline("DROP TABLE IF EXISTS pick_me_aaa, pick_me_bbb; CREATE TABLE pick_me_aaa (x int); CREATE TABLE pick_me_bbb (y int);")
    child.expect("CREATE TABLE")
    child.expect("postgres=>")
    time.sleep(1.0)
    child.send("TABLE pick_me_")
    child.send("\t")  # two candidates: the menu opens
    time.sleep(0.3)
    child.send("\t")  # choose the first
    time.sleep(0.3)
    child.send("\r")  # keeps it, closes the menu: no new line
    time.sleep(0.3)
    child.send(";\r")
    child.expect(r" x \r\n---\r\n")  # pick_me_aaa's column: the completion was kept
    quit_(child)
    assert "\n+TABLE pick_me_aaa;\n" in (hist / "command_history").read_text()  # on one line


@pytest.mark.slow
def test_ctrl_c_in_the_pager_belongs_to_the_pager(dsn, hist, tmp_path):
    record = tmp_path / "got.txt"
    # a pager that ignores SIGINT, as less does, and takes its time
    pager = script(tmp_path / "slow_pager.sh", f"trap '' INT\nsleep 1\ncat > {record}\n")
    child = spawn(dsn, hist, PAGER=str(pager))
    child.expect("postgres=>")
    child.sendline("SELECT g AS paged FROM generate_series(1, 200) g;")
    time.sleep(0.4)
    child.sendintr()  # goes to the whole foreground group: qshell must keep waiting
    child.sendline("SELECT 'after' || '-pager' AS a;")
    child.expect(r"\n after-pager\r\n")
    quit_(child)
    assert "paged" in record.read_text()
