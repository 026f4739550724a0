"""The interactive shell in a real pty (pexpect): prompt, multi-line entry, \\go, Ctrl-C, Ctrl-D."""
from __future__ import annotations

import os
import stat
import time

import pexpect
import pytest

from .conftest import active_queries, wait_until

PROMPT = "postgres=>"


@pytest.fixture
def term(dsn, hist, qshell_pty):
    child = qshell_pty("--history-dir", str(hist), dsn)
    child.expect("qshell 0.1")
    child.expect_exact(PROMPT)
    yield child
    if child.isalive():
        child.terminate(force=True)
    seen = child.logfile_read.getvalue()
    assert "Traceback" not in seen and "Warning" not in seen


@pytest.mark.slow
def test_add_twice_go_and_quit(term, hist):
    term.sendline("\\add SELECT 'alpha' AS first_col;")
    term.expect("staged #1")
    term.expect_exact("postgres[1]=>")
    term.sendline("\\add SELECT pg_sleep(0.2), 'beta' AS second_col;")
    term.expect_exact("postgres[2]=>")
    term.sendline("\\go 2")
    term.expect("── #1 · worker")
    term.expect("alpha")
    term.expect("── #2 · worker")
    term.expect("beta")
    term.expect("wait ms")
    term.expect(r"N=2 · 2 queries · wall")
    term.expect_exact("postgres[2]=>")
    term.sendline("\\q")
    term.expect(pexpect.EOF)
    term.close()
    assert term.exitstatus == 0
    history = hist / "command_history"
    assert stat.S_IMODE(os.stat(history).st_mode) == 0o600
    assert "\\go 2" in history.read_text()


def test_multiline_entry_ctrl_c_and_ctrl_d(term):
    term.sendline("SELECT")
    term.expect_exact("postgres->")  # Enter on an incomplete statement adds a line
    term.sendline("  'two lines' AS m;")
    term.expect("two lines")
    term.expect(r"\(1 row\)")
    term.expect_exact(PROMPT)
    term.send("SELECT 'discarded'")
    term.sendintr()  # Ctrl-C clears the line
    term.expect_exact(PROMPT)
    term.sendline("SELECT 'kept' AS k;")
    term.expect("kept")
    # the result, then the prompt after it: the prompt redrawn as the line is accepted also
    # reads "postgres=>", and a Ctrl-D sent while the statement runs (the tty in cooked mode)
    # is an end-of-file no one reads
    term.expect(r"\(1 row\)")
    term.expect_exact(PROMPT)
    term.sendeof()  # Ctrl-D on an empty line
    term.expect(pexpect.EOF)
    term.close()
    assert term.exitstatus == 0
    assert "discarded" not in (term.before or "")


def test_errors_keep_the_shell_and_the_staged_set(term):
    term.sendline("\\add SELECT 1 AS one;")
    term.expect_exact("postgres[1]=>")
    term.sendline("\\go zero")
    term.expect("N must be a whole number")
    term.sendline("SELECT * FROM nowhere;")
    term.expect('relation "nowhere" does not exist')
    term.expect_exact("postgres[1]=>")
    term.sendline("\\list")
    term.expect("1  SELECT 1 AS one")
    term.sendline("\\q")
    term.expect(pexpect.EOF)
    term.close()
    assert "Traceback" not in (term.before or "")


def _active_sleeps(dsn: str) -> int:
    return active_queries(dsn, "pg_sleep(30)")


@pytest.mark.slow
def test_ctrl_c_during_go_cancels_on_the_server_and_keeps_the_set(term, dsn):
    for _ in range(3):
        term.sendline("\\add SELECT pg_sleep(30);")
        term.expect(r"\]=>")
    term.sendline("\\add SELECT 'quick' AS q;")
    term.expect_exact("postgres[4]=>")
    term.sendline("\\go 2")
    wait_until(lambda: _active_sleeps(dsn) >= 2, 20)
    assert _active_sleeps(dsn) == 2
    term.sendintr()
    term.expect(r"#1 · worker 0 · cancelled", timeout=10)
    term.expect(r"#4 · worker - · cancelled")  # never started
    term.expect("interrupted")
    term.expect_exact("postgres[4]=>")  # the staged set survives
    # cancelled on the server, not just abandoned (an abandoned pg_sleep(30) runs on for ~30 s)
    assert wait_until(lambda: _active_sleeps(dsn) == 0, 5)
    term.sendline("\\clear")
    term.sendline("\\add SELECT 'next run' AS n;")
    term.expect_exact("postgres[1]=>")
    term.sendline("\\go")
    term.expect("next run")
    term.expect(r"N=1 · 1 query")
    term.sendline("\\q")
    term.expect(pexpect.EOF)


