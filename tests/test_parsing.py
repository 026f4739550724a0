"""Pure layers: the SQL splitter, the entry reader and the command table (no server)."""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qshell.common.errors import UsageError
from qshell.script import commands
from qshell.script.reader import Entry, InputError, read_text
from qshell.script.sqlsplit import first_keyword, split
from qshell.shell.loop import Shell


@pytest.mark.parametrize("text, statements, rest, open_construct", [
    ("SELECT 1; SELECT 2;", ("SELECT 1", "SELECT 2"), "", None),
    ("SELECT 'a;b'; x", ("SELECT 'a;b'",), " x", None),
    ("SELECT E'a\\';b';", ("SELECT E'a\\';b'",), "", None),
    ("SELECT 'it''s;';", ("SELECT 'it''s;'",), "", None),
    ('SELECT "a;""b";', ('SELECT "a;""b"',), "", None),
    ("SELECT $$x;y$$; SELECT $t$ ; $$ ; $t$;", ("SELECT $$x;y$$", "SELECT $t$ ; $$ ; $t$"), "", None),
    ("SELECT $1; SELECT a$b$c;", ("SELECT $1", "SELECT a$b$c"), "", None),
    ("SELECT 1 -- no; end\n;", ("SELECT 1 -- no; end",), "", None),
    ("SELECT /* /* nested; */ still; */ 1;", ("SELECT /* /* nested; */ still; */ 1",), "", None),
    ("CREATE RULE r AS ON INSERT TO t DO (SELECT 1; SELECT 2);", ("CREATE RULE r AS ON INSERT TO t DO (SELECT 1; SELECT 2)",), "", None),
    ("SELECT 'open", (), "SELECT 'open", "quoted string"),
    ("SELECT $f$ a; ", (), "SELECT $f$ a; ", "dollar-quoted string"),
    ("SELECT 1 /* a; ", (), "SELECT 1 /* a; ", "comment"),
    ('SELECT "x', (), 'SELECT "x', "quoted identifier"),
    ("SELECT (1;", (), "SELECT (1;", "parenthesis"),
])
def test_split(text, statements, rest, open_construct):
    s = split(text)
    assert s.statements == statements
    assert s.rest == rest
    assert s.open_construct == open_construct


def test_split_is_fast_on_a_megabyte():
    big = "SELECT '" + "x;" * 500_000 + "';"
    assert len(split(big).statements) == 1


def test_first_keyword_skips_comments():
    assert first_keyword("  -- c\n/* d */ select 1") == "SELECT"
    assert first_keyword("(select 1)") == ""


def _entries(text: str) -> list:
    return list(read_text(text, "t"))


def test_reader_entries_and_lines():
    got = _entries("\\add SELECT 1,\n 2; SELECT 3;\n\\add\nSELECT 4\n;\n\\go 2\n")
    assert [e.text for e in got] == ["\\add SELECT 1,\n 2;", "SELECT 3;", "\\add SELECT 4;", "\\go 2"]
    assert [e.line for e in got] == [2, 2, 5, 6]  # the line each ends on, as psql reports it


def test_reader_meta_command_while_typing_keeps_the_statement():
    got = _entries("SELECT\n\\list\n1;\n")
    assert [e.text for e in got] == ["\\list", "SELECT\n1;"]


def test_reader_end_of_input():
    (ok,) = _entries("SELECT 1 ")  # as psql: sent as it is (no ';' added)
    assert isinstance(ok, Entry) and ok.text == "SELECT 1 "
    (err,) = _entries("\\add")
    assert isinstance(err, InputError) and "without a statement" in err.message


def test_every_command_has_a_handler_and_help():
    for spec in commands.TABLE:
        assert Shell.handles(spec.name), spec.name
        assert spec.help and spec.usage.startswith("\\")
    text = commands.help_text()
    for spec in commands.TABLE:
        assert spec.usage in text


def test_each_command_group_is_named_for_the_commands_it_handles():
    """The shell makes its command groups on first use, finding a command's group in
    GROUP_OF without importing them: every do_NAME of every group is there, under the
    group that handles it (the first in GROUPS' order), and nothing else is."""
    from qshell.shell.loop import GROUP_OF, group_classes

    found: dict[str, str] = {}
    for attr, cls in group_classes().items():
        for name in dir(cls):
            if name.startswith("do_") and callable(getattr(cls, name)) and not hasattr(Shell, name):
                found.setdefault(name[3:], attr)
    assert GROUP_OF == found