@pytest.mark.slow
def test_password_prompt_with_W_never_echoes_or_records(dsn, hist, tmp_path, qshell_pty):
    secret = "pw-Zx81-secret"
    child = qshell_pty("--history-dir", str(hist), "-W", dsn, timeout=60)
    child.expect("Password for user [^:]+: ")  # (psql's words)
    child.sendline(secret)
    child.expect("postgres=>")
    child.sendline("\\conninfo")
    child.expect("Connection Information")
    child.expect("postgres=>")
    child.sendline("\\q")
    child.expect(pexpect.EOF)
    seen = child.before or ""
    assert secret not in seen
    for path in hist.rglob("*"):
        if path.is_file():
            assert secret not in path.read_text()


@pytest.mark.slow
def test_sandbox_banner(sandbox_tmp, qshell_pty):
    tmp_path = sandbox_tmp  # (reachable by the server's user: conftest.sandbox_tmp)
    child = qshell_pty("--sandbox-dir", str(tmp_path / "box"), "--history-dir", str(tmp_path / "h"), timeout=60)
    child.expect(r"qshell 0\.1\.\d+ — sandbox PostgreSQL \d+")
    child.expect("embedded, data in")
    child.expect("postgres=>")
    child.sendline("SELECT 'sandboxed' AS s;")
    child.expect("sandboxed")
    # the result, then the next prompt (the accepted line's redraw also reads "postgres=>",
    # and a Ctrl-D sent while the statement runs, the tty in cooked mode, is lost)
    child.expect(r"\(1 row\)")
    child.expect("postgres=>")
    child.sendeof()
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0


def test_prompt_marks_an_open_and_a_failed_transaction(term):
    term.sendline("BEGIN;")
    term.expect_exact("postgres=*>")
    term.sendline("SELECT 1/0;")
    term.expect("division by zero")
    term.expect_exact("postgres=!>")
    term.sendline("ROLLBACK;")
    term.expect_exact("ROLLBACK")
    term.expect_exact("postgres=>")
    term.sendline("\\q")
    term.expect(pexpect.EOF)


@pytest.mark.slow
def test_live_progress_line_during_go(term):
    term.sendline("\\add SELECT pg_sleep(1.2);")
    term.expect_exact("postgres[1]=>")
    term.sendline("\\add SELECT pg_sleep(0.5);")
    term.expect_exact("postgres[2]=>")
    term.sendline("\\go 1")
    term.expect(r"done 0 · running 1 · queued 1 · w0:#1 \d\.\ds")
    term.expect(r"done 1 · running 1 · queued 0 · w0:#2")
    term.expect(r"N=1 · 2 queries")
    term.expect_exact("postgres[2]=>")
    term.sendline("\\q")
    term.expect(pexpect.EOF)


def test_password_typed_in_c_is_masked_in_the_command_history(term, dsn, hist):
    from psycopg2.extensions import parse_dsn

    secret = "Typed-Secret-4242"
    p = parse_dsn(dsn)
    term.sendline(f"\\c postgresql://{p.get('user', 'postgres')}:{secret}@/{p.get('dbname', 'postgres')}?host={p['host']}")
    term.expect("You are now connected")
    term.expect_exact(PROMPT)
    term.sendline("\\q")
    term.expect(pexpect.EOF)
    text = (hist / "command_history").read_text()
    assert secret not in text and ":***@" in text
    shown = term.logfile_read.getvalue().split("You are now connected", 1)[1]  # what qshell printed after it
    assert secret not in shown


@pytest.mark.slow
def test_ctrl_c_during_a_plain_statement(term, dsn):
    for attempt in range(3):  # the interrupt may land in the wait or between calls: both must be clean
        term.sendline("SELECT pg_sleep(30);")
        wait_until(lambda: _active_sleeps(dsn) >= 1, 10)
        time.sleep(0.1 * attempt)
        term.sendintr()
        term.expect(r"[Cc]ancel")
        term.expect_exact(PROMPT)
        assert wait_until(lambda: _active_sleeps(dsn) == 0, 5)  # cancelled on the server
    term.sendline("SELECT 'still alive' AS s;")
    term.expect("still alive")
    term.expect_exact(PROMPT)
    term.sendline("\\q")
    term.expect(pexpect.EOF)


@pytest.mark.slow
def test_a_damaged_command_history_does_not_break_the_start(dsn, tmp_path, qshell_pty):
    hist = tmp_path / "h"
    hist.mkdir()
    (hist / "command_history").write_bytes(b"\n# 2026-01-01 00:00:00\n+SELECT 'kept' AS k;\n\n# 2026-01-01\n+SELEC\xff\xfe")
    (hist / "command_history").chmod(0o644)
    child = qshell_pty("--history-dir", str(hist), dsn, timeout=60)
    child.expect("postgres=>")
    child.send("\x1b[A")  # up: the last entry, even a half-written one, loads without harm
    child.send("\x1b[A")
    time.sleep(0.3)
    child.send("\r")
    child.expect("kept")
    child.expect("postgres=>")
    child.sendline("\\q")
    child.expect(pexpect.EOF)
    assert "Traceback" not in (child.before or "")
    assert stat.S_IMODE(os.stat(hist / "command_history").st_mode) == 0o600  # tightened


def test_a_backslash_line_inside_a_statement_runs_at_once_and_the_statement_stays(term):
    term.sendline("SELECT 'kept' AS")
    term.expect_exact("postgres->")
    term.sendline("\\echo obeyed at once")
    term.expect("obeyed at once")
    term.expect_exact("postgres->")  # the statement is still in the buffer, as in psql
    term.sendline("  k;")
    term.expect("kept")
    term.expect_exact("postgres=>")
    term.sendline("SELECT 1")
    term.expect_exact("postgres->")
    term.sendline("\\q")
    term.expect(pexpect.EOF)


@pytest.mark.slow
def test_variables_line_end_commands_and_if_at_the_prompt(term):
    term.sendline("\\set v 41")
    term.expect_exact("postgres=>")
    term.sendline("SELECT :v + 1 AS answer \\g")  # Enter on a line ending in \g runs it at once
    term.expect(r"answer\s*\r\n-+\r\n\s*42")
    term.expect_exact("postgres=>")
    term.sendline("SELECT 'x' AS name \\gset my_")
    term.expect_exact("postgres=>")
    term.sendline("\\if :{?my_name}")
    term.expect_exact("postgres=>")
    term.sendline("\\echo got :my_name")
    term.expect("got x")
    term.sendline("\\else")
    term.expect_exact("postgres@>")  # psql's mark for a branch that does not run
    term.sendline("\\echo never")
    term.expect_exact("postgres@>")
    term.sendline("\\endif")
    term.expect_exact("postgres=>")
    assert "\nnever\r" not in term.logfile_read.getvalue()  # typed, never printed
    term.sendline("\\q")
    term.expect(pexpect.EOF)