def test_a_plain_statement_imports_no_command_group(dsn, tmp_path):
    """`qshell -c 'SELECT 1;'` (start-up time): the run, load, report, isolation and
    catalog modules are imported only when a command needs them; \\go imports the run's."""
    import subprocess
    import sys

    from qshell.shell.loop import GROUPS

    def modules(*args: str) -> set[str]:
        code = ("import sys, atexit; from qshell.bootstrap import bootstrap; bootstrap(); from qshell.cli import main; "
                "s = main(sys.argv[1:]); print(' '.join(m for m in sys.modules if m.startswith('qshell.shell.')),"
                " file=sys.stderr); sys.exit(s)")
        done = subprocess.run([sys.executable, "-c", code, "-X", "--history-dir", str(tmp_path), *args, dsn],
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        return set(done.stderr.split())

    lazy = {module for attr, (module, _) in GROUPS.items() if attr not in ("pset", "connection")}  # (those two: made at once)
    plain = modules("-c", "SELECT 1;")
    assert "qshell.shell.loop" in plain and not lazy & plain
    staged = modules("-c", "\\add SELECT 1;", "-c", "\\go 1")
    assert "qshell.shell.explore" in staged


@pytest.mark.parametrize("text, name, n", [
    ("\\go", "go", None), ("\\go 3", "go", 3), ("\\go  12 ", "go", 12), ("\\drop 2", "drop", 2),
    ("\\? ", "commands", None), ("\\quit", "q", None), ("\\ls", "list", None),
])
def test_parse_ok(text, name, n):
    cmd = commands.parse(text)
    assert (cmd.name, cmd.n) == (name, n)


@pytest.mark.parametrize("text, message", [
    ("\\go 0", "got '0'"), ("\\go -1", "got '-1'"), ("\\go abc", "got 'abc'"), ("\\go 1.5", "got '1.5'"),
    ("\\go 1 2", "takes N and an optional xR"), ("\\go 2 x0", "got '0'"), ("\\drop", "needs one"), ("\\add ;", "needs an SQL statement"),
    ("\\nope", "invalid command \\nope"), ("\\", "invalid command"), ("\\list x", "takes no argument"),
    ("\\addfile 'unclosed", "No closing quotation"),
])
def test_parse_errors(text, message):
    with pytest.raises(UsageError) as info:
        commands.parse(text)
    assert message in str(info.value)
    assert "\n" not in str(info.value)


@pytest.mark.slow
@settings(max_examples=400, deadline=None)
@given(st.text())
def test_splitter_and_reader_never_raise(text):
    s = split(text)
    assert all(";" not in stmt or "'" in stmt or "$" in stmt or '"' in stmt or "-" in stmt or "/" in stmt or "(" in stmt
               for stmt in s.statements)
    for item in read_text(text, "fuzz"):
        assert isinstance(item, (Entry, InputError))
        if isinstance(item, Entry):
            try:
                commands.parse(item.text)
            except UsageError as exc:
                assert "\n" not in str(exc)


def test_reading_a_statement_of_many_lines_is_linear():
    """20,000 lines take about 10x 2,000 lines (was ~100x: the statement was re-lexed whole
    at every line). A ratio in one run, never an absolute time."""
    import time

    def cost(n: int) -> float:
        text = "INSERT INTO t VALUES\n" + ",\n".join(f"({i}, 'a; b', $$x$$, \"q\")" for i in range(n)) + ";\n"
        best = float("inf")
        for _ in range(3):
            t = time.perf_counter()
            (entry,) = list(read_text(text, "x"))
            best = min(best, time.perf_counter() - t)
        assert entry.text.count("\n") == n
        return best

    assert cost(20000) / cost(2000) < 30


def test_whole_add_lines_read_at_once_give_the_entries_of_the_lexer():
    """A whole ``\\add STATEMENT;`` line with nothing pending is read at once (the common
    script line); every neighbouring case still goes through the lexer, with the same
    entries as before that shortcut existed."""
    from qshell.script.reader import EntryBuilder, ScriptContext

    lines = ["  \\add SELECT 1;  ", "\\add SELECT 1 ;", "\\add\tSELECT 2;\r", "\\add SELECT 3", "more;", "\\if false",
             "\\add SELECT 4;", "\\endif", "\\add create view v as select 5;", "\\add ;", "\\add  SELECT  6 ;;",
             "SELECT 7", "\\add SELECT 8;", "\\add SELECT 9; SELECT 10;"]
    builder = EntryBuilder("s", ScriptContext())
    got = [(e.text, e.line) for line in lines for e in builder.feed(line)]
    assert got == [("\\add SELECT 1;", 1), ("\\add SELECT 1;", 2), ("\\add SELECT 2;", 3),
                   ("\\add SELECT 3\nmore;", 5), ("\\add create view v as select 5;", 9), ("\\add ;", 10),
                   ("\\add SELECT  6;", 11), (";", 11), ("\\add SELECT 8;", 13), ("\\add SELECT 9; SELECT 10;", 14)]
    assert [e.text for e in builder.finish()[0]] == ["SELECT 7"]