@pytest.mark.slow
def test_a_go_blocked_by_your_own_transaction_comes_back_to_the_prompt(term):
    """At the prompt, a staged query waiting for the session's own open transaction is
    told and cancelled within about a second; the transaction and the staged set stay."""
    term.sendline("DROP TABLE IF EXISTS pty_selflock; CREATE TABLE pty_selflock (id int);")
    term.expect_exact("CREATE TABLE")
    term.sendline("BEGIN;")
    term.expect_exact("postgres=*>")
    term.sendline("LOCK TABLE pty_selflock;")
    term.expect_exact("LOCK TABLE")
    term.sendline("\\add SELECT count(*) AS n FROM pty_selflock;")
    term.expect_exact("staged #1")
    started = time.monotonic()
    term.sendline("\\go 1")
    term.expect("blocked by your own session's open transaction \\(pid \\d+\\): COMMIT or ROLLBACK it first")
    assert time.monotonic() - started < 5
    term.expect_exact("postgres[1]=*>")  # still in the transaction, the set still staged
    term.sendline("COMMIT;")
    term.expect_exact("COMMIT")
    term.sendline("\\go 1")
    term.expect(r"N=1 · 1 query · wall")
    term.expect_exact("postgres[1]=>")
    term.sendline("\\q")
    term.expect(pexpect.EOF)


def test_long_values_are_shortened_at_a_terminal_by_default(dsn, hist, qshell_pty):
    """maxwidth auto: 80 columns at a terminal (a file or pipe gets the whole value)."""
    child = qshell_pty("--history-dir", str(hist), dsn)
    child.expect("postgres=>")
    child.sendline("\\pset pager off")
    child.expect("postgres=>")
    child.sendline("SELECT repeat('q', 300) AS v;")
    child.expect(r"\(1 row\)")
    shown = child.before
    assert "q" * 79 + "…" in shown and "q" * 81 not in shown
    child.expect("postgres=>")
    child.sendline("\\q")
    child.expect(pexpect.EOF)


def test_bind_pipelines_gdesc_and_crosstabview_at_the_prompt(term):
    """At the prompt (tables drawn whole): a bound statement's result; a BEGIN sent through
    \\bind marks the prompt as psql's would (the session's transaction); a pipeline's results
    at \\endpipeline, then a plain statement on the same session; \\gdesc; \\crosstabview."""
    term.sendline("SELECT $1::int * 3 AS tripled \\bind 14 \\g")
    term.expect_exact("42")
    term.expect_exact("postgres=>")
    term.sendline("BEGIN \\bind \\g")
    term.expect_exact("postgres=*>")
    term.sendline("ROLLBACK \\bind \\g")
    term.expect_exact("postgres=>")
    term.sendline("\\startpipeline")
    term.sendline("SELECT 'piped' AS p \\bind \\sendpipeline")
    term.sendline("\\endpipeline")
    term.expect_exact("piped")
    term.expect_exact("(1 row)")
    term.sendline("SELECT 'plain again' AS q;")
    term.expect_exact("plain again")
    term.sendline("SELECT 1 AS a, 'x'::text AS b \\gdesc")
    term.expect(r"a\s+\|\s+integer")
    term.sendline("SELECT 'r' AS v, 'c' AS h, 7 AS d \\crosstabview")
    term.expect(r"v\s+\|\s+c")
    term.expect(r"r\s+\|\s+7")
    term.sendline("\\q")
    term.expect(pexpect.EOF)


def test_an_escape_sequence_typed_at_the_prompt_is_no_traceback(term):
    """ESC [ 3 1 m typed (not pasted in brackets) looks like a mouse report to prompt_toolkit,
    whose parser raised on it: a traceback and 'Press ENTER to continue'. Now it is dropped
    and the line goes on."""
    term.send("SELECT 'after' AS a\x1b[31m;")
    term.sendline("")
    term.expect_exact("after")
    term.expect_exact("(1 row)")
    term.sendline("\\q")
    term.expect(pexpect.EOF)
    seen = term.logfile_read.getvalue()
    assert "Traceback" not in seen and "Unhandled exception" not in seen and "Press ENTER" not in seen


def test_an_unknown_command_at_the_prompt_gets_psqls_two_lines(term):
    """psql at its prompt: 'invalid command \\foo' and 'Try \\? for help.' (in a script only
    the first); the prompt goes on, and \\q exits 0 after the error, as psql's."""
    term.sendline("\\foo")
    term.expect_exact("invalid command \\foo")
    term.expect_exact("Try \\? for help.")
    term.sendline("\\q")
    term.expect(pexpect.EOF)
    term.close()
    assert term.exitstatus == 0
